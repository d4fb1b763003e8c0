"""Second and third derivatives through ``np.multiply.at`` (repeated indices, zero
factors, a factor spread over rows), against the same products written out by hand and
against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd

A = np.arange(6.0).reshape(2, 3) * 0.3 - 0.5
VA = np.full((2, 3), 0.7)
WEIGHTS = np.arange(1.0, 7.0).reshape(2, 3)


def _at(a, b):
    c = a * 1.0
    np.multiply.at(c, [1, 1, 0, 1], b)
    return np.sum(np.cos(c) * WEIGHTS)


def _by_hand(a, b):
    b = np.broadcast_to(b, (4, 3))
    rows = np.stack([a[0] * b[2], a[1] * b[0] * b[1] * b[3]])
    return np.sum(np.cos(rows) * WEIGHTS)


FACTORS = {
    "distinct": np.array([[0.3, -1.2, 0.7], [1.1, 0.5, 0.4], [0.5, 0.9, -0.6], [1.2, -0.3, 0.8]]),
    "zeros": np.array([[0.3, 0.0, 0.7], [1.1, 0.0, 0.4], [0.0, 0.9, -0.6], [1.2, 0.0, 0.0]]),
    "row": np.array([0.0, 1.3, -0.4]),
    "number": np.array(0.6),
}


@pytest.mark.parametrize("name", list(FACTORS))
def test_second_and_third_derivatives_are_those_of_the_products(name):
    """They were refused (rt.multiply_at_factors, which the forward rule called, had no
    rules); where factors are zero, the products' rules keep them exact."""
    b = FACTORS[name]
    vb = np.full(np.shape(b), -0.4) + 0.1 * np.arange(np.size(b)).reshape(np.shape(b))
    got = sd.hvp(_at, (A, b), (VA, vb))
    want = sd.hvp(_by_hand, (A, b), (VA, vb))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    along = lambda s: _at(A + s * VA, b + s * vb)  # noqa: E731
    by_hand = lambda s: _by_hand(A + s * VA, b + s * vb)  # noqa: E731
    third = sd.grad(sd.grad(sd.grad(along)))(0.3)
    assert third == pytest.approx(sd.grad(sd.grad(sd.grad(by_hand)))(0.3), rel=1e-12)
    second = sd.grad(sd.grad(along))
    assert third == pytest.approx((second(0.3 + 1e-5) - second(0.3 - 1e-5)) / 2e-5, rel=1e-5)


ROWS = np.array([1, 1, 0, 1])  # a global holding the indices


def _at_global_rows(a, b):
    c = a * 1.0
    np.multiply.at(c, ROWS, b)
    np.add.at(c, ROWS, b * b)
    return np.sum(np.cos(c) * WEIGHTS)


def test_indices_a_global_holds():
    """``np.multiply.at(c, ROWS, b)`` with ``ROWS`` a global was refused as a store into
    an object a global holds: the new value of ``c`` was taken to share ``ROWS``."""
    b = FACTORS["distinct"]
    got = sd.grad(_at_global_rows, wrt=(0, 1))(A, b)
    eps = 1e-6
    for i, (x, d) in enumerate(zip((A, b), got, strict=True)):
        e = np.zeros_like(x)
        e.flat[1] = 1.0
        shifted = [[A, b], [A, b]]
        shifted[0][i], shifted[1][i] = x + eps * e, x - eps * e
        fd = (_at_global_rows(*shifted[0]) - _at_global_rows(*shifted[1])) / (2 * eps)
        assert d.flat[1] == pytest.approx(fd, rel=1e-6)
    vb = np.full(b.shape, 0.3)
    hv = sd.hvp(_at_global_rows, (A, b), (VA, vb))
    grad = sd.grad(_at_global_rows, wrt=(0, 1))
    up, down = grad(A + eps * VA, b + eps * vb), grad(A - eps * VA, b - eps * vb)
    for h, u, w in zip(hv, up, down, strict=True):
        np.testing.assert_allclose(h, (u - w) / (2 * eps), rtol=1e-5, atol=1e-7)
