"""Command line: ``python -m srcdiff show FILE.py:FUNCTION [--args EXPR ...] [--wrt NAME ...]
[--forward | --check-finite | --paths | --explain | --check-grad] [--export OUT.py]`` prints
the gradient source srcdiff generates for a function in a file (called with the example
arguments given, or else with small example arrays): the forward-mode source with
``--forward``, the adjoint with its finiteness checks with ``--check-finite`` (and the first
non-finite gradient's report), the paths compiled with ``--paths``, the source annotated with
what each line saw and why a gradient is zero with ``--explain`` (``sd.explain``), the
gradient checked line by line with ``--check-grad`` (``sd.check_grad``); ``--export``
writes the gradient as a module needing NumPy alone (``sd.export``) instead, and says so on
one line."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import srcdiff as sd

PROG = "python -m srcdiff"
MODULE_NAME = "__srcdiff_show__"  # not the file's own name: that could shadow a real module


class UsageError(Exception):
    """A mistake in the command line or in what it names; reported on one line."""


def load_function(target: str) -> Callable:
    """The function ``NAME`` (or ``Class.method``) of ``FILE.py:NAME``, importing the file."""
    path_text, sep, qualname = target.rpartition(":")
    if not sep or not path_text or not qualname:
        raise UsageError(f"expected FILE.py:FUNCTION, got {target!r}")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"no such file: {path_text}")
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path_text}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(f"importing {path_text} failed: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    owner: Any = None
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{path_text} has no function {qualname!r}")
        owner, obj = obj, getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"{path_text}:{qualname} is a {type(obj).__name__}, not a function")
    if (
        isinstance(owner, type)
        and inspect.isfunction(obj)
        and list(inspect.signature(obj).parameters)[:1] == ["self"]
    ):
        try:  # a method: of an instance made with no arguments
            return getattr(owner(), obj.__name__)
        except Exception as exc:
            raise UsageError(
                f"{qualname} is a method, and {owner.__name__}() failed "
                f"({type(exc).__name__}: {exc}): put it in a function"
            ) from exc
    return obj


def evaluate(expressions: Sequence[str], namespace: dict) -> list[Any]:
    """Each expression's value, in the file's namespace with ``np`` bound to NumPy."""
    values = []
    for text in expressions:
        try:
            values.append(eval(text, {**namespace, "np": np}))  # noqa: S307 - the user's input
        except Exception as exc:
            raise UsageError(
                f"cannot evaluate --args expression {text!r}: {type(exc).__name__}: {exc}"
            ) from exc
    return values


# Example values by rank, tried for each parameter without a default when no --args are
# given: a number (a NumPy one, so that .mean() and .sum() work), a vector, a matrix.
EXAMPLES = (
    np.float64(0.5),
    np.linspace(0.1, 0.9, 3),
    np.linspace(-0.8, 0.9, 9).reshape(3, 3),
)
MOST_TRIES = 243  # 3 ** 5: every combination for five parameters


def example_arguments(fn: Callable) -> Iterator[list[Any]]:
    """Candidate arguments for a function called without --args: each parameter without
    a default gets a number, a vector or a matrix, the combinations of lower ranks first
    (the first that runs is shown)."""
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    ranks = sorted(itertools.product(range(len(EXAMPLES)), repeat=len(params)), key=sum)
    for choice in ranks[:MOST_TRIES]:
        yield [EXAMPLES[r].copy() for r in choice]


def parse_wrt(names: Sequence[str] | None) -> int | str | tuple:
    """``--wrt`` as ``sd.grad`` takes it: positions as ints, one name alone, several as a tuple."""
    if not names:
        return 0
    wrt = tuple(int(n) if n.isdigit() else n for n in names)
    return wrt[0] if len(wrt) == 1 else wrt


def show(
    target: str,
    expressions: Sequence[str],
    wrt_names: Sequence[str] | None,
    view: str = "source",
    export: str | None = None,
) -> str:
    """The generated source of the gradient of ``target`` at the given arguments (``view``:
    ``source``, ``forward``, ``check-finite``, ``paths``, ``explain`` or ``check-grad``);
    with ``export``, the gradient
    written to that file (``sd.export``) and a line saying so."""
    if export is not None and view in ("forward", "paths"):
        raise UsageError(f"--export writes the gradient: it does not go with --{view}")
    fn = load_function(target)
    namespace = getattr(sys.modules.get(MODULE_NAME), "__dict__", {})
    candidates = [evaluate(expressions, namespace)] if expressions else example_arguments(fn)
    try:
        gradient = sd.grad(fn, wrt=parse_wrt(wrt_names), check_finite=view == "check-finite")
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    failure: Exception | None = None
    for args in candidates:
        try:
            inspect.signature(fn).bind(*args)
        except TypeError as exc:
            raise UsageError(f"{target}: {exc}; give one --args expression per argument") from exc
        try:
            if view == "forward":
                forward = sd.jvp(fn)
                forward(args, [np.ones_like(a) if hasattr(a, "shape") else 1.0 for a in args])
                return sd.source(forward)
            gradient(*args)
            if export is not None:
                return exported(gradient, target, sd.export(gradient, export))
            if view == "paths":
                return "\n\n".join(str(p) for p in sd.paths(gradient))
            if view == "explain":
                return str(sd.explain(gradient))
            if view == "check-grad":
                return str(sd.check_grad(gradient, *args))
            return sd.source(gradient)
        except sd.NonFiniteError as exc:
            if export is not None:
                raise UsageError(
                    f"not exported: the gradient is not finite at these arguments: {exc}"
                ) from exc
            return f"{sd.source(gradient)}\n\n# {type(exc).__name__}:\n" + "\n".join(
                f"#   {line}" for line in str(exc).splitlines()
            )
        except sd.CompileError as exc:
            raise UsageError(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - reported on one line
            failure = exc
    names = ", ".join(inspect.signature(fn).parameters)
    hint = (
        ""
        if expressions
        else (
            f"; no numbers, vectors and matrices ran it: pass one --args EXPR for each of "
            f"({names}), e.g. --args 'np.ones((3, 3))' 'np.ones(3)'"
        )
    )
    raise UsageError(
        f"calling the gradient of {target} failed: {type(failure).__name__}: {failure}{hint}"
    )


def exported(gradient: Callable, target: str, written: Path) -> str:
    """The line saying what ``sd.export`` wrote: the file, its gradient function and how
    many paths it holds."""
    count = len(sd.paths(gradient))
    names = next(
        ast.literal_eval(node.value)
        for node in ast.parse(written.read_text()).body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__"
    )
    return (
        f"wrote {written}: {names[0]}, the gradient of {target} on {count} "
        f"path{'s' if count != 1 else ''}, in a module needing NumPy alone"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    commands = p.add_subparsers(dest="command", required=True)
    s = commands.add_parser("show", help="print the generated gradient source of a function")
    s.add_argument("target", metavar="FILE.py:FUNCTION")
    s.add_argument(
        "--args",
        nargs="+",
        action="extend",  # repeated, they add up: --args a --args b is --args a b
        default=[],
        metavar="EXPR",
        help="Python expressions for the arguments (np is NumPy, and the file's "
        "names are in scope); by default small example arrays",
    )
    s.add_argument(
        "--wrt",
        nargs="+",
        action="extend",  # repeated, they add up: --wrt w --wrt y is --wrt w y
        metavar="NAME",
        help="arguments to differentiate, by name or position (default: the first)",
    )
    views = s.add_mutually_exclusive_group()
    views.add_argument("--forward", dest="view", action="store_const", const="forward",
                       help="the forward-mode (tangent) source instead, along ones")  # fmt: skip
    views.add_argument("--check-finite", dest="view", action="store_const",
                       const="check-finite", help="the adjoint with its finiteness checks, "
                       "and where the first non-finite gradient comes from")  # fmt: skip
    views.add_argument("--paths", dest="view", action="store_const", const="paths",
                       help="the paths compiled, in your terms")  # fmt: skip
    views.add_argument("--explain", dest="view", action="store_const", const="explain",
                       help="the source annotated with the shapes each line saw, and why "
                       "each zero gradient is zero (sd.explain)")  # fmt: skip
    views.add_argument("--check-grad", dest="view", action="store_const", const="check-grad",
                       help="each gradient compared with finite differences, naming the "
                       "first wrong adjoint line (sd.check_grad)")  # fmt: skip
    s.add_argument(
        "--export",
        metavar="OUT.py",
        help="write the gradient to OUT.py, a module needing NumPy alone (sd.export)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        print(show(args.target, args.args, args.wrt, args.view or "source", args.export))
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
