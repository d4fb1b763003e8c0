"""Adam against the textbook form of its update, p -= lr * m_hat / (sqrt(v_hat) + eps),
written out here step by step (PyTorch computes the same quantity in another order)."""

import math

import numpy as np
import pytest

from srcdiff.creation import zeros
from srcdiff.optim import Adam

from .helpers import run_steps

GRADS = [[1.0, -0.5], [-2.0, 0.1], [0.5, 0.3], [0.05, 0.0]]


def textbook_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    b1, b2 = betas
    p, m, v, v_max = np.array(p), 0.0, 0.0, 0.0
    values = []
    for t, g in enumerate(np.array(grads), start=1):
        g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        values.append(p)
    return values


def test_constant_gradient_steps_by_lr():
    # m_hat = g and v_hat = g ** 2 at every step, so each step is lr * sign(g)
    values, _, _ = run_steps(lambda ps: Adam(ps, lr=0.1), [1.0], [[4.0]] * 3)
    assert np.allclose(np.ravel(values), [0.9, 0.8, 0.7], atol=1e-8)


def test_second_step_by_hand():
    # m = 0.09 - 0.2 = -0.11, v = 0.000999 + 0.004 = 0.004999 after g = 1 then g = -2
    values, _, _ = run_steps(lambda ps: Adam(ps, lr=0.1), [1.0], [[1.0], [-2.0]])
    m_hat, v_hat = -0.11 / (1 - 0.9**2), 0.004999 / (1 - 0.999**2)
    first = 1.0 - 0.1 * 1.0 / (1.0 + 1e-8)  # m_hat = 1, v_hat = 1
    expected = first - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    assert np.allclose(values[1], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"betas": (0.8, 0.99), "eps": 1e-3},
        {"weight_decay": 0.1},
        {"amsgrad": True},
        {"amsgrad": True, "weight_decay": 0.05, "betas": (0.5, 0.9)},
    ],
)
def test_several_steps_match_the_textbook_update(options):
    values, _, _ = run_steps(lambda ps: Adam(ps, lr=0.01, **options), [1.0, -1.0], GRADS)
    expected = textbook_adam([1.0, -1.0], GRADS, lr=0.01, **options)
    assert np.allclose(values, expected, rtol=0, atol=1e-12)


def test_amsgrad_keeps_the_largest_second_moment():
    grads = [[3.0], [0.01], [0.01], [0.01]]  # v shrinks after the first step
    plain, _, _ = run_steps(lambda ps: Adam(ps, lr=0.01), [0.0], grads)
    amsgrad, p, optimizer = run_steps(lambda ps: Adam(ps, lr=0.01, amsgrad=True), [0.0], grads)
    assert not np.allclose(plain[-1], amsgrad[-1])
    state = optimizer.state[p]
    assert state["step"] == 4
    assert np.allclose(state["max_exp_avg_sq"].numpy(), 0.001 * 9.0)
    assert state["exp_avg_sq"].item() < state["max_exp_avg_sq"].item()


def test_float32_stays_float32():
    values, p, _ = run_steps(lambda ps: Adam(ps, lr=0.01), [1.0, -1.0], GRADS, dtype=np.float32)
    assert values[-1].dtype == np.float32
    assert np.allclose(values[-1], textbook_adam([1.0, -1.0], GRADS, lr=0.01)[-1], atol=1e-6)
    assert p.is_leaf and p.grad_fn is None


@pytest.mark.parametrize(
    "options, message",
    [
        ({"lr": -1}, "Invalid learning rate: -1"),
        ({"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
        ({"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
        ({"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
        ({"weight_decay": -1}, "Invalid weight_decay value: -1"),
    ],
)
def test_invalid_hyperparameters(options, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        Adam([zeros(1, requires_grad=True)], **options)
