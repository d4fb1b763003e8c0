"""``c[k] += v`` where ``c`` is a list or dict the function did not build (passed in,
returned by a call, ``dict.fromkeys``, taken out of another container), seen by every
name holding the entry's array (another entry, a name taken before): the gradient is the one finite
differences give, and the caller's containers end as a plain call leaves them. Also an
update seen through another argument that holds the same object (``f(x, [a], a)``)."""

import collections
import copy

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad

X = np.array([0.5, -1.0, 2.0])


def make(x):
    return [x * 1.0, x * 2.0]


def list_param(x, c):
    c[0] += x * 3.0
    return np.sum(c[0] * c[1])


def list_param_twice(x, c):
    c[0] += x
    c[0] *= x
    return np.sum(c[0])


def dict_param(x, d):
    d["a"] += x
    return np.sum(d["a"] * x)


def dict_param_twice(x, d):
    d["a"] += x
    d["a"] *= x
    return np.sum(d["a"])


def from_a_call(x):
    c = make(x)
    c[1] += x * x
    c[1] *= c[0]
    return np.sum(c[1])


def init():
    return {"w": np.ones(3), "b": np.zeros(3)}


def one_array_twice_in_a_list():
    z = np.zeros(3)
    return [z, z]


def entry_of_a_call_taken_before(x):
    p = init()
    w = p["w"]  # the dict's own array: the update below changes it
    p["w"] += x
    return np.sum(w * x) + np.sum(p["b"])


def shared_entries_of_a_call(x):
    c = one_array_twice_in_a_list()
    c[0] += x  # c[1] is the same array
    return np.sum(c[1] * x)


def shared_entries_of_fromkeys(x):
    d = dict.fromkeys(["a", "b"], np.zeros(3))
    d["a"] += x
    return np.sum(d["b"] * x)


def shared_entries_of_an_ordered_dict(x):
    z = np.ones(3)
    d = collections.OrderedDict([("a", z), ("b", z)])
    d["b"] *= x
    return np.sum(d["a"] * x)


def inside_another_container(x, outer):
    c = outer[0]
    c[0] += x
    c[0] *= x
    return np.sum(c[0]) + np.sum(outer[0][0] * 2.0)


def in_a_loop(x, c):
    for i in range(3):
        c[i % 2] += x * i
        c[i % 2] *= 0.5
    return np.sum(c[0] * c[1])


def arrays():
    return [np.ones(3), np.arange(3.0)]


CASES = [
    (list_param, lambda: (arrays(),)),
    (list_param, lambda: ([1.0, 2.0],)),
    (list_param_twice, lambda: ([np.ones(3)],)),
    (list_param_twice, lambda: ([1.0],)),
    (dict_param, lambda: ({"a": np.ones(3)},)),
    (dict_param_twice, lambda: ({"a": np.ones(3)},)),
    (dict_param_twice, lambda: ({"a": 1.5},)),
    (from_a_call, lambda: ()),
    (entry_of_a_call_taken_before, lambda: ()),
    (shared_entries_of_a_call, lambda: ()),
    (shared_entries_of_fromkeys, lambda: ()),
    (shared_entries_of_an_ordered_dict, lambda: ()),
    (inside_another_container, lambda: ([[np.ones(3)]],)),
    (inside_another_container, lambda: ({0: {0: np.ones(3)}},)),
    (in_a_loop, lambda: (arrays(),)),
]


@pytest.mark.parametrize(("fn", "made"), CASES)
def test_gradient_and_the_callers_containers(fn, made):
    given, plain = made(), made()
    got = sd.grad(fn)(X, *given)
    fn(X, *plain)
    np.testing.assert_allclose(got, numeric_grad(lambda y: fn(y, *made()), (X,)), atol=1e-7)
    assert repr(given) == repr(plain)  # the caller's containers, as a plain call leaves them


def element_and_argument(x, c, a):
    c[0] += x  # a is c[0]: Python updates a too
    return np.sum(a * x)


def one_array_twice(x, a, b):
    a += x  # a is b
    return np.sum(b * x)


def test_an_update_seen_through_another_argument():
    def with_shared():
        a = np.ones(3)
        return [a], a

    got = sd.grad(element_and_argument)(X, *with_shared())
    want = numeric_grad(lambda y: element_and_argument(y, *with_shared()), (X,))
    np.testing.assert_allclose(got, want, atol=1e-7)
    given = with_shared()
    sd.grad(element_and_argument)(X, *given)
    plain = with_shared()
    element_and_argument(X, *plain)
    assert repr(given[0]) == repr(plain[0])


def test_one_array_passed_twice():
    def same():
        a = np.ones(3)
        return a, a

    got = sd.grad(one_array_twice)(X, *same())
    np.testing.assert_allclose(got, numeric_grad(lambda y: one_array_twice(y, *same()), (X,)),
                               atol=1e-7)  # fmt: skip
    apart = (np.ones(3), np.ones(3))
    np.testing.assert_allclose(sd.grad(one_array_twice)(X, *copy.deepcopy(apart)),
                               numeric_grad(lambda y: one_array_twice(y, *copy.deepcopy(apart)),
                                            (X,)), atol=1e-7)  # fmt: skip
