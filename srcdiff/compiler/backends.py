"""Generated code on the array module of its inputs.

Users write NumPy: ``np.tanh(x @ w)``, ``np.sum(h, axis=0)``, ``x.astype(np.float32)``.
When a unit is compiled for another array module (CuPy, array-api-strict, ...), every
reference in its generated code to a NumPy function, ufunc or scalar type becomes a
reference to the counterpart in that module: ``np.tanh`` becomes ``xp.tanh``,
``np.arccos`` becomes ``xp.acos`` (the names come from ``srcdiff.backend.counterpart``).
Units compiled for NumPy are left exactly as they are. Constants (``np.pi``) stay.
"""

from __future__ import annotations

import copy
import types
from typing import Any

import gast
import numpy as np

from ..backend import counterpart
from .normalize import Transformer, children, clone_node, local_names, walk
from .parse import Parsed

KEEP = {"rt", "xp", "_unit"}  # names generated code binds itself
# NumPy's own settings, not functions of arrays: kept NumPy's (``with np.errstate(...):``)
NUMPY_SETTINGS = {"errstate", "printoptions", "seterr", "geterr"}


def numpy_name(obj: Any) -> str | None:
    """The name of ``obj`` in the ``numpy`` namespace, when it is a NumPy function,
    ufunc or scalar type found there (``np.abs`` is ``'absolute'``)."""
    if not callable(obj) or isinstance(obj, types.ModuleType):
        return None
    name = getattr(obj, "__name__", None)
    if not isinstance(name, str):
        return None
    try:
        return name if getattr(np, name, None) is obj else None
    except TypeError:  # an object that cannot be compared by identity safely
        return None


class _ToBackend(Transformer):
    def __init__(self, parsed: Parsed, local: set[str], xp: types.ModuleType):
        self.parsed = parsed
        self.local = local
        self.xp = xp
        self.line: int | None = None

    def generic_visit(self, node: gast.AST) -> gast.AST:
        line = getattr(node, "lineno", None)
        if isinstance(node, gast.stmt) and line is not None:
            self.line = line
        return super().generic_visit(node)

    def resolve(self, node: gast.expr) -> Any:
        """The object a load of ``np.x.y`` or ``x`` refers to (None when unknown)."""
        path = []
        e = node
        while isinstance(e, gast.Attribute):
            path.append(e.attr)
            e = e.value
        if not isinstance(e, gast.Name) or e.id in self.local or e.id in KEEP:
            return None
        found, obj = self.parsed.resolve(e.id)
        if not found:
            return None
        for attr in reversed(path):
            obj = getattr(obj, attr, None)
        return obj

    def replace(self, node: gast.expr) -> gast.expr | None:
        if not isinstance(getattr(node, "ctx", None), gast.Load):
            return None
        name = numpy_name(self.resolve(node))
        if name is None or name in NUMPY_SETTINGS:
            return None
        other = counterpart(self.xp, name)
        if other is None:
            where = types.SimpleNamespace(lineno=self.line)
            raise self.parsed.error(
                f"np.{name} has no counterpart in {self.xp.__name__}, the array module of "
                "the arguments",
                where,
                "compute it with functions of the Array API standard, or pass NumPy arrays",
            )
        return gast.Attribute(
            value=gast.Name(id="xp", ctx=gast.Load(), annotation=None, type_comment=None),
            attr=other,
            ctx=gast.Load(),
        )

    def visit_Attribute(self, node: gast.Attribute) -> gast.expr:
        return self.replace(node) or self.generic_visit(node)

    def visit_Name(self, node: gast.Name) -> gast.expr:
        return self.replace(node) or node


# NumPy functions whose Python wrappers cost more than their arithmetic on small arrays,
# and srcdiff's lean equivalents (the same steps, the same bits) generated code calls
LEAN = {"sum": "np_sum", "mean": "np_mean"}


def _lean(tree: gast.FunctionDef, parsed: Parsed) -> gast.FunctionDef:
    """``tree`` with its calls of ``np.sum`` and ``np.mean`` made calls of ``rt.np_sum``
    and ``rt.np_mean`` (``LEAN``); the functions as values (``red is np.mean``) stay.
    Only the nodes above such a call are copied (the others may be shared with the
    normalized function, and copying them all costs a first compile milliseconds)."""
    calls = [n for n in walk(tree) if type(n) is gast.Call and _called_name(n) in LEAN]
    if not calls:
        return tree
    resolver = _ToBackend(parsed, local_names(tree), np)
    found = [(c, LEAN[name]) for c in calls
             if (name := numpy_name(resolver.resolve(c.func))) in LEAN]  # fmt: skip
    if not found:
        return tree
    parents = {id(child): node for node in walk(tree) for child in children(node)}
    path: set[int] = set()
    for call, _ in found:
        node: gast.AST | None = call
        while node is not None and id(node) not in path:
            path.add(id(node))
            node = parents.get(id(node))
    lean = {id(call): helper for call, helper in found}
    return _copy_path(tree, path, lean)


def _called_name(call: gast.Call) -> str | None:
    return getattr(call.func, "attr", None) or getattr(call.func, "id", None)


def _copy_path(node: Any, path: set[int], lean: dict[int, str]) -> Any:
    """``node`` with the nodes in ``path`` copied and each call in ``lean`` calling its
    helper of ``rt``."""
    if isinstance(node, list):
        return [_copy_path(n, path, lean) for n in node]
    if not isinstance(node, gast.AST) or id(node) not in path:
        return node
    new = clone_node(node)
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, (list, gast.AST)):
            setattr(new, field, _copy_path(value, path, lean))
    if id(node) in lean:
        rt = gast.Name(id="rt", ctx=gast.Load(), annotation=None, type_comment=None)
        new.func = gast.Attribute(value=rt, attr=lean[id(node)], ctx=gast.Load())
    return new


def to_backend(tree: gast.FunctionDef, parsed: Parsed, xp: types.ModuleType) -> gast.FunctionDef:
    """``tree`` (a generated function) with its NumPy references made ``xp``'s; for
    NumPy, with NumPy's slow wrappers made srcdiff's lean ones (``LEAN``)."""
    if xp is np:
        return _lean(tree, parsed)
    tree = copy.deepcopy(tree)  # its statements may be the normalized function's own
    return _ToBackend(parsed, local_names(tree), xp).visit(tree)
