"""Two generator functions zipped: each makes as many values as Python's zip asks of it
(counted on fresh generators where zip is called), which gives Python's values and
gradients in both modes."""

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


def powers(x):
    p = x[0]
    while True:
        yield p
        p = p * x[1]


def zipped(x):
    s = 0.0
    for a, b in zip(doubled(x), squared(x), strict=False):
        s = s + a * b
    return s


def zipped_the_other_way(x):
    return sum(a * b for a, b in zip(squared(x), doubled(x), strict=False))


def zipped_with_an_endless_one(x):
    return sum([a * b for a, b in zip(powers(x), squared(x), strict=False)])


def three_zipped(x):
    s = 0.0
    for a, b, c in zip(doubled(x), x[1:], squared(x), strict=False):
        s = s + a * b - c
    return s


def one_listed_first(x):
    s = 0.0
    ys = list(squared(x))
    for a, b in zip(doubled(x), ys, strict=False):
        s = s + a * b
    return s


@pytest.mark.parametrize(
    "fn",
    [zipped, zipped_the_other_way, zipped_with_an_endless_one, three_zipped, one_listed_first],
)
def test_two_generators_zipped_are_compiled_with_pythons_values(fn):
    """``zip(gen(x), gen2(x))`` was refused (list one of the two first)."""
    x = np.array([0.5, -1.5, 2.0, 3.0])
    verify_both_modes(fn, (x,), np.random.default_rng(0))


def strictly_zipped(x):
    return sum(a * b for a, b in zip(doubled(x), squared(x), strict=True))


def test_a_strict_zip_of_generators_of_two_lengths_is_pythons_error():
    x = np.array([0.5, -1.5, 2.0, 3.0])
    with pytest.raises(ValueError, match="zip\\(\\) argument 2 is longer than argument 1"):
        strictly_zipped(x)
    with pytest.raises(ValueError, match="zip\\(\\) argument 2 is longer than argument 1"):
        sd.grad(strictly_zipped)(x)
