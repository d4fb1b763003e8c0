"""A reparameterised draw whose scale is 0 shows no standard draw ``z`` (``x = loc +
0 * z``), so its derivative in the scale, ``z``, cannot be recovered from it: srcdiff
refuses it at the user's line instead of returning NaN; the location's derivative and
draws whose scale is not 0 stay right."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad


def normal(mu, sigma):
    rng = np.random.default_rng(3)
    return np.sum(rng.normal(mu, sigma, size=4) ** 2)


def legacy_normal(mu, sigma):
    np.random.seed(4)
    return np.sum(np.random.normal(mu, sigma, size=4) ** 2)


def location_scale(mu, sigma):
    rng = np.random.default_rng(5)
    return np.sum(rng.laplace(mu, sigma, 3) + rng.gumbel(mu, sigma, 3) + rng.logistic(mu, sigma, 3))


def uniform(low, width):
    rng = np.random.default_rng(6)
    return np.sum(rng.uniform(low, low + width, size=3) ** 2)


def exponential(mu, scale):
    rng = np.random.default_rng(7)
    return np.sum(rng.exponential(scale, size=3) * mu)


def lognormal(mu, sigma):
    rng = np.random.default_rng(8)
    return np.sum(rng.lognormal(mu, sigma, size=3))


DRAWS = [normal, legacy_normal, location_scale, uniform, exponential, lognormal]
MU = np.array(0.3)


@pytest.mark.parametrize("fn", DRAWS, ids=lambda f: f.__name__)
def test_zero_scale_is_refused_not_nan(fn):
    with pytest.raises(sd.CompileError, match="scale that is 0") as info:
        sd.grad(fn, wrt=(0, 1))(MU, np.array(0.0))
    assert info.value.filename == __file__ and info.value.hint


@pytest.mark.parametrize("fn", DRAWS, ids=lambda f: f.__name__)
def test_zero_scale_in_forward_mode_is_refused(fn):
    with pytest.raises(sd.CompileError, match="scale that is 0"):
        sd.jvp(fn, (MU, np.array(0.0)), (np.array(1.0), np.array(1.0)))


@pytest.mark.parametrize("fn", [normal, legacy_normal, location_scale, lognormal],
                         ids=lambda f: f.__name__)  # fmt: skip
def test_location_gradient_at_zero_scale_when_the_scale_is_not_differentiated(fn):
    got = sd.grad(fn)(MU, np.array(0.0))
    assert np.isfinite(got)
    np.testing.assert_allclose(got, numeric_grad(fn, (MU, np.array(0.0))), rtol=1e-6)


@pytest.mark.parametrize("fn", DRAWS, ids=lambda f: f.__name__)
def test_nonzero_scale_matches_finite_differences(fn):
    args = (MU, np.array(0.7))
    got = sd.grad(fn, wrt=(0, 1))(*args)
    want = numeric_grad(fn, args, wrt=(0, 1))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-8)
