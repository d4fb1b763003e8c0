"""The compiler's intermediate representation: what each normalized statement computes
and what the back ends need to know about it, as declared, typed facts.

The front end (``pipeline.front_end``) leaves an ``Op`` on every statement of the
normalized function and a ``Loop`` on every loop; the back ends (trace, differentiate,
tangent, and the diagnostics) read them and nothing else of the analysis.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import gast

from ..rules import registry
from .parse import Parsed


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
    flagged: bool = False  # the primal records a flag for it in the path
    same_shape: frozenset[int] = frozenset()  # operands shaped like the result (``shapes``)
    number_operands: frozenset[int] = frozenset()  # globals holding numbers, by position

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


@dataclass
class Analysis:
    """The analysed function: its normalized tree (statements carry their ``Op``), the
    names that may be active, its parameters, and whether it computes with Tensors."""

    parsed: Parsed
    fn: gast.FunctionDef
    active: set[str]
    params: list[str]
    tensor: bool | str = False
    pure: bool = False  # no side effects and no recursion (see ``is_pure``, ``recursive``)
    assumed_numbers: frozenset[str] = frozenset()  # globals the code takes for numbers
    updated: tuple[str, ...] = ()  # parameters whose (the caller's) objects it updates


def operand_name(e: gast.expr | None) -> str | None:
    """The name an operand reads: ``a``, or ``a`` of ``*a`` in a call (else None)."""
    if isinstance(e, gast.Starred):
        e = e.value
    return e.id if isinstance(e, gast.Name) else None
