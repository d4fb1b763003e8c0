"""Rules of products and linear algebra: dot, outer, inner, trace, norm."""

import numpy as xp

from .. import runtime as rt
from .registry import jvp, linear, multilinear, vjp


@vjp(xp.dot, "ndarray.dot")
def dot(g, ans, a, b):
    return rt.dot_lhs(g, a, b), rt.dot_rhs(g, a, b)


@vjp(xp.outer)
def outer(g, ans, a, b):
    return rt.reshape_like(g @ xp.ravel(b), a), rt.reshape_like(xp.ravel(a) @ g, b)


@vjp(xp.inner)
def inner(g, ans, a, b):
    """``ans[I, J] = sum_k a[I, k] * b[J, k]`` for any numbers of leading axes I, J."""
    na, nb = xp.ndim(a) - 1, xp.ndim(b) - 1
    if na < 0 or nb < 0:  # a product by a number
        da, db = rt.unbroadcast(g * b, a), rt.unbroadcast(g * a, b)
    else:  # axes as tuples: CuPy takes an empty contraction of a 0-d array only as ((), ())
        da = xp.tensordot(g, b, (tuple(range(na, na + nb)), tuple(range(nb))))
        db = xp.tensordot(g, a, (tuple(range(na)), tuple(range(na))))
    return da, db


@vjp(xp.trace, "ndarray.trace")
def trace(g, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return rt.trace_grad(g, a, offset, axis1, axis2), None, None, None, None, None


@vjp(xp.linalg.norm)
def norm(g, ans, x, ord=None, axis=None, keepdims=False):
    """Every ``ord`` NumPy has, of vectors and of matrices; the gradient at 0 is 0, and
    ties of the max/min norms share evenly."""
    return rt.norm_grad(g, ans, x, ord, axis, keepdims), None, None, None


@jvp(xp.dot, "ndarray.dot", shaped=True)
def dot_jvp(ans, a, b, *, da, db):
    return xp.dot(da, b), xp.dot(a, db)


@jvp(xp.outer, shaped=True)
def outer_jvp(ans, a, b, *, da, db):
    return xp.outer(da, b), xp.outer(a, db)


@jvp(xp.inner, shaped=True)
def inner_jvp(ans, a, b, *, da, db):
    return xp.inner(da, b), xp.inner(a, db)


VECDOT = [xp.vecdot] if hasattr(xp, "vecdot") else []  # NumPy 2


@vjp(*VECDOT)
def vecdot(g, ans, x1, x2, axis=-1):
    """``sum(x1 * x2, axis)`` of real operands, after broadcasting them."""
    g_kept = xp.expand_dims(g, axis)
    return rt.unbroadcast(g_kept * x2, x1), rt.unbroadcast(g_kept * x1, x2), None


@jvp(*VECDOT, shaped=True)
def vecdot_jvp(ans, x1, x2, axis=-1, *, dx1, dx2):
    return xp.vecdot(dx1, x2, axis=axis), xp.vecdot(x1, dx2, axis=axis)


MATVEC = [xp.matvec] if hasattr(xp, "matvec") else []  # NumPy 2.2
VECMAT = [xp.vecmat] if hasattr(xp, "vecmat") else []


@vjp(*MATVEC)
def matvec(g, ans, x1, x2):
    """``x1 @ x2[..., None]``, the vector's axis dropped: a matrix product's rule."""
    return (
        rt.unbroadcast(g[..., :, None] * x2[..., None, :], x1),
        rt.unbroadcast(xp.sum(g[..., :, None] * x1, axis=-2), x2),
    )


@jvp(*MATVEC, shaped=True)
def matvec_jvp(ans, x1, x2, *, dx1, dx2):
    return xp.matvec(dx1, x2), xp.matvec(x1, dx2)


@vjp(*VECMAT)
def vecmat(g, ans, x1, x2):
    """``x1[..., None, :] @ x2``, the vector's axis dropped (real operands: NumPy takes the
    conjugate of ``x1``, the same for them)."""
    rt.real_only(x1)
    return (
        rt.unbroadcast(xp.sum(x2 * g[..., None, :], axis=-1), x1),
        rt.unbroadcast(x1[..., :, None] * g[..., None, :], x2),
    )


@jvp(*VECMAT, shaped=True)
def vecmat_jvp(ans, x1, x2, *, dx1, dx2):
    rt.real_only(x1)
    return xp.vecmat(dx1, x2), xp.vecmat(x1, dx2)


linear((0,), xp.trace, "ndarray.trace")


@jvp(xp.linalg.norm, shaped=True)
def norm_jvp(ans, x, ord=None, axis=None, keepdims=False, *, dx):
    """Each norm's gradient (as the reverse rule gives it: 0 at 0, ties shared evenly)
    against the tangent of its slice, over the axes it reduces (all where ``axis`` is
    None)."""
    return xp.sum(
        rt.norm_grad(xp.ones_like(ans), ans, x, ord, axis, keepdims) * dx,
        axis=axis,
        keepdims=keepdims,
    )


# NumPy 2's array API spellings in np.linalg (where this NumPy has them): the rules of
# the functions they compute, on the last two axes.
LINALG2 = {n: getattr(xp.linalg, n) for n in ("matrix_norm", "vector_norm", "trace",
           "diagonal", "svdvals", "matrix_transpose") if hasattr(xp.linalg, n)}  # fmt: skip


@vjp(*[LINALG2[n] for n in ("matrix_norm",) if n in LINALG2])
def matrix_norm(g, ans, x, keepdims=False, ord="fro"):
    """``np.linalg.norm(x, ord, axis=(-2, -1), keepdims)``: its rule."""
    return rt.norm_grad(g, ans, x, ord, (-2, -1), keepdims), None, None


@jvp(*[LINALG2[n] for n in ("matrix_norm",) if n in LINALG2], shaped=True)
def matrix_norm_jvp(ans, x, keepdims=False, ord="fro", *, dx):
    return xp.sum(
        rt.norm_grad(xp.ones_like(ans), ans, x, ord, (-2, -1), keepdims) * dx,
        axis=(-2, -1),
        keepdims=keepdims,
    )


@vjp(*[LINALG2[n] for n in ("vector_norm",) if n in LINALG2])
def vector_norm(g, ans, x, axis=None, keepdims=False, ord=2):
    """The norm of each row of the axes reduced (all for None) moved last and made one
    (``norm_rows``), as ``np.linalg.norm``'s rule gives it along one axis; ``axis=()``
    reduces none (each entry a row of its own, where PyTorch's empty dim reduces all)."""
    rows = x[..., None] if axis == () else rt.tensor_methods.norm_rows(x, axis)
    d_rows = rt.norm_grad(
        xp.reshape(g, rows.shape[:-1]), xp.reshape(ans, rows.shape[:-1]), rows, ord, -1
    )
    return (
        d_rows[..., 0] if axis == () else rt.tensor_methods.norm_rows_back(d_rows, x, axis),
        None,
        None,
        None,
    )


@jvp(*[LINALG2[n] for n in ("vector_norm",) if n in LINALG2], shaped=True)
def vector_norm_jvp(ans, x, axis=None, keepdims=False, ord=2, *, dx):
    rows = x[..., None] if axis == () else rt.tensor_methods.norm_rows(x, axis)
    slope = rt.norm_grad(
        xp.ones(rows.shape[:-1], rows.dtype), xp.reshape(ans, rows.shape[:-1]), rows, ord, -1
    )
    d_rows = dx[..., None] if axis == () else rt.tensor_methods.norm_rows(dx, axis)
    return xp.reshape(xp.sum(slope * d_rows, axis=-1), xp.shape(ans))


@vjp(*[LINALG2[n] for n in ("trace",) if n in LINALG2])
def linalg_trace(g, ans, x, offset=0, dtype=None):
    """``np.trace(x, offset, axis1=-2, axis2=-1)``."""
    return rt.trace_grad(g, x, offset, -2, -1), None, None


@vjp(*[LINALG2[n] for n in ("diagonal",) if n in LINALG2])
def linalg_diagonal(g, ans, x, offset=0):
    """``np.diagonal(x, offset, axis1=-2, axis2=-1)``."""
    return rt.diagonal_grad(g, x, offset, -2, -1), None


MATRIX_TRANSPOSE = [LINALG2[n] for n in ("matrix_transpose",) if n in LINALG2] + (
    [xp.matrix_transpose] if hasattr(xp, "matrix_transpose") else []
)  # (np.matrix_transpose too, NumPy 2.2)


@vjp(*MATRIX_TRANSPOSE)
def matrix_transpose(g, ans, x):
    return xp.swapaxes(g, -1, -2)


@vjp(*[LINALG2[n] for n in ("svdvals",) if n in LINALG2])
def svdvals(g, ans, x):
    """``np.linalg.svd(x, compute_uv=False)``: ``U diag(g) V^T`` (distinct nonzero
    singular values; a real ``x``, as ``np.linalg.svd``'s)."""
    rt.real_only(x)
    return rt.svd_grad(g, ans, x, False, False, False)


@jvp(*[LINALG2[n] for n in ("svdvals",) if n in LINALG2], shaped=True)
def svdvals_jvp(ans, x, *, dx):
    """``diag(U^T dx V)``."""
    rt.real_only(x)
    usv = xp.linalg.svd(x, full_matrices=False)
    return xp.sum(usv[0] * (dx @ xp.swapaxes(usv[2], -1, -2)), axis=-2)


linear((0,), *[LINALG2[n] for n in ("trace", "diagonal") if n in LINALG2], *MATRIX_TRANSPOSE)


@vjp(xp.linalg.multi_dot)
def multi_dot(g, ans, arrays, out=None):
    """Each matrix gets ``L^T g R^T``, ``L`` and ``R`` the products of those before and
    after it (a first or last vector read as a row or a column)."""
    return rt.multi_dot_grads(g, arrays), None


@jvp(xp.linalg.multi_dot, shaped=True)
def multi_dot_jvp(ans, arrays, out=None, *, darrays):
    return rt.multi_dot_tangent(arrays, darrays)


@vjp(rt.multi_dot_tangent)
def multi_dot_tangent(g, ans, arrays, darrays):
    """The sum of the products with one entry replaced by its tangent: linear in the
    tangents, each product's gradients ``multi_dot``'s."""
    d_arrays, d_darrays = rt.multi_dot_tangent_grads(g, arrays, darrays)
    return d_arrays, d_darrays


# A ufunc's outer product (``np.subtract.outer(a, b)``: ``a[I] - b[J]`` for every index
# pair): the gradient of ``a`` sums over ``b``'s axes, that of ``b`` over ``a``'s.


@vjp(xp.add.outer)
def add_outer(g, ans, A, B):
    return (
        rt.reshape_like(xp.sum(g, axis=tuple(range(xp.ndim(A), xp.ndim(g)))), A),
        rt.reshape_like(xp.sum(g, axis=tuple(range(xp.ndim(A)))), B),
    )


@vjp(xp.subtract.outer)
def subtract_outer(g, ans, A, B):
    return (
        rt.reshape_like(xp.sum(g, axis=tuple(range(xp.ndim(A), xp.ndim(g)))), A),
        rt.reshape_like(-xp.sum(g, axis=tuple(range(xp.ndim(A)))), B),
    )


@vjp(xp.multiply.outer)
def multiply_outer(g, ans, A, B):
    return (
        rt.cast_like(rt.reshape_like(xp.tensordot(g, B, xp.ndim(B)), A), A),
        rt.cast_like(rt.reshape_like(xp.tensordot(A, g, xp.ndim(A)), B), B),
    )


linear("all", xp.add.outer, xp.subtract.outer)
multilinear("all", xp.multiply.outer)


# ``np.linalg.cond(x, p)``: for p None, 2 and -2 the ratio ``norm(x, q) / norm(x, -q)`` of
# the extreme singular values (q = 2, or -2), for the other p the product ``norm(x, p) *
# norm(inv(x), p)``: through the norms' rules (distinct nonzero singular values) and inv's.


@vjp(xp.linalg.cond)
def cond(g, ans, x, p=None):
    q = 2 if p is None else p
    n = xp.linalg.norm(x, q, axis=(-2, -1))
    inverse = None if q in (2, -2) else xp.linalg.inv(x)
    return (
        rt.norm_grad(g * ans / n, n, x, q, (-2, -1))
        - (
            rt.norm_grad(g * ans * ans / n, n / ans, x, -q, (-2, -1))
            if inverse is None
            else xp.swapaxes(inverse, -1, -2)
            @ rt.norm_grad(g * n, ans / n, inverse, q, (-2, -1))
            @ xp.swapaxes(inverse, -1, -2)
        ),
        None,
    )


@jvp(xp.linalg.cond, shaped=True)
def cond_jvp(ans, x, p=None, *, dx):
    q = 2 if p is None else p
    n = xp.linalg.norm(x, q, axis=(-2, -1))
    inverse = None if q in (2, -2) else xp.linalg.inv(x)
    return xp.sum(rt.norm_grad(ans / n, n, x, q, (-2, -1)) * dx, axis=(-2, -1)) - (
        xp.sum(rt.norm_grad(ans * ans / n, n / ans, x, -q, (-2, -1)) * dx, axis=(-2, -1))
        if inverse is None
        else n
        * xp.sum(
            rt.norm_grad(xp.ones_like(n), ans / n, inverse, q, (-2, -1)) * (inverse @ dx @ inverse),
            axis=(-2, -1),
        )
    )
