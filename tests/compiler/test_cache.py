"""Stage 8: compiled code is cached per function and static facts, adjoints per path. A
call on a path seen before generates and compiles nothing (counted, never timed)."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler import cache
from srcdiff.compiler.cache import Unit, units_built


@pytest.fixture
def compiles(monkeypatch):
    """How many generated functions have been compiled since the test began."""
    count = [0]
    load = Unit.load

    def counting(self, *args, **kwargs):
        count[0] += 1
        return load(self, *args, **kwargs)

    monkeypatch.setattr(Unit, "load", counting)
    return count


def branchy(x):
    if np.sum(x) > 0:
        return np.sum(np.tanh(x))
    return np.sum(x * x)


def looped(x, n):
    s = 0.0
    for i in range(n):
        if x[i % 3] > 0:
            s = s + x[i % 3] * s + 1.0
        else:
            s = s * 0.5
    return s


def helper(v):
    return np.sum(np.sin(v))


def calls_helper(x):
    return helper(x) + helper(x * 2.0)


def make_scaled(k):
    def scaled(x):
        return np.sum(x * k)

    return scaled


FACTOR = 2.0


def uses_global(x):
    return np.sum(x * FACTOR)


def cubic(x):
    return x**3


def uses_cubic(x):
    return np.sum(cubic(x))


def fresh(fn):
    """A new function object with ``fn``'s code, so that no earlier test cached it."""
    import types

    return types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )


def only_unit(fn) -> Unit:
    """The one Unit that calls of ``fn`` built."""
    (built,) = cache._UNITS[fn].values()
    return built


def test_a_second_call_on_the_same_path_compiles_nothing(compiles):
    fn = fresh(branchy)
    g = sd.grad(fn)
    x = np.array([0.5, 1.0, -0.2])
    g(x)
    assert compiles[0] == 3  # the traced primal, this path's primal and its adjoint
    assert units_built(fn) == 1
    g(x * 1.5)
    g(x)
    assert compiles[0] == 3
    assert units_built(fn) == 1
    assert len(only_unit(fn).adjoints) == 1


def test_a_new_path_adds_one_adjoint_and_nothing_else(compiles):
    fn = fresh(branchy)
    g = sd.grad(fn)
    x = np.array([0.5, 1.0, -0.2])
    g(x)
    g(-x)
    assert compiles[0] == 5 and units_built(fn) == 1  # and the new path's primal and adjoint
    assert len(only_unit(fn).adjoints) == 2
    g(x)
    g(-x)
    assert compiles[0] == 5


def test_trip_counts_do_not_make_new_adjoints(compiles):
    fn = fresh(looped)
    g = sd.grad(fn)
    x = np.array([0.5, -1.0, 2.0])
    for n in (3, 6, 30, 300):
        g(x, n)
    assert len(only_unit(fn).adjoints) == 1
    assert compiles[0] == 2


def test_other_grad_objects_and_value_and_grad_share_the_compiled_unit(compiles):
    fn = fresh(branchy)
    x = np.array([0.5, 1.0, -0.2])
    sd.grad(fn)(x)
    sd.grad(fn, wrt="x")(x)
    sd.value_and_grad(fn)(x)
    assert units_built(fn) == 1 and compiles[0] == 3


def test_differentiating_other_arguments_is_another_unit():
    fn = fresh(looped)
    x = np.array([0.5, -1.0, 2.0])
    sd.grad(fn)(x, 4)
    assert units_built(fn) == 1
    sd.grad(fn, wrt=("x",))(x, 4)
    assert units_built(fn) == 1  # the same parameters: the same unit
    sd.differentiate(fn)(x, 4)  # the plain primal: nothing differentiated
    assert units_built(fn) == 2


def test_called_functions_are_compiled_once(compiles):
    fn = fresh(calls_helper)
    g = sd.grad(fn)
    for k in range(5):
        g(np.full(3, 0.1 * k))
    assert units_built(helper) >= 1
    before = compiles[0]
    g(np.ones(3))
    assert compiles[0] == before


def test_closure_values_are_read_at_every_call_without_recompiling(compiles):
    scaled = make_scaled(2.0)
    g = sd.grad(scaled)
    x = np.ones(3)
    assert np.array_equal(g(x), np.full(3, 2.0))
    scaled.__closure__[0].cell_contents = 5.0
    assert np.array_equal(g(x), np.full(3, 5.0))
    assert compiles[0] == 2 and units_built(scaled) == 1


def test_globals_are_read_at_every_call_without_recompiling(compiles):
    global FACTOR
    fn = fresh(uses_global)
    g = sd.grad(fn)
    x = np.ones(3)
    try:
        assert np.array_equal(g(x), np.full(3, 2.0))
        FACTOR = 3.0
        assert np.array_equal(g(x), np.full(3, 3.0))
    finally:
        FACTOR = 2.0
    assert compiles[0] == 2


def test_registering_a_rule_recompiles_what_it_changes():
    fn = fresh(uses_cubic)
    g = sd.grad(fn)
    x = np.array([1.0, 2.0])
    assert np.allclose(g(x), 3 * x**2)
    built = units_built(fn)

    @sd.register_vjp(cubic)
    def cubic_vjp(g_, ans, x_):
        return g_ * 100.0

    assert np.allclose(g(x), 100.0)
    assert units_built(fn) == built + 1
    assert "cubic_vjp" in sd.source(g)


def test_units_are_keyed_by_the_static_facts():
    fn = fresh(branchy)
    a = cache.unit_for(fn, ("x",), {"x": "array"}, np)
    assert cache.unit_for(fn, ("x",), {"x": "array"}, np) is a
    assert cache.unit_for(fn, (), {}, np) is not a
    assert units_built(fn) == 2
