"""A function that calls ``backward()`` on Tensors, decorated with ``@sd.differentiate``,
runs compiled on arrays and gives the gradients eager code gives."""

import collections
import inspect
import types

import numpy as np
import pytest
from steps import assert_compiled_step_matches_eager, assert_runs_match, shown_line

import srcdiff as sd
from srcdiff import nn
from srcdiff.compiler import inline
from srcdiff.nn import functional as F
from srcdiff.testing import numeric_grad

from .programs import PROGRAMS, data, leaves, parameters


def eager_grads(program):
    p = parameters()
    x, y = data()
    loss = program(p, x, y)
    loss.backward()
    return loss.item(), {
        k: t.grad.numpy().copy() for k, t in leaves(p).items() if t.grad is not None
    }


def compiled_grads(program):
    p = parameters()
    x, y = data()

    @sd.differentiate
    def step(x, y):
        loss = program(p, x, y)
        loss.backward()
        return loss.item()

    value = step(x, y)
    return (
        step,
        value,
        {k: t.grad.numpy().copy() for k, t in leaves(p).items() if t.grad is not None},
    )


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__ for p in PROGRAMS])
def test_compiled_step_gives_the_eager_gradients(program):
    value, expected = eager_grads(program)
    step, got_value, got = compiled_grads(program)
    assert got_value == pytest.approx(value, rel=1e-12)
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=1e-12, err_msg=name)
    source = sd.source(step)
    assert "_backward(" in source and "rt.accumulate_grad" in source or "rt.call_vjp" in source
    compile(source, "<generated>", "exec")


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__ for p in PROGRAMS])
def test_compiled_step_matches_finite_differences(program):
    _, _, got = compiled_grads(program)
    p = parameters()
    x, y = data()
    rng = np.random.default_rng(3)
    tensors = leaves(p)
    direction = {k: rng.normal(size=t.shape) for k, t in tensors.items() if k in got}
    eps = 1e-6

    def loss_at(sign):
        with sd.no_grad():
            for k, v in direction.items():
                tensors[k]._data += sign * eps * v
            value = program(p, x, y).item()
            for k, v in direction.items():
                tensors[k]._data -= sign * eps * v
        return value

    numeric = (loss_at(1) - loss_at(-1)) / (2 * eps)
    analytic = sum(float(np.vdot(got[k], v)) for k, v in direction.items())
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_the_adjoint_follows_the_path_of_each_call():
    p = parameters()
    x, y = data()

    @sd.differentiate
    def step(x, y, shift):
        loss = ((p["b"] + p["w"] * x - y) ** 2).mean()
        if loss > shift:
            loss = loss * 3.0
        loss.backward()
        return loss.item()

    step(x, y, -1.0)
    taken = sd.source(step)
    step(x, y, 1e9)
    not_taken = sd.source(step)
    assert "# line" in taken and taken != not_taken
    assert "loss * 3.0" in taken.split("def step_backward(")[1]
    assert "loss * 3.0" not in not_taken.split("def step_backward(")[1]


def test_no_grad_blocks_run_as_written_and_are_not_differentiated():
    b = sd.tensor([0.5], dtype=sd.float64, requires_grad=True)
    x = sd.tensor(np.linspace(0, 1, 5), dtype=sd.float64)

    @sd.differentiate
    def step(x):
        loss = ((b * x) ** 2).sum()
        loss.backward()
        with sd.no_grad():
            b.sub_(0.1 * b.grad)
        return loss.item()

    step(x)
    expected_grad = 2 * 0.5 * (x.numpy() ** 2).sum()
    np.testing.assert_allclose(b.grad.numpy(), [expected_grad])
    np.testing.assert_allclose(b.detach().numpy(), [0.5 - 0.1 * expected_grad])
    assert b.is_leaf and b.grad_fn is None


def test_gradients_accumulate_over_calls_until_zeroed():
    w = sd.tensor([2.0], dtype=sd.float64, requires_grad=True)

    @sd.differentiate
    def step(x):
        loss = (w * x).sum()
        loss.backward()
        return loss.item()

    x = sd.tensor([1.0, 2.0], dtype=sd.float64)
    step(x)
    step(x)
    np.testing.assert_allclose(w.grad.numpy(), [6.0])


def _train_if(w, opt, x, train):
    opt.zero_grad()
    loss = ((w * x) ** 2).sum()
    if train:
        loss.backward()
        opt.step()
    return loss.item()


def _train_if_else(w, opt, x, train):
    opt.zero_grad()
    loss = ((w * x) ** 2).sum()
    if train:
        loss.backward()
        opt.step()
    else:
        pass
    return loss.item()


def _train_elif(w, opt, x, train):
    opt.zero_grad()
    loss = ((w * x) ** 2).sum()
    if not train:
        pass
    elif x.sum() > 0:
        loss.backward()
        opt.step()
    return loss.item()


@pytest.mark.parametrize("step", [_train_if, _train_if_else, _train_elif], ids=lambda f: f.__name__)
def test_backward_in_a_branch_holding_nothing_else_runs_where_the_branch_does(step):
    """``if train: loss.backward(); opt.step()``: the branch holds no differentiated
    statement, yet whether it ran decides whether the adjoint runs (it never did)."""
    runs = []
    for run in (step, sd.differentiate(step)):
        w = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
        opt = sd.optim.SGD([w], lr=0.1)
        x = sd.tensor([1.0, 1.0], dtype=sd.float64)
        runs.append([(run(w, opt, x, train), *w.tolist()) for train in (True, False, True)])
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12)
    assert runs[0][1][1:] == pytest.approx([0.8, 1.6])


def test_a_training_loop_calling_backward_runs_as_the_undecorated_function():
    """backward() in a loop is left to the eager runtime (its adjoint generated too)."""

    def train(w, x, lr):
        for _ in range(3):
            loss = ((w * x).sum() - 2.0) ** 2
            loss.backward()
            with sd.no_grad():
                w -= lr * w.grad
                w.grad.zero_()
        return loss.item()

    x = sd.tensor([0.5, 0.25], dtype=sd.float64)
    w1 = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
    w2 = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
    compiled = sd.differentiate(train)
    assert compiled(w1, x, 0.1) == pytest.approx(train(w2, x, 0.1), rel=1e-12)
    np.testing.assert_allclose(w1.detach().numpy(), w2.detach().numpy(), rtol=1e-12)
    assert "def backward(_saved, d_result):" in sd.source(compiled)


@sd.differentiate
def stacked_parameters(a, b):
    xs = [a, b] + [a * b]
    loss = (sd.stack(xs) ** 2).sum()
    loss.backward()
    return [loss, a]


def test_a_list_of_parameters_and_their_product_gets_every_contribution():
    a0, b0 = np.array([0.3, -0.7]), np.array([0.5, 0.2])
    a = sd.tensor(a0, requires_grad=True)
    b = sd.tensor(b0, requires_grad=True)
    loss, returned = stacked_parameters(a, b)
    assert isinstance(loss, sd.Tensor)  # computed Tensors come back as Tensors, in lists too
    assert loss.item() == pytest.approx(np.sum(a0**2 + b0**2 + (a0 * b0) ** 2))
    np.testing.assert_allclose(a.grad.numpy(), 2 * a0 + 2 * a0 * b0**2)
    np.testing.assert_allclose(b.grad.numpy(), 2 * b0 + 2 * b0 * a0**2)
    assert returned is a  # what the function returns keeps its Tensors


@sd.differentiate
def step_updating_a_list_of_parameters(a, b, params):
    loss = (a * b).sum()
    loss.backward()
    with sd.no_grad():
        for p in params:
            p -= 0.1 * p.grad
    return loss.item() + len(params)


def test_in_place_updates_under_no_grad_run_as_written():
    a = sd.tensor(np.array([0.3, -0.7]), requires_grad=True)
    b = sd.tensor(np.array([0.5, 0.2]), requires_grad=True)
    step_updating_a_list_of_parameters(a, b, [a, b])
    np.testing.assert_allclose(a.detach().numpy(), [0.3 - 0.05, -0.7 - 0.02])
    np.testing.assert_allclose(b.detach().numpy(), [0.5 - 0.03, 0.2 + 0.07])


class Affine(sd.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = sd.nn.Parameter(sd.tensor([0.5]))
        self.b = sd.nn.Parameter(sd.tensor([-1.5]))

    def forward(self, x):
        return self.a + self.b * x


@pytest.mark.parametrize("inlined", [True, False], ids=["inlined", "called"])
def test_a_callee_computes_no_gradient_for_an_input_that_needs_none(monkeypatch, inlined):
    """Whether the module and the loss are inlined into the step or called (compiled on
    their own), no gradient is computed for the data."""
    if not inlined:
        monkeypatch.setattr(inline, "DEPTH", 0)
    model, loss_fn = Affine(), sd.nn.MSELoss()
    x, y = data()

    @sd.differentiate
    def step(x, y):
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss.item()

    step(x, y)
    compiled = [model.a.grad.numpy().copy(), model.b.grad.numpy().copy()]
    model.zero_grad()
    loss_fn(model(x), y).backward()
    assert np.allclose(compiled, [model.a.grad.numpy(), model.b.grad.numpy()], rtol=1e-12)
    source = sd.source(step)
    assert "d_x" not in source and "d_target" not in source and "d_y" not in source
    if inlined:
        assert shown_line(Affine.forward, "return self.a + self.b * x") in source
        assert shown_line(sd.nn.functional, "squared = (input - target) ** 2") in source
        assert "# called:" not in source
    else:
        assert "forward (" in source
        assert "with respect to the Tensors that require grad; path" in source


def test_in_place_tensor_arithmetic_in_a_compiled_step_is_followed_by_every_name():
    """``m.mul_(v)`` (``add_``, ``sub_``, ``div_``) on a computed value updates it in place
    as ``m *= v`` does: a name sharing it sees the change, and the gradients are those of
    eager code (it was an AttributeError from NumPy). Other in-place methods are refused
    at their line."""

    def body(w, v):
        m = w * 1.0
        shared = m
        m.mul_(v)
        out = m.add_(1.0)
        out.div_(2.0)
        m.sub_(v)
        return (shared**2).sum() + (out * 3.0).sum()

    def step(w, v):
        loss = body(w, v)
        loss.backward()
        return loss.item()

    def leaves():
        return (sd.tensor([[0.3, -1.2], [1.1, 0.4]], requires_grad=True),
                sd.tensor([0.2, -0.3], requires_grad=True))  # fmt: skip

    w, v = leaves()
    want = step(w, v), w.grad.numpy().copy(), v.grad.numpy().copy()
    w, v = leaves()
    compiled = sd.differentiate(step)
    assert compiled(w, v) == pytest.approx(want[0])
    np.testing.assert_allclose(w.grad.numpy(), want[1])
    np.testing.assert_allclose(v.grad.numpy(), want[2])

    @sd.differentiate
    def multiplied(w):
        m = w * 1.0
        m.addcmul_(m, m)
        loss = m.sum()
        loss.backward()
        return loss.item()

    with pytest.raises(sd.CompileError, match=r"\.addcmul_\(\)") as info:
        multiplied(leaves()[0])
    assert info.value.source_line == "m.addcmul_(m, m)"


def test_in_place_tensor_arithmetic_keeps_shape_and_no_grad_in_place_is_refused():
    """``m.mul_(w)`` that would broadcast ``m`` to another shape raises as the Tensor does
    (compiled, it silently took the broadcast result); an in-place method under
    ``sd.no_grad()`` on a computed value is refused at its line (an AttributeError)."""
    w = sd.tensor([[0.3, -1.2], [1.1, 0.4]], requires_grad=True)

    @sd.differentiate
    def broadcast(w):
        m = w[0] * 1.0
        m.mul_(w)
        loss = m.sum()
        loss.backward()
        return loss.item()

    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        broadcast(w)

    @sd.differentiate
    def unrecorded(w):
        m = w * 2.0
        with sd.no_grad():
            m.add_(1.0)
        loss = (m * w).sum()
        loss.backward()
        return loss.item()

    with pytest.raises(sd.CompileError, match=r"\.add_\(\) under sd.no_grad") as info:
        unrecorded(w)
    assert info.value.source_line == "m.add_(1.0)"


def test_an_accumulator_made_in_the_step_takes_in_place_arithmetic():
    """``acc = sd.zeros(2); acc.add_(...)`` (a Tensor the step makes with srcdiff's
    functions) compiles as ``acc += ...``: it was an internal CompileError."""

    def step(x, v):
        acc = sd.zeros(2)
        for i in range(2):
            acc.add_(x[i] * v)
        loss = (acc**2).sum()
        loss.backward()
        return loss.item()

    def leaves():
        return (sd.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True),
                sd.tensor([0.5, -1.0], requires_grad=True))  # fmt: skip

    x, v = leaves()
    want = step(x, v), x.grad.numpy().copy(), v.grad.numpy().copy()
    x, v = leaves()
    assert sd.differentiate(step)(x, v) == pytest.approx(want[0])
    np.testing.assert_allclose(x.grad.numpy(), want[1])
    np.testing.assert_allclose(v.grad.numpy(), want[2])


def eager_and_compiled(step, leaves):
    """``step(*leaves())`` eagerly and compiled: each run's value and gradients."""
    runs = []
    for fn in (step, sd.differentiate(step)):
        tensors = leaves()
        runs.append((fn(*tensors), [t.grad.numpy().copy() for t in tensors if t.requires_grad]))
    return runs


def test_in_place_methods_with_alpha_and_on_loop_entries_give_the_eager_gradients():
    """``h.add_(v, alpha=a)`` is ``h + a * v``, and ``h.mul_(2.0)`` on a loop's entry
    updates the list's array: both were refused or NumPy's AttributeError."""

    def step(w, x):
        h = w * x
        h.add_(x, alpha=-0.5)
        h.sub_(w, alpha=2.0)
        hs = [h, w + x]
        total = 0.0
        for e in hs:
            e.mul_(2.0)
            total = total + (e * e).sum()
        loss = total + hs[0].sum()
        loss.backward()
        return loss.item()

    def leaves():
        return (sd.tensor([0.5, 1.5], requires_grad=True), sd.tensor([1.0, -2.0]))

    (want, want_grads), (got, got_grads) = eager_and_compiled(step, leaves)
    assert got == pytest.approx(want)
    np.testing.assert_allclose(got_grads[0], want_grads[0])


def test_in_place_methods_on_tensors_from_outside_the_step_change_them_as_eager_code():
    """A parameter that requires grad changed in place outside ``sd.no_grad()`` raises
    PyTorch's leaf error (an internal CompileError about ``Tensor.sub_``); a Tensor from
    outside that needs no grad (a global buffer, an argument, a ``.grad``) is changed in
    place, as eager code changes it (it was refused)."""
    a = sd.tensor([0.5, 1.5], requires_grad=True)

    @sd.differentiate
    def leaf(x):
        loss = (a * x).sum()
        loss.backward()
        a.sub_(0.1)
        return loss

    x = sd.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf(x)

    def step(w, data, buf):
        buf.mul_(2.0)
        data.add_(buf, alpha=0.5)
        loss = (w * buf * data).sum()
        loss.backward()
        w.grad.mul_(0.5)
        return loss.item()

    runs = []
    for fn in (step, sd.differentiate(step)):
        w, data, buf = sd.tensor([0.5, -1.0], requires_grad=True), sd.tensor([1.0, 2.0]), sd.ones(2)
        runs.append((fn(w, data, buf), w.grad.tolist(), data.tolist(), buf.tolist()))
    assert runs[1] == runs[0]

    @sd.differentiate
    def parameter(w, x):
        w.mul_(2.0)
        loss = (w * x).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        parameter(sd.tensor([1.0, 2.0], requires_grad=True), x)


def test_a_tensor_changed_in_place_before_backward_reads_it_raises():
    """A Tensor the step read, changed in place under ``sd.no_grad()`` before
    ``backward()``: eager code raises its version error, and compiled code read the
    changed array (a gradient twice the right one). Changes after ``backward()``, such
    as an optimizer's, and a second loss through the changed parameters, still work."""
    w = sd.tensor([0.5, 1.5], requires_grad=True)

    @sd.differentiate
    def changed_before(t):
        y = w * t
        with sd.no_grad():
            t.mul_(2.0)
        loss = y.sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        changed_before(sd.tensor([1.0, 2.0]))

    def two_losses(d, g, x, opt_d):
        opt_d.zero_grad()
        loss_d = ((d(x) - 1.0) ** 2).mean()
        loss_d.backward()
        opt_d.step()  # changes d's parameters, which loss_d's values hold
        loss_g = (d(g(x)) ** 2).mean()
        loss_g.backward()
        return loss_d.item() + loss_g.item()

    def run(fn):
        sd.manual_seed(0)
        d, g = sd.nn.Linear(3, 1).double(), sd.nn.Linear(3, 3).double()
        x = sd.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3))
        value = fn(d, g, x, sd.optim.SGD(d.parameters(), lr=0.1))
        return value, [p.grad.numpy().copy() for p in (*d.parameters(), *g.parameters())]

    want, got = run(two_losses), run(sd.differentiate(two_losses))
    assert got[0] == pytest.approx(want[0])
    for a_, b_ in zip(got[1], want[1], strict=True):
        np.testing.assert_allclose(a_, b_)


def test_item_is_a_constant_and_modes_the_compiled_code_cannot_follow_raise():
    """``.item()`` is a Python number without gradient, as in eager code (compiled code
    differentiated it); ``sd.enable_grad()`` inside ``sd.no_grad()`` is refused (what the
    block assigned was taken for a constant: no gradient); ``backward()`` of a loss that
    requires no grad raises as eager code does (it did nothing)."""
    w = sd.tensor([0.5, -1.5, 2.0], requires_grad=True)

    def normalised(x):
        o = w * x
        loss = (o**2).sum() / (o**2).sum().item() + o.sum() * o.mean().item()
        loss.backward()
        return loss.item()

    x = sd.tensor([1.0, 2.0, 3.0])
    want = normalised(x), w.grad.numpy().copy()
    w.grad = None
    assert sd.differentiate(normalised)(x) == pytest.approx(want[0])
    np.testing.assert_allclose(w.grad.numpy(), want[1])

    @sd.differentiate
    def enabled_inside(x):
        with sd.no_grad():
            a = w * 2.0
            with sd.enable_grad():
                b = w * x
        loss = (a * b).sum()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match=r"enable_grad\(\) inside sd.no_grad\(\)"):
        enabled_inside(x)

    @sd.differentiate
    def step(x):
        loss = (w * x).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="does not require grad"), sd.no_grad():
        step(x)

    @sd.differentiate
    def constant(x):
        loss = (x * 2.0).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="does not require grad"):
        constant(x)


def test_a_no_grad_block_computes_with_tensor_methods_on_computed_values():
    """Inside ``sd.no_grad()`` the code runs as written on Tensors: a value the step
    computed is read as a Tensor there (``o.abs().max()``, ``sd.ones_like(h)`` were
    NumPy's AttributeError), and what the block makes is a constant after it."""
    sd.manual_seed(0)
    model = sd.nn.Linear(4, 3).double()
    x = sd.randn(5, 4, dtype=sd.float64)

    def step(x):
        h = model(x)
        with sd.no_grad():
            m = h.abs().max()
            mask = sd.ones_like(h)
            mask[:, 1] = 0.0
        loss = ((h / m) * mask).pow(2).sum()
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x)


def _clip_weights(model):
    with sd.no_grad():
        for p in model.parameters():
            p.clamp_(-0.1, 0.1)


def test_writes_in_a_callee_before_the_forward_and_gradient_clipping_run_as_eager_code():
    """Weights clipped in place by a helper before the forward (WGAN): the write was
    taken for later than every saved value (a false version error); and
    ``clip_grad_norm_`` after ``backward()`` (a CompileError inside srcdiff's own
    code): both give eager code's gradients."""

    def step(model, opt, x):
        opt.zero_grad()
        _clip_weights(model)
        loss = (model(x) ** 2).mean()
        loss.backward()
        norm = sd.nn.utils.clip_grad_norm_(model.parameters(), 0.05)
        opt.step()
        return loss.item() + norm.item()

    def run(fn):
        sd.manual_seed(1)
        model = sd.nn.Linear(3, 1).double()
        opt = sd.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = sd.randn(8, 3, dtype=sd.float64)
        values = [fn(model, opt, x) for _ in range(2)]
        return values, [p.detach().numpy().copy() for p in model.parameters()]

    assert_runs_match(run, step)


def test_a_saved_tensor_changed_through_a_list_under_no_grad_is_refused():
    """``box = [y]; box[0] += 1.0`` under ``sd.no_grad()`` changes ``y``'s array, which
    the adjoint reads (compiled code computed a wrong gradient; eager code raises)."""
    w = sd.tensor([0.5, 1.5], requires_grad=True)

    @sd.differentiate
    def step(x):
        y = w * x
        z = (y * y).sum()
        box = [y]
        with sd.no_grad():
            box[0] += 1.0
        z.backward()
        return z

    with pytest.raises(sd.CompileError, match="in-place change under sd.no_grad"):
        step(sd.tensor([1.0, 2.0]))


def test_gradient_handling_after_backward_runs_as_eager_code():
    """``p.grad.mul_(0.5)`` and the tutorial's ``p.data -= lr * p.grad.data`` after
    ``backward()`` change the Tensors as eager code does (both were refused: "no
    derivative rule for attribute .grad"); a step calling ``h.retain_grad()`` on a
    computed value runs as eager code (it was refused)."""

    def step(model, x, y):
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        for p in model.parameters():
            p.grad.mul_(0.5)
            p.data -= 0.1 * p.grad.data
            p.grad.data.zero_()
        return loss.item()

    def run(fn):
        sd.manual_seed(2)
        model = sd.nn.Linear(3, 1).double()
        x, y = sd.randn(6, 3, dtype=sd.float64), sd.randn(6, 1, dtype=sd.float64)
        values = [fn(model, x, y) for _ in range(3)]
        return values, [p.detach().numpy().copy() for p in model.parameters()]

    assert_runs_match(run, step)

    @sd.differentiate
    def retained(w, x):
        h = w * x
        h.retain_grad()
        loss = (h**2).sum()
        loss.backward()
        return h.grad

    w = sd.tensor([1.0, 2.0], requires_grad=True)
    assert retained(w, sd.tensor([3.0, 4.0])).tolist() == [6.0, 16.0]
    assert w.grad.tolist() == [18.0, 64.0]


def test_tensors_from_outside_changed_in_place_twice_stay_the_callers():
    """Two in-place calls on an argument, on entries of a list argument (momentum
    buffers), and on ``.data`` of a parameter: each reaches the caller's Tensor, and the
    list keeps its Tensors (the second call changed a local array only, and the list's
    entries became arrays); a gradient through such a change is refused."""

    def step(model, vel, buf, x):
        loss = (model(x) ** 2).sum()
        loss.backward()
        buf.add_(1.0)
        buf.mul_(2.0)
        for v, p in zip(vel, model.parameters(), strict=True):
            v.mul_(0.9)
            v.add_(p.grad)
        d = model.weight.data
        d.sub_(0.1 * model.weight.grad)
        d.mul_(0.5)
        return loss.item()

    def run(fn):
        sd.manual_seed(3)
        model = sd.nn.Linear(2, 1).double()
        vel = [sd.zeros_like(p) for p in model.parameters()]
        buf = sd.tensor([1.0, 2.0], dtype=sd.float64)
        x = sd.randn(4, 2, dtype=sd.float64)
        values = [fn(model, vel, buf, x) for _ in range(2)]
        assert all(type(v) is sd.Tensor for v in vel)
        return values, [t.numpy().copy() for t in (*vel, buf, model.weight.detach())]

    assert_runs_match(run, step)

    w = sd.tensor([0.5, -1.0], requires_grad=True)

    @sd.differentiate
    def through(buf):
        buf.add_(w * 2.0)
        loss = (buf * buf).sum()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match=r"\.add_\(\) .* a value that may carry a gradient"):
        through(sd.tensor([1.0, 2.0]))


def test_an_update_under_no_grad_keeps_the_values_graph():
    """``h -= h.max()`` under ``sd.no_grad()`` changes ``h`` in place: as in PyTorch, ``h``
    keeps its graph (compiled code took it for a constant: the gradient through ``h``
    was lost, silently); ``h = h - h.max()`` gives ``h`` a constant."""

    def updated(w, x):
        h = w * x
        with sd.no_grad():
            h -= h.max()
        loss = (h * h).sum() + w.sum()
        loss.backward()
        return loss.item()

    def rebound(w, x):
        h = w * x
        with sd.no_grad():
            h = h - h.max()
        loss = (h * h).sum() + w.sum()
        loss.backward()
        return loss.item()

    for step, grad in ((updated, [1.0, -47.0, 11.0, 1.0]), (rebound, [1.0, 1.0, 1.0, 1.0])):
        for fn in (step, sd.differentiate(step)):
            w = sd.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
            assert fn(w, sd.tensor([2.0, 3.0, -1.0, 4.0])) == 91.5
            assert w.grad.tolist() == grad


def test_grad_set_to_none_and_a_spread_of_one_value_run_as_eager_code():
    """``p.grad = None`` after ``backward()`` (refused: "assignment to the attribute
    .grad"), and ``var()`` of one value, whose divisor is 0: nan, as in eager code and
    PyTorch (a ZeroDivisionError in the generated adjoint)."""

    def step(w, x):
        loss = (w * x).var(correction=0) + (w[:1] * x[:1]).var() * 0.0
        loss.backward()
        first = w.grad.numpy().copy()
        w.grad = None
        return first

    def run(fn):
        w = sd.tensor([0.5, -1.0], requires_grad=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            first = fn(w, sd.tensor([1.0, 3.0]))
        return first, w.grad

    (want, want_grad), (got, got_grad) = run(step), run(sd.differentiate(step))
    assert want_grad is None and got_grad is None
    np.testing.assert_allclose(got, want, equal_nan=True)
    assert np.isnan(want[0]) and np.isfinite(want[1])


def test_eager_fill_with_a_tensor_that_requires_grad_passes_its_gradient():
    """``h.fill_(s)`` with a 0-d ``s`` that requires grad: ``s.grad`` is the sum of
    ``h``'s gradient, as in PyTorch (it was None)."""
    w = sd.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
    s = sd.tensor(1.5, requires_grad=True)
    h = sd.zeros(4)
    h.fill_(s)
    (h * w).sum().backward()
    assert s.grad.item() == pytest.approx(2.5)
    assert w.grad.tolist() == [1.5] * 4
    x = sd.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_allclose(x.var(correction=0).item(), np.arange(6.0).var())
    np.testing.assert_allclose(
        x.std(dim=1, correction=0).detach().numpy(), np.arange(6.0).reshape(2, 3).std(1)
    )


def test_a_name_updated_and_rebound_under_no_grad_is_refused():
    """``h -= 1`` on one path and ``h = h - 1`` on another: which path ran decides
    whether ``h`` keeps its gradient (compiled code took it for a constant on both,
    silently wrong on the first). Refused at the block."""

    @sd.differentiate
    def step(w, x):
        h = w * x
        with sd.no_grad():
            if h[0] > 0:
                h -= 1.0
            else:
                h = h - 1.0
        loss = (h * h).sum()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match="both updated in place .* and given a new value"):
        step(sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, 1.0]))


def test_a_detached_alias_of_a_number_changed_in_place_changes_it():
    """``s = h.sum(); d = s.detach(); d.mul_(0.5)`` halves ``s``, as in eager code: a 0-d
    value compiled code holds as a NumPy number kept its old value (a silent wrong loss
    and gradient)."""

    def halved(w, x):
        s = (w * x).sum()
        d = s.detach()
        d.mul_(0.5)
        loss = s * w.sum()
        loss.backward()
        return loss.item()

    def run(step):
        w = sd.tensor([0.5, -0.3, 2.0], dtype=sd.float64, requires_grad=True)
        value = step(w, sd.tensor([1.0, 2.0, -1.0], dtype=sd.float64))
        return [value], [w.grad.numpy()]

    assert_runs_match(run, halved)


def test_a_detached_alias_of_an_intermediate_changed_after_it_was_saved_raises():
    """``d = y.detach(); d.mul_(0.5)`` (``clamp_``) writes into ``y``: later reads of ``y``
    take the new values, and the gradient flows through ``y``'s own graph, as in PyTorch.
    Where an operation before the change saved ``y`` for its gradient (``y * w``,
    ``y.exp()``), backward() raises PyTorch's error: compiled code gave the gradient of
    the old values, silently (``y + w`` saves no ``y``, and runs)."""

    def halved(w, x):
        y = w + x
        d = y.detach()
        d.mul_(0.5)
        loss = (y * 3.0 * w).sum()
        loss.backward()
        return loss.item()

    def clamped(w, x):
        y = w * x
        y.detach().clamp_(min=0.0)
        loss = (y * w).sum()
        loss.backward()
        return loss.item()

    def reread(w, x):  # (the adjoint loads y's old and new values into one name)
        y = w * x
        a = (y + w).sum()
        y.detach().mul_(2.0)
        loss = a + (y * y).sum()
        loss.backward()
        return loss.item()

    for step in (halved, clamped, reread):
        assert_runs_match(_detached_run, step)

    def saved_by_mul(w, x):
        y = w * x
        z = y * w
        d = y.detach()
        d.mul_(0.5)
        loss = z.sum()
        loss.backward()
        return loss.item()

    def saved_by_exp(w, x):
        y = (w * x).exp()
        y.detach().mul_(0.5)
        loss = y.sum()
        loss.backward()
        return loss.item()

    def number_saved(w, x):
        s = (w * x).sum()
        z = s * s
        s.detach().mul_(0.5)
        loss = z * 1.0
        loss.backward()
        return loss.item()

    for step in (saved_by_mul, saved_by_exp, number_saved):
        _raises_pytorchs_inplace_error(step)


def _detached_run(step):
    """A step's value and ``w.grad``, for ``assert_runs_match``."""
    w = sd.tensor([0.5, -0.3, 2.0], dtype=sd.float64, requires_grad=True)
    value = step(w, sd.tensor([1.0, 2.0, -1.0], dtype=sd.float64))
    return [value], [w.grad.numpy()]


def _raises_pytorchs_inplace_error(step):
    """``step`` eagerly and compiled raises PyTorch's error for a saved value changed."""
    for fn in (step, sd.differentiate(step)):
        w = sd.tensor([0.5, -0.3], requires_grad=True)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            fn(w, sd.tensor([1.0, 2.0]))


def test_zero_of_a_detached_alias_of_an_intermediate_runs_as_eager_code():
    """``d = y.detach(); d.zero_()`` zeroes ``y`` and keeps its graph, as in PyTorch (it
    was refused on a value the code computed); after ``y * w`` saved ``y``, backward()
    raises PyTorch's error."""

    def zeroed(w, x):
        y = w * x
        z = y * x
        d = y.detach()
        d.zero_()
        loss = z.sum() + (y + w).sum() + (y * w).sum()
        loss.backward()
        return loss.item()

    def after_backward(w, x):
        y = w * x
        loss = (y * y).sum()
        loss.backward()
        y.detach().zero_()
        return loss.item() + y.sum().item()

    for step in (zeroed, after_backward):
        assert_runs_match(_detached_run, step)

    def saved(w, x):
        y = w * x
        z = y * w
        y.detach().zero_()
        loss = z.sum()
        loss.backward()
        return loss.item()

    _raises_pytorchs_inplace_error(saved)

    @sd.differentiate
    def unset(w, x):  # (a .grad before any backward(): None)
        x.grad.zero_()
        loss = (w * x).sum()
        loss.backward()
        return loss.item()

    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'zero_'"):
        unset(sd.tensor([0.5], requires_grad=True), sd.tensor([1.0]))


def test_an_in_place_change_through_detach_reaches_the_tensor():
    """``d = w.detach(); d.mul_(2.0)`` changes ``w``'s storage, as in eager code and
    PyTorch (compiled code changed a local array only: ``w`` kept its values, and its
    gradient was computed from the old ones); ``w.numpy()`` of a Tensor that requires
    grad raises as eagerly."""

    def step(w, x):
        d = w.detach()
        d.mul_(2.0)
        loss = (w * x).sum()
        loss.backward()
        return loss.item()

    def numpy_of(w, x):
        values = w.numpy()
        loss = (w * x).sum() + values.sum()
        loss.backward()
        return loss.item()

    for fn in (step, sd.differentiate(step)):
        w = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
        assert fn(w, sd.tensor([3.0, -1.0], dtype=sd.float64)) == 2.0
        assert w.tolist() == [2.0, 4.0] and w.grad.tolist() == [3.0, -1.0]
    for fn in (numpy_of, sd.differentiate(numpy_of)):
        w = sd.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="Can't call numpy"):
            fn(w, sd.tensor([3.0, -1.0]))


def test_in_place_methods_on_entries_of_a_list_argument_run_as_eager_code():
    """``vel[0].copy_(p.grad)``, ``vel[1].zero_()`` and ``fill_`` on a list argument's
    Tensors (an internal CompileError about Tensor.copy_'s lambda), and ``.clamp_()`` on
    a value the step computed, taken out of a list, as eager code runs it."""

    def step(model, vel, x):
        loss = (model(x) ** 2).sum()
        loss.backward()
        vel[0].copy_(model.weight.grad)
        vel[1].zero_()
        vel[1].fill_(0.5)
        return loss.item()

    def run(fn):
        sd.manual_seed(4)
        model = sd.nn.Linear(2, 1).double()
        vel = [sd.zeros_like(p) for p in model.parameters()]
        value = fn(model, vel, sd.randn(3, 2, dtype=sd.float64))
        return value, [v.numpy().copy() for v in vel]

    want, got = run(step), run(sd.differentiate(step))
    assert got[0] == pytest.approx(want[0])
    for g, w in zip(got[1], want[1], strict=True):
        np.testing.assert_array_equal(g, w)

    def clamped(w):
        hs = [w * 2.0]
        for h in hs:
            h.clamp_(0.0, 1.0)
        loss = (hs[0] * w).sum()
        loss.backward()
        return loss.item()

    runs = []
    for run in (clamped, sd.differentiate(clamped)):
        w = sd.tensor([0.3, -1.0, 0.7], requires_grad=True, dtype=sd.float64)
        runs.append((run(w), w.grad.numpy().copy()))
    assert runs[1][0] == pytest.approx(runs[0][0])
    np.testing.assert_allclose(runs[1][1], runs[0][1])

    @sd.differentiate
    def multiplied(w):
        hs = [w * 2.0]
        for h in hs:
            h.addcmul_(h, h)
        loss = hs[0].sum()
        loss.backward()
        return loss.item()

    with pytest.raises(sd.CompileError, match=r"\.addcmul_\(\) .* on a value it computed"):
        multiplied(sd.tensor([0.5, -1.0], requires_grad=True))


def test_an_operator_write_into_a_tensors_storage_is_refused():
    """``d = w.detach(); d += 1.0`` and ``n = x.numpy(); n += 1.0`` change the Tensor's
    storage in eager code; compiled code gave the name a new array and left the Tensor
    as it was, silently. Refused, with the usual rewrite."""

    @sd.differentiate
    def step(w, x, detached):
        if detached:
            shared = w.detach()
        else:
            shared = x.numpy()
        shared += 1.0
        loss = (w * x).sum()
        loss.backward()
        return loss

    for detached in (True, False):
        with pytest.raises(sd.CompileError, match="also changes .* which shares its memory"):
            step(sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, -1.0]), detached)


def test_a_list_of_parameters_updated_in_a_loop_under_no_grad_after_backward():
    """``for p in ws: p.clamp_(...)`` (and ``p -= lr * p.grad``) under ``sd.no_grad()``
    after ``backward()``, where the forward read the list ``ws``: its Tensors change, not
    the list the adjoint saved (refused as a change of a saved value)."""

    def step(ws, x):
        loss = (ws[0] * x).sum() + (ws[1] * ws[1]).sum()
        loss.backward()
        with sd.no_grad():
            for p in ws:
                p -= 0.5 * p.grad
                p.clamp_(-1.0, 1.5)
        return loss.item()

    def run(fn):
        ws = [sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True) for _ in range(2)]
        values = [fn(ws, sd.tensor([3.0, -1.0], dtype=sd.float64)) for _ in range(2)]
        return values, [w.detach().numpy().copy() for w in ws]

    assert_runs_match(run, step)


class _Holder:
    def total(self):
        return (self.h * self.h).sum()


def test_a_method_of_an_object_holding_computed_values_is_never_a_constant():
    """``holder.h = w * x; loss = holder.total()``: a method of an object the step filled
    with computed values is refused (run as written, its result was a constant: the loss
    right, ``w.grad`` None)."""

    @sd.differentiate
    def step(w, x):
        holder = _Holder()
        holder.h = w * x
        loss = holder.total()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match=r"\.total\(\)"):
        step(sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, 4.0]))


def test_a_write_through_a_detached_alias_of_a_computed_value_keeps_its_graph():
    """``h.detach().mul_(2.0)``, ``h.data.add_(1.0)`` and ``d = h.detach(); d[0] = 7.0``
    change ``h``'s value and keep its graph, as in PyTorch (compiled code gave ``h`` the
    new value with no gradient: ``w.grad`` was zeros, silently); a detached alias read
    after a write into ``h`` takes the value and no gradient; ``d = w.detach(); d[0] =
    7.0`` writes into the caller's Tensor (a TypeError); a name that is a detached alias
    on one path only is refused."""

    def scaled(w, x):
        h = w * x
        h.detach().mul_(2.0)
        loss = (h * h).sum()
        loss.backward()
        return loss.item()

    def shifted(w, x):
        h = w * x
        h.data.add_(1.0)
        loss = (h * h).sum()
        loss.backward()
        return loss.item()

    def entry(w, x):
        h = w * x
        d = h.detach()
        d[0] = 7.0
        loss = (h * w).sum()
        loss.backward()
        return loss.item()

    def read_after(w, x):
        h = w * x
        d = h.detach()
        h[0] = 5.0
        loss = (d * w).sum() + (h * h).sum()
        loss.backward()
        return loss.item()

    def outside(w, x):
        d = w.detach()
        d[0] = 7.0
        loss = (w * x).sum()
        loss.backward()
        return loss.item()

    def run(fn):
        w = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
        value = fn(w, sd.tensor([0.5, -1.0, 2.0], dtype=sd.float64))
        return [value], [w.grad.numpy().copy(), w.detach().numpy().copy()]

    for step in (scaled, shifted, entry, read_after, outside):
        assert_runs_match(run, step)

    @sd.differentiate
    def either(w, x, detached):
        h = w * x
        if detached:
            d = h.detach()
        else:
            d = h
        d[1] = 3.0
        loss = (h * w).sum()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match="is a detached alias on one path .* and not on"):
        either(sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, -1.0]), True)

    @sd.differentiate
    def carried(w, x):
        d = x.detach()
        d[0] = (w * x)[1]
        loss = (w * x).sum()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match="entry of a Tensor from outside .* may carry"):
        carried(sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, -1.0]))


def test_max_along_a_dim_sends_the_gradient_to_its_index_and_has_named_fields():
    """``x.max(dim=1)`` gives each value's gradient to the entry at its index, ties or
    not, as PyTorch does (it was shared among tied entries, eagerly and compiled), and
    ``.values`` / ``.indices`` work in a compiled step (an AttributeError of a tuple)."""

    def step(x):
        top = x.max(dim=1)
        low = x.min(0, keepdim=True)
        loss = (top.values * 2.0).sum() + low.values.sum() + top[0].sum()
        loss.backward()
        return loss.item() + float(top.indices.sum())

    def run(fn):
        x = sd.tensor([[0.0, 1.0, 1.0, -2.0], [3.0, 3.0, 0.0, -2.0]], requires_grad=True)
        return [fn(x)], [x.grad.numpy().copy()]

    assert_runs_match(run, step)
    np.testing.assert_array_equal(run(step)[1][0], [[1, 4, 0, 1], [3, 0, 1, 0]])


def test_tensor_functions_a_review_found_crashing_in_compiled_steps_run_as_eagerly():
    """``sd.full_like`` (an attention mask: an AttributeError of NumPy's dtype), a
    ``.detach()`` of a reduction inside ``sd.no_grad()`` (NumPy's float has none) and
    ``model.train(flag)`` (refused as object.__setattr__ without a rule) run as eager code
    runs them; ``sd.max(a, b)`` of two tensors is refused with the spelling to use."""

    def step(model, x, training):
        model.train(training)
        h = model(x)
        masked = sd.where(h > 0, h, sd.full_like(h, -3.0))
        total = (masked * masked).sum()
        with sd.no_grad():
            scale = total.detach() * 0.5
        loss = total * scale
        loss.backward()
        return loss.item() + float(model.training)

    def run(fn):
        sd.manual_seed(5)
        model = sd.nn.Linear(3, 2).double()
        x = sd.randn(4, 3, dtype=sd.float64)
        values = [fn(model, x, flag) for flag in (False, True)]
        return values, [p.grad.numpy().copy() for p in model.parameters()]

    assert_runs_match(run, step)

    @sd.differentiate
    def both(x, y):
        loss = sd.max(x, y).sum()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match=r"sd.max\(a, b\) of two tensors .* sd.maximum"):
        both(sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, 0.0]))


@pytest.mark.parametrize(
    "make_loss",
    [
        lambda: sd.nn.CrossEntropyLoss(),
        lambda: sd.nn.CrossEntropyLoss(weight=sd.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1),
        lambda: sd.nn.NLLLoss(weight=sd.tensor([1.0, 2.0, 0.5]), ignore_index=2),
    ],
    ids=["plain", "weight-smoothing", "nll"],
)
def test_a_classifier_step_with_the_loss_modules_options_runs_as_eager_code(make_loss):
    """The loss inlined into the step with its module's options (weight, label_smoothing,
    ignore_index). A value passed to a parameter the callee reassigns was one node in the
    copy and in the call kept for when the inlined objects change: inlined in turn, it was
    renamed twice (an unbound name, where it could have been another value)."""

    def run(fn):
        sd.manual_seed(7)
        model = sd.nn.Sequential(sd.nn.Linear(4, 8), sd.nn.ReLU(), sd.nn.Linear(8, 3)).double()
        loss_fn = make_loss().double()
        optimizer = sd.optim.Adam(model.parameters(), lr=0.01)

        def step(x, y):
            out = model(x)
            if isinstance(loss_fn, sd.nn.NLLLoss):
                out = sd.nn.functional.log_softmax(out, dim=1)
            loss = loss_fn(out, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            return loss.item()

        train = fn(step)
        x, y = sd.randn(6, 4, dtype=sd.float64), sd.tensor([0, 1, 2, 1, 0, 2])
        values = [train(x, y) for _ in range(3)]
        return values, [p.detach().numpy().copy() for p in model.parameters()]

    want, got = run(lambda f: f), run(sd.differentiate)
    assert got[0] == pytest.approx(want[0])
    for g, w in zip(got[1], want[1], strict=True):
        np.testing.assert_allclose(g, w)


def test_an_augmented_write_of_data_keeps_the_graph_and_an_entry_write_is_refused():
    """``h.data *= 3`` and ``h.data += w.detach()`` change ``h``'s value and keep its
    graph (the write was dropped: the setter's statement lost its call to the copy it
    followed, value and gradient wrong, silently); ``h.data[0] = 3.0`` of a computed
    ``h`` is refused with the spelling that works."""

    def scaled(w, x):
        h = w * x
        h.data *= 3
        h.data += w.detach()
        loss = (h * h).sum()
        loss.backward()
        return loss.item()

    def run(fn):
        w = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
        value = fn(w, sd.tensor([0.5, -1.0, 2.0], dtype=sd.float64))
        return [value], [w.grad.numpy().copy()]

    assert_runs_match(run, scaled)

    @sd.differentiate
    def entry(w, x):
        h = w * x
        h.data[0] = 3.0
        loss = (h * h).sum()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match=r"\.data of a value .* \(h.detach\(\)\[0\] = v\)"):
        entry(sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, -1.0]))


def test_a_no_grad_block_the_compiler_cannot_see_as_one_is_refused():
    """``with T.no_grad():`` where ``T`` is srcdiff passed as an argument: the compiler
    took the block for any other and differentiated ``h.mul_(2)`` in it (w.grad twice
    PyTorch's, silently)."""

    @sd.differentiate
    def step(T, w, x):
        h = w * x
        with T.no_grad():
            h.mul_(2.0)
        loss = (h * h).sum()
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match=r"with no_grad\(\)` block reached through a name"):
        step(sd, sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, -1.0]))


def test_a_loss_from_a_method_of_the_callers_object_passes_its_gradient_on():
    """``loss = holder.compute()`` runs as written (the caller's object) and records its
    graph eagerly; ``loss.backward()`` in the step carried the seed 1.0 into it as a
    Python float (an AttributeError in autograd)."""

    class Holder:
        def __init__(self, w):
            self.w = w

        def compute(self):
            return (self.w * 3.0).sum()

    @sd.differentiate
    def step(holder):
        loss = holder.compute()
        loss.backward()
        return loss

    w = sd.tensor([1.0, 2.0], requires_grad=True)
    assert step(Holder(w)).item() == 9.0
    assert w.grad.tolist() == [3.0, 3.0]


def test_a_star_args_of_tensors_passed_on_is_refused_and_all_ignored_targets_give_nan():
    """``loss_fn(w, *rest)`` passed Tensors to the callee, which computed with them
    eagerly: ``w.grad`` was None, silently (refused); cross entropy whose targets are
    all ignored is NaN with zero gradients, as eagerly (a ZeroDivisionError)."""

    def loss_fn(w, t):
        return ((w - t) ** 2).sum()

    @sd.differentiate
    def spread(w, *rest):
        loss = loss_fn(w, *rest)
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match=r"\*rest passed on .* \(rest\[0\], \.\.\.\)"):
        spread(sd.tensor([1.0, 3.0], requires_grad=True), sd.tensor([0.0, 1.0]))

    def ignored(w, t):
        loss = sd.nn.functional.cross_entropy(w * 2.0, t, ignore_index=1)
        loss.backward()
        return loss.item()

    for fn in (ignored, sd.differentiate(ignored)):
        w = sd.tensor([[0.5, 1.0, -1.0], [2.0, 0.0, 1.0]], requires_grad=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            assert np.isnan(fn(w, sd.tensor([1, 1])))
        assert w.grad.tolist() == [[0.0] * 3] * 2


def test_a_srcdiff_function_found_through_an_argument_is_its_array_version():
    """``T.stack([...])`` with srcdiff passed as ``T``: found when the code ran, srcdiff's
    own Tensor function was compiled as user code and refused with a false premise."""

    def step(T, w, x):
        m = T.stack([w, x * w])
        loss = (m * m).sum()
        loss.backward()
        return loss.item()

    def run(fn):
        w = sd.tensor([0.5, 1.0, 2.0], dtype=sd.float64, requires_grad=True)
        return [fn(sd, w, sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64))], [w.grad.numpy().copy()]

    assert_runs_match(run, step)


def _step_of(body):
    """A compiled step computing ``h = x * 2.0``, then ``body(h, x)`` as its loss."""

    @sd.differentiate
    def step(x):
        h = x * 2.0
        loss = body(h, x)
        loss.backward()
        return loss.item()

    return step


def with_isinstance(h, x):
    loss = (h * h).sum()
    if isinstance(h, sd.Tensor) and sd.is_tensor(h) and h.dtype == sd.float32:
        loss = loss + h.sum()
    return loss


def with_ravel(h, x):
    return h.ravel().sum()


def with_searchsorted(h, x):
    return h[0, h.searchsorted(1.5)].sum()


def with_fill(h, x):
    h.fill(1.0)
    return h.sum()


def test_a_computed_tensor_is_a_tensor_of_its_dtype_in_compiled_code():
    """Compiled code holds a computed Tensor as an array: isinstance, sd.is_tensor and
    .dtype still say what they say eagerly (they said otherwise: another branch)."""
    x = sd.tensor([1.0, 2.0], requires_grad=True)
    eager = with_isinstance(x * 2.0, x)
    eager.backward()
    want = x.grad.numpy().copy()
    x.grad = None
    assert _step_of(with_isinstance)(x) == eager.item() == 26.0
    np.testing.assert_array_equal(x.grad.numpy(), want)


@pytest.mark.parametrize("body", [with_ravel, with_searchsorted, with_fill])
def test_an_array_method_a_tensor_has_not_is_refused(body):
    """``h.ravel()`` raises AttributeError eagerly (srcdiff's Tensor has no ravel);
    compiled code ran NumPy's, which means something else."""
    x = sd.tensor([[3.0, 1.0]], requires_grad=True)
    with pytest.raises(AttributeError):
        body(x * 2.0, x)
    with pytest.raises(sd.CompileError, match="Tensor has no"):
        _step_of(body)(x)


def with_sort_statement(h, x):
    h.sort()  # (a Tensor's sort changes nothing: its value is dropped)
    return (h * sd.tensor([[1.0, 2.0]])).sum()


def with_sort(h, x):
    values, indices = h.sort(descending=True)
    r = x.sort(1)
    return (values * sd.tensor([[1.0, 2.0]])).sum() + r.values[0, 0] * 10.0 + indices.sum()


def test_a_sort_whose_value_is_dropped_is_refused_and_one_whose_value_is_used_compiles():
    """``h.sort()`` as a statement was compiled as an array's sort, in place: a Tensor's
    changes nothing. Its values and indices compile as PyTorch's sort."""
    x = sd.tensor([[3.0, 1.0]], requires_grad=True)
    assert with_sort_statement(x * 2.0, x).item() == 10.0
    with pytest.raises(sd.CompileError, match="statement of its own"):
        _step_of(with_sort_statement)(x)
    eager = with_sort(x * 2.0, x)
    eager.backward()
    want, x.grad = x.grad.tolist(), None
    assert _step_of(with_sort)(x) == eager.item() == 21.0
    assert x.grad.tolist() == want == [[2.0, 14.0]]


def test_dot_of_two_tensors_in_a_compiled_step():
    """``w.dot(x)`` is compiled as PyTorch's dot (it compiled srcdiff's own Tensor method
    and refused it, naming srcdiff's file)."""
    x = sd.tensor([1.0, 2.0, 3.0])

    @sd.differentiate
    def step(w):
        loss = w.dot(x)
        loss.backward()
        return loss.item()

    w = sd.tensor([4.0, 5.0, 6.0], requires_grad=True)
    assert step(w) == 32.0 and w.grad.tolist() == [1.0, 2.0, 3.0]


def test_metrics_through_cpu_in_a_compiled_step():
    """``out.detach().cpu().numpy()`` and ``loss.cpu().item()``, the usual metrics, run
    compiled as eagerly (an AttributeError, and a refusal)."""
    x = sd.tensor([[1.0, 2.0], [3.0, 4.0]])

    def step(w):
        out = x @ w
        loss = (out**2).mean()
        loss.backward()
        return out.detach().cpu().numpy().argmax(1).tolist(), loss.cpu().item()

    w1, w2 = (sd.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True) for _ in range(2))
    assert sd.differentiate(step)(w1) == step(w2)
    np.testing.assert_array_equal(w1.grad.numpy(), w2.grad.numpy())


def test_retain_grad_on_a_module_output_runs_as_eager_code():
    """``h = seq[0](x); h.retain_grad()``: the step is left to the eager runtime (it was
    refused), which keeps ``h.grad``."""
    seq = sd.nn.Sequential(sd.nn.Linear(2, 2))

    @sd.differentiate
    def step(x):
        h = seq[0](x)
        h.retain_grad()
        loss = h.sum()
        loss.backward()
        return h.grad

    assert step(sd.tensor([[1.0, 2.0]])).tolist() == [[1.0, 1.0]]


def test_a_module_called_again_after_its_optimizer_stepped():
    """A GAN's discriminator step, then the generator's through the updated
    discriminator: the second backward's adjoint kept an empty loop over the first
    call's records, which held the parameters written since (a false in-place error)."""

    def run(compiled):
        sd.manual_seed(0)
        gen = sd.nn.Linear(2, 4)
        disc = sd.nn.Sequential(sd.nn.Linear(4, 1), sd.nn.Tanh())
        opt = sd.optim.SGD(disc.parameters(), lr=0.1)

        def step(z):
            fake = gen(z)
            loss_d = disc(fake.detach()).mean()
            loss_d.backward()
            opt.step()
            loss_g = disc(fake).mean()
            loss_g.backward()
            return loss_d.item(), loss_g.item(), gen.weight.grad.numpy().copy()

        step = sd.differentiate(step) if compiled else step
        return step(sd.randn(8, 2))

    (d1, g1, w1), (d2, g2, w2) = run(True), run(False)
    assert (d1, g1) == pytest.approx((d2, g2), rel=1e-6)
    np.testing.assert_allclose(w1, w2, rtol=1e-6)


def elementwise_methods(w, x):
    h = x @ w
    terms = h.square() + h.reciprocal() * 0.1 + h.abs().log1p() + (h * 0.1).expm1()
    wide = h[:, :1].expand(2, 3) * sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64)
    return (terms + h.sign() * h).contiguous().sum() + h.norm() + h.norm(dim=1).sum() + wide.sum()


def test_elementwise_tensor_methods_compile_as_eager_code_runs_them():
    """square, reciprocal, log1p, expm1, sign, contiguous, norm and expand were refused in
    compiled steps (no array version), though eager code runs them."""
    x = sd.tensor([[1.0, 2.0], [3.0, -4.0]], dtype=sd.float64)

    def step(w):
        loss = elementwise_methods(w, x)
        loss.backward()
        return loss.item()

    w1, w2 = (
        sd.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=sd.float64, requires_grad=True)
        for _ in range(2)
    )
    assert sd.differentiate(step)(w1) == pytest.approx(step(w2), rel=1e-12)
    np.testing.assert_allclose(w1.grad.numpy(), w2.grad.numpy(), rtol=1e-12)


class _RunningMean(nn.Module):
    """A BatchNorm-like running statistic, updated in place under no_grad in forward."""

    def __init__(self):
        super().__init__()
        self.g = nn.Parameter(sd.ones(3))
        self.register_buffer("rm", sd.zeros(3))

    def forward(self, x):
        mean = x.mean(0)
        with sd.no_grad():
            self.rm.mul_(0.9).add_(0.1 * mean)
        return self.g * (x - mean)


def test_a_buffer_updated_under_no_grad_in_an_inlined_forward_runs_as_eager_code():
    """The no_grad block's facts named the callee's ``self``, which inlining renamed
    (a NameError when the step ran)."""
    x = sd.randn(8, 3)
    runs = []
    for compiled in (False, True):
        bn = _RunningMean()

        def step(x, bn=bn):
            loss = (bn(x) ** 2).mean()
            loss.backward()
            return loss.item()

        step = sd.differentiate(step) if compiled else step
        losses = [step(x) for _ in range(3)]
        runs.append((losses, bn.rm.numpy().copy(), bn.g.grad.numpy().copy()))
    for eager, compiled in zip(*runs, strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-6)


class _Smoothed(_RunningMean):
    """A running mean kept as a buffer, assigned (not updated in place) in forward."""

    def forward(self, x):
        mean = x.mean(0)
        self.rm = 0.1 * mean.detach()
        return self.g * (x - mean)


def test_values_a_step_stores_outside_it_are_tensors_as_in_eager_code():
    """``state["h"] = h.detach()``, ``history.append(...)``, ``holder.h = ...`` and a
    buffer assigned in ``forward`` stored the arrays compiled code holds (``.numpy()``
    then failed, and a buffer refused the array)."""
    w = nn.Parameter(sd.ones(3))
    state, history, holder, smoothed = {}, [], types.SimpleNamespace(), _Smoothed()

    @sd.differentiate
    def step(x):
        h = (w * x).tanh()
        loss = h.sum() + (smoothed(x) ** 2).mean()
        loss.backward()
        state["h"] = h.detach()
        history.append(h.detach())
        holder.h = h.detach()
        holder.d = {"k": [h.detach(), 1.0]}
        return loss.item()

    x = sd.randn(4, 3)
    step(x)
    want = np.tanh(x.numpy())
    assert holder.d["k"][1] == 1.0
    for stored in (state["h"], history[0], holder.h, holder.d["k"][0]):
        assert isinstance(stored, sd.Tensor) and not stored.requires_grad
        np.testing.assert_allclose(stored.numpy(), want, rtol=1e-6)
    assert isinstance(smoothed.rm, sd.Tensor)
    np.testing.assert_allclose(smoothed.rm.numpy(), 0.1 * x.numpy().mean(0), rtol=1e-6)


def test_a_tensor_made_in_the_step_is_filled_by_item_writes_as_in_eager_code():
    """``z = sd.zeros(3); z[x > 0] = (w * x)[x > 0]``: z was taken for a Tensor from
    outside and the write refused, though eager code differentiates it."""
    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def step(x):
        z = sd.zeros(3)
        z[x > 0] = (w * x)[x > 0]
        out = sd.zeros(2, 3)
        for i in range(2):
            out[i] = z * (i + 1.0)
        loss = (out**2).sum()
        loss.backward()
        return loss.item()

    x = sd.tensor([1.0, -1.0, 2.0])
    runs = []
    for fn in (step, sd.differentiate(step)):
        w.grad = None
        runs.append((fn(x), w.grad.numpy().copy()))
    assert runs[1][0] == pytest.approx(runs[0][0])
    np.testing.assert_allclose(runs[1][1], runs[0][1])
    np.testing.assert_allclose(runs[0][1], [10.0, 0.0, 120.0])


class _Counted(nn.Module):
    def __init__(self):
        super().__init__()
        self.g = nn.Parameter(sd.ones(3))
        self.calls = 0
        self.last = None

    def forward(self, x, keep=False):
        self.calls = self.calls + 1
        y = self.g * x
        if keep:
            self.last = y.sum()
        return y


def test_a_number_a_forward_writes_into_its_module_runs_and_a_gradient_is_refused():
    """``self.calls = self.calls + 1`` was refused as a differentiated value written into
    an attribute; a value that may carry a gradient (``self.last = y.sum()``) still is,
    where the step runs."""
    m = _Counted()

    @sd.differentiate
    def step(x, keep=False):
        loss = m(x, keep).sum()
        loss.backward()
        return loss.item()

    step(sd.ones(3))
    step(sd.ones(3))
    assert m.calls == 2
    np.testing.assert_allclose(m.g.grad.numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(sd.CompileError, match="computed from a Tensor that requires grad"):
        step(sd.ones(3), True)


def test_a_manual_sgd_update_after_the_last_backward_runs_as_eager_code():
    """``with sd.no_grad(): p -= lr * p.grad`` over a Sequential's parameters after
    ``backward()`` was refused: the check that no saved value changes ran where no
    adjoint reads them any more."""
    runs = []
    for compiled in (False, True):
        sd.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))

        def step(x, y, model=model):
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            with sd.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
            model.zero_grad()
            return loss.item()

        step = sd.differentiate(step) if compiled else step
        sd.manual_seed(1)
        x, y = sd.rand(8, 2), sd.rand(8, 1)
        losses = [step(x, y) for _ in range(3)]
        runs.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    for eager, compiled in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-6)


def test_two_backward_calls_on_one_path_one_in_a_branch_are_refused():
    """The second of two ``backward()`` calls, one of them inside an ``if``, added
    nothing when compiled (half the eager gradient, silently); one in each branch of an
    ``if`` runs, as only one runs."""
    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = sd.tensor([1.0, 1.0, 2.0])

    def again(x, a):
        loss = (w * w * x).sum()
        loss.backward(retain_graph=True)
        if a:
            loss.backward()
        return loss.item()

    def either(x, a):
        y = w * w
        if a:
            (y * x).sum().backward()
        else:
            (y * y).sum().backward()
        return 0.0

    with pytest.raises(sd.CompileError, match="after another on the same path"):
        sd.differentiate(again)(x, True)
    grads = []
    for fn in (either, sd.differentiate(either)):
        w.grad = None
        fn(x, True)
        fn(x, False)
        grads.append(w.grad.numpy().copy())
    np.testing.assert_allclose(grads[1], grads[0])


def test_a_step_reading_its_parameters_names_decays_the_weights_alone():
    """``name.endswith("bias")`` over ``named_parameters()`` was refused as an array's
    method without a rule: the names carry no gradient."""
    torch_like = sd.nn.Linear(3, 2)
    x = sd.tensor(np.arange(6.0).reshape(2, 3), dtype=sd.float32)

    def step(x):
        loss = (torch_like(x) ** 2).sum()
        for name, p in torch_like.named_parameters():
            if not name.endswith("bias"):
                loss = loss + 0.5 * (p**2).sum()
        loss.backward()
        return loss.item()

    want = step(x)
    grads = [p.grad.numpy().copy() for p in torch_like.parameters()]
    for p in torch_like.parameters():
        p.grad = None
    assert sd.differentiate(step)(x) == pytest.approx(want)
    for p, g in zip(torch_like.parameters(), grads, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-6)


def test_a_step_making_a_tensor_of_its_own_require_grad_runs_as_eager_code_does():
    """``x.requires_grad = True``, ``.detach().requires_grad_()``, ``retain_grad()`` and
    ``enable_grad`` are the eager runtime's: such a step crashed, or was refused."""
    w = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)

    def step(x):
        x = x.clone()
        x.requires_grad = True
        h = (x * w).tanh()
        h.retain_grad()
        with sd.enable_grad():
            loss = h.sum()
        loss.backward()
        return loss.item(), x.grad, h.grad

    x = sd.tensor([0.5, 0.3], dtype=sd.float64)
    eager = step(x)
    eager_w = w.grad.numpy().copy()
    w.grad = None
    compiled = sd.differentiate(step)(x)
    assert compiled[0] == pytest.approx(eager[0])
    for got, want in zip(compiled[1:], eager[1:], strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy())
    np.testing.assert_allclose(w.grad.numpy(), eager_w)


def test_layers_of_different_widths_over_chunks_without_gradient():
    """``model(c)`` for chunks that need no gradient: the Sequential's loop restarts the
    adjoint of its input on the first layer, whose input is narrower than its output (the
    zero was shaped like the output, and the step crashed)."""
    sd.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))

    def step(chunks, y):
        out = sd.cat([model(c) for c in chunks], dim=0)
        loss = ((out - y) ** 2).mean()
        loss.backward()
        return loss.item()

    x, y = sd.randn(6, 3), sd.randn(6, 2)
    assert_compiled_step_matches_eager(step, model, [x[0:2], x[2:4], x[4:6]], y)


def test_a_scheduler_stepped_with_the_loss_in_a_compiled_step_runs_as_written():
    # ReduceLROnPlateau.step(loss) reads the loss as a number and sets the lrs: it runs
    # as it does eagerly (it was compiled, and its attribute writes refused)
    def run(compile_step):
        sd.manual_seed(0)
        model = nn.Linear(3, 1)
        optimizer = sd.optim.SGD(model.parameters(), lr=0.5)
        scheduler = sd.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
        x, y = sd.randn(8, 3), sd.randn(8, 1)

        def step(x, y):
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step(loss * 0.0 + 10.0)  # a plateau: the lr halves at each step
            return loss.item()

        step = sd.differentiate(step) if compile_step else step
        losses = [step(x, y) for _ in range(4)]
        return losses, optimizer.param_groups[0]["lr"], model.weight.detach().numpy()

    eager, compiled = run(False), run(True)
    assert compiled[0] == eager[0] and compiled[1] == eager[1] < 0.5
    assert np.array_equal(compiled[2], eager[2])


def _twice_shared(x):
    h = x.exp()
    (h * 2).sum().backward()
    (h * h).sum().backward()  # through what the first backward freed
    return 0


def _twice_the_same(x):
    loss = (x * x).sum()
    loss.backward()
    loss.backward()
    return 0


def _twice_retained(x):
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    return 0


def _two_graphs(x):
    (x * x).sum().backward()
    x.sin().sum().backward()  # another graph of the same leaf
    return 0


def _twice_through_a_view(x):
    losses = sd.stack([(x * x).sum(), (x * x * x).sum()])
    losses[0].backward()
    losses[0].backward()  # (each index a new array)
    return 0


def _twice_rebuilt(x):
    loss = (x * x).sum()
    loss.backward()
    (loss * 1.0).backward()
    return 0


@pytest.mark.parametrize("body", [_twice_the_same, _twice_shared, _twice_through_a_view,
                                  _twice_rebuilt])  # fmt: skip
def test_a_second_backward_through_freed_values_is_refused_as_eagerly(body):
    # it ran the adjoint again, counting the gradient twice
    for run in (body, sd.differentiate(body)):
        x = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            run(x)


def _two_heads(x, w):
    p, q = x * w, x.exp()
    p.sum().backward()
    q.sum().backward()
    return 0


def test_two_heads_sharing_no_saved_value_run_in_a_compiled_step():
    e = np.exp([1.0, 2.0])
    for run in (_two_heads, sd.differentiate(_two_heads)):
        x = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
        w = sd.tensor([0.5, 3.0], dtype=sd.float64, requires_grad=True)
        run(x, w)
        np.testing.assert_allclose(x.grad.numpy(), [0.5, 3.0] + e)
        assert w.grad.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("body", [_twice_retained, _two_graphs])
def test_a_second_backward_with_retain_graph_or_through_another_graph_runs(body):
    grads = []
    for run in (body, sd.differentiate(body)):
        x = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
        run(x)
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1]


def _backward_with(x, **options):
    loss = (x * x).sum()
    loss.backward(**options)
    return 0


def test_backward_takes_pytorchs_keywords_in_a_compiled_step():
    x = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
    sd.differentiate(_backward_with)(x, create_graph=False, retain_graph=None)
    assert x.grad.tolist() == [2.0, 4.0]  # (create_graph=False made it fail)
    for options, what in (({"create_graph": True}, "create_graph=True"),
                          ({"inputs": [x]}, "inputs=")):  # fmt: skip
        with pytest.raises(sd.CompileError, match=what):
            sd.differentiate(_backward_with)(x, **options)


def _backward_of_shape(x, g):
    (x * 2.0).backward(g)
    return 0


def test_a_gradient_of_another_shape_is_refused_in_a_compiled_step_as_eagerly():
    for run in (_backward_of_shape, sd.differentiate(_backward_of_shape)):
        x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape"):
            run(x, sd.ones(2))


def _backward_of_no_grad_loss(x):
    with sd.no_grad():
        loss = (x**2).sum()
    loss.backward()
    return 0


def test_backward_of_a_loss_computed_without_grad_is_refused_as_eagerly():
    for run in (_backward_of_no_grad_loss, sd.differentiate(_backward_of_no_grad_loss)):
        x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
            run(x)


def _autograd_backward_step(x):
    sd.autograd.backward((x**2).sum(), grad_tensors=sd.tensor(3.0))
    return 0


def test_sd_autograd_backward_in_a_compiled_step_is_the_tensors_backward():
    grads = []
    for run in (_autograd_backward_step, sd.differentiate(_autograd_backward_step)):
        x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
        run(x)
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1] == [6.0, 12.0, 18.0]


def _penalty_of_a_detached_value(x, w):
    h = x @ w
    return (h * h).sum() + h.detach().requires_grad_(False).sum()


def _step_calling_a_helper(x, w):
    loss = _penalty_of_a_detached_value(x, w)
    loss.backward()
    return loss.item()


def test_requires_grad_false_of_a_detached_value_in_a_helper_of_a_compiled_step():
    # it raised the array's AttributeError where the step's own code ran
    out = []
    for run in (_step_calling_a_helper, sd.differentiate(_step_calling_a_helper)):
        w = sd.tensor([[0.5, -0.3], [0.2, 0.8]], dtype=sd.float64, requires_grad=True)
        x = sd.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, 0.3]], dtype=sd.float64)
        out.append((run(x, w), w.grad.tolist()))
    assert out[0] == out[1]


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 1), nn.Linear(3, 1)

    def forward(self, x):
        return self.a(x), self.b(x)


def _heads_step(model, x, retain):
    o1, o2 = model(x)
    o1.sum().backward(retain_graph=retain)
    o2.sum().backward()
    return 0


def test_two_outputs_of_one_call_take_retain_graph_for_their_second_backward():
    # documented: their adjoints read the call's record, saved values of both
    x = sd.ones(4, 3)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        sd.differentiate(_heads_step)(_TwoHeads(), x, False)
    model = _TwoHeads()
    sd.differentiate(_heads_step)(model, x, True)
    assert model.b.weight.grad.tolist() == [[4.0, 4.0, 4.0]]


def _rnn_over_rows(xs, w):
    h = xs[0]
    for t in range(1, 4):
        h = (h * w).tanh() + xs[t]
    h.sum().backward()
    return 0


def test_a_range_counter_indexes_without_unwrapping_or_a_check():
    # an int at each step: no rt.unwrap, no rt.tensor_methods.index of it
    step = sd.differentiate(_rnn_over_rows)
    grads = []
    for run in (_rnn_over_rows, step):
        w = sd.tensor([0.5, -0.3, 0.2], dtype=sd.float64, requires_grad=True)
        run(sd.tensor(np.arange(12.0).reshape(4, 3) / 10), w)
        grads.append(w.grad.tolist())
    assert grads[0] == grads[1]
    source = sd.source(step)
    assert "rt.unwrap(t," not in source and "rt.tensor_methods.index(t" not in source


def test_sum_and_mean_take_a_dtype_eagerly_and_compiled():
    """``x.sum(dim, dtype=...)``, ``x.mean(dim, dtype=...)`` and ``sd.sum(x, dtype=...)``
    cast the entries first, as PyTorch's (values and gradients of PyTorch 2.13)."""

    def step(x):
        out = (x.sum(dim=0, dtype=sd.float64) ** 2).sum() + x.mean(1, dtype=sd.float64).sum()
        out = out + sd.sum(x, dtype=sd.float64)
        out.backward()
        return out.item(), x.sum(dtype=sd.float64).dtype

    want = [[5.3333335, -0.6666666, 4.3333335]] * 2
    for run in (step, sd.differentiate(step)):
        x = sd.tensor([[0.5, -1.25, 2.0], [1.5, 0.25, -0.5]], requires_grad=True)
        value, dtype = run(x)
        assert value == pytest.approx(10.583333333333334) and dtype == sd.float64
        assert x.grad.dtype == sd.float32
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


def test_new_tensor_copies_data_detached_eagerly_and_compiled():
    """``x.new_tensor(data)``: data in x's dtype, carrying no gradient, as PyTorch's."""
    w = sd.nn.Parameter(sd.ones(2))

    def step(x):
        c = x.new_tensor([2.0, 3.0])
        loss = (w * x * c).sum()
        loss.backward()
        return loss.item()

    for run in (step, sd.differentiate(step)):
        w.grad = None
        assert run(sd.ones(2)) == 5.0 and w.grad.tolist() == [2.0, 3.0]
    made = sd.ones(2, dtype=sd.float64).new_tensor(3, dtype=sd.float32)
    assert made.dtype == sd.float32 and made.item() == 3.0 and not made.requires_grad


class _Lit(nn.Module):
    """A model whose training step takes the batch as one tuple, as a Lightning-style
    module does."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 2)
        self.scale = nn.Parameter(sd.tensor([1.5]))

    def training_step(self, batch):
        x, y = batch
        return ((self.layer(x) * self.scale - y) ** 2).mean()


@pytest.mark.parametrize("kind", [tuple, list])
def test_a_batch_of_tensors_handed_on_to_a_helper_runs_as_eager_code(kind):
    """A tuple (or list) of Tensors given to the step and handed on whole to a method
    calling a Module crashed while its call was compiled."""

    def step(model, batch):
        loss = model.training_step(batch)
        loss.backward()
        return loss.item()

    grads, losses = [], []
    for run in (step, sd.differentiate(step)):
        sd.manual_seed(0)
        model = _Lit()
        batch = kind([sd.tensor([[1.0, 0.5], [0.2, -1.0]]), sd.tensor([[0.0, 1.0], [1.0, 0.0]])])
        losses.append(run(model, batch))
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    assert losses[1] == pytest.approx(losses[0], rel=1e-6)
    for compiled, eager in zip(grads[1], grads[0], strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-6)


class _Clamped(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(3, 4)
        self.l2 = nn.Linear(4, 1)

    def forward(self, x):
        h = self.l1(x)
        g = h
        h.clamp_(min=0.0, max=0.5)
        return self.l2(h) + g.sum()


def test_clamp_in_place_on_a_computed_value_runs_as_eager_code():
    """``h.clamp_(min=0)`` on a layer's output was refused in compiled steps; it is an
    update in place like ``masked_fill_``, seen through every name holding ``h``."""

    def step(model, x):
        loss = (model(x) ** 2).mean()
        loss.backward()
        return loss.item()

    x = sd.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    runs = []
    for run in (step, sd.differentiate(step)):
        sd.manual_seed(0)
        model = _Clamped().double()
        runs.append((run(model, x), [p.grad.numpy().copy() for p in model.parameters()]))
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-12)
    for compiled, eager in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-10)


class _NamedAsMethods(nn.Module):
    """Sub-modules named as Tensor methods (``self.norm``, ``self.sum``, ``self.max``)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.norm = nn.Tanh()
        self.max = nn.Linear(4, 4)
        self.sum = nn.Linear(4, 1)

    def forward(self, x):
        return self.sum(self.max(self.norm(self.fc(x))))


def test_sub_modules_named_as_tensor_methods_are_called_as_modules():
    """``self.norm(h)`` with ``self.norm = nn.LayerNorm(...)`` was compiled as the Tensor
    method ``norm`` of ``self`` (a TypeError)."""

    def step(model, x):
        loss = (model(x) ** 2).mean()
        loss.backward()
        return loss.item()

    x = sd.tensor(np.random.default_rng(1).standard_normal((5, 3)))
    runs = []
    for run in (step, sd.differentiate(step)):
        sd.manual_seed(0)
        model = _NamedAsMethods().double()
        runs.append((run(model, x), [p.grad.numpy().copy() for p in model.parameters()]))
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-12)
    for compiled, eager in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-10)


def _through_an_int_cast(x):
    y = (x * 10).type_as(sd.tensor([1, 2])).type_as(x) + x
    z = (x * 10).to(sd.int64).float() * x
    (y.sum() + z.sum()).backward()
    return y.detach()


def test_a_cast_to_integers_passes_no_gradient_in_compiled_steps():
    """``.type_as(ints)`` and ``.to(sd.int64)`` of a differentiated value are constant
    almost everywhere: compiled code passed the gradient through them (x.grad 11 where
    PyTorch's is 1)."""
    grads = []
    for run in (_through_an_int_cast, sd.differentiate(_through_an_int_cast)):
        x = sd.tensor([0.25, 0.5, 1.5], requires_grad=True)
        run(x)
        grads.append(x.grad.numpy().copy())
    np.testing.assert_allclose(grads[1], grads[0])
    np.testing.assert_allclose(grads[0], [1.0 + 2.0, 1.0 + 5.0, 1.0 + 15.0])


def test_a_value_a_compiled_step_returns_requires_grad_and_its_graph_is_refused():
    """A step calling backward() returns Tensors computed from Tensors that require grad
    which require grad too, as PyTorch's; their graph is the compiled code's, which keeps
    none for another backward(): one reaching them raises rather than leave ``w.grad``
    without their share (it gave w [3, 6, 9] where PyTorch gives [4, 8, 12])."""
    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)

    @sd.differentiate
    def step(x):
        out = x * w
        (out**2).sum().backward(retain_graph=True)
        return out, out.sum().item(), (x > 0).sum()

    out, total, positive = step(sd.ones(3))
    assert out.requires_grad and not out.is_leaf and total == 6.0
    assert not positive.requires_grad  # (integers never require grad)
    with pytest.raises(RuntimeError, match="compiled with @sd.differentiate returned"):
        (out * w).sum().backward()
    assert not out.detach().requires_grad


class _Scale:
    """An object running an operator of its own."""

    def __init__(self, s):
        self.s = s

    def __mul__(self, other):
        return other * self.s

    __rmul__ = __mul__


class _Squared:
    """An operator that is no product: a Tensor's derivative would be wrong."""

    def __init__(self, s):
        self.s = s

    def __mul__(self, other):
        return other * other * self.s

    def __rmul__(self, other):
        return (other - self.s) ** 2


@pytest.mark.parametrize("order", ["left", "right"])
@pytest.mark.parametrize("kind", [_Scale, _Squared])
def test_an_operand_of_a_users_class_runs_its_own_operator_in_a_compiled_step(order, kind):
    """``w * scale`` (a Tensor's operator gives NotImplemented: ``scale.__rmul__`` runs)
    and ``scale * w`` in a compiled step run the class's methods, compiled, as eager code
    does (refused before)."""
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    scale = kind(3.0)

    def body(x):
        product = w * scale if order == "left" else scale * w
        return (product * x).sum()

    @sd.differentiate
    def step(x):
        loss = body(x)
        loss.backward()
        return loss.item()

    x = sd.tensor([2.0, -1.0])
    value = step(x)
    compiled = w.grad.tolist()
    w.grad = None
    loss = body(x)
    loss.backward()
    assert value == pytest.approx(loss.item())
    assert compiled == pytest.approx(w.grad.tolist())


@pytest.mark.parametrize("make", ["zeros_like", "ones_like", "empty_like"])
def test_tensors_like_another_take_a_dtype_in_a_compiled_step(make):
    """``sd.zeros_like(h, dtype=sd.float64)`` (and ones_like, empty_like) in a compiled
    step: srcdiff's dtypes, as eager code takes them; a new leaf asked to require grad
    runs as eager code makes it, and gets its gradient."""
    fill = {"zeros_like": 0.0, "ones_like": 1.0, "empty_like": 0.0}[make]

    @sd.differentiate
    def step(x):
        h = x * 2.0
        wide = getattr(sd, make)(h, dtype=sd.float64)
        ints = getattr(sd, make)(x, dtype=sd.int64)
        leaf = getattr(sd, make)(h, requires_grad=True)
        (h * x + leaf * x).sum().backward()
        return wide, ints, leaf

    x = sd.tensor([1.0, -2.0], requires_grad=True)
    wide, ints, leaf = step(x)
    assert wide.dtype is sd.float64 and wide.tolist() == [fill, fill]
    assert ints.dtype is sd.int64 and ints.tolist() == [int(fill)] * 2
    assert leaf.requires_grad and leaf.is_leaf and leaf.grad.tolist() == [1.0, -2.0]
    assert x.grad.tolist() == [4.0 + fill, -8.0 + fill]


GRAD_FLAG = [True]


def test_set_grad_enabled_blocks_compile_as_their_flag_asks_at_each_call():
    """``with sd.set_grad_enabled(flag):`` in a compiled step: a no_grad block where the
    flag is False, a block differentiated where it is True, a constant or a value known
    when the step runs (an argument, a global that changes between calls), with eager
    code's gradients; the grad mode after it as before it. (The block was refused, and
    the refusal left recording off for the whole process.)"""

    def by_argument(x, flag):
        with sd.set_grad_enabled(flag):
            y = x * 2.0
        (x * x * y).sum().backward()

    def by_global(x):
        with sd.set_grad_enabled(mode=GRAD_FLAG[0]):
            y = x * 2.0
        (x * x * y).sum().backward()

    def constant(x):
        with sd.set_grad_enabled(False):
            y = x * 2.0
        (x * x * y).sum().backward()

    def grads(fn, *args):
        x = sd.tensor([1.0, 2.0], requires_grad=True)
        fn(x, *args)
        assert sd.is_grad_enabled()
        return x.grad.tolist()

    on, off = [6.0, 24.0], [4.0, 16.0]
    compiled = sd.differentiate(by_argument), sd.differentiate(by_global)
    for flag in (True, False, True, False):
        GRAD_FLAG[0] = flag
        for fn in (by_argument, compiled[0]):
            assert grads(fn, flag) == (on if flag else off)
        for fn in (by_global, compiled[1]):
            assert grads(fn) == (on if flag else off)
    assert grads(sd.differentiate(constant)) == grads(constant) == off


def test_a_refused_grad_mode_block_leaves_the_grad_mode_as_it_was():
    """A ``with`` block of a grad mode that compiled code refuses (turning recording on
    in a step called under no_grad; a manager made before the block) raises, and the
    grad mode is what it was (set_grad_enabled sets it when made, as PyTorch's)."""

    @sd.differentiate
    def step(x, flag):
        with sd.set_grad_enabled(flag):
            y = x * 2.0
        (x * y).sum().backward()

    x = sd.tensor([1.0, 2.0], requires_grad=True)
    with sd.no_grad():
        with pytest.raises(sd.CompileError, match=r"turning recording on .*\(under sd.no_grad"):
            step(x, True)
        assert not sd.is_grad_enabled()
    assert sd.is_grad_enabled()

    @sd.differentiate
    def made_before(x, mgr):
        with mgr:
            y = x * 2.0
        (x * y).sum().backward()

    with pytest.raises(sd.CompileError, match="reached through a name"):
        made_before(x, sd.set_grad_enabled(False))
    assert sd.is_grad_enabled()


@pytest.mark.parametrize(
    "piece",
    [
        lambda w: w.sign(),
        lambda w: w.abs().sign(),
        lambda w: w.floor(),
        lambda w: sd.round(w),
        lambda w: w.clamp(min=10.0),
        lambda w: w.masked_fill(w == w, 1.0),
    ],
    ids=["sign", "abs-sign", "floor", "round", "clamp", "masked_fill"],
)
def test_a_leaf_reached_through_a_zero_gradient_gets_zeros_in_a_compiled_step(piece):
    """``(w.sign() * y).sum().backward()``: PyTorch records sign with a zero gradient, so
    ``w.grad`` is zeros, as eager code gives; a compiled step left it None."""

    def step(w, y):
        (piece(w) * y).sum().backward()

    for fn in (step, sd.differentiate(step)):
        w = sd.tensor([0.5, -1.5], requires_grad=True)
        fn(w, sd.tensor([1.0, 2.0]))
        assert w.grad is not None and w.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "piece",
    [lambda w: w.long().float(), lambda w: w.argmax().float()],
    ids=["long", "argmax"],
)
def test_a_loss_no_leaf_reaches_with_a_gradient_is_refused_as_eagerly(piece):
    """A loss computed from a leaf that requires grad only through operations that pass
    no gradient (an integer cast, argmax): eager code raises PyTorch's error; a compiled
    step ran an adjoint that reached nothing and left ``w.grad`` None without a word."""

    def step(w, y):
        (piece(w) * y).sum().backward()

    for fn in (step, sd.differentiate(step)):
        w = sd.tensor([0.5, -1.5], requires_grad=True)
        with pytest.raises(RuntimeError, match="does not require grad"):
            fn(w, sd.tensor([1.0, 2.0]))
        assert w.grad is None


def test_a_mask_from_a_tensor_that_requires_no_grad_indexes_writes_and_reads():
    """``h[y > 0] = -1.0`` with ``y`` an argument that requires no grad: its mask is a
    Tensor (compiled code does not unwrap ``y``), which the adjoint indexed arrays with
    (a TypeError); as a part of a tuple index too, in a read and in an update."""

    def written(x, y):
        h = x * x
        h[y > 0] = -1.0
        (h * x).sum().backward()

    def in_a_tuple(x, y):
        h = x * x
        h[y > 0, 1] = -1.0
        (h * x).sum().backward()

    def read_and_updated(x, y):
        h = x * x
        h[y > 0] += x[y > 0]
        (h * x + h[y < 0]).sum().backward()

    y = sd.tensor([1.0, -1.0, 1.0])
    cases = [
        (written, [1.0, 2.0, -3.0], [-1.0, 12.0, -1.0]),  # x^3 but where h is -1
        (in_a_tuple, [[1.0, 2.0], [-1.0, 3.0], [0.5, -2.0]],
         [[3.0, -1.0], [3.0, 27.0], [0.75, -1.0]]),
        (read_and_updated, [1.0, 2.0, -3.0], [5.0, 24.0, 21.0]),
    ]  # fmt: skip
    for step, values, want in cases:
        for fn in (step, sd.differentiate(step)):
            x = sd.tensor(values, requires_grad=True)
            fn(x, y)
            assert x.grad.tolist() == want, step.__name__


def _write_first(T, x):
    x[0, 0] = 1.0
    return (x * x).sum()


def _write_first_alone(x):
    x[0, 0] = 1.0
    return (x * x).sum()


def test_a_helper_writing_into_a_leaf_that_requires_grad_raises_pytorchs_error():
    """A function a compiled step calls writes into a leaf that requires grad it was
    given: PyTorch's RuntimeError, as eagerly. (Given srcdiff's module too, as code
    written for a ``torch`` argument is, it was a TypeError, "module is not a supported
    array type"; given the leaf alone, the write went into a copy, without a word.)"""

    @sd.differentiate
    def with_module(x):
        _write_first(sd, x).backward()

    @sd.differentiate
    def alone(x):
        _write_first_alone(x).backward()

    for step in (with_module, alone, with_module.__wrapped__, alone.__wrapped__):
        x = sd.tensor([[2.0, 3.0], [4.0, 5.0]], requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            step(x)
        assert x.tolist() == [[2.0, 3.0], [4.0, 5.0]] and x.grad is None

    @sd.differentiate
    def no_leaf(x, w):
        (_write_first(sd, x * 1.0) * w).backward()

    w = sd.tensor(2.0, requires_grad=True)
    no_leaf(sd.tensor([[2.0, 3.0], [4.0, 5.0]]), w)
    assert w.grad.item() == 51.0


def _detached_alone(x):
    h = x * 2.0
    h.detach_()
    (h * x).sum().backward()


def _detached_assigned(x):
    h = x * 2.0
    g = h.detach_()
    (g * x + h).sum().backward()


def _detached_with_an_alias(x):
    h = x * 2.0
    a, held = h, [h]
    h.detach_()
    (a * x + held[0] * x).sum().backward()


def _detached_after_a_use(x):
    h = x * 2.0
    first = (h * h).sum()
    h.detach_()
    (first + (h * x).sum()).backward()


@pytest.mark.parametrize(
    "step, want",
    [
        (_detached_alone, [2.0, 4.0, 6.0]),
        (_detached_assigned, [2.0, 4.0, 6.0]),
        (_detached_with_an_alias, [4.0, 8.0, 12.0]),
        (_detached_after_a_use, [10.0, 20.0, 30.0]),
    ],
    ids=["alone", "assigned", "alias", "after-a-use"],
)
def test_detach_in_place_of_a_computed_value_detaches_it_and_names_sharing_it(step, want):
    """``h.detach_()`` in a compiled step (an AttributeError, then a refusal): ``h`` and
    every name sharing it (an alias, a list's entry) carry no gradient after it, what
    read ``h`` before keeps its own, as eagerly (PyTorch: x.grad is h's value, 2x)."""
    for fn in (step, sd.differentiate(step)):
        x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
        fn(x)
        assert x.grad.tolist() == want


def test_detach_in_place_of_a_tensor_from_outside_or_a_number_is_refused():
    @sd.differentiate
    def outside(x, y):
        x.detach_()
        (x * y).sum().backward()

    @sd.differentiate
    def number(x):
        t = x.sum()
        t.detach_()
        (t * x).sum().backward()

    x = sd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(sd.CompileError, match=r"\.detach_\(\) of a Tensor from outside"):
        outside(x, sd.tensor([1.0, 1.0], requires_grad=True))
    assert x.requires_grad
    with pytest.raises(sd.CompileError, match=r"\.detach_\(\) of a value .* as a number"):
        number(x)


def test_reading_autograd_flags_in_a_compiled_step_gives_eager_codes_values():
    """``s.requires_grad`` (``is_leaf``) was refused in a compiled step ("no derivative
    rule for attribute .requires_grad"). A parameter's, a loop's entry of a module's
    parameters' and a computed value's read in the step itself give eager code's
    bools; a computed value's in a module's forward, which compiled code holds as an
    array and keeps no flags for, is refused with the way out."""

    def step(x, y):
        s = x * 2.0
        with sd.no_grad():
            t = x * 2.0
        flags = (s.requires_grad, t.requires_grad, (y * 2.0).requires_grad, s.is_leaf,
                 x.requires_grad, y.requires_grad, x.is_leaf)  # fmt: skip
        (s * y).sum().backward()
        return flags

    def make():
        return sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, 4.0])

    want = (True, False, False, False, True, False, True)
    assert step(*make()) == sd.differentiate(step)(*make()) == want

    model = nn.Linear(2, 1)

    @sd.differentiate
    def counted(x):
        n = 0
        for p in model.parameters():
            if p.requires_grad:
                n += 1
        model(x).sum().backward()
        return n

    assert counted(sd.ones(3, 2)) == 2

    class Flagged(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)

        def forward(self, x):
            h = self.lin(x)
            return h * 2.0 if h.requires_grad else h

    flagged = Flagged()

    @sd.differentiate
    def through_forward(x):
        flagged(x).sum().backward()

    with pytest.raises(sd.CompileError, match=r"\.requires_grad of a value a compiled function"):
        through_forward(sd.ones(3, 2))


def _bumped(buffer, value):
    buffer += value
    buffer[0] = 7.0


@pytest.mark.parametrize("where", ["step", "helper"])
def test_a_tensor_argument_updated_in_place_is_written_into_as_eagerly(where):
    """``buf += v`` and ``buf[0] = v`` on a Tensor argument that requires no grad (a
    buffer, a batch) write into it, as PyTorch's in-place operations do: compiled code
    updated a copy, and the caller's Tensor kept its values."""
    w = sd.tensor([1.0, 2.0], requires_grad=True)

    def step(x, buf):
        h = x * w
        if where == "step":
            buf += h.detach()
            buf[0] = 7.0
        else:
            _bumped(buf, h.detach())
        loss = (h * 2).sum()
        loss.backward()
        return loss.item()

    eager, compiled = sd.ones(2), sd.ones(2)
    step(sd.ones(2), eager)
    view = compiled[1:]
    sd.differentiate(step)(sd.ones(2), compiled)
    assert eager.tolist() == compiled.tolist() == [7.0, 3.0]
    assert view.tolist() == [3.0]  # (written into, not given a new array)


def test_a_value_a_compiled_step_returns_from_its_data_alone_requires_no_grad():
    """Only a result computed from Tensors that may require grad requires grad: one
    computed from an argument holding data does not (its ``.numpy()`` works), as in
    PyTorch."""
    model = nn.Linear(3, 2)

    @sd.differentiate
    def step(x):
        out = model(x)
        loss = (out**2).sum()
        loss.backward()
        return out, x * 2, loss.item()

    out, doubled, _ = step(sd.ones(4, 3))
    assert out.requires_grad and not doubled.requires_grad
    assert doubled.numpy().tolist() == [[2.0] * 3] * 4


def test_an_in_place_update_of_a_tensor_argument_with_a_graph_is_refused():
    """Its graph (recorded eagerly before the call) would not see the update that the
    write-back makes: refused, not written silently."""
    w = sd.tensor([1.0, 2.0], requires_grad=True)

    @sd.differentiate
    def step(w, b):
        loss = (w * b).sum()
        loss.backward()
        b += 1.0
        return loss.item()

    with pytest.raises(sd.CompileError, match="has a graph of its own"):
        step(w, sd.tensor([3.0, 4.0], requires_grad=True) * 1.0)


@pytest.mark.parametrize(
    "op",
    [
        lambda x, z: x // z,
        lambda x, z: x % z,
        lambda x, z: x.div(z, rounding_mode="floor"),
        lambda x, z: sd.remainder(x, z),
        lambda x, z: sd.fmod(x, z),
    ],
    ids=["//", "%", "div floor", "remainder", "fmod"],
)
def test_an_integer_division_by_zero_raises_in_a_compiled_step_as_eagerly(op):
    """NumPy gives 0 where PyTorch (and srcdiff's eager Tensors) raise."""
    w = sd.tensor([1.0, 2.0], requires_grad=True)

    def step(x, z):
        q = op(x, z)
        loss = (w * q.float()).sum()
        loss.backward()
        return q

    for run in (step, sd.differentiate(step)):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            run(sd.tensor([3, 4]), sd.tensor([1, 0]))
    got = sd.differentiate(step)(sd.tensor([7, 8]), sd.tensor([2, 3]))
    assert got.tolist() == step(sd.tensor([7, 8]), sd.tensor([2, 3])).tolist()


def test_an_integer_division_by_a_constant_zero_raises_in_a_compiled_step():
    w = sd.tensor([1.0, 2.0], requires_grad=True)

    @sd.differentiate
    def step(x):
        loss = (w * (x // 0).float()).sum()
        loss.backward()
        return loss.item()

    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        step(sd.tensor([3, 4]))


def _grads_of(loss_of, dtype):
    """``.grad`` of two leaves after ``loss_of(w, v, dtype).backward()``, eagerly and in
    a compiled step (None where a leaf got none, the error's type where one raised)."""
    runs = []

    def step(w, v, d):
        loss = loss_of(w, v, d)
        loss.backward()
        return loss.item()

    for fn in (step, sd.differentiate(step)):
        w = sd.tensor([1.5, 2.5], requires_grad=True)
        v = sd.tensor([0.5, -1.0], requires_grad=True)
        try:
            fn(w, v, dtype)
        except RuntimeError as e:
            runs.append(type(e))
            continue
        runs.append(tuple(None if t.grad is None else t.grad.tolist() for t in (w, v)))
    return runs


@pytest.mark.parametrize("dtype", [sd.int64, sd.bool, sd.float32, sd.float64])
@pytest.mark.parametrize(
    "loss_of",
    [
        lambda w, v, d: (w.to(d) * v).sum(),
        lambda w, v, d: (w.type_as(sd.zeros(1, dtype=d)) * v).sum(),
        lambda w, v, d: sum((w.to(d) * v[i]).sum() * (i + 1) for i in range(2)),
        lambda w, v, d: (w.to(d) * 2.0).sum(),  # no leaf reached through an integer cast
    ],
)
def test_a_cast_to_integers_leaves_grad_as_eager_code(loss_of, dtype):
    # PyTorch's integer Tensors carry no gradient: the leaf cast keeps .grad None (an
    # optimizer skips it), and a loss reached through the cast alone cannot backward()
    eager, compiled = _grads_of(loss_of, dtype)
    assert compiled == eager
    if dtype in (sd.int64, sd.bool):
        assert eager is RuntimeError or eager[0] is None


def test_a_cast_to_a_literal_integer_dtype_is_no_differentiated_statement():
    @sd.differentiate
    def step(w):
        loss = (w.to(sd.int64) * 2.0).sum() + (w * w).sum()
        loss.backward()
        return loss.item()

    w = sd.tensor([1.5, 2.5], requires_grad=True)
    step(w)
    assert w.grad.tolist() == [3.0, 5.0]
    assert "rt.record_float" not in sd.source(step)


def test_a_trainers_counters_and_metrics_are_updated_by_augmented_assignments():
    """A trainer's method counting its steps (``self.steps += 1``, ``self.seen +=
    len(x)``), keeping a history (``self.history += [loss.item()]``) and metrics in a dict
    (``self.metrics["loss"] += loss.item()``), as PyTorch code does: these were refused
    (`self` taken for a differentiated value, the dict's entry for an array), where
    ``self.steps = self.steps + 1`` compiled."""

    class Trainer:
        def __init__(self):
            self.model = nn.Linear(3, 2).double()
            with sd.no_grad():
                self.model.weight.copy_(sd.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3)))
                self.model.bias.fill_(0.25)
            self.opt = sd.optim.SGD(self.model.parameters(), lr=0.1)
            self.steps, self.seen, self.history = 0, 0, []
            self.metrics = {"loss": 0.0, "batches": 0}

        def step(self, x, y):
            self.opt.zero_grad()
            loss = ((self.model(x) - y) ** 2).mean()
            loss.backward()
            self.opt.step()
            self.steps += 1
            self.seen += len(x)
            self.history += [loss.item()]
            self.metrics["loss"] += loss.item()
            self.metrics["batches"] += 1
            return loss.item()

    def run(compile_):
        t = Trainer()
        step = compile_(Trainer.step)
        x = sd.tensor(np.arange(12.0).reshape(4, 3) / 10, dtype=sd.float64)
        y = sd.tensor(np.ones((4, 2)), dtype=sd.float64)
        values = [step(t, x, y) for _ in range(3)]
        return t, values

    (want, want_values), (got, got_values) = run(lambda f: f), run(sd.differentiate)
    assert got_values == pytest.approx(want_values)
    assert (got.steps, got.seen, got.metrics["batches"]) == (3, 12, 3)
    assert got.history == pytest.approx(want.history)
    assert got.metrics["loss"] == pytest.approx(sum(want_values))
    np.testing.assert_allclose(
        got.model.weight.detach().numpy(), want.model.weight.detach().numpy()
    )

    @sd.differentiate
    def carried(t, x, y):
        loss = ((t.model(x) - y) ** 2).mean()
        loss.backward()
        t.metrics["loss"] += loss  # a Tensor that requires grad: the dict cannot keep it
        return loss.item()

    with pytest.raises(sd.CompileError, match="may carry a gradient"):
        carried(Trainer(), sd.ones(4, 3, dtype=sd.float64), sd.ones(4, 2, dtype=sd.float64))


def _two_losses_of_a_leaf(x):
    y = (x * 2).sum()
    z = (x * x).sum()
    y.backward()
    z.backward()


def _one_loss_twice(x):
    y = (x * 2).sum()
    y.backward()
    y.backward()


def _two_losses_of_one_value(x):
    h = x * x
    y = h.sum()
    z = (h * 2).sum()
    y.backward()
    z.backward()


@pytest.mark.parametrize(
    ("step", "raises"),
    [(_two_losses_of_a_leaf, False), (_one_loss_twice, True), (_two_losses_of_one_value, True)],
)
def test_a_second_backward_runs_or_raises_as_eager_code(step, raises):
    # PyTorch 2.13: two losses computed before the first backward() run where their graphs
    # share no saved value but a leaf's shape; a graph backward() went through is freed
    for fn in (step, sd.differentiate(step)):
        x = sd.tensor([1.0, 2.0], requires_grad=True)
        if raises:
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                fn(x)
        else:
            fn(x)
            assert x.grad.tolist() == [4.0, 6.0]


def test_a_leaf_argument_updated_in_place_under_no_grad_is_written_as_pytorch_writes_it():
    @sd.differentiate
    def step(buf, v):
        buf += v
        return buf.sum().item()

    w = sd.tensor([1.0, 2.0], requires_grad=True)
    with sd.no_grad():
        assert step(w, sd.tensor([1.0, 1.0])) == 5.0  # PyTorch 2.13: runs, w updated
    assert w.tolist() == [2.0, 3.0] and w.requires_grad
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        step(w, sd.tensor([1.0, 1.0]))


def test_a_refused_write_back_leaves_every_argument_as_it_was():
    """A step updating a plain Tensor and then a leaf that requires grad raises
    PyTorch's error without writing into the plain one first (it was left updated)."""

    @sd.differentiate
    def step(buf, w, v):
        buf += v
        w += v
        return buf.sum().item()

    buf, w = sd.tensor([1.0, 2.0]), sd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        step(buf, w, sd.tensor([1.0, 1.0]))
    assert buf.tolist() == [1.0, 2.0] and w.tolist() == [1.0, 2.0]


def test_the_min_and_max_fields_of_aminmax_match_eager_ones():
    """``r.min`` and ``r.max`` of ``r = h.aminmax()`` (refused: compiled code took them
    for an array's methods); a field so named of a user's object, differentiated, is
    refused clearly (it was a TypeError)."""
    w = sd.tensor([[0.5, -1.0], [2.0, 3.0]], requires_grad=True)

    def step(x):
        r = (w * x).aminmax(dim=1)
        loss = (r.min * 3 + r.max).sum()
        loss.backward()
        return loss.item()

    runs = []
    for run in (step, sd.differentiate(step)):
        w.grad = None
        runs.append((run(sd.tensor([1.0, 2.0])), w.grad.tolist()))
    assert runs[0] == runs[1] == (6.5, [[1.0, 6.0], [3.0, 2.0]])

    class Box:
        def __init__(self, v):
            self.values = v

    @sd.differentiate
    def field(x):
        loss = (Box(w * x).values ** 2).sum()
        loss.backward()

    with pytest.raises(sd.CompileError, match="a field named .values of a .*Box"):
        field(sd.tensor([1.0, 2.0]))

    pair = collections.namedtuple("pair", ["keys", "values"])

    def named(x):
        loss = (pair(w * x, w * 2.0).values ** 2).sum()
        loss.backward()
        return loss.item()

    runs = []
    for run in (named, sd.differentiate(named)):
        w.grad = None
        runs.append((run(sd.tensor([1.0, 2.0])), w.grad.tolist()))
    assert runs[0] == runs[1]


class Metrics:
    """A training loop's running metrics, kept on an object across steps."""

    def __init__(self, total):
        self.total, self.history = total, []


def test_a_metric_accumulated_on_an_object_runs_as_eager_code_runs_it():
    """``acc.total += loss.detach()`` (and ``acc.total = acc.total + loss.detach()``,
    ``+= loss.item()``, ``acc.history.append(loss.detach())``) in a compiled step: the
    field's old Tensor, read in the step, carries a gradient only where it requires grad,
    which the step checks where it runs; it was refused (and the list held NumPy numbers
    where eager code holds Tensors). The field ends as eager code leaves it: its value,
    its dtype, no grad; ``w.grad`` is the same."""

    def added(w, x, acc):
        loss = ((w * x) ** 2).sum()
        loss.backward()
        acc.total += loss.detach()
        return loss.item()

    def rebound(w, x, acc):
        loss = ((w * x) ** 2).sum()
        loss.backward()
        acc.total = acc.total + loss.detach()
        return loss.item()

    def number(w, x, acc):
        loss = ((w * x) ** 2).sum()
        loss.backward()
        acc.total += loss.item()
        return loss.item()

    def appended(w, x, acc):
        loss = ((w * x) ** 2).sum()
        loss.backward()
        acc.history.append(loss.detach())
        acc.total = acc.total + loss.detach() * 0.5
        return loss.item()

    def on_a_branch(w, x, acc):
        loss = ((w * x) ** 2).sum()
        if loss > 0.0:
            loss.backward()
            acc.total += loss.detach()
        return loss.item()

    def run(step, dtype, total):
        w = sd.tensor([0.5, -0.3], dtype=dtype, requires_grad=True)
        x = sd.tensor([1.0, 2.0], dtype=dtype)
        acc = Metrics(total())
        values = [step(w, x, acc) for _ in range(2)]
        held = [acc.total, *acc.history]
        kinds = [f"{type(t).__name__} {getattr(t, 'dtype', '')} {getattr(t, 'requires_grad', '')}"
                 for t in held]  # fmt: skip
        return values + kinds, [w.grad.numpy(), *(np.asarray(t) for t in held)]

    totals = (lambda: sd.tensor(0.0), lambda: sd.tensor(1.0, dtype=sd.float64), lambda: 0.0)
    for step in (added, rebound, number, appended, on_a_branch):
        for dtype in (sd.float32, sd.float64):
            for total in totals:
                assert_runs_match(lambda f, d=dtype, t=total: run(f, d, t), step)


def test_a_metric_accumulated_by_a_method_of_the_compiled_step_runs_as_eager():
    """``self.total += loss.detach()`` in a method compiled as a step, on its own object."""

    class Trainer(Metrics):
        def step(self, w, x):
            loss = (w * x).sum()
            loss.backward()
            self.total += loss.detach()
            self.total += loss.item()
            return loss.item()

    runs = []
    for compiled in (False, True):
        trainer, w = Trainer(sd.tensor(0.0)), sd.tensor([0.5, -1.0], requires_grad=True)
        step = sd.differentiate(trainer.step) if compiled else trainer.step
        values = [step(w, sd.tensor([1.0, 2.0])) for _ in range(3)]
        runs.append((values, trainer.total.item(), trainer.total.requires_grad, w.grad.tolist()))
    assert runs[0] == runs[1] == ([-1.5] * 3, -9.0, False, [3.0, 6.0])


def test_a_metric_field_that_requires_grad_or_grows_in_a_loop_is_refused_where_it_runs():
    """The field's Tensor requiring grad (eager code raises PyTorch's error for ``+=``, or
    gives it a graph the object keeps), and a value computed from it in a loop (whose
    earlier rounds the step cannot check), are refused with what to do; the same step
    runs where the field requires no grad, and under ``sd.no_grad()``."""
    w = sd.tensor([0.5, -1.0], requires_grad=True)
    acc = types.SimpleNamespace(total=sd.tensor(0.0, requires_grad=True))

    @sd.differentiate
    def step(x, under_no_grad):
        loss = (w * x).sum()
        loss.backward()
        if under_no_grad:
            with sd.no_grad():
                acc.total += loss.detach()
        else:
            acc.total += loss.detach()
        return loss.item()

    with pytest.raises(sd.CompileError, match=r"computed from a Tensor that requires grad"):
        step(sd.tensor([1.0, 2.0]), False)
    acc.total = sd.tensor(0.0)
    step(sd.tensor([1.0, 2.0]), False)
    step(sd.tensor([1.0, 2.0]), True)
    assert acc.total.item() == -3.0 and not acc.total.requires_grad

    @sd.differentiate
    def looped(x, n):
        loss = 0.0
        for i in range(n):
            part = (w * x[i]).sum()
            loss = loss + part
            acc.total += part.detach()
        loss.backward()
        return loss.item()

    with pytest.raises(sd.CompileError, match=r"object's own Tensor in a loop") as e:
        looped(sd.tensor([[1.0, 2.0], [3.0, 2.0]]), 2)
    assert "or .detach() the value first" not in str(e.value)


def test_a_returned_tensor_requires_grad_where_an_argument_it_comes_from_does():
    """Each returned value's requires_grad follows the arguments it is computed from,
    whether given by position, by keyword or left to their default."""

    @sd.differentiate
    def pair(a, b=None):
        return a * 2.0, (b if b is not None else a) * 3.0

    w, c = sd.tensor([1.0], requires_grad=True), sd.tensor([2.0])
    flags = [
        [t.requires_grad for t in call()]
        for call in (
            lambda: pair(w),
            lambda: pair(c),
            lambda: pair(c, w),
            lambda: pair(c, b=w),
            lambda: pair(a=c, b=c),
            lambda: pair(b=w, a=c),
        )
    ]
    assert flags == [[True, True], [False, False], [False, True], [False, True],
                     [False, False], [False, True]]  # fmt: skip


GLOBAL_BUFFER = sd.tensor([1.0, 2.0])
GLOBAL_WEIGHT = sd.tensor([1.0, 2.0], requires_grad=True)


def _through_an_alias(x):
    h = GLOBAL_BUFFER
    h += 1.0
    loss = ((h + GLOBAL_WEIGHT) * x).sum()
    loss.backward()
    return loss.item()


def _by_its_method(x):
    GLOBAL_BUFFER.add_(1.0)
    loss = ((GLOBAL_BUFFER + GLOBAL_WEIGHT) * x).sum()
    loss.backward()
    return loss.item()


def _by_its_method_with_a_gradient(x):
    GLOBAL_BUFFER.add_(GLOBAL_WEIGHT * 2.0)
    loss = ((GLOBAL_BUFFER + GLOBAL_WEIGHT) * x).sum()
    loss.backward()
    return loss.item()


def test_a_globals_tensor_changed_in_place_is_changed_or_refused():
    """``h = G; h += 1`` changes G's Tensor in eager code: compiled code gave h a new
    array and left G as it was, without a word (then refused where G holds it; now made
    in G's Tensor, as ``h.add_(1)`` is); ``G.add_(1)`` is made in G's Tensor (it was a
    TypeError); ``G.add_(w * 2)``, whose value carries a gradient G's Tensor could not
    take on, is refused."""
    global GLOBAL_BUFFER
    x = sd.tensor([1.0, 1.0])
    runs = []
    for step in (_by_its_method, sd.differentiate(_by_its_method), _through_an_alias,
                 sd.differentiate(_through_an_alias)):  # fmt: skip
        GLOBAL_BUFFER = sd.tensor([1.0, 2.0])
        held = GLOBAL_BUFFER
        GLOBAL_WEIGHT.grad = None
        runs.append((step(x), held.tolist(), GLOBAL_WEIGHT.grad.tolist()))
        assert GLOBAL_BUFFER is held
    assert runs[0] == runs[1] == runs[2] == runs[3] == (8.0, [2.0, 3.0], [1.0, 1.0])
    GLOBAL_BUFFER = sd.tensor([1.0, 2.0])
    with pytest.raises(sd.CompileError, match="value that may carry a gradient"):
        sd.differentiate(_by_its_method_with_a_gradient)(x)


class _Squarer:
    """Methods named as Tensor methods (``mul``, ``sum``) that compute something else."""

    def __init__(self, s):
        self.s = s

    def mul(self, o):
        return o * o * self.s

    def sum(self, o):
        return (o * o).sum() * self.s

    def __rmul__(self, o):  # (what the Tensor's rule of mul would have run on it)
        return o * self.s


_SQUARER = _Squarer(3.0)


def test_a_method_of_a_global_users_object_named_as_a_tensor_method_runs_as_its_own():
    """``_SQUARER.mul(w)`` in a compiled step is the class's method, compiled (it was
    taken for Tensor.mul: w.grad [0, 3, 6] where eager code gives [0, 6, 12])."""

    def body(w, x):
        return (_SQUARER.mul(w) * x).sum() + _SQUARER.sum(w)

    step = sd.differentiate(_stepping(body))
    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = sd.tensor([0.0, 1.0, 2.0])
    step(w, x)
    compiled = w.grad.tolist()
    w.grad = None
    body(w, x).backward()
    assert compiled == pytest.approx(w.grad.tolist())


def _stepping(body):
    def step(w, x):
        loss = body(w, x)
        loss.backward()
        return loss

    return step


class _Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.squarer = _Squarer(2.0)

    def forward(self, x):
        return self.squarer.mul(x).sum()


def _entry_mul(w, hs):
    h = hs[0]
    return (h.mul(w) * 1.0).sum()


def _entry_sum(w, hs):
    h = hs[0]
    return h.sum(w)


@pytest.mark.parametrize("case", ["entry mul", "entry sum", "module"])
def test_a_method_of_a_users_object_named_as_a_tensor_method_is_never_the_tensors(case):
    """On a value the compiler cannot tell (a list's entry, a module's field), such a
    method is refused where it runs (the Tensor's rule gave w.grad [3, 6, 9] where eager
    code gives [6, 12, 18], silently)."""
    module = _Scaled()
    body = {"entry mul": _entry_mul, "entry sum": _entry_sum, "module": lambda w, _: module(w)}
    step = sd.differentiate(_stepping(body[case]))
    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(
        sd.CompileError, match=r"\.(mul|sum) of a _Squarer, which compiled code took"
    ):
        step(w, [_Squarer(3.0)])
    assert w.grad is None


class _ScaledNet(nn.Module):
    """A module holding an object of a user's class with operators of its own."""

    def __init__(self, scale):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.scale = scale

    def forward(self, x):
        h = self.lin(self.scale * x)
        return (h * 2.0 * self.scale).sum() + (x.sum() * self.scale).sum()


@pytest.mark.parametrize("kind", [_Scale, _Squared])
@pytest.mark.parametrize("passed", [True, False])
def test_an_object_in_a_modules_field_runs_its_own_operators_in_its_forward(kind, passed):
    """``self.scale * x`` in a module's forward, the module passed to the step or found
    as a global: the class's operators, compiled (refused before), give eager code's
    gradients."""
    sd.manual_seed(0)
    net = _ScaledNet(kind(1.5))
    x = sd.randn(4, 3)

    if passed:

        @sd.differentiate
        def step(model, x):
            loss = model(x)
            loss.backward()
            return loss.item()

        value = step(net, x)
    else:

        @sd.differentiate
        def step(x):
            loss = net(x)
            loss.backward()
            return loss.item()

        value = step(x)
    compiled = [p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    loss = net(x)
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-5)
    for got, p in zip(compiled, net.parameters(), strict=True):
        np.testing.assert_allclose(got, p.grad.numpy(), rtol=1e-5, atol=1e-6)


class _Summed:
    """Operators giving Python numbers read off Tensors (``float()``, ``.item()``), which
    carry no gradient in eager code, as in PyTorch."""

    def __init__(self, s):
        self.s = s

    def __mul__(self, o):
        return float((o * self.s).sum())

    def __rmul__(self, o):
        return (o * self.s).sum().item() + 1.0

    def __add__(self, o):
        return o.sum() * self.s


_SUMMED = _Summed(3.0)


def _float_of_a_tensor(w):
    return (w * w).sum() + float((w * 3.0).sum())


def _summed_operators(w):
    return (w * w).sum() + _SUMMED * w + w * _SUMMED + (_SUMMED + w)


@pytest.mark.parametrize("body", [_float_of_a_tensor, _summed_operators])
def test_float_of_a_tensor_carries_no_gradient_in_a_compiled_step_as_eagerly(body):
    """``float(h)`` of a Tensor is a number without gradient in eager code (and PyTorch);
    compiled, it carried one (w.grad [5, 7] where eager code gives [2, 4])."""

    @sd.differentiate
    def step(w):
        loss = body(w)
        loss.backward()
        return loss.item()

    w = sd.tensor([1.0, 2.0], requires_grad=True)
    value = step(w)
    compiled = w.grad.tolist()
    w.grad = None
    loss = body(w)
    loss.backward()
    assert value == pytest.approx(loss.item())
    assert compiled == pytest.approx(w.grad.tolist())


class _Table:
    """A ``__getitem__`` computing with its index (``table[w]``)."""

    def __init__(self, s):
        self.s = s

    def __getitem__(self, i):
        return i * i * self.s


_TABLE = _Table(3.0)


def test_an_index_into_a_global_object_runs_its_getitem_in_a_compiled_step():
    """``_TABLE[w]`` gave no gradient through ``w`` (w.grad [2, 2, 2] where eager code
    gives [8, 14, 20], silently)."""

    def body(w):
        return _TABLE[w].sum() + w.sum() * 2.0

    @sd.differentiate
    def step(w):
        loss = body(w)
        loss.backward()
        return loss.item()

    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    step(w)
    compiled = w.grad.tolist()
    w.grad = None
    body(w).backward()
    assert compiled == pytest.approx(w.grad.tolist())


def test_an_index_into_an_unknown_object_is_refused_in_a_compiled_step():
    """``h[w]`` with ``h`` a list's entry: its own ``__getitem__`` ran, and the Tensor's
    indexing rule gave ``w`` none of its gradient (w.grad [1, 1, 1] where eager code
    gives [7, 13, 19], silently); refused where it runs."""

    @sd.differentiate
    def step(w, tables):
        h = tables[0]
        loss = h[w].sum() + w.sum()
        loss.backward()
        return loss.item()

    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(sd.CompileError, match=r"\.__getitem__ of a _Table"):
        step(w, [_Table(3.0)])
    assert w.grad is None


class _SelfNamedS(nn.Module):
    """A module whose methods name their instance ``s``, with a staticmethod beside them."""

    def __init__(s):
        super().__init__()
        s.lin = nn.Linear(3, 3).double()
        s.relu = nn.ReLU()

    @staticmethod
    def doubled(h):
        return h.relu() * 2.0  # (h a Tensor: its own relu)

    def forward(s, x):
        h = s.lin(x)
        return s.relu(h) + s.doubled(x)


def test_a_module_whose_forward_names_its_instance_otherwise_runs_its_own_modules():
    """``s.relu(h)`` in ``def forward(s, x)`` calls the module's ReLU, as ``self.relu(h)``
    does; compiled, it was taken for Tensor.relu and refused (too many arguments)."""
    sd.manual_seed(0)
    model = nn.Sequential(_SelfNamedS(), _SelfNamedS())
    x = sd.randn(4, 3, dtype=sd.float64)

    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss.item()

    value = sd.differentiate(step)(x)
    compiled = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    assert value == pytest.approx(step(x), rel=1e-12)
    for got, p in zip(compiled, model.parameters(), strict=True):
        np.testing.assert_allclose(got, p.grad.numpy(), rtol=1e-12)


def test_a_differentiated_value_assigned_to_a_global_in_tensor_code_is_refused():
    from srcdiff import nn

    model = nn.Linear(3, 1)

    def records_its_loss(x):
        global LAST_LOSS
        LAST_LOSS = model(x).sum()
        LAST_LOSS.backward()
        return LAST_LOSS.item()

    with pytest.raises(sd.CompileError, match="in code computing with Tensors"):
        sd.differentiate(records_its_loss)(sd.randn(2, 3))


def _indices_of(x, form):
    """The indices of a ``(values, indices)`` result, read by position."""
    if form == "subscript":
        return x.max(0)[1]
    if form == "unpacked":
        _, i = x.sort(0, descending=True)
        return i
    if form == "function":
        return sd.topk(x, 2)[-1]
    _, i = x.cummax(0)
    return i


@pytest.mark.parametrize("form", ["subscript", "unpacked", "function", "cummax"])
def test_indices_by_position_carry_no_gradient(form):
    """``x.max(dim)[1]`` and ``_, i = x.sort()`` are integers, as ``.indices`` is: a loss
    reached from x through them alone is PyTorch's error, and a parameter that reaches
    the loss only through them keeps ``.grad`` None (a step with weight decay leaves it
    where it is), not a zero gradient."""
    w = sd.tensor([0.5, -0.25], requires_grad=True)

    def only_indices(x):
        loss = _indices_of(x, form).double().sum() * 2.0
        loss.backward()
        return loss.item()

    def step(x):
        optimizer.zero_grad()
        loss = (w * 3.0).sum() + _indices_of(x, form).double().sum()
        loss.backward()
        optimizer.step()
        return loss.item()

    for run in (only_indices, sd.differentiate(only_indices)):
        with pytest.raises(RuntimeError, match="does not require grad"):
            run(sd.tensor([1.0, -3.0, 2.0], requires_grad=True))
    moved = []
    for run in (step, sd.differentiate(step)):
        x = sd.tensor([1.0, -3.0, 2.0], requires_grad=True)
        w.data = sd.tensor([0.5, -0.25])
        optimizer = sd.optim.SGD([w, x], lr=0.1, weight_decay=0.5, momentum=0.9)
        for _ in range(3):
            run(x)
        assert x.grad is None
        assert x.tolist() == [1.0, -3.0, 2.0]
        moved.append(w.detach().numpy().copy())
    np.testing.assert_array_equal(moved[1], moved[0])


def test_values_by_position_keep_their_gradient():
    """The values of the pair, beside its indices, carry the gradient as before."""

    def step(x):
        v, i = x.max(0)
        s = x.sort(0)[0]
        loss = (v * 2.0).sum() + (s * sd.tensor([1.0, 2.0, 3.0])).sum() + i.double().sum()
        loss.backward()
        return loss.item()

    grads = []
    for run in (step, sd.differentiate(step)):
        x = sd.tensor([1.0, -3.0, 2.0], requires_grad=True)
        run(x)
        grads.append(x.grad.tolist())
    # max: 2 at the largest entry; sort: 1, 2, 3 by rank (-3, 1, 2)
    assert grads[0] == grads[1] == [2.0, 1.0, 5.0]


def _stepped_with_an_optimizer_argument(step, compiled):
    """Three runs of ``step(x, opt)`` (SGD with momentum over a layer and a weight), eagerly
    or compiled: each run's loss, then the parameters and their ``.grad``."""
    sd.manual_seed(0)
    layer = nn.Linear(3, 3).double()
    w = sd.randn(3, dtype=sd.float64, requires_grad=True)
    opt = sd.optim.SGD([*layer.parameters(), w], lr=0.1, momentum=0.9)
    run = sd.differentiate(step) if compiled else step
    losses = []
    for _ in range(3):
        x = sd.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=sd.float64)
        losses.append(run(x, layer, w, opt))
    params = [*layer.parameters(), w]
    return (
        losses,
        [p.detach().numpy().copy() for p in params],
        [p.grad.numpy().copy() for p in params],
    )


def _assert_same_runs(step):
    want, got = (_stepped_with_an_optimizer_argument(step, c) for c in (False, True))
    assert got[0] == want[0]
    for g, w in zip(got[1] + got[2], want[1] + want[2], strict=True):
        np.testing.assert_array_equal(g, w)


def test_a_write_into_a_clone_then_an_optimizer_argument_stepping_runs_as_eager_code():
    """A write into a clone made the optimizer passed in follow it (a clone was taken
    for a view of its argument), and its step was compiled as a differentiated call,
    refused inside srcdiff's own optimizer code; a clone shares nothing, and the step
    runs as written."""

    def step(x, layer, w, opt):
        opt.zero_grad()
        h = layer(x)
        h2 = h.clone()
        h2[0] = 0.0
        loss = (h2 * w).sum()
        loss.backward()
        opt.step()
        return loss.item()

    _assert_same_runs(step)
    compiled = sd.differentiate(step)
    x = sd.tensor([[1.0, 2.0, 3.0]], dtype=sd.float64)
    layer, w = nn.Linear(3, 3).double(), sd.ones(3, dtype=sd.float64, requires_grad=True)
    compiled(x, layer, w, sd.optim.SGD([w], lr=0.1))
    assert "follow(opt" not in sd.source(compiled)


def test_an_optimizer_argument_following_a_write_steps_as_eager_code():
    """A write into what a module argument returned: every argument may hold it and
    follows the write, the optimizer too; its step, srcdiff's code updating under
    no_grad, was compiled as a differentiated call and refused inside that code. It runs
    as written."""

    def step(x, layer, w, opt):
        opt.zero_grad()
        h = layer(x)
        h[0] = 0.0
        loss = (h * w).sum()
        loss.backward()
        opt.step()
        return loss.item()

    _assert_same_runs(step)


class _CheckedSGD:
    """An optimizer of the user's whose step gives ``any`` a generator of Tensor calls
    (refused: compiled code would run it where it is written)."""

    def __init__(self, params):
        self.params = params

    def step(self):
        if any(p.grad.sum() is not None for p in self.params):
            for p in self.params:
                p.data -= 0.1 * p.grad


def test_a_refusal_inside_a_callee_of_a_compiled_step_names_the_line_calling_it():
    """A refusal inside a callee the step reaches through a followed argument names the
    callee's line and the step's line calling it (it named the callee's alone)."""

    def step(x, layer, w, opt):
        h = layer(x)
        h[0] = 0.0
        loss = (h * w).sum()
        loss.backward()
        opt.step()
        return loss.item()

    x = sd.tensor([[1.0, 2.0, 3.0]], dtype=sd.float64)
    layer, w = nn.Linear(3, 3).double(), sd.ones(3, dtype=sd.float64, requires_grad=True)
    lines, first = inspect.getsourcelines(step)
    calling = first + next(i for i, line in enumerate(lines) if line.strip() == "opt.step()")
    with pytest.raises(sd.CompileError, match="given to `any`") as refused:
        sd.differentiate(step)(x, layer, w, _CheckedSGD([w]))
    assert str(refused.value).endswith(f"called from step ({__file__}:{calling})")


class _CountedCalls(nn.Module):
    """A layer counting its calls in a registered (integer) buffer."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2).double()
        self.register_buffer("count", sd.tensor(0))

    def forward(self, x):
        self.count += 1
        return self.lin(x)


def _counted_steps(compiled):
    """Three steps through a ``_CountedCalls``, eagerly or compiled: the losses, then the
    counter (checked to be the buffer the module holds), its dtype and a gradient."""
    sd.manual_seed(0)
    m = _CountedCalls()
    x = sd.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=sd.float64)

    def step(x):
        loss = m(x).sum()
        loss.backward()
        return loss.item()

    step = sd.differentiate(step) if compiled else step
    losses = [step(x) for _ in range(3)]
    count = m.count
    assert isinstance(count, sd.Tensor) and count is dict(m.named_buffers())["count"]
    return losses, count.item(), str(count.dtype), m.lin.weight.grad.numpy()


def test_a_buffer_counter_in_a_compiled_forward_counts_as_eager_code():
    """``self.count += 1`` on a registered buffer was refused (the module's ``_buffers``
    holds the same object, taken for a field that would not see the new value, where
    assigning the field rebinds that entry), and the new 0-d integer was no Tensor."""
    (want, *want_rest), (got, *got_rest) = _counted_steps(False), _counted_steps(True)
    assert got == want and got_rest[:2] == want_rest[:2] == [3, "srcdiff.int64"]
    np.testing.assert_array_equal(got_rest[2], want_rest[2])


class _Tracked(nn.Module):
    """A layer counting its calls in a buffer and summing its outputs in a Tensor field,
    both updated with ``+=``."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2).double()
        self.register_buffer("count", sd.tensor(0))
        self.total = sd.tensor([0.0, 0.0], dtype=sd.float64)

    def forward(self, x):
        self.count += 1
        y = self.lin(x)
        self.total += y[0].detach()
        return y


def _tracked_steps(compiled, alias):
    """Two steps through a ``_Tracked``, eagerly or compiled, with ``m.total`` also updated
    through a name (``alias``): the losses, the values of the counter and the total taken
    before the steps (PyTorch changes those Tensors in place), whether the module still
    holds them, and a gradient."""
    sd.manual_seed(0)
    m = _Tracked()
    x = sd.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=sd.float64)
    count, total = m.count, m.total

    def step(x):
        y = m(x)
        if alias:
            h = m.total
            h += y[1].detach()
        loss = (y * y).sum()
        loss.backward()
        return loss.item()

    step = sd.differentiate(step) if compiled else step
    losses = [step(x) for _ in range(2)]
    held = m.count is count and m.total is total and dict(m.named_buffers())["count"] is count
    return losses, count.item(), total.numpy().tolist(), held, m.lin.weight.grad.numpy()


@pytest.mark.parametrize("alias", [False, True])
def test_an_augmented_tensor_field_changes_in_place_as_in_eager_code(alias):
    """``self.count += 1`` and ``self.total += v`` on Tensors a module holds gave the fields
    new Tensors in a compiled step, where PyTorch changes them in place: a reference taken
    before the steps kept 0 (eager: 2); and ``h = m.total; h += v`` changed nothing."""
    want, got = _tracked_steps(False, alias), _tracked_steps(True, alias)
    assert want[1] == 2 and want[3]
    assert got[:4] == want[:4]
    np.testing.assert_allclose(got[4], want[4], rtol=1e-12)


def test_an_augmented_update_through_a_name_with_a_gradient_is_refused():
    """``h = m.state; h += y`` with ``y`` carrying a gradient makes the module's Tensor
    require grad in eager code; compiled code changed nothing, silently: now refused at
    the line, as ``h.add_(y)`` is."""
    m = _Tracked()
    x = sd.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=sd.float64)

    @sd.differentiate
    def step(x):
        y = m(x)
        h = m.total
        h += y[1]
        loss = (y * y).sum()
        loss.backward()
        return loss.item()

    with pytest.raises(sd.CompileError, match="value that may carry a gradient") as refused:
        step(x)
    line = inspect.getsourcelines(step)[1] + 4  # (the decorator's line, then the def's)
    assert f"{__file__}:{line}): `h += y[1]`" in str(refused.value)


def _entry_steps(compiled, holder):
    """Two steps through a ``_Tracked`` adding to a Tensor its list or dict holds through
    a name, eagerly or compiled: the losses, that Tensor's value, and a gradient."""
    sd.manual_seed(0)
    m = _Tracked()
    m.hist = [sd.tensor([0.0, 0.0], dtype=sd.float64)]
    m.named = {"sum": sd.tensor([0.0, 0.0], dtype=sd.float64)}
    held = m.hist[0] if holder == "list" else m.named["sum"]
    x = sd.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=sd.float64)

    def step(x):
        y = m(x)
        h = m.hist[0] if holder == "list" else m.named["sum"]
        h += y[1].detach() * 2.0
        loss = (y * y).sum()
        loss.backward()
        return loss.item()

    step = sd.differentiate(step) if compiled else step
    losses = [step(x) for _ in range(2)]
    return losses, held.numpy().tolist(), m.lin.weight.grad.numpy()


@pytest.mark.parametrize("holder", ["list", "dict"])
def test_an_augmented_update_of_a_containers_tensor_through_a_name_is_made_in_it(holder):
    """``h = m.hist[0]; h += v`` (a dict's entry too) changes the Tensor the module's
    list holds in eager code; compiled code gave ``h`` a new array and left the list's
    Tensor as it was, silently."""
    (want, want_held, want_grad) = _entry_steps(False, holder)
    (got, got_held, got_grad) = _entry_steps(True, holder)
    assert got == want and got_held == want_held and want_held != [0.0, 0.0]
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12)


class _Stateful(sd.nn.Module):
    """A module keeping a Tensor field that is no parameter nor buffer."""

    def __init__(self):
        super().__init__()
        self.lin = sd.nn.Linear(2, 2)
        self.state = sd.ones(1, 2)


def _field_add(m, x, v):
    h = m.state[0]
    h += v
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _field_method_add(m, x, v):
    h = m.state[0]
    h.add_(v)
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _field_mul(m, x, v):
    h = m.state[0]
    h.mul_(2)
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _field_set(m, x, v):
    h = m.state[0]
    h[1] = 3.0
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _field_whole(m, x, v):
    h = m.state
    h += v
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _field_whole_read(m, x, v):
    h = m.state
    h += v
    loss = (m.lin(x) ** 2).sum() + (h * x).sum()
    loss.backward()
    return loss.item()


def _field_written_itself(m, x, v):
    with sd.no_grad():  # (a Tensor read from an object may carry a gradient)
        m.state[0] += 0.5
        m.state[0].mul_(2)
        m.state[0, 1] = 3.0
    loss = (m.lin(x) ** 2).sum() + (m.state * x).sum()
    loss.backward()
    return loss.item()


def _global_add(m, x, v):
    h = _GLOBAL_STATE[0]
    h += v
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _global_method_add(m, x, v):
    h = _GLOBAL_STATE[0]
    h.add_(v)
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _global_mul(m, x, v):
    h = _GLOBAL_STATE[0]
    h.mul_(2)
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _global_set(m, x, v):
    h = _GLOBAL_STATE[0]
    h[1] = 3.0
    loss = (m.lin(x) ** 2).sum()
    loss.backward()
    return loss.item()


def _global_written_itself(m, x, v):
    _GLOBAL_STATE[0] += 0.5
    _GLOBAL_STATE[0] *= 2
    _GLOBAL_STATE[0, 1] = 3.0
    loss = (m.lin(x) ** 2).sum() + (_GLOBAL_STATE * x).sum()
    loss.backward()
    return loss.item()


_GLOBAL_STATE = sd.ones(1, 2)


def _stateful_run(loss_of, compiled, on_global):
    global _GLOBAL_STATE
    sd.manual_seed(0)
    m = _Stateful()
    _GLOBAL_STATE = sd.ones(1, 2)

    x, v = sd.tensor([0.5, -1.0]), sd.tensor([0.25, -1.5])
    value = (sd.differentiate(loss_of) if compiled else loss_of)(m, x, v)
    held = _GLOBAL_STATE if on_global else m.state
    return value, held.tolist(), m.lin.weight.grad.tolist()


@pytest.mark.parametrize("loss_of", [_field_add, _field_method_add, _field_mul, _field_set,
                                     _global_add, _global_method_add, _global_mul,
                                     _global_set])  # fmt: skip
def test_an_update_in_place_of_an_entry_of_a_held_tensor_is_refused_at_its_line(loss_of):
    """``h = m.state[0]; h += v`` (``h.add_(v)``, ``h.mul_(2)``, ``h[1] = 3.0``), with
    ``m.state`` a module's Tensor field or a global Tensor: PyTorch writes through the
    view ``h`` into the Tensor; compiled code gave ``h`` a new array and left the Tensor
    as it was, without a word (state [[1, 1]] where eager code gives [[1.25, -0.5]]).
    Refused at the line, with the rewrite that works."""
    eager = _stateful_run(loss_of, False, loss_of.__name__.startswith("_global"))
    assert eager[1] != [[1.0, 1.0]]  # (eager code changes the Tensor)
    line = inspect.getsourcelines(loss_of)[1] + 2  # (its update)
    with pytest.raises(sd.CompileError, match=rf"test_compiled_steps\.py:{line}\b.*itself"):
        _stateful_run(loss_of, True, loss_of.__name__.startswith("_global"))


@pytest.mark.parametrize(
    "loss_of", [_field_written_itself, _global_written_itself, _field_whole, _field_whole_read]
)
def test_an_update_in_place_written_into_a_held_tensor_itself_runs_as_eager(loss_of):
    """The rewrite the refusal above gives (``m.state[0] += v``, ``.mul_``, an entry
    assigned), and ``h = m.state; h += v`` of the whole field, change the Tensor as eager
    code does, with the same loss and gradient."""
    on_global = loss_of is _global_written_itself
    want, got = _stateful_run(loss_of, False, on_global), _stateful_run(loss_of, True, on_global)
    assert got[1] == want[1] == ([[3.0, 3.0]] if "itself" in loss_of.__name__ else [[1.25, -0.5]])
    assert got[0] == pytest.approx(want[0]) and np.allclose(got[2], want[2])


def _field_whole_without_backward(m, x):
    h = m.state
    h += x
    return (h * x).sum().item()


def test_a_whole_tensor_field_updated_through_a_name_in_a_step_without_gradients_is_refused():
    """With nothing differentiated, ``h = m.state; h += x`` gave ``h`` a new Tensor and
    left ``m.state`` as it was ([[1, 1]] where eager code gives [[1.5, 0]]): refused."""
    x = sd.tensor([0.5, -1.0])
    m = _Stateful()
    _field_whole_without_backward(m, x)
    assert m.state.tolist() == [[1.5, 0.0]]
    line = inspect.getsourcelines(_field_whole_without_backward)[1] + 2
    with pytest.raises(sd.CompileError, match=rf"test_compiled_steps\.py:{line}\b.*itself"):
        sd.differentiate(_field_whole_without_backward)(_Stateful(), x)


@pytest.mark.parametrize("through_forward", [False, True])
def test_an_averaged_model_in_a_compiled_step_passes_its_gradient(through_forward):
    """srcdiff.optim's code runs as written in compiled steps (an optimizer's step has no
    gradient), but swa_utils.AveragedModel is a Module: its output carries one."""
    from srcdiff.optim.swa_utils import AveragedModel

    sd.manual_seed(0)
    swa = AveragedModel(nn.Linear(3, 1).double())
    x = sd.tensor(np.array([[1.0, 2.0, 3.0]]))

    def step(x):
        out = swa.forward(x) if through_forward else swa(x)
        loss = (out**2).sum()
        loss.backward()
        return loss.item()

    runs = []
    for run in (step, sd.differentiate(step)):
        for p in swa.parameters():
            p.grad = None
        runs.append((run(x), [p.grad.numpy().copy() for p in swa.parameters()]))
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-12)
    for compiled, eager in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-12)


def _contiguous_step(x):
    loss = (x.contiguous() * x * 1.5).sum()
    loss.backward()
    return loss


def test_contiguous_of_a_0d_tensor_stays_0d_in_compiled_code():
    """NumPy's ascontiguousarray makes a 0-d array 1-d: ``x.contiguous()`` of a 0-d tensor
    had shape (1,) in compiled code, and its gradient could not go back to ``x``."""
    step = sd.differentiate(_contiguous_step)
    value = 0.7
    x = sd.tensor(value, dtype=sd.float64, requires_grad=True)
    loss = step(x)
    assert loss.shape == ()
    for eps in (1e-6, 1e-4):
        want = 1.5 * ((value + eps) ** 2 - (value - eps) ** 2) / (2 * eps)
        assert x.grad.shape == () and x.grad.item() == pytest.approx(want, rel=1e-7)


@pytest.mark.parametrize(
    "piece",
    [
        lambda w: w.new_full((2,), 1.5),
        lambda w: w.new_tensor([1.0, 2.0]),
        lambda w: w.new_zeros(2),
        lambda w: (w * 2).detach(),
        lambda w: sd.full_like(w, 2.0),
    ],
    ids=["new_full", "new_tensor", "new_zeros", "detach", "full_like"],
)
def test_a_loss_from_a_callee_result_that_needs_no_grad_is_refused_as_eagerly(piece):
    """A loss built from what a called function returns without a gradient (new_full,
    new_tensor, a detached Tensor): eager code and PyTorch raise; a compiled step, whose
    callee is found when it runs, gave ``w.grad`` zeros."""

    def step(w, y, piece=piece):
        (piece(w) * y).sum().backward()

    for fn in (step, sd.differentiate(step)):
        w = sd.tensor([0.5, -1.5], requires_grad=True)
        with pytest.raises(RuntimeError, match="does not require grad"):
            fn(w, sd.tensor([1.0, 2.0]))
        assert w.grad is None


def test_an_argument_a_callee_result_does_not_depend_on_keeps_no_grad():
    """PyTorch leaves ``.grad`` None for a leaf no gradient path reaches; a compiled step
    gave zeros to one passed to a callee that did not use it."""

    def scaled(w, v):
        return w * 2

    def step(w, v, scaled=scaled):
        (scaled(w, v) * 3).sum().backward()

    for fn in (step, sd.differentiate(step)):
        w = sd.tensor([0.5, -1.5], requires_grad=True)
        v = sd.tensor([1.0, 2.0], requires_grad=True)
        fn(w, v)
        assert w.grad.tolist() == [6.0, 6.0] and v.grad is None


def _given(module):
    return module


@pytest.mark.parametrize(
    "piece",
    [
        lambda x: _given(F).softmax(x, dim=-1),
        lambda x: _given(F).relu(x),
        lambda x: _given(sd).exp(x),
        lambda x: _given(sd).sum(x * x),
    ],
    ids=["softmax", "relu", "exp", "sum"],
)
def test_a_module_a_call_returns_calls_its_own_function(piece):
    """``get(F).softmax(x, dim=-1)``, ``get`` returning the module it is given: the
    module's function, as in Python; compiled code took it for the Tensor's method
    (refused, or a TypeError for ``get(sd).sum(x)``)."""

    def step(x):
        y = piece(x)
        (y * y).sum().backward()

    x0 = np.array([1.0, -2.0, 0.5])

    def value(a):
        with sd.no_grad():
            y = piece(sd.tensor(a))
            return (y * y).sum().item()

    for h in (1e-5, 1e-6):
        want = numeric_grad(value, [x0], eps=h)
        for fn in (step, sd.differentiate(step)):
            x = sd.tensor(x0, requires_grad=True)
            fn(x)
            np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-8)
