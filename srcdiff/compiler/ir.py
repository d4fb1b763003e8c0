"""The compiler's intermediate representation: what each normalized statement computes
and what the back ends need to know about it, as declared, typed facts.

Every statement of the normalized function has one ``Facts`` record (``facts(s)`` reads
it, ``mark(s, field=value)`` sets fields of it). The front end (``pipeline.front_end``)
leaves an ``Op`` in the facts of every statement and a ``Loop`` in those of every loop;
the back ends (trace, differentiate, tangent, and the diagnostics) read them and nothing
else of the analysis. No stage sets attributes of its own on the tree's nodes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import gast

from ..rules import registry
from .parse import Parsed


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


@dataclass
class Analysis:
    """The analysed function: its normalized tree (statements carry their ``Op``), the
    names that may be active and its parameters. (Whether it computes with Tensors is
    the front end's business: what the back ends must do differently is in the ops.)"""

    parsed: Parsed
    fn: gast.FunctionDef
    active: set[str]
    params: list[str]
    pure: bool = False  # no side effects and no recursion (see ``is_pure``, ``recursive``)
    assumed_numbers: frozenset[str] = frozenset()  # globals the code takes for numbers
    updated: tuple[str, ...] = ()  # parameters whose (the caller's) objects it updates
    updated_by_name: tuple[str, ...] = ()  # of those, the ones updated through their name


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


def facts(node: gast.AST) -> Facts:
    """The facts of ``node`` (read-only defaults when no stage has marked it)."""
    return node.__dict__.get("facts", NO_FACTS)


def mark(node: gast.AST, **values: Any) -> Facts:
    """Set facts of ``node`` (giving it a record of its own first); its record."""
    own = node.__dict__.get("facts")
    if own is None:
        own = node.facts = Facts()
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
