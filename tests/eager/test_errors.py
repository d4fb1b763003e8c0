"""PyTorch's errors, with PyTorch's meaning."""

import inspect

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.tensor import Tensor


def test_inplace_on_a_leaf_that_requires_grad():
    w = sd.tensor([1.0], requires_grad=True)
    for change in (
        lambda: w.add_(1),
        lambda: w.zero_(),
        lambda: w.uniform_(),
        lambda: w.__setitem__(0, 2.0),
        lambda: w.copy_(sd.zeros(1)),
    ):
        with pytest.raises(
            RuntimeError,
            match="a leaf Variable that requires grad is being used in an in-place operation.",
        ):
            change()
    with pytest.raises(RuntimeError, match="a leaf Variable"):
        w -= 0.1
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        w[0:1].mul_(2)
    with sd.no_grad():
        w.add_(1)
        w[0:1].mul_(2)
    assert w.tolist() == [4.0] and w._version.value == 2


def test_second_backward_through_a_freed_graph():
    w = sd.tensor([1.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()
    shared = w * w
    shared.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (shared * 2).sum().backward()


def test_backward_of_a_non_scalar_needs_a_gradient():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        (w * 2).backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (w * 2).backward(sd.ones(3))


def test_backward_of_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        sd.tensor([1.0]).sum().backward()


def test_integer_tensors_cannot_require_grad():
    for make in (
        lambda: sd.tensor([1, 2], requires_grad=True),
        lambda: sd.tensor([1, 2]).requires_grad_(),
        lambda: sd.zeros(2, dtype=sd.long, requires_grad=True),
        lambda: sd.arange(3, requires_grad=True),
    ):
        with pytest.raises(
            RuntimeError, match="only Tensors of floating point dtype can require gradients"
        ):
            make()


def test_requires_grad_of_a_non_leaf_cannot_be_turned_off():
    h = sd.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        h.requires_grad = False
    h.requires_grad_()  # turning it on is a no-op


def test_inplace_change_of_a_saved_value_is_detected_at_backward():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    y = w.exp()  # the rule of exp reads its result
    loss = y.sum()
    with sd.no_grad():
        y.mul_(2)
    with pytest.raises(
        RuntimeError,
        match="one of the variables needed for gradient computation "
        "has been modified by an inplace operation",
    ):
        loss.backward()

    x = sd.tensor([3.0, 4.0])
    loss = (w * x).sum()  # the rule of mul reads x
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_inplace_change_of_a_value_read_only_for_its_shape_is_fine():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    x = sd.tensor([3.0, 4.0])
    loss = (w + x).sum()  # add reads x only for its shape
    x.add_(1)
    loss.backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_inplace_change_of_a_value_read_only_for_a_gradient_nobody_needs_is_fine():
    """``y[0] = y[1] * 2``: mul's rule reads ``y[1]`` only for the gradient of ``2``
    (it was refused as changed in place, where PyTorch computes it)."""
    x = sd.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x.clone()
    y[0] = y[1] * 2
    (y**2).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [30.0, 40.0]]
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    h = w * 1.0
    loss = (h * w).sum()  # h is read for w's gradient, which is wanted
    with sd.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_numpy_of_a_tensor_that_requires_grad():
    w = sd.tensor([1.0], requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"Can't call numpy\(\) on Tensor that requires grad\. "
        r"Use tensor.detach\(\).numpy\(\) instead\.",
    ):
        w.numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(w)


@pytest.mark.skipif(sd.cuda.is_available(), reason="CUDA is available here")
def test_cuda_unavailable():
    t = sd.tensor([1.0])
    message = "CUDA is not available: install CuPy and use a machine with a GPU"
    with pytest.raises(RuntimeError, match=message):
        t.to("cuda")
    with pytest.raises(RuntimeError, match=message):
        t.cuda()
    with pytest.raises(RuntimeError, match=message):
        sd.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="device type"):
        t.to("tpu")


class FakeCupyArray(np.ndarray):
    """An array that the backend takes for a CuPy one (its class lives in a 'cupy' module)."""


FakeCupyArray.__module__ = "cupy._core.fake"


def test_mixing_devices():
    cpu = sd.tensor([1.0, 2.0])
    gpu = Tensor._make(np.array([1.0, 2.0]).view(FakeCupyArray))
    assert gpu.device == "cuda" and cpu.device == "cpu"
    for op in (
        lambda: cpu + gpu,
        lambda: gpu * cpu,
        lambda: cpu @ gpu,
        lambda: cpu > gpu,
        lambda: sd.where(cpu > 0, cpu, gpu),
    ):
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            op()


def test_scalar_conversions_of_many_elements():
    t = sd.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        t.item()
    with pytest.raises(TypeError, match="0-d"):
        len(sd.tensor(1.0))


def test_numpy_function_without_a_rule():
    w = sd.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="register_vjp"):
        np.nextafter(w, 2.0)
    with sd.no_grad():
        assert np.nextafter(w * 8, 9.0).tolist() == [np.nextafter(np.float32(8.0), 9.0)]


def test_a_numpy_function_srcdiff_refuses_says_why_on_tensors():
    """Its refusal, not an offer to register a rule, and its module named (np.fft.rfft
    was "numpy.rfft")."""
    t = sd.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="np.fft.rfft gives complex values") as caught:
        np.fft.rfft(t)
    assert "register" not in str(caught.value)
    with pytest.raises(RuntimeError, match=r"differentiate numpy\.linalg\.tensorsolve called"):
        np.linalg.tensorsolve(t.reshape(2, 2), t[:2])


def _complex_sum(x):
    return np.sum(x, dtype=np.complex128)  # the operation a refusal names


def test_a_refused_backward_names_the_line_that_recorded_the_operation():
    """A refusal of a recorded operation named ``<recorded operations>:1``: it names the
    user's file, line and source text where the operation was recorded, each graph its
    own (graphs of one structure share their adjoint)."""
    x = sd.tensor([1.0, 2.0], requires_grad=True)
    line = _complex_sum.__code__.co_firstlineno + 1
    with pytest.raises(sd.CompileError) as info:
        _complex_sum(x).backward()
    said = str(info.value)
    assert f"test_errors.py:{line})" in said and "<recorded operations>" not in said
    assert "`return np.sum(x, dtype=np.complex128)" in said and "in _complex_sum" in said
    with pytest.raises(sd.CompileError) as info:
        line = inspect.currentframe().f_lineno + 1
        np.sum(x, dtype=np.complex128).backward()
    said = str(info.value)
    assert (
        f"test_errors.py:{line})" in said and "`np.sum(x, dtype=np.complex128).backward()`" in said
    )


class _Scaled(sd.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = sd.nn.Linear(2, 2)

    def forward(self, x):
        return self.lin(x) * 2.0  # the user's line of both operations


def test_a_recorded_operation_keeps_the_innermost_line_of_the_users_code():
    """What srcdiff's own code records for the user (a layer, a functional, an operator)
    is placed at the line of the user's code that asked for it, the innermost one."""
    from srcdiff.compiler.eager import line_of

    x = sd.tensor([[1.0, -2.0]], requires_grad=True)
    first = inspect.currentframe().f_lineno + 1
    made = [sd.nn.functional.relu(x), x * 3.0, np.tanh(x), x.sum()]
    for y in made:
        code, lasti = y.grad_fn.at
        assert code is inspect.currentframe().f_code and line_of(code, lasti) == first
    forward = _Scaled.forward.__code__
    out = _Scaled()(x)
    for node in (out.grad_fn, out.grad_fn.next_functions[0][0]):  # (the Linear's too)
        code, lasti = node.at
        assert code is forward and line_of(code, lasti) == forward.co_firstlineno + 1
