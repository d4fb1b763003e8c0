"""RMSprop, AdamW, Adagrad, NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD and gradient
clipping on the ``'cuda'`` device: parameters, gradients and state stay CuPy arrays, and
the numbers are those of the CPU.

Skipped where ``sd.cuda.is_available()`` is False (no CuPy, or no GPU)."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.creation import tensor
from srcdiff.nn.utils import clip_grad_norm_, clip_grad_value_
from srcdiff.optim import ASGD, Adadelta, Adagrad, Adamax, AdamW, NAdam, RAdam, RMSprop, Rprop

pytestmark = pytest.mark.skipif(not sd.cuda.is_available(), reason="CuPy or a GPU is missing here")

GRADS = [[1.0, -0.5], [-2.0, 0.1], [0.5, 0.3]]


def run(make, device):
    p = tensor(np.array([1.0, -1.0], dtype=np.float32), device=device, requires_grad=True)
    optimizer = make([p])
    for g in GRADS:
        p.grad = tensor(np.array(g, dtype=np.float32), device=device)
        optimizer.step()
    return p, optimizer


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: RMSprop(ps, momentum=0.9, centered=True, weight_decay=0.1),
        lambda ps: AdamW(ps, lr=0.01, amsgrad=True, maximize=True),
        lambda ps: Adagrad(ps, lr_decay=0.1, initial_accumulator_value=0.1),
        lambda ps: NAdam(ps, lr=0.1, weight_decay=0.1, decoupled_weight_decay=True),
        lambda ps: RAdam(ps, lr=0.1, betas=(0.9, 0.5), weight_decay=0.1),
        lambda ps: Adamax(ps, lr=0.1, weight_decay=0.1, maximize=True),
        lambda ps: Adadelta(ps, rho=0.5, weight_decay=0.1),
        lambda ps: Rprop(ps, lr=0.1, etas=(0.3, 1.7)),
        lambda ps: ASGD(ps, lr=0.1, t0=1, weight_decay=0.1),
    ],
)
def test_optimizers_on_the_gpu(make):
    import cupy

    p, optimizer = run(make, "cuda")
    q, _ = run(make, "cpu")
    assert isinstance(p._data, cupy.ndarray) and p.dtype == q.dtype
    for value in optimizer.state[p].values():
        if isinstance(value, sd.Tensor):
            assert isinstance(value._data, cupy.ndarray)
    assert np.allclose(p.detach().cpu().numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_clipping_on_the_gpu():
    import cupy

    a = tensor(np.zeros(2, dtype=np.float32), device="cuda", requires_grad=True)
    b = tensor(np.zeros(1, dtype=np.float32), device="cuda", requires_grad=True)
    a.grad = tensor(np.array([3.0, 4.0], dtype=np.float32), device="cuda")
    b.grad = tensor(np.array([12.0], dtype=np.float32), device="cuda")
    total = clip_grad_norm_([a, b], 6.5)
    assert total.device == "cuda" and isinstance(total._data, cupy.ndarray)
    assert np.isclose(total.item(), 13.0)
    assert isinstance(a.grad._data, cupy.ndarray)
    assert np.allclose(a.grad.cpu().numpy(), [1.5, 2.0], atol=1e-5)
    clip_grad_value_([a, b], 1.0)
    assert isinstance(b.grad._data, cupy.ndarray) and b.grad.cpu().tolist() == [1.0]
