"""Array API style code: ``xp = array_namespace(x)`` is a constant (the array module),
``xp.tanh`` and the other functions of array_api_compat's NumPy namespace are NumPy's
and differentiate as such; what srcdiff cannot differentiate there is refused with the
NumPy spelling to write instead."""

import array_api_strict as strict
import numpy as np
import pytest
from array_api_compat import array_namespace

import srcdiff as sd

RNG = np.random.default_rng(1)
W, X = RNG.standard_normal((3, 2)), RNG.standard_normal((4, 3))


def layer(w, x):
    xp = array_namespace(w, x)
    h = xp.tanh(xp.matmul(x, w))
    h = xp.permute_dims(h, (1, 0))
    total = xp.sum(xp.exp(h) * 2.0) + xp.mean(xp.maximum(h, 0.1))
    return total + xp.sum(xp.tensordot(h, h, axes=2))


def clipped(w, x):
    xp = array_namespace(w)
    return xp.sum(xp.clip(x @ w, -0.5, 0.5))


def test_array_api_style_matches_finite_differences():
    got = sd.grad(layer)(W, X)
    want = np.zeros_like(W)
    for k in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[k] = 1e-6
        want[k] = (layer(W + e, X) - layer(W - e, X)) / 2e-6
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_a_wrapper_without_a_rule_is_refused_with_the_numpy_spelling():
    with pytest.raises(sd.CompileError, match=r"xp\.clip of array_api_compat.*np\.clip"):
        sd.grad(clipped)(W, X)


def test_array_api_strict_through_its_namespace_is_refused_with_the_numpy_spelling():
    """Its functions that mean what NumPy's of the same name mean take NumPy's rules
    (``matmul``, ``exp``, ``sum``...); the others are refused with the NumPy spelling."""
    with pytest.raises(sd.CompileError, match=r"array_api_strict's permute_dims.*np\.permute"):
        sd.grad(layer)(strict.asarray(W), strict.asarray(X))


def test_wrappers_of_functions_without_a_derivative_are_constants():
    def f(w):
        xp = array_namespace(w)
        order = xp.argsort(w)
        return xp.sum(w[order] * xp.ones_like(w)) + xp.sum(xp.floor(w) * w)

    w = np.array([0.3, -1.2, 2.5])
    np.testing.assert_allclose(sd.grad(f)(w), 1.0 + np.floor(w))
