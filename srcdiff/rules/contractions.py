"""Rules of contractions: einsum, tensordot, kron, cross, vdot (of real arrays).

Each gradient is a contraction of the result's gradient with the other operands, the
adjoint of the bilinear map the primitive is.
"""

import numpy as xp

from .. import runtime as rt
from .registry import jvp, keywords, multilinear, vjp


@vjp(xp.einsum)
def einsum(g, ans, *operands):
    """Subscripts (explicit, implicit, with ``...``, repeated letters, broadcasting) or
    sublists, then the arrays: each array's gradient is one more einsum (see
    ``rt.einsum_grads``); the subscripts and sublists have none."""
    return rt.einsum_grads(g, ans, operands)


@vjp(xp.tensordot)
def tensordot(g, ans, a, b, axes=2):
    """``axes`` an int (the last of ``a`` with the first of ``b``) or a pair of axes."""
    da, db = rt.tensordot_grads(g, a, b, axes)
    return da, db, None


@vjp(xp.kron)
def kron(g, ans, a, b):
    da, db = rt.kron_grads(g, a, b)
    return da, db


@vjp(xp.cross)
def cross(g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """3-vectors and 2-vectors (z = 0), along any axes: ``<g, a x b> = <b x g, a>``."""
    da, db = rt.cross_grads(g, a, b, axisa, axisb, axisc, axis)
    return da, db, None, None, None, None


@vjp(xp.vdot)
def vdot(g, ans, a, b):
    """The dot product of the flattened arrays (real: no conjugate)."""
    return rt.reshape_like(g * xp.ravel(b), a), rt.reshape_like(g * xp.ravel(a), b)


# Forward: each is bilinear (einsum multilinear), so its tangent is one term per operand,
# the primitive of that operand's tangent and the other operands: einsum's are written by
# the compiler (any subscripts, ``...``, implicit output, sublists), one einsum a term.
multilinear("all", xp.einsum)
keywords(xp.einsum, optimize=None)  # the order of contraction: the same sums


@jvp(xp.tensordot, shaped=True)
def tensordot_jvp(ans, a, b, axes=2, *, da, db):
    return xp.tensordot(da, b, axes), xp.tensordot(a, db, axes)


@jvp(xp.kron, shaped=True)
def kron_jvp(ans, a, b, *, da, db):
    return xp.kron(da, b), xp.kron(a, db)


@jvp(xp.cross, shaped=True)
def cross_jvp(ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, *, da, db):
    return xp.cross(da, b, axisa, axisb, axisc, axis), xp.cross(a, db, axisa, axisb, axisc, axis)


@jvp(xp.vdot, shaped=True)
def vdot_jvp(ans, a, b, *, da, db):
    return xp.vdot(da, b), xp.vdot(a, db)
