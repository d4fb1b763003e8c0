"""``Tensor.register_hook``: a leaf's hooks see (and may replace) its gradient before it
reaches ``.grad``; a non-leaf's, the gradient that flows on behind it. The expected
numbers are PyTorch 2.13's for the same code (worked out here with NumPy)."""

import numpy as np
import pytest

import srcdiff as sd

X = [0.5, -1.25, 2.0]


def _x():
    return sd.tensor(X, dtype=sd.float64, requires_grad=True)


def test_a_leafs_hook_sees_its_gradient_and_may_replace_it():
    x = _x()
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.tolist()) or g * 2.0)
    (x * x).sum().backward()
    assert seen == [[1.0, -2.5, 4.0]] and x.grad.tolist() == [2.0, -5.0, 8.0]
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [1.0, -2.5, 4.0] and len(seen) == 1
    with x.register_hook(lambda g: g * 0.0):
        x.grad = None
        (x * 3.0).sum().backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x.grad = None
    (x * 3.0).sum().backward()  # (removed on leaving the with)
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_a_non_leafs_hook_changes_what_flows_on_behind_it():
    """Every use of ``y`` adds up before its hook runs, once; the path around it (none
    here) would not be changed."""
    x = _x()
    y = x * 3.0
    z = y.sin()
    y.register_hook(lambda g: g * 10.0)
    ((z * y).sum() + (y * 2.0).sum()).backward()
    y_ = 3.0 * np.array(X)
    want = 10.0 * (np.cos(y_) * y_ + np.sin(y_) + 2.0) * 3.0
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-14)


def test_hooks_run_in_order_and_retain_grad_keeps_the_hooked_gradient():
    x = _x()
    y = x.exp()
    y.retain_grad()
    y.register_hook(lambda g: None)  # (keeps it)
    y.register_hook(lambda g: g + 1.0)
    u = y * 2.0
    u.register_hook(lambda g: g * 3.0)
    (u * u).sum().backward()
    y_ = np.exp(X)
    dy = 3.0 * (2.0 * 2.0 * y_) * 2.0 + 1.0
    np.testing.assert_allclose(y.grad.numpy(), dy, rtol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), dy * y_, rtol=1e-14)


def test_hooks_behind_hooks_take_every_gradient_that_reaches_them():
    """``y`` is behind ``u`` and read besides; ``x`` behind both and read besides: each
    hook runs once its whole gradient is in."""
    x = sd.tensor([0.5, 1.5], dtype=sd.float64, requires_grad=True)
    y = x * x
    u = y * 3.0 + x
    y.register_hook(lambda g: g * 0.5)
    u.register_hook(lambda g: -g)
    (u.sum() + (y * u).sum() + y.sum()).backward()
    x_ = np.array([0.5, 1.5])
    y_, u_ = x_ * x_, 3.0 * x_ * x_ + x_
    du = -(1.0 + y_)
    dy = 0.5 * (u_ + 1.0 + 3.0 * du)
    np.testing.assert_allclose(x.grad.numpy(), du + 2.0 * x_ * dy, rtol=1e-14)
    assert x.grad.tolist() == [-2.0, -4.0]  # (PyTorch's)


def test_a_leaf_reached_around_a_hooked_tensor_and_through_it_is_hooked_once():
    """The graph runs in two parts (cut at ``y``): ``x``'s hook runs on the sum of both."""
    x = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()) or g.clamp(max=2.5))
    y = x * 2.0
    y.register_hook(lambda g: g * 0.5)
    (y.sum() + x.sum()).backward()
    assert seen == [[2.0, 2.0, 2.0]] and x.grad.tolist() == [2.0, 2.0, 2.0]
    x.grad = None
    y = x * 2.0
    y.register_hook(lambda g: g * 0.5)
    (y * x).sum().backward()
    assert x.grad.tolist() == [2.5, 2.5, 2.5]  # clamp(x * 2 * 0.5 + y), not 1 + clamp(y)


def test_hooks_run_for_autograd_grad_and_on_the_root():
    x = sd.tensor([0.5, 1.5], dtype=sd.float64, requires_grad=True)
    y = (x * x).sum()
    y.register_hook(lambda g: g * 4.0)
    assert sd.autograd.grad(y, x)[0].tolist() == [4.0, 12.0]
    x.register_hook(lambda g: g * 4.0)
    assert sd.autograd.grad((x * x).sum(), x)[0].tolist() == [4.0, 12.0]
    h = x * 2.0
    h.register_hook(lambda g: g * 4.0)
    assert sd.autograd.grad((h * h).sum(), h)[0].tolist() == [8.0, 24.0]


def test_a_hook_is_refused_where_pytorch_refuses_it():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        sd.tensor([1.0]).register_hook(lambda g: g)
    x = _x()
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        (x * 2.0).sum().backward()


def test_hooks_with_create_graph():
    """A leaf's hook takes part in the graph of its gradient; a non-leaf's is refused
    there, naming what to do, rather than left out."""
    x = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
    x.register_hook(lambda g: g * 2.0)
    (g,) = sd.autograd.grad((x**3).sum(), x, create_graph=True)
    assert g.tolist() == [6.0, 24.0] and g.requires_grad
    h = x * 1.0
    h.register_hook(lambda g: g * 2.0)
    with pytest.raises(RuntimeError, match="create_graph=True.*hook"):
        (h**3).sum().backward(create_graph=True)


def _clipped(g):
    return g.clamp(-1.0, 1.0)


class _Twice(sd.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = sd.nn.Parameter(sd.tensor([0.5, 2.0], dtype=sd.float64))

    def forward(self, x):
        return x * self.w * self.w


def _step(model, x):
    loss = (model(x) * model(x * 2.0)).sum()
    loss.backward()
    return loss.detach()


def test_a_compiled_step_runs_a_leafs_hooks_once_on_its_whole_gradient():
    """The step reads the parameter four times: a hook that is not linear (a clamp) on
    each part would give another gradient than on their sum, as PyTorch runs it."""
    grads = []
    for step in (_step, sd.differentiate(_step)):
        model = _Twice()
        model.w.register_hook(_clipped)
        x = sd.tensor([1.0, 0.25], dtype=sd.float64, requires_grad=True)
        x.register_hook(lambda g: g * 0.5)
        step(model, x)
        grads.append((model.w.grad.tolist(), x.grad.tolist()))
    assert grads == [([1.0, 1.0], [0.125, 8.0])] * 2  # (PyTorch's; on each part: [1.0, 4.0])


def _hooked_inside(x):
    y = x * 3.0
    y.register_hook(_clipped)
    (y * y).sum().backward()
    return y.detach()


def _leaf_hooked_inside(x):
    x.register_hook(_clipped)
    (x * x).sum().backward()
    return x.detach()


@pytest.mark.parametrize("step", [_hooked_inside, _leaf_hooked_inside])
def test_a_hook_registered_in_a_compiled_step_is_refused_naming_its_line(step):
    x = _x()
    with pytest.raises(sd.CompileError, match=r"register_hook.*test_hooks\.py:\d+.*before"):
        sd.differentiate(step)(x)
    assert x.grad is None and x._hooks is None


def _product(a, b):
    (a * b).sum().backward()
    return 0


def _square_plus_one(g):
    return g * g + 1.0


def _square(g):
    return g * g


def _plus_one(g):
    return g + 1.0


@pytest.mark.parametrize(
    "given",
    [
        lambda x: (x * 2.0, x * 3.0),  # a leaf's hook behind two arguments
        lambda x: (x, x * 2.0),  # a leaf given as it is and behind another argument
    ],
    ids=["behind-both", "given-and-behind"],
)
@pytest.mark.parametrize("hook", [_square_plus_one, _square])
def test_a_hook_behind_several_arguments_of_a_step_runs_once_on_their_sum(given, hook):
    """The step's gradients of its arguments go on through the eager graph behind them
    as one pass, as eager code's backward runs: a hook that is not linear, on each part,
    gives another number than on their sum."""
    grads = []
    for step in (_product, sd.differentiate(_product)):
        x = _x()
        x.register_hook(hook)
        step(*given(x))
        grads.append(x.grad.tolist())
    x = np.array(X)
    a, b = given(x)
    p, q = a / x, b / x  # both linear in x: d sum(a * b) / dx = 2 p q x, before the hook
    assert grads[1] == grads[0]
    assert np.allclose(grads[0], hook(2.0 * p * q * x))


def test_a_non_leafs_hook_behind_several_arguments_of_a_step_runs_once():
    grads = []
    for step in (_product, sd.differentiate(_product)):
        x = _x()
        c = x * 1.0
        c.register_hook(_plus_one)
        step(c * 2.0, c * 3.0)
        grads.append(x.grad.tolist())
    assert grads[1] == grads[0] == (12.0 * np.array(X) + 1.0).tolist()


def test_several_roots_of_one_backward_run_a_hook_once_on_their_sum():
    """``autograd.backward([l1, l2])`` is one pass over the graph, as PyTorch's."""
    x = _x()
    x.register_hook(_square_plus_one)
    sd.autograd.backward([(x * 2.0).sum(), (x * 3.0).sum()])
    assert x.grad.tolist() == [26.0] * 3  # (2 + 3) ** 2 + 1; per root: 4 + 1 + 9 + 1
    x = _x()
    c = x * 1.0
    c.register_hook(_square)
    sd.autograd.backward([c * 2.0, c * 3.0], [sd.ones(3, dtype=sd.float64)] * 2)
    assert x.grad.tolist() == [25.0] * 3
