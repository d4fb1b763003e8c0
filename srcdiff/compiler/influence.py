"""Where a differentiated input's influence on the result ends (``sd.explain``): the
analysed function's statements followed forward from one parameter, noting each line
where a value depending on it goes into something without a gradient (a comparison, an
integer, ``argmax``, a branch's condition) and whether any of it reaches the result."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import gast

from ..rules import registry
from .analyse import reads_of
from .ir import DIFFERENTIATING, Analysis, Branch, Kind, Repeat, facts, hashable, walk_nodes
from .normalize import walk

INTEGERS = {int: "an integer", round: "an integer", len: "an integer", bool: "a boolean"}


@dataclass(frozen=True)
class Stop:
    """A line where a value depending on the input passes no gradient on, and why."""

    line: int
    source: str  # the user's line
    why: str
    label: str = ""  # how to name the line, where not ``line N`` (inlined code)

    def __str__(self) -> str:
        return f"{self.label or f'line {self.line}'} (`{self.source}`): {self.why}"


@dataclass(frozen=True)
class Influence:
    """How one input reaches the result: whether it does, and where it stops."""

    reaches: bool
    stops: tuple[Stop, ...]


def influence(analysis: Analysis, param: str) -> Influence:
    """Follow ``param`` through ``analysis``'s statements (loops until nothing changes)."""
    nodes = list(walk_nodes(analysis.program))
    tests = {
        n.test.id: n
        for n in nodes
        if isinstance(n, (Branch, Repeat)) and isinstance(n.test, gast.Name)
    }
    statements = [n.stmt for n in nodes if not isinstance(n, (Branch, Repeat))]
    depends = {param}
    stops: dict[int, Stop] = {}
    reaches = False
    changed = True
    while changed:
        changed = False
        for s in statements:
            op = facts(s).op
            if op is None:
                continue
            read = reads_of(getattr(s, "value", None)) & depends
            if not read:
                continue
            if op.kind is Kind.RETURN:
                reaches = True
            elif op.kind in DIFFERENTIATING and isinstance(s, gast.Assign):
                new = {n.id for t in s.targets for n in walk(t) if isinstance(n, gast.Name)}
                if not new <= depends:
                    depends |= new
                    changed = True
            elif op.kind is Kind.PASSIVE and s.lineno not in stops:
                stops[s.lineno] = _stop(analysis, s, tests)
    return Influence(reaches, tuple(stops[k] for k in sorted(stops)))


def _stop(analysis: Analysis, s: gast.stmt, tests: dict[str, Branch | Repeat]) -> Stop:
    parsed = analysis.parsed
    target = s.targets[0] if isinstance(s, gast.Assign) else None
    test = tests.get(target.id) if isinstance(target, gast.Name) else None
    if test is not None:
        keyword = "while" if isinstance(test, Repeat) else "if"
        why = (
            f"it is read only to decide the {keyword} at {parsed.label(test.line)}, and a "
            "condition has no gradient (the gradient is that of the branch taken)"
        )
        return Stop(test.line, parsed.source_line(test.line), why, parsed.label(test.line))
    value = getattr(s, "value", None)
    return Stop(
        s.lineno, parsed.source_line(s.lineno), _why(analysis, value), parsed.label(s.lineno)
    )


def _why(analysis: Analysis, value: gast.expr | None) -> str:
    """Why ``value`` (a statement's right-hand side) carries no gradient."""
    if isinstance(value, gast.Compare):
        return "a comparison gives a boolean, which has no gradient"
    if isinstance(value, gast.Call):
        func = value.func
        shown = _shown(func)
        found, obj = _resolve(analysis, func)
        integer = INTEGERS.get(obj) if found and hashable(obj) else None
        if integer:
            return f"`{shown}` gives {integer}, which has no gradient"
        reason = registry.nondiff_reason(obj) if found else None
        if isinstance(func, gast.Attribute):
            if func.attr == "astype":
                return "a cast (to an integer or boolean type) has no gradient"
            reason = reason or registry.nondiff_reason(f"ndarray.{func.attr}")
        if reason:
            return f"`{shown}`: {reason}"
        return f"`{shown}` is taken as having no gradient"
    return "the value it computes has no gradient"


def _shown(func: gast.expr) -> str:
    if isinstance(func, gast.Name):
        return func.id
    if isinstance(func, gast.Attribute):
        return f"{_shown(func.value)}.{func.attr}"
    return "the call"


def _resolve(analysis: Analysis, func: gast.expr) -> tuple[bool, object]:
    """The object a call's ``name`` or ``module.name`` refers to, if it can be known."""
    if isinstance(func, gast.Name):
        return analysis.parsed.resolve(func.id)
    if isinstance(func, gast.Attribute):
        found, owner = _resolve(analysis, func.value)
        if found and hasattr(owner, func.attr) and not hasattr(owner, "shape"):
            return True, getattr(owner, func.attr)
    return False, None


@dataclass(frozen=True)
class Sources:
    """What a value the function returns may be computed from, through operations with
    a gradient: some of its parameters, and (``outside``) Tensors it reads elsewhere (a
    global's, a field's, a callee's)."""

    params: frozenset[str] = frozenset()
    outside: bool = False

    def __or__(self, other: Sources) -> Sources:
        return Sources(self.params | other.params, self.outside or other.outside)


def returned_sources(analysis: Analysis) -> Sources | tuple[Sources, ...]:
    """The sources of the values ``analysis``'s function may return: one per entry where
    every ``return`` gives a tuple of as many, else one for the whole (Tensor code: a
    Tensor it returns requires grad where one of its sources does, as PyTorch's)."""
    statements = [node.stmt for node in walk_nodes(analysis.program)]
    found: dict[str, Sources] = {p: Sources(frozenset({p})) for p in analysis.params}
    displays = {s.targets[0].id: s.value.elts for s in statements
                if isinstance(s, gast.Assign) and isinstance(s.value, gast.Tuple)
                and isinstance(s.targets[0], gast.Name)}  # fmt: skip
    changed = True
    while changed:
        changed = False
        for s in statements:
            op = facts(s).op
            if op is None or op.kind in (Kind.PASSIVE, Kind.OVERWRITE, Kind.RETURN):
                continue
            if op.kind not in DIFFERENTIATING or op.target is None:
                continue
            if op.kind is Kind.UNWRAP:  # a Tensor the function did not compute itself
                src = op.operand_names()
                new = found[src[0]] if src and src[0] in found else Sources(outside=True)
            else:
                new = Sources(outside=op.kind is Kind.CALL)  # (a callee may read its own)
                for n in reads_of(getattr(s, "value", None)):
                    new |= found.get(n, Sources())
            merged = found.get(op.target, Sources()) | new
            if merged != found.get(op.target):
                found[op.target] = merged
                changed = True

    def of(e: gast.expr | None) -> Sources:
        return functools.reduce(operator.or_, (found.get(n, Sources()) for n in reads_of(e)),
                                Sources())  # fmt: skip

    values = [s.value for s in statements if isinstance(s, gast.Return)]
    entries = [displays.get(v.id) if isinstance(v, gast.Name) else None for v in values]
    if entries and all(e is not None and len(e) == len(entries[0]) for e in entries):
        return tuple(functools.reduce(operator.or_, (of(e[i]) for e in entries))
                     for i in range(len(entries[0])))  # fmt: skip
    return functools.reduce(operator.or_, map(of, values), Sources())
