"""RMSprop against PyTorch's documented algorithm, written out here step by step
(square average v, centered average g_ave, momentum buffer b)."""

import numpy as np
import pytest

from srcdiff.creation import tensor
from srcdiff.optim import RMSprop

from .helpers import run_steps

GRADS = [[1.0, -0.5], [-2.0, 0.1], [0.5, 0.3], [0.05, 0.0], [0.7, -1.2]]


def documented_rmsprop(
    p,
    grads,
    lr=0.01,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0.0,
    momentum=0.0,
    centered=False,
    maximize=False,
):
    p, v, b, g_ave = np.array(p, dtype=np.float64), 0.0, 0.0, 0.0
    values = []
    for g in np.array(grads, dtype=np.float64):
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2
        v_tilde = v
        if centered:
            g_ave = g_ave * alpha + (1 - alpha) * g
            v_tilde = v_tilde - g_ave**2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(v_tilde) + eps)
            p = p - lr * b
        else:
            p = p - lr * g / (np.sqrt(v_tilde) + eps)
        values.append(p)
    return values


def test_first_step_by_hand():
    # v = 0.01 * 4 = 0.04, so the step is lr * 2 / (0.2 + eps)
    values, p, optimizer = run_steps(lambda ps: RMSprop(ps), [1.0], [[2.0]])
    assert np.allclose(values[0], 1.0 - 0.01 * 2.0 / (0.2 + 1e-8), rtol=0, atol=1e-14)
    state = optimizer.state[p]
    assert state["step"] == 1 and np.allclose(state["square_avg"].numpy(), 0.04)
    assert set(state) == {"step", "square_avg"}


def test_centered_first_step_by_hand():
    # g_ave = 0.01 * 2 = 0.02 and v~ = 0.04 - 0.0004 = 0.0396
    values, p, optimizer = run_steps(lambda ps: RMSprop(ps, centered=True), [1.0], [[2.0]])
    assert np.allclose(values[0], 1.0 - 0.01 * 2.0 / (np.sqrt(0.0396) + 1e-8), atol=1e-14)
    assert np.allclose(optimizer.state[p]["grad_avg"].numpy(), 0.02)


def test_momentum_second_step_by_hand():
    # alpha = 0.5: v1 = 0.5, b1 = 1 / sqrt(0.5);
    # v2 = 0.25 + 0.5 * 9 = 4.75, b2 = 0.9 b1 + 3 / sqrt(4.75)
    values, _, _ = run_steps(
        lambda ps: RMSprop(ps, lr=0.1, alpha=0.5, eps=0.0, momentum=0.9), [0.0], [[1.0], [3.0]]
    )
    b1 = 1 / np.sqrt(0.5)
    b2 = 0.9 * b1 + 3 / np.sqrt(4.75)
    assert np.allclose(np.ravel(values), [-0.1 * b1, -0.1 * b1 - 0.1 * b2], rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"alpha": 0.9, "eps": 1e-3},
        {"weight_decay": 0.1},
        {"momentum": 0.9},
        {"centered": True},
        {"centered": True, "momentum": 0.5, "weight_decay": 0.05, "alpha": 0.8},
        {"maximize": True},
        {"maximize": True, "momentum": 0.3, "weight_decay": 0.2},
    ],
)
def test_several_steps_match_the_documented_algorithm(options):
    values, _, _ = run_steps(lambda ps: RMSprop(ps, lr=0.01, **options), [1.0, -1.0], GRADS)
    expected = documented_rmsprop([1.0, -1.0], GRADS, lr=0.01, **options)
    assert np.allclose(values, expected, rtol=0, atol=1e-12)


def test_maximize_climbs():
    values, _, _ = run_steps(lambda ps: RMSprop(ps, maximize=True), [0.0], [[1.0]] * 3)
    assert np.all(np.diff(np.ravel(values)) > 0) and values[0] > 0


def test_defaults_and_validation():
    p = tensor([1.0], requires_grad=True)
    (group,) = RMSprop([p]).param_groups
    assert {k: v for k, v in group.items() if k != "params"} == {
        "lr": 0.01,
        "alpha": 0.99,
        "eps": 1e-08,
        "weight_decay": 0,
        "momentum": 0,
        "centered": False,
        "capturable": False,
        "foreach": None,
        "maximize": False,
        "differentiable": False,
    }  # PyTorch 2.13's keys and values
    for name, message in [
        ("lr", "Invalid learning rate: -1"),
        ("eps", "Invalid epsilon value: -1"),
        ("momentum", "Invalid momentum value: -1"),
        ("weight_decay", "Invalid weight_decay value: -1"),
        ("alpha", "Invalid alpha value: -1"),
    ]:
        with pytest.raises(ValueError, match=message):
            RMSprop([p], **{name: -1})


def test_float32_stays_float32():
    values, p, optimizer = run_steps(
        lambda ps: RMSprop(ps, centered=True, momentum=0.9), [1.0, -1.0], GRADS, dtype=np.float32
    )
    assert values[-1].dtype == np.float32
    assert all(s.dtype == p.dtype for s in optimizer.state[p].values() if hasattr(s, "dtype"))
    expected = documented_rmsprop([1.0, -1.0], GRADS, centered=True, momentum=0.9)[-1]
    assert np.allclose(values[-1], expected, atol=1e-5)
