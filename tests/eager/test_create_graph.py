"""``create_graph=True``: gradients that are themselves differentiable (a gradient
penalty, a Hessian-vector product of a model), checked against finite differences in
float64. The recorded graph becomes a program of its own, differentiated again by
reverse mode over its forward mode."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import autograd, nn


def _numeric(fn, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        out[i] = (fn(x + e) - fn(x - e)) / (2 * eps)
    return out


X0 = np.array([0.3, -0.7, 1.2])
W0 = np.array([[0.5, -1.0, 0.2], [0.1, 0.4, -0.3]])


def _gradient_x(x, w):
    t = np.tanh(w @ x)
    return w.T @ (1 - t**2) + 3 * x**2


def _penalty(x, w):
    return np.sum(_gradient_x(x, w) ** 2)


def test_a_gradient_penalty_has_the_gradients_of_its_formula():
    x = sd.tensor(X0, requires_grad=True)
    w = sd.tensor(W0, requires_grad=True)
    y = (w @ x).tanh().sum() + (x * x * x).sum()
    (gx,) = autograd.grad(y, x, create_graph=True)
    assert gx.requires_grad and gx.grad_fn is not None
    np.testing.assert_allclose(gx.detach().numpy(), _gradient_x(X0, W0), rtol=1e-12)
    (gx**2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _numeric(lambda v: _penalty(v, W0), X0), rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), _numeric(lambda v: _penalty(X0, v), W0), rtol=1e-6)


def test_backward_with_create_graph_gives_differentiable_grads():
    x = sd.tensor(X0, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.grad_fn is not None
    np.testing.assert_allclose(g.detach().numpy(), 3 * X0**2, rtol=1e-12)
    x.grad = None
    (g * sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * X0 * [1.0, 2.0, 3.0], rtol=1e-12)


def test_a_model_with_a_gradient_penalty_on_its_input():
    """A critic with a penalty on the norm of its input gradient (as in WGAN-GP)."""
    sd.manual_seed(0)
    critic = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    points = np.random.default_rng(0).normal(size=(5, 3))

    def loss_of(weight: np.ndarray) -> float:
        with sd.no_grad():
            critic[0].weight.copy_(sd.tensor(weight))
        x = sd.tensor(points, requires_grad=True)
        (gx,) = autograd.grad(critic(x).sum(), x, create_graph=True)
        return ((gx**2).sum(dim=1).sqrt() - 1.0) ** 2

    w0 = critic[0].weight.detach().numpy().copy()
    penalty = loss_of(w0).mean()
    critic.zero_grad()
    penalty.backward()
    got = critic[0].weight.grad.numpy()
    want = _numeric(lambda w: float(loss_of(w).mean().item()), w0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)
    assert critic[2].weight.grad is not None
    assert critic[2].bias.grad is None  # the input gradient does not depend on it


def _leaves_reached(pairs) -> dict:
    return {name: p.grad is not None for name, p in pairs}


@pytest.mark.parametrize(
    "activation, reached",
    [  # which .grad PyTorch 2.13 leaves None after the penalty (its relu's adjoint reads
        # the input, whose second derivative is zero: a zero grad, not None)
        ("Tanh", {"0.weight": True, "0.bias": True, "2.weight": True, "2.bias": False}),
        ("Sigmoid", {"0.weight": True, "0.bias": True, "2.weight": True, "2.bias": False}),
        ("ReLU", {"0.weight": True, "0.bias": True, "2.weight": True, "2.bias": False}),
        ("LeakyReLU", {"0.weight": True, "0.bias": True, "2.weight": True, "2.bias": False}),
        ("Hardtanh", {"0.weight": True, "0.bias": True, "2.weight": True, "2.bias": False}),
        ("ReLU6", {"0.weight": True, "0.bias": True, "2.weight": True, "2.bias": False}),
        ("ELU", {"0.weight": True, "0.bias": True, "2.weight": True, "2.bias": False}),
        ("Softplus", {"0.weight": True, "0.bias": True, "2.weight": True, "2.bias": False}),
        ("Identity", {"0.weight": True, "0.bias": False, "2.weight": True, "2.bias": False}),
    ],
)
def test_a_gradient_penalty_leaves_grad_none_where_pytorch_does(activation, reached):
    """A leaf the gradient does not depend on (the last bias of a critic, every bias of
    a linear one) gets no .grad from a loss of the gradient: a zero .grad would move it
    under Adam or weight decay, where PyTorch's optimizers skip it."""
    sd.manual_seed(0)
    critic = nn.Sequential(nn.Linear(3, 4), getattr(nn, activation)(), nn.Linear(4, 1)).double()
    x = sd.tensor(np.random.default_rng(0).normal(size=(5, 3)), requires_grad=True)
    (g,) = autograd.grad(critic(x).sum(), x, create_graph=True)
    assert g.requires_grad
    ((g.norm(2, dim=1) - 1) ** 2).mean().backward()
    assert _leaves_reached(critic.named_parameters()) == reached
    assert (x.grad is not None) == (activation != "Identity")
    if activation in ("ReLU", "LeakyReLU", "Hardtanh", "ReLU6"):  # PyTorch's zero grads
        assert not critic[0].bias.grad.detach().numpy().any() and not x.grad.numpy().any()
    bias = critic[2].bias.detach().numpy().copy()
    sd.optim.Adam(critic.parameters(), lr=0.1, weight_decay=0.5).step()
    assert np.array_equal(critic[2].bias.detach().numpy(), bias)  # skipped, as PyTorch's


@pytest.mark.parametrize(
    "op, requires",
    [  # PyTorch 2.13's: its formulas for these compare the input (masks, indices) alone,
        # where leaky_relu's, hardtanh's and relu's are operations of the input
        (lambda z: z.clamp(-0.5, 0.5), False),
        (lambda z: z.clamp(min=0.0), False),
        (lambda z: sd.maximum(z, sd.zeros(3, dtype=sd.float64)), False),
        (lambda z: z.max(), False),
        (lambda z: z.amin(), False),
        (lambda z: z.max(0).values, False),
        (lambda z: z.sort().values * sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64), False),
        (lambda z: z.topk(2).values, False),
        (lambda z: z.median(), False),
        (lambda z: z.kthvalue(2).values, False),
        (lambda z: z.gather(0, sd.tensor([2, 0])), False),
        (lambda z: z.cumsum(0), False),
        (lambda z: z.nan_to_num(), False),
        (lambda z: z.aminmax()[0], False),
        (lambda z: sd.where(z > 0, z, z * 0.1), False),
        (lambda z: nn.functional.pad(z, (1, 1)), False),
        (lambda z: z.relu(), True),
        (lambda z: nn.functional.leaky_relu(z, 0.1), True),
        (lambda z: nn.functional.hardtanh(z), True),
        (lambda z: nn.functional.relu6(z), True),
        (lambda z: z.abs(), True),
        (lambda z: nn.functional.threshold(z, 0.1, 2.0), True),
        (lambda z: nn.functional.hardshrink(z), True),
        (lambda z: nn.functional.softshrink(z, 0.2), True),
        (lambda z: nn.functional.hardsigmoid(z), True),
        (lambda z: nn.functional.prelu(z, sd.tensor([0.25], dtype=sd.float64)), True),
        (lambda z: z.cummax(0).values, False),
        (lambda z: sd.fmin(z, z.detach().flip(0)), False),
        (lambda z: z.frac(), False),
        (lambda z: z.copysign(sd.tensor([1.0, -1.0, 1.0], dtype=sd.float64)), True),
        # nll_loss of raw scores (no log_softmax before it): PyTorch's nll_loss_backward
        (lambda z: nn.functional.nll_loss(z.reshape(1, 3), sd.tensor([1])), True),
        (lambda z: nn.functional.nll_loss(z.reshape(1, 3), sd.tensor([2]), reduction="sum"), True),
        (
            lambda z: nn.NLLLoss(sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64))(
                z[None], sd.tensor([0])
            ),
            True,
        ),
        (lambda z: nn.functional.nll_loss(z.reshape(1, 3), sd.tensor([0]), reduction="none"), True),
    ],
)
def test_a_gradient_through_a_comparison_requires_grad_as_pytorchs(op, requires):
    """The gradient of a loss through a max, a clamp or a sort varies with the leaves
    through masks alone: PyTorch's requires no grad (a loss of it leaves .grad None),
    its leaky_relu's and hardtanh's does (a zero .grad)."""
    w = sd.tensor([0.5, -1.0, 2.0], dtype=sd.float64, requires_grad=True)
    b = sd.tensor(0.1, dtype=sd.float64, requires_grad=True)
    x = sd.tensor([-1.0, 0.3, 2.0], dtype=sd.float64)
    (g,) = autograd.grad(op(w * x + b).sum(), w, create_graph=True)
    assert g.requires_grad == requires
    ((g * g).sum() + (w * w).sum()).backward()
    assert (b.grad is not None) == requires
    assert np.allclose(w.grad.numpy(), 2 * w.detach().numpy())  # (g's share is zero)


def test_a_gradient_of_no_leaf_requires_no_grad():
    """The gradient of a function linear in x, and a bias's gradient, are constants, as
    in PyTorch (requires_grad False, no grad_fn); those that depend on a leaf are not."""
    x = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
    (g,) = autograd.grad((3 * x).sum(), x, create_graph=True)
    assert not g.requires_grad and g.grad_fn is None and g.tolist() == [3.0, 3.0]
    (g,) = autograd.grad((3 * x).mean() + x.sum() / 2, x, create_graph=True)
    assert not g.requires_grad
    model = nn.Linear(3, 1).double()
    x = sd.tensor(np.arange(6.0).reshape(2, 3), dtype=sd.float64, requires_grad=True)
    model(x).sum().backward(create_graph=True)
    assert x.grad.requires_grad and model.weight.grad.requires_grad  # (w, and x)
    assert not model.bias.grad.requires_grad and model.bias.grad.tolist() == [2.0]
    gx = x.grad
    x.grad = None
    model.zero_grad(set_to_none=True)
    (gx**2).sum().backward()  # d/dw sum((1 w)^2) = 4 w; nothing reaches b or x
    assert np.allclose(model.weight.grad.numpy(), 4 * model.weight.detach().numpy())
    assert model.bias.grad is None and x.grad is None
    a = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
    b = sd.tensor([3.0, 4.0], dtype=sd.float64, requires_grad=True)
    c = sd.tensor([1.0, 1.0], dtype=sd.float64, requires_grad=True)
    (g,) = autograd.grad((a * b + c.exp()).sum(), a, create_graph=True)  # b alone
    g.sum().backward()
    assert a.grad is None and c.grad is None and b.grad.tolist() == [1.0, 1.0]


def test_losses_of_gradients_reach_the_leaves_they_depend_on():
    """MSE and log_softmax: each gradient depends on every parameter (PyTorch's sums of
    the absolute .grad, 2.13, float64), accumulated over two passes."""
    sd.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x = sd.tensor(np.random.default_rng(2).normal(size=(5, 3)))
    y = sd.tensor(np.random.default_rng(3).normal(size=(5, 2)))
    gw, gb = autograd.grad(
        nn.functional.mse_loss(model(x), y), [model.weight, model.bias], create_graph=True
    )
    assert gw.requires_grad and gb.requires_grad
    (gw.pow(2).sum() + gb.pow(2).sum()).backward()
    assert {n: p.grad is not None for n, p in model.named_parameters()} == {
        "weight": True,
        "bias": True,
    }
    sd.manual_seed(0)
    model = nn.Linear(3, 4).double()
    x = sd.tensor(np.random.default_rng(2).normal(size=(5, 3)), requires_grad=True)
    (g,) = autograd.grad(
        nn.functional.log_softmax(model(x), dim=1)[:, 0].sum(), x, create_graph=True
    )
    (g**2).sum().backward()
    assert model.weight.grad is not None and model.bias.grad is not None
    sd.manual_seed(0)
    model = nn.Linear(3, 1).double()
    x = sd.tensor(np.random.default_rng(2).normal(size=(5, 3)), requires_grad=True)
    (model(x) ** 2).sum().backward(create_graph=True)
    (3 * model(x)).sum().backward(create_graph=True)  # accumulates: still of the leaves
    assert x.grad.requires_grad and model.weight.grad.requires_grad
    assert model.bias.grad.requires_grad
    total = x.grad.sum() + model.weight.grad.sum() + model.bias.grad.sum()
    x.grad = None
    model.zero_grad(set_to_none=True)
    total.backward()
    np.testing.assert_allclose(x.grad.abs().sum().item(), 31.81380422281594, rtol=1e-10)


def test_create_graph_for_a_tensor_that_is_not_a_leaf_is_refused_where_differentiated():
    x = sd.tensor(X0, requires_grad=True)
    h = x * 2.0
    (g,) = autograd.grad((h**2).sum(), h, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 4.0 * X0, rtol=1e-6)
    with pytest.raises(NotImplementedError, match="not a leaf"):
        (g**2).sum().backward()


def test_a_third_derivative_is_refused_clearly():
    x = sd.tensor(X0, requires_grad=True)
    (g,) = autograd.grad((x**4).sum(), x, create_graph=True)
    (h,) = autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.detach().numpy(), 12.0 * X0**2, rtol=1e-6)
    with pytest.raises(sd.CompileError, match="a third derivative"):  # (not "no forward rule")
        h.sum().backward()


@pytest.mark.parametrize("index", [np.s_[1:], np.s_[::2], [0, 2, 0]], ids=str)
def test_a_gradient_through_slices_and_index_lists_is_differentiated_again(index):
    """A slice or a list of indices in the recorded graph was taken for an argument to
    differentiate: the second pass refused the slice, and crashed on the list."""
    x0 = np.arange(12.0).reshape(3, 4) / 7

    def penalty(x):
        s = np.zeros_like(x)
        np.add.at(s, index, 3 * x[index] ** 2)  # d/dx of sum(x[index] ** 3)
        return np.sum(s)

    x = sd.tensor(x0, requires_grad=True)
    (g,) = autograd.grad((x[index] ** 3).sum(), x, create_graph=True)
    g.sum().backward()
    assert np.allclose(x.grad.numpy(), _numeric(penalty, x0), atol=1e-6)


def test_a_seed_with_a_graph_of_its_own_is_differentiated_too():
    """``grad_outputs`` (or ``backward``'s ``gradient``) that requires grad is an input of
    the gradient's graph: the gradient ``3 x^2 v`` is differentiated in ``x`` and ``v``
    (it was taken as a constant: half of d/dx for ``v = x``, nothing for a leaf ``v``)."""
    x = sd.tensor([1.0, -2.0, 3.0], dtype=sd.float64, requires_grad=True)
    (g,) = autograd.grad(x * x, x, grad_outputs=x * 1, create_graph=True)  # 2 x^2
    (h,) = autograd.grad(g.sum(), x)
    assert np.allclose(h.numpy(), 4 * x.detach().numpy())
    x = sd.tensor([1.0, -2.0, 3.0], dtype=sd.float64, requires_grad=True)
    v = sd.tensor([0.5, 1.0, 2.0], dtype=sd.float64, requires_grad=True)
    (x**3).backward(gradient=v, create_graph=True)
    (x.grad**2).sum().backward()  # sum (3 x^2 v)^2
    xs, vs = x.detach().numpy(), v.detach().numpy()
    assert np.allclose(x.grad.detach().numpy(), 3 * xs**2 * vs + 36 * xs**3 * vs**2)
    assert np.allclose(v.grad.numpy(), 18 * xs**4 * vs)


def test_a_gradient_made_with_create_graph_is_not_the_callers_seed():
    g = sd.ones(3, dtype=sd.float64)
    x = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    x.clone().backward(gradient=g, create_graph=True)
    (3 * x).sum().backward()  # accumulates into x.grad in place
    assert g.tolist() == [1.0, 1.0, 1.0]
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_a_constant_changed_after_a_gradient_with_create_graph_keeps_its_old_value():
    x = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    c = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64)
    (g,) = autograd.grad((x * x * c).sum(), x, create_graph=True)  # 2 x c
    with sd.no_grad():
        c.mul_(10)
    g.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("zero", ["optimizer", "module"])
def test_zero_grad_without_none_detaches_a_grad_made_with_create_graph(zero):
    # as PyTorch's: the zeroed grad leaves its graph, so the next create_graph backward
    # and its gradient penalty run (they reached the freed graph of the step before)
    model = sd.nn.Linear(3, 1, bias=False)
    model.weight.data.copy_(sd.tensor([[1.0, 2.0, 3.0]]))
    optimizer = sd.optim.SGD(model.parameters(), lr=0.1)
    penalties = []
    for _ in range(2):
        (optimizer if zero == "optimizer" else model).zero_grad(set_to_none=False)
        (model.weight**3).sum().backward(create_graph=True)
        (g,) = sd.autograd.grad((model.weight.grad**2).sum(), model.weight)
        penalties.append(g.tolist())
        optimizer.step()
    assert model.weight.grad.requires_grad
    (optimizer if zero == "optimizer" else model).zero_grad(set_to_none=False)
    assert not model.weight.grad.requires_grad and model.weight.grad.tolist() == [[0.0] * 3]
    # PyTorch 2.13's values (float32)
    assert penalties[0] == [[36.0, 288.0, 972.0]]
    np.testing.assert_allclose(penalties[1], [[12.348, 18.432, 0.972]], rtol=1e-4)


def test_a_retained_non_leaf_takes_create_graph_and_refuses_a_second_pass_through_it():
    # the first pass gives both gradients (PyTorch's values); a second through the
    # graph would leave the non-leaf's .grad without its share (PyTorch adds it): refused
    x = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    y = x**3
    y.retain_grad()
    y.sum().backward(create_graph=True)
    assert y.grad.tolist() == [1.0, 1.0, 1.0] and x.grad.tolist() == [3.0, 12.0, 27.0]
    with pytest.raises(NotImplementedError, match="retains its grad"):
        (x.grad**2).sum().backward()
    # y.grad (the seed, summed) is a constant, as PyTorch's: a loss of it reaches x as
    # any other constant's (PyTorch 2.13's x.grad: [4, 13, 28])
    (y.grad * x).sum().backward()
    assert x.grad.tolist() == [4.0, 13.0, 28.0]
    x.grad, y = None, x**3
    y.retain_grad()
    (y**2).sum().backward(create_graph=True)  # y.grad, 2 y, an operation of x: refused
    assert y.grad.requires_grad and y.grad.tolist() == [2.0, 16.0, 54.0]
    with pytest.raises(NotImplementedError, match="not a leaf"):
        (y.grad * x).sum().backward()


_INDEX = np.array([[0, 3], [2, 2], [1, 0]])
_SRC = np.array([[0.7, -1.3], [0.4, 2.1], [-0.6, 0.9]])


def _scattered_loss_grad(x: np.ndarray, reduce: str, include: bool) -> tuple:
    xt = sd.tensor(x, requires_grad=True)
    src = sd.tensor(_SRC) * xt[:, :2]
    y = xt.scatter_reduce(1, sd.tensor(_INDEX), src, reduce, include_self=include)
    (g,) = autograd.grad((y * y * xt).sum(), xt, create_graph=True)
    return xt, g


@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_a_gradient_through_scatter_reduce_is_differentiated_again(reduce, include):
    """A Hessian-vector product through scatter_reduce was refused (its gradient helper
    had no rules)."""
    rng = np.random.default_rng(3)
    x, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    xt, g = _scattered_loss_grad(x, reduce, include)
    (g * sd.tensor(v)).sum().backward()
    eps = 1e-6
    up = _scattered_loss_grad(x + eps * v, reduce, include)[1].detach().numpy()
    down = _scattered_loss_grad(x - eps * v, reduce, include)[1].detach().numpy()
    np.testing.assert_allclose(xt.grad.numpy(), (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)
