"""Stage 2: A-normal form, one operation per statement, each on the user's line."""

from __future__ import annotations

import types

import gast
import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler.ir import facts
from srcdiff.compiler.normalize import OPAQUE, local_names

from . import functions  # noqa: F401  (fills CASES)
from .cases import CASES
from .pipeline import body_lines, normalized, statements


def two_ops(a, b, c):
    y = a * b + c
    return y


def augmented(x, y):
    x += y
    x *= 2.0
    return x


def augmented_item(h, i, v):
    h[i] += v
    return h


def while_loop(x):
    s = 0.0
    while s < 10.0:
        s = s + x
    return s


def nested_calls(x, w):
    return np.sum(np.tanh(x @ w))


def conditional_expression(x):
    y = x * 2.0 if x > 0 else -x
    return y


def loop_over_rows(m):
    s = 0.0
    for row in m:
        s = s + row
    return s


def loop_enumerate_zip(xs, ys):
    s = 0.0
    for i, (a, b) in enumerate(zip(xs, ys)):  # noqa: B905
        s = s + i * a * b
    return s


def loop_reversed(xs):
    s = 0.0
    for v in reversed(xs):
        s = s * 2.0 + v
    return s


def swap(a, b):
    a, b = b, a
    return a - b


def lists_unpacked_from_a_display(x):
    hs, cs = [], [x]
    for i in range(3):
        hs.append(x * i)
    (a, b), c = (x, [x * 2.0]), [1.0]
    b.append(a)
    kept = 0.0 if c == [1.0] and isinstance(b, list) else 100.0  # (a tuple: 100)
    return np.sum(np.stack(hs)) + np.sum(np.stack(cs)) + np.sum(np.stack(b)) + kept * np.sum(x)


def unpack_call(x):
    u, v = divmod(x, 3.0)
    return u + v


def user_names_like_temporaries(x):
    t1 = x * 2.0
    t2 = t1 + x * 3.0
    return t2


def docstring_and_pass(x):
    """Documentation."""
    pass
    return x


def chained_targets(x):
    a = b = x * 2.0
    return a + b


# fmt: off
def multi_line_statement(x):
    y = (x
         * 2.0
         + 1.0)
    return y
# fmt: on


def test_an_expression_with_two_operations_becomes_two_statements():
    assert body_lines(normalized(two_ops)) == ["t1 = a * b", "y = t1 + c", "return y"]


def test_augmented_assignment_is_made_explicit():
    assert body_lines(normalized(augmented)) == [
        "t1 = x + y",
        "t2 = rt.augmented(x, t1)",
        "x = t2",
        "t3 = x * 2.0",
        "t4 = rt.augmented(x, t3)",
        "x = t4",
        "return x",
    ]


def test_augmented_item_assignment_reads_then_writes():
    """The entry read is updated in place, as Python updates an array held in a list
    (``mutation.entry_updates`` keeps that only where ``h`` is a list or dict), keeping
    its dtype (``rt.augmented``), then written back."""
    tree = normalized(augmented_item)
    assert body_lines(tree) == [
        "t1 = h[i]", "t2 = t1 + v", "t3 = rt.augmented(t1, t2)", "t1 = t3", "h[i] = t1",
        "return h",
    ]  # fmt: skip
    assert facts(tree.body[3]).inplace and facts(tree.body[3]).entry_of == "h"


def test_while_becomes_while_true_with_a_break():
    tree = normalized(while_loop)
    loop = next(s for s in tree.body if isinstance(s, gast.While))
    assert isinstance(loop.test, gast.Constant) and loop.test.value is True
    head = [s for s in loop.body[:3]]
    assert body_lines(tree)[1:6] == [
        "while True:",
        "t1 = s < 10.0",
        "t2 = not t1",
        "if t2:",
        "break",
    ]
    stop = head[2]
    assert isinstance(stop, gast.If) and isinstance(stop.body[0], gast.Break)


def test_nested_calls_are_flattened_in_evaluation_order():
    assert body_lines(normalized(nested_calls)) == [
        "t1 = x @ w",
        "t2 = np.tanh(t1)",
        "t3 = np.sum(t2)",
        "return t3",
    ]


def test_conditional_expressions_become_if_statements():
    lines = body_lines(normalized(conditional_expression))
    assert lines[:2] == ["t2 = x > 0", "if t2:"]
    assert "t1 = x * 2.0" in lines and "t1 = -x" in lines and "y = t1" in lines


def test_loops_over_sequences_index_them():
    """Through rt.iterable, which passes arrays and lists and gives a dict's keys."""
    assert body_lines(normalized(loop_over_rows)) == [
        "s = 0.0",
        "t1 = rt.iterable(m)",
        "t2 = len(t1)",
        "for i1 in range(t2):",
        "row = t1[i1]",
        "t3 = s + row",
        "s = t3",
        "return s",
    ]


def test_enumerate_and_zip_bind_each_target_name_directly():
    lines = body_lines(normalized(loop_enumerate_zip))
    assert "for i1 in range(t5):" in lines
    assert lines[lines.index("for i1 in range(t5):") + 1 :][:3] == [
        "i = i1",
        "a = t1[i1]",
        "b = t2[i1]",
    ]


def test_reversed_loops_count_down():
    lines = body_lines(normalized(loop_reversed))
    assert "for i1 in range(t3, -1, -1):" in lines
    assert "v = t1[i1]" in lines


def test_tuple_unpacking_of_a_display_copies_names_it_overwrites():
    assert body_lines(normalized(swap)) == [
        "t1 = b",
        "t2 = a",
        "a = t1",
        "b = t2",
        "t3 = a - b",
        "return t3",
    ]


def test_lists_unpacked_from_a_display_stay_lists():
    """``hs, cs = [], [x]`` gives each name a list (one it may append to, equal to a
    list), not a tuple: the gradient is the one Python's lists give."""
    assert body_lines(normalized(lists_unpacked_from_a_display))[:4] == [
        "t1 = []",
        "hs = t1",
        "t2 = [x]",
        "cs = t2",
    ]
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(sd.grad(lists_unpacked_from_a_display)(x), [7.0, 7.0])


def test_unpacking_a_value_indexes_what_its_iteration_gives():
    assert body_lines(normalized(unpack_call)) == [
        "t1 = divmod(x, 3.0)",
        "t2 = rt.unpacked(t1, 2)",
        "u = t2[0]",
        "v = t2[1]",
        "t3 = u + v",
        "return t3",
    ]


def test_fresh_names_never_collide_with_the_users():
    lines = body_lines(normalized(user_names_like_temporaries))
    assert lines == ["t1 = x * 2.0", "t3 = x * 3.0", "t2 = t1 + t3", "return t2"]


def test_docstrings_and_pass_disappear():
    assert body_lines(normalized(docstring_and_pass)) == ["return x"]


def test_chained_targets_share_one_value():
    assert body_lines(normalized(chained_targets)) == [
        "t1 = x * 2.0",
        "a = t1",
        "b = t1",
        "t2 = a + b",
        "return t2",
    ]


@pytest.mark.parametrize(
    "fn",
    [
        two_ops,
        augmented,
        while_loop,
        nested_calls,
        conditional_expression,
        loop_over_rows,
        loop_enumerate_zip,
        multi_line_statement,
    ],
)
def test_every_statement_keeps_the_line_of_the_user_statement_it_comes_from(fn):
    import inspect

    lines, first = inspect.getsourcelines(fn)
    starts = {}
    for node in gast.walk(gast.parse("".join(lines))):
        if isinstance(node, gast.stmt) and not isinstance(node, gast.FunctionDef):
            starts[node.lineno + first - 1] = node
    for s in statements(normalized(fn)):
        assert s.lineno in starts, f"line {s.lineno} is not the first line of a statement"


def test_multi_line_statements_take_their_first_line():
    tree = normalized(multi_line_statement)
    first = multi_line_statement.__code__.co_firstlineno
    assert {s.lineno for s in statements(tree)} == {first + 1, first + 4}


# ---- the A-normal form invariant, on every function of the battery -------------------------


class Form:
    """Checks the statement forms the normalize module docstring promises."""

    def __init__(self, fn: types.FunctionType, tree: gast.FunctionDef):
        self.fn = fn
        self.locals = local_names(tree)

    def module_path(self, e: gast.expr) -> bool:
        while isinstance(e, gast.Attribute):
            e = e.value
        return (
            isinstance(e, gast.Name)
            and e.id not in self.locals
            and isinstance(self.fn.__globals__.get(e.id), types.ModuleType)
        )

    def atom(self, e: gast.expr | None) -> bool:
        return isinstance(e, (gast.Name, gast.Constant)) or self.module_path(e)

    def index(self, e: gast.expr) -> bool:
        if isinstance(e, gast.Slice):
            return all(p is None or self.atom(p) for p in (e.lower, e.upper, e.step))
        if isinstance(e, gast.Tuple):
            return all(self.index(x) for x in e.elts)
        return self.atom(e)

    def operation(self, e: gast.expr) -> bool:
        if self.atom(e) or isinstance(e, OPAQUE):
            return True
        if isinstance(e, gast.BinOp):
            return self.atom(e.left) and self.atom(e.right)
        if isinstance(e, gast.UnaryOp):
            return self.atom(e.operand)
        if isinstance(e, gast.Compare):
            return len(e.ops) > 1 or (self.atom(e.left) and self.atom(e.comparators[0]))
        if isinstance(e, gast.Call):
            func = e.func
            callee = self.atom(func) or (isinstance(func, gast.Attribute) and self.atom(func.value))
            return (
                callee
                and all(self.atom(a.value if isinstance(a, gast.Starred) else a) for a in e.args)
                and sum(isinstance(a, gast.Starred) for a in e.args) <= 1  # (one ``*a``)
                and all(self.atom(k.value) for k in e.keywords)
            )
        if isinstance(e, gast.Attribute):
            return self.atom(e.value)
        if isinstance(e, gast.Subscript):
            return self.atom(e.value) and self.index(e.slice)
        if isinstance(e, (gast.Tuple, gast.List)):
            return all(self.atom(x) for x in e.elts)
        if isinstance(e, gast.Dict):
            return all(self.atom(x) for x in e.keys + e.values)
        return False

    def check(self, s: gast.stmt) -> str | None:
        """None when ``s`` has one of the allowed forms, else what is wrong."""
        if isinstance(s, gast.Assign):
            if len(s.targets) != 1:
                return "several targets"
            target = s.targets[0]
            if isinstance(target, gast.Name):
                if not self.operation(s.value):
                    return "more than one operation"
                reads = {n.id for n in gast.walk(s.value) if isinstance(n, gast.Name)}
                if target.id in reads and not isinstance(s.value, OPAQUE):
                    return "the target is read by its own value"
                return None
            if isinstance(target, gast.Subscript):
                ok = self.atom(target.value) and self.index(target.slice)
                return None if ok and self.atom(s.value) else "a store of a non-atom"
            if isinstance(target, gast.Attribute):
                return None if self.atom(target.value) and self.atom(s.value) else "a store"
            return f"a {type(target).__name__} target"
        if isinstance(s, gast.Expr):
            return (
                None
                if isinstance(s.value, (gast.Call, *OPAQUE)) and self.operation(s.value)
                else "an expression statement"
            )
        if isinstance(s, gast.If):
            return None if self.atom(s.test) else "an if on a non-atom"
        if isinstance(s, gast.For):
            it = s.iter
            ok = (
                isinstance(s.target, gast.Name)
                and isinstance(it, gast.Call)
                and isinstance(it.func, gast.Name)
                and it.func.id == "range"
                and all(self.atom(a) for a in it.args)
            )
            return None if ok else "a for loop not over range(atoms)"
        if isinstance(s, gast.While):
            ok = isinstance(s.test, gast.Constant) and s.test.value is True
            return None if ok else "a while loop with a test"
        if isinstance(s, gast.Return):
            return None if self.atom(s.value) else "a return of a non-atom"
        if isinstance(s, gast.Assert):
            return None if self.atom(s.test) else "an assert on a non-atom"
        if isinstance(s, (gast.Break, gast.Continue, gast.Raise)):
            return None
        if isinstance(s, gast.Try):  # its blocks are checked statement by statement
            return None if s.body and (s.handlers or s.finalbody) else "an empty try"
        return f"a {type(s).__name__} statement"


@pytest.mark.parametrize("fn", [c.fn for c in CASES], ids=[c.name for c in CASES])
def test_battery_functions_normalize_to_the_documented_forms(fn):
    tree = normalized(fn)
    form = Form(fn, tree)
    for s in statements(tree):
        problem = form.check(s)
        assert problem is None, f"line {s.lineno}: {problem}: {gast.dump(s)[:200]}"
        assert isinstance(getattr(s, "lineno", None), int)
