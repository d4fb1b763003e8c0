"""Finiteness checks in an adjoint (``sd.grad(f, check_finite=True)``,
``sd.detect_nonfinite()``): after each statement that assigns a gradient, a call of
``rt.check_finite`` naming the user's line, the statement and the values it read. It
makes other source, so that adjoints without checks cost nothing."""

from __future__ import annotations

import ast
import copy

import gast

from .normalize import const, name, walk
from .parse import Listing
from .trace import attr, call

SKIPPED = {"rt", "xp", "np", "_saved", "_numpy"}  # modules and the saved values


def insert_checks(fn: gast.FunctionDef, source: Listing) -> None:
    """Put a check after each gradient assignment of the adjoint ``fn`` (of the program
    whose lines ``source`` lists), in place."""
    fn.body = _checked(fn.body, source)


def _checked(body: list[gast.stmt], source: Listing) -> list[gast.stmt]:
    out: list[gast.stmt] = []
    for s in body:
        for field in ("body", "orelse"):
            if isinstance(getattr(s, field, None), list) and not isinstance(s, gast.FunctionDef):
                setattr(s, field, _checked(getattr(s, field), source))
        out.append(s)
        targets = _gradients(s)
        if not targets or getattr(s, "lineno", None) is None:
            continue
        shown = ast.unparse(gast.gast_to_ast(copy.deepcopy(s))).strip()
        read = _read(s)
        operands = gast.Dict(keys=[const(n) for n in read], values=[name(n) for n in read])
        filename, line, text = source.where(s.lineno)
        parts = [filename, line, shown] + ([] if source.in_file else [text])  # (recorded)
        where = gast.Tuple(elts=[const(p) for p in parts], ctx=gast.Load())
        for target in targets:
            check = gast.Expr(value=call(attr("rt", "check_finite"), name(target), where, operands))
            check.lineno = s.lineno
            out.append(check)
    return out


def _gradients(s: gast.stmt) -> list[str]:
    """The gradient names ``s`` assigns (``d_x = ...``, ``d_x += ...``)."""
    if isinstance(s, gast.AugAssign):
        targets = [s.target]
    elif isinstance(s, gast.Assign):
        targets = s.targets
    else:
        return []
    names = [n.id for t in targets for n in walk(t) if isinstance(n, gast.Name)]
    return [n for n in names if n.startswith("d_")]


def _read(s: gast.stmt) -> list[str]:
    """The names ``s`` reads (its operands), in order, once each."""
    value = s.value
    found = [n.id for n in walk(value) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)]
    if isinstance(s, gast.AugAssign):
        found.insert(0, s.target.id)
    return [n for n in dict.fromkeys(found) if n not in SKIPPED]
