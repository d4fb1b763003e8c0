"""Arrays held from outside the function (globals, their entries and fields, closure
cells) that the function changes in place: the global ends as a plain call leaves it,
and the gradient is the one of the values each operation read, not of what the
adjoint would find there later."""

import types

import numpy as np
import pytest

import srcdiff as sd

STATE = types.SimpleNamespace()


def reset() -> None:
    STATE.y = np.array([1.0, 2.0, 3.0])
    GY[:] = [1.0, 2.0, 3.0]
    G["y"] = np.array([1.0, 2.0, 3.0])
    GL2[0] = np.array([1.0, 2.0, 3.0])


GY = np.array([1.0, 2.0, 3.0])
G: dict = {}


def _fill_first() -> None:
    GY[0] = 5.0


def read_then_filled(x):
    t = np.sum(x * GY)
    GY.fill(5.0)
    return t


def read_then_written_by_out(x):
    t = np.sum(x * GY)
    np.multiply(GY, 2.0, out=GY)
    return t


def read_then_slice_written(x):
    t = np.sum(x * GY)
    GY[:] = GY * 2.0
    return t


def read_then_changed_by_a_helper(x):
    t = np.sum(x * GY)
    _fill_first()
    return t


def read_in_a_loop_that_changes_it(x):
    s = 0.0
    for _ in range(3):
        s = s + np.sum(np.sin(x * GY))
        GY[1] = GY[1] + 1.0
    return s


def written_then_read(x):
    GY[0] = 5.0
    return np.sum(x * GY)


def updated_through_another_name(x):
    y = GY
    y *= 2.0
    return np.sum(x * y)


def written_through_another_name(x):
    g = GY
    g[0] = 5.0
    return np.sum(x * g)


def an_entry_updated_through_another_name(x):
    y = G["y"]
    y += 1.0
    return np.sum(x * y)


def a_field_updated_through_another_name(x):
    y = STATE.y
    y *= 2.0
    return np.sum(np.tanh(x * y))


def a_field_written_after_a_read(x):
    t = np.sum(x * STATE.y)
    STATE.y[0] = 5.0
    return t + np.sum(x * STATE.y)


FUNCTIONS = [
    read_then_filled,
    read_then_written_by_out,
    read_then_slice_written,
    read_then_changed_by_a_helper,
    read_in_a_loop_that_changes_it,
    written_then_read,
    updated_through_another_name,
    written_through_another_name,
    an_entry_updated_through_another_name,
    a_field_updated_through_another_name,
    a_field_written_after_a_read,
]


def _state() -> tuple:
    return GY.copy(), G["y"].copy(), STATE.y.copy(), id(GY), id(G["y"]), id(STATE.y)


def _finite_difference(f, x, h):
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        reset()
        up = f(x + step)
        reset()
        down = f(x - step)
        grad[i] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_outside_arrays_end_as_a_plain_call_leaves_them(f, x=None):
    x = np.array([0.3, -0.7, 1.1]) if x is None else x
    reset()
    expected = f(x.copy())
    after = _state()
    reset()
    ids = _state()[3:]
    value, grad = sd.value_and_grad(f)(x.copy())
    assert value == pytest.approx(expected)
    got = _state()
    for a, b in zip(after[:3], got[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert got[3:] == ids, "the global's arrays are the same objects, changed in place"
    for h in (1e-5, 1e-7):
        np.testing.assert_allclose(grad, _finite_difference(f, x, h), rtol=1e-5, atol=1e-6)


def test_reads_before_a_change_take_a_copy_and_others_do_not():
    reset()
    g = sd.grad(read_then_filled)
    g(np.ones(3))
    assert "rt.snapshot(GY)" in sd.source(g)
    reset()
    g = sd.grad(written_then_read)
    g(np.ones(3))
    assert "snapshot" not in sd.source(g)


def test_a_global_also_given_as_the_argument_and_updated_is_refused():
    def doubled(x):
        y = G["y"]
        y *= 2.0
        return np.sum(x * y)

    reset()
    with pytest.raises(sd.CompileError, match="also gave as an argument"):
        sd.grad(doubled)(G["y"])


GA = np.ones(4)
GL = [np.ones(3)]


def incremented_then_read_through_the_global(x):
    x += 1.0
    return np.sum(GA * x)


def squared_then_read_through_a_globals_entry(x):
    x *= x
    return np.sum(GL[0])


def read_before_and_after_an_update_of_the_argument(x):
    """A read of ``GA`` before a possible change takes a copy: the check of the argument
    against the globals compared it with the copy, and never refused."""
    t = np.sum(np.sin(x * GA))
    if x[0] > 100:
        x = GL[0]
    x += 1.0
    return t + np.sum(x * GA)


def _closure():
    buf = np.ones(3)

    def tripled_then_read_through_the_cell(x):
        x *= 3.0
        return np.sum(buf * x)

    return tripled_then_read_through_the_cell, buf


@pytest.mark.parametrize(
    "f, given",
    [
        (incremented_then_read_through_the_global, lambda: GA),
        (squared_then_read_through_a_globals_entry, lambda: GL[0]),
        (_closure()[0], None),
        (read_before_and_after_an_update_of_the_argument, lambda: GA),
    ],
    ids=["global", "global_entry", "closure_cell", "after_a_copied_read"],
)
def test_an_argument_a_global_holds_too_updated_in_place_is_refused(f, given):
    """Python's update is seen through the global; compiled code's new value would not be."""
    x = f.__closure__[0].cell_contents if given is None else given()
    with pytest.raises(sd.CompileError, match="holds too"):
        sd.grad(f)(x)
    value, grad = sd.value_and_grad(incremented_then_read_through_the_global)(np.ones(4))
    assert value == pytest.approx(8.0)
    np.testing.assert_array_equal(grad, GA)


HISTORY: list = []


def logs_its_loss(x):
    loss = np.sum(np.tanh(x) ** 2)
    HISTORY.append(float(loss))
    return loss


def logs_an_array(x):
    h = x * 2.0
    HISTORY.append(h)
    h += 1.0
    return np.sum(h * h)


def test_a_history_of_numbers_is_kept_as_python_keeps_it():
    """``LOG.append(float(loss))`` into a global list the function does not read: made
    as written (it was refused, with no derivative rule for list.append); an array,
    which the function may go on changing, is refused."""
    HISTORY.clear()
    x = np.array([0.3, -0.5])
    value, grad = sd.value_and_grad(logs_its_loss)(x)
    assert [float(value)] == HISTORY and type(HISTORY[0]) is float
    np.testing.assert_allclose(grad, 2 * np.tanh(x) / np.cosh(x) ** 2)
    with pytest.raises(sd.CompileError, match="added to a list a global holds"):
        sd.grad(logs_an_array)(x)


class _Model:
    def __init__(self):
        self.w = np.array([1.0, 2.0, 3.0])

    def f(self, x):
        return np.sum(np.sin(x * self.w))


MODEL = _Model()


def _reads(x):
    return np.sum(x * GY)


def a_field_written_after_a_method_read_it(x):
    t = MODEL.f(x)
    MODEL.w[0] = 10.0
    return t


def a_global_filled_after_a_helper_read_it(x):
    t = _reads(x)
    GY.fill(5.0)
    return t


def a_view_of_a_global_updated_then_the_global_read(x):
    g = GY[:2]
    g += 1.0
    return np.sum(GY * x)


@pytest.mark.parametrize(
    "f",
    [
        a_field_written_after_a_method_read_it,
        a_global_filled_after_a_helper_read_it,
    ],
    ids=lambda f: f.__name__,
)
def test_a_change_the_gradient_could_not_see_past_is_refused(f):
    """A read inside a callee is not copied: it is refused rather than differentiated
    with the new values."""
    reset()
    with pytest.raises(sd.CompileError):
        sd.grad(f)(np.array([0.3, -0.7, 1.1]))


def _with_no_grad_write(x):
    s = np.sum(x * GY)
    with sd.no_grad():
        GY[0] = 4.0
    return s + np.sum(x * GY)


def test_a_write_under_no_grad_after_a_read_is_seen():
    reset()
    x = np.array([0.3, -0.7, 1.1])
    grad = sd.grad(_with_no_grad_write)(x)
    np.testing.assert_array_equal(grad, [5.0, 4.0, 6.0])
    np.testing.assert_array_equal(GY, [4.0, 2.0, 3.0])


RNG = np.random.default_rng(0)
XS = np.ones((4, 3))


def _noisy(w):
    r = XS @ w
    noise = RNG.normal(size=3)
    return np.sum(r * r) + np.sum(noise)


def test_draws_and_logging_take_no_copies():
    g = sd.grad(_noisy)
    g(np.ones(3))
    assert "snapshot" not in sd.source(g)


F32 = np.float32


def updated_before_the_name_takes_a_global(x):
    """``h`` holds a global's array only after its update: the update is its own."""
    h = np.tanh(x)
    h *= 2.0
    s = np.sum(h)
    h = GY
    return s + np.sum(h)


def scaled_by_a_class_held_in_a_global(x):
    h = x * F32(-0.5)
    GY[0] = 2.0
    return np.sum(h * h)


def a_second_name_of_a_global_updated(x):
    g2 = GY
    g3 = g2
    g3 += 1.0
    g2 += 10.0
    return np.sum(g3 * x)


def _twice(v):
    return v * 2.0


def a_helper_reading_nothing_outside_then_a_change(x):
    t = np.sum(_twice(x) * x * GY)
    GY[0] += 1.0
    return t


@pytest.mark.parametrize(
    "f",
    [
        updated_before_the_name_takes_a_global,
        scaled_by_a_class_held_in_a_global,
        a_second_name_of_a_global_updated,
        a_helper_reading_nothing_outside_then_a_change,
    ],
    ids=lambda f: f.__name__,
)
def test_names_that_hold_a_globals_array_only_sometimes(f):
    """An update of a name the sharing groups put with a global's array is made in that
    array only where the name surely holds it; elsewhere it is the function's own, with
    its gradient (an update in the global's array had a zero gradient)."""
    test_outside_arrays_end_as_a_plain_call_leaves_them(f)


def _into_the_global(x):
    g = GY
    g -= x
    return np.sum(g * g)


def test_a_differentiated_value_updated_into_a_globals_array_is_refused():
    reset()
    with pytest.raises(sd.CompileError, match="a differentiated value stored into"):
        sd.grad(_into_the_global)(np.ones(3))


CFG = {"init": 0.5}


def accumulates_from_a_configured_number(x):
    """A number from a global is a value: ``acc += v`` rebinds it (it was refused as a
    write into the global's object)."""
    acc = CFG["init"]
    for i in range(3):
        acc += x[i] ** 2
    return acc


def accumulates_onto_a_globals_entry(x):
    s = GY[0]
    s += x[1]
    return s * x[0]


@pytest.mark.parametrize(
    "f",
    [accumulates_from_a_configured_number, accumulates_onto_a_globals_entry],
    ids=lambda f: f.__name__,
)
def test_numbers_taken_from_globals_are_values(f):
    test_outside_arrays_end_as_a_plain_call_leaves_them(f)


def _sums(x, w):
    return np.sum(x * w)


def a_global_given_to_a_helper_then_changed(x):
    t = _sums(x, GY)
    y = GY
    y *= 3.0
    return t


def test_a_global_given_to_a_callee_then_changed_is_refused():
    """The callee's derivative reads its argument, the global's array, after the change."""
    reset()
    with pytest.raises(sd.CompileError, match="after a call of `_sums`"):
        sd.grad(a_global_given_to_a_helper_then_changed)(np.ones(3))


LISTED = [np.ones(2), np.zeros(2)]
NESTED = {"l": [np.ones(2)]}


def updates_each_array_of_a_global_list(x):
    for v in LISTED:
        v += 1.0
    return np.sum(x * x)


def updates_an_entry_of_a_globals_entry(x):
    held = NESTED["l"]
    v = held[0]
    v += 1.0
    return np.sum(x * x)


def test_loop_variables_and_entries_of_globals_are_updated_in_them():
    """``for v in GL: v += 1`` and ``v = G["l"][0]; v += 1`` change the global's arrays,
    as Python does (compiled code gave the names new arrays, which the global never saw)."""
    LISTED[:] = [np.ones(2), np.zeros(2)]
    NESTED["l"] = [np.ones(2)]
    x = np.array([0.5, -1.0])
    np.testing.assert_array_equal(sd.grad(updates_each_array_of_a_global_list)(x), 2 * x)
    np.testing.assert_array_equal(LISTED[0], [2.0, 2.0])
    np.testing.assert_array_equal(LISTED[1], [1.0, 1.0])
    sd.grad(updates_an_entry_of_a_globals_entry)(x)
    np.testing.assert_array_equal(NESTED["l"][0], [2.0, 2.0])


def an_entry_updated_through_the_global_while_aliased(x):
    """``GD["y"] *= 2`` updates the entry's array in place, as ``h`` sees (it was given
    a new array, and ``h`` kept the old values)."""
    h = G["y"]
    G["y"] *= 2.0
    return np.sum(h * x)


def an_entry_updated_through_the_global(x):
    """An array in a global dict updated by ``+=`` is updated in place, as Python does."""
    G["y"] += 0.5
    return np.sum(G["y"] * x)


def a_globals_array_on_one_path_updated(x):
    """``h`` holds the global's array on one path and its own on the other: the update
    is made in the global's array where the code runs on the first."""
    if np.sum(x) > 0:
        h = GY
    else:
        h = np.ones(3)
    h += 1.0
    return np.sum(x * x) + np.sum(h) * x[0]


def a_globals_array_on_one_path_written(x):
    if np.sum(x) > 0:
        h = GY
    else:
        h = np.zeros(3)
    h[0] = 5.0
    return np.sum(np.sin(x) * h)


def written_through_a_flat_iterator(x):
    """``GY.flat`` writes into ``GY``: the write was made into a copy."""
    g = GY.flat
    g[0] = 5.0
    return np.sum(x * GY)


def a_name_given_the_global_after_its_own_values_updated(x):
    """``h`` held a value of its own before: where it holds the global's array, the
    update without gradient is made in it."""
    h = np.ones(3)
    s = np.sum(h * x)
    h = G["y"]
    h[1] = 7.0
    return s + np.sum(h * x)


@pytest.mark.parametrize(
    "f",
    [
        an_entry_updated_through_the_global_while_aliased,
        a_view_of_a_global_updated_then_the_global_read,
        an_entry_updated_through_the_global,
        a_globals_array_on_one_path_updated,
        a_globals_array_on_one_path_written,
        a_name_given_the_global_after_its_own_values_updated,
        written_through_a_flat_iterator,
    ],
    ids=lambda f: f.__name__,
)
def test_updates_of_names_that_may_hold_a_globals_array(f):
    test_outside_arrays_end_as_a_plain_call_leaves_them(f)
    test_outside_arrays_end_as_a_plain_call_leaves_them(f, -np.array([0.3, 0.7, 1.1]))


def _differentiated_on_some_path(x):
    h = np.tanh(x)
    s = np.sum(h)
    h = G["y"]
    h -= 0.5
    return s + np.sum(h * x)


def test_an_update_of_a_globals_array_by_a_name_also_differentiated_is_refused():
    """The name is differentiated elsewhere: the update is refused where it would be
    made in the global's array (its value is not followed), not lost."""
    reset()
    with pytest.raises(sd.CompileError, match="a differentiated value stored into"):
        sd.grad(_differentiated_on_some_path)(np.ones(3))
    np.testing.assert_array_equal(G["y"], [1.0, 2.0, 3.0])


def _decayed(x, params):
    params["w"] -= 0.1 * x
    params["n"] += 1
    return np.sum(params["w"] * x)


def test_an_entry_updated_in_place_keeps_its_dtype():
    """``d[k] -= v`` keeps the entry's dtype (float32 stays float32), as Python's
    in-place operator does, in the caller's dict too; a number entry is rebound."""
    x = np.array([0.5, 0.25])
    plain = {"w": np.ones(2, np.float32), "n": 0}
    expected = _decayed(x, plain)
    params = {"w": np.ones(2, np.float32), "n": 0}
    value, grad = sd.value_and_grad(_decayed)(x, params)
    assert params["w"].dtype == np.float32 and params["n"] == 1
    np.testing.assert_array_equal(params["w"], plain["w"])
    assert value == pytest.approx(expected)
    np.testing.assert_allclose(grad, plain["w"] - 0.1 * x, rtol=1e-6)


def _scaled_by_the_global(v):
    return np.sum(v * GY)


def _filled(buf, value):
    buf.fill(value)
    return buf


def own_buffers_changed_after_a_helper_read_a_global(x):
    """A change in place of the function's own arrays (a fill, ``np.copyto``,
    ``np.add.at``, a helper given them) cannot change the global the helper read: it
    was refused."""
    t = _scaled_by_the_global(x)
    buf = np.zeros(3)
    np.copyto(buf, x)
    s = np.sum(buf * x)
    buf = np.zeros(3)
    buf.fill(2.0)
    np.add.at(buf, [0, 0], 1.0)
    _filled(np.zeros(2), 1.0)
    return t + s + np.sum(buf * x)


def test_changes_of_the_functions_own_arrays_after_a_helper_are_not_refused():
    test_outside_arrays_end_as_a_plain_call_leaves_them(
        own_buffers_changed_after_a_helper_read_a_global
    )


def lower_triangle_twice(x):
    a = np.tril_indices(3)
    b = np.tril_indices(3, -1)
    return np.sum(x[a] ** 2) + np.sum(x[b] * 3.0)


def lower_triangle_in_a_loop(x):
    s = 0.0
    for _ in range(2):
        s = s + np.sum(x[np.tril_indices(3)] ** 2)
    return s


@pytest.mark.parametrize(
    "f", [lower_triangle_twice, lower_triangle_in_a_loop], ids=lambda f: f.__name__
)
def test_a_ufuncs_outer_in_numpys_own_code_changes_nothing(f):
    """``np.tril_indices`` runs ``np.greater_equal.outer`` (through ``np.tri``), which
    makes a new array: a second call is no change of an array from outside after the
    first (it was refused as one)."""
    x = np.arange(9.0).reshape(3, 3)
    value, grad = sd.value_and_grad(f)(x)
    assert value == f(x)
    lower = np.tril(np.ones((3, 3)))
    if f is lower_triangle_in_a_loop:
        expected = 4 * x * lower
    else:
        expected = 2 * x * lower + 3.0 * np.tril(np.ones((3, 3)), -1)
    np.testing.assert_allclose(grad, expected)


GL2 = [np.array([1.0, 2.0, 3.0])]


def _zero_every_entry():
    for w in GL2:
        w.fill(0.0)


def _copied_into_the_global(t):
    g = GY
    np.copyto(g, t)


def _filled_through_another_name():
    g = GY
    g.fill(0.25)


def _doubled_by_out():
    g = G["y"]
    np.multiply(g, 2.0, out=g)


def _bumped_through_another_name():
    a = GY
    a += 1.0


def read_then_a_helper_zeroes_a_global_lists_entries(x):
    y = np.sum(x * GL2[0])
    _zero_every_entry()
    return y


def read_then_a_helper_copies_into_the_global(x):
    y = np.sum(x * GY)
    _copied_into_the_global(np.zeros(3))
    return y


def read_then_a_helper_fills_it_through_its_own_name(x):
    y = np.sum(x * GY)
    _filled_through_another_name()
    return y


def read_then_a_helper_doubles_an_entry_by_out(x):
    y = np.sum(x * G["y"])
    _doubled_by_out()
    return y


def _added_at_through_another_name():
    g = GY
    np.add.at(g, [0, 0], 1.0)


def read_then_a_helper_adds_at_it(x):
    y = np.sum(x * GY)
    _added_at_through_another_name()
    return y + np.sum(x * GY)


def read_then_a_helper_bumps_it_through_its_own_name(x):
    y = np.sum(x * GY)
    _bumped_through_another_name()
    return y + np.sum(x * GY)


@pytest.mark.parametrize(
    "f",
    [
        read_then_a_helper_zeroes_a_global_lists_entries,
        read_then_a_helper_copies_into_the_global,
        read_then_a_helper_fills_it_through_its_own_name,
        read_then_a_helper_doubles_an_entry_by_out,
        read_then_a_helper_bumps_it_through_its_own_name,
        read_then_a_helper_adds_at_it,
    ],
    ids=lambda f: f.__name__,
)
def test_a_helper_changing_a_global_through_a_name_of_its_own_is_seen(f):
    """A helper given nothing, or only the caller's own arrays, may still change a
    global's array through a name of its own (``g = GY; g.fill(0)``, a loop over a
    global list): the read before it takes a copy (or the change is refused), never
    the gradient of the changed values."""
    test_outside_arrays_end_as_a_plain_call_leaves_them(f)


DEEP = types.SimpleNamespace(sub=types.SimpleNamespace(v=np.array([1.0, 2.0, 3.0])))
HELD = {"ns": types.SimpleNamespace(w=np.array([1.0, 2.0, 3.0]))}


def _reset_nested() -> None:
    DEEP.sub.v[:] = [1.0, 2.0, 3.0]
    HELD["ns"].w[:] = [1.0, 2.0, 3.0]


def a_record_in_a_record_updated_on_one_path(x):
    h = DEEP.sub.v
    if x[1] > 0:
        h = np.ones(3)
    y = np.sum(x * DEEP.sub.v)
    h += 1.0
    return y + np.sum(x * DEEP.sub.v)


def a_record_in_a_dict_updated_on_one_path(x):
    h = HELD["ns"].w if x[0] > 0 else np.ones(3)
    h += 1.0
    return np.sum(x * HELD["ns"].w)


def a_record_in_a_record_written_on_one_path(x):
    h = DEEP.sub.v if x[0] > 0 else np.ones(3)
    h[0] = 9.0
    return np.sum(x * DEEP.sub.v)


@pytest.mark.parametrize(
    "f",
    [
        a_record_in_a_record_updated_on_one_path,
        a_record_in_a_dict_updated_on_one_path,
        a_record_in_a_record_written_on_one_path,
    ],
    ids=lambda f: f.__name__,
)
def test_arrays_of_records_at_any_depth_are_the_globals(f):
    """The check made where an update runs finds a global's array in the fields of an
    object held by an object (or a dict) too: it found the first level alone."""
    x = np.array([0.5, -1.2, 2.0])
    _reset_nested()
    expected = f(x)
    after = (DEEP.sub.v.copy(), HELD["ns"].w.copy())
    _reset_nested()
    value, grad = sd.value_and_grad(f)(x)
    assert value == pytest.approx(expected)
    np.testing.assert_array_equal(DEEP.sub.v, after[0])
    np.testing.assert_array_equal(HELD["ns"].w, after[1])
    for h in (1e-5, 1e-7):
        want = np.zeros(3)
        for i in range(3):
            step = np.zeros(3)
            step[i] = h
            _reset_nested()
            up = f(x + step)
            _reset_nested()
            want[i] = (up - f(x - step)) / (2 * h)
        np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-6)


class _CallableModel:
    def __init__(self):
        self.W = np.array([1.0, 2.0, 3.0])

    def __call__(self, x):
        return x * self.W

    def reset(self):
        self.W.fill(0.0)


CALLABLE_MODEL = _CallableModel()


def read_by_a_callable_global_then_reset(x):
    y = np.sum(CALLABLE_MODEL(x))
    CALLABLE_MODEL.reset()
    return y


def test_a_callable_object_held_by_a_global_is_data():
    """A global object with ``__call__`` (a model) holds arrays like any object: its
    call's derivative reads them, so a change after it is refused (it was taken for a
    function, and the gradient read the zeroed array)."""
    CALLABLE_MODEL.W[:] = [1.0, 2.0, 3.0]
    with pytest.raises(sd.CompileError, match="changed in place here, through `CALLABLE_MODEL`"):
        sd.grad(read_by_a_callable_global_then_reset)(np.array([0.5, -1.2, 2.0]))


def _scaled_by_gy(v):
    return v * GY


def a_configured_number_updated_after_a_helper(x):
    """``acc += t`` of a number taken from a global rebinds it: nothing a helper's
    derivative reads changes (it was refused as a change of an array)."""
    t = np.sum(_scaled_by_gy(x))
    acc = CFG["init"]
    acc += t
    return acc * x[0]


def a_globals_array_updated_after_a_helper(x):
    t = np.sum(_scaled_by_gy(x))
    acc = G["y"]
    acc += 1.0
    return t


def test_an_update_after_a_helper_is_refused_where_it_changes_an_array():
    reset()
    test_outside_arrays_end_as_a_plain_call_leaves_them(a_configured_number_updated_after_a_helper)
    reset()
    with pytest.raises(sd.CompileError, match="after a call of `_scaled_by_gy`"):
        sd.grad(a_globals_array_updated_after_a_helper)(np.ones(3))
    np.testing.assert_array_equal(G["y"], [1.0, 2.0, 3.0])


def _a_parameter_given_the_global(x, buf):
    s = np.sum(x * x)
    buf = GY
    buf += 1.0
    return s


def test_a_parameter_given_a_globals_array_updates_it():
    """A parameter rebound to a global's array, then updated: the update is made in the
    global's array, as Python makes it (it was given a new value, and the write lost)."""
    reset()
    expected = _a_parameter_given_the_global(np.ones(3), np.zeros(3))
    after = GY.copy()
    reset()
    value, grad = sd.value_and_grad(_a_parameter_given_the_global)(np.ones(3), np.zeros(3))
    assert value == expected
    np.testing.assert_array_equal(GY, after)
    np.testing.assert_array_equal(grad, 2.0 * np.ones(3))


def _fills_the_global(x):
    GY.fill(np.dot(x, x))
    return np.sum(x)


def test_a_globals_array_filled_with_a_differentiated_value_is_refused_as_such():
    """It was refused as a missing rule for ``ndarray.fill``."""
    reset()
    with pytest.raises(sd.CompileError, match="a differentiated value stored into the global"):
        sd.grad(_fills_the_global)(np.ones(3))


def _read_a_fields_list_then_write_it(x, o):
    t = np.sum(np.sin(np.multiply(x, o.l)))
    o.l[0] = 5.0
    return t + np.sum(x * o.l)


def test_a_list_an_argument_holds_read_then_written_takes_a_copy():
    """``o.l[0] = 5`` writes into the list ``o.l`` holds (every name holding it sees it):
    a read of it before, saved for the adjoint, takes a copy (the adjoint read 5)."""
    x = np.array([0.3, -0.7, 1.1])
    plain = types.SimpleNamespace(l=[1.0, 2.0, 0.5])
    expected = _read_a_fields_list_then_write_it(x, plain)
    given = types.SimpleNamespace(l=[1.0, 2.0, 0.5])
    value, grad = sd.value_and_grad(_read_a_fields_list_then_write_it)(x, given)
    assert value == pytest.approx(expected) and given.l == plain.l
    want = np.cos(x * [1.0, 2.0, 0.5]) * [1.0, 2.0, 0.5] + [5.0, 2.0, 0.5]
    np.testing.assert_allclose(grad, want, rtol=1e-12)


def _the_global():
    return GY


def _the_globals_entry():
    return G["y"]


def updated_after_a_helper_handed_it_back(x):
    """``a = get(); a += 1`` updates the global's array ``get`` returns, as Python does
    (the update was given a new value, and the global kept its old values)."""
    a = _the_global()
    a += 1.0
    return np.sum(x * GY)


def filled_after_a_helper_handed_an_entry_back(x):
    b = _the_globals_entry()
    b.fill(0.5)
    return np.sum(x * G["y"])


@pytest.mark.parametrize(
    "f",
    [updated_after_a_helper_handed_it_back, filled_after_a_helper_handed_an_entry_back],
    ids=lambda f: f.__name__,
)
def test_a_globals_array_a_helper_returns_is_updated_in_place(f):
    test_outside_arrays_end_as_a_plain_call_leaves_them(f)


def _times_ga(v):
    return v * GA


def an_argument_only_a_helper_reads_as_a_global(x):
    x += 1.0
    return np.sum(_times_ga(x))


def test_an_argument_a_helpers_global_holds_too_updated_in_place_is_refused():
    """``f(GA)`` updating its argument in place, where only a helper reads ``GA``: the
    helper would read the global's old values (the check knew only the globals the
    function itself reads)."""
    with pytest.raises(sd.CompileError, match="holds too"):
        sd.grad(an_argument_only_a_helper_reads_as_a_global)(GA)
    value, grad = sd.value_and_grad(an_argument_only_a_helper_reads_as_a_global)(np.ones(4))
    assert value == pytest.approx(8.0)
    np.testing.assert_array_equal(grad, GA)


class _Settings:
    """An object of the user's whose methods are named like an array's mutators."""

    def __init__(self) -> None:
        self.level = 0.0
        self.arr = np.array([1.0, 2.0, 3.0])

    def fill(self, v):
        self.level = float(v)
        return self

    def sort(self):
        return self.level

    def put(self, v):  # changes the array it holds
        self.arr[:] = v

    def partition(self, v):  # through the array's own method
        self.arr.fill(v)


SETTINGS = _Settings()


def _reads_gy_and_the_settings_array(x):
    return np.sum(x * GY) + np.sum(x * SETTINGS.arr)


def settings_filled_after_a_helper_read_a_global(x):
    s = _reads_gy_and_the_settings_array(x)
    SETTINGS.fill(2.0)
    SETTINGS.sort()
    return s * SETTINGS.level


def settings_filled_in_a_helper_after_a_helper(x):
    s = _reads_gy_and_the_settings_array(x)
    _set_level(3.0)
    return s + np.sum(x * x)


def _set_level(v):
    SETTINGS.fill(v)


def test_a_method_of_the_users_named_like_an_arrays_mutator_is_looked_into():
    """``SETTINGS.fill(v)`` of a class of the user's that sets a number is no change of
    an array: not refused after a helper read a global's array, and run as written."""
    for f, level in [
        (settings_filled_after_a_helper_read_a_global, 2.0),
        (settings_filled_in_a_helper_after_a_helper, 3.0),
    ]:
        SETTINGS.level = 0.0
        test_outside_arrays_end_as_a_plain_call_leaves_them(f)
        assert SETTINGS.level == level
        np.testing.assert_array_equal(SETTINGS.arr, [1.0, 2.0, 3.0])


def settings_array_put_after_a_helper_read_it(x):
    s = _reads_gy_and_the_settings_array(x)
    SETTINGS.put(5.0)
    return s


def settings_array_filled_by_its_own_method_after_a_helper_read_it(x):
    s = _reads_gy_and_the_settings_array(x)
    SETTINGS.partition(5.0)
    return s


def settings_array_put_in_a_helper_after_a_helper(x):
    s = _reads_gy_and_the_settings_array(x)
    _put_settings(5.0)
    return s


def _put_settings(v):
    SETTINGS.put(v)


def a_global_array_filled_through_a_local_name_after_a_helper(x):
    s = _reads_gy_and_the_settings_array(x)
    g = GY
    g.fill(5.0)
    return s


@pytest.mark.parametrize(
    "f",
    [
        settings_array_put_after_a_helper_read_it,
        settings_array_filled_by_its_own_method_after_a_helper_read_it,
        settings_array_put_in_a_helper_after_a_helper,
        a_global_array_filled_through_a_local_name_after_a_helper,
    ],
    ids=lambda f: f.__name__,
)
def test_a_method_that_changes_an_array_after_a_helper_read_it_is_still_refused(f):
    reset()
    SETTINGS.arr = np.array([1.0, 2.0, 3.0])
    with pytest.raises(sd.CompileError, match="after a call of `_reads_gy_and_the_settings"):
        sd.grad(f)(np.ones(3))
    np.testing.assert_array_equal(SETTINGS.arr, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(GY, [1.0, 2.0, 3.0])


def fills_a_copy_of_a_globals_array(x):
    h = GY.copy()
    h[1] += x[0] * x[2]
    h = h + 0.0
    h[0] = np.sin(x[1])
    return np.sum(h * h)


def fills_a_copy_of_a_fields_array(x):
    h = STATE.y.copy()
    h[2] = x[0] * x[1]
    return np.sum(h * x)


def fills_a_copy_of_a_dicts_array(x):
    h = G["y"].copy()
    h[0] += x[2] ** 2
    return np.sum(h * x)


def fills_a_copy_of_a_slice_of_a_globals_array(x):
    h = GY[1:].copy()
    h[0] = x[0] * 3.0
    return np.sum(h * x[1:])


@pytest.mark.parametrize(
    "f",
    [
        fills_a_copy_of_a_globals_array,
        fills_a_copy_of_a_fields_array,
        fills_a_copy_of_a_dicts_array,
        fills_a_copy_of_a_slice_of_a_globals_array,
    ],
    ids=lambda f: f.__name__,
)
def test_a_copy_of_a_globals_array_is_the_functions_own(f):
    """``GY.copy()`` (``STATE.y.copy()``, ``G["y"].copy()``) is a new array, whose
    entries are numbers: a differentiated value written into it is the function's own (it
    was refused as a write into the global's object, as a list's copy, which shares its
    entries, is)."""
    test_outside_arrays_end_as_a_plain_call_leaves_them(f)


GL_ROWS = [np.array([1.0, 2.0, 3.0])]


def writes_into_an_entry_of_a_copy_of_a_globals_list(x):
    rows = GL_ROWS.copy()
    rows[0][1] = x[0] * 2.0
    return np.sum(rows[0] * x)


def test_a_copy_of_a_globals_list_still_shares_its_arrays():
    with pytest.raises(sd.CompileError, match="stored into an object a global holds"):
        sd.grad(writes_into_an_entry_of_a_copy_of_a_globals_list)(np.ones(3))
    np.testing.assert_array_equal(GL_ROWS[0], [1.0, 2.0, 3.0])


# ---- a global given another array by a function called after it is read -------------------

GW = np.array([1.0, 2.0, 3.0])


def _doubles_gw():
    global GW
    GW = GW * 2.0


def _scaled_by_gw(v):
    return v * GW


def read_then_rebound_by_a_helper(x):
    t = x * GW
    _doubles_gw()
    return np.sum(t * x) + np.sum(GW * x)


def read_by_a_helper_then_rebound_by_another(x):
    t = _scaled_by_gw(x)
    _doubles_gw()
    return np.sum(t * x)


def read_by_a_helper_then_rebound_here(x):
    global GW
    t = _scaled_by_gw(x)
    GW = GW * 2.0
    return np.sum(t * x)


def test_a_read_of_a_global_array_a_helper_rebinds_later_keeps_its_value():
    """``t = x * GW`` then ``_doubles_gw()`` (``global GW; GW = GW * 2``): the adjoint
    read the new array (a gradient of [2.6, 1.6, 15.9] where finite differences give
    [2.4, 2.4, 12.6] at x = [0.2, -0.4, 1.1]); the read now takes a copy."""
    global GW
    x = np.array([0.2, -0.4, 1.1])
    GW = np.array([1.0, 2.0, 3.0])
    want = read_then_rebound_by_a_helper(x)
    GW = np.array([1.0, 2.0, 3.0])
    value, grad = sd.value_and_grad(read_then_rebound_by_a_helper)(x)
    assert value == pytest.approx(want) and np.array_equal(GW, [2.0, 4.0, 6.0])
    for eps in (1e-6, 1e-4):
        fd = []
        for e in np.eye(3) * eps:
            GW = np.array([1.0, 2.0, 3.0])
            up = read_then_rebound_by_a_helper(x + e)
            GW = np.array([1.0, 2.0, 3.0])
            fd.append((up - read_then_rebound_by_a_helper(x - e)) / (2 * eps))
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "fn", [read_by_a_helper_then_rebound_by_another, read_by_a_helper_then_rebound_here]
)
def test_a_global_array_a_helpers_derivative_reads_rebound_after_it_keeps_its_value(fn):
    """The helper's adjoint, run later, read the new array ([0.6, -2.4, 9.9] where
    finite differences give [0.4, -1.6, 6.6]): it reads the array its primal read."""
    global GW
    x = np.array([0.2, -0.4, 1.1])
    GW = np.array([1.0, 2.0, 3.0])
    want = fn(x)
    GW = np.array([1.0, 2.0, 3.0])
    value, grad = sd.value_and_grad(fn)(x)
    assert value == pytest.approx(want) and np.array_equal(GW, [2.0, 4.0, 6.0])
    for eps in (1e-6, 1e-4):
        fd = []
        for e in np.eye(3) * eps:
            GW = np.array([1.0, 2.0, 3.0])
            up = fn(x + e)
            GW = np.array([1.0, 2.0, 3.0])
            fd.append((up - fn(x - e)) / (2 * eps))
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
