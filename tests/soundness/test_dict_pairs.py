"""Dicts made from pairs (``dict(pairs)``, ``d.update(pairs)``, ``dict.fromkeys``,
``d.setdefault``): a key computed from differentiated values is refused where it enters,
in every mode, as ``d[x[0] * 2] = v`` is; values under keys that are names or integers
get their gradients in reverse and forward mode."""

import collections
import inspect

import numpy as np
import pytest

import srcdiff as sd

from .verify import verify_both_modes

X = np.array([1.5, -2.0, 3.0])


def updated_by_pairs(x):
    d = {}
    d.update([(x[0] * 2, 1.0)])
    return max(d)


def updated_by_pairs_in_a_name(x):
    pairs = [(x[0] * 2, 1.0)]
    d = {}
    d.update(pairs)
    return sum(d)


def made_from_pairs(x):
    d = dict([(x[0] * 2, 1.0)])
    return sum(d.keys())


def items_of_pairs(x):
    d = {}
    d.update([(x[0] * 2, 1.0)])
    t = 0.0
    for k, v in d.items():
        t = t + k * v
    return t


def keys_from_fromkeys(x):
    d = dict.fromkeys([x[0] * 2, 1.0])
    return sum(d)


def keys_from_setdefault(x):
    d = {}
    for v in x:
        d.setdefault(v * 2, 1.0)
    return sum(d)


REFUSED = [
    (updated_by_pairs, "d.update([(x[0]"),
    (updated_by_pairs_in_a_name, "d.update(pairs)"),
    (made_from_pairs, "d = dict([("),
    (items_of_pairs, "d.update([(x[0]"),
    (keys_from_fromkeys, "dict.fromkeys("),
    (keys_from_setdefault, "d.setdefault("),
]


def line_of(fn, marker):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, s in enumerate(lines) if marker in s)


@pytest.mark.parametrize("fn, marker", REFUSED, ids=[f.__name__ for f, _ in REFUSED])
def test_a_key_computed_from_differentiated_values_is_refused_in_every_mode(fn, marker):
    """Forward mode took the pairs' tangents for the keys of the tangent dict: ``max(d)``
    and ``d.items()`` gave a zero tangent, string keys a KeyError; reverse mode refused
    ``d.update`` with a message naming no dict, and ``dict(pairs)`` whatever its keys."""
    for run in (
        lambda: sd.grad(fn)(X.copy()),
        lambda: sd.jvp(fn, (X.copy(),), (np.ones(3),)),
        lambda: sd.hessian(fn)(X.copy()),
    ):
        with pytest.raises(sd.CompileError, match="a dict key of float") as info:
            run()
        assert f"{__file__}:{line_of(fn, marker)}" in str(info.value)


def named_pairs(x):
    d = {"a": x[0]}
    d.update([("b", x[1] * 2)])
    return d["a"] * d["b"]


def later_pair_wins(x):
    pairs = [("a", x[0]), ("a", x[1] * 5), ("b", x[2])]
    d = dict(pairs)
    return d["a"] * d["b"]


def updated_by_a_tuple_of_pairs(x):
    d = {"a": x[0]}
    d.update((("a", x[1] * 5), ["b", x[2]]))
    t = 0.0
    for _k, v in d.items():
        t = t + v * v
    return t


def from_keys_and_pairs(x):
    v = x[1] ** 2
    d = dict.fromkeys(("a", "b"), v)
    d.update([("a", x[0] * 3), ("c", x[2])])
    return d["a"] * d["b"] + d["c"]


def integer_keys(x):
    d = dict([(i, x[i] ** 2) for i in range(3)])
    d.update([(1, x[0] * x[2])])
    return sum(d[k] * k for k in d)


@pytest.mark.parametrize(
    "fn", [named_pairs, later_pair_wins, updated_by_a_tuple_of_pairs, from_keys_and_pairs,
           integer_keys])  # fmt: skip
def test_values_of_pairs_get_their_gradients_in_both_modes(fn):
    """``d.update(pairs)`` and ``dict(pairs)`` were refused in reverse mode; forward mode
    crashed with a KeyError on string keys (the tangent dict was keyed by tangents)."""
    verify_both_modes(fn, (X.copy(),), np.random.default_rng(0))
    hv = sd.hvp(fn, (X.copy(),), (np.ones(3),))
    h = 1e-4
    fd = (sd.grad(fn)(X + h) - sd.grad(fn)(X - h)) / (2 * h)  # (the gradients are checked)
    assert np.allclose(hv, fd, rtol=1e-6, atol=1e-6)


def deque_of_values(x):
    q = collections.deque()
    q.append(x[0] * 2)
    q.append(x[1])
    return q[0] * q[1]


def set_updated(x):
    s = set()
    s.update([x[0] * 2])
    return x[1] * len(s)


def test_an_update_of_a_deque_carrying_a_gradient_is_refused_in_forward_mode():
    """Forward mode crashed with AttributeError ('float' object has no attribute
    'append'): the tangent of a deque is no container it can update."""
    with pytest.raises(sd.CompileError, match="no list or dict") as info:
        sd.jvp(deque_of_values, (X.copy(),), (np.ones(3),))
    assert __file__ in str(info.value)


def test_a_set_read_for_its_size_alone_is_compiled_in_both_modes():
    """Its entries' derivatives are read nowhere: the size carries none."""
    t = np.array([0.3, -0.7, 1.1])
    assert sd.jvp(set_updated, (X.copy(),), (t,))[1] == pytest.approx(t[1])
    np.testing.assert_array_equal(sd.grad(set_updated)(X.copy()), [0.0, 1.0, 0.0])


def keys_summed(x):
    d = {1: x[0] ** 2, 2: x[1]}
    return x[0] * sum(d)


def keys_listed(x):
    d = {1: x[0] ** 2, 2: x[1]}
    return x[0] * list(d)[1] + x[0] * tuple(d)[0]


def keys_sorted(x):
    d = {1: x[0] ** 2, 2: x[1]}
    return x[0] * sorted(d)[0]


def keys_looped(x):
    d = {1: x[0] ** 2, 2: x[1]}
    t = 0.0
    for k in d:
        t = t + d[k] * k
    return t


def keys_reversed(x):
    d = {1: x[0] ** 2, 2: x[1]}
    return sum(d[k] * k for k in reversed(d))


def keys_unpacked(x):
    d = {1: x[0] ** 2, 2: x[1]}
    a, b = d
    return d[a] * b


@pytest.mark.parametrize(
    "fn", [keys_summed, keys_listed, keys_sorted, keys_looped, keys_reversed, keys_unpacked]
)
def test_the_keys_of_an_iterated_dict_have_zero_tangents(fn):
    """Forward mode iterated the tangent dict, whose keys are the dict's own: each number
    key came out as its own tangent (``x[0] * sum(d)`` with keys 1, 2: a tangent of 4.5
    along a zero direction)."""
    assert sd.jvp(fn, (X.copy(),), (np.zeros(3),))[1] == 0.0
    verify_both_modes(fn, (X.copy(),), np.random.default_rng(0))
