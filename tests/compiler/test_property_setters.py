"""A property's setter on an object the differentiated function builds (``p.x = v``):
compiled, each ``self.f = e`` it runs a field the object takes; checked against finite
differences at two step sizes, the plain call's value, and forward mode. A setter doing
more than setting and reading fields stays refused."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from tests.soundness.verify import verify_both_modes

rng = np.random.default_rng(5)
X, Y = rng.normal(size=3), rng.normal(size=3)


class Scaled:
    """A property stored doubled, and one whose setter branches and reads another field."""

    def __init__(self, x, y):
        self._x = x
        self.y = y
        self.items = []

    @property
    def x(self):
        return self._x

    @x.setter
    def x(self, v):
        self._x = v * 2.0

    @property
    def z(self):
        return self._x * self.y

    @z.setter
    def z(self, v):
        if np.sum(v) > 0:
            self.y = np.sin(v) + self._x
        else:
            self.y = v * self.y

    @property
    def w(self):
        return self.y

    @w.setter
    def w(self, v):
        self.items.append(v)

    @property
    def u(self):
        return self.y

    @u.setter
    def u(self, v):
        self.x = v


def set_doubled(x, y):
    p = Scaled(x, y)
    p.x = x * y
    return np.sum(p.x * x) + np.sum(p.y)


def set_with_a_branch(x, y):
    p = Scaled(x, y)
    p.z = x * 3.0
    p.x = p.y + 1.0
    return np.sum(p.z * p.y)


def set_with_the_other_branch(x, y):
    p = Scaled(x, y)
    p.z = -np.abs(x) - 1.0
    return np.sum(p.z)


@pytest.mark.parametrize("fn", [set_doubled, set_with_a_branch, set_with_the_other_branch])
def test_setter_compiled(fn):
    verify_both_modes(fn, (X, Y), rng)


def set_by_append(x, y):
    p = Scaled(x, y)
    p.w = x * 2.0
    return np.sum(p.items[0])


def set_through_a_property(x, y):
    p = Scaled(x, y)
    p.u = x * 2.0
    return np.sum(p.x)


@pytest.mark.parametrize(
    ("fn", "match"),
    [(set_by_append, "changes self.items in place"),
     (set_through_a_property, "sets the property self.x")],
)  # fmt: skip
def test_setter_doing_more_stays_refused(fn, match):
    with pytest.raises(sd.CompileError, match=match):
        sd.grad(fn)(X, Y)
