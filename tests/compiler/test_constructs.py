"""Python constructs beyond the battery's gradients (tests/compiler/functions.py has a case
for each): a lambda, a ``functools.partial`` and a callable object given to ``sd.grad``;
nested functions lifted out of the function that defines them, and compiled once;
``with`` blocks entering and leaving their managers as Python does; and what stays
refused, with a CompileError at the user's line."""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools

import numpy as np
import pytest
from soundness.verify import verify, verify_both_modes

import srcdiff as sd
from srcdiff.compiler.cache import units_built
from srcdiff.compiler.parse import parse

from .checker import check_function

RNG = np.random.default_rng(7)
W = RNG.uniform(-1.0, 1.0, 3)
X = RNG.uniform(-1.0, 1.0, (4, 3))
Y = RNG.uniform(-1.0, 1.0, 4)


def loss(w, x, y, scale=1.0):
    return np.mean((np.tanh(x @ w) - y) ** 2) * scale


def line_of(fn, text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


# ---- a lambda given to sd.grad ------------------------------------------------------------


def test_a_lambda_closing_over_the_data_is_differentiated():
    x, y = X, Y
    g = sd.grad(lambda w: loss(w, x, y))
    np.testing.assert_allclose(g(W), sd.grad(loss)(W, X, Y), rtol=1e-12)
    value, d = sd.value_and_grad(lambda w, s: loss(w, x, y, s), wrt=(0, "s"))(W, 2.0)
    assert value == pytest.approx(loss(W, X, Y, 2.0))
    np.testing.assert_allclose(d[0], sd.grad(loss)(W, X, Y, 2.0), rtol=1e-12)
    assert d[1] == pytest.approx(loss(W, X, Y))


def test_a_lambda_spanning_lines_and_its_source():
    g = sd.grad(
        lambda w: np.sum(np.sin(w) * w)  # its expression on three lines
    )
    np.testing.assert_allclose(g(W), np.cos(W) * W + np.sin(W))
    text = sd.source(g)
    assert "gradient of test_a_lambda_spanning_lines_and_its_source.<locals>.<lambda>" in text
    assert "def lambda_primal(" in text and "def lambda_adjoint(" in text


def test_lambdas_on_one_line_are_told_apart_by_their_parameters():
    f, g = (lambda a: np.sum(a * a)), (lambda b: np.sum(b * 3.0))
    np.testing.assert_allclose(sd.grad(f)(W), 2 * W)
    np.testing.assert_allclose(sd.grad(g)(W), np.full(3, 3.0))


# ---- partial objects and callable objects given to sd.grad -----------------------------------


class Loss:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __call__(self, w, scale=1.0):
        return loss(w, self.x, self.y, scale)


def test_a_partial_is_differentiated_with_respect_to_its_own_parameters():
    expected = sd.grad(loss, wrt=(0, 1))(W, X, Y)
    p = functools.partial(loss, x=X, y=Y)
    np.testing.assert_allclose(sd.grad(p)(W), expected[0], rtol=1e-12)
    np.testing.assert_allclose(sd.grad(p, wrt="x")(W), expected[1], rtol=1e-12)  # bound
    bound_first = functools.partial(loss, W)
    d = sd.grad(bound_first, wrt=(0, "scale"))(X, Y, scale=3.0)
    np.testing.assert_allclose(d[0], 3.0 * expected[1], rtol=1e-12)
    assert d[1] == pytest.approx(loss(W, X, Y))
    value, d_w = sd.value_and_grad(functools.partial(loss, scale=2.0))(W, X, Y)
    assert value == pytest.approx(2.0 * loss(W, X, Y))
    np.testing.assert_allclose(d_w, 2.0 * expected[0], rtol=1e-12)


def test_a_callable_object_is_differentiated_through_its_call():
    model = Loss(X, Y)
    np.testing.assert_allclose(sd.grad(model)(W), sd.grad(loss)(W, X, Y), rtol=1e-12)
    value, (d_w, d_s) = sd.value_and_grad(model, wrt=(0, 1))(W, 2.0)
    assert value == pytest.approx(2.0 * loss(W, X, Y))
    assert d_s == pytest.approx(loss(W, X, Y))
    g = sd.grad(model)
    g(W)
    assert "gradient of Loss.__call__" in sd.source(g)


SUM_ROWS = functools.partial(np.sum, axis=0)
HALF_LOSS = functools.partial(loss, scale=0.5)


def calls_partials(w, x, y):
    return HALF_LOSS(w, x, y) + np.sum(SUM_ROWS(x * w) ** 2)


def test_partials_called_in_compiled_code_are_differentiated():
    check_function(calls_partials, [W, X, Y], (0, 1, 2))
    g = sd.grad(calls_partials)
    g(W, X, Y)
    assert "rt.call(SUM_ROWS" in sd.source(g) and "rt.call(HALF_LOSS" in sd.source(g)


def scaled_column(v, i, *, h):
    return v[:, i] * h[0, i]


def test_a_partial_binding_a_tensor_in_a_compiled_step_passes_its_gradient():
    """The Tensor a partial binds (made in the step) gets its gradient where the partial
    is called, as the arguments do."""
    from steps import assert_compiled_step_matches_eager

    from srcdiff import nn

    sd.manual_seed(4)
    model = nn.Linear(3, 2).double()
    x = sd.randn(4, 3, dtype=sd.float64)

    def step(x):
        h = model(x)
        p = functools.partial(scaled_column, i=0, h=h)
        loss = p(h).sum()
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x)


# ---- nested functions --------------------------------------------------------------------


def solve(y0, w, steps):
    dt = 0.05

    def rhs(y):
        return -w * y + np.sin(y)

    def step(y):
        k1 = rhs(y)
        k2 = rhs(y + 0.5 * dt * k1)
        return y + dt * k2

    y = y0
    for _ in range(steps):
        y = step(y)
    return np.sum(y * y)


def test_a_closure_is_compiled_once_with_its_captured_names_as_arguments():
    g = sd.grad(solve, wrt=(0, 1))
    for steps in (3, 4, 5):
        check_function(solve, [W, np.abs(W), steps], (0, 1))
        g(W, np.abs(W), steps)
    step = parse(solve).scope["step"]
    assert units_built(step) == 1 and units_built(parse(solve).scope["rhs"]) == 1
    text = sd.source(g)
    assert "rt.call(step, (0, 'w'), y, dt=dt, w=w)" in text
    assert "def step_primal(_saved, _path, /, y, *, dt, w):" in text


def counts_calls(x):
    calls = []

    def f(v):
        calls.append(1)
        return v * 2.0

    y = f(x) + f(x * x)
    return np.sum(y) + len(calls)


def test_a_closure_updating_a_captured_list_leaves_it_as_python_does():
    value, d = sd.value_and_grad(counts_calls)(W)
    assert value == pytest.approx(counts_calls(W))
    np.testing.assert_allclose(d, 2.0 + 4.0 * W)


# ---- with blocks ---------------------------------------------------------------------------


class Recorder:
    def __init__(self, log: list, name: str):
        self.log, self.name = log, name

    def __enter__(self):
        self.log.append(f"enter {self.name}")
        return self

    def __exit__(self, kind, exc, tb):
        self.log.append(f"exit {self.name}" + (f" on {kind.__name__}" if kind else ""))
        return False


LOG: list = []


def managed(x, stop):
    with Recorder(LOG, "outer"):
        h = x * 1.0
        for i in range(3):
            with Recorder(LOG, f"step {i}") as r:
                h = np.sin(h) + r.name.count("s")
                if i == stop:
                    break
                if np.sum(h) > 50.0:
                    return np.sum(h)
    return np.sum(h * h)


@pytest.mark.parametrize("stop", [0, 1, 5])
def test_managers_are_entered_and_left_as_python_does(stop):
    LOG.clear()
    expected = managed(W, stop)
    plain = list(LOG)
    LOG.clear()
    value, d = sd.value_and_grad(managed)(W, stop)
    assert value == pytest.approx(expected) and plain == LOG
    check_function(managed, [W, stop], (0,))


def raises_inside(x):
    with np.errstate(divide="raise"):
        y = np.log(x - x)
    return np.sum(y)


def suppresses(x):
    with contextlib.suppress(FloatingPointError), np.errstate(divide="raise"):
        np.log(x - x)
    return np.sum(x)


def test_an_exception_leaves_the_managers_and_a_suppressing_one_is_refused():
    before = np.geterr()
    with pytest.raises(FloatingPointError):
        sd.grad(raises_inside)(W)
    assert np.geterr() == before
    with pytest.raises(sd.CompileError, match="suppressed an exception") as info:
        sd.grad(suppresses)(W)
    assert info.value.lineno == line_of(suppresses, "np.log") and np.geterr() == before


def asserts(x):
    h = np.tanh(x)
    assert np.all(h < 0.0), "negative"
    return np.sum(h)


def test_an_assert_is_evaluated_on_the_primal_values():
    with pytest.raises(AssertionError, match="negative"):
        sd.grad(asserts)(np.abs(W) + 0.1)
    np.testing.assert_allclose(
        sd.grad(asserts)(-np.abs(W) - 0.1), 1 - np.tanh(np.abs(W) + 0.1) ** 2
    )


# ---- loops: else, starred targets ------------------------------------------------------------


def inner_break_keeps_the_else(x, limit):
    total = 0.0
    for i in range(3):
        for j in range(3):
            if j > limit:
                break  # the inner loop's: the outer else still runs
            total = total + x[i, j] * x[j, i]
    else:
        total = total * 2.0
    for head, *tail in x:
        total = total + head * np.sum(np.stack(tail) ** 2)
    return total


@pytest.mark.parametrize("limit", [0, 1, 5])
def test_the_else_of_a_loop_runs_unless_its_own_break_does(limit):
    x = RNG.uniform(-1.0, 1.0, (3, 3))
    assert verify(inner_break_keeps_the_else, [x, limit], 0) == "ok"


# ---- entries written and never read (a list or dict built by writes) --------------------------


def writes_entries(x):
    xs = [0.0, 0.0, 0.0]
    d = {}
    for i in range(3):
        xs[i] = x[i] * 2.0
        d[i] = x[i] * x[i]
    return xs[0] * xs[2] + d[1]


def test_entries_written_and_never_read_have_zero_gradients():
    assert verify(writes_entries, [W], 0) == "ok"


# ---- nested functions used as values, and defaults read from the function around them -------


def stores_a_closure(x, w):
    fs = []
    f = lambda v: v * w  # noqa: E731 - the construct under test
    fs.append(f)
    return np.sum(fs[0](x))


def defines_twice(x, w, flag):
    if flag:

        def act(v):
            return v * w

    else:

        def act(v):
            return v + w

    return np.sum(act(x))


def reads_in_a_default(x):
    h = x * 2.0

    def f(v, s=h):
        return v * s

    return np.sum(f(x))


def lambdas_binding_a_comprehensions_variable(x, w):
    scaled = w * 2.0
    fs = [lambda v, i=i: v * scaled[i] for i in range(3)]
    return sum(f(x[0]) for f in fs) + fs[1](x[1], i=2)


def a_default_computed_from_the_input(x, w):
    scale = np.sum(np.tanh(x))

    def g(v, s=scale, *, shift=w[0] * x[2]):
        return v * s + shift

    def twice(v):  # calls g: passes the defaults g was defined with
        return g(v) * 2.0

    total = 0.0
    for k in range(2):
        y = x[k] * w[k]
        step = lambda v, y=y: v * y  # noqa: E731 - the construct under test
        total = total + step(x[2]) + g(x[1], w[1]) + twice(x[0])
    return total + (lambda v, s=x[0] ** 2: v * s)(w[2])


def calls(f, v):
    return f(v)


def passes_nested_functions_on(x, w):
    h = np.sin(w)
    g = lambda v, s=h[0]: v * s + h[1]  # noqa: E731 - the construct under test

    def k(v):
        return v * h[2]

    return sum(map(g, x)) + calls(g, x[1]) + calls(k, x[0]) + sum(calls(f, x[2]) for f in [g, k])


@pytest.mark.parametrize(
    "fn",
    [stores_a_closure, reads_in_a_default, lambdas_binding_a_comprehensions_variable,
     a_default_computed_from_the_input, passes_nested_functions_on],
)  # fmt: skip
def test_nested_functions_used_as_values_and_their_defaults_are_differentiated(fn):
    rng = np.random.default_rng(13)
    args = (rng.normal(size=3),) if fn is reads_in_a_default else (rng.normal(size=3), W)
    verify_both_modes(fn, args, rng)


def test_a_nested_function_defined_twice_is_differentiated():
    for flag in (True, False):
        assert verify(defines_twice, [W, W[::-1].copy(), flag], (0, 1)) == "ok"


def test_nested_function_defaults_in_a_compiled_step():
    from steps import assert_compiled_step_matches_eager

    from srcdiff import nn

    sd.manual_seed(4)
    model = nn.Linear(3, 2).double()
    x = sd.randn(4, 3, dtype=sd.float64)

    def step(x):
        h = model(x)
        scale = h.sum() * 0.1

        def weigh(v, s=scale):
            return v * s

        parts = [lambda v, i=i: v[:, i] * h[0, i] for i in range(2)]
        loss = weigh(h).sum() + sum(p(h).sum() for p in parts)
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x)


# ---- refused ---------------------------------------------------------------------------------


def reads_a_comprehensions_variable(x, w):
    fs = [lambda v: v * w[i] for i in range(3)]  # noqa: B023 - Python reads i when called: 2
    return sum(f(x[0]) for f in fs)


def reads_a_variable_of_a_loop(x, w):
    fs = []
    for k in range(2):
        h = w * k
        fs.append(lambda v: v * h[0])  # noqa: B023 - Python reads h when called: the last
    return sum(f(x[0]) for f in fs)


def changes_a_captured_name(x):
    h = x * 2.0

    def f(v):
        nonlocal h
        h = v
        return v

    return np.sum(f(x) + h)


def counts_and_accumulates_through_nonlocal(x, w):
    count = 0
    acc = w[0] * 0.0

    def add(v):
        nonlocal count, acc
        count += 1
        if v > 0:
            acc = acc + v * w[1]
            return v
        acc = acc - v * v

    total = 0.0
    for v in x:
        r = add(v)
        if r is not None:
            total = total + r
    add(w[2])
    return add(x[0] * 2.0) * acc + acc * count + total  # (acc read after the call)


def keeps_a_running_value(x, w):
    best = x[0] * w[0]

    def keep(v):
        nonlocal best
        best = best * 0.5 + v
        return best * 2.0

    y = keep(x[1])
    for v in [keep(x[2]), x[0]]:  # (a loop's head: evaluated once, before it)
        y = y + v * best
    if keep(w[1]) > -1e9:
        y = y + keep(x[2]) ** 2 + best
    return y + keep(keep(x[0]) * w[2]) * keep(w[0]) + best  # (in the order Python calls)


@pytest.mark.parametrize("fn", [changes_a_captured_name, counts_and_accumulates_through_nonlocal,
                                keeps_a_running_value])  # fmt: skip
def test_nested_functions_assigning_nonlocal_variables_are_differentiated(fn):
    rng = np.random.default_rng(14)
    x = rng.normal(size=3)
    args = (x,) if fn is changes_a_captured_name else (x, rng.normal(size=3))
    verify_both_modes(fn, args, rng)


def test_a_nonlocal_counter_in_a_compiled_step():
    from steps import assert_compiled_step_matches_eager

    from srcdiff import nn

    sd.manual_seed(5)
    model = nn.Linear(3, 2).double()
    x = sd.randn(4, 3, dtype=sd.float64)

    def step(x):
        calls = 0
        total = x.sum() * 0.0

        def term(row):
            nonlocal calls, total
            calls += 1
            total = total + (model(row) ** 2).sum()

        for i in range(4):
            term(x[i])
        loss = total / calls
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x)


def reads_a_nonlocal_before_the_call(x):
    h = x * 2.0

    def f(v):
        nonlocal h
        h = v
        return v

    return np.sum(h + f(x))  # Python reads h before f assigns it


def assigns_nonlocal_from_another_nested_function(x):
    h = x * 2.0

    def f(v):
        nonlocal h
        h = h + v

    def g(v):
        f(v)
        return h

    return np.sum(g(x))


def passes_a_function_assigning_nonlocal(x):
    h = x * 2.0

    def f(v):
        nonlocal h
        h = h + v

    list(map(f, [x]))
    return np.sum(h)


def assigns_nonlocal_inside_a_try(x):
    h = x

    def f(v):
        nonlocal h
        h = h * v
        if np.sum(h) > 0.0:
            raise ValueError("raised after h is assigned")

    try:  # noqa: SIM105 - a try statement is what is refused
        f(x)
    except ValueError:
        pass
    return np.sum(h)


def reads_a_global_where_its_callee_assigns_it(x):
    global CALLS
    y = np.sum(x) * _counts_a_call() + CALLS
    CALLS = 0
    return y


def _yields_twice(x):
    yield x
    yield x


def shadows_a_module_generator(x):
    def _yields_twice(x):
        for _ in range(3):
            yield x * x

    return np.sum(sum(_yields_twice(x)))


def _stops_early(x):
    for i in range(5):
        if i > 2:
            return
        yield x * i


def sums_a_generator_returning_in_a_loop(x):
    return np.sum(sum(_stops_early(x)))


REFUSED = [
    (assigns_nonlocal_inside_a_try, "        f(x)", "inside a try statement"),
    (shadows_a_module_generator, "yield x * x", "yield"),
    (reads_a_nonlocal_before_the_call, "return np.sum(h + f(x))", "where its statement reads"),
    (assigns_nonlocal_from_another_nested_function, "        f(v)", "in another function"),
    (passes_a_function_assigning_nonlocal, "list(map(f, [x]))", "which assigns `h` of"),
    (reads_a_comprehensions_variable, "fs = [lambda", "reads `i` of the function around it"),
    (reads_a_variable_of_a_loop, "fs.append(", "reads `h` of the function around it, which"),
]


def test_a_generator_returning_from_inside_a_loop_is_refused_where_it_yields():
    # (its listing's adjoint would meet the list the loop grows at a length it no longer has)
    with pytest.raises(sd.CompileError, match="yield") as info:
        sd.grad(sums_a_generator_returning_in_a_loop)(W)
    assert info.value.lineno == line_of(_stops_early, "yield x * i")


@pytest.mark.parametrize("fn, marker, what", REFUSED, ids=[r[0].__name__ for r in REFUSED])
def test_what_cannot_be_followed_is_a_compile_error_at_the_users_line(fn, marker, what):
    args = [W, W, True][: len(inspect.signature(fn).parameters)]
    with pytest.raises(sd.CompileError) as info:
        sd.grad(fn, wrt=(0, 1) if len(args) > 1 else 0)(*args)
    assert what in str(info.value)
    assert info.value.filename == __file__ and info.value.lineno == line_of(fn, marker)
    assert fn.__name__ in str(info.value)


def breaks_from_an_inner_loops_else(x):
    y = 0.0
    for _ in range(2):
        for _ in range(1):
            y = y + x
        else:
            if y > -1e9:
                break  # leaves the outer loop: its else clause does not run
        y = y + 100.0
    else:
        y = y * x
    return y


def test_a_break_in_an_inner_loops_else_leaves_the_outer_loop():
    assert breaks_from_an_inner_loops_else(1.5) == 1.5
    assert sd.value_and_grad(breaks_from_an_inner_loops_else)(1.5) == (1.5, 1.0)
    assert sd.jvp(breaks_from_an_inner_loops_else, (1.5,), (1.0,)) == (1.5, 1.0)


def _into_a_buffer_made_here(x):
    buf = np.empty_like(x)
    np.multiply(x, 2.0, out=buf)
    return np.sum(buf * x)


def _out_passed_on(x, out=None):
    return np.sum(np.multiply(x, 2.0, out=out) * x)


def test_out_into_an_array_made_here_is_a_plain_write_and_a_passed_out_may_be_none():
    # only a name that may hold None (a parameter, a global, a local given None) takes
    # the runtime test: an array the code made is written into, no path split per call
    x = np.array([1.0, 2.0])
    made, passed = sd.grad(_into_a_buffer_made_here), sd.grad(_out_passed_on)
    np.testing.assert_allclose(made(x), [4.0, 8.0])
    np.testing.assert_allclose(passed(x), [4.0, 8.0])
    assert " is None" not in sd.source(made)
    assert " is None" in sd.source(passed)


def _closure_over_a_variable_assigned_twice(x, scale):
    if scale > 0.0:
        n = 2.0
    else:
        n = 3.0
    if scale > 10.0:
        h = np.sin
    else:

        def h(y):
            return y**n * scale

    return np.sum(h(x))


def _lambda_passed_on_over_a_rebound_parameter(x, scale):
    scale = scale * 2.0
    scale = scale + 1.0
    weighted = lambda y: np.sin(y) * scale  # noqa: E731
    return np.sum(list(map(weighted, [x, x * x]))[1]) + np.sum(_apply(weighted, x))


def _apply(f, x):
    return f(x)


def test_a_closure_reads_a_variable_every_assignment_of_which_came_before_it():
    """A nested function made where each assignment of what it reads is behind it (in
    earlier statements, which never run again) reads those values at every call, as a
    Python cell does: passed on as a value (``functools.partial``) it is compiled, in
    both modes, where it was refused for the second assignment."""
    x = np.array([0.3, 0.7, 1.1])
    for scale in (0.5, -0.5):
        verify_both_modes(_closure_over_a_variable_assigned_twice, (x, scale), RNG)
    verify_both_modes(_lambda_passed_on_over_a_rebound_parameter, (x, 0.4), RNG)


def test_a_closure_over_a_variable_assigned_after_it_stays_refused():
    """A variable assigned again after the nested function is made may hold another value
    when it is called: passed on as a value, that function is still refused."""

    def later(x):
        n = 2.0
        h = lambda y: y * n  # noqa: E731
        held = [h]
        n = 3.0  # (Python's call of ``held[0]`` reads this one)
        return np.sum(held[0](x))

    with pytest.raises(sd.CompileError, match="may hold another value when it is called"):
        sd.grad(later)(np.ones(2))


def test_del_of_an_entry_of_the_callers_dict_reaches_it():
    """``del d[k]`` runs as the update ``d.pop(k)``: the caller's dict loses the entry,
    as after a plain call; a del of a slice, or of a name read after it or in a loop, is
    refused (a del of a name bound before and never read after changes nothing)."""

    def drops(x, d):
        del d["w"]
        return np.sum(x * d["v"])

    d = {"w": np.ones(2), "v": np.array([2.0, 3.0])}
    assert sd.grad(drops)(np.array([1.0, 1.0]), d).tolist() == [2.0, 3.0]
    assert list(d) == ["v"]

    def unbinds(x, s):
        y = x * 2.0
        del y, s
        return np.sum(x)

    np.testing.assert_array_equal(sd.grad(unbinds)(np.ones(2), 1.0), [1.0, 1.0])

    def reads_after(x, s):
        del s
        if x[0] > 5.0:
            return np.sum(x) * s  # noqa: F821 (Python raises here: srcdiff must not compute it)
        return np.sum(x)

    def in_a_loop(x):
        for _ in range(2):
            y = x * 2.0
            del y
        return np.sum(x)

    def of_a_slice(x, d):
        del d[1:]
        return np.sum(x)

    for f, args in ((reads_after, (np.ones(2), 1.0)), (in_a_loop, (np.ones(2),)),
                    (of_a_slice, (np.ones(2), [1, 2]))):  # fmt: skip
        with pytest.raises(sd.CompileError, match="del of a name, an attribute or a slice"):
            sd.grad(f)(*args)


def test_a_rebound_itertools_function_is_compiled_as_its_new_object():
    """``itertools.product`` rewritten as a generator expression when the function was
    first read: rebound later, the parse is made again, and the call runs the new object
    (it kept computing the old one's product)."""
    import itertools

    def products(x):
        return sum(a * b for a, b in itertools.product([x[0], x[1]], [x[2]]))

    x = np.array([1.0, 2.0, 3.0])
    grad = sd.grad(products)
    np.testing.assert_allclose(grad(x), [3.0, 3.0, 3.0])
    real = itertools.product
    itertools.product = lambda *sequences: [(1.0, 1.0)]
    try:
        assert sd.value_and_grad(products)(x)[0] == 1.0
        np.testing.assert_allclose(grad(x), [0.0, 0.0, 0.0])
    finally:
        itertools.product = real
    np.testing.assert_allclose(grad(x), [3.0, 3.0, 3.0])


def accumulates_in_a_nested_function(x, w):
    def running(ys):
        return sum([v * v for v in itertools.accumulate(ys)])

    steps = lambda ys: sum(a * b for a, b in itertools.pairwise(itertools.accumulate(ys)))  # noqa: E731
    return running(x * w) + steps(np.tanh(x))


def test_itertools_iterators_in_a_nested_functions_comprehension_are_compiled():
    """A nested function is compiled by Python too: ``accumulate``'s running value, kept
    with ``:=``, cannot be in a comprehension's iterable there (a SyntaxError)."""
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=4), rng.normal(size=4)
    verify_both_modes(accumulates_in_a_nested_function, (x, w), rng)


# ---- itertools.islice, and accumulate from an initial value --------------------------------


def sliced_lists_and_generators(x, w):
    head = sum(itertools.islice(x * w, 3))  # (stop only)
    odd = sum(v * v for v in itertools.islice(list(x), 1, None, 2))
    gen = sum(itertools.islice((np.sin(v) * w[0] for v in x), 1, 4, 2))
    steps = 0.0
    for i in itertools.islice(range(10), 2, 8, 3):
        steps = steps + x[i % 4] * i
    whole = sum(itertools.islice(x * w, None))  # (a stop of None: every item)
    return head + odd + gen + steps + whole


def accumulated_from_a_differentiated_start(x, w):
    start = np.sum(w) * 0.5
    plain = sum(itertools.accumulate(x, initial=start))
    products = list(itertools.accumulate(x, lambda a, b: a * b + w[1], initial=w[0]))
    return plain + sum(products) + sum(itertools.accumulate(x, initial=None))


def test_islice_is_compiled_lazily_with_its_bounds():
    rng = np.random.default_rng(11)
    x, w = rng.normal(size=4), rng.normal(size=4)
    verify_both_modes(sliced_lists_and_generators, (x, w), rng)


def test_accumulate_with_an_initial_value_differentiates_through_it():
    rng = np.random.default_rng(12)
    x, w = rng.normal(size=4), rng.normal(size=4)
    verify_both_modes(accumulated_from_a_differentiated_start, (x, w), rng)


def test_islice_and_accumulate_in_a_compiled_step():
    from steps import assert_compiled_step_matches_eager

    from srcdiff import nn

    sd.manual_seed(3)
    model = nn.Linear(3, 1).double()
    x = sd.randn(5, 3, dtype=sd.float64)

    def step(x):
        rows = [model(x[i]) for i in range(5)]
        picked = sum(itertools.islice(rows, 1, None, 2))
        running = sum(itertools.accumulate(rows[:3], initial=rows[4] * 2.0))
        loss = (picked * running).sum()
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x)


def test_islice_checks_its_bounds_as_python_does():
    def negative(x):
        return sum(itertools.islice(x, -1))

    def none_at_run_time(x, stop=None):
        return sum(itertools.islice(x, 0, stop))

    x = np.ones(3)
    with pytest.raises(ValueError, match="islice"):
        negative(x)
    with pytest.raises(ValueError, match="islice"):
        sd.grad(negative)(x)
    with pytest.raises(sd.CompileError, match="None written out|stop that is None"):
        sd.grad(none_at_run_time)(x)


def test_an_itertools_call_not_compiled_says_how_to_write_it():
    def spread(x):
        bounds = (1, 3)
        return sum(itertools.islice(x, *bounds))

    with pytest.raises(sd.CompileError) as error:
        sd.grad(spread)(np.ones(4))
    message = str(error.value)
    assert "register_vjp" not in message and "itertools.islice" in message
    assert "write the arguments out" in message


# ---- global ------------------------------------------------------------------------------

STEP = 0
ACC = np.array([1.0, -2.0, 0.5])
SCALE = 1.0


def counts_its_calls(x):
    global STEP
    STEP += 1
    y = np.sum(x**2) if x[0] > 0 else np.sum(x**3)
    for _ in range(STEP % 3):
        y = y * x[1]
    return y * STEP


def accumulates_into_a_global(x):
    global ACC
    ACC = ACC + x * 2.0
    return np.sum(ACC**2) + np.sum(np.sin(ACC) * x)


def a_nested_function_assigns_a_global(x):
    def scaled(v):
        global SCALE
        SCALE = SCALE * 0.5
        return v * SCALE

    return np.sum(scaled(x) + scaled(x**2))


CALLS = 0


def _counts_a_call():
    global CALLS
    CALLS = CALLS + 1
    return 1.0


class _Ticker:
    def tick(self, k):
        global CALLS
        CALLS = CALLS + k


TICKER = _Ticker()


def reads_a_global_its_callees_assign(x, depth=2):
    global CALLS
    _counts_a_call()
    ticker = TICKER
    ticker.tick(2)
    CALLS = CALLS * 2
    y = np.sum(x * CALLS)
    if depth > 0:
        y = y + reads_a_global_its_callees_assign(x * 0.5, depth - 1)
    for _ in range(2):
        _counts_a_call()
        y = y + np.sum(np.sin(x)) * CALLS
    return y * CALLS


def reads_a_number_its_callee_rebinds(x):
    # (no global statement: the adjoint must use CALLS as each read found it)
    y = x * CALLS + np.sin(x) * _counts_a_call()
    z = x * CALLS
    _counts_a_call()
    return np.sum(y * z) * CALLS


def _scaled_by_the_calls(x):
    return x * CALLS


def assigns_a_global_a_callee_read_before(x):
    global CALLS
    y = _scaled_by_the_calls(x)  # (its adjoint runs after CALLS is assigned)
    CALLS = CALLS + 1.0
    _counts_a_call()
    return np.sum(y * x) * CALLS


def reads_a_global_before_and_after_its_callee_in_one_statement(x):
    global CALLS
    CALLS = CALLS * 1.5
    y = x * CALLS + np.sin(x) * _counts_a_call() * CALLS  # (CALLS read before, then after)
    return np.sum(y * CALLS)


def adds_what_its_callee_returns_to_a_global(x):
    global CALLS
    CALLS += _counts_a_call() * CALLS  # (the target read first, the second CALLS after)
    CALLS = CALLS + _counts_a_call()
    return np.sum(x * x * CALLS)


def reads_a_global_in_a_comprehension_calling_its_assigner(x):
    return np.sum([v * CALLS + _counts_a_call() * v for v in (x, x * x)])


def _counts_then_raises():
    global CALLS
    CALLS = CALLS + 5
    raise ValueError("raised after CALLS is assigned")


def reads_a_global_a_raising_callee_assigned(x):
    global CALLS
    try:  # noqa: SIM105 - the handler is where the global is read again
        _counts_then_raises()
    except ValueError:
        pass
    CALLS = CALLS + 1
    return np.sum(x * CALLS)


TALLY = 0.0


def _tallies():
    global TALLY
    TALLY = TALLY + 1.0


def calls_back_a_function_assigning_its_global(x, callback=_tallies):
    global TALLY
    callback()  # (the module's function, known here by another name only)
    TALLY = TALLY * 2
    y = np.sum(x * TALLY)
    TALLY = TALLY + 1
    callback()
    return y * TALLY


COUNT = 1.0


def _counts_through_the_dict():
    globals()["COUNT"] = COUNT + 1.0  # (no global statement: the module's dict written)


def assigns_a_global_a_callee_writes_through_globals(x):
    global COUNT
    COUNT = COUNT * 2.0
    _counts_through_the_dict()
    return np.sum(x) * COUNT


def loops_over_a_generator_reading_a_global_its_body_assigns(x):
    # (Python makes each entry after the body's previous step: CALLS as it left it)
    s = 0.0
    for v in (x * CALLS for _ in range(3)):
        _counts_a_call()
        s = s + np.sum(v * v)
    return s


def loops_over_a_generator_calling_a_counter_then_breaks(x):
    s = 0.0
    for i, v in ((i, x * _counts_a_call()) for i in range(3) if i != 1):
        s = s + np.sum(np.sin(v)) * CALLS
        if i == 2:
            break
    return s


def loops_over_a_generator_reading_a_name_its_body_rebinds(x):
    s, k = 0.0, 1.0
    for v in (x * k for _ in range(3)):
        k = k + 1.0
        s = s + np.sum(v * v)
    return s


def _counts_then_sums(entries):
    _counts_a_call()
    return sum(entries)


def gives_a_generator_reading_a_global_to_its_assigner(x):
    return np.sum(x) * _counts_then_sums(CALLS * v for v in (1.0, 2.0))


def gives_a_generator_reading_its_global_to_an_assigner(x):
    global CALLS
    CALLS = CALLS * 1.5
    return np.sum(x) * _counts_then_sums(CALLS * v for v in (1.0, 2.0))


def gives_a_generator_calling_a_counter_to_any(x):
    return np.sum(x) * any(_counts_a_call() > 0 for _ in range(3)) * CALLS


def loops_over_a_generator_of_two_fors_reading_a_global_its_body_assigns(x):
    s = 0.0
    for v in (x * CALLS * a for a in (1.0, 2.0) for b in (1.0, 3.0)):
        _counts_a_call()
        s = s + np.sum(v * v)
    return s


def _counted_key(v):
    _counts_a_call()
    return float(np.sum(v))


def gives_a_generator_reading_a_global_to_max_with_a_key_assigning_it(x):
    # (max calls the key between two entries: 6.75 where Python gives 11.25)
    return np.sum(max((x * CALLS * a for a in (1.0, 2.0, 3.0)), key=_counted_key))


LAZY_GENERATORS_REFUSED = [
    (gives_a_generator_reading_a_global_to_max_with_a_key_assigning_it, "return np.sum",
     "a function given with the generator"),
    (gives_a_generator_reading_a_global_to_its_assigner, "return np.sum", "may assign it"),
    (gives_a_generator_reading_its_global_to_an_assigner, "return np.sum", "may assign it"),
    (gives_a_generator_calling_a_counter_to_any, "return np.sum", "calling `_counts_a_call`"),
    (loops_over_a_generator_of_two_fors_reading_a_global_its_body_assigns, "for v in",
     "several `for`s reading `CALLS`"),
]  # fmt: skip


@pytest.mark.parametrize(
    "fn, marker, what",
    LAZY_GENERATORS_REFUSED,
    ids=[r[0].__name__ for r in LAZY_GENERATORS_REFUSED],
)
def test_a_generator_run_later_than_compiled_code_runs_it_is_refused(fn, marker, what):
    """A generator expression Python runs as its consumer takes its entries (a function
    assigning what it reads, ``any``, which may stop early), where compiled code runs it
    where it is written: the value came out 6.75 where Python gives 9.0 (the global
    read before the callee assigned it), and ``any`` counted 3 calls for Python's 1."""
    globals()["CALLS"] = 1.5
    with pytest.raises(sd.CompileError) as info:
        sd.grad(fn)(np.array([0.7, -1.3, 2.1]))
    assert what in str(info.value)
    assert info.value.filename == __file__ and info.value.lineno == line_of(fn, marker)


def _scaled_by_the_calls_each_step(x):
    for _ in range(3):
        yield x * CALLS


def loops_over_a_generator_function_reading_a_global_its_body_assigns(x):
    s = 0.0
    for v in _scaled_by_the_calls_each_step(x):
        _counts_a_call()
        s = s + np.sum(v * v)
    return s


def _scaled_by_the_calls_through_a_helper(x):
    for _ in range(3):
        yield _scaled_by_the_calls(x)  # (the helper reads CALLS)


def loops_over_a_generator_reading_a_global_through_a_helper(x):
    s = 0.0
    for v in _scaled_by_the_calls_through_a_helper(x):
        _counts_a_call()
        s = s + np.sum(v * v)
    return s


def test_a_generator_function_reading_a_global_through_a_helper_is_refused_as_well():
    """As below, CALLS read by a function the generator calls (44.48 for 82.375)."""
    globals()["CALLS"] = 1.5
    with pytest.raises(sd.CompileError) as info:
        sd.grad(loops_over_a_generator_reading_a_global_through_a_helper)(W)
    assert "a global it reads" in str(info.value)
    assert info.value.lineno == line_of(_scaled_by_the_calls_through_a_helper, "yield")


def test_a_generator_function_reading_a_global_its_consumers_body_assigns_is_refused():
    """The generator reads CALLS as each step of the loop leaves it; compiled code made
    its values where the loop starts: 44.48 where Python gives 82.375."""
    globals()["CALLS"] = 1.5
    fn = loops_over_a_generator_function_reading_a_global_its_body_assigns
    with pytest.raises(sd.CompileError) as info:
        sd.grad(fn)(np.array([0.7, -1.3, 2.1]))
    assert "a global it reads" in str(info.value)
    assert info.value.lineno == line_of(_scaled_by_the_calls_each_step, "yield")


def defines_a_function_whose_default_reads_a_global(x):
    # (Python computes k where the def runs, after the first call: the lifted function
    # had it computed where it was lifted, 37.07 where Python gives 65.9)
    _counts_a_call()

    def scaled(a, k=CALLS):
        return a * k

    _counts_a_call()
    return np.sum(scaled(x) ** 2) * CALLS


def _with_globals(fn, x, **values):
    """``fn(x)`` with the module's globals set to ``values`` first; its value and the
    globals after."""
    globals().update(values)
    out = fn(x)
    return out, {k: copy_of(globals()[k]) for k in values}


def copy_of(v):
    return v.copy() if isinstance(v, np.ndarray) else v


def central_difference(fn, x, eps):
    d = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        d[i] = (fn(x + e) - fn(x - e)) / (2 * eps)
    return d


@pytest.mark.parametrize(
    "fn, start",
    [
        (counts_its_calls, {"STEP": 0}),
        (accumulates_into_a_global, {"ACC": np.array([1.0, -2.0, 0.5])}),
        (a_nested_function_assigns_a_global, {"SCALE": 1.0}),
        (reads_a_global_its_callees_assign, {"CALLS": 0}),  # (read again after each call)
        (calls_back_a_function_assigning_its_global, {"TALLY": 1.0}),
        (assigns_a_global_a_callee_writes_through_globals, {"COUNT": 1.0}),
        (reads_a_global_a_raising_callee_assigned, {"CALLS": 0}),
        (reads_a_global_where_its_callee_assigns_it, {"CALLS": 0}),
        (reads_a_number_its_callee_rebinds, {"CALLS": 1.5}),
        (assigns_a_global_a_callee_read_before, {"CALLS": 1.5}),
        (reads_a_global_before_and_after_its_callee_in_one_statement, {"CALLS": 1.5}),
        (adds_what_its_callee_returns_to_a_global, {"CALLS": 1.5}),
        (reads_a_global_in_a_comprehension_calling_its_assigner, {"CALLS": 1.5}),
        (loops_over_a_generator_reading_a_global_its_body_assigns, {"CALLS": 1.5}),
        (loops_over_a_generator_calling_a_counter_then_breaks, {"CALLS": 1.5}),
        (loops_over_a_generator_reading_a_name_its_body_rebinds, {"CALLS": 1.5}),
        (defines_a_function_whose_default_reads_a_global, {"CALLS": 1.5}),
    ],
)
def test_globals_assigned_end_as_a_plain_call_leaves_them(fn, start):
    g = sd.value_and_grad(fn)
    xs = [np.array([0.3, 1.2, -0.7]), np.array([-0.4, 0.9, 0.2]), np.array([0.8, -1.1, 0.6])]
    state = {k: copy_of(v) for k, v in start.items()}
    for x in xs:  # (paths that differ, calls that follow each other)
        want, after = _with_globals(fn, x, **state)
        (value, grad), got = _with_globals(g, x, **state)
        assert value == pytest.approx(want, rel=1e-12)
        for k in start:
            np.testing.assert_array_equal(got[k], after[k])
        for eps in (1e-5, 1e-6):
            fd = central_difference(lambda z, s=state: _with_globals(fn, z, **s)[0], x, eps)
            np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)
        tangent = np.array([0.5, -1.0, 0.25])
        along_tangent = functools.partial(lambda t, z: sd.jvp(fn, (z,), (t,)), tangent)
        (value, along), got = _with_globals(along_tangent, x, **state)
        assert value == pytest.approx(want, rel=1e-12)
        assert along == pytest.approx(fd @ tangent, rel=1e-5, abs=1e-6)
        state = after


def test_a_global_step_counter_in_a_compiled_step():
    from steps import assert_runs_match

    from srcdiff import nn, optim

    def run(step):
        global STEP
        STEP = 0
        sd.manual_seed(6)
        model = nn.Linear(3, 1).double()
        opt = optim.SGD(model.parameters(), lr=0.1)
        x, y = sd.randn(4, 3, dtype=sd.float64), sd.randn(4, 1, dtype=sd.float64)
        values = [step(model, opt, x, y) for _ in range(3)] + [STEP]
        return values, [p.detach().numpy() for p in model.parameters()]

    def step(model, opt, x, y):
        global STEP
        STEP = STEP + 1
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()  # (run, passed on, assigns STEP too: read
        loss = loss / STEP  # it after the calls that may reach run, not in their statement)
        loss.backward()
        opt.step()
        return loss.item()

    assert_runs_match(run, step)


def reads_the_global(x):
    return np.sum(ACC * x)


def assigns_a_global_a_callee_reads(x):
    global ACC
    ACC = ACC * x
    return reads_the_global(x)


def calls_a_function_assigning_a_global(x):
    return accumulates_into_a_global(x) * 2.0


def updates_a_global_array_in_place(x):
    global ACC
    ACC += 1.0
    return np.sum(ACC * x)


def writes_an_item_of_an_assigned_global(x):
    global ACC
    ACC = ACC * 2.0
    ACC[0] = 1.0
    return np.sum(ACC * x)


def loops_over_a_global(x):
    global STEP
    for STEP in range(2):  # noqa: B007 - the construct under test
        x = x * 2.0
    return np.sum(x)


def sorts_a_global_list(x):
    global ORDER
    ORDER = [3, 1, 2]
    ORDER.sort()
    return np.sum(x) * ORDER[0]


ORDER: list = []
GLOBALS_REFUSED = [
    (assigns_a_global_a_callee_reads, "ACC = ACC * x", "calling `reads_the_global`, which may"),
    (calls_a_function_assigning_a_global, "ACC = ACC + x * 2.0", "called from compiled code"),
    (updates_a_global_array_in_place, "ACC += 1.0", "augmented assignment to the global `ACC`"),
    (writes_an_item_of_an_assigned_global, "ACC[0] = 1.0", "an item or attribute of the glob"),
    (loops_over_a_global, "for STEP in range(2)", "the global `STEP` bound other than by"),
    (sorts_a_global_list, "ORDER.sort()", "the global `ORDER` changed in place by .sort()"),
]


@pytest.mark.parametrize("fn, marker, what", GLOBALS_REFUSED,
                         ids=[r[0].__name__ for r in GLOBALS_REFUSED])  # fmt: skip
def test_what_a_global_cannot_follow_is_a_compile_error_at_the_users_line(fn, marker, what):
    global ACC
    ACC = np.array([1.0, -2.0, 0.5])
    with pytest.raises(sd.CompileError) as info:
        sd.grad(fn)(np.array([0.3, 1.2, -0.7]))
    assert what in str(info.value)
    where = accumulates_into_a_global if fn is calls_a_function_assigning_a_global else fn
    assert info.value.filename == __file__ and info.value.lineno == line_of(where, marker)


# ---- generator functions consumed whole ----------------------------------------------------


def products_of_neighbours(xs):
    for a, b in zip(xs, xs[1:], strict=False):
        yield a * b


def every_other_then_more(xs, s=2.0):
    for i, v in enumerate(xs):
        if i % 2:
            continue
        yield v * s
    yield from products_of_neighbours(xs)
    if len(xs) > 10:
        return
    yield np.sum(np.tanh(xs))


def consumes_generators(x, w):
    t = 0.0
    for p in products_of_neighbours(x * w):
        t = t + np.sin(p) ** 2
    for q in every_other_then_more(w):
        t = t + np.tanh(q)  # (np: a module the generator reads too)
    listed = list(every_other_then_more(x, w[0]))
    total = sum(products_of_neighbours(list(x))) + max(every_other_then_more(w))
    return t + listed[-1] * listed[0] + total + sum([v * 2.0 for v in every_other_then_more(x)])


def enumerates_generators(x, w):
    t = 0.0
    for i, p in enumerate(products_of_neighbours(x * w)):
        t = t + np.sin(p) * (i + 1.0)
    for i, (q, v) in enumerate(zip(list(every_other_then_more(w)), x, strict=False), 2):
        t = t + q * v * i
    return t + sum([q * i for i, q in enumerate(every_other_then_more(x))])


def test_generators_enumerated_in_a_loop_or_a_comprehension_are_differentiated():
    # (refused before: enumerate's call, not the loop, was taken to consume the generator)
    rng = np.random.default_rng(16)
    x, w = rng.normal(size=4), rng.normal(size=4)
    verify_both_modes(enumerates_generators, (x, w), rng)


def test_generator_functions_consumed_whole_are_differentiated():
    rng = np.random.default_rng(15)
    x, w = rng.normal(size=4), rng.normal(size=4)
    verify_both_modes(consumes_generators, (x, w), rng)


def rows_of(h):
    for i in range(h.shape[0]):
        yield h[i] * (i + 1.0)


def test_a_generator_function_in_a_compiled_step():
    from steps import assert_compiled_step_matches_eager

    from srcdiff import nn

    sd.manual_seed(7)
    model = nn.Linear(3, 2).double()
    x = sd.randn(4, 3, dtype=sd.float64)

    def step(x):
        h = model(x)
        loss = h.sum() * 0.0
        for r in rows_of(h):
            loss = loss + (r**2).sum()
        loss = loss + sum(rows_of(h)).sum()
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x)


CALLS_SEEN: list = []


def logs_each(xs):
    for v in xs:
        CALLS_SEEN.append(1)
        yield v


def stops_early(x):
    t = 0.0
    for p in products_of_neighbours(x):
        t = t + p
        if t > 100.0:
            break
    return t


def changes_what_it_reads(x):
    xs = list(x)
    t = 0.0
    for p in products_of_neighbours(xs):
        xs[2] = p  # Python's generator reads this on its next step
        t = t + p
    return t


def generator_with_effects(x):
    return sum(logs_each(x))


def enumerates_and_stops(x):
    t = 0.0
    for i, p in enumerate(products_of_neighbours(x)):
        t = t + p * i
        if t > 100.0:
            break
    return t


WEIGHTS = [1.0, 2.0, 3.0]


def weighted(xs):
    for v, w in zip(xs, WEIGHTS, strict=False):
        yield v * w


def changes_a_global_the_generator_reads(x):
    t = 0.0
    for p in weighted(x):
        WEIGHTS.append(1.0)  # Python's generator reads WEIGHTS on its next step
        t = t + p
    WEIGHTS[3:] = []
    return t


def test_a_loop_changing_a_global_its_generator_reads_is_refused():
    with pytest.raises(sd.CompileError, match="WEIGHTS"):
        sd.grad(changes_a_global_the_generator_reads)(np.array([0.5, 2.0, 3.0]))


@pytest.mark.parametrize("fn", [stops_early, changes_what_it_reads, generator_with_effects,
                                enumerates_and_stops])  # fmt: skip
def test_a_generator_not_consumed_whole_at_once_is_refused_at_its_yield(fn):
    with pytest.raises(sd.CompileError) as info:
        sd.grad(fn)(np.array([0.5, 2.0, 3.0, -1.0]))
    assert "yield (generator)" in str(info.value) and "consumes all its values" in str(info.value)
    assert fn.__name__ in str(info.value)  # (called from: the caller's line)
    assert "zip(gen(...), xs)" in str(info.value)


# ---- generators zip takes values of, and generators kept in a name --------------------------


def endless(x):
    i = 0
    while True:  # (Python's zip asks for as many values as it pairs, and one more)
        yield x[i % len(x)] * np.sin(i + 1.0)
        i += 1


def head_then_rest(x):
    yield x[0] * 2.0
    yield from endless(x)


def zips_generators(x, w):
    t = 0.0
    for p, v in zip(products_of_neighbours(x), w, strict=False):  # (stops with the shorter)
        t = t + p * v
    for a, b, c in zip(
        w, endless(x), [x[0], x[1]], strict=False
    ):  # (zip takes two values of endless)
        t = t + a * b * c
    t = t + sum(a * np.tanh(b) for a, b in zip(w[:3], head_then_rest(x), strict=False))
    for i, (a, b) in enumerate(zip(products_of_neighbours(x), w[:3], strict=True)):
        t = t + a * b * i
    pairs = list(zip(endless(x * w), w[:0], strict=False))  # (none asked for: endless never runs)
    return t + len(pairs)


def test_a_generator_zipped_with_sequences_makes_the_values_zip_takes():
    """Refused before (zip stops taking values where its shortest argument ends); the
    generator now runs until it has made as many as Python's zip asks of it (the
    endless ones too, where making them all would never end)."""
    rng = np.random.default_rng(21)
    x, w = rng.normal(size=4), rng.normal(size=4)
    verify_both_modes(zips_generators, (x, w), rng)
    g = sd.grad(zips_generators)
    g(x, w)
    assert "rt.zip_taken(" in sd.source(g)


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("strict", [False, True])
def test_zip_takes_as_many_values_of_a_generator_as_python_does(position, strict):
    from srcdiff import runtime as rt

    for lengths in itertools.product(range(3), repeat=2):
        made = []

        def counting(made=made):
            for i in itertools.count():
                made.append(i)
                yield i

        its = [list(range(n)) for n in lengths]
        its.insert(position, counting())
        with contextlib.suppress(ValueError):  # (strict: lengths that differ)
            for _ in zip(*its, strict=strict):
                pass
        others = [list(range(n)) for n in lengths]
        assert rt.zip_taken(position, strict, *others) == len(made), lengths


def test_zip_of_a_generator_and_an_iterable_without_a_length_is_refused_where_it_runs():
    """(Compiled code meets one only where the compiler cannot tell: an iterator in a name
    is refused where it is made, ``weights = map(...)``.)"""
    from srcdiff import runtime as rt

    with pytest.raises(sd.CompileError, match="without a length"):
        rt.zip_taken(0, False, [1.0, 2.0], iter([1.0]))


def keeps_generators_in_names(x):
    g = products_of_neighbours(x)
    t = 0.0
    for p in g:
        t = t + np.sin(p)
    h = every_other_then_more(x)
    return t + sum(h)


def test_a_generator_kept_in_a_name_and_consumed_whole_next_is_differentiated():
    """``g = gen(x); t = 0.0; for p in g:`` was refused as a generator kept in a name;
    between the two only statements calling nothing run, and ``g`` is read only there."""
    rng = np.random.default_rng(22)
    verify_both_modes(keeps_generators_in_names, (rng.normal(size=4),), rng)


SCALE = 1.0


def _scaled_by_the_global(x):
    for i in range(2):
        yield x * SCALE + i


def _grows_the_scale():
    global SCALE
    SCALE = SCALE * 1.5


def kept_then_the_global_changes_in_the_loop(x):
    g = _scaled_by_the_global(x)
    s = 0.0
    for v in g:
        _grows_the_scale()  # Python's generator reads SCALE on its next step
        s = s + np.sum(v * v)
    return s


def kept_then_the_global_changes_before_the_loop(x):
    g = _scaled_by_the_global(x)
    _grows_the_scale()  # (Python's generator runs after this)
    return sum(np.sum(v * v) for v in g)


@pytest.mark.parametrize("fn", [kept_then_the_global_changes_in_the_loop,
                                kept_then_the_global_changes_before_the_loop])  # fmt: skip
def test_a_generator_kept_in_a_name_reading_a_global_changed_before_its_values_is_refused(fn):
    globals()["SCALE"] = 1.0
    with pytest.raises(sd.CompileError, match="yield"):
        sd.grad(fn)(np.array([0.5, 2.0, 3.0]))
    globals()["SCALE"] = 1.0


def lists_a_generator_in_each_step(x):
    s = 0.0
    for _ in range(3):
        g = _scaled_by_the_global(x)
        s = s + np.sum(sum(g) ** 2)
        _grows_the_scale()  # (the next step's generator reads the new SCALE)
    for _ in range(2):
        s = s + sum(
            np.sum(a * b) for a, b in zip(_scaled_by_the_global(x), [x, x * 2.0], strict=False)
        )
        _grows_the_scale()
    return s


def test_a_generator_listed_in_each_step_of_a_loop_reads_the_global_of_that_step():
    """The loop's saves are not hoisted out of it: each step's listing reads SCALE as the
    step before left it (the value and gradient of a plain call, SCALE reset each time)."""
    x = np.array([0.5, -2.0, 1.5])
    v = np.array([0.3, 0.1, -0.7])

    def at(point):
        globals()["SCALE"] = 1.0
        return lists_a_generator_in_each_step(point)

    want = at(x)
    globals()["SCALE"] = 1.0
    value, d = sd.value_and_grad(lists_a_generator_in_each_step)(x)
    assert value == pytest.approx(want, rel=1e-12)
    for eps in (1e-6, 1e-4):
        fd = (at(x + eps * v) - at(x - eps * v)) / (2 * eps)
        assert np.sum(d * v) == pytest.approx(fd, rel=1e-6)
    globals()["SCALE"] = 1.0
    _, tangent = sd.jvp(lists_a_generator_in_each_step, (x,), (v,))
    assert tangent == pytest.approx(np.sum(d * v), rel=1e-9)
    globals()["SCALE"] = 1.0


def test_a_generator_zipped_in_a_compiled_step():
    from steps import assert_compiled_step_matches_eager

    from srcdiff import nn

    sd.manual_seed(8)
    model = nn.Linear(3, 2).double()
    x = sd.randn(4, 3, dtype=sd.float64)
    weights = [0.5, -1.0, 2.0]

    def step(x):
        h = model(x)
        loss = h.sum() * 0.0
        for r, c in zip(rows_of(h), weights, strict=False):  # (zip takes three rows of four)
            loss = loss + (r**2).sum() * c
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x)


# ---- a generator expression calling a pure function, given to the user's function ----------


def _doubled_sine(v):
    return np.sin(v) * 2.0


def _sum_of_squares(values):
    s = 0.0
    for v in values:
        s = s + v * v
    return s


def _first_two(values):
    s = 0.0
    for i, v in enumerate(values):
        if i == 2:
            break  # (Python's generator never makes the third entry)
        s = s + v
    return s


def gives_a_generator_of_a_pure_function(x):
    xs = [x[0], x[1], x[2]]
    return _sum_of_squares(_doubled_sine(v) for v in xs) + _first_two(
        _doubled_sine(v) * w for v, w in zip(x, x[::-1], strict=True)
    )


def test_a_generator_expression_calling_a_pure_function_given_to_the_users_function():
    """Refused before (Python runs the generator as the callee takes its entries): a
    function that changes nothing makes the same entries whenever it runs."""
    rng = np.random.default_rng(23)
    verify_both_modes(gives_a_generator_of_a_pure_function, (rng.normal(size=3),), rng)


def _scaled_by_the_calls_read(v):
    return v * CALLS


def _adds_and_counts(values):
    s = 0.0
    for v in values:
        s = s + v
        _counts_a_call()  # (Python's next entry reads CALLS as this leaves it)
    return s


def gives_a_generator_reading_a_global_through_a_function(x):
    return _adds_and_counts(_scaled_by_the_calls_read(v) for v in x)


def test_a_generator_expression_whose_function_reads_a_global_the_callee_assigns_is_refused():
    globals()["CALLS"] = 1.5
    with pytest.raises(sd.CompileError, match="reading the global `CALLS`"):
        sd.grad(gives_a_generator_reading_a_global_through_a_function)(np.array([0.5, 2.0]))


def _adds_and_grows(values, xs):
    s = 0.0
    for v in values:
        s = s + v
        if len(xs) < 4:
            xs.append(v * 0.5)  # (Python's generator, iterating xs, takes these too)
    return s


def _reads_beside(values, xs):
    s = 0.0
    for v in values:
        s = s + v * xs[0]
    return s


def gives_a_generator_and_the_list_it_reads_to_a_function_growing_it(x):
    xs = [x[0], x[1]]
    return _adds_and_grows((np.sin(v) for v in xs), xs)


def gives_a_generator_and_the_list_it_reads_to_a_function_reading_it(x):
    xs = [x[0], x[1]]
    return _reads_beside((_doubled_sine(v) for v in xs), xs)


def test_a_generator_given_with_the_list_it_reads_to_a_function_updating_it_is_refused():
    """The callee appends to the list the generator iterates, which Python's generator
    then reads: compiled code ran the generator first, -0.006322 where Python gives
    -0.009476 (the function updating its argument was compiled without the check)."""
    x = np.array([0.3, -0.9, 1.4])
    with pytest.raises(sd.CompileError, match="reading `xs` given to `_adds_and_grows`"):
        sd.grad(gives_a_generator_and_the_list_it_reads_to_a_function_growing_it)(x)
    fn = gives_a_generator_and_the_list_it_reads_to_a_function_reading_it
    assert verify(fn, (x,)) == "ok"
