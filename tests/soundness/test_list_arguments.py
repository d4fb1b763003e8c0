"""Every public callable of ``numpy`` given a list held in a name (``vs = [x[0], x[1],
x[2]]; np.power(vs, 3)``), which NumPy takes for the array of its entries: srcdiff gives
the right gradient (central differences in float64 at two step sizes) or raises
``CompileError``. The rules of ``np.power``, ``np.abs``, ``np.maximum``, ``np.sort``,
``np.nanmean`` and others once met the list itself and crashed (``TypeError:
unsupported operand type(s) for ** or pow(): 'list' and 'int'``), where a list display
written in the call worked."""

from __future__ import annotations

import importlib.util
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd

from .test_numpy_sweep import CALLABLES

ARRAY_LIKE = [(name, obj) for prefix, name, obj in CALLABLES
         if prefix == "np" and getattr(obj, "nin", 1) in (1, 2)]  # fmt: skip
BUILDS = {  # how the list is made
    "display": "vs = [x[0], x[1], x[2]]",
    "appended": "vs = []\n    for i in range(3):\n        vs.append(x[i])",
    "sorted": "vs = sorted([x[0], x[1], x[2]])",
}


def _module() -> types.ModuleType:
    lines = ["import numpy as np", ""]
    for how, build in BUILDS.items():
        for name, obj in ARRAY_LIKE:
            call = (
                f"np.{name}(vs, [x[2], x[0], x[1]])"
                if getattr(obj, "nin", 1) == 2
                else f"np.{name}(vs)"
            )
            lines += [f"def {how}_{name}(x):", f"    {build}", f"    return np.sum({call})", ""]
    path = Path(tempfile.mkdtemp(prefix="srcdiff-lists-")) / "list_arguments.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("list_arguments", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUNCTIONS = _module()
X = np.array([0.35, 0.8, 0.55])


def plain(f, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(np.real(f(x.copy())))
        except Exception:  # noqa: BLE001 - NumPy rejects these arguments: not applicable
            return None


@pytest.mark.parametrize("how", list(BUILDS))
@pytest.mark.parametrize("name, obj", ARRAY_LIKE, ids=[n for n, _ in ARRAY_LIKE])
def test_a_list_in_a_name_is_the_array_numpy_makes_of_it(name, obj, how):
    f = getattr(FUNCTIONS, f"{how}_{name}")
    if plain(f, X) is None:
        pytest.skip("NumPy rejects these arguments")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = sd.grad(f)(X.copy())
    except sd.CompileError:
        return  # refused, with the user's line: allowed
    direction = np.array([0.3, -0.7, 0.5])
    fd1, fd2 = ((plain(f, X + e * direction) - plain(f, X - e * direction)) / (2 * e)
                for e in (1e-6, 1e-4))  # fmt: skip
    if not np.isfinite(fd1) or abs(fd1 - fd2) > 1e-3 * max(1.0, abs(fd1)):
        return  # not smooth here
    analytic = float(np.real(np.sum(np.asarray(d) * direction)))
    assert abs(analytic - fd1) <= 1e-5 * max(1.0, abs(fd1)), (name, analytic, fd1)


def _cubed_sum(vs):
    return np.sum(np.power(vs, 3)) + np.sum(np.abs(vs))


def passes_its_list_on(x):
    vs = [x[0], x[1] * 2.0]
    return _cubed_sum(vs) + _cubed_sum((x[2], x[0]))


def test_a_list_parameter_is_the_array_numpy_makes_of_it():
    """A callee given a list (or a tuple) takes it for the array of its entries where
    NumPy does (it crashed: the parameter was not seen to hold a list)."""
    got = sd.grad(passes_its_list_on)(X)
    for eps in (1e-5, 1e-6):
        fd = [(passes_its_list_on(X + e) - passes_its_list_on(X - e)) / (2 * eps)
              for e in np.eye(3) * eps]  # fmt: skip
        np.testing.assert_allclose(got, fd, rtol=1e-6)
    vs = [X[0], X[1]]
    got = sd.grad(_cubed_sum)(vs)
    np.testing.assert_allclose(np.asarray(got, dtype=float), 3 * np.asarray(vs) ** 2 + 1.0)
