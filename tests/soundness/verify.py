"""One verdict on one function: srcdiff's gradient is right, or srcdiff refuses it with a
``CompileError``; and the caller's objects end as a plain call leaves them.

``verify(fn, args, wrt)`` runs ``fn`` plainly on a copy of ``args``, then
``sd.value_and_grad(fn, wrt)`` on another copy, and checks:

- the value equals the plain call's;
- every array the caller passed (at any depth of a list or dict) still holds its values:
  taking a gradient never writes into the caller's arrays;
- every list and dict the caller passed holds what the plain call left in it (compared by
  value: where Python writes into an array a list holds, srcdiff puts a new array there);
- each gradient agrees with central differences in float64 along a random direction, at
  two step sizes (when the two differences disagree with each other, the function is not
  smooth there and that argument is not judged).

It returns ``"refused"`` when srcdiff raised ``CompileError`` (the caller decides whether
that is allowed; the error is appended to ``refusals``) and ``"ok"`` otherwise; anything
else fails with the generated source.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt

STEPS = (1e-6, 1e-4)


def leaves(x: Any) -> list:
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in leaves(v)]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in leaves(v)]
    return [x]


def rebuild(like: Any, values: Any) -> Any:
    it = iter(values)

    def build(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: build(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(build(v) for v in x)
        return next(it)

    return build(like)


def differentiable(x: Any) -> bool:
    return isinstance(x, float) or (isinstance(x, np.ndarray) and x.dtype.kind == "f")


def same_values(a: Any, b: Any) -> bool:
    """Equal structure and values (arrays by value, NaN equal to NaN)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and list(a) == list(b)
            and all(same_values(a[k], b[k]) for k in a)
        )
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(same_values(x, y) for x, y in zip(a, b, strict=True))
        )
    if hasattr(a, "shape") or hasattr(b, "shape"):
        return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)
    if type(a) is type(b) and rt.is_record(a):  # an object of a user's class: its fields
        return same_values(vars(a), vars(b))
    return a == b or (a != a and b != b)


def arrays_by_identity(x: Any, found: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
    if isinstance(x, np.ndarray):
        found[id(x)] = (x, x.copy())
    elif isinstance(x, dict):
        for v in x.values():
            arrays_by_identity(v, found)
    elif isinstance(x, (list, tuple)):
        for v in x:
            arrays_by_identity(v, found)


def verify(
    fn: Callable,
    args: Sequence[Any],
    wrt: int | Sequence[int] = 0,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    refusals: list | None = None,
) -> str:
    positions = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    plain_args = copy.deepcopy(list(args))
    plain_value = fn(*plain_args)
    call_args = copy.deepcopy(list(args))
    caller_arrays: dict = {}
    arrays_by_identity(call_args, caller_arrays)
    g = sd.value_and_grad(fn, wrt=positions)
    try:
        value, grads = g(*call_args)
    except sd.CompileError as error:
        if refusals is not None:
            refusals.append(error)
        return "refused"

    def context() -> str:
        try:
            return "\n" + sd.source(g)
        except RuntimeError:
            return ""

    assert same_values(np.asarray(value), np.asarray(plain_value)), (
        f"value {value} differs from the plain call's {plain_value}{context()}"
    )
    for array, before in caller_arrays.values():
        assert same_values(array, before), f"a caller's array was changed{context()}"
    for got, want in zip(call_args, plain_args, strict=True):
        if isinstance(want, (list, dict)):
            assert same_values(got, want), (
                f"a caller's container ends as {got}, a plain call leaves {want}{context()}"
            )
    rng = np.random.default_rng(seed)
    for i, d in zip(positions, grads, strict=True):
        x = args[i]
        xs = [leaf for leaf in leaves(x) if differentiable(leaf)]
        direction = [rng.standard_normal(np.shape(leaf)) for leaf in xs]
        ds = [leaf for leaf, xl in zip(leaves(d), leaves(x), strict=True) if differentiable(xl)]
        analytic = sum(
            float(np.sum(np.asarray(a, np.float64) * v)) for a, v in zip(ds, direction, strict=True)
        )

        def at(
            eps: float, i: int = i, x: Any = x, xs: list = xs, direction: list = direction
        ) -> float:
            moved = iter(
                [
                    leaf + eps * v if isinstance(leaf, np.ndarray) else float(leaf + eps * v)
                    for leaf, v in zip(xs, direction, strict=True)
                ]
            )
            shifted = rebuild(
                x, [next(moved) if differentiable(leaf) else leaf for leaf in leaves(x)]
            )
            moved_args = copy.deepcopy(list(args))
            moved_args[i] = shifted
            return float(fn(*moved_args))

        fds = [(at(eps) - at(-eps)) / (2 * eps) for eps in STEPS]
        scale = max(abs(fds[0]), 1.0)
        if abs(fds[0] - fds[1]) > 1e-3 * scale:
            continue  # not smooth here: differences at two steps disagree
        assert abs(analytic - fds[0]) <= atol + rtol * scale, (
            f"gradient of argument {i}: <grad, v> = {analytic}, finite differences "
            f"give {fds[0]}{context()}"
        )
    return "ok"


def verify_both_modes(fn: Callable, args: tuple, rng: np.random.Generator) -> None:
    """``verify`` in reverse mode, then forward mode along random directions against the
    reverse-mode gradients: ``jvp``'s tangent is their inner product with the directions."""
    assert verify(fn, args, wrt=tuple(range(len(args)))) == "ok"
    grads = sd.grad(fn, wrt=tuple(range(len(args))))(*args)
    directions = [rng.normal(size=np.shape(a)) for a in args]
    value, tangent = sd.jvp(fn, args, directions)
    assert value == pytest.approx(fn(*args))
    expected = sum(np.sum(g * d) for g, d in zip(grads, directions, strict=True))
    assert tangent == pytest.approx(expected, rel=1e-9)
