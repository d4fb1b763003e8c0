"""The ``'cuda'`` device end to end, on a real GPU: Tensors, ``backward()``, compiled
training steps, ``nn``/``optim`` and the seed tutorials, each giving CuPy arrays and the
numbers the same code gives on the CPU, with nothing computed on NumPy on the way.

Skipped where ``sd.cuda.is_available()`` is False (no CuPy, or no GPU).
"""

from __future__ import annotations

import numpy as np
import pytest
from backends.watch import numpy_floats
from tensors import programs

import srcdiff as sd
from srcdiff import nn, optim

pytestmark = pytest.mark.skipif(not sd.cuda.is_available(), reason="CuPy or a GPU is missing here")


def cupy():
    import cupy

    return cupy


def host(t: sd.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_on_gpu(*tensors: sd.Tensor) -> None:
    for t in tensors:
        assert t.device == "cuda" and t.is_cuda, t
        assert isinstance(t._data, cupy().ndarray), type(t._data)
        if t.grad is not None:
            assert isinstance(t.grad._data, cupy().ndarray), type(t.grad._data)


def run(program, device: str, compiled: bool) -> tuple[float, dict, str | None]:
    """The loss and the gradients of every leaf, after one backward() of ``program``."""
    p = programs.parameters(device=device)
    x, y = programs.data(device=device)

    def step(x, y):
        loss = program(p, x, y)
        loss.backward()
        return loss.item()

    step = sd.differentiate(step) if compiled else step
    with numpy_floats() as fell_back:
        value = step(x, y)
    leaves = programs.leaves(p)
    if device == "cuda":
        assert_on_gpu(*leaves.values())
        assert not fell_back, f"NumPy float arrays in {fell_back}"
    grads = {k: host(t.grad) for k, t in leaves.items() if t.grad is not None}
    return value, grads, sd.source(step) if compiled else None


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("program", programs.PROGRAMS, ids=[p.__name__ for p in programs.PROGRAMS])
def test_tensor_programs_on_cuda_match_the_cpu(program, compiled):
    value, grads, source = run(program, "cuda", compiled)
    expected_value, expected, _ = run(program, "cpu", compiled)
    assert value == pytest.approx(expected_value, rel=1e-10)
    assert grads.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-9, atol=1e-12, err_msg=name)
    if compiled:
        assert "import cupy as xp" in source


def f(w, x, y):
    h = np.tanh(x @ w)
    if h.sum() > 0:
        h = h * 2.0
    return np.mean((h - y) ** 2)


def test_generated_source_runs_on_cupy_and_says_so():
    cp = cupy()
    rng = np.random.default_rng(0)
    w, x, y = rng.normal(size=(3, 2)), rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    g = sd.grad(f)
    expected = g(w, x, y)
    with numpy_floats() as fell_back:
        got = g(cp.asarray(w), cp.asarray(x), cp.asarray(y))
    assert isinstance(got, cp.ndarray) and got.dtype == cp.float64
    assert not fell_back, f"NumPy float arrays in {fell_back}"
    np.testing.assert_allclose(got.get(), expected, rtol=1e-12)
    source = sd.source(g)
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    assert "import cupy as xp" in code and "xp.tanh" in code
    assert "np." not in code, source  # only the comments, which quote the user, say np.


def test_float32_stays_float32_on_cuda():
    cp = cupy()
    w = cp.ones((3, 2), dtype=cp.float32)
    x = cp.linspace(-1, 1, 12, dtype=cp.float32).reshape(4, 3)
    got = sd.grad(f)(w, x, cp.zeros((4, 2), dtype=cp.float32))
    assert got.dtype == cp.float32 and isinstance(got, cp.ndarray)


def tutorial_data(device: str):
    np.random.seed(42)
    x = np.random.rand(100, 1)
    y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)
    idx = np.arange(100)
    np.random.shuffle(idx)
    return (
        sd.from_numpy(x[idx[:80]]).float().to(device),
        sd.from_numpy(y[idx[:80]]).float().to(device),
    )


def autograd_tutorial(device: str, compiled: bool, epochs: int = 200):
    """The loop of "autograd in PyTorch": in-place updates under no_grad, zero_()."""
    x_train_tensor, y_train_tensor = tutorial_data(device)
    sd.manual_seed(42)
    b = sd.randn(1, requires_grad=True, dtype=sd.float, device=device)
    w = sd.randn(1, requires_grad=True, dtype=sd.float, device=device)
    lr = 0.1

    def step():
        yhat = b + w * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        with sd.no_grad():
            b.sub_(lr * b.grad)
            w.sub_(lr * w.grad)
        b.grad.zero_(), w.grad.zero_()
        return loss.item()

    step = sd.differentiate(step) if compiled else step
    losses = [step() for _ in range(epochs)]
    return b, w, losses


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_the_autograd_tutorial_on_cuda(compiled):
    b, w, losses = autograd_tutorial("cuda", compiled)
    b0, w0, losses0 = autograd_tutorial("cpu", compiled)
    assert_on_gpu(b, w)
    assert b.is_leaf and w.is_leaf and b.dtype is sd.float32
    np.testing.assert_allclose(losses, losses0, rtol=1e-5)
    np.testing.assert_allclose([b.item(), w.item()], [b0.item(), w0.item()], rtol=1e-5)


def pytorch_style_fit(device: str, compiled: bool, epochs: int = 100):
    """``make_train_step`` of "Understanding PyTorch with an example", on ``device``."""
    x_train_tensor, y_train_tensor = tutorial_data(device)
    sd.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1)).to(device)
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    def train_step(x, y):
        model.train()
        yhat = model(x)
        loss = loss_fn(y, yhat)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    train_step = sd.differentiate(train_step) if compiled else train_step
    losses = [train_step(x_train_tensor, y_train_tensor) for _ in range(epochs)]
    return model, losses


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_the_pytorch_style_training_step_on_cuda(compiled):
    model, losses = pytorch_style_fit("cuda", compiled)
    model0, losses0 = pytorch_style_fit("cpu", compiled)
    assert_on_gpu(*model.parameters())
    np.testing.assert_allclose(losses, losses0, rtol=1e-5)
    for (name, p), p0 in zip(model.state_dict().items(), model0.state_dict().values(), strict=True):
        assert p.device == "cuda", name
        np.testing.assert_allclose(host(p), host(p0), rtol=1e-5, err_msg=name)


def mlp_training(device: str, optimizer_class, steps: int = 5):
    """A small classifier trained with Adam or SGD with momentum, on ``device``."""
    sd.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3)).double().to(device)
    optimizer = optimizer_class(model.parameters())
    rng = np.random.default_rng(1)
    x = sd.tensor(rng.normal(size=(32, 8)), dtype=sd.float64, device=device)
    labels = sd.tensor(rng.integers(0, 3, size=32), device=device)
    loss_fn = nn.CrossEntropyLoss()

    @sd.differentiate
    def step(x, labels):
        loss = loss_fn(model(x), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    return model, [step(x, labels) for _ in range(steps)]


@pytest.mark.parametrize(
    "optimizer_class",
    [
        lambda ps: optim.Adam(ps, lr=1e-2),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    ],
    ids=["adam", "sgd-momentum"],
)
def test_optimizers_keep_their_state_on_cuda(optimizer_class):
    model, losses = mlp_training("cuda", optimizer_class)
    model0, losses0 = mlp_training("cpu", optimizer_class)
    assert_on_gpu(*model.parameters())
    np.testing.assert_allclose(losses, losses0, rtol=1e-9)
    for p, p0 in zip(model.parameters(), model0.parameters(), strict=True):
        np.testing.assert_allclose(host(p), host(p0), rtol=1e-9, atol=1e-12)


def test_item_tolist_and_moves_between_devices():
    t = sd.tensor([[1.5, -2.0]], device="cuda", requires_grad=True)
    (t * t).sum().backward()
    assert_on_gpu(t)
    assert t.grad.tolist() == [[3.0, -4.0]]
    assert (t.sum() * 2).item() == pytest.approx(-1.0)
    assert t.detach().cpu().device == "cpu" and t.detach().cuda().device == "cuda"
    with pytest.raises(TypeError, match="cuda"):
        t.detach().numpy()
    with pytest.raises(RuntimeError, match="same device"):
        t + sd.tensor([[1.0, 2.0]])


def test_scatter_add_of_repeated_indices_on_cuda():
    x = sd.tensor([1.0, 2.0, 3.0], device="cuda", requires_grad=True)
    idx = sd.tensor([0, 0, 2, 0], device="cuda")
    (x[idx] * sd.tensor([1.0, 2.0, 3.0, 4.0], device="cuda")).sum().backward()
    assert_on_gpu(x)
    assert x.grad.tolist() == [7.0, 0.0, 3.0]


def write_repeated(x, v):
    h = x * 1.0
    h[[1, 0, 1, 1]] = v * np.array([[1.0], [2.0], [3.0], [4.0]])  # row 1 written three times
    return np.sum(h * h)


def test_a_write_to_a_repeated_position_keeps_the_last_value_as_numpy_does():
    """CuPy leaves the winner of x[i] = v undefined where i repeats a position; compiled
    code keeps NumPy's (the last), so that the value and the gradient agree with NumPy."""
    cp = cupy()
    rng = np.random.default_rng(1)
    x, v = rng.normal(size=(3, 5)), rng.normal(size=(5,))
    g = sd.value_and_grad(write_repeated, wrt=(0, 1))
    value, grads = g(x, v)
    got_value, got = g(cp.asarray(x), cp.asarray(v))
    assert float(got_value) == pytest.approx(float(value), rel=1e-12)
    for a, b in zip(got, grads, strict=True):
        assert isinstance(a, cp.ndarray)
        np.testing.assert_allclose(a.get(), b, rtol=1e-12)


def test_a_tensor_write_to_a_repeated_position_keeps_the_last_value_on_cuda():
    v = sd.tensor([1.0, 2.0, 3.0], device="cuda", requires_grad=True)
    h = sd.zeros(2, device="cuda")
    h[sd.tensor([0, 1, 0], device="cuda")] = v * 1.0
    (h * sd.tensor([10.0, 100.0], device="cuda")).sum().backward()
    assert h.tolist() == [3.0, 2.0]
    assert v.grad.tolist() == [0.0, 100.0, 10.0]
