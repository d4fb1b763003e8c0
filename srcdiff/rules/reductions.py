"""Rules of reductions: sum, mean, prod, max, min (with ``axis`` and ``keepdims``)."""

import builtins

import numpy as xp

from .. import runtime as rt
from .registry import nondiff, vjp

# Parameters are NumPy's, in NumPy's order, so that positional arguments bind as there
# (``dtype`` and ``out`` come before ``keepdims``; ``out=`` is rewritten away, see
# compiler/inplace). A gradient is computed in the result's dtype.


@vjp(xp.sum, "ndarray.sum")
def sum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return rt.unreduce(g, a, axis, keepdims), None, None, None, None


@vjp(xp.mean, "ndarray.mean")
def mean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return rt.unreduce(g * (rt.size(ans) / rt.size(a)), a, axis, keepdims), None, None, None, None


@vjp(xp.prod, "ndarray.prod")
def prod(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return rt.prod_grad(g, ans, a, axis, keepdims), None, None, None, None


@vjp(xp.max, xp.amax, "ndarray.max")
def max(g, ans, a, axis=None, out=None, keepdims=False):
    """Ties share the gradient evenly, as PyTorch's ``amax`` does."""
    return rt.extreme_grad(g, ans, a, axis, keepdims), None, None, None


@vjp(xp.min, xp.amin, "ndarray.min")
def min(g, ans, a, axis=None, out=None, keepdims=False):
    """Ties share the gradient evenly, as PyTorch's ``amin`` does."""
    return rt.extreme_grad(g, ans, a, axis, keepdims), None, None, None


@vjp(xp.var, "ndarray.var")
def var(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``sum((a - mean) ** 2) / (n - ddof)`` over the reduced axes."""
    centred = a - xp.mean(a, axis=axis, keepdims=True)
    n = rt.size(a) / rt.size(ans)
    d_a = rt.unreduce(g * (2.0 / (n - ddof)), a, axis, keepdims) * centred
    return d_a, None, None, None, None, None


@vjp(xp.std, "ndarray.std")
def std(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """The square root of ``var``: its gradient over ``2 * std``."""
    centred = a - xp.mean(a, axis=axis, keepdims=True)
    n = rt.size(a) / rt.size(ans)
    scale = rt.keep_dims(g / (ans * (n - ddof)), a, axis, keepdims)
    return scale * centred, None, None, None, None, None


@vjp(xp.cumsum, "ndarray.cumsum")
def cumsum(g, ans, a, axis=None, dtype=None, out=None):
    d_a = xp.flip(xp.cumsum(xp.flip(g, axis=axis), axis=axis), axis=axis)
    return rt.reshape_like(d_a, a), None, None, None


@vjp(builtins.sum)
def builtin_sum(g, ans, iterable, start=0):
    return rt.entries_like([rt.unbroadcast(g, x) for x in iterable], iterable), rt.unbroadcast(
        g, start
    )


nondiff(
    "an integer or boolean result",
    xp.argmax, xp.argmin, xp.argsort, xp.all, xp.any, xp.count_nonzero, "ndarray.argmax",
    "ndarray.argmin", "ndarray.argsort", "ndarray.all", "ndarray.any",
)  # fmt: skip
