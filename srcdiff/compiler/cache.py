"""Compile the source the pipeline generates, and cache it.

A ``Unit`` is one function compiled for one set of static facts (which parameters are
differentiated, what kind of value each holds, the array module, the rules in force). It
holds the traced primal and, per path key, the adjoint: a call on a path seen before
costs a dictionary look-up.

Generated code runs with the user's globals (so ``np``, helpers and constants resolve as
in the user's function) and reads ``rt``, ``xp``, user rules and the user's closure
variables through closure cells. It is compiled with the user's file name and line
numbers, so a traceback through it points at the user's line.
"""

from __future__ import annotations

import ast
import builtins
import collections
import contextlib
import copy
import functools
import gc
import inspect
import linecache
import operator
import re
import types
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import gast
import numpy as np

from .. import runtime as rt_module
from ..errors import STANDS_FOR, STANDS_FOR_NAMES, CompileError
from ..rules import registry
from ..runtime.mutation import write_back_refusal
from . import pipeline
from .analyse import is_number
from .influence import returned_sources
from .inline import cell_key, global_key, guard_lines
from .ir import Dialect, Kind, facts
from .normalize import (
    RESERVED,  # noqa: F401 (the name tests know it by)
    clone,
    is_rt_call,
    walk,
    walk_statements,
)
from .parse import MISSING, Parsed, attribute, unnumbered
from .trace import FINAL, speculable

_MISSING = object()
_NO_KEYWORDS: dict = {}  # never written to
SAVED_READ = re.compile(r"\b_saved\[(\d+)\]")  # an adjoint reading a saved value
# ... but for the Tensor its gradient goes into (a leaf: no value of the graph)
ACCUMULATED = re.compile(r"\brt\.accumulate_grad\(_saved\[\d+\]")
WHOLE_SAVED = re.compile(r"\b_saved\b(?!\[\d+\])")  # ... or handing them all on
RECENT_PATHS = 4  # a call tries the primals of this many known paths before tracing


class Unit:
    """A function compiled for one set of static facts. ``dialect`` (what its code computes
    with: arrays, or Tensors, passed or unwrapped by a compiled caller) says how its front
    end lowers it; ``shapes`` gives its parameters' symbolic shapes (see
    ``compiler/shapes.py``)."""

    def __init__(
        self,
        fn: types.FunctionType,
        active: tuple[str, ...],
        kinds: dict[str, str],
        xp: types.ModuleType,
        dialect: Dialect = Dialect.ARRAYS,
        shapes: dict[str, Any] | None = None,
        returns: tuple[str, ...] = (),
        numbers: frozenset[str] = frozenset(),
        plain: frozenset[str] = frozenset(),
        objects: frozenset[str] = frozenset(),
        holders: frozenset[str] = frozenset(),
    ):
        self.front = pipeline.front_end(fn, active, kinds, dialect, shapes, returns, numbers,
                                        plain=plain, objects=objects, holders=holders)  # fmt: skip
        self.parsed: Parsed = self.front.parsed
        found = self.parsed.found_taken()
        self.still = callees_still(fn, found)  # (what sd.grad's dispatchers check)
        # still's checks and those of the guards of the callees inlined, in one function
        self.valid = (
            callees_still(fn, found, self.parsed.guards) if self.parsed.guards else (self.still)
        )
        self.returns = returns  # parameters it updates in place, returned after its value
        self._fn = weakref.ref(fn)  # held weakly: see _UNITS
        self.xp = xp
        self.kinds = kinds
        self.last_backward: tuple | None = None
        self.wrt = self.front.wrt
        self.analysis = self.front.analysis
        normalized = self.analysis.fn
        self.calls = any(
            facts(st).op is not None and facts(st).op.kind is Kind.CALL
            for st in walk_statements(normalized.body)
        )
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
        self.number_globals = tuple(
            (n, cells.get(n)) for n in sorted(self.analysis.assumed_numbers)
        )
        names = self.front.names
        base = self.parsed.tree.name
        tree, self.builder = pipeline.traced_primal(self.front, f"{base}_primal")
        self.names = names
        self.names_after_primal = copy.deepcopy(names)  # the tangent's, whatever ran before
        self.tangent_fn: tuple[types.FunctionType, str] | None = None
        self.program: types.FunctionType | None = None  # see tangent_program
        self.tangent_names: list[str] = []  # the keywords of the tangents of wrt
        self.rule_names: dict[Any, str] = {}
        self.primal_source, linemap = pipeline.generate(self.front, tree, xp)
        self.primal = self.load(self.primal_source, linemap, tree.name)
        self.primal.__defaults__ = fn.__defaults__
        self.primal.__kwdefaults__ = fn.__kwdefaults__
        self.enters = any(is_rt_call(getattr(st, "value", None), "enter")
                          for st in walk_statements(normalized.body))  # fmt: skip
        if self.enters:  # context managers left when an exception goes through it
            self.primal = rt_module.unwinding(self.primal)
        self.adjoints: dict[tuple, tuple[types.FunctionType, str]] = {}
        self.adjoint_trees: dict[tuple, ast.Module] = {}  # a backward()'s, see read_tree
        self.reads: dict[tuple, frozenset[int] | None] = {}  # see saved_reads
        self.parts: dict[tuple, tuple] = {}  # see backward_parts
        self.values_read: dict[tuple, frozenset[int] | None] = {}  # see freed_reads
        self.entries_read: dict[tuple, dict[int, frozenset] | None] = {}  # valued_entries
        self.path_counts: dict[tuple, list[int]] = {}  # calls per path, see count
        self.wanted_names: dict[tuple, tuple[str, ...] | None] = {}  # see rt.call_vjp
        self.speculative = speculable(self.analysis)
        self.recent: list[tuple] = []  # the paths of the last calls, the last first
        self.ran_path = False  # whether the last call ran the primal of its path
        self.path_primals: dict[tuple, tuple[types.FunctionType, str]] = {}
        self.kinks: tuple[types.FunctionType, str] | None = None  # see kink_primal
        self.ran_kinks = False  # whether the last call ran the primal with kink checks

    @property
    def fn(self) -> types.FunctionType:
        return self._fn()

    @functools.cached_property
    def returned(self) -> Any:
        """What the values it returns may be computed from (``influence.Sources``; for
        Tensor code: a Tensor it returns requires grad where one of them does, as
        PyTorch's), found on first use."""
        return returned_sources(self.analysis)

    @functools.cached_property
    def returned_whole(self) -> Any:
        """``returned`` for the value as a whole (the sources of its entries joined)."""
        sources = self.returned
        return functools.reduce(operator.or_, sources) if isinstance(sources, tuple) else sources

    @functools.cached_property
    def param_positions(self) -> dict[str, int]:
        """Each parameter's position (where a call passes it by position)."""
        return {p: i for i, p in enumerate(self.analysis.params)}

    def count(self, key: tuple) -> list[int]:
        """The cell counting the calls that took the path ``key`` (``count(key)[0] += 1``
        counts one): a list, which a caller may keep and count into directly."""
        cell = self.path_counts.get(key)
        if cell is None:
            cell = self.path_counts[key] = [0]
        return cell

    @property
    def path_calls(self) -> collections.Counter:
        """How many calls took each path (``sd.paths``)."""
        return collections.Counter({key: cell[0] for key, cell in self.path_counts.items()})

    @property
    def updated(self) -> tuple[str, ...]:
        """The parameters whose objects (the caller's) the function updates in place."""
        return self.analysis.updated

    def write_back(self, args: tuple, kwargs: dict, saved: dict) -> None:
        """Give the caller's lists and dicts (``args``, ``kwargs`` as the primal took them)
        what Python's in-place updates would have left in them (see ``rt.write_back``)."""
        finals = saved.get(FINAL)
        if finals is None:
            return
        positions = self.param_positions
        pairs = []
        for n, final in zip(self.updated, finals, strict=True):
            i = positions[n]
            if i < len(args) or n in kwargs:
                pairs.append((args[i] if i < len(args) else kwargs[n], final))
                continue
            # not passed: the function's default, which Python keeps updated for later calls
            default = inspect.signature(self.fn).parameters[n].default
            array = hasattr(default, "__setitem__") and not isinstance(default, (list, dict))
            if final is not default and array:
                raise rt_module.refuse(
                    f"{self.parsed.name} updates the default value of `{n}` (a "
                    f"{type(default).__name__}) in place: Python keeps the change for the "
                    "next call, compiled code does not",
                    f"pass `{n}` explicitly, or give it a None default and make a new one",
                )
            pairs.append((default, final))
        for caller, final in pairs:  # every one checked before any is written
            error = write_back_refusal(caller, final)
            if error is not None:
                raise error
        for caller, final in pairs:
            rt_module.write_back(caller, final)

    def stale(self) -> bool:
        """Whether a function, class or module this unit was compiled for is not found
        where it was (``still``), a global (or closure variable) it took for a number holds
        something else now, or an object whose code it inlined is not found where it was
        (then it must be compiled again)."""
        fn = self._fn()  # (not through the property: this runs before every call)
        if fn is None or not self.valid(fn):  # (still, and the guards of the callees inlined)
            return True
        if self.number_globals:
            for n, cell in self.number_globals:
                value = cell.cell_contents if cell is not None else fn.__globals__.get(n, _MISSING)
                if not is_number(value):
                    return True
        return False

    def tangent(self) -> tuple[types.FunctionType, str]:
        """The forward-mode function (``compiler/tangent``) and its source: it takes the
        parameters, then the tangents of ``wrt`` by the keywords ``tangent_names``, and
        returns the value and its tangent."""
        if self.tangent_fn is None:
            self.refuse_module_names()
            names = copy.deepcopy(self.names_after_primal)
            tree, self.tangent_names = pipeline.forward(
                self.front, names, f"{self.parsed.tree.name}_tangent", self.rule_names
            )
            text, linemap = pipeline.generate(self.front, tree, self.xp)
            forward = self.load(text, linemap, tree.name)
            forward.__defaults__ = self.fn.__defaults__  # generated with no values of its own
            forward.__kwdefaults__ = self.fn.__kwdefaults__
            if self.enters:
                forward = rt_module.unwinding(forward)
            self.tangent_fn = (forward, text)
        return self.tangent_fn

    def refuse_module_names(self) -> None:
        """Forward-mode source runs the user's statements with the rules' templates, which
        name the array module ``xp``. A local variable of that name is renamed by the
        front end (``pipeline.apart_from_module_names``); a parameter keeps its name, the
        keyword callers pass it by, and would shadow it, so it is refused (reverse mode
        takes it; a global ``xp``, such as ``import numpy as xp``, is read as the array
        module)."""
        args = self.parsed.tree.args
        params = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}
        params |= {a.id for a in (args.vararg, args.kwarg) if a is not None}
        taken = sorted({"xp", "rt"} & params)
        if taken:
            raise CompileError(
                f"forward mode of a function with a parameter named {taken[0]}",
                function=self.parsed.name, filename=self.parsed.filename,
                lineno=self.parsed.tree.lineno,
                hint=f"rename {taken[0]} (forward-mode source uses that name for "
                "the array module or srcdiff's helpers); sd.grad takes it as it is",
            )  # fmt: skip

    def tangent_program(self) -> types.FunctionType:
        """The forward-mode source as a program srcdiff can differentiate again (reverse
        over forward: Hessian-vector products, gradients of gradients):
        ``program(*tangents, *params) -> (value, tangent)``, one tangent per name of
        ``tangent_names`` first, by position. Its text is its own file's (kept in
        ``linecache`` while the unit lives), so srcdiff reads it as it reads the user's."""
        if self.program is None:
            self.refuse_module_names()
            names = copy.deepcopy(self.names_after_primal)
            tree, tangent_names = pipeline.forward(
                self.front, names, f"{self.parsed.tree.name}_tangent", self.rule_names
            )
            kwonly = tree.args.kwonlyargs
            firsts = [a for a in kwonly if a.id in tangent_names]
            keep = [i for i, a in enumerate(kwonly) if a.id not in tangent_names]
            tree.args.kwonlyargs = [kwonly[i] for i in keep]
            tree.args.kw_defaults = [tree.args.kw_defaults[i] for i in keep]
            tree.args.posonlyargs = firsts + tree.args.posonlyargs
            # NumPy's names (the rules' xp is NumPy): compiling the program again maps them
            # to the module of its inputs, as for any user function. On a copy: the tree
            # shares the user's statements (a global xp's loads) with the analysed function
            tree = clone(tree)
            for node in walk(tree):
                if isinstance(node, gast.Name) and node.id == "xp":
                    node.id = "_numpy"
            text, linemap = pipeline.generate(self.front, tree, None)
            filename = f"<srcdiff: forward mode of {self.label}, {id(self):x}>"
            linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
            weakref.finalize(self, linecache.cache.pop, filename, None)
            # an error differentiating it again is reported at the user's line
            lines = [self.parsed.real_line(n) for n in linemap]  # an inlined line: its call's
            user_file, user_name = self.parsed.filename, self.parsed.name
            if user_file in STANDS_FOR:  # the forward mode of a forward-mode program
                user_file, user_name, theirs = STANDS_FOR[user_file]
                lines = [theirs[n - 1] if n and 0 < n <= len(theirs) else None for n in lines]
            STANDS_FOR[filename] = (user_file, user_name, lines)
            weakref.finalize(self, STANDS_FOR.pop, filename, None)
            program = self.load(text, None, tree.name, filename, {"_numpy": np})
            program.__defaults__ = self.fn.__defaults__
            program.__kwdefaults__ = self.fn.__kwdefaults__
            self.program = program
        return self.program

    @property
    def label(self) -> str:
        return f"{self.parsed.name} ({unnumbered(self.parsed.filename)}:{self.parsed.tree.lineno})"

    def adjoint(
        self,
        key: tuple,
        stop: int | None = None,
        wanted: tuple[str, ...] | None = None,
        checked: bool | None = None,
    ) -> tuple[types.FunctionType, str]:
        """The adjoint of the path ``key`` and its source (generated on first use); with
        ``stop``, of the statements before the ``backward()`` numbered ``stop``; with
        ``wanted``, giving the gradients of those parameters only (None for the others);
        ``checked``: checking that each gradient is finite (by default while
        ``rt.checking_finite`` is on)."""
        checked = rt_module.CHECKING[0] if checked is None else checked
        hit = self.adjoints.get((key, stop, wanted, checked))
        if hit is not None:
            return hit
        names = copy.deepcopy(self.names)
        base = self.parsed.tree.name
        fn_name = f"{base}_adjoint" if stop is None else f"{base}_backward"
        with collecting_later():
            tree = pipeline.reverse(self.front, self.builder, names, key, self.kinds, fn_name,
                                    self.rule_names, stop, wanted, checked)  # fmt: skip
            text, linemap = pipeline.generate(self.front, tree, self.xp)
            parsed = ast.parse(text)
            fn = self.load(parsed, linemap, tree.name)
        self.adjoints[(key, stop, wanted, checked)] = (fn, text)
        if stop is not None or wanted is None:  # read again by freed_reads (a callee's
            self.adjoint_trees[(key, stop, wanted, checked)] = parsed  # too: its caller's
            # rt.check_writes), and by valued_entries
        return fn, text

    def read_tree(self, key: tuple, stop: int) -> ast.Module:
        """The tree of ``adjoint(key, stop)``'s source, parsed once as it was compiled (its
        lines the user's): what ``freed_reads`` and ``valued_entries`` read."""
        self.adjoint(key, stop)
        return self.adjoint_trees[(key, stop, None, rt_module.CHECKING[0])]

    def backward_parts(self, key: tuple, stop: int) -> tuple[Any, frozenset[int] | None,
                                                            frozenset[int] | None]:  # fmt: skip
        """``adjoint(key, stop)``'s function, ``saved_reads(key, stop)`` and
        ``freed_reads(key, stop)``, in one look-up (a compiled step's ``loss.backward()``
        takes them at every call)."""
        checked = rt_module.CHECKING[0]
        hit = self.parts.get((key, stop, checked))
        if hit is None:
            fn = self.adjoint(key, stop, checked=checked)[0]
            hit = (fn, self.saved_reads(key, stop), self.freed_reads(key, stop))
            self.parts[(key, stop, checked)] = hit
        return hit

    def freed_reads(self, key: tuple, stop: int) -> frozenset[int] | None:
        """Of ``saved_reads(key, stop)``, the saved values whose values (not only their
        shapes or dtypes: ``rt.cast_like(g, x)``) the adjoint reads: what PyTorch's graph
        would have saved, and a backward() without retain_graph frees. A second backward()
        reading only shapes of what the first freed (two losses of one leaf) runs, as
        PyTorch's does."""
        if (key, stop) not in self.values_read:
            reads = self.saved_reads(key, stop)
            tree = self.read_tree(key, stop)
            self.values_read[(key, stop)] = None if reads is None else reads - shape_reads(tree)
        return self.values_read[(key, stop)]

    def valued_entries(self, key: tuple, stop: int) -> dict[int, frozenset] | None:
        """Of ``freed_reads(key, stop)``, per saved value, the entries of its tuple whose
        values the adjoint reads (None in the set: the value whole). None where it hands
        on ``_saved`` whole."""
        if (key, stop) not in self.entries_read:
            reads = self.saved_reads(key, stop)
            tree = self.read_tree(key, stop)
            self.entries_read[(key, stop)] = None if reads is None else valued_entries(tree, reads)
        return self.entries_read[(key, stop)]

    def saved_reads(self, key: tuple, stop: int) -> frozenset[int] | None:
        """The saved values (by number) the adjoint of ``backward()`` numbered ``stop``
        on the path ``key`` reads, from its source, but for the Tensors it accumulates
        into: what a write in place must not have changed (see ``rt.check_writes``), and
        what a backward() without retain_graph frees. None where it hands on ``_saved``
        whole."""
        if (key, stop) not in self.reads:
            text = ACCUMULATED.sub("rt.accumulate_grad(", self.adjoint(key, stop)[1])
            body = "\n".join(line for line in text.splitlines() if not line.startswith("def "))
            reads = frozenset(int(n) for n in SAVED_READ.findall(body))
            self.reads[(key, stop)] = None if WHOLE_SAVED.search(body) else reads
        return self.reads[(key, stop)]

    def run_primal(self, args: tuple, kwargs: dict, speculate: bool = True,
                   saved: dict | None = None) -> tuple[Any, dict, list]:  # fmt: skip
        """Run a call's primal (the value, its saved values and its path): with kink checks
        while ``rt.warning_kinks`` is on, else the primal of its path (``run_path``, when
        ``speculate`` and the unit is ``speculative``), else the traced primal. ``saved``:
        the dict to save into, which keeps the updated parameters' values if it raises."""
        self.ran_kinks = rt_module.KINKS[0] is not None
        if self.ran_kinks:
            fn = self.kink_primal()[0]
        elif speculate and self.speculative:
            return self.run_path(args, kwargs, confirm=True)
        else:
            fn = self.primal
        saved = {} if saved is None else saved
        path: list = []
        return fn(saved, path, *args, **kwargs), saved, path

    def kink_primal(self) -> tuple[types.FunctionType, str]:
        """The traced primal with kink checks (``compiler/kinks``) and its source, built on
        first use: it saves and records what the traced primal does, so the adjoints of
        its paths are the same."""
        if self.kinks is None:
            names = copy.deepcopy(self.names)
            fn_name = f"{self.parsed.tree.name}_primal"
            tree = pipeline.checking_primal(self.front, self.builder, names, fn_name)
            self.kinks = self.load_primal(tree)
        return self.kinks

    def probed_adjoint(self, key: tuple, probe: str) -> tuple[str, list[int | None]]:
        """The source of the adjoint of the path ``key`` calling ``probe(line, name,
        gradient)`` with each differentiated result's gradient (``sd.check_grad``), and
        its map to the user's lines; built anew, never cached."""
        tree = pipeline.reverse(
            self.front, self.builder, copy.deepcopy(self.names), key, self.kinds,
            f"{self.parsed.tree.name}_adjoint", self.rule_names, probe=probe,
        )  # fmt: skip
        return pipeline.generate(self.front, tree, self.xp)

    def run_path(self, args: tuple, kwargs: dict, confirm: bool) -> tuple[Any, dict, list]:
        """Run the primal of the path this call takes (the value, its saved values and its
        path): the primals of the known paths, the last taken first, until one does not
        diverge; on a path not met before, the traced primal finds it, and with
        ``confirm`` that path's primal runs the call again (the function is pure: running
        it twice changes nothing). So, whatever calls came before, a call runs the primal
        of its own path, and ``sd.source`` shows it."""
        if any(isinstance(a, Iterator) for a in (*args, *kwargs.values())):
            confirm, self.recent = False, []  # an iterator is used up by one run
        return self.run_recent(args, kwargs, confirm)

    def run_recent(
        self, args: tuple, kwargs: dict = _NO_KEYWORDS, confirm: bool = True, first: int = 0
    ) -> tuple[Any, dict, list]:
        """``run_path`` for arguments that hold no iterator, trying the known paths from the
        one at ``first`` on (the caller ran those before)."""
        for key in self.recent[first:]:
            saved: dict = {}
            path: list = []
            try:
                value = self.path_primals[key][0](saved, path, *args, **kwargs)
            except rt_module.Diverged:
                continue
            if self.recent[0] is not key:
                self.recent.remove(key)
                self.recent.insert(0, key)
            self.ran_path = True
            return value, saved, path
        traced_saved: dict = {}
        traced_path: list = []
        value = self.primal(traced_saved, traced_path, *args, **kwargs)
        key = rt_module.path_key(traced_path)
        self.ran_path = False
        if confirm:
            saved, path = {}, []
            try:
                value = self.path_primal(key)[0](saved, path, *args, **kwargs)
            except rt_module.Diverged:  # not deterministic after all: keep the traced run
                return value, traced_saved, traced_path
            self.recent = [key, *self.recent[: RECENT_PATHS - 1]]
            self.ran_path = True
            return value, saved, path
        return value, traced_saved, traced_path

    def path_primal(self, key: tuple) -> tuple[types.FunctionType, str]:
        """The primal of the path ``key`` alone (see ``trace.PathPrimal``) and its source."""
        hit = self.path_primals.get(key)
        if hit is None:
            names = copy.deepcopy(self.names)
            with collecting_later():
                tree = pipeline.path_primal(
                    self.front, self.builder, names, f"{self.parsed.tree.name}_primal", key
                )
                hit = self.path_primals[key] = self.load_primal(tree)
        return hit

    def load_primal(self, tree: gast.FunctionDef) -> tuple[types.FunctionType, str]:
        """A primal variant's tree (a path's, the kink-checking one) as a function taking
        the user's defaults (left through its ``with`` blocks by an exception), and its
        source."""
        text, linemap = pipeline.generate(self.front, tree, self.xp)
        fn = self.load(text, linemap, tree.name)
        fn.__defaults__, fn.__kwdefaults__ = self.fn.__defaults__, self.fn.__kwdefaults__
        return (rt_module.unwinding(fn) if self.enters else fn), text

    def load(
        self,
        text: str | ast.Module,
        linemap: list[int | None] | None,
        fn_name: str,
        filename: str = "",
        extra: dict[str, Any] | None = None,
    ) -> types.FunctionType:
        """Compile the source of one generated function (or its tree) and bind its free
        names (and ``extra`` ones); its lines are the user's (``linemap``), or, with no
        map, its own in ``filename``."""
        tree = ast.parse(text) if isinstance(text, str) else text
        fallback = self.parsed.tree.lineno
        real = self.parsed.real_line  # an inlined callee's line: its call's
        for node in walk(tree) if linemap is not None else ():
            if hasattr(node, "lineno"):
                line = linemap[node.lineno - 1] if node.lineno - 1 < len(linemap) else None
                node.lineno = node.end_lineno = real(line) or fallback
                node.col_offset = node.end_col_offset = 0
        env = {"rt": rt_module, "xp": self.xp, "_unit": self, **(extra or {})}
        env.update({v: k for k, v in self.rule_names.items()})
        env.update({n: f for n, f in self.parsed.scope.items() if n not in env})  # lifted
        user_free = dict(zip(self.fn.__code__.co_freevars, self.fn.__closure__ or (), strict=True))
        outer = list(env) + [n for n in user_free if n not in env]
        params = [ast.arg(arg=n) for n in outer]
        result = ast.Return(value=ast.Name(id=fn_name, ctx=ast.Load()))
        bind = ast.FunctionDef(
            name="_bind",
            args=ast.arguments(
                posonlyargs=[],
                args=params,
                vararg=None,
                kwonlyargs=[],
                kw_defaults=[],
                kwarg=None,
                defaults=[],
            ),
            body=tree.body + [result],
            decorator_list=[],
            returns=None,
            type_params=[],
        )
        for node in (bind, result, result.value, *params):  # the rest has its lines
            node.lineno = node.end_lineno = fallback
            node.col_offset = node.end_col_offset = 0
        module = ast.Module(body=[bind], type_ignores=[])
        if not isinstance(text, str):  # a tree made here: some nodes have no lines
            ast.fix_missing_locations(module)
        stands = None if filename else STANDS_FOR.get(self.parsed.filename)
        if stands is not None:  # source srcdiff wrote (forward mode, differentiated again):
            filename, function, lines = stands  # its lines are the user's that it stands for
            STANDS_FOR_NAMES[(filename, fn_name)] = function  # (and its function the user's)
            first = next((n for n in lines if n), 1)
            for node in ast.walk(module):
                if hasattr(node, "lineno"):
                    line = lines[node.lineno - 1] if 0 < node.lineno <= len(lines) else None
                    node.lineno = node.end_lineno = line or first
        code = compile(module, filename or self.parsed.filename, "exec")
        bind_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
        inner = next(
            c for c in bind_code.co_consts if isinstance(c, types.CodeType) and c.co_name == fn_name
        )
        cells = tuple(
            user_free[n] if n in user_free else types.CellType(env[n]) for n in inner.co_freevars
        )
        return types.FunctionType(inner, self.fn.__globals__, fn_name, None, cells)


@contextlib.contextmanager
def collecting_later() -> Iterator[None]:
    """Pause the cyclic garbage collector while the code is compiled: compiling makes tens
    of thousands of short-lived nodes (freed by their counts of references), and the
    collections they set off, each going over the nodes still held, cost a twentieth of a
    first compile. It runs as before from the next allocation on."""
    if not gc.isenabled():  # (the program's choice, or a compile around this one)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def valued_entries(tree: ast.Module, reads: frozenset[int]) -> dict[int, frozenset]:
    """Per saved value of ``reads`` the adjoint ``tree`` (of its source) reads more than
    the shape or dtype of (see ``shape_reads``), the entries of its tuple it does (``a, b
    = _saved[3]`` or ``b = _saved[3][1]``, ``b`` read: {1}), None for the value whole. A
    name is the value it was last given, in a straight-line adjoint; any it was given,
    in one with blocks."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    fn = tree.body[0]
    straight = all(isinstance(st, (ast.Assign, ast.Expr, ast.Return)) for st in fn.body)
    given: dict[str, set[tuple[int, int | None]]] = {}  # a name, the entries it holds
    found: dict[int, set] = {}

    def entry(node: ast.expr) -> tuple[int, int | None] | None:
        """``(k, None)`` of ``_saved[k]``, ``(k, i)`` of ``_saved[k][i]``."""
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if isinstance(node.value, ast.Name) and node.value.id == "_saved":
                return (node.slice.value, None) if node.slice.value in reads else None
            inner = entry(node.value)
            if inner is not None and inner[1] is None and type(node.slice.value) is int:
                return inner[0], node.slice.value
        return None

    def bind(st: ast.stmt) -> None:
        if not isinstance(st, ast.Assign):
            return
        if (got := entry(st.value)) is None:  # a name given another value holds no entry
            for n in (n for t in st.targets for n in ast.walk(t) if isinstance(n, ast.Name)):
                if straight:
                    given.pop(n.id, None)
            return
        slot, at = got
        for t in st.targets:
            flat = at is None and isinstance(t, ast.Tuple)
            named = list(enumerate(t.elts)) if flat else [(at, n) for n in ast.walk(t)]
            for i, n in named:
                if isinstance(n, ast.Name):
                    entries = given.setdefault(n.id, set()) if not straight else set()
                    entries.add((slot, i))
                    given[n.id] = entries

    def read(node: ast.AST) -> None:
        for n in ast.walk(node):
            if isinstance(n, ast.Subscript) and (got := entry(n)) is not None:
                parent = parents.get(n)
                bound = isinstance(parent, ast.Assign) and parent.value is n
                if not bound and entry(parent) is None:  # read where it is loaded
                    found.setdefault(got[0], set()).add(got[1])
            if (
                isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load)
                and n.id in given
                and not registry.shape_only(n, parents.get(n))
                and not _compared_only(n, parents.get(n))
            ):
                for slot, i in given[n.id]:
                    found.setdefault(slot, set()).add(i)

    if straight:
        for st in fn.body:
            read(st.value if st.value is not None else st)
            bind(st)
    else:
        for st in ast.walk(fn):
            if isinstance(st, ast.stmt):
                bind(st)
        read(fn)
    return {slot: frozenset(e) for slot, e in found.items()}


# Runtime helpers (and the positions of their arguments) of in-place updates' adjoints
# that read an argument only as an object to compare others with (``ans is new``) or for
# its shape: no value of it
COMPARED_ONLY = {"outside_grad": {1, 2}, "follow_grads": {1, 2, 3}, "or_zeros": {1}}


def _compared_only(name: ast.Name, parent: ast.AST | None) -> bool:
    if not (isinstance(parent, ast.Call) and name in parent.args):
        return False
    helper = getattr(parent.func, "attr", None)
    return parent.args.index(name) in COMPARED_ONLY.get(helper, ())


def shape_reads(tree: ast.Module) -> frozenset[int]:
    """The saved values (by number) that the adjoint ``tree`` (of its source) reads only
    the shapes or dtypes of: each loaded into names (``t6 = _saved[2]``, ``a, b =
    _saved[3]``) used nowhere but where a shape is read (``registry.shape_only``)."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    slots_of: dict[str, set[int]] = {}  # a name, the saved values it is given
    loaded: set[int] = set()  # every saved value read
    held: set[int] = set()  # ... into names alone
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "_saved"
            and isinstance(node.slice, ast.Constant)
        ):
            continue
        slot = node.slice.value
        loaded.add(slot)
        parent = parents.get(node)
        if isinstance(parent, ast.Assign) and parent.value is node:
            targets = [n for t in parent.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            if all(isinstance(t, (ast.Name, ast.Tuple)) for t in parent.targets):
                held.add(slot)
                for n in targets:
                    slots_of.setdefault(n.id, set()).add(slot)
    valued = loaded - held  # (read where they are loaded: rt.call_vjp(_saved[4], ...))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id in slots_of
            and not registry.shape_only(node, parents.get(node))
        ):
            valued |= slots_of[node.id]
    return frozenset(loaded - valued)


def callees_still(
    fn: types.FunctionType, found: dict[tuple[str, ...], Any], guards: tuple = ()
) -> Any:
    """``still(fn)``: whether ``fn``'s code and defaults are those compiled, and each
    function, class and module the compilation found through a free name
    (``Parsed.found``: ``act``, ``np.tanh``, ``cfg.act``) is found there still: another one
    would need another rule or other code. One generated expression, as it runs before
    every call, reading each closure cell once; it holds ``fn`` and what it found weakly
    where it can (a closure made per step is freed with its compiled code). With
    ``guards`` (of the callees inlined), the same function checks them after, as
    ``check_guards``'s does (one call, not two), reading the cells checked before from
    their locals."""
    free = fn.__code__.co_freevars
    namespace: dict[str, Any] = {"G": fn.__globals__, "BD": vars(builtins), "M": MISSING,
                                 "A": attribute, "MT": types.MethodType, "NK": _NO_KEYWORDS,
                                 "CODE": fn.__code__, "DEFAULTS": fn.__defaults__,
                                 "KWDEFAULTS": fn.__kwdefaults__}  # fmt: skip
    terms = ["F.__code__ is CODE", "F.__defaults__ is DEFAULTS", "F.__kwdefaults__ is KWDEFAULTS"]
    cells: dict[int, str] = {}  # per closure cell read (by id): the local holding it
    names: dict[str, str] = {}  # per global read: the local holding what it held
    # the cells and globals (``cell_key``/``global_key``) whose object is checked: local,
    # object (read from that local after, and not checked again by the guards)
    checked: dict[Any, tuple[str, Any]] = {}
    own: dict[int, str] = {}  # per object whose own attributes are read (by id): the local
    # holding its __dict__
    for i, ((root, *path), obj) in enumerate(found.items()):
        if root in free:
            k = free.index(root)
            cell = fn.__closure__[k]
            holder = cell.cell_contents
            if id(cell) in cells:  # read once, from the closure read once
                read = cells[id(cell)]
            else:
                closure = "CL" if cells else "(CL := F.__closure__)"
                cells[id(cell)] = f"c{k}"
                read = f"(c{k} := {closure}[{k}].cell_contents)"
        elif root in fn.__globals__:  # read once (``optimizer.step``, ``.zero_grad``)
            holder = fn.__globals__[root]
            read = names.get(root)
            if read is None:
                names[root] = f"g{i}"
                read = f"(g{i} := G.get({root!r}, M))"
        else:
            read, holder = f"(M if {root!r} in G else BD.get({root!r}, M))", getattr(builtins, root)
        # an instance's method (``optimizer.step``), made anew at each read: the same
        # object, its class's function, not one of its own
        bound = isinstance(obj, types.MethodType) and path and not isinstance(obj.__self__, type)
        for attr in path[:-1] if bound else path:  # a module's attributes plainly, another
            read = (  # object's as analysed
                f"getattr({read}, {attr!r}, M)"
                if isinstance(holder, types.ModuleType)
                else f"A({read}, {attr!r})"
            )
            holder = attribute(holder, attr)
        if bound:  # still the holder's, its class's function, with no attribute of its own so
            # named (read without making the bound method, and written out: no call)
            namespace[f"E{i}"], namespace[f"S{i}"] = obj.__func__, _weakly(obj.__self__)
            name = path[-1]
            same = checked.get(_root_key(fn, root))
            if len(path) == 1 and same is not None and same[1] is obj.__self__:
                h = same[0]  # (the cell's object, checked already: optimizer.step, .zero_grad)
            elif len(path) == 1 and (root in names or root in free):  # (read into a local)
                h = names[root] if root in names else cells[id(fn.__closure__[free.index(root)])]
                terms.append(f"{read} is S{i}()")
            else:
                h = f"h{i}"
                terms.append(f"(h{i} := {read}) is S{i}()")
            attributes = own.get(id(obj.__self__))
            if attributes is None:  # (read once: optimizer.step and .zero_grad)
                own[id(obj.__self__)] = f"d{i}"
                attributes = f"(d{i} := getattr({h}, '__dict__', NK))"
            terms.append(f"getattr(type({h}), {name!r}, None) is E{i} and {name!r} not in "
                         f"{attributes}")  # fmt: skip
        elif isinstance(obj, types.MethodType):  # a class's method: the same method
            namespace[f"E{i}"], namespace[f"S{i}"] = obj.__func__, _weakly(obj.__self__)
            terms.append(f"type(h{i} := {read}) is MT and h{i}.__func__ is E{i} "
                         f"and h{i}.__self__ is S{i}()")  # fmt: skip
        elif _lasting(obj):  # held as it is: nothing to free
            namespace[f"E{i}"] = obj
            terms.append(f"{read} is E{i}")
        else:
            namespace[f"E{i}"] = weakref.ref(obj)
            terms.append(f"{read} is E{i}()")
        if (root in free or root in names) and (
            bound and len(path) == 1 or not path and not isinstance(obj, types.MethodType)
        ):  # the cell's or global's object itself, its identity checked
            local = cells[id(fn.__closure__[free.index(root)])] if root in free else names[root]
            checked[_root_key(fn, root)] = (local, obj.__self__ if bound else obj)
    if guards:  # (guard_lines names its own locals and globals apart from the ones above)
        body = [f"if not ({' and '.join(terms)}): return False",
                *guard_lines(guards, namespace, checked)]  # fmt: skip
        source = "def still(F):\n    try:\n" + "".join(f"        {line}\n" for line in body)
        source += "    except ValueError:  # an emptied cell\n        return False\n"
        source += "    return True\n"
    else:
        source = "def still(F):\n    try:\n        return " + " and ".join(terms)
        source += "\n    except ValueError:  # an emptied closure cell\n        return False\n"
    exec(compile(source, f"<srcdiff: callees of {fn.__qualname__}>", "exec"), namespace)
    return namespace["still"]


def _root_key(fn: types.FunctionType, root: str) -> Any:
    """The key (``inline.cell_key``, ``inline.global_key``) of the closure cell or the
    global that ``fn`` reads ``root`` from (None for a builtin)."""
    free = fn.__code__.co_freevars
    if root in free:
        return cell_key(fn.__closure__[free.index(root)])
    return global_key(fn.__globals__, root) if root in fn.__globals__ else None


def _lasting(obj: Any) -> bool:
    """Whether ``obj`` lives as long as the program anyway (a module, a builtin, NumPy's
    functions and ufuncs), or takes no weak reference."""
    if isinstance(obj, (types.ModuleType, types.BuiltinFunctionType, np.ufunc)):
        return True
    if isinstance(obj, type) and obj.__module__ in ("builtins", "numpy"):
        return True
    try:
        weakref.ref(obj)
    except TypeError:
        return True
    return False


def _weakly(obj: Any) -> Any:
    """A weak reference to ``obj``, or (where it takes none) a function returning it."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


# Each function's Units, for at most VARIANTS sets of static facts (the least recently
# used evicted first). Held weakly by the function (Units hold it weakly too): compiled
# code is freed with the function it was compiled from.
_UNITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
VARIANTS = 64


def unit_for(
    fn: types.FunctionType,
    active: tuple[str, ...],
    kinds: dict[str, str],
    xp: types.ModuleType,
    dialect: Dialect = Dialect.ARRAYS,
    shapes: dict[str, Any] | None = None,
    returns: tuple[str, ...] = (),
    numbers: frozenset[str] = frozenset(),
    plain: frozenset[str] = frozenset(),
    objects: frozenset[str] = frozenset(),
    holders: frozenset[str] = frozenset(),
) -> Unit:
    """The cached Unit of ``fn`` for these static facts (built on first use, and again when
    it is ``stale``); ``shapes``: the parameters' symbolic shapes (``rt.shape_pattern``);
    ``numbers``: the parameters given Python numbers (immutable), where the call site's
    key tells them apart; ``objects``: those given objects of a user's class; ``holders``:
    those given containers or records holding such objects (``rt.holds_record``)."""
    per_fn = _UNITS.get(fn)
    if per_fn is None:
        per_fn = _UNITS[fn] = OrderedDict()
    key = (
        active,
        tuple(sorted(kinds.items())),
        xp.__name__,
        registry.version(),
        dialect,
        tuple(sorted((shapes or {}).items())),
        returns,
        numbers,
        plain,
        objects,
        holders,
    )
    unit = per_fn.get(key)
    if unit is None or unit.stale():
        with collecting_later():
            unit = Unit(fn, active, kinds, xp, dialect, shapes, returns, numbers, plain, objects,
                        holders)  # fmt: skip
        per_fn[key] = unit
        if len(per_fn) > VARIANTS:
            per_fn.popitem(last=False)
    else:
        per_fn.move_to_end(key)
    return unit


def units_built(fn: types.FunctionType) -> int:
    """How many Units exist for ``fn`` (for tests of the cache)."""
    return len(_UNITS.get(fn, {}))


# how generated code compiles callees: of code on arrays, and of compiled Tensor code
rt_module.install(unit_for=unit_for, arrays=Dialect.ARRAYS, callee=Dialect.TENSOR_CALLEE)
