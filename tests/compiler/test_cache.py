"""Stage 8: compiled code is cached per function and static facts, adjoints per path. A
call on a path seen before generates and compiles nothing (counted, never timed)."""

from __future__ import annotations

import gc
import sys
import weakref

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


# A call whose positional arguments have the types and shapes of an earlier call runs a
# dispatcher (api._dispatcher): the tests below call each gradient at least twice, so that
# the call checked is the dispatcher's, and check that it keeps what a first call does.


def twice_cubed(x):
    return np.sum(cubed(x))


def cubed(x):  # a primitive of its own: its rule is registered in the test
    return x**3


def test_a_rule_registered_after_cached_calls_changes_the_next_gradient(rules):
    sd.register_vjp(cubed)(lambda g_, ans, x_: g_ * 3 * x_**2)
    fn = fresh(twice_cubed)
    g = sd.grad(fn)
    x = np.array([1.0, 2.0])
    for _ in range(2):
        assert np.allclose(g(x), 3 * x**2)
    sd.register_vjp(cubed)(lambda g_, ans, x_: g_ * 100.0)
    assert np.allclose(g(x), 100.0)
    assert np.allclose(g(x), 100.0)


def apply_to(f, x):
    return np.sum(f(x))


def test_a_rule_registered_for_a_function_compiled_code_calls_changes_the_next_gradient(rules):
    """A function passed in is called through its call site, which remembers the function
    had no rule: a rule registered after cached calls is used from the next call on."""
    g = sd.grad(fresh(apply_to), wrt=1)
    x = np.array([1.0, 2.0])
    for _ in range(2):
        assert np.allclose(g(cubed, x), 3 * x**2)  # cubed's own source differentiated
    sd.register_vjp(cubed)(lambda g_, ans, x_: g_ * 100.0)
    for _ in range(2):
        assert np.allclose(g(cubed, x), 100.0)


SCALE = 2.0


def scaled_sum(x):
    return np.sum(x * SCALE)


def test_a_global_number_that_becomes_an_array_recompiles_after_cached_calls(monkeypatch):
    # (SCALE is set from outside the module's functions: one assigning it, global SCALE,
    # would make it a variable of scaled_sum, read from the module where it starts)
    fn = fresh(scaled_sum)
    g = sd.grad(fn)
    x = np.ones(3)
    for _ in range(2):
        assert np.array_equal(g(x), np.full(3, 2.0))
    before = only_unit(fn)
    assert before.number_globals  # compiled taking SCALE for a number
    monkeypatch.setattr(sys.modules[__name__], "SCALE", np.array([1.0, 2.0, 3.0]))
    assert np.array_equal(g(x), [1.0, 2.0, 3.0])
    assert np.array_equal(g(x), [1.0, 2.0, 3.0])
    assert only_unit(fn) is not before  # compiled again


def root_sum(x):
    return np.sum(np.sqrt(x))


def test_finiteness_and_kink_checks_run_after_cached_calls():
    fn = fresh(root_sum)
    g = sd.grad(fn)
    ok, zero = np.array([1.0, 4.0]), np.array([0.0, 4.0])
    for _ in range(2):
        g(ok)
    with sd.runtime.checking_finite(), pytest.raises(sd.NonFiniteError):
        g(zero)
    with pytest.raises(sd.NonFiniteError):
        sd.grad(fn, check_finite=True)(zero)
    assert np.isinf(g(zero)[0])  # the checks are off again
    near = fresh(branchy)
    g = sd.grad(near)
    x = np.array([0.5, -0.5 + 1e-12, 0.0])
    for _ in range(2):
        g(x)
    with pytest.warns(sd.KinkWarning):
        sd.grad(near, warn_kinks=1e-6)(x)


def test_cached_calls_count_their_paths_and_show_their_source():
    fn = fresh(branchy)
    g = sd.grad(fn)
    x = np.array([0.5, 1.0, -0.2])
    for _ in range(3):
        assert np.allclose(g(x), 1.0 - np.tanh(x) ** 2)
    for _ in range(2):
        assert np.allclose(g(-x), -2 * x)
    assert "np.sum(x * x)" in sd.source(g) and "tanh" not in sd.source(g)
    g(x)
    assert "tanh" in sd.source(g)
    assert [p.calls for p in sd.paths(g)] == [4, 2]


def test_cached_calls_of_other_shapes_and_dtypes():
    fn = fresh(branchy)
    g = sd.grad(fn)
    for x in (np.ones(3), np.ones(3), np.ones(5), np.ones((2, 3)), np.ones(3), np.ones(5)):
        d = g(x)
        assert d.shape == x.shape and np.allclose(d, 1.0 - np.tanh(x) ** 2)
    d = g(np.ones(3, dtype=np.float32))
    assert d.dtype == np.float32 and np.allclose(d, 1.0 - np.tanh(1.0) ** 2)


def added(a, b, c=1.0):
    return np.sum(a + b) * c


def test_cached_calls_give_distinct_gradients_and_leave_the_arguments_alone():
    fn = fresh(added)
    g = sd.value_and_grad(fn, wrt=(0, 1))
    a, b = np.ones(3), np.full(3, 2.0)
    for _ in range(3):
        value, (da, db) = g(a, b)
        assert value == 9.0 and da is not db and not np.shares_memory(da, db)
        da += 1.0
        assert np.array_equal(db, np.ones(3))
    assert np.array_equal(a, np.ones(3)) and np.array_equal(b, np.full(3, 2.0))
    assert g(a, b, c=2.0)[1][0][0] == 2.0  # keywords take the general path
    assert g(a, b, 3.0)[1][0][0] == 3.0


class Scaled:
    def __init__(self, c):
        self.c = c

    def loss(self, w):
        return np.sum(w * w) * self.c


def test_cached_calls_of_a_method_read_its_instance():
    model = Scaled(2.0)
    g = sd.grad(model.loss)
    w = np.array([1.0, 2.0])
    for _ in range(2):
        assert np.allclose(g(w), 4 * w)
    model.c = 5.0
    assert np.allclose(g(w), 10 * w)
    other = sd.grad(Scaled(1.0).loss)
    for _ in range(2):
        assert np.allclose(other(w), 2 * w)
    assert np.allclose(g(w), 10 * w)


def test_explain_and_source_read_the_latest_cached_call():
    fn = fresh(branchy)
    g = sd.grad(fn)
    g(np.ones(3))
    g(np.ones(3))
    g(-np.ones(3))
    assert sd.explain(g).path == sd.explain(g, -np.ones(3)).path
    assert sd.explain(g).path != sd.explain(g, np.ones(3)).path
    with sd.runtime.warning_kinks(1e-6):
        g(np.ones(3))  # the primal with kink checks
    assert "rt.near_" in sd.source(g)
    g(np.ones(3))
    assert "rt.near_" not in sd.source(g)


OFFSETS = np.array([1.0, 2.0, 3.0])  # float64, whatever the argument's dtype


def offset_sum(x):
    return np.sum(x * OFFSETS)


def test_a_cached_call_gives_the_gradient_in_its_arguments_dtype():
    fn = fresh(offset_sum)
    g = sd.grad(fn)
    for _ in range(2):
        assert g(np.ones(3)).dtype == np.float64
    d = g(np.ones(3, dtype=np.float32))
    assert d.dtype == np.float32 and np.array_equal(d, OFFSETS)


# ---- what compilation found through free names is checked before each call ----------------

ACT = np.tanh


class Settings:
    act = staticmethod(np.tanh)


SETTINGS = Settings()


def through_a_global(x):
    return np.sum(ACT(x))


def through_an_attribute(x):
    return np.sum(SETTINGS.act(x))


def through_numpy(x):
    return np.sum(np.tanh(x))


X3 = np.array([0.3, -0.7, 1.1])


@pytest.mark.parametrize("fn", [through_a_global, through_an_attribute, through_numpy])
def test_a_callee_rebound_after_cached_calls_gives_the_new_gradient(fn, monkeypatch):
    """The adjoint was made for the function the name held (its rule): another one there
    compiles anew, by every entry point, cached calls (a dispatcher's) too."""
    g = sd.grad(fn)
    for _ in range(3):
        np.testing.assert_allclose(g(X3), 1 - np.tanh(X3) ** 2)
    monkeypatch.setattr(sys.modules[__name__], "ACT", np.sin)
    monkeypatch.setattr(Settings, "act", staticmethod(np.sin))
    monkeypatch.setattr(np, "tanh", np.sin)
    for _ in range(2):
        np.testing.assert_allclose(g(X3), np.cos(X3))
    np.testing.assert_allclose(sd.jvp(fn, (X3,), (np.ones(3),))[1], np.sum(np.cos(X3)))


def test_a_closure_cell_rebound_gives_the_new_gradient():
    act = np.tanh

    def f(x):
        return np.sum(act(x))

    g = sd.grad(f)
    g(X3), g(X3)
    act = np.sin  # noqa: F841 (read by f)
    np.testing.assert_allclose(g(X3), np.cos(X3))


def test_a_functions_code_or_defaults_replaced_compile_anew():
    def f(x, c=1.0):
        return np.sum(c * x * x)

    g = sd.grad(f)
    g(X3), g(X3)
    f.__defaults__ = (3.0,)
    np.testing.assert_allclose(g(X3), 6.0 * X3)

    def cubed(x, c=1.0):
        return np.sum(c * x * x * x)

    f.__code__ = cubed.__code__
    np.testing.assert_allclose(g(X3), 9.0 * X3**2)


def test_a_rule_registered_again_reaches_a_function_passed_as_an_argument(rules):
    def cube(x):
        return x**3

    def f(x, op):
        return np.sum(op(x))

    sd.register_vjp(cube)(lambda g, ans, x: g * 3 * x**2)
    g = sd.grad(f)
    np.testing.assert_allclose(g(X3, cube), 3 * X3**2)
    sd.register_vjp(cube)(lambda g, ans, x: g * 100.0)
    np.testing.assert_allclose(g(X3, cube), np.full(3, 100.0))


def test_an_integer_array_after_float_calls_is_refused():
    """Cached calls of a float array of one shape do not take an integer array of that
    shape for one: its gradient would be cut to integers."""
    g = sd.grad(through_numpy)
    g(X3), g(X3)
    with pytest.raises(TypeError, match="integer"):
        g(np.array([1, 2, 3]))


def test_a_function_given_to_jvp_is_freed_with_its_compiled_code(young_heap):
    def f(x):
        return np.sum(np.sin(x))

    sd.jvp(f, (X3,), (np.ones(3),))
    assert "forward mode" in sd.source(f)
    alive = weakref.ref(f)
    del f
    gc.collect()
    assert alive() is None


STEP_ACT = sd.tanh


def tensor_step(w):
    loss = STEP_ACT(w).sum()
    loss.backward()
    return loss.item()


def test_a_tensor_function_rebound_in_a_compiled_step(monkeypatch):
    """Compiled Tensor code lowers ``act(h)`` to its array version: another function there
    compiles anew (the value and the gradients are the new function's)."""
    step = sd.differentiate(tensor_step)
    for act, grad in [(sd.tanh, lambda v: 1 - np.tanh(v) ** 2), (sd.exp, np.exp)]:
        monkeypatch.setattr(sys.modules[__name__], "STEP_ACT", act)
        for _ in range(2):
            w = sd.tensor(X3, requires_grad=True)
            assert step(w) == pytest.approx(float(act(sd.tensor(X3)).sum()))
            np.testing.assert_allclose(w.grad.numpy(), grad(X3))


def test_a_callee_called_with_an_integer_then_a_float_tensor():
    """A function found at run time, called first with an integer Tensor (no gradient),
    then with a float one that requires grad, gives the float one its gradient."""

    def weighted(a, b):
        return (a * b).sum()

    fns = {"w": weighted}

    @sd.differentiate
    def step(a, b):
        loss = fns["w"](a, b)
        loss.backward()
        return loss.item()

    step(sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3, 4]))
    a, b = sd.tensor([1.0, 2.0], requires_grad=True), sd.tensor([3.0, 4.0], requires_grad=True)
    step(a, b)
    assert b.grad.tolist() == [1.0, 2.0] and a.grad.tolist() == [3.0, 4.0]


LOSSES: list = []


def logging_its_values(x):
    LOSSES.append(x.shape)
    return np.sum(x * x)


def test_a_method_of_a_globals_list_compiles_once(compiles):
    """``LOSSES.append`` is a new bound method at each read: it is not what the check
    before each call compares (every call compiled anew)."""
    g = sd.grad(logging_its_values)
    g(X3)
    before = compiles[0]
    for _ in range(3):
        g(X3)
    assert compiles[0] == before and len(LOSSES) >= 4


def test_an_object_a_closure_found_is_freed_with_it(young_heap):
    class Model:
        def act(self, x):
            return np.tanh(x)

    def make():
        m = Model()

        def f(x):
            return np.sum(m.act(x))

        return f, weakref.ref(m)

    f, alive = make()
    sd.grad(f)(X3), sd.grad(f)(X3)
    del f
    gc.collect()
    assert alive() is None


class Scaler:
    def scale(self, x):
        return 2.0 * x


SCALER = Scaler()


def through_a_method(x):
    return np.sum(SCALER.scale(x))


def test_a_method_replaced_on_its_instance_or_class_compiles_anew(monkeypatch):
    """An instance's method is checked without making the bound method: replaced on the
    instance or on the class, the new one is differentiated."""
    g = sd.grad(through_a_method)
    g(X3), g(X3)
    np.testing.assert_allclose(g(X3), np.full(3, 2.0))
    monkeypatch.setattr(SCALER, "scale", lambda x: 3.0 * x, raising=False)
    np.testing.assert_allclose(g(X3), np.full(3, 3.0))
    monkeypatch.delattr(SCALER, "scale")
    monkeypatch.setattr(Scaler, "scale", lambda self, x: 4.0 * x)
    np.testing.assert_allclose(g(X3), np.full(3, 4.0))


def test_methods_of_an_object_a_closure_holds_are_checked_each_after_compiling():
    """A closure cell is read once for all it is checked for (the object, then each of
    its methods the code calls): a method replaced on the instance, or the variable
    rebound to another object, is differentiated anew."""

    class Pair:
        def first(self, x):
            return 2.0 * x

        def second(self, x):
            return x * x

    pair = Pair()

    def f(x):
        return np.sum(pair.first(x) + pair.second(x))

    g = sd.grad(f)
    g(X3), g(X3)
    np.testing.assert_allclose(g(X3), 2.0 + 2.0 * X3)
    pair.second = lambda x: 5.0 * x
    np.testing.assert_allclose(g(X3), np.full(3, 7.0))
    del pair.second
    np.testing.assert_allclose(g(X3), 2.0 + 2.0 * X3)

    class Other(Pair):
        def second(self, x):
            return -x

    pair = Other()
    np.testing.assert_allclose(g(X3), np.full(3, 1.0))
