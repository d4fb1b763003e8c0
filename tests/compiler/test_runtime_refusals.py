"""What srcdiff finds it cannot differentiate only while the code runs is refused with its
own error, ``sd.CompileError`` at the user's line: never a TypeError or ValueError, which
an ``except`` clause of the user's code could catch, carrying on with a wrong value."""

import operator

import numpy as np
import pytest

import srcdiff as sd

X = np.array([1.0, 2.0])


def total(*parts):
    return sum(np.sum(p) for p in parts)


def through_star_args(x):
    try:
        y = total(x * 2.0, x)
    except TypeError:  # never taken: the gradient reaches the entries of *parts
        y = 0.0
    return y


def into_a_tuple_entry(x):
    t = (x * 1.0, x * 2.0)
    try:
        t[0][0] = 5.0
    except TypeError:
        t = (x, x)
    return np.sum(t[0] * x)


def complement_of_a_full_svd(a):
    try:
        u, s, vh = np.linalg.svd(a)
        y = np.sum(u[:, 3])
    except ValueError:
        y = 0.0
    return y + np.sum(s)


def through_an_itemgetter(x):
    second = operator.itemgetter(1)  # a callable object with no rule and no __name__
    try:
        y = second(x) * 2.0
    except Exception:
        y = 0.0
    return y + np.sum(x)


def line_of(fn, text):
    import inspect

    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize(
    ("fn", "arg", "where", "match"),
    [
        (into_a_tuple_entry, X, "t[0][0] = 5.0", "entry of a tuple"),
        (complement_of_a_full_svd, np.random.default_rng(0).normal(size=(4, 3)),
         "np.linalg.svd(a)", "full_matrices=False"),
        (through_an_itemgetter, X, "second(x)", "no derivative rule for operator.itemgetter"),
    ],
    ids=["tuple-entry", "full-svd", "itemgetter"],
)  # fmt: skip
def test_a_users_except_clause_does_not_swallow_a_refusal(fn, arg, where, match):
    with pytest.raises(sd.CompileError, match=match) as info:
        sd.grad(fn)(arg)
    assert info.value.lineno == line_of(fn, where) and info.value.filename == __file__
    assert info.value.hint


def test_the_refusals_are_not_type_or_value_errors():
    assert not issubclass(sd.CompileError, (TypeError, ValueError))


def test_a_differentiated_value_reaches_a_callee_through_its_star_args():
    np.testing.assert_allclose(sd.grad(through_star_args)(X), np.full(2, 3.0))
