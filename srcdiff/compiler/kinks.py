"""Kink and branch checks in a primal (``sd.grad(f, warn_kinks=eps)``): after each
comparison of differentiated values (the test of an ``if``, a ``while``, a conditional
expression, an ``np.where`` mask), each primitive with a kink (``np.maximum``, ``abs``,
``np.clip``, ``np.max``, builtin ``max``, ``np.sort``, ...) and each whose value jumps
(``np.floor``, ``np.round``, ``np.sign``, ``//``, ``%``, ...), a call of an ``rt.near_*``
helper that measures how far this call's values are from the switch, naming the user's
line and expression. It makes another traced primal, so that calls without it cost
nothing."""

from __future__ import annotations

import ast
import builtins
import copy
import math
from collections import Counter

import gast
import numpy as np

from .ir import Analysis, Kind, Op, facts, hashable
from .normalize import Names, all_names, const, rebuild_blocks, walk
from .trace import PathPrimal, PrimalBuilder, attr, call

COMPARISONS = {
    gast.Lt: "<",
    gast.LtE: "<=",
    gast.Gt: ">",
    gast.GtE: ">=",
    gast.Eq: "==",
    gast.NotEq: "!=",
}
# rule name -> the helper measuring its margin, and the positions of the operands it takes
KINKED = {
    "maximum": ("near_tie", (0, 1)),
    "minimum": ("near_tie", (0, 1)),
    "absolute": ("near_zero", (0,)),
    "fabs": ("near_zero", (0,)),
    "relu": ("near_zero", (0,)),
    "clip": ("near_bounds", (0, 1, 2)),
    "clamp": ("near_bounds", (0, 1, 2)),
    "extreme": ("near_extreme", (0, 1)),
    "nanmax": ("near_extreme", (0, 1)),
    "tensor_extreme": ("near_extreme", (0, 1)),
    "sort": ("near_sort_tie", (0, 1)),
    "sorted_in_place": ("near_sort_tie", (0, 1)),
}
# functions whose value jumps (piecewise constant: taken as having no gradient) -> where
# it jumps (see ``rt.near_jump``)
JUMPS = {
    np.floor: "floor",
    np.ceil: "floor",
    math.floor: "floor",
    math.ceil: "floor",
    np.trunc: "trunc",
    builtins.int: "trunc",
    np.rint: "round",
    np.round: "round",
    builtins.round: "round",
    np.sign: "sign",
}
DECIMALS = ("decimals", "ndigits")  # the keywords giving a rounding's decimals
LONGEST = 60  # a reconstructed expression longer than this is not shown


def kink_primal(
    analysis: Analysis, builder: PrimalBuilder, names: Names, fn_name: str
) -> gast.FunctionDef:
    """The traced primal of ``analysis.fn`` with kink checks: it saves and records exactly
    what the traced primal ``builder`` built does (same numbers), so the adjoints of its
    paths read it unchanged."""
    tree = PathPrimal(builder, names).build(fn_name)  # the first build's numbering
    tree.body = _Checks(analysis).block(tree.body)
    return tree


class _Checks:
    def __init__(self, analysis: Analysis):
        self.a = analysis
        self.parsed = analysis.parsed
        user = self.user = all_names(analysis.parsed.tree) - {"rt"}
        stores = Counter(
            n.id
            for n in walk(analysis.fn)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
        )
        self.local = set(stores) | set(analysis.params)
        # the compiler's temporaries assigned once: their values, to show the user's terms
        self.values = {
            s.targets[0].id: s.value
            for s in walk(analysis.fn)
            if isinstance(s, gast.Assign)
            and isinstance(s.targets[0], gast.Name)
            and s.targets[0].id not in user
            and stores[s.targets[0].id] == 1
        }

    def block(self, body: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for s in body:
            if isinstance(s, (gast.If, gast.For, gast.While, gast.Try)):
                rebuild_blocks(s, self.block)
            out.append(s)
            check = self.check(s)
            if check is not None:
                out.append(check)
        return out

    def check(self, s: gast.stmt) -> gast.stmt | None:
        """The check after ``s`` (its operands are as it read them: a normalized statement
        never assigns a name it reads), or None."""
        if not isinstance(s, gast.Assign) or facts(s).no_grad:
            return None
        value = s.value
        if (
            isinstance(value, gast.Compare)
            and len(value.ops) == 1
            and type(value.ops[0]) in COMPARISONS
            and self.active(value.left, value.comparators[0])
        ):
            operands = [value.left, value.comparators[0]]
            texts = [self.text(e) for e in operands]
            return self.helper("near_branch", operands, s, self.text(value), texts)
        op = facts(s).op
        if op is None:
            return None
        if op.kind is Kind.PASSIVE:
            return self.jump(s)
        if op.kind is not Kind.RULE or op.rule is None:
            return None
        if op.rule.name == "remainder" and self.active(op.operands[0]):
            how = "fmod" if op.primitive in (np.fmod, math.fmod) else "floordiv"
            return self.helper("near_jump", [op.operands[0], const(how), op.operands[1]], s,
                               self.text(value), [self.text(op.operands[0])])  # fmt: skip
        if op.rule.name in ("builtin_max", "builtin_min"):
            return self.choice(s, op)
        if op.rule.name not in KINKED:
            return None
        helper, positions = KINKED[op.rule.name]
        operands = [op.operands[i] if i < len(op.operands) else const(None) for i in positions]
        if not self.active(*operands):
            return None
        if op.rule.name == "sorted_in_place" and not _none(op.operands[4:5]):
            return None  # sorted by a key: the keys are not at hand
        texts = [self.text(e) for e in operands[: 2 if helper == "near_tie" else 1]]
        if helper == "near_extreme":
            largest = not str(getattr(op.primitive, "__name__", op.primitive)).endswith("min")
            operands.append(const(largest))
        return self.helper(helper, operands, s, self.text(value), texts)

    def jump(self, s: gast.Assign) -> gast.stmt | None:
        """The check after ``t = np.floor(x)`` (a function in ``JUMPS``) or ``t = x // y``
        of a differentiated ``x``: its value jumps, though its gradient (none) does not say
        so. None for another statement."""
        value = s.value
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.FloorDiv):
            x, how, arg = value.left, "floordiv", value.right
        elif isinstance(value, gast.Call) and value.args:
            found, obj = self.parsed.resolve_dotted(value.func, self.local)
            how = JUMPS.get(obj) if found and hashable(obj) else None
            if how is None:
                return None
            x = value.args[0]
            given = [k.value for k in value.keywords if k.arg in DECIMALS]
            arg = (value.args[1:] or given or [const(None)])[0]
        else:
            return None
        if not self.active(x):
            return None
        return self.helper("near_jump", [x, const(how), arg], s, self.text(value), [self.text(x)])

    def choice(self, s: gast.Assign, op: Op) -> gast.stmt | None:
        """The check after builtin ``max(...)`` or ``min(...)`` of differentiated values
        (none with a ``key``: the keys are not at hand)."""
        iterable, others, key = op.bound["iterable"], op.bound["others"], op.bound["key"]
        if not _none([key]) or not self.active(iterable, *getattr(others, "elts", ())):
            return None
        largest = const(op.primitive is builtins.max)
        texts = [""] if getattr(others, "elts", ()) else [self.text(iterable)]
        return self.helper("near_choice", [iterable, others, largest], s, self.text(s.value),
                           texts)  # fmt: skip

    def helper(
        self, helper: str, operands: list[gast.expr], s: gast.stmt, shown: str, texts: list[str]
    ) -> gast.stmt:
        """``rt.<helper>(*operands, where)``, ``where`` naming the user's line and terms."""
        filename, line, source = self.parsed.where(s.lineno)
        where = gast.Tuple(
            elts=[const(v) for v in (filename, line, source, shown, *texts)], ctx=gast.Load()
        )
        stmt = gast.Expr(value=call(attr("rt", helper), *operands, where))
        stmt.lineno = s.lineno
        return stmt

    def active(self, *operands: gast.expr) -> bool:
        return any(isinstance(e, gast.Name) and e.id in self.a.active for e in operands)

    def text(self, e: gast.expr) -> str:
        """``e`` in the user's terms: the compiler's temporaries replaced by the
        expressions they hold (empty when it cannot be shown that way)."""
        expanded = self.expand(copy.deepcopy(e), 8)
        generated = any(isinstance(n, gast.Name) and n.id not in self.user for n in walk(expanded))
        shown = _unparse(expanded)
        return "" if generated or len(shown) > LONGEST else shown

    def expand(self, e: gast.expr, depth: int) -> gast.expr:
        if isinstance(e, gast.Name) and e.id in self.values and depth:
            return self.expand(copy.deepcopy(self.values[e.id]), depth - 1)
        for field, old in gast.iter_fields(e):
            if isinstance(old, gast.expr):
                setattr(e, field, self.expand(old, depth))
            elif isinstance(old, list):
                setattr(e, field, [self.expand(v, depth) if isinstance(v, gast.expr) else v
                                   for v in old])  # fmt: skip
        if isinstance(e, gast.Call):
            for k in e.keywords:
                k.value = self.expand(k.value, depth)
            method = _method(e.func)
            if method and e.args:  # rt.tensor_methods.clamp(x, ...) is x.clamp(...)
                bound = gast.Attribute(value=e.args[0], attr=method, ctx=gast.Load())
                e = gast.Call(func=bound, args=e.args[1:], keywords=e.keywords)
        return e


def _method(f: gast.expr) -> str:
    """The method the user called where generated code calls ``f`` (``x.sort()`` for
    ``rt.sorted_in_place(x)``, a Tensor method for ``rt.tensor_methods.<name>``), or ''."""
    if not isinstance(f, gast.Attribute):
        return ""
    if isinstance(f.value, gast.Name) and f.value.id == "rt":
        return "sort" if f.attr == "sorted_in_place" else ""
    tensor = (
        isinstance(f.value, gast.Attribute)
        and f.value.attr == "tensor_methods"
        and isinstance(f.value.value, gast.Name)
        and f.value.value.id == "rt"
    )
    return f.attr if tensor else ""


def _none(operands: list[gast.expr]) -> bool:
    return all(isinstance(e, gast.Constant) and e.value is None for e in operands)


def _unparse(e: gast.expr) -> str:
    tree = gast.gast_to_ast(gast.Expression(body=e))
    return ast.unparse(ast.fix_missing_locations(tree)).strip()
