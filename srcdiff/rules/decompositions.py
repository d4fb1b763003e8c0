"""Rules of np.linalg: inv, solve, det, slogdet, cholesky, eig and eigvals (of real
matrices with real eigenvalues), eigh, eigvalsh, svd, pinv, qr, matrix_power, lstsq (on
stacks of matrices where NumPy takes them).

The formulas are the classical ones (Giles 2008, "An extended collection of matrix
derivative results for forward and reverse mode algorithmic differentiation"; the others
are cited at their helpers in ``runtime/contractions.py``), derived again here; they hold
where the function is differentiable: invertible matrices, distinct eigenvalues and
singular values, full rank; where it is not (repeated eigenvalues or singular values, a
zero singular value, a rank-deficient pseudo-inverse or least squares) both modes refuse
(``rt.eigen_gaps``, ``rt.check_full_rank``) rather than return a number. Functions of a
symmetric matrix read one triangle of what they are given, and so do their gradients and
tangents (see ``rt.triangle_grad``). The decompositions whose formulas are those of real
matrices (a transpose where a complex one has the conjugate, a real sign) refuse complex
ones (``rt.real_only``), in forward mode too, where a real result's tangent was made of
them.
"""

import numpy as xp

from .. import runtime as rt
from .registry import jvp, sequence_result, vjp


@vjp(xp.linalg.inv)
def inv(g, ans, a):
    """d(A^-1) = -A^-1 dA A^-1, so A_bar = -A^-T G A^-T."""
    t = xp.swapaxes(ans, -1, -2)
    return -(t @ g @ t)


@jvp(xp.linalg.inv, shaped=True)
def inv_jvp(ans, a, *, da):
    """d(A^-1) = -A^-1 dA A^-1."""
    return -(ans @ da @ ans)


@vjp(xp.linalg.tensorinv)
def tensorinv(g, ans, a, ind=2):
    """``np.linalg.inv`` of ``a`` read as an ``n`` by ``n`` matrix (``n * n`` its entries),
    its inverse read back in the result's shape: that matrix's rule."""
    n = int(round(rt.size(a) ** 0.5))
    t = xp.swapaxes(xp.reshape(ans, (n, n)), -1, -2)
    return xp.reshape(-(t @ xp.reshape(g, (n, n)) @ t), xp.shape(a)), None


@jvp(xp.linalg.tensorinv, shaped=True)
def tensorinv_jvp(ans, a, ind=2, *, da):
    n = int(round(rt.size(a) ** 0.5))
    inverse = xp.reshape(ans, (n, n))
    moved = xp.reshape(xp.broadcast_to(da, xp.shape(a)), (n, n))
    return xp.reshape(-(inverse @ moved @ inverse), xp.shape(ans))


@vjp(rt.invertible)
def invertible(g, ans, a, what, conditioned=False):
    """``np.linalg.inv``'s rule (the check reads no derivative)."""
    t = xp.swapaxes(ans, -1, -2)
    return -(t @ g @ t), None, None


@jvp(rt.invertible, shaped=True)
def invertible_jvp(ans, a, what, conditioned=False, *, da, dwhat, dconditioned):
    return -(ans @ da @ ans), None, None


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
    """d det A = tr(C^T dA), C the cofactor matrix (det(A) A^-T where A is invertible;
    singular matrices too): A_bar = g C."""
    return xp.asarray(g)[..., None, None] * rt.cofactor(a, ans)


@jvp(xp.linalg.det, shaped=True)
def det_jvp(ans, a, *, da):
    """d det A = tr(C^T dA), C the cofactor matrix."""
    return xp.sum(rt.cofactor(a, ans) * da, axis=(-2, -1))


@vjp(rt.cofactor)
def cofactor(g, ans, a, det):
    """C = det A^-T: d C = d(det) A^-T - det A^-T dA^T A^-T (second derivatives of the
    determinant, at invertible matrices: ``rt.invertible`` refuses others)."""
    inv_t = xp.swapaxes(rt.invertible(a, "a second derivative of np.linalg.det", True), -1, -2)
    return (
        -xp.asarray(det)[..., None, None] * (inv_t @ xp.swapaxes(g, -1, -2) @ inv_t),
        xp.sum(g * inv_t, axis=(-2, -1)),
    )


@jvp(rt.cofactor, shaped=True)
def cofactor_jvp(ans, a, det, *, da, ddet):
    inv_t = xp.swapaxes(rt.invertible(a, "a second derivative of np.linalg.det", True), -1, -2)
    return (
        -xp.asarray(det)[..., None, None] * (inv_t @ xp.swapaxes(da, -1, -2) @ inv_t),
        xp.asarray(ddet)[..., None, None] * inv_t,
    )


@vjp(xp.linalg.slogdet)
def slogdet(g, ans, a):
    """log|det A| has the gradient A^-T; the sign, piecewise constant, has none."""
    rt.real_only(a)
    g_log = xp.asarray(rt.result_grads(g, ans)[1])
    inv = rt.invertible(a, "the derivative of np.linalg.slogdet")  # (infinite at a singular)
    return g_log[..., None, None] * xp.swapaxes(inv, -1, -2)


@jvp(xp.linalg.slogdet, shaped=True)
def slogdet_jvp(ans, a, *, da):
    """d log|det A| = tr(A^-1 dA); the sign does not move."""
    rt.real_only(a)
    return rt.result_like(
        ans,
        [
            xp.zeros_like(ans[0]),
            xp.sum(
                xp.swapaxes(rt.invertible(a, "the derivative of np.linalg.slogdet"), -1, -2) * da,
                axis=(-2, -1),
            ),
        ],
    )


@vjp(xp.linalg.cholesky)
def cholesky(g, ans, a, upper=False):
    rt.real_only(a)
    return rt.cholesky_grad(g, ans, upper), None


@jvp(xp.linalg.cholesky, shaped=True)
def cholesky_jvp(ans, a, upper=False, *, da):
    """dL = L Phi(L^-1 S L^-T) (Murray 2016), ``Phi`` the lower triangle with its diagonal
    halved, ``S`` the symmetric change NumPy reads from the lower (``upper``: upper)
    triangle of dA; ``upper`` gives U = L^T and dU = dL^T."""
    rt.real_only(a)
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
    """The eigenvectors' signs as LAPACK chose them; refused where a repeated
    eigenvalue's eigenvector has a gradient (the eigenvalues alone are fine at ties)."""
    rt.real_only(a)
    return rt.eigh_grad(g, ans, UPLO), None


@jvp(xp.linalg.eigh, shaped=True)
def eigh_jvp(ans, a, UPLO="L", *, da):
    """With ``P = V^T S V``, ``S`` the symmetric change NumPy reads from the triangle
    ``UPLO`` of dA: dw = diag(P), dV = V (F * P), ``F[i, j] = 1 / (w[j] - w[i])``
    (distinct eigenvalues; ``rt.eigen_gaps`` refuses repeated ones)."""
    rt.real_only(a)
    p = (
        xp.swapaxes(ans[1], -1, -2)
        @ (
            (xp.triu(da) + xp.swapaxes(xp.triu(da, 1), -1, -2))
            if str(UPLO).upper() == "U"
            else (xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2))
        )
        @ ans[1]
    )
    return rt.result_like(
        ans, [xp.diagonal(p, 0, -2, -1), ans[1] @ (rt.eigen_gaps(ans[0], "np.linalg.eigh") * p)]
    )


@vjp(xp.linalg.eig)
def eig(g, ans, a):
    """Real matrices with real, distinct eigenvalues (``rt.real_eigenvalues`` refuses
    others); the eigenvectors' signs as LAPACK chose them."""
    return rt.eig_grad(g, ans)


@jvp(xp.linalg.eig, shaped=True)
def eig_jvp(ans, a, *, da):
    """With ``P = V^-1 dA V``: dw = diag(P), and the change of the eigenvectors ``V (F *
    P)`` (``F[i, j] = 1 / (w[j] - w[i])``) less its part along each, which would change
    its norm."""
    rt.real_eigenvalues(ans[0], "np.linalg.eig")
    p = xp.linalg.solve(ans[1], da @ ans[1])
    moved = ans[1] @ (rt.eigen_gaps(ans[0], "np.linalg.eig") * p)
    return rt.result_like(
        ans,
        [
            xp.diagonal(p, 0, -2, -1),
            moved - ans[1] * xp.sum(ans[1] * moved, axis=-2, keepdims=True),
        ],
    )


@vjp(xp.linalg.eigvals)
def eigvals(g, ans, a):
    """dw_i = u_i^T dA v_i (``u_i`` the rows of V^-1): A_bar = V^-T diag(g) V^T, for real
    and distinct eigenvalues, in the order ``np.linalg.eig`` gives them with ``V``."""
    w, v = xp.linalg.eig(a)
    rt.real_eigenvalues(ans, "np.linalg.eigvals", w)
    vt = xp.swapaxes(v, -1, -2)
    return xp.linalg.solve(vt, g[..., :, None] * vt)


@jvp(xp.linalg.eigvals, shaped=True)
def eigvals_jvp(ans, a, *, da):
    w, v = xp.linalg.eig(a)
    rt.real_eigenvalues(ans, "np.linalg.eigvals", w)
    return xp.diagonal(xp.linalg.solve(v, da @ v), 0, -2, -1)


@vjp(xp.linalg.eigvalsh)
def eigvalsh(g, ans, a, UPLO="L"):
    """dw_i = v_i^T dA v_i: A_bar = V diag(g) V^T, on the triangle read; at repeated
    eigenvalues, where ``g`` is the same across each tie (refused otherwise)."""
    rt.real_only(a)
    rt.tied_values(ans, g, "np.linalg.eigvalsh")
    v = xp.linalg.eigh(a, UPLO)[1]
    return rt.triangle_grad((v * g[..., None, :]) @ xp.swapaxes(v, -1, -2), UPLO), None


@jvp(xp.linalg.eigvalsh, shaped=True)
def eigvalsh_jvp(ans, a, UPLO="L", *, da):
    """dw_i = v_i^T S v_i, ``S`` the symmetric change NumPy reads from the triangle
    ``UPLO`` of dA: the diagonal of ``P = V^T S V`` (at repeated eigenvalues, where ``S``
    keeps them tied; refused otherwise)."""
    rt.real_only(a)
    v = xp.linalg.eigh(a, UPLO)[1]
    p = (
        xp.swapaxes(v, -1, -2)
        @ (
            (xp.triu(da) + xp.swapaxes(xp.triu(da, 1), -1, -2))
            if str(UPLO).upper() == "U"
            else (xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2))
        )
        @ v
    )
    rt.tied_change(ans, p, "np.linalg.eigvalsh")
    return xp.diagonal(p, 0, -2, -1)


@vjp(xp.linalg.svd)
def svd(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """Distinct nonzero singular values; ``compute_uv=False``: A_bar = U diag(g) V^T."""
    rt.real_only(a)
    return rt.svd_grad(g, ans, a, full_matrices, compute_uv, hermitian), None, None, None


@jvp(xp.linalg.svd, shaped=True)
def svd_jvp(ans, a, full_matrices=True, compute_uv=True, hermitian=False, *, da):
    """With ``A = U S V^T`` (reduced), ``P = U^T dA V`` and ``F[i, j] = 1 / (s_j^2 - s_i^2)``
    (Townsend 2016): ds = diag(P), dU = U (F * (P S + S P^T)) + (I - U U^T) dA V S^-1,
    dV = V (F * (S P + P^T S)) + (I - V V^T) dA^T U S^-1, at distinct nonzero singular
    values (``rt.eigen_gaps`` refuses others). ``hermitian``: dA is the symmetric change
    NumPy reads from its lower triangle. ``full_matrices`` of a matrix that is not square:
    the extra vectors are any basis of a complement, with no tangent: refused."""
    rt.real_only(a)
    if compute_uv and full_matrices and a.shape[-2] != a.shape[-1]:
        raise rt.refuse(
            "np.linalg.svd with full_matrices=True of a matrix that is not square, in forward "
            "mode or second derivatives: its extra singular vectors are any basis of a "
            "complement, which has no tangent",
            "use full_matrices=False",
        )
    change = (xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2)) if hermitian else da
    usv = ans if compute_uv else xp.linalg.svd(a, full_matrices=False, hermitian=hermitian)
    p = xp.swapaxes(usv[0], -1, -2) @ change @ xp.swapaxes(usv[2], -1, -2)
    rt.tied_change(usv[1], p, "np.linalg.svd", "singular values")
    f = rt.eigen_gaps(usv[1] * usv[1], "np.linalg.svd", True) if compute_uv else None
    du = (
        usv[0] @ (f * (p * usv[1][..., None, :] + usv[1][..., :, None] * xp.swapaxes(p, -1, -2)))
        + (
            (change @ xp.swapaxes(usv[2], -1, -2) - usv[0] @ p) / usv[1][..., None, :]
            if usv[0].shape[-2] > usv[1].shape[-1]
            else 0.0
        )
        if compute_uv
        else None
    )
    dv = (
        xp.swapaxes(usv[2], -1, -2)
        @ (f * (usv[1][..., :, None] * p + xp.swapaxes(p, -1, -2) * usv[1][..., None, :]))
        + (
            (
                xp.swapaxes(change, -1, -2) @ usv[0]
                - xp.swapaxes(usv[2], -1, -2) @ xp.swapaxes(p, -1, -2)
            )
            / usv[1][..., None, :]
            if usv[2].shape[-1] > usv[1].shape[-1]
            else 0.0
        )
        if compute_uv
        else None
    )
    return (
        rt.result_like(ans, [du, xp.diagonal(p, 0, -2, -1), xp.swapaxes(dv, -1, -2)])
        if compute_uv
        else xp.diagonal(p, 0, -2, -1)
    )


@vjp(xp.linalg.pinv)
def pinv(g, ans, a, rcond=None, hermitian=False, rtol=None):
    """At a matrix of full rank (``rcond`` and ``rtol`` cut no singular value there;
    refused otherwise, where the derivative is not this formula's). An empty matrix,
    square or not, NumPy takes as it is, ``hermitian`` or not: no triangle is read."""
    rt.real_only(a)
    rt.check_full_rank(
        (xp.tril(a) + xp.swapaxes(xp.tril(a, -1), -1, -2)) if hermitian and xp.size(a) else a,
        "np.linalg.pinv",
        None,
        ans,
    )
    return rt.pinv_grad(g, ans, a, hermitian), None, None, None


@jvp(xp.linalg.pinv, shaped=True)
def pinv_jvp(ans, a, rcond=None, hermitian=False, rtol=None, *, da):
    """dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X (Golub and Pereyra
    1973), at a matrix of full rank (refused otherwise); ``hermitian`` (then square and
    invertible): -X S X, ``S`` the symmetric change NumPy reads from the lower triangle."""
    rt.real_only(a)
    rt.check_full_rank(
        (xp.tril(a) + xp.swapaxes(xp.tril(a, -1), -1, -2)) if hermitian and xp.size(a) else a,
        "np.linalg.pinv",
        None,
        ans,
    )
    t = xp.swapaxes(da, -1, -2)
    return (
        -(ans @ (xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2)) @ ans)
        if hermitian and xp.size(a)
        else -(ans @ da @ ans)
        + ans @ (xp.swapaxes(ans, -1, -2) @ (t - t @ a @ ans))
        + (t - ans @ (a @ t)) @ (xp.swapaxes(ans, -1, -2) @ ans)
    )


@vjp(xp.linalg.qr)
def qr(g, ans, a, mode="reduced"):
    """R with a nonzero diagonal; of a wide matrix, its first square block's."""
    rt.real_only(a)
    return rt.qr_grad(g, ans, a, mode), None


@jvp(xp.linalg.qr, shaped=True)
def qr_jvp(ans, a, mode="reduced", *, da):
    """With ``X`` the first ``k = min(m, n)`` columns, ``U`` those of R, ``C = Q^T dX U^-1``
    and ``L`` its strictly lower triangle: dQ = dX U^-1 - Q (C - L + L^T), and dR = (C - L +
    L^T) R, or of a wide matrix ``dQ^T A + Q^T dA`` (Q^T dQ is skew, dU U^-1 upper
    triangular). Mode 'complete' of a tall matrix is refused: the extra columns of Q are
    any basis of a complement, which has no tangent."""
    rt.real_only(a)
    if mode not in ("reduced", "complete", "r"):
        raise rt.refuse(
            f"np.linalg.qr in mode {mode!r}, in forward mode or second derivatives",
            "use mode 'reduced', 'complete' or 'r', or sd.grad",
        )
    if mode == "complete" and a.shape[-2] > a.shape[-1]:
        raise rt.refuse(
            "np.linalg.qr with mode='complete' of a matrix with more rows than columns, in "
            "forward mode or second derivatives: the extra columns of Q are any basis of a "
            "complement, which has no tangent",
            "use mode='reduced'",
        )
    k = min(a.shape[-2], a.shape[-1])
    q = xp.linalg.qr(a)[0] if mode == "r" else ans[0]
    r = ans if mode == "r" else ans[1]
    inv = xp.linalg.inv(r[..., :, :k])
    c = xp.swapaxes(q, -1, -2) @ da[..., :, :k] @ inv
    moved = c - xp.tril(c, -1) + xp.swapaxes(xp.tril(c, -1), -1, -2)  # dU U^-1
    dq = da[..., :, :k] @ inv - q @ moved
    dr = (
        moved @ r
        if a.shape[-2] >= a.shape[-1]
        else xp.swapaxes(dq, -1, -2) @ a + xp.swapaxes(q, -1, -2) @ da
    )
    return dr if mode == "r" else rt.result_like(ans, [dq, dr])


@vjp(xp.linalg.matrix_power)
def matrix_power(g, ans, a, n):
    return rt.matrix_power_grad(g, a, n), None


@jvp(xp.linalg.matrix_power, shaped=True)
def matrix_power_jvp(ans, a, n, *, da):
    return rt.matrix_power_tangent(da, a, n)


@vjp(xp.linalg.lstsq)
def lstsq(g, ans, a, b, rcond=None):
    """At an ``a`` of full rank; the rank has no gradient."""
    rt.real_only(a)
    da, db = rt.lstsq_grads(g, ans, a, b)
    return da, db, None


@jvp(xp.linalg.lstsq, shaped=True)
def lstsq_jvp(ans, a, b, rcond=None, *, da, db):
    """At an ``a`` of full rank (refused otherwise), with ``P = pinv(a)``, ``x = P b`` and
    ``r = b - a x`` (so that ``a^T r = 0``): dx = P (db - dA x) + P P^T dA^T r
    + (I - P a) dA^T P^T x; the residuals ``|r|^2`` move by ``2 r . (db - dA x)``; the
    singular values by ``u_i^T dA v_i``; the rank not at all."""
    rt.real_only(a)
    rt.check_full_rank(a, "np.linalg.lstsq", ans[2])
    pseudo = xp.linalg.pinv(a)
    xm = ans[0][:, None] if xp.ndim(b) == 1 else ans[0]
    rm = (b[:, None] if xp.ndim(b) == 1 else b) - a @ xm
    t = xp.swapaxes(da, -1, -2)
    dxa = (
        -(pseudo @ (da @ xm))
        + pseudo @ (xp.swapaxes(pseudo, -1, -2) @ (t @ rm))
        + (t - pseudo @ (a @ t)) @ (xp.swapaxes(pseudo, -1, -2) @ xm)
    )
    dxb = pseudo @ (db[:, None] if xp.ndim(b) == 1 else db)
    usv = xp.linalg.svd(a, full_matrices=False)
    return (
        [
            dxa[:, 0] if xp.ndim(b) == 1 else dxa,
            -2.0 * xp.sum(rm * (da @ xm), axis=0) if ans[1].shape[0] else xp.zeros_like(ans[1]),
            0.0,
            xp.sum(usv[0] * (da @ xp.swapaxes(usv[2], -1, -2)), axis=-2),
        ],
        [
            dxb[:, 0] if xp.ndim(b) == 1 else dxb,
            2.0 * xp.sum(rm * (db[:, None] if xp.ndim(b) == 1 else db), axis=0)
            if ans[1].shape[0]
            else xp.zeros_like(ans[1]),
            0.0,
            xp.zeros_like(ans[3]),
        ],
    )


# Results that are tuples of arrays (an adjoint of the tuple adds up entry by entry).
sequence_result(
    xp.linalg.slogdet, xp.linalg.eig, xp.linalg.eigh, xp.linalg.svd, xp.linalg.qr, xp.linalg.lstsq
)
