"""Every function of the battery (``functions.py``) through every check.

(a) the float64 gradient against central differences along a random direction;
(b) float32 inputs give float32 gradients of the arguments' types and shapes;
(c) the generated source compiles; (d) the same call twice gives the same source.
Then functions whose branches depend on the data, at several inputs taking different
paths.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import srcdiff as sd

from . import functions
from .cases import CASES, Case
from .checker import check_function


def _param(c: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
    return pytest.param(c, id=c.name, marks=marks)


BATTERY = [_param(c) for c in CASES]


def test_battery_is_large_and_uniquely_named():
    names = [c.name for c in CASES]
    assert len(names) >= 130
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", BATTERY)
def test_gradient_matches_finite_differences(case: Case):
    check_function(case.fn, case.args(), case.positions, case.kwargs, rtol=case.rtol)


def _assert_like(d: Any, x: Any, where: str) -> None:
    """``d`` has the type, shape and (float32) dtype of the argument ``x``."""
    if isinstance(x, dict):
        assert isinstance(d, dict) and list(d) == list(x), f"{where}: {d!r}"
        for k in x:
            _assert_like(d[k], x[k], f"{where}[{k!r}]")
    elif isinstance(x, (list, tuple)):
        assert type(d) is type(x) and len(d) == len(x), f"{where}: {d!r}"
        for k, (dk, xk) in enumerate(zip(d, x, strict=True)):
            _assert_like(dk, xk, f"{where}[{k}]")
    elif isinstance(x, np.ndarray):
        assert isinstance(d, np.ndarray), f"{where} is a {type(d).__name__}"
        assert d.dtype == np.float32, f"{where} has dtype {d.dtype}"
        assert d.shape == x.shape, f"{where} has shape {d.shape}, not {x.shape}"
        assert np.all(np.isfinite(d)), f"{where} is not finite: {d}"
    else:
        assert isinstance(d, float), f"{where} is a {type(d).__name__}, not a float"


@pytest.mark.parametrize("case", BATTERY)
def test_float32_gradients_keep_dtype_and_shape(case: Case):
    args = case.args(dtype=np.float32)
    grads = sd.grad(case.fn, wrt=case.positions)(*args, **case.kwargs)
    assert isinstance(grads, tuple) and len(grads) == len(case.positions)
    for i, d in zip(case.positions, grads, strict=True):
        _assert_like(d, args[i], f"{case.name}: gradient of argument {i}")


@pytest.mark.parametrize("case", BATTERY)
def test_source_compiles(case: Case):
    g = sd.grad(case.fn, wrt=case.positions)
    g(*case.args(), **case.kwargs)
    text = sd.source(g)
    compile(text, f"<srcdiff {case.name}>", "exec")
    assert f"def {case.fn.__name__}_adjoint(" in text


@pytest.mark.parametrize("case", BATTERY)
def test_same_call_gives_identical_source(case: Case):
    g = sd.grad(case.fn, wrt=case.positions)
    g(*case.args(), **case.kwargs)
    first = sd.source(g)
    g(*case.args(), **case.kwargs)
    assert sd.source(g) == first
    again = sd.grad(case.fn, wrt=case.positions)
    again(*case.args(), **case.kwargs)
    assert sd.source(again) == first


# ---- data taking different branches --------------------------------------------------------

BRANCHING = [
    functions.if_else_on_data,
    functions.if_elif_else,
    functions.if_without_else,
    functions.if_nested,
    functions.if_conditional_expression,
    functions.early_return,
    functions.multiple_returns,
    functions.return_inside_loop,
    functions.nested_loops_branching,
    functions.model_running_max,
    functions.corner_chained_comparison,
    functions.corner_branches_define_in_other_order,
    functions.for_break,
    functions.for_else_and_while_else,
    functions.break_in_an_inner_loops_else,
    functions.lambda_in_a_branching_loop,
    functions.nested_def_on_branches_and_while,
    functions.walrus_in_conditions,
    functions.assert_statements,
]
# (Loops whose iterations go both ways for every seed have one path: its key is the set
# of kinds of iterations, whatever their order; see test_paths.)
BY_FN = {c.fn: c for c in CASES}
SEEDS = range(12)


def _path(g: Any) -> str:
    header = sd.source(g).splitlines()[1]
    assert header.startswith("# path:"), header
    return header


@pytest.mark.parametrize("fn", BRANCHING, ids=lambda f: f.__name__)
def test_different_data_takes_different_paths(fn):
    case = BY_FN[fn]
    g = sd.grad(case.fn, wrt=case.positions)
    paths = set()
    for seed in SEEDS:
        args = case.args(seed)
        check_function(case.fn, args, case.positions, case.kwargs, rtol=case.rtol, seed=seed)
        g(*args, **case.kwargs)
        paths.add(_path(g))
    assert len(paths) >= 2, f"every input took the same path: {paths}"
