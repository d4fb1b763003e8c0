"""The front end leaves the program as typed IR: straight-line steps and structured
branches, loops, trys and no_grad blocks, each keeping its statement, user line and
position, in the order the back ends and ``walk_statements`` see them."""

from __future__ import annotations

import gast
import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler import pipeline
from srcdiff.compiler.ir import (
    Branch,
    Kind,
    LoopKind,
    NoGradBlock,
    Repeat,
    Step,
    StepKind,
    TryBlock,
    Visitor,
    blocks_of,
    facts,
    show_ir,
    walk_nodes,
)
from srcdiff.compiler.normalize import walk_statements


def branches(x, w):
    h = np.tanh(x @ w)
    if np.sum(h) > 0:
        h = h * 2.0
    else:
        h = h - 1.0
    return np.sum(h)


def nested_loops(x, w):
    h = x @ w
    for i in range(3):
        for j in range(2):
            h = h + np.sin(h) * (i + j)
    return np.sum(h)


def looping_while(x, w):
    h = x @ w
    k = 0
    while k < 3:
        h = h * 1.5
        k += 1
    return np.sum(h)


def trying(x, w):
    h = x @ w
    try:
        h = h / np.sum(h)
    except ZeroDivisionError as e:
        h = h + float(len(e.args))
    finally:
        h = h * 2.0
    return np.sum(h)


def without_grad(x, w):
    h = np.tanh(x @ w)
    with sd.no_grad():
        s = np.sum(h) + 1.0
        s = s * 2.0
    return np.sum(h) * s


BATTERY = [branches, nested_loops, looping_while, trying, without_grad]
KINDS = {"x": "array", "w": "array"}


def program_of(fn):
    return pipeline.front_end(fn, ("w",), KINDS, debug=False).analysis


@pytest.mark.parametrize("fn", BATTERY, ids=lambda f: f.__name__)
def test_the_ir_holds_every_statement_in_order_with_its_position(fn):
    analysis = program_of(fn)
    nodes = list(walk_nodes(analysis.program))
    assert [n.stmt for n in nodes] == list(walk_statements(analysis.fn.body))
    assert [n.pos for n in nodes] == list(range(1, len(nodes) + 1))
    for n in nodes:  # the last position inside a node: that of its last inner statement
        inner = [m.pos for b in blocks_of(n) for m in walk_nodes(b)]
        assert n.last == max(inner, default=n.pos)
    assert all(n.line == n.stmt.lineno for n in nodes)
    for n in nodes:
        if isinstance(n, Step):
            assert n.op is facts(n.stmt).op
    assert isinstance(analysis.program[-1], Step)
    assert analysis.program[-1].kind is StepKind.RETURN


def test_a_branch_holds_its_test_and_both_sides():
    (branch,) = [n for n in program_of(branches).program if isinstance(n, Branch)]
    assert isinstance(branch.stmt, gast.If) and branch.test is branch.stmt.test
    assert [type(n) for n in branch.body] == [Step, Step]
    assert [n.op.kind for n in branch.body] == [Kind.RULE, Kind.COPY]
    assert [n.op.kind for n in branch.orelse] == [Kind.RULE, Kind.COPY]
    assert branch.line == branches.__code__.co_firstlineno + 2  # the user's if
    assert branch.last == branch.orelse[-1].pos


def test_nested_loops_carry_their_header_and_loop_facts():
    (outer,) = [n for n in program_of(nested_loops).program if isinstance(n, Repeat)]
    (inner,) = [n for n in outer.body if isinstance(n, Repeat)]
    for loop in (outer, inner):
        assert loop.kind is LoopKind.FOR and loop.test is None
        assert loop.iter is loop.stmt.iter and loop.target is loop.stmt.target
        assert loop.loop is facts(loop.stmt).loop and loop.loop is not None
    assert outer.target.id == "i" and inner.target.id == "j"
    assert "h" in inner.loop.assigned and outer.loop.index != inner.loop.index
    assert outer.last == inner.last == inner.body[-1].pos


def test_a_while_loop_is_a_repeat_with_its_test():
    (loop,) = [n for n in program_of(looping_while).program if isinstance(n, Repeat)]
    assert loop.kind is LoopKind.WHILE and loop.target is None and loop.iter is None
    assert loop.test is loop.stmt.test
    # normalize turns the test into a break at the top of the body
    exits = [n for n in loop.body if isinstance(n, Branch)]
    assert [s.kind for s in exits[0].body] == [StepKind.BREAK]


def test_a_try_holds_its_clauses_and_finally_block():
    (attempt,) = [n for n in program_of(trying).program if isinstance(n, TryBlock)]
    assert isinstance(attempt.stmt, gast.Try)
    (clause,) = attempt.handlers
    assert clause.name == "e" and clause.type.id == "ZeroDivisionError"
    assert clause.body and all(isinstance(n, Step) for n in clause.body)
    assert attempt.finalbody and not attempt.orelse
    assert attempt.last == attempt.finalbody[-1].pos


def test_a_no_grad_block_is_one_opaque_node():
    analysis = program_of(without_grad)
    (block,) = [n for n in analysis.program if isinstance(n, NoGradBlock)]
    assert isinstance(block.stmt, gast.With) and facts(block.stmt).no_grad
    assert block.last == block.pos and "s" in facts(block.stmt).stores
    assert all(not isinstance(n.stmt, gast.With) or n is block
               for n in walk_nodes(analysis.program))  # fmt: skip


def test_the_visitor_dispatches_on_the_node_type():
    class Counting(Visitor[str]):
        def on_step(self, node, seen):
            seen.append("step")
            return "step"

        def on_branch(self, node, seen):
            seen.append("branch")
            return "branch"

        def on_repeat(self, node, seen):
            seen.append("repeat")
            return "repeat"

        def on_try(self, node, seen):
            seen.append("try")
            return "try"

        def on_no_grad(self, node, seen):
            seen.append("no_grad")
            return "no_grad"

    seen: list[str] = []
    visitor = Counting()
    for fn in BATTERY:
        for node in program_of(fn).program:
            assert visitor.visit(node, seen) == seen[-1]
    assert {"step", "branch", "repeat", "try", "no_grad"} <= set(seen)
    with pytest.raises(NotImplementedError):
        Visitor().visit(program_of(branches).program[0])


def test_debug_prints_the_ir(monkeypatch, capsys):
    monkeypatch.setenv("SRCDIFF_DEBUG", "1")
    sd.grad(trying, wrt=1)(np.ones((2, 3)), np.full(3, 0.1))
    err = capsys.readouterr().err
    shown = err.split("after IR\n", 1)[1].split("# ---- srcdiff", 1)[0]
    assert "try" in shown and "except ZeroDivisionError as e" in shown and "finally" in shown
    assert "# assign, rule" in shown and "# return, return" in shown


def test_the_influence_of_an_argument_stops_at_the_if_its_test_decides():
    from srcdiff.compiler.influence import influence

    def deciding(x, w):
        t = np.sum(w) > 0
        if t:
            y = x * 2.0
        else:
            y = x * 3.0
        return np.sum(y)

    found = influence(program_of(deciding), "w")
    line = deciding.__code__.co_firstlineno + 2
    assert not found.reaches
    assert [(s.line, s.source) for s in found.stops] == [(line, "if t:")]
    assert f"decide the if at line {line}" in found.stops[0].why


def test_recorded_operations_are_steps_with_facts_of_their_own(monkeypatch):
    """The eager front end makes a ``Step`` for each recorded operation with no gast
    statement behind it: its facts (``op``, ``sid``) are the step's own."""
    from srcdiff.compiler import eager

    programs = []

    class Seeing(eager._EagerAdjoint):
        def __init__(self, program, *args, **kwargs):
            programs.append(program)
            super().__init__(program, *args, **kwargs)

    monkeypatch.setattr(eager, "_EagerAdjoint", Seeing)
    monkeypatch.setattr(eager, "_PLANS", {})
    x = sd.tensor(np.array([0.3, -0.7]), requires_grad=True)
    (np.tanh(x) * 2.0).sum().backward()
    (program,) = programs
    steps = list(walk_nodes(program.program))
    assert [s.kind for s in steps] == [StepKind.ASSIGN] * 3 + [StepKind.RETURN]
    assert all(isinstance(s, Step) and s.stmt is None for s in steps)
    assert [facts(s).sid for s in steps[:-1]] == [1, 2, 3]
    assert [s.op.kind for s in steps] == [Kind.RULE] * 3 + [Kind.RETURN]
    assert steps[0].op is facts(steps[0]).op and steps[0].op.target == "t1"
    assert "t1 = tanh(x0)" in show_ir(program.program)
    np.testing.assert_allclose(x.grad.numpy(), 2.0 / np.cosh([0.3, -0.7]) ** 2)


def unpacking(x, w):
    h = x @ w
    a, b = h[0], h[1]
    for k, v in enumerate([a, b]):
        h = h + v * k
    try:
        h = h / np.sum(a)
    except ZeroDivisionError as e:
        h = h + float(len(e.args))
    with sd.no_grad():
        s = float(np.sum(h))
    return np.sum(h) * s


@pytest.mark.parametrize("fn", [*BATTERY, unpacking], ids=lambda f: f.__name__)
def test_the_analysis_scans_the_ir_for_the_values_names_are_given(fn):
    """The analysis reads what each name is given off the IR (``assigned_in``), as the
    stages before it read it off the tree: the same values, in the same order."""
    from srcdiff.compiler.analyse import assigned_in, assigned_on_tree

    analysis = program_of(fn)
    on_ir = assigned_in(walk_nodes(analysis.program))
    on_tree = assigned_on_tree(analysis.fn.body)
    assert list(on_ir) == list(on_tree)
    assert all(a == b for n in on_ir for a, b in zip(on_ir[n], on_tree[n], strict=True))
    assert on_ir["h"][0] is not None
    if fn is unpacking:  # a loop's variable and an except's name: bound otherwise
        assert on_ir["e"] == [None]
        assert any(vs == [None] for n, vs in on_ir.items() if n != "e")


def test_the_analysis_reads_no_scan_of_the_function_before_its_ir_is_made():
    from srcdiff.compiler.analyse import Analyser

    parsed = pipeline.parse(branches)
    analyser = Analyser(parsed, parsed.tree, {"w"})
    with pytest.raises(RuntimeError, match="IR is read before it is made"):
        analyser.assigned_values()
