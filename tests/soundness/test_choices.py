"""``max``/``min`` choosing a list, a tuple or an object: its adjoints add as
containers do (not as arrays), and its tangent is the chosen candidate's."""

from dataclasses import dataclass

import numpy as np
import pytest

import srcdiff as sd

from .verify import verify

X = np.array([0.5, -1.2, 0.7, 1.5])


@dataclass(order=True)
class Point:
    a: float
    b: float


def larger_point(x):
    s = max(Point(x[0], x[1]), Point(x[2], x[3]))
    return s.a * s.b


def larger_list_read_twice(x):
    s = max([x[0], x[1]], [x[2], x[3]])
    return s[0] + np.sum(np.square(s))


def larger_tuple_read_twice(x):
    s = max((x[0], x[1]), (x[2], x[3]))
    return np.sum(np.square(s)) + s[1] * 3


def smaller_by_key_summed_twice(x):
    s = min([x[0], x[1]], [x[2], x[3]], key=lambda v: v[1])
    return sum(s) * s[0] + sum(s)


def larger_number_read_twice(x):
    m = max(x[0], x[2])
    return m * m + m


@pytest.mark.parametrize(
    "fn",
    [
        larger_point,
        larger_list_read_twice,
        larger_tuple_read_twice,
        smaller_by_key_summed_twice,
        larger_number_read_twice,
    ],
)
def test_the_chosen_candidate_gets_its_gradient(fn):
    assert verify(fn, (X,)) == "ok"


def larger_list_entries(x):
    s = max([x[0], x[1]], [x[2], x[3]])
    return s[0] * 3.0 + s[1] ** 2


def smaller_tuple_entries(x):
    s = min((x[2], x[3]), (x[0], x[1]), key=lambda v: -v[0])
    return s[0] * 3.0 + s[1] ** 2


@pytest.mark.parametrize(
    "fn", [larger_list_entries, smaller_tuple_entries, smaller_by_key_summed_twice]
)
def test_the_chosen_candidate_in_forward_mode(fn):
    """The tangent of the candidate chosen, not those of all candidates joined (which
    gave the entries of the first candidate's zero tangent)."""
    d = np.random.default_rng(0).standard_normal(4)
    _, tangent = sd.jvp(fn, (X,), (d,))
    assert tangent == pytest.approx(float(np.dot(sd.grad(fn)(X), d)), rel=1e-12)
