"""Library code around the differentiated values that changes no array: the filters of
``warnings``, an ``lru_cache``, a decorator that renames keyword arguments (as SciPy's
``scipy.stats.moment`` uses them). Their gradients match central finite
differences; what srcdiff cannot follow is refused at the user's line."""

import functools
import importlib.util
import inspect
import re
import warnings

import numpy as np
import pytest
import scipy.stats

import srcdiff as sd

W = np.array([0.5, -1.5, 2.0])


def _fd(f, x, h):
    e = np.eye(x.size)
    return np.array([(f(x + h * e[i]) - f(x - h * e[i])) / (2 * h) for i in range(x.size)])


def _check(f, x):
    got = sd.grad(f)(x)
    for h in (1e-4, 1e-5):
        np.testing.assert_allclose(got, _fd(f, x, h), rtol=1e-6, atol=1e-8)


def _weighted(x):
    return x * W


def filters_warnings_after_a_call(x):
    y = _weighted(x)
    warnings.simplefilter("ignore", RuntimeWarning)
    return np.sum(y * y)


def warns_after_a_call(x):
    y = _weighted(x)
    warnings.warn("a note", UserWarning, stacklevel=1)
    return np.sum(y * y)


@functools.lru_cache
def _scale(n):
    return float(n) * 2.0


def reads_a_cache_after_a_call(x):
    y = _weighted(x)
    return np.sum(y * y) * _scale(3)


def _renamed(fun):
    """SciPy's ``_rename_parameter``: the wrapper updates its own ``**kwargs``."""

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        if "power" in kwargs:
            kwargs["order"] = kwargs.pop("power")
        return fun(*args, **kwargs)

    return wrapper


def _moment(a, order=1):
    return np.mean((a - np.mean(a)) ** order)


def _signed(fun):
    """A wrapper that shows its own ``__signature__`` (``functools.wraps`` copies it)."""

    def inner(*args, **kwargs):
        return fun(*args, **kwargs)

    inner.__signature__ = inspect.signature(fun)
    return inner


moment = _renamed(_moment)
signed_moment = _renamed(_signed(_moment))


def calls_a_renaming_wrapper(x):
    return moment(x * W, power=3)


def calls_a_renaming_wrapper_with_a_signature(x):
    return signed_moment(x * W, power=3)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "f",
    [
        filters_warnings_after_a_call,
        warns_after_a_call,
        reads_a_cache_after_a_call,
        calls_a_renaming_wrapper,
        calls_a_renaming_wrapper_with_a_signature,
    ],
)
def test_gradient_matches_finite_differences(f):
    _check(f, np.array([1.0, 2.5, 0.3]))


def third_moment(x):
    return scipy.stats.moment(x * W, 3)


# SciPy's descriptive statistics under its ``_axis_nan_policy`` wrapper (the README's
# limitations name them), each called as its tests call it
WRAPPED_STATS = {
    **{name: (lambda f: lambda x: f(x * W))(getattr(scipy.stats, name)) for name in (
        "moment", "skew", "kurtosis", "variation", "sem", "gmean", "hmean", "tmean", "tvar",
        "tstd", "tmin", "tmax", "tsem", "iqr", "entropy", "differential_entropy",
        "median_abs_deviation")},
    "pmean": lambda x: scipy.stats.pmean(x * W, 2.0),
    "trim_mean": lambda x: scipy.stats.trim_mean(x * W, 0.1),
    "boxcox_llf": lambda x: scipy.stats.boxcox_llf(0.5, x * W),
    "yeojohnson_llf": lambda x: scipy.stats.yeojohnson_llf(0.5, x * W),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(WRAPPED_STATS))
def test_scipy_stats_under_the_axis_nan_policy_wrapper_are_refused_at_the_users_line(name):
    """After the wrapper's first call of the function it wraps, it calls functions that
    srcdiff does not tell from ones changing an array that call's derivative may read:
    refused, at the line calling SciPy, with that reason (never a wrong gradient)."""
    with pytest.raises(sd.CompileError) as refused:
        sd.grad(WRAPPED_STATS[name])(np.array([1.0, 2.5, 0.3]))
    message = str(refused.value)
    assert re.search(r"called from lambda \(.*test_library_wrappers\.py:\d+\)", message)
    assert "is changed in place here after a call of" in message


def _shown(a, b=5.0):
    """The parameters a copied ``__signature__`` shows, not those of the code below."""


def _squares(w, x=2.0):
    return np.sum(w * w * W) * x


_squares.__signature__ = inspect.signature(_shown)


@pytest.mark.parametrize("wrt", ["w", 0])
def test_a_function_showing_another_signature_is_differentiated_by_its_own(wrt, tmp_path):
    """Its arguments are those its body names (``w``, ``x``), as Python binds them."""
    w = np.array([1.0, 2.0, -0.5])
    g = sd.grad(_squares, wrt=wrt)
    _check(lambda v: _squares(v), w)
    np.testing.assert_allclose(g(w), 4.0 * w * W, rtol=1e-12)
    np.testing.assert_allclose(g(w, x=3.0), 6.0 * w * W, rtol=1e-12)
    path = tmp_path / "squares_grad.py"
    sd.export(g, path)
    spec = importlib.util.spec_from_file_location("squares_grad", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    np.testing.assert_allclose(module.grad__squares(w), 4.0 * w * W, rtol=1e-12)
