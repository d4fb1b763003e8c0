"""``sd.vjp`` (reverse mode for any result) and ``sd.jacobian`` (a pass per row in
reverse mode, per column in forward mode), against central differences."""

from __future__ import annotations

import inspect

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


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_takes_argument_names_as_grad_does(mode):
    x, w = RNG.normal(size=3), RNG.normal(size=(4, 3))
    want = numeric_jacobian(layer, (x, w), 1)
    for got in (
        sd.jacobian(layer, wrt="w", mode=mode)(x, w),
        sd.jacobian(layer, wrt="w", mode=mode)(x, w=w),
        sd.jacobian(layer, wrt="w", mode=mode)(w=w, x=x),
        sd.jacobian(layer, wrt=("x", "w"), mode=mode)(x, w=w)[1],
    ):
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


def mixed(x, a=1.5):
    return np.array([np.sin(x[0]) * x[1] ** 2 * a, x[0] * x[1] * x[2], np.exp(x[2]) * x[0]])


MODES = ["rev", "fwd", None]


@pytest.mark.parametrize("outer", MODES)
@pytest.mark.parametrize("inner", MODES)
def test_the_jacobian_of_a_jacobian_is_the_second_derivative(inner, outer):
    """``sd.jacobian(sd.jacobian(f))`` was refused with a CompileError about srcdiff's own
    source; it is the tensor of second derivatives, in every pair of modes."""
    x = np.array([0.3, -0.6, 0.45])
    inner_jacobian = sd.jacobian(mixed, mode=inner)
    got = sd.jacobian(inner_jacobian, mode=outer)(x)
    want = numeric_jacobian(inner_jacobian, (x,), 0, eps=1e-5)
    assert got.shape == (3, 3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got, np.swapaxes(got, 1, 2), rtol=1e-12)  # symmetric
    with_keyword = sd.jacobian(inner_jacobian, mode=outer)(x, a=2.0)
    np.testing.assert_allclose(with_keyword[0], got[0] * 2.0 / 1.5, rtol=1e-12)


def test_a_gradient_through_a_jacobian():
    x = np.array([0.3, -0.6, 0.45])

    def squared_norm(x):
        return np.sum(sd.jacobian(mixed)(x) ** 2)

    got = sd.grad(squared_norm)(x)
    want = numeric_jacobian(lambda z: np.array(squared_norm(z)), (x,), 0)
    np.testing.assert_allclose(got, want, rtol=1e-7)


def two_results(x, y):
    return np.sin(x) * y[0], x[0] * x[1] * y


@pytest.mark.parametrize("mode", MODES)
def test_jacobian_in_several_arguments_of_several_results(mode):
    """A tuple ``wrt`` gives a tuple of Jacobians, one per argument; a tuple result a
    tuple, one per result (of tuples, for both), as ``jax.jacobian`` does."""
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0, -0.5])

    def part(i):
        return lambda *args: two_results(*args)[i]

    want = [[numeric_jacobian(part(i), (x, y), w) for w in (0, 1)] for i in (0, 1)]
    both = sd.jacobian(two_results, wrt=(0, 1), mode=mode)(x, y)
    one_wrt = sd.jacobian(two_results, wrt=1, mode=mode)(x, y)
    one_result = sd.jacobian(part(1), wrt=(0, 1), mode=mode)(x, y)
    assert len(both) == 2 and all(len(b) == 2 for b in both) and len(one_wrt) == 2
    for i in (0, 1):
        for w in (0, 1):
            assert both[i][w].shape == want[i][w].shape
            np.testing.assert_allclose(both[i][w], want[i][w], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(one_wrt[i], want[i][1], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(one_result[i], want[1][i], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "make, call, error, match",
    [
        (lambda: sd.jacobian(layer, wrt="z"), None, ValueError, "layer has no argument named"),
        (lambda: sd.jacobian(layer, wrt=1.0), None, TypeError, "position or the name"),
        (lambda: sd.jacobian(layer, wrt=2), "args", TypeError, "by position"),
        (lambda: sd.jacobian(sd.jacobian(two_results, wrt=(0, 1)), mode="fwd"), "args",
         sd.CompileError, r"returns a tuple, differentiated again.*test_jacobian.py"),
        (lambda: sd.jacobian(lambda x, y: (x, (y, y))), "args", TypeError,
         "a result of type tuple; give it results that are arrays or numbers"),
        (lambda: sd.jacobian(sd.jacobian(two_results)), "args",
         sd.CompileError, "returns a tuple, differentiated again.*test_jacobian.py"),
    ],
    ids=["unknown-name", "float-wrt", "wrt-not-passed", "tuple-wrt-tuple-result", "nested-result",
         "tuple-result-again"],
)  # fmt: skip
def test_jacobian_refuses_clearly(make, call, error, match):
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0, -0.5])
    with pytest.raises(error, match=match):
        make()(x, y) if call else make()


class _Schedule:
    def __init__(self):
        self.t = 1.0

    def loss(self, x):
        self.t = self.t + 1.0
        return np.sum(x) ** 2 * self.t


def _drawing(x):
    return np.sum(x) ** 2 * np.random.default_rng().uniform(1.0, 2.0)


def _scaled_by_draw(x):
    return x * np.sum(x) * np.random.default_rng().uniform(1.0, 2.0)


@pytest.mark.parametrize("make", [
    lambda: sd.hessian(_drawing),
    lambda: sd.hessian(_Schedule().loss),
    lambda: sd.jacobian(_scaled_by_draw, mode="fwd"),
], ids=["hessian-random", "hessian-state", "jacobian-fwd-random"])  # fmt: skip
def test_a_derivative_by_columns_refuses_a_function_giving_another_value_each_run(make):
    """Each column is a run of the function: with a random draw (or state it changes)
    the columns were derivatives of different functions, a non-symmetric "Hessian"."""
    with pytest.raises(sd.CompileError, match="another value on each run"):
        make()(np.array([1.0, 2.0, 3.0]))


def test_the_reverse_jacobian_of_a_drawing_function_is_one_run():
    np.random.seed(0)
    jac = sd.jacobian(lambda x: x * np.sum(x) * np.random.rand(), mode="rev")(np.ones(3))
    assert np.allclose(jac, jac[0, 0] / 4 * (3 * np.eye(3) + 1))  # one draw r: r (3 I + 1)


def test_a_hessian_in_a_dict_is_a_clear_type_error():
    with pytest.raises(TypeError, match="sd.hvp takes any argument"):
        sd.hessian(lambda d: d["a"] * d["b"] ** 2)({"a": 1.0, "b": 2.0})


def test_vjp_pulls_back_at_the_values_given_whatever_the_caller_writes_later():
    # the pull-back read the caller's array, written into after sd.vjp returned
    x = np.array([0.3, 0.5, 1.1])
    _, pull = sd.vjp(lambda z: np.sum(z**3), x)
    x[:] = 0.0
    np.testing.assert_allclose(pull(1.0)[0], 3 * np.array([0.3, 0.5, 1.1]) ** 2)


def _pair_product(a, b):
    return np.sin(a) * b**2


def _both_jacobians(x, y):
    ja, jb = sd.jacobian(_pair_product, wrt=(0, 1))(x, y)
    return np.sum(ja * np.arange(9.0).reshape(3, 3)) + np.sum(jb * jb)


def _jacobians_of_two_results(x, y):
    ja, jb = sd.jacobian(two_results, wrt=(0, 1))(x, y)
    return np.sum(ja[0]) + np.sum(jb[1])


def test_a_jacobian_in_several_arguments_differentiated_again():
    """``sd.jacobian(f, wrt=(0, 1))`` inside a differentiated function was refused (at
    ``f``'s definition): its derivatives are the sums of those of each argument's
    Jacobian, in reverse and forward mode, against central differences."""
    x, y = np.array([0.3, -1.2, 2.5]), np.array([1.0, 0.5, -0.2])
    got = sd.grad(_both_jacobians, wrt=(0, 1))(x, y)
    for w in (0, 1):
        for eps in (1e-5, 1e-6):
            want = numeric_jacobian(_both_jacobians, (x, y), w, eps)
            np.testing.assert_allclose(got[w], want, rtol=1e-6, atol=1e-8)
    u, v = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.1, -0.4])
    tangent = sd.jvp(_both_jacobians, (x, y), (u, v))[1]
    want = numeric_jacobian(lambda t: _both_jacobians(x + t[0] * u, y + t[0] * v),
                            (np.zeros(1),), 0)  # fmt: skip
    np.testing.assert_allclose(tangent, want[0], rtol=1e-6)


def test_a_jacobian_of_two_results_differentiated_again_is_refused_at_the_calling_line():
    """The refusal named the line defining the differentiated function, not the line of
    the user's function calling its Jacobian."""
    x, y = np.array([0.1, 0.2]), np.array([1.0, 2.0, -0.5])
    lines, first = inspect.getsourcelines(_jacobians_of_two_results)
    line = first + next(i for i, t in enumerate(lines) if "sd.jacobian" in t)
    for run in (lambda: sd.grad(_jacobians_of_two_results)(x, y),
                lambda: sd.jvp(_jacobians_of_two_results, (x, y), (x, y))):  # fmt: skip
        with pytest.raises(sd.CompileError, match="returns a tuple, differentiated again") as e:
            run()
        assert f"{__file__}:{line})" in str(e.value)
        assert f"{__file__}:{two_results.__code__.co_firstlineno})" not in str(e.value)
