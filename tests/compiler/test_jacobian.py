"""``sd.vjp`` (reverse mode for any result) and ``sd.jacobian`` (a pass per row in
reverse mode, per column in forward mode), against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd


def layer(x, w):
    h = np.tanh(w @ x)
    if h.sum() > 0:
        h = h * 2.0
    return h[:2] * x[0]


def recurrence(a, x):
    h = x
    for _ in range(3):
        h = np.sin(h) * a + x
    return h


def numeric_jacobian(fn, args, wrt, eps=1e-6):
    x = np.asarray(args[wrt], dtype=float)
    columns = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = eps
        plus, minus = list(args), list(args)
        plus[wrt] = x + step.reshape(x.shape)
        minus[wrt] = x - step.reshape(x.shape)
        columns.append(np.ravel((fn(*plus) - fn(*minus)) / (2 * eps)))
    out = np.shape(fn(*args))
    return np.stack(columns, axis=-1).reshape(*out, *x.shape)


RNG = np.random.default_rng(0)
CASES = [
    (layer, (RNG.normal(size=3), RNG.normal(size=(4, 3))), 0),
    (layer, (RNG.normal(size=3), RNG.normal(size=(4, 3))), 1),
    (recurrence, (0.7, RNG.normal(size=4)), 1),
    (recurrence, (0.7, RNG.normal(size=4)), 0),
]


@pytest.mark.parametrize("mode", ["rev", "fwd", None])
@pytest.mark.parametrize("fn, args, wrt", CASES, ids=["layer-x", "layer-w", "rec-x", "rec-a"])
def test_jacobian_matches_finite_differences(fn, args, wrt, mode):
    got = sd.jacobian(fn, wrt=wrt, mode=mode)(*args)
    want = numeric_jacobian(fn, args, wrt)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_vjp_runs_the_primal_once_and_pulls_back_any_cotangent():
    x, w = RNG.normal(size=3), RNG.normal(size=(4, 3))
    value, pull = sd.vjp(layer, x, w)
    np.testing.assert_allclose(value, layer(x, w))
    jac_x, jac_w = numeric_jacobian(layer, (x, w), 0), numeric_jacobian(layer, (x, w), 1)
    for u in (np.array([1.0, 0.0]), np.array([0.3, -2.0])):
        dx, dw = pull(u)
        np.testing.assert_allclose(dx, np.tensordot(u, jac_x, 1), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(dw, np.tensordot(u, jac_w, 1), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="cotangent of shape"):
        pull(np.ones(3))


def test_jacobian_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="'rev' or 'fwd'"):
        sd.jacobian(layer, mode="both")
