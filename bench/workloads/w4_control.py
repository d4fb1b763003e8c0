"""W4: data-dependent control flow: a clipped 1000-step integrator, then a Newton solve.

A damped pendulum per component of a length-10 state is stepped 1000 times; an ``if``
rescales the velocity whenever its energy exceeds ``EMAX``; a ``while`` loop then solves
``z**3 + z = sum(y)`` by Newton's method until the step is below 1e-12 (a data-dependent
trip count). Value and gradient w.r.t. the initial state (y0, v0), float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

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

NAME = "W4"
TITLE = "control flow"
DT = 0.01
EMAX = 2.0
TOL = 1e-12
MAX_NEWTON = 60
WRT = (0, 1)


@dataclass(frozen=True)
class Problem:
    """Initial positions and velocities, and the number of integrator steps."""

    y0: np.ndarray
    v0: np.ndarray
    n_steps: int

    @property
    def label(self) -> str:
        return f"{self.n_steps} steps on a vector of {self.y0.size}, float64"


def make_problem(quick: bool = False, n_steps: int = 1000, size: int = 10) -> Problem:
    """A seeded state for which the clipping branch is taken on 182 of the 1000 steps.

    ``quick`` runs 250 steps (JAX without jit takes seconds for 1000).
    """
    rng = np.random.default_rng(2)
    y0, v0 = rng.uniform(-1, 1, size), 2 * rng.standard_normal(size)
    return Problem(y0, v0, 250 if quick else n_steps)


def simulate(y0, v0, n_steps):
    """The workload as a user would write it for srcdiff."""
    y = y0
    v = v0
    for _ in range(n_steps):
        acc = -np.sin(y) - 0.1 * v
        v = v + DT * acc
        y = y + DT * v
        e = np.sum(v * v)
        if e > EMAX:
            v = v * np.sqrt(EMAX / e)
    s = np.sum(y)
    z = s
    step = 1.0
    while abs(step) > TOL:
        step = (z**3 + z - s) / (3 * z**2 + 1)
        z = z - step
    return z + 0.5 * np.sum(v * v)


def numpy_value_and_grad(y0: np.ndarray, v0: np.ndarray, n_steps: int):
    """Hand-written reverse mode: the forward pass records the path taken, then runs it back."""
    y, v = y0, v0
    trace = []
    for _ in range(n_steps):
        y_in = y
        v = v - DT * (np.sin(y) + 0.1 * v)
        y = y + DT * v
        e = v @ v
        clipped = e > EMAX
        trace.append((y_in, v, e if clipped else None))
        if clipped:
            v = v * np.sqrt(EMAX / e)
    s = np.sum(y)
    zs = [s]
    step = 1.0
    while abs(step) > TOL:
        z = zs[-1]
        step = (z**3 + z - s) / (3 * z**2 + 1)
        zs.append(z - step)
    value = zs[-1] + 0.5 * (v @ v)

    gz, gs = 1.0, 0.0
    for z in reversed(zs[:-1]):
        d = 3 * z**2 + 1
        gs += gz / d
        gz *= 6 * z * (z**3 + z - s) / d**2
    gy = np.full_like(y, gs + gz)
    gv = v  # never updated in place: each step makes new arrays
    for y_in, v_mid, e in reversed(trace):
        if e is not None:
            c = np.sqrt(EMAX / e)
            gv = c * (gv - ((gv @ v_mid) / e) * v_mid)
        gv = gv + DT * gy
        gy = gy - np.cos(y_in) * (DT * gv)
        gv = gv * (1 - 0.1 * DT)
    return value, (gy, gv)


def simulate_torch(y0, v0, n_steps: int):
    """``simulate`` in PyTorch."""
    import torch

    y, v = y0, v0
    for _ in range(n_steps):
        acc = -torch.sin(y) - 0.1 * v
        v = v + DT * acc
        y = y + DT * v
        e = torch.sum(v * v)
        if e > EMAX:
            v = v * torch.sqrt(EMAX / e)
    s = torch.sum(y)
    z = s
    step = 1.0
    while abs(step) > TOL:
        step = (z**3 + z - s) / (3 * z**2 + 1)
        z = z - step
    return z + 0.5 * torch.sum(v * v)


def simulate_lax(y0, v0, n_steps: int):
    """``simulate`` for ``jax.jit``: ``fori_loop`` and ``cond`` for the integrator, and the
    ``while`` as a masked scan of ``MAX_NEWTON`` steps (reverse mode cannot go through
    ``lax.while_loop``); steps after convergence leave z unchanged, so the path is the same."""
    jax = import_jax()
    jnp, lax = jax.numpy, jax.lax

    def integrate(_, state):
        y, v = state
        v = v + DT * (-jnp.sin(y) - 0.1 * v)
        y = y + DT * v
        e = jnp.sum(v * v)
        return y, lax.cond(e > EMAX, lambda: v * jnp.sqrt(EMAX / e), lambda: v)

    y, v = lax.fori_loop(0, n_steps, integrate, (y0, v0))
    s = jnp.sum(y)

    def newton(carry, _):
        z, done = carry
        step = (z**3 + z - s) / (3 * z**2 + 1)
        return (jnp.where(done, z, z - step), done | (jnp.abs(step) <= TOL)), None

    (z, _), _ = lax.scan(newton, (s, jnp.array(False)), length=MAX_NEWTON)
    return z + 0.5 * jnp.sum(v * v)


def _once(value_and_grad, *args) -> Job:
    return Job(lambda: value_and_grad(*args))


def _numpy(p: Problem) -> Job:
    return _once(numpy_value_and_grad, p.y0, p.v0, p.n_steps)


def _srcdiff(p: Problem) -> Job:
    import srcdiff as sd

    return _once(sd.value_and_grad(simulate, wrt=WRT), p.y0, p.v0, p.n_steps)


def _torch(p: Problem) -> Job:
    import torch

    y0, v0 = torch.tensor(p.y0, requires_grad=True), torch.tensor(p.v0, requires_grad=True)

    def value_and_grad():
        value = simulate_torch(y0, v0, p.n_steps)
        return value.detach(), torch.autograd.grad(value, (y0, v0))

    return Job(value_and_grad)


def _autograd(p: Problem) -> Job:
    import autograd
    import autograd.numpy as anp

    vg = autograd.value_and_grad(with_array_module(simulate, anp), WRT)
    return _once(vg, p.y0, p.v0, p.n_steps)


def _jax(p: Problem) -> Job:
    jax = import_jax()
    vg = jax.value_and_grad(with_array_module(simulate, jax.numpy), WRT)
    y0, v0 = jax.numpy.asarray(p.y0), jax.numpy.asarray(p.v0)
    return Job(lambda: jax.block_until_ready(vg(y0, v0, p.n_steps)))


def _jax_jit(p: Problem) -> Job:
    jax = import_jax()
    vg = jax.value_and_grad(partial(simulate_lax, n_steps=p.n_steps), WRT)
    y0, v0 = jax.numpy.asarray(p.y0), jax.numpy.asarray(p.v0)
    compiled, notes = jax_compile(vg, y0, v0)
    return Job(lambda: jax.block_until_ready(compiled(y0, v0)), notes + "; lax.cond/scan")


IMPLEMENTATIONS = (
    Impl(REFERENCE, NUMPY, _numpy),
    Impl("srcdiff value_and_grad", SRCDIFF, _srcdiff),
    Impl("torch eager", TORCH, _torch),
    Impl("autograd", AUTOGRAD, _autograd),
    Impl("jax (no jit)", JAX, _jax),
    Impl("jax.jit (lax control flow)", JAX, _jax_jit),
)
