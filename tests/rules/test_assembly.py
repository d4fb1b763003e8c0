"""Rules of assembling and cutting arrays: stacks, append, splits, tile, repeat, roll,
flips and rotations, atleast_*, pad, diagonals and triangles, sliding windows."""

import warnings

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import srcdiff as sd
from srcdiff.rules import lookup
from srcdiff.testing import check_grads, check_vjp, numeric_grad

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(11)


def pieces(*shapes):
    return [R(s) for s in shapes]


def row_stack(tup, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated in NumPy 2.0
        return np.row_stack(tup, **kwargs)


SPECS = [
    # ---- joins -----------------------------------------------------------------------------
    *[
        Spec(np.hstack, (pieces(*shapes),))
        for shapes in [
            [(3,), (2,)],
            [(2, 3), (2, 1), (2, 2)],
            [(), ()],
            [(), (3,)],
            [(2, 1, 2), (2, 3, 2)],
        ]
    ],
    Spec(np.hstack, (tuple(pieces((2,), (4,))),), label="tuple"),
    Spec(np.hstack, (R((3, 4)),), label="rows-of-an-array"),
    Spec(np.hstack, (pieces((2, 2), (2, 1)),), {"casting": "same_kind"}),
    *[
        Spec(np.vstack, (pieces(*shapes),))
        for shapes in [[(3,), (3,)], [(2, 3), (1, 3)], [(), ()], [(1, 2, 2), (2, 2, 2)]]
    ],
    Spec(np.vstack, (R((3, 4)),), label="rows-of-an-array"),
    *(
        [Spec(np.row_stack, (pieces((3,), (2, 3)),), call=row_stack)]
        if hasattr(np, "row_stack")
        else []
    ),
    *[
        Spec(np.dstack, (pieces(*shapes),))
        for shapes in [[(3,), (3,)], [(2, 3), (2, 3)], [(2, 3, 1), (2, 3, 2)], [(), ()]]
    ],
    *[
        Spec(np.column_stack, (pieces(*shapes),))
        for shapes in [[(3,), (3,)], [(3,), (3, 2)], [(), ()], [(2, 2), (2, 3)]]
    ],
    Spec(np.column_stack, (R((3, 4)),), label="rows-of-an-array"),
    Spec(np.append, (R((3, 4)), R((2, 4)))),
    Spec(np.append, (R((3, 4)), R((2, 4))), {"axis": 0}),
    Spec(np.append, (R((3, 4)), R((3, 2))), {"axis": -1}),
    Spec(np.append, (R((3,)), R.scalar())),
    Spec(np.append, (R((2, 3)), R((2, 1)), 1), wrt=(0, 1), label="positional-axis"),
    # ---- cuts (results are lists) ------------------------------------------------------------
    Spec(np.split, (R((6, 4)), 3), wrt=(0,)),
    Spec(np.split, (R((6, 4)), [1, 4]), wrt=(0,)),
    Spec(np.split, (R((4, 6)), 2), {"axis": -1}, wrt=(0,)),
    Spec(np.split, (R((4, 6)), [2, 2, 5]), {"axis": 1}, wrt=(0,), label="empty-piece"),
    Spec(np.split, (R((3, 4)), 2, 1), wrt=(0,), label="positional-axis"),
    Spec(np.array_split, (R((7,)), 3), wrt=(0,)),
    Spec(np.array_split, (R((3, 5)), 2), {"axis": 1}, wrt=(0,)),
    Spec(np.array_split, (R((5, 2)), [1, 3]), wrt=(0,)),
    Spec(np.hsplit, (R((4, 6)), 3), wrt=(0,)),
    Spec(np.hsplit, (R((6,)), [2, 3]), wrt=(0,)),
    Spec(np.hsplit, (R((2, 4, 3)), 2), wrt=(0,)),
    Spec(np.vsplit, (R((6, 3)), 2), wrt=(0,)),
    Spec(np.vsplit, (R((4, 2, 3)), [1, 3]), wrt=(0,)),
    Spec(np.dsplit, (R((2, 3, 4)), 2), wrt=(0,)),
    Spec(np.dsplit, (R((2, 2, 6)), [1, 4]), wrt=(0,)),
    # ---- copies ------------------------------------------------------------------------------
    Spec(np.tile, (R((3,)), 2), wrt=(0,), label="int-reps"),
    Spec(np.tile, (R((2, 3)), (2, 1)), wrt=(0,)),
    Spec(np.tile, (R((2, 3)), (2, 1, 2)), wrt=(0,), label="more-reps"),
    Spec(np.tile, (R((2, 3, 4)), (2,)), wrt=(0,), label="fewer-reps"),
    Spec(np.tile, (R(()), (3,)), wrt=(0,)),
    Spec(np.tile, (R.scalar(), (2, 2)), wrt=(0,), label="python-float"),
    Spec(np.repeat, (R((3, 4)), 2), wrt=(0,), label="flat"),
    Spec(np.repeat, (R((3, 4)), 2), {"axis": 0}, wrt=(0,)),
    Spec(np.repeat, (R((3, 4)), np.array([1, 0, 2, 3])), {"axis": -1}, wrt=(0,)),
    Spec(np.repeat, (R((3, 4)), np.array([2, 1, 3])), {"axis": 0}, wrt=(0,)),
    Spec(np.repeat, (R((2, 3)), [1, 2, 0, 1, 3, 1]), wrt=(0,), label="flat-list"),
    Spec(np.repeat, (R((2, 3)), np.array([3])), {"axis": 1}, wrt=(0,), label="one-count"),
    Spec(np.repeat, (R((2, 3)), 2, 1), wrt=(0,), label="positional-axis"),
    Spec(np.repeat, (R(()), 3), wrt=(0,)),
    Spec(
        "ndarray.repeat",
        (R((3, 4)), 2),
        {"axis": 1},
        call=lambda a, r, **k: a.repeat(r, **k),
        wrt=(0,),
    ),
    Spec(
        "ndarray.repeat",
        (R((2, 3)), [1, 2], 0),
        call=lambda a, r, axis: a.repeat(r, axis),
        wrt=(0,),
        label="positional-axis",
    ),
    Spec(np.roll, (R((5,)), 2), wrt=(0,)),
    Spec(np.roll, (R((5,)), -7), wrt=(0,)),
    Spec(np.roll, (R((3, 4)), 1), {"axis": 0}, wrt=(0,)),
    Spec(np.roll, (R((3, 4)), 5), wrt=(0,), label="flat"),
    Spec(np.roll, (R((3, 4)), (1, -2)), {"axis": (0, 1)}, wrt=(0,)),
    Spec(np.roll, (R((2, 3, 4)), (1, 1)), {"axis": (-1, 0)}, wrt=(0,)),
    Spec(np.roll, (R((3, 4)), 2), {"axis": (0, 1)}, wrt=(0,), label="one-shift-two-axes"),
    Spec(np.roll, (R((3, 4)), -1, 1), wrt=(0,), label="positional-axis"),
    # ---- reorderings -------------------------------------------------------------------------
    Spec(np.fliplr, (R((3, 4)),)),
    Spec(np.fliplr, (R((2, 3, 4)),)),
    Spec(np.flipud, (R((3,)),)),
    Spec(np.flipud, (R((3, 4)),)),
    Spec(np.rot90, (R((3, 4)),)),
    Spec(np.rot90, (R((3, 4)),), {"k": 2}),
    Spec(np.rot90, (R((3, 4)),), {"k": -1}),
    Spec(np.rot90, (R((2, 3, 4)),), {"k": 3, "axes": (1, 2)}),
    Spec(np.rot90, (R((2, 3, 4)),), {"axes": (-1, 0)}),
    Spec(np.rot90, (R((3, 4)), 5), wrt=(0,), label="positional-k"),
    # ---- atleast_* ---------------------------------------------------------------------------
    *[
        Spec(f, args)
        for f in (np.atleast_1d, np.atleast_2d, np.atleast_3d)
        for args in [(R(()),), (R((3,)),), (R((2, 3)),), (R(()), R((2,)), R((2, 3)))]
    ],
    Spec(np.atleast_3d, (R((2, 3, 4)),)),
    Spec(np.atleast_2d, (R.scalar(),), label="python-float"),
    # ---- meshgrid, broadcast_arrays ----------------------------------------------------------
    *[
        Spec(np.meshgrid, args, kwargs)
        for args in [
            (R((3,)), R((4,))),
            (R((3,)),),
            (R((2,)), R((3,)), R((4,))),
            (R((2, 2)), R(())),
        ]
        for kwargs in [{}, {"indexing": "ij"}, {"sparse": True}]
    ],
    Spec(np.broadcast_arrays, (R((3, 1)), R((4,)), R(()))),
    Spec(np.broadcast_arrays, (R((2, 3)), R((3,)))),
    Spec(np.broadcast_arrays, (R((2, 3)),), label="one"),
    # ---- pad ---------------------------------------------------------------------------------
    Spec(np.pad, (R((3,)), 2), wrt=(0,)),
    Spec(np.pad, (R((3, 4)), ((1, 2), (0, 3))), wrt=(0,)),
    Spec(np.pad, (R((3, 4)), (1, 2)), wrt=(0,), label="one-pair"),
    Spec(np.pad, (R((3, 4)), ((2,), (1,))), wrt=(0,), label="widths-per-axis"),
    Spec(np.pad, (R((2, 3, 4)), 1), wrt=(0,)),
    Spec(np.pad, (R((3, 4)), np.array([[1, 0], [2, 1]])), wrt=(0,), label="array-widths"),
    Spec(np.pad, (R((3, 4)), {1: (2, 1)}), wrt=(0,), label="dict"),
    Spec(np.pad, (R((3, 4)), {0: 1, -1: (0, 2)}), wrt=(0,), label="dict-negative-axis"),
    Spec(np.pad, (R((3, 4)), 1), {"constant_values": 1.5}, wrt=(0,)),
    Spec(
        np.pad,
        (R((3, 4)), 1),
        {"mode": "constant", "constant_values": ((1.0, 2.0), (3.0, 4.0))},
        wrt=(0,),
        label="pairs",
    ),
    *[
        Spec(np.pad, (R(shape), width), {"mode": mode}, wrt=(0,))
        for mode in ("edge", "reflect", "symmetric", "wrap")
        for shape, width in [
            ((4,), 3),
            ((3, 4), ((1, 2), (2, 1))),
            ((4, 3), ((3, 2), (1, 4))),
            ((2, 3, 2), (1, 0)),
        ]
    ],
    Spec(np.pad, (R((3,)), 7), {"mode": "wrap"}, wrt=(0,), label="wider-than-the-array"),
    Spec(np.pad, (R((3,)), (5, 6)), {"mode": "symmetric"}, wrt=(0,), label="wider-than-the-array"),
    Spec(np.pad, (R((3,)), (4, 5)), {"mode": "reflect"}, wrt=(0,), label="wider-than-the-array"),
    Spec(
        np.pad,
        (R((3,)), {0: (4, 5)}),
        {"mode": "reflect", "reflect_type": "even"},
        wrt=(0,),
        label="dict",
    ),
    Spec(np.pad, (R((3, 4)), 1, "edge"), wrt=(0,), label="positional-mode"),
    *[
        Spec(np.pad, (R(shape), width), {"mode": mode, **extra}, wrt=(0,), label=label)
        for mode in ("mean", "maximum", "minimum")
        for shape, width, extra, label in [
            ((4,), 3, {}, "whole"),
            ((3, 4), ((1, 2), (2, 1)), {}, "whole"),
            ((4, 5), ((2, 1), (3, 2)), {"stat_length": 2}, "stat-length"),
            ((4, 5), ((2, 0), (1, 3)), {"stat_length": ((1, 3), (2, 1))}, "stat-lengths"),
            ((3, 4), 2, {"stat_length": (9, 1)}, "longer-than-the-axis"),
            ((2, 3, 2), (1, 0), {}, "3d"),
        ]
    ],
    # ---- diagonals and triangles -------------------------------------------------------------
    Spec(np.diag, (R((4,)),)),
    Spec(np.diag, (R((3,)),), {"k": 1}),
    Spec(np.diag, (R((3,)),), {"k": -2}),
    Spec(np.diag, (R((3, 5)),)),
    Spec(np.diag, (R((4, 3)),), {"k": 1}),
    Spec(np.diag, (R((4, 3)),), {"k": -2}),
    Spec(np.diag, (R((3, 3)), -1), wrt=(0,), label="positional-k"),
    Spec(np.diagonal, (R((3, 4)),)),
    Spec(np.diagonal, (R((3, 4)),), {"offset": 1}),
    Spec(np.diagonal, (R((4, 3)),), {"offset": -1}),
    Spec(np.diagonal, (R((2, 3, 4)),), {"axis1": 1, "axis2": 2}),
    Spec(np.diagonal, (R((2, 3, 4)),), {"offset": 1, "axis1": -1, "axis2": 0}),
    Spec(np.diagonal, (R((3, 3, 2)), 0, 2, 0), wrt=(0,), label="positional"),
    Spec(
        "ndarray.diagonal",
        (R((2, 3, 4)),),
        {"offset": -1, "axis1": 0, "axis2": 2},
        call=lambda a, **k: a.diagonal(**k),
    ),
    Spec("ndarray.diagonal", (R((3, 4)), 1), call=lambda a, o: a.diagonal(o), wrt=(0,)),
    *[
        Spec(f, (R(shape),), kwargs)
        for f in (np.tril, np.triu)
        for shape, kwargs in [
            ((3, 4), {}),
            ((3, 4), {"k": 1}),
            ((4, 3), {"k": -1}),
            ((2, 3, 3), {"k": 0}),
        ]
    ],  # fmt: skip
    *[Spec(f, (R((3,)),), label="vector") for f in (np.tril, np.triu)],
    *[Spec(f, (R((3, 3)), 1), wrt=(0,), label="positional-k") for f in (np.tril, np.triu)],
    # ---- sliding windows ---------------------------------------------------------------------
    Spec(sliding_window_view, (R((6,)), 3), wrt=(0,)),
    Spec(sliding_window_view, (R((4, 5)), (2, 3)), wrt=(0,)),
    Spec(sliding_window_view, (R((4, 5)), 2), {"axis": 0}, wrt=(0,)),
    Spec(sliding_window_view, (R((4, 5)), 3), {"axis": -1}, wrt=(0,)),
    Spec(sliding_window_view, (R((3, 4, 5)), (2, 2)), {"axis": (0, 2)}, wrt=(0,)),
    Spec(sliding_window_view, (R((7,)), (2, 3)), {"axis": (0, 0)}, wrt=(0,), label="same-axis"),
    Spec(sliding_window_view, (R((4, 5)), 2, 1), wrt=(0,), label="positional-axis"),
]

F = Sampler(34)
SPECS += [
    *[
        Spec(p, (F(shape),), kw)
        for p in (np.fft.fftshift, np.fft.ifftshift)
        for shape, kw in (
            ((5,), {}),
            ((3, 4), {}),
            ((3, 5), {"axes": 1}),
            ((2, 3, 5), {"axes": (0, 2)}),
        )
    ]
]

# entries moved: insert (values broadcast into place), delete, resize, block, trim_zeros
M = Sampler(35)
SPECS += [
    Spec(np.insert, (M((5,)), 2, M.scalar())),
    Spec(np.insert, (M((5,)), [1, 1, 4], M((3,)))),  # several at one place
    Spec(np.insert, (M((3, 4)), 1, M((4,))), {"axis": 0}),  # a row
    Spec(np.insert, (M((3, 4)), [0, 2], M((3, 1))), {"axis": 1}),  # broadcast columns
    Spec(np.insert, (M((3, 4)), 2, M((3,))), {"axis": -1}),  # one column, its entries
    Spec(np.insert, (M((3, 4)), 2, M.scalar()), {"axis": 1}),  # one number, broadcast
    Spec(np.insert, (M((2, 3)), slice(0, 2), M((2,)))),  # flattened first
    Spec(np.insert, (M((2, 3)), np.array([1]), M((1, 3)), 0), label="positional-axis"),
    Spec(np.delete, (M((5,)), 1)),
    Spec(np.delete, (M((3, 4)), [0, 2]), {"axis": 1}),
    Spec(np.delete, (M((3, 4)), slice(None, None, 2)), {"axis": 0}),
    Spec(np.delete, (M((3, 4)), [1, 5, 7])),  # flattened first
    Spec(np.delete, (M((2, 3, 4)), np.array([True, False, True, False]), -1), label="mask"),
    Spec(np.resize, (M((2, 3)), (4, 5))),  # repeated
    Spec(np.resize, (M((2, 3)), (2, 2))),  # cut short
    Spec(np.resize, (M((4,)), 9)),
    Spec(np.resize, (M((3,)), (2, 3, 2)), {}),
    Spec(np.block, ([M((2, 2)), M((2, 3))],)),
    Spec(np.block, ([[M((2, 2)), M((2, 1))], [M((1, 3))]],), label="2x2-over-1x3"),
    Spec(np.block, ([[M((2, 2)), M((2, 1))], [M((2,)), M.scalar()]],), label="2x2-lifted"),
    Spec(np.block, ([M((3,)), M.scalar(), M((2,))],)),
    Spec(np.block, (M((2, 3)),), label="one-array"),
    Spec(np.block, ([[[M((1, 2, 2))], [M((1, 1, 2))]], [[M((1, 3, 2))]]],), label="3d"),
    Spec(np.trim_zeros, (M((5,), 0.5, 2.0),)),  # nothing to trim: the identity
    Spec(np.trim_zeros, (M((5,), 0.5, 2.0), "f")),
    Spec(np.trim_zeros, (M((3, 4), 0.5, 2.0),), {"trim": "b", "axis": 0}),
]

D = Sampler(39)
SPECS += [
    Spec(np.diagflat, (D((3,)),)),
    Spec(np.diagflat, (D((2, 2)), -1)),
    Spec(np.diagflat, (D((3,)),), {"k": 2}),
    Spec(np.ediff1d, (D((5,)),)),
    Spec(np.ediff1d, (D((2, 3)), D((2,)), D.scalar())),
    Spec(np.ediff1d, (D((4,)), None, D((3,)))),
    Spec(np.ediff1d, (D((1,)), D.scalar())),  # no difference: only to_end
]

SPECS += [
    Spec(np.ix_, (R((3,)),)),
    Spec(np.ix_, (R((2,)), R((4,)), R((3,)))),
    Spec(np.ix_, (R((3,)), np.array([True, False, True])), label="boolean"),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_hstack_cuts_the_gradient_back_into_vectors_and_scalars():
    g = np.arange(1.0, 5.0)
    (d_tup, *_) = rule_grads(np.hstack, g, [np.zeros(2), np.float64(0.0), np.zeros(1)])
    np.testing.assert_array_equal(d_tup[0], [1.0, 2.0])
    assert np.shape(d_tup[1]) == () and float(d_tup[1]) == 3.0
    np.testing.assert_array_equal(d_tup[2], [4.0])


def test_column_stack_gives_each_vector_its_column():
    g = np.arange(6.0).reshape(3, 2)
    (d_tup,) = rule_grads(np.column_stack, g, [np.zeros(3), np.zeros(3)])
    np.testing.assert_array_equal(d_tup[0], [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(d_tup[1], [1.0, 3.0, 5.0])


def test_split_joins_the_pieces_gradients_with_zeros_for_unused_ones():
    x = np.zeros((5, 2))
    ans = np.split(x, [1, 3])
    g = [np.ones((1, 2)), None, np.full((2, 2), 3.0)]
    d, *_ = rule_grads(np.split, g, x, [1, 3])
    np.testing.assert_array_equal(d, [[1, 1], [0, 0], [0, 0], [3, 3], [3, 3]])
    assert len(ans) == 3
    d, *_ = rule_grads(np.array_split, None, np.zeros(4), 3)
    np.testing.assert_array_equal(d, np.zeros(4))


def test_tile_and_repeat_sum_the_copies():
    d, _ = rule_grads(np.tile, np.arange(12.0).reshape(2, 6), np.zeros(3), (2, 2))
    # entry j of the vector is at columns j and j + 3 of both rows
    np.testing.assert_array_equal(d, [0 + 3 + 6 + 9, 1 + 4 + 7 + 10, 2 + 5 + 8 + 11])
    d, *_ = rule_grads(np.repeat, np.arange(6.0), np.zeros(3), [3, 0, 3])
    np.testing.assert_array_equal(d, [0 + 1 + 2, 0.0, 3 + 4 + 5])
    d, *_ = rule_grads(np.repeat, np.arange(4.0).reshape(2, 2), np.zeros((1, 2)), 2, axis=0)
    np.testing.assert_array_equal(d, [[2.0, 4.0]])


def test_roll_rolls_back():
    d, *_ = rule_grads(np.roll, np.array([10.0, 20.0, 30.0]), np.zeros(3), 1)
    np.testing.assert_array_equal(d, [20.0, 30.0, 10.0])


def test_rot90_rotates_back():
    g = np.arange(6.0).reshape(3, 2)
    d, *_ = rule_grads(np.rot90, g, np.zeros((2, 3)))
    np.testing.assert_array_equal(d, np.rot90(g, -1))


def test_pad_edge_and_wrap_send_the_padding_to_the_entries_it_copies():
    d, *_ = rule_grads(np.pad, np.arange(1.0, 8.0), np.zeros(3), 2, mode="edge")
    np.testing.assert_array_equal(d, [1 + 2 + 3, 4, 5 + 6 + 7])
    d, *_ = rule_grads(np.pad, np.arange(1.0, 6.0), np.zeros(3), (1, 1), mode="wrap")
    np.testing.assert_array_equal(d, [2 + 5, 3, 4 + 1])
    d, *_ = rule_grads(np.pad, np.arange(1.0, 6.0), np.zeros(3), 1, mode="reflect")
    np.testing.assert_array_equal(d, [2, 3 + 1 + 5, 4])


def test_pad_constant_values_get_the_padding():
    g = np.arange(20.0).reshape(4, 5)
    d_array, _, _, _, d_values, _, _ = rule_grads(
        np.pad, g, np.zeros((2, 3)), 1, constant_values=0.5
    )
    np.testing.assert_array_equal(d_array, g[1:3, 1:4])
    assert float(d_values) == g.sum() - g[1:3, 1:4].sum()
    # per axis and side: NumPy pads the rows first, the columns (corners included) after
    *_, d_values, _, _ = rule_grads(
        np.pad, g, np.zeros((2, 3)), 1, constant_values=((1.0, 2.0), (3.0, 4.0))
    )
    expected = [[g[0, 1:4].sum(), g[3, 1:4].sum()], [g[:, 0].sum(), g[:, 4].sum()]]
    np.testing.assert_array_equal(d_values, expected)


@pytest.mark.parametrize(
    "values", [0.5, (1.0, 2.0), ((1.0, 2.0), (3.0, 4.0), (5.0, 6.0)), ((1.0,), (2.0,), (3.0,))]
)
def test_pad_constant_values_gradient_matches_finite_differences(values):
    rule = lookup(np.pad).fn

    def primal(array, pad_width, constant_values):
        return np.pad(array, pad_width, constant_values=constant_values)

    def vjp(g, ans, array, pad_width, constant_values):
        d_array, _, _, _, d_values, _, _ = rule(
            g, ans, array, pad_width, constant_values=constant_values
        )
        return d_array, None, d_values

    x = R((2, 3, 2))
    values = np.asarray(values)
    check_vjp(vjp, primal, (x, ((1, 2), (0, 1), (2, 1)), values), wrt=(0, 2))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "median"}, "mode 'median'"),
        ({"mode": "linear_ramp"}, "mode 'linear_ramp'"),
        ({"mode": "reflect", "reflect_type": "odd"}, "reflect_type='odd'"),
    ],
)
def test_pad_refuses_the_modes_it_does_not_differentiate(kwargs, match):
    x = np.arange(3.0)
    with pytest.raises(sd.CompileError, match=match) as refused:
        rule_grads(np.pad, np.ones(5), x, 1, **kwargs)
    assert "'constant'" in refused.value.hint or "'even'" in refused.value.hint


def test_diag_and_diagonal_put_the_gradient_on_the_diagonal():
    d, _ = rule_grads(np.diag, np.array([1.0, 2.0]), np.zeros((2, 3)), 1)
    np.testing.assert_array_equal(d, [[0, 1, 0], [0, 0, 2]])
    d, _ = rule_grads(np.diag, np.arange(9.0).reshape(3, 3), np.zeros(2), -1)
    np.testing.assert_array_equal(d, [3.0, 7.0])
    d, *_ = rule_grads(np.diagonal, np.array([[1.0, 2.0]]), np.zeros((2, 2, 1)), 0, 0, 1)
    np.testing.assert_array_equal(d[:, :, 0], [[1.0, 0.0], [0.0, 2.0]])


def test_tril_of_a_vector_sums_over_the_rows():
    d, _ = rule_grads(np.tril, np.ones((3, 3)), np.zeros(3))
    np.testing.assert_array_equal(d, [3.0, 2.0, 1.0])


def test_sliding_windows_count_each_entry_once_per_window():
    d, *_ = rule_grads(sliding_window_view, np.ones((3, 3)), np.zeros(5), 3)
    np.testing.assert_array_equal(d, [1.0, 2.0, 3.0, 2.0, 1.0])


def test_atleast_gives_each_argument_its_shape():
    (d,) = rule_grads(np.atleast_3d, np.ones((1, 3, 1)), np.zeros(3))
    assert d.shape == (3,)
    d0, d1 = rule_grads(np.atleast_2d, [np.ones((1, 1)), None], np.zeros(()), np.zeros(2))
    assert d0.shape == () and float(d0) == 1.0
    np.testing.assert_array_equal(d1, [0.0, 0.0])


# ---- compiled end to end: sd.grad against finite differences --------------------------------


def padded_conv(x, w, c):
    """A 1-D convolution keeping the length, the signal padded with the value ``c``."""
    p = np.pad(x, 1, constant_values=c)
    y = w[0] * p[:-2] + w[1] * p[1:-1] + w[2] * p[2:]
    return np.sum(np.tanh(y) ** 2)


def padded_conv_modes(x, w):
    total = 0.0
    for mode in ("edge", "reflect", "symmetric", "wrap"):
        p = np.pad(x, (2, 1), mode=mode)
        y = w[0] * p[:-3] + w[1] * p[1:-2] + w[2] * p[2:-1] + w[3] * p[3:]
        total = total + np.sum(y * y)
    return total


def split_roll_stack(x):
    a, b, c = np.split(x, 3)
    y = np.vstack([np.roll(c, 1), a * b, np.flipud(b)])
    return np.sum(y * np.arange(y.size).reshape(y.shape))


def unused_piece(x):
    parts = np.array_split(x, 3, axis=1)
    return np.sum(parts[0] ** 2) + np.sum(np.exp(parts[2]))


def upsample_and_crop(x):
    big = np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)
    tiled = np.tile(x, (1, 2))
    return np.sum(np.sin(big)) + np.sum(np.tril(big) ** 2) + np.sum(np.triu(tiled, 1) ** 3)


def max_pool(x):
    windows = sliding_window_view(x, 3)
    return np.sum(np.max(windows, axis=-1) ** 2)


def diagonals(a, v):
    m = np.diag(v) + a @ a.T
    return np.sum(np.diag(m) ** 2) + np.sum(np.diagonal(a, 1) * v[:2]) + np.sum(np.rot90(m) * a)


def stacks(x, y):
    h = np.hstack([x, y])
    c = np.column_stack([x, y])
    d = np.dstack([np.atleast_2d(x), np.atleast_2d(y)])
    e = np.append(x, y)
    return np.sum(h**2) + np.sum(c[:, 0] * c[:, 1]) + np.sum(np.sin(d)) + np.sum(e * e * e)


def fliplr_hsplit(m):
    left, right = np.hsplit(np.fliplr(m), 2)
    return np.sum(left * right) + np.sum(np.dsplit(m[:, :, None] * m[:, None, :], 2)[1])


def several_atleast(x, y):
    a, b = np.atleast_3d(x, y)
    c = np.hstack((np.atleast_1d(x[0]), y))
    return np.sum(a * b) + np.sum(c**2)


def moved_entries(x, m):
    """Entries inserted, deleted, repeated and laid out in blocks."""
    b = np.block([[m, x[:2, None]], [x[1:], x[0]]])
    i = np.insert(m, [0, 2], x[:2, None] * 2.0, axis=1)
    d = np.delete(i, 1, axis=1)
    r = np.resize(d, (3, 5))
    return np.sum(b**3) + np.sum(np.sin(r) * r) + np.sum(np.trim_zeros(x) ** 2)


def differences_and_diagonals(x, m):
    e = np.ediff1d(m, to_end=x[:2], to_begin=x[3])
    d = np.diagflat(np.asanyarray(m), 1) @ np.arange(5.0)
    return np.sum(e**3) + np.sum(np.sin(d)) + np.sum(np.asfortranarray(m) * x[:2])


END_TO_END = [
    (padded_conv, (R((6,)), R((3,)), 0.3), (0, 1, 2)),
    (padded_conv_modes, (R((5,)), R((4,))), (0, 1)),
    (split_roll_stack, (R((6, 2)),), 0),
    (unused_piece, (R((2, 5)),), 0),
    (upsample_and_crop, (R((2, 3)),), 0),
    (max_pool, (R((7,)),), 0),
    (diagonals, (R((3, 3)), R((3,))), (0, 1)),
    (stacks, (R((3,)), R((3,))), (0, 1)),
    (fliplr_hsplit, (R((2, 4)),), 0),
    (several_atleast, (R((3,)), R((3,))), (0, 1)),
    (moved_entries, (M((4,)), M((2, 3))), (0, 1)),
    (differences_and_diagonals, (D((4,)), D((2, 2))), (0, 1)),
]


@pytest.mark.parametrize(
    "fn, args, wrt", END_TO_END, ids=[entry[0].__name__ for entry in END_TO_END]
)
def test_compiled_gradient_matches_finite_differences(fn, args, wrt):
    check_grads(fn, sd.grad(fn, wrt=wrt), args, wrt, rtol=1e-5, atol=1e-7)


def write_after_diag(x):
    y = x * 1.0
    d = np.diag(y)  # a view of y's diagonal: the write below changes it
    y[0, 0] = 5.0
    return np.sum(d * d)


def test_a_write_into_an_array_whose_diagonal_is_read_later_is_refused():
    with pytest.raises(sd.CompileError, match="shares its memory"):
        sd.grad(write_after_diag)(np.ones((2, 2)))


def test_pad_in_a_mode_without_a_rule_is_refused_when_differentiated():
    with pytest.raises(sd.CompileError, match="mode 'median'") as refused:
        sd.grad(pad_median)(np.arange(3.0))
    assert refused.value.lineno == pad_median.__code__.co_firstlineno + 1  # the user's line


def pad_median(x):
    return np.sum(np.pad(x, 1, mode="median") ** 2)


def test_pad_maximum_shares_the_gradient_of_a_tie_as_max_does():
    # [1, 3, 3] padded by its maximum on each side: the two 3s share each pad's 1
    d, *_ = rule_grads(np.pad, np.ones(5), np.array([1.0, 3.0, 3.0]), 1, mode="maximum")
    np.testing.assert_array_equal(d, [1.0, 2.0, 2.0])
    d, *_ = rule_grads(np.pad, np.ones(6), np.array([1.0, 3.0, 3.0]), (2, 1), mode="mean")
    np.testing.assert_allclose(d, [2.0, 2.0, 2.0])


def test_the_checks_notice_a_wrong_rule():
    """A rule that forgets to roll back fails the table's check."""

    def unrolled(g, ans, a, shift, axis=None):
        return g, None, None

    with pytest.raises(AssertionError, match="wrong gradient"):
        check_vjp(unrolled, np.roll, (R((5,)), 2), wrt=(0,))


def test_moved_entries_in_forward_mode_and_to_second_order():
    x, m = M((4,)), M((2, 3))
    v = (M((4,)), M((2, 3)))
    _, tangent = sd.jvp(moved_entries, (x, m), v)
    grads = numeric_grad(moved_entries, (x, m), (0, 1))
    expected = sum(np.sum(g * t) for g, t in zip(grads, v, strict=True))
    assert tangent == pytest.approx(expected, rel=1e-6)
    hessian = sd.hessian(moved_entries)(x, m)
    grad = sd.grad(moved_entries)
    by_differences = np.array(
        [numeric_grad(lambda x, k=k: grad(x, m)[k], (x,), 0) for k in range(4)]
    )
    assert np.allclose(hessian, by_differences, rtol=1e-5, atol=1e-6)


def trimmed(x):
    return np.sum(np.trim_zeros(x * np.array([0.0, 1.0, 1.0, 0.0])) ** 2)


def test_trim_zeros_that_trims_a_zero_off_is_refused():
    """Where an entry at the edge is zero, the result's shape jumps as it leaves zero: no
    derivative exists there (and 0 would be wrong for ``np.sum(np.trim_zeros(x))``)."""
    with pytest.raises(sd.CompileError, match="trim_zeros where it trims zeros off"):
        sd.grad(trimmed)(np.ones(4))
