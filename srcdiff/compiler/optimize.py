"""Stage 6: tidy the adjoint.

Dead assignments go (a rule's temporaries whose gradient nobody asked for, saved values
nobody reads), constant arithmetic that templates leave behind is folded
(``x ** (2 - 1)`` becomes ``x``; ``f(a) if 0.5 is not None else b`` becomes ``f(a)``),
and negations fold into the sums they feed (``d_v += -rt.unbroadcast(d, t) * 0.1``
becomes ``d_v -= rt.unbroadcast(d, t) * 0.1``: one array operation less). A temporary
read once folds into its reader where that spares an operation: a negation into a
constant factor, a reduction's spread gradient into the product that reads it.
"""

from __future__ import annotations

import copy
import math
import operator
import re
from collections.abc import Callable
from typing import Any

import gast

from ..runtime import tensor_methods
from .ir import facts
from .normalize import Transformer, blocks, rebuild_blocks, rt_helper, walk, walk_statements

FOLD = {
    gast.Add: operator.add,
    gast.Sub: operator.sub,
    gast.Mult: operator.mul,
    gast.Div: operator.truediv,
    gast.Pow: operator.pow,
}


def _number(value: object) -> gast.expr:
    """A folded number as an expression; a negative one as ``-(c)``, since a bare negative
    constant would unparse without the parentheses ``(-1.0) ** y`` needs."""
    if value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


def _constant_test(node: gast.expr) -> bool | None:
    """The truth of ``c is None`` / ``c is not None`` (a rule's test of an optional
    argument, once a constant is substituted for it), or None when it is not constant."""
    if not (
        isinstance(node, gast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], (gast.Is, gast.IsNot))
        and isinstance(node.left, gast.Constant)
        and isinstance(node.comparators[0], gast.Constant)
        and node.comparators[0].value is None
    ):
        return None
    same = node.left.value is None
    return same if isinstance(node.ops[0], gast.Is) else not same


class _Fold(Transformer):
    def visit_Compare(self, node: gast.Compare) -> gast.expr:
        self.generic_visit(node)
        truth = _constant_test(node)
        return node if truth is None else gast.Constant(value=truth, kind=None)

    def visit_BoolOp(self, node: gast.BoolOp) -> gast.expr:
        """Leading constants of ``and``/``or`` (a rule's ``axis is not None and ...`` once
        ``axis`` is known): one that decides gives the value, the others drop out."""
        self.generic_visit(node)
        deciding = isinstance(node.op, gast.Or)
        values = list(node.values)
        while len(values) > 1 and isinstance(values[0], gast.Constant):
            if bool(values[0].value) is deciding:
                return values[0]
            values.pop(0)
        if len(values) == 1:
            return values[0]
        node.values = values
        return node

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        self.generic_visit(node)
        if isinstance(node.test, gast.Constant):
            return node.body if node.test.value else node.orelse
        return node

    def visit_Call(self, node: gast.Call) -> gast.expr:
        """``rt.power_slope(x, c)`` of a number ``c``: ``c * x ** (c - 1)`` (the
        exponent's case of 0 is the helper's); ``rt.tensor_methods.axis(None)`` and the
        like of constants: their constant value."""
        self.generic_visit(node)
        f = node.func
        static = _static_helper(f)
        if static is not None and not node.keywords:
            if all(isinstance(a, gast.Constant) for a in node.args):
                value = static(*(a.value for a in node.args))
                if value is None or type(value) is int:
                    return gast.Constant(value=value, kind=None)
            return node
        if not (isinstance(f, gast.Attribute) and f.attr == "power_slope"
                and isinstance(f.value, gast.Name) and f.value.id == "rt"
                and len(node.args) == 2 and isinstance(node.args[1], gast.Constant)):  # fmt: skip
            return node
        c = node.args[1].value
        if isinstance(c, bool) or not isinstance(c, (int, float)) or c == 0:
            return node
        if c == 1:
            return gast.Constant(value=1, kind=None)
        power = gast.BinOp(left=node.args[0], op=gast.Pow(), right=_number(c - 1))
        return gast.BinOp(left=_number(c), op=gast.Mult(), right=self.visit_BinOp(power))

    def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
        self.generic_visit(node)
        left, right = node.left, node.right
        numbers = (int, float)
        if (
            isinstance(left, gast.Constant)
            and isinstance(right, gast.Constant)
            and type(node.op) in FOLD
            and isinstance(left.value, numbers)
            and isinstance(right.value, numbers)
            and not isinstance(left.value, bool)
        ):
            try:
                return _number(FOLD[type(node.op)](left.value, right.value))
            except (ArithmeticError, ValueError, TypeError):
                return node
        if (
            isinstance(right, gast.Constant)
            and right.value == 1
            and type(right.value) in numbers
            and isinstance(node.op, (gast.Pow, gast.Mult))
        ):
            return left
        return node


# helpers of rules that are functions of their arguments alone (PyTorch's dim and
# correction as NumPy's axis and ddof): called on constants, they are constants
STATIC = {"axis": tensor_methods.axis, "ddof": tensor_methods.ddof}


def _static_helper(f: gast.expr) -> Callable | None:
    """The function of ``rt.tensor_methods.<name>`` for a name in ``STATIC``."""
    if isinstance(f, gast.Attribute) and rt_helper(f.value) == "tensor_methods":
        return STATIC.get(f.attr)
    return None


def fold_constants(fn: gast.FunctionDef) -> None:
    _Fold().visit(fn)


def folded(node: gast.AST) -> gast.AST:
    """``node`` with its constant subexpressions folded (``x ** (2 - 1)`` is ``x``); for
    generated statements only: ``x * 1.0`` in the user's code makes a new array."""
    return _Fold().visit(node)


def _loads(fn: gast.FunctionDef) -> set[str]:
    return {n.id for n in walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _dead(stmt: gast.stmt, loads: set[str], ours: Callable[[str], bool] | None) -> bool:
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
        # ``d_a += d_b`` adds into an adjoint of its own, which nothing reads after
        return (ours is None or ours(stmt.target.id)) and stmt.target.id not in loads
    if not isinstance(stmt, gast.Assign) or len(stmt.targets) != 1:
        return False
    target = stmt.targets[0]
    if ours is not None and not all(ours(n.id) for n in walk(target) if isinstance(n, gast.Name)):
        return False  # a statement of the user's: it may raise, or change an object
    if (
        isinstance(target, gast.Name)
        and isinstance(stmt.value, gast.Name)
        and stmt.value.id == target.id
    ):
        return True  # x = x
    if isinstance(target, gast.Name):
        return target.id not in loads
    if isinstance(target, gast.Tuple) and all(isinstance(e, gast.Name) for e in target.elts):
        return not any(e.id in loads for e in target.elts)
    return False


EFFECTS = {"call_vjp"}  # runtime helpers that change state: a callee's adjoint accumulates


def _has_effects(value: gast.expr) -> bool:
    return (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr in EFFECTS
    )


def _at(stmt: gast.stmt, like: gast.stmt) -> gast.stmt:
    stmt.lineno = getattr(like, "lineno", None)
    return stmt


def _empty_loop(s: gast.stmt) -> bool:
    """A reversed loop whose body does nothing (its iterations touched no adjoint, on any
    path they took)."""
    return isinstance(s, gast.For) and all(map(_does_nothing, s.body))


def _does_nothing(s: gast.stmt) -> bool:
    """``pass``, a comment, an empty loop, or an ``if`` on the path taken (a comparison
    of names and constants) whose branches do nothing."""
    if isinstance(s, gast.Pass) or facts(s).comment or _empty_loop(s):
        return True
    return (
        isinstance(s, gast.If)
        and not any(isinstance(n, gast.Call) for n in walk(s.test))
        and all(map(_does_nothing, s.body + s.orelse))
    )


def _prune(body: list[gast.stmt], loads: set[str], ours: Callable[[str], bool] | None
           ) -> tuple[list[gast.stmt], bool]:  # fmt: skip
    out, changed = [], False
    for s in body:
        if _empty_loop(s):
            changed = True
            continue
        if isinstance(s, gast.If) and isinstance(s.test, gast.Constant):  # (folded)
            changed = True
            out += _prune(s.body if s.test.value else s.orelse, loads, ours)[0]
            continue
        if _dead(s, loads, ours):
            changed = True
            if _has_effects(s.value):
                out.append(_at(gast.Expr(value=s.value), s))
            continue
        if blocks(s):

            def pruned(inner: list[gast.stmt]) -> list[gast.stmt]:
                nonlocal changed
                new, sub_changed = _prune(inner, loads, ours)
                changed |= sub_changed
                return new or ([gast.Pass()] if inner else [])

            rebuild_blocks(s, pruned)
        out.append(s)
    return out, changed


def eliminate_dead(fn: gast.FunctionDef, ours: Callable[[str], bool] | None = None) -> None:
    """Drop assignments whose targets are never read, until none is left; with ``ours``,
    only those of names it says the back end made (not the user's statements it runs as
    they are: forward mode's primal)."""
    changed = True
    while changed:
        fn.body, changed = _prune(fn.body, _loads(fn), ours)


def _neg(e: gast.expr) -> bool:
    return isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub)


def _negate(e: gast.expr) -> gast.expr:
    return gast.UnaryOp(op=gast.USub(), operand=e)


LINEAR = {"unbroadcast", "unreduce", "reshape_like", "transpose_grad"}  # rt helpers, in g


class _PushNegation(Transformer):
    """Moves ``-`` outward through products and linear helpers, into sums."""

    def visit_UnaryOp(self, node: gast.UnaryOp) -> gast.expr:
        self.generic_visit(node)
        if _neg(node) and _neg(node.operand):
            return node.operand.operand
        return node

    def visit_Call(self, node: gast.Call) -> gast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.func, gast.Attribute)
            and node.func.attr in LINEAR
            and isinstance(node.func.value, gast.Name)
            and node.func.value.id == "rt"
            and node.args
            and _neg(node.args[0])
        ):
            node.args[0] = node.args[0].operand
            return _negate(node)
        return node

    def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
        self.generic_visit(node)
        left, right, op = node.left, node.right, node.op
        if isinstance(op, (gast.Mult, gast.Div)) and (_neg(left) or _neg(right)):
            if _neg(left) and _neg(right):
                return gast.BinOp(left=left.operand, op=op, right=right.operand)
            inner = gast.BinOp(
                left=left.operand if _neg(left) else left,
                op=op,
                right=right.operand if _neg(right) else right,
            )
            return _negate(inner)
        if isinstance(op, gast.Add) and _neg(right):
            return gast.BinOp(left=left, op=gast.Sub(), right=right.operand)
        if isinstance(op, gast.Add) and _neg(left):
            return gast.BinOp(left=right, op=gast.Sub(), right=left.operand)
        if isinstance(op, gast.Sub) and _neg(right):
            return gast.BinOp(left=left, op=gast.Add(), right=right.operand)
        return node

    def visit_AugAssign(self, node: gast.AugAssign) -> gast.stmt:
        self.generic_visit(node)
        if isinstance(node.op, (gast.Add, gast.Sub)) and _neg(node.value):
            node.op = gast.Sub() if isinstance(node.op, gast.Add) else gast.Add()
            node.value = node.value.operand
        return node


def _stores(node: gast.AST) -> set[str]:
    """Names a statement assigns or changes in place (``rt.index_add(d, ...)`` too)."""
    return _reads_and_stores(node)[1]


def _reads_and_stores(node: gast.AST) -> tuple[set[str], set[str]]:
    """The names a statement reads, and those it assigns or changes in place, in one walk."""
    reads, stores = set(), set()
    for n in walk(node):
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Store):
                stores.add(n.id)
            elif isinstance(n.ctx, gast.Load):
                reads.add(n.id)
        elif (
            isinstance(n, gast.Call)
            and isinstance(n.func, gast.Attribute)
            and n.func.attr == "index_add"
            and n.args
            and isinstance(n.args[0], gast.Name)
        ):
            stores.add(n.args[0].id)
    return reads, stores


TEMPORARY_ADJOINT = re.compile(r"d_t\d+")  # of a compiler temporary; a user's name stays


def _inline_negations(fn: gast.FunctionDef, escaping: set[str]) -> bool:
    """``t = -e`` read once, later in the same block, where no read of ``t`` anywhere
    depends on another block's ``t`` (``escaping``), and with nothing ``e`` reads changed
    in between: ``-e`` takes the place of ``t`` (so the negation can fold away)."""
    return _fold_temporaries(
        fn,
        lambda t, value: _neg(value) and TEMPORARY_ADJOINT.fullmatch(t) and t not in escaping,
        _inline_at,
    )


def _fold_temporaries(fn: gast.FunctionDef, wanted: Callable[[str, gast.expr], bool],
                      fold: Callable[[list, int, str, gast.expr], bool]) -> bool:  # fmt: skip
    """Offer each ``t = value`` of every block that ``wanted(t, value)`` to ``fold(block,
    i, t, value)``, which may remove it (folding it into a later statement); whether
    any was."""
    changed = False
    for block in _blocks(fn.body):
        i = 0
        while i < len(block):
            s = block[i]
            if (
                isinstance(s, gast.Assign)
                and len(s.targets) == 1
                and isinstance(s.targets[0], gast.Name)
                and wanted(s.targets[0].id, s.value)
                and fold(block, i, s.targets[0].id, s.value)
            ):
                changed = True
                continue
            i += 1
    return changed


def _escaping(body: list[gast.stmt]) -> set[str]:
    """Names read somewhere before their block assigns them (their value comes from
    another block: a loop's previous iteration, the code around it)."""
    out: set[str] = set()
    for block in _blocks(body):
        here: set[str] = set()
        for s in block:
            compound = isinstance(s, (gast.For, gast.While, gast.If, gast.Try))
            heads = (
                [getattr(s, f) for f in ("test", "iter") if hasattr(s, f)] if compound else [s]
            )  # a nested block is looked at on its own (a try's except types read no names
            # of the adjoint's)
            for h in heads:
                reads, stores = _reads_and_stores(h)
                out |= reads - here
                if not compound:
                    here |= stores
    return out


def _inline_at(block: list[gast.stmt], i: int, temp: str, value: gast.expr) -> bool:
    read = {n.id for n in walk(value) if isinstance(n, gast.Name)}
    for j in range(i + 1, len(block)):
        use = block[j]
        uses = [n for n in walk(use) if isinstance(n, gast.Name) and n.id == temp]
        if uses:
            rest = [
                n
                for later in block[j + 1 :]
                for n in walk(later)
                if isinstance(n, gast.Name) and n.id == temp
            ]
            if (
                len(uses) != 1
                or rest
                or temp in _stores(use)
                or isinstance(use, (gast.For, gast.While, gast.If, gast.Try, gast.Return))
            ):
                return False
            new = copy.deepcopy(use)
            for node in walk(new):
                for field, child in gast.iter_fields(node):
                    if isinstance(child, gast.Name) and child.id == temp:
                        setattr(node, field, copy.deepcopy(value))
                    elif isinstance(child, list):
                        child[:] = [
                            copy.deepcopy(value) if isinstance(c, gast.Name) and c.id == temp else c
                            for c in child
                        ]
            new = _PushNegation().visit(new)
            if _negations(new) >= _negations(use) + _negations(value):
                return False  # the sign would only move: keep the readable temporary
            block[j] = new
            del block[i]
            return True
        if _stores(use) & read:
            return False
    return False


def _negations(node: gast.AST) -> int:
    return sum(_neg(n) for n in walk(node))


def _blocks(body: list[gast.stmt]):
    yield body
    for s in body:
        for inner in blocks(s):
            if inner:
                yield from _blocks(inner)


def fold_negations(fn: gast.FunctionDef) -> None:
    push = _PushNegation()
    for s in walk_statements(fn.body):  # those holding a negation (most hold none)
        if not blocks(s) and any(_neg(n) for n in walk(s)):
            push.visit(s)
    # inlining never makes a name escape (what ``e`` reads is unchanged up to its new
    # place), so the names escaping before the first round hold for every round
    # (each inlined statement has its negations pushed out as it is made)
    escaping = _escaping(fn.body)
    while _inline_negations(fn, escaping):
        pass


RECORDS = re.compile(r"_saved(_\d+)?|_s\d+(_\d+)?")  # what primals save into (Names.reserve)


def _reload(s: gast.stmt) -> tuple | None:
    """A key of ``s`` if it loads saved values (``h = _saved[2]``, ``t5, t6 = _s1[5]``,
    ``x = _saved[1][0]``): equal for the same load; else None."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1):
        return None
    value = s.value
    while isinstance(value, gast.Subscript):
        value = value.value
    if not (isinstance(value, gast.Name) and RECORDS.fullmatch(value.id)):
        return None
    if value is s.value:
        return None
    return _key(s.targets[0]), _key(s.value)


def _key(e: gast.expr) -> Any:
    """A hashable key equal for equal expressions (as ``gast.dump`` is, but cheaper for
    the names, constants, tuples and subscripts that loads are made of)."""
    if isinstance(e, gast.Name):
        return e.id
    if isinstance(e, gast.Constant):
        return type(e.value).__name__, e.value
    if isinstance(e, (gast.Tuple, gast.List)):
        return type(e).__name__, *map(_key, e.elts)
    if isinstance(e, gast.Subscript):
        return "[]", _key(e.value), _key(e.slice)
    return gast.dump(e)


def drop_reloads(body: list[gast.stmt]) -> None:
    """Drop a load of saved values that repeats one earlier in the same block, with none
    of its names (nor the record it reads) given a value in between: each adjoint of a
    statement loads what it reads, and neighbours often read the same."""
    loaded: dict[tuple, set[str]] = {}  # the key of a load, and the names it involves
    kept = []
    for s in body:
        key = _reload(s)
        if key is not None and key in loaded:
            continue
        for inner in blocks(s):
            drop_reloads(inner)
        if loaded:
            stored = _stores(s)
            for t in [t for t, names in loaded.items() if names & stored]:
                del loaded[t]
        if key is not None:
            loaded[key] = {n.id for n in walk(s) if isinstance(n, gast.Name)}
        kept.append(s)
    body[:] = kept


def _negated(e: gast.expr) -> gast.expr | None:
    """``-e`` with no operation of its own: a product's (or quotient's) constant factor
    negated, or a negation dropped; None where it would cost one."""
    if _neg(e):
        return e.operand
    if isinstance(e, gast.Constant) and type(e.value) in (int, float) and e.value:
        return gast.Constant(value=-e.value, kind=None)  # (only as a factor: see below)
    if _unreduced(e, "unreduce_times"):  # linear in its factor
        factor = _negated(e.args[4])
        return None if factor is None else gast.Call(e.func, [*e.args[:4], factor], [])
    if _unreduced(e, "unreduce_times", scaled=True):  # and in its scale, a power of two
        scale = _negated(e.args[5])
        return None if scale is None else gast.Call(e.func, [*e.args[:5], scale], [])
    if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Mult, gast.Div)):
        for side in ("left", "right"):
            inner = _negated(getattr(e, side))
            if inner is not None:
                other = "right" if side == "left" else "left"
                return gast.BinOp(**{side: inner, other: getattr(e, other)}, op=e.op)
    return None


def _unreduced(e: gast.expr, helper: str = "unreduce", scaled: bool = False) -> bool:
    """``rt.unreduce(g, x, axis, keepdims)``, a reduction's gradient spread back (or
    ``rt.unreduce_times(g, x, axis, keepdims, factor)``, that times a factor; ``scaled``:
    and a constant scale after it)."""
    return (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and e.func.attr == helper
        and isinstance(e.func.value, gast.Name)
        and e.func.value.id == "rt"
        and len(e.args) == (4 if helper == "unreduce" else 5) + scaled
        and not e.keywords
    )


def _fold_into(value: gast.expr, use: gast.AST, parent: gast.AST) -> gast.expr | None:
    """What replaces ``parent``, the expression around the only read ``use`` of a
    temporary whose value is ``value``, so that the temporary goes with an operation
    less; None where there is nothing to gain."""
    if _neg(parent):  # t = a * (2 * b); ... -t ...: a * (-2 * b)
        return _negated(value)
    if isinstance(parent, gast.BinOp) and isinstance(parent.op, gast.Mult) and _unreduced(value):
        factor = parent.right if parent.left is use else parent.left
        if isinstance(factor, gast.Constant) or _neg(factor):
            return None  # a number: the product is an array of x's shape only with g spread
        func = gast.Attribute(value=gast.Name("rt", gast.Load(), None, None), attr="unreduce_times",
                              ctx=gast.Load())  # fmt: skip
        if isinstance(factor, gast.BinOp) and isinstance(factor.op, gast.Mult) and _power_of_two(
                factor.left):  # fmt: skip
            # (2 * t): the 2 may scale the reduced g instead (see rt.unreduce_times)
            return gast.Call(func=func, args=[*value.args, factor.right, factor.left],
                             keywords=[])  # fmt: skip
        return gast.Call(func=func, args=[*value.args, factor], keywords=[])
    return None


def _power_of_two(e: gast.expr) -> bool:
    """A constant power of two from 1/1024 to 1024 (2, 0.5, 4.0): a product with it is
    exact, where it neither overflows nor underflows."""
    if not (isinstance(e, gast.Constant) and type(e.value) in (int, float)):
        return False
    return 2.0**-10 <= e.value <= 2.0**10 and math.frexp(e.value)[0] == 0.5


def fold_single_uses(fn: gast.FunctionDef) -> None:
    """Fold an adjoint's temporary into its only read, later in its block, where that
    spares an array operation: a negation into a constant factor (``-(d * (2 * t))`` is
    ``d * (-2 * t)``), and a reduction's spread gradient into the product that reads it
    (``rt.unreduce(g, x, None, False) * (2 * t)`` is ``rt.unreduce_times(g, x, None,
    False, 2 * t)``, without the array of copies of ``g``)."""
    reads: dict[str, int] = {}
    stores: dict[str, int] = {}
    negated: set[str] = set()  # the names read as -name
    for n in walk(fn):
        if isinstance(n, gast.Name):
            counts = stores if isinstance(n.ctx, gast.Store) else reads
            counts[n.id] = counts.get(n.id, 0) + 1
        elif _neg(n) and isinstance(n.operand, gast.Name):
            negated.add(n.operand.id)

    def wanted(t: str, value: gast.expr) -> bool:  # read once, and worth a look
        return (t.startswith("d_") and reads.get(t) == 1 and stores.get(t) == 1
                and (_unreduced(value) or t in negated))  # fmt: skip

    _fold_temporaries(fn, wanted, _fold_later)


def _fold_later(block: list[gast.stmt], i: int, temp: str, value: gast.expr) -> bool:
    """Fold ``temp = value`` (``block[i]``) into the statement of ``block`` that reads
    ``temp``, if nothing ``value`` reads changes before it; whether it did."""
    read = {n.id for n in walk(value) if isinstance(n, gast.Name)}
    for j in range(i + 1, len(block)):
        use = block[j]
        if isinstance(use, (gast.For, gast.While, gast.If, gast.Try)) or blocks(use):
            return False
        for parent in walk(use):
            for _, child in gast.iter_fields(parent):
                if isinstance(child, gast.Name) and child.id == temp:
                    new = _fold_into(value, child, parent)
                    if new is None:
                        return False
                    holder = _parent_of(use, parent)
                    if holder is None:
                        return False
                    _replace(holder, parent, new)
                    del block[i]
                    return True
        if _stores(use) & read:
            return False
    return False


def _parent_of(root: gast.AST, node: gast.AST) -> gast.AST | None:
    for parent in walk(root):
        for _, child in gast.iter_fields(parent):
            if child is node or (isinstance(child, list) and any(c is node for c in child)):
                return parent
    return None


def _replace(holder: gast.AST, old: gast.AST, new: gast.AST) -> None:
    for field, child in gast.iter_fields(holder):
        if child is old:
            setattr(holder, field, new)
        elif isinstance(child, list):
            child[:] = [new if c is old else c for c in child]


def inline_constants(fn: gast.FunctionDef) -> bool:
    """Put a constant given to a name once (``axis1 = None``, a rule's local of an
    argument left out) where the name is read, and drop the assignment; whether any."""
    stores: dict[str, int] = {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    constants = {
        s.targets[0].id: s.value
        for s in walk_statements(fn.body)
        if isinstance(s, gast.Assign)
        and len(s.targets) == 1
        and isinstance(s.targets[0], gast.Name)
        and stores.get(s.targets[0].id) == 1
        and isinstance(s.value, gast.Constant)
        and type(s.value.value) in (type(None), bool, int, float)
    }
    if not constants:
        return False

    class Inline(Transformer):
        def visit_Name(self, node: gast.Name) -> gast.expr:
            if isinstance(node.ctx, gast.Load) and node.id in constants:
                return gast.Constant(value=constants[node.id].value, kind=None)
            return node

    Inline().visit(fn)
    given = {id(s) for s in walk_statements(fn.body) if isinstance(s, gast.Assign)
             and isinstance(s.targets[0], gast.Name) and s.targets[0].id in constants}  # fmt: skip
    for block in _blocks(fn.body):
        block[:] = [s for s in block if id(s) not in given] or [gast.Pass()]
    return True


def optimize(fn: gast.FunctionDef) -> gast.FunctionDef:
    fold_constants(fn)
    if inline_constants(fn):
        fold_constants(fn)
    eliminate_dead(fn)
    drop_reloads(fn.body)
    eliminate_dead_stores(fn)
    fold_negations(fn)
    fold_single_uses(fn)
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Pass) and not hasattr(s, "lineno"):
            s.lineno = fn.lineno
    return fn


def _bound_names(target: gast.expr) -> list[str] | None:
    """The names a plain target binds (``x``, ``a, b``); None for any other target."""
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, gast.Tuple) and all(isinstance(e, gast.Name) for e in target.elts):
        return [e.id for e in target.elts]
    return None


def _reads(node: gast.AST) -> set[str]:
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


class _Liveness:
    """Backward liveness over a generated function (if, for, while, break, continue,
    return; a try or a with read as a whole): the names each plain assignment binds that
    no statement may read before they are bound again."""

    def __init__(self) -> None:
        self.dead: dict[int, set[str]] = {}
        self.loops: list[tuple[set[str], set[str]]] = []  # live at the head, after the loop
        self.final = True
        self.read: dict[int, set[str]] = {}  # (no node changes while a pass runs)

    def reads(self, node: gast.AST) -> set[str]:
        """``_reads(node)``, walked once a pass (a loop's body is walked to a fixed point);
        never changed in place."""
        found = self.read.get(id(node))
        if found is None:
            found = self.read[id(node)] = _reads(node)
        return found

    def block(self, body: list[gast.stmt], live: set[str]) -> set[str]:
        for s in reversed(body):
            live = self.stmt(s, live)
        return live

    def stmt(self, s: gast.stmt, live: set[str]) -> set[str]:
        if isinstance(s, gast.Return):
            return self.reads(s.value) if s.value is not None else set()
        if isinstance(s, gast.Break):
            return set(self.loops[-1][1])
        if isinstance(s, gast.Continue):
            return set(self.loops[-1][0])
        if isinstance(s, gast.If):
            return self.reads(s.test) | self.block(s.body, live) | self.block(s.orelse, live)
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, live)
        if isinstance(s, gast.Assign) and len(s.targets) == 1:
            bound = _bound_names(s.targets[0])
            if bound is not None:
                dead = {n for n in bound if n not in live}
                if dead and self.final:
                    self.dead[id(s)] = dead
                return (live - set(bound)) | self.reads(s.value)
        if isinstance(s, gast.AugAssign):  # ``d_w += v`` reads d_w (and adds into its array)
            return live | self.reads(s) | _stores(s.target)
        deleted = {
            n.id for n in walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Del)
        }
        return live | self.reads(s) | deleted  # (read as a whole: nothing in it is judged)

    def loop(self, s: gast.For | gast.While, after: set[str]) -> set[str]:
        done = self.block(s.orelse, after) if s.orelse else after
        if isinstance(s, gast.For):
            entry, each, bound = self.reads(s.iter), self.reads(s.target), _stores(s.target)
        else:
            entry, each, bound = set(), self.reads(s.test), set()
        final, self.final = self.final, False
        head = done | each
        while True:  # live at the head, to a fixed point
            self.loops.append((head, after))
            body = self.block(s.body, head)
            self.loops.pop()
            new = head | (body - bound) | each
            if new == head:
                break
            head = new
        self.final = final
        self.loops.append((head, after))
        self.block(s.body, head)
        self.loops.pop()
        return head | entry


def eliminate_dead_stores(fn: gast.FunctionDef, ours: Callable[[str], bool] | None = None
                          ) -> None:  # fmt: skip
    """Drop what a generated function assigns and nothing reads before it is assigned
    again (``x = _saved[1][0]`` before ``x, t1 = _saved[1]``), where ``eliminate_dead``
    sees only names read nowhere: a dead load goes, a dead name of a tuple loaded from
    the saved values is left out of the load, one a call returns becomes ``_``. With
    ``ours``, only names it says the back end made."""
    nested = [n for n in walk(fn) if isinstance(n, (gast.FunctionDef, gast.Lambda))][1:]
    pinned = {x for n in nested for x in _reads(n)}  # (a closure reads them when called)
    pinned |= {x for n in walk(fn) if isinstance(n, (gast.Global, gast.Nonlocal)) for x in n.names}
    underscore = "_" not in _reads(fn) and "_" not in pinned
    for _ in range(8):
        liveness = _Liveness()
        liveness.block(fn.body, set())
        edits = {}
        for key, dead in liveness.dead.items():
            dead = {n for n in dead if n not in pinned and (ours is None or ours(n))}
            if dead:
                edits[key] = dead
        if not edits or not _apply_dead(fn.body, edits, underscore):
            return


def _apply_dead(body: list[gast.stmt], edits: dict[int, set[str]], underscore: bool) -> bool:
    changed = False
    out = []
    for s in body:
        dead = edits.get(id(s))
        if dead is not None:
            new = _without(s, dead, underscore)
            if new is not s:
                changed = True
                if new is not None:
                    out.append(new)
                continue
        for inner in blocks(s):
            changed |= _apply_dead(inner, edits, underscore)
        out.append(s)
    body[:] = out or [gast.Pass()]
    return changed


def _saved_load(value: gast.expr) -> bool:
    """``_saved[2]``, ``_s1[5]``, ``_saved[1][0]``: a read of saved values."""
    while isinstance(value, gast.Subscript):
        value = value.value
    return isinstance(value, gast.Name) and bool(RECORDS.fullmatch(value.id))


def _without(s: gast.Assign, dead: set[str], underscore: bool) -> gast.stmt | None:
    """``s`` without binding the names of ``dead``: None where nothing of it is left,
    ``s`` itself where it cannot go without them."""
    target, value = s.targets[0], s.value
    names = [target] if isinstance(target, gast.Name) else target.elts
    live = [i for i, e in enumerate(names) if e.id not in dead]
    if not live:
        return _at(gast.Expr(value=value), s) if _has_effects(value) else None
    if _saved_load(value) and len(live) == 1:
        (i,) = live
        part = gast.Subscript(value=value, slice=gast.Constant(value=i, kind=None),
                              ctx=gast.Load())  # fmt: skip
        return _at(gast.Assign(targets=[names[i]], value=part, type_comment=None), s)
    if not underscore:
        return s
    for e in names:
        if e.id in dead:
            e.id = "_"
    return s
