"""Stage 3: activity (what depends on the differentiated arguments), what each statement
is, what its adjoint needs saved, and the facts about loops."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler.ir import Kind, facts
from srcdiff.compiler.normalize import walk_statements
from srcdiff.testing import numeric_grad

from .pipeline import analysed, code, statements


def mixed(x, y, n):
    a = x * 2.0
    b = y * 3.0
    c = a + b
    k = x.shape[0]
    m = x > 0
    d = np.tanh(c)
    e = d * y
    return np.sum(e) + k + n + np.sum(m)


def helper(v):
    return v * v


def with_call(x, y):
    u = helper(x)
    w = helper(y)
    return u + w


def late_activity(x):
    a = 0.0
    b = 0.0
    for _ in range(3):
        a = b * 2.0
        b = x
    return a


def loops(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i
    t = 0.0
    for i in range(n):
        if x[i] > 0:
            t = t + x[i]
    count = 0
    for i in range(n):
        if i > 1:
            count = count + 1
    return s + t + count


def copies(x):
    y = x
    z = y
    return z


def by_name(fn, tree) -> dict:
    """Each assigned name's last Op."""
    return {
        facts(s).op.target: facts(s).op
        for s in statements(tree)
        if facts(s).op is not None and facts(s).op.target
    }


def test_active_names_are_those_depending_on_the_differentiated_arguments():
    r = analysed(mixed, "x")
    assert {"x", "a", "c", "d", "e"} <= r.analysis.active
    assert not {"y", "b", "n", "k", "m"} & r.analysis.active


def test_activity_follows_the_other_argument_too():
    r = analysed(mixed, "y")
    assert {"y", "b", "c", "d", "e"} <= r.analysis.active
    assert not {"x", "a", "k", "m"} & r.analysis.active


def test_nothing_is_active_when_nothing_is_differentiated():
    r = analysed(mixed)
    assert r.analysis.active == set()
    assert all(facts(s).op.kind in (Kind.PASSIVE, Kind.RETURN) for s in statements(r.tree))


def test_each_statement_is_classified():
    ops = by_name(mixed, analysed(mixed, "x").tree)
    assert ops["a"].kind is Kind.RULE and ops["a"].rule.name == "multiply"
    assert ops["c"].kind is Kind.RULE and ops["c"].rule.name == "add"
    assert ops["d"].kind is Kind.RULE and ops["d"].rule.name == "tanh"
    assert ops["k"].kind is Kind.PASSIVE  # x.shape[0]: shapes carry no gradient
    assert ops["m"].kind is Kind.PASSIVE  # comparisons carry no gradient
    assert ops["b"].kind is Kind.PASSIVE  # inactive: y is not differentiated
    assert copies.__name__ and by_name(copies, analysed(copies, "x").tree)["y"].kind is Kind.COPY


def test_calls_to_user_functions_are_differentiated_through_only_with_active_arguments():
    ops = by_name(with_call, analysed(with_call, "x").tree)
    assert ops["u"].kind is Kind.CALL and code(ops["u"].callee) == "helper"
    assert ops["w"].kind is Kind.PASSIVE


def test_saves_hold_only_what_the_rule_reads():
    ops = by_name(mixed, analysed(mixed, "x").tree)
    assert ops["d"].saves == ("d",)  # tanh's adjoint reads its result, not its input
    # d * y reads y for the gradient and d for its shape; d, saved by the line before
    # and unchanged since, is read from there rather than saved again
    assert ops["e"].saves == ("y",)
    assert [(n, facts(s).op) for n, s in ops["e"].shared] == [("d", ops["d"])]
    assert by_name(mixed, analysed(mixed).tree)["d"].saves == ()


def clipped(v):
    for _ in range(3):
        e = np.sum(v * v)
        if e > 1.0:
            v = v * np.sqrt(0.5 / e)
    return np.sum(v)


def test_a_branch_reads_what_its_block_saved_before_it_not_a_loop_step():
    """The ``if`` saves into the record of the step it is in: ``v``, saved by ``v * v``
    and unchanged since, is read from there rather than saved again."""
    loop = analysed(clipped, "v").tree.body[0]
    ops = [facts(s).op for s in walk_statements(loop.body) if facts(s).op]
    saving_v = [o for o in ops if "v" in o.saves]
    sharing_v = [o for o in ops if any(n == "v" for n, _ in o.shared)]
    assert len(saving_v) == 1 and saving_v[0].rule.name == "square"  # v * v
    assert len(sharing_v) == 1 and sharing_v[0].rule.name == "multiply"  # v * scale
    assert [facts(s).op for n, s in sharing_v[0].shared if n == "v"] == saving_v
    v = np.array([0.9, -0.8, 0.7])
    np.testing.assert_allclose(sd.grad(clipped)(v), numeric_grad(clipped, [v]), rtol=1e-6)


def test_activity_reaches_a_fixed_point_through_loops():
    r = analysed(late_activity, "x")
    assert {"a", "b"} <= r.analysis.active  # a depends on x only from the 2nd iteration


def test_loop_facts():
    tree = analysed(loops, "x").tree
    first, second, third = [s for s in tree.body if type(s).__name__ == "For"]
    assert not facts(first).loop.branching  # the same statements every iteration
    assert facts(second).loop.branching  # the if holds a differentiated statement
    assert not facts(third).loop.branching  # its if only counts: nothing to differentiate
    assert "s" in facts(first).loop.assigned and "t" in facts(second).loop.assigned
    assert len({facts(first).loop.index, facts(second).loop.index, facts(third).loop.index}) == 3


def test_branches_that_differentiate_nothing_are_not_recorded():
    from srcdiff.compiler.analyse import recorded
    from srcdiff.compiler.ir import Branch, walk_nodes

    program = analysed(loops, "x").analysis.program
    lines = {n.line: recorded(n) for n in walk_nodes(program) if isinstance(n, Branch)}
    first = loops.__code__.co_firstlineno
    assert lines[first + 6] is True  # if x[i] > 0: t = t + x[i]
    assert lines[first + 10] is False  # if i > 1: count = count + 1


def test_activity_in_practice_no_gradient_for_the_inactive_argument():
    g = sd.grad(mixed, wrt=0)
    g(np.array([0.5, -1.0]), np.array([2.0, 3.0]), 1)
    text = sd.source(g)
    assert "d_y" not in text and "d_b" not in text and "d_x" in text


@pytest.mark.parametrize("wrt", [("x",), ("y",), ("x", "y")])
def test_activity_matches_what_the_gradient_needs(wrt):
    r = analysed(mixed, *wrt)
    assert set(wrt) <= r.analysis.active
    for s in statements(r.tree):
        op = facts(s).op
        if op.kind in (Kind.RULE, Kind.CALL, Kind.COPY):
            assert op.target in r.analysis.active


def test_op_kinds_are_types_a_string_never_equals():
    """A kind compared with a string (a leftover of kinds as strings) fails loudly rather
    than be silently false."""
    assert Kind.RULE == Kind.RULE and Kind.RULE != Kind.CALL
    with pytest.raises(TypeError, match="Kind members"):
        _ = Kind.RULE == "rule"
    with pytest.raises(TypeError):
        _ = Kind.PASSIVE in ("passive", "overwrite")


def test_code_on_arrays_numbers_and_loop_counters_gets_no_operand_checks():
    """Parameters given arrays, globals holding numbers, counters of range() loops and
    what NumPy computes from them are plain: only values the compiler cannot see (an
    entry of a list, a callee's result) are checked where an operator meets them."""
    from bench.workloads import long_function

    g = sd.value_and_grad(long_function.objective, wrt=0)
    g(*long_function.arguments())
    assert "rt.operands" not in sd.source(g) and "rt.arguments" not in sd.source(g)

    def layers(params, x):
        for w in params:
            x = np.tanh(x @ w)
        return np.sum(x)

    g = sd.grad(layers)
    g([np.eye(2), np.eye(2)], np.ones(2))
    assert sd.source(g).count("rt.operands('@', x, w)") == 1


def test_a_number_read_back_from_text_under_no_grad_is_not_refused():
    """``float(s)`` of a differentiated value's text inside ``with sd.no_grad():`` asks
    for no gradient there (the block runs as written): it was refused as a number read
    back from text; its gradient is that of the function with the number held."""

    def f(x):
        s = str(x[0])
        with sd.no_grad():
            v = float(s)
        return np.sum(x * x) + v * x[1]

    x = np.array([0.7, 1.3])
    held = float(str(x[0]))
    got = sd.grad(f)(x)
    for eps in (1e-6, 1e-4):
        expected = numeric_grad(lambda y: np.sum(y * y) + held * y[1], [x], eps=eps)
        np.testing.assert_allclose(got, expected, rtol=1e-6)
