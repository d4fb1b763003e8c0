"""Gradients of NumPy functions that make arrays from numbers (``np.full``,
``np.linspace``, ``np.arange``, ``np.r_``, ``np.c_``) and of casts: helpers the rules in
``rules/creation.py`` call."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module, dtype_kind
from .arrays import cast_like, unbroadcast, zeros_like
from .mutation import refuse


def is_float(x: Any) -> bool:
    """Whether ``x`` is a real floating-point value (an array or a number)."""
    if hasattr(x, "dtype"):
        return dtype_kind(x) == "f"
    return isinstance(x, float)


def real_only(ans: Any) -> None:
    """Refuse a complex value on a differentiated path (srcdiff's rules are written for
    real numbers)."""
    if hasattr(ans, "dtype") and dtype_kind(ans) == "c" or isinstance(ans, complex):
        raise refuse(
            "a complex value carries a gradient here",
            "srcdiff differentiates real-valued code: compute with the real and imaginary "
            "parts as real arrays",
        )


def abs_slope(x: Any) -> Any:
    """The slope of ``abs(x)``, ``sign(x)``: 0 at 0, and at NaN (whose sign is NaN), as in
    PyTorch; refused for a complex ``x`` (whose ``abs`` has no such slope)."""
    real_only(x)
    if not hasattr(x, "dtype"):  # a number
        return float((x > 0) - (x < 0))  # (0 at NaN, which compares false)
    xp = array_module(x)
    return xp.where(x == x, xp.sign(x), 0.0)


def float_result(ans: Any) -> bool:
    """Whether a value made with a ``dtype`` carries its input's gradient: a real float
    does, integers and booleans do not (constant almost everywhere); any other dtype
    (complex, object, strings) is refused."""
    real_only(ans)
    if is_float(ans):
        return True
    if hasattr(ans, "dtype") and dtype_kind(ans) not in "iub":
        raise refuse(
            f"a value of dtype {ans.dtype} carries a gradient here",
            "cast to a real floating dtype (np.float64, np.float32) instead",
        )
    return False


def carried(d: Any, ans: Any) -> Any:
    """The adjoint (or tangent) ``d`` of a result made with a ``dtype=`` only the running
    code knows: itself for a real float, zero for integers or booleans."""
    return d if float_result(ans) else zeros_like(d)


def cast_grad(g: Any, ans: Any, x: Any) -> Any:
    """The gradient of ``x`` through a cast giving ``ans``: ``g`` in ``x``'s dtype where
    both are real floats, zero where the cast gives integers or booleans."""
    real_only(x)  # (the imaginary part a cast drops has a gradient too)
    real_only(g)  # (in forward mode, the tangent of a complex value)
    return cast_like(g, x) if float_result(ans) else zeros_like(x)


def fill_grad(g: Any, ans: Any, fill_value: Any) -> Any:
    """The gradient of the fill value of ``np.full``/``np.full_like``."""
    return unbroadcast(g, fill_value) if float_result(ans) else zeros_like(fill_value)


def linspace_grads(g: Any, start: Any, stop: Any, num: int, endpoint: bool,
                   axis: int) -> tuple[Any, Any]:  # fmt: skip
    """The gradients of ``start`` and ``stop`` of ``np.linspace``: entry ``i`` is
    ``start + (stop - start) * t_i`` with ``t_i = i / (num - 1)`` (``i / num`` without
    the endpoint)."""
    xp = array_module(g)
    div = (num - 1) if endpoint else num
    t = xp.arange(num, dtype=g.dtype) / max(div, 1)
    shape = [1] * g.ndim
    shape[axis] = num
    t = xp.reshape(t, tuple(shape))
    d_stop = xp.sum(g * t, axis=axis)
    d_start = xp.sum(g, axis=axis) - d_stop
    return unbroadcast(d_start, start), unbroadcast(d_stop, stop)


def arange_grads(g: Any, start: Any, stop: Any, step: Any) -> tuple[Any, Any, Any]:
    """The gradients of ``np.arange(start, stop, step)``'s arguments: entry ``i`` is
    ``start + i * step``; ``stop`` only decides how many there are. With one argument,
    ``np.arange(stop)`` counts from 0 and nothing is differentiated."""
    if stop is None or not is_float(g):
        return None, None, None
    xp = array_module(g)
    d_start = xp.sum(g)
    d_step = None if step is None else xp.sum(g * xp.arange(g.shape[0], dtype=g.dtype))
    return d_start, None, d_step


def concatenator_grads(g: Any, items: tuple, columns: bool) -> tuple:
    """The gradients of the items of ``np.r_[items]`` (``columns``: of ``np.c_``): ``g``
    cut back into the pieces each item made (a slice's range has none)."""
    if any(isinstance(item, str) for item in items):
        raise refuse("np.r_ or np.c_ with a string directive",
                     "use np.concatenate or np.column_stack")  # fmt: skip
    xp = array_module(g)
    grads = []
    start = 0
    for item in items:
        piece = (np.c_ if columns else np.r_)[_shape_only(item)]
        width = piece.shape[-1] if columns else piece.shape[0]
        part = g[..., start : start + width] if columns else g[start : start + width]
        start += width
        if isinstance(item, slice):
            grads.append(None)
        elif np.ndim(item) == 0 and not hasattr(item, "shape"):
            grads.append(xp.sum(part))
        else:
            grads.append(xp.reshape(part, np.shape(item)))
    return tuple(grads)


def concatenator_tangent(tangents: tuple, items: tuple, columns: bool) -> Any:
    """The tangent of ``np.r_[items]`` (``columns``: of ``np.c_``) given the items'
    ``tangents`` (None: none, as for a slice's range): each item's tangent, or zeros of
    the piece it makes, joined as the items are."""
    if any(isinstance(item, str) for item in items):
        raise refuse("np.r_ or np.c_ with a string directive",
                     "use np.concatenate or np.column_stack")  # fmt: skip
    pieces = tuple(
        np.zeros(np.shape(np.r_[item]))
        if d is None and isinstance(item, slice)
        else zeros_like(item)
        if d is None
        else d
        for d, item in zip(tangents, items, strict=True)
    )
    return (np.c_ if columns else np.r_)[pieces]


def _shape_only(item: Any) -> Any:
    """A stand-in with the item's shape, for measuring the piece it makes."""
    if isinstance(item, slice):
        return item
    return np.zeros(np.shape(item))
