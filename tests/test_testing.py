"""The gradient checker itself: it must pass right rules and catch wrong ones."""

import numpy as np
import pytest

from srcdiff.testing import check_grads, check_vjp, numeric_grad

X = np.random.default_rng(0).uniform(-2.0, 2.0, (3, 4))


def tanh_vjp(g, ans, x):
    return g * (1.0 - ans * ans)


def tanh_vjp_missing_factor(g, ans, x):
    return g * (1.0 - ans)


def add_vjp(g, ans, x, y):
    return g, g  # only right when no argument was broadcast


def add_vjp_unbroadcast(g, ans, x, y):
    return g, np.sum(g, axis=0)


def mul_vjp_wrong_second(g, ans, x, y):
    return g * y, g * y


def test_numeric_grad_of_known_functions():
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(numeric_grad(lambda x: np.sum(x**3), [x]), 3 * x**2, rtol=1e-7)
    dx, dy = numeric_grad(lambda x, y: x * y, [3.0, 4.0], wrt=(0, 1))
    assert dx == pytest.approx(4.0) and dy == pytest.approx(3.0)
    assert isinstance(dx, float)


def test_numeric_grad_works_in_float64():
    x = np.array([0.3, 0.7], np.float32)
    d = numeric_grad(lambda x: np.sum(np.sin(x)), [x])
    assert d.dtype == np.float64
    np.testing.assert_allclose(d, np.cos(x.astype(np.float64)), rtol=1e-8)


def test_check_vjp_passes_the_right_rule():
    check_vjp(tanh_vjp, np.tanh, [X])
    check_vjp(add_vjp_unbroadcast, np.add, [X, X[0]])


def test_check_vjp_catches_a_missing_factor():
    with pytest.raises(AssertionError, match="argument 0") as err:
        check_vjp(tanh_vjp_missing_factor, np.tanh, [X])
    assert "finite differences give" in str(err.value)


def test_check_vjp_names_the_wrong_argument():
    with pytest.raises(AssertionError, match="wrong gradient for argument 1"):
        check_vjp(mul_vjp_wrong_second, np.multiply, [X, X + 1.0])
    check_vjp(mul_vjp_wrong_second, np.multiply, [X, X + 1.0], wrt=0)  # the first one is fine


def test_check_vjp_catches_a_wrong_shape():
    with pytest.raises(AssertionError, match=r"argument 1 has shape \(3, 4\), expected \(4,\)"):
        check_vjp(add_vjp, np.add, [X, X[0]])


def test_check_vjp_counts_none_as_zero():
    def forgets_y(g, ans, x, y):
        return g * y, None

    with pytest.raises(AssertionError, match="argument 1"):
        check_vjp(forgets_y, np.multiply, [X, X])


def test_check_vjp_refuses_a_tuple_of_the_wrong_length():
    def three(g, ans, x, y):
        return g, g, g

    with pytest.raises(AssertionError, match="3 values for 2 parameters"):
        check_vjp(three, np.add, [X, X])


def test_check_vjp_wants_a_tuple_for_several_parameters():
    def sum_vjp(g, ans, a, axis=None):
        return np.broadcast_to(g, a.shape)

    with pytest.raises(AssertionError, match="returned one value"):
        check_vjp(sum_vjp, np.sum, [X])

    def sum_vjp_tuple(g, ans, a, axis=None):
        return np.broadcast_to(g, a.shape), None

    check_vjp(sum_vjp_tuple, np.sum, [X])


def test_check_vjp_catches_a_rule_that_writes_into_its_input():
    def in_place(g, ans, x):
        x *= 0.0
        return g * (1.0 - ans * ans)

    with pytest.raises(AssertionError, match="wrote into"):
        check_vjp(in_place, np.tanh, [X.copy()])


def test_check_vjp_handles_lists_and_python_floats():
    def concat_vjp(g, ans, arrays, axis=0):
        return np.split(g, [len(arrays[0])]), None

    check_vjp(concat_vjp, np.concatenate, [[X[0], X[1, :2]]])
    check_vjp(lambda g, ans, x, y: (g * y, g * x), lambda x, y: x * y, [1.5, -0.5])


def test_check_vjp_is_deterministic():
    def slightly_off(g, ans, x):
        return g * (1.0 - ans * ans) * 1.001

    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError) as err:
            check_vjp(slightly_off, np.tanh, [X], seed=3)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_check_grads_whole_functions():
    def f(w, x):
        return np.sum(np.tanh(x @ w) ** 2)

    def grad_f(w, x):
        h = np.tanh(x @ w)
        return x.T @ (2.0 * h * (1.0 - h * h))

    w, x = X[:, :2].copy(), X[:2, :3].copy()
    check_grads(f, grad_f, [w, x])
    with pytest.raises(AssertionError, match="wrong gradient for argument 0") as err:
        check_grads(f, lambda w, x: 1.1 * grad_f(w, x), [w, x])
    assert "expected" in str(err.value) and "got" in str(err.value)


def test_check_grads_several_arguments_shape_and_dtype():
    def f(a, b):
        return np.sum(a * b)

    a, b = np.ones(3), np.full(3, 2.0)
    check_grads(f, lambda a, b: (b, a), [a, b], wrt=(0, 1))
    with pytest.raises(AssertionError, match="shape"):
        check_grads(f, lambda a, b: b[:2], [a, b])
    a32 = a.astype(np.float32)
    with pytest.raises(AssertionError, match="dtype float64, expected float32"):
        check_grads(f, lambda a, b: b, [a32, b])
    check_grads(f, lambda a, b: b.astype(np.float32), [a32, b], rtol=1e-6)
