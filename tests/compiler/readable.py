"""Mechanical checks that generated source is written for people.

``problems(text, kind)`` reads one module ``sd.source`` gave (``kind`` is ``"grad"`` for a
primal and its adjoint, ``"tangent"`` for forward mode) and lists what a reader should
not find there:

- an import nothing uses;
- in an adjoint or a tangent function, a name assigned where no later statement reads it
  (a dead store; for a tangent, only of the tangents and other names forward mode adds,
  since it runs the user's statements, normalized, as they are);
- in a primal, a value saved inside a loop that the loop does not change (it is the same
  at every iteration: one save before the loop does);
- in a primal, a name saved twice with no assignment to it in between;
- a statement of a generated function with no ``# line N:`` (or ``# file.py:N:``)
  comment before it, or such a comment naming a line the user's file does not have.
"""

from __future__ import annotations

import ast
import linecache
import re

LINE = re.compile(r"^\s*# (?:line (\d+)|(\S+\.py):(\d+)):")
MADE = re.compile(r"^(d_|_|kept\d)")  # what forward mode adds to the user's statements
HEADER_FILE = re.compile(r"^# (?:srcdiff|called): .*?\(([^()]+):\d+\)")
SAVED = re.compile(r"^_(saved|s\d+)$")


def _stored(target: ast.expr) -> list[str]:
    """The plain names an assignment target binds."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _stored(e)]
    if isinstance(target, ast.Starred):
        return _stored(target.value)
    return []


def _loaded(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _reads_of_target(target: ast.expr) -> set[str]:
    """Names a target reads (``d[i] = v`` reads ``d`` and ``i``)."""
    return _loaded(target)


class _Liveness:
    """Backward liveness over structured Python (if, for, while, break, continue,
    return, try, with), collecting the assignments whose names are dead after them."""

    def __init__(self) -> None:
        self.dead: list[tuple[int, str]] = []
        self.loops: list[tuple[set[str], set[str]]] = []  # (live at the head, after it)
        self.reporting = True
        self.raising: list[set[str]] = []  # live in the handlers of the enclosing try

    def block(self, body: list[ast.stmt], live: set[str]) -> set[str]:
        for s in reversed(body):
            live = self.stmt(s, live | (self.raising[-1] if self.raising else set()))
        return live

    def stmt(self, s: ast.stmt, live: set[str]) -> set[str]:
        if isinstance(s, ast.Return):
            return _loaded(s.value) if s.value is not None else set()
        if isinstance(s, ast.Raise):
            return _loaded(s)
        if isinstance(s, ast.Break):
            return set(self.loops[-1][1]) if self.loops else set(live)
        if isinstance(s, ast.Continue):
            return set(self.loops[-1][0]) if self.loops else set(live)
        if isinstance(s, ast.If):
            return _loaded(s.test) | self.block(s.body, live) | self.block(s.orelse, live)
        if isinstance(s, (ast.For, ast.While)):
            return self.loop(s, live)
        if isinstance(s, ast.With):
            return self.block(s.body, live) | {n for i in s.items for n in _loaded(i)}
        if isinstance(s, ast.Try):
            inner = self.block(s.finalbody, live)
            after = self.block(s.orelse, inner)
            handlers: set[str] = set()
            for h in s.handlers:
                handlers |= self.block(h.body, inner)
            self.raising.append(handlers)  # (any statement of the body may go there)
            body = self.block(s.body, after | handlers)
            self.raising.pop()
            return body | handlers
        if isinstance(s, (ast.Assign, ast.AnnAssign)):
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            bound = [n for t in targets for n in _stored(t)]
            if self.reporting:
                for n in bound:
                    if n not in live and n != "_":
                        self.dead.append((s.lineno, n))
            reads = _loaded(s.value) if s.value is not None else set()
            for t in targets:
                reads |= _reads_of_target(t)
            return (live - set(bound)) | reads
        if isinstance(s, ast.AugAssign):
            return live | _loaded(s) | set(_stored(s.target))
        if isinstance(s, (ast.FunctionDef, ast.ClassDef)):
            return live | _loaded(s)
        return live | _loaded(s)

    def loop(self, s: ast.For | ast.While, after: set[str]) -> set[str]:
        head_extra = _loaded(s.iter) if isinstance(s, ast.For) else _loaded(s.test)
        after = after | self.block(s.orelse, after) if s.orelse else after
        reporting, self.reporting = self.reporting, False
        head = set(after) | head_extra
        while True:  # live at the head of the loop, to a fixed point
            self.loops.append((head, after))
            inner = self.block(s.body, head)
            self.loops.pop()
            if isinstance(s, ast.For):
                inner = inner - set(_stored(s.target))
            new = head | inner | head_extra
            if new == head:
                break
            head = new
        self.reporting = reporting
        self.loops.append((head, after))
        self.block(s.body, head)
        self.loops.pop()
        return head


def _assigned_in(body: list[ast.stmt]) -> set[str]:
    """Names a block binds or changes in place (a subscript or attribute stored into, an
    augmented assignment, a loop's target, the object a method is called on)."""
    found: set[str] = set()
    for node in (n for s in body for n in ast.walk(s)):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                found |= set(_stored(t))
                for sub in ast.walk(t):
                    if isinstance(sub, (ast.Subscript, ast.Attribute)):
                        found |= _loaded(sub.value)
        elif isinstance(node, (ast.For, ast.comprehension)):
            found |= set(_stored(node.target))
        elif isinstance(node, ast.NamedExpr):
            found.add(node.target.id)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                found.add(node.func.value.id)  # (a method may change its object)
            for a in node.args:  # (and a call the arrays it is given)
                if isinstance(a, ast.Name):
                    found.add(a.id)
    return found


def _saved_names(s: ast.stmt) -> list[str]:
    """The names ``_saved[k] = v`` or ``_s1[k] = (a, b)`` saves."""
    if not isinstance(s, ast.Assign) or len(s.targets) != 1:
        return []
    t = s.targets[0]
    if not (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)):
        return []
    if not SAVED.match(t.value.id):
        return []
    v = s.value
    elts = v.elts if isinstance(v, ast.Tuple) else [v]
    return [e.id for e in elts if isinstance(e, ast.Name)]


class _Saves:
    """Saves in primal functions: of what a loop does not change, and twice. A save is
    judged against those that surely ran before it, in the same record (a loop's steps
    save into records of their own), with no assignment to the name in between."""

    def __init__(self) -> None:
        self.invariant: list[tuple[int, str]] = []
        self.twice: list[tuple[int, str]] = []

    def block(self, body: list[ast.stmt], saved: dict[str, int], loops: list[set[str]]
              ) -> dict[str, int]:  # fmt: skip
        for s in body:
            saved = self.stmt(s, saved, loops)
        return saved

    def stmt(self, s: ast.stmt, saved: dict[str, int], loops: list[set[str]]
             ) -> dict[str, int]:  # fmt: skip
        names = _saved_names(s)
        for n in names:
            if loops and n not in loops[-1]:
                self.invariant.append((s.lineno, n))
            if n in saved:
                self.twice.append((s.lineno, n))
        if names:
            return {**saved, **dict.fromkeys(names, s.lineno)}
        if isinstance(s, ast.If):
            body = self.block(s.body, dict(saved), loops)
            orelse = self.block(s.orelse, dict(saved), loops)
            return {n: k for n, k in body.items() if orelse.get(n) == k}
        changed = _assigned_in([s])
        if isinstance(s, (ast.For, ast.While)):
            self.block(s.body, {}, [*loops, changed])
        return {n: k for n, k in saved.items() if n not in changed}


def _user_line_ok(path: str | None, number: int) -> bool:
    if path is None or path.startswith("<"):  # (source srcdiff made: a class's __init__)
        return True
    return bool(linecache.getline(path, number).strip()) or not linecache.getlines(path)


def problems(text: str, kind: str = "grad") -> list[str]:
    """What ``text`` (a module of generated source) should not hold; ``[]`` if clean."""
    tree = ast.parse(text)
    lines = text.splitlines()
    found: list[str] = []
    imported = {
        alias.asname or alias.name.split(".")[0]: node.lineno
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    found += [f"unused import {n!r}" for n in sorted(set(imported) - used)]

    user_file = None
    for line in lines:
        m = HEADER_FILE.match(line)
        if m:
            user_file = m.group(1)
        # (a callee's header names its own file: the comments after it refer to that)
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        where = f"{fn.name}"
        primal = fn.name.endswith("_primal")
        if not primal:
            live = _Liveness()
            live.block(fn.body, set())
            for lineno, n in live.dead:
                if kind == "tangent" and not MADE.match(n):
                    continue
                found.append(f"{where}: {n!r} assigned on line {lineno} is never read")
        else:
            saves = _Saves()
            saves.block(fn.body, {}, [])
            found += [
                f"{where}: {n!r} saved on line {lineno} inside a loop that does not change it"
                for lineno, n in saves.invariant
            ]
            found += [
                f"{where}: {n!r} saved again on line {lineno} with no assignment in between"
                for lineno, n in saves.twice
            ]
        # every statement after a comment naming a line of the user's source
        first = fn.body[0].lineno if fn.body else fn.lineno
        start = fn.lineno
        head = lines[start : first - 1]
        if not any(LINE.match(line) for line in head):
            found.append(f"{where}: its first statement (line {first}) follows no '# line N:'")
        header = next(
            (lines[i] for i in range(fn.lineno - 2, -1, -1) if HEADER_FILE.match(lines[i])),
            None,
        )
        path = HEADER_FILE.match(header).group(1) if header else user_file
        for i in range(start, (fn.end_lineno or start)):
            m = LINE.match(lines[i])
            if m:
                number = int(m.group(1) or m.group(3))
                file = path if m.group(1) else m.group(2)
                if file and not _user_line_ok(_resolve(file), number):
                    found.append(f"{where}: '{lines[i].strip()}' names no line of {file}")
    return found


def _resolve(file: str) -> str | None:
    """A path a comment names, as linecache finds it (relative to the repository or to
    the package, or absolute)."""
    import os

    import srcdiff

    if file.startswith("<"):
        return file
    if os.path.isabs(file) and os.path.exists(file):
        return file
    root = os.path.dirname(os.path.dirname(srcdiff.__file__))
    for base in (root, os.path.dirname(srcdiff.__file__), os.getcwd()):
        candidate = os.path.join(base, file)
        if os.path.exists(candidate):
            return candidate
    return None
