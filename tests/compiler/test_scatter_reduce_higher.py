"""Third and fourth derivatives through ``scatter_reduce`` (every reduction, with and
without ``x``'s own entries), against central differences of the derivative one order
lower; ``prod`` through zero factors against the products written out by hand."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.runtime import tensor_methods as tm

INDEX = np.array([[0, 3], [2, 2], [1, 0]])
SRC = np.array([[0.7, -1.3], [0.4, 2.1], [-0.6, 0.9]])
WEIGHTS = np.arange(12.0).reshape(3, 4)


@functools.cache
def _scattered(reduce, include):
    """The loss through one reduction: one function per reduction, shared by the tests,
    and so are the derivatives compiled for it."""

    def loss(s):
        x = np.arange(12.0).reshape(3, 4) * 0.1 * s + s * s - 0.5
        src = SRC * s + 0.1 * s * s
        y = tm.scatter_reduce(x, 1, INDEX, src, reduce, include_self=include)
        return np.sum(np.sin(y) * WEIGHTS)

    return loss


@functools.cache
def along(f):
    """The derivative of ``f`` by forward mode (one function per ``f``, as above)."""
    return lambda y: sd.jvp(f, (y,), (1.0,))[1]


@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_a_third_derivative_matches_differences_of_the_second(reduce, include):
    """Refused before: the forward rule's slopes (rt.tensor_methods.scatter_reduce_grads)
    had no forward rule in the result they read, nor their curvature any rule."""
    loss = _scattered(reduce, include)
    second = sd.grad(sd.grad(loss))
    of_second = sd.grad(second)  # (built on the second: its compiles shared)
    for s in (1.1, 0.6) if reduce in ("amax", "amin") else (1.1, 0.0):  # (0: src is 0, tied)
        third = of_second(s)
        assert third == pytest.approx((second(s + 1e-5) - second(s - 1e-5)) / 2e-5, rel=1e-5)
        assert along(along(along(loss)))(s) == pytest.approx(third, rel=1e-12)


@pytest.mark.parametrize("include", [True, False])
def test_a_fourth_derivative_of_a_product_is_that_of_the_products_by_hand(include):
    def by_hand(s):
        x = np.arange(12.0).reshape(3, 4) * 0.1 * s + s * s - 0.5
        src = SRC * s + 0.1 * s * s
        own = x if include else np.ones((3, 4))
        rows = []
        for i in range(3):
            row = []
            for k in range(4):
                factor = own[i, k] if k in INDEX[i] else x[i, k]
                for j in range(2):
                    if INDEX[i, j] == k:
                        factor = factor * src[i, j]
                row.append(factor)
            rows.append(np.stack(row))
        return np.sum(np.sin(np.stack(rows)) * WEIGHTS)

    loss = _scattered("prod", include)
    reverse_over_forward = sd.grad(along(along(along(loss))))
    for s in (1.1, 0.0):
        assert loss(s) == pytest.approx(by_hand(s), rel=1e-14)
        want = along(along(along(along(by_hand))))(s)
        assert along(along(along(along(loss))))(s) == pytest.approx(want, rel=1e-12)
        assert reverse_over_forward(s) == pytest.approx(want, rel=1e-12)


def test_a_0d_tensor_scattered_into():
    def loss(x, src):
        return tm.scatter_reduce(x * x, 0, np.array([0, 0]), src * x, "prod") ** 2

    x, src = np.array(0.7), np.array([1.5, -0.4])
    grad = sd.grad(loss)
    hessian = sd.hessian(loss)(x, src)
    assert hessian == pytest.approx((grad(x + 1e-6, src) - grad(x - 1e-6, src)) / 2e-6, rel=1e-6)
    assert hessian == pytest.approx(56 * 0.36 * 0.7**6, rel=1e-12)  # (x^4 * -0.6)^2 = 0.36 x^8


@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_the_hessian_in_one_argument_alone(reduce, include):
    """``x`` differentiated, ``src`` not (and the other way): each tangent's part comes
    from its own argument (``prod``'s tangent in ``x`` once went with ``src``'s, and was
    dropped with it)."""
    x = np.arange(12.0).reshape(3, 4) * 0.1 - 0.5

    def in_x(x):
        y = tm.scatter_reduce(x, 1, INDEX, SRC * 1.0, reduce, include_self=include)
        return np.sum(y * y * x)

    def in_src(src):
        y = tm.scatter_reduce(x, 1, INDEX, src * src, reduce, include_self=include)
        return np.sum(y * y * x)

    eps = 1e-6
    for loss, at in ((in_x, x), (in_src, SRC)):
        grad, n = sd.grad(loss), at.size
        hessian = np.reshape(sd.hessian(loss)(at), (n, n))
        columns = [
            (grad(at + eps * e.reshape(at.shape)) - grad(at - eps * e.reshape(at.shape))).ravel()
            for e in np.eye(n)
        ]
        np.testing.assert_allclose(hessian, np.stack(columns) / (2 * eps), rtol=1e-6, atol=1e-7)
