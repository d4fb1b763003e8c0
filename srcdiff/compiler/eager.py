"""Adjoints of recorded tensor operations (eager ``backward()``), from the same rules and
the same adjoint generator as compiled functions.

The recorded operations are made typed IR directly, a ``Step`` for each (``t3 =
np.tanh(t2)``, with its ``Op`` and facts of its own: no statement stands for it), and
differentiated like any other program; their values are already known, so the saved
values the adjoint reads are filled in from them directly. A refusal names the user's
file and line where the operation was recorded.
"""

from __future__ import annotations

import ast
import copy
import linecache
import operator
import re
import types
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import gast
import numpy as np

from .. import dtypes
from .. import runtime as rt_module
from ..errors import CompileError
from ..rules import registry
from .analyse import Classifier, as_square, dtype_kind, saves_of
from .differentiate import AdjointBuilder
from .emit import emit
from .finite import insert_checks
from .ir import Kind, Op, Program, Step, StepKind, facts
from .normalize import Names, assign, const, name
from .optimize import optimize
from .parse import Listing, Origin
from .trace import Frame, Records

Arg = tuple[str, Any]  # ("v", value number) or ("c", constant)


def _literal(c: Any) -> bool:
    if c is None or c is Ellipsis or isinstance(c, (bool, int, float, str)):
        return True
    if isinstance(c, tuple):
        return all(_literal(x) for x in c)
    if isinstance(c, slice):
        return all(_literal(x) for x in (c.start, c.stop, c.step))
    return False


def _literal_expr(c: Any) -> gast.expr:
    if isinstance(c, tuple):
        return gast.Tuple(elts=[_literal_expr(x) for x in c], ctx=gast.Load())
    if isinstance(c, slice):
        return gast.Call(
            func=name("slice"),
            args=[_literal_expr(x) for x in (c.start, c.stop, c.step)],
            keywords=[],
        )
    return const(c)


def _names_dtype(c: Any) -> bool:
    """Whether a constant that is no literal may name a dtype (``np.float64``, a Tensor's
    ``sd.float64``): the recorded operations' classification reads those."""
    return isinstance(c, (type, np.dtype, dtypes.dtype))


def _freeze(c: Any) -> Any:
    """A literal as a key of the plans: with its type, which equality leaves out (``True
    == 1`` and ``0.0 == -0.0`` are equal, and ``x[True]`` is no ``x[1]``)."""
    if isinstance(c, slice):
        return ("slice", _freeze(c.start), _freeze(c.stop), _freeze(c.step))
    if isinstance(c, tuple):
        return tuple(_freeze(x) for x in c)
    if not _literal(c):  # (of a dtype, its kind: the rules of some ops depend on it)
        return ("runtime constant", dtype_kind(c)) if _names_dtype(c) else ("runtime constant",)
    return (type(c), repr(c)) if isinstance(c, float) else (type(c), c)


SYMBOLS = {
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.truediv: "/",
    operator.pow: "**",
    operator.matmul: "@",
}


def show_op(prim: Any, shown: list[str]) -> str:
    """The operation as a person would write it: ``t1 * x1``, ``x0[0:2]``, ``np.tanh(t2)``."""
    if prim in SYMBOLS and len(shown) == 2:
        return f"{shown[0]} {SYMBOLS[prim]} {shown[1]}"
    if prim is operator.neg:
        return f"-{shown[0]}"
    if prim is operator.getitem:
        return f"{shown[0]}[{shown[1]}]"
    if isinstance(prim, str) and prim.startswith("ndarray."):
        attribute = prim[8:]
        if not callable(getattr(np.ndarray, attribute, None)):  # x.T, x.mT, x.real
            return f"{shown[0]}.{attribute}"
        return f"{shown[0]}.{attribute}({', '.join(shown[1:])})"
    return f"{describe(prim)}({', '.join(shown)})"


def describe(prim: Any) -> str:
    if isinstance(prim, str):
        return prim.replace("ndarray.", ".")
    module = getattr(prim, "__module__", "") or ""
    base = getattr(prim, "__name__", repr(prim))
    return f"np.{base}" if module.startswith("numpy") else base


@dataclass
class Plan:
    """Generated code for one structure of recorded operations."""

    fn: types.FunctionType
    source: str
    saves: dict[int, tuple[int, ...]]
    n_values: int


class Adjoint:
    """Callable as ``adjoint(values, seed)``: gradients of the wanted values."""

    def __init__(self, plan: Plan, constants: list[Any]):
        self.plan = plan
        self.constants = constants
        self.source = plan.source

    def __call__(self, values: list, seed: Any) -> tuple:
        everything = list(values) + self.constants
        saved = {
            k: (everything[i[0]] if len(i) == 1 else tuple(everything[j] for j in i))
            for k, i in self.plan.saves.items()
        }
        return self.plan.fn(saved, seed)


_PLANS: dict[tuple, Plan] = {}


def compile_ops(
    ops: list[tuple[Any, tuple[Arg, ...], dict[str, Any]]],
    n_inputs: int,
    wanted: tuple[int, ...],
    root: int | None = None,
    xp: types.ModuleType | None = None,
    where: Sequence[tuple[types.CodeType, int] | None] = (),
) -> Adjoint:
    """The adjoint of the straight-line operations ``ops`` (see the module docstring):
    value ``k < n_inputs`` is input ``k``, value ``n_inputs + i`` is the result of
    ``ops[i]``; returns the gradients of ``wanted`` given the seed of ``root`` (by
    default the last value), computed with the array module ``xp`` (by default NumPy).
    ``where`` holds the user's code and instruction (``f_lasti``) of each operation,
    where known: a refusal names its line (the plan, made for every graph of the same
    structure, does not)."""
    xp = np if xp is None else xp
    n_values = n_inputs + len(ops)
    root = n_values - 1 if root is None else root
    ops, frozen, constants = _frozen(ops)
    checked = rt_module.CHECKING[0]  # (sd.detect_nonfinite)
    key = (frozen, n_inputs, tuple(wanted), root, registry.version(), xp.__name__, checked)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _build(ops, n_inputs, tuple(wanted), root, xp, checked, where)
    return Adjoint(plan, constants)


def _frozen(ops: list) -> tuple[list, tuple, list[Any]]:
    """``ops`` with their keywords in one order (the order generated code binds their
    constants in), their structure as a cache key (literal constants in it, the others
    as placeholders), and the constants that are not literals, in order."""
    ops = [(prim, args, dict(sorted(kwargs.items()))) for prim, args, kwargs in ops]
    constants: list[Any] = []
    frozen = []
    for prim, args, kwargs in ops:
        fargs = []
        for kind, v in args:
            if kind == "c" and not _literal(v):
                constants.append(v)
            fargs.append((kind, v) if kind == "v" else ("c", _freeze(v)))
        fkw = []
        for k, v in kwargs.items():
            if not _literal(v):
                constants.append(v)
            fkw.append((k, _freeze(v)))
        frozen.append((prim, tuple(fargs), tuple(fkw)))
    return ops, tuple(frozen), constants


def _value_name(k: int, n_inputs: int) -> str:
    return f"x{k}" if k < n_inputs else f"t{k - n_inputs + 1}"


class _EagerAdjoint(AdjointBuilder):
    """Captures the adjoint of wanted intermediate values before their definition."""

    def __init__(self, *args: Any, captured: dict[str, str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.captured = captured

    def statement(self, node: Step, frame: Frame, flag: int = 0) -> None:
        target = facts(node).op.target
        if target in self.captured:
            value = name(self.state[target].var) if target in self.state else const(None)
            self.emit(assign(self.captured[target], value), node.line)
        super().statement(node, frame, flag)


class _Operations(Classifier):
    """Classifies the recorded operations, one at a time: with no fixpoint to find, a
    refusal raises at once. A constant that names a dtype stands for the one recorded
    (the plans are keyed by its kind: see ``_freeze``)."""

    def __init__(self, source: Listing, active: set[str], dtypes_named: dict[str, Any]):
        self.source, self.active, self.dtypes_named = source, active, dtypes_named
        self.final, self.on_tensors = True, False

    def value_of(self, e: gast.expr) -> tuple[bool, Any]:
        if isinstance(e, gast.Name) and e.id in self.dtypes_named:
            return True, self.dtypes_named[e.id]
        return False, None

    def error(self, what: str, node: gast.AST | int | None, hint: str) -> CompileError:
        return self.source.error(what, node, hint)

    def shown(self, e: gast.expr) -> str:
        """The value a constant's name stands for (the names are the recorded
        operations' own, not the user's): ``np.complex128``, not ``c0``."""
        found, value = self.value_of(e)
        return _value_text(value) if found else gast.unparse(e)


def _value_text(value: Any) -> str:
    """A dtype as the user would write it (``np.complex128``, ``sd.float32``)."""
    if isinstance(value, dtypes.dtype):
        return str(value).replace("srcdiff.", "sd.")
    if isinstance(value, type) and value.__module__ == "numpy":
        return f"np.{value.__name__}"
    if isinstance(value, np.dtype):
        return f"np.{value.name}"
    return getattr(value, "__name__", repr(value))


def _build(
    ops: list,
    n_inputs: int,
    wanted: tuple[int, ...],
    root: int,
    xp: types.ModuleType = np,
    checked: bool = False,
    where: Sequence[tuple[types.CodeType, int] | None] = (),
) -> Plan:
    """The plan of ``ops``: a ``Step`` of typed IR for each operation (``t3 =
    np.tanh(t2)``, its ``Op`` made from the recorded primitive; no statement stands for
    it) and one returning the root, differentiated by the back end compiled functions
    have. Refusals name the user's line of the operation (``where``)."""
    n_values = n_inputs + len(ops)
    value_names = [_value_name(k, n_inputs) for k in range(n_values)]
    names = Names(set(value_names) | {"rt", "xp", "np", "slice"})
    constant_names: list[str] = []
    dtypes_named: dict[str, Any] = {}
    lines: dict[int, str] = {}
    plain = Listing("backward", "<recorded operations>", 1, lines, in_file=False)
    source = replace(plain, origins=_origins(where))  # (what a refusal names)
    active = {value_names[k] for k in wanted if k < n_inputs}
    operations = _Operations(source, active, dtypes_named)

    def atom(kind: str, v: Any) -> gast.expr:
        if kind == "v":
            return name(value_names[v])
        if _literal(v):
            return _literal_expr(v)
        constant_names.append(names.reserve(f"c{len(constant_names)}"))
        if _names_dtype(v):
            dtypes_named[constant_names[-1]] = v
        return name(constant_names[-1])

    steps: list[Step] = []
    for i, (prim, args, kwargs) in enumerate(ops):
        rule = registry.lookup(prim)
        if rule is None:
            raise NotImplementedError(f"no derivative rule for {describe(prim)}")
        target = value_names[n_inputs + i]
        operands = [atom(kind, v) for kind, v in args]
        keywords = [gast.keyword(arg=k, value=atom("c", v)) for k, v in kwargs.items()]
        op = operations.rule_op(rule, prim, operands, keywords, None, target)
        as_square(op)
        if op.kind is Kind.RULE:
            active.add(target)
        op.saves = saves_of(op, active)
        shown = [_show(a) for a in operands] + [f"{k.arg}={_show(k.value)}" for k in keywords]
        lines[i + 1] = f"{target} = {show_op(prim, shown)}"
        steps.append(Step.recorded(StepKind.ASSIGN, i + 1, i + 1, op=op, sid=i + 1))
    result = Op(Kind.RETURN, operands=[name(value_names[root])])
    steps.append(Step.recorded(StepKind.RETURN, len(ops), len(ops) + 1, op=result))
    program = Program(source=source, params=value_names[:n_inputs], active=active,
                      program=tuple(steps))  # fmt: skip
    index_of = {n: k for k, n in enumerate(value_names)}
    index_of.update({n: n_values + j for j, n in enumerate(constant_names)})
    saves = {
        sid: tuple(index_of[n] for n in step.op.saves)
        for sid, step in enumerate(steps[:-1], start=1)
        if step.op.saves
    }
    captured = {value_names[k]: f"grad_{value_names[k]}" for k in wanted if k >= n_inputs}
    wrt = [value_names[k] for k in wanted if k < n_inputs]
    rule_names: dict[Any, str] = {}
    builder = _EagerAdjoint(program, Records(), names, wrt, {}, rule_names, captured=captured)
    tree = builder.build("backward", ())
    results = {
        value_names[k]: r
        for k, r in zip([k for k in wanted if k < n_inputs], tree.body[-1].value.elts, strict=True)
    }
    elts = [results.get(value_names[k]) or name(captured[value_names[k]]) for k in wanted]
    tree.body[-1].value = gast.Tuple(elts=elts, ctx=gast.Load())
    optimize(tree)
    if checked:  # (named as the plan's lines: it serves graphs made elsewhere too)
        insert_checks(tree, plain)
    text, linemap = emit(
        [tree],
        lines,
        [
            "# srcdiff: adjoint of the recorded operations",
            f"import {xp.__name__} as xp",
            "from srcdiff import runtime as rt",
        ],
        label=None,
    )
    namespace = {"rt": rt_module, "xp": xp, "np": np}
    namespace.update({fn_name: fn for fn, fn_name in rule_names.items()})
    exec(compile(text, "<srcdiff backward>", "exec"), namespace)
    return Plan(namespace["backward"], text, saves, n_values)


def _origins(where: Sequence[tuple[types.CodeType, int] | None]) -> dict[int, Origin]:
    """The user's file, line and function of each recorded operation (numbered from 1)
    whose code is known."""
    origins = {}
    for i, at in enumerate(where, start=1):
        if at is not None:
            code, line = at[0], line_of(*at)
            text = linecache.getline(code.co_filename, line).strip()
            origins[i] = Origin(code.co_filename, line, text, code.co_qualname, i)
    return origins


def line_of(code: types.CodeType, lasti: int) -> int:
    """The line of the instruction at ``lasti`` (a frame's ``f_lasti``) of ``code``: read
    when a refusal names it, as ``f_lineno`` costs more than recording an operation can
    spare."""
    for start, end, line in code.co_lines():
        if start <= lasti < end and line is not None:
            return line
    return code.co_firstlineno


def _show(e: gast.expr) -> str:
    return ast.unparse(gast.gast_to_ast(copy.deepcopy(e)))


_PROGRAMS: OrderedDict = OrderedDict()  # structure of recorded operations -> program
PROGRAMS = 256


def graph_program(
    ops: list[tuple[Any, tuple[Arg, ...], dict[str, Any]]], n_inputs: int
) -> tuple[types.FunctionType, list[Any]]:
    """The recorded operations ``ops`` as a Python function of their values, with source
    of its own: ``graph(x0, ..., c0, ...)`` recomputes the last value from the inputs
    ``x`` and the constants ``c`` that are not literals (returned beside it). srcdiff
    compiles it as it compiles a user's function, so a gradient of the recorded graph can
    be differentiated again (``create_graph=True``). One program serves every graph of
    the same structure."""
    ops, frozen, constants = _frozen(ops)
    key = (frozen, n_inputs)
    program = _PROGRAMS.get(key)
    if program is None:
        program = _PROGRAMS[key] = _graph_source(ops, n_inputs)
        if len(_PROGRAMS) > PROGRAMS:
            rt_module.forget_source(_PROGRAMS.popitem(last=False)[1])
    else:
        _PROGRAMS.move_to_end(key)
    return program, constants


def _graph_source(ops: list, n_inputs: int) -> types.FunctionType:
    value_names = [_value_name(k, n_inputs) for k in range(n_inputs + len(ops))]
    namespace: dict[str, Any] = {"np": np}
    params = value_names[:n_inputs]
    constant_params: list[str] = []
    lines = []

    def atom(kind: str, v: Any) -> str:
        if kind == "v":
            return value_names[v]
        if _literal(v):
            return ast.unparse(gast.gast_to_ast(_literal_expr(v)))
        constant_params.append(f"c{len(constant_params)}")
        return constant_params[-1]

    for i, (prim, args, kwargs) in enumerate(ops):
        shown = [atom(kind, v) for kind, v in args]
        shown += [f"{k}={atom('c', v)}" for k, v in kwargs.items()]
        lines.append(f"    {value_names[n_inputs + i]} = {_call_source(prim, shown, namespace)}")
    signature = ", ".join(params + constant_params)
    source = f"def graph({signature}):\n" + "\n".join(lines) + f"\n    return {value_names[-1]}\n"
    return rt_module.function_of_source(source, "recorded operations", "graph", namespace)


def _call_source(prim: Any, shown: list[str], namespace: dict[str, Any]) -> str:
    """``prim`` applied to ``shown`` as source: an operator, a NumPy function, a method,
    or a name bound to the primitive in ``namespace``."""
    if prim in SYMBOLS or prim in (operator.neg, operator.getitem) or isinstance(prim, str):
        return show_op(prim, shown)
    base = getattr(prim, "__name__", "")
    if base and getattr(np, base, None) is prim:
        return f"np.{base}({', '.join(shown)})"
    readable = re.sub(r"\W", "_", base) or "op"
    bound = f"{readable}_{len(namespace)}"
    namespace[bound] = prim
    return f"{bound}({', '.join(shown)})"
