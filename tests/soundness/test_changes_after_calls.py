"""A change of an array from outside after a call of a function of the user's (whose
derivative may read it) is refused where it may run after the call: later in the call's
block, after the blocks around it, or in a later step of a loop around both. One that no
path from the call reaches (after its ``return``, in the other branch, after a ``break``)
changes nothing the call read: the function is differentiated, in both modes."""

import functools

import numpy as np
import pytest

import srcdiff as sd
from tests.soundness.verify import verify_both_modes

GW = np.array([0.5, -1.5, 2.0])  # read by the callee: its derivative reads it
BUF = np.zeros(3)  # changed in place by the functions below


def _weighted_sum(x):
    return np.sum(x * GW)


def returns_before_the_change(x):
    if x[0] > 0:
        return _weighted_sum(x) ** 2
    BUF.fill(1.0)
    return np.sum(x * BUF) ** 2


def changes_in_the_other_branch(x):
    if x[0] > 0:
        t = _weighted_sum(x)
    else:
        BUF.fill(2.0)
        t = np.sum(x * BUF)
    return t * t


def breaks_after_the_call(x):
    t = 0.0
    for i in range(3):
        BUF.fill(float(i))
        t = _weighted_sum(x)
        break
    return t * t


@pytest.mark.parametrize(
    "f", [returns_before_the_change, changes_in_the_other_branch, breaks_after_the_call]
)
@pytest.mark.parametrize("first", [1.3, -0.7], ids=["positive", "negative"])
def test_a_change_no_path_from_the_call_reaches_is_differentiated(f, first):
    """Refused before (statements were taken in the order written); now the gradient
    matches central differences, and the tangent the gradient."""
    x = np.array([first, 0.4, -1.1])
    verify_both_modes(f, (x,), np.random.default_rng(0))


def changes_in_a_later_step(x):
    t = 0.0
    for i in range(2):
        BUF.fill(float(i))  # (after the call of the step before)
        t = t + _weighted_sum(x)
    return t


def returns_on_one_path_only(x):
    t = _weighted_sum(x)
    if x[0] > 0:
        return t
    BUF.fill(1.0)
    return t * 2.0


def continues_after_the_call(x):
    t = 0.0
    for i in range(3):
        if i == 2:
            BUF.fill(1.0)
        t = t + _weighted_sum(x)
        if i < 5:
            continue
        t = t * 2.0
    return t


def handled_after_the_call(x):
    try:
        t = _weighted_sum(x)
        t = t / float(x.size)
    except ZeroDivisionError:
        BUF.fill(1.0)
        t = np.sum(x * BUF)
    return t


@pytest.mark.parametrize(
    "f",
    [changes_in_a_later_step, returns_on_one_path_only, continues_after_the_call,
     handled_after_the_call],
)  # fmt: skip
def test_a_change_a_path_from_the_call_reaches_stays_refused(f):
    """A later step of the loop, the path that does not return, the step after a
    ``continue``, an except clause after a statement of its try: each may run after the
    call, so the change is refused at its line, naming the call."""
    with pytest.raises(sd.CompileError, match="after a call of `_weighted_sum`"):
        sd.grad(f)(np.array([-0.3, 0.4, -1.1]))


def _fd(f, x, eps):
    """Central differences of ``f`` at ``x``, ``GW`` restored before each value."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        values = []
        for step in (e, -e):
            GW[...] = (0.5, -1.5, 2.0)
            values.append(f(x + step))
        g[i] = (values[0] - values[1]) / (2 * eps)
    GW[...] = (0.5, -1.5, 2.0)
    return g


def held_in_a_list(x):
    fs = [_weighted_sum]
    t = fs[0](x)
    GW[0] = 4.0
    return t


def held_in_a_dict(x):
    fs = {"w": _weighted_sum}
    t = fs["w"](x)
    GW[0] = 4.0
    return t


def held_by_another_name(x):
    k = _weighted_sum
    t = k(x)
    GW[0] = 4.0
    return t


def held_in_a_partial(x):
    k = functools.partial(_weighted_sum)
    t = k(x)
    GW[0] = 4.0
    return t


def given_as_a_parameter(x, k=_weighted_sum):
    t = k(x)
    GW[0] = 4.0
    return t


def taken_by_a_loop(x):
    t = 0.0
    for k in [_weighted_sum]:
        t = t + k(x)
    GW[0] = 4.0
    return t


class _Weighing:
    def weigh(self, x):
        return np.sum(x * GW)


def a_method_of_an_object_built_here(x):
    w = _Weighing()
    t = w.weigh(x)
    GW[0] = 4.0
    return t


def a_method_of_an_object_in_a_list(x):
    ws = [_Weighing()]
    t = ws[0].weigh(x)
    GW[0] = 4.0
    return t


HELD = [held_in_a_list, held_in_a_dict, held_by_another_name, held_in_a_partial,
        given_as_a_parameter, taken_by_a_loop, a_method_of_an_object_built_here,
        a_method_of_an_object_in_a_list]  # fmt: skip


@pytest.mark.parametrize("f", HELD)
def test_a_change_after_a_call_of_a_function_held_as_a_value_is_refused(f):
    """A function called through a value (known only when it runs) may be the user's,
    as may a method of an object the function built,
    whose derivative reads the array after the change: its gradient read ``GW[0] = 4``
    (4.0 where central differences give 0.5); the change is refused, naming the call."""
    x = np.array([-0.3, 0.4, -1.1])
    assert np.allclose(_fd(f, x, 1e-5), GW) and np.allclose(_fd(f, x, 1e-6), GW)
    try:
        with pytest.raises(sd.CompileError, match="after a call of .* whose derivative"):
            sd.grad(f)(x)
    finally:
        GW[...] = (0.5, -1.5, 2.0)


def changed_before_the_held_call(x):
    GW[0] = 0.5
    fs = [_weighted_sum]
    return fs[0](x) ** 2


def test_a_change_before_a_call_of_a_function_held_as_a_value_is_differentiated():
    verify_both_modes(changed_before_the_held_call, (np.array([1.3, 0.4, -1.1]),),
                      np.random.default_rng(0))  # fmt: skip


class _Doubling:
    def double(self, x):
        return 2.0 * x


def a_method_reading_nothing_from_outside(x):
    d = _Doubling()
    t = np.sum(d.double(x) ** 2)
    BUF.fill(1.0)
    return t + np.sum(x * BUF)


def test_a_change_after_a_method_reading_nothing_from_outside_is_differentiated():
    verify_both_modes(a_method_reading_nothing_from_outside, (np.array([1.3, 0.4, -1.1]),),
                      np.random.default_rng(0))  # fmt: skip
