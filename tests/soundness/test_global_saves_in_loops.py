"""A global the adjoint of a loop's step reads is saved once, on entering the loop, where
no step may change it; where a step calls code that may (``bump()`` assigning it), each
step saves the value it read."""

import numpy as np
import pytest

import srcdiff as sd

from .verify import verify

W = np.array([[0.5, -0.2], [0.1, 0.3]])
K = 0.7


def _bump():
    global K
    K = K + 0.25


def steady(x, h):
    for t in range(3):
        h = np.tanh(x[t] @ W + h * K)
    return np.sum(h)


def bumped_each_step(x, h):
    for t in range(3):
        h = np.tanh(x[t] @ W + h * K)
        _bump()
    return np.sum(h)


def _from_the_start(fn):
    def run(x, h):
        global K
        K = 0.7  # (each call, the plain ones finite differences make too, starts alike)
        return fn(x, h)

    return run


@pytest.mark.parametrize("fn", [steady, bumped_each_step])
def test_a_loops_reads_of_globals_are_saved_as_often_as_they_may_change(fn):
    x, h = np.arange(6.0).reshape(3, 2) / 5, np.array([0.1, -0.3])
    assert verify(_from_the_start(fn), (x, h), wrt=(0, 1), rtol=1e-6) == "ok"
    assert (0.7 if fn is steady else 1.45) == K
    g = sd.grad(fn)
    g(x, h)
    primal = sd.source(g).split("def ")[1]
    in_steps = [line for line in primal.splitlines() if "_s1[" in line and "K" in line]
    assert bool(in_steps) == (fn is bumped_each_step)
