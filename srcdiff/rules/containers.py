"""Rules of building and iterating containers: ``(a, b)``, ``[a, b]``, ``{k: a}``."""

from .. import runtime as rt
from .registry import vjp


@vjp("tuple-display", "list-display")
def pack(g, ans, *items):
    """An element nobody used has a zero gradient."""
    return rt.entries(g, ans)


@vjp("dict-display")
def pack_dict(g, ans, *values):
    return rt.entries(g, ans)


@vjp(rt.iterable)
def iterable(g, ans, x):
    return rt.cast_like(g, x) if x is ans else None
