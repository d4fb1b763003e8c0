"""Fields of a module written in a compiled step's forward: a counter of a module passed
to the step as an argument, and a list of values computed from its parameters."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import nn

STEPS = (1e-6, 1e-4)


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2).double()
        self.register_buffer("count", sd.tensor(0))
        self.calls = 0

    def forward(self, x):
        self.count += 1
        self.calls += 1
        return self.lin(x).tanh()


def _loss(model, x, y):
    return ((model(x) - y) ** 2).mean()


@sd.differentiate
def _step(model, x, y):
    loss = _loss(model, x, y)
    loss.backward()
    return loss


def _central(model, x, y):
    """The gradient of the loss in the first layer's weight, by central differences."""
    w = model.lin.weight
    base = w.detach().numpy().copy()
    found = []
    for eps in STEPS:
        d = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            values = []
            for sign in (1.0, -1.0):
                moved = base.copy()
                moved[i] += sign * eps
                with sd.no_grad():
                    w.copy_(sd.tensor(moved))
                    values.append(_loss(model, x, y).item())
            d[i] = (values[0] - values[1]) / (2 * eps)
        found.append(d)
    with sd.no_grad():
        w.copy_(sd.tensor(base))
    return found


def test_a_counter_of_a_module_passed_to_the_step_counts():
    sd.manual_seed(0)
    model = Counting()
    x = sd.randn(4, 3, dtype=sd.float64)
    y = sd.randn(4, 2, dtype=sd.float64)
    counter = model.count
    for _ in range(2):
        model.zero_grad()
        count, calls = model.count.item(), model.calls
        loss = _step(model, x, y)
        assert model.count.item() == count + 1 and model.calls == calls + 1
        assert model.count is counter  # (changed in place, as PyTorch's += changes it)
        with sd.no_grad():
            assert loss.item() == pytest.approx(_loss(model, x, y).item(), rel=1e-12)
        for fd in _central(model, x, y):
            np.testing.assert_allclose(model.lin.weight.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


class Keeping(nn.Module):
    """Keeps the values it computes in a field, as a list."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1).double()

    def forward(self, x):
        h = self.lin(x)
        self.vals = [h * 2, h + 1]
        return self.vals


class KeepingAndReading(Keeping):
    def forward(self, x):
        h = self.lin(x)
        self.vals = [h * 2, h + 1]
        return self.vals[0] + self.vals[1] * h


KEEPING = Keeping()
READING = KeepingAndReading()


def _pair_and_more(x):
    a, b = KEEPING(x)
    return (a * b).sum() + KEEPING.lin(x).sum()


def _read_back(x):
    return READING(x).sum()


@pytest.mark.parametrize("loss_of", [_pair_and_more, _read_back])
def test_a_list_of_values_carrying_a_gradient_kept_in_a_field_is_refused(loss_of):
    """The module could not keep their gradients (compiled code dropped the ones read
    back from the field): refused where the step runs, as a Tensor kept so is."""
    x = sd.randn(3, 2, dtype=sd.float64)
    loss_of(x).backward()  # eagerly, as PyTorch

    @sd.differentiate
    def step(x):
        loss = loss_of(x)
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match="written into an object from outside") as info:
        step(x)
    assert "test_module_fields.py" in str(info.value)
