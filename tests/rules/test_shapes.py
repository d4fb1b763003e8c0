"""Rules of shape manipulation: reshape, transpose, squeeze, concatenate, stack, ..."""

import numpy as np

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(4)


def method(name):
    def call(a, *args, **kwargs):
        return getattr(a, name)(*args, **kwargs)

    call.__name__ = f"ndarray.{name}"
    return call


def pieces(*shapes):
    return [R(s) for s in shapes]


SPECS = [
    *[Spec(np.reshape, (R((3, 4)), shape), wrt=(0,)) for shape in [(12,), (4, -1), (2, 3, 2)]],
    Spec(np.reshape, (R(()), (1, 1)), wrt=(0,)),
    Spec("ndarray.reshape", (R((3, 4)), 4, 3), call=method("reshape"), wrt=(0,)),
    Spec("ndarray.reshape", (R((3, 4)), (2, 6)), call=method("reshape"), wrt=(0,)),
    Spec("ndarray.reshape", (R((3, 4)), -1), call=method("reshape"), wrt=(0,)),
    *[
        Spec(p, (R((3, 4)),), call=c)
        for p, c in [
            (np.ravel, None),
            ("ndarray.ravel", method("ravel")),
            ("ndarray.flatten", method("flatten")),
        ]
    ],
    *[
        Spec(p, (R((3, 1, 4, 1)),), {"axis": axis}, call=c)
        for p, c in [(np.squeeze, None), ("ndarray.squeeze", method("squeeze"))]
        for axis in (None, 1, -1, (1, 3))
    ],
    *[Spec(np.expand_dims, (R((3, 4)), axis), wrt=(0,)) for axis in (0, -1, 1, (0, 2))],
    *[
        Spec(np.transpose, (R(shape), axes), wrt=(0,))
        for shape, axes in [
            ((3, 4), None),
            ((2, 3, 4), None),
            ((2, 3, 4), (1, 0, 2)),
            ((2, 3, 4), (2, 0, 1)),
            ((2, 3, 4), (0, -1, 1)),
            ((2, 3, 4), [-1, -3, -2]),
        ]
    ],
    *[
        Spec(
            "ndarray.transpose",
            (R((2, 3, 4)), *axes),
            call=method("transpose"),
            wrt=(0,),
            label=f"axes={axes}",
        )
        for axes in [(), (1, 0, 2), ((2, 0, 1),), (0, -1, 1)]
    ],
    Spec("ndarray.T", (R((3, 4)),), call=lambda a: a.T),
    *[Spec("ndarray.view", (R(s),), call=method("view")) for s in ((3, 4), ())],
    *[Spec("ndarray.tolist", (R(s),), call=method("tolist")) for s in ((3, 4), (5,), ())],
    Spec("ndarray.T", (R((2, 3, 4)),), call=lambda a: a.T),
    Spec("ndarray.mT", (R((3, 4)),), call=lambda a: a.mT),
    Spec("ndarray.mT", (R((2, 3, 4)),), call=lambda a: a.mT),
    *[
        Spec(p, (R((2, 3, 4)), a1, a2), call=c, wrt=(0,))
        for p, c in [(np.swapaxes, None), ("ndarray.swapaxes", method("swapaxes"))]
        for a1, a2 in [(0, 1), (0, -1), (2, 2)]
    ],
    *[
        Spec(np.moveaxis, (R((2, 3, 4)), src, dst), wrt=(0,))
        for src, dst in [(0, -1), (-1, 0), ((0, 1), (-1, -2)), (1, 1)]
    ],
    *[
        Spec(np.rollaxis, (R((2, 3, 4)), *args), wrt=(0,))
        for args in [(2,), (0, 3), (-1, 1), (1, 1), (0, -1), (2, 0), (1, 3)]
    ],
    Spec(np.rollaxis, (R((2, 3, 4)), 2), {"start": 1}, wrt=(0,), label="keyword-start"),
    *[
        Spec(np.broadcast_to, (R(shape), target), wrt=(0,))
        for shape, target in [((4,), (3, 4)), ((3, 1), (2, 3, 4)), ((), (2, 2)), ((1, 4), (1, 4))]
    ],
    *[
        Spec(np.concatenate, (pieces(*shapes),), {"axis": axis})
        for shapes, axis in [
            ([(2, 3), (1, 3), (4, 3)], 0),
            ([(2, 1), (2, 3), (2, 2)], 1),
            ([(2, 3, 1), (2, 3, 2), (2, 3, 3)], -1),
            ([(3,), (2,)], 0),
            ([(2, 3), (2, 3)], 0),
        ]
    ],
    Spec(np.concatenate, ((R((2, 3)), R((2, 3)), R((1, 3))),), label="tuple-of-pieces"),
    Spec(np.concatenate, (pieces((2, 3), (4,), (1, 2, 2)),), {"axis": None}, label="flattened"),
    Spec(np.concatenate, (pieces((2, 3), (2, 2)), 1), wrt=(0,), label="positional-axis"),
    *[
        Spec(np.stack, (pieces(*[shape] * n),), {"axis": axis})
        for shape, n, axis in [((3,), 3, 0), ((2, 3), 4, 1), ((2, 3), 2, -1), ((2, 3), 2, 0)]
    ],
    *[Spec(np.flip, (R((2, 3, 4)),), {"axis": axis}) for axis in (None, 0, -1, (0, 2))],
    *[  # NumPy 2.1
        Spec(np.unstack, (R((2, 3, 4)),), {"axis": axis})
        for axis in (0, 1, -1)
        if hasattr(np, "unstack")
    ],
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_concatenate_cuts_the_gradient_into_the_pieces():
    a, b = np.zeros((1, 2)), np.zeros((2, 2))
    g = np.arange(6.0).reshape(3, 2)
    d_arrays, d_axis = rule_grads(np.concatenate, g, [a, b])
    assert d_axis is None and len(d_arrays) == 2
    np.testing.assert_array_equal(d_arrays[0], [[0.0, 1.0]])
    np.testing.assert_array_equal(d_arrays[1], [[2.0, 3.0], [4.0, 5.0]])


def test_stack_gives_each_piece_its_slice():
    g = np.arange(6.0).reshape(3, 2)
    d_arrays, d_axis = rule_grads(np.stack, g, [np.zeros(3), np.zeros(3)], axis=1)
    assert d_axis is None
    np.testing.assert_array_equal(d_arrays[0], [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(d_arrays[1], [1.0, 3.0, 5.0])


def test_transpose_with_negative_axes_inverts_the_permutation():
    x = np.zeros((2, 3, 4))
    g = np.arange(24.0).reshape(2, 4, 3)
    d, *_ = rule_grads(np.transpose, g, x, (0, -1, 1))
    np.testing.assert_array_equal(d, np.transpose(g, (0, 2, 1)))


def test_broadcast_to_sums_back():
    d, *_ = rule_grads(np.broadcast_to, np.ones((2, 3, 4)), np.zeros((3, 1)), (2, 3, 4))
    np.testing.assert_array_equal(d, np.full((3, 1), 8.0))


def test_a_view_as_its_own_dtype_passes_the_gradient_and_as_another_is_refused():
    import pytest

    import srcdiff as sd

    x = R((3, 4))
    g = np.ones((3, 4))
    (d, *_) = rule_grads("ndarray.view", g, x, np.float64, call=lambda a, t: a.view(t))
    np.testing.assert_array_equal(d, g)
    for kind in (np.int64, np.float32, np.matrix):
        with pytest.raises(sd.CompileError, match="another dtype or class"):
            rule_grads("ndarray.view", g, x, kind, call=lambda a, t: a.view(t))


def _as_matrix(x):
    return np.sum(np.asarray(np.asmatrix(x) * np.asmatrix(x)))


def _bmat(x):
    return np.sum(np.asarray(np.bmat([[x, x]])))


def _sort_complex(x):
    return np.sum(np.sort_complex(x).real)


def test_np_matrix_and_complex_sorting_are_refused_by_name():
    import pytest

    import srcdiff as sd

    x = R((2, 2))
    for fn, name in (
        (_as_matrix, "np.asmatrix"),
        (_bmat, "np.bmat"),
        (_sort_complex, "sort_complex"),
    ):
        with pytest.raises(sd.CompileError, match=name):
            sd.grad(fn)(x)
