"""W1: the tutorial's linear regression, 1000 epochs of full-batch gradient descent.

Each epoch is about ten operations on 80x1 arrays, so this measures per-call overhead.
Expected result: a ~ 1.0235, b ~ 1.9690.
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
    sgd_step,
    train,
    with_array_module,
)
from .torch_style import make_train_step, module_job

NAME = "W1"
TITLE = "seed linear regression"
LR = 0.1


@dataclass(frozen=True)
class Problem:
    """Training data and initial parameters, as the tutorial makes them."""

    x: np.ndarray
    y: np.ndarray
    a0: np.ndarray
    b0: np.ndarray
    epochs: int

    @property
    def label(self) -> str:
        return f"{self.epochs} epochs, 80x1, float64"


def make_problem(quick: bool = False, epochs: int = 1000) -> Problem:
    """The tutorial's data (seed 42, 80 of 100 points), then a and b from the same stream.

    ``quick`` runs 250 epochs (JAX without jit takes seconds for 1000).
    """
    np.random.seed(42)
    x = np.random.rand(100, 1)
    y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)
    idx = np.arange(100)
    np.random.shuffle(idx)
    train_idx = idx[:80]
    a0 = np.random.randn(1)
    b0 = np.random.randn(1)
    return Problem(x[train_idx], y[train_idx], a0, b0, 250 if quick else epochs)


def loss(a, b, x, y):
    """The MSE loss, as a user would write it for srcdiff."""
    return np.mean((y - (a + b * x)) ** 2)


def numpy_value_and_grad(a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Hand-written loss and (d/da, d/db)."""
    error = y - b * x
    error -= a
    scale = -2.0 / len(x)
    a_grad = error.sum(axis=0) * scale
    b_grad = (x.ravel() @ error) * scale  # shape (1,), as b
    return np.vdot(error, error) / len(x), (a_grad, b_grad)


def _functional_job(value_and_grad, p: Problem, to_array=np.asarray) -> Job:
    """Gradient descent driven by a ``value_and_grad(a, b, x, y)``."""
    step = sgd_step(value_and_grad, LR)
    params = (to_array(p.a0), to_array(p.b0))
    batches = [(to_array(p.x), to_array(p.y))] * p.epochs
    return Job(lambda: train(step, params, batches))


def _numpy(p: Problem) -> Job:
    return _functional_job(numpy_value_and_grad, p)


def _srcdiff(p: Problem) -> Job:
    import srcdiff as sd

    return _functional_job(sd.value_and_grad(loss, wrt=(0, 1)), p)


def _module(lib, nn, optim, p: Problem, differentiate=None) -> Job:
    """The tutorial's PyTorch code: a Module with parameters a, b, MSELoss and SGD."""

    class LinearRegression(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(lib.zeros(1, dtype=lib.float64))
            self.b = nn.Parameter(lib.zeros(1, dtype=lib.float64))

        def forward(self, x):
            return self.a + self.b * x

    model = LinearRegression()
    optimizer = optim.SGD(model.parameters(), lr=LR)
    step = make_train_step(model, nn.MSELoss(), optimizer, differentiate)
    batches = [(lib.from_numpy(p.x), lib.from_numpy(p.y))] * p.epochs
    return module_job(lib, model, step, {"a": p.a0, "b": p.b0}, batches)


def _srcdiff_module(p: Problem) -> Job:
    import srcdiff as sd
    from srcdiff import nn, optim

    return _module(sd, nn, optim, p, sd.differentiate)


def _torch(p: Problem) -> Job:
    import torch
    from torch import nn, optim

    return _module(torch, nn, optim, p)


def _autograd(p: Problem) -> Job:
    import autograd
    import autograd.numpy as anp

    return _functional_job(autograd.value_and_grad(with_array_module(loss, anp), (0, 1)), p)


def _jax(p: Problem) -> Job:
    jax = import_jax()
    f = with_array_module(loss, jax.numpy)
    job = _functional_job(jax.value_and_grad(f, (0, 1)), p, jax.numpy.asarray)
    return Job(lambda: jax.block_until_ready(job.run()))


def _jax_jit(p: Problem) -> Job:
    jax = import_jax()
    jnp = jax.numpy
    step = sgd_step(jax.value_and_grad(with_array_module(loss, jnp), (0, 1)), LR)
    params = (jnp.asarray(p.a0), jnp.asarray(p.b0))
    batch = (jnp.asarray(p.x), jnp.asarray(p.y))
    compiled, notes = jax_compile(step, params, batch)
    return Job(lambda: jax.block_until_ready(train(compiled, params, [batch] * p.epochs)), notes)


IMPLEMENTATIONS = (
    Impl(REFERENCE, NUMPY, _numpy),
    Impl("srcdiff value_and_grad", SRCDIFF, _srcdiff),
    Impl("srcdiff nn.Module + @differentiate", SRCDIFF, _srcdiff_module),
    Impl("torch eager (nn.Module)", TORCH, _torch),
    Impl("autograd", AUTOGRAD, _autograd),
    Impl("jax (no jit)", JAX, _jax),
    Impl("jax.jit (step)", JAX, _jax_jit),
)
