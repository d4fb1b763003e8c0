"""Stage 2: A-normal form.

Invariant of the output (a new gast ``FunctionDef``; every statement keeps the user's
``lineno``):

- ``x = E`` where E is an atom (a name, a constant, or a dotted path into a module such as
  ``np.pi``) or one operation on atoms: ``a op b``, ``op a``, ``a < b``, ``f(a, k=b)``,
  ``a.attr``, ``a[index]`` (index made of atoms and slices of atoms; a call may take one
  ``*a`` and ``**a``), ``(a, b)``,
  ``[a, b]``, ``{k: a}``; an *opaque* expression (chained comparisons, f-strings, set
  displays), which never carries a gradient; and x never appears in E (``and``/``or``
  become ``if`` statements, so the operand that decides carries its gradient);
- ``a[index] = b`` and ``a.attr = b`` (stores), ``f(a)`` as a statement;
- ``if a: ... else: ...``; ``for i in range(a, ...):`` (every loop over a sequence, its
  ``enumerate``, ``zip`` or ``reversed``, is rewritten to index it); ``while True:``
  whose test is an ``if not t: break`` inside; no loop has an ``else`` (a flag that its
  ``break`` sets, then ``if not flag``);
- ``return a``, ``break``, ``continue``, ``assert a``, ``raise ...``;
- ``try`` with its ``except`` clauses (their types as written: Python evaluates them only
  when an exception comes), ``else`` and ``finally``, each block normalized;
- no ``with`` but ``with sd.no_grad():`` (its body as written): its managers entered by
  ``rt.enter(m)`` and left by ``rt.exit(m)`` wherever the block ends, returns, breaks or
  continues; comprehensions (list, dict, generator) and ``x := e`` are statements.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gast
import numpy as np

from ..errors import CompileError
from ..runtime import tensor_methods
from ..runtime.calls import Host
from . import inplace
from .ir import Iterated, facts, mark
from .parse import Parsed

OPAQUE = (gast.JoinedStr, gast.Set)
# a value to assign, or a tuple or list display's parts (nested): a list of parts is
# packed into a list again, a tuple of parts into a tuple
Parts = gast.expr | tuple | list
_GENERATOR_HINT = (
    "srcdiff compiles a generator function (one changing nothing, yielding as a statement) "
    "where its caller consumes all its values at once: `for v in gen(...)` without break "
    "or return, whose body changes nothing the generator reads (what it was given, a "
    "global it reads: a call assigning one), list(gen(...)), sum(...), sorted(...), "
    "min/max(...), a comprehension's "
    "first for, enumerate(gen(...)) or zip(gen(...), xs) (xs sequences in names) in one "
    "of those, or `g = gen(...)` consumed so by a statement after it with only statements "
    "calling nothing between; call it so (zip of two generators: list one in a name "
    "first, `ys = list(gen2(...))`, then zip(gen(...), ys)), or return a list instead"
)
UNSUPPORTED_EXPR = {
    gast.Lambda: ("lambda", "define a named function with def"),
    gast.SetComp: ("set comprehension", "rewrite it as a for loop"),
    gast.Yield: ("yield (generator)", _GENERATOR_HINT),
    gast.YieldFrom: ("yield from (generator)", _GENERATOR_HINT),
    gast.Await: ("await", "srcdiff differentiates synchronous code"),
    gast.Starred: ("starred expression", "pass the elements one by one"),
}
UNSUPPORTED_STMT = {
    gast.AsyncWith: ("async with", "srcdiff differentiates synchronous code"),
    gast.AsyncFor: ("async for", "srcdiff differentiates synchronous code"),
    gast.AsyncFunctionDef: ("async def", "srcdiff differentiates synchronous code"),
    gast.FunctionDef: ("nested function definition", "define it at module level"),
    gast.ClassDef: ("class definition", "define it at module level"),
    gast.Global: ("global statement", "pass the value in and return the new one"),
    gast.Nonlocal: ("nonlocal statement", "pass the value in and return the new one"),
    gast.Import: ("import statement", "import at module level"),
    gast.ImportFrom: ("import statement", "import at module level"),
    gast.Delete: ("del of a name, an attribute or a slice", "drop the del, or pop the entries"),
}
if hasattr(gast, "TryStar"):
    UNSUPPORTED_STMT[gast.TryStar] = (
        "try with except* (exception groups)",
        "catch the exception group with a plain except, or outside the differentiated function",
    )


def _part(
    step: gast.Subscript | gast.Attribute, holder: gast.expr, key: object, ctx: gast.expr_context
) -> gast.expr:
    """``holder[key]`` or ``holder.key``, as ``step`` is."""
    if isinstance(step, gast.Subscript):
        return gast.Subscript(value=holder, slice=key, ctx=ctx)
    return gast.Attribute(value=holder, attr=key, ctx=ctx)


def _flat(e: gast.expr) -> bool:
    """Whether ``e`` is ``x.flat``."""
    return isinstance(e, gast.Attribute) and e.attr == "flat"


def index_value(e: gast.expr) -> gast.expr:
    """A subscript's index as an ordinary expression (``1:n`` becomes ``slice(1, n)``)."""
    if isinstance(e, gast.Slice):
        parts = [const(None) if x is None else x for x in (e.lower, e.upper, e.step)]
        return gast.Call(func=name("slice"), args=parts, keywords=[])
    if isinstance(e, gast.Tuple):
        return gast.Tuple(elts=[index_value(x) for x in e.elts], ctx=gast.Load())
    return e


def rt_helper(e: gast.expr) -> str | None:
    """The name of srcdiff's helper ``e`` reads (``rt.<name>``), or None."""
    if isinstance(e, gast.Attribute) and isinstance(e.value, gast.Name) and e.value.id == "rt":
        return e.attr
    return None


def is_rt_call(e: gast.expr | None, *helpers: str) -> bool:
    """Whether ``e`` is a call ``rt.<helper>(...)`` of one of ``helpers``."""
    return isinstance(e, gast.Call) and rt_helper(e.func) in helpers


def rt_attr(attr: str) -> gast.Attribute:
    """``rt.<attr>``: one of srcdiff's helpers, as generated code reads it."""
    return gast.Attribute(value=name("rt"), attr=attr, ctx=gast.Load())


def root_name(e: gast.expr, fields: bool = True) -> str | None:
    """The name an entry (``L[0][1]``), or with ``fields`` a field (``o.w[0]``), is
    reached from; None for another expression."""
    kinds = (gast.Subscript, gast.Attribute) if fields else gast.Subscript
    while isinstance(e, kinds):
        e = e.value
    return e.id if isinstance(e, gast.Name) else None


@dataclass
class Location:
    """A store target taken apart: ``steps[k]`` indexes (or takes an attribute of)
    ``holders[k]`` with ``keys[k]``; ``holders[0]`` is the root name, and each further
    holder the entry the step before it reads."""

    steps: list[gast.Subscript | gast.Attribute]
    holders: list[gast.expr]
    keys: list[Any]

    def part(self, k: int, ctx: gast.expr_context) -> gast.expr:
        return _part(self.steps[k], self.holders[k], self.keys[k], ctx)


def make(cls: type, **fields: Any) -> Any:
    """``cls(**fields)``, a gast node, at a third of the cost of gast's constructor (which
    does the same, generically): the compiler makes thousands of nodes per function."""
    node = cls.__new__(cls)
    node.__dict__.update(fields)
    return node


def name(id_: str, store: bool = False) -> gast.Name:
    ctx = make(gast.Store) if store else make(gast.Load)
    return make(gast.Name, id=id_, ctx=ctx, annotation=None, type_comment=None)


def const(value: object) -> gast.Constant:
    return make(gast.Constant, value=value, kind=None)


def assign(target: str, value: gast.expr) -> gast.Assign:
    return make(gast.Assign, targets=[name(target, store=True)], value=value, type_comment=None)


def all_names(tree: gast.AST) -> set[str]:
    found = {n.id for n in walk(tree) if isinstance(n, gast.Name)}
    found |= {a.arg for a in walk(tree) if isinstance(a, getattr(gast, "arg", ()))}
    return found


def operand_names(expr: gast.expr) -> set[str]:
    return {n.id for n in walk(expr) if isinstance(n, gast.Name)}


# fields that never hold a node worth visiting: names, flags, and expression contexts
_LEAF_FIELDS = frozenset({"ctx", "id", "attr", "type_comment", "kind", "level", "module"})
_NODE_FIELDS: dict[type, tuple[str, ...]] = {}  # per node class, its other fields


def walk(node: Any) -> Iterator[Any]:
    """Every node of a (gast or ast) tree but expression contexts (``Load``, ``Store``),
    breadth first, in ``ast.walk``'s order, at under half its cost: the compiler walks
    trees thousands of times per function."""
    todo = [node]
    push = todo.append
    known = _NODE_FIELDS
    for n in todo:  # the list grows as it is read
        yield n
        fields = known.get(type(n))
        if fields is None:
            fields = known[type(n)] = tuple(f for f in n._fields if f not in _LEAF_FIELDS)
        for f in fields:
            v = getattr(n, f, None)
            if type(v) is list:
                for x in v:
                    if hasattr(x, "_fields"):
                        push(x)
            elif hasattr(v, "_fields"):
                push(v)


def children(node: Any) -> list[Any]:
    """The nodes directly inside ``node``, as ``walk`` finds them (no expression contexts):
    ``gast.iter_child_nodes``'s at a fraction of its cost."""
    fields = _NODE_FIELDS.get(type(node))
    if fields is None:
        fields = _NODE_FIELDS[type(node)] = tuple(f for f in node._fields if f not in _LEAF_FIELDS)
    found = []
    for f in fields:
        v = getattr(node, f, None)
        if type(v) is list:
            found += [x for x in v if hasattr(x, "_fields")]
        elif hasattr(v, "_fields"):
            found.append(v)
    return found


class Transformer(gast.NodeTransformer):
    """``gast.NodeTransformer`` at a fraction of its cost (the optimizer runs several over
    every adjoint): it finds each class's visitor once, and visits only the fields that
    may hold nodes, as ``walk`` does, so never an expression context (a subclass defines
    no ``visit_Load`` and the like)."""

    _visitors: dict[type, Callable[..., Any]]  # per node class, per subclass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        contexts = ("Load", "Store", "Del", "Param")
        assert not any(hasattr(cls, f"visit_{c}") for c in contexts), cls
        cls._visitors = {}

    def visit(self, node: gast.AST) -> Any:
        visitor = self._visitors.get(type(node))
        if visitor is None:
            name = f"visit_{type(node).__name__}"
            own = getattr(type(self), name, None)
            # (NodeVisitor's visit_Constant looks for visitors of Python 3.7's classes)
            base = getattr(gast.NodeTransformer, name, None)
            visitor = own if own is not None and own is not base else type(self).generic_visit
            self._visitors[type(node)] = visitor
        return visitor(self, node)

    def generic_visit(self, node: gast.AST) -> gast.AST:
        fields = _NODE_FIELDS.get(type(node))
        if fields is None:
            fields = _NODE_FIELDS[type(node)] = tuple(
                f for f in node._fields if f not in _LEAF_FIELDS
            )
        for f in fields:
            old = getattr(node, f, None)
            if type(old) is list:
                new = []
                for value in old:
                    if isinstance(value, ast.AST):
                        value = self.visit(value)
                        if value is None:
                            continue
                        if not isinstance(value, ast.AST):
                            new.extend(value)
                            continue
                    new.append(value)
                old[:] = new
            elif isinstance(old, ast.AST):
                new_node = self.visit(old)
                if new_node is None:
                    delattr(node, f)
                else:
                    setattr(node, f, new_node)
        return node


def clone_node(node: gast.AST) -> gast.AST:
    """A copy of one node sharing its children (its facts copied: see ``clone``)."""
    new = type(node).__new__(type(node))
    new.__dict__.update(node.__dict__)
    if "facts" in new.__dict__:
        new.facts = new.facts.copy()
    return new


def clone(node: Any) -> Any:
    """A copy of a gast tree (or a list of them), several times faster than
    ``copy.deepcopy``: nodes are copied, values in them (strings, numbers) and attributes
    other than fields (facts the analyses attached) are shared."""
    if isinstance(node, list):
        return [clone(x) for x in node]
    if not isinstance(node, gast.AST):
        return node
    new = type(node).__new__(type(node))
    new.__dict__.update(node.__dict__)
    if "facts" in new.__dict__:  # the copy's facts are its own
        new.facts = new.facts.copy()
    for f in node._fields:
        value = getattr(node, f, None)
        if isinstance(value, (list, gast.AST)):
            setattr(new, f, clone(value))
    return new


def local_names(fn: gast.FunctionDef) -> set[str]:
    """Parameters and every name the function assigns."""
    args = fn.args
    params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    params += [a.id for a in (args.vararg, args.kwarg) if a is not None]
    stored = {n.id for n in walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    return set(params) | stored


def params_of(fn: gast.FunctionDef) -> list[str]:
    args = fn.args
    names = [a.id for a in args.posonlyargs + args.args]
    if args.vararg is not None:
        names.append(args.vararg.id)
    names += [a.id for a in args.kwonlyargs]
    if args.kwarg is not None:
        names.append(args.kwarg.id)
    return names


# names generated code binds or calls, which a function's own names are kept apart from
# methods that change their object in place: arrays' and lists' and dicts'
MUTATING_METHODS = frozenset({
    "fill", "sort", "partition", "put", "itemset", "resize", "setfield", "byteswap",
    "append", "extend", "insert", "pop", "remove", "clear", "reverse", "update",
    "setdefault", "popitem",
})  # fmt: skip
# NumPy's functions that write into their first argument (``np.add.at`` is ``at``)
NUMPY_WRITERS = frozenset({
    "copyto", "put", "place", "putmask", "fill_diagonal", "at", "put_along_axis", "shuffle",
})  # fmt: skip
# the standard library's ``operator`` functions that change their first argument
IN_PLACE_OPERATORS = frozenset({
    "iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow", "imatmul", "iand", "ior",
    "ixor", "ilshift", "irshift", "iconcat", "setitem", "delitem",
})  # fmt: skip
# packages whose functions change no argument (but for NUMPY_WRITERS and ``out=``)
# NumPy functions (not ufuncs) whose array arguments, given as lists, are the arrays of
# their entries (see Normalizer.displays_as_arrays)
ARRAY_LIKE_ARGUMENTS: dict[Any, tuple[int, tuple[str, ...]]] = {  # (positions, keywords)
    np.kron: (2, ("a", "b")), np.tensordot: (2, ("a", "b")), np.sort: (1, ("a",)),
    np.trapezoid: (2, ("y", "x")), np.sinc: (1, ("x",)), np.clip: (3, ("a", "a_min", "a_max")),
    np.where: (3, ()), np.linalg.solve: (2, ("a", "b")), np.average: (1, ("a", "weights")),
    np.linspace: (2, ("start", "stop")), np.broadcast_to: (1, ("array",)),
    np.nanmax: (1, ("a",)), np.nanmin: (1, ("a",)), np.nanmean: (1, ("a",)),
    np.nanstd: (1, ("a",)), np.nanvar: (1, ("a",)), np.tril: (1, ("m",)), np.triu: (1, ("m",)),
    np.cov: (2, ("m", "y")), np.corrcoef: (2, ("x", "y")), np.broadcast_arrays: (64, ()),
    **({np.cumulative_prod: (1, ("x",))} if hasattr(np, "cumulative_prod") else {}),
}  # fmt: skip
LISTING = (list, tuple, sorted)  # what makes a list (or a tuple) of its argument's entries
PURE_HOMES = frozenset({"numpy", "builtins", "math", "srcdiff", "cupy", "scipy"})
RESERVED = {"rt", "xp", "_unit", "reversed", "range", "len", "min", "slice"}


class Names:
    """Fresh, readable names that collide with nothing in the function."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken)
        self.counts: dict[str, int] = {}

    def fresh(self, base: str = "t") -> str:
        """A new name from ``base`` and a number (``t3``; ``h0_1`` of ``h0``, never read
        as another number of its own)."""
        n = self.counts.get(base, 0)
        joint = "_" if base[-1:].isdigit() else ""
        while True:
            n += 1
            candidate = f"{base}{joint}{n}"
            if candidate not in self.taken:
                self.counts[base] = n
                self.taken.add(candidate)
                return candidate

    def reserve(self, wanted: str) -> str:
        """``wanted`` itself if free, else a numbered variant."""
        if wanted not in self.taken:
            self.taken.add(wanted)
            return wanted
        return self.fresh(wanted + "_")


def _array_attribute(attr: str) -> bool:
    """Whether ``attr`` names an attribute of an array or a Tensor (``h.data``, ``p.grad``,
    ``a.real``), whose write (a setter) changes its holder in place."""
    return hasattr(np.ndarray, attr) or hasattr(Host.tensor, attr)  # (srcdiff.Tensor)


class Normalizer:
    def __init__(self, parsed: Parsed, names: Names, sequences: frozenset[str] = frozenset()):
        self.p = parsed
        self.sequences = sequences
        self.names = names
        self.locals = local_names(parsed.tree)
        self.params = set(params_of(parsed.tree))
        self.attribute_entries: set[str] = set()  # t of ``t = b.T`` in ``b.T[0] = v``
        self.out: list[gast.stmt] = []
        self.line = parsed.tree.lineno
        self.following: gast.stmt | None = None  # the statement after the one normalized
        # entered context managers: name, loop depth, and how many try statements with a
        # finally the with block is in (see exit_managers)
        self.managers: list[tuple[str, int, int]] = []
        self.loops = 0  # how many loops the statement being normalized is in
        self.finals = 0  # how many try statements with a finally it is in (not in that)
        self.trying = 0  # how many try statements whose exceptions reach a handler or finally
        self.discarded: set[int] = set()  # the calls that are statements (value unused)
        self.listed: frozenset[str] | None = None  # (see list_names)
        self.dicted: frozenset[str] | None = None  # (see dict_names)

    # --- helpers -------------------------------------------------------------------------
    def emit(self, stmt: gast.stmt) -> None:
        stmt.lineno = self.line
        self.out.append(stmt)

    def temp(self, value: gast.expr) -> gast.Name:
        t = self.names.fresh()
        self.emit(assign(t, value))
        return name(t)

    def block(self, stmts: list[gast.stmt]) -> list[gast.stmt]:
        saved, self.out = self.out, []
        line, following = self.line, self.following
        for i, s in enumerate(stmts):
            self.following = stmts[i + 1] if i + 1 < len(stmts) else None
            self.stmt(s)
        body, self.out, self.line, self.following = self.out, saved, line, following
        return body

    def is_module_path(self, e: gast.expr) -> bool:
        """``np.pi``, ``np.linalg``: a dotted path rooted at a global module."""
        while isinstance(e, gast.Attribute):
            e = e.value
        if not isinstance(e, gast.Name) or e.id in self.locals:
            return False
        found, obj = self.p.resolve(e.id)
        return found and isinstance(obj, types.ModuleType)

    def reject(self, node: gast.AST, table: dict) -> None:
        what, hint = table[type(node)]
        raise self.p.error(f"unsupported syntax: {what}", node, hint)

    # --- expressions ---------------------------------------------------------------------
    def atom(self, e: gast.expr) -> gast.expr:
        if isinstance(e, (gast.Name, gast.Constant)) or self.is_module_path(e):
            return e
        return self.temp(self.expr(e))

    def index(self, e: gast.expr) -> gast.expr:
        if isinstance(e, gast.Slice):
            return gast.Slice(
                *(None if part is None else self.atom(part) for part in (e.lower, e.upper, e.step))
            )
        if isinstance(e, gast.Tuple):
            return gast.Tuple(elts=[self.index(x) for x in e.elts], ctx=gast.Load())
        return self.atom(e)

    def joined_display(self, e: gast.Tuple | gast.List) -> gast.expr:
        """``[*xs, v]`` as ``list(xs) + [v]`` (a tuple's as ``tuple(xs) + (v,)``): the
        joins of lists and tuples compiled code follows."""
        make = "list" if isinstance(e, gast.List) else "tuple"
        if make in self.locals:  # (the builtin shadowed: not what the display means)
            self.reject(next(x for x in e.elts if isinstance(x, gast.Starred)), UNSUPPORTED_EXPR)
        parts: list[gast.expr] = []
        run: list[gast.expr] = []
        for x in [*e.elts, None]:
            if (x is None or isinstance(x, gast.Starred)) and run:
                parts.append(type(e)(elts=run, ctx=gast.Load()))
                run = []
            if isinstance(x, gast.Starred):
                parts.append(gast.Call(func=name(make), args=[x.value], keywords=[]))
            elif x is not None:
                run.append(x)
        joined = parts[0]
        for part in parts[1:]:
            joined = gast.BinOp(left=joined, op=gast.Add(), right=part)
        return joined

    def callee(self, f: gast.expr) -> gast.expr:
        if isinstance(f, gast.Name) or self.is_module_path(f):
            return f
        if isinstance(f, gast.Attribute):
            return gast.Attribute(value=self.atom(f.value), attr=f.attr, ctx=gast.Load())
        return self.atom(f)

    def expr(self, e: gast.expr) -> gast.expr:
        if isinstance(e, gast.SetComp) and self.builtin_named("set"):
            # {f(v) for v in xs} is the set of the list [f(v) for v in xs], made alike
            listed = gast.ListComp(elt=e.elt, generators=e.generators)
            return self.expr(gast.Call(func=name("set"), args=[listed], keywords=[]))
        if type(e) in UNSUPPORTED_EXPR:
            self.reject(e, UNSUPPORTED_EXPR)
        if isinstance(e, gast.Set) and not any(isinstance(x, gast.Starred) for x in e.elts):
            return gast.Set(elts=[self.atom(x) for x in e.elts])  # (its entries: names)
        if isinstance(e, (gast.Name, gast.Constant, *OPAQUE)):
            return e
        if self.is_module_path(e):
            return e
        if isinstance(e, gast.BinOp):
            return gast.BinOp(left=self.atom(e.left), op=e.op, right=self.atom(e.right))
        if isinstance(e, gast.UnaryOp):
            return gast.UnaryOp(op=e.op, operand=self.atom(e.operand))
        if isinstance(e, gast.Compare):
            if len(e.ops) > 1:
                return e
            return gast.Compare(
                left=self.atom(e.left), ops=e.ops, comparators=[self.atom(e.comparators[0])]
            )
        if isinstance(e, gast.Call) and self.builtin_call(e) == "reversed" and len(e.args) == 1:
            # reversed(x) other than a loop's (zip(xs, reversed(xs))): x's entries from its
            # end, as a sequence (a view of an array), not an iterator
            seq = gast.Call(func=rt_attr("reversible"), args=e.args, keywords=[])
            back = gast.Slice(lower=None, upper=None, step=const(-1))
            return self.expr(gast.Subscript(value=seq, slice=back, ctx=gast.Load()))
        if isinstance(e, gast.Call):
            return self.call(e)
        if isinstance(e, gast.Attribute):
            return gast.Attribute(value=self.atom(e.value), attr=e.attr, ctx=gast.Load())
        if isinstance(e, gast.Subscript) and _flat(e.value):  # x.flat[i]: the iterator
            flat = [self.atom(e.value.value), self.atom(index_value(e.slice))]  # is no
            return gast.Call(func=rt_attr("flat_read"), args=flat, keywords=[])  # value of its own
        if isinstance(e, gast.Subscript):
            return gast.Subscript(
                value=self.atom(e.value), slice=self.index(e.slice), ctx=gast.Load()
            )
        if isinstance(e, (gast.Tuple, gast.List)) and any(
            isinstance(x, gast.Starred) for x in e.elts
        ):
            return self.expr(self.joined_display(e))
        if isinstance(e, (gast.Tuple, gast.List)):
            return type(e)(elts=[self.atom(x) for x in e.elts], ctx=gast.Load())
        if isinstance(e, gast.Dict):
            if any(k is None for k in e.keys):
                return self.merged_dict(e)
            return gast.Dict(
                keys=[self.atom(k) for k in e.keys], values=[self.atom(v) for v in e.values]
            )
        if isinstance(e, gast.IfExp):
            return self.if_exp(e)
        if isinstance(e, gast.BoolOp):
            return self.bool_op(e)
        if isinstance(e, (gast.ListComp, gast.GeneratorExp, gast.DictComp)):
            return self.comprehension(e)
        if isinstance(e, gast.NamedExpr):  # ``(x := e)``: x assigned, its value the result
            self.assign_expr(e.target, e.value)
            return name(e.target.id)
        raise self.p.error(
            f"unsupported expression: {type(e).__name__}", e, "rewrite it with simpler statements"
        )

    def call(self, e: gast.Call) -> gast.expr:
        self.refuse_lazy_arguments(e)  # (a callee updating its arguments in place too)
        updated = inplace.rewrite(self, e)
        if updated is not None:
            return updated
        if sum(isinstance(a, gast.Starred) for a in e.args) > 1:
            raise self.p.error(
                "unsupported syntax: two *args in one call", e, "join them into one tuple first"
            )
        e = self.super_named(e)
        e = self.displays_as_arrays(e)
        func = self.callee(e.func)
        args = [
            gast.Starred(value=self.atom(a.value), ctx=gast.Load())
            if isinstance(a, gast.Starred)
            else self.atom(a)
            for a in e.args
        ]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
        return gast.Call(func=func, args=args, keywords=keywords)

    def refuse_lazy_arguments(self, e: gast.Call) -> None:
        """Refuse a generator expression given to a call where running it where it is
        written, as compiled code does (a list), may differ from Python, which runs it as
        the callee takes its entries: a generator calling the user's code, given to
        anything but a consumer taking every entry at once (``sum``, ``list``, NumPy's);
        ``any``, ``next`` or a user's function may take some, and take them between
        effects of their own), or reading a global the callee may assign before it takes
        them."""
        from .assigned_globals import _may_assign

        given = [a for a in (*e.args, *(k.value for k in e.keywords))
                 if isinstance(a, gast.GeneratorExp)]  # fmt: skip
        if not given:
            return
        callee = self.resolved(e.func)
        # the user's functions given beside it (``max(gen, key=f)``), called between entries
        others = [a for a in (*e.args, *(k.value for k in e.keywords)) if a not in given]
        helpers = [gast.Call(func=a, args=[], keywords=[]) for a in others
                   if isinstance(a, (gast.Name, gast.Attribute)) and callable(self.resolved(a))
                   and not _library(self.resolved(a))]  # fmt: skip
        helpers += [c for a in others if isinstance(a, gast.Lambda) for c in walk(a)
                    if isinstance(c, gast.Call)]  # fmt: skip
        whole = _library(callee) and callee not in PARTIAL_CONSUMERS and not helpers and not (
            getattr(callee, "__module__", "") or "").startswith("itertools")  # fmt: skip
        callers = helpers if _library(callee) else [e, *helpers]
        shown = ast.unparse(gast.gast_to_ast(e.func))
        for gen in given:
            effects = [c for c in walk(gen) if isinstance(c, gast.Call) and not self.pure(c)]
            if effects and not whole:
                called = ast.unparse(gast.gast_to_ast(effects[0].func))
                raise self.p.error(
                    f"a generator expression calling `{called}` given to `{shown}`: Python "
                    f"calls it as `{shown}` takes the generator's entries (maybe not all of "
                    "them, maybe between calls of its own), compiled code runs the generator "
                    "where it is written",
                    e,
                    "give it a list ([... for ...]) if every entry is to be computed first",
                )
            if whole:
                continue
            bound = {n.id for g in gen.generators for n in walk(g.target)
                     if isinstance(n, gast.Name)}  # fmt: skip
            free = sorted({n.id for n in walk(gen) if isinstance(n, gast.Name)
                           and isinstance(n.ctx, gast.Load) and n.id not in bound
                           and self.global_value(n.id)} | self.read_by_callees(gen))  # fmt: skip
            assigned = [n for n in free if any(_may_assign(self.p, c, n) for c in callers)]
            if assigned:
                raise self.p.error(
                    f"a generator expression reading the global `{assigned[0]}` given to "
                    f"`{shown}`, which may assign it (or a function given with the "
                    f"generator may): Python reads it as `{shown}` takes "
                    "the generator's entries, compiled code where the generator is written",
                    e,
                    f"give it a list ([... for ...]) if `{assigned[0]}` is to be read first",
                )
            read = {n.id for n in walk(gen) if isinstance(n, gast.Name)
                    and isinstance(n.ctx, gast.Load) and n.id not in bound}  # fmt: skip
            beside = sorted(read & {n.id for a in others for n in walk(a)
                                    if isinstance(n, gast.Name)})  # fmt: skip
            if beside and not _library(callee) and not self.updates_nothing(callee):
                raise self.p.error(
                    f"a generator expression reading `{beside[0]}` given to `{shown}` "
                    f"together with `{beside[0]}`, which `{shown}` may change (a list it "
                    "appends to) as it takes the generator's entries: Python's generator "
                    "reads the change, compiled code runs the generator where it is written",
                    e,
                    "give it a list ([... for ...]) if every entry is to be computed first",
                )

    def global_value(self, n: str) -> bool:
        """Whether the name ``n`` here is a global of the module holding a value (not a
        module, function or class, which a call is not expected to rebind)."""
        if n in self.locals or n not in self.p.fn.__globals__:
            return False
        return not isinstance(self.p.fn.__globals__[n], (types.ModuleType, types.FunctionType,
                                                         type))  # fmt: skip

    def pure(self, call: gast.Call) -> bool:
        """Whether ``call`` runs only NumPy's, srcdiff's or the builtins' code, an array's
        method on a name, or a function of the user's that changes nothing (reading no
        other module's globals: see ``read_by_callees``), so that no effect a generator's
        lazy run would move."""
        f = call.func
        fn = self.resolved(f)
        if _library(fn) or rt_helper(f) is not None:
            return True
        if isinstance(fn, types.FunctionType) and not inspect.isgeneratorfunction(fn):
            from .generators import _globals_read

            return (
                self.changes_nothing(fn)
                and self.updates_nothing(fn)
                and (fn.__globals__ is self.p.fn.__globals__ or not _globals_read(fn))
            )
        return (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name)
                and (hasattr(np.ndarray, f.attr) or hasattr(tensor_methods, f.attr)))  # fmt: skip

    @staticmethod
    def changes_nothing(fn: Any) -> bool:
        """Whether ``fn`` is a function of the user's that changes nothing."""
        from .analyse import function_is_pure

        return isinstance(fn, types.FunctionType) and function_is_pure(fn)

    @staticmethod
    def updates_nothing(fn: Any) -> bool:
        """Whether ``fn`` is a function of the user's that updates none of its arguments
        in place (as Python runs it: ``xs.append(v)`` updates ``xs``)."""
        from .mutation import updated_params  # a stage after normalize, which it runs

        return isinstance(fn, types.FunctionType) and not updated_params(fn)

    def read_by_callees(self, gen: gast.expr) -> set[str]:
        """The globals of this module that the user's functions ``gen`` calls read (a
        lazy run reads them when each entry is made)."""
        from .generators import _globals_read

        fns = [self.resolved(c.func) for c in walk(gen) if isinstance(c, gast.Call)]
        return {n for fn in fns if isinstance(fn, types.FunctionType)
                and fn.__globals__ is self.p.fn.__globals__ for n in _globals_read(fn)}  # fmt: skip

    def displays_as_arrays(self, e: gast.Call) -> gast.Call:
        """``np.power([a, b], 2)``: a list or tuple display given to a NumPy function that
        takes it for the array of its entries (a ufunc, ``np.kron``, ...) as
        ``np.asarray([a, b])``, which is what NumPy makes of it (the rules take arrays)."""
        obj = self.resolved(e.func)
        if isinstance(obj, np.ufunc):
            positions, keywords = obj.nin, ()
        elif type(obj).__hash__ is not None and obj in ARRAY_LIKE_ARGUMENTS:
            positions, keywords = ARRAY_LIKE_ARGUMENTS[obj]
        else:
            return e
        root = e.func
        while isinstance(root, gast.Attribute):
            root = root.value
        if not (isinstance(root, gast.Name) and self.resolved(root) is np):
            return e  # (NumPy known here by no name to take asarray from)
        asarray = gast.Attribute(value=name(root.id), attr="asarray", ctx=gast.Load())

        def listed(a: gast.expr) -> bool:
            return (isinstance(a, (gast.List, gast.Tuple, gast.ListComp))
                    or isinstance(a, gast.Name) and a.id in self.list_names()
                    or isinstance(a, gast.Call) and self.lists(a)
                    or isinstance(a, gast.Call) and returns_sequence(
                        self.resolved(a.func), [listed(b) for b in a.args])
                    or self.entry(a))  # fmt: skip

        def array(a: gast.expr) -> gast.expr:
            if not listed(a):
                return a
            return gast.copy_location(gast.Call(func=asarray, args=[a], keywords=[]), a)

        args = [array(a) if i < positions else a for i, a in enumerate(e.args)]
        return gast.Call(func=e.func, args=args, keywords=[
            gast.keyword(arg=k.arg, value=array(k.value)) if k.arg in keywords else k
            for k in e.keywords])  # fmt: skip

    def lists(self, e: gast.Call) -> bool:
        """Whether ``e`` makes a list (or a tuple): ``list(v)``, ``sorted(v)`` (as the
        ``rt.sorted_in_place`` it is made first)."""
        f = e.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "rt":
            return f.attr == "sorted_in_place"
        return self.resolved(f) in LISTING

    def entry(self, e: gast.expr) -> bool:
        """Whether ``e`` takes a value out of a container or an object that may hold a
        list (``d["v"]``, ``ws[0]``, ``cfg.vals``): an entry of a name the function gives
        a list, tuple or dict (or a parameter the call gave one), or a field that is not
        an array's own (``.T``) nor a module's."""
        fielded = False
        while isinstance(e, (gast.Subscript, gast.Attribute)):
            if isinstance(e, gast.Attribute):
                if _array_attribute(e.attr):
                    return False
                fielded = True
            e = e.value
        if not isinstance(e, gast.Name) or e.id not in self.locals:
            return False
        return fielded or e.id in self.list_names() or e.id in self.dict_names()

    def dict_names(self) -> frozenset[str]:
        """The local names the function gives a dict (a display, a comprehension,
        ``dict(...)``): their entries may be lists (see ``entry``)."""
        if self.dicted is not None:
            return self.dicted
        found = set()
        for n in walk(self.p.tree):
            if isinstance(n, (gast.Assign, gast.AnnAssign)) and n.value is not None:
                v = n.value
                if isinstance(v, (gast.Dict, gast.DictComp)) or (
                    isinstance(v, gast.Call) and self.resolved(v.func) is dict
                ):
                    targets = n.targets if isinstance(n, gast.Assign) else [n.target]
                    found |= {t.id for t in targets if isinstance(t, gast.Name)}
        self.dicted = frozenset(found)
        return self.dicted

    def list_names(self) -> frozenset[str]:
        """The local names the function may give a list or a tuple: a display, a
        comprehension, ``list(...)``/``tuple(...)``/``sorted(...)``, a name it appends
        to (``vs = [x[0], x[1]]``), a parameter the call gave one: given where NumPy takes
        an array, they are made one, as NumPy makes them (``displays_as_arrays``)."""
        if self.listed is not None:
            return self.listed
        found = set()
        for n in walk(self.p.tree):
            if isinstance(n, (gast.Assign, gast.AnnAssign, gast.AugAssign)) and n.value is not None:
                v = n.value
                listed = isinstance(v, (gast.List, gast.Tuple, gast.ListComp)) or (
                    isinstance(v, gast.Call) and self.lists(v)
                )
                targets = n.targets if isinstance(n, gast.Assign) else [n.target]
                if listed:
                    found |= {t.id for t in targets if isinstance(t, gast.Name)}
            elif (
                isinstance(n, gast.Call)
                and isinstance(n.func, gast.Attribute)
                and n.func.attr in ("append", "extend", "insert")
                and isinstance(n.func.value, gast.Name)
            ):
                found.add(n.func.value.id)
        self.listed = frozenset((found | self.sequences) & self.locals)
        return self.listed

    def super_named(self, e: gast.Call) -> gast.Call:
        """``super()`` finds the method's object (or class) as its frame's first argument,
        which in generated code is not the user's first parameter: name both. An instance
        method's ``super().m(...)`` becomes a call of the function it runs with the
        object first (``rt.method``), so that the object's fields carry gradients."""
        owner = e.func.value if isinstance(e.func, gast.Attribute) else None
        calls_super = isinstance(owner, gast.Call) and not owner.args and self.resolved(
            owner.func) is super  # fmt: skip
        if not (calls_super or not e.args and self.resolved(e.func) is super):
            return e  # (most calls: nothing to name)
        params = params_of(self.p.tree)
        fn = self.p.fn
        cells = dict(zip(getattr(fn, "__code__", None) and fn.__code__.co_freevars or (),
                         getattr(fn, "__closure__", None) or (), strict=True))  # fmt: skip
        cls = cells["__class__"].cell_contents if "__class__" in cells else None
        kind = type(vars(cls).get(fn.__name__)) if isinstance(cls, type) else None
        if not params or kind is staticmethod:
            return e  # (Python's own error: super() needs an argument there)
        if calls_super and kind is not classmethod:
            found = gast.Call(func=rt_attr("method"), args=[name(params[0]), const(e.func.attr),
                              name("__class__")], keywords=[])  # fmt: skip
            return gast.Call(func=found, args=[name(params[0]), *e.args], keywords=e.keywords)
        if calls_super:  # a classmethod's: its ``super()`` is named where it is normalized
            return e
        return gast.Call(func=e.func, args=[name("__class__"), name(params[0])], keywords=[])

    def comprehension(self, e: gast.ListComp | gast.GeneratorExp | gast.DictComp) -> gast.Name:
        """``[f(x) for x in xs if c(x)]`` (or a generator expression, made a list) as the
        loop that appends to a fresh list, its loop variables renamed apart; ``{k(x):
        v(x) for x in xs}`` as the loop that stores into a fresh dict (the key evaluated
        first, as Python does)."""
        if any(g.is_async for g in e.generators):
            raise self.p.error(
                "unsupported syntax: async comprehension", e, "rewrite it as a for loop"
            )
        result = self.names.fresh()
        empty = gast.Dict(keys=[], values=[]) if isinstance(e, gast.DictComp) else \
            gast.List(elts=[], ctx=gast.Load())  # fmt: skip
        self.emit(assign(result, empty))
        renames: dict[str, str] = {}
        loops = []
        for generator in e.generators:
            iterable = _rename(generator.iter, renames)
            for n in walk(generator.target):
                if isinstance(n, gast.Name):
                    renames[n.id] = self.names.fresh(n.id + "_")
            loops.append(
                (
                    _rename(generator.target, renames),
                    iterable,
                    [_rename(c, renames) for c in generator.ifs],
                )
            )
        if isinstance(e, gast.DictComp):
            key = self.names.fresh("k")
            store = gast.Subscript(value=name(result), slice=name(key), ctx=gast.Store())
            body: list[gast.stmt] = [
                _at(assign(key, _rename(e.key, renames)), self.line),
                _at(gast.Assign(targets=[store], value=_rename(e.value, renames),
                                type_comment=None), self.line),
            ]  # fmt: skip
            renames[key] = key
        else:
            append = gast.Call(
                func=gast.Attribute(value=name(result), attr="append", ctx=gast.Load()),
                args=[_rename(e.elt, renames)],
                keywords=[],
            )
            body = [_at(gast.Expr(value=append), self.line)]
        for target, iterable, conditions in reversed(loops):
            for condition in reversed(conditions):
                body = [_at(gast.If(test=condition, body=body, orelse=[]), self.line)]
            body = [
                _at(
                    gast.For(target=target, iter=iterable, body=body, orelse=[], type_comment=None),
                    self.line,
                )
            ]
        self.locals |= set(renames.values()) | {result}
        for stmt in body:
            self.stmt(stmt)
        return name(result)

    def bool_op(self, e: gast.BoolOp) -> gast.Name:
        """``a or b`` as ``t = a; if not t: t = b`` (``and``: ``if t``): the value of the
        operand that decides, each operand evaluated only where Python evaluates it."""
        t = self.names.fresh()
        self.emit(assign(t, self.atom(e.values[0])))
        for value in e.values[1:]:
            test = name(t) if isinstance(e.op, gast.And) else \
                self.temp(gast.UnaryOp(op=gast.Not(), operand=name(t)))  # fmt: skip
            body = self.block([_at(assign(t, value), self.line)])
            self.emit(gast.If(test=test, body=body, orelse=[]))
        return name(t)

    def merged_dict(self, e: gast.Dict) -> gast.Name:
        """``{**m, "c": v}``: the dict built as Python builds it, in order: ``t =
        dict(m)`` (or a display of the entries before the first ``**``), then
        ``t.update(m)`` for each further mapping and ``t[k] = v`` for each entry."""
        t = self.names.fresh("merged")
        self.locals = self.locals | {t}  # (its update is a local dict's)
        if e.keys[0] is None:
            start: gast.expr = gast.Call(func=name("dict"), args=[e.values[0]], keywords=[])
            first = 1
        else:
            first = next(i for i, k in enumerate(e.keys) if k is None)
            start = gast.Dict(keys=e.keys[:first], values=e.values[:first])
        steps: list[gast.stmt] = [assign(t, start)]
        for k, v in zip(e.keys[first:], e.values[first:], strict=True):
            if k is None:
                update = gast.Attribute(value=name(t), attr="update", ctx=gast.Load())
                steps.append(gast.Expr(value=gast.Call(func=update, args=[v], keywords=[])))
            else:
                target = gast.Subscript(value=name(t), slice=k, ctx=gast.Store())
                steps.append(gast.Assign(targets=[target], value=v, type_comment=None))
        for s in steps:
            self.stmt(_at(s, self.line))
        return name(t)

    def if_exp(self, e: gast.IfExp) -> gast.Name:
        t = self.names.fresh()
        test = self.atom(e.test)
        body = self.block([_at(assign(t, e.body), self.line)])
        orelse = self.block([_at(assign(t, e.orelse), self.line)])
        self.emit(gast.If(test=test, body=body, orelse=orelse))
        return name(t)

    # --- assignment ----------------------------------------------------------------------
    def assign_to(self, target: gast.expr, value: gast.expr, listed: bool = False) -> None:
        """Assign the atom ``value`` to a (possibly nested) target (``listed``: ``value``
        a list display, which a slice of a list may take with another length)."""
        if isinstance(target, gast.Name):
            self.emit(assign(target.id, value))
        elif isinstance(target, (gast.Tuple, gast.List)):
            stars = [i for i, elt in enumerate(target.elts) if isinstance(elt, gast.Starred)]
            if stars:
                self.assign_starred(target, value, stars[0])
                return
            count = const(len(target.elts))  # Python's iteration, and its check of the count
            value = self.temp(gast.Call(func=rt_attr("unpacked"), args=[value, count], keywords=[]))
            for i, elt in enumerate(target.elts):
                item = gast.Subscript(value=value, slice=const(i), ctx=gast.Load())
                if isinstance(elt, gast.Name):
                    self.emit(assign(elt.id, item))
                else:
                    self.assign_to(elt, self.temp(item))
        elif isinstance(target, (gast.Subscript, gast.Attribute)):
            self.put(self.locate(target, listed), value)
        else:
            raise self.p.error(
                f"unsupported assignment target {type(target).__name__}", target, "assign to a name"
            )

    def assign_starred(self, target: gast.Tuple | gast.List, value: gast.expr, k: int) -> None:
        """``first, *rest, last = value``: the items before the star by position, those
        after it from the end, and the star a list of the rest (after a check that there
        are enough items, as Python makes; any iterable, through ``rt.iterable``)."""
        after = len(target.elts) - k - 1
        value = self.temp(gast.Call(func=rt_attr("iterable"), args=[value], keywords=[]))
        check = gast.Call(func=rt_attr("check_unpack"), args=[value, const(len(target.elts) - 1)],
                          keywords=[])  # fmt: skip
        self.emit(gast.Expr(value=check))
        for i, elt in enumerate(target.elts):
            if i == k:
                upper = const(-after) if after else None
                part = self.temp(
                    gast.Subscript(
                        value=value,
                        slice=gast.Slice(lower=const(k) if k else None, upper=upper, step=None),
                        ctx=gast.Load(),
                    )
                )
                rest = self.temp(gast.Call(func=name("list"), args=[part], keywords=[]))
                self.assign_to(elt.value, rest)
                continue
            index = i if i < k else i - len(target.elts)
            item = gast.Subscript(value=value, slice=const(index), ctx=gast.Load())
            if isinstance(elt, gast.Name):
                self.emit(assign(elt.id, item))
            else:
                self.assign_to(elt, self.temp(item))

    def store(self, target: gast.Subscript | gast.Attribute, value: gast.expr) -> None:
        """``a[i] = v`` or ``a.w = v``, nested ones too (see ``locate`` and ``put``)."""
        self.put(self.locate(target), value)

    def locate(self, target: gast.Subscript | gast.Attribute, listed: bool = False) -> Location:
        """Evaluate, once, what a store target is made of: ``a[i][j]`` takes ``t = a[i]``
        and the atoms of ``i`` and ``j``. Where a list display is written into a slice
        (``listed``: ``z[1:] += [v]``, ``z[0:2] = [a, b]``), the slice is the one
        ``rt.list_slice`` makes of it, whose bounds say where a list's entries go when it
        grows or shrinks."""
        steps: list[gast.Subscript | gast.Attribute] = []
        e: gast.expr = target
        while isinstance(e, (gast.Subscript, gast.Attribute)):
            steps.insert(0, e)
            e = e.value
        holders = [self.atom(e)]
        keys = [self.index(s.slice) if isinstance(s, gast.Subscript) else s.attr for s in steps]
        for step, key in zip(steps[:-1], keys[:-1], strict=True):
            holders.append(self.temp(_part(step, holders[-1], key, gast.Load())))
        if listed and isinstance(keys[-1], gast.Slice):
            parts = [const(None) if p is None else p for p in (keys[-1].lower, keys[-1].upper,
                                                                keys[-1].step)]  # fmt: skip
            keys[-1] = self.temp(gast.Call(func=rt_attr("list_slice"),
                                           args=[holders[-1], *parts], keywords=[]))  # fmt: skip
        return Location(steps, holders, keys)

    def put(self, at: Location, value: gast.expr, augmented: bool = False) -> None:
        """Store ``value`` at ``at``; then write each changed entry back into its holder
        when the entry is the holder's own (a list item, a view of an array), as
        Python's in-place write reaches it: compiled code gives an updated array a new
        value, so ``a[i][j] = v`` is ``t = a[i]; t[j] = v; a[i] = t``. An object's field
        takes it back (``rt.put_attribute``), not an array's view (``b.T``); such a write
        must not carry a gradient (see analyse). The write of an ``augmented`` update of a
        field (``o.n += v``) is marked so: a Tensor there is changed in place."""
        last = len(at.steps) - 1
        holders = {h.id for h in at.holders if isinstance(h, gast.Name)}
        write = gast.Assign(targets=[at.part(last, gast.Store())], value=value, type_comment=None)
        mark(write, written_back=holders)  # the writes back below reach them (see mutation)
        if augmented and isinstance(at.steps[last], gast.Attribute):
            mark(write, augmented_field=True)
        elif augmented:
            mark(write, augmented_entry=True)
        self.emit(write)
        for i in range(last - 1, -1, -1):
            back = gast.Assign(
                targets=[at.part(i, gast.Store())], value=at.holders[i + 1], type_comment=None
            )
            # every entry holding the object sees it (rt.put_back)
            mark(back, written_back=holders, put_back=True)
            if isinstance(at.steps[i], gast.Attribute):  # an object's field (s.buf), which
                self.attribute_entries.add(at.holders[i + 1].id)  # takes it back, or an
                put = gast.Call(func=rt_attr("put_attribute"),  # array's view (b.T): refused
                                args=[at.holders[i], const(at.keys[i]), at.holders[i + 1]],
                                keywords=[])  # fmt: skip
                self.emit(_at(gast.Expr(value=put), self.line))
                continue
            entry = self.temp(
                gast.Call(
                    func=rt_attr("is_entry"),
                    args=[at.holders[i], self.key_atom(at.keys[i])],
                    keywords=[],
                )
            )
            self.emit(gast.If(test=entry, body=[_at(back, self.line)], orelse=[]))

    def key_atom(self, key: gast.expr) -> gast.expr:
        """An index as one atom, to pass it on (``1:n`` becomes ``slice(1, n, None)``)."""
        if isinstance(key, gast.Slice):
            parts = [const(None) if p is None else p for p in (key.lower, key.upper, key.step)]
            return self.temp(gast.Call(func=name("slice"), args=parts, keywords=[]))
        if isinstance(key, gast.Tuple):
            return self.temp(gast.Tuple(elts=[self.key_atom(k) for k in key.elts], ctx=gast.Load()))
        return key

    def unpack(self, target: gast.expr, value: Parts) -> None:
        """Assign ``value`` (one operation on atoms, or a tuple of such parts, nested) to
        ``target``: element by element where the target has the same shape, so that each
        name gets its own value, and so its own activity (in ``i, row = index, m[i]``,
        ``i`` does not depend on ``m``)."""
        if isinstance(value, (tuple, list)):
            if (
                isinstance(target, (gast.Tuple, gast.List))
                and len(target.elts) == len(value)
                and not any(isinstance(e, gast.Starred) for e in target.elts)
            ):
                for elt, part in zip(target.elts, value, strict=True):
                    self.unpack(elt, part)
                return
            value = self.packed(value)
        if isinstance(target, gast.Name) and target.id not in operand_names(value):
            self.emit(assign(target.id, value))
        else:
            self.assign_to(target, self.packed(value))

    def packed(self, value: Parts) -> gast.expr:
        """``value`` as an atom (the parts of a list display packed into a list)."""
        if isinstance(value, (tuple, list)):
            display = gast.Tuple if isinstance(value, tuple) else gast.List
            return self.temp(display(elts=[self.packed(v) for v in value], ctx=gast.Load()))
        if isinstance(value, (gast.Name, gast.Constant)):
            return value
        return self.temp(value)

    def parts(self, e: gast.expr, stored: set[str]) -> Parts:
        """The atoms of a tuple or list display, nested as the display is (a list's as a
        list); a name the assignment stores to is copied first (``a, b = b, a``)."""
        if isinstance(e, (gast.Tuple, gast.List)) and not any(
            isinstance(x, gast.Starred) for x in e.elts
        ):
            parts = [self.parts(x, stored) for x in e.elts]
            return tuple(parts) if isinstance(e, gast.Tuple) else parts
        a = self.atom(e)
        return self.temp(a) if isinstance(a, gast.Name) and a.id in stored else a

    def assign_expr(self, target: gast.expr, value: gast.expr) -> None:
        if isinstance(target, (gast.Tuple, gast.List)) and isinstance(
            value, (gast.Tuple, gast.List)
        ):
            self.unpack(target, self.parts(value, operand_names(target)))
            return
        if isinstance(target, gast.Name):
            rhs = self.expr(value)
            if not isinstance(rhs, (gast.Name, gast.Constant)) and target.id in operand_names(rhs):
                rhs = self.temp(rhs)
            self.emit(assign(target.id, rhs))
        else:
            self.assign_to(target, self.atom(value), listed=isinstance(value, gast.List))

    # --- statements ----------------------------------------------------------------------
    def stmt(self, s: gast.stmt) -> None:
        self.line = s.lineno
        if type(s) in UNSUPPORTED_STMT and not isinstance(s, gast.Delete):
            self.reject(s, UNSUPPORTED_STMT)
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise self.p.error(
                f"unsupported statement: {type(s).__name__}",
                s,
                "rewrite it with simpler statements",
            )
        method(s)

    def stmt_Assign(self, s: gast.Assign) -> None:
        self.refuse_kept_generator(s)
        if len(s.targets) == 1:
            self.assign_expr(s.targets[0], s.value)
            return
        value = self.atom(s.value)
        for target in s.targets:
            self.assign_to(target, value)

    def refuse_kept_generator(self, s: gast.Assign) -> None:
        """Compiled code runs a generator expression (or ``map``, ``filter``) where it is
        written, as a list: kept in a name, Python runs it later, when it is consumed (with
        the values names hold then, and once). The same, where the statement after it
        consumes it and nothing else reads the name (``gen = (...); return sum(gen)``)."""
        v = s.value
        lazy = isinstance(v, gast.GeneratorExp)
        if (
            isinstance(v, gast.Call)
            and isinstance(v.func, gast.Name)
            and v.func.id not in self.locals
        ):
            found, obj = self.p.resolve(v.func.id)
            lazy = found and obj in (map, filter)
        if lazy and not self.consumed_next(s):
            raise self.p.error(
                "a generator (a generator expression, map, filter, zip or an itertools "
                "iterator) "
                "kept in a name: Python runs it when it is consumed, compiled code where it is "
                "made",
                v,
                "make it a list where it is made ([...] or list(...)), or consume it there "
                "(sum(... for ...))",
            )

    def consumed_next(self, s: gast.Assign) -> bool:
        """Whether ``s`` binds a name that the statement after it reads, once, and that no
        other statement binds or reads."""
        target = s.targets[0]
        if len(s.targets) == 1 and isinstance(target, (gast.Tuple, gast.List)):
            return True  # unpacked: consumed at once
        if len(s.targets) != 1 or not isinstance(target, gast.Name) or self.following is None:
            return False
        uses = [x for x in walk(self.p.tree) if isinstance(x, gast.Name) and x.id == target.id]
        reads = [x for x in walk(self.following) if isinstance(x, gast.Name) and x.id == target.id]
        return len(uses) == 2 and len(reads) == 1

    def stmt_AnnAssign(self, s: gast.AnnAssign) -> None:
        if s.value is not None:
            self.assign_expr(s.target, s.value)

    def stmt_AugAssign(self, s: gast.AugAssign) -> None:
        target = s.target
        if isinstance(target, gast.Name):  # in place for arrays and lists: see mutation
            new = self.temp(gast.BinOp(left=name(target.id), op=s.op, right=self.atom(s.value)))
            kept = gast.Call(func=rt_attr("augmented"), args=[name(target.id), new], keywords=[])
            update = _inplace(assign(target.id, self.temp(kept)))  # (an array's shape, dtype)
            mark(update, augments=True)
            self.emit(update)
        else:  # ``a[i] += v``, ``a[i][j] += v``: the target's parts evaluated once
            at = self.locate(target, listed=isinstance(s.value, gast.List))
            current = self.temp(at.part(len(at.steps) - 1, gast.Load()))
            new = self.temp(gast.BinOp(left=current, op=s.op, right=self.atom(s.value)))
            kept = gast.Call(func=rt_attr("augmented"), args=[name(current.id), new], keywords=[])
            # an array held in a list or dict is updated in place, as every name holding
            # it sees (the container's kind decides: see mutation.entry_updates)
            update = _inplace(assign(current.id, self.temp(kept)))
            holder = at.holders[len(at.steps) - 1]
            mark(update, entry_update=True,
                 entry_of=holder.id if isinstance(holder, gast.Name) else None)  # fmt: skip
            fields = [step.attr for step in at.steps if isinstance(step, gast.Attribute)]
            if fields and not any(map(_array_attribute, fields)):
                # ``o.n += 1``, ``o.metrics["n"] += 1``: the holders take the new value
                # back (``o.n = t`` below, after the check that no other field holds its
                # object; an entry of a field's list or dict, ``rt.put_attribute``, which
                # refuses an array's): they follow nothing
                holders = frozenset(h.id for h in at.holders if isinstance(h, gast.Name))
                mark(update, written_back=holders)
            self.emit(update)
            self.put(at, name(current.id), augmented=True)

    def stmt_Delete(self, s: gast.Delete) -> None:
        """``del d[k]`` (or ``del xs[i]``) as the update in place ``d.pop(k)`` it makes;
        ``del x`` of a variable surely bound there and never read after, as nothing (see
        ``dropped_del``); other targets are refused."""
        for target in s.targets:
            if isinstance(target, gast.Name) and self.dropped_del(s, target.id):
                continue
            if not isinstance(target, gast.Subscript) or isinstance(target.slice, gast.Slice):
                self.reject(s, UNSUPPORTED_STMT)
            pop = gast.Attribute(value=target.value, attr="pop", ctx=gast.Load())
            removal = gast.Expr(value=gast.Call(func=pop, args=[target.slice], keywords=[]))
            removal.lineno = s.lineno
            self.stmt_Expr(removal)

    def dropped_del(self, s: gast.Delete, x: str) -> bool:
        """Whether ``del x`` changes nothing the function computes: a statement of the
        function's own body (run once, in no loop), ``x`` a parameter or assigned by an
        earlier such statement (so Python raises nothing there), no statement after it
        reading ``x`` (where Python would raise), and ``x`` neither global nor nonlocal."""
        body = self.p.tree.body
        at = next((i for i, st in enumerate(body) if st is s), None)
        if at is None or any(isinstance(n, (gast.Global, gast.Nonlocal)) and x in n.names
                             for n in walk(self.p.tree)):  # fmt: skip
            return False
        args = self.p.tree.args
        params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs] + [
            a.id for a in (args.vararg, args.kwarg) if a is not None]  # fmt: skip
        bound = x in params or any(
            isinstance(st, gast.Assign) and any(isinstance(t, gast.Name) and t.id == x
                                                for t in st.targets)
            for st in body[:at]
        )  # fmt: skip
        read = any(isinstance(n, gast.Name) and n.id == x and isinstance(n.ctx, gast.Load)
                   for st in body[at + 1 :] for n in walk(st))  # fmt: skip
        return bound and not read

    def stmt_Expr(self, s: gast.Expr) -> None:
        if isinstance(s.value, gast.Constant):
            return  # docstring or bare constant
        inplace.refuse_positional_out(self, s)
        self.discarded.add(id(s.value))
        value = self.expr(s.value)
        if isinstance(value, (gast.Call, *OPAQUE)):
            self.emit(gast.Expr(value=value))

    def stmt_Return(self, s: gast.Return) -> None:
        value = const(None) if s.value is None else self.atom(s.value)
        self.exit_managers(0)
        self.emit(gast.Return(value=value))

    def exit_managers_from(self, entered: int) -> None:
        for mgr, _, _ in reversed(self.managers[entered:]):
            self.emit(gast.Expr(value=gast.Call(func=rt_attr("exit"), args=[name(mgr)],
                                                keywords=[])))  # fmt: skip

    def exit_managers(self, depth: int) -> None:
        """Leave the context managers entered in the loops ``depth`` deep and deeper, the
        last entered first (before a ``return``: all of them; before a ``break`` or a
        ``continue``: those entered in the loop it leaves). Python leaves them after the
        ``finally`` blocks the statement goes through, which run after it here: that is
        refused."""
        for mgr, loops, finals in reversed(self.managers):
            if loops >= depth and finals < self.finals:
                raise self.p.error(
                    "unsupported syntax: return, break or continue out of a try with a "
                    "finally block, inside a with block",
                    _at(gast.Pass(), self.line),
                    "leave the try first (set a flag, then return after it)",
                )
            if loops >= depth:
                self.emit(gast.Expr(value=gast.Call(func=rt_attr("exit"), args=[name(mgr)],
                                                    keywords=[])))  # fmt: skip

    def stmt_If(self, s: gast.If) -> None:
        test = self.atom(s.test)
        self.emit(gast.If(test=test, body=self.block(s.body), orelse=self.block(s.orelse)))

    def stmt_For(self, s: gast.For) -> None:
        s = self.lazy_generator_loop(s)
        zipped = s.iter.args[0] if self.builtin_call(s.iter) == "enumerate" else s.iter
        if self.builtin_call(zipped) == "zip" and any(k.arg == "strict" for k in zipped.keywords):
            s = self.strict_zip(s, zipped)
        if s.orelse:
            self.loop_else(s)
            return
        counter, prefix, iterated = self.loop_source(s)
        loop = gast.For(
            target=name(counter, store=True), iter=None, body=[], orelse=[], type_comment=None
        )
        mark(loop, iterates=iterated)
        loop.iter, loop.body = prefix[0], prefix[1] + self.loop_body(s.body)
        self.emit(loop)

    def lazy_generator_loop(self, s: gast.For) -> gast.For:
        """``for v in (f(t) for t in xs if c(t)):`` as ``for t in xs: if c(t): v =
        f(t)``, its ``t`` renamed apart: Python runs the generator a step at a time, each
        entry computed after the body's previous step (which may change what it reads: a
        name, a global through a call) and none after a ``break``; a generator of one
        ``for`` is that loop."""
        gen = s.iter
        if not isinstance(gen, gast.GeneratorExp):
            return s
        if len(gen.generators) != 1:
            self.refuse_eager_loop(s, gen)
            return s
        (source,) = gen.generators
        if source.is_async:
            return s
        renames = {n.id: self.names.fresh(n.id + "_") for n in walk(source.target)
                   if isinstance(n, gast.Name)}  # fmt: skip
        self.locals |= set(renames.values())
        entry = _at(gast.Assign(targets=[s.target], value=_rename(gen.elt, renames),
                                type_comment=None), s.lineno)  # fmt: skip
        body = [entry, *s.body]
        for condition in reversed(source.ifs):
            body = [_at(gast.If(test=_rename(condition, renames), body=body, orelse=[]),
                        s.lineno)]  # fmt: skip
        loop = gast.For(target=_rename(source.target, renames), iter=source.iter, body=body,
                        orelse=s.orelse, type_comment=None)  # fmt: skip
        return _at(loop, s.lineno)

    def refuse_eager_loop(self, s: gast.For, gen: gast.GeneratorExp) -> None:
        """Refuse a loop over a generator of several ``for``s (run where the loop starts)
        whose entries may differ from Python's, made a step at a time: the body gives a
        name it reads another value (itself, or through a call assigning a global), or it
        calls the user's code (whose effects would move)."""
        from .assigned_globals import _may_assign

        bound = {n.id for g in gen.generators for n in walk(g.target) if isinstance(n, gast.Name)}
        read = {n.id for n in walk(gen) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Load) and n.id not in bound}  # fmt: skip
        read |= self.read_by_callees(gen)
        nodes = [n for b in s.body for n in walk(b)]
        stored = {n.id for n in nodes if isinstance(n, gast.Name)
                  and not isinstance(n.ctx, gast.Load)}  # fmt: skip
        calls = [c for c in nodes if isinstance(c, gast.Call)]
        changed = sorted(n for n in read if n in stored or self.global_value(n)
                         and any(_may_assign(self.p, c, n) for c in calls))  # fmt: skip
        effects = [c for c in walk(gen) if isinstance(c, gast.Call) and not self.pure(c)]
        if changed or effects:
            why = (
                f"reading `{changed[0]}`, which its body may give another value"
                if changed
                else f"calling `{ast.unparse(gast.gast_to_ast(effects[0].func))}`"
            )
            raise self.p.error(
                f"a for loop over a generator expression of several `for`s {why}: Python "
                "makes its entries a step at a time, compiled code where the loop starts",
                s,
                "write the `for`s as loops of their own, or make the generator a list first",
            )

    def strict_zip(self, s: gast.For, zipped: gast.Call) -> gast.For:
        """``for ... in zip(a, b, strict=f)`` (or ``enumerate`` of it): the loop over
        ``zip(a, b)`` of the sequences as indexable ones, and, where it ends without a
        ``break``, Python's check that they were as long (``rt.zip_strict``, in the
        loop's ``else``)."""
        flag = self.atom(next(k.value for k in zipped.keywords if k.arg == "strict"))
        sequences = [self.sequence(a) for a in zipped.args]
        check = gast.Call(func=rt_attr("zip_strict"), args=[flag, *map(clone, sequences)],
                          keywords=[])  # fmt: skip
        plain = gast.Call(func=zipped.func, args=sequences, keywords=[])
        loop = copy.copy(s)
        if zipped is s.iter:
            loop.iter = plain
        else:
            loop.iter = gast.Call(func=s.iter.func, args=[plain, *s.iter.args[1:]],
                                  keywords=s.iter.keywords)  # fmt: skip
        loop.orelse = [_at(gast.Expr(value=check), s.lineno), *s.orelse]
        return loop

    def loop_body(self, body: list[gast.stmt]) -> list[gast.stmt]:
        self.loops += 1
        try:
            return self.block(body)
        finally:
            self.loops -= 1

    def loop_else(self, s: gast.For | gast.While) -> None:
        """``for ... else`` (``while ... else``): a flag, set by each ``break`` of the loop,
        and the ``else`` block under ``if not flag`` after it."""
        flag = self.names.fresh("broke")
        self.locals.add(flag)
        self.emit(assign(flag, const(False)))
        loop = copy.copy(s)
        loop.body, loop.orelse = _flag_breaks(s.body, flag), []
        self.stmt(loop)
        self.line = s.lineno
        test = gast.UnaryOp(op=gast.Not(), operand=name(flag))
        self.stmt(_at(gast.If(test=test, body=s.orelse, orelse=[]), s.lineno))

    def loop_source(self, s: gast.For) -> tuple[str, tuple[gast.expr, list[gast.stmt]],
                                                 Iterated | None]:  # fmt: skip
        """The loop counter, the ``range(...)`` it runs over, and the statements that
        bind the user's loop target from it at the top of the body; the sequences whose
        changes would change the number of steps Python takes (not ``reversed``'s: its
        iterator keeps its index)."""
        it = s.iter
        self.refuse_changed_generator_sources(s)
        kind = self.builtin_call(it)
        if kind == "range":
            args = [self.atom(a) for a in it.args]
            rng = gast.Call(func=name("range"), args=args, keywords=[])
            if isinstance(s.target, gast.Name):
                return s.target.id, (rng, []), None
            counter = self.names.fresh("i")
            return counter, (rng, self.bind_target(s.target, name(counter))), None
        if kind == "reversed":
            seq = self.temp(gast.Call(func=rt_attr("reversible"), args=[self.atom(it.args[0])],
                                      keywords=[]))  # fmt: skip
            n = self.temp(gast.Call(func=name("len"), args=[seq], keywords=[]))
            last = self.temp(gast.BinOp(left=n, op=gast.Sub(), right=const(1)))
            counter = self.names.fresh("i")
            rng = gast.Call(func=name("range"), args=[last, const(-1), const(-1)], keywords=[])
            item = gast.Subscript(value=seq, slice=name(counter), ctx=gast.Load())
            return counter, (rng, self.bind_target(s.target, item)), None
        if _is_view(it) and _writes_into(s.body, it.func.value.id):
            return self.view_source(s, it.func.value, it.func.attr)
        if kind == "enumerate":
            inner = it.args[0]
            wrapped = inner.args if self.builtin_call(inner) == "zip" else [inner]
        else:
            wrapped = it.args if kind == "zip" else []
        view = next((a for a in wrapped if _is_view(a) and _writes_into(s.body, a.func.value.id)),
                    None)  # fmt: skip
        if view is not None:
            shown = ast.unparse(gast.gast_to_ast(view))
            raise self.p.error(
                f"a loop over {shown} inside enumerate or zip, whose body writes into the "
                "dict: Python's view reads each value as the dict holds it at that step, "
                "compiled code the values as they were",
                s,
                f"loop over {shown} itself, and count the steps in a name of your own",
            )
        nested = False
        if kind == "enumerate":
            inner = it.args[0]
            nested = self.builtin_call(inner) == "zip"
            written = inner.args if nested else [inner]
            seqs = [self.sequence(a) for a in written]
            starts = it.args[1:] + [k.value for k in it.keywords if k.arg == "start"]
            start = self.atom(starts[0]) if starts else None
        else:
            written, start = it.args if kind == "zip" else [it], None
            seqs = [self.sequence(a) for a in written]
        lengths = [self.temp(gast.Call(func=name("len"), args=[q], keywords=[])) for q in seqs]
        n = (
            lengths[0]
            if len(lengths) == 1
            else self.temp(gast.Call(func=name("min"), args=lengths, keywords=[]))
        )
        counter = self.names.fresh("i")
        rng = gast.Call(func=name("range"), args=[n], keywords=[])
        items = tuple(gast.Subscript(value=q, slice=name(counter), ctx=gast.Load()) for q in seqs)
        value = items if kind == "zip" or nested else items[0]
        if kind == "enumerate":
            index = (
                name(counter)
                if start is None
                else gast.BinOp(left=name(counter), op=gast.Add(), right=start)
            )
            value = (index, value)
        named = [(q.id, ast.unparse(gast.gast_to_ast(e)))
                 for q, e in zip(seqs, written, strict=True)
                 if isinstance(q, gast.Name)]  # fmt: skip
        iterated = Iterated(*map(tuple, zip(*named, strict=True)), n.id) if named else None
        return counter, (rng, self.bind_target(s.target, value)), iterated

    def view_source(self, s: gast.For, owner: gast.Name, view: str
                    ) -> tuple[str, tuple[gast.expr, list[gast.stmt]], None]:  # fmt: skip
        """``loop_source`` of a loop over ``owner.items()`` (``.values()``) whose body may
        write into the dict: its keys, then ``owner[k]`` at each step, as Python's view
        reads each value as the dict holds it then (the body may replace one the loop
        reaches later)."""
        keys = self.temp(gast.Call(func=rt_attr("mapping_keys"), args=[owner, const(view)],
                                   keywords=[]))  # fmt: skip
        n = self.temp(gast.Call(func=name("len"), args=[keys], keywords=[]))
        counter = self.names.fresh("i")
        rng = gast.Call(func=name("range"), args=[n], keywords=[])
        key = self.names.fresh()
        step = assign(key, gast.Subscript(value=keys, slice=name(counter), ctx=gast.Load()))
        value = gast.Subscript(value=owner, slice=name(key), ctx=gast.Load())
        item = (name(key), value) if view == "items" else value
        return counter, (rng, [_at(step, s.lineno), *self.bind_target(s.target, item)]), None

    def bind_target(self, target: gast.expr, value: Parts) -> list[gast.stmt]:
        saved, self.out = self.out, []
        self.unpack(target, value)
        body, self.out = self.out, saved
        return body

    def refuse_changed_generator_sources(self, s: gast.For) -> None:
        """Refuse a loop over a generator (a generator expression, or ``map``, ``filter``
        or ``itertools.chain``, rewritten as one) whose body may change in place an object
        the generator reads its entries from: Python's generator reads them as the body
        leaves them, compiled code runs it when the loop starts."""
        if not isinstance(s.iter, gast.GeneratorExp):
            return
        bound = {
            n.id for g in s.iter.generators for n in walk(g.target) if isinstance(n, gast.Name)
        }
        sources = {n.id for g in s.iter.generators for n in walk(g.iter)
                   if isinstance(n, gast.Name) and n.id not in bound}  # fmt: skip

        def reads(call: gast.Call) -> bool:
            f = call.func
            return (
                isinstance(f, gast.Name) and f.id in READING_BUILTINS and self.builtin_named(f.id)
            )

        changed = sorted(n for n in sources if _may_change(s.body, n, reads))
        if changed:
            raise self.p.error(
                f"a for loop over a generator reading `{changed[0]}`, which the loop's body "
                "may change in place: Python's generator reads the entries as the body "
                "leaves them, compiled code runs it when the loop starts",
                s,
                f"loop over `{changed[0]}` with an index, or make the generator a list first "
                "(list(...)) if the body is not to change what it reads",
            )

    def sequence(self, e: gast.expr) -> gast.expr:
        """An indexable sequence to loop over: a list or tuple display as it is, anything
        else through ``rt.iterable`` (arrays and lists pass, a dict gives its keys)."""
        seq = self.atom(e)
        if isinstance(e, (gast.Tuple, gast.List)):
            return seq
        return self.temp(
            gast.Call(
                func=gast.Attribute(value=name("rt"), attr="iterable", ctx=gast.Load()),
                args=[seq],
                keywords=[],
            )
        )

    def builtin_named(self, n: str) -> bool:
        """Whether the name ``n`` is Python's builtin of that name here."""
        found, obj = self.p.resolve(n)
        return n not in self.locals and found and obj is getattr(builtins, n)

    def builtin_call(self, e: gast.expr) -> str | None:
        if (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Name)
            and e.func.id not in self.locals
        ):
            found, obj = self.p.resolve(e.func.id)
            for kind in ("range", "enumerate", "zip", "reversed"):
                # zip(..., strict=...): checked where the loop ends (see strict_zip)
                keywords = [k.arg for k in e.keywords if not (kind == "zip" and k.arg == "strict"
                            or kind == "enumerate" and k.arg == "start")]  # fmt: skip
                if found and obj is getattr(builtins, kind) and not keywords:
                    return kind
        return None

    def stmt_While(self, s: gast.While) -> None:
        if s.orelse:
            self.loop_else(s)
            return
        saved, self.out = self.out, []
        test = self.atom(s.test)
        stop = self.temp(gast.UnaryOp(op=gast.Not(), operand=test))
        self.emit(gast.If(test=stop, body=[_at(gast.Break(), self.line)], orelse=[]))
        head, self.out = self.out, saved
        body = head + self.loop_body(s.body)
        self.emit(gast.While(test=const(True), body=body, orelse=[]))

    def stmt_With(self, s: gast.With) -> None:
        """``with sd.no_grad():`` runs its body as written, not differentiated. Another
        ``with`` enters its managers (``rt.enter``), runs its body compiled, and leaves
        them (``rt.exit``) where the body ends, returns, breaks or continues; a compiled
        function leaves those still entered when an exception goes through it.
        ``with sd.set_grad_enabled(flag):`` is one or the other (see ``grad_switch``)."""
        if self.grad_switch(s):
            return
        no_grad = [self.is_no_grad(item.context_expr) or getattr(s, "grad_off", False)
                   for item in s.items]  # fmt: skip
        if not any(no_grad) and self.trying:
            raise self.p.error(
                "unsupported syntax: a with block inside a try statement",
                s,
                "put the try inside the with block (compiled code leaves a context manager "
                "where an exception leaves the function, not where an except clause or a "
                "finally block takes it)",
            )
        if not any(no_grad):
            entered = len(self.managers)
            for item in s.items:
                mgr = self.atom(item.context_expr)
                if not isinstance(mgr, gast.Name) or mgr.id in self.locals:
                    mgr = self.temp(mgr)  # its own name: the exit must find this object
                enter = gast.Call(func=rt_attr("enter"), args=[mgr], keywords=[])
                if item.optional_vars is None:
                    self.emit(gast.Expr(value=enter))
                else:
                    self.assign_to(item.optional_vars, self.temp(enter))
                self.managers.append((mgr.id, self.loops, self.finals))
            for st in s.body:
                self.stmt(st)
            self.line = s.lineno
            finished = self.out and isinstance(
                self.out[-1], (gast.Return, gast.Break, gast.Continue, gast.Raise)
            )
            if not finished:
                self.exit_managers_from(entered)
            del self.managers[entered:]
            return
        if not (len(s.items) == 1 and s.items[0].optional_vars is None):
            raise self.p.error(
                "unsupported syntax: sd.no_grad() with other context managers, or as a name",
                s,
                "write `with sd.no_grad():` on its own, around the lines it covers",
            )
        for inner in (n for n in walk(s) if isinstance(n, gast.With) and n is not s):
            if any(self.is_grad_mode(i.context_expr, ("enable_grad", "set_grad_enabled"))
                   and not self.is_no_grad(i.context_expr) for i in inner.items):  # fmt: skip
                raise self.p.error(
                    "sd.enable_grad() inside sd.no_grad() in a compiled function",
                    inner,
                    "compute the values that need gradients outside the no_grad block "
                    "(compiled code takes what the block assigns for constants)",
                )
        body = copy.deepcopy(s.body)  # run as written: x -= y stays in place on a Tensor
        for inner in (n for st in body for n in walk(st) if isinstance(n, gast.With)):
            for item in inner.items:  # a grad mode turned on there, found when it runs
                item.context_expr = gast.Call(func=rt_attr("under_no_grad"),
                                              args=[item.context_expr], keywords=[])  # fmt: skip
        node = gast.With(items=s.items, body=body, type_comment=None)
        stores = {
            n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
        }
        augmented = [n for n in walk(node) if isinstance(n, gast.AugAssign)]
        updates = [n.target for n in augmented if isinstance(n.target, gast.Name)]
        names = [n for n in walk(node) if isinstance(n, gast.Name)]
        rebound = {n.id for n in names if isinstance(n.ctx, gast.Store)
                   and all(n is not u for u in updates)}  # fmt: skip
        updated = {u.id for u in updates}
        loops = {n.id for f in walk(node) if isinstance(f, gast.For)
                 for n in walk(f.target) if isinstance(n, gast.Name)}  # fmt: skip
        both = sorted(updated & rebound - loops)  # (a loop's variable: a new object each step)
        if both:  # the path taken decides whether it keeps its gradient
            raise self.p.error(
                f"`{both[0]}` both updated in place (`{both[0]} -= ...`, which keeps its "
                "gradient) and given a new value (which has none) under sd.no_grad()",
                s,
                f"write one of the two: `{both[0]} = {both[0]} - ...` for a value without "
                "gradient, or update it in place on every path",
            )
        changes, holders = self.changed_in_place(node)
        mark(node, no_grad=True, stores=tuple(sorted(stores)), changes=changes, holders=holders,
             augmented=tuple(sorted(updated - rebound)))  # fmt: skip
        self.emit(node)

    def changed_in_place(self, block: gast.With) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The names whose objects a block run as written may change in place: written
        into (``y[0] = v``, ``y += v``, ``o.a += v``), given as an output (``out=``, a
        ufunc's extra argument), the receiver of a method that changes its object
        (``y.fill(0)``, a Tensor's ``y.add_(v)``), passed to NumPy's writers
        (``np.copyto(y, v)``), to ``operator.iadd`` and the like, or to a function that
        is not NumPy's, the standard library's or srcdiff's; and what a loop hands such a
        name (``for e in [y, c]: e += v``). Then the names of containers a loop changes
        the entries of (``for p in ps: p -= v``), not the containers themselves."""
        changed: set[str] = set()

        def base(e: gast.expr) -> None:
            while isinstance(e, (gast.Subscript, gast.Attribute, gast.Starred)):
                e = e.value
            if isinstance(e, gast.Name):
                changed.add(e.id)
            elif isinstance(e, (gast.Tuple, gast.List)):
                for elt in e.elts:
                    base(elt)

        for n in walk(block):
            if isinstance(n, gast.Subscript) and isinstance(n.ctx, (gast.Store, gast.Del)):
                base(n)
            elif isinstance(n, gast.AugAssign):
                base(n.target)
            elif isinstance(n, gast.Call):
                self.call_changes(n, base)
        loops = [n for n in walk(block) if isinstance(n, gast.For)]
        holders: set[str] = set()
        for _ in loops:  # what a loop's variable held, through nested loops
            for loop in loops:
                if any(isinstance(t, gast.Name) and t.id in changed | holders
                       for t in walk(loop.target)):  # fmt: skip
                    if isinstance(loop.iter, gast.Name):  # its entries, not itself
                        holders.add(loop.iter.id)
                        continue
                    for e in walk(loop.iter):  # ``for e in [y, c]``: y and c themselves
                        if isinstance(e, gast.Name):
                            changed.add(e.id)
        return tuple(sorted(changed)), tuple(sorted(holders - changed))

    def call_changes(self, call: gast.Call, base: Callable[[gast.expr], None]) -> None:
        """Note (``base``) what ``call``, run as written, may change in place."""
        for k in call.keywords:
            if k.arg == "out":
                base(k.value)
        func, obj = call.func, self.resolved(call.func)
        method = func.attr if isinstance(func, gast.Attribute) else None
        if method in MUTATING_METHODS or (
            method and method.endswith("_") and not method.startswith("_")
        ):
            base(func.value)
        name_ = getattr(obj, "__name__", None)
        home = (getattr(obj, "__module__", None) or "").split(".")[0]
        if isinstance(obj, np.ufunc):
            for a in call.args[obj.nin :]:  # positional outputs
                base(a)
        elif name_ in NUMPY_WRITERS or (home in ("operator", "_operator") and name_ in
                                        IN_PLACE_OPERATORS):  # fmt: skip
            if call.args:
                base(call.args[0])
        elif obj is None and method is not None and method not in tensor_methods.UNCHANGING:
            base(func.value)  # a method of an object's: it may change it, and its arguments
            for a in [*call.args, *(k.value for k in call.keywords)]:
                base(a)
        elif obj is None or not (home in PURE_HOMES or home in sys.stdlib_module_names):
            # the user's own function (a nested one gets its free variables by keyword)
            for a in [*call.args, *(k.value for k in call.keywords)]:
                base(a)

    def resolved(self, e: gast.expr) -> Any:
        """The object a dotted name of a global (``np.add.at``) refers to, or None."""
        return self.p.resolve_dotted(e, self.locals)[1]

    def grad_switch(self, s: gast.With) -> bool:
        """``with sd.set_grad_enabled(flag):`` (its only manager) where ``flag`` is known
        only when the code runs: a branch on it (each call takes the one of its flag),
        between the block entering the manager (recording on: the body compiled, as
        under ``enable_grad()``, which changes nothing where recording is on already)
        and the block as a ``with sd.no_grad():`` block (recording off: run as written).
        A constant flag is one of the two without a branch (see ``is_no_grad``)."""
        if len(s.items) != 1 or s.items[0].optional_vars is not None or hasattr(s, "grad_off"):
            return False
        call = s.items[0].context_expr
        flag = _grad_flag(call) if self.is_grad_mode(call, ("set_grad_enabled",)) else None
        if flag is None or isinstance(flag, gast.Constant):
            return False
        test = self.atom(flag)

        def block(off: bool) -> gast.With:
            mgr = gast.Call(func=copy.deepcopy(call.func), args=[clone(test)], keywords=[])
            node = gast.With(items=[gast.withitem(context_expr=mgr, optional_vars=None)],
                             body=copy.deepcopy(s.body), type_comment=None)  # fmt: skip
            node.grad_off = off
            return _at(node, s.lineno)

        self.stmt_If(_at(gast.If(test=test, body=[block(False)], orelse=[block(True)]), s.lineno))
        return True

    def is_no_grad(self, e: gast.expr) -> bool:
        """``sd.no_grad()``, or ``sd.set_grad_enabled(False)`` (the constant)."""
        if self.is_grad_mode(e, ("set_grad_enabled",)):
            flag = _grad_flag(e)
            return isinstance(flag, gast.Constant) and not flag.value
        return self.is_grad_mode(e, ("no_grad",))

    def is_grad_mode(self, e: gast.expr, names: tuple[str, ...]) -> bool:
        """Whether ``e`` calls one of srcdiff's gradient modes ``names``."""
        obj = self.resolved(e.func) if isinstance(e, gast.Call) else None
        return getattr(obj, "__name__", "") in names and getattr(obj, "__module__", "").startswith(
            "srcdiff"
        )

    def stmt_Break(self, s: gast.Break) -> None:
        self.exit_managers(self.loops)
        self.emit(gast.Break())

    def stmt_Continue(self, s: gast.Continue) -> None:
        self.exit_managers(self.loops)
        self.emit(gast.Continue())

    def stmt_Pass(self, s: gast.Pass) -> None:
        pass

    def stmt_Assert(self, s: gast.Assert) -> None:
        self.emit(gast.Assert(test=self.atom(s.test), msg=s.msg))

    def stmt_Raise(self, s: gast.Raise) -> None:
        self.emit(s)

    def stmt_Try(self, s: gast.Try) -> None:
        """``try`` as Python runs it, each block normalized; the except clauses' types as
        written (Python evaluates them only when an exception comes)."""
        finals = 1 if s.finalbody else 0
        self.finals += finals
        self.trying += 1
        body = self.block(s.body)
        self.trying -= 1 - finals  # exceptions of handlers and else reach the finally
        handlers = []
        for h in s.handlers:
            handler = gast.ExceptHandler(type=h.type, name=h.name, body=self.block(h.body))
            handlers.append(_at(handler, h.lineno))
        orelse = self.block(s.orelse)
        self.trying -= finals
        self.finals -= finals
        finalbody = self.block(s.finalbody)
        if s.finalbody and not finalbody and not handlers:  # ``finally: pass``
            finalbody = [_at(gast.Pass(), s.finalbody[0].lineno)]
        self.line = s.lineno
        self.emit(
            gast.Try(
                body=body or [_at(gast.Pass(), s.lineno)],
                handlers=handlers,
                orelse=orelse,
                finalbody=finalbody,
            )
        )


def _flag_breaks(body: list[gast.stmt], flag: str) -> list[gast.stmt]:
    """A copy of a loop's body in which each of its own ``break`` sets ``flag`` first
    (not those of the loops inside it, but those of their else clauses, which leave
    this loop)."""
    out: list[gast.stmt] = []
    for st in body:
        if isinstance(st, gast.Break):
            out.append(_at(assign(flag, const(True)), st.lineno))
            out.append(st)
            continue
        if isinstance(st, (gast.For, gast.While)) and st.orelse:
            st = copy.copy(st)  # its else clause's break leaves this loop, not that one
            st.orelse = _flag_breaks(st.orelse, flag)
        elif not isinstance(st, (gast.For, gast.While, gast.FunctionDef, gast.AsyncFunctionDef,
                                 gast.ClassDef)):  # fmt: skip
            st = copy.copy(st)
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(st, field, None)
                if inner:
                    setattr(st, field, _flag_breaks(inner, flag))
            if isinstance(st, gast.Try):
                st.handlers = [_at(gast.ExceptHandler(type=h.type, name=h.name,
                                                      body=_flag_breaks(h.body, flag)),
                                   h.lineno) for h in st.handlers]  # fmt: skip
        out.append(st)
    return out


def _rename(e: gast.AST, renames: dict[str, str]) -> gast.AST:
    """A copy of ``e`` with names renamed (a comprehension's own variables)."""
    e = copy.deepcopy(e)
    for n in walk(e):
        if isinstance(n, gast.Name) and n.id in renames:
            n.id = renames[n.id]
    return e


def _inplace(stmt: gast.Assign) -> gast.Assign:
    """Mark a rebinding that Python does in place (``h += v`` on an array or a list,
    ``xs.append(v)``): names sharing the object must follow it (see ``mutation``)."""
    mark(stmt, inplace=True)
    return stmt


def _grad_flag(call: gast.Call) -> gast.expr | None:
    """The flag of ``set_grad_enabled(flag)`` (or ``mode=flag``); None if none is given."""
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "mode"), None)


# consumers that may take some of a generator's entries, not all at once
PARTIAL_CONSUMERS = (any, all, next, iter, zip, map, filter, enumerate)


def returns_sequence(fn: Any, given: Sequence[bool] = (), seen: frozenset[Any] = frozenset()
                     ) -> bool:  # fmt: skip
    """Whether ``fn``, a function of the user's, may return a list or a tuple (a display,
    a comprehension, ``list(...)``/``sorted(...)``, a name given one or appended to, a
    positional parameter ``given`` says the call passes one, or the result of a function
    that may): given where NumPy takes an array, NumPy makes the array of its entries
    (``np.square(helper(x))``)."""
    bound = getattr(fn, "__self__", None) is not None
    fn = getattr(fn, "__func__", fn)  # a bound method's function
    if not isinstance(fn, types.FunctionType) or _library(fn) or fn in seen:
        return False
    positional = fn.__code__.co_varnames[bound : fn.__code__.co_argcount]
    passed = {p for p, g in zip(positional, given, strict=False) if g}
    from .parse import parse

    try:
        parsed = parse(fn)
    except CompileError:
        return False  # no source: compiled (or refused) where it is called
    nodes, todo = [], list(parsed.tree.body)
    while todo:  # the function's own nodes, not those of the functions it defines
        n = todo.pop()
        nodes.append(n)
        if not isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda)):
            todo.extend(gast.iter_child_nodes(n))
    local = {n.id for n in nodes if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}

    def listing(v: gast.expr) -> bool:
        if isinstance(v, (gast.List, gast.Tuple, gast.ListComp)):
            return True
        if isinstance(v, gast.IfExp):
            return listing(v.body) or listing(v.orelse)
        if not isinstance(v, gast.Call):
            return False
        f = v.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "rt":
            return f.attr == "sorted_in_place"
        callee = parsed.resolve_dotted(f, local)[1]
        return any(callee is c for c in LISTING) or returns_sequence(callee, (), seen | {fn})

    listed, holding = set(passed), set()  # names given lists; names given containers
    for n in nodes:
        if isinstance(n, (gast.Assign, gast.AnnAssign, gast.AugAssign)) and n.value is not None:
            targets = n.targets if isinstance(n, gast.Assign) else [n.target]
            names = {t.id for t in targets if isinstance(t, gast.Name)}
            if listing(n.value):
                listed |= names
            if isinstance(n.value, (gast.Dict, gast.DictComp)):
                holding |= names
        elif (
            isinstance(n, gast.Call)
            and isinstance(n.func, gast.Attribute)
            and n.func.attr in ("append", "extend", "insert")
            and isinstance(n.func.value, gast.Name)
        ):
            listed.add(n.func.value.id)
    returned = [n.value for n in nodes if isinstance(n, gast.Return) and n.value is not None]

    def entry(v: gast.expr) -> bool:  # an entry of a list, tuple or dict made here
        if not isinstance(v, gast.Subscript):
            return False
        while isinstance(v, gast.Subscript):
            v = v.value
        return isinstance(v, gast.Name) and v.id in listed | holding

    return any(listing(v) or entry(v) or isinstance(v, gast.Name) and v.id in listed
               for v in returned)  # fmt: skip


def _library(obj: Any) -> bool:
    """Whether ``obj`` is NumPy's, srcdiff's or the builtins' (see assigned_globals)."""
    from .assigned_globals import _LIBRARIES

    if obj is None:
        return False
    owner = getattr(obj, "__module__", None) or getattr(type(obj), "__module__", None) or ""
    return owner.startswith(_LIBRARIES)


def _at(stmt: gast.stmt, line: int) -> gast.stmt:
    stmt.lineno = line
    return stmt


def normalize(parsed: Parsed, names: Names, sequences: frozenset[str] = frozenset()
              ) -> gast.FunctionDef:  # fmt: skip
    """The A-normal form of ``parsed.tree`` (a new FunctionDef); ``sequences``: the
    parameters the call gave lists, tuples or dicts (see ``list_names``)."""
    norm = Normalizer(parsed, names, sequences)
    body = norm.block(parsed.tree.body)
    fn = gast.FunctionDef(
        name=parsed.tree.name,
        args=parsed.tree.args,
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
        type_params=[],
    )
    fn.lineno = parsed.tree.lineno
    mark(fn, attribute_entries=frozenset(norm.attribute_entries))
    return fn


def insert_beside(body: list[gast.stmt], s: gast.stmt, made: list[gast.stmt],
                  after: bool = False) -> bool:  # fmt: skip
    """Put ``made`` just before the statement ``s`` (``after``: just after it), in
    whichever block of ``body`` it is; whether it was found."""
    for i, t in enumerate(body):
        if t is s:
            body[i + after : i + after] = made
            return True
        if any(insert_beside(b, s, made, after) for b in blocks(t)):
            return True
    return False


def walk_statements(body: list[gast.stmt]) -> Iterator[gast.stmt]:
    """Every statement of a normalized body, depth first (the user's own code under
    ``no_grad`` is one opaque statement)."""
    for s in body:
        yield s
        if facts(s).no_grad:
            continue
        for block in blocks(s):
            yield from walk_statements(block)


def blocks(s: gast.stmt) -> list[list[gast.stmt]]:
    """The blocks of statements nested in ``s``, in the order they may run: an if's or a
    loop's body and orelse; a try's body, each except clause's, its else and finally."""
    if isinstance(s, gast.Try):
        return [s.body, *(h.body for h in s.handlers), s.orelse, s.finalbody]
    return [b for b in (getattr(s, "body", None), getattr(s, "orelse", None)) if b is not None]


def rebuild_blocks(s: gast.stmt, rebuild: Callable[[list[gast.stmt]], list[gast.stmt]]) -> None:
    """Give each block nested in ``s`` (see ``blocks``) what ``rebuild`` makes of it."""
    if isinstance(s, gast.Try):
        s.body = rebuild(s.body)
        for h in s.handlers:
            h.body = rebuild(h.body)
        s.orelse, s.finalbody = rebuild(s.orelse), rebuild(s.finalbody)
        return
    for field in ("body", "orelse"):
        if isinstance(getattr(s, field, None), list):
            setattr(s, field, rebuild(getattr(s, field)))


def _is_view(e: gast.expr) -> bool:
    """``d.items()`` or ``d.values()`` of a name."""
    return (isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute)
            and e.func.attr in ("items", "values") and isinstance(e.func.value, gast.Name)
            and not e.args and not e.keywords)  # fmt: skip


def _may_change(body: list[gast.stmt], owner: str, reads: Callable[[gast.Call], bool]) -> bool:
    """Whether ``body`` may change in place the object ``owner`` names: an item or an
    attribute written, an augmented assignment, a method called on it, or a call it is
    passed to (but for those ``reads`` says only read their arguments)."""
    for n in (n for st in body for n in walk(st)):
        if (
            isinstance(n, (gast.Subscript, gast.Attribute))
            and isinstance(n.ctx, (gast.Store, gast.Del))
            and isinstance(n.value, gast.Name)
            and n.value.id == owner
        ):
            return True
        if (
            isinstance(n, gast.AugAssign)
            and isinstance(n.target, gast.Name)
            and n.target.id == owner
        ):
            return True
        if (
            isinstance(n, gast.Call)
            and not reads(n)
            and (
                any(isinstance(a, gast.Name) and a.id == owner for a in n.args)
                or isinstance(n.func, gast.Attribute)
                and isinstance(n.func.value, gast.Name)
                and n.func.value.id == owner
            )
        ):
            return True
    return False


# builtins that read what they are given and change nothing
READING_BUILTINS = frozenset(
    {"len", "sum", "min", "max", "sorted", "list", "tuple", "abs", "float", "int", "bool",
     "any", "all", "print", "isinstance"}
)  # fmt: skip


def _writes_into(body: list[gast.stmt], owner: str) -> bool:
    """Whether ``body`` may write into the dict ``owner`` names (an item written, a
    method changing it, a call it is passed to) and never gives the name another
    object: then a loop over its view reads the values as the body leaves them."""
    nodes = [n for st in body for n in walk(st)]
    if any(isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and n.id == owner
           for n in nodes):  # fmt: skip
        return False  # (the view stays the old dict's)
    for n in nodes:
        if (isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store)
                and isinstance(n.value, gast.Name) and n.value.id == owner):  # fmt: skip
            return True
        if isinstance(n, gast.Call) and (
            any(isinstance(a, gast.Name) and a.id == owner for a in n.args)
            or isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name)
            and n.func.value.id == owner and n.func.attr in ("update", "setdefault", "pop")
        ):  # fmt: skip
            return True
    return False
