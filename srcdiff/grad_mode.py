"""Grad mode: whether tensor operations record themselves, per thread (as in PyTorch).

``no_grad``, ``enable_grad`` and ``set_grad_enabled`` work as context managers and as
decorators. The flag lives in a ``threading.local``, so a ``with no_grad():`` in one
thread leaves every other thread recording.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


class _State(threading.local):
    """This thread's grad mode, and the modes that ``with`` blocks entered will restore."""

    enabled = True

    def __init__(self) -> None:
        self.saved: list[bool] = []


_state = _State()
STATE = _state  # (read and set ``STATE.enabled`` where a call costs too much: a hot path)


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are recorded (this thread)."""
    return _state.enabled


def _set(flag: bool) -> None:
    _state.enabled = flag


class _GradMode:
    """Base of the grad-mode switches: enter sets the flag, exit restores the previous one."""

    enabled: bool

    def __enter__(self) -> None:
        state = _state
        state.saved.append(state.enabled)
        state.enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        _state.enabled = _state.saved.pop()

    def __call__(self, func: Callable) -> Callable:
        mode = self

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode.clone():
                return func(*args, **kwargs)

        return wrapper

    def clone(self) -> _GradMode:
        return type(self)()


class no_grad(_GradMode):  # noqa: N801 - named as torch.no_grad
    """Turn recording off: ``with sd.no_grad():``, ``@sd.no_grad()`` or ``@sd.no_grad``."""

    enabled = False

    def __new__(cls, func: Callable | None = None) -> Any:
        self = super().__new__(cls)
        return self(func) if callable(func) else self

    def __init__(self, func: Callable | None = None) -> None:
        pass


class enable_grad(_GradMode):  # noqa: N801 - named as torch.enable_grad
    """Turn recording back on, inside a ``no_grad`` region."""

    enabled = True

    def __new__(cls, func: Callable | None = None) -> Any:
        self = super().__new__(cls)
        return self(func) if callable(func) else self

    def __init__(self, func: Callable | None = None) -> None:
        pass


class set_grad_enabled(_GradMode):  # noqa: N801 - named as torch.set_grad_enabled
    """Set recording on or off now; as a context manager, restore it on exit."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._previous = is_grad_enabled()
        _set(self.enabled)

    def __enter__(self) -> None:
        _state.saved.append(self._previous)

    def __call__(self, func: Callable) -> Callable:
        _set(self._previous)  # as a decorator, act at each call only
        return super().__call__(func)

    def clone(self) -> _GradMode:
        return _Fixed(self.enabled)


class _Fixed(_GradMode):
    """A switch to a given mode that only acts on enter (used when decorating)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def clone(self) -> _GradMode:
        return self
