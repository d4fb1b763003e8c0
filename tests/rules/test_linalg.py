"""Rules of products and linear algebra: dot, outer, inner, trace, norm."""

import numpy as np
import pytest

import srcdiff as sd
import srcdiff.runtime as rt

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(6)

# shapes on which ``np.dot`` is ``np.matmul`` (at most a 2-D right operand)
DOT_SHAPES = [
    ((3, 4), (4, 5)),  # 2-D @ 2-D
    ((4,), (4, 5)),  # 1-D @ 2-D
    ((3, 4), (4,)),  # 2-D @ 1-D
    ((4,), (4,)),  # 1-D @ 1-D
    ((2, 3, 4), (4, 5)),  # batched 3-D @ 2-D
    ((2, 3, 4), (4,)),  # batched 3-D @ 1-D
]


def norm_specs():
    norm = np.linalg.norm
    cases = [
        ((5,), {}),
        ((3, 4), {}),
        ((3, 4), {"axis": 0}),
        ((3, 4), {"axis": -1, "keepdims": True}),
        ((2, 3, 4), {"axis": (0, 2)}),
        ((2, 3, 4), {"axis": (1, 2), "keepdims": True}),
        ((3, 4), {"ord": "fro"}),
        ((5,), {"ord": 2}),
        ((3, 4), {"ord": 2, "axis": 1}),
        *[((5,), {"ord": o}) for o in (1, 3, 0.5, -1.5, np.inf, -np.inf)],
        ((3, 4), {"ord": 1, "axis": 0}),
        *[((3, 4), {"ord": o}) for o in ("nuc", 2, -2, 1, -1, np.inf, -np.inf)],
        ((2, 3, 4), {"ord": "nuc", "axis": (2, 0)}),
        ((2, 3, 4), {"ord": np.inf, "axis": (0, 1), "keepdims": True}),
    ]
    return [Spec(norm, (R(shape),), kw) for shape, kw in cases]


SPECS = [
    *[
        Spec(p, (R(xs), R(ys)), call=c, rtol=1e-5)
        for p, c in [(np.dot, None), ("ndarray.dot", lambda a, b: a.dot(b))]
        for xs, ys in DOT_SHAPES
    ],
    *[Spec(np.outer, (R(xs), R(ys))) for xs, ys in [((3,), (4,)), ((2, 2), (3,)), ((), (2,))]],
    *[
        Spec(np.inner, (R(xs), R(ys)))
        for xs, ys in [
            ((4,), (4,)),
            ((3, 4), (4,)),
            ((3, 4), (5, 4)),
            ((2, 3, 4), (5, 4)),
            ((3, 4), ()),
            ((), (2, 3)),
            ((), ()),
        ]  # a 0-d operand: a product
    ],
    *[
        Spec(np.vecdot, (R(xs), R(ys)), kw)
        for xs, ys, kw in [
            ((4,), (4,), {}),
            ((3, 4), (4,), {}),
            ((2, 1, 3), (4, 3), {}),
            ((3, 4), (3, 1), {"axis": 0}),
            ((2, 3, 4), (3, 4), {"axis": -2}),
        ]
        if hasattr(np, "vecdot")
    ],
    *[Spec(np.trace, (R(shape),)) for shape in [(3, 3), (3, 5), (5, 3)]],
    *[
        Spec(np.trace, (R(shape),), kw)
        for shape, kw in [
            ((3, 5), {"offset": 2}),
            ((5, 3), {"offset": -1}),
            ((4, 4), {"offset": 7}),  # past the corner: an empty diagonal
            ((2, 3, 4), {"offset": 1, "axis1": 1, "axis2": 2}),
            ((2, 3, 4), {"axis1": 2, "axis2": 0}),
            ((5, 6, 4, 3), {"offset": -2}),
        ]
    ],
    Spec("ndarray.trace", (R((3, 4)),), {"offset": 1}, call=lambda a, **kw: a.trace(**kw)),
    *[
        Spec(np.dot, (a, b), rtol=1e-5)
        for a, b in [
            (R((3, 4)), 0.7),
            (-0.4, R((3, 4))),
            (R((2, 3)), R(())),
            (R((2, 3, 4)), R((5, 4, 6))),  # N-D: a sum over b's second-to-last axis
            (R((4,)), R((2, 4, 3))),
        ]
    ],
    *norm_specs(),
]

# NumPy 2's array API names in np.linalg, np.linalg.multi_dot, and ufuncs' outer products
L = Sampler(33)
SPECS += [
    *[
        Spec(np.linalg.matrix_norm, (L(shape),), kw)
        for shape, kw in (
            ((3, 4), {}),
            ((2, 3, 4), {"keepdims": True}),
            ((3, 4), {"ord": 1}),
            ((3, 4), {"ord": "nuc"}),
            ((4, 3), {"ord": 2}),
        )
    ],  # fmt: skip
    *[
        Spec(np.linalg.vector_norm, (L(shape),), kw)
        for shape, kw in (
            ((5,), {}),
            ((3, 4), {}),
            ((3, 4), {"axis": 0}),
            ((3, 4), {"axis": -1, "keepdims": True, "ord": 3}),
            ((2, 3, 4), {"axis": (0, 2)}),
            ((2, 3, 4), {"ord": 1}),
            ((2, 3, 4), {"axis": (2, 1), "keepdims": True}),
            ((), {}),
            ((3, 4), {"axis": ()}),  # (no axis reduced: each entry's own norm)
            ((2, 3), {"axis": (), "keepdims": True, "ord": -np.inf}),
            ((), {"axis": ()}),
        )
    ],  # fmt: skip
    Spec(np.linalg.trace, (L((3, 4)),)),
    Spec(np.linalg.trace, (L((2, 3, 3)),), {"offset": 1}),
    Spec(np.linalg.diagonal, (L((3, 4)),)),
    Spec(np.linalg.diagonal, (L((2, 4, 3)),), {"offset": -1}),
    Spec(np.linalg.matrix_transpose, (L((3, 4)),)),
    Spec(np.linalg.matrix_transpose, (L((2, 3, 4)),)),
    Spec(np.linalg.svdvals, (L((3, 4)),)),
    Spec(np.linalg.svdvals, (L((2, 4, 3)),)),
    Spec(np.linalg.multi_dot, ([L((3, 4)), L((4, 2)), L((2, 5))],)),
    Spec(np.linalg.multi_dot, ([L((4,)), L((4, 2)), L((2, 3)), L((3,))],), label="vectors"),
    Spec(np.linalg.multi_dot, ([L((4,)), L((4, 2))],), label="vector-first"),
    Spec(
        rt.multi_dot_tangent, ([L((3, 4)), L((4, 2)), L((2, 5))], [L((3, 4)), L((4, 2)), L((2, 5))])
    ),  # fmt: skip
    Spec(
        rt.multi_dot_tangent,
        ([L((4,)), L((4, 2)), L((2, 3)), L((3,))], [L((4,)), L((4, 2)), L((2, 3)), L((3,))]),
        label="vectors",
    ),  # fmt: skip
    *[
        Spec(prim, (a, b))
        for prim in (np.add.outer, np.subtract.outer, np.multiply.outer)
        for a, b in (
            (L((3,)), L((4,))),
            (L((2, 3)), L((4,))),
            (L(()), L((2, 2))),
            (L.scalar(), L((3,))),
        )
    ],
]

# NumPy 2.2's matvec, vecmat (ufuncs over the last axes, broadcasting the others) and
# np.matrix_transpose
V = Sampler(40)
SPECS += [
    *[
        Spec(p, (V(xs), V(ys)))
        for p, pairs in (
            (
                getattr(np, "matvec", None),
                [((3, 4), (4,)), ((2, 3, 4), (4,)), ((3, 4), (2, 4)), ((1, 3, 4), (2, 1, 4))],
            ),
            (
                getattr(np, "vecmat", None),
                [((3,), (3, 4)), ((2, 3), (3, 4)), ((3,), (2, 3, 4)), ((2, 1, 3), (5, 3, 4))],
            ),
        )
        if p is not None
        for xs, ys in pairs
    ],  # fmt: skip
    *[
        Spec(np.matrix_transpose, (V(shape),))
        for shape in [(3, 4), (2, 3, 4)]
        if hasattr(np, "matrix_transpose")
    ],
]

# cond: the spectral ratio (square, wide, tall, stacked) and the other norms' products
_SQ = np.array([[2.0, 0.3, -0.4], [0.1, 1.5, 0.2], [-0.3, 0.6, 1.1]])
SPECS += [
    Spec(np.linalg.cond, (_SQ,)),
    Spec(np.linalg.cond, (_SQ, 2)),
    Spec(np.linalg.cond, (_SQ, -2)),
    Spec(np.linalg.cond, (_SQ[:2],), label="wide"),
    Spec(np.linalg.cond, (_SQ[:, :2],), label="tall"),
    Spec(np.linalg.cond, (np.stack([_SQ, _SQ.T + np.eye(3)]),), label="stacked"),
    *[Spec(np.linalg.cond, (_SQ, p)) for p in ("fro", "nuc", 1, -1, np.inf, -np.inf)],
    Spec(np.linalg.cond, (np.stack([_SQ, 2.0 * _SQ.T]), "fro"), label="stacked-fro"),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_dot_values():
    a, b = np.array([1.0, 2.0]), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    da, db = rule_grads(np.dot, np.ones(3), a, b)
    np.testing.assert_array_equal(da, [6.0, 15.0])
    np.testing.assert_array_equal(db, [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])


def test_inner_of_matrices_matches_einsum():
    a, b, g = R((3, 4)), R((5, 4)), R((3, 5))
    da, db = rule_grads(np.inner, g, a, b)
    np.testing.assert_allclose(da, np.einsum("ij,jk->ik", g, b))
    np.testing.assert_allclose(db, np.einsum("ij,ik->jk", g, a))


def test_trace_is_the_identity():
    d, *_ = rule_grads(np.trace, 2.0, np.zeros((2, 3)))
    np.testing.assert_array_equal(d, [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])


def test_norm_values():
    d, *_ = rule_grads(np.linalg.norm, 1.0, np.array([3.0, 4.0]))
    np.testing.assert_allclose(d, [0.6, 0.8])
    d, *_ = rule_grads(np.linalg.norm, 1.0, np.zeros(3))  # 0 at 0, not nan
    np.testing.assert_array_equal(d, [0.0, 0.0, 0.0])


def test_norm_ties_of_a_max_norm_share_the_gradient():
    d, *_ = rule_grads(np.linalg.norm, 1.0, np.array([3.0, -3.0, 1.0]), np.inf)
    np.testing.assert_allclose(d, [0.5, -0.5, 0.0])


def test_norm_of_an_order_numpy_does_not_have_is_numpys_error():
    with pytest.raises(ValueError):
        rule_grads(np.linalg.norm, 1.0, np.ones((2, 2)), 3)


def _cond_spectral(x):
    return np.linalg.cond(x)


def _cond_fro(x):
    return np.linalg.cond(x, "fro")


@pytest.mark.parametrize("fn", [_cond_spectral, _cond_fro])
def test_cond_second_derivative_matches_finite_differences_of_its_gradient(fn):
    a = np.array([[2.0, 0.3, -0.4], [0.1, 1.5, 0.2], [-0.3, 0.6, 1.1]])
    v = np.random.default_rng(3).standard_normal(a.shape)
    g = sd.grad(fn)
    hv = sd.hvp(fn, (a,), (v,))
    for eps in (1e-4, 1e-5):
        fd = (g(a + eps * v) - g(a - eps * v)) / (2 * eps)
        np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


# ---- the spectral and nuclear norms where singular values tie, or are 0 -------------------


def _in_basis(values, seed=3):
    """A symmetric matrix with these eigenvalues (its singular values, where not
    negative), in a random basis."""
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(values),) * 2))[0]
    return q, (q * np.asarray(values, dtype=float)) @ q.T


@pytest.mark.parametrize(
    "ord, values, share",
    [(2, [3.0, 3.0, 1.0], [0.5, 0.5, 0.0]), (-2, [1.0, 2.0, 2.0], [1.0, 0.0, 0.0]),
     (-2, [2.0, 1.0, 1.0], [0.0, 0.5, 0.5]), ("nuc", [2.0, 1.0, 0.0], [1.0, 1.0, 0.0])],
    ids=["largest-tied", "smallest-simple", "smallest-tied", "nuclear-with-a-zero"],
)  # fmt: skip
def test_spectral_and_nuclear_norms_share_ties_evenly_whatever_the_basis(ord, values, share):
    """The largest (smallest) singular value where it ties moves as a maximum (minimum)
    does: its gradient is shared evenly between the tied pairs, as ord 1 and inf share
    theirs, and so does not depend on the basis of them LAPACK returns (it gave one pair's,
    one side's); a singular value 0 adds none to the nuclear norm's, as a norm at 0. The
    tangent is the gradient's inner product with the direction."""
    q, a = _in_basis(values)

    def f(a):
        return np.linalg.norm(a, ord)

    expected = (q * np.asarray(share)) @ q.T
    np.testing.assert_allclose(sd.grad(f)(a), expected, atol=1e-12)
    direction = np.cos(np.arange(9.0)).reshape(3, 3)
    _, tangent = sd.jvp(f, (a,), (direction,))
    assert tangent == pytest.approx(np.sum(expected * direction), rel=1e-9, abs=1e-12)
