"""Rules of scipy.linalg: cholesky, cho_factor, cho_solve, solve_triangular, expm (on
stacks of matrices too, as SciPy takes them), eigh, lu_factor and lu_solve (of one matrix: a
stack is refused), and of the helpers their rules call (``rt.solve_triangular``,
``rt.lu_solve``, ``rt.expm_frechet``), so that those can be differentiated again.

SciPy's Cholesky functions give the upper factor unless ``lower=True`` (``A = U^T U``)
and read only that triangle of the matrix, as ``solve_triangular`` reads only the
triangle ``lower`` names (and not its diagonal, with ``unit_diagonal=True``): gradients
live on the triangle read, as those of np.linalg's functions of a symmetric matrix do
(``rules/decompositions.py``). ``overwrite_a=True`` and ``overwrite_b=True`` let SciPy
write into an argument, which compiled code does not follow: refused. ``check_finite``
changes no value. Nothing is registered without SciPy.
"""

import numpy as xp

from .. import runtime as rt
from .registry import jvp, nondiff, sequence_result, vjp

try:
    import scipy.linalg as sla
except ImportError:  # pragma: no cover - SciPy is optional
    sla = None


def _scipy(*names: str) -> list:
    """scipy.linalg's functions of these names (none without SciPy)."""
    return [getattr(sla, name) for name in names] if sla is not None else []


CHOLESKY = _scipy("cholesky")
CHO_FACTOR = _scipy("cho_factor")
CHO_SOLVE = _scipy("cho_solve")
LU_FACTOR = _scipy("lu_factor")
LU_SOLVE = _scipy("lu_solve") + ([rt.lu_solve] if sla else [])
EXPM = _scipy("expm")
SCIPY_LINALG = (*CHOLESKY, *CHO_FACTOR, *CHO_SOLVE, *LU_FACTOR, *LU_SOLVE[:1],
                *_scipy("solve_triangular"), *EXPM)  # fmt: skip
# the helpers the forward rules call, with rules of their own (rt.solve_triangular's are
# scipy.linalg.solve_triangular's, rt.lu_solve's scipy.linalg.lu_solve's)
SOLVE_TRIANGULAR = _scipy("solve_triangular") + ([rt.solve_triangular] if sla else [])
EXPM_FRECHET = [rt.expm_frechet] if sla else []
NUMPY_ONLY = (
    *SCIPY_LINALG,
    *SOLVE_TRIANGULAR[1:],
    *LU_SOLVE[1:],
    *EXPM_FRECHET,
)  # SciPy's arrays: NumPy's


@vjp(*CHOLESKY)
def cholesky(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    """``a = U^T U`` read from its upper triangle (``lower``: ``L L^T``, from the lower
    one): np.linalg.cholesky's gradient with ``upper=not lower``."""
    if overwrite_a:
        raise rt.overwrite_refusal("cholesky", "overwrite_a")
    return rt.cholesky_grad(g, ans, not lower), None, None, None


@jvp(*CHOLESKY, shaped=True)
def cholesky_jvp(ans, a, lower=False, overwrite_a=False, check_finite=True, *, da):
    """dL = L Phi(L^-1 S L^-T) (Murray 2016), ``Phi`` the lower triangle with its diagonal
    halved, ``S`` the symmetric change SciPy reads from the triangle of dA it reads; the
    upper factor ``U = L^T`` moves by dL^T."""
    if overwrite_a:
        raise rt.overwrite_refusal("cholesky", "overwrite_a")
    low = ans if lower else xp.swapaxes(ans, -1, -2)
    n = ans.shape[-1]
    half = xp.tril(xp.ones((n, n), dtype=ans.dtype)) - 0.5 * xp.eye(n, dtype=ans.dtype)
    s = (
        xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2)
        if lower
        else xp.triu(da) + xp.swapaxes(xp.triu(da, 1), -1, -2)
    )
    inner = rt.solve_triangular(
        low, xp.swapaxes(rt.solve_triangular(low, s, lower=True), -1, -2), lower=True
    )  # L^-1 S L^-T, S symmetric
    return low @ (inner * half) if lower else xp.swapaxes(low @ (inner * half), -1, -2)


@vjp(*CHO_FACTOR)
def cho_factor(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    """``c`` holds the factor scipy.linalg.cholesky gives in the triangle ``lower`` names
    and, in the other, the entries of ``a`` there (SciPy leaves them as they were; its
    documentation calls them arbitrary), whose gradient passes through; the flag
    ``lower`` has none."""
    if overwrite_a:
        raise rt.overwrite_refusal("cho_factor", "overwrite_a")
    gc = rt.result_grads(g, ans)[0]  # cholesky_grad reads it on the factor's triangle only
    return (
        rt.cholesky_grad(gc, xp.tril(ans[0]) if lower else xp.triu(ans[0]), not lower)
        + (xp.triu(gc, 1) if lower else xp.tril(gc, -1)),
        None,
        None,
        None,
    )


@jvp(*CHO_FACTOR, shaped=True)
def cho_factor_jvp(ans, a, lower=False, overwrite_a=False, check_finite=True, *, da):
    """The factor moves as scipy.linalg.cholesky's (dL = L Phi(L^-1 S L^-T)), the other
    triangle as that of ``a``; the flag ``lower`` does not move."""
    if overwrite_a:
        raise rt.overwrite_refusal("cho_factor", "overwrite_a")
    low = xp.tril(ans[0]) if lower else xp.swapaxes(xp.triu(ans[0]), -1, -2)
    n = low.shape[-1]
    half = xp.tril(xp.ones((n, n), dtype=low.dtype)) - 0.5 * xp.eye(n, dtype=low.dtype)
    s = (
        xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2)
        if lower
        else xp.triu(da) + xp.swapaxes(xp.triu(da, 1), -1, -2)
    )
    dl = low @ (
        rt.solve_triangular(
            low, xp.swapaxes(rt.solve_triangular(low, s, lower=True), -1, -2), lower=True
        )
        * half
    )
    return rt.result_like(
        ans,
        [dl + xp.triu(da, 1) if lower else xp.swapaxes(dl, -1, -2) + xp.tril(da, -1), 0.0],
    )


@vjp(*CHO_SOLVE)
def cho_solve(g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    """``A x = b``, ``A`` the matrix whose Cholesky factor ``c_and_lower`` holds, as
    cho_factor gives it (see ``rt.cho_solve_grads``); the flag has no gradient."""
    if overwrite_b:
        raise rt.overwrite_refusal("cho_solve", "overwrite_b")
    d_c, d_b = rt.cho_solve_grads(g, ans, c_and_lower[0], c_and_lower[1], b)
    return (d_c, None), d_b, None, None


@jvp(*CHO_SOLVE, shaped=True)
def cho_solve_jvp(ans, c_and_lower, b, overwrite_b=False, check_finite=True, *,
                  dc_and_lower, db):  # fmt: skip
    """dx = A^-1 (db - dA x), with A = L L^T (``L = U^T`` for an upper factor) and
    dA = dL L^T + L dL^T, ``dL`` the change of the triangle read; A^-1 as two triangular
    solves. ``b`` is a vector only when 1-D."""
    if overwrite_b:
        raise rt.overwrite_refusal("cho_solve", "overwrite_b")
    low = (
        xp.tril(c_and_lower[0])
        if xp.all(c_and_lower[1])
        else xp.swapaxes(xp.triu(c_and_lower[0]), -1, -2)
    )
    vector = xp.ndim(b) == 1
    xm = ans[..., None] if vector else ans
    dlow = (
        xp.tril(dc_and_lower[0])
        if xp.all(c_and_lower[1])
        else xp.swapaxes(xp.triu(dc_and_lower[0]), -1, -2)
    )
    dx = -rt.solve_triangular(
        low,
        rt.solve_triangular(
            low,
            dlow @ (xp.swapaxes(low, -1, -2) @ xm) + low @ (xp.swapaxes(dlow, -1, -2) @ xm),
            lower=True,
        ),
        trans=1,
        lower=True,
    )
    dxb = rt.solve_triangular(
        low, rt.solve_triangular(low, db[..., None] if vector else db, lower=True), trans=1,
        lower=True,
    )  # fmt: skip
    return dx[..., 0] if vector else dx, dxb[..., 0] if vector else dxb


@vjp(*LU_FACTOR)
def lu_factor(g, ans, a, overwrite_a=False, check_finite=True):
    """``lu`` holds ``L`` below its diagonal (its diagonal is ones) and ``U`` on and above
    it, ``a[order] = L U``; ``a``'s change ``dA`` moves them by ``dL = L tril(F, -1)`` and
    ``dU = triu(F) U``, ``F = L^-1 dA[order] U^-1``, so ``A_bar[order] = L^-T (tril(L^T
    tril(g, -1), -1) + triu(triu(g) U^T)) U^-T``. The pivots are integers: no gradient."""
    if overwrite_a:
        raise rt.overwrite_refusal("lu_factor", "overwrite_a")
    back = rt.lu_order(ans[0], ans[1], True)  # (a stack is refused here)
    glu = rt.result_grads(g, ans)[0]
    low = xp.tril(ans[0], -1) + xp.eye(ans[0].shape[-1], dtype=ans[0].dtype)
    up = xp.triu(ans[0])
    inner = xp.tril(low.T @ xp.tril(glu, -1), -1) + xp.triu(xp.triu(glu) @ up.T)
    moved = rt.solve_triangular(up, rt.solve_triangular(low, inner, 1, True, True).T).T
    return moved[back], None, None


@jvp(*LU_FACTOR, shaped=True)
def lu_factor_jvp(ans, a, overwrite_a=False, check_finite=True, *, da):
    """``dL + dU`` (see the reverse rule); the pivots do not move."""
    if overwrite_a:
        raise rt.overwrite_refusal("lu_factor", "overwrite_a")
    order = rt.lu_order(ans[0], ans[1])
    low = xp.tril(ans[0], -1) + xp.eye(ans[0].shape[-1], dtype=ans[0].dtype)
    up = xp.triu(ans[0])
    f = rt.solve_triangular(low, da[order], 0, True, True)
    f = rt.solve_triangular(up, f.T, 1).T  # L^-1 dA[order] U^-1
    return rt.result_like(ans, [low @ xp.tril(f, -1) + xp.triu(f) @ up, 0.0])


@vjp(*LU_SOLVE)
def lu_solve(g, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """``A x = b`` (``A^T x = b`` for ``trans`` 1 or 2, of a real matrix), ``A`` the
    matrix whose factors ``lu_and_piv`` holds (``A[order] = L U``): ``b_bar = A^-T x_bar``
    (``A^-1 x_bar``), ``A_bar = -b_bar x^T`` (``-x b_bar^T``), and through the factors
    ``lu_bar = tril(A_bar[order] U^T, -1) + triu(L^T A_bar[order])``. ``b`` is a vector
    only when 1-D; the pivots get no gradient."""
    if overwrite_b:
        raise rt.overwrite_refusal("lu_solve", "overwrite_b")
    order = rt.lu_order(lu_and_piv[0], lu_and_piv[1])
    vector = xp.ndim(b) == 1
    xm = ans[..., None] if vector else ans
    db = rt.lu_solve(lu_and_piv, g[..., None] if vector else g, 1 if trans == 0 else 0)
    dp = (-(xm @ db.T) if trans else -(db @ xm.T))[order]
    low = xp.tril(lu_and_piv[0], -1) + xp.eye(xp.shape(b)[0], dtype=lu_and_piv[0].dtype)
    return (
        (xp.tril(dp @ xp.triu(lu_and_piv[0]).T, -1) + xp.triu(low.T @ dp), None),
        db[..., 0] if vector else db,
        None,
        None,
        None,
    )


@jvp(*LU_SOLVE, shaped=True)
def lu_solve_jvp(ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True, *,
                 dlu_and_piv, db):  # fmt: skip
    """dx = A^-1 (db - dA x) (``A^-T (db - dA^T x)``), ``dA[order] = dL U + L dU``, ``dL``
    and ``dU`` the changes of the triangles ``lu`` holds."""
    if overwrite_b:
        raise rt.overwrite_refusal("lu_solve", "overwrite_b")
    back = rt.lu_order(lu_and_piv[0], lu_and_piv[1], True)
    vector = xp.ndim(b) == 1
    xm = ans[..., None] if vector else ans
    low = xp.tril(lu_and_piv[0], -1) + xp.eye(xp.shape(b)[0], dtype=lu_and_piv[0].dtype)
    dlu = dlu_and_piv[0]
    da = (xp.tril(dlu, -1) @ xp.triu(lu_and_piv[0]) + low @ xp.triu(dlu))[back]
    dx = -rt.lu_solve(lu_and_piv, (da.T if trans else da) @ xm, trans)
    return dx[..., 0] if vector else dx, rt.lu_solve(lu_and_piv, db, trans)


@vjp(*SOLVE_TRIANGULAR)
def solve_triangular(g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):  # fmt: skip
    """x = op(T)^-1 b, ``T`` the triangle of ``a`` read (its diagonal taken as ones, not
    read, with ``unit_diagonal``), ``op`` the transpose for ``trans`` 1, 2, 'T' or 'C'
    (real matrices): b_bar = op(T)^-T x_bar and op(T)_bar = -b_bar x^T, on the triangle
    read. ``b`` is a vector only when 1-D (as SciPy reads it); stacks broadcast."""
    if overwrite_b:
        raise rt.overwrite_refusal("solve_triangular", "overwrite_b")
    transposed = trans not in (0, "N")
    vector = xp.ndim(b) == 1
    xm = ans[..., None] if vector else ans
    db = rt.solve_triangular(
        a, g[..., None] if vector else g, 0 if transposed else 1, lower, unit_diagonal
    )
    dt = -(xm @ xp.swapaxes(db, -1, -2)) if transposed else -(db @ xp.swapaxes(xm, -1, -2))
    k = (-1 if lower else 1) if unit_diagonal else 0
    return (
        rt.unbroadcast(xp.tril(dt, k) if lower else xp.triu(dt, k), a),
        rt.unbroadcast(db[..., 0] if vector else db, b),
        None,
        None,
        None,
        None,
        None,
    )


@jvp(*SOLVE_TRIANGULAR, shaped=True)
def solve_triangular_jvp(ans, a, b, trans=0, lower=False, unit_diagonal=False,
                         overwrite_b=False, check_finite=True, *, da, db):  # fmt: skip
    """dx = op(T)^-1 (db - op(dT) x), ``dT`` the change of the triangle read."""
    if overwrite_b:
        raise rt.overwrite_refusal("solve_triangular", "overwrite_b")
    vector = xp.ndim(b) == 1
    k = (-1 if lower else 1) if unit_diagonal else 0
    dt = xp.tril(da, k) if lower else xp.triu(da, k)
    dx = -rt.solve_triangular(
        a,
        (dt if trans in (0, "N") else xp.swapaxes(dt, -1, -2))
        @ (ans[..., None] if vector else ans),
        trans,
        lower,
        unit_diagonal,
    )
    return dx[..., 0] if vector else dx, rt.solve_triangular(a, db, trans, lower, unit_diagonal)


@vjp(*EXPM)
def expm(g, ans, A):
    """The Fréchet derivative ``L(A, .)`` of the exponential has the adjoint ``L(A^T, .)``:
    A_bar = L(A^T, G) (``scipy.linalg.expm_frechet``)."""
    return rt.expm_frechet(xp.swapaxes(A, -1, -2), g)


@jvp(*EXPM, shaped=True)
def expm_jvp(ans, A, *, dA):
    return rt.expm_frechet(A, dA)


@vjp(*EXPM_FRECHET)
def expm_frechet(g, ans, a, e):
    """Linear in ``e``; in ``a``, the exponential's second derivative (see
    ``rt.expm_frechet_grads``)."""
    d_a, d_e = rt.expm_frechet_grads(g, a, e)
    return d_a, d_e


@jvp(*EXPM_FRECHET, shaped=True)
def expm_frechet_jvp(ans, a, e, *, da, de):
    """``L(a, e)`` is the upper right block of ``expm([[a, e], [0, a]])``: it moves with
    ``a`` by that block of the exponential's Fréchet derivative along
    ``[[da, 0], [0, da]]``; it is linear in ``e``."""
    n = a.shape[-1]
    m = xp.concatenate(
        [xp.concatenate([a, e], axis=-1), xp.concatenate([xp.zeros_like(a), a], axis=-1)],
        axis=-2,
    )
    dm = xp.concatenate(
        [
            xp.concatenate([da, xp.zeros_like(da)], axis=-1),
            xp.concatenate([xp.zeros_like(da), da], axis=-1),
        ],
        axis=-2,
    )
    return rt.expm_frechet(m, dm)[..., :n, n:], rt.expm_frechet(a, de)


nondiff("integers: the order of the rows lu_factor factors", rt.lu_order)
sequence_result(*CHO_FACTOR, *LU_FACTOR)  # (c, lower), (lu, piv): an adjoint of the pair adds
# up entry by entry


# scipy.linalg's det, inv and solve of a general matrix compute what np.linalg's do (the
# value is SciPy's own: its checks of finiteness and shape run as written): NumPy's
# derivatives. What makes them read one triangle (``assume_a``), solve with the
# transpose, write into an argument (``overwrite_*``), or solve a stack, is refused.
DET, INV, SOLVE = _scipy("det"), _scipy("inv"), _scipy("solve")
AS_NUMPY = (*DET, *INV, *SOLVE)
NUMPY_ONLY = (*NUMPY_ONLY, *AS_NUMPY)


@vjp(*DET)
def det(g, ans, a, overwrite_a=False, check_finite=True):
    """np.linalg.det's: A_bar = g C, C the cofactor matrix (in the matrix's precision:
    SciPy gives a float32 matrix's determinant in float64)."""
    if overwrite_a:
        raise rt.overwrite_refusal("det", "overwrite_a")
    d_a = xp.asarray(g)[..., None, None] * rt.cofactor(a, ans)
    return xp.asarray(d_a, dtype=xp.result_type(a, 1.0)), None, None


@jvp(*DET, shaped=True)
def det_jvp(ans, a, overwrite_a=False, check_finite=True, *, da):
    if overwrite_a:
        raise rt.overwrite_refusal("det", "overwrite_a")
    return xp.sum(rt.cofactor(a, ans) * da, axis=(-2, -1))


@vjp(*INV)
def inv(g, ans, a, overwrite_a=False, check_finite=True, assume_a=None, lower=False):
    """np.linalg.inv's: A_bar = -A^-T G A^-T."""
    if overwrite_a:
        raise rt.overwrite_refusal("inv", "overwrite_a")
    rt.scipy_as_numpy("inv", assume_a)
    t = xp.swapaxes(ans, -1, -2)
    return -(t @ g @ t), None, None, None, None


@jvp(*INV, shaped=True)
def inv_jvp(ans, a, overwrite_a=False, check_finite=True, assume_a=None, lower=False, *, da):
    if overwrite_a:
        raise rt.overwrite_refusal("inv", "overwrite_a")
    rt.scipy_as_numpy("inv", assume_a)
    return -(ans @ da @ ans)


@vjp(*SOLVE)
def solve(g, ans, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
          assume_a=None, transposed=False):  # fmt: skip
    """np.linalg.solve's, of one matrix: b_bar = A^-T x_bar, A_bar = -b_bar x^T."""
    if overwrite_a:
        raise rt.overwrite_refusal("solve", "overwrite_a")
    if overwrite_b:
        raise rt.overwrite_refusal("solve", "overwrite_b")
    rt.scipy_as_numpy("solve", assume_a, transposed, xp.ndim(a))
    vector = xp.ndim(b) == 1
    gm = g[..., None] if vector else g
    xm = ans[..., None] if vector else ans
    db = xp.linalg.solve(xp.swapaxes(a, -1, -2), gm)
    return (
        -(db @ xp.swapaxes(xm, -1, -2)),
        db[..., 0] if vector else db,
        None, None, None, None, None, None,
    )  # fmt: skip


@jvp(*SOLVE, shaped=True)
def solve_jvp(ans, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
              assume_a=None, transposed=False, *, da, db):  # fmt: skip
    if overwrite_a:
        raise rt.overwrite_refusal("solve", "overwrite_a")
    if overwrite_b:
        raise rt.overwrite_refusal("solve", "overwrite_b")
    rt.scipy_as_numpy("solve", assume_a, transposed, xp.ndim(a))
    vector = xp.ndim(b) == 1
    xm = ans[..., None] if vector else ans
    return (
        -(xp.linalg.solve(a, da @ xm)[..., 0] if vector else xp.linalg.solve(a, da @ xm)),
        xp.linalg.solve(a, db[..., None])[..., 0] if vector else xp.linalg.solve(a, db),
    )


# scipy.linalg.eigh of one symmetric matrix (all of its eigenvalues, no second matrix):
# np.linalg.eigh's derivatives, on the triangle ``lower`` names; ``eigvals_only=True``:
# np.linalg.eigvalsh's. A generalized problem (``b=``), a subset of the eigenvalues and a
# write into the argument are refused, and so are the eigenvectors but by the driver 'evd'
# (np.linalg.eigh's): the default one, 'evr', picks their signs anew under changes of the
# matrix as small as rounding, so they have no derivative (forward mode gives them a
# tangent that refuses where it is used).
EIGH = _scipy("eigh")
NUMPY_ONLY = (*NUMPY_ONLY, *EIGH)


@vjp(*EIGH)
def eigh(g, ans, a, b=None, lower=True, eigvals_only=False, overwrite_a=False,
         overwrite_b=False, type=1, check_finite=True, subset_by_index=None,
         subset_by_value=None, driver=None):  # fmt: skip
    rt.eigh_of_one_matrix(b, subset_by_index, subset_by_value, overwrite_a)
    if not eigvals_only and driver != "evd" and xp.any(rt.result_grads(g, ans)[1] != 0):
        raise rt.refuse(
            "the derivative of the eigenvectors of scipy.linalg.eigh by its driver "
            f"{driver or 'evr'!r}: it picks their signs anew under changes as small as rounding",
            "pass driver='evd' (np.linalg.eigh's, whose signs move smoothly), or use "
            "np.linalg.eigh",
        )
    # (of the eigenvalues alone, by the driver 'evr' too: V diag(g) V^T, which the signs of
    # V leave as it is, from np.linalg.eigh's V, whose signs move smoothly, so that the
    # gradient has a derivative of its own: sd.hessian)
    vectors = not eigvals_only and driver == "evd"
    uplo = "L" if lower else "U"
    v = None if vectors else xp.linalg.eigh(a, uplo)[1]
    gw = g if eigvals_only else rt.result_grads(g, ans)[0]
    rt.tied_values(ans if eigvals_only else ans[0], gw, "scipy.linalg.eigh")
    return (
        rt.eigh_grad(g, ans, uplo)
        if vectors
        else rt.triangle_grad((v * gw[..., None, :]) @ xp.swapaxes(v, -1, -2), uplo),
        None, None, None, None, None, None, None, None, None, None,
    )  # fmt: skip


@jvp(*EIGH, shaped=True)
def eigh_jvp(ans, a, b=None, lower=True, eigvals_only=False, overwrite_a=False,
             overwrite_b=False, type=1, check_finite=True, subset_by_index=None,
             subset_by_value=None, driver=None, *, da):  # fmt: skip
    """With ``P = V^T S V``, ``S`` the symmetric change read from the triangle ``lower``
    names: dw = diag(P), dV = V (F * P), ``F[i, j] = 1 / (w[j] - w[i])``. By a driver but
    'evd', the eigenvectors' tangent is refused where it is used (``rt.NoGradient``), and
    the eigenvalues' is read with np.linalg.eigh's V, whose signs move smoothly (so that
    it has a derivative of its own: ``sd.hessian``)."""
    rt.eigh_of_one_matrix(b, subset_by_index, subset_by_value, overwrite_a)
    v = (
        ans[1]
        if not eigvals_only and driver == "evd"
        else xp.linalg.eigh(a, "L" if lower else "U")[1]
    )
    p = (
        xp.swapaxes(v, -1, -2)
        @ (
            (xp.tril(da) + xp.swapaxes(xp.tril(da, -1), -1, -2))
            if lower
            else (xp.triu(da) + xp.swapaxes(xp.triu(da, 1), -1, -2))
        )
        @ v
    )
    rt.tied_change(ans if eigvals_only else ans[0], p, "scipy.linalg.eigh")
    return (
        xp.diagonal(p, 0, -2, -1)
        if eigvals_only
        else rt.result_like(
            ans,
            [
                xp.diagonal(p, 0, -2, -1),
                v @ (rt.eigen_gaps(ans[0], "scipy.linalg.eigh") * p)
                if driver == "evd"
                else rt.NoGradient(
                    "the forward derivative of the eigenvectors of scipy.linalg.eigh by its "
                    f"driver {driver or 'evr'!r}: it picks their signs anew under changes as "
                    "small as rounding",
                    "pass driver='evd' (np.linalg.eigh's, whose signs move smoothly), or "
                    "eigvals_only=True for the eigenvalues alone",
                ),
            ],
        )
    )


sequence_result(*EIGH)  # (w, v): an adjoint of the pair adds up entry by entry
