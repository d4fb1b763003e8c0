"""Two generator functions zipped: refused at the generator's line, saying what works
(one of them listed in a name first), which gives Python's values and gradients."""

import numpy as np
import pytest

import srcdiff as sd

from .verify import verify_both_modes


def doubled(x):
    for i in range(3):
        yield x[i] * 2


def squared(x):
    for i in range(len(x)):
        yield x[i] ** 2


def zipped(x):
    s = 0.0
    for a, b in zip(doubled(x), squared(x), strict=False):
        s = s + a * b
    return s


def one_listed_first(x):
    s = 0.0
    ys = list(squared(x))
    for a, b in zip(doubled(x), ys, strict=False):
        s = s + a * b
    return s


def test_two_generators_zipped_are_refused_with_the_rewrite():
    x = np.array([0.5, -1.5, 2.0, 3.0])
    with pytest.raises(sd.CompileError, match=r"zip of two generators: list one") as info:
        sd.grad(zipped)(x)
    assert "test_zipped_generators.py" in str(info.value)
    assert one_listed_first(x) == zipped(x)
    verify_both_modes(one_listed_first, (x,), np.random.default_rng(0))
