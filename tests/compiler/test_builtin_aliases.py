"""A builtin called through a local name (``f = sorted; f(xs)``): read as the builtin
itself where the name is bound to it once, at the top of the body, so that what srcdiff
does with ``sorted``, ``reversed`` or ``map`` by name applies; checked against finite
differences at two step sizes, the plain call's value, and forward mode. A name bound to
one builtin or another stays a call made when the code runs (refused for those without
a rule)."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from tests.soundness.verify import verify

X = np.array([1.5, -2.0, 3.0, 0.25])


def sorted_by_alias(x):
    f = sorted
    return sum(f(list(x))[:2])


def sorted_by_alias_with_key(x):
    f = sorted
    return sum(f(list(x), key=abs)[1:])


def reversed_by_alias(x):
    r = reversed
    ys = list(r(list(x)))
    return ys[0] * ys[1] + ys[3]


def mapped_by_alias(x):
    m = map
    return sum(m(np.sin, list(x)))


@pytest.mark.parametrize(
    "fn", [sorted_by_alias, sorted_by_alias_with_key, reversed_by_alias, mapped_by_alias]
)
def test_builtin_through_a_local_name(fn):
    assert verify(fn, (X,)) == "ok"
    grad = sd.grad(fn)(X)
    v = np.random.default_rng(2).normal(size=X.shape)
    value, tangent = sd.jvp(fn, (X,), (v,))
    assert value == pytest.approx(fn(X))
    assert tangent == pytest.approx(np.sum(grad * v), rel=1e-9)


def sorted_or_reversed(x):
    f = sorted if x[0] > 0 else reversed
    return sum(list(f(list(x)))[:2])


def test_a_name_bound_to_either_builtin_stays_refused():
    with pytest.raises(sd.CompileError, match="no derivative rule for 'sorted'"):
        sd.grad(sorted_or_reversed)(X)
