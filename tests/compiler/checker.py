"""Gradients of whole functions against central differences along a random direction.

A thin layer over ``srcdiff.testing.check_vjp``: the gradient function ``sd.grad(fn)``
is seen as a reverse rule of ``fn`` (``g`` times each gradient), so the check is the
inner-product test ``<grad, v> == (f(x + eps v) - f(x - eps v)) / 2 eps``. Arguments
that are dicts or nested containers, which ``check_vjp`` does not walk, are passed to it
as flat tuples of their leaves and rebuilt around the call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import srcdiff as sd
from srcdiff.testing import check_vjp


def flatten(x: Any) -> list:
    """The leaves of nested dicts, lists and tuples, in order."""
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in flatten(v)]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in flatten(v)]
    return [x]


def unflatten(like: Any, leaves: Sequence[Any]) -> Any:
    """``like`` with its leaves replaced, in order, by ``leaves``."""
    it = iter(leaves)

    def build(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: build(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(build(v) for v in x)
        return next(it)

    return build(like)


def _nested(x: Any) -> bool:
    return isinstance(x, dict) or (
        isinstance(x, (list, tuple)) and any(isinstance(e, (dict, list, tuple)) for e in x)
    )


def check_function(
    fn: Callable,
    args: Sequence[Any],
    wrt: Sequence[int],
    kwargs: dict | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    seed: int = 0,
) -> None:
    """Check ``sd.grad(fn, wrt=tuple(wrt))`` at ``args`` for each position in ``wrt``."""
    kwargs = dict(kwargs or {})
    wrt = tuple(wrt)
    shapes = {i: a for i, a in enumerate(args) if _nested(a)}

    def rebuild(flat: Sequence[Any]) -> list:
        return [unflatten(shapes[i], a) if i in shapes else a for i, a in enumerate(flat)]

    def primal(*flat: Any, **kw: Any) -> Any:
        return fn(*rebuild(flat), **kw)

    gradient = sd.grad(fn, wrt=wrt)

    def scaled(g: Any, d: Any, i: int) -> Any:
        if i in shapes:
            return tuple(scaled(g, leaf, -1) for leaf in flatten(d))
        if isinstance(d, (list, tuple)):
            return type(d)(scaled(g, leaf, -1) for leaf in d)
        return g * np.asarray(d, np.float64) if isinstance(d, np.ndarray) else g * float(d)

    def rule(g: Any, ans: Any, *flat: Any, **kw: Any) -> list:
        grads = gradient(*rebuild(flat), **kw)
        out: list = [None] * len(flat)
        for i, d in zip(wrt, grads, strict=True):
            out[i] = scaled(g, d, i)
        return out

    flat_args = [tuple(flatten(a)) if i in shapes else a for i, a in enumerate(args)]
    check_vjp(rule, primal, flat_args, kwargs, wrt=wrt, rtol=rtol, atol=atol, seed=seed)
