"""A method of a user's object named like a dict's, a list's or an array's (``w.get(x)``,
``w.pop(x)``, ``w.sum(x)``) is the object's own: differentiated as its class's where the
call gives the object, refused where the code cannot tell it from a container's, never
given the container method's rule (a dict's ``get`` gives its key no gradient: a zero)."""

import numpy as np
import pytest

from tests.soundness.verify import verify

X = np.array([0.3, 0.7])


def _own(self, x):
    return np.sum(np.sin(x)) * self.scale


class Own:
    """Methods named like a dict's and an array's, each ``sum(sin(x)) * scale``."""

    def __init__(self, scale=1.5):
        self.scale = scale

    get = keys = items = values = setdefault = _own
    sum = mean = reshape = dot = copy = pop = _own


class Slotted:
    """The same, without a ``__dict__`` (not an object whose fields compiled code reads)."""

    __slots__ = ()

    def get(self, x):
        return np.sum(np.sin(x))

    def keys(self, x):
        return np.sum(np.sin(x))


def get_of(x, w):
    return w.get(x) * 2.0


def keys_of(x, w):
    return w.keys(x)


def items_of(x, w):
    return w.items(x)


def values_of(x, w):
    return w.values(x)


def setdefault_of(x, w):
    return w.setdefault(x)


def sum_of(x, w):
    return w.sum(x)


def mean_of(x, w):
    return w.mean(x)


def reshape_of(x, w):
    return w.reshape(x)


def dot_of(x, w):
    return w.dot(x)


def copy_of(x, w):
    return w.copy(x)


def pop_of(x, w):
    return w.pop(x)


def get_of_entry(x, ws):
    return ws[0].get(x)


def keys_of_entry(x, ws):
    return ws[0].keys(x)


def sum_of_entry(x, ws):
    return ws[0].sum(x)


def dict_get(x, d):
    return np.sum(d.get("a", x)) + np.sum(d.get("b") * x)


GIVEN = {f.__name__: f for f in (get_of, keys_of, items_of, values_of, setdefault_of)}
GIVEN_ARRAYS = {f.__name__: f for f in (sum_of, mean_of, reshape_of, dot_of, copy_of)}


@pytest.mark.parametrize("fn", GIVEN.values(), ids=GIVEN.keys())
def test_a_dict_methods_name_on_a_given_object_is_its_own(fn):
    assert verify(fn, (X, Own())) == "ok"


@pytest.mark.parametrize("fn", GIVEN_ARRAYS.values(), ids=GIVEN_ARRAYS.keys())
def test_an_array_methods_name_on_a_given_object_is_its_own(fn):
    assert verify(fn, (X, Own())) == "ok"


@pytest.mark.parametrize("fn", [get_of_entry, keys_of_entry, sum_of_entry])
def test_such_a_method_of_an_entry_is_refused_or_right(fn):
    refusals = []
    assert verify(fn, (X, [Own()]), refusals=refusals) in ("ok", "refused")
    assert not refusals or "Own" in str(refusals[0])


@pytest.mark.parametrize("fn", [get_of, keys_of])
def test_such_a_method_of_an_object_without_fields_is_refused_or_right(fn):
    assert verify(fn, (X, Slotted())) in ("ok", "refused")


def test_a_pop_given_a_value_carrying_a_gradient_is_refused_or_right():
    assert verify(pop_of, (X, Own())) in ("ok", "refused")


def test_a_dicts_get_keeps_its_rule():
    assert verify(dict_get, (X, {"b": 3.0})) == "ok"
