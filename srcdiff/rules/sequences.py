"""Rules of functions along an axis or of sequences of samples: differences, cumulative
products, numerical derivatives and integrals, interpolation, convolutions, polynomials."""

import numpy as xp

from .. import runtime as rt
from .registry import vjp


@vjp(xp.diff)
def diff(g, ans, a, n=1, axis=-1, prepend=None, append=None):
    """``prepend`` and ``append`` (None: not given) are joined to ``a`` before it is
    differenced, and get the gradient of the entries they became."""
    d_a, d_prepend, d_append = rt.diff_grads(g, a, n, axis, prepend, append)
    return d_a, None, None, d_prepend, d_append


@vjp(xp.cumprod, "ndarray.cumprod")
def cumprod(g, ans, a, axis=None, dtype=None, out=None):
    """Exact where entries are zero (no division by them)."""
    return rt.cumprod_grad(g, ans, a, axis), None, None, None


@vjp(xp.gradient)
def gradient(g, ans, f, *varargs, axis=None, edge_order=1):
    """Uniform spacings (scalars), which get no gradient; a result per axis."""
    return rt.gradient_grad(g, ans, f, varargs, axis, edge_order)


@vjp(*[f for f in (getattr(xp, "trapezoid", None), getattr(xp, "trapz", None)) if f])
def trapezoid(g, ans, y, x=None, dx=1.0, axis=-1):
    d_y, d_x, d_dx = rt.trapezoid_grads(g, y, x, dx, axis)
    return d_y, d_x, d_dx, None


@vjp(xp.interp)
def interp(g, ans, x, xp, fp, left=None, right=None, period=None):
    """``xp`` is NumPy's name of the sample points here, not the array module."""
    d_x, d_xp, d_fp, d_left, d_right, d_period = rt.interp_grads(g, x, xp, fp, left, right, period)
    return d_x, d_xp, d_fp, d_left, d_right, d_period


@vjp(xp.convolve)
def convolve(g, ans, a, v, mode="full"):
    d_a, d_v = rt.convolution_grads(g, a, v, mode, False)
    return d_a, d_v, None


@vjp(xp.correlate)
def correlate(g, ans, a, v, mode="valid"):
    d_a, d_v = rt.convolution_grads(g, a, v, mode, True)
    return d_a, d_v, None


@vjp(xp.polyval)
def polyval(g, ans, p, x):
    d_p, d_x = rt.polyval_grads(g, p, x)
    return d_p, d_x


@vjp(xp.vander)
def vander(g, ans, x, N=None, increasing=False):
    """Column ``j`` of the increasing matrix is ``x ** j``: ``x`` gets ``j * x ** (j - 1)``
    times its gradient, ``x ** (j - 1)`` read from the column before. (NumPy makes the
    matrix in float64 for float32 ``x``: the gradient is cast back.)"""
    up, powers = (g, ans) if increasing else (xp.flip(g, axis=1), xp.flip(ans, axis=1))
    j = xp.arange(1, ans.shape[1], dtype=ans.dtype)
    return rt.cast_like(xp.sum(j * up[:, 1:] * powers[:, :-1], axis=1), x), None, None
