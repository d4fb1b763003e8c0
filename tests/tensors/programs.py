"""Tensor programs run both eagerly and as compiled training steps.

Each program takes the parameters (Tensors that require grad) and data tensors, computes
a scalar loss with the Tensor API, and returns it. ``step`` wraps one in a function that
calls ``backward()``, which is what ``@sd.differentiate`` compiles for Tensors.
"""

import numpy as np

import srcdiff as sd
from srcdiff import nn
from srcdiff.nn import functional as F


def linear_regression(p, x, y):
    yhat = p["b"] + p["w"] * x
    error = y - yhat
    return (error**2).mean()


def dynamic_branch(p, x, y):
    """The seed tutorial's nonsense branch: ``if loss > 0`` adds a second loss."""
    yhat = p["b"] + p["w"] * x
    error = y - yhat
    loss = (error**2).mean()
    if loss > 0:
        yhat2 = p["w"] * x
        error2 = y - yhat2
    loss = loss + error2.mean()
    return loss


def tensor_methods(p, x, y):
    h = (x @ p["W"]).tanh()
    h = h.sigmoid() * h.exp().clamp(max=3.0)
    s = h.sum(dim=1, keepdim=True) / h.size(1)
    return (
        (s.view(-1) - y[:, 0]).pow(2).mean()
        + h.abs().max()
        + h.add(s, alpha=-0.5).sub(x @ p["W"], alpha=0.25).mean()
    )


def functions(p, x, y):
    h = sd.relu(sd.matmul(x, p["W"])) + sd.maximum(x @ p["W"], sd.zeros_like(y[:, :1]))
    return sd.mean(sd.log(1.0 + sd.exp(h))) + sd.sum(sd.tanh(h)) * 0.1


def loop_with_branches(p, x, y):
    h = x
    for _ in range(3):
        h = (h @ p["W2"]).tanh()
        if h.mean() > 0:
            h = h * 0.5
        else:
            h = h - 0.1
    return ((h - y) ** 2).sum()


def indexing(p, x, y):
    h = x @ p["W2"]
    first = h[:, 0]
    last = h[-1]
    return (first**2).mean() + last.sum() + h[1:, 1:].mean()


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.out = nn.Linear(4, 1)

    def forward(self, x):
        return self.out(F.tanh(self.hidden(x)))


def module(p, x, y):
    return nn.MSELoss()(p["mlp"](x), y[:, :1])


def sequential_cross_entropy(p, x, y):
    logits = p["seq"](x)
    labels = sd.tensor(np.array([0, 1, 2, 1, 0]), device=logits.device)
    return F.cross_entropy(logits, labels) + F.log_softmax(logits, dim=1).mean() * 0.1


def lists(p, x, y):
    """Lists of parameters and of computed Tensors, joined, repeated and stacked."""
    w, b, W2 = p["w"], p["b"], p["W2"]
    h = x @ W2
    hs = [h, W2 * b] + [h * w]
    pairs = [w, b * w] * 2
    rows = [(hs[0] * hs[2]).sum(), hs[1].sum()]
    return sd.stack(rows).sum() + (sd.stack(pairs) ** 2).sum() + sd.stack([w, b]).prod()


def _grow(store, v):
    """Appends twice, the second time from an entry of the list it grows."""
    store.append(v * 2.0)
    store.append(store[0] * v)


def helper_growing_a_list(p, x, y):
    """A helper that updates the caller's list: the adjoint adds the list's adjoints
    entry by entry (it concatenated them, a crash)."""
    held = []
    _grow(held, x @ p["W2"])
    return (held[1] * held[0]).sum() + (held[0] - y).mean()


def spread(p, x, y):
    """``var`` and ``std`` are PyTorch's, unbiased by default (compiled code took NumPy's
    ``var``, which divides by ``n``)."""
    h = x @ p["W2"]
    spreads = h.var() + h.std(dim=0).sum() + h.var(1, keepdim=True).mean()
    return spreads + h.std(unbiased=False) + sd.var(h, 0).sum() + sd.std(h, correction=0)


def tensor_indices(p, x, y):
    """Indices that are Tensors (a hand-written NLL): compiled code took them for
    indices of an array (a TypeError)."""
    o = (x @ p["W2"]).log_softmax(1)
    labels = sd.tensor(np.array([0, 1, 2, 1, 0]))
    return -o[sd.arange(5), labels].mean() + o[sd.arange(5), o.argmax(1)].sum()


def tensor_bounds(p, x, y):
    """Bounds of ``clamp`` that are Tensors get their gradients where they are the
    result (compiled code gave them none)."""
    h = x @ p["W2"]
    return (h.clamp(min=p["b"] - 0.3, max=p["w"] + 0.2) * y).sum()


PROGRAMS = [
    linear_regression,
    dynamic_branch,
    tensor_methods,
    functions,
    loop_with_branches,
    indexing,
    module,
    sequential_cross_entropy,
    lists,
    helper_growing_a_list,
    spread,
    tensor_indices,
    tensor_bounds,
]


def parameters(seed: int = 0, device: str = "cpu") -> dict:
    """Float64 parameters for every program (Tensors and modules), on ``device``."""
    rng = np.random.default_rng(seed)

    def leaf(*shape):
        return sd.tensor(
            rng.normal(size=shape), dtype=sd.float64, requires_grad=True, device=device
        )

    sd.manual_seed(seed)
    mlp = MLP().double().to(device)
    seq = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 3)).double().to(device)
    return {"b": leaf(1), "w": leaf(1), "W": leaf(3, 4), "W2": leaf(3, 3), "mlp": mlp, "seq": seq}


def data(seed: int = 1, device: str = "cpu") -> tuple:
    rng = np.random.default_rng(seed)
    x = sd.tensor(rng.normal(size=(5, 3)), dtype=sd.float64, device=device)
    y = sd.tensor(rng.normal(size=(5, 3)), dtype=sd.float64, device=device)
    return x, y


def leaves(p: dict) -> dict:
    """Every Tensor that requires grad, by name."""
    out = {k: v for k, v in p.items() if isinstance(v, sd.Tensor)}
    for k in ("mlp", "seq"):
        out.update({f"{k}.{n}": t for n, t in p[k].named_parameters()})
    return out


def check_step_against_eager_and_differences(loss_of, x0: np.ndarray, atol: float = 1e-6) -> None:
    """A compiled step computing ``loss_of(x)`` and calling ``backward()`` gives eager
    code's loss and gradient (to 1e-12) and central differences' (steps 1e-6 and 1e-4;
    ``x0`` away from any kink; ``atol`` for the differences)."""

    @sd.differentiate
    def step(x):
        loss = loss_of(x)
        loss.backward()
        return loss.item()

    def value(v):
        with sd.no_grad():
            return loss_of(sd.tensor(v)).item()

    x = sd.tensor(x0.copy(), requires_grad=True)
    compiled_value = step(x)
    compiled = x.grad.numpy().copy()
    e = sd.tensor(x0.copy(), requires_grad=True)
    eager = loss_of(e)
    eager.backward()
    assert abs(compiled_value - eager.item()) <= 1e-12 * abs(eager.item())
    np.testing.assert_allclose(compiled, e.grad.numpy(), rtol=1e-12, atol=1e-12)
    for eps in (1e-6, 1e-4):
        fd = np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            d = np.zeros_like(x0)
            d[i] = eps
            fd[i] = (value(x0 + d) - value(x0 - d)) / (2 * eps)
        np.testing.assert_allclose(compiled, fd, rtol=1e-5, atol=atol)
