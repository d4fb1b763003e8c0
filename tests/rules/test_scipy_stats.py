"""Rules of scipy.stats.zscore, zmap and gzscore (SciPy's code for them goes through helpers
srcdiff does not follow: they were refused), against central differences in float64 at
two step sizes, in float32, through the compiler in both modes and to second order;
``nan_policy='omit'`` leaves NaN entries out, and gives NaN results no gradient."""

import importlib.util

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.rules import lookup
from tests.soundness.verify import verify_both_modes

from .spec import Sampler, Spec, table_tests

HAS_SCIPY = importlib.util.find_spec("scipy") is not None
if HAS_SCIPY:
    import scipy.stats as st
else:  # the table is empty and the tests below are skipped
    st = None
needs_scipy = pytest.mark.skipif(not HAS_SCIPY, reason="SciPy is not installed")

R = Sampler(53)
HOLES = np.array([[0.3, np.nan, -1.2, 0.8], [1.1, 0.4, 1.9, -0.6], [0.2, -0.9, np.nan, 0.7]])

SPECS = (
    [
        Spec(st.zscore, (R((5,)),)),
        Spec(st.zscore, (R((3, 4)),), {"axis": 1, "ddof": 1}),
        Spec(st.zscore, (R((3, 4)), None), label="all"),
        Spec(st.gzscore, (R((5,), 0.5, 2.0),)),
        Spec(st.gzscore, (R((3, 4), 0.5, 2.0),), {"axis": 1, "ddof": 1}),
        Spec(st.zmap, (R((5,)), R((5,)))),
        Spec(st.zmap, (R((3, 4)), R((3, 4))), {"axis": 1, "ddof": 1}),
        Spec(st.zmap, (R((4,)), R((6, 4)))),  # scores of one row against six
        Spec(st.zmap, (R((3, 4)), HOLES, 1, 0, "omit"), wrt=(0, 1), label="omit"),
        # what the rules above standardize by: (kept, n, mean, deviation)
        Spec(rt.standardizing, (R((5,)),)),
        Spec(rt.standardizing, (R((3, 4)),), {"axis": 1, "ddof": 1}),
        Spec(rt.standardizing, (R((3, 4)), None), label="all"),
        Spec(rt.standardizing, (HOLES, 1, 0, "omit"), wrt=(0,), label="omit"),
    ]
    if HAS_SCIPY
    else []
)

# (zscore with nan_policy="omit" gives NaN results, which the table cannot pair: see
# test_omitted_nans_get_no_gradient)
(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


W = np.cos(np.arange(12.0)).reshape(3, 4)


def standardized(a):
    return np.sum(np.sin(st.zscore(a, axis=1, ddof=1)) * W)


def geometric(a):
    return np.sum(np.sin(st.gzscore(np.exp(a), axis=None)) * W)


def relative(a, b):
    return np.sum(np.sin(st.zmap(a, b)) * W)


def omitting(a):
    return np.nansum(np.sin(st.zscore(a, axis=None, nan_policy="omit")) * W)


@needs_scipy
@pytest.mark.parametrize("fn, nargs", [(standardized, 1), (relative, 2)], ids=["zscore", "zmap"])
def test_through_the_compiler_in_both_modes_and_second_order(fn, nargs):
    """Refused before (SciPy's helpers update arrays in place); now both modes, and
    sd.hessian against central differences of the gradient."""
    args = tuple(R((3, 4)) for _ in range(nargs))
    verify_both_modes(fn, args, np.random.default_rng(0))
    for i, a in enumerate(args):
        grad = sd.grad(fn, wrt=i)
        numeric = np.zeros((a.size, a.size))
        for k in range(a.size):
            e = np.zeros(a.size)
            e[k] = 1e-5
            up, down = list(args), list(args)
            up[i], down[i] = a + e.reshape(a.shape), a - e.reshape(a.shape)
            numeric[:, k] = np.ravel(grad(*up) - grad(*down)) / 2e-5
        hessian = sd.hessian(fn, wrt=i)(*args).reshape(a.size, a.size)
        np.testing.assert_allclose(hessian, numeric, rtol=1e-5, atol=1e-6)


@needs_scipy
def test_omitted_nans_get_no_gradient():
    """With nan_policy='omit', the NaN entries are left out of the mean and deviation, and
    their own results, NaN whatever the others, give them none."""
    a = HOLES.copy()
    d = sd.grad(omitting)(a)
    assert np.all(d[np.isnan(a)] == 0.0)
    direction = np.where(np.isnan(a), 0.0, np.sin(np.arange(12.0)).reshape(3, 4))
    for h in (1e-6, 1e-4):
        numeric = (omitting(a + h * direction) - omitting(a - h * direction)) / (2 * h)
        assert np.sum(d * direction) == pytest.approx(numeric, rel=1e-6)
    _, tangent = sd.jvp(omitting, (a,), (direction,))
    assert tangent == pytest.approx(np.sum(d * direction), rel=1e-9)


@needs_scipy
def test_the_rules_load_when_scipy_stats_is_looked_up():
    """Importing scipy.stats costs: its rules load when one of its functions is looked up."""
    assert lookup(st.zscore) is not None and lookup(st.zmap) is not None
