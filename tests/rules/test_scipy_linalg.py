"""Rules of scipy.linalg: cholesky, cho_factor, cho_solve, solve_triangular, expm, and of
the helpers their forward rules call (``rt.solve_triangular``, ``rt.expm_frechet``); and
np.linalg.eigh at repeated eigenvalues, where a function of the eigenvalues alone has a
gradient.

Inputs are well conditioned, so that central differences are accurate; the triangle a
function does not read holds noise, which its gradient must leave alone. Each rule is
checked against central differences in float64 at two step sizes (the table, and
``test_the_table_at_a_larger_step``), in float32, through the compiler in both modes,
and to second order (``sd.hvp``, ``sd.hessian``: reverse mode over forward mode).
"""

import importlib.util
import inspect

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.rules import lookup
from srcdiff.testing import check_grads, check_vjp, numeric_grad

from .spec import Sampler, Spec, rule_grads, table_tests

HAS_SCIPY = importlib.util.find_spec("scipy") is not None
if HAS_SCIPY:
    import scipy.linalg as sla
else:  # the table is empty and the tests below are skipped
    sla = None
needs_scipy = pytest.mark.skipif(not HAS_SCIPY, reason="SciPy is not installed")

R = Sampler(47)
STEPS = (1e-6, 1e-4)


def mT(x):
    return np.swapaxes(x, -1, -2)


def spd(*shape):
    """Symmetric positive definite."""
    a = R(shape, -1.0, 1.0)
    return a @ mT(a) + shape[-1] * np.eye(shape[-1])


def lower_noise(a):
    """``a`` with other entries below its diagonal: an upper factor never reads them."""
    return a + np.tril(R(a.shape, -1.0, 1.0), -1)


def upper_noise(a):
    """``a`` with other entries above its diagonal: a lower factor never reads them."""
    return a + np.triu(R(a.shape, -1.0, 1.0), 1)


def triangular(*shape):
    """A well conditioned matrix (random, plus 3 on the diagonal): each of its triangles
    is an invertible triangular matrix, and the other one is noise to it."""
    return R(shape, -1.0, 1.0) + 3.0 * np.eye(shape[-1])


def as_tuple(f):
    """``f`` returning its tuple result as a tuple (``__wrapped__``: ``f``)."""

    def call(*args, **kwargs):
        return tuple(f(*args, **kwargs))

    call.__wrapped__ = f
    return call


def _cho_solve(c_and_lower, b, **kwargs):
    """scipy.linalg.cho_solve called as it is. Its specs name it as their ``call``: the
    sweeps of tests/compiler then leave them out, which cannot make tangents of a pair
    holding a flag; ``test_cho_solve_in_the_factor`` checks the factor's gradient, and
    ``COMPILED`` both modes."""
    return sla.cho_solve(c_and_lower, b, **kwargs)


def _specs():
    if not HAS_SCIPY:
        return []
    return [
        Spec(sla.cholesky, (spd(3, 3),)),  # the upper factor
        Spec(sla.cholesky, (spd(3, 3),), {"lower": True}),
        Spec(sla.cholesky, (spd(3, 3), True), label="positional-lower"),
        Spec(sla.cholesky, (spd(2, 3, 3),), {"lower": True}),
        Spec(sla.cholesky, (spd(2, 4, 4),)),
        Spec(sla.cholesky, (lower_noise(spd(3, 3)),), label="lower-triangle-unread"),
        Spec(sla.cholesky, (upper_noise(spd(3, 3)),), {"lower": True}, label="upper-unread"),
        Spec(sla.cholesky, (spd(3, 3),), {"check_finite": False}),
        *[
            Spec(sla.solve_triangular, (triangular(*a), R(b)), kw)
            for a, b, kw in [
                ((3, 3), (3,), {}),  # upper, b a vector
                ((3, 3), (3,), {"lower": True}),
                ((3, 3), (3, 2), {"lower": True}),  # b a matrix
                ((3, 3), (3, 2), {"trans": 1}),
                ((3, 3), (3,), {"trans": "T", "lower": True}),
                ((3, 3), (3, 2), {"trans": 2, "lower": True}),
                ((3, 3), (3,), {"trans": "C"}),
                ((3, 3), (3, 2), {"trans": "N", "lower": True}),
                ((4, 4), (4, 2), {"unit_diagonal": True}),
                ((4, 4), (4,), {"unit_diagonal": True, "lower": True, "trans": 1}),
                ((2, 3, 3), (3,), {"lower": True}),  # a stack, one vector
                ((2, 3, 3), (2, 3, 4), {"trans": 1}),  # stacks
                ((3, 3), (2, 3, 2), {"lower": True}),  # one matrix, a stack of b
                ((1, 3, 3), (2, 3, 1), {}),  # stacks broadcast
                ((3, 3), (3,), {"check_finite": False}),
            ]
        ],
        Spec(sla.solve_triangular, (triangular(3, 3), R((3, 2)), 1, True), label="positional"),
        Spec(rt.solve_triangular, (triangular(3, 3), R((3,)))),
        Spec(rt.solve_triangular, (triangular(3, 3), R((3, 2)), 1, True), label="positional"),
        Spec(rt.solve_triangular, (triangular(2, 3, 3), R((2, 3, 2))), {"unit_diagonal": True}),
        Spec(sla.cho_factor, (spd(3, 3),), call=as_tuple(sla.cho_factor)),
        Spec(sla.cho_factor, (spd(3, 3),), {"lower": True}, call=as_tuple(sla.cho_factor)),
        Spec(sla.cho_factor, (spd(2, 3, 3), True), call=as_tuple(sla.cho_factor)),
        Spec(
            sla.cho_factor,
            (lower_noise(spd(3, 3)),),
            call=as_tuple(sla.cho_factor),
            label="other-triangle-passes-through",
        ),
        *[
            Spec(
                sla.cho_solve,
                ((sla.cho_factor(a, lower)[0], lower), R(b)),
                call=_cho_solve,
                wrt=(1,),
            )  # fmt: skip
            for a, lower, b in [
                (spd(3, 3), False, (3,)),
                (spd(3, 3), True, (3,)),
                (spd(3, 3), True, (3, 2)),
                (spd(2, 3, 3), False, (2, 3, 2)),
                (spd(2, 3, 3), True, (3,)),
            ]
        ],
        Spec(sla.det, (triangular(3, 3),)),
        Spec(sla.det, (triangular(3, 3),), {"check_finite": False}),
        Spec(sla.inv, (triangular(3, 3),)),
        Spec(sla.solve, (triangular(3, 3), R((3,)))),
        Spec(sla.solve, (triangular(3, 3), R((3, 2))), {"check_finite": False}),
        Spec(sla.expm, (R((3, 3)),)),
        Spec(sla.expm, (R((1, 1)),)),
        Spec(sla.expm, (3.0 * R((3, 3)),), label="scaled-and-squared", rtol=1e-5),
        Spec(sla.expm, (R((2, 3, 3)),)),
        Spec(rt.expm_frechet, (R((3, 3)), R((3, 3)))),
        Spec(rt.expm_frechet, (R((2, 2, 2)), R((2, 2, 2)))),
        Spec(sla.eigh, (spd(3, 3),), {"driver": "evd"}, call=as_tuple(sla.eigh)),
        Spec(
            sla.eigh,
            (upper_noise(spd(3, 3)),),
            {"driver": "evd"},
            call=as_tuple(sla.eigh),
            label="upper-unread",
        ),  # fmt: skip
        Spec(
            sla.eigh,
            (lower_noise(spd(3, 3)),),
            {"lower": False, "driver": "evd"},
            call=as_tuple(sla.eigh),
            label="lower-unread",
        ),  # fmt: skip
        Spec(sla.eigh, (upper_noise(spd(3, 3)),), {"eigvals_only": True}, label="upper-unread"),
        Spec(
            sla.eigh,
            (lower_noise(spd(4, 4)),),
            {"eigvals_only": True, "lower": False},
            label="lower-unread",
        ),  # fmt: skip
    ]


SPECS = _specs()


def _lu_solve(lu_and_piv, b, *args, **kwargs):
    """scipy.linalg.lu_solve called as it is: its specs name it as their ``call``, as
    cho_solve's do (the pair holds integer pivots); ``test_lu_solve_in_the_factor``
    checks the factor's gradient, and ``COMPILED`` both modes."""
    return sla.lu_solve(lu_and_piv, b, *args, **kwargs)


def _rt_lu_solve(lu_and_piv, b, *args, **kwargs):
    """rt.lu_solve called as it is (see ``_lu_solve``)."""
    return rt.lu_solve(lu_and_piv, b, *args, **kwargs)


def general(*shape):
    """A well conditioned matrix whose rows lu_factor swaps (its largest entries are off
    the diagonal)."""
    return L(shape, -1.0, 1.0) + 3.0 * np.eye(shape[-1])[::-1]


L = Sampler(48)
if HAS_SCIPY:
    SPECS += [
        Spec(sla.lu_factor, (general(3, 3),), call=as_tuple(sla.lu_factor)),
        Spec(
            sla.lu_factor, (general(4, 4),), {"check_finite": False}, call=as_tuple(sla.lu_factor)
        ),  # fmt: skip
        Spec(
            sla.lu_factor,
            (L((3, 3), -1.0, 1.0) + 3.0 * np.eye(3),),
            call=as_tuple(sla.lu_factor),
            label="no-swaps",
        ),  # fmt: skip
        *[
            Spec(sla.lu_solve, (sla.lu_factor(a), L(b)), kw, call=_lu_solve, wrt=(1,))
            for a, b, kw in [
                (general(3, 3), (3,), {}),
                (general(3, 3), (3, 2), {}),
                (general(4, 4), (4,), {"trans": 1}),
                (general(3, 3), (3, 2), {"trans": 2}),
                (general(3, 3), (3,), {"check_finite": False}),
            ]
        ],
        Spec(
            sla.lu_solve,
            (sla.lu_factor(general(3, 3)), L((3, 2)), 1),
            call=_lu_solve,
            wrt=(1,),
            label="positional-trans",
        ),  # fmt: skip
        Spec(rt.lu_solve, (sla.lu_factor(general(3, 3)), L((3,))), call=_rt_lu_solve, wrt=(1,)),
        Spec(
            rt.lu_solve, (sla.lu_factor(general(3, 3)), L((3, 2)), 1), call=_rt_lu_solve, wrt=(1,)
        ),  # fmt: skip
    ]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(
    SPECS,  # but cho_solve's, whose factor sits in a pair with a flag, which stays float64
    [
        s
        for s in SPECS
        if s.has_float_array()
        and s.call not in (_cho_solve, _lu_solve)
        and s.prim is not rt.lu_solve
    ],
)


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_the_table_at_a_larger_step(spec):
    check_vjp(spec.rule_fn, spec.primal, spec.args, spec.kwargs, spec.wrt, rtol=1e-5,
              atol=1e-8, seed=1, eps=STEPS[1])  # fmt: skip


# ---- values and structure ---------------------------------------------------------------


@needs_scipy
@pytest.mark.parametrize("lower", [False, True])
def test_cholesky_is_numpys_with_the_other_factor(lower):
    a, g = spd(3, 3), R((3, 3))
    ours = rule_grads(sla.cholesky, g, a, lower)[0]
    numpys = rule_grads(np.linalg.cholesky, g, a, call=np.linalg.cholesky, upper=not lower)[0]
    np.testing.assert_allclose(ours, numpys, rtol=1e-12, atol=1e-14)
    unread = np.triu(ours, 1) if lower else np.tril(ours, -1)
    np.testing.assert_array_equal(unread, 0.0)


@needs_scipy
def test_the_other_triangle_of_cho_factor_is_the_matrix_s():
    """The pass-through in cho_factor's rules rests on this (SciPy's documentation calls
    that triangle arbitrary): should SciPy change it, this fails first."""
    a = lower_noise(spd(3, 3))
    for lower in (False, True):
        c = sla.cho_factor(a, lower)[0]
        other = np.triu(c, 1) if lower else np.tril(c, -1)
        np.testing.assert_array_equal(other, np.triu(a, 1) if lower else np.tril(a, -1))
    c = sla.cho_factor(np.asfortranarray(a).astype(np.float32))[0]
    np.testing.assert_array_equal(np.tril(c, -1), np.tril(a, -1).astype(np.float32))


@needs_scipy
@pytest.mark.parametrize(
    "a, lower, b",
    [
        (spd(3, 3), False, (3,)),
        (upper_noise(spd(3, 3)), True, (3, 2)),
        (lower_noise(spd(2, 3, 3)), False, (3,)),
        (spd(2, 3, 3), True, (2, 3, 2)),
    ],
    ids=["upper-vector", "lower-matrix", "upper-stack-vector", "lower-stacks"],
)
def test_cho_solve_in_the_factor(a, lower, b):
    """The gradient of the factor, through the pair ``(c, lower)``: against central
    differences at two steps; none on the triangle not read."""
    c, b = sla.cho_factor(a, lower)[0], R(b)
    g = R(sla.cho_solve((c, lower), b).shape)
    (d_c, d_flag), d_b = rule_grads(sla.cho_solve, g, (c, lower), b)[:2]
    assert d_flag is None
    for eps in STEPS:
        expected = numeric_grad(lambda c: np.sum(g * sla.cho_solve((c, lower), b)), (c,), 0, eps)
        np.testing.assert_allclose(d_c, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(np.triu(d_c, 1) if lower else np.tril(d_c, -1), 0.0)
    c32, b32 = c.astype(np.float32), b.astype(np.float32)
    (d_c, _), d_b = rule_grads(sla.cho_solve, g.astype(np.float32), (c32, lower), b32)[:2]
    assert d_c.dtype == d_b.dtype == np.float32


@needs_scipy
@pytest.mark.parametrize("trans", [0, 1])
@pytest.mark.parametrize("b", [(4,), (4, 2)], ids=["vector", "matrix"])
def test_lu_solve_in_the_factor(b, trans):
    """The gradient of the factors, through the pair ``(lu, piv)``: against central
    differences at two steps; none for the pivots."""
    (lu, piv), b = sla.lu_factor(general(4, 4)), L(b)
    g = L(sla.lu_solve((lu, piv), b, trans).shape)
    (d_lu, d_piv), d_b = rule_grads(sla.lu_solve, g, (lu, piv), b, trans)[:2]
    assert d_piv is None
    for eps in STEPS:
        moved = numeric_grad(lambda lu: np.sum(g * sla.lu_solve((lu, piv), b, trans)), (lu,), 0,
                             eps)  # fmt: skip
        np.testing.assert_allclose(d_lu, moved, rtol=1e-6, atol=1e-8)
    lu32, b32 = lu.astype(np.float32), b.astype(np.float32)
    (d_lu, _), d_b = rule_grads(sla.lu_solve, g.astype(np.float32), (lu32, piv), b32, trans)[:2]
    assert d_lu.dtype == d_b.dtype == np.float32


@needs_scipy
def test_lu_of_a_stack_is_refused():
    with pytest.raises(sd.CompileError, match="lu_factor and lu_solve of a stack"):
        sd.grad(lu_of_a_stack)(np.stack([general(3, 3)] * 2))


def lu_of_a_stack(a):
    return np.sum(np.sin(sla.lu_factor(a)[0]))


@needs_scipy
def test_expm_of_a_diagonal_matrix():
    """exp(diag(a)) = diag(exp(a)): its gradient along the diagonal is exp(a)."""
    d = rule_grads(sla.expm, np.eye(2), np.diag([0.5, -1.0]))[0]
    np.testing.assert_allclose(d, np.diag(np.exp([0.5, -1.0])), atol=1e-14)


@needs_scipy
def test_expm_frechet_keeps_float32():
    a = R((3, 3)).astype(np.float32)
    assert rt.expm_frechet(a, a).dtype == np.float32
    assert lookup(sla.expm).fn(np.ones((3, 3), np.float32), sla.expm(a), a).dtype == np.float32


# ---- through the compiler ---------------------------------------------------------------

Y = R((3,))


def gaussian_process(a, y):
    """A Gaussian's negative log-likelihood, through a lower Cholesky factor."""
    low = sla.cholesky(a, lower=True)
    z = sla.solve_triangular(low, y, lower=True)
    return 0.5 * np.sum(z**2) + np.sum(np.log(np.diagonal(low)))


def upper_factor(a, y):
    """The same through SciPy's default upper factor: a = U^T U, z = U^-T y."""
    u = sla.cholesky(a)
    z = sla.solve_triangular(u, y, trans="T")
    return 0.5 * np.sum(z**2) + np.sum(np.log(np.diagonal(u)))


def triangular_systems(a, b):
    x = sla.solve_triangular(a, b, lower=True, trans=1)
    y = sla.solve_triangular(a, x * x, unit_diagonal=True)
    return np.sum(y**2) + np.sum(x)


def cholesky_solves(a, b):
    c, low = sla.cho_factor(a)
    x = sla.cho_solve((c, low), b)
    y = sla.cho_solve(sla.cho_factor(a, lower=True), x)
    return np.sum(x * b) + np.sum(y**2)


def exponential(a, w):
    return np.sum(sla.expm(a) * w) + np.sum(sla.expm(0.5 * a) ** 2)


def lu_solves(a, b):
    """Solves with ``a`` and its transpose through one factorisation, the factors read."""
    lu, piv = sla.lu_factor(a)
    x = sla.lu_solve((lu, piv), b)
    y = sla.lu_solve(sla.lu_factor(a), x * x, trans=1)
    return np.sum(y**2) + np.sum(x) + np.sum(np.sin(lu))


COMPILED = [
    (gaussian_process, (spd(3, 3), R((3,)))),
    (upper_factor, (lower_noise(spd(3, 3)), R((3,)))),
    (triangular_systems, (triangular(3, 3), R((3, 2)))),
    (cholesky_solves, (spd(3, 3), R((3,)))),
    (cholesky_solves, (spd(3, 3), R((3, 2)))),
    (exponential, (R((3, 3)), R((3, 3)))),
    (exponential, (R((2, 3, 3)), R((2, 3, 3)))),
    # a stack: cho_factor gives one flag per matrix, an array (it crashed the rules)
    (cholesky_solves, (spd(2, 3, 3), R((2, 3, 2)))),
    (lu_solves, (general(4, 4), L((4,)))),
    (lu_solves, (general(3, 3), L((3, 2)))),
] if HAS_SCIPY else []  # fmt: skip
COMPILED_IDS = [f"{f.__name__}-{'x'.join(map(str, a[1].shape))}" for f, a in COMPILED]


@pytest.mark.parametrize("f, args", COMPILED, ids=COMPILED_IDS)
@pytest.mark.parametrize("eps", STEPS)
def test_compiled_gradient_matches_finite_differences(f, args, eps):
    check_grads(f, sd.grad(f, wrt=(0, 1)), args, wrt=(0, 1), rtol=1e-5, atol=1e-7, eps=eps)


@pytest.mark.parametrize("f, args", COMPILED, ids=COMPILED_IDS)
def test_compiled_float32_gradients_stay_float32(f, args):
    args32 = tuple(a.astype(np.float32) for a in args)
    grads = sd.grad(f, wrt=(0, 1))(*args32)
    for a, d, d64 in zip(args32, grads, sd.grad(f, wrt=(0, 1))(*args), strict=True):
        assert d.dtype == np.float32 and d.shape == a.shape
        np.testing.assert_allclose(d, d64, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("f, args", COMPILED, ids=COMPILED_IDS)
def test_compiled_forward_mode_matches_finite_differences(f, args):
    rng = np.random.default_rng(11)
    tangents = [rng.standard_normal(a.shape) for a in args]
    value, tangent = sd.jvp(f, args, tangents)
    assert value == pytest.approx(f(*args), rel=1e-12)
    for eps in STEPS:
        plus = [a + eps * t for a, t in zip(args, tangents, strict=True)]
        minus = [a - eps * t for a, t in zip(args, tangents, strict=True)]
        fd = (f(*plus) - f(*minus)) / (2 * eps)
        assert float(tangent) == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("f, args", COMPILED, ids=COMPILED_IDS)
def test_compiled_hessian_vector_product_matches_differences_of_the_gradient(f, args):
    """Reverse mode over forward mode: every forward rule above differentiated again."""
    rng = np.random.default_rng(12)
    v = [rng.standard_normal(a.shape) for a in args]
    hv = sd.hvp(f, args, v)
    grad = sd.grad(f, wrt=(0, 1))
    for eps in STEPS:
        plus = grad(*[a + eps * t for a, t in zip(args, v, strict=True)])
        minus = grad(*[a - eps * t for a, t in zip(args, v, strict=True)])
        for got, p, m in zip(hv, plus, minus, strict=True):
            np.testing.assert_allclose(got, (p - m) / (2 * eps), rtol=1e-5, atol=1e-6)


@needs_scipy
def test_hessian_of_a_gaussian_process_in_its_covariance():
    a, y = spd(3, 3), R((3,))
    h = sd.hessian(gaussian_process)(a, y).reshape(9, 9)
    grad = sd.grad(gaussian_process)
    for eps in STEPS:
        columns = []
        for k in range(9):
            step = np.zeros(9)
            step[k] = eps
            step = step.reshape(3, 3)
            columns.append(((grad(a + step, y) - grad(a - step, y)) / (2 * eps)).ravel())
        np.testing.assert_allclose(h, np.stack(columns, axis=-1), rtol=1e-5, atol=1e-6)


@needs_scipy
def test_the_refused_call_of_the_repro_now_differentiates():
    """scipy.linalg's functions were compiled from SciPy's source, and refused."""
    a = np.array([[2.0, 0.3], [0.3, 1.0]])
    y = np.array([1.0, -0.5])

    def gp(a):
        low = sla.cholesky(a, lower=True)
        return np.sum(sla.solve_triangular(low, y, lower=True) ** 2)

    check_grads(gp, sd.grad(gp), (a,))


# ---- refusals ---------------------------------------------------------------------------


def overwrites_a(a):
    return np.sum(sla.cholesky(a * 1.0, overwrite_a=True))  # the line refused


def overwrites_factor(a):
    return np.sum(sla.cho_factor(a * 1.0, overwrite_a=True)[0])  # the line refused


def overwrites_b(a):
    return np.sum(sla.solve_triangular(a, a[:, 0] * 1.0, overwrite_b=True))  # the line refused


def overwrites_b_of_cho_solve(a):
    return np.sum(sla.cho_solve((a, False), a[:, 0] * 1.0, overwrite_b=True))  # the line refused


@needs_scipy
@pytest.mark.parametrize(
    "f, keyword",
    [
        (overwrites_a, "overwrite_a"),
        (overwrites_factor, "overwrite_a"),
        (overwrites_b, "overwrite_b"),
        (overwrites_b_of_cho_solve, "overwrite_b"),
    ],
)
@pytest.mark.parametrize("mode", ["grad", "jvp", "hvp"])
def test_overwriting_an_argument_is_refused_at_the_users_line(f, keyword, mode):
    lines, first = inspect.getsourcelines(f)
    line = first + next(i for i, t in enumerate(lines) if "the line refused" in t)
    a = spd(3, 3)
    with pytest.raises(sd.CompileError, match=f"{keyword}=True") as info:
        if mode == "grad":
            sd.grad(f)(a)
        else:
            getattr(sd, mode)(f, (a,), (a,))
    assert (info.value.filename, info.value.lineno) == (__file__, line)


# ---- np.linalg.eigh at repeated eigenvalues ---------------------------------------------


def _rotated(values, seed=3):
    """A symmetric matrix with these eigenvalues, in a random basis."""
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(values),) * 2))[0]
    return (q * np.asarray(values, dtype=float)) @ q.T


def eigenvalues_squared(a):
    w, v = np.linalg.eigh(a)  # the eigenvectors unused: sum(w**2) is smooth everywhere
    return np.sum(w**2) + np.sum(w)


def eigvalsh_squared(a):
    w = np.linalg.eigvalsh(a)
    return np.sum(w**2) + np.sum(w)


def eigenvector_of_the_largest(a):
    w, v = np.linalg.eigh(a)
    return np.sum(v[:, -1] ** 2 * np.arange(1.0, 4.0)) + w[-1]  # sign free, eigenvalue simple


def eigenvector_of_a_repeated_eigenvalue(a):
    w, v = np.linalg.eigh(a)  # the line refused
    return np.sum(v[:, 0] ** 3)


@pytest.mark.parametrize(
    "a",
    [np.eye(3), np.diag([1.0, 1.0, 3.0]), _rotated([2.0, 2.0, -1.0]), np.zeros((3, 3))],
    ids=["identity", "diagonal-pair", "rotated-pair", "zero"],
)
def test_eigh_of_eigenvalues_alone_at_repeated_eigenvalues(a):
    """As eigvalsh at the same point, and as central differences of the function."""
    d = sd.grad(eigenvalues_squared)(a)
    np.testing.assert_allclose(d, sd.grad(eigvalsh_squared)(a), rtol=1e-12, atol=1e-12)
    for eps in STEPS:
        check_grads(eigenvalues_squared, sd.grad(eigenvalues_squared), (a,), eps=eps)


def test_eigh_of_the_eigenvector_of_a_simple_eigenvalue_beside_a_repeated_pair():
    """The third eigenvector of eigenvalues (1, 1, 3) has a derivative, whatever basis
    LAPACK picks in the pair's eigenspace."""
    a = _rotated([1.0, 1.0, 3.0])
    for eps in STEPS:
        check_grads(eigenvector_of_the_largest, sd.grad(eigenvector_of_the_largest), (a,),
                    eps=eps, rtol=1e-5, atol=1e-7)  # fmt: skip


def test_eigh_of_a_stack_with_a_tie_in_one_matrix():
    a = np.stack([np.eye(3), _rotated([0.5, 1.5, 4.0])])
    ans = np.linalg.eigh(a)
    g = (R((2, 3)), np.zeros((2, 3, 3)))
    g[0][0, :] = 0.7  # the same across the identity's tie: a function of its trace
    d = rule_grads(np.linalg.eigh, g, a, call=as_tuple(np.linalg.eigh))[0]
    expected = rule_grads(np.linalg.eigvalsh, g[0], a)[0]
    np.testing.assert_allclose(d, expected, rtol=1e-12, atol=1e-12)
    g[1][1, :, 0] = 1.0  # an eigenvector of the matrix without ties: fine
    rule_grads(np.linalg.eigh, g, a, call=as_tuple(np.linalg.eigh))
    g[1][0, :, 0] = 1.0  # one of the identity's: refused
    with pytest.raises(sd.CompileError, match="repeated eigenvalue"):
        lookup(np.linalg.eigh).fn(g, ans, a)


def test_eigh_refuses_an_eigenvector_of_a_repeated_eigenvalue_at_the_users_line():
    lines, first = inspect.getsourcelines(eigenvector_of_a_repeated_eigenvalue)
    line = first + next(i for i, t in enumerate(lines) if "the line refused" in t)
    for derivative in (sd.grad, lambda f: lambda a: sd.jvp(f, (a,), (np.ones((3, 3)),))):
        with pytest.raises(sd.CompileError, match="repeated eigenvalues") as info:
            derivative(eigenvector_of_a_repeated_eigenvalue)(np.eye(3))
        assert (info.value.filename, info.value.lineno) == (__file__, line)


def test_eigh_with_distinct_eigenvalues_is_unchanged():
    a = _rotated([-1.0, 0.5, 2.5])
    f = eigenvector_of_a_repeated_eigenvalue  # there: distinct, so differentiable
    check_grads(f, sd.grad(f), (a,), rtol=1e-5, atol=1e-7)


def test_scipy_linalg_rules_exist_only_with_scipy():
    from srcdiff.rules import scipy_linalg

    assert len(scipy_linalg.SCIPY_LINALG) == (7 if HAS_SCIPY else 0)


@pytest.mark.skipif(not HAS_SCIPY, reason="SciPy is optional")
def test_det_inv_and_solve_of_a_general_matrix_take_numpys_derivatives():
    """scipy.linalg.det, inv and solve were compiled from SciPy's source and refused with
    a message about arrays changed after a call inside it; of a general matrix they
    compute what np.linalg's functions compute, and take their derivatives."""
    import scipy.linalg as sla

    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    b, bm = rng.normal(size=3), rng.normal(size=(3, 2))
    cases = [
        (lambda a: sla.det(a), (a,)),
        (lambda a: np.sum(np.sin(sla.inv(a))), (a,)),
        (lambda a, b: np.sum(np.sin(sla.solve(a, b))), (a, b)),
        (lambda a, b: np.sum(np.sin(sla.solve(a, b, check_finite=False))), (a, bm)),
    ]
    for f, args in cases:
        wrt = tuple(range(len(args)))
        value, grads = sd.value_and_grad(f, wrt=wrt)(*args)
        assert value == pytest.approx(f(*args))
        for i, g in zip(wrt, grads, strict=True):
            np.testing.assert_allclose(g, numeric_grad(f, args, i), rtol=1e-5, atol=1e-7)
    tangent = sd.jvp(lambda a: sla.det(a), (a,), (np.eye(3),))[1]
    assert tangent == pytest.approx(np.trace(np.linalg.det(a) * np.linalg.inv(a)))


@pytest.mark.skipif(not HAS_SCIPY, reason="SciPy is optional")
def test_det_inv_and_solve_that_read_a_triangle_or_write_are_refused():
    import scipy.linalg as sla

    a = np.eye(3) * 2.0 + 0.1
    b = np.ones(3)
    for f, match in [
        (lambda a: np.sum(sla.solve(a, b, assume_a="pos")), "solve with assume_a='pos'"),
        (lambda a: np.sum(sla.solve(a, b, transposed=True)), "None, transposed=True"),
        (lambda a: np.sum(sla.inv(a, overwrite_a=True)), "inv with overwrite_a=True"),
        (lambda a: sla.det(a, overwrite_a=True), "det with overwrite_a=True"),
        (lambda a: np.sum(sla.solve(a, b, overwrite_b=True)), "write into b[,]"),
    ]:  # (a match the quoted line holds proves nothing)
        with pytest.raises(sd.CompileError, match=match):
            sd.grad(f)(a.copy())


def factors(a):
    return np.sum(sla.cholesky(a * 1.0)) + np.sum(sla.solve_triangular(a, a[:, 0]))


@needs_scipy
def test_a_check_of_an_argument_left_at_its_default_leaves_no_code():
    """``if overwrite_a: raise ...`` of a literal False is no statement of the adjoint."""
    grad = sd.grad(factors)
    grad(spd(3, 3))
    source = sd.source(grad)
    assert "overwrite" not in source and "if False" not in source
    det = sd.grad(lambda a: sla.det(a))
    det(spd(3, 3))
    assert "rt.scipy_as_numpy" not in sd.source(det)


def _eigh_of_two(a, b):
    return np.sum(sla.eigh(a, b, eigvals_only=True))


def _eigh_subset(a):
    return np.sum(sla.eigh(a, subset_by_index=[0, 1])[0])


@needs_scipy
@pytest.mark.parametrize("fn, args", [(_eigh_of_two, 2), (_eigh_subset, 1)], ids=["b", "subset"])
def test_eigh_of_a_pair_or_of_a_subset_is_refused(fn, args):
    """A generalized problem and a subset of the eigenvalues: refused, in both modes."""
    given = [spd(3, 3) for _ in range(args)]
    with pytest.raises(sd.CompileError, match="scipy.linalg.eigh with b="):
        sd.grad(fn, wrt=tuple(range(args)))(*given)
    with pytest.raises(sd.CompileError, match=r"(argument b|with b=).*eigh|eigh with b="):
        sd.jvp(fn, tuple(given), tuple(np.ones_like(a) for a in given))


def _eigh_vector(a):
    return np.sum(sla.eigh(a)[1][:, 0] ** 3)


def _eigh_values(a):
    w, v = sla.eigh(a)
    return np.sum(w**2)


@needs_scipy
def test_eigh_eigenvectors_by_the_default_driver_are_refused():
    """Its driver 'evr' picks the eigenvectors' signs anew under rounding-sized changes of
    the matrix (finite differences jump): refused where they are used, in both modes; the
    eigenvalues have their derivatives in both (forward mode refused them too, the
    eigenvectors being asked for though unused)."""
    a = spd(3, 3)
    with pytest.raises(sd.CompileError, match="driver 'evr'"):
        sd.grad(_eigh_vector)(a)
    with pytest.raises(sd.CompileError, match="driver 'evr'"):
        sd.jvp(_eigh_vector, (a,), (np.ones_like(a),))
    w, v = np.linalg.eigh(a)
    s = (v * 2 * w) @ v.T  # the gradient along symmetric changes, read from the lower triangle
    expected = np.tril(2 * s) - np.diag(np.diag(s))
    np.testing.assert_allclose(sd.grad(_eigh_values)(a), expected, rtol=1e-9, atol=1e-12)
    direction = np.cos(np.arange(9.0)).reshape(3, 3)
    _, tangent = sd.jvp(_eigh_values, (a,), (direction,))
    for h in (1e-6, 1e-4):
        numeric = (_eigh_values(a + h * direction) - _eigh_values(a - h * direction)) / (2 * h)
        assert tangent == pytest.approx(numeric, rel=1e-6)
    assert tangent == pytest.approx(np.sum(expected * direction), rel=1e-9)


def _hessian_by_differences(f, a, eps):
    """Central differences of ``sd.grad(f)``, one column per entry of ``a``."""
    grad, n = sd.grad(f), a.size
    columns = []
    for k in range(n):
        step = np.zeros(n)
        step[k] = eps
        step = step.reshape(a.shape)
        columns.append(((grad(a + step) - grad(a - step)) / (2 * eps)).ravel())
    return np.stack(columns, axis=-1)


@needs_scipy
@pytest.mark.parametrize("driver", [None, "evr", "evd"])
def test_hessian_of_eigh_eigenvalues_by_any_driver(driver):
    """The eigenvalues' gradient V diag(g) V^T does not depend on the eigenvectors' signs;
    read with np.linalg.eigh's V, it has a derivative by the driver 'evr' too (the
    default, refused before as if its eigenvectors were used)."""
    a = spd(3, 3)

    def f(a):
        w, v = sla.eigh(a, driver=driver)
        return np.sum(np.array([1.0, -2.0, 0.5]) * w**2)

    h = sd.hessian(f)(a).reshape(9, 9)
    for eps in (1e-5, 1e-4):
        np.testing.assert_allclose(h, _hessian_by_differences(f, a, eps), rtol=1e-5, atol=1e-6)


# ---- eigenvalues and singular values at ties -----------------------------------------------


def _smallest_eigvalsh(a):
    return np.linalg.eigvalsh(a)[0]


def _smallest_of_scipy(a):
    return sla.eigh(a, eigvals_only=True)[0]


def _smallest_of_the_pair(a):
    w, v = sla.eigh(a)
    return w[0]


def _smallest_of_eigh(a):
    w, v = np.linalg.eigh(a)
    return w[0] + 0.0 * np.sum(w)


def _largest_singular_value(a):
    return np.linalg.svd(a, compute_uv=False)[0]


TIES = [(_smallest_eigvalsh, np.diag([1.0, 1.0, 3.0])),
        (_smallest_of_scipy, _rotated([1.0, 1.0, 3.0])),
        (_smallest_of_the_pair, np.diag([1.0, 1.0, 3.0])),
        (_smallest_of_eigh, _rotated([-1.0, -1.0, 2.0])),
        (_largest_singular_value, np.diag([3.0, 3.0, 1.0]))]  # fmt: skip


@needs_scipy
@pytest.mark.parametrize("f, a", TIES, ids=[f.__name__ for f, _ in TIES])
def test_one_of_tied_values_has_no_gradient_refused(f, a):
    """The smaller of two equal eigenvalues moves as a minimum does (its one-sided
    differences disagree): the gradient of the basis LAPACK picked, which JAX and PyTorch
    return, is refused, and so is forward mode along a change that moves them apart."""
    direction = np.cos(np.arange(9.0)).reshape(3, 3)
    direction = direction + direction.T
    h = 1e-6
    right = (f(a + h * direction) - f(a)) / h
    left = (f(a) - f(a - h * direction)) / h
    assert abs(right - left) > 1e-2  # (no derivative: a kink)
    with pytest.raises(sd.CompileError, match="repeated (eigenvalues|singular values)"):
        sd.grad(f)(a)
    with pytest.raises(sd.CompileError, match="repeated (eigenvalues|singular values)"):
        sd.jvp(f, (a,), (direction,))


@needs_scipy
@pytest.mark.parametrize("f", [_smallest_eigvalsh, _smallest_of_scipy, _smallest_of_the_pair])
def test_tied_eigenvalues_along_a_change_keeping_them_tied(f):
    """Along a change that keeps the tie (a multiple of the identity on its eigenspace),
    they move together: forward mode gives that derivative."""
    a = np.diag([1.0, 1.0, 3.0])
    direction = np.diag([0.5, 0.5, -2.0])
    _, tangent = sd.jvp(f, (a,), (direction,))
    for h in STEPS:
        assert tangent == pytest.approx((f(a + h * direction) - f(a - h * direction)) / (2 * h))


def _tied_singular_values_squared(a):
    return np.sum(np.linalg.svd(a, compute_uv=False) ** 2)


def test_a_function_of_tied_singular_values_alike_has_its_gradient():
    """sum(s**2) is the squared Frobenius norm: smooth where singular values tie."""
    a = np.diag([3.0, 3.0, 1.0])
    for eps in STEPS:
        check_grads(_tied_singular_values_squared, sd.grad(_tied_singular_values_squared),
                    (a,), eps=eps)  # fmt: skip
    np.testing.assert_allclose(sd.grad(_tied_singular_values_squared)(a), 2 * a, rtol=1e-12)
