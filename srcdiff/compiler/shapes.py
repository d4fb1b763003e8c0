"""Stage 3b: which operands of elementwise operations have their result's shape.

``rt.unbroadcast(g, x)`` sums a gradient down to ``x``'s shape. Where ``x`` is known to
have the shape of the result, the adjoint passes ``g`` on as it is (no call), and the
primal need not keep ``x`` alive for its shape.

Shapes are symbolic: a unit is compiled for one *pattern* of argument shapes (see
``rt.shape_pattern``), in which each size other than 1 is a token that equal sizes share.
Broadcasting, matrix products, transposes, integer indexing and reductions are followed
through the function; anything else has a shape not known here (``None``). Two equal
symbolic shapes are one shape in every call the unit serves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

import gast
import numpy as np

from .ir import Block, Branch, Kind, LoopKind, Repeat, Step, StepKind, TryBlock, facts
from .normalize import local_names, params_of, walk

Shape = tuple[Hashable, ...] | None
State = dict[str, Shape]

ELEMENTWISE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.Mod, gast.FloorDiv)
REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.std, np.var}
REDUCING_METHODS = {"sum", "mean", "prod", "max", "min", "std", "var"}
SCALAR_BUILTINS = {float, int, len}
JUMPS = (StepKind.BREAK, StepKind.CONTINUE)
STABLE_MODULES = {"numpy", "math", "cupy"}  # whose number attributes never change


def mark_same_shapes(
    fn: gast.FunctionDef,
    program: Block,
    params: dict[str, Shape],
    resolve: Callable[[gast.expr], tuple[str, Any]],
    global_value: Callable[[str], tuple[bool, Any]],
    global_number: Callable[[str], bool],
    changes_nothing: Callable[[gast.Call], bool],
) -> None:
    """Give each elementwise rule statement of ``fn`` (normalized and analysed; its IR
    ``program``) the positions of its operands that have the shape of its result
    (``Op.same_shape``).
    ``params``: the parameters' symbolic shapes (absent: not known); ``resolve``: what a
    callee or dotted name refers to (``Analyser.resolve``); ``global_value``: a free
    name's value; ``global_number``: whether a free name holds a number (the unit then
    relies on it); ``changes_nothing``: whether a call surely changes none of its
    arguments."""
    state = {p: params.get(p) for p in params_of(fn)}
    inference = _Inference(fn, resolve, global_value, global_number, changes_nothing)
    inference.block(program, state, record=True)


def broadcast(shapes: list[Shape]) -> Shape:
    """The shape of an elementwise result (``None`` when a shape is not known, or when two
    different tokens meet, which a call that ran cannot have)."""
    if not shapes or any(s is None for s in shapes):
        return None
    out = []
    for i in range(1, max(len(s) for s in shapes) + 1):
        dims = {s[-i] for s in shapes if len(s) >= i} - {1}
        if len(dims) > 1:
            return None
        out.append(dims.pop() if dims else 1)
    return tuple(reversed(out))


def matmul(a: Shape, b: Shape) -> Shape:
    """The shape of ``a @ b``."""
    if a is None or b is None or not a or not b:
        return None
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(a) == 1:
        return b[:-2] + b[-1:]
    if len(b) == 1:
        return a[:-1]
    batch = broadcast([a[:-2], b[:-2]])
    return None if batch is None else batch + (a[-2], b[-1])


def reduced(shape: Shape, axis: Any, keepdims: bool) -> Shape:
    """The shape of a reduction of an array of ``shape`` over ``axis``."""
    if axis is None and not keepdims:
        return ()
    if axis is None:
        return None if shape is None else (1,) * len(shape)
    if shape is None or not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
        return None
    axis %= len(shape)
    if keepdims:
        return shape[:axis] + (1,) + shape[axis + 1 :]
    return shape[:axis] + shape[axis + 1 :]


class _Loop:
    """The states that leave one loop's body early."""

    def __init__(self) -> None:
        self.breaks: list[State] = []
        self.continues: list[State] = []


def _join(a: State | None, b: State | None) -> State | None:
    """The shapes known on both of two paths (``None``: a path that cannot arrive)."""
    if a is None or b is None:
        return a if b is None else b
    return {n: a[n] if a[n] == b.get(n) else None for n in a.keys() & b.keys()}


class _Inference:
    def __init__(
        self,
        fn: gast.FunctionDef,
        resolve: Callable,
        global_value: Callable,
        global_number: Callable,
        changes_nothing: Callable,
    ):
        self.local = local_names(fn)
        counters = _int_counters(fn)  # (``range`` read only where a loop runs over it: the
        # guard of the compiled code checks what is read, before every call)
        self.ints = counters if counters and global_value("range") == (True, range) else set()
        self.resolve = resolve
        self.global_value = global_value
        self.global_number = global_number
        self.changes_nothing = changes_nothing

    def block(self, body: Block, state: State, record: bool, loop: _Loop | None = None
              ) -> State | None:  # fmt: skip
        """The state after ``body``; ``None`` when it always leaves early."""
        for node in body:
            if isinstance(node, Step) and node.kind in JUMPS and loop is not None:
                jumped = loop.breaks if node.kind is StepKind.BREAK else loop.continues
                jumped.append(state)
                return None
            if isinstance(node, Step) and node.kind in (*JUMPS, StepKind.RETURN, StepKind.RAISE):
                return None
            if isinstance(node, Branch):
                a = self.block(node.body, dict(state), record, loop)
                b = self.block(node.orelse, dict(state), record, loop)
                state = _join(a, b)
                if state is None:
                    return None
            elif isinstance(node, TryBlock):
                state = self.attempt(node, state, record, loop)
                if state is None:
                    return None
            elif isinstance(node, Repeat):
                state = self.loop(node, state, record)
            else:
                self.statement(node.stmt, state, record)
        return state

    def attempt(self, node: TryBlock, entry: State, record: bool, loop: _Loop | None
                ) -> State | None:  # fmt: skip
        """The state after a try: an except clause, and the finally block, may start
        anywhere in the body, where no shape is known."""
        ends = []
        body = self.block(node.body, dict(entry), record, loop)
        if body is not None:
            ends.append(self.block(node.orelse, body, record, loop))
        ends += [self.block(c.body, {}, record, loop) for c in node.handlers]
        self.block(node.finalbody, {}, record, loop)
        state = None
        for end in ends:
            state = _join(state, end)
        return None if state is None else self.block(node.finalbody, state, False, loop)

    def loop(self, node: Repeat, entry: State, record: bool) -> State:
        """The state at the loop's head is the join of the states every iteration can
        start from: found by iterating to a fixed point, then recorded once."""
        head = dict(entry)
        if node.kind is LoopKind.FOR:
            head[node.target.id] = () if node.target.id in self.ints else None
        while True:
            inner = _Loop()
            end = self.block(node.body, dict(head), False, inner)
            new = head
            for other in [end, *inner.continues]:
                new = _join(new, other)
            if new == head:
                break
            head = new
        inner = _Loop()
        self.block(node.body, dict(head), record, inner)
        out = head
        for other in inner.breaks:
            out = _join(out, other)
        return out

    def statement(self, s: gast.stmt, state: State, record: bool) -> None:
        if self.may_reshape(s):  # of any array, through any name: forget every shape
            for n in state:
                state[n] = None
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            value, elementwise = self.shape_of(s.value, state)
            if (
                record
                and elementwise
                and value is not None
                and facts(s).op is not None
                and facts(s).op.kind is Kind.RULE
            ):
                facts(s).op.same_shape = frozenset(
                    i
                    for i, a in enumerate(facts(s).op.operands)
                    if isinstance(a, gast.Name) and self.atom(a, state) == value
                )
            state[s.targets[0].id] = value
            return
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
            return  # an item store keeps the shape of what it stores into
        stored = {
            n.id for n in walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
        } | set(facts(s).stores)
        for n in stored:
            if n in state:
                state[n] = None

    def may_reshape(self, s: gast.stmt) -> bool:
        """Whether ``s`` may change an array's shape in place (``a.shape = ...``,
        ``a.resize(...)``, a call that changes its arguments, code run as written)."""
        if (
            facts(s).no_grad
            or isinstance(s, gast.Assign)
            and isinstance(s.targets[0], gast.Attribute)
        ):
            return True
        return any(isinstance(c, gast.Call) and not self.changes_nothing(c) for c in walk(s))

    def atom(self, e: gast.expr, state: State) -> Shape:
        if isinstance(e, gast.Constant):
            return () if _is_number(e.value) else None
        if isinstance(e, gast.Name):
            if e.id in state or e.id in self.local:
                return state.get(e.id)
            return () if self.global_number(e.id) else None
        if isinstance(e, gast.Attribute):  # np.pi, math.e: constants of these modules only
            root = e
            while isinstance(root, gast.Attribute):
                root = root.value
            found, module = (
                self.global_value(root.id) if isinstance(root, gast.Name) else (False, None)
            )
            kind, value = self.resolve(e)
            return (
                ()
                if found
                and getattr(module, "__name__", "") in STABLE_MODULES
                and kind == "object"
                and _is_number(value)
                else None
            )
        return None

    def shape_of(self, v: gast.expr, state: State) -> tuple[Shape, bool]:
        """The shape of ``v``'s value, and whether ``v`` is an elementwise operation."""
        if isinstance(v, gast.BinOp) and isinstance(v.op, ELEMENTWISE_OPS):
            return broadcast([self.atom(v.left, state), self.atom(v.right, state)]), True
        if isinstance(v, gast.BinOp) and isinstance(v.op, gast.MatMult):
            return matmul(self.atom(v.left, state), self.atom(v.right, state)), False
        if isinstance(v, gast.UnaryOp) and isinstance(v.op, (gast.USub, gast.UAdd)):
            return self.atom(v.operand, state), True
        if (
            isinstance(v, gast.Attribute)
            and v.attr == "T"
            and isinstance(v.value, gast.Name)
            and v.value.id in self.local
        ):
            shape = self.atom(v.value, state)
            return (None if shape is None else shape[::-1]), False
        if isinstance(v, gast.Subscript):
            return self.indexed(v, state), False
        if isinstance(v, gast.Call):
            return self.call(v, state)
        return self.atom(v, state), False

    def indexed(self, v: gast.Subscript, state: State) -> Shape:
        """``x[i]`` and ``x[i, j]`` with integer indices drop leading axes."""
        shape = self.atom(v.value, state)
        index = v.slice.elts if isinstance(v.slice, gast.Tuple) else [v.slice]
        if (
            shape is None
            or len(index) > len(shape)
            or not all(
                isinstance(i, gast.Constant)
                and type(i.value) is int
                or isinstance(i, gast.Name)
                and i.id in self.ints
                for i in index
            )
        ):
            return None
        return shape[len(index) :]

    def call(self, v: gast.Call, state: State) -> tuple[Shape, bool]:
        kind, fn = self.resolve(v.func)
        args = list(v.args)
        keywords = {k.arg: k.value for k in v.keywords}
        if kind == "method" and v.func.attr in REDUCING_METHODS:
            receiver = self.atom(v.func.value, state)  # not known: maybe not an array
            return (None if receiver is None else self.reduction(receiver, args, keywords)), False
        if kind != "object":
            return None, False
        if _member(fn, REDUCTIONS) and args:
            return self.reduction(self.atom(args[0], state), args[1:], keywords), False
        if keywords:
            return None, False
        n = len(args)
        elementwise = (
            isinstance(fn, np.ufunc) and fn.signature is None and fn.nout == 1 and n == fn.nin
        )  # not np.matmul and the other generalized ufuncs
        if elementwise or fn is abs and n == 1 or fn in (np.where, np.clip) and n == 3:
            return broadcast([self.atom(a, state) for a in args]), True
        if (
            n == 1
            and _member(fn, SCALAR_BUILTINS)
            or getattr(fn, "__module__", None) == math.__name__
            and all(self.atom(a, state) == () for a in args)
        ):  # not math.prod([A, B])
            return (), False
        return None, False

    def reduction(self, shape: Shape, args: list[gast.expr], keywords: dict) -> Shape:
        """``sum(x, axis, keepdims=...)`` with constant arguments."""
        if len(args) > 1 or set(keywords) - {"axis", "keepdims"}:
            return None
        axis = args[0] if args else keywords.get("axis")
        keepdims = keywords.get("keepdims")
        if not all(e is None or isinstance(e, gast.Constant) for e in (axis, keepdims)):
            return None
        keep = keepdims is not None and keepdims.value
        if not isinstance(keep, bool):
            return None
        return reduced(shape, None if axis is None else axis.value, keep)


def _int_counters(fn: gast.FunctionDef) -> set[str]:
    """Names that only ever hold integers: targets of ``for ... in range(...)`` assigned
    nowhere else, and not parameters."""
    stores: dict[str, int] = {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stores[n.id] = stores.get(n.id, 0) + 1
    out = set()
    for s in walk(fn):
        if (
            isinstance(s, gast.For)
            and isinstance(s.target, gast.Name)
            and isinstance(s.iter, gast.Call)
            and isinstance(s.iter.func, gast.Name)
            and s.iter.func.id == "range"
            and stores.get(s.target.id) == 1
        ):
            out.add(s.target.id)
    return out - set(params_of(fn))


def _member(obj: Any, group: set) -> bool:
    try:
        return obj in group
    except TypeError:  # an unhashable callable
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, complex))  # bool too: a shape of ()
