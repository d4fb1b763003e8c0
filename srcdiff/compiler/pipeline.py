"""The compiler's stages, run in order: the one place that runs them.

    front end   parse -> normalize -> inline, lower Tensors (Tensor code only) -> sharing
                -> snapshots (NumPy-style code) -> analyse (its last rewrite of the tree,
                then the IR, ``ir.build``, which it walks)
    primal      trace                 (the traced primal; a path's or a kink-checking one)
    reverse     differentiate -> optimize -> check finite (when asked)
    forward     tangent -> optimize
    every back end then: to backend (the array module's names) -> emit (source text)

Each stage is a function of its own module taking the program the stage before made.
``cache.Unit`` holds what they produce for one function and one set of static facts;
it runs none of them itself. With ``SRCDIFF_DEBUG=1`` in the environment (or
``debug=True`` passed to ``front_end``), the program is printed to stderr after each
stage: statements with the facts the analysis gave them (``# rule np.tanh, saves x``),
then each generated function as source.
"""

from __future__ import annotations

import ast
import copy
import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gast

from .. import runtime as rt_module
from .analyse import analyse, params_of
from .backends import to_backend
from .differentiate import adjoint
from .emit import emit, expr
from .finite import insert_checks
from .inline import inline_calls
from .ir import Analysis, Dialect, facts, mark, show_ir
from .kinks import kink_primal
from .mutation import insert_follows
from .normalize import RESERVED, Names, all_names, clone, normalize, walk
from .optimize import eliminate_dead, eliminate_dead_stores, fold_negations, optimize
from .parse import Parsed, parse, returning_updates
from .snapshots import snapshot_outside_reads
from .steps import inline_steps
from .tangent import flag_tangents, tangent
from .trace import PathPrimal, PrimalBuilder, primal
from .unwrap import insert_unwraps


def debugging() -> bool:
    """Whether stages print what they made (``SRCDIFF_DEBUG=1``)."""
    return os.environ.get("SRCDIFF_DEBUG", "") not in ("", "0")


@dataclass
class Stages:
    """The stages run for one function, in order; printing each one's program to
    stderr when ``debug``."""

    function: str
    debug: bool = False
    run: list[str] = field(default_factory=list)

    def shown(self, stage: str, program: gast.AST | str) -> None:
        self.run.append(stage)
        if self.debug:
            text = program if isinstance(program, str) else show(program)
            print(f"# ---- srcdiff: {self.function} after {stage}\n{text}", file=sys.stderr)


@dataclass
class Front:
    """What the front end made of one function: the parsed source, the analysed program
    (its statements carry their facts), the names taken in it, and the parameters
    differentiated."""

    parsed: Parsed
    analysis: Analysis
    names: Names
    wrt: list[str]
    stages: Stages

    def shown(self, stage: str, program: gast.AST | str) -> None:
        self.stages.shown(stage, program)


def front_end(
    fn: types.FunctionType,
    active: tuple[str, ...],
    kinds: dict[str, str],
    dialect: Dialect = Dialect.ARRAYS,
    shapes: dict[str, Any] | None = None,
    returns: tuple[str, ...] = (),
    numbers: frozenset[str] = frozenset(),
    debug: bool | None = None,
    plain: frozenset[str] = frozenset(),
    objects: frozenset[str] = frozenset(),
    holders: frozenset[str] = frozenset(),
) -> Front:
    """Parse, normalize, lower Tensor code, find shared objects and analyse ``fn`` for
    differentiating the parameters ``active`` (given ``kinds``, ``shapes``), as code on
    what ``dialect`` says; ``returns`` are parameters it updates in place, returned after
    its value; ``numbers`` are parameters given Python numbers, ``plain`` those given arrays
    or numbers (whose operators need no check), ``objects`` those given objects of a
    user's class (whose operators are its own), ``holders`` those given containers or
    records holding such objects (whose entries' operators are theirs)."""
    parsed = parse(fn)
    parsed.found_afresh()  # what this compilation finds through free names: see Unit.still
    if returns:
        parsed = returning_updates(parsed, returns)
    stages = Stages(parsed.name, debugging() if debug is None else debug)
    stages.shown("parse", parsed.tree)
    parsed = apart_from_module_names(parsed)
    names = Names(all_names(parsed.tree) | RESERVED)
    listed = frozenset(p for p, kind in kinds.items() if kind == "any") - objects - holders
    tree = normalize(parsed, names, listed)  # (lists, tuples, dicts: not a user's objects)
    stages.shown("normalize", tree)
    if dialect.on_tensors:
        parsed = inline_calls(parsed, tree, names)
        stages.shown("inline", tree)
        insert_unwraps(parsed, tree, names, params_are_arrays=dialect is Dialect.TENSOR_CALLEE,
                       fields=holders)  # fmt: skip
        stages.shown("lower Tensors", tree)
    arrays = frozenset(p for p, kind in kinds.items() if kind == "array")
    wrt = [p for p in params_of(tree) if p in active]
    sharing = insert_follows(
        parsed, tree, names, arrays, returns, numbers, tuple(wrt), dialect.on_tensors
    )
    mark(tree, sharing=sharing)
    stages.shown("sharing", tree)
    if wrt and dialect is Dialect.ARRAYS:
        snapshot_outside_reads(parsed, tree, names, sharing, tuple(wrt))
        stages.shown("snapshots", tree)  # (after sharing: it reads its facts)
    sequences = frozenset(p for p in wrt if kinds.get(p) == "any")
    analysis = analyse(parsed, tree, set(wrt), dialect, sequences, shapes, plain, objects,
                       holders)  # fmt: skip
    stages.shown("analyse", tree)
    stages.shown("IR", show_ir(analysis.program))
    return Front(parsed, analysis, names, wrt, stages)


MODULE_NAMES = ("rt", "xp")  # what generated code calls srcdiff's helpers, the array module
MODULE_ROLES = {"rt": "srcdiff's helpers", "xp": "the array module"}


def apart_from_module_names(parsed: Parsed) -> Parsed:
    """Generated code calls srcdiff's helpers ``rt`` and the array module ``xp``: a local
    variable of the user's named so (``xp = array_namespace(x)``) is renamed (``xp_1``)
    in every mode. A parameter keeps its name, which callers may pass by keyword: one
    named ``rt`` is refused at its line (forward mode refuses ``xp``, see
    ``Unit.refuse_module_names``), and so is a global or closure variable of that name,
    which generated code would not see."""
    bound = {n.id: n for n in walk(parsed.tree) if isinstance(n, gast.Name)
             and n.id in MODULE_NAMES and isinstance(n.ctx, (gast.Store, gast.Param))}  # fmt: skip
    params = {n.id: n for n in walk(parsed.tree) if isinstance(n, gast.Name)
              and n.id in MODULE_NAMES and isinstance(n.ctx, gast.Param)}  # fmt: skip
    if "rt" in params:
        raise parsed.error(
            "a parameter named rt of a differentiated function",
            params["rt"],
            "rename it: generated code calls srcdiff's helpers as rt",
        )
    for n in walk(parsed.tree):
        if not (isinstance(n, gast.Name) and n.id in MODULE_NAMES and n.id not in bound):
            continue
        found, obj = parsed.resolve(n.id)
        same = obj is rt_module if n.id == "rt" else isinstance(obj, types.ModuleType)
        if found and not same:  # (a user's array module ``xp`` is the one in use)
            raise parsed.error(
                f"a global or closure variable named {n.id} read by a differentiated function",
                n,
                f"rename it: generated code calls {MODULE_ROLES[n.id]} {n.id}",
            )
    local = sorted(set(bound) - set(params))
    if not local:
        return parsed
    taken = all_names(parsed.tree)
    renames = {n: next(f"{n}_{k}" for k in range(1, 100) if f"{n}_{k}" not in taken) for n in local}
    variant = copy.copy(parsed)
    variant.tree = clone(parsed.tree)
    for n in walk(variant.tree):
        if isinstance(n, gast.Name) and n.id in renames:
            n.id = renames[n.id]
    return variant


def traced_primal(front: Front, fn_name: str) -> tuple[gast.FunctionDef, PrimalBuilder]:
    """The traced primal (saving for the adjoint, recording its path) and its builder,
    which numbers what it saves for the back ends that follow."""
    tree, builder = primal(front.analysis, front.names, fn_name)
    inline_steps(front.parsed, tree, front.names)
    front.shown("trace", tree)
    return tree, builder


def path_primal(front: Front, builder: PrimalBuilder, names: Names, fn_name: str,
                key: tuple) -> gast.FunctionDef:  # fmt: skip
    """The primal of the path ``key`` alone (it raises ``Diverged`` off it)."""
    tree = PathPrimal(builder, names).build_path(fn_name, key)
    inline_steps(front.parsed, tree, names)
    front.shown(f"trace of path {key}", tree)
    return tree


def checking_primal(front: Front, builder: PrimalBuilder, names: Names,
                    fn_name: str) -> gast.FunctionDef:  # fmt: skip
    """The traced primal measuring the margin of each comparison and kink."""
    tree = kink_primal(front.analysis, builder, names, fn_name)
    inline_steps(front.parsed, tree, names)
    front.shown("trace with kink checks", tree)
    return tree


def reverse(
    front: Front,
    builder: PrimalBuilder,
    names: Names,
    key: tuple,
    kinds: dict[str, str],
    fn_name: str,
    rule_names: dict[Any, str],
    stop: int | None = None,
    wanted: tuple[str, ...] | None = None,
    checked: bool = False,
    probe: str | None = None,
) -> gast.FunctionDef:
    """The adjoint of the path ``key`` (see ``differentiate.adjoint``), optimized, with a
    finite check of each gradient when ``checked``."""
    tree = adjoint(front.analysis, builder, names, key, front.wrt, kinds, fn_name,
                   rule_names, stop, wanted, probe)  # fmt: skip
    front.shown("differentiate", tree)
    optimize(tree)
    front.shown("optimize", tree)
    if checked:
        insert_checks(tree, front.analysis.source)
        front.shown("check finite", tree)
    return tree


def forward(front: Front, names: Names, fn_name: str,
            rule_names: dict[Any, str]) -> tuple[gast.FunctionDef, list[str]]:  # fmt: skip
    """The tangent function (forward mode) and the keywords of the tangents of ``wrt``."""
    before = set(names.taken)  # the names of the user's code (forward mode runs it too)
    tree, tangent_names = tangent(front.analysis, names, fn_name, front.wrt, rule_names)
    front.shown("tangent", tree)
    # only what the tangent made: a statement of the user's may raise or change an object
    eliminate_dead(tree, lambda n: n not in before)  # not fold_constants: x * 1.0 is new
    eliminate_dead_stores(tree, lambda n: n not in before)
    fold_negations(tree)
    flag_tangents(tree)
    front.shown("optimize", tree)
    return tree, tangent_names


def generate(front: Front, tree: gast.FunctionDef, xp: types.ModuleType | None,
             header: list[str] | None = None) -> tuple[str, list[int | None]]:  # fmt: skip
    """Source text of a back end's function for the array module ``xp`` (None: left
    with NumPy's names), and each text line's user line."""
    if xp is not None:
        tree = to_backend(tree, front.parsed, xp)
    text, linemap = emit([tree], front.parsed.lines, header or [], origins=front.parsed.origins)
    front.shown("emit", text)
    return text, linemap


# ---- showing a program between stages ------------------------------------------------


def show(tree: gast.AST) -> str:
    """The program as source, each analysed statement followed by its facts."""
    lines: list[str] = []
    body = tree.body if isinstance(tree, gast.FunctionDef) else [tree]
    if isinstance(tree, gast.FunctionDef):
        params = ", ".join(expr(a) for a in tree.args.posonlyargs + tree.args.args)
        lines.append(f"def {tree.name}({params}):")
        _show_block(body, 1, lines)
    else:
        _show_block(body, 0, lines)
    return "\n".join(lines)


def _show_block(body: list[gast.stmt], depth: int, lines: list[str]) -> None:
    pad = "    " * depth
    for s in body:
        fields = ("body", "orelse", "finalbody")
        blocks = [(f, getattr(s, f)) for f in fields if getattr(s, f, None)]
        if not blocks and not getattr(s, "handlers", None):
            text = ast.unparse(gast.gast_to_ast(s))
            facts = _facts(s)
            lines.append(pad + text + (f"  # {facts}" if facts else ""))
            continue
        lines.append(pad + _header(s) + (f"  # {_facts(s)}" if _facts(s) else ""))
        for _, block in blocks[:1]:
            _show_block(block, depth + 1, lines)
        for h in getattr(s, "handlers", ()):
            lines.append(pad + "except" + (f" {expr(h.type)}" if h.type is not None else "") + ":")
            _show_block(h.body, depth + 1, lines)
        for f, block in blocks[1:]:
            lines.append(pad + ("else:" if f == "orelse" else "finally:"))
            _show_block(block, depth + 1, lines)


def _header(s: gast.stmt) -> str:
    if isinstance(s, gast.If):
        return f"if {expr(s.test)}:"
    if isinstance(s, gast.While):
        return f"while {expr(s.test)}:"
    if isinstance(s, gast.For):
        return f"for {expr(s.target)} in {expr(s.iter)}:"
    if isinstance(s, gast.With):
        return "with " + ", ".join(expr(i.context_expr) for i in s.items) + ":"
    if isinstance(s, gast.FunctionDef):
        return f"def {s.name}(...):"
    return type(s).__name__.lower() + ":"


FACTS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("op", lambda op: _op_facts(op)),
    ("sid", lambda sid: f"saves as {sid}"),
    ("loop", lambda loop: f"loop {loop.index}" + (", branching" if loop.branching else "")),
    ("no_grad", lambda flag: "no grad" if flag else ""),
    ("functional", lambda flag: "a new value" if flag else ""),
)


def _facts(s: gast.stmt) -> str:
    known = facts(s)
    shown = [text(getattr(known, f)) for f, text in FACTS if getattr(known, f) is not None]
    return "; ".join(t for t in shown if t)


def _op_facts(op: Any) -> str:
    text = op.kind.value
    if op.rule is not None:
        text += f" {getattr(op.primitive, '__name__', op.primitive)}"
    if op.saves:
        text += ", saves " + ", ".join(op.saves)
    return text
