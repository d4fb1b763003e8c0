"""The per-call overhead of a cached ``sd.grad`` call, on losses small enough for it to show.

For each loss: (a) its gradient written by hand in NumPy, (b) the primal and adjoint
srcdiff generated for it, called directly (the generated code's own arithmetic), (c)
``sd.grad(loss)(...)`` after its first call, and ``jax.jit(jax.grad(loss))`` when JAX is
installed. The overhead is (c) - (b): what srcdiff adds to its generated code per call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..harness.checks import disagreement
from ..harness.report import ratio, seconds
from ..harness.runner import installed
from ..harness.timing import describe, interleave
from .base import JAX, import_jax, with_array_module

NAME = "CALLS"
TITLE = "per-call overhead of a cached sd.grad call"


def one_line(w):
    """A one-line scalar loss, as a user would write it for srcdiff."""
    return np.sum(w * w)


def one_line_grad(w: np.ndarray) -> np.ndarray:
    """Hand-written gradient of ``one_line``."""
    return 2.0 * w


def mse(w, x, y):
    """A three-argument least-squares loss, as a user would write it for srcdiff."""
    return np.mean((x @ w - y) ** 2)


def mse_grad(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Hand-written gradient of ``mse`` with respect to ``w``."""
    r = x @ w
    r -= y
    return (r @ x) * (2.0 / r.size)


@dataclass(frozen=True)
class Loss:
    """A loss, its hand-written gradient and the arguments it is timed at."""

    what: str
    fn: Callable
    grad: Callable
    args: tuple


def losses() -> list[Loss]:
    """The losses timed: small arrays, so that the per-call costs dominate."""
    rng = np.random.default_rng(0)
    w, x, y = rng.normal(size=8), rng.normal(size=(32, 8)), rng.normal(size=32)
    return [
        Loss("`np.sum(w * w)`, w of size 10", one_line, one_line_grad, (rng.normal(size=10),)),
        Loss("`np.mean((x @ w - y) ** 2)`, x of 32 x 8", mse, mse_grad, (w, x, y)),
    ]


@dataclass(frozen=True)
class Row:
    """One line of the table, already formatted."""

    what: str
    numpy: str
    generated: str = ""
    srcdiff: str = ""
    overhead: str = ""
    ratio: str = ""
    jax: str = ""


def generated(g: Callable, args: tuple) -> Callable[[], Any]:
    """The primal and adjoint that ``g``'s latest call ran, called directly: the same
    generated code, without srcdiff's dispatch around it (no checks, no packing)."""
    unit, key, _, _ = g._target.last
    primal = unit.path_primal(key)[0] if unit.speculative and unit.ran_path else unit.primal
    adjoint = unit.adjoint(key)[0]

    def run() -> Any:
        saved: dict = {}
        primal(saved, [], *args)
        return adjoint(saved, 1.0)[0]

    return run


def jax_jit(loss: Loss) -> Callable[[], Any]:
    """``jax.jit(jax.grad(loss))`` at the loss's arguments, compiled by a first call."""
    jax = import_jax()
    fn = jax.jit(jax.grad(with_array_module(loss.fn, jax.numpy)))
    args = tuple(jax.device_put(a) for a in loss.args)
    fn(*args).block_until_ready()
    return lambda: fn(*args).block_until_ready()


def per_call(run: Callable[[], Any], calls: int) -> Callable[[], None]:
    """``run`` called ``calls`` times: one timed block."""

    def block() -> None:
        for _ in range(calls):
            run()

    return block


def prepared(build: Callable[[], Callable[[], Any]], reference: Any) -> Callable[[], Any] | str:
    """``build()``'s run, checked against ``reference``; a status when it fails."""
    try:
        run = build()
        problem = disagreement(run(), reference)
    except Exception as exc:  # reported in the table; the run goes on
        return f"failed: {describe(exc)}"
    return f"wrong result: {problem}" if problem else run


def measure_loss(loss: Loss, quick: bool) -> Row:
    """The timings of one loss, each implementation checked first against the
    hand-written gradient."""
    import srcdiff as sd

    reference = loss.grad(*loss.args)
    g = sd.grad(loss.fn)
    builds: dict[str, Callable[[], Callable[[], Any]]] = {
        "numpy": lambda: lambda: loss.grad(*loss.args),
        "srcdiff": lambda: lambda: g(*loss.args),
        "generated": lambda: generated(g, loss.args),  # after the srcdiff call: its path
    }
    if installed(JAX):
        builds["jax"] = lambda: jax_jit(loss)
    runs, statuses = {}, {"jax": "not installed"}
    for name, build in builds.items():
        run = prepared(build, reference)
        if isinstance(run, str):
            statuses[name] = run
        else:
            runs[name] = run
    # many short rounds: the fastest is the one least disturbed by other work
    calls = 500 if quick else 1_000
    rounds = 15 if quick else 61
    timings = interleave({name: per_call(run, calls) for name, run in runs.items()}, rounds)
    best = {n: t.minimum / calls for n, t in timings.items() if t.error is None}
    statuses.update({n: f"failed: {t.error}" for n, t in timings.items() if t.error})
    cell = {n: seconds(best[n]) if n in best else statuses.get(n, "") for n in builds}
    cell.setdefault("jax", statuses["jax"])
    if "srcdiff" not in best or "generated" not in best:
        return Row(loss.what, cell["numpy"], cell["generated"], cell["srcdiff"], jax=cell["jax"])
    return Row(
        loss.what,
        cell["numpy"],
        cell["generated"],
        cell["srcdiff"],
        f"+{(best['srcdiff'] - best['generated']) * 1e6:.2f} µs",
        ratio(best["srcdiff"] / best["numpy"]),
        cell["jax"],
    )


def measure(quick: bool) -> list[Row]:
    """One row per loss."""
    return [measure_loss(loss, quick) for loss in losses()]
