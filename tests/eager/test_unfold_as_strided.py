"""``Tensor.unfold`` and ``Tensor.as_strided``: PyTorch's values (windows and strided
reads of a tensor's entries), views that writes go through, gradients in eager and
compiled code against central differences, and PyTorch's errors for bad arguments."""

import numpy as np
import pytest

import srcdiff as sd

W0 = np.random.default_rng(3).standard_normal((3, 6))
STEPS = (1e-6, 1e-4)


def central(fn, x: np.ndarray) -> list[np.ndarray]:
    """The gradient of ``fn`` (array -> float) at ``x`` by central differences, at each
    of two steps."""
    found = []
    for eps in STEPS:
        d = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[i] += eps
            down[i] -= eps
            d[i] = (fn(up) - fn(down)) / (2 * eps)
        found.append(d)
    return found


def eager_grad(loss, x: np.ndarray) -> np.ndarray:
    w = sd.tensor(x, requires_grad=True)
    loss(w).backward()
    return w.grad.numpy()


def value(loss):
    return lambda x: float(loss(sd.tensor(x)).item())


def windows(x: np.ndarray, dim: int, size: int, step: int) -> np.ndarray:
    """PyTorch's unfold written out: window ``i`` holds entries ``i * step ... i * step +
    size - 1`` of ``dim``, as the last dim."""
    dim %= x.ndim
    n = (x.shape[dim] - size) // step + 1
    picked = [np.take(x, range(i * step, i * step + size), axis=dim) for i in range(n)]
    return np.moveaxis(np.stack(picked, axis=dim), dim + 1, -1)


@pytest.mark.parametrize(
    ("dim", "size", "step"), [(1, 2, 1), (1, 3, 2), (0, 2, 1), (-1, 2, 4), (1, 0, 1)]
)
def test_unfold_values_and_gradient(dim, size, step):
    got = sd.tensor(W0).unfold(dim, size, step).numpy()
    want = windows(W0, dim, size, step)
    assert got.shape == want.shape and np.array_equal(got, want)

    def loss(w):
        return (w.unfold(dim, size, step) ** 3).sum()

    grad = eager_grad(loss, W0)
    for fd in central(value(loss), W0):
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_as_strided_values_and_gradient():
    """Entries read several times (overlapping rows) get the gradient of each read."""
    got = sd.tensor(W0).as_strided((4, 3), (3, 2), 1).numpy()
    flat = W0.ravel()
    want = np.array([[flat[1 + 3 * i + 2 * j] for j in range(3)] for i in range(4)])
    assert np.array_equal(got, want)
    assert sd.as_strided(sd.tensor(W0), (), (), 5).item() == flat[5]

    def loss(w):
        return (sd.sin(w.as_strided((4, 3), (3, 2), 1)) * w.as_strided((4, 3), (1, 4))).sum()

    grad = eager_grad(loss, W0)
    for fd in central(value(loss), W0):
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_views_take_writes_through_them():
    """A write into windows that do not overlap reaches the tensor they view, and its
    gradient goes through it; one into windows that overlap is PyTorch's error."""

    def loss(w):
        h = w * 1.0
        h.unfold(1, 2, 3).mul_(2.5)
        h.as_strided((2, 2), (6, 1), 4).add_(w[2, :2] ** 2)
        return (h * h).sum()

    grad = eager_grad(loss, W0)
    for fd in central(value(loss), W0):
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)
    h = sd.tensor(W0)
    h.unfold(1, 2, 3).mul_(2.0)
    want = W0.copy()
    want[:, [0, 1, 3, 4]] *= 2.0  # (the windows: columns 0-1 and 3-4)
    assert np.array_equal(h.numpy(), want)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        sd.tensor(W0).unfold(1, 2, 1).mul_(2.0)


@pytest.mark.parametrize(
    "read",
    [
        lambda w: w.unfold(1, 2, 1),
        lambda w: (w * 2.0).unfold(0, 2, 1),
        lambda w: w.as_strided((4, 3), (3, 2), 1),
        lambda w: (w + 1.0).as_strided((2, 2), (1, 1)),
    ],
)
def test_compiled_step_matches_eager(read):
    def loss(w):
        return (read(w) ** 3).sum()

    @sd.differentiate
    def step(w):
        out = loss(w)
        out.backward()
        return out

    w = sd.tensor(W0, requires_grad=True)
    got = step(w)
    assert got.item() == pytest.approx(loss(sd.tensor(W0)).item(), rel=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), eager_grad(loss, W0), rtol=1e-12)
    for fd in central(value(loss), W0):
        np.testing.assert_allclose(w.grad.numpy(), fd, rtol=1e-6, atol=1e-6)


ERRORS = [
    (lambda x: x.unfold(1, 7, 1), RuntimeError, "dimension 1 is 6 but size is 7"),
    (lambda x: x.unfold(1, -1, 1), RuntimeError, "size is -1 but must be >= 0"),
    (lambda x: x.unfold(1, 2, 0), RuntimeError, "step is 0 but must be > 0"),
    (lambda x: x.unfold(2, 2, 1), IndexError, r"range of \[-2, 1\], but got 2\)"),
    (lambda x: x.unfold(1, 2.0, 1), TypeError, r"'size' \(position 2\) must be int, not float"),
    (lambda x: x.sum().unfold(0, 2, 1), RuntimeError, "dimension 0 is 1 but size is 2"),
    (lambda x: x.as_strided((3, 9), (1, 2)), RuntimeError, r"sizes \[3, 9\], strides \[1, 2\]"),
    (lambda x: x.as_strided((3, 2), (1, -2)), RuntimeError, "Negative strides are not"),
    (lambda x: x.as_strided((3, -2), (1, 2)), RuntimeError, "size calculation overflowed"),
    (lambda x: x.as_strided((3, 2), (1,)), RuntimeError, "mismatch in length of strides"),
    (lambda x: x.as_strided((3, 2), (1, 2), -1), RuntimeError, "invalid storage offset -1"),
]


@pytest.mark.parametrize(("call", "error", "message"), ERRORS)
def test_pytorch_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(sd.tensor(W0))


def test_reads_pytorch_would_take_from_other_memory_are_refused():
    """PyTorch reads the storage: of a transposed tensor laid out otherwise than its
    entries, of a view reaching past its last entry. srcdiff says so, and what works."""
    with pytest.raises(RuntimeError, match="not contiguous.*contiguous\\(\\) first"):
        sd.tensor(W0).t().as_strided((2,), (1,))
    with pytest.raises(RuntimeError, match="that is a view"):
        sd.tensor(W0)[:1].as_strided((2,), (1,), 5)
    assert sd.tensor(W0)[1:].as_strided((2,), (1,)).tolist() == W0[1, :2].tolist()

    @sd.differentiate
    def step(w):
        out = w.t().as_strided((2,), (1,)).sum()
        out.backward()
        return out

    with pytest.raises(sd.CompileError, match="not contiguous") as info:
        step(sd.tensor(W0, requires_grad=True))
    assert "test_unfold_as_strided.py" in str(info.value)


# a write into windows that overlap: one number for entries sharing memory, as PyTorch's
WRITES = {
    "fill_": (lambda v: v.fill_(2.5), lambda h: np.full_like(h, 2.5)),
    "zero_": (lambda v: v.zero_(), np.zeros_like),
    "setitem-all": (lambda v: v.__setitem__(Ellipsis, 3.0), lambda h: np.full_like(h, 3.0)),
    "setitem-one": (lambda v: v.__setitem__((0, 1, 1), 3.0), lambda h: _put(h, (0, 2), 3.0)),
    "setitem-first-of-each": (
        lambda v: v.__setitem__((slice(None), slice(None), 0), 3.0),
        lambda h: _put(h, (slice(None), slice(0, 5)), 3.0),
    ),
    "mul_-first-windows": (lambda v: v[:, 0].mul_(3.0), lambda h: _put(h, (slice(None), [0, 1]),
                                                                      3.0 * h[:, :2])),
}  # fmt: skip


def _put(h, at, value):
    h = h.copy()
    h[at] = value
    return h


@pytest.mark.parametrize("name", list(WRITES))
def test_a_write_into_overlapping_windows_is_pytorchs(name):
    """A number written into windows that share entries, or a write into windows that do
    not (picked out of overlapping ones), is PyTorch's: it raised NumPy's ValueError
    (read-only) or the overlap error."""
    write, expected = WRITES[name]
    h = sd.tensor(W0)
    write(h.unfold(1, 2, 1))
    np.testing.assert_array_equal(h.numpy(), expected(W0))

    def loss(w):
        h = w * 1.0
        write(h.unfold(1, 2, 1))
        return (h * h * w).sum()

    grad = eager_grad(loss, W0)
    for fd in central(value(loss), W0):
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_what_a_write_into_shared_entries_cannot_be_is_refused():
    """Arithmetic and draws into entries sharing memory, and a recorded write into an
    expand-like view (stride 0), are the overlap error, as PyTorch's is for the last."""
    for write in (lambda v: v.mul_(2.0), lambda v: v.normal_(), lambda v: v.copy_(v + 1.0)):
        with pytest.raises(RuntimeError, match="more than one element of the written-to"):
            write(sd.tensor(W0).unfold(1, 2, 1))
    h = sd.tensor(W0)
    h.as_strided((3,), (0,)).fill_(2.0)
    assert h.numpy()[0, 0] == 2.0 and np.array_equal(h.numpy().ravel()[1:], W0.ravel()[1:])
    w = sd.tensor(W0, requires_grad=True)
    with pytest.raises(RuntimeError, match="more than one element of the written-to"):
        (w * 1.0).as_strided((3,), (0,)).fill_(2.0)
