"""Stage 5: the adjoint of the path a call took: the statements that ran, in reverse,
each replaced by its rule; branches not taken absent; loops reversed, never unrolled."""

from __future__ import annotations

import re

import numpy as np
import pytest

import srcdiff as sd

from .pipeline import run_primal, unit


def branch(x):
    if np.sum(x) > 0:
        y = np.tanh(x)
    else:
        y = np.exp(x)
    return np.sum(y)


def early(x):
    if x[0] > 0:
        return np.sum(np.sin(x))
    return np.sum(np.cos(x))


def loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x * i)
    return np.sum(s)


def while_loop(x, n):
    i = 0
    y = x
    while i < n:
        y = np.tanh(y) * 1.5
        i = i + 1
    return np.sum(y)


def loop_with_branches(x, n):
    s = 0.0
    for i in range(n):
        if x[i % 4] > 0:
            s = s + np.sin(x[i % 4])
        else:
            s = s - np.exp(x[i % 4])
    return s


def loop_with_break(x):
    s = 0.0
    for i in range(4):
        s = s + np.tanh(x[i])
        if s > 1.0:
            break
        s = s * np.cos(x[i])
    return s


def nested(m):
    s = 0.0
    for i in range(2):
        for j in range(3):
            s = s + np.sin(m[i, j]) * s
    return s


def straight(w, x, y):
    h = np.tanh(x @ w)
    err = h - y
    return np.mean(err**2)


X = np.array([0.5, -1.0, 2.0, -0.25])


def adjoint_source(fn, *args, active=("x",)):
    u = unit(fn, *active)
    _, _, path = run_primal(u, *args)
    return u.adjoint(sd.runtime.path_key(path) if path else ())[1]


def test_the_branch_not_taken_is_absent_from_the_adjoint():
    taken = adjoint_source(branch, X)
    not_taken = adjoint_source(branch, -X - 1.0)
    assert "(1.0 - y * y)" in taken and "if branch taken" in taken
    assert "(1.0 - y * y)" not in not_taken and "if branch not taken" in not_taken
    assert "y = _saved" in not_taken and "d_y * y" in not_taken  # exp: d_x = d_y * y


def test_statements_after_an_early_return_are_absent():
    assert "xp.cos" in adjoint_source(early, X) and "xp.sin" not in adjoint_source(early, X)
    assert "xp.sin" in adjoint_source(early, -X) and "xp.cos" not in adjoint_source(early, -X)


def test_a_loop_becomes_one_reversed_loop_over_its_saved_iterations():
    text = adjoint_source(loop, X, 5)
    assert len(re.findall(r"for \w+ in reversed\(_saved\[\d+\]\):", text)) == 1
    assert text.count("xp.cos") == 1  # the body once, not once per iteration


def test_a_while_loop_is_reversed_too():
    text = adjoint_source(while_loop, X, 6)
    assert len(re.findall(r"in reversed\(", text)) == 1
    assert text.count("(1.0 - ") == 1


def test_nested_loops_are_nested_reversed_loops():
    text = adjoint_source(nested, np.arange(6.0).reshape(2, 3) / 6.0, active=("m",))
    assert len(re.findall(r"in reversed\(", text)) == 2
    assert text.count("xp.cos") == 1


@pytest.mark.parametrize("fn, args", [(loop, (X,)), (while_loop, (X,))], ids=["for", "while"])
def test_ten_thousand_iterations_give_the_source_of_ten(fn, args):
    g = sd.grad(fn)
    g(*args, 10)
    small = sd.source(g)
    g(*args, 10_000)
    large = sd.source(g)
    assert len(large) == len(small)
    assert large == small


def test_iterations_taking_different_branches_dispatch_on_their_path():
    x = np.array([0.5, -1.0, 2.0, -0.25])
    both = adjoint_source(loop_with_branches, x, 8)
    assert "if _v1 == 0:" in both and "xp.cos" in both and "xp.exp" not in both
    assert both.count("xp.cos") == 1
    only_taken = adjoint_source(loop_with_branches, np.abs(x), 8)
    assert "_v1 ==" not in only_taken and "xp.cos" in only_taken
    assert "s = s - np.exp(x[i % 4])" not in only_taken


def test_the_number_of_adjoints_is_bounded_by_the_program_not_the_data():
    u = unit(loop_with_branches, "x")
    rng = np.random.default_rng(0)
    for n in (1, 3, 10, 50):
        for _ in range(10):
            _, _, path = run_primal(u, rng.standard_normal(4), n)
            u.adjoint(sd.runtime.path_key(path))
    # iterations of two kinds: one kind, or both in either order of first appearance
    assert len(u.adjoints) <= 4


def test_break_ends_the_iteration_in_the_adjoint():
    x = np.array([0.1, 3.0, 0.1, 0.1])  # breaks in the second iteration
    text = adjoint_source(loop_with_break, x)
    assert "if _v1 == 0:" in text  # iterations that broke and iterations that went on
    g = sd.grad(loop_with_break)
    from .checker import check_function

    check_function(loop_with_break, [x], (0,))
    assert g(x).shape == (4,)


def test_adjoints_are_named_after_the_users_variables_and_only_for_what_was_asked():
    g = sd.grad(straight, wrt=0)
    w, x = np.ones(3) * 0.1, np.arange(6.0).reshape(2, 3)
    y = np.ones((4, 2))  # four sets of targets: h broadcast against them
    g(w, x, y)
    text = sd.source(g).split("_adjoint(", 1)[1]
    assert "d_h = " in text and "d_err = " in text and "d_w = " in text
    assert "d_x" not in text and "d_y" not in text
    assert "zeros_like" not in text  # the first contribution is assigned, not added to 0
    assert "return (d_w,)" in text


def test_an_argument_that_does_not_reach_the_result_gets_zeros():
    def unused(x, y):
        return np.sum(y)

    # defined here, its source is this file: compile through the public API
    g = sd.grad(unused, wrt=(0, 1))
    dx, dy = g(np.ones(2), np.ones(3))
    assert np.array_equal(dx, np.zeros(2)) and np.array_equal(dy, np.ones(3))


def repeated_and_joined(a, b):
    t = [a, b] * 3 + [b]
    return np.sum(t[0] * t[3] * t[6])


def joins_an_element(pairs, w):
    first = pairs[0]
    return np.sum((first + [w])[1] * w)


def joins_two_elements(pairs, w):
    first, second = pairs[0], pairs[1]
    return np.sum((first + second)[1] * w)


def test_lists_joined_and_repeated_give_each_entry_its_copies_gradients():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    da, db = sd.grad(repeated_and_joined, wrt=(0, 1))(a, b)
    np.testing.assert_allclose(da, b * b)  # sum(a * b * b)
    np.testing.assert_allclose(db, 2 * a * b)
    text = adjoint_source(repeated_and_joined, a, b, active=("a", "b"))
    assert "rt.join_grads(" in text and "rt.repeat_grads(" in text


def test_arrays_keep_unbroadcast_and_a_list_it_cannot_see_is_an_error():
    text = adjoint_source(straight, np.ones(3), np.ones((2, 3)), np.ones(2), active=("w",))
    assert "join_grads" not in text and "repeat_grads" not in text
    pairs = [[np.ones(2)], [np.full(2, 3.0)]]
    w = np.array([0.5, 2.0])
    np.testing.assert_allclose(sd.grad(joins_an_element, wrt=1)(pairs, w), 2 * w)
    with pytest.raises(sd.CompileError, match="joins or repeats the list"):
        sd.grad(joins_two_elements, wrt=(0, 1))(pairs, w)


def weighted_square(v, w):
    return np.sum(v * v * w)


def test_a_product_of_a_name_with_itself_has_one_contribution():
    v, w = np.array([0.5, -1.5]), np.array([2.0, 3.0])
    np.testing.assert_allclose(sd.grad(weighted_square)(v, w), 2 * v * w)
    text = adjoint_source(weighted_square, v, w, active=("v",))
    assert "d_v = d_t1 * 2.0 * v" in text and "unbroadcast(d_t1" not in text
    from .checker import check_function

    check_function(weighted_square, [v, w], (0, 1))
