"""The table machinery shared by the rule tests: one ``Spec`` per checked call.

Each family file builds a table ``SPECS`` of calls of its primitives, with inputs drawn
from each primitive's domain by its own seeded ``Sampler`` (so tables do not depend on
the order modules are imported in). ``test_coverage.py`` gathers the tables to check
that every registered primitive has at least one spec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from srcdiff.rules import lookup
from srcdiff.testing import _is_differentiable, _leaves, _parts, _rule_grads, check_vjp


class Sampler:
    """Deterministic uniform inputs in ``[lo, hi)``."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, shape: tuple[int, ...] = (), lo: float = -2.0, hi: float = 2.0) -> Any:
        return np.asarray(self.rng.uniform(lo, hi, shape), dtype=np.float64)

    def scalar(self, lo: float = -2.0, hi: float = 2.0) -> float:
        return float(self.rng.uniform(lo, hi))


def prim_name(prim: Any) -> str:
    """A readable name of a registry key (``np.tanh``, ``operator.add``, ``ndarray.sum``)."""
    if isinstance(prim, str):
        return prim
    if isinstance(prim, tuple):  # a method of every instance of a class (registry.method)
        return f"{prim[0].__name__}.{prim[1]}"
    for name in ("r_", "c_"):  # index objects, not functions
        if prim is getattr(np, name):
            return f"np.{name}"
    if isinstance(getattr(prim, "__self__", None), np.ufunc):  # np.add.reduce
        return f"{prim_name(prim.__self__)}.{prim.__name__}"
    if isinstance(prim, np.ufunc):
        owner = "np" if getattr(np, prim.__name__, None) is prim else "scipy.special"
        return f"{owner}.{prim.__name__}"
    module = getattr(prim, "__module__", None) or ""
    if module.startswith(("scipy.special", "scipy.linalg", "scipy.stats")):
        return f"{'.'.join(module.split('.')[:2])}.{prim.__name__}"
    module = {"numpy": "np", "_operator": "operator", "numpy.linalg": "np.linalg"}.get(
        module, module.rsplit(".", 1)[-1]
    )
    return f"{module}.{prim.__name__}"


def shape_label(x: Any) -> str:
    """An array by its shape (``3x4``, ``0d``), a float as ``float``, anything else by value."""
    if isinstance(x, (list, tuple)) and any(isinstance(e, (np.ndarray, float)) for e in x):
        return "[" + ",".join(shape_label(e) for e in x) + "]"
    if isinstance(x, np.ndarray):
        return "x".join(map(str, x.shape)) or "0d"
    if isinstance(x, float):
        return "float"
    return getattr(x, "__name__", None) or repr(x)


@dataclass(frozen=True)
class Spec:
    """One call of a primitive whose rule is checked against central differences."""

    prim: Any
    args: tuple
    kwargs: dict = field(default_factory=dict)
    call: Callable | None = None  # how to call the primitive, when it is not callable itself
    wrt: tuple[int, ...] | None = None  # default: every float argument
    label: str = ""
    rtol: float = 1e-6
    atol: float = 1e-9

    @property
    def primal(self) -> Callable:
        return self.call or self.prim

    @property
    def rule_fn(self) -> Callable:
        rule = lookup(self.prim)
        assert rule is not None, f"no rule registered for {prim_name(self.prim)}"
        return rule.fn

    @property
    def id(self) -> str:
        label = self.label or "-".join(shape_label(a) for a in self.args)
        extra = ",".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{prim_name(self.prim)}[{label}{';' + extra if extra else ''}]"

    def check(self, seed: int = 0) -> None:
        check_vjp(
            self.rule_fn,
            self.primal,
            self.args,
            self.kwargs,
            self.wrt,
            rtol=self.rtol,
            atol=self.atol,
            seed=seed,
        )

    def has_float_array(self) -> bool:
        return any(
            isinstance(leaf, np.ndarray) for i in self.positions() for leaf in _leaves(self.args[i])
        )

    def positions(self) -> tuple[int, ...]:
        if self.wrt is not None:
            return self.wrt
        return tuple(i for i, a in enumerate(self.args) if _is_differentiable(a))


def ids(specs: Sequence[Spec]) -> list[str]:
    """Unique pytest ids for a table."""
    seen: dict[str, int] = {}
    out = []
    for s in specs:
        n = seen[s.id] = seen.get(s.id, 0) + 1
        out.append(s.id if n == 1 else f"{s.id}#{n}")
    return out


def _to32(x: Any) -> Any:
    if isinstance(x, (list, tuple)) and _is_differentiable(x):
        return (
            type(x)(*[_to32(e) for e in x])
            if hasattr(x, "_fields")
            else type(x)(_to32(e) for e in x)
        )
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return x.astype(np.float32)
    return x


def _ones32(y: Any) -> Any:
    if isinstance(y, dict):
        return {k: _ones32(v) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return (
            type(y)(*[_ones32(e) for e in y])
            if hasattr(y, "_fields")
            else type(y)(_ones32(e) for e in y)
        )
    g = np.ones(np.shape(y), np.float32)
    return g if isinstance(y, np.ndarray) else g[()]


def check_float32(spec: Spec) -> None:
    """With float32 array inputs, every gradient of a float32 array is float32, shaped alike."""
    args = [_to32(a) for a in spec.args]
    y = spec.primal(*args, **spec.kwargs)
    g = _ones32(y)
    out = spec.rule_fn(g, y, *args, **spec.kwargs)
    grads = _rule_grads(out, spec.rule_fn, len(args))
    for i in spec.positions():
        d = grads[i] if i < len(grads) else None
        if d is None:
            continue
        ds = _parts(d, args[i])
        for k, (x, dk) in enumerate(zip(_leaves(args[i]), ds, strict=True)):
            if not isinstance(x, np.ndarray) or dk is None:
                continue
            where = f"{spec.id}: gradient of argument {i}" + (f"[{k}]" if len(ds) > 1 else "")
            assert np.asarray(dk).dtype == np.float32, f"{where} is {np.asarray(dk).dtype}"
            assert np.shape(dk) == x.shape, f"{where} has shape {np.shape(dk)}, not {x.shape}"


def rule_grads(prim: Any, g: Any, *args: Any, **kwargs: Any) -> tuple:
    """The rule of ``prim`` applied to ``g`` at ``args``: one entry per parameter."""
    rule = lookup(prim)
    call = kwargs.pop("call", None) or prim
    ans = call(*args, **kwargs)
    return _rule_grads(rule.fn(g, ans, *args, **kwargs), rule.fn, len(args))


FLOAT32: set[int] = set()  # ids of the specs the tables check in float32 too


def table_tests(specs: Sequence[Spec], float32: Sequence[Spec] | None = None) -> tuple:
    """The two tests every family runs on its table: each rule against central
    differences, and float32 gradients of float32 inputs (``float32``: which specs; by
    default those with a float array argument)."""
    import pytest

    f32 = [s for s in specs if s.has_float_array()] if float32 is None else list(float32)
    FLOAT32.update(id(s) for s in f32)

    @pytest.mark.parametrize("spec", specs, ids=ids(specs))
    def test_rule_matches_finite_differences(spec: Spec) -> None:
        spec.check()

    @pytest.mark.parametrize("spec", f32, ids=ids(f32))
    def test_float32_gradients_stay_float32(spec: Spec) -> None:
        check_float32(spec)

    return test_rule_matches_finite_differences, test_float32_gradients_stay_float32
