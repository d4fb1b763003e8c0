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


class Listing(nn.Module):
    """Scales its output by an entry of a plain list field it adds to at each call."""

    def __init__(self, entries):
        super().__init__()
        self.lin = nn.Linear(2, 1).double()
        self.lst = entries

    def forward(self, x):
        self.lst[0] += 1.0
        return self.lin(x) * self.lst[0]


def _entries(kind):
    if kind == "floats":
        return [1.0, 2.0]
    return [sd.tensor(1.0, dtype=sd.float64), sd.tensor(2.0, dtype=sd.float64)]


def _in_forward_of_a_global(model):
    @sd.differentiate
    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss

    return lambda x: step(x)


def _in_forward_of_an_argument(model):
    @sd.differentiate
    def step(model, x):
        loss = model(x).sum()
        loss.backward()
        return loss

    return lambda x: step(model, x)


def _in_the_step(model):
    @sd.differentiate
    def step(model, x):
        model.lst[0] += 1.0
        loss = (model.lin(x) * model.lst[0]).sum()
        loss.backward()
        return loss

    return lambda x: step(model, x)


@pytest.mark.parametrize("kind", ["floats", "tensors"])
@pytest.mark.parametrize(
    "where", [_in_forward_of_a_global, _in_forward_of_an_argument, _in_the_step]
)
def test_an_entry_of_a_list_field_updated_in_place(kind, where):
    """As eager code: the entry takes the new value (a Tensor there changed in place, as
    PyTorch's +=), and the gradient is that of the value it had in the call."""
    sd.manual_seed(1)
    x = sd.randn(3, 2, dtype=sd.float64)
    model = Listing(_entries(kind))
    held = model.lst[0]
    step = where(model)
    for n in (2.0, 3.0):
        model.zero_grad()
        loss = step(x)
        assert float(model.lst[0]) == n and float(model.lst[1]) == 2.0
        assert (model.lst[0] is held) == (kind == "tensors")
        with sd.no_grad():
            assert loss.item() == pytest.approx((model.lin(x) * n).sum().item(), rel=1e-12)
        want = (x.numpy() * n).sum(axis=0, keepdims=True)  # d loss / d weight, written out
        np.testing.assert_allclose(model.lin.weight.grad.numpy(), want, rtol=1e-12)


class ReadBeforeUpdate(Listing):
    def forward(self, x):
        y = self.lin(x) * self.lst[0]
        self.lst[0] += 1.0
        return y


@pytest.mark.parametrize("where", [_in_forward_of_a_global, _in_forward_of_an_argument])
def test_an_entry_read_for_the_gradient_then_updated_is_pytorchs_error(where):
    x = sd.randn(3, 2, dtype=sd.float64)
    model = ReadBeforeUpdate(_entries("tensors"))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        model(x).sum().backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        where(model)(x)


class Totals:
    def __init__(self):
        self.model = nn.Linear(3, 2).double()
        self.total = sd.tensor(0.0, dtype=sd.float64)
        self.sums = [sd.tensor(0.0, dtype=sd.float64)]


def _into_a_field(t, loss):
    t.total += loss


def _into_an_entry(t, loss):
    t.sums[0] += loss


@pytest.mark.parametrize("add", [_into_a_field, _into_an_entry])
def test_a_loss_from_a_modules_call_added_into_a_field_is_refused(add):
    """The loss carries a gradient (the module's parameters require grad), though no Tensor
    the step unwraps itself does: the field could not keep it."""

    @sd.differentiate
    def step(t, x, y):
        loss = ((t.model(x) - y) ** 2).mean()
        loss.backward()
        add(t, loss)
        return loss.item()

    x, y = sd.ones(4, 3, dtype=sd.float64), sd.ones(4, 2, dtype=sd.float64)
    with pytest.raises(sd.CompileError, match="may carry a gradient"):
        step(Totals(), x, y)
