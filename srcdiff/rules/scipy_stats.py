"""Rules of scipy.stats's standardizing functions, zscore, zmap and gzscore (zscore of the
logarithms): ``z = (s - m) / d`` of the mean ``m`` and the standard deviation ``d`` (with
``ddof``) of the compared values along ``axis``. SciPy's code for them goes through
helpers srcdiff does not follow, so they are rules; loaded when a function of scipy.stats
is first looked up (see ``registry._LAZY_FAMILIES``).

With ``g`` the gradient of ``z``, ``G`` its sums over the entries sharing a mean and
``H`` those of ``g z``: the scores get ``g / d``, the compared values ``-(G / n + z_c H /
(n - ddof)) / d``, ``z_c`` their own standardized values. ``nan_policy='omit'`` leaves the
NaN entries out of the means and deviations, and gives what is NaN (a NaN score's result,
constant) no gradient; with 'propagate' NaNs spread as the values' do. Where zscore gives
NaN for a constant slice, its gradient is NaN.
"""

import numpy as xp
import scipy.stats as st

from .. import runtime as rt
from .registry import alias, jvp, vjp

SCIPY_STATS = (st.zscore, st.zmap, st.gzscore)  # the functions of scipy.stats with rules


@vjp(st.zmap)
def zmap(g, ans, scores, compare, axis=0, ddof=0, nan_policy="propagate"):
    c = xp.asarray(compare, dtype=ans.dtype)
    kept = ~xp.isnan(c) if nan_policy == "omit" else xp.ones(xp.shape(c), dtype=bool)
    live = ~xp.isnan(ans) if nan_policy == "omit" else xp.ones(xp.shape(ans), dtype=bool)
    mean = (
        xp.nanmean(c, axis=axis, keepdims=True)
        if nan_policy == "omit"
        else xp.mean(c, axis=axis, keepdims=True)
    )
    spread = (
        xp.nanstd(c, axis=axis, ddof=ddof, keepdims=True)
        if nan_policy == "omit"
        else xp.std(c, axis=axis, ddof=ddof, keepdims=True)
    )
    n = xp.sum(kept, axis=axis, keepdims=True, dtype=ans.dtype)
    gm = xp.where(live, g, 0.0)
    return (
        rt.cast_like(rt.unbroadcast(gm / spread, scores), scores),
        rt.cast_like(
            xp.where(
                kept,
                -(
                    rt.unbroadcast(gm, mean) / n
                    + (c - mean)
                    / spread
                    * rt.unbroadcast(gm * xp.where(live, ans, 0.0), mean)
                    / (n - ddof)
                )
                / spread,
                0.0,
            ),
            compare,
        ),
        None,
        None,
        None,
    )


@jvp(st.zmap)
def zmap_jvp(ans, scores, compare, axis=0, ddof=0, nan_policy="propagate", *, dscores,
             dcompare):  # fmt: skip
    """``dz = (ds - dm - z dd) / d``, ``dm`` the mean of the compared values' tangents and
    ``dd`` the sum of their ``z_c dc`` over ``n - ddof``."""
    c = xp.asarray(compare, dtype=ans.dtype)
    kept = ~xp.isnan(c) if nan_policy == "omit" else xp.ones(xp.shape(c), dtype=bool)
    live = ~xp.isnan(ans) if nan_policy == "omit" else xp.ones(xp.shape(ans), dtype=bool)
    mean = (
        xp.nanmean(c, axis=axis, keepdims=True)
        if nan_policy == "omit"
        else xp.mean(c, axis=axis, keepdims=True)
    )
    spread = (
        xp.nanstd(c, axis=axis, ddof=ddof, keepdims=True)
        if nan_policy == "omit"
        else xp.std(c, axis=axis, ddof=ddof, keepdims=True)
    )
    n = xp.sum(kept, axis=axis, keepdims=True, dtype=ans.dtype)
    moved = xp.where(kept, dcompare, 0.0)
    return (
        xp.where(live, dscores / spread, 0.0),
        xp.where(
            live,
            -(
                xp.sum(moved, axis=axis, keepdims=True) / n
                + ans
                * xp.sum(xp.where(kept, (c - mean) / spread, 0.0) * moved, axis=axis,
                         keepdims=True)
                / (n - ddof)
            )
            / spread,
            0.0,
        ),
    )  # fmt: skip


@vjp(st.zscore)
def zscore(g, ans, a, axis=0, ddof=0, nan_policy="propagate", logged=False):
    """``zmap(a, a)``: the scores' gradient and the compared values' added (``logged``:
    ``gzscore``, the z-scores of ``log(a)``, the gradient then divided by ``a``)."""
    c = xp.log(xp.asarray(a, dtype=ans.dtype)) if logged else xp.asarray(a, dtype=ans.dtype)
    kept = ~xp.isnan(c) if nan_policy == "omit" else xp.ones(xp.shape(c), dtype=bool)
    live = ~xp.isnan(ans) if nan_policy == "omit" else xp.ones(xp.shape(ans), dtype=bool)
    spread = (
        xp.nanstd(c, axis=axis, ddof=ddof, keepdims=True)
        if nan_policy == "omit"
        else xp.std(c, axis=axis, ddof=ddof, keepdims=True)
    )
    n = xp.sum(kept, axis=axis, keepdims=True, dtype=ans.dtype)
    gm = xp.where(live, g, 0.0)
    za = xp.where(live, ans, 0.0)
    return (
        rt.cast_like(
            xp.where(
                kept,
                (
                    gm
                    - xp.sum(gm, axis=axis, keepdims=True) / n
                    - za * xp.sum(gm * za, axis=axis, keepdims=True) / (n - ddof)
                )
                / spread
                / (xp.asarray(a, dtype=ans.dtype) if logged else 1.0),
                0.0,
            ),
            a,
        ),
        None,
        None,
        None,
        None,
    )


@jvp(st.zscore)
def zscore_jvp(ans, a, axis=0, ddof=0, nan_policy="propagate", logged=False, *, da):
    c = xp.log(xp.asarray(a, dtype=ans.dtype)) if logged else xp.asarray(a, dtype=ans.dtype)
    kept = ~xp.isnan(c) if nan_policy == "omit" else xp.ones(xp.shape(c), dtype=bool)
    live = ~xp.isnan(ans) if nan_policy == "omit" else xp.ones(xp.shape(ans), dtype=bool)
    spread = (
        xp.nanstd(c, axis=axis, ddof=ddof, keepdims=True)
        if nan_policy == "omit"
        else xp.std(c, axis=axis, ddof=ddof, keepdims=True)
    )
    n = xp.sum(kept, axis=axis, keepdims=True, dtype=ans.dtype)
    moved = xp.where(kept, da / xp.asarray(a, dtype=ans.dtype) if logged else da, 0.0)
    za = xp.where(live, ans, 0.0)
    return xp.where(
        live,
        (
            moved
            - xp.sum(moved, axis=axis, keepdims=True) / n
            - za * xp.sum(za * moved, axis=axis, keepdims=True) / (n - ddof)
        )
        / spread,
        0.0,
    )


alias(st.gzscore, st.zscore, logged=True)  # (its axis, ddof and nan_policy by keyword)
