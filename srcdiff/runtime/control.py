"""Python's statements that compiled code runs step by step: ``with`` (entering and
leaving context managers), unpacking with a star, and the keys of sorts."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from ..errors import CompileError

_STATE = threading.local()


def _entered() -> list:
    stack = getattr(_STATE, "entered", None)
    if stack is None:
        stack = _STATE.entered = []
    return stack


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


def sort_key(fn: Any, /, **captured: Any) -> Any:
    """The key of a sort (``sorted(xs, key=f)``) that is a function defined in the
    function being compiled, given the names it captures: the key's value carries no
    gradient (only the order it gives is used), so they are bound as they are now."""
    return functools.partial(fn, **captured) if captured else fn
