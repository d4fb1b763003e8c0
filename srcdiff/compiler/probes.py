"""Probes for the diagnostics (``sd.explain``, ``sd.check_grad``): a generated function's
source parsed again with calls that hand the values it computes to a recorder. The probed
function is other code than the one gradients run (built only when a diagnostic asks), so
probes cost nothing otherwise.

After each assignment to a name, ``name = probe(text_line, user_line, "name", name)``:
the probe sees the value and returns the one to go on with (``sd.check_grad`` returns it
moved a little, to take finite differences of what follows). The gradients of an adjoint
are probed where it is built (``AdjointBuilder.probe``), where each is known whole.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

LINE = re.compile(r"#\s*line (\d+)\b")
BOOKKEEPING = ("_saved", "_path", "_loop", "_s", "_try", "_at", "rt", "xp")  # srcdiff's own names


def user_lines(text: str, first: int) -> list[int | None]:
    """For each line of generated ``text``, the user line its code comes from: the one
    named by the nearest ``# line N`` comment above it in its block or an enclosing one
    (``first``, the ``def`` line's, before any)."""
    found: list[int | None] = []
    current: dict[int, int] = {}  # indentation -> user line of the block's last comment
    for raw in text.splitlines():
        stripped = raw.lstrip()
        depth = len(raw) - len(stripped)
        if not stripped:
            found.append(None)
            continue
        for d in [d for d in current if d > depth]:
            del current[d]  # a deeper block ended
        match = LINE.match(stripped)
        if match:
            current[depth] = int(match.group(1))
        enclosing = [d for d in current if d <= depth]
        found.append(current[max(enclosing)] if enclosing else first)
    return found


def _probe_call(probe: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(func=ast.Name(id=probe, ctx=ast.Load()), args=args, keywords=[])


def _names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _names(e)]
    return []


def _bodies(node: ast.AST) -> list[str]:
    return [f for f in ("body", "orelse", "finalbody") if isinstance(getattr(node, f, None), list)]


def probe_after(
    text: str,
    lines: list[int | None],
    probe: str,
    wanted: Callable[[str], bool],
    before: str | None = None,
) -> ast.Module:
    """``text`` parsed, each assignment to a name ``wanted`` accepts followed by
    ``name = probe(text_line, user_line, "name", name)``; with ``before``, an assignment
    to one name is also preceded by ``before(text_line, user_line, "name", {operand:
    value})``, the local variables its right-hand side reads."""
    module = ast.parse(text)

    def visit(body: list[ast.stmt], local: set[str]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in body:
            for field in _bodies(s):
                setattr(s, field, visit(getattr(s, field), local))
            for handler in getattr(s, "handlers", ()):
                handler.body = visit(handler.body, local)
            if not isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                out.append(s)
                continue
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            where = [ast.Constant(s.lineno), ast.Constant(lines[s.lineno - 1])]
            if before is not None and len(targets) == 1 and isinstance(targets[0], ast.Name):
                read = sorted({n.id for n in ast.walk(s.value) if isinstance(n, ast.Name)} & local)
                operands = ast.Dict(
                    keys=[ast.Constant(n) for n in read],
                    values=[ast.Name(id=n, ctx=ast.Load()) for n in read],
                )
                seen = _probe_call(before, [*where, ast.Constant(targets[0].id), operands])
                out.append(ast.Expr(value=seen))
            out.append(s)
            for n in (n for t in targets for n in _names(t) if wanted(n)):
                value = ast.Name(id=n, ctx=ast.Load())
                call = _probe_call(probe, [*where, ast.Constant(n), value])
                out.append(ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())], value=call))
        return out

    for fn in module.body:
        if isinstance(fn, ast.FunctionDef):
            local = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
            local |= {
                n.id
                for n in ast.walk(fn)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            fn.body = visit(fn.body, {n for n in local if user_assignment(n)})
    return module


def user_assignment(name: str) -> bool:
    """A name of the user's or a temporary (not srcdiff's bookkeeping, not a gradient)."""
    return not name.startswith(BOOKKEEPING) and not name.startswith("d_")


def gradient_assignment(name: str) -> bool:
    return name.startswith("d_")
