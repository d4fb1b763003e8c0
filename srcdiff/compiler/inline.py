"""Stage 2a, for Tensor code: calls of functions and modules known when the caller is
compiled, replaced by their code.

A training step calls ``model(x)``, a loss module and ``F.mse_loss``: through ``rt.call``
each call pays for finding the callee's compiled code and its adjoint, many times the
arithmetic of a small model. A callee found now (a function named by a global or a
closure variable, a module's ``forward``, either reached through attributes of modules)
whose code has its returns at the top or in ``if`` blocks is put in place of its call
(after normalization, so the call is a statement of its own): its names renamed apart,
its parameters replaced by the arguments, each return an assignment of the call's target.
Its own calls are inlined first, the same way.

The unit is compiled for the objects found: a ``Guard`` per object checks, before each
call (``Unit.stale``), that it is still the one found where it was, else the unit is
compiled again; where the code before an inlined call may change them (a store into an
attribute, a call of the user's), the call's own guards are checked there too
(``rt.inlined(site)``), and the call is made as written where one fails. An inlined
statement's line number is a virtual one (``parse.Origin``):
shown as the callee's file and line in the generated source, reported there in compile
errors, and as the call's line in tracebacks.
"""

from __future__ import annotations

import builtins
import inspect
import operator
import os
import re
import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import gast

from ..errors import CompileError
from ..rules import registry
from ..runtime import tensor_methods
from ..runtime.calls import Host
from .ir import NO_FACTS, facts, mark
from .normalize import (
    RESERVED,
    Names,
    Transformer,
    all_names,
    assign,
    blocks,
    clone,
    const,
    local_names,
    name,
    normalize,
    params_of,
    rebuild_blocks,
    walk,
)
from .parse import MISSING, VIRTUAL, Origin, Parsed, attribute, parse

DEPTH = 4  # calls inlined inside inlined code, at most this deep
LARGEST = 200  # statements of a callee's normalized code, at most
SHARED = frozenset(RESERVED)  # names generated code reads, the same in every function
TEMPORARY = re.compile(r"t\d+")
# methods of an array or a Tensor, which change no binding inlined code was found through
ARRAY_METHODS = frozenset(tensor_methods.METHODS) | {
    "item",
    "backward",
    "numpy",
    "tolist",
    "copy",
    "astype",
    "reshape",
    "view",
    "size",
    "dim",
    "detach",
    "clone",
    "float",
    "double",
    "zero_",
    "fill_",
    "append",
    "keys",
    "values",
    "items",
    "get",
}
# builtins that may rebind a global or an attribute inlined code was found through
REBINDING_BUILTINS = frozenset({"setattr", "delattr", "exec", "eval", "globals", "vars",
                                "__import__"})  # fmt: skip
RESULT = "<result>"  # the call's target in the callee's code: a name no code has
_PLAIN_DEFAULTS = (type(None), bool, int, float, complex, str, bytes)
# what a free name of inlined code may stand for when the code itself runs calls that may
# rebind globals: objects code rebinds rarely, whose identity the guards check
FIXED = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


class Guard:
    """An object inlined code was compiled for, and how to find it again: ``holds()``
    when ``read()`` finds that very object (held weakly where it can be). ``path`` says
    what ``read`` reads (see ``Found``), for ``check_guards``."""

    __slots__ = ("_kept", "_ref", "path", "read")

    def __init__(self, read: Callable[[], Any], expected: Any, path: tuple = ()):
        self.read = read
        self.path = path
        self._kept = expected
        self._ref: weakref.ref | None = None
        if _lives_on(expected):  # kept: compared as it is, before every call
            return
        try:
            self._ref = weakref.ref(expected)
            self._kept = None
        except TypeError:  # tuples, dicts, None: kept
            pass

    def holds(self) -> bool:
        if self._ref is None:
            return self.read() is self._kept
        expected = self._ref()
        return expected is not None and self.read() is expected


class Site:
    """The guards of one call inlined (``rt.inlined(site)`` checks them there)."""

    __slots__ = ("_check", "guards")

    def __init__(self, guards: tuple[Guard, ...]):
        self.guards = guards
        self._check: Callable[[], bool] | None = None

    def holds(self) -> bool:
        if self._check is None:
            self._check = check_guards(self.guards)
        return self._check()


class Found(NamedTuple):
    """An object found now, how to read it again, and a key naming where it is read
    (so that an object found twice is guarded once). ``path``, what ``read`` reads: a
    root, ``("global", namespace, name)``, ``("cell", cell)``, ``("builtin", name)``,
    ``("fixed", obj)``, ``("code" | "defaults", fn)`` or ``("kwdefaults", fn, kept)``,
    then attributes read from it (``FORWARD``: a module's ``forward``)."""

    obj: Any
    read: Callable[[], Any]
    key: tuple
    path: tuple = ()


FORWARD = "forward()"  # a step of a path: the forward a call of a module runs


def check_guards(guards: Iterable[Guard]) -> Callable[[], bool]:
    """One generated function telling whether all ``guards`` hold: each object read
    along its path, a path's beginning shared by the guards that read it read once (a
    guard of a few attribute reads costs no more than they do, before every call)."""
    namespace: dict[str, Any] = {}
    lines = guard_lines(guards, namespace)
    body = "".join(f"        {line}\n" for line in lines) or "        pass\n"
    source = (f"def holds():\n    try:\n{body}    except ValueError:  # an emptied cell\n"
              "        return False\n    return True\n")  # fmt: skip
    exec(compile(source, "<srcdiff: guards of inlined code>", "exec"), namespace)
    return namespace["holds"]


def cell_key(cell: Any) -> int:
    """How ``guard_lines``'s ``cells`` names a closure cell."""
    return id(cell)


def global_key(namespace: dict[str, Any], name: str) -> tuple:
    """How ``guard_lines``'s ``cells`` names a global ``name`` of ``namespace``."""
    return ("global", id(namespace), name)


def _root_key(root: tuple) -> Any:
    """The key in ``guard_lines``'s ``cells`` of a path's root read (None: none there)."""
    if root[0] == "cell":
        return cell_key(root[1])
    if root[0] == "global":
        return global_key(root[1], root[2])
    return None


def guard_lines(
    guards: Iterable[Guard], namespace: dict[str, Any],
    cells: dict[Any, tuple[str, Any]] | None = None,
) -> list[str]:  # fmt: skip
    """The statements of ``check_guards``'s function, each returning False where a guard
    does not hold (inside a ``try`` that returns False for an emptied cell), the objects
    they read put into ``namespace`` under names of their own: its locals are named
    ``v<n>`` and ``e``, its globals ``M``, ``A``, ``FWD``, ``B``, ``SAME``, ``ND``, ``MC``
    and a letter followed by a number. ``cells``: closure cells and globals (by
    ``cell_key``, ``global_key``) the code before has read into a local and found holding
    an object (local, object): read there, and not checked again where a guard expects
    that object."""
    namespace.update({"M": MISSING, "A": attribute, "FWD": _forward, "B": builtins,
                      "SAME": _same_items, "ND": _NOTHING})  # fmt: skip
    if len(Host.modules) == 1:  # ``_forward`` written out: its class's forward, where the
        namespace["MC"] = Host.module_calls[0]  # module calls it as nn.Module does
    lines: list[str] = []
    read: dict[tuple, str] = {}  # a path's key, and the local holding what it reads
    cells = cells or {}

    def local(value: Any, prefix: str) -> str:
        n = f"{prefix}{len(namespace)}"
        namespace[n] = value
        return n

    def value(path: tuple, key: tuple) -> str:
        if key in read:
            return read[key]
        fixed = path[0][0] == "fixed" and len(path) == 2
        if fixed and isinstance(path[0][1], types.ModuleType) and path[1] in vars(path[0][1]):
            # a module's own attribute (``F.mse_loss``), read from its dict (which the
            # module keeps for life): no look-up of the name on the module's type first
            expr = f"{local(vars(path[0][1]), 'KD')}.get({path[1]!r}, M)"
        elif len(path) > 1:
            holder = value(path[:-1], key[:-1])
            step = path[-1]
            expr = (
                _forward_read(holder, "MC" in namespace)
                if step == FORWARD
                else f"getattr({holder}, {step!r}, M)"  # (how ``A`` reads a module's or a
                if fixed and isinstance(path[0][1], (types.ModuleType, type))  # class's)
                else f"A({holder}, {step!r})"
            )
        else:
            root, *parts = path[0]
            before = cells.get(_root_key(path[0]))
            if before is not None:
                read[key] = before[0]
                return read[key]
            expr = {
                "fixed": lambda: local(parts[0], "K"),
                "cell": lambda: f"{local(parts[0], 'C')}.cell_contents",
                "global": lambda: f"{local(parts[0], 'N')}.get({parts[1]!r}, M)",
                "builtin": lambda: f"getattr(B, {parts[0]!r}, M)",
                "code": lambda: f"{local(parts[0], 'F')}.__code__",
                "defaults": lambda: f"{local(parts[0], 'F')}.__defaults__",
                "kwdefaults": lambda: (
                    f"SAME({local(parts[0], 'F')}.__kwdefaults__, {local(parts[1], 'D')})"
                ),
            }[root]()
        n = read[key] = f"v{len(read)}"
        lines.append(f"{n} = {expr}")
        return n

    for guard in guards:
        if not guard.path:  # read as it reads
            lines.append(f"if not {local(guard, 'G')}.holds(): return False")
            continue
        if len(guard.path) == 1 and guard.path[0][0] == "fixed":
            continue  # the object itself: found as long as it lives, which read keeps
        before = cells.get(_root_key(guard.path[0]))
        if len(guard.path) == 1 and before is not None:
            expected = guard._kept if guard._ref is None else guard._ref()
            if before[1] is expected:
                continue  # checked before
        v = value(guard.path, _path_key(guard.path))
        if guard._ref is None:
            lines.append(f"if {v} is not {local(guard._kept, 'X')}: return False")
        else:
            lines += [f"e = {local(guard._ref, 'W')}()",
                      f"if e is None or {v} is not e: return False"]  # fmt: skip
    return lines


def _lives_on(obj: Any) -> bool:
    """Whether ``obj`` is a function or code object of srcdiff's own (``F.mse_loss``,
    ``MSELoss.forward``), which lives as long as its module does: held as it is, no weak
    reference to call."""
    code = obj if isinstance(obj, types.CodeType) else None
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
    return code is not None and code.co_filename.startswith(_PACKAGE)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _own(fn: types.FunctionType) -> bool:
    """Whether ``fn`` is srcdiff's own (its layers, losses and functions): its code, its
    defaults and the globals and builtins it reads are left as they are, and guarded not."""
    return fn.__globals__.get("__name__", "").startswith("srcdiff.")


def _definition(fn: types.FunctionType) -> list[Found]:
    """What finding ``fn``'s code and defaults reads, to check them before each call."""
    reads = [Found(fn.__code__, lambda: fn.__code__, ("code", id(fn)), (("code", fn),))]
    if fn.__defaults__ is not None:
        reads.append(Found(fn.__defaults__, lambda: fn.__defaults__, ("defaults", id(fn)),
                           (("defaults", fn),)))  # fmt: skip
    if fn.__kwdefaults__ is not None:
        kept = dict(fn.__kwdefaults__)
        read = lambda: _same_items(fn.__kwdefaults__, kept)  # noqa: E731
        reads.append(Found(True, read, ("kwdefaults", id(fn)), (("kwdefaults", fn, kept),)))
    return reads


def _path_key(path: tuple) -> tuple:
    """A hashable key of ``path`` (its objects by identity), each prefix a prefix."""
    return (tuple(id(p) if not isinstance(p, str) else p for p in path[0]), *path[1:])


def _cell_reader(cell: types.CellType) -> Callable[[], Any]:
    def read() -> Any:
        try:
            return cell.cell_contents
        except ValueError:  # emptied
            return MISSING

    return read


def _forward(module: Any) -> Any:
    """The ``forward`` a call of ``module`` runs: its class's (``MISSING`` where it has
    a ``forward`` of its own, or its class calls something else)."""
    if module is MISSING or "forward" in getattr(module, "__dict__", _NOTHING):
        return MISSING
    cls = type(module)
    call = cls.__call__
    bases = zip(Host.modules, Host.module_calls, strict=True)
    for base, known in bases:  # (a loop, not any(): this runs before every call)
        if call is not known and issubclass(cls, base):
            return MISSING
    return getattr(cls, "forward", MISSING)


_NOTHING: dict = {}


def _forward_read(holder: str, written: bool) -> str:
    """The expression of ``_forward(holder)`` in guards; ``written`` out where one Module
    class is installed (no call: guards run before every call). Stricter than
    ``_forward`` only for an object of no Module class, which it takes for none."""
    if not written:
        return f"FWD({holder})"
    return (f"M if 'forward' in getattr({holder}, '__dict__', ND) or getattr(type({holder}), "
            f"'__call__', None) is not MC else getattr(type({holder}), 'forward', M)")  # fmt: skip


class Inliner:
    """Inlines the calls of one function's normalized code (``parsed``), taking fresh
    names from ``names``; ``known`` are parameters standing for objects found now (the
    ``self`` of a module inlined)."""

    def __init__(self, parsed: Parsed, fn: gast.FunctionDef, names: Names,
                 stack: tuple[types.FunctionType, ...] = (),
                 known: dict[str, Found] | None = None, changed: bool = False):  # fmt: skip
        self.p = parsed
        self.names = names
        self.stack = stack
        self.known = known or {}
        self.locals = local_names(fn)
        self.scope: dict[str, Any] = {}  # names bound for inlined code, and their objects
        self.origins: dict[int, Origin] = dict(parsed.origins)
        self.lines: dict[int, str] = {}
        self.guards: dict[tuple, Guard] = {}
        self.site: list[Guard] = []  # the guards of the call being inlined
        self.sites = 0  # calls inlined here
        self.changed = changed  # whether code before here may have rebound what it found
        self.attribute_entries: set[str] = set()

    def guard(self, found: Found) -> None:
        """Check, before each call and at the call being inlined, that ``found`` is
        still found where it was."""
        if found.key not in self.guards:
            self.guards[found.key] = Guard(found.read, found.obj, found.path)
        self.site.append(self.guards[found.key])

    # --- finding callees -------------------------------------------------------------
    def free(self, id_: str) -> Found | None:
        """The object the free name ``id_`` of this function refers to now (a function
        defined in it, its closure cell, its global, a builtin), or None."""
        fn = self.p.fn
        if id_ in self.p.scope:
            obj = self.p.scope[id_]
            return Found(obj, lambda: obj, ("fixed", id(obj)), (("fixed", obj),))
        code = fn.__code__
        if _own(fn) and not (fn.__closure__ and id_ in code.co_freevars):
            obj = fn.__globals__.get(id_, getattr(builtins, id_, MISSING))
            if obj is MISSING:
                return None  # (a global or builtin of srcdiff's own code: fixed)
            return Found(obj, lambda: obj, ("fixed", id(obj)), (("fixed", obj),))
        if fn.__closure__ and id_ in code.co_freevars:
            cell = fn.__closure__[code.co_freevars.index(id_)]
            read = _cell_reader(cell)
            key: tuple = ("cell", id(cell))
            root: tuple = ("cell", cell)
        elif id_ in fn.__globals__:
            namespace = fn.__globals__
            read, key = (lambda: namespace.get(id_, MISSING)), ("global", id(namespace), id_)
            root = ("global", namespace, id_)
        elif hasattr(builtins, id_):
            read, key = (lambda: getattr(builtins, id_, MISSING)), ("builtin", id_)
            root = ("builtin", id_)
        else:
            return None
        obj = read()
        return None if obj is MISSING else Found(obj, read, key, (root,))

    def lookup(self, e: gast.expr) -> Found | None:
        """The object ``e`` (a free name, or attributes of modules reached from one)
        refers to now, and how to read it again; None for anything else."""
        if isinstance(e, gast.Name):
            if e.id in self.known:
                return self.known[e.id]
            if e.id in self.scope:
                obj = self.scope[e.id]  # guarded where it was bound
                return Found(obj, lambda: obj, ("fixed", id(obj)), (("fixed", obj),))
            return None if e.id in self.locals else self.free(e.id)
        if isinstance(e, gast.Attribute):
            holder = self.lookup(e.value)
            # only modules' and nn.Modules' attributes: another object's may be computed
            if holder is None or not isinstance(holder.obj, (types.ModuleType, *Host.modules)):
                return None
            obj = attribute(holder.obj, e.attr)
            if obj is MISSING:
                return None
            attr, read_holder = e.attr, holder.read
            return Found(obj, lambda: attribute(read_holder(), attr), (*holder.key, attr),
                         (*holder.path, attr) if holder.path else ())  # fmt: skip
        return None

    def callee(self, call: gast.Call) -> tuple[types.FunctionType, list[Found], bool] | None:
        """The function a call runs, if it can be inlined; what finding it read; and
        whether it is a module's ``forward`` (the module passed as ``self``)."""
        found = self.lookup(call.func)
        if found is None:
            return None
        reads = [found]
        bound = False
        if isinstance(found.obj, Host.modules):
            fn = _forward(found.obj)
            if not isinstance(fn, types.FunctionType):
                return None
            read = found.read
            reads.append(Found(fn, lambda: _forward(read()), (*found.key, FORWARD),
                               (*found.path, FORWARD) if found.path else ()))  # fmt: skip
            bound = True
        elif isinstance(found.obj, types.FunctionType):
            fn = found.obj
        else:
            return None
        if not self.inlinable(fn):
            return None
        return fn, reads, bound

    def inlinable(self, fn: types.FunctionType) -> bool:
        """Whether ``fn``'s code may be put in place of its calls: a function compiled
        code would compile (no rule, not srcdiff's machinery), not using super(), no
        ``*args`` or ``**kwargs``, not a generator, not one being inlined already."""
        module = fn.__module__ or ""
        code = fn.__code__
        flags = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS | inspect.CO_GENERATOR
        flags |= inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
        return not (
            fn in self.stack
            or len(self.stack) >= DEPTH
            or "__class__" in code.co_freevars  # super(): the frame's class and instance
            or code.co_flags & flags
            or (module.startswith("srcdiff") and not module.startswith("srcdiff.nn"))
            or registry.lookup(fn) is not None
            or registry.is_nondiff(fn)
            or registry.refusal(fn) is not None
        )

    # --- inlining --------------------------------------------------------------------
    def block(self, body: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for s in body:
            if facts(s).no_grad:  # the user's code under no_grad: run as it is
                self.changed = self.changed or self.may_change(s)
                out.append(s)
                continue
            if isinstance(s, (gast.For, gast.While)) and self.may_change(s):
                self.changed = True  # an iteration may follow a change made by the one before
            rebuild_blocks(s, self.block)
            inlined = self.statement(s)
            made = [s] if inlined is None else inlined
            self.changed = self.changed or any(self.may_change(st) for st in made)
            out.extend(made)
        return out

    def may_change(self, s: gast.stmt) -> bool:
        """Whether ``s`` may rebind what inlined code was found through (an attribute of
        an object: ``net.act = act``), or runs code that may (a call of anything but a
        rule's primitive, a builtin, NumPy, srcdiff's helpers or an array's method). An
        inlined call's check is its code: the call made where the check fails is the
        same code."""
        if facts(s).site:
            return any(self.may_change(st) for st in s.body)
        for node in walk(s):
            if isinstance(node, gast.Assign) and any(
                isinstance(t, gast.Attribute) for t in node.targets
            ):
                return True
            if isinstance(node, gast.Call) and not self.harmless(node.func):
                return True
        return False

    def harmless(self, func: gast.expr) -> bool:
        """Whether a call of ``func`` surely rebinds nothing inlined code was found
        through: srcdiff's helpers and Tensor functions (``sd.tanh``), an array's or a
        Tensor's methods, a rule's primitive, NumPy's, ``math``'s and the builtins'
        functions."""
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            if func.value.id == "rt":
                return True
            if func.value.id in self.locals and func.attr in ARRAY_METHODS:
                return True
        found = self.lookup(func)
        if found is None:
            return False
        full = getattr(found.obj, "__module__", None) or ""
        module = full.split(".")[0]
        return (
            registry.lookup(found.obj) is not None
            or registry.is_nondiff(found.obj)
            or module in ("numpy", "math")
            or full in ("srcdiff.functions", "srcdiff.creation")
            or isinstance(found.obj, (types.BuiltinFunctionType, type))
            and module == "builtins"
            and found.obj.__name__ not in REBINDING_BUILTINS
        )

    def statement(self, s: gast.stmt) -> list[gast.stmt] | None:
        """The statements standing for ``s`` (``x = f(a)`` or ``f(a)``) with ``f``'s
        code inlined; None to leave it."""
        if isinstance(s, gast.Assign) and len(s.targets) == 1:
            target = s.targets[0].id if isinstance(s.targets[0], gast.Name) else None
            if target is None:
                return None
        elif isinstance(s, gast.Expr):
            target = None
        else:
            return None
        call = s.value
        if not isinstance(call, gast.Call) or any(
            isinstance(a, gast.Starred) for a in call.args
        ) or any(k.arg is None for k in call.keywords):  # fmt: skip
            return None
        found = self.callee(call)
        if found is None:
            return None
        fn, reads, bound = found
        self.site = []
        try:
            body = self.inline(s, call, fn, bound, target, reads)
        except CompileError:  # not inlined: the call compiles it, and says what it lacks
            return None
        if body is None:
            return None
        return self.checked(s, body) if self.changed else body

    def checked(self, s: gast.stmt, body: list[gast.stmt]) -> list[gast.stmt]:
        """``body`` run where the objects it was inlined from are still found (the code
        before it may have rebound a global, replaced a submodule), else the call ``s``
        itself: ``if rt.inlined(site): body else: s``."""
        self.sites += 1
        site = self.names.reserve(f"_site{self.sites}")
        self.scope[site] = Site(tuple(dict.fromkeys(self.site)))
        flag = self.names.fresh()
        check = gast.Call(func=gast.Attribute(value=name("rt"), attr="inlined", ctx=gast.Load()),
                          args=[name(site)], keywords=[])  # fmt: skip
        test = assign(flag, check)
        branch = gast.If(test=name(flag), body=body, orelse=[s])
        mark(branch, site=True)
        test.lineno = branch.lineno = s.lineno
        return [test, branch]

    def inline(self, s: gast.stmt, call: gast.Call, fn: types.FunctionType, bound: bool,
               target: str | None, reads: list[Found]) -> list[gast.stmt] | None:  # fmt: skip
        """``fn``'s normalized code in place of the call statement ``s``; ``reads``:
        what finding ``fn`` read, guarded once it is inlined."""
        parsed = parse(fn)
        if parsed.scope:  # functions defined inside it: compiled with it, not inlined
            return None
        signature = inspect.signature(fn)
        params = list(signature.parameters)
        args: list[gast.expr] = ([call.func] if bound else []) + list(call.args)
        try:
            binding = signature.bind(*range(len(args)), **{k.arg: k for k in call.keywords})
        except TypeError:  # a wrong call: let it raise as Python does
            return None
        names = Names(all_names(parsed.tree) | SHARED)
        tree = clone(normalize(parsed, names))
        if sum(1 for _ in _statements(tree.body)) > LARGEST or _maybe_unbound(tree):
            return None
        self_param = params[0] if bound else None
        known = {self_param: reads[0]} if bound else {}  # the module: its attributes known
        inner = Inliner(parsed, tree, names, (*self.stack, fn), known, self.changed)
        tree.body = inner.block(tree.body)
        lowered = _without_returns(tree.body, None if target is None else RESULT)
        bound_to = self.arguments(signature, binding, args, tree, reads, fn)
        if lowered is None or bound_to is None:
            return None
        copies, arguments = bound_to
        renames = self.renames(inner, tree, parsed, arguments)
        if renames is None:
            return None
        renames[RESULT] = target  # the call's target, named once the callee's names are apart
        body = [_ConstantTests().visit(_renamed(st, renames, arguments)) for st in lowered]
        body = _taken_branches(body)
        self.lines_of(body, inner, parsed, s.lineno)
        # the caller's values, each a node of its own (the call itself stays, the code
        # run when the inlined objects are no longer found: a node in both would be
        # renamed twice when this code is inlined in turn)
        copies = [assign(renames[p], clone(value)) for p, value in copies]
        for st in copies:
            st.lineno = s.lineno  # part of the call
        body = copies + body
        for found in reads:
            self.guard(found)
        self.guards.update(inner.guards)
        self.attribute_entries |= {renames.get(n, n) for n in facts(tree).attribute_entries}
        self.attribute_entries |= {renames.get(n, n) for n in inner.attribute_entries}
        return body

    def arguments(self, signature: inspect.Signature, binding: inspect.BoundArguments,
                  args: list[gast.expr], tree: gast.FunctionDef, reads: list[Found],
                  fn: types.FunctionType
                  ) -> tuple[list[tuple[str, gast.expr]], dict[str, gast.expr]] | None:  # fmt: skip
        """What each parameter stands for (an argument, a name or a constant, or its
        default), and the parameters given a copy instead (those the callee assigns, and
        those passed another expression); None where a default is not a plain constant."""
        stored = {
            n.id for n in walk(tree) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
        }
        values: dict[str, gast.expr] = {}
        for p, param in signature.parameters.items():
            if p in binding.arguments:
                given = binding.arguments[p]
                values[p] = args[given] if isinstance(given, int) else given.value
            elif type(param.default) in _PLAIN_DEFAULTS:  # not an enum's member: its repr
                values[p] = const(param.default)
            else:
                return None
        # its code and the defaults read: replaced (or, for keyword defaults, changed in
        # place), they would differ (srcdiff's own are left as they are)
        if not _own(fn):
            reads.extend(_definition(fn))
        copies = [
            (p, values.pop(p))
            for p in list(values)
            if p in stored or not isinstance(values[p], (gast.Name, gast.Constant))
        ]
        return copies, values

    def renames(self, inner: Inliner, tree: gast.FunctionDef, parsed: Parsed,
                arguments: dict[str, gast.expr]) -> dict[str, str] | None:  # fmt: skip
        """New names for the callee's locals (apart from the caller's) and for the free
        names its code reads (bound for the caller where the caller's name holds
        another object); None where a free name is not found."""
        renames: dict[str, str] = {}
        source_names = all_names(parsed.tree)
        for n in sorted(local_names(tree) - set(arguments)):
            is_temporary = TEMPORARY.fullmatch(n) and n not in source_names
            renames[n] = self.names.fresh() if is_temporary else self.names.reserve(n)
            self.locals.add(renames[n])  # a local here now: no later callee's global
        free = {
            n.id
            for st in tree.body  # not the signature's annotations
            for n in walk(st)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
            and n.id not in renames and n.id not in arguments and n.id not in SHARED
        }  # fmt: skip
        changes = any(inner.may_change(st) for st in tree.body)
        for n in sorted(free):
            found = inner.lookup(name(n))
            if found is None:
                return None
            obj = found.obj
            if changes and n not in inner.scope and not isinstance(obj, FIXED):
                return None  # the callee may rebind the value it then reads
            if n not in inner.scope:  # a name of the callee's own: guarded here
                self.guard(found)
            if n in self.scope:
                if self.scope[n] is obj:  # bound for code inlined before
                    continue
            elif n not in self.locals and n not in self.known and not _own(inner.p.fn):
                mine = self.lookup(name(n))
                if mine is not None and mine.obj is obj:  # the caller's name holds it too
                    self.guard(mine)
                    continue
            new = self.names.reserve(n)
            self.scope[new] = obj
            if new != n:
                renames[n] = new
        return renames

    def lines_of(self, body: list[gast.stmt], inner: Inliner, parsed: Parsed, at: int) -> None:
        """Give the inlined statements virtual lines standing for the callee's lines (or,
        for code inlined into it, for theirs), as part of the call at line ``at``."""
        at = self.origins[at].at if at in self.origins else at
        numbers: dict[tuple[str, int], int] = {}
        for st in _statements(body):
            line = getattr(st, "lineno", None) or parsed.tree.lineno
            origin = inner.origins.get(line)
            if origin is None:
                origin = Origin(parsed.filename, line, parsed.source_line(line), parsed.name, at)
            else:
                origin = Origin(origin.filename, origin.line, origin.text, origin.function, at)
            key = (origin.filename, origin.line)
            if key not in numbers:
                numbers[key] = VIRTUAL + len(self.origins)
                self.origins[numbers[key]] = origin
                self.lines[numbers[key]] = origin.text
            st.lineno = numbers[key]


class _ConstantTests(Transformer):
    """A comparison of two constants, once the arguments are put in (``dim is not None``
    of a call giving ``dim=1``), as its value: Python warns of ``1 is not None``."""

    OPS = {gast.Is: operator.is_, gast.IsNot: operator.is_not, gast.Eq: operator.eq,
           gast.NotEq: operator.ne}  # fmt: skip

    def visit_Compare(self, node: gast.Compare) -> gast.expr:
        self.generic_visit(node)
        if (
            len(node.ops) == 1
            and type(node.ops[0]) in self.OPS
            and all(
                isinstance(e, gast.Constant) and type(e.value) in (type(None), bool, int, str)
                for e in (node.left, *node.comparators)
            )
        ):
            value = self.OPS[type(node.ops[0])](node.left.value, node.comparators[0].value)
            return gast.copy_location(gast.Constant(value=value, kind=None), node)
        return node


def _taken_branches(body: list[gast.stmt]) -> list[gast.stmt]:
    """``body`` with each ``if`` whose test the arguments made a constant (``if inplace``
    of a call leaving ``inplace=False``) replaced by the branch it takes."""
    out: list[gast.stmt] = []
    for st in body:
        if isinstance(st, gast.If) and isinstance(st.test, gast.Constant):
            out += _taken_branches(st.body if st.test.value else st.orelse)
            continue
        if blocks(st):
            rebuild_blocks(
                st, lambda inner: _taken_branches(inner) or ([gast.Pass()] if inner else [])
            )
        out.append(st)
    return out


def _same_items(now: dict | None, kept: dict) -> bool:
    """Whether a dict holds the very objects ``kept`` held, under the same keys."""
    return (
        now is not None and now.keys() == kept.keys() and all(now[k] is v for k, v in kept.items())
    )


def _statements(body: list[gast.stmt]) -> Iterator[gast.stmt]:
    """Every statement of ``body``, nested ones too (under no_grad as well)."""
    for s in body:
        yield s
        for block in blocks(s):
            yield from _statements(block)
        yield from getattr(s, "handlers", ())


def _returns(s: gast.stmt) -> bool:
    return any(isinstance(n, gast.Return) for n in _statements([s]))


def _without_returns(body: list[gast.stmt], target: str | None) -> list[gast.stmt] | None:
    """``body`` with each return an assignment of ``target`` (none where None) and the
    code after an ``if`` that returns moved into its branches; None where a return is
    inside a loop, a try or a with block. A path that returns nothing assigns None."""

    def lower(stmts: list[gast.stmt]) -> tuple[list[gast.stmt], bool] | None:
        out: list[gast.stmt] = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Return):
                if target is not None:
                    value = s.value if s.value is not None else const(None)
                    out.append(_at(assign(target, value), s))
                return out, True
            if isinstance(s, gast.If) and _returns(s):
                rest = stmts[i + 1 :]  # goes into both branches: each ends the function
                then = lower(s.body + [clone(r) for r in rest])
                otherwise = lower(s.orelse + rest)
                if then is None or otherwise is None:
                    return None
                s.body, s.orelse = ended(*then, s) or [gast.Pass()], ended(*otherwise, s)
                out.append(s)
                return out, True
            if _returns(s):
                return None
            out.append(s)
        return out, False

    def ended(stmts: list[gast.stmt], returned: bool, like: gast.stmt | None) -> list[gast.stmt]:
        """``stmts``, the end of the function: where they run through, it returns None."""
        if returned or target is None:
            return stmts
        return [*stmts, _at(assign(target, const(None)), stmts[-1] if stmts else like)]

    lowered = lower(body)
    return None if lowered is None else ended(*lowered, None)


def _at(st: gast.stmt, like: gast.stmt | None) -> gast.stmt:
    st.lineno = getattr(like, "lineno", None)
    return st


class _Renamer(Transformer):
    def __init__(self, renames: dict[str, str], arguments: dict[str, gast.expr]):
        self.renames = renames
        self.arguments = arguments

    def visit_Name(self, node: gast.Name) -> gast.expr:
        if node.id in self.arguments and isinstance(node.ctx, gast.Load):
            return clone(self.arguments[node.id])
        if node.id in self.renames:
            node.id = self.renames[node.id]
        return node


def _renamed(st: gast.stmt, renames: dict[str, str], arguments: dict[str, gast.expr]
             ) -> gast.stmt:  # fmt: skip
    """``st`` with the callee's names renamed and its parameters replaced, in its code
    and in the facts normalization gave it that name names (a no_grad block's stores and
    changes, an entry update's container, the holders a write reaches, a loop's lists)."""
    st = _Renamer(renames, arguments).visit(st)
    names = {**renames, **{p: a.id for p, a in arguments.items() if isinstance(a, gast.Name)}}

    def renamed(ns: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(names.get(n, n) for n in ns)

    for s in _statements([st]):
        known = facts(s)
        if known is NO_FACTS:
            continue
        mark(
            s,
            stores=renamed(known.stores),
            changes=renamed(known.changes),
            holders=renamed(known.holders),
            augmented=renamed(known.augmented),
            entry_of=names.get(known.entry_of, known.entry_of),
            written_back=frozenset(renamed(tuple(known.written_back))),
            iterates=known.iterates and known.iterates.renamed(names),
        )
    return st


def _maybe_unbound(fn: gast.FunctionDef) -> bool:
    """Whether a local of ``fn`` (normalized) may be read before it is assigned, which
    raises UnboundLocalError in a call: inlined into a loop, the read would find the
    value of an earlier step. Conservative: a loop's or a try's assignments count only
    inside it, an if's where both branches make them."""
    params = set(params_of(fn))
    local = local_names(fn) - params

    def reads(node: gast.AST) -> set[str]:
        return {n.id for n in walk(node) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Load) and n.id in local}  # fmt: skip

    def unbound(body: list[gast.stmt], assigned: set[str]) -> bool:
        for s in body:
            if isinstance(s, gast.If):
                then, otherwise = set(assigned), set(assigned)
                if reads(s.test) - assigned or unbound(s.body, then):
                    return True
                if unbound(s.orelse, otherwise):
                    return True
                assigned |= then & otherwise
            elif isinstance(s, gast.For):
                inside = assigned | local_names_of(s.target)
                if reads(s.iter) - assigned or unbound(s.body, inside):
                    return True
                if unbound(s.orelse, set(assigned)):
                    return True
            elif isinstance(s, gast.While):
                if reads(s.test) - assigned or unbound(s.body, set(assigned)):
                    return True
                if unbound(s.orelse, set(assigned)):
                    return True
            elif blocks(s) and not facts(s).no_grad:  # a try, a with: each block alone
                if any(unbound(b, set(assigned)) for b in blocks(s)):
                    return True
            else:
                if reads(s) - assigned:
                    return True
                assigned |= local_names_of(s)
        return False

    return unbound(fn.body, set(params))


def local_names_of(node: gast.AST) -> set[str]:
    """The names ``node`` assigns."""
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


# How many times each function's calls were inlined: code that rebinds what it calls at
# every call (a global model replaced each step) would be compiled again each time, so
# past REINLINED such compilations its calls are left as calls.
_INLINED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
REINLINED = 16


def inline_calls(parsed: Parsed, fn: gast.FunctionDef, names: Names) -> Parsed:
    """Inline the calls of ``fn`` (normalized, rewritten in place) that can be; the
    variant of ``parsed`` that knows the inlined lines, names and guards (``parsed``
    itself where none was)."""
    if parsed.fn is None or _INLINED.get(parsed.fn, 0) >= REINLINED:
        return parsed
    inliner = Inliner(parsed, fn, names)
    fn.body = inliner.block(fn.body)
    if not inliner.origins.keys() - parsed.origins.keys():
        return parsed
    _INLINED[parsed.fn] = _INLINED.get(parsed.fn, 0) + 1
    variant = Parsed.__new__(Parsed)
    variant.__dict__.update(parsed.__dict__)
    variant.lines = {**parsed.lines, **inliner.lines}
    variant.origins = inliner.origins
    variant.inlined = {**parsed.inlined, **inliner.scope}
    variant.guards = (*parsed.guards, *inliner.guards.values())
    entries = facts(fn).attribute_entries | inliner.attribute_entries
    mark(fn, attribute_entries=frozenset(entries))
    return variant
