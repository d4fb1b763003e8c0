"""Modules and functions inlined into compiled Tensor code (``compiler/inline``): the
gradients of the calls, compiled again when an object inlined is no longer the one found,
and the callee's own lines in the source and in errors."""

from __future__ import annotations

import sys
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


def compiled_step(model, loss_fn, x, y):
    """The step of ``model``, compiled and run once (its gradients then cleared)."""
    step = sd.differentiate(make_step(model, loss_fn))
    step(x, y)
    gradients(model)
    return step


def assert_step_as_eager(step, model, loss_fn, x, y) -> None:
    want = eager_gradients(model, loss_fn, x, y)
    step(x, y)
    assert_gradients(model, want)


def test_a_forward_replaced_on_the_class_or_the_instance_is_the_one_run(monkeypatch):
    x, y = data()
    model, loss_fn = Affine(), sd.nn.MSELoss()
    step = compiled_step(model, loss_fn, x, y)

    def cubic(self, x):
        return self.a + self.b * x**3

    monkeypatch.setattr(Affine, "forward", cubic)
    assert_step_as_eager(step, model, loss_fn, x, y)

    def doubled(x):
        return (model.a + model.b * x) * 2.0

    model.forward = doubled  # the instance's own forward, run by model(x)
    assert_step_as_eager(step, model, loss_fn, x, y)


def test_a_call_replaced_on_the_class_or_its_base_runs_instead_of_forward(monkeypatch):
    """A module's forward is inlined where its class calls it as nn.Module does: a
    ``__call__`` of the class's own, or nn.Module's replaced (before compiling or after),
    runs instead. (nn.Module's replaced was taken for the one srcdiff knows, and its
    forward differentiated alone, without a word.)"""
    x, y = data()
    model, loss_fn = Affine(), sd.nn.MSELoss()
    step = compiled_step(model, loss_fn, x, y)
    base_call = sd.nn.Module.__call__

    def tripled(self, *args):
        return base_call(self, *args) * 3.0

    monkeypatch.setattr(Affine, "__call__", tripled, raising=False)
    assert_step_as_eager(step, model, loss_fn, x, y)
    monkeypatch.undo()
    assert_step_as_eager(step, model, loss_fn, x, y)
    monkeypatch.setattr(sd.nn.Module, "__call__", tripled)
    assert_step_as_eager(step, model, loss_fn, x, y)
    step = sd.differentiate(make_step(model, loss_fn))  # compiled with it replaced
    assert_step_as_eager(step, model, loss_fn, x, y)


def quintupled(h):
    return scaled(h, 5.0)


def test_a_global_of_the_callee_rebound_after_compiling_is_the_one_run(monkeypatch):
    x, y = data()
    model, loss_fn = Global(), sd.nn.MSELoss()
    step = compiled_step(model, loss_fn, x, y)
    monkeypatch.setitem(globals(), "HELPER", quintupled)
    assert_step_as_eager(step, model, loss_fn, x, y)
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


# ---- each case: a step function (made afresh), run eager, inlined and called ----------

W0 = [1.0, -2.0, 0.3]
X0 = [0.5, -1.5, 2.0]


def doubled_if(h, flag):
    if flag:
        return h * 2.0
    h = h + 1.0  # falls off the end: the call gives None


def gated(h):
    with sd.no_grad():
        c = h * 2.0  # c is also a name of the caller
    return h * c


def maybe_unbound(h, flag):
    if flag:
        y = h * 2.0
    return y


class Mode(int):
    """An int subclass, written as its repr: a default of it is not a constant to inline."""

    def __repr__(self) -> str:
        return "<Mode 2>"


MODE = Mode(2)


def scaled_by_mode(h, mode=MODE):
    return h * mode


def keyword_scaled(h, *, s=2.0):
    return h * s


def case_falls_off(w, x):
    r = doubled_if(x * w, True)
    return (r * r).sum()


def case_no_grad_name(w, x):
    c = x * w
    return (gated(c) + c).sum()


def case_unbound_in_loop(w, x):
    h = x * w
    total = h * 0.0
    for i in range(2):
        total = total + maybe_unbound(h, i == 0)  # the second call raises
    return total.sum()


def case_int_subclass_default(w, x):
    return scaled_by_mode(x * w).sum()


CASES = [case_falls_off, case_no_grad_name, case_unbound_in_loop, case_int_subclass_default]


def outcome(step, w, x) -> tuple:
    """The step's value (or its exception's type) and w's gradient."""
    w.grad = None
    try:
        value = step(x)
    except Exception as exc:  # noqa: BLE001 (the exception is what is compared)
        return type(exc).__name__, None
    return value, None if w.grad is None else w.grad.numpy().tolist()


def stepped(case):
    """A fresh step calling ``case`` on a leaf ``w`` and data ``x``, with its leaf."""
    w = sd.tensor(W0, requires_grad=True)

    def step(x):
        loss = case(w, x)
        loss.backward()
        return loss.item()

    return step, w


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__.removeprefix("case_"))
def test_an_inlined_callee_behaves_as_its_call(monkeypatch, case):
    """Code that falls off its end, names a caller's name under no_grad, reads a local
    it may not have assigned (in a loop of the caller), or has a default written by its
    repr: inlined (or left a call) it gives what the eager code gives."""
    x = sd.tensor(X0)
    step, w = stepped(case)
    eager = outcome(step, w, x)
    step, w = stepped(case)
    inlined = sd.differentiate(step)
    for _ in range(2):
        assert_same(outcome(inlined, w, x), eager)
    monkeypatch.setattr(inline, "DEPTH", 0)
    step, w = stepped(case)
    assert_same(outcome(sd.differentiate(step), w, x), eager)


def assert_same(got: tuple, want: tuple) -> None:
    if isinstance(want[0], str):  # an exception's type
        assert got == want
        return
    assert got[0] == pytest.approx(want[0], rel=1e-6)
    assert (got[1] is None) == (want[1] is None)
    if want[1] is not None:
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_a_callees_code_and_keyword_defaults_changed_after_compiling_are_seen():
    x = sd.tensor(X0)

    def tripled(h):
        return h * 3.0

    step, w = stepped(lambda w, x: (keyword_scaled(x * w) + HELPER(x * w)).sum())
    compiled = sd.differentiate(step)
    seen = [outcome(compiled, w, x)]
    original = scaled.__code__
    try:
        keyword_scaled.__kwdefaults__["s"] = 5.0  # in place: the same dict
        want = outcome(step, w, x)
        assert_same(outcome(compiled, w, x), want)
        scaled.__code__ = tripled.__code__  # HELPER is scaled: the same function
        seen.append(want)
        want = outcome(step, w, x)
        assert_same(outcome(compiled, w, x), want)
        seen.append(want)
    finally:
        keyword_scaled.__kwdefaults__["s"] = 2.0
        scaled.__code__ = original
    assert len({round(value, 6) for value, _ in seen}) == 3  # each change changed the value


class Acting(sd.nn.Module):
    """A module whose call target is a property, and whose class calls more than forward."""

    def __init__(self):
        super().__init__()
        self.w = sd.nn.Parameter(sd.tensor(W0))
        self.reads = 0

    @property
    def act(self):
        self.reads += 1
        return scaled

    def forward(self, x):
        return self.act(self.w * x)

    def __call__(self, x):
        return self.forward(x) * 10.0


def test_a_property_is_read_when_the_code_runs_and_an_own_call_is_the_one_run():
    model, x = Acting(), sd.tensor(X0)

    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss.item()

    want = step(x)
    grad = model.w.grad.numpy().tolist()
    model.w.grad, model.reads = None, 0
    compiled = sd.differentiate(step)
    for _ in range(3):
        assert compiled(x) == pytest.approx(want)
        assert model.w.grad.numpy().tolist() == pytest.approx(grad)
        model.w.grad = None
    assert model.reads == 3  # once a step, as the eager code reads it


# ---- what the code before an inlined call may change ---------------------------------

OFFSET = 100.0  # read by offset(); also a local's name in doubled_locally()
SCALE = 1.0


def doubled_locally(t):
    OFFSET = t * 2.0  # noqa: N806 (a local named like the global offset() reads)
    return OFFSET


def offset(t):
    return t + OFFSET


class Activated(sd.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = sd.nn.Parameter(sd.tensor([1.0, -2.0]))
        self.act = sd.nn.ReLU()

    def forward(self, x):
        return (self.act(self.w * x) * SCALE).sum()


def test_inlined_code_sees_what_the_code_before_it_changed():
    """A submodule replaced, or a global the callee reads rebound, in the step before the
    call: the call runs as it would (inlined code checks there that the objects it was
    compiled for are still found), and a callee's local is not another callee's global."""
    this = sys.modules[__name__]
    net, x = Activated(), sd.tensor([1.0, 1.0])

    def step(act, scale):
        net.act = act
        this.SCALE = scale
        loss = net(x)
        loss.backward()
        return loss.item()

    def values(fn):
        out = []
        for act, scale in [(sd.nn.Tanh(), 2.0), (sd.nn.Tanh(), 3.0), (sd.nn.ReLU(), 5.0)]:
            out += [fn(act, scale), *net.w.grad.numpy().tolist()]
            net.w.grad = None
        return out

    try:
        want = values(step)
        compiled = sd.differentiate(step)
        assert values(compiled) == pytest.approx(want)
        assert "rt.inlined(_site" in sd.source(compiled)
    finally:
        this.SCALE = 1.0
    w = sd.tensor([1.0, 2.0], requires_grad=True)

    def captured():
        loss = offset(doubled_locally(w)).sum()
        loss.backward()
        return loss.item()

    assert sd.differentiate(captured)() == pytest.approx(206.0)
    assert w.grad.numpy().tolist() == [2.0, 2.0]


def test_a_module_reading_a_closure_variable_sees_it_rebound():
    """A model class defined in a function reads that function's variables: inlined, the
    step is compiled again when one is rebound (its cell is guarded)."""
    factor = 2.0

    class Scaled(sd.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = sd.nn.Parameter(sd.tensor([1.0, -2.0]))

        def forward(self, x):
            return (self.w * x * factor).sum()

    def rebind(value):
        nonlocal factor
        factor = value

    model, x = Scaled(), sd.tensor([0.5, 1.5])

    def step(x):
        loss = model(x)
        loss.backward()
        return loss.item()

    compiled = sd.differentiate(step)
    assert compiled(x) == pytest.approx(step(x))
    assert "# called:" not in sd.source(compiled)
    rebind(5.0)
    model.w.grad = None
    assert compiled(x) == pytest.approx(5.0 * (0.5 - 3.0))
    assert model.w.grad.numpy().tolist() == pytest.approx([2.5, 7.5])


def test_code_that_rebinds_with_setattr_is_followed_by_what_it_inlines():
    """``setattr`` rebinds like an assignment: a call after it checks its objects."""
    net, x = Activated(), sd.tensor([1.0, 1.0])

    def swap(act):
        net.act = act
        loss = net(x)
        loss.backward()
        return loss.item()

    compiled = sd.differentiate(swap)
    for act in (sd.nn.Tanh(), sd.nn.ReLU(), sd.nn.Tanh()):
        want = swap(act)
        net.w.grad = None
        assert compiled(act) == pytest.approx(want)
        net.w.grad = None
    assert "rt.inlined(_site" in sd.source(compiled)


STEP_MODEL = Affine(0.5, -1.5)  # the globals a step reads (rebound by the test below)
STEP_LOSS = sd.nn.MSELoss()
STEP_OPTIMIZER = sd.optim.SGD(STEP_MODEL.parameters(), lr=0.1)
STEP_HEAD = scaled  # a function, inlined: only its identity tells another one apart


def halved(h, factor=0.5):
    return h * factor


def global_step(x, y):
    loss = STEP_LOSS(STEP_HEAD(STEP_MODEL(x)), y)
    loss.backward()
    STEP_OPTIMIZER.step()
    STEP_OPTIMIZER.zero_grad()
    return loss.item()


def test_globals_the_step_reads_once_are_checked_each_call_when_rebound(monkeypatch):
    """The model, loss, optimizer and function read from globals (each read once by the
    check of the compiled step): another object bound to any of them is the one that runs.
    The function's code is inlined, so only the check of the global's identity tells
    another one apart; the model, optimizer and loss are also rebound alone to objects of
    their class, whose attributes the step must read anew."""
    x, y = data()
    step = sd.differentiate(global_step)
    eager_model = Affine(0.5, -1.5)
    eager_optimizer = sd.optim.SGD(eager_model.parameters(), lr=0.1)

    def eager(model, loss_fn, optimizer, head=scaled):
        loss = loss_fn(head(model(x)), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    def same(model, other):
        for p, q in zip(model.parameters(), other.parameters(), strict=True):
            assert p.tolist() == q.tolist()

    assert step(x, y) == eager(eager_model, STEP_LOSS, eager_optimizer)
    same(STEP_MODEL, eager_model)
    # another function, whose code the step inlined: the new one runs
    monkeypatch.setitem(globals(), "STEP_HEAD", halved)
    assert step(x, y) == eager(eager_model, STEP_LOSS, eager_optimizer, halved)
    same(STEP_MODEL, eager_model)
    monkeypatch.setitem(globals(), "STEP_HEAD", scaled)
    assert step(x, y) == eager(eager_model, STEP_LOSS, eager_optimizer)
    same(STEP_MODEL, eager_model)
    # another model of the same class: the step reads and updates its parameters
    first, eager_first = Affine(2.0, 0.25), Affine(2.0, 0.25)
    monkeypatch.setitem(globals(), "STEP_MODEL", first)
    monkeypatch.setitem(globals(), "STEP_OPTIMIZER", sd.optim.SGD(first.parameters(), lr=0.1))
    want = eager(eager_first, STEP_LOSS, sd.optim.SGD(eager_first.parameters(), lr=0.1))
    assert step(x, y) == want
    same(first, eager_first)
    # another optimizer of the same class over the same parameters: its rate is the one
    monkeypatch.setitem(globals(), "STEP_OPTIMIZER", sd.optim.SGD(first.parameters(), lr=0.5))
    want = eager(eager_first, STEP_LOSS, sd.optim.SGD(eager_first.parameters(), lr=0.5))
    assert step(x, y) == want
    same(first, eager_first)
    # another loss of the same class, holding a setting of its own
    monkeypatch.setitem(globals(), "STEP_LOSS", sd.nn.MSELoss(reduction="sum"))
    want = eager(eager_first, sd.nn.MSELoss(reduction="sum"),
                 sd.optim.SGD(eager_first.parameters(), lr=0.5))  # fmt: skip
    assert step(x, y) == want
    same(first, eager_first)
    monkeypatch.setitem(globals(), "STEP_LOSS", sd.nn.MSELoss())
    second, eager_second = Branchy(early=False), Branchy(early=False)
    monkeypatch.setitem(globals(), "STEP_MODEL", second)  # a module of another class
    monkeypatch.setitem(globals(), "STEP_OPTIMIZER", sd.optim.SGD(second.parameters(), lr=0.5))
    want = eager(eager_second, STEP_LOSS, sd.optim.SGD(eager_second.parameters(), lr=0.5))
    assert step(x, y) == want
    same(second, eager_second)
    monkeypatch.setitem(globals(), "STEP_LOSS", sd.nn.L1Loss())
    eager_optimizer = sd.optim.SGD(eager_second.parameters(), lr=0.5)
    want = eager(eager_second, sd.nn.L1Loss(), eager_optimizer)
    assert step(x, y) == want
    same(second, eager_second)
    calls = []
    STEP_OPTIMIZER.step = lambda: calls.append(1)  # an instance's own step runs
    assert step(x, y) == eager(eager_second, sd.nn.L1Loss(), sd.optim.SGD([sd.zeros(1)]))
    assert calls == [1]
