"""Rules of the helpers giving the new value of an object Python updates in place:
``np.add.at``, ``np.put``, ``np.putmask``, ``np.place``, ``np.fill_diagonal``,
``np.copyto(..., where=)``, ``x.fill``, ``x.resize``, ``x.sort`` and the methods of lists
and dicts."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(13)

SPECS = [
    Spec(rt.add_at, (R((5,)), [0, 2, 0], R((3,))), wrt=(0, 2), label="repeated"),
    Spec(rt.add_at, (R((4, 3)), np.array([1, 1]), R((3,))), wrt=(0, 2), label="rows-broadcast"),
    Spec(rt.subtract_at, (R((5,)), [4, 4, 1], R(())), wrt=(0, 2), label="scalar"),
    Spec(rt.multiply_at, (R((5,)), [0, 2, 0, 0], R((4,))), wrt=(0, 2), label="repeated"),
    Spec(
        rt.multiply_at,
        (R((5,)), [0, 2, 0, 0, 2], np.array([0.0, 1.5, -0.7, 0.0, 0.0])),
        wrt=(0, 2),
        label="zeros-repeated",
    ),
    Spec(
        rt.multiply_at,
        (R((5,)), [1, 3, 1], np.array([0.0, 0.0, R.scalar()])),
        wrt=(0, 2),
        label="one-zero-of-repeats",
    ),
    Spec(rt.multiply_at, (R((4, 3)), np.array([1, 1]), R((3,))), wrt=(0, 2), label="rows"),
    Spec(rt.multiply_at, (R((2, 3)), (0, slice(None)), R(())), wrt=(0, 2), label="scalar-slice"),
    Spec(rt.put, (R((5,)), [1, 3], R((2,))), wrt=(0, 2)),
    Spec(rt.put, (R((2, 3)), [0, 5, 0], R((2,))), wrt=(0, 2), label="cycled-and-repeated"),
    Spec(rt.put, (R((5,)), [-1, 7], R((2,))), {"mode": "wrap"}, wrt=(0, 2), label="wrap"),
    Spec(rt.put_along_axis, (R((3, 4)), np.array([[0], [2], [2]]), R((3, 1)), 1), wrt=(0, 2)),
    Spec(
        rt.put_along_axis,
        (R((3, 4)), np.array([[0, 0, 1, 2], [2, 0, 2, 0]]), R((1, 4)), 0),
        wrt=(0, 2),
        label="repeated-and-spread",
    ),
    Spec(
        rt.put_along_axis, (R((2, 3)), np.array([4, 1, 4]), R(()), None), wrt=(0, 2), label="flat"
    ),  # fmt: skip
    Spec(
        rt.put_along_axis,
        (R((4, 5)), np.array([[0, 3]]), R((1, 1)), 1),
        wrt=(0, 2),
        label="indices-broadcast-against-the-array",
    ),
    Spec(rt.putmask, (R((2, 3)), np.array([[1, 0, 1], [0, 1, 1]], bool), R((2,))), wrt=(0, 2)),
    Spec(rt.place, (R((6,)), np.array([1, 0, 1, 1, 0, 1], bool), R((3,))), wrt=(0, 2)),
    Spec(rt.fill_diagonal, (R((3, 3)), R(())), wrt=(0, 1), label="0d"),
    Spec(rt.fill_diagonal, (R((3, 4)), R((2,))), wrt=(0, 1), label="cycled"),
    Spec(rt.where, (R((3,)) > 0, R((3,)), R((2, 3))), wrt=(1, 2)),
    Spec(rt.filled, (R((2, 3)), R(())), wrt=(0, 1)),
    Spec(rt.resized, (R((2, 3)), (4, 2)), wrt=(0,), label="larger"),
    Spec(rt.resized, (R((2, 3)), 4), wrt=(0,), label="smaller"),
    Spec(rt.sorted_in_place, (R((3, 4)),), wrt=(0,), label="array"),
    Spec(rt.sorted_in_place, (R((3, 4)), 0), wrt=(0,), label="array-axis-0"),
    Spec(rt.sorted_in_place, ([R(()), R(()), R(())],), wrt=(0,), label="list"),
    Spec(
        rt.sorted_in_place,
        ([R(()), R(()), R(())],),
        {"reverse": True},
        wrt=(0,),
        label="list-reverse",
    ),  # fmt: skip
    Spec(rt.extended, ([R((2,)), R(())], [R((3,))]), wrt=(0, 1)),
    Spec(rt.inserted, ([R((2,)), R(())], 1, R((3,))), wrt=(0, 2)),
    Spec(rt.inserted, ([R((2,))], -5, R((3,))), wrt=(0, 2), label="clamped"),
    Spec(rt.pop_value, ([R((2,)), R((3,))], -1), wrt=(0,)),
    Spec(rt.removed, ([R((2,)), R((3,)), R(())], 1), wrt=(0,)),
    Spec(rt.reversed_list, ([R((2,)), R((3,))],)),
    Spec(rt.pop_value, ({"a": R((2,)), "b": R(())}, "a"), wrt=(0,), label="dict"),
    Spec(rt.removed, ({"a": R((2,)), "b": R(())}, "b"), wrt=(0,), label="dict"),
    Spec(rt.updated, ({"a": R((2,)), "b": R(())}, {"b": R((3,)), "c": R(())}), wrt=(0, 1)),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


def test_the_caller_array_keeps_its_values():
    a = np.ones(3)
    for helper, args in ((rt.add_at, ([0], 1.0)), (rt.put, ([1], 5.0)),
                         (rt.filled, (2.0,)), (rt.resized, ((2, 2),))):  # fmt: skip
        helper(a, *args)
        np.testing.assert_array_equal(a, 1.0)


class Bag:
    """A user's class with methods named like a list's."""

    def __init__(self):
        self.items = []

    def extend(self, xs):
        self.items += list(xs)

    def append(self, x):
        self.items.append(x)


def test_another_object_runs_its_own_method_and_is_not_differentiated():
    bag = Bag()
    assert rt.extended(bag, [1.0]) is bag and bag.items == [1.0]
    with pytest.raises(sd.CompileError, match="follows for lists and dicts only"):
        rule_grads(rt.extended, [1.0], Bag(), [1.0])
    other = Bag()
    assert rt.appended(other, 2.0) is other and other.items == [2.0]


class Counter:
    def __init__(self):
        self.n = 0

    def update(self, k):
        self.n += k
        return self.n


def test_another_objects_method_returning_a_value_is_refused():
    """Its value would be taken for a dict.update's None."""
    with pytest.raises(sd.CompileError, match="which returned a value"):
        rt.updated(Counter(), 2)


def test_dict_updates_route_each_gradient_to_the_entry_that_holds_the_value():
    d, other = {"a": 1.0, "b": 2.0}, {"b": 3.0, "c": 4.0}
    g = {"a": 10.0, "b": 20.0, "c": 30.0}
    assert rule_grads(rt.updated, g, d, other) == ({"a": 10.0, "b": None}, {"b": 20.0, "c": 30.0})
    assert rule_grads(rt.pop_value, 5.0, d, "b")[0] == {"b": 5.0}
    assert rule_grads(rt.removed, {"a": 7.0}, d, "b")[0] == {"a": 7.0, "b": None}
