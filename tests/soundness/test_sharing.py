"""In-place updates of objects other names hold: Python shows the update through every
name and container holding the object, and so does compiled code (``rt.follow``), or it
refuses the function where the other name is a view (which it cannot follow)."""

import numpy as np
import pytest

from .verify import verify

X = np.array([0.3, -1.2, 0.7])


def appends_to_an_alias(x):
    xs = [x]
    ys = xs
    xs.append(np.sin(x))
    return np.sum(np.stack(ys) ** 2)


def writes_through_an_alias(x):
    h = x * 2.0
    g = h
    h[0] = np.sin(x[1])
    return np.sum(g * g)


def updates_a_loop_variable_in_place(x):
    rows = [x * 1.0, x * 2.0]
    total = 0.0
    for row in rows:
        row += 1.0
        total = total + np.sum(rows[0] * row)
    return total


def writes_into_an_array_a_list_holds(x):
    h = x * 2.0
    hs = [x, h]
    h[0] = np.sin(x[1])
    return np.sum(hs[1] * x)


def appends_then_updates(x):
    hs = []
    h = x * 1.0
    for i in range(3):
        h[i] = x[i] ** 2  # every entry of hs is this one array, in Python
        hs.append(h)
    return np.sum(np.stack(hs))


def writes_into_an_array_a_dict_of_lists_holds(x):
    h = x * 2.0
    d = {"states": [h]}
    h += 1.0
    return np.sum(d["states"][0])


def updates_an_entry_taken_out(x):
    hs = [x * 1.0]
    h = hs[0]
    h[1] = x[0] * 5.0
    return np.sum(hs[0] * x)


def updates_an_entry_through_its_container(x):
    h = x * 1.0
    hs = [h]
    hs[0][1] += 5.0 * x[0]
    return np.sum(h * x)


def updates_an_array_a_view_shows(x):
    h = x * 1.0
    hs = [h[1:]]
    h[1] = x[0] * 5.0
    return np.sum(hs[0] * x[1:])


def updates_a_name_a_tuple_assignment_shares(x):
    a, b = x * 1.0, x
    h = a
    a, c = h, b
    h[1] = x[0] * 5.0
    return np.sum(a * c)


def writes_through_a_view_of_a_list_entry(x):
    h = x * 1.0
    g = h[1:]
    h[1] = x[0] * 5.0
    return np.sum(g * x[1:])


def double_buffer(u):
    un = np.empty_like(u)
    for _ in range(3):
        un[1:] = u[1:] - 0.5 * (u[1:] - u[:-1])
        un[0] = u[0]
        u, un = un, u
    return np.sum(u**2)


def swaps_then_writes(x):
    a = x * 1.0
    b = x * 2.0
    a, b = b, a
    a[0] = x[1] * 3.0
    return np.sum(a * b)


def rebinding_breaks_the_alias(x):
    h = x * 2.0
    g = h
    h = h * 3.0
    h[0] = 0.0
    return np.sum(g * h)


def write_into_a_fresh_array_keeps_a_saved_value(x):
    h = np.ones(3)
    y = x * h
    h[0] = 5.0
    return np.sum(y * h)


FOLLOWED = [
    appends_to_an_alias,
    writes_through_an_alias,
    updates_a_loop_variable_in_place,
    writes_into_an_array_a_list_holds,
    appends_then_updates,
    writes_into_an_array_a_dict_of_lists_holds,
    updates_an_entry_taken_out,
    updates_an_entry_through_its_container,
    updates_a_name_a_tuple_assignment_shares,
    double_buffer,
    swaps_then_writes,
    rebinding_breaks_the_alias,
    write_into_a_fresh_array_keeps_a_saved_value,
]
VIEWS = [updates_an_array_a_view_shows, writes_through_a_view_of_a_list_entry]


@pytest.mark.parametrize("fn", FOLLOWED, ids=[f.__name__ for f in FOLLOWED])
def test_names_holding_an_updated_object_follow_it(fn):
    assert verify(fn, (X,)) == "ok"


@pytest.mark.parametrize("fn", VIEWS, ids=[f.__name__ for f in VIEWS])
def test_a_write_a_view_would_show_is_refused(fn):
    assert verify(fn, (X,)) == "refused"


# One array reaching a function through two parameters, one of which it updates in place:
# which name the array's gradient belongs to cannot be told (it is one object), and the
# compiled code gave it to one of them alone, or to neither.


def updates_an_entry_of_a_list_holding_x(x, lst):
    lst[0] += 1.0
    return np.sum(x * lst[0])


def writes_into_the_first_reading_the_second(x, y):
    x[0] = 0.0
    return np.sum(x * y)


def scales_the_second_reading_the_first(x, y):
    y *= 2.0
    return np.sum(x * y)


def updates_a_dict_entry_by_x(x, d):
    d["w"] *= x
    return np.sum(x * d["w"])


def writes_into_the_second_from_the_first(x, y):
    y[1] = x[0] * 5.0
    return np.sum(x**2)


TWICE = [
    (updates_an_entry_of_a_list_holding_x, lambda a: (a, [a]), (0, 1, (0, 1))),
    (writes_into_the_first_reading_the_second, lambda a: (a, a), (0, 1)),
    (writes_into_the_first_reading_the_second, lambda a: (a, a[:]), (0, 1)),
    (scales_the_second_reading_the_first, lambda a: (a, a), (0, 1)),
    (updates_a_dict_entry_by_x, lambda a: (a, {"w": a}), (0,)),
    (writes_into_the_second_from_the_first, lambda a: (a, a), (0, 1)),
]


@pytest.mark.parametrize(("fn", "given", "wrts"), TWICE, ids=[f.__name__ for f, *_ in TWICE])
def test_one_array_given_as_two_updated_arguments_is_refused(fn, given, wrts):
    """Refused for every choice of arguments differentiated; with a copy for one of the
    two, each runs and its gradient is checked against finite differences."""
    import srcdiff as sd

    for wrt in wrts:
        a = X.copy()
        with pytest.raises(sd.CompileError, match="an object the caller gave as two arguments"):
            sd.grad(fn, wrt=wrt)(*given(a))
        np.testing.assert_array_equal(a, X)  # (the caller's array, untouched)

    def apart(x):  # the second argument made of copies of X
        other = given(X.copy())[1]
        if isinstance(other, list):
            return x, [v.copy() for v in other]
        if isinstance(other, dict):
            return x, {k: v.copy() for k, v in other.items()}
        return x, other.copy()

    step, eye = 1e-6, np.eye(X.size)
    differences = [(fn(*apart(X + step * e)) - fn(*apart(X - step * e))) / (2 * step) for e in eye]
    np.testing.assert_allclose(sd.grad(fn)(*apart(X.copy())), differences, rtol=1e-6, atol=1e-8)


def unpacks_a_pair_and_scales_the_second(*args):
    x, y = args
    y *= 2.0
    return np.sum(x * y)


def updates_an_internal_array_a_list_holds(x):
    c = np.zeros(3)
    held = [c, x]
    c += 1.0
    return np.sum(held[1] * x) + np.sum(held[0] * x)


def counts_steps_in_the_state_it_is_given(w, state):
    state["step"] += 1
    return np.sum(w * state["w"])


def scales_another_entry(x, ws):
    ws[1] *= 2.0
    return np.sum(x * ws[0] * ws[1])


def writes_where_asked(x, y, flag):
    if flag:
        x[0] = 0.0
    return np.sum(x * y)


def test_one_array_twice_inside_one_argument_is_refused():
    """``f(a, a)`` through ``*args`` (or a tuple, a list): the entries are one array."""
    import srcdiff as sd

    with pytest.raises(sd.CompileError, match="an object the caller gave as two arguments"):
        sd.grad(unpacks_a_pair_and_scales_the_second)(X, X)
    assert verify(unpacks_a_pair_and_scales_the_second, (X, X.copy())) == "ok"


def test_arrays_given_twice_but_not_updated_run():
    """No refusal where the array updated in place is not one the caller gave twice: an
    array of the function's own a list holds, a number entry of the state, another entry,
    an update in a branch not taken."""
    import srcdiff as sd

    assert verify(updates_an_internal_array_a_list_holds, (X,)) == "ok"
    state = {"w": X, "step": 0}
    np.testing.assert_array_equal(sd.grad(counts_steps_in_the_state_it_is_given)(X, state), X)
    assert state["step"] == 1
    other = np.array([0.5, 2.0, -1.0])
    grad = sd.grad(scales_another_entry)(X, [X, other])
    np.testing.assert_allclose(grad, X * other * 2.0)
    np.testing.assert_array_equal(sd.grad(writes_where_asked)(X, X, False), X)
    with pytest.raises(sd.CompileError, match="an object the caller gave as two arguments"):
        sd.grad(writes_where_asked)(X, X, True)


def triples_the_first_entry_of_the_second(a, b):
    b[0] = b[0] * 3.0
    return a[0] * a[0]


def test_one_list_of_numbers_given_twice_is_refused():
    """A list (or dict) of numbers given as two arguments, one differentiated, updated in
    place through the other: its gradient came out zero (only arrays were checked)."""
    import srcdiff as sd

    shared = [1.5]
    with pytest.raises(sd.CompileError, match="an object the caller gave as two arguments"):
        sd.grad(triples_the_first_entry_of_the_second)(shared, shared)
    assert shared == [1.5]
    assert sd.grad(triples_the_first_entry_of_the_second)(shared, [1.5]) == [3.0]


def adds_into_a_slice_of_a_product(x, y):
    z = x * y
    z[1:] += z[:-1] * x[1:]
    return np.sum(z**2)


def adds_into_a_slice_of_an_argument(x, y):
    y[1:] += x[1:]
    return np.sum(y**2 * x)


def test_an_augmented_slice_of_an_array_that_might_be_a_list_runs():
    """``z[1:] += v`` of ``z = x * y``, with ``y`` not differentiated (so perhaps a list,
    and ``z`` then a list ``x * y`` built), or of such an argument itself, was refused as a
    write through a view that ``z`` reads: ``z``, an array here, was made to follow its own
    slice. The slice is written back into ``z``, and which kind ``z`` is shows when the
    code runs."""
    y = np.array([0.9, 0.4, -0.2])
    for wrt in (0, 1, (0, 1)):
        assert verify(adds_into_a_slice_of_a_product, (X, y), wrt) == "ok"
        assert verify(adds_into_a_slice_of_an_argument, (X, y), wrt) == "ok"


def reads_a_view_of_a_product_after_adding_into_it(x, y):
    z = x * y
    v = z[1:]
    z[1:] += x[1:]
    return np.sum(v * x[1:])


def test_a_view_of_an_array_that_might_be_a_list_read_after_an_augmented_slice_is_refused():
    """The view ``v`` of ``z`` sees ``z[1:] += ...`` in Python: compiled code cannot follow
    it, whichever arguments are differentiated (``y`` not differentiated leaves the kind
    of ``z = x * y`` to the running code)."""
    y = np.array([0.9, 0.4, -0.2])
    for wrt in (0, 1, (0, 1)):
        assert verify(reads_a_view_of_a_product_after_adding_into_it, (X, y), wrt) == "refused"


def updates_a_slice_of_an_aliased_array(x):
    z = np.tanh(x)
    w = z
    z[1:] += x[:2] * 2.0  # (w sees it: one array)
    return np.sum(w * w) + np.sum(z)


def grows_a_slice_of_an_aliased_list(x):
    z = [x[0] * 1.0, x[1] * 2.0]
    w = z
    z[1:] += [x[2]]  # (w grows too: one list)
    return w[0] * w[-1] + len(w)


def test_a_slice_updated_in_place_through_an_alias():
    """An array's slice updated in place shows through the alias; so does a list's slice
    given more entries (Python's list grows, and the alias with it)."""
    assert verify(updates_a_slice_of_an_aliased_array, (X,)) == "ok"
    assert verify(grows_a_slice_of_an_aliased_list, (X,)) == "ok"


# A function defined inside and used as a value (stored in a list, a dict) holds the
# variables it reads as they are when it is made (a functools.partial of them); Python's
# reads them when it is called, so an update in place between the two would be lost.


def bump(v, s):
    v[0] = np.tanh(np.sum(s))


def lambdas_read_an_array_a_callee_updates(x):
    fs = [lambda v, i=i: v * x[i] for i in range(3)]
    bump(x, x)
    return fs[0](1.0) + fs[1](x[2])


def a_stored_function_reads_an_array_written_into(x):
    def scale(v):
        return v * x

    fs = {"scale": scale}
    x[0] = np.tanh(np.sum(x))
    return np.sum(fs["scale"](x) * np.array([1.0, 2.0, 3.0]))


def a_stored_lambda_reads_an_array_added_at(x):
    fs = [lambda v: v * x]
    np.add.at(x, [0, 0], np.sin(x[1]))
    return np.sum(fs[0](x) * np.array([1.0, 2.0, 3.0]))


def a_stored_lambda_reads_a_list_whose_entry_is_set(x):
    ys = [x * 1.0, x]
    fs = [lambda v: v * ys[0]]
    ys[0] = x * 3.0
    return np.sum(fs[0](x) * np.array([1.0, 2.0, 3.0]))


def a_stored_lambda_reads_a_dict_whose_entry_is_set(x):
    d = {"a": x}
    fs = [lambda v: v * d["a"]]
    d["a"] = x * 3.0
    return np.sum(fs[0](x) * np.array([1.0, 2.0, 3.0]))


UPDATED_UNDER_A_FUNCTION = [
    lambdas_read_an_array_a_callee_updates,
    a_stored_function_reads_an_array_written_into,
    a_stored_lambda_reads_an_array_added_at,
    a_stored_lambda_reads_a_list_whose_entry_is_set,
    a_stored_lambda_reads_a_dict_whose_entry_is_set,
]


@pytest.mark.parametrize(
    "fn", UPDATED_UNDER_A_FUNCTION, ids=[f.__name__ for f in UPDATED_UNDER_A_FUNCTION]
)
def test_an_update_a_stored_function_would_not_see_is_refused(fn):
    refusals: list = []
    assert verify(fn, (X,), refusals=refusals) == "refused"
    assert "functools.partial" in str(refusals[0])


def a_called_lambda_reads_a_list_whose_entry_is_set(x):
    ys = [x * 1.0, x]
    f = lambda v: v * ys[0]  # noqa: E731
    ys[0] = x * 3.0
    return np.sum(f(x) * np.array([1.0, 2.0, 3.0]))


def a_stored_lambda_made_after_the_update(x):
    bump(x, x)
    fs = [lambda v: v * x]
    return np.sum(fs[0](x) * np.array([1.0, 2.0, 3.0]))


def a_stored_lambda_not_called_after_the_update(x):
    fs = [lambda v: v * x]
    y = fs[0](x)
    x[0] = np.tanh(np.sum(x))
    return np.sum(y * x)


@pytest.mark.parametrize(
    "fn",
    [
        a_called_lambda_reads_a_list_whose_entry_is_set,
        a_stored_lambda_made_after_the_update,
        a_stored_lambda_not_called_after_the_update,
    ],
)
def test_a_function_defined_inside_that_sees_every_update_runs(fn):
    assert verify(fn, (X,)) == "ok"
