"""Derivatives taken inside a differentiated function, checked against central finite
differences."""

import numpy as np
import pytest

import srcdiff as sd

X = np.array([0.3, -0.7, 1.2])
V = np.array([1.0, 0.5, -0.2])
W = np.array([0.2, 0.1, 0.4])


def _numeric_jacobian(fn, x, eps=1e-6):
    """d fn / d x by central differences, shaped ``fn(x).shape + x.shape``."""
    x = np.asarray(x, dtype=float)
    columns = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = eps
        columns.append((np.asarray(fn(x + e)) - np.asarray(fn(x - e))) / (2 * eps))
    return np.moveaxis(np.array(columns), 0, -1).reshape(np.shape(fn(x)) + x.shape)


def _f(x):
    return np.sum(np.sin(x) * x**2)


def _scaled(x, *, scale=1.0):
    return np.sum(np.sin(x) * scale * x**2)


def _scaled_positional(x, scale=1.0):
    return np.sum(np.sin(x) * scale * x**2)


def _pair(x, y):
    return np.sum(np.sin(x) * y**2) * np.sum(x * y)


@pytest.mark.parametrize("fn", [_scaled, _scaled_positional])
def test_forward_mode_through_a_gradient_given_a_keyword_reads_its_value(fn):
    """The forward rule of ``sd.grad(f)`` was called without the call's keywords: the
    tangent was that of ``f`` at its default (``scale=1.0``), a silent wrong number."""
    gradient = sd.grad(fn)

    def h(y):
        return gradient(y, scale=2.0)

    want = _numeric_jacobian(h, X)
    np.testing.assert_allclose(sd.jvp(h, (X,), (V,))[1], want @ V, rtol=1e-6)
    np.testing.assert_allclose(sd.jacobian(h, mode="fwd")(X), want, rtol=1e-6, atol=1e-9)
