"""Rules of contractions: einsum, tensordot, kron, cross, vdot."""

import warnings

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.rules import lookup
from srcdiff.testing import check_grads, check_vjp

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(21)

# NumPy 2 deprecates 2-vectors in np.cross; srcdiff still differentiates them
pytestmark = pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")

EINSUMS = [
    ("ij,jk->ik", (3, 4), (4, 5)),  # a matrix product
    ("ij,jk", (3, 4), (4, 5)),  # implicit output
    ("ji,jk", (4, 3), (4, 5)),  # implicit output, letters out of order
    ("Ab,bc", (2, 3), (3, 4)),  # implicit output: capitals sort first
    ("ba", (2, 3)),  # implicit transpose
    ("i,i", (4,), (4,)),  # inner product, to a 0-d result
    ("i,i->", (4,), (4,)),
    ("i,j->ij", (3,), (4,)),  # outer product
    ("ij->", (3, 4)),  # a sum
    ("ij->j", (3, 4)),  # a sum over an axis
    ("ij->ji", (3, 4)),
    ("ii->", (3, 3)),  # trace
    ("ii", (3, 3)),  # trace, implicit
    ("ii->i", (3, 3)),  # diagonal
    ("iij->ij", (3, 3, 2)),  # diagonal of a stack
    ("iii->i", (3, 3, 3)),  # a letter three times
    ("ij,ij->ij", (3, 4), (3, 4)),  # elementwise
    ("ij,ij->ij", (1, 4), (3, 4)),  # a labelled axis broadcast from length 1
    ("ij,ij", (2, 3), (2, 3)),  # elementwise then summed (implicit: 0-d)
    ("bqd,bkd->bqk", (2, 3, 4), (2, 5, 4)),  # batched attention scores
    ("...ij,...jk->...ik", (2, 3, 4), (4, 5)),  # ellipsis, broadcast stack
    ("...ij,...jk", (1, 3, 4), (5, 4, 2)),  # ellipsis broadcast from length 1, implicit
    ("i...->...", (3, 2, 2)),  # ellipsis at the end
    ("...", (2, 3)),  # the identity
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 5)),  # three operands
    ("i,i,i->", (4,), (4,), (4,)),
    ("ij,jk,ik->", (3, 4), (4, 2), (3, 2)),
    (" ij , jk -> ik ", (2, 3), (3, 2)),  # spaces
]


def einsum_specs():
    specs = [
        Spec(np.einsum, (sub, *(R(s) for s in shapes)), label=f"{sub.strip()}")
        for sub, *shapes in EINSUMS
    ]
    # the sublist form: arrays, each followed by its axes as integers, then the output's
    specs += [
        Spec(np.einsum, (R((2, 3)), [0, 1], R((3, 4)), [1, 2], [0, 2]), label="sublists"),
        Spec(np.einsum, (R((2, 3)), [0, 1], R((3, 4)), [1, 2]), label="sublists-implicit"),
        Spec(
            np.einsum,
            (R((2, 2, 3)), [Ellipsis, 0, 1], R((3, 4)), [1, 2], [Ellipsis, 0, 2]),
            label="sublists-ellipsis",
        ),
        Spec(
            np.einsum,
            ("ij,jk->ik", R((3, 4)), np.arange(8.0).reshape(4, 2)),
            wrt=(1,),
            label="ij,jk->ik-wrt-a",
        ),  # fmt: skip
    ]
    return specs


def tensordot_specs():
    td = np.tensordot
    return [
        Spec(td, (R((3, 4, 5)), R((4, 5, 2)))),  # the default axes=2
        Spec(td, (R((3, 4)), R((4, 5)), 1), label="positional-int"),
        Spec(td, (R((3, 4)), R((4, 5))), {"axes": 1}),  # keyword int
        Spec(td, (R((3, 4)), R((2, 5)), 0), label="positional-outer"),
        Spec(td, (R((3, 4)), R((3, 4)), 2), label="positional-full"),  # to 0-d
        Spec(td, (R((3, 4, 5)), R((5, 3, 2)), ([0, 2], [1, 0])), label="positional-pairs"),
        Spec(td, (R((3, 4)), R((4, 5))), {"axes": (1, 0)}, label="3x4-4x5-int-pair"),
        Spec(td, (R((3, 4)), R((5, 4)), ([-1], [-1])), label="positional-negative"),
        Spec(td, (R((2, 3, 4)), R((4, 3))), {"axes": ([1, 2], [1, 0])}),
        Spec(td, (R((3, 4)), R((5, 4))), {"axes": ([-1], [-1])}, label="negative"),
    ]


def _numpy_crosses_2_vectors() -> bool:
    """Whether this NumPy still takes 2-vectors in np.cross (deprecated in 2.0, gone later)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            np.cross([1.0, 0.0], [0.0, 1.0])
    except ValueError:
        return False
    return True


def cross_specs():
    cr = np.cross
    specs = [
        Spec(cr, (R((3,)), R((3,)))),
        Spec(cr, (R((4, 3)), R((3,)))),  # broadcast
        Spec(cr, (R((2, 1, 3)), R((4, 3)))),
        Spec(cr, (R((3, 4)), R((4, 3))), {"axisa": 0}),
        Spec(cr, (R((3, 4)), R((4, 3))), {"axisa": 0, "axisc": 0}),
        Spec(cr, (R((3, 4)), R((3, 4))), {"axis": 0}),
        Spec(cr, (R((3, 5)), R((5, 3)), 0, -1, 0), label="positional-axes"),
    ]
    if _numpy_crosses_2_vectors():
        specs += [
            Spec(cr, (R((2,)), R((2,)))),  # 2-vectors: the z of the product
            Spec(cr, (R((5, 2)), R((5, 2)))),
            Spec(cr, (R((2,)), R((3,)))),  # a 2-vector and a 3-vector
            Spec(cr, (R((4, 3)), R((4, 2)))),
            Spec(cr, (R((2, 4)), R((4, 2))), {"axisa": 0}),
        ]
    return specs


SPECS = [
    *einsum_specs(),
    *tensordot_specs(),
    *[
        Spec(np.kron, (R(a), R(b)))
        for a, b in [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (4,)), ((3,), (2, 2, 2)), ((), (3,))]
    ],
    *cross_specs(),
    *[Spec(np.vdot, (R(a), R(b))) for a, b in [((4,), (4,)), ((2, 3), (6,)), ((2, 3), (3, 2))]],
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_einsum_trace_and_diagonal_gradients_live_on_the_diagonal():
    (_, d) = rule_grads(np.einsum, 2.0, "ii->", np.ones((3, 3)))
    np.testing.assert_array_equal(d, 2.0 * np.eye(3))
    (_, d) = rule_grads(np.einsum, np.array([1.0, 2.0, 3.0]), "ii->i", np.ones((3, 3)))
    np.testing.assert_array_equal(d, np.diag([1.0, 2.0, 3.0]))


def test_einsum_matrix_product_matches_matmul_gradients():
    a, b, g = R((3, 4)), R((4, 5)), R((3, 5))
    _, da, db = rule_grads(np.einsum, g, "ij,jk->ik", a, b)
    np.testing.assert_allclose(da, g @ b.T)
    np.testing.assert_allclose(db, a.T @ g)


def test_einsum_sum_brings_the_axis_back():
    (_, d) = rule_grads(np.einsum, np.array([1.0, 2.0]), "ij->j", np.zeros((3, 2)))
    np.testing.assert_array_equal(d, [[1.0, 2.0]] * 3)


def test_einsum_length_one_axis_sums_what_it_broadcast_to():
    a, b = np.ones((1, 3)), np.full((4, 3), 2.0)
    _, da, db = rule_grads(np.einsum, np.ones((4, 3)), "ij,ij->ij", a, b)
    np.testing.assert_array_equal(da, [[8.0, 8.0, 8.0]])
    np.testing.assert_array_equal(db, np.ones((4, 3)))


def test_einsum_sublists_give_the_arrays_gradients_and_the_sublists_none():
    a, b, g = R((2, 3)), R((3, 4)), R((2, 4))
    grads = rule_grads(np.einsum, g, a, [0, 1], b, [1, 2], [0, 2])
    assert grads[1] is None and grads[3] is None and grads[4] is None
    np.testing.assert_allclose(grads[0], g @ b.T)
    np.testing.assert_allclose(grads[2], a.T @ g)


def test_tensordot_matches_einsum():
    a, b, g = R((3, 4, 5)), R((5, 3, 2)), R((4, 2))
    da, db, _ = rule_grads(np.tensordot, g, a, b, ([0, 2], [1, 0]))
    np.testing.assert_allclose(da, np.einsum("jl,kil->ijk", g, b))
    np.testing.assert_allclose(db, np.einsum("ijk,jl->kil", a, g))


def test_kron_values():
    da, db = rule_grads(np.kron, np.ones((2, 2)), np.array([1.0, 2.0]), np.array([[3.0], [4.0]]))
    np.testing.assert_array_equal(da, [7.0, 7.0])
    np.testing.assert_array_equal(db, [[3.0], [3.0]])


def test_cross_of_unit_vectors():
    x, y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    da, db, *_ = rule_grads(np.cross, np.array([0.0, 0.0, 1.0]), x, y)  # g = z = x cross y
    np.testing.assert_array_equal(da, [1.0, 0.0, 0.0])  # y cross z = x
    np.testing.assert_array_equal(db, [0.0, 1.0, 0.0])  # z cross x = y


def test_a_wrong_rule_fails_the_check():
    """The table's check has teeth: the gradient of the other operand is caught."""
    a, b = R((3, 4)), R((4, 5))

    def swapped(g, ans, *operands):
        grads = lookup(np.einsum).fn(g, ans, *operands)
        return [None, grads[1] * 1.001, grads[2]]

    check_vjp(lookup(np.einsum).fn, np.einsum, ("ij,jk->ik", a, b))
    with pytest.raises(AssertionError):
        check_vjp(swapped, np.einsum, ("ij,jk->ik", a, b))


# ---- through the compiler ------------------------------------------------------------------


def attention(q, k, v):
    scores = np.einsum("bqd,bkd->bqk", q, k) / np.sqrt(q.shape[-1])
    weights = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    weights = weights / np.sum(weights, axis=-1, keepdims=True)
    return np.sum(np.einsum("bqk,bkd->bqd", weights, v) ** 2)


def bilinear(x, w, y):
    return np.einsum("i,ij,j", x, w, y) + np.einsum("ii", w) * np.sum(np.einsum("ii->i", w))


def sublists(a, b):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2], [0, 2]) ** 2)


def contractions(a, b, c):
    t = np.tensordot(a, b, axes=([1, 0], [0, 1]))
    k = np.kron(t, c)
    return np.sum(k**2) + np.vdot(a, a) + np.sum(np.cross(c, c[::-1]) ** 2)


def einsum_with_optimize(a, b):
    return np.sum(np.einsum("ij,jk->ik", a, b, optimize=True))


COMPILED = [
    (attention, (R((2, 3, 4)), R((2, 5, 4)), R((2, 5, 4)))),
    (bilinear, (R((3,)), R((3, 3)), R((3,)))),
    (sublists, (R((2, 3)), R((3, 4)))),
    (contractions, (R((3, 4, 2)), R((4, 3, 5)), R((2, 3)))),
]


@pytest.mark.parametrize("f, args", COMPILED, ids=[f.__name__ for f, _ in COMPILED])
def test_compiled_gradient_matches_finite_differences(f, args):
    wrt = tuple(range(len(args)))
    check_grads(f, sd.grad(f, wrt=wrt), args, wrt=wrt, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, args", COMPILED, ids=[f.__name__ for f, _ in COMPILED])
def test_compiled_float32_gradients_stay_float32(f, args):
    args = tuple(a.astype(np.float32) for a in args)
    grads = sd.grad(f, wrt=tuple(range(len(args))))(*args)
    for a, d in zip(args, grads, strict=True):
        assert d.dtype == np.float32 and d.shape == a.shape


def test_einsum_optimize_only_orders_the_contraction():
    """``optimize=`` changes how einsum sums, not what: its gradient is the plain one."""
    a, b = R((2, 3)), R((3, 4))
    grads = sd.grad(einsum_with_optimize, wrt=(0, 1))(a, b)
    assert np.allclose(grads[0], np.ones((2, 4)) @ b.T)
    assert np.allclose(grads[1], a.T @ np.ones((2, 4)))
