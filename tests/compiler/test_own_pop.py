"""A user's object whose ``pop`` takes no key, called in a differentiated function (in
a module of its own: a class of the module with a method named ``pop`` makes
``o.items.pop()`` the object's method there, see ``inplace._named_by_a_class``)."""

import numpy as np
import pytest

import srcdiff as sd


class _Counter:
    """An object whose ``pop`` takes no argument (and counts its calls)."""

    def __init__(self):
        self.n = 0

    def pop(self):
        self.n += 1
        return 3.0


_COUNTER = _Counter()


def pops_of_objects_with_their_own_pop(x, counter):
    c = counter.pop()
    d = _COUNTER.pop()
    xs = [x, x * 2.0]
    last = xs.pop()
    return np.sum(c * d * x * last)


def test_pop_of_an_object_with_a_pop_of_its_own_calls_it_as_written():
    """``o.pop()`` was compiled as ``o.pop(-1)``: a TypeError for a pop taking no key."""
    x = np.array([1.0, 2.0])
    counter = _Counter()
    value, grad = sd.value_and_grad(pops_of_objects_with_their_own_pop)(x, counter)
    assert value == pytest.approx(pops_of_objects_with_their_own_pop(x, _Counter()))
    np.testing.assert_allclose(grad, 36.0 * x)  # 9 * 2 x**2 summed
    assert counter.n == 1
