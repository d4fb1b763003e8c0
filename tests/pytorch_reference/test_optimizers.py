"""NAdam, RAdam, Adamax, Adadelta, Rprop and ASGD against PyTorch 2.13's parameters (recorded by
``record.py`` from ``programs.optimizers``): five steps with two parameter groups,
weight decay and maximize, in float64 and float32, eagerly and as a compiled training
step, and resumed from a ``state_dict``."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd

from . import programs

VALUES = json.loads((Path(__file__).parent / "values.json").read_text())
RTOL = {"float64": 1e-6, "float32": 1e-5}


@functools.cache
def _steps(compiled: bool) -> dict[str, list]:
    return programs.optimizers(sd, sd.differentiate if compiled else None)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("key", list(programs.OPTIMIZERS))
def test_steps_are_pytorchs(key, dtype, compiled):
    for prefix in ("optim", "optim-resumed"):
        got, want = _steps(compiled)[f"{prefix}/{key}/{dtype}"], VALUES[f"{prefix}/{key}/{dtype}"]
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=0, err_msg=prefix)


@pytest.mark.parametrize(
    "name, defaults",
    [
        ("NAdam", {"lr": 0.002, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0,
                   "momentum_decay": 0.004, "decoupled_weight_decay": False, "maximize": False,
                   "foreach": None, "capturable": False, "differentiable": False}),
        ("RAdam", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0,
                   "maximize": False, "foreach": None, "capturable": False,
                   "decoupled_weight_decay": False, "differentiable": False}),
        ("Adamax", {"lr": 0.002, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0,
                    "foreach": None, "maximize": False, "differentiable": False,
                    "capturable": False}),
        ("Adadelta", {"lr": 1.0, "rho": 0.9, "eps": 1e-06, "weight_decay": 0, "maximize": False,
                      "capturable": False, "foreach": None, "differentiable": False}),
        ("Rprop", {"lr": 0.01, "etas": (0.5, 1.2), "step_sizes": (1e-06, 50), "foreach": None,
                   "maximize": False, "differentiable": False, "capturable": False}),
        ("ASGD", {"lr": 0.01, "lambd": 0.0001, "alpha": 0.75, "t0": 1000000.0,
                  "weight_decay": 0, "foreach": None, "maximize": False, "differentiable": False,
                  "capturable": False}),
    ],
)  # fmt: skip
def test_defaults_are_pytorchs(name, defaults):
    (group,) = getattr(sd.optim, name)([sd.zeros(1, requires_grad=True)]).param_groups
    assert {k: v for k, v in group.items() if k != "params"} == defaults


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("NAdam", {"lr": -1}, "Invalid learning rate: -1"),
        ("NAdam", {"momentum_decay": -1}, "Invalid momentum_decay value: -1"),
        ("NAdam", {"betas": (1.0, 0.9)}, "Invalid beta parameter at index 0: 1.0"),
        ("RAdam", {"eps": -1}, "Invalid epsilon value: -1"),
        ("RAdam", {"weight_decay": -1}, "Invalid weight_decay value: -1"),
        ("Adamax", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
        ("Adadelta", {"rho": 1.5}, "Invalid rho value: 1.5"),
        ("Adadelta", {"lr": -1, "rho": 2}, "Invalid learning rate: -1"),
        ("Rprop", {"etas": (0.5, 1.0)}, "Invalid eta values: 0.5, 1.0"),
        ("Rprop", {"lr": -1}, "Invalid learning rate: -1"),
        ("ASGD", {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    ],
)
def test_invalid_hyperparameters_are_refused_as_pytorch(name, options, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        getattr(sd.optim, name)([sd.zeros(1, requires_grad=True)], **options)


def test_state_holds_pytorchs_entries_in_the_parameters_dtype():
    expected = {
        "NAdam": {"step", "mu_product", "exp_avg", "exp_avg_sq"},
        "RAdam": {"step", "exp_avg", "exp_avg_sq"},
        "Adamax": {"step", "exp_avg", "exp_inf"},
        "Adadelta": {"step", "square_avg", "acc_delta"},
        "Rprop": {"step", "prev", "step_size"},
        "ASGD": {"step", "eta", "mu", "ax"},
    }
    for name, keys in expected.items():
        p = sd.tensor([1.0, -2.0], dtype=sd.float32, requires_grad=True)
        optimizer = getattr(sd.optim, name)([p])
        (p * p).sum().backward()
        optimizer.step()
        state = optimizer.state[p]
        assert set(state) == keys and state["step"] == 1
        assert all(v.dtype == sd.float32 for v in state.values() if isinstance(v, sd.Tensor))
    p = sd.tensor([1.0, -2.0], dtype=sd.float64, requires_grad=True)
    for name in ("NAdam", "ASGD"):  # their 0-d numbers are float32, as PyTorch's
        optimizer = getattr(sd.optim, name)([p])
        (p * p).sum().backward()
        optimizer.step()
        numbers = [
            v for v in optimizer.state[p].values() if isinstance(v, sd.Tensor) and not v.ndim
        ]
        assert numbers and all(v.dtype == sd.float32 for v in numbers)
