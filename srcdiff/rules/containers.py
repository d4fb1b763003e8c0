"""Rules of building and iterating containers: ``(a, b)``, ``[a, b]``, ``{k: a}``."""

from .. import runtime as rt
from .registry import vjp


@vjp("tuple-display", "list-display")
def pack(g, ans, *items):
    return g

@vjp("dict-display")
def pack_dict(g, ans, *values):
    return [g[k] for k in ans]

@vjp(rt.iterable)
def iterable(g, ans, x):
    return rt.cast_like(g, x) if x is ans else None
