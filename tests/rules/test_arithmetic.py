"""Rules of Python's arithmetic operators and their NumPy ufuncs."""

import math
import operator

import numpy as np
import pytest

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(1)

# (x shape, y shape); None is a Python float, () a 0-d array.
BROADCAST = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((), (3, 4)),
    ((3, 4), ()),
    (None, (3, 4)),
    ((3, 4), None),
    (None, None),
]

# (x shape, y shape) for ``x @ y``.
MATMUL_SHAPES = [
    ((3, 4), (4, 5)),  # 2-D @ 2-D
    ((4,), (4, 5)),  # 1-D @ 2-D
    ((3, 4), (4,)),  # 2-D @ 1-D
    ((4,), (4,)),  # 1-D @ 1-D
    ((2, 3, 4), (4, 5)),  # batched 3-D @ 2-D
    ((3, 4), (2, 4, 5)),  # 2-D @ batched 3-D
    ((2, 3, 4), (4,)),  # batched 3-D @ 1-D
    ((4,), (2, 4, 5)),  # 1-D @ batched 3-D
    ((2, 1, 3, 4), (3, 4, 2)),  # batch dimensions broadcast against each other
]


def value(shape, lo=-2.0, hi=2.0):
    return R.scalar(lo, hi) if shape is None else R(shape, lo, hi)


def binary(prims, x_dom=(-2.0, 2.0), y_dom=(-2.0, 2.0), shapes=BROADCAST):
    return [Spec(p, (value(xs, *x_dom), value(ys, *y_dom))) for p in prims for xs, ys in shapes]


def unary(prims, shapes=((3, 4), (5,), (), None), dom=(-2.0, 2.0)):
    return [Spec(p, (value(s, *dom),)) for p in prims for s in shapes]


SPECS = [
    *binary([operator.add, np.add]),
    *binary([operator.sub, np.subtract]),
    *binary([operator.mul, np.multiply]),
    *binary([operator.truediv, np.divide], y_dom=(0.5, 2.0)),
    *binary([operator.truediv], y_dom=(-2.0, -0.5), shapes=BROADCAST[:2]),
    *binary([operator.pow, np.power, pow], x_dom=(0.5, 2.0)),
    # integer exponents: any sign of base, the exponent is not differentiated
    *[
        Spec(p, (R((3, 4)), n), wrt=(0,), label=f"3x4-int{n}")
        for p in (operator.pow, np.power, pow)
        for n in (2, 3, -1)
    ],
    Spec(pow, (R.scalar(0.5, 2.0), R.scalar(), None), wrt=(0, 1), label="mod-None"),
    Spec(math.pow, (R.scalar(0.5, 2.0), R.scalar())),
    Spec(math.pow, (R.scalar(-2.0, -0.5), 3.0), wrt=(0,), label="negative-base"),
    *binary([np.float_power], x_dom=(0.5, 2.0)),
    Spec(np.float_power, (R((3, 4), -2.0, 2.0), 2), wrt=(0,), label="3x4-int2"),
    *unary([operator.neg, np.negative]),
    *unary([operator.pos, np.positive]),
    *[
        Spec(p, (R(xs), R(ys)), rtol=1e-5)
        for p in (operator.matmul, np.matmul)
        for xs, ys in MATMUL_SHAPES
    ],
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_add_sums_over_broadcast_axes():
    g = np.ones((3, 4))
    dx, dy = rule_grads(np.add, g, np.zeros((3, 1)), np.zeros((1, 4)))
    np.testing.assert_array_equal(dx, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(dy, np.full((1, 4), 3.0))


def test_python_scalar_operand_gets_a_scalar_gradient():
    dx, dy = rule_grads(operator.mul, np.ones((3, 4)), 2.0, np.full((3, 4), 3.0))
    assert np.ndim(dx) == 0 and float(dx) == 36.0
    np.testing.assert_array_equal(dy, np.full((3, 4), 2.0))


def test_subtract_and_divide_values():
    dx, dy = rule_grads(operator.sub, 1.0, 5.0, 3.0)
    assert (dx, dy) == (1.0, -1.0)
    dx, dy = rule_grads(operator.truediv, 1.0, 1.0, 2.0)
    assert (dx, dy) == (0.5, -0.25)


def test_power_values():
    dx, dy = rule_grads(operator.pow, 1.0, 2.0, 3.0)
    assert dx == pytest.approx(12.0) and dy == pytest.approx(8.0 * math.log(2.0))
    dx, _ = rule_grads(np.power, np.ones(2), np.array([-2.0, 0.0]), 3)
    np.testing.assert_allclose(dx, [12.0, 0.0])
    # at a zero base the exponent's gradient is taken as 0, not nan
    dx, dy = rule_grads(np.power, np.ones(1), np.zeros(1), np.array([2.0]))
    np.testing.assert_array_equal(dx, [0.0])
    np.testing.assert_array_equal(dy, [0.0])


def test_matmul_values():
    x, y = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    g = np.ones((2, 4))
    dx, dy = rule_grads(operator.matmul, g, x, y)
    np.testing.assert_array_equal(dx, g @ y.T)
    np.testing.assert_array_equal(dy, x.T @ g)
    dx, dy = rule_grads(np.matmul, 2.0, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(dx, [6.0, 8.0])
    np.testing.assert_array_equal(dy, [2.0, 4.0])
