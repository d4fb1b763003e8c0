"""Rules of reductions: sum, mean, prod, max, min, var, std, cumsum (axis and keepdims)."""

import builtins
import math

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.rules import registry
from srcdiff.testing import check_grads

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(3)

# (shape, axis) pairs, each tried with keepdims False and True
AXES = [
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), 1),
    ((3, 4), -1),
    ((3, 4), (0, 1)),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, 0)),
    ((2, 3, 4), 1),
    ((5,), None),
    ((5,), 0),
    ((), None),
]
# prod's gradient supports one axis or all of them
SINGLE_AXES = [(s, a) for s, a in AXES if not isinstance(a, tuple)]


def method(name):
    def call(a, *args, **kwargs):
        return getattr(a, name)(*args, **kwargs)

    call.__name__ = f"ndarray.{name}"
    return call


def reduction(prims, axes=AXES, lo=-2.0, hi=2.0):
    specs = []
    for prim in prims:
        call = method(prim.split(".")[1]) if isinstance(prim, str) else None
        for shape, axis in axes:
            for keepdims in (False, True):
                specs.append(
                    Spec(prim, (R(shape, lo, hi),), {"axis": axis, "keepdims": keepdims}, call=call)
                )
    return specs


SPECS = [
    *reduction([np.sum, "ndarray.sum", rt.np_sum]),  # (rt's: generated code's np.sum)
    *reduction([np.mean, "ndarray.mean", rt.np_mean]),
    *reduction([np.prod, "ndarray.prod"], axes=SINGLE_AXES, lo=0.5, hi=1.5),
    *reduction([np.prod], axes=[((3, 4), 1), ((3, 4), None)]),  # with negative entries
    *reduction([np.max, np.amax, "ndarray.max", np.min, np.amin, "ndarray.min"]),
    *reduction([np.var, "ndarray.var"]),
    *reduction([np.std, "ndarray.std"], axes=[(s, a) for s, a in AXES if s != ()]),
    # no spread (one value, or equal ones): 0, the central differences' slope, not 0/0
    *[
        Spec(np.std, (x,), kw, label=label)
        for x, kw, label in [
            (R(()), {}, "0d"),
            (R((1,)), {}, "one"),
            (np.full((3, 2), 0.5), {"axis": 0}, "equal"),
        ]
    ],  # fmt: skip
    Spec(np.prod, (0.7,)),  # of a Python number
    *[
        Spec(np.prod, (R((2, 3, 4)),), {"axis": axis, "keepdims": keep}, label="axes")
        for axis, keep in [((0, 1), False), ((2, 0), True), ((-1, -2, 0), False)]
    ],
    *[
        Spec(p, (R(shape),), {"axis": axis}, call=method("cumsum") if isinstance(p, str) else None)
        for p in (np.cumsum, "ndarray.cumsum")
        for shape, axis in [((3, 4), None), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((5,), 0)]
    ],
    # positional axis, dtype and keepdims, bound as NumPy binds them
    Spec(np.sum, (R((3, 4)), 1), wrt=(0,), label="3x4-positional-axis"),
    Spec(np.mean, (R((3, 4)), 0, np.float64, None, True), wrt=(0,), label="positional-keepdims"),
    Spec(np.max, (R((3, 4)), 1, None, True), wrt=(0,), label="positional-keepdims"),
    # ddof
    *[
        Spec(p, (R(shape),), {"axis": axis, "ddof": ddof}, call=call)
        for p, call in (
            (np.var, None),
            (np.std, None),
            ("ndarray.var", method("var")),
            ("ndarray.std", method("std")),
        )
        for shape, axis, ddof in (((5,), None, 1), ((3, 4), 0, 1), ((3, 4), 1, 2))
    ],  # fmt: skip
    Spec(builtins.sum, ([R((3, 4)), R((4,)), R((3, 1))],)),
    Spec(builtins.sum, ([R((3, 4)), R((4,))], R((3, 4)))),
    Spec(builtins.sum, ([R.scalar(), R.scalar()], R.scalar())),
    Spec(builtins.sum, (R((3, 2)), R(())), label="rows-of-an-array"),
    # Python's max and min: of arguments, of a list's entries, of a 1-D array's entries
    Spec(np.average, (R((3, 4)),), label="no-weights"),
    Spec(np.average, (R((3, 4)), 1, R((4,), 0.5, 2.0)), wrt=(0, 2), label="1d-weights"),
    Spec(np.average, (R((3, 4)), None, R((3, 4), 0.5, 2.0)), wrt=(0, 2), label="weights"),
    Spec(
        np.average,
        (R((2, 3, 4)), (0, 2), R((2, 4), 0.5, 2.0)),
        {"keepdims": True},
        wrt=(0, 2),
        label="axes-weights-keepdims",
    ),  # fmt: skip
    # math.prod: of numbers, of arrays (broadcast), of an array's rows, with a start
    Spec(math.prod, ([R.scalar(), R.scalar(), R.scalar()],)),
    Spec(math.prod, ([R((3, 4)), R((4,)), R((3, 1))],)),
    Spec(math.prod, (R((3, 2)),), label="rows-of-an-array"),
    Spec(math.prod, ([R(()), R(())],), {"start": R.scalar()}, label="start"),
    Spec(math.prod, ([R.scalar(), 0.0, R.scalar()],), label="a-zero"),
    *[
        Spec(np.ptp, (R(shape),), {"axis": axis, "keepdims": keep})
        for shape, axis, keep in (((5,), None, False), ((3, 4), 0, False), ((3, 4), 1, True))
    ],
    *[
        Spec(np.cov, (R(shape),), kwargs, label=label)
        for shape, kwargs, label in (
            ((3, 6), {}, "rows"),
            ((6,), {}, "one-variable"),
            ((6, 3), {"rowvar": False}, "columns"),
            ((3, 6), {"bias": True}, "bias"),
            ((3, 6), {"ddof": 2}, "ddof"),
            ((3, 6), {"fweights": np.array([1, 2, 1, 3, 1, 2])}, "fweights"),
            ((3, 6), {"aweights": R((6,), 0.5, 2.0), "ddof": 0}, "aweights"),
        )
    ],
    Spec(np.cov, (R((2, 5)), R((5,))), label="y"),
    Spec(np.cov, (R((5, 2)), R((5, 2))), {"rowvar": False}, label="y-columns"),
    Spec(np.corrcoef, (R((3, 6)),)),
    Spec(np.corrcoef, (R((6, 3)),), {"rowvar": False}, label="columns"),
    Spec(np.corrcoef, (R((2, 5)), R((5,))), label="y"),
    Spec(builtins.max, (R.scalar(), R.scalar(), R.scalar())),
    Spec(builtins.min, (R(()), 0.25, R(()))),
    Spec(builtins.max, ([R(()), R(()), R(())],), label="list"),
    Spec(builtins.min, (R((5,)),), label="array-entries"),
    Spec(builtins.max, (R((4, 1)),), label="array-rows"),
    Spec(builtins.max, ([R((3,)), R((3,)), R((3,))],), {"key": builtins.sum}, label="key"),
    Spec(
        builtins.min, ([R((2,)), R((2,))],), {"key": builtins.sum, "default": 0.0}, label="default"
    ),
]

# A ufunc's reductions and accumulations (axis 0 by default), NumPy 2's cumulative_sum,
# math.fsum, var and std of the entries where= keeps, nanvar and nanstd.
U = Sampler(31)
KEPT = np.array([[True, False, True, True], [True, True, False, True], [False, True, True, True]])
NAN = np.array([[0.3, np.nan, -1.2, 0.8], [1.1, 0.4, np.nan, -0.6], [0.2, -0.9, 1.5, 0.7]])
HOLES = np.array([[0.3, np.nan, -1.2, 0.8], [1.1, 0.4, np.nan, 1.6], [0.2, -0.9, 1.5, np.nan]])
SPECS += [
    *[
        Spec(prim, (U(shape, lo, 2.0),), kw)
        for prim, lo in (
            (np.add.reduce, -2.0),
            (np.multiply.reduce, 0.5),
            (np.maximum.reduce, -2.0),
            (np.minimum.reduce, -2.0),
        )
        for shape, kw in (
            ((3, 4), {}),
            ((3, 4), {"axis": 1, "keepdims": True}),
            ((2, 3, 4), {"axis": (0, 2)}),
            ((5,), {}),
            ((3, 4), {"axis": None}),
        )
    ],  # fmt: skip
    Spec(np.add.reduce, (U((3, 4)),), {"axis": 1, "initial": U.scalar()}, label="initial"),
    Spec(np.add.reduce, (U((3, 4)),), {"where": U((3, 4)) > 0}, label="where"),
    *[
        Spec(prim, (U(shape, lo, 2.0),), kw)
        for prim, lo in (
            (np.add.accumulate, -2.0),
            (np.multiply.accumulate, -2.0),
            (np.maximum.accumulate, -2.0),
            (np.minimum.accumulate, -2.0),
            (np.fmax.accumulate, -2.0),
            (np.fmin.accumulate, -2.0),
        )
        for shape, kw in (
            ((3, 4), {}),
            ((3, 4), {"axis": 1}),
            ((2, 3, 4), {"axis": -1}),
            ((6,), {}),
        )
    ],  # fmt: skip
    *[
        Spec(p, (HOLES,), {"axis": 1}, label="nan")  # (the NaNs passed over: no gradient)
        for p in (np.fmax.accumulate, np.fmin.accumulate)
    ],
    *[
        Spec(np.cumulative_sum, (U(shape),), kw)
        for shape, kw in (
            ((5,), {}),
            ((3, 4), {"axis": 0}),
            ((3, 4), {"axis": 1, "include_initial": True}),
            ((5,), {"include_initial": True}),
        )
    ],  # fmt: skip
    Spec(math.fsum, ([U.scalar(), U.scalar(), U.scalar()],)),
    Spec(math.fsum, ([U(()), U.scalar()],), label="0d-and-float"),
    *[
        Spec(p, (U((3, 4)),), {"where": KEPT, **kw}, label="where")
        for p in (np.var, np.std)
        for kw in ({}, {"axis": 0}, {"axis": 1, "ddof": 1, "keepdims": True})
    ],
    *[
        Spec(p, (NAN,), kw, label="nan")
        for p in (np.nanvar, np.nanstd)
        for kw in ({}, {"axis": 0}, {"axis": 1, "ddof": 1, "keepdims": True})
    ],
    *[Spec(p, (U((2, 3, 4)),), {"axis": (0, 2)}) for p in (np.nanvar, np.nanstd)],
    *[
        Spec(rt.centred, (U(shape),), kw, label=label)
        for shape, kw, label in (
            ((3, 4), {}, ""),
            ((3, 4), {"axis": 1}, ""),
            ((2, 3, 4), {"axis": (0, 2)}, ""),
        )
    ],
    Spec(rt.reverse_cumsum, (U((3, 4)), 1)),
    Spec(rt.reverse_cumsum, (U((3, 4)),), label="flat"),
    Spec(rt.centred, (U((3, 4)), 0, KEPT), label="where"),
    Spec(rt.centred, (U((3, 4)), None, KEPT), label="where-all"),
]

# a ufunc's reduceat: runs from each index to the next, one entry where the next index is
# not past it (``[0, 3, 1]``: the entries 0-2, entry 3 alone, then 1 to the end)
A = Sampler(36)
TIED = np.array([[0.5, 0.5, -0.2, 1.0], [0.3, -0.7, -0.7, 0.3], [1.2, 0.1, 1.2, 0.4]])
SPECS += [
    *[
        Spec(prim, (A(shape),), kw, wrt=(0,))
        for prim in (
            np.add.reduceat,
            np.multiply.reduceat,
            np.maximum.reduceat,
            np.minimum.reduceat,
            np.fmax.reduceat,
            np.fmin.reduceat,
        )  # fmt: skip
        for shape, kw in (
            ((6,), {"indices": [0, 2, 5]}),
            ((5, 3), {"indices": [0, 3, 1]}),  # a run, one entry, a run to the end
            ((3, 5), {"indices": [1, 1, 4], "axis": 1}),  # an index repeated
            ((2, 4, 3), {"indices": np.array([2, 0]), "axis": -2}),
            ((4,), {"indices": [3]}),
        )
    ],  # fmt: skip
    Spec(np.add.reduceat, (A((5,)), [0, 2], 0), wrt=(0,), label="positional-axis"),
    *[
        Spec(p, (TIED, [0, 2]), {"axis": 1}, wrt=(0,), label="ties")
        for p in (np.maximum.reduceat, np.minimum.reduceat)
    ],
    Spec(np.fmax.reduceat, (HOLES, [0, 2]), {"axis": 1}, wrt=(0,), label="nan"),
    Spec(
        np.multiply.reduceat,
        (np.array([[0.5, 0.0, -1.2, 0.7], [0.0, 0.0, 0.3, 1.4]]), [0, 2, 2]),
        {"axis": 1},
        wrt=(0,),
        label="zeros",
    ),
]

SPECS += [
    Spec(np.nancumsum, (A((5,)),)),
    Spec(np.nancumsum, (A((3, 4)),), {"axis": 1}),
    Spec(np.nancumsum, (A((2, 3, 4)), -2)),
    Spec(np.nancumsum, (HOLES,), {"axis": 0}, label="nan"),
    Spec(np.nancumsum, (HOLES,), label="nan-flat"),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_sum_and_mean_values():
    x = np.arange(12.0).reshape(3, 4)
    d, *_ = rule_grads(np.sum, np.array([[1.0], [2.0], [3.0]]), x, axis=1, keepdims=True)
    np.testing.assert_array_equal(d, np.repeat([[1.0], [2.0], [3.0]], 4, axis=1))
    d, *_ = rule_grads(np.mean, 1.0, np.ones(4))
    np.testing.assert_array_equal(d, [0.25] * 4)
    d, *_ = rule_grads(np.mean, np.ones(4), x, axis=0)
    np.testing.assert_array_equal(d, np.full((3, 4), 1.0 / 3.0))


@pytest.mark.parametrize("prim", [np.max, np.amax, "ndarray.max"])
def test_max_ties_share_the_gradient_evenly(prim):
    call = method("max") if isinstance(prim, str) else None
    d, *_ = rule_grads(prim, 1.0, np.array([3.0, 1.0, 3.0]), call=call)
    np.testing.assert_array_equal(d, [0.5, 0.0, 0.5])
    d, *_ = rule_grads(
        prim, np.ones(2), np.array([[2.0, 2.0, 2.0], [1.0, 5.0, 0.0]]), axis=1, call=call
    )
    np.testing.assert_allclose(d, [[1 / 3, 1 / 3, 1 / 3], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("prim", [np.min, np.amin, "ndarray.min"])
def test_min_ties_share_the_gradient_evenly(prim):
    call = method("min") if isinstance(prim, str) else None
    d, *_ = rule_grads(
        prim, np.ones((1, 2)), np.array([[0.0, 1.0], [0.0, -1.0]]), axis=0, keepdims=True, call=call
    )
    np.testing.assert_array_equal(d, [[0.5, 0.0], [0.5, 1.0]])


def test_prod_with_zeros():
    d, *_ = rule_grads(np.prod, 1.0, np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(d, [0.0, 6.0, 0.0])
    d, *_ = rule_grads(np.prod, 1.0, np.array([2.0, 0.0, 0.0]))
    np.testing.assert_array_equal(d, [0.0, 0.0, 0.0])
    d, *_ = rule_grads(np.prod, np.ones(2), np.array([[1.0, 0.0], [2.0, 3.0]]), axis=1)
    np.testing.assert_array_equal(d, [[0.0, 1.0], [3.0, 2.0]])


def test_prod_over_several_axes_with_zeros():
    """Each entry gets the product of the others in its slice, zeros counted exactly."""
    x = np.arange(24.0).reshape(2, 3, 4) % 5
    for axis in [(0, 1), (0, 2), (-1, 0), (0, 1, 2)]:
        for keepdims in (False, True):
            g = np.ones(np.prod(x, axis=axis, keepdims=keepdims).shape)
            d = rule_grads(np.prod, g, x, axis=axis, keepdims=keepdims)[0]
            moved = np.moveaxis(x, [a % 3 for a in axis], list(range(-len(axis), 0)))
            lanes = moved.reshape(*moved.shape[: 3 - len(axis)], -1)
            want = np.empty_like(lanes)
            for k in range(lanes.shape[-1]):
                want[..., k] = np.prod(np.delete(lanes, k, axis=-1), axis=-1)
            want = np.moveaxis(
                want.reshape(moved.shape), list(range(-len(axis), 0)), [a % 3 for a in axis]
            )
            np.testing.assert_array_equal(d, want)


def test_var_std_cumsum_values():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    d, *_ = rule_grads(np.var, 1.0, x)
    np.testing.assert_allclose(d, [-0.75, -0.25, 0.25, 0.75])
    d, *_ = rule_grads(np.std, 1.0, x)
    np.testing.assert_allclose(d, (x - 2.5) / (4 * np.std(x)))
    d, *_ = rule_grads(np.cumsum, np.ones(3), np.zeros(3))
    np.testing.assert_array_equal(d, [3.0, 2.0, 1.0])


def test_builtin_sum_values():
    d_items, d_start = rule_grads(builtins.sum, np.ones((2, 3)), [np.ones((2, 3)), np.ones(3)])
    np.testing.assert_array_equal(d_items[1], [2.0, 2.0, 2.0])
    assert float(d_start) == 6.0


def test_generated_code_calls_lean_sums_and_means_that_give_numpys_bits():
    """``np.sum`` and ``np.mean`` calls in generated code are ``rt.np_sum`` and
    ``rt.np_mean``: NumPy's values to the bit (a float32 mean of 2**24 + 1 values
    divides as NumPy does), NumPy integer axes, and the functions as values stay NumPy's
    (``red is np.mean`` was False in generated code: a wrong value and gradient)."""
    import srcdiff as sd

    big = np.full(2**24 + 1, 1.5, dtype=np.float32)
    big[0] = 0.3
    assert rt.np_mean(big) == np.mean(big) and rt.np_mean(big, 0) == np.mean(big, 0)
    x = np.arange(12.0).reshape(3, 4)
    assert (rt.np_mean(x, axis=np.int64(1)) == np.mean(x, axis=1)).all()

    def reduce_with(x, red):
        scale = 4.0 if red is np.mean else 1.0
        return red(x**2) * scale

    x = np.array([1.0, 2.0, 3.0])
    gradient = sd.grad(reduce_with)
    np.testing.assert_allclose(gradient(x, np.mean), 4.0 * 2 * x / 3)
    assert "rt.np_mean" not in sd.source(gradient)  # (a call of red, not of np.mean)


@pytest.mark.parametrize("prim", [np.max, np.min, "ndarray.max", "ndarray.min"])
def test_an_extreme_that_is_nan_gives_its_gradient_to_the_nan_entries(prim):
    """As PyTorch: the result is NaN and the NaN entries share its gradient."""
    call = method(prim.split(".")[1]) if isinstance(prim, str) else None
    d, *_ = rule_grads(prim, 1.0, np.array([1.0, np.nan, 3.0, np.nan]), call=call)
    np.testing.assert_array_equal(d, [0.0, 0.5, 0.0, 0.5])
    d, *_ = rule_grads(prim, np.ones(2), np.array([[1.0, np.nan], [1.0, 2.0]]), axis=1, call=call)
    np.testing.assert_array_equal(
        d,
        [
            [0.0, 1.0],
            [float(prim in (np.min, "ndarray.min")), float(prim in (np.max, "ndarray.max"))],
        ],
    )


def test_a_sum_or_mean_in_a_wider_dtype_has_its_tangent_in_that_dtype():
    # np.sum(x32, dtype=np.float64) once had a float32 tangent, summed in float32
    import srcdiff as sd

    rng = np.random.default_rng(0)
    x, v = rng.normal(size=1000).astype(np.float32), rng.normal(size=1000).astype(np.float32)
    for f in (np.sum, np.mean):
        value, tangent = sd.jvp(lambda x, f=f: f(x, dtype=np.float64), (x,), (v,))
        assert value.dtype == tangent.dtype == np.float64
        assert tangent == f(v, dtype=np.float64)
    _, tangent = sd.jvp(lambda x: x.sum(axis=0, dtype=np.float64), (x,), (v,))
    assert tangent.dtype == np.float64


def test_an_alias_with_a_default_its_rule_has_not_is_refused():
    with pytest.raises(TypeError, match="no parameter with a default"):
        registry.alias(object(), np.sum, axes=0)


def selected_by_integers(x, m):
    """Integer and boolean results (positions, tests) carry no gradient: the values they
    select do."""
    picked = x[np.flatnonzero(x > 0.0)]
    rows, cols = np.nonzero(m > 0.0)
    best = np.unravel_index(np.nanargmax(m), m.shape)
    ok = np.isposinf(m).any() or np.isneginf(x).any() or not np.isrealobj(x)
    return (
        np.sum(picked**2)
        + np.sum(m[rows, cols] ** 3)
        + m[best] * (2.0 if ok else 1.0)
        + np.sum(np.nancumsum(np.where(m > 0.5, np.nan, m), axis=1) ** 2)
    )


def test_integer_results_and_nancumsum_through_the_compiler():
    x, m = A((5,)), A((3, 4))
    check_grads(selected_by_integers, sd.grad(selected_by_integers, wrt=(0, 1)), (x, m), (0, 1),
                rtol=1e-5, atol=1e-7)  # fmt: skip


def _weighted_products(x):
    return np.sum(np.multiply.reduceat(x, [0, 2, 2, 4]) * np.array([1.0, 2.0, 3.0, 4.0]))


def test_multiply_reduceat_second_derivative_is_exact_at_a_zero():
    x = np.array([0.5, 2.0, 0.0, 1.5, -0.7, 1.2])
    v = np.arange(6.0)
    g = sd.grad(_weighted_products)
    hv = sd.hvp(_weighted_products, (x,), (v,))
    for eps in (1e-4, 1e-5):
        fd = (g(x + eps * v) - g(x - eps * v)) / (2 * eps)
        np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-8)


NAN_DIRECTION = np.cos(np.arange(12.0)).reshape(3, 4)


def _through_a_square(name, axis):
    def f(x):
        return np.sum(np.sin(getattr(np, name)(x * x, axis=axis)))

    return f


@pytest.mark.parametrize("axis", [None, 1])
@pytest.mark.parametrize(
    "name", ["nansum", "nanmean", "nanmedian", "nanvar", "nanstd", "nanmax", "nanmin"]
)
def test_a_nan_entry_whose_tangent_is_nan_moves_nothing_forward(name, axis):
    """``x * x`` at a NaN entry has a NaN tangent, which the NaN-skipping reduction passes
    over: forward mode's tangent is central differences' (a NaN entry stays NaN), as JAX's
    is (nanvar, nanstd, nanmax and nanmin gave NaN). Reverse mode gives that entry 0 * NaN,
    NaN, as JAX and PyTorch do, and the others their derivatives."""
    f, x = _through_a_square(name, axis), NAN.copy()
    _, tangent = sd.jvp(f, (x,), (NAN_DIRECTION,))
    for h in (1e-6, 1e-4):
        numeric = (f(x + h * NAN_DIRECTION) - f(x - h * NAN_DIRECTION)) / (2 * h)
        assert tangent == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    d = sd.grad(f)(x)
    assert np.array_equal(np.isnan(d), np.isnan(x))
    kept = ~np.isnan(x)
    assert np.sum(d[kept] * NAN_DIRECTION[kept]) == pytest.approx(tangent, rel=1e-9, abs=1e-12)
