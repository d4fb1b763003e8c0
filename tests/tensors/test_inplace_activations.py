"""Activations with ``inplace=True`` and ``Tensor.copy_`` in a compiled step: the new value
is written into the input, which the step reads after it, and the gradients are eager
code's (PyTorch's) and central differences'."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import nn
from srcdiff.nn import functional as F

from .programs import check_step_against_eager_and_differences

X = np.array([[1.5, -2.0, 3.0], [0.5, -1.0, 0.25]])

RELU = nn.ReLU(inplace=True)
LEAKY = nn.LeakyReLU(0.3, inplace=True)
HARDTANH = nn.Hardtanh(-0.5, 0.5, inplace=True)


def relu(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.relu(h, inplace=True)
    return (out * g + h * h).sum()


def leaky_relu(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.leaky_relu(h, 0.2, inplace=True)
    return (out * g + h * h).sum()


def elu(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.elu(h, 0.7, inplace=True)
    return (out * g + h * h).sum()


def selu(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.selu(h, inplace=True)
    return (out * g + h * h).sum()


def celu(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.celu(h, 1.5, inplace=True)
    return (out * g + h * h).sum()


def silu(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.silu(h, inplace=True)
    return (out * g + h * h).sum()


def mish(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.mish(h, inplace=True)
    return (out * g + h * h).sum()


def hardtanh(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.hardtanh(h, -1.0, 2.5, inplace=True)
    return (out * g + h * h).sum()


def relu6(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.relu6(h, inplace=True)
    return (out * g + h * h).sum()


def hardsigmoid(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.hardsigmoid(h, inplace=True)
    return (out * g + h * h).sum()


def hardswish(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.hardswish(h, inplace=True)
    return (out * g + h * h).sum()


def threshold(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.threshold(h, 0.1, 20.0, inplace=True)
    return (out * g + h * h).sum()


def dropout_eval(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = F.dropout(h, 0.5, training=False, inplace=True)
    return (out * g + h * h).sum()


def relu_module(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = RELU(h)
    return (out * g + h * h).sum()


def leaky_relu_module(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = LEAKY(h)
    return (out * g + h * h).sum()


def hardtanh_module(x):
    h = x * 2.0 + 0.1
    g = h  # another name for the same Tensor: it sees the write
    out = HARDTANH(h)
    return (out * g + h * h).sum()


LOSSES = [
    relu,
    leaky_relu,
    elu,
    selu,
    celu,
    silu,
    mish,
    hardtanh,
    relu6,
    hardsigmoid,
    hardswish,
    threshold,
    dropout_eval,
    relu_module,
    leaky_relu_module,
    hardtanh_module,
]


@pytest.mark.parametrize("loss_of", LOSSES, ids=[f.__name__ for f in LOSSES])
def test_an_inplace_activation_is_compiled_with_eager_codes_gradient(loss_of):
    """Each was refused in a compiled step (the write into the input was not compiled)."""
    check_step_against_eager_and_differences(loss_of, X)


def test_copy_into_a_computed_tensor_is_compiled():
    """``h.copy_(v)`` was refused in a compiled step; its gradient goes to ``v`` (broadcast
    back), none to the values it overwrote."""

    def loss_of_copy(x):
        h = x * 2.0
        out = h.copy_(h[0].tanh() * 3.0)
        return (out * out + h).sum()

    @sd.differentiate
    def step(x):
        loss = loss_of_copy(x)
        loss.backward()
        return loss.item()

    x = sd.tensor(X.copy(), requires_grad=True)
    step(x)
    e = sd.tensor(X.copy(), requires_grad=True)
    loss_of_copy(e).backward()
    np.testing.assert_allclose(x.grad.numpy(), e.grad.numpy(), rtol=1e-12)
    t = np.tanh(2 * X[0])  # d/dx0 of 2 * sum((3t)^2 + 3t) over the two rows
    np.testing.assert_allclose(x.grad.numpy()[0], 2 * (18 * t + 3) * 2 * (1 - t * t))
    assert not np.any(x.grad.numpy()[1])


def test_an_inplace_module_inside_a_sequential_is_refused_with_the_rewrite():
    """nn.Sequential calls its modules where compiled code does not inline them: the write
    into the input would be lost, and is refused, saying what works."""
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(inplace=True))

    @sd.differentiate
    def step(x):
        model(x).sum().backward()

    with pytest.raises(sd.CompileError, match="inplace=True") as info:
        step(sd.tensor(X.astype(np.float32)))
    assert "inplace=False" in info.value.hint
