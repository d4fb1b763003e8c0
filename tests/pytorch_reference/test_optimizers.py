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


@pytest.mark.parametrize("dtype, rtol, atol", [("float64", 1e-12, 0.0), ("float32", 1e-5, 1e-6)])
def test_nadam_over_many_steps_is_pytorchs(dtype, rtol, atol):
    """Fifty steps: in float64 PyTorch's values to rounding, its float32 product of
    momenta included (kept in float64, the parameters move by about 1e-9 of themselves);
    in float32 to a few units in the last place (PyTorch's float32 square root on the CPU
    is not always correctly rounded), some parameters near 0."""
    got = programs.long_nadam(sd)[f"optim-long/nadam/{dtype}"]
    want = VALUES[f"optim-long/nadam/{dtype}"]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


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


@functools.cache
def _lbfgs(compiled: bool) -> dict[str, list]:
    return programs.lbfgs(sd, sd.differentiate if compiled else None)


# PyTorch's dot products and sums (MKL's BLAS, its vectorized reductions) add in another
# order than NumPy's, and L-BFGS divides by such sums: the last bits differ, and grow
LBFGS_TOLERANCE = {
    "float64": {"rtol": 1e-10, "atol": 1e-13},
    "float32": {"rtol": 1e-4, "atol": 2e-5},
}


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled-closure"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("key", list(programs.LBFGS))
def test_lbfgs_steps_are_pytorchs(key, dtype, compiled):
    got, want = _lbfgs(compiled)[f"lbfgs/{key}/{dtype}"], VALUES[f"lbfgs/{key}/{dtype}"]
    assert len(got) == len(want)
    counts = [i for i in range(len(want)) if i % 12 >= 10]  # the evaluations, exactly
    assert [got[i] for i in counts] == [want[i] for i in counts]
    np.testing.assert_allclose(got, want, **LBFGS_TOLERANCE[dtype])


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_in_a_compiled_step_is_the_eager_one_and_finds_rosenbrocks_minimum(line_search_fn):
    def run(compiled):
        w = sd.tensor([-1.2, 1.0], dtype=sd.float64, requires_grad=True)
        optimizer = sd.optim.LBFGS([w], line_search_fn=line_search_fn, max_iter=50)

        def step():
            def closure():
                optimizer.zero_grad()
                loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
                loss.backward()
                return loss

            return optimizer.step(closure)

        step = sd.differentiate(step) if compiled else step
        losses = [step().item() for _ in range(4)]
        return losses, w.detach().numpy()

    (eager, w_eager), (compiled, w_compiled) = run(False), run(True)
    assert eager == compiled and np.array_equal(w_eager, w_compiled)
    np.testing.assert_allclose(w_eager, [1.0, 1.0], atol=1e-4)


def test_lbfgs_refuses_what_pytorch_refuses():
    p = sd.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="^Invalid learning rate: -1$"):
        sd.optim.LBFGS([p], lr=-1)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        sd.optim.LBFGS([{"params": [p]}, {"params": [sd.zeros(1, requires_grad=True)]}])
    optimizer = sd.optim.LBFGS([p], line_search_fn="backtracking")

    def closure():
        optimizer.zero_grad()
        loss = ((p - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        optimizer.step(closure)
    (group,) = sd.optim.LBFGS([p]).param_groups
    assert {k: v for k, v in group.items() if k != "params"} == {
        "lr": 1, "max_iter": 20, "max_eval": 25, "tolerance_grad": 1e-07,
        "tolerance_change": 1e-09, "history_size": 100, "line_search_fn": None,
    }  # fmt: skip


@functools.cache
def _averaging() -> dict[str, list]:
    return programs.averaging(sd)


AVERAGINGS = list(programs._averagings(sd))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("key", AVERAGINGS)
def test_averaged_models_are_pytorchs(key, dtype):
    assert _averaging()[f"averaging/{key}/{dtype}"] == VALUES[f"averaging/{key}/{dtype}"]
    got = _averaging()[f"averaging-outputs/{key}/{dtype}"]
    want = VALUES[f"averaging-outputs/{key}/{dtype}"]  # (through matmuls and batch norms)
    np.testing.assert_allclose(
        got, want, rtol=RTOL[dtype], atol=1e-6 if dtype == "float32" else 1e-14
    )


@pytest.mark.parametrize("key", ["cos", "linear", "no-anneal"])
def test_swalr_is_pytorchs(key):
    assert _averaging()[f"SWALR/{key}"] == VALUES[f"SWALR/{key}"]


def test_weight_averaging_in_a_compiled_step_is_the_eager_one():
    from srcdiff import nn
    from srcdiff.optim import swa_utils

    def run(compiled):
        sd.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 1))
        model = model.double()
        averaged = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9))
        optimizer = sd.optim.SGD(model.parameters(), lr=0.1)
        scheduler = swa_utils.SWALR(optimizer, swa_lr=0.05, anneal_epochs=2)
        x = sd.tensor(np.linspace(-1, 1, 24).reshape(8, 3))
        y = x.sum(1, keepdim=True) ** 2

        def step(x, y):
            optimizer.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            optimizer.step()
            averaged.update_parameters(model)
            scheduler.step()
            return loss.item()

        step = sd.differentiate(step) if compiled else step
        losses = [step(x, y) for _ in range(4)]
        swa_utils.update_bn([(x, y)], averaged)
        averaged.eval()
        state = [v for t in averaged.state_dict().values() for v in t.numpy().ravel()]
        return losses + state + list(averaged(x).detach().numpy().ravel())

    eager, compiled = run(False), run(True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-12, atol=1e-15)


def test_weight_averaging_refuses_what_pytorch_refuses():
    from srcdiff.optim import swa_utils

    with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided"):
        swa_utils.get_ema_avg_fn(1.5)
    with pytest.raises(ValueError, match=r"Invalid decay value -0.1 provided"):
        swa_utils.get_ema_multi_avg_fn(-0.1)
    model = sd.nn.Linear(2, 1)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())  # fmt: skip
    optimizer = sd.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        swa_utils.SWALR(optimizer, swa_lr=0.01, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        swa_utils.SWALR(optimizer, swa_lr=0.01, anneal_epochs=-1)


def test_lbfgs_resumed_from_a_saved_state_takes_the_steps_of_the_whole_run(tmp_path):
    def make(start):
        w = sd.tensor(start, dtype=sd.float64, requires_grad=True)
        optimizer = sd.optim.LBFGS([w], max_iter=3, history_size=4, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
            loss.backward()
            return loss

        return w, optimizer, closure

    w, optimizer, closure = make([-1.2, 1.0])
    for _ in range(5):
        optimizer.step(closure)
    whole, counts = w.detach().numpy().copy(), dict(optimizer.state[w])
    w, optimizer, closure = make([-1.2, 1.0])
    for _ in range(2):
        optimizer.step(closure)
    sd.save(optimizer.state_dict(), tmp_path / "lbfgs.pt")
    w, resumed, closure = make(w.detach().numpy().copy())
    resumed.load_state_dict(sd.load(tmp_path / "lbfgs.pt"))
    for _ in range(3):
        resumed.step(closure)
    assert np.array_equal(w.detach().numpy(), whole)
    state = resumed.state[w]
    assert (state["n_iter"], state["func_evals"]) == (counts["n_iter"], counts["func_evals"])
