"""Markdown formatting of the results."""

from __future__ import annotations

from collections.abc import Sequence


def seconds(value: float | None) -> str:
    """A duration with a unit that keeps three or four significant digits."""
    if value is None:
        return ""
    if value < 1e-3:
        return f"{value * 1e6:.1f} µs"
    if value < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.3f} s"


def ratio(value: float | None) -> str:
    """A ratio to hand-written NumPy, e.g. ``3.25x``."""
    return "" if value is None else f"{value:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; ``|`` inside cells is escaped."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)
