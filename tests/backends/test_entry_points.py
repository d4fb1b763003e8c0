"""``@sd.differentiate`` and ``sd.source`` on every backend: the compiled primal and the
gradient compute with the arguments' module, and the source says which module it is."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd

from .support import assert_close, assert_on, backend_params, module


@sd.differentiate
def layer(w, x):
    h = np.tanh(x @ w)
    return np.sum(h * h)


@pytest.mark.parametrize("name", backend_params())
def test_differentiate_runs_on_the_arguments_module(name):
    xp = module(name)
    rng = np.random.default_rng(3)
    w, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    value, grad = layer(w, x), layer.grad(w, x)
    on = [xp.asarray(v) for v in (w, x)]
    got_value, got_grad = layer(*on), layer.grad(*on)
    assert_on((got_value, got_grad), xp, f"layer on {name}")
    assert_close(got_value, value, "the value")
    assert_close(got_grad, grad, "the gradient")
    # the source names the module it runs on where its code uses it (NumPy's keeps the
    # user's np, and imports nothing it does not use)
    expected = f"import {xp.__name__} as xp"
    assert (expected in sd.source(layer)) == (name != "numpy")
    # NumPy's own source is as it always was: NumPy names, no xp where the user wrote np
    layer.grad(w, x)
    assert "h = np.tanh(t1)" in sd.source(layer)


def scaled(a, x):
    return np.sum(np.tanh(a * x))


@pytest.mark.parametrize("name", backend_params())
def test_a_float_argument_computes_with_the_other_arguments_module(name):
    xp = module(name)
    x = np.linspace(-1.0, 1.0, 5)
    f = sd.value_and_grad(scaled)
    value, grad = f(0.5, x)
    got_value, got_grad = f(0.5, xp.asarray(x))
    assert_on(got_value, xp, f"the value on {name}")
    assert isinstance(got_grad, float)
    assert_close(got_value, value, "the value")
    assert_close(got_grad, grad, "the gradient")
