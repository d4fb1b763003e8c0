"""Rules of Python's arithmetic operators and their NumPy ufuncs."""

import math
import operator

import numpy as xp

from .. import runtime as rt
from .registry import jvp, vjp


@vjp(operator.add, xp.add)
def add(g, ans, x, y):
    return rt.unbroadcast(g, x), rt.unbroadcast(g, y)


@jvp(operator.add, xp.add)
def add_jvp(ans, x, y, *, dx, dy):
    return dx, dy


@vjp(operator.sub, xp.subtract)
def subtract(g, ans, x, y):
    return rt.unbroadcast(g, x), rt.unbroadcast(-g, y)


@jvp(operator.sub, xp.subtract)
def subtract_jvp(ans, x, y, *, dx, dy):
    return dx, -dy


@vjp(operator.mul, xp.multiply)
def multiply(g, ans, x, y):
    return rt.unbroadcast(g * y, x), rt.unbroadcast(g * x, y)


@jvp(operator.mul, xp.multiply)
def multiply_jvp(ans, x, y, *, dx, dy):
    return dx * y, x * dy


@vjp(operator.truediv, xp.divide)
def divide(g, ans, x, y):
    return rt.unbroadcast(g / y, x), rt.unbroadcast(-g * ans / y, y)


@jvp(operator.truediv, xp.divide)
def divide_jvp(ans, x, y, *, dx, dy):
    return dx / y, -dy * ans / y


@vjp(operator.pow, xp.power, math.pow)
def power(g, ans, x, y):
    return rt.unbroadcast(g * rt.power_slope(x, y), x), rt.unbroadcast(
        rt.exponent_grad(g, ans, x), y
    )


@jvp(operator.pow, xp.power, math.pow)
def power_jvp(ans, x, y, *, dx, dy):
    return dx * rt.power_slope(x, y), rt.exponent_grad(dy, ans, x)


@vjp(xp.float_power)
def float_power(g, ans, x1, x2):
    """``x1 ** x2`` computed in float64 (``np.power``'s rule): each gradient back in its
    argument's dtype."""
    return rt.cast_like(rt.unbroadcast(g * rt.power_slope(x1, x2), x1), x1), rt.cast_like(
        rt.unbroadcast(rt.exponent_grad(g, ans, x1), x2), x2
    )


@jvp(xp.float_power)
def float_power_jvp(ans, x1, x2, *, dx1, dx2):
    return dx1 * rt.power_slope(x1, x2), rt.exponent_grad(dx2, ans, x1)


@vjp(pow)
def builtin_pow(g, ans, base, exp, mod=None):
    """``pow(base, exp)``; with a ``mod``, of integers, which carry no gradient."""
    return (
        rt.unbroadcast(g * rt.power_slope(base, exp), base),
        rt.unbroadcast(rt.exponent_grad(g, ans, base), exp),
        None,
    )


@jvp(pow)
def builtin_pow_jvp(ans, base, exp, mod=None, *, dbase, dexp, dmod):
    return dbase * rt.power_slope(base, exp), rt.exponent_grad(dexp, ans, base), None


@vjp(operator.neg, xp.negative)
def negative(g, ans, x):
    return -g


@jvp(operator.neg, xp.negative)
def negative_jvp(ans, x, *, dx):
    return -dx


@vjp(operator.pos, xp.positive)
def positive(g, ans, x):
    return g


@jvp(operator.pos, xp.positive)
def positive_jvp(ans, x, *, dx):
    return dx


@vjp(operator.matmul, xp.matmul)
def matmul(g, ans, x, y):
    return rt.matmul_lhs(g, x, y), rt.matmul_rhs(g, x, y)


@jvp(operator.matmul, xp.matmul, shaped=True)
def matmul_jvp(ans, x, y, *, dx, dy):
    return xp.matmul(dx, y), xp.matmul(x, dy)  # (np.matmul takes two lists; @ does not)
