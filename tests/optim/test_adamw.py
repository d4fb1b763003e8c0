"""AdamW against its documented algorithm (decoupled weight decay, then the textbook Adam
step p -= lr * m_hat / (sqrt(v_hat) + eps)), written out here step by step. For AMSGrad,
as PyTorch computes it (and its current documentation states), the maximum is kept of the
raw second moment v, and bias-corrected at each step."""

import numpy as np
import pytest

from srcdiff.creation import tensor
from srcdiff.optim import Adam, AdamW

from .helpers import run_steps

GRADS = [[1.0, -0.5], [-2.0, 0.1], [0.5, 0.3], [0.05, 0.0], [0.7, -1.2]]


def documented_adamw(
    p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    maximize=False,
):  # fmt: skip
    b1, b2 = betas
    p, m, v, v_max = np.array(p, dtype=np.float64), 0.0, 0.0, 0.0
    values = []
    for t, g in enumerate(np.array(grads, dtype=np.float64), start=1):
        if maximize:
            g = -g
        p = p - lr * weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - b2**t)
        else:
            v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        values.append(p)
    return values


def test_constant_gradient_by_hand():
    # m_hat = g and v_hat = g**2, so each step is p * (1 - lr * wd) - lr * sign(g)
    values, _, _ = run_steps(lambda ps: AdamW(ps, lr=0.1, weight_decay=0.5), [2.0], [[3.0]] * 2)
    assert np.allclose(np.ravel(values), [2.0 * 0.95 - 0.1, 1.8 * 0.95 - 0.1], atol=1e-8)


def test_decay_is_not_seen_by_the_moments():
    # Adam's weight decay goes through the gradient (and so through m and v); AdamW's not
    values, p, optimizer = run_steps(lambda ps: AdamW(ps, lr=0.1, weight_decay=0.5), [2.0], [[3.0]])
    assert np.allclose(optimizer.state[p]["exp_avg"].numpy(), 0.1 * 3.0)
    adam, q, adam_optimizer = run_steps(
        lambda ps: Adam(ps, lr=0.1, weight_decay=0.5), [2.0], [[3.0]]
    )
    assert np.allclose(adam_optimizer.state[q]["exp_avg"].numpy(), 0.1 * 4.0)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_without_weight_decay_it_is_adam(amsgrad):
    adamw, _, _ = run_steps(
        lambda ps: AdamW(ps, lr=0.01, weight_decay=0, amsgrad=amsgrad), [1.0, -1.0], GRADS
    )
    adam, _, _ = run_steps(lambda ps: Adam(ps, lr=0.01, amsgrad=amsgrad), [1.0, -1.0], GRADS)
    assert np.array_equal(adamw, adam)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"weight_decay": 0.1, "lr": 0.05},
        {"betas": (0.8, 0.99), "eps": 1e-3},
        {"amsgrad": True},
        {"amsgrad": True, "weight_decay": 0.2, "betas": (0.5, 0.9)},
        {"maximize": True},
        {"maximize": True, "amsgrad": True, "weight_decay": 0.3},
    ],
)
def test_several_steps_match_the_documented_algorithm(options):
    options = {"lr": 0.01, **options}
    values, _, _ = run_steps(lambda ps: AdamW(ps, **options), [1.0, -1.0], GRADS)
    expected = documented_adamw([1.0, -1.0], GRADS, **options)
    assert np.allclose(values, expected, rtol=0, atol=1e-12)


def test_maximize_leaves_the_gradient_alone():
    p = tensor([1.0], requires_grad=True)
    p.grad = tensor([2.0])
    AdamW([p], maximize=True).step()
    assert p.grad.tolist() == [2.0] and p.item() > 1.0


def test_defaults_and_validation():
    p = tensor([1.0], requires_grad=True)
    (group,) = AdamW([p]).param_groups
    assert {k: v for k, v in group.items() if k != "params"} == {
        "lr": 0.001,
        "betas": (0.9, 0.999),
        "eps": 1e-08,
        "weight_decay": 0.01,
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "fused": None,
        "decoupled_weight_decay": True,
    }  # PyTorch 2.13's keys and values
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        AdamW([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        AdamW([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid weight_decay value: -1"):
        AdamW([p], weight_decay=-1)
    with pytest.raises(ValueError, match="Invalid epsilon value: -1"):
        AdamW([p], eps=-1)
