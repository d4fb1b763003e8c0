"""A pure function runs the primal of its path: the branch not taken is nowhere in
sd.source; a call that goes another way is traced again, and gets the right gradient."""

import types

import numpy as np
import pytest

import srcdiff as sd

from . import path_functions as pf
from .checker import check_function

X = np.array([0.3, -0.1, 0.4])


def test_the_branch_not_taken_is_absent_from_the_whole_source():
    g = sd.grad(pf.branchy)
    g(X)
    source = sd.source(g)
    assert "h * 2.0" in source and "h * 3.0" not in source
    g(-X)
    source = sd.source(g)
    assert "h * 3.0" in source and "h * 2.0" not in source


def test_calls_switching_paths_get_the_gradient_of_each_path():
    g = sd.grad(pf.branchy)
    for x in (X, -X, -X, X, X, -X):
        np.testing.assert_allclose(g(x), sd.grad(pf.branchy)(x))
        check_function(pf.branchy, (x,), (0,))


def test_an_early_return_on_the_path_ends_its_primal():
    g = sd.grad(pf.early_return)
    np.testing.assert_allclose(g(X), np.cos(X))
    assert "np.cos" not in sd.source(g).split("def early_return_adjoint")[0]
    np.testing.assert_allclose(g(-X), -np.sin(-X))


def test_a_function_with_side_effects_runs_once_per_call_and_keeps_its_traced_primal():
    pf.CALLS.clear()
    g = sd.grad(pf.with_side_effect)
    g(X)
    g(-X)
    assert pf.CALLS == [1, 1]
    source = sd.source(g)
    assert "x * 2.0" in source and "x * 5.0" in source  # the traced primal holds both


def test_a_pure_callee_runs_the_primal_of_its_path_too():
    g = sd.grad(pf.calls_a_branchy_helper)
    g(-X)
    source = sd.source(g)
    assert "h * 3.0" in source and "h * 0.5" not in source
    for x in (X, -X, X):
        check_function(pf.calls_a_branchy_helper, (x,), (0,))


def test_a_recursive_function_keeps_its_traced_primal():
    g = sd.grad(pf.power_sum)
    np.testing.assert_allclose(g(X, 2), 4 * X**3)
    np.testing.assert_allclose(g(X, 1), 2 * X)
    assert "power_sum_path" not in sd.source(g)


def test_an_iterator_argument_is_used_once():
    xs = [X, 2 * X]
    g = sd.grad(pf.sum_of)
    for _ in range(2):
        np.testing.assert_allclose(g(X, iter(xs)), X * np.cos(X * X) + 2 * X * np.cos(2 * X * X))
    with pytest.raises(TypeError, match="pass a list"):
        sd.grad(pf.sum_of, wrt=1)(X, iter(xs))


def test_a_store_into_a_global_list_is_a_side_effect():
    pf.LOG[0] = 0
    g = sd.grad(pf.counts_in_a_list)
    g(X)
    g(X)
    assert pf.LOG[0] == 2


def test_a_path_shows_the_same_source_whatever_the_calls_before():
    # a function object of its own, so that no path is known yet
    clipped = types.FunctionType(pf.branchy.__code__, pf.branchy.__globals__, "clipped")
    g = sd.grad(clipped)
    g(X)
    first = sd.source(g)
    g(-X)  # a new path: traced, then run once more on its own path
    assert "h * 2.0" not in sd.source(g)
    g(X)  # a known path after another one: its own primal again
    assert sd.source(g) == first and "h * 3.0" not in first
    for x in (X, -X, X):
        check_function(clipped, (x,), (0,))


def three_ifs_in_a_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        if v > 0.5:
            v = v * 2.0
        if v < -0.5:
            v = v * 3.0
        if v * v > 0.25:
            v = v + 1.0
        total = total + v
    return total


def test_a_loop_has_one_adjoint_per_set_of_iteration_kinds_whatever_their_order():
    """The path key holds the set of kinds of iterations, in a canonical order: the same
    kinds met in any order compile one adjoint, with one source."""
    g = sd.grad(three_ifs_in_a_loop)
    kinds = np.array([0.9, -0.9, 0.1, 0.6, -0.7])
    rng = np.random.default_rng(0)
    sources = set()
    for _ in range(20):
        x = rng.permutation(kinds)
        check_function(three_ifs_in_a_loop, (x,), (0,))
        g(x)
        sources.add(sd.source(g))
    assert len(sources) == 1
    unit = next(iter(g._target.units.values()))[0]
    assert len(unit.adjoints) == 1


def sd_paths_example(w, x):
    h = np.tanh(x @ w)
    if h.sum() > 0:
        h = h * 2.0
    for i in range(3):
        if np.sum(h) > i:
            h = np.sin(h)
        else:
            break
    return np.sum(h * h)


def test_sd_paths_lists_every_compiled_path_in_the_users_terms():
    g = sd.grad(sd_paths_example)
    x = np.ones((2, 3))
    g(np.full(3, 0.5), x)
    g(np.full(3, 0.5), x)
    g(-np.ones(3), x)
    found = sd.paths(g)
    assert [p.calls for p in found] == [2, 1]
    taken, not_taken = found
    assert "`if h.sum() > 0:` taken" in taken.choices[0]
    assert "`if h.sum() > 0:` not taken" in not_taken.choices[0]
    assert any("2 kinds of iteration" in c for c in taken.choices)
    assert any("ended by break" in c for c in taken.choices)
    assert "def sd_paths_example_adjoint" in taken.source
    assert str(taken).startswith("sd_paths_example (")
    with pytest.raises(TypeError, match="sd.grad"):
        sd.paths(sd_paths_example)
