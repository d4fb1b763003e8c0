"""``functools.reduce`` over a list of arrays (the loop it is, each call of its function
compiled: ``operator.add``, a lambda, a function of the user's) and ``copy.copy`` /
``copy.deepcopy`` of containers of arrays (a copy's adjoint is the original's), against
central finite differences; what stays refused, with its message."""

from __future__ import annotations

import copy
import dataclasses
import functools
import operator
from functools import reduce

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad

X = np.array([0.5, -1.2, 2.0])


def check(f, x=X):
    value, got = sd.value_and_grad(f)(x)
    assert value == pytest.approx(f(x.copy()), rel=1e-12)
    np.testing.assert_allclose(got, numeric_grad(f, [x]), rtol=1e-6, atol=1e-8)
    v = np.array([0.3, 0.7, -0.2])
    eps = 1e-6
    want = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    assert float(sd.jvp(f, (x,), (v,))[1]) == pytest.approx(want, rel=1e-5, abs=1e-8)


def _times(a, b):
    return a * b + 0.5


def reduces(x):
    xs = [x, np.sin(x), x**2]
    total = functools.reduce(operator.add, xs)
    product = reduce(lambda a, b: a * b, [x, x + 1.0, x * 3.0])
    started = functools.reduce(_times, (np.cos(x), x), np.ones(3) * 2.0)
    if functools.reduce(operator.add, [x[0], x[1]]) > -100.0:
        total = total + 1.0
    return np.sum(total * product) + np.sum(started)


def reduces_in_a_loop(x):
    s = 0.0
    for k in range(1, 3):
        s = s + np.sum(functools.reduce(operator.mul, [x] * k))
    return s


@pytest.mark.parametrize("f", [reduces, reduces_in_a_loop])
def test_reduce(f):
    check(f)


def test_reduce_of_nothing_raises_as_python_does():
    def f(x):
        return functools.reduce(operator.add, [v for v in x if v > 100.0])

    with pytest.raises(TypeError, match="empty iterable"):
        sd.grad(f)(X)


@dataclasses.dataclass
class Pair:
    a: np.ndarray
    b: np.ndarray


def copies(x):
    xs = [x * 1.0, np.sin(x)]
    shallow = copy.copy(xs)
    shallow.append(x**2)
    deep = copy.deepcopy({"w": xs, "p": Pair(x * 2.0, x[:2])})
    deep["w"][0] = deep["w"][0] * 3.0
    return (
        sum(np.sum(v) for v in shallow)
        + np.sum(deep["w"][0] * xs[0])
        + np.sum(deep["p"].a * deep["p"].b[0])
    )


def test_copies():
    check(copies)


def test_a_copy_of_an_object_copying_itself_is_refused():
    class Own:
        def __init__(self, v):
            self.v = v

        def __deepcopy__(self, memo):
            return Own(self.v * 2.0)

    def f(x, o):
        return np.sum(copy.deepcopy([x, o])[0] ** 2) + np.sum(copy.deepcopy(o).v)

    with pytest.raises(sd.CompileError, match="copies itself"):
        sd.grad(f, wrt=(0, 1))(X, Own(X))
