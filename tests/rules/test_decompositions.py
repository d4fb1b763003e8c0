"""Rules of np.linalg: inv, solve, det, slogdet, cholesky, eig, eigvals, eigh, eigvalsh, svd,
pinv, qr,
matrix_power, lstsq.

Inputs are well conditioned, so that central differences are accurate: random matrices
plus a multiple of the identity, symmetric positive definite ones for cholesky, distinct
eigenvalues and singular values. Random directions are not symmetric: the gradients of
functions of a symmetric matrix are checked as NumPy computes them, from one triangle.
"""

import functools

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.rules import lookup
from srcdiff.testing import check_grads, check_vjp

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(31)
la = np.linalg


def mT(x):
    return np.swapaxes(x, -1, -2)


def square(*shape, shift=3.0):
    """Random matrices plus ``shift`` times the identity: well conditioned."""
    return R(shape, -1.0, 1.0) + shift * np.eye(shape[-1])


def spd(*shape):
    """Symmetric positive definite."""
    a = R(shape, -1.0, 1.0)
    return a @ mT(a) + shape[-1] * np.eye(shape[-1])


def symmetric(*shape):
    """Symmetric, with eigenvalues at least about 1 apart."""
    a = R(shape, -0.3, 0.3)
    return a + mT(a) + np.diag(2.0 * np.arange(shape[-1]))


def real_spectrum(*shape):
    """Not symmetric, with real eigenvalues about 1 apart: ``S diag(d) S^-1``, ``S`` well
    conditioned."""
    n = shape[-1]
    s = R(shape, -0.4, 0.4) + np.eye(n)
    return s @ (np.arange(1.0, n + 1.0)[:, None] * np.linalg.inv(s))


def upper_noise(a):
    """``a`` with a different upper triangle: NumPy's 'L' functions never read it."""
    return a + np.triu(R(a.shape, -1.0, 1.0), 1)


def as_tuple(f):
    """``f`` returning its named tuple (EighResult, SVDResult, ...) as a plain tuple, for
    the checker, which builds cotangents of the result's type (``__wrapped__``: ``f``, for
    the sweeps that call the primitive itself)."""

    @functools.wraps(f)
    def call(*args, **kwargs):
        return tuple(f(*args, **kwargs))

    return call


def tuple_spec(prim, args, kwargs=None, **kw):
    return Spec(prim, args, kwargs or {}, call=as_tuple(prim), **kw)


SPECS = [
    *[Spec(la.inv, (square(*s),)) for s in [(3, 3), (1, 1), (2, 3, 3)]],
    *[
        Spec(la.solve, (square(*a), R(b)))
        for a, b in [
            ((3, 3), (3,)),  # b a vector
            ((3, 3), (3, 2)),  # b a matrix
            ((2, 3, 3), (3,)),  # a stack, one vector
            ((2, 3, 3), (2, 3, 4)),  # stacks
            ((3, 3), (2, 3, 4)),  # one matrix, a stack of right-hand sides
            ((1, 3, 3), (2, 3, 1)),  # stacks broadcast
        ]
    ],
    *[Spec(la.det, (square(*s),)) for s in [(3, 3), (2, 2), (2, 3, 3)]],
    Spec(la.det, (square(3, 3, shift=-3.0),), label="negative-det"),
    # singular matrices: the determinant, a polynomial, has its cofactors as gradient
    Spec(la.det, (np.array([[1.0, 2.0], [2.0, 4.0]]),), label="singular"),
    Spec(
        la.det,
        (np.outer([1.0, -2.0, 0.5], [0.3, 1.0, 2.0]) + np.diag([0.0, 0.0, 0.0]),),
        label="rank-1",
    ),  # fmt: skip
    Spec(
        la.det,
        (
            np.array(
                [
                    [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]],
                    [[2.0, 0.3, 0.1], [0.4, 1.5, -0.2], [0.1, 0.2, 3.0]],
                ]
            ),
        ),
        label="stack-one-singular",
    ),  # fmt: skip
    Spec(rt.cofactor, (square(3, 3), np.array(2.5)), wrt=(0, 1)),
    Spec(rt.invertible, (square(3, 3), "a derivative"), wrt=(0,)),
    Spec(rt.invertible, (square(2, 3, 3), "a derivative", True), wrt=(0,), label="conditioned"),
    Spec(rt.cofactor, (square(2, 3, 3), np.array([1.5, -0.5])), wrt=(0, 1), label="stack"),
    *[
        tuple_spec(la.slogdet, (square(*s, shift=sh),))
        for s, sh in [((3, 3), 3.0), ((2, 3, 3), -3.0)]
    ],
    Spec(la.cholesky, (spd(3, 3),)),
    Spec(la.cholesky, (spd(2, 4, 4),)),
    Spec(la.cholesky, (spd(3, 3),), {"upper": True}),
    Spec(la.cholesky, (upper_noise(spd(3, 3)),), label="upper-triangle-unread"),
    tuple_spec(la.eigh, (symmetric(4, 4),)),
    tuple_spec(la.eigh, (symmetric(2, 3, 3),)),
    tuple_spec(la.eigh, (symmetric(3, 3),), {"UPLO": "U"}),
    tuple_spec(la.eigh, (symmetric(3, 3), "U"), label="positional-UPLO"),
    tuple_spec(la.eigh, (upper_noise(symmetric(3, 3)),), label="upper-triangle-unread"),
    tuple_spec(la.eig, (real_spectrum(4, 4),)),
    tuple_spec(la.eig, (real_spectrum(2, 3, 3),)),
    tuple_spec(la.eig, (real_spectrum(1, 1),)),
    Spec(la.eigvals, (real_spectrum(4, 4),)),
    Spec(la.eigvals, (real_spectrum(2, 3, 3),)),
    Spec(la.eigvalsh, (symmetric(4, 4),)),
    Spec(la.eigvalsh, (symmetric(2, 3, 3),), {"UPLO": "U"}),
    Spec(la.eigvalsh, (upper_noise(symmetric(3, 3)),), label="upper-triangle-unread"),
    *[Spec(la.svd, (R(s),), {"compute_uv": False}) for s in [(4, 3), (3, 5), (2, 3, 3)]],
    *[tuple_spec(la.svd, (R(s),), {"full_matrices": False}) for s in [(4, 3), (3, 5), (2, 4, 3)]],
    tuple_spec(la.svd, (R((3, 3)),)),  # square: full_matrices=True is the reduced SVD
    tuple_spec(la.svd, (R((3, 3)), False, True), label="positional"),
    tuple_spec(la.svd, (symmetric(3, 3),), {"hermitian": True}),
    *[Spec(la.pinv, (R(s),)) for s in [(4, 3), (3, 5), (2, 4, 3)]],
    Spec(la.pinv, (square(3, 3),)),
    Spec(la.pinv, (spd(3, 3),), {"hermitian": True}),
    *[tuple_spec(la.qr, (R(s),)) for s in [(4, 3), (3, 3), (2, 5, 3)]],
    tuple_spec(la.qr, (R((4, 3)), "reduced"), label="positional-mode"),
    tuple_spec(la.qr, (R((3, 3)),), {"mode": "complete"}),
    Spec(la.qr, (R((4, 3)),), {"mode": "r"}),
    *[tuple_spec(la.qr, (R(s),), label="wide") for s in [(3, 5), (2, 3, 4), (1, 3)]],
    tuple_spec(la.qr, (R((2, 4)),), {"mode": "complete"}, label="wide"),
    Spec(la.qr, (R((3, 5)),), {"mode": "r"}, label="wide"),
    *[Spec(la.matrix_power, (square(3, 3, shift=1.0), n)) for n in (0, 1, 2, 5, -1, -3)],
    Spec(la.matrix_power, (square(2, 3, 3, shift=1.0), 3), label="stack"),
    Spec(la.matrix_power, (square(3, 3, shift=1.0),), {"n": 2}),
    *[
        Spec(la.lstsq, (R(a), R(b)))
        for a, b in [((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 3), (3,)), ((3, 5), (3, 2))]
    ],
    Spec(la.lstsq, (R((5, 3)), R((5,))), {"rcond": None}),
]

# np.linalg.tensorinv: np.linalg.inv of its argument read as a square matrix
T = Sampler(37)
SPECS += [
    Spec(la.tensorinv, (np.reshape(T((6, 6), -1.0, 1.0) + 3.0 * np.eye(6), (2, 3, 6)),)),
    Spec(
        la.tensorinv,
        (np.reshape(T((4, 4), -1.0, 1.0) + 3.0 * np.eye(4), (4, 2, 2)), 1),
        label="ind-1",
    ),  # fmt: skip
    Spec(
        la.tensorinv,
        (np.reshape(T((4, 4), -1.0, 1.0) + 3.0 * np.eye(4), (2, 2, 2, 2)),),
        label="4-d",
    ),  # fmt: skip
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_inv_and_det_of_a_diagonal_matrix():
    a = np.diag([2.0, 4.0])
    d = rule_grads(la.inv, np.eye(2), a)[0]
    np.testing.assert_allclose(d, np.diag([-0.25, -0.0625]))
    d = rule_grads(la.det, 1.0, a)[0]
    np.testing.assert_allclose(d, np.diag([4.0, 2.0]))


def test_slogdet_gives_the_sign_no_gradient():
    a = square(3, 3)
    d = rule_grads(la.slogdet, (5.0, 0.0), a, call=as_tuple(la.slogdet))[0]
    np.testing.assert_array_equal(d, np.zeros((3, 3)))


def test_eigvalsh_of_a_diagonal_matrix():
    d = rule_grads(la.eigvalsh, np.array([1.0, 2.0]), np.diag([1.0, 3.0]))[0]
    np.testing.assert_allclose(d, np.diag([1.0, 2.0]), atol=1e-15)


@pytest.mark.parametrize("prim", [la.cholesky, la.eigvalsh], ids=["cholesky", "eigvalsh"])
def test_the_symmetrized_gradient_agrees_along_symmetric_changes_only(prim):
    """NumPy reads one triangle: the gradient lives there. Its symmetric part is the
    symmetrized gradient of autograd and JAX, which is right along symmetric changes and
    wrong along the others (the check below has teeth)."""
    a = spd(3, 3)
    g = R(prim(a).shape)
    d = rule_grads(prim, g, a)[0]
    np.testing.assert_array_equal(d, np.tril(d))  # the upper triangle is never read
    sym = np.tril(d) / 2 + np.tril(d).T / 2
    sym[np.diag_indices(3)] = np.diag(d)

    def pairing(v, eps=1e-6):
        return (np.sum(g * prim(a + eps * v)) - np.sum(g * prim(a - eps * v))) / (2 * eps)

    v = R((3, 3))
    s = v + v.T
    assert abs(np.sum(sym * s) - pairing(s)) < 1e-6
    assert abs(np.sum(d * v) - pairing(v)) < 1e-6
    assert abs(np.sum(sym * v) - pairing(v)) > 1e-3


def test_svd_full_matrices_of_a_tall_matrix_uses_the_reduced_part():
    a = R((4, 3))
    u, s, vh = la.svd(a)
    gu, gs, gvh = R(u.shape), R(s.shape), R(vh.shape)
    gu[:, 3:] = 0.0
    d = rule_grads(la.svd, (gu, gs, gvh), a, call=as_tuple(la.svd))[0]
    reduced = rule_grads(la.svd, (gu[:, :3], gs, gvh), a, False, call=as_tuple(la.svd))[0]
    np.testing.assert_allclose(d, reduced)
    gu[:, 3] = 1.0
    with pytest.raises(sd.CompileError, match="full_matrices=False"):
        rule_grads(la.svd, (gu, gs, gvh), a, call=as_tuple(la.svd))


def test_qr_complete_of_a_tall_matrix_uses_the_reduced_part():
    a = R((4, 3))
    q, r = la.qr(a, "complete")
    gq, gr = R(q.shape), R(r.shape)
    gq[:, 3:] = 0.0
    d = rule_grads(la.qr, (gq, gr), a, "complete", call=as_tuple(la.qr))[0]
    reduced = rule_grads(la.qr, (gq[:, :3], gr[:3]), a, call=as_tuple(la.qr))[0]
    np.testing.assert_allclose(d, reduced)  # R's last row is zero whatever a is
    gq[:, 3] = 1.0
    with pytest.raises(sd.CompileError, match="mode='reduced'"):
        rule_grads(la.qr, (gq, gr), a, "complete", call=as_tuple(la.qr))


def test_qr_in_raw_mode_is_refused():
    a = R((3, 3))
    with pytest.raises(sd.CompileError, match="raw"):
        lookup(la.qr).fn((R((3, 3)), R((3,))), la.qr(a, "raw"), a, "raw")


def test_lstsq_of_a_rank_deficient_matrix_is_refused():
    a = np.ones((4, 2))
    with pytest.raises(sd.CompileError, match="full rank"):
        rule_grads(la.lstsq, (np.ones(2), np.zeros(0), 0.0, np.ones(2)), a, np.ones(4))


def test_lstsq_solution_is_pinv_times_b():
    a, b, g = R((5, 3)), R((5,)), R((3,))
    da, db, _ = rule_grads(la.lstsq, (g, None, None, None), a, b)
    dp = rule_grads(la.pinv, np.outer(g, b), a)[0]
    np.testing.assert_allclose(da, dp)
    np.testing.assert_allclose(db, la.pinv(a).T @ g)


def test_a_wrong_rule_fails_the_check():
    a = spd(3, 3)

    def symmetric_only(g, ans, a, upper=False):
        d = lookup(la.cholesky).fn(g, ans, a)[0]
        return (np.tril(d) + np.tril(d, -1).T) / 2 + np.diag(np.diag(d)) / 2, None

    check_vjp(lookup(la.cholesky).fn, la.cholesky, (a,))
    with pytest.raises(AssertionError):
        check_vjp(symmetric_only, la.cholesky, (a,))


# ---- through the compiler ------------------------------------------------------------------


def solve_squares(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


def gaussian_log_likelihood(cov, x):
    """The log-density of a zero-mean Gaussian, through cholesky and slogdet."""
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, x)
    sign, logdet = np.linalg.slogdet(cov)
    return -0.5 * np.sum(z**2) - 0.5 * logdet


def spectral(a):
    w, v = np.linalg.eigh(a)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (
        np.sum(w**2) + np.sum(v[:, 0] * np.arange(3.0)) ** 2 + np.sum(s) + np.sum(u[0] * vh[:, 0])
    )


def inverses(a):
    p = np.linalg.matrix_power(a, 3) + np.linalg.matrix_power(a, -2)
    return np.linalg.det(a) + np.sum(np.linalg.inv(a) * p) + np.sum(np.linalg.pinv(a[:, :2]))


def least_squares(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b)
    q, r = np.linalg.qr(a)
    return np.sum(x**2) + np.sum(residuals) + np.sum(q**3) + np.sum(r) + np.sum(sv)


def summed_results(a):
    """NumPy makes one array of the tuple of results before the sum."""
    return np.sum(np.linalg.qr(a)) + np.sum(np.linalg.slogdet(a))


def slogdet_by_attribute(a):
    return np.linalg.slogdet(a).logabsdet


def svd_vectors_of_a_complement(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(u**3)


COMPILED = [
    (solve_squares, (square(3, 3), R((3,)))),
    (solve_squares, (square(2, 3, 3), R((2, 3, 2)))),
    (gaussian_log_likelihood, (spd(3, 3), R((3,)))),
    (spectral, (symmetric(3, 3),)),
    (inverses, (square(3, 3),)),
    (least_squares, (R((5, 3)), R((5, 2)))),
    (summed_results, (square(3, 3),)),
]


@pytest.mark.parametrize(
    "f, args", COMPILED, ids=[f"{f.__name__}-{len(a[0].shape)}d" for f, a in COMPILED]
)
def test_compiled_gradient_matches_finite_differences(f, args):
    wrt = tuple(range(len(args)))
    check_grads(f, sd.grad(f, wrt=wrt), args, wrt=wrt, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "f, args", COMPILED, ids=[f"{f.__name__}-{len(a[0].shape)}d" for f, a in COMPILED]
)
def test_compiled_float32_gradients_stay_float32(f, args):
    args = tuple(a.astype(np.float32) for a in args)
    grads = sd.grad(f, wrt=tuple(range(len(args))))(*args)
    for a, d in zip(args, grads, strict=True):
        assert d.dtype == np.float32 and d.shape == a.shape


def test_a_named_field_of_a_result_is_differentiated():
    a = square(3, 3)
    check_grads(slogdet_by_attribute, sd.grad(slogdet_by_attribute), (a,))


def test_using_the_complement_of_a_full_svd_is_refused():
    with pytest.raises(sd.CompileError, match="full_matrices=False"):
        sd.grad(svd_vectors_of_a_complement)(R((4, 3)))


def _slogdet_field(a):
    return np.linalg.slogdet(a).logabsdet * np.linalg.slogdet(a).sign


def _eigh_fields(a):
    r = np.linalg.eigh(a + a.T)
    return np.sum(r.eigenvalues**3) + np.sum(r.eigenvectors[:, 0] ** 2 * np.arange(3.0))


def _svd_fields(a):
    r = np.linalg.svd(a, full_matrices=False)
    return np.sum(r.S**3) + np.sum((r.U * r.S) @ r.Vh * a)


def _qr_fields(a):
    r = np.linalg.qr(a)
    return np.sum(r.Q**3) + np.sum(r.R**3)


@pytest.mark.parametrize("fn", [_slogdet_field, _eigh_fields, _svd_fields, _qr_fields])
def test_forward_mode_reads_the_fields_of_a_named_tuple_result(fn):
    """The tangent of ``np.linalg.slogdet(a)`` (eigh, svd, qr) is a named tuple of the
    result's class, so that ``.logabsdet`` (``.eigenvalues``, ``.S``, ``.R``) reads it."""
    a = np.array([[2.0, 0.3, -0.5], [0.1, 1.5, 0.4], [-0.2, 0.7, 3.0]])
    t = np.array([[0.3, -1.0, 0.2], [0.5, 0.1, -0.4], [0.9, -0.3, 0.6]])
    _, tangent = sd.jvp(fn, (a,), (t,))
    eps = 1e-6
    expected = (fn(a + eps * t) - fn(a - eps * t)) / (2 * eps)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-8)


def _full_svd_of_a_tall_matrix(a):
    b = a * 2.0
    u, s, vh = np.linalg.svd(b, full_matrices=True)  # the line the refusal quotes
    return np.sum(u) + np.sum(s)


def test_forward_refusal_of_a_full_svd_quotes_the_line_of_the_svd():
    """The template's nested ``if ...: raise`` runs at the user's line of the svd call, in
    forward mode and in reverse mode over it."""
    import inspect

    lines, first = inspect.getsourcelines(_full_svd_of_a_tall_matrix)
    line = first + next(i for i, t in enumerate(lines) if "np.linalg.svd" in t)
    a = R((4, 3))
    for derivative in (sd.jvp, sd.hvp):  # hvp: differentiating the forward program again
        with pytest.raises(sd.CompileError, match="full_matrices=False") as info:
            derivative(_full_svd_of_a_tall_matrix, (a,), (a,))
        assert (info.value.filename, info.value.lineno) == (__file__, line)
        assert "np.linalg.svd(b, full_matrices=True)" in str(info.value)


def test_a_second_derivative_of_det_at_a_singular_matrix_is_refused_clearly():
    # the first derivative (the cofactors) is given there; the second goes through the
    # inverse, refused rather than NumPy's LinAlgError
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(sd.grad(lambda m: la.det(m))(a), [[4.0, -2.0], [-2.0, 1.0]])
    with pytest.raises(sd.CompileError, match="a second derivative of np.linalg.det at a singular"):
        sd.hessian(lambda m: la.det(m))(a)


def test_a_second_derivative_of_det_at_a_nearly_singular_matrix_is_refused():
    # det(A - A.T) of a 3x3 is 0 everywhere (a skew-symmetric matrix), its Hessian 0; at a
    # random A rounding leaves det ~1e-17, where the terms of the inverse's size cancel to
    # no digit (it gave entries of 3)
    a = np.random.default_rng(1).normal(size=(3, 3))
    with pytest.raises(sd.CompileError, match="at a singular \\(or nearly singular\\) matrix"):
        sd.hessian(lambda m: la.det(m - m.T))(a)


def test_slogdet_at_a_singular_matrix_is_refused_clearly():
    a = np.outer([1.0, 2.0, 3.0], [0.5, -1.0, 2.0])
    for take in (sd.grad, lambda f: lambda m: sd.jvp(f, (m,), (np.ones((3, 3)),))):
        with pytest.raises(sd.CompileError, match="derivative of np.linalg.slogdet at a singular"):
            take(lambda m: la.slogdet(m)[1])(a)


def _spectrum(a):
    return np.sum(np.real(np.linalg.eigvals(a)) ** 2)


def _vectors(a):
    return np.sum(np.linalg.eig(a)[1][:, 0] ** 2 * np.arange(3.0))


@pytest.mark.parametrize(
    "fn, a, says",
    [(_spectrum, np.array([[0.0, -1.0], [1.0, 0.0]]), "complex eigenvalues"),
     (_vectors, np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]), "repeated"),
     (_spectrum, np.eye(2), "repeated")],
)  # fmt: skip
def test_eig_refuses_complex_and_repeated_eigenvalues(fn, a, says):
    """NumPy gives complex eigenvalues as a complex array (reverse mode meets np.real's
    refusal of it first); at repeated ones there is no derivative (a Jordan block's
    eigenvalues move as a square root)."""
    with pytest.raises(sd.CompileError, match="complex" if "complex" in says else says):
        sd.grad(fn)(a)
    with pytest.raises(sd.CompileError, match=says):
        sd.jvp(fn, (a,), (np.ones_like(a),))
