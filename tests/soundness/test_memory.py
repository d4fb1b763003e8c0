"""Memory follows the user's objects: compiled code, call sites and bound methods are
freed with the functions and instances they were made for, and nothing grows with the
number of steps."""

import gc
import sys
import weakref

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler import cache
from srcdiff.runtime.calls import BoundedCache

pytestmark = pytest.mark.usefixtures("young_heap")

CLOSURES = 100  # one made per step, JAX style: more than the entries of any bounded table
BOUND = 32  # (the bound of each table in that test)
STEPS = 300


def make_loss(scale):
    def loss(w, x):
        return np.sum(helper(x @ w) ** 2) * scale

    return loss


def helper(y):
    return np.tanh(y)


class Model:
    def __init__(self):
        self.w = np.ones(3)

    @sd.differentiate(wrt=0)
    def loss(self, w, x):
        return np.sum(x * w * self.w)


def alive(refs):
    gc.collect()
    return sum(r() is not None for r in refs)


def bounded_tables() -> list[BoundedCache]:
    """Every bounded table of srcdiff's modules."""
    modules = [m for name, m in list(sys.modules.items()) if name.startswith("srcdiff")]
    return [v for m in modules for v in vars(m).values() if isinstance(v, BoundedCache)]


def test_a_closure_made_at_each_step_is_freed_with_its_compiled_code(monkeypatch):
    tables = bounded_tables()
    assert tables
    for table in tables:
        monkeypatch.setattr(table, "_size", BOUND)
    x, w = np.ones((4, 3)), np.ones(3)
    refs = []
    for step in range(CLOSURES):
        loss = make_loss(float(step % 7))
        np.testing.assert_allclose(
            sd.grad(loss)(w, x), 2 * np.tanh(3) / np.cosh(3) ** 2 * 4 * (step % 7)
        )
        refs.append(weakref.ref(loss))
        del loss
    assert alive(refs) == 0


def test_a_differentiated_method_does_not_keep_its_instances_alive():
    refs = []
    for _ in range(STEPS):
        model = Model()
        np.testing.assert_allclose(model.loss.grad(np.ones(3), np.full(3, 2.0)), 2.0)
        model.loss(np.ones(3), np.ones(3))
        refs.append(weakref.ref(model))
        del model
    assert alive(refs) == 0


def test_a_method_keeps_working_while_its_instance_lives():
    model = Model()
    loss = model.loss
    gc.collect()
    assert loss.grad(np.ones(3), np.full(3, 3.0)).tolist() == [3.0, 3.0, 3.0]
    assert loss.__qualname__ == "Model.loss"


def test_the_variants_of_one_function_are_bounded(monkeypatch):
    monkeypatch.setattr(cache, "VARIANTS", 3)

    def loss(w):
        return np.sum(w**2)

    g = sd.grad(loss)
    for ndim in range(1, 8):  # one unit per number of dimensions
        g(np.ones((2,) * ndim))
        assert len(cache._UNITS[loss]) == min(ndim, 3)
    np.testing.assert_allclose(g(np.ones(2)), 2.0)  # evicted, compiled again


def test_a_gradient_differentiated_again_is_freed_with_its_function():
    """``sd.grad(sd.grad(loss))`` and ``sd.jvp`` through an inner gradient: the rules the
    compiler keeps for the inner transform hold it weakly (they kept it alive)."""
    refs = []
    for step in range(12):
        loss = make_loss(float(step % 3 + 1))
        inner = sd.grad(loss, wrt=0)
        x = np.ones((2, 3))
        second = sd.grad(lambda w, inner=inner, x=x: np.sum(inner(w, x)))(np.ones(3) * 0.1)
        assert np.all(np.isfinite(second))
        refs += [weakref.ref(inner), weakref.ref(loss)]
        del loss, inner
    assert alive(refs) == 0
