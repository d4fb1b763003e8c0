"""Adagrad against PyTorch's documented algorithm, written out here step by step
(clr = lr / (1 + (t - 1) * lr_decay), state_sum += g**2, p -= clr * g / (sqrt(sum) + eps))."""

import numpy as np
import pytest

from srcdiff.creation import tensor
from srcdiff.optim import Adagrad

from .helpers import run_steps

GRADS = [[1.0, -0.5], [-2.0, 0.1], [0.5, 0.3], [0.05, 0.0], [0.7, -1.2]]


def documented_adagrad(
    p, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
    eps=1e-10, maximize=False,
):  # fmt: skip
    p = np.array(p, dtype=np.float64)
    state_sum = np.full_like(p, initial_accumulator_value)
    values = []
    for t, g in enumerate(np.array(grads, dtype=np.float64), start=1):
        if maximize:
            g = -g
        clr = lr / (1 + (t - 1) * lr_decay)
        if weight_decay != 0:
            g = g + weight_decay * p
        state_sum = state_sum + g**2
        p = p - clr * g / (np.sqrt(state_sum) + eps)
        values.append(p)
    return values


def test_two_steps_by_hand():
    # sums 9, 16 then 25, 25: steps 0.1 * (3/3, 4/4) then 0.1 * (4/5, 3/5)
    values, _, _ = run_steps(lambda ps: Adagrad(ps, lr=0.1, eps=0), [0.0, 0.0], [[3, -4], [4, 3]])
    assert np.allclose(values, [[-0.1, 0.1], [-0.18, 0.04]], rtol=0, atol=1e-15)


def test_lr_decay_and_initial_accumulator_by_hand():
    # clr = 0.1 / (1 + 1 * 1) = 0.05 at step 2; sums 16 + 9 = 25, then 25 + 16 = 41
    values, _, _ = run_steps(
        lambda ps: Adagrad(ps, lr=0.1, lr_decay=1.0, initial_accumulator_value=16.0, eps=0),
        [0.0],
        [[3.0], [4.0]],
    )
    assert np.allclose(np.ravel(values), [-0.06, -0.06 - 0.05 * 4 / np.sqrt(41)], atol=1e-15)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lr": 0.5, "lr_decay": 0.1},
        {"weight_decay": 0.1},
        {"initial_accumulator_value": 0.3, "eps": 1e-3},
        {"maximize": True},
        {"maximize": True, "weight_decay": 0.2, "lr_decay": 0.5},
    ],
)
def test_several_steps_match_the_documented_algorithm(options):
    values, _, _ = run_steps(lambda ps: Adagrad(ps, **options), [1.0, -1.0], GRADS)
    expected = documented_adagrad([1.0, -1.0], GRADS, **options)
    assert np.allclose(values, expected, rtol=0, atol=1e-12)


def test_state_is_made_by_the_constructor_and_for_a_group_added_later_at_its_step():
    a, b = tensor([1.0, 2.0], requires_grad=True), tensor([3.0], requires_grad=True)
    optimizer = Adagrad([a], initial_accumulator_value=0.5)
    optimizer.add_param_group({"params": [b], "initial_accumulator_value": 2.0})
    assert optimizer.state[a]["step"] == 0 and optimizer.state[a]["sum"].tolist() == [0.5, 0.5]
    assert list(optimizer.state_dict()["state"]) == [0]  # as PyTorch's: nothing for b yet
    (a.sum() + b.sum()).backward()
    optimizer.step()
    assert optimizer.state[b]["step"] == 1 and optimizer.state[b]["sum"].tolist() == [1.5]


def test_defaults_and_validation():
    p = tensor([1.0], requires_grad=True)
    (group,) = Adagrad([p]).param_groups
    assert {k: v for k, v in group.items() if k != "params"} == {
        "lr": 0.01,
        "lr_decay": 0,
        "weight_decay": 0,
        "initial_accumulator_value": 0,
        "eps": 1e-10,
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "fused": None,
    }  # PyTorch 2.13's keys and values
    for name, message in [
        ("lr", "Invalid learning rate: -1"),
        ("lr_decay", "Invalid lr_decay value: -1"),
        ("weight_decay", "Invalid weight_decay value: -1"),
        ("initial_accumulator_value", "Invalid initial_accumulator_value value: -1"),
        ("eps", "Invalid epsilon value: -1"),
    ]:
        with pytest.raises(ValueError, match=message):
            Adagrad([p], **{name: -1})


def test_the_accumulators_start_at_the_constructors_value_in_every_group():
    # PyTorch 2.13 fills every sum with the constructor's initial_accumulator_value, also
    # for a group given its own (kept in the group, never read) and one added later
    a, b, c = (tensor([1.0], requires_grad=True) for _ in range(3))
    optimizer = Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 3.0}],
                        lr=1.0)  # fmt: skip
    optimizer.add_param_group({"params": [c], "initial_accumulator_value": 8.0})
    (a + b + c).sum().backward()
    optimizer.step()
    assert [p.tolist() for p in (a, b, c)] == [[0.0], [0.0], [0.0]]  # PyTorch's values
    assert optimizer.param_groups[1]["initial_accumulator_value"] == 3.0
