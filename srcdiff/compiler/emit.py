"""Stage 7: generated gast to Python source, with a ``# line N: <user statement>``
comment over each block (``# file:N: <statement>`` over code inlined from another
function), and the map from generated lines back to the user's lines."""

from __future__ import annotations

import ast
from typing import Any

import gast

from .ir import facts
from .parse import Origin, shown_file

INDENT = "    "


class Emitter:
    def __init__(self, lines: dict[int, str], label: str | None = "line",
                 origins: dict[int, Origin] | None = None):  # fmt: skip
        self.user_lines = lines
        self.origins = origins or {}
        self.label = label
        self.text: list[str] = []
        self.linemap: list[int | None] = []

    def line(self, text: str, depth: int, user_line: int | None) -> None:
        self.text.append(INDENT * depth + text)
        self.linemap.append(user_line)

    def function(self, fn: gast.FunctionDef) -> None:
        args = ast.unparse(to_ast(fn.args))
        self.line(f"def {fn.name}({args}):", 0, fn.lineno)
        self.block(fn.body, 1, None, fn.lineno if self.label is not None else None)

    def block(self, body: list[gast.stmt], depth: int, current: int | None,
              start: int | None = None) -> None:  # fmt: skip
        """``start``: the line a function's first statements of no line of their own
        come from (its ``def``: an adjoint that is a bare ``return``)."""
        if all(facts(s).comment for s in body):
            body = body + [gast.Pass()]
        for s in body:
            line = getattr(s, "lineno", None)
            if line is None and current is None:
                line = start
            if facts(s).comment:
                self.line(f"# {s.value.value}", depth, line)
                current = line
                continue
            if line is not None and line != current:
                source = self.user_lines.get(line, "").strip()
                origin = self.origins.get(line)
                if origin is not None:
                    where = f"{shown_file(origin.filename)}:{origin.line}"
                    self.line(f"# {where}: {source}" if source else f"# {where}", depth, line)
                elif self.label is None:
                    self.line(f"# {source}", depth, line)
                else:
                    self.line(
                        f"# {self.label} {line}: {source}" if source else f"# {self.label} {line}",
                        depth,
                        line,
                    )
                current = line
            self.statement(s, depth, line)

    def statement(self, s: gast.stmt, depth: int, line: int | None) -> None:
        if isinstance(s, gast.If):
            self.line(f"if {expr(s.test)}:", depth, line)
            self.block(s.body, depth + 1, line)
            orelse = s.orelse
            while (
                len(orelse) == 1 and isinstance(orelse[0], gast.If) and not facts(orelse[0]).comment
            ):
                self.line(f"elif {expr(orelse[0].test)}:", depth, line)
                self.block(orelse[0].body, depth + 1, line)
                orelse = orelse[0].orelse
            if orelse:
                self.line("else:", depth, line)
                self.block(orelse, depth + 1, line)
        elif isinstance(s, gast.For):
            self.line(f"for {expr(s.target)} in {expr(s.iter)}:", depth, line)
            self.block(s.body, depth + 1, line)
        elif isinstance(s, gast.While):
            self.line(f"while {expr(s.test)}:", depth, line)
            self.block(s.body, depth + 1, line)
        elif isinstance(s, gast.Try):
            self.line("try:", depth, line)
            self.block(s.body, depth + 1, line)
            for h in s.handlers:
                clause = "except" if h.type is None else f"except {expr_in_parentheses(h.type)}"
                named = f" as {h.name.id}" if h.name is not None else ""
                where = getattr(h, "lineno", line)
                self.line(f"{clause}{named}:", depth, where)
                self.block(h.body, depth + 1, where)
            for title, block in (("else", s.orelse), ("finally", s.finalbody)):
                if block:
                    self.line(f"{title}:", depth, line)
                    self.block(block, depth + 1, line)
        elif (
            isinstance(s, gast.Assign)
            and len(s.targets) == 1
            and isinstance(s.targets[0], gast.Tuple)
        ):  # ``a, b = ...`` on every Python
            value = ast.unparse(to_ast(s.value))
            self.line(f"{expr(s.targets[0])} = {value}", depth, line)
        else:
            node = to_ast(s)
            for text in ast.unparse(node).splitlines():
                self.line(text, depth, line)


def to_ast(node: Any) -> Any:
    """``node``, a gast tree (or a list of them), as Python's ``ast``, for ``ast.unparse``:
    what ``gast.gast_to_ast`` gives on Python 3.10 and later, in one plain recursion
    (its visitor's dispatch cost a tenth of a compilation). Nodes differ in three
    places: a parameter is an ``ast.arg``, an ``except ... as`` names a string, and a
    gast field Python's node lacks is left out."""
    if type(node) is list:
        return [to_ast(x) for x in node]
    if not isinstance(node, gast.AST):
        return node
    cls = type(node)
    if cls is gast.arguments:
        new = ast.arguments()
        for f in ast.arguments._fields:
            value = getattr(node, f, None)
            if f in ("defaults", "kw_defaults"):
                setattr(new, f, to_ast(value))
            else:
                setattr(new, f, [_arg(a) for a in value] if type(value) is list else _arg(value))
        return new
    target = _AST_CLASSES.get(cls)
    if target is None:
        target = _AST_CLASSES[cls] = getattr(ast, cls.__name__)
    if not target._fields and not target._attributes:  # a context or an operator: one
        shared = _LEAVES.get(target)  # instance serves them all, as in ast.parse's trees
        if shared is None:
            shared = _LEAVES[target] = target()
        return shared
    new = target.__new__(target)
    for f in target._fields:
        value = getattr(node, f, None)
        setattr(
            new, f, to_ast(value) if type(value) is list or isinstance(value, gast.AST) else value
        )
    for a in target._attributes:  # (the unparser reads a statement's line)
        setattr(new, a, getattr(node, a, None))
    if cls is gast.ExceptHandler and node.name is not None:
        new.name = node.name.id
    return new


def _arg(a: gast.Name | None) -> ast.arg | None:
    """A parameter (a gast ``Name``) as an ``ast.arg``."""
    if a is None:
        return None
    new = ast.arg(arg=a.id)
    new.annotation = to_ast(a.annotation)
    new.type_comment = a.type_comment
    return new


_AST_CLASSES: dict[type, type] = {}
_LEAVES: dict[type, ast.AST] = {}


def expr_in_parentheses(e: gast.expr) -> str:
    """``e`` as an except clause takes it: a tuple in parentheses."""
    text = ast.unparse(to_ast(e))
    return f"({text})" if isinstance(e, gast.Tuple) and not text.startswith("(") else text


def expr(e: gast.expr) -> str:
    text = ast.unparse(to_ast(e))
    if isinstance(e, gast.Tuple) and text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return text


def emit(
    functions: list[gast.FunctionDef],
    lines: dict[int, str],
    header: list[str],
    label: str | None = "line",
    origins: dict[int, Origin] | None = None,
) -> tuple[str, list[int | None]]:
    """Source text of ``functions`` under ``header`` lines, and for each line of it the
    user line it comes from (None for lines of srcdiff's own)."""
    e = Emitter(lines, label, origins)
    for h in header:
        e.line(h, 0, None)
    for i, fn in enumerate(functions):
        if i or header:
            e.line("", 0, None)
            e.line("", 0, None)
        e.function(fn)
    return "\n".join(e.text) + "\n", e.linemap
