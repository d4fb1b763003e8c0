"""Activations with ``inplace=True`` on a view, in eager code: as PyTorch's, the result
is written into the tensor the view views, recorded there (the gradient of what reads
that tensor afterwards goes through the activation), computed from the old values."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import nn
from srcdiff.nn import functional as F

W0 = np.random.default_rng(5).standard_normal((4, 5))
STEPS = (1e-6, 1e-4)


def _relu_rows(w):
    h = w * 1.0
    y = F.relu(h[1:], inplace=True)
    return h, y


def _relu_module_columns(w):
    h = w + 0.1
    y = nn.ReLU(inplace=True)(h[:, 1:3])
    return h, y


def _leaky_row(w):
    h = w * 2.0
    y = F.leaky_relu(h[0], 0.2, inplace=True)
    return h, y


def _elu_block(w):
    h = w - 0.2
    y = F.elu(h[2:, 1:], 0.7, inplace=True)
    return h, y


def _module_on_a_transposed_view(w):
    h = w * 1.0
    y = nn.LeakyReLU(0.3, inplace=True)(h.t()[1])
    return h, y


CASES = [_relu_rows, _relu_module_columns, _leaky_row, _elu_block, _module_on_a_transposed_view]
EXPECTED = {  # each case's values, written out with NumPy
    _relu_rows: lambda w: np.concatenate([w[:1], np.maximum(w[1:], 0.0)]),
    _relu_module_columns: lambda w: np.where(
        (np.arange(5) >= 1) & (np.arange(5) < 3), np.maximum(w + 0.1, 0.0), w + 0.1
    ),
    _leaky_row: lambda w: np.concatenate([np.where(w[:1] > 0, 2 * w[:1], 0.4 * w[:1]), 2 * w[1:]]),
    _elu_block: lambda w: _elu_block_values(w - 0.2),
    _module_on_a_transposed_view: lambda w: _column_values(w),
}


def _elu_block_values(h):
    h = h.copy()
    b = h[2:, 1:]
    h[2:, 1:] = np.where(b > 0, b, 0.7 * np.expm1(b))
    return h


def _column_values(w):
    h = w.copy()
    c = h[:, 1]
    h[:, 1] = np.where(c > 0, c, 0.3 * c)
    return h


def _loss(case):
    def loss(w):
        h, y = case(w)
        return (h * h * h).sum() + (y * 0.5).sum()

    return loss


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_values_are_written_into_the_tensor_viewed(case):
    h, y = case(sd.tensor(W0))
    np.testing.assert_allclose(h.numpy(), EXPECTED[case](W0), rtol=1e-12, atol=1e-12)
    assert np.shares_memory(y.numpy(), h.numpy())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_gradient_goes_through_the_write(case):
    loss = _loss(case)
    w = sd.tensor(W0, requires_grad=True)
    loss(w).backward()
    for eps in STEPS:
        fd = np.zeros_like(W0)
        for i in np.ndindex(W0.shape):
            up, down = W0.copy(), W0.copy()
            up[i] += eps
            down[i] -= eps
            fd[i] = (loss(sd.tensor(up)).item() - loss(sd.tensor(down)).item()) / (2 * eps)
        np.testing.assert_allclose(w.grad.numpy(), fd, rtol=1e-6, atol=1e-6)


def test_a_compiled_step_refuses_the_write_through_a_view_at_the_users_line():
    """Compiled code follows the write of an in-place activation into a tensor, not into
    one a view views: refused, naming the line and the way out."""

    @sd.differentiate
    def step(w):
        loss = _loss(_relu_rows)(w)
        loss.backward()
        return loss

    with pytest.raises(sd.CompileError, match="also changes .* write into") as info:
        step(sd.tensor(W0, requires_grad=True))
    assert "test_inplace_activations.py" in str(info.value)
