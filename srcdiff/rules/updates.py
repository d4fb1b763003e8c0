"""Rules of the helpers that give the new value of an object updated in place
(``np.add.at``, ``np.put``, ``np.copyto``, ``xs.extend``, ...; see ``runtime/updates``)."""

import numpy as xp

from .. import runtime as rt
from . import numpy_math
from .registry import jvp, linear, nondiff, unsupported, vjp


@vjp(rt.augmented, rt.tensor_methods.augmented, rt.differentiated_update)
def augmented(g, ans, x, new, values=None):
    """``x <op>= v`` keeps ``x``'s dtype: the adjoint goes to ``x <op> v`` in its own.
    (``values``: the globals a differentiated update checks ``x`` against.)"""
    return None, rt.cast_like(g, new), None


@jvp(rt.augmented, rt.tensor_methods.augmented, rt.differentiated_update)
def augmented_jvp(ans, x, new, values=None, *, dx, dnew):
    return None, rt.cast_like(dnew, ans)


@vjp(rt.add_at)
def add_at(g, ans, a, indices, b):
    d_a, d_b = rt.at_grads(g, indices, b, 1.0)
    return d_a, None, d_b


@vjp(rt.subtract_at)
def subtract_at(g, ans, a, indices, b):
    d_a, d_b = rt.at_grads(g, indices, b, -1.0)
    return d_a, None, d_b


@vjp(rt.multiply_at)
def multiply_at(g, ans, a, indices, b):
    """Each position of ``a`` is scaled by the product of its factors; a factor's gradient
    is ``g`` times its position's entry of ``a`` and the other factors there."""
    product, weights = rt.multiply_at_factors(a, indices, b)
    return g * product, None, rt.unbroadcast(g[indices] * weights, b)


@jvp(rt.multiply_at)
def multiply_at_jvp(ans, a, indices, b, *, da, db):
    """Each position's factors as a row (filled up with 1s) and their product's rules,
    whose derivatives go on, exact where factors are zero (a second derivative too)."""
    slots = rt.multiply_at_slots(a, indices)
    spread = rt.multiply_at_shape(a, indices)
    pad = xp.ones_like(xp.reshape(a, (-1,))[:1])
    rows = xp.concatenate([xp.ravel(xp.broadcast_to(b, spread)), pad])[slots]
    d_rows = xp.concatenate([xp.ravel(xp.broadcast_to(db, spread)), 0 * pad])[slots]
    products = xp.reshape(xp.prod(rows, axis=-1), xp.shape(a))
    slopes = rt.prod_grad(xp.ones_like(rows[:, 0]), None, rows, -1)
    return da * products, a * xp.reshape(xp.sum(slopes * d_rows, axis=-1), xp.shape(a))


@vjp(rt.put)
def put(g, ans, a, ind, v, mode="raise"):
    """The last write to a position is the one that stays; ``v`` repeats as needed."""
    d_a, d_v = rt.put_grads(g, a, ind, v, mode)
    return d_a, None, d_v, None


@vjp(rt.put_along_axis)
def put_along_axis(g, ans, arr, indices, values, axis):
    """As ``put``: the last write to a position stays; ``values`` spreads to ``indices``."""
    d_arr, d_values = rt.put_along_axis_grads(g, arr, indices, values, axis)
    return d_arr, None, d_values, None


@vjp(rt.putmask)
def putmask(g, ans, a, mask, values):
    d_a, d_values = rt.putmask_grads(g, mask, values)
    return d_a, None, d_values


@vjp(rt.place)
def place(g, ans, arr, mask, vals):
    d_arr, d_vals = rt.place_grads(g, mask, vals)
    return d_arr, None, d_vals


@vjp(rt.fill_diagonal)
def fill_diagonal(g, ans, a, val, wrap=False):
    d_a, d_val = rt.fill_diagonal_grads(g, val, wrap)
    return d_a, d_val, None


vjp(rt.where)(numpy_math.where)


@vjp(rt.resized)
def resized(g, ans, x, shape=None, refcheck=True):
    return rt.resized_grads(g, x), None, None


@vjp(rt.sorted_in_place)
def sorted_in_place(g, ans, x, axis=-1, kind=None, order=None, key=None, reverse=False):
    return rt.sorted_in_place_grads(g, x, axis, key, reverse), None, None, None, None, None


@vjp(rt.filled)
def filled(g, ans, x, value):
    d_x, d_value = rt.filled_grads(g, x, value)
    return d_x, d_value


@vjp(rt.extended)
def extended(g, ans, xs, ys):
    d_xs, d_ys = rt.extended_grads(g, xs, ys)
    return d_xs, d_ys


@vjp(rt.inserted)
def inserted(g, ans, xs, index, v):
    d_xs, d_v = rt.inserted_grads(g, ans, xs, index)
    return d_xs, None, d_v


@vjp(rt.pop_value)
def pop_value(g, ans, xs, key=-1):
    return rt.pop_grads(g, xs, key), None


@vjp(rt.removed)
def removed(g, ans, xs, key=-1):
    return rt.removed_grads(g, xs, key), None


@vjp(rt.reversed_list)
def reversed_list(g, ans, xs):
    return rt.reversed_grads(g, xs)


@vjp(rt.updated)
def updated(g, ans, d, other):
    d_d, d_other = rt.updated_grads(g, d, other)
    return d_d, d_other


nondiff("an emptied list or dict holds nothing to differentiate", rt.cleared)
nondiff("the position of the entry list.remove takes out", rt.removal_index)
nondiff("a shape, and the indices of np.multiply.at's factors", rt.multiply_at_shape,
        rt.multiply_at_slots)  # fmt: skip
unsupported(
    rt.ufunc_at,
    "no derivative rule for this ufunc's .at (srcdiff has np.add.at, np.subtract.at and "
    "np.multiply.at)",
    "compute the update with a function srcdiff knows, e.g. np.maximum on a copy",
)


# ---- forward mode -------------------------------------------------------------------------

# A write, an accumulation, a fill, a resize, a reordering of a list or a dict: linear in
# the object updated and the values written, jointly (``rt.where`` as ``np.where``).
linear((0, 2), rt.add_at, rt.subtract_at, rt.put, rt.put_along_axis, rt.putmask, rt.place,
       rt.inserted)  # fmt: skip
linear((0, 1), rt.fill_diagonal, rt.filled, rt.extended, rt.updated)
linear((1, 2), rt.where)
linear((0,), rt.resized, rt.pop_value, rt.removed, rt.reversed_list)


@jvp(rt.sorted_in_place)
def sorted_in_place_jvp(ans, x, axis=-1, kind=None, order=None, key=None, reverse=False, *, dx):
    """``dx`` in the order the sort put ``x`` in (a list's stable sort, or an array's)."""
    return rt.sorted_in_place_tangent(dx, x, axis, key, reverse)
