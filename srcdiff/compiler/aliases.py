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

MUTATING_METHODS = {
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "clear",
    "sort",
    "reverse",
    "update",
    "setdefault",
    "popitem",
    "fill",
    "resize",
}


def check_aliases(parsed: Parsed) -> None:
    """Raise ``CompileError`` at the first in-place update of a name whose object another
    name, or a container, read later (or anywhere in the same loop) also holds."""
    flat = list(_statements(parsed.tree.body, ()))
    group = _alias_groups(s for s, _ in flat)
    holders = _holders(s for s, _ in flat)
    keys = _entry_keys(s for s, _ in flat)
    held: dict[str, set[str]] = {}  # the inverse of holders: what each container holds
    for entry, containers_of in holders.items():
        for c in containers_of:
            held.setdefault(c, set()).add(entry)
    for i, (s, loops) in enumerate(flat):
        for target, nested, written_key in _updated(s):
            names = group.get(target, {target})
            if nested:  # ``hs[0][1] = v`` changes an entry: what hs holds sees it
                for n in list(names):
                    for entry in held.get(n, ()):
                        names = names | group.get(entry, {entry})
            containers = _closure(names, holders, group)
            for other in sorted((names | containers) - {target}):
                held_key = keys.get((other, target), _ANY)  # other = target[held_key]
                if _ANY not in (held_key, written_key) and held_key != written_key:
                    continue  # params["b"] = v leaves w = params["w"] as it is
                key = keys.get((target, other), _ANY)
                later = any(_reads(t, other, key) for t, t_loops in flat[i + 1 :]) or any(
                    _reads(t, other, key)
                    for t, t_loops in flat
                    if loops and set(loops) & set(t_loops)
                )
                if not later:
                    continue
                if other in containers:
                    raise parsed.error(
                        f"in-place update of `{target}`, which the container `{other}` also holds",
                        s,
                        f"srcdiff gives an in-place update a new value, so `{other}` would "
                        f"keep the old one: put a copy in it (`{target}.copy()`), or "
                        f"update the entry through `{other}`",
                    )
                what = f"an entry of `{target}`" if nested else f"`{target}`"
                raise parsed.error(
                    f"in-place update of {what}, which `{other}` also holds",
                    s,
                    f"srcdiff gives an in-place update a new value, so `{other}` would "
                    f"keep the old one: make one of them a copy "
                    f"(`{other} = {target}.copy()`, or list(...) for a list), or use "
                    f"one name for both",
                )


def _statements(
    body: list[gast.stmt], loops: tuple[int, ...]
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
    """Names that may hold one object, or share memory: ``a = b``, ``a, c = b, d``,
    ``a = b[i]`` (an entry, or a view, of b) and ``for a in b``."""
    group: dict[str, set[str]] = {}
    for s in statements:
        if isinstance(s, gast.Assign):
            pairs = [
                (t.id, _root(v).id)
                for target in s.targets
                for t, v in _pairs(target, s.value)
                if isinstance(t, gast.Name)
                and isinstance(_root(v), gast.Name)
                and isinstance(v, (gast.Name, gast.Subscript))
            ]
        elif (
            isinstance(s, gast.For)
            and isinstance(s.target, gast.Name)
            and isinstance(s.iter, gast.Name)
        ):
            pairs = [(s.target.id, s.iter.id)]
        else:
            continue
        for a, b in pairs:
            merged = group.get(a, {a}) | group.get(b, {b})
            for n in merged:
                group[n] = merged
    return group


def _holders(statements: Iterator[gast.stmt]) -> dict[str, set[str]]:
    """The containers that may hold each name's object: ``hs = [h]`` (``hs + [h]``,
    ``list([h])`` too), ``hs[i] = h``, ``hs.append(h)`` and the like."""
    found: dict[str, set[str]] = {}
    for s in statements:
        pairs: list[tuple[gast.expr, gast.expr]] = []
        if isinstance(s, gast.Assign):
            for target in s.targets:
                for t, v in _pairs(target, s.value):
                    if isinstance(t, gast.Name) and not isinstance(v, gast.Name):
                        pairs += [(t, e) for e in _entries(v)]
                    elif isinstance(t, gast.Subscript):
                        pairs += [(_root(t), e) for e in _entries(v)]
        elif _mutating_call(s):
            owner = s.value.func.value
            for a in s.value.args + [k.value for k in s.value.keywords]:
                pairs += [(owner, e) for e in _entries(a)]
        for container, entry in pairs:
            if isinstance(container, gast.Name):
                found.setdefault(entry.id, set()).add(container.id)
    return found


def _mutating_call(s: gast.stmt) -> bool:
    """``xs.append(v)`` and the like, on a name (not ``np.ndarray.resize(x)``)."""
    return (
        isinstance(s, gast.Expr)
        and isinstance(s.value, gast.Call)
        and isinstance(s.value.func, gast.Attribute)
        and s.value.func.attr in MUTATING_METHODS
        and isinstance(s.value.func.value, gast.Name)
    )


def _pairs(target: gast.expr, value: gast.expr) -> list[tuple[gast.expr, gast.expr]]:
    """``a, b = c, d`` as ``(a, c), (b, d)``; else ``(target, value)``."""
    if (
        isinstance(target, (gast.Tuple, gast.List))
        and isinstance(value, (gast.Tuple, gast.List))
        and len(target.elts) == len(value.elts)
    ):
        return [p for t, v in zip(target.elts, value.elts, strict=True) for p in _pairs(t, v)]
    return [(target, value)]


def _entries(value: gast.expr) -> list[gast.expr]:
    """The names ``value`` puts into the container it builds (not into what a call such as
    ``np.stack([h, x])`` builds, which copies them)."""
    if isinstance(value, gast.Name):
        return [value]
    if isinstance(value, (gast.List, gast.Tuple, gast.Set, gast.Dict)):
        elts = value.values if isinstance(value, gast.Dict) else value.elts
        views = [
            _root(e)
            for e in elts
            if isinstance(e, gast.Subscript) and isinstance(_root(e), gast.Name)
        ]  # [h[1:]]: a view, or an entry, of h
        return views + [n for e in elts for n in _entries(e)]
    if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)):
        return [
            n
            for e in (value.left, value.right)
            if not isinstance(e, gast.Name)
            for n in _entries(e)
        ]  # xs + [h]: the display's entries
    if isinstance(value, gast.IfExp):
        return _entries(value.body) + _entries(value.orelse)
    if (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id in ("list", "tuple", "dict", "set")
    ):
        return [n for a in value.args if not isinstance(a, gast.Name) for n in _entries(a)]
    return []


def _root(e: gast.expr) -> gast.expr:
    """``hs`` of ``hs[i][j]``."""
    while isinstance(e, (gast.Subscript, gast.Attribute)):
        e = e.value
    return e


def _closure(names: set[str], holders: dict[str, set[str]], group: dict[str, set[str]]) -> set[str]:
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


def _updated(s: gast.stmt) -> list[tuple[str, bool, object]]:
    """The names whose object ``s`` changes in place, each with whether the change is to
    one of its entries (``hs[0][1] = v``) rather than to the object itself, and the
    constant key it writes at (``params["b"] = v``), if any."""
    targets: list[gast.expr] = []
    if isinstance(s, gast.AugAssign):
        targets = [s.target]
    elif isinstance(s, gast.Assign):
        targets = [
            t
            for target in s.targets
            for t, _ in _pairs(target, s.value)
            if isinstance(t, gast.Subscript)
        ]
    elif _mutating_call(s):
        targets = [s.value.func]
    out = []
    for t in targets:  # ``h += v`` changes h itself; ``h[i] = v`` too; ``h[i][j] = v`` an entry
        root = _root(t)
        if isinstance(root, gast.Name):
            nested = isinstance(getattr(t, "value", None), (gast.Subscript, gast.Attribute))
            key = (
                t.slice.value
                if isinstance(t, gast.Subscript)
                and not nested
                and isinstance(t.slice, gast.Constant)
                else _ANY
            )
            out.append((root.id, nested, key))
    return out


_ANY = object()  # any entry of a container


def _entry_keys(statements: Iterator[gast.stmt]) -> dict[tuple[str, str], object]:
    """For ``w = params["w"]``, ``("w", "params"): "w"``: the constant key under which a
    container holds a name (reading ``params["b"]`` does not see a change of ``w``)."""
    found: dict[tuple[str, str], object] = {}
    for s in statements:
        if isinstance(s, gast.Assign):
            for target in s.targets:
                for t, v in _pairs(target, s.value):
                    if (
                        isinstance(t, gast.Name)
                        and isinstance(v, gast.Subscript)
                        and isinstance(v.value, gast.Name)
                        and isinstance(v.slice, gast.Constant)
                    ):
                        pair = (t.id, v.value.id)
                        found[pair] = (
                            v.slice.value
                            if found.get(pair, v.slice.value) == v.slice.value
                            else _ANY
                        )
    return found


def _reads(s: gast.stmt, name: str, key: object = _ANY) -> bool:
    """Whether ``s`` itself reads ``name`` (not in statements nested in it, but anywhere in
    a ``with`` block); with ``key``, reads of another constant key do not count."""
    parts: list[gast.AST] = [s]
    if isinstance(s, (gast.For, gast.While, gast.If)):
        parts = [s.iter if isinstance(s, gast.For) else s.test]
    nodes = [n for p in parts for n in gast.walk(p)]
    other_keys = {
        id(n.value)
        for n in nodes
        if key is not _ANY
        and isinstance(n, gast.Subscript)
        and isinstance(n.slice, gast.Constant)
        and n.slice.value != key
    }
    return any(
        isinstance(n, gast.Name)
        and n.id == name
        and isinstance(n.ctx, gast.Load)
        and id(n) not in other_keys
        for n in nodes
    )
