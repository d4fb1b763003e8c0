"""Stage 7: generated gast to Python source, with a ``# line N: <user statement>``
comment over each block (``# file:N: <statement>`` over code inlined from another
function), and the map from generated lines back to the user's lines."""

from __future__ import annotations

import ast

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
        args = ast.unparse(gast.gast_to_ast(fn.args))
        self.line(f"def {fn.name}({args}):", 0, fn.lineno)
        self.block(fn.body, 1, None)

    def block(self, body: list[gast.stmt], depth: int, current: int | None) -> None:
        if all(facts(s).comment for s in body):
            body = body + [gast.Pass()]
        for s in body:
            line = getattr(s, "lineno", None)
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
            value = ast.unparse(gast.gast_to_ast(s.value))
            self.line(f"{expr(s.targets[0])} = {value}", depth, line)
        else:
            node = gast.gast_to_ast(s)
            for text in ast.unparse(node).splitlines():
                self.line(text, depth, line)


def expr_in_parentheses(e: gast.expr) -> str:
    """``e`` as an except clause takes it: a tuple in parentheses."""
    text = ast.unparse(gast.gast_to_ast(e))
    return f"({text})" if isinstance(e, gast.Tuple) and not text.startswith("(") else text


def expr(e: gast.expr) -> str:
    text = ast.unparse(gast.gast_to_ast(e))
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
