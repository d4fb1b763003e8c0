"""The compiler's intermediate representation: what each normalized statement computes
and what the back ends need to know about it, as declared, typed facts.

Every statement of the normalized function has one ``Facts`` record (``facts(s)`` reads
it, ``mark(s, field=value)`` sets fields of it). The front end (``pipeline.front_end``)
leaves an ``Op`` in the facts of every statement and a ``Loop`` in those of every loop;
the back ends (trace, differentiate, tangent, and the diagnostics) read them and nothing
else of the analysis. No stage sets attributes of its own on the tree's nodes.

Once no stage rewrites the tree any more, the front end makes the function typed IR
(``build``, in ``Analysis.program``): ``Step`` nodes for straight-line statements and
``Branch``, ``Repeat``, ``TryBlock`` and ``NoGradBlock`` nodes for the structured ones,
each keeping its statement (whose facts the stages read and mark), line and position.
The analysis and the back ends walk that IR, through ``Visitor`` or the node types,
never the control flow of the gast tree, and read a node's facts as ``facts(node)``.
The recorded Tensor operations make their ``Step`` nodes directly, with facts of their
own and no statement; what the back ends read of either front end is a ``Program``.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

import gast

from ..rules import registry
from .parse import Listing, Parsed

R = TypeVar("R")


class Dialect(enum.Enum):
    """The Python a compiled function is written in: NumPy-style code on arrays, or
    PyTorch-style code on Tensors. It picks how the front end lowers the function (Tensor
    code gets its Tensors unwrapped and its ``backward()`` calls made operations) and how
    the analysis reads attributes; the back ends never see it."""

    ARRAYS = "arrays"  # NumPy-style code: sd.grad's functions and their callees
    TENSORS = "Tensors"  # PyTorch-style code called with Tensors: an @sd.differentiate step
    TENSOR_CALLEE = "Tensors, called from compiled Tensor code"  # its parameters are arrays

    @property
    def on_tensors(self) -> bool:
        """Whether the code is PyTorch-style: attributes and methods are the Tensor's."""
        return self is not Dialect.ARRAYS


class Kind(enum.Enum):
    """What a statement does, as the back ends see it."""

    COPY = "copy"  # x = y
    RULE = "rule"  # a primitive with a registered rule
    CALL = "call"  # a function srcdiff compiles (or one with a rule), through rt.call
    RETURN = "return"
    BACKWARD = "backward"  # a Tensor's backward(): the adjoint of what came before
    UNWRAP = "unwrap"  # a Tensor becoming its array (Tensor code)
    OVERWRITE = "overwrite"  # an active name given a value without gradient
    PASSIVE = "passive"  # nothing to differentiate

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):  # a kind is a type: a string never equals one
            raise TypeError(f"compare Op kinds with Kind members, not {other!r}")
        return self is other

    __hash__ = enum.Enum.__hash__


# the kinds whose statements carry gradient from their operands to their target
DIFFERENTIATING = (Kind.RULE, Kind.CALL, Kind.COPY, Kind.UNWRAP, Kind.OVERWRITE)


@dataclass
class Op:
    """One normalized statement, as the primal and the adjoint see it.

    ``kind`` says what it does (see ``Kind``); an ``overwrite``'s adjoint restarts from
    zero there.
    """

    kind: Kind
    target: str | None = None
    rule: registry.Rule | None = None
    operands: list[gast.expr] = field(default_factory=list)
    bound: dict[str, gast.expr] = field(default_factory=dict)
    primitive: Any = None
    callee: gast.expr | None = None
    keywords: list[gast.keyword] = field(default_factory=list)
    saves: tuple[str, ...] = ()
    # values its adjoint reads that an earlier statement of its block saves, unchanged
    # since: read from there rather than saved again (see ``share_saves``)
    shared: tuple[tuple[str, gast.stmt], ...] = ()
    # the primal records a flag for it in the path: a call or an unwrap in Tensor code,
    # whether it met a Tensor that requires grad
    flagged: bool = False
    same_shape: frozenset[int] = frozenset()  # operands shaped like the result (``shapes``)
    number_operands: frozenset[int] = frozenset()  # globals holding numbers, by position
    # a method's name taken for an array's or a dict's (``h.copy()``) where the owner may
    # be a user's object: the primal checks that it is not (``rt.receiver``)
    receiver: str | None = None
    # ... in Tensor code, where an array stands for a computed Tensor: the method must be
    # one of the Tensor's too (``h.repeat(2, 1)`` is not NumPy's repeat)
    receiver_tensor: bool = False
    # a dtype= whose value only the running code knows (``np.sum(x, dtype=d)``): the
    # result's adjoint or tangent passes through ``rt.carried`` (zero for integers)
    dtype_at_run_time: bool = False
    # the operands of a Python operator (``a + b``, ``d | e``) or a NumPy function, where
    # some may be objects of a user's class (or dicts, np.matrix ...) running operators
    # of their own: the primal checks them (``rt.operands(symbol, ...)``); see
    # ``analyse.check_operands``
    checked: tuple[gast.expr, ...] = ()
    symbol: str = ""
    # the keys of a dict display, or the index of an item assignment, that may be computed
    # from differentiated values: the primal checks they are no numbers (``rt.plain_keys``)
    keys: tuple[gast.expr, ...] = ()
    # a differentiated value given where PyTorch takes a Number only (``x.new_full(size,
    # x[0])``): the primal raises PyTorch's TypeError where it is an array
    # (``rt.number_argument(value, function, parameter, position)``)
    numbers: tuple[gast.expr, ...] = ()

    def operand_names(self) -> list[str]:
        return [n for n in map(operand_name, self.operands) if n is not None]


@dataclass
class Loop:
    """Facts about one loop that the primal and the adjoint share."""

    index: int
    branching: bool
    assigned: set[str]
    entry_saves: tuple[str, ...]
    exit_saves: tuple[str, ...] = ()  # carried from a step to the next, unset before the loop
    maybe_saves: tuple[str, ...] = ()  # read, not assigned, maybe unset before the loop
    # assigned, and set before the loop: their last values give the shape of a zero
    # adjoint where nothing after the loop reads them (a list it grows, say)
    final_saves: tuple[str, ...] = ()
    invariant: frozenset[str] = frozenset()  # read, not assigned, set before the loop
    # invariant values the adjoints of its steps read: saved once, on entering the loop,
    # rather than with each step (see hoist_invariant_saves)
    hoisted: tuple[str, ...] = ()
    entry_read: bool = False  # the steps' adjoints read some of entry_saves (not hoisted)
    # of entry_saves, those an earlier statement of the record saved, unchanged since: the
    # adjoint reads them from there (see ``share_saves``), the loop saves the others
    entry_shared: tuple[tuple[str, gast.stmt], ...] = ()
    # assigned in a step, with a value when it starts, where a step's adjoint may not reach
    # that value (a branch, or a Tensor without gradient, gives it a new one): the value,
    # saved as each step starts, shapes the zero adjoint the step before is given
    start_saves: tuple[str, ...] = ()


@dataclass(frozen=True)
class Iterated:
    """The sequences a ``for`` loop runs over (their names, and as the user wrote them),
    and the name of the number of steps it takes: Python runs over a list as it changes,
    compiled code that many steps, so an update in place of one of them must leave the
    count as it was (``rt.check_length``)."""

    sequences: tuple[str, ...]
    shown: tuple[str, ...]
    count: str

    def renamed(self, names: dict[str, str]) -> Iterated:
        return Iterated(tuple(names.get(n, n) for n in self.sequences), self.shown,
                        names.get(self.count, self.count))  # fmt: skip


@dataclass(kw_only=True)
class Program:
    """What the back ends read of a program, whichever front end made it (a function's
    source, or recorded Tensor operations): its body as typed IR (``build``), its
    parameters, the names that may be active, and the lines its statements stand for."""

    source: Listing
    params: list[str]
    active: set[str]
    program: Block = ()

    def resolve(self, name: str) -> tuple[bool, Any]:
        """The object a free name of the program refers to, if found: a program srcdiff
        writes itself (recorded operations) reads none."""
        return False, None


@dataclass
class Analysis(Program):
    """The analysed function: its parse, its normalized tree (statements carry their
    ``Op``) and what the analysis found of it as a whole. (Whether it computes with
    Tensors is the front end's business: what the back ends must do differently is in
    the ops.)"""

    parsed: Parsed
    fn: gast.FunctionDef
    pure: bool = False  # no side effects and no recursion (see ``is_pure``, ``recursive``)
    assumed_numbers: frozenset[str] = frozenset()  # globals the code takes for numbers
    updated: tuple[str, ...] = ()  # parameters whose (the caller's) objects it updates
    updated_by_name: tuple[str, ...] = ()  # of those, the ones updated through their name

    def resolve(self, name: str) -> tuple[bool, Any]:
        return self.parsed.resolve(name)


@dataclass
class Facts:
    """What the stages learn about one statement of the normalized function, as declared
    fields: a stage sets its own (``mark``), the stages after it read them (``facts``).
    The two fields marked *function* are facts about the function (on its ``FunctionDef``)."""

    # normalize
    no_grad: bool = False  # a ``with sd.no_grad():`` block: run as written, not differentiated
    stores: tuple[str, ...] = ()  # the names a no_grad block assigns
    changes: tuple[str, ...] = ()  # ... and those whose objects it may change in place
    holders: tuple[str, ...] = ()  # ... and those whose entries a loop of it may change
    # ... and those it only updates (``h -= v``): in place, as PyTorch's keep their graph
    augmented: tuple[str, ...] = ()
    inplace: bool = False  # a rebinding Python does in place (``h += v``, ``xs.append(v)``)
    augments: bool = False  # ... of ``h += v`` (a name's: ``h = t``)
    entry_update: bool = False  # ``t = c[k] + v`` of ``c[k] += v`` (see mutation.entry_updates)
    entry_of: str | None = None  # ... and the container's name (None: not a name)
    put_back: bool = False  # a write back into a holder: every entry holding it sees it
    # ``o.n = t`` of ``o.n += v``: a Tensor the field holds is changed in place, as PyTorch's
    augmented_field: bool = False
    # an argument's new value a callee returned (``rt.returning``): the call's own value
    returned: str | None = None
    # inline: an inlined call's check (``if rt.inlined(site): <code> else: <the call>``)
    site: bool = False
    written_back: frozenset[str] = frozenset()  # the holders a write (back) reaches
    attribute_entries: frozenset[str] = frozenset()  # function: entries reached as views
    # sharing (mutation)
    sharing: Any = None  # function: which names may hold the same object (``Sharing``)
    callers: bool = False  # an in-place update of an object the caller may hold
    # ... one a global may hold (not only a parameter, whose object is written back after
    # the call): a write without gradient is made in it too (``rt.write_through``)
    outside: bool = False
    # a number written into a list's or dict's entry reached through an attribute
    # (``opt.param_groups[0]["lr"] = lr``): made in that object (``rt.write_entry``)
    through_attribute: bool = False
    # ... in Tensor code, of a value that may carry a gradient (``t.stats["n"] += 1``): made
    # there as eager code makes it, where it carries none (``rt.write_entry_held``)
    held_entry: bool = False
    # ... its value's gradient roots (see ``analyse.gradient_roots``), and whether it is
    # the write of an augmented update (``self.xs[0] += 1.0``: a Tensor there changed in place)
    entry_roots: tuple[str, ...] = ()
    augmented_entry: bool = False
    # snapshots: a write without gradient into an array a global may hold, made in that
    # object as Python makes it (``rt.write_into``, ``rt.update_into``), in NumPy-style code
    in_object: bool = False
    # ... where the updated name may hold such an object or one of its own: the globals
    # whose objects it is checked against where it runs (``rt.update_if_outside``,
    # ``rt.write_through``)
    held_outside: tuple[str, ...] = ()
    follows: bool = False  # ``m = <followed>``: m's object was updated in place
    iterates: Iterated | None = None  # normalize: a ``for`` loop's sequences
    drop: bool = False  # a copy whose value the write after it takes directly
    # analyse
    op: Op | None = None  # what the statement computes (assignments, returns, ...)
    loop: Loop | None = None  # of a ``for``/``while``
    functional: bool = False  # an update that makes a new value (not the caller's object)
    # an iteration (``rt.iterable(xs)``, ``list(xs)``, ``sum(xs)`` ...) of a value surely no
    # dict: its tangent needs no ``rt.keyless`` (a dict's iteration gives its keys)
    dictless: bool = False
    # trace: positions, what goes into the path, and the numbers of saved values
    pos: int = 0  # in the order of ``walk_statements``
    last: int = 0  # the last position inside the statement (its own if simple)
    recorded: bool = False  # an ``if``'s choice, or a ``try``'s way, goes into the path
    transient: bool = False  # read only later on its own line: see trace.mark_transient
    sid: int | None = None  # the number its saved values are saved under
    entry_sid: int | None = None  # a loop's values saved on entering it
    hoist_sid: int | None = None  # ... its invariant values saved once
    final_sid: int | None = None  # ... its values saved on leaving it
    maybe_sids: dict[str, int] = field(default_factory=dict)  # per name, maybe unset
    exit_sids: dict[str, int] = field(default_factory=dict)  # per name carried out
    start_sids: dict[str, int] = field(default_factory=dict)  # per name, as a step starts
    record: str | None = None  # the name of a loop's record of its iterations
    attempt: str | None = None  # the name of a try's record of its way
    kept: str | None = None  # the name keeping ``_at`` over a ``finally``
    handling: str | None = None  # the name of the exception handled where a try starts
    # differentiate: a statement that is a ``# comment`` line of generated source
    comment: bool = False
    # tangent: a tangent statement in a try's body (``flag_tangents`` raises the flag
    # around it), and on the function, that flag's name
    guarded: bool = False
    flag: str | None = None

    def copy(self) -> Facts:
        """Facts of their own for a copy of the statement (its numbering tables too)."""
        new = object.__new__(Facts)
        new.__dict__.update(self.__dict__)
        new.maybe_sids, new.exit_sids = dict(self.maybe_sids), dict(self.exit_sids)
        new.start_sids = dict(self.start_sids)
        return new


class _NoFacts(Facts):
    """The facts of a statement no stage has marked: all defaults, and read-only (a
    write must go through ``mark``, which gives the statement facts of its own)."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"set facts with ir.mark(node, {name}=...), not through facts()")


def _no_facts() -> Facts:
    none = Facts(
        maybe_sids=MappingProxyType({}),  # type: ignore[arg-type]
        exit_sids=MappingProxyType({}),  # type: ignore[arg-type]
        start_sids=MappingProxyType({}),  # type: ignore[arg-type]
    )
    none.__class__ = _NoFacts
    return none


NO_FACTS = _no_facts()
FACT_NAMES = frozenset(f.name for f in fields(Facts))


def facts(node: gast.AST | Node) -> Facts:
    """The facts of ``node`` (read-only defaults when no stage has marked it): of a
    statement, or of an IR node (its statement's, or those of a step no statement stands
    for, a recorded operation, which it keeps itself)."""
    own = node.__dict__.get("facts")
    if own is not None:
        return own
    stmt = node.__dict__.get("stmt")  # (an IR node's; no gast node has one)
    return NO_FACTS if stmt is None else stmt.__dict__.get("facts", NO_FACTS)


def mark(node: gast.AST | Node, **values: Any) -> Facts:
    """Set facts of ``node``, a statement or an IR node (giving it a record of its own
    first); its record."""
    stmt = node.__dict__.get("stmt")
    if stmt is not None:
        node = stmt
    own = node.__dict__.get("facts")
    if own is None:  # (through __dict__: IR nodes are frozen dataclasses)
        own = node.__dict__["facts"] = Facts()
    for k, v in values.items():
        if k not in FACT_NAMES:
            raise AttributeError(f"Facts has no field {k!r}")
        setattr(own, k, v)
    return own


def operand_name(e: gast.expr | None) -> str | None:
    """The name an operand reads: ``a``, or ``a`` of ``*a`` in a call (else None)."""
    if isinstance(e, gast.Starred):
        e = e.value
    return e.id if isinstance(e, gast.Name) else None


def hashable(obj: object) -> bool:
    """Whether ``obj`` can be looked up in a table of objects (a global list cannot)."""
    try:
        hash(obj)
    except TypeError:
        return False
    return True


# ---- the program as typed IR ---------------------------------------------------------
#
# After the front end, the function is a ``Block`` of IR nodes: straight-line statements
# (``Step``) and the structured statements normalize leaves (``Branch``, ``Repeat``,
# ``TryBlock``, ``NoGradBlock``). Each node keeps the normalized statement it stands for
# (``stmt``, whose ``Facts`` the stages mark; a recorded operation's step has none, and
# facts of its own), its user line and its position. The back ends walk it through
# ``Visitor``, so a construct is dispatched in one place, and read ``facts(node)``.


class StepKind(enum.Enum):
    """What a straight-line statement is."""

    ASSIGN = "assign"
    EXPR = "expression"
    RETURN = "return"
    BREAK = "break"
    CONTINUE = "continue"
    PASS = "pass"
    RAISE = "raise"
    ASSERT = "assert"


class LoopKind(enum.Enum):
    """A ``for`` loop over a sequence or a ``while`` loop on a test."""

    FOR = "for"
    WHILE = "while"


STEP_KINDS = {gast.Assign: StepKind.ASSIGN, gast.Expr: StepKind.EXPR,
              gast.Return: StepKind.RETURN, gast.Break: StepKind.BREAK,
              gast.Continue: StepKind.CONTINUE, gast.Pass: StepKind.PASS,
              gast.Raise: StepKind.RAISE, gast.Assert: StepKind.ASSERT}  # fmt: skip


@dataclass(frozen=True, eq=False)
class Step:
    """A straight-line statement: its user line and its position (``pos``: its number in
    the order of ``walk_nodes``, which is that of ``normalize.walk_statements``), and
    what it computes (``op``: its facts', None before the analysis gives it one). A
    recorded Tensor operation is a step no statement stands for (``stmt`` None): its
    facts are its own (``recorded``)."""

    stmt: gast.stmt | None
    kind: StepKind
    line: int
    pos: int
    visits: ClassVar[str] = "on_step"

    @classmethod
    def recorded(cls, kind: StepKind, line: int, pos: int, **values: Any) -> Step:
        """A step of recorded operations, with the facts ``values``."""
        step = cls(None, kind, line, pos)
        mark(step, **values)
        return step

    @property
    def op(self) -> Op | None:
        return facts(self).op

    @property
    def last(self) -> int:
        return self.pos


@dataclass(frozen=True, eq=False)
class Branch:
    """``if test: body else: orelse``; ``last`` is the last position inside it."""

    stmt: gast.If
    test: gast.expr
    body: Block
    orelse: Block
    line: int
    pos: int
    last: int
    visits: ClassVar[str] = "on_branch"


@dataclass(frozen=True, eq=False)
class Repeat:
    """A loop: ``for target in iter: body`` or ``while test: body``, with the facts the
    analysis finds of it (``loop``: its statement's, None before)."""

    stmt: gast.For | gast.While
    kind: LoopKind
    target: gast.expr | None
    iter: gast.expr | None
    test: gast.expr | None
    body: Block
    line: int
    pos: int
    last: int
    visits: ClassVar[str] = "on_repeat"

    @property
    def loop(self) -> Loop | None:
        return facts(self).loop


@dataclass(frozen=True, eq=False)
class Clause:
    """One ``except type as name:`` clause of a try."""

    handler: gast.ExceptHandler
    type: gast.expr | None
    name: str | None
    body: Block
    line: int


@dataclass(frozen=True, eq=False)
class TryBlock:
    """``try: body`` with its except clauses, else block and finally block."""

    stmt: gast.Try
    body: Block
    handlers: tuple[Clause, ...]
    orelse: Block
    finalbody: Block
    line: int
    pos: int
    last: int
    visits: ClassVar[str] = "on_try"


@dataclass(frozen=True, eq=False)
class NoGradBlock:
    """A ``with sd.no_grad():`` block: the user's code, run as written and not
    differentiated (one opaque node; its facts say what it stores and changes)."""

    stmt: gast.With
    line: int
    pos: int
    returns: bool = False  # a return in its code
    jumps: bool = False  # a break or continue of a loop around it
    visits: ClassVar[str] = "on_no_grad"

    @property
    def last(self) -> int:
        return self.pos


Node = Step | Branch | Repeat | TryBlock | NoGradBlock
Block = tuple[Node, ...]


def build(body: list[gast.stmt]) -> Block:
    """The IR of a normalized body, once no stage rewrites it (positions counted from 1):
    the analysis then walks it, and marks the facts its nodes read (``op``, ``loop``)."""
    return _Builder().block(body)


class _Builder:
    def __init__(self) -> None:
        self.count = 0

    def block(self, body: list[gast.stmt]) -> Block:
        return tuple(self.node(s) for s in body)

    def node(self, s: gast.stmt) -> Node:
        self.count += 1
        pos, line = self.count, s.lineno
        if facts(s).no_grad:
            returns = any(isinstance(n, gast.Return) for n in gast.walk(s))
            return NoGradBlock(s, line, pos, returns, _jumps(s.body))
        if isinstance(s, gast.If):
            body, orelse = self.block(s.body), self.block(s.orelse)
            return Branch(s, s.test, body, orelse, line, pos, self.count)
        if isinstance(s, (gast.For, gast.While)):
            body = self.block(s.body)
            if s.orelse:
                raise TypeError("a normalized loop has no else block")
            if isinstance(s, gast.For):
                return Repeat(s, LoopKind.FOR, s.target, s.iter, None, body, line, pos,
                              self.count)  # fmt: skip
            return Repeat(s, LoopKind.WHILE, None, None, s.test, body, line, pos, self.count)
        if isinstance(s, gast.Try):
            body = self.block(s.body)
            handlers = tuple(self.clause(h) for h in s.handlers)
            orelse, finalbody = self.block(s.orelse), self.block(s.finalbody)
            return TryBlock(s, body, handlers, orelse, finalbody, line, pos, self.count)
        kind = STEP_KINDS.get(type(s))
        if kind is None:
            raise TypeError(f"no IR node for a normalized {type(s).__name__} statement")
        return Step(s, kind, line, pos)

    def clause(self, h: gast.ExceptHandler) -> Clause:
        named = h.name.id if isinstance(h.name, gast.Name) else h.name
        return Clause(h, h.type, named, self.block(h.body), h.lineno)


def _jumps(body: list[gast.stmt]) -> bool:
    """Whether user code run as written breaks or continues a loop around it."""
    for s in body:
        if isinstance(s, (gast.Break, gast.Continue)):
            return True
        if isinstance(s, (gast.For, gast.While)):
            continue  # (its own loop)
        inner = [getattr(s, f, []) for f in ("body", "orelse", "finalbody")]
        inner += [h.body for h in getattr(s, "handlers", [])]
        if any(_jumps(b) for b in inner if isinstance(b, list)):
            return True
    return False


def leaves_finally(body: Block) -> bool:
    """Whether a finally block may leave by a return, or a break or continue of the loop
    around its try (which drops the exception going through)."""

    def leaves(nodes: Block, in_loop: bool) -> bool:
        for n in nodes:
            if isinstance(n, Step) and (n.kind is StepKind.RETURN or not in_loop and n.kind in
                                        (StepKind.BREAK, StepKind.CONTINUE)):  # fmt: skip
                return True
            if isinstance(n, NoGradBlock) and (n.returns or n.jumps and not in_loop):
                return True
            looping = in_loop or isinstance(n, Repeat)
            if any(leaves(b, looping) for b in blocks_of(n)):
                return True
        return False

    return leaves(body, False)


def blocks_of(node: Node) -> list[Block]:
    """The blocks nested in ``node``, in the order they may run (none in a no_grad
    block, which is run as written)."""
    if isinstance(node, Branch):
        return [node.body, node.orelse]
    if isinstance(node, Repeat):
        return [node.body]
    if isinstance(node, TryBlock):
        return [node.body, *(c.body for c in node.handlers), node.orelse, node.finalbody]
    return []


def walk_nodes(block: Block) -> Iterator[Node]:
    """Every node of ``block``, depth first (the order of positions)."""
    for node in block:
        yield node
        for inner in blocks_of(node):
            yield from walk_nodes(inner)


class Visitor(Generic[R]):
    """A back end's structural dispatch over IR nodes: ``visit(node, ...)`` calls the
    method for the node's type (``on_step``, ``on_branch``, ``on_repeat``, ``on_try``,
    ``on_no_grad``) with the same extra arguments."""

    def visit(self, node: Node, *args: Any) -> R:
        return getattr(self, node.visits)(node, *args)

    def on_step(self, node: Step, *args: Any) -> R:
        raise NotImplementedError

    def on_branch(self, node: Branch, *args: Any) -> R:
        raise NotImplementedError

    def on_repeat(self, node: Repeat, *args: Any) -> R:
        raise NotImplementedError

    def on_try(self, node: TryBlock, *args: Any) -> R:
        raise NotImplementedError

    def on_no_grad(self, node: NoGradBlock, *args: Any) -> R:
        raise NotImplementedError


def show_ir(block: Block, depth: int = 0) -> str:
    """The IR as indented text, a node a line: its position, user line and what it is."""
    lines: list[str] = []
    pad = "    " * depth
    for node in block:
        head = f"{pad}[{node.pos}] line {node.line}: "
        if isinstance(node, Step):
            text = _text(node.stmt) if node.stmt is not None else _recorded_text(node.op)
            kind = f"{node.kind.value}" + (f", {node.op.kind.value}" if node.op else "")
            lines.append(f"{head}{text}  # {kind}")
        elif isinstance(node, Branch):
            lines.append(f"{head}branch on {_text(node.test)}")
            lines.append(show_ir(node.body, depth + 1))
            if node.orelse:
                lines += [f"{pad}else", show_ir(node.orelse, depth + 1)]
        elif isinstance(node, Repeat):
            if node.kind is LoopKind.FOR:
                what = f"for {_text(node.target)} in {_text(node.iter)}"
            else:
                what = f"while {_text(node.test)}"
            index = f" (loop {node.loop.index})" if node.loop is not None else ""
            lines += [f"{head}{what}{index}", show_ir(node.body, depth + 1)]
        elif isinstance(node, TryBlock):
            lines += [f"{head}try", show_ir(node.body, depth + 1)]
            for c in node.handlers:
                caught = _text(c.type) if c.type is not None else ""
                named = f" as {c.name}" if c.name else ""
                lines += [f"{pad}except {caught}{named}".rstrip(), show_ir(c.body, depth + 1)]
            for title, inner in (("else", node.orelse), ("finally", node.finalbody)):
                if inner:
                    lines += [f"{pad}{title}", show_ir(inner, depth + 1)]
        else:
            lines.append(f"{head}no_grad block (run as written)")
    return "\n".join(line for line in lines if line)


def _text(e: gast.AST) -> str:
    return ast.unparse(gast.gast_to_ast(e))


def _recorded_text(op: Op | None) -> str:
    """A recorded operation as ``show_ir`` shows it: ``t2 = tanh(t1)``."""
    if op is None or op.kind is not Kind.RULE:
        return f"return {', '.join(map(_text, op.operands))}" if op is not None else ""
    what = getattr(op.primitive, "__name__", op.primitive)
    return f"{op.target} = {what}({', '.join(map(_text, op.operands))})"
