"""Rules of indexing: reads ``x[i]`` and functional writes ``x[i] = v``."""

import operator

from .. import runtime as rt
from .registry import vjp


@vjp(operator.getitem)
def getitem(g, ans, x, index):
    return rt.index_grad(x, index, g), None


@vjp(rt.setitem)
def setitem(g, ans, x, index, value):
    d_x, d_value = rt.setitem_grads(g, index, value)
    return d_x, None, d_value
