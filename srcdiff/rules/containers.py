"""Rules of building and iterating containers: ``(a, b)``, ``[a, b]``, ``{k: a}``."""

from .. import runtime as rt
from .registry import nondiff, vjp


@vjp("tuple-display", "list-display")
def pack(g, ans, *items):
    """An element nobody used has a zero gradient."""
    return rt.entries(g, ans)


@vjp("dict-display")
def pack_dict(g, ans, *values):
    return rt.entries(g, ans)


@vjp(rt.iterable)
def iterable(g, ans, x):
    """A sequence is iterated as it is; a view such as ``d.values()`` as a list of it."""
    return rt.iteration_grad(g, ans, x)


@vjp(rt.appended)
def appended(g, ans, xs, v):
    return rt.entries(g, ans)[:-1], rt.entries(g, ans)[-1]


@vjp("dict.values")
def dict_values(g, ans, d):
    return rt.dict_grad(d, g, None)


@vjp("dict.items")
def dict_items(g, ans, d):
    return rt.dict_grad(d, g, 1)


nondiff("dict.keys")
