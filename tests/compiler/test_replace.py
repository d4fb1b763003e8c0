"""``dataclasses.replace(obj, field=v)`` and a named tuple's ``obj._replace(field=v)``:
a new object built by its class's constructor (a dataclass's ``__post_init__`` runs
again) from the fields given and the object's others; checked against finite
differences at two step sizes, the plain call's value, and forward mode, on objects
built inside and passed in."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad
from tests.soundness.verify import verify_both_modes

rng = np.random.default_rng(7)
X, Y = rng.normal(size=3), rng.normal(size=3)


@dataclasses.dataclass
class Layer:
    """A field computed by ``__post_init__`` from the others, and one with a default."""

    w: np.ndarray
    b: np.ndarray
    scale: float = 2.0
    c: np.ndarray = dataclasses.field(init=False)

    def __post_init__(self):
        self.c = self.w * self.scale


@dataclasses.dataclass
class Shifted:
    """An ``InitVar`` without default (given again to ``replace``) and one with a
    default (taken when not given)."""

    w: np.ndarray
    shift: dataclasses.InitVar[np.ndarray]
    times: dataclasses.InitVar[float] = 3.0

    def __post_init__(self, shift, times):
        self.w = self.w * times + shift


class Pair(NamedTuple):
    a: np.ndarray
    b: np.ndarray


def replaced_field(x, y):
    d = Layer(x, y)
    e = dataclasses.replace(d, b=x * y, scale=3.0)
    return np.sum(e.w * e.b * e.c) + np.sum(d.c)


def replaced_initvar(x, y):
    s = Shifted(x, shift=y)
    t = dataclasses.replace(s, shift=np.sin(y), times=0.5)
    u = dataclasses.replace(t, shift=x)
    return np.sum(t.w * u.w)


def replaced_entry(x, y):
    p = Pair(x, y)
    q = p._replace(b=x * x)
    return np.sum(q.a * q.b * p.b)


@pytest.mark.parametrize("fn", [replaced_field, replaced_initvar, replaced_entry])
def test_replace_built_inside(fn):
    verify_both_modes(fn, (X, Y), rng)


def layer_passed_in(d, x):
    e = dataclasses.replace(d, b=np.tanh(x))
    return np.sum(e.w * e.b + e.c)


def pair_passed_in(p, x):
    q = p._replace(a=np.sin(x) * p.a)
    return np.sum(q.a * q.b)


@pytest.mark.parametrize(
    ("fn", "cls"), [(layer_passed_in, Layer), (pair_passed_in, Pair)]
)  # fmt: skip
def test_replace_of_an_object_passed_in(fn, cls):
    obj = cls(X, Y)
    before = (obj[0].copy(), obj[1].copy()) if isinstance(obj, tuple) else (obj.w.copy(),)
    d_obj, d_x = sd.grad(fn, wrt=(0, 1))(obj, X)

    def flat(a, b, x):
        return fn(cls(a, b), x)

    want = numeric_grad(flat, [X, Y, X], (0, 1, 2))
    fields = (d_obj.a, d_obj.b) if isinstance(obj, tuple) else (d_obj.w, d_obj.b)
    for got, w in zip((*fields, d_x), want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-7)
    after = (obj[0], obj[1]) if isinstance(obj, tuple) else (obj.w,)
    for a, b in zip(before, after, strict=False):
        np.testing.assert_array_equal(a, b)


def replaced_wrongly(x, y):
    d = Layer(x, y)
    return dataclasses.replace(d, c=x).w.sum()


def test_replace_of_an_init_false_field_raises_as_python():
    with pytest.raises((ValueError, TypeError)):
        replaced_wrongly(X, Y)
    with pytest.raises((ValueError, TypeError)):
        sd.grad(replaced_wrongly)(X, Y)
