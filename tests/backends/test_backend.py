"""srcdiff.backend (the array module and the helpers libraries differ on) and the
compiler's mapping of NumPy functions to the inputs' module."""

from __future__ import annotations

import array_api_strict as xps
import numpy as np
import pytest

import srcdiff as sd
from srcdiff import backend
from srcdiff.rules import lookup, registry


def test_numpy_arrays_and_numbers_give_numpy():
    a = np.ones(3)
    assert backend.array_module(a, 1.0, 2, None, np.float32(1), [a, (a, 1.0)], {"k": a}) is np
    assert backend.array_module() is np


def test_other_arrays_give_their_module_also_inside_containers():
    s = xps.ones(3)
    assert backend.array_module(s) is xps
    assert backend.array_module(np.ones(3), 1.0, s) is xps
    assert backend.array_module([1.0, {"w": s}]) is xps


def test_counterparts_of_numpy_names():
    assert backend.counterpart(np, "arccos") == "arccos"
    assert backend.counterpart(xps, "arccos") == "acos"
    assert backend.counterpart(xps, "concatenate") == "concat"
    assert backend.counterpart(xps, "tanh") == "tanh"
    assert backend.counterpart(xps, "outer") is None


@pytest.mark.parametrize(
    "idx",
    [np.array([0, 2, 0, 0]), (np.array([0, 1, 0]), np.array([2, 2, 2]))],
    ids=["repeated-rows", "repeated-pairs"],
)
def test_scatter_add_adds_at_every_repeat(idx):
    g = np.arange(1.0, 1.0 + 4 * 3).reshape(4, 3)
    g = g[: len(idx[0])] if isinstance(idx, tuple) else g
    g = g[:, 0] if isinstance(idx, tuple) else g
    expected = backend.scatter_add(np.zeros((3, 3)), idx, g)
    on_strict = tuple(xps.asarray(i) for i in idx) if isinstance(idx, tuple) else xps.asarray(idx)
    got = backend.scatter_add(xps.zeros((3, 3)), on_strict, xps.asarray(g))
    assert backend.array_module(got) is xps
    np.testing.assert_array_equal(backend.to_numpy(got), expected)


def test_casts_copies_and_kinds_without_methods():
    s = xps.asarray([1.0, 2.0])
    assert backend.astype(s, xps.float32).dtype == xps.float32
    c = backend.copy(s)
    c[0] = 5.0
    assert float(s[0]) == 1.0
    assert backend.dtype_kind(s) == "f" and backend.dtype_kind(xps.asarray([1])) == "i"
    assert backend.dtype_kind(np.ones(2, bool)) == "b"


def test_samples_are_the_generators_numbers_on_any_module():
    draw = lambda: np.random.default_rng(5)  # noqa: E731
    host = backend.sample(draw(), "standard_normal", (2, 3), np.float32)
    other = backend.sample(draw(), "standard_normal", (2, 3), np.float32, xps)
    assert host.dtype == np.float32
    np.testing.assert_array_equal(backend.to_numpy(other), host)


def test_a_bound_rule_computes_with_the_module_given():
    rule = registry.bind(lookup(np.sin).fn, xps)
    x = xps.asarray([0.5, 1.0])
    d = rule(xps.ones(2), xps.sin(x), x)
    assert backend.array_module(d) is xps
    np.testing.assert_allclose(backend.to_numpy(d), np.cos([0.5, 1.0]))
    assert registry.bind(lookup(np.sin).fn, np) is lookup(np.sin).fn


def angles(x):
    np_ = np.pi  # a constant stays NumPy's
    return np.sum(np.arccos(x) * np_)


def shadows(x, np):
    return x[0] * np  # a local named np is not the module


def has_no_counterpart(x):
    return np.sum(np.outer(x, x))


def test_numpy_functions_become_the_inputs_modules():
    g = sd.grad(angles)
    x = np.array([0.1, 0.2])
    g(xps.asarray(x))
    text = sd.source(g)
    assert "xp.acos(x)" in text and "np.pi" in text
    g(x)
    assert "np.arccos(x)" in sd.source(g)
    assert backend.array_module(sd.grad(shadows)(xps.asarray(x), 2.0)) is xps


def test_a_function_with_no_counterpart_is_a_clear_compile_error():
    with pytest.raises(sd.CompileError, match=r"np.outer has no counterpart in array_api_strict"):
        sd.grad(has_no_counterpart)(xps.asarray([1.0, 2.0]))
