"""What compiled code does where Python updates an object in place.

Compiled code gives an updated array, list or dict a new value (``h = rt.setitem(h, i,
v)``), so that the values an adjoint saved, and the caller's arrays, keep theirs. Every
other name that may hold the same object and is read later then *follows* the update:
``g = rt.follow(g, old, h)``.
"""

from __future__ import annotations

import functools
import linecache
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import array_module
from ..errors import STANDS_FOR, CompileError, generated_name
from ..grad_mode import is_grad_enabled
from .arrays import acc, setitem, setitem_grads, zeros_like
from .objects import is_record

GENERATED = ("_primal", "_adjoint", "_backward", "_tangent")
FINAL = 0  # where a primal saves the values of the parameters it updated in place


def _mutable(x: Any) -> bool:
    """Objects Python's ``+=`` and item writes update in place (arrays, lists, dicts),
    as opposed to numbers and tuples, which they replace."""
    return isinstance(x, (list, dict)) or (
        hasattr(x, "__setitem__") and hasattr(x, "shape") and hasattr(x, "dtype")
    )


def _storage(x: Any) -> Any:
    """The array of a Tensor (an object noting its own changes: ``Tensor._changed``)."""
    return x._data if callable(getattr(x, "_changed", None)) else x


def _shares(a: Any, b: Any) -> bool:
    """Whether two arrays may share memory (a view of the other, or both of one base); a
    Tensor by its array (``d = w.detach()`` shares ``w``'s)."""
    if not (hasattr(a, "shape") and hasattr(b, "shape")):
        return False
    a, b = _storage(a), _storage(b)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return np.may_share_memory(a, b)
    try:
        import array_api_compat

        if array_api_compat.is_cupy_array(a) and array_api_compat.is_cupy_array(b):
            import cupy

            return cupy.may_share_memory(a, b)
    except ImportError:  # pragma: no cover - array-api-compat is a dependency
        pass
    return False


def in_generated_code() -> bool:
    """Whether generated code is on the stack (a function called from compiled code, which
    holds arrays where eager code holds Tensors)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name.endswith(GENERATED):
            return True
        frame = frame.f_back
    return False


def refuse(what: str, hint: str) -> CompileError:
    """A CompileError at the user's line that the innermost generated code on the stack is
    running (generated code is compiled with the user's file name and line numbers)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and not frame.f_code.co_name.endswith(GENERATED):
        frame = frame.f_back
    code = frame.f_code
    name = generated_name(code, GENERATED)
    line = frame.f_lineno
    return CompileError(
        what,
        function=name,
        filename=code.co_filename,
        lineno=line,
        source_line=linecache.getline(code.co_filename, line),
        hint=hint,
    )


def note_caller(exc: CompileError, frame: types.FrameType) -> None:
    """Name in ``exc`` (raised compiling or running a callee) the user's line that called
    it, where ``frame`` is generated code: a refusal deep in a library's function says
    which line of the user's reached it."""
    code = frame.f_code
    if not code.co_name.endswith(GENERATED):
        return
    name = generated_name(code, GENERATED)
    filename, line = code.co_filename, frame.f_lineno
    if filename in STANDS_FOR:  # a generated file standing for the user's lines
        filename, name, lines = STANDS_FOR[filename]
        line = lines[line - 1] if 0 < line <= len(lines) else None
    if (filename, line) != (exc.filename, exc.lineno):
        exc.args = (f"{exc.args[0]}; called from {name} ({filename}:{line})", *exc.args[1:])


def holds(x: Any, old: Any, tensors: bool = True) -> bool:
    """Whether ``x`` is, shares memory with, or holds (at any depth) the object ``old``;
    not counting Tensors in ``x`` where not ``tensors`` (a Tensor saved as itself, for
    its ``.grad``, is not its array's value)."""
    if not tensors and callable(getattr(x, "_changed", None)):
        return False
    if x is old or _shares(x, old):
        return True
    if isinstance(x, (list, tuple)):
        return any(holds(e, old, tensors) for e in x)
    if isinstance(x, dict):
        return any(holds(e, old, tensors) for e in x.values())
    return False


class _Rebuilt:
    """The containers rebuilt for the latest update followed, by the identity of the
    container each replaces: every name (and entry) that held one container holds one
    new container after it, as in Python (``l = xs`` stay the same list). It keeps the
    latest update's objects only (and ``_RebuiltTangents`` those of tangents)."""

    update: tuple[Any, Any] = (None, None)
    made: dict[int, tuple[Any, Any]] = {}  # noqa: RUF012 - replaced, never changed shared

    @classmethod
    def of(cls, m: Any, old: Any, new: Any, make: Callable[[], Any]) -> Any:
        if cls.update[0] is not old or cls.update[1] is not new:
            cls.update, cls.made = (old, new), {}
        hit = cls.made.get(id(m))
        if hit is None or hit[0] is not m:
            hit = cls.made[id(m)] = (m, make())
        return hit[1]


class _RebuiltTangents(_Rebuilt):
    update: tuple[Any, Any] = (None, None)


def arrays_in(x: Any) -> list:
    """The arrays a list, tuple or dict holds, at any depth (``x`` itself if one)."""
    return [o for o in _changeable_in(x) if not isinstance(o, (list, dict))]


def given_objects(params: tuple, differentiated: tuple) -> tuple:
    """The arrays, lists and dicts the parameters of a function hold as it starts (at any
    depth of lists, tuples and dicts, themselves too), each as often as it is held, with
    whether its parameter is differentiated: what ``check_given`` reads."""
    return tuple((d, o) for p, d in zip(params, differentiated, strict=True)
                 for o in _changeable_in(p))  # fmt: skip


def _changeable_in(x: Any) -> list:
    """The objects an update in place may change that ``x`` holds, ``x`` too: lists,
    dicts and arrays, at any depth (tuples are gone through)."""
    if isinstance(x, (list, tuple)):
        inner = [o for e in x for o in _changeable_in(e)]
        return inner if isinstance(x, tuple) else [x, *inner]
    if isinstance(x, dict):
        return [x, *(o for e in x.values() for o in _changeable_in(e))]
    return [x] if hasattr(x, "shape") and hasattr(x, "dtype") and _mutable(x) else []


def check_given(given: tuple, old: Any, names: str = "") -> None:
    """Before an in-place update of ``old`` that other names follow: refused where
    ``old`` is an array, a list or a dict the caller gave through two arguments or entries
    (``given``, see ``given_objects``: held twice, or an array sharing memory with
    another), one of them differentiated, whose gradient cannot be told apart between
    them; differentiating one would give it to that one alone."""
    if not given or not _mutable(old):
        return
    held = [d for d, o in given if o is old or _shares(o, old)]
    if len(held) > 1 and any(held):
        written, *followers = names.split(",")
        raise refuse(
            f"`{written}` is an object the caller gave as two arguments (or entries: "
            f"`{', '.join(followers)}` may hold it too), which the function updates in place: "
            "its gradient cannot be told apart between the two",
            "pass a copy as one of the two (x.copy())",
        )


def check_not_given(given: tuple, old: Any, shown: str = "") -> None:
    """Before an update made in an object a global holds (``rt.write_into``,
    ``rt.update_into``): refused where the caller also gave that object as an argument,
    whose array compiled code never writes into, and whose values its adjoint reads."""
    if _mutable(old) and any(o is old or _shares(o, old) for _, o in given):
        raise refuse(
            f"`{shown}` is an object a global holds, which the caller also gave as an "
            "argument, updated in place: compiled code never writes into an argument",
            "pass a copy as the argument (x.copy()), or update a local copy",
        )


def outside_objects(values: tuple, names: str) -> dict[int, str]:
    """The objects the globals and closure variables a function reads hold (``values``,
    named in ``names``), at any depth of lists, tuples and dicts and in the fields of
    objects: by the identity of each one's memory (an array's base), the name of the
    global holding it. Taken once as the function starts, for ``check_apart``."""
    held: dict[int, str] = {}
    for n, v in zip(names.split(","), values, strict=True):
        for o in _held_by(v):
            held.setdefault(id(_memory(o)), n)
    return held


def _held_by(v: Any) -> list:
    """The objects an update in place may change that the global's value ``v`` holds, in
    the fields of objects too, at any depth (each object once)."""
    found: list = []
    seen: set[int] = set()
    todo = [v]
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if is_record(x):
            todo.extend(getattr(x, "__dict__", {}).values())
        elif isinstance(x, tuple):  # (gone through: a tuple itself never changes)
            todo.extend(x)
        elif isinstance(x, (list, dict)):
            found.append(x)
            todo.extend(x.values() if isinstance(x, dict) else x)
        elif hasattr(x, "shape") and hasattr(x, "dtype") and _mutable(x):
            found.append(x)
    return found


def _outside(x: Any, values: tuple) -> bool:
    """Whether ``x`` uses the memory of an object the globals' values ``values`` hold."""
    if not _mutable(x):
        return False
    memory = _memory(x)
    return any(_memory(o) is memory for v in values for o in _held_by(v))


def _memory(x: Any) -> Any:
    """The object whose memory ``x`` uses: the base of an array view, else ``x``."""
    x = _storage(x)
    while getattr(x, "base", None) is not None and hasattr(x, "shape"):
        x = x.base
    return x


def check_apart(old: Any, held: dict[int, str], given: tuple, shown: str) -> None:
    """Before an in-place update of an object the caller gave as an argument (``old``
    among ``given``, see ``given_objects``): refused where one of the globals or closure
    variables the function reads holds that object or shares its memory (``held``: see
    ``outside_objects``). Compiled code gives the argument's name a new value; Python's
    update would be seen through the global."""
    n = held.get(id(_memory(old))) if _mutable(old) else None
    if n is not None and any(o is old or _shares(o, old) for _, o in given):
        raise refuse(
            f"`{shown}` is an object `{n}` holds too (the caller gave a global's object as "
            "an argument), updated in place: compiled code gives the argument a new value, "
            f"which `{n}` would not see",
            "pass a copy as the argument (x.copy())",
        )


# the Tensor runtime's check of an array updated in place, which may be a leaf's (see
# ``tensors.refuse_leaf_update``); None where no Tensor code runs
LEAF_UPDATE: list = [None]


def follow(m: Any, old: Any, new: Any, names: str = "") -> Any:
    """``m`` after the object ``old`` was updated in place into ``new``: ``new`` where
    ``m`` is that very object, a container with such entries replaced (at any depth)
    where ``m`` holds it (one new container for each, whichever names hold it), ``m``
    itself otherwise. An array sharing memory with ``old`` in another way (a view of it,
    or the array it is a view of) cannot follow: that is a CompileError."""
    if m is old:
        if old is not new and LEAF_UPDATE[0] is not None:
            LEAF_UPDATE[0](old)
        return new if _mutable(old) else m
    held, written = (names.split(",") + ["", ""])[:2]
    if isinstance(old, np.flatiter) and old is not new and _mutable(m) and _shares(m, old.base):
        raise refuse(  # (``g = w.flat; g[0] = v``: w's elements, written one by one)
            f"a write through `{written}`, the .flat of `{held}`: compiled code gives the "
            f"written values a new array, which `{held}` would not see",
            f"write into `{held}` itself (`{held}.reshape(-1)[i] = v` on a contiguous array, "
            f"or `{held}[np.unravel_index(i, {held}.shape)] = v`)",
        )
    if old is new or not _mutable(old):
        return m
    if not holds(m, old):
        if _fields_share(m, old) and (
            callable(getattr(old, "_changed", None))
            or not is_record(m)
            or not _fields_share(m, old, 1, True)
        ):
            raise refuse(  # (a Module's Tensor field, or an entry or view of one)
                f"an in-place update of `{written}` changes a Tensor or array a field of "
                f"`{held}` holds (`{written}` is that field, or an entry or view of it: "
                f"`{written} = {held}.<field>[0]`), and compiled code gives the update a new "
                "value the field does not see",
                f"write into the field itself (`{held}.<field>[i] += v`, "
                f"`{held}.<field>.add_(v)`, under `with sd.no_grad():` for a field that needs "
                f"no gradient), or update a copy (`{written} = "
                f"{written}.clone()` first)",
            )
        if is_record(m) and any(holds(v, old) for v in getattr(m, "__dict__", {}).values()):
            raise refuse(
                f"an in-place update of `{written}` changes a field of `{held}`, which holds "
                "it, and compiled code gives the update a new value the field does not see",
                f"assign the field itself a new value (`{held}.<field> = ...`), or update a "
                f"copy (`{written} = {written}.copy()` first)",
            )
        if _partial_holding(m, old):
            raise refuse(
                f"an in-place update of `{written}`, which a functools.partial `{held}` "
                "holds (or holds in an entry: a function defined inside that reads it, used "
                "as a value, is one): compiled code gives the update a new value the "
                "partial does not see",
                f"make the partial (or the function) after the update, or update a copy "
                f"(`{written} = {written}.copy()` first)",
            )
        return m
    if isinstance(m, (list, tuple)):
        return _Rebuilt.of(m, old, new, lambda: type(m)(follow(e, old, new, names) for e in m))
    if isinstance(m, dict):
        rebuilt = lambda: {k: follow(e, old, new, names) for k, e in m.items()}  # noqa: E731
        return _Rebuilt.of(m, old, new, rebuilt)
    raise refuse(
        f"an in-place write into `{written}` also changes `{held}`, which shares its "
        "memory (a view made by slicing, reshape, ravel, .T, transpose, ...) and is "
        "read later",
        f"srcdiff cannot follow a write through a view: write into `{held}` itself, "
        f"or make `{written}` a copy first ({written} = {written}.copy(), or "
        f"{written}.clone() for a Tensor)",
    )


def _partial_holding(m: Any, old: Any, depth: int = 4) -> bool:
    """Whether ``m`` is, or holds in a list, tuple or dict (at any depth), a
    ``functools.partial`` whose arguments hold ``old``."""
    if isinstance(m, functools.partial):
        return holds([*m.args, *m.keywords.values()], old) or (
            depth > 0 and _partial_holding(m.func, old, depth - 1)
        )
    if depth > 0 and isinstance(m, (list, tuple)):
        return any(_partial_holding(e, old, depth - 1) for e in m)
    if depth > 0 and isinstance(m, dict):
        return any(_partial_holding(e, old, depth - 1) for e in m.values())
    return False


def _fields_share(x: Any, old: Any, depth: int = 4, exact: bool = False) -> bool:
    """Whether the fields of ``x``, a record or a Module (its parameters, buffers and
    sub-modules too, to ``depth`` levels), hold ``old`` or, unless ``exact``, an array or
    Tensor sharing its memory: an update of ``old`` in place changes that field."""
    fields = getattr(x, "__dict__", None)
    if depth == 0 or not isinstance(fields, dict):
        return False
    if not (is_record(x) or all(isinstance(fields.get(k), dict) for k in MODULE_REGISTRIES)):
        return False
    for v in fields.values():
        entries = v.values() if isinstance(v, dict) else v if isinstance(v, list | tuple) else (v,)
        for e in entries:
            if e is old or not exact and holds(e, old) or _fields_share(e, old, depth - 1, exact):
                return True
    return False


def follow_detached(m: Any, old: Any, new: Any, names: str = "") -> Any:
    """``follow(m, old, new)`` where the updated object is a detached alias of ``m``'s
    (``d = h.detach()``, ``h.data``) in Tensor code: ``m`` takes the new value, but keeps
    its own gradient, as a Tensor keeps its graph when its storage is written through
    a detached alias (see its rule). A 0-d Tensor compiled code holds as a NumPy
    number (``s = h.sum()``) takes it as well, though a number is never changed in place:
    it is the alias's own."""
    if m is old and old is not new and isinstance(old, np.generic):
        return new
    return follow(m, old, new, names)


def follow_tangent(dm: Any, m: Any, old: Any, dnew: Any) -> Any:
    """The tangent of ``follow(m, old, new)``: ``dnew`` where ``m`` held the object
    ``old``, ``dm`` elsewhere (at any depth of a container)."""
    if m is old:
        return dnew if _mutable(old) else dm
    if not _mutable(old) or not holds(m, old):
        return dm
    if isinstance(m, (list, tuple)):
        return _RebuiltTangents.of(dm, old, dnew, lambda: type(m)(
            follow_tangent(d, e, old, dnew) for d, e in zip(dm, m, strict=True)))  # fmt: skip
    if isinstance(m, dict):
        return _RebuiltTangents.of(dm, old, dnew, lambda: {
            k: follow_tangent(dm[k], e, old, dnew) for k, e in m.items()})  # fmt: skip
    return dm  # a view: follow itself refuses it


def follow_tangent_grads(g: Any, m: Any, old: Any) -> tuple[Any, Any]:
    """The adjoints of ``dm`` and ``dnew`` given that of ``follow_tangent(dm, m, old,
    dnew)``: ``g`` where ``m`` did not hold ``old``, and the sum of ``g`` over the places
    where it did."""
    if g is None:
        return None, None
    if m is old:
        return (None, g) if _mutable(old) else (g, None)
    if not _mutable(old) or not holds(m, old) or not isinstance(m, (list, tuple, dict)):
        return g, None
    keys = list(m) if isinstance(m, dict) else range(len(m))
    d_m = dict(g) if isinstance(g, dict) else list(g)
    d_new = None
    for k in keys:
        gk = g.get(k) if isinstance(g, dict) else g[k]
        d_m[k], part = follow_tangent_grads(gk, m[k], old)
        if part is not None:
            d_new = acc(d_new, part)  # (entry by entry: two entries that are one list)
    return d_m, d_new


def put_back_tangent_grads(g: Any, holder: Any, key: Any, d_new: Any) -> tuple[Any, Any]:
    """The adjoints of ``d_holder`` and ``d_new`` given that of ``put_back_tangent``."""
    if isinstance(holder, (list, dict)):
        return follow_tangent_grads(g, holder, holder[key])
    return setitem_grads(g, key, d_new)


def put_back(holder: Any, key: Any, new: Any) -> Any:
    """``holder`` after its entry at ``key``, updated in place, became ``new`` (``a[i][j]
    = v`` is ``t = a[i]; t[j] = v; a[i] = t``): in a list or dict every entry that is that
    object takes ``new``, as all of them see Python's write; an array takes it at ``key``
    (the view written back)."""
    if isinstance(holder, (list, dict)):
        return follow(holder, holder[key], new)
    return setitem(holder, key, new)


def put_back_grads(g: Any, ans: Any, key: Any, new: Any) -> tuple[Any, Any]:
    """The adjoints of the holder and of ``new`` given that of ``ans = put_back(holder,
    key, new)``: each entry of ``ans`` that is ``new`` passes its part on to ``new``."""
    if isinstance(ans, (list, dict)):
        d_holder, d_new = _split(g, ans, new)
        return d_holder, or_zeros(d_new, new)
    return setitem_grads(g, key, new)


def _split(g: Any, ans: Any, new: Any) -> tuple[Any, Any]:
    """``g`` (the adjoint of ``ans``) without the parts at the entries that are ``new``,
    and the sum of those parts."""
    if g is None:
        return None, None
    if ans is new:
        return None, g
    if not isinstance(ans, (list, tuple, dict)):
        return g, None
    keys = list(ans) if isinstance(ans, dict) else range(len(ans))
    rest = dict(g) if isinstance(g, dict) else list(g)
    d_new = None
    for k in keys:
        rest[k], part = _split(g.get(k) if isinstance(g, dict) else g[k], ans[k], new)
        if part is not None:
            d_new = acc(d_new, part)  # (entry by entry: two entries that are one list)
    return rest, d_new


def put_back_tangent(d_holder: Any, holder: Any, key: Any, d_new: Any) -> Any:
    """The tangent of ``put_back(holder, key, new)`` (``holder`` as it was before)."""
    if isinstance(holder, (list, dict)):
        return follow_tangent(d_holder, holder, holder[key], d_new)
    return setitem(d_holder, key, d_new)


def follow_grads(g: Any, ans: Any, m: Any, new: Any) -> tuple[Any, Any]:
    """The adjoints of ``m`` and ``new`` given that of ``ans = follow(m, old, new)``."""
    if g is None or ans is m:
        return g, None
    if ans is new:
        return None, g
    keys = list(ans) if isinstance(ans, dict) else range(len(ans))
    d_m = dict(g) if isinstance(g, dict) else list(g)
    d_new = None
    for k in keys:
        gk = g.get(k) if isinstance(g, dict) else g[k]
        if ans[k] is not m[k] and gk is not None:
            d_m[k], part = follow_grads(gk, ans[k], m[k], new)
            if part is not None:
                d_new = part if d_new is None else acc(d_new, part)  # (lists: entry by entry)
    return d_m, d_new


def _linked(saved: Any, obj: Any, depth: int = 4) -> bool:
    """Whether ``obj`` is, holds or is held by (list, tuple, dict and record entries,
    ``depth`` levels down) a saved value, or shares memory with one. (A Tensor notes
    its own writes: see ``Tensor._changed``.)"""
    if callable(getattr(obj, "_changed", None)):
        return False
    if holds(saved, obj):
        return True
    if depth == 0:
        return False
    return any(_linked(saved, e, depth - 1) for e in _entries(obj) if e is not obj)


def _entries(obj: Any) -> list:
    """What a list, tuple, dict or record holds (nothing for anything else)."""
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple)):
        return list(obj)
    return list(vars(obj).values()) if is_record(obj) else []


def check_unsaved(saved: tuple[dict, ...], objects: tuple, names: str, itself: int) -> None:
    """After a ``sd.no_grad()`` block run as written, which may have changed ``objects``
    (named ``names``) in place (the first ``itself`` of them; the entries of the others):
    none of them may be a value saved for the adjoint, which would read the change. (A
    Tensor's writes are checked where they happen.)"""
    for k, (obj, label) in enumerate(zip(objects, names.split(", "), strict=True)):
        entries = [obj] if k < itself else _entries(obj)
        if any(_linked(value, e) for values in saved for value in values.values()
               for e in entries):  # fmt: skip
            raise refuse(
                f"an in-place change under sd.no_grad() of `{label}`, whose value the "
                "gradient reads (an operation before the block saved it)",
                f"change a copy (`{label} = {label}.copy()` first, inside the block), or "
                f"compute the new value out of place",
            )


def or_zeros(d: Any, x: Any) -> Any:
    """``d``, or a zero shaped like ``x`` where ``d`` is None (nothing flowed)."""
    return zeros_like(x) if d is None else d


def entry_object(holder: Any, entry: Any) -> Any:
    """``entry``, taken out of ``holder`` for ``holder[k] += v``, where that updates the
    object in place (``holder`` a list, a tuple or a dict: every name holding the object
    sees the update); else an object no name holds (an array's row: the update writes
    into the array, which its own names follow), so that ``follow`` leaves names as
    they are."""
    return entry if isinstance(holder, (list, tuple, dict)) else object()


def check_entries(m: Any, old: Any, new: Any, names: str = "") -> None:
    """After a callee handed back ``new`` for its argument ``old`` (a list or a dict it
    changed): raise where ``m`` is (or, a list or dict, holds) an array, list or dict held
    in ``old`` whose place in ``new`` holds another object. The callee either updated
    that object in place (then ``m`` sees the change, in Python) or put another in its
    place (then it does not), and compiled code cannot tell which."""
    if m is old or not _mutable(m) or not isinstance(old, (list, tuple, dict)):
        return
    entries = [m, *_entries_of(m, old)] if isinstance(m, (list, tuple, dict)) else [m]
    if any(not _held(new, e) and _replaced(e, old, new) for e in entries):  # (moved: kept)
        held, written = (names.split(",") + ["", ""])[:2]
        raise refuse(
            f"`{held}` holds an entry of `{written}`, which a function called here changed: "
            "srcdiff cannot tell whether it updated that object in place (which "
            f"`{held}` sees) or put another in its place (which `{held}` does not)",
            f"read `{held}` from `{written}` again after the call, or make it a copy "
            f"before (`{held} = {held}.copy()`)",
        )


def _entries_of(container: Any, old: Any) -> list:
    """The lists, dicts and arrays ``container`` holds, at any depth, but inside ``old``
    (the container updated, which follows as a whole)."""
    values = container.values() if isinstance(container, dict) else container
    found = []
    for e in values:
        if e is not old and (_mutable(e) or isinstance(e, tuple)):
            found.append(e)
            if isinstance(e, (list, tuple, dict)):
                found += _entries_of(e, old)
    return found


def _held(container: Any, m: Any) -> bool:
    """Whether ``container`` holds the very object ``m`` (at any depth)."""
    if isinstance(container, (list, tuple)):
        return any(e is m or _held(e, m) for e in container)
    if isinstance(container, dict):
        return any(e is m or _held(e, m) for e in container.values())
    return False


def _replaced(m: Any, old: Any, new: Any) -> bool:
    """Whether ``m`` is an entry (at any depth) of ``old`` whose place in ``new`` holds
    another object (or is gone)."""
    if isinstance(old, (list, tuple)):
        pairs = ((e, new[i] if isinstance(new, (list, tuple)) and i < len(new) else None)
                 for i, e in enumerate(old))  # fmt: skip
    elif isinstance(old, dict):
        pairs = ((e, new.get(k) if isinstance(new, dict) else None) for k, e in old.items())
    else:
        return False
    for e, n in pairs:
        if e is m:
            if n is not m:
                return True
        elif isinstance(e, (list, tuple, dict)) and _replaced(m, e, n):
            return True
    return False


def write_through(x: Any, idx: Any, v: Any, values: tuple | None = None) -> Any:
    """``setitem(x, idx, v)`` where a global may hold ``x``'s object (``for g in
    opt.param_groups: g["lr"] = lr``): a list's or a dict's entry is written in the object
    itself, as Python writes it, so that the global sees it (and the object is the new
    value). An array entry, or a new one, which the adjoint may read from the object as it
    was, is refused rather than left unseen. An array is given a new value, unless it is
    an array of the globals' ``values`` (in NumPy-style code, whose reads of it took
    copies: see ``compiler/snapshots``), written in place as Python writes it."""
    if not isinstance(x, (list, dict)):
        if values is not None and mutable_array(x) and _outside(x, values):
            x[idx] = v  # (a global's array: see ``update_if_outside``)
            return x
        return setitem(x, idx, v)
    old = x.get(idx, _ABSENT) if isinstance(x, dict) else _entry_or_absent(x, idx)
    if old is _ABSENT or not (_plain(old) and _plain(v)):
        raise refuse(
            "a write into a list or dict a global holds, through another name, of an "
            "array or a new entry: compiled code gives the object a new value, which the "
            "global would not see",
            "write through the global itself (`G[k] = v`, `obj.attr[k] = v`), or pass the "
            "object in as an argument",
        )
    x[idx] = v
    return x


def write_into(x: Any, idx: Any, v: Any) -> Any:
    """``x[idx] = v`` without gradient, where a global may hold ``x``'s object, in NumPy-
    style code: made in that object, as Python makes it, so that the global sees it (the
    reads an adjoint makes of it before took copies: see ``compiler/snapshots``)."""
    if mutable_array(x) or isinstance(x, np.flatiter):  # (``g = GA.flat; g[0] = v``)
        x[idx] = v
        return x
    return write_through(x, idx, v)


def update_into(x: Any, new: Any) -> Any:
    """``x += v`` (``x = x + v``, ``new``) without gradient, where a global may hold
    ``x``'s object: its new value made in that object, as Python's in-place operator
    makes it (NumPy's casting rule included), so that the global sees it."""
    if mutable_array(x):
        array_module(x).copyto(x, new, casting="same_kind")
        return x
    if isinstance(x, list):
        x[:] = new
        return x
    if isinstance(x, (dict, set)):
        x.clear()
        x.update(new)
        return x
    return new


def changed_after(callee: str, line: int, array: str = "") -> tuple[str, str]:
    """What refuses a change of an array from outside (``array``, as the user wrote it,
    where known) after a call of ``callee`` (at ``line``), and the hint."""
    through = f", through `{array}`," if array else ""
    return (
        f"an array from outside the function (a global's, a field's) is changed in place "
        f"here{through} after a call of {callee} (line {line}) whose derivative may read "
        "it: the gradient, taken later, would read the changed values",
        f"make the change before the call of {callee}, or make it on a copy of the array (.copy())",
    )


def changed_after_call(x: Any, values: tuple | None, callee: str, line: int, array: str = ""
                       ) -> None:  # fmt: skip
    """Before ``x += v`` made in an object from outside (``update_into``; or, given the
    globals' ``values``, ``update_if_outside``) after a call of a function of the user's
    (``callee``, at ``line``) whose derivative may read it: refused where the update
    changes an array, a list or a dict in place; a number is given a new value, which
    changes nothing read before. ``array``: how the user named ``x``."""
    if _mutable(x) and (values is None or _outside(x, values)):
        raise refuse(*changed_after(callee, line, array))


def update_if_outside(x: Any, new: Any, values: tuple) -> Any:
    """``x += v`` (``x = x + v``, ``new``) without gradient, where ``x`` may hold an
    object of the globals' ``values`` or one of its own: made in the object where it is
    a global's (``update_into``), else ``new``, as compiled code gives updates."""
    return update_into(x, new) if _outside(x, values) else new


def differentiated_update(x: Any, new: Any, values: tuple | None = None) -> Any:
    """``y += v`` of a differentiated ``v``, where ``y`` was given a global's value (or,
    with ``values``, may hold an object of those globals): a number or a tuple takes
    ``new``, as Python rebinds it, with its gradient; an array, a list or a dict of a
    global's, which Python changes in place, is refused: the global's object would hold
    a value whose gradient compiled code cannot follow."""
    if _mutable(x) and (values is None or _outside(x, values)):
        raise refuse(
            f"a differentiated value stored into a {type(x).__name__} a global holds, "
            "through another name",
            "keep it in a local name and return it (copy the global's value first: "
            "`y = GA.copy()`)",
        )
    return new


def mutable_array(x: Any) -> bool:
    """Whether ``x`` is an array (NumPy's, CuPy's, the standard's), not a number or a class."""
    return isinstance(x, np.ndarray) or (
        hasattr(x, "__array_namespace__") and not isinstance(x, (type, np.generic))
    )


def write_entry(x: Any, idx: Any, v: Any) -> Any:
    """``x[idx] = v`` of a number ``v`` where ``x`` is reached through an attribute
    (``opt.param_groups[0]["lr"] = lr``): made in a list or dict itself, as Python makes
    it (see ``write_through``). An array there is refused: compiled code gives it a new
    value, which the attribute holding it would not see."""
    if not isinstance(x, (list, dict)):
        raise refuse(
            "item assignment through an attribute (b.T[0] = v, self.w[0] = v) of an array "
            "srcdiff differentiates",
            "srcdiff gives the array a new value, which the attribute cannot take back: "
            "build the new array in a local name",
        )
    if _entry_is(x, idx, v):
        return x  # (an entry written back: the object written into is the one there)
    return write_through(x, idx, v)


def write_entry_held(x: Any, idx: Any, v: Any, roots: tuple = (), augmented: bool = False
                     ) -> Any:  # fmt: skip
    """``write_entry(x, idx, v)`` in compiled Tensor code, of a value that may carry a
    gradient (``t.stats["n"] += 1``, ``self.totals[k] = self.totals[k] + loss.item()``):
    a number, or a Tensor that requires no grad, is written as eager code writes it; a
    value carrying a gradient, which the entry could not keep, is refused. An array whose
    gradient may come only from the unwrapped arrays ``roots`` carries none where none was
    a Tensor's requiring grad; the Tensor the entry holds takes it in place where the
    write is an ``augmented`` update (``self.xs[0] += 1.0``), as PyTorch's ``+=``."""
    from .tensors import held_without_gradient  # (tensors imports this module)

    present = (
        isinstance(x, dict)
        and idx in x
        or isinstance(x, list)
        and isinstance(idx, int)
        and -len(x) <= idx < len(x)
    )
    into = (x, idx) if augmented and present else None
    return write_entry(x, idx, held_without_gradient(v, *roots, into=into))


def _entry_is(x: list | dict, idx: Any, v: Any) -> bool:
    """Whether the entry ``idx`` of ``x`` is the object ``v``."""
    try:
        return x[idx] is v
    except (KeyError, IndexError, TypeError):
        return False


def _entry_or_absent(xs: list, idx: Any) -> Any:
    return _ABSENT if isinstance(idx, slice) else xs[idx]


_ABSENT = object()


def _written_through(old: Any, new: Any) -> bool:
    """Whether the list or dict ``old`` holds what its new value ``new`` holds (is it)."""
    if not isinstance(old, (list, dict)) or type(old) is not type(new):
        return False
    if old is new:
        return True
    if len(old) != len(new):
        return False
    if isinstance(old, dict):
        return all(k in new and new[k] is v for k, v in old.items())
    return all(a is b for a, b in zip(old, new, strict=True))


def _plain(v: Any) -> bool:
    """A value without arrays (a number, a string, a flag, None, a tuple of those)."""
    if isinstance(v, tuple):
        return all(map(_plain, v))
    return v is None or isinstance(v, (bool, int, float, complex, str))


def logged(value: Any) -> Any:
    """``value``, added to a list of a global's the function does not read (a history of
    losses): a number is kept as Python keeps it (the list holds no gradient, nor needs
    one); an array is refused, as one the function may go on updating in place, which
    compiled code does in a new array the list would not see."""
    if not _mutable(value):
        return value
    raise refuse(
        f"a differentiated {type(value).__name__} added to a list a global holds: an "
        "update in place the function makes after would not reach the list",
        "add a number (`LOG.append(float(loss))`), or keep the arrays in a local list and "
        "return them",
    )


def snapshot(x: Any) -> Any:
    """A copy of an array from outside the function (or of a list or dict an object's
    field holds), read where something may change it in place before the adjoint reads
    it (see ``compiler/snapshots``); anything else as it is."""
    if mutable_array(x):
        return array_module(x).asarray(x, copy=True)
    if type(x) in (list, dict):  # (a field's, written in place later: rt.put_attribute)
        return x.copy()
    return x


def check_unchanged(held: Any, old: Any, new: Any, names: str = "") -> None:
    """Raise when the global ``held`` holds or shares the object ``old`` that compiled
    code just updated into ``new``: the global would not see the update, as it does in
    Python (unless the write was made in ``old`` itself: ``write_through``,
    ``update_into``)."""
    if old is new or _written_through(old, new):
        return
    global_name, written = (names.split(",") + ["", ""])[:2]
    if held is not old and callable(getattr(held, "_changed", None)) and _shares(held, old):
        raise refuse(  # (``h = G[0]; h += v``: h, a view of G's, is a new array here)
            f"an in-place write into `{written}`, an entry or view of the global Tensor "
            f"`{global_name}`: PyTorch writes it into `{global_name}`, compiled code gives "
            f"`{written}` a new value, which `{global_name}` would not see",
            f"write into `{global_name}` itself (`{global_name}[i] += v`, `{global_name}[i, j] "
            "= v`, under `with sd.no_grad():` where it needs no gradient), or update a copy "
            f"(`{written} = {written}.clone()` first)",
        )
    if follow(held, old, object(), names) is not held:
        raise refuse(
            f"an in-place write into `{written}` changes the object the global "
            f"`{global_name}` holds: compiled code gives `{written}` a new value, which "
            f"`{global_name}` would not see",
            f"keep `{written}` in a local name and pass it on (`{written} = {written} + v` "
            "leaves the global's as it is), rather than reading it back through the global; "
            f"a Tensor's in-place method (`{written}.add_(v)`) changes it as eager code does",
        )


def check_length(n: int, shown: str, *sequences: Any) -> None:
    """Raise when the sequences a for loop runs over (together, as ``zip`` does) no
    longer give the ``n`` steps the loop takes, after an update in place of one of them
    (``shown``, as the user wrote it): Python runs over a list as it changes, compiled
    code as many steps as it had entries."""
    if min(map(len, sequences)) != n:
        raise refuse(
            f"`{shown}` changes length while a for loop runs over it: Python runs over "
            "the entries it gains (or stops early), compiled code as many steps as it had",
            f"loop with an index (`while i < len({shown}):`) to see the changes; else "
            f"loop over a copy (`for v in list({shown}):`)",
        )


# the dicts in which a Module keeps its fields: assigning ``m.count`` rebinds its entry
MODULE_REGISTRIES = ("_parameters", "_buffers", "_modules")


def _registry(obj: Any, key: str, field: str, old: Any) -> bool:
    """Whether ``obj.key`` is the dict in which a Module keeps the field ``field``, which
    its ``__setattr__`` gives the field's new value (``m.count += 1`` of a buffer). Told
    by what the object holds, not its class, so that code written out without srcdiff
    (``sd.export``) checks it the same."""
    registry = getattr(obj, "__dict__", {}).get(key)
    return (
        key in MODULE_REGISTRIES
        and isinstance(registry, dict)
        and registry.get(field) is old
        and type(obj).__setattr__ is not object.__setattr__
    )


def check_field_alone(obj: Any, field: str, names: str = "") -> None:
    """Raise when another field of ``obj`` holds or shares the object of ``obj.field``,
    which compiled code is about to replace with its updated value (``p.a *= 2`` where
    ``p.b`` is the same array): in Python that field sees the update too."""
    old = getattr(obj, field, None)
    if not _mutable(old):
        return
    fields = getattr(obj, "__dict__", {})
    other = next(
        (
            k
            for k, v in fields.items()
            if k != field and holds(v, old) and not _registry(obj, k, field, old)
        ),
        None,
    )
    if other is not None:
        held = names or "obj"
        raise refuse(
            f"an in-place update of `{held}.{field}` also changes `{held}.{other}`, which "
            f"holds the same object: compiled code gives `{held}.{field}` a new value, "
            f"which `{held}.{other}` does not see",
            f"give `{held}.{other}` its own copy, or assign the new value to both fields",
        )


def unless_rebound(final: Any, rebound: bool) -> Any:
    """The object a parameter ends with, for the caller to take back (``write_back``);
    None where the name was given another object on the path taken (``if lst is None:
    lst = []``): that object is not the caller's."""
    return None if rebound else final


def write_back_refusal(caller: Any, final: Any) -> Exception | None:
    """The error ``write_back(caller, final)`` would raise, or None: a caller checks
    every argument with it before writing any, so that a refusal leaves them all as
    they were rather than some updated."""
    if caller is final or not callable(getattr(caller, "_changed", None)):
        return None
    if final is caller._data or not (caller.requires_grad and is_grad_enabled()):
        return None  # (no_grad: written, as PyTorch)
    if caller.is_leaf:
        return RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    return refuse(  # (PyTorch records it in the Tensor's graph)
        "an in-place update, in a compiled function, of a Tensor argument that "
        "has a graph of its own (not a leaf): its graph would not see it",
        "update a clone() of it, or run the function without @sd.differentiate",
    )


def write_back(caller: Any, final: Any) -> None:
    """Give the caller's list or dict ``caller`` the contents compiled code computed for
    it (``final``), as Python's in-place updates would have: compiled code updated a
    copy. Arrays are never written into; a Tensor is (compiled Tensor code's ``buf +=
    v``, ``buf[0] = v``), as PyTorch's in-place operations write into it."""
    if caller is final:
        return
    if callable(getattr(caller, "_changed", None)):  # a Tensor, held as its array
        if final is not caller._data:
            error = write_back_refusal(caller, final)
            if error is not None:
                raise error
            caller._data[...] = final
            caller._changed()
        return
    if isinstance(caller, list) and isinstance(final, list):
        caller[:] = final
    elif isinstance(caller, dict) and isinstance(final, dict):
        caller.clear()
        caller.update(final)
