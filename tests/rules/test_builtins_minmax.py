"""Python's ``max``, ``min`` and ``sorted`` in user code, through the whole compiler:
gradients against central differences, in reverse and forward mode, inside loops and
branches; ties share as ``np.max`` shares."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad

X = np.array([0.3, -1.2, 2.1, 0.8, -0.4, 1.5])


def two_numbers(x):
    return max(x[0] * 3.0, x[1]) ** 2 + min(x[2], x[3], 1.0) * x[4]


def list_of_numbers(x):
    xs = [x[0], x[1] * 2.0, x[2] - 1.0]
    return max(xs) * x[3] + min(xs) ** 2


def entries_of_an_array(x):
    return max(x) * min(x[1:4] * 2.0)


def with_a_key(x):
    parts = [x[0:2], x[2:4], x[4:6]]
    return np.sum(max(parts, key=lambda t: t.sum()) ** 2) + np.sum(min(parts, key=np.sum))


def with_a_default(x):
    empty = []
    return max(empty, default=x[0] * 2.0) + min([x[1]], default=x[2])


def sorted_list(x):
    xs = [x[0], x[1] * 2.0, x[2], x[3] ** 2]
    s = sorted(xs)
    return s[0] + 2.0 * s[1] + 3.0 * s[3]


def sorted_by_key_reversed(x):
    parts = [x[0:2], x[2:4], x[4:6]]
    s = sorted(parts, key=lambda t: t[0] - t[1], reverse=True)
    return np.sum(s[0] * 2.0 + s[1] * s[2])


def sorted_array(x):
    s = sorted(x * x)
    return s[-1] + 2.0 * s[0]


def in_a_loop(x):
    best = x[0]
    total = 0.0
    for i in range(1, 6):
        best = max(best, x[i] * 0.5)
        total = total + min(best, x[i]) * i
    return total + best


def in_a_branch(x):
    if max(x) > 1.0:
        y = max(x[0], x[1], x[2])
    else:
        y = min([x[3], x[4]])
    return y * x[5]


FUNCTIONS = [two_numbers, list_of_numbers, entries_of_an_array, with_a_key, with_a_default,
             sorted_list, sorted_by_key_reversed, sorted_array, in_a_loop, in_a_branch]  # fmt: skip


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [X, -X[::-1].copy()], ids=["x", "flipped"])
def test_gradient_matches_finite_differences(fn, x):
    np.testing.assert_allclose(sd.grad(fn)(x), numeric_grad(fn, (x,)), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_forward_mode_matches_finite_differences(fn):
    v = np.linspace(-1.0, 1.0, X.size)
    _, tangent = sd.jvp(fn, (X,), (v,))
    expected = numeric_grad(fn, (X,)) @ v
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-8)


def test_second_derivatives():
    def f(x):
        return max(x[0], x[1] * 2.0) ** 2 + min([x[2], x[3]]) * x[0]

    x = np.array([1.0, 3.0, 2.0, 0.5])
    h = sd.hessian(f)(x)
    expected = np.stack([numeric_grad(lambda y, i=i: sd.grad(f)(y)[i], (x,)) for i in range(4)])
    np.testing.assert_allclose(h, expected, atol=1e-6)
    np.testing.assert_allclose(sd.grad(lambda y: np.sum(sd.grad(f)(y) * np.arange(4.0)))(x),
                               expected.T @ np.arange(4.0), atol=1e-6)  # fmt: skip


def test_ties_share_evenly_as_np_max_does():
    def builtin(x):
        return max([x[0], x[1], x[2]]) + min(x[0], x[1])

    def numpy(x):
        return np.max(x[:3]) + np.min(x[:2])

    x = np.array([2.0, 2.0, 1.0])
    np.testing.assert_allclose(sd.grad(builtin)(x), sd.grad(numpy)(x))
    np.testing.assert_allclose(sd.grad(builtin)(x), [1.0, 1.0, 0.0])


def test_a_key_tie_between_different_items_goes_to_the_one_returned():
    """Items whose keys tie but whose values differ: the result is the first of them, and
    its gradient goes there alone."""

    def f(x):
        return np.sum(max([x[0:2], x[2:4]], key=lambda t: t.sum()) * np.array([1.0, 3.0]))

    x = np.array([1.0, 2.0, 2.0, 1.0])
    np.testing.assert_allclose(sd.grad(f)(x), [1.0, 3.0, 0.0, 0.0])


def test_gradient_source_shows_the_choice():
    g = sd.grad(two_numbers)
    g(X)
    assert "rt.choice_grads" in sd.source(g)
