"""Every operation srcdiff knows, through the whole compiler: each call of the rule tables
(``tests/rules``: several shapes, broadcasting, axis/keepdims/ddof and other keyword
variants) is written as user code (``np.sum(np.var(a0, axis=a1, ddof=a2) * w)``,
``a0.reshape(a1)``, ``a0 @ a1``), differentiated by ``sd.grad`` and checked against
central differences in float64 at two step sizes (``verify``); then again in float32,
where each gradient must keep its argument's dtype and shape.

The rule tables check each rule alone; this checks that the compiler binds positional
and keyword arguments to the rule as NumPy binds them, and that nothing on the way turns
a gradient into a constant.
"""

from __future__ import annotations

import builtins
import importlib.util
import math
import operator
import tempfile
from pathlib import Path

import numpy as np
import pytest
from rules.families import SPECS
from rules.spec import ids

import srcdiff as sd
from srcdiff.compiler.backends import numpy_name

from .verify import differentiable, verify

OPERATORS = {
    operator.add: "{0} + {1}", operator.sub: "{0} - {1}", operator.mul: "{0} * {1}",
    operator.truediv: "{0} / {1}", operator.pow: "{0} ** {1}", operator.matmul: "{0} @ {1}",
    operator.neg: "-{0}", operator.pos: "+{0}", operator.getitem: "{0}[{1}]",
}  # fmt: skip


ATTRIBUTES = {"T", "mT", "real", "imag"}  # array attributes with rules


def expression(prim, n: int, keywords: list[str], nones: tuple[int, ...] = ()) -> str | None:
    """The user code calling ``prim`` on parameters ``a0 .. a{n-1}`` (None: a primitive
    users do not call: displays, srcdiff's helpers, Tensor methods), with ``None`` written
    out at positions ``nones``, as users write it (``np.mean(x, 0, None, None, True)``)."""
    args = [f"a{i}" if i not in nones else "None" for i in range(n)]
    args += [f"{k}=k_{k}" for k in keywords]
    if prim in OPERATORS:
        return OPERATORS[prim].format(*args)
    if prim is np.r_ or prim is np.c_:
        return f"np.{'r_' if prim is np.r_ else 'c_'}[{', '.join(args)}]"
    if isinstance(prim, tuple):  # a method of every generator (a reparameterised draw)
        source, name = prim
        made = "default_rng" if source is np.random.Generator else "RandomState"
        return f"np.random.{made}(5).{name}({', '.join(args)})"
    if (getattr(prim, "__module__", "") or "").startswith("array_api_compat.numpy"):
        owner = "linalg." if "linalg" in prim.__module__ else ""
        return f"array_api_compat.numpy.{owner}{prim.__name__}({', '.join(args)})"
    if isinstance(prim, str):
        if not prim.startswith("ndarray."):
            return None
        method = prim.removeprefix("ndarray.")
        if method in ATTRIBUTES:  # read, not called
            return f"a0.{method}"
        return f"a0.{method}({', '.join(args[1:])})"
    module = getattr(prim, "__module__", "") or ""
    if prim is np.linalg.norm:
        return f"np.linalg.norm({', '.join(args)})"
    if module in ("numpy.fft", "numpy.linalg"):  # np.fft.irfft, np.linalg.eigvals
        return f"np.{module.split('.')[1]}.{prim.__name__}({', '.join(args)})"
    name = numpy_name(prim)
    if name is not None:
        return f"np.{name}({', '.join(args)})"
    if module == "math" or getattr(math, getattr(prim, "__name__", ""), None) is prim:
        return f"math.{prim.__name__}({', '.join(args)})"
    if getattr(builtins, getattr(prim, "__name__", ""), None) is prim:
        return f"{prim.__name__}({', '.join(args)})"
    return None


CASES = []
for spec, case_id in zip(SPECS, ids(SPECS), strict=True):
    nones = tuple(i for i, a in enumerate(spec.args) if a is None)
    code = expression(spec.prim, len(spec.args), list(spec.kwargs), nones)
    if code is not None:
        CASES.append((case_id, spec, code))


def _module():
    lines = ["import math", "", "import array_api_compat.numpy", "import numpy as np", ""]
    for k, (_, spec, code) in enumerate(CASES):
        params = [f"a{i}" for i in range(len(spec.args))] + [f"k_{k}" for k in spec.kwargs]
        lines += [
            f"def op_{k}({', '.join(params + ['w'])}):",
            f"    return np.sum(({code}) * w)",
            "",
        ]
    path = Path(tempfile.mkdtemp(prefix="srcdiff-ops-")) / "op_sweep.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("op_sweep", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUNCTIONS = _module()


def prepared(k: int, spec, dtype=np.float64):
    """The function of case ``k``, its arguments (float arrays in ``dtype``), and the
    positions of the float arguments."""
    fn = getattr(FUNCTIONS, f"op_{k}")
    args = [a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for a in spec.args] + list(spec.kwargs.values())  # fmt: skip
    result = spec.primal(*spec.args, **spec.kwargs)
    if not isinstance(result, (np.ndarray, np.generic, float)):
        return None
    w = np.random.default_rng(k).standard_normal(np.shape(result))
    wrt = tuple(i for i in (spec.wrt or range(len(spec.args))) if differentiable(args[i]))
    return fn, [*args, w.astype(dtype) if w.ndim else float(w)], wrt


@pytest.mark.parametrize(
    "k, spec", [(k, c[1]) for k, c in enumerate(CASES)], ids=[c[0] for c in CASES]
)
def test_an_operation_through_the_compiler_matches_finite_differences(k, spec):
    ready = prepared(k, spec)
    if ready is None or not ready[2]:
        pytest.skip("a container result, or nothing to differentiate")
    fn, args, wrt = ready
    assert verify(fn, args, wrt, rtol=max(spec.rtol, 1e-5), atol=1e-6) == "ok"


@pytest.mark.parametrize(
    "k, spec", [(k, c[1]) for k, c in enumerate(CASES)], ids=[c[0] for c in CASES]
)
def test_an_operation_on_float32_gives_float32_gradients(k, spec):
    ready = prepared(k, spec, np.float32)
    if ready is None or not ready[2]:
        pytest.skip("a container result, or nothing to differentiate")
    fn, args, wrt = ready
    grads = sd.grad(fn, wrt=wrt)(*args)
    for i, d in zip(wrt, grads, strict=True):
        if isinstance(args[i], np.ndarray):
            assert d.dtype == np.float32 and d.shape == args[i].shape, (i, d.dtype, d.shape)


@pytest.mark.parametrize(
    "k, spec", [(k, c[1]) for k, c in enumerate(CASES)], ids=[c[0] for c in CASES]
)
def test_an_operation_on_float32_gives_a_tangent_of_the_plain_result_dtype(k, spec):
    """Forward mode keeps NumPy's dtype: the tangents of ``np.maximum``, ``np.clip``,
    ``np.nanmean``, ``np.where`` with a number, a power of a Python float, ... of float32
    arrays came out float64 (a mask of Python floats, an integer count, ``log`` of a
    Python float), where the plain call gives float32."""
    ready = prepared(k, spec, np.float32)
    if ready is None or not ready[2]:
        pytest.skip("a container result, or nothing to differentiate")
    fn, args, wrt = ready
    tangents = [None] * len(args)
    for i in wrt:
        tangents[i] = np.ones_like(args[i]) if isinstance(args[i], np.ndarray) else 1.0
    try:
        value, tangent = sd.jvp(fn, tuple(args), tuple(tangents))
    except sd.CompileError:
        pytest.skip("no forward rule for one of the arguments (reverse mode has one)")
    plain = np.asarray(fn(*args)).dtype
    assert np.asarray(value).dtype == plain and np.asarray(tangent).dtype == plain, (
        plain, np.asarray(value).dtype, np.asarray(tangent).dtype)  # fmt: skip
