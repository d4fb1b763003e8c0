"""Rules of np.linalg: inv, solve, det, slogdet, cholesky, eigh, eigvalsh, svd, pinv, qr,
matrix_power, lstsq (on stacks of matrices where NumPy takes them).

The formulas are the classical ones (Giles 2008, "An extended collection of matrix
derivative results for forward and reverse mode algorithmic differentiation"; the others
are cited at their helpers in ``runtime/contractions.py``), derived again here; they hold
where the function is differentiable: invertible matrices, distinct eigenvalues and
singular values, full rank. Functions of a symmetric matrix read one triangle of what
they are given, and so do their gradients (see ``rt.triangle_grad``).
"""

import numpy as xp

from .. import runtime as rt
from .registry import vjp


@vjp(xp.linalg.inv)
def inv(g, ans, a):
    """d(A^-1) = -A^-1 dA A^-1, so A_bar = -A^-T G A^-T."""
    t = xp.swapaxes(ans, -1, -2)
    return -(t @ g @ t)


@vjp(xp.linalg.solve)
def solve(g, ans, a, b):
    """x = A^-1 b: b_bar = A^-T x_bar, A_bar = -b_bar x^T. ``b`` is a vector only when
    1-D (as NumPy 2 reads it); stacks broadcast."""
    vector = xp.ndim(b) == 1
    gm = g[..., None] if vector else g
    xm = ans[..., None] if vector else ans
    db = xp.linalg.solve(xp.swapaxes(a, -1, -2), gm)
    return (
        rt.unbroadcast(-(db @ xp.swapaxes(xm, -1, -2)), a),
        rt.unbroadcast(db[..., 0] if vector else db, b),
    )


@vjp(xp.linalg.det)
def det(g, ans, a):
    """d det A = det A tr(A^-1 dA), so A_bar = g det(A) A^-T."""
    return xp.asarray(g * ans)[..., None, None] * xp.swapaxes(xp.linalg.inv(a), -1, -2)


@vjp(xp.linalg.slogdet)
def slogdet(g, ans, a):
    """log|det A| has the gradient A^-T; the sign, piecewise constant, has none."""
    g_log = xp.asarray(rt.result_grads(g, ans)[1])
    return g_log[..., None, None] * xp.swapaxes(xp.linalg.inv(a), -1, -2)


@vjp(xp.linalg.cholesky)
def cholesky(g, ans, a, upper=False):
    return rt.cholesky_grad(g, ans, upper), None


@vjp(xp.linalg.eigh)
def eigh(g, ans, a, UPLO="L"):
    """Distinct eigenvalues; the eigenvectors' signs as LAPACK chose them."""
    return rt.eigh_grad(g, ans, UPLO), None


@vjp(xp.linalg.eigvalsh)
def eigvalsh(g, ans, a, UPLO="L"):
    """dw_i = v_i^T dA v_i: A_bar = V diag(g) V^T, on the triangle read."""
    v = xp.linalg.eigh(a, UPLO)[1]
    return rt.triangle_grad((v * g[..., None, :]) @ xp.swapaxes(v, -1, -2), UPLO), None


@vjp(xp.linalg.svd)
def svd(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """Distinct nonzero singular values; ``compute_uv=False``: A_bar = U diag(g) V^T."""
    return rt.svd_grad(g, ans, a, full_matrices, compute_uv, hermitian), None, None, None


@vjp(xp.linalg.pinv)
def pinv(g, ans, a, rcond=None, hermitian=False, rtol=None):
    """At a matrix of full rank (``rcond`` and ``rtol`` cut no singular value there)."""
    return rt.pinv_grad(g, ans, a, hermitian), None, None, None


@vjp(xp.linalg.qr)
def qr(g, ans, a, mode="reduced"):
    """At least as many rows as columns, R with a nonzero diagonal."""
    return rt.qr_grad(g, ans, a, mode), None


@vjp(xp.linalg.matrix_power)
def matrix_power(g, ans, a, n):
    return rt.matrix_power_grad(g, a, n), None


@vjp(xp.linalg.lstsq)
def lstsq(g, ans, a, b, rcond=None):
    """At an ``a`` of full rank; the rank has no gradient."""
    da, db = rt.lstsq_grads(g, ans, a, b)
    return da, db, None
