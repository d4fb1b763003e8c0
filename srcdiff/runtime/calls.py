"""Calls from generated code into other compiled functions, and path keys.

``rt.call`` runs a callee's primal (or a primitive) and returns its value with what its
adjoint will need; ``rt.call_vjp`` runs that adjoint. The callee is looked up when the
code runs, so methods, callable objects and recursion need nothing special.
"""

from __future__ import annotations

import builtins
import contextlib
import copy as copy_module
import dis
import functools
import inspect
import linecache
import os
import re
import sys
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import array_module, copy, dtype_kind
from ..errors import CompileError, KinkWarning, NonFiniteError, generated_name
from .arrays import entries_like, zeros_like
from .control import (
    Attempt,
    Raised,
    derivative_origin,
    derivative_raised,
    handled,
    partial_update,
)
from .finite import CHECKING
from .mutation import FINAL, GENERATED, _mutable, arrays_in, note_caller, refuse
from .objects import (
    PARTIAL_CALL,
    PLAIN_CALL,
    call_check,
    check_call,
    constructor,
    container_update,
    fields_holding_records,
    holds,
    holds_record,
    is_record,
    is_record_class,
    out_position,
    partial_caller,
    plain_value,
    refuse_out,
)
from .tensor_methods import FUNCTIONS as tensor_functions
from .tensor_methods import is_array


class Host:
    """What generated code needs from the layers above the runtime, installed by them
    when they load (the runtime imports none of them): the rule registry, the compiler's
    ``unit_for`` for callees, the classes of models, and the Tensor layer."""

    registry: Any = None  # srcdiff.rules.registry
    unit_for: Any = None  # srcdiff.compiler.cache.unit_for
    arrays: Any = None  # what unit_for takes for a callee of code on arrays (its dialect)
    callee: Any = None  # and for a callee of compiled Tensor code (given arrays)
    modules: tuple[type, ...] = ()  # nn.Module: calling one runs its forward
    module_calls: tuple[Any, ...] = ()  # their __call__ as installed: the one that does
    tensor: type = type("NoTensor", (), {})  # srcdiff.Tensor, once it is loaded
    grad_enabled: Any = None  # srcdiff.grad_mode.is_grad_enabled
    accumulate: Any = None  # srcdiff.autograd.accumulate: add to a leaf's .grad
    accumulate_hooked: Any = None  # ... after the leaf's hooks (register_hook) ran
    tangent_vjp: Any = None  # srcdiff.api.tangent_vjp: reverse mode over forward mode
    forward_of: Any = None  # srcdiff.api.forward_call: a call's forward mode as a function
    keyword_refusal: Any = None  # srcdiff.api.keyword_refusal: a transform given a
    # derivative by keyword, refused in the user's words
    by_position: Any = None  # srcdiff.api.keywords_by_position: such a call, the same
    # with those keywords passed by position, where the function allows
    sgd: tuple = ()  # srcdiff.optim.SGD and the step and update_group it was written with
    # (see tensors.sgd_arrays: a compiled step's optimizer.step() inlined)
    over_partial: Any = None  # srcdiff.api.transform_of_partial: ``sd.grad(p)`` of a partial
    # holding differentiated values, as a function of source making the partial of the
    # transform of ``p``'s function that binds them (or None: not such a call)


def own_signature(fn: Any) -> inspect.Signature:
    """The signature of ``fn``'s own code, as its body names its parameters: not the one
    a wrapper shows of the function it wraps (``__wrapped__``, or a ``__signature__``
    that ``functools.wraps`` copied onto it)."""
    if isinstance(fn, types.FunctionType) and "__signature__" in vars(fn):
        plain = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                                   fn.__closure__)  # fmt: skip
        plain.__kwdefaults__ = fn.__kwdefaults__
        return inspect.signature(plain)
    return inspect.signature(fn, follow_wrapped=False)


def install(**services: Any) -> None:
    """Install services for ``Host`` (see there)."""
    for name, value in services.items():
        if not hasattr(Host, name):
            raise AttributeError(f"the runtime has no service {name!r}")
        setattr(Host, name, value)  # read from the class: functions stay unbound


class Diverged(Exception):
    """Raised by the primal of a path when a call takes another way (it is then run
    again, traced)."""


# srcdiff's own errors (and a path primal's divergence): no except clause of the user's
# catches them (each except clause of compiled code re-raises them first)
INTERNAL = (CompileError, NonFiniteError, KinkWarning, Diverged)


class Iterations(list):
    """The record of a loop whose iterations may take different paths: one
    ``[path, saved]`` entry per iteration."""

    kinds: tuple | None = None

    def cut(self, at: int) -> None:
        """The last iteration was left by an exception raised at position ``at``: its
        path ends with ``Raised(at)``."""
        if self:
            self[-1][0].append(Raised(at))


def path_key(path: list) -> tuple:
    """The cache key of a recorded path: branch choices as they are, each loop as the
    tuple of the distinct paths its iterations took, in a canonical order (so a loop
    whose iterations went two ways has one key, whichever way came first); each
    iteration is relabelled with the index of its path in that tuple."""
    if _ONLY_CHOICES.issuperset(map(type, path)):  # branch choices alone: as they are
        return tuple(path)
    key = []
    for item in path:
        if type(item) is int or type(item) is Raised:
            key.append(item)
            continue
        if type(item) is Attempt:  # how a try went: -1, or (handler, position)
            key.append(item.key())
            continue
        if item.kinds is None:
            for iteration in item:
                kind = tuple(iteration[0])
                try:  # most iterations record branch choices only
                    hash(kind)
                except TypeError:  # one holds a nested loop's record
                    kind = path_key(iteration[0])
                iteration[0] = kind
            item.kinds = tuple(sorted({it[0] for it in item}, key=_order))
            index = {kind: i for i, kind in enumerate(item.kinds)}
            for iteration in item:
                iteration[0] = index[iteration[0]]
        key.append(item.kinds)
    return tuple(key)


_ONLY_CHOICES = frozenset({int})


def _order(kind: Any) -> tuple:
    """A sort key for path kinds, which mix branch choices (ints) and loops (tuples)."""
    if type(kind) is int:
        return (0, kind)
    if type(kind) is Raised:
        return (2, kind.at)
    return (1, tuple(map(_order, kind)))


class Returning:
    """``fn`` as compiled code calls a function that updates some of its arguments in
    place (``names``): it returns ``(value, *their new values)`` and leaves the objects it
    was given as they were; the caller assigns the new values (and names sharing them
    follow). Compiled, ``fn`` returns its updates the same way (``Unit.returns``)."""

    __slots__ = ("__weakref__", "_srcdiff_target", "names")

    def __init__(self, fn: types.FunctionType, names: tuple[str, ...]):
        self._srcdiff_target = fn
        self.names = names

    def __call__(self, *args: Any, **kwargs: Any) -> tuple:  # no gradient flows here
        fn = self._srcdiff_target
        bound = inspect.signature(fn).bind(*args, **kwargs)
        originals: dict[int, Any] = {}  # the copy of each array given, by id: the array
        for n in self.names:
            if n in bound.arguments:
                memo: dict = {}
                given = bound.arguments[n]
                bound.arguments[n] = copy_module.deepcopy(given, memo)
                for a in arrays_in(given):
                    originals[id(memo.get(id(a), a))] = a
        try:
            value = fn(*bound.args, **bound.kwargs)
        except BaseException as exc:
            changed = _changeable(self.names, bound.arguments)
            if changed:
                partial_update(exc, getattr(fn, "__qualname__", repr(fn)), changed)
            raise
        return (value, *(_as_given(bound.arguments.get(n), originals) for n in self.names))


def _changeable(names: tuple[str, ...], given: dict) -> tuple[str, ...]:
    """Of the parameters ``names`` a function updates in place, those not given a number
    (whose update makes a new one: the caller's is as it was, whatever was raised)."""
    return tuple(n for n in names if n not in given or not immutable_number(given[n]))


def _partly_updated(exc: BaseException, unit: Any, args: tuple, kwargs: dict) -> None:
    """``partial_update`` of ``exc`` leaving the compiled ``unit``, for the arguments it
    updates in place that an update changes."""
    names = unit.updated or unit.returns
    if not names:
        return
    try:
        given = inspect.signature(unit.fn).bind(*args, **kwargs).arguments
    except TypeError:  # (a callable whose signature is not the call's: all of them)
        given = {}
    changed = _changeable(names, given)
    if changed:
        partial_update(exc, unit.label, changed)


def _as_given(x: Any, originals: dict[int, Any]) -> Any:
    """``x`` (what a function left of the copy it was given) with each copy of an array
    it did not change replaced by the array given, which the caller's other names hold
    (Python's function kept the same object); one it changed stays a new value."""
    if type(x) in (list, tuple):
        return type(x)(_as_given(e, originals) for e in x)
    if type(x) is dict:
        return {k: _as_given(e, originals) for k, e in x.items()}
    given = originals.get(id(x))
    if (isinstance(given, np.ndarray) and isinstance(x, np.ndarray) and given.shape == x.shape
            and given.dtype == x.dtype and np.array_equal(given, x, equal_nan=given.dtype.kind
                                                          in "fc")):  # fmt: skip
        return given
    return x


_RETURNING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def returning(fn: Any, names: tuple[str, ...]) -> Returning:
    """The ``Returning`` of ``fn`` for ``names`` (made once per function)."""
    per_fn = _RETURNING.get(fn)
    if per_fn is None:
        per_fn = _RETURNING[fn] = {}
    wrapper = per_fn.get(names)
    if wrapper is None:
        wrapper = per_fn[names] = Returning(fn, names)
    return wrapper


def _target(fn: Any) -> tuple[types.FunctionType | None, tuple]:
    """The Python function behind a callable, and the arguments bound before the call."""
    if isinstance(fn, types.FunctionType):  # (or one of srcdiff's, its form of source)
        return fn.__dict__.get("_srcdiff_target", fn), ()
    if _is_module(fn):  # before the look-up below, which runs a Module's __getattr__
        call = type(fn).__call__
        bases = zip(Host.modules, Host.module_calls, strict=True)
        if any(call is not known for base, known in bases if isinstance(fn, base)):
            return _target(types.MethodType(call, fn))  # a class calling more than forward
        return _target(fn.forward)
    inner = getattr(fn, "_srcdiff_target", None)
    if inner is not None:
        return _target(inner)
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return fn.__func__, (fn.__self__,)
    if isinstance(fn, type) and is_record_class(fn):
        return constructor(fn), ()
    if isinstance(fn, np.vectorize):  # (its __call__ is NumPy's loop over the entries)
        raise refuse(
            "a function np.vectorize calls on each entry: NumPy's loop over them is not "
            "code srcdiff differentiates",
            "write it with array operations (np.where for a branch), or call it on each "
            "entry yourself: np.array([f(t) for t in x])",
        )
    call = type(fn).__call__ if callable(fn) else None
    if isinstance(call, types.FunctionType):
        return call, (fn,)
    return None, ()


class BoundedCache:
    """Functions made for keys, kept until there are more than ``size`` of them, then
    dropped all at once, each handed to ``forget`` (which lets go of what was kept for
    it: its source in ``linecache``). A key that cannot be hashed is never kept."""

    def __init__(self, size: int, forget: Callable[[Any], None]) -> None:
        self._size, self._forget = size, forget
        self._table: dict = {}

    def get(self, key: Any) -> Any:
        """The entry for ``key``, or None."""
        try:
            return self._table.get(key)
        except TypeError:  # an unhashable part
            return None

    def put(self, key: Any, value: Any) -> Any:
        """Keep ``value`` for ``key`` (where it can be hashed), and return it."""
        try:
            hash(key)
        except TypeError:
            return value
        if len(self._table) >= self._size:
            for old in self._table.values():
                self._forget(old)
            self._table.clear()
        self._table[key] = value
        return value

    def __len__(self) -> int:
        return len(self._table)


_WRAPPERS = BoundedCache(1024, lambda fn: forget_source(fn))


def primitive_function(fn: Any, nargs: int, keywords: tuple[str, ...]) -> types.FunctionType:
    """A Python function of source of its own that calls the primitive ``fn`` (one with
    a rule, and no source srcdiff reads: a ufunc, ``np.sum``) with ``nargs`` positional
    arguments and these keywords, so that forward mode, and derivatives of derivatives,
    which differentiate source, reach a primitive called through a name (``act(h)``)."""
    key = (fn, nargs, keywords)
    hit = _WRAPPERS.get(key)
    if hit is not None:
        return hit
    params = [f"x{i}" for i in range(nargs)]
    signature = ", ".join(params + (["*", *keywords] if keywords else []))
    passed = ", ".join(params + [f"{k}={k}" for k in keywords])
    shown = getattr(fn, "__name__", type(fn).__name__)
    source = f"def call({signature}):\n    return fn({passed})\n"
    wrapper = function_of_source(source, f"a call of {shown}", "call", {"fn": fn})
    return _WRAPPERS.put(key, wrapper)


def _unpartial(fn: Any, args: tuple, kwargs: dict, positions: tuple
               ) -> tuple[Any, tuple, dict, tuple]:  # fmt: skip
    """A call of a ``functools.partial`` as the call of its function: its arguments
    first, its keywords under the call's, the active positions moved past its
    arguments."""
    while isinstance(fn, functools.partial):
        n = len(fn.args)
        if n:
            positions = tuple(a + n if type(a) is int else a for a in positions)
            args = (*fn.args, *args)
        if fn.keywords:
            kwargs = {**fn.keywords, **kwargs}
        fn = fn.func
    return fn, args, kwargs, positions


def as_function(fn: Any) -> Any:
    """What ``sd.grad`` takes apart for a callable that is not a Python function: a
    callable object's ``__call__`` bound to it, and for a ``functools.partial`` a
    function with the partial's parameters that calls its function (compiled as any
    other: see ``partial_function``). Anything else as it is."""
    if (
        isinstance(fn, (types.FunctionType, types.MethodType, type))
        or hasattr(fn, "__func__")
        or hasattr(fn, "_srcdiff_target")
        or _is_module(fn)
    ):
        return fn
    if isinstance(fn, functools.partial):
        return partial_function(fn)
    call = inspect.getattr_static(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        return types.MethodType(call, fn)
    return fn


_PARTIALS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FILES = [0]  # how many files of source made here: each gets a name of its own


def forget_source(fn: Any) -> None:
    """Drop the source ``function_of_source`` kept for ``fn`` (when a cache lets it go)."""
    linecache.cache.pop(fn.__code__.co_filename, None)


def function_of_source(source: str, what: str, name: str, namespace: dict | None = None) -> Any:
    """``name`` from ``source`` run as a file of its own (``<srcdiff: what #n>``), kept
    in ``linecache`` so that srcdiff reads it as it reads a user's function."""
    _FILES[0] += 1
    filename = f"<srcdiff: {what} #{_FILES[0]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    scope = {"__builtins__": builtins, "__name__": filename, **(namespace or {})}
    exec(compile(source, filename, "exec"), scope)  # noqa: S102 - source made here
    return scope[name]


def partial_function(p: functools.partial) -> types.FunctionType:
    """A Python function with ``p``'s signature that calls ``p.func`` with ``p``'s
    arguments and keywords (its keyword-bound parameters taking them as defaults), its
    source in ``linecache`` so that srcdiff compiles it like a user's function."""
    hit = _PARTIALS.get(p)
    if hit is not None:
        return hit
    try:
        params = list(inspect.signature(p).parameters.values())
    except (TypeError, ValueError) as exc:
        raise refuse(
            f"a functools.partial whose signature srcdiff cannot read ({p!r})",
            "call its function with all its arguments instead",
        ) from exc
    func_name = getattr(p.func, "__name__", type(p.func).__name__)
    name = "partial_" + re.sub(r"\W", "_", func_name)
    bound = [f"_srcdiff_a{i}" for i in range(len(p.args))]
    text, call, defaults = [], list(bound), []
    seen_star = False
    for i, q in enumerate(params):
        if q.kind is q.KEYWORD_ONLY and not seen_star:
            text.append("*")
            seen_star = True
        piece = q.name
        if q.kind is q.VAR_POSITIONAL:
            piece, seen_star = "*" + q.name, True
            call.append(piece)
        elif q.kind is q.VAR_KEYWORD:
            piece = "**" + q.name
            call.append(piece)
        elif q.kind is q.KEYWORD_ONLY:
            call.append(f"{q.name}={q.name}")
        else:
            call.append(q.name)
        if q.default is not q.empty:
            piece += f"=_srcdiff_d{i}"
            defaults.append(f"_srcdiff_d{i}")
        text.append(piece)
        if q.kind is q.POSITIONAL_ONLY and (
            i + 1 == len(params) or params[i + 1].kind is not q.POSITIONAL_ONLY
        ):
            text.append("/")
    outer = ", ".join(["_srcdiff_func", *bound, *defaults])
    source = (
        f"def _srcdiff_make({outer}):\n"
        f"    def {name}({', '.join(text)}):\n"
        f"        return _srcdiff_func({', '.join(call)})\n"
        f"    return {name}\n"
    )
    make = function_of_source(source, f"functools.partial of {func_name}", "_srcdiff_make")
    values = [p.default for p in params if p.default is not p.empty]
    wrapper = make(p.func, *p.args, *values)
    wrapper.__qualname__ = f"partial({getattr(p.func, '__qualname__', func_name)})"
    with contextlib.suppress(TypeError):  # not weakly referable: made for each use
        _PARTIALS[p] = wrapper
    return wrapper


def _is_module(obj: Any) -> bool:
    """An ``nn.Module``: calling it runs its ``forward``."""
    return isinstance(obj, Host.modules)


_BINDINGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per function
# the collector of the compiled callees whose adjoints run (see ``collect_called``)
CALLED: list[dict | None] = [None]


def collect_called(target: dict | None) -> dict | None:
    """Start (with a dict) or stop (with None) collecting the (unit, path key) of every
    compiled callee whose adjoint runs; return the previous collector."""
    previous, CALLED[0] = CALLED[0], target
    return previous


def _active_params(
    fn: types.FunctionType, nbound: int, nargs: int, keywords: tuple[str, ...], active: tuple
) -> tuple[tuple[str, ...], tuple[int | None, ...], int | None]:
    """The callee's parameter behind each active argument; for each, which entry of the
    callee's ``*args`` it is (None: a parameter of its own); and the position among the
    call's arguments where ``*args`` starts (None: the callee has none)."""
    per_fn = _BINDINGS.get(fn)
    if per_fn is None:
        per_fn = _BINDINGS[fn] = {}
    key = (nbound, nargs, keywords, active)
    hit = per_fn.get(key)
    if hit is None:
        params = list(own_signature(fn).parameters.values())
        star = next((i for i, p in enumerate(params) if p.kind is p.VAR_POSITIONAL), None)
        double = _double_star_name(fn)
        names, elements = [], []
        for a in active:
            if isinstance(a, str) and a not in parameter_names(fn, nbound)[1] and double:
                names.append(double)  # an entry of **kwargs, a dict
                elements.append(a)
                continue
            if isinstance(a, str):
                _refuse_into_kwargs(fn, a, parameter_names(fn, nbound)[1])
                names.append(a)
                elements.append(None)
                continue
            position = nbound + a
            if star is not None and position >= star:  # an entry of *args, a tuple
                names.append(params[star].name)
                elements.append(position - star)
                continue
            if position >= len(params) or params[position].kind not in (
                params[position].POSITIONAL_ONLY,
                params[position].POSITIONAL_OR_KEYWORD,
            ):
                raise refuse(
                    f"a differentiated argument passed to {fn.__qualname__} beyond its parameters",
                    "pass the callee the arguments its signature takes",
                )
            names.append(params[position].name)
            elements.append(None)
        hit = per_fn[key] = (tuple(names), tuple(elements),
                             None if star is None else star - nbound)  # fmt: skip
    return hit


def _double_star_name(fn: types.FunctionType) -> str | None:
    """The name of ``fn``'s ``**kwargs`` parameter, if it has one."""
    params = own_signature(fn).parameters.values()
    return next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)


def _refuse_into_kwargs(fn: types.FunctionType, key: str, named: frozenset[str]) -> None:
    """Refuse a differentiated keyword argument that no parameter of ``fn`` an argument
    can name takes (``named``, see ``parameter_names``: its ``**kwargs`` would, and
    srcdiff differentiates named parameters only)."""
    if key not in named:
        raise refuse(
            f"a differentiated keyword argument `{key}` that {fn.__qualname__} takes in its "
            "**kwargs",
            f"give {fn.__qualname__} a parameter named {key}, or pass the value by position",
        )


def value_kind(x: Any) -> str:
    """How the compiler takes a differentiated value: an array, or ``any`` container (a
    ``functools.partial`` too: its adjoint is the list of its bound values')."""
    return (
        "any" if isinstance(x, (list, tuple, dict, functools.partial)) or is_record(x) else "array"
    )


def shape_key(args: tuple, kwargs: dict) -> tuple:
    """The types, shapes and dtypes of a call's arguments: calls equal in these run one
    compiled unit (compiled for their ``shape_pattern``, and knowing which hold plain
    arrays: ``rt.plain_value``)."""
    key = tuple([(type(a), getattr(a, "shape", None), getattr(a, "dtype", None)) for a in args])
    if kwargs:
        key += tuple([(k, type(v), getattr(v, "shape", None), getattr(v, "dtype", None))
                      for k, v in kwargs.items()])  # fmt: skip
    return key


def shape_pattern(
    names: tuple[list[str], frozenset[str]], args: tuple, kwargs: dict
) -> dict[str, tuple | None]:
    """Each parameter's shape as the compiler's shape analysis takes it: every size but 1
    replaced by a token that equal sizes share (-1 for the first size met, -2 for the
    next, ...), so that one unit serves all calls whose sizes are equal where these are;
    ``()`` for a number, ``None`` for what has no shape. ``names``: the positional
    parameters in order, and every named one (see ``parameter_names``)."""
    sizes: dict[int, int] = {}

    def dims(v: Any) -> tuple | None:
        if isinstance(v, (int, float, complex)):
            return ()
        shape = getattr(v, "shape", None)
        if type(shape) is not tuple or isinstance(v, (list, tuple)):
            return None
        return tuple(1 if n == 1 else sizes.setdefault(n, -1 - len(sizes)) for n in shape)

    positional, named = names
    out = {p: dims(a) for p, a in zip(positional, args, strict=False)}
    out.update({k: dims(v) for k, v in kwargs.items() if k in named})  # not into **kwargs
    return out


def parameter_names(fn: types.FunctionType, nbound: int) -> tuple[list[str], frozenset[str]]:
    """``fn``'s positional parameters after the ``nbound`` bound ones, in order, and all
    its parameters that an argument can name (not ``*args`` or ``**kwargs``)."""
    params = list(own_signature(fn).parameters.values())[nbound:]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    named = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return positional, named


@dataclass(frozen=True)
class Star:
    """In a call's mask, the differentiated ``*args`` operand: it starts at argument
    ``start`` and ends before the last ``after`` positional arguments; ``spread`` is the
    value spread (an array's entries' gradients are stacked back into its shape)."""

    start: int
    after: int
    spread: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Spread:
    """In a call's mask, the differentiated ``**kw`` operand: every keyword argument but
    those the call names itself (``named``)."""

    named: tuple[str, ...]


_PLAIN_MASKS: dict[tuple, bool] = {}  # masks of generated calls: each plain, or not


def _expanded(active: tuple, nargs: int, kwargs: dict) -> tuple[tuple, tuple | None]:
    """The mask as argument positions (``*args``, ``**kw`` and positions counted from the
    end made plain), and for each mask entry how its gradient is gathered: ``(True, i,
    n)`` a list of positions ``i`` to ``i + n``, ``(keys, i, n)`` a dict of them, ``(False,
    i, 1)`` position ``i`` alone (None when every entry is plain)."""
    plain = _PLAIN_MASKS.get(active)
    if plain is None:
        if len(_PLAIN_MASKS) > 4096:
            _PLAIN_MASKS.clear()
        plain = not any(
            isinstance(a, (Star, Spread)) or isinstance(a, int) and a < 0 for a in active
        )
        if plain:  # (not a mask with a Star, which holds the value it spreads)
            _PLAIN_MASKS[active] = plain
    if plain:
        return active, None
    positions: list = []
    layout = []
    for a in active:
        if isinstance(a, Star):
            covered = tuple(range(a.start, nargs - a.after))
            rows = a.spread if hasattr(a.spread, "shape") else True  # an array's, or not
            layout.append((rows, len(positions), len(covered)))
            positions += covered
        elif isinstance(a, Spread):
            keys = tuple(k for k in kwargs if k not in a.named)
            layout.append((keys, len(positions), len(keys)))
            positions += keys
        else:
            layout.append((False, len(positions), 1))
            positions.append(a if isinstance(a, str) or a >= 0 else nargs + a)
    return tuple(positions), tuple(layout)


def call(fn: Any, active: tuple, /, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Run ``fn(*args, **kwargs)`` for a primal; return its value and its record."""
    positions, layout = _expanded(active, len(args), kwargs)
    try:
        value, record = _call(fn, positions, False, args, kwargs)
    except CompileError as exc:
        note_caller(exc, sys._getframe(1))
        raise
    return value, record if layout is None else ("star", record, layout)


LEAVES = [0]  # how many Tensors requiring grad compiled code has unwrapped so far


class Step:
    """A compiled Tensor function running: its saved values, and the in-place writes
    of Tensors made meanwhile (by code run as written: ``sd.no_grad()`` blocks, calls
    such as ``optimizer.step()``), with how many values were saved before each."""

    __slots__ = (
        "saved",
        "writes",
        "callee_writes",
        "depth",
        "leaves",
        "freed",
        "roots",
        "leaf_arrays",
        "graph_arrays",
        "array_writes",
    )

    def __init__(self, saved: dict, leaves: int = 0) -> None:
        self.saved = saved
        # per dict of saved values (by id: the step's, a callee's), those a backward()
        # without retain_graph has read: freed, as PyTorch frees a graph's saved tensors
        # (another backward reading one is refused)
        self.freed: dict[int, frozenset[int]] = {}
        # the losses such a backward() started from: their graphs are freed whole
        self.roots: list = []
        # per Tensor (by id), its last write: (the Tensor, the values saved before it)
        self.writes: dict[int, tuple[Any, int | None]] = {}
        # ... made inside callees: per dict of saved values of each primal running then
        # (by id), how many it held (those saved after are of the new value)
        self.callee_writes: dict[int, dict[int, int]] = {}
        # calls of compiled callees running: their values are saved apart, and the
        # number saved before a write inside one is None (any) until it returns
        self.depth = 0
        self.leaves = leaves  # ``LEAVES`` when it started
        # the arrays of the leaves requiring grad it unwrapped (by id), with the leaves:
        # one a callee updates in place is PyTorch's error (see ``mutation.follow``)
        self.leaf_arrays: dict[int, Any] = {}
        # those of the Tensors with a graph requiring grad it unwrapped: a value computed
        # from none of either carries no gradient (see ``held_without_gradient``)
        self.graph_arrays: dict[int, Any] = {}
        # the arrays it computed and then changed in place through a detached alias
        # (compiled code gave the change a new array), with how many values were saved
        # before (see check_array_writes)
        self.array_writes: list[tuple[Any, int | None]] = []


STEP: list[Step | None] = [None]  # the innermost compiled Tensor function running
# the zeros a backward() in a compiled step gave for arguments its callees' results do
# not depend on (no gradient path), so that a loss reaching a leaf only through them
# raises PyTorch's error rather than give zeros; None outside such a backward()
UNREACHED: list[list | None] = [None]


def tensor_call(
    fn: Any, active: tuple, path: list, /, *args: Any, **kwargs: Any
) -> tuple[Any, Any]:
    """``call`` from compiled code that computes with Tensors: the callee is compiled the
    same way (its Tensor operands unwrapped, its Tensor methods on arrays). ``path``
    records whether the callee met Tensors requiring grad (then its result may carry a
    gradient even when no argument does)."""
    if getattr(fn, "__module__", None) == "srcdiff.functions":  # sd.stack through a name
        fn = tensor_functions.get(fn.__name__, fn)  # found when the code runs: its array
    before = LEAVES[0]  # version, as the compiler gives a call it resolves
    positions, layout = _expanded(active, len(args), kwargs)
    step = STEP[0]
    try:
        if step is not None:  # (see tensors.wrote)
            step.depth += 1
        value, record = _call(fn, positions, True, args, kwargs)
    except CompileError as exc:  # (a refusal inside the callee names the line calling it)
        note_caller(exc, sys._getframe(1))
        raise
    finally:
        if step is not None:
            step.depth -= 1
            if not step.depth:  # its writes came before what is saved after its record
                after = len(step.saved) + 1
                for key, (tensor, n) in step.writes.items():
                    if n is None:
                        step.writes[key] = (tensor, after)
    path.append(1 if LEAVES[0] > before else 0)
    return value, record if layout is None else ("star", record, layout)


GRADIENTS = "srcdiff.api"  # where gradient functions live: differentiated by their rules
REGISTRY = "srcdiff.rules.registry"  # the rules of srcdiff's transforms (``own_rules``)


def _derivative_inside(fn: Any, tensor: bool = False) -> CompileError:
    """The refusal of a derivative (other than sd.grad's, sd.value_and_grad's and
    sd.jvp's, which have rules) taken inside a differentiated function; of the rule of
    one, differentiated (a derivative of a higher order than srcdiff follows), as the
    derivative says it (``_srcdiff_too_deep``: what the user wrote, and what to do); of
    any transform in code compiled on Tensors (``tensor``), whose rules run on arrays."""
    owner = getattr(fn, "__self__", None)
    if owner is None:  # the rule of one (registry.own_rules)
        owner = getattr(fn, "_srcdiff_owner", None)
    too_deep = getattr(owner, "_srcdiff_too_deep", None)
    if callable(too_deep):
        return refuse(*too_deep())
    name = getattr(fn, "__qualname__", type(fn).__name__)
    if tensor:
        shown = f"sd.{name}" if getattr(fn, "__module__", None) == GRADIENTS else name
        outside = (
            "call sd.vmap(...) outside the @sd.differentiate function, where it maps Tensors "
            "and backward() reaches them" if name == "vmap" else
            f"call {shown}(...) outside the @sd.differentiate function"
        )  # fmt: skip
        return refuse(
            f"{shown} called inside a function differentiated on Tensors",
            "srcdiff differentiates calls of its transforms (sd.grad, sd.vmap, ...) inside "
            f"functions of NumPy arrays only: {outside}, or write the function on arrays and "
            "differentiate it with sd.grad (given x.detach().numpy())",
        )
    return refuse(
        f"a derivative ({name}) taken inside a differentiated function",
        "srcdiff differentiates calls of sd.grad, sd.value_and_grad, sd.vjp, sd.jvp, "
        "sd.jacobian, sd.hvp, sd.hessian and sd.vmap there; take the derivative outside",
    )


RUNTIME = "srcdiff.runtime"  # generated code's helpers: differentiated by rules only


def reverse_over_forward(fn: Any, args: tuple, tangents: list, cotangent: tuple) -> tuple:
    """Reverse mode over ``fn``'s forward mode (``Host.tangent_vjp``): ``((value,
    tangent), d_tangents, d_args)`` for the adjoints ``cotangent`` of the value and the
    tangent along ``tangents`` at ``args``."""
    return Host.tangent_vjp(fn, args, {}, tangents, cotangent)


def tangent_vjp(g: tuple, ans: tuple, fn: Any, tangents: tuple, *args: Any, **kwargs: Any
                ) -> tuple:  # fmt: skip
    """The reverse rule of ``call_jvp(fn, tangents, *args, **kwargs)`` (whose keywords
    carry no derivative): given ``g``, the adjoints of its value and tangent, the
    gradients for ``fn`` (none), ``tangents`` and each of ``args``, by reverse mode over
    ``fn``'s forward mode (``Host.tangent_vjp``)."""
    pulled = Host.tangent_vjp(fn, args, kwargs, tangents, g)
    return (None, pulled.d_tangents, *pulled.d_args)


def tangent_vjp_keywords(g: tuple, ans: tuple, fn: Any, tangents: tuple,
                         names: tuple[str, ...], *values: Any) -> tuple:  # fmt: skip
    """The reverse rule of ``call_jvp_keywords``: the gradients for ``fn`` and ``names``
    (none), ``tangents`` and each of ``values``."""
    n = len(values) - len(names)
    kwargs = dict(zip(names, values[n:], strict=True))
    pulled = Host.tangent_vjp(fn, values[:n], kwargs, tangents[:n], g,
                              dict(zip(names, tangents[n:], strict=True)))  # fmt: skip
    d_tangents = (*pulled.d_tangents, *(pulled.d_keyword_tangents[k] for k in names))
    return (None, d_tangents, None, *pulled.d_args, *(pulled.d_kwargs[k] for k in names))


def tangent_vjp_star(g: tuple, ans: tuple, fn: Any, tangents: tuple, stars: tuple,
                     names: tuple, *values: Any) -> tuple:  # fmt: skip
    """The reverse rule of ``call_jvp_star``: the gradients for ``fn``, ``stars`` and
    ``names`` (none), ``tangents`` and each of ``values``; those of a starred operand
    gathered as the operand holds its entries (a list, or an array of its rows), those
    of a ``**`` mapping as a dict (zero where an entry has none)."""
    d_args, args, kwargs, named, sizes, keys = _unstarred(tangents, stars, names, values)
    pulled = Host.tangent_vjp(fn, args, kwargs, d_args, g, named)
    d_tangents, d_values = [], []
    i = 0
    for star, v, t, k in zip(stars, values, tangents, sizes, strict=False):
        if not star:
            d_tangents.append(pulled.d_tangents[i])
            d_values.append(pulled.d_args[i])
        else:
            entries = args[i : i + k]
            pulled_v = pulled.d_args[i : i + k]
            d_tangents.append(None if t is None else _gathered(v, t, pulled.d_tangents[i : i + k]))
            d_values.append(
                None if all(d is None for d in pulled_v) else _gathered(v, entries, pulled_v)
            )
        i += k
    for k, spread in zip(names, keys, strict=True):
        if k is not None:
            d_tangents.append(pulled.d_keyword_tangents.get(k))
            d_values.append(pulled.d_kwargs[k])
            continue
        d_tangents.append(_entries(spread, pulled.d_keyword_tangents.get, kwargs))
        d_values.append(_entries(spread, pulled.d_kwargs.get, kwargs))
    return (None, tuple(d_tangents), None, None, *d_values)


def _entries(keys: tuple, grad_of: Callable[[str], Any], kwargs: dict) -> dict | None:
    """The gradients of a ``**`` mapping's entries as a dict (zero where an entry has
    none), or None where none has one."""
    grads = {key: grad_of(key) for key in keys}
    if all(d is None for d in grads.values()):
        return None
    return {key: zeros_like(kwargs[key]) if d is None else d for key, d in grads.items()}


def _gathered(operand: Any, entries: Any, grads: tuple) -> Any:
    """The gradients of a starred operand's entries (None: zero), as the operand holds
    its entries: a list, or for an array, an array of its rows."""
    out = [zeros_like(e) if d is None else d for e, d in zip(entries, grads, strict=False)]
    if isinstance(operand, (list, tuple)):
        return out
    xp = array_module(operand)
    if not out:
        return xp.zeros_like(operand)
    return xp.reshape(xp.stack([xp.asarray(d) for d in out]), operand.shape)


def call_key(values: list, args: tuple, kwargs: dict, shapes: bool = True) -> tuple:
    """What a compiled unit of a call depends on, beyond the function: the types and
    dtypes of its differentiated values (an integer array carries no gradient, a float
    one does), the rules registered, the shapes of its arguments where its code is
    compiled for them (``shape_key``), and the array module where the types do not name
    it (numbers, arrays in containers). Every call site (sd.grad's, a compiled caller's)
    keys its units so: ``(types, dtypes, version, shapes or None[, module])``."""
    value_types = tuple(map(type, values))
    dtypes = tuple(getattr(v, "dtype", None) for v in values)
    key = (
        value_types,
        dtypes,
        Host.registry.version(),
        shape_key(args, kwargs) if shapes else None,
    )
    if not _ARRAY_TYPES.issuperset(value_types):
        key += (array_module(*values, *args, *kwargs.values()),)
    return key


def cached_unit(units: dict, key: tuple, make: Callable[..., tuple], *args: Any) -> tuple:
    """The entry of a call site's ``units`` for ``key`` (a compiled unit, and where the
    gradients it gives sit), made by ``make(*args)`` when absent or stale (compiled taking a
    global for a number it no longer holds). Bounded: calls of ever new shapes start the
    table afresh. Every call site (sd.grad's, a compiled caller's) looks units up here."""
    hit = units.get(key)
    if hit is None or hit[0].stale():
        if len(units) > 256:
            units.clear()
        hit = units[key] = make(*args)
    return hit


class NoGradient:
    """The gradient of an argument srcdiff cannot differentiate through (a value a
    callee takes in its own ``**kwargs``): harmless where the adjoint ignores it (the
    argument is a constant there), a CompileError wherever it is used or inspected (its
    attributes, ``getattr`` with a default too: never taken for some other value)."""

    __array_ufunc__ = None  # NumPy hands arithmetic with it to the methods below

    def __init__(self, what: str, hint: str):
        self.what, self.hint = what, hint

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse(self.what, self.hint)

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __neg__ = __array__ = __float__ = __bool__ = _refuse
    __matmul__ = __rmatmul__ = __pow__ = __rpow__ = __pos__ = __abs__ = _refuse
    __iter__ = __len__ = __getitem__ = _refuse

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and the like look for these
            raise AttributeError(name)
        self._refuse()


def rule_grad(d: Any, x: Any) -> Any:
    """The gradient ``d`` a rule called by name gave for the argument ``x``: None (no
    gradient) for an array or a number is a zero shaped like it, which the adjoints of
    what made ``x`` can take (for another object, None stays: ``rt.acc`` adds it)."""
    if d is None and (hasattr(x, "shape") or isinstance(x, (int, float, complex))):
        return zeros_like(x)
    return d


def check_rule_grads(result: Any, operands: tuple, rule: str) -> None:
    """Refuse what a user's rule gave where it is not one gradient per argument (a
    tuple for several) with each array of its argument's shape: a gradient of another
    shape would be broadcast into a wrong one without a word."""
    grads = (result,) if len(operands) == 1 else result
    if not isinstance(grads, (tuple, list)) or len(grads) != len(operands):
        raise TypeError(
            f"{rule} returned {type(result).__name__} for {len(operands)} arguments: return "
            "a tuple of one gradient per argument (None for one without)"
        )
    for i, (d, x) in enumerate(zip(grads, operands, strict=True)):
        if d is None or isinstance(d, NoGradient) or not hasattr(d, "shape"):
            continue
        shape = getattr(x, "shape", None)
        if not isinstance(shape, (tuple, list)):  # (a module's np.shape is no shape)
            shape = () if isinstance(x, (int, float, np.generic)) else None
        if shape is not None and tuple(d.shape) != tuple(shape):
            raise ValueError(
                f"{rule} gave a gradient of shape {tuple(d.shape)} for argument {i}, of shape "
                f"{tuple(shape)}: return one of the argument's shape"
            )


class CallSite:
    """A call of one Python function (``target``, after ``nbound`` arguments bound to it)
    with one pattern of differentiated parameters (``names``; for each, which entry of
    its ``*args`` it is, or None): the units compiled for it, looked up by what each
    call's values are (``call_key``, ``cached_unit``). Every caller of compiled code has
    its calls so: ``sd.grad``'s functions and ``@sd.differentiate`` (``api._Target``, the
    names it is asked for) and the calls compiled code makes (``_Site``, the arguments
    that carry gradient in each call). ``tensor``: the target is Tensor code compiled for
    a caller of Tensor code, its parameters arrays; ``returns``: the parameters it updates
    in place and returns after its value."""

    every = False  # each of ``names`` is differentiated, whatever its value (an entry's)
    bound: tuple = ()  # the values bound before the caller's (sd.grad of a bound method's)

    def __init__(self, target: types.FunctionType, nbound: int, names: tuple[str, ...],
                 elements: tuple[int | str | None, ...], *, tensor: bool = False,
                 returns: tuple[str, ...] = ()):  # fmt: skip
        self._target = weakref.ref(target)  # (a site is its target's: see _SITES)
        self.parameters = parameter_names(target, nbound)
        self.names, self.elements = tuple(names), tuple(elements)
        self.starred = any(e is not None for e in self.elements)
        self.tensor, self.returns = tensor, returns
        self.units: dict[tuple, tuple[Any, tuple]] = {}

    @property
    def target(self) -> types.FunctionType:
        return self._target()

    def unit(self, values: list, args: tuple, kwargs: dict, bound: tuple = ()
             ) -> tuple[Any, tuple]:  # fmt: skip
        """The compiled unit for a call, given the values of its differentiated arguments,
        and where each one's gradient sits among its adjoint's results (``bound``: the
        values bound before ``args``, a method's object)."""
        key = call_key(values, args, kwargs, shapes=not self.tensor)  # Tensor: no shapes
        held = self.holding(bound or self.bound, args, kwargs)
        if held:  # (a unit compiled for a list of arrays checks its entries' operators)
            key += (held,)
        return cached_unit(self.units, key, self.compile, values, args, kwargs, bound)

    def holding(self, bound: tuple, args: tuple, kwargs: dict) -> tuple:
        """Which arguments hold objects of a user's class (``holders``, by position or
        name): a unit is compiled for them, whose entries' operators are their class's."""
        given = [*enumerate((*bound, *args)), *kwargs.items()]
        if self.tensor:
            return tuple(sorted(f for n, v in given for f in fields_holding_records(str(n), v)))
        return tuple(n for n, v in given if holds_record(v))

    def check(self, values: list) -> None:
        """Refuse differentiated values the site cannot take (an entry point's check)."""

    def compile(self, values: list, args: tuple, kwargs: dict, bound: tuple = ()
                ) -> tuple[Any, tuple]:  # fmt: skip
        """The unit for a call of these values, and where each differentiated argument's
        gradient sits among its adjoint's results (None: it carries none)."""
        self.check(values)
        others = (*args, *kwargs.values())
        pairs = list(zip(self.names, values, strict=True))
        carried = [n for n, v in pairs if self.every or carries_gradient(v)]
        names = tuple(dict.fromkeys(carried))  # *args once, however many entries
        kinds = {n: value_kind(v) for n, v in pairs if n in names}
        for n, e in zip(self.names, self.elements, strict=True):
            if e is not None and n in names:
                kinds[n] = "any"  # *args: a tuple of all its entries
        shapes = None if self.tensor else shape_pattern(self.parameters, args, kwargs)
        unit = Host.unit_for(
            self.target,
            names,
            kinds,
            array_module(*values, *others),
            Host.callee if self.tensor else Host.arrays,
            shapes,
            self.returns,
            self.given(args, kwargs, immutable_number),
            plain=frozenset() if self.tensor else self.given(args, kwargs, plain_value),
            objects=frozenset() if self.tensor else self.given(args, kwargs, is_record),
            holders=self.holders(bound or self.bound, args, kwargs),
        )
        absorbed = {n for n, e in zip(self.names, self.elements, strict=True) if isinstance(e, str)}
        _refuse_kwargs_updates(unit, absorbed)
        return unit, tuple(unit.wrt.index(n) if n in names else None for n in self.names)

    def holders(self, bound: tuple, args: tuple, kwargs: dict) -> frozenset[str]:
        """The parameters given what holds objects of a user's class (``holds_record``),
        the ``bound`` ones (a method's object) too; in Tensor code, their fields holding
        one (``fields_holding_records``: ``"self.scale"``)."""
        names = list(own_signature(self.target).parameters)
        given = [*zip(names, bound, strict=False), *zip(self.parameters[0], args, strict=False),
                 *((k, v) for k, v in kwargs.items() if k in self.parameters[1])]  # fmt: skip
        if self.tensor:
            return frozenset(f for n, v in given for f in fields_holding_records(n, v))
        return frozenset(n for n, v in given if holds_record(v))

    def given(self, args: tuple, kwargs: dict, what: Callable[[Any], bool]) -> frozenset[str]:
        """The parameters given values that are ``what``: plain arrays or numbers
        (``plain_value``), whose operators the callee's code needs not check; numbers
        (``immutable_number``), which an update in place replaces. The site's key has
        every argument's type, shape and dtype."""
        positional, named = self.parameters
        given = [*zip(positional, args, strict=False),
                 *((k, v) for k, v in kwargs.items() if k in named)]  # fmt: skip
        return frozenset(n for n, a in given if what(a))


class _Site(CallSite):
    """A call compiled code makes of one callable with one pattern of active arguments:
    a primitive with a rule (or none to differentiate), or a function compiled as a
    ``CallSite``; found again, a call costs a couple of dictionary look-ups."""

    def __init__(self, fn: Any, target: Any, nbound: int, active: tuple, tensor: bool,
                 nargs: int, keywords: tuple[str, ...]):  # fmt: skip
        self.rule = Host.registry.lookup(fn)
        self.nondiff = self.rule is None and Host.registry.is_nondiff(fn)
        # a primitive reached through a name: its arguments checked as a call written
        # out would check them (an object's own __add__ or __round__ is no rule's)
        self.check_args = (
            call_check(fn, self.rule is not None) if self.rule or self.nondiff else None
        )
        self.out_at = out_position(fn) if self.rule or self.nondiff else None
        self.version = -1  # the registry's version when fn itself was last found without a rule
        if self.rule is not None or self.nondiff:
            return
        refused = Host.registry.refusal(fn)
        if refused is not None:
            raise refuse(*refused)
        owner = getattr(fn, "__self__", None) if isinstance(fn, types.BuiltinMethodType) else None
        if target is None and (found := container_update(owner, getattr(fn, "__name__", ""))):
            raise refuse(*found)
        if target is None:
            raise refuse(
                f"no derivative rule for {getattr(fn, '__qualname__', fn)!r}",
                "register one with sd.register_vjp, or call a function srcdiff can compile",
            )
        if target.__module__ in (GRADIENTS, REGISTRY):
            raise _derivative_inside(fn, tensor)
        if (target.__module__ or "").startswith(RUNTIME):
            raise refuse(
                f"no derivative rule for srcdiff's rt.{target.__name__}, which srcdiff's own code "
                "compiled here calls (a derivative differentiated again, or a function of "
                "srcdiff's given a value that may carry a gradient)",
                "take a derivative of a derivative another way (sd.hvp and sd.hessian "
                "differentiate forward mode once more), pass srcdiff's functions plain "
                "values (.detach(), a Python bool or number), or ask for the rule",
            )
        # the parameter of each active argument, and which entry of *args it is (None: none)
        names, elements, self.star = _active_params(target, nbound, nargs, keywords, active)
        returns = fn.names if type(fn) is Returning else ()
        super().__init__(target, nbound, names, elements, tensor=tensor, returns=returns)


def immutable_number(v: Any) -> bool:
    """A Python or NumPy number: ``v += 1`` makes a new one."""
    return type(v) in (int, float, bool, complex) or isinstance(v, np.generic)


def _refuse_kwargs_updates(unit: Any, double: set[str]) -> None:
    """Refuse a callee that updates its ``**kwargs`` (``double``) given differentiated
    entries: they are the caller's objects, which an in-place update of an entry changes
    in Python and not in compiled code."""
    changed = sorted(double & set(unit.updated))
    if changed:
        raise refuse(
            f"{unit.label} updates its **{changed[0]}, which holds differentiated values the "
            "caller passed by keyword",
            "give the callee a parameter for each such keyword, or update a copy",
        )


def inlined(site: Any) -> bool:
    """Whether the objects a call's inlined code was compiled for (a module's forward, a
    function, the globals its code reads) are still the ones found (``site.holds()``):
    else compiled code makes the call itself."""
    return site.holds()


def carries_gradient(v: Any) -> bool:
    """Whether a value can carry a gradient: not a string, a flag, an integer, None, a
    slice, a module or a function (those are compiled as constants of the callee), nor
    a list or tuple of such (indices: ``x[[0, 2]]``)."""
    if isinstance(v, (str, bool, int, type(None), slice, type(Ellipsis), range, types.ModuleType,
                      type)):  # fmt: skip
        return False  # (srcdiff's module, passed as ``torch``, has an attribute ``dtype``)
    if type(v) in (list, tuple) and v and not any(map(carries_gradient, v)):
        return False
    if callable(v) and not (
        is_record(v)
        or isinstance(v, functools.partial)
        or (isinstance(v, types.MethodType) and is_record(v.__self__))
    ):
        return False
    if callable(getattr(v, "_changed", None)):  # a Tensor, in a list or tuple a step was given
        v = v._data
    dtype = getattr(v, "dtype", None)
    return dtype is None or dtype_kind(v) not in "biu"


# The sites of calls of Python functions, per function and held weakly by it (a closure
# made per step is freed with its sites); and the sites of calls of primitives (NumPy's
# functions, which live as long as NumPy), bounded.
_SITES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PRIMITIVE_SITES: dict[tuple, _Site] = {}
_ARRAY_TYPES = {np.ndarray, np.float64, np.float32}  # types that name their array module


def _site(fn: Any, active: tuple, tensor: bool, args: tuple, kwargs: dict
          ) -> tuple[_Site, tuple]:  # fmt: skip
    """The site of a call of ``fn``, and the arguments bound before the call (``self``)."""
    shape = (active, tensor, len(args), tuple(kwargs))
    if type(fn) is types.FunctionType:  # a function met before under these rules: no lookups
        per_target = _SITES.get(fn)
        site = None if per_target is None else per_target.get((0, *shape, ()))
        if site is not None and site.version == Host.registry.version():
            return site, ()
    target, bound = _target(fn)
    if hasattr(type(fn), "_srcdiff_vjp"):  # srcdiff's transform (a rule of its own): its
        sites = fn.__dict__.setdefault("_srcdiff_sites", {})  # sites are kept on it, freed
        site = sites.get(shape)  # with it (its rule holds it: a weak table could not)
        if site is None:
            site = sites[shape] = _Site(fn, target, len(bound), *shape)
        return site, bound
    if target is None or Host.registry.lookup(fn) is not None or Host.registry.is_nondiff(fn):
        try:  # (a rule registered again since is another site's)
            key = (fn, Host.registry.version(), *shape)
            site = _PRIMITIVE_SITES.get(key)
        except TypeError:  # an unhashable callable
            return _Site(fn, target, len(bound), *shape), bound
        if site is None:
            if len(_PRIMITIVE_SITES) > 4096:
                _PRIMITIVE_SITES.clear()
            site = _PRIMITIVE_SITES[key] = _Site(fn, target, len(bound), *shape)
        return site, bound
    per_target = _SITES.get(target)
    if per_target is None:
        per_target = _SITES[target] = {}
    key = (len(bound), *shape, fn.names if type(fn) is Returning else ())
    site = per_target.get(key)
    if site is None:
        site = per_target[key] = _Site(fn, target, len(bound), *shape)
    if fn is target:  # the function itself was found to have no rule under these rules
        site.version = Host.registry.version()
    return site, bound


def _rule_keywords(fn: Any, kwargs: dict, active: tuple) -> tuple[dict, tuple]:
    """A call's keywords as the parameters of ``fn``'s rule (``registry.keywords``):
    renamed (np.clip's ``min=``), or left out where the rule does without them (einsum's
    ``optimize=``, ``out=None``); and the active positions so renamed."""
    if not kwargs:
        return kwargs, active
    given, names = {}, {}
    for k, v in kwargs.items():
        name = Host.registry.keyword(fn, k)
        if name is not None and not (k == "out" and v is None):
            given[name] = v
            names[k] = name
    return given, tuple(names.get(a, a) if type(a) is str else a for a in active)


# srcdiff's optimizers and schedulers: they update Tensors under no_grad, as eager code
# runs them (a compiled step holding one in a name that follows a write still calls it)
RUN_AS_WRITTEN = ("srcdiff.optim",)


def _runs_as_written(fn: Any) -> bool:
    """Whether ``fn`` (``opt.step``) is code of srcdiff's own that compiled Tensor code
    calls as it is: no gradient passes through it, in eager code either. A Module's
    (``swa_utils.AveragedModel``'s forward) is not: its output carries the gradient."""
    if getattr(fn, "_srcdiff_builds", False):  # sd.vmap: it makes the map, which calls run
        return True
    module = getattr(getattr(fn, "__func__", fn), "__module__", None) or ""
    return module.startswith(RUN_AS_WRITTEN) and not (
        _is_module(fn) or _is_module(getattr(fn, "__self__", None))
    )


def _call(fn: Any, active: tuple, tensor: bool, args: tuple, kwargs: dict) -> tuple[Any, Any]:
    if fn is PLAIN_CALL:  # args[0] carries no gradient of its own
        shifted = tuple(a - 1 if type(a) is int else a for a in active if a != 0)
        value, record = _call(args[0], shifted, tensor, args[1:], kwargs)
        return value, ("plain", record)
    if fn is PARTIAL_CALL:
        fn = partial_caller(args[0], len(args) - 1, tuple(kwargs))
    if isinstance(fn, functools.partial):
        fn, args, kwargs, active = _unpartial(fn, args, kwargs, active)
    if (
        active[:1] == (0,)
        and isinstance(args[0], functools.partial)
        and (over := Host.over_partial(fn, args, kwargs)) is not None
    ):  # the transform of a partial: the partial of its transform (see there)
        fn, args, kwargs = over
        active = (0,)
    if tensor and hasattr(type(fn), "_srcdiff_vjp"):  # srcdiff's transform, on Tensors
        examples = getattr(fn, "_srcdiff_examples", None)
        if examples is None:
            raise _derivative_inside(fn, tensor)
        fn = examples(args, kwargs)  # (sd.vmap's map: its examples one by one, stacked)
    if tensor and _runs_as_written(fn):
        value = fn(*args, **kwargs)
        return value, ("none", _values(args, kwargs, active))
    if any(type(a) is str for a in active) and hasattr(type(fn), "_srcdiff_vjp"):
        moved = Host.by_position(fn, args, kwargs)  # (its rules take positions only)
        if moved is not None:
            fn, args, kwargs, at = moved
            active = tuple(at.get(a, a) for a in active)
    site, bound = _site(fn, active, tensor, args, kwargs)
    if site.rule is not None or site.nondiff:
        refuse_out(fn, site.out_at, args, kwargs)
    if site.rule is not None:
        check_call(site.check_args, args, kwargs)
        named = [a for a in active if type(a) is str]
        if named and hasattr(type(fn), "_srcdiff_vjp"):  # (its rules take positions only)
            raise refuse(*Host.keyword_refusal(fn, named, len(args), forward=False))
        value = fn(*args, **kwargs)
        kwargs, active = _rule_keywords(fn, kwargs, active)
        return value, ("rule", site.rule, args, kwargs, value, active)
    if site.nondiff:
        check_call(site.check_args, args, kwargs)
        value = fn(*args, **kwargs)
        return value, ("none", _values(args, kwargs, active))
    values = _values(args, kwargs, active)
    if not tensor:
        _refuse_tensor_function(fn, values)
    unit, order = site.unit(values, args, kwargs, bound)
    elements = site.elements if site.starred else None
    try:
        value, saved, path = unit.run_primal((*bound, *args), kwargs)
    except BaseException as exc:
        _partly_updated(exc, unit, (*bound, *args), kwargs)
        raise
    if unit.updated and not unit.returns:
        _refuse_updates(unit, (*bound, *args), kwargs, saved)
    if args and is_record(args[0]) and holds(value, args[0]):
        _refuse_self(fn, args[0])
    # (fn kept: a function made for this call, a closure a factory returned, lives as long
    # as the record, whose adjoint the unit builds from its code, which it holds weakly)
    return value, ("unit", unit, saved, path, order, values, elements, fn)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # srcdiff/


def _refuse_tensor_function(fn: Any, values: Any) -> None:
    """Refuse one of srcdiff's Tensor functions (``sd.median``) given a NumPy or CuPy array
    that carries a gradient: a plain call makes Tensors of it, which code computing on
    arrays does not follow."""
    module = getattr(fn, "__module__", None)
    if module != "srcdiff.functions" and not getattr(fn, "_srcdiff_takes_tensors", False):
        return
    if any(is_array(v) for v in values):
        frame = sys._getframe(1)  # the generated code calling it: the user's, or
        while frame is not None and not frame.f_code.co_name.endswith(GENERATED):
            frame = frame.f_back  # srcdiff's own (nn code on arrays: refused on its own)
        if frame is None or frame.f_code.co_filename.startswith(_PACKAGE):
            return
        name = getattr(fn, "__name__", "")
        shown = f"sd.{name}" if module == "srcdiff.functions" else f"F.{name}"
        numpy = {"median": "np.median (values only)", "kthvalue": "np.partition"}.get(
            name, f"np.{name}" if hasattr(np, name) else "NumPy's functions"
        )
        raise refuse(
            f"{shown} takes Tensors, and is given an array that carries a gradient here",
            f"call the differentiated function with Tensors (sd.tensor(x, requires_grad="
            f"True), then .backward()), or use {numpy} on arrays",
        )


def _refuse_self(fn: Any, obj: Any) -> None:
    """Refuse a method of a differentiated object returning the object itself: a name
    given its result would share the object, which compiled code does not follow."""
    found = inspect.getattr_static(type(obj), getattr(fn, "__name__", ""), None)
    if found is fn or getattr(found, "fget", None) is fn:  # a method, or a property
        raise refuse(
            f"{fn.__qualname__} returns the object it is called on (self), or a tuple, "
            "list, dict or object holding it, and that object carries a gradient",
            "return a new object (or its fields), or use the object itself after the call",
        )


def _naming_caller(helper: Callable) -> Callable:
    """``helper`` of generated code, whose refusals name the user's line that called it
    (``note_caller``)."""

    @functools.wraps(helper)
    def naming(*args: Any, **kwargs: Any) -> Any:
        try:
            return helper(*args, **kwargs)
        except CompileError as exc:
            note_caller(exc, sys._getframe(1))
            raise

    return naming


@_naming_caller
def call_jvp(fn: Any, tangents: tuple, /, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """A call in forward mode: ``fn``'s value and tangent, given one tangent per
    positional argument (None where it has none): from its forward rule, or from its
    own tangent source (compiled on first use, as ``rt.call`` compiles adjoints)."""
    return _call_jvp(fn, tuple(tangents), args, kwargs, {})


@_naming_caller
def call_jvp_keywords(fn: Any, tangents: tuple, names: tuple[str, ...], /, *values: Any
                      ) -> tuple[Any, Any]:  # fmt: skip
    """``call_jvp`` of a call passing keywords: ``values`` are the positional arguments,
    then the keyword arguments ``names``, with one tangent each; every value is an
    argument of this call, so that differentiating it again reaches them all."""
    n = len(values) - len(names)
    return _call_jvp(fn, tuple(tangents[:n]), values[:n],
                     dict(zip(names, values[n:], strict=True)),
                     dict(zip(names, tangents[n:], strict=True)))  # fmt: skip


def _unstarred(tangents: tuple, stars: tuple, names: tuple, values: tuple
               ) -> tuple[tuple, tuple, dict, dict, list, list]:  # fmt: skip
    """The call ``call_jvp_star`` stands for: its positional arguments and their
    tangents, each starred operand (a list, a tuple, or an array: its rows) spread into
    its entries (and its tangent, the operand's, into theirs), then its keyword
    arguments and their tangents, a ``**`` mapping (named None) spread into its entries;
    how many arguments each positional operand gave, and the keys each keyword operand
    gave."""
    n = len(stars)
    args: list = []
    d_args: list = []
    sizes = []
    for star, v, t in zip(stars, values[:n], tangents[:n], strict=True):
        if not star:
            args.append(v)
            d_args.append(t)
            sizes.append(1)
            continue
        entries = tuple(v)
        if t is not None and (not _spreads(v) or len(t) != len(entries)):
            raise refuse(
                f"forward mode through a starred argument of type {type(v).__name__}",
                "pass a list, a tuple or an array, or the arguments one by one",
            )
        args += entries
        d_args += (
            (None,) * len(entries)
            if t is None
            else tuple(d if carries_gradient(e) else None for e, d in zip(entries, t, strict=True))
        )  # an integer entry's tangent is no tangent
        sizes.append(len(entries))
    kwargs: dict = {}
    named: dict = {}
    keys = []
    for k, v, t in zip(names, values[n:], tangents[n:], strict=True):
        spread = {k: v} if k is not None else v
        if k is None and t is not None and not isinstance(t, dict):
            raise refuse(
                f"forward mode through **kwargs of type {type(v).__name__}",
                "pass a dict, or the arguments one by one",
            )
        for key, entry in spread.items():
            if key in kwargs:
                raise TypeError(f"got multiple values for keyword argument {key!r}")
            kwargs[key] = entry
            tangent = t if k is not None else (t or {}).get(key)
            named[key] = tangent if carries_gradient(entry) else None
        keys.append(tuple(spread))
    return tuple(d_args), tuple(args), kwargs, named, sizes, keys


def _spreads(v: Any) -> bool:
    """Whether ``*v`` spreads ``v`` into entries whose tangents are its tangent's: a
    list, a tuple, or an array (its rows)."""
    return isinstance(v, (list, tuple)) or getattr(v, "ndim", 0) >= 1


@_naming_caller
def call_jvp_star(fn: Any, tangents: tuple, stars: tuple, names: tuple, /, *values: Any
                  ) -> tuple[Any, Any]:  # fmt: skip
    """``call_jvp`` of a call with starred operands (``f(x, *xs)``): ``values`` are its
    positional operands, those flagged in ``stars`` passed whole (a list, a tuple or an
    array, its tangent one of theirs), then its keyword arguments ``names``, with one
    tangent each; each operand is an argument of this call, so that differentiating it
    again reaches them all. A keyword named None is a ``**`` mapping (a dict, its
    tangent a dict of its entries' tangents)."""
    d_args, args, kwargs, named, _, _ = _unstarred(tangents, stars, names, values)
    return _call_jvp(fn, d_args, args, kwargs, named)


@_naming_caller
def forward_of(fn: Any, tangents: tuple, stars: tuple | None, names: tuple, /, *values: Any
               ) -> Callable:  # fmt: skip
    """A function of source, ``F(tangents, *values)``, giving what ``rt.call_jvp(fn,
    tangents, *values)`` gives (``call_jvp_keywords`` where ``names`` names the last
    values, ``call_jvp_star`` where ``stars`` flags starred ones) by calling ``fn``'s
    forward-mode program: forward-mode source differentiated again takes each of its calls
    as a call of ``F``, whose derivatives, of any order, are those of calls again. Made for
    which tangents are None here, and the types and shapes of the values."""
    where = None  # the line of the call: a refusal met in F is reported there
    frame = sys._getframe(1)
    while frame is not None and not frame.f_code.co_name.endswith(GENERATED):
        frame = frame.f_back
    if frame is not None:
        name = generated_name(frame.f_code, GENERATED)
        where = (frame.f_code.co_filename, name, frame.f_lineno)
    return Host.forward_of(fn, tuple(tangents), stars, tuple(names), values, where)


def _call_jvp(fn: Any, tangents: tuple, args: tuple, kwargs: dict, named: dict
              ) -> tuple[Any, Any]:  # fmt: skip
    """``call_jvp``, with the tangents of keyword arguments ``named`` (None: none)."""
    named = {k: t for k, t in named.items() if t is not None}
    if fn is PLAIN_CALL:  # args[0] carries no gradient of its own
        fn, args, tangents = args[0], args[1:], tangents[1:]
    if fn is PARTIAL_CALL:
        fn = partial_caller(args[0], len(args) - 1, tuple(kwargs))
    if isinstance(fn, functools.partial):
        given = len(args)
        fn, args, kwargs, _ = _unpartial(fn, args, kwargs, ())
        tangents = (None,) * (len(args) - given) + tangents
    if (
        args
        and tangents
        and tangents[0] is not None
        and isinstance(args[0], functools.partial)
        and (over := Host.over_partial(fn, args, kwargs, True)) is not None
    ):  # (as in ``_call``, given the partial's values one by one)
        if named:
            raise refuse(
                f"forward mode through {getattr(fn, '__qualname__', fn)} of a partial (a "
                "lambda or nested function reading differentiated values) given its "
                "differentiated arguments by keyword",
                "pass them by position",
            )
        n = len(over[1]) - len(args) + 1  # (the partial's values, in place of it)
        bound_tangents = tuple(None if callable(v) else t
                               for v, t in zip(over[1][:n], tangents[0], strict=True))  # fmt: skip
        fn, args, kwargs = over
        tangents = (*bound_tangents, *tangents[1:])
        tangents = (*tangents, *(None,) * (len(args) - len(tangents)))[: len(args)]
    if type(fn) is Returning:  # it updates lists or dicts it is given, and returns them:
        fresh = lambda v: copy_module.copy(v) if isinstance(v, (list, dict)) else v  # noqa: E731
        args, tangents = tuple(map(fresh, args)), tuple(map(fresh, tangents))
        kwargs = {k: fresh(v) for k, v in kwargs.items()}  # the caller's stay as they
        named = {k: fresh(v) for k, v in named.items()}  # were, as the values it saved
    forward = Host.registry.lookup_jvp(fn)
    if forward is not None and not forward.inline:  # a user's rule, fn(tangents, ans, *args)
        moved = Host.by_position(fn, args, kwargs) if named else None
        if moved is not None and hasattr(type(fn), "_srcdiff_jvp"):  # (positions only)
            fn, args, kwargs, at = moved
            forward = Host.registry.lookup_jvp(fn)
            tangents = (*tangents, *(None,) * (len(args) - len(tangents)))
            keyed = {i: k for k, i in at.items()}  # the keyword moved to each position
            tangents = tuple(named.get(keyed[i]) if i in keyed else t
                             for i, t in enumerate(tangents))  # fmt: skip
            named = {k: t for k, t in named.items() if k not in at}  # (refused below)
        if named and hasattr(type(fn), "_srcdiff_jvp"):  # srcdiff's transform
            raise refuse(*Host.keyword_refusal(fn, list(named), len(args), forward=True))
        if named:
            raise refuse(
                "forward mode through a call with a derivative passed by keyword to a "
                "function with a forward rule of its own",
                "pass it by position",
            )
        own = hasattr(type(fn), "_srcdiff_jvp")  # srcdiff's transforms take keywords too
        if kwargs and not own:
            raise refuse(
                "forward mode through a call with keyword arguments of a function whose "
                "forward rule takes its positional arguments only",
                "pass them by position",
            )
        value = fn(*args, **kwargs)
        try:
            return value, forward.fn(tangents, value, *args, **kwargs)
        except Exception as exc:  # the value is made: this is the derivative's
            derivative_raised(exc, f"the forward rule of {getattr(fn, '__qualname__', fn)}")
            raise
    if (all(t is None for t in tangents) and not named) or Host.registry.is_nondiff(fn):
        if any(t is not None for t in tangents) or named:
            check_call(call_check(fn, rule=False), args, kwargs)  # (see _Site.check)
        value = fn(*args, **kwargs)
        return value, zeros_like(value)
    _refuse_tensor_function(fn, [a for a, t in zip(args, tangents, strict=False) if t is not None])
    target, bound = _target(fn)
    if Host.registry.lookup(fn) is not None:  # a primitive called through a name
        target, bound = primitive_function(fn, len(args), tuple(kwargs)), ()
    if target is None:
        raise refuse(
            f"forward mode through a call of {getattr(fn, '__qualname__', fn)!r}, which has "
            "no derivative rule and no Python source",
            "register one with sd.register_jvp, or use sd.grad",
        )
    if target.__module__ in (GRADIENTS, REGISTRY):  # (sd.vjp's pullback: srcdiff's own)
        raise _derivative_inside(fn)
    params, keywords = parameter_names(target, len(bound))
    double = _double_star_name(target)
    absorbed = {k: t for k, t in named.items() if k not in keywords and double}
    for key in named:
        if key not in absorbed:
            _refuse_into_kwargs(target, key, keywords)
    named = {k: t for k, t in named.items() if k not in absorbed}
    by_name = {params[i]: t for i, t in enumerate(tangents[: len(params)]) if t is not None}
    values = {n: args[params.index(n)] for n in by_name}
    kinds = {n: value_kind(v) for n, v in values.items()}
    if any(t is not None for t in tangents[len(params) :]):  # entries of the callee's *args
        star = _star_name(target, len(bound), len(params))
        # its tangent, as the callee takes it: one per entry, zero where none is given
        by_name[star] = tuple(zeros_like(a) if t is None else t
                              for a, t in zip(args[len(params) :], tangents[len(params) :],
                                              strict=False))  # fmt: skip
        values[star] = tuple(args[len(params) :])
        kinds[star] = "any"
    values.update({n: kwargs[n] for n in named})
    kinds.update({n: value_kind(kwargs[n]) for n in named})
    by_name |= named
    if absorbed:  # entries of the callee's **kwargs: its tangent, zero where none is given
        entries = {k: v for k, v in kwargs.items() if k not in keywords}
        by_name[double] = {k: absorbed[k] if k in absorbed else zeros_like(v)
                           for k, v in entries.items()}  # fmt: skip
        values[double] = entries
        kinds[double] = "any"
    returns = fn.names if type(fn) is Returning else ()  # the helper's updates too
    passed = [*zip(params, args, strict=False), *kwargs.items()]
    objects = frozenset(n for n, a in passed if is_record(a))  # (their operators are their own)
    own = zip(own_signature(target).parameters, bound, strict=False)
    holders = frozenset(n for n, a in [*own, *passed] if holds_record(a))  # (and their entries')
    unit = Host.unit_for(target, tuple(by_name), kinds,
                         array_module(*values.values(), *args, *kwargs.values()), Host.arrays,
                         shape_pattern(parameter_names(target, len(bound)), args, kwargs),
                         returns, objects=objects, holders=holders)  # fmt: skip
    if absorbed:
        _refuse_kwargs_updates(unit, {double})
    if unit.updated and type(fn) is not Returning:  # (as rt.call refuses them)
        _refuse_forward_updates(unit, (*bound, *args), kwargs)
    forward_fn, _ = unit.tangent()
    given = {d: by_name[n] for n, d in zip(unit.wrt, unit.tangent_names, strict=True)}
    try:
        return forward_fn(*bound, *args, **kwargs, **given)
    except BaseException as exc:  # its updates are lost: an except clause refuses it
        if unit.updated or unit.returns:
            _partly_updated(exc, unit, (*bound, *args), kwargs)
        elif isinstance(exc, Exception) and not isinstance(exc, INTERNAL):
            _classify(exc, unit, (*bound, *args), kwargs)
        raise


def _classify(exc: BaseException, unit: Any, args: tuple, kwargs: dict) -> None:
    """Mark ``exc``, out of a callee's forward mode, as its tangents' where it is not the
    value's: raised by a ``raise`` of the callee's code, it is the value's; else, where
    the callee's value alone raises nothing (run again, which only a function without
    side effects allows), its tangents'; else it is marked as maybe its tangents'. Found
    to be the value's, it is marked so too: the callers it goes through ask no more."""
    if getattr(exc, VALUES, False):
        return
    if derivative_origin(exc) is not None:
        derivative_raised(exc, derivative_origin(exc))  # raised in the course of one
        return
    if not _raised_by_a_raise(exc):
        if not unit.analysis.pure:
            derivative_raised(exc, f"{unit.label} (its value or its derivative: a function "
                                   "with side effects is not run again to tell)")  # fmt: skip
            return
        try:
            unit.primal({}, [], *args, **kwargs)
        except Exception as again:  # the value raises it (the same): a clause may catch it
            if type(again) is not type(exc):
                derivative_raised(exc, f"the derivative of {unit.label}")
                return
        else:
            derivative_raised(exc, f"the derivative of {unit.label}")
            return
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, VALUES, True)


VALUES = "_srcdiff_values"  # marks an exception found to be the value's (see _classify)


def _raised_by_a_raise(exc: BaseException) -> bool:
    """Whether ``exc`` came from a ``raise`` statement of generated code (the user's own:
    tangent code raises none but srcdiff's refusals), not from an operation, and not in
    the course of another exception (a finally block run because a tangent raised)."""
    if exc.__context__ is not None:  # raised while another went through: whose, unknown
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not tb.tb_frame.f_code.co_name.endswith(GENERATED):
        return False
    op = tb.tb_frame.f_code.co_code[tb.tb_lasti]
    return dis.opname[op] in ("RAISE_VARARGS", "RERAISE")


def _star_name(fn: types.FunctionType, nbound: int, npositional: int) -> str:
    """The name of ``fn``'s ``*args`` parameter, given a call with more positional
    arguments than its ``npositional`` positional parameters (refused where it has none:
    Python would refuse the call)."""
    for p in list(own_signature(fn).parameters.values())[nbound:]:
        if p.kind is p.VAR_POSITIONAL:
            return p.name
    raise refuse(
        f"forward mode through a call of {fn.__qualname__} with more positional arguments "
        f"than its {npositional} parameter(s)",
        "pass the callee the arguments its signature takes",
    )


def _refuse_forward_updates(unit: Any, args: tuple, kwargs: dict) -> None:
    """A callee in forward mode that may update a list or dict it is passed, or surely
    updates an array it is passed (by its own name), in place, which its caller cannot
    take back as a new value: its forward mode gives the update a new value, which the
    caller would never see. (``updated`` also names arrays that may only share an
    object with one updated: those the primal's finals alone tell, in reverse mode.)"""
    positions = unit.param_positions
    for n in unit.updated:
        i = positions[n]
        value = args[i] if i < len(args) else kwargs.get(n)
        by_name = n in unit.analysis.updated_by_name
        if isinstance(value, (list, dict)) or by_name and _mutable(value):
            raise _update_refused(unit, n)


def _update_refused(unit: Any, n: str) -> Exception:
    if getattr(unit._fn(), "__module__", "").startswith("srcdiff.nn"):  # (``inplace=True``)
        return refuse(
            f"{unit.label}, an activation or dropout with inplace=True, called where compiled "
            "code does not inline it (a module of an nn.Sequential, a callback): the write "
            f"into its input `{n}` would not reach the caller",
            "use inplace=False (the result is the same where nothing reads the input after "
            "it), call the module in the step itself, or run the step eagerly",
        )
    return refuse(
        f"{unit.label} updates its argument `{n}` in place",
        f"srcdiff follows in-place updates within one function: return the new value and "
        f"assign it in the caller (`{n} = f(..., {n}, ...)`), or update a copy (`{n} = "
        f"{n}.copy()` first)",
    )


def _refuse_updates(unit: Any, args: tuple, kwargs: dict, saved: dict) -> None:
    """A callee that updated an array, list or dict it was passed, in place: compiled
    code gave the update a new value, which the caller would never see."""
    positions = unit.param_positions
    code = getattr(unit._fn(), "__code__", None)
    star = None  # the name of its *args: a tuple of the arguments from its position on
    if code is not None and code.co_flags & inspect.CO_VARARGS:
        star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
    for n, final in zip(unit.updated, saved[FINAL], strict=True):
        i = positions[n]
        if n == star:
            changed = type(final) is not tuple or any(
                f is not v and _mutable(v) for f, v in zip(final, args[i:], strict=False)
            )
        else:
            value = args[i] if i < len(args) else kwargs.get(n)
            changed = final is not value and _mutable(value)
        if changed:
            raise _update_refused(unit, n)


def call_vjp(record: Any, g: Any, wanted: tuple[int, ...] | None = None) -> tuple:
    """Gradients, for the active arguments of a call, of its result's adjoint ``g``
    (with ``wanted``, for those positions among them only: None for the others)."""
    if record[0] == "star":  # with *args or **kw: its entries' gradients as a list or dict
        _, inner, layout = record
        grads = call_vjp(inner, g)
        return tuple(
            dict(zip(star, grads[i : i + n], strict=True)) if type(star) is tuple
            else list(grads[i : i + n]) if star is True
            else grads[i] if star is False
            else _rows_stacked(grads[i : i + n], star)
            for star, i, n in layout
        )  # fmt: skip
    if record[0] == "unit":
        return _unit_vjp(record, g, wanted)
    if record[0] == "plain":  # the function called first, with no gradient
        inner = None if wanted is None else tuple(i - 1 for i in wanted if i > 0)
        return (None, *call_vjp(record[1], g, inner))
    if record[0] == "none":
        return tuple(zeros_like(v) for v in record[1])
    _, rule, args, kwargs, value, active = record  # a callee with a registered rule
    xp = array_module(value)
    fn = rule.fn if xp is np else Host.registry.bind(rule.fn, xp)
    try:
        grads = fn(g, value, *args, **kwargs)
    except CompileError as error:
        args, kwargs = _without_zero_scale(error, rule, args, kwargs, active)
        grads = fn(g, value, *args, **kwargs)
    if (
        rule.whole
        and len(args) == 1
        or not (isinstance(grads, tuple) or rule.varargs and isinstance(grads, list))
    ):
        grads = (grads,)  # (a rule of *args may give a list: einsum's)
    values = _values(args, kwargs, active)
    if any(type(a) is not int and a not in rule.params for a in active):
        raise refuse(
            f"a differentiated value passed by keyword to {rule.name}, whose rule does not "
            "name that parameter",
            "pass it by position",
        )
    # a rule gives its parameters' gradients first, keyword-only ones too, then those of
    # its *args (np.meshgrid's rule: copy=, sparse=, indexing=, then each vector's); a
    # user's, those of the arguments it takes by position alone (see register_vjp)
    extra = len(rule.params) - rule.npositional if rule.inline else 0
    if not rule.inline and any(
        type(a) is not int and rule.params.index(a) >= rule.npositional for a in active
    ):
        raise refuse(
            f"a derivative through a keyword-only parameter of a function whose rule "
            f"{rule.name} gives the gradients of the arguments it takes by position",
            "make it a positional parameter of the function and of its rule",
        )
    at = [
        rule.params.index(a) if type(a) is not int
        else a + extra if rule.varargs and a >= rule.npositional else a
        for a in active
    ]  # fmt: skip
    return tuple(
        zeros_like(v) if grads[i] is None else grads[i] for i, v in zip(at, values, strict=True)
    )


def _rows_stacked(rows: tuple, x: Any) -> Any:
    """The gradient of the array ``x`` spread into a call (``f(*x)``) from those of its
    entries (None for one without): an array shaped as ``x``, as iterating it gives."""
    rows = [zeros_like(row) if d is None else d for d, row in zip(rows, x, strict=True)]
    return entries_like(rows, x)


def _unit_vjp(record: tuple, g: Any, wanted: tuple[int, ...] | None) -> tuple:
    """``call_vjp`` of a compiled callee: its adjoint for the path it took."""
    _, unit, saved, path, order, values, elements, _ = record
    key = path_key(path) if path else ()
    names = (
        None if wanted is None or len(wanted) == len(order) else _wanted_names(unit, order, wanted)
    )
    hit = unit.adjoints.get((key, None, names, CHECKING[0]))
    adjoint = hit[0] if hit is not None else unit.adjoint(key, wanted=names)[0]
    called = CALLED[0]
    if called is not None:
        called.setdefault((unit, key, names), None)
    grads = adjoint(saved, g)
    out = [None if i is None else grads[i] for i in order]
    if elements is not None:  # an entry of *args: its gradient from the tuple's
        out = [
            d if e is None or d is None else d[e] if isinstance(e, int) else d.get(e)
            for d, e in zip(out, elements, strict=True)
        ]  # (**kwargs: an entry unread)
    unreached = UNREACHED[0]
    for i in range(len(out)) if wanted is None else wanted:
        if out[i] is None:
            out[i] = zeros_like(values[i])
            if unreached is not None:
                unreached.append(out[i])
    return tuple(out)


def _wanted_names(unit: Any, order: tuple, wanted: tuple[int, ...]) -> tuple[str, ...] | None:
    """The callee's parameters behind the ``wanted`` positions, in its own order (None:
    all of them), so that every call site wanting them shares one adjoint."""
    key = (order, wanted)
    if key not in unit.wanted_names:
        chosen = {unit.wrt[order[i]] for i in wanted if order[i] is not None}
        names = tuple(n for n in unit.wrt if n in chosen)
        unit.wanted_names[key] = None if len(names) == len(unit.wrt) else names
    return unit.wanted_names[key]


def _without_zero_scale(error: CompileError, rule: Any, args: tuple, kwargs: dict,
                        active: tuple) -> tuple[tuple, dict]:  # fmt: skip
    """A draw's rule refused a scale of 0 (``rt.draw_scale``), whose gradient needs the
    standard draw it cannot recover: where that scale is not differentiated, its gradient
    is dropped anyway, so the rule runs again with a scale of 1 (the others' gradients do
    not read it); else the refusal stands."""
    param = getattr(error, "zero_scale", None)
    if param is None or param not in rule.params:
        raise error
    i = rule.params.index(param)
    if i in active or param in active:
        raise error
    if i < len(args):
        return (*args[:i], 1.0, *args[i + 1 :]), kwargs
    return args, {**kwargs, param: 1.0}


def _values(args: tuple, kwargs: dict, active: tuple) -> list:
    return [args[a] if isinstance(a, int) else kwargs[a] for a in active]


def owned(d: Any) -> Any:
    """A copy of an adjoint, so that it can be updated in place."""
    if isinstance(d, dict):
        return dict(d)
    if isinstance(d, (list, tuple)):
        return list(d)
    if hasattr(d, "copy"):
        return d.copy()
    if hasattr(d, "shape") and hasattr(d, "dtype"):  # an array with no .copy()
        return copy(d)
    return d


def finally_leaves(before: Any = None, follows: bool = True) -> None:
    """At the start of a finally block that may leave (a return, break or continue in
    it), which would drop the exception going through: srcdiff's own errors go on, and
    one out of a function that updated its arguments in place is refused (``handled``),
    rather than dropped with what they stand for. Reverse mode does not follow a body
    cut short that way (``follows`` false): any exception it would drop is refused.
    ``before``: the exception being handled where the try started (not one going
    through; see ``current_exception``)."""
    exc = sys.exc_info()[1]
    if exc is None or exc is before:
        return
    if isinstance(exc, INTERNAL):
        raise exc
    handled()
    if not follows:
        raise refuse(
            f"a finally block that drops {type(exc).__name__} ({exc}) by leaving it (a "
            "return, break or continue in it): reverse mode does not follow a try's body "
            "cut short that way",
            "catch the exception with an except clause, or leave the finally block "
            "without return, break or continue",
        ) from exc


def current_exception() -> BaseException | None:
    """The exception being handled here, if any (for ``finally_leaves``)."""
    return sys.exc_info()[1]


def finally_in_forward_mode(in_tangent: bool, leaves: bool) -> None:
    """At the start of a finally block of forward mode (whose flag is then lowered): an
    exception going through that a tangent raised (``in_tangent``) is marked as the
    derivative's, for the except clauses further out; and where the block may leave
    (``leaves``: a return, break or continue in it), which would drop the exception,
    srcdiff's own errors go on and a derivative's is refused (``finally_leaves``)."""
    exc = sys.exc_info()[1]
    if exc is None:
        return
    if in_tangent and derivative_origin(exc) is None:
        derivative_raised(exc, "the derivative computed beside the statement that raised it")
    if not leaves:
        return
    finally_leaves()
    origin = derivative_origin(exc)
    if origin is not None:
        raise refuse(
            f"forward mode (sd.jvp, sd.hvp, sd.hessian) through a finally block that drops "
            f"{type(exc).__name__} ({exc}), raised by {origin}",
            "the derivative is not defined or not finite there: test for the case with an "
            "if, or use sd.grad",
        ) from exc
