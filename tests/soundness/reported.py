"""Functions on which srcdiff once returned a wrong gradient without a word, changed the
caller's objects, or crashed. Each gets its arguments, the positions to differentiate,
and whether a ``CompileError`` is an acceptable answer (``refusable``) or the gradient
must be computed.
"""

from __future__ import annotations

import collections
import copy
import functools
import math
import operator
import typing
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import srcdiff as sd

RNG = np.random.default_rng(11)


def vec(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 1.0, n)


@dataclass
class Case:
    fn: Any
    args: tuple
    wrt: Any = 0
    refusable: bool = False
    name: str = field(default="")

    def __post_init__(self):
        self.name = self.name or self.fn.__name__


CASES: list[Case] = []


def case(*args, wrt=0, refusable=False):
    def register(fn):
        CASES.append(Case(fn, args, wrt, refusable))
        return fn

    return register


# ---- values that depend on arguments marked non-differentiable -----------------------------


@case(1.5)
def linspace_endpoint(T):
    t = np.linspace(0.0, T, 5)
    return np.sum(t**2)


@case(0.3, 1.7, wrt=(0, 1))
def linspace_both_ends(a, b):
    return np.sum(np.sin(np.linspace(a, b, 7)))


@case(0.7)
def full_fill_value(a):
    return np.sum(np.full(3, a) * np.arange(3.0))


@case(vec(), 0.7, wrt=(0, 1))
def full_like_fill_value(x, a):
    return np.sum(np.full_like(x, a) * x)


@case(vec(3), vec(2, 1), wrt=(0, 1))
def r_concatenates(a, b):
    return np.sum(np.r_[a, b] ** 2 * np.arange(5.0))


@case(vec(3), vec(3, 1), wrt=(0, 1))
def c_stacks_columns(a, b):
    m = np.c_[a, b]
    return np.sum(m * np.array([[1.0, 2.0]]) * m)


# ---- and / or on values ---------------------------------------------------------------


@case(vec(), 0.4, wrt=(0, 1))
def or_default(x, b):
    bias = b or 0.0
    return np.sum(x * bias)


@case(vec(), 0.9, wrt=(0, 1))
def and_or_idiom(x, scale):
    s = scale > 0 and scale or 1.0
    return np.sum(x * s)


@case(vec(), 0.0)  # b = 0.0 takes the other operand; the function jumps there, so not wrt b
def or_takes_the_other(x, b):
    bias = b or 2.0
    return np.sum(x * bias)


# ---- casts and complex values ---------------------------------------------------------------


@case(vec() * 4)
def astype_int_has_no_gradient(x):
    return np.sum(x.astype(int) * x)


@case(vec())
def astype_float32_passes_it_on(x):
    return float(np.sum(np.sin(x).astype(np.float32)))


@case(vec(), refusable=True)
def real_through_complex(x):
    z = x * np.exp(1j * x)
    return np.sum(np.abs(z) ** 2)


@case(vec(), refusable=True)
def real_part_of_a_complex_product(x):
    z = x + 1j * x**2
    return np.real(np.sum(z * z))


# ---- reductions with ddof ---------------------------------------------------------------------


@case(vec(5))
def std_ddof(x):
    return np.std(x, ddof=1)


@case(RNG.normal(size=(3, 4)))
def var_ddof_axis(x):
    return np.sum(np.var(x, axis=0, ddof=2)) + np.sum(x.var(axis=1, ddof=1))


# ---- tuple assignment in a loop -------------------------------------------------------------


@case(0.3, 0.8, wrt=(0, 1))
def swap_in_a_loop(a, b):
    for _ in range(3):
        a, b = b * 0.5, a + np.sin(b)
    return a * b


# ---- writes through views made by calls ---------------------------------------------------


@case(vec(), refusable=True)
def write_through_reshape(x):
    y = x.reshape(-1)
    y[0] = 0.0
    return np.sum(x * x)


@case(vec(), refusable=True)
def write_through_ravel(x):
    y = np.ravel(x)
    y[1] = 2.0
    return np.sum(x * x)


@case(vec())
def write_through_asarray(x):
    y = np.asarray(x)
    y[0] = 3.0
    return np.sum(np.sin(x))


@case(RNG.normal(size=(2, 3)), refusable=True)
def write_through_T(x):
    y = x.T
    y[0, 1] = 0.5
    return np.sum(x**2)


@case(RNG.normal(size=(1, 3)), refusable=True)
def write_through_squeeze(x):
    y = x.squeeze()
    y[0] = 1.0
    return np.sum(x * x)


@case(RNG.normal(size=(2, 3)), refusable=True)
def write_through_transpose(x):
    y = np.transpose(x)
    y[1] = 0.0
    return np.sum(x**3)


@case(vec(), refusable=True)
def write_through_expand_dims(x):
    y = np.expand_dims(x, 0)[0]
    y[2] = 1.0
    return np.sum(x * x)


# ---- out= and functions that write in place --------------------------------------------------


@case(vec())
def multiply_out(x):
    y = np.empty_like(x)
    np.multiply(x, x, out=y)
    return np.sum(y)


@case(vec())
def sin_out_into_its_argument(x):
    np.sin(x, out=x)
    return np.sum(x * 2.0)


@case(vec() * 3 - 1.5)
def clip_out(z):
    z = z * 1.0
    np.clip(z, -1, 1, out=z)
    return np.sum(z**2)


@case(vec())
def exp_out(z):
    z = z + 0.0
    np.exp(z, out=z)
    return np.sum(z)


@case(vec(5), vec(3, 1), wrt=(0, 1))
def add_at(a, b):
    a = a.copy()
    np.add.at(a, [0, 2, 0], b)
    return np.sum(a**2)


@case(vec(5), vec(3, 1), wrt=(0, 1), refusable=True)
def maximum_at(a, b):
    a = a.copy()
    np.maximum.at(a, [0, 2, 0], b)
    return np.sum(a**2)


@case(vec(5), vec(2, 1), wrt=(0, 1))
def put(a, v):
    a = a.copy()
    np.put(a, [1, 3], v)
    return np.sum(a**2)


@case(vec(5), vec(2, 1), wrt=(0, 1))
def putmask(a, v):
    a = a.copy()
    np.putmask(a, a > 0.5, v)
    return np.sum(a**2)


@case(vec(5), vec(5, 1), wrt=(0, 1))
def copyto_where(a, v):
    out = a * 1.0
    np.copyto(out, v, where=a > 0.5)
    return np.sum(out**2)


@case(vec(5))
def put_into_the_argument(a):
    np.put(a, [0], 0.0)
    return np.sum(a**2)


@case(vec(5), vec(5, 1), wrt=(0, 1))
def copyto_the_argument(a, v):
    np.copyto(a, v)
    return np.sum(a * v)


@case(vec(4))
def resize_the_argument(x):
    np.ndarray.resize(x, (2, 2), refcheck=False)
    return np.sum(x**2)


@case(vec(4))
def sort_the_argument_in_place(x):
    x.sort()
    return np.sum(x * np.arange(4.0))


@case([0.3, -1.2, 0.7], wrt=0)
def sort_a_list_of_numbers_in_place(xs):
    xs.sort(reverse=True)
    return xs[0] * 3.0 + xs[1]


# ---- helpers that change their arguments ------------------------------------------------------


def scale_in_place(v):
    v *= 2.0


@case(vec())
def helper_mutates_its_argument(x):
    scale_in_place(x)
    return np.sum(x**2)


def push(stack, v):
    stack.append(v)


def pop(stack):
    return stack.pop()


@case(0.5, 1.5, wrt=(0, 1))
def list_as_a_stack_through_helpers(a, b):
    stack = []
    push(stack, a)
    push(stack, b * 2.0)
    bb = pop(stack)
    aa = pop(stack)
    return aa * bb + aa


def record(history, v):
    history.append(float(np.sum(v)))
    return v * 2.0


@case(vec(), [1.0])
def helper_appends_to_the_callers_list(x, history):
    y = record(history, np.sin(x))
    return np.sum(y * x)


def normalize_rows(m):
    m /= np.sqrt(np.sum(m * m, axis=1, keepdims=True))


def twice(m):
    normalize_rows(m)
    m *= 2.0


@case(RNG.normal(size=(2, 3)))
def helper_calling_a_helper_updates_an_alias(a):
    b = a * 1.0
    c = b
    twice(b)
    return np.sum(c * a) + np.sum(b)


@case(vec())
def helper_updates_an_entry_of_a_list(x):
    xs = [x * 1.0, x * 2.0]
    scale_in_place(xs[0])
    return np.sum(xs[0] * np.sin(xs[1]))


@case(vec())
def helper_updates_the_callers_array_which_stays_unchanged(x):
    scale_in_place(x)
    scale_in_place(x)
    return np.sum(np.sin(x))


# ---- decorators ------------------------------------------------------------------------------


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return 2.0 * fn(*args)

    return wrapper


@doubled
def decorated_doubles(x):
    return np.sum(x**2)


CASES.append(Case(decorated_doubles, (vec(),), name="decorated_doubles"))


def cube(x):
    return x**3


def grad_of_grad(x):
    return sd.grad(cube)(x)


CASES.append(Case(grad_of_grad, (0.7,), refusable=True, name="grad_of_grad"))


# ---- the caller's containers -----------------------------------------------------------------


@case(vec(), {"mean": 0.0})
def running_mean_in_a_dict(x, running):
    running["mean"] = 0.9 * running["mean"] + 0.1 * x.mean()
    return np.sum(x**2) + running["mean"]


@case(vec(), [])
def history_append(x, history):
    loss = np.sum(x**2)
    history.append(float(loss))
    return loss


@case(vec(), [vec(3, 2)])
def write_into_an_array_the_caller_list_holds(x, hs):
    hs[0][1] = x[0] * 2.0
    return np.sum(hs[0] * x[:3])


# ---- once crashes ------------------------------------------------------------------------------


@case(vec())
def break_then_while(x):
    h = x
    for i in range(5):
        h = np.sin(h)
        if i == 2:
            break
    k = 0
    while k < 2:
        h = h * 1.5
        k += 1
    return np.sum(h)


@case(vec())
def a_constant_while_in_a_loop_then_a_while(x):
    for _ in range(1):
        k = 0
        while k < 1:  # its exit is a branch no adjoint needs
            k = k + 1
    j = 0
    while j < 2:
        j = j + 1
        x = np.sin(x)
    return np.sum(x * x)


@case(vec())
def a_list_grown_in_a_loop_whose_sum_is_not_used(x):
    xs = []
    for i in range(2):
        xs.append(x * i)
    y = np.tanh(x + sum(xs))  # y is not read: no gradient reaches xs
    y = x * 2.0
    return np.sum(np.sin(y))


@case(vec())
def an_adjoint_shared_with_a_name_a_loop_then_assigns(x):
    v = x + x
    for i in range(1):
        x = x * 0.5 + np.sin(x * (0.5 * i - 0.25))
    x = x + v  # d_v is d_x here: the loop's adjoint must not change it
    return np.sum(x * x) + np.sum(np.sin(x))


@case(vec(3))
def a_write_through_a_list_reaches_every_entry_holding_the_array(x):
    a = np.zeros(3)
    lst = [a, a]
    lst[0][1] = x[0] * 5.0
    return np.sum(lst[1] * x)


@case(vec(3), refusable=True)
def a_float_written_into_an_integer_array_is_truncated(x):
    h = np.arange(3)
    h[0] = x[0] * 10.0
    return np.sum(h * x)


@case(np.array([0.0, 0.5, -1.0]))
def a_polynomial_through_powers_at_zero(x):
    s = 0.0
    for k in range(4):
        s = s + (k + 1.0) * x**k  # x ** 0 at x = 0: slope 0, not 0 * inf
    return np.sum(s)


@case(3.0, wrt=0)
def newton_step_on_a_scalar(c):
    x = 1.0
    x = x - (x - c) / x
    return x * c


@case(vec(3))
def preallocated_list(x):
    vals = [0.0] * 3
    for i in range(3):
        vals[i] = x[i] ** 2
    return vals[0] + vals[1] * vals[2]


@case(RNG.normal(size=(2, 3)))
def preallocated_outputs(x):
    T = 3
    outs = [None] * T
    h = x
    for t in range(T):
        h = np.tanh(h)
        outs[t] = h
    return np.sum(np.stack(outs))


@case(RNG.normal(size=(3, 3)))
def norm_nuclear(x):
    return np.linalg.norm(x, ord="nuc")


def star_args(*xs):
    return xs[0] * xs[1]


CASES.append(Case(star_args, (0.5, 2.0), wrt=(0, 1), name="star_args"))


# ---- found by the random programs ---------------------------------------------------------


def _minus_half(a, b):
    return np.sin(b) - a * 0.5


@case(-np.abs(vec(3)), vec(3, 1), wrt=(0, 1))
def swap_after_a_subtraction(x, y):
    """The swap leaves y's adjoint in d_x: moving x's back there clobbered it while the
    subtraction's contributions still read it (a wrong gradient, without a word)."""
    y = _minus_half(x, x)
    y = y - x
    x, y = y, x
    y = y + x
    x[0] = np.tanh(np.sum(x))
    return np.sum(y * y) + np.sum(np.sin(x))


# ---- names assigned on some paths only, read in a later loop -----------------------------

X0, W0 = np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.4])


@case(W0, X0, True, False, wrt=(0, 1))
def unbound_after_a_conditional_return(w, x, flag, other):
    """``c`` is unbound when ``flag`` and not ``other``: a branch that may return was taken
    for one that always does, so ``c`` was saved on entering the loop, and crashed."""
    if flag:
        if other:
            return np.sum(w)
    else:
        c = np.cos(np.arange(3.0))
    s = 0.0
    for _ in range(3):
        if not flag:
            s = s + np.sum(w * c)
        s = s + np.sum(np.sin(x * w))
    return s


@case(W0, X0, True, False, wrt=(0, 1))
def unbound_differentiated_after_a_conditional_return(w, x, flag, other):
    if flag:
        if other:
            return np.sum(w)
    else:
        c = np.cos(x)
    s = 0.0
    for _ in range(3):
        if not flag:
            s = s + np.sum(w * c)
        s = s + np.sum(np.sin(x * w))
    return s


@case(W0, X0, 2, wrt=(0, 1))
def unbound_after_a_return_in_a_loop(w, x, n):
    if n > 0:
        for j in range(n):
            if j > 5:
                return np.sum(w)
    else:
        c = np.cos(np.arange(3.0))
    s = 0.0
    for _ in range(3):
        if n <= 0:
            s = s + np.sum(w * c)
        s = s + np.sum(np.sin(x * w))
    return s


@case(W0, X0, wrt=(0, 1))
def unbound_in_the_first_step_after_a_continue(w, x):
    s = 0.0
    for k in range(3):
        if k == 0:
            if k > 5:
                continue
        else:
            c = np.cos(np.arange(3.0)) * k
        for _ in range(2):
            if k != 0:
                s = s + np.sum(w * c)
            s = s + np.sum(np.sin(x * w))
    return s


@case(W0, X0, wrt=(0, 1))
def entry_updated_in_place(w, x):
    """``held[0] += 0.5`` updates the array ``a`` names too, in place: it was compiled as a
    new array for ``held[0]``, leaving ``a`` (value and gradient) as it was."""
    a = np.sin(x) * 1.0
    held = [a]
    s = 0.0
    for _ in range(3):
        s = s + np.sum(np.tanh(a * w))
        held[0] += 0.5
    return s


@case(W0, X0, wrt=(0, 1))
def entry_of_a_dict_updated_in_place(w, x):
    a = np.sin(x) * 1.0
    d = {"k": a, "n": 1.0}
    d["k"] *= w
    d["n"] += 2.0  # a number: a new value, nothing else changes
    return np.sum(np.tanh(a * x)) * d["n"]


@case(vec(12).reshape(3, 4), vec(3, 1).reshape(3, 1))
def reduction_of_a_list(h, c):
    """``np.mean([h, h * c], axis=0)`` reduces a list: the adjoint took the list for a
    number (shape ``()``) and crashed."""
    total = 0.0
    for i in range(2):
        total -= np.mean([h, h * c], axis=0).sum() * (i + 1.0)
        total += np.sum([h, h], axis=1).prod()
    return total


def doubled_through_an_entry(h):
    held = [h, h * 2.0]
    held[0] += h  # held[0] is h: the caller's array doubles
    return held[0] * held[1]


@case(W0, X0, wrt=(0, 1), refusable=True)
def argument_updated_through_an_entry_in_a_callee(w, x):
    """The callee updates its argument in place through a list entry and never reads the
    argument again: nothing followed the update into it, so the update was not seen as
    the argument's, and the caller went on with the array as it was (a wrong value and
    gradient). A callee's updates of its arguments are refused."""
    a = x * w
    r = doubled_through_an_entry(a)
    return np.sum(a * r)


def add_into_first(h, held):
    held[0] += h  # the array in held[0] (the caller's a) grows in place
    return held[0] * 2.0


@case(W0, X0, wrt=(0, 1), refusable=True)
def entry_of_an_argument_updated_in_a_callee(w, x):
    """The callee updates the array a list argument holds, in place: the caller's list got
    the callee's new list, but ``a``, the same array taken out of it before the call, kept
    its old value (a wrong value and gradient). Whether the callee updated the object or
    put another in its place cannot be told from the list: refused."""
    held = [x * w]
    a = held[0]
    r = add_into_first(x * w, held)
    return np.sum(held[0] * r + a)


def put_first(h, held):
    held[0] = h * 3.0
    return np.sum(held[0])


@case(W0, X0, wrt=(0, 1))
def entry_of_an_argument_replaced_in_a_callee(w, x):
    """The callee puts a new array in the list: ``a``, read from the list again after the
    call, sees it (no refusal where nothing reads an entry taken out before)."""
    held = [x * w]
    r = put_first(x + w, held)
    a = held[0]
    return np.sum(a * r) + np.sum(held[0])


def appended_to(h, out=None):
    if out is None:
        out = []
    out.append(h * 2.0)
    return out


@case(W0, X0, wrt=(0, 1))
def out_parameter_of_a_users_function(w, x):
    """``appended_to(v, out=held)``: a parameter of the user's own named ``out`` was taken
    for NumPy's ``out=`` (``held[...] = result``), a crash."""
    held = [x * w]
    appended_to(x * w, out=held)
    r = appended_to(x + w)
    return np.sum(held[0] * held[1] + r[0])


def set_then_rebind(d, h):
    d["k"] = h * 2.0
    d = {"k": h}  # the caller's dict keeps 2h


@case(W0, X0, wrt=(0, 1), refusable=True)
def argument_updated_then_rebound_in_a_callee(w, x):
    """The callee updates the caller's dict, then names another dict: compiled code handed
    the caller that last dict (a wrong value and gradient). Refused."""
    d = {}
    set_then_rebind(d, x * w)
    return np.sum(d["k"])


def grown_then_rebound(h):
    h += 1.0
    h = h * 2.0
    return np.sum(h)


@case(W0, X0, wrt=(0, 1), refusable=True)
def array_argument_updated_then_rebound_in_a_callee(w, x):
    a = x * w
    r = grown_then_rebound(a)
    return r + np.sum(a * x)


@case(W0, X0, wrt=(0, 1))
def array_argument_updated_then_rebound(w, x):
    """At the top, an array argument's update is the function's own (the caller's array
    is never changed): rebinding the name after it is no refusal."""
    w += 1.0
    w = w * x
    return np.sum(w * w)


def add_in(a, v):
    a += v  # the caller's array grows in place; a number would be a new one


@case(X0, W0, wrt=(0, 1))
def entry_passed_to_a_callee_that_updates_it(x, y):
    """``add_in(held[0], y)`` grows the array ``a`` names too: it was written back as a new
    entry of the list, leaving ``a`` as it was (a wrong value and gradient)."""
    a = x * 1.0
    held = [a, a]
    add_in(held[0], y)
    return np.sum(a * y) + np.sum(held[1])


@case(X0, wrt=0)
def number_passed_to_a_callee_that_adds_to_it(x):
    """``+=`` on a number in the callee makes a new number: the caller's, by name or in a
    list, stays as it was (it took the callee's new value)."""
    s = np.sum(x)
    held = [np.sum(x * x)]
    add_in(s, 2.0)
    add_in(held[0], 3.0)
    return s * held[0]


def set_first(lst, v):
    lst[0] = v * 2.0


@case(X0, W0, wrt=(0, 1))
def list_entry_passed_to_a_callee_that_writes_into_it(x, y):
    inner = [x]
    outer = [inner, y]
    set_first(outer[0], y)  # inner[0] is now y * 2
    return np.sum(inner[0] * y)


@case(X0, W0, wrt=(0, 1))
def entry_of_an_entry_updated_in_place(x, y):
    """``d["k"][0] *= y`` multiplies the array ``a`` in place: it was lowered as a new
    entry of the inner list, and ``a`` kept its value."""
    a = x * 1.0
    d = {"k": [a]}
    d["k"][0] *= y
    nested = [[a * 1.0]]
    b = nested[0][0]
    nested[0][0] += y
    return np.sum(a * y) + np.sum(b * a)


def pop_last(lst):
    return lst.pop()


def reverse_it(lst):
    lst.reverse()


@case(X0, W0, wrt=(0, 1))
def callees_that_pop_and_reorder_a_list(x, y):
    """Taken out of the list, or moved in it, an entry is the same object: no refusal."""
    lst = [x, y * 2.0]
    v = pop_last(lst)
    pair = [x * 1.0, y]
    reverse_it(pair)
    return np.sum(v * x) + len(lst) + np.sum(pair[0] * 2.0 + pair[1])


def accumulate(v, store=[]):  # noqa: B006 (a default updated across calls is the point)
    store.append(v * 1.0)
    return sum(np.sum(s) for s in store)


@case(X0, W0, wrt=(0, 1), refusable=True)
def callee_updating_its_default(x, y):
    """Python keeps the default list's entries from one call to the next: compiled code
    started each call from the empty list (a wrong value and gradient). Refused."""
    return accumulate(x) + accumulate(y)


def scale_row(r, s):
    r *= s  # a row of the caller's array, in place


@case(RNG.normal(size=(3, 3)), W0, wrt=(0, 1))
def rows_updated_by_a_callee(a, s):
    """``scale_row(m[i], s)`` writes into a row of ``m``: no refusal (it was refused once
    entries passed to updating callees were followed as objects)."""
    m = a * 1.0
    for i in range(3):
        scale_row(m[i], s)
    return np.sum(m * a)


def reverse_it_again(lst):
    lst.reverse()
    lst.insert(0, lst[-1] * 1.0)


@case(X0, W0, wrt=(0, 1))
def entry_held_while_a_callee_reorders_the_list(x, w):
    lst = [x * w, w * 2.0]
    first = lst[0]
    reverse_it_again(lst)
    return np.sum(first * lst[0]) + np.sum(lst[-1])


def grown_then_rebound_in_a_loop(h, v):
    for _ in range(2):
        h += v
        h = h * 3.0


@case(X0, W0, wrt=(0, 1), refusable=True)
def argument_rebound_in_a_later_iteration(x, w):
    """The update and the rebinding in one loop: a later iteration updates the object the
    name got, not the caller's. Refused."""
    a = x * 1.0
    grown_then_rebound_in_a_loop(a, w)
    return np.sum(a * w)


class Holder:
    def __init__(self, v):
        self.v = v


@case(X0, W0, wrt=(0, 1), refusable=True)
def field_updated_through_a_name(x, w):
    """``c = b.v; c += x`` changes the array the field holds: the field kept the old one
    (a wrong value and gradient). Refused."""
    b = Holder(x * w)
    c = b.v
    c += x
    return np.sum(b.v * b.v)


def scaled_and_returned(a, s):
    a *= s
    return a


@case(RNG.normal(size=(2, 3)), W0, wrt=(0, 1), refusable=True)
def row_updated_and_returned_by_a_callee(x, s):
    """``r = scaled_and_returned(m[0], s)``: in Python ``r`` is a view of ``m``'s row, so
    ``r += ...`` changes ``m``; compiled, ``r`` was an array of its own (a wrong value
    and gradient). Refused."""
    m = x * 1.0
    r = scaled_and_returned(m[0], s)
    r += s
    return np.sum(m * m)


@case(RNG.normal(size=(4,)), W0[:2], wrt=(0, 1), refusable=True)
def slice_passed_to_a_callee_that_updates_it(x, y):
    """``add_in(m[1:3], y)``: a view of an array (its update is the array's), a copy of a
    list (its update is lost): refused when it runs, with the usual rewrite (it was
    refused as an "unsupported expression: Slice")."""
    m = x * 1.0
    add_in(m[1:3], y)
    return np.sum(m * m)


@case(vec(2), refusable=True)
def no_grad_write_into_a_saved_array(x):
    """``y[0] = 100.0`` under ``sd.no_grad()`` after ``z = y * x`` saved ``y``: the block
    runs as written, and the adjoint read the changed ``y`` (a wrong gradient). Refused
    where the block ends."""
    y = x * 2.0
    z = y * x
    with sd.no_grad():
        y[0] = 100.0
    return z.sum()


def clip_in_place(a):
    a[a > 0.5] = 0.5


@case(vec(3), refusable=True)
def no_grad_call_changing_a_saved_array(x):
    """A function of the user's changing its argument in place, under ``sd.no_grad()``."""
    y = np.sin(x)
    z = np.sum(y * x)
    with sd.no_grad():
        clip_in_place(y)
    return z + np.sum(y)


@case(vec(3))
def no_grad_write_into_an_array_nothing_saved(x):
    """A block that writes into an array no adjoint reads is not refused."""
    acc = np.zeros(3)
    y = x * 2.0
    with sd.no_grad():
        acc[0] = 3.0
        acc += 1.0
    return np.sum(x * x * acc) + np.sum(y)


class Bumper:
    def bump(self, a):
        a += 1.0


def _no_grad_changes():
    """In-place changes under ``sd.no_grad()`` of a saved value that the check missed
    (each a wrong gradient, silently): through a list, a dict, an attribute, a loop's
    variable, a method of the user's, a closure, a ufunc's positional output,
    ``operator.iadd`` and a generator's ``shuffle``."""
    import operator

    def list_entry(x):
        y = x * x
        z = np.sum(y * y)
        box = [y]
        with sd.no_grad():
            box[0] += 1.0
        return z

    def attribute(x):
        y = x * x
        z = np.sum(y * y)
        o = Bumper()
        o.a = y
        with sd.no_grad():
            o.a += 1.0
        return z

    def loop_entry(x):
        y = x * x
        c = x * 0.0 + 1.0
        z = np.sum(y * y)
        with sd.no_grad():
            for e in [y, c]:
                e += 1.0
        return z

    def method(x):
        y = x * x
        z = np.sum(y * y)
        o = Bumper()
        with sd.no_grad():
            o.bump(y)
        return z

    def closure(x):
        y = x * x
        z = np.sum(y * y)

        def inner():
            y[:] += 1.0

        with sd.no_grad():
            inner()
        return z

    def positional_out(x):
        y = x * x
        z = np.sum(y * y)
        with sd.no_grad():
            np.multiply(y, 2.0, y)
        return z

    def operator_iadd(x):
        y = x * x
        z = np.sum(y * y)
        with sd.no_grad():
            operator.iadd(y, 1.0)
        return z

    def shuffled(x):
        y = x * x
        z = np.sum(y * y)
        with sd.no_grad():
            np.random.default_rng(0).shuffle(y)
        return z

    for fn in (list_entry, attribute, loop_entry, method, closure, positional_out,
               operator_iadd, shuffled):  # fmt: skip
        CASES.append(Case(fn, (vec(3),), refusable=True, name=f"no_grad_{fn.__name__}"))


_no_grad_changes()


def scaled_cube(x, n):
    return x**3 * n


_scaled_cube_grad = sd.grad(scaled_cube)


@case(1.5, 2.0)
def derivative_called_with_star_args(x, *a):
    """``d(x, *a)`` of a gradient function: its adjoint read ``a``, which was not saved
    (a NameError in generated code)."""
    return _scaled_cube_grad(x, *a)


class Fields:
    def __init__(self, v, n):
        self.v = v
        self.n = n


@case(vec(3))
def field_updated_in_place_seen_by_a_name_given_it(x):
    """``v = s.v; s.v += 1.0`` changes the array ``v`` holds, as NumPy does; compiled code
    gave the field a new array and ``v`` kept the old one (value and gradient wrong,
    silently). A float field stays as Python leaves it (``n`` is not changed)."""
    s = Fields(x * 1.0, 2.0)
    v = s.v
    n = s.n
    s.v += 1.0
    s.n += 1.0
    s.v *= x
    return np.sum(v * x) * n + np.sum(s.v) * s.n


@case(vec(3))
def list_entry_updated_then_made_an_array(x):
    """``l[1] += l[0]`` then ``np.array(l)``: the adjoint joined the array's gradient and
    a list's entry by entry (a TypeError of float + None in generated code)."""
    entries = [0.0] * 3
    for i in range(3):
        entries[i] = x[i] ** 2
    entries[1] += entries[0]
    entries[2] *= entries[1]
    return np.sum(np.array(entries) * x)


@case(np.array([0.5, -1.0, 2.0, -0.3]))
def where_of_a_condition_alone_gives_indices(x):
    """``np.where(x > 0)`` is ``np.nonzero``: indices, no gradient of their own (refused
    as a call of ``np.where`` missing ``x``)."""
    positive = np.where(x > 0)
    return np.sum(x[positive] ** 2)


class Buffer:
    def __init__(self):
        self.buf = np.zeros(3)


@case(vec(3))
def write_into_a_fields_array(x):
    """``state.buf[1] = 4.0`` writes into the array the field holds, as Python does: the
    write was dropped (value and gradient of ``state.buf * x`` zero, silently); the
    field of an object the function built now takes the written array back."""
    state = Buffer()
    state.buf[1] = 4.0
    state.buf[0] += 2.0
    return np.sum(state.buf * x) + np.sum(state.buf * x**2)


@case(vec(3), Buffer(), refusable=True)
def write_into_a_callers_fields_array(x, state):
    """The same write into the caller's object: it would change the caller's array,
    which compiled code never writes into (it was dropped, silently). Refused."""
    state.buf[1] = 4.0
    return np.sum(state.buf * x)


@case(vec(3), refusable=True)
def write_into_an_arrays_view_attribute(x):
    """``b.T[0] = 5.0`` writes into ``b`` in Python; compiled code gave the view a new
    value and left ``b`` as it was (value and gradient wrong, silently). Refused."""
    b = np.outer(np.ones(3), np.arange(3.0))
    b.T[0] = 5.0
    return np.sum(b @ x)


class Scaled:
    def __init__(self, v):
        self.v = v

    def copy(self):
        return Scaled(self.v * 5.0)

    def get(self):
        return self.v * 2.0

    def sum(self):
        return np.sum(self.v) * 3.0

    def total(self):
        return np.sum(self.v) * 7.0


@case(vec(3))
def methods_named_like_an_arrays_of_an_object_built_here(x):
    """``Scaled(v).copy()``, ``.get()`` and ``.sum()`` are the class's methods: ``copy``
    got ndarray.copy's derivative (a gradient five times too small, silently); ``get``
    was refused as dict.get, ``sum`` crashed."""
    s = Scaled(x * x)
    return np.sum(s.copy().v) + np.sum(s.get()) + s.sum()


def _scaled(v):
    return Scaled(v)


@case(vec(3), refusable=True)
def method_named_like_an_arrays_of_an_object_from_a_call(x):
    """The object comes from a call, so its type is known only when the code runs: the
    primal checks the owner (``rt.receiver``) rather than give it ndarray.copy's
    derivative. Refused."""
    return np.sum(_scaled(x * x).copy().v)


@case(vec(3))
def dot_of_lists_of_entries(x):
    """``np.dot(l, l)`` of a list of differentiated entries: its gradient rule read the
    list's ``ndim`` (an AttributeError in generated code)."""
    entries = [x[0], x[1] * x[2]]
    return np.dot(entries, entries) + np.dot(entries, [1.0, 2.0])


class Pair(typing.NamedTuple):
    v: np.ndarray

    def copy(self):
        return Pair(self.v * 5.0)


class Vec:
    def __init__(self, v):
        self.v = v

    def __add__(self, other):
        return Vec(self.v + other.v)

    def copy(self):
        return Vec(self.v * 5.0)


@case(vec(3), refusable=True)
def method_of_a_named_tuple_named_like_an_arrays(x):
    """A named tuple's own ``copy`` got ndarray.copy's derivative (silently): the owner
    check took only objects with fields for users'. Refused."""
    return np.sum(Pair(x * x).copy().v)


@case(vec(3), refusable=True)
def method_of_a_sum_of_objects_named_like_an_arrays(x):
    """``Vec(x) + Vec(x * x)`` was taken for an array (any ``+`` was), so its ``copy``
    got ndarray.copy's derivative, silently. Refused."""
    total = Vec(x) + Vec(x * x)
    return np.sum(total.copy().v)


@case(vec(3))
def a_name_built_as_an_object_then_given_an_array(x):
    """``a = Scaled(...)`` then ``a = x * 2.0``: ``a.sum()`` is the array's (every call
    of ``a``'s methods was taken for the class's, and refused)."""
    a = Scaled(x)
    t = a.total()
    a = x * 2.0
    return np.sum(t) + a.sum()


class Stack:
    def __init__(self):
        self.items = []

    def append(self, v):
        self.items.append(v * 2.0)


@case(vec(3), refusable=True)
def a_users_append_method(x):
    """A class's own ``append`` was taken for a list's (a TypeError of ``*`` in generated
    code); it runs as written, and a gradient through it is refused at the user's line."""
    s = Stack()
    s.append(x)
    return np.sum(s.items[0])


class Shared:
    def __init__(self):
        self.a = np.zeros(3)
        self.b = self.a
        self.head = self.a[:2]


@case(vec(3), refusable=True)
def write_into_a_field_another_field_shares(x):
    """``s.a[1] = 2.0`` where ``s.b`` holds the same array: the field took a new array and
    ``s.b`` kept the old values (value and gradient wrong, silently). Refused."""
    s = Shared()
    s.a[1] = 2.0
    return np.sum(s.b * x)


class ArrayField:
    def __init__(self, v):
        self.v = v

    @property
    def T(self):
        return self.v * 3.0


@case(vec(3))
def a_users_property_named_like_an_arrays(x):
    """``a.T`` of a user's class with a property ``T`` was differentiated as an array's
    transpose (an IndexError in the adjoint)."""
    a = ArrayField(x * x)
    return np.sum(a.T)


class Rounded:
    def __init__(self, a):
        self.a = a

    def round(self, decimals=0, out=None):
        return self.a * 3.0


@case(vec(3), refusable=True)
def a_users_object_passed_to_a_numpy_function(x):
    """``np.round(v)`` of a user's object runs its own ``round`` (NumPy hands it over):
    the gradient was np.round's, zero, silently. Refused."""
    v = Rounded(x)
    return np.sum(np.round(v))


class Cached:
    def __init__(self):
        self.w = np.array([0.5, -0.2, 0.1])
        self.cache = {"calls": 0}

    def loss(self, x):
        self.cache["calls"] = self.cache["calls"] + 1
        return np.sum(self.w * x)


_cached = Cached()


@case(vec(3))
def a_write_into_a_dict_field_of_a_global_object(x):
    """``self.cache["calls"] = ...`` in a method of a global object: the dict takes the
    write, as in Python (it was refused as a write into an array field)."""
    return _cached.loss(x)


@case(vec(4))
def item_at_an_index(x):
    """``z.item(1)`` and ``z.reshape(2, 2).item(1, 0)`` (NumPy's entry at a flat index, at
    an index per axis) were refused as too many arguments for item's rule."""
    z = x * x
    return z.item(1) * 3.0 + z.reshape(2, 2).item(1, 0) + np.sum(z)


NamedPair = collections.namedtuple("NamedPair", "w b")


@case(vec(2), vec(2, seed=1), wrt=(0, 1))
def named_tuples_built_inside(x, y):
    """A named tuple built inside (the README's promise) was refused: no rule for its
    class; it builds as a tuple display, its fields and entries read as a tuple's."""
    p = NamedPair(x * 2.0, y)
    q = Pair(y * y)
    return np.sum(p.w * p[1]) + np.sum(q.v) + np.sum(q[0] ** 3)


@case(vec(3), refusable=True)
def an_operator_on_an_object_built_here(x):
    """``a + b`` of objects built here runs the class's ``__add__``: the sum's rule was
    applied to the objects (a TypeError in the adjoint for ``*``). Refused."""
    a = Vec(x)
    v = a + Vec(x * x)
    return np.sum(v.v)


class Twice(np.ndarray):
    def sum(self, *args, **kwargs):
        return 2.0 * np.asarray(self).sum(*args, **kwargs)


@case(vec(3).view(Twice), refusable=True)
def a_subclass_of_ndarray_with_its_own_sum(x):
    """``x.sum()`` of an ndarray subclass that defines ``sum``: the array method's
    derivative (half the right one, silently). Refused."""
    return x.sum()


class Squares:
    def __init__(self, a):
        self.a = np.asarray(a, float)

    def __array__(self, dtype=None, copy=None):
        return self.a

    def sum(self):
        return float(np.sum(self.a**2))


@case(Squares(vec(3)), refusable=True)
def an_array_like_object_with_its_own_sum(x):
    """An object with ``__array__`` and its own ``sum``: the array method's derivative
    (a constant 1, silently). Refused."""
    return x.sum()


# ---- an array method writing into out= -----------------------------------------------------


@case(vec(4).reshape(2, 2))
def a_methods_out_argument(x):
    y = np.zeros(2)
    x.sum(axis=0, out=y)
    return np.sum(y * np.array([1.0, 10.0]))


@case(vec(4).reshape(2, 2) * 3.0)
def a_methods_out_argument_is_its_owner(x):
    y = x.copy()
    y.clip(0.0, 1.5, out=y)
    z = x * 1.0
    z.cumsum(1, out=z)
    return np.sum(y) + np.sum(z * np.array([1.0, 10.0]))


# ---- a new list of another's entries, one of them then updated in place --------------------


@case(vec(3))
def an_entry_of_a_listed_copy_updated_in_place(x):
    """``m = list(ys)`` holds ``ys``'s arrays: ``m[0] *= x`` changes ``ys[0]`` too
    (compiled code gave ``m`` a new entry, which ``ys`` did not see)."""
    ys = [x * 2, x]
    m = list(ys)
    m[0] *= x
    return np.sum(ys[0] * m[0])


@case(vec(3))
def an_entry_of_a_sorted_list_updated_in_place(x):
    y = x * 2
    m = sorted([y, x * 3], key=lambda a: a[0])
    m[0] *= x
    return np.sum(y * x)


@case(vec(3))
def an_entry_of_a_comprehension_updated_in_place(x):
    y = x * 2
    m = [v for v in (y, x)]
    m[0] += 1.0
    d = {k: v for k, v in [("a", y)]}
    d["a"] *= x
    return np.sum(y * x)


# ---- an object's field and another name holding one array ----------------------------------


class _Holder:
    pass


@dataclass
class _Field:
    a: np.ndarray


@case(vec(3), refusable=True)
def an_array_a_field_holds_updated_through_another_name(x):
    """``o.r = y; y *= 2`` doubles ``o.r`` too (compiled code gave ``y`` a new array the
    field did not see): refused, as the field cannot follow."""
    y = x * 1.0
    o = _Holder()
    o.r = y
    y *= 2
    return np.sum(o.r * x)


@case(vec(3))
def a_field_updated_in_place_seen_by_the_name_given_to_the_object(x):
    """``p = P(y); p.a *= 2`` doubles ``y`` too."""
    y = x * 1.0
    p = _Field(y)
    p.a *= 2
    return np.sum(y * x)


@dataclass
class _Pair:
    a: np.ndarray
    b: np.ndarray


@case(vec(3), refusable=True)
def a_field_updated_in_place_seen_through_another_field(x):
    """``p = P(y, y); p.a *= 2`` doubles ``p.b`` too: compiled code gave ``p.a`` a new
    array ``p.b`` did not see (silently): refused where it runs."""
    y = x * 1.0
    p = _Pair(y, y)
    p.a *= 2
    return np.sum(p.b * x)


@case(vec(3), refusable=True)
def a_field_given_another_fields_array_then_updated(x):
    p = _Pair(x * 1.0, x)
    p.b = p.a
    p.a *= 2
    return np.sum(p.b * x)


@case(vec(3))
def a_field_updated_in_place_of_its_own(x):
    """The check of the other fields lets an object whose fields are apart run."""
    p = _Pair(x * 1.0, x * 2.0)
    p.a *= 2
    return np.sum(p.b * p.a)


@case(vec(3))
def astype_without_a_copy_is_the_array_itself(x):
    y = x * 1.0
    a = y.astype(np.float64, copy=False)
    a += 1.0
    return np.sum(y * x)


@case(vec(3), refusable=True)
def a_list_appended_to_while_a_loop_iterates_over_it(x):
    """Python's loop reaches the entries appended meanwhile; compiled code looped over the
    list as it was (value and gradient wrong, silently): refused."""
    ys = [x[0], x[1]]
    for v in ys:
        if len(ys) < 5:
            ys.append(v * x[2])
    return sum(ys)


def _grow(ys, v):
    if len(ys) < 5:
        ys.append(v)


@case(vec(3), refusable=True)
def a_list_a_callee_appends_to_while_a_loop_iterates_over_it(x):
    """The callee grows the list the loop runs over: refused where it runs (compiled code
    ran over the list as it was, silently)."""
    ys = [x[0], x[1]]
    for v in ys:
        _grow(ys, v * x[2])
    return sum(ys)


@case(vec(3), refusable=True)
def a_list_appended_to_through_another_name_while_iterated(x):
    ys = [x[0], x[1]]
    zs = ys
    s = 0.0
    for v in ys:
        if len(zs) < 4:
            zs.append(v * x[2])
        s = s + v
    return s


@case(vec(3), refusable=True)
def a_list_appended_to_while_enumerate_runs_over_it(x):
    ys = [x[0], x[1]]
    s = 0.0
    for i, v in enumerate(ys):
        if len(ys) < 4:
            ys.append(v * x[2])
        s = s + v * i
    return s


@case(vec(3))
def an_entry_replaced_while_a_loop_iterates_is_seen_by_the_loop(x):
    """Python's loop reads ``ys[1]`` as the first step left it (compiled code read the
    list as it was)."""
    ys = [x[0], x[1]]
    s = 0.0
    for v in ys:
        ys[1] = v * 5.0
        s = s + v * x[2]
    return s


@case(vec(3))
def a_list_a_loop_would_grow_on_a_path_not_taken(x):
    """An append that does not run leaves the loop as it is: no refusal."""
    ys = [x[0], x[1]]
    s = 0.0
    for v in ys:
        if len(ys) > 10:
            ys.append(v)
        s = s + v * x[2]
    return s


@case(vec(3), refusable=True)
def a_generator_kept_in_a_name_then_consumed(x):
    """Python runs the generator when ``sum`` consumes it, with ``s`` as it is then;
    compiled code ran it where it was made: refused."""
    s = x[2]
    gen = (x[i] * s for i in range(2))
    s = x[2] ** 2
    return sum(gen)


@case(vec(3), refusable=True)
def a_finally_block_changing_the_returned_array(x):
    """``try: return y / finally: y *= 3`` returns the changed array in Python."""
    y = np.asarray(np.sum(x**2))  # a 0-d array, changed in place by the finally block
    try:
        return y
    finally:
        y *= 3


@case(vec(3), refusable=True)
def a_finally_block_changing_the_returned_array_through_another_name(x):
    """``finally: z = y; z *= 3`` changes what the try returns (silently lost); the
    outer ``finally: pass`` crashed, normalized to no block at all."""
    y = x * 1.0
    try:
        return np.sum(x * _kept_then_changed(y))
    finally:
        pass


def _kept_then_changed(y):
    try:
        return y
    finally:
        z = y
        z *= 3


def _returns_then_changes(x):
    y = x * 1.0
    try:
        return y
    finally:
        y *= 3


@case(vec(3), refusable=True)
def a_callee_whose_finally_changes_what_it_returns(x):
    return np.sum(_returns_then_changes(x) * x)


@case(vec(3))
def a_slice_of_a_list_given_as_many_entries(x):
    ys = [x[0], x[1], x[2]]
    ys[1:] = [x[2] * 2, x[0] * x[1]]
    return sum(ys) * ys[1]


@case(vec(3), refusable=True)
def a_slice_of_a_list_given_fewer_entries(x):
    ys = [x[0], x[1], x[2]]
    ys[1:] = [x[2] * 2]
    return sum(ys) * ys[1]


@case(vec(3))
def a_generator_consumed_by_the_next_statement(x):
    """The usual ``gen = (...)`` then ``return sum(gen)``: made and consumed at once, as
    compiled code runs it (refused as a kept generator before)."""
    gen = (np.dot(x, x * k) ** 2 for k in (1.0, 2.0))
    return sum(gen)


@case(vec(3), refusable=True)
def a_map_kept_in_a_name_then_consumed(x):
    """``map`` is lazy too: Python reads ``xs[0]`` when ``sum`` consumes it."""
    xs = [x * 1.0]
    m = map(np.sin, xs)
    xs[0] = x * 5.0
    return np.sum(sum(m))


@case(vec(4))
def an_expressions_method_writing_into_out(x):
    y = np.zeros(2)
    x.reshape(2, 2).sum(axis=0, out=y)
    return np.sum(y * np.array([1.0, 10.0]))


@case(vec(3))
def a_dicts_values_changed_while_a_loop_runs_over_its_keys(x):
    d = {"a": x * 1.0, "b": x * 2.0}
    for k in d:
        d[k] = d[k] * x
    a, b = (v * 2.0 for v in (d["a"], d["b"]))
    return np.sum(a + b)


HOOK = None


@case(vec(3))
def an_optional_hook_that_is_none(x):
    """``if HOOK is not None: y = HOOK(y)``, the branch not taken while HOOK is None (its
    call of None was refused when compiled)."""
    y = x * 2.0
    if HOOK is not None:
        y = HOOK(y)
    return np.sum(y)


@case(vec(3))
def an_optional_callback_that_is_none(x):
    """``if HOOK is not None: HOOK(y)``, a statement of its own (a callback, its result
    dropped): its call of None was refused when compiled, though the branch is not taken
    (the call whose value is assigned was not)."""
    y = np.sin(x)
    if HOOK is not None:
        HOOK(y)
    return np.sum(y * x)


@case(vec(4), refusable=True)
def a_methods_out_passed_by_position(x):
    """``z.mean(0, None, y)`` writes into ``y``: by position, refused (it was dropped)."""
    z = x.reshape(2, 2) * 1.0
    y = np.zeros(2)
    z.mean(0, None, y)
    return np.sum(y * np.array([1.0, 10.0]))


@case(vec(2))
def lists_tuples_and_dicts_of_a_zip(w):
    """``list(zip(Ws, bs))`` and the like were refused (no rule for zip)."""
    layers = list(zip([np.eye(2), np.eye(2) * 0.5], [w, w * 2], strict=True))
    d = dict(zip(["a", "b"], [w, w * 3], strict=True))
    pairs = tuple(zip(w, w, strict=True))
    h = np.ones(2)
    for m, b in layers:
        h = np.tanh(m @ h + b)
    return np.sum(h) + np.sum(d["b"]) + sum(a * b for a, b in pairs)


@case(np.array([2.0]))
def broadcast_to_a_size_given_as_a_number(x):
    """A constant operand that is a size, not a value the result broadcasts: the
    gradient is still summed back (it was dropped, taking ``5`` for a number operand)."""
    return np.sum(np.broadcast_to(x, 5) * np.arange(5.0))


class _Stepper:
    def __init__(self, w):
        self.w = w

    def step(self, lr):
        self.w = self.w - lr * 2 * self.w


@case(1.5, refusable=True)
def a_method_changing_its_object_called_for_its_effect(x):
    """``o.step(0.1)`` with no differentiated argument, its result dropped: compiled as
    a call with nothing differentiated, its change of ``o.w`` got no gradient (1.0 for
    0.512, silently). The object goes in as the method's first argument now."""
    o = _Stepper(x)
    for _ in range(3):
        o.step(0.1)
    return o.w


class _Found(Exception):
    def __init__(self, value):
        self.value = value


def _search(xs):
    for v in xs:
        if v > 1.0:
            raise _Found(v * 2)
    return 0.0


@case(1.3, refusable=True)
def a_value_carried_by_an_exception(x):
    """``raise Found(v * 2)`` read back as ``e.value`` in the handler had no gradient."""
    try:
        return _search([x * 0.5, x, x * 3])
    except _Found as e:
        return e.value**2


@case(1.3)
def an_exception_whose_message_formats_a_differentiated_value(x):
    """A value formatted into a message, or read for its shape, carries no gradient:
    no refusal."""
    if x > 10.0:
        raise ValueError(f"too large: {x}", np.shape(x))
    return x**2


class _Squared:
    def __init__(self, w):
        self.w = w

    @property
    def w2(self):
        return self.w**2

    @w2.setter
    def w2(self, v):
        self.w = np.sqrt(v)


@case(4.0, refusable=True)
def a_property_setter_of_an_object_made_here(x):
    """``o.w2 = x`` runs the setter (``o.w = sqrt(x)``): compiled as a write of a field
    ``w2``, ``o.w`` got no gradient."""
    o = _Squared(1.0)
    o.w2 = x
    return o.w


class _Base:
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return np.sum(self.w * x**2)


class _Child(_Base):
    def __init__(self, w):
        super().__init__(w * 2)

    def loss(self, x):
        return super().loss(x) + np.sum(x)


@case(vec(2), vec(2, 1), wrt=(0, 1))
def zero_argument_super_in_methods(w, x):
    """``super()`` took generated code's first argument for the object (TypeError)."""
    return _Child(w).loss(x)


class _Bag:
    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]

    def __iter__(self):
        return iter(self.items)


class _Lazy:
    def __init__(self, w):
        self._w = w

    def __getattr__(self, name):
        return self._w**2


@case(1.5, refusable=True)
def an_object_indexed_through_its_getitem(x):
    """``Bag(...)[1]`` runs the class's ``__getitem__`` (an IndexError once: read as a
    record's fields)."""
    return _Bag([x, 2 * x])[1] ** 2


@case(1.5, refusable=True)
def an_object_reading_attributes_through_its_getattr(x):
    return _Lazy(x).w2


@case(1.5, refusable=True)
def an_object_unpacked_through_its_iter(x):
    a, b = _Bag([x, 3 * x])
    return a * b


@case(_Bag([np.ones(2), np.ones(2) * 2.0]), refusable=True)
def an_argument_iterated_through_its_iter_and_read_by_field(bag):
    """The gradient of ``for v in bag`` came back as a list, that of ``bag.items`` as the
    object's fields: a TypeError adding them."""
    return sum(np.sum(v**2) for v in bag) + np.sum(bag.items[0])


@case(vec(3))
def a_loop_over_a_string_constant(x):
    """``for c in "ab"`` crashed in the sharing analysis (its sequence holds no name)."""
    s = 0.0
    for c in "ab":
        s = s + np.sum(x) * len(c)
    first, *rest = "abc"
    return s * len(rest)


@dataclass
class _IterablePair:
    a: float
    b: float

    def __iter__(self):
        return iter((self.a, self.b))


@case(_IterablePair(1.3, 0.7))
def an_argument_of_a_class_with_its_own_iteration_read_by_its_fields(p):
    """Its own ``__iter__`` does not make it less of a record when only its fields are
    read (a crash once: its gradient was built as a dict)."""
    return p.a * p.b


@case(1.3)
def an_object_of_a_class_with_its_own_iteration_made_here(x):
    p = _IterablePair(x * 2, x)
    return p.a * p.b


@case(vec(3))
def lists_grown_while_reversed_or_a_shorter_zip_runs_over_them(x):
    """``reversed`` keeps its index and ``zip`` stops at its shortest list: appending
    changes neither loop's steps, so no refusal."""
    ys = [x[0], x[1]]
    for v in reversed(ys):
        ys.append(v * x[2])
    zs = [x[2]]
    s = 0.0
    for y, z in zip(ys, zs, strict=False):
        ys.append(y * z)
        s = s + y * z
    return s + sum(ys)


def _tripled(z):
    z *= 3


def _returned_then_tripled(y, how):
    try:
        return y
    finally:
        if how == "tuple":
            z, _ = y, 1
            z *= 3
        elif how == "out":
            np.multiply(y, 3, out=y)
        elif how == "holder":
            held = [y]
            held[0] *= 3
        else:
            _tripled(y)


for _how in ("tuple", "out", "holder", "callee"):

    def _a_finally_block_changing_the_returned_array(x, how=_how):
        """The finally block triples the array the try returns: through a name unpacked
        from it, ``out=``, a list holding it, a callee (silently lost): refused."""
        return np.sum(x * _returned_then_tripled(x * 1.0, how))

    CASES.append(Case(_a_finally_block_changing_the_returned_array, (vec(3),), 0, True,
                      f"a_finally_block_changing_the_returned_array_{_how}"))  # fmt: skip


@case(vec(3), refusable=True)
def a_name_given_a_field_sees_its_update_through_another_field(x):
    """``b = p.b; p.a *= 2`` with ``p.a is p.b`` doubles ``b`` (silently lost: ``p`` was
    not read again, so its fields were not checked)."""
    y = x * 1.0
    p = _Pair(y, y)
    b = p.b
    p.a *= 2
    return np.sum(b * x)


@case(1.3, refusable=True)
def a_value_carried_by_an_assertion(x):
    try:
        assert x < 0, x * 2.0
    except AssertionError as e:
        return e.args[0] ** 2
    return x


@case(vec(3))
def an_exception_message_formatted_with_percent(x):
    if np.sum(x) > 100.0:
        raise ValueError("too large: %s" % x, x > 0)  # noqa: UP031
    return np.sum(x**2)


class _Clipper:
    def __init__(self, w):
        self.w = w

    def clip(self, lr):
        self.w = self.w * lr


def _make_clipper(x):
    return _Clipper(x)


@case(1.3, refusable=True)
def a_method_named_like_an_array_method_changing_its_object(x):
    """``o.clip(3.0)`` on an object made by a factory: taken for ndarray.clip, its result
    dropped (the change of ``o.w`` lost, silently)."""
    o = _make_clipper(x)
    o.clip(3.0)
    return o.w**2


class _Made:
    def __init__(self, w):
        self.w = w

    @classmethod
    def make(cls, w):
        return cls(w)

    @staticmethod
    def squared(v):
        return v**2


class _MadeChild(_Made):
    @classmethod
    def make(cls, w):
        return super().make(w * 5.0)

    def loss(self, x):
        return np.sum(super().squared(x) * self.w)


@case(vec(3), vec(3, 1), wrt=(0, 1))
def zero_argument_super_in_class_and_static_methods(w, x):
    """A classmethod's ``super()`` crashed (its first parameter is the class), a
    staticmethod reached through ``super()`` was refused."""
    return _MadeChild.make(w).loss(x)


class _Doubling:
    def __init__(self, w):
        self.w = w

    def __setattr__(self, k, v):
        object.__setattr__(self, k, v * 2.0)


@case(1.3, refusable=True)
def a_class_with_its_own_setattr(x):
    """Its ``__setattr__`` doubles what is set: compiled code wrote the field directly."""
    o = _Doubling(1.0)
    o.w = x
    return o.w**2


class _Reversed(list):
    def __iter__(self):
        return iter(list.__reversed__(self))


@case(_Reversed([1.0, 2.0]), refusable=True)
def a_list_of_a_class_with_its_own_iteration(xs):
    """Compiled code indexes the list: a subclass iterating in another order is refused
    (its entries' gradients went to the wrong ones)."""
    s, w = 0.0, 1.0
    for v in xs:
        s = s + v * w
        w = w + 1.0
    return s


@case(vec(3), [np.zeros(3), np.zeros(3)])
def two_names_of_one_list_stay_one_list_after_an_entry_update(x, xs):
    """``same = xs``; an update of an entry rebuilt the list once for each name, so a later
    write through ``xs`` missed ``same`` (value and gradient 0, silently)."""
    a = xs[1]
    same = xs
    a += 1.0
    xs[0] = x
    return np.sum(same[0])


@case(vec(2))
def a_list_holding_one_list_twice_keeps_both_entries_one_list(x):
    r = [x[0] * 1.0, x[1] * 1.0]
    a = [r, r]
    e = a[0]
    e[0] += x[1]
    return np.sum(a[1][0] * x[0])


@case(vec(3))
def a_loop_over_a_dicts_items_reads_values_the_body_replaced(x):
    """Python's view reads each value as the dict holds it at that step (compiled code
    read a snapshot taken before the loop)."""
    d = {"u": x * 1.0, "v": x * 2.0}
    for _, e in d.items():
        e *= 2.0
        d["u"], d["v"] = d["v"], d["u"]
    total = 0.0
    for v in d.values():
        d["v"] = v * 3.0
        total = total + np.sum(v)
    return np.sum(d["u"]) + 10 * np.sum(d["v"]) + total


@case(vec(2))
def copies_of_lists_and_dicts_add_their_gradients_as_containers(x):
    """``d.copy()`` was taken for an array's copy: its gradient added with ``+`` (a
    crash: dict + dict)."""
    d = {"u": x * 2, "v": x}
    d1 = d.copy()
    a = d1
    xs = [x, x * 2]
    m = xs.copy()
    m[0] = m[0] * 3.0
    return np.sum(a["u"]) + np.sum(d1["v"] * x) + np.sum(m[0] * m[1])


def _adds_into_entry(d, v):
    d["v"] += v


@case(vec(3), refusable=True)
def a_list_holding_an_entry_a_callee_updated_in_a_dict(x):
    """The callee updates ``d["v"]`` in place, the array ``xs[0]`` holds too (silently
    missed: only names holding the entry were checked, not lists)."""
    xs = [x * 1.0]
    d = {"v": xs[0]}
    _adds_into_entry(d, x)
    return np.sum(xs[0] * x)


class _Items:
    """A user's object with ``items`` and ``values`` of its own (not a dict)."""

    def __init__(self, d):
        self.d = d

    def items(self):
        return list(self.d.items())

    def values(self):
        return list(self.d.values())


@case(vec(2))
def a_loop_over_the_items_of_an_object_that_is_not_a_dict(x):
    """Its own ``items()`` runs (it was refused once, taken for a dict's view)."""
    o = _Items({"a": x * 1.0, "b": x * 2.0})
    s = 0.0
    for _, v in o.items():
        s = s + np.sum(v * x)
    for v in o.values():
        s = s + np.sum(v)
    return s


@case(vec(2))
def a_list_holding_one_list_twice_then_grown(x):
    """The adjoint of a follow added a list's parts with ``+`` (a crash: lists joined)."""
    r = [x * 1.0]
    t = (r, r)
    e = r[0]
    e += x
    r.append(x * 2)
    return np.sum(t[0][0] * x) + np.sum(t[1][-1])


@case(vec(2), refusable=True)
def a_loop_over_enumerate_of_a_dicts_items_writing_into_it(x):
    """``enumerate(d.items())`` read a snapshot of the values the body replaces
    (silently wrong): refused, as the direct loop reads them live."""
    d = {"a": x * 1.0, "b": x * 2.0}
    t = 0.0
    for i, (_, v) in enumerate(d.items()):
        d["b"] = v * x
        t = t + i * np.sum(v)
    return t


class _Pair2:
    def __init__(self, a, b):
        self.a = a
        self.b = b * 1.0


def _pops(lst):
    if len(lst) > 1:
        return lst.pop()
    return lst[0] * 1.0


@case(vec(1), [np.full(1, 5.0), np.full(1, 7.0)], refusable=True)
def a_field_holding_an_entry_of_a_list_a_helper_popped(x, xs):
    """After ``_pops(xs)``, ``xs[-1]`` is the array ``o.a`` holds, which ``xs[-1] += 1.0``
    changes in Python: the helper ran on a deep copy, whose arrays were new objects, so
    the update was not followed to ``o.a`` (silently)."""
    o = _Pair2(xs[0], x)
    _pops(xs)
    xs[-1] += 1.0
    return np.sum(o.a * x)


@case(vec(3))
def dicts_built_and_updated_with_keywords(x):
    """``dict(a=x)`` and ``d.update(b=...)`` were refused (no rule for dict; keywords of
    update dropped the rewrite)."""
    d = dict(a=x, b=x**2)
    e = {"c": x}
    e.update({"d": x * 3.0}, f=x**3)
    return np.sum(d["a"] * d["b"]) + np.sum(e["c"] * e["d"] * e["f"])


def size(v):
    """A user's function named like a describing builtin, returning the value itself."""
    return v


@case(1.3, refusable=True)
def a_value_carried_by_an_exception_through_a_function_named_size(x):
    """Calls were taken for describing ones by their names: ``size(v)`` carried ``v``
    past the refusal (its gradient lost in the handler)."""
    try:
        raise ValueError(size(x * 2.0))
    except ValueError as e:
        return e.args[0] ** 2


@case(vec(3), _Reversed([np.array(1.0), np.array(2.0)]))
def unpacking_a_list_of_a_class_with_its_own_iteration(x, pair):
    """``a, b = pair`` takes what the list's ``__iter__`` gives (compiled code indexed
    it: the gradient used the entries the other way round)."""
    a, b = pair
    return np.sum(x * b) * 3.0 + a


@case(vec(3))
def unpacking_a_dicts_values(x):
    d = {"p": x[0], "q": x[1] * 2.0}
    a, b = d.values()
    return a * b


@case(vec(3), 2.0)
def a_counter_updated_then_an_argument_rebound(x, s):
    """``n += 1`` of a number made a later ``s = s * n`` a rebinding of an argument
    "updated in place" (a number is never updated in place): refused."""
    n = 0
    n += 1
    while n < 3:
        n += 1
    s = s * n
    x = x * s
    return np.sum(x) * s


@case(vec(3), 0.5, wrt=1)
def an_argument_rebound_to_a_tuple_holding_an_alias(y, s):
    """The adjoint added into the gradient of ``a``, which dead-code elimination had
    dropped the start of (an UnboundLocalError)."""
    a = np.tanh(y)
    b = a
    y = (b, s)
    return np.sum(b) * s + np.sum(a[:2])


def _plus_c(a, *, c):
    return a + c


@case(vec(3))
def a_default_read_by_a_closure_then_rebound(x, w=1.0):
    def g(z):
        return w

    a = g(w)
    b = w
    w = x
    return np.sum(_plus_c(a, c=b)) + np.sum(w)


@case(vec(3), 0.5, wrt=(0, 1), refusable=True)
def a_loop_over_zip_with_reversed(x, s):
    """``reversed(x)`` as a value (inside ``zip``): refused (an iterator over a list that
    compiled code's writes replace would not see them)."""
    t = 0.0
    for i, (a, b) in enumerate(zip(x, reversed(x), strict=True)):
        t = t + a * b * s**i
    return t


@case(vec(3))
def a_nested_write_through_a_list_holding_one_list_twice(x):
    """The two entries' gradients of the one inner list were joined with ``+`` (a list
    twice as long): a crash."""
    r = [x[0], x[1]]
    a = [r, r]
    a[0][1] = x[2] * 2.0
    return a[1][1] * a[0][0] + r[1]


class _ForwardWhenReversed(list):
    def __reversed__(self):
        return iter(list.__iter__(self))


@case(_ForwardWhenReversed([np.array(0.3), np.array(1.7), np.array(-0.9)]), refusable=True)
def a_loop_over_reversed_of_a_class_with_its_own_reversal(xs):
    """Compiled code indexed the list from its end: the class's ``__reversed__`` (here,
    the first entry first) was not what ran, and the gradient went to the wrong entries."""
    s, w = 0.0, 1.0
    for v in reversed(xs):
        s = s + v * w
        w = w + 1.0
    return s


@case(vec(3), refusable=True)
def unpacking_reversed_of_a_dicts_values(x):
    d = {"a": x[0], "b": x[1]}
    a, b = reversed(d.values())
    return a * 2.0 + b**3


@case(np.array([0.4, 1.6, 2.7]))
def piecewise_constant_roundings_of_several_spellings(x):
    """``np.around``, ``x.round()``, ``np.fix``, ``np.floor_divide`` and ``math.trunc``
    had no rule (refused): their derivative is zero wherever it exists."""
    return (
        np.sum(np.around(x) * x)
        + np.sum(x.round() * x)
        + np.sum(np.fix(x) * x)
        + np.sum(np.floor_divide(x, 0.7) * x)
        + math.trunc(x[1]) * x[1]
    )


def _keywords_only(a, b=0.5, *, c=1.0):
    return a * b + c


def _forwards(*args, **kwargs):
    return _keywords_only(*args, **kwargs)


@case(vec(3), vec(3, 1), wrt=(0, 1))
def differentiated_keywords_forwarded_through_kwargs(x, y):
    """``c=`` reached the callee's ``**kwargs``: refused, though its gradient is the
    dict entry's."""
    return np.sum(_forwards(x, b=y[0], c=np.sum(y**2)) * y)


_W0 = np.array([0.3, -0.2, 0.7])


@case(vec(3), 0.5)
def a_number_argument_updated_then_another_rebound(x, s, w=_W0):
    """``s -= 1.0`` of a float argument (a new number, as Python makes) was taken for an
    in-place update that ``w`` might share: the rebinding of ``w`` (its default) was then
    refused as a change of the caller's array."""
    for _ in range(2):
        w = w + s
    s -= 1.0
    return np.sum(w * x) + s


def _scales_its_entry(x, **kw):
    kw["c"][0] = 5.0
    return np.sum(x * kw["c"])


@case(vec(3), 0.8, wrt=(0, 1), refusable=True)
def a_callee_updating_an_entry_of_its_kwargs(x, c):
    """The entry is the caller's ``y``, which Python's in-place write changes: compiled
    code's did not (a wrong gradient), so the update is refused."""
    y = x * c
    return _scales_its_entry(x, c=y) + np.sum(y)


def _reads_one_keyword(x, **kw):
    return np.sum(x * kw["c"])


@case(vec(3), 0.8, wrt=(0, 1))
def a_keyword_a_callees_kwargs_takes_and_never_reads(x, c):
    """``z=`` reached the callee's ``**kwargs`` unread: its gradient was looked up in
    the dict's and not found (a KeyError)."""
    return _reads_one_keyword(x, c=c, z=c)


@case(vec(3))
def a_dict_copied_with_dict_and_an_entry_updated(x):
    """``dict(d)`` had no rule: refused. Its entries are ``d``'s: an in-place update of
    one through the copy is seen through ``d``, as in Python."""
    d = {"a": x[:2] * 1.0, "b": x[2]}
    e = dict(d)
    e["a"] += 1.0
    e["b"] = e["b"] * 3.0
    return np.sum(d["a"] * x[:2]) + e["b"] * d["b"]


@case(vec(3))
def dicts_merged_in_a_display(x):
    """``{"z": v, **d1, **d2, "c": w}`` was refused (unsupported syntax): built in
    Python's order, later keys replacing earlier ones."""
    d1 = {"a": x[0], "b": x[1]}
    d2 = {"b": x[2] * 2.0}
    e = {"z": x[1], **d1, **d2, "c": x[0] * x[2]}
    return e["a"] * e["b"] + e["c"] + e["z"] ** 2 + len(e)


# ---- Python's operators on objects that define their own -----------------------------------


class RunningMean:
    """``+`` merges two running means: not the sum of their fields."""

    def __init__(self, n, m):
        self.n, self.m = n, m

    def __add__(self, other):
        n = self.n + other.n
        return RunningMean(n, (self.n * self.m + other.n * other.m) / n)

    def __radd__(self, other):  # sum() starts from 0
        return self

    __or__ = __add__

    def __abs__(self):
        return self.m * self.m


def _merged(a, b):
    return (a + b).m


@case(vec(2), refusable=True)
def objects_merged_by_their_own_plus_in_a_callee(x):
    """The callee's ``a + b`` ran ``RunningMean.__add__``: the gradient was that of
    adding the fields, 1 for each mean where 1/4 and 3/4 are right."""
    return _merged(RunningMean(1.0, x[0]), RunningMean(3.0, x[1]))


@case(vec(2), refusable=True)
def objects_summed_by_the_builtin_sum(x):
    return sum([RunningMean(1.0, x[0]), RunningMean(3.0, x[1])]).m


@case(vec(2), refusable=True)
def objects_summed_by_np_sum(x):
    return np.sum([RunningMean(1.0, x[0]), RunningMean(3.0, x[1])]).m


@case(vec(2), refusable=True)
def objects_added_by_operator_add(x):
    return operator.add(RunningMean(1.0, x[0]), RunningMean(3.0, x[1])).m


def _merged_in_place(a, b):
    a |= b
    return abs(a) + abs(b)


@case(vec(2), refusable=True)
def objects_merged_by_their_own_or_and_abs(x):
    """``|`` and ``abs()`` were taken for constants (an integer operator) and for the
    absolute value."""
    return _merged_in_place(RunningMean(1.0, x[0]), RunningMean(3.0, x[1]))


class _Tripling:
    def __add__(self, other):
        return 3.0 * other

    __radd__ = __add__


TRIPLING = _Tripling()


@case(vec(3), refusable=True)
def a_global_object_adding_in_its_own_way(x):
    """``TRIPLING + x`` is ``3 x``: the gradient was 1s."""
    return np.sum(TRIPLING + x)


@case(vec(3), refusable=True)
def dicts_merged_with_or(x):
    """``d | e`` was taken for an integer operator: a zero gradient."""
    d = {"a": x[0] * 2.0}
    e = d | {"b": x[1] * 3.0}
    return e["a"] * e["b"] + x[2]


@case(vec(3), refusable=True)
def a_dict_updated_with_or_equals(x):
    d = {"a": x[0] * 2.0}
    d |= {"a": x[1], "b": x[2]}
    return d["a"] * d["b"]


class _Cubing(np.ndarray):
    """An array whose ``*`` multiplies by the square."""

    def __mul__(self, other):
        return np.asarray(self) * np.asarray(other) ** 2


@case(vec(3), refusable=True)
def an_array_subclass_with_its_own_product(x):
    """``y * y`` of the subclass is ``y ** 3``: differentiated as ``y ** 2``."""
    y = _as_cubing(x)
    return np.sum(y * y)


def _as_cubing(x):
    return x.view(_Cubing)


A_SPARSE = __import__("scipy.sparse", fromlist=["csr_matrix"]).csr_matrix(
    np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 1.0]])
)


@case(vec(3), refusable=True)
def a_sparse_matrix_times_an_array(x):
    """A SciPy sparse matrix's ``*`` is its matrix product (and ``@`` crashed)."""
    return np.sum((A_SPARSE * x) ** 2) + np.sum((A_SPARSE @ x) ** 2)


# ---- constructors compiled from __init__ -----------------------------------------------------


class _ScaledByClassValue:
    k = 3.0
    made = 0

    def __init__(self, a):
        self.a = a * self.k  # the class's k: the object has none yet
        self.k = 10.0
        self.b = a * self.k + _ScaledByClassValue.k  # its own now; and the class's by name
        _ScaledByClassValue.made += 1


@case(vec(3))
def an_init_reading_class_values(x):
    """``self.k`` read before ``__init__`` set it was a KeyError in the compiled
    constructor (and refused when never set), the class's name an AttributeError."""
    o = _ScaledByClassValue(x)
    return np.sum(o.a * o.b)


@case(vec(3))
def a_sum_of_a_dicts_keys_and_of_entries_by_key(x):
    """``sum(d)`` sums the keys (an AttributeError in the adjoint); iterating the keys of
    a dict whose entries are differentiated crashed (``None`` taken for its gradient)."""
    d = {0: x[0], 1: x[1], 2.5: x[2]}
    return sum(d) * x[1] + sum(d[k] * k for k in d) + sum(i * 1.0 for i in d)


class _Squaring:
    """Every operator squares the other operand."""

    def _squared(self, other):
        return other * other

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __pow__ = __rpow__ = _squared


SQUARING = _Squaring()


@case(vec(3), vec(3, 1), wrt=0, refusable=True)
def a_parameter_given_an_array_then_rebound_to_an_object(x, y):
    """The parameter was taken for an array for the whole function."""
    y = SQUARING
    return np.sum(x + y)


@case(vec(3), refusable=True)
def numpy_functions_and_methods_of_an_object(x):
    """Only Python's operators were checked: np.add, np.power, .dot and sum's start ran
    the object's operators unseen."""
    return (
        np.sum(np.add(SQUARING, x))
        + np.sum(np.power(x, SQUARING))
        + np.sum(x.dot(SQUARING))
        + sum(x, SQUARING)
    )


@case(vec(3), refusable=True)
def a_list_of_objects_meeting_an_array(x):
    """``x + [o, o, o]`` is an array of the objects: their own ``+`` runs."""
    return np.sum(x + [SQUARING] * 3)


@case(vec(3), refusable=True)
def arrays_of_objects_made_by_numpy(x):
    """``np.full(3, None)`` and ``np.vectorize`` make arrays of objects; a masked array
    and ``np.matrix`` come out of NumPy functions and methods."""
    s = np.full(3, None)
    s[0] = s[1] = s[2] = SQUARING
    as_objects = np.vectorize(lambda v: SQUARING, otypes=[object])
    masked = np.ma.masked_invalid(np.array([1.0, np.nan, 2.0]))
    rows = np.stack([x, x]).dot(np.asmatrix(np.eye(3)))
    return np.sum(s + x) + np.sum(as_objects(x) + x) + np.sum((x - masked) ** 2) + np.sum(rows)


@case(vec(3), [("w", 1.0), ("b", 2.0)], wrt=0)
def strings_and_flags_beside_differentiated_values(x, named):
    """Names joined to strings, tuples joined, an IntFlag: refused as operators of
    objects by the first check of operands (these are plain Python)."""
    labels = {}
    for key, scale in named:
        labels["l2_" + key] = scale * np.sum(x**2)
    pair = (x,) + (x * 2.0,)
    return sum(labels.values()) + np.sum(pair[1] * _Flag.B)


class _Flag(__import__("enum").IntFlag):
    A = 1
    B = 2


class _Quadratic(typing.NamedTuple):
    """A named tuple whose ``*`` evaluates it: not a tuple's repeat."""

    a: float
    b: float
    c: float

    def __mul__(self, t):
        return self.a + self.b * t + self.c * t**2


QUADRATIC = _Quadratic(1.0, 2.0, 3.0)


class _DoubleSum(np.ndarray):
    def sum(self, *args, **kwargs):
        return 2.0 * np.asarray(self).sum(*args, **kwargs)


@case(vec(3), refusable=True)
def a_named_tuple_and_an_array_subclass_with_methods_of_their_own(x):
    """Let through as a sequence and as an array: their ``*`` and ``sum`` are theirs."""
    c = np.array([1.0, 2.0, 3.0]).view(_DoubleSum)
    return np.sum(QUADRATIC * x) + (c * x).sum()


@case(vec(9).reshape(3, 3), refusable=True)
def a_matrix_made_by_np_asmatrix(c):
    """``np.asmatrix`` is NumPy's, in its namespace: its ``*`` is a matrix product."""
    return np.sum(np.asarray(np.asmatrix(c) * np.diag(np.arange(3.0))))


@case({"w1": vec(4).reshape(2, 2), "b1": vec(2), "w2": vec(2)})
def string_methods_on_the_keys_of_a_differentiated_dict(params):
    """``k.startswith("w")`` on a key was refused as a method of a differentiated value."""
    return sum(np.sum(v**2) for k, v in params.items() if k.startswith("w") and k.upper())


@dataclass
class _Box:
    lo: np.ndarray
    hi: np.ndarray

    def center(self):  # named as a string's method: the object's own, differentiated
        return (self.lo + self.hi) / 2.0


@case(vec(2), vec(2, 1), wrt=(0, 1))
def a_method_named_like_a_strings(lo, hi):
    return _box_energy(_Box(lo, hi))


def _box_energy(box):
    """A string's methods on a dict's key give no gradient; a user's object's method of
    the same name (``center``) is its own, and was refused for a while."""
    return np.sum(box.center() ** 2)


class _Sextupling(float):
    def __mul__(self, other):
        return other * 6.0

    __rmul__ = __mul__


SEXTUPLING = _Sextupling(2.0)


@case(vec(3), refusable=True)
def a_global_float_with_its_own_product(x):
    """A global taken for a number: its subclass's ``*`` ran unchecked."""
    return np.sum(SEXTUPLING * x)


@case(vec(3), refusable=True)
def a_list_repeated_then_meeting_an_array(x):
    """``2 * xs`` is a list: its entries (objects) meet ``x`` unchecked."""
    xs = [SQUARING] * 3
    t = 2 * xs
    return np.sum(t[0] + x)


class _Millimetres:
    def __init__(self, v):
        self.v = v

    def __float__(self):
        return float(self.v) / 1000.0


@case(vec(2), refusable=True)
def an_objects_own_float_in_float_and_math(x):
    """``float(o)`` and ``math.exp(o)`` run ``o.__float__``: crashes (IndexError,
    TypeError) in the adjoint."""
    return float(_Millimetres(x[0])) * x[1] + math.exp(_Millimetres(x[1]))


@case(vec(2))
def a_defaultdict_updated_in_place(x):
    """Compiled code's write made the defaultdict a plain dict: the next missing key was a
    KeyError."""
    d = collections.defaultdict(float)
    d[0] += x[0] * x[0]
    d[1] += x[1]
    return d[0] * d[1]


class _Rounding:
    """Rounds to a smooth function of its value: ``round``, ``math.floor`` and
    ``math.ceil`` run these methods, and ``np.rint`` the method ``rint``."""

    def __init__(self, v):
        self.v = v

    def __round__(self, ndigits=None):
        return self.v * 3.0

    def __floor__(self):
        return self.v * self.v

    def __ceil__(self):
        return np.sin(self.v)

    def rint(self):
        return self.v * 5.0


def _rounded_in_a_helper(r):
    return round(r) + math.ceil(r)


@case(vec(3), refusable=True)
def a_users_own_round_floor_and_ceil(x):
    """``round(o)``, ``math.floor(o)`` and ``math.ceil(o)`` were taken to give no gradient
    whatever ``o`` was: a user's ``__round__`` returning ``3 * v`` got a zero gradient,
    silently, also in a helper."""
    r = _Rounding(x)
    return np.sum(round(r) + math.floor(r) + _rounded_in_a_helper(r))


@case(vec(3), refusable=True)
def a_users_object_given_to_a_numpy_function_without_gradient(x):
    """``np.rint(o)`` runs ``o.rint()``: taken as np.rint's zero gradient."""
    r = [_Rounding(x)]
    return np.sum(np.rint(r[0]))


@case(vec(3))
def rounding_plain_values_and_list_entries(x):
    """``round`` and ``math.floor`` of numbers (also a list's entries, checked where they
    run) give no gradient and are not refused."""
    xs = [x[0], x[1]]
    k = round(xs[0] * 4) + math.floor(x[1] * 3) + math.trunc(xs[1] * 7)
    return np.sum(x * (k + 1.0)) + round(float(x[2]), 1) * x[2]


def _rounded_through(fn, r):
    return fn(r)


@case(vec(3), refusable=True)
def a_no_gradient_function_reached_through_a_name(x):
    """``fl = math.floor; fl(o)``, ``round(*[o])``, ``round(**{"number": o})`` and a
    function passed in: the check of ``round(o)`` written out was skipped, and the
    user's ``__round__`` got a zero gradient."""
    r = _Rounding(x)
    fl = math.floor
    return np.sum(fl(r) + round(*[r]) + round(**{"number": r}) + _rounded_through(round, r))


class _Tripling:
    def __init__(self, v):
        self.v = v

    def __add__(self, other):
        return self.v * 3.0 + other

    def argmax(self, axis=None, out=None):
        return self.v * 2.0


@case(vec(3), refusable=True)
def an_operator_and_a_numpy_function_reached_through_names(x):
    """``add = operator.add; add(o, x)`` and ``am = np.argmax; am(o)`` ran the object's
    own ``__add__`` and ``argmax`` under the rules of ``+`` and of np.argmax (none)."""
    add, am = operator.add, np.argmax
    o = _Tripling(x)
    return np.sum(add(o, x)) + np.sum(am(o))


@dataclass(order=True)
class _Candidate:
    score: int
    w: Any = field(compare=False)


@case(vec(3))
def max_and_min_of_objects_tied_in_what_they_compare(x):
    """``max`` of two dataclasses with equal scores returns the first: the gradient went
    half to each (``==`` ignores a ``compare=False`` field)."""
    best = max([_Candidate(1, x[0]), _Candidate(1, x[1])])
    least = min([_Candidate(1, x[1] * x[1]), _Candidate(2, x[2]), _Candidate(1, x[0])],
                key=lambda c: c.score)  # fmt: skip
    return best.w * 3.0 + least.w


class _OldSequence:
    """A sequence of the old protocol: ``__getitem__`` alone, iterated up to IndexError."""

    def __getitem__(self, i):
        if i < 2:
            return 1.0 + i
        raise IndexError(i)


@case(vec(2))
def iterating_a_sequence_with_getitem_alone(x):
    """``for v in seq``, ``a, b = seq`` and a generator over it crashed (AttributeError
    for ``__iter__``)."""
    total = 0.0
    for v in _OldSequence():
        total = total + v * x
    a, b = _OldSequence()
    return np.sum(total * a + b * x * x) + sum(v * x[0] for v in _OldSequence())


@case(vec(2, seed=3) + 1.0)
def math_log_with_a_base_and_pow_with_a_modulus(x):
    """``math.log(x, base)`` and three-argument ``pow`` were refused ("too many
    arguments"), also with no differentiated argument at all."""
    return (
        math.log(x[0], 2.0)
        + math.log(x[0] * 3.0, x[1] + 1.5)
        + math.log(8.0, 2) * x[1]
        + pow(3, 2, 5) * x[0]
        + pow(x[1], 3.0, None)
    )


@case(RNG.uniform(-1.0, 1.0, (2, 3)))
def numpy_functions_given_out_by_position(x):
    """``np.sum(a, 1, None, o)``, ``np.clip(y, lo, hi, y)`` and ``np.dot(a, b, o)`` as
    statements: the write into ``out`` was left out of the gradient (zero or the
    identity), silently."""
    o = np.empty(2)
    np.sum(x**2, 1, None, o)
    y = x * 1.0
    np.clip(y, -0.45, 0.45, y)
    p = np.empty((2, 2))
    np.dot(x, x.T, p)
    return np.sum(o) + np.sum(y * np.arange(1.0, 7.0).reshape(2, 3)) + np.sum(p * p)


@case(RNG.uniform(-1.0, 1.0, (2, 3)))
def max_over_no_axes(x):
    """``np.max(x, axis=())`` is every entry: the gradient was divided by the size."""
    w = np.arange(1.0, 7.0).reshape(2, 3)
    return np.sum(np.max(x, axis=()) * w) + np.sum(np.min(x, axis=(), keepdims=True) * w)


@case(vec(3), refusable=True)
def a_number_read_back_from_its_text(x):
    """``float(str(x))`` and ``np.array([f"{v}" ...], dtype=float)`` are the values
    themselves: the text had no gradient, so they were constants (zero), silently."""
    texts = [f"{v}" for v in x]
    return float(str(x[0])) * 2.0 + np.array(texts, dtype=float).sum()


@case(vec(3))
def text_made_for_printing_is_no_refusal(x):
    """Formatting differentiated values to print or log them is fine."""
    message = f"loss {np.sum(x)}" + " at %s" % x[0]  # noqa: UP031 (as users write it)
    label = "w" + str(len(message) > 0)
    return np.sum(x * x) if label else 0.0


@case(RNG.uniform(-1.0, 1.0, (3, 4)))
def numpy_keywords_of_another_name_or_of_no_consequence(x):
    """``np.clip(min=, max=)`` (NumPy 2.1's names), ``x.clip(max=)``,
    ``np.einsum(optimize=)`` and an explicit ``out=None`` were refused."""
    w = np.arange(12.0).reshape(3, 4)
    return (
        np.sum(np.clip(x, min=-0.45, max=0.55) * w)
        + np.sum(x.clip(max=0.35) * w)
        + np.einsum("ij,ij->", x, w, optimize=True)
        + np.sum(np.exp(x, out=None))
        + np.sum(np.dot(x, w.T, out=None))
    )


@case(vec(2))
def a_missing_key_got_from_a_dict_written_to(x):
    """``d.get(missing, x)`` on a dict written to before crashed in the adjoint (the
    dict's gradient was None); on a dict holding no differentiated value it was refused
    ("no derivative rule for 'dict.get'")."""
    d = {"a": x[0]}
    d["a"] = 2.0
    e = {}
    e["b"] = 0.1
    return d.get("zz", x[0]) * 3.0 + e.get("zz", x[1]) * x[1] + d.get("a", 0.0)


def _decremented_then_doubled(p):
    p -= 1.0
    p = p * 2.0
    return p


@case(vec(2))
def a_callee_updating_a_number_argument_then_rebinding_it(x):
    """``p -= 1.0; p = p * 2.0`` in a callee given a number was refused (taken for an
    object updated in place, then rebound); a number's update makes a new one."""
    first, second = float(x[0]), x[1]
    return _decremented_then_doubled(first) * second + _decremented_then_doubled(second)


@case(RNG.uniform(0.2, 1.0, (2, 3, 3)))
def an_average_over_axes_given_out_of_order(x):
    """``np.average(x, axis=(2, 0), weights=w)`` takes ``w``'s axes in that order: the
    weights were laid along the axes in a's order, silently wrong."""
    w = np.arange(1.0, 7.0).reshape(3, 2)
    return np.sum(np.average(x, axis=(2, 0), weights=w) * np.array([1.0, 2.0, 5.0]))


@case(vec(3), refusable=True)
def out_given_to_a_numpy_function_reached_through_a_name(x):
    """``m = np.multiply; m(x, x, out=o)`` (or ``o`` by position) wrote into ``o`` where
    the gradient did not follow: zero, silently."""
    m = np.multiply
    o = np.zeros(3)
    m(x, x, out=o)
    return np.sum(o)


@case(vec(3))
def numpy_keywords_of_another_name_through_a_name(x):
    """``c = np.clip; c(x, min=, max=)`` and ``e = np.einsum; e(..., optimize=)``
    crashed in the adjoint (the rule was given ``min=``; einsum's list of gradients was
    taken for one)."""
    c, e = np.clip, np.einsum
    return np.sum(c(x, min=0.45, max=0.8) * np.arange(3.0)) + e("i,i->", x, x, optimize=True)


@case(np.array([0.3]))
def quantiles_of_integers_and_of_a_list(q):
    """``np.quantile`` of an integer array, differentiated in ``q``, and ``np.median`` of
    a list crashed."""
    counts = np.array([0, 1, 4, 9, 16])
    return 0.5 * np.quantile(counts, q[0]) + np.median([q[0], 2.0 * q[0], 0.1])


@case(vec(2))
def a_present_key_got_with_a_differentiated_default(x):
    """``d.get("a", x)`` with the key present gave the default a gradient of None, which
    the adjoint added to (a TypeError)."""
    d = {"a": x[0] * 2.0}
    return d.get("a", x[1]) * 3.0 + x[1]


class _SequenceOf:
    def __init__(self, v):
        self.v = v

    def __getitem__(self, i):
        if i < 2:
            return self.v * (i + 1)
        raise IndexError(i)


@case(vec(2), refusable=True)
def iterating_an_old_style_sequence_made_inside(x):
    """A sequence of ``__getitem__`` alone, holding a differentiated value, iterated:
    an AttributeError for ``__iter__``; its iteration is its own code (refused)."""
    total = 0.0
    for v in _SequenceOf(x[0]):
        total = total + v
    return total * x[1]


_TEXT = str


@case(vec(2), refusable=True)
def a_number_read_back_from_text_made_by_another_name_or_a_turn_before(x):
    """``T = str; float(T(x))`` and a text made at the end of a loop's turn, read back at
    the start of the next, escaped the check: zero gradients, silently."""
    s = "0.0"
    v = 0.0
    for _ in range(2):
        v = float(s)
        s = str(x[0])
    return float(_TEXT(x[1])) * x[0] + v * x[1]


@case(vec(2))
def text_then_a_number_in_one_name_and_the_length_of_a_text(x):
    """A name given text, then an array, and the length of a text, were refused as
    numbers read back from text."""
    out = f"x={x}"
    out = np.tanh(x)
    n = len(f"{x[0]:.2f}")
    return np.sum(out) * np.float64(n)


def _squared_or_raised(p):
    p *= p
    if p > 3.0:
        raise ValueError("too large")
    return p


@case(np.array([1.0, 1.0]))
def a_callee_given_a_number_raises_after_updating_it(x):
    """A callee's ``p *= p`` of a number, then a raise caught by the caller, was refused
    as an update in place lost with the exception: a number's update makes a new one."""
    w = np.sum(x)
    try:
        r = _squared_or_raised(w)
    except ValueError:
        r = w
    return r * 2.0


@case(np.arange(6.0).reshape(2, 3) * 0.7)
def flat_reads_at_row_major_positions(x):
    """``x.flat[i]`` was refused (no rule for the iterator): it reads entries at row-major
    positions, of a transposed view too, as often as an index list names them."""
    mask = np.ravel(x > 1.0)
    return (
        np.sum(x.flat[[0, 4, 4]] * x.T.flat[1:3][0]) + np.sum(x.flat[mask] ** 2) + x.flat[-1] ** 3
    )


@case(vec(3), 0.4)
def an_argument_made_anew_then_updated_is_nobody_elses(x, y):
    """``x = x + 0.0; x += 1.0``: x's object is one the function made, which no other
    name (not ``y``) can hold; ``y`` given another value was refused as an argument
    updated in place, then rebound (a false refusal with the default ``wrt``)."""
    x = x + 0.0
    x += 1.0
    y = np.tanh(y)
    return np.sum(np.sin(x) * y)


@case(vec(3), refusable=True)
def an_array_made_anew_copied_then_updated_in_place(x):
    """``z = y`` of an array ``y`` made here shares it: ``y *= 2`` doubles ``z`` too."""
    y = x * 1.0
    z = y
    y *= 2.0
    return np.sum(z * x)


@case(np.array([1.0, 2.0, 3.0]))
def a_second_update_of_a_name_others_hold_reaches_them(x):
    """After ``z += x`` the name still holds the object ``w`` holds: the second update
    did not reach ``w`` (the object was taken for one the first update made)."""
    z = np.ones(3)
    w = z
    z += x
    z += x
    return np.sum(w * x)


@case(np.array([1.0, 2.0, 3.0]))
def a_list_extended_twice_through_another_name(x):
    a = []
    b = a
    a += [x[0]]
    a += [x[1] * x[2]]
    return sum(b)


@case(np.array([1.0, 2.0, 3.0]))
def an_accumulator_held_by_a_list_updated_twice_a_step(x):
    acc = np.zeros(3)
    hist = [acc]
    for _ in range(2):
        acc += x
        acc *= x
    return np.sum(hist[0])


@case(np.array([1.0, 2.0, 3.0]))
def an_alias_of_the_argument_updated_twice(x):
    z = x
    z += 1.0
    z *= x
    return np.sum(x * z)


@case(np.array([0.3, -0.4, 0.5]), -1.0)
def a_copy_rebound_on_a_path_not_taken_still_shares(x, y):
    """``t1`` rebound in a branch not taken still holds z's array: ``z *= 2.0`` doubles
    it (the rebinding took t1 out of z's sharers on every path)."""
    t1 = x * 1.0
    z = t1
    if y > 0:
        t1 = x * 3.0
    z *= 2.0
    return np.sum(np.sin(t1))


@case(np.array([0.3, -0.4, 0.5]), -1.0)
def two_copies_rebound_in_one_branch(x, y):
    """Both names of one object rebound in a branch: the compiler crashed (KeyError)
    taking the second out of a group the first had already dropped."""
    t1 = x * 1.0
    z = t1
    if y > 0:
        t1 = x * 3.0
        z = x * 2.0
    w = t1 * 1.0
    w += x
    return np.sum(z * t1) + np.sum(w)


# ---- a loop's adjoint restarting on a name whose shape changes from step to step ---------

LAYERS = [np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.linspace(0.5, -0.5, 20).reshape(5, 4)]
NARROW_LAYERS = [np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.linspace(0.5, -0.5, 15).reshape(5, 3)]


@case(vec(3), vec(3, 1), wrt=(0, 1))
def a_layer_loop_whose_first_step_reads_another_input(x, c):
    """The first step gives ``x`` a value without reading it: the zero adjoint for the
    value before was shaped like the step's output (4 wide, not 3), and it crashed."""
    for i, W in enumerate(LAYERS):
        if i == 0:
            x = np.tanh(W @ c)
        else:
            x = np.tanh(W @ x)
    return np.sum(x)


@case(vec(3))
def a_loop_rebinding_a_name_without_reading_it(c):
    """Every step gives ``x`` a new value of another width, never reading the old one."""
    x = c
    for W in NARROW_LAYERS:
        x = np.tanh(W @ c)
    return np.sum(x * x)


def _scaled_tanh(c):
    def inner(t):
        return np.tanh(t * c) + c

    return inner


@case(vec(3), 0.7, wrt=(0, 1))
def a_closure_a_factory_makes_for_one_call(x, s):
    """The closure lives only while the call runs: the adjoint, built later from its
    code, found the unit's function gone (an AttributeError)."""
    return np.sum(_scaled_tanh(2.0)(x)) * s


@case(vec(3))
def a_loop_reading_the_old_value_only_for_a_test(c):
    """``np.sum(x) > 100`` reads the old ``x`` for no derivative: its adjoint restarts at
    every step all the same, and the zero was shaped like the new, wider value."""
    x = c
    for i in range(2):
        if np.sum(x) > 100.0:
            x = x * 1.0
        x = np.tanh(LAYERS[0] @ c) * (i + 1.0)
    return np.sum(x * x)


@case(vec(3))
def a_loop_reading_the_old_value_only_through_floor(x0):
    x = x0
    for _ in range(2):
        x = np.floor(x[:1]) + np.tanh(LAYERS[0] @ x0)
        x = x[:3]
    return np.sum(x * x)


@case(vec(3), 0.7, wrt=(0, 1))
def starred_entries_in_list_and_tuple_displays(x, y):
    """``[*L, v]`` and ``(*t, v)`` were refused (a starred expression)."""
    pieces = [x * 2.0, np.sin(x)]
    pair = (x[0], y)
    return np.stack([*pieces, x**2]).sum() + sum([*pair, 1.0]) + np.sum(np.array((*pair, x[1])))


@case(np.array([[0.3, -0.5], [0.8, 0.1], [0.2, 0.4]]), vec(2), wrt=(0, 1))
def reversed_outside_a_loop_header(M, v):
    """``zip(M, reversed(M))`` and ``list(reversed(L))`` were refused (no rule for
    reversed); a loop over ``reversed(x)`` itself always compiled."""
    s = 0.0
    for a, b in zip(M, reversed(M), strict=True):
        s = s + np.sum(a * b)
    pieces = [v, v * 2.0, np.sin(v)]
    return s + np.sum(list(reversed(pieces))[0] * 3.0)


def _doubled_column_sums(x, out=None):
    return np.sum(x * 2.0, axis=0, out=out)


@case(np.array([[0.5, 1.0], [2.0, -1.0]]))
def out_passed_on_by_a_parameter_that_is_none(x):
    """``np.sum(..., out=out)`` with ``out`` None when the code runs: taken for an array
    written into, it failed in every mode (a partial of np.sum passes out=None so too)."""
    return np.sum(_doubled_column_sums(x) ** 2)


# ---- calls whose result is their argument, a view of it, or holds it ------------------------


@case(vec(3))
def a_real_arrays_conjugate_updated_in_place(x):
    """``a.conj()`` of a real array is ``a`` itself: taken for a new array, the update of
    ``b`` was lost on ``a``."""
    a = x * 1.0
    b = a.conj()
    b *= 2.0
    return np.sum(a * x)


@case(vec(3))
def real_if_close_updated_in_place(x):
    a = x * 1.0
    b = np.real_if_close(a)
    b *= 2.0
    return np.sum(a * x)


@case(vec(3))
def sum_with_a_start_updated_in_place(x):
    """``sum([], a)`` is ``a`` itself."""
    a = x * 1.0
    b = sum([], a)
    b *= 2.0
    return np.sum(a * x)


@case(vec(3), refusable=True)
def operator_getitem_view_updated_in_place(x):
    a = x * 1.0
    b = operator.getitem(a, slice(0, 2))
    b *= 2.0
    return np.sum(a * x)


@case(vec(3), refusable=True)
def a_partials_array_updated_in_place(x):
    a = x * 1.0
    p = functools.partial(np.multiply, a)
    a *= 2.0
    return np.sum(p(x))


def an_unstacked_row_updated_in_place(m):
    M = m * 1.0
    r0 = np.unstack(M)[0]
    r0 *= 2.0
    return np.sum(M * m)


if hasattr(np, "unstack"):  # (NumPy 2.1)
    case(np.array([[0.5, -1.0], [2.0, 0.3]]), refusable=True)(an_unstacked_row_updated_in_place)


# ---- updates of a list held in a list or dict ----------------------------------------------


@case(vec(2))
def appends_to_lists_held_in_a_list(x):
    """``L[0].append(v)`` was refused (no rule for list.append), where ``inner = L[0];
    inner.append(v)`` compiled."""
    L = [[], []]
    L[0].append(x * 2.0)
    L[1].append(x)
    L[0].append(np.sin(x))
    return np.sum(L[0][0] * L[0][1]) + np.sum(L[1][0])


@case(vec(2))
def extends_a_list_held_in_a_dict(x):
    d = {"a": []}
    d["a"].append(x * 3.0)
    d["a"].extend([x, x])
    return np.sum(d["a"][0] * d["a"][2]) + len(d["a"])


@case(vec(2))
def numpy_scalar_types_called_on_values(x):
    """``np.float32(s)`` and ``np.float64(t)`` of differentiated numbers were refused (no
    derivative rule), where ``.astype`` compiled."""
    s = np.sum(x * x)
    t = np.float32(s) * 2.0
    return np.float64(t) + np.float64(x[0])


# ---- views NumPy's einsum gives ------------------------------------------------------------


@case(vec(3), refusable=True)
def an_einsum_diagonal_seen_after_an_update(x):
    """``np.einsum('ii->i', A)`` is a writeable view of A's diagonal: it sees ``A *= 2``
    (it was taken for a new array, and kept the old values)."""
    A = np.outer(x, x)
    d = np.einsum("ii->i", A)
    A *= 2.0
    return np.sum(d * np.array([1.0, 2.0, 3.0]))


@case(vec(3), refusable=True)
def an_einsum_identity_updated_in_place(x):
    a = x * 1.0
    b = np.einsum("i->i", a)
    b += 1.0
    return np.sum(a**2)


@case(vec(3))
def an_einsum_product_updated_in_place(x):
    """A contraction is a new array: updating it in place changes nothing else."""
    a = np.einsum("ij,j->i", np.outer(x, x), x)
    a += 1.0
    return np.sum(a**2) + np.sum(x)


# ---- 0-d arrays written whole ---------------------------------------------------------------


@case(vec(2))
def a_0d_array_written_through_an_ellipsis(x):
    """The gradient of a 0-d array reached the write's adjoint as a number (a crash)."""
    s = np.zeros(())
    s[...] = np.sum(x**2)
    return float(s)


@case(vec(2))
def a_0d_array_written_through_an_empty_index(x):
    s = np.zeros(())
    s[()] = np.sum(x**2)
    return s * x[0]


@case(vec(2))
def a_0d_array_written_by_out(x):
    s = np.zeros(())
    np.sum(x**2, out=s)
    return float(s)


@case(np.array(0.7))
def a_0d_argument_read_whole_and_by_an_empty_index(a):
    """The adjoint of ``a[()]`` added into ``a``'s, which 0-d arithmetic had made a NumPy
    number: written in place, a crash."""
    return a[()] ** 2 + a.item() * a


@case(np.array(0.7))
def a_0d_argument_read_by_an_ellipsis_after_a_product(a):
    b = a * a
    return np.sum(b[...] * 3.0) + float(a[()]) * b


@case(vec(3))
def a_0d_accumulator_shared_by_two_names_in_a_loop(x):
    """``s1 += v`` on a 0-d array keeps it a 0-d array, as Python's in-place operator
    does: it became a NumPy number after one step, which ``s0`` no longer followed."""
    s0 = np.zeros(())
    s1 = s0
    for i in range(3):
        s1 += x[i] ** 2
    return s0 * 2.0 + s1


@case(vec(3))
def a_0d_array_aliased_anew_in_each_step(x):
    s0 = np.asarray(np.sum(x))
    for i in range(3):
        s1 = s0
        s1 += x[i]
    return s0 * 1.0 + s1


# ---- writes through .flat --------------------------------------------------------------------


@case(vec(3), np.array([1.0, 2.0, 3.0]), refusable=True)
def an_argument_written_through_its_flat(x, w):
    """``g = w.flat; g[0] = v`` writes into ``w``: compiled code wrote a new array, and
    ``w`` kept its values (a wrong value and gradient); it is refused."""
    g = w.flat
    g[0] = 5.0
    return np.sum(x * w)


# ---- objects giving their entries by code of their own ---------------------------------------


class _Thrice:
    def __init__(self, c):
        self.c = c

    def __getitem__(self, i):
        return self.c[i] * 3.0


class _Same(_Thrice):
    def __getitem__(self, i):
        return self.c[i]


@case(vec(3), refusable=True)
def a_users_getitem_in_a_loop(c):
    """``p[i]`` runs the class's ``__getitem__``: in a loop its adjoint went into the
    object's adjoint (a dict of its fields) as an entry ``i``, and was lost: a zero
    gradient. It is refused, as outside a loop."""
    p = _Thrice(c)
    s = 0.0
    for i in range(3):
        s = s + p[i] ** 2
    return s


@case(vec(3), refusable=True)
def a_users_getitem_beside_a_field_read(c):
    p = _Same(c)
    s = np.sum(p.c)
    for i in range(3):
        s = s + p[i]
    return s


@case(vec(3), refusable=True)
def a_users_getitem_in_a_generator(c):
    p = _Thrice(c)
    return sum(p[i] ** 2 for i in range(3))


class _Doubled(list):
    def __getitem__(self, i):
        return list.__getitem__(self, i) * 2.0


@case(_Doubled([vec(2), vec(1, 1)]), refusable=True)
def a_list_of_its_own_getitem_looped_over(p):
    """Python iterates a list without its ``__getitem__``; compiled code indexed it, so
    the value and the gradient were wrong."""
    s = 0.0
    for v in p:
        s = s + np.sum(v**2)
    return s


@case(_Doubled([vec(2), vec(1, 1)]), refusable=True)
def a_list_of_its_own_getitem_enumerated(p):
    s = 0.0
    for i, v in enumerate(p):
        s = s + i * np.sum(v**2)
    return s


# ---- entries of copies rebound ---------------------------------------------------------------


@case(vec(2))
def an_entry_of_a_copied_list_rebound(x):
    """A copy is of its original's kind: the adjoints of a copied list's entries were
    added with ``+``, which joins lists (a crash in the adjoint)."""
    original = [x * 1.0, x * 2.0]
    d = copy.copy(original)
    d[0] = d[0] + 1.0
    return np.sum(d[0] ** 2)


@case(vec(2))
def an_entry_of_a_deep_copied_dict_updated(x):
    original = {"a": x * 1.0, "b": x * 2.0}
    d = copy.deepcopy(original)
    d["a"] += 1.0
    return np.sum(d["a"] ** 2) + np.sum(d["b"])


# ---- functions with a rule called through a name given them -------------------------------


@case(vec(4))
def max_called_through_a_name(x):
    """The gradients of a rule with keyword-only parameters before its ``*args``
    (``max``'s ``key=`` and ``default=``) went to those parameters, not to the values
    passed, when the function was called through a name: zero, without a word."""
    pick = max if x[0] > 0 else min
    return pick(x[0], x[2], x[1] * 3.0)


@case(vec(4), vec(4, 1), wrt=(0, 1))
def meshgrid_called_through_a_name(x, y):
    grid = [np.meshgrid][0]
    a, b = grid(x, y, indexing="ij")
    return np.sum(a * b**2)


@case(vec(3), vec(4, 1), wrt=(0, 1))
def broadcast_arrays_called_through_a_name(x, y):
    spread = [np.broadcast_arrays][0]
    a, b = spread(x[:, None], y[None, :])
    return np.sum(a * b**2)


# ---- dict.setdefault ------------------------------------------------------------------------


@case(vec(4))
def setdefault_of_a_local_dict(x):
    """``d.setdefault(k, v)`` with a differentiated ``v`` on a local dict was refused, as
    if the dict were reached through a field."""
    d = {"a": x[0]}
    kept = d.setdefault("a", x[3] * 5.0)
    added = d.setdefault("b", x[1] ** 2)
    return kept * added + d["a"] * 3.0 + d["b"]


@case(vec(4))
def setdefault_accumulating(x):
    totals = {}
    for v in x:
        k = int(v > 0.5)
        totals[k] = totals.setdefault(k, 0.0) + v**2
    return totals.get(0, 1.0) * totals.get(1, 1.0)


@case(vec(4), {0: [1.5]})
def setdefault_grouping_into_lists(x, groups):
    """``groups.setdefault(k, []).append(v)``: the entry's list updated, in the caller's
    dict too."""
    for i, v in enumerate(x):
        groups.setdefault(i % 2, []).append(v * (i + 1.0))
    return sum(sum(g) ** 2 for g in groups.values())


# ---- positions and counts in lists ---------------------------------------------------------


@case(vec(4))
def index_and_count_of_a_list(x):
    """``xs.index(v)`` and ``xs.count(v)`` of a list of differentiated values give ints:
    they were refused as an array's methods without a rule."""
    xs = sorted([x[0], x[1] * 2.0, x[2]])
    at = xs.index(x[2])
    return xs[at] ** 2 * (at + 1) + xs.count(xs[0]) * xs[1]


# ---- np.put_along_axis ---------------------------------------------------------------------


@case(RNG.normal(size=(3, 4)), vec(3))
def put_along_axis_with_repeated_positions(a, v):
    """``np.put_along_axis`` was refused (no rule); the last write to a position stays."""
    z = a * 1.0
    np.put_along_axis(z, np.array([[0, 0], [2, 2], [2, 1]]), np.stack([v, v**2], 1), axis=1)
    np.put_along_axis(z, np.argmax(z, axis=0)[None], 0.0, axis=0)
    return np.sum(z**2 * np.arange(4))


# ---- np.multiply.at ------------------------------------------------------------------------


@case(RNG.normal(size=(3, 4)), vec(4), wrt=(0, 1))
def multiply_at_with_repeated_positions_and_zeros(a, v):
    """``np.multiply.at`` was refused (no rule); repeated positions multiply in turn, a
    zero among them included."""
    z = a * 1.0
    np.multiply.at(z, (np.array([0, 2, 0, 0]), np.array([1, 3, 1, 1])), v * np.array([1, 1, 0, 1]))
    np.multiply.at(z, np.array([1, 1]), v * 2.0)
    return np.sum(z**2 * np.arange(4))


# ---- a name bound after an update, from an entry that may be the updated object ----------------


@case(vec(3), vec(3, seed=1), wrt=(0, 1))
def a_name_bound_later_from_a_list_holding_the_updated_array(x, y):
    """An update of ``y`` made every name that may later hold it follow it at once, ``a``
    too, which nothing had bound yet: an UnboundLocalError."""
    y[-1] = np.tanh(np.sum(x))
    for v in [x, y]:
        a = v
    x = np.tanh(x + a)
    return np.sum(x * x) + np.sum(np.sin(y))


@case(vec(3), vec(3, seed=1), wrt=(0, 1))
def a_name_bound_later_in_a_loop_sees_the_update_of_the_step_before(x, y):
    """Bound after the update in a loop's body, ``a`` holds ``y`` at the next step's update,
    and follows it there."""
    for i in range(3):
        y[i] = np.tanh(np.sum(x)) * 0.5
        if i > 0:
            x = x + a  # noqa: F821 (bound at the step before)
        a = y
    return np.sum(x * a)


# ---- a functools.partial given to a function that calls it more than once ----------------------


def _twice(f, v):
    return f(f(v))


def _scaled_sine(v, x):
    return np.sin(v) * x[0]


@case(vec(3))
def a_partial_called_twice_by_a_function_it_is_given(x):
    """The partial's gradient (the list of its bound values') from each call was added with
    ``+``, which joins lists: a crash where it met the partial's values."""
    return np.sum(_twice(functools.partial(_scaled_sine, x=x), x))


@case(vec(3))
def a_closure_called_twice_by_a_function_it_is_given(x):
    """The same for a lambda reading ``x``, which compiled code makes a partial of."""
    return np.sum(_twice(lambda v: np.sin(v) * x[0], x) ** 2)
