"""Stage 1b: refuse in-place updates that another name would see.

Compiled code makes an in-place update (``h[i] = v``, ``h += v``, ``xs.append(v)``) build
a new value, so that taking a gradient never writes into the caller's arrays. That is
Python's meaning only while no other name holds the same object: after ``g = h`` (or
``for g in hs``), ``h[0] = 1`` changes what ``g`` reads, and after ``hs = [h]`` what
``hs[0]`` reads. Such a function raises ``CompileError`` instead of computing with the
old value.
"""

from __future__ import annotations

from collections.abc import Iterator

import gast

from .parse import Parsed

MUTATING_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "sort",
                    "reverse", "update", "setdefault", "popitem", "fill", "resize"}


def check_aliases(parsed: Parsed) -> None:
    """Raise ``CompileError`` at the first in-place update of a name whose object another
    name, or a container, read later (or anywhere in the same loop) also holds."""
    flat = list(_statements(parsed.tree.body, ()))
    group = _alias_groups(s for s, _ in flat)
    holders = _holders(s for s, _ in flat)
    for i, (s, loops) in enumerate(flat):
        for target in _updated(s):
            names = group.get(target, {target})
            containers = _closure(names, holders, group)
            for other in sorted((names | containers) - {target}):
                later = any(other in _reads(t) for t, t_loops in flat[i + 1:]) or any(
                    other in _reads(t) for t, t_loops in flat
                    if loops and set(loops) & set(t_loops))
                if not later:
                    continue
                if other in containers:
                    raise parsed.error(
                        f"in-place update of `{target}`, which the container `{other}` "
                        "also holds", s,
                        f"srcdiff gives an in-place update a new value, so `{other}` would "
                        f"keep the old one: put a copy in it (`{target}.copy()`), or "
                        f"update the entry through `{other}`")
                raise parsed.error(
                    f"in-place update of `{target}`, which `{other}` also holds", s,
                    f"srcdiff gives an in-place update a new value, so `{other}` would "
                    f"keep the old one: make one of them a copy "
                    f"(`{other} = {target}.copy()`, or list(...) for a list), or use "
                    f"one name for both")


def _statements(body: list[gast.stmt], loops: tuple[int, ...]
                ) -> Iterator[tuple[gast.stmt, tuple[int, ...]]]:
    """Every statement in order, with the loops (by id) around it. A ``with sd.no_grad():``
    block is one statement: it runs as written, its updates in place."""
    for s in body:
        yield s, loops
        if isinstance(s, gast.With):
            continue
        inner = loops + (id(s),) if isinstance(s, (gast.For, gast.While)) else loops
        for field in ("body", "orelse"):
            yield from _statements(getattr(s, field, None) or [], inner)


def _alias_groups(statements: Iterator[gast.stmt]) -> dict[str, set[str]]:
    """Names that may hold one object: ``a = b``, and ``for a in b`` (an entry of b)."""
    group: dict[str, set[str]] = {}
    for s in statements:
        if isinstance(s, gast.Assign) and isinstance(s.value, gast.Name):
            pairs = [(t.id, s.value.id) for t in s.targets if isinstance(t, gast.Name)]
        elif isinstance(s, gast.For) and isinstance(s.target, gast.Name) and \
                isinstance(s.iter, gast.Name):
            pairs = [(s.target.id, s.iter.id)]
        else:
            continue
        for a, b in pairs:
            merged = group.get(a, {a}) | group.get(b, {b})
            for n in merged:
                group[n] = merged
    return group


def _holders(statements: Iterator[gast.stmt]) -> dict[str, set[str]]:
    """The containers that may hold each name's object: ``hs = [h]`` (any display in the
    value, ``hs + [h]`` too), ``hs[i] = h``, ``hs.append(h)`` and the like."""
    found: dict[str, set[str]] = {}
    for s in statements:
        pairs: list[tuple[gast.expr, gast.expr]] = []
        if isinstance(s, gast.Assign):
            for t in s.targets:
                if isinstance(t, gast.Name):
                    pairs += [(t, e) for d in gast.walk(s.value) for e in _entries(d)]
                elif isinstance(t, gast.Subscript):
                    pairs.append((_root(t), s.value))
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
                isinstance(s.value.func, gast.Attribute) and \
                s.value.func.attr in MUTATING_METHODS:
            owner = _root(s.value.func.value)
            for a in s.value.args + [k.value for k in s.value.keywords]:
                pairs += [(owner, a)] + [(owner, e) for d in gast.walk(a) for e in _entries(d)]
        for container, entry in pairs:
            if isinstance(container, gast.Name) and isinstance(entry, gast.Name):
                found.setdefault(entry.id, set()).add(container.id)
    return found


def _entries(node: gast.AST) -> list[gast.expr]:
    if isinstance(node, (gast.List, gast.Tuple, gast.Set)):
        return list(node.elts)
    if isinstance(node, gast.Dict):
        return list(node.values)
    return []


def _root(e: gast.expr) -> gast.expr:
    """``hs`` of ``hs[i][j]``."""
    while isinstance(e, (gast.Subscript, gast.Attribute)):
        e = e.value
    return e


def _closure(names: set[str], holders: dict[str, set[str]],
             group: dict[str, set[str]]) -> set[str]:
    """Every container that may hold the object of ``names``, and the names of those
    containers' objects, through containers of containers."""
    out: set[str] = set()
    todo = list(names)
    while todo:
        for c in holders.get(todo.pop(), ()):
            for alias in group.get(c, {c}):
                if alias not in out:
                    out.add(alias)
                    todo.append(alias)
    return out


def _updated(s: gast.stmt) -> list[str]:
    """The names whose object ``s`` changes in place."""
    if isinstance(s, gast.AugAssign):
        t = s.target
        base = t if isinstance(t, gast.Name) else getattr(t, "value", None)
        return [base.id] if isinstance(base, gast.Name) else []
    if isinstance(s, gast.Assign):
        return [t.value.id for t in s.targets
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name)]
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
        f = s.value.func
        if isinstance(f, gast.Attribute) and f.attr in MUTATING_METHODS and \
                isinstance(f.value, gast.Name):
            return [f.value.id]
    return []


def _reads(s: gast.stmt) -> set[str]:
    """Names ``s`` itself reads (not those of statements nested in it, but all those of a
    ``with`` block)."""
    parts: list[gast.AST] = [s]
    if isinstance(s, (gast.For, gast.While, gast.If)):
        parts = [s.iter if isinstance(s, gast.For) else s.test]
    return {n.id for p in parts for n in gast.walk(p)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
