"""The seed tutorial's linear regression, end to end on every backend.

Data as in "Understanding PyTorch with an example": ``y = 1 + 2 x + noise``; the loss is
the mean squared error of ``a + b x``. ``sd.value_and_grad`` on the backend's arrays gives
the backend's arrays, equal to NumPy's; a few steps of gradient descent agree too.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd

from .support import assert_close, assert_on, backend_params, module


def mse(a, b, x, y):
    yhat = a + b * x
    error = y - yhat
    return np.mean(error**2)


def data():
    np.random.seed(42)
    x = np.random.rand(100, 1)
    y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)
    return x, y


def by_hand(a, b, x, y):
    """The gradients the tutorial works out by hand."""
    error = y - (a + b * x)
    return np.full(1, -2 * error.mean()), np.full(1, -2 * (x * error).mean())


@pytest.mark.parametrize("name", backend_params())
def test_linear_regression_gradients_match_numpy(name):
    xp = module(name)
    x, y = data()
    a, b = np.random.RandomState(0).randn(1), np.random.RandomState(1).randn(1)
    f = sd.value_and_grad(mse, wrt=(0, 1))
    value, (da, db) = f(a, b, x, y)
    assert_close((da, db), by_hand(a, b, x, y), "NumPy's gradients")

    on = [xp.asarray(v) for v in (a, b, x, y)]
    got_value, got = f(*on)
    assert_on((got_value, *got), xp, f"value and gradients on {name}")
    assert_close(got_value, value, f"the loss on {name}")
    assert_close(got, (da, db), f"the gradients on {name}")


@pytest.mark.parametrize("name", backend_params())
def test_linear_regression_descends_alike(name):
    xp = module(name)
    x, y = data()
    f = sd.grad(mse, wrt=(0, 1))
    a, b = np.zeros(1), np.zeros(1)
    a_b, b_b, x_b, y_b = (xp.asarray(v) for v in (a, b, x, y))
    for _ in range(20):
        da, db = f(a, b, x, y)
        a, b = a - 0.1 * da, b - 0.1 * db
        da_b, db_b = f(a_b, b_b, x_b, y_b)
        a_b, b_b = a_b - 0.1 * da_b, b_b - 0.1 * db_b
    assert_on((a_b, b_b), xp, f"the parameters on {name}")
    assert_close((a_b, b_b), (a, b), f"the parameters after 20 steps on {name}")
