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
from .normalize import clone, local_names
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


class _ToBackend(gast.NodeTransformer):
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


class _Lean(_ToBackend):
    """Calls of ``np.sum`` and ``np.mean`` (see ``LEAN``) as calls of ``rt.np_sum``,
    ``rt.np_mean``; the functions as values (``red is np.mean``) stay NumPy's."""

    def replace(self, node: gast.expr) -> gast.expr | None:
        return None

    def visit_Call(self, node: gast.Call) -> gast.Call:
        self.generic_visit(node)
        name = numpy_name(self.resolve(node.func))
        if name in LEAN:
            rt = gast.Name(id="rt", ctx=gast.Load(), annotation=None, type_comment=None)
            node.func = gast.Attribute(value=rt, attr=LEAN[name], ctx=gast.Load())
        return node


def to_backend(tree: gast.FunctionDef, parsed: Parsed, xp: types.ModuleType) -> gast.FunctionDef:
    """``tree`` (a generated function) with its NumPy references made ``xp``'s; for
    NumPy, with NumPy's slow wrappers made srcdiff's lean ones (``LEAN``)."""
    if xp is np:
        named = (getattr(n, "attr", None) or getattr(n, "id", None) for n in gast.walk(tree))
        if LEAN.keys().isdisjoint(named):
            return tree
        tree = clone(tree)  # (its statements may be the normalized function's own)
        return _Lean(parsed, local_names(tree), xp).visit(tree)
    tree = copy.deepcopy(tree)  # its statements may be the normalized function's own
    return _ToBackend(parsed, local_names(tree), xp).visit(tree)
