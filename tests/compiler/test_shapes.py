"""Stage 3b: which operands have their result's shape, so that the adjoint passes a
gradient on without ``rt.unbroadcast``. Each case is checked against central differences
with arguments of one shape and of shapes that broadcast, where a wrong fact would sum
too little."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.compiler.cache import units_built

from .checker import check_function
from .test_cache import fresh

SCALE = 0.5
shadowed = 3.0  # a global a function's local of the same name must not be taken for


def elementwise(a, b):
    c = np.sin(a) * b + 0.5 * a
    return np.sum(c * c)


def integrator(y0, v0, n):
    y, v = y0, v0
    for _ in range(n):
        v = v + 0.1 * (-np.sin(y) - SCALE * v)
        y = y + 0.1 * v
        e = np.sum(v * v)
        if e > 2.0:
            v = v * np.sqrt(2.0 / e)
    return np.sum(y) + 0.5 * np.sum(v * v)


def grows_in_loop(x, w, n):
    h = x
    for _ in range(n):
        y = h * x  # x has y's shape in the first step only, when w is the larger
        h = y * w + x
    return np.sum(h)


def joins_branches(a, b, flag):
    if flag:
        z = a
    else:
        z = b
    return np.sum(z * a)


def breaks_early(a, b, n):
    h = a
    for i in range(n):
        if i == 1:
            h = h + b
            break
        h = h * 1.5
    return np.sum(h * a)


def continues_early(a, b, n):
    h = a
    out = 0.0
    for i in range(n):
        y = h * a  # h is b-shaped when the last step took the continue
        out = out + np.sum(y)
        if i % 2 == 0:
            h = y * b
            continue
        h = a
    return out


def reduced(x):
    s = np.sum(x)
    t = s + 1.0
    return np.sum(t * x)


def reads_before_assigning(x, n):
    out = x * 0.0
    for i in range(n):
        if i > 0:
            out = out + x * shadowed  # noqa: F823 - the previous step's value
        shadowed = np.ones((2, 1))  # noqa: F841 - a local, never the global
    return np.sum(out)


def number_and_array(c, x):
    return np.sum(c * x + c)


def adjoint_source(fn, args, wrt):
    g = sd.grad(fn, wrt=wrt)
    g(*args)
    return sd.source(g).split(f"def {fn.__name__}_adjoint")[1]


def random(*shape, seed=0):
    return np.random.default_rng(seed + len(shape)).standard_normal(shape)


def test_shape_patterns_share_a_token_between_equal_sizes():
    a, b, c = np.ones(3), np.ones((2, 3)), np.zeros((3, 1))
    names = ["a", "b", "c", "n", "xs", "s"]
    assert rt.shape_pattern(names, (a, b, c, 2.0, [a]), {"s": "text"}) == {
        "a": (-1,), "b": (-2, -1), "c": (-1, 1), "n": (), "xs": None, "s": None}
    assert rt.shape_pattern(["x", "y"], (np.ones((4, 4)), np.float32(1.0)), {}) == {
        "x": (-1, -1), "y": ()}


def test_calls_of_one_pattern_share_a_unit_and_other_patterns_get_their_own():
    fn = fresh(elementwise)
    g = sd.grad(fn, wrt=(0, 1))
    g(random(4), random(4, seed=1))
    g(random(7), random(7, seed=1))
    assert units_built(fn) == 1
    g(random(4), random(3, 4))
    assert units_built(fn) == 2


def test_elementwise_operands_of_one_shape_need_no_unbroadcast():
    a, b = random(4), random(4, seed=1)
    assert "unbroadcast" not in adjoint_source(elementwise, (a, b), (0, 1))
    check_function(elementwise, [a, b], wrt=[0, 1])


def test_arguments_that_broadcast_keep_their_sums():
    a, b = random(4), random(3, 4)
    assert "unbroadcast" in adjoint_source(elementwise, (a, b), (0, 1))
    check_function(elementwise, [a, b], wrt=[0, 1])
    check_function(elementwise, [b, a], wrt=[0, 1])


def test_one_function_called_with_equal_then_broadcasting_shapes():
    g = sd.grad(elementwise, wrt=(0, 1))
    a, b = random(4), random(4, seed=1)
    g(a, b)
    wide = random(3, 4)
    ga, gb = g(a, wide)
    assert ga.shape == (4,) and gb.shape == (3, 4)
    check_function(elementwise, [a, wide], wrt=[0, 1])


def test_a_loop_of_elementwise_updates_passes_gradients_on():
    y0, v0 = random(5), 3 * random(5, seed=1)
    source = adjoint_source(integrator, (y0, v0, 40), (0, 1))
    assert source.count("unbroadcast") == 1  # the factor np.sqrt(2.0 / e), a number
    check_function(integrator, [y0, v0, 40], wrt=[0, 1])
    check_function(integrator, [y0, 3 * random(1, seed=2), 40], wrt=[0, 1])


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (2, 3)), ((2, 3), (3,)),
                                    ((1, 3), (2, 1))])
def test_a_value_whose_shape_changes_in_a_loop(shapes):
    x, w = random(*shapes[0]), random(*shapes[1], seed=1)
    check_function(grows_in_loop, [x, w, 3], wrt=[0, 1])


@pytest.mark.parametrize("flag", [True, False])
def test_branches_giving_a_name_different_shapes(flag):
    a, b = random(3), random(2, 3)
    check_function(joins_branches, [a, b, flag], wrt=[0, 1])
    check_function(joins_branches, [a, random(3, seed=1), flag], wrt=[0, 1])


def test_units_for_other_shapes_keep_their_own_facts():
    """Units of one function share the parsed tree: facts found for arguments of one
    shape must not leak into the unit for broadcasting ones."""
    a, wide, narrow = random(3), random(2, 3), random(3, seed=1)
    sd.grad(joins_branches, wrt=(0, 1))(a, wide, True)
    sd.grad(joins_branches, wrt=(0, 1))(a, narrow, True)
    check_function(joins_branches, [a, wide, False], wrt=[0, 1])


def test_break_and_continue_carry_their_shapes_out():
    a, b = random(3), random(2, 3)
    check_function(breaks_early, [a, b, 4], wrt=[0, 1])
    check_function(continues_early, [a, b, 4], wrt=[0, 1])


def test_a_full_reduction_is_a_number():
    x = random(4)
    source = adjoint_source(reduced, (x,), (0,))
    assert source.count("unbroadcast") == 1  # s broadcast against x, not t against 1.0
    check_function(reduced, [x], wrt=[0])


def test_a_local_named_like_a_global_number_is_not_a_number():
    x = random(3)
    check_function(reads_before_assigning, [x, 3], wrt=[0])


def test_a_python_number_argument():
    g = sd.grad(number_and_array, wrt=(0, 1))
    dc, _ = g(2.0, random(3))
    assert np.ndim(dc) == 0
    check_function(number_and_array, [2.0, random(3)], wrt=[0, 1])
