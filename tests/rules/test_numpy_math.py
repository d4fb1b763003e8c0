"""Rules of NumPy's elementwise functions and their ``math`` and builtin twins."""

import builtins
import math

import numpy as np
import pytest

import srcdiff as sd

from .spec import Sampler, Spec, rule_grads, table_tests
from .test_arithmetic import BROADCAST

R = Sampler(2)

ARRAY_SHAPES = ((3, 4), (5,), (2, 3, 2), ())

# primitive -> input domain (kept away from poles, branch points and kinks)
UNARY_NUMPY = {
    np.exp: (-2.0, 2.0),
    np.exp2: (-2.0, 2.0),
    np.log: (0.2, 3.0),
    np.log2: (0.2, 3.0),
    np.log10: (0.2, 3.0),
    np.log1p: (-0.5, 2.0),
    np.expm1: (-2.0, 2.0),
    np.sqrt: (0.2, 3.0),
    np.cbrt: (0.2, 3.0),
    np.square: (-2.0, 2.0),
    np.reciprocal: (0.5, 2.0),
    np.abs: (-2.0, 2.0),
    np.absolute: (-2.0, 2.0),
    builtins.abs: (-2.0, 2.0),
    np.sin: (-3.0, 3.0),
    np.cos: (-3.0, 3.0),
    np.tan: (-1.2, 1.2),
    np.arcsin: (-0.9, 0.9),
    np.arccos: (-0.9, 0.9),
    np.arctan: (-3.0, 3.0),
    np.tanh: (-2.0, 2.0),
    np.sinh: (-2.0, 2.0),
    np.cosh: (-2.0, 2.0),
}

UNARY_MATH = {
    math.exp: (-2.0, 2.0),
    math.log: (0.2, 3.0),
    math.log2: (0.2, 3.0),
    math.log10: (0.2, 3.0),
    math.log1p: (-0.5, 2.0),
    math.expm1: (-2.0, 2.0),
    math.sqrt: (0.2, 3.0),
    math.fabs: (-2.0, 2.0),
    builtins.abs: (-2.0, 2.0),
    math.sin: (-3.0, 3.0),
    math.cos: (-3.0, 3.0),
    math.tan: (-1.2, 1.2),
    math.asin: (-0.9, 0.9),
    math.acos: (-0.9, 0.9),
    math.atan: (-3.0, 3.0),
    math.tanh: (-2.0, 2.0),
    math.sinh: (-2.0, 2.0),
    math.cosh: (-2.0, 2.0),
}


def value(shape, lo=-2.0, hi=2.0):
    return R.scalar(lo, hi) if shape is None else R(shape, lo, hi)


NAN_ROWS = np.where(np.arange(12).reshape(3, 4) % 3 == 0, np.nan, R((3, 4)))


def _clip_method(a, a_min=None, a_max=None):
    return a.clip(a_min, a_max)


def _clip_specs():
    specs = []
    for prim, call in ((np.clip, None), ("ndarray.clip", _clip_method)):
        a = R((3, 4))
        specs += [
            Spec(prim, (a, -1.0, 1.0), call=call, label="scalar-bounds"),
            Spec(
                prim, (a, R((4,), -1.5, -0.5), R((3, 1), 0.5, 1.5)), call=call, label="array-bounds"
            ),
            Spec(prim, (a, None, 0.5), call=call, wrt=(0, 2), label="no-lower"),
            Spec(prim, (a, -0.5, None), call=call, wrt=(0, 1), label="no-upper"),
            # bounds broadcast ``a`` to a larger shape
            Spec(prim, (R((4,)), R((3, 4), -1.5, -0.5), 0.5), call=call, label="a-broadcast"),
            # a lower bound above the upper one: the result is the upper bound there
            Spec(prim, (a, 1.0, -1.0), call=call, label="crossed-bounds"),
            Spec(
                prim,
                (a, R((4,), -1.5, 1.5), R((3, 1), -0.5, 0.5)),
                call=call,
                label="partly-crossed",
            ),  # fmt: skip
        ]
    return specs


SPECS = [
    *[Spec(p, (value(s, *dom),)) for p, dom in UNARY_NUMPY.items() for s in ARRAY_SHAPES],
    Spec(np.reciprocal, (R((3, 4), -2.0, -0.5),), label="negative"),
    *[Spec(p, (R.scalar(*dom),)) for p, dom in UNARY_MATH.items()],
    Spec(math.log, (R.scalar(0.2, 3.0), R.scalar(1.5, 4.0)), label="base"),
    Spec(math.log, (R.scalar(0.2, 3.0), 10), wrt=(0,), label="int-base"),
    *[
        Spec(p, (value(xs), value(ys)))
        for p in (np.maximum, np.fmax, np.minimum, np.fmin)
        for xs, ys in BROADCAST
    ],
    # the operand that is not NaN is the result: it gets the gradient
    *[
        Spec(p, args, wrt=(i,), label=f"nan-{'xy'[1 - i]}")
        for p in (np.fmax, np.fmin)
        for i, args in enumerate([(R((3, 4)), NAN_ROWS), (NAN_ROWS, R((3, 4)))])
    ],
    *_clip_specs(),
    *[
        Spec(np.where, (R((3, 4)) > 0, value(xs), value(ys)), wrt=(1, 2))
        for xs, ys in BROADCAST[:-1]
    ],
    Spec(np.where, (R((4,)) > 0, R((3, 4)), R((3, 1))), wrt=(1, 2), label="cond-broadcast"),
    Spec(
        np.where, (np.array([[2, 0, -1]]), R((2, 3)), R((2, 3))), wrt=(1, 2), label="int-condition"
    ),
    *[Spec(np.logaddexp, (value(xs), value(ys))) for xs, ys in BROADCAST],
    Spec(builtins.float, (R(()),)),
    Spec(builtins.float, (np.float64(R.scalar()),), label="np.float64"),
    Spec("ndarray.item", (R(()),), call=lambda x: x.item()),
    Spec("ndarray.item", (R((2, 3)), 4), call=lambda x, i: x.item(i), wrt=(0,), label="flat"),
    Spec(
        "ndarray.item",
        (R((2, 3)), 1, 2),
        call=lambda x, i, j: x.item(i, j),
        wrt=(0,),
        label="per-axis",
    ),  # fmt: skip
    Spec(
        "ndarray.item",
        (R((2, 3)), (1, 2)),
        call=lambda x, ij: x.item(ij),
        wrt=(0,),
        label="per-axis tuple",
    ),  # fmt: skip
    Spec(
        "ndarray.item", (R((1, 1)),), call=lambda x: x.item(), label="1x1", wrt=()
    ),  # the gradient is a scalar for a 1x1 array: checked by hand below
    Spec(
        "ndarray.astype", (R((3, 4)), np.float64), call=lambda x, dtype: x.astype(dtype), wrt=(0,)
    ),
    *[Spec(p, (R((3, 4)),)) for p in (np.asarray, np.array, np.copy, np.ascontiguousarray)],
    Spec(np.ascontiguousarray, (R((4, 3)).T,), label="strided"),
    # a NumPy scalar type called on a number: a cast (float32's rounding of x +- 1e-6,
    # which the differences take, is some 6e-8: they are compared within 10%)
    Spec(np.float64, (R.scalar(),)),
    Spec(np.float32, (R.scalar(),), rtol=0.1),
    Spec("ndarray.copy", (R((3, 4)),), call=lambda x: x.copy()),
]

# conversions that copy (or keep) the array: asanyarray, asfortranarray, asarray_chkfinite
C = Sampler(38)
SPECS += [
    *[Spec(p, (C((3, 4)),)) for p in (np.asanyarray, np.asfortranarray, np.asarray_chkfinite)],
    Spec(np.asanyarray, (C((2, 3)), np.float64)),
    Spec(np.asfortranarray, (C((4,)),), {"dtype": np.float64}),
    Spec(np.asarray_chkfinite, (C((2, 2)).T,), label="strided"),
    Spec(np.require, (C((3, 4)),)),
    Spec(np.require, (C((2, 3)), np.float64)),
    # of a 0-d array, a copy of shape (1,): the gradient goes back 0-d
    *[Spec(p, (C(()),), label="0d") for p in (np.ascontiguousarray, np.asfortranarray)],
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


@pytest.mark.parametrize(
    "prim, x, expected",
    [
        (np.tanh, 0.0, 1.0),
        (math.tanh, 0.0, 1.0),
        (np.exp, 0.0, 1.0),
        (np.log, 2.0, 0.5),
        (np.sqrt, 4.0, 0.25),
        (np.sin, 0.0, 1.0),
        (np.cos, 0.0, 0.0),
        (np.arcsin, 0.0, 1.0),
        (np.arccos, 0.0, -1.0),
        (np.arctan, 1.0, 0.5),
        (np.square, 3.0, 6.0),
        (np.reciprocal, 2.0, -0.25),
        (np.exp2, 1.0, 2.0 * math.log(2.0)),
        (np.log10, 1.0, 1.0 / math.log(10.0)),
        (np.abs, 0.0, 0.0),  # at the kink, 0 as in PyTorch
        (np.abs, -3.0, -1.0),
        (builtins.abs, 0.0, 0.0),
        (math.fabs, 0.0, 0.0),
    ],
)
def test_derivative_values(prim, x, expected):
    d, *_ = rule_grads(prim, np.float64(1.0), np.float64(x) if isinstance(prim, np.ufunc) else x)
    assert float(d) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("prim", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_ties_share_the_gradient_evenly(prim):
    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])
    dx, dy = rule_grads(prim, np.ones(3), x, y)
    winner_x = 1.0 if prim in (np.maximum, np.fmax) else 0.0
    np.testing.assert_array_equal(dx, [0.5, winner_x, 0.5])
    np.testing.assert_array_equal(dy, [0.5, 1.0 - winner_x, 0.5])


@pytest.mark.parametrize("prim", [np.fmax, np.fmin])
def test_fmax_and_fmin_give_the_gradient_to_the_operand_that_is_not_nan(prim):
    x, y = np.array([np.nan, 1.0, np.nan]), np.array([2.0, np.nan, np.nan])
    dx, dy = rule_grads(prim, np.ones(3), x, y)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 1.0])  # both NaN: x's NaN is the result
    np.testing.assert_array_equal(dy, [1.0, 0.0, 0.0])
    _, tangent = sd.jvp(lambda x, y: prim(x, y), (x, y), (np.full(3, 2.0), np.full(3, 3.0)))
    np.testing.assert_array_equal(tangent, [3.0, 2.0, 2.0])


def test_clip_with_crossed_bounds_gives_the_upper_bound():
    """NumPy computes ``minimum(maximum(a, a_min), a_max)``: where ``a_min > a_max`` the
    result is ``a_max``, whatever ``a`` is."""
    a = np.array([-2.0, 0.5, 3.0])
    da, dlo, dhi = rule_grads(np.clip, np.ones(3), a, 1.0, 0.0)
    np.testing.assert_array_equal(da, [0.0, 0.0, 0.0])
    assert float(dlo) == 0.0 and float(dhi) == 3.0
    f = lambda a, lo, hi: np.sum(np.clip(a, lo, hi))  # noqa: E731
    _, tangent = sd.jvp(f, (a, 1.0, 0.0), (np.ones(3), 10.0, 100.0))
    assert tangent == 300.0


def test_clip_passes_the_gradient_at_the_bounds():
    a = np.array([-1.0, 0.0, 1.0, 2.0, -3.0])
    da, dlo, dhi = rule_grads(np.clip, np.ones(5), a, -1.0, 1.0)
    np.testing.assert_array_equal(da, [1.0, 1.0, 1.0, 0.0, 0.0])
    assert float(dlo) == 1.0 and float(dhi) == 1.0


def test_clip_without_a_bound():
    a = np.array([-2.0, 0.0, 2.0])
    da, dlo, dhi = rule_grads(np.clip, np.ones(3), a, None, 1.0)
    np.testing.assert_array_equal(da, [1.0, 1.0, 0.0])
    assert dlo is None and float(dhi) == 1.0


def test_where_routes_the_gradient():
    cond = np.array([True, False, True])
    _, dx, dy = rule_grads(np.where, np.array([1.0, 2.0, 3.0]), cond, np.zeros(3), 0.0)
    np.testing.assert_array_equal(dx, [1.0, 0.0, 3.0])
    assert float(dy) == 2.0


def test_logaddexp_at_equal_inputs():
    dx, dy = rule_grads(np.logaddexp, 1.0, np.float64(0.0), np.float64(0.0))
    assert float(dx) == pytest.approx(0.5) and float(dy) == pytest.approx(0.5)


def test_astype_casts_the_gradient_back():
    x = np.ones(3, np.float32)
    dx, dtype, *_ = rule_grads(
        "ndarray.astype", np.ones(3), x, np.float64, call=lambda x, dtype: x.astype(dtype)
    )
    assert dx.dtype == np.float32 and dtype is None


def test_asarray_to_another_float_dtype_passes_the_gradient_on_in_the_arguments_dtype():
    x = np.ones(3)
    dx, ddtype = rule_grads(np.asarray, np.ones(3, np.float32), x, np.float32)
    assert dx.dtype == np.float64 and ddtype is None


def test_a_cast_to_integers_has_no_gradient():
    x = np.array([1.5, 2.5])
    dx, *_ = rule_grads("ndarray.astype", np.ones(2), x, int, call=lambda x, dtype: x.astype(dtype))
    np.testing.assert_array_equal(dx, 0.0)


def test_item_of_a_one_element_array():
    d, *_ = rule_grads("ndarray.item", 2.0, np.ones((1, 1)), call=lambda x: x.item())
    assert float(d) == 2.0


@pytest.mark.parametrize("prim", [np.abs, np.absolute, builtins.abs, math.fabs])
def test_abs_has_gradient_zero_at_nan_as_pytorch(prim):
    x = np.array([1.0, np.nan, -3.0]) if isinstance(prim, np.ufunc) else math.nan
    d, *_ = rule_grads(prim, np.ones(3) if isinstance(prim, np.ufunc) else 1.0, x)
    np.testing.assert_array_equal(d, [1.0, 0.0, -1.0] if isinstance(prim, np.ufunc) else 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logaddexp_at_infinities(dtype):
    """softplus(x) = logaddexp(0, x): its derivative is 1 at +inf and 0 at -inf, not NaN."""
    y = np.array([np.inf, -np.inf, 1.0], dtype)
    dx, dy = rule_grads(np.logaddexp, np.ones(3, dtype), 0.0, y)
    np.testing.assert_allclose(dy, [1.0, 0.0, 1 / (1 + np.exp(-1.0))], rtol=1e-6)
    assert dy.dtype == dtype
    np.testing.assert_allclose(dx, np.sum(1.0 - dy), rtol=1e-6)  # x = 0.0 broadcast
    both, _ = rule_grads(np.logaddexp, 1.0, np.float64(np.inf), np.float64(np.inf))
    assert np.isnan(both)  # inf + inf: no share to give (PyTorch's NaN too)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logaddexp2_at_infinities(dtype):
    """As ``logaddexp``'s: the operand at +inf takes the whole gradient, the other none
    (``inf - inf`` made both NaN), in reverse and forward mode."""
    x = np.array([np.inf, 1.0, -np.inf], dtype)
    y = np.array([2.0, np.inf, 0.5], dtype)
    dx, dy = rule_grads(np.logaddexp2, np.ones(3, dtype), x, y)
    np.testing.assert_array_equal(dx, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(dy, [0.0, 1.0, 1.0])
    assert dx.dtype == dy.dtype == dtype
    _, tangent = sd.jvp(_summed_logaddexp2, (x, y), (np.ones(3, dtype), np.zeros(3, dtype)))
    assert tangent == 1.0


def _summed_logaddexp2(x, y):
    return np.sum(np.logaddexp2(x, y))


def _where_alone(x):
    (i,) = np.where(x > 0.0)
    return np.sum(x[i] ** 2) + np.sum(i)


def test_where_of_one_argument_gives_indices_with_no_gradient():
    x = R((5,))
    np.testing.assert_allclose(sd.grad(_where_alone)(x), np.where(x > 0.0, 2.0 * x, 0.0))
    v = R((5,))
    _, t = sd.jvp(_where_alone, (x,), (v,))
    np.testing.assert_allclose(t, np.sum(np.where(x > 0.0, 2.0 * x * v, 0.0)))
