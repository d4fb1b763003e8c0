"""Rules of indexing: reads ``x[i]``, functional writes ``x[i] = v``, and sorting (a
read in another order)."""

import operator

import numpy as np

from .. import runtime as rt
from .registry import constant_in, jvp, linear, vjp


@vjp(operator.getitem)
def getitem(g, ans, x, index):
    return rt.index_grad(x, index, g), None


@vjp(rt.setitem, rt.write_through, rt.write_entry, rt.write_entry_held)
def setitem(g, ans, x, index, value):
    d_x, d_value = rt.setitem_grads(g, index, value)
    return d_x, None, d_value


@vjp(rt.flat_read)
def flat_read(g, ans, x, index):
    """``x.flat[index]``, entries at row-major positions (``normalize`` writes it so)."""
    return rt.flat_read_grad(g, x, index), None


@vjp(np.sort)
def sort(g, ans, a, axis=-1, kind=None, order=None):
    return rt.sort_grad(g, a, axis), None, None, None


# Forward: reading entries and writing them are linear (a write, in the array and the
# value jointly); sorting is a read in another order.
linear((0,), operator.getitem, rt.flat_read)
linear((0, 2), rt.setitem, rt.write_through, rt.write_entry, rt.write_entry_held)
# an index (a key of a dict, iterated: ``for k in d: d[k]``) carries no gradient
constant_in(
    (1,),
    operator.getitem,
    rt.flat_read,
    rt.setitem,
    rt.write_through,
    rt.write_entry,
    rt.write_entry_held,
)


@jvp(np.sort)
def sort_jvp(ans, a, axis=-1, kind=None, order=None, *, da):
    return rt.sort_tangent(da, a, axis)
