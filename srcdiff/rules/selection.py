"""Rules of selecting entries: take, take_along_axis, select, choose, partition, and the
reductions that skip NaN entries (nanmax, nanmin, nansum, nanmean)."""

import numpy as xp

from .. import runtime as rt
from .registry import alias, constant_in, jvp, linear, nondiff, sequence_result, unsupported, vjp

# The gradient of a selected entry goes back where it was selected from (repeated
# selections add up); the indices, conditions and counts get none. ``where=None`` in a
# rule stands for NumPy's default ``where=True``.


@vjp(xp.take, "ndarray.take")
def take(g, ans, a, indices, axis=None, out=None, mode="raise"):
    return rt.take_grad(g, a, indices, axis, mode), None, None, None, None


@vjp(xp.compress)
def compress(g, ans, condition, a, axis=None, out=None):
    """``np.take`` of the positions where ``condition`` holds (along ``axis``, or of the
    flattened array)."""
    return (
        None,
        rt.take_grad(g, a, xp.nonzero(xp.ravel(xp.asarray(condition)))[0], axis, "raise"),
        None,
        None,
    )


@vjp(xp.extract)
def extract(g, ans, condition, arr):
    """The entries of the flattened ``arr`` where the flattened ``condition`` holds."""
    return None, rt.take_grad(g, arr, xp.nonzero(xp.ravel(xp.asarray(condition)))[0], None, "raise")


linear((1,), xp.compress, xp.extract)
nondiff("booleans: whether each entry is among the others", xp.isin)


@vjp(xp.bincount)
def bincount(g, ans, x, weights=None, minlength=0):
    """``ans[k]`` is the sum of the weights of the entries of ``x`` equal to ``k``: each
    weight gets ``g`` at its bin (without weights, counts: no gradient)."""
    return None, None if weights is None else rt.cast_like(g[x], weights), None


linear((1,), xp.bincount)


@vjp(xp.histogram)
def histogram(g, ans, a, bins=10, range=None, density=None, weights=None):
    """Which bin an entry falls in is constant almost everywhere: ``a`` moves the counts
    nowhere, and moves the result only through edges spaced over its extremes (and, with
    ``density``, their widths); each weight goes to its bin (``rt.histogram_grads``)."""
    d_a, d_bins, d_range, d_weights = rt.histogram_grads(g, ans, a, bins, range, density,
                                                         weights)  # fmt: skip
    return d_a, d_bins, d_range, None, d_weights


@jvp(xp.histogram, shaped=True)
def histogram_jvp(ans, a, bins=10, range=None, density=None, weights=None, *, da, dbins,
                  drange, dweights):  # fmt: skip
    """Each tangent's contribution apart, ``[hist, edges]`` (``rt.histogram_tangent``)."""
    return (
        [
            rt.histogram_tangent(ans, a, bins, range, density, weights, 0, da=da),
            rt.histogram_tangent(ans, a, bins, range, density, weights, 1, da=da),
        ],
        [
            rt.histogram_tangent(ans, a, bins, range, density, weights, 0, dbins=dbins),
            rt.histogram_tangent(ans, a, bins, range, density, weights, 1, dbins=dbins),
        ],
        [
            rt.histogram_tangent(ans, a, bins, range, density, weights, 0, drange=drange),
            rt.histogram_tangent(ans, a, bins, range, density, weights, 1, drange=drange),
        ],
        [
            rt.histogram_tangent(ans, a, bins, range, density, weights, 0, dweights=dweights),
            rt.histogram_tangent(ans, a, bins, range, density, weights, 1, dweights=dweights),
        ],
    )


@vjp(xp.histogram2d)
def histogram2d(g, ans, x, y, bins=10, range=None, density=None, weights=None):
    """``np.histogram``'s rule on each axis (``rt.histogram2d_grads``): the samples move
    the result only through edges spaced over their extremes, the weights add up in
    their bins."""
    d_x, d_y, d_bins, d_range, d_weights = rt.histogram2d_grads(g, ans, x, y, bins, range,
                                                                density, weights)  # fmt: skip
    return d_x, d_y, d_bins, d_range, None, d_weights


@jvp(xp.histogram2d, shaped=True)
def histogram2d_jvp(ans, x, y, bins=10, range=None, density=None, weights=None, *, dx, dy,
                    dbins, drange, dweights):  # fmt: skip
    """Each tangent's contribution apart, ``[hist, xedges, yedges]``."""
    return (
        [
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 0, dx=dx),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 1, dx=dx),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 2, dx=dx),
        ],
        [
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 0, dy=dy),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 1, dy=dy),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 2, dy=dy),
        ],
        [
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 0, dbins=dbins),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 1, dbins=dbins),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 2, dbins=dbins),
        ],
        [
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 0, drange=drange),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 1, drange=drange),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 2, drange=drange),
        ],
        [
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 0, dweights=dweights),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 1, dweights=dweights),
            rt.histogram2d_tangent(ans, x, y, bins, range, density, weights, 2, dweights=dweights),
        ],
    )


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


@vjp(xp.nanprod)
def nanprod(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
            where=None):  # fmt: skip
    """``np.prod`` with the NaN entries taken for ones: they get no gradient."""
    rt.plain_nan_reduction("nanprod", initial, where)
    d_a = rt.prod_grad(g, ans, xp.where(xp.isnan(a), 1.0, a), axis, keepdims)
    return xp.where(xp.isnan(a), 0.0, d_a), None, None, None, None, None, None


@jvp(xp.nanprod, shaped=True)
def nanprod_jvp(ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
                where=None, *, da):  # fmt: skip
    rt.plain_nan_reduction("nanprod", initial, where)
    slope = rt.prod_grad(xp.ones_like(ans), ans, xp.where(xp.isnan(a), 1.0, a), axis, keepdims)
    return xp.sum(slope * xp.where(xp.isnan(a), 0.0, da), axis=axis, keepdims=keepdims)


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
def nanmax_jvp(ans, a, axis=None, out=None, keepdims=False, initial=None, where=None, *, da,
               dinitial):  # fmt: skip
    """The tangent of the extreme entries, or of ``initial`` where it wins, shared as the
    reverse rule shares; the NaN entries' tangents (NaN too, where they come of one)
    reach nothing, as in JAX."""
    return (
        xp.sum(
            rt.extreme_share(ans, a, axis, keepdims, initial, where)
            * xp.where(xp.isnan(a), 0.0, da),
            axis=axis,
            keepdims=keepdims,
        ),
        rt.extreme_initial_share(ans, a, axis, keepdims, initial, where) * dinitial,
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
    count = xp.maximum(xp.sum(kept, axis=axis, keepdims=keepdims, dtype=ans.dtype), 1)
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


@vjp(xp.nanmedian)
def nanmedian(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``np.median`` of each slice's entries that are not NaN (they get no gradient)."""
    d_a, _ = rt.quantile_grads(g, a, 0.5, axis, keepdims, "linear",
                               (overwrite_input, None, None, True))  # fmt: skip
    return d_a, None, None, None, None


@jvp(xp.nanmedian, shaped=True)
def nanmedian_jvp(ans, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, da):
    return rt.quantile_tangent(da, None, a, 0.5, axis, keepdims, "linear",
                               (overwrite_input, None, None, True))  # fmt: skip


@vjp(xp.nanquantile)
def nanquantile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, weights=None, interpolation=None):  # fmt: skip
    """``np.quantile`` of each slice's entries that are not NaN (they get no gradient)."""
    d_a, d_q = rt.quantile_grads(g, a, q, axis, keepdims, method,
                                 (overwrite_input, weights, interpolation, True))  # fmt: skip
    return d_a, d_q, None, None, None, None, None, None, None


@vjp(xp.nanpercentile)
def nanpercentile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False, weights=None, interpolation=None):  # fmt: skip
    """``np.nanquantile`` of ``q / 100``."""
    d_a, d_q = rt.quantile_grads(g, a, q, axis, keepdims, method,
                                 (overwrite_input, weights, interpolation, True), True)  # fmt: skip
    return d_a, d_q, None, None, None, None, None, None, None


@jvp(xp.nanquantile, shaped=True)
def nanquantile_jvp(ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                    keepdims=False, weights=None, interpolation=None, *, da, dq):  # fmt: skip
    options = (overwrite_input, weights, interpolation, True)
    return (
        rt.quantile_tangent(da, None, a, q, axis, keepdims, method, options),
        rt.quantile_tangent(None, dq, a, q, axis, keepdims, method, options),
    )


@jvp(xp.nanpercentile, shaped=True)
def nanpercentile_jvp(ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                      keepdims=False, weights=None, interpolation=None, *, da, dq):  # fmt: skip
    options = (overwrite_input, weights, interpolation, True)
    return (
        rt.quantile_tangent(da, None, a, q, axis, keepdims, method, options, True),
        rt.quantile_tangent(None, dq, a, q, axis, keepdims, method, options, True),
    )


# Their second derivatives: a quantile is linear in the sorted entries, by weights that
# the linear method moves with ``q``; ``rt.quantile_tangent`` (forward mode) and
# ``rt.quantile_grads`` (reverse) are linear maps, each the other's transpose, whose
# derivatives in ``a`` and ``q`` are the bilinear ``rt.quantile_cross`` (the order of
# ``a`` is constant where its entries differ, as in np.sort's rules).


@vjp(rt.quantile_tangent)
def quantile_tangent(g, ans, u, v, a, q, axis=None, keepdims=False, method="linear",
                     options=None, percent=False):  # fmt: skip
    """The tangent of a quantile along ``u`` (of ``a``) and ``v`` (of ``q``): linear in
    them, by ``rt.quantile_grads``; in ``a`` through the slope along ``v``, in ``q``
    through the weights of ``u``."""
    d_u, d_v = rt.quantile_grads(g, a, q, axis, keepdims, method, options, percent)
    d_a, d_q = rt.quantile_cross_grads(g, u, v, a, q, axis, keepdims, method, options, percent)
    return d_u, d_v, d_a, d_q, None, None, None, None, None


@jvp(rt.quantile_tangent, shaped=True)
def quantile_tangent_jvp(ans, u, v, a, q, axis=None, keepdims=False, method="linear",
                         options=None, percent=False, *, du, dv, d_a, d_q):  # fmt: skip
    return (
        rt.quantile_tangent(du, None, a, q, axis, keepdims, method, options, percent),
        rt.quantile_tangent(None, dv, a, q, axis, keepdims, method, options, percent),
        rt.quantile_cross(d_a, v, a, q, axis, keepdims, method, options, percent),
        rt.quantile_cross(u, d_q, a, q, axis, keepdims, method, options, percent),
    )


@vjp(rt.quantile_grads)
def quantile_grads(gbar, out, g, a, q, axis=None, keepdims=False, method="linear",
                   options=None, percent=False):  # fmt: skip
    """The gradients of a quantile: linear in ``g``, whose gradient is the tangent along
    the adjoints of the two (its transpose); in ``a`` through that of ``q`` (the slope),
    in ``q`` through that of ``a`` (the weights)."""
    g_a, g_q = rt.result_grads(gbar, out)
    d_g = rt.quantile_tangent(g_a, g_q, a, q, axis, keepdims, method, options, percent)
    d_a, d_q = rt.quantile_cross_grads(g, g_a, g_q, a, q, axis, keepdims, method, options,
                                       percent)  # fmt: skip
    return rt.unbroadcast(d_g, g), d_a, d_q, None, None, None, None, None


@jvp(rt.quantile_grads, shaped=True)
def quantile_grads_jvp(out, g, a, q, axis=None, keepdims=False, method="linear", options=None,
                       percent=False, *, dg, da, dq):  # fmt: skip
    return (
        list(rt.quantile_grads(dg, a, q, axis, keepdims, method, options, percent)),
        list(
            rt.quantile_cross_grads(g, da, None, a, q, axis, keepdims, method, options, percent)
        ),  # fmt: skip
        list(
            rt.quantile_cross_grads(g, None, dq, a, q, axis, keepdims, method, options, percent)
        ),  # fmt: skip
    )


@vjp(rt.quantile_cross)
def quantile_cross(g, ans, t, dq, a, q, axis=None, keepdims=False, method="linear",
                   options=None, percent=False):  # fmt: skip
    """Bilinear in ``t`` and ``dq``; constant in ``a`` and ``q`` (the order of ``a``, the
    positions ``q`` reads) where the entries differ."""
    d_t = rt.quantile_cross_grads(g, None, dq, a, q, axis, keepdims, method, options, percent)[0]
    d_dq = rt.quantile_cross_grads(g, t, None, a, q, axis, keepdims, method, options, percent)[1]
    return d_t, d_dq, None, None, None, None, None, None, None


@jvp(rt.quantile_cross, shaped=True)
def quantile_cross_jvp(ans, t, dq, a, q, axis=None, keepdims=False, method="linear",
                       options=None, percent=False, *, dt, ddq):  # fmt: skip
    return (
        rt.quantile_cross(dt, dq, a, q, axis, keepdims, method, options, percent),
        rt.quantile_cross(t, ddq, a, q, axis, keepdims, method, options, percent),
    )


@vjp(rt.quantile_cross_grads)
def quantile_cross_grads(gbar, out, g, t, dq, a, q, axis=None, keepdims=False, method="linear",
                         options=None, percent=False):  # fmt: skip
    """Linear in each of ``g``, ``t`` and ``dq`` apart (``g``'s gradient is the cross of
    the adjoints with the other two); constant in ``a`` and ``q``."""
    g_t, g_dq = rt.result_grads(gbar, out)
    d_g = rt.quantile_cross(g_t, dq, a, q, axis, keepdims, method, options, percent) + (
        rt.quantile_cross(t, g_dq, a, q, axis, keepdims, method, options, percent))  # fmt: skip
    d_t = rt.quantile_cross_grads(g, None, g_dq, a, q, axis, keepdims, method, options,
                                  percent)[0]  # fmt: skip
    d_dq = rt.quantile_cross_grads(g, g_t, None, a, q, axis, keepdims, method, options,
                                   percent)[1]  # fmt: skip
    return rt.unbroadcast(d_g, g), d_t, d_dq, None, None, None, None, None, None, None


@jvp(rt.quantile_cross_grads, shaped=True)
def quantile_cross_grads_jvp(out, g, t, dq, a, q, axis=None, keepdims=False, method="linear",
                             options=None, percent=False, *, dg, dt, ddq):  # fmt: skip
    return (
        list(
            rt.quantile_cross_grads(dg, t, dq, a, q, axis, keepdims, method, options, percent)
        ),  # fmt: skip
        list(
            rt.quantile_cross_grads(g, dt, None, a, q, axis, keepdims, method, options, percent)
        ),  # fmt: skip
        list(
            rt.quantile_cross_grads(g, None, ddq, a, q, axis, keepdims, method, options, percent)
        ),  # fmt: skip
    )


@vjp(xp.histogram_bin_edges)
def histogram_bin_edges(g, ans, a, bins=10, range=None, weights=None):
    """``np.histogram``'s edges, by its rule (the counts get no gradient; the weights move
    no edge)."""
    d_a, d_bins, d_range, _ = rt.histogram_grads(
        [None, g], xp.histogram(a, bins, range, weights=weights), a, bins, range, None, weights
    )
    return d_a, d_bins, d_range, None


@jvp(xp.histogram_bin_edges, shaped=True)
def histogram_bin_edges_jvp(ans, a, bins=10, range=None, weights=None, *, da, dbins, drange,
                            dweights):  # fmt: skip
    full = xp.histogram(a, bins, range, weights=weights)
    return (
        rt.histogram_tangent(full, a, bins, range, None, weights, 1, da=da),
        rt.histogram_tangent(full, a, bins, range, None, weights, 1, dbins=dbins),
        rt.histogram_tangent(full, a, bins, range, None, weights, 1, drange=drange),
        None,
    )


sequence_result(rt.quantile_grads, rt.quantile_cross_grads, xp.histogram, xp.histogram2d)
for _helper in (rt.histogram_grads, rt.histogram_tangent):
    unsupported(
        _helper,
        "no derivative rule for a second derivative through np.histogram (its edges, widths "
        "and weights)",
        "take the first derivative of np.histogram only, or write the binning with "
        "np.searchsorted and np.bincount",
    )
for _helper in (rt.histogram2d_grads, rt.histogram2d_tangent):
    unsupported(
        _helper,
        "no derivative rule for a second derivative through np.histogram2d (its edges, "
        "areas and weights)",
        "take the first derivative of np.histogram2d only, or write the binning with "
        "np.searchsorted and np.bincount",
    )
unsupported(
    xp.piecewise,
    "the functions np.piecewise calls on the entries each condition picks: NumPy's loop "
    "over them is not code srcdiff differentiates",
    "compute each piece and choose among them: np.select(condlist, [f(x) for f in "
    "funclist], default) (or np.where for two pieces)",
)


# ``np.unique``: where the entries are distinct, its values are the entries in another
# order (each value's gradient goes to the one entry equal to it); where two entries tie,
# moving one apart adds a value, so no derivative exists there: refused. Along an axis, its
# slices are ordered by their entries in turn: where no two share their first entry, the
# values are the slices in the order of their first entries, which moving them keeps
# (where two share it, their order flips as it moves: refused). Its index, inverse and
# count results are integers.


nondiff(
    "the first entries of np.unique's slices, read for the order they give alone (constant "
    "where no two tie)",
    rt.unique_slices_lead,
)
nondiff(
    "the positions of distinct entries in another order of them: integers",
    rt.distinct_order,
)
nondiff("a check that np.intersect1d found no shared value, which returns nothing",
        rt.empty_intersection)  # fmt: skip


@vjp(xp.unique)
def unique(g, ans, ar, return_index=False, return_inverse=False, return_counts=False,
           axis=None, equal_nan=True, sorted=True):  # fmt: skip
    """Each value's gradient to the entry (or slice) equal to it; of an empty ``ar``,
    none to give (its values are empty too), whatever its slices."""
    several = return_index or return_inverse or return_counts
    values = ans[0] if several else ans
    flat = axis is None or xp.size(ar) == 0
    lead = (
        (xp.reshape(ar, (-1,)), xp.reshape(values, (-1,)))
        if flat
        else rt.unique_slices_lead(ar, values, axis)
    )
    order = rt.distinct_order(lead[0], lead[1], "np.unique", "np.unique(..., return_inverse=True)")
    d_values = rt.result_grads(g, ans)[0] if several else g
    return (
        xp.reshape(xp.reshape(d_values, (-1,))[order], xp.shape(ar))
        if flat
        else xp.take(d_values, order, axis=axis),
        None,
        None,
        None,
        None,
        None,
        None,
    )


@jvp(xp.unique, shaped=True)
def unique_jvp(ans, ar, return_index=False, return_inverse=False, return_counts=False,
               axis=None, equal_nan=True, sorted=True, *, dar):  # fmt: skip
    several = return_index or return_inverse or return_counts
    values = ans[0] if several else ans
    flat = axis is None or xp.size(ar) == 0
    lead = (
        (xp.reshape(ar, (-1,)), xp.reshape(values, (-1,)))
        if flat
        else rt.unique_slices_lead(ar, values, axis)
    )
    order = rt.distinct_order(lead[1], lead[0], "np.unique", "np.unique(..., return_inverse=True)")
    moved = (
        xp.reshape(xp.reshape(xp.broadcast_to(dar, xp.shape(ar)), (-1,))[order], xp.shape(values))
        if flat
        else xp.take(xp.broadcast_to(dar, xp.shape(ar)), order, axis=axis)
    )
    return [moved] + [rt.zeros_like(a) for a in ans[1:]] if several else moved


# The Array API's spellings of np.unique (NumPy 2): the values alone, or with integers.
UNIQUE_VALUES = [xp.unique_values] if hasattr(xp, "unique_values") else []
UNIQUE_PARTS = [getattr(xp, n) for n in ("unique_counts", "unique_inverse", "unique_all")
                if hasattr(xp, n)]  # fmt: skip


@vjp(*UNIQUE_VALUES)
def unique_values(g, ans, x):
    """``np.unique(x)`` (in any order): each value's gradient goes to its entry."""
    return xp.reshape(
        g[
            rt.distinct_order(
                xp.reshape(xp.asarray(x), (-1,)), ans, "np.unique_values", "np.unique_inverse"
            )
        ],
        xp.asarray(x).shape,
    )


@jvp(*UNIQUE_VALUES, shaped=True)
def unique_values_jvp(ans, x, *, dx):
    return xp.reshape(xp.broadcast_to(dx, xp.asarray(x).shape), (-1,))[
        rt.distinct_order(
            ans, xp.reshape(xp.asarray(x), (-1,)), "np.unique_values", "np.unique_inverse"
        )
    ]


@vjp(*UNIQUE_PARTS)
def unique_parts(g, ans, x):
    """``np.unique_values`` with integers (indices, inverse, counts): they get none."""
    return xp.reshape(
        rt.result_grads(g, ans)[0][
            rt.distinct_order(
                xp.reshape(xp.asarray(x), (-1,)),
                ans[0],
                "np.unique_counts, unique_inverse or unique_all",
                "np.unique_inverse",
            )
        ],
        xp.asarray(x).shape,
    )


@jvp(*UNIQUE_PARTS, shaped=True)
def unique_parts_jvp(ans, x, *, dx):
    return rt.result_like(
        ans,
        [
            xp.reshape(xp.broadcast_to(dx, xp.asarray(x).shape), (-1,))[
                rt.distinct_order(
                    ans[0],
                    xp.reshape(xp.asarray(x), (-1,)),
                    "np.unique_counts, unique_inverse or unique_all",
                    "np.unique_inverse",
                )
            ]
        ]
        + [rt.zeros_like(a) for a in ans[1:]],
    )


sequence_result(*UNIQUE_PARTS)


# Set operations of 1-D values: where no two entries are equal, np.union1d's and
# np.setxor1d's values are the entries of both in another order, and np.setdiff1d's those
# of the first (none of which is in the second); where entries tie (within an array, or
# across for setdiff1d), moving one apart adds a value: refused. np.intersect1d's values are
# entries equal across: moving one apart drops it, so only an empty one (no entries tie
# across, which moving them keeps) has a derivative, zero.


@vjp(xp.union1d)
def union1d(g, ans, ar1, ar2, assume_unique=False, name="np.union1d"):
    """Each value's gradient to its entry, found among the entries in the union's dtype (a
    Python number joins float32 entries as float32, where ``asarray`` makes it float64)."""
    d = g[
        rt.distinct_order(
            xp.concatenate(
                [xp.reshape(xp.asarray(ar1), (-1,)), xp.reshape(xp.asarray(ar2), (-1,))]
            ).astype(ans.dtype),
            ans,
            name,
        )
    ]
    return (
        rt.cast_like(rt.reshape_like(d[: xp.reshape(xp.asarray(ar1), (-1,)).shape[0]], ar1), ar1),
        rt.cast_like(rt.reshape_like(d[xp.reshape(xp.asarray(ar1), (-1,)).shape[0] :], ar2), ar2),
        None,
        None,
    )


@jvp(xp.union1d, shaped=True)
def union1d_jvp(ans, ar1, ar2, assume_unique=False, name="np.union1d", *, dar1, dar2):
    picked = rt.distinct_order(
        ans,
        xp.concatenate(
            [xp.reshape(xp.asarray(ar1), (-1,)), xp.reshape(xp.asarray(ar2), (-1,))]
        ).astype(ans.dtype),
        name,
    )
    return (
        xp.concatenate(
            [xp.reshape(xp.broadcast_to(dar1, xp.asarray(ar1).shape), (-1,)),
             xp.zeros(xp.reshape(xp.asarray(ar2), (-1,)).shape, dtype=ans.dtype)]
        )[picked],
        xp.concatenate(
            [xp.zeros(xp.reshape(xp.asarray(ar1), (-1,)).shape, dtype=ans.dtype),
             xp.reshape(xp.broadcast_to(dar2, xp.asarray(ar2).shape), (-1,))]
        )[picked],
    )  # fmt: skip


alias(xp.setxor1d, xp.union1d, name="np.setxor1d")  # (with assume_unique, as NumPy's)


@vjp(xp.setdiff1d)
def setdiff1d(g, ans, ar1, ar2, assume_unique=False):
    return (
        rt.reshape_like(
            g[rt.distinct_order(xp.reshape(xp.asarray(ar1), (-1,)), ans, "np.setdiff1d")], ar1
        ),
        None,
        None,
    )


@jvp(xp.setdiff1d, shaped=True)
def setdiff1d_jvp(ans, ar1, ar2, assume_unique=False, *, dar1):
    return xp.reshape(xp.broadcast_to(dar1, xp.asarray(ar1).shape), (-1,))[
        rt.distinct_order(ans, xp.reshape(xp.asarray(ar1), (-1,)), "np.setdiff1d")
    ]


constant_in((1,), xp.setdiff1d)  # (the second array says which entries go: none, here)


@vjp(xp.intersect1d)
def intersect1d(g, ans, ar1, ar2, assume_unique=False, return_indices=False):
    """Refused where the arrays share a value (``rt.empty_intersection``); else empty."""
    rt.empty_intersection(ans[0] if return_indices else ans)
    return (
        rt.cast_like(xp.zeros(xp.shape(xp.asarray(ar1))), ar1),
        rt.cast_like(xp.zeros(xp.shape(xp.asarray(ar2))), ar2),
        None,
        None,
    )


@jvp(xp.intersect1d, shaped=True)
def intersect1d_jvp(ans, ar1, ar2, assume_unique=False, return_indices=False, *, dar1, dar2):
    """Zero (with the positions' zeros), where the rule of ``np.intersect1d`` holds."""
    rt.empty_intersection(ans[0] if return_indices else ans)
    return rt.zeros_like(ans), None


sequence_result(xp.intersect1d)
