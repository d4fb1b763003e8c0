"""Kink and branch warnings (``sd.grad(f, warn_kinks=eps)``): the primal compiled with
kink checks (``compiler/kinks``) calls a ``near_*`` helper after each comparison of
differentiated values and each primitive with a kink or a jump; each measures the margin
of this call's values from the switch, and a site whose margin falls within ``eps`` gets
one ``sd.KinkWarning`` per call (the closest margin of all its runs), naming the user's
line. Primals without checks are other source: off, they cost nothing."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..backend import array_module, dtype_kind, to_numpy
from ..errors import KinkWarning

KINKS: list[_Watch | None] = [None]  # the watch of the call running, while one is asked for
_REGISTRY: dict = {}  # the warnings shown (Python's filters show each message once)


class _Watch:
    """The sites one call found within ``eps`` of a kink: the closest of each."""

    def __init__(self, eps: float):
        self.eps = eps
        self.found: dict[tuple, tuple[float, Any, Any, int]] = {}

    def note(self, kind: str, where: tuple, margin: float, entry: Any, extra: Any = None) -> None:
        """Keep a site's ``margin`` (at ``entry``) when within ``eps`` and the closest yet."""
        if not margin <= self.eps:
            return
        before = self.found.get((kind, where))
        times = before[3] + 1 if before else 1
        if before and before[0] <= margin:
            self.found[kind, where] = (*before[:3], times)
        else:
            self.found[kind, where] = (margin, entry, extra, times)

    def report(self) -> None:
        for (kind, where), (margin, entry, extra, times) in self.found.items():
            filename, line = where[0], where[1]
            text = _message(kind, where, margin, entry, extra)
            if times > 1:
                text += f" ({times} times this call; the closest shown)"
            text += f" [warn_kinks={self.eps:g}]"
            warning = KinkWarning(text, filename=filename, lineno=line, margin=margin)
            warnings.warn_explicit(warning, KinkWarning, filename, line, registry=_REGISTRY)


@contextlib.contextmanager
def warning_kinks(eps: float) -> Iterator[None]:
    """Within the block, gradients run primals with kink checks; at its end, a
    ``KinkWarning`` for each site found within ``eps`` of its kink."""
    before = KINKS[0]
    watch = KINKS[0] = _Watch(eps)
    try:
        yield
    finally:
        KINKS[0] = before
    watch.report()


def _numeric(x: Any, sequences: bool = False) -> Any:
    """``x`` as an array or number whose distances can be measured, or None."""
    if isinstance(x, (list, tuple)) and sequences:
        x = np.asarray(x)
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    return x if hasattr(x, "dtype") and dtype_kind(x) in "fciu" else None


def _closest(gap: Any) -> tuple[float, tuple | None] | None:
    """The smallest entry of ``gap`` (NaN ignored) and where it is (None for a number)."""
    xp = array_module(gap)
    gap = xp.asarray(gap)
    if gap.size == 0:
        return None
    flat = xp.reshape(xp.where(xp.isnan(gap), xp.inf, gap), (-1,))
    k = int(xp.argmin(flat))
    entry = tuple(int(i) for i in np.unravel_index(k, gap.shape)) if gap.size > 1 else None
    return float(flat[k]), entry


def near_branch(a: Any, b: Any, where: tuple) -> None:
    """After the comparison ``a <op> b``: how close ``a`` came to ``b``."""
    _near("branch", a, b, where)


def near_tie(x: Any, y: Any, where: tuple) -> None:
    """After ``np.maximum(x, y)`` (or ``minimum``): how close ``x`` came to ``y``."""
    _near("tie", x, y, where)


def _near(kind: str, a: Any, b: Any, where: tuple) -> None:
    watch, a, b = KINKS[0], _numeric(a), _numeric(b)
    if watch is None or a is None or b is None:
        return
    found = _closest(abs(a - b))
    if found is not None:
        watch.note(kind, where, *found)


def near_zero(x: Any, where: tuple) -> None:
    """After ``abs(x)`` (or a relu): how close ``x`` came to 0."""
    watch, x = KINKS[0], _numeric(x)
    if watch is None or x is None:
        return
    found = _closest(abs(x))
    if found is not None:
        watch.note("zero", where, *found)


def near_bounds(a: Any, low: Any, high: Any, where: tuple) -> None:
    """After ``np.clip(a, low, high)``: how close ``a`` came to a bound (None: none)."""
    watch, a = KINKS[0], _numeric(a)
    if watch is None or a is None:
        return
    for bound in (low, high):
        b = _numeric(bound)
        found = None if b is None else _closest(abs(a - b))
        if found is not None:
            watch.note("bound", where, *found, extra=bound if isinstance(b, float) else None)


def _last_axis(a: Any, axis: Any) -> Any:
    """``a`` with the entries along ``axis`` (None: all) on one last axis."""
    xp = array_module(a)
    if axis is None:
        return xp.reshape(a, (-1,))
    axes = [axis] if isinstance(axis, int) else list(axis)
    axes = [x % a.ndim for x in axes]
    rest = [x for x in range(a.ndim) if x not in axes]
    moved = xp.permute_dims(a, (*rest, *axes)) if hasattr(xp, "permute_dims") else \
        xp.transpose(a, (*rest, *axes))  # fmt: skip
    return xp.reshape(moved, (*(a.shape[x] for x in rest), -1))


def near_extreme(a: Any, axis: Any, largest: bool, where: tuple) -> None:
    """After ``np.max(a, axis)`` (``largest``) or ``np.min``: how close the two largest
    (smallest) entries of each slice came (0 for a tie)."""
    watch, a = KINKS[0], _numeric(a)
    if watch is None or a is None or not hasattr(a, "shape"):
        return
    found = _top_two(_last_axis(a, axis), largest)
    if found is not None:
        watch.note("extreme", where, *found, extra=largest)


def _top_two(a: Any, largest: bool) -> tuple[float, tuple | None] | None:
    """The closest the two largest (smallest) entries of a slice along the last axis of
    ``a`` came, and in which slice (None: fewer than two entries)."""
    xp = array_module(a)
    if a.shape[-1] < 2:
        return None
    a = xp.where(xp.isnan(a), -xp.inf if largest else xp.inf, a)
    ordered = xp.sort(a, axis=-1)
    first, second = (ordered[..., -1], ordered[..., -2]) if largest else \
        (ordered[..., 0], ordered[..., 1])  # fmt: skip
    return _closest(abs(first - second))


def near_choice(iterable: Any, others: tuple, largest: bool, where: tuple) -> None:
    """After builtin ``max(iterable, *others)`` (``largest``) or ``min``: how close the
    two largest (smallest) candidates came (0 for a tie): its arguments, or the entries
    of its one argument (numbers only)."""
    watch = KINKS[0]
    if watch is None:
        return
    items = [iterable, *others] if others else iterable
    if isinstance(items, dict):
        return  # a key is chosen: no gradient
    numbers = [_numeric(v) for v in items] if isinstance(items, (list, tuple)) else None
    if numbers is not None:
        if any(getattr(v, "size", 1) != 1 for v in numbers) or any(v is None for v in numbers):
            return  # candidates compared as sequences or objects: not measured
        a = np.asarray([float(to_numpy(v)) for v in numbers])
    else:
        a = _numeric(items)
        if a is None or getattr(a, "ndim", 0) != 1:
            return  # a number, or rows compared as sequences
    found = _top_two(a, largest)
    if found is not None:
        watch.note("choice", where, found[0], None, extra=(largest, bool(others)))


# where a jump is, by ``near_jump``'s ``how``: the spacing of the jumps (None: given),
# their offset in it, and whether 0 is one
JUMP_AT = {
    "floor": (1.0, 0.0, True),  # np.floor, np.ceil: at the integers
    "trunc": (1.0, 0.0, False),  # np.trunc, int(): at the integers but 0
    "round": (1.0, 0.5, True),  # np.round, np.rint: halfway between (10 ** -decimals)
    "sign": (None, 0.0, True),  # np.sign: at 0
    "floordiv": (None, 0.0, True),  # x // y, x % y: at the multiples of y
    "fmod": (None, 0.0, False),  # np.fmod(x, y): at the multiples of y but 0
}


def near_jump(x: Any, how: str, arg: Any, where: tuple) -> None:
    """After a function of ``x`` whose value jumps (see ``JUMP_AT``; ``arg``: the decimals
    of a rounding, the divisor of ``x // y``): how close ``x`` came to a jump."""
    watch, x = KINKS[0], _numeric(x)
    if watch is None or x is None or not isinstance(x, float) and dtype_kind(x) == "c":
        return
    spacing, offset, zero = JUMP_AT[how]
    if how == "round" and arg is not None:
        spacing = 10.0 ** -int(arg)
    elif how in ("floordiv", "fmod"):
        spacing = _numeric(arg)
        if spacing is None:
            return
    xp = array_module(x)
    with np.errstate(all="ignore"):  # a divisor of 0: no jump measured (NaN)
        if spacing is None:  # np.sign
            points = x * 0.0
        else:
            points = (xp.floor(x / spacing - offset + 0.5) + offset) * spacing
        gap = abs(x - points)
        if not zero:  # the nearest jump is not at 0 but a spacing away
            gap = xp.where(points == 0, abs(spacing) - abs(x), gap)
    found = _closest(gap)
    if found is not None:
        at = xp.broadcast_to(xp.asarray(points), xp.asarray(gap).shape)
        point = at[found[1]] if found[1] is not None else xp.reshape(at, (-1,))[0]
        watch.note("jump", where, *found, extra=float(to_numpy(point)) + 0.0)  # not -0


def near_sort_tie(a: Any, axis: Any, where: tuple) -> None:
    """After ``np.sort(a, axis)``: how close two entries of a slice came (0 for a tie)."""
    watch, a = KINKS[0], _numeric(a, sequences=True)
    if watch is None or a is None or not hasattr(a, "shape"):
        return
    xp = array_module(a)
    a = _last_axis(a, axis if a.ndim else None)
    if a.shape[-1] < 2:
        return
    ordered = xp.sort(a, axis=-1)
    found = _closest(ordered[..., 1:] - ordered[..., :-1])
    if found is not None:
        watch.note("sort", where, *found)


def _message(kind: str, where: tuple, margin: float, entry: Any, extra: Any) -> str:
    """What a site near its kink means, in the user's terms, and what to do about it."""
    filename, line, source, shown, *texts = where
    head = f"`{shown}`: " if shown and kind != "branch" else ""
    at = f"at {filename}:{line} (`{source}`)"
    subject = texts[0] or "its operand"
    if entry is not None and kind != "extreme":
        subject = f"entry {entry} of {subject}"
    gap = "equals" if margin == 0 else f"is {margin:.2g} from"
    apart = "are equal (a tie)" if margin == 0 else f"are {margin:.2g} apart"
    if kind == "branch":
        return (
            f"{subject} {gap} {texts[1] or 'the other side'} {at}: this gradient is "
            f"one-sided. The comparison `{shown or '?'}` switches there, and the slope on its "
            "other side may differ; keep the input away from the switch, or blend both sides "
            "smoothly (e.g. weighted by a sigmoid) where a two-sided slope matters"
        )
    if kind == "tie":
        return (
            f"{head}{subject} {gap} {texts[1] or 'its other operand'} {at}. At a tie the "
            "gradient is split evenly between the two and a step away it all goes to one, so "
            "this gradient is one-sided; a smooth version has no such jump "
            "(np.logaddexp(a, b) for a maximum, np.logaddexp(0, x) for a relu)"
        )
    if kind == "zero":
        return (
            f"{head}{subject} {gap} 0 {at}, where its slope jumps, so this gradient is "
            "one-sided; np.sqrt(x**2 + eps**2) is a smooth abs, np.logaddexp(0, x) a smooth "
            "relu"
        )
    if kind == "bound":
        bound = "a bound" if extra is None else f"the bound {extra:g}"
        return (
            f"{head}{subject} {gap} {bound} {at}: the gradient passes up to the bound "
            "(included) and is 0 beyond it, so this gradient is one-sided"
        )
    if kind == "jump":
        return (
            f"{head}{subject} {gap} {extra:g} {at}, where its value jumps: this gradient is "
            "that of the piece it is on, and a step across the jump changes the value by far "
            "more than the gradient says; keep the input away from the jump, or use a smooth "
            "version where a step of that size matters"
        )
    if kind == "choice":
        largest, several = extra
        which = "largest" if largest else "smallest"
        of = "its arguments" if several else f"the entries of {texts[0] or 'its operand'}"
        return (
            f"{head}the two {which} of {of} {apart} {at}. Tied candidates share the gradient "
            "evenly and a step away it all goes to one of them, so this gradient is one-sided; "
            "a smooth maximum (logsumexp) spreads it"
        )
    if kind == "extreme":
        which = "largest" if extra else "smallest"
        in_slice = f" (in slice {entry})" if entry is not None else ""
        return (
            f"{head}the two {which} entries of {subject}{in_slice} {apart} {at}. Tied "
            "entries share the gradient evenly and a step away it all goes to one of them, "
            "so this gradient is one-sided; a smooth maximum (logsumexp) spreads it"
        )
    return (
        f"{head}two entries of {texts[0] or 'its operand'} {apart} {at}. Sorting swaps them "
        "there and their gradients swap with them, so this gradient is one-sided"
    )
