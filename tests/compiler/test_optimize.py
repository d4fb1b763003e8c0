"""Stage 6: the adjoint tidied: constants folded, dead assignments dropped, and in the
generated gradients no zero-filled accumulators, no ``unbroadcast`` where shapes cannot
differ, no adjoint nobody asked for."""

from __future__ import annotations

import ast
import textwrap

import gast
import numpy as np

import srcdiff as sd
from srcdiff.compiler.optimize import eliminate_dead, fold_constants, optimize

from .pipeline import body_lines


def fn_of(source: str) -> gast.FunctionDef:
    return gast.parse(textwrap.dedent(source)).body[0]


def test_constant_arithmetic_is_folded():
    fn = fn_of("""
        def f(x, g):
            a = g * 2 * x ** (2 - 1)
            b = x * 1
            c = x ** (3 - 1) + 2.0 * 3.0
            return a, b, c
    """)
    fold_constants(fn)
    assert body_lines(fn)[:3] == ["a = g * 2 * x", "b = x", "c = x ** 2 + 6.0"]


def test_negative_folds_keep_their_parentheses():
    fn = fn_of("""
        def f(x):
            a = (1 - 2) ** x
            b = x ** (0.5 - 1)
            return a, b
    """)
    fold_constants(fn)
    lines = body_lines(fn)
    assert lines[:2] == ["a = (-1) ** x", "b = x ** (-0.5)"]
    namespace: dict = {}
    exec(compile(ast.unparse(gast.gast_to_ast(fn)), "<folded>", "exec"), namespace)
    assert namespace["f"](2.0) == (1.0, 2.0**-0.5)


def test_tests_of_optional_arguments_fold_away():
    fn = fn_of("""
        def f(x, lo):
            a = x < 0.5 if 0.5 is not None else False
            b = x > 1.0 if None is not None else False
            c = x < lo if lo is not None else False
            return a, b, c
    """)
    fold_constants(fn)
    assert body_lines(fn)[:3] == [
        "a = x < 0.5",
        "b = False",
        "c = x < lo if lo is not None else False",
    ]


def test_dead_assignments_go_until_none_is_left():
    fn = fn_of("""
        def f(s, g):
            a, b = s[1]
            c = a * g
            d = c + b
            e = g * 2.0
            if g:
                unused = e
            return e
    """)
    eliminate_dead(fn)
    assert body_lines(fn) == ["e = g * 2.0", "if g:", "pass", "return e"]


def test_optimize_drops_a_loop_it_empties():
    fn = fn_of("""
        def f(g):
            for i in range(3):
                t = g * i
            return g
    """)
    optimize(fn)
    assert body_lines(fn) == ["return g"]
    assert all(hasattr(s, "lineno") for s in gast.walk(fn) if isinstance(s, gast.stmt))


def scale(x, y):
    a = x * 2.0
    b = 3.0 - a
    c = b * y
    return np.sum(c)


def test_no_unbroadcast_where_the_other_operand_is_a_constant():
    g = sd.grad(scale, wrt=0)
    g(np.ones(3), np.ones(3))
    adjoint = sd.source(g).split("def scale_adjoint", 1)[1]
    assert "d_a = -d_b" in adjoint
    assert "d_x = d_a * 2.0" in adjoint
    assert "d_y" not in adjoint  # nobody asked for it


def test_no_zero_initialisation_where_the_first_contribution_can_be_assigned():
    g = sd.grad(scale, wrt=(0, 1))
    g(np.ones(3), np.ones(3))
    assert "zeros_like" not in sd.source(g)


def test_saved_values_nobody_reads_are_not_loaded():
    g = sd.grad(scale, wrt=1)
    g(np.ones(3), np.ones(3))
    adjoint = sd.source(g).split("def scale_adjoint", 1)[1]
    assert "d_a" not in adjoint and "d_x" not in adjoint
    assert adjoint.count("_saved[") == 2  # sum's operand, and b for d_y = d_c * b


def mse(w, x, y):
    return np.mean((x @ w - y) ** 2)


def test_a_mean_of_squares_spreads_its_gradient_into_the_slope():
    """``rt.unreduce(g, ...)`` read only by a product is folded into it, and the slope's
    constant 2 is handed to it apart: no array of copies of ``g``, no ``2 * t``."""
    x, y = np.arange(6.0).reshape(3, 2), np.ones(3)
    g = sd.grad(mse)
    g(np.ones(2), x, y)
    adjoint = sd.source(g).split("def mse_adjoint", 1)[1]
    assert "rt.unreduce_times(d_result / rt.size(t3), t3, None, False, t2, 2)" in adjoint
    assert "rt.unreduce(" not in adjoint


def test_folding_stops_where_the_values_read_change():
    fn = fn_of(
        """
        def adjoint(d_result, t, u):
            d_t1 = d_result * (2 * t)
            t = u
            d_t2 = -d_t1
            d_t3 = rt.unreduce(d_result, t, None, False)
            d_t4 = d_t3 * 2.0
            d_t5 = d_result * u
            d_t6 = -d_t5
            return (d_t2, d_t4, d_t6)
        """
    )
    optimize(fn)
    assert body_lines(fn) == [
        "d_t1 = d_result * (2 * t)",
        "t = u",
        "d_t2 = -d_t1",
        "d_t3 = rt.unreduce(d_result, t, None, False)",
        "d_t4 = d_t3 * 2.0",
        "d_t5 = d_result * u",  # (no constant to take the sign)
        "d_t6 = -d_t5",
        "return (d_t2, d_t4, d_t6)",
    ]


def test_a_negated_mean_square_gradient_takes_the_sign_in_its_scale():
    # d/dt2 of mean((y - t2) ** 2): the -1 of the subtraction joins the 2 of the square,
    # an array operation fewer, with the same bits
    source = textwrap.dedent("""
        def g(d_result, t3, t4):
            d_t3 = rt.unreduce_times(d_result / rt.size(t4), t4, None, False, t3, 2)
            d_t2 = -d_t3
            return d_t2 * 2.0, d_t2
    """)
    fn = fn_of(source)
    optimize(fn)
    text = ast.unparse(gast.gast_to_ast(fn))
    assert "rt.unreduce_times(d_result / rt.size(t4), t4, None, False, t3, -2)" in text
    assert "-d_t3" not in text
    rng = np.random.default_rng(0)
    a, b, x, y = (
        rng.normal(size=1),
        rng.normal(size=1),
        rng.normal(size=(8, 1)),
        rng.normal(size=(8, 1)),
    )
    ga, gb = sd.grad(lambda a, b: np.mean((y - (a + b * x)) ** 2), wrt=(0, 1))(a, b)
    e = y - (a + b * x)
    np.testing.assert_allclose(ga, -2 * np.mean(e, axis=0), rtol=1e-12)
    np.testing.assert_allclose(gb, -2 * np.mean(e * x, axis=0), rtol=1e-12)
