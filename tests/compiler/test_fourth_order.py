"""Fourth derivatives through products (``np.prod``, ``np.cumprod``,
``np.linalg.matrix_power``): forward mode four times, and reverse mode over forward mode
three times, against central differences of the third derivative and closed forms,
exact where factors are zero."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import srcdiff as sd


@functools.cache
def along(f):
    """The derivative of ``f`` (of one number) in forward mode: one function per ``f``,
    so that the tests at other points share the derivatives compiled for it."""
    return lambda y: sd.jvp(f, (y,), (1.0,))[1]


def _product(x):
    return np.prod(np.array([x, x * x, 2.0 + x, np.sin(x)]))


def _product_through_zeros(x):
    return np.prod(np.array([x - 0.7, x, 2.0 + x, x - 0.7, x * x]))  # two zeros at 0.7


def _product_over_rows(x):
    rows = np.stack([np.array([x, x * x, 2.0 + x]), np.array([np.cos(x), x - 0.7, 3.0 * x])])
    return np.sum(np.prod(rows, axis=1) * np.array([1.5, -0.5]))


def _running_products(x):
    return np.sum(np.cumprod(np.array([x, x * x, 2.0 + x, np.sin(x)])) ** 2)


def _running_products_through_zeros(x):
    rows = np.array([[x - 0.7, x, 2.0 + x, x - 0.7], [x, x * x, 1.5, x]])
    return np.sum(np.cumprod(rows, axis=1) * np.array([1.0, -2.0, 0.5, 0.3]))


def _matrix_cube(x):
    return np.sum(np.linalg.matrix_power(np.array([[x, 1.0], [x * x, 2.0]]), 3) ** 2)


def _matrix_inverse_square(x):
    return np.sum(np.linalg.matrix_power(np.array([[2.0 + x, np.sin(x)], [x * x, 3.0]]), -2))


FUNCTIONS = [_product, _product_through_zeros, _product_over_rows, _running_products,
             _running_products_through_zeros, _matrix_cube, _matrix_inverse_square]  # fmt: skip


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("x", [0.6, 1.3])
def test_fourth_derivatives_match_differences_of_the_third(f, x):
    """They were refused: the products' third derivatives (rt.prod_third, cumprod_third,
    matrix_power_third) had no rules. (Off the zeros: the differences of the third
    derivative lose digits next to them; the closed forms below check them there.)"""
    third = along(along(along(f)))
    fine = (third(x + 1e-5) - third(x - 1e-5)) / 2e-5
    coarse = (third(x + 1e-3) - third(x - 1e-3)) / 2e-3
    assert abs(fine - coarse) <= 1e-3 * max(1.0, abs(fine))
    forward = along(third)(x)
    assert forward == pytest.approx(fine, rel=1e-6, abs=1e-6)
    assert sd.grad(third)(x) == pytest.approx(forward, rel=1e-12, abs=1e-12)


def test_fourth_derivatives_in_closed_form_at_zero_factors():
    """(x - 0.7)^2 x^3 (2 + x) at 0.7, where two factors are 0: its fourth derivative is
    24 times its polynomial's coefficient of (x - 0.7)^4, found exactly (no division)."""
    coefficients = np.polynomial.polynomial.polymul([-0.7, 1.0], [-0.7, 1.0])
    coefficients = np.polynomial.polynomial.polymul(coefficients, [0, 0, 0, 2.0, 1.0])
    fourth = np.polynomial.polynomial.polyval(
        0.7, np.polynomial.polynomial.polyder(coefficients, 4)
    )
    assert along(along(along(along(_product_through_zeros))))(0.7) == pytest.approx(fourth)
    assert sd.grad(along(along(along(_product_through_zeros))))(0.7) == pytest.approx(fourth)
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    d = np.array([[1.0, -1.0], [0.5, 2.0]])
    power = lambda t: np.sum(np.linalg.matrix_power(a + t * d, 4))  # noqa: E731
    assert along(along(along(along(power))))(0.0) == pytest.approx(
        24 * np.sum(np.linalg.matrix_power(d, 4))
    )
