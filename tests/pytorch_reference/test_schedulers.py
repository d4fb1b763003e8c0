"""MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR and
ChainedScheduler against PyTorch 2.13's learning rates and momenta over 40 epochs, for
two parameter groups, and resumed from the state_dicts of a run stopped after 9 epochs
(recorded by ``record.py`` from ``programs.schedulers``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd

from . import programs

VALUES = json.loads((Path(__file__).parent / "values.json").read_text())
GOT = {}


def _got() -> dict[str, list]:
    if not GOT:
        GOT.update(programs.schedulers(sd))
    return GOT


@pytest.mark.parametrize("key", list(programs._schedulers(sd)))
def test_learning_rates_are_pytorchs(key):
    for prefix in ("lr_scheduler", "lr_scheduler-resumed"):
        got, want = _got()[f"{prefix}/{key}"], VALUES[f"{prefix}/{key}"]
        assert len(got) == len(want) > 0
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=prefix)


def test_warm_restarts_take_fractional_epochs_as_pytorch():
    # T_0 = 10, T_mult = 2: periods 10, 20, 40; epoch 35.5 is 5.5 into the third period
    optimizer = sd.optim.SGD([sd.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = sd.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=2)
    scheduler.step(35.5)
    assert scheduler.T_i == 40 and scheduler.T_cur == 5.5 and scheduler.last_epoch == 35
    assert optimizer.param_groups[0]["lr"] == pytest.approx((1 + math.cos(math.pi * 5.5 / 40)) / 2)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        sd.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=0)


def test_cyclic_lr_cycles_adams_beta1_and_refuses_what_pytorch_refuses():
    optimizer = sd.optim.Adam([sd.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = sd.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, step_size_up=2)
    betas = [optimizer.param_groups[0]["betas"][0]]
    for _ in range(4):
        optimizer.step()
        scheduler.step()
        betas.append(optimizer.param_groups[0]["betas"][0])
    np.testing.assert_allclose(betas, [0.9, 0.85, 0.8, 0.85, 0.9])
    assert optimizer.param_groups[0]["betas"][1] == 0.999
    plain = sd.optim.Adagrad([sd.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        sd.optim.lr_scheduler.CyclicLR(plain, 0.01, 0.1)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        sd.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, mode="square")


def test_multiplicative_lr_and_chained_scheduler_refuse_what_pytorch_refuses():
    optimizer = sd.optim.SGD([sd.zeros(1, requires_grad=True)], lr=0.1)
    sched = sd.optim.lr_scheduler
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        sched.MultiplicativeLR(optimizer, [lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda should be a function, but got float"):
        sched.MultiplicativeLR(optimizer, 0.5)
    with pytest.raises(ValueError, match="expects at least one scheduler to be chained"):
        sched.ChainedScheduler([])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        sched.ChainedScheduler([sched.ReduceLROnPlateau(optimizer)])


COMPILED_KEYS = ["CosineAnnealingWarmRestarts-T_mult", "ChainedScheduler", "CyclicLR-triangular2"]


@pytest.mark.parametrize("key", [*COMPILED_KEYS, "MultiplicativeLR", "PolynomialLR"])
def test_a_compiled_step_steps_the_schedule_as_eager_code(key):
    def step(w, optimizer, scheduler):
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss

    runs = []
    for run in (step, sd.differentiate(step)):
        w = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
        groups = [{"params": [w]}, {"params": [sd.zeros(1, requires_grad=True)], "lr": 0.05}]
        optimizer = sd.optim.SGD(groups, lr=0.1, momentum=0.9)
        scheduler = programs._schedulers(sd)[key](optimizer)
        lrs = []
        for _ in range(12):
            run(w, optimizer, scheduler)
            lrs += [g["lr"] for g in optimizer.param_groups]
        runs.append((w.tolist(), lrs))
    assert runs[1] == runs[0]
