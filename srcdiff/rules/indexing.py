"""Rules of indexing: reads ``x[i]``, functional writes ``x[i] = v``, and sorting (a
read in another order)."""

import operator

import numpy as np

from .. import runtime as rt
from .registry import vjp


@vjp(operator.getitem)
def getitem(g, ans, x, index):
    return rt.index_grad(x, index, g), None


@vjp(rt.setitem)
def setitem(g, ans, x, index, value):
    d_x, d_value = rt.setitem_grads(g, index, value)
    return d_x, None, d_value


@vjp(np.sort)
def sort(g, ans, a, axis=-1, kind=None, order=None):
    return rt.sort_grad(g, a, axis), None, None, None
