"""Finiteness checks (``sd.grad(f, check_finite=True)``, ``sd.detect_nonfinite()``): the
first infinite or NaN gradient raises ``sd.NonFiniteError`` at the user's line, with the
adjoint statement, its operands and the usual fix; without them the adjoint is other
source, with no check in it."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import srcdiff as sd

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def masked_sqrt(x):
    h = np.tanh(x) * 2.0
    r = np.where(x > 0, np.sqrt(x), 0.0)
    return np.sum(r * h)


def cross_entropy(p, y):
    return -np.mean(y * np.log(p))


def ratio(x, y):
    return np.sum(x / y)


def helper(h):
    return np.sqrt(h)


def loop_reaching_zero(x):
    total = 0.0
    h = x
    for _ in range(3):
        h = h - 0.5
        total = total + np.sum(helper(h * h))
    return total


def _line(fn, text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def test_the_where_sqrt_trap_names_its_line_and_the_rewrite():
    x = np.array([0.5, -1.0, 2.0])
    assert np.isnan(sd.grad(masked_sqrt)(x)[1])  # unchecked: NumPy's NaN, as it is
    with pytest.raises(sd.NonFiniteError) as caught:
        sd.grad(masked_sqrt, check_finite=True)(x)
    error = caught.value
    assert error.lineno == _line(masked_sqrt, "np.where")
    assert error.filename == __file__
    message = str(error)
    assert "np.where(c, np.sqrt(np.where(c, x, 1.0)), 0.0)" in message
    assert "not finite at [(1,)]" in message  # the operand's NaN entry


def test_a_log_of_zero_inside_detect_nonfinite():
    p, y = np.array([0.5, 0.0, 0.5]), np.array([1.0, 0.0, 1.0])
    with sd.detect_nonfinite(), pytest.raises(sd.NonFiniteError) as caught:
        sd.grad(cross_entropy)(p, y)
    assert caught.value.lineno == _line(cross_entropy, "np.log")
    assert "np.log(x) has slope 1 / x" in str(caught.value)
    assert "d_p" in caught.value.statement


def test_a_division_by_zero():
    with pytest.raises(sd.NonFiniteError, match="division by zero"):
        sd.grad(ratio, wrt=1, check_finite=True)(np.ones(2), np.array([1.0, 0.0]))


def test_a_helper_called_in_a_loop_is_checked_at_its_own_line():
    x = np.array([1.0, 2.0])  # h reaches 0 at the second step: sqrt(h * h) has no slope
    with pytest.raises(sd.NonFiniteError) as caught:
        sd.grad(loop_reaching_zero, check_finite=True)(x)
    assert caught.value.lineno == _line(helper, "np.sqrt")
    assert "np.sqrt(x) has slope" in str(caught.value)


def test_checks_are_other_source_and_change_no_finite_gradient():
    x = np.array([0.5, 1.0, 2.0])
    plain, checked = sd.grad(masked_sqrt), sd.grad(masked_sqrt, check_finite=True)
    np.testing.assert_array_equal(plain(x), checked(x))
    assert "rt.check_finite" not in sd.source(plain)
    assert "rt.check_finite(d_x, " in sd.source(checked)
    plain(x)  # the unchecked adjoint again, after a checked one
    assert "rt.check_finite" not in sd.source(plain)


def test_eager_backward_is_checked_too_within_detect_nonfinite():
    x = sd.tensor([0.0, 1.0], requires_grad=True)
    with sd.detect_nonfinite(), pytest.raises(sd.NonFiniteError, match=r"np\.sqrt\(x0\)"):
        x.sqrt().sum().backward()
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()  # outside: PyTorch's inf, unchecked
    assert np.isinf(x.grad.numpy()[0])
