"""Stage 2b: in-place updates, and the names that must follow them.

Python updates arrays, lists and dicts in place: ``h[i] = v``, ``h += v``,
``xs.append(v)``, ``np.copyto(h, v)``. Compiled code gives the updated name a new value
instead, so that the values an adjoint saved, and the caller's arrays, keep theirs. That
is Python's meaning only while no other name sees the object. So, for each in-place
update, this stage finds the other names that may share the object's memory (by
assignment, indexing, a view, a container, a call) and are read after it, and makes each
of them follow the update (see ``rt.follow``)::

    h_old = h
    h[0] = v                        # h = rt.setitem(h, 0, v) in compiled code
    g = rt.follow(g, h_old, h, "g,h")

``rt.follow`` gives ``g`` the new value where it held the very object (``g = h``), the
container with its entry replaced where it held it (``hs = [h]``), and raises a
CompileError where it shares memory otherwise (a view, ``g = h[1:]``), which compiled
code cannot follow. A global holding the object is checked the same way
(``rt.check_unchanged``).

Invariant of the output: every in-place update (``is_update``) is followed by a
``rt.follow`` of each local name, and a ``rt.check_unchanged`` of each global, that may
share its object and is read later; ``Sharing`` tells which names may share, and which
may hold the caller's objects (parameters, globals).
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import functools
import operator
import re
import types
import weakref
from collections.abc import Iterator

import gast
import numpy as np

from .. import runtime as rt_module
from ..errors import CompileError
from ..rules import registry
from .emit import expr
from .ir import Iterated, facts, mark
from .normalize import (
    Names,
    all_names,
    assign,
    blocks,
    children,
    const,
    insert_beside,
    is_rt_call,
    local_names,
    name,
    normalize,
    params_of,
    rebuild_blocks,
    root_name,
    rt_attr,
    rt_helper,
    walk,
    walk_statements,
)
from .parse import MISSING, Parsed, parse
from .parse import attribute as parse_attribute

# NumPy functions and array methods whose result may be the argument itself or a view of
# its memory: writing into the result writes into the argument.
VIEW_FUNCTIONS = {
    "asarray", "asanyarray", "reshape", "ravel", "transpose", "squeeze", "expand_dims",
    "swapaxes", "moveaxis", "rollaxis", "atleast_1d", "atleast_2d", "atleast_3d",
    "broadcast_to", "broadcast_arrays", "diag", "diagonal", "real", "imag", "flip", "fliplr",
    "flipud", "rot90", "split", "array_split", "hsplit", "vsplit", "dsplit", "matrix_transpose",
    "permute_dims", "asfortranarray", "ascontiguousarray", "require", "sliding_window_view",
    "unstack", "nan_to_num", "real_if_close", "conj", "conjugate", "einsum", "as_strided",
    "trim_zeros", "asarray_chkfinite", "astype", "asmatrix",
}  # fmt: skip
VIEW_METHODS = {
    "reshape", "ravel", "view", "transpose", "squeeze", "swapaxes", "diagonal", "T", "mT",
    "real", "imag", "flat", "__array__", "conj", "conjugate",  # (of a real array: itself)
}  # fmt: skip
# Methods whose result is a new object (or a number), whatever they are called on.
FRESH_METHODS = {
    "copy", "astype", "sum", "mean", "prod", "max", "min", "std", "var", "cumsum", "cumprod",
    "dot", "item", "tolist", "argmax", "argmin", "any", "all", "clip", "round", "flatten",
    "keys", "index", "count", "nonzero", "argsort", "trace", "__len__",
}  # fmt: skip
FRESH_BUILTINS = {
    len, float, int, bool, abs, round, range, isinstance, str, repr, hash, id, divmod,
    pow, print, any, all, complex,
}  # fmt: skip
# The helpers giving the new value of an array ``np.add.at`` and its kin update, and a
# Tensor's clone: a copy, holding none of their arguments.
NEW_VALUES = (rt_module.add_at, rt_module.subtract_at, rt_module.multiply_at, rt_module.ufunc_at,
              rt_module.tensor_methods.clone)  # fmt: skip
# Functions whose result may be an argument, a view of one, or hold one.
HOLDING = (operator.getitem, functools.partial, copy.copy)
NUMBERS = {"ndim", "size", "shape", "dtype", "itemsize", "nbytes", "strides"}  # no aliases
# the helpers by which a name follows an update of an object it may share
FOLLOWS = (rt_module.follow, rt_module.follow_detached)
# what a free name holding code (not data) holds
CODE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
        type, functools.partial)  # fmt: skip
JOINING = (gast.Add, gast.Mult)  # ``xs + ys``, ``xs * 2``: lists that share entries


def is_update(s: gast.stmt) -> str | None:
    """The name whose object ``s`` updates in place, if it does: ``h[i] = v``, and the
    rebinding normalize marks ``inplace`` (``h = t`` of ``h += v``, ``xs =
    rt.appended(xs, v)``, ...)."""
    if not isinstance(s, gast.Assign):
        return None
    target = s.targets[0]
    if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
        return target.value.id
    if facts(s).inplace and isinstance(target, gast.Name):
        return target.id
    return None


class Sharing:
    """Which names may share an object (union-find over names), from the assignments of
    a normalized function; ``callers``: the names that may hold the caller's objects."""

    def __init__(self, parsed: Parsed, fn: gast.FunctionDef, arrays: frozenset[str]):
        self.updated_params: tuple[str, ...] = ()  # see caller_updates
        # of those, the ones given another object on some path: the name of the flag
        # saying the call took it (the final object is then not the caller's to write back)
        self.rebound_flags: dict[str, str] = {}
        # the name holding the objects the parameters hold as the function starts, which
        # each update of one the caller may hold checks its object against (see
        # ``insert_follows``); None where no update is so checked
        self.given: str | None = None
        self.checked_given = False  # an update checks it: the function takes them first
        self.updated_by_name: tuple[str, ...] = ()  # of those, updated through their name
        # in Tensor code, per name given an entry of another read by indexing or a loop
        # (``t = a[0]``, ``for t in a:``), those others: a 0-d Tensor there is a view
        self.entry_bases: dict[str, set[str]] = {}
        self.tensors = False  # the function computes with Tensors (see insert_follows)
        self.p = parsed
        self.locals = local_names(fn)
        self.params = set(params_of(fn))
        self.parent: dict[str, str] = {}
        # the same, but for the links a detached alias makes (``d = h.detach()``, ``h.data``
        # in Tensor code): ``h`` sees a write through ``d`` but keeps its own gradient
        self.attached: dict[str, str] = {}
        self.mixed: set[str] = set()  # names both a detached alias and not (on two paths)
        self.sequences = self.params - arrays  # may be lists: ``xs + ys`` shares entries
        # of the names taken for lists (sequences, built), those that may be arrays as
        # well: a parameter not known to be one, a product ``x * y`` of one (see
        # _follow_block)
        self.unsure: set[str] = set(self.sequences)
        self.array_params = self.params & arrays
        self.built: set[str] = set()  # lists, tuples and dicts the function builds itself
        self.copies: dict[str, set[str]] = {}  # ``a = b``: names of one object, surely
        self.holders: dict[str, set[str]] = {}  # the containers that may hold a name's object
        self.taken: set[str] = set()  # names given an entry or a field of another object
        self.alias_kinds: dict[str, set[bool]] = {}  # per name: detached aliasings or not
        self.copied_from: list[tuple[str, str]] = []  # ``a = b`` (a swap's ``a = t2`` too)
        assigned: dict[str, list[gast.expr]] = {}
        inplace: dict[str, list[gast.expr]] = {}  # the rebindings of updates in place
        for s in walk_statements(fn.body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                self.assignment(s.targets[0].id, s.value, facts(s).inplace)
                found = inplace if facts(s).inplace else assigned
                found.setdefault(s.targets[0].id, []).append(s.value)
            elif isinstance(s, gast.Assign) and isinstance(
                s.targets[0], (gast.Subscript, gast.Attribute)
            ):
                holder = s.targets[0].value
                if isinstance(holder, gast.Name):  # hs[i] = h (o.r = h): hs (o) holds h
                    for n in _names(s.value):
                        self.union(holder.id, n)
                        self.holders.setdefault(n, set()).add(holder.id)
        self.built = {n for n, values in assigned.items() if n in self.locals - self.params
                      and all(self.builds_container(v) for v in values)
                      and all(self.keeps_container(v, assigned)
                              for v in inplace.get(n, ()))}  # fmt: skip
        self.unsure |= {n for n in self.built if any(isinstance(v, gast.BinOp)
                                                     for v in assigned[n])}  # fmt: skip
        for n, values in inplace.items():
            assigned.setdefault(n, []).extend(values)
        self.copied_containers(assigned)
        # sharing through the function's own code alone (see ``shares_here``)
        self.own_roots = {n: self.find(n) for n in set(self.parent) | self.params}
        # The caller may pass one object twice, or an object and a container holding it
        # (``f(x, [a], a)``): an update of what one parameter holds may be seen through any
        # other, so each follows it (``rt.follow`` finds at run time whether it holds it).
        ordered = sorted(self.params)
        for a, b in zip(ordered, ordered[1:], strict=False):
            self.union(a, b)
        self.copied_kinds()
        detached = {n for n, kinds in self.alias_kinds.items() if True in kinds}
        self.mixed = {n for n in detached if False in self.alias_kinds[n]}

    def copied_kinds(self) -> None:
        """A name given another's object (``a = b``) is the alias that name is: a
        detached one where ``b`` is (``t1 = h.detach(); b = t1``), else an attached one
        (``a = h``); so a name given both (``a = h`` and later ``a, b = b, a``) is both."""
        while True:
            changed = False
            for target, source in self.copied_from:
                kinds = self.alias_kinds.get(source) or {False}
                held = self.alias_kinds.setdefault(target, set())
                if not kinds <= held:
                    held |= kinds
                    changed = True
            if not changed:
                return

    def shares_here(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` may share an object through the function's own code
        (an assignment, an entry, a view), not only as two parameters the caller may pass
        one object to."""
        return self.own_roots.get(a, a) == self.own_roots.get(b, b)

    def find(self, n: str, parent: dict[str, str] | None = None) -> str:
        parent = self.parent if parent is None else parent
        while parent.get(n, n) != n:
            n = parent[n]
        return n

    def union(self, a: str, b: str, detached: bool = False) -> None:
        for parent in (self.parent,) if detached else (self.parent, self.attached):
            ra, rb = self.find(a, parent), self.find(b, parent)
            if ra != rb:
                parent[ra] = rb
                parent.setdefault(rb, rb)

    def detached_only(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` may share an object only through a detached alias: a
        write through one changes the other's value, not its gradient."""
        return self.find(a, self.attached) != self.find(b, self.attached)

    def mixed_group(self, n: str) -> str | None:
        """A name in ``n``'s group that is a detached alias on one path and not on
        another: which gradient a write through it leaves depends on the path."""
        root = self.find(n, self.attached)
        found = [m for m in sorted(self.mixed) if self.find(m, self.attached) == root]
        users = [m for m in found if not re.fullmatch(r"t\d+", m)]  # (normalize's own)
        return (users or found or [None])[0]

    def group(self, n: str) -> set[str]:
        root = self.find(n)
        return {m for m in set(self.parent) | {n} if self.find(m) == root}

    def callers(self, n: str) -> bool:
        """Whether ``n`` may hold an object of the caller's (a parameter's, a global's)."""
        return any(m in self.params or m not in self.locals for m in self.group(n))

    def outside(self, n: str) -> bool:
        """Whether ``n`` may hold an object a global (or an object reached through one)
        holds: not only a parameter's. (The names of modules, functions and classes a
        statement reads share its group too, but hold no data of the user's.)"""
        return any(
            m not in self.params and m not in self.locals and self.holds_data(m)
            for m in self.group(n)
        )

    def holds_outside(self, m: str | None) -> bool:
        """Whether ``m`` is a global or closure variable holding data (its entries are
        objects every name holding them sees updated)."""
        return m is not None and m not in self.locals and self.holds_data(m)

    def holds_data(self, m: str) -> bool:
        """Whether the free name ``m`` holds data: not a module, a function or a class (an
        object of a user's class holds its fields, callable or not: a model)."""
        found, obj = self.p.resolve(m)
        return found and not (
            isinstance(obj, CODE) or callable(obj) and not rt_module.is_record(obj)
        )

    def assignment(self, target: str, v: gast.expr, update: bool = False) -> None:
        """Note what ``target = v`` shares (``update``: a rebinding done in place)."""
        if isinstance(v, (gast.Subscript, gast.Attribute)):
            self.taken.add(target)
        if isinstance(v, (gast.List, gast.Tuple, gast.ListComp)):
            self.sequences.add(target)
        if is_rt_call(v, "iterable", "unpacked", "reversible") and isinstance(v.args[0], gast.Name):
            v = v.args[0]  # a loop's (or an unpacking's) list is the list itself
        if isinstance(v, gast.Name):
            self.copies.setdefault(target, {target}).add(v.id)
            self.copies.setdefault(v.id, {v.id}).add(target)
        elif (
            isinstance(v, (gast.List, gast.Tuple, gast.Dict))
            or is_rt_call(v, *CONTAINER_HELPERS)
            or self.makes_partial(v)  # (it holds its arguments as a list holds its entries)
        ):
            for n in self.aliased(v):
                self.holders.setdefault(n, set()).add(target)
        aliased = self.aliased(v)
        detached = _is_detached(v)
        if isinstance(v, gast.Name) and not update and v.id != target:
            self.copied_from.append((target, v.id))  # (its kind is the kind of v's)
        elif aliased and not update and target not in aliased:  # (an update keeps its kind)
            self.alias_kinds.setdefault(target, set()).add(detached)
        for n in aliased:
            self.union(target, n, detached)

    def makes_partial(self, v: gast.expr) -> bool:
        """Whether ``v`` is a call of ``functools.partial`` (a function defined inside,
        used as a value, is made so)."""
        if not isinstance(v, gast.Call):
            return False
        found, obj = self.resolve(v.func)
        return found and obj is functools.partial

    def copied_containers(self, assigned: dict[str, list[gast.expr]]) -> None:
        """Note as ``taken`` (their entries' objects may be others', which an update of an
        entry in place changes: ``rt.entry_object`` tells when the code runs) the names
        given a new list or dict of another's entries (``list(l)``, ``sorted(l)``,
        ``l.copy()``, ``dict(d)``), and the names given one of those, or a list built here."""
        for n, values in assigned.items():
            if any(self.may_share_entries(v) for v in values):
                self.taken.add(n)
            for v in (v for v in values if self.copies_entries(v, assigned)):
                self.taken.add(n)
                sources = [v.func.value] if isinstance(v.func, gast.Attribute) else v.args[:1]
                for m in (m for e in sources for m in _names(e)):
                    self.union(n, m)  # the entries are the same objects
        changed = True
        while changed:  # ``m = t`` of a comprehension's list ``t``: the same list
            changed = False
            for n, values in assigned.items():
                if (
                    n not in self.taken
                    and n not in self.built
                    and any(
                        isinstance(v, gast.Name) and v.id in self.taken | self.built for v in values
                    )
                ):
                    self.taken.add(n)
                    changed = True

    def copies_entries(self, v: gast.expr, assigned: dict[str, list[gast.expr]]) -> bool:
        """Whether ``v`` makes a list, tuple or dict of another's entries."""
        if not isinstance(v, gast.Call):
            return False
        if isinstance(v.func, gast.Attribute) and v.func.attr == "copy" and not v.args:
            # a list's or a dict's copy (not an array parameter's or an array global's: its
            # rows are its own)
            owner = v.func.value
            return not (isinstance(owner, gast.Name) and owner.id in self.array_params
                        or self.array_global(owner, assigned))  # fmt: skip
        found, obj = self.resolve(v.func)
        return found and obj in (list, tuple, dict, sorted, reversed, copy.copy,
                                 rt_module.sorted_in_place)  # fmt: skip

    def array_global(self, e: gast.expr, assigned: dict[str, list[gast.expr]]) -> bool:
        """Whether ``e`` holds an array of numbers a global holds now (``GY``, ``NS.y``,
        ``G["w"]``, or a name given one of those once): its copy shares no objects."""
        found, obj = self.global_value(e, assigned, 0)
        return found and rt_module.tensor_methods.is_array(obj) and obj.dtype != object

    def global_value(self, e: gast.expr, assigned: dict[str, list[gast.expr]], depth: int
                     ) -> tuple[bool, object]:  # fmt: skip
        """The object ``e`` refers to now where it is a free name, an attribute of one or
        its dict's entry of a literal key (for an index of an array of numbers, that array:
        what it gives is of its kind); ``(False, None)`` where that is not known."""
        if isinstance(e, gast.Name) and e.id not in self.locals:
            return self.p.resolve(e.id)
        if isinstance(e, gast.Name) and len(assigned.get(e.id, ())) == 1 and depth < 8:
            return self.global_value(assigned[e.id][0], assigned, depth + 1)
        if isinstance(e, (gast.Attribute, gast.Subscript)):
            found, obj = self.global_value(e.value, assigned, depth + 1)
            if found and isinstance(e, gast.Attribute):
                obj = parse_attribute(obj, e.attr)
                return (obj is not MISSING), obj
            if found and type(obj) is dict and isinstance(e.slice, gast.Constant):
                return e.slice.value in obj, obj.get(e.slice.value)
            if found and isinstance(e, gast.Subscript) and isinstance(obj, np.ndarray):
                return obj.dtype != object, obj  # (an entry or a view of the same kind)
        return False, None

    def may_share_entries(self, v: gast.expr) -> bool:
        """Whether ``v`` may be a list or dict whose entries are objects other names (or
        other entries) hold: what a function of the user's returns (``p = init()``, ``w =
        p["w"]``), ``dict.fromkeys(ks, a)``, a container class's object (``OrderedDict``)."""
        if not isinstance(v, gast.Call):
            return False
        found, obj = self.resolve(v.func)
        if not found:
            return False
        if isinstance(obj, types.MethodType) and not isinstance(obj.__self__, type):
            obj = obj.__func__  # (a method of an object: its function's code)
        if isinstance(obj, types.FunctionType):
            module = obj.__module__ or ""
            return not module.startswith(("numpy", "srcdiff", "scipy"))
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, type) and issubclass(owner, (list, dict)):
            return True  # ``dict.fromkeys``
        return (isinstance(obj, type) and issubclass(obj, (list, dict))
                and obj not in (list, dict))  # fmt: skip

    def builds_container(self, v: gast.expr) -> bool:
        """Whether the value ``v`` is a list, tuple or dict built here (a display, a helper
        giving an updated one, a new one of another's entries: ``list(xs)``)."""
        if isinstance(v, (gast.List, gast.Tuple, gast.Dict)) or is_rt_call(v, *CONTAINER_HELPERS):
            return True
        if isinstance(v, gast.Call):
            found, obj = self.resolve(v.func)
            if found and obj in (list, tuple, dict, sorted):
                return True
        if isinstance(v, gast.BinOp) and isinstance(v.op, JOINING):
            return any(isinstance(e, (gast.List, gast.Tuple)) or
                       isinstance(e, gast.Name) and e.id in self.sequences
                       for e in (v.left, v.right))  # fmt: skip
        return False

    def keeps_container(self, v: gast.expr, assigned: dict[str, list[gast.expr]]) -> bool:
        """Whether ``xs = v``, the rebinding of an update in place, keeps the container
        ``xs`` was, its entries' objects untouched: ``v`` given by a helper rebinding
        entries (``rt.appended(xs, e)``), or the list ``xs += ys`` makes (not a callee's
        update, which may update the entries too)."""
        if not (isinstance(v, gast.Name) and v.id in assigned):
            return False
        return all(
            is_rt_call(u, *ENTRY_HELPERS)
            or is_rt_call(u, "augmented")
            and isinstance(u.args[1], gast.Name)
            and all(self.builds_container(w) for w in assigned.get(u.args[1].id, [None]))
            for u in assigned[v.id]
        )

    def followers(self, n: str) -> set[str]:
        """The names that may need to follow an in-place update of ``n``'s object. For a
        container built here, an update rebinds an entry: only the names of the container
        itself and the containers holding it see it, not the objects taken out of it."""
        if n not in self.built:
            return self.group(n)
        found: set[str] = set()
        todo = [n]
        while todo:
            m = todo.pop()
            for other in self.copies.get(m, {m}) | self.holders.get(m, set()):
                if other not in found:
                    found.add(other)
                    todo.append(other)
        return found | {n}

    def aliased(self, v: gast.expr) -> list[str]:
        """The names whose objects the value ``v`` may be, hold, or be a view of."""
        if isinstance(v, gast.Name):
            return [v.id]
        if isinstance(v, gast.Attribute) and v.attr in NUMBERS:
            return []
        if isinstance(v, (gast.Subscript, gast.Attribute)):
            return _names(v.value)
        if isinstance(v, (gast.List, gast.Tuple, gast.Set)):
            return [n for e in v.elts for n in _names(e)]
        if isinstance(v, gast.Dict):
            return [n for e in v.values for n in _names(e)]
        if isinstance(v, gast.BinOp) and isinstance(v.op, JOINING):
            operands = _names(v.left) + _names(v.right)
            if any(n in self.sequences for n in operands) or any(
                isinstance(e, (gast.List, gast.Tuple)) for e in (v.left, v.right)
            ):
                return operands
            return []
        if isinstance(v, gast.Call):
            return self.call_aliases(v)
        return []

    def call_aliases(self, call: gast.Call) -> list[str]:
        args = [n for a in call.args for n in _names(a)]
        args += [n for k in call.keywords for n in _names(k.value)]
        func = call.func
        if (
            isinstance(func, gast.Attribute)
            and isinstance(func.value, gast.Name)
            and (func.value.id in self.locals or self.holds_outside(func.value.id))
        ):  # a method of a local value, or of a global's (``GA.reshape(2, 2)``: a view)
            copies = not any(  # (``astype(t, copy=False)`` may give the array itself)
                k.arg == "copy" and not (isinstance(k.value, gast.Constant) and k.value.value)
                for k in call.keywords
            )
            if func.attr in FRESH_METHODS and copies:
                return []
            if func.attr in VIEW_METHODS:
                return [func.value.id]
            return [func.value.id, *args]
        found, obj = self.resolve(func)
        if not found:
            return args
        if obj in (rt_module.is_entry, rt_module.setitem, rt_module.put_back):
            return []
        if obj is rt_module.augmented:  # ``x <op>= v``: the new value (or a cast of it)
            return _names(call.args[1])
        if obj in NEW_VALUES:
            return []
        if obj is rt_module.tensor_methods.promoted:  # its first operand (or a cast of it)
            return _names(call.args[0])
        if (getattr(obj, "__module__", None) or "").startswith("srcdiff.runtime"):
            return args
        if obj in HOLDING:  # a view (``operator.getitem``), a partial holding them, ...
            return args
        if obj is builtins.sum:  # ``sum([], a)`` is ``a`` itself
            return [] if len(call.args) < 2 else args
        if type(obj).__hash__ is not None and obj in FRESH_BUILTINS:  # (a dataclass's: no)
            return []
        if obj in (builtins.list, builtins.tuple, builtins.dict, builtins.sorted, min, max):
            return args
        name_ = getattr(obj, "__name__", None)
        numpy = getattr(obj, "__module__", None) or ""
        if numpy.startswith("numpy") or type(obj).__name__ == "ufunc":
            return args if name_ in VIEW_FUNCTIONS else []
        known = registry.lookup(obj) is not None or registry.is_nondiff(obj)
        if known:
            return []
        if isinstance(obj, types.FunctionType) and returns_new(obj):
            return []  # a new array (``fwd(p, X)`` of ``return X @ p["w"]``): shares nothing
        if isinstance(obj, types.FunctionType) and obj.__globals__ is self.p.fn.__globals__:
            # a function of this module may return one of its globals (``def get():
            # return GY``): the result may be that object
            return args + [n for n in returned_globals(obj) if n not in self.locals]
        return args

    def resolve(self, func: gast.expr) -> tuple[bool, object]:
        return self.p.resolve_dotted(func, self.locals, {"rt": rt_module})


CONTAINER_HELPERS = {"appended", "extended", "inserted", "removed", "reversed_list", "cleared",
                     "updated", "setitem", "follow", "follow_detached"}  # fmt: skip
# those of them giving a container with entries rebound, the entries' objects untouched
ENTRY_HELPERS = CONTAINER_HELPERS - {"follow", "follow_detached"}


# the array versions of Tensor methods and attributes giving a detached alias of a Tensor
DETACHING = frozenset({"detach", "numpy", "data"})


def _is_detached(e: gast.expr) -> bool:
    """``rt.tensor_methods.detach(h)`` (``numpy``, ``data``): an alias without gradient."""
    return (isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute)
            and e.func.attr in DETACHING and isinstance(e.func.value, gast.Attribute)
            and e.func.value.attr == "tensor_methods" and isinstance(e.func.value.value, gast.Name)
            and e.func.value.value.id == "rt")  # fmt: skip


def _names(e: gast.expr | None) -> list[str]:
    if e is None:
        return []
    return [n.id for n in walk(e) if isinstance(n, gast.Name)]


# ---- liveness ----------------------------------------------------------------------------


def _reads(node: gast.AST | None) -> set[str]:
    if node is None:
        return set()
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}  # fmt: skip


def _defines(s: gast.stmt) -> set[str]:
    if isinstance(s, gast.Assign):
        return {n.id for t in s.targets for n in walk(t)
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}  # fmt: skip
    return set()


class Liveness:
    """The names each statement's successors may read before assigning them (in the
    body of a try with an except clause, an except clause may follow any statement).
    ``at_exit``: names read after the function returns or raises (its parameters: the
    caller's objects, which an update in place changes for the caller)."""

    def __init__(self, at_exit: set[str] | None = None) -> None:
        self.after: dict[int, set[str]] = {}
        self.handling: set[str] = set()  # what the except clauses around read first
        self.at_exit = at_exit or set()
        # per simple statement (by id; held, so no other takes its id): the names it
        # defines and those it reads, found once (a loop's body is taken several times)
        self.simple: dict[int, tuple[gast.stmt, set[str], set[str]]] = {}

    def block(self, body: list[gast.stmt], live: set[str], exit_: set[str],
              head: set[str]) -> set[str]:  # fmt: skip
        for s in reversed(body):
            live = self.stmt(s, live, exit_, head)
        return live

    def stmt(self, s: gast.stmt, live: set[str], exit_: set[str], head: set[str]) -> set[str]:
        self.after[id(s)] = live | self.handling
        return self.flow(s, live, exit_, head) | self.handling

    def flow(self, s: gast.stmt, live: set[str], exit_: set[str], head: set[str]) -> set[str]:
        if isinstance(s, gast.Try):  # the finally block may follow any statement too
            final = self.block(s.finalbody, live, exit_, head)
            outer = self.handling
            self.handling = outer | (final if s.finalbody else set())
            handling = set().union(
                *(self.block(h.body, final, exit_, head) | _reads(h.type) for h in s.handlers)
            )
            after_body = self.block(s.orelse, final, exit_, head)
            self.handling |= handling
            start = self.block(s.body, after_body, exit_, head)
            self.handling = outer
            return start
        if isinstance(s, gast.Return):
            return _reads(s.value) | self.at_exit
        if isinstance(s, gast.Break):
            return set(exit_)
        if isinstance(s, gast.Continue):
            return set(head)
        if isinstance(s, gast.Raise):
            return _reads(s) | self.at_exit
        if isinstance(s, gast.If):
            return (
                _reads(s.test)
                | self.block(s.body, live, exit_, head)
                | self.block(s.orelse, live, exit_, head)
            )
        if isinstance(s, (gast.For, gast.While)):
            target = {s.target.id} if isinstance(s, gast.For) else set()
            at_head = set(live)
            while True:
                start = self.block(s.body, at_head, live, at_head)
                new = at_head | (start - target)
                if new == at_head:
                    break
                at_head = new
            first = _reads(s.iter) if isinstance(s, gast.For) else _reads(s.test)
            return at_head | first
        if isinstance(s, gast.With):  # run as written: may read anything in it, and gives
            # values to the names its body assigns at its top (where it runs through)
            jumps = [n for n in walk(s) if isinstance(n, (gast.Break, gast.Continue))]
            left = (exit_ | head) if jumps else set()
            assigned = set().union(*(_defines(b) for b in s.body))
            return (live - assigned) | _reads(s) | left
        known = self.simple.get(id(s))
        if known is None:
            known = self.simple[id(s)] = (s, _defines(s), _reads(s))
        return (live - known[1]) | known[2]


# ---- following the updates ---------------------------------------------------------------


def insert_follows(parsed: Parsed, fn: gast.FunctionDef, names: Names,
                   arrays: frozenset[str] = frozenset(), returns: tuple[str, ...] = (),
                   numbers: frozenset[str] = frozenset(), wrt: tuple[str, ...] = (),
                   tensors: bool = False) -> Sharing:  # fmt: skip
    """Make every name that may share an updated object, and is read after the update,
    follow it (in place, in ``fn``'s body); return the sharing facts. ``arrays``: the
    parameters known to hold arrays (not lists); ``returns``: those whose final objects
    the function returns to its caller (``rt.returning``); ``numbers``: those given
    Python numbers; ``tensors``: the function computes with Tensors (an entry read by
    indexing one is a view of it, which compiled code holds as a number: its update in
    place is refused where the Tensor is read after it, ``rt.entry_in_place``).

    With parameters differentiated (``wrt``), the function starts by taking the objects
    its parameters hold (``rt.given_objects``), and each followed update of an object the
    caller may hold checks it against them (``rt.check_given``): one array, list or dict
    the caller gave twice, once through a parameter differentiated, and updated in place,
    has a gradient that cannot be told apart between the two names (compiled code would
    give it to one of them alone)."""
    numbers = number_names(fn, parsed, numbers)
    for s in walk_statements(fn.body):  # ``n += 1`` of a number makes a new one
        if facts(s).inplace and isinstance(s.targets[0], gast.Name) and s.targets[0].id in numbers:
            mark(s, inplace=False)
    fn.body = _numbers_augmented(fn.body, numbers)
    sharing = Sharing(parsed, fn, arrays)
    if tensors:
        sharing.entry_bases = _entry_bases(fn)
        sharing.tensors = True
    if wrt:
        sharing.given = names.fresh("given")
    refuse_finally_updates(parsed, fn)
    entry_updates(fn, sharing)
    params = set(params_of(fn))  # the caller's objects: seen by it after the call
    liveness = Liveness(params)
    liveness.block(fn.body, params, set(), set())
    read_here = Liveness()  # read again by the function itself
    read_here.block(fn.body, set(), set(), set())
    shown = shown_names(fn)
    fn.body = _follow_block(fn.body, sharing, liveness, names, read_here, shown, params, params)
    fn.body = _check_lengths(fn.body, {})
    if sharing.checked_given:
        take_given(fn, sharing, wrt)
    sharing.updated_params = caller_updates(fn)
    sharing.updated_by_name = caller_updates(fn, follows=False)
    # the final objects of these go to the caller: a list's or dict's written back into
    # the caller's (an array the caller passed is never changed), a returned one assigned
    handed = tuple(n for n in sharing.updated_params if n in returns or n not in arrays)
    rebound = rebound_after_update(fn, handed)
    if rebound is not None:
        n = rebound.targets[0].id
        raise parsed.error(
            f"the argument `{n}` is updated in place, then the name is given another object: "
            f"compiled code hands the caller the last object `{n}` names",
            rebound,
            f"give the new object another name, or update `{n}` only after it",
        )
    _flag_rebindings(fn, sharing, names)
    return sharing


# Tensor methods whose result is a view of the Tensor (or a tuple of views: ``unbind``),
# or a detached alias of it
TENSOR_VIEWS = {
    "select", "unbind", "narrow", "squeeze", "unsqueeze", "view", "reshape", "flatten", "t",
    "transpose", "permute", "expand", "chunk", "split", "diagonal", "movedim", "swapaxes",
    "swapdims", "unflatten", "detach", "data", "unfold", "as_strided",
}  # fmt: skip
TENSOR_VIEW_ATTRIBUTES = {"T", "mT", "H", "mH"}  # (views too)
ENTRY_BUILTINS = {"list", "tuple"}  # (a list or tuple of a Tensor's entries, 0-d views)


def _entry_bases(fn: gast.FunctionDef) -> dict[str, set[str]]:
    """Per name that may hold an entry of another name's value, read by indexing it, by
    a loop over it or by a view method (``t = a[0]``; ``for t in a:``, which normalize
    writes ``t = t6[i]`` of ``t6 = rt.unwrap(t1)``, ``t1 = rt.iterable(a)``; ``t =
    a.select(0, 2)``, ``a.unbind(0)[0]``, ``a.detach()[0]``, ``a.T[0]``, ``list(a)[0]``,
    ``hs[0][2]`` of ``hs = [a]``), and copies of one (``t, u = a[0], a[1]``): those
    names, and the names of the same object, of one it is a view or an entry of, or of a
    list or tuple holding it."""
    same: dict[str, set[str]] = {}  # ``y = x``, ``y = rt.unwrap(x)``, ``y = x.view(4)``
    found: dict[str, set[str]] = {}
    for s in walk_statements(fn.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            continue
        target, v = s.targets[0].id, s.value
        func = getattr(v, "func", None)
        view = (
            isinstance(func, gast.Attribute)
            and func.attr in TENSOR_VIEWS
            and rt_helper(func.value) == "tensor_methods"
            and v.args
            and isinstance(v.args[0], gast.Name)
        )
        if view:
            if func.attr == "select":  # (of a row: an entry; a detached alias is none)
                found.setdefault(target, set()).add(v.args[0].id)
            v = v.args[0]
        elif (
            isinstance(v, gast.Attribute)
            and v.attr in TENSOR_VIEW_ATTRIBUTES
            and isinstance(v.value, gast.Name)
        ):
            v = v.value
        elif (
            (
                isinstance(func, gast.Name)
                and func.id in ENTRY_BUILTINS
                and len(v.args) == 1
                and isinstance(v.args[0], gast.Name)
            )
            or is_rt_call(v, "unwrap", "iterable", "reversible")
            and v.args
        ):
            v = v.args[0]
        if isinstance(v, gast.Name):
            same.setdefault(target, set()).add(v.id)
        elif isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name):
            found.setdefault(target, set()).add(v.value.id)
            same.setdefault(target, set()).add(v.value.id)  # (a list's entry: an object)
        elif isinstance(v, (gast.List, gast.Tuple)):  # ``hs = [h]``: ``hs[0][2]`` is h's
            same.setdefault(target, set()).update(e.id for e in v.elts if isinstance(e, gast.Name))
    changed = True
    while changed:  # the names of the same object as a base; copies of an entry
        changed = False
        for bases in list(found.values()):
            more = {m for b in bases for m in same.get(b, ())} - bases
            if more:
                bases |= more
                changed = True
        for n, sources in same.items():
            more = {b for m in sources for b in found.get(m, ())} - found.get(n, set())
            if more:
                found.setdefault(n, set()).update(more)
                changed = True
    return found


def plain_assignments(fn: gast.FunctionDef) -> dict[str, list[gast.Assign]]:
    """Per name, the assignments giving it another object (not an update in place, nor
    the follow of one)."""
    found: dict[str, list[gast.Assign]] = {}
    for s in walk_statements(fn.body):
        if (
            isinstance(s, gast.Assign)
            and isinstance(s.targets[0], gast.Name)
            and not (facts(s).inplace or facts(s).follows)
        ):
            found.setdefault(s.targets[0].id, []).append(s)
    return found


def _flag_rebindings(fn: gast.FunctionDef, sharing: Sharing, names: Names) -> None:
    """Flag where a parameter whose object the caller gets back (``sharing.updated_params``)
    is given another object on a path (``if lst is None: lst = []``, ``if c: xs = GL``):
    where the call took it, the object the name ends with is not the caller's, and is not
    written back into it (``rt.unless_rebound``)."""
    given = plain_assignments(fn)
    for n in sharing.updated_params:
        assigned = given.get(n)
        if not assigned:
            continue
        flag = sharing.rebound_flags[n] = names.reserve(f"{n}_rebound")
        for s in assigned:
            insert_beside(fn.body, s, [_at(assign(flag, const(True)), s.lineno)], after=True)
        fn.body.insert(0, _at(assign(flag, const(False)), fn.lineno))


def take_given(fn: gast.FunctionDef, sharing: Sharing, wrt: tuple[str, ...]) -> None:
    """Start ``fn`` by taking the objects its parameters hold (``rt.given_objects``), which
    the checks of updates read (``sharing.given``)."""
    params = params_of(fn)
    values = gast.Tuple(elts=[name(p) for p in params], ctx=gast.Load())
    flags = const(tuple(p in wrt for p in params))
    taken = gast.Call(func=rt_attr("given_objects"), args=[values, flags], keywords=[])
    fn.body[:0] = [_at(assign(sharing.given, taken), fn.lineno)]


def _numbers_augmented(body: list[gast.stmt], numbers: set[str]) -> list[gast.stmt]:
    """``n = t2`` after ``t2 = rt.augmented(n, t1)`` of a number ``n`` as ``n = t1``: a
    number keeps no shape nor dtype (``n += 1`` makes a new one)."""
    out: list[gast.stmt] = []
    for s in body:
        rebuild_blocks(s, lambda inner: _numbers_augmented(inner, numbers))
        before = out[-1] if out else None
        if (
            isinstance(s, gast.Assign)
            and isinstance(s.targets[0], gast.Name)
            and s.targets[0].id in numbers
            and isinstance(s.value, gast.Name)
            and isinstance(before, gast.Assign)
            and isinstance(before.targets[0], gast.Name)
            and before.targets[0].id == s.value.id
            and is_rt_call(before.value, "augmented")
        ):
            out.pop()
            s.value = before.value.args[1]
        out.append(s)
    return out


NUMBER_MAKERS = frozenset({"len", "int", "float", "round", "abs", "bool"})  # (on numbers)


def number_names(fn: gast.FunctionDef, parsed: Parsed, params: frozenset[str] = frozenset()
                 ) -> set[str]:  # fmt: skip
    """The names of a normalized function that only ever hold Python numbers (immutable:
    an augmented assignment makes a new one): those bound only to numeric constants, to
    arithmetic of such names and constants, to ``len()`` or ``int()``, as the counter of a
    loop over ``range()``, or as one of the parameters ``params`` given numbers."""
    bindings: dict[str, list] = {}
    recognized: set[int] = set()
    for node in walk(fn):  # (parents before their children)
        if isinstance(node, gast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, gast.Name):
                bindings.setdefault(target.id, []).append(node.value)
                recognized.add(id(target))
        elif isinstance(node, gast.For) and isinstance(node.target, gast.Name):
            bindings.setdefault(node.target.id, []).append(("for", node.iter))
            recognized.add(id(node.target))
        elif (
            isinstance(node, gast.Name)
            and isinstance(node.ctx, (gast.Store, gast.Param))
            and id(node) not in recognized
        ):  # a parameter given a number, or any other binding: unknown
            given = isinstance(node.ctx, gast.Param) and node.id in params
            bindings.setdefault(node.id, []).append(gast.Constant(0, None) if given else None)
    local = set(bindings)
    numbers = set(bindings)
    values = [v[1] if isinstance(v, tuple) else v for vs in bindings.values() for v in vs]
    calls = [v for v in values if isinstance(v, gast.Call)]
    makers = {id(c): _builtin_called(c, parsed, local) for c in calls}
    while True:
        kept = {n for n in numbers
                if all(_is_number(v, numbers, makers) for v in bindings[n])}  # fmt: skip
        if kept == numbers:
            return numbers
        numbers = kept


def _is_number(v: gast.expr | tuple | None, numbers: set[str], makers: dict[int, str | None]
               ) -> bool:  # fmt: skip
    """Whether the binding ``v`` surely gives a number (``("for", iter)``: a loop's
    target), given the ``numbers`` names and the builtins the calls make (``makers``, by
    the call's id)."""
    if isinstance(v, tuple):
        return makers.get(id(v[1])) == "range"
    if isinstance(v, gast.Constant):
        return isinstance(v.value, (int, float))
    if isinstance(v, gast.Name):
        return v.id in numbers
    if isinstance(v, gast.BinOp):
        return _is_number(v.left, numbers, makers) and _is_number(v.right, numbers, makers)
    if isinstance(v, gast.UnaryOp):
        return _is_number(v.operand, numbers, makers)
    if is_rt_call(v, "augmented"):  # ``n += 1``
        return _is_number(v.args[1], numbers, makers)
    maker = makers.get(id(v))
    return maker in ("len", "int") or (
        maker in NUMBER_MAKERS and all(_is_number(a, numbers, makers) for a in v.args)
    )


def _builtin_called(e: gast.expr | str | None, parsed: Parsed, local: set[str]) -> str | None:
    """The name of the builtin ``e`` calls (``len(xs)``), where the name is the builtin's
    (not a ``local`` of the function, nor a global of the user's)."""
    if not (isinstance(e, gast.Call) and isinstance(e.func, gast.Name)) or e.func.id in local:
        return None
    found, obj = parsed.resolve(e.func.id)
    return e.func.id if found and obj is getattr(builtins, e.func.id, None) else None


def refuse_finally_updates(parsed: Parsed, fn: gast.FunctionDef) -> None:
    """Refuse an in-place update in the ``finally`` block of a try that returns a value:
    Python returns the object as the finally block leaves it (the array returned, a view
    of it, a container holding it, changed through any name or a callee), compiled code
    the value it had when the try returned."""
    for s in walk_statements(fn.body):
        if not isinstance(s, gast.Try) or not s.finalbody:
            continue
        tried = [*s.body, *(st for h in s.handlers for st in h.body), *s.orelse]
        if not any(isinstance(st, gast.Return) and not isinstance(st.value, gast.Constant)
                   for st in walk_statements(tried)):  # fmt: skip
            continue
        update = next((st for st in walk_statements(s.finalbody) if is_update(st)), None)
        if update is not None:
            changed = is_update(update)
            raise parsed.error(
                f"a finally block that changes `{shown_names(fn).get(changed, changed)}` in "
                "place after the try "
                "returns a value: Python returns the object as the finally block leaves it, "
                "compiled code its value before the finally block ran",
                update,
                "return a copy (`return y.copy()`), or make the change before returning",
            )


def rebound_after_update(fn: gast.FunctionDef, updated: tuple[str, ...]) -> gast.stmt | None:
    """The first plain assignment to a parameter ``fn`` updates in place, made after an
    update of it (in the order of the code): the caller's object is then no longer the
    one the name holds at the end."""

    def kinds(s: gast.stmt) -> tuple[str | None, str | None]:
        """The parameter ``s`` updates, and the name it plainly assigns."""
        target = s.targets[0].id if isinstance(s, gast.Assign) and isinstance(
            s.targets[0], gast.Name) else None  # fmt: skip
        written = is_update(s) or (target if facts(s).follows else None)
        return (written, None) if written is not None else (None, target)

    seen: set[str] = set()
    for s in walk_statements(fn.body):
        written, target = kinds(s)
        if written in updated:
            seen.add(written)
        elif target in seen:
            return s
        if isinstance(s, (gast.For, gast.While)):  # a later step follows an earlier one
            inside = [(st, *kinds(st)) for st in walk_statements(s.body)]
            looped = {w for _, w, _ in inside if w in updated}
            again = next((st for st, _, t in inside if t in looped), None)
            if again is not None:
                return again
    return None


def entry_updates(fn: gast.FunctionDef, sharing: Sharing) -> None:
    """``c[k] += v`` updates the object at ``c[k]`` in place where ``c`` is a list or
    dict the function builds or is passed (an array there is seen updated by every name
    holding it, as in Python); where ``c`` may be either (taken out of another object:
    a list, or an array) its followers learn which when the code runs
    (``rt.entry_object``, see ``_follow_block``); elsewhere (an array's row) it stays a
    write of a new value into ``c``, which the writes back of ``normalize.put`` carry."""
    kept = sharing.built | sharing.sequences
    read_here = Liveness()
    read_here.block(fn.body, set(), set(), set())
    fields = {  # ``v = s.v``: the names given an object's field
        st.targets[0].id: (st.value.value.id, st.value.attr)
        for st in walk_statements(fn.body)
        if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
        and isinstance(st.value, gast.Attribute) and isinstance(st.value.value, gast.Name)
    }  # fmt: skip

    def block(body: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for s in body:
            rebuild_blocks(s, block)
            holder = facts(s).entry_of
            if (
                facts(s).entry_update
                and holder not in kept
                and holder not in sharing.taken
                and not sharing.holds_outside(holder)
            ):
                if field_held(s):  # ``v = s.v; s.v += 1.0``: in place, as v sees
                    mark(s, entry_update=False, written_back=facts(s).written_back | {holder})
                else:
                    mark(s, drop=True)  # ``t = new`` then ``c[k] = t``: the write takes new
            out.append(s)
        result: list[gast.stmt] = []
        for i, s in enumerate(out):
            checks = field_alone(s, out[i - 1]) if i else []
            if facts(s).drop and not _puts(out[i + 1] if i + 1 < len(out) else None, s):
                # a write by a setter (``h.data *= 3``: rt.tensor_methods.set_data(h, t)):
                # an update in place of the attribute's object, which its names follow
                mark(s, drop=False, entry_update=False)
            if result and facts(result[-1]).drop:
                copy_ = result.pop()
                s.value = copy_.value  # the put right after the copy stores its value
                cast = result[-1] if result else None
                if (
                    isinstance(cast, gast.Assign)
                    and is_rt_call(cast.value, "augmented")
                    and isinstance(s.value, gast.Name)
                    and cast.targets[0].id == s.value.id
                ):  # (a write into an array casts the value itself: ``h[i] += v``)
                    s.value = result.pop().value.args[1]
            result.extend(checks)
            result.append(s)
        return result

    def field_held(s: gast.Assign) -> bool:
        """Whether ``s`` is the update of ``s.v += 1.0`` (the field's object changed in
        place) and another name that may hold the field's object (given the field, ``v =
        s.v``, or given to the object, ``s = S(v)``) is read after it."""
        field = fields.get(s.targets[0].id)
        if field is None:
            return False
        shared = sharing.group(field[0]) - {field[0], s.targets[0].id} - fields.keys()
        others: set[str] = set(shared)
        todo = [n for n, f in fields.items() if f == field and n != s.targets[0].id]
        while todo:
            n = todo.pop()
            if n not in others:
                others.add(n)
                todo.extend(sharing.copies.get(n, ()))
        return bool(others & read_here.after[id(s)])

    def field_alone(put: gast.stmt, update: gast.stmt) -> list[gast.stmt]:
        """Before ``p.a = t`` of ``p.a *= 2`` (``update``: ``t``'s update in place): the
        check that no other field of ``p`` holds the field's object, which in Python would
        see the update too (read through ``p``, or a name given the field before)."""
        if not (isinstance(put, gast.Assign) and facts(update).inplace
                and _puts(put, update)):  # fmt: skip
            return []
        target = put.targets[0]
        if not (isinstance(target, gast.Attribute) and isinstance(target.value, gast.Name)):
            return []
        holder = target.value.id
        args = [name(holder), const(target.attr), const(holder)]
        check = gast.Call(func=rt_attr("check_field_alone"), args=args, keywords=[])
        return [_at(gast.Expr(value=check), put.lineno)]

    fn.body = block(fn.body)


def _puts(s: gast.stmt | None, update: gast.Assign) -> bool:
    """Whether ``s`` writes the value ``update`` gave its name back, as its whole value
    (``c[k] = t`` after ``t = new``), so that it can store ``new`` directly."""
    target = update.targets[0]
    return (
        isinstance(s, gast.Assign)
        and isinstance(s.value, gast.Name)
        and isinstance(target, gast.Name)
        and s.value.id == target.id
    )


def caller_updates(fn: gast.FunctionDef, follows: bool = True) -> tuple[str, ...]:
    """The parameters whose objects (the caller's) the function may update in place: an
    update (or, with ``follows``, a follow) of the parameter's name before any plain
    assignment to it that surely runs first (``xs = list(xs)`` makes later updates the
    function's own). Without ``follows``: those it surely updates, by their own name."""
    params = params_of(fn)
    found: list[str] = []

    def visit(body: list[gast.stmt], own: set[str], certain: bool) -> None:
        for s in body:
            target = s.targets[0].id if isinstance(s, gast.Assign) and isinstance(
                s.targets[0], gast.Name) else None  # fmt: skip
            written = is_update(s) or (target if follows and facts(s).follows else None)
            if written in params and written not in own and written not in found:
                found.append(written)
            elif target is not None and written is None and certain:
                own.add(target)
            for inner in blocks(s) if not isinstance(s, gast.With) else []:
                visit(inner, set(own), False)

    visit(fn.body, set(), True)
    return tuple(p for p in params if p in found)


_RETURNED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def returned_globals(fn: types.FunctionType) -> tuple[str, ...]:
    """The globals whose objects (or entries, fields, views) ``fn`` may return, by its
    source: ``return GY``, ``return G["y"]``, ``return GY[:2]``."""
    found = _RETURNED.get(fn)
    if found is None:
        try:
            tree = parse(fn).tree
        except CompileError:
            return ()
        own = local_names(tree)
        found = _RETURNED[fn] = tuple(sorted({
            root for r in walk(tree) if isinstance(r, gast.Return) and r.value is not None
            for root in [root_name(r.value) if isinstance(r.value, (gast.Subscript, gast.Attribute))
                         else getattr(r.value, "id", None)]
            if root is not None and root not in own
        }))  # fmt: skip
    return found


# ---- what a function of the user's returns -----------------------------------------------

# methods whose result is a new array or number, whatever array they are called on
NEW_VALUE_METHODS = frozenset({
    "sum", "mean", "prod", "max", "min", "std", "var", "cumsum", "cumprod", "dot",
    "argmax", "argmin", "any", "all", "clip", "round", "flatten", "nonzero", "argsort",
    "trace", "__len__", "astype",
})  # fmt: skip
# methods that store nothing they are given into their object (their result may be it,
# a view or an entry of it, or what they are given: ``d.get(k, default)``)
KEEPING_METHODS = FRESH_METHODS | VIEW_METHODS | {"get", "items", "values", "keys", "tolist"}
# builtins that store nothing: their result holds what they are given, or is new
KEEPING_BUILTINS = (list, tuple, dict, sorted, reversed, zip, enumerate, min, max, sum, iter,
                    next, set, frozenset)  # fmt: skip
_RETURNS_NEW: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def returns_new(fn: types.FunctionType) -> bool:
    """Whether ``fn`` surely returns an object of its own making that holds no object it
    was given or reads from outside (a new array or number: ``return X @ p["w"] +
    p["b"]``), and stores no object it is given into another (so that a call of it makes
    none of its arguments share an object with its result, or with each other). Found
    from its source, strictly: anything else (a view, an entry, a name given a global's
    object, a call of a function not known to store nothing, a generator) is False."""
    found = _RETURNS_NEW.get(fn)
    if found is None:
        _RETURNS_NEW[fn] = False  # while it is being found: a recursive call may return anything
        try:
            found = _NewValues(parse(fn)).returns_new()
        except CompileError:  # (said at its own line when it is compiled)
            found = False
        _RETURNS_NEW[fn] = found
    return found


class _NewValues:
    """Which names of a function's source hold only objects it made itself (arrays and
    numbers computed, containers of those): the largest such set."""

    def __init__(self, parsed: Parsed):
        self.p = parsed
        self.tree = parsed.tree
        self.locals = local_names(self.tree)
        self.fresh = self.locals - set(params_of(self.tree))

    def returns_new(self) -> bool:
        nodes = list(walk(self.tree))
        if any(isinstance(n, (gast.Lambda, gast.Yield, gast.YieldFrom, gast.Await, gast.Global,
                              gast.Nonlocal, gast.ClassDef, gast.AsyncFunctionDef))
               or isinstance(n, gast.FunctionDef) and n is not self.tree
               for n in nodes):  # fmt: skip
            return False
        bindings = self.bindings(nodes)
        while True:
            kept = {
                n
                for n in self.fresh
                if all(v is not None and self.new(v) for v in bindings.get(n, [None]))
            }
            if kept == self.fresh:
                break
            self.fresh = kept
        for n in nodes:
            if isinstance(n, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
                targets = n.targets if isinstance(n, gast.Assign) else [n.target]
                stored = any(isinstance(t, (gast.Subscript, gast.Attribute))
                             for target in targets for t in walk(target))  # fmt: skip
                if stored and n.value is not None and not self.new(n.value):
                    return False  # ``h[0] = p``, ``o.w = p``: h (o) holds p
            elif isinstance(n, gast.Call) and self.call(n) is None:
                return False  # (it may store what it is given into another)
            elif isinstance(n, gast.Return) and n.value is not None and not self.new(n.value):
                return False
        return True

    def bindings(self, nodes: list[gast.AST]) -> dict[str, list[gast.expr | None]]:
        """Per local name, the values it is given (None: one not known, ``for``'s entry
        of a list, an ``except``'s exception, a ``with``'s object, a module imported)."""
        found: dict[str, list[gast.expr | None]] = {}
        for node in nodes:
            if isinstance(node, (gast.Assign, gast.AnnAssign, gast.NamedExpr)):
                targets = node.targets if isinstance(node, gast.Assign) else [node.target]
                value = node.value
            elif isinstance(node, gast.AugAssign):  # ``xs += ys`` extends xs with ys's entries
                targets = [node.target]
                value = node.value if isinstance(node.op, JOINING + (gast.BitOr,)) else const(0)
            elif isinstance(node, gast.For):  # of a range, or of a new array: new numbers
                targets, value = [node.target], node.iter
            elif isinstance(node, gast.comprehension):
                targets, value = [node.target], None
            elif isinstance(node, (gast.withitem, gast.ExceptHandler, gast.alias)):
                bound = getattr(node, "optional_vars", None) or getattr(node, "name", None)
                targets, value = [bound] if isinstance(bound, gast.AST) else [], None
            else:
                continue
            for target in targets:
                for n in walk(target):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        found.setdefault(n.id, []).append(value)
        return found

    def new(self, e: gast.expr) -> bool:
        """Whether the value ``e`` is a new object holding none but new objects (or a
        view or an entry of one), by the names ``self.fresh``."""
        if isinstance(e, (gast.Constant, gast.JoinedStr, gast.UnaryOp, gast.Compare)):
            return True  # (``-x``, ``a < b``: a new array or number)
        if isinstance(e, gast.Name):
            return e.id in self.fresh
        if isinstance(e, gast.BinOp):
            if not isinstance(e.op, JOINING + (gast.BitOr,)):
                return True  # ``a - b``, ``a @ b``: a new array or number
            # ``xs + ys`` of lists (``d | e`` of dicts) holds their entries: new where they
            # are, or where one operand is surely an array (or a number): then arithmetic
            return all(map(self.new, (e.left, e.right))) or any(
                map(self.numeric, (e.left, e.right))
            )
        if isinstance(e, gast.Attribute) and e.attr in NUMBERS:
            return True
        if isinstance(e, (gast.Subscript, gast.Attribute, gast.Starred)):
            return self.new(e.value)
        if isinstance(e, (gast.List, gast.Tuple, gast.Set)):
            return all(map(self.new, e.elts))
        if isinstance(e, gast.Dict):
            return all(map(self.new, e.values))
        if isinstance(e, gast.IfExp):
            return self.new(e.body) and self.new(e.orelse)
        if isinstance(e, gast.BoolOp):
            return all(map(self.new, e.values))
        if isinstance(e, gast.Call):
            return self.call(e) is True
        return False  # (a comprehension's entries, a lambda's closure, ...)

    def numeric(self, e: gast.expr) -> bool:
        """Whether ``e`` is surely an array or a number (not a list, a tuple or a dict)."""
        if isinstance(e, gast.Constant):
            return isinstance(e.value, (float, complex))  # (``[a] * 2`` repeats a list)
        if isinstance(e, gast.UnaryOp):
            return True
        if isinstance(e, gast.BinOp):
            if isinstance(e.op, JOINING + (gast.BitOr,)):
                return self.numeric(e.left) or self.numeric(e.right)
            return not isinstance(e.op, gast.Mod)  # (``"%s" % x``: a string)
        if isinstance(e, gast.Call):
            return self.call(e) is True and self.numpy(e.func)
        return False

    def numpy(self, func: gast.expr) -> bool:
        found, obj = self.p.resolve_dotted(func, self.locals)
        module = (getattr(obj, "__module__", None) or "") if found else ""
        return found and (module.split(".")[0] in ("numpy", "math")
                          or type(obj).__name__ == "ufunc")  # fmt: skip

    def call(self, c: gast.Call) -> bool | None:
        """None where the call may store an object it is given into another (or do what
        is not known); else whether its result is new (as ``new`` says)."""
        given = [*c.args, *(k.value for k in c.keywords)]
        everything_new = all(map(self.new, given))
        if any(k.arg == "out" for k in c.keywords):  # the result is ``out``
            return False if self.numpy(c.func) else (None if not everything_new else False)
        copies = not any(
            k.arg == "copy" and not (isinstance(k.value, gast.Constant) and k.value.value)
            for k in c.keywords
        )
        found, obj = self.p.resolve_dotted(c.func, self.locals)
        if not found:
            if not isinstance(c.func, gast.Attribute):
                return None  # (a local called)
            attr = c.func.attr
            if attr in NEW_VALUE_METHODS:
                return copies
            if attr in KEEPING_METHODS:
                return False
            # a method of a value of its own, given only new objects: they stay new
            return False if everything_new and self.new(c.func.value) else None
        if self.numpy(c.func):
            name_ = getattr(obj, "__name__", "")
            return copies and name_ not in VIEW_FUNCTIONS | VIEW_METHODS
        if type(obj).__hash__ is not None and obj in FRESH_BUILTINS:
            return True
        if type(obj).__hash__ is not None and obj in KEEPING_BUILTINS:
            return everything_new
        if isinstance(obj, types.FunctionType) and not (obj.__module__ or "").startswith(
            ("srcdiff", "numpy", "scipy")
        ):
            return True if returns_new(obj) else None
        # anything else (a global's method, srcdiff's helpers): given new objects alone, it
        # stores none of the caller's; its result may be anything
        return False if everything_new else None


_UPDATED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def updated_params(fn: types.FunctionType) -> tuple[str, ...]:
    """The parameters of a user's function that it may update in place (its source
    normalized, see ``caller_updates``); none for a function without source."""
    if fn is dataclasses.replace:  # (it fills in its own ``**changes``: see rt.replacer)
        return ()
    found = _UPDATED.get(fn)
    if found is None:
        _UPDATED[fn] = ()  # while it is being found: a recursive call updates nothing more
        try:
            parsed = parse(fn)
            found = caller_updates(normalize(parsed, Names(all_names(parsed.tree))))
        except CompileError:  # said again, at its line, when the function is compiled
            found = ()
        _UPDATED[fn] = found
    return found


def shown_names(fn: gast.FunctionDef) -> dict[str, str]:
    """How messages name the temporaries normalize made for entries and attributes:
    ``t1`` of ``t1 = outer[0]`` is ``outer[0]``."""
    shown = {}
    for s in walk_statements(fn.body):
        if (
            isinstance(s, gast.Assign)
            and isinstance(s.targets[0], gast.Name)
            and isinstance(s.value, (gast.Subscript, gast.Attribute))
            and re.fullmatch(r"t\d+", s.targets[0].id)
        ):
            shown[s.targets[0].id] = expr(s.value)
    return shown


def _follow_block(body: list[gast.stmt], sharing: Sharing, liveness: Liveness, names: Names,
                  read_here: Liveness, shown: dict[str, str], bound: set[str], sure: set[str]
                  ) -> list[gast.stmt]:  # fmt: skip
    """``body`` with the follows of its updates; ``bound``: the local names that may
    hold a value where it starts (a name no path has bound yet shares nothing), ``sure``
    those that do on every path."""
    out: list[gast.stmt] = []
    sharers = _sharers_before(body)
    bound, sure = set(bound), set(sure)
    for s in body:
        stored = {
            n.id for n in walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
        }
        if not isinstance(s, gast.With):  # (inside, what any of its blocks binds: a loop's
            inside = bound | stored  # next step, or an except clause, may see it)
            rebuild_blocks(s, lambda inner, inside=inside, known=set(sure): _follow_block(
                inner, sharing, liveness, names, read_here, shown, inside, known))  # fmt: skip
        bound |= stored
        if isinstance(s, gast.Assign):
            sure |= {t.id for t in s.targets if isinstance(t, gast.Name)}
        written = is_update(s)
        if written is None:
            out.append(s)
            continue
        mark(s, callers=sharing.callers(written), outside=sharing.outside(written))
        # a parameter read only by the caller follows where the code shares it with the
        # update's object: the caller's passing one object twice is followed where read
        seen_by = sharers[id(s)].get(written)  # (an object made here: by these alone)
        # (a global holding the object Python's ``h += v`` changes sees the change, read
        # later here or not: where it holds it, the change is refused, see check_unchanged)
        # (the holder of ``z[1:] += v`` that may be an array or a list, ``unsure``: the
        # write back right after, ``z[1:] = t``, gives it the new value)
        back = facts(s).written_back | (
            {facts(s).entry_of} if facts(s).entry_update and facts(s).entry_of in sharing.unsure
            else set()
        )  # fmt: skip
        others = sorted(m for m in sharing.followers(written) - {written} - back
                        if (m in read_here.after[id(s)] or m in liveness.after[id(s)]
                            and sharing.shares_here(m, written)
                            or (facts(s).augments or sharing.tensors and written not in shown)
                            and sharing.holds_outside(m))
                        and (seen_by is None or m in seen_by)
                        and (m in bound or m not in sharing.locals))  # fmt: skip
        if not others:
            out.append(s)
            continue
        old = names.fresh(f"{written}_old")
        out.append(_at(assign(old, name(written)), s.lineno))
        if sharing.given is not None and sharing.callers(written):
            shown_names = ",".join(shown.get(n, n) for n in (written, *others))
            check = gast.Call(func=rt_attr("check_given"),
                              args=[name(sharing.given), name(old), const(shown_names)],
                              keywords=[])  # fmt: skip
            out.append(_at(gast.Expr(value=check), s.lineno))
            sharing.checked_given = True
        out.append(s)
        holder, kept = facts(s).entry_of, sharing.built | sharing.sequences
        if facts(s).entry_update and not facts(s).drop and holder not in kept:
            # an entry of a list (updated in place) or a row of an array (not an object
            # any name holds): which one, the holder's type tells when the code runs
            guarded = names.fresh(f"{written}_entry")
            value = gast.Call(func=rt_attr("entry_object"), args=[name(holder), name(old)],
                              keywords=[])  # fmt: skip
            out.append(_at(assign(guarded, value), s.lineno))
            old = guarded
        bases = [m for m in others if m in sharing.entry_bases.get(written, ())]
        if bases:  # ``t = a[0]; t += v`` on Tensors, ``a`` read after it
            label = const(f"{shown.get(bases[0], bases[0])},{shown.get(written, written)}")
            check = gast.Call(func=rt_attr("entry_in_place"), args=[name(old), label],
                              keywords=[])  # fmt: skip
            out.append(_at(gast.Expr(value=check), s.lineno))
        for m in others:
            label = const(f"{shown.get(m, m)},{shown.get(written, written)}")
            if (  # m may be an entry a callee changed, and the function reads it again
                facts(s).returned not in (None, m)
                and m in sharing.locals
                and m in read_here.after[id(s)]
                and (
                    m in sharing.taken
                    or written in sharing.holders.get(m, ())
                    or m in sharing.built | sharing.sequences
                )  # (a list holding an entry)
            ):
                shown_label = const(f"{shown.get(m, m)},{shown.get(written, written)}")
                check = gast.Call(func=rt_attr("check_entries"), args=[name(m), name(old),
                                  name(written), shown_label], keywords=[])  # fmt: skip
                out.append(_at(gast.Expr(value=check), s.lineno))
            if m in sharing.locals:
                mixed = sharing.mixed_group(written)
                if mixed is not None:
                    w_shown, m_shown = shown.get(written, written), shown.get(m, m)
                    through = "" if mixed == written else f" through `{mixed}`"
                    raise sharing.p.error(
                        f"an in-place write into `{w_shown}` reaches `{m_shown}`{through}; "
                        f"`{mixed}` is a detached alias on one path (or at one point: a tuple "
                        "assignment swapping names) and not on another, so which gradient "
                        f"`{m_shown}` keeps depends on where the alias was made",
                        s,
                        f"give `{mixed}` one kind of value on every path and at every point "
                        "(`.detach()` it, or `.clone()` it), or name the detached alias apart",
                    )
                helper = "follow_detached" if sharing.detached_only(m, written) else "follow"
                value = gast.Call(func=rt_attr(helper), args=[name(m), name(old), name(written),
                                                          label], keywords=[])  # fmt: skip
                followed = names.fresh()  # A-normal form: m = rt.follow(m, ...) in two steps
                rebind = _at(assign(m, name(followed)), s.lineno)
                mark(rebind, follows=True)  # m's object was updated in place (caller_updates)
                follow = [_at(assign(followed, value), s.lineno), rebind]
                if sharing.tensors and helper == "follow":  # ``d = s; d += 1`` of a 0-d
                    check = gast.Call(func=rt_attr("alias_in_place"),
                                      args=[name(m), name(old), label], keywords=[])  # fmt: skip
                    follow.insert(0, _at(gast.Expr(value=check), s.lineno))
                if m not in sure:  # (bound on some paths only: a later step's, a branch's)
                    unbound = gast.ExceptHandler(type=name("NameError"), name=None,
                                                 body=[_at(gast.Pass(), s.lineno)])  # fmt: skip
                    follow = [_at(gast.Try(body=follow, handlers=[_at(unbound, s.lineno)],
                                           orelse=[], finalbody=[]), s.lineno)]  # fmt: skip
                out.extend(follow)
            else:
                args = [name(m), name(old), name(written), label]
                check = gast.Call(func=rt_attr("check_unchanged"), args=args, keywords=[])
                out.append(_at(gast.Expr(value=check), s.lineno))
    return out


def _sharers_before(body: list[gast.stmt]) -> dict[int, dict[str, frozenset[str]]]:
    """For each statement of ``body`` (by id), the names known to hold an object made in
    the block, each with the names that may hold it too: an update in place of it is
    seen by those alone. A name given a Python number (``k = 0`` after ``for k in
    names``) is held by none (``k += 1`` makes a new number); one given a new object by
    arithmetic (``t1 = x + 0.0``) by the names it is copied to (``x = t1``), as long as
    each is used only as an operand of arithmetic (no view, no call, no container)."""
    numbers: set[str] = set()
    groups: dict[str, set[str]] = {}  # each name of a group maps to the group's one set
    before = {}
    for s in body:
        before[id(s)] = {**{n: frozenset(g) for n, g in groups.items()},
                         **dict.fromkeys(numbers, frozenset())}  # fmt: skip
        target = (s.targets[0].id if isinstance(s, gast.Assign)
                  and isinstance(s.targets[0], gast.Name) else None)  # fmt: skip
        value = s.value if isinstance(s, gast.Assign) else None
        operands: set[str] = set()
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            operands = {n.id for n in children(value) if isinstance(n, gast.Name)}
        copied = None  # ``x = t1`` (not ``o.r = t1``): x holds t1's object too
        if target is not None and isinstance(value, gast.Name) and value.id in groups:
            copied = value.id
        if is_rt_call(value, "augmented"):  # ``t2 = rt.augmented(x, t1)``: t1 (or a cast of
            first, new = value.args  # it), x read for its shape and dtype alone
            operands = {first.id} if isinstance(first, gast.Name) else set()
            if target is not None and isinstance(new, gast.Name) and new.id in groups:
                copied = new.id
        loaded, stored = set(), set()
        for n in walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                loaded.add(n.id)
            elif isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                stored.add(n.id)
        used = loaded - operands - {copied}
        for n in used & groups.keys():  # another object may see it: its group is lost
            for m in groups.get(n, set()) | {n}:
                groups.pop(m, None)
        kept = target in groups and is_update(s) == target  # ``x = t`` of ``x += v``
        stored -= {target} if kept else set()
        for n in stored:  # given another object: it leaves its group; in a block that
            group = groups.pop(n, None)  # may not run (or runs again), that group is not
            if group is not None and blocks(s):  # known after
                for m in group:
                    groups.pop(m, None)
            elif group is not None:
                group.discard(n)
        numbers -= stored
        if target is not None and is_update(s) == target:  # ``z = t1`` of ``z += v``: z
            for m in groups.pop(copied, set()) if copied else ():  # keeps its object, and
                groups.pop(m, None)  # t1 stands for it: t1's group is no more known
            continue
        if target is None:
            continue
        if _surely_number(value, frozenset(numbers)):
            numbers.add(target)
        elif isinstance(value, (gast.BinOp, gast.UnaryOp)):
            groups[target] = {target}
        elif copied is not None and copied in groups:
            groups[copied].add(target)
            groups[target] = groups[copied]
    return before


def _surely_number(v: gast.expr, numbers: frozenset[str]) -> bool:
    """Whether ``v`` gives a Python number: a numeric constant, a name of ``numbers``, or
    arithmetic of those."""
    if isinstance(v, gast.Constant):
        return type(v.value) in (int, float, complex, bool)
    if isinstance(v, gast.Name):
        return v.id in numbers
    if isinstance(v, gast.BinOp):
        return _surely_number(v.left, numbers) and _surely_number(v.right, numbers)
    if isinstance(v, gast.UnaryOp):
        return _surely_number(v.operand, numbers)
    if is_rt_call(v, "augmented"):
        return _surely_number(v.args[1], numbers)
    return False


def _check_lengths(body: list[gast.stmt], looped: dict[str, tuple[Iterated, str]]
                   ) -> list[gast.stmt]:  # fmt: skip
    """After each update in place of a sequence a loop runs over (``looped``: by name,
    the loop's sequences and how the user wrote it), the check that the loop still takes
    as many steps: Python would run over the entries gained, or stop early."""
    out: list[gast.stmt] = []
    for s in body:
        inner = looped
        iterated = facts(s).iterates if isinstance(s, gast.For) else None
        if iterated is not None:
            shown = ((iterated, text) for text in iterated.shown)
            inner = {**looped, **dict(zip(iterated.sequences, shown, strict=True))}
        if not isinstance(s, gast.With):  # (a with block's body is one opaque statement)
            rebuild_blocks(s, lambda b, inner=inner: _check_lengths(b, inner))
        out.append(s)
        written = is_update(s) or (
            s.targets[0].id if isinstance(s, gast.Assign) and facts(s).follows else None
        )
        if written in looped:
            iterated, shown = looped[written]
            args = [name(iterated.count), const(shown), *map(name, iterated.sequences)]
            check = gast.Call(func=rt_attr("check_length"), args=args, keywords=[])
            out.append(_at(gast.Expr(value=check), s.lineno))
    return out


def _at(s: gast.stmt, line: int) -> gast.stmt:
    s.lineno = line
    return s


def updates(body: list[gast.stmt]) -> Iterator[tuple[gast.stmt, str]]:
    """Every in-place update of a normalized body and the name it updates."""
    for s in walk_statements(body):
        written = is_update(s)
        if written is not None:
            yield s, written
