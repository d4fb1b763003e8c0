"""Calls users write that srcdiff refused before their rules: a ufunc's own methods
(``np.add.reduce``, ``np.maximum.accumulate``, ``np.subtract.outer``), NumPy 2's
array API names (``np.linalg.vector_norm``, ``np.cumulative_sum``, ...), the FFT's shifts,
``np.heaviside``, ``np.ldexp``, ``np.nanvar``/``np.nanstd``, ``np.var``/``np.std`` with
``where=``, ``np.bincount`` with weights and ``math.fsum``, compiled in functions: each
gradient against central finite differences, each tangent against a directional
difference."""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad

rng = np.random.default_rng(11)
X = rng.uniform(0.5, 1.5, (4, 5))


def ufunc_methods(x):
    """A softmax's log-sum-exp by ufunc methods, a running max, pairwise distances."""
    top = np.maximum.reduce(x, axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.add.reduce(np.exp(x - top), axis=1))
    running = np.maximum.accumulate(np.sin(3.0 * x), axis=1)
    gaps = np.subtract.outer(x[0], x[1]) ** 2 + np.add.outer(x[2], x[3]) * np.multiply.outer(
        x[0], x[3]
    )
    growth = np.multiply.accumulate(x[:, :3], axis=0)
    smallest = np.minimum.reduce(x * x)
    return (
        np.sum(lse)
        + np.sum(running * x)
        + np.sum(np.sqrt(gaps + 1.0))
        + np.sum(np.add.accumulate(x, axis=1) ** 2)
        + np.sum(growth)
        + np.sum(np.multiply.reduce(x, axis=1))
        + np.sum(smallest)
    )


def linalg_names(x):
    m = x[:, :4]
    spd = m @ np.linalg.matrix_transpose(m) + np.eye(4)
    return (
        np.linalg.matrix_norm(m)
        + np.linalg.matrix_norm(m, ord="nuc")
        + np.sum(np.linalg.vector_norm(x, axis=1))
        + np.linalg.vector_norm(x, ord=3)
        + np.linalg.trace(spd)
        + np.sum(np.linalg.diagonal(m) ** 2)
        + np.sum(np.linalg.svdvals(m))
        + np.sum(np.linalg.multi_dot([x[0, :4], m.T, m, x[1, :4]]))
    )


def cumulative(x):
    s = np.cumulative_sum(x, axis=1, include_initial=True)
    p = np.cumulative_prod(x[0])
    q = np.cumulative_prod(x, axis=0, include_initial=True)
    return np.sum(s**2) + np.sum(p) + np.sum(q * q)


def statistics(x):
    y = np.where(x > 1.3, np.nan, x)  # missing values
    kept = x > 0.7
    return (
        np.sum(np.nanvar(y, axis=0))
        + np.nanstd(y)
        + np.sum(np.var(x, axis=1, where=kept))
        + np.std(x, where=kept, ddof=1)
    )


def spectra_and_steps(x):
    centred = np.fft.fftshift(x) * np.arange(20.0).reshape(4, 5)
    back = np.fft.ifftshift(centred, axes=1)
    step = np.heaviside(x - 1.0, 0.5) * x + np.heaviside(np.round(x) - 1.0, x)
    scaled = np.ldexp(x, np.arange(5))
    return np.sum(back**2) + np.sum(step) + np.sum(np.sin(scaled))


def counts_and_sums(x):
    bins = np.array([0, 2, 2, 1, 4])
    hist = np.bincount(bins, weights=x[0] * x[1], minlength=6)
    total = math.fsum([x[0, 0], x[1, 1] * 2.0, float(x[2, 2])])
    return np.sum(hist**2) + total * x[3, 3]


CASES = [ufunc_methods, linalg_names, cumulative, statistics, spectra_and_steps, counts_and_sums]


@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
def test_gradient_matches_finite_differences(f):
    x = X.copy()
    value, got = sd.value_and_grad(f)(x)
    assert value == pytest.approx(f(X.copy()), rel=1e-12)
    np.testing.assert_allclose(got, numeric_grad(f, [X.copy()]), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
def test_forward_mode_matches_a_directional_difference(f):
    v = np.random.default_rng(5).standard_normal(X.shape)
    value, tangent = sd.jvp(f, (X.copy(),), (v,))
    eps = 1e-6
    want = (f(X + eps * v) - f(X - eps * v)) / (2 * eps)
    assert float(tangent) == pytest.approx(want, rel=1e-5, abs=1e-7)


def test_a_running_max_sends_the_gradient_to_the_entry_that_set_it_ties_shared():
    """As ``np.max``'s rule: ``g`` of each running max goes to the entries equal to it so
    far, shared evenly at ties."""

    def f(x):
        return np.sum(np.maximum.accumulate(x) * np.array([1.0, 10.0, 100.0, 1000.0]))

    got = sd.grad(f)(np.array([1.0, 3.0, 3.0, 2.0]))
    np.testing.assert_allclose(got, [1.0, 10.0 + 50.0 + 500.0, 50.0 + 500.0, 0.0])
    _, tangent = sd.jvp(f, (np.array([1.0, 3.0, 3.0, 2.0]),), (np.array([0.0, 1.0, 0.0, 0.0]),))
    assert float(tangent) == pytest.approx(10.0 + 50.0 + 500.0)


def test_a_ufunc_method_without_a_rule_is_still_refused():
    def f(x):
        return np.sum(np.divide.accumulate(x))

    with pytest.raises(sd.CompileError, match="no derivative rule"):
        sd.grad(f)(np.array([1.0, 2.0, 3.0]))


def test_a_running_max_through_a_nan_sends_its_gradient_to_the_nan():
    """NaN equals nothing: the running max past a NaN (NaN too) was attained by no entry,
    and 0 / 0 made every gradient NaN; it is the NaN's, as np.max's rule gives it."""
    x = np.array([1.0, np.nan, 2.0, 0.5])
    grad = sd.grad(lambda a: np.sum(np.maximum.accumulate(a)))(x)
    np.testing.assert_array_equal(grad, [1.0, 3.0, 0.0, 0.0])
    _, tangent = sd.jvp(lambda a: np.maximum.accumulate(a), (x,), (np.arange(4.0),))
    np.testing.assert_array_equal(tangent, [0.0, 1.0, 1.0, 1.0])


def test_a_ufunc_sum_in_a_wider_dtype_has_its_tangent_in_that_dtype():
    x = np.arange(4, dtype=np.float32)
    value, tangent = sd.jvp(
        lambda a: np.add.reduce(a * a, dtype=np.float64), (x,), (np.ones(4, np.float32),)
    )
    assert value.dtype == tangent.dtype == np.float64


RUNNING = [np.maximum.accumulate, np.minimum.accumulate, np.fmax.accumulate, np.fmin.accumulate]


def running_shares(x, axis, running):
    """``share[..., j, i]``: the part of result ``i``'s gradient that entry ``j`` gets, by
    definition: shared evenly between the entries ``j <= i`` equal to result ``i`` (the
    NaNs where it is NaN)."""
    lanes = np.moveaxis(x, axis, -1)
    tops = np.moveaxis(running(x, axis=axis), axis, -1)
    hit = (lanes[..., :, None] == tops[..., None, :]) | (
        np.isnan(lanes)[..., :, None] & np.isnan(tops)[..., None, :]
    )
    hit &= np.tri(lanes.shape[-1], dtype=bool).T
    return hit / np.sum(hit, axis=-2, keepdims=True)


@pytest.mark.parametrize("running", RUNNING, ids=lambda r: r.__self__.__name__)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_a_running_extreme_with_ties_and_nans_shares_as_defined(running, axis):
    x = np.random.default_rng(3).integers(0, 3, (4, 5, 6)).astype(float)
    x[np.random.default_rng(4).random(x.shape) < 0.1] = np.nan
    g = np.random.default_rng(5).standard_normal(x.shape)
    share = running_shares(x, axis, running)

    grad = sd.grad(lambda a: np.sum(running(a, axis=axis) * g))(x)
    want = np.sum(share * np.moveaxis(g, axis, -1)[..., None, :], axis=-1)
    np.testing.assert_allclose(grad, np.moveaxis(want, -1, axis), rtol=1e-12, atol=1e-12)
    _, tangent = sd.jvp(lambda a: running(a, axis=axis), (x,), (g,))
    want = np.sum(share * np.moveaxis(g, axis, -1)[..., :, None], axis=-2)
    np.testing.assert_allclose(tangent, np.moveaxis(want, -1, axis), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("running", RUNNING, ids=lambda r: r.__self__.__name__)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_a_running_extreme_matches_finite_differences_to_second_order(running, axis):
    x = np.random.default_rng(6).uniform(-2.0, 2.0, (3, 4, 5))
    w = np.random.default_rng(7).standard_normal(x.shape)

    def f(a):
        return np.sum(w * running(a * a, axis=axis) ** 2)

    np.testing.assert_allclose(sd.grad(f)(x), numeric_grad(f, (x,)), rtol=1e-6, atol=1e-8)
    v = np.random.default_rng(8).standard_normal(x.shape)
    _, tangent = sd.jvp(f, (x,), (v,))
    assert float(tangent) == pytest.approx(np.sum(numeric_grad(f, (x,)) * v), rel=1e-6)
    hv = sd.grad(lambda a: np.sum(sd.grad(f)(a) * v))(x)
    want = numeric_grad(lambda a: np.sum(sd.grad(f)(a) * v), (x,))
    np.testing.assert_allclose(hv, want, rtol=1e-5, atol=1e-7)


def test_a_long_running_max_takes_memory_in_proportion_to_its_length():
    """200,000 entries: an n x n matrix of shares would take 40 GB."""
    x = np.random.default_rng(9).standard_normal(200_000)
    grad = sd.grad(lambda a: np.sum(np.maximum.accumulate(a)))(x)
    setters = np.flatnonzero(np.diff(np.maximum.accumulate(x), prepend=-np.inf))
    want = np.zeros_like(x)
    want[setters] = np.diff(setters, append=x.size)  # (each setter's run length)
    np.testing.assert_array_equal(grad, want)
    _, tangent = sd.jvp(lambda a: np.maximum.accumulate(a), (x,), (np.arange(x.size * 1.0),))
    latest = np.zeros_like(x)
    latest[setters] = setters
    np.testing.assert_array_equal(tangent, np.maximum.accumulate(latest))  # (setter's index)


def test_variances_have_second_derivatives():
    """var, std, nanvar and nanstd (with where=) through the gradient of a gradient and
    the tangent of a gradient: the centring their rules share has rules of its own."""
    v = np.random.default_rng(10).standard_normal(X.shape)

    def slope(a):
        return np.sum(sd.grad(statistics)(a) * v)

    want = numeric_grad(slope, (X.copy(),))
    np.testing.assert_allclose(sd.grad(slope)(X.copy()), want, rtol=1e-5, atol=1e-7)
    _, tangent = sd.jvp(sd.grad(statistics), (X.copy(),), (v,))
    np.testing.assert_allclose(np.sum(tangent * v), np.sum(want * v), rtol=1e-5)


@pytest.mark.parametrize("ord", [2, 1, 0, -1, 3, np.inf, -np.inf])
def test_a_vector_norm_over_no_axis_is_each_entry_s_own(ord):
    """``axis=()`` reduces no axis in NumPy (PyTorch's empty dim reduces all): the norm
    of each entry alone, where the rule read it as the norm of all of them."""
    w = np.random.default_rng(12).standard_normal(X.shape)

    def f(a):
        return np.sum(np.linalg.vector_norm(a - 1.0, axis=(), ord=ord) * w)

    want = numeric_grad(f, (X.copy(),))
    np.testing.assert_allclose(sd.grad(f)(X.copy()), want, rtol=1e-6, atol=1e-8)
    _, tangent = sd.jvp(f, (X.copy(),), (w,))
    assert float(tangent) == pytest.approx(np.sum(want * w), rel=1e-6, abs=1e-8)


def test_a_ufunc_sum_takes_its_array_by_keyword_and_its_own_default_axis():
    """np.add.reduce and np.add.accumulate have np.sum's and np.cumsum's rules, with
    NumPy's ``array=`` and ``axis=0`` (theirs: ``a=`` and None)."""
    w = np.arange(1.0, 6.0)

    def f(a):
        return np.sum(np.add.reduce(array=a * a) * w) + np.sum(np.add.accumulate(array=a) * a)

    want = numeric_grad(f, (X.copy(),))
    np.testing.assert_allclose(sd.grad(f)(X.copy()), want, rtol=1e-6, atol=1e-8)
    _, tangent = sd.jvp(f, (X.copy(),), (X.copy(),))
    assert float(tangent) == pytest.approx(np.sum(want * X), rel=1e-6)


def test_a_running_max_of_a_list_of_numbers():
    def f(a, b):
        return np.sum(np.maximum.accumulate([a, b * 2.0, a * b]) * np.array([1.0, 10.0, 100.0]))

    assert sd.grad(f, wrt=(0, 1))(1.5, 0.5) == pytest.approx((111.0, 0.0))
    assert sd.grad(f, wrt=(0, 1))(0.5, 1.5) == pytest.approx((1.0, 220.0))
    _, tangent = sd.jvp(f, (0.5, 1.5), (1.0, 1.0))
    assert float(tangent) == pytest.approx(221.0)
