"""What only generated source can tell: ``sd.explain`` (the source of a call annotated
with what each line saw, and why a gradient is zero) and ``sd.check_grad`` (the first
adjoint line whose gradient disagrees with finite differences).

Both run probed copies of the generated primal and adjoint (``compiler/probes``): other
code than the gradient's own, built when asked for, so they cost nothing otherwise.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import runtime as rt
from .api import Differentiated, GradientFunction, _seed, _Target, describe_path
from .backend import array_module, to_numpy
from .compiler.cache import Dialect, Unit, unit_for
from .compiler.influence import influence
from .compiler.probes import (
    gradient_assignment,
    probe_after,
    user_assignment,
    user_lines,
)
from .runtime.calls import value_kind

COLUMN = 56  # where the annotations of the source start


def _target(g: Any, what: str) -> _Target:
    if isinstance(g, Differentiated):
        g = g._gradient()
    if not isinstance(g, GradientFunction):
        raise TypeError(f"{what} takes a function made by sd.grad, not {type(g).__name__}")
    return g._target


@dataclass
class _Call:
    """One call of a gradient function, compiled and ready to run probed."""

    target: _Target
    unit: Unit
    order: tuple[int, ...]
    args: tuple
    kwargs: dict

    @classmethod
    def prepare(cls, target: _Target, args: tuple, kwargs: dict) -> _Call:
        """The unit a call of ``target`` runs (Tensors are given as their arrays, as
        gradients of Tensor code compute)."""
        tensor = rt.tensors.tensor_class()
        if any(isinstance(a, tensor) for a in (*args, *kwargs.values())):
            plain = lambda v: v._data if isinstance(v, tensor) else v  # noqa: E731
            args, kwargs = tuple(map(plain, args)), {k: plain(v) for k, v in kwargs.items()}
            values = target.values(args, kwargs)
            kinds = {n: value_kind(v) for n, v in zip(target.names, values, strict=True)}
            unit = unit_for(
                target.fn,
                target.active,
                kinds,
                array_module(*values),
                dialect=Dialect.TENSOR_CALLEE,
            )
            order = tuple(unit.wrt.index(n) for n in target.names)
        else:
            unit, order = target.unit(target.values(args, kwargs), args, kwargs)
        return cls(target, unit, order, args, kwargs)

    def load(self, tree: ast.Module, text: str, name: str, probes: dict[str, Callable]) -> Any:
        first = self.unit.parsed.tree.lineno
        return self.unit.load(tree, user_lines(text, first), name, extra=probes)

    def primal(self, probe: Callable, before: Callable | None = None) -> tuple[Any, dict, tuple]:
        """Run the traced primal with ``probe`` after each assignment (and ``before``
        each, given the operands; see ``probe_after``): the value, the values saved for
        the adjoint, the path's key."""
        text = self.unit.primal_source
        lines = user_lines(text, self.unit.parsed.tree.lineno)
        probes = {"_probe": probe, **({"_before": before} if before else {})}
        tree = probe_after(text, lines, "_probe", user_assignment, "_before" if before else None)
        if before:
            _before_calls(tree, lines, "_before")
        fn = self.load(tree, text, self.unit.parsed.tree.name + "_primal", probes)
        fn.__defaults__, fn.__kwdefaults__ = (
            self.target.fn.__defaults__,
            self.target.fn.__kwdefaults__,
        )
        saved: dict = {}
        path: list = []
        args, kwargs = _fresh(self.args), _fresh(self.kwargs)  # the caller's stay as they are
        value = fn(saved, path, *self.target.bound, *args, **kwargs)
        return value, saved, (rt.path_key(path) if path else ())

    def adjoint_text(self, key: tuple) -> str:
        return self.unit.adjoint(key)[1]

    def gradients(self, grads: tuple) -> dict[str, Any]:
        """The gradient of each differentiated argument, by name, as ``sd.grad`` gives it
        (zeros for an argument the adjoint leaves without one)."""
        values = self.target.values(self.args, self.kwargs)
        return {
            n: rt.grad_like(grads[i], v)
            for n, i, v in zip(self.target.names, self.order, values, strict=True)
        }


def _compiled_call(node: ast.AST) -> str | None:
    """The name ``v`` of ``v, _saved[k] = rt.call(f, active, *args)``, a call of a function
    srcdiff compiles in a primal (its value, and its record saved), else None."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return None
    target, value = node.targets[0], node.value
    if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
        return None
    name, record = target.elts  # the record goes to _saved[k], or a loop's _s1[k]
    called = isinstance(value, ast.Call) and ast.unparse(value.func) == "rt.call"
    plain = isinstance(name, ast.Name) and isinstance(record, ast.Subscript)
    return name.id if plain and called else None


def _before_calls(tree: ast.Module, lines: list[int | None], before: str) -> None:
    """Precede each compiled call ``v, _saved[k] = rt.call(...)`` with ``before(text_line,
    user_line, "v", {operand: value})``, as ``probe_after`` precedes an assignment to one
    name: so that ``sd.check_grad`` can run the call alone."""
    fn = tree.body[0]
    local = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    local |= {
        n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    local = {n for n in local if user_assignment(n)}

    def seen(st: ast.Assign, name: str) -> ast.Expr:
        read = sorted({n.id for n in ast.walk(st.value) if isinstance(n, ast.Name)} & local)
        operands = ast.Dict(
            keys=[ast.Constant(n) for n in read],
            values=[ast.Name(id=n, ctx=ast.Load()) for n in read],
        )
        where = [ast.Constant(st.lineno), ast.Constant(lines[st.lineno - 1]), ast.Constant(name)]
        return ast.Expr(ast.Call(ast.Name(id=before, ctx=ast.Load()), [*where, operands], []))

    for node in list(ast.walk(tree)):
        for body in ("body", "orelse", "finalbody"):
            statements = getattr(node, body, None)
            if not isinstance(statements, list):
                continue
            out: list[ast.stmt] = []
            for st in statements:
                name = _compiled_call(st)
                out += [seen(st, name), st] if name is not None else [st]
            setattr(node, body, out)


def _fresh(x: Any) -> Any:
    """``x`` with new lists and dicts (and tuples of them), the same arrays in them: a
    diagnostic runs the function again, and must leave what the caller passed as it is
    (and start each run from it)."""
    if type(x) is list:
        return [_fresh(v) for v in x]
    if type(x) is dict:
        return {k: _fresh(v) for k, v in x.items()}
    if type(x) is tuple:
        return tuple(_fresh(v) for v in x)
    return x


# ---- sd.explain ---------------------------------------------------------------------------


def describe(value: Any) -> str:
    """A value's type and shape as a line of the explanation shows it: ``float64[4, 2]``."""
    if value is None:
        return "None"
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    if dtype is not None and shape is not None:
        return f"{dtype}[{', '.join(map(str, shape))}]"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[{len(value)}]"
    if isinstance(value, dict):
        return f"dict[{len(value)}]"
    return type(value).__name__


def is_zero(value: Any) -> bool:
    """True for a zero gradient (None, 0, or all zeros, in containers too)."""
    if value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(is_zero(v) for v in value)
    if isinstance(value, dict):
        return all(is_zero(v) for v in value.values())
    if isinstance(value, (bool, int, float, complex)):
        return value == 0
    if hasattr(value, "dtype"):
        return not bool(array_module(value).any(value))
    return False


@dataclass
class _Seen:
    """What one line of generated source saw: each name it assigned, the types and shapes
    its values had (several in a loop), and for gradients whether every one was zero."""

    shapes: dict[str, list[str]] = field(default_factory=dict)
    zero: dict[str, bool] = field(default_factory=dict)
    runs: int = 0

    def note(self, name: str, value: Any, gradient: bool) -> None:
        shown = self.shapes.setdefault(name, [])
        text = describe(value)
        if text not in shown:
            shown.append(text)
        if gradient:
            self.zero[name] = self.zero.get(name, True) and is_zero(value)

    def __str__(self) -> str:
        parts = []
        for name, shapes in self.shapes.items():
            zero = ", zero" if self.zero.get(name) else ""
            parts.append(f"{name}: {' | '.join(shapes)}{zero}")
        return "; ".join(parts)


@dataclass(frozen=True)
class ZeroGradient:
    """Why the gradient of one argument is zero."""

    name: str
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join([f"{self.name} has a zero gradient:", *(f"  {r}" for r in self.reasons)])


@dataclass(frozen=True)
class Explanation:
    """``sd.explain``'s answer: the generated source of one call, each assignment
    annotated with the types and shapes it saw (``, zero`` for an all-zero gradient); the
    gradients; and why each zero gradient is zero. ``print`` it."""

    function: str
    path: str
    arguments: dict[str, str]
    gradients: dict[str, str]
    zeros: tuple[ZeroGradient, ...]
    source: str

    def __str__(self) -> str:
        head = [
            f"# srcdiff explain: {self.function}, path {self.path}",
            "# arguments: " + ", ".join(f"{n}: {d}" for n, d in self.arguments.items()),
            "# gradients: " + ", ".join(f"{n}: {d}" for n, d in self.gradients.items()),
        ]
        for z in self.zeros:
            head += [f"# {line}" for line in str(z).splitlines()]
        return "\n".join(head) + "\n\n\n" + self.source


def explain(g: Any, *args: Any, **kwargs: Any) -> Explanation | TensorExplanation:
    """The generated source of a call of ``g`` (made by ``sd.grad``), each line annotated
    with the types and shapes it saw, and why each zero gradient is zero. The call is
    ``g(*args, **kwargs)``, or with no arguments ``g``'s latest call (its arguments as
    they are now). It runs the function again, probed; the caller's objects are left as
    they are. For a Tensor, ``sd.explain(t)`` (or ``sd.explain(t, loss)``) says why its
    ``.grad`` is None."""
    if isinstance(g, rt.tensors.tensor_class()):
        return _explain_tensor(g, *args)
    target = _target(g, "sd.explain")
    if not args and not kwargs:
        if target.last_call is None:
            raise RuntimeError(
                f"{target.fn.__qualname__}'s gradient has not been called: call it first, or "
                "pass the arguments to explain"
            )
        args, kwargs = target.last_call
    call = _Call.prepare(target, args, kwargs)
    unit = call.unit
    primal_seen: dict[int, _Seen] = {}

    def primal_probe(text_line: int, user_line: int | None, name: str, value: Any) -> Any:
        primal_seen.setdefault(text_line, _Seen()).note(name, value, gradient=False)
        return value

    value, saved, key = call.primal(primal_probe)
    text = call.adjoint_text(key)
    lines = user_lines(text, unit.parsed.tree.lineno)
    tree = probe_after(text, lines, "_probe", gradient_assignment)
    reads, sums = _gradient_reads(text), _accumulations(text)
    adjoint_seen: dict[int, _Seen] = {}
    nonzero: dict[str, bool] = {"d_result": True}
    # a gradient -> the lines that made zero a gradient it was computed from (or itself)
    causes: dict[str, _Causes] = {}

    def adjoint_probe(text_line: int, user_line: int | None, name: str, value: Any) -> Any:
        adjoint_seen.setdefault(text_line, _Seen()).note(name, value, gradient=True)
        zero = is_zero(value)
        read = reads.get(text_line, set())
        found: _Causes = {}
        for r in sorted(read):
            for line, (how, names) in causes.get(r, {}).items():
                known = found.setdefault(line, (how, []))[1]
                known.extend(n for n in names if n not in known)
        live = {r for r in read if nonzero.get(r, False)}
        if zero and live and user_line is not None:  # this line made it zero
            if name in live and text_line in sums:
                how = "cancel"  # what it held and what it adds cancel
            else:
                how = "derivative" if len(live) == 1 else "either"
            known = found.setdefault(user_line, (how, []))[1]
            if name not in known:
                known.append(name)
        causes[name] = found
        nonzero[name] = not zero
        return value

    adjoint = call.load(tree, text, text.split("(", 1)[0].removeprefix("def "),
                        {"_probe": adjoint_probe})  # fmt: skip
    grads = call.gradients(adjoint(saved, _seed(value, target.fn.__qualname__)))
    returned = _returned(text)
    zeros = tuple(
        ZeroGradient(n, _zero_reasons(unit, n, causes.get(returned.get(call.order[k], ""), {})))
        for k, (n, d) in enumerate(grads.items())
        if is_zero(d)
    )
    source = _annotated(unit.primal_source, primal_seen) + "\n\n\n" + _annotated(text, adjoint_seen)
    params = target.parameters[0]
    arguments = {n: describe(a) for n, a in zip(params, call.args, strict=False)}
    arguments.update({n: describe(a) for n, a in call.kwargs.items()})
    shown = {n: "zero" if is_zero(d) else describe(d) for n, d in grads.items()}
    return Explanation(unit.label, describe_path(key), arguments, shown, zeros, source)


@dataclass(frozen=True)
class TensorExplanation:
    """``sd.explain(tensor)``: why a Tensor's ``.grad`` is None (or what it holds)."""

    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.reasons)


def _explain_tensor(t: Any, loss: Any = None) -> TensorExplanation:
    if t._grad is not None:
        return TensorExplanation((f".grad holds a gradient: {describe(t._grad._data)}",))
    if not t.is_leaf and not t.retains_grad:
        return TensorExplanation((
            f"it is not a leaf (it was computed by {t.grad_fn.name()}): backward() fills "
            ".grad of leaves only",
            "call t.retain_grad() before backward(), or read the .grad of the leaves it "
            "was computed from",
        ))  # fmt: skip
    if not t.requires_grad:
        return TensorExplanation((
            "it does not require grad, so no backward() computes its gradient",
            "create it with requires_grad=True (sd.tensor(..., requires_grad=True)) or call "
            "t.requires_grad_() before computing the loss from it",
        ))  # fmt: skip
    unused = (
        "the loss does not depend on it through operations with a gradient: it is not "
        "used, or only through .detach(), sd.no_grad(), .item()/float(), an integer "
        "result or a comparison"
    )
    if loss is None:
        return TensorExplanation((
            "no backward() has reached it yet: call backward() on a loss computed from it",
            f"if you did, {unused} (sd.explain(t, loss) tells which)",
        ))  # fmt: skip
    if loss.grad_fn is None:
        return TensorExplanation((
            "the loss has no graph: it was computed under sd.no_grad(), from detached "
            "values, or from Tensors that do not require grad",
        ))  # fmt: skip
    if not _reaches(loss.grad_fn, t):
        return TensorExplanation((unused,))
    return TensorExplanation((
        "it is in the loss's graph, and no backward() has reached it: call loss.backward()",
    ))  # fmt: skip


def _reaches(node: Any, t: Any) -> bool:
    """Whether the graph behind ``node`` holds the leaf (or retained non-leaf) ``t``."""
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        if getattr(n, "variable", None) is t or n is t.grad_fn:
            return True
        stack.extend(f for f, _ in n.next_functions)
    return False


def _gradient_reads(text: str) -> dict[int, set[str]]:
    """For each line of an adjoint assigning a gradient, the gradients it reads, directly
    or through the adjoint's other names (``share1 = xp.where(..., d_r, ...)``)."""
    found: dict[int, set[str]] = {}
    through: dict[str, set[str]] = {}  # a name of the adjoint -> the gradients it holds
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            parts = [node.value] + ([node.target] if isinstance(node, ast.AugAssign) else [])
            read: set[str] = set()
            for n in (n for p in parts for n in ast.walk(p) if isinstance(n, ast.Name)):
                read |= {n.id} if n.id.startswith("d_") else through.get(n.id, set())
            found[node.lineno] = read
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for n in (n for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)):
                if not n.id.startswith("d_"):
                    through[n.id] = read
    return found


def _accumulations(text: str) -> set[int]:
    """The lines of an adjoint adding to a gradient what it held (``d_x = d_x + t``,
    ``d_x += t``): one that leaves it zero made its terms cancel."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.AugAssign):
            adds = isinstance(node.op, (ast.Add, ast.Sub))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.BinOp):
            sides = {ast.unparse(node.value.left), ast.unparse(node.value.right)}
            adds = isinstance(node.value.op, (ast.Add, ast.Sub)) and any(
                ast.unparse(t) in sides for t in node.targets
            )
        else:
            continue
        if adds:
            found.add(node.lineno)
    return found


def _returned(text: str) -> dict[int, str]:
    """The names of the gradients an adjoint returns, by position (those it returns as a
    name)."""
    last = ast.parse(text).body[0].body[-1]
    if not isinstance(last, ast.Return) or not isinstance(last.value, ast.Tuple):
        return {}
    return {i: v.id for i, v in enumerate(last.value.elts) if isinstance(v, ast.Name)}


# why a gradient is zero: user line -> how it made gradients zero there, and which
_Causes = dict[int, tuple[str, list[str]]]

ZEROED = {
    "derivative": "made the gradient of {} zero: its derivative is zero at these values (a "
    "kink, a constant piece, a mask)",
    "cancel": "added terms to the gradient of {} that cancel at these values",
    "either": "made the gradient of {} zero: its terms cancel, or its derivative is zero, at "
    "these values",
}


def _zero_reasons(unit: Unit, name: str, zeroed: _Causes) -> tuple[str, ...]:
    """Why the gradient of ``name`` is zero: where its influence ends without reaching
    the result, or the lines that made the gradients it is computed from zero on this
    call (its own, not another argument's)."""
    found = influence(unit.analysis, name)
    if not found.reaches:
        if not found.stops:
            return (f"the result does not depend on {name} (no path from the output to it)",)
        return (
            f"no path from the output reaches {name}: its influence ends here",
            *(str(s) for s in found.stops),
        )
    parsed = unit.parsed
    reasons = [
        f"{parsed.label(line)} (`{parsed.source_line(line)}`) "
        + ZEROED[how].format(", ".join(d.removeprefix("d_") for d in names))
        for line, (how, names) in zeroed.items()
    ]
    if reasons:
        reasons += [str(s) for s in found.stops]  # its other uses, with no gradient
    else:
        reasons = [
            f"its contributions cancel, or are zero, at these values (lines that stop it "
            f"elsewhere: {', '.join(str(s) for s in found.stops) or 'none'})"
        ]
    return tuple(reasons)


def _annotated(text: str, seen: dict[int, _Seen]) -> str:
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        note = seen.get(i)
        if note is None or not str(note):
            out.append(line)
        else:
            out.append(
                f"{line.ljust(COLUMN)}  # {note}" if len(line) < COLUMN else f"{line}  # {note}"
            )
    return "\n".join(out)


# ---- sd.check_grad --------------------------------------------------------------------------

STEP = 1e-5  # relative finite-difference steps: this and a tenth of it
RTOL, ATOL = 1e-5, 1e-8
KINK = 1e-2  # one-sided differences further apart than this: the point is at a kink


@dataclass(frozen=True)
class Mismatch:
    """A gradient the adjoint computes that finite differences contradict: the value's
    (``name``, assigned at ``line``; a parameter at the ``def`` line), the two numbers
    along one random direction, and the adjoint lines at fault: those of the statement
    (of the user line ``fault``) whose contribution to it is wrong, found by finite
    differences of that statement alone, or else all that compute it (``fault`` None)."""

    name: str
    line: int
    source: str
    adjoint: float
    numeric: float
    fault: int | None
    fault_statement: str
    computed_by: tuple[str, ...]
    inside: GradCheck | None = None  # the fault's callee, checked alone, where it is wrong

    def __str__(self) -> str:
        where = f"line {self.line} (`{self.source}`)"
        head = (
            f"the gradient of {self.name} as {where} leaves it is wrong: along a random "
            f"direction the adjoint gives {self.adjoint:.9g}, finite differences "
            f"{self.numeric:.9g}"
        )
        if self.fault is not None:
            why = (
                f"the adjoint of `{self.fault_statement}, gives the wrong contribution to it "
                "(finite differences of that statement alone disagree), here:"
            )
        else:
            why = (
                "the gradients of the values computed after it agree, and so does each "
                "contribution to it that the adjoint makes: one is missing or they are "
                "added wrongly, in these adjoint lines:"
            )
        shown = self.computed_by or ("(none: the adjoint leaves it zero)",)
        lines = [head, why, *(f"  {c}" for c in shown)]
        if self.inside is not None:
            lines.append(f"inside {self.inside.function}, path {self.inside.path}, along "
                         "the gradient its result got here:")  # fmt: skip
            lines += [f"  {line}" for line in str(self.inside.mismatch).splitlines()]
        return "\n".join(lines)


@dataclass(frozen=True)
class GradCheck:
    """``sd.check_grad``'s answer: true when every gradient it compared agrees with
    central finite differences; otherwise ``mismatch`` names the first that does not, in
    the order the adjoint computes them. ``gradients``: the arguments' gradients, by name
    (as the adjoint computed them, in float64)."""

    function: str
    path: str
    checked: int
    skipped: int
    mismatch: Mismatch | None
    gradients: dict[str, Any] = field(default_factory=dict, repr=False)  # those checked

    @property
    def ok(self) -> bool:
        return self.mismatch is None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = (
            f"check_grad {self.function}, path {self.path}: {self.checked} gradients "
            f"compared with finite differences"
            + (f" ({self.skipped} not: at a branch's edge or a kink)" if self.skipped else "")
        )
        return head + (": all agree" if self.ok else f"\n{self.mismatch}")


def check_grad(fn: Callable, *args: Any, wrt: Any = 0, seed: int = 0, most: int = 500,
               **kwargs: Any) -> GradCheck:  # fmt: skip
    """Check the gradient of ``fn`` at ``args`` line by line: the gradient the adjoint
    computes for each value the function assigns (and for each argument in ``wrt``) is
    compared, along a random direction, with central finite differences in float64 of
    the rest of the function with that value moved. The first disagreement, in the order
    the adjoint computes them, is then split into the contributions of the lines that use
    the value, each compared with finite differences of that line alone, to name the
    adjoint line at fault. ``fn`` may also be made by ``sd.grad`` (its ``wrt`` is used).
    At most ``most`` values are compared."""
    if isinstance(fn, (GradientFunction, Differentiated)):
        target = _target(fn, "sd.check_grad")
    else:
        target = _target(GradientFunction(fn, wrt, with_value=False), "sd.check_grad")
    from .testing import _to64

    args = tuple(map(_to64, args))
    kwargs = {k: _to64(v) for k, v in kwargs.items()}
    return _Checker(_Call.prepare(target, args, kwargs), np.random.default_rng(seed), most).run()


@dataclass
class _Value:
    """One value the primal assigned: where (user line, name, how many times that line
    assigned it before), its size and shape, its position among all assignments, and
    the local variables its line's right-hand side read (``text_line``'s)."""

    at: tuple[int, str, int]
    size: float
    shape: tuple
    order: int
    text_line: int
    operands: dict[str, Any] | None


@dataclass
class _Gradient:
    """One gradient the adjoint computed whole (of the value at ``at``), and the
    contributions it then made to its operands' gradients."""

    d: Any
    contributions: dict[str, list[Any]] = field(default_factory=dict)


class _Checker:
    """The state of one ``sd.check_grad``: the probed primal's values and the probed
    adjoint's gradients, and finite differences of both."""

    def __init__(self, call: _Call, rng: np.random.Generator, most: int, cotangent: Any = None):
        """``cotangent``: the gradient of the result, for a callee (whose result need not
        be a scalar); None for the function checked, whose result is."""
        self.call, self.rng, self.most, self.cotangent = call, rng, most, cotangent
        self.parsed = call.unit.parsed
        self.values: list[_Value] = []
        self.assigned: list[str] = []  # the names of all assignments, in order
        self.counts: dict[tuple[int, str], int] = {}
        self.gradients: dict[tuple[int, str], list[_Gradient]] = {}
        self.rhs: dict[int, Callable] = {}  # text line -> its right-hand side as a function

    def run(self) -> GradCheck:
        call, most = self.call, self.most
        operands: dict[tuple[int, str], dict] = {}

        def before(text_line: int, user_line: int | None, name: str, found: dict) -> None:
            operands[(text_line, name)] = {k: _copy(v) for k, v in found.items()}

        def note(text_line: int, user_line: int | None, name: str, value: Any) -> Any:
            self.assigned.append(name)
            if user_line is not None and _movable(value):
                k = self.counts.get((user_line, name), 0)
                self.counts[(user_line, name)] = k + 1
                found = operands.pop((text_line, name), None)
                self.values.append(_Value((user_line, name, k), _size(value),
                                          getattr(value, "shape", ()), len(self.assigned) - 1,
                                          text_line, found))  # fmt: skip
            return value

        value, saved, key = call.primal(note, before)
        self.text = call.adjoint_text(key)
        self.lines = user_lines(self.text, self.parsed.tree.lineno)

        def gradient(user_line: int, name: str, d: Any, operand: str | None = None) -> None:
            found = self.gradients.setdefault((user_line, name), [])
            if operand is None:
                found.append(_Gradient(_copy(d)))
            else:
                found[-1].contributions.setdefault(operand, []).append(_copy(d))

        probed, linemap = call.unit.probed_adjoint(key, "_dprobe")
        adjoint = call.unit.load(probed, linemap, probed.split("(", 1)[0].removeprefix("def "),
                                 extra={"_dprobe": gradient})  # fmt: skip
        seed = self.cotangent
        if seed is None:
            seed = _seed(value, call.target.fn.__qualname__)
        grads = call.gradients(adjoint(saved, seed))
        self.mover = _Mover(call, key, self.cotangent, value)
        checked = skipped = 0
        for i in reversed(range(len(self.values))):
            v = self.values[i]
            found = self.gradients.get(v.at[:2], ())
            if checked >= most or len(found) != self.counts[v.at[:2]]:
                continue  # not differentiated at that line (a copy, say): nothing to compare
            direction = self.rng.standard_normal(v.shape)
            result = self.mover.compare(found[len(found) - 1 - v.at[2]].d, v.size, direction,
                                        at=v.at)  # fmt: skip
            if result is None:
                skipped += 1
                continue
            checked += 1
            if not result[0]:
                found = self.mismatch(v.at[1], v.at[0], result, i, direction)
                return GradCheck(call.unit.label, describe_path(key), checked, skipped, found,
                                 grads)  # fmt: skip
        for n, pos in zip(call.target.names, call.target.positions, strict=True):
            a = call.args[pos] if pos is not None else None
            if pos is None or not _movable(a):
                continue
            direction = self.rng.standard_normal(getattr(a, "shape", ()))
            result = self.mover.compare(grads[n], _size(a), direction, argument=pos)
            if result is None:
                skipped += 1
                continue
            checked += 1
            if not result[0]:
                line = self.parsed.tree.lineno
                found = self.mismatch(n, line, result, -1, direction)
                return GradCheck(call.unit.label, describe_path(key), checked, skipped, found,
                                 grads)  # fmt: skip
        return GradCheck(call.unit.label, describe_path(key), checked, skipped, None, grads)

    def mismatch(self, name: str, line: int, result: tuple, index: int,
                 direction: Any) -> Mismatch:  # fmt: skip
        """The mismatch of the gradient of ``name`` (its value ``index``, -1 for an
        argument), with the line whose contribution to it is wrong, when one is."""
        fault = self.fault(name, index, direction)
        computed = self.computed_by(name, fault)
        statement, at, inside = "", None, None
        if fault is not None:
            at = fault.at[0]
            node = self.statement(fault.text_line)
            code = self.call.unit.primal_source.splitlines()[fault.text_line - 1].strip()
            if _compiled_call(node) is not None:
                code, inside = _as_written(node), self.inside(fault, node)
            statement = f"{code}`, of line {at} (`{self.parsed.source_line(at)}`)"
        source = self.parsed.source_line(line)
        return Mismatch(name, line, source, result[1], result[2], at, statement, computed,
                        inside)  # fmt: skip

    def inside(self, use: _Value, node: ast.Assign) -> GradCheck | None:
        """The check of the compiled callee of ``use``'s statement, at the arguments it
        was called with and along the gradient its result got: where in it the wrong
        contribution comes from (None when it finds nothing, or cannot run alone)."""
        found = self.gradients[use.at[:2]]
        d = found[len(found) - 1 - use.at[2]].d
        parts = ast.Call(func=ast.Name(id="_parts", ctx=ast.Load()), args=node.value.args,
                         keywords=node.value.keywords)  # fmt: skip
        text = f"def _call({', '.join(use.operands)}):\n    return {ast.unparse(parts)}\n"
        split = lambda fn, active, *args, **kwargs: (fn, active, args, kwargs)  # noqa: E731
        try:
            parts_of = self.call.unit.load(text, None, "_call", extra={"_parts": split})
            fn, active, args, kwargs = parts_of(**use.operands)
            if not all(isinstance(a, str) or type(a) is int and a >= 0 for a in active):
                return None  # *args or **kw gathered: not checked alone
            target = _target(GradientFunction(fn, tuple(active), with_value=False), "check_grad")
            call = _Call.prepare(target, tuple(map(_fresh, args)), _fresh(kwargs))
            inner = _Checker(call, self.rng, self.most, cotangent=d).run()
        except Exception:  # noqa: BLE001 - a callee that cannot be checked alone: not entered
            return None
        return None if inner.ok else inner

    def statement(self, text_line: int) -> ast.Assign:
        """The primal's assignment at ``text_line``."""
        tree = ast.parse(self.call.unit.primal_source)
        return next(
            n for n in ast.walk(tree) if isinstance(n, ast.Assign) and n.lineno == text_line
        )

    def fault(self, name: str, index: int, direction: Any) -> _Value | None:
        """The value (of a statement using ``name``) whose contribution to the gradient
        of ``name`` (as the value ``index`` leaves it) disagrees with finite differences
        of that statement alone: the latest first, as the adjoint runs."""
        start = self.values[index].order if index >= 0 else -1
        end = next((o for o in range(start + 1, len(self.assigned)) if self.assigned[o] == name),
                   len(self.assigned))  # fmt: skip
        for use in reversed([v for v in self.values if start < v.order < end]):
            found = self.gradients.get(use.at[:2], ())
            if len(found) != self.counts[use.at[:2]] or use.operands is None:
                continue
            record = found[len(found) - 1 - use.at[2]]
            parts = record.contributions.get(name)
            if not parts or name not in use.operands:
                continue
            got = sum(float(np.real(np.sum(to_numpy(c) * direction))) for c in parts)
            expected = self.line_alone(use, name, record.d, direction)
            if expected is None:
                continue  # a statement that cannot run alone is not judged
            if abs(got - expected) > RTOL * (abs(got) + abs(expected)) + ATOL * (1 + abs(expected)):
                return use
        return None

    def line_alone(self, use: _Value, name: str, d: Any, direction: Any) -> float | None:
        """``<d, (rhs(name + h v) - rhs(name - h v)) / 2h>``: finite differences of the
        right-hand side of ``use``'s line alone, its other operands as they were."""
        rhs = self.rhs.get(use.text_line)
        if rhs is None:
            node = self.statement(use.text_line)
            value = ast.unparse(node.value)
            if _compiled_call(node) is not None:
                value = f"({value})[0]"  # the call's value, not its record
            params = ", ".join(use.operands)
            text = f"def _rhs({params}):\n    return {value}\n"
            rhs = self.rhs[use.text_line] = self.call.unit.load(text, None, "_rhs")
        base = use.operands[name]
        h = STEP * (1.0 + _size(base))
        step = direction * h if getattr(base, "shape", ()) else float(direction) * h
        try:
            plus = rhs(**{**use.operands, name: base + step})
            minus = rhs(**{**use.operands, name: base - step})
        except Exception:  # noqa: BLE001 - a line that cannot run alone: not judged
            return None
        delta = (to_numpy(plus) - to_numpy(minus)) / (2 * h)
        return float(np.real(np.sum(to_numpy(d) * delta)))

    def computed_by(self, name: str, fault: _Value | None) -> tuple[str, ...]:
        """The adjoint statements that assign the gradient of ``name`` and those of their
        own lines that compute the terms they add (``r1 = cube_vjp(...)``), each with the
        user line it comes from; with ``fault``, those of its statement: reading the
        gradient of its result, and adding what they compute to that of ``name``."""
        gradient, lines = f"d_{name}", self.lines
        statements = [
            s for s in ast.walk(ast.parse(self.text)) if isinstance(s, (ast.Assign, ast.AugAssign))
        ]
        written = {s.lineno: _written(s) for s in statements}
        read = {s.lineno: {n.id for n in ast.walk(s.value) if isinstance(n, ast.Name)}
                for s in statements}  # fmt: skip
        if fault is not None:  # its statement's: reading d_<its result>, and adding to d_<name>
            block = [s.lineno for s in statements if lines[s.lineno - 1] == fault.at[0]]
            own = {i for i in block if f"d_{fault.at[1]}" in read[i]}
            own |= {i for i in block if gradient in written[i]
                    and any(written[j] & read[i] for j in own)}  # fmt: skip
            if own:
                return self.shown(own)
        shown: set[int] = set()
        for s in statements:
            if gradient not in written[s.lineno]:
                continue
            terms = {
                o.lineno
                for o in statements
                if o.lineno < s.lineno
                and lines[o.lineno - 1] == lines[s.lineno - 1]
                and written[o.lineno] & read[s.lineno] - {gradient}
                and not isinstance(o.value, ast.Subscript)  # a saved value read back
                and not any(n.startswith("d_") for n in written[o.lineno])
            }
            shown |= {s.lineno} | terms
        return self.shown(shown)

    def shown(self, numbers: set[int]) -> tuple[str, ...]:
        """The adjoint's lines ``numbers``, each with the user line it comes from."""
        code = self.text.splitlines()
        return tuple(
            f"{code[i - 1].strip()}    # line {self.lines[i - 1]}: "
            f"{self.parsed.source_line(self.lines[i - 1])}"
            for i in sorted(numbers)
        )


def _as_written(node: ast.Assign) -> str:
    """A compiled call as the user wrote it: ``z = helper(y)`` for ``z, _saved[2] =
    rt.call(helper, (0,), y)``."""
    call = node.value
    plain = ast.Call(func=call.args[0], args=call.args[2:], keywords=call.keywords)
    return f"{_compiled_call(node)} = {ast.unparse(plain)}"


def _written(s: ast.Assign | ast.AugAssign) -> set[str]:
    targets = s.targets if isinstance(s, ast.Assign) else [s.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _movable(value: Any) -> bool:
    """A real float value finite differences can move (an array or a number; not a
    Tensor, whose array is what compiled code moves)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, float):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(dtype, "kind", None) == "f" and getattr(value, "size", 1) > 0


def _copy(d: Any) -> Any:
    return d.copy() if hasattr(d, "copy") and hasattr(d, "dtype") else d


def _size(value: Any) -> float:
    return float(np.max(np.abs(to_numpy(value)))) if getattr(value, "size", 1) else 0.0


class _Mover:
    """Runs the probed primal with one value moved along a direction, for finite
    differences of the rest of the function."""

    def __init__(self, call: _Call, key: tuple, cotangent: Any, value: Any):
        """``cotangent``: the gradient of the result a callee's check moves along (None:
        the result is a scalar)."""
        self.call, self.key, self.cotangent = call, key, cotangent
        self.f0 = self.scalar(value)

    def scalar(self, value: Any) -> float:
        """The result, or its inner product with the cotangent."""
        if self.cotangent is not None:
            value = np.sum(to_numpy(value) * to_numpy(self.cotangent))
        return float(np.real(to_numpy(value)))

    def value(self, step: Any, at: tuple | None, argument: int | None) -> float | None:
        """The result with the ``at[2]``-th value assigned to ``at[1]`` at line ``at[0]``
        (or the argument ``argument``) moved by ``step``; None when the path changes."""
        count = [0]

        def move(text_line: int, user_line: int | None, name: str, value: Any) -> Any:
            if at is not None and (user_line, name) == at[:2] and _movable(value):
                count[0] += 1
                if count[0] - 1 == at[2]:
                    return value + step
            return value

        args = list(self.call.args)
        if argument is not None:
            args[argument] = args[argument] + step
        moved = _Call(self.call.target, self.call.unit, self.call.order, tuple(args),
                      self.call.kwargs)  # fmt: skip
        value, _, key = moved.primal(move)
        return self.scalar(value) if key == self.key else None

    def compare(self, d: Any, size: float, direction: Any, at: tuple | None = None,
                argument: int | None = None) -> tuple[bool, float, float] | None:  # fmt: skip
        """Whether the gradient ``d`` of a value of magnitude ``size`` agrees with finite
        differences along ``direction`` (with the two numbers); None when a step changes
        the path or the point is at a kink (where one-sided differences disagree, any
        one-sided derivative is a right answer)."""
        shape = getattr(direction, "shape", ())
        adjoint = 0.0 if d is None else float(np.real(np.sum(to_numpy(d) * direction)))
        numeric, sides = [], (0.0, 0.0)
        for scale in (STEP, STEP / 10):
            h = scale * (1.0 + size)
            step = direction * h if shape else float(direction) * h
            plus = self.value(step, at, argument)
            minus = self.value(-step, at, argument)
            if plus is None or minus is None:
                return None
            numeric.append((plus - minus) / (2 * h))
            sides = ((plus - self.f0) / h, (self.f0 - minus) / h)
        tol = lambda n: RTOL * (abs(n) + abs(adjoint)) + ATOL * (1 + abs(self.f0))  # noqa: E731
        if any(abs(n - adjoint) <= tol(n) for n in numeric):
            return True, adjoint, numeric[0]
        if abs(sides[0] - sides[1]) > KINK * (abs(sides[0]) + abs(sides[1])) + tol(0.0):
            return None  # a kink at this point (in a function it calls, say): one-sided
        return False, adjoint, numeric[0]
