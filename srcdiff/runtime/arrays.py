"""Array helpers that rules and generated adjoints call as ``rt.<name>``.

Each works on the array module of its inputs (NumPy, CuPy or any Array-API library) and
keeps the dtype of the gradient it is given, so float32 stays float32. NumPy and CuPy
arrays are used through their own methods; for other libraries the few methods outside
the Array API standard (``.sum``, ``.astype``, ``.copy``, ``np.add.at``) go through
``srcdiff.backend``.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import functools
import itertools
import math
import numbers
from collections import abc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import backend
from ..backend import array_module
from .objects import (
    Fields,
    is_record,
    plain_entries_type,
    plain_operand_type,
    record_grad,
    record_zeros,
)

# The helpers below run several times in every compiled gradient, mostly on small NumPy
# arrays, where Python's own work costs as much as NumPy's: each takes a fast path for
# ``type(x) is np.ndarray`` (and Python or NumPy numbers) before the general one, which
# CuPy, Array-API arrays, ndarray subclasses and lists take as before. Results are the
# same to the bit: ``np.add.reduce(g, axis, None, None, keepdims)`` is what
# ``ndarray.sum`` calls (through ``numpy._core._methods._sum``), with the same axes.
_add_reduce = np.add.reduce
_true_divide = np.true_divide
_intp = np.intp
_FLOAT64 = np.dtype(np.float64)
_FLOAT64_SCALAR = np.float64
_ndarray = np.ndarray  # a global, one lookup cheaper than np.ndarray
# The numbers ``out.fill(g)`` writes as ``out[...] = g`` does (checked for all dtypes).
_FILL_TYPES = frozenset({float, np.float64, np.float32})
# The types of numbers ``unbroadcast`` gives a NumPy number back for (the general path
# asks ``isinstance(x, numbers.Number)``, which np.bool_ is not).
_NUMBER_TYPES = frozenset(
    t for t in {float, int, bool, complex, *np.sctypeDict.values()} if issubclass(t, numbers.Number)
)


def _shape(x: Any) -> tuple[int, ...]:
    """The shape of an array, or of the array NumPy makes of a number or a (nested) list
    (``np.mean([h, h], axis=0)`` reduces a list)."""
    if type(x) is _ndarray:
        return x.shape
    shape = getattr(x, "shape", None)
    if shape is not None:
        return tuple(shape)
    if isinstance(x, (list, tuple)):
        return (len(x), *_shape(x[0])) if x else (0,)
    return ()


def _sum(g: Any, axis: tuple[int, ...], keepdims: bool = False) -> Any:
    if hasattr(g, "sum"):  # NumPy and CuPy arrays
        return g.sum(axis=axis, keepdims=keepdims)
    return backend.standard(g).sum(g, axis=axis, keepdims=keepdims)


def _sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """``unbroadcast`` of the NumPy array ``g`` to a NumPy array of another ``shape``:
    the sums of the general path, through ``np.add.reduce``."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = _add_reduce(g, tuple(range(extra)) if extra > 1 else 0, None, None, False)
    if 1 in shape:
        gshape = g.shape
        if gshape != shape:
            axes = tuple([i for i, n in enumerate(shape) if n == 1 and gshape[i] != 1])
            if axes:
                g = _add_reduce(g, axes, None, None, True)
    return g


def unbroadcast(g: Any, x: Any) -> Any:
    """Sum ``g`` over the axes along which ``x`` was broadcast, giving ``x``'s shape."""
    if type(g) is _ndarray:  # the fast path, with the sums of the general one below
        cls = type(x)
        if cls is _ndarray:
            shape, gshape = x.shape, g.shape
            if gshape == shape:
                return g
            if gshape[1:] == shape:  # one leading axis added (a batch): its sum, at once
                return _add_reduce(g, 0, None, None, False)
            return _sum_to(g, shape)
        if cls in _NUMBER_TYPES:  # a Python or NumPy number: a NumPy number back
            n = g.ndim
            if not n:
                return g
            g = _add_reduce(g, tuple(range(n)) if n > 1 else 0, None, None, False)
            return g[()] if hasattr(g, "shape") else g
    if isinstance(g, dict) or not (plain_operand_type(type(x)) or isinstance(x, (list, tuple))):
        raise _object_arithmetic(x)
    shape = getattr(x, "shape", ())
    gshape = getattr(g, "shape", ())
    if gshape == shape and (shape or not isinstance(x, (list, tuple))):
        return g
    if isinstance(x, (list, tuple)):
        from .mutation import refuse  # mutation imports this module

        raise refuse(
            "a + or * of a list taken out of a container or returned by a call: srcdiff "
            "cannot tell whether it joins or repeats the list",
            "make it a list first, with list(...)",
        )
    ndim = len(shape)
    extra = len(gshape) - ndim
    if extra > 0:
        g = _sum(g, tuple(range(extra)) if extra > 1 else 0)
    if 1 in shape:
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if axes:
            g = _sum(g, axes, keepdims=True)
    if not ndim and isinstance(x, numbers.Number):
        return g[()] if hasattr(g, "shape") else g
    return g


def _object_arithmetic(x: Any) -> Exception:
    """The refusal of arithmetic whose operand, or result, is an object of a user's class
    (``sum`` of objects defining ``+``, ``np.sum`` of a list of them): its own operator
    ran, whose derivative is not the arithmetic one."""
    from .mutation import refuse  # mutation imports this module

    return refuse(
        f"arithmetic (+, sum, np.sum) on a {type(x).__qualname__} running operators of its "
        "class, which compiled code cannot differentiate as arithmetic on arrays",
        "compute with the objects' arrays, or call a method of their class",
    )


def _normal_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None or ndim == 0:  # (a 0-d tensor's dim 0 or -1, as PyTorch takes it)
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    return tuple(a % ndim for a in axis)


def keep_dims(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """``g``, a reduction of ``x`` over ``axis``, with the reduced axes put back as 1s."""
    if keepdims:
        return g
    if type(x) is _ndarray and (type(g) is _ndarray or type(g) in _NUMBER_TYPES):
        shape = x.shape
        axes = _normal_axes(axis, len(shape))
        shape = tuple([1 if i in axes else n for i, n in enumerate(shape)])
        return g.reshape(shape) if type(g) is _ndarray else np.reshape(g, shape)
    ndim = len(_shape(x))
    xp = array_module(g, x)
    if xp is not np and not _is_array(g):
        g = xp.asarray(g, dtype=x.dtype)
    return xp.reshape(
        g, tuple(1 if i in _normal_axes(axis, ndim) else n for i, n in enumerate(_shape(x)))
    )


def unreduce(g: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Broadcast ``g``, the gradient of a reduction of ``x``, back to ``x``'s shape."""
    if isinstance(g, dict):  # the gradient of an object: the objects' own + made it
        raise _object_arithmetic(x)
    if axis is not None:
        g = keep_dims(g, x, axis, keepdims)
    if type(x) is _ndarray:  # a fresh array: cheaper than broadcast_to, and writeable
        if type(g) in _FILL_TYPES:  # the seed 1.0 over a count, say: fill is cheaper
            out = np.empty(x.shape, x.dtype)
            out.fill(g)
            return out
        out = np.empty(x.shape, dtype=g.dtype if getattr(g, "ndim", 0) else x.dtype)
        out[...] = g
        return out
    xp = array_module(g, x)
    if xp is not np and not _is_array(g):
        g = xp.asarray(g, dtype=x.dtype)
    return xp.broadcast_to(g, _shape(x))


def unreduce_times(g: Any, x: Any, axis: Any, keepdims: bool, factor: Any,
                   scale: float = 1) -> Any:  # fmt: skip
    """``unreduce(g, x, axis, keepdims) * (scale * factor)``, where a factor shaped as
    ``x`` spares the broadcast array: each entry is the same product, so the same bits.
    What an adjoint computes for a reduction whose elementwise argument's slope is
    ``scale * factor`` (``np.mean(e ** 2)``: ``unreduce(g / n, ...) * (2 * e)``). A
    power of two ``scale`` (or its negative) multiplies the reduced ``g`` where that is
    exact (neither overflows nor underflows in ``x``'s dtype), sparing an array operation."""
    if type(x) is _ndarray and type(factor) is _ndarray and factor.shape == x.shape:
        if axis is not None:
            g = keep_dims(g, x, axis, keepdims)
        cls = type(g)
        if cls is _ndarray and g.ndim:
            return g * (scale * factor) if scale != 1 else g * factor
        if cls in _FILL_TYPES or cls is _ndarray:  # a number, as unreduce fills it into
            dtype = x.dtype  # an array of x's dtype (a Python float multiplies float64
            plain = (cls is float or cls is _FLOAT64_SCALAR) and dtype is _FLOAT64 and (
                factor.dtype is _FLOAT64)  # alike)  # fmt: skip
            if not plain:
                g = dtype.type(g)
            if scale != 1:
                low, high = _EXACT_FLOAT64 if plain else _EXACT.get(dtype, _NO_RANGE)
                size, times = abs(float(g)), abs(scale)
                if size and not low / times <= size < high / times:
                    return g * (scale * factor)
                g = g * scale if plain else g * dtype.type(scale)
            return factor * g
    spread = unreduce(g, x, axis, keepdims)
    return spread * (scale * factor) if scale != 1 else spread * factor


# per float dtype, the magnitudes a product by a power of two keeps exact: from the
# smallest normal number to the largest finite one
_EXACT = {
    np.dtype(t): (float(np.finfo(t).tiny), float(np.finfo(t).max))
    for t in (np.float16, np.float32, np.float64)
}
_EXACT_FLOAT64 = _EXACT[_FLOAT64]  # (each bound alone: sd.export writes them out)
_NO_RANGE = (math.inf, 0.0)


def extreme_grad(g: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Gradient of max/min: shared evenly between the entries that attain the extreme (the
    NaN entries, where the extreme is NaN, as in PyTorch)."""
    xp = array_module(x)
    dtype = getattr(g, "dtype", None) or x.dtype
    extreme = keep_dims(ans, x, axis, keepdims)
    hit = (x == extreme) | (xp.isnan(x) & xp.isnan(extreme))  # (no branch: batched too)
    mask = backend.astype(hit, dtype)
    share = mask / xp.sum(mask, axis=_normal_axes(axis, mask.ndim), keepdims=True)
    return unreduce(g, x, axis, keepdims) * share


def _running_hits(ans: Any, x: Any, axis: int) -> tuple[Any, Any, Any]:
    """A running max or min ``ans`` of ``x`` and ``x`` itself with ``axis`` moved last, and
    how many entries attained each result so far (>= 1: the NaNs where it is NaN)."""
    xp = backend.standard(ans, x)
    lanes, tops = xp.moveaxis(x, axis, -1), xp.moveaxis(ans, axis, -1)
    hit = (lanes == tops) | (xp.isnan(lanes) & xp.isnan(tops))
    return hit, tops, _run_cumsum(backend.astype(hit, xp.int64), tops)


def _run_cumsum(v: Any, tops: Any, reverse: bool = False) -> Any:
    """The sums of ``v`` along the last axis over each entry's run of one running extreme
    ``tops``, from the run's first entry (``reverse``: to its last). The extreme moves one
    way, so entries ``step`` apart are in one run where their extremes are equal; doubling
    steps, no sum ever holds (and cancels) another run's values: O(n log n)."""
    xp = backend.standard(v, tops)
    if reverse:
        return xp.flip(_run_cumsum(xp.flip(v, axis=-1), xp.flip(tops, axis=-1)), axis=-1)
    nan = xp.isnan(tops)
    n, step = v.shape[-1], 1
    while step < n:
        same = (tops[..., step:] == tops[..., :-step]) | (nan[..., step:] & nan[..., :-step])
        tail = xp.where(same, v[..., :-step], xp.zeros_like(v[..., :-step]))
        v = xp.concat([v[..., :step], v[..., step:] + tail], axis=-1)
        step *= 2
    return v


def running_extreme_grad(g: Any, ans: Any, x: Any, axis: int = 0) -> Any:
    """Gradient of a running max or min (``np.maximum.accumulate``): each result's ``g``
    goes to the entries equal to it so far, shared evenly at ties, as ``extreme_grad``
    shares a max (the NaNs, where it is NaN). The running extreme is constant on runs,
    so that is a sum over each run, never an n x n matrix. Linear in ``g``."""
    x = array_module(ans, x).asarray(x)  # (a list, as NumPy takes it)
    xp = backend.standard(x)
    hit, tops, count = _running_hits(ans, x, axis)
    g = xp.moveaxis(xp.asarray(g), axis, -1)
    share = _run_cumsum(g / backend.astype(count, g.dtype), tops, reverse=True)
    return xp.moveaxis(xp.where(hit, share, xp.zeros_like(share)), -1, axis)


def running_extreme_tangent(d: Any, ans: Any, x: Any, axis: int = 0) -> Any:
    """Tangent of a running max or min for a tangent ``d`` of ``x``: each result moves as
    the mean of the entries attaining it so far (the transpose of
    ``running_extreme_grad``). Linear in ``d``."""
    x = array_module(ans, x).asarray(x)  # (a list, as NumPy takes it, and its tangent)
    xp = backend.standard(x)
    hit, tops, count = _running_hits(ans, x, axis)
    d = xp.moveaxis(xp.broadcast_to(array_module(d, x).asarray(d), x.shape), axis, -1)
    total = _run_cumsum(xp.where(hit, d, xp.zeros_like(d)), tops)
    return xp.moveaxis(total / backend.astype(count, total.dtype), -1, axis)


def clipped(a: Any, a_min: Any, a_max: Any) -> tuple[Any, Any, Any]:
    """Where ``clip(a, a_min, a_max)``'s gradient goes to ``a_min``, ``a_max`` and ``a``
    itself, as PyTorch's clamp sends it (a bound of None is no bound): ``a`` inside
    [a_min, a_max], bounds included; ``a_max`` above it, and wherever ``a_min > a_max``
    (the result is ``a_max`` there, as NumPy's ``minimum(maximum(a, a_min), a_max)``);
    ``a_min`` below it where ``a_min < a_max`` (equal bounds below: to none of them).
    Where ``a`` or a bound is NaN (so is the result), to none of them."""
    xp = array_module(a, a_min, a_max)
    a = xp.asarray(a)  # comparisons give arrays, not bools
    if a_min is None and a_max is None:
        return False, False, xp.ones(a.shape, dtype=bool)
    if a_min is None:
        return False, a > a_max, a <= a_max
    if a_max is None:
        return a < a_min, False, a >= a_min
    above = (a > a_max) | (a_max < a_min)
    below = (a < a_min) & (a_min < a_max)
    return below, above, (a >= a_min) & (a <= a_max)


def picked_operands(ans: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """Where a choice between two operands (``fmax``, ``fmin``: the one that is not NaN)
    gave ``x``, and where it gave ``y`` (both where they tie; ``x`` where both are NaN)."""
    xp = array_module(ans, x, y)
    nan_x = xp.isnan(x)
    return (ans == x) | (xp.isnan(ans) & nan_x), (ans == y) & xp.logical_not(nan_x & xp.isnan(y))


def picked(index: Any, x: Any, axis: int, keepdims: bool = False) -> Any:
    """1 where ``x``'s entry along ``axis`` is the one ``index`` picks (``x.max(dim)``'s
    indices), 0 elsewhere, in ``x``'s dtype: PyTorch sends the gradient of a max or min
    along a dim to that entry alone, ties or not."""
    xp = array_module(x)
    if x.ndim == 0:  # (a 0-d array's dim is itself: its one entry is picked)
        return xp.ones((), dtype=x.dtype)
    axis = axis % x.ndim
    shape = [-1 if i == axis else 1 for i in range(x.ndim)]
    positions = xp.reshape(xp.arange(x.shape[axis]), shape)
    return backend.astype(positions == keep_dims(index, x, axis, keepdims), x.dtype)


def prod_grad(g: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Gradient of prod, exact where some entries are zero."""
    xp = array_module(x)
    x = xp.asarray(x)  # a Python number too
    if axis is None:
        flat = xp.reshape(x, (-1,))
        return xp.reshape(prod_grad(g, ans, flat, 0, False), x.shape)
    if not isinstance(axis, int):  # several axes: their entries as one axis, at the end
        axes = sorted({a % x.ndim for a in axis})
        ends = tuple(range(-len(axes), 0))
        moved = xp.moveaxis(x, tuple(axes), ends)
        kept = moved.shape[: x.ndim - len(axes)]  # (-1 tells no length for an empty x)
        lane = xp.reshape(moved, (*kept, math.prod(moved.shape[len(kept) :])))
        ones = xp.ones((*lane.shape[:-1], 1), dtype=x.dtype)
        others = xp.reshape(prod_grad(ones, None, lane, -1, True), moved.shape)
        return unreduce(g, x, tuple(axes), keepdims) * xp.moveaxis(others, ends, tuple(axes))
    concat = getattr(xp, backend.counterpart(xp, "concatenate"))
    cumprod = getattr(xp, backend.counterpart(xp, "cumprod"))
    moved = xp.moveaxis(x, axis, -1)
    ones = xp.ones_like(moved[..., :1])
    before = cumprod(concat([ones, moved[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(
        cumprod(xp.flip(concat([moved[..., 1:], ones], axis=-1), axis=-1), axis=-1), axis=-1
    )
    others = xp.moveaxis(before * after, -1, axis)
    return unreduce(g, x, axis, keepdims) * others


def _prod_lanes(x: Any, axis: Any, *vs: Any) -> tuple[Any, list, Callable[[Any], Any]]:
    """``x`` and ``vs`` (shaped as ``x``) with the entries of each product over ``axis``
    along their last axis, and the function putting an array so laid out back."""
    xp = array_module(x, *vs)
    x = xp.asarray(x)
    vs = [xp.broadcast_to(xp.asarray(v), x.shape) for v in vs]
    if x.ndim == 0:
        return xp.reshape(x, (1,)), [xp.reshape(v, (1,)) for v in vs], lambda a: xp.reshape(a, ())
    axes = _normal_axes(axis, x.ndim)
    ends = tuple(range(-len(axes), 0))
    moved = xp.moveaxis(x, axes, ends)
    lane_shape = (*moved.shape[: x.ndim - len(axes)], -1)

    def back(a: Any) -> Any:
        return xp.moveaxis(xp.reshape(a, moved.shape), ends, axes)

    lanes = [xp.reshape(xp.moveaxis(a, axes, ends), lane_shape) for a in (x, *vs)]
    return lanes[0], lanes[1:], back


def _prod_parts(x: Any) -> tuple[Any, Any, Any, Any]:
    """Per entry of lanes ``x``: whether it is zero; it with its zeros made 1 (``b``);
    the product of the lane's nonzero entries over ``b`` (``scale``, the product of the
    others where that is all the zeros); how many zeros the lane has but the entry."""
    xp = array_module(x)
    zero = x == 0
    b = xp.where(zero, 1.0, x)
    nonzero = xp.prod(b, axis=-1, keepdims=True)
    count = xp.sum(backend.astype(zero, xp.int64), axis=-1, keepdims=True)
    return zero, b, nonzero / b, count - backend.astype(zero, xp.int64)


def _others_sum(a: Any, where: Any) -> Any:
    """The sum over each lane of ``a`` where ``where``, less the entry's own."""
    xp = array_module(a)
    own = xp.where(where, a, 0.0)
    return xp.sum(own, axis=-1, keepdims=True) - own


def prod_second(v: Any, x: Any, axis: Any = None) -> Any:
    """The second derivative of ``prod(x, axis)`` along ``v``, shaped as ``x``: entry
    ``m`` is ``sum over k != m of v[k] prod(x[j], j != k, m)`` (``prod_grad``'s tangent),
    exact where entries are zero: with ``b`` the lane with its zeros made 1, no zero but
    ``m``: ``Q / b[m] * sum(v[k] / b[k], k != m)``; one, ``z``: ``Q / b[m] * v[z]``;
    more, nothing."""
    lanes, (vv,), back = _prod_lanes(x, axis, v)
    xp = array_module(lanes, vv)
    zero, b, scale, others = _prod_parts(lanes)
    over_b = _others_sum(vv / b, ~zero)
    at_zero = _others_sum(vv, zero)
    return back(scale * xp.where(others == 0, over_b, xp.where(others == 1, at_zero, 0.0)))


def prod_third(c: Any, v: Any, x: Any, axis: Any = None) -> Any:
    """The third derivative of ``prod(x, axis)`` along ``c`` and ``v``, shaped as ``x``
    (``prod_second``'s derivative in ``x``): entry ``n`` is the sum over ``k != m`` (both
    but ``n``) of ``c[k] v[m] prod(x[j], j != k, m, n)``, exact where entries are zero
    (the zeros but ``n``, up to two, are among ``k`` and ``m``)."""
    lanes, (cc, vv), back = _prod_lanes(x, axis, c, v)
    xp = array_module(lanes, cc, vv)
    zero, b, scale, others = _prod_parts(lanes)
    nonzero = ~zero
    u, w = _others_sum(cc / b, nonzero), _others_sum(vv / b, nonzero)
    uw = _others_sum(cc * vv / (b * b), nonzero)
    cz, vz, cvz = _others_sum(cc, zero), _others_sum(vv, zero), _others_sum(cc * vv, zero)
    out = xp.where(
        others == 0,
        u * w - uw,
        xp.where(others == 1, cz * w + vz * u, xp.where(others == 2, cz * vz - cvz, 0.0)),
    )
    return back(scale * out)


def prod_grad_grads(gbar: Any, g: Any, x: Any, axis: Any = None, keepdims: bool = False) -> tuple:
    """The gradients of ``g`` and ``x`` of ``prod_grad(g, ans, x, axis, keepdims)`` (which
    reads no ``ans``): ``g`` gets ``gbar`` times the products of the others, summed over
    the axis; ``x`` the product's second derivative along ``gbar * g`` (``prod_second``),
    exact where entries are zero."""
    xp = array_module(x)
    others = prod_grad(xp.ones_like(xp.sum(x, axis=axis, keepdims=True)), None, x, axis, True)
    d_g = xp.sum(gbar * others, axis=axis, keepdims=keepdims)
    d_x = prod_second(gbar * unreduce(g, x, axis, keepdims), x, axis)
    return xp.reshape(d_g, _shape(g)), cast_like(d_x, x)


def _swap_last(xp: Any, a: Any) -> Any:
    """``a`` with its last two axes swapped."""
    if hasattr(xp, "swapaxes"):
        return xp.swapaxes(a, -1, -2)
    return xp.matrix_transpose(a)


def _permute(xp: Any, a: Any, axes: tuple[int, ...] | None) -> Any:
    """``np.transpose(a, axes)`` (the standard's ``permute_dims``)."""
    if hasattr(xp, "transpose"):
        return xp.transpose(a) if axes is None else xp.transpose(a, axes)
    return xp.permute_dims(a, tuple(reversed(range(a.ndim))) if axes is None else axes)


def _as2d(a: Any, xp: Any, lhs: bool) -> Any:
    if a.ndim == 1:
        return a[None, :] if lhs else a[:, None]
    return a


def matmul_lhs(g: Any, x: Any, y: Any) -> Any:
    """Gradient of ``x @ y`` with respect to ``x`` (a list operand taken as its array)."""
    x, y = _listed(g, x), _listed(g, y)
    if type(g) is _ndarray and g.ndim == 2 and x.ndim == 2 and y.ndim == 2:
        # the common case first; in x's memory order, so that x = W.T gives W a C array
        return (y @ g.T).T if x.flags.f_contiguous and not x.flags.c_contiguous else g @ y.T
    xp = array_module(g, x, y)
    g = xp.asarray(g)
    if x.ndim == 1 and y.ndim == 1:
        return g * y
    if y.ndim == 1:
        return unbroadcast(g[..., :, None] * y, x) if x.ndim > 1 else g * y
    gg = g[..., None, :] if x.ndim == 1 else g
    d = gg @ _swap_last(xp, y)
    return unbroadcast(d[..., 0, :] if x.ndim == 1 else d, x)


def matmul_rhs(g: Any, x: Any, y: Any) -> Any:
    """Gradient of ``x @ y`` with respect to ``y`` (a list operand taken as its array)."""
    x, y = _listed(g, x), _listed(g, y)
    if type(g) is _ndarray and g.ndim == 2 and x.ndim == 2 and y.ndim == 2:
        return (g.T @ x).T if y.flags.f_contiguous and not y.flags.c_contiguous else x.T @ g
    xp = array_module(g, x, y)
    g = xp.asarray(g)
    if x.ndim == 1 and y.ndim == 1:
        return g * x
    if x.ndim == 1:
        return unbroadcast(x[:, None] * g[..., None, :], y)
    gg = g[..., :, None] if y.ndim == 1 else g
    d = _swap_last(xp, x) @ gg
    return unbroadcast(d[..., 0] if y.ndim == 1 else d, y)


def dot_lhs(g: Any, x: Any, y: Any) -> Any:
    """Gradient of ``np.dot(x, y)`` with respect to ``x``: of a product by a number, of a
    matrix product (``y`` at most 2-D), or of a sum over ``y``'s second-to-last axis.
    A list operand (``np.dot(l, l)``) gets its gradient as an array."""
    x, y = _listed(g, x), _listed(g, y)
    nx, ny = len(_shape(x)), len(_shape(y))
    if nx == 0 or ny == 0:
        return unbroadcast(g * y, x)
    if ny <= 2:
        return matmul_lhs(g, x, y)
    xp = array_module(g, x, y)
    g = xp.asarray(g)
    return xp.tensordot(g, y, axes=(list(range(nx - 1, g.ndim)), [*range(ny - 2), ny - 1]))


def dot_rhs(g: Any, x: Any, y: Any) -> Any:
    """Gradient of ``np.dot(x, y)`` with respect to ``y`` (see ``dot_lhs``)."""
    x, y = _listed(g, x), _listed(g, y)
    nx, ny = len(_shape(x)), len(_shape(y))
    if nx == 0 or ny == 0:
        return unbroadcast(g * x, y)
    if ny <= 2:
        return matmul_rhs(g, x, y)
    xp = array_module(g, x, y)
    d = xp.tensordot(x, xp.asarray(g), axes=(list(range(nx - 1)), list(range(nx - 1))))
    return xp.moveaxis(d, 0, -2)  # (m, *J, k) to y's (*J, m, k)


def _listed(g: Any, v: Any) -> Any:
    """``v`` as an array where it is a list or tuple of numbers or arrays."""
    return array_module(g).asarray(v) if isinstance(v, (list, tuple)) else v


def transpose_grad(g: Any, axes: Any = None) -> Any:
    """Gradient of ``transpose(x, axes)``: the inverse permutation applied to ``g``."""
    if axes is None and type(g) is _ndarray:
        return g.T
    xp = array_module(g)
    if axes is None:
        return _permute(xp, g, None)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    ndim = len(_shape(g))
    return _permute(xp, g, tuple(int(i) for i in np.argsort([a % ndim for a in axes])))


FLOAT_DTYPES = frozenset({np.dtype(np.float32), np.dtype(np.float64)})


_REDUCTION_KEYWORDS = ("axis", "dtype", "out", "keepdims")
_NO_REDUCTION_ARGUMENTS = (None, None, None, False)


def _reduction_arguments(args: tuple, kwargs: dict) -> tuple | None:
    """``(axis, dtype, out, keepdims)`` of a call of ``np.sum`` or ``np.mean`` that gives
    no others (None where it does)."""
    if not args and not kwargs:
        return _NO_REDUCTION_ARGUMENTS
    if len(args) > 4 or not kwargs.keys() <= set(_REDUCTION_KEYWORDS[len(args) :]):
        return None
    given = dict(zip(_REDUCTION_KEYWORDS[: len(args)], args, strict=True))
    given.update(kwargs)
    return (given.get("axis"), given.get("dtype"), given.get("out"),
            bool(given.get("keepdims", False)))  # fmt: skip


def _elsewhere(fn: Any, name: str, a: Any, args: tuple, kwargs: dict, given: tuple | None
               ) -> Any:  # fmt: skip
    """``fn(a, *args, **kwargs)`` (``np.sum``, ``np.mean``), or for an array of another
    module, that module's ``name`` with the axis and keepdims given."""
    xp = array_module(a) if _is_array(a) else np
    if xp is np or given is None or given[1] is not None or given[2] is not None:
        return fn(a, *args, **kwargs)
    return getattr(xp, name)(a, axis=given[0], keepdims=given[3])


def np_sum(a: Any, *args: Any, **kwargs: Any) -> Any:
    """``np.sum``, with less overhead for an ndarray (the reduction it calls itself): what
    generated code for NumPy calls for ``np.sum``."""
    given = _reduction_arguments(args, kwargs)
    if given is not None and type(a) is _ndarray:
        return _add_reduce(a, *given)
    return _elsewhere(np.sum, "sum", a, args, kwargs, given)


def np_mean(a: Any, *args: Any, **kwargs: Any) -> Any:
    """``np.mean``, with less overhead for a float32 or float64 ndarray: NumPy's own
    steps (a sum, then a division by the count in the sum's dtype), so the same bits.
    What generated code for NumPy calls for ``np.mean``."""
    given = _reduction_arguments(args, kwargs)
    if (given is None or type(a) is not _ndarray or a.dtype not in FLOAT_DTYPES or not a.ndim
            or given[1] is not None or given[2] is not None):  # fmt: skip
        return _elsewhere(np.mean, "mean", a, args, kwargs, given)
    return float_mean(a, given[0], given[3])


def float_mean(a: Any, axis: Any, keepdims: bool) -> Any:
    """``np.mean(a, axis, keepdims=keepdims)`` of a float32 or float64 ndarray of at least
    one dimension, by NumPy's own steps (see ``np_mean``)."""
    count = a.size if axis is None else math.prod(a.shape[i] for i in _normal_axes(axis, a.ndim))
    if count == 0:
        return np.mean(a, axis, keepdims=keepdims)  # (its warning)
    total = _add_reduce(a, axis, None, None, keepdims)
    if a.dtype is _FLOAT64:
        if type(total) is _FLOAT64_SCALAR:  # a float64 over an int: a float64 already
            return total / count
    else:  # NumPy divides by an intp count: in float64 for float32
        count = _intp(count)
    if type(total) is _ndarray:
        return _true_divide(total, count, out=total, casting="unsafe", subok=False)
    return total.dtype.type(total / count)


def size(x: Any) -> int:
    """The number of entries of an array, a number (1) or a nested list of numbers, as
    the rules of means and variances divide by it: 1 for an empty one, whose gradient is
    empty whatever the quotient (a division by zero would stop the adjoint)."""
    cls = type(x)
    if cls is _ndarray:
        return x.size or 1
    if cls is float or cls is _FLOAT64_SCALAR:  # (a reduction's result)
        return 1
    return math.prod(_shape(x)) or 1


def average_weights(a: Any, axis: Any, weights: Any, returned: Any = False) -> Any:
    """The weights of ``np.average(a, axis, weights)`` laid along ``a``'s axes (weights
    of the reduced axes alone reshaped to broadcast along them), ones where there are
    none. ``returned=True``, whose result is a pair, is refused."""
    if returned:
        from .mutation import refuse  # mutation imports this module

        raise refuse(
            "np.average(..., returned=True), whose result is a pair",
            "compute the sum of the weights apart (np.sum(w))",
        )
    xp = array_module(a)
    if weights is None:
        return xp.ones_like(a)
    w = xp.asarray(weights)
    if w.shape == _shape(a) or axis is None:
        return w
    axes = _normal_axes(axis, len(_shape(a)))
    if len(axes) > 1:  # the weights' axes in the order of a's, as NumPy takes them
        w = xp.permute_dims(w, tuple(np.argsort(axes))) if hasattr(xp, "permute_dims") else (
            xp.transpose(w, tuple(np.argsort(axes))))  # fmt: skip
    shape = [1] * len(_shape(a))
    for ax, n in zip(sorted(axes), w.shape, strict=True):
        shape[ax] = n
    return xp.reshape(w, tuple(shape))


def reshape_like(g: Any, x: Any) -> Any:
    """``g`` reshaped to the shape of ``x``."""
    return array_module(g).reshape(g, _shape(x))


def cast_like(g: Any, x: Any) -> Any:
    """``g`` in the dtype of ``x``."""
    if type(x) is _ndarray and type(g) is _ndarray and g.dtype is x.dtype:
        return g  # (the usual case, without the general tests)
    dtype = getattr(x, "dtype", None)
    if dtype is None or getattr(g, "dtype", dtype) == dtype:
        return g
    return backend.astype(array_module(g).asarray(g), dtype)


def sinc_derivative(x: Any, n: int) -> Any:
    """The ``n``-th derivative (``n >= 1``) of ``np.sinc``, ``sin(u) / u`` with ``u = pi
    x``, at ``x``: by its Taylor series where ``|u| < 2`` (the closed form, ``(cos(u) -
    sinc(x)) / x`` for ``n = 1``, cancels to nothing near 0, and its own derivative with
    it), by Leibniz's rule on ``sin(u) * u ** -1`` elsewhere."""
    xp = array_module(x)
    u = xp.pi * xp.asarray(x)
    small = xp.abs(u) < 2.0
    near = xp.where(small, u, 0.0)
    series = 0.0
    for k in range((n + 1) // 2, (n + 1) // 2 + 20):  # sum of (-1)^k u^(2k-n) / ((2k+1) (2k-n)!)
        m = 2 * k - n
        series = series + ((-1) ** k / ((2 * k + 1) * math.factorial(m))) * near**m
    far = xp.where(small, 1.0, u)
    closed = 0.0
    for j in range(n + 1):  # d^(n-j) sin(u) times d^j u^-1, (-1)^j j! u^-(j+1)
        weight = math.comb(n, j) * (-1) ** j * math.factorial(j)
        closed = closed + weight * xp.sin(far + (n - j) * (math.pi / 2)) / far ** (j + 1)
    out = xp.where(small, series, closed) * math.pi**n
    return out[()] if not hasattr(x, "shape") else out


def power_slope(x: Any, y: Any) -> Any:
    """The derivative of ``x ** y`` in ``x``, ``y * x ** (y - 1)``: 0 where ``y`` is 0,
    at ``x = 0`` too (where the formula would be ``0 * inf``)."""
    if not hasattr(x, "shape") and not hasattr(y, "shape"):  # numbers
        if y == 0:
            return 0.0
        return y * (x ** (y - 1) if x != 0 or y >= 1 else math.inf)
    xp = array_module(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = y * xp.asarray(x) ** (y - 1)
    return xp.where(xp.asarray(y) == 0, 0.0, slope)


def power_slope_grads(g: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """Gradients of ``power_slope(x, y)``, ``y * x ** (y - 1)``: in ``x``,
    ``y * power_slope(x, y - 1)``; in ``y``, ``x ** (y - 1) * (1 + y * log x)`` where
    ``x > 0`` and 0 elsewhere (as the exponent's gradient of ``x ** y``)."""
    if not hasattr(x, "shape") and not hasattr(y, "shape"):  # numbers
        d_x = g * 0.0 if y == 0 else g * y * power_slope(x, y - 1)  # (y == 0: a constant)
        return d_x, (g * x ** (y - 1) * (1 + y * math.log(x)) if x > 0 else 0.0)
    xp = array_module(x, y)
    with np.errstate(invalid="ignore"):  # 0 * inf where y == 0 at x == 0: the slope is 0
        d_x = xp.where(xp.asarray(y) == 0, 0.0, g * y * power_slope(x, y - 1))
    positive = xp.asarray(x) > 0
    base = xp.where(positive, x, 1.0)
    return d_x, g * xp.where(positive, base ** (y - 1) * (1 + y * xp.log(base)), 0.0)


def exponent_grad(g: Any, ans: Any, x: Any) -> Any:
    """``g * ans * log(x)``: the share of ``ans = x ** y``'s derivative that goes to the
    exponent, for the weight ``g`` (a cotangent, or the exponent's tangent). Where ``x``
    is 0 it is 0 for ``y > 0`` (``0 ** y`` is constant there; NaN for ``y < 0``); where
    ``x`` is negative, ``x ** y`` has no derivative in ``y``: NaN, unless ``g`` is 0
    there (in reverse mode an entry nothing reads; in forward mode a zero tangent)."""
    if isinstance(x, numbers.Real) and not _is_array(x):  # (a Python number stays one:
        share = g * ans * (math.log(x) if x > 0 else 0.0)  # it cannot promote float32)
        if x >= 0:
            return share
        if not _is_array(g):
            return math.nan if g else 0.0
        return array_module(g).where(g != 0, math.nan, share)
    xp = array_module(x, g)
    x = xp.asarray(x)
    positive = x > 0
    share = g * ans * xp.log(xp.where(positive, x, 1.0))
    undefined = ~(x >= 0) & (xp.asarray(g) != 0)  # (NaN bases included)
    return xp.where(positive, share, xp.where(undefined, math.nan, 0 * share))


def safe_log(x: Any) -> Any:
    """log(x) where x > 0, and 0 elsewhere (for the exponent's gradient of ``x ** y``)."""
    if isinstance(x, numbers.Real) and not _is_array(x):
        # A Python number stays one, so it cannot promote a float32 gradient to float64.
        return math.log(x) if x > 0 else 0.0
    xp = array_module(x)
    positive = x > 0
    return xp.where(positive, xp.log(xp.where(positive, x, 1)), 0)


def draw_scale(scale: Any, param: str | None = None) -> Any:
    """The scale of a reparameterised draw, which the standard draw ``z`` is recovered
    by dividing by (``z = (x - loc) / scale``): a zero scale leaves ``z`` unknown, and its
    derivative ``z`` would come out NaN, so that is refused. ``param``: the parameter
    that is this scale, whose gradient alone needs ``z`` (see ``rt.call_vjp``)."""
    if bool(array_module(scale).any(scale == 0)):
        from .mutation import refuse  # mutation imports this module

        error = refuse(
            "the derivative of a random draw in a scale that is 0: it is the standard draw "
            "z, which a draw with scale 0 does not show (x = loc + 0 * z)",
            "draw z yourself and scale it (x = loc + scale * rng.standard_normal(...)), "
            "or keep the scale away from 0",
        )
        error.zero_scale = param
        raise error
    return scale


def split_like(g: Any, xs: Any, axis: int = 0) -> tuple:
    """Gradient of ``concatenate(xs, axis)``: ``g`` cut back into the pieces (with
    ``axis=None``, the pieces were flattened first)."""
    xp = array_module(g)
    if axis is None:
        flat = split_like(g, [xp.reshape(x, (-1,)) for x in map(xp.asarray, xs)])
        return tuple(reshape_like(d, x) for d, x in zip(flat, xs, strict=True))
    ends = [int(e) for e in np.cumsum([_shape(x)[axis] for x in xs])]
    if hasattr(xp, "split"):
        return tuple(xp.split(g, ends[:-1], axis=axis))
    lead = (slice(None),) * (axis % g.ndim)
    return tuple(g[lead + (slice(a, b), ...)] for a, b in zip([0] + ends[:-1], ends, strict=True))


def unstack(g: Any, xs: Any, axis: int = 0) -> tuple:
    """Gradient of ``stack(xs, axis)``: the slices of ``g`` along ``axis``."""
    xp = array_module(g)
    if xp is not np:
        lead = (slice(None),) * (axis % g.ndim)
        return tuple(g[lead + (i, ...)] for i in range(len(xs)))
    return tuple(xp.take(g, i, axis=axis) for i in range(len(xs)))


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def item_grad(g: Any, x: Any, index: tuple) -> Any:
    """The gradient of ``x`` from that of ``x.item(*index)``: its entry at a flat index,
    or at an index per axis (the only entry, without one; None: no index there), given
    apart or as one tuple (``x.item((1, 0))``)."""
    index = tuple(i for i in index if i is not None)
    if len(index) == 1 and isinstance(index[0], tuple):
        index = index[0]
    if not index:
        return g
    d = zeros_like(x)
    if len(index) == 1:  # a flat index counts in C order whatever ``x``'s layout
        index = array_module(d).unravel_index(index[0] % d.size, d.shape)
    d[index] = g
    return d


def item_tangent(dx: Any, index: tuple) -> Any:
    """The tangent of ``x.item(*index)`` (see ``item_grad``): ``dx``'s entry there."""
    index = tuple(i for i in index if i is not None)
    return dx.item(*index) if hasattr(dx, "item") else float(dx)


_OWN_INDEXING = (list.__getitem__, tuple.__getitem__, dict.__getitem__)


def _users_indexing(what: str) -> Exception:
    from .mutation import refuse  # mutation imports this module

    return refuse(
        f"a gradient through indexing {what}, whose __getitem__ is code compiled code "
        "does not differentiate",
        "index the list, dict or array it holds",
    )


def index_grad(x: Any, idx: Any, g: Any) -> Any:
    """Gradient of ``x[idx]``: ``g`` scattered into zeros shaped like ``x``."""
    if not _is_array(x) and type(x).__getitem__ not in _OWN_INDEXING:
        raise _users_indexing(f"a {type(x).__qualname__}")
    if isinstance(x, dict):
        return {idx: g}
    if isinstance(x, (list, tuple)):
        # a result of several arrays (``h.max(1)``'s values and indices, a named tuple):
        # its rule reads every part, so the other arrays' are zeros, not None (a list's
        # and a plain tuple's entries stay None)
        named = type(x) not in (list, tuple)
        d = [zeros_like(e) if named and _is_array(e) else None for e in x]
        if isinstance(idx, slice):
            d[idx] = list(g)
        else:
            d[idx] = g
        return d
    return index_add(array_module(x).zeros_like(x), idx, g)


def broadcast_like(d: Any, ans: Any) -> Any:
    """A tangent ``d`` given the shape of the value ``ans`` it is the tangent of (an
    operand smaller than the result, broadcast in the primal)."""
    shape = getattr(ans, "shape", ())
    if getattr(d, "shape", ()) == shape:
        return d
    xp = array_module(d, ans)
    return backend.copy(xp.broadcast_to(xp.asarray(d), shape)) if shape else d


def hypot_tangent(ds: tuple, coordinates: tuple, length: Any) -> Any:
    """The tangent of ``math.hypot(*coordinates)`` (``length``) given the coordinates'
    tangents ``ds`` (None: none): ``sum(c * d) / length``, 0 at the origin."""
    if not length:
        return 0.0
    return sum(c * d for c, d in zip(coordinates, ds, strict=True) if d is not None) / length


def bessel_i1(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 1, ``np.i0``'s derivative:
    its series ``sum (x/2)**(2k+1) / (k! (k+1)!)``, of positive terms, summed past their
    peak (near ``k = |x| / 2``) until they no longer change the sum."""
    xp = array_module(x)
    x = xp.asarray(x)
    half = x / 2.0
    term, total, quarter = half, half, half * half
    for k in range(1, int(float(xp.max(xp.abs(x))) if x.size else 0.0) + 40):
        term = term * quarter / (k * (k + 1))
        total = total + term
    return total


def hypot_tangent_grads(g: Any, ds: tuple, coordinates: tuple, length: Any) -> tuple:
    """The gradients of ``ds``, ``coordinates`` and ``length`` of ``hypot_tangent``: each
    tangent gets ``c / length``, each coordinate ``d / length``, the length ``-ans /
    length``; all 0 at the origin."""
    if not length:
        d_ds, d_coordinates, d_length = [0.0] * len(ds), [0.0] * len(coordinates), 0.0
    else:
        d_ds = [g * c / length for c in coordinates]
        d_coordinates = [0.0 if d is None else g * d / length for d in ds]
        d_length = -g * hypot_tangent(ds, coordinates, length) / length
    # (held as they are: an array's tangent, as math.dist's of arrays, is an array)
    return entries_like(d_ds, ds), entries_like(d_coordinates, coordinates), d_length


def flat_read(x: Any, index: Any) -> Any:
    """``x.flat[index]``: of an array, its entries at row-major positions; of an object,
    an entry of its field ``flat`` (of an object's tangent, a dict of its fields', that
    field's)."""
    if type(x) is dict:
        from .objects import field_tangent  # objects imports this module

        return field_tangent(x, "flat")[index]
    return x.flat[index]


def flat_read_grad(g: Any, x: Any, index: Any) -> Any:
    """Gradient of ``x.flat[index]``: ``g`` added at each row-major position read (as
    often as it was read), found by reading the positions themselves the same way; of an
    object, its field's (``x.flat``, then its entry)."""
    if not _is_array(x):
        from .objects import field_grad  # objects imports this module

        return field_grad(x, "flat", index_grad(x.flat, index, g))
    xp = array_module(x)
    positions = xp.arange(x.size).reshape(x.shape).flat[index]
    return index_add(xp.zeros(x.size, dtype=x.dtype), positions, g).reshape(x.shape)


def sort_grad(g: Any, x: Any, axis: Any = -1) -> Any:
    """Gradient of ``np.sort(x, axis)``: each entry of ``g`` goes back where its value
    came from (ties in the order a stable sort keeps them)."""
    xs = backend.standard(x, g)
    flat = xs.reshape(x, (-1,)) if axis is None else x  # axis=None sorts the flat array
    axis = -1 if axis is None else axis
    order = xs.argsort(flat, axis=axis, stable=True)
    back = xs.argsort(order, axis=axis)  # the inverse permutation
    return xs.reshape(xs.take_along_axis(g, back, axis=axis), x.shape)


def sort_tangent(d: Any, x: Any, axis: Any = -1) -> Any:
    """Tangent of ``np.sort(x, axis)``: ``d`` read in the order the sort put ``x`` in."""
    xs = backend.standard(x, d)
    if axis is None:
        x, d, axis = xs.reshape(x, (-1,)), xs.reshape(d, (-1,)), -1
    return xs.take_along_axis(d, xs.argsort(x, axis=axis, stable=True), axis=axis)


# ---- quantiles: np.quantile, np.percentile, np.median ---------------------------------

_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


@dataclasses.dataclass
class _Quantiles:
    """What ``np.quantile(a, q, axis)`` reads: ``a`` (as a float array) with the reduced
    axes last as one (``lined``, ``B + (n,)``), the order a stable sort puts it in and its
    sorted values; per quantile (``q`` flat) the two sorted positions its value reads,
    ``lo`` and ``hi``, and the weight of the second, as NumPy interpolates them.

    ``skip_nan`` (``np.nanquantile``): each lane's quantile is that of its entries that
    are not NaN (the sort puts NaN last), so ``lo``, ``hi``, ``frac`` and ``per_q`` are
    per lane (``(len(q), *B)`` and ``B``)."""

    xp: Any
    a: Any
    lined: Any
    order: Any
    ordered: Any
    lo: np.ndarray
    hi: np.ndarray
    frac: np.ndarray
    per_q: Any  # d(position) / dq: (n - 1), or (n - 1) / 100 for percents; 0 if constant
    skip_nan: bool = False
    moves: bool = True  # with q (the linear method)

    def at(self, values: Any, index: Any) -> Any:
        """The entries of the sorted lanes ``values`` at ``index`` (one position, or one
        per lane)."""
        if not self.skip_nan:
            return values[..., index]
        return self.xp.take_along_axis(values, index[..., None], axis=-1)[..., 0]

    def add_at(self, d: Any, index: Any, value: Any) -> None:
        """Add ``value`` (one per lane) into the sorted lanes ``d`` at ``index``."""
        if not self.skip_nan:
            d[..., index] += value
        else:
            d += (self.xp.arange(d.shape[-1]) == index[..., None]) * value[..., None]

    def weight(self, j: int) -> Any:
        """The weight of the higher position of quantile ``j``: a number (float32 stays
        float32), or one per lane."""
        if not self.skip_nan:
            return float(self.frac[j])
        return self.xp.asarray(self.frac[j], dtype=self.lined.dtype)

    def unsorted(self, d_ordered: Any, d_q: np.ndarray, q: Any, axis: Any) -> tuple:
        """Adjoints laid out as the sorted lanes (``d_ordered``) and per quantile (``d_q``)
        as those of ``a``, shaped as ``a`` (NaN where a lane holds NaN), and of ``q``."""
        xp = self.xp
        back = xp.argsort(self.order, axis=-1)  # the inverse permutation
        d_lined = self.nan_where_nan(xp.take_along_axis(d_ordered, back, axis=-1), keep=True)
        d_a = _quantile_unmoved(xp, d_lined, self.a, axis)
        if not np.ndim(q):
            return d_a, float(d_q[0])
        kind = np.asarray(q).dtype
        return d_a, d_q.reshape(np.shape(q)).astype(kind if kind.kind == "f" else np.float64)

    def adjoints(self, g: Any, q: Any, axis: Any, keepdims: bool) -> tuple:
        """``g``, the adjoint of the quantiles, one row per quantile (``(len(q), *B)``),
        and zeros to add the adjoints of the sorted lanes and of each quantile into."""
        xp = self.xp
        g = xp.broadcast_to(xp.asarray(g, dtype=self.lined.dtype),
                            _quantile_shape(self.a, q, axis, keepdims))  # fmt: skip
        spread = xp.reshape(g, (len(self.frac), *self.lined.shape[:-1]))
        return spread, xp.zeros_like(self.lined), np.zeros(len(self.frac))

    @classmethod
    def of(cls, a: Any, q: Any, axis: Any, method: str, options: tuple, percent: bool
           ) -> _Quantiles:  # fmt: skip
        from .mutation import refuse  # mutation imports this module

        overwrite_input, weights, interpolation, *skip_nan = options
        if method not in _QUANTILE_METHODS or weights is not None or interpolation is not None:
            raise refuse(
                f"a quantile by method={method!r}, weights= or interpolation=",
                f"use one of the methods {', '.join(_QUANTILE_METHODS)}, without weights",
            )
        if overwrite_input:
            raise refuse(
                "a quantile with overwrite_input=True, which reorders the array it was given",
                "drop overwrite_input",
            )
        xp = array_module(a)
        a = xp.asarray(a)
        if backend.dtype_kind(a) not in "fc":  # (integers: the gradients are floats)
            a = xp.asarray(a, dtype=xp.float64)
        lined = _quantile_lined(xp, a, a, axis)
        n = lined.shape[-1]
        order = xp.argsort(lined, axis=-1, stable=True)
        scale = 0.01 if percent else 1.0
        skip = bool(skip_nan and skip_nan[0])
        # (skipping NaN: each lane's count of the others; q first, then the lanes)
        last = xp.sum(~xp.isnan(lined), axis=-1) - 1 if skip else n - 1
        ahead = (-1,) + (1,) * (lined.ndim - 1) if skip else (-1,)
        lib = xp if skip else np
        pos = lib.reshape(lib.asarray(np.asarray(q, dtype=np.float64)), ahead) * scale * last
        pos = lib.maximum(pos, 0.0)  # (a lane of NaN alone: its quantile is NaN)
        lo = lib.floor(pos)
        frac = pos - lo
        if method == "lower":
            frac = lib.zeros_like(frac)
        elif method == "higher":
            frac = (frac > 0).astype(np.float64)
        elif method == "midpoint":
            frac = lib.where(frac > 0, 0.5, 0.0)
        elif method == "nearest":  # (ties to the even position, as np.around)
            frac = (lib.around(pos) > lo).astype(np.float64)
        lo = lo.astype(np.intp)
        return cls(xp, a, lined, order, xp.take_along_axis(lined, order, axis=-1), lo,
                   lib.minimum(lo + 1, lib.maximum(last, 0)), frac,
                   (xp.asarray(scale * last, dtype=lined.dtype) if skip else scale * last)
                   if method == "linear" else 0.0, skip, method == "linear")  # fmt: skip

    def sorted_like(self, d: Any, axis: Any) -> Any:
        """``d`` (shaped as ``a``, or broadcast to it) laid out as the sorted lanes."""
        lined = _quantile_lined(self.xp, self.xp.broadcast_to(d, self.a.shape), self.a, axis)
        return self.xp.take_along_axis(lined, self.order, axis=-1)

    def slope(self, j: int) -> Any:
        """The derivative of quantile ``j`` in its ``q`` (of each slice)."""
        ordered = self.ordered
        return (self.at(ordered, self.hi[j]) - self.at(ordered, self.lo[j])) * self.per_q

    def nan_where_nan(self, d: Any, keep: bool) -> Any:
        """``d`` NaN for the slices holding NaN (the sort put it last; skipping NaN, for
        those of NaN alone): their quantile is NaN, and finite differences give its
        entries NaN gradients."""
        at = 0 if self.skip_nan else -1
        last = self.ordered[..., at : (at + 1) or None] if keep else self.ordered[..., at]
        with np.errstate(invalid="ignore"):
            return self.xp.where(self.xp.isnan(last), self.xp.nan, d)


def quantile_grads(g: Any, a: Any, q: Any, axis: Any, keepdims: bool, method: str,
                   options: tuple, percent: bool = False) -> tuple:  # fmt: skip
    """The gradients of ``a`` and ``q`` of ``np.quantile(a, q, axis, method=method,
    keepdims=keepdims)`` (``np.percentile`` where ``percent``: ``q`` in percent): each
    quantile's gradient goes to the one or two entries it interpolates between, by
    their weights; ``q``'s (linear method only) is the slope between them. ``options``:
    ``(overwrite_input, weights, interpolation)``, refused but for their defaults."""
    qs = _Quantiles.of(a, q, axis, method, options, percent)
    xp, count = qs.xp, len(qs.frac)
    spread, d_ordered, d_q = qs.adjoints(g, q, axis, keepdims)
    for j in range(count):
        qs.add_at(d_ordered, qs.lo[j], spread[j] * (1.0 - qs.frac[j]))
        qs.add_at(d_ordered, qs.hi[j], spread[j] * qs.frac[j])
        d_q[j] = float(xp.sum(spread[j] * qs.slope(j)))
    return qs.unsorted(d_ordered, d_q, q, axis)


def quantile_tangent(da: Any, dq: Any, a: Any, q: Any, axis: Any, keepdims: bool,
                     method: str, options: tuple, percent: bool = False) -> Any:  # fmt: skip
    """The tangent of ``np.quantile`` (see ``quantile_grads``) along ``da`` and ``dq``
    (None: none)."""
    qs = _Quantiles.of(a, q, axis, method, options, percent)
    xp, lined = qs.xp, qs.lined
    d_ordered = None if da is None else qs.sorted_like(da, axis)
    dqs = None if dq is None else _quantile_flat_q(dq, q)
    parts = []
    for j in range(len(qs.frac)):
        part = xp.zeros(lined.shape[:-1], dtype=lined.dtype)
        if d_ordered is not None:
            weight = qs.weight(j)
            part = qs.at(d_ordered, qs.lo[j]) * (1.0 - weight) + qs.at(d_ordered, qs.hi[j]) * weight
        if dqs is not None:
            part = part + qs.slope(j) * float(dqs[j])
        parts.append(qs.nan_where_nan(part, keep=False))
    out = xp.stack(parts) if parts else xp.zeros((0, *lined.shape[:-1]), dtype=lined.dtype)
    return xp.reshape(out, _quantile_shape(qs.a, q, axis, keepdims))


def quantile_cross(t: Any, dq: Any, a: Any, q: Any, axis: Any, keepdims: bool, method: str,
                   options: tuple, percent: bool = False) -> Any:  # fmt: skip
    """The derivative of ``quantile_tangent(t, None, a, q, ...)`` in ``q`` along ``dq``,
    which is that of ``quantile_tangent(None, dq, a, q, ...)`` in ``a`` along ``t``:
    per quantile, ``t``'s entry at the higher sorted position it reads less that at
    the lower, times ``dq`` (by ``d(position) / dq``: the linear method's alone moves
    its weights). Bilinear in ``t`` and ``dq`` (None: zero); shaped as the quantile.
    (The order of ``a`` is constant where its entries differ: no term of its own.)"""
    qs = _Quantiles.of(a, q, axis, method, options, percent)
    xp, lined = qs.xp, qs.lined
    shape = _quantile_shape(qs.a, q, axis, keepdims)
    if t is None or dq is None or not qs.moves:
        return xp.zeros(shape, dtype=lined.dtype)
    ordered = qs.sorted_like(t, axis)
    dqs = _quantile_flat_q(dq, q)
    parts = []
    for j in range(len(qs.frac)):
        apart = qs.at(ordered, qs.hi[j]) - qs.at(ordered, qs.lo[j])
        parts.append(qs.nan_where_nan(apart * qs.per_q * float(dqs[j]), keep=False))
    out = xp.stack(parts) if parts else xp.zeros((0, *lined.shape[:-1]), dtype=lined.dtype)
    return xp.reshape(xp.asarray(out, dtype=lined.dtype), shape)


def quantile_cross_grads(g: Any, t: Any, dq: Any, a: Any, q: Any, axis: Any, keepdims: bool,
                         method: str, options: tuple, percent: bool = False) -> tuple:  # fmt: skip
    """The gradients of ``quantile_cross(t, dq, ...)`` given its adjoint ``g``: that of
    ``t`` (shaped as ``a``; zero where ``dq`` is None), ``g`` times ``dq`` added at the
    higher sorted position of each quantile and taken at the lower, and that of ``dq``
    (shaped as ``q``; zero where ``t`` is None), the sum of ``g`` times ``t``'s
    difference there. Each reads one of ``t`` and ``dq`` alone: the second derivatives
    of a quantile, ``quantile_grads`` differentiated in ``a`` and ``q``."""
    qs = _Quantiles.of(a, q, axis, method, options, percent)
    xp, count = qs.xp, len(qs.frac)
    spread, d_ordered, d_q = qs.adjoints(g, q, axis, keepdims)
    ordered = None if t is None else qs.sorted_like(t, axis)
    dqs = None if dq is None else _quantile_flat_q(dq, q)
    for j in range(count if qs.moves else 0):
        if dqs is not None:
            moved = spread[j] * qs.per_q * float(dqs[j])
            qs.add_at(d_ordered, qs.hi[j], moved)
            qs.add_at(d_ordered, qs.lo[j], -moved)
        if ordered is not None:
            apart = qs.at(ordered, qs.hi[j]) - qs.at(ordered, qs.lo[j])
            d_q[j] = float(xp.sum(spread[j] * apart * qs.per_q))
    return qs.unsorted(d_ordered, d_q, q, axis)


def _quantile_flat_q(dq: Any, q: Any) -> np.ndarray:
    """A tangent (or adjoint) of ``q``, spread to ``q``'s shape (a zero may be a
    number), flat."""
    return np.broadcast_to(np.asarray(dq, dtype=np.float64), np.shape(q)).reshape(-1)


def _quantile_shape(a: Any, q: Any, axis: Any, keepdims: bool) -> tuple:
    """The shape of ``np.quantile(a, q, axis, keepdims=keepdims)``."""
    axes = _normal_axes(axis, np.ndim(a))
    shape = np.shape(a)
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keepdims else tuple(
        d for i, d in enumerate(shape) if i not in axes)  # fmt: skip
    return (*np.shape(q), *kept)


def _quantile_lined(xp: Any, d: Any, a: Any, axis: Any) -> Any:
    """``d``, shaped as ``a``, with the reduced axes last as one (as ``_Quantiles.of`` reads it)."""
    d = xp.asarray(d)
    axes = _normal_axes(axis, np.ndim(a))
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = xp.transpose(d, (*rest, *axes))
    return xp.reshape(moved, (*moved.shape[: len(rest)], math.prod(a.shape[i] for i in axes)))


def _quantile_unmoved(xp: Any, d_lined: Any, a: Any, axis: Any) -> Any:
    """The inverse of ``_quantile_lined``: back to ``a``'s shape and order of axes."""
    axes = _normal_axes(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = xp.reshape(d_lined, (*(a.shape[i] for i in rest), *(a.shape[i] for i in axes)))
    return xp.transpose(moved, tuple(np.argsort([*rest, *axes])))


def unique_slices_lead(ar: Any, values: Any, axis: int) -> tuple[Any, Any]:
    """The first entries of the slices along ``axis`` of ``ar`` and of ``values``, its
    ``np.unique`` along that axis, refusing where that has no derivative: where slices
    are equal (moving one apart adds a slice), or share their first entry (their order
    flips as it moves). Then the values are the slices in the order of those entries."""
    from .mutation import refuse  # mutation imports this module

    xp = array_module(ar, values)
    a = xp.asarray(ar)
    n = a.shape[axis]
    if values.shape[axis] != n or not n:
        raise refuse(
            "the derivative of np.unique along an axis where slices are equal: moving one "
            "of equal slices apart adds one, so no derivative exists",
            "differentiate where the slices are distinct, or sum over equal ones with the "
            "inverse np.unique(..., axis=..., return_inverse=True) gives",
        )
    lead = xp.reshape(xp.moveaxis(a, axis, 0), (n, -1))[:, 0]
    # (two NaN first entries tie too: the entries after them order the slices)
    if bool(xp.any(xp.diff(xp.sort(lead)) == 0)) or int(xp.sum(xp.isnan(lead))) > 1:
        raise refuse(
            "the derivative of np.unique along an axis where two slices share their first "
            "entry (or both lead with NaN): their order flips as it moves, so no derivative "
            "exists",
            "make the first entries of the slices distinct, or sort them by a key of your own "
            "(np.argsort of a column, then np.take)",
        )
    return lead, xp.reshape(xp.moveaxis(values, axis, 0), (n, -1))[:, 0]


def distinct_order(keys: Any, among: Any, name: str, inverse: str = "") -> Any:
    """Where each of the 1-D ``keys`` sits in ``among``, the same distinct entries in
    another order (``np.unique``'s values and its argument, either way round), refusing
    where they are not as many: entries tie, and moving one apart adds a value."""
    from .mutation import refuse  # mutation imports this module

    xp = array_module(keys, among)
    if keys.shape[0] != among.shape[0]:
        raise refuse(
            f"the derivative of {name} where entries are equal: moving one of equal entries "
            "apart adds a value, so no derivative exists",
            "differentiate where the entries are distinct"
            + (f", or sum over equal entries with the inverse {inverse} gives" if inverse else ""),
        )
    return xp.argsort(among)[xp.searchsorted(xp.sort(among), keys)]


def empty_intersection(values: Any) -> None:
    """Refuse the derivative of ``np.intersect1d`` where its ``values`` are not empty: each
    is an entry of one array equal to one of the other, and moving either apart drops it."""
    from .mutation import refuse  # mutation imports this module

    if values.shape[0]:
        raise refuse(
            "the derivative of np.intersect1d where the arrays share a value: moving one "
            "of the equal entries apart drops it from the result, so no derivative exists",
            "differentiate where the arrays share no value, or select the entries by the "
            "positions np.intersect1d(a, b, return_indices=True) gives (a[i]: positions carry "
            "no gradient, so the entries they pick are taken as shared)",
        )


def entries(g: Any, container: Any) -> list:
    """The gradients of the entries of ``container`` (a list, tuple or dict) given its
    adjoint ``g``, in order, a zero for each entry ``g`` has nothing for."""
    if isinstance(container, dict):
        g = g or {}
        return [zeros_like(v) if g.get(k) is None else g[k] for k, v in container.items()]
    if not isinstance(container, (list, tuple)) and not _is_array(container):
        from .mutation import refuse  # mutation imports this module

        raise refuse(  # an object whose own append (or pop, ...) ran: no list's entries
            f"a gradient through an updating method of a {type(container).__qualname__}, "
            "which compiled code follows for lists and dicts only",
            "build a new value instead, or give the method another name",
        )
    g = g if g is not None else [None] * len(container)
    return [zeros_like(v) if d is None else d for d, v in zip(g, container, strict=True)]


def join_grads(g: Any, ans: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """The adjoints of ``x`` and ``y`` given that of ``ans = x + y``: the two parts of a
    joined sequence, or for arithmetic ``g`` unbroadcast to each operand."""
    if not isinstance(ans, (list, tuple)):
        return _operand_grad(g, x), _operand_grad(g, y)
    if g is None:
        return None, None
    return list(g[: len(x)]), list(g[len(x) :])


def repeat_grads(g: Any, ans: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """The adjoints of ``x`` and ``y`` given that of ``ans = x * y``: for a sequence
    repeated ``n`` times, each entry's adjoint summed over its copies (the count has
    none); for arithmetic, the product rule."""
    if not isinstance(ans, (list, tuple)):
        return _operand_grad(g * y, x), _operand_grad(g * x, y)
    seq = x if isinstance(x, (list, tuple)) else y
    total = None
    for start in range(0, len(g) if g is not None else 0, len(seq)):
        total = acc(total, list(g[start : start + len(seq)]))
    return (total, None) if seq is x else (None, total)


def _operand_grad(g: Any, x: Any) -> Any:
    """``unbroadcast(g, x)``, for a list operand NumPy made an array of the gradient of
    each of its entries."""
    if isinstance(x, (list, tuple)):
        return list(unbroadcast(g, array_module(g).asarray(x)))
    return unbroadcast(g, x)


def index_add(d: Any, idx: Any, g: Any) -> Any:
    """Add ``g`` into ``d[idx]`` in place (``d`` is an adjoint the caller owns); return it."""
    if isinstance(d, Fields):  # (the first index's adjoint, index_grad, refuses it too)
        raise _users_indexing("an object of a user's class")
    if isinstance(d, dict):
        d[idx] = acc(d.get(idx), g)
        return d
    if isinstance(d, (list, tuple)):
        d = list(d)
        if isinstance(idx, slice):
            for i, gi in zip(range(*idx.indices(len(d))), g, strict=True):
                d[i] = acc(d[i], gi)
        else:
            d[idx] = acc(d[idx], g)
        return d
    if isinstance(d, (np.generic, float, int)):  # a 0-d array's arithmetic gave a scalar
        d = np.array(d)
    if _has_advanced(idx):
        d = backend.scatter_add(d, idx, g)
    else:
        d[idx] += g
    return d


def _has_advanced(idx: Any) -> bool:
    """An index with integer arrays or lists in it, which may name a position twice
    (a boolean mask never does)."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    return any(
        isinstance(p, list) or (_is_array(p) and p.ndim > 0 and backend.dtype_kind(p) != "b")
        for p in parts
    )


def _truncates(x: Any, v: Any) -> bool:
    """Whether writing ``v`` into the array ``x`` truncates floats to integers."""
    kind = getattr(getattr(x, "dtype", None), "kind", "f")
    if kind not in "biu":
        return False
    return isinstance(v, float) or getattr(getattr(v, "dtype", None), "kind", "") == "f"


def augmented(x: Any, new: Any) -> Any:
    """``x <op>= v`` of an array ``x``, given ``new = x <op> v``: Python's in-place
    operator leaves ``x``'s shape and dtype (NumPy's ``same_kind`` cast, float32 staying
    float32), and raises where the result would not fit. Anything else (numbers, lists)
    takes ``new``, as Python rebinds it."""
    if type(x) is not _ndarray and (
        isinstance(x, np.generic) or not (hasattr(x, "shape") and hasattr(x, "dtype"))
    ):
        return new
    shape = getattr(new, "shape", ())
    if shape != x.shape:
        raise ValueError(
            f"non-broadcastable output operand with shape {x.shape} doesn't match the "
            f"broadcast shape {tuple(shape)}"
        )
    dtype = getattr(new, "dtype", None)
    if dtype is not None and dtype != x.dtype:
        if not np.can_cast(dtype, x.dtype, casting="same_kind"):
            raise TypeError(
                f"Cannot cast ufunc output from dtype('{dtype}') to dtype('{x.dtype}') with "
                "casting rule 'same_kind'"
            )
        new = backend.astype(new, x.dtype)
    if not shape and type(new) is not type(x):  # a 0-d array stays one (not a number)
        return array_module(x).asarray(new, dtype=x.dtype)
    return new


def list_slice(x: Any, lower: Any, upper: Any, step: Any) -> slice:
    """The slice ``x[lower:upper:step]`` that a list display is written into: of a list,
    its bounds made positions in it (``0 <= start <= stop <= len(x)``, step 1), so that
    where the list grows or shrinks, the adjoint knows where its entries went
    (``setitem_grads``); as written otherwise."""
    s = slice(lower, upper, step)
    if isinstance(x, list) and (step is None or step == 1):
        start, stop, _ = s.indices(len(x))
        return slice(start, builtins.max(start, stop), 1)
    return s


def _placed(idx: slice, n: int) -> bool:
    """Whether ``idx`` is a slice ``list_slice`` makes for a list of ``n`` entries."""
    start, stop = idx.start, idx.stop
    return idx.step == 1 and type(start) is int and type(stop) is int and 0 <= start <= stop <= n


def _width(idx: slice) -> int:
    """How many entries a slice ``list_slice`` made replaced (0 for another slice)."""
    return idx.stop - idx.start if type(idx.stop) is int and type(idx.start) is int else 0


def setitem(x: Any, idx: Any, v: Any) -> Any:
    """``x`` with ``x[idx] = v``, as a new array (the old one may still be needed)."""
    if isinstance(x, dict):  # (a defaultdict stays one: its next missing key too)
        out = dict(x) if type(x) is dict else copy.copy(x)
    elif isinstance(x, list):
        out = list(x)
        if isinstance(idx, slice) and len(out[idx]) != len(v) and not _placed(idx, len(x)):
            from .mutation import refuse  # mutation imports this module

            raise refuse(
                "a slice of a list given a list in a name, of another number of entries "
                "than it had (the list grows or shrinks): compiled code follows the "
                "gradient of its entries to their new places only where a list display "
                "is written there",
                "write the display (xs[i:j] = [*v], xs[i:j] += [v]), or build the new list "
                "(xs = xs[:i] + v + xs[j:]) and give it to every name that shares the old one "
                "(w = xs), which Python's write changes too",
            )
    elif type(x) is not _ndarray and callable(getattr(x, "_changed", None)):  # a Tensor
        return x._compiled_setitem(idx, v)  # from outside (``d = w.detach()``)
    else:
        if not hasattr(x, "shape"):  # (an object of a user's class: its own __setitem__)
            from .mutation import refuse  # mutation imports this module

            raise refuse(
                f"an item assignment into a {type(x).__qualname__}, which runs a "
                "__setitem__ of its own that compiled code cannot take for an array's",
                "call a method of the object's class, or write into an array",
            )
        if _truncates(x, v):
            from .mutation import refuse  # mutation imports this module

            raise refuse(
                "a float written into an integer array in compiled code: the truncation "
                "would drop a derivative without a word",
                "make the array a float one first (h = h.astype(float)), or round the "
                "value yourself (np.floor(v))",
            )
        out = x.copy() if hasattr(x, "copy") else backend.copy(x)
        if not isinstance(x, np.ndarray) and _has_advanced(idx):
            # The library may keep any of several writes to one position: give them all
            # the value NumPy keeps, the last one, so that setitem_grads agrees.
            v = _flat(array_module(x), v, out[idx].shape)[backend.last_writes(out, idx)]
    out[idx] = v
    return out


def _flat(xp: Any, v: Any, shape: tuple) -> Any:
    """``v`` broadcast to ``shape``, flattened in C order."""
    return xp.reshape(xp.broadcast_to(xp.asarray(v), shape), (-1,))


def setitem_grads(g: Any, idx: Any, v: Any) -> tuple:
    """Gradients of ``setitem(x, idx, v)`` for ``x`` and ``v`` (None for both where no
    gradient reached the result: an object made and then used only by its methods)."""
    if g is None:
        return None, None
    if isinstance(g, dict):  # an entry nobody read after the write: a zero gradient
        rest = dict(g)
        part = rest.pop(idx, None)
        return rest, zeros_like(v) if part is None else part
    if isinstance(g, (list, tuple)):
        rest = list(g)
        part = rest[idx]
        if isinstance(idx, slice) and _placed(idx, len(rest) - len(v) + _width(idx)):
            # (where the list grew or shrank: ``v`` took the place of idx.start:idx.stop)
            part = rest[idx.start : idx.start + len(v)]
            rest[idx.start : idx.start + len(v)] = [None] * (idx.stop - idx.start)
            return rest, [zeros_like(e) if d is None else d for d, e in zip(part, v, strict=True)]
        if isinstance(idx, slice):  # as many entries as it replaced (see setitem)
            rest[idx] = [None] * len(part)
            return rest, [zeros_like(e) if d is None else d for d, e in zip(part, v, strict=True)]
        rest[idx] = None
        return rest, zeros_like(v) if part is None else part
    if isinstance(g, (int, float, complex, np.generic)):  # the gradient of a 0-d array
        g = np.asarray(g)
    part = g[idx]
    if _has_advanced(idx):
        # A position the index repeats keeps only its last write: only that one gets gradient.
        xp = array_module(g)
        ids = xp.reshape(xp.arange(part.size), part.shape)
        part = part * (backend.last_writes(g, idx) == ids)
    return setitem(g, idx, 0), unbroadcast(part, v)


def zeros_like(x: Any) -> Any:
    """A zero adjoint shaped like ``x`` (containers give containers of zeros)."""
    if type(x) is _ndarray:
        if x.flags.c_contiguous:  # as zeros_like makes it, without its Python-level work
            return np.zeros(x.shape, x.dtype)
        return np.zeros_like(x)
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [zeros_like(v) for v in x]
    from .calls import NoGradient  # calls imports this module

    if isinstance(x, NoGradient):  # a refused tangent's zero: refused where it is used
        return x
    if _is_array(x):
        return array_module(x).zeros_like(x)
    if is_record(x):
        return record_zeros(x, zeros_like)
    if isinstance(x, functools.partial):  # see objects.partial_args
        return [zeros_like(a) for a in (*x.args, *x.keywords.values())]
    return 0.0


def zero_tangent(x: Any) -> Any:
    """A zero tangent shaped like ``x``, as forward mode keeps tangents: a tuple's a tuple
    (its tangent is added to others by concatenation, ``(c,) + (x,)``), a list's a list,
    an integer's the integer 0, and ``zeros_like``'s for the rest."""
    if type(x) is tuple:
        return tuple(zero_tangent(v) for v in x)
    if type(x) is list:
        return [zero_tangent(v) for v in x]
    if type(x) is dict:
        return {k: zero_tangent(v) for k, v in x.items()}
    if type(x) is int or type(x) is bool:  # an exact zero of its kind: written into the
        return 0  # tangent of an integer array (``y[0] = len(x)``), it truncates nothing
    return zeros_like(x)


def _no_fields(d: Any) -> bool:
    """Whether ``d`` is the zero adjoint ``zeros_like`` gives an object that is not a
    record (0.0), to which its fields' adjoints add up as they are."""
    return type(d) is float and d == 0.0


def acc(d: Any, c: Any) -> Any:
    """``d + c`` for adjoints that may be None (zero) or containers of adjoints."""
    if d is None:
        return c
    if c is None:
        return d
    if isinstance(c, dict) and _no_fields(d):
        return c
    if isinstance(d, dict) and _no_fields(c):
        return d
    if isinstance(d, dict):
        out = Fields(d) if isinstance(d, Fields) or isinstance(c, Fields) else dict(d)
        for k, v in c.items():
            out[k] = acc(out.get(k), v)
        return out
    if isinstance(d, (list, tuple)) or isinstance(c, (list, tuple)):  # a list's: entry by
        return [acc(a, b) for a, b in zip(d, c, strict=True)]  # entry (an array's rows too)
    return d + c


def is_entry(holder: Any, key: Any) -> bool:
    """Whether ``holder[key]`` is the holder's own entry (a list's or dict's item, a view
    of an array), not a copy: a write into it reaches ``holder``, as Python's
    ``holder[key][j] = v`` does."""
    if isinstance(holder, tuple):
        from .mutation import refuse  # mutation imports this module

        raise refuse(
            "a write into an entry of a tuple: compiled code gives the entry a new value, "
            "which a tuple cannot take back",
            "use a list",
        )
    if isinstance(holder, (list, dict)) or not hasattr(holder, "shape"):
        return not isinstance(key, slice)
    keys = key if isinstance(key, tuple) else (key,)
    return all(
        k is None
        or k is Ellipsis
        or isinstance(k, slice)
        or isinstance(k, (int, np.integer))
        and not isinstance(k, (bool, np.bool_))
        for k in keys
    )  # basic indexing: a view


def is_complex(v: Any) -> bool:
    """Whether ``v`` is a complex number, or an array (or NumPy scalar) of them."""
    return isinstance(v, complex) or (
        hasattr(v, "dtype") and not isinstance(v, type) and backend.dtype_kind(v) == "c"
    )


def grad_like(d: Any, x: Any, _given: set | None = None) -> Any:
    """The final gradient for argument ``x``: its type, shape and dtype, never an alias
    (not even of another entry of the same container: adjoints such as ``unbroadcast(g,
    a)`` and ``unbroadcast(g, b)`` may be one array)."""
    if (
        type(d) is _ndarray
        and type(x) is _ndarray
        and _given is None
        and d.shape == x.shape
        and d.dtype == x.dtype
        and d.flags.writeable
        and d.flags.c_contiguous
    ):
        return d  # the common case: an adjoint's own array (a C-ordered view of one alone)
    if isinstance(x, dict):
        d = d or {}
        given = set() if _given is None else _given
        return {k: grad_like(d.get(k), v, given) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        d = d if d is not None else [None] * len(x)
        given = set() if _given is None else _given
        items = [grad_like(a, b, given) for a, b in zip(d, x, strict=True)]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)  # a named tuple
    if is_record(x):
        given = set() if _given is None else _given
        return record_grad(d, x, lambda dv, v: grad_like(dv, v, given))
    if isinstance(x, functools.partial):  # the list of its bound values' (see zeros_like)
        bound = [*x.args, *x.keywords.values()]
        d = d if d is not None else [None] * len(bound)
        given = set() if _given is None else _given
        return [grad_like(a, b, given) for a, b in zip(d, bound, strict=True)]
    if d is not None and not is_complex(x) and is_complex(d):  # (the rules are real)
        raise TypeError(
            "a gradient came out complex: srcdiff differentiates real-valued code; "
            "compute with the real and imaginary parts as real arrays"
        )
    if not _is_array(x):
        if isinstance(x, Iterator):
            raise TypeError(
                "an iterator has no gradient once it is used up: pass a list "
                "of arrays instead, or leave it out of wrt"
            )
        return float(d) if d is not None else 0.0
    if isinstance(x, np.generic):  # a NumPy scalar in, one of its type out
        return x.dtype.type(0 if d is None else np.asarray(d).reshape(()))
    again = _given is not None and id(d) in _given
    if _given is not None:
        _given.add(id(d))
    if (
        type(d) is _ndarray
        and type(x) is _ndarray
        and d.shape == x.shape
        and d.dtype == x.dtype
        and d.flags.writeable
        and d.flags.c_contiguous
        and not again
        and d.base is None
    ):
        return d  # in a container: an array of its own (alone, see the top, a view is fine)
    xp = array_module(x)
    if d is None:
        return xp.zeros_like(x)
    d = xp.asarray(d)
    if d.shape != x.shape:
        d = xp.broadcast_to(d, x.shape)
    if xp is not np:  # no .flags or .base in the standard: always a fresh array
        return backend.copy(d, x.dtype)
    if d.dtype != x.dtype or not d.flags.writeable or d.base is not None or again:
        d = xp.array(d, dtype=x.dtype, copy=True)
    return d


def iteration_grad(g: Any, ans: Any, x: Any) -> Any:
    """Gradient of ``iterable(x)``: ``g`` itself for a sequence iterated as it is, the
    list of its entries for a view turned into a list (``d.values()``), zeros for a dict
    (its keys carry no gradient: zeros, not None, so that the entries' gradients of the
    dict's other uses can be added into it)."""
    if isinstance(x, dict):
        return zeros_like(x)
    _check_iterated(x)
    return cast_like(g, x) if x is ans else g


def copy_grad(g: Any, ans: Any, x: Any) -> Any:
    """Gradient of ``copy.copy(x)`` or ``copy.deepcopy(x)``: the copy holds the values
    ``x`` holds, so its adjoint is ``x``'s (a list's or a dict's with a zero for each
    entry it has nothing for). An object copied by code of its own (``__copy__``,
    ``__deepcopy__``, a set, another library's) is refused: what it copies is its own."""
    _check_copied(x)
    if isinstance(x, (list, tuple)):
        return entries(g, ans)
    if isinstance(x, dict):
        d = g or {}
        return {k: zeros_like(v) if d.get(k) is None else d[k] for k, v in x.items()}
    return cast_like(g, x) if _is_array(x) else g


def _check_copied(x: Any) -> None:
    """Refuse a copy of a value holding anything but lists, tuples, dicts, arrays,
    numbers, strings and objects of the user's classes copied field by field."""
    todo, seen = [x], set()
    while todo:
        v = todo.pop()
        if id(v) in seen or v is None or isinstance(v, (str, bytes, bool, numbers.Number)):
            continue
        seen.add(id(v))
        if type(v) in (list, tuple, dict):
            todo.extend(v.values() if isinstance(v, dict) else v)
        elif is_record(v) and not any(hasattr(type(v), m) for m in ("__copy__", "__deepcopy__")):
            todo.extend(vars(v).values())
        elif not _is_array(v):
            from .mutation import refuse  # mutation imports this module

            raise refuse(
                f"a gradient through copying a {type(v).__qualname__}, which copies itself "
                "by code of its own",
                "copy the lists, dicts, arrays and objects of your classes it holds",
            )


def mapping_grad(g: Any, x: Any) -> Any:
    """Gradient of ``dict(x)``, a new dict of the entries of the dict ``x`` (the same
    entries' gradients), or of the pairs ``x`` (see ``pairs_grad``)."""
    if isinstance(x, dict):
        return g
    return pairs_grad(g, x)


def _pairs(x: Any) -> bool:
    """Whether ``x`` is a list or tuple of key-value pairs (each a 2-tuple or 2-list)."""
    return type(x) in (list, tuple) and all(type(p) in (list, tuple) and len(p) == 2 for p in x)


def _refuse_pairs(x: Any) -> None:
    from .mutation import refuse  # mutation imports this module

    raise refuse(
        f"a gradient through the entries of a dict made from a {type(x).__qualname__} "
        "(dict(pairs), d.update(pairs))",
        "give a dict, or a list of (key, value) pairs: dict(list(pairs))",
    )


def pair_keys(x: Any, into: Any = None) -> tuple:
    """The keys of the pairs ``x`` that ``dict(x)`` or ``d.update(x)`` (``into`` the dict
    ``d``) is given where they may carry a gradient, for ``plain_keys`` to check (none of
    a dict, whose keys were checked where it was made, nor for another object's update).
    Pairs from an iterator, which the check would use up, are refused."""
    if isinstance(x, dict) or (into is not None and not isinstance(into, dict)):
        return ()
    if not _pairs(x):
        _refuse_pairs(x)
    return tuple(p[0] for p in x)


def pairs_grad(g: Any, x: Any, into: Any = None) -> Any:
    """Gradient of the pairs ``x`` made a dict (``dict(x)``; ``d.update(x)`` with ``into``
    the dict ``d``): each pair's value gets its key's entry of ``g`` where no later pair
    has that key (the dict keeps the last), the key none. A dict ``x`` (or ``into`` no
    dict, whose own update takes ``x`` as it is) gets ``g``."""
    if isinstance(x, dict) or (into is not None and not isinstance(into, dict)):
        return g
    if not _pairs(x):
        _refuse_pairs(x)
    if g is None:
        return None
    last = {p[0]: i for i, p in enumerate(x)}
    out = [type(p)((None, g.get(p[0]) if last[p[0]] == i else None)) for i, p in enumerate(x)]
    return type(x)(out)


def pairs_tangent(x: Any, dx: Any, into: Any = None) -> Any:
    """Tangent of the pairs ``x`` made a dict (as ``pairs_grad``) given their tangents
    ``dx``: each key (``x``'s, never its tangent) with its value's tangent."""
    if isinstance(x, dict) or (into is not None and not isinstance(into, dict)):
        return dict(dx) if isinstance(dx, dict) else dx
    if not _pairs(x):
        _refuse_pairs(x)
    return {p[0]: d[1] for p, d in zip(x, dx, strict=True)}


def keyless(x: Any, dx: Any) -> Any:
    """The tangent ``dx`` of ``x`` as iterating ``x`` reads it: for a dict, whose
    iteration gives its keys, a zero for each key (``dx`` holds its values' tangents)."""
    if isinstance(x, dict):
        return [zero_tangent(k) for k in x]
    return dx


def update_pairs(d: Any, other: Any) -> Any:
    """What ``d.update(other)`` puts into the dict ``d``: ``other`` as a dict (its pairs',
    a mapping's entries); ``other`` as it is for another object's update."""
    if isinstance(d, dict) and not isinstance(other, dict):
        return dict(other)
    return other


def sequence_grad(g: Any, ans: list | tuple, x: Any) -> Any:
    """Gradient of ``list(x)`` or ``tuple(x)``: the list of its entries' gradients, for an
    array the rows stacked back, zeros for a dict (its keys: see ``iteration_grad``)."""
    if isinstance(x, dict):
        return zeros_like(x)
    _check_iterated(x)
    return entries_like(entries(g, ans), x)


def _check_iterated(x: Any) -> None:
    """Refuse a gradient through the iteration of an object that is no list, tuple,
    array, iterator (its entries given back as a list) or view of a dict: its
    ``__iter__`` is code no adjoint follows."""
    if _plain_iteration(x) or _is_array(x):
        return  # (a subclass of its own iteration is refused: compiled code indexes it)
    if isinstance(x, (abc.Iterator, abc.MappingView)) and not isinstance(x, (list, tuple)):
        return
    from .mutation import refuse  # mutation imports this module

    raise refuse(
        f"a gradient through iterating over a {type(x).__qualname__}, whose __iter__ "
        "(or __getitem__) is code compiled code does not differentiate",
        "iterate over the list or array it holds",
    )


def reversible(x: Any) -> Any:
    """``x`` as a sequence a ``for`` loop over ``reversed(x)`` indexes from its end: as it
    is, or for a class of its own ``__reversed__``, what that gives, last entry first."""
    x = iterable(x)
    return x if _own_reversal(x) else list(reversed(x))[::-1]


def _own_reversal(x: Any) -> bool:
    """Whether ``reversed(x)`` gives ``x``'s entries from its end, as indexing does."""
    return _is_array(x) or getattr(type(x), "__reversed__", None) in (
        None, list.__reversed__, dict.__reversed__, *_VIEW_REVERSALS)  # fmt: skip


_VIEW_REVERSALS = tuple(type(v).__reversed__ for v in ({}.keys(), {}.values(), {}.items()))


def reversible_grad(g: Any, ans: Any, x: Any) -> Any:
    """Gradient of ``reversible(x)``: ``g`` for a sequence taken as it is."""
    _check_reversed(x)
    return iteration_grad(g, ans, x)


def _check_reversed(x: Any) -> None:
    if _own_reversal(x):
        return
    from .mutation import refuse  # mutation imports this module

    raise refuse(
        f"a gradient through reversed() of a {type(x).__qualname__}, whose __reversed__ "
        "is code compiled code does not differentiate",
        "reverse the list or array it holds",
    )


def entries_like(rows: list, x: Any) -> Any:
    """The gradients ``rows`` of the entries of ``x``, as ``x`` holds them: an array's
    rows stacked back into its shape, none for a dict (its keys), else the list. An
    object of a user's class iterated by its own ``__iter__`` is refused: what its
    entries are is its own."""
    if _is_array(x):
        return array_module(x).stack(rows).reshape(x.shape) if rows else zeros_like(x)
    if isinstance(x, dict):
        return None
    if is_record(x) or isinstance(x, (list, tuple)) and not _plain_iteration(x):
        from .mutation import refuse  # mutation imports this module

        raise refuse(
            f"a gradient through the entries of a {type(x).__qualname__}, which it gives by "
            "an __iter__ (or a __getitem__) of its own",
            "iterate over the list or array the object holds",
        )
    return rows


def dict_grad(d: dict, g: Any, part: int | None) -> dict:
    """Gradient of a dict's ``values()`` (``part`` None) or ``items()`` (``part`` 1) from
    the gradients of their entries, in order."""
    g = g if g is not None else [None] * len(d)
    grads = [e if part is None or e is None else e[part] for e in g]
    return {
        k: zeros_like(v) if e is None else e for (k, v), e in zip(d.items(), grads, strict=True)
    }


def items_tangent(dd: dict) -> list:
    """The tangent of a dict's ``items()`` from the dict of its values' tangents: each
    key's is zero (a key is no value of the function's: ``for k, v in d.items(): v * k``
    moves with ``v`` alone)."""
    return [(zero_tangent(k), v) for k, v in dd.items()]


def appended(xs: list, v: Any) -> list:
    """``xs + [v]``, a new list (the old one may still be needed by an adjoint); an
    object's own ``append`` runs as written (a gradient through it is refused: see
    ``entries``)."""
    if not isinstance(xs, list):
        from .updates import _in_place  # updates imports this module

        return _in_place(xs, "append", v)
    return [*xs, v]


def plain_keys(*keys: Any) -> None:
    """Check the keys a dict is given (``{k: v}``, ``d[k] = v``) that the compiler sees
    computed from differentiated values: a string or an integer passes, a real or complex
    number is refused (read back, ``sum(d)``, ``max(d)``, its derivative would be lost)."""
    for k in keys:
        if isinstance(k, tuple):
            plain_keys(*k)
        elif isinstance(k, (float, complex, np.inexact)):
            from .mutation import refuse  # mutation imports this module

            raise refuse(
                f"a dict key of {type(k).__name__} {k!r} computed from differentiated values, "
                "whose derivative is lost where the keys are read back",
                "key the dict by a string or an integer, and keep the number among its values",
            )


def mapping_keys(d: Any, view: str) -> list:
    """The keys of the dict ``d`` a loop over ``d.items()`` or ``d.values()`` (``view``)
    runs over, reading each value from ``d`` at its step; another object's view is
    refused (compiled code would not run its own ``items``)."""
    if not isinstance(d, dict) or type(d).__getitem__ is not dict.__getitem__:
        from .mutation import refuse  # mutation imports this module

        raise refuse(
            f"a loop over .{view}() of a {type(d).__qualname__}, which compiled code takes "
            "for a dict's",
            f"loop over list({view}()) of it, made before the loop",
        )
    return list(d)


def unpacked(x: Any, count: int) -> Any:
    """``x`` as an indexable sequence of ``count`` items, for ``a, b = x``: lists, tuples
    and arrays as they are, anything else as its iteration gives it (a list subclass of
    its own ``__iter__`` too), with Python's error for another number of items."""
    if _is_array(x):
        seq, n = x, x.shape[0] if x.ndim else len(x)  # (0-d: Python's TypeError)
    else:  # (no more than one item too many, as Python takes: it may never end)
        seq = x if _plain_iteration(x) else list(itertools.islice(x, count + 1))
        n = len(seq)
    if n != count:
        raise ValueError(
            f"too many values to unpack (expected {count})"
            if n > count
            else f"not enough values to unpack (expected {count}, got {n})"
        )
    return seq


def iterable(x: Any) -> Any:
    """``x`` as an indexable sequence for a ``for`` loop (arrays and lists as they are; a
    subclass of its own ``__iter__`` as that gives it)."""
    if _plain_iteration(x) or _is_array(x):
        return x
    return list(x)


def _plain_iteration(x: Any) -> bool:
    """Whether iterating ``x`` gives its entries by index: a list or tuple (a subclass's
    own ``__iter__``, ``__getitem__`` or ``__len__`` may not; an old-style sequence has
    only ``__getitem__``)."""
    cls = type(x)
    if cls is list or cls is tuple:
        return True
    base = list if issubclass(cls, list) else tuple if issubclass(cls, tuple) else None
    return base is not None and plain_entries_type(cls, base)
