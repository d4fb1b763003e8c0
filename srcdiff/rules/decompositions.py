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
from .registry import jvp, vjp


@vjp(xp.linalg.inv)
def inv(g, ans, a):
    """d(A^-1) = -A^-1 dA A^-1, so A_bar = -A^-T G A^-T."""
    t = xp.swapaxes(ans, -1, -2)
    return -(t @ g @ t)


@jvp(xp.linalg.inv, shaped=True)
def inv_jvp(ans, a, *, da):
    """d(A^-1) = -A^-1 dA A^-1."""
    return -(ans @ da @ ans)


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


@jvp(xp.linalg.solve, shaped=True)
def solve_jvp(ans, a, b, *, da, db):
    """dx = A^-1 (db - dA x), ``b`` a vector only when 1-D, as in the reverse rule."""
    vector = xp.ndim(b) == 1
    xm = ans[..., None] if vector else ans
    return (
        -(xp.linalg.solve(a, da @ xm)[..., 0] if vector else xp.linalg.solve(a, da @ xm)),
        xp.linalg.solve(a, db[..., None])[..., 0] if vector else xp.linalg.solve(a, db),
    )


@vjp(xp.linalg.det)
def det(g, ans, a):
    """d det A = det A tr(A^-1 dA), so A_bar = g det(A) A^-T."""
    return xp.asarray(g * ans)[..., None, None] * xp.swapaxes(xp.linalg.inv(a), -1, -2)


@jvp(xp.linalg.det, shaped=True)
def det_jvp(ans, a, *, da):
    """d det A = det A tr(A^-1 dA)."""
    return ans * xp.sum(xp.swapaxes(xp.linalg.inv(a), -1, -2) * da, axis=(-2, -1))


@vjp(xp.linalg.slogdet)
def slogdet(g, ans, a):
    """log|det A| has the gradient A^-T; the sign, piecewise constant, has none."""
    g_log = xp.asarray(rt.result_grads(g, ans)[1])
    return g_log[..., None, None] * xp.swapaxes(xp.linalg.inv(a), -1, -2)


@jvp(xp.linalg.slogdet, shaped=True)
def slogdet_jvp(ans, a, *, da):
    """d log|det A| = tr(A^-1 dA); the sign does not move."""
    return [
        xp.zeros_like(ans[0]),
        xp.sum(xp.swapaxes(xp.linalg.inv(a), -1, -2) * da, axis=(-2, -1)),
    ]


@vjp(xp.linalg.cholesky)
def cholesky(g, ans, a, upper=False):
    return rt.cholesky_grad(g, ans, upper), None


@jvp(xp.linalg.cholesky, shaped=True)
def cholesky_jvp(ans, a, upper=False, *, da):
    """dL = L Phi(L^-1 S L^-T) (Murray 2016), ``Phi`` the lower triangle with its diagonal
    halved, ``S`` the symmetric change NumPy reads from the lower (``upper``: upper)
    triangle of dA; ``upper`` gives U = L^T and dU = dL^T."""
    low = xp.swapaxes(ans, -1, -2) if upper else ans
    inv = xp.linalg.inv(low)
    inv_t = xp.swapaxes(inv, -1, -2)
    n = low.shape[-1]
    half = xp.tril(xp.ones((n, n), dtype=low.dtype)) - 0.5 * xp.eye(n, dtype=low.dtype)
    return (
        xp.swapaxes(
            low @ ((inv @ (xp.triu(da) + xp.swapaxes(xp.triu(da, 1), -1, -2)) @ inv_t) * half),
            -1,
            -2,
        )
        if upper
        else low @ ((inv @ (xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2)) @ inv_t) * half)
    )


@vjp(xp.linalg.eigh)
def eigh(g, ans, a, UPLO="L"):
    """Distinct eigenvalues; the eigenvectors' signs as LAPACK chose them."""
    return rt.eigh_grad(g, ans, UPLO), None


@vjp(xp.linalg.eigvalsh)
def eigvalsh(g, ans, a, UPLO="L"):
    """dw_i = v_i^T dA v_i: A_bar = V diag(g) V^T, on the triangle read."""
    v = xp.linalg.eigh(a, UPLO)[1]
    return rt.triangle_grad((v * g[..., None, :]) @ xp.swapaxes(v, -1, -2), UPLO), None


@jvp(xp.linalg.eigvalsh, shaped=True)
def eigvalsh_jvp(ans, a, UPLO="L", *, da):
    """dw_i = v_i^T S v_i, ``S`` the symmetric change NumPy reads from the triangle
    ``UPLO`` of dA (distinct eigenvalues)."""
    v = xp.linalg.eigh(a, UPLO)[1]
    return xp.sum(
        v
        * (
            (
                (xp.triu(da) + xp.swapaxes(xp.triu(da, 1), -1, -2))
                if str(UPLO).upper() == "U"
                else (xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2))
            )
            @ v
        ),
        axis=-2,
    )


@vjp(xp.linalg.svd)
def svd(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """Distinct nonzero singular values; ``compute_uv=False``: A_bar = U diag(g) V^T."""
    return rt.svd_grad(g, ans, a, full_matrices, compute_uv, hermitian), None, None, None


@jvp(xp.linalg.svd, shaped=True)
def svd_jvp(ans, a, full_matrices=True, compute_uv=True, hermitian=False, *, da):
    """Of the singular values only (``compute_uv=False``, ``hermitian=False``):
    ds_i = u_i^T dA v_i, at distinct nonzero singular values."""
    if compute_uv or hermitian:
        raise NotImplementedError(
            "srcdiff's forward mode differentiates np.linalg.svd with compute_uv=False (and "
            "hermitian=False) only: use sd.grad (reverse mode)"
        )
    u, _, vh = xp.linalg.svd(a, full_matrices=False)
    return xp.sum(u * (da @ xp.swapaxes(vh, -1, -2)), axis=-2)


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


@jvp(xp.linalg.matrix_power, shaped=True)
def matrix_power_jvp(ans, a, n, *, da):
    return rt.matrix_power_tangent(da, a, n)


@vjp(xp.linalg.lstsq)
def lstsq(g, ans, a, b, rcond=None):
    """At an ``a`` of full rank; the rank has no gradient."""
    da, db = rt.lstsq_grads(g, ans, a, b)
    return da, db, None
