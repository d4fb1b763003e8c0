"""A function returning, from inside a loop, a list the loop grows (or a value read from
it): the adjoint's zero for the list is shaped like the list where the return left the
loop (it was shaped like the list before the loop, and the adjoint crashed with
``ValueError: zip() argument 2 is longer than argument 1``)."""

import numpy as np
import pytest

import srcdiff as sd


def grows_then_returns(x):
    out = []
    for i in range(3):
        out.append(x[i] * 2)
        if i == 1:
            return out
    return out


def takes_two(x):
    r = grows_then_returns(x)
    return r[0] + r[1]


def returns_a_product_from_the_loop(x):
    out = []
    for i in range(3):
        out.append(x[i] * x[i])
        if out[-1] > 3.0:
            return np.sum(out[0] * out[-1])
    return np.sum(out[0])


def returns_from_an_inner_loop(x):
    acc = []
    for i in range(2):
        for j in range(3):
            acc.append(np.sin(x[j]) * (i + 1))
            if i == 1 and j == 1:
                return acc[0] * acc[-1] + acc[2]
    return acc[0]


def central(f, x, eps):
    return np.array([(f(x + e) - f(x - e)) / (2 * eps) for e in np.eye(x.size) * eps])


@pytest.mark.parametrize("fn", [takes_two, returns_a_product_from_the_loop,
                                returns_from_an_inner_loop])  # fmt: skip
@pytest.mark.parametrize("x", [np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.4, 0.3])])
def test_a_return_from_inside_a_loop_growing_a_list(fn, x):
    value, grad = sd.value_and_grad(fn)(x)
    assert value == pytest.approx(fn(x), rel=1e-12)
    for eps in (1e-5, 1e-6):
        np.testing.assert_allclose(grad, central(fn, x, eps), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fn", [takes_two, returns_a_product_from_the_loop,
                                returns_from_an_inner_loop])  # fmt: skip
def test_second_derivatives_of_a_return_from_inside_a_loop(fn):
    x = np.array([1.0, 2.0, 3.0])
    first = sd.grad(fn)
    for eps in (1e-4, 1e-5):
        want = np.array([central(lambda z, k=k: first(z)[k], x, eps) for k in range(3)])
        np.testing.assert_allclose(sd.hessian(fn)(x), want, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(sd.jacobian(first, mode="fwd")(x), want, rtol=1e-5, atol=1e-7)
