"""Differentiated values passed to a callee through its ``*args`` parameter: by
position past its named parameters, or by a starred call (``helper(*xs)``), in reverse
mode, forward mode and reverse over forward, checked against finite differences."""

import math

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad


def helper(scale, *ws):
    return sum(np.sum(np.tanh(w) * scale) for w in ws)


def weighted(first, *rest, power=2.0, flag="on"):
    total = np.sum(first**2)
    for k, r in enumerate(rest):
        if flag == "on" and k % 2 == 0:
            total = total + np.sum(np.sin(r) * first) ** power
        else:
            total = total + np.sum(r * (k + 1.0))
    return total


def indexed(*ws):
    return np.sum(ws[0] * ws[-1]) + np.sum(np.cos(ws[1]))


def loss_basic(a, b):
    return helper(2.0, a, b * 3.0)


def loss_mixed(a, b):
    # entries differentiated and not, keyword-only parameters after *args
    return weighted(a, np.ones(3), b, a * b, power=3.0) + weighted(b, 4, a, flag="off")


def loss_indexed(a, b):
    return indexed(a, b, a + b)


def loss_starred(a, b):
    pair = (a, b * 2.0)
    return helper(0.5, *pair) + indexed(*[a, b, np.ones(3)])


def loss_starred_mixed(a, b):
    xs = [a, np.ones(3), b]
    return helper(1.5, a, *xs) + weighted(a, *xs, power=2.0)


def loss_loop(a, b):
    total = 0.0
    for k in range(3):
        if k % 2 == 0:
            total = total + helper(1.0 + k, a, b)
        else:
            total = total + helper(2.0, b * a)
        a = a * 0.9
    return total


def loss_star_loop(a, b):
    total = 0.0
    pieces = [a]
    for k in range(3):
        pieces.append(b * (k + 1.0))
        if np.sum(a) > -100.0:
            total = total + helper(0.5, *pieces)
    return total


def loss_starred_into_rules(a, b):
    # functions with rules given *xs: how many values it holds is known when they run
    # (a crash in reverse mode, a tangent of zero in forward mode)
    pair = [a, b * 2.0]
    grids = np.meshgrid(*pair)
    return (
        np.einsum("i,i->", *pair)
        + math.hypot(*a)
        + max(b[0], *[a[1], a[2] * 3.0])
        + np.sum(grids[0] * grids[1] ** 2)
    )


def loss_array_spread_twice(a, b):
    # an array's entries' gradients are its rows stacked back, not a list (two lists
    # were joined by +, a list was scaled by * 2.0: crashes)
    c = a * 2.0
    rows = np.stack([a, b]) * 1.5
    return helper(1.0, *c) + indexed(*c) + max(*c) + np.sum(np.arctan2(*rows) ** 2)


LOSSES = [loss_basic, loss_mixed, loss_indexed, loss_starred, loss_starred_mixed,
          loss_loop, loss_star_loop, loss_starred_into_rules, loss_array_spread_twice]  # fmt: skip


def _points(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=3) for _ in range(4)]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_reverse(loss):
    a, b, _, _ = _points()
    got = sd.grad(loss, wrt=(0, 1))(a, b)
    want = numeric_grad(loss, [a, b], wrt=(0, 1))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_forward(loss):
    a, b, da, db = _points(1)
    value, tangent = sd.jvp(loss, (a, b), (da, db))
    ga, gb = numeric_grad(loss, [a, b], wrt=(0, 1))
    np.testing.assert_allclose(value, loss(a, b), rtol=1e-12)
    np.testing.assert_allclose(tangent, np.sum(ga * da) + np.sum(gb * db), rtol=1e-6, atol=1e-7)
    # one tangent held fixed
    _, tangent = sd.jvp(loss, (a, b), (None, db))
    np.testing.assert_allclose(tangent, np.sum(gb * db), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss", [loss_basic, loss_mixed, loss_starred, loss_starred_mixed,
                                  loss_loop, loss_star_loop, loss_starred_into_rules,
                                  loss_array_spread_twice],
                         ids=lambda f: f.__name__)  # fmt: skip
def test_hvp(loss):
    a, b, da, db = _points(2)
    got = sd.hvp(loss, (a, b), (da, db))
    grad = sd.grad(loss, wrt=(0, 1))
    eps = 1e-5
    plus = grad(a + eps * da, b + eps * db)
    minus = grad(a - eps * da, b - eps * db)
    for g, p, m in zip(got, plus, minus, strict=True):
        np.testing.assert_allclose(g, (p - m) / (2 * eps), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", [loss_mixed, loss_starred_mixed], ids=lambda f: f.__name__)
def test_grad_of_jvp(loss):
    a, b, da, db = _points(3)

    def directional(a, b):
        return sd.jvp(loss, (a, b), (da, db))[1]

    got = sd.grad(directional, wrt=(0, 1))(a, b)
    want = numeric_grad(directional, [a, b], wrt=(0, 1))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_the_forward_source_passes_a_starred_operand_whole():
    a, b, da, db = _points(4)
    forward = sd.jvp(loss_starred)
    forward((a, b), (da, db))
    assert "rt.call_jvp_star(helper, (None, d_pair), (False, True), ()" in sd.source(forward)


def test_a_starred_array_spreads_its_rows_in_every_mode():
    def loss(a, b):
        return helper(1.0, *np.stack([a, b * 2.0]))

    a, b, da, db = _points(5)
    want = numeric_grad(loss, [a, b], wrt=(0, 1))
    for g, w in zip(sd.grad(loss, wrt=(0, 1))(a, b), want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    _, tangent = sd.jvp(loss, (a, b), (da, db))
    np.testing.assert_allclose(tangent, np.sum(want[0] * da) + np.sum(want[1] * db),
                               rtol=1e-6, atol=1e-7)  # fmt: skip
    grad, eps = sd.grad(loss, wrt=(0, 1)), 1e-5
    plus, minus = grad(a + eps * da, b + eps * db), grad(a - eps * da, b - eps * db)
    for g, p, m in zip(sd.hvp(loss, (a, b), (da, db)), plus, minus, strict=True):
        np.testing.assert_allclose(g, (p - m) / (2 * eps), rtol=1e-5, atol=1e-6)


def _gathered(x, *extra):
    outs = [x * 2.0]
    for e in extra:
        outs.append(e)
    return sum(outs)


def _bumps_its_first(*xs):
    xs[0][0] += 1.0
    return np.sum(xs[0] * xs[1])


def test_a_callee_appending_its_star_entries_to_a_list_of_its_own_runs():
    """``outs.append(e)`` of an entry of ``*extra`` was taken for an update of the
    caller's argument (the tuple compared with its first entry): refused."""
    a = np.array([1.0, 2.0])
    grad = sd.grad(lambda a: np.sum(_gathered(a, a**2, np.ones(2)) ** 2))(a)
    want = numeric_grad(lambda a: np.sum(_gathered(a, a**2, np.ones(2)) ** 2), [a])
    np.testing.assert_allclose(grad, want, rtol=1e-6)


def test_a_callee_updating_an_entry_of_its_star_args_in_place_is_refused():
    a = np.array([1.0, 2.0])
    with pytest.raises(sd.CompileError, match="an entry of a tuple"):
        sd.grad(lambda a: _bumps_its_first(a * 1.0, a))(a)
