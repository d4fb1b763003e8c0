"""Stage 4: the traced primal computes what the user's function computes, saves the
values the adjoint reads, and records the path this call took."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from srcdiff.runtime import path_key

from . import functions  # noqa: F401  (fills CASES)
from .cases import CASES, Case
from .pipeline import run_primal, unit


def branch(x):
    if np.sum(x) > 0:
        y = np.tanh(x)
    else:
        y = x * x
    return np.sum(y)


def passive_branch(x, n):
    y = x * 2.0
    if n > 2:
        n = n - 1
    return np.sum(y) * n


def overwritten(x):
    h = x * 2.0
    h = np.sin(h)
    h = h * h
    return np.sum(h)


def loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x * i)
    return np.sum(s)


def loop_with_branches(x):
    s = 0.0
    for i in range(4):
        if x[i] > 0:
            s = s + x[i] * x[i]
        else:
            s = s - x[i]
    return s


def passive_loop(x, n):
    count = 0
    for _ in range(n):
        count = count + 1
    return np.sum(x) * count


def helper(v):
    return np.sum(v * v)


def calls(x):
    return helper(x) * 2.0


X = np.array([0.5, -1.0, 2.0, -0.25])


def test_the_primal_runs_the_users_statements_in_the_users_names():
    text = unit(branch, "x").primal_source
    assert "def branch_primal(_saved, _path, /, x):" in text
    assert "y = np.tanh(x)" in text and "y = x * x" in text


def test_a_branch_records_its_choice():
    u = unit(branch, "x")
    assert run_primal(u, X)[2] == [1]
    assert run_primal(u, -X - 1.0)[2] == [0]
    text = u.primal_source
    assert "_path.append(1)" in text and "_path.append(0)" in text


def test_a_branch_that_differentiates_nothing_is_not_recorded():
    u = unit(passive_branch, "x")
    assert run_primal(u, X, 5)[2] == []
    assert "_path" not in u.primal_source.split("\n", 1)[1]


def test_saved_values_are_those_the_adjoint_reads():
    u = unit(branch, "x")
    _, saved, _ = run_primal(u, X)
    values = list(saved.values())
    assert any(isinstance(v, np.ndarray) and np.array_equal(v, np.tanh(X)) for v in values)
    _, saved, _ = run_primal(u, -X - 1.0)
    assert not any(
        isinstance(v, np.ndarray) and np.array_equal(v, np.tanh(-X - 1.0)) for v in saved.values()
    )  # tanh did not run: nothing of it saved


def test_each_value_is_saved_as_it_was_before_it_is_overwritten():
    _, saved, _ = run_primal(unit(overwritten, "x"), X)
    h1 = X * 2.0  # read by sin's adjoint
    h2 = np.sin(h1)  # read by the product's
    flat = [
        v for entry in saved.values() for v in (entry if isinstance(entry, tuple) else (entry,))
    ]
    assert any(isinstance(v, np.ndarray) and np.array_equal(v, h1) for v in flat)
    assert any(isinstance(v, np.ndarray) and np.array_equal(v, h2) for v in flat)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_a_loop_saves_one_record_per_iteration_and_no_path(n):
    value, saved, path = run_primal(unit(loop, "x"), X, n)
    assert path == []
    records = [v for v in saved.values() if isinstance(v, list)]
    assert len(records) == 1 and len(records[0]) == n
    assert value == pytest.approx(loop(X, n))


def test_a_loop_whose_iterations_branch_records_each_iterations_path():
    _, _, path = run_primal(unit(loop_with_branches, "x"), X)
    assert len(path) == 1
    assert [iteration[0] for iteration in path[0]] == [[1], [0], [1], [0]]
    assert path_key(path) == (((0,), (1,)),)  # the kinds of iterations, in canonical order


def test_a_loop_that_differentiates_nothing_is_not_recorded():
    u = unit(passive_loop, "x")
    value, saved, path = run_primal(u, X, 4)
    assert path == [] and not any(isinstance(v, list) for v in saved.values())
    assert value == pytest.approx(passive_loop(X, 4))


def test_calls_to_user_functions_go_through_rt_call():
    u = unit(calls, "x")
    assert "rt.call(helper, (0,), x)" in u.primal_source
    value, saved, _ = run_primal(u, X)
    assert value == pytest.approx(calls(X))


def _unit_of(case: Case):
    params = list(inspect.signature(case.fn).parameters)
    names = tuple(params[i] for i in case.positions)
    args = case.args()
    kinds = {
        params[i]: "any" if isinstance(args[i], (list, tuple, dict)) else "array"
        for i in case.positions
    }
    from srcdiff.compiler.cache import unit_for

    return unit_for(case.fn, names, kinds, np), args


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES if not c.xfail])
def test_the_primal_of_every_battery_function_computes_its_value(case):
    u, args = _unit_of(case)
    value, _, _ = run_primal(u, *args, **case.kwargs)
    expected = case.fn(*case.args(), **case.kwargs)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
