"""RMSprop, AdamW and Adagrad with parameter groups of their own options, and saved and
loaded mid-training: the loaded run continues exactly as the uninterrupted one."""

import copy

import numpy as np
import pytest

from srcdiff import nn
from srcdiff.creation import manual_seed, randn, tensor
from srcdiff.optim import Adagrad, Adam, AdamW, RMSprop

from .test_adagrad import documented_adagrad
from .test_adamw import documented_adamw
from .test_rmsprop import documented_rmsprop

GRADS_A = [[1.0, -0.5], [-2.0, 0.1], [0.5, 0.3], [0.05, 0.0]]
GRADS_B = [[0.3], [-0.2], [1.5], [-0.7]]


@pytest.mark.parametrize(
    "cls, reference, defaults, own",
    [
        (
            RMSprop,
            documented_rmsprop,
            {"lr": 0.01},
            {"lr": 0.05, "momentum": 0.9, "centered": True},
        ),
        (AdamW, documented_adamw, {"lr": 0.01}, {"lr": 0.1, "weight_decay": 0.3, "amsgrad": True}),
        (Adagrad, documented_adagrad, {"lr": 0.1}, {"lr_decay": 0.5, "maximize": True}),
    ],
)
def test_each_group_follows_its_own_options(cls, reference, defaults, own):
    a = tensor(np.array([1.0, -1.0]), requires_grad=True)  # float64 throughout
    b = tensor(np.array([2.0]), requires_grad=True)
    optimizer = cls([{"params": [a]}, {"params": [b], **own}], **defaults)
    assert optimizer.param_groups[1] == {**optimizer.param_groups[0], **own, "params": [b]}
    for ga, gb in zip(GRADS_A, GRADS_B, strict=True):
        a.grad, b.grad = tensor(np.array(ga)), tensor(np.array(gb))
        optimizer.step()
    expected_a = reference([1.0, -1.0], GRADS_A, **defaults)[-1]
    expected_b = reference([2.0], GRADS_B, **{**defaults, **own})[-1]
    assert np.allclose(a.detach().numpy(), expected_a, rtol=0, atol=1e-12)
    assert np.allclose(b.detach().numpy(), expected_b, rtol=0, atol=1e-12)


def model_and_batch():
    manual_seed(0)
    return nn.Linear(3, 2), randn(8, 3), randn(8, 2)


def train(model, optimizer, x, y, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
        lambda ps: AdamW(ps, lr=0.01, amsgrad=True, maximize=True),
        lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1),
    ],
)
def test_state_dict_round_trip_continues_the_same_run(make):
    model, x, y = model_and_batch()
    optimizer = make(model.parameters())
    train(model, optimizer, x, y, 3)
    saved = optimizer.state_dict()
    assert set(saved["state"]) == {0, 1} and saved["state"][0]["step"] == 3
    twin = copy.deepcopy(model)
    twin_optimizer = make(twin.parameters())
    twin_optimizer.param_groups[0]["lr"] = 123.0  # replaced by the loaded value
    twin_optimizer.load_state_dict(saved)
    assert twin_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    train(model, optimizer, x, y, 4)
    train(twin, twin_optimizer, x, y, 4)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    assert twin_optimizer.state[next(twin.parameters())]["step"] == 7


def test_the_loaded_state_matters():
    # a fresh optimizer from the same point goes elsewhere: the round trip above tests something
    model, x, y = model_and_batch()
    optimizer = RMSprop(model.parameters(), momentum=0.9)
    train(model, optimizer, x, y, 3)
    twin = copy.deepcopy(model)
    train(model, optimizer, x, y, 2)
    train(twin, RMSprop(twin.parameters(), momentum=0.9), x, y, 2)
    assert not np.allclose(model.weight.detach().numpy(), twin.weight.detach().numpy())


def test_a_loaded_state_is_not_shared_with_the_saved_one():
    model, x, y = model_and_batch()
    optimizer = RMSprop(model.parameters(), momentum=0.9)
    train(model, optimizer, x, y, 1)
    before = {
        k: v.numpy().copy() for k, v in optimizer.state_dict()["state"][0].items() if k != "step"
    }
    twin = copy.deepcopy(model)
    twin_optimizer = RMSprop(twin.parameters(), momentum=0.9)
    twin_optimizer.load_state_dict(optimizer.state_dict())
    train(twin, twin_optimizer, x, y, 2)
    after = optimizer.state_dict()["state"][0]
    assert all(np.array_equal(after[k].numpy(), v) for k, v in before.items())


def test_a_state_dict_refers_to_the_live_state_as_pytorchs_does():
    # saved without a copy and training goes on: its step count and its averages move
    # together (a step count frozen at saving beside averages that moved on mixed two
    # points of the run when loaded); a deepcopy keeps the point it was taken at
    model, x, y = model_and_batch()
    optimizer = Adam(model.parameters(), lr=0.01)
    train(model, optimizer, x, y, 2)
    saved, snapshot = optimizer.state_dict(), copy.deepcopy(optimizer.state_dict())
    train(model, optimizer, x, y, 1)
    live = optimizer.state[next(model.parameters())]
    assert saved["state"][0]["step"] == live["step"] == 3
    assert np.array_equal(saved["state"][0]["exp_avg"].numpy(), live["exp_avg"].numpy())
    assert snapshot["state"][0]["step"] == 2
    assert not np.array_equal(snapshot["state"][0]["exp_avg"].numpy(), live["exp_avg"].numpy())
