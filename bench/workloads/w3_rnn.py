"""W3: value and gradient of a 50-step tanh RNN unrolled by a Python loop.

Hidden 64, input 32, batch 32, loss ``sum(h**2)``, gradients w.r.t. W, U and b, float32;
the job repeats the evaluation 100 times. Many small matrix products: dispatch overhead
and the cost of recording the loop both show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import (
    AUTOGRAD,
    JAX,
    NUMPY,
    REFERENCE,
    SRCDIFF,
    TORCH,
    Impl,
    Job,
    import_jax,
    jax_compile,
    with_array_module,
)

NAME = "W3"
TITLE = "RNN loop"
WRT = (0, 1, 2)


@dataclass(frozen=True)
class Problem:
    """Weights W (hidden x hidden), U (hidden x input), b, inputs xs (T x batch x input), h0."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray
    xs: np.ndarray
    h0: np.ndarray
    evaluations: int

    @property
    def args(self) -> tuple[np.ndarray, ...]:
        return (self.W, self.U, self.b, self.xs, self.h0)

    @property
    def label(self) -> str:
        steps, batch, n_in = self.xs.shape
        shape = f"{steps} steps, hidden {self.b.size}, input {n_in}, batch {batch}"
        return f"{self.evaluations} x ({shape}), float32"


def make_problem(
    quick: bool = False, steps: int = 50, hidden: int = 64, n_in: int = 32, batch: int = 32
) -> Problem:
    """Seeded Gaussian weights scaled by 1/sqrt(fan-in); ``quick`` does 10 evaluations, not 100."""
    rng = np.random.default_rng(1)

    def gauss(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    return Problem(
        W=gauss(hidden, hidden, scale=hidden**-0.5),
        U=gauss(hidden, n_in, scale=n_in**-0.5),
        b=gauss(hidden, scale=0.1),
        xs=gauss(steps, batch, n_in),
        h0=np.zeros((batch, hidden), dtype=np.float32),
        evaluations=10 if quick else 100,
    )


def loss(W, U, b, xs, h0):
    """The RNN loss, as a user would write it for srcdiff."""
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W.T + xs[t] @ U.T + b)
    return np.sum(h**2)


def numpy_value_and_grad(W, U, b, xs, h0):
    """Hand-written backpropagation through time (in place where a temporary would be
    thrown away)."""
    hs = [h0]
    for t in range(xs.shape[0]):
        a = hs[-1] @ W.T
        a += xs[t] @ U.T
        a += b
        hs.append(np.tanh(a, out=a))
    gW, gU, gb = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    h = hs[-1]
    gh = 2 * h
    value = np.vdot(h, h)
    for t in reversed(range(xs.shape[0])):
        h = hs[t + 1]
        ga = h * h
        np.subtract(1, ga, out=ga)
        ga *= gh
        gW += ga.T @ hs[t]
        gU += ga.T @ xs[t]
        gb += ga.sum(0)
        gh = ga @ W
    return value, (gW, gU, gb)


def _repeat(value_and_grad, args: tuple, evaluations: int) -> Job:
    """A Job calling ``value_and_grad(*args)`` ``evaluations`` times; it returns the last result."""

    def run():
        result = None
        for _ in range(evaluations):
            result = value_and_grad(*args)
        return result

    return Job(run)


def _numpy(p: Problem) -> Job:
    return _repeat(numpy_value_and_grad, p.args, p.evaluations)


def _srcdiff(p: Problem) -> Job:
    import srcdiff as sd

    return _repeat(sd.value_and_grad(loss, wrt=WRT), p.args, p.evaluations)


def _torch(p: Problem) -> Job:
    import torch

    W, U, b = (torch.tensor(a, requires_grad=True) for a in (p.W, p.U, p.b))
    xs, h0 = torch.from_numpy(p.xs), torch.from_numpy(p.h0)

    def value_and_grad():
        h = h0
        for t in range(xs.shape[0]):
            h = torch.tanh(h @ W.T + xs[t] @ U.T + b)
        value = torch.sum(h**2)
        return value.detach(), torch.autograd.grad(value, (W, U, b))

    return _repeat(value_and_grad, (), p.evaluations)


def _autograd(p: Problem) -> Job:
    import autograd
    import autograd.numpy as anp

    vg = autograd.value_and_grad(with_array_module(loss, anp), WRT)
    return _repeat(vg, p.args, p.evaluations)


def _jax(p: Problem) -> Job:
    jax = import_jax()
    vg = jax.value_and_grad(with_array_module(loss, jax.numpy), WRT)
    job = _repeat(vg, tuple(jax.numpy.asarray(a) for a in p.args), p.evaluations)
    return Job(lambda: jax.block_until_ready(job.run()))


def _jax_jit(p: Problem) -> Job:
    jax = import_jax()
    vg = jax.value_and_grad(with_array_module(loss, jax.numpy), WRT)
    args = tuple(jax.numpy.asarray(a) for a in p.args)
    compiled, notes = jax_compile(vg, *args)
    job = _repeat(compiled, args, p.evaluations)
    return Job(lambda: jax.block_until_ready(job.run()), notes)


IMPLEMENTATIONS = (
    Impl(REFERENCE, NUMPY, _numpy),
    Impl("srcdiff value_and_grad", SRCDIFF, _srcdiff),
    Impl("torch eager", TORCH, _torch),
    Impl("autograd", AUTOGRAD, _autograd),
    Impl("jax (no jit)", JAX, _jax),
    Impl("jax.jit", JAX, _jax_jit),
)
