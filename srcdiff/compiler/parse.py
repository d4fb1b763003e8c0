"""Stage 1: a function's source, parsed with gast, and the names it can see.

Invariant: ``Parsed.tree`` is the gast ``FunctionDef`` of the function, with line numbers
that are line numbers of ``Parsed.filename``.
"""

from __future__ import annotations

import builtins
import copy
import inspect
import textwrap
import weakref
from collections.abc import Container
from types import FunctionType
from typing import Any

import gast

from ..errors import CompileError


class Parsed:
    """A function's parsed source. It holds the function weakly: compiled code lives as
    long as the function does (a closure made per training step is freed with its
    compiled code)."""

    def __init__(self, fn: FunctionType | None, tree: gast.FunctionDef, filename: str,
                 lines: dict[int, str]):  # fmt: skip
        self._fn = (lambda: None) if fn is None else weakref.ref(fn)
        self.tree = tree
        self.filename = filename
        self.lines = lines

    @property
    def fn(self) -> FunctionType:
        return self._fn()

    @property
    def name(self) -> str:
        return self.fn.__qualname__

    def source_line(self, lineno: int | None) -> str:
        return self.lines.get(lineno, "").strip() if lineno else ""

    def error(self, what: str, node: Any = None, hint: str = "") -> CompileError:
        """A CompileError located at ``node`` (or at the function)."""
        lineno = getattr(node, "lineno", None) or self.tree.lineno
        return CompileError(
            what,
            function=self.name,
            filename=self.filename,
            lineno=lineno,
            source_line=self.source_line(lineno),
            hint=hint,
        )

    def resolve(self, name: str) -> tuple[bool, Any]:
        """The object a free name refers to now: closure cell, global, then builtin."""
        code = self.fn.__code__
        if self.fn.__closure__ and name in code.co_freevars:
            cell = self.fn.__closure__[code.co_freevars.index(name)]
            try:
                return True, cell.cell_contents
            except ValueError:
                return False, None
        if name in self.fn.__globals__:
            return True, self.fn.__globals__[name]
        if hasattr(builtins, name):
            return True, getattr(builtins, name)
        return False, None

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
        found, obj = (True, roots[e.id]) if roots and e.id in roots else self.resolve(e.id)
        for attr in reversed(path):
            if not found or not hasattr(obj, attr):
                return False, None
            obj = getattr(obj, attr)
        return found, obj


_CACHE: dict[Any, Parsed] = {}


def parse(fn: Any) -> Parsed:
    """Parse ``fn`` (cached per code object); its own source, never a function it wraps."""
    if not isinstance(fn, FunctionType):
        raise TypeError(f"srcdiff compiles Python functions, not {type(fn).__name__}")
    key = (fn.__code__, id(fn.__globals__))
    hit = _CACHE.get(key)
    if hit is not None and hit.fn is fn:
        return hit
    try:
        lines, first = inspect.getsourcelines(fn.__code__)  # its own, not what it wraps
    except (OSError, TypeError) as exc:
        raise CompileError(
            f"no Python source for {fn.__qualname__}",
            function=fn.__qualname__,
            filename=fn.__code__.co_filename,
            hint="define it in a file, or register a rule with sd.register_vjp",
        ) from exc
    if fn.__name__ == "<lambda>":
        raise CompileError(
            "unsupported syntax: lambda",
            function=fn.__qualname__,
            filename=fn.__code__.co_filename,
            lineno=first,
            source_line=lines[0],
            hint="define the function with def",
        )
    source = textwrap.dedent("".join(lines))
    module = gast.parse(source)
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
    gast.increment_lineno(module, first - 1)
    tree.decorator_list = []
    numbered = {first + i: line.rstrip("\n") for i, line in enumerate(lines)}
    parsed = Parsed(fn, tree, fn.__code__.co_filename, numbered)
    _CACHE[key] = parsed
    return parsed


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
