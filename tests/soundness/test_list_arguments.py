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


def gradient_or_refusal(f):
    """``sd.grad(f)`` at ``X``, or None where srcdiff refuses it clearly: a CompileError,
    or the error for a complex result (np.roots of some of these lists)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sd.grad(f)(X.copy())
    except sd.CompileError:
        return None
    except TypeError as e:
        if "returned a complex value" not in str(e):
            raise
        return None


def agrees_or_refuses(f, name):
    """``sd.grad(f)`` at ``X`` agrees with central differences (two steps) along a
    direction, or srcdiff refuses ``f`` clearly; skipped where NumPy rejects the call."""
    if plain(f, X) is None:
        pytest.skip("NumPy rejects these arguments")
    d = gradient_or_refusal(f)
    if d is None:
        return  # refused, with the user's line: allowed
    direction = np.array([0.3, -0.7, 0.5])
    fd1, fd2 = ((plain(f, X + e * direction) - plain(f, X - e * direction)) / (2 * e)
                for e in (1e-6, 1e-4))  # fmt: skip
    if not np.isfinite(fd1) or abs(fd1 - fd2) > 1e-3 * max(1.0, abs(fd1)):
        return  # not smooth here
    analytic = float(np.real(np.sum(np.asarray(d) * direction)))
    assert abs(analytic - fd1) <= 1e-5 * max(1.0, abs(fd1)), (name, analytic, fd1)


@pytest.mark.parametrize("how", list(BUILDS))
@pytest.mark.parametrize("name, obj", ARRAY_LIKE, ids=[n for n, _ in ARRAY_LIKE])
def test_a_list_in_a_name_is_the_array_numpy_makes_of_it(name, obj, how):
    f = getattr(FUNCTIONS, f"{how}_{name}")
    agrees_or_refuses(f, name)


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


class Holder:
    """A record whose field holds a list."""

    def __init__(self, vals):
        self.vals = vals


TAKEN = {  # how the list is taken out of a container or a record
    "dict": ('d = {"v": [x[0], x[1], x[2]]}', 'd["v"]'),
    "nested": ("ws = [[x[0], x[1], x[2]], [x[2], x[1], x[0]]]", "ws[0]"),
    "tuple": ("t = ([x[0], x[1], x[2]], 1.0)", "t[0]"),
    "field": ("cfg = Holder([x[0], x[1], x[2]])", "cfg.vals"),
    "deep": ('d = {"w": {"v": [x[0], x[1], x[2]]}}', 'd["w"]["v"]'),
}


HOWS = list(TAKEN)
# each function in two of the forms (in turn), those named here in all five
ALWAYS = {"power", "abs", "exp", "arctan2", "sort", "nanmean", "maximum"}
FORMS = [HOWS if name in ALWAYS else [HOWS[i % 5], HOWS[(i + 2) % 5]]
         for i, (name, _) in enumerate(ARRAY_LIKE)]  # fmt: skip
TAKEN_CASES = [(how, name, obj) for i, (name, obj) in enumerate(ARRAY_LIKE) for how in FORMS[i]]


def _taken_module() -> types.ModuleType:
    lines = ["import numpy as np", "from tests.soundness.test_list_arguments import Holder", ""]
    for i, (name, obj) in enumerate(ARRAY_LIKE):
        for how in FORMS[i]:
            build, entry = TAKEN[how]
            call = (
                f"np.{name}({entry}, [x[2], x[0], x[1]])"
                if getattr(obj, "nin", 1) == 2
                else f"np.{name}({entry})"
            )
            lines += [f"def {how}_{name}(x):", f"    {build}", f"    return np.sum({call})", ""]
    path = Path(tempfile.mkdtemp(prefix="srcdiff-entries-")) / "list_entries.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("list_entries", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TAKEN_FUNCTIONS = _taken_module()


@pytest.mark.parametrize("how, name, obj", TAKEN_CASES, ids=[f"{n}-{h}" for h, n, _ in TAKEN_CASES])
def test_a_list_taken_out_of_a_container_is_the_array_numpy_makes_of_it(name, obj, how):
    """``np.power(d["v"], 3)``, ``np.abs(ws[0])``, ``np.exp(cfg.vals)``: the entry, a list
    of differentiated numbers, is what NumPy takes it for (these crashed in the adjoint
    with a TypeError or ValueError: the rules met the list itself)."""
    f = getattr(TAKEN_FUNCTIONS, f"{how}_{name}")
    agrees_or_refuses(f, name)


RETURNED = {  # how a called function of the user's makes the list it returns
    "display": "return [x[0], x[1], x[2]]",
    "tuple": "return x[0], x[1], x[2]",
    "appended": "vs = []\n    for i in range(3):\n        vs.append(x[i])\n    return vs",
    "sorted": "return sorted([x[0], x[1], x[2]])",
    "passed": "return made_display(x)",  # a list a further callee returned
    "entry": 'd = {"v": [x[0], x[1], x[2]]}\n    return d["v"]',
    "method": "return made_display(x)",  # called as maker.made_method(x)
    "given": "return x",  # called as made_given([x[0], x[1], x[2]])
}
CALLED = {"method": "maker.made_method(x)", "given": "made_given([x[0], x[1], x[2]])"}
RETURNS = list(RETURNED)
# each function in one of the forms (in turn), those of ALWAYS in all of them
RETURN_FORMS = [RETURNS if name in ALWAYS else [RETURNS[i % len(RETURNS)]]
                for i, (name, _) in enumerate(ARRAY_LIKE)]  # fmt: skip
RETURNED_CASES = [(how, name, obj) for i, (name, obj) in enumerate(ARRAY_LIKE)
                  for how in RETURN_FORMS[i]]  # fmt: skip


def _returned_module() -> types.ModuleType:
    lines = ["import numpy as np", ""]
    for how, body in RETURNED.items():
        lines += [f"def made_{how}(x):", f"    {body}", ""]
    lines += ["class Maker:", "    def made_method(self, x):", "        return made_display(x)",
              "", "maker = Maker()", ""]  # fmt: skip
    for i, (name, obj) in enumerate(ARRAY_LIKE):
        for how in RETURN_FORMS[i]:
            made = CALLED.get(how, f"made_{how}(x)")
            call = (
                f"np.{name}({made}, [x[2], x[0], x[1]])"
                if getattr(obj, "nin", 1) == 2
                else f"np.{name}({made})"
            )
            lines += [f"def {how}_{name}(x):", f"    return np.sum({call})", ""]
    path = Path(tempfile.mkdtemp(prefix="srcdiff-returned-")) / "list_returned.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("list_returned", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RETURNED_FUNCTIONS = _returned_module()


@pytest.mark.parametrize(
    "how, name, obj", RETURNED_CASES, ids=[f"{n}-{h}" for h, n, _ in RETURNED_CASES]
)
def test_a_list_a_callee_returned_is_the_array_numpy_makes_of_it(name, obj, how):
    """``np.maximum(helper(x), 0.0)``, ``np.abs(helper(x))`` where ``helper`` returns a
    list: NumPy takes it for the array of its entries (the adjoints of these crashed with
    a TypeError comparing the list itself)."""
    f = getattr(RETURNED_FUNCTIONS, f"{how}_{name}")
    agrees_or_refuses(f, name)


def _doubled(x):
    return [x[0] * 2, x[1], x[2]]


def squares_a_returned_list(x):
    return np.sum(np.square(_doubled(x)))


def negates_a_returned_list(x):
    return np.sum(np.negative(_doubled(x)))


def scales_a_returned_list(x):
    return np.sum(np.multiply(_doubled(x), 3))


def clips_a_returned_list(x):
    return np.sum(np.maximum(_doubled(x), 0.6))


def averages_a_returned_list(x):
    return np.mean(np.abs(_doubled(x)))


@pytest.mark.parametrize(
    "f",
    [
        squares_a_returned_list,
        negates_a_returned_list,
        scales_a_returned_list,
        clips_a_returned_list,
        averages_a_returned_list,
    ],  # fmt: skip
)
def test_forward_mode_takes_a_returned_list_for_its_array(f):
    """``sd.jvp`` of ``np.square(helper(x))`` and the like, ``helper`` returning a list:
    the tangent is that of the array NumPy makes (it crashed: ``np.multiply``'s tangent
    repeated the list three times, ``np.square``'s multiplied it by a float)."""
    direction = np.array([0.3, -0.7, 0.5])
    value, tangent = sd.jvp(f, (X.copy(),), (direction,))
    assert value == pytest.approx(f(X.copy()), rel=1e-12)
    for e in (1e-6, 1e-4):
        fd = (f(X + e * direction) - f(X - e * direction)) / (2 * e)
        assert float(tangent) == pytest.approx(fd, rel=1e-6, abs=1e-8)
    assert np.sum(sd.grad(f)(X.copy()) * direction) == pytest.approx(float(tangent), rel=1e-12)
