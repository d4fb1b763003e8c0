"""Run the srcdiff benchmarks and print a Markdown report.

    python bench/run.py [--quick] [--only W1,W2,...,OVERHEADS,CALLS]

Every implementation is checked against the hand-written NumPy result before it is
timed; peers that are not installed are reported as such, and failures are reported
in the table without stopping the run. Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness.environment import header_lines  # noqa: E402
from bench.harness.report import ratio, seconds, table  # noqa: E402
from bench.harness.runner import Row, progress, run_workload  # noqa: E402
from bench.workloads import WORKLOADS, calls, overheads  # noqa: E402

NAMES = [w.NAME for w in WORKLOADS] + [overheads.NAME, calls.NAME]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes and fewer rounds (about a minute on 2 cores)",
    )
    parser.add_argument(
        "--only",
        type=lambda s: [n.strip().upper() for n in s.split(",")],
        default=NAMES,
        help=f"comma-separated subset of {','.join(NAMES)}",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(NAMES)
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(sorted(unknown))}; choose from {NAMES}")
    return args


def results_table(rows: list[Row]) -> str:
    headers = ["Workload", "Implementation", "Median", "Min", "vs NumPy (median)", "Notes"]
    cells = [
        [
            r.workload,
            r.implementation,
            seconds(r.median) or r.status,
            seconds(r.minimum),
            ratio(r.ratio),
            r.notes,
        ]
        for r in rows
    ]
    return table(headers, cells)


def overheads_table(measurements: list[overheads.Measurement]) -> str:
    headers = ["Measurement", "hand-written NumPy", "srcdiff", "srcdiff / NumPy", "Notes"]
    return table(headers, [[m.what, m.numpy, m.srcdiff, m.ratio, m.notes] for m in measurements])


def calls_table(rows: list[calls.Row]) -> str:
    headers = [
        "Loss (sd.grad, cached)",
        "(a) hand-written NumPy",
        "(b) generated primal + adjoint",
        "(c) sd.grad call",
        "overhead (c) - (b)",
        "(c) / (a)",
        "jax.jit(jax.grad)",
    ]
    cells = [[r.what, r.numpy, r.generated, r.srcdiff, r.overhead, r.ratio, r.jax] for r in rows]
    return table(headers, cells)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load_before = os.getloadavg()
    # The checking run already warms every implementation up; a full run adds a round.
    rounds, warmup = (3, 0) if args.quick else (5, 1)
    selected = [w for w in WORKLOADS if w.NAME in args.only]
    rows: list[Row] = []
    for workload in selected:
        rows += run_workload(workload, args.quick, rounds, warmup)
    measurements = []
    if overheads.NAME in args.only:
        progress("OVERHEADS: measuring")
        measurements = overheads.measure(args.quick)
    call_rows = []
    if calls.NAME in args.only:
        progress("CALLS: measuring")
        call_rows = calls.measure(args.quick)

    mode = "quick" if args.quick else "full"
    print(f"# srcdiff benchmarks ({mode} run)\n")
    print("\n".join(header_lines(load_before)))
    extra = f"{warmup} more warm-up round, then " if warmup else ""
    print(
        "- method: each implementation's first run is checked against hand-written NumPy"
        f" and serves as warm-up; {extra}{rounds} timed rounds, interleaved (A B C A B C"
        " ...); times are per job; the ratio is the median of per-round ratios to NumPy"
    )
    for workload in selected:
        print(f"- {workload.NAME} {workload.TITLE}: {workload.make_problem(args.quick).label}")
    if rows:
        print("\n" + results_table(rows))
    if measurements:
        print("\n## srcdiff overheads\n\n" + overheads_table(measurements))
    if call_rows:
        print(
            f"\n## {calls.TITLE}\n\nPer call: the fastest of interleaved rounds of"
            " thousands of calls (as timeit reports).\n\n" + calls_table(call_rows)
        )


if __name__ == "__main__":
    main()
