"""Stage 1b: the functions a function defines (``def`` and ``lambda`` inside it), lifted
out of it (a part of parse).

Each nested function becomes a function of its own, compiled from its own source when a
call of it runs (``rt.call``), like any function srcdiff compiles. The variables of the
enclosing function that it reads (its *captured* names) become keyword-only parameters,
and every call passes them as they are when the call runs, which is what a Python
closure reads: inside ``solve``, ``def step(y): return y + dt * f(y, w)`` is lifted to
``def step(y, *, dt, w)`` and ``step(y)`` is compiled as ``step(y, dt=dt, w=w)``, so
that a gradient flows into ``w`` through every call. A nested function that calls
another one captures what that one captures.

A nested function defined once under its name (``def f``, or ``f = lambda ...``) is
*static*: the name refers to the lifted function everywhere in the enclosing function.
``map(f, xs)`` is compiled as ``[f(x) for x in xs]`` (calls of ``f``, each compiled);
``sorted(xs, key=f)`` as ``rt.sorted_in_place(list(xs), key=rt.sort_key(f, w=w))``,
which has a rule: a sort key's value carries no gradient (only the order it gives is
used), so ``f`` is given what it captures as it is then (so are the keys of ``min``,
``max`` and ``.sort``). A nested function used as a value otherwise (returned, stored,
passed on, or defined under a name assigned more than once) is ``functools.partial(f,
w=w)``, which binds the values it captures then: only where they cannot change after
(parameters, variables assigned once before it), else a CompileError. Default values
that read the enclosing function are computed where the function is defined (into a
fresh variable, passed by each call that does not give that argument) or bound in the
partial. A nested function assigning variables of the enclosing one (``nonlocal``)
returns their new values after its result, and the statement calling it assigns them.

Invariant of the output: ``Parsed.tree`` has no nested ``def`` or ``lambda`` in its own
scope; ``Parsed.scope`` maps the names its code uses for the lifted functions to them;
each lifted function has its own ``Parsed`` (in parse's cache) and its own lifted ones.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import itertools
import types
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gast

from .normalize import Transformer, children, rebuild_blocks, walk

if TYPE_CHECKING:
    from .parse import Parsed

COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
FUNCTIONS = (gast.FunctionDef, gast.Lambda)
FACTORY = "_srcdiff_factory"


def _name(id_: str, ctx: gast.expr_context | None = None) -> gast.Name:
    return gast.Name(id=id_, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def _rt(attr: str) -> gast.Attribute:
    return gast.Attribute(value=_name("rt"), attr=attr, ctx=gast.Load())


def _params(args: gast.arguments) -> list[str]:
    found = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    return found + [a.id for a in (args.vararg, args.kwarg) if a is not None]


# ---- scopes ------------------------------------------------------------------------------


@dataclass
class Scope:
    """The names one function binds (with how many bindings), the names it reads, and the
    functions defined in it, each with the names the comprehensions around it bind."""

    bound: Counter = field(default_factory=Counter)
    reads: set[str] = field(default_factory=set)
    children: list[tuple[gast.AST, frozenset[str]]] = field(default_factory=list)
    nonlocal_: list[gast.AST] = field(default_factory=list)


def scope_of(node: gast.FunctionDef | gast.Lambda) -> Scope:
    s = Scope()
    for p in _params(node.args):
        s.bound[p] += 1
    body = node.body if isinstance(node, gast.FunctionDef) else [node.body]
    for b in body:
        _visit(b, s, s, frozenset())
    return s


def _visit(n: gast.AST, s: Scope, fn: Scope, comp: frozenset[str]) -> None:
    """Record ``n`` in the scope ``s`` (a comprehension's, or ``fn``, the function's)."""
    if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda)):
        if not isinstance(n, gast.Lambda):
            s.bound[n.name] += 1
            for d in n.decorator_list:
                _visit(d, s, fn, comp)
        fn.children.append((n, comp))
        for d in [*n.args.defaults, *[k for k in n.args.kw_defaults if k is not None]]:
            _visit(d, s, fn, comp)
        return
    if isinstance(n, gast.ClassDef):
        s.bound[n.name] += 1
        return
    if isinstance(n, COMPREHENSIONS):
        gens = n.generators
        _visit(gens[0].iter, s, fn, comp)
        inner = Scope()
        targets = {x.id for g in gens for x in walk(g.target) if isinstance(x, gast.Name)}
        inner_comp = comp | targets
        for i, g in enumerate(gens):
            if i:
                _visit(g.iter, inner, fn, inner_comp)
            for c in g.ifs:
                _visit(c, inner, fn, inner_comp)
        for e in [n.key, n.value] if isinstance(n, gast.DictComp) else [n.elt]:
            _visit(e, inner, fn, inner_comp)
        s.reads |= inner.reads - targets
        return
    if isinstance(n, gast.NamedExpr):  # binds in the function, even in a comprehension
        fn.bound[n.target.id] += 1
        _visit(n.value, s, fn, comp)
        return
    if isinstance(n, gast.Name):
        if isinstance(n.ctx, gast.Load):
            s.reads.add(n.id)
        else:
            s.bound[n.id] += 1
        return
    if isinstance(n, (gast.Nonlocal, gast.Global)):
        fn.nonlocal_.append(n)
    for child in children(n):
        _visit(child, s, fn, comp)


def free_names(node: gast.FunctionDef | gast.Lambda) -> set[str]:
    """The names ``node`` (and the functions inside it) reads from the scopes around it."""
    s = scope_of(node)
    free = s.reads - set(s.bound)
    for child, comp in s.children:
        free |= free_names(child) - set(s.bound) - comp
    return free


# ---- the rewrites ------------------------------------------------------------------------


@dataclass
class Local:
    """A function defined in the function being lifted."""

    node: gast.FunctionDef | gast.Lambda
    name: str  # how the enclosing function's code names it (the lifted function)
    static: bool  # the only binding of its name: the name always means this function
    comp: frozenset[str]  # names bound by comprehensions around it
    free: set[str] = field(default_factory=set)
    captured: tuple[str, ...] = ()
    fn: types.FunctionType | None = None
    # parameters whose default values read the enclosing function: their expressions, and
    # (for a static function) the variable that holds each value from where it is defined
    defaults: dict[str, gast.expr] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    # the enclosing function's variables it assigns (``nonlocal``): the lifted function
    # returns their values after its result, and each call assigns them
    writes: tuple[str, ...] = ()


def _is_builtin(parsed: Parsed, bound: set[str], name: str, obj: Any) -> bool:
    if name in bound:
        return False
    found, value = parsed.resolve(name)
    return found and value is obj


# Python's own, as this module finds them (a program rebinding ``itertools.product`` or
# ``builtins.filter`` calls its own object, which is compiled as a call)
BUILTINS = dict(vars(builtins))
CHAIN, PRODUCT, COMBINATIONS = itertools.chain, itertools.product, itertools.combinations
ACCUMULATE, PAIRWISE, STARMAP = itertools.accumulate, itertools.pairwise, itertools.starmap
ISLICE = itertools.islice
ITERATORS = {"chain": CHAIN, "product": PRODUCT, "combinations": COMBINATIONS,
             "accumulate": ACCUMULATE, "pairwise": PAIRWISE, "starmap": STARMAP,
             "islice": ISLICE}  # fmt: skip
# the calls ``_Builtins`` may rewrite, by the name called
REWRITTEN = frozenset({"map", "filter", "sorted", "min", "max", "sort", "zip", "dict", "fromkeys",
                       "reduce", *ITERATORS})  # fmt: skip
# the statements whose values ``_Builtins.hoisted`` may compute before them
HOISTING = (gast.Assign, gast.AnnAssign, gast.AugAssign, gast.Return, gast.Expr)
# the head a compound statement evaluates first, once
_HEADS = {gast.If: "test", gast.For: "iter"}
# expressions whose parts Python evaluates later, more than once, or not at all
DEFERRING = (gast.Lambda, gast.IfExp, gast.BoolOp, gast.ListComp, gast.SetComp, gast.DictComp,
             gast.GeneratorExp)  # fmt: skip


def _accumulated(node: gast.Call) -> tuple[list[gast.expr], gast.expr | None] | None:
    """The arguments of ``accumulate(xs, func=f, initial=v)`` by position (``[xs, f]``)
    and ``v`` (None where it is not given or None written out); None for another keyword."""
    args, initial = list(node.args), None
    for k in node.keywords:
        if k.arg == "func" and len(args) == 1:
            args.append(k.value)
        elif k.arg == "initial":
            none = isinstance(k.value, gast.Constant) and k.value.value is None
            initial = None if none else k.value
        else:
            return None
    return args, initial


class _Builtins(Transformer):
    """``map(f, xs, ys)`` as ``[f(a, b) for a, b in zip(xs, ys)]`` (calls of ``f`` where
    Python calls it, each compiled), ``sorted(xs, key=f)`` as
    ``rt.sorted_in_place(list(xs), key=f)`` (which has a rule), and the ``key`` of a sort
    that is a function defined here as ``rt.sort_key(f)``, which passes it what it
    captures (a sort key's value carries no gradient: only the order it gives is used)."""

    def __init__(self, parsed: Parsed, bound: set[str], taken: set[str], functions: set[str]):
        self.p = parsed
        self.bound = bound
        self.taken = taken
        self.functions = functions  # names of functions defined in the function
        self.count = 0
        self.looped: set[int] = set()  # zip calls a loop (or list, tuple, dict) consumes
        self.nested = 0  # how deep in functions defined here (Python compiles their code)
        self.iterables = 0  # ... and in comprehensions' iterables (where no := may be)

    def fresh(self, base: str) -> str:
        while True:
            self.count += 1
            candidate = f"_{base}{self.count}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate

    def builtin(self, node: gast.Call, name: str) -> bool:
        if isinstance(node.func, gast.Name) and node.func.id == name:
            # (compiled code is made for what it finds: see Parsed.read_at_parse)
            self.p.read_at_parse[(name,)] = self.p.resolve(name)
        return (
            isinstance(node.func, gast.Name)
            and node.func.id == name
            and _is_builtin(self.p, self.bound, name, BUILTINS[name])
            and not any(isinstance(a, gast.Starred) for a in node.args)
            and all(k.arg is not None for k in node.keywords)
        )

    def resolved(self, func: gast.expr) -> Any:
        """The object a call's function names (``filter``, ``itertools.product``), found
        as the code finds it; None for one bound here or not found."""
        path = []
        while isinstance(func, gast.Attribute):
            path.append(func.attr)
            func = func.value
        if not isinstance(func, gast.Name) or func.id in self.bound:
            return None
        found, obj = self.p.resolve_path(func.id, path[::-1])
        self.p.read_at_parse[(func.id, *reversed(path))] = (found, obj)
        return obj if found else None

    def filtered(self, node: gast.Call) -> gast.expr | None:
        """``filter(f, xs)`` as ``(x for x in xs if f(x))``, lazy as Python's (``f``
        None: ``if x``); the test's value carries no gradient."""
        if not (self.builtin(node, "filter") and len(node.args) == 2 and not node.keywords):
            return None
        f, xs = node.args
        none = isinstance(f, gast.Constant) and f.value is None
        if not (none or _simple(f)):
            return None
        item = self.fresh("item")
        test = _name(item) if none else gast.Call(func=f, args=[_name(item)], keywords=[])
        return gast.GeneratorExp(elt=_name(item), generators=[_for(_name(item), xs, [test])])

    def combined(self, node: gast.Call) -> gast.expr | None:
        """``itertools.chain(a, b)``, ``product(a, b)`` and ``combinations(xs, r)`` (``r``
        a number written out, up to 4), ``accumulate``, ``pairwise`` and ``starmap`` as the
        generator expressions they are, lazy as Python's; the sequences of ``product``,
        ``combinations`` and ``pairwise`` taken as tuples once, first."""
        if not isinstance(node.func, (gast.Name, gast.Attribute)) or _called(node) not in (
            ITERATORS
        ):  # (only these names are read: what the parse reads, it is made again for)
            return None
        fn = self.resolved(node.func)
        if fn not in ITERATORS.values():
            return None
        accumulated = _accumulated(node) if fn is ACCUMULATE else (node.args, None)
        if accumulated is None or fn is not ACCUMULATE and node.keywords:
            return None
        args, initial = accumulated
        if any(isinstance(a, gast.Starred) for a in args):
            return None
        if fn is ISLICE:
            return self.sliced(args)
        if initial is not None and args:  # ``accumulate(chain([v], xs), f)`` (v not None)
            args = [self.initialized(initial, args[0]), *args[1:]]
        if fn in (ACCUMULATE, PAIRWISE, STARMAP):
            return self.stepped(fn, args)
        if fn is CHAIN:  # (x for s in (a, b) for x in s)
            seq, item = self.fresh("seq"), self.fresh("item")
            sequences = gast.Tuple(elts=node.args, ctx=gast.Load())
            loops = [_for(_name(seq), sequences), _for(_name(item), _name(seq))]
            return gast.GeneratorExp(elt=_name(item), generators=loops)
        r = node.args[1] if fn is COMBINATIONS and len(node.args) == 2 else None
        if fn is COMBINATIONS and not (
            isinstance(r, gast.Constant) and type(r.value) is int and 1 <= r.value <= 4
        ):
            return None
        pools = node.args[:1] if r is not None else list(node.args)
        names = [self.fresh("pool") for _ in pools]
        taken = _for(  # ``for p, q in [(tuple(a), tuple(b))]``: each sequence taken once
            gast.Tuple(elts=[_name(n) for n in names], ctx=gast.Load()),
            _listed(gast.Tuple(elts=[_call("tuple", p) for p in pools], ctx=gast.Load())),
        )
        if r is None:  # product: ((x, y) for x in p for y in q)
            items = [self.fresh("item") for _ in pools]
            loops = [_for(_name(i), _name(n)) for i, n in zip(items, names, strict=True)]
            entries: list[gast.expr] = [_name(i) for i in items]
        else:  # combinations: ((p[i], p[j]) for i in range(len(p)) for j in range(i + 1, ...))
            at = [self.fresh("at") for _ in range(r.value)]
            length = _call("len", _name(names[0]))
            loops = [
                _for(_name(i), _call("range", length) if k == 0 else _call(
                    "range", gast.BinOp(left=_name(at[k - 1]), op=gast.Add(),
                                        right=gast.Constant(value=1, kind=None)), length))
                for k, i in enumerate(at)
            ]  # fmt: skip
            entries = [gast.Subscript(value=_name(names[0]), slice=_name(i), ctx=gast.Load())
                       for i in at]  # fmt: skip
        return gast.GeneratorExp(elt=gast.Tuple(elts=entries, ctx=gast.Load()),
                                 generators=[taken, *loops])  # fmt: skip

    def sliced(self, args: list[gast.expr]) -> gast.expr | None:
        """``islice(xs, *bounds)`` as ``(x for r, it in [(rt.islice_range(*bounds), xs)]
        for i, x in zip(range(r.stop), it) if i in r)``, lazy as Python's: the bounds
        checked and ``xs`` taken when it is called, no item read past the stop
        (``enumerate(it)`` where the stop is None written out)."""
        if not 2 <= len(args) <= 4 or not all(
            _is_builtin(self.p, self.bound, n, BUILTINS[n]) for n in ("zip", "range", "enumerate")
        ):
            return None
        positions, it = self.fresh("positions"), self.fresh("it")
        at, item = self.fresh("at"), self.fresh("item")
        stop = args[1] if len(args) == 2 else args[2]  # (islice(xs, stop), islice(xs, a, stop))
        open_ended = isinstance(stop, gast.Constant) and stop.value is None
        flag = [gast.keyword(arg="open_ended", value=gast.Constant(value=True, kind=None))]
        bounds = gast.Call(func=_rt("islice_range"), args=args[1:],
                           keywords=flag if open_ended else [])  # fmt: skip
        taken = _for(gast.Tuple(elts=[_name(positions), _name(it)], ctx=gast.Store()),
                     _listed(gast.Tuple(elts=[bounds, args[0]], ctx=gast.Load())))  # fmt: skip
        stop = gast.Attribute(value=_name(positions), attr="stop", ctx=gast.Load())
        pairs = (_call("enumerate", _name(it)) if open_ended
                 else _call("zip", _call("range", stop), _name(it)))  # fmt: skip
        kept = gast.Compare(left=_name(at), ops=[gast.In()], comparators=[_name(positions)])
        loop = _for(gast.Tuple(elts=[_name(at), _name(item)], ctx=gast.Store()), pairs, [kept])
        return gast.GeneratorExp(elt=_name(item), generators=[taken, loop])

    def initialized(self, initial: gast.expr, xs: gast.expr) -> gast.expr:
        """``xs`` with ``initial`` first, as ``accumulate(xs, initial=v)`` takes them: ``(x
        for v, it in [(initial, xs)] for s in (() if v is None else (v,), it) for x in s)``."""
        first, it = self.fresh("initial"), self.fresh("it")
        seq, item = self.fresh("seq"), self.fresh("item")
        taken = _for(gast.Tuple(elts=[_name(first), _name(it)], ctx=gast.Store()),
                     _listed(gast.Tuple(elts=[initial, xs], ctx=gast.Load())))  # fmt: skip
        none = gast.Compare(left=_name(first), ops=[gast.Is()],
                            comparators=[gast.Constant(value=None, kind=None)])  # fmt: skip
        head = gast.IfExp(test=none, body=gast.Tuple(elts=[], ctx=gast.Load()),
                          orelse=gast.Tuple(elts=[_name(first)], ctx=gast.Load()))  # fmt: skip
        sequences = gast.Tuple(elts=[head, _name(it)], ctx=gast.Load())
        loops = [taken, _for(_name(seq), sequences), _for(_name(item), _name(seq))]
        return gast.GeneratorExp(elt=_name(item), generators=loops)

    def stepped(self, fn: Any, args: list[gast.expr]) -> gast.expr | None:
        """``accumulate(xs[, f])`` as ``(acc := (x if i == 0 else f(acc, x)) for i, x in
        enumerate(xs))`` (``acc + x`` without ``f``), ``pairwise(xs)`` as ``((p[i], p[i +
        1]) for p in [tuple(xs)] for i in range(len(p) - 1))``, ``starmap(f, xs)`` as
        ``(f(*a) for a in xs)``; None where ``f`` is not a name or a lambda, and for an
        ``accumulate`` in a comprehension's iterable in a function defined here."""
        if fn is STARMAP:
            if len(args) != 2 or not _simple(args[0]):
                return None
            item = self.fresh("item")
            spread = gast.Starred(value=_name(item), ctx=gast.Load())
            call = gast.Call(func=args[0], args=[spread], keywords=[])
            return gast.GeneratorExp(elt=call, generators=[_for(_name(item), args[1])])
        if fn is PAIRWISE:
            if len(args) != 1 or not all(
                _is_builtin(self.p, self.bound, n, BUILTINS[n]) for n in ("tuple", "len", "range")
            ):
                return None
            pool, at = self.fresh("pool"), self.fresh("at")
            one = gast.Constant(value=1, kind=None)
            following = gast.BinOp(left=_name(at), op=gast.Add(), right=one)
            pair = gast.Tuple(elts=[gast.Subscript(value=_name(pool), slice=i, ctx=gast.Load())
                                    for i in (_name(at), following)], ctx=gast.Load())  # fmt: skip
            last = gast.BinOp(left=_call("len", _name(pool)), op=gast.Sub(), right=one)
            loops = [_for(_name(pool), _listed(_call("tuple", args[0]))),
                     _for(_name(at), _call("range", last))]  # fmt: skip
            return gast.GeneratorExp(elt=pair, generators=loops)
        if not 1 <= len(args) <= 2 or len(args) == 2 and not _simple(args[1]):
            return None
        if self.nested and self.iterables:  # (Python compiles no := there)
            return None
        if not _is_builtin(self.p, self.bound, "enumerate", builtins.enumerate):
            return None
        acc, at, item = self.fresh("acc"), self.fresh("at"), self.fresh("item")
        step = (
            gast.Call(func=args[1], args=[_name(acc), _name(item)], keywords=[])
            if len(args) == 2
            else gast.BinOp(left=_name(acc), op=gast.Add(), right=_name(item))
        )
        first = gast.Compare(left=_name(at), ops=[gast.Eq()],
                             comparators=[gast.Constant(value=0, kind=None)])  # fmt: skip
        value = gast.IfExp(test=first, body=_name(item), orelse=step)
        kept = gast.NamedExpr(target=_name(acc, gast.Store()), value=value)
        pairs = gast.Tuple(elts=[_name(at), _name(item)], ctx=gast.Store())
        return gast.GeneratorExp(elt=kept, generators=[_for(pairs, _call("enumerate", args[0]))])

    def zipped(self, node: gast.Call) -> gast.expr | None:
        """``list(zip(a, b))`` (or ``tuple``, ``dict`` of one) as the comprehension it is,
        which compiled code runs: the pairs of entries (None for another call)."""
        if not (len(node.args) == 1 and not node.keywords and isinstance(node.args[0], gast.Call)):
            return None
        kind = next((k for k in ("list", "tuple", "dict") if self.builtin(node, k)), None)
        entries = _zip_entries(self, node.args[0]) if kind else None
        if entries is None:
            return None
        items, loop = entries
        pair = gast.Tuple(elts=[_name(i) for i in items], ctx=gast.Load())
        if kind == "dict":
            if len(items) != 2:
                return None
            new: gast.expr = gast.DictComp(key=_name(items[0]), value=_name(items[1]),
                                           generators=[loop])  # fmt: skip
        else:
            new = gast.ListComp(elt=pair, generators=[loop])
            if kind == "tuple":
                new = gast.Call(func=_name("tuple"), args=[new], keywords=[])
        return _located(new, node)

    def hoisted(self, body: list[gast.stmt]) -> list[gast.stmt]:
        """``body`` with each ``functools.reduce(f, xs[, init])`` that a statement
        computes first (the statement calls nothing else) made the loop it is, before
        the statement: ``acc = xs[0]`` (or ``init``), then ``acc = f(acc, x)`` for the
        others, each call of ``f`` compiled (a lambda given a name first)."""
        out: list[gast.stmt] = []
        for s in body:
            rebuild_blocks(s, self.hoisted)
            head = s if isinstance(s, HOISTING) else getattr(s, _HEADS.get(type(s), ""), None)
            call = self.reduced(head) if head is not None else None
            if call is not None:
                out.extend(self.reduction(call, s))
            out.append(s)
        return out

    def reduced(self, s: gast.AST) -> gast.Call | None:
        """The ``functools.reduce(...)`` call of the statement (or a compound statement's
        head) ``s``, where Python surely evaluates it once, before any other call ``s``
        makes but those in its arguments and those given its value."""
        calls, deferred = [], set()
        for n in walk(s):
            if isinstance(n, DEFERRING):
                deferred.update(id(m) for m in walk(n) if m is not n)
            if isinstance(n, gast.Call):
                calls.append(n)
        found = [c for c in calls if self.resolved(c.func) is functools.reduce]
        if len(found) != 1 or id(found[0]) in deferred:
            return None
        call = found[0]
        parents = {id(child): n for n in walk(s) for child in children(n)}
        allowed = {id(m) for a in call.args for m in walk(a)} | {id(call)}
        up = parents.get(id(call))
        while up is not None:  # (the calls given its value run after it)
            allowed.add(id(up))
            up = parents.get(id(up))
        if (
            any(id(c) not in allowed for c in calls)
            or call.keywords
            or not 2 <= len(call.args) <= 3
        ):
            return None
        if any(isinstance(a, gast.Starred) for a in call.args) or not all(
            _is_builtin(self.p, self.bound, n, BUILTINS[n]) for n in ("list", "len", "TypeError")
        ):
            return None
        return call

    def reduction(self, call: gast.Call, s: gast.stmt) -> list[gast.stmt]:
        """The statements computing ``call`` (``functools.reduce(f, xs[, init])``) into a
        fresh name, which then stands for it in ``s``."""
        f, xs, *init = call.args
        made: list[gast.stmt] = []
        if not isinstance(f, gast.Name) and not _simple(f) or isinstance(f, gast.Lambda):
            named = self.fresh("reducer")
            made.append(_assign(named, f))
            f = _name(named)
        seq, acc, item = self.fresh("seq"), self.fresh("acc"), self.fresh("item")
        made.append(_assign(seq, _call("list", xs)))
        rest: gast.expr = _name(seq)
        if init:
            made.append(_assign(acc, init[0]))
        else:
            empty = gast.Compare(left=_call("len", _name(seq)), ops=[gast.Eq()],
                                 comparators=[gast.Constant(value=0, kind=None)])  # fmt: skip
            message = gast.Constant(value="reduce() of empty iterable with no initial value",
                                    kind=None)  # fmt: skip
            fail = gast.Raise(exc=_call("TypeError", message), cause=None)
            made.append(gast.If(test=empty, body=[fail], orelse=[]))
            first = gast.Subscript(value=_name(seq), slice=gast.Constant(value=0, kind=None),
                                   ctx=gast.Load())  # fmt: skip
            made.append(_assign(acc, first))
            tail = gast.Slice(lower=gast.Constant(value=1, kind=None), upper=None, step=None)
            rest = gast.Subscript(value=_name(seq), slice=tail, ctx=gast.Load())
        step = _assign(acc, gast.Call(func=f, args=[_name(acc), _name(item)], keywords=[]))
        made.append(gast.For(target=_name(item, gast.Store()), iter=rest, body=[step], orelse=[],
                             type_comment=None))  # fmt: skip
        for new in made:
            _located(new, s)
            for n in walk(new):
                if isinstance(n, gast.stmt):
                    n.lineno = s.lineno
        _replace(s, call, _name(acc))
        return made

    def visit_For(self, node: gast.For) -> gast.AST:
        self.iterated(node.iter)
        return self.generic_visit(node)

    def visit_comprehension(self, node: gast.comprehension) -> gast.AST:
        self.iterated(node.iter)
        self.iterables += 1
        node.iter = self.visit(node.iter)
        self.iterables -= 1
        node.target = self.visit(node.target)
        node.ifs = [self.visit(t) for t in node.ifs]
        return node

    def visit_FunctionDef(self, node: gast.FunctionDef) -> gast.AST:
        self.nested += 1
        node = self.generic_visit(node)
        self.nested -= 1
        return node

    visit_Lambda = visit_FunctionDef

    def iterated(self, it: gast.expr) -> None:
        """Note a loop's ``zip(a, b)`` (or ``enumerate(zip(a, b))``), which the loop
        indexes (see ``normalize.loop_source``): no iterator to make of it."""
        if isinstance(it, gast.Call) and self.builtin(it, "enumerate") and it.args:
            it = it.args[0]
        if isinstance(it, gast.Call) and self.builtin(it, "zip"):
            self.looped.add(id(it))

    def lazy_zip(self, node: gast.Call) -> gast.expr | None:
        """``zip(a, b)`` anywhere but in a loop's head or ``list(...)``, ``tuple(...)``,
        ``dict(...)``: the generator expression ``((x, y) for x, y in zip(a, b))``, lazy
        as Python's (kept in a name, it must be consumed by the next statement)."""
        if id(node) in self.looped or not (self.builtin(node, "zip") and node.args):
            return None
        entries = _zip_entries(self, node)
        if entries is None:
            return None
        items, loop = entries
        self.looped.add(id(node))
        pair = gast.Tuple(elts=[_name(i) for i in items], ctx=gast.Load())
        return _located(gast.GeneratorExp(elt=pair, generators=[loop]), node)

    def visit_Call(self, node: gast.Call) -> gast.expr:
        if (
            len(node.args) == 1
            and isinstance(node.args[0], gast.Call)
            and any(self.builtin(node, k) for k in ("list", "tuple", "dict"))
        ):  # ``list(zip(a, b))``: the comprehension it is (see ``zipped``)
            self.iterated(node.args[0])
        self.generic_visit(node)
        if self.builtin(node, "map") and len(node.args) >= 2 and not node.keywords:
            f = node.args[0]
            if not _simple(f) or (len(node.args) > 2 and not _is_builtin(
                    self.p, self.bound, "zip", builtins.zip)):  # fmt: skip
                return node
            items = [self.fresh("item") for _ in node.args[1:]]
            if len(items) == 1:
                target, iterable = _name(items[0], gast.Store()), node.args[1]
            else:
                target = gast.Tuple(elts=[_name(i, gast.Store()) for i in items],
                                    ctx=gast.Store())  # fmt: skip
                iterable = gast.Call(func=_name("zip"), args=node.args[1:], keywords=[])
            call = gast.Call(func=f, args=[_name(i) for i in items], keywords=[])
            loop = gast.comprehension(target=target, iter=iterable, ifs=[], is_async=0)
            return _located(gast.GeneratorExp(elt=call, generators=[loop]), node)  # lazy
        lazy = self.filtered(node) or self.combined(node)
        if lazy is not None:
            return _located(lazy, node)
        zipped = self.zipped(node) or self.lazy_zip(node)
        if zipped is not None:
            return zipped
        if (
            isinstance(node.func, gast.Attribute)
            and node.func.attr == "fromkeys"
            and not node.keywords
            and 1 <= len(node.args) <= 2
            and all(isinstance(a, (gast.Name, gast.Constant)) for a in node.args[1:])
            and self.resolved(node.func) == dict.fromkeys
        ):  # ``dict.fromkeys(ks, v)`` is ``{k: v for k in ks}``, whose keys are checked
            key, value = self.fresh("key"), node.args[1] if len(node.args) == 2 else None
            value = value if value is not None else gast.Constant(value=None, kind=None)
            comp = gast.DictComp(key=_name(key), value=value,
                                 generators=[_for(_name(key), node.args[0])])  # fmt: skip
            return _located(comp, node)
        if self.builtin(node, "dict") and not node.args and node.keywords:
            # ``dict(a=x, b=y)`` is the display ``{"a": x, "b": y}``, which compiled code runs
            keys = [gast.Constant(value=k.arg, kind=None) for k in node.keywords]
            return _located(gast.Dict(keys=keys, values=[k.value for k in node.keywords]), node)
        sorts = self.builtin(node, "sorted") and len(node.args) == 1 and _is_builtin(
            self.p, self.bound, "list", builtins.list)  # fmt: skip
        if sorts or _key_taker(self.p, self.bound, node):
            for k in node.keywords:
                if k.arg == "key" and (
                    isinstance(k.value, gast.Lambda)
                    or isinstance(k.value, gast.Name)
                    and k.value.id in self.functions
                ):
                    k.value = gast.Call(func=_rt("sort_key"), args=[k.value], keywords=[])
        if sorts and {k.arg for k in node.keywords} <= {"key", "reverse"}:
            listed = gast.Call(func=_name("list"), args=node.args, keywords=[])
            new = gast.Call(func=_rt("sorted_in_place"), args=[listed], keywords=node.keywords)
            return _located(new, node)
        return node


def _assign(target: str, value: gast.expr) -> gast.Assign:
    return gast.Assign(targets=[_name(target, gast.Store())], value=value, type_comment=None)


def _replace(tree: gast.AST, old: gast.AST, new: gast.AST) -> None:
    """Put ``new`` in place of the node ``old`` inside ``tree``."""
    for node in walk(tree):
        for name_, value in gast.iter_fields(node):
            if value is old:
                setattr(node, name_, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                value[[i for i, v in enumerate(value) if v is old][0]] = new
                return


def _zip_entries(lifter: Any, node: gast.Call) -> tuple[list[str], gast.comprehension] | None:
    """The names of one entry of each sequence and the loop over them of ``zip(a, b)``
    (None for another call, or a zip with other keywords than ``strict``)."""
    if not (lifter.builtin(node, "zip") and node.args):
        return None
    if any(k.arg != "strict" for k in node.keywords):  # (strict: see Normalizer.strict_zip)
        return None
    items = [lifter.fresh("item") for _ in node.args]
    target = gast.Tuple(elts=[_name(i, gast.Store()) for i in items], ctx=gast.Store())
    return items, gast.comprehension(target=target, iter=node, ifs=[], is_async=0)


def _key_taker(parsed: Parsed, bound: set[str], node: gast.Call) -> bool:
    """``min``, ``max`` (builtins) or a ``.sort`` method: calls whose ``key`` is used for
    an order only."""
    f = node.func
    if isinstance(f, gast.Attribute):
        return f.attr == "sort"
    return isinstance(f, gast.Name) and any(
        f.id == n and _is_builtin(parsed, bound, n, BUILTINS[n]) for n in ("min", "max")
    )


def _called(call: gast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, gast.Name) else f.attr


def _for(target: gast.expr, iterable: gast.expr, ifs: list[gast.expr] | None = None
         ) -> gast.comprehension:  # fmt: skip
    """``for target in iterable if ...`` of a comprehension (``target`` stored into)."""
    for n in walk(target):
        if isinstance(n, gast.Name):
            n.ctx = gast.Store()
    if isinstance(target, gast.Tuple):
        target.ctx = gast.Store()
    return gast.comprehension(target=target, iter=iterable, ifs=ifs or [], is_async=0)


def _call(fn: str, *args: gast.expr) -> gast.Call:
    return gast.Call(func=_name(fn), args=list(args), keywords=[])


def _listed(e: gast.expr) -> gast.List:
    return gast.List(elts=[e], ctx=gast.Load())


def _simple(e: gast.expr) -> bool:
    """A function expression that evaluating once per item changes nothing: a lambda, a
    name, or a dotted name."""
    while isinstance(e, gast.Attribute):
        e = e.value
    return isinstance(e, (gast.Name, gast.Lambda))


def _located(new: gast.AST, old: gast.AST) -> gast.AST:
    for n in walk(new):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if not hasattr(n, attr) and hasattr(old, attr):
                setattr(n, attr, getattr(old, attr))
    return new


def _is_sort_key(node: gast.Call) -> bool:
    f = node.func
    return (isinstance(f, gast.Attribute) and f.attr == "sort_key"
            and isinstance(f.value, gast.Name) and f.value.id == "rt")  # fmt: skip


class _Captures(Transformer):
    """Pass the captured names at every call of a lifted function (``f(x)`` is ``f(x,
    w=w)``); in the enclosing function's own scope (``own``), also put the lifted
    functions in place of their definitions. A function that captures names, used
    other than by calling it, is a CompileError."""

    def __init__(self, lifter: Lifter, visible: dict[str, Local], own: bool):
        self.lifter = lifter
        self.visible = dict(visible)
        self.own = own
        self.at = 0  # the statement of the function's body being visited (``own`` only)

    def error(self, node: gast.AST, local: Local, moving: list[str]) -> Exception:
        shown = ", ".join(f"`{c}`" for c in moving)
        def_ = isinstance(local.node, gast.FunctionDef)
        what = f"`{local.node.name}`" if def_ else f"`{local.name}`" if local.static else \
            "a lambda"  # fmt: skip
        how = "is defined under a name that is assigned more than once" if def_ and not \
            local.static else "is used as a value (passed, stored or returned)"  # fmt: skip
        return self.lifter.p.error(
            f"{what} reads {shown} of the function around it, which may hold another value "
            f"when it is called, and {how}",
            node,
            "a nested function used as a value may read variables assigned once, before "
            "it, in the function around it (or its parameters); bind the others as "
            f"defaults ({', '.join(f'{c}={c}' for c in moving)}) if it is to keep the "
            "values of when it is made, or call it where it is defined",
        )

    def value(self, node: gast.AST, local: Local) -> gast.expr:
        """The value of the nested function ``local`` used other than by a call: the
        lifted function, or ``functools.partial`` of it given what it captures and its
        default values read from the function around it (where what it captures cannot
        change after this statement: see ``Lifter.fixed``)."""
        name = _located(_name(local.name), node)
        if local.writes:
            raise self.lifter.p.error(
                f"`{local.name}`, which assigns {_shown(local.writes)} of the function "
                "around it (nonlocal), used other than by a call of its own",
                node,
                f"call it as a statement (`{local.name}(...)`, `y = {local.name}(...)` or "
                f"`return {local.name}(...)`), where the new values of {_shown(local.writes)} "
                "are assigned",
            )
        if not local.captured and not local.defaults:
            return name
        moving = [c for c in local.captured if not self.lifter.fixed(c, self.at, local)]
        if moving or not self.own:
            raise self.error(node, local, moving or list(local.captured))
        keywords = [gast.keyword(arg=c, value=_name(c)) for c in local.captured]
        for p, e in local.defaults.items():
            value = _name(local.held[p]) if p in local.held else self.visit(e)
            keywords.append(gast.keyword(arg=p, value=value))
        call = gast.Call(func=_name(self.lifter.partial_name()), args=[name], keywords=keywords)
        return _located(call, node)

    def defaults_held(self, local: Local) -> list[gast.stmt]:
        """Where a static function is defined: its default values that read the function
        around it, each computed into the variable that holds it (``Local.held``)."""
        made = [_assign(local.held[p], self.visit(e)) for p, e in local.defaults.items()]
        return [_located(m, local.node) for m in made]

    def local_of(self, e: gast.expr) -> Local | None:
        if isinstance(e, gast.Name) and isinstance(e.ctx, gast.Load):
            return self.visible.get(e.id)
        if isinstance(e, gast.Lambda) and self.own:
            return self.lifter.by_node.get(id(e))
        return None

    def pass_captured(self, call: gast.Call, local: Local, inline: bool = False) -> None:
        given = {k.arg for k in call.keywords}
        if local.defaults:
            if any(isinstance(a, gast.Starred) for a in call.args) or None in given:
                raise self.lifter.p.error(
                    f"a call of {local.name} with *args or **kwargs, whose default values "
                    "read the function around it",
                    call,
                    "pass its arguments by name or position",
                )
            args = local.node.args
            positional = [a.id for a in args.posonlyargs + args.args]
            for p, e in local.defaults.items():
                if p in given or p in positional[: len(call.args)]:
                    continue
                value = self.visit(e) if inline else _name(local.held[p])
                call.keywords.append(gast.keyword(arg=p, value=value))
        for c in local.captured:
            if c in given:
                raise self.lifter.p.error(
                    f"a call of {local.name} passes `{c}=`, a name it reads from the "
                    "function around it",
                    call,
                    "rename the parameter",
                )
            call.keywords.append(gast.keyword(arg=c, value=_name(c)))

    def visit_Call(self, node: gast.Call) -> gast.expr:
        target = node.args[0] if _is_sort_key(node) and node.args else node.func
        local = self.local_of(target)
        if local is None:
            return self.generic_visit(node)
        inline = isinstance(target, gast.Lambda)  # (defined here: its defaults read here)
        if inline:
            replacement = _located(_name(local.name), target)
            if target is node.func:
                node.func = replacement
            else:
                node.args[0] = replacement
        if local.writes and (not self.own or id(node) not in self.lifter.assigning):
            raise self.lifter.p.error(
                f"a call of `{local.name}`, which assigns {_shown(local.writes)} of the "
                "function around it (nonlocal), "
                + (
                    "where its statement reads them or calls another function before such "
                    "a call, or where Python may evaluate it more than once or not at all"
                    if self.own
                    else "in another function defined here"
                ),
                node,
                "call it in a statement of the function around it (`y = f(v) + f(w) + n`), "
                f"before anything else in it reads {_shown(local.writes)} or calls another "
                "function",
            )
        node.args = [a if a is target else self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        self.pass_captured(node, local, inline)
        return node

    def visit_Name(self, node: gast.Name) -> gast.expr:
        local = self.local_of(node)
        if local is not None and (local.captured or local.defaults):
            return self.value(node, local)
        return node

    def visit_Lambda(self, node: gast.Lambda) -> gast.expr:
        if self.own:
            return self.value(node, self.lifter.by_node[id(node)])
        return self.nested(node)

    def visit_FunctionDef(self, node: gast.FunctionDef) -> Any:
        if not self.own:
            return self.nested(node)
        local = self.lifter.by_node[id(node)]
        if local.static:
            return self.defaults_held(local) or None
        new = gast.Assign(targets=[_name(node.name, gast.Store())],
                          value=self.value(node, local), type_comment=None)  # fmt: skip
        return _located(new, node)

    def visit_Assign(self, node: gast.Assign | gast.AnnAssign) -> Any:
        if self.own and id(node.value) in self.lifter.by_node:
            local = self.lifter.by_node[id(node.value)]
            if local.static:
                return self.defaults_held(local) or None
        return self.generic_visit(node)

    visit_AnnAssign = visit_Assign

    def nested(self, node: gast.FunctionDef | gast.Lambda) -> gast.AST:
        """Inside a function defined in a lifted one: what its own names shadow is not
        the lifted function."""
        bound = set(scope_of(node).bound)
        inner = _Captures(self.lifter, {n: v for n, v in self.visible.items()
                                        if n not in bound}, own=False)  # fmt: skip
        if isinstance(node, gast.Lambda):
            node.body = inner.visit(node.body)
        else:
            node.body = [s for s in (inner.visit(b) for b in node.body) if s is not None]
        return node

    def comprehension(self, node: gast.AST) -> gast.AST:
        gens = node.generators
        gens[0].iter = self.visit(gens[0].iter)
        targets = {x.id for g in gens for x in walk(g.target) if isinstance(x, gast.Name)}
        saved = self.visible
        self.visible = {n: v for n, v in saved.items() if n not in targets}
        for i, g in enumerate(gens):
            if i:
                g.iter = self.visit(g.iter)
            g.ifs = [self.visit(c) for c in g.ifs]
        if isinstance(node, gast.DictComp):
            node.key, node.value = self.visit(node.key), self.visit(node.value)
        else:
            node.elt = self.visit(node.elt)
        self.visible = saved
        return node

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = comprehension

    def visit_AsyncFunctionDef(self, node: gast.AST) -> gast.AST:
        return node  # refused by normalize

    visit_ClassDef = visit_AsyncFunctionDef


def _fill_empty(tree: gast.AST) -> None:
    """A block left empty by a removed definition gets a ``pass``."""
    for n in walk(tree):
        body = getattr(n, "body", None)
        if isinstance(body, list) and not body and not isinstance(n, gast.Module):
            n.body = [_located(gast.Pass(), n)]


class Lifter:
    def __init__(self, parsed: Parsed):
        self.p = parsed
        self.fn = parsed.fn
        self.by_node: dict[int, Local] = {}
        self.bound: Counter = Counter()  # the enclosing function's bindings of each name
        self.bound_at: dict[str, int] = {}  # ... and the last statement of its body binding it
        self.names: set[str] = set()  # the names its code uses (fresh ones avoid them)
        self.partial: str | None = None  # the name ``functools.partial`` goes by, if used
        self.assigning: set[int] = set()  # calls whose statements take the values they assign
        self.writers: dict[str, Local] = {}  # static functions assigning (nonlocal) variables

    def partial_name(self) -> str:
        if self.partial is None:
            self.partial = _unique("_partial", self.names)
        return self.partial

    def fixed(self, name: str, at: int, local: Local) -> bool:
        """Whether the variable ``name`` that ``local`` captures holds, from the statement
        ``at`` of the function's body on, the value it holds there: a parameter, or a
        variable whose every assignment is in an earlier statement (not a comprehension's):
        those statements do not run again, so a call of ``local`` reads that value."""
        if name in local.comp:
            return False
        if any(name in w.writes for w in self.writers.values()):  # (its calls assign it)
            return False
        return self.bound_at.get(name, -1) < at  # (a parameter alone: bound before any)

    def error(self, what: str, node: gast.AST, hint: str) -> Exception:
        return self.p.error(what, node, hint)

    def run(self) -> dict[str, Any]:
        tree = self.p.tree
        nodes = [n for n in walk(tree) if n is not tree]
        taken = {n.id for n in nodes if isinstance(n, gast.Name)}
        if any(
            isinstance(n, gast.Call)
            and isinstance(n.func, (gast.Name, gast.Attribute))
            and _called(n) in REWRITTEN
            for n in nodes
        ):
            functions = {n.name for n in nodes if isinstance(n, gast.FunctionDef)} | {
                t.id for n in nodes if isinstance(n, gast.Assign)
                and isinstance(n.value, gast.Lambda) for t in n.targets
                if isinstance(t, gast.Name)}  # fmt: skip
            rewrite = _Builtins(self.p, set(scope_of(tree).bound), taken, functions)
            tree.body = [rewrite.visit(st) for st in rewrite.hoisted(tree.body)]
        if not any(isinstance(n, FUNCTIONS) for n in nodes):
            return {}
        s = scope_of(tree)
        static_lambdas = {
            id(st.value): _assigned(st).id
            for st in _own_statements(tree.body)
            if isinstance(_assigned(st), gast.Name) and isinstance(st.value, gast.Lambda)
        }
        locals_: list[Local] = []
        names = self.names = set(s.bound) | taken
        self.bound = s.bound
        self.bound_at = _binding_statements(tree)
        for node, comp in s.children:
            if isinstance(node, gast.AsyncFunctionDef):
                continue  # refused by normalize
            if isinstance(node, gast.FunctionDef):
                static = s.bound[node.name] == 1
                name = node.name if static else _unique(f"_{node.name}_{node.lineno}", names)
            elif id(node) in static_lambdas and s.bound[static_lambdas[id(node)]] == 1:
                static, name = True, static_lambdas[id(node)]
            else:
                static = False
                name = _unique(f"_lambda_{node.lineno}_{node.col_offset}", names)
            local = Local(node, name, static, comp)
            local.free = free_names(node)
            self.by_node[id(node)] = local
            locals_.append(local)
        statics = {x.name: x for x in locals_ if x.static}
        variables = set(s.bound) - set(statics)
        for x in locals_:
            self.check(x, variables | x.comp, statics)
            if x.static:
                x.held = {p: _unique(f"_{x.name}_{p}", names) for p in x.defaults}
        direct = {id(x): x.free & (variables | x.comp) for x in locals_}
        refs = {id(x): [statics[n] for n in sorted((x.free - x.comp) & set(statics))]
                for x in locals_}  # fmt: skip
        captured = dict(direct)
        changed = True
        while changed:  # (a caller passes what its callees capture, and their defaults)
            changed = False
            for x in locals_:
                new = captured[id(x)].union(
                    *(captured[id(r)] | set(r.held.values()) for r in refs[id(x)])
                )
                if new != captured[id(x)]:
                    captured[id(x)], changed = new, True
        for x in locals_:
            x.captured = tuple(sorted(captured[id(x)] | set(x.writes)))
        self.writers = {n: x for n, x in statics.items() if x.writes}
        if self.writers:
            tree.body = self.assigned(tree.body)
        own = _Captures(self, statics, own=True)
        body = []
        for own.at, b in enumerate(tree.body):
            new = own.visit(b)
            body.extend([] if new is None else new if isinstance(new, list) else [new])
        tree.body = body
        _fill_empty(tree)
        for x in locals_:
            visible = {n: v for n, v in statics.items() if n not in scope_of(x.node).bound
                       and n not in x.comp}  # fmt: skip
            _Captures(self, visible, own=False).nested(x.node)
        cells = {n: types.CellType() for n in statics}
        for x in locals_:
            x.fn = self.make(x, cells)
        for n, x in statics.items():
            cells[n].cell_contents = x.fn
        scope: dict[str, Any] = {x.name: x.fn for x in locals_}
        if self.partial is not None:
            scope[self.partial] = functools.partial
        return scope

    def assigned(self, body: list[gast.stmt]) -> list[gast.stmt]:
        """``body`` with each call of a function assigning variables of this one
        (``nonlocal``) taking the values it assigns, before its statement: ``r, n = f(v)``,
        then the statement with ``r`` in place of the call (``y = r``, ``return r + n``);
        where Python makes the call before the statement reads anything it assigns and
        before any other call (see ``_evaluated``), else the call is refused."""
        out: list[gast.stmt] = []
        for s in body:
            if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                out.append(s)
                continue
            if isinstance(s, gast.Try):
                self.not_in_try(s)
            rebuild_blocks(s, self.assigned)
            head = (s.test if isinstance(s, gast.If) else s.iter if isinstance(s, gast.For)
                    else s.value if isinstance(s, (gast.Expr, gast.Assign, gast.AugAssign,
                                                   gast.Return)) else None)  # fmt: skip
            order = _evaluated(head) if head is not None else None
            calls = [n for n in order or [] if isinstance(n, gast.Call) and isinstance(
                n.func, gast.Name) and n.func.id in self.writers]  # fmt: skip
            if not calls:
                out.append(s)
                continue
            inside = {id(n) for c in calls for n in walk(c)}
            written = {w for c in calls for w in self.writers[c.func.id].writes}
            before = order[: order.index(calls[-1])]
            if isinstance(s, gast.AugAssign):  # (its target is read first)
                before[:0] = _evaluated(_loaded(s.target)) or [s.target]
            if any(isinstance(n, gast.Call) or isinstance(n, gast.Name) and n.id in written
                   for n in before if id(n) not in inside):  # fmt: skip
                out.append(s)  # (refused: see _Captures.visit_Call)
                continue
            for call in calls:  # (in the order Python makes them: an argument's first)
                local = self.writers[call.func.id]
                self.assigning.add(id(call))
                result = _unique("_result", self.names)
                names = [_name(result, gast.Store()),
                         *(_name(w, gast.Store()) for w in local.writes)]  # fmt: skip
                made = gast.Assign(targets=[gast.Tuple(elts=names, ctx=gast.Store())],
                                   value=call, type_comment=None)  # fmt: skip
                out.append(_located(made, s))
                if isinstance(s, gast.Expr) and head is call:
                    break
                _replace(s, call, _located(_name(result), call))
            else:
                out.append(s)
        return out

    def not_in_try(self, s: gast.Try) -> None:
        """Refuse a call of a function assigning variables of this one (``nonlocal``)
        where ``s`` catches what it raises, or runs its ``finally`` after: Python keeps
        the values it assigned before raising, compiled code assigns them when it returns."""
        guarded = s.body + [st for h in s.handlers for st in h.body] + s.orelse \
            if s.finalbody else s.body if s.handlers else []  # fmt: skip
        for n in walk(gast.Module(body=guarded, type_ignores=[])):
            if (
                isinstance(n, gast.Call)
                and isinstance(n.func, gast.Name)
                and n.func.id in self.writers
            ):
                local = self.writers[n.func.id]
                raise self.error(
                    f"a call of `{local.name}`, which assigns {_shown(local.writes)} of the "
                    "function around it (nonlocal), inside a try statement: where it raises "
                    "after assigning them, Python keeps the values assigned, compiled code "
                    "would not",
                    n,
                    "make the call outside the try statement, or return the new values and "
                    "assign them in the function around it",
                )

    def check(self, x: Local, variables: set[str], statics: dict[str, Local]) -> None:
        node = x.node
        inner = scope_of(node)
        for st in inner.nonlocal_:
            if isinstance(st, gast.Global):
                continue  # (its own: see compiler/assigned_globals)
            outside = [n for n in st.names if n not in variables or n in x.comp]
            if outside:
                raise self.error(
                    f"nonlocal {_shown(outside)} of a function around the one compiled",
                    st,
                    "pass the value in and return the new one",
                )
            if not x.static:
                raise self.error(
                    "nonlocal statement in a lambda or in a function defined under a name "
                    "assigned more than once",
                    st,
                    "define it once, under its own name, and call it",
                )
            x.writes += tuple(n for n in st.names if n not in x.writes)
        if isinstance(node, gast.FunctionDef) and node.decorator_list:
            raise self.error(
                "decorated nested function",
                node,
                "define it at module level, or apply the decorator to it by a call",
            )
        outer = set(self.fn.__code__.co_freevars) | variables | set(statics)
        args = node.args
        positional = args.posonlyargs + args.args
        with_defaults = [
            *zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True),
            *zip(args.kwonlyargs, args.kw_defaults, strict=True),
        ]
        for param, d in with_defaults:
            if d is None:
                continue
            if any(isinstance(n, FUNCTIONS) for n in walk(d)):
                raise self.error(
                    "a default value of a nested function that defines a function",
                    d,
                    "define that function first, under a name, and give the name",
                )
            read = {n.id for n in walk(d) if isinstance(n, gast.Name)}
            if read & outer or any(self.global_value(n) for n in read):
                x.defaults[param.id] = d  # (computed where it is defined: see _Captures)

    def global_value(self, n: str) -> bool:
        """Whether ``n`` is a global of the module holding a value (not a module, function
        or class), which may be given another before a nested function is defined: its
        default values reading it are computed where Python computes them."""
        if n not in self.fn.__globals__:
            return False
        kinds = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
        return not isinstance(self.fn.__globals__[n], kinds)

    def make(self, x: Local, cells: dict[str, types.CellType]) -> types.FunctionType:
        """The lifted function: the nested one with its captured names as keyword-only
        parameters, compiled as Python compiles it (its own closures intact), and given
        the enclosing function's closure cells and the other lifted functions it uses."""
        from .parse import Parsed, lift, register

        node = x.node
        args = copy.deepcopy(node.args)
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None:
                a.annotation = None
        args.kwonlyargs += [_name(c, gast.Param()) for c in x.captured]
        args.kw_defaults += [None] * len(x.captured)
        none = gast.Constant(value=None, kind=None)  # (each call passes the value it reads)
        positional = [a.id for a in args.posonlyargs + args.args]
        first = len(positional) - len(args.defaults)
        args.defaults = [none if positional[first + i] in x.defaults else d
                         for i, d in enumerate(args.defaults)]  # fmt: skip
        pairs = zip(args.kwonlyargs, args.kw_defaults, strict=True)
        args.kw_defaults = [none if d is not None and k.id in x.defaults else d for k, d in pairs]
        lambda_ = isinstance(node, gast.Lambda)
        tree_name = x.name.lstrip("_") if lambda_ or not x.static else node.name
        body = [_located(gast.Return(value=node.body), node)] if lambda_ else node.body
        if x.writes:  # (``tree`` is what Python runs and what is compiled)
            body = _returning(body, x.writes)
        tree = gast.FunctionDef(name=tree_name, args=args, body=copy.deepcopy(body),
                                decorator_list=[], returns=None, type_comment=None,
                                type_params=[])  # fmt: skip
        _located(tree, node)
        outer_cells = dict(zip(self.fn.__code__.co_freevars, self.fn.__closure__ or (),
                               strict=True))  # fmt: skip
        free = free_names(tree)
        cellnames = sorted(n for n in free if n in cells or n in outer_cells or n == "rt")
        if "rt" in cellnames and "rt" not in cells and "rt" not in outer_cells:
            cells = {**cells, "rt": types.CellType(_runtime())}  # rt.sort_key, rt.sorted_in_place
        if lambda_:
            made = gast.Return(
                value=gast.Lambda(args=copy.deepcopy(args), body=copy.deepcopy(node.body))
            )
            inner = [_located(made, node)]
        else:
            plain = copy.deepcopy(tree)
            plain.name = node.name
            inner = [plain, _located(gast.Return(value=_name(node.name)), node)]
        factory = gast.FunctionDef(
            name=FACTORY,
            args=gast.arguments(args=[_name(n, gast.Param()) for n in cellnames],
                                posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                                kwarg=None, defaults=[]),  # fmt: skip
            body=inner, decorator_list=[], returns=None, type_comment=None, type_params=[],
        )  # fmt: skip
        _located(factory, node)
        module = ast.fix_missing_locations(
            gast.gast_to_ast(gast.Module(body=[factory], type_ignores=[]))
        )
        for n in ast.walk(module):  # lines only (the parse of a method is dedented)
            if hasattr(n, "lineno"):
                n.end_lineno, n.col_offset, n.end_col_offset = n.lineno, 0, 0
        code = compile(module, self.p.filename, "exec")
        factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
        globals_ = self.fn.__globals__
        made_fn = types.FunctionType(factory_code, globals_)(*[None] * len(cellnames))
        inner_code = made_fn.__code__
        qualname = f"{self.fn.__qualname__}.<locals>.{'<lambda>' if lambda_ else node.name}"
        if hasattr(inner_code, "co_qualname"):
            inner_code = inner_code.replace(co_qualname=qualname)
        closure = tuple(cells[n] if n in cells else outer_cells[n] for n in inner_code.co_freevars)
        fn = types.FunctionType(inner_code, globals_, made_fn.__name__, made_fn.__defaults__,
                                closure or None)  # fmt: skip
        fn.__kwdefaults__ = made_fn.__kwdefaults__
        fn.__qualname__ = qualname
        fn.__module__ = self.fn.__module__
        parsed = Parsed(fn, tree, self.p.filename, self.p.lines)
        lift(parsed)
        register(parsed)
        return fn


def _runtime() -> Any:
    from .. import runtime

    return runtime


def _own_statements(body: list[gast.stmt]):
    """The statements of a function's own scope, nested blocks included."""
    for st in body:
        yield st
        if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            continue
        for f in ("body", "orelse", "finalbody"):
            yield from _own_statements(getattr(st, f, None) or [])
        for h in getattr(st, "handlers", None) or []:
            yield from _own_statements(h.body)


# expressions whose parts Python evaluates in the order of their fields, each once
_IN_ORDER = (
    gast.BinOp, gast.UnaryOp, gast.Compare, gast.Call, gast.keyword, gast.Attribute,
    gast.Subscript, gast.Slice, gast.Tuple, gast.List, gast.Name, gast.Constant,
)  # fmt: skip


def _evaluated(e: gast.expr) -> list[gast.AST] | None:
    """The parts of ``e`` in the order Python evaluates them (each after its parts), or
    None where ``e`` holds an expression evaluated otherwise (a conditional, a lambda,
    a comprehension)."""
    if not isinstance(e, _IN_ORDER):
        return None
    found: list[gast.AST] = []
    for child in children(e):
        if isinstance(child, (gast.operator, gast.unaryop, gast.cmpop, gast.expr_context)):
            continue
        inner = _evaluated(child)
        if inner is None:
            return None
        found += inner
    return [*found, e]


def _loaded(target: gast.expr) -> gast.expr:
    """An assignment's target as the expression reading it (``y += v`` reads ``y``)."""
    new = copy.deepcopy(target)
    for n in walk(new):
        if hasattr(n, "ctx"):
            n.ctx = gast.Load()
    return new


def _shown(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _returning(body: list[gast.stmt], writes: tuple[str, ...]) -> list[gast.stmt]:
    """The body of a function assigning ``writes`` of the function around it (its
    ``nonlocal`` statements dropped): each ``return v`` made ``return v, *writes``, and
    ``return None, *writes`` at the end where it can be reached."""

    def returned(value: gast.expr | None) -> gast.Tuple:
        first = value if value is not None else gast.Constant(value=None, kind=None)
        return gast.Tuple(elts=[first, *(_name(w) for w in writes)], ctx=gast.Load())

    def rebuilt(block: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for st in block:
            if isinstance(st, gast.Nonlocal):
                continue
            if isinstance(st, gast.Return):
                st = _located(gast.Return(value=returned(st.value)), st)
            elif not isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                rebuild_blocks(st, rebuilt)
                for case in getattr(st, "cases", None) or []:
                    case.body = rebuilt(case.body)
            out.append(st)
        return out

    body = rebuilt(copy.deepcopy(body))
    if not body or not isinstance(body[-1], (gast.Return, gast.Raise)):
        body.append(_located(gast.Return(value=returned(None)), body[-1] if body else None))
    return body


def _binding_statements(tree: gast.FunctionDef) -> dict[str, int]:
    """The last statement of the function's body (by position) that binds each name, in
    its own scope (comprehensions' targets are theirs; ``:=`` binds in the function)."""
    found: dict[str, int] = {}

    def visit(n: gast.AST, at: int) -> None:
        if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            found[n.name] = at
            return
        if isinstance(n, gast.Lambda):
            return
        if isinstance(n, COMPREHENSIONS):
            for m in walk(n):
                if isinstance(m, gast.NamedExpr):
                    found[m.target.id] = at
            return
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            found[n.id] = at
        for child in children(n):
            visit(child, at)

    for at, st in enumerate(tree.body):
        visit(st, at)
    return found


def _assigned(st: gast.stmt) -> gast.expr | None:
    """The one target of ``x = v`` or ``x: T = v``."""
    if isinstance(st, gast.Assign) and len(st.targets) == 1:
        return st.targets[0]
    if isinstance(st, gast.AnnAssign) and st.value is not None:
        return st.target
    return None


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name
