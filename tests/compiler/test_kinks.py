"""Kink and branch warnings (``sd.grad(f, warn_kinks=eps)``): an input within ``eps`` of a
comparison's switch, of a kink (maximum, abs, clip, max and sort ties) or of a jump (floor,
round, ``//``, ``%``) gets one ``sd.KinkWarning`` per site and call, naming the user's
line and expression; the values and gradients are the same, and without the option the
generated source has no checks."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import srcdiff as sd


def branchy(x):
    h = np.tanh(x)
    if h.sum() > 0:
        h = h * 2.0
    return np.sum(h**2)


def relu_loss(x):
    return np.sum(np.maximum(x, 0.0) * x)


def abs_loss(x):
    return np.sum(np.abs(x) * 3.0)


def clipped(x):
    return np.sum(np.clip(x, -1.0, 1.0) ** 2)


def sorted_first(x):
    return np.sort(x)[0] * 2.0


def largest(x):
    return np.max(x, axis=1).sum()


def masked(x):
    return np.sum(np.where(x > 0.5, x, 0.0))


def doubling(x):
    s = np.sum(x)
    while s < 10.0:
        s = s * 2.0
    return s


def inner(h):
    if h.sum() > 1.0:
        return h * 3.0
    return h


def outer(x):
    return np.sum(inner(x * 1.0))


def _line(fn, text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def _kinks(fn, *args, eps=1e-8, **options) -> tuple[object, list]:
    """The gradient of ``fn`` at ``args`` with ``warn_kinks=eps``, and its kink warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = sd.grad(fn, warn_kinks=eps, **options)(*args)
    return g, [w.message for w in caught if issubclass(w.category, sd.KinkWarning)]


def test_an_if_near_its_threshold_warns_naming_the_line_and_expression():
    x = np.array([0.5, -0.5 + 1e-10])  # h.sum() is about 8e-11
    _, found = _kinks(branchy, x)
    assert len(found) == 1
    warning = found[0]
    assert (warning.filename, warning.lineno) == (__file__, _line(branchy, "if h.sum()"))
    assert 0 < warning.margin < 1e-10
    text = str(warning)
    assert f"h.sum() is {warning.margin:.2g} from 0 at {__file__}:{warning.lineno}" in text
    assert "(`if h.sum() > 0:`)" in text and "one-sided" in text


def test_far_from_the_threshold_nothing_warns():
    assert _kinks(branchy, np.array([1.0, 2.0]))[1] == []
    assert _kinks(branchy, np.array([0.5, -0.5 + 1e-6]))[1] == []  # 8e-7 > eps


def test_a_relu_at_zero_names_the_entry():
    _, found = _kinks(relu_loss, np.array([1.0, 0.0, -2.0]))
    (warning,) = found
    assert warning.margin == 0.0
    assert "`np.maximum(x, 0.0)`: entry (1,) of x equals 0.0" in str(warning)


def test_abs_at_zero_and_clip_at_a_bound():
    (warning,) = _kinks(abs_loss, np.array([2.0, 3e-12]))[1]
    assert "`np.abs(x)`: entry (1,) of x is 3e-12 from 0" in str(warning)
    (warning,) = _kinks(clipped, np.array([0.5, 1.0 + 1e-11, -3.0]))[1]
    assert "entry (1,) of x is 1e-11 from the bound 1" in str(warning)
    assert _kinks(clipped, np.array([0.5, 2.0, -3.0]))[1] == []


def test_sort_and_max_ties():
    (warning,) = _kinks(sorted_first, np.array([3.0, 1.0, 2.0, 1.0]))[1]
    assert "two entries of x are equal (a tie)" in str(warning)
    assert _kinks(sorted_first, np.array([3.0, 1.0, 2.0]))[1] == []
    x = np.array([[1.0, 5.0, 2.0], [4.0, 4.0, 0.0]])
    (warning,) = _kinks(largest, x)[1]
    assert "the two largest entries of x (in slice (1,)) are equal" in str(warning)
    assert _kinks(largest, np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 0.0]]))[1] == []


def stepped(x):
    return np.sum(np.floor(x) * x + np.round(x, 1) + (x // 0.5) * x)


def remainder(x):
    return np.sum(x % 0.5 + np.fmod(x, 0.5))


def builtin_largest(x):
    return max(x[0], x[1]) + min([x[1], x[2]])


def test_a_value_that_jumps_warns_though_its_gradient_is_zero():
    """np.floor, np.round and ``//`` jump (at the integers, the halves of their decimals,
    the multiples of the divisor); ``%`` jumps at the multiples, np.fmod at all but 0."""
    found = _kinks(stepped, np.array([1.0 + 1e-9, 0.25 - 1e-9, 0.7]), eps=1e-6)[1]
    texts = sorted(str(w) for w in found)
    assert len(texts) == 3, texts
    assert "`np.floor(x)`: entry (0,) of x is 1e-09 from 1 at" in texts[0]
    assert "`np.round(x, 1)`: entry (1,) of x is 1e-09 from 0.25 at" in texts[1]
    assert "`x // 0.5`: entry (0,) of x is 1e-09 from 1 at" in texts[2]
    assert all("where its value jumps" in t for t in texts)
    assert _kinks(stepped, np.array([1.2, 0.3, 0.7]), eps=1e-6)[1] == []
    (warning,) = _kinks(remainder, np.array([-1e-9, 0.2]), eps=1e-6)[1]
    assert "`x % 0.5`: entry (0,) of x is 1e-09 from 0 at" in str(warning)  # fmod: no jump
    assert len(_kinks(remainder, np.array([0.5 + 1e-9, 0.2]), eps=1e-6)[1]) == 2


def test_builtin_max_and_min_ties():
    (warning,) = _kinks(builtin_largest, np.array([0.5, 0.5 + 1e-9, 2.0]), eps=1e-6)[1]
    assert "`max(x[0], x[1])`: the two largest of its arguments are 1e-09 apart" in str(warning)
    (warning,) = _kinks(builtin_largest, np.array([0.0, 2.0, 2.0]))[1]
    text = str(warning)
    assert "`min([x[1], x[2]])`: the two smallest of the entries of [x[1], x[2]] are equal" in text
    assert _kinks(builtin_largest, np.array([0.0, 1.0, 2.0]), eps=1e-6)[1] == []


def test_a_where_mask_is_checked_through_its_comparison():
    (warning,) = _kinks(masked, np.array([0.1, 0.5, 0.9]))[1]
    assert "entry (1,) of x equals 0.5" in str(warning)
    assert "`x > 0.5`" in str(warning)


def test_a_while_condition_warns_once_per_call_with_its_closest_margin():
    x = np.array([0.5, 0.75])  # s: 1.25, 2.5, 5, 10 (the loop stops at exactly 10)
    (warning,) = _kinks(doubling, x)[1]
    assert "s equals 10.0" in str(warning) and "(`while s < 10.0:`)" in str(warning)
    (warning,) = _kinks(doubling, x, eps=100.0)[1]  # every test of the loop within eps
    assert warning.margin == 0.0 and "4 times this call" in str(warning)


def test_a_called_function_is_checked_at_its_own_line():
    (warning,) = _kinks(outer, np.array([0.5, 0.5 + 1e-12]))[1]
    assert warning.lineno == _line(inner, "if h.sum()")
    assert "h.sum() is" in str(warning)


def test_nothing_warns_without_the_option():
    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.KinkWarning)
        sd.grad(relu_loss)(np.array([1.0, 0.0]))
        sd.grad(branchy)(np.array([0.5, -0.5]))


@pytest.mark.parametrize(
    ("fn", "x"),
    [
        (branchy, np.array([0.5, -0.5 + 1e-10])),
        (branchy, np.array([-0.5, -1.0])),
        (doubling, np.array([0.5, 0.75])),
        (largest, np.array([[1.0, 5.0, 2.0], [4.0, 4.0, 0.0]])),
        (outer, np.array([0.5, 0.5 + 1e-12])),
    ],
)
def test_values_and_gradients_are_the_same(fn, x):
    plain = sd.value_and_grad(fn)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.KinkWarning)
        checked = sd.value_and_grad(fn, warn_kinks=1e-8)(x)
        both = sd.value_and_grad(fn, warn_kinks=1e-8, check_finite=True)(x)
    for got in (checked, both):
        assert got[0] == plain[0]
        np.testing.assert_array_equal(got[1], plain[1])


def test_the_checks_are_other_source_and_sd_source_shows_what_ran():
    x = np.array([0.5, -0.5 + 1e-10])
    plain, checked = sd.grad(branchy), sd.grad(branchy, warn_kinks=1e-8)
    plain(x)
    assert "rt.near_" not in sd.source(plain)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.KinkWarning)
        checked(x)
    shown = sd.source(checked)
    assert "rt.near_branch(t1, 0, (" in shown and "'h.sum()', '0')" in shown
    plain(x)  # the primal without checks again, after one with them
    assert "rt.near_" not in sd.source(plain)


def test_the_option_takes_a_non_negative_number():
    for bad in (-1e-8, "1e-8", True, float("nan")):
        with pytest.raises(ValueError, match="warn_kinks must be a non-negative number"):
            sd.grad(branchy, warn_kinks=bad)
    assert _kinks(relu_loss, np.array([1.0, 0.0]), eps=0)[1]  # 0: exact ties only
