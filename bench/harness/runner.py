"""Running one workload: build every implementation, check it, then time them interleaved."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from dataclasses import dataclass
from types import ModuleType

from ..workloads.base import NUMPY, SRCDIFF, Impl, Job
from .checks import disagreement
from .timing import describe, interleave, ratios


@dataclass(frozen=True)
class Row:
    """One line of the results table: timings, or the status that replaced them."""

    workload: str
    implementation: str
    median: float | None = None
    minimum: float | None = None
    ratio: float | None = None
    status: str = ""
    notes: str = ""


def progress(message: str) -> None:
    """Progress goes to stderr, so that stdout is only the Markdown report."""
    print(message, file=sys.stderr, flush=True)


def installed(library: str) -> bool:
    """Whether a peer library can be imported (NumPy and srcdiff are always attempted)."""
    return library in (NUMPY, SRCDIFF) or importlib.util.find_spec(library) is not None


def prepare(impl: Impl, problem: object, reference: object) -> Job | str:
    """Build ``impl`` and check its first result against ``reference``; a status on failure."""
    if not installed(impl.library):
        return "not installed"
    try:
        job = impl.build(problem)
        result = job.run()
    except Exception as exc:  # reported in the table; the run goes on
        return f"failed: {describe(exc)}"
    problem_found = disagreement(result, reference)
    return f"wrong result: {problem_found}" if problem_found else job


def run_workload(workload: ModuleType, quick: bool, rounds: int, warmup: int) -> list[Row]:
    """All implementations of ``workload``, checked against its NumPy reference and timed.

    The first run of each implementation is its correctness check; ``warmup`` more
    rounds are discarded, then ``rounds`` interleaved rounds are kept.
    """
    name = workload.NAME
    problem = workload.make_problem(quick)
    reference_impl, *others = workload.IMPLEMENTATIONS
    progress(f"{name}: {problem.label}")
    reference_job = reference_impl.build(problem)
    reference = reference_job.run()
    jobs: dict[str, Job] = {reference_impl.name: reference_job}
    statuses: dict[str, str] = {}
    for impl in others:
        progress(f"{name}: checking {impl.name}")
        prepared = prepare(impl, problem, reference)
        if isinstance(prepared, str):
            statuses[impl.name] = prepared
            progress(f"{name}: {impl.name}: {prepared}")
        else:
            jobs[impl.name] = prepared
    progress(f"{name}: timing {len(jobs)} implementations, {rounds} interleaved rounds")
    timings = interleave({n: job.run for n, job in jobs.items()}, rounds, warmup)
    base = timings[reference_impl.name]
    rows = []
    for impl in workload.IMPLEMENTATIONS:
        timing = timings.get(impl.name)
        if timing is None:
            rows.append(Row(name, impl.name, status=statuses[impl.name]))
        elif timing.error is not None:
            rows.append(Row(name, impl.name, status=f"failed: {timing.error}"))
        else:
            ratio = statistics.median(ratios(timing, base))
            notes = jobs[impl.name].notes
            rows.append(Row(name, impl.name, timing.median, timing.minimum, ratio, notes=notes))
    return rows
