"""Rules of selecting entries: take, take_along_axis, select, choose, partition, and the
reductions that skip NaN entries (nanmax, nanmin, nansum, nanmean)."""

import numpy as xp

from .. import runtime as rt
from .registry import vjp

# The gradient of a selected entry goes back where it was selected from (repeated
# selections add up); the indices, conditions and counts get none. ``where=None`` in a
# rule stands for NumPy's default ``where=True``.


@vjp(xp.take)
def take(g, ans, a, indices, axis=None, out=None, mode="raise"):
    return rt.take_grad(g, a, indices, axis, mode), None, None, None, None


@vjp(xp.take_along_axis)
def take_along_axis(g, ans, arr, indices, axis=-1):
    return rt.take_along_axis_grad(g, arr, indices, axis), None, None


@vjp(xp.select)
def select(g, ans, condlist, choicelist, default=0):
    """Where several conditions hold, the first one's choice was taken: it alone gets
    the gradient."""
    d_choicelist, d_default = rt.select_grads(g, condlist, choicelist, default)
    return None, d_choicelist, d_default


@vjp(xp.choose)
def choose(g, ans, a, choices, out=None, mode="raise"):
    return None, rt.choose_grad(g, a, choices, mode), None, None


@vjp(xp.partition)
def partition(g, ans, a, kth, axis=-1, kind="introselect", order=None):
    """Equal values are matched in order, as np.sort's rule does (JAX and autograd give
    ties no particular order either)."""
    return rt.permutation_grad(g, ans, a, axis), None, None, None, None


@vjp(xp.nanmax, xp.nanmin)
def nanmax(g, ans, a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Ties share evenly, as max's rule does; NaN entries get none; a tie with
    ``initial`` gives it half, as JAX's ``max(max(a), initial)`` does."""
    d_a, d_initial = rt.extreme_grads(g, ans, a, axis, keepdims, initial, where)
    return d_a, None, None, None, d_initial, None


@vjp(xp.nansum)
def nansum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    return (
        rt.nan_sum_grad(g, a, axis, keepdims, where),
        None,
        None,
        None,
        None,
        None if initial is None else rt.unbroadcast(g, initial),
        None,
    )


@vjp(xp.nanmean)
def nanmean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """An all-NaN slice (its mean is NaN) gives its entries none, as in JAX."""
    return rt.nan_mean_grad(g, a, axis, keepdims, where), None, None, None, None, None
