"""Interleaved timing: every implementation runs once per round, A B C A B C ..."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Timings:
    """Per-round seconds of one implementation, or the error that stopped it."""

    seconds: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def minimum(self) -> float:
        return min(self.seconds)


def time_once(run: Callable[[], object]) -> float:
    """Seconds taken by ``run()``, with the garbage collector off, as ``timeit`` does."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        gc.enable()


def interleave(
    runs: dict[str, Callable[[], object]], rounds: int, warmup: int = 1
) -> dict[str, Timings]:
    """Time each of ``runs`` ``rounds`` times, interleaved, after ``warmup`` discarded rounds.

    An implementation that raises is dropped from the following rounds, with its error kept.
    """
    timings = {name: Timings() for name in runs}
    for round_index in range(warmup + rounds):
        for name, run in runs.items():
            timing = timings[name]
            if timing.error is not None:
                continue
            try:
                seconds = time_once(run)
            except Exception as exc:  # reported in the table; the run goes on
                timing.error = describe(exc)
                continue
            if round_index >= warmup:
                timing.seconds.append(seconds)
    return timings


def ratios(timing: Timings, reference: Timings) -> list[float]:
    """Round-by-round ratios of ``timing`` to ``reference`` (both from the same rounds)."""
    return [t / r for t, r in zip(timing.seconds, reference.seconds, strict=False)]


def describe(exc: BaseException) -> str:
    """A one-line description of an exception for the report."""
    text = " ".join(str(exc).split())
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
