"""W2: one epoch of minibatch SGD on a 784-256-256-10 tanh MLP with softmax cross-entropy.

float32 throughout; 32 minibatches of 128 from a fixed, seeded synthetic data set.
This is dominated by matrix products, so it measures how well each library uses BLAS.
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

NAME = "W2"
TITLE = "MLP 784-256-256-10"
LR = 0.1
SIZES = (784, 256, 256, 10)
PARAM_NAMES = ("l1.weight", "l1.bias", "l2.weight", "l2.bias", "l3.weight", "l3.bias")
WRT = tuple(range(len(PARAM_NAMES)))


@dataclass(frozen=True)
class Problem:
    """Minibatches (inputs, one-hot targets, integer labels) and initial parameters."""

    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    params: tuple[np.ndarray, ...]

    @property
    def label(self) -> str:
        n, b = len(self.batches), self.batches[0][0].shape[0]
        return f"{n} minibatches of {b}, float32"


def make_problem(quick: bool = False, n_batches: int = 32, batch_size: int = 128) -> Problem:
    """Gaussian inputs labelled by a random linear teacher; PyTorch-like uniform init.

    ``quick`` runs 8 minibatches instead of 32.
    """
    if quick:
        n_batches = 8
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_batches * batch_size, SIZES[0]), dtype=np.float32)
    labels = np.argmax(x @ rng.standard_normal((SIZES[0], SIZES[-1])), axis=1)
    onehot = np.eye(SIZES[-1], dtype=np.float32)[labels]
    batches = [
        (x[s : s + batch_size], onehot[s : s + batch_size], labels[s : s + batch_size])
        for s in range(0, len(x), batch_size)
    ]
    params: list[np.ndarray] = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return Problem(batches, tuple(params))


def loss(W1, b1, W2, b2, W3, b3, x, t):
    """Mean softmax cross-entropy of the MLP, as a user would write it for srcdiff."""
    h1 = np.tanh(x @ W1.T + b1)
    h2 = np.tanh(h1 @ W2.T + b2)
    z = h2 @ W3.T + b3
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(t * logp) / x.shape[0]


def numpy_value_and_grad(W1, b1, W2, b2, W3, b3, x, t):
    """Hand-written loss and gradients for the six parameters (in place where a
    temporary would be thrown away)."""
    n = x.shape[0]
    h1 = x @ W1.T
    h1 += b1
    np.tanh(h1, out=h1)
    h2 = h1 @ W2.T
    h2 += b2
    np.tanh(h2, out=h2)
    z = h2 @ W3.T
    z += b3
    z -= np.max(z, axis=1, keepdims=True)
    e = np.exp(z)
    s = np.sum(e, axis=1, keepdims=True)
    z -= np.log(s)  # log-probabilities
    value = -np.vdot(t, z) / n
    dz = e
    dz /= s
    dz -= t
    dz /= n
    dh2 = dz @ W3
    dh2 *= 1 - h2 * h2
    dh1 = dh2 @ W2
    dh1 *= 1 - h1 * h1
    grads = (dh1.T @ x, dh1.sum(0), dh2.T @ h1, dh2.sum(0), dz.T @ h2, dz.sum(0))
    return value, grads


def _functional_job(value_and_grad, p: Problem, to_array=np.asarray) -> Job:
    """SGD over the minibatches driven by a ``value_and_grad(*params, x, t)``."""
    step = sgd_step(value_and_grad, LR)
    params = tuple(to_array(w) for w in p.params)
    batches = [(to_array(x), to_array(t)) for x, t, _ in p.batches]
    return Job(lambda: train(step, params, batches))


def _numpy(p: Problem) -> Job:
    return _functional_job(numpy_value_and_grad, p)


def _srcdiff(p: Problem) -> Job:
    import srcdiff as sd

    return _functional_job(sd.value_and_grad(loss, wrt=WRT), p)


def _module(lib, nn, optim, p: Problem, differentiate=None) -> Job:
    """The PyTorch way: Linear/Tanh layers, CrossEntropyLoss on integer labels, SGD."""

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(SIZES[0], SIZES[1])
            self.l2 = nn.Linear(SIZES[1], SIZES[2])
            self.l3 = nn.Linear(SIZES[2], SIZES[3])

        def forward(self, x):
            return self.l3(lib.tanh(self.l2(lib.tanh(self.l1(x)))))

    model = MLP()
    optimizer = optim.SGD(model.parameters(), lr=LR)
    step = make_train_step(model, nn.CrossEntropyLoss(), optimizer, differentiate)
    batches = [(lib.from_numpy(x), lib.from_numpy(labels)) for x, _, labels in p.batches]
    return module_job(lib, model, step, dict(zip(PARAM_NAMES, p.params, strict=True)), batches)


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

    return _functional_job(autograd.value_and_grad(with_array_module(loss, anp), WRT), p)


def _jax(p: Problem) -> Job:
    jax = import_jax()
    f = with_array_module(loss, jax.numpy)
    job = _functional_job(jax.value_and_grad(f, WRT), p, jax.numpy.asarray)
    return Job(lambda: jax.block_until_ready(job.run()))


def _jax_jit(p: Problem) -> Job:
    jax = import_jax()
    jnp = jax.numpy
    step = sgd_step(jax.value_and_grad(with_array_module(loss, jnp), WRT), LR)
    params = tuple(jnp.asarray(w) for w in p.params)
    batches = [(jnp.asarray(x), jnp.asarray(t)) for x, t, _ in p.batches]
    compiled, notes = jax_compile(step, params, batches[0])
    return Job(lambda: jax.block_until_ready(train(compiled, params, batches)), notes)


IMPLEMENTATIONS = (
    Impl(REFERENCE, NUMPY, _numpy),
    Impl("srcdiff value_and_grad", SRCDIFF, _srcdiff),
    Impl("srcdiff nn.Module + @differentiate", SRCDIFF, _srcdiff_module),
    Impl("torch eager (nn.Module)", TORCH, _torch),
    Impl("autograd", AUTOGRAD, _autograd),
    Impl("jax (no jit)", JAX, _jax),
    Impl("jax.jit (step)", JAX, _jax_jit),
)
