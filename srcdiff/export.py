"""``sd.export(g, path)``: every path a gradient was compiled for, as one Python module
that needs NumPy alone.

The module holds, for each unit ``g`` compiled (one set of static facts: the kinds of
the differentiated arguments and the pattern of the arguments' shapes), its traced
primal and the adjoint of each path seen, as ``sd.source`` shows them; the runtime
helpers they call (``rt.<name>``), written out from srcdiff's own source, found
transitively; the user's globals they read (modules as imports, numbers, strings and
arrays as exact literals); and a dispatcher, ``grad_<name>`` (``value_and_grad_<name>``),
that picks the unit by the arguments, runs its primal, and runs the adjoint of the path
the call took, post-processed as ``sd.grad`` does. A call taking a path not exported
raises ``NotExported``.

The functions of the user's that the code calls by name (``rt.call(helper, ...)``, which
in srcdiff compiles the callee when it runs) are exported too, transitively: each is
written out as the user wrote it (it is called by that name), and each unit srcdiff
compiled for it, with the adjoints of the paths (and gradients wanted) seen, goes into
``CALLEES``, which the module's own ``rt.call`` and ``rt.call_vjp`` read: they pick the
unit by the callee, the names differentiated, their kinds and the arguments' shapes, as
srcdiff does, and raise ``NotExported`` for a unit or a path not exported.

What cannot be written out (a method or a callable object called, a function computed
or passed, a decorated function, a user's rule, Tensor code, forward mode inside,
CuPy, a global or a closure variable that is neither a module, a number, a string, an
array nor such a function) is refused with a ``CompileError``: the module never
computes something else than ``g``.
"""

from __future__ import annotations

import ast
import base64
import builtins
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import io
import linecache
import math
import pathlib
import re
import symtable
import sys
import textwrap
import tokenize
import types
from typing import Any

import gast
import numpy as np

from . import api
from . import runtime as rt
from .compiler import cache, ir
from .compiler.cache import Unit
from .compiler.differentiate import explain
from .compiler.mutation import is_update
from .compiler.normalize import walk_statements
from .errors import CompileError
from .rules import registry
from .runtime import calls as rt_calls
from .runtime.calls import Host

_FUTURE = "from __future__ import annotations\n"
_IMPORTABLE = frozenset(sys.stdlib_module_names) | {"numpy"}  # what the module may import


def _free_names(text: str) -> set[str]:
    """The global names the module ``text`` reads without binding them itself
    (annotations left out: they are not evaluated)."""
    top = symtable.symtable(_FUTURE + text, "<export>", "exec")
    found = {
        s.get_name()
        for s in top.get_symbols()
        if s.is_referenced() and not (s.is_assigned() or s.is_imported())
    }
    tables = list(top.get_children())
    while tables:
        table = tables.pop()
        tables += table.get_children()
        found |= {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    return found - _bound_names(text) - {"annotations"}


def _bound_names(text: str) -> set[str]:
    """The names the module ``text`` binds."""
    top = symtable.symtable(_FUTURE + text, "<export>", "exec")
    return {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}


def _locals(text: str) -> list[tuple[str, list[str]]]:
    """Each scope of ``text`` and its own names (to check a renaming touched none)."""
    out, tables = [], [symtable.symtable(_FUTURE + text, "<export>", "exec")]
    while tables:
        table = tables.pop()
        tables += table.get_children()
        if table.get_type() != "module":
            names = sorted(s.get_name() for s in table.get_symbols() if not s.is_global())
            out.append((table.get_type(), names))
    return out


def _rename(text: str, mapping: dict[str, str], label: str) -> str:
    """``text`` (``label`` says whose) with its global names renamed by ``mapping``: the
    names read, and the top-level ``def``/``class`` or assignment binding one, but no
    attribute, keyword argument or method. Refused where that renames a local name too."""
    mapping = {k: v for k, v in mapping.items() if k != v}
    if not mapping:
        return text
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in skip]
    edits, depth = [], 0
    for i, t in enumerate(tokens):
        if t.type == tokenize.OP:
            depth += t.string in "([{"
            depth -= t.string in ")]}"
        if t.type != tokenize.NAME or t.string not in mapping:
            continue
        before = tokens[i - 1].string if i else ""
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        method = before in ("def", "class") and tokens[i - 1].start[1] > 0
        if before == "." or (after == "=" and depth) or method:
            continue
        edits.append((t.start, t.string))
    lines = text.splitlines(keepends=True)
    for (row, col), old in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + mapping[old] + line[col + len(old) :]
    out = "".join(lines)
    expected = {mapping.get(n, n) for n in _free_names(text)}
    bound = {mapping.get(n, n) for n in _bound_names(text)}
    if _free_names(out) != expected or _bound_names(out) != bound or _locals(out) != _locals(text):
        renamed = ", ".join(f"{old} as {new}" for old, new in mapping.items())
        raise _Refused(
            f"{label} with its globals renamed ({renamed}), which would rename its local names too",
            "give your globals (or the local names of that code) names of their own",
        )
    return out


def _literal(value: Any, numpy_name: str) -> str | None:
    """Python source that makes ``value`` again, exactly (None if there is none):
    numbers, strings, None, NumPy arrays and scalars, and tuples, lists, dicts and sets
    of them. ``numpy_name``: the module's name for NumPy."""
    if value is None or type(value) in (bool, int, str, bytes):
        return repr(value)
    if type(value) is float:
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if type(value) is complex:
        return f"complex({_literal(value.real, numpy_name)}, {_literal(value.imag, numpy_name)})"
    if type(value) in (tuple, list, set, frozenset, dict):
        return _container(value, numpy_name)
    if not isinstance(value, (np.generic, np.ndarray)) or value.dtype.kind not in "biufc":
        return None
    exact = value.dtype.itemsize <= (16 if value.dtype.kind == "c" else 8)  # as Python's
    if isinstance(value, np.generic):
        if not exact:
            return None
        item = _literal(value.item(), numpy_name)
        return f"{numpy_name}.dtype({str(value.dtype)!r}).type({item})"
    if type(value) is not np.ndarray:
        return None
    dtype = repr(str(value.dtype))
    if value.size > 64 or not exact:  # its bytes, exactly and compactly
        data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()
        text = (
            f"{numpy_name}.frombuffer(__import__('base64').b64decode({data!r}), "
            f"dtype={dtype}).reshape({value.shape!r}).copy()"
        )
    else:
        items = _literal(value.tolist(), numpy_name) if value.size else "[]"
        text = f"{numpy_name}.array({items}, dtype={dtype})"
        if value.size == 0 or value.ndim == 0:
            text += f".reshape({value.shape!r})"
    if value.ndim > 1 and value.flags.f_contiguous and not value.flags.c_contiguous:
        text = f"{numpy_name}.asfortranarray({text})"  # sums run in memory order
    return text


def _container(value: tuple | list | set | frozenset | dict, numpy_name: str) -> str | None:
    """``_literal`` of a tuple, list, set or dict."""
    if type(value) is dict:
        pairs = [(_literal(k, numpy_name), _literal(v, numpy_name)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    items = [_literal(v, numpy_name) for v in value]
    if None in items:
        return None
    if type(value) is tuple:
        return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    if type(value) is list:
        return f"[{', '.join(items)}]"
    return f"{type(value).__name__}([{', '.join(items)}])"


def _importable(obj: Any) -> tuple[str, str] | None:
    """``(module, name)`` such that ``from module import name`` gives ``obj``, for an
    object of NumPy or of Python's standard library (None otherwise)."""
    candidates = [(getattr(obj, "__module__", None), getattr(obj, "__qualname__", None))]
    candidates.append(("numpy", getattr(obj, "__name__", None)))
    for module, name in candidates:
        if not module or not name or "." in name or module.split(".")[0] not in _IMPORTABLE:
            continue
        try:
            if getattr(importlib.import_module(module), name, None) is obj:
                return module, name
        except ImportError:
            continue
    return None


_HOLDS = (
    "the exported module holds NumPy, Python's standard library, numbers, strings, NumPy "
    "arrays and srcdiff's runtime helpers alone"
)
_CALLS = frozenset({"call", "call_jvp", "call_jvp_keywords", "call_jvp_star",
                    "tensor_call"})  # rt's, of callees  # fmt: skip


class _Refused(Exception):
    """Something a source needs that the module cannot hold: what, and what to do."""

    def __init__(self, what: str, hint: str = _HOLDS):
        super().__init__(what)
        self.what, self.hint = what, hint


class _Writer:
    """The exported module's top-level names, and the definitions behind them.

    Each thing written out has a key; ``names`` maps a taken name to the key of what it
    holds. Everything takes its own name when free, and a numbered one where it is not,
    and the code reading it is renamed to match: two modules' globals of one name (or a
    global and a closure variable) holding different objects stay two globals. Only
    ``rt`` keeps its name (``exact``), the name generated code reads srcdiff's runtime by."""

    def __init__(self) -> None:
        self.names: dict[str, tuple] = {}
        self.given: dict[tuple, str] = {}  # key -> its first name
        self.imports: list[str] = []
        self.helpers: list[str] = []  # definitions, each after what it needs
        self.namespaces: dict[str, tuple[str, dict[str, str]]] = {}  # module -> name, attrs
        self.user: list[str] = []  # the user's globals
        self.functions: list[str] = []  # the user's functions the code calls, written out
        self.callees: dict[Any, str] = {}  # those called through rt.call: their names
        self.kept: list[Any] = []  # the user's values keyed by id: alive while writing

    def claim(self, preferred: str, key: tuple) -> str:
        """A free name for ``key``: ``preferred`` if it is free, else a numbered one."""
        name, n = preferred, 1
        while name in self.names and self.names[name] != key:
            n += 1
            name = f"{preferred}_{n}"
        self.names[name] = key
        self.given.setdefault(key, name)
        return name

    def numpy(self) -> str:
        """The module's name for NumPy (imported as ``np`` when nothing names it yet)."""
        given = (name for key, name in self.given.items() if key[:2] == ("module", "numpy"))
        return next(given, None) or self.module(np, "np")

    # ---- imports ---------------------------------------------------------------------

    def module(self, module: types.ModuleType, name: str) -> str:
        """``import module as name`` (NumPy's or the standard library's)."""
        if module.__name__.split(".")[0] not in _IMPORTABLE:
            raise _Refused(
                f"the module {module.__name__}",
                "the exported module imports NumPy and Python's standard library alone",
            )
        got = self.take(("module", module.__name__, name), name, exact=False)
        line = f"import {module.__name__}" + (f" as {got}" if got != module.__name__ else "")
        if line not in self.imports:
            self.imports.append(line)
        return got

    def imported(self, where: tuple[str, str], name: str) -> str:
        """``from module import attr`` for an object of NumPy or of the standard library,
        read as ``name``."""
        got = self.take(("import", *where, name), name, exact=False)
        line = f"from {where[0]} import {where[1]}" + (f" as {got}" if got != where[1] else "")
        if line not in self.imports:
            self.imports.append(line)
        return got

    def take(self, key: tuple, name: str, exact: bool) -> str:
        """``name`` for ``key`` (``exact``: that name or none), or the name it has."""
        if not exact:
            return self.given[key] if key in self.given else self.claim(name, key)
        if self.names.get(name, key) != key:
            raise _Refused(f"{name}, which names two things")
        self.names[name] = key
        self.given.setdefault(key, name)
        return name

    def builtin(self, name: str) -> str:
        """A builtin a helper reads: its own name, or another bound to it if that is taken."""
        key = ("builtin", name)
        if self.names.get(name, key) == key:
            self.names[name] = key
            self.given.setdefault(key, name)
            return name
        if key in self.given and self.given[key] != name:
            return self.given[key]
        got = self.claim(f"_{name}", key)
        self.helpers.append(f"{got} = {self.module(builtins, 'builtins')}.{name}")
        return got

    # ---- srcdiff's own helpers -------------------------------------------------------

    def source(self, text: str, env: dict[str, Any], defines: str | None, key: tuple) -> str:
        """Write out the helper ``text`` (binding ``defines``, or nothing for text that
        keeps its names) with what it reads from ``env``: returns it renamed where its
        names are taken."""
        mapping = {}
        if defines is not None:
            mapping[defines] = self.given[key]
        tree = ast.parse(text)
        for name in sorted(_free_names(text)):
            mapping[name] = self.resolve(name, env, tree)
        return _rename(text, mapping, f"srcdiff's helper {defines or key[0]}")

    def resolve(self, name: str, env: dict[str, Any], tree: ast.AST) -> str:
        """The module's name for what ``name`` holds in ``env`` (a helper's globals)."""
        if name not in env:
            if hasattr(builtins, name):
                return self.builtin(name)
            return name  # a NameError when run, as it would be in srcdiff
        value = env[name]
        if isinstance(value, types.ModuleType):
            if value.__name__.split(".")[0] == "srcdiff":
                return self.namespace(value, name, tree)
            return self.module(value, name)
        return self.object(value, name, env)

    def namespace(
        self, module: types.ModuleType, name: str, tree: ast.AST, exact: bool = False
    ) -> str:
        """A srcdiff module read as ``name.attr``: a namespace of the attributes read."""
        bases = [
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == name
        ]
        if len(bases) != sum(isinstance(n, ast.Name) and n.id == name for n in ast.walk(tree)):
            raise _Refused(f"srcdiff's module {module.__name__} used as a value")
        key = ("namespace", module.__name__)
        got = self.take(key, name, exact)
        if self.given[key] != got:
            raise _Refused(f"srcdiff's module {module.__name__} under two names")
        _, members = self.namespaces.setdefault(module.__name__, (got, {}))
        for attr in sorted(set(bases) - members.keys()):
            if not hasattr(module, attr):
                raise _Refused(f"{module.__name__}.{attr}, which does not exist")
            members[attr] = self.member(module, attr)
        return got

    def member(self, module: types.ModuleType, attr: str) -> str:
        """The name of what ``module.attr`` holds (a srcdiff module's attribute)."""
        value = getattr(module, attr)
        if isinstance(value, types.ModuleType):
            raise _Refused(f"{module.__name__}.{attr}, a module")
        if isinstance(value, (types.FunctionType, type)) or hasattr(value, "__wrapped__"):
            return self.object(value, attr, vars(module))
        return self.constant(module, attr)

    def object(self, value: Any, name: str, env: dict[str, Any]) -> str:
        """The name of a value a helper reads: srcdiff's own (written out), NumPy's or the
        standard library's (imported), or a constant of a srcdiff module."""
        if value is Host:
            raise _Refused("srcdiff's compiler at run time (rt.Host)")
        if isinstance(value, staticmethod):
            value = value.__func__
        module = getattr(value, "__module__", None) or ""
        if module.split(".")[0] == "srcdiff" and (
            isinstance(value, (types.FunctionType, type)) or hasattr(value, "__wrapped__")
        ):
            return self.definition(value)
        if callable(value):
            where = _importable(value)
            if where is not None:
                return self.imported(where, where[1])
        owner = env.get("__name__")
        if isinstance(owner, str) and owner.split(".")[0] == "srcdiff":
            return self.constant(sys.modules[owner], name)
        raise _Refused(f"{name} ({type(value).__name__})")

    def definition(self, obj: Any) -> str:
        """Write out a function or class of srcdiff's (its source), after what it needs."""
        key = ("object", obj)
        if key in self.given:
            return self.given[key]
        target = inspect.unwrap(obj) if not isinstance(obj, type) else obj
        if "<locals>" in target.__qualname__ or getattr(target, "__closure__", None):
            raise _Refused(f"srcdiff's {target.__qualname__}, a nested function")
        text = textwrap.dedent(inspect.getsource(target))
        if "." in target.__qualname__:  # a static method: written out as a function
            if not isinstance(
                inspect.getattr_static(_owner(target), target.__name__), staticmethod
            ):
                raise _Refused(f"srcdiff's method {target.__qualname__}")
            text = text.replace("@staticmethod\n", "", 1)
        if dataclasses.is_dataclass(target):
            text = _quoted_fields(text, target)
        module = sys.modules[target.__module__]
        env = dict(vars(module))
        text = self.local_imports(text, env, module)
        name = self.claim(obj.__name__, key)
        text = self.source(text, env, obj.__name__, key)
        self.helpers.append(f"# {module.__name__}.{target.__qualname__}\n{text.rstrip()}")
        return name

    @staticmethod
    def local_imports(text: str, env: dict[str, Any], module: types.ModuleType) -> str:
        """``text`` without its imports of srcdiff (inside a function, kept for a call):
        what they import is read from ``env``, and written out like any global."""
        lines = text.splitlines(keepends=True)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import) and any(
                a.name.split(".")[0] == "srcdiff" for a in node.names
            ):
                raise _Refused(f"srcdiff's {ast.unparse(node)} inside {module.__name__}")
            if not isinstance(node, ast.ImportFrom):
                continue
            target = importlib.util.resolve_name(
                "." * node.level + (node.module or ""), module.__package__ or ""
            )
            if target.split(".")[0] != "srcdiff":
                continue
            for alias in node.names:
                source = importlib.import_module(target)
                env[alias.asname or alias.name] = getattr(source, alias.name)
            indent = lines[node.lineno - 1][: node.col_offset]
            lines[node.lineno - 1] = f"{indent}pass  # {ast.unparse(node)}: written out\n"
            for row in range(node.lineno, node.end_lineno or node.lineno):
                lines[row] = ""
        return "".join(lines)

    def constant(self, module: types.ModuleType, name: str) -> str:
        """Write out the statement binding ``name`` in ``module`` (a srcdiff module)."""
        key = ("constant", module.__name__, name)
        if key in self.given:
            return self.given[key]
        tree, lines = _module_source(inspect.getsource(module))
        binding = [
            s
            for s in tree.body
            if isinstance(s, (ast.Assign, ast.AnnAssign, ast.ImportFrom, ast.Import))
            and name in _bound(s)
        ]
        if len(binding) != 1 or _updated_at_import(tree, name):
            raise _Refused(f"{module.__name__}.{name}, which is not one assignment")
        (statement,) = binding
        if isinstance(statement, (ast.ImportFrom, ast.Import)):
            alias = next(a for a in statement.names if (a.asname or a.name) == name)
            if isinstance(statement, ast.Import):
                return self.module(getattr(module, name), name)
            target = importlib.util.resolve_name(
                "." * statement.level + (statement.module or ""), module.__package__ or ""
            )
            source = importlib.import_module(target)
            if target.split(".")[0] != "srcdiff":
                return self.object(getattr(source, alias.name), name, {})
            value = getattr(source, alias.name)
            if isinstance(value, types.ModuleType):
                raise _Refused(f"{module.__name__}.{name}, a module")
            if isinstance(value, (types.FunctionType, type)) or hasattr(value, "__wrapped__"):
                return self.object(value, alias.name, vars(source))
            got = self.constant(source, alias.name)
            self.given[key] = got
            return got
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        if len(targets) != 1 or not isinstance(targets[0], ast.Name):
            raise _Refused(f"{module.__name__}.{name}")
        self.claim(name, key)
        text = _segment(lines, statement)
        text = self.source(text, vars(module), name, key)
        self.helpers.append(f"# {module.__name__}.{name}\n{text}")
        return self.given[key]

    # ---- the generated sources and the user's globals --------------------------------

    def generated(self, text: str, unit: Unit) -> str:
        """The generated ``text`` with the names it reads but ``rt`` taken (the user's
        globals and closure variables, the builtins, ``xp``, and the functions of the
        user's it calls through ``rt.call``, written out and noted in ``callees``), and
        renamed where the module gives them other names. (``rt`` comes after, once those
        of every generated source are taken: ``runtime``.)"""
        fn = unit.fn
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
        rules = set(unit.rule_names.values())
        tree = ast.parse(text)
        free = _free_names(text)
        called, others = [], []
        for n in ast.walk(tree):
            if (
                isinstance(n, ast.Call) and n.args and isinstance(n.func, ast.Attribute)
                and isinstance(n.func.value, ast.Name) and n.func.value.id == "rt"
                and n.func.attr in _CALLS
            ):  # fmt: skip
                first = n.args[0]
                plain = n.func.attr == "call" and isinstance(first, ast.Name) and first.id in free
                (called if plain else others).append(first)
        if others:
            named = sorted({
                "a function it computes" if re.fullmatch(r"t\d+", c) else c
                for c in map(ast.unparse, others)
            })  # fmt: skip
            raise _Refused(
                f"{', '.join(named)}, which srcdiff compiles too (called by {unit.label}) "
                "and the module cannot call: a method, an object, a function computed or "
                "passed, or forward mode",
                "call a function of yours by its name (defined in a module, or in the "
                "function, capturing numbers, strings or NumPy arrays), or write its "
                f"computation into {unit.parsed.name}",
            )
        callees = {}
        for name in sorted({c.id for c in called}):
            if name in unit.parsed.scope:
                continue  # refused below, as a function defined inside
            if name in cells:
                try:
                    value = cells[name].cell_contents
                except ValueError:  # not bound yet: a NameError when run, as in srcdiff
                    continue
            elif name in fn.__globals__:
                value = fn.__globals__[name]
            else:
                continue  # a NameError when run, as in srcdiff
            self.check_callee(name, value, unit)
            callees[name] = value
        mapping = {"rt": "rt"}
        for name in _functions_last(free - {"rt"}, cells, fn):
            if name == "xp":
                mapping[name] = self.module(np, "xp")
            elif name == "_unit":
                raise _Refused(
                    "backward() inside the function, which runs srcdiff's compiler",
                    "export sd.grad of the loss instead",
                )
            elif name in rules:
                rule = next(r for r, n in unit.rule_names.items() if n == name)
                raise _Refused(
                    f"{getattr(rule, '__qualname__', rule)}, a rule registered at run time (a "
                    "rule of yours, or the derivative of a gradient or forward mode inside "
                    "the function)",
                    "the exported module holds srcdiff's own rules alone: write the "
                    "computation with NumPy calls",
                )
            elif name in unit.parsed.scope:
                raise _Refused(
                    f"the function {name} defined inside {unit.parsed.name}, which srcdiff "
                    "compiles on its own",
                    f"write {name}'s computation into {unit.parsed.name}",
                )
            else:
                mapping[name] = self.read(name, cells, fn)
        for name, value in callees.items():
            self.callees.setdefault(value, mapping[name])
        return _rename(text, mapping, f"the code srcdiff compiled for {unit.label}")

    def runtime(self, text: str) -> None:
        """The helpers the generated ``text`` calls (``rt.<name>``), written out."""
        if "rt" in _free_names(text):
            self.namespace(rt, "rt", ast.parse(text), exact=True)

    def read(self, name: str, cells: dict[str, Any], fn: types.FunctionType) -> str:
        """The module's name for what the user's code of ``fn`` reads as ``name``: a
        closure variable (in ``cells``), a global of ``fn``'s module, or a builtin."""
        if name in cells:
            try:
                value = cells[name].cell_contents
            except ValueError:  # not bound yet: a NameError when run, as in srcdiff
                return self.claim(name, ("unbound", name))
            return self.user_value(name, value, f"a closure variable of {fn.__qualname__}")
        if name in fn.__globals__:
            return self.user_value(name, fn.__globals__[name], f"of {fn.__module__}")
        if hasattr(builtins, name):
            return self.builtin(name)
        return self.claim(name, ("unbound", name))  # a NameError when run, as in srcdiff

    def user_value(self, name: str, value: Any, origin: str) -> str:
        """The module's name for a global (or closure variable, ``origin`` says which) of
        the user's: its own name where nothing else took it."""
        if isinstance(value, types.ModuleType):
            return self.module(value, name)
        where = _importable(value) if callable(value) else None
        if where is not None:
            return self.imported(where, name)
        if _is_derivative(value):
            raise _Refused(
                f"{name}, {api._derivative_of(value)[0]}: a derivative taken inside the "
                "function, whose own derivative runs srcdiff's compiler as it goes",
                "export sd.grad of a function of NumPy calls, and take derivatives of "
                "derivatives with srcdiff",
            )
        if callable(value) and registry.lookup(value) is not None:
            raise _Refused(
                f"{name}, which has a rule registered at run time (sd.register_vjp)",
                "the exported module holds srcdiff's own rules alone: write the "
                "computation with NumPy calls",
            )
        if isinstance(value, types.FunctionType):
            return self.function(name, value)
        if isinstance(value, types.MethodType):
            code = getattr(value, "__code__", None)
            where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
            raise _Refused(
                f"{name}{where}, a method of an object",
                f"write {name}'s computation into the function, or pass its result as an argument",
            )
        key = ("user", name, id(value))  # one object: one global, whoever reads it
        if key in self.given:
            return self.given[key]
        literal = _literal(value, self.numpy())
        if literal is None:
            raise _Refused(
                f"the global {name}, a {type(value).__name__}",
                "pass it as an argument, or make it a number, a string or a NumPy array",
            )
        self.kept.append(value)
        got = self.claim(name, key)
        renamed = "" if got == name else f"  # {name}, {origin}"
        self.user.append(f"{got} = {literal}{renamed}")
        return got

    def check_callee(self, name: str, value: Any, unit: Unit) -> None:
        """Refuse a function of the user's that ``unit`` calls through ``rt.call`` where
        the module cannot call it as srcdiff does (it is written out as a global read)."""
        if isinstance(value, types.FunctionType) and registry.is_nondiff(value):
            raise _Refused(
                f"{name} ({_where(value)}), marked as not differentiable",
                "call it outside the function, and pass its result as an argument",
            )
        if registry.lookup(value) is not None and _importable(value) is not None:
            raise _Refused(
                f"{name}, a function of {_importable(value)[0]} called through a name of "
                f"yours (called by {unit.label})",
                "call it by its own name there",
            )
        if not isinstance(value, types.FunctionType) and registry.lookup(value) is None:
            raise _Refused(
                f"{name}, a {type(value).__name__} that srcdiff compiles as a callee (called "
                f"by {unit.label}): a method, a callable object or a partial",
                f"call a function of yours by its name, or write its computation into "
                f"{unit.parsed.name}",
            )

    def function(self, name: str, fn: types.FunctionType) -> str:
        """The module's name for a function of the user's, read as ``name``: its source,
        written out with the globals (and the values of the closure variables) it reads."""
        key = ("function", fn)
        if key in self.given:
            return self.given[key]
        why, text = None, ""
        if (fn.__module__ or "").split(".")[0] == "srcdiff":
            why = "srcdiff's own"
        elif fn.__name__ == "<lambda>":
            why = "a lambda: define it with def"
        elif fn.__name__ != name:
            why = f"defined as {fn.__name__}, and read as {name}: call it by its own name"
        else:
            try:
                text = textwrap.dedent(inspect.getsource(fn))
                tree = ast.parse(text)
            except (OSError, TypeError, SyntaxError):
                why = "its source cannot be read"
            else:
                only = tree.body[0] if len(tree.body) == 1 else None
                if not isinstance(only, ast.FunctionDef) or only.name != name:
                    why = "its source is not one def statement"
                elif only.decorator_list:
                    why = "it is decorated"
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
        if why is None and _reads_itself(text, name) and _value(name, cells, fn) is not fn:
            why = f"it calls {name}, which is now another object"
        if why is not None:
            raise _Refused(
                f"{name} ({_where(fn)}), a function of yours called by the code, which the "
                f"module cannot hold ({why})",
                f"write {name}'s computation into the function, or pass its result as an argument",
            )
        got = self.claim(name, key)  # before what it reads: it may call itself
        mapping = {name: got}
        for free in _functions_last(_free_names(text), cells, fn):
            mapping[free] = self.read(free, cells, fn)
        text = _rename(text, mapping, f"{name} ({_where(fn)})")
        self.functions.append(f"# {fn.__qualname__} ({_where(fn)})\n{text.rstrip()}")
        return got


def _reads_itself(text: str, name: str) -> bool:
    """Whether the ``def`` statement ``text``, binding ``name``, reads ``name``."""
    tables = list(symtable.symtable(_FUTURE + text, "<export>", "exec").get_children())
    while tables:
        table = tables.pop()
        tables += table.get_children()
        if any(s.get_name() == name and s.is_global() and s.is_referenced()
               for s in table.get_symbols()):  # fmt: skip
            return True
    return False


def _functions_last(names: set[str], cells: dict[str, Any], fn: types.FunctionType) -> list[str]:
    """``names`` (read by the code of ``fn``) in order, the functions' last: what the code
    reads keeps its own name before those the functions it calls read."""
    return sorted(names, key=lambda n: (isinstance(_value(n, cells, fn), types.FunctionType), n))


def _value(name: str, cells: dict[str, Any], fn: types.FunctionType) -> Any:
    """What ``fn`` reads as ``name`` (a closure variable, a global); None if nothing."""
    if name in cells:
        try:
            return cells[name].cell_contents
        except ValueError:
            return None
    return fn.__globals__.get(name)


def _where(fn: types.FunctionType) -> str:
    """Where a function is defined: ``file:line``."""
    return f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"


def _quoted_fields(text: str, cls: type) -> str:
    """The source ``text`` of srcdiff's dataclass ``cls`` with its fields' annotations
    quoted: ``dataclass`` looks a string annotation up in the module ``sys.modules``
    holds under the class's ``__module__`` (for a ClassVar), and an exported module run
    by ``exec``, or loaded without being registered, has none; a quoted one it looks up
    nowhere. Refused for a ClassVar, InitVar or KW_ONLY, which it must find."""
    if set(inspect.get_annotations(cls)) != {f.name for f in dataclasses.fields(cls)}:
        raise _Refused(f"srcdiff's dataclass {cls.__qualname__}, with pseudo-fields")
    (node,) = ast.parse(text).body
    lines = text.splitlines(keepends=True)
    annotations = [s.annotation for s in node.body if isinstance(s, ast.AnnAssign)]
    for a in reversed(annotations):  # the last first: the positions before stay right
        first, last = lines[a.lineno - 1], lines[a.end_lineno - 1]
        quoted = repr(ast.unparse(a))
        lines[a.lineno - 1] = first[: a.col_offset] + quoted + last[a.end_col_offset :]
        for row in range(a.lineno, a.end_lineno):
            lines[row] = ""
    return "".join(lines)


def _bound(statement: ast.stmt) -> set[str]:
    """The names a top-level assignment or import binds."""
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


@functools.lru_cache(maxsize=32)
def _module_source(text: str) -> tuple[ast.Module, list[str]]:
    """A srcdiff module's source parsed, and its lines as the parser counts them: read (not
    changed) for each of its constants written out, which parsing anew made export slow."""
    return ast.parse(text), re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The source of ``node`` in a module of ``lines`` (``ast.get_source_segment``, whose
    column offsets count bytes in UTF-8), from lines split once."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    start = lines[first].encode()[node.col_offset :]
    if first == last:
        return start[: (node.end_col_offset or 0) - node.col_offset].decode()
    end = lines[last].encode()[: node.end_col_offset]
    return "".join([start.decode(), *lines[first + 1 : last], end.decode()])


def _updated_at_import(tree: ast.Module, name: str) -> bool:
    """Whether a top-level statement of a module updates ``name`` in place (``X[k] = v``,
    ``X.update(...)``, ``X += ...``): then its assignment alone is not its value."""

    def names(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))

    for statement in tree.body:
        if isinstance(statement, ast.Expr) and names(statement):
            return True
        if isinstance(statement, ast.AugAssign) and names(statement.target):
            return True
        targets = statement.targets if isinstance(statement, (ast.Assign, ast.Delete)) else []
        if any(isinstance(t, (ast.Subscript, ast.Attribute)) and names(t) for t in targets):
            return True
    return False


def _owner(fn: types.FunctionType) -> type:
    """The class a method is defined in."""
    obj: Any = sys.modules[fn.__module__]
    for part in fn.__qualname__.split(".")[:-1]:
        obj = getattr(obj, part)
    return obj


class _Placeholder:
    """A default value shown as ``None`` in a signature (the real ones are set after)."""

    def __repr__(self) -> str:
        return "None"


def _gradient_function(g: Any) -> api.GradientFunction:
    if isinstance(g, api.Differentiated):
        return g._gradient()
    if not isinstance(g, api.GradientFunction):
        raise TypeError(
            f"sd.export takes a function made by sd.grad, sd.value_and_grad or "
            f"@sd.differentiate, not {type(g).__name__}"
        )
    return g


def _is_derivative(fn: Any) -> bool:
    """Whether ``fn`` is one of srcdiff's transforms (``sd.grad(f)``, ``sd.vmap(f)``): its
    rules run the compiler, so no module of NumPy alone can hold a call of it."""
    return hasattr(type(fn), "_srcdiff_vjp")


def _innermost(fn: Any) -> Any:
    """The function of the user's that the transform ``fn`` differentiates, at any depth."""
    while _is_derivative(fn) and hasattr(fn, "_fn"):
        fn = fn._fn
    return fn


def _refusal(target: api._Target, what: str, hint: str) -> CompileError:
    fn = target.fn
    return CompileError(
        f"cannot export {what}",
        function=fn.__qualname__,
        filename=fn.__code__.co_filename,
        lineno=fn.__code__.co_firstlineno,
        hint=hint,
    )


def _updates(unit: Unit) -> tuple[str, str]:
    """Why ``unit`` records parameters as updated in place (``unit.updated``), in words
    following "that" or "which", and what to do. A parameter is updated where the
    function writes into it by name; otherwise it only follows (``rt.follow``) an update
    of an object the analysis finds it may share or hold."""
    found = []  # (only followed, line, parameter): those written by name first
    for s in walk_statements(unit.analysis.fn.body):
        target = s.targets[0] if isinstance(s, gast.Assign) else None
        if is_update(s) in unit.updated:
            found.append((False, s.lineno, is_update(s)))
        elif ir.facts(s).follows and isinstance(target, gast.Name) and target.id in unit.updated:
            found.append((True, s.lineno, target.id))
    followed, line, n = min(found, default=(True, 0, unit.updated[0]))
    names = ", ".join(unit.updated)
    shown = linecache.getline(unit.fn.__code__.co_filename, line).strip() if line else ""
    at = f"line {line}: `{shown}`" if shown else f"line {line}"
    hint = (
        "the exported module does not write the lists and dicts a call updates back into "
        "the caller's, as srcdiff does: return new values instead"
    )
    if not followed:
        return f"updates its arguments in place ({names}; {at})", hint
    what = f"srcdiff compiled as possibly updating {names} in place"
    if not line:
        return what, hint
    return (
        f"{what}: it cannot rule out that {n} shares or holds the object updated at {at}",
        f"{hint}; if nothing of {n} is updated, build that object otherwise (a list filled "
        f"with the results of calls on {n}'s entries may hold those entries: compute it "
        "with array operations)",
    )


def _pattern(target: api._Target, shape_key: tuple) -> dict[str, Any]:
    """The shape pattern a unit was compiled for, from the types, shapes and dtypes of the
    call that compiled it (``rt.shape_key``), as ``rt.shape_pattern`` made it."""

    def standin(cls: type, shape: Any, _dtype: Any) -> Any:
        if issubclass(cls, (int, float, complex)):
            return 0
        if issubclass(cls, (list, tuple)):
            return []
        return types.SimpleNamespace(shape=shape)

    args = tuple(standin(*entry) for entry in shape_key if len(entry) == 3)
    kwargs = {k: standin(*rest) for k, *rest in (e for e in shape_key if len(e) == 4)}
    return rt.shape_pattern(target.parameters, args, kwargs)


def _units(target: api._Target) -> list[tuple[Unit, tuple, tuple[int, ...], list[tuple]]]:
    """Each unit of ``target`` compiled under the rules in force: the unit, its static
    facts (the kinds of the differentiated arguments and the shape pattern), where each
    gradient sits in its adjoint's results, and its paths, the most taken first."""
    found: dict[tuple, tuple[Unit, tuple, tuple[int, ...], list[tuple]]] = {}
    for key, (unit, order) in list(target.units.items()):
        _, _, version, shapes, *rest = key  # see rt.call_key
        if rest[-1:] == [api.TENSORS]:
            hint = "call the gradient with NumPy arrays (t.numpy()), then export it"
            raise _refusal(target, "a gradient taken at Tensors", hint)
        if version != registry.version() or unit.stale():
            continue  # compiled under rules or globals since changed: not called again
        if unit.xp is not np:
            raise _refusal(target, f"a gradient compiled for {unit.xp.__name__} arrays",
                           "the exported module runs on NumPy: call the gradient with NumPy "
                           "arrays, then export it")  # fmt: skip
        paths = [k for k, stop, wanted, _ in unit.adjoints if stop is None and wanted is None]
        paths = sorted(dict.fromkeys(paths), key=lambda k: -unit.path_calls[k])
        if not paths:
            continue
        kinds = tuple(unit.kinds[name] for name in target.names)
        facts = (kinds, tuple(sorted(_pattern(target, shapes).items())))
        if facts not in found or len(found[facts][3]) < len(paths):
            found[facts] = (unit, facts, order, paths)
    return list(found.values())


def _shape_text(dims: tuple | None) -> str:
    """A shape pattern in words: ``(a, 1, b)``, a number, or no shape."""
    if dims is None:
        return "no shape"
    if dims == ():
        return "a number"
    return "(" + ", ".join("1" if d == 1 else "abcdefghijklmnopqrstuvwxyz"[(-d - 1) % 26]
                           for d in dims) + (",)" if len(dims) == 1 else ")")  # fmt: skip


_KINDS_SHOWN = {"array": "an array or number", "any": "a list, tuple or dict"}


def _described(names: tuple[str, ...], kinds: tuple[str, ...], shapes: tuple) -> str:
    """The kinds of the differentiated arguments ``names`` and the pattern of the
    arguments' shapes, in words: for the module's documentation and its NotExported."""
    what = ", ".join(f"{n} {_KINDS_SHOWN.get(k, k)}" for n, k in zip(names, kinds, strict=True))
    shown = ", ".join(f"{n} {_shape_text(d)}" for n, d in shapes)
    return f"{what or 'nothing differentiated'}; shapes: {shown or 'none known'}"


def _unexported(function: str, call: tuple, exported: list[tuple]) -> str:
    """NotExported's message for a call of ``function`` whose static facts (``call``:
    the names differentiated, their kinds, the pattern of the arguments' shapes) no
    exported unit has (``exported``: theirs): both in words, and the parameters the
    call passes or leaves out unlike the calls srcdiff compiled for (it compiles a
    gradient for the parameters a call passes)."""
    passed = {n for n, _ in call[2]}
    known = [{n for n, _ in shapes} for *_, shapes in exported]
    compiled, causes = "the gradient was compiled for", []
    if passed not in known:
        left = sorted(set.intersection(*known) - passed)
        added = sorted(passed - set.union(*known))
        if left:
            causes.append(f"it leaves out {', '.join(left)}, which every call {compiled} passed")
        if added:
            causes.append(f"it passes {', '.join(added)}, which no call {compiled} passed")
        if not causes:
            causes.append(f"no call {compiled} passed {', '.join(sorted(passed))} alone")
    shown = [_described(*facts) for facts in exported[:3]]
    if len(exported) > 3:
        shown.append(f"{len(exported) - 3} more")
    return "; ".join([
        f"{function} called with {_described(*call)}",
        *causes,
        f"no gradient was exported for such a call (those exported are for: "
        f"{' | '.join(shown)}): call the gradient on such arguments with srcdiff, then "
        "export it again",
    ])  # fmt: skip


def _unit_facts(key: tuple) -> tuple:
    """A callee's unit's static facts (``(active, kinds, shapes)`` as ``rt.call`` finds
    them) as ``_described`` takes them."""
    _, kinds, shapes = key
    return tuple(n for n, _ in kinds), tuple(k for _, k in kinds), shapes


def _facts_text(target: api._Target, facts: tuple) -> str:
    return _described(target.names, *facts)


def _signature(fn: types.FunctionType) -> tuple[str, str]:
    """``fn``'s parameters as a ``def`` takes them, with placeholder defaults, and as the
    user wrote them (for the documentation)."""
    signature = rt_calls.own_signature(fn)
    plain = signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )
    marked = plain.replace(
        parameters=[
            p.replace(default=_Placeholder()) if p.default is not p.empty else p
            for p in plain.parameters.values()
        ]
    )
    return str(marked), str(plain)


PREAMBLE = '''
class NotExported(LookupError):
    """A call of {name} taking a path, or given arguments of kinds or shapes, that this
    module was not exported with."""


def _arguments{signature}:
    """The differentiated arguments of a call of {name}."""
    return {values}
{defaults}'''

DISPATCH = '''
# for rt.shape_pattern: the positional parameters, and those an argument can name
_PARAMETERS = {parameters}
_ELEMENTS = {elements}  # each differentiated argument's index in *{starred}, or None

# each unit by its static facts (the kinds of {wrt}; the pattern of the arguments' shapes,
# equal sizes sharing one number): its primal, its adjoint by the key of each path, and
# where each gradient sits in the adjoint's results
_UNITS = {units}

# each path in your terms, by its adjoint
PATHS = {paths}


def _leaves(value):
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    return [value]


def _value_and_grad(args, kwargs):
    """The value and the gradient of {name} at a call's arguments: the primal of the unit
    for their kinds and shapes, then the adjoint of the path the call took."""
    values = _arguments(*args, **kwargs)
    for v in values:
        dtype = getattr(v, "dtype", None)
        if isinstance(v, (bool, int)) or (dtype is not None and dtype.kind in "biu"):
            raise TypeError(
                "cannot differentiate {name} with respect to an integer argument: pass a float"
            )
    for leaf in _leaves((*args, *kwargs.values())):  # (np.matrix's * is another product)
        if hasattr(leaf, "shape") and not (
            type(leaf) is np.ndarray and leaf.dtype.kind not in "OV"
            or isinstance(leaf, np.generic)
        ):
            raise TypeError(
                "the exported gradient of {name} runs on NumPy arrays of numbers, not "
                f"{{type(leaf).__module__}}.{{type(leaf).__name__}}"
                + (" of objects" if getattr(leaf, "dtype", None) == object else "")
            )
    kinds = tuple(
        "any" if e is not None else _kind(v) for v, e in zip(values, _ELEMENTS, strict=True)
    )
    shapes = tuple(sorted(rt.shape_pattern(_PARAMETERS, args, kwargs).items()))
    unit = _UNITS.get((kinds, shapes))
    if unit is None:
        names = {names!r}
        raise NotExported(_unexported(
            {name!r}, (names, kinds, shapes), [(names, *facts) for facts in _UNITS]
        ))
    primal, adjoints, order = unit
    _saved, _path = {{}}, []
    value = primal(_saved, _path, *args, **kwargs)
    key = rt.path_key(_path) if _path else ()
    adjoint = adjoints.get(key)
    if adjoint is None:
        raise NotExported(
            f"{name} took the path {{key}}, which was not exported (PATHS lists those "
            "that were): call the gradient on such arguments with srcdiff, then export it "
            "again"
        )
    grads = adjoint(_saved, _seed(value, {name!r}))
{post}
'''

SINGLE = "    return value, rt.grad_like(grads[order[0]], values[0])"
SEVERAL = """\
    return value, _distinct(
        [rt.grad_like(grads[i], v) for i, v in zip(order, values, strict=True)]
    )"""
STARRED = """\
    grads = [_entry(grads[i], e) for i, e in zip(order, _ELEMENTS, strict=True)]
    order = range(len(order))
"""

PUBLIC = '''

def {prefix}_{base}(*args, **kwargs):
    """{what} of {name} with respect to {wrt}, as srcdiff computes {them}; the
    arguments are {name}'s: {shown}."""
    return {result}
'''

CALLS = """
def @CALL@(fn, active, /, *args, **kwargs):
    \"\"\"rt.call, written out: run the exported primal of a function of yours that the
    code calls, picked by the kinds and shapes of its arguments (those in ``active``
    differentiated); its value, and what @CALL_VJP@ needs.\"\"\"
    positions, layout = @EXPANDED@(active, len(args), kwargs)
    value, record = @UNIT_CALL@(fn, positions, args, kwargs)
    return value, record if layout is None else ("star", record, layout)


def @EXPANDED@(active, nargs, kwargs):
    \"\"\"The mask as argument positions (rt.Star, rt.Spread and positions counted from the
    end made plain), and for each of its entries the positions it covers (None when all
    are plain).\"\"\"
    if all(isinstance(a, str) or isinstance(a, int) and a >= 0 for a in active):
        return active, None
    positions, layout = [], []
    for a in active:
        if isinstance(a, rt.Spread):  # the differentiated **kw operand
            keys = tuple(k for k in kwargs if k not in a.named)
            layout.append((keys, len(positions), len(keys)))
            positions += keys
        elif not isinstance(a, (int, str)):  # rt.Star: the differentiated *args operand
            covered = tuple(range(a.start, nargs - a.after))
            rows = a.spread if hasattr(a.spread, "shape") else True  # an array's, or not
            layout.append((rows, len(positions), len(covered)))
            positions += covered
        else:
            layout.append((False, len(positions), 1))
            positions.append(a if isinstance(a, str) or a >= 0 else nargs + a)
    return tuple(positions), tuple(layout)


def @UNIT_CALL@(fn, active, args, kwargs):
    callee = @CALLEES@.get(fn)
    if callee is None:
        raise @NOT_EXPORTED@(
            f"a call of {fn!r}, which was not exported (@CALLEES@ lists those that were)"
        )
    label, parameters, units = callee
    positional = parameters[0]
    values = [args[a] if isinstance(a, int) else kwargs[a] for a in active]
    names = []
    for a in active:
        if not isinstance(a, str) and a >= len(positional):
            raise TypeError(
                f"srcdiff cannot differentiate {label} through a *args parameter: give the "
                "argument a name"
            )
        names.append(a if isinstance(a, str) else positional[a])
    carried = tuple(n for n, v in zip(names, values, strict=True) if carries_gradient(v))
    kinds = tuple(sorted(
        (n, _kind(v)) for n, v in zip(names, values, strict=True) if n in carried
    ))
    shapes = tuple(sorted(rt.shape_pattern(parameters, args, kwargs).items()))
    unit = units.get((carried, kinds, shapes))
    if unit is None:
        raise @NOT_EXPORTED@(_unexported(
            label, _unit_facts((carried, kinds, shapes)), [_unit_facts(key) for key in units]
        ))
    primal, wrt, adjoints = unit
    saved, path = {}, []
    value = primal(saved, path, *args, **kwargs)
    order = tuple(wrt.index(n) if n in carried else None for n in names)
    return value, ("unit", label, unit, saved, path, order, values)


def @CALL_VJP@(record, g, wanted=None):
    \"\"\"rt.call_vjp, written out: the gradients, for the differentiated arguments of a
    call (those at the positions ``wanted`` only, when given), of its result's adjoint
    ``g``, by the exported adjoint of the path the call took.\"\"\"
    if record[0] == "star":  # with *args or **kw: its entries' gradients as a list or dict
        _, inner, layout = record
        grads = @CALL_VJP@(inner, g)
        return tuple(
            dict(zip(star, grads[i : i + n], strict=True)) if type(star) is tuple
            else list(grads[i : i + n]) if star is True
            else grads[i] if star is False
            else rt.entries_like([rt.zeros_like(e) if d is None else d
                                  for d, e in zip(grads[i : i + n], star, strict=True)], star)
            for star, i, n in layout
        )
    _, label, unit, saved, path, order, values = record
    _, wrt, adjoints = unit
    key = rt.path_key(path) if path else ()
    names = None
    if wanted is not None and len(wanted) != len(order):
        chosen = {wrt[order[i]] for i in wanted if order[i] is not None}
        names = tuple(n for n in wrt if n in chosen)
        if len(names) == len(wrt):
            names = None
    adjoint = adjoints.get((key, names))
    if adjoint is None:
        wanting = "" if names is None else f" for the gradients of {', '.join(names)} alone"
        raise @NOT_EXPORTED@(
            f"{label} took the path {key}{wanting}, which was not exported (@CALLEES@ lists "
            "those that were): call the gradient on such arguments with srcdiff, then "
            "export it again"
        )
    grads = adjoint(saved, g)
    out = [None if i is None else grads[i] for i in order]
    for i in range(len(out)) if wanted is None else wanted:
        if out[i] is None:
            out[i] = rt.zeros_like(values[i])
    return tuple(out)
"""

_MARK = "# ---- the units ----"  # where the units go, between the dispatcher's parts


def export(g: Any, path: str | pathlib.Path) -> pathlib.Path:
    """Write every path ``g`` (made by ``sd.grad``, ``sd.value_and_grad`` or
    ``@sd.differentiate``) was compiled for so far into one Python module at ``path``,
    and return that path.

    The module needs NumPy alone, so the gradient can be vendored: it holds each
    compiled unit's primal and the adjoint of each path seen, srcdiff's runtime helpers
    they call (written out from srcdiff's source), the globals they read, and
    ``grad_<name>`` (``value_and_grad_<name>``; both for ``@sd.differentiate``), which
    computes what ``g`` computes for calls taking those paths and raises ``NotExported``
    on others. The functions of yours it calls by name are exported with it (written
    out, with their compiled units and the paths of theirs seen). Raises
    ``CompileError`` for what it cannot write out: derivatives of derivatives (their
    rules run the compiler), calls of methods, of callable objects
    or of functions computed or passed, decorated functions, rules registered by you,
    Tensor code, CuPy, and globals that are neither modules, numbers, strings, NumPy
    arrays nor such functions.
    """
    gradient = _gradient_function(g)
    target = gradient._target
    if _is_derivative(gradient._fn):
        shown, base, order = api._derivative_of(g)
        code = getattr(_innermost(gradient._fn), "__code__", None)
        raise CompileError(
            f"cannot export {shown}, a derivative of order {order} of {base}: the module "
            "holds first derivatives, whose adjoints are source; a derivative of a "
            "derivative runs srcdiff's compiler as it goes",
            function=base,
            filename="?" if code is None else code.co_filename,
            lineno=None if code is None else code.co_firstlineno,
            hint=f"export sd.grad of a function of NumPy calls, and take {shown} with srcdiff",
        )
    if target._self is not None:
        raise _refusal(target, "the gradient of a method",
                       "export a function taking what it reads of the instance")  # fmt: skip
    units = _units(target)
    if not units:
        raise RuntimeError(
            f"no gradient of {target.fn.__qualname__} has been computed yet: call g first "
            "(on inputs taking each path to export), then export it"
        )
    both = isinstance(g, api.Differentiated)
    try:
        text = _module_text(gradient, units, both)
    except _Refused as exc:
        raise _refusal(target, f"a gradient that needs {exc.what}", exc.hint) from None
    path = pathlib.Path(path)
    path.write_text(text)
    return path


def _module_text(gradient: api.GradientFunction, units: list, both: bool) -> str:
    """The exported module's source."""
    target = gradient._target
    base = _base(target.fn)
    writer = _Writer()
    writer.take(("namespace", rt.__name__), "rt", exact=True)  # what generated code reads
    checked = gradient._check_finite
    compiled = []  # per unit: its primal's source, and each path's key and adjoint's source
    for unit, _, _, keys in units:
        adjoints = [(key, unit.adjoint(key, checked=checked)[1]) for key in keys]
        compiled.append((
            writer.generated(unit.primal_source, unit),
            [(key, writer.generated(text, unit)) for key, text in adjoints],
        ))  # fmt: skip
    for unit, *_ in units:  # only now: a function defined inside, say, is the truer reason
        if unit.updated:
            what, hint = _updates(unit)
            raise _refusal(target, f"a function that {what}", hint)
    callees = _callees(writer, checked)  # the functions they call, transitively
    if writer.callees:  # rt.call and rt.call_vjp: written out below, for the exported units
        _, members = writer.namespaces.setdefault(rt.__name__, ("rt", {}))
        members["call"] = writer.claim("call", ("calls", "call"))
        members["call_vjp"] = writer.claim("call_vjp", ("calls", "call_vjp"))
    for (unit, *_), (primal, adjoints) in zip(units, compiled, strict=True):
        for text in (primal, *(text for _, text in adjoints)):
            writer.runtime(text)
        if unit.enters:  # its with blocks are left when an exception goes through them
            writer.runtime("rt.unwinding")
    for _, _, unit, _, primal, adjoints in callees:
        for text in (primal, *(text for *_, text in adjoints)):
            writer.runtime(text)
        if unit.enters:
            writer.runtime("rt.unwinding")
    several = len(units) > 1
    names = []  # per unit: its primal's name, and its adjoints'
    for i, (_, adjoints) in enumerate(compiled, start=1):
        suffix = f"_{i}" if several else ""
        names.append((
            writer.claim(f"{base}_primal{suffix}", ("generated", i)),
            [writer.claim(f"{base}_adjoint{suffix}_{j}", ("generated", i, j))
             for j in range(1, len(adjoints) + 1)],
        ))  # fmt: skip
    callee_names = [
        (writer.claim(f"{name}_primal", ("called", i)),
         [writer.claim(f"{name}_adjoint", ("called", i, j)) for j in range(len(adjoints))])
        for i, (_, name, _, _, _, adjoints) in enumerate(callees)
    ]  # fmt: skip
    dispatch, exported = _dispatcher(gradient, writer, units, names, both)
    preamble, dispatch = dispatch.split(_MARK)
    arguments = writer.given[("dispatch", "_arguments")]
    sections = []
    for (unit, facts, _, keys), (primal, adjoints), (primal_name, adjoint_names) in zip(
        units, compiled, names, strict=True
    ):
        lines = [f"# ---- {_facts_text(target, facts)} ----\n\n{_def(primal, primal_name)}"]
        if target.fn.__defaults__ is not None:
            lines.append(f"{primal_name}.__defaults__ = {arguments}.__defaults__")
        if target.fn.__kwdefaults__ is not None:
            lines.append(f"{primal_name}.__kwdefaults__ = {arguments}.__kwdefaults__")
        if unit.enters:
            lines.append(f"{primal_name} = rt.unwinding({primal_name})")
        for key, (_, text), name in zip(keys, adjoints, adjoint_names, strict=True):
            choices = explain(unit.analysis, key) or ["straight line"]
            comment = "".join(f"#   {c}\n" for c in choices)
            lines.append(f"# path {key!r}:\n{comment}{_def(text, name)}")
        sections.append("\n\n\n".join(lines))
    if writer.callees:
        sections += _callee_sections(writer, callees, callee_names)
    namespaces = []
    for module, (name, members) in writer.namespaces.items():
        simple = writer.module(types, "types")
        inner = "".join(f"    {attr}={got},\n" for attr, got in sorted(members.items()))
        namespaces.append(f"# what the code reads of {module}\n"
                          f"{name} = {simple}.SimpleNamespace(\n{inner})")  # fmt: skip
    imports = sorted(writer.imports, key=lambda line: ("numpy" in line, line[0] == "f", line))
    parts = [
        _header(gradient, units, exported, callees),
        _FUTURE + "\n" + "\n".join(imports),
        "# ---- srcdiff's runtime helpers, written out: this module imports no srcdiff ----",
        *writer.helpers,
        *namespaces,
    ]
    if writer.user:
        parts.append(f"# ---- the globals {target.fn.__qualname__} reads ----\n\n"
                     + "\n".join(writer.user))  # fmt: skip
    if writer.functions:
        parts.append("# ---- the functions of yours the code calls, as you wrote them ----")
        parts += writer.functions
    parts += [preamble, *sections, dispatch]
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


def _callees(writer: _Writer, checked: bool) -> list[tuple]:
    """Each unit of each function of the user's that the exported code calls through
    ``rt.call`` (found transitively: the callees' code is taken by ``writer`` too): the
    function, its name in the module, the unit, its static facts (``(active, kinds,
    shapes)`` as ``rt.call`` finds them), its primal's source and each ``(path key,
    gradients wanted, adjoint's source)`` seen (the sources as the module names things)."""
    out, done = [], set()
    while len(done) < len(writer.callees):
        fn, name = next((f, n) for f, n in writer.callees.items() if f not in done)
        done.add(fn)
        for key, unit in list(cache._UNITS.get(fn, {}).items()):
            active, kinds, xp, version, dialect, shapes, returns, _, _, objects, holders = key
            if version != registry.version() or dialect.on_tensors or returns or unit.stale():
                continue  # compiled under other rules, for Tensors or for rt.Returning
            if objects or holders:  # (or for containers and records holding such objects)
                continue  # for objects whose operators are their own: refused where called
            if xp != np.__name__:
                continue  # for other arrays: the exported module runs on NumPy's alone
            seen = [(k, w) for k, stop, w, _ in unit.adjoints if stop is None]
            if not seen:
                continue  # its primal ran, its adjoint never did
            primal = writer.generated(unit.primal_source, unit)
            adjoints = [
                (k, w, writer.generated(unit.adjoint(k, wanted=w, checked=checked)[1], unit))
                for k, w in dict.fromkeys(seen)
            ]
            if unit.updated:
                what, hint = _updates(unit)
                raise _Refused(f"{fn.__name__} ({_where(fn)}), which {what}", hint)
            out.append((fn, name, unit, (active, kinds, shapes), primal, adjoints))
    return out


def _callee_sections(writer: _Writer, callees: list, names: list) -> list[str]:
    """The exported primals and adjoints of the functions the code calls, the table of
    them by function that ``rt.call`` reads, and ``rt.call`` and ``rt.call_vjp``."""
    sections, table = [], {}
    for (fn, name, unit, facts, primal, adjoints), (primal_name, adjoint_names) in zip(
        callees, names, strict=True
    ):
        active, kinds, shapes = facts
        shown = _described(*_unit_facts(facts))
        lines = [f"# ---- called: {unit.label}; {shown} ----\n\n"
                 f"{_def(primal, primal_name)}"]  # fmt: skip
        for attr in ("__defaults__", "__kwdefaults__"):
            if getattr(fn, attr) is not None:
                lines.append(f"{primal_name}.{attr} = {name}.{attr}")
        if unit.enters:
            lines.append(f"{primal_name} = rt.unwinding({primal_name})")
        entries = []
        for (key, wanted, text), adjoint_name in zip(adjoints, adjoint_names, strict=True):
            choices = explain(unit.analysis, key) or ["straight line"]
            comment = "".join(f"#   {c}\n" for c in choices)
            alone = "" if wanted is None else f" (the gradients of {', '.join(wanted)} alone)"
            lines.append(f"# path {key!r}{alone}:\n{comment}{_def(text, adjoint_name)}")
            entries.append(f"                    ({key!r}, {wanted!r}): {adjoint_name},\n")
        sections.append("\n\n\n".join(lines))
        label, parameters = unit.label, rt_calls.parameter_names(fn, 0)
        parameters = f"({parameters[0]!r}, frozenset({sorted(parameters[1])!r}))"
        _, _, units = table.setdefault(name, (label, parameters, []))
        units.append(f"            {(active, kinds, shapes)!r}: (\n                {primal_name},\n"
                     f"                {unit.wrt!r},\n                {{\n{''.join(entries)}"
                     "                },\n            ),\n")  # fmt: skip
    callees_name = writer.claim("CALLEES", ("calls", "CALLEES"))
    rows = "".join(
        f"    {name}: (\n        {label!r},\n        {parameters},\n        {{\n"
        f"{''.join(units)}        }},\n    ),\n"
        for name, (label, parameters, units) in table.items()
    )
    sections.append(
        "# each function of yours the code calls (through rt.call), by the function: where it\n"
        "# is, its parameters, and each unit by the static facts rt.call finds (the names\n"
        "# differentiated, their kinds, the pattern of the arguments' shapes): its primal,\n"
        "# the parameters it differentiates, and its adjoint by path and gradients wanted\n"
        f"{callees_name} = {{\n{rows}}}"
    )
    members = writer.namespaces[rt.__name__][1]
    text = (
        CALLS.replace("@CALLEES@", callees_name)
        .replace("@NOT_EXPORTED@", writer.given[("dispatch", "NotExported")])
        .replace("@UNIT_CALL@", writer.claim("call_unit", ("calls", "call_unit")))
        .replace("@EXPANDED@", writer.claim("expanded", ("calls", "expanded")))
        .replace("@CALL_VJP@", members["call_vjp"])
        .replace("@CALL@", members["call"])
    )
    env = {
        "rt": rt,
        "carries_gradient": rt_calls.carries_gradient,
        "_kind": rt_calls.value_kind,
        "_unexported": _unexported,
        "_unit_facts": _unit_facts,
    }
    text = writer.source(text, env, None, ("calls",))
    writer.helpers.append("# rt.call and rt.call_vjp of the functions of yours the code calls"
                          f"\n{text.strip()}")  # fmt: skip
    return sections


def _base(fn: types.FunctionType) -> str:
    """The name the module's functions are named after (``lambda`` for a lambda)."""
    return fn.__name__ if fn.__name__.isidentifier() else "lambda"


def _def(text: str, name: str) -> str:
    """A generated function's source, defining ``name``."""
    old = text.split("(", 1)[0].removeprefix("def ")
    return text.replace(f"def {old}(", f"def {name}(", 1).rstrip()


def _dispatcher(
    gradient: api.GradientFunction, writer: _Writer, units: list, names: list, both: bool
) -> tuple[str, list[str]]:
    """The dispatcher's source (its two parts, around ``_MARK``) and the names the module
    exports."""
    target = gradient._target
    fn = target.fn
    signature, shown = _signature(fn)
    numpy_name = writer.numpy()
    defaults = _literal(fn.__defaults__, numpy_name)
    kwdefaults = _literal(fn.__kwdefaults__, numpy_name)
    if defaults is None or kwdefaults is None:
        raise _Refused(
            f"the default values of {fn.__qualname__}'s arguments",
            "make them numbers, strings or NumPy arrays (or None), or pass the values",
        )
    params = rt_calls.own_signature(fn).parameters.values()
    starred = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), "args")
    values = [n if e is None else f"{starred}[{e}]"
              for n, e in zip(target.names, target.elements, strict=True)]  # fmt: skip
    units_table, paths_table = [], []
    for (unit, facts, order, keys), (primal_name, adjoint_names) in zip(units, names, strict=True):
        entries = "".join(
            f"            {k!r}: {n},\n" for k, n in zip(keys, adjoint_names, strict=True)
        )
        units_table.append(f"    {facts!r}: (\n        {primal_name},\n        {{\n{entries}"
                           f"        }},\n        {order!r},\n    ),\n")  # fmt: skip
        for key, name in zip(keys, adjoint_names, strict=True):
            choices = tuple(explain(unit.analysis, key)) or ("straight line",)
            inner = "".join(f"        {c!r},\n" for c in choices)
            paths_table.append(f"    {name!r}: (\n{inner}    ),\n")
    wrt = ", ".join(target.names)
    positional, named = target.parameters
    parameters = f"({positional!r}, frozenset({sorted(named)!r}))"
    text = PREAMBLE.format(
        name=fn.__qualname__, signature=signature, values=repr(tuple(values)).replace("'", ""),
        defaults="".join(
            f"\n\n_arguments.{attr} = {literal}\n" for attr, literal in
            (("__defaults__", defaults), ("__kwdefaults__", kwdefaults)) if literal != "None"
        ),
    ) + f"\n{_MARK}\n" + DISPATCH.format(
        name=fn.__qualname__, parameters=parameters, starred=starred, names=tuple(target.names),
        elements=repr(tuple(target.elements)), wrt=wrt,
        units="{\n" + "".join(units_table) + "}", paths="{\n" + "".join(paths_table) + "}",
        post=(STARRED if target.starred else "") + (SEVERAL if target.multiple else SINGLE),
    )  # fmt: skip
    publics = [("grad", "The gradient", "_value_and_grad(args, kwargs)[1]")]
    if gradient._with_value:
        publics = [("value_and_grad", "The value and the gradient",
                    "_value_and_grad(args, kwargs)")] + (publics if both else [])  # fmt: skip
    for prefix, what, result in publics:
        them = "them" if target.multiple or prefix == "value_and_grad" else "it"
        text += PUBLIC.format(prefix=prefix, base=_base(fn), what=what, name=fn.__qualname__,
                              wrt=wrt, shown=f"{fn.__name__}{shown}", result=result,
                              them=them)  # fmt: skip
    env = {
        "rt": rt,
        "np": np,
        "_seed": api._seed,
        "_kind": rt_calls.value_kind,
        "_entry": api._entry,
        "_distinct": api._Target.__dict__["distinct"],
        "_unexported": _unexported,
    }
    tree = ast.parse(text)
    mapping = {}
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            bound = {statement.name}
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            bound = _bound(statement)
        else:
            continue
        for name in sorted(bound):
            mapping[name] = writer.claim(name, ("dispatch", name))
    for name in sorted(_free_names(text)):
        if name in env or hasattr(builtins, name):
            mapping[name] = writer.resolve(name, env, tree)
    exported = [mapping[f"{prefix}_{_base(fn)}"] for prefix, _, _ in publics]
    exported += [mapping["PATHS"], mapping["NotExported"]]
    text = _rename(text, mapping, "the dispatcher") + f"\n\n__all__ = {exported!r}\n"
    return text, exported


def _header(gradient: api.GradientFunction, units: list, exported: list[str], callees: list) -> str:
    """The module's docstring: what it computes, and its paths in the user's terms."""
    target = gradient._target
    fn = target.fn
    count = sum(len(keys) for *_, keys in units)
    first = (
        f"The gradient of {fn.__qualname__} ({fn.__code__.co_filename}:"
        f"{fn.__code__.co_firstlineno}) with respect to {', '.join(target.names)}."
    )
    about = (
        f"Generated by srcdiff (sd.export) with NumPy {np.__version__}; it needs NumPy alone. "
        f"{' and '.join(exported[:-2])} "
        f"compute{'s' if len(exported) == 3 else ''} what srcdiff computes, for calls taking "
        f"{'the path' if count == 1 else f'one of the {count} paths'} below (PATHS); "
        "another raises NotExported: call the gradient on such arguments with srcdiff, then "
        "export it again."
    )
    if gradient._check_finite:
        about += " Each adjoint checks that the gradients it computes are finite."
    lines = [textwrap.fill(first, 88), "", textwrap.fill(about, 88), ""]
    for i, (unit, facts, _, keys) in enumerate(units, start=1):
        lines.append(textwrap.fill(f"Unit {i}: {_facts_text(target, facts)}.", 88,
                                   subsequent_indent="    "))  # fmt: skip
        for key in keys:
            lines.append(f"  path {key!r}:")
            lines += [f"    {c}" for c in explain(unit.analysis, key) or ["straight line"]]
    for _, _, unit, _, _, adjoints in callees:
        wrt = ", ".join(unit.wrt) or "nothing"
        lines.append(textwrap.fill(f"Called: {unit.label}, with respect to {wrt}.", 88,
                                   subsequent_indent="    "))  # fmt: skip
        for key, wanted, _ in adjoints:
            alone = "" if wanted is None else f" (the gradients of {', '.join(wanted)} alone)"
            lines.append(f"  path {key!r}{alone}:")
            lines += [f"    {c}" for c in explain(unit.analysis, key) or ["straight line"]]
    text = "\n".join(lines).replace("\\", "\\\\").replace('"""', '\\"""')  # user lines
    return f'"""{text}\n"""'
