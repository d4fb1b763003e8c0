"""Derivatives of transforms (``sd.grad``, ``sd.jvp``, ``sd.hessian``, ``sd.vmap``, ...)
called inside a differentiated function with a ``functools.partial`` holding
differentiated values, or an object with array fields, among their arguments: against
central differences in float64 at two step sizes, or refused with an ``sd.CompileError``
naming the user's line.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import srcdiff as sd

STEPS = (1e-5, 1e-4)

X = np.array([0.3, 0.7])
A = np.array([1.5, -0.4])
B = np.array([0.1, 0.2])
U = np.array([0.2, -1.1])


def _differences(fn, x: np.ndarray) -> list[np.ndarray]:
    """Central differences of ``fn`` (array-valued or scalar) in ``x``, at two steps."""
    out = []
    for eps in STEPS:
        rows = []
        for i in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[i] = eps
            rows.append((np.asarray(fn(x + e)) - np.asarray(fn(x - e))) / (2 * eps))
        out.append(np.stack(rows).reshape(x.shape + np.shape(rows[0])))
    return out


def _assert_close(got, fn, x: np.ndarray) -> None:
    small, large = _differences(fn, x)
    np.testing.assert_allclose(got, small, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, large, rtol=1e-5, atol=1e-7)


def squares_of(x, g):
    return np.sum(g(x) ** 2)


def sine(x, a):
    return np.sin(a * x)


def sine_first(a, x):
    return np.sin(a * x)


def grad_keyword(a, x):
    return sd.grad(squares_of)(x, g=functools.partial(sine, a=a)).sum()


def grad_position(a, x):
    return sd.grad(squares_of)(x, functools.partial(sine, a=a)).sum()


def grad_bound_by_position(a, x):
    return sd.grad(squares_of)(x, g=functools.partial(sine_first, a)).sum()


def value_and_grad_position(a, x):
    return sd.value_and_grad(squares_of)(x, functools.partial(sine, a=a))[1].sum()


def jvp_position(a, x):
    return sd.jvp(squares_of, (x, functools.partial(sine, a=a)), (np.ones(2), None))[1]


def jacobian_position(a, x):
    return sd.jacobian(squares_of)(x, functools.partial(sine, a=a)).sum()


def vmap_shared(a, x):
    mapped = sd.vmap(squares_of, in_axes=(0, None))
    return mapped(np.stack([x, 2 * x]), functools.partial(sine, a=a)).sum()


def vmap_of_grad_shared(a, x):
    mapped = sd.vmap(sd.grad(squares_of), in_axes=(0, None))
    return mapped(np.stack([x, 2 * x]), functools.partial(sine, a=a)).sum()


@pytest.mark.parametrize(
    "fn",
    [
        grad_keyword,
        grad_position,
        grad_bound_by_position,
        value_and_grad_position,
        jvp_position,
        jacobian_position,
        vmap_shared,
        vmap_of_grad_shared,
    ],
)
def test_a_transform_given_a_partial_of_differentiated_values(fn):
    _assert_close(sd.grad(fn)(A, X), lambda a: fn(a, X), A)


def test_a_partial_as_a_primal_of_vjp_gets_the_gradients_of_its_values():
    p = functools.partial(sine, a=A)
    _, pull = sd.vjp(squares_of, X, p)
    d_x, d_p = pull(1.0)
    assert isinstance(d_p, list) and len(d_p) == 1
    _assert_close(d_p[0], lambda a: squares_of(X, functools.partial(sine, a=a)), A)
    _assert_close(d_x, lambda x: squares_of(x, p), X)


def hessian_keyword(a, x):
    return sd.hessian(squares_of)(x, g=functools.partial(sine, a=a)).sum()


def squared_gradient_of(x, g):
    return np.sum(sd.grad(squares_of)(x, g) ** 2)


def gradient_of_gradient(a, x):
    return sd.grad(squared_gradient_of)(x, functools.partial(sine, a=a)).sum()


@pytest.mark.parametrize("fn", [hessian_keyword, gradient_of_gradient])
def test_a_second_derivative_through_a_partial_passed_in_is_refused_at_the_line(fn):
    with pytest.raises(sd.CompileError, match="functools.partial given as an argument") as info:
        sd.grad(fn)(A, X)
    assert "test_higher_order_arguments.py" in str(info.value)


class Pair:
    def __init__(self, w, b):
        self.w = w
        self.b = b


def tanh_loss(p, x):
    return np.sum(np.tanh(p.w * x + p.b) ** 2)


def grad_of_object(w, x):
    return sd.grad(tanh_loss)(Pair(w, B), x).w.sum()


def jvp_of_object(w, x):
    tangent = Pair(np.ones(2), np.zeros(2))
    return sd.jvp(tanh_loss, (Pair(w, B), x), (tangent, np.zeros(2)))[1]


def hessian_beside_object(w, x):
    return sd.hessian(tanh_loss, wrt=1)(Pair(w, B), x).sum()


def grad_of_object_by_x(x, w):
    return sd.grad(tanh_loss)(Pair(w, B), x).w.sum()


@pytest.mark.parametrize("fn", [grad_of_object, jvp_of_object, hessian_beside_object])
def test_a_transform_given_an_object_inside_a_differentiated_function(fn):
    _assert_close(sd.grad(fn)(A, X), lambda w: fn(w, X), A)


def test_the_hessian_of_a_function_taking_the_gradient_in_an_object():
    got = sd.hessian(grad_of_object_by_x)(X, A)
    _assert_close(got, lambda x: sd.grad(grad_of_object_by_x)(x, A), X)


def test_a_list_of_an_array_a_number_and_a_string_as_a_primal():
    def fl(xs):
        return np.sum(xs[0] ** 3) * xs[1]

    def outer(w):
        return sd.grad(fl)([w, 3.0, "a"])[0].sum()

    _assert_close(sd.grad(outer)(A), outer, A)
    d = sd.grad(fl)([X, 3.0, "a"])
    _assert_close(d[0], lambda x: fl([x, 3.0, "a"]), X)
    assert d[1] == pytest.approx(np.sum(X**3))


def pulled_back_squared(a, x):
    _, pull = sd.vjp(lambda y: np.sin(a * y) * y, x)
    return np.sum(pull(U)[0] ** 2)


def pulled_back_linear(a, x):
    _, pull = sd.vjp(lambda y: np.sin(a * y) * y, x)
    return np.sum(pull(a)[0])


def pulled_back_with_value(a, x):
    out, pull = sd.vjp(lambda y: np.sin(a * y) * y, x)
    return np.sum(pull(U)[0] * out)


@pytest.mark.parametrize("fn", [pulled_back_squared, pulled_back_linear, pulled_back_with_value])
def test_a_second_derivative_through_the_pull_back_of_a_lambda(fn):
    _assert_close(sd.hessian(fn)(A, X), lambda a: sd.grad(fn)(a, X), A)
    _assert_close(sd.hessian(fn, wrt=1)(A, X), lambda x: sd.grad(fn, wrt=1)(A, x), X)

    def squared_gradient(a, x):
        return np.sum(sd.grad(fn)(a, x) ** 2)

    _assert_close(sd.grad(squared_gradient)(A, X), lambda a: squared_gradient(a, X), A)


class Scaled:
    def __init__(self, w):
        self.w = w

    def f(self, y):
        return np.tanh(self.w * y)

    def __call__(self, y):
        return np.tanh(self.w * y) * y


def pulled_back_method(a, x):
    _, pull = sd.vjp(Scaled(a).f, x)
    return np.sum(pull(U)[0] ** 2)


def pulled_back_callable(a, x):
    _, pull = sd.vjp(Scaled(a), x)
    return np.sum(pull(U)[0] ** 2)


def test_the_pull_back_of_a_callable_object_reaches_its_fields():
    fn = pulled_back_callable
    _assert_close(sd.grad(fn)(A, X), lambda a: fn(a, X), A)
    _assert_close(sd.grad(fn, wrt=1)(A, X), lambda x: fn(A, x), X)
    _assert_close(sd.hessian(fn)(A, X), lambda a: sd.grad(fn)(a, X), A)
    _assert_close(sd.hessian(fn, wrt=1)(A, X), lambda x: sd.grad(fn, wrt=1)(A, x), X)


def test_the_pull_back_of_a_method_in_the_primals():
    fn = pulled_back_method
    _assert_close(sd.grad(fn, wrt=1)(A, X), lambda x: fn(A, x), X)
    _assert_close(sd.hessian(fn, wrt=1)(A, X), lambda x: sd.grad(fn, wrt=1)(A, x), X)


def test_the_pull_back_of_a_method_in_its_object_is_refused_at_the_line():
    with pytest.raises(sd.CompileError, match="method") as info:
        sd.grad(pulled_back_method)(A, X)
    assert "test_higher_order_arguments.py" in str(info.value)


def jvp_of_a_lambda_reading(a, x):
    return sd.jvp(lambda y: np.sum(np.sin(a * y) ** 2), (x,), (U,))[1]


def jvp_of_a_lambda_along_a(a, x):
    return np.sum(sd.jvp(lambda y: np.sin(a * y) * y, (x,), (U * a,))[1] ** 2)


def hvp_of_a_lambda_reading(a, x):
    return np.sum(sd.hvp(lambda y: np.sum(np.sin(a * y) ** 2), (x,), (U,)))


def hvp_of_a_lambda_in_two(a, x):
    return np.sum(sd.hvp(lambda y, z: np.sum(np.sin(a * y * z) ** 2), (x, a), (U, a))[0] ** 2)


@pytest.mark.parametrize(
    "fn",
    [jvp_of_a_lambda_reading, jvp_of_a_lambda_along_a, hvp_of_a_lambda_reading,
     hvp_of_a_lambda_in_two],
)  # fmt: skip
def test_forward_mode_through_jvp_and_hvp_of_a_lambda_reading_differentiated_values(fn):
    """Were refused: forward mode (sd.jvp, and sd.hessian, reverse mode over it) through
    sd.jvp or sd.hvp of a lambda reading values that have a tangent."""
    for direction in (np.array([1.0, 0.0]), np.array([0.3, -0.7])):
        tangent = sd.jvp(fn, (A, X), (direction, np.zeros(2)))[1]
        _assert_close(np.asarray(tangent), lambda t, d=direction: fn(A + t[0] * d, X), np.zeros(1))
    _assert_close(sd.hessian(fn)(A, X), lambda a: sd.grad(fn)(a, X), A)
    _assert_close(sd.hessian(fn, wrt=1)(A, X), lambda x: sd.grad(fn, wrt=1)(A, x), X)


def pulled_back_of_a_partial_primal(a, x):
    return sd.vjp(squares_of, x, functools.partial(sine, a=a))[1](1.0)[0].sum()


def test_the_pull_back_of_vjp_given_a_partial_primal_is_refused_saying_what_to_write():
    """The refusal said the primals were not float arrays, as if a dtype were wrong."""
    with pytest.raises(sd.CompileError, match="of a primal that is a function") as info:
        sd.grad(pulled_back_of_a_partial_primal)(A, X)
    assert "test_higher_order_arguments.py" in str(info.value)
    assert "np.sum(g(x, a=a) ** 2)" in str(info.value)
