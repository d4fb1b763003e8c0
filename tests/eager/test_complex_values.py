"""Complex values given to Tensor operations: srcdiff has no complex dtype, so a complex
number is refused at the user's line where it is given, never kept as a complex Tensor
(whose gradient would drop its imaginary part)."""

import inspect

import numpy as np
import pytest

import srcdiff as sd


def _line() -> int:
    return inspect.currentframe().f_back.f_lineno + 1


def test_a_complex_python_number_times_a_tensor_is_refused_at_its_line():
    """``x * (1+2j)`` gave x.grad = [1, 1, 1] (the real part of the complex product's
    gradient) with a ComplexWarning; PyTorch's product is complex and not a real loss."""
    x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(sd.CompileError) as left:
        line = _line()
        (x * (1 + 2j)).sum().backward()
    with pytest.raises(sd.CompileError) as right:
        ((1 + 2j) * x).sum().backward()
    for info, at in ((left, line), (right, line + 2)):
        said = str(info.value)
        assert f"test_complex_values.py:{at})" in said, said
        assert "(1+2j)" in said and "no complex dtype" in said
    assert x.grad is None


ENTRY_POINTS = {
    "sub": lambda t: t - 1j,
    "rtruediv": lambda t: 1j / t,
    "pow": lambda t: t**1j,
    "rpow": lambda t: 1j**t,
    "numpy scalar": lambda t: t * np.complex128(2j),
    "numpy array": lambda t: t * np.array([1j, 2.0, 3.0]),
    "iadd": lambda t: t.__iadd__(1j),
    "mul_": lambda t: t.mul_(1j),
    "sd.mul": lambda t: sd.mul(t, 1j),
    "sd.add": lambda t: sd.add(t, 1j),
    "add alpha": lambda t: t.add(t, alpha=1j),
    "sd.where": lambda t: sd.where(t > 1, t, 1j),
    "masked_fill": lambda t: t.masked_fill(t > 1, 1j),
    "clamp": lambda t: t.clamp(max=1j),
    "sd.full": lambda t: sd.full((2,), 1j),
    "sd.full float32": lambda t: sd.full((2,), 1j, dtype=sd.float32),
    "sd.full_like": lambda t: sd.full_like(t, 1j),
    "new_full": lambda t: t.new_full((2,), 1j),
    "fill_": lambda t: t.fill_(1j),
    "setitem": lambda t: t.__setitem__(0, 1j),
    "setitem numpy": lambda t: t.__setitem__(slice(None), np.array([1j, 1.0, 1.0])),
    "sd.tensor": lambda t: sd.tensor([1j]),
    "np.sum dtype": lambda t: np.sum(t, dtype=np.complex128),
    "sd.from_numpy": lambda t: sd.from_numpy(np.array([1j])),
    "sd.linspace": lambda t: sd.linspace(0.0, 1j, 3),
    "copy_": lambda t: t.detach().copy_(np.array([1j, 1.0, 1.0])),
    "data": lambda t: setattr(t, "data", np.array([1j, 1.0, 1.0])),
}


@pytest.mark.parametrize("op", list(ENTRY_POINTS), ids=list(ENTRY_POINTS))
@pytest.mark.parametrize("requires_grad", [True, False])
def test_every_tensor_entry_point_refuses_a_complex_value(op, requires_grad):
    """Each either dropped the imaginary part silently (``sd.full(..., dtype=sd.float32)``,
    ``new_full``, a NumPy complex array) or made a complex Tensor (whose printing and
    backward failed far from the line that made it)."""
    x = sd.tensor([1.0, 2.0, 3.0], requires_grad=requires_grad)
    t = x * 1.0 if requires_grad else x
    with pytest.raises(sd.CompileError, match="complex value") as info:
        ENTRY_POINTS[op](t)
    assert f"test_complex_values.py:{ENTRY_POINTS[op].__code__.co_firstlineno})" in str(info.value)


def test_real_numpy_scalars_and_arrays_still_work():
    x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * np.float64(2.0) + np.array([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def _compiled(x):
    return (x * (1 + 2j)).sum()  # the line both refusals name


def test_compiled_code_refuses_as_eager_code_does():
    line = _compiled.__code__.co_firstlineno + 1
    x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for run in (_compiled, sd.differentiate(_compiled)):
        with pytest.raises(sd.CompileError) as info:
            run(x).backward()
        said = str(info.value)
        assert f"test_complex_values.py:{line})" in said and "(1+2j)" in said, said
    assert x.grad is None


def test_a_refused_dtype_is_shown_as_given_not_by_an_internal_name():
    """The refusal said ``dtype=c0``: the recorded operations' name for the constant."""
    x = sd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(sd.CompileError) as info:
        np.sum(x, dtype=object).backward()
    said = str(info.value)
    assert "dtype=object (NumPy's kind 'O')" in said and "c0" not in said, said
