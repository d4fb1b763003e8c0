"""A compiled training step's ``optimizer.step()`` of a plain SGD, written into its
primal as the update (``compiler/steps``): the same numbers as eager code, bit for bit,
and the step run as written wherever the optimizer is not that update any more."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import nn, optim
from srcdiff import runtime as rt

STEPS = 6


class Affine(nn.Module):
    """Parameters of one number (as the tutorial's regression) and a matrix."""

    def __init__(self, dtype):
        super().__init__()
        self.a = nn.Parameter(sd.tensor([0.3], dtype=dtype))
        self.b = nn.Parameter(sd.tensor([-0.7], dtype=dtype))
        self.weight = nn.Parameter(sd.tensor([[0.1, -0.2, 0.25]], dtype=dtype))

    def forward(self, x):
        return self.a + self.b * (x @ self.weight.T)


def _data(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3))
    y = 1.0 + 2.0 * x[:, :1] + 0.1 * rng.standard_normal((8, 1))
    return sd.tensor(x, dtype=dtype), sd.tensor(y, dtype=dtype)


def _train(compiled, change=None, dtype=sd.float64, steps=STEPS, **options):
    """Parameters after each step of ``steps``, ``change(i, model, optimizer)`` run before
    step i; the step eager or compiled."""
    model = Affine(dtype)
    optimizer = optim.SGD(model.parameters(), lr=options.pop("lr", 0.1), **options)
    loss_fn = nn.MSELoss()

    def step(x, y):
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    run = sd.differentiate(step) if compiled else step
    x, y = _data(dtype)
    history = []
    for i in range(steps):
        if change is not None:
            change(i, model, optimizer)
        run(x, y)
        stepped = [p for group in optimizer.param_groups for p in group["params"]]
        history.append([p.detach().numpy().copy() for p in stepped])
    return history, run


def _bits(history):
    return [[(a.dtype.str, a.shape, a.tobytes()) for a in step] for step in history]


@pytest.fixture
def inlined(monkeypatch):
    """How many calls took the update written inline (``rt.sgd_arrays`` gave arrays)."""
    taken = []
    real = rt.sgd_arrays

    def spy(optimizer, count):
        arrays = real(optimizer, count)
        taken.append(arrays is not None)
        return arrays

    monkeypatch.setattr(rt, "sgd_arrays", spy)
    return taken


@pytest.mark.parametrize("dtype", [sd.float64, sd.float32], ids=["float64", "float32"])
def test_the_update_written_inline_gives_eager_codes_bits(inlined, dtype):
    eager, _ = _train(False, dtype=dtype)
    compiled, _ = _train(True, dtype=dtype)
    assert _bits(compiled) == _bits(eager)
    assert inlined == [True] * STEPS


def test_the_source_shows_the_update_under_the_steps_line():
    _, run = _train(True)
    text = sd.source(run)
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index("# line 45: optimizer.step()")
    assert lines[at + 1 : at + 10] == [
        "step1 = rt.sgd_arrays(optimizer, 3)",
        "if step1 is None:",
        "optimizer.step()",
        "else:",
        "alpha, a, a_grad, b, b_grad, weight, weight_grad = step1",
        "rt.descend(a, a_grad, alpha)",
        "rt.descend(b, b_grad, alpha)",
        "rt.descend(weight, weight_grad, alpha)",
        "# line 46: optimizer.zero_grad()",
    ]


def _scheduled(i, model, optimizer):
    if i == 0:
        optimizer.scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    else:
        optimizer.scheduler.step()


def _set(key, value, at=2):
    def change(i, model, optimizer):
        if i == at:
            optimizer.param_groups[0][key] = value

    return change


def _added_group(i, model, optimizer):
    if i == 2:
        extra = nn.Parameter(sd.tensor([1.0, 2.0], dtype=sd.float64))
        optimizer.add_param_group({"params": [extra], "lr": 0.5})
    if i >= 2:  # (a gradient given by hand: zero_grad takes it away after each step)
        optimizer.param_groups[1]["params"][0].grad = sd.tensor([0.5, -1.0], dtype=sd.float64)


def _appended(i, model, optimizer):
    if i == 2:
        optimizer.param_groups[0]["params"].append(nn.Parameter(sd.tensor([1.0, 2.0])))
    if i >= 2:
        optimizer.param_groups[0]["params"][-1].grad = sd.tensor([0.5, -1.0])


def _grad_left_none(i, model, optimizer):
    if i >= 2:
        model.weight.requires_grad_(False)  # no gradient: zero_grad leaves it None


def _replaced(i, model, optimizer):
    if i == 2:
        fresh = nn.Parameter(sd.tensor([[1.0, 2.0, 3.0]], dtype=sd.float64))
        model.weight = fresh
        optimizer.param_groups[0]["params"][2] = fresh


def _loaded(i, model, optimizer):
    if i == 2:
        state = optimizer.state_dict()
        state["param_groups"][0].update(lr=0.03, momentum=0.5)
        optimizer.load_state_dict(state)


def _tensor_lr(i, model, optimizer):
    if i == 2:
        optimizer.param_groups[0]["lr"] = sd.tensor(0.02, dtype=sd.float64)


def _step_replaced(i, model, optimizer):
    if i == 2:
        real = optimizer.step

        def halved():
            for p in model.parameters():
                p.grad.mul_(0.5)
            real()

        optimizer.step = halved


FALLBACKS = {
    "lr changed by a scheduler": (_scheduled, STEPS),
    "lr set on the group": (_set("lr", 0.4), STEPS),
    "momentum set on the group": (_set("momentum", 0.9), 2),
    "nesterov momentum set": (
        lambda i, m, o: o.param_groups[0].update(momentum=0.8, nesterov=True) if i == 3 else None,
        3,
    ),
    "weight decay set": (_set("weight_decay", 0.05), 2),
    "maximize set": (_set("maximize", True), 2),
    "a group added": (_added_group, 2),
    "a parameter appended to the group": (_appended, 2),
    "a gradient left None": (_grad_left_none, 2),
    "a parameter replaced": (_replaced, STEPS),
    "a state dict loaded": (_loaded, 2),
    "lr a Tensor": (_tensor_lr, 2),
    "step replaced on the optimizer": (_step_replaced, 2),
}


@pytest.mark.parametrize("name", list(FALLBACKS))
def test_a_change_of_the_optimizer_runs_its_step(inlined, name):
    """Each change made between steps gives eager code's numbers: the update written
    inline where the optimizer is still that update, its step() as written elsewhere."""
    change, fast = FALLBACKS[name]
    eager, _ = _train(False, change)
    inlined.clear()
    compiled, _ = _train(True, change)
    assert _bits(compiled) == _bits(eager)
    assert inlined[:fast] == [True] * fast  # (the update written inline ran before it)
    assert not any(inlined[fast:])


def test_an_optimizer_passed_as_an_argument_is_stepped_as_written(inlined):
    model = Affine(sd.float64)
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    @sd.differentiate
    def step(x, y, opt):
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        opt.zero_grad()

    x, y = _data(sd.float64)
    step(x, y, optimizer)
    assert "sgd_arrays" not in sd.source(step) and inlined == []
