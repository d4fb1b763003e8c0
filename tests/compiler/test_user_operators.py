"""Python's operators on objects of a user's class built inside the differentiated
function or passed in to it (``v * 2.0 + v``, ``2.0 * v``, ``-v``, ``v @ m``, ``v[i]``):
each runs the class's own method, compiled, with Python's order (the reflected method on
NotImplemented, a subclass's reflected method first); checked against finite
differences at two step sizes, the plain call's value, and forward mode."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from tests.soundness.verify import verify, verify_both_modes

rng = np.random.default_rng(3)
X, Y, M = rng.normal(size=3), rng.normal(size=3), rng.normal(size=(3, 3))


class Vec:
    """A pair of arrays with elementwise arithmetic, by another Vec or a number."""

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __add__(self, o):
        if isinstance(o, Vec):
            return Vec(self.a + o.a, self.b + o.b)
        if isinstance(o, float):
            return Vec(self.a + o, self.b + o)
        return NotImplemented

    def __radd__(self, o):
        return self.__add__(o)

    def __sub__(self, o):
        return self + (-o)

    def __rsub__(self, o):
        return (-self).__add__(o)

    def __mul__(self, o):
        if isinstance(o, Vec):
            return Vec(self.a * o.a, self.b * o.b)
        return Vec(self.a * o, self.b * o)

    def __rmul__(self, o):
        return self.__mul__(o)

    def __truediv__(self, o):
        return Vec(self.a / o, self.b / o)

    def __neg__(self):
        return Vec(-self.a, -self.b)

    def __matmul__(self, m):
        return Vec(self.a @ m, self.b @ m)

    def __getitem__(self, i):
        return self.a[i] * self.b[i]


class Scaled(Vec):
    """A subclass whose reflected product Python runs before Vec's ``__mul__``."""

    def __rmul__(self, o):
        return Vec(self.a * o.a * 3.0, self.b * o.b)


class Other:
    """An ``__add__`` that gives NotImplemented for a Vec, as Vec's gives for an Other:
    the reflected method runs then (``Vec + Other``: Other's ``__radd__``; ``Other +
    Vec``: Vec's, which gives NotImplemented too, a TypeError)."""

    def __init__(self, c):
        self.c = c

    def __add__(self, o):
        if isinstance(o, Vec):
            return NotImplemented
        return Other(self.c + o)

    def __radd__(self, o):
        return Other(self.c * 2.0 + o.a)


def scaled_and_added(x, y):
    v = Vec(x, y)
    w = v * 2.0 + v
    return (w.a * w.b).sum()


def reflected(x, y):
    v = Vec(x, y)
    w = 2.0 * v - 1.0 + (-v) / 3.0
    u = 1.0 - w
    return (u.a * w.b).sum() + w[1]


def through_a_matrix(x, y):
    v = Vec(x, y) @ M
    return np.sum(np.sin(v.a) * v.b) + v[0]


def subclass_first(x, y):
    v = Vec(x, y)
    s = Scaled(y, x)
    w = v * s
    return np.sum(w.a + w.b * w.a)


def not_implemented_then_reflected(x, y):
    o = Other(x)
    v = Vec(x, y)
    w = o + v
    return np.sum(w.a * w.b)


def not_implemented_then_reflected_other(x, y):
    o = Other(x)
    v = Vec(y, x)
    w = v + o
    return np.sum(w.c * y)


@pytest.mark.parametrize(
    "fn",
    [scaled_and_added, reflected, through_a_matrix, subclass_first,
     not_implemented_then_reflected_other],
)  # fmt: skip
def test_operators_run_the_class_methods(fn):
    verify_both_modes(fn, (X, Y), rng)


def test_no_method_left_raises_type_error_as_python():
    with pytest.raises(TypeError, match="unsupported operand"):
        not_implemented_then_reflected(X, Y)
    with pytest.raises(TypeError, match="unsupported operand"):
        sd.grad(not_implemented_then_reflected)(X, Y)


def array_on_the_left(x, y):
    v = Vec(x, y)
    w = x * v
    return np.sum(w.a)


def test_array_on_the_left_stays_refused():
    # (NumPy would make an array of objects, running Vec.__rmul__ on each entry)
    with pytest.raises(sd.CompileError, match="is not Python code srcdiff can compile"):
        sd.grad(array_on_the_left)(X, Y)


class Half:
    """An ``__add__`` for numbers alone: on an array, NumPy's ``__radd__`` would run."""

    def __init__(self, a):
        self.a = a

    def __add__(self, o):
        if isinstance(o, float):
            return Half(self.a + o)
        return NotImplemented


def half_plus_an_array(x, y):
    h = Half(x)
    w = h + y
    return np.sum(w.a)


def test_an_array_operator_after_not_implemented_stays_refused():
    with pytest.raises(sd.CompileError, match="own operator runs on NotImplemented"):
        sd.grad(half_plus_an_array)(X, Y)


class Acc:
    """An ``__iadd__`` making a new object (``+=`` runs it, ``+`` runs ``__add__``)."""

    def __init__(self, t):
        self.t = t

    def __iadd__(self, o):
        return Acc(self.t + 2.0 * o)

    def __add__(self, o):
        return Acc(self.t + o)


class Growing:
    """An ``__iadd__`` changing ``self`` in place."""

    def __init__(self, t):
        self.t = t

    def __iadd__(self, o):
        self.t = self.t + o
        return self


def augmented(x, y):
    v = Vec(x, y)
    v += 1.0
    v *= v
    return np.sum(v.a * v.b)


def augmented_with_another_name(x, y):
    v = Vec(x, y)
    held = v
    v += Vec(y, x)  # (no __iadd__: v is a new object, held the old one)
    return np.sum(held.a * v.b)


def augmented_in_a_loop(x, y):
    v = Vec(x, y)
    for _ in range(3):
        v += v * 0.5
    return np.sum(v.a * v.b)


def own_iadd(x, y):
    a = Acc(x)
    a += y
    b = a + y
    return np.sum(a.t * b.t)


@pytest.mark.parametrize(
    "fn", [augmented, augmented_with_another_name, augmented_in_a_loop, own_iadd]
)
def test_augmented_assignment_runs_iadd_then_add(fn):
    test_operators_run_the_class_methods(fn)


def iadd_in_place(x, y):
    g = Growing(x)
    g += y
    return np.sum(g.t**2)


def test_an_iadd_changing_self_stays_refused():
    with pytest.raises(sd.CompileError, match="assignment of a differentiated value"):
        sd.grad(iadd_in_place)(X, Y)


# ---- objects passed in as arguments ---------------------------------------------------------


def given_a_vec(x, v):
    w = v * x + v
    return np.sum(w.a * w.b) + (v @ M)[1] + v[0] * x[2]


def given_and_updated(x, a):
    a += x
    return np.sum(a.t * x)


def called_with_a_vec(x, v):
    return np.sum(scaled_by(v, x).a)


def scaled_by(v, x):
    return -v * x


@pytest.mark.parametrize("fn", [given_a_vec, called_with_a_vec])
def test_operators_of_an_object_passed_in_run_its_class_methods(fn):
    v = Vec(Y, np.cos(Y))
    assert verify(fn, (X, v), wrt=(0, 1)) == "ok"
    direction = rng.normal(size=3)
    grad = sd.grad(fn)(X, v)
    value, tangent = sd.jvp(fn, (X, v), (direction, None))
    assert value == pytest.approx(fn(X, v))
    assert tangent == pytest.approx(np.sum(grad * direction), rel=1e-9)


def test_an_augmented_assignment_to_an_object_passed_in_runs_its_iadd():
    a = Acc(Y.copy())
    assert verify(given_and_updated, (X, a), wrt=(0, 1)) == "ok"
    np.testing.assert_array_equal(a.t, Y)  # (__iadd__ made a new object)
    with pytest.raises(sd.CompileError, match="assignment of a differentiated value"):
        sd.grad(iadd_of_an_argument)(X, Growing(Y.copy()))


def iadd_of_an_argument(x, g):
    g += x
    return np.sum(g.t**2)


def updated_twice(x, v):
    v *= x
    v *= x
    return np.sum(v.a * v.b)


def updated_then_read_twice(x, a):
    a += x
    b = a + x
    return np.sum(a.t) + np.sum(b.t * x)


@pytest.mark.parametrize(
    ("fn", "given"), [(updated_twice, Vec(Y, np.cos(Y))), (updated_then_read_twice, Acc(Y))]
)
def test_an_object_passed_in_and_updated_gives_the_other_arguments_gradients(fn, given):
    """Its adjoint, gathered from two statements, is its fields' (added as a container's),
    where only the array beside it is differentiated: they were added with ``+``."""
    assert verify(fn, (X, given), wrt=(0,)) == "ok"
    direction = rng.normal(size=3)
    value, tangent = sd.jvp(fn, (X, given), (direction, None))
    assert value == pytest.approx(fn(X, given))
    assert tangent == pytest.approx(np.sum(sd.grad(fn)(X, given) * direction), rel=1e-9)
