"""The uniform shape every workload module exposes, and helpers they share.

A workload module defines ``NAME``, ``TITLE``, ``make_problem(quick)`` and
``IMPLEMENTATIONS``; the first implementation is the hand-written NumPy reference
the others are checked against and timed relative to.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FunctionType, ModuleType
from typing import Any

REFERENCE = "numpy (hand-written)"
NUMPY = "numpy"
SRCDIFF = "srcdiff"
TORCH = "torch"
AUTOGRAD = "autograd"
JAX = "jax"


@dataclass(frozen=True)
class Job:
    """A ready-to-time unit of work: ``run()`` does the whole job and returns its result.

    ``notes`` carries what setup measured (e.g. a JIT compile time) for the report.
    """

    run: Callable[[], Any]
    notes: str = ""


@dataclass(frozen=True)
class Impl:
    """One way of doing a workload's job.

    ``library`` names what it needs installed (``NUMPY`` needs nothing extra);
    ``build(problem)`` does the untimed setup and returns the ``Job``.
    """

    name: str
    library: str
    build: Callable[[Any], Job]


def with_array_module(fn: FunctionType, xp: ModuleType) -> FunctionType:
    """``fn`` with the global ``np`` bound to ``xp`` (autograd.numpy, jax.numpy).

    Peers that are NumPy drop-ins then run the very same user source as srcdiff.
    """
    namespace = {**fn.__globals__, "np": xp}
    return FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)


Step = Callable[[tuple, tuple], tuple[tuple, Any]]


def sgd_step(value_and_grad: Callable, lr: float) -> Step:
    """A plain gradient-descent step ``(params, batch) -> (new_params, loss)``.

    ``value_and_grad(*params, *batch)`` must return ``(loss, grads)`` with one
    gradient per parameter.
    """

    def step(params: tuple, batch: tuple) -> tuple[tuple, Any]:
        loss, grads = value_and_grad(*params, *batch)
        return tuple(p - lr * g for p, g in zip(params, grads, strict=True)), loss

    return step


def train(step: Step, params: tuple, batches: Iterable[tuple]) -> tuple[tuple, Any]:
    """Run ``step`` over ``batches``; return the final parameters and the last loss."""
    loss = None
    for batch in batches:
        params, loss = step(params, batch)
    return params, loss


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the seconds it took."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def import_jax() -> ModuleType:
    """Import JAX on the CPU with float64 enabled (W1 and W4 are float64)."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def jax_compile(fn: Callable, *args: Any) -> tuple[Callable, str]:
    """``jax.jit(fn)`` traced and compiled ahead of time for ``args``, and a note of its cost."""
    jax = import_jax()
    compiled, seconds = timed(lambda: jax.jit(fn).lower(*args).compile())
    return compiled, f"jit compile {seconds * 1e3:.0f} ms"
