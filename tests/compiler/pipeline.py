"""Running the compiler's stages one at a time, for the per-stage tests."""

from __future__ import annotations

import ast
from collections.abc import Callable
from types import SimpleNamespace

import gast
import numpy as np

from srcdiff.compiler.analyse import analyse
from srcdiff.compiler.cache import RESERVED, Unit, unit_for
from srcdiff.compiler.normalize import Names, all_names, normalize, walk_statements
from srcdiff.compiler.parse import parse


def normalized(fn: Callable) -> gast.FunctionDef:
    parsed = parse(fn)
    return normalize(parsed, Names(all_names(parsed.tree) | RESERVED))


def analysed(fn: Callable, *active: str) -> SimpleNamespace:
    """The normalized function annotated by ``analyse``, with its Analysis."""
    parsed = parse(fn)
    tree = normalize(parsed, Names(all_names(parsed.tree) | RESERVED))
    return SimpleNamespace(tree=tree, analysis=analyse(parsed, tree, set(active)))


def code(tree: gast.AST) -> str:
    """Plain source of a gast tree (no comments)."""
    return ast.unparse(gast.gast_to_ast(tree))


def body_lines(tree: gast.FunctionDef) -> list[str]:
    """The statements of a function's body as source lines, without the ``def``."""
    return [line.strip() for line in code(tree).splitlines()[1:]]


def statements(tree: gast.FunctionDef) -> list[gast.stmt]:
    return list(walk_statements(tree.body))


def unit(fn: Callable, *active: str, xp=np) -> Unit:
    """The compiled Unit of ``fn`` differentiating the array arguments ``active``."""
    return unit_for(fn, tuple(active), dict.fromkeys(active, "array"), xp)


def run_primal(u: Unit, *args) -> tuple:
    """Run a Unit's traced primal: its value, the saved values and the recorded path."""
    saved: dict = {}
    path: list = []
    value = u.primal(saved, path, *args)
    return value, saved, path
