"""Every public callable of ``numpy``, ``numpy.linalg`` and ``numpy.fft``, called on
differentiated arrays inside a function: srcdiff either computes the right gradient (central
differences in float64 at two step sizes agree with it; an integer or boolean result has
a gradient of exactly zero) or raises ``CompileError`` (a function whose value is complex,
``np.roots`` of most polynomials, the ``TypeError`` ``sd.grad`` gives any such function).
A silent zero, or any other wrong number, fails.

The functions are written to a module of their own (srcdiff reads source): ``np.NAME(x)``
for each callable, ``np.NAME(x, y)`` for binary ufuncs, on a vector and a matrix (a
positive definite one for ``numpy.linalg``). Callables NumPy itself rejects with such
arguments are not applicable.
"""

from __future__ import annotations

import importlib.util
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd

# Callables with effects outside the computation (files, printing, the test runner).
SKIP = {
    "test", "info", "show_config", "show_runtime", "save", "savez", "savez_compressed",
    "savetxt", "load", "loadtxt", "genfromtxt", "fromfile", "memmap", "fromregex",
    "get_printoptions", "set_printoptions", "printoptions", "setbufsize", "seterrcall",
    "seterr", "geterr", "errstate", "get_include", "lookfor", "source", "who", "deprecate",
    "add_newdoc", "add_docstring", "set_string_function", "byte_bounds", "disp",
    "empty", "empty_like",  # uninitialised memory: no value to compare
}  # fmt: skip


MODULES = {"np": np, "np.linalg": np.linalg, "np.fft": np.fft}


def callables() -> list[tuple[str, str, object]]:
    found = []
    for prefix, module in MODULES.items():
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if name.startswith("_") or name in SKIP or isinstance(obj, types.ModuleType):
                continue
            if not callable(obj) or (isinstance(obj, type) and not isinstance(obj, np.ufunc)):
                continue
            found.append((prefix, name, obj))
    return found


CALLABLES = callables()


def _module() -> types.ModuleType:
    lines = ["import numpy as np", ""]
    for prefix, name, obj in CALLABLES:
        fn = f"{prefix.replace('.', '_')}_{name}"
        if getattr(obj, "nin", 1) == 2:
            lines += [f"def {fn}(x, y):", f"    return np.sum({prefix}.{name}(x, y))", ""]
        else:
            lines += [f"def {fn}(x):", f"    return np.sum({prefix}.{name}(x))", ""]
    path = Path(tempfile.mkdtemp(prefix="srcdiff-sweep-")) / "numpy_sweep.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("numpy_sweep", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUNCTIONS = _module()


def arguments(prefix: str, nin: int, matrix: bool, rng: np.random.Generator) -> tuple:
    shape = (3, 3) if matrix or prefix == "np.linalg" else (4,)
    xs = [rng.uniform(0.3, 0.9, shape) for _ in range(2 if nin == 2 else 1)]
    if prefix == "np.linalg":
        xs = [x @ x.T + np.eye(3) for x in xs]
    return tuple(xs)


def plain(f, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = f(*[a.copy() for a in args])
            return float(value)
        except Exception:  # noqa: BLE001 - NumPy rejects these arguments: not applicable
            return None


@pytest.mark.parametrize("matrix", [False, True], ids=["vector", "matrix"])
@pytest.mark.parametrize("prefix, name, obj", CALLABLES, ids=[f"{p}.{n}" for p, n, _ in CALLABLES])
def test_a_numpy_callable_has_a_right_gradient_or_is_refused(prefix, name, obj, matrix):
    f = getattr(FUNCTIONS, f"{prefix.replace('.', '_')}_{name}")
    rng = np.random.default_rng(0)
    args = arguments(prefix, getattr(obj, "nin", 1), matrix, rng)
    if plain(f, args) is None:
        pytest.skip("NumPy rejects these arguments")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grads = sd.grad(f, wrt=tuple(range(len(args))))(*[a.copy() for a in args])
    except sd.CompileError:
        return  # refused, with the user's line: allowed
    except TypeError as error:  # a complex value (np.roots' of most polynomials): refused
        assert "returned a complex value" in str(error), error  # as any complex function
        assert np.iscomplexobj(getattr(MODULES[prefix], name)(*args)), error
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = getattr(MODULES[prefix], name)
        out = result(*args)
    if np.asarray(out).dtype.kind in "biu":
        for d in grads:
            assert not np.any(np.asarray(d)), (
                f"{prefix}.{name}: an integer result, nonzero gradient"
            )
        return
    for i, d in enumerate(grads):
        direction = rng.standard_normal(args[i].shape)

        def at(eps: float, i: int = i, direction: np.ndarray = direction) -> float:
            moved = [a.copy() for a in args]
            moved[i] = moved[i] + eps * direction
            value = plain(f, moved)
            return np.nan if value is None else value

        fd1, fd2 = ((at(e) - at(-e)) / (2 * e) for e in (1e-6, 1e-4))
        if not np.isfinite(fd1) or abs(fd1 - fd2) > 1e-3 * max(1.0, abs(fd1)):
            continue  # not smooth here
        analytic = float(np.sum(np.asarray(d, np.float64) * direction))
        assert abs(analytic - fd1) <= 1e-5 * max(1.0, abs(fd1)), (
            f"{prefix}.{name}: <grad, v> = {analytic}, finite differences give {fd1}"
        )
