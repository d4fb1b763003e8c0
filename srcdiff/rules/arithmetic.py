"""Rules of Python's arithmetic operators and their NumPy ufuncs."""

import operator

import numpy as xp

from .. import runtime as rt
from .registry import vjp


@vjp(operator.add, xp.add)
def add(g, ans, x, y):
    return rt.unbroadcast(g, x), rt.unbroadcast(g, y)


@vjp(operator.sub, xp.subtract)
def subtract(g, ans, x, y):
    return rt.unbroadcast(g, x), rt.unbroadcast(-g, y)


@vjp(operator.mul, xp.multiply)
def multiply(g, ans, x, y):
    return rt.unbroadcast(g * y, x), rt.unbroadcast(g * x, y)


@vjp(operator.truediv, xp.divide)
def divide(g, ans, x, y):
    return rt.unbroadcast(g / y, x), rt.unbroadcast(-g * ans / y, y)


@vjp(operator.pow, xp.power, pow)
def power(g, ans, x, y):
    return rt.unbroadcast(g * y * x ** (y - 1), x), rt.unbroadcast(g * ans * rt.safe_log(x), y)


@vjp(operator.neg, xp.negative)
def negative(g, ans, x):
    return -g


@vjp(operator.pos, xp.positive)
def positive(g, ans, x):
    return g


@vjp(operator.matmul, xp.matmul)
def matmul(g, ans, x, y):
    return rt.matmul_lhs(g, x, y), rt.matmul_rhs(g, x, y)
