"""Stage 5: the adjoint of one path.

The path a call took (the branch each recorded ``if`` chose, for each loop the distinct
paths its iterations took, for each ``try`` the except clause that caught an exception
and where it was raised) selects the statements that ran. Their adjoints are emitted in
reverse: each statement's rule inlined, a branch not taken absent, the statements of a
try's body after an exception absent, a loop as one reversed loop over its saved
iterations that dispatches on each iteration's path.

Adjoints are named after the user's variables (``d_h``). Each name's adjoint is tracked
while emitting: undefined (zero, so the first contribution is assigned, not added), an
alias of another adjoint (no copy is emitted), or its own variable, which may be updated
in place when this code created it (``owned``).
"""

from __future__ import annotations

import builtins
import copy
import enum
import functools
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gast

from .. import runtime as rt_module
from ..rules import registry
from .analyse import relevant_try
from .ir import (
    Block,
    Branch,
    Kind,
    Node,
    Program,
    Repeat,
    Step,
    StepKind,
    TryBlock,
    facts,
    mark,
    operand_name,
    walk_nodes,
)
from .mutation import FOLLOWS
from .normalize import Names, assign, const, name, walk
from .template import call_rule, expand
from .trace import Frame, PrimalBuilder, Records, at, attr, call, relevant, subscript

CONTAINER_PRIMITIVES = ("tuple-display", "list-display", "dict-display")
# values that may be objects (adjoints: dicts of their fields') or partials (lists)
OBJECT_PRIMITIVES = ("object-attribute", rt_module.set_field, rt_module.assemble,
                     functools.partial, rt_module.partial_args)  # fmt: skip
SEQUENCE_RULE_NAMES = ("join", "repeat")
# the new values of lists and dicts that Python updates in place (see compiler/inplace)
UPDATED_CONTAINERS = (rt_module.appended, rt_module.extended, rt_module.inserted,
                      rt_module.removed, rt_module.reversed_list, rt_module.updated,
                      rt_module.put_back, rt_module.sorted_in_place)  # fmt: skip


@dataclass
class Variant:
    """The statements one kind of loop iteration ran."""

    index: int
    items: list
    end: str | None


class Ran(enum.Enum):
    """What a selected item of a path is."""

    STEP = "statement"
    BRANCH = "branch"
    LOOP = "loop"
    TRY = "try"


@dataclass
class Item:
    kind: Ran
    node: Node  # the IR node that ran (its facts: ``facts(item.node)``)
    taken: int = 0  # of a try: the except clause that ran, or RAN_THROUGH, PASSED_ON
    variants: list[Variant] = field(default_factory=list)
    at: int = 0  # of a try whose body raised: the position of the statement that did


RAN_THROUGH, PASSED_ON = -1, -2  # a try's body raised nothing; raised, and not caught


class Refused(Exception):
    """A path whose adjoint srcdiff cannot tell (``what`` at ``node``, ``hint``)."""

    def __init__(self, what: str, node: int, hint: str):
        super().__init__(what)
        self.what, self.node, self.hint = what, node, hint


UNWRAPPED_LEAF, NOT_A_TENSOR = 1, 2  # what rt.unwrap records (0: a Tensor without grad)
GAVE_INTEGERS = 0  # what rt.record_float records of a cast in Tensor code (1: floats)


def select(
    body: Block, key: Iterator, stop: int | None = None, raised: int | None = None
) -> tuple[list[Item], str | None]:
    """The statements of ``body`` that ran on the path ``key``, and how the block ended
    (``None``, ``"return"``, ``"break"``, ``"continue"``, ``"stop"`` at the
    ``backward()`` statement numbered ``stop``, or ``"raise"`` before the statement at
    the position ``raised``, or inside the statement holding it)."""
    items: list[Item] = []
    for node in body:
        inside = raised is not None and node.pos <= raised <= node.last
        looping = isinstance(node, Repeat)
        if inside and (raised == node.pos and not looping or not relevant_block(node)):
            return items, "raise"  # what ran of it left no adjoint and no path
        op = facts(node).op
        if op is not None and op.kind is Kind.BACKWARD and facts(node).sid == stop:
            items.append(Item(Ran.STEP, node))
            return items, "stop"
        if op is not None and op.flagged:
            items.append(Item(Ran.STEP, node, next(key)))
            continue
        if isinstance(node, Branch):
            if not facts(node).recorded:
                continue
            taken = next(key)
            items.append(Item(Ran.BRANCH, node, taken))
            side = node.body if taken else node.orelse
            sub, end = select(side, key, stop, raised if inside else None)
            items += sub
            if end:
                return items, end
        elif isinstance(node, Repeat):
            if not relevant(node):
                continue
            kinds = next(key) if node.loop.branching else ((),)
            variants = []
            for index, variant_key in enumerate(kinds):
                cut = None  # where an exception left the step
                if variant_key and type(variant_key[-1]) is rt_module.Raised:
                    cut, variant_key = variant_key[-1].at, variant_key[:-1]
                sub, end = select(node.body, iter(variant_key), raised=cut)
                variants.append(Variant(index, sub, end))
            items.append(Item(Ran.LOOP, node, variants=variants))
            if inside:
                return items, "raise"
            if any(v.end == "return" for v in variants):
                return items, "return"
        elif isinstance(node, TryBlock):
            if not relevant_try(node):
                continue
            sub, end = select_try(node, key, stop, raised if inside else None)
            items += sub
            if end:
                return items, end
        elif isinstance(node, Step) and node.kind in ENDS:
            if node.kind is StepKind.RETURN:
                items.append(Item(Ran.STEP, node))
            return items, ENDS[node.kind]
        elif op is not None and op.kind not in (Kind.PASSIVE, Kind.BACKWARD):
            items.append(Item(Ran.STEP, node))
    return items, None


# how a block ends at a jump
ENDS = {StepKind.RETURN: "return", StepKind.BREAK: "break", StepKind.CONTINUE: "continue"}


def relevant_block(node: Node) -> bool:
    """Whether a statement holding others matters to the adjoint (see ``select``)."""
    if isinstance(node, Branch):
        return facts(node).recorded
    if isinstance(node, Repeat):
        return relevant(node)
    if isinstance(node, TryBlock):
        return relevant_try(node)
    return True


def select_try(
    node: TryBlock, key: Iterator, stop: int | None, raised: int | None
) -> tuple[list[Item], str | None]:
    """``select`` of a try: its body up to where it raised (its record in ``key`` says,
    or ``raised``, for an exception this try let go on), the except clause that caught
    it or the else block, then the finally block."""
    if within(node.finalbody, raised) is not None:
        raise Refused(
            "cannot differentiate through an exception raised in a finally block and "
            "caught in the same function (what ran before the finally block is not known)",
            next(x.line for x in walk_nodes(node.finalbody) if x.pos == raised),
            "catch it inside the finally block, or outside the differentiated function",
        )
    way = next(key) if facts(node).recorded else RAN_THROUGH
    if way == RAN_THROUGH:
        item = Item(Ran.TRY, node, RAN_THROUGH)
        body, end = select(node.body, key, stop, within(node.body, raised))
        if end == "raise":
            item.taken, item.at = PASSED_ON, raised
        elif end is None:
            orelse, end = select(node.orelse, key, stop, within(node.orelse, raised))
            body += orelse
    else:
        handler, position = way
        item = Item(Ran.TRY, node, handler, at=position)
        body, end = select(node.body, key, stop, position)
        clause = node.handlers[handler].body
        caught, end = select(clause, key, stop, within(clause, raised))
        body += caught
    if end == "stop":
        return [item, *body], end
    final, ended = select(node.finalbody, key, stop)
    if ended is not None and end == "return":  # the finally block's exit drops the value
        returned = [i for i, it in enumerate(body)
                    if isinstance(it.node, Step) and it.node.kind is StepKind.RETURN]  # fmt: skip
        if not returned:
            raise Refused(
                "cannot differentiate a return from a loop inside a try whose finally "
                "block leaves by return, break or continue",
                node.line,
                "return after the try",
            )
        del body[returned[-1]]
    return [item, *body, *final], ended or end


def within(block: Block, raised: int | None) -> int | None:
    """``raised``, if the statement at that position is in ``block``."""
    if raised is not None and block and block[0].pos <= raised <= block[-1].last:
        return raised
    return None


def explain(analysis: Program, key: tuple) -> list[str]:
    """The choices of the path ``key``, a line each, in the user's terms: which way each
    ``if`` went, which kinds of iterations each loop ran, and how each ``try`` went."""
    try:
        items, _ = select(analysis.program, iter(key))
    except Refused as refused:
        raise analysis.source.error(refused.what, refused.node, refused.hint) from None
    return _explain(items, analysis, "")


def try_way(item: Item, analysis: Program) -> str:
    """How a try went: ``body ran through``, ``raised at line 7, handled by `except
    ValueError:```, or ``raised at line 7, not handled here``."""
    if item.taken == RAN_THROUGH:
        return "body ran through"
    line = next(n.line for n in walk_nodes(analysis.program) if n.pos == item.at)
    if item.taken == PASSED_ON:
        return f"raised at {analysis.source.label(line)}, not handled here"
    clause = item.node.handlers[item.taken]
    return (
        f"raised at {analysis.source.label(line)}, handled by "
        f"`{analysis.source.source_line(clause.line)}`"
    )


def _explain(items: list[Item], analysis: Program, indent: str) -> list[str]:
    lines = []
    for item in items:
        line = item.node.line
        where = f"{analysis.source.label(line)}: `{analysis.source.source_line(line)}`"
        if item.kind is Ran.BRANCH:
            lines.append(f"{indent}{where} {'taken' if item.taken else 'not taken'}")
        elif item.kind is Ran.TRY:
            lines.append(f"{indent}{where} {try_way(item, analysis)}")
        elif item.kind is Ran.LOOP:
            kinds = len(item.variants)
            lines.append(f"{indent}{where} {kinds} kind{'s' if kinds != 1 else ''} of iteration")
            for v in item.variants:
                inner = _explain(v.items, analysis, indent + "    ")
                ends = ""
                if v.end:
                    ends = ", left by an exception" if v.end == "raise" else f", ended by {v.end}"
                if inner or ends:
                    lines.append(f"{indent}  iterations of kind {v.index + 1}{ends}:")
                    lines += inner
    return lines


def path_activity(items: list[Item], seeds: set[str]) -> set[str]:
    """The names that depend on ``seeds`` or on Tensors requiring grad, on this path."""
    active = set(seeds)
    flat = list(flatten(items))
    changed = True
    while changed:
        changed = False
        for item in flat:
            op = facts(item.node).op
            if not op.target or op.target in active:
                continue
            if op.kind is Kind.UNWRAP:
                live = item.taken == UNWRAPPED_LEAF or (
                    item.taken == NOT_A_TENSOR
                    and isinstance(op.operands[0], gast.Name)
                    and op.operands[0].id in active
                )
            elif op.kind is Kind.RULE and op.flagged and item.taken == GAVE_INTEGERS:
                live = False
            elif op.kind in (Kind.RULE, Kind.COPY, Kind.CALL):
                live = (op.kind is Kind.CALL and item.taken == 1) or any(
                    operand_name(a) in active for a in op.operands + [k.value for k in op.keywords]
                )
            else:
                live = False
            if live:
                active.add(op.target)
                changed = True
    return active


def path_usefulness(items: list[Item], live: set[str]) -> set[str]:
    """The live names whose adjoints reach the result (or the ``backward()``) on this path:
    only they get adjoints."""
    flat = list(flatten(items))
    useful = {
        facts(item.node).op.operands[0].id
        for item in flat
        if facts(item.node).op.kind in (Kind.RETURN, Kind.BACKWARD)
        and isinstance(facts(item.node).op.operands[0], gast.Name)
    }
    changed = True
    while changed:
        changed = False
        for item in flat:
            op = facts(item.node).op
            if op.target not in useful:
                continue
            for a in op.operands + [k.value for k in op.keywords]:
                n = operand_name(a)
                if n in live and n not in useful:
                    useful.add(n)
                    changed = True
    return useful


def flatten(items: list[Item]) -> Iterator[Item]:
    for item in items:
        if item.kind is Ran.STEP:
            yield item
        elif item.kind is Ran.LOOP:
            for v in item.variants:
                yield from flatten(v.items)


@dataclass
class D:
    """Where a name's adjoint is now: the variable holding it, and whether this code
    created that value (so it may be updated in place)."""

    var: str
    owned: bool = False
    nullable: bool = False  # given by a rule called by name: added with rt.acc (below)


def comment(text: str, line: int) -> gast.stmt:
    node = gast.Expr(value=const(text))
    mark(node, comment=True)
    node.lineno = line
    return node


def is_index_grad(e: gast.expr) -> bool:
    return (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and e.func.attr == "index_grad"
    )


class AdjointBuilder:
    def __init__(
        self,
        analysis: Program,
        primal: PrimalBuilder | Records,
        names: Names,
        wrt: list[str],
        kinds: dict[str, str],
        rule_names: dict[Any, str],
    ):
        self.a = analysis
        self.p = primal
        self.names = names
        self.wrt = wrt
        self.kinds = dict(kinds)
        self.rule_names = rule_names
        self.state: dict[str, D] = {}
        self.pending: set[str] = set()  # variables the contributions being made still read
        self.dnames: dict[str, str] = {}
        self.seed = names.reserve("d_result")
        self.live = set(analysis.active)
        self.out: list[gast.stmt] = []
        # a function the adjoint calls with each differentiated result's whole gradient
        # (``probe(line, name, gradient)``) and then each contribution it makes to an
        # operand's (``probe(line, name, contribution, operand)``), or None
        self.probe: str | None = None
        self.infer_kinds()

    # --- names and kinds -------------------------------------------------------------
    def dname(self, n: str) -> str:
        if n not in self.dnames:
            self.dnames[n] = self.names.reserve(f"d_{n}")
        return self.dnames[n]

    def infer_kinds(self) -> None:
        """'array' for names holding arrays or numbers (adjoints add with ``+``), 'any'
        for names that may hold containers (adjoints add with ``rt.acc``)."""
        for node in walk_nodes(self.a.program):
            s, op = node.stmt, facts(node).op
            if op is None or not op.target:
                continue
            if op.kind in (Kind.PASSIVE, Kind.OVERWRITE):
                if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
                    continue
                kind = self.passive_kind(s.value)
            elif op.kind is Kind.CALL or (
                op.kind is Kind.RULE
                and op.primitive
                in CONTAINER_PRIMITIVES
                + OBJECT_PRIMITIVES
                + (rt_module.iterable, rt_module.unpacked, rt_module.reversible, list, tuple, dict)
            ):
                kind = "any"
            elif op.kind is Kind.COPY:
                kind = self.kind_of(op.operands[0].id)
            elif op.kind is Kind.UNWRAP:
                # a Tensor's array, or a list of Tensors' arrays: the operand's kind
                base = op.operands[0] if op.operands else None
                kind = self.kind_of(base.id) if isinstance(base, gast.Name) else "any"
            elif op.kind is Kind.RULE and op.primitive in ("ndarray.item",):
                kind = "array"
            elif op.kind is Kind.RULE and op.primitive in (builtins.max, builtins.min):
                # the candidate chosen: a list, a tuple or an object where one may be
                kinds = {self.kind_of(e.id) for e in op.operands if isinstance(e, gast.Name)}
                kind = "any" if "any" in kinds else "array"
            elif op.kind is Kind.RULE and op.primitive is rt_module.augmented:
                # ``x += v`` is ``x <op> v``'s kind (an object's operator gives an object)
                new = op.operands[1]
                kind = self.kind_of(new.id) if isinstance(new, gast.Name) else "any"
            elif op.kind is Kind.RULE and (
                op.rule.name in SEQUENCE_RULE_NAMES
                or registry.gives_sequence(op.primitive)
                or hasattr(type(op.primitive), "_srcdiff_vjp")
            ):  # (srcdiff's transforms: sd.value_and_grad's is a tuple)
                kind = "any"
            elif op.kind is Kind.RULE and op.primitive in UPDATED_CONTAINERS:
                kind = "any"  # a list or dict after an update (or an array: "any" holds it)
            elif op.kind is Kind.RULE and op.primitive in (copy.copy, copy.deepcopy):
                base = op.operands[0]  # a copy is of its original's kind (a list's a list)
                kind = self.kind_of(base.id) if isinstance(base, gast.Name) else "any"
            elif op.kind is Kind.RULE and op.primitive in FOLLOWS:
                # an object followed through an update keeps its kind (a list stays a list)
                base = op.operands[0]
                kind = self.kind_of(base.id) if isinstance(base, gast.Name) else "any"
            elif op.kind is Kind.RULE and (
                op.rule.name in ("getitem", "setitem") or op.primitive == "ndarray.copy"
            ):  # (``d.copy()`` of a list or dict is one too)
                base = op.operands[0]
                kind = self.kind_of(base.id) if isinstance(base, gast.Name) else "array"
            else:
                kind = "array"
            if self.kinds.get(op.target) != "any":
                self.kinds[op.target] = kind

    def kind_of(self, n: str) -> str:
        """The kind of a name seen so far; a parameter nobody described may hold anything."""
        if n in self.kinds:
            return self.kinds[n]
        return "any" if n in self.a.params else "array"

    def passive_kind(self, value: gast.expr) -> str:
        """The kind of a value computed without gradient (``d = {}``, ``h = np.zeros(3)``),
        which later statements may fill with differentiated values."""
        if isinstance(value, (gast.Dict, gast.List, gast.Tuple, gast.Subscript)):
            return "any"
        if isinstance(value, gast.Name):
            return self.kind_of(value.id)
        if isinstance(value, gast.BinOp) and any(  # [None] * n, xs + ys
            isinstance(e, gast.Name) and self.kind_of(e.id) == "any"
            for e in (value.left, value.right)
        ):
            return "any"
        if isinstance(value, gast.Call):
            root = value.func
            while isinstance(root, gast.Attribute):
                root = root.value
            if isinstance(root, gast.Name) and root.id not in self.a.params:
                found, obj = self.a.resolve(root.id)
                if found and getattr(obj, "__name__", "").split(".")[0] in ("numpy", "cupy"):
                    return "array"
            return "any"
        return "array"

    def active(self, e: gast.expr | None) -> bool:
        return operand_name(e) in self.live

    def statically_active(self, e: gast.expr | None) -> bool:
        return operand_name(e) in self.a.active

    # --- emitting adjoint assignments ------------------------------------------------
    def emit(self, stmt: gast.stmt, line: int) -> None:
        self.out.append(at(stmt, line))

    def bind(self, var: str, value: gast.expr, line: int) -> None:
        """``var = value``, first giving any alias of ``var`` its own copy (never into a
        variable the statement's contributions still read: ``pending``)."""
        for other, d in list(self.state.items()):
            if d.var == var and self.dname(other) != var:
                target = self.dname(other)
                if target in self.pending or any(
                    e.var == target for k, e in self.state.items() if k != other
                ):
                    target = self.names.fresh("g")  # d_other still holds another's adjoint
                self.emit(assign(target, name(var)), line)
                self.state[other] = D(target, nullable=d.nullable)
        self.emit(assign(var, value), line)

    def unalias(self, variables: set[str], keep: set[str], line: int) -> None:
        """Give each name (but those in ``keep``) whose adjoint sits in one of
        ``variables``, which a loop is about to assign, a variable of its own."""
        for other, d in list(self.state.items()):
            if other in keep or d.var not in variables:
                continue
            target = self.dname(other)
            if target in variables or any(
                e.var == target for k, e in self.state.items() if k != other
            ):
                target = self.names.fresh("g")
            self.emit(assign(target, name(d.var)), line)
            self.state[other] = D(target, nullable=d.nullable)

    def contribute(self, n: str, value: gast.expr, line: int, nullable: bool = False) -> None:
        """Add ``value`` to the adjoint of ``n``; ``nullable``: ``value`` is what a rule
        called by name gives (``rt.rule_grad``'s: a container's adjoint, a partial's, of
        another structure than ``+`` adds), added with ``rt.acc``, never ``+``."""
        current = self.state.get(n)
        var = self.dname(n)
        if current is None:
            if isinstance(value, gast.Name):
                self.state[n] = D(value.id, nullable=nullable)
            else:
                self.bind(var, value, line)
                self.state[n] = D(var, owned=is_index_grad(value), nullable=nullable)
            return
        if nullable or current.nullable:
            self.bind(var, call(attr("rt", "acc"), name(current.var), value), line)
            self.state[n] = D(var, owned=True, nullable=nullable and current.nullable)
            return
        if is_index_grad(value) and current.owned and current.var == var:
            _, index, g = value.args
            update = gast.Call(
                func=attr("rt", "index_add"), args=[name(var), index, g], keywords=[]
            )
            self.bind(var, update, line)
        elif (
            self.kinds.get(n, "array") == "array"
            and current.owned
            and current.var == var
            and not any(d.var == var for other, d in self.state.items() if other != n)
        ):
            # this code made the array: add in place
            self.emit(
                gast.AugAssign(target=name(var, store=True), op=gast.Add(), value=value), line
            )
        elif self.kinds.get(n, "array") == "array":
            self.bind(var, gast.BinOp(left=name(current.var), op=gast.Add(), right=value), line)
        else:
            self.bind(var, call(attr("rt", "acc"), name(current.var), value), line)
        self.state[n] = D(var, owned=True)

    def kill(self, n: str) -> None:
        """``n`` is assigned here: earlier statements see a fresh (zero) adjoint."""
        self.state.pop(n, None)

    # --- statements --------------------------------------------------------------------
    def statement(self, node: Step, frame: Frame, flag: int = 0) -> None:
        op = facts(node).op
        line = node.line
        if op.kind in (Kind.RETURN, Kind.BACKWARD):
            value = op.operands[0]
            if self.active(value):
                self.contribute(value.id, name(self.seed), line)
            return
        if op.kind is Kind.OVERWRITE:  # given values without gradient (under no_grad too)
            for n in [op.target] + [a.id for a in op.operands]:
                self.kill(n)
            return
        target = op.target
        if op.kind is Kind.RULE and op.flagged and flag == GAVE_INTEGERS:
            self.kill(target)  # (its adjoint, if any, goes no further)
            return
        if target not in self.state:
            return
        g = name(self.state[target].var)
        if op.kind is Kind.UNWRAP:
            self.kill(target)
            if flag == UNWRAPPED_LEAF:
                accumulate = call(
                    attr("rt", "accumulate_grad"), subscript(frame.saved, facts(node).sid), g
                )
                self.emit(gast.Expr(value=accumulate), line)
            elif flag == NOT_A_TENSOR and self.active(op.operands[0]):
                self.contribute(op.operands[0].id, g, line)
            return
        if op.kind is Kind.COPY:
            self.kill(target)
            if self.active(op.operands[0]):
                self.contribute(op.operands[0].id, g, line)
            return
        if self.probe is not None:
            seen = call(name(self.probe), const(line), const(target), g)
            self.emit(gast.Expr(value=seen), line)
        if op.kind is Kind.RULE and op.saves:
            self.emit(assign_many(op.saves, subscript(frame.saved, facts(node).sid)), line)
        for n, earlier in op.shared if op.kind is Kind.RULE else ():  # saved by ``earlier``
            self.emit(assign(n, saved_by(n, earlier, frame)), line)
        operands = list(op.operands)
        if op.kind is Kind.CALL:
            temp = self.names.fresh("r")
            # the primal's mask: the arguments active in the static analysis; of those,
            # the callee's adjoint gives the gradients of the ones live on this path
            masked = [a for a in operands if self.statically_active(a)]
            masked += [k.value for k in op.keywords if self.statically_active(k.value)]
            live = [i for i, a in enumerate(masked) if self.active(a)]
            args = [subscript(frame.saved, facts(node).sid), g]
            if len(live) < len(masked):
                args.append(gast.Tuple(elts=[const(i) for i in live], ctx=gast.Load()))
            self.emit(assign(temp, call(attr("rt", "call_vjp"), *args)), line)
            pairs = [
                (
                    operand_name(masked[i]),
                    gast.Subscript(value=name(temp), slice=const(i), ctx=gast.Load()),
                )  # fmt: skip
                for i in live
            ]
        else:
            pairs = self.expand_rule(op, g, target, operands, line)
        # a contribution that rebinds g's variable goes last; with two, g is copied first
        pairs.sort(key=lambda pair: self.dname(pair[0]) == g.id)
        if sum(self.dname(n) == g.id for n, _ in pairs) > 1:
            temp = self.names.fresh("g")
            self.emit(assign(temp, g), line)
            pairs = [(n, replace_name(e, g.id, temp)) for n, e in pairs]
        if self.probe is not None:  # each contribution, named by the operand it goes to
            pairs = [(n, self.probed_contribution(line, target, n, e)) for n, e in pairs]
        self.kill(target)
        self.pending = {g.id}  # the result's adjoint, which the contributions read
        by_name = op.kind is Kind.RULE and not op.rule.inline  # (rt.acc adds its grads)
        for n, e in pairs:
            self.contribute(n, e, line, nullable=by_name)
        self.pending = set()

    def probed_contribution(self, line: int, target: str, operand: str, e: gast.expr) -> gast.expr:
        """``c = e; probe(line, target, c, operand)``: a contribution given to the probe
        (an entry's, ``rt.index_grad(...)``, as it is: ``contribute`` adds it in place)."""
        if is_index_grad(e):
            seen = call(name(self.probe), const(line), const(target), e, const(operand))
            self.emit(gast.Expr(value=seen), line)
            return e
        c = self.names.fresh("c")
        self.emit(assign(c, e), line)
        seen = call(name(self.probe), const(line), const(target), name(c), const(operand))
        self.emit(gast.Expr(value=seen), line)
        return name(c)

    def expand_rule(
        self, op, g: gast.Name, target: str, operands: list, line: int
    ) -> list[tuple[str, gast.expr]]:
        ans = name(target)
        if op.dtype_at_run_time:  # zero for an integer result
            carried = self.names.fresh("g")
            self.emit(assign(carried, call(attr("rt", "carried"), g, ans)), line)
            g = name(carried)
        if op.rule.inline:
            expansion = expand(
                op.rule,
                g,
                ans,
                op.bound,
                operands,
                self.names,
                op.same_shape,
                op.number_operands,
                op.primitive is operator.mul,
            )
        else:
            fn_name = self.rule_names.setdefault(
                op.rule.fn, self.names.reserve(rule_name(op.rule.fn))
            )
            rule = op.rule
            for j in range(rule.npositional, min(rule.arity, len(operands))):
                if self.active(operands[j]):
                    raise self.a.source.error(
                        f"a derivative through {rule.params[j]}=, a keyword-only parameter of "
                        f"{getattr(op.primitive, '__qualname__', op.primitive)}: its rule "
                        f"{rule.fn.__qualname__} gives the gradients of the arguments it takes "
                        "by position",
                        line,
                        f"make {rule.params[j]} a positional parameter of the function and of "
                        "its rule",
                    )
            expansion = call_rule(fn_name, rule, g, ans, operands, self.names, op.keywords)
        for stmt in expansion.prelude:
            for inner in walk(stmt):  # a rule's nested statements (if ...: raise)
                if isinstance(inner, gast.stmt):
                    inner.lineno = line
            self.emit(stmt, line)
        return [
            (a.id, c)
            for a, c in zip(operands, expansion.components, strict=True)
            if c is not None and self.active(a)
        ]

    # --- blocks and loops ----------------------------------------------------------------
    def block(self, items: list[Item], frame: Frame) -> None:
        for item in reversed(items):
            if item.kind is Ran.STEP:
                self.statement(item.node, frame, item.taken)
            elif item.kind is Ran.LOOP:
                self.loop(item, frame)
            elif item.kind is Ran.TRY:
                line = item.node.line
                way = try_way(item, self.a)
                where = self.a.source.label(line)
                self.emit(comment(f"{where}: try: {way}", line), line)
            else:
                line = item.node.line
                choice = "taken" if item.taken else "not taken"
                where = self.a.source.label(line)
                self.emit(comment(f"{where}: if branch {choice}", line), line)

    def loop(self, item: Item, frame: Frame, first_set: frozenset[str] = frozenset()) -> None:
        """The reversed loop. ``first_set``: names the body reads before it assigns them
        and that have no value before the loop (a step reads the one before's)."""
        if not item.variants:
            return  # a loop whose iterations record their paths, run zero times
        s = item.node
        info = facts(s).loop
        line = s.line
        targets = {n for v in item.variants for n in targets_of(v.items)}
        if not first_set and SEEDED not in targets and not any(n in self.state for n in targets):
            # no adjoint reaches anything a step gives a value to (nor does a step return
            # or run a backward()): each step's adjoints are zero, and so are its
            # contributions (a loop whose result only an earlier backward() read)
            return
        # what the steps' adjoints read and no step changes
        if info.entry_read:
            self.entry_loads(s, frame, line)
        if info.hoisted:
            self.emit(assign_many(info.hoisted, subscript(frame.saved, facts(s).hoist_sid)), line)
        # to build the loop again if a step leaves adjoints for the one before (below)
        emitted, state, names = len(self.out), dict(self.state), copy.deepcopy(self.names)
        dnames, rule_names = dict(self.dnames), dict(self.rule_names)
        body_names = info.assigned & self.live
        contributed = set()
        for v in item.variants:
            contributed |= operands_of(v.items)
        carried = (
            {n for n in body_names if n in self.state}
            | (body_names & set(info.entry_saves))
            | first_set
        )
        accumulated = (contributed & self.live) - info.assigned
        loop_names = sorted(carried | accumulated)
        missing = [n for n in loop_names if n not in self.state]
        if missing:
            absent = [
                n
                for n in missing
                if n not in info.entry_saves
                and n not in info.exit_saves
                and n not in info.maybe_saves
            ]
            if absent:
                raise self.a.source.error(
                    f"cannot differentiate this loop: {', '.join(absent)} "
                    "may be undefined before it",
                    line,
                    "assign it before the loop",
                )
            if info.entry_saves and not info.entry_read:
                self.entry_loads(s, frame, line)
            for n in missing:
                value: gast.expr = name(n)
                if n in first_set:  # zero after the last step, shaped like its value then
                    value = call(attr(frame.saved, "get"), const(facts(s).exit_sids[n]))
                elif n in info.maybe_saves:  # shaped like its value before the loop, if any
                    value = call(attr(frame.saved, "get"), const(facts(s).maybe_sids[n]))
                elif n in info.final_saves:  # shaped like its value after the loop
                    value = subscript(frame.saved, facts(s).final_sid)
                    if len(info.final_saves) > 1:
                        value = gast.Subscript(value=value, slice=const(
                            info.final_saves.index(n)), ctx=gast.Load())  # fmt: skip
                self.bind(self.dname(n), call(attr("rt", "zeros_like"), value), line)
                self.state[n] = D(self.dname(n), owned=True)
        indexed = indexed_names(item.variants)
        for n in loop_names:
            d = self.state[n]
            if d.var != self.dname(n):
                self.bind(self.dname(n), name(d.var), line)
                self.state[n] = d = D(self.dname(n))
            if n in accumulated and n in indexed and not d.owned:
                self.bind(self.dname(n), call(attr("rt", "owned"), name(self.dname(n))), line)
                self.state[n] = D(self.dname(n), owned=True)
        self.unalias(
            # (names taken in order: the same source whatever the strings' hashes)
            {self.dname(n) for n in sorted(info.assigned | set(loop_names))},
            set(loop_names),
            line,
        )
        start = {n: d for n, d in self.state.items() if n not in body_names}
        for n in carried:
            start[n] = D(self.dname(n))
        inner = Frame(*self.p.frame_names(frame.depth + 1), frame.depth + 1)
        record = subscript(frame.saved, facts(s).sid)
        bodies = []
        outer_out = self.out
        for v in item.variants:
            self.state = dict(start)
            self.out = []
            self.block(v.items, inner)
            crossing = (body_names & set(self.state)) - set(loop_names)
            if crossing:  # adjoints for the step before: build the loop again, carrying them
                del outer_out[emitted:]
                self.out = outer_out
                self.state, self.names, self.dnames = state, names, dnames
                self.rule_names.clear()  # shared with the unit: put back as it was
                self.rule_names.update(rule_names)
                self.loop(item, frame, first_set | crossing)
                return
            for n in loop_names:
                d = self.state.get(n)
                if d is None:  # the step's adjoint restarts: zero for the step before
                    self.bind(self.dname(n), self.restarted(s, n, inner), line)
                elif d.var != self.dname(n):
                    self.bind(self.dname(n), name(d.var), line)
            bodies.append(self.out or [at(gast.Pass(), line)])
        self.out = outer_out
        self.state = start
        for n in accumulated:
            self.state[n] = D(self.dname(n), owned=n in indexed)
        reversed_record = call(name("reversed"), record)
        if info.branching:
            variant = self.names.reserve(f"_v{inner.depth}")
            target = gast.Tuple(
                elts=[name(variant, store=True), name(inner.saved, store=True)], ctx=gast.Store()
            )
            body = dispatch(variant, bodies, line)
        else:
            target = name(inner.saved, store=True)
            body = bodies[0]
        self.emit(
            gast.For(target=target, iter=reversed_record, body=body, orelse=[], type_comment=None),
            line,
        )

    def entry_loads(self, loop: Repeat, frame: Frame, line: int) -> None:
        """Load what ``loop`` saved on entering it, and what earlier statements saved for
        it (``Loop.entry_shared``)."""
        info = facts(loop).loop
        shared = dict(info.entry_shared)
        own = tuple(n for n in info.entry_saves if n not in shared)
        if own:
            self.emit(assign_many(own, subscript(frame.saved, facts(loop).entry_sid)), line)
        for n, earlier in info.entry_shared:
            self.emit(assign(n, saved_by(n, earlier, frame)), line)

    def restarted(self, loop: Repeat, n: str, inner: Frame) -> gast.expr:
        """A zero adjoint for ``n`` as a step of ``loop`` started, shaped like its value
        then (which may differ from the value the step left: a layer's output)."""
        sid = facts(loop).start_sids.get(n)
        if sid is None:
            like: gast.expr = name(self.dname(n))
        elif n in facts(loop).loop.entry_saves:  # set before the loop: saved by every step
            like = subscript(inner.saved, sid)
        else:
            like = call(attr(inner.saved, "get"), const(sid))
        return call(attr("rt", "zeros_like"), like)

    def build(
        self,
        fn_name: str,
        key: tuple,
        stop: int | None = None,
        wanted: tuple[str, ...] | None = None,
    ) -> gast.FunctionDef:
        try:
            items, _ = select(self.a.program, iter(key), stop)
        except Refused as refused:
            raise self.a.source.error(refused.what, refused.node, refused.hint) from None
        seeds = set(self.wrt if wanted is None else wanted)
        self.live = path_activity(items, seeds)
        self.live &= path_usefulness(items, self.live)
        self.block(items, Frame(self.p.saved, self.p.path, 0))
        results = [
            name(self.state[n].var) if n in self.state and n in seeds else const(None)
            for n in self.wrt
        ]
        self.out.append(gast.Return(value=gast.Tuple(elts=results, ctx=gast.Load())))
        args = gast.arguments(
            args=[
                gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
                for n in (self.p.saved, self.seed)
            ],
            posonlyargs=[],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        )
        fn = gast.FunctionDef(
            name=fn_name,
            args=args,
            body=self.out,
            decorator_list=[],
            returns=None,
            type_comment=None,
            type_params=[],
        )
        fn.lineno = self.a.source.lineno
        return fn


def rule_name(fn: Any) -> str:
    """The name generated code calls a user's rule by: its own, or ``vjp_rule`` for a
    lambda (``<lambda>`` is not a name)."""
    own = getattr(fn, "__name__", "")
    return own if own.isidentifier() else "vjp_rule"


def saved_by(n: str, earlier: gast.stmt, frame: Frame) -> gast.expr:
    """The value of ``n`` the statement ``earlier`` saved (``_saved[3]``, ``_s1[5][1]``):
    a loop, as it ended (its ``final_saves``)."""
    if isinstance(earlier, (gast.For, gast.While)):
        sid, saves = facts(earlier).final_sid, facts(earlier).loop.final_saves
    else:
        sid, saves = facts(earlier).sid, facts(earlier).op.saves
    value: gast.expr = subscript(frame.saved, sid)
    if len(saves) > 1:
        value = gast.Subscript(value=value, slice=const(saves.index(n)), ctx=gast.Load())
    return value


def assign_many(names: tuple[str, ...], value: gast.expr) -> gast.Assign:
    if len(names) == 1:
        return assign(names[0], value)
    target = gast.Tuple(elts=[name(n, store=True) for n in names], ctx=gast.Store())
    return gast.Assign(targets=[target], value=value, type_comment=None)


def dispatch(variant: str, bodies: list[list[gast.stmt]], line: int) -> list[gast.stmt]:
    """``if _v1 == 0: ... elif _v1 == 1: ...`` over the kinds of iterations seen."""
    chain: list[gast.stmt] = bodies[-1]
    for index in range(len(bodies) - 2, -1, -1):
        test = gast.Compare(left=name(variant), ops=[gast.Eq()], comparators=[const(index)])
        chain = [at(gast.If(test=test, body=bodies[index], orelse=chain), line)]
    return chain


def operands_of(items: list[Item]) -> set[str]:
    found = set()
    for item in items:
        if item.kind is Ran.STEP:
            found |= {operand_name(a) for a in facts(item.node).op.operands} - {None}
            found |= {operand_name(k.value) for k in facts(item.node).op.keywords} - {None}
        elif item.kind is Ran.LOOP:
            for v in item.variants:
                found |= operands_of(v.items)
    return found


SEEDED = "<an adjoint starts here>"  # see targets_of


def targets_of(items: list[Item]) -> set[str]:
    """The names these statements give values to (loops' too); with ``SEEDED`` where one
    is a return or a backward(), where an adjoint starts."""
    found = set()
    for item in items:
        if item.kind is Ran.STEP:
            op = facts(item.node).op
            if op.kind in (Kind.RETURN, Kind.BACKWARD):
                found.add(SEEDED)
            elif op.target is not None:
                found.add(op.target)
        elif item.kind is Ran.LOOP:
            for v in item.variants:
                found |= targets_of(v.items)
    return found


def indexed_names(variants: list[Variant]) -> set[str]:
    """Names read by indexing in these iterations (their adjoints get scattered into)."""
    found = set()
    for v in variants:
        for item in v.items:
            if item.kind is Ran.STEP:
                op = facts(item.node).op
                if (
                    op.kind is Kind.RULE
                    and op.rule.name == "getitem"
                    and isinstance(op.operands[0], gast.Name)
                ):
                    found.add(op.operands[0].id)
            elif item.kind is Ran.LOOP:
                found |= indexed_names(item.variants)
    return found


def replace_name(e: gast.expr, old: str, new: str) -> gast.expr:
    e = copy.deepcopy(e)
    for n in walk(e):
        if isinstance(n, gast.Name) and n.id == old:
            n.id = new
    return e


def adjoint(
    analysis: Program,
    primal: PrimalBuilder,
    names: Names,
    key: tuple,
    wrt: list[str],
    kinds: dict[str, str],
    fn_name: str,
    rule_names: dict[Any, str],
    stop: int | None = None,
    wanted: tuple[str, ...] | None = None,
    probe: str | None = None,
) -> gast.FunctionDef:
    """The adjoint function of the path ``key``: ``(saved, d_result) -> grads of wrt``
    (for the statements before the ``backward()`` numbered ``stop``, when given; None for
    the parameters not ``wanted``, when given; calling ``probe(line, name, gradient)``
    with each differentiated result's gradient, when given)."""
    builder = AdjointBuilder(analysis, primal, names, wrt, kinds, rule_names)
    builder.probe = probe
    return builder.build(fn_name, key, stop, wanted)
