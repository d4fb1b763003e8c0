"""Stage 6: tidy the adjoint.

Dead assignments go (a rule's temporaries whose gradient nobody asked for, saved values
nobody reads), and constant arithmetic that templates leave behind is folded
(``x ** (2 - 1)`` becomes ``x``; ``f(a) if 0.5 is not None else b`` becomes ``f(a)``).
"""

from __future__ import annotations

import operator

import gast

from .normalize import walk_statements

FOLD = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
        gast.Div: operator.truediv, gast.Pow: operator.pow}


def _number(value: object) -> gast.expr:
    """A folded number as an expression; a negative one as ``-(c)``, since a bare negative
    constant would unparse without the parentheses ``(-1.0) ** y`` needs."""
    if value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


def _constant_test(node: gast.expr) -> bool | None:
    """The truth of ``c is None`` / ``c is not None`` (a rule's test of an optional
    argument, once a constant is substituted for it), or None when it is not constant."""
    if not (isinstance(node, gast.Compare) and len(node.ops) == 1 and
            isinstance(node.ops[0], (gast.Is, gast.IsNot)) and
            isinstance(node.left, gast.Constant) and
            isinstance(node.comparators[0], gast.Constant) and
            node.comparators[0].value is None):
        return None
    same = node.left.value is None
    return same if isinstance(node.ops[0], gast.Is) else not same


class _Fold(gast.NodeTransformer):
    def visit_Compare(self, node: gast.Compare) -> gast.expr:
        self.generic_visit(node)
        truth = _constant_test(node)
        return node if truth is None else gast.Constant(value=truth, kind=None)

    def visit_IfExp(self, node: gast.IfExp) -> gast.expr:
        self.generic_visit(node)
        if isinstance(node.test, gast.Constant):
            return node.body if node.test.value else node.orelse
        return node

    def visit_BinOp(self, node: gast.BinOp) -> gast.expr:
        self.generic_visit(node)
        left, right = node.left, node.right
        numbers = (int, float)
        if isinstance(left, gast.Constant) and isinstance(right, gast.Constant) and \
                type(node.op) in FOLD and isinstance(left.value, numbers) and \
                isinstance(right.value, numbers) and not isinstance(left.value, bool):
            try:
                return _number(FOLD[type(node.op)](left.value, right.value))
            except (ArithmeticError, ValueError, TypeError):
                return node
        if isinstance(right, gast.Constant) and right.value == 1 and \
                type(right.value) in numbers and isinstance(node.op, (gast.Pow, gast.Mult)):
            return left
        return node


def fold_constants(fn: gast.FunctionDef) -> None:
    _Fold().visit(fn)


def _loads(fn: gast.FunctionDef) -> set[str]:
    return {n.id for n in gast.walk(fn) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _dead(stmt: gast.stmt, loads: set[str]) -> bool:
    if not isinstance(stmt, gast.Assign) or len(stmt.targets) != 1:
        return False
    target = stmt.targets[0]
    if isinstance(target, gast.Name) and isinstance(stmt.value, gast.Name) and \
            stmt.value.id == target.id:
        return True  # x = x
    if isinstance(target, gast.Name):
        return target.id not in loads
    if isinstance(target, gast.Tuple) and all(isinstance(e, gast.Name) for e in target.elts):
        return not any(e.id in loads for e in target.elts)
    return False


EFFECTS = {"call_vjp"}  # runtime helpers that change state: a callee's adjoint accumulates


def _has_effects(value: gast.expr) -> bool:
    return (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)
            and value.func.attr in EFFECTS)


def _at(stmt: gast.stmt, like: gast.stmt) -> gast.stmt:
    stmt.lineno = getattr(like, "lineno", None)
    return stmt


def _empty_loop(s: gast.stmt) -> bool:
    """A reversed loop whose body does nothing (its iterations touched no adjoint)."""
    return isinstance(s, gast.For) and all(
        isinstance(x, gast.Pass) or getattr(x, "comment", False) or _empty_loop(x)
        for x in s.body)


def _prune(body: list[gast.stmt], loads: set[str]) -> tuple[list[gast.stmt], bool]:
    out, changed = [], False
    for s in body:
        if _empty_loop(s):
            changed = True
            continue
        if _dead(s, loads):
            changed = True
            if _has_effects(s.value):
                out.append(_at(gast.Expr(value=s.value), s))
            continue
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if inner:
                new, sub_changed = _prune(inner, loads)
                setattr(s, field, new or [gast.Pass()])
                changed |= sub_changed
        out.append(s)
    return out, changed


def eliminate_dead(fn: gast.FunctionDef) -> None:
    """Drop assignments whose targets are never read, until none is left."""
    changed = True
    while changed:
        fn.body, changed = _prune(fn.body, _loads(fn))


def optimize(fn: gast.FunctionDef) -> gast.FunctionDef:
    fold_constants(fn)
    eliminate_dead(fn)
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Pass) and not hasattr(s, "lineno"):
            s.lineno = fn.lineno
    return fn
