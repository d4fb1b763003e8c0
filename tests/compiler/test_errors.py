"""What the compiler refuses, and how: a CompileError naming the construct, the function,
the user's ``file:line`` and what to do; runtime errors pointing at the user's line; a
non-scalar result named by its shape; the user's inputs never modified."""

from __future__ import annotations

import contextlib
import inspect
import itertools
import os
import traceback

import numpy as np
import pytest
from soundness.verify import verify

import srcdiff as sd

X = np.array([0.5, -1.0, 2.0])
COUNTER = 0


def line_of(fn, text: str) -> int:
    """The file line number of the first line of ``fn`` containing ``text``."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def with_try(x):
    try:
        with np.errstate(all="raise"):
            y = np.log(x)
    except FloatingPointError:
        y = x
    return np.sum(y)


def generator(x):
    yield np.sum(x)


async def coroutine(x):
    return np.sum(x)


def with_global(x):
    global COUNTER
    for COUNTER in range(2):  # noqa: B007 - a global bound by a loop
        x = x * 2.0
    return np.sum(x)


def make_nonlocal():
    calls = 0

    def with_nonlocal(x):
        nonlocal calls
        calls = calls + 1
        return np.sum(x)

    return with_nonlocal


def with_closure_as_value(x):
    w = x * 2.0
    scale = lambda v: v * w  # noqa: E731
    held = [scale]
    w = x * 3.0  # (Python's lambda reads this one)
    return np.sum(apply_to(held[0], x))


def apply_to(f, x):
    return f(x)


def with_set_comprehension(x):
    parts = {v * 2.0 for v in x}
    return len(parts) * np.sum(x)


def with_set_display(x):
    return sum({x[0] * 1.0, x[1] * 2.0})


def keyed_by_a_computed_number(x):
    d = {}
    d[x[0] * 2.0] = 1.0
    return sum(d)


def with_unknown_numpy(x):
    return np.sum(np.nextafter(x, x))


def with_class(x):
    class Local:
        pass

    return np.sum(x)


def with_with(x):
    with contextlib.nullcontext(x * 2.0) as y:
        z = y * 3.0
    return np.sum(z)


def writes_through_a_transpose(x):
    b = np.outer(x, x)
    b.T[0] = x * 3.0
    return np.sum(b)


def writes_into_an_entry_of_a_tuple(x):
    a = (x * 1.0, x * 2.0)
    a[0][1] = x[2]
    return np.sum(a[0])


def loops_over_a_chain_it_extends(x):
    xs = [x[0], x[1]]
    out = 0.0
    for v in itertools.chain(xs, [x[2]]):  # Python's chain sees the entries appended
        if len(xs) < 4:
            xs.append(v * 2.0)
        out = out + v
    return out


def loops_over_a_generator_it_writes_into(x):
    xs = [x[0], x[1]]
    out = 0.0
    for v in (w * 2.0 for w in xs):
        xs[1] = v
        out = out + v
    return out


def keeps_a_zip(x):
    z = zip(x, x * 2.0, strict=False)  # Python's zip reads the entries when it is consumed
    y = x + 1.0
    return sum(u * v for u, v in z) + np.sum(y)


def _doubled(x):
    for v in x:
        yield v * 2.0


def steps_a_generator(x):
    g = _doubled(x)
    a = next(g)
    return a * next(g)


def steps_an_iterator(x):
    it = iter([x[0], x[1]])
    return next(it) * 2.0


def writes_into_a_copy_of_an_argument(x):
    h = x
    h[0] = np.sin(x[1])
    return np.sum(h * h)


CASES = [
    (
        writes_through_a_transpose,
        "b.T[0] =",
        "item assignment through an attribute",
        "build the new array in a local name",
    ),
    (with_try, "with np.errstate", "a with block inside a try statement", "put the try inside"),
    (generator, "yield", "yield", "consumes all its values at once"),
    (with_global, "for COUNTER in", "the global `COUNTER` bound other", "bind a local name"),
    (make_nonlocal(), "nonlocal calls", "nonlocal statement", "pass the value in"),
    (with_closure_as_value, "held = [scale]", "reads `w` of the function", "bind the others"),
    (with_set_comprehension, "for v in x}", "no derivative rule for set", "register_vjp"),
    (with_set_display, "sum({x[0]", "a set of differentiated values", "use a list"),
    (keyed_by_a_computed_number, "d[x[0]", "a dict key of float64", "by a string or an integer"),
    (loops_over_a_chain_it_extends, "itertools.chain(xs", "generator reading `xs`", "an index"),
    (keeps_a_zip, "z = zip(x", "map, filter, zip or an itertools", "consume it there"),
    (with_unknown_numpy, "np.nextafter", "no derivative rule for np.nextafter", "register_vjp"),
    (steps_a_generator, "a = next(g)", "next(g): a generator or an iterator", "list(gen(x))"),
    (steps_an_iterator, "it = iter(", "iter(...): an iterator of values", "index the list"),
    (with_class, "class Local", "class definition", "module level"),
    (
        with_with,
        "with contextlib",
        "no derivative rule for contextlib.nullcontext",
        "register_vjp",
    ),  # fmt: skip
]


@pytest.mark.parametrize("fn, marker, what, hint", CASES, ids=[c[0].__name__ for c in CASES])
def test_unsupported_code_is_a_compile_error_at_the_users_line(fn, marker, what, hint):
    with pytest.raises(sd.CompileError) as info:
        sd.grad(fn)(X.copy())
    err = info.value
    line = line_of(fn, marker)
    message = str(err)
    assert what in message
    assert f"{__file__}:{line}" in message
    assert fn.__name__ in message
    assert hint in err.hint and err.hint in message
    assert err.filename == __file__ and err.lineno == line


def test_a_set_display_of_computed_entries_is_refused_in_every_mode():
    """The entries of a set written out (``{x[0] * 1.0, ...}``) were not looked at: its
    sum's gradient came out zero, without a word, in reverse and forward mode alike."""
    for run in (
        lambda: sd.jvp(with_set_display, (X,), (np.ones(3),)),
        lambda: sd.hessian(with_set_display)(X),
    ):
        with pytest.raises(sd.CompileError, match="a set of differentiated values"):
            run()


def keys_of_a_display(x):
    return max({x[0] ** 2: "a", x[1]: "b"})


def keys_of_a_comprehension(x):
    return sum({float(v): i for i, v in enumerate(x)})


@pytest.mark.parametrize("fn", [keyed_by_a_computed_number, keys_of_a_display,
                                keys_of_a_comprehension])  # fmt: skip
def test_a_dict_keyed_by_computed_numbers_is_refused_in_every_mode(fn):
    """A dict's keys carry no gradient in compiled code: read back (``sum(d)``,
    ``max(d)``), a key computed from the argument gave a zero gradient without a word."""
    for run in (
        lambda: sd.grad(fn)(X),
        lambda: sd.jvp(fn, (X,), (np.ones(3),)),
        lambda: sd.hessian(fn)(X),
    ):
        with pytest.raises(sd.CompileError, match="a dict key of float"):
            run()


def keyed_by_names_and_integers(p):
    out = {k: v * 2.0 for k, v in p.items()}
    for i, k in enumerate(sorted(p)):
        out[i] = p[k] ** 2
        out[(k, i)] = out[k] * out[i]
    return sum(np.sum(v) for v in out.values())


def test_a_dict_keyed_by_names_and_integers_of_differentiated_values_is_compiled():
    p = {"a": np.array([0.5, 1.5]), "b": np.array([2.0])}
    g = sd.grad(keyed_by_names_and_integers)(p)
    for k, v in p.items():  # d/dv of 2v + v^2 + 2v^3
        assert np.allclose(g[k], 2.0 + 2 * v + 6 * v**2)


def sizes_in_a_set(x):
    return np.sum(x**2) * len({x.shape[0], len(x), 4})


def test_a_set_display_of_values_without_gradient_is_compiled():
    assert np.allclose(sd.grad(sizes_in_a_set)(X), 4 * X)
    assert np.allclose(sd.jvp(sizes_in_a_set, (X,), (X,))[1], 4 * np.sum(X * X))


def test_a_loop_over_a_generator_of_one_for_sees_the_entries_its_body_writes():
    """Python makes each entry of ``(w * 2.0 for w in xs)`` after the body's previous
    step, which wrote ``xs[1]``: compiled code loops over ``xs`` so too (it was refused)."""
    assert verify(loops_over_a_generator_it_writes_into, (X.copy(),), 0) == "ok"


def test_an_alias_not_read_after_the_update_is_fine():
    g = sd.grad(writes_into_a_copy_of_an_argument)
    x = X.copy()
    np.testing.assert_allclose(g(x), [0.0, 2 * X[1] + 2 * np.sin(X[1]) * np.cos(X[1]), 2 * X[2]])
    np.testing.assert_array_equal(x, X)  # the caller's array keeps its values


def keeps_a_copy_in_a_list(x):
    h = x * 2.0
    hs = [h.copy()]
    h[0] = 0.0
    return np.sum(hs[0] * h)


def test_a_container_holding_a_copy_is_fine():
    g = sd.grad(keeps_a_copy_in_a_list)
    expected = 8 * X
    expected[0] = 0.0  # h[0] was overwritten: only hs[0] = 2 x[0] remains, times h[0] = 0
    np.testing.assert_allclose(g(X.copy()), expected)


def test_a_write_into_an_entry_of_a_tuple_says_to_use_a_list():
    with pytest.raises(sd.CompileError, match="entry of a tuple"):
        sd.grad(writes_into_an_entry_of_a_tuple)(X.copy())


def test_async_functions_are_refused():
    with pytest.raises(sd.CompileError, match="async") as info:
        sd.grad(coroutine)(X)
    assert info.value.lineno == line_of(coroutine, "async def")
    assert __file__ in str(info.value)


def test_a_compile_error_quotes_the_users_statement():
    with pytest.raises(sd.CompileError) as info:
        sd.grad(with_unknown_numpy)(X)
    assert "`return np.sum(np.nextafter(x, x))`" in str(info.value)


# ---- errors while generated code runs ------------------------------------------------------


def bad_shapes(w, x):
    h = np.tanh(x @ w)
    return np.sum(h)


def through_complex(x, c):
    z = np.abs(x * c)
    return np.sum(z) * 2.0


def _frames(exc: BaseException) -> list[tuple[str, int, str]]:
    return [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(exc.__traceback__)]


def test_an_error_in_the_primal_points_at_the_users_file_and_line():
    with pytest.raises(ValueError) as info:
        sd.grad(bad_shapes)(np.ones(3), np.ones((2, 4)))
    frames = _frames(info.value)
    assert (__file__, line_of(bad_shapes, "x @ w"), "bad_shapes_primal") in frames


def test_an_error_in_the_adjoint_points_at_the_users_file_and_line():
    with pytest.raises(sd.CompileError, match="complex value") as info:
        sd.grad(through_complex)(X, 1j * X)
    line = line_of(through_complex, "np.abs")
    assert (__file__, line, "through_complex_adjoint") in _frames(info.value)
    assert info.value.lineno == line and info.value.filename == __file__


# ---- results that are not scalars ------------------------------------------------------------


def vector_result(x):
    return x * 2.0


def matrix_result(x):
    return np.outer(x, x)


def tuple_result(x):
    return np.sum(x), np.sum(x * x)


def test_a_vector_result_is_a_value_error_naming_its_shape():
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        sd.grad(vector_result)(X)


def test_a_matrix_result_is_a_value_error_naming_its_shape():
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        sd.grad(matrix_result)(X)


def test_a_tuple_result_is_refused():
    with pytest.raises(TypeError, match="scalar"):
        sd.grad(tuple_result)(X)


def test_a_one_element_array_result_is_a_scalar():
    g = sd.grad(lambda_free_sum)
    assert np.array_equal(g(X), np.ones(3))


def lambda_free_sum(x):
    return np.sum(x, keepdims=True)


def test_source_before_any_call_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="call it first"):
        sd.source(sd.grad(vector_result))


def test_differentiating_an_integer_argument_is_a_type_error():
    with pytest.raises(TypeError, match="integer"):
        sd.grad(bad_shapes, wrt=0)(np.arange(3), np.ones((2, 3)))


# ---- the user's inputs are never modified ----------------------------------------------------


def writes_into_argument(x):
    x[0] = 5.0
    x[1:] += 1.0
    return np.sum(x * x)


def augments_argument(x, y):
    x += y
    x *= 2.0
    return np.sum(x)


def writes_into_containers(params, xs):
    w = params["w"]
    w[0] = 0.0
    params["b"] = params["b"] * 2.0
    xs[0] = xs[0] * 3.0
    first = xs[1]
    first[0] = 1.0
    return np.sum(w) + np.sum(params["b"]) + np.sum(xs[0]) + np.sum(first)


def loop_writes(x):
    for i in range(3):
        x[i] = x[i] * x[i]
    return np.sum(x)


@pytest.mark.parametrize(
    "fn, args, wrt",
    [
        (writes_into_argument, (X,), 0),
        (augments_argument, (X, X * 2.0), (0, 1)),
        (writes_into_containers, ({"w": X, "b": X * 2.0}, [X * 3.0, X * 4.0]), (0, 1)),
        (loop_writes, (X,), 0),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_taking_a_gradient_never_modifies_the_inputs(fn, args, wrt):
    """The caller's arrays keep their values; its lists and dicts end as a plain call
    leaves them (see tests/soundness/verify.py)."""
    assert verify(fn, args, wrt) == "ok"


def test_writes_into_an_argument_are_differentiated_as_writes_into_a_copy():
    g = sd.grad(writes_into_argument)(X.copy())
    # d/dx sum(h * h) with h = [5, x1 + 1, x2 + 1]
    assert np.allclose(g, [0.0, 2 * (X[1] + 1.0), 2 * (X[2] + 1.0)])


# ---- gradients are fresh arrays, never shared ------------------------------------------------


def shared_sum(a, b):
    return np.sum(np.tanh(a + b))  # the adjoints of a and b are one array


def shared_in_dict(p):
    return np.sum(np.tanh(p["a"] + p["b"]))


def shared_in_list(ps):
    return np.sum(np.tanh(ps[0] + ps[1]))


def test_gradients_of_entries_of_a_container_are_distinct_arrays():
    d = sd.grad(shared_in_dict)({"a": X.copy(), "b": X.copy()})
    assert not np.shares_memory(d["a"], d["b"])
    d = sd.grad(shared_in_list)([X.copy(), X.copy()])
    assert not np.shares_memory(d[0], d[1])


def test_gradients_of_different_arguments_are_distinct_arrays():
    da, db = sd.grad(shared_sum, wrt=(0, 1))(X.copy(), X.copy())
    assert not np.shares_memory(da, db)


pair = (lambda x: x * x, lambda x: x * 3.0)  # the construct under test


def test_two_different_lambdas_on_one_line_are_told_apart_or_refused():
    """Python 3.11 records the columns of a lambda's instructions: the two are told
    apart; 3.10 does not, and srcdiff refuses, naming the line."""
    try:
        got = (sd.grad(pair[0])(2.0), sd.grad(pair[1])(2.0))
    except sd.CompileError as err:
        assert "2 lambdas on line" in str(err) and "test_errors.py" in str(err)
    else:
        assert got == (4.0, 3.0)


XP_NUMBER = 3.0


def reads_a_global_named_xp(x):
    xp = XP_NUMBER  # (a local of that name is renamed)
    return np.sum(x * xp)


def test_a_global_named_like_generated_codes_modules_is_refused():
    rt = 2.0

    def scaled(x):
        return rt * np.sum(x)

    with pytest.raises(sd.CompileError, match="named rt read by a differentiated function"):
        sd.grad(scaled)(X)
    np.testing.assert_allclose(sd.grad(reads_a_global_named_xp)(X), np.full_like(X, 3.0))


def _reads_past_the_end(x):
    y = x[10]
    return y * y


@pytest.mark.parametrize(
    "call",
    [
        lambda x: sd.hessian(_reads_past_the_end)(x),
        lambda x: sd.hvp(_reads_past_the_end, (x,), (x,)),
    ],
    ids=["hessian", "hvp"],
)
def test_an_error_in_a_second_derivative_points_at_the_users_line(call):
    """Its last frame was the forward-mode source srcdiff wrote, not the user's file."""
    with pytest.raises(IndexError) as info:
        call(np.array([1.0, 2.0, 3.0]))
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert last.filename == __file__ and last.line == "y = x[10]"


_NO_SOURCE = eval("lambda v: v * 2")  # noqa: S307 - a function without a file


def _calls_one_without_source(x):
    return np.sum(_NO_SOURCE(x))


@pytest.mark.parametrize(
    "call",
    [
        lambda x: sd.jvp(_calls_one_without_source, (x,), (x,)),
        lambda x: sd.hessian(_calls_one_without_source)(x),
    ],
    ids=["jvp", "hessian"],
)
def test_a_refusal_in_forward_mode_names_the_users_line_that_called(call):
    """As sd.grad's does (forward mode's named the callee alone, at <string>:1)."""
    with pytest.raises(
        sd.CompileError, match=r"called from _calls_one_without_source \(.*test_errors.py:\d+\)"
    ):
        call(np.ones(3))


def _aliases_through_eval(x):
    y = x * 1.0
    z = eval("y")  # noqa: S307 - the construct refused
    y[0] = x[1] * x[2]
    return np.sum(z * x)


def test_eval_in_a_differentiated_function_is_refused():
    """``z = eval("y")`` shares y's array, which compiled code cannot see: a later write
    into y missed z, silently."""
    with pytest.raises(sd.CompileError, match=r"eval\(\) in a differentiated function"):
        sd.grad(_aliases_through_eval)(np.array([1.0, 2.0, 3.0]))


def _piece(t):
    return t * t if t > 0 else -t


def _vectorized(x):
    return np.sum(np.vectorize(_piece)(x))


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_np_vectorize_is_refused_at_the_users_line_with_what_to_write(mode):
    """Its __call__ is NumPy's own loop: the message pointed into NumPy's source."""
    x = np.array([1.0, -2.0])
    call = (lambda: sd.grad(_vectorized)(x)) if mode == "grad" else (
        lambda: sd.jvp(_vectorized, (x,), (np.ones(2),)))  # fmt: skip
    with pytest.raises(sd.CompileError, match="np.vectorize calls on each entry") as caught:
        call()
    assert "test_errors.py" in str(caught.value) and "_function_base_impl" not in str(caught.value)


_ROTATION = np.array([1.0 + 2.0j, 0.5 - 1.0j, 2.0 + 0.3j])


def _sign_of_complex(x):
    return np.sum(np.real(np.sign(_ROTATION * x + 1.0)))


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_the_sign_of_a_complex_value_is_refused(mode):
    """``x / |x|`` for a complex ``x``: not piecewise constant, as a real sign is (both
    modes gave a zero derivative)."""
    x = np.array([0.3, -1.2, 0.8])
    call = (lambda: sd.grad(_sign_of_complex)(x)) if mode == "grad" else (
        lambda: sd.jvp(_sign_of_complex, (x,), (np.ones(3),)))  # fmt: skip
    with pytest.raises(sd.CompileError, match="a complex value carries a gradient"):
        call()


def _spread_of_complex(x):
    return np.var(_ROTATION * x)


def _values_of_complex(x):
    return np.sum(np.linalg.svd(np.outer(_ROTATION * x, _ROTATION) + np.eye(3))[1])


def _imag_of_complex(x):
    return np.sum(np.imag(np.linalg.svd(np.outer(_ROTATION * x, _ROTATION) + np.eye(3))[0]))


@pytest.mark.parametrize("fn", [_spread_of_complex, _values_of_complex])
def test_forward_mode_refuses_a_real_value_made_of_a_complex_one(fn):
    """Reverse mode refuses these (a complex gradient); forward mode gave a complex
    tangent of a real function, made of rules written for real values."""
    with pytest.raises(sd.CompileError, match="a complex value carries a gradient"):
        sd.jvp(fn, (np.array([0.3, -1.2, 0.8]),), (np.ones(3),))


def _halved(x):
    return 0.5 * x


def _halves(x):
    return np.sum(_halved(x))


def test_forward_mode_refuses_a_complex_tangent_of_a_real_result():
    """Whatever made it (here a user's forward rule): as reverse mode refuses a complex
    gradient of a real argument."""

    @sd.register_jvp(_halved)
    def _(tangents, ans, x):
        return tangents[0] * (0.5 + 0.5j)

    with pytest.raises(TypeError, match="jvp: a complex tangent of a real result"):
        sd.jvp(_halves, (np.array([0.3, -1.2, 0.8]),), (np.ones(3),))


def test_forward_mode_refuses_the_parts_of_a_complex_value():
    """As reverse mode does: the imaginary part of the singular vectors' tangent was a
    real number, and wrong (the svd's forward rule is written for real matrices)."""
    x = np.array([0.3, -1.2, 0.8])
    for mode in (lambda: sd.grad(_imag_of_complex)(x),
                 lambda: sd.jvp(_imag_of_complex, (x,), (np.ones(3),))):  # fmt: skip
        with pytest.raises(sd.CompileError, match="a complex value carries a gradient"):
            mode()


def _along_axis(x):
    return np.sum(np.apply_along_axis(lambda v: v @ v, 0, x))


def _over_axes(x):
    return np.sum(np.apply_over_axes(np.sum, x, [0]))


def _pieces(x):
    return np.sum(np.piecewise(x, [x < 0.0], [lambda t: t * t, lambda t: np.sin(t)]))


@pytest.mark.parametrize(
    "fn, says",
    [(_along_axis, "np.apply_along_axis calls on each slice"),
     (_over_axes, "np.apply_over_axes calls on each slice"),
     (_pieces, "np.piecewise calls on the entries")],
)  # fmt: skip
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_numpy_loops_over_a_users_function_are_refused_with_what_to_write(fn, says, mode):
    """NumPy's own loops calling the user's function were refused as a missing rule to
    register."""
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    call = (lambda: sd.grad(fn)(x)) if mode == "grad" else (
        lambda: sd.jvp(fn, (x,), (np.ones((2, 2)),)))  # fmt: skip
    with pytest.raises(sd.CompileError, match=says) as caught:
        call()
    assert "register" not in str(caught.value) and "test_errors.py" in str(caught.value)


def _tensor_median_of_rows(x):
    m = sd.median(x, 1)
    return np.sum(m[0] * 2.0)


def _tensor_exp(x):
    return np.sum(sd.exp(x))


@pytest.mark.parametrize(
    ("fn", "text", "instead"),
    [(_tensor_median_of_rows, "sd.median(x, 1)", "np.median"), (_tensor_exp, "sd.exp", "np.exp")],
)
def test_a_tensor_function_given_an_array_is_refused_at_the_users_line(fn, text, instead):
    """``sd.median(x, 1)`` on an array was refused at a line of srcdiff's own Tensor code
    (``type(x)`` has no rule); now at the user's line, in reverse and forward mode, with
    the two ways out. A plain call makes Tensors of the array, so the function's result
    would not be one of arrays."""
    rows = np.array([[0.3, -1.2, 2.5, 4.0], [1.0, 2.0, -0.5, 0.1]])
    for run in (lambda: sd.grad(fn)(rows), lambda: sd.jvp(fn, (rows,), (rows,))):
        with pytest.raises(sd.CompileError) as info:
            run()
        message = str(info.value)
        assert f"{__file__}:{line_of(fn, text)}" in message
        assert os.path.dirname(sd.__file__) not in message  # (no line of srcdiff's own)
        assert "takes Tensors" in message and instead in message
        assert "sd.tensor(x, requires_grad=True)" in message
