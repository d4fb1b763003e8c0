"""Rules of the helpers that generated forward-mode source calls, so that it can be
differentiated once more: reverse mode over forward mode gives Hessian-vector products
(``sd.hvp``, ``sd.hessian``) and the derivatives of ``sd.grad(f)`` and ``sd.jvp`` called
inside a differentiated function. A helper with no rule here (``rt.prod_grad``, ...)
is refused there with a ``CompileError``."""

import numpy as xp

from .. import runtime as rt
from .registry import linear, make_rule, nondiff, register, vjp


@vjp(rt.broadcast_like)
def broadcast_like(gbar, out, d, ans):
    """``d`` spread to the shape of ``ans``: linear in ``d``; ``ans`` gives a shape only
    (a list's tangent, a list, passes as it is)."""
    return (gbar if isinstance(d, (list, tuple)) else rt.unbroadcast(gbar, d)), None


@vjp(rt.power_slope)
def power_slope(g, ans, x, y):
    """``y * x ** (y - 1)``, the slope of ``x ** y``."""
    d_x, d_y = rt.power_slope_grads(g, x, y)
    return rt.unbroadcast(d_x, x), rt.unbroadcast(d_y, y)


@vjp(rt.safe_log)
def safe_log(g, ans, x):
    """``log x`` where ``x > 0``, 0 elsewhere."""
    positive = xp.asarray(x) > 0
    return xp.where(positive, g / xp.where(positive, x, 1.0), 0.0)


@vjp(rt.sort_tangent)
def sort_tangent(g, ans, d, x, axis=-1):
    """``d`` in the order that sorting ``x`` makes: linear in ``d``, and the order is
    constant where the entries of ``x`` differ."""
    return rt.sort_grad(g, x, axis), None, None


@vjp(rt.extreme_grad)
def extreme_grad(gbar, out, g, ans, x, axis=None, keepdims=False):
    """Max's or min's share of ``g`` for each entry: linear in ``g``; the share is
    constant where one entry attains the extreme (it jumps where two tie)."""
    share = rt.extreme_grad(xp.ones_like(ans), ans, x, axis, keepdims)
    return xp.sum(gbar * share, axis=axis, keepdims=keepdims), None, None, None, None


@vjp(rt.follow_tangent)
def follow_tangent(g, ans, dm, m, old, dnew):
    """``dnew`` where ``m`` held the object ``old``, ``dm`` elsewhere: linear in the two
    tangents; ``m`` and ``old`` give a structure only."""
    d_dm, d_dnew = rt.follow_tangent_grads(g, m, old)
    return rt.or_zeros(d_dm, dm), None, None, rt.or_zeros(d_dnew, dnew)


@vjp(rt.put_back_tangent)
def put_back_tangent(g, ans, d_holder, holder, key, d_new):
    """The tangent of a write through a list or an array: linear in the two tangents."""
    d_holder_, d_new_ = rt.put_back_tangent_grads(g, holder, key, d_new)
    return rt.or_zeros(d_holder_, d_holder), None, None, rt.or_zeros(d_new_, d_new)


@vjp(rt.cast_grad)
def cast_grad(gbar, out, g, ans, x):
    """``g`` in ``x``'s dtype (zero where the cast ``ans`` gives integers): linear in ``g``,
    whose gradient is ``gbar`` back in ``g``'s dtype (zero likewise)."""
    return rt.cast_grad(gbar, ans, g), None, None


linear((0,), rt.broadcast_like, rt.sort_tangent, rt.extreme_grad, rt.cast_grad)
linear((0, 3), rt.follow_tangent, rt.put_back_tangent)
nondiff("a zero tangent (or adjoint), whatever its argument holds", rt.zeros_like)

# A call in forward-mode source, ``(value, tangent)``: reverse mode over the callee's own
# forward mode. Called by name (not inlined): it gives one gradient per argument of *args.
register(rt.call_jvp, make_rule(rt.tangent_vjp, name="call_jvp", inline=False))
register(rt.call_jvp_keywords,
         make_rule(rt.tangent_vjp_keywords, name="call_jvp_keywords", inline=False))  # fmt: skip
