"""NumPy's and Python's calls whose rules reuse others' (``math.pow`` and
``np.float_power`` as ``np.power``, ``math.prod`` as a product of entries, ``np.ptp`` as
``np.max - np.min``, ``divmod`` and ``np.modf`` as remainders, ``np.meshgrid`` and
``np.broadcast_arrays`` as broadcasts, ``x.tolist()`` and ``x.view()`` as the same
entries, ``np.cov`` and ``np.corrcoef``; the positions of ``np.argpartition``,
``np.digitize`` and ``np.lexsort``, integers), compiled in functions: each gradient against
central finite differences, and each tangent against a directional difference."""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad

rng = np.random.default_rng(7)
X = rng.uniform(0.5, 1.5, 4)
M = rng.normal(size=(3, 6))


def pow_and_prod(x):
    a = math.pow(float(x[0]), 2.5) + math.pow(2.0, float(x[1]))
    b = math.prod([x[0], x[1], x[2]]) + math.prod(x, start=2.0)
    return a + b + np.sum(np.float_power(x, 1.5))


def lists_and_views(x):
    values = x.tolist()
    s = sum(v * v for v in values[1:])
    grid = x.reshape(2, 2).tolist()
    v = x.view()
    return s + grid[1][0] * 3.0 + np.sum(v**3)


def extremes_and_parts(x):
    q, r = divmod(x, 0.4)
    f, i = np.modf(x * 3.0)
    q2, r2 = divmod(float(x[1]), 0.3)
    return np.ptp(x) + np.sum(r**2 + q) + np.sum(f**2 * (i + 1.0)) + r2**2


def grids(x):
    gx, gy = np.meshgrid(x, x[:3] ** 2)
    a, b = np.broadcast_arrays(x[:, None], x[:2])
    return np.sum(np.sin(gx) * gy) + np.sum(a * b**2)


def statistics(m):
    return np.sum(np.cov(m) ** 2) + np.sum(np.corrcoef(m, m[0] ** 2)[0] * 3.0)


def positions(x):
    smallest = x[np.argpartition(x, 1)[:2]]
    largest = x[x.argpartition(-2)[-2:]]
    bins = np.digitize(x, [0.8, 1.2])
    order = np.lexsort((x, bins))
    return np.sum(smallest**2) + np.sum(largest**3) + np.sum(x * bins) + x[order] @ x


CASES = [(pow_and_prod, X), (lists_and_views, X), (extremes_and_parts, X), (grids, X),
         (statistics, M), (positions, X)]  # fmt: skip


@pytest.mark.parametrize("f, x", CASES, ids=[f.__name__ for f, _ in CASES])
def test_gradient_matches_finite_differences(f, x):
    value, got = sd.value_and_grad(f)(x)
    assert value == pytest.approx(f(x.copy()), rel=1e-12)
    np.testing.assert_allclose(got, numeric_grad(f, [x]), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, x", CASES, ids=[f.__name__ for f, _ in CASES])
def test_forward_mode_matches_a_directional_difference(f, x):
    v = rng.standard_normal(x.shape)
    _, tangent = sd.jvp(f, (x,), (v,))
    eps = 1e-6
    want = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    assert float(tangent) == pytest.approx(want, rel=1e-5, abs=1e-7)


def test_float32_stays_float32():
    x = X.astype(np.float32)
    for f in (lists_and_views, grids):
        assert sd.grad(f)(x).dtype == np.float32


def test_a_view_as_another_dtype_is_refused():
    def f(x):
        return np.sum(x.view(np.float32)[::2] * x)

    with pytest.raises(sd.CompileError, match="another dtype"):
        sd.grad(f)(X)
