"""Modules and functions inlined into compiled Tensor code (``compiler/inline``): the
gradients of the calls, compiled again when an object inlined is no longer the one found,
and the callee's own lines in the source and in errors."""

from __future__ import annotations

import traceback

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler import inline


def scaled(h, factor=2.0):
    return h * factor


def shifted_tanh(h, shift):
    if shift == 0.0:
        return h.tanh()
    shift = shift * 1.0  # a parameter the callee assigns: passed as a copy
    return (h - shift).tanh()


HELPER = scaled


class Affine(sd.nn.Module):
    def __init__(self, a: float = 0.5, b: float = -1.5):
        super().__init__()
        self.a = sd.nn.Parameter(sd.tensor([a]))
        self.b = sd.nn.Parameter(sd.tensor([b]))

    def forward(self, x):
        return self.a + self.b * x


class Branchy(sd.nn.Module):
    """A module calling a module, functions with defaults and keywords, returning early."""

    def __init__(self, early: bool):
        super().__init__()
        self.inner = Affine(0.3, 0.7)
        self.early = early

    def forward(self, x):
        h = self.inner(x)
        if self.early:
            return scaled(h)
        h = scaled(h, factor=3.0)
        return shifted_tanh(h, shift=0.25) + shifted_tanh(h, 0.0)


class Global(sd.nn.Module):
    """A module whose code calls a function through a global, rebound by a test."""

    def __init__(self):
        super().__init__()
        self.w = sd.nn.Parameter(sd.tensor([1.5, -0.5]))

    def forward(self, x):
        return HELPER(self.w * x)


def data():
    x = sd.tensor(np.linspace(-1.0, 1.0, 6).reshape(3, 2))
    return x, sd.tensor(np.linspace(0.5, -0.5, 6).reshape(3, 2))


def make_step(model, loss_fn):
    def step(x, y):
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss.item()

    return step


def gradients(model) -> list[np.ndarray]:
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    return grads


def eager_gradients(model, loss_fn, x, y) -> list[np.ndarray]:
    loss_fn(model(x), y).backward()
    return gradients(model)


MODELS = {
    "affine": lambda: Affine(),
    "early return": lambda: Branchy(early=True),
    "branches, keywords, copies": lambda: Branchy(early=False),
    "through a global": lambda: Global(),
}


@pytest.mark.parametrize("make", list(MODELS.values()), ids=list(MODELS))
def test_an_inlined_step_gives_the_gradients_of_eager_code_and_of_calls(monkeypatch, make):
    x, y = data()
    model, loss_fn = make(), sd.nn.MSELoss()
    want = eager_gradients(model, loss_fn, x, y)
    step = sd.differentiate(make_step(model, loss_fn))
    for _ in range(2):
        value = step(x, y)
        for got, expected in zip(gradients(model), want, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-12)
    source = sd.source(step)
    assert "# called:" not in source  # the module, the loss and their callees inlined
    assert "test_inlining.py:" in source and "srcdiff/nn/functional.py:" in source
    monkeypatch.setattr(inline, "DEPTH", 0)  # the same step with calls
    called = sd.differentiate(make_step(model, loss_fn))
    assert called(x, y) == pytest.approx(value, rel=1e-12)
    for got, expected in zip(gradients(model), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert "# called:" in sd.source(called)


def assert_gradients(model, want: list[np.ndarray]) -> None:
    for got, expected in zip(gradients(model), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_a_model_rebound_after_compiling_is_the_one_differentiated():
    x, y = data()
    first, second, loss_fn = Affine(0.5, -1.5), Branchy(early=False), sd.nn.MSELoss()
    model = first

    def body(x, y):
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss.item()

    step = sd.differentiate(body)
    want = eager_gradients(first, loss_fn, x, y)
    step(x, y)
    assert_gradients(first, want)
    model = second  # the closure's cell now holds a module of another class
    want = eager_gradients(second, loss_fn, x, y)
    step(x, y)
    assert first.a.grad is None and first.b.grad is None
    assert_gradients(second, want)


def test_a_forward_replaced_on_the_class_or_the_instance_is_the_one_run(monkeypatch):
    x, y = data()
    model, loss_fn = Affine(), sd.nn.MSELoss()
    step = sd.differentiate(make_step(model, loss_fn))
    step(x, y)
    gradients(model)

    def cubic(self, x):
        return self.a + self.b * x**3

    monkeypatch.setattr(Affine, "forward", cubic)
    want = eager_gradients(model, loss_fn, x, y)
    step(x, y)
    assert_gradients(model, want)

    def doubled(x):
        return (model.a + model.b * x) * 2.0

    model.forward = doubled  # the instance's own forward, run by model(x)
    want = eager_gradients(model, loss_fn, x, y)
    step(x, y)
    assert_gradients(model, want)


def quintupled(h):
    return scaled(h, 5.0)


def test_a_global_of_the_callee_rebound_after_compiling_is_the_one_run(monkeypatch):
    x, y = data()
    model, loss_fn = Global(), sd.nn.MSELoss()
    step = sd.differentiate(make_step(model, loss_fn))
    step(x, y)
    gradients(model)
    monkeypatch.setitem(globals(), "HELPER", quintupled)
    want = eager_gradients(model, loss_fn, x, y)
    step(x, y)
    assert_gradients(model, want)
    assert "return scaled(h, 5.0)" in sd.source(step)


class Checked(sd.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = sd.nn.Parameter(sd.tensor([1.0, 2.0]))

    def forward(self, x):
        if x.shape[-1] != 2:
            raise ValueError("expected 2 features")
        return self.w * x


def test_an_error_in_inlined_code_is_raised_at_the_call_and_the_source_names_its_line():
    model, loss_fn = Checked(), sd.nn.MSELoss()
    step = sd.differentiate(make_step(model, loss_fn))
    x, y = data()
    step(x, y)
    line = Checked.forward.__code__.co_firstlineno + 2
    assert f"test_inlining.py:{line}: raise ValueError" in sd.source(step)
    with pytest.raises(ValueError, match="expected 2 features") as info:
        step(sd.tensor(np.ones((3, 3))), sd.tensor(np.ones((3, 3))))
    frames = traceback.extract_tb(info.value.__traceback__)
    call_line = make_step.__code__.co_firstlineno + 2  # loss = loss_fn(model(x), y)
    assert any(f.filename == __file__ and f.lineno == call_line for f in frames)


def test_calls_whose_callee_changes_at_every_step_are_left_as_calls_after_a_while():
    """A model rebound before every step would make every step compile the step again:
    after ``inline.REINLINED`` compilations the step calls its callees instead."""
    x, y = data()
    models = [Affine(0.5, -1.5), Branchy(early=True)]
    loss_fn = sd.nn.MSELoss()
    model = models[0]

    def body(x, y):
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss.item()

    step = sd.differentiate(body)
    for k in range(inline.REINLINED + 4):
        model = models[k % 2]  # noqa: F841 (read by body through its closure)
        want = eager_gradients(model, loss_fn, x, y)
        step(x, y)
        assert_gradients(model, want)
    assert "# called:" in sd.source(step)  # no longer inlined


def test_the_diagnostics_of_a_gradient_with_inlined_calls_name_the_callees_lines():
    model = Branchy(early=False)

    def loss(x):
        return (model(x) ** 2).sum()

    x = sd.tensor(np.linspace(-1.0, 1.0, 6).reshape(3, 2), requires_grad=True)
    g = sd.grad(loss)
    g(x)
    assert "all agree" in str(sd.check_grad(g, x))  # Tensors among the values: not moved
    (path,) = sd.paths(g)
    line = Branchy.forward.__code__.co_firstlineno + 2
    assert any(f"test_inlining.py:{line}: `if self.early:` not taken" in c for c in path.choices)
    shown = str(sd.explain(g, x)) + sd.source(g)
    assert f"test_inlining.py:{line}: if self.early:" in shown
    assert str(inline.VIRTUAL) not in shown and "line 1677" not in shown
