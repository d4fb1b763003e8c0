"""Stage 1: a function's source, parsed with gast, and the names it can see.

Invariant: ``Parsed.tree`` is the gast ``FunctionDef`` of the function (of a lambda: one
returning its expression), with line numbers that are line numbers of ``Parsed.filename``,
and the functions it defines lifted out of it (``compiler/closures``, ``Parsed.scope``);
the globals it assigns are variables of its own (``compiler/assigned_globals``), and its
calls of generator functions consumed whole are calls of the functions listing their
values (``compiler/generators``, in ``Parsed.scope`` too).
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import linecache
import os
import re
import textwrap
import weakref
from collections.abc import Container, Mapping
from dataclasses import dataclass
from dataclasses import field as default
from types import BuiltinMethodType, FunctionType, ModuleType
from typing import Any

import gast

from ..errors import CompileError
from .matches import lower_matches


@dataclass(frozen=True)
class Origin:
    """Where a statement of code inlined from another function (``compiler/inline``)
    comes from: that function's file, line and source, and the line of this function
    (``at``) whose call it is part of."""

    filename: str
    line: int
    text: str
    function: str
    at: int


_MADE_FILE = re.compile(r"^(<srcdiff: .*?)(?: #\d+|,? [0-9a-f]+)>$")  # its unique suffix


def unnumbered(filename: str) -> str:
    """``filename``, but for one srcdiff wrote itself, without the number that keeps it
    apart from others (the same text for the same code in every process)."""
    made = _MADE_FILE.match(filename)
    return made.group(1) + ">" if made else filename


def shown_file(filename: str) -> str:
    """A file as comments and messages name it: relative to the working directory where
    it is in it (one srcdiff wrote: ``unnumbered``)."""
    if _MADE_FILE.match(filename):
        return unnumbered(filename)
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive
        return filename
    return filename if relative.startswith("..") else relative


SRCDIFF_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # srcdiff/
VIRTUAL = 1 << 24  # the first line number standing for an Origin: past any file's lines


@dataclass(frozen=True, eq=False)
class Listing:
    """The lines a program's statements stand for, as messages and generated comments
    name them: a function's file and source lines (those inlined from other functions
    standing for entries of ``origins``), or the text srcdiff wrote of each recorded
    Tensor operation, which no file holds (``in_file`` False). Each front end gives the
    back ends one."""

    name: str  # the function's, as messages name it
    filename: str
    lineno: int  # its def's
    lines: Mapping[int, str]
    origins: Mapping[int, Origin] = default(default_factory=dict)
    in_file: bool = True

    def where(self, lineno: int) -> tuple[str, int, str]:
        """The file, line and source text a line number of this program stands for."""
        origin = self.origins.get(lineno)
        if origin is None:
            return self.filename, lineno, self.source_line(lineno)
        return origin.filename, origin.line, origin.text

    def label(self, lineno: int) -> str:
        """How messages name a line: ``line 7``, or ``file.py:22`` for an inlined one."""
        origin = self.origins.get(lineno)
        return (
            f"line {lineno}" if origin is None else f"{shown_file(origin.filename)}:{origin.line}"
        )

    def source_line(self, lineno: int | None) -> str:
        return self.lines.get(lineno, "").strip() if lineno else ""

    def error(self, what: str, node: Any = None, hint: str = "") -> CompileError:
        """A CompileError located at ``node`` (a line number, or at the function): in an
        inlined function's code, at its own file and line."""
        lineno = (node if isinstance(node, int) else getattr(node, "lineno", None)) or (self.lineno)
        origin = self.origins.get(lineno)
        filename, line, text = self.where(lineno)
        return CompileError(
            what,
            function=self.name if origin is None else origin.function,
            filename=filename,
            lineno=line,
            source_line=text,
            hint=hint,
        )


class Parsed:
    """A function's parsed source. It holds the function weakly: compiled code lives as
    long as the function does (a closure made per training step is freed with its
    compiled code). Statements inlined from other functions have line numbers from
    ``VIRTUAL`` on, each standing for an entry of ``origins``; ``inlined`` binds the
    names their code reads, and ``guards`` check that the objects inlined are still the
    ones found."""

    origins: dict[int, Origin] = {}  # noqa: RUF012 (read-only default: a variant gets its own)
    inlined: dict[str, Any] = {}  # noqa: RUF012
    guards: tuple = ()

    def __init__(self, fn: FunctionType, tree: gast.FunctionDef, filename: str,
                 lines: dict[int, str]):  # fmt: skip
        self._fn = weakref.ref(fn)
        self.tree = tree
        self.filename = filename
        self.lines = lines
        # the functions, classes and modules found through free names (and attributes
        # of them) while a compilation notes them (``found_afresh`` to ``found_taken``):
        # what compiled code was made for, which ``cache.Unit`` checks are found there
        # still before each call
        self.found: dict[tuple[str, ...], Any] | None = None
        # the names (dotted) whose objects the parse itself read to write the code (``map``,
        # ``itertools.product`` rewritten as generator expressions), and those objects:
        # noted as found by each compilation, which is made for them too, and the parse is
        # made again where one of them is another object now (see ``parse``)
        self.read_at_parse: dict[tuple[str, ...], tuple[bool, Any]] = {}

    def found_afresh(self) -> None:
        """Start noting what is found anew (for a new compilation; its variants share it)."""
        self.found = {}
        for name, *path in self.read_at_parse:
            self.resolve_path(name, path)

    def read_still(self) -> bool:
        """Whether the names the parse read to write the code find the same objects."""
        noting, self.found = self.found, None  # (reading them notes nothing)
        try:
            for (name, *path), (was_found, obj) in self.read_at_parse.items():
                found, now = self.resolve_path(name, path)
                if found is not was_found or now is not obj:
                    return False
            return True
        finally:
            self.found = noting

    def found_taken(self) -> dict[tuple[str, ...], Any]:
        """What was found since ``found_afresh``, and stop noting (nothing held strongly
        here: the parse is cached as long as its code)."""
        found = dict(self.found or {})
        if self.found is not None:
            self.found.clear()  # (the one its variants share too)
        self.found = None
        return found

    def _note(self, chain: tuple[str, ...], obj: Any) -> None:
        if self.found is None or not (callable(obj) or isinstance(obj, ModuleType)):
            return  # (an array, a number: read as data)
        if isinstance(obj, BuiltinMethodType) and not isinstance(obj.__self__, ModuleType):
            return  # a builtin object's method (``losses.append``): made anew at each read
        self.found[chain] = obj

    @property
    def listing(self) -> Listing:
        """The lines of this function, as messages and generated comments name them."""
        return Listing(self.name, self.filename, self.tree.lineno, self.lines, self.origins)

    def where(self, lineno: int) -> tuple[str, int, str]:
        """The file, line and source text a line number of this program stands for."""
        return self.listing.where(lineno)

    def label(self, lineno: int) -> str:
        """How messages name a line: ``line 7``, or ``file.py:22`` for an inlined one."""
        return self.listing.label(lineno)

    def srcdiffs_own(self, lineno: int | None) -> bool:
        """Whether the line is of srcdiff's own modules (``srcdiff.nn``, whose PyTorch-style
        code also computes with arrays): inlined from there, or of a function of theirs
        compiled as a callee."""
        origin = self.origins.get(lineno)
        return (self.filename if origin is None else origin.filename).startswith(
            SRCDIFF_DIR + os.sep
        )

    def real_line(self, lineno: int | None) -> int | None:
        """A line of this function's own file: an inlined statement's is its call's."""
        origin = self.origins.get(lineno)
        return lineno if origin is None else origin.at

    @property
    def fn(self) -> FunctionType:
        return self._fn()

    @property
    def name(self) -> str:
        fn = self.fn
        return fn.__qualname__ if fn is not None else self.tree.name

    @property
    def scope(self) -> dict[str, Any]:
        """The functions defined in this one, lifted out of it (``compiler/closures``), by
        the names its code calls them by."""
        fn = self.fn
        lifted = _SCOPES.get(fn, {}) if fn is not None else {}
        return {**lifted, **self.inlined} if self.inlined else lifted

    def source_line(self, lineno: int | None) -> str:
        return self.listing.source_line(lineno)

    def error(self, what: str, node: Any = None, hint: str = "") -> CompileError:
        """A CompileError located at ``node`` (a line number, or at the function): in an
        inlined function's code, at its own file and line."""
        return self.listing.error(what, node, hint)

    def resolve(self, name: str) -> tuple[bool, Any]:
        """The object a free name refers to now: a function defined in this one (lifted
        out of it), closure cell, global, then builtin."""
        scope = self.scope
        if name in scope:
            return True, scope[name]
        code = self.fn.__code__
        if self.fn.__closure__ and name in code.co_freevars:
            cell = self.fn.__closure__[code.co_freevars.index(name)]
            try:
                obj = cell.cell_contents
            except ValueError:
                return False, None
        elif name in self.fn.__globals__:
            obj = self.fn.__globals__[name]
        elif hasattr(builtins, name):
            obj = getattr(builtins, name)
        else:
            return False, None
        self._note((name,), obj)
        return True, obj

    def resolve_path(self, name: str, path: list[str]) -> tuple[bool, Any]:
        """The object ``name.<path...>`` refers to now, its attributes read as ``attribute``
        reads them (``(False, None)`` where one is not there)."""
        found, obj = self.resolve(name)
        for attr in path:
            obj = attribute(obj, attr) if found else MISSING
            if obj is MISSING:
                return False, None
        if path and name not in self.scope:  # (the scope's objects are fixed)
            self._note((name, *path), obj)
        return found, obj

    def resolve_dotted(
        self, e: gast.expr, local: Container[str], roots: dict[str, Any] | None = None
    ) -> tuple[bool, Any]:
        """The object a dotted name (``np.add.at``) refers to now, its root a free name
        (or one of ``roots``); ``(False, None)`` for a ``local`` root, another
        expression, or an attribute that is not there."""
        path = []
        while isinstance(e, gast.Attribute):
            path.append(e.attr)
            e = e.value
        if not isinstance(e, gast.Name) or e.id in local:
            return False, None
        if not (roots and e.id in roots):
            return self.resolve_path(e.id, path[::-1])
        obj = roots[e.id]
        for attr in reversed(path):
            obj = attribute(obj, attr)
            if obj is MISSING:
                return False, None
        return True, obj


MISSING = object()


_REGISTRIES = ("_modules", "_parameters", "_buffers")  # where an nn.Module keeps its own


def attribute(holder: Any, attr: str) -> Any:
    """``holder.attr`` where reading it now runs no code of the user's (``MISSING``
    where it would, or where it is absent): any attribute of a module or a class; of
    another object, one found without a property, a descriptor written in Python or a
    ``__getattr__`` (but for an nn.Module's registered submodules, parameters and
    buffers, which its ``__getattr__`` only looks up)."""
    if isinstance(holder, (ModuleType, type)):
        return getattr(holder, attr, MISSING)
    own = getattr(holder, "__dict__", None)
    if isinstance(own, dict):
        for c in type(holder).__mro__:  # (a loop, not any(): guards run it before calls)
            if attr in c.__dict__:
                break
        else:  # nothing of the class's in the way: the object's own entry
            if attr in own:
                return own[attr]
            for registry in _REGISTRIES:
                registered = own.get(registry)
                if isinstance(registered, dict) and attr in registered:
                    return registered[attr]
            return MISSING
    found = inspect.getattr_static(holder, attr, MISSING)
    if found is MISSING:
        for registry in _REGISTRIES:
            registered = own.get(registry) if isinstance(own, dict) else None
            if isinstance(registered, dict) and attr in registered:
                return registered[attr]
        return MISSING
    if isinstance(found, property) or isinstance(
        getattr(type(found), "__get__", None), FunctionType
    ):
        return MISSING  # computed by the user's code when read
    return getattr(holder, attr, MISSING)


_CACHE: dict[Any, Parsed] = {}
# Per function, held weakly: the functions defined in it, lifted out (see closures).
_SCOPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Per file (name and text): its module, parsed, to find lambdas in.
_MODULES: dict[tuple[str, int], gast.Module] = {}


STARTS_A_DEF = re.compile(r"\s*(@|def\s|async\s+def\s)")


def _source_lines(fn: FunctionType) -> tuple[list[str], int]:
    """``inspect.getsourcelines(fn.__code__)``, read through ``linecache`` without
    inspect's search of every loaded module for the file (most of a parse's time); the
    rarer cases (no file, a first line that starts no def) are left to inspect."""
    code = fn.__code__
    linecache.checkcache(code.co_filename)
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    first = code.co_firstlineno
    if not 0 < first <= len(lines) or not STARTS_A_DEF.match(lines[first - 1]):
        return inspect.getsourcelines(code)
    return inspect.getblock(lines[first - 1 :]), first


def from_ast(node: Any, shift: int = 0) -> Any:
    """``node``, a Python ``ast`` tree (or a list of them), as gast, its lines moved down
    by ``shift``: what ``gast.ast_to_gast`` then ``gast.increment_lineno`` give on Python
    3.10 and later, in one plain recursion (their visitors cost a third of parsing). Nodes
    differ in two places: a parameter is a ``Name``, and so is what ``except ... as``
    names; a gast field Python's node lacks is empty. Type parameters (3.12) are left to
    gast."""
    if type(node) is list:
        return [from_ast(x, shift) for x in node]
    if not isinstance(node, ast.AST):
        return node
    cls = type(node)
    target = _GAST_CLASSES.get(cls)
    if target is None:
        if cls.__name__ in _LEFT_TO_GAST or not hasattr(gast, cls.__name__):
            return _shifted(gast.ast_to_gast(node), shift)
        target = _GAST_CLASSES[cls] = getattr(gast, cls.__name__)
    if cls is ast.arg:
        new = gast.Name(node.arg, gast.Param(), from_ast(node.annotation, shift), node.type_comment)
    else:
        new = target.__new__(target)
        for f in target._fields:
            value = getattr(node, f, _ABSENT)
            if value is _ABSENT:
                value = [] if f == "type_params" else None
            elif type(value) is list or isinstance(value, ast.AST):
                value = from_ast(value, shift)
            setattr(new, f, value)
        if cls is ast.ExceptHandler and node.name:
            new.name = gast.Name(node.name, gast.Store(), None, None)
            new.name.lineno = new.name.end_lineno = node.lineno + shift
    for a in cls._attributes:
        value = getattr(node, a, None)
        if value is not None and a in ("lineno", "end_lineno"):
            value += shift
        setattr(new, a, value)
    return new


def _shifted(tree: Any, shift: int) -> Any:
    if shift:
        gast.increment_lineno(tree, shift)
    return tree


_GAST_CLASSES: dict[type, type] = {ast.arg: gast.Name}
_LEFT_TO_GAST = frozenset({"TypeVar", "ParamSpec", "TypeVarTuple", "TypeAlias"})
_ABSENT = object()


def parse(fn: Any) -> Parsed:
    """Parse ``fn`` (cached per code object); its own source, never a function it wraps."""
    if not isinstance(fn, FunctionType):
        raise TypeError(f"srcdiff compiles Python functions, not {type(fn).__name__}")
    key = (fn.__code__, id(fn.__globals__))
    hit = _CACHE.get(key)
    if hit is not None and hit.fn is fn and hit.read_still():
        return hit
    if fn.__name__ == "<lambda>":
        tree, numbered = _lambda(fn)
        parsed = Parsed(fn, tree, fn.__code__.co_filename, numbered)
        lift(parsed)
        return register(parsed)
    try:
        lines, first = _source_lines(fn)  # its own, not what it wraps
    except (OSError, TypeError) as exc:
        raise CompileError(
            f"no Python source for {fn.__qualname__}",
            function=fn.__qualname__,
            filename=fn.__code__.co_filename,
            hint="define it in a file, or register a rule with sd.register_vjp",
        ) from exc
    source = textwrap.dedent("".join(lines))
    module = from_ast(ast.parse(source), first - 1)
    tree = module.body[0]
    if isinstance(tree, gast.AsyncFunctionDef):
        raise CompileError(
            "async function",
            function=fn.__qualname__,
            filename=fn.__code__.co_filename,
            lineno=first,
            hint="srcdiff differentiates plain functions",
        )
    if not isinstance(tree, gast.FunctionDef):
        raise CompileError(
            f"{type(tree).__name__} is not a def",
            function=fn.__qualname__,
            filename=fn.__code__.co_filename,
            lineno=first,
            hint="pass a function defined with def",
        )
    tree.decorator_list = []
    numbered = {first + i: line.rstrip("\n") for i, line in enumerate(lines)}
    parsed = Parsed(fn, tree, fn.__code__.co_filename, numbered)
    lower_matches(parsed)
    builtin_aliases(parsed)
    setattr_statements(parsed)
    lift(parsed)
    return register(parsed)


def setattr_statements(parsed: Parsed) -> None:
    """``setattr(o, "w", v)`` as a statement, ``o`` a name, made ``o.w = v``: the same
    write (``v`` made before it either way), which later stages follow as a field's."""

    def rewritten(s: gast.stmt) -> gast.stmt:
        for field in ("body", "orelse", "finalbody"):
            block = getattr(s, field, None)
            if isinstance(block, list) and not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                setattr(s, field, [rewritten(t) for t in block])
        for h in getattr(s, "handlers", None) or []:
            h.body = [rewritten(t) for t in h.body]
        for case in getattr(s, "cases", None) or []:
            case.body = [rewritten(t) for t in case.body]
        call = s.value if isinstance(s, gast.Expr) else None
        if not (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Name)
            and call.func.id == "setattr"
            and len(call.args) == 3
            and not call.keywords
            and isinstance(call.args[0], gast.Name)
            and isinstance(call.args[1], gast.Constant)
            and isinstance(call.args[1].value, str)
            and call.args[1].value.isidentifier()
            and not call.args[1].value.startswith("__")  # (o.__w in a class: o._C__w)
            and not any(isinstance(n, (gast.Starred, gast.NamedExpr))
                        for a in call.args for n in gast.walk(a))
        ):  # fmt: skip
            return s
        found, obj = parsed.resolve("setattr")
        if not (found and obj is builtins.setattr):
            return s
        holder, field, value = call.args
        target = gast.Attribute(value=holder, attr=field.value, ctx=gast.Store())
        return gast.copy_location(gast.Assign(targets=[target], value=value, type_comment=None), s)

    parsed.tree.body = [rewritten(t) for t in parsed.tree.body]


def builtin_aliases(parsed: Parsed) -> None:
    """``f = sorted`` at the top of the body, ``f`` never bound again: each later
    ``f(...)`` read as ``sorted(...)``, which later stages rewrite by the builtin's name
    (``sorted``, ``reversed``, ``map`` and others have no rule of their own)."""
    tree = parsed.tree
    stores: dict[str, int] = {}
    for n in gast.walk(tree):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, (gast.Global, gast.Nonlocal)):
            stores.update((k, 2) for k in n.names)
    for at, s in enumerate(tree.body):
        if not (
            isinstance(s, gast.Assign)
            and len(s.targets) == 1
            and isinstance(s.targets[0], gast.Name)
            and isinstance(s.value, gast.Name)
            and stores.get(s.targets[0].id) == 1
            and s.value.id not in stores
        ):
            continue
        alias, original = s.targets[0].id, s.value.id
        found, obj = parsed.resolve(original)
        if not (found and obj is getattr(builtins, original, None)):
            continue
        earlier = gast.Module(body=tree.body[:at], type_ignores=[])
        if any(isinstance(n, gast.Name) and n.id == alias for n in gast.walk(earlier)):
            continue
        for later in tree.body[at + 1 :]:
            for n in _own_scope(later):
                if isinstance(n, gast.Name) and n.id == alias:
                    n.id = original


def _own_scope(node: gast.AST) -> list[gast.AST]:
    """The nodes of ``node`` outside the functions and lambdas it defines."""
    found, todo = [], [node]
    while todo:
        n = todo.pop()
        found.append(n)
        if not isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda)):
            todo.extend(gast.iter_child_nodes(n))
    return found


def register(parsed: Parsed) -> Parsed:
    """Keep ``parsed`` as the parse of its function (lifted functions are registered so:
    their source is part of another function's)."""
    fn = parsed.fn
    _CACHE[(fn.__code__, id(fn.__globals__))] = parsed
    return parsed


def lift(parsed: Parsed) -> None:
    """Lift the functions ``parsed`` defines out of it (see ``compiler/closures``), after
    making the globals it assigns its variables and its generators' calls lists."""
    from .assigned_globals import assign_globals
    from .closures import Lifter
    from .generators import consume_generators

    assign_globals(parsed)
    taken = {n.id for n in gast.walk(parsed.tree) if isinstance(n, gast.Name)}
    listing = consume_generators(parsed, taken)
    if listing:  # (the lifting reads the names of the listings: ``functools.reduce``?)
        _SCOPES[parsed.fn] = listing
    scope = {**Lifter(parsed).run(), **listing}
    if scope:
        _SCOPES[parsed.fn] = scope


def _lambda(fn: FunctionType) -> tuple[gast.FunctionDef, dict[int, str]]:
    """A lambda's source, as a function returning its expression: the lambda found in
    its file by its code object's line (and, where several lambdas start on that line,
    its parameters, and the columns of its instructions where Python records them)."""
    code = fn.__code__

    def refuse(what: str, hint: str, exc: Exception | None = None) -> CompileError:
        err = CompileError(what, function=fn.__qualname__, filename=code.co_filename,
                           lineno=code.co_firstlineno, hint=hint)  # fmt: skip
        err.__cause__ = exc
        return err

    try:
        lines, _ = inspect.findsource(code)
    except (OSError, TypeError) as exc:
        raise refuse(f"no Python source for {fn.__qualname__}",
                     "define it in a file, or register a rule with sd.register_vjp",
                     exc) from exc  # fmt: skip
    text = "".join(lines)
    key = (code.co_filename, hash(text))
    module = _MODULES.get(key)
    if module is None:
        try:
            module = gast.parse(text)
        except SyntaxError as exc:
            raise refuse("the file of this lambda does not parse", "define it with def",
                         exc) from exc  # fmt: skip
        if len(_MODULES) > 64:
            _MODULES.clear()
        _MODULES[key] = module
    line = code.co_firstlineno
    found = [n for n in gast.walk(module) if isinstance(n, gast.Lambda) and n.lineno == line]
    found = [n for n in found if _lambda_params(n.args) == _code_params(code)] or found
    if len({gast.dump(n) for n in found}) > 1 and hasattr(code, "co_positions"):
        spots = {(a, c) for a, _, c, e in code.co_positions()
                 if a is not None and c is not None and (c, e) != (0, 0)}  # fmt: skip
        found = [n for n in found if all(_inside(n.body, a, c) for a, c in spots)] or found
    if not found:
        raise refuse("the source of this lambda was not found", "define it with def")
    if len({gast.dump(n) for n in found}) > 1:
        raise refuse(
            f"{len(found)} lambdas on line {line}, which srcdiff cannot tell apart",
            "put the lambda on a line of its own, or define the function with def",
        )
    node = found[0]
    tree = gast.FunctionDef(name="lambda", args=node.args, body=[gast.Return(value=node.body)],
                            decorator_list=[], returns=None, type_comment=None,
                            type_params=[])  # fmt: skip
    gast.copy_location(tree, node)
    gast.copy_location(tree.body[0], node)
    tree = copy.deepcopy(tree)
    end = getattr(node, "end_lineno", None) or line
    numbered = {i: lines[i - 1].rstrip("\n") for i in range(line, end + 1) if i <= len(lines)}
    return tree, numbered


def _lambda_params(args: gast.arguments) -> tuple:
    names = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    return tuple(names), args.vararg is not None, args.kwarg is not None


def _code_params(code: Any) -> tuple:
    n = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames
    return tuple(names[:n]), bool(code.co_flags & 4), bool(code.co_flags & 8)


def _inside(e: gast.expr, line: int, col: int) -> bool:
    """Whether the position ``(line, col)`` lies within the expression ``e``."""
    start = (e.lineno, e.col_offset)
    end = (getattr(e, "end_lineno", None) or e.lineno, getattr(e, "end_col_offset", None))
    if end[1] is None:
        return start <= (line, col)
    return start <= (line, col) <= end


def returning_updates(parsed: Parsed, names: tuple[str, ...]) -> Parsed:
    """``parsed`` as a function that also returns the parameters ``names`` it updates in
    place: each ``return e`` becomes ``return e, *names`` (and falling off the end,
    ``return None, *names``). Compiled code calls it so (``rt.Returning``) and gives the
    caller's names the new values."""

    def extra() -> list[gast.expr]:
        return [gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)
                for n in names]  # fmt: skip

    tree = copy.deepcopy(parsed.tree)
    for node in gast.walk(tree):
        if isinstance(node, gast.Return):
            value = node.value or gast.Constant(value=None, kind=None)
            node.value = gast.copy_location(
                gast.Tuple(elts=[value, *extra()], ctx=gast.Load()), node
            )
    last = tree.body[-1]
    if not isinstance(last, gast.Return):
        end = gast.Return(value=gast.Tuple(elts=[gast.Constant(value=None, kind=None),
                                                 *extra()], ctx=gast.Load()))  # fmt: skip
        end.lineno = getattr(last, "end_lineno", None) or last.lineno
        gast.fix_missing_locations(end)
        tree.body.append(end)
    variant = copy.copy(parsed)
    variant.tree = tree
    return variant
