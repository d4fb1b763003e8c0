"""``*`` repeating a list or tuple the compiler took for an array (a callee's result, a
container's entry, a named tuple): refused at the line, never a crash or a wrong
gradient."""

from typing import NamedTuple

import numpy as np
import pytest

import srcdiff as sd

from .verify import verify

X = np.array([0.5, -1.2, 0.7, 1.5])


class Pair(NamedTuple):
    a: np.ndarray
    b: float = 2.0


def pair(x):
    return [x[0], x[1]]


def repeated_named_tuple(x):
    n = Pair(x)
    m = n * 2
    return np.sum(m[2] * m[0]) + m[3]


def repeated_callee_list(x):
    return np.sum(np.square(pair(x) * 2))


def repeated_entry_of_a_dict(x):
    d = {"a": (x[0], x[1])}
    ys = 2 * d["a"]
    return ys[2] * ys[1] + ys[0]


@pytest.mark.parametrize(
    "fn", [repeated_named_tuple, repeated_callee_list, repeated_entry_of_a_dict]
)
def test_a_repeated_sequence_taken_for_an_array_is_refused(fn):
    with pytest.raises(sd.CompileError, match="joins or repeats"):
        sd.grad(fn)(X)


def test_a_sequence_made_a_list_first_is_repeated():
    def f(x):
        return np.sum(np.square(list(pair(x)) * 2))

    assert verify(f, (X,)) == "ok"


def test_np_multiply_of_a_callee_list_by_an_int_is_arithmetic():
    """``np.multiply(xs, 3)`` makes an array of the list's entries: no repetition."""

    def f(x):
        return np.dot(np.multiply(pair(x), 3), np.array([1.0, 5.0]))

    assert verify(f, (X,)) == "ok"
