"""Rules of functions along an axis or of sequences of samples (rules/sequences.py):
diff, cumprod, gradient, trapezoid, interp, convolve, correlate, polyval, polyfit,
vander."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.rules import lookup
from srcdiff.testing import check_grads
from tests.soundness.verify import verify_both_modes

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(22)

TRAPEZOIDS = [f for f in (getattr(np, "trapezoid", None), getattr(np, "trapz", None)) if f]

WITH_ZEROS = np.array(
    [[1.5, 0.0, 2.0, -1.0, 0.7], [0.0, 0.5, 0.0, 3.0, -1.2], [2.0, -0.5, 1.5, 0.8, 0.0]]
)


def points(n):
    """``n`` increasing sample points, at least 0.2 apart."""
    return np.cumsum(R((n,), 0.2, 1.0))


def queries(shape, pts):
    """Query points between and beyond ``pts``, none of them on one (kinks)."""
    x = R(shape, pts[0] - 0.5, pts[-1] + 0.5)
    near = np.min(np.abs(x[..., None] - pts), axis=-1) < 1e-3
    return np.where(near, x + 0.01, x)


def _cumprod_method(a, axis=None):
    return a.cumprod(axis)


def _diff_append(a, n, axis, prepend, append):
    return np.diff(a, n, axis, append=append)


def _diff_specs():
    return [
        Spec(np.diff, (R((5,)),)),
        Spec(np.diff, (R((3, 4)), 2), label="3x4-n-2"),
        Spec(np.diff, (R((3, 4)),), {"axis": 0}),
        Spec(np.diff, (R((2, 3, 4)),), {"n": 2, "axis": 1}),
        Spec(np.diff, (R((3, 4)), 0), label="n-0"),
        Spec(np.diff, (R((3,)), 4), label="n-past-length"),
        Spec(np.diff, (R((3, 4)), 1, -1, R((3, 2)), R((3, 1))), label="prepend-append"),
        Spec(np.diff, (R((3, 4)), 2, 0, R((1, 4))), label="prepend-axis-0"),
        Spec(np.diff, (R((3, 4)), 1, -1, 0.5, -1.5), label="number-prepend-append"),
    ]


def _cumprod_specs():
    return [
        Spec(np.cumprod, (R((5,)),)),
        Spec(np.cumprod, (R((3, 4)),), label="3x4-flat"),
        Spec(np.cumprod, (R((3, 4)), 1), label="3x4-axis-1"),
        Spec(np.cumprod, (R((2, 3, 4)),), {"axis": 0}),
        Spec(np.cumprod, (R((2, 3, 4)),), {"axis": -1}),
        Spec(np.cumprod, (WITH_ZEROS,), {"axis": 1}, label="zeros"),
        Spec(np.cumprod, (WITH_ZEROS,), {"axis": 0}, label="zeros"),
        Spec(np.cumprod, (WITH_ZEROS,), label="zeros-flat"),
        Spec(np.cumprod, (np.array([0.0, 0.0, 2.0, 0.0, 3.0]),), label="several-zeros"),
        Spec(np.cumprod, (R((3, 4)),), {"axis": 1, "dtype": np.float64}, label="dtype"),
        Spec("ndarray.cumprod", (R((3, 4)), 1), call=_cumprod_method),
        Spec("ndarray.cumprod", (WITH_ZEROS,), call=_cumprod_method, label="zeros-flat"),
    ]


def _gradient_specs():
    return [
        Spec(np.gradient, (R((6,)),)),
        Spec(np.gradient, (R((6,)),), {"edge_order": 2}),
        Spec(np.gradient, (R((3,)),), {"edge_order": 2}, label="3-points"),
        Spec(np.gradient, (R((2,)),), label="2-points"),
        Spec(np.gradient, (R((4, 5)),)),  # a tuple of two results
        Spec(np.gradient, (R((4, 5)),), {"axis": 1}),
        Spec(np.gradient, (R((4, 5)),), {"axis": 0, "edge_order": 2}),
        Spec(np.gradient, (R((3, 4, 5)),), {"axis": (0, -1)}),
        Spec(np.gradient, (R((3, 4, 5)),), {"axis": -2, "edge_order": 2}),
        # coordinate arrays (a grid that is not uniform): the samples and the coordinates
        Spec(np.gradient, (R((6,)), points(6)), label="coordinates"),
        Spec(np.gradient, (R((6,)), points(6)), {"edge_order": 2}, label="coordinates"),
        Spec(np.gradient, (R((3,)), points(3)), {"edge_order": 2}, label="3-coordinates"),
        Spec(np.gradient, (R((2,)), points(2)), label="2-coordinates"),
        Spec(np.gradient, (R((4, 5)), points(5)), {"axis": 1}, label="coordinates"),
        Spec(
            np.gradient, (R((4, 5)), points(4)), {"axis": 0, "edge_order": 2}, label="coordinates"
        ),  # fmt: skip
        Spec(
            np.gradient,
            (R((3, 4, 5)), points(4)),
            {"axis": -2, "edge_order": 2},
            label="coordinates",
        ),  # fmt: skip
    ]


def _trapezoid_specs():
    specs = []
    for prim in TRAPEZOIDS:
        y = R((3, 5))
        specs += [
            Spec(prim, (R((6,)),)),
            Spec(prim, (y,)),
            Spec(prim, (y,), {"axis": 0}),
            Spec(prim, (y, None, 0.3), label="dx"),
            Spec(prim, (R((6,)), points(6)), label="x"),
            Spec(prim, (y, points(5)), label="x-1d"),
            Spec(prim, (R((4, 3)), points(4), 1.0, 0), label="x-1d-axis-0"),
            Spec(prim, (y, np.sort(R((3, 5)), axis=1)), label="x-like-y"),
            Spec(prim, (R((4, 3)), np.sort(R((4, 1)), axis=0), 1.0, 0), label="x-broadcast"),
            Spec(prim, (R((2, 3, 4)),), {"axis": 1, "dx": 0.5}),
            Spec(prim, (R((1,)),), label="one-sample"),
        ]
    return specs


def _interp_specs():
    pts, vals = points(5), R((5,))
    return [
        Spec(np.interp, (queries((7,), pts), pts, vals)),
        Spec(np.interp, (queries((3, 4), pts), pts, vals)),
        Spec(np.interp, (float(queries((), pts)), pts, vals), label="number"),
        Spec(np.interp, (queries((), pts), pts, vals)),
        Spec(np.interp, (queries((8,), pts), pts, vals, -1.0, 2.5), label="left-right"),
        Spec(np.interp, (queries((8,), pts), pts, vals), {"right": 2.5}, label="right"),
        Spec(np.interp, (queries((4,), points(2)), points(2), R((2,))), label="2-points"),
        Spec(
            np.interp, (np.array([pts[0] - 0.3, pts[0] + 0.4]), pts[:1], vals[:1]), label="1-point"
        ),  # fmt: skip
        Spec(
            np.interp,
            (R((6,), -7.0, 7.0), R((5,), -3.0, 9.0), vals, None, None, 2 * np.pi),
            label="period",
        ),  # fmt: skip
        Spec(
            np.interp,
            (R((6,), -7.0, 7.0), R((5,), -3.0, 9.0), vals, None, None, -2.5),
            label="negative-period",
        ),  # fmt: skip
    ]


def _convolution_specs():
    specs = []
    for prim in (np.convolve, np.correlate):
        for n, m in ((5, 3), (3, 5), (4, 4), (2, 5), (4, 7), (1, 4), (6, 1)):
            for mode in ("full", "same", "valid"):
                specs.append(Spec(prim, (R((n,)), R((m,))), {"mode": mode}))
        specs += [
            Spec(prim, (R((5,)), R((3,)))),  # the default mode
            Spec(prim, (R((5,)), R((2,)), "same"), label="positional-mode"),
            Spec(prim, (R((5,)), R((2,)), 2), label="integer-mode"),
        ]
    return [*specs, Spec(np.convolve, (R((4,)), R(())), label="0d-v")]


def _polyval_specs():
    return [
        Spec(np.polyval, (R((4,)), R((3, 5)))),
        Spec(np.polyval, (R((4,)), R((6,)))),
        Spec(np.polyval, (R((5,)), R.scalar()), label="number"),
        Spec(np.polyval, (R((3,)), R(()))),
        Spec(np.polyval, (R((1,)), R((3,))), label="constant"),
        Spec(np.polyval, (R((3, 2)), R((2,))), label="two-polynomials"),
    ]


def _polyfit_specs():
    """Points at least 0.2 apart, a degree below their number (a full-rank fit)."""
    return [
        Spec(np.polyfit, (points(7), R((7,)), 2), wrt=(0, 1)),
        Spec(np.polyfit, (points(6), R((6, 3)), 1), wrt=(0, 1), label="columns"),
        Spec(np.polyfit, (points(4), R((4,)), 3), wrt=(0, 1), label="interpolating"),
        Spec(np.polyfit, (points(5), R((5,)), 0), wrt=(0, 1), label="a-constant"),
        Spec(np.polyfit, (points(6), R((6,)), 2, 1e-10), wrt=(0, 1), label="rcond"),
        Spec(
            np.polyfit,
            (points(8), R((8,)), 3, None, False, R((8,), 0.5, 2.0)),
            wrt=(0, 1, 5),
            label="weights",
        ),  # fmt: skip
        Spec(
            np.polyfit,
            (points(6), R((6, 2)), 2, None, False, R((6,), 0.5, 2.0)),
            wrt=(0, 1, 5),
            label="weighted-columns",
        ),  # fmt: skip
        Spec(
            np.polyfit,
            (points(6), R((6,)), 2, None, False, np.array([1.0, 0.0, 2.0, 1.5, 0.7, 1.0])),
            wrt=(0, 1, 5),
            label="a-point-left-out",
        ),
    ]


def _vander_specs():
    return [
        Spec(np.vander, (R((4,)),)),
        Spec(np.vander, (R((4,)), 3)),
        Spec(np.vander, (R((5,)),), {"increasing": True}),
        Spec(np.vander, (R((3,)),), {"N": 6, "increasing": True}),
        Spec(np.vander, (R((3,)), 6, False), label="positional"),
        Spec(np.vander, (R((3,)), 1), label="N-1"),
    ]


SPECS = [
    *_diff_specs(),
    *_cumprod_specs(),
    *_gradient_specs(),
    *_trapezoid_specs(),
    *_interp_specs(),
    *_convolution_specs(),
    *_polyval_specs(),
    *_polyfit_specs(),
    *_vander_specs(),
    # the forward rule's helpers, differentiated again by reverse over forward mode
    Spec(rt.gradient_spacing_tangent, (R((6,)), (points(6),), (R((6,)),)), wrt=(0, 1, 2)),
    Spec(
        rt.gradient_spacing_tangent,
        (R((4, 5)), (points(4), 0.5), (R((4,)), 0.3), None, 2),
        wrt=(0, 1, 2),
        label="grid",
    ),  # fmt: skip
    Spec(
        rt.gradient_spacing_tangent,
        (R((3, 4)), (0.5,), (0.25,), 1, 2),
        wrt=(0, 1, 2),
        label="spacing",
    ),  # fmt: skip
    Spec(rt.gradient_samples_tangent, (R((6,)), (points(6),)), wrt=(0, 1)),
    Spec(
        rt.gradient_samples_tangent,
        (R((4, 5)), (points(4), points(5)), None, 2),
        wrt=(0, 1),
        label="grid",
    ),  # fmt: skip
]

C = Sampler(32)
SPECS += [
    *[
        Spec(np.cumulative_prod, (C(shape, lo, 2.0),), kw)
        for shape, lo, kw in (
            ((5,), -2.0, {}),
            ((3, 4), 0.5, {"axis": 0}),
            ((3, 4), -2.0, {"axis": 1, "include_initial": True}),
            ((5,), 0.5, {"include_initial": True}),
        )
    ],  # fmt: skip
    Spec(np.cumulative_prod, (np.array([0.5, 0.0, 1.5, 2.0]),), label="a-zero"),
]

# unwrap (whole periods added at its jumps: none sits at the threshold here) and polyder
W = Sampler(41)
PHASE = np.array([0.1, 2.9, 6.6, 0.4, -3.0, 3.3])
SPECS += [
    Spec(np.unwrap, (PHASE + W((6,), -0.2, 0.2),)),
    Spec(np.unwrap, (np.stack([PHASE, PHASE[::-1]]) + W((2, 6), -0.2, 0.2),), {"axis": 1}),
    Spec(np.unwrap, (PHASE[:4] + W((4,), -0.2, 0.2), 2.0)),
    Spec(np.unwrap, (PHASE * 0.5,), {"period": 4.0 + W.scalar(-0.1, 0.1)}),
    Spec(np.polyder, (W((5,)),)),
    Spec(np.polyder, (W((5,)), 2)),
    Spec(np.polyder, (W((3,)),), {"m": 3}),  # past the degree: zero
    Spec(np.polyder, (W((4,)), 0)),
    Spec(np.nancumprod, (W((5,), 0.5, 1.5),)),
    Spec(np.nancumprod, (W((3, 4), 0.5, 1.5),), {"axis": 1}),
    Spec(np.nancumprod, (np.where(W((3, 4)) > 1.0, np.nan, W((3, 4))), 0), label="nan"),
    Spec(np.nancumprod, (np.array([0.7, np.nan, 0.0, 1.3, -0.4]),), label="nan-and-zero"),
]

SPECS += [
    Spec(np.polyint, (W((4,)),)),
    Spec(np.polyint, (W((3,)), 3)),
    Spec(np.polyint, (W((4,)), 2, W((2,))), label="constants"),
    Spec(np.polyint, (W((3,)),), {"m": 3, "k": W(())}, label="one-constant"),
    Spec(np.polyint, (W((3,)), 0)),
    Spec(np.poly, (W((4,)),)),
    Spec(np.poly, (np.array([0.7, 0.7, 0.0, -1.2]),), label="repeated-and-zero"),
    Spec(np.poly, (W((1,)),)),
    Spec(rt.poly_quotients, (W((3,)), W((4,)))),
    Spec(rt.poly_quotients, (W((3,)), W((3, 5))), label="rows"),
    Spec(rt.poly_quotients, (np.array([0.0, 1.3]), W((3,))), label="zero-root"),
]

# polynomial sums and products: lengths apart, a number, a 0-d array, rows of equal length
# (np.polyadd broadcasts them); np.polymul's leading zeros: see its test below
P = Sampler(43)
SPECS += [
    *[
        Spec(prim, args, label=label)
        for prim in (np.polyadd, np.polysub)
        for args, label in (
            ((P((4,)), P((2,))), ""),
            ((P((2,)), P((5,))), ""),
            ((P((3,)), P((3,))), ""),
            ((P((3,)), P.scalar()), "number"),
            ((P(()), P((3,))), ""),
            ((P((3, 2)), P((3, 1))), "rows"),
        )
    ],
    Spec(np.polymul, (P((3,)), P((4,)))),
    Spec(np.polymul, (P((1,)), P((3,)))),
    Spec(np.polymul, (P((3,)), P.scalar()), label="number"),
    Spec(np.polymul, (P(()), P((2,)))),
    Spec(np.polydiv, (P((5,)), P((2,), 0.5, 2.0))),
    Spec(np.polydiv, (P((5,)), P((3,), 0.5, 2.0))),
    Spec(np.polydiv, (P((4,)), P((4,), 0.5, 2.0)), label="equal-degrees"),
    Spec(np.polydiv, (P((3,), 0.5, 2.0), P((5,))), label="lower-degree"),
    Spec(np.polydiv, (P((4,)), P((1,), 0.5, 2.0)), label="by-a-constant"),
]

# roots of polynomials with real, simple roots (a trailing zero coefficient: a root at 0)
SPECS += [
    Spec(np.roots, (1.3 * np.poly(np.array([-1.5, 0.2, 1.1, 2.4]) + P((4,), -0.1, 0.1)),)),
    Spec(np.roots, (np.poly(np.array([0.7, -2.0]) + P((2,), -0.1, 0.1)),)),
    Spec(np.roots, (np.array([P.scalar(1.5, 2.0), P.scalar(0.5, 1.0)]),), label="linear"),
    Spec(np.roots, (np.array([1.0, -3.0, 2.0, 0.0]) + P((4,), -0.01, 0.0),), label="near-0"),
    Spec(np.roots, (np.array([-0.5, 1.5, -1.0, 0.0]),), label="trailing-zero"),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)

# Calls that compiled code cannot make (see the last test): checked here, out of the table
# the compiler sweeps run. A spacing of np.gradient gets -sum(g * result) / h; NumPy takes a None
# given for prepend as a value, where the rule's None means "not given".
ONLY_RULES = [
    Spec(np.gradient, (R((6,)), 0.5), wrt=(0, 1), label="spacing"),
    Spec(np.gradient, (R((4, 5)), 0.5, 2.0), wrt=(0, 1, 2), label="spacing-per-axis"),
    Spec(np.gradient, (R((4, 5)), 0.25), {"edge_order": 2}, wrt=(0, 1), label="one-spacing"),
    Spec(np.gradient, (R((4, 5)), 0.25), {"axis": 0}, wrt=(0, 1), label="spacing-axis"),
    Spec(np.gradient, (R((3, 4)), np.array(0.5)), wrt=(0, 1), label="0d-spacing"),
    Spec(np.gradient, (R((4, 5)), points(4), points(5)), wrt=(0, 1, 2), label="coordinates"),
    Spec(
        np.gradient,
        (R((4, 5)), points(4), points(5)),
        {"edge_order": 2},
        wrt=(0, 1, 2),
        label="coordinates",
    ),  # fmt: skip
    Spec(
        np.gradient,
        (R((3, 4, 5)), points(3), 0.5),
        {"axis": (0, 2), "edge_order": 2},
        wrt=(0, 1, 2),
        label="coordinates-and-spacing",
    ),  # fmt: skip
    Spec(np.diff, (R((5,)), 3, -1, None, R((2,))), call=_diff_append, label="append"),
]
(test_rule_alone_matches_finite_differences, test_rule_alone_keeps_float32) = table_tests(
    ONLY_RULES
)


# ---- exact comparisons: every rule is the transpose of its (linear) function -------------


def jacobian(fn, x):
    """The matrix of the linear map ``fn`` at the shape of ``x`` (one column per entry)."""
    columns = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1.0
        out = fn(e.reshape(x.shape))
        out = np.concatenate([np.ravel(o) for o in out]) if isinstance(out, tuple) else out
        columns.append(np.ravel(out))
    return np.stack(columns, axis=1)


def flat(g):
    return np.concatenate([np.ravel(e) for e in g]) if isinstance(g, (tuple, list)) else np.ravel(g)


def cotangent(y):
    if isinstance(y, tuple):
        return tuple(R(e.shape) for e in y)
    return R(np.shape(y))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"edge_order": 2}, {"axis": 0}, {"axis": 1, "edge_order": 2}, {"axis": (1, 0)}],
)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (3, 3, 4)], ids=str)
def test_gradient_is_the_transpose_of_its_stencil(shape, kwargs):
    spacing = (0.3,) if len(shape) == 1 else ()
    if len(shape) == 1:
        kwargs = {k: v for k, v in kwargs.items() if k != "axis"}
    f = R(shape)

    def fn(e):
        return np.gradient(e, *spacing, **kwargs)

    y = fn(f)
    g = cotangent(y)
    d = lookup(np.gradient).fn(g, y, f, *spacing, **kwargs)[0]  # then axis, edge_order, spacings
    np.testing.assert_allclose(np.ravel(d), jacobian(fn, f).T @ flat(g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("prim", [np.convolve, np.correlate])
@pytest.mark.parametrize("mode", ["full", "same", "valid", 0, 1])
@pytest.mark.parametrize("n, m", [(5, 3), (3, 5), (4, 4), (2, 5), (5, 2), (4, 7), (7, 4), (1, 3)])
def test_convolutions_are_the_transposes_of_their_maps(prim, mode, n, m):
    a, v = R((n,)), R((m,))
    y = prim(a, v, mode)
    g = R(y.shape)
    d_a, d_v, _ = rule_grads(prim, g, a, v, mode)
    np.testing.assert_allclose(d_a, jacobian(lambda e: prim(e, v, mode), a).T @ g, atol=1e-12)
    np.testing.assert_allclose(d_v, jacobian(lambda e: prim(a, e, mode), v).T @ g, atol=1e-12)


def test_cumprod_with_zeros_matches_the_products_written_out():
    a = np.array([[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 1.5, -2.0, 0.5, 4.0], [1.0, 2.0, 3.0, 4.0, 0.0]])
    g = R(a.shape)
    (d, *_) = rule_grads(np.cumprod, g, a, 1)
    expected = np.zeros_like(a)
    for r in range(a.shape[0]):
        for k in range(a.shape[1]):
            for i in range(k, a.shape[1]):
                expected[r, k] += g[r, i] * np.prod(np.delete(a[r, : i + 1], k))
    np.testing.assert_allclose(d, expected, rtol=1e-13, atol=1e-13)


def test_diff_gives_prepend_and_append_their_parts():
    a = np.array([1.0, 4.0, 9.0])
    g = np.array([1.0, 10.0, 100.0, 1000.0])
    d_a, _, _, d_pre, d_app = rule_grads(np.diff, g, a, 1, -1, 0.0, np.array([16.0]))
    # diff([p, a0, a1, a2, q]) = [a0 - p, a1 - a0, a2 - a1, q - a2]
    np.testing.assert_array_equal(d_a, [1.0 - 10.0, 10.0 - 100.0, 100.0 - 1000.0])
    assert float(d_pre) == -1.0
    np.testing.assert_array_equal(d_app, [1000.0])


def test_interp_outside_gives_left_and_right_or_the_end_values():
    pts, vals = np.array([0.0, 1.0, 2.0]), np.array([5.0, 7.0, 4.0])
    x, g = np.array([-1.0, 0.25, 3.0, 2.0]), np.array([1.0, 10.0, 100.0, 1000.0])
    d_x, d_pts, d_vals, d_left, d_right, _ = rule_grads(np.interp, g, x, pts, vals)
    np.testing.assert_allclose(d_x, [0.0, 20.0, 0.0, -3000.0])  # slopes 2 and -3 inside
    np.testing.assert_allclose(d_vals, [1.0 + 7.5, 2.5, 100.0 + 1000.0])
    assert d_left is None and d_right is None
    *_, d_left, d_right, _ = rule_grads(np.interp, g, x, pts, vals, -1.0, 9.0)
    assert (float(d_left), float(d_right)) == (1.0, 100.0)


def test_vander_column_powers():
    x = np.array([2.0, -1.0])
    g = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    # decreasing columns x^2, x, 1: d/dx = 2x * g0 + g1
    (d, *_) = rule_grads(np.vander, g, x, 3)
    np.testing.assert_array_equal(d, [2 * 2.0 + 1.0, 1.0])


def test_gradient_with_integer_coordinates_gives_the_samples_their_gradient():
    f = R((5,))
    d = rule_grads(np.gradient, R((5,)), f, np.array([0, 1, 3, 4, 7]))
    assert d[0].shape == (5,) and np.all(np.isfinite(d[0]))


@pytest.mark.parametrize(
    "kwargs", [{"axis": 0.5}, {"axis": 0, "edge_order": 3}, {"axis": 2}, {"axis": 1}]
)
def test_gradient_refuses_an_axis_it_cannot_have_used(kwargs):
    f = R((3, 4))
    y = np.gradient(f)  # two results: axis=1 would have given one
    with pytest.raises(sd.CompileError, match="np.gradient does not take"):
        lookup(np.gradient).fn(tuple(np.ones_like(e) for e in y), y, f, **kwargs)


# ---- through the compiler ----------------------------------------------------------------

GRID = np.array([0.0, 0.5, 1.5, 2.0, 3.0])
WEIGHTS = np.array([0.5, -1.0, 2.0])


def energy(x):
    return np.trapezoid(np.sin(x) ** 2, dx=0.1)


def path_angles(x, y):
    return np.sum(np.arctan2(np.diff(y), np.diff(x)) ** 2)


def second_differences(x):
    return np.sum(np.diff(x, n=2, prepend=x[:1], append=0.0) ** 2)


def filtered(x, k):
    return np.sum(np.convolve(x, k, mode="same") ** 2) + np.correlate(x, k)[0]


def polynomial(p, x):
    return np.sum(np.polyval(p, x) * np.cumprod(x))


def slopes(z):
    gx, gy = np.gradient(z)
    return np.sum(gx * gy) + np.sum(np.gradient(z, axis=1, edge_order=2) ** 2)


def only_the_first_slope(z):
    gx, gy = np.gradient(z)
    return np.sum(gx**2)


def stacked_slopes(z):
    return np.sum(np.gradient(z)) + np.sum(np.stack(np.gradient(z, edge_order=2)) ** 2)


def lookup_table(x, fp):
    return np.sum(np.interp(x, GRID, fp) ** 2)


def features(x):
    return np.sum(np.vander(x, 3) @ WEIGHTS) + np.trapezoid(x, np.cumsum(x * x))


def spaced_slopes(f):
    return np.sum(np.gradient(f, 0.5) ** 2)


@pytest.mark.parametrize(
    "fn, args",
    [
        (energy, (R((7,)),)),
        (path_angles, (R((6,)), R((6,)))),
        (second_differences, (R((6,)),)),
        (filtered, (R((7,)), R((3,)))),
        (polynomial, (R((3,)), R((4,), 0.5, 1.5))),
        (slopes, (R((4, 5)),)),
        (only_the_first_slope, (R((4, 5)),)),
        (stacked_slopes, (R((4, 5)),)),
        (lookup_table, (queries((6,), GRID), R((5,)))),
        (features, (R((5,), 0.5, 1.5),)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_compiled_functions_match_finite_differences(fn, args):
    wrt = tuple(range(len(args)))
    check_grads(fn, sd.grad(fn, wrt=wrt), args, wrt, rtol=1e-6, atol=1e-8)


def test_a_spacing_passed_by_position_is_a_spacing_in_compiled_code():
    """A rule's keyword-only parameters take no positional argument: ``np.gradient(f,
    0.5)`` is a spacing of 0.5, not ``axis=0.5``."""
    f = R((5,))
    check_grads(spaced_slopes, sd.grad(spaced_slopes, wrt=(0,)), (f,), (0,), rtol=1e-6, atol=1e-8)


# ---- np.gradient with differentiated spacings, in every mode --------------------------


def _gradient_of_coordinates(f, x):
    return np.sum(np.sin(np.gradient(f * x, x)))


def _gradient_of_coordinates_2(f, x):
    return np.sum(np.gradient(f, x, edge_order=2) ** 3)


def _gradient_of_a_grid(f, x, y):
    gx, gy = np.gradient(f, x, y)
    return np.sum(gx * gy) + np.sum(np.sin(gy))


def _gradient_of_a_grid_2(f, x, y):
    gx, gy = np.gradient(f * f, x, y, edge_order=2)
    return np.sum(gx**2) + np.sum(gx * gy)


def _gradient_along_an_axis(f, x):
    return np.sum(np.gradient(f, x, axis=1, edge_order=2) ** 2)


def _gradient_with_a_spacing(f, h):
    return np.sum(np.gradient(f, h, axis=0) ** 2 * np.gradient(f, h, edge_order=2)[1])


def _gradient_per_axis_spacings(f, h, k):
    gx, gy = np.gradient(f, h, k, edge_order=2)
    return np.sum(gx * gy * h) + np.sum(np.cos(gy))


def _gradient_cases():
    f1, f2, f3 = R((6,)), R((4, 5)), R((3, 4, 5))
    return [
        (_gradient_of_coordinates, (f1, points(6))),
        (_gradient_of_coordinates_2, (f1, points(6))),
        (_gradient_of_coordinates_2, (R((3,)), points(3))),
        (_gradient_of_a_grid, (f2, points(4), points(5))),
        (_gradient_of_a_grid_2, (f2, points(4), points(5))),
        (_gradient_along_an_axis, (f3, points(4))),
        (_gradient_with_a_spacing, (f2, np.array(0.7))),
        (_gradient_per_axis_spacings, (f2, np.array(0.7), np.array(1.3))),
    ]


def _numeric_grad(fn, args, i, eps=1e-6):
    d = np.zeros_like(args[i])
    for k in np.ndindex(args[i].shape):
        up, down = [a.copy() for a in args], [a.copy() for a in args]
        up[i][k] += eps
        down[i][k] -= eps
        d[k] = (fn(*up) - fn(*down)) / (2 * eps)
    return d


@pytest.mark.parametrize("fn, args", _gradient_cases(), ids=lambda c: getattr(c, "__name__", ""))
def test_gradient_with_spacings_in_reverse_mode(fn, args):
    grads = sd.grad(fn, wrt=tuple(range(len(args))))(*args)
    for i, d in enumerate(grads):
        np.testing.assert_allclose(d, _numeric_grad(fn, args, i), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, args", _gradient_cases(), ids=lambda c: getattr(c, "__name__", ""))
def test_gradient_with_spacings_in_forward_mode(fn, args):
    rng = np.random.default_rng(3)
    eps = 1e-6
    for active in [*([i] for i in range(len(args))), list(range(len(args)))]:
        t = tuple(rng.standard_normal(a.shape) if i in active else None
                  for i, a in enumerate(args))  # fmt: skip
        _, d = sd.jvp(fn, args, t)
        up = [a + eps * u if u is not None else a for a, u in zip(args, t, strict=True)]
        down = [a - eps * u if u is not None else a for a, u in zip(args, t, strict=True)]
        np.testing.assert_allclose(d, (fn(*up) - fn(*down)) / (2 * eps), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, args", _gradient_cases(), ids=lambda c: getattr(c, "__name__", ""))
def test_gradient_with_spacings_second_order(fn, args):
    """sd.hessian (reverse over forward) in each argument, the spacings' included, against
    central differences of the reverse-mode gradient."""
    for i, a in enumerate(args):
        h = sd.hessian(fn, wrt=i)(*args).reshape(a.size, a.size)
        grad = sd.grad(fn, wrt=i)
        numeric = np.zeros((a.size, a.size))
        for k in range(a.size):
            up, down = [b.copy() for b in args], [b.copy() for b in args]
            up[i].flat[k] += 1e-5
            down[i].flat[k] -= 1e-5
            numeric[:, k] = np.ravel(grad(*up) - grad(*down)) / 2e-5
        scale = max(1.0, np.max(np.abs(numeric)))
        np.testing.assert_allclose(h, numeric, rtol=1e-4, atol=1e-6 * scale)


def test_gradient_with_coordinates_keeps_float32():
    f, x = R((3, 4, 5)).astype(np.float32), points(4).astype(np.float32)
    df, dx = sd.grad(_gradient_along_an_axis, wrt=(0, 1))(f, x)
    assert df.dtype == np.float32 and dx.dtype == np.float32 and dx.shape == (4,)


def _fit(x, y):
    return np.sum(np.polyfit(x, y, 2, full=True)[0])


def _rank_deficient(x, y):
    return np.sum(np.polyfit(x, y, 3))


def test_polyfit_refuses_full_results_and_rank_deficient_fits():
    """Its residuals, rank and singular values have no rule; where the fit is rank
    deficient (NumPy warns), the coefficients are no differentiable function of x."""
    x, y = points(5), R((5,))
    with pytest.raises(sd.CompileError, match="full=True"):
        sd.grad(_fit)(x, y)
    same = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 2.0])
    with pytest.warns(np.exceptions.RankWarning), pytest.raises(sd.CompileError, match="rank"):
        sd.grad(_rank_deficient)(same, R((6,)))


def _fits_of_lists(x):
    return np.sum(np.polyfit([0.0, 1.0, 2.5, 3.0], x, 1) ** 2) + np.sum(
        np.polyfit(x, [0.0, 1.0, 2.5, 3.0], 2) ** 2
    )


def _weighted_by_a_list(x):
    points = [0.0, 1.0, 2.5, 3.0]
    return np.sum(np.polyfit(points, points[::-1], 1, w=[x[0], 1.0, x[1] * x[2], x[3]]) ** 2)


@pytest.mark.parametrize("fn", [_fits_of_lists, _weighted_by_a_list])
def test_polyfit_of_lists_in_both_modes(fn):
    """Points, values or weights given as lists of numbers (the rules read their dtype
    from them, and forward mode indexed the weights as an array)."""
    verify_both_modes(fn, (np.array([0.3, -1.2, 0.8, 2.0]),), np.random.default_rng(0))


def unwrapped_with_a_period(x, period):
    return np.sum(np.unwrap(PHASE * 0.5 + x, period=period) ** 2)


def test_unwrap_in_its_period():
    """The period's gradient: the whole periods added to each entry (kept constant near
    these values), in both modes."""
    x, period = W((6,), -0.1, 0.1), 4.0 + W.scalar(-0.1, 0.1)
    check_grads(unwrapped_with_a_period, sd.grad(unwrapped_with_a_period, wrt=(0, 1)),
                (x, period), (0, 1), rtol=1e-6, atol=1e-8)  # fmt: skip
    _, tangent = sd.jvp(unwrapped_with_a_period, (x, period), (np.zeros(6), 1.0))
    assert tangent == pytest.approx(sd.grad(unwrapped_with_a_period, wrt=1)(x, period))


def _characteristic(a):
    return np.sum(np.poly(a))


def _poly_coefficients(r):
    return np.sum(np.poly(r) * np.arange(1.0, 6.0))


def test_poly_goes_to_second_order_and_refuses_a_square_matrix():
    r = np.array([0.5, -2.0, 0.0, 1.5])
    v = np.arange(4.0)
    g = sd.grad(_poly_coefficients)
    hv = sd.hvp(_poly_coefficients, (r,), (v,))
    for eps in (1e-4, 1e-5):
        np.testing.assert_allclose(hv, (g(r + eps * v) - g(r - eps * v)) / (2 * eps), rtol=1e-6)
    with pytest.raises(sd.CompileError, match="np.poly of a square matrix"):
        sd.grad(_characteristic)(np.eye(2) + 0.1)


def size_of_roots(p):
    return np.sum(np.abs(np.roots(p)))


@pytest.mark.parametrize(
    "p, why",
    [
        (np.poly([1.0, 1.0 + 1e-9, 2.0]), "repeated root"),
        (np.array([1.0, -2.0, 1.0, 0.0, 0.0]), "repeated root"),
        (np.array([1.0, 0.0, 1.0, 2.0]), "complex"),
        (np.poly([1.0, 1.0, 2.0]), "complex"),  # (a double root NumPy splits so)
        (np.array([0.0, 1.0, -3.0, 2.0]), "lead with 0"),
    ],
    ids=["double", "double-zero", "complex", "double-split-complex", "leading-zero"],
)
def test_np_roots_is_refused_at_repeated_and_complex_roots(p, why):
    """No real derivative exists there: a clear CompileError, in reverse and forward mode.
    A leading 0, which NumPy drops, is refused too: as it leaves 0 a root comes in from
    infinity (the sum of |roots| at [0, 1, -3, 2] was given the gradient [-7, -3, -1, 0],
    where central differences grow without bound in the first coefficient)."""
    with pytest.raises(sd.CompileError, match=why):
        sd.grad(size_of_roots)(p)
    with pytest.raises(sd.CompileError, match=why):
        sd.jvp(size_of_roots, (p,), (np.ones_like(p),))


def product_at_two(p, q):
    return np.polyval(np.polymul(p, q), 2.0)


def test_np_polymul_refuses_a_leading_zero_it_drops_in_a_factor_that_moves():
    """NumPy drops a factor's leading zero, so the product lacks the coefficient that moves
    with it: p(2) q(2) at p = [0, 2, 3], q = [1, 2, -1] moves by 2^2 q(2) = 28 in p[0],
    where the product's last coefficients gave 12 (both modes). Refused there; a constant
    factor with leading zeros leaves the other's derivatives as they are."""
    p, q = np.array([0.0, 2.0, 3.0]), np.array([1.0, 2.0, -1.0])
    with pytest.raises(sd.CompileError, match="leading coefficient is 0"):
        sd.grad(product_at_two)(p, q)
    with pytest.raises(sd.CompileError, match="leading coefficient is 0"):
        sd.jvp(product_at_two, (p, q), (np.ones(3), np.zeros(3)))
    z = np.array([0.0, 0.0, 0.8, -1.1])
    for eps in (1e-5, 1e-6):
        check_grads(product_at_two, sd.grad(product_at_two, wrt=1), (z, q), wrt=1, eps=eps)
    v = np.array([0.3, -1.0, 0.6])
    _, tangent = sd.jvp(lambda q: product_at_two(z, q), (q,), (v,))
    assert tangent == pytest.approx(sd.grad(product_at_two, wrt=1)(z, q) @ v, rel=1e-12)


POLY_WEIGHTS = np.array([0.3, -1.1, 0.7, 1.9, -0.4])


def weighted_poly(r):
    return np.sum(np.poly(r) * POLY_WEIGHTS[: r.size + 1])


def test_poly_second_derivatives_through_its_quotients():
    """np.poly's rules call ``rt.poly_quotients``: sd.hessian, the gradient of a gradient,
    the forward mode of a gradient and of a tangent (each rule of the helper) against
    central differences of the gradient, at a zero root too."""
    grad = sd.grad(weighted_poly)
    for r in (W((4,)), np.array([0.0, 0.9, -1.3])):
        numeric = np.zeros((r.size, r.size))
        for h in (1e-5, 1e-4):
            for k in range(r.size):
                e = np.zeros_like(r)
                e[k] = h
                numeric[:, k] = (grad(r + e) - grad(r - e)) / (2 * h)
            np.testing.assert_allclose(sd.hessian(weighted_poly)(r), numeric, rtol=1e-6, atol=1e-7)
            v = np.linspace(-1.0, 1.0, r.size)
            again = sd.grad(lambda x, v=v: np.sum(grad(x) * v))(r)
            np.testing.assert_allclose(again, numeric.T @ v, rtol=1e-6, atol=1e-7)
            _, along = sd.jvp(grad, (r,), (v,))
            np.testing.assert_allclose(along, numeric @ v, rtol=1e-6, atol=1e-7)
            u = np.cos(np.arange(r.size))
            _, twice = sd.jvp(lambda x, v=v: sd.jvp(weighted_poly, (x,), (v,))[1], (r,), (u,))
            np.testing.assert_allclose(twice, u @ numeric @ v, rtol=1e-6, atol=1e-7)


def _divided(u, v):
    q, r = np.polydiv(u, v)
    return np.sum(np.sin(q) * POLY_WEIGHTS[: q.size]) + np.sum(np.cos(r) * POLY_WEIGHTS[: r.size])


@pytest.mark.parametrize("sizes", [(5, 2), (6, 3), (3, 5)], ids=["5-2", "6-3", "3-5"])
def test_polydiv_in_both_modes_and_second_derivatives(sizes):
    """The quotient and the remainder (np.polydiv was refused), in both modes, and
    sd.hessian against central differences of the gradient."""
    u, v = P(sizes[:1]), P(sizes[1:], 0.5, 2.0)
    verify_both_modes(_divided, (u, v), np.random.default_rng(0))
    grad = sd.grad(_divided, wrt=1)
    numeric = np.zeros((v.size, v.size))
    for k in range(v.size):
        e = np.zeros_like(v)
        e[k] = 1e-5
        numeric[:, k] = (grad(u, v + e) - grad(u, v - e)) / 2e-5
    np.testing.assert_allclose(sd.hessian(_divided, wrt=1)(u, v), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "u, v, match",
    [
        (np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]), "leading coefficient is 0"),
        (np.array([1.0, 2.0, 2.0, 1.0]), np.array([1.0, 1.0, 1.0]), "remainder"),
    ],
    ids=["divisor-leading-zero", "remainder-cut-short"],
)
def test_polydiv_is_refused_where_it_has_no_derivative(u, v, match):
    """By a divisor leading with 0, and where NumPy drops a remainder coefficient near 0
    ((x + 1)(x^2 + x + 1): the remainder's x coefficient, 0, moves with u)."""
    with pytest.raises(sd.CompileError, match=match):
        sd.grad(_divided, wrt=(0, 1))(u, v)
    with pytest.raises(sd.CompileError, match=match):
        sd.jvp(_divided, (u, v), (np.ones_like(u), np.ones_like(v)))
