"""Derivatives of order two and three through selections: the running extremes
(``cummax``, ``cummin``, ``np.maximum.accumulate``), ``sort``, ``topk``, and ``max``,
``median``, ``kthvalue`` along a dim, against central differences of the derivative one
order lower, and at ties against the first derivative's convention."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.runtime import tensor_methods as tm

W = np.array([1.0, -2.0, 0.5, 3.0, 1.5])
X = np.array([0.3, 1.2, -0.5, 1.5, 0.9])
V = np.array([0.4, -1.1, 0.8, 0.3, -0.6])

SELECTIONS = {
    "cummax": lambda h: tm.cummax(h, 0)[0],
    "cummin": lambda h: tm.cummin(h, 0)[0],
    "maximum.accumulate": lambda h: np.maximum.accumulate(h),
    "fmax.accumulate": lambda h: np.fmax.accumulate(h),
    "sort": lambda h: tm.sort(h, 0)[0],
    "topk": lambda h: tm.topk(h, 3, 0)[0],
    "max": lambda h: tm.max(np.outer(h, h[:3]), 0)[0],
    "median": lambda h: tm.median(np.outer(h, h[:3]), 0, True)[0],
    "kthvalue": lambda h: tm.kthvalue(np.outer(h[:3], h), 2, 1)[0],
}


def _loss(select):
    def loss(x):
        y = select(x * x + np.sin(x))
        return np.sum(np.cos(y) * W[: np.shape(y)[-1]])

    return loss


@pytest.mark.parametrize("name", list(SELECTIONS))
def test_second_and_third_derivatives_match_differences(name):
    """They were refused: ``rt.taken`` (and ``median``'s and ``kthvalue``'s own helpers)
    had no rules of their own."""
    loss = _loss(SELECTIONS[name])
    eps = 1e-6
    grad = sd.grad(loss)
    hessian = sd.hessian(loss)(X)
    columns = [(grad(X + eps * e) - grad(X - eps * e)) / (2 * eps) for e in np.eye(5)]
    np.testing.assert_allclose(hessian, np.stack(columns), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sd.jvp(grad, (X,), (V,))[1], hessian @ V, rtol=1e-10, atol=1e-12)
    penalty = sd.grad(lambda x: np.sum(grad(x) ** 2))(X)
    np.testing.assert_allclose(penalty, 2 * hessian @ grad(X), rtol=1e-10, atol=1e-12)
    along = lambda s: loss(X + s * V)  # noqa: E731
    third = sd.grad(sd.grad(sd.grad(along)))(0.0)
    second = sd.grad(sd.grad(along))
    fd = (second(1e-5) - second(-1e-5)) / 2e-5
    assert third == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_at_ties_the_hessian_keeps_each_first_derivatives_convention():
    """x = [1, 3, 3, 2]: cummax's values [1, 3, 3, 3] are the entries 0, 1, 2, 2 (the
    latest tied one, as PyTorch's gradient), np.maximum.accumulate's share each tie
    evenly: the Hessian of sum(w * y ** 2) is 2 P^T diag(w) P for the same P."""
    x, w = np.array([1.0, 3.0, 3.0, 2.0]), np.array([1.0, -2.0, 0.5, 3.0])
    for select, picks in [
        (lambda h: tm.cummax(h, 0)[0], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]]),
        (np.maximum.accumulate, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0.5, 0.5, 0], [0, 0.5, 0.5, 0]]),
    ]:
        p = np.array(picks)
        loss = lambda h, select=select: np.sum(w * select(h) ** 2)  # noqa: E731
        np.testing.assert_allclose(sd.grad(loss)(x), 2 * p.T @ (w * (p @ x)))
        np.testing.assert_allclose(sd.hessian(loss)(x), 2 * p.T @ np.diag(w) @ p, atol=1e-15)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["max", "min", "median", "kthvalue"])
def test_a_selection_along_the_dim_of_a_0d_array_is_the_array(name, keepdim):
    """``x.max(0)`` of a 0-d ``x`` is ``x``: its gradient crashed (a modulo by its 0 dims)."""
    op = getattr(tm, name)
    first = (1,) if name == "kthvalue" else ()
    loss = lambda x: op(x * x, *first, 0, keepdim)[0] * 3.0  # noqa: E731
    x = np.array(0.7)
    assert sd.grad(loss)(x) == pytest.approx(4.2)
    assert sd.jvp(loss, (x,), (np.array(1.0),))[1] == pytest.approx(4.2)
    assert sd.hessian(loss)(x) == pytest.approx(6.0)
