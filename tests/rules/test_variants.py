"""The rule tables again, each call moved to the edges of its shapes and keywords: 0-d,
size-1 and size-0 arrays, an argument broadcast against the others, an axis counted from
the end, ``keepdims`` the other way. Each variant is derived from a spec of the tables
(``families.SPECS``), so every rule gets them without a hand-written spec per edge; each
is checked against central differences in float64 at two step sizes, and for float32
gradients of float32 inputs (the transpose of its forward rule: ``test_forward.py``).

A variant whose plain call fails, or gives a value that is not finite (the mean of no
entries), is no call to differentiate and is left out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.rules import lookup
from srcdiff.testing import check_vjp

from .families import SPECS
from .spec import FLOAT32, Spec, check_float32, ids, prim_name

STEPS = (1e-6, 1e-4)


def _floats(spec: Spec) -> list[int]:
    return [i for i, a in enumerate(spec.args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


def _own(spec: Spec) -> bool:
    """A primitive of srcdiff itself (a runtime helper, a Tensor method): its arguments
    hang together otherwise than NumPy's (a cotangent shaped by ``keepdims``)."""
    return (
        isinstance(spec.prim, str)
        and not spec.prim.startswith("ndarray.")
        or (getattr(spec.prim, "__module__", None) or "").startswith("srcdiff")
    )


def _each(spec: Spec, fn: Callable[[np.ndarray], np.ndarray], only: int | None = None) -> tuple:
    """The spec's arguments with ``fn`` applied to its float arrays (to one of them)."""
    floats = _floats(spec)
    return tuple(
        fn(a) if i in floats and (only is None or i == only) else a for i, a in enumerate(spec.args)
    )


def _entry(a: np.ndarray) -> np.ndarray:
    return np.asarray(a[(0,) * a.ndim]).copy()


def _shapes(spec: Spec) -> Iterator[tuple[str, tuple]]:
    """Size edges: where all float arrays share one shape, them all 0-d (elementwise
    functions), size 1 and size 0 along the first and the last axis; where there are
    several, one broadcast against the others along the last axis and as a 0-d array."""
    floats = _floats(spec)
    shapes = {spec.args[i].shape for i in floats}
    if len(shapes) != 1 or not next(iter(shapes)) or _own(spec):
        return
    elementwise = isinstance(spec.prim, np.ufunc)
    if elementwise and spec.kwargs:
        return
    if elementwise:
        yield "0d", _each(spec, _entry)
    yield "size1-last", _each(spec, lambda a: a[..., :1].copy())
    yield "size0-last", _each(spec, lambda a: a[..., :0].copy())
    if not elementwise:
        yield "size1-first", _each(spec, lambda a: a[:1].copy())
        yield "size0-first", _each(spec, lambda a: a[:0].copy())
    if elementwise and len(floats) >= 2:
        for i in floats:
            yield f"broadcast-{i}", _each(spec, lambda a: a[..., :1].copy(), i)
            yield f"0d-{i}", _each(spec, _entry, i)


def _axis_names(spec: Spec) -> list[str]:
    return [n for n in ("axis", "dim") if n in lookup(spec.prim).params]


def _keywords(spec: Spec) -> Iterator[tuple[str, tuple, dict]]:
    """Keyword edges of NumPy's reductions and the like: an axis counted from the end
    (given by keyword or by position), ``keepdims`` the other way."""
    floats = _floats(spec)
    if not floats or _own(spec):
        return
    ndim = spec.args[floats[0]].ndim
    params = lookup(spec.prim).params
    for name in _axis_names(spec):
        given = spec.kwargs.get(name)
        if _is_axis(given):
            yield f"{name}-from-end", spec.args, {**spec.kwargs, name: given - ndim}
        at = params.index(name)
        if at < len(spec.args) and _is_axis(spec.args[at]):
            moved = (*spec.args[:at], spec.args[at] - ndim, *spec.args[at + 1 :])
            yield f"{name}-from-end", moved, spec.kwargs
    if "keepdims" in params and any(
        spec.kwargs.get(n) is not None or params.index(n) < len(spec.args)
        for n in _axis_names(spec)
    ):
        keep = not spec.kwargs.get("keepdims", False)
        yield f"keepdims-{keep}", spec.args, {**spec.kwargs, "keepdims": keep}


def _is_axis(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _finite(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return all(_finite(e) for e in x)
    try:
        return bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))
    except (TypeError, ValueError):
        return True  # a key, an index array of objects: nothing to judge


# (primitive name, kind of variant) -> why the variant is no call of the primitive to
# differentiate: the spec's arguments hang together, which a variant of one breaks
NOT_CALLS = {
    ("np.einsum", "size0"): "a repeated label of unequal sizes, which NumPy lets pass for an "
    "empty operand",
    ("scipy.linalg.lu_factor", "size"): "a square matrix, and its pivots",
    ("scipy.linalg.lu_solve", "size"): "a factor in a pair with its pivots, which stays float64",
    ("scipy.linalg.cho_solve", "size"): "a factor in a pair with a flag, which stays float64",
    **{
        (f"fft.{name}", "size0"): "no entries to transform: NumPy's result is memory it never wrote"
        for name in ("hfft", "irfft", "irfft2", "irfftn")
    },
}

# primitive name -> the refusal a variant meets, rightly (a sd.CompileError)
REFUSED = {
    "np.polyfit": "one point fits no line: a rank-deficient fit",
    "np.linalg.svd": "full_matrices=True of a matrix no longer square",
    "np.linalg.qr": "mode='complete' of a matrix with more rows than columns",
}

# primitive name -> what its rule does wrong on the variants in KNOWN_IDS: a raw error
# from inside the rule where a gradient, or a clear refusal, is due
KNOWN: dict[str, str] = {}
KNOWN_IDS: frozenset[str] = frozenset()


def _kind(label: str) -> str:
    return label.rsplit("~", 1)[1]


def _listed(table: dict, spec: Spec) -> str | None:
    name, kind = prim_name(spec.prim), _kind(spec.label)
    return next((why for (p, k), why in table.items() if p == name and kind.startswith(k)), None)


def _variants() -> list[Spec]:
    out = []
    for spec in SPECS:
        edges = [(label, args, spec.kwargs) for label, args in _shapes(spec)]
        for label, args, kwargs in [*edges, *_keywords(spec)]:
            variant = dataclasses.replace(
                spec, args=args, kwargs=kwargs, label=f"{spec.label or ''}~{label}"
            )
            if _listed(NOT_CALLS, variant):
                continue
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    ans = spec.primal(*args, **kwargs)
            except Exception:  # noqa: BLE001 - NumPy refuses the call: no variant
                continue
            if _finite(ans):
                out.append((variant, spec))
    return out


VARIANTS = [v for v, _ in _variants()]


def _params(specs: list[Spec]) -> list:
    """The specs, those in ``KNOWN_IDS`` marked to fail (strictly: a fix shows)."""
    return [
        pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=KNOWN[prim_name(s.prim)]))
        if name in KNOWN_IDS
        else s
        for s, name in zip(specs, ids(specs), strict=True)
    ]


def _refused_rightly(spec: Spec, check: Callable[[], None]) -> None:
    """``check()``, where a ``sd.CompileError`` passes for the primitives in ``REFUSED``."""
    if prim_name(spec.prim) not in REFUSED:
        check()
        return
    with contextlib.suppress(sd.CompileError):
        check()


@pytest.mark.parametrize("spec", _params(VARIANTS), ids=ids(VARIANTS))
def test_a_variant_matches_finite_differences_at_two_steps(spec):
    def check() -> None:
        for eps in STEPS:
            coarse = eps > STEPS[0]
            check_vjp(
                spec.rule_fn,
                spec.primal,
                spec.args,
                spec.kwargs,
                spec.wrt,
                rtol=max(spec.rtol, 1e-5) if coarse else spec.rtol,
                atol=max(spec.atol, 1e-7) if coarse else spec.atol,
                eps=eps,
            )

    _refused_rightly(spec, check)


# the variants of the specs the tables check in float32 (NumPy's draws are float64)
F32 = [v for v, base in _variants() if id(base) in FLOAT32 and v.has_float_array()]


@pytest.mark.parametrize("spec", _params(F32), ids=ids(F32))
def test_a_variant_on_float32_gives_float32_gradients(spec):
    _refused_rightly(spec, lambda: check_float32(spec))


def test_there_are_variants_of_every_kind():
    kinds = {_kind(s.label).split("-")[0] for s in VARIANTS}
    assert {"0d", "size1", "size0", "broadcast", "axis", "keepdims"} <= kinds, kinds
    assert len(VARIANTS) >= 3000
