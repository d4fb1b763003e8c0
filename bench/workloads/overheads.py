"""srcdiff's own costs: per-call overhead, first-call compile time, generated source, memory.

Each measurement puts srcdiff next to the hand-written NumPy code for the same job,
after checking that both give the same value and gradient.
"""

from __future__ import annotations

import statistics
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from types import FunctionType
from typing import Any

import numpy as np

from ..harness.checks import disagreement
from ..harness.report import ratio, seconds
from ..harness.timing import describe, interleave, time_once
from . import long_function, w3_rnn, w4_control
from .base import timed

NAME = "OVERHEADS"
TITLE = "srcdiff overheads"


@dataclass(frozen=True)
class Measurement:
    """One line of the overheads table, already formatted."""

    what: str
    numpy: str
    srcdiff: str
    ratio: str = ""
    notes: str = ""


class SrcdiffFailed(Exception):
    """srcdiff raised or disagreed with NumPy; the message is the table cell."""


def two_line(x):
    """A two-line function, as a user would write it for srcdiff."""
    y = np.sin(x) * x
    return np.sum(y)


def two_line_numpy(x: np.ndarray) -> tuple[Any, np.ndarray]:
    """Hand-written value and gradient of ``two_line``."""
    s = np.sin(x)
    grad = np.cos(x)
    grad *= x
    grad += s
    return s @ x, grad


def fresh(fn: FunctionType) -> FunctionType:
    """A new function object with ``fn``'s code, so no per-function cache can hit."""
    return FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


def srcdiff_value_and_grad(fn: Callable, wrt: Any) -> Callable:
    """``sd.value_and_grad(fn, wrt)``, any error becoming ``SrcdiffFailed``."""
    try:
        import srcdiff as sd

        return sd.value_and_grad(fn, wrt=wrt)
    except Exception as exc:
        raise SrcdiffFailed(f"failed: {describe(exc)}") from exc


def checked_call(g: Callable, args: tuple, reference: Any) -> tuple[Any, float]:
    """``g(*args)`` timed and checked against ``reference``; ``SrcdiffFailed`` otherwise."""
    try:
        result, elapsed = timed(lambda: g(*args))
    except Exception as exc:
        raise SrcdiffFailed(f"failed: {describe(exc)}") from exc
    problem = disagreement(result, reference)
    if problem:
        raise SrcdiffFailed(f"wrong result: {problem}")
    return result, elapsed


def first_call(fn: FunctionType, wrt: Any, args: tuple, reference: Any) -> tuple[Callable, float]:
    """``sd.value_and_grad`` of a fresh copy of ``fn``, called once: it and the seconds for both."""
    f = fresh(fn)
    g, making = timed(lambda: srcdiff_value_and_grad(f, wrt))
    _, calling = checked_call(g, args, reference)
    return g, making + calling


def median_seconds(run: Callable[[], object], times: int) -> float:
    """Median of ``times`` timings of ``run``."""
    return statistics.median(time_once(run) for _ in range(times))


def cached_call(quick: bool) -> list[Measurement]:
    """Per-call cost of an already compiled srcdiff function against the hand-written one."""
    x = np.linspace(0.0, 1.0, 10)
    calls = 2_000 if quick else 20_000
    what = f"cached call of a 2-line function (x of size {x.size})"

    def loop(fn: Callable) -> Callable[[], None]:
        def run() -> None:
            for _ in range(calls):
                fn(x)

        return run

    try:
        g = srcdiff_value_and_grad(two_line, 0)
        checked_call(g, (x,), two_line_numpy(x))
    except SrcdiffFailed as failure:
        numpy_time = median_seconds(loop(two_line_numpy), 5) / calls
        return [Measurement(what, seconds(numpy_time), str(failure))]
    timings = interleave({"numpy": loop(two_line_numpy), "srcdiff": loop(g)}, rounds=5)
    numpy_time = timings["numpy"].median / calls
    if timings["srcdiff"].error:
        return [Measurement(what, seconds(numpy_time), f"failed: {timings['srcdiff'].error}")]
    srcdiff_time = timings["srcdiff"].median / calls
    extra = f"+{seconds(srcdiff_time - numpy_time)} per call"
    return [
        Measurement(
            what,
            seconds(numpy_time),
            seconds(srcdiff_time),
            ratio(srcdiff_time / numpy_time),
            extra,
        )
    ]


def w3_first_call(quick: bool) -> list[Measurement]:
    """Trace + generate + compile + run time of W3's first call, on fresh function objects."""
    p = w3_rnn.make_problem(quick)
    reference = w3_rnn.numpy_value_and_grad(*p.args)
    numpy_time = median_seconds(lambda: w3_rnn.numpy_value_and_grad(*p.args), 5)
    what = "W3 first call of a fresh function (trace + generate + compile + run)"
    try:
        calls = [
            first_call(w3_rnn.loss, (0, 1, 2), p.args, reference) for _ in range(2 if quick else 5)
        ]
    except SrcdiffFailed as failure:
        return [Measurement(what, seconds(numpy_time), str(failure), notes="NumPy: one evaluation")]
    first = statistics.median(elapsed for _, elapsed in calls)
    cached = median_seconds(lambda: calls[-1][0](*p.args), 5)
    notes = f"NumPy: one evaluation; srcdiff cached call {seconds(cached)}"
    return [
        Measurement(what, seconds(numpy_time), seconds(first), ratio(first / numpy_time), notes)
    ]


def w4_compile(n_steps: int) -> list[Measurement]:
    """First-call time and generated source size of W4 at ``n_steps`` integrator steps."""
    p = w4_control.make_problem(n_steps=n_steps)
    args = (p.y0, p.v0, n_steps)
    reference = w4_control.numpy_value_and_grad(*args)
    numpy_time = median_seconds(lambda: w4_control.numpy_value_and_grad(*args), 3)
    what = f"W4 at {n_steps:,} steps: first call (trace + generate + compile + run)"
    try:
        import srcdiff as sd

        g, first = first_call(w4_control.simulate, (0, 1), args, reference)
        source = sd.source(g)
        _, cached = checked_call(g, args, reference)
    except SrcdiffFailed as failure:
        return [Measurement(what, seconds(numpy_time), str(failure))]
    except Exception as exc:  # importing srcdiff, or sd.source, failing
        return [Measurement(what, seconds(numpy_time), f"failed: {describe(exc)}")]
    lines = source.count("\n") + 1
    return [
        Measurement(
            what,
            seconds(numpy_time),
            seconds(first),
            ratio(first / numpy_time),
            f"NumPy: one evaluation; srcdiff cached call {seconds(cached)}",
        ),
        Measurement(
            f"W4 at {n_steps:,} steps: len(sd.source(g))",
            "",
            f"{len(source):,} chars",
            notes=f"{lines:,} lines",
        ),
    ]


def long_function_compile(quick: bool) -> list[Measurement]:
    """First compile of a 43-line function with two loops and three branches: the
    first call of a fresh copy less a cached call (the gradient is checked against
    finite differences in the tests, not here)."""
    args = long_function.arguments()
    what = "43-line function, 2 loops, 3 branches: first compile (first call - cached call)"
    try:
        import srcdiff as sd

        compiles, cached = [], []
        for _ in range(3 if quick else 7):
            g = sd.value_and_grad(fresh(long_function.objective), wrt=0)
            first = time_once(lambda g=g: g(*args))
            again = time_once(lambda g=g: g(*args))
            compiles.append(first - again)
            cached.append(again)
    except Exception as exc:
        return [Measurement(what, "", f"failed: {describe(exc)}")]
    notes = f"srcdiff cached call {seconds(statistics.median(cached))}"
    return [Measurement(what, "", seconds(statistics.median(compiles)), notes=notes)]


def peak_bytes(run: Callable[[], object]) -> int:
    """Peak memory traced by tracemalloc while ``run()`` runs, above what was live before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def w3_peak_memory(quick: bool) -> list[Measurement]:
    """Peak memory of one W3 evaluation (srcdiff already compiled) against NumPy's."""
    p = w3_rnn.make_problem(quick)
    numpy_peak = peak_bytes(lambda: w3_rnn.numpy_value_and_grad(*p.args))
    what = "W3 peak memory of one evaluation (tracemalloc)"
    try:
        g, _ = first_call(w3_rnn.loss, (0, 1, 2), p.args, w3_rnn.numpy_value_and_grad(*p.args))
    except SrcdiffFailed as failure:
        return [Measurement(what, kib(numpy_peak), str(failure))]
    srcdiff_peak = peak_bytes(lambda: g(*p.args))
    return [
        Measurement(
            what,
            kib(numpy_peak),
            kib(srcdiff_peak),
            ratio(srcdiff_peak / numpy_peak),
            "srcdiff: cached call",
        )
    ]


def kib(n_bytes: int) -> str:
    """Bytes as KiB."""
    return f"{n_bytes / 1024:,.0f} KiB"


def measure(quick: bool) -> list[Measurement]:
    """Every overhead measurement; ``quick`` measures W4 at 10,000 instead of 100,000 steps."""
    return [
        *cached_call(quick),
        *w3_first_call(quick),
        *w4_compile(1_000),
        *w4_compile(10_000 if quick else 100_000),
        *long_function_compile(quick),
        *w3_peak_memory(quick),
    ]
