"""Rules of selecting entries: take, take_along_axis, select, choose, partition, and the
reductions that skip NaN entries (nanmax, nanmin, nansum, nanmean)."""

import numpy as xp

from .. import runtime as rt
from .registry import jvp, linear, unsupported, vjp

# The gradient of a selected entry goes back where it was selected from (repeated
# selections add up); the indices, conditions and counts get none. ``where=None`` in a
# rule stands for NumPy's default ``where=True``.


@vjp(xp.take, "ndarray.take")
def take(g, ans, a, indices, axis=None, out=None, mode="raise"):
    return rt.take_grad(g, a, indices, axis, mode), None, None, None, None


@vjp(xp.bincount)
def bincount(g, ans, x, weights=None, minlength=0):
    """``ans[k]`` is the sum of the weights of the entries of ``x`` equal to ``k``: each
    weight gets ``g`` at its bin (without weights, counts: no gradient)."""
    return None, None if weights is None else rt.cast_like(g[x], weights), None


linear((1,), xp.bincount)


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


# ---- forward mode -------------------------------------------------------------------------

# Selecting entries is linear in what is selected from: ``select`` in its choices and its
# default jointly.
linear((0,), xp.take, "ndarray.take", xp.take_along_axis)
linear((1,), xp.choose)
linear((1, 2), xp.select)


@jvp(xp.partition, shaped=True)
def partition_jvp(ans, a, kth, axis=-1, kind="introselect", order=None, *, da):
    """``da`` in the order of the result, its values matched to those of ``a`` by sorting
    both, as the reverse rule does."""
    return rt.sort_grad(rt.sort_tangent(da, a, axis), ans, axis)


@jvp(xp.nanmax, xp.nanmin, shaped=True)
def nanmax_jvp(ans, a, axis=None, out=None, keepdims=False, initial=None, where=None, *, da):
    """The tangent of the extreme entries, shared as the reverse rule shares."""
    return xp.sum(
        rt.extreme_share(ans, a, axis, keepdims, initial, where) * da, axis=axis, keepdims=keepdims
    )


@jvp(xp.nansum, shaped=True)
def nansum_jvp(ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
               *, da, dinitial):  # fmt: skip
    kept = (
        xp.logical_not(xp.isnan(a))
        if where is None
        else xp.logical_and(xp.logical_not(xp.isnan(a)), where)
    )
    return (
        xp.sum(xp.where(kept, da, 0.0), axis=axis, keepdims=keepdims),
        rt.broadcast_like(dinitial, ans),
    )


@jvp(xp.nanmean, shaped=True)
def nanmean_jvp(ans, a, axis=None, dtype=None, out=None, keepdims=False, where=None, *, da):
    """The mean of the tangents of the entries kept; none for an all-NaN slice."""
    kept = (
        xp.logical_not(xp.isnan(a))
        if where is None
        else xp.logical_and(xp.logical_not(xp.isnan(a)), where)
    )
    count = xp.maximum(xp.sum(kept, axis=axis, keepdims=keepdims), 1)
    return xp.sum(xp.where(kept, da, 0.0), axis=axis, keepdims=keepdims) / count


# ---- quantiles ---------------------------------------------------------------------------

# A quantile interpolates between one or two entries of the sorted values: its gradient
# goes to them by their weights (``rt.quantile_grads``); that of ``q`` is the slope
# between them. NumPy's ``weights=`` and ``interpolation=`` are keyword-only there, and
# taken here by name alone.


@vjp(xp.quantile)
def quantile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, weights=None, interpolation=None):  # fmt: skip
    d_a, d_q = rt.quantile_grads(g, a, q, axis, keepdims, method,
                                 (overwrite_input, weights, interpolation))  # fmt: skip
    return d_a, d_q, None, None, None, None, None, None, None


@vjp(xp.percentile)
def percentile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, weights=None, interpolation=None):  # fmt: skip
    """``np.quantile`` of ``q / 100``."""
    d_a, d_q = rt.quantile_grads(g, a, q, axis, keepdims, method,
                                 (overwrite_input, weights, interpolation), True)  # fmt: skip
    return d_a, d_q, None, None, None, None, None, None, None


@vjp(xp.median)
def median(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``np.quantile`` of 0.5: the middle entry, or the mean of the two middle ones."""
    d_a, _ = rt.quantile_grads(g, a, 0.5, axis, keepdims, "linear",
                               (overwrite_input, None, None))  # fmt: skip
    return d_a, None, None, None, None


@jvp(xp.quantile, shaped=True)
def quantile_jvp(ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                 keepdims=False, weights=None, interpolation=None, *, da, dq):  # fmt: skip
    options = (overwrite_input, weights, interpolation)
    return (
        rt.quantile_tangent(da, None, a, q, axis, keepdims, method, options),
        rt.quantile_tangent(None, dq, a, q, axis, keepdims, method, options),
    )


@jvp(xp.percentile, shaped=True)
def percentile_jvp(ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                   keepdims=False, weights=None, interpolation=None, *, da, dq):  # fmt: skip
    options = (overwrite_input, weights, interpolation)
    return (
        rt.quantile_tangent(da, None, a, q, axis, keepdims, method, options, True),
        rt.quantile_tangent(None, dq, a, q, axis, keepdims, method, options, True),
    )


@jvp(xp.median, shaped=True)
def median_jvp(ans, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, da):
    return rt.quantile_tangent(da, None, a, 0.5, axis, keepdims, "linear",
                               (overwrite_input, None, None))  # fmt: skip


for _helper in (rt.quantile_grads, rt.quantile_tangent):
    unsupported(
        _helper,
        "a second derivative through a quantile (np.quantile, np.percentile, np.median): "
        "no derivative rule for its gradient",
        "take the first derivative only, or sort and interpolate with np.sort and indexing",
    )
