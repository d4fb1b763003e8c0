"""How the battery describes a function's arguments, and the registry of its cases.

``@case(A(3, 4), A(4), S(), wrt=(0, 2))`` over a function records it with the kinds of
its arguments: ``A(*shape, lo=, hi=)`` a float array (a 0-d one for ``A()``), ``S()`` a
Python float, ``Fixed(value)`` a value passed as it is (ints, index arrays, masks, ...),
and ``Dict``/``List``/``Tuple`` of those. ``wrt`` is what ``sd.grad`` differentiates.
Inputs are drawn from a seeded generator, in float64 or float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Kind:
    def make(self, rng: np.random.Generator, dtype: Any) -> Any:
        raise NotImplementedError


class A(Kind):
    """A float array of ``shape`` with entries uniform in ``[lo, hi)``."""

    def __init__(self, *shape: int, lo: float = -2.0, hi: float = 2.0):
        self.shape, self.lo, self.hi = shape, lo, hi

    def make(self, rng, dtype):
        return np.asarray(rng.uniform(self.lo, self.hi, self.shape), dtype=dtype)


class S(Kind):
    """A Python float uniform in ``[lo, hi)``."""

    def __init__(self, lo: float = -2.0, hi: float = 2.0):
        self.lo, self.hi = lo, hi

    def make(self, rng, dtype):
        return float(rng.uniform(self.lo, self.hi))


class Fixed(Kind):
    """A value passed unchanged (a copy of it for arrays)."""

    def __init__(self, value: Any):
        self.value = value

    def make(self, rng, dtype):
        return self.value.copy() if isinstance(self.value, np.ndarray) else self.value


class Dict(Kind):
    def __init__(self, **items: Kind):
        self.items = items

    def make(self, rng, dtype):
        return {k: v.make(rng, dtype) for k, v in self.items.items()}


class List(Kind):
    container = list

    def __init__(self, *items: Kind):
        self.items = items

    def make(self, rng, dtype):
        return self.container(v.make(rng, dtype) for v in self.items)


class Tuple(List):
    container = tuple


@dataclass
class Case:
    fn: Callable
    kinds: tuple[Kind, ...]
    wrt: int | tuple[int, ...]
    kwargs: dict = field(default_factory=dict)
    rtol: float = 1e-5
    xfail: str = ""  # why the compiler cannot differentiate it yet (a strict xfail)

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def positions(self) -> tuple[int, ...]:
        return self.wrt if isinstance(self.wrt, tuple) else (self.wrt,)

    def args(self, seed: int = 0, dtype: Any = np.float64) -> list:
        rng = np.random.default_rng(seed)
        return [k.make(rng, dtype) for k in self.kinds]


CASES: list[Case] = []


def case(
    *kinds: Kind,
    wrt: int | tuple[int, ...] = 0,
    kwargs: dict | None = None,
    rtol: float = 1e-5,
    xfail: str = "",
) -> Callable[[Callable], Callable]:
    """Add the decorated function to the battery (the function itself is unchanged)."""

    def register(fn: Callable) -> Callable:
        CASES.append(Case(fn, kinds, wrt, dict(kwargs or {}), rtol, xfail))
        return fn

    return register
