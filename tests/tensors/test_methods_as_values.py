"""A Tensor method read as a value in a compiled step (``f = h.var``, ``getattr(h,
"var")``) is the Tensor's method, with PyTorch's errors, keywords and gradients."""

import numpy as np
import pytest

import srcdiff as sd

from .programs import check_step_against_eager_and_differences

X = np.array([[1.5, 2.0, -0.5], [3.0, 4.5, 1.0]])


def read_by_getattr(x):
    z = x * 2.0
    return getattr(z, "var")(0, keepdim=True).sum() + getattr(z, "sum")()  # noqa: B009


def read_as_attribute(x):
    h = x.sin()
    f = h.std
    return f(1).sum() * h.mean()


@pytest.mark.parametrize("loss_of", [read_by_getattr, read_as_attribute])
def test_a_method_read_as_a_value_has_eager_codes_gradient(loss_of):
    """Refused before (getattr of a value carrying a gradient; no rule for ndarray.var)."""

    check_step_against_eager_and_differences(loss_of, X, atol=1e-7)


def test_a_method_of_an_integer_tensor_read_as_a_value_is_pytorchs_error():
    """It was NumPy's array method: a TypeError about ``keepdim``."""

    @sd.differentiate
    def step(x):
        v = getattr(x.long(), "var")(0, keepdim=True)  # noqa: B009
        (x * 2.0).sum().backward()
        return v

    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        step(sd.tensor(X.copy(), requires_grad=True))
