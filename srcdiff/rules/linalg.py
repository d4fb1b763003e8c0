"""Rules of products and linear algebra: dot, outer, inner, trace, norm."""

import numpy as xp

from .. import runtime as rt
from .registry import jvp, linear, vjp


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
