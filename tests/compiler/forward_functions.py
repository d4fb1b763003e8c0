"""Functions through the forward rules that came late (einsum, np.r_ and np.c_, trapezoid,
splits and atleast_*, math.hypot, a repeated list, Tensor max and min, the decompositions)
and the helpers that forward rules call (norms, cumulative products, matrix powers,
interpolation, special functions): ``test_forward`` compares their tangents, and
``test_higher_order`` their Hessian-vector products, with central differences.

Each entry is ``(function, arguments)``; the matrices are chosen where the functions are
differentiable: distinct eigenvalues and singular values, full rank.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from srcdiff.runtime import tensor_methods as tm

R = np.random.default_rng(41)


def _uniform(*shape, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, shape)


def symmetric(n: int) -> np.ndarray:
    """Symmetric, eigenvalues about 2 apart, with noise in the upper triangle (which the
    functions of a symmetric matrix do not read)."""
    a = _uniform(n, n, lo=-0.3, hi=0.3)
    return a + a.T + np.diag(2.0 * np.arange(n)) + np.triu(_uniform(n, n), 1)


def well_conditioned(*shape) -> np.ndarray:
    return _uniform(*shape) + 2.0 * np.eye(shape[-2], shape[-1])


W = _uniform(4, 5)


# ---- einsum --------------------------------------------------------------------------------


def einsum_ellipsis(a, b):
    return np.sum(np.sin(np.einsum("...ij,...jk->...ik", a, b)))


def einsum_implicit_ellipsis(a, b):
    """Implicit output with ``...`` broadcast from length 1: ``'...ik'``."""
    return np.sum(np.einsum("...ij,...jk", a, b) ** 2)


def einsum_one_operand_twice(a):
    """A trace and the same array as two operands (a tangent term for each)."""
    return np.einsum("ii", a) ** 2 + np.einsum("ij,ij", a, a)


def einsum_sublists(a, b):
    return np.sum(np.einsum(a, [Ellipsis, 0, 1], b, [1, 2], [Ellipsis, 0, 2]) ** 2)


def einsum_three_operands(a, b, c):
    return np.einsum("ij,jk,kl->", a, b, c) ** 2


# ---- joins, splits, integrals --------------------------------------------------------------


def r_join(a, b):
    """A slice's range and a number among the pieces (their tangents are zero)."""
    return np.sum(np.r_[a, 0:3, b, 2.0] ** 3)


def c_join(a, b):
    return np.sum(np.c_[a, b] ** 3)


def trapezoid_samples(y, x):
    return np.sum(np.trapezoid(y, x, axis=0) ** 2)


def trapezoid_spacing(y, dx):
    return np.sum(np.trapezoid(y**2, dx=dx))


def split_and_promote(a, b):
    parts = np.array_split(a, 3)
    x, y = np.atleast_2d(b, a[0])
    return (
        np.sum(parts[0] ** 2)
        + np.sum(parts[2] * parts[1][0])
        + np.sum(x**3)
        + np.sum(y) * np.sum(np.atleast_3d(b) ** 2)
        + np.sum(np.atleast_1d(a[1]) ** 3)
    )


def hypot_of_numbers(a, b):
    return math.hypot(a, 2.0, b) ** 3 + math.hypot(a)


def repeated_list(a, b):
    xs = [a, b] * 3
    return np.sum(xs[0] * xs[3] + xs[5] ** 2)


def tensor_extremes(x):
    values, indices = tm.max(x, 1)
    low, _ = tm.min(x, 0, True)
    return np.sum(values**2) + tm.min(x) ** 3 + np.sum(low**3)


# ---- decompositions ------------------------------------------------------------------------


def eigh_values_and_vectors(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w**3) + np.sum(v**3) + np.sum(v[:, 0] * W[0, :4])


def eigh_upper(a):
    w, v = np.linalg.eigh(a, "U")
    return np.sum(w * np.arange(1.0, 4.0)) + np.sum(v**3)


def svd_full_square(a):
    """``full_matrices=True`` (the default) of a square matrix: the reduced SVD."""
    u, s, vh = np.linalg.svd(a)
    return np.sum(u**3) + np.sum(s**3) + np.sum(vh**3) + np.sum(u[:, 0] * vh[0, :])


def svd_reduced(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(u**3) + np.sum(s**2 * np.arange(3.0)) + np.sum(vh**3)


def svd_hermitian(a):
    u, s, vh = np.linalg.svd(a, hermitian=True)
    return np.sum(u**3) + np.sum(s**3) + np.sum(vh**3)


def svd_values(a):
    return np.sum(np.linalg.svd(a, compute_uv=False) ** 3)


def pinv_cubed(a):
    return np.sum(np.linalg.pinv(a) ** 3)


def pinv_hermitian(a):
    return np.sum(np.linalg.pinv(a, hermitian=True) ** 3)


def qr_both(a):
    q, r = np.linalg.qr(a)
    return np.sum(q**3) + np.sum(r**3)


def qr_r_only(a):
    return np.sum(np.linalg.qr(a, mode="r") ** 3)


def least_squares(a, b):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return np.sum(x**3) + np.sum(residuals**2) + np.sum(s**3)


# ---- the helpers of forward rules (second derivatives) -------------------------------------


def norms_of_vectors(x):
    return (
        np.sum(np.linalg.norm(x, axis=0) ** 2 * W[0, :4])
        + np.linalg.norm(x) ** 3
        + np.sum(np.linalg.norm(x, ord=3, axis=1, keepdims=True) * x)
        + np.sum(np.linalg.norm(x, ord=0.5, axis=1) ** 2)
        + np.sum(np.linalg.norm(x, ord=np.inf, axis=1) ** 2)
    )


def norms_of_matrices(x):
    return (
        np.linalg.norm(x, "fro") ** 3
        + np.linalg.norm(x, "nuc") ** 2
        + np.linalg.norm(x, 2) ** 2
        + np.linalg.norm(x, -2) ** 3
        + np.linalg.norm(x, 1) ** 2
    )


def norms_of_a_stack(x):
    return np.sum(np.linalg.norm(x, "nuc", axis=(0, 2)) ** 2)


ZEROS = np.ones((3, 5))
ZEROS[0, 1] = ZEROS[1, 1] = ZEROS[1, 3] = ZEROS[2, 0] = ZEROS[2, 2] = ZEROS[2, 3] = 0.0


def cumprod_through_zeros(x):
    """Lanes with one, two and three zeros (the helpers' exact cases)."""
    return np.sum(np.cumprod(x * ZEROS, axis=1) * W[:3]) + np.sum(np.cumprod(x * ZEROS) ** 2)


def products(x, y):
    """Products of lanes with no zero, one, two and three zeros, and a list sorted in place
    (their forward rules' helpers have rules of their own)."""
    z = x * ZEROS[:, :4]
    ys = [y[0] * 1.0, y[1] * 2.0, y[2] - 0.5]
    ys.sort()
    return np.sum(np.prod(z, axis=1) ** 2) + np.prod(x) + ys[0] * ys[1] + ys[2] ** 3


def matrix_powers(a):
    return (
        np.sum(np.linalg.matrix_power(a, 3) ** 2)
        + np.sum(np.linalg.matrix_power(a, -2) ** 2)
        + np.sum(np.linalg.matrix_power(a, 1) ** 3)
    )


SAMPLES = np.array([-1.3, -0.2, 0.4, 1.1, 2.5])


def interp_inside_and_out(x, points, values, left, right):
    return np.sum(np.interp(x, points, values) ** 2) + np.sum(
        np.interp(x, points, values, left, right) ** 2 * (1.0 + x)
    )


def interp_periodic(x, points, values):
    return np.sum(np.interp(x, points, values, period=3.0) ** 2 * (1.0 + x))


NAN_AT = np.zeros((3, 4), dtype=bool)
NAN_AT[0, 2] = NAN_AT[2, 0] = True


def extremes_skipping_nan(x):
    y = np.where(NAN_AT, np.nan, x)
    return (
        np.sum(np.nanmax(y, axis=0) ** 2)
        + np.sum(np.nanmin(y, axis=1, keepdims=True) ** 3)
        + np.sum(np.max(x, axis=0, initial=-1.0) ** 2)
    )


HAS_SCIPY = importlib.util.find_spec("scipy") is not None
if HAS_SCIPY:
    import scipy.special as special


def special_functions(x):
    return (
        np.sum(special.digamma(x) ** 2)
        + np.sum(special.gamma(x) ** 2)
        + np.sum(special.gammaln(x) ** 2)
    )


def math_gamma(s):
    return math.gamma(s) ** 2 + math.lgamma(s + 3.0) ** 2


def angle_of_reals(x):
    return np.sum(np.angle(x) * x**2)


FORWARD_CASES = [
    (einsum_ellipsis, (_uniform(2, 3, 4), _uniform(4, 5))),
    (einsum_implicit_ellipsis, (_uniform(1, 3, 4), _uniform(5, 4, 2))),
    (einsum_one_operand_twice, (_uniform(3, 3),)),
    (einsum_sublists, (_uniform(2, 2, 3), _uniform(3, 4))),
    (einsum_three_operands, (_uniform(2, 3), _uniform(3, 4), _uniform(4, 2))),
    (r_join, (_uniform(3), _uniform(2))),
    (c_join, (_uniform(3), _uniform(3, 2))),
    (trapezoid_samples, (_uniform(4, 3), np.cumsum(R.uniform(0.5, 1.0, 4)))),
    (trapezoid_spacing, (_uniform(4, 3), 0.7)),
    (split_and_promote, (_uniform(7), _uniform(3))),
    (hypot_of_numbers, (0.7, -1.2)),
    (repeated_list, (_uniform(3), _uniform(3))),
    (tensor_extremes, (_uniform(3, 4),)),
    (eigh_values_and_vectors, (symmetric(4),)),
    (eigh_upper, (symmetric(3).T,)),
    (svd_full_square, (_uniform(3, 3),)),
    (svd_reduced, (_uniform(4, 3),)),
    (svd_reduced, (_uniform(3, 5),)),
    (svd_hermitian, (symmetric(3),)),
    (svd_values, (_uniform(4, 3),)),
    (pinv_cubed, (_uniform(4, 3),)),
    (pinv_cubed, (_uniform(3, 5),)),
    (pinv_hermitian, (np.tril(symmetric(3)) + np.tril(symmetric(3), -1).T + 3 * np.eye(3),)),
    (qr_both, (_uniform(5, 3),)),
    (qr_both, (_uniform(3, 3),)),
    (qr_r_only, (_uniform(4, 3),)),
    (least_squares, (_uniform(5, 3), _uniform(5))),
    (least_squares, (_uniform(5, 3), _uniform(5, 2))),
    (least_squares, (_uniform(3, 5), _uniform(3, 2))),
]

SECOND_ORDER_CASES = [
    *FORWARD_CASES,
    (norms_of_vectors, (_uniform(3, 4, lo=-2.0, hi=2.0),)),
    (norms_of_matrices, (_uniform(3, 4, lo=-2.0, hi=2.0),)),
    (norms_of_a_stack, (_uniform(3, 2, 4),)),
    (cumprod_through_zeros, (_uniform(3, 5, lo=0.5, hi=1.5),)),
    (matrix_powers, (well_conditioned(3, 3),)),
    (products, (_uniform(3, 4, lo=0.5, hi=1.5), _uniform(3))),
    (
        interp_inside_and_out,
        (np.array([-2.0, -0.9, 0.1, 0.7, 1.6, 2.2, 3.0]), SAMPLES, _uniform(5), 0.3, -0.7),
    ),  # fmt: skip
    (
        interp_periodic,
        (_uniform(9, lo=-4.0, hi=8.0), np.array([0.3, 2.6, 1.2, 1.9]), _uniform(4)),
    ),  # fmt: skip
    (extremes_skipping_nan, (_uniform(3, 4, lo=-2.0, hi=2.0),)),
    *([(special_functions, (_uniform(3, 4, lo=0.3, hi=4.0),))] if HAS_SCIPY else []),
    (math_gamma, (2.3,)),
    (math_gamma, (-1.3,)),
    (angle_of_reals, (_uniform(3, 4),)),
]


def case_id(case) -> str:
    fn, args = case
    return f"{fn.__name__}-" + "-".join("x".join(map(str, np.shape(a))) or "0d" for a in args)
