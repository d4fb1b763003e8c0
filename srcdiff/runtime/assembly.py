"""Helpers of the rules that assemble and cut arrays (stacks, splits, tiles, pads,
diagonals, windows) and that select entries (take, choose, select, partition, the
NaN-skipping and masked reductions), called as ``rt.<name>``.

Like those of ``arrays``, each works on the array module of its inputs and keeps the
dtype of the gradient it is given. Positions worked out from shapes alone (where each
entry of a padded array was read from, say) are computed on the host as integer arrays.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .. import backend
from ..backend import array_module
from .arrays import (
    _is_array,
    _normal_axes,
    _shape,
    _sum,
    broadcast_like,
    entries,
    entries_like,
    extreme_grad,
    keep_dims,
    sort_grad,
    unbroadcast,
    unreduce,
    zeros_like,
)
from .creation import real_only
from .mutation import refuse


def _shape_of(x: Any) -> tuple[int, ...]:
    """The shape of an array, a number or a nested list of numbers."""
    return _shape(x) if _is_array(x) else tuple(np.shape(x))


def _ints(x: Any) -> tuple[int, ...]:
    """An int or a sequence of ints (a window shape, reps, axes) as a tuple of ints."""
    if _is_array(x):
        x = backend.to_numpy(x)
    return tuple(int(v) for v in np.reshape(np.asarray(x), (-1,)))


def _dtype(g: Any, x: Any) -> Any:
    """The dtype a gradient is computed in: ``g``'s, or ``x``'s for a Python number ``g``."""
    return getattr(g, "dtype", None) or x.dtype


def _concat(xp: Any, pieces: list, axis: int) -> Any:
    return getattr(xp, backend.counterpart(xp, "concatenate"))(pieces, axis=axis)


def _cut(g: Any, lengths: list[int], axis: int) -> list:
    """``g`` cut along ``axis`` into consecutive pieces of ``lengths``."""
    lead = (slice(None),) * (axis % len(_shape(g)))
    ends = [int(e) for e in np.cumsum(lengths)]
    return [g[lead + (slice(a, b), ...)] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


# ---- joining and cutting -------------------------------------------------------------------


def _lifted(shape: tuple[int, ...], how: str) -> tuple[int, ...]:
    """The shape a piece of ``np.<how>`` takes before the pieces are concatenated."""
    n = len(shape)
    if how == "hstack":
        return shape or (1,)
    if how == "vstack":
        return {0: (1, 1), 1: (1, *shape)}.get(n, shape)
    if how == "dstack":
        return {0: (1, 1, 1), 1: (1, *shape, 1), 2: (*shape, 1)}.get(n, shape)
    if how == "column_stack":
        return {0: (1, 1), 1: (*shape, 1)}.get(n, shape)
    raise ValueError(f"unknown way of joining: {how}")


def unjoin(g: Any, tup: Any, how: str) -> Any:
    """Gradient of ``np.hstack(tup)`` (``how``; also ``"vstack"``, ``"dstack"``,
    ``"column_stack"``): ``g`` cut back into the pieces, each in its own shape (the
    entries of an array ``tup`` are its rows, stacked back)."""
    xp = array_module(g)
    if _is_array(tup):
        shapes = [_shape(tup)[1:]] * _shape(tup)[0]
    else:
        shapes = [_shape_of(x) for x in tup]
    lifted = [_lifted(s, how) for s in shapes]
    if how == "hstack":
        axis = 0 if len(lifted[0]) == 1 else 1
    else:
        axis = {"vstack": 0, "dstack": 2, "column_stack": 1}[how]
    pieces = _cut(g, [s[axis] for s in lifted], axis)
    return entries_like([xp.reshape(p, s) for p, s in zip(pieces, shapes, strict=True)], tup)


def append_grads(g: Any, arr: Any, values: Any, axis: Any = None) -> tuple[Any, Any]:
    """Gradients of ``np.append(arr, values, axis)`` for ``arr`` and ``values``."""
    xp = array_module(g)
    a_shape, v_shape = _shape_of(arr), _shape_of(values)
    if axis is None:  # both flattened, then joined
        d_arr, d_values = _cut(g, [math.prod(a_shape), math.prod(v_shape)], 0)
    else:
        d_arr, d_values = _cut(g, [a_shape[axis], v_shape[axis]], axis)
    return xp.reshape(d_arr, a_shape), xp.reshape(d_values, v_shape)


def unsplit(g: Any, ans: Any, ary: Any, axis: int = 0) -> Any:
    """Gradient of ``np.split(ary, ..., axis)`` and its kin: the gradients of the pieces
    (zeros for a piece nobody used) joined back along ``axis``."""
    pieces = entries(g, ans)
    xp = array_module(*pieces)
    return xp.reshape(_concat(xp, pieces, axis), _shape_of(ary))


def restack(g: Any, ans: Any, x: Any, axis: int = 0) -> Any:
    """Gradient of ``np.unstack(x, axis=axis)`` (a Tensor's ``unbind``): the gradients of
    the slices (zeros for a slice nobody used) stacked back along ``axis``."""
    pieces = entries(g, ans)
    if not pieces:  # (a dim of length 0: no slices)
        return array_module(x).zeros(_shape_of(x), dtype=getattr(x, "dtype", None))
    return array_module(*pieces).stack(pieces, axis=axis)


def atleast_grads(g: Any, ans: Any, arys: tuple) -> tuple:
    """Gradients of ``np.atleast_1d(*arys)`` (and 2d, 3d): each reshaped to its argument
    (one argument gives one array, several a tuple of them)."""
    parts = [g] if len(arys) == 1 else entries(g, ans)
    return tuple(array_module(d).reshape(d, _shape_of(x)) for d, x in zip(parts, arys, strict=True))


def tile_grad(g: Any, A: Any, reps: Any) -> Any:
    """Gradient of ``np.tile(A, reps)``: the copies of each entry summed."""
    xp = array_module(g)
    shape, reps = _shape_of(A), _ints(reps)
    d = max(len(shape), len(reps))
    shape_d = (1,) * (d - len(shape)) + shape
    reps_d = (1,) * (d - len(reps)) + reps
    split = tuple(n for pair in zip(reps_d, shape_d, strict=True) for n in pair)
    total = _sum(xp.reshape(g, split), tuple(range(0, 2 * d, 2))) if d else g
    return xp.reshape(total, shape)


def repeat_grad(g: Any, a: Any, repeats: Any, axis: Any = None) -> Any:
    """Gradient of ``np.repeat(a, repeats, axis)``: the copies of each entry summed (one
    count for all, or one per entry)."""
    xp = array_module(g)
    shape = _shape_of(a)
    if axis is None:  # a is flattened first
        base, axis = (math.prod(shape),), 0
    else:
        base, axis = shape, axis % len(shape)
    n = base[axis]
    counts = _ints(repeats)
    if len(counts) == 1:  # each entry repeated counts[0] times in a row
        runs = xp.reshape(g, base[:axis] + (n, counts[0]) + base[axis + 1 :])
        return xp.reshape(_sum(runs, (axis + 1,)), shape)
    source = np.repeat(np.arange(n), counts)  # the entry each position of g copies
    moved = xp.moveaxis(g, axis, 0)
    d = xp.zeros((n, *_shape(moved)[1:]), dtype=g.dtype)
    d = backend.scatter_add(d, source if xp is np else xp.asarray(source), moved)
    return xp.reshape(xp.moveaxis(d, 0, axis), shape)


def negated(shift: Any) -> Any:
    """``-shift`` for a shift of ``np.roll``: a number, an array or a sequence of them."""
    if isinstance(shift, (tuple, list)):
        return tuple(-s for s in shift)
    return -shift


# ---- padding ---------------------------------------------------------------------------------

PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "mean", "maximum", "minimum")
STAT_MODES = {"mean": "mean", "maximum": "max", "minimum": "min"}  # and their statistics


def _pairs(x: Any, ndim: int) -> list[tuple[int, int]]:
    """``pad_width`` as one ``(before, after)`` pair per axis, read as ``np.pad`` reads it
    (an int, a pair, one pair per axis, or a dict of axis -> int or pair)."""
    if isinstance(x, dict):
        seq = [(0, 0)] * ndim
        for axis, width in x.items():
            seq[axis] = (width, width) if isinstance(width, int) else tuple(width)
        x = seq
    a = np.asarray(backend.to_numpy(x) if _is_array(x) else x).astype(np.intp)
    if a.ndim < 3 and a.size == 1:
        return [(int(a.ravel()[0]),) * 2] * ndim
    if a.ndim < 3 and a.size == 2 and a.shape != (2, 1):
        return [tuple(int(v) for v in a.ravel())] * ndim
    return [(int(b), int(e)) for b, e in np.broadcast_to(a, (ndim, 2)).tolist()]


def _sum_to(xp: Any, total: Any, shape: tuple[int, ...]) -> Any:
    """``total`` (one value per axis and side, shape ``(ndim, 2)``) summed to the shape of
    the ``constant_values`` NumPy broadcast to it."""
    if math.prod(shape) == 1:
        return xp.reshape(_sum(total, (0, 1)), shape)
    if len(shape) == 1:
        return _sum(total, (0,))
    axes = tuple(i for i, n in enumerate(shape) if n == 1)
    return _sum(total, axes, keepdims=True) if axes else total


def pad_grads(
    g: Any,
    array: Any,
    pad_width: Any,
    mode: Any = "constant",
    constant_values: Any = 0,
    reflect_type: str = "even",
    stat_length: Any = None,
) -> tuple[Any, Any]:
    """Gradients of ``np.pad(array, pad_width, mode, ...)`` for ``array`` and, in mode
    ``'constant'``, ``constant_values``: each padded entry is an entry of ``array`` read
    again (or a constant, or a statistic of entries), so its gradient goes back there."""
    if isinstance(mode, str) and mode in ("reflect", "symmetric") and reflect_type != "even":
        raise refuse(
            f"no derivative of np.pad in mode {mode!r} with reflect_type={reflect_type!r}",
            "pad with reflect_type='even', or register a rule with sd.register_vjp",
        )
    if not isinstance(mode, str) or mode not in PAD_MODES:
        raise refuse(
            f"no derivative of np.pad in mode {mode!r}",
            f"pad in mode {', '.join(map(repr, PAD_MODES))}, or register a rule with "
            "sd.register_vjp",
        )
    xp = array_module(g)
    shape = _shape_of(array)
    pairs = _pairs(pad_width, len(shape))
    if mode == "constant":
        inner = tuple(slice(b, b + n) for (b, _), n in zip(pairs, shape, strict=True))
        return g[inner], _pad_values_grad(xp, g, pairs, shape, constant_values)
    if mode in STAT_MODES:
        return _stat_pad_grad(xp, g, array, pairs, mode, stat_length), None
    d = g
    for axis, ((before, after), n) in enumerate(zip(pairs, shape, strict=True)):
        if before == after == 0:
            continue
        source = np.pad(np.arange(n), (before, after), mode)  # where each entry is read from
        moved = xp.moveaxis(d, axis, 0)
        folded = xp.zeros((n, *_shape(moved)[1:]), dtype=moved.dtype)
        folded = backend.scatter_add(folded, source if xp is np else xp.asarray(source), moved)
        d = xp.moveaxis(folded, 0, axis)
    return d, None


def _stat_regions(pairs: list, shape: tuple, stat_length: Any) -> list[tuple[int, int]]:
    """How many entries from each side of each axis ``np.pad``'s statistic reads."""
    ndim = len(shape)
    lengths = [(None, None)] * ndim if stat_length is None else _pairs(stat_length, ndim)
    return [
        tuple(n if k is None or k > n else k for k in pair)
        for pair, n in zip(lengths, shape, strict=True)
    ]


def _stat_pad_axis(xp: Any, moved: Any, n: int, before: int, after: int, mode: str,
                   region: tuple[int, int]) -> list:  # fmt: skip
    """Along the first axis of ``moved`` (the array padded on the axes before): for each
    side padded (0 before, 1 after), its width, the first entry of the region it reads,
    and each region entry's weight in the statistic (the mean's ``1 / length``; the
    extreme's, shared evenly by ties as in ``np.max``'s gradient)."""
    sides = []
    for side, width, start, length in ((0, before, 0, region[0]),
                                       (1, after, n - region[1], region[1])):  # fmt: skip
        if width == 0 or length == 0:
            continue
        chunk = moved[start : start + length]
        if mode == "mean":
            weight = xp.ones_like(chunk) / length
        else:
            stat = getattr(xp, STAT_MODES[mode])(chunk, axis=0, keepdims=True)
            weight = extreme_grad(xp.ones_like(stat), stat, chunk, 0, True)
        sides.append((side, width, start, weight))
    return sides


def _stat_pad_grad(xp: Any, g: Any, array: Any, pairs: list, mode: str, stat_length: Any) -> Any:
    """The gradient of ``array`` in modes 'mean', 'maximum' and 'minimum': NumPy pads one
    axis after the other, from the array padded along the axes before, so the axes are
    undone in reverse; each padded entry's gradient goes to the region its statistic
    read."""
    shape = _shape_of(array)
    regions = _stat_regions(pairs, shape, stat_length)
    d = g
    for axis in reversed(range(len(shape))):
        (before, after), n = pairs[axis], shape[axis]
        if before == after == 0:
            continue
        done = [p if k < axis else (0, 0) for k, p in enumerate(pairs)]
        source = xp.pad(array, done, mode=mode, stat_length=stat_length)
        moved, padded = xp.moveaxis(source, axis, 0), xp.moveaxis(d, axis, 0)
        out = padded[before : before + n] + 0.0
        for side, _, start, weight in _stat_pad_axis(xp, moved, n, before, after, mode,
                                                     regions[axis]):  # fmt: skip
            read = padded[before + n :] if side else padded[:before]
            part = weight * _sum(read, (0,), keepdims=True)
            out[start : start + part.shape[0]] = out[start : start + part.shape[0]] + part
        d = xp.moveaxis(out, 0, axis)
    return d


def pad_stat_tangent(array: Any, darray: Any, pad_width: Any, mode: str,
                     stat_length: Any = None) -> Any:  # fmt: skip
    """The tangent of ``np.pad`` in modes 'mean', 'maximum' and 'minimum': each axis in
    turn, each padded entry the weighted sum of the tangents its statistic read."""
    xp = array_module(array, darray)
    shape = _shape_of(array)
    pairs = _pairs(pad_width, len(shape))
    regions = _stat_regions(pairs, shape, stat_length)
    t = darray
    for axis in range(len(shape)):
        (before, after), n = pairs[axis], shape[axis]
        if before == after == 0:
            continue
        done = [p if k < axis else (0, 0) for k, p in enumerate(pairs)]
        moved = xp.moveaxis(xp.pad(array, done, mode=mode, stat_length=stat_length), axis, 0)
        lanes = xp.moveaxis(t, axis, 0)
        rest = _shape(lanes)[1:]
        pieces = [xp.zeros((before, *rest), dtype=lanes.dtype),
                  xp.zeros((after, *rest), dtype=lanes.dtype)]  # fmt: skip
        for side, width, start, weight in _stat_pad_axis(xp, moved, n, before, after, mode,
                                                         regions[axis]):  # fmt: skip
            value = _sum(weight * lanes[start : start + weight.shape[0]], (0,), keepdims=True)
            pieces[side] = xp.broadcast_to(value, (width, *rest))
        t = xp.moveaxis(xp.concatenate([pieces[0], lanes, pieces[1]], axis=0), 0, axis)
    return t


def _pad_values_grad(
    xp: Any, g: Any, pairs: list, shape: tuple[int, ...], constant_values: Any
) -> Any:
    """The gradient of ``constant_values``: NumPy pads one axis after the other, each over
    the padding of the axes before it and the original extent of those after it."""
    if constant_values is None or not shape:
        return None
    sums = []
    for axis, ((before, _), n) in enumerate(zip(pairs, shape, strict=True)):
        later = zip(pairs[axis + 1 :], shape[axis + 1 :], strict=True)
        tail = tuple(slice(b, b + m) for (b, _), m in later)
        lead = (slice(None),) * axis
        for side in (slice(0, before), slice(before + n, None)):
            sums.append(_sum(g[lead + (side,) + tail], tuple(range(len(shape)))))
    return _sum_to(xp, xp.reshape(xp.stack(sums), (len(shape), 2)), _shape_of(constant_values))


# ---- diagonals and windows -------------------------------------------------------------------


def diagonal_grad(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """Gradient of ``np.diagonal(a, offset, axis1, axis2)``: ``g`` (the diagonal on its last
    axis) put back on that diagonal of zeros."""
    xp = array_module(g)
    shape = _shape_of(a)
    d = xp.zeros(shape, dtype=_dtype(g, a))
    moved = xp.moveaxis(d, (axis1 % len(shape), axis2 % len(shape)), (-2, -1))  # a view of d
    k = _shape(g)[-1]
    moved[..., xp.arange(k) + max(-offset, 0), xp.arange(k) + max(offset, 0)] = g
    return d


def trace_grad(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """Gradient of ``np.trace(a, offset, axis1, axis2)``, the sum of that diagonal: ``g``
    on each of its entries."""
    xp = array_module(g, a)
    shape = _shape_of(a)
    n1, n2 = shape[axis1], shape[axis2]
    k = max(0, min(n1 - max(-offset, 0), n2 - max(offset, 0)))
    g = xp.asarray(g)
    return diagonal_grad(xp.broadcast_to(g[..., None], (*g.shape, k)), a, offset, axis1, axis2)


def diag_grad(g: Any, v: Any, k: int = 0) -> Any:
    """Gradient of ``np.diag(v, k)``: the ``k``-th diagonal of ``g`` for a vector ``v`` (made
    a matrix), that diagonal put back for a matrix ``v`` (read as a vector)."""
    if len(_shape_of(v)) == 1:
        return array_module(g).diagonal(g, k).copy()  # NumPy's diagonal is a read-only view
    return diagonal_grad(g, v, k)


def tri_grad(g: Any, m: Any, k: int = 0, upper: bool = False) -> Any:
    """Gradient of ``np.tril(m, k)`` (``np.triu`` if ``upper``): the same triangle of ``g``,
    summed over the rows a vector ``m`` was broadcast to."""
    xp = array_module(g)
    return unbroadcast(xp.triu(g, k=k) if upper else xp.tril(g, k=k), m)


def window_grad(g: Any, x: Any, window_shape: Any, axis: Any = None) -> Any:
    """Gradient of ``sliding_window_view(x, window_shape, axis)``: each window's gradient
    added back where the window lies (one slice per position inside a window)."""
    xp = array_module(g)
    shape = _shape_of(x)
    windows = _ints(window_shape)
    axes = tuple(range(len(shape))) if axis is None else tuple(a % len(shape) for a in _ints(axis))
    out = list(shape)
    for ax, w in zip(axes, windows, strict=True):
        out[ax] -= w - 1
    d = xp.zeros(shape, dtype=g.dtype)
    for offsets in itertools.product(*(range(w) for w in windows)):
        start = [0] * len(shape)
        for ax, o in zip(axes, offsets, strict=True):
            start[ax] += o
        d[tuple(slice(s, s + n) for s, n in zip(start, out, strict=True))] += g[(..., *offsets)]
    return d


# ---- selecting -------------------------------------------------------------------------------


def _positions(xp: Any, indices: Any, n: int, mode: str = "raise") -> Any:
    """Indices into an axis of length ``n`` as non-negative positions, as ``mode`` reads
    them (``'raise'``: Python's negative indices, ``'wrap'``, ``'clip'``)."""
    idx = xp.asarray(indices)
    if mode == "clip":
        return xp.clip(idx, 0, n - 1)
    return idx % n


def take_grad(g: Any, a: Any, indices: Any, axis: Any = None, mode: str = "raise") -> Any:
    """Gradient of ``np.take(a, indices, axis, mode=mode)``: ``g`` added into zeros at the
    positions taken (repeated positions add up)."""
    xp = array_module(g, a)
    g = xp.asarray(g, dtype=_dtype(g, a))
    shape = _shape_of(a)
    base = (math.prod(shape),) if axis is None else shape
    axis = 0 if axis is None else axis % len(shape)
    idx = _positions(xp, indices, base[axis], mode)
    k = len(_shape(idx))
    moved = xp.moveaxis(g, tuple(range(axis, axis + k)), tuple(range(k))) if k else g
    d = xp.zeros((base[axis], *base[:axis], *base[axis + 1 :]), dtype=g.dtype)
    d = backend.scatter_add(d, (idx,), moved)
    return xp.reshape(xp.moveaxis(d, 0, axis), shape)


def take_along_axis_grad(g: Any, arr: Any, indices: Any, axis: Any = -1) -> Any:
    """Gradient of ``np.take_along_axis(arr, indices, axis)``: ``g`` added into zeros at the
    positions taken (repeated positions add up, broadcast axes sum)."""
    xp = array_module(g, arr)
    shape = _shape_of(arr)
    if axis is None:  # arr is flattened first
        n = math.prod(shape)
        d = xp.zeros((n,), dtype=g.dtype)
        d = backend.scatter_add(d, (_positions(xp, indices, n),), g)
        return xp.reshape(d, shape)
    axis = axis % len(shape)
    index = tuple(
        _positions(xp, indices, n)
        if i == axis
        else xp.reshape(xp.arange(n), tuple(n if j == i else 1 for j in range(len(shape))))
        for i, n in enumerate(shape)
    )
    return backend.scatter_add(xp.zeros(shape, dtype=g.dtype), index, g)


def select_grads(g: Any, condlist: Any, choicelist: Any, default: Any = 0) -> tuple[Any, Any]:
    """Gradients of ``np.select(condlist, choicelist, default)`` for the choices and the
    default: each entry's gradient goes to the choice of the first condition true there,
    or to ``default`` where none is."""
    xp = array_module(g)
    taken, grads = None, []
    for cond, choice in zip(condlist, choicelist, strict=True):
        cond = xp.asarray(cond)
        first = cond if taken is None else xp.logical_and(cond, xp.logical_not(taken))
        taken = cond if taken is None else xp.logical_or(taken, cond)
        grads.append(_unbroadcast_to(xp.where(first, g, 0.0), choice))
    d_default = g if taken is None else xp.where(taken, 0.0, g)
    return entries_like(grads, choicelist), _unbroadcast_to(d_default, default)


def choose_grad(g: Any, a: Any, choices: Any, mode: str = "raise") -> Any:
    """Gradient of ``np.choose(a, choices, mode=mode)`` for ``choices``: each entry's
    gradient goes to the choice ``a`` names there."""
    xp = array_module(g)
    n = len(choices)
    idx = xp.asarray(a)
    if mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = xp.clip(idx, 0, n - 1)
    grads = [_unbroadcast_to(xp.where(idx == j, g, 0.0), choices[j]) for j in range(n)]
    return entries_like(grads, choices)


def _unbroadcast_to(d: Any, x: Any) -> Any:
    """``d`` summed to the shape of ``x`` (an array, a number or a nested list)."""
    if isinstance(x, (list, tuple)):
        return unbroadcast(d, array_module(d).zeros(_shape_of(x), dtype=d.dtype))
    return unbroadcast(d, x)


def permutation_grad(g: Any, ans: Any, a: Any, axis: Any = -1) -> Any:
    """Gradient of a function that reorders the entries of ``a`` along ``axis``
    (``np.partition``): each entry of ``g`` goes back to where its value came from. The
    values are matched by sorting both sides (ties in the order a stable sort keeps)."""
    xs = backend.standard(a, g)
    g = xs.asarray(g)
    ax = -1 if axis is None else axis
    in_order = xs.take_along_axis(g, xs.argsort(ans, axis=ax, stable=True), axis=ax)
    return sort_grad(in_order, a, axis)


# ---- reductions with initial=, where= and NaN entries -----------------------------------------


def extreme_grads(
    g: Any,
    ans: Any,
    a: Any,
    axis: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> tuple[Any, Any]:
    """Gradients of max or min (also ``nanmax``, ``nanmin``) for ``a`` and ``initial``.

    Entries that attain the extreme share evenly (as ``extreme_grad``); entries ``where``
    leaves out, and NaN entries (which never attain it), get none. As JAX computes
    ``max(max(a), initial)``, a tie between ``initial`` and the entries gives each side
    half; a slice with no entry and no ``initial`` that wins (all NaN) gives none.
    """
    xp = array_module(a)
    dtype = _dtype(g, a)
    kept = keep_dims(ans, a, axis, keepdims)
    hit = a == kept
    if where is not None:
        hit = xp.logical_and(hit, xp.asarray(where))
    hit = backend.astype(hit, dtype)
    count = xp.sum(hit, axis=_normal_axes(axis, a.ndim), keepdims=True)
    g_kept = keep_dims(g if _is_array(g) else xp.asarray(g, dtype=dtype), a, axis, keepdims)
    if initial is None:
        share, d_initial = 1.0, None
    else:
        at_initial = backend.astype(kept == initial, dtype)
        tie = at_initial * backend.astype(count > 0, dtype)
        share = 1.0 - at_initial + 0.5 * tie
        d_initial = _sum(g_kept * (at_initial - 0.5 * tie), tuple(range(len(_shape(g_kept)))))
    d_a = g_kept * (hit * (share / xp.maximum(count, 1.0)))
    return d_a, d_initial


def extreme_share(
    ans: Any,
    a: Any,
    axis: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Each entry's share of the tangent of max or min (also ``nanmax``, ``nanmin``, with
    ``initial`` and ``where``): ``extreme_grads`` of a gradient of ones, piecewise constant
    (it moves only where entries tie)."""
    xp = array_module(a)
    ones = xp.ones(tuple(getattr(ans, "shape", ())), dtype=_dtype(ans, a))
    return extreme_grads(ones, ans, a, axis, keepdims, initial, where)[0]


def extreme_initial_share(
    ans: Any,
    a: Any,
    axis: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """The share of the tangent of ``initial`` in each entry of max or min (also
    ``nanmax``, ``nanmin``, ``ufunc.reduce``): ``extreme_grads``'s gradient of ``initial``
    for a gradient of ones in that entry alone (1 where ``initial`` wins, half at a tie),
    shaped like ``ans``; piecewise constant."""
    xp = array_module(a)
    dtype = _dtype(ans, a)
    shape = tuple(getattr(ans, "shape", ()))
    if initial is None:  # (none: nothing to share)
        return xp.zeros(shape, dtype=dtype)
    kept = xp.asarray(keep_dims(ans, a, axis, keepdims))
    hit = xp.asarray(a == kept)
    if where is not None:
        hit = xp.logical_and(hit, xp.asarray(where))
    count = xp.sum(backend.astype(hit, dtype), axis=_normal_axes(axis, a.ndim), keepdims=True)
    at_initial = backend.astype(xp.asarray(kept == initial), dtype)
    share = at_initial * (1.0 - 0.5 * backend.astype(count > 0, dtype))
    return xp.reshape(share, shape)


def nan_sum_grad(
    g: Any, a: Any, axis: Any = None, keepdims: bool = False, where: Any = None
) -> Any:
    """Gradient of ``np.nansum`` for ``a``: none for NaN entries and those ``where`` leaves
    out."""
    xp = array_module(a)
    return xp.where(_kept(xp, a, where), unreduce(g, a, axis, keepdims), 0.0)


def nan_mean_grad(
    g: Any, a: Any, axis: Any = None, keepdims: bool = False, where: Any = None
) -> Any:
    """Gradient of ``np.nanmean`` for ``a``: the mean of the entries that are not NaN (and
    are in ``where``); an all-NaN slice (whose mean is NaN) gives none, as in JAX."""
    xp = array_module(a)
    keep = _kept(xp, a, where)
    count = xp.sum(
        backend.astype(keep, _dtype(g, a)), axis=_normal_axes(axis, a.ndim), keepdims=keepdims
    )
    return xp.where(keep, unreduce(g / xp.maximum(count, 1.0), a, axis, keepdims), 0.0)


def where_count(where: Any, shape: tuple[int, ...], axis: Any, keepdims: bool, like: Any) -> Any:
    """How many entries of an array of ``shape`` each slice of ``np.mean(..., axis,
    keepdims=keepdims, where=where)`` averages (at least 1), in the dtype of ``like``."""
    xp = array_module(like, where)
    keep = xp.broadcast_to(xp.asarray(where), shape)
    dtype = getattr(like, "dtype", None) or np.float64
    count = xp.sum(
        backend.astype(keep, dtype), axis=_normal_axes(axis, len(shape)), keepdims=keepdims
    )
    return xp.maximum(count, 1.0)


def centred(a: Any, axis: Any = None, where: Any = None) -> Any:
    """``a`` less its mean over ``axis`` (over the entries ``where`` keeps, None: all; the
    others 0): what the rules of a variance scale. Linear in ``a``, and its own adjoint.
    Refused for a complex ``a``, whose variance, real, is the mean of ``|a - mean| ** 2``
    (the rules' formulas hold for real values)."""
    real_only(a)
    xp = array_module(a)
    if where is None:
        return a - xp.mean(a, axis=axis, keepdims=True)
    return xp.where(where, a - xp.mean(a, axis=axis, keepdims=True, where=where), 0.0)


def _kept(xp: Any, a: Any, where: Any) -> Any:
    """The entries of ``a`` a NaN-skipping reduction reads: not NaN, and in ``where``."""
    keep = xp.logical_not(xp.isnan(a))
    return keep if where is None else xp.logical_and(keep, xp.asarray(where))


def meshgrid_grads(g: Any, ans: Any, xi: tuple, indexing: str = "xy") -> list:
    """The gradients of the vectors ``np.meshgrid(*xi)`` spread: each grid's adjoint
    summed over every axis but its vector's (the first two swapped by ``'xy'``
    indexing), shaped back as that vector was given (NumPy reads it flattened)."""
    from .contractions import result_grads  # contractions imports this module's kin

    grids = result_grads(g, ans)
    out = []
    for i, (d, x) in enumerate(zip(grids, xi, strict=True)):
        axis = 1 - i if indexing == "xy" and len(xi) > 1 and i < 2 else i
        xp = array_module(d)
        d = xp.asarray(d)
        summed = xp.sum(d, axis=tuple(k for k in range(d.ndim) if k != axis))
        out.append(xp.reshape(summed, _shape_of(x)))
    return out


def meshgrid_tangent(grids: Any, xi: tuple, dxi: tuple, sparse: bool = False,
                     indexing: str = "xy") -> list:  # fmt: skip
    """The tangent of ``grids = np.meshgrid(*xi)``: the grids of the vectors' tangents
    (zeros for one without), as the result lays them out."""
    xp = array_module(*grids)
    ds = [xp.zeros(_shape_of(x), dtype=a.dtype) if d is None else d
          for d, x, a in zip(dxi, xi, grids, strict=True)]  # fmt: skip
    sparse_grids = {"sparse": True} if sparse else {}  # (the standard's meshgrid has none)
    return list(xp.meshgrid(*ds, indexing=indexing, **sparse_grids))


def broadcast_tangent(arrays: Any, dargs: tuple) -> list:
    """The tangent of ``arrays = np.broadcast_arrays(*args)``: each tangent broadcast as
    its array was (zeros for one without)."""
    return [zeros_like(a) if d is None else broadcast_like(d, a)
            for d, a in zip(dargs, arrays, strict=True)]  # fmt: skip


def broadcast_grads(g: Any, ans: Any, arrays: tuple) -> list:
    """The gradients of the arrays ``np.broadcast_arrays(*arrays)`` gave, each its
    broadcast view's adjoint summed back to its shape (none for an entry None: a tangent
    not given, see ``broadcast_tangent``)."""
    from .contractions import result_grads

    return [None if x is None else unbroadcast(d, x)
            for d, x in zip(result_grads(g, ans), arrays, strict=True)]  # fmt: skip


def tolist_grad(g: Any, ans: Any, a: Any) -> Any:
    """The gradient of ``a`` from that of ``a.tolist()`` (nested lists of numbers, a
    number for a 0-d array; a zero for an entry the adjoint has none for), in ``a``'s
    shape and dtype."""

    def filled(d: Any, like: Any) -> Any:
        if isinstance(like, list):
            d = [None] * len(like) if d is None else d
            return [filled(e, k) for e, k in zip(d, like, strict=True)]
        return 0.0 if d is None else d

    xp = array_module(a)
    return xp.reshape(xp.asarray(filled(g, ans), dtype=a.dtype), a.shape)


def view_grad(g: Any, a: Any, dtype: Any = None, kind: Any = None) -> Any:
    """The gradient of ``a`` from that of ``a.view()``, the same entries: ``g``. A view
    as another dtype (its bytes read as other numbers) or as another class of array has
    no derivative srcdiff knows: refused."""
    if kind is None and isinstance(dtype, type) and issubclass(dtype, np.ndarray):
        dtype, kind = None, dtype  # ``a.view(np.ndarray)``: the class, by position
    same = dtype is None or np.dtype(dtype) == a.dtype
    if not same or kind not in (None, np.ndarray, type(a)):
        raise refuse(
            "a view of an array carrying a gradient as another dtype or class of array "
            "(its bytes read as other numbers): there is no derivative to follow",
            "cast it (a.astype(dtype)) for a new dtype, or call a.view() with no arguments",
        )
    return g


def prod_entries_grads(g: Any, iterable: Any, start: Any = 1) -> tuple[Any, Any]:
    """The gradients of the entries of ``math.prod(iterable, start=start)`` and of
    ``start``: ``g`` times the product of the others (made without dividing, zeros
    included), each summed back to its entry's shape; an array's rows stacked back."""
    items = list(iterable)
    before, product = [], start
    for v in items:
        before.append(product)
        product = product * v
    after, rest = [None] * len(items), 1
    for i in range(len(items) - 1, -1, -1):
        after[i] = rest
        rest = items[i] * rest
    grads = [unbroadcast(g * b * r, v) for b, r, v in zip(before, after, items, strict=True)]
    d_start = unbroadcast(g * rest, start)
    return entries_like(grads, iterable), d_start


def prod_entries_tangent(iterable: Any, start: Any, diterable: Any, dstart: Any) -> Any:
    """The tangent of ``math.prod(iterable, start=start)``: each entry's tangent times
    the product of the others, and ``start``'s times that of the entries."""
    items = list(iterable)
    tangents = [None] * len(items) if diterable is None else list(diterable)
    total = 0.0
    for i, t in enumerate(tangents):
        if t is None:
            continue
        others = start
        for j, v in enumerate(items):
            others = others if j == i else others * v
        total = total + t * others
    if dstart is not None:
        rest = 1
        for v in items:
            rest = rest * v
        total = total + dstart * rest
    return total


# ---- entries moved: insert, delete, resize, block, trim_zeros ---------------------------------
# Each of these copies entries of its arguments to new places without changing them. Its
# ``*_sources`` helper (run on the host, on positions alone) says, for each entry of the
# result, the row-major position in an argument it was copied from (-1: from elsewhere);
# ``sources_grad`` carries ``g`` back there and ``sources_tangent`` carries a tangent forward.


def _host(x: Any) -> Any:
    """An index or a list of them (``obj``, ``new_shape``) as NumPy takes it, on the host."""
    return backend.to_numpy(x) if _is_array(x) else x


def _places(shape: tuple[int, ...], start: int = 0) -> np.ndarray:
    """The row-major positions of an array of ``shape``, from ``start``."""
    return np.arange(start, start + math.prod(shape), dtype=np.intp).reshape(shape)


def sources_grad(g: Any, x: Any, sources: Any) -> Any:
    """Gradient of a result whose entries are copies of entries of ``x``: the entry of ``g``
    at each place goes to the position ``sources`` names there (none where it is -1;
    copies of one entry add up), in an array of ``x``'s shape."""
    xp = array_module(g)
    shape = _shape_of(x)
    sources = np.asarray(sources)
    kept = sources >= 0
    d = xp.zeros(math.prod(shape), dtype=_dtype(g, x))
    index = sources[kept]
    values = xp.broadcast_to(g, sources.shape)[kept if xp is np else xp.asarray(kept)]
    d = backend.scatter_add(d, index if xp is np else xp.asarray(index), values)
    return xp.reshape(d, shape)


def sources_tangent(dx: Any, x: Any, sources: Any) -> Any:
    """Tangent of a result whose entries are copies of entries of ``x`` (see
    ``sources_grad``, its transpose): ``dx`` at each position ``sources`` names, 0 where
    it names none."""
    xp = array_module(dx, x)
    sources = np.asarray(sources)
    flat = xp.reshape(xp.broadcast_to(xp.asarray(dx), _shape_of(x)), (-1,))
    if flat.shape[0] == 0:  # (an empty x: every entry names none, and there is no 0th)
        return xp.zeros(sources.shape, dtype=flat.dtype)
    index = np.where(sources >= 0, sources, 0)
    picked = flat[index if xp is np else xp.asarray(index)]
    return xp.where(xp.asarray(sources >= 0), picked, xp.zeros_like(picked))


def delete_sources(arr: Any, obj: Any, axis: Any = None) -> np.ndarray:
    """Where each entry of ``np.delete(arr, obj, axis)`` comes from in ``arr``."""
    return np.delete(_places(_shape_of(arr)), _host(obj), axis)


def insert_sources(arr: Any, obj: Any, values: Any, axis: Any = None) -> tuple[Any, Any]:
    """Where each entry of ``np.insert(arr, obj, values, axis)`` comes from: its position
    in ``arr`` and its position in ``values`` (-1 in the one it does not come from)."""
    shape, v_shape = _shape_of(arr), _shape_of(values)
    obj = _host(obj)
    from_arr = np.insert(_places(shape), obj, -1, axis)
    from_values = np.insert(np.full(shape, -1, dtype=np.intp), obj, _places(v_shape), axis)
    return from_arr, from_values


def resize_sources(a: Any, new_shape: Any) -> np.ndarray:
    """Where each entry of ``np.resize(a, new_shape)`` comes from in ``a`` (its entries
    again and again; none for the zeros that fill the result of an empty ``a``)."""
    shape = _shape_of(a)
    if math.prod(shape) == 0:
        return np.full(np.resize(np.zeros(1), _host(new_shape)).shape, -1, dtype=np.intp)
    return np.resize(_places(shape), _host(new_shape))


def _block_leaves(arrays: Any) -> list:
    """The arrays (and numbers) of ``np.block``'s nested lists, in order."""
    if isinstance(arrays, list):
        return [leaf for part in arrays for leaf in _block_leaves(part)]
    return [arrays]


def _block_positions(arrays: Any, start: list[int]) -> Any:
    """``arrays`` with each leaf replaced by its positions, counted on from ``start[0]``."""
    if isinstance(arrays, list):
        return [_block_positions(part, start) for part in arrays]
    shape = _shape_of(arrays)
    places = _places(shape, start[0])
    start[0] += math.prod(shape)
    return places


def block_sources(arrays: Any) -> np.ndarray:
    """Where each entry of ``np.block(arrays)`` comes from: its position among the entries
    of all the leaves, taken in order (see ``block_grads``)."""
    return np.block(_block_positions(arrays, [0]))


def block_grads(g: Any, arrays: Any) -> Any:
    """Gradient of ``np.block(arrays)``: ``g`` carried back to each leaf, in the nested
    lists' layout."""
    xp = array_module(g)
    leaves = _block_leaves(arrays)
    shapes = [_shape_of(leaf) for leaf in leaves]
    total = xp.zeros(sum(math.prod(s) for s in shapes), dtype=_dtype(g, leaves[0]))
    flat = sources_grad(g, total, block_sources(arrays))
    parts = iter(
        xp.reshape(p, s)
        for p, s in zip(_cut(flat, [math.prod(s) for s in shapes], 0), shapes, strict=True)
    )

    def rebuilt(x: Any) -> Any:
        return [rebuilt(part) for part in x] if isinstance(x, list) else next(parts)

    return rebuilt(arrays)


def trim_sources(filt: Any, trim: str = "fb", axis: Any = None) -> np.ndarray:
    """Where each entry of ``np.trim_zeros(filt, trim, axis)`` comes from in ``filt``,
    where it trims nothing off (its entries at the edges are not zero, and stay so
    nearby). Where it trims zeros off, the result's shape jumps as one leaves zero: no
    derivative exists there, refused. (Of an empty ``filt`` NumPy may trim an axis to
    length 0: no entry comes from anywhere.)"""
    kept = np.trim_zeros(np.asarray(_host(filt)), trim, axis)
    if kept.size == 0 == math.prod(_shape_of(filt)):
        return np.full(kept.shape, -1, dtype=np.intp)
    if kept.size != math.prod(_shape_of(filt)):
        raise refuse(
            "the derivative of np.trim_zeros where it trims zeros off: "
            "the result's shape jumps as such an entry leaves zero",
            "slice the part you need with indices you compute (np.flatnonzero), or "
            "differentiate where no entry is trimmed",
        )
    return _places(_shape_of(filt))


# ---- a ufunc's reduceat ----------------------------------------------------------------------


def _reduceat_runs(indices: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The entries ``ufunc.reduceat(x, indices)`` reduces along an axis of length ``n``,
    each beside the result it goes to: result ``i`` reduces ``indices[i]`` up to
    ``indices[i + 1]`` (the end, for the last one), or only ``indices[i]`` where the next
    index is not past it."""
    starts = np.asarray(_host(indices), dtype=np.intp).reshape(-1)
    stops = np.append(starts[1:], n)
    stops = np.where(stops > starts, stops, starts + 1)
    sources = np.concatenate([np.arange(s, e) for s, e in zip(starts, stops, strict=True)])
    runs = np.repeat(np.arange(len(starts)), stops - starts)
    return sources.astype(np.intp), runs.astype(np.intp)


def _reduceat_shares(xp: Any, lanes: Any, tops: Any, sources: Any, runs: Any, extreme: bool) -> Any:
    """What each entry read gives its result: 1 for a sum; for a max or min, an even share
    among the entries attaining it (the NaNs where it is NaN), 0 for the others. ``lanes``
    and ``tops``: the array and the result with the reduced axis first."""
    if not extreme:
        return None
    read, top = lanes[sources], tops[runs]
    hit = backend.astype((read == top) | (xp.isnan(read) & xp.isnan(top)), lanes.dtype)
    count = backend.scatter_add(xp.zeros(tops.shape, dtype=lanes.dtype), runs, hit)
    return hit / count[runs]


def reduceat_rows(indices: Any, n: int) -> Any:
    """The positions ``ufunc.reduceat(x, indices)`` reads along an axis of length ``n``,
    one row per result, padded with ``n`` (a row of ones put after the array's end):
    a reduction along the rows of ``x[rows]`` gives the reduceat's results."""
    sources, runs = _reduceat_runs(indices, n)
    starts = np.searchsorted(runs, np.arange(runs[-1] + 1 if runs.size else 0))
    place = np.arange(runs.size) - starts[runs]
    rows = np.full((starts.size, int(place.max(initial=-1)) + 1), n, dtype=np.intp)
    rows[runs, place] = sources
    return rows


def reduceat_grad(g: Any, ans: Any, array: Any, indices: Any, axis: int = 0,
                  extreme: bool = False) -> Any:  # fmt: skip
    """Gradient of ``np.add.reduceat(array, indices, axis)`` (``extreme``: of
    ``np.maximum.reduceat`` and its kin, whose result's gradient goes to the entries
    attaining it, shared evenly at ties as ``np.max``'s): each result's gradient goes to
    the entries it reduced. Linear in ``g``."""
    array = array_module(ans, array).asarray(array)
    xp = array_module(ans, array)
    axis = axis % array.ndim
    sources, runs = (i if xp is np else xp.asarray(i)
                     for i in _reduceat_runs(indices, array.shape[axis]))  # fmt: skip
    lanes, tops = xp.moveaxis(array, axis, 0), xp.moveaxis(ans, axis, 0)
    share = _reduceat_shares(xp, lanes, tops, sources, runs, extreme)
    read = xp.moveaxis(xp.asarray(g), axis, 0)[runs]
    d = xp.zeros(lanes.shape, dtype=_dtype(g, array))
    d = backend.scatter_add(d, sources, read if share is None else read * share)
    return xp.moveaxis(d, 0, axis)


def reduceat_tangent(d: Any, ans: Any, array: Any, indices: Any, axis: int = 0,
                     extreme: bool = False) -> Any:  # fmt: skip
    """Tangent of ``np.add.reduceat`` (``extreme``: of ``np.maximum.reduceat`` and its
    kin) along a tangent ``d`` of ``array``: the transpose of ``reduceat_grad``."""
    array = array_module(ans, array).asarray(array)
    xp = array_module(ans, array)
    axis = axis % array.ndim
    sources, runs = (i if xp is np else xp.asarray(i)
                     for i in _reduceat_runs(indices, array.shape[axis]))  # fmt: skip
    lanes, tops = xp.moveaxis(array, axis, 0), xp.moveaxis(ans, axis, 0)
    share = _reduceat_shares(xp, lanes, tops, sources, runs, extreme)
    read = xp.moveaxis(xp.broadcast_to(xp.asarray(d), array.shape), axis, 0)[sources]
    total = xp.zeros(tops.shape, dtype=read.dtype)
    total = backend.scatter_add(total, runs, read if share is None else read * share)
    return xp.moveaxis(total, 0, axis)


# ---- histograms ----------------------------------------------------------------------------


def _binned_total(found: Any, weights: Any, dtype: Any) -> Any:
    """The number of samples in some bin (``found >= 0``), or their weights' sum."""
    xp = array_module(found)
    inside = found >= 0
    if weights is None:
        return xp.sum(backend.astype(inside, dtype))
    return xp.sum(xp.where(inside, xp.reshape(xp.asarray(weights), (-1,)), 0.0))


def _histogram_parts(a: Any, bins: Any, range: Any, ans: Any) -> tuple:
    """For ``np.histogram(a, bins, range)`` giving ``ans``: the bin of each entry of ``a``
    (flattened; -1 outside the edges, as NumPy counts them: each bin holds its left edge,
    the last its right one too), the number of bins, and where the edges come from:
    ``"bins"`` (given), ``"range"`` (spaced evenly over it), ``"data"`` (over
    ``a``'s extremes) or ``"none"`` (no data: fixed). Bins NumPy works out from the data by
    name are refused."""
    if isinstance(bins, str):
        raise refuse(
            f"the derivative of np.histogram with bins={bins!r} (edges worked out from the "
            "data by a rule of thumb)",
            "give the number of bins, or the edges (np.histogram_bin_edges, then bins=edges)",
        )
    xp = array_module(ans[1])
    edges = ans[1]
    n = int(_shape(edges)[0]) - 1
    values = xp.reshape(xp.asarray(a), (-1,))
    found = xp.searchsorted(edges, values, side="right") - 1
    found = xp.where(values == edges[-1], n - 1, found)
    inside = (values >= edges[0]) & (values <= edges[-1])
    source = "bins" if np.ndim(_host(bins)) else ("data" if range is None else "range")
    if source == "data" and not values.shape[0]:  # no samples: NumPy's edges span (0, 1)
        source = "none"
    return xp.where(inside, found, -1), n, source


def _cast_to(d: Any, x: Any) -> Any:
    """A gradient in the dtype of its float array argument ``x`` (NumPy computes a density
    in float64 whatever the data's)."""
    dtype = getattr(x, "dtype", None)
    return backend.astype(d, dtype) if dtype is not None and dtype.kind == "f" else d


def histogram_grads(g: Any, ans: Any, a: Any, bins: Any = 10, range: Any = None,
                    density: Any = None, weights: Any = None) -> tuple:  # fmt: skip
    """Gradients of ``a``, ``bins``, ``range`` and ``weights`` of ``(hist, edges) =
    np.histogram(...)``. Which bin an entry falls in is constant almost everywhere, so
    ``a`` moves the result only through edges spaced over its extremes; the weights add
    up in their bins (``density``: ``hist = n / (widths * n.sum())``, moving with ``n``
    and with the widths)."""
    from .contractions import result_grads

    gh, ge = result_grads(g, ans)
    xp = array_module(ans[1])
    hist, edges = ans
    found, n, source = _histogram_parts(a, bins, range, ans)
    widths = edges[1:] - edges[:-1]
    if density:  # hist = n / (widths * n.sum()), n the weights (or ones) in each bin
        n_sum = _binned_total(found, weights, edges.dtype)
        d_n = (gh / widths - xp.sum(gh * hist)) / n_sum
        d_widths = -gh * hist / widths
        zero = xp.zeros(1, dtype=edges.dtype)
        ge = ge + xp.concatenate([zero, d_widths]) - xp.concatenate([d_widths, zero])
    else:
        d_n = gh
    d_weights = None
    if weights is not None:
        d_n = xp.asarray(d_n, dtype=edges.dtype)
        picked = xp.where(found >= 0, d_n[xp.where(found >= 0, found, 0)], 0.0)
        d_weights = _cast_to(xp.reshape(picked, _shape_of(weights)), weights)
    k = xp.arange(n + 1, dtype=edges.dtype) / n
    d_first, d_last = xp.sum(ge * (1 - k)), xp.sum(ge * k)
    d_a = zeros_like(xp.asarray(a))  # (edges given or over a range: the data moves none)
    d_bins = d_range = None
    if source == "bins":
        d_bins = _cast_to(xp.reshape(ge, _shape_of(bins)), bins)
    elif source == "range":
        d_range = (d_first, d_last)
    elif source == "data":
        values = xp.asarray(a)
        d_a = _cast_to(
            extreme_grad(d_first, xp.min(values), values)
            + extreme_grad(d_last, xp.max(values), values),
            values,
        )
    return d_a, d_bins, d_range, d_weights


def histogram_tangent(ans: Any, a: Any, bins: Any, range: Any, density: Any, weights: Any,
                      part: int, da: Any = None, dbins: Any = None, drange: Any = None,
                      dweights: Any = None) -> Any:  # fmt: skip
    """The tangent of ``hist`` (``part`` 0) or of ``edges`` (1) of ``(hist, edges) =
    np.histogram(...)`` along those of ``a``, ``bins``, ``range`` and ``weights`` (None:
    none): the transpose of ``histogram_grads``."""
    xp = array_module(ans[1])
    hist, edges = ans
    found, n, source = _histogram_parts(a, bins, range, ans)
    k = xp.arange(n + 1, dtype=edges.dtype) / n
    de = xp.zeros_like(edges)
    if source == "bins" and dbins is not None:
        de = xp.reshape(xp.asarray(dbins, dtype=edges.dtype), (-1,))
    elif source == "range" and drange is not None:
        de = drange[0] * (1 - k) + drange[1] * k
    elif source == "data" and da is not None:
        values = xp.asarray(a)
        one = xp.ones((), dtype=edges.dtype)
        low = xp.sum(extreme_grad(one, xp.min(values), values) * da)
        high = xp.sum(extreme_grad(one, xp.max(values), values) * da)
        de = low * (1 - k) + high * k
    dn = xp.zeros(n, dtype=edges.dtype)
    if weights is not None and dweights is not None:
        moved = xp.reshape(xp.broadcast_to(xp.asarray(dweights), _shape_of(weights)), (-1,))
        inside = found >= 0
        dn = backend.scatter_add(dn, found[inside], moved[inside])
    if part == 1:
        return de
    if not density:
        return dn if weights is not None else xp.zeros(hist.shape, dtype=hist.dtype)
    widths = edges[1:] - edges[:-1]
    n_sum = _binned_total(found, weights, edges.dtype)
    dwidths = de[1:] - de[:-1]
    return dn / (widths * n_sum) - hist * (xp.sum(dn) / n_sum + dwidths / widths)


def _histogram2d_parts(x: Any, y: Any, bins: Any, range: Any, ans: Any) -> tuple:
    """For ``(hist, xedges, yedges) = np.histogram2d(x, y, bins, range)``: each axis's
    ``(values, bins, bin of each entry, number of bins, source)`` as ``_histogram_parts``
    gives them, and the flat bin of each sample (-1 outside either axis's edges)."""
    try:
        each = len(bins) == 2
    except TypeError:  # a number of bins for both axes
        each = False
    per_bins = [bins[0], bins[1]] if each else [bins, bins]
    per_range = [None, None] if range is None else [range[0], range[1]]
    axes = []
    for values, b, r, edges in zip((x, y), per_bins, per_range, ans[1:], strict=True):
        found, n, source = _histogram_parts(values, b, r, (None, edges))
        axes.append((values, b, found, n, source))
    fx, fy = axes[0][2], axes[1][2]
    xp = array_module(ans[1])
    return axes, xp.where((fx >= 0) & (fy >= 0), fx * axes[1][3] + fy, -1), each


def _edges_grads(ge: Any, axis: tuple) -> tuple:
    """The gradients of an axis's values, bins and range given its edges' ``ge`` (see
    ``histogram_grads``)."""
    values, b, _, n, source = axis
    xp = array_module(ge)
    k = xp.arange(n + 1, dtype=ge.dtype) / n
    d_first, d_last = xp.sum(ge * (1 - k)), xp.sum(ge * k)
    v = xp.asarray(values)
    if source == "bins":  # (edges given or over a range: the samples move none)
        return zeros_like(v), _cast_to(xp.reshape(ge, _shape_of(b)), b), None
    if source == "range":
        return zeros_like(v), None, (d_first, d_last)
    if source == "none":
        return zeros_like(v), None, None
    return (
        _cast_to(extreme_grad(d_first, xp.min(v), v) + extreme_grad(d_last, xp.max(v), v), v),
        None,
        None,
    )


def histogram2d_grads(g: Any, ans: Any, x: Any, y: Any, bins: Any = 10, range: Any = None,
                      density: Any = None, weights: Any = None) -> tuple:  # fmt: skip
    """Gradients of ``x``, ``y``, ``bins``, ``range`` and ``weights`` of ``(hist, xedges,
    yedges) = np.histogram2d(...)``, as ``histogram_grads`` gives np.histogram's: which
    bin a sample falls in is constant almost everywhere, so the samples move the result
    only through edges spaced over their extremes; the weights add up in their bins
    (``density``: ``hist = c / (c.sum() * dx dy)``, moving with ``c`` and the widths)."""
    from .contractions import result_grads

    gh, gx, gy = result_grads(g, ans)
    xp = array_module(ans[1])
    hist, xedges, yedges = ans
    axes, found, each = _histogram2d_parts(x, y, bins, range, ans)
    if density:
        area = (xedges[1:] - xedges[:-1])[:, None] * (yedges[1:] - yedges[:-1])[None, :]
        total = _binned_total(found, weights, xedges.dtype)
        d_c = (gh / area - xp.sum(gh * hist)) / total
        d_area = -gh * hist / area
        d_wx = xp.sum(d_area * (yedges[1:] - yedges[:-1])[None, :], axis=1)
        d_wy = xp.sum(d_area * (xedges[1:] - xedges[:-1])[:, None], axis=0)
        zero = xp.zeros(1, dtype=xedges.dtype)
        gx = gx + xp.concatenate([zero, d_wx]) - xp.concatenate([d_wx, zero])
        gy = gy + xp.concatenate([zero, d_wy]) - xp.concatenate([d_wy, zero])
    else:
        d_c = gh
    d_weights = None
    if weights is not None:
        flat = xp.reshape(xp.asarray(d_c, dtype=xedges.dtype), (-1,))
        picked = xp.where(found >= 0, flat[xp.where(found >= 0, found, 0)], 0.0)
        d_weights = _cast_to(xp.reshape(picked, _shape_of(weights)), weights)
    d_x, d_xbins, d_xrange = _edges_grads(gx, axes[0])
    d_y, d_ybins, d_yrange = _edges_grads(gy, axes[1])
    if each:
        d_bins = None if d_xbins is None and d_ybins is None else [d_xbins, d_ybins]
    else:  # one number, or one array of edges for both axes
        d_bins = None if d_xbins is None else d_xbins + d_ybins
    d_range = None
    if range is not None and _is_array(range):
        d_range = _cast_to(xp.stack([xp.stack(list(d)) for d in (d_xrange, d_yrange)]), range)
    elif range is not None:
        d_range = [d_xrange, d_yrange]
    return d_x, d_y, d_bins, d_range, d_weights


def histogram2d_tangent(ans: Any, x: Any, y: Any, bins: Any, range: Any, density: Any,
                        weights: Any, part: int, dx: Any = None, dy: Any = None,
                        dbins: Any = None, drange: Any = None,
                        dweights: Any = None) -> Any:  # fmt: skip
    """The tangent of ``hist`` (``part`` 0), ``xedges`` (1) or ``yedges`` (2) of
    ``np.histogram2d(...)`` along those of its arguments (None: none): the transpose of
    ``histogram2d_grads``."""
    xp = array_module(ans[1])
    hist, xedges, yedges = ans
    axes, found, each = _histogram2d_parts(x, y, bins, range, ans)
    moved = []
    for i, (values, _, _, n, source) in enumerate(axes):
        edges = ans[1 + i]
        k = xp.arange(n + 1, dtype=edges.dtype) / n
        de = xp.zeros_like(edges)
        d_values = (dx, dy)[i]
        if source == "bins" and dbins is not None:
            de = xp.reshape(xp.asarray(dbins[i] if each else dbins, dtype=edges.dtype), (-1,))
        elif source == "range" and drange is not None:
            de = drange[i][0] * (1 - k) + drange[i][1] * k
        elif source == "data" and d_values is not None:
            v = xp.asarray(values)
            one = xp.ones((), dtype=edges.dtype)
            low = xp.sum(extreme_grad(one, xp.min(v), v) * d_values)
            high = xp.sum(extreme_grad(one, xp.max(v), v) * d_values)
            de = low * (1 - k) + high * k
        moved.append(de)
    if part:
        return moved[part - 1]
    dc = xp.zeros(hist.size, dtype=xedges.dtype)
    if weights is not None and dweights is not None:
        dw = xp.reshape(xp.broadcast_to(xp.asarray(dweights), _shape_of(weights)), (-1,))
        dc = backend.scatter_add(dc, found[found >= 0], dw[found >= 0])
    dc = xp.reshape(dc, hist.shape)
    if not density:
        return dc
    wx, wy = xedges[1:] - xedges[:-1], yedges[1:] - yedges[:-1]
    total = _binned_total(found, weights, xedges.dtype)
    dwx, dwy = moved[0][1:] - moved[0][:-1], moved[1][1:] - moved[1][:-1]
    return dc / (total * wx[:, None] * wy[None, :]) - hist * (
        xp.sum(dc) / total + (dwx / wx)[:, None] + (dwy / wy)[None, :]
    )


def plain_nan_reduction(name: str, initial: Any = None, where: Any = None) -> None:
    """Refuse ``initial=`` and ``where=`` in a NaN-skipping reduction whose rule does not
    follow them (``np.nanprod``)."""
    if initial is not None or where is not None:
        raise refuse(
            f"the derivative of np.{name} with initial= or where=",
            f"drop them: multiply by the initial value, or np.{name} of np.where(where, a, np.nan)",
        )
