"""Rules of reductions: sum, mean, prod, max, min (with ``axis`` and ``keepdims``), and
Python's own ``sum``, ``max`` and ``min``."""

import builtins
import math

import numpy as xp

from .. import runtime as rt
from .registry import alias, jvp, keywords, linear, nondiff, vjp

# Parameters are NumPy's, in NumPy's order, so that positional arguments bind as there
# (``dtype`` and ``out`` come before ``keepdims``; ``out=`` is rewritten away, see
# compiler/inplace). A gradient is computed in the result's dtype.


@vjp(xp.sum, "ndarray.sum")
def sum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``where=None`` stands for NumPy's ``where=True``; ``initial`` is added to each sum."""
    return (
        rt.unreduce(g, a, axis, keepdims)
        if where is None
        else xp.where(where, rt.unreduce(g, a, axis, keepdims), 0.0),
        None,
        None,
        None,
        None,
        None if initial is None else rt.unbroadcast(g, initial),
        None,
    )


@vjp(xp.mean, "ndarray.mean")
def mean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """``where=None`` stands for NumPy's ``where=True``: each mean is over the entries kept
    (over all of them, with no axis: the result need not be saved)."""
    return (
        rt.unreduce(
            g / rt.size(a) if axis is None else g * (rt.size(ans) / rt.size(a)), a, axis, keepdims
        )
        if where is None
        else xp.where(
            where,
            rt.unreduce(g / rt.where_count(where, a.shape, axis, keepdims, g), a, axis, keepdims),
            0.0,
        ),
        None,
        None,
        None,
        None,
        None,
    )


@vjp(xp.prod, "ndarray.prod")
def prod(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return rt.prod_grad(g, ans, a, axis, keepdims), None, None, None, None


@vjp(xp.max, xp.amax, "ndarray.max", xp.min, xp.amin, "ndarray.min")
def extreme(g, ans, a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Ties share the gradient evenly, as PyTorch's ``amax``/``amin`` do; ``initial=``
    and ``where=`` (None: NumPy's True) as ``rt.extreme_grads`` says."""
    return (
        rt.extreme_grad(g, ans, a, axis, keepdims)
        if (initial is None if where is None else False)
        else rt.extreme_grads(g, ans, a, axis, keepdims, initial, where)[0],
        None,
        None,
        None,
        None if initial is None else rt.extreme_grads(g, ans, a, axis, keepdims, initial, where)[1],
        None,
    )


@vjp(xp.average)
def average(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    """``sum(a * w) / sum(w)`` over ``axis``, ``w`` the weights laid along it (ones for
    none); NumPy's ``keepdims`` is keyword-only, and taken here by name alone."""
    w = rt.average_weights(a, axis, weights, returned)
    total = xp.sum(w, axis=axis, keepdims=True)
    spread = rt.unreduce(g, a, axis, keepdims) / total
    d_w = spread * (a - xp.sum(a * w, axis=axis, keepdims=True) / total)
    return (
        rt.unbroadcast(spread * w, a),
        None,
        None if weights is None else rt.reshape_like(rt.unbroadcast(d_w, w), weights),
        None,
        None,
    )


@jvp(xp.average, shaped=True)
def average_jvp(ans, a, axis=None, weights=None, returned=False, keepdims=False, *, da,
                dweights):  # fmt: skip
    w = rt.average_weights(a, axis, weights, returned)
    total = xp.sum(w, axis=axis, keepdims=True)
    centred = a - xp.sum(a * w, axis=axis, keepdims=True) / total
    dw = rt.average_weights(a, axis, dweights, returned)
    return (
        xp.sum(da * w / total, axis=axis, keepdims=keepdims),
        xp.sum(centred * dw / total, axis=axis, keepdims=keepdims),
    )


@vjp(rt.centred)
def centred(g, ans, a, axis=None, where=None):
    """Linear in ``a``, and its own adjoint: centring is a symmetric projection."""
    return rt.centred(g, axis, where), None, None


linear((0,), rt.centred)


@vjp(xp.var, "ndarray.var")
def var(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """``sum((a - mean) ** 2) / (n - ddof)`` over the reduced axes (over the entries
    ``where`` keeps, None: all; the others get 0)."""
    centred = rt.centred(a, axis, where)
    n = (
        rt.size(a) / rt.size(ans)
        if where is None
        else rt.where_count(where, a.shape, axis, keepdims, g)
    )
    d_a = (
        rt.unreduce(xp.divide(g * 2.0, n - ddof), a, axis, keepdims) * centred
    )  # (nan at n = ddof)
    return d_a, None, None, None, None, None, None


@vjp(xp.std, "ndarray.std")
def std(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """The square root of ``var``: its gradient over ``2 * std``; 0 where ``std`` is 0
    (one value, or equal ones: there it is a kink, and 0 its symmetric slope)."""
    centred = rt.centred(a, axis, where)
    n = (
        rt.size(a) / rt.size(ans)
        if where is None
        else rt.where_count(where, a.shape, axis, keepdims, g)
    )
    scale = rt.keep_dims(g / xp.where(ans == 0, xp.inf, ans * (n - ddof)), a, axis, keepdims)
    return scale * centred, None, None, None, None, None, None


@vjp(xp.nanvar)
def nanvar(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``np.var`` of the entries that are not NaN (``where=~isnan(a)``); NaNs get 0."""
    centred = rt.centred(a, axis, ~xp.isnan(a))
    n = rt.where_count(~xp.isnan(a), a.shape, axis, keepdims, g)
    d_a = rt.unreduce(xp.divide(g * 2.0, n - ddof), a, axis, keepdims) * centred
    return d_a, None, None, None, None, None


@vjp(xp.nanstd)
def nanstd(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``np.std`` of the entries that are not NaN; NaNs get 0 (and all where it is 0)."""
    centred = rt.centred(a, axis, ~xp.isnan(a))
    n = rt.where_count(~xp.isnan(a), a.shape, axis, keepdims, g)
    scale = rt.keep_dims(g / xp.where(ans == 0, xp.inf, ans * (n - ddof)), a, axis, keepdims)
    return scale * centred, None, None, None, None, None


@vjp(xp.cumsum, "ndarray.cumsum")
def cumsum(g, ans, a, axis=None, dtype=None, out=None):
    return rt.reshape_like(rt.reverse_cumsum(g, axis), a), None, None, None


@vjp(rt.reverse_cumsum)
def reverse_cumsum(gbar, out, g, axis=None):
    """Linear in ``g``: its adjoint is ``np.cumsum``, laid out as ``g``."""
    return rt.reshape_like(xp.cumsum(gbar, axis=axis), g), None


linear((0,), rt.reverse_cumsum)


@vjp(builtins.sum)
def builtin_sum(g, ans, iterable, start=0):
    return rt.entries_like([rt.unbroadcast(g, x) for x in iterable], iterable), rt.unbroadcast(
        g, start
    )


@vjp(math.prod)
def math_prod(g, ans, iterable, start=1):
    """Each entry gets ``g`` times the product of the others (``start`` too): no
    division, so a zero entry is no trouble."""
    d_iterable, d_start = rt.prod_entries_grads(g, iterable, start)
    return d_iterable, d_start


@jvp(math.prod)
def math_prod_jvp(ans, iterable, start=1, *, diterable, dstart):
    return (
        rt.prod_entries_tangent(iterable, start, diterable, None),
        rt.prod_entries_tangent(iterable, start, None, dstart),
    )


@vjp(xp.ptp)
def ptp(g, ans, a, axis=None, out=None, keepdims=False):
    """``max - min``: the rules of ``np.max`` and ``np.min`` (ties share evenly)."""
    top = xp.max(a, axis=axis, keepdims=keepdims)
    bottom = xp.min(a, axis=axis, keepdims=keepdims)
    return (
        rt.extreme_grad(g, top, a, axis, keepdims) - rt.extreme_grad(g, bottom, a, axis, keepdims),
        None,
        None,
        None,
    )


@jvp(xp.ptp, shaped=True)
def ptp_jvp(ans, a, axis=None, out=None, keepdims=False, *, da):
    share = rt.extreme_grad(
        xp.ones_like(ans), xp.max(a, axis=axis, keepdims=keepdims), a, axis, keepdims
    ) - rt.extreme_grad(
        xp.ones_like(ans), xp.min(a, axis=axis, keepdims=keepdims), a, axis, keepdims
    )
    return xp.sum(share * da, axis=axis, keepdims=keepdims)


@vjp(xp.cov)
def cov(g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
        dtype=None):  # fmt: skip
    """``X W X^T / fact`` of the centred rows ``X``: see ``rt.cov_grads``. The weights
    (frequencies and importances) get no gradient: one they would need is refused
    where it is used (``rt.NoGradient``)."""
    d_m, d_y = rt.cov_grads(g, m, y, rowvar, bias, ddof, fweights, aweights, dtype)
    weights = rt.NoGradient(
        "a gradient with respect to the weights of np.cov (fweights=, aweights=)",
        "pass the weights as constants, or write the weighted covariance with array operations",
    )
    return d_m, d_y, None, None, None, weights, weights, None


@jvp(xp.cov, shaped=True)
def cov_jvp(ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
            dtype=None, *, dm, dy):  # fmt: skip
    return (
        rt.cov_tangent(m, y, rowvar, bias, ddof, fweights, aweights, dtype, dm, None),
        rt.cov_tangent(m, y, rowvar, bias, ddof, fweights, aweights, dtype, None, dy),
    )


@vjp(xp.corrcoef)
def corrcoef(g, ans, x, y=None, rowvar=True, bias=None, ddof=None, dtype=None):
    """``C / (s s^T)`` of the covariances ``C`` (``bias`` and ``ddof``, which NumPy no
    longer reads, change nothing)."""
    d_x, d_y = rt.corrcoef_grads(g, x, y, rowvar, dtype)
    return d_x, d_y, None, None, None, None


@jvp(xp.corrcoef, shaped=True)
def corrcoef_jvp(ans, x, y=None, rowvar=True, bias=None, ddof=None, dtype=None, *, dx, dy):
    return (
        rt.corrcoef_tangent(x, y, rowvar, dtype, dx, None),
        rt.corrcoef_tangent(x, y, rowvar, dtype, None, dy),
    )


@vjp(builtins.max)
def builtin_max(g, ans, iterable, *others, key=None, default=None):
    """Python's ``max`` of several arguments, or of the entries of one (a list, an array's
    rows): ``g`` goes to the candidate it returned, shared evenly with those equal to it
    as ``np.max``'s rule shares; to ``default`` where there were none. The ``key`` only
    orders the candidates: it has no gradient."""
    d_iterable, d_default, d_others = rt.choice_grads(g, ans, iterable, others, default, key)
    return (d_iterable, None, d_default, *d_others)


@vjp(builtins.min)
def builtin_min(g, ans, iterable, *others, key=None, default=None):
    """Python's ``min``, as ``max``."""
    d_iterable, d_default, d_others = rt.choice_grads(
        g, ans, iterable, others, default, key, largest=False
    )
    return (d_iterable, None, d_default, *d_others)


nondiff(
    "an integer or boolean result",
    xp.argmax, xp.argmin, xp.argsort, xp.all, xp.any, xp.count_nonzero, "ndarray.argmax",
    "ndarray.argmin", "ndarray.argsort", "ndarray.all", "ndarray.any", xp.nonzero,
    xp.argwhere, xp.flatnonzero, xp.nanargmax, xp.nanargmin, xp.isneginf, xp.isposinf,
    xp.isreal, xp.iscomplex, xp.isrealobj, xp.iscomplexobj, xp.isscalar, xp.iterable,
    xp.isfortran, xp.diag_indices_from, xp.tril_indices_from, xp.triu_indices_from,
)  # fmt: skip
nondiff("piecewise constant: the distance to the next float", xp.spacing)
nondiff("integer positions, computed on the host", rt.reduceat_rows)


@vjp(xp.nancumsum)
def nancumsum(g, ans, a, axis=None, dtype=None, out=None):
    """``np.cumsum`` with the NaN entries taken for zeros: they get no gradient."""
    return (
        xp.where(xp.isnan(a), 0.0, rt.reshape_like(rt.reverse_cumsum(g, axis), a)),
        None,
        None,
        None,
    )


@jvp(xp.nancumsum, shaped=True)
def nancumsum_jvp(ans, a, axis=None, dtype=None, out=None, *, da):
    return xp.cumsum(xp.where(xp.isnan(a), 0.0, da), axis=axis)


# Forward: a cumulative sum is linear in the array; so is the builtin sum, jointly with
# its start (a term too).
linear((0,), xp.cumsum, "ndarray.cumsum")
linear((0, 1), builtins.sum)


@jvp(builtins.max)
def builtin_max_jvp(ans, iterable, key=None, default=None, *others, diterable, ddefault, dothers):
    """The tangent of the chosen candidate, shared at ties as the reverse rule shares."""
    return (
        rt.choice_tangent(ans, iterable, others, default, diterable=diterable, key=key),
        rt.choice_tangent(ans, iterable, others, default, ddefault=ddefault, key=key),
        rt.choice_tangent(ans, iterable, others, default, dothers=dothers, key=key),
    )


@jvp(builtins.min)
def builtin_min_jvp(ans, iterable, key=None, default=None, *others, diterable, ddefault, dothers):
    return (
        rt.choice_tangent(ans, iterable, others, default, diterable=diterable, key=key,
                          largest=False),
        rt.choice_tangent(ans, iterable, others, default, ddefault=ddefault, key=key,
                          largest=False),
        rt.choice_tangent(ans, iterable, others, default, dothers=dothers, key=key,
                          largest=False),
    )  # fmt: skip


@jvp(xp.sum, "ndarray.sum", shaped=True)
def sum_jvp(ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None, *,
            da, dinitial):  # fmt: skip
    kept = da if where is None else xp.where(where, da, 0.0)  # (summed in ans's dtype)
    return xp.sum(kept, axis=axis, dtype=dtype, keepdims=keepdims), rt.broadcast_like(dinitial, ans)


@jvp(xp.mean, "ndarray.mean", shaped=True)
def mean_jvp(ans, a, axis=None, dtype=None, out=None, keepdims=False, where=None, *, da):
    return (  # in ans's dtype (np.mean(x32, dtype=np.float64))
        xp.mean(da, axis=axis, dtype=dtype, keepdims=keepdims)
        if where is None
        else xp.mean(da, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    )


@jvp(xp.prod, "ndarray.prod", shaped=True)
def prod_jvp(ans, a, axis=None, dtype=None, out=None, keepdims=False, *, da):
    return xp.sum(
        rt.prod_grad(xp.ones_like(ans), ans, a, axis, keepdims) * da, axis=axis, keepdims=keepdims
    )


@jvp(xp.var, "ndarray.var", shaped=True)
def var_jvp(ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, *, da):
    centred = rt.centred(a, axis, where)
    n = (
        rt.size(a) / rt.size(ans)
        if where is None
        else rt.where_count(where, a.shape, axis, keepdims, ans)
    )
    return 2.0 * xp.sum(centred * da, axis=axis, keepdims=keepdims) / (n - ddof)


@jvp(xp.nanvar, shaped=True)
def nanvar_jvp(ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, da):
    """The NaN entries' tangents (NaN too, where they come of one) reach nothing, as in JAX."""
    centred = rt.centred(a, axis, ~xp.isnan(a))
    n = rt.where_count(~xp.isnan(a), a.shape, axis, keepdims, ans)
    return (
        2.0
        * xp.sum(centred * xp.where(xp.isnan(a), 0.0, da), axis=axis, keepdims=keepdims)
        / (n - ddof)
    )


@jvp(xp.max, xp.amax, "ndarray.max", xp.min, xp.amin, "ndarray.min", shaped=True)
def extreme_jvp(ans, a, axis=None, out=None, keepdims=False, initial=None, where=None, *, da,
                dinitial):  # fmt: skip
    """The tangent of the extreme entry, or of ``initial`` where it wins (ties share
    evenly, as the reverse rule does)."""
    share = (
        rt.extreme_grad(xp.ones_like(ans), ans, a, axis, keepdims)
        if (initial is None if where is None else False)
        else rt.extreme_share(ans, a, axis, keepdims, initial, where)
    )
    return (
        xp.sum(share * da, axis=axis, keepdims=keepdims),
        rt.extreme_initial_share(ans, a, axis, keepdims, initial, where) * dinitial,
    )


@jvp(xp.std, "ndarray.std", shaped=True)
def std_jvp(ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, *, da):
    centred = rt.centred(a, axis, where)
    n = (
        rt.size(a) / rt.size(ans)
        if where is None
        else rt.where_count(where, a.shape, axis, keepdims, ans)
    )
    spread = xp.where(ans == 0, xp.inf, (n - ddof) * ans)  # 0 at no spread, as std's vjp
    return xp.sum(centred * da, axis=axis, keepdims=keepdims) / spread


@jvp(xp.nanstd, shaped=True)
def nanstd_jvp(ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, da):
    """As ``nanvar``'s: the NaN entries' tangents reach nothing."""
    centred = rt.centred(a, axis, ~xp.isnan(a))
    n = rt.where_count(~xp.isnan(a), a.shape, axis, keepdims, ans)
    spread = xp.where(ans == 0, xp.inf, (n - ddof) * ans)
    return xp.sum(centred * xp.where(xp.isnan(a), 0.0, da), axis=axis, keepdims=keepdims) / spread


# generated code for NumPy calls these lean equivalents of np.sum and np.mean (see
# compiler/backends.LEAN): the same rules
alias(rt.np_sum, xp.sum)
alias(rt.np_mean, xp.mean)


# A ufunc's own reduction and accumulation (``np.add.reduce(x, axis=0)``): keyed by the
# bound method, which NumPy makes anew at each look-up but equal and of one hash. Their
# ``axis`` is 0 by default, not None.


alias(xp.add.reduce, xp.sum, axis=0)
keywords(xp.add.reduce, array="a")


alias(xp.multiply.reduce, xp.prod, axis=0)
keywords(xp.multiply.reduce, array="a")


@vjp(xp.maximum.reduce, xp.minimum.reduce)
def extreme_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False, initial=None,
                   where=None):  # fmt: skip
    """``np.max``/``np.min`` along ``axis`` (``initial=`` and ``where=`` too): ties share
    the gradient evenly, as theirs."""
    return (
        rt.extreme_grad(g, ans, array, axis, keepdims)
        if (initial is None if where is None else False)
        else rt.extreme_grads(g, ans, array, axis, keepdims, initial, where)[0],
        None,
        None,
        None,
        None,
        None
        if initial is None
        else rt.extreme_grads(g, ans, array, axis, keepdims, initial, where)[1],
        None,
    )


@jvp(xp.maximum.reduce, xp.minimum.reduce, shaped=True)
def extreme_reduce_jvp(ans, array, axis=0, dtype=None, out=None, keepdims=False, initial=None,
                       where=None, *, darray, dinitial):  # fmt: skip
    share = (
        rt.extreme_grad(xp.ones_like(ans), ans, array, axis, keepdims)
        if (initial is None if where is None else False)
        else rt.extreme_share(ans, array, axis, keepdims, initial, where)
    )
    return (
        xp.sum(share * darray, axis=axis, keepdims=keepdims),
        rt.extreme_initial_share(ans, array, axis, keepdims, initial, where) * dinitial,
    )


alias(xp.add.accumulate, xp.cumsum, axis=0)
keywords(xp.add.accumulate, array="a")


@vjp(xp.maximum.accumulate, xp.minimum.accumulate, xp.fmax.accumulate, xp.fmin.accumulate)
def extreme_accumulate(g, ans, array, axis=0, dtype=None, out=None):
    """The running max (min): entry ``i`` is the extreme of entries ``j <= i``, and its
    gradient goes to those equal to it, shared evenly at ties as ``np.max``'s rule shares
    (``fmax``, ``fmin``: the NaNs they pass over are equal to no extreme)."""
    return rt.running_extreme_grad(g, ans, array, axis), None, None, None


@jvp(xp.maximum.accumulate, xp.minimum.accumulate, xp.fmax.accumulate, xp.fmin.accumulate,
     shaped=True)  # fmt: skip
def extreme_accumulate_jvp(ans, array, axis=0, dtype=None, out=None, *, darray):
    return rt.running_extreme_tangent(darray, ans, array, axis)


# ``ufunc.reduceat(array, indices, axis)``: result ``i`` reduces the entries from
# ``indices[i]`` up to the next index (or only ``indices[i]``, where the next is not past
# it): a sum's gradient goes to each of them, a max's or a min's to those attaining it
# (``rt.reduceat_grad``). The indices get none.


@vjp(xp.add.reduceat)
def add_reduceat(g, ans, array, indices, axis=0, dtype=None, out=None):
    return rt.reduceat_grad(g, ans, array, indices, axis), None, None, None, None


@vjp(xp.maximum.reduceat, xp.minimum.reduceat, xp.fmax.reduceat, xp.fmin.reduceat)
def extreme_reduceat(g, ans, array, indices, axis=0, dtype=None, out=None):
    """Ties share evenly, as ``np.max``'s rule shares (``fmax``, ``fmin``: the NaNs they
    pass over are equal to no extreme)."""
    return rt.reduceat_grad(g, ans, array, indices, axis, True), None, None, None, None


@vjp(xp.multiply.reduceat)
def multiply_reduceat(g, ans, array, indices, axis=0, dtype=None, out=None):
    """Each run's product is ``np.prod`` along a row of ``array[rows]`` (ones padding the
    shorter runs): its rule gives each entry the product of the others, exact at zeros."""
    lanes = xp.moveaxis(array, axis, 0)
    rows = rt.reduceat_rows(indices, xp.shape(lanes)[0])
    grown = xp.concatenate([lanes, xp.ones_like(lanes[:1])])
    d_rows = rt.prod_grad(xp.moveaxis(g, axis, 0), xp.moveaxis(ans, axis, 0), grown[rows], 1)
    return (
        xp.moveaxis(rt.index_add(xp.zeros_like(grown), rows, d_rows)[:-1], 0, axis),
        None,
        None,
        None,
        None,
    )


@jvp(xp.multiply.reduceat, shaped=True)
def multiply_reduceat_jvp(ans, array, indices, axis=0, dtype=None, out=None, *, darray):
    lanes = xp.moveaxis(array, axis, 0)
    rows = rt.reduceat_rows(indices, xp.shape(lanes)[0])
    tops = xp.moveaxis(ans, axis, 0)
    slopes = rt.prod_grad(
        xp.ones_like(tops), tops, xp.concatenate([lanes, xp.ones_like(lanes[:1])])[rows], 1
    )
    moved = xp.moveaxis(xp.broadcast_to(darray, xp.shape(array)), axis, 0)
    return xp.moveaxis(
        xp.sum(slopes * xp.concatenate([moved, xp.zeros_like(moved[:1])])[rows], axis=1), 0, axis
    )


@jvp(xp.add.reduceat, shaped=True)
def add_reduceat_jvp(ans, array, indices, axis=0, dtype=None, out=None, *, darray):
    return rt.reduceat_tangent(darray, ans, array, indices, axis)


@jvp(xp.maximum.reduceat, xp.minimum.reduceat, xp.fmax.reduceat, xp.fmin.reduceat,
     shaped=True)  # fmt: skip
def extreme_reduceat_jvp(ans, array, indices, axis=0, dtype=None, out=None, *, darray):
    return rt.reduceat_tangent(darray, ans, array, indices, axis, True)


CUMULATIVE_SUM = [xp.cumulative_sum] if hasattr(xp, "cumulative_sum") else []  # NumPy 2.1


@vjp(*CUMULATIVE_SUM)
def cumulative_sum(g, ans, x, axis=None, dtype=None, out=None, include_initial=False):
    """``np.cumsum`` (``axis`` None: of a 1-D array); ``include_initial``: a 0 first,
    whose gradient goes nowhere."""
    ax = 0 if axis is None else axis
    d_x = rt.reverse_cumsum(g, ax)
    return (
        xp.take(d_x, xp.arange(1, d_x.shape[ax]), axis=ax) if include_initial else d_x,
        None,
        None,
        None,
        None,
    )


linear((0,), *CUMULATIVE_SUM)


@vjp(math.fsum)
def fsum(g, ans, seq):
    """Python's ``sum`` of numbers, rounded once: each entry gets ``g``."""
    return rt.entries_like([rt.unbroadcast(g, x) for x in seq], seq)


linear((0,), math.fsum)
