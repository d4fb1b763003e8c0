"""Rules of selecting entries: take, take_along_axis, select, choose, partition, the
NaN-skipping reductions, and the ``initial=`` and ``where=`` of max, min, sum and mean."""

import functools
import warnings

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.backend import array_module
from srcdiff.testing import check_grads, check_vjp
from tests.soundness.verify import verify_both_modes

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(12)
X34Q = R((3, 4))  # (distinct entries: a quantile's helpers are smooth away from ties)
OPTIONS = (False, None, None)  # overwrite_input, weights, interpolation: their defaults


def with_nans(shape, where):
    """Uniform entries with NaN at the flat positions ``where``."""
    x = R(shape)
    x.flat[list(where)] = np.nan
    return x


def quiet(f):
    """``f`` without NumPy's warnings about empty slices."""

    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return f(*args, **kwargs)

    call.__name__ = f.__name__
    return call


X34 = R((3, 4))
CONDS = [X34 > 0.5, X34 > 0.0]  # they overlap: the first one true wins
LABELS = np.array([[0, 2, 1, 2], [1, 1, 0, 2], [2, 0, 0, 1]])
NANS = with_nans((3, 4), [1, 6, 7])
MASK = [True, False, True, True]  # where=, broadcast along the last axis
ROWS = [[True], [False], [True]]


def as_tuple(f):
    """``f`` of the array module of its argument returning its named tuple as a plain
    tuple, for the checker, which builds cotangents of the result's type (``__wrapped__``:
    ``f``, for the sweeps)."""

    @functools.wraps(f)
    def call(x, *args, **kwargs):
        return tuple(getattr(array_module(x), f.__name__)(x, *args, **kwargs))

    return call


SPECS = [
    # ---- take ----------------------------------------------------------------------------------
    Spec(np.take, (R((5,)), [0, 3, 3]), wrt=(0,), label="list-duplicates"),
    Spec(np.take, (R((3, 4)), np.array([2, 0, 2])), {"axis": 1}, wrt=(0,)),
    Spec(np.take, (R((3, 4)), np.array([1, 2])), {"axis": 0}, wrt=(0,)),
    Spec(np.take, (R((3, 4)), np.array([[0, 1], [2, 2]])), {"axis": 0}, wrt=(0,), label="2d"),
    Spec(np.take, (R((3, 4)), 5), wrt=(0,), label="flat-int"),
    Spec(
        "ndarray.take",
        (R((3, 4)), [1, 1]),
        {"axis": 0},
        call=lambda a, i, **k: a.take(i, **k),
        wrt=(0,),
    ),
    Spec("ndarray.take", (R((5,)), [0, 3, 3]), call=lambda a, i: a.take(i), wrt=(0,), label="flat"),
    Spec(np.take, (R((3, 4)), np.array([[11, 0], [5, 5]])), wrt=(0,), label="flat-2d"),
    Spec(np.take, (R((2, 3, 4)), np.array([-1, 0, -1])), {"axis": -1}, wrt=(0,)),
    Spec(np.take, (R((2, 3)), 1), {"axis": 1}, wrt=(0,), label="int-axis"),
    Spec(np.take, (R((4,)), [5, -6, 1]), {"mode": "wrap"}, wrt=(0,), label="wrap"),
    Spec(np.take, (R((2, 4)), [7, -3, 2]), {"axis": 1, "mode": "clip"}, wrt=(0,), label="clip"),
    Spec(np.take, (R((3, 4)), np.array([0, 0]), 1), wrt=(0,), label="positional-axis"),
    # ---- take_along_axis -----------------------------------------------------------------------
    Spec(
        np.take_along_axis,
        (R((3, 4)), np.array([[0, 3], [1, 1], [2, 0]]), 1),
        wrt=(0,),
        label="positional-axis",
    ),
    Spec(np.take_along_axis, (R((3, 4)), LABELS[:2]), {"axis": 0}, wrt=(0,)),
    Spec(np.take_along_axis, (R((3, 4)), LABELS - 3), {"axis": -1}, wrt=(0,), label="negative"),
    Spec(
        np.take_along_axis,
        (R((3, 4)), np.array([[1, 3]])),
        {"axis": 1},
        wrt=(0,),
        label="broadcast-indices",
    ),
    Spec(
        np.take_along_axis,
        (R((1, 4)), np.array([[1, 3], [0, 0], [2, 2]])),
        {"axis": 1},
        wrt=(0,),
        label="broadcast-array",
    ),
    Spec(np.take_along_axis, (R((2, 3, 2)), np.zeros((2, 1, 2), int)), {"axis": 1}, wrt=(0,)),
    Spec(
        np.take_along_axis, (R((2, 3)), np.array([5, 0, 0])), {"axis": None}, wrt=(0,), label="flat"
    ),
    Spec(np.take_along_axis, (R((3,)), np.array([2, 2, 0])), wrt=(0,), label="default-axis"),
    # ---- select and choose ---------------------------------------------------------------------
    Spec(np.select, (CONDS, [R((3, 4)), R((3, 4))], R((3, 4)))),
    Spec(np.select, (CONDS, [R((3, 4)), R((4,))], R.scalar()), label="broadcast"),
    Spec(np.select, (CONDS, [R((3, 4)), R((3, 1))]), label="default-zero"),
    Spec(np.select, ([X34 > 0.2], [R((3, 4))]), {"default": 0.25}),
    Spec(np.select, ([X34 > 0.2], [R((3, 4))], R((1, 4))), label="broadcast-default"),
    Spec(np.select, (CONDS, R((2, 3, 4)), R(())), label="choices-array"),
    Spec(np.choose, (LABELS, [R((3, 4)), R((3, 4)), R((3, 4))])),
    Spec(np.choose, (LABELS, [R((4,)), R((3, 4)), R((3, 1))]), label="broadcast"),
    Spec(np.choose, (LABELS, R((3, 3, 4))), label="choices-array"),
    Spec(np.choose, (LABELS + 1, [R((3, 4)), R((3, 4))]), {"mode": "wrap"}),
    Spec(np.choose, (LABELS - 1, [R((3, 4)), R((3, 4))]), {"mode": "clip"}),
    Spec(np.choose, (np.array([1, 0, 1]), [R.scalar(), R((3,))]), label="number-choice"),
    # ---- partition -----------------------------------------------------------------------------
    Spec(np.partition, (R((6,)), 2), wrt=(0,)),
    Spec(np.partition, (R((3, 5)), 1), {"axis": 0}, wrt=(0,)),
    Spec(np.partition, (R((3, 5)), (1, 3)), {"axis": -1}, wrt=(0,)),
    Spec(np.partition, (R((3, 4)), 4), {"axis": None}, wrt=(0,)),
    Spec(np.partition, (R((2, 5)), -1, 1), wrt=(0,), label="positional-axis"),
    Spec(np.partition, (R((2, 3, 4)), 2), {"axis": 1, "kind": "introselect"}, wrt=(0,)),
    # ---- NaN-skipping reductions ---------------------------------------------------------------
    *[
        Spec(f, (NANS,), kwargs)
        for f in (np.nanmax, np.nanmin, np.nansum, np.nanmean)
        for kwargs in [
            {},
            {"axis": 0},
            {"axis": -1, "keepdims": True},
            {"axis": (0, 1)},
            {"axis": 1},
        ]
    ],
    *[
        Spec(f, (with_nans((2, 3, 4), [0, 5, 23]),), {"axis": (0, 2)})
        for f in (np.nanmax, np.nanmin, np.nansum, np.nanmean)
    ],  # fmt: skip
    Spec(np.nanmax, (NANS, 1, None, False, 0.5), wrt=(0, 4), label="initial"),
    Spec(np.nanmin, (NANS, None, None, True, 0.0), wrt=(0, 4), label="initial"),
    Spec(np.nanmax, (NANS, 1, None, False, -5.0, ROWS), wrt=(0,), label="where"),
    Spec(np.nansum, (NANS, 0, None, None, False, 1.5), wrt=(0, 5), label="initial"),
    Spec(np.nansum, (NANS,), {"axis": 1, "where": MASK}, label="where"),
    Spec(np.nanmean, (NANS, 0, None, None, True), wrt=(0,), label="positional-keepdims"),
    Spec(np.nanmean, (NANS,), {"axis": 1, "where": MASK}, label="where"),
    Spec(np.nanmean, (R((2, 3)),), {"axis": 0}, label="no-nans"),
    # ---- initial= and where= of max, min, sum and mean ----------------------------------------
    Spec(np.max, (X34, 1, None, False, 0.5), wrt=(0, 4), label="initial"),
    Spec(np.max, (X34, None, None, True, 5.0), wrt=(0, 4), label="initial-wins"),
    Spec(np.min, (X34, 0, None, False, -0.5), wrt=(0, 4), label="initial"),
    Spec(np.max, (X34, 1, None, False, -5.0, MASK), wrt=(0, 4), label="where"),
    Spec(np.min, (X34, 0, None, True, 5.0, ROWS), wrt=(0, 4), label="where"),
    Spec(np.sum, (X34, 1, None, None, False, 2.5), wrt=(0, 5), label="initial"),
    Spec(np.maximum.reduce, (X34, 1, None, None, False, 0.5), wrt=(0, 5), label="initial"),
    Spec(
        np.minimum.reduce, (X34, None, None, None, True, 5.0, ROWS), wrt=(0, 5), label="where"
    ),  # fmt: skip
    Spec(np.sum, (X34, None, None, None, False, 0.0, MASK), wrt=(0,), label="where"),
    Spec(np.sum, (X34,), {"axis": 0, "keepdims": True, "where": ROWS}, label="where-kw"),
    Spec(np.mean, (X34,), {"axis": 1, "where": MASK}, label="where"),
    Spec(np.mean, (X34,), {"axis": 0, "keepdims": True, "where": ROWS}, label="where"),
    Spec(np.mean, (X34,), {"where": MASK}, label="where-all"),
    # ---- quantiles: q kept off the points where it meets an entry (a kink in q) -----------
    Spec(np.quantile, (R((3, 4)), 0.3), label="scalar-q"),
    Spec(np.quantile, (R((3, 4)), np.array([0.2, 0.7]), 1), label="q-array-axis"),
    Spec(
        np.quantile,
        (R((2, 3, 4)), 0.4, (0, 2), None, False, "linear", True),
        wrt=(0, 1),
        label="axes-keepdims",
    ),  # fmt: skip
    Spec(
        np.quantile,
        (R((3, 4)), np.array([0.35, 0.8])),
        {"axis": 0, "keepdims": True},
        label="keywords",
    ),  # fmt: skip
    *[
        Spec(
            np.quantile, (R((3, 4)), np.array([0.3, 0.5]), 1), {"method": m}, wrt=(0,), label=m
        )  # fmt: skip
        for m in ("lower", "higher", "midpoint", "nearest")
    ],
    Spec(np.percentile, (R((3, 4)), np.array([20.0, 70.0]), 0)),
    Spec(np.percentile, (R((5,)), 35.0), label="vector"),
    Spec(np.median, (R((3, 4)), 1), wrt=(0,)),
    Spec(np.median, (R((4,)),), label="even"),
    Spec(np.nanmedian, (R((3, 4)), 1), wrt=(0,)),
    Spec(np.nanmedian, (R((2, 3, 5)), (1, 2), None, False, True), wrt=(0,), label="axes-keepdims"),
    Spec(np.nanmedian, (np.where(np.arange(7) % 3 == 1, np.nan, R((7,))),), label="nan"),
    Spec(
        np.nanmedian,
        (np.where(np.arange(12).reshape(3, 4) % 5 == 0, np.nan, R((3, 4))),),
        {"keepdims": True},
        label="nan-keepdims",
    ),  # fmt: skip
    Spec(np.nanmedian, (R((6,)),), label="even"),
    Spec(np.unique, (R((2, 3)),)),
    Spec(np.unique, (R((5,)),), {"return_counts": True, "return_index": True}),
    Spec(np.unique, (R((4,)), False, True)),
    Spec(np.compress, ([True, False, True], R((3,)))),
    Spec(np.compress, (np.array([False, True]), R((3, 4))), label="short-condition-flat"),
    Spec(np.compress, (np.array([True, False, True, True]), R((3, 4)), 1), label="axis-1"),
    Spec(np.compress, ([1, 0, 1], R((3, 2))), {"axis": 0}, label="integer-condition-rows"),
    Spec(np.extract, (R((3, 4)) > 0, R((3, 4)))),
    Spec(np.extract, (np.array([1, 0, 0, 2, 0, 1]), R((2, 3))), label="integer-condition"),
    Spec(np.union1d, (R((3,)), R((2, 2)))),
    Spec(np.union1d, (R((4,)), R.scalar()), label="number"),
    Spec(np.setdiff1d, (R((5,)), R((3,))), wrt=(0,)),
    Spec(np.setdiff1d, (R((2, 3)), R((2,))), {"assume_unique": True}, wrt=(0,)),
    Spec(np.setxor1d, (R((3,)), R((2, 2)))),
    Spec(np.setxor1d, (R((4,)), R((3,)), True), label="assume-unique"),
    Spec(np.intersect1d, (R((4,)), R((2, 2)))),  # (no value shared: empty, zero gradients)
    Spec(np.intersect1d, (R((3,)), R((3,))), {"return_indices": True}, label="indices"),
    Spec(np.unique, (R((4, 3)),), {"axis": 0}, label="rows"),
    Spec(np.unique_values, (R((2, 3)),)),
    Spec(np.unique_counts, (R((5,)),), call=as_tuple(np.unique_counts)),
    Spec(np.unique_inverse, (R((2, 2)),), call=as_tuple(np.unique_inverse)),
    Spec(np.unique_all, (R((4,)),), call=as_tuple(np.unique_all)),
    Spec(np.unique, (R((3, 4)),), {"axis": -1, "return_inverse": True}, label="columns"),
    Spec(np.unique, (R((2, 3, 2)), True, False, True, 1), label="axis-1-index-counts"),
    Spec(np.median, (R((5,)),), label="odd"),
    Spec(np.median, (R((2, 3, 5)), (1, 2), None, False, True), wrt=(0,), label="axes-keepdims"),
    # ---- the helpers of the quantiles' rules, differentiated again (second derivatives)
    *[
        Spec(
            rt.quantile_tangent,
            (*uv, X34Q, q, axis, keepdims, method, OPTIONS, percent),
            wrt=wrt,
            label=label,
        )  # fmt: skip
        for uv, q, axis, keepdims, method, percent, wrt, label in [
            ((R((3, 4)), 0.3), 0.35, None, False, "linear", False, (0, 1, 2, 3), "flat"),
            (
                (R((3, 4)), R((2,))),
                np.array([0.2, 0.7]),
                1,
                False,
                "linear",
                False,
                (0, 1, 2, 3),
                "q-array-axis",
            ),  # fmt: skip
            (
                (R((3, 4)), None),
                np.array([35.0, 80.0]),
                0,
                True,
                "linear",
                True,
                (0, 2, 3),
                "percent-keepdims",
            ),  # fmt: skip
            ((None, R.scalar()), 0.45, (0, 1), True, "linear", False, (1, 2, 3), "slope-alone"),
            *[
                ((R((3, 4)), None), np.array([0.3, 0.6]), 1, False, m, False, (0, 2, 3), m)
                for m in ("lower", "higher", "midpoint", "nearest")
            ],  # fmt: skip
        ]
    ],
    *[
        Spec(
            rt.quantile_grads,
            (g, X34Q, q, axis, keepdims, method, OPTIONS, percent),
            wrt=(0, 1, 2),
            label=label,
        )  # fmt: skip
        for g, q, axis, keepdims, method, percent, label in [
            (R(()), 0.35, None, False, "linear", False, "flat"),
            (R((2, 3)), np.array([0.2, 0.7]), 1, False, "linear", False, "q-array-axis"),
            (R(()), np.array([35.0, 80.0]), 0, True, "linear", True, "broadcast-g-percent"),
            (R((2, 1, 4)), np.array([0.3, 0.9]), 0, True, "linear", False, "keepdims"),
            *[
                (R((2, 3)), np.array([0.3, 0.6]), 1, False, m, False, m)
                for m in ("lower", "higher", "midpoint", "nearest")
            ],  # fmt: skip
        ]
    ],
    *[
        Spec(
            rt.quantile_cross,
            (t, dq, X34Q, q, axis, keepdims, "linear", OPTIONS, percent),
            wrt=wrt,
            label=label,
        )  # fmt: skip
        for t, dq, q, axis, keepdims, percent, wrt, label in [
            (R((3, 4)), 0.7, 0.35, None, False, False, (0, 1, 2, 3), "flat"),
            (R((3, 4)), R((2,)), np.array([0.2, 0.7]), 1, False, False, (0, 1, 2, 3), "axis"),
            (R((3, 4)), R((2,)), np.array([35.0, 80.0]), 0, True, True, (0, 1), "percent"),
            (None, R.scalar(), 0.45, 1, True, False, (1,), "no-t"),
        ]
    ],
    *[
        Spec(
            rt.quantile_cross_grads,
            (g, t, dq, X34Q, q, axis, keepdims, "linear", OPTIONS, percent),
            wrt=wrt,
            label=label,
        )  # fmt: skip
        for g, t, dq, q, axis, keepdims, percent, wrt, label in [
            (R(()), R((3, 4)), 0.7, 0.35, None, False, False, (0, 1, 2, 3, 4), "flat"),
            (
                R((2, 3)),
                R((3, 4)),
                R((2,)),
                np.array([0.2, 0.7]),
                1,
                False,
                False,
                (0, 1, 2, 3, 4),
                "axis",
            ),  # fmt: skip
            (
                R(()),
                R((3, 4)),
                R((2,)),
                np.array([35.0, 80.0]),
                0,
                True,
                True,
                (0, 1, 2),
                "broadcast-g-percent",
            ),  # fmt: skip
            (R((3,)), None, R.scalar(), 0.45, 1, False, False, (0, 2), "no-t"),
        ]
    ],
]

# ---- quantiles skipping NaN: lanes keep 2 to 4 entries (q off the kinks of each count)
N = Sampler(37)
HOLES = np.array([[0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0]], dtype=bool)
X34N = np.where(HOLES, np.nan, N((3, 4)))
OPTIONS_NAN = (False, None, None, True)  # the defaults, skipping NaN
SPECS += [
    Spec(np.nanquantile, (X34N, 0.3), label="flat"),
    Spec(np.nanquantile, (X34N, np.array([0.2, 0.7]), 1), label="q-array-axis"),
    Spec(
        np.nanquantile, (X34N.T, 0.35, 0, None, False, "linear", True), wrt=(0, 1), label="keepdims"
    ),  # fmt: skip
    Spec(np.nanquantile, (N((3, 4)), 0.3, 1), label="no-nan"),
    *[
        Spec(np.nanquantile, (X34N, np.array([0.3, 0.6]), 1), {"method": m}, wrt=(0,), label=m)
        for m in ("lower", "higher", "midpoint", "nearest")
    ],
    Spec(np.nanpercentile, (X34N, np.array([20.0, 70.0]), 1)),
    Spec(np.nanpercentile, (X34N, 35.0), {"axis": (0, 1), "keepdims": True}, label="axes"),
    Spec(np.nanmedian, (X34N, 1), wrt=(0,), label="nan-axis"),
    Spec(np.nanmedian, (X34N.T,), {"axis": 0, "keepdims": True}, label="nan-axis-keepdims"),
    Spec(
        rt.quantile_tangent,
        (N((3, 4)), N((2,)), X34N, np.array([0.2, 0.7]), 1, False, "linear", OPTIONS_NAN),
        wrt=(0, 1, 2, 3),
        label="nan-axis",
    ),  # fmt: skip
    Spec(
        rt.quantile_grads,
        (N((2, 3)), X34N, np.array([0.2, 0.7]), 1, False, "linear", OPTIONS_NAN),
        wrt=(0, 1, 2),
        label="nan-axis",
    ),  # fmt: skip
    Spec(
        rt.quantile_cross,
        (N((3, 4)), N((2,)), X34N, np.array([0.2, 0.7]), 1, False, "linear", OPTIONS_NAN),
        wrt=(0, 1, 2, 3),
        label="nan-axis",
    ),  # fmt: skip
    Spec(
        rt.quantile_cross_grads,
        (
            N((2, 3)),
            N((3, 4)),
            N((2,)),
            X34N,
            np.array([0.2, 0.7]),
            1,
            False,
            "linear",
            OPTIONS_NAN,
        ),
        wrt=(0, 1, 2, 3, 4),
        label="nan-axis",
    ),  # fmt: skip
]

B = Sampler(36)
SPECS += [
    Spec(np.bincount, (np.array([0, 1, 1, 3, 0, 5]), B((6,)))),
    Spec(np.bincount, (np.array([2, 2, 0]), B((3,))), {"minlength": 6}),
]

# np.histogram: the counts are constant almost everywhere; edges spaced over the data's
# extremes, over ``range`` or given as ``bins`` move, and so do the weights' sums and,
# with ``density``, the widths (data well inside the edges: no entry near a boundary)
H = Sampler(37)
DATA = np.array([0.05, 0.31, 0.47, 0.52, 0.88, 0.13, 0.71])
SPECS += [
    Spec(np.histogram, (H((7,)),), {"bins": 3}),  # edges over the extremes
    Spec(np.histogram_bin_edges, (H((7,)),), {"bins": 3}),
    Spec(np.histogram_bin_edges, (H((3, 4)), 5)),
    Spec(np.histogram_bin_edges, (DATA, 4, (-1.5, 2.5)), label="range"),
    Spec(np.histogram_bin_edges, (DATA, np.sort(H((5,)))), label="edges"),
    Spec(np.histogram_bin_edges, (DATA, 3, None, H((7,), 0.5, 1.5)), wrt=(0,), label="weights"),
    Spec(np.histogram, (H((3, 4)),), {"bins": 4, "density": True}),
    Spec(np.histogram, (DATA, 3, None, False, H((7,), 0.5, 1.5)), wrt=(0, 4), label="weights"),
    Spec(np.histogram, (H((7,)), 4, None, True, H((7,), 0.5, 1.5)), label="density-weights"),
    Spec(
        np.histogram, (DATA, 3, (-0.2, 1.1), True, H((7,), 0.5, 1.5)), wrt=(2, 4), label="range"
    ),  # fmt: skip
    Spec(
        np.histogram, (DATA, np.array([0.0, 0.2, 0.6, 1.0]), None, True), wrt=(1,), label="edges"
    ),  # fmt: skip
    Spec(
        np.histogram,
        (DATA, np.array([0.0, 0.2, 0.6, 1.0])),
        {"weights": DATA * 2.0},
        wrt=(1,),
        label="edges-weights-by-keyword",
    ),  # fmt: skip
    Spec(
        np.histogram,
        (np.array([1.5, 3.0, 0.2, 1.5]), 2, (1.0, 2.0), False, H((4,))),
        wrt=(4,),
        label="outside-range",
    ),  # fmt: skip
]

# np.histogram2d: np.histogram's rule on each axis (samples well inside the edges); the
# weights' sums and, with ``density``, the bins' areas move
H2 = Sampler(38)
DATA_Y = np.array([1.35, -0.42, 0.9, 0.08, -0.77, 1.62, 0.51])
SPECS += [
    Spec(np.histogram2d, (H2((7,)), H2((7,))), {"bins": 3}),  # edges over the extremes
    Spec(np.histogram2d, (H2((7,)), H2((7,)), [3, 5], None, True), label="density"),
    Spec(
        np.histogram2d,
        (DATA, DATA_Y, 3, None, False, H2((7,), 0.5, 1.5)),
        wrt=(0, 1, 5),
        label="weights",
    ),  # fmt: skip
    Spec(
        np.histogram2d,
        (DATA, DATA_Y, [3, 2], None, True, H2((7,), 0.5, 1.5)),
        label="density-weights",
    ),  # fmt: skip
    Spec(
        np.histogram2d,
        (DATA, DATA_Y, 3, np.array([[-0.1, 1.1], [-1.0, 2.0]]), True),
        wrt=(3,),
        label="range",
    ),  # fmt: skip
    Spec(
        np.histogram2d,
        (DATA, DATA_Y, np.array([-1.0, 0.2, 0.6, 1.0, 1.8]), None, True),
        wrt=(2,),
        label="edges",
    ),  # fmt: skip
    Spec(
        np.histogram2d,
        (DATA, DATA_Y, [np.array([0.0, 0.4, 1.0]), np.array([-1.0, 0.0, 2.0])], None, True),
        wrt=(2,),
        label="edges-each",
    ),  # fmt: skip
]

P = Sampler(42)
NANS = np.array([[0.7, np.nan, -1.2, 0.8], [1.1, 0.4, np.nan, -0.6], [0.0, -0.9, 1.5, 0.7]])
SPECS += [
    Spec(np.nanprod, (P((3, 4), 0.5, 1.5),)),
    Spec(np.nanprod, (NANS,), {"axis": 1}),
    Spec(np.nanprod, (NANS,), {"axis": 0, "keepdims": True}),
    Spec(np.nanprod, (NANS, (0, 1))),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_take_adds_up_repeated_positions():
    d, *_ = rule_grads(np.take, np.array([1.0, 2.0, 4.0]), np.zeros((2, 2)), [3, 0, 3])
    np.testing.assert_array_equal(d, [[2.0, 0.0], [0.0, 5.0]])
    d, *_ = rule_grads(np.take, np.ones(3), np.zeros(3), [4, -4, 2], mode="wrap")
    np.testing.assert_array_equal(d, [0.0, 1.0, 2.0])
    d, *_ = rule_grads(np.take, np.ones(3), np.zeros(3), [4, -4, 1], mode="clip")
    np.testing.assert_array_equal(d, [1.0, 1.0, 1.0])


def test_take_along_axis_sends_each_entry_where_it_was_taken():
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    d, *_ = rule_grads(np.take_along_axis, g, np.zeros((2, 3)), np.array([[2, 2], [0, 1]]), 1)
    np.testing.assert_array_equal(d, [[0.0, 0.0, 3.0], [3.0, 4.0, 0.0]])


def test_select_gives_the_first_true_condition_the_gradient():
    conds = [np.array([True, True, False]), np.array([True, False, False])]
    g = np.array([1.0, 2.0, 3.0])
    _, (d0, d1), d_default = rule_grads(np.select, g, conds, [np.zeros(3), np.zeros(3)], 0.0)
    np.testing.assert_array_equal(d0, [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(d1, [0.0, 0.0, 0.0])
    assert float(d_default) == 3.0


def test_choose_sends_each_entry_to_its_choice():
    _, (d0, d1), *_ = rule_grads(
        np.choose, np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]), [np.zeros(3), 0.0]
    )
    np.testing.assert_array_equal(d0, [0.0, 2.0, 0.0])
    assert float(d1) == 4.0


def test_partition_sends_each_value_back_where_it_came_from():
    x = np.array([3.0, 1.0, 2.0, 0.0])
    ans = np.partition(x, 1)
    g = np.arange(4.0) + 1.0
    d, *_ = rule_grads(np.partition, g, x, 1)
    for k, v in enumerate(ans):  # each value's gradient went back to that value
        assert d[list(x).index(v)] == g[k]


def test_nanmax_skips_nans_and_shares_ties():
    x = np.array([[1.0, np.nan, 1.0], [np.nan, np.nan, np.nan], [0.0, 2.0, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice
        d, *_ = rule_grads(np.nanmax, np.ones(3), x, axis=1)
    # ties share evenly; an all-NaN slice (its max is NaN) gives none, as in JAX
    np.testing.assert_array_equal(d, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_nansum_and_nanmean_give_nans_nothing():
    x = np.array([[1.0, np.nan], [np.nan, np.nan]])
    d, *_ = rule_grads(np.nansum, np.array([1.0, 2.0]), x, axis=1)
    np.testing.assert_array_equal(d, [[1.0, 0.0], [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of an empty slice
        d, *_ = rule_grads(np.nanmean, np.array([1.0, 2.0]), x, axis=1)
    np.testing.assert_array_equal(d, [[1.0, 0.0], [0.0, 0.0]])
    d, *_ = rule_grads(np.nanmean, 1.0, np.array([2.0, np.nan, 4.0, 5.0]))
    np.testing.assert_array_equal(d, [1 / 3, 0.0, 1 / 3, 1 / 3])


def test_a_tie_with_initial_gives_it_half_as_jax_does():
    d_a, *_, d_initial, _ = rule_grads(
        np.max, 1.0, np.array([1.0, 0.0, 1.0]), None, None, False, 1.0
    )
    np.testing.assert_array_equal(d_a, [0.25, 0.0, 0.25])
    assert float(d_initial) == 0.5
    d_a, *_, d_initial, _ = rule_grads(
        np.nanmin, 2.0, np.array([np.nan, 3.0]), None, None, False, 1.0
    )
    np.testing.assert_array_equal(d_a, [0.0, 0.0])
    assert float(d_initial) == 2.0


def test_where_leaves_entries_out():
    x = np.array([[1.0, 5.0], [3.0, 2.0]])
    where = [[True, False], [True, True]]
    d, *_ = rule_grads(np.max, np.ones(2), x, axis=1, initial=-10.0, where=where)
    np.testing.assert_array_equal(d, [[1.0, 0.0], [1.0, 0.0]])
    d, *_ = rule_grads(np.mean, np.ones(2), x, axis=0, where=[[True, False], [True, True]])
    np.testing.assert_array_equal(d, [[0.5, 0.0], [0.5, 1.0]])
    d, *_ = rule_grads(np.sum, 1.0, x, where=[[True, False], [False, True]])
    np.testing.assert_array_equal(d, [[1.0, 0.0], [0.0, 1.0]])


def test_the_checks_notice_a_wrong_rule():
    """A NaN-skipping mean that counted the NaN entries fails the table's check."""

    def counts_nans(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, where=None):
        return np.broadcast_to(g / a.size, a.shape), None, None, None, None, None

    with pytest.raises(AssertionError, match="wrong gradient"):
        check_vjp(counts_nans, np.nanmean, (with_nans((5,), [2]),))


# ---- compiled end to end: sd.grad against finite differences --------------------------------


def cross_entropy(logits, labels):
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.take_along_axis(logp, labels[:, None], axis=1))


def embedding(table, ids, w):
    rows = np.take(table, ids, axis=0)
    return np.sum(np.tanh(rows @ w)) + np.sum(np.take(table, [0, 5, 5]) ** 2)


def piecewise(x, a, b):
    y = np.select([x < -0.5, x < 0.5], [a * x, x * x], default=b * x)
    z = np.choose(np.array([[0, 1, 2]]), [x, a * x, b], mode="clip")
    return np.sum(y**2) + np.sum(np.sin(z))


def robust_stats(x, y):
    top = np.partition(y, -2, axis=1)[:, -2:]
    return np.sum(top**2) + np.nanmean(x) + np.nansum(x) ** 2 + np.sum(np.nanmax(x, axis=0) * y[0])


def masked_reductions(x, bound):
    m = x > 0.0
    rows = np.sum(x**2, axis=1, where=m)
    columns = np.mean(np.exp(x), axis=0, where=[[True], [False], [True]])
    hi = np.max(x, axis=0, initial=bound, where=m)
    lo = np.min(np.sin(x), initial=bound)
    return (
        np.sum(rows)
        + np.sum(columns**2)
        + np.sum(hi * hi)
        + lo
        + np.sum(x, initial=bound)
        + np.nanmin(x, initial=bound)
    )


END_TO_END = [
    (cross_entropy, (R((4, 3)), np.array([0, 2, 1, 2])), 0),
    (embedding, (R((6, 3)), np.array([1, 4, 1]), R((3,))), (0, 2)),
    (piecewise, (R((3, 3)), R((3, 3)), 0.7), (0, 1, 2)),
    (robust_stats, (with_nans((3, 4), [2, 9]), R((3, 4))), (0, 1)),
    (masked_reductions, (R((3, 4)), 0.25), (0, 1)),
]


@pytest.mark.parametrize(
    "fn, args, wrt", END_TO_END, ids=[entry[0].__name__ for entry in END_TO_END]
)
def test_compiled_gradient_matches_finite_differences(fn, args, wrt):
    check_grads(fn, sd.grad(fn, wrt=wrt), args, wrt, rtol=1e-5, atol=1e-7)


# ---- forward mode of initial= ----------------------------------------------------------------


def extremes_with_a_bound(x, bound):
    m = x > -0.5
    return (
        np.sum(np.max(x, axis=0, initial=bound) ** 2)
        + np.min(np.sin(x), initial=-bound) ** 2
        + np.sum(x.min(axis=1, initial=bound, where=m) * bound)
        + np.sum(np.maximum.reduce(x, axis=1, initial=bound * 2.0) ** 3)
        + np.sum(np.minimum.reduce(x, axis=None, initial=bound, where=m))
        + np.nanmax(x * bound, initial=bound)
    )


@pytest.mark.parametrize("bound", [0.25, 1.5, -3.0])  # (initial loses, wins some, wins all)
def test_forward_mode_and_second_derivatives_through_a_differentiated_initial(bound):
    """jvp and hessian refused a differentiated initial= of max and min ("no forward rule
    for the argument initial"), and ufunc.reduce took none in either mode."""
    x, v, dv = R((3, 4)), R((3, 4)), 0.7
    fn = extremes_with_a_bound
    _, tangent = sd.jvp(fn, (x, bound), (v, dv))
    g_x, g_b = sd.grad(fn, wrt=(0, 1))(x, bound)
    for eps in (1e-6, 1e-4):
        fd = (fn(x + eps * v, bound + eps * dv) - fn(x - eps * v, bound - eps * dv)) / (2 * eps)
        assert tangent == pytest.approx(fd, rel=1e-6, abs=1e-8)
        assert np.sum(g_x * v) + g_b * dv == pytest.approx(fd, rel=1e-6, abs=1e-8)
    hess = sd.hessian(fn, wrt=1)(x, bound)
    for eps in (1e-6, 1e-4):
        fd = (sd.grad(fn, wrt=1)(x, bound + eps) - sd.grad(fn, wrt=1)(x, bound - eps)) / (2 * eps)
        assert hess == pytest.approx(fd, rel=1e-6, abs=1e-8)


# ---- second derivatives of quantiles --------------------------------------------------------

QX = np.array([[0.3, -1.2, 2.0, 0.7], [1.1, 0.5, 0.5, -0.4]])  # (a tie: 0.5 twice)
QV = np.array([[1.0, -0.5, 0.25, 2.0], [-1.5, 0.75, 1.0, 0.5]])
QQ = np.array([0.3, 0.6])

# The Hessian of sum(np.quantile(sin(x) x, QQ, axis, keepdims, method) ** 2) at QX times
# QV, computed once with JAX 0.4 (jax.jvp of jax.grad, float64; JAX's sort keeps tied
# entries in order, as the stable sort of the first-order rule does).
QUANTILE_HVP = {
    ("linear", None, False): [[0, 0, 0, 4.697181611932], [0.842029731156, 1.666574297007,
                                                         0.203338585922, 0]],
    ("linear", 1, True): [[0.405106426868, -1.917402133904, 0, 7.573133919608],
                          [0, 1.864378885282, 1.862782883129, -0.049189920474]],
    ("linear", 0, False): [[1.16559566987, -1.447290638282, -1.162707731265, 3.280449543924],
                           [-1.775083674731, 2.885115489409, 4.064617380286, -0.722859654597]],
    ("lower", None, False): [[0, 0, 0, 7.511719802219], [0, 1.809593112511, 0, 0]],
    ("lower", 1, True): [[1.000795763848, 0, 0, 7.511719802219],
                         [0, 1.809593112511, 0, 0.837004591542]],
    ("lower", 0, False): [[2.001591527696, 0, 0, 0],
                          [0, 3.619186225023, 4.825581633363, 1.674009183083]],
    ("higher", None, False): [[0, 0, 0, 0], [-5.582568885455, 0, 2.412790816682, 0]],
    ("higher", 1, True): [[0, -1.427961540714, 0, 7.511719802219],
                          [0, 1.809593112511, 2.412790816682, 0]],
    ("higher", 0, False): [[0, -2.855923081428, -4.814962654254, 15.023439604439],
                           [-11.165137770911, 0, 0, 0]],
    ("midpoint", None, False): [[0, 0, 0, 1.705556416979],
                                [0.268939788909, 1.010186822219, 1.101005142378, 0]],
    ("midpoint", 1, True): [[1.347694688822, -1.924969678689, 0, 5.804429601562],
                            [0, 1.377140854316, 1.101005142378, 0.04936235236]],
    ("midpoint", 0, False): [[1.072707241222, -1.608100709202, -1.291897479183, 3.644943937693],
                             [-1.972315194146, 2.80355207434, 3.980065796611, -0.989178414339]],
    ("nearest", None, False): [[0, 0, 0, 7.511719802219], [0, 1.809593112511, 0, 0]],
    ("nearest", 1, True): [[0, -1.427961540714, 0, 7.511719802219],
                           [0, 1.809593112511, 2.412790816682, 0]],
    ("nearest", 0, False): [[1.000795763848, -1.427961540714, -2.407481327127, 7.511719802219],
                            [-5.582568885455, 1.809593112511, 2.412790816682, 0.837004591542]],
}  # fmt: skip


@pytest.mark.parametrize("method, axis, keepdims", list(QUANTILE_HVP), ids=str)
def test_second_derivatives_of_a_quantile_match_jax(method, axis, keepdims):
    """Reverse over reverse, forward over reverse and reverse over forward: each was
    refused (no rule for the gradient's helper) where the derivative exists."""

    def f(x):
        v = np.quantile(np.sin(x) * x, QQ, axis=axis, keepdims=keepdims, method=method)
        return np.sum(v * v)

    want = np.array(QUANTILE_HVP[method, axis, keepdims])
    hessian = sd.hessian(f)(QX)
    np.testing.assert_allclose(np.tensordot(hessian, QV, axes=2), want, atol=1e-10)
    _, along = sd.jvp(sd.grad(f), (QX,), (QV,))
    np.testing.assert_allclose(along, want, atol=1e-10)
    np.testing.assert_allclose(sd.hvp(f, (QX,), (QV,)), want, atol=1e-10)
    twice = sd.grad(lambda x: np.sum(sd.grad(f)(x) * QV))(QX)
    np.testing.assert_allclose(twice, want, atol=1e-10)


def test_second_derivatives_of_a_percentile_in_q_match_jax():
    """The linear method moves its weights with ``q``: mixed and second derivatives in
    ``q`` (JAX 0.4's, computed once: jax.hessian, float64)."""

    def g(x, q):
        return np.sum(np.percentile(x**2, 100 * q * q, axis=1) ** 2)

    xq = sd.jacobian(sd.grad(g, wrt=0), wrt=1)(QX, QQ)
    want_xq = [[[0.20304, 0], [0, -11.09376], [0, 0], [1.54224, 3.10464]],
               [[0, 0], [0.75096, -1.8], [0, 1.8], [0.341568, 0]]]  # fmt: skip
    np.testing.assert_allclose(xq, want_xq, atol=1e-10)
    qq = sd.hessian(g, wrt=1)(QX, QQ)
    np.testing.assert_allclose(qq, [[2.238732, 0], [0, 29.8452]], atol=1e-10)


def median_of_cubes(x):
    return np.median(x**3)


def column_medians_of_cubes(x):
    return np.sum(np.median(x**3, axis=0))


def test_the_hessian_of_a_median_is_that_of_the_middle_entries():
    x = np.array([0.3, -1.2, 2.0, 0.7, 1.1])  # odd: 0.7, whose x^3 has 6 x = 4.2
    np.testing.assert_allclose(sd.hessian(median_of_cubes)(x), np.diag([0, 0, 0, 4.2, 0]))
    x = np.array([0.3, -1.2, 2.0, 0.7])  # even: the mean of the cubes of 0.3 and 0.7
    np.testing.assert_allclose(sd.hessian(median_of_cubes)(x), np.diag([0.9, 0, 0, 2.1]))
    # the median of two entries is their mean: sum((3/2 x^2)^2) has the gradient 9 x^3
    x = np.array([[0.5, 1.0], [2.0, -1.0]])
    g = sd.grad(lambda x: np.sum(sd.grad(column_medians_of_cubes)(x) ** 2))
    np.testing.assert_allclose(g(x), 9 * x**3)


def weighted_density(x, w):
    """A density estimate over the data's range, weighted, and its counts."""
    hist, edges = np.histogram(x, bins=4, density=True, weights=w)
    counts = np.histogram(x, bins=4)[0]
    return np.sum(hist**2 * edges[1:]) + np.sum(counts * 1.0)


def test_histogram_through_the_compiler_in_both_modes():
    """The counts are constant almost everywhere (their gradient is 0); the density moves
    with the weights and with the edges, spaced over the data's extremes."""
    x, w = H((9,)), H((9,), 0.5, 1.5)
    check_grads(weighted_density, sd.grad(weighted_density, wrt=(0, 1)), (x, w), (0, 1),
                rtol=1e-5, atol=1e-7)  # fmt: skip
    v = (H((9,)), H((9,)))
    _, tangent = sd.jvp(weighted_density, (x, w), v)
    grads = sd.grad(weighted_density, wrt=(0, 1))(x, w)
    assert tangent == pytest.approx(sum(np.sum(g * t) for g, t in zip(grads, v, strict=True)))


def density_2d(x, y, w, lo):
    """A weighted density over a range starting at ``lo`` in x, over the data's extremes
    in y, and its counts."""
    hist, xedges, yedges = np.histogram2d(x, y, [3, 2], ((lo, 1.2), None), True, w)
    counts = np.histogram2d(x, y, bins=2)[0]
    return np.sum(hist**2 * xedges[1:, None]) + np.sum(yedges**3) + np.sum(counts * 1.0)


def test_histogram2d_through_the_compiler_in_both_modes():
    """np.histogram2d was refused: its density moves with the weights, the range and the
    edges over the data's extremes, its counts not at all; in both modes. A second
    derivative through it is refused, as np.histogram's is."""
    x, y, w = H2((9,), 0.0, 1.0), H2((9,)), H2((9,), 0.5, 1.5)
    verify_both_modes(density_2d, (x, y, w, -0.1), np.random.default_rng(4))
    with pytest.raises(sd.CompileError, match="second derivative through np.histogram2d"):
        sd.hessian(density_2d, wrt=2)(x, y, w, -0.1)


def density_over_a_range(x, w):
    hist, edges = np.histogram(x, 3, (-0.5, 1.5), True, w)
    return np.sum(hist**2) + np.sum(x**2)


def test_histogram_over_a_range_of_data_read_elsewhere():
    """Over a range (or given edges) the data moves no edge: its gradient there is zero,
    added to that of its other uses (it was None, and the sum raised a TypeError)."""
    x, w = H((9,), 0.0, 1.0), H((9,), 0.5, 1.5)
    verify_both_modes(density_over_a_range, (x, w), np.random.default_rng(5))


def histogram_by_name(x):
    return np.sum(np.histogram(x, bins="auto", density=True)[0] ** 2)


def test_histogram_with_bins_by_name_is_refused():
    with pytest.raises(sd.CompileError, match="bins='auto'"):
        sd.grad(histogram_by_name)(H((9,)))


def _nanmedian_squared(a):
    return np.nanmedian(a) ** 2


def _nanmedian_rows(a):
    return np.sum(np.nanmedian(a, axis=1))


def test_nanmedian_skips_nan_in_both_modes_along_an_axis_too():
    """Each row's median of its entries that are not NaN: rows keep 2 and 3 of them (along
    an axis it was refused where a row held NaN)."""
    a = np.array([0.4, np.nan, -1.3, 0.9, np.nan, 0.2])
    d = sd.grad(_nanmedian_squared)(a)
    np.testing.assert_allclose(d, [0.3, 0.0, 0.0, 0.0, 0.0, 0.3])  # the mean of 0.2 and 0.4
    _, t = sd.jvp(_nanmedian_squared, (a,), (np.ones(6),))
    assert np.isclose(t, 0.6)
    d = sd.grad(_nanmedian_rows)(a.reshape(2, 3))
    np.testing.assert_allclose(d, [[0.5, 0.0, 0.5], [0.5, 0.0, 0.5]])
    _, t = sd.jvp(_nanmedian_rows, (a.reshape(2, 3),), (np.arange(6.0).reshape(2, 3),))
    assert np.isclose(t, (0 + 2) / 2 + (3 + 5) / 2)


def _unique_of_ties(a):
    values, counts = np.unique(a, return_counts=True)
    return np.sum(values**2) + np.sum(counts)


def _unique_rows(a):
    return np.sum(np.unique(a, axis=0)[0] ** 2)


@pytest.mark.parametrize(
    "a, why",
    [
        (np.array([[0.3, 0.5], [0.3, 0.5]]), "slices are equal"),
        (np.array([[0.3, 0.5], [0.3, 0.9]]), "share their first entry"),
    ],
    ids=["equal", "first-entry-tied"],
)
def test_unique_along_an_axis_is_refused_where_its_order_jumps(a, why):
    """Equal rows merge; rows tied in their first entry swap as it moves: neither has a
    derivative (in both modes)."""
    with pytest.raises(sd.CompileError, match=why):
        sd.grad(_unique_rows)(a)
    with pytest.raises(sd.CompileError, match=why):
        sd.jvp(_unique_rows, (a,), (np.ones_like(a),))


def _unique_rows_second_column(a):
    return np.unique(a, axis=0)[:, 1] @ np.array([0.2, -0.5])


def test_unique_along_an_axis_is_refused_where_two_slices_lead_with_nan():
    """Rows leading with NaN are ordered by their next entries, which swap them as they
    move: [[nan, 1], [nan, 2]] gave both second entries the first row's 0.2 (the second's
    is -0.5 by central differences). Refused in both modes; one NaN lead still orders."""
    a = np.array([[np.nan, 1.0], [np.nan, 2.0]])
    with pytest.raises(sd.CompileError, match="both lead with NaN"):
        sd.grad(_unique_rows_second_column)(a)
    with pytest.raises(sd.CompileError, match="both lead with NaN"):
        sd.jvp(_unique_rows_second_column, (a,), (np.ones_like(a),))
    one = np.array([[np.nan, 1.0], [0.5, 2.0]])
    for eps in (1e-5, 1e-6):
        check_grads(_unique_rows_second_column, sd.grad(_unique_rows_second_column), (one,),
                    eps=eps)  # fmt: skip


def test_unique_is_refused_at_ties():
    with pytest.raises(sd.CompileError, match="np.unique where entries are equal"):
        sd.grad(_unique_of_ties)(np.array([0.3, 0.3, 0.5]))


def _isin_weights(x, y):
    return np.sum(np.isin(x, y) * x**2)


def test_isin_gives_booleans_and_the_others_their_gradient():
    """``np.isin`` compares: no gradient flows through it (it was refused)."""
    x = np.array([0.3, -0.7, 1.1])
    d_x, d_y = sd.grad(_isin_weights, wrt=(0, 1))(x, np.array([1.1, 0.3]))
    np.testing.assert_allclose(d_x, [0.6, 0.0, 2.2])
    assert not np.any(d_y)


def _union_cubed(a, b):
    return np.sum(np.union1d(a, b) ** 3)


def _setdiff_cubed(a, b):
    return np.sum(np.setdiff1d(a, b) ** 3)


def _setxor_cubed(a, b):
    return np.sum(np.setxor1d(a, b) ** 3)


def _intersect_cubed(a, b):
    values, i, j = np.intersect1d(a, b, return_indices=True)
    return np.sum(values**3) + np.sum(a * a)


def test_intersect1d_and_setxor1d_match_finite_differences_in_both_modes():
    """Where no values are shared, np.setxor1d's are the entries of both and
    np.intersect1d's none."""
    a, b = np.array([0.3, -1.2, 0.8]), np.array([1.7, 0.45])
    verify_both_modes(_setxor_cubed, (a, b), np.random.default_rng(0))
    verify_both_modes(_intersect_cubed, (a, b), np.random.default_rng(1))


@pytest.mark.parametrize(
    "fn, a, b",
    [
        (_union_cubed, np.array([0.3, 0.5]), np.array([0.5])),
        (_union_cubed, np.array([0.3, 0.3]), np.array([0.7])),
        (_setdiff_cubed, np.array([0.3, 0.5]), np.array([0.5])),
        (_setdiff_cubed, np.array([0.3, 0.3]), np.array([0.7])),
        (_setxor_cubed, np.array([0.3, 0.5]), np.array([0.5])),
        (_setxor_cubed, np.array([0.3, 0.3]), np.array([0.7])),
        (_intersect_cubed, np.array([0.3, 0.5]), np.array([0.5])),
    ],
    ids=[
        "union-across",
        "union-within",
        "setdiff-drops",
        "setdiff-within",
        "setxor-across",
        "setxor-within",
        "intersect-shared",
    ],  # fmt: skip
)
def test_set_operations_are_refused_where_entries_tie(fn, a, b):
    """Moving one of two equal entries apart adds a value: no derivative, in both modes."""
    with pytest.raises(sd.CompileError, match="where"):
        sd.grad(fn, wrt=(0, 1))(a, b)
    with pytest.raises(sd.CompileError, match="where"):
        sd.jvp(fn, (a, b), (np.ones_like(a), np.ones_like(b)))


def _union_weighted(a, b):
    return np.sum(np.union1d(a, b) * np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("a", [np.array([0.1, 0.9]), np.array([0.1, 0.3])], ids=["inside", "last"])
def test_union_of_float32_entries_and_a_python_number_sends_each_gradient_to_its_entry(a):
    """A Python number joins float32 entries as float32; the rule looked it up among them
    as float64, which sorts after its float32 rounding: its gradient was the next value's
    (3.0 for 2.0), or past the end (an IndexError)."""
    b = 0.7
    d_a, d_b = sd.grad(_union_weighted, wrt=(0, 1))(a.astype(np.float32), b)
    for eps in (1e-6, 1e-4):  # the same ordering in float64
        want = (_union_weighted(a, b + eps) - _union_weighted(a, b - eps)) / (2 * eps)
        assert d_b == pytest.approx(want, rel=1e-6)
    step = np.array([1e-6, 0.0])
    want_a = (_union_weighted(a + step, b) - _union_weighted(a - step, b)) / 2e-6
    assert d_a.dtype == np.float32 and d_a[0] == pytest.approx(want_a, rel=1e-6)
    _, tangent = sd.jvp(_union_weighted, (a.astype(np.float32), b), (np.zeros(2, np.float32), 1.0))
    assert tangent == pytest.approx(d_b, rel=1e-6)
