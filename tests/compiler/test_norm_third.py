"""Third derivatives through ``np.linalg.norm``, every ``ord`` and ``axis`` whose second
derivatives srcdiff has, against central differences of the second and closed forms;
those of the nuclear and spectral norms of matrices too (through the SVD's second
derivative), refused where singular values coincide. Fourth and fifth derivatives of
every norm, against differences of the next-lower one and closed forms."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import srcdiff as sd

A = np.array([[0.3, 1.2, -0.5], [1.5, 0.9, -2.0], [0.7, -0.1, 0.4]])
B = np.array([[0.5, -0.7, 0.2], [0.1, 0.6, -0.3], [-0.4, 0.8, 0.9]])

CASES = [
    (ord, axis)
    for ord in (None, 1, 2, 3, 2.5, 0.5, -1, np.inf, -np.inf, "fro")
    for axis in (None, 0, 1, (0, 1))
    if not (ord in (3, 2.5, 0.5) and axis in (None, (0, 1)))  # (no such matrix norms)
    and not (ord == "fro" and axis in (0, 1))
    and not (ord == 2 and axis in (None, (0, 1)))  # (spectral: below)
]
# (one of each family of vector norms, also of a 1-D array: 2, 1, p, inf)
VECTOR_TOO = (None, 1, 3, np.inf)


@functools.cache
def _normed(ord, axis, rows=None):
    """The loss through the norm of a path of matrices (of their first ``rows``; of the
    first row alone, a vector, where ``rows`` is 0). One function per norm, shared by the
    tests, and so are the derivatives compiled for it."""
    a, b = (A, B) if rows is None else (A[rows], B[rows]) if rows == 0 else (A[:rows], B[:rows])

    def loss(s):
        return np.sum(np.sin(np.linalg.norm(a + s * b + s * s * a * b, ord=ord, axis=axis)))

    return loss


@functools.cache
def derivative(f):
    """``sd.grad(f)``, one per ``f``: the tests built on one order share its compiles."""
    return sd.grad(f)


@functools.cache
def along(f):
    """The derivative of ``f`` by forward mode (one function per ``f``, as above)."""
    return lambda y: sd.jvp(f, (y,), (1.0,))[1]


@pytest.mark.parametrize("ord, axis", CASES, ids=[f"{o}-{a}" for o, a in CASES])
def test_a_third_derivative_matches_differences_of_the_second(ord, axis):
    """Refused before: rt.norm_grad's forward rule called helpers with no rules."""
    vector = axis == 0 and ord in VECTOR_TOO
    for loss in (_normed(ord, axis), _normed(ord, None, 0) if vector else None):
        if loss is None:
            continue
        second = derivative(derivative(loss))
        third = derivative(second)(0.3)
        fd = (second(0.3 + 1e-5) - second(0.3 - 1e-5)) / 2e-5
        assert third == pytest.approx(fd, rel=1e-6, abs=1e-8)
        assert along(along(along(loss)))(0.3) == pytest.approx(third, rel=1e-10)
        assert sd.grad(along(along(loss)))(0.3) == pytest.approx(third, rel=1e-10)


def test_third_derivatives_in_closed_form():
    """||s v||^3 = |s|^3 ||v||^3 for every norm: the third derivative is 6 ||v||^3."""
    v = np.array([0.3, -1.2, 0.5, 2.0])
    for ord in (None, 1, 3, 0.5, np.inf):
        cube = lambda s, ord=ord: np.linalg.norm(s * v, ord=ord) ** 3  # noqa: E731
        want = 6 * np.linalg.norm(v, ord=ord) ** 3
        assert sd.grad(sd.grad(sd.grad(cube)))(0.7) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_a_third_derivative_through_a_matrix_svd_norm_matches_differences(ord):
    """Refused before: the slope ``U V^T`` (``u_k v_k^T``) had no second derivative; it is
    now forward mode over forward mode of that slope, through the SVD's rules."""
    for loss in (_normed(ord, None), _normed(ord, None, 2)):
        second = derivative(derivative(loss))
        third = derivative(second)(0.3)
        near, far = ((second(0.3 + h) - second(0.3 - h)) / (2 * h) for h in (1e-5, 2e-5))
        assert near == pytest.approx(far, rel=1e-5)
        assert third == pytest.approx(near, rel=1e-6, abs=1e-8)
        assert along(along(along(loss)))(0.3) == pytest.approx(third, rel=1e-10)


@pytest.mark.parametrize("ord", ["nuc", 2])
def test_svd_norm_third_derivatives_in_closed_form(ord):
    """||s M||^3 = |s|^3 ||M||^3: the third derivative is 6 ||M||^3."""
    cube = lambda s: np.linalg.norm(s * A, ord=ord) ** 3  # noqa: E731
    want = 6 * np.linalg.norm(A, ord=ord) ** 3
    assert sd.grad(sd.grad(sd.grad(cube)))(0.7) == pytest.approx(want, rel=1e-10)


def test_a_third_derivative_where_singular_values_coincide_is_refused():
    def loss(s):
        return np.linalg.norm(np.diag([2.0, 2.0, 1.0]) + s * B, "nuc") ** 2

    with pytest.raises(sd.CompileError, match="singular values"):
        sd.grad(sd.grad(sd.grad(loss)))(0.0)


def _matches_differences_of(lower, value, at=0.3):
    """``value`` agrees with central differences of ``lower`` at two steps."""
    near, far = ((lower(at + h) - lower(at - h)) / (2 * h) for h in (1e-4, 2e-4))
    assert near == pytest.approx(far, rel=1e-5, abs=1e-7)
    assert value == pytest.approx(near, rel=1e-5, abs=1e-7)


# (one of each family of norms: 2, 1, p > 1, p < 0, inf along an axis, and a matrix's)
FOURTH = [(None, None), (1, 0), (3, 1), (-1, None), (np.inf, 1), ("fro", (0, 1))]


@pytest.mark.parametrize("ord, axis", FOURTH, ids=[f"{o}-{a}" for o, a in FOURTH])
def test_a_fourth_derivative_matches_differences_of_the_third(ord, axis):
    """Refused before: rt.norm_slope_second, the slope's second derivative, had no rules;
    its derivative in x is rt.norm_slope_power, whose rules are itself one order up."""
    loss = _normed(ord, axis)
    third = derivative(derivative(derivative(loss)))
    fourth = sd.grad(third)
    _matches_differences_of(third, fourth(0.3))
    assert along(along(along(along(loss))))(0.3) == pytest.approx(fourth(0.3), rel=1e-9)


def test_fourth_and_fifth_derivatives_in_closed_form():
    """||s v||_p^5 = |s|^5 ||v||_p^5: the fifth derivative is 120 ||v||_p^5 (p < 1, the
    general p-norm's formula, which every p other than 1, 2 and inf takes)."""
    v = np.array([0.3, -1.2, 0.5, 2.0])
    for ord in (0.5,):
        fifth = lambda s, ord=ord: np.linalg.norm(s * v, ord=ord) ** 5  # noqa: E731
        want = 120 * np.linalg.norm(v, ord=ord) ** 5
        assert sd.grad(sd.grad(sd.grad(sd.grad(sd.grad(fifth)))))(0.7) == pytest.approx(
            want, rel=1e-10
        )


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_a_fourth_derivative_through_a_matrix_svd_norm_matches_differences_of_the_third(ord):
    """Refused before (the slope's third derivative was rt.norm_slope_power, a product of
    directions, which the SVD's slope does not take): rt.norm_slope_along takes rows of
    directions, and its rules are itself with one more, through the SVD's rules."""
    loss = _normed(ord, None)
    third = derivative(derivative(derivative(loss)))
    fourth = sd.grad(third)(0.3)
    _matches_differences_of(third, fourth)
    assert along(along(along(along(loss))))(0.3) == pytest.approx(fourth, rel=1e-9)


def test_a_fifth_derivative_through_a_matrix_svd_norm_in_closed_form():
    """||s M||^5 = |s|^5 ||M||^5: the fifth derivative is 120 ||M||^5."""
    fifth = lambda s: np.linalg.norm(s * A, ord="nuc") ** 5  # noqa: E731
    want = 120 * np.linalg.norm(A, ord="nuc") ** 5
    assert sd.grad(sd.grad(sd.grad(sd.grad(sd.grad(fifth)))))(0.7) == pytest.approx(want, rel=1e-9)
