"""The finiteness checks of generated adjoints (``sd.grad(f, check_finite=True)``,
``sd.detect_nonfinite()``): after each adjoint statement, ``check_finite`` raises at the
first infinite or NaN gradient, naming the user's line, the statement, its operands, and
the fix for the usual causes. Adjoints without checks are other source: off, they cost
nothing."""

from __future__ import annotations

import contextlib
import linecache
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..backend import array_module, to_numpy
from ..errors import NonFiniteError

CHECKING = [False]  # whether adjoints generated now check finiteness


@contextlib.contextmanager
def checking_finite(on: bool = True) -> Iterator[None]:
    """Within the block, gradients run adjoints that check finiteness (``on``)."""
    before = CHECKING[0]
    CHECKING[0] = on
    try:
        yield
    finally:
        CHECKING[0] = before


def _finite(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return all(_finite(v) for v in x)
    if isinstance(x, dict):
        return all(_finite(v) for v in x.values())
    if isinstance(x, (bool, int)) or x is None:
        return True
    if isinstance(x, float):
        return x == x and abs(x) != float("inf")
    if hasattr(x, "dtype") and getattr(x.dtype, "kind", "f") in "fc":
        return bool(array_module(x).all(array_module(x).isfinite(x)))
    return True


def _summary(x: Any) -> str:
    """Shape, range and where it is not finite, for an array or a number."""
    if isinstance(x, (float, int)) and not isinstance(x, bool):
        return repr(x)
    if not hasattr(x, "dtype") or getattr(x.dtype, "kind", "") not in "fiub":
        return type(x).__name__
    a = np.asarray(to_numpy(x), dtype=float)
    bad = ~np.isfinite(a)
    shown = f"shape {a.shape}" if a.shape else "a number"
    good = a[~bad]
    if good.size:
        shown += f", from {good.min():.3g} to {good.max():.3g}"
    if bad.any():
        where = [tuple(int(i) for i in k) for k in np.argwhere(bad)[:3]]
        shown += f", not finite at {where if a.shape else 'it'}"
    if (a == 0).any():
        shown += f", {int((a == 0).sum())} zero(s)"
    return shown


def _hint(source: str, statement: str, operands: dict) -> str:
    """The usual cause of a gradient that stops being finite on this line, and its fix."""
    has_zero = any(
        hasattr(v, "dtype")
        and bool((np.asarray(to_numpy(v)) == 0).any())
        or (isinstance(v, float) and v == 0.0)
        for v in operands.values()
    )
    if "where(" in source and "sqrt(" in source:
        return (
            "np.where computes both branches and differentiates both: the masked-out "
            "np.sqrt has an infinite slope at 0 (NaN below), and inf * 0 is NaN. Make the "
            "masked entries harmless inside the sqrt too:\n"
            "  - np.where(c, np.sqrt(x), 0.0)\n"
            "  + np.where(c, np.sqrt(np.where(c, x, 1.0)), 0.0)"
        )
    if "sqrt(" in source and has_zero:
        return (
            "np.sqrt(x) has slope 0.5 / sqrt(x), infinite at x = 0: keep x away from 0 "
            "(np.sqrt(x + eps)), or mask it as np.where(x > 0, np.sqrt(np.where(x > 0, x, "
            "1.0)), 0.0)"
        )
    if "log" in source and has_zero:
        return (
            "np.log(x) has slope 1 / x, infinite at x = 0: use np.log(x + eps), np.log1p, "
            "or np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)"
        )
    if "/" in statement and has_zero:
        return (
            "a division by zero in the gradient: the line divides by a value that is 0 "
            "here (x / y has slope -x / y**2 in y); keep the divisor away from 0"
        )
    if "**" in source and has_zero:
        return "x ** p with p < 1 has an infinite slope at x = 0: keep x away from 0"
    return "an operand is fine and the result is not: look at the values this line sees"


def check_finite(value: Any, where: tuple, operands: dict[str, Any]) -> Any:
    """``value`` (an adjoint statement's result) when it is finite; else raise a
    ``NonFiniteError`` naming ``where`` (file, user line, statement, and for recorded
    Tensor operations, which have no file, the operation) and ``operands``."""
    if _finite(value):
        return value
    filename, line, statement = where[:3]
    source = linecache.getline(filename, line).strip() or "".join(where[3:])
    shown = "\n".join(f"    {k}: {_summary(v)}" for k, v in operands.items() if k != "rt")
    inputs = [k for k, v in operands.items() if k.startswith("d_") and not _finite(v)]
    origin = (
        f"it came in through {', '.join(inputs)}, a gradient already not finite"
        if inputs
        else _hint(source, statement, operands)
    )
    raise NonFiniteError(
        f"a gradient is not finite at {filename}:{line}: `{source}`\n"
        f"  the adjoint statement: {statement}\n  its operands:\n{shown}\n  {origin}",
        filename=filename,
        lineno=line,
        statement=statement,
    )
