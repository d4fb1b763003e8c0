"""Stage 3b: which operands have their result's shape, so that the adjoint passes a
gradient on without ``rt.unbroadcast``. Each case is checked against central differences
with arguments of one shape and of shapes that broadcast, where a wrong fact would sum
too little."""

from __future__ import annotations

import math

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
    names = (["a", "b", "c", "n", "xs"], frozenset(["a", "b", "c", "n", "xs", "s"]))
    assert rt.shape_pattern(names, (a, b, c, 2.0, [a]), {"s": "text", "extra": a}) == {
        "a": (-1,),
        "b": (-2, -1),
        "c": (-1, 1),
        "n": (),
        "xs": None,
        "s": None,
    }
    names = (["x", "y"], frozenset(["x", "y"]))
    assert rt.shape_pattern(names, (np.ones((4, 4)), np.float32(1.0)), {}) == {
        "x": (-1, -1),
        "y": (),
    }


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


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (2, 3)), ((2, 3), (3,)), ((1, 3), (2, 1))])
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


# ---- what the stage must not take for elementwise, an integer, or a fixed shape ----------


def matmul_called_as_a_function(a, b):
    c = np.matmul(a, b)  # a generalized ufunc: (n, n) @ (n,) is (n,), not (n, n)
    d = c.T + a
    return np.sum(d * d)


def parameter_named_like_a_counter(x, w, i):
    z = x[i] * w  # i is an array of indices here, not the loop's integer below
    s = np.sum(z * z)
    for i in range(2):
        s = s + np.sum(x[i])
    return s


def product_of_arrays_by_math(x, a, b):
    return np.sum(x * math.prod([a, b]))


class Centre:
    def __init__(self, c):
        self.c = c

    def mean(self):  # a method named like a reduction, returning an array
        return self.c * 1.0


def method_named_like_a_reduction(x, centre):
    d = x - centre.mean()
    return np.sum(d * d)


def keyword_named_like_star_args(x, *args, **options):
    return np.sum(args[0] * x) + np.sum(options["args"])


@pytest.mark.parametrize(
    "fn, args, wrt",
    [
        (matmul_called_as_a_function, (random(3, 3), random(3, seed=1)), (0, 1)),
        (
            parameter_named_like_a_counter,
            (random(4, 3), random(3, seed=1), np.array([0, 2])),
            (0, 1),
        ),
        (product_of_arrays_by_math, (random(3), random(3, 3, seed=1), random(3, 3, seed=2)), (0,)),
        (method_named_like_a_reduction, (random(4, 1), Centre(random(5))), (0,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_operations_that_are_not_elementwise_or_not_scalar(fn, args, wrt):
    check_function(fn, list(args), wrt=list(wrt))


def test_a_keyword_argument_gathered_by_star_kwargs_gives_no_parameter_its_shape():
    x, w, c = random(3), random(2, 3), random(3, seed=1)
    g = sd.grad(keyword_named_like_star_args)(x, w, args=c)
    np.testing.assert_allclose(g, np.sum(w, axis=0))


def make_column(a):
    a.shape = (a.size, 1)


def reshaped_by_a_callee(x, w):
    make_column(x)
    return np.sum(x * w)


def reshaped_through_an_alias(x, w):
    y = x
    y.shape = (y.size, 1)
    return np.sum(x * w)


def reshaped_by_setattr(x, w):
    setattr(x, "shape", (x.size, 1))  # noqa: B010 - the point of the test
    return np.sum(x * w)


def reshaped_under_no_grad(x, w):
    with sd.no_grad():
        x.shape = (x.size, 1)
    return np.sum(x * w)


def resized_in_place(x, w):
    _ = x.resize((x.size, 1), refcheck=False)
    return np.sum(x * w)


def resized_by_the_class_method(x, w):
    np.ndarray.resize(x, (x.size, 1), refcheck=False)
    return np.sum(x * w)


@pytest.mark.filterwarnings("ignore:Setting the shape:DeprecationWarning")  # NumPy 2.5
@pytest.mark.parametrize(
    "fn",
    [
        reshaped_by_a_callee,
        reshaped_through_an_alias,
        reshaped_by_setattr,
        reshaped_under_no_grad,
        resized_in_place,
        resized_by_the_class_method,
    ],
    ids=lambda f: f.__name__,
)
def test_a_shape_changed_in_place_is_no_longer_known(fn):
    w = random(3)
    g = sd.grad(fn, wrt=1)(random(3, seed=1), w)  # x becomes a column: x * w is (3, 3)
    assert g.shape == w.shape
    x = random(3, seed=1)
    np.testing.assert_allclose(g, np.sum(x))  # d/dw of sum(x[:, None] * w)


FACTOR = 2.0  # a global the next test turns into an array, and back


def scaled_by_a_global(x, w):
    t = FACTOR * 1.0
    z = t * x
    return np.sum(z * w) + np.sum(x * FACTOR)


def test_a_global_number_that_becomes_an_array_compiles_the_function_again():
    global FACTOR
    g = sd.grad(scaled_by_a_global, wrt=(0, 1))
    x, w = random(3), random(3, seed=1)
    g(x, w)
    try:
        FACTOR = random(2, 1, seed=2)  # now z is (2, 3): x's gradient sums over rows
        check_function(scaled_by_a_global, [x, w], wrt=[0, 1])
        gx, _ = g(x, w)
        assert gx.shape == x.shape
    finally:
        FACTOR = 2.0
    check_function(scaled_by_a_global, [x, w], wrt=[0, 1])


def closing_over(scale):
    def scaled(x):
        return np.sum(x * scale)

    return scaled


def test_a_closure_variable_that_becomes_an_array_compiles_the_function_again():
    fn = closing_over(3.0)
    g = sd.grad(fn)
    x = random(3)
    np.testing.assert_allclose(g(x), np.full(3, 3.0))
    fn.__closure__[0].cell_contents = random(2, 1, seed=1)
    np.testing.assert_allclose(g(x), np.full(3, np.sum(fn.__closure__[0].cell_contents)))
