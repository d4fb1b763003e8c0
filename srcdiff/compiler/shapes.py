"""Stage 3b: which operands of elementwise operations have their result's shape.

``rt.unbroadcast(g, x)`` sums a gradient down to ``x``'s shape. Where ``x`` is known to
have the shape of the result, the adjoint passes ``g`` on as it is (no call), and the
primal need not save ``x`` for its shape.

A value's *shape class* is a set of symbols whose shapes broadcast together to its shape:
a number has the empty class, an array argument the symbol it shares with the other
arguments of the same shape, and an elementwise operation the union of its operands'
classes. Broadcasting a set of shapes gives one shape, whatever the order or repetition,
so two values of one class have one shape. ``None`` is a shape not known here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

import gast
import numpy as np

from .normalize import local_names

Class = frozenset | None
State = dict[str, Class]

NUMBER = "number"  # the shape class token of a Python number (see ``rt.shape_classes``)
ELEMENTWISE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.Mod,
                   gast.FloorDiv)
REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.std, np.var,
              np.linalg.norm}
REDUCING_METHODS = {"sum", "mean", "prod", "max", "min", "std", "var"}
SCALAR_BUILTINS = {float, int, len}


def param_classes(params: list[str], tokens: dict[str, Hashable]) -> State:
    """Each parameter's class from the tokens of ``rt.shape_classes`` (arguments given one
    token have one shape)."""
    out: State = {p: None for p in params}
    for p, token in tokens.items():
        if token == NUMBER:
            out[p] = frozenset()
        elif token is not None:
            out[p] = frozenset({("arg", token)})
    return out


def mark_same_shapes(fn: gast.FunctionDef, params: State,
                     resolve: Callable[[gast.expr], tuple[str, Any]],
                     global_value: Callable[[str], tuple[bool, Any]]) -> None:
    """Give each elementwise rule statement of ``fn`` (normalized and analysed) the
    positions of its operands that have the shape of its result (``Op.same_shape``)."""
    _Inference(local_names(fn), resolve, global_value).block(fn.body, dict(params),
                                                             record=True)


class _Loop:
    """The states that leave one loop's body early."""

    def __init__(self) -> None:
        self.breaks: list[State] = []
        self.continues: list[State] = []


def _join(a: State | None, b: State | None) -> State | None:
    """The classes known on both of two paths (``None``: a path that cannot arrive)."""
    if a is None or b is None:
        return a if b is None else b
    return {n: a[n] if a[n] == b.get(n, None) else None for n in a.keys() & b.keys()}


class _Inference:
    def __init__(self, local: set[str], resolve: Callable, global_value: Callable):
        self.local = local
        self.resolve = resolve
        self.global_value = global_value

    def block(self, body: list[gast.stmt], state: State, record: bool,
              loop: _Loop | None = None) -> State | None:
        """The state after ``body``; ``None`` when it always leaves early."""
        for s in body:
            if isinstance(s, (gast.Break, gast.Continue)) and loop is not None:
                (loop.breaks if isinstance(s, gast.Break) else loop.continues).append(state)
                return None
            if isinstance(s, (gast.Return, gast.Raise, gast.Break, gast.Continue)):
                return None
            if isinstance(s, gast.If):
                a = self.block(s.body, dict(state), record, loop)
                b = self.block(s.orelse, dict(state), record, loop)
                state = _join(a, b)
                if state is None:
                    return None
            elif isinstance(s, (gast.For, gast.While)):
                state = self.loop(s, state, record)
            else:
                self.statement(s, state, record)
        return state

    def loop(self, s: gast.For | gast.While, entry: State, record: bool) -> State:
        """The state at the loop's head is the join of the states every iteration can
        start from: found by iterating to a fixed point, then recorded once."""
        head = dict(entry)
        if isinstance(s, gast.For):
            head[s.target.id] = None
        while True:
            inner = _Loop()
            end = self.block(s.body, dict(head), False, inner)
            new = head
            for other in [end, *inner.continues]:
                new = _join(new, other)
            if new == head:
                break
            head = new
        inner = _Loop()
        self.block(s.body, dict(head), record, inner)
        out = head
        for other in inner.breaks:
            out = _join(out, other)
        return out

    def statement(self, s: gast.stmt, state: State, record: bool) -> None:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            value, elementwise = self.class_of(s.value, state)
            if record and elementwise and value is not None and \
                    getattr(s, "op", None) is not None and s.op.kind == "rule":
                s.op.same_shape = frozenset(
                    i for i, a in enumerate(s.op.operands)
                    if isinstance(a, gast.Name) and self.atom(a, state) == value)
            state[s.targets[0].id] = value
            return
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
            return  # an item store keeps the shape of what it stores into
        stored = {n.id for n in gast.walk(s) if isinstance(n, gast.Name)
                  and isinstance(n.ctx, gast.Store)} | set(getattr(s, "stores", ()))
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute) or \
                isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            owner = getattr(getattr(s.targets[0] if isinstance(s, gast.Assign)
                                    else s.value.func, "value", None), "id", None)
            stored.add(owner)  # ``a.shape = ...``, ``a.resize(...)``: shape unknown
        for n in stored:
            if n in state:
                state[n] = None

    def atom(self, e: gast.expr, state: State) -> Class:
        if isinstance(e, gast.Constant):
            return frozenset() if _is_number(e.value) else None
        if isinstance(e, gast.Name):
            if e.id in state or e.id in self.local:
                return state.get(e.id)
            found, value = self.global_value(e.id)
            return frozenset() if found and _is_number(value) else None
        if isinstance(e, gast.Attribute):
            kind, value = self.resolve(e)
            return frozenset() if kind == "object" and _is_number(value) else None
        return None

    def class_of(self, v: gast.expr, state: State) -> tuple[Class, bool]:
        """The class of ``v``'s value, and whether ``v`` is an elementwise operation."""
        if isinstance(v, gast.BinOp) and isinstance(v.op, ELEMENTWISE_OPS):
            return self.union([v.left, v.right], state), True
        if isinstance(v, gast.UnaryOp) and isinstance(v.op, (gast.USub, gast.UAdd)):
            return self.atom(v.operand, state), True
        if isinstance(v, gast.Call) and not v.keywords:
            return self.call(v, state)
        return self.atom(v, state), False

    def call(self, v: gast.Call, state: State) -> tuple[Class, bool]:
        kind, fn = self.resolve(v.func)
        n = len(v.args)
        if kind == "method":
            return (frozenset() if not n and v.func.attr in REDUCING_METHODS else None), False
        if kind != "object":
            return None, False
        if isinstance(fn, np.ufunc) and fn.nout == 1 and n == fn.nin or fn is abs and n == 1 \
                or fn in (np.where, np.clip) and n == 3:
            return self.union(v.args, state), True
        if n == 1 and (_member(fn, REDUCTIONS) or _member(fn, SCALAR_BUILTINS)) or \
                getattr(fn, "__module__", None) == math.__name__:
            return frozenset(), False
        return None, False

    def union(self, args: list[gast.expr], state: State) -> Class:
        out: frozenset = frozenset()
        for a in args:
            c = self.atom(a, state)
            if c is None:
                return None
            out |= c
        return out


def _member(obj: Any, group: set) -> bool:
    try:
        return obj in group
    except TypeError:  # an unhashable callable
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, complex))  # bool too: a shape of ()
