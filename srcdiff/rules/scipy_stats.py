"""Rules of scipy.stats's standardizing functions, zscore, zmap and gzscore (zscore of the
logarithms): ``z = (s - m) / d`` of the mean ``m`` and the standard deviation ``d`` (with
``ddof``) of the compared values along ``axis``. SciPy's code for them goes through
helpers srcdiff does not follow, so they are rules; loaded when a function of scipy.stats
is first looked up (see ``registry._LAZY_FAMILIES``). What they standardize by, the
entries that count, how many, their mean and their deviation, ``rt.standardizing`` finds
for the reverse and the forward rules alike.

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
from .registry import alias, jvp, sequence_result, vjp

SCIPY_STATS = (st.zscore, st.zmap, st.gzscore)  # the functions of scipy.stats with rules


@vjp(rt.standardizing)
def standardizing(g, ans, c, axis=0, ddof=0, nan_policy="propagate"):
    """The mean moves by ``1 / n`` with each entry that counts, the deviation by ``(c -
    mean) / (d (n - ddof))``; which entries count, and how many, do not move."""
    gs = rt.result_grads(g, ans)
    return (
        rt.cast_like(
            xp.where(
                ans[0], gs[2] / ans[1] + gs[3] * (c - ans[2]) / (ans[3] * (ans[1] - ddof)), 0.0
            ),
            c,
        ),
        None,
        None,
        None,
    )


@jvp(rt.standardizing, shaped=True)
def standardizing_jvp(ans, c, axis=0, ddof=0, nan_policy="propagate", *, dc):
    moved = xp.where(ans[0], dc, 0.0)
    return rt.result_like(
        ans,
        [
            0.0,
            0.0,
            xp.sum(moved, axis=axis, keepdims=True) / ans[1],
            xp.sum(xp.where(ans[0], c - ans[2], 0.0) * moved, axis=axis, keepdims=True)
            / (ans[3] * (ans[1] - ddof)),
        ],
    )


sequence_result(rt.standardizing)  # (kept, n, mean, spread): adjoints add up entry by entry


@vjp(st.zmap)
def zmap(g, ans, scores, compare, axis=0, ddof=0, nan_policy="propagate"):
    c = xp.asarray(compare, dtype=ans.dtype)
    kept, n, mean, spread = rt.standardizing(c, axis, ddof, nan_policy)
    live = ~xp.isnan(ans) if nan_policy == "omit" else xp.ones(xp.shape(ans), dtype=bool)
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
    kept, n, mean, spread = rt.standardizing(c, axis, ddof, nan_policy)
    live = ~xp.isnan(ans) if nan_policy == "omit" else xp.ones(xp.shape(ans), dtype=bool)
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
    kept, n, _, spread = rt.standardizing(c, axis, ddof, nan_policy)
    live = ~xp.isnan(ans) if nan_policy == "omit" else xp.ones(xp.shape(ans), dtype=bool)
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
    kept, n, _, spread = rt.standardizing(c, axis, ddof, nan_policy)
    live = ~xp.isnan(ans) if nan_policy == "omit" else xp.ones(xp.shape(ans), dtype=bool)
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
