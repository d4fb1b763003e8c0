"""Stage 2c: arrays from outside the function, read before something may change them.

The adjoint runs after the primal has returned, and reads the arrays a global, a closure
or an object from outside holds as they are *then*: its own values are new objects that
nothing changes (see ``mutation``), but another object's array may have been changed in
place since the primal read it (``GY.fill(0)``, ``G["y"][:] = v``, ``np.copyto(GY, v)``,
``helper()`` writing into a global). The derivative would use the new values::

    t = np.sum(x * GY)      # d t / d x is GY as it is here
    GY.fill(5.0)            # ... and the adjoint would read it as it is here

So where such an array is read and something that may change an array of the outside
in place runs later (or in a later step of the same loop), the read takes a copy made
there (``rt.snapshot``, the identity to differentiate)::

    GY_1 = rt.snapshot(GY)
    t = np.sum(x * GY_1)

Functions that change no array of the outside (nearly all) are left as they are.
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import functools
import inspect
import re
import types
import weakref
from collections.abc import Callable
from typing import Any

import gast
import numpy as np

from ..rules import registry
from ..runtime.mutation import changed_after, mutable_array
from ..runtime.objects import is_record
from .ir import facts, mark
from .mutation import (
    FRESH_METHODS,
    VIEW_FUNCTIONS,
    VIEW_METHODS,
    Sharing,
    is_update,
    plain_assignments,
    shown_names,
    take_given,
)
from .normalize import (
    Names,
    Transformer,
    assign,
    blocks,
    const,
    insert_beside,
    is_rt_call,
    local_names,
    name,
    params_of,
    root_name,
    rt_attr,
    rt_helper,
    walk,
    walk_statements,
)
from .parse import Parsed, parse

# Array methods and NumPy functions that change an argument in place.
ARRAY_MUTATORS = frozenset({
    "fill", "sort", "partition", "put", "itemset", "resize", "setfield", "byteswap",
    "setflags", "shuffle", "copyto", "place", "putmask", "fill_diagonal", "at",
})  # fmt: skip
# Methods of lists, dicts and sets: they change the container, never an array.
CONTAINER_MUTATORS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault",
    "add", "discard", "popitem",
})  # fmt: skip
# Modules whose functions change no argument in place (NumPy's own are looked up).
PURE_MODULES = frozenset({
    "builtins", "math", "cmath", "operator", "itertools", "functools", "logging", "warnings",
    "time", "random", "numpy",  # (NumPy's change an array by out= or a method named so)
})  # fmt: skip
# Modules whose functions change their own state alone (``warnings.simplefilter``: its
# list of filters; ``warnings.warn``, from ``_warnings``: its registry), never an object
# they are given.
OWN_STATE_MODULES = frozenset({"warnings", "_warnings"})


def snapshot_outside_reads(parsed: Parsed, fn: gast.FunctionDef, names: Names,
                           sharing: Sharing, wrt: tuple[str, ...]) -> None:  # fmt: skip
    """Make each update of an object a global may hold be made in that object, and each
    read of an array from outside that something may change in place before the adjoint
    runs take a copy (in ``fn``'s body, in place); see the module's doc."""
    checked = False
    held = _outside_data(parsed, fn, sharing)
    apart = None  # the name of the objects they hold, where an update checks them
    surely = _surely_outside(fn, sharing)
    rebound = plain_assignments(fn)  # (a parameter given another object: a global's, maybe)
    for s in list(walk_statements(fn.body)):
        written = is_update(s)
        if written is not None and written in surely:
            _made_in_object(s, fn, sharing.given, written)
            checked = checked or sharing.given is not None
            continue
        if (
            written in sharing.locals
            and (written not in sharing.params or written in rebound)
            and sharing.outside(written)
        ):
            _made_in_object_if_held(
                s, sorted(filter(sharing.holds_outside, sharing.group(written)))
            )
        if (
            written in sharing.locals
            and held
            and any(m in sharing.params for m in sharing.group(written))
            and sharing.given is not None
        ):  # (an object the caller gave, not a global's own)
            apart = apart or names.fresh("outside")
            _check_apart(s, fn, written, apart, sharing.given)
            checked = True
    if apart is not None:
        values = gast.Tuple(elts=[name(n) for n in held], ctx=gast.Load())
        taken = _rt_call("outside_objects", values, const(",".join(held)))
        fn.body.insert(0, assign(apart, taken))
        fn.body[0].lineno = fn.lineno
    if checked and not sharing.checked_given:
        take_given(fn, sharing, wrt)
        sharing.checked_given = True
    changers = _Changers(parsed, sharing, fn)
    tests: dict[int, gast.Expr] = {}
    order = list(_simple_statements(fn.body, (), tests))
    changes = [(i, loops) for i, (s, loops) in enumerate(order) if changers.may_change(s)]
    if not changes:
        return
    _refuse_changes_after_calls(parsed, fn, order, changes, changers, tests)
    last = max(i for i, _ in changes)
    changing_loops = {id(loop) for _, loops in changes for loop in loops}
    for i, (s, loops) in enumerate(order):
        if (i < last or any(id(loop) in changing_loops for loop in loops)) and not any(
            i == j for j, _ in changes
        ):
            _snapshot_reads(s, fn, names, changers)


def _made_in_object(s: gast.Assign, fn: gast.FunctionDef, given: str | None, written: str
                    ) -> None:  # fmt: skip
    """Make an update of an object a global may hold in that object, as Python does
    (``g = GY; g[0] = 1.0``, ``y = G["y"]; y += 1``): compiled code would give the name a
    new value, which the global would not see. It first checks that the object is not
    also an argument's (``rt.check_not_given``), whose arrays compiled code never changes."""
    mark(s, in_object=True)
    if isinstance(s.targets[0], gast.Name):  # ``y = t`` of ``y += v``: t into y's object
        s.value = _rt_call("update_into", name(written), s.value)
    if given is not None:
        args = [name(given), name(written), const(written)]
        made = gast.Expr(value=_rt_call("check_not_given", *args))
        made.lineno = s.lineno
        insert_beside(fn.body, s, [made])


def _made_in_object_if_held(s: gast.Assign, held: list[str]) -> None:
    """Make an update of a name that may hold an object of the globals ``held`` (on one
    path, ``h = GA``; on another, ``h = np.zeros(2)``) in that object where it holds one
    when the code runs (``rt.update_if_outside``, ``rt.write_through``), as Python makes
    it; else it gives the name a new value, as compiled code does."""
    mark(s, held_outside=tuple(held))
    if isinstance(s.targets[0], gast.Name):  # ``y = t`` of ``y += v``
        mark(s, in_object=True)
        values = gast.Tuple(elts=[name(n) for n in held], ctx=gast.Load())
        s.value = _rt_call("update_if_outside", name(s.targets[0].id), s.value, values)


def _surely_outside(fn: gast.FunctionDef, sharing: Sharing) -> set[str]:
    """The local names that hold an object from outside wherever they are updated: each
    is only ever given a global (``y = GY``), an entry or a field of one (``y = G["y"]``,
    ``y = O.y``), or updated in place, and is not a parameter. (The sharing groups are
    the function's as a whole: a name they put with a global's object may hold one of its
    own at an update, whose new value must then be its own.)"""
    values: dict[str, list] = {}
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            values.setdefault(s.targets[0].id, []).append(s)
        elif not facts(s).no_grad:
            for n in walk(s.target) if isinstance(s, gast.For) else ():
                if isinstance(n, gast.Name):
                    values.setdefault(n.id, []).append(None)  # a loop's: anything

    def from_outside(e: gast.expr, surely: set[str]) -> bool:
        """A global, or an entry or field of one or of a name holding one (``GL[i]``,
        ``l[0]`` of ``l = G["l"]``), or the list a loop runs over (``rt.iterable(GL)``)."""
        if is_rt_call(e, "iterable", "reversible"):
            e = e.args[0]
        root = root_name(e) if isinstance(e, (gast.Subscript, gast.Attribute)) else None
        if isinstance(e, gast.Name):
            root = e.id
        return root is not None and (
            root in surely or root not in sharing.locals and sharing.holds_data(root)
        )

    def kept(a: gast.Assign | None, surely: set[str]) -> bool:
        return a is not None and (
            facts(a).inplace or facts(a).follows or from_outside(a.value, surely)
        )

    surely = {  # (the largest such set: ``g3 = g2`` and ``g2 = g2`` stay)
        n for n, assigns in values.items()
        if n in sharing.locals and n not in sharing.params
        and any(a is not None and not (facts(a).inplace or facts(a).follows) for a in assigns)
    }  # fmt: skip
    while True:
        found = {n for n in surely if all(kept(a, surely) for a in values[n])}
        if found == surely:
            return surely
        surely = found


def _outside_data(parsed: Parsed, fn: gast.FunctionDef, sharing: Sharing) -> list[str]:
    """The globals and closure variables holding data the function reads, itself or
    through the functions of its module it calls (``helper(x)`` reading ``GY``)."""
    found = {n.id for n in walk(fn) if isinstance(n, gast.Name)
             and isinstance(n.ctx, gast.Load) and n.id not in sharing.locals
             and sharing.holds_data(n.id)}  # fmt: skip
    module = getattr(parsed.fn, "__globals__", None)
    calls = [parsed.resolve_dotted(c.func, sharing.locals) for c in walk(fn)
             if isinstance(c, gast.Call)]  # fmt: skip
    todo = [obj for known, obj in calls if known]
    seen: set[int] = set()
    unread = False  # a callee whose reads were not followed: any of the module's data
    while todo:
        callee = todo.pop()
        callee = getattr(callee, "__func__", callee)
        if (
            not isinstance(callee, types.FunctionType)
            or callee.__globals__ is not module
            or id(callee) in seen
        ):
            continue
        seen.add(id(callee))
        try:
            inner = parse(callee) if len(seen) <= 32 else None
        except Exception:  # (no source: its calls fail later, with their own message)
            inner = None
        if inner is None:
            unread = True
            continue
        own = local_names(inner.tree)
        for n in walk(inner.tree):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id not in own:
                known, obj = inner.resolve(n.id)
                if known and isinstance(obj, types.FunctionType):
                    todo.append(obj)
                elif n.id not in sharing.locals and sharing.holds_data(n.id):
                    found.add(n.id)  # (the same module's global: the same name here)
    if unread:
        found |= {n for n in module if n not in sharing.locals and sharing.holds_data(n)}
    return sorted(found)


def _check_apart(s: gast.Assign, fn: gast.FunctionDef, written: str, apart: str, given: str
                 ) -> None:  # fmt: skip
    """Before an update in place of an object the caller gave: refuse it where a global
    the function reads holds it too (``f(GA)`` with ``x += 1``; ``rt.check_apart``)."""
    args = [name(written), name(apart), name(given), const(written)]
    made = gast.Expr(value=_rt_call("check_apart", *args))
    made.lineno = s.lineno
    insert_beside(fn.body, s, [made])


def _refuse_changes_after_calls(parsed: Parsed, fn: gast.FunctionDef, order: list,
                                changes: list, changers: _Changers,
                                tests: dict[int, gast.Expr]) -> None:  # fmt: skip
    """Refuse a change of an array from outside that may run after a call of a function
    of the user's (later in its block, after the blocks around it, or in a later step of
    a loop around both): the function's derivative may read that array, and reads in its
    own code are not copied here. A change no path from the call reaches (after a
    ``return``, in the other branch) changes nothing it read. An update of a name that
    may hold such an array (``y = G["k"]; y += 1``) is refused where it runs, where it
    holds one (a number taken from a global is given a new value: nothing changes)."""
    checked: set[int] = set()
    shown = shown_names(fn)
    calls = {id(s): i for i, (s, _) in enumerate(order) if changers.user_callee(s) is not None}
    before = _CallsBefore(calls, tests).of(fn.body) if calls else {}
    for i, (s, _) in enumerate(order):
        callee = changers.user_callee(s) if id(s) in calls else None
        if callee is None:
            continue
        for j, _ in changes:
            if i not in before.get(id(order[j][0]), ()):
                continue
            changed = order[j][0]
            value = changed.value if isinstance(changed, gast.Assign) else None
            array = _changed_array(changed, shown)
            if not is_rt_call(value, "update_into", "update_if_outside"):
                what, hint = changed_after(callee, s.lineno, array)
                raise parsed.error(what, changed, hint)
            if id(changed) not in checked:  # (the first call before it names it)
                checked.add(id(changed))
                held = copy.deepcopy(value.args[2]) if len(value.args) > 2 else const(None)
                check = _rt_call("changed_after_call", copy.deepcopy(value.args[0]), held,
                                 const(callee), const(s.lineno), const(array))  # fmt: skip
                made = gast.Expr(value=check)
                made.lineno = changed.lineno
                insert_beside(fn.body, changed, [made])


def _changed_array(s: gast.stmt, shown: dict[str, str]) -> str:
    """How the user names the array ``s`` changes in place (``G`` of ``G[0] = v``,
    ``G.fill(0)``, ``h += 1``; ``CFG["y"]`` of a temporary normalize took it into), or ""
    where ``s`` names it only through a temporary of normalize's."""
    e: Any = None
    if isinstance(s, gast.Assign):
        value = s.value
        e = (
            value.args[0]
            if is_rt_call(value, "update_into", "update_if_outside")
            else (
                s.targets[0] if isinstance(s.targets[0], (gast.Subscript, gast.Attribute)) else None
            )
        )
    elif isinstance(s, gast.AugAssign):
        e = s.target
    elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
        e = s.value.func.value if isinstance(s.value.func, gast.Attribute) else None
    while isinstance(e, (gast.Subscript, gast.Attribute)):
        e = e.value
    if not isinstance(e, gast.Name):
        return ""
    return shown.get(e.id, "" if _TEMPORARY.fullmatch(e.id) else e.id)


_TEMPORARY = re.compile(r"t\d+")


def _rt_call(helper: str, *args: gast.expr) -> gast.Call:
    """``rt.<helper>(*args)``."""
    return gast.Call(func=rt_attr(helper), args=list(args), keywords=[])


def _simple_statements(body: list[gast.stmt], loops: tuple, tests: dict[int, gast.Expr]
                       ) -> Any:  # fmt: skip
    """Every statement that is not a block, in the order they are written, with the loops
    around it (a ``no_grad`` block counts as one statement; the test of an ``if`` or a
    ``while``, kept in ``tests`` by the statement's id, as one before its blocks)."""
    for s in body:
        if facts(s).no_grad or not blocks(s):
            yield s, loops
            continue
        inner = (*loops, s) if isinstance(s, (gast.For, gast.While)) else loops
        if isinstance(s, (gast.If, gast.While)):
            tests[id(s)] = gast.Expr(value=s.test)  # the test reads, but is not replaced
            yield tests[id(s)], inner
        for block in blocks(s):
            yield from _simple_statements(block, inner, tests)


class _CallsBefore:
    """Which of the statements ``calls`` (by id, to their index) may have run before each
    simple statement of a body (see ``_simple_statements``) runs: the calls on some path
    from the function's start to it, following branches, loops (a step after another),
    ``break``, ``continue``, ``return`` and ``raise`` (an except clause, or a finally
    block, may follow any statement of its try)."""

    def __init__(self, calls: dict[int, int], tests: dict[int, gast.Expr]):
        self.calls, self.tests = calls, tests
        self.before: dict[int, set[int]] = {}
        self.trying: list[set[int]] = []  # what may have run inside each try around
        self.loops: list[tuple[set[int], set[int]]] = []  # (at break, at continue)

    def of(self, body: list[gast.stmt]) -> dict[int, set[int]]:
        """For each simple statement's id, the indices of the calls that may precede it."""
        self.block(body, set())
        return self.before

    def block(self, body: list[gast.stmt], state: set[int]) -> set[int]:
        """The calls that may have run where ``body``, entered after ``state``, falls
        through to what follows it (none: it never does)."""
        for s in body:
            state = self.stmt(s, state)
        return state

    def simple(self, s: gast.stmt, state: set[int]) -> set[int]:
        self.before.setdefault(id(s), set()).update(state)
        after = state | {self.calls[id(s)]} if id(s) in self.calls else state
        for seen in self.trying:
            seen |= after
        return after

    def stmt(self, s: gast.stmt, state: set[int]) -> set[int]:
        if facts(s).no_grad or not blocks(s):
            after = self.simple(s, state)
            if isinstance(s, (gast.Return, gast.Raise)):
                return set()
            if isinstance(s, (gast.Break, gast.Continue)) and self.loops:
                self.loops[-1][isinstance(s, gast.Continue)].update(after)
                return set()
            return after
        if isinstance(s, gast.If):
            state = self.simple(self.tests[id(s)], state)
            return self.block(s.body, state) | self.block(s.orelse, state)
        if isinstance(s, (gast.For, gast.While)):
            head, exits = set(state), (set(), set())
            self.loops.append(exits)
            while True:  # (the sets only grow: a fixed point)
                at_test = self.simple(self.tests[id(s)], head) if id(s) in self.tests else head
                new = head | at_test | self.block(s.body, at_test) | exits[1]
                if new == head:
                    break
                head = new
            self.loops.pop()
            return self.block(s.orelse, head) | exits[0]
        if isinstance(s, gast.Try):
            self.trying.append(set(state))
            done = self.block(s.body, state)
            raised = self.trying[-1]
            handled = set().union(*(self.block(h.body, raised) for h in s.handlers))
            done = self.block(s.orelse, done) | handled
            seen = self.trying.pop()
            for outer in self.trying:
                outer |= seen
            return self.block(s.finalbody, done | seen) if s.finalbody else done
        for block in blocks(s):  # (any other block: run as written, or not at all)
            state = state | self.block(block, state)
        return state


def _snapshot_reads(s: gast.stmt, fn: gast.FunctionDef, names: Names, changers: _Changers
                    ) -> None:  # fmt: skip
    """Give the reads in ``s`` of arrays from outside a copy taken just before it."""
    if not isinstance(s, (gast.Assign, gast.Return)) or s.value is None:
        return
    if isinstance(s, gast.Assign) and (
        isinstance(s.value, gast.Name)
        or isinstance(s.targets[0], gast.Name)
        and changers.sharing.outside(s.targets[0].id)
    ):  # ``a = GY``, ``g = GY[:2]``: another name for it (or a view), copied where read
        return
    if (
        isinstance(s.value, gast.Compare)
        or _counts(s.value)
        or rt_helper(getattr(s.value, "func", None))
        in (
            "follow",
            "follow_detached",
            "entry_object",
            "update_into",
            "update_if_outside",
            "augmented",
            "outside_objects",
        )
    ):  # a flag, or srcdiff's bookkeeping of an update (which must see the objects
        # themselves, not copies): nothing an adjoint reads
        return
    reads = sorted({n.id for n in walk(s.value) if isinstance(n, gast.Name)
                    and isinstance(n.ctx, gast.Load) and changers.outside_array(n.id)})  # fmt: skip
    if not reads:
        return
    copies = {n: names.fresh(n) for n in reads}
    s.value = _Renamed(copies).visit(copy.deepcopy(s.value))  # (normalize shares nodes)
    made = []
    for original, taken in copies.items():
        made.append(assign(taken, _rt_call("snapshot", name(original))))
        made[-1].lineno = s.lineno
    insert_beside(fn.body, s, made)


def _counts(e: gast.expr) -> bool:
    """Whether ``e`` is ``len(...)``: a number, which nothing changes after."""
    return isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "len"


class _Renamed(Transformer):
    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node: gast.Name) -> gast.Name:
        if isinstance(node.ctx, gast.Load) and node.id in self.names:
            return name(self.names[node.id])
        return node


# The methods of arrays, numbers and Python's containers: a method of another name,
# called on a name the function holds, may be one of the user's (``obj.m(x)``).
_VALUE_METHODS = frozenset(
    name for kind in (np.ndarray, np.generic, list, dict, set, tuple, str, float, int, complex)
    for name in dir(kind)
)  # fmt: skip


class _Changers:
    """Which statements may change an array of the outside in place, and which names may
    hold one."""

    def __init__(self, parsed: Parsed, sharing: Sharing, fn: gast.FunctionDef):
        self.p, self.sharing = parsed, sharing
        self.locals = sharing.locals
        self.built: dict[str, list] = {}  # a local name: the classes built into it
        for s in walk_statements(fn.body):
            if (
                isinstance(s, gast.Assign)
                and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, gast.Call)
            ):
                found, cls = parsed.resolve_dotted(s.value.func, self.locals)
                if found and isinstance(cls, type):
                    self.built.setdefault(s.targets[0].id, []).append(cls)

    def outside_array(self, n: str) -> bool:
        """Whether ``n`` may hold an array from outside (not a parameter's: compiled code
        never writes into those, and a plain call it makes is checked where it is made)."""
        if n in self.sharing.params:
            return False
        if n not in self.locals:
            found, obj = self.p.resolve(n)
            return found and mutable_array(obj)
        return self.sharing.outside(n) or n in self.sharing.taken and self.sharing.callers(n)

    def may_change(self, s: gast.stmt) -> bool:
        if isinstance(s, gast.Expr) and is_rt_call(s.value, "put_attribute"):
            return True  # ``o.l[0] = v``: the field's list (or dict) is written in place
        written = is_update(s)
        if (
            written is not None
            and self.sharing.outside(written)
            and (written not in self.sharing.params or facts(s).held_outside)
        ):  # (a parameter's own object is given a new value, never changed)
            return True
        nodes = list(walk(s)) if facts(s).no_grad else _expressions(s)
        if facts(s).no_grad and any(  # ``with sd.no_grad(): GY[0] = v``
            isinstance(t, gast.Subscript) and self.outside_object(root_name(t) or "")
            for n in nodes
            if isinstance(n, (gast.Assign, gast.AugAssign))
            for t in (n.targets if isinstance(n, gast.Assign) else [n.target])
        ):
            return True
        return any(self.call_may_change(c) for c in nodes if isinstance(c, gast.Call))

    def call_may_change(self, call: gast.Call) -> bool:
        own = self.given_own(call)
        if any(k.arg == "out" for k in call.keywords):
            return not own
        func = call.func
        found, obj = self.p.resolve_dotted(func, self.locals)
        if _mutator_by_name(func, found, obj):
            return not own
        if rt_helper(func) is not None:  # srcdiff's helpers make new values (updates: is_update)
            return False
        if found:
            return callable_may_change(obj, own)
        if isinstance(func, gast.Attribute) and (
            func.attr in CONTAINER_MUTATORS or hasattr(np.ndarray, func.attr)
        ):  # (an array's method that changes nothing, or a list's or dict's)
            return False
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            # a method of an object: of one from outside, it may change anything
            return self.outside_object(func.value.id)
        return False

    def user_callee(self, s: gast.stmt) -> str | None:
        """The name of a function of the user's ``s`` calls (its derivative is not this
        function's code), if it calls one."""
        for c in _expressions(s):
            if not isinstance(c, gast.Call) or rt_helper(c.func) is not None:
                continue
            found, obj = self.p.resolve_dotted(c.func, self.locals)
            if not found:
                found, obj = self._method_of_built(c.func)
            if not found and self._held_function(c.func):
                shown = ast.unparse(gast.gast_to_ast(c.func))
                if not _TEMPORARY.fullmatch(shown.split(".")[0]):
                    return f"`{shown}`"
                if isinstance(c.func, gast.Attribute):
                    return f"a method `{c.func.attr}` of an object held as a value"
                return "a function held as a value"
            if (
                isinstance(c.func, gast.Name)
                and not (c.args or c.keywords)
                and getattr(obj, "__closure__", True) is None
            ):
                continue  # (given nothing and closing over nothing: no derivative to take)
            if isinstance(obj, types.MethodType):
                obj = obj.__func__
            elif found and is_record(obj) and callable(obj):  # an object called: its __call__
                obj = type(obj).__call__
            if (
                found
                and isinstance(obj, types.FunctionType)
                and not _known(obj)
                and not (obj.__module__ or "").startswith("srcdiff")
                and (reads_outside(obj) or self.given_outside(c))
            ):
                return f"`{obj.__qualname__}`"
        return None

    def _method_of_built(self, func: gast.expr) -> tuple[bool, Any]:
        """``m.step`` of a local ``m`` built by a class (``m = Model()``): the method of
        that class, where every class built into it has the same one."""
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)):
            return False, None
        methods = {
            id(m): m
            for cls in self.built.get(func.value.id, ())
            if (m := inspect.getattr_static(cls, func.attr, None)) is not None
        }
        if len(methods) != 1:
            return False, None
        (method,) = methods.values()
        return isinstance(method, types.FunctionType), method

    def _held_function(self, func: gast.expr) -> bool:
        """Whether ``func`` is a function held as a value (``k`` of ``k = h``, a
        parameter, ``fs[0]``, a partial, ``make()``) or a method of an object so held,
        not a parameter (``objs[0].m``, not an array's), known only when it runs: it may
        be the user's,
        whose derivative reads what it read."""
        if isinstance(func, gast.Name):
            return func.id in self.locals
        if isinstance(func, gast.Attribute) and func.attr not in _VALUE_METHODS:
            root = func.value
            return (
                isinstance(root, gast.Name)
                and root.id in self.locals
                and root.id not in self.sharing.params  # (``self.act``: its own class's)
                or isinstance(root, (gast.Subscript, gast.Call))
            )  # fmt: skip
        return isinstance(func, (gast.Subscript, gast.Call))

    def given_outside(self, call: gast.Call) -> bool:
        """Whether ``call`` is given an object from outside (``helper(x, GA)``), which
        the callee's derivative may read."""
        given = [*call.args, *(k.value for k in call.keywords)]
        return any(
            isinstance(n, gast.Name)
            and n.id not in self.sharing.params
            and (n.id not in self.locals and self.sharing.holds_data(n.id)
                 or n.id in self.locals and self.sharing.outside(n.id))
            for a in given
            for n in walk(a)
        )  # fmt: skip

    def given_own(self, call: gast.Call) -> bool:
        """Whether ``call`` is given (its receiver included) no object but the function's
        own: names of its own values, constants, modules and functions (``np.copyto(buf,
        v)`` with ``buf = np.zeros(3)``, ``helper(t)``). Nothing it changes in place is
        then from outside, unless it changes what it reads from outside itself."""
        for e in _given(call):
            for n in walk(e):
                if isinstance(n, (gast.Subscript, gast.Attribute)) and not isinstance(
                    n.ctx, gast.Load
                ):
                    return False
                if not isinstance(n, gast.Name):
                    continue
                if n.id in self.locals:
                    if n.id in self.sharing.params or self.sharing.outside(n.id):
                        return False
                elif self.sharing.holds_data(n.id):
                    return False
        return True

    def outside_object(self, n: str) -> bool:
        if n in self.sharing.params:
            return True
        return n not in self.locals or self.sharing.outside(n)


def _expressions(s: gast.stmt) -> Any:
    """The nodes of a simple statement's expressions that may hold a call: in normal form
    one operation per statement, so none but a call's (and a test's) own."""
    value = getattr(s, "value", None)
    return walk(value) if isinstance(value, gast.Call) else ()


_CHANGES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CHANGES_OUTSIDE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def callable_may_change(obj: Any, own: bool = False) -> bool:
    """Whether calling ``obj`` may change an array it did not make in place: a NumPy
    function with a rule does not, a user's function does where its source writes into
    an entry of an object it was given or reads from outside, or calls one that may.
    ``own``: the call is given none but the caller's own objects (see ``given_own``),
    which only a function changing what it reads from outside itself changes."""
    if isinstance(obj, types.MethodType):  # (its object is given: see ``given_own``)
        obj = obj.__func__
    if obj is dataclasses.replace:  # (it fills in its own ``**changes``: see rt.replacer)
        return False
    if isinstance(obj, functools._lru_cache_wrapper):  # its cache keeps hashable values alone
        return callable_may_change(obj.__wrapped__, own)
    known = _known(obj)
    if getattr(obj, "__module__", None) in OWN_STATE_MODULES and not isinstance(obj, type):
        return False
    if isinstance(obj, types.FunctionType) and not known:
        return _function_may_change(obj, own)
    if known:
        return not own and getattr(obj, "__name__", "") in ARRAY_MUTATORS
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, (np.random.Generator, np.random.RandomState, np.random.BitGenerator)):
        # a draw (``shuffle`` aside)
        return not own and getattr(obj, "__name__", "") in ARRAY_MUTATORS
    if isinstance(owner, np.ufunc):  # ``np.greater_equal.outer``: by its name (``.at``)
        return not own and getattr(obj, "__name__", "") in ARRAY_MUTATORS
    if mutable_array(owner):  # an array's method (``GA.reshape``): by its name
        return getattr(obj, "__name__", "") in ARRAY_MUTATORS
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] in PURE_MODULES or obj in vars(builtins).values():
        return False
    return not isinstance(obj, type)  # (a class: made anew)


def _scanned(found: weakref.WeakKeyDictionary, fn: types.FunctionType,
             scan: Callable[[Parsed], bool]) -> bool:  # fmt: skip
    """``scan`` of ``fn``'s parsed source, kept in ``found`` (True without source: it may
    do anything; False while it is being scanned: a recursive call adds nothing)."""
    known = found.get(fn)
    if known is not None:
        return known
    found[fn] = False
    try:
        parsed = parse(fn)
    except Exception:
        found[fn] = True
        return True
    found[fn] = result = scan(parsed)
    return result


def _function_may_change(fn: types.FunctionType, own: bool = False) -> bool:
    if own:
        return _scanned(_CHANGES_OUTSIDE, fn, lambda parsed: _changes_in(parsed, True))
    return _scanned(_CHANGES, fn, _changes_in)


def _changes_in(parsed: Parsed, given_own: bool = False) -> bool:
    """Whether the function may change in place an array it was given or reads from
    outside (``given_own``: only one it reads from outside; its arguments are its
    caller's own): an entry written, an augmented assignment of such a name, a method or
    function that changes its argument, or a call of one that may."""
    tree = parsed.tree
    names = local_names(tree)
    own = _own_names(parsed, names, given_own)
    for node in walk(tree):
        if isinstance(node, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
            targets = node.targets if isinstance(node, gast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, gast.Subscript) and root_name(t) not in own:
                    return True
                if isinstance(node, gast.AugAssign) and not (
                    isinstance(t, gast.Name) and t.id in own
                ):
                    return True
        elif isinstance(node, gast.Call):
            inner_own = given_own and _given_only(node, own, names, parsed)
            known, obj = parsed.resolve_dotted(node.func, names)
            if (
                any(k.arg == "out" for k in node.keywords)
                or _mutator_by_name(node.func, known, obj)
            ) and not inner_own:
                return True
            if known and callable(obj) and callable_may_change(obj, inner_own):
                return True
    return False


def _mutator_by_name(func: gast.expr, found: bool, obj: Any) -> bool:
    """Whether a call of ``func`` (found to be ``obj``, where ``found``) may change an
    array in place by its name alone (``GY.fill(0)``, ``np.copyto``, ``v.sort()`` of a
    value not known): not where it is found to be a method of an object that is no array
    (``BG.fill(v)`` of a class of the user's), whose own source is then looked into."""
    if not (isinstance(func, gast.Attribute) and func.attr in ARRAY_MUTATORS):
        return False
    return not (
        found
        and isinstance(obj, types.MethodType)
        and isinstance(obj.__func__, types.FunctionType)
        and not isinstance(obj.__self__, np.ndarray)
        and not mutable_array(obj.__self__)
    )


def _own_names(parsed: Parsed, names: set[str], given_own: bool) -> set[str]:
    """The local names of a function's source that hold none but its own objects (or,
    ``given_own``, its caller's own, which its parameters hold): each is only ever given
    a new value (arithmetic, a NumPy function's result, a copy) or a view, entry or field
    of such a name; not a global's object, a loop's entry of a global list, or what a
    function of the user's returns. (The largest such set.)"""
    tree = parsed.tree
    params = set(params_of(tree))
    values: dict[str, list[gast.expr | None]] = {}
    for node in walk(tree):
        if isinstance(node, (gast.Assign, gast.AnnAssign, gast.NamedExpr)):
            targets = node.targets if isinstance(node, gast.Assign) else [node.target]
            for t in targets:
                for n in walk(t):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        values.setdefault(n.id, []).append(node.value)
        elif isinstance(node, (gast.For, gast.comprehension)):
            for n in walk(node.target):
                if isinstance(n, gast.Name):
                    values.setdefault(n.id, []).append(node.iter)
        elif isinstance(node, (gast.withitem, gast.ExceptHandler, gast.alias)):
            bound = getattr(node, "optional_vars", None) or getattr(node, "name", None)
            for n in walk(bound) if isinstance(bound, gast.AST) else ():
                if isinstance(n, gast.Name):
                    values.setdefault(n.id, []).append(None)  # anything
    own = (names - params) | (params if given_own else set())
    while True:
        kept = {
            n for n in own
            if given_own and n in params
            or all(v is not None and _owned(v, own, names, parsed) for v in values.get(n, [None]))
        }  # fmt: skip
        if kept == own:
            return own
        own = kept


def _owned(e: gast.expr, own: set[str], names: set[str], parsed: Parsed) -> bool:
    """Whether the value ``e`` is a new object, or one of the names ``own`` hold (a view,
    an entry or a field of one), or a module, a function or a class."""
    if isinstance(e, gast.Constant | gast.Lambda | gast.JoinedStr):
        return True
    if isinstance(e, gast.Name):
        if e.id in names:
            return e.id in own
        found, obj = parsed.resolve(e.id)
        return found and (callable(obj) or isinstance(obj, types.ModuleType))
    if isinstance(e, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True  # a new array or number (``xs + ys`` shares entries: see Subscript)
    if isinstance(e, (gast.Subscript, gast.Attribute, gast.Starred)):
        return _owned(e.value, own, names, parsed)
    if isinstance(e, (gast.List, gast.Tuple, gast.Set)):
        return all(_owned(v, own, names, parsed) for v in e.elts)
    if isinstance(e, gast.Dict):
        return all(_owned(v, own, names, parsed) for v in e.values)
    if isinstance(e, (gast.IfExp, gast.BoolOp)):
        parts = [e.body, e.orelse] if isinstance(e, gast.IfExp) else e.values
        return all(_owned(v, own, names, parsed) for v in parts)
    if not isinstance(e, gast.Call):
        return False
    given = [*e.args, *(k.value for k in e.keywords)]
    func = e.func
    if isinstance(func, gast.Attribute) and _owned(func.value, own, names, parsed):
        if func.attr in FRESH_METHODS:
            return True
        return all(_owned(a, own, names, parsed) for a in given)  # (a view, or the same)
    found, obj = parsed.resolve_dotted(func, names)
    module = (getattr(obj, "__module__", None) or "").split(".")[0] if found else ""
    fresh = module in ("numpy", "math") or type(obj).__name__ == "ufunc" or obj in (
        builtins.len, builtins.range, builtins.float, builtins.int, builtins.abs, builtins.round,
    )  # fmt: skip
    if fresh and getattr(obj, "__name__", "") not in VIEW_FUNCTIONS | VIEW_METHODS:
        return True
    if (
        found
        and obj
        in (
            builtins.list,
            builtins.tuple,
            builtins.dict,
            builtins.sorted,
            builtins.reversed,
            builtins.zip,
            builtins.enumerate,
            copy.copy,
            builtins.iter,
            builtins.next,
            builtins.sum,
            builtins.min,
            builtins.max,
        )
        or fresh
    ):  # (views, entries of what they are given)
        return all(_owned(a, own, names, parsed) for a in given)
    return False


def _given(call: gast.Call) -> list[gast.expr]:
    """What a call is given: its arguments, and the object of a method."""
    given = [*call.args, *(k.value for k in call.keywords)]
    if isinstance(call.func, gast.Attribute):
        given.append(call.func.value)
    return given


def _given_only(call: gast.Call, own: set[str], names: set[str], parsed: Parsed) -> bool:
    """Whether ``call`` (in a callee's source) is given none but the names ``own``,
    constants, modules and functions."""
    for e in _given(call):
        for n in walk(e):
            if isinstance(n, gast.Name) and n.id not in own:
                if n.id in names:
                    return False
                found, obj = parsed.resolve(n.id)
                if not found or not (callable(obj) or isinstance(obj, types.ModuleType)):
                    return False
    return True


def _known(obj: Any) -> bool:
    """Whether ``obj`` is a primitive srcdiff has a rule for, or knows for constant."""
    try:
        return registry.lookup(obj) is not None or registry.is_nondiff(obj)
    except TypeError:  # unhashable
        return False


_READS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def reads_outside(fn: types.FunctionType) -> bool:
    """Whether ``fn`` may read an array from outside: a global or closure variable
    holding data, a field of an object it is given (``self.w``), or through a function
    of the user's it calls (no source: it may)."""
    return _scanned(_READS, fn, _reads_in)


def _reads_in(parsed: Parsed) -> bool:
    tree = parsed.tree
    own, params = local_names(tree), set(params_of(tree))
    for node in walk(tree):
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
            if node.value.id in params and isinstance(node.ctx, gast.Load):
                return True
        elif isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id not in own:
            known, obj = parsed.resolve(node.id)
            if (
                reads_outside(obj)
                if isinstance(obj, types.FunctionType)
                else (known and not (callable(obj) or isinstance(obj, types.ModuleType)))
            ):
                return True
    return False
