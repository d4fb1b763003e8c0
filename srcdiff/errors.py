"""Errors raised by srcdiff, each naming where in the user's code and what to do."""

from __future__ import annotations

import linecache
import types

# Generated files whose lines each stand for a line of a user's file (a forward-mode
# program, which srcdiff differentiates again like user code): filename -> (the user's
# filename, the user's function, the user line of each of its lines). An error located
# in one of them is reported at the user's line.
STANDS_FOR: dict[str, tuple[str, str, list[int | None]]] = {}
# The functions generated from such files, compiled with the user's file name and lines:
# (the user's filename, the generated function's name) -> the user's function.
STANDS_FOR_NAMES: dict[tuple[str, str], str] = {}


def generated_name(code: types.CodeType, suffixes: tuple[str, ...]) -> str:
    """The user's function that the generated function of ``code`` was generated from:
    its name less the ``suffixes`` of generated functions, or the one it stands for."""
    hit = STANDS_FOR_NAMES.get((code.co_filename, code.co_name))
    if hit is not None:
        return hit
    name = code.co_name
    for suffix in suffixes:
        name = name.removesuffix(suffix)
    return name


class CompileError(Exception):
    """The compiler cannot differentiate this code: unsupported syntax or a missing rule.

    The message names the construct, the function, the user's ``file:line`` and the fix.
    """

    def __init__(
        self,
        what: str,
        *,
        function: str = "?",
        filename: str = "?",
        lineno: int | None = None,
        source_line: str = "",
        hint: str = "",
    ):
        if filename in STANDS_FOR and lineno:
            filename, function, lineno, source_line = _user_line(filename, lineno)
        self.what = what
        self.function = function
        self.filename = filename
        self.lineno = lineno
        self.source_line = source_line.strip()
        self.hint = hint
        where = f"{filename}:{lineno}" if lineno else filename
        message = what
        if function != "?":
            message += f" in {function}"
        if where != "?":
            message += f" ({where})"
        if self.source_line:
            message += f": `{self.source_line}`"
        if hint:
            message += f". {hint}"
        super().__init__(message)


def _user_line(filename: str, lineno: int) -> tuple[str, str, int | None, str]:
    """The user's file, function, line and its text for a line of a generated file."""
    user_file, function, lines = STANDS_FOR[filename]
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else None
    return user_file, function, line, linecache.getline(user_file, line) if line else ""


class NonFiniteError(FloatingPointError):
    """A gradient became infinite or NaN (``sd.grad(f, check_finite=True)``,
    ``sd.detect_nonfinite()``): the message names the user's ``file:line``, the adjoint
    statement where it first appeared, its operands, and the usual fix."""

    def __init__(self, message: str, *, filename: str, lineno: int, statement: str):
        self.filename, self.lineno, self.statement = filename, lineno, statement
        super().__init__(message)


class KinkWarning(UserWarning):
    """An input sits within ``eps`` of a branch's switch or a kink
    (``sd.grad(f, warn_kinks=eps)``), so the gradient there is one-sided: the message
    names the user's ``file:line``, the expression, its margin and the fix."""

    def __init__(self, message: str, *, filename: str = "?", lineno: int = 0, margin: float = 0.0):
        self.filename, self.lineno, self.margin = filename, lineno, margin
        super().__init__(message)
