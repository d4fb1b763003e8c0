"""Every function that once had a wrong gradient, changed the caller's objects or
crashed now gets the right gradient (or, where marked, a ``CompileError``)."""

import itertools

import numpy as np
import pytest

import srcdiff as sd

from .reported import CASES, _cached, a_write_into_a_dict_field_of_a_global_object, vec
from .verify import verify


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reported_function(case):
    outcome = verify(case.fn, case.args, case.wrt)
    assert outcome == "ok" or case.refusable, f"{case.name} was refused"


def test_a_function_updating_its_default_list_keeps_it_as_python_does():
    """Called with its default, the function's list is written back as Python leaves it:
    the next call sees the earlier entries."""
    store: list = []

    def appended(v, acc=store):
        acc.append(v)
        return sum(np.sum(a) for a in acc)

    x = np.array([1.0, 2.0])
    g = sd.value_and_grad(appended)
    assert g(x)[0] == pytest.approx(3.0)
    assert g(x)[0] == pytest.approx(6.0) and len(store) == 2


def test_a_dict_fields_write_reaches_the_callers_dict():
    """A write into a dict a field of the caller's object holds reaches that dict, as a
    plain call's does (the field's own dict, which every name holding it sees)."""
    cache = _cached.cache
    calls = cache["calls"]
    sd.grad(a_write_into_a_dict_field_of_a_global_object)(vec(3))
    assert _cached.cache is cache and cache["calls"] == calls + 1


CONFIG = {"scale": 1.0}
GROUPS = [{"lr": 0.1}, {"lr": 0.2}]


def written_through_other_names(x, s):
    """Writes into a global's dicts through names of their own: Python makes them in
    the global's objects (compiled code gave the names new dicts, silently)."""
    for group in GROUPS:
        group["lr"] = s
    d = CONFIG
    d["scale"] = s * 3
    return np.sum(x * CONFIG["scale"]) + GROUPS[1]["lr"]


def an_array_written_through_another_name(x):
    d = CONFIG
    d["cache"] = x * 2.0
    return np.sum(x)


def test_writes_into_a_globals_dicts_through_other_names_reach_them():
    x = vec(3)
    value, grad = sd.value_and_grad(written_through_other_names)(x, 2.0)
    assert CONFIG["scale"] == 6.0 and [g["lr"] for g in GROUPS] == [2.0, 2.0]
    assert value == pytest.approx(6.0 * np.sum(x) + 2.0)
    np.testing.assert_allclose(grad, np.full(3, 6.0))
    with pytest.raises(sd.CompileError, match="a global holds"):
        sd.grad(an_array_written_through_another_name)(x)


def test_a_learning_rate_set_in_a_compiled_step_reaches_the_optimizer():
    """``for g in opt.param_groups: g["lr"] = lr`` (warm-up) in a compiled step, as
    eagerly: the optimizer steps with each call's rate."""

    def run(compiled):
        w = sd.nn.Parameter(sd.tensor([1.0]))
        opt = sd.optim.SGD([w], lr=0.1)

        def step(lr):
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            opt.step()
            return loss.item()

        step = sd.differentiate(step) if compiled else step
        return [(step(lr), w.item(), opt.param_groups[0]["lr"]) for lr in (0.1, 0.01, 0.3)]

    assert run(True) == run(False)
    assert run(True)[-1][1:] == (pytest.approx(0.3136), 0.3)


WARMUP = [{"lr": 0.1, "momentum": 0.0, "step": 0}]


def several_writes_through_another_name(x):
    for group in WARMUP:
        group["step"] += 1
        group["lr"] = 0.1 * group["step"]
        group["momentum"] = 0.9
    return np.sum(x * WARMUP[0]["lr"])


def a_differentiated_value_written_through_another_name(x, s):
    d = CONFIG
    d["scale"] = s
    return np.sum(x * CONFIG["scale"])


def test_every_write_through_another_name_reaches_the_global():
    """Each write reaches the global's dict (the second one went into a copy)."""
    x = vec(3)
    g = sd.grad(several_writes_through_another_name)
    for step in (1, 2, 3):
        np.testing.assert_allclose(g(x), np.full(3, 0.1 * step))
        assert WARMUP[0] == {"lr": pytest.approx(0.1 * step), "momentum": 0.9, "step": step}


def test_a_differentiated_value_written_into_a_globals_object_is_refused():
    """Its gradient would be lost where the global is read back: refused, as written
    into the global itself."""
    with pytest.raises(sd.CompileError, match="an object a global holds"):
        sd.grad(a_differentiated_value_written_through_another_name, wrt=1)(vec(3), 2.0)


def test_unpacking_too_many_or_too_few_values_raises_pythons_error():
    def three(x):
        a, b = [x[0], x[1], x[2]]
        return a * b

    def one(x):
        a, b = [x[0]]
        return a * b

    with pytest.raises(ValueError, match=r"too many values to unpack \(expected 2\)"):
        sd.grad(three)(vec(3))
    with pytest.raises(ValueError, match=r"not enough values to unpack \(expected 2, got 1\)"):
        sd.grad(one)(vec(3))


def _unpacks_an_endless_iterator(x):
    try:
        i, j = itertools.count()
    except ValueError:
        i = 1.0
    return x[0] * i


def test_unpacking_takes_no_more_items_than_python_does():
    """Python takes one item more than the targets before it raises; the whole of an
    endless iterator was taken (the call never returned)."""
    np.testing.assert_allclose(sd.grad(_unpacks_an_endless_iterator)(vec(2)), [1.0, 0.0])


def _adds_into_its_argument(x, s):
    s += np.sum(x)
    x = x * s
    return np.sum(x)


def test_an_argument_updated_then_another_rebound_whether_a_number_or_an_array():
    """A float argument is a new number after ``s += v``; a 0-d array is updated (in the
    compiled code's own copy): the gradient is the same."""
    expected = np.full(3, 0.5 + 2 * np.sum(vec(3)))  # s + sum(x), and sum(x) through s
    for s in (0.5, np.array(0.5)):
        np.testing.assert_allclose(sd.grad(_adds_into_its_argument)(vec(3), s), expected)


@pytest.mark.parametrize(
    "argument",
    [
        np.matrix([[1.0, 2.0], [3.0, 4.0]]),
        np.ma.masked_array([0.3, -1.2, 0.7], mask=[False, True, False]),
    ],
    ids=["matrix", "masked"],
)
def test_arrays_whose_operators_are_not_arithmetic_on_entries_are_refused(argument):
    """``np.matrix``'s ``*`` is a matrix product, a masked array's mean skips entries:
    both were differentiated as plain arrays."""
    with pytest.raises(sd.CompileError, match="neither an array nor"):
        sd.grad(lambda a: np.sum(a * a) + np.mean(a))(argument)


def test_an_array_subclass_with_its_own_operator_is_refused_after_a_plain_array():
    class Squaring(np.ndarray):
        def __mul__(self, other):
            return np.asarray(self) * np.asarray(other) ** 2

    g = sd.grad(lambda x: np.sum(x * x))
    x = vec(3)
    assert np.allclose(g(x), 2 * x)
    with pytest.raises(sd.CompileError, match="Squaring"):
        g(x.view(Squaring))


def test_an_object_with_float_and_array_alone_is_no_differentiated_argument():
    class Length:
        def __init__(self, mm):
            self.__dict__["mm"] = mm

        def __getattr__(self, name):
            raise AttributeError(name)

        def __float__(self):
            return self.mm / 1000.0

        def __array__(self, dtype=None, copy=None):
            return np.asarray(float(self), dtype=dtype)

    with pytest.raises(sd.CompileError, match="Length"):
        sd.grad(lambda v: np.asarray(v) ** 2)(Length(500.0))


def test_an_array_of_objects_after_a_float_array_is_checked_again():
    """The unit compiled for a float ``y`` took it for plain: a second call with an array
    of objects of the same shape reused it."""

    class Squaring:
        def __radd__(self, other):
            return other * other

    g = sd.grad(lambda x, y: np.sum(x + y))
    x = vec(3)
    g(x, np.ones(3))
    with pytest.raises(sd.CompileError, match="array of objects"):
        g(x, np.array([Squaring()] * 3, dtype=object))


def test_a_callee_given_plain_arrays_checks_nothing_and_an_object_is_still_refused():
    """A callee's unit knows which of its parameters the call gave plain values (the
    site's key has their types and dtypes): an object there is checked, an array not."""

    class Tripling:
        def __mul__(self, other):
            return 3.0 * other

        __rmul__ = __mul__

    g = sd.grad(lambda x, s: np.sum(_times(x, s)))
    x = vec(3)
    assert np.allclose(g(x, np.full(3, 2.0)), 2.0)
    assert "rt.operands" not in sd.source(g).split("_times", 1)[1]
    with pytest.raises(sd.CompileError, match="Tripling"):
        g(x, Tripling())
    with pytest.raises(sd.CompileError, match="array of objects"):
        g(x, np.array([Tripling()] * 3, dtype=object))


def _times(v, s):
    return v * s


def test_a_simple_namespace_of_parameters_gets_its_fields_gradients():
    """Refused as neither an array nor an object of fields (a crash before that)."""
    import types

    w = vec(2)
    grad = sd.grad(lambda p: np.sum(p.w**2) * p.s)(types.SimpleNamespace(w=w, s=3.0))
    assert type(grad) is types.SimpleNamespace
    np.testing.assert_allclose(grad.w, 6.0 * w)
    assert grad.s == pytest.approx(np.sum(w**2))


def test_max_of_tied_records_in_forward_mode_follows_the_one_returned():
    """``max`` of dataclasses tied in their order crashed in forward mode (a tangent
    shared by multiplying a record); the tangent is the returned one's."""
    from .reported import _Candidate

    def best(x):
        return max([_Candidate(1, x[0]), _Candidate(1, x[1])]).w

    x = np.array([0.5, 0.5])
    assert sd.jvp(best, (x,), (np.array([1.0, 0.0]),))[1] == 1.0
    assert sd.jvp(best, (x,), (np.array([0.0, 1.0]),))[1] == 0.0


def test_max_of_an_array_holding_nan_gives_the_gradient_to_the_entry_returned():
    """Python's ``max`` over an array's entries returned the NaN first entry; the
    adjoint, iterating again, found no entry equal to it and gave zeros."""

    def largest(x):
        return max(x)

    assert np.array_equal(sd.grad(largest)(np.array([np.nan, 1.0])), [1.0, 0.0])


def test_keywords_of_another_name_in_forward_mode():
    """Forward mode binds ``np.clip``'s ``min=``/``max=`` and ``einsum``'s ``optimize=``
    as the reverse rule does."""
    from .reported import numpy_keywords_of_another_name_or_of_no_consequence as f

    x = np.random.default_rng(4).uniform(-1.0, 1.0, (3, 4))
    v = np.random.default_rng(5).standard_normal((3, 4))
    _, tangent = sd.jvp(f, (x,), (v,))
    assert tangent == pytest.approx(np.sum(sd.grad(f)(x) * v))


def test_max_with_a_key_runs_the_key_as_a_plain_call_does():
    """The adjoint of ``max(xs, key=k)`` ran the key again to find the winner: a key with
    state picked another candidate (a wrong gradient), and ran twice as often."""
    calls = []

    def flipping(v):
        calls.append(v)
        return v if len(calls) <= 3 else -v

    def largest(x):
        return max([x[0], x[1], x[2]], key=flipping) * 1.0

    assert np.array_equal(sd.grad(largest)(np.array([0.2, 1.0, 3.0])), [0.0, 0.0, 1.0])
    assert len(calls) == 3


def test_a_mean_of_squares_near_float16s_largest_has_a_finite_gradient():
    """The slope's 2 moved onto the reduced gradient overflowed float16 (65504): inf."""

    def scaled(x, y):
        return np.mean((x - y) ** 2) * 65536.0

    x, y = np.array([0.5, 0.25], np.float16), np.zeros(2, np.float16)
    with np.errstate(over="ignore"):
        grad = sd.grad(scaled)(x, y)
    assert np.array_equal(grad, np.array([32768.0, 16384.0], np.float16))


def test_forward_mode_reads_a_dict_by_the_keys_it_iterates():
    """``for k in d: d[k]``: the key, taken from a dict of differentiated values, was taken
    for a differentiated index (no forward rule for getitem in it)."""

    def doubled_entries(x):
        d = {"a": x, "b": x * 2.0}
        e = {}
        for k in d:
            e[k] = d[k] * x
        return np.sum(e["a"] + e["b"])

    x = np.array([1.0, 2.0])
    _, tangent = sd.jvp(doubled_entries, (x,), (np.ones(2),))
    assert tangent == pytest.approx(np.sum(6.0 * x))


def test_a_quantile_of_a_slice_holding_nan_has_nan_gradients():
    """The median of values holding NaN is NaN; its gradient was finite (finite
    differences give NaN, and np.max's rule gives the NaN entries the gradient)."""

    def middle(x):
        return np.sum(np.quantile(x, 0.5, axis=1))

    x = np.array([[3.0, np.nan, 7.0], [1.0, 2.0, 4.0]])
    grad = sd.grad(middle)(x)
    assert np.isnan(grad[0]).all() and np.array_equal(grad[1], [0.0, 1.0, 0.0])
    assert np.isnan(sd.jvp(middle, (x,), (np.ones_like(x),))[1])


def test_a_division_by_a_python_zero_gives_the_gradient_numpy_gives():
    """``x[0] / 0.0`` is NumPy's inf in the primal (x[0] a NumPy number): the adjoint
    divided the seed, a Python 1.0, by the Python 0.0 and raised ZeroDivisionError."""

    def divided(x):
        d = 0.0
        return x[0] / d + x[1]

    with np.errstate(divide="ignore"):
        assert sd.grad(divided)(np.array([1.0, 2.0])).tolist() == [np.inf, 1.0]


def _accumulated_float32(x):
    acc = np.zeros(3, np.float32)
    acc += x / 7
    return np.sum(acc * acc)


def _broadcast_into_a_smaller_array(x):
    acc = np.zeros(3)
    acc += np.outer(x, x)
    return np.sum(acc)


def _floats_into_an_integer_array(x):
    k = np.zeros(3, np.int64)
    k += x
    return np.sum(k * x)


def test_augmented_assignment_keeps_the_arrays_shape_and_dtype():
    """``acc += v`` is in place: float32 stays float32 (value and gradient as NumPy
    computes them), and a result that does not fit raises NumPy's error (compiled code
    computed ``acc = acc + v``: a float64 result, a broadcast array, an int made float)."""
    x = np.array([0.3, -1.2, 2.0])
    value, grad = sd.value_and_grad(_accumulated_float32)(x)
    assert value.dtype == np.float32 and value == _accumulated_float32(x)
    acc = (x / 7).astype(np.float32)
    np.testing.assert_allclose(grad, 2 * acc / 7, rtol=1e-6)
    value, tangent = sd.jvp(_accumulated_float32, (x,), (np.ones(3),))
    assert value.dtype == np.float32 and tangent.dtype == np.float32
    with pytest.raises(ValueError, match="non-broadcastable output operand"):
        _broadcast_into_a_smaller_array(x)
    with pytest.raises(ValueError, match="non-broadcastable output operand"):
        sd.grad(_broadcast_into_a_smaller_array)(x)
    with pytest.raises(TypeError, match="Cannot cast ufunc"):
        _floats_into_an_integer_array(x)
    with pytest.raises(TypeError, match="Cannot cast ufunc"):
        sd.grad(_floats_into_an_integer_array)(x)


class _Fivefold(list):
    """Its iteration gives five times what it holds."""

    def __iter__(self):
        return iter([v * 5.0 for v in list.__iter__(self)])


@pytest.mark.parametrize(
    "fn",
    [
        lambda p: sum(p) ** 2,
        lambda p: max(p) ** 2,
        lambda p: np.sum(np.array(p) ** 2),
        lambda p: (lambda a, b, c: a * b * c)(*p),
    ],
    ids=["sum", "max", "np.array", "*args"],
)
def test_a_list_of_its_own_iteration_is_refused_where_its_entries_get_gradients(fn):
    """``sum``, ``max``, ``np.array`` and ``f(*p)`` take what ``__iter__`` gives, which
    compiled code's adjoints gave to the entries held: the value was right and the
    gradient not."""
    p = _Fivefold([1.0, 2.0, 3.0])
    with pytest.raises(sd.CompileError, match="of its own|runs an operation of the object's own"):
        sd.value_and_grad(fn)(p)


def test_a_gradient_through_the_weights_of_np_cov_is_refused():
    """np.cov's rule gives its weights no gradient: differentiated weights had a zero
    gradient, silently."""
    rng = np.random.default_rng(0)
    data, weights, c = rng.normal(size=(3, 5)), rng.uniform(0.5, 2.0, 5), rng.normal(size=(3, 3))

    def by_weights(w):
        return np.sum(np.cov(data, aweights=w) * c)

    with pytest.raises(sd.CompileError, match="weights of np.cov"):
        sd.grad(by_weights)(weights)


class _Fields:
    pass


def test_getattr_with_a_name_that_is_no_identifier_is_refused():
    def read(p, name):
        return np.sum(getattr(p, name) ** 2)

    p = _Fields()
    setattr(p, "my field", np.ones(2))
    p.w = np.full(2, 3.0)
    np.testing.assert_allclose(sd.grad(read)(p, "w").w, [6.0, 6.0])
    with pytest.raises(sd.CompileError, match="no Python identifier"):
        sd.grad(read)(p, "my field")


_W = np.array([0.5, 0.25, 0.1])


def _zipped_loop(x):
    s = 0.0
    for a, b in zip(x, _W[:2], strict=True):
        s = s + a * b
    return s


def _zipped_generator(x):
    return sum(a * b for a, b in zip(x, _W, strict=True))


def _zipped_enumerate(x):
    s = 0.0
    for i, (a, b) in enumerate(zip(x, _W, strict=True)):
        s = s + i * a * b
    return s


def _zipped_until_break(x):
    s = 0.0
    for a, b in zip(x, _W[:2], strict=True):
        s = s + a * b
        break
    return s


@pytest.mark.parametrize("fn", [_zipped_loop, _zipped_generator, _zipped_enumerate])
def test_zip_strict_over_sequences_of_different_lengths_raises_as_python(fn):
    """``zip(..., strict=True)`` raises Python's ValueError where its sequences differ in
    length (compiled code ran over the shortest and returned a value)."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"zip\(\) argument 2 is (shorter|longer)"):
        fn(x)
    with pytest.raises(ValueError, match=r"zip\(\) argument 2 is (shorter|longer)"):
        sd.grad(fn)(x)
    same = x[: 2 if fn is _zipped_loop else 3]
    np.testing.assert_allclose(sd.value_and_grad(fn)(same)[0], fn(same))


def test_zip_strict_left_by_a_break_raises_nothing():
    x = np.array([1.0, 2.0, 3.0])
    value, grad = sd.value_and_grad(_zipped_until_break)(x)
    assert value == _zipped_until_break(x) and grad.tolist() == [0.5, 0.0, 0.0]
