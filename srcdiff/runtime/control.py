"""Python's statements that compiled code runs step by step: ``with`` (entering and
leaving context managers), ``try`` (what its path records), unpacking with a star, and
the keys of sorts, the tests of ``match`` statements' patterns."""

from __future__ import annotations

import contextlib
import functools
import itertools
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CompileError
from .mutation import GENERATED, refuse

_STATE = threading.local()


def _entered() -> list:
    stack = getattr(_STATE, "entered", None)
    if stack is None:
        stack = _STATE.entered = []
    return stack


GRAD_MODES = "srcdiff.grad_mode"  # the module of sd.no_grad and its kin


def _changes_nothing(mgr: Any) -> bool:
    """Whether the grad mode ``mgr`` turns on was on already: ``enable_grad()`` (or
    ``set_grad_enabled(True)``) with recording on, which leaves what is differentiated as
    it is."""
    before = getattr(mgr, "_previous", None)  # set_grad_enabled's mode before it
    if before is None:  # the mode now, as the module of grad modes tells it
        before = sys.modules[type(mgr).__module__].is_grad_enabled()
    return getattr(mgr, "enabled", False) is True and before


def _restore(mgr: Any) -> None:
    """Put back the grad mode ``mgr`` replaced when it was made (``set_grad_enabled(flag)``
    sets its mode at once, as PyTorch's does), before its block is refused: the refusal
    leaves the mode as it was."""
    previous = getattr(mgr, "_previous", None)
    if isinstance(previous, bool):
        sys.modules[GRAD_MODES]._set(previous)


def under_no_grad(mgr: Any) -> Any:
    """``mgr`` of a ``with`` inside a ``with sd.no_grad():`` block, which compiled code
    takes for constants: one turning recording on again is refused."""
    if type(mgr).__module__ == GRAD_MODES and getattr(mgr, "enabled", False):
        _restore(mgr)
        raise refuse(
            f"a `with {type(mgr).__name__}()` block inside sd.no_grad() in a compiled "
            "function, reached through a name",
            "compute the values that need gradients outside the no_grad block (compiled "
            "code takes what the block assigns for constants)",
        )
    return mgr


def enter(mgr: Any) -> Any:
    """``with mgr:`` entering: ``type(mgr).__enter__(mgr)``, its ``__exit__`` kept for
    ``exit`` (or for ``unwinding``, if an exception leaves the block)."""
    cls = type(mgr)
    try:
        enter_, exit_ = cls.__enter__, cls.__exit__
    except AttributeError:
        raise TypeError(
            f"'{cls.__name__}' object does not support the context manager protocol"
        ) from None
    if cls.__module__ == GRAD_MODES and not _changes_nothing(mgr):
        _restore(mgr)
        if getattr(mgr, "enabled", False):
            raise refuse(
                f"a `with {cls.__name__}(...)` block turning recording on in a compiled "
                "function run with recording off (under sd.no_grad()): compiled code "
                "differentiates what the function computes as recording is when it is called",
                "call the function with recording on, or run it without @sd.differentiate",
            )
        raise refuse(  # a no_grad block the compiler did not see as one
            f"a `with {cls.__name__}()` block reached through a name the compiler cannot "
            "resolve when it compiles (an argument, an attribute, a manager made before the "
            "`with` statement): its body would be differentiated",
            "make the manager in the `with` statement, through a global name: `with "
            "sd.no_grad():` or `with sd.set_grad_enabled(flag):`",
        )
    value = enter_(mgr)
    _entered().append((mgr, exit_))
    return value


def exit(mgr: Any) -> None:  # noqa: A001 - rt.exit, the pair of rt.enter
    """Leaving the ``with`` block of ``mgr`` normally: ``__exit__(None, None, None)``."""
    stack = _entered()
    entered, exit_ = stack.pop()
    if entered is not mgr:  # compiled code leaves blocks in order: never happens
        raise RuntimeError("srcdiff left a with block that was not the last one entered")
    exit_(mgr, None, None, None)


def unwinding(fn: Callable) -> Callable:
    """``fn`` (a compiled function with ``with`` blocks), leaving the managers it entered
    when an exception goes through it, the last entered first, with the exception as
    Python passes it to ``__exit__``. (A manager that would suppress it cannot: the code
    after the block is not compiled to resume; that is an error.)"""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        stack = _entered()
        depth = len(stack)
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            while len(stack) > depth:
                mgr, exit_ = stack.pop()
                if exit_(mgr, type(exc), exc, exc.__traceback__):
                    raise _suppressed(mgr, exc, fn.__code__) from exc
            raise

    return run


def _suppressed(mgr: Any, exc: BaseException, code: Any) -> CompileError:
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code is code:
            line = tb.tb_lineno
        tb = tb.tb_next
    return CompileError(
        f"the context manager {type(mgr).__name__} suppressed an exception "
        f"({type(exc).__name__}: {exc})",
        function=code.co_name.rsplit("_", 1)[0],
        filename=code.co_filename,
        lineno=line,
        hint="srcdiff runs a `with` block of compiled code to its end or to the exception "
        "that leaves it: catch the exception outside the differentiated function",
    )


def check_unpack(value: Any, least: int) -> None:
    """``a, *rest = value`` needs at least ``least`` items (Python's error otherwise)."""
    n = len(value)
    if n < least:
        raise ValueError(f"not enough values to unpack (expected at least {least}, got {n})")


def zip_strict(strict: Any, *sequences: Any) -> None:
    """Python's check at the end of a loop over ``zip(*sequences, strict=strict)``: the
    first sequence to run out must be the last (its ValueError otherwise)."""
    if not strict:
        return
    lengths = [len(q) for q in sequences]
    shortest = min(lengths)
    first = lengths.index(shortest)
    if first:
        which, how = first, "shorter"
    elif shortest == max(lengths):
        return
    else:
        which, how = next(j for j, n in enumerate(lengths) if n > shortest), "longer"
    others = " 1" if which == 1 else f"s 1-{which}"
    raise ValueError(f"zip() argument {which + 1} is {how} than argument{others}")


class Later:
    """A call of a generator function, made where ``zip_taken_lazily`` asks for it."""

    def __init__(self, fn: Any, args: tuple, kwargs: dict) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs


def later(fn: Any, /, *args: Any, **kwargs: Any) -> Later:
    """``fn(*args, **kwargs)`` (a generator function of the user's), to be made later."""
    return Later(fn, args, kwargs)


def zip_taken_lazily(position: int, strict: Any, *iterables: Any) -> int:
    """How many values ``zip(*iterables, strict=strict)`` takes of its iterable at
    ``position`` where generators (``later``: made afresh here) sit beside it: zip run on
    them, as Python runs it, counting each iterable's values (the generators change
    nothing, so running them once more gives the values the compiled listings make)."""
    counts = [0] * len(iterables)

    def counted(i: int, values: Any) -> Any:
        for v in values:
            counts[i] += 1
            yield v

    made = [x.fn(*x.args, **x.kwargs) if isinstance(x, Later) else x for x in iterables]
    for _ in zip(*(counted(i, x) for i, x in enumerate(made)), strict=bool(strict)):
        pass
    return counts[position]


def zip_taken(position: int, strict: Any, *others: Any) -> int:
    """How many values ``zip(..., strict=strict)`` asks of its iterable at ``position`` (a
    generator of the user's; ``others``, the sequences beside it in order) before it
    stops, the generator never running out first: it takes one from each in turn, so in
    the round where the first sequence runs out, the generator gives one more where it
    comes before that sequence (or, with ``strict``, where the first one ran out and zip
    asks the others in turn whether they end too)."""
    try:
        lengths = [len(q) for q in others]
    except TypeError:
        raise refuse(
            "zip() of a generator function's values and an iterable without a length (an "
            "iterator, another generator): how many values zip takes of the generator is "
            "known only as it runs",
            "pass lists (zip(gen(...), list(it)))",
        ) from None
    if not lengths:
        return sys.maxsize
    rounds = min(lengths)
    first = lengths.index(rounds)
    first += first >= position  # (its place in zip's arguments, the generator's counted)
    # (strict: the first ran out, and each one between it and the generator ends too)
    checked = bool(strict) and first == 0 and all(n == rounds for n in lengths[:position])
    return rounds + (position < first or checked)


def sort_key(fn: Any, /, **captured: Any) -> Any:
    """The key of a sort (``sorted(xs, key=f)``) that is a function defined in the
    function being compiled, given the names it captures: the key's value carries no
    gradient (only the order it gives is used), so they are bound as they are now."""
    return functools.partial(fn, **captured) if captured else fn


def global_value(name: str) -> Any:
    """What the module variable ``name`` holds where a function assigning it (``global
    name``) starts: its module is that of the generated code calling this."""
    module = sys._getframe(1).f_globals
    if name not in module:
        raise NameError(f"name {name!r} is not defined")
    return module[name]


_IMMUTABLE = (int, float, complex, bool, str, bytes, tuple, frozenset, type(None))


def set_global(name: str, value: Any, augmented: bool = False, differentiated: bool = False
               ) -> None:  # fmt: skip
    """Write ``value`` to the module variable ``name`` (see ``global_value``), as the
    assignment before this did in Python; ``augmented`` for ``name += v``, which Python
    does in place on a mutable object (compiled code makes a new one: refused);
    ``differentiated`` for a value that may carry a gradient, refused in a function that
    compiled code called (which would read the global as a constant)."""
    frame = sys._getframe(1)
    module = frame.f_globals
    if differentiated:
        caller = frame.f_back
        while caller is not None and not (
            caller.f_code.co_name.endswith(GENERATED)
            and not caller.f_globals.get("__name__", "").startswith("srcdiff.")
        ):  # (generated code runs with the globals of the function it is made from)
            caller = caller.f_back
        if caller is not None:
            raise refuse(
                f"a value that may carry a gradient assigned to the global `{name}` (global "
                f"{name}) in a function called from compiled code, which would read "
                f"`{name}` as a constant",
                f"return the value, and assign `{name}` in the function given to srcdiff",
            )
    old = module.get(name)
    if augmented and not isinstance(old, _IMMUTABLE) and not _is_scalar(old):
        raise refuse(
            f"an augmented assignment to the global `{name}`, which holds a "
            f"{type(old).__name__}: Python changes that object in place, compiled code "
            "would make a new one",
            f"write `{name} = {name} + ...` (a new object), or drop `global {name}` and "
            "change the object it holds",
        )
    module[name] = value


def _is_scalar(x: Any) -> bool:
    """A NumPy scalar (immutable, as a Python number)."""
    return (
        type(x).__module__ == "numpy"
        and getattr(x, "ndim", None) == 0
        and not hasattr(x, "__setitem__")
    )


def islice_range(*bounds: Any, open_ended: bool = False) -> range:
    """The positions ``itertools.islice(xs, *bounds)`` takes, checked as ``islice``
    checks them; ``open_ended`` where its stop is None written out (then up to
    ``sys.maxsize``), which compiled code reads with no stop."""
    itertools.islice((), *bounds)  # (its ValueError for a negative or non-integer bound)
    s = slice(*bounds)
    if s.stop is None and not open_ended:
        raise refuse(
            "itertools.islice with a stop that is None when it runs",
            "write None as islice's stop (islice(xs, start, None)), or give an integer",
        )
    return range(s.start or 0, sys.maxsize if s.stop is None else s.stop, s.step or 1)


@dataclass(frozen=True)
class Raised:
    """At the end of the path of a loop iteration that an exception left: the position
    (the number of the normalized statement) it was raised at."""

    at: int


class Attempt:
    """A ``try`` statement in a path: the handler that caught an exception from its
    body, and the position it was raised at (``_at`` then), or none (the body ran
    through, or what it raised went on). Appended where the try starts, and filled in
    by the handler, after the path has recorded what the body did before the raise."""

    __slots__ = ("at", "handler")
    __hash__ = None  # type: ignore[assignment]  # rt.path_key gives its key

    def __init__(self) -> None:
        self.handler: int | None = None
        self.at = 0

    def caught(self, handler: int, at: int) -> None:
        """The except clause number ``handler`` caught what statement ``at`` raised."""
        handled()
        self.handler, self.at = handler, at

    def key(self) -> int | tuple[int, int]:
        """-1 where no handler ran, else (the handler, the position)."""
        return -1 if self.handler is None else (self.handler, self.at)


def attempt(path: list) -> Attempt:
    """A new ``Attempt``, appended to ``path``."""
    record = Attempt()
    path.append(record)
    return record


PARTIAL = "_srcdiff_partial"  # the attribute of an exception marked by ``partial_update``


def partial_update(exc: BaseException, label: str, names: tuple[str, ...]) -> None:
    """Mark ``exc``, which leaves the compiled function ``label`` that updates its
    arguments ``names`` in place: compiled code gives such updates to the caller when the
    function returns, so none of them is made where Python would have made those done
    before the exception (see ``handled``)."""
    with contextlib.suppress(AttributeError, TypeError):  # an exception without attributes
        setattr(exc, PARTIAL, (label, names))


def handled() -> None:
    """At the start of an except clause of compiled code: refuse the exception it caught
    if it left a function that updates its arguments in place (``partial_update``)."""
    exc = sys.exc_info()[1]
    mark = getattr(exc, PARTIAL, None)
    if mark is None:
        return
    label, names = mark
    shown = ", ".join(f"`{n}`" for n in names)
    raise refuse(
        f"{label} raised {type(exc).__name__} after it may have updated its argument "
        f"{shown} in place, and this except clause caught it",
        "compiled code hands a function's in-place updates to its caller when it returns, "
        "so the part made before an exception is lost: catch the exception inside that "
        "function, or have it update a copy and return the new value",
    ) from exc


def handled_in_forward_mode(in_tangent: bool) -> None:
    """``handled``, for forward mode, whose tangents run beside the value's statements in
    the try's body: an exception a tangent raised (``in_tangent``: where a derivative is
    not finite, ``d_x / (2 * sqrt(x))`` at 0), or one a called function's tangent may
    have raised (``derivative_raised``), is not the value's for the clause to catch."""
    handled()
    exc = sys.exc_info()[1]
    origin = derivative_origin(exc)
    if not in_tangent and origin is None:
        return
    raise refuse(
        f"forward mode (sd.jvp, sd.hvp, sd.hessian) through an except clause that caught "
        f"{type(exc).__name__} ({exc}), raised by "
        + (origin or "the derivative computed beside the statement that raised it"),
        "the derivative is not defined or not finite there: test for the case with an if "
        "instead of catching the exception, or use sd.grad",
    ) from exc


DERIVATIVE = "_srcdiff_derivative"  # marks an exception a tangent may have raised


def derivative_origin(exc: BaseException | None) -> str | None:
    """What marked ``exc`` as a derivative's (``derivative_raised``), or an exception it
    was raised in the course of (a finally block run because a tangent raised), or None."""
    for _ in range(16):
        if exc is None:
            return None
        origin = getattr(exc, DERIVATIVE, None)
        if origin is not None:
            return origin
        exc = exc.__context__
    return None


def derivative_raised(exc: BaseException, origin: str) -> None:
    """Mark ``exc`` as raised (or maybe raised) by forward mode's tangent code, not by
    the values' (``origin`` says which), for ``handled_in_forward_mode``."""
    with contextlib.suppress(AttributeError, TypeError):  # an exception without attributes
        setattr(exc, DERIVATIVE, origin)


def fits_sequence(subject: Any, length: int, star: bool) -> bool:
    """Whether a sequence pattern of ``length`` entries (and a ``*rest`` where ``star``)
    matches ``subject``, as Python's ``match`` tests it: a sequence but a string, bytes or
    bytearray (an array is none), of that length (at least, with ``*rest``)."""
    if not isinstance(subject, Sequence) or isinstance(subject, (str, bytes, bytearray)):
        return False
    return len(subject) >= length if star else len(subject) == length


def fits_mapping(subject: Any, keys: tuple) -> bool:
    """Whether a mapping pattern with ``keys`` matches ``subject``, as Python's ``match``
    tests it: a mapping holding every key."""
    return isinstance(subject, Mapping) and all(k in subject for k in keys)
