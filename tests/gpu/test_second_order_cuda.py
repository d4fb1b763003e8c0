"""Second derivatives, finiteness checks and ``create_graph`` on CuPy arrays: the same
numbers as on NumPy, computed on the GPU (no NumPy float arrays on the way)."""

from __future__ import annotations

import numpy as np
import pytest
from backends.watch import numpy_floats

import srcdiff as sd
from srcdiff import autograd

pytestmark = pytest.mark.skipif(not sd.cuda.is_available(), reason="CuPy or a GPU is missing here")


def cupy():
    import cupy

    return cupy


def loss(w, x):
    h = np.tanh(x @ w)
    for _ in range(2):
        h = h * w[0] + np.sin(h)
    return np.mean(h**2)


def penalty(w, x):
    return np.sum(sd.grad(loss)(w, x) ** 2)


W = np.array([0.3, -0.7])
X = np.linspace(-1.0, 1.0, 8).reshape(4, 2)


def test_hvp_and_gradients_of_gradients_on_cupy():
    cp = cupy()
    v = np.array([1.0, 0.5])
    want_hv = sd.hvp(loss, (W, X), (v, None))[0]
    want_pen = sd.grad(penalty)(W, X)
    with numpy_floats() as fell_back:
        hv = sd.hvp(loss, (cp.asarray(W), cp.asarray(X)), (cp.asarray(v), None))[0]
        pen = sd.grad(penalty)(cp.asarray(W), cp.asarray(X))
    assert not fell_back, f"NumPy float arrays in {fell_back}"
    assert isinstance(hv, cp.ndarray) and isinstance(pen, cp.ndarray)
    np.testing.assert_allclose(hv.get(), want_hv, rtol=1e-10)
    np.testing.assert_allclose(pen.get(), want_pen, rtol=1e-10)


def masked_sqrt(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0))


def test_finiteness_checks_on_cupy():
    cp = cupy()
    with pytest.raises(sd.NonFiniteError, match="np.sqrt"):
        sd.grad(masked_sqrt, check_finite=True)(cp.asarray([0.5, -1.0, 2.0]))


def test_create_graph_on_cuda():
    x = sd.tensor([0.3, -0.7, 1.2], device="cuda", requires_grad=True)
    (g,) = autograd.grad((x**3).sum(), x, create_graph=True)
    g.sum().backward()
    assert x.grad.device == "cuda"
    np.testing.assert_allclose(x.grad.cpu().numpy(), 6 * np.array([0.3, -0.7, 1.2]), rtol=1e-6)
