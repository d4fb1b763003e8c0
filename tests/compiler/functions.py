"""The battery: small plain Python/NumPy functions, each returning a scalar.

Each is registered with ``@case(...)`` (see ``cases.py``): the kinds of its arguments
and which of them ``sd.grad`` differentiates. ``test_battery.py`` runs every case
through every check. Functions are grouped by what they exercise.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import operator
import time

import numpy as np

from .cases import A, Dict, Fixed, List, S, Tuple, case

POS = {"lo": 0.5, "hi": 2.0}  # a domain for log, sqrt, division, ...

# ---- operators ------------------------------------------------------------------------


@case(A(3), A(3), wrt=(0, 1))
def op_add(x, y):
    return np.sum(x + y * x)


@case(A(3), A(3), wrt=(0, 1))
def op_sub(x, y):
    return np.sum((x - y) * x)


@case(A(3), A(3), wrt=(0, 1))
def op_mul(x, y):
    return np.sum(x * y * y)


@case(A(3), A(3, **POS), wrt=(0, 1))
def op_div(x, y):
    return np.sum(x / y)


@case(A(4))
def op_pow_const(x):
    return np.sum(x**3)


@case(A(4, **POS), A(4), wrt=(0, 1))
def op_pow_arrays(x, y):
    return np.sum(x**y)


@case(A(4))
def op_rpow(x):
    return np.sum(2.0**x)


@case(A(3, 4), A(4), wrt=(0, 1))
def op_matmul_mat_vec(w, x):
    return np.sum(w @ x)


@case(A(3, 4), A(4, 2), wrt=(0, 1))
def op_matmul_mat_mat(a, b):
    return np.sum((a @ b) ** 2)


@case(A(5), A(5), wrt=(0, 1))
def op_matmul_vec_vec(x, y):
    return x @ y


@case(A(3), A(3), wrt=(0, 1))
def op_unary_neg(x, y):
    return np.sum(-x * y) + np.sum(+y)


@case(A(6))
def op_comparison_mask(x):
    return np.sum(x * (x > 0)) + np.sum((x <= 0.5) * x * x)


@case(A(4), A(4), wrt=(0, 1))
def op_comparison_between(x, y):
    bigger = x > y
    return np.sum(np.where(bigger, x, y)) + float(np.sum(x == y))


@case(A(3), A(3, **POS), wrt=(0, 1))
def op_augmented(x, y):
    s = x * 1.0
    s += y
    s *= x
    s -= 0.5 * y
    s /= y
    s **= 2
    return np.sum(s)


@case(A(3), A(3), wrt=(0, 1))
def op_tuple_unpack(x, y):
    a, b = x * 2.0, y + 1.0
    a, b = b, a
    (c, d), e = (a * b, a - b), np.sin(a)
    return np.sum(c + d * e)


@case(A(4, **POS))
def op_constants_left(x):
    return np.sum(2.0 - x) + np.sum(3.0 / x) + np.sum(1 + x * x) + np.sum(0.5 * x)


@case(A(4))
def op_constants_right(x):
    return np.sum(x - 2) + np.sum(x / 3) + np.sum(x * 2) + np.sum((x + 1.5) ** 2)


@case(A(3, 4), A(4), A(3, 1), wrt=(0, 1, 2))
def op_broadcasting(m, row, col):
    return np.sum(m * row + col) + np.sum((m - col) ** 2 / (1.0 + row * row))


@case(S(), S(), wrt=(0, 1))
def op_python_floats(a, b):
    return a * b + a / (1.0 + b * b) - b**3


@case(A(), A(3), wrt=(0, 1))
def op_zero_dim(a, x):
    return a * np.sum(x) + a * a


@case(S(), A(3), wrt=(0, 1))
def op_float_times_array(a, x):
    return np.sum(a * x) + a


@case(A(4), Fixed(3))
def op_int_argument(x, n):
    return np.sum(x * n) + np.sum(x**n)


# ---- attributes and methods of arrays ----------------------------------------------------


@case(A(3, 4), A(3, 2), wrt=(0, 1))
def attr_T(x, y):
    return np.sum(x.T @ y)


@case(A(3, 4))
def attr_shape(x):
    n, m = x.shape
    return np.sum(x) / n + np.sum(x * x) / (n * m) + x.size + x.ndim


@case(A(3, 4))
def method_sum_axis(x):
    return np.sum(x.sum(axis=0) ** 2) + np.sum(x.sum(axis=1, keepdims=True) * x)


@case(A(3, 4))
def method_mean(x):
    return x.mean() + np.sum(x.mean(axis=1) ** 2) + np.sum(x.mean(axis=0, keepdims=True) * x)


@case(A(3, 4))
def method_reshape(x):
    a = x.reshape(2, 6)
    b = x.reshape((4, 3))
    c = x.reshape(-1)
    return np.sum(a[0] * a[1]) + np.sum(b[:, 0]) + np.sum(c * c)


@case(A(3, 4), A(4), wrt=(0, 1))
def method_dot(x, y):
    return np.sum(x.dot(y) ** 2)


@case(A(4))
def method_astype(x):
    y = x.astype(np.float64)
    return np.sum(y * y)


@case(A(3, 4))
def method_max_min(x):
    return x.max() + np.sum(x.min(axis=1)) + np.sum(x.max(axis=0, keepdims=True) * x)


@case(A(5))
def method_prod(x):
    return x.prod()


@case(A(5))
def method_clip(x):
    return np.sum(x.clip(-1.0, 1.0) * x)


@case(A(3, 4))
def method_copy_ravel_flatten(x):
    y = x.copy()
    return np.sum(y.ravel() * x.flatten()) + np.sum(y)


@case(A(3, 1, 4))
def method_squeeze(x):
    return np.sum(x.squeeze() ** 2) + np.sum(x.squeeze(axis=1)[0])


@case(A(2, 3, 4))
def method_transpose(x):
    a = x.transpose()
    b = x.transpose(1, 0, 2)
    return np.sum(a[0] * 2.0) + np.sum(b[0] * b[1])


@case(A(3))
def method_item(x):
    return x.sum().item() * x[0]


# ---- indexing reads ----------------------------------------------------------------------


@case(A(5))
def index_int(x):
    return x[0] * x[2] + x[2]


@case(A(6))
def index_slice(x):
    return np.sum(x[1:4] * x[2:5]) + np.sum(x[::2])


@case(A(5))
def index_negative(x):
    return x[-1] * x[-2] + np.sum(x[:-1])


@case(A(3, 4))
def index_column(x):
    return np.sum(x[:, 1] * x[:, 2]) + np.sum(x[1, :])


@case(A(5), Fixed(np.array([0, 2, 2, 4])))
def index_int_array(x, idx):
    return np.sum(x[idx] ** 2)


@case(A(6))
def index_boolean_mask(x):
    return np.sum(x[x > 0] ** 2) + np.sum(x[np.abs(x) < 1.0])


@case(A(4, 5))
def index_2d(x):
    i, j = 1, 3
    return x[i, j] * x[2, 0] + np.sum(x[1:, ::2]) + np.sum(x[-1, 1:3])


@case(A(3))
def index_new_axis(x):
    outer = x[:, None] * x[None, :]
    return np.sum(outer) + np.sum(x[..., 0])


@case(A(4, 3), Fixed(np.array([True, False, True, True])))
def index_mask_rows(x, keep):
    return np.sum(x[keep] ** 2)


# ---- indexing writes into local arrays ---------------------------------------------------


@case(A(3))
def write_into_zeros(x):
    h = np.zeros(3)
    h[0] = x[1] * 2.0
    h[1] = x[0] * x[2]
    h[2] = np.sin(x[2])
    return np.sum(h * h)


@case(A(4))
def write_augmented_loop(x):
    h = np.zeros(4)
    for i in range(4):
        h[i] += x[i] * x[i]
        h[i] += x[3 - i]
    return np.sum(h**2)


@case(A(3))
def write_nested_into_list_entries(x):
    hs = [x * 1.0, x * 2.0]
    hs[0][1] = x[2] * 3.0  # into the array hs holds: hs[0] reads the new value
    hs[1][0] += x[1] ** 2
    return np.sum(hs[0] * x) + np.sum(hs[1] ** 2)


@case(A(3))
def write_nested_into_array_rows(x):
    m = np.stack([x, x * x])
    m[1][2] = x[0] * 4.0
    m[0][1:] *= 2.0
    return np.sum(m * m)


@case(A(3))
def write_nested_into_dict_entry(x):
    d = {"a": [x * 1.0]}
    d["a"][0][0] = x[1] * 7.0
    return np.sum(d["a"][0] * x)


@case(A(3))
def write_nested_through_a_copy(x):
    b = np.outer(x, x)
    b[[0, 2]][0] = 9.0  # a fancy index copies: b keeps its values, as in Python
    b[b > -1e9][0] = 0.0  # a mask copies as well
    hs = [x * 1.0, x * 2.0]
    hs[0:2][0] = x * 5.0  # a list slice copies too
    return np.sum(b * b) + np.sum(hs[0] * x)


@case(A(3))
def write_nested_augmented_evaluates_its_index_once(x):
    hs = [x * 1.0, x * 2.0, x * 3.0]
    order = iter([0, 1, 2])
    hs[next(order)][0] += x[1] * 4.0
    return np.sum(hs[0] * hs[0]) + np.sum(hs[1] * hs[1])


@case(A(3))
def write_keeps_other_entries_of_a_dict(x):
    params = {"w": x * 1.0, "b": x * 2.0}
    w = params["w"]
    w[0] = 0.0  # changes params["w"] too; params["b"], read below, is another entry
    params["b"] = params["b"] * 2.0
    return np.sum(w * x) + np.sum(params["b"])


@case(A(3))
def stack_copies_its_inputs(x):
    h = x * 1.0
    m = np.stack([h, x])
    h[0] = 0.0  # m holds copies: not an alias
    return np.sum(m * m) + np.sum(h * h)


@case(A(5))
def write_overwrites_active(x):
    h = x.copy()
    h[1:3] = 0.0
    h[0] = h[4] * 3.0
    return np.sum(h * x)


@case(A(3, 3), A(3), wrt=(0, 1))
def write_column(m, v):
    h = m * 1.0
    h[:, 0] = v
    h[1] = h[1] * 2.0
    return np.sum(h**2)


@case(A(3), A(3), wrt=(0, 1))
def write_list_entries(x, y):
    items = [x, y]
    items[0] = items[0] * 2.0
    items[1] = items[1] + items[0]
    return np.sum(items[0] * items[1])


@case(A(3), A(3), wrt=(0, 1))
def write_dict_entries(x, y):
    d = {}
    d["a"] = x
    d["b"] = y * 2.0
    d["a"] = d["a"] * d["b"]
    return np.sum(d["a"]) + np.sum(d["b"])


@case(A(4), wrt=0)
def write_with_index_array(x):
    h = np.zeros(6)
    h[np.array([0, 2, 5])] = x[1:] * 2.0
    h[1] += x[0]
    return np.sum(h * h)


# ---- branches ----------------------------------------------------------------------------


@case(A(4))
def if_else_on_data(x):
    if np.sum(x) > 0:
        y = np.tanh(x)
    else:
        y = x * x
    return np.sum(y)


@case(A(4))
def if_elif_else(x):
    s = np.sum(x)
    if s > 1.0:
        y = x * 3.0
    elif s > -1.0:
        y = np.sin(x)
    else:
        y = np.exp(x)
    return np.sum(y * x)


@case(A(4))
def if_without_else(x):
    y = x * 2.0
    if x[0] > x[1]:
        y = y * x
    return np.sum(y)


@case(A(4), S(), wrt=(0, 1))
def if_nested(x, a):
    if a > 0:
        if x[0] > 0:
            r = a * np.sum(x)
        else:
            r = a * a * x[1]
    else:
        r = np.sum(x**2) - a
    return r


@case(A(4))
def if_conditional_expression(x):
    y = x * 2.0 if x[0] > 0 else x * x
    z = np.sin(y) if np.sum(y) < 0.5 else np.cos(y)
    return np.sum(z)


@case(A(4))
def if_boolean_operators(x):
    if x[0] > -1.0 and x[1] < 3.0 or x[2] > 10.0:
        return np.sum(x * x)
    return np.sum(x)


@case(A(4))
def if_not(x):
    if not np.sum(x) > 0:
        x = -x
    return np.sum(x**3)


@case(A(3))
def if_assigns_only_in_branch(x):
    scale = 1.0
    if x[0] > 0:
        scale = np.exp(x[0])
    return np.sum(x * scale)


# ---- loops -------------------------------------------------------------------------------


@case(A(3), Fixed(5))
def for_range_accumulate(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(x * i) + np.sum(np.sin(x)) * 0.1
    return s


@case(A(4, 3), A(3), wrt=(0, 1))
def for_over_rows(m, w):
    s = 0.0
    for row in m:
        s = s + np.tanh(row @ w)
    return s


@case(A(3), A(3), A(3), wrt=(0, 1, 2))
def for_over_list(x, y, z):
    total = 0.0
    for v in [x, y, z]:
        total = total + np.sum(v * v) * np.sum(x)
    return total


@case(A(4), A(4), wrt=(0, 1))
def for_zip(xs, ys):
    s = 0.0
    for a, b in zip(xs, ys, strict=True):
        s = s + a * b + np.sin(a)
    return s


@case(A(4))
def for_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + i * v * v
    return s


@case(A(3), A(3), wrt=(0, 1))
def for_enumerate_zip(xs, ys):
    s = 0.0
    for i, (a, b) in enumerate(zip(xs, ys), 1):  # noqa: B905 (zip as most code writes it)
        s = s + i * a * b
    return s


@case(A(6))
def for_range_start_stop_step(x):
    s = 0.0
    for i in range(1, 6, 2):
        s = s + x[i] * x[i - 1]
    return s


@case(A(3))
def for_zero_iterations(x):
    s = np.sum(x)
    for i in range(0):
        s = s * x[i]
    return s * s


@case(A(3))
def while_counter(x):
    i = 0
    y = x
    while i < 4:
        y = np.sin(y) + x
        i += 1
    return np.sum(y)


@case(A(3, lo=0.1, hi=0.5))
def while_on_data(x):
    s = np.sum(x)
    n = 0
    while s < 10.0 and n < 20:
        s = s * 1.5 + np.sum(x * x)
        n = n + 1
    return s


@case(A(5))
def for_break(x):
    s = 0.0
    for i in range(5):
        if x[i] > 1.2:
            break
        s = s + x[i] * x[i] * s + x[i]
    return s


@case(A(6))
def for_continue(x):
    s = 0.0
    for i in range(6):
        if x[i] < 0:
            continue
        s = s + np.exp(x[i])
    return s


@case(A(3))
def while_break(x):
    y = x
    n = 0
    while True:
        y = y * 1.1 + 0.1
        n = n + 1
        if n >= 3:
            break
    return np.sum(y * x)


@case(A(4))
def early_return(x):
    if x[0] > 0:
        return np.sum(x * x)
    y = np.sin(x)
    return np.sum(y)


@case(A(4))
def multiple_returns(x):
    s = np.sum(x)
    if s > 1.0:
        return s * s
    if s > -1.0:
        return np.sum(np.exp(x))
    if s > -2.0:
        return s
    return -s * x[0]


@case(A(6))
def return_inside_loop(x):
    s = 0.0
    for i in range(6):
        s = s + x[i]
        if s > 1.0:
            return s * x[i]
    return s


@case(A(3, 4))
def nested_loops(m):
    s = 0.0
    for i in range(3):
        for j in range(4):
            s = s + m[i, j] * (i + 1) * np.cos(m[i, j])
    return s


@case(A(3, 4))
def nested_loops_branching(m):
    s = 0.0
    for i in range(3):
        row = m[i]
        for j in range(4):
            if row[j] > 0:
                s = s + row[j] * row[j]
            else:
                s = s - np.sin(row[j])
    return s


@case(A(3, 3), A(3), Fixed(4), wrt=(0, 1))
def loop_overwrites_state(w, h0, steps):
    h = h0
    for _ in range(steps):
        h = np.tanh(w @ h)
    return np.sum(h)


@case(A(6))
def loop_branches_differ(x):
    s = 0.0
    for i in range(6):
        if x[i] > 0:
            s = s + np.sin(x[i]) * s + x[i]
        else:
            s = s * 0.5 - x[i] * x[i]
    return s


@case(A(4))
def loop_defines_temporary(x):
    s = 0.0
    for i in range(4):
        t = x * (i + 1.0)
        u = np.sum(t * t)
        s = s + u
    return s


@case(A(4))
def loop_over_reversed_list(x):
    parts = [x[0], x[1], x[2]]
    s = 1.0
    for p in reversed(parts):
        s = s * p + 1.0
    return s


@case(A(5))
def loop_nested_while_in_for(x):
    s = 0.0
    for i in range(3):
        k = 0
        while k < i:
            s = s + x[i] * x[k]
            k = k + 1
    return s


@case(A(4))
def loop_swap_variables(x):
    a = x[0]
    b = x[1]
    for _ in range(3):
        a, b = b, a * b + x[2]
    return a + b


@case(A(5))
def loop_counts_pass_only(x):
    count = 0
    for v in x:
        if v > 0:
            count = count + 1
    return np.sum(x) * count


# ---- calls to user functions -------------------------------------------------------------


def square_sum(v):
    return np.sum(v * v)


def affine(w, x, b=0.0, scale=1.0):
    return scale * (w @ x + b)


def branching_helper(v):
    if np.sum(v) > 0:
        return np.sum(np.sin(v))
    return np.sum(v**2)


def two_results(x):
    return x * 2.0, np.sin(x)


def make_dict(x, y):
    return {"sum": x + y, "prod": x * y}


def power_rec(x, n):
    if n == 0:
        return 1.0
    return x * power_rec(x, n - 1)


def tree_sum(xs, lo, hi):
    if hi - lo == 1:
        return xs[lo] * xs[lo]
    mid = (lo + hi) // 2
    return tree_sum(xs, lo, mid) + tree_sum(xs, mid, hi)


@case(A(4))
def call_user_function(x):
    return square_sum(x) + square_sum(np.sin(x))


@case(A(3, 4), A(4), A(3), wrt=(0, 1, 2))
def call_defaults_and_keywords(w, x, b):
    y = affine(w, x)
    z = affine(w, x, b, scale=2.0)
    u = affine(w, x=x, scale=0.5)
    return np.sum(y * z) + np.sum(u)


@case(A(3), S(), wrt=(0, 1))
def call_keyword_active(x, s):
    return np.sum(affine(np.eye(3), x, scale=s))


@case(A(4))
def call_branching_helper(x):
    return branching_helper(x) + branching_helper(-x) + branching_helper(x * 0.5)


@case(A(3))
def call_tuple_result(x):
    a, b = two_results(x)
    return np.sum(a * b)


@case(A(3), A(3), wrt=(0, 1))
def call_dict_result(x, y):
    d = make_dict(x, y)
    return np.sum(d["sum"] * d["prod"])


@case(A(3))
def call_recursion(x):
    return np.sum(power_rec(x, 4))


@case(A(8))
def call_recursion_divide(x):
    return tree_sum(x, 0, 8)


@case(A(4))
def call_in_loop(x):
    s = 0.0
    for i in range(3):
        s = s + branching_helper(x * (i - 1.0))
    return s


@case(A(4))
def call_numpy_through_helper(x):
    return np.sum(np.tanh(x)) + square_sum(x[1:]) * math.pi


class Layer:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def forward(self, x):
        return np.tanh(self.w @ x + self.b)

    def loss(self, x, target):
        y = self.forward(x)
        return np.sum((y - target) ** 2)

    def __call__(self, x):
        return self.forward(x)


LAYER = Layer(np.linspace(-1.0, 1.0, 12).reshape(3, 4), np.array([0.1, -0.2, 0.3]))


@case(A(4), A(3), wrt=0)
def call_method(x, target):
    return LAYER.loss(x, target)


@case(A(4))
def call_callable_object(x):
    return np.sum(LAYER(x) ** 2)


@case(A(3, 4), A(3), A(4), wrt=(0, 1))
def call_method_of_local_object(w, b, x):
    layer = Layer(w, b)
    return np.sum(layer.forward(x))


@case(A(3), A(3), wrt=(0, 1))
def call_argument_not_live_on_the_path(x, y):
    z = np.ones(3)
    if np.sum(x) > 100.0:  # never: z carries no gradient into affine on the path taken
        z = y * 2.0
    return affine(x, z) + square_sum(x + z)


# ---- closures and globals ----------------------------------------------------------------


def make_scaled_loss(scale, centre):
    def loss(x):
        return scale * np.sum((x - centre) ** 2)

    return loss


scaled_loss = make_scaled_loss(3.0, np.array([0.5, -0.5, 1.0]))
case(A(3))(scaled_loss)

W_GLOBAL = np.array([[1.0, -0.5, 0.25], [0.5, 2.0, -1.0]])
OFFSET = 0.3


@case(A(3))
def uses_globals(x):
    return np.sum(np.tanh(W_GLOBAL @ x + OFFSET))


# ---- containers as arguments and results -------------------------------------------------


@case(Dict(w=A(3, 4), b=A(3)), A(4))
def dict_of_parameters(params, x):
    h = np.tanh(params["w"] @ x + params["b"])
    return np.sum(h * h)


@case(List(A(3, 4), A(2, 3)), A(4))
def list_of_layers(layers, x):
    h = x
    for w in layers:
        h = np.tanh(w @ h)
    return np.sum(h)


@case(Tuple(A(3), A(3)), A(3), wrt=(0, 1))
def tuple_argument(pair, x):
    a, b = pair
    return np.sum(a * x + b * b)


@case(List(A(2), A(2), A(2)))
def list_indexed_in_loop(xs):
    s = 0.0
    for i in range(len(xs)):
        s = s + np.sum(xs[i] * xs[i - 1])
    return s


@case(A(3))
def tuple_built_and_read(x):
    t = (x, x * 2.0, np.sin(x))
    u = [t[0], t[2]]
    return np.sum(t[1] * u[1]) + np.sum(u[0])


@case(Dict(a=A(2), b=A(2)))
def dict_loop_over_keys(d):
    s = 0.0
    for k in ["a", "b"]:
        s = s + np.sum(np.exp(d[k]))
    return s


# ---- elementwise rules -------------------------------------------------------------------


@case(A(4))
def rule_exp(x):
    return np.sum(np.exp(x))


@case(A(4, **POS))
def rule_log(x):
    return np.sum(np.log(x) * x)


@case(A(4, **POS))
def rule_log1p(x):
    return np.sum(np.log1p(x))


@case(A(4))
def rule_expm1(x):
    return np.sum(np.expm1(x))


@case(A(4, **POS))
def rule_sqrt(x):
    return np.sum(np.sqrt(x))


@case(A(4))
def rule_square(x):
    return np.sum(np.square(x) * x)


@case(A(4))
def rule_abs(x):
    return np.sum(np.abs(x)) + abs(x[0])


@case(A(4))
def rule_sign(x):
    return np.sum(np.sign(x) * x * x)


@case(A(4))
def rule_sin_cos_tan(x):
    return np.sum(np.sin(x) + np.cos(x) + np.tan(x * 0.5))


@case(A(4))
def rule_tanh_sinh_cosh(x):
    return np.sum(np.tanh(x) * np.sinh(x) + np.cosh(x))


@case(A(4))
def rule_arctan(x):
    return np.sum(np.arctan(x * 2.0))


@case(A(4, **POS), A(4), wrt=(0, 1))
def rule_power(x, y):
    return np.sum(np.power(x, y)) + np.sum(np.power(x, 2))


@case(A(4), A(4), wrt=(0, 1))
def rule_maximum_minimum(x, y):
    return np.sum(np.maximum(x, y) * 2.0 + np.minimum(x, y) ** 2) + np.sum(np.maximum(x, 0.0))


@case(A(5))
def rule_clip(x):
    return np.sum(np.clip(x, -1.0, 1.0) ** 2)


@case(A(4), A(4), wrt=(0, 1))
def rule_where(x, y):
    return np.sum(np.where(x > y, x * y, y - x)) + np.sum(np.where(x > 0, x, 0.0))


@case(S(**POS))
def rule_math_module(a):
    return math.exp(a) + math.log(a) + math.sqrt(a) * math.sin(a) + math.tanh(a)


@case(A(4), A(4), wrt=(0, 1))
def rule_logaddexp(x, y):
    return np.sum(np.logaddexp(x, y))


@case(A(5))
def logsumexp_by_hand(x):
    m = x.max()
    return m + np.log(np.sum(np.exp(x - m)))


@case(A(3, 4))
def logsumexp_rows_by_hand(x):
    m = np.max(x, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
    return np.sum(lse)


@case(A(4))
def builtin_sum_over_list(x):
    return sum([x[0], x[1] * x[2], np.sum(x)])


# ---- reductions --------------------------------------------------------------------------


@case(A(3, 4))
def reduce_sum(x):
    return np.sum(np.sum(x, axis=0) ** 2) + np.sum(np.sum(x, axis=1, keepdims=True) * x)


@case(A(3, 4))
def reduce_mean(x):
    return np.mean(x) + np.sum(np.mean(x, axis=0) * np.mean(x, axis=1, keepdims=True))


@case(A(3, 4))
def reduce_prod(x):
    return np.prod(x) + np.sum(np.prod(x, axis=1)) + np.sum(np.prod(x, axis=0, keepdims=True))


@case(A(3, 4))
def reduce_max(x):
    return np.max(x) + np.sum(np.max(x, axis=0)) + np.sum(np.max(x, axis=1, keepdims=True) * x)


@case(A(3, 4))
def reduce_min(x):
    return np.min(x) * 2.0 + np.sum(np.min(x, axis=1) ** 2)


@case(A(2, 3, 4))
def reduce_multiple_axes(x):
    return np.sum(np.sum(x, axis=(0, 2)) ** 2) + np.sum(np.mean(x, axis=(1, 2), keepdims=True))


# ---- linear algebra and shapes -----------------------------------------------------------


@case(A(3, 4), A(4), wrt=(0, 1))
def rule_dot(a, b):
    return np.sum(np.dot(a, b) ** 2) + np.dot(b, b)


@case(A(2, 3, 4), A(4, 2), wrt=(0, 1))
def rule_matmul_batched(a, b):
    return np.sum(np.matmul(a, b) ** 2)


@case(A(3))
def rule_matmul_of_lists(x):
    """np.matmul takes lists as NumPy takes them: the reverse rule read a list operand's
    ndim, and the forward rule's ``@`` of two lists of entries is a TypeError (both
    crashed)."""
    rows = [[x[0], x[1]], [x[2], 1.0]]
    return np.sum(np.matmul(rows, [[1.0], [x[1]]]) ** 2) + np.sum(
        np.matmul(x.reshape(3, 1), [[1.0, 2.0]]) ** 2
    )


@case(A(3))
def rule_of_list_displays(x):
    """A list display given to a NumPy function that takes it for the array of its
    entries: the rules of np.power, np.abs, np.arctan2, np.sinc, np.kron, np.sort and
    np.trapezoid read it as a list (``2 * [a, b]`` repeats it) and crashed; np.clip's,
    np.where's and np.linalg.solve's refused it as a list joined or repeated."""
    out = np.sum(np.power([x[0], x[1]], 3)) + np.sum(np.abs([x[2], x[0]]))
    out = out + np.sum(np.arctan2([x[0], x[1]], 2.0))
    out = out + np.sum(np.sinc([x[1], 0.5])) + np.sum(np.kron([1.0, 2.0], x) ** 2)
    out = out + np.sum(np.sort([x[0], x[1], 0.0]) * np.arange(3.0))
    out = out + np.trapezoid([x[0], x[1] ** 2, x[2]], x=[0.0, 0.5, 2.0])
    out = (
        out
        + np.sum(np.clip([x[0], x[2]], -0.1, 0.1))
        + np.sum(np.where([True, False], [x[1], x[2]], 0.0))
    )
    return out + np.sum(np.linalg.solve([[x[0] + 3.0, 1.0], [0.0, 2.0]], [1.0, x[1]]))


@case(A(3), A(4), wrt=(0, 1))
def rule_outer(a, b):
    return np.sum(np.outer(a, b) ** 2)


@case(A(2, 3, 4))
def rule_transpose(x):
    return np.sum(np.transpose(x)[0] * 2.0) + np.sum(np.transpose(x, (1, 0, 2))[1] ** 2)


@case(A(3, 4))
def rule_reshape(x):
    return np.sum(np.reshape(x, (2, 6))[1] ** 2) + np.sum(np.reshape(x, -1)[::3])


@case(A(3, 1))
def rule_squeeze_expand_dims(x):
    y = np.squeeze(x)
    z = np.expand_dims(y, 0)
    return np.sum(z * z) + np.sum(np.squeeze(x, axis=1) * y)


@case(A(2, 3), A(1, 3), wrt=(0, 1))
def rule_concatenate(a, b):
    c = np.concatenate([a, b])
    d = np.concatenate((a, a * 2.0), axis=1)
    return np.sum(c**2) + np.sum(d[:, 2:] ** 3)


@case(A(3), A(3), wrt=(0, 1))
def rule_stack(a, b):
    s = np.stack([a, b])
    t = np.stack((a, b * b), axis=1)
    return np.sum(s[0] * s[1]) + np.sum(t**2)


@case(A(3), A(2, 1), wrt=(0, 1))
def rule_broadcast_to(a, b):
    return np.sum(np.broadcast_to(a, (2, 3)) ** 2 * np.broadcast_to(b, (2, 3)))


# ---- small models ------------------------------------------------------------------------


@case(A(5, 3), Fixed(np.array([1.0, 0.0, 1.0, 1.0, 0.0])), A(3), wrt=2)
def model_logistic_regression(x, y, w):
    z = x @ w
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


@case(A(4, 3), Fixed(np.array([0, 2, 1, 2])), A(3, 3), wrt=2)
def model_softmax_cross_entropy(x, labels, w):
    logits = x @ w
    m = logits.max(axis=1, keepdims=True)
    shifted = logits - m
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(4), labels])


@case(Dict(w1=A(4, 3), b1=A(4), w2=A(1, 4), b2=A(1)), A(5, 3), A(5))
def model_mlp(params, x, y):
    h = np.tanh(x @ params["w1"].T + params["b1"])
    out = (h @ params["w2"].T + params["b2"])[:, 0]
    return np.mean((out - y) ** 2)


@case(A(3, 3), A(3, 2), A(4, 2), wrt=(0, 1))
def model_rnn(w, u, xs):
    h = np.zeros(3)
    loss = 0.0
    for x in xs:
        h = np.tanh(w @ h + u @ x)
        loss = loss + np.sum(h * h)
    return loss


@case(A(3, 5), A(5), A(5), wrt=(0, 1, 2))
def model_layer_norm(x, gamma, beta):
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    y = (x - mu) / np.sqrt(var + 1e-5) * gamma + beta
    return np.sum(y * y * np.arange(5))


@case(A(4, 3), A(4, 3), wrt=(0, 1))
def model_attention(q, k):
    scores = q @ k.T / np.sqrt(3.0)
    scores = scores - scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=1, keepdims=True)
    return np.sum(weights @ k)


@case(A(5), S(), wrt=(0, 1))
def model_horner(coeffs, t):
    acc = 0.0
    for c in coeffs:
        acc = acc * t + c
    return acc


@case(S(lo=1.0, hi=4.0))
def model_newton_sqrt(a):
    x = a
    for _ in range(6):
        x = 0.5 * (x + a / x)
    return x


@case(A(6), Fixed(0.1))
def model_gradient_descent_steps(x, lr):
    w = x * 1.0
    for _ in range(3):
        w = w - lr * 2.0 * (w - 1.0)
    return np.sum((w - 0.5) ** 2)


@case(A(5))
def model_running_max(x):
    best = x[0]
    for i in range(1, 5):
        if x[i] > best:
            best = x[i]
    return best * best


@case(A(8))
def model_bisection_path(x):
    lo, hi = 0, 8
    s = 0.0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if np.sum(x[lo:mid]) > np.sum(x[mid:hi]):
            hi = mid
        else:
            lo = mid
        s = s + np.sum(x[lo:hi] ** 2)
    return s


@case(A(4), A(4), wrt=(0, 1))
def model_huber(pred, target):
    r = pred - target
    total = 0.0
    for i in range(4):
        a = np.abs(r[i])
        if a < 1.0:
            total = total + 0.5 * r[i] * r[i]
        else:
            total = total + a - 0.5
    return total


@case(A(3, 3))
def model_matrix_power_loop(m):
    p = np.eye(3)
    for _ in range(3):
        p = p @ m
    return np.sum(p)


@case(A(6))
def model_cumulative_product(x):
    out = np.ones(6)
    run = 1.0
    for i in range(6):
        run = run * (1.0 + 0.1 * x[i])
        out[i] = run
    return np.sum(out)


@case(A(2, 3), A(3), wrt=(0, 1))
def model_kwargs_in_numpy(x, v):
    return np.sum(np.sum(x * v, axis=1, keepdims=True) ** 2) + np.mean(x, axis=0) @ v


# ---- corners -----------------------------------------------------------------------------


def inner_product(a, b):
    return np.sum(a * b)


@case(A(3))
def corner_same_array_twice(x):
    return inner_product(x, x) + np.sum(x * x)


@case(A(3, 4))
def corner_positional_axis(x):
    return np.sum(np.sum(x, 0) ** 2) + np.sum(x.sum(1) ** 2) + np.sum(np.mean(x, axis=-1) ** 2)


@case(A(5))
def corner_reversed_slice(x):
    return np.sum(x[::-1] * x) + np.sum(x.reshape(5, -1)[::-2])


@case(A(3))
def corner_write_rows_and_columns(x):
    h = np.zeros((2, 3))
    h[0, :] = x
    h[1] = x * 2.0
    h[:, 1] += x[0]
    return np.sum(h**2)


@case(A(3))
def corner_float_conversion(x):
    return float(x[0]) * x[1] + float(np.sum(x))


@case(A(3))
def corner_assert_and_raise(x):
    assert x.shape == (3,), "bad shape"
    if x.shape[0] != 3:
        raise ValueError(f"expected 3 entries, got {x.shape[0]}")
    return np.sum(x)


@case(A(4))
def corner_recurrence_in_zeros_like(x):
    h = np.zeros_like(x)
    for i in range(4):
        h[i] = x[i] * h[i - 1] + x[i]
    return np.sum(h)


@case(Dict(layer=List(A(2), A(2))), A(2), wrt=1)
def corner_nested_containers(p, x):
    return np.sum(p["layer"][0] * x) + np.sum(p["layer"][1] * x * x)


@case(A(5))
def corner_integer_arithmetic(x):
    n = len(x)
    k = n // 2
    return np.sum(x[:k]) * x[k % n] + x[n - 1] ** 2


@case(A(3))
def corner_loop_variables_after_loop(x):
    for i in range(3):
        y = x * i
    return np.sum(y) * i


@case(A(5))
def corner_loop_reads_previous(x):
    prev = x[0]
    total = 0.0
    for i in range(1, 5):
        total = total + (x[i] - prev) ** 2
        prev = x[i]
    return total


@case(A(5))
def corner_loop_reads_previous_step_only(x):
    total = 0.0
    for i in range(5):
        if i > 0:
            total = total + np.sum((x[i] - prev) ** 2) * x[i]  # noqa: F821 - step before's
        prev = x[i] * 2.0  # noqa: F841 - read by the next step
    return total


@case(A(3), A(2, 3), wrt=(0, 1))
def corner_loop_reads_previous_step_in_inner_loop(x, w):
    total = 0.0
    for j in range(2):
        for i in range(3):
            if i > 0:
                total = total + np.sum(w[j, :] * h)  # noqa: F821 - the step before's
            h = np.tanh(x * w[j, :] + i)  # noqa: F841 - read by the next step
    return total


@case(A(3, 3))
def corner_loop_reads_previous_callee_result(x):
    total = 0.0
    for i in range(3):
        if i > 0:
            total = total + h * x[i, 0] + np.sum(g * x[i, :])  # noqa: F821 - step before's
        h = square_sum(x[i, :])  # noqa: F841 - read by the next step
        g = two_results(x[i, :])[1]  # noqa: F841 - read by the next step
    return total


@case(A(3, 3), A(2, 3), wrt=(0, 1))
def corner_loop_reads_previous_product_and_buffer(x, w):
    total = 0.0
    for i in range(3):
        if i > 0:
            total = total + np.sum(h * h) + np.sum(buf * x[i, :2])  # noqa: F821
        h = w @ x[i, :]  # noqa: F841 - read by the next step
        buf = np.zeros(2)
        buf[0] = x[i, 0] * 2.0
        buf[1] = np.sum(h)
    return total


@case(A(3))
def corner_inner_loop_reads_the_outer_step_before(x):
    total = 0.0
    for j in range(3):
        if j > 0:
            for i in range(2):
                total = total + prev * x[i]  # noqa: F821 - the outer step before's
        prev = x[j] ** 2  # noqa: F841 - read by the next outer step
    return total


@case(A(3))
def corner_loop_reads_a_name_set_only_in_a_branch_before(x):
    if np.sum(x) > -100.0:
        scale = x * 2.0
    total = 0.0
    for i in range(3):
        total = total + np.sum(scale * x[i])  # noqa: F821 - set above when the branch ran
    return total


@case(A(1, 3), A(3), Fixed(0), wrt=(0, 1))
def corner_loop_carries_a_name_set_only_in_a_branch_before(w, y, n):
    x = np.reshape(w, (3,))
    total = 0.0
    if np.sum(x) > -100.0:
        prev = x
    for i in range(n):
        total = total + np.sum(prev * y)
        prev = y * (i + 1.0)
    return total + np.sum(y * x)


@case(A(1, 3), A(3), wrt=(0, 1))
def corner_loop_carries_a_name_set_only_in_a_branch_before_two_steps(w, y):
    return corner_loop_carries_a_name_set_only_in_a_branch_before(w, y, 2)


@case(A(3))
def corner_branches_define_in_other_order(x):
    if x[0] > 0:
        a = x * 2.0
        b = np.sin(x)
    else:
        b = x * 3.0
        a = np.cos(x)
    return np.sum(a * b)


@case(A(2, 3), A(3, 4), A(4), wrt=(0, 1, 2))
def corner_matmul_chain(a, b, c):
    return np.sum(a @ b @ c)


@case(A(3))
def corner_continue_in_nested_loop(x):
    s = 0.0
    for i in range(3):
        for j in range(3):
            if i == j:
                continue
            s = s + x[i] * x[j]
    return s


@case(A(4))
def corner_break_in_nested_loop(x):
    s = 0.0
    for i in range(4):
        for j in range(4):
            if j > i:
                break
            s = s + x[i] * x[j]
    return s


@case(A(4))
def corner_while_true_data_break(x):
    i = 0
    s = 0.0
    while True:
        s = s + x[i] ** 2
        i = i + 1
        if s > 2.0 or i >= 4:
            break
    return s


@case(A(3, **POS))
def corner_negative_and_fractional_powers(x):
    return np.sum(x**-2.0) + np.sum((x + 3.0) ** 0.5) + np.sum(x**-1)


@case(A(3), A(3), wrt=(0, 1))
def corner_unused_argument(x, y):
    return np.sum(y * 2.0)


@case(A(3))
def corner_constant_result(x):
    return 3.0


@case(A(3))
def corner_chained_comparison(x):
    if -1.0 < x[0] < 1.0:
        return x[0] ** 2
    return x[0] * 3.0


@case(List(Tuple(A(2), A(2)), Tuple(A(2), A(2))))
def corner_loop_over_pairs(pairs):
    s = 0.0
    for a, b in pairs:
        s = s + np.sum(a * b)
    return s


@case(A(4, 3))
def corner_enumerate_index_stays_integer(m):
    s = 0.0
    for i, row in enumerate(m):
        if i % 2 == 0:
            s = s + np.sum(row**2)
        else:
            s = s - np.sum(np.sin(row))
    return s


def alternating(x, n):
    if n <= 0:
        return np.sum(x)
    if n % 2 == 0:
        return alternating(x * 2.0, n - 1)
    return alternating(np.sin(x), n - 1)


@case(A(3))
def corner_recursion_with_branches(x):
    return alternating(x, 4) + alternating(x, 3)


@case(A(6))
def corner_method_chain(x):
    return x.reshape(2, 3).T.sum(axis=1).mean()


@case(A(4))
def corner_builtin_sum_of_array(x):
    return sum(x) + sum(x * x, 1.0)


@case(S())
def corner_builtins_on_floats(a):
    return abs(a) + pow(a, 3) + a**2


@case(A(3), A(3), wrt=(0, 1))
def corner_swap_in_unpacking(x, y):
    a, b = x, y
    a, b = b, a * 2.0
    b, a = a, b
    return np.sum(a * np.sin(b))


@case(Dict(a=A(2), b=A(2)))
def corner_loop_over_dict(params):
    s = 0.0
    for k in params:
        s = s + np.sum(params[k] ** 2)
    return s


# ---- names given values without gradient -------------------------------------------------


@case(A(3))
def overwrite_with_constant(x):
    s = x * 2.0
    s = 0.0
    return s + x[0]


@case(A(3), A(3), wrt=0)
def overwrite_with_inactive_value(x, y):
    s = x * 2.0
    s = np.sin(y)
    return np.sum(s) + x[0]


@case(A(3))
def overwrite_inside_loop(x):
    s = x * 2.0
    for _ in range(2):
        s = np.zeros(3)
    return np.sum(s) + x[0]


@case(A(3), S(), wrt=0)
def overwrite_after_alias(x, n):
    s = x * 2.0
    t = s
    s = n * 1.0
    return np.sum(s * t)


@case(A(4))
def overwrite_in_taken_branch_only(x):
    s = np.sin(x)
    if x[0] > 0:
        s = np.ones(4)
    return np.sum(s * x)


@case(A(3), Fixed(0))
def for_zero_iterations_branching(x, n):
    s = np.sum(x)
    for i in range(n):
        if x[i] > 0:
            s = s * x[i]
    return s * s


# ---- adjoints that are one array (in-place accumulation must not touch them) --------------


@case(A(3), A(3), wrt=(0, 1))
def shared_adjoint_then_accumulate(x, y):
    u = np.sin(x)
    t = x + y  # d_x and d_y start as one array: unbroadcast(d_t, .)
    return np.sum(np.tanh(t) * 2.0) + np.sum(u)  # then d_x += ...: d_y must not change


@case(A(3))
def copied_name_then_accumulate(x):
    y = x
    a = np.sin(y)
    b = np.cos(x)
    return np.sum(a * b) + np.sum(y * 3.0)


@case(A(3), A(3), wrt=(0, 1))
def shared_adjoint_into_loop(x, y):
    s = x + y
    for _ in range(3):
        s = np.sin(s) + x * 0.5
    return np.sum(s) + np.sum(y * y)


@case(A(3), A(3), wrt=(0, 1))
def shared_adjoint_into_writes(x, y):
    h = x + y
    h[0] = h[1] * 2.0
    g = np.zeros(3)
    g[1] += np.sum(h)
    return np.sum(g * g) + np.sum(h * x)


@case(Dict(a=A(2), b=A(3)))
def loop_over_dict_items(params):
    total = 0.0
    for _name, value in params.items():
        total = total + np.sum(value * value)
    return total


@case(Dict(a=A(2), b=A(3)))
def loop_over_dict_values(params):
    total = 0.0
    for value in params.values():
        total = total + np.sum(np.sin(value))
    return total


# ---- comprehensions and appends ----------------------------------------------------------


@case(A(4))
def list_comprehension(x):
    parts = [np.sin(v) * 2.0 for v in x]
    return parts[0] + parts[3]


@case(A(4))
def comprehension_with_condition(x):
    parts = [x[i] * i for i in range(4) if i % 2 == 1]
    return parts[0] * parts[1]


@case(List(A(2), A(3)))
def generator_expression_summed(xs):
    return sum(np.sum(v * v) for v in xs)


@case(A(3, 2), A(2))
def nested_comprehension(m, w):
    rows = [[m[i, j] * w[j] for j in range(2)] for i in range(3)]
    return rows[0][1] + rows[2][0] * rows[1][1]


@case(A(2, 2, lo=-0.5, hi=0.5), A(3, 2))
def rnn_collecting_states(W, xs):
    hs = []
    h = np.zeros(2)
    for x in xs:
        h = np.tanh(W @ h + x)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


# ---- joining and repeating sequences ----------------------------------------------------


@case(A(2), A(2), wrt=(0, 1))
def lists_joined(a, b):
    xs = [a, a * 2.0]
    zs = xs + [b]
    return np.sum(zs[0] * zs[2]) + np.sum(zs[1] * zs[1])


@case(A(2), A(2), wrt=(0, 1))
def tuples_joined_twice(a, b):
    t = (a, b) + (a,) + (b * b,)
    return np.sum(t[0] * t[1] * t[2] + t[3])


@case(A(2), A(2), wrt=(0, 1))
def list_repeated(a, b):
    t = [a, b] * 3
    u = 2 * [b]
    return np.sum(t[0] * t[3] * t[5]) + np.sum(u[1] * a)


@case(A(2), A(2), wrt=(0, 1))
def list_extended_in_a_loop(a, b):
    xs = [a]
    for _ in range(3):
        xs += [xs[-1] * b]
    return np.sum(np.stack(xs) ** 2)


@case(List(A(2), A(3)), A(2), wrt=(0, 1))
def list_argument_joined(xs, w):
    ys = xs + [w * w]
    return np.sum(ys[0] * ys[2]) + np.sum(np.sin(ys[1]))


@case(List(List(A(2)), List(A(2), A(2))), A(2), wrt=(0, 1))
def lists_made_from_elements_then_joined(pairs, w):
    first, second = list(pairs[0]), tuple(pairs[1])
    both = first + list(second)
    return np.sum(both[1] * w) + np.sum(both[1] * both[2]) + np.sum(both[0])


@case(A(3, 2), wrt=0)
def rows_of_an_array_as_a_list(m):
    rows = list(m)
    return np.sum(rows[0] * rows[2])


@case(A(3))
def array_with_a_list_literal(x):
    return np.sum(np.sin(x * [1.0, 2.0, 3.0]) + np.cos(x + [1.0, 2.0, 3.0]))


@case(A(3), A(3), wrt=(0, 1))
def array_plus_a_list_of_an_array(a, b):
    return np.sum(np.sin(a + [b]) * (a * [b])[0])


# ---- functions defined inside: lambda and nested def ------------------------------------


@case(A(3), A(3), wrt=(0, 1))
def lambda_assigned_and_called(x, w):
    scale = lambda v: v * w  # noqa: E731 - the construct under test
    return np.sum(scale(x) ** 2) + np.sum(scale(np.sin(x)))


@case(A(3))
def lambda_called_inline(x):
    return np.sum((lambda v, c=2.0: np.sin(v) * v * c)(x))


@case(A(3), A(3), wrt=(0, 1))
def lambda_in_a_branching_loop(x, w):
    shrink = lambda v: np.tanh(v * w)  # noqa: E731
    h = x * 1.0
    for _ in range(4):
        if np.sum(h) > 0:
            h = shrink(h) + x
        else:
            h = shrink(h * 2.0)
    return np.sum(h * h)


@case(List(A(2), A(2), A(2)), A(2), wrt=(0, 1))
def lambda_mapped(xs, w):
    ys = list(map(lambda v: np.tanh(v * w), xs))
    zs = map(lambda u, v: u * v, ys, xs)
    return sum(np.sum(y) for y in ys) + np.sum(sum(zs))


@case(List(A(2), A(2), A(2)), A(2), wrt=(0, 1))
def filtered_and_combined(xs, w):
    kept = list(filter(lambda v: np.sum(v) > -100.0, xs))
    pairs = sum(np.sum((a - b * w) ** 2) for a, b in itertools.combinations(kept, 2))
    triple = sum(np.sum(a * b * c) for a, b, c in itertools.combinations(xs, 3))
    crossed = sum(np.sum(a * b) for a, b in itertools.product(xs[:2], [w, xs[2]]))
    chained = sum(np.sum(np.sin(v)) for v in itertools.chain(xs, [w]))
    nonzero = sum(v * 2.0 for v in filter(None, [xs[0][0], 0.0 * w[0], xs[1][1]]))
    return pairs + triple + crossed + chained + nonzero


@case(List(A(2), A(2), A(2)), A(2), wrt=(0, 1))
def accumulated_paired_and_starred(xs, w):
    running = sum(np.sum(v * w) for v in itertools.accumulate(xs))
    products = list(itertools.accumulate([w[0], xs[0][1], w[1]], operator.mul))
    smooth = itertools.accumulate(xs, lambda a, v: a * 0.5 + np.tanh(v * w))
    smoothed = np.sum(sum(smooth))  # (consumed by the next statement)
    steps = sum(np.sum((b - a) ** 2) for a, b in itertools.pairwise(xs + [w]))
    spread = sum(itertools.starmap(lambda a, b: np.sum(a * b), zip(xs, [w] * 3, strict=True)))
    return running + products[-1] * 2.0 + smoothed + steps + spread


@case(A(3), A(3), wrt=(0, 1))
def accumulated_by_keyword(x, y):
    products = itertools.accumulate(x * y, func=operator.mul, initial=None)
    return sum(products) + sum(itertools.accumulate(y, initial=None, func=max))


@case(A(3), A(3), wrt=(0, 1))
def zips_consumed_later(x, y):
    z = zip(x, y * 2.0, strict=False)  # (an iterator the next statement consumes)
    pairs = list(z)
    ordered = sorted(zip(x, y, strict=False), key=lambda p: float(p[1]))
    top = max(zip(x**2, y, strict=False), key=lambda p: float(p[0]))
    return sum(u * v for u, v in pairs) + sum(u * np.sin(v) for u, v in ordered[1:]) + top[1]


@case(A(3), Dict(w=A(3), v=A(3)), wrt=(0, 1))
def deletes_entries(x, d):
    hs = {"a": x * 2.0, "b": x**2, "c": np.sin(x)}
    del hs["c"]
    xs = [x * 1.0, d["v"] * x, x * 3.0]
    del xs[1], xs[-1]
    return sum(np.sum(v) for v in hs.values()) + np.sum(xs[0] * d["v"] * d["w"])


@case(A(3))
def set_comprehension_of_signs(x):
    signs = {int(v > 0) for v in x}  # (its entries carry no gradient: a set of them runs)
    return np.sum(x**2) * len(signs)


@case(A(4), A(), wrt=(0, 1))
def lambda_as_sort_key(x, w):
    items = [x[0] * 1.0, x[1] * 2.0, x[2] + 0.5, x[3] * x[0]]
    by_size = sorted(items, key=lambda v: abs(v) * w)  # w: a key only orders
    largest_first = sorted(items, reverse=True)
    return by_size[0] * 1.0 + by_size[1] * 2.0 + by_size[3] * 3.0 + largest_first[0] * w


@case(A(2), A(2, lo=0.2, hi=0.8), wrt=(0, 1))
def nested_def_rk4_solver(y0, w):
    dt = 0.1

    def rhs(y):
        return -w * y + np.sin(y)

    def step(y):
        k1 = rhs(y)
        k2 = rhs(y + 0.5 * dt * k1)
        k3 = rhs(y + 0.5 * dt * k2)
        k4 = rhs(y + dt * k3)
        return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    y = y0
    for _ in range(5):
        y = step(y)
    return np.sum(y * y)


@case(A(3), A(3), wrt=(0, 1))
def nested_def_on_branches_and_while(x, w):
    def damp(v):
        return v * np.cos(w) * 0.5

    h = x * 1.0
    if np.sum(x) > 0:
        h = damp(h) + w
    else:
        h = damp(damp(h))
    n = 0
    while n < 3:
        h = h + damp(h) * 0.1
        n += 1
    return np.sum(h**2)


@case(A(3))
def nested_def_reads_a_value_updated_in_place(x):
    h = x * 1.0

    def weigh(v):
        return v * h

    h[0] = 2.0
    h += x
    return np.sum(weigh(x)) + np.sum(weigh(np.sin(x)))


@case(A(3))
def nested_def_recursive(x):
    def power(v, n):
        if n == 0:
            return 1.0
        return v * power(v, n - 1)

    return np.sum(power(x, 3))


@case(A(3))
def nested_def_appends_to_a_captured_list(x):
    acc = []

    def push(v):
        acc.append(v * 2.0)

    for i in range(3):
        push(x[i] * x[i])
    return sum(acc) + acc[0] * acc[2]


@case(A(3))
def nested_def_in_a_loop_reads_the_counter(x):
    total = 0.0
    for i in range(3):

        def term(v):
            return v * (i + 1.0)  # noqa: B023 - called in the step that defines it

        total = total + np.sum(term(x) ** 2)
    return total


@case(A(3), A(3), wrt=(0, 1))
def nested_def_two_levels(x, w):
    def outer(v):
        def inner(u):
            return u * w

        return inner(v) + inner(v * v)

    return np.sum(outer(x))


# ---- partial objects and callable objects as callees ------------------------------------


def _scaled_loss(w, x, scale=1.0):
    return np.sum(np.tanh(w * x)) * scale


class _Quadratic:
    def __init__(self, c):
        self.c = c

    def __call__(self, w, x):
        return np.sum((w - x) ** 2) * self.c


DOUBLED_LOSS = functools.partial(_scaled_loss, scale=2.0)
QUADRATIC = _Quadratic(0.5)


@case(A(3), A(3), wrt=(0, 1))
def partial_and_callable_object_callees(w, x):
    bound = functools.partial(_scaled_loss, scale=3.0)  # binds no gradient: compiled
    return DOUBLED_LOSS(w, x) + QUADRATIC(w, x) + bound(x, w)


# ---- walrus, star unpacking, for/while ... else, enumerate(start=) -----------------------


@case(A(3))
def walrus_in_conditions(x):
    if (s := np.sum(x * x)) > 1.0:
        y = s * 2.0
    else:
        y = s + x[0]
    n = 3
    while (n := n - 1) >= 0:
        y = y + x[n] * (t := np.sin(x[n]))
    return y + t


@case(A(4))
def walrus_in_a_comprehension(x):
    big = [m for i in range(4) if (m := x[i] * 3.0) > -1.0]
    return sum(big) * m + len(big)


@case(A(4), A(3, 3), wrt=(0, 1))
def star_unpacking(x, rows):
    first, *rest = [x[0], x[1], x[2] * 2.0, x[3]]
    *init, last = (x[0] * x[1], x[2], x[3])
    a, *middle, b = [x[0], x[1], x[2], x[3] * x[0]]
    total = first * last + sum(rest) + sum(init) * b + a * middle[1]
    for i in range(3):
        head, *tail = [rows[i, 0], rows[i, 1], rows[i, 2]]
        total = total + head * tail[1]
    return total


@case(A(4, lo=0.0, hi=2.0))
def for_else_and_while_else(x):
    total = 0.0
    for i in range(4):
        if x[i] > 1.5:
            total = total + x[i]
            break
        total = total + x[i] * x[i]
    else:
        total = total * 2.0
    n = 0
    while n < 3:
        n += 1
        total = total + x[n] * 0.5
        if total > 5.0:
            break
    else:
        total = total * 3.0
    return total


@case(A(3, lo=0.5, hi=1.5))
def break_in_an_inner_loops_else(x):
    """The inner loop's else clause breaks the outer loop: the outer else must not run."""
    total = 0.0
    for i in range(3):
        for j in range(2):
            total = total + x[j] * x[i]
        else:
            if total > 2.0:
                break
        total = total + 0.1
    else:
        total = total * x[2]
    return total


@case(A(3), A(3), wrt=(0, 1))
def enumerate_with_start(x, w):
    total = 0.0
    for i, v in enumerate([x[0], x[1], x[2]], start=1):
        total = total + i * v * w[i - 1]
    for i, v in enumerate([w[0], w[1]], 2):
        total = total + i * v * v
    return total


# ---- dict comprehensions, with blocks, assert ---------------------------------------------


@case(A(3), Dict(a=A(2), b=A(2)), wrt=(0, 1))
def dict_comprehension(x, params):
    scaled = {k: v * x[0] for k, v in params.items()}
    squares = {i: x[i] * x[i] for i in range(3) if i != 1}
    named = {f"w{i}": x[i] + 1.0 for i in range(2)}
    return (
        sum(np.sum(v * v) for v in scaled.values())
        + squares[0] * squares[2]
        + named["w1"] * np.sum(scaled["b"])
    )


class _Timer:
    """A user's context manager that does not touch the values."""

    def __init__(self):
        self.entered = 0

    def __enter__(self):
        self.entered += 1
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.start
        return False


TIMER = _Timer()


@case(A(3, lo=0.5, hi=2.0), A(3), wrt=(0, 1))
def with_context_managers(x, y):
    with np.errstate(divide="ignore"), contextlib.nullcontext() as nothing:
        h = np.log(x * x) + y
    with TIMER as timer:
        for i in range(3):
            with contextlib.nullcontext():
                h = h * np.cos(y)
                if i == 1:
                    break
        if np.sum(h) > 100.0:
            return np.sum(h)
    assert nothing is None and timer.entered > 0
    return np.sum(h * h)


@case(A(3))
def assert_statements(x):
    h = np.tanh(x)
    assert h.shape == (3,), "a vector"
    for i in range(3):
        assert np.all(np.abs(h) <= 8.0)
        if h[i] > 0:
            h = h * 2.0
            assert np.all(np.isfinite(h)), f"step {i}"
    return np.sum(h * x)


# ---- try statements ---------------------------------------------------------------------


@case(A(3))
def try_body_runs_through(x):
    try:
        h = np.tanh(x) * 2.0
        if np.sum(np.abs(h)) > 100.0:
            raise ValueError("never")
    except ValueError:
        h = x
    return np.sum(h * h)


@case(A(4), A(4), wrt=(0, 1))
def try_raises_midway(x, y):
    h = x * y
    try:
        h = np.sin(h) + y
        if h.shape[0] > 3:
            raise ValueError("always, after the line above ran")
        h = np.exp(h)
    except ValueError as e:
        h = h * x * len(str(e))
    return np.sum(h**2)


@case(A(3))
def try_in_a_loop(x):
    acc = 0.0
    for i in range(3):
        try:
            if i == 1:
                raise KeyError(i)
            acc = acc + np.sum(np.sin(x * i))
        except KeyError:
            acc = acc + np.sum(x**2)
        finally:
            acc = acc * 0.9
    return acc


# ---- objects built inside with attributes set, partials binding differentiated values ----


@case(A(3, 4), A(3), A(4), wrt=(0, 1))
def local_object_attribute_set(w, b, x):
    layer = Layer(w, b)
    for _ in range(2):
        layer.b = layer.b * 0.5 + np.sum(layer(x))
    return np.sum(layer(x) ** 2)


@case(A(3, 4), A(3), A(4), wrt=(0, 1))
def partial_binding_arrays(w, b, x):
    f = functools.partial(affine, w, x, scale=2.0)
    return square_sum(f(b))
