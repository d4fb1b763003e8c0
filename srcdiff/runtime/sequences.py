"""Helpers of the rules in ``rules/sequences.py`` (differences, cumulative products,
numerical derivatives and integrals, interpolation, convolutions, polynomials) and of the
special functions in ``rules/elementwise.py``; generated code calls them as ``rt.<name>``.

Each computes with the array module of its inputs and returns every gradient in the
dtype of its argument, so float32 stays float32. ``digamma``, ``trigamma`` and
``tetragamma`` are srcdiff's own (SciPy is optional).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from ..backend import array_module
from .arrays import _is_array, _prod_lanes, acc, cast_like, reshape_like, unbroadcast, zeros_like
from .mutation import refuse


def _concat(xp: Any) -> Any:
    return getattr(xp, backend.counterpart(xp, "concatenate"))


def _shape(x: Any) -> tuple[int, ...]:
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


# ---- special functions --------------------------------------------------------------------

# psi(z) ~ log(z) - 1 / (2 z) - sum_k B_2k / (2k z^2k): the coefficients B_2k / 2k, k = 1..7
_PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def digamma(x: Any) -> Any:
    """psi(x), the derivative of log Gamma(x), for real ``x`` (not 0 or a negative integer),
    to about 1e-15: reflected for x < 0 (``psi(x) = psi(1 - x) - pi / tan(pi x)``), moved
    up to x >= 10 by ``psi(x) = psi(x + 1) - 1 / x``, then the asymptotic series."""
    if not _is_array(x):
        return float(digamma(np.asarray(x, dtype=np.float64)))
    xp = array_module(x)
    negative = x < 0
    z = xp.where(negative, 1.0 - x, x)
    shift = xp.zeros_like(z)
    for _ in range(10):
        small = z < 10.0
        shift = shift - xp.where(small, 1.0 / xp.where(small, z, 1.0), 0.0)
        z = xp.where(small, z + 1.0, z)
    r = 1.0 / (z * z)
    series = 0.0
    for c in reversed(_PSI_SERIES):  # Horner's rule in 1 / z^2
        series = (series + c) * r
    psi = xp.log(z) - 0.5 / z - series + shift
    frac = xp.where(negative, x - xp.round(x), 0.5)  # tan has period pi: exact reduction
    return xp.where(negative, psi - xp.pi / xp.tan(xp.pi * frac), psi)


# The asymptotic series of psi'(z) ~ 1/z + 1/(2 z^2) + sum_k B_2k / z^(2k+1), and of its
# derivative psi''(z) ~ -1/z^2 - 1/z^3 - sum_k (2k+1) B_2k / z^(2k+2): B_2k, k = 1..7, and
# (2k+1) B_2k
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
_BERNOULLI_ODD = tuple((2 * k + 3) * b for k, b in enumerate(_BERNOULLI))


def _polygamma(order: int, x: Any) -> Any:
    """psi'(x) (``order`` 1) or psi''(x) (``order`` 2) for real ``x`` (not 0 or a negative
    integer), to about 1e-14: reflected for x < 0, moved up to x >= 10 by the recurrence
    ``psi^(n)(z) = psi^(n)(z + 1) - (-1)^n n! / z^(n+1)``, then the asymptotic series."""
    if not _is_array(x):
        return float(_polygamma(order, np.asarray(x, dtype=np.float64)))
    xp = array_module(x)
    negative = x < 0
    z = xp.where(negative, 1.0 - x, x)
    shift = xp.zeros_like(z)
    for _ in range(10):
        small = z < 10.0
        safe = xp.where(small, z, 1.0)
        step = 1.0 / (safe * safe) if order == 1 else -2.0 / (safe * safe * safe)
        shift = shift + xp.where(small, step, 0.0)
        z = xp.where(small, z + 1.0, z)
    r = 1.0 / (z * z)
    series = 0.0
    for c in reversed(_BERNOULLI if order == 1 else _BERNOULLI_ODD):  # Horner in 1 / z^2
        series = (series + c) * r
    if order == 1:
        value = 1.0 / z + 0.5 * r + series / z + shift
    else:
        value = -r - r / z - series * r + shift
    frac = xp.where(negative, x - xp.round(x), 0.5)  # sin^2 and cot have period pi
    sin2 = xp.sin(xp.pi * frac) ** 2
    if order == 1:  # psi'(x) + psi'(1 - x) = pi^2 / sin^2(pi x)
        return xp.where(negative, xp.pi**2 / sin2 - value, value)
    # psi''(x) - psi''(1 - x) = -2 pi^3 cot(pi x) / sin^2(pi x)
    return xp.where(negative, value - 2.0 * xp.pi**3 / (xp.tan(xp.pi * frac) * sin2), value)


def trigamma(x: Any) -> Any:
    """psi'(x), the derivative of ``digamma`` (SciPy's ``polygamma(1, x)``), in the dtype
    of ``x``."""
    return cast_like(_polygamma(1, x), x)


def tetragamma(x: Any) -> Any:
    """psi''(x), the derivative of ``trigamma`` (SciPy's ``polygamma(2, x)``), in the
    dtype of ``x``."""
    return cast_like(_polygamma(2, x), x)


def logsumexp_grads(
    g: Any,
    ans: Any,
    a: Any,
    axis: Any = None,
    b: Any = None,
    keepdims: bool = False,
    return_sign: bool = False,
) -> tuple[Any, Any]:
    """The gradients of ``a`` and ``b`` of ``scipy.special.logsumexp(a, axis, b, keepdims)``,
    ``log(sum(b * exp(a)))``: ``b * exp(a - ans)`` and ``exp(a - ans)`` times ``g``."""
    if return_sign:
        raise refuse(
            "scipy.special.logsumexp(..., return_sign=True) on a differentiated value",
            "differentiate it without return_sign (the sign has no gradient)",
        )
    xp = array_module(g, a, b)
    shape = _shape(a) if b is None else np.broadcast_shapes(_shape(a), _shape(b))
    weights = xp.exp(a - _kept(xp, ans, shape, axis, keepdims))
    share = _kept(xp, g, shape, axis, keepdims) * weights
    d_a = cast_like(unbroadcast(share if b is None else share * b, a), a)
    return d_a, None if b is None else cast_like(unbroadcast(share, b), b)


def _kept(xp: Any, g: Any, shape: tuple[int, ...], axis: Any, keepdims: bool) -> Any:
    """``g``, the reduction over ``axis`` of an array shaped ``shape``, with the reduced
    axes put back as 1s (it then broadcasts against that array)."""
    if keepdims:
        return g
    ndim = len(shape)
    axes = range(ndim) if axis is None else [axis] if isinstance(axis, int) else axis
    axes = {a % ndim for a in axes}
    return xp.reshape(xp.asarray(g), tuple(1 if i in axes else n for i, n in enumerate(shape)))


# ---- differences, cumulative products, derivatives, integrals ------------------------------


def diff_grads(
    g: Any, a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None
) -> tuple[Any, Any, Any]:
    """The gradients of ``a``, ``prepend`` and ``append`` of ``np.diff``: ``n`` times the
    adjoint of one difference (``d[i] = x[i + 1] - x[i]`` gives ``x`` the gradient
    ``[0, g] - [g, 0]``), then cut back into the pieces that were joined (a number
    ``prepend`` or ``append`` was one entry per lane, and gets their sum)."""
    xp = array_module(g, a)
    concat = _concat(xp)
    ndim = len(_shape(a))
    widths = [
        0 if e is None else 1 if len(_shape(e)) == 0 else _shape(e)[axis % ndim]
        for e in (prepend, append)
    ]
    joined = widths[0] + _shape(a)[axis] + widths[1]
    d = xp.moveaxis(g, axis, -1)
    if n >= joined:  # nothing left to difference: the result is empty
        d = xp.zeros((*d.shape[:-1], joined), dtype=d.dtype)
    for _ in range(n if n < joined else 0):
        zero = xp.zeros_like(d[..., :1])
        d = concat([zero, d], axis=-1) - concat([d, zero], axis=-1)
    start, stop = widths[0], joined - widths[1]
    d_a = cast_like(xp.moveaxis(d[..., start:stop], -1, axis), a)
    parts = []
    for e, part in ((prepend, d[..., :start]), (append, d[..., stop:])):
        if e is None:
            parts.append(None)
        elif len(_shape(e)) == 0:
            parts.append(cast_like(xp.sum(part), e))
        else:
            parts.append(cast_like(xp.moveaxis(part, -1, axis), e))
    return d_a, parts[0], parts[1]


def reverse_cumsum(g: Any, axis: Any = None) -> Any:
    """The sums of ``g`` from each entry to the last along ``axis`` (of ``g`` flattened,
    for None): ``np.cumsum``'s gradient. Linear in ``g``, whose adjoint is ``cumsum``."""
    xp = array_module(g)
    return xp.flip(xp.cumsum(xp.flip(g, axis=axis), axis=axis), axis=axis)


def cumprod_grad(g: Any, ans: Any, a: Any, axis: Any = None) -> Any:
    """The gradient of ``np.cumprod(a, axis)``, exact where entries are zero.

    Entry ``k`` of a lane gets ``sum over i >= k of g[i] * prod(a[j], j <= i, j != k)``:
    before the lane's first zero that is ``rcumsum(g * ans)[k] / a[k]``; at the first
    zero, ``rcumsum(g * cumprod(a with that zero made 1))[k]``; after it, 0 (each of its
    products holds the first zero).
    """
    if axis is None:  # cumprod of the flattened array (also of a 0-d one, kept 0-d)
        xp = array_module(g, a)
        flat = cumprod_grad(xp.reshape(g, (-1,)), xp.reshape(ans, (-1,)), xp.reshape(a, (-1,)), 0)
        return reshape_like(flat, a)
    xs = backend.standard(g, a)

    def rcumsum(t: Any) -> Any:
        return xs.flip(xs.cumulative_sum(xs.flip(t, axis=axis), axis=axis), axis=axis)

    total = rcumsum(g * ans)
    zero = a == 0
    if not xs.any(zero):
        return cast_like(total / a, a)
    seen = xs.cumulative_sum(xs.astype(zero, xs.int64), axis=axis)
    before = seen == 0
    first = zero & (seen == 1)
    d = total / xs.where(before, a, 1.0)  # from the first zero on, total is 0
    at_zero = rcumsum(g * xs.cumulative_prod(xs.where(first, 1.0, a), axis=axis))
    return cast_like(xs.where(first, at_zero, d), a)


def gradient_grads(
    g: Any, ans: Any, f: Any, varargs: tuple = (), axis: Any = None, edge_order: int = 1
) -> tuple[Any, tuple]:
    """The gradients of ``f`` and of each spacing of ``np.gradient(f, *varargs, ...)``. A
    scalar spacing ``h`` divides a fixed stencil of ``f`` (its result moves by
    ``-result / h``); coordinates ``x`` make each entry a signed sum of divided
    differences ``(f[hi] - f[lo]) / (x[hi] - x[lo])`` (``_bands``), NumPy's formula."""
    axes, grads, spacings = _gradient_parts(g, ans, f, varargs, axis, edge_order)
    results = [ans] if len(axes) == 1 else list(ans)
    xp = array_module(f, *(gk for gk in grads if gk is not None))
    d_f, d_h = None, []
    for gk, r, ax, h in zip(grads, results, axes, spacings, strict=True):
        if gk is None:
            d_h.append(None)
        elif len(_shape(h)) == 0:  # uniform: the unit stencil over h
            d_f = acc(d_f, _stencil_transpose(gk / h, ax, edge_order))
            d_h.append(-xp.sum(gk * r) / h)
        else:
            x = _coordinates(h, xp)
            gm = xp.moveaxis(gk, ax, -1)
            fm = xp.moveaxis(xp.asarray(f), ax, -1)
            dfm, dx = xp.zeros(gm.shape, dtype=gm.dtype), xp.zeros_like(x)
            for out, lo, hi, sign in _bands(x.shape[0], edge_order):
                step = x[hi] - x[lo]
                w = sign * gm[..., out] / step
                dfm[..., hi] += w
                dfm[..., lo] -= w
                dstep = -_lead_sum(w * (fm[..., hi] - fm[..., lo]), xp) / step
                dx[hi] += dstep
                dx[lo] -= dstep
            d_f = acc(d_f, xp.moveaxis(dfm, -1, ax))
            d_h.append(dx)
    d_f = zeros_like(f) if d_f is None else cast_like(d_f, f)
    return d_f, _spacing_grads(d_h, varargs, f)


def gradient_spacing_tangent(
    f: Any, varargs: tuple, dvarargs: tuple, axis: Any = None, edge_order: int = 1
) -> Any:
    """The tangent of ``np.gradient(f, *varargs, ...)`` along the tangents ``dvarargs`` of
    its spacings (None: none), ``f`` held: ``-stencil(f) * dh / h ** 2`` for a scalar
    ``h``; for coordinates, each divided difference ``q / s`` moves by ``-q * ds / s ** 2``.
    Several results: stacked in one array, so that it adds to the list of the samples'."""
    axes = _gradient_axes(axis, len(_shape(f)), edge_order, varargs)
    spacings = _spacings(varargs, len(axes))
    tangents = _spacings(dvarargs, len(axes))
    xp = array_module(f)
    fa = xp.asarray(f)
    parts = []
    for ax, h, dh in zip(axes, spacings, tangents, strict=True):
        if dh is None:
            parts.append(xp.zeros_like(fa))
        elif len(_shape(h)) == 0:
            unit = xp.gradient(fa, axis=ax, edge_order=edge_order)
            parts.append(-unit * (dh / (h * h)))
        else:
            x, e = _coordinates(h, xp), xp.asarray(dh)
            fm = xp.moveaxis(fa, ax, -1)
            t = xp.zeros(fm.shape, dtype=xp.result_type(fm, x))
            for out, lo, hi, sign in _bands(x.shape[0], edge_order):
                step = x[hi] - x[lo]
                t[..., out] -= sign * (fm[..., hi] - fm[..., lo]) * (e[hi] - e[lo]) / (step * step)
            parts.append(xp.moveaxis(t, -1, ax))
    parts = [cast_like(t, fa) for t in parts]
    return parts[0] if len(parts) == 1 else xp.stack(parts)


def gradient_samples_tangent(df: Any, varargs: tuple, axis: Any = None, edge_order: int = 1) -> Any:
    """``np.gradient(df, *varargs, ...)``, several results stacked in one array (as
    ``gradient_spacing_tangent``'s, which it is added to)."""
    xp = array_module(df)
    out = xp.gradient(df, *varargs, axis=axis, edge_order=edge_order)
    return xp.stack(out) if isinstance(out, (list, tuple)) else out


def gradient_samples_tangent_grads(
    g: Any, ans: Any, df: Any, varargs: tuple, axis: Any = None, edge_order: int = 1
) -> tuple[Any, tuple]:
    """The gradients of ``df`` and the spacings of ``gradient_samples_tangent``: those of
    ``np.gradient`` (``gradient_grads``), its stacked results read as the list."""
    several = len(_gradient_axes(axis, len(_shape(df)), edge_order, varargs)) > 1
    results = [ans[k] for k in range(len(ans))] if several else ans
    return gradient_grads(g, results, df, varargs, axis, edge_order)


def gradient_spacing_tangent_grads(
    g: Any, f: Any, varargs: tuple, dvarargs: tuple, axis: Any = None, edge_order: int = 1
) -> tuple[Any, tuple, tuple]:
    """The gradients of ``f``, the spacings and their tangents of
    ``gradient_spacing_tangent``: linear in ``f`` and in the tangents; a term
    ``-q * ds / s ** 2`` gives the step ``s`` ``2 * q * ds / s ** 3``."""
    axes = _gradient_axes(axis, len(_shape(f)), edge_order, varargs)
    spacings = _spacings(varargs, len(axes))
    tangents = _spacings(dvarargs, len(axes))
    xp = array_module(g, f)
    fa = xp.asarray(f)
    grads = [g] if len(axes) == 1 else [g[k] for k in range(len(axes))]
    d_f, d_h, d_dh = None, [], []
    for gk, ax, h, dh in zip(grads, axes, spacings, tangents, strict=True):
        if dh is None:
            d_h.append(None)
            d_dh.append(None)
        elif len(_shape(h)) == 0:
            unit = xp.gradient(fa, axis=ax, edge_order=edge_order)
            d_f = acc(d_f, _stencil_transpose(-gk * (dh / (h * h)), ax, edge_order))
            d_h.append(2.0 * dh * xp.sum(gk * unit) / (h * h * h))
            d_dh.append(-xp.sum(gk * unit) / (h * h))
        else:
            x, e = _coordinates(h, xp), xp.asarray(dh)
            gm, fm = xp.moveaxis(gk, ax, -1), xp.moveaxis(fa, ax, -1)
            dfm, dx, de = xp.zeros(gm.shape, dtype=gm.dtype), xp.zeros_like(x), xp.zeros_like(x)
            for out, lo, hi, sign in _bands(x.shape[0], edge_order):
                step, de_step = x[hi] - x[lo], e[hi] - e[lo]
                q = fm[..., hi] - fm[..., lo]
                w = sign * gm[..., out] / (step * step)
                dfm[..., hi] -= w * de_step
                dfm[..., lo] += w * de_step
                gq = _lead_sum(w * q, xp)
                dx[hi] += 2.0 * gq * de_step / step
                dx[lo] -= 2.0 * gq * de_step / step
                de[hi] -= gq
                de[lo] += gq
            d_f = acc(d_f, xp.moveaxis(dfm, -1, ax))
            d_h.append(dx)
            d_dh.append(de)
    d_f = zeros_like(f) if d_f is None else cast_like(d_f, f)
    return d_f, _spacing_grads(d_h, varargs, f), _spacing_grads(d_dh, dvarargs, f)


def _gradient_parts(
    g: Any, ans: Any, f: Any, varargs: tuple, axis: Any, edge_order: Any
) -> tuple[tuple[int, ...], list, list]:
    """The axes, the gradient of each result (None: none) and the spacing of each axis."""
    axes = _gradient_axes(axis, len(_shape(f)), edge_order, varargs)
    if isinstance(ans, (list, tuple)) != (len(axes) > 1):
        raise _misread(axis, edge_order)
    if len(axes) == 1:
        grads = [g]
    elif isinstance(g, (list, tuple)):
        grads = list(g)
    else:  # an array: the gradient of the results stacked (np.asarray(ans), np.sum(ans))
        xp = array_module(g, f)
        grads = list(xp.broadcast_to(g, (len(axes), *_shape(f))))
    return axes, grads, _spacings(varargs, len(axes))


def _spacings(varargs: tuple, n: int) -> list:
    """The spacing of each of ``n`` axes as NumPy reads ``varargs``: none (1.0), one
    scalar for all, or one each (a scalar or the coordinates of the samples)."""
    if not varargs:
        return [1.0] * n
    if len(varargs) == n:
        return list(varargs)
    if len(varargs) == 1 and (varargs[0] is None or len(_shape(varargs[0])) == 0):
        return list(varargs) * n
    raise TypeError(f"np.gradient takes 0, 1 or {n} spacings, not {len(varargs)}")


def _spacing_grads(d_h: list, varargs: tuple, f: Any) -> tuple:
    """The gradient of each given spacing (one shared by all axes adds theirs up), in its
    type: a float for a number, an array of its dtype for an array."""
    if not varargs:
        return ()
    if len(varargs) == 1 and len(d_h) > 1:
        given = [d for d in d_h if d is not None]
        d_h = [None if not given else sum(given[1:], given[0])]
    out = []
    for d, h in zip(d_h, varargs, strict=True):
        if d is None or h is None:
            out.append(None if h is None else zeros_like(h))
        elif isinstance(h, (int, float)):
            out.append(float(d))
        else:
            out.append(cast_like(array_module(d, f).asarray(d), h))
    return tuple(out)


def _coordinates(h: Any, xp: Any) -> Any:
    """Sample coordinates as NumPy computes with them: integers as float64."""
    x = xp.asarray(h)
    return x if x.dtype.kind in "fc" else x.astype(xp.float64)


def _lead_sum(a: Any, xp: Any) -> Any:
    """``a`` summed over all its axes but the last."""
    return xp.sum(a, axis=tuple(range(a.ndim - 1))) if a.ndim > 1 else a


def _bands(n: int, edge_order: int) -> list[tuple[slice, slice, slice, float]]:
    """np.gradient's stencil along ``n`` samples at coordinates ``x`` as signed divided
    differences ``(f[hi] - f[lo]) / (x[hi] - x[lo])`` added into ``out``: (out, lo, hi,
    sign) slices. Inside, ``d(i-1, i) + d(i, i+1) - d(i-1, i+1)``; at the ends ``d(0, 1)``
    (edge_order 1) or ``d(0, 1) - d(1, 2) + d(0, 2)`` (2), and their mirror images."""
    s, m = slice, n - 1
    bands = [(s(1, m), s(0, m - 1), s(1, m), 1.0), (s(1, m), s(1, m), s(2, n), 1.0),
             (s(1, m), s(0, m - 1), s(2, n), -1.0)]  # fmt: skip
    first, last = s(0, 1), s(m, n)
    if edge_order == 1:
        return bands + [(first, s(0, 1), s(1, 2), 1.0), (last, s(m - 1, m), s(m, n), 1.0)]
    return bands + [
        (first, s(0, 1), s(1, 2), 1.0), (first, s(1, 2), s(2, 3), -1.0),
        (first, s(0, 1), s(2, 3), 1.0), (last, s(m - 2, m - 1), s(m - 1, m), -1.0),
        (last, s(m - 1, m), s(m, n), 1.0), (last, s(m - 2, m - 1), s(m, n), 1.0),
    ]  # fmt: skip


def _gradient_axes(axis: Any, ndim: int, edge_order: Any, varargs: tuple) -> tuple[int, ...]:
    if axis is None:
        axes: Any = tuple(range(ndim))
    elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axes = (axis,)
    elif isinstance(axis, tuple) and all(isinstance(a, (int, np.integer)) for a in axis):
        axes = axis
    else:
        raise _misread(axis, edge_order)
    if edge_order not in (1, 2) or not all(-ndim <= a < ndim for a in axes):
        raise _misread(axis, edge_order)
    return tuple(int(a) % ndim for a in axes)


def _misread(axis: Any, edge_order: Any) -> Exception:
    return refuse(
        f"np.gradient's rule was given axis={axis!r}, edge_order={edge_order!r}, which "
        "np.gradient does not take",
        "give the axis as an int (or a tuple of them) and edge_order as 1 or 2",
    )


def _stencil_transpose(d: Any, axis: int, edge_order: int) -> Any:
    """The transpose of ``np.gradient``'s stencil with unit spacing along ``axis``,
    applied to ``d``."""
    xp = array_module(d)
    d = xp.moveaxis(d, axis, -1)
    out = xp.zeros_like(d)
    half = d[..., 1:-1] / 2.0  # inside: (f[i + 1] - f[i - 1]) / 2
    out[..., 2:] = out[..., 2:] + half
    out[..., :-2] = out[..., :-2] - half
    first, last = d[..., 0], d[..., -1]
    if edge_order == 1:  # f[1] - f[0] and f[-1] - f[-2]
        ends = ((0, -1.0, first), (1, 1.0, first), (-1, 1.0, last), (-2, -1.0, last))
    else:  # (-3 f[0] + 4 f[1] - f[2]) / 2 and (3 f[-1] - 4 f[-2] + f[-3]) / 2
        ends = ((0, -1.5, first), (1, 2.0, first), (2, -0.5, first),
                (-1, 1.5, last), (-2, -2.0, last), (-3, 0.5, last))  # fmt: skip
    for k, c, e in ends:
        out[..., k] = out[..., k] + c * e
    return xp.moveaxis(out, -1, axis)


trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy 2's name, or NumPy 1's


def trapezoid_grads(
    g: Any, y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1
) -> tuple[Any, Any, Any]:
    """The gradients of ``y``, ``x`` and ``dx`` of ``np.trapezoid(y, x, dx, axis)``,
    ``sum(w * (y[1:] + y[:-1]) / 2)`` along ``axis`` with widths ``w = diff(x)`` (or
    ``dx``)."""
    xp = array_module(g, y, x)
    concat = _concat(xp)
    ys = xp.moveaxis(y, axis, -1)
    gk = g[..., None] if hasattr(g, "shape") else xp.asarray(g)[None]
    mids = (ys[..., 1:] + ys[..., :-1]) / 2.0
    if x is None:
        widths = dx
    elif len(_shape(x)) == 1:
        widths = x[1:] - x[:-1]
    else:
        xs = xp.moveaxis(x, axis, -1)
        widths = xs[..., 1:] - xs[..., :-1]
    to_y = gk * widths / 2.0
    to_y = xp.broadcast_to(to_y, np.broadcast_shapes(_shape(to_y), _shape(mids)))
    # one entry fewer than samples (none of none): to_y[..., :1] is empty for one sample
    edge = (min(ys.shape[-1], 1),)
    zero = xp.zeros(to_y.shape[:-1] + edge, to_y.dtype)
    d_y = concat([to_y, zero], axis=-1) + concat([zero, to_y], axis=-1)
    d_y = cast_like(unbroadcast(xp.moveaxis(d_y, -1, axis), y), y)
    to_widths = gk * mids
    if x is None:
        return d_y, None, cast_like(unbroadcast(xp.sum(to_widths), dx), dx)
    if len(_shape(x)) == 1:
        to_widths = xp.sum(to_widths, axis=tuple(range(to_widths.ndim - 1)))
    zero = xp.zeros(to_widths.shape[:-1] + edge, to_widths.dtype)
    d_x = concat([zero, to_widths], axis=-1) - concat([to_widths, zero], axis=-1)
    if len(_shape(x)) > 1:
        d_x = unbroadcast(xp.moveaxis(d_x, -1, axis), x)
    return d_y, cast_like(d_x, x), dx * 0.0  # (``dx``, unused beside ``x``: a zero, which
    # a gradient summed with another's, in reverse mode over forward mode, can be added to)


# ---- interpolation, convolutions, polynomials --------------------------------------------


def interp_grads(
    g: Any, x: Any, xp_: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None
) -> tuple[Any, Any, Any, Any, Any, Any]:
    """The gradients of ``x``, ``xp``, ``fp``, ``left`` and ``right`` of ``np.interp``.

    Inside ``[xp[0], xp[-1]]`` the result is ``fp[i] + s * (x - xp[i])`` on the interval
    ``i`` holding ``x``, with slope ``s``: ``x`` gets ``s``, ``fp[i]`` and ``fp[i + 1]``
    get ``1 - t`` and ``t`` (``t`` the position of ``x`` in the interval), ``xp[i]`` and
    ``xp[i + 1]`` get ``s * (t - 1)`` and ``-s * t``. Outside, the result is ``left`` or
    ``right`` (by default ``fp[0]`` or ``fp[-1]``), which gets the gradient. With
    ``period``, NumPy's wrapping of ``x`` and ``xp`` (``x - n * period``) and its padding
    (a point ``period`` before the first and after the last) are followed back, to
    ``period`` too.
    """
    xp = array_module(g, x, xp_, fp)
    concat = _concat(xp)
    if backend.dtype_kind(xp.asarray(fp)) == "c":
        raise refuse("np.interp of complex values", "interpolate the real and imaginary parts")
    pts, vals = xp.asarray(xp_), xp.asarray(fp)
    at = xp.asarray(x)
    if period is not None:  # as NumPy: wrap, sort, and pad one point on either side
        sign, period = xp.sign(period), abs(period)
        wraps = [xp.round((v - v % period) / period) for v in (at, pts)]  # the n of each
        at, pts = at % period, pts % period
        order = xp.argsort(pts)
        pts, vals = pts[order], vals[order]
        pts = concat([pts[-1:] - period, pts, pts[:1] + period])
        vals = concat([vals[-1:], vals, vals[:1]])
        left = right = None
    n = pts.shape[0]
    gs = xp.broadcast_to(xp.asarray(g), at.shape)
    below, above = at < pts[0], at > pts[-1]
    inside = xp.where(below | above, 0.0, gs)
    if n > 1:
        i = xp.clip(xp.searchsorted(pts, at, side="right") - 1, 0, n - 2)
        width = pts[i + 1] - pts[i]
        t = (at - pts[i]) / width
        slope = (vals[i + 1] - vals[i]) / width
        d_x = inside * slope
        d_vals = _scatter(xp, i, inside * (1.0 - t), n) + _scatter(xp, i + 1, inside * t, n)
        d_pts = _scatter(xp, i, inside * slope * (t - 1.0), n) - _scatter(
            xp, i + 1, inside * slope * t, n
        )
    else:  # one point: the result is fp[0] there
        d_x = xp.zeros_like(inside)
        d_vals = xp.reshape(xp.sum(inside), (1,))
        d_pts = xp.zeros_like(d_vals)
    to_left, to_right = xp.sum(xp.where(below, gs, 0.0)), xp.sum(xp.where(above, gs, 0.0))
    d_left = d_right = None
    if left is None:
        d_vals = d_vals + _scatter(xp, xp.asarray([0]), xp.reshape(to_left, (1,)), n)
    else:
        d_left = cast_like(to_left, left)
    if right is None:
        d_vals = d_vals + _scatter(xp, xp.asarray([n - 1]), xp.reshape(to_right, (1,)), n)
    else:
        d_right = cast_like(to_right, right)
    d_period = None
    if period is not None:  # back through the padding, the sort and the wrap
        padding = d_pts[-1] - d_pts[0]  # the padded points are the ends -+ period
        d_vals, d_pts = (_unwrap(xp, d, order) for d in (d_vals, d_pts))
        to_period = padding - xp.sum(d_x * wraps[0]) - xp.sum(d_pts * wraps[1])
        d_period = cast_like(sign * to_period, period)
    d_x = cast_like(reshape_like(d_x, x), x)
    return d_x, cast_like(d_pts, xp_), cast_like(d_vals, fp), d_left, d_right, d_period


interp = np.interp  # for forward rules, whose parameter ``xp`` hides the array module


def _interp_table(x: Any, xp_: Any, fp: Any, period: Any) -> tuple:
    """The points ``np.interp`` interpolates between, as it makes them: with ``period``,
    ``x`` and ``xp`` wrapped, ``xp`` sorted and padded by a point on either side. Also the
    sort's order, the number of periods each was moved by, and the period's sign."""
    xp = array_module(x, xp_, fp)
    pts, vals, at = xp.asarray(xp_), xp.asarray(fp), xp.asarray(x)
    if period is None:
        return xp, at, pts, vals, None, None, None
    concat = _concat(xp)
    sign, period = xp.sign(period), abs(period)
    wraps = [xp.round((v - v % period) / period) for v in (at, pts)]
    at, pts = at % period, pts % period
    order = xp.argsort(pts)
    pts, vals = pts[order], vals[order]
    pts = concat([pts[-1:] - period, pts, pts[:1] + period])
    vals = concat([vals[-1:], vals, vals[:1]])
    return xp, at, pts, vals, order, wraps, sign


def interp_slope(x: Any, xp_: Any, fp: Any, period: Any = None) -> Any:
    """The derivative in ``x`` of ``np.interp(x, xp, fp, period=period)``: the slope of the
    interval holding each ``x`` (at a sample point, the interval to its right, as
    ``interp_grads`` reads it), 0 outside ``[xp[0], xp[-1]]`` (where the result is the
    constant ``left`` or ``right``)."""
    xp, at, pts, vals, _, _, _ = _interp_table(x, xp_, fp, period)
    n = pts.shape[0]
    if n < 2:
        return xp.zeros(at.shape, dtype=vals.dtype)
    i = xp.clip(xp.searchsorted(pts, at, side="right") - 1, 0, n - 2)
    slope = (vals[i + 1] - vals[i]) / (pts[i + 1] - pts[i])
    return xp.where((at < pts[0]) | (at > pts[-1]), 0.0, slope)


def interp_slope_grads(g: Any, x: Any, xp_: Any, fp: Any, period: Any = None) -> tuple:
    """The gradients of ``xp``, ``fp`` and ``period`` of ``interp_slope`` (``x`` has none:
    the slope is piecewise constant in it): with ``s = (fp[i+1] - fp[i]) / w`` and
    ``w = xp[i+1] - xp[i]``, ``fp[i+1]`` and ``fp[i]`` get ``+-g / w``, ``xp[i+1]`` and
    ``xp[i]`` get ``-+g s / w``; with ``period``, back through the padding and the sort
    (the padded points are the ends -+ the period), as ``interp_grads`` does."""
    xp, at, pts, vals, order, wraps, sign = _interp_table(x, xp_, fp, period)
    n = pts.shape[0]
    if n < 2:
        return zeros_like(xp_), zeros_like(fp), None if period is None else zeros_like(period)
    i = xp.clip(xp.searchsorted(pts, at, side="right") - 1, 0, n - 2)
    width = pts[i + 1] - pts[i]
    slope = (vals[i + 1] - vals[i]) / width
    gs = xp.where((at < pts[0]) | (at > pts[-1]), 0.0, xp.broadcast_to(xp.asarray(g), at.shape))
    d_vals = _scatter(xp, i + 1, gs / width, n) - _scatter(xp, i, gs / width, n)
    d_pts = _scatter(xp, i, gs * slope / width, n) - _scatter(xp, i + 1, gs * slope / width, n)
    d_period = None
    if period is not None:
        padding = d_pts[-1] - d_pts[0]
        d_vals, d_pts = (_unwrap(xp, d, order) for d in (d_vals, d_pts))
        d_period = cast_like(sign * (padding - xp.sum(d_pts * wraps[1])), period)
    return cast_like(d_pts, xp_), cast_like(d_vals, fp), d_period


def _scatter(xp: Any, idx: Any, weights: Any, n: int) -> Any:
    """The sums of ``weights`` into ``n`` bins by index ``idx``."""
    if xp is np:
        return np.bincount(idx.reshape(-1), weights.reshape(-1), minlength=n).astype(
            weights.dtype, copy=False
        )
    return backend.scatter_add(xp.zeros(n, dtype=weights.dtype), idx, weights)


def _unwrap(xp: Any, d: Any, order: Any) -> Any:
    """A gradient of the padded sorted points (or values) as one of the given ones."""
    inner = d[1:-1]
    inner = xp.where(xp.arange(inner.shape[0]) == inner.shape[0] - 1, inner + d[0], inner)
    inner = xp.where(xp.arange(inner.shape[0]) == 0, inner + d[-1], inner)
    out = xp.zeros_like(inner)
    out[order] = inner
    return out


_MODES = {"valid": "v", "same": "s", "full": "f", 0: "v", 1: "s", 2: "f"}


def convolution_grads(
    g: Any, a: Any, v: Any, mode: Any = "full", correlate: bool = False
) -> tuple[Any, Any]:
    """The gradients of ``a`` and ``v`` of ``np.convolve(a, v, mode)`` (``correlate``:
    of ``np.correlate``). ``g`` is first put where its entries sit in the full result;
    full convolution ``sum_j a[j] v[k - j]`` then gives ``a`` and ``v`` the valid
    correlations of that with ``v`` and ``a``."""
    xp = array_module(g, a, v)
    va, vv = xp.reshape(xp.asarray(a), (-1,)), xp.reshape(xp.asarray(v), (-1,))
    n, m = va.shape[0], vv.shape[0]
    kind = _MODES[mode]
    short = min(n, m)
    if kind == "f":
        start = 0
    elif kind == "v":
        start = short - 1
    else:  # NumPy's correlate swaps its operands when v is longer, shifting 'same' by one
        start = short // 2 if correlate and n < m else (short - 1) // 2
    g = xp.reshape(xp.asarray(g), (-1,))
    full = n + m - 1
    pad = [xp.zeros(k, dtype=g.dtype) for k in (start, full - start - g.shape[0])]
    g = _concat(xp)([pad[0], g, pad[1]])
    if correlate:  # correlate(a, v) is convolve(a, v[::-1]) in full
        d_a = xp.convolve(g, vv, "valid")
        d_v = xp.flip(xp.correlate(g, va, "valid"), axis=0)
    else:
        d_a, d_v = xp.correlate(g, vv, "valid"), xp.correlate(g, va, "valid")
    return cast_like(reshape_like(d_a, a), a), cast_like(reshape_like(d_v, v), v)


def polyval_grads(g: Any, p: Any, x: Any) -> tuple[Any, Any]:
    """The gradients of ``p`` and ``x`` of ``np.polyval(p, x) = sum_k p[k] x ** (N-1-k)``:
    ``x ** (N-1-k)`` for each coefficient, and the derivative polynomial (by Horner's rule
    carried along) for ``x``."""
    xp = array_module(g, p, x)
    coefficients = xp.asarray(p)
    value, slope = 0.0, 0.0
    for c in coefficients:
        slope = slope * x + value
        value = value * x + c
    d_x = cast_like(unbroadcast(g * slope, x), x)
    rows, power = [], 1.0
    for c in reversed(list(coefficients)):
        rows.append(unbroadcast(g * power, c))
        power = power * x
    if not rows:
        return zeros_like(coefficients), d_x
    d_p = xp.stack([xp.asarray(r) for r in reversed(rows)])
    return cast_like(reshape_like(d_p, coefficients), p), d_x


def _polyfit_system(x: Any, y: Any, deg: Any, rcond: Any, full: Any, w: Any, cov: Any) -> tuple:
    """What ``np.polyfit(x, y, deg, rcond, full, w, cov)`` solves, in float64: the array
    module, the Vandermonde matrix ``V``, its derivative in ``x`` (``D``), the weights, and ``G =
    V^T W V`` of the normal equations. Refused where NumPy's fit is rank deficient (it
    warns): the coefficients are no differentiable function of ``x`` and ``w`` there."""
    if full or cov is not False:
        raise refuse(
            "np.polyfit with full=True or cov=",
            "fit with the defaults, and compute the residuals or the covariance from the "
            "coefficients",
        )
    xp = array_module(x, y)
    xs = xp.asarray(x, dtype=xp.float64)
    order = int(deg) + 1
    v = xp.vander(xs, order)
    slope = xp.zeros_like(v)
    slope[:, :-1] = v[:, 1:] * xp.arange(order - 1, 0, -1)
    ws = xp.ones_like(xs) if w is None else xp.asarray(w, dtype=xp.float64)
    lhs = v * ws[:, None]
    scaled = lhs / xp.sqrt(xp.sum(lhs * lhs, axis=0))
    values = xp.linalg.svd(scaled, compute_uv=False)
    cut = (
        len(xs) * xp.finfo(xp.result_type(xp.asarray(x), 0.0)).eps if rcond is None else rcond
    ) * values[0]
    if int(xp.sum(values > cut)) < order:
        raise refuse(
            "np.polyfit of a rank-deficient fit (fewer distinct points than coefficients, "
            "or a degree too high to tell apart)",
            "lower the degree, or fit on more distinct points",
        )
    return xp, v, slope, ws, lhs.T @ lhs


def polyfit_grads(g: Any, ans: Any, x: Any, y: Any, deg: Any, rcond: Any = None,
                  full: Any = False, w: Any = None, cov: Any = False) -> tuple:  # fmt: skip
    """The gradients of ``x``, ``y`` and ``w`` of ``c = np.polyfit(x, y, deg, w=w)``, the
    least-squares solution of ``G c = V^T W y`` (``W = diag(w ** 2)``): with ``u = G^-1
    g`` and the residuals ``r = y - V c``, ``y`` gets ``W V u``, ``x`` gets ``w ** 2 ((D
    u) r - (V u) (D c))`` and ``w`` gets ``2 w (V u) r`` (summed over the columns of a 2-D
    ``y``)."""
    xp, v, slope, ws, gram = _polyfit_system(x, y, deg, rcond, full, w, cov)
    c = xp.asarray(ans, dtype=xp.float64).reshape(v.shape[1], -1)
    u = xp.linalg.solve(gram, xp.asarray(g, dtype=xp.float64).reshape(v.shape[1], -1))
    r = xp.asarray(y, dtype=xp.float64).reshape(v.shape[0], -1) - v @ c
    vu = v @ u
    d_y = (ws * ws)[:, None] * vu
    d_x = ws * ws * xp.sum(slope @ u * r - vu * (slope @ c), axis=1)
    d_w = None if w is None else cast_like(2.0 * ws * xp.sum(vu * r, axis=1), w)
    return cast_like(d_x, x), cast_like(reshape_like(d_y, y), y), d_w


def check_polyfit(x: Any, y: Any, deg: Any, rcond: Any = None, full: Any = False,
                  w: Any = None, cov: Any = False) -> None:  # fmt: skip
    """Refuse what ``np.polyfit``'s rules do not differentiate (see ``_polyfit_system``)."""
    _polyfit_system(x, y, deg, rcond, full, w, cov)


def polymul_factor_shape(a: Any) -> tuple:
    """The shape of a factor of ``np.polymul``, refusing one whose leading coefficient is 0
    before others: NumPy drops it, so the product lacks the coefficient that moves with it
    (and gains a degree as it leaves 0)."""
    xp = array_module(a)
    c = xp.reshape(xp.asarray(a), (-1,))
    if c.shape[0] > 1 and not bool(c[0]):
        raise refuse(
            "the derivative of np.polymul in a factor whose leading coefficient is 0: NumPy "
            "drops it, and the product gains a degree as it leaves 0",
            "trim the factor first (np.trim_zeros(p, 'f') where it is constant), or use "
            "np.convolve, which keeps every coefficient",
        )
    return xp.shape(a)


def poly_of_roots(seq_of_zeros: Any) -> None:
    """Refuse np.poly of a square matrix: its characteristic polynomial goes through its
    eigenvalues, complex in general (np.poly of roots is differentiated)."""
    shape = getattr(seq_of_zeros, "shape", None) or np.shape(seq_of_zeros)
    if len(shape) == 2 and shape[0] == shape[1]:
        raise refuse(
            "the derivative of np.poly of a square matrix (its characteristic polynomial, "
            "through its eigenvalues, complex in general)",
            "pass the roots (a 1-D array), or expand np.linalg.det(x * np.eye(n) - a)",
        )


def check_polydiv(u: Any, v: Any, r: Any) -> None:
    """Refuse ``np.polydiv(u, v)`` giving the remainder ``r`` where it has no derivative: a
    divisor leading with 0 (NumPy divides by it), or a remainder NumPy cut short (it drops
    leading coefficients within 1e-8 of 0, and so one that moves: its length jumps)."""
    xp = array_module(u, v)
    c = xp.reshape(xp.asarray(v), (-1,))
    if not bool(c[0]):
        raise refuse(
            "the derivative of np.polydiv by a divisor whose leading coefficient is 0 "
            "(NumPy divides by it)",
            "trim the divisor first (np.trim_zeros(v, 'f') where it is constant)",
        )
    m, n = int(np.size(u)), int(c.shape[0])  # (the coefficients of each)
    if int(r.shape[0]) < min(m, n - 1):
        raise refuse(
            "the derivative of np.polydiv where NumPy drops leading coefficients of the "
            "remainder within 1e-8 of 0: its length jumps as they move",
            "compute the remainder as u - np.polymul(q, v) (all its coefficients kept), "
            "or differentiate where its leading coefficient is farther from 0",
        )


def poly_quotients(r: Any, c: Any) -> Any:
    """Row ``i``: the quotient of the polynomial ``c`` (or of row ``i`` of ``c``) by ``x -
    r_i``, its ``k``-th coefficient ``sum_{j<=k} c_j r_i^(k-j)`` (synthetic division, the
    remainder dropped; powers by ``np.cumprod``, exact at a zero root). For ``c =
    np.poly(r)``, the coefficients of the product of the other factors."""
    xp = array_module(r, c)
    n, m = xp.shape(r)[0], xp.shape(c)[-1]
    k = xp.arange(m - 1)
    powers = xp.concatenate(
        [
            xp.ones_like(r)[:, None],
            xp.cumprod(xp.broadcast_to(r[:, None], (n, max(m - 2, 0))), axis=1),
        ],
        axis=1,
    )
    return xp.sum(
        powers[:, xp.maximum(k[:, None] - xp.arange(m)[None, :], 0)]
        * (xp.arange(m)[None, :] <= k[:, None])
        * xp.reshape(c, (-1, 1, m)),
        axis=-1,
    )


def simple_real_roots(r: Any, p: Any) -> None:
    """Refuse roots ``np.roots`` gave of the coefficients ``p`` that have no real
    derivative: complex ones (NumPy gives them as a complex array), repeated ones (two
    within the cube root of the dtype's epsilon, relative to the largest: a double root
    splits by about its square root, and a root there moves without bound), and any where
    ``p`` leads with 0 (NumPy drops it; as it leaves 0 a root comes in from infinity)."""
    xp = array_module(r, p)
    c = xp.reshape(xp.asarray(p), (-1,))
    if c.shape[0] > 1 and not bool(c[0]):
        raise refuse(
            "the derivative of np.roots of coefficients that lead with 0: NumPy drops it, "
            "and as it leaves 0 a root comes in from infinity",
            "trim the coefficients first (np.trim_zeros(p, 'f') where they are constant)",
        )
    if backend.dtype_kind(r) == "c":
        raise refuse(
            "the derivative of np.roots of a polynomial with complex roots: srcdiff "
            "differentiates real values",
            "differentiate a function of the polynomial that stays real (np.polyval, "
            "np.poly of real roots), or pass a polynomial whose roots are real",
        )
    n = r.shape[0]
    if n < 2:
        return
    apart = xp.where(xp.eye(n, dtype=bool), xp.inf, xp.abs(r[:, None] - r[None, :]))
    scale = float(xp.max(xp.abs(r)))
    if float(xp.min(apart)) <= float(xp.finfo(r.dtype).eps) ** (1 / 3) * scale:
        raise refuse(
            "the derivative of np.roots at a repeated root: it moves without bound there",
            "differentiate a symmetric function of the roots (np.poly's coefficients), or "
            "perturb the polynomial",
        )


# ---- tangents (forward mode) ---------------------------------------------------------------


def diff_tangent(da: Any, dprepend: Any, dappend: Any, a: Any, n: int = 1, axis: int = -1,
                 prepend: Any = None, append: Any = None) -> Any:  # fmt: skip
    """The tangent of ``np.diff(a, n, axis, prepend=prepend, append=append)`` (None: not
    given) along the tangents ``da``, ``dprepend`` and ``dappend`` (None: zero): the
    differences of the tangents joined as the values were (``diff`` is linear in them)."""
    xp = array_module(a)
    d = xp.zeros(_shape(a)) if da is None else da
    joined = {}
    for name, e, de in (("prepend", prepend, dprepend), ("append", append, dappend)):
        if e is not None:
            joined[name] = xp.zeros(_shape(e)) if de is None else de
    return xp.diff(d, n=n, axis=axis, **joined)


def cumprod_tangent(d: Any, a: Any, axis: Any = None) -> Any:
    """The tangent of ``np.cumprod(a, axis)`` along ``d``, exact where entries are zero
    (the transpose of ``cumprod_grad``).

    Entry ``i`` of a lane moves by ``sum over j <= i of d[j] * prod(a[k], k <= i, k != j)``:
    before the lane's first zero that is ``cumprod(a)[i] * cumsum(d / a)[i]``; from the
    first zero ``z`` to the next, ``d[z] * cumprod(a with that zero made 1)[i]``; after the
    second zero, 0.
    """
    if axis is None:  # cumprod of the flattened array
        xp = array_module(d, a)
        flat = xp.reshape(xp.broadcast_to(d, _shape(a)), (-1,))
        return cumprod_tangent(flat, xp.reshape(a, (-1,)), 0)
    xs = backend.standard(d, a)
    d = xs.broadcast_to(xs.asarray(d), a.shape)
    zero = a == 0
    if not xs.any(zero):
        return xs.cumulative_prod(a, axis=axis) * xs.cumulative_sum(d / a, axis=axis)
    seen = xs.cumulative_sum(xs.astype(zero, xs.int64), axis=axis)
    before = seen == 0
    first = zero & (seen == 1)
    t_before = xs.cumulative_prod(xs.where(before, a, 1.0), axis=axis) * xs.cumulative_sum(
        xs.where(before, d / xs.where(before, a, 1.0), 0.0), axis=axis
    )
    at_zero = xs.sum(xs.where(first, d, 0.0), axis=axis, keepdims=True)
    t_after = at_zero * xs.cumulative_prod(xs.where(first, 1.0, a), axis=axis)
    return xs.where(before, t_before, xs.where(seen == 1, t_after, 0.0))


def cumprod_tangent_grads(g: Any, d: Any, a: Any, axis: Any = None) -> tuple[Any, Any]:
    """The gradients of ``d`` and ``a`` of ``cumprod_tangent(d, a, axis)``, exact where
    entries are zero: ``d`` gets ``cumprod_grad(g)`` (the tangent is linear in it), and
    ``a`` the second derivative of the products,
    ``sum over i >= m of g[i] * sum over j <= i, j != m of d[j] prod(a[k], k <= i, k != j, m)``.

    With ``b`` the lane with its zeros made 1, ``Q = cumprod(b)``, ``c = cumsum(d / b)``
    and ``R`` a sum from the end: entries ``i`` before the first zero give entry ``m``
    ``(R(g Q c) - d R(g Q) / b) / b``; between the first zero ``z1`` and the second, ``z1``
    gets ``R(g Q c) - d R(g Q)`` and every other entry ``d[z1] R(g Q) / b``; between the
    second zero ``z2`` and the third, ``z1`` gets ``d[z2] R(g Q)`` and ``z2`` ``d[z1] R(g Q)``;
    after the third, nothing (every product holds a zero)."""
    if axis is None:  # of the flattened array
        xp = array_module(g, d, a)
        flat = xp.reshape(a, (-1,))
        d_d, d_a = cumprod_tangent_grads(
            xp.reshape(g, (-1,)), xp.reshape(xp.broadcast_to(d, _shape(a)), (-1,)), flat, 0
        )
        return cast_like(unbroadcast(reshape_like(d_d, a), d), d), reshape_like(d_a, a)
    xs = backend.standard(g, d, a)
    d_full = xs.broadcast_to(xs.asarray(d), a.shape)
    d_d = cumprod_grad(g, xs.cumulative_prod(a, axis=axis), a, axis)

    def rcumsum(t: Any) -> Any:
        return xs.flip(xs.cumulative_sum(xs.flip(t, axis=axis), axis=axis), axis=axis)

    zero = a == 0
    b = xs.where(zero, 1.0, a)
    w = g * xs.cumulative_prod(b, axis=axis)
    c = xs.cumulative_sum(d_full / b, axis=axis)
    seen = xs.cumulative_sum(xs.astype(zero, xs.int64), axis=axis)
    zeros = xs.zeros_like(w)
    by = [xs.where(seen == k, w, zeros) for k in range(3)]  # g Q where i has k zeros before
    first, second = zero & (seen == 1), zero & (seen == 2)
    d1 = xs.sum(xs.where(first, d_full, 0.0), axis=axis, keepdims=True)
    d2 = xs.sum(xs.where(second, d_full, 0.0), axis=axis, keepdims=True)
    r0, r1, r2 = rcumsum(by[0]), rcumsum(by[1]), rcumsum(by[2])
    d_a = (rcumsum(by[0] * c) - d_full * r0 / b) / b
    d_a = d_a + xs.where(first, rcumsum(by[1] * c) - d_full * r1, d1 * r1 / b)
    d_a = d_a + xs.where(first, d2 * r2, xs.where(second, d1 * r2, 0.0))
    return cast_like(unbroadcast(d_d, d), d), cast_like(d_a, a)


def cumprod_second(d: Any, e: Any, a: Any, axis: Any = None) -> Any:
    """The second derivative of ``np.cumprod(a, axis)`` along ``d`` and ``e`` (the tangent
    of ``cumprod_tangent(d, a, axis)`` along ``e`` in ``a``): entry ``i`` of a lane is
    ``sum over j != k <= i of d[j] e[k] prod(a[m], m <= i, m != j, k)``. Without zeros,
    ``cumprod(a) * (cumsum(d / a) * cumsum(e / a) - cumsum(d e / a^2))``; with zeros, the
    products of hyper-dual numbers ``a + d eps + e delta``, entry by entry along the lane
    (exact: no division)."""
    if axis is None:  # of the flattened array
        xp = array_module(d, e, a)
        shape = _shape(a)
        flat = [xp.reshape(xp.broadcast_to(t, shape), (-1,)) for t in (d, e)]
        return cumprod_second(flat[0], flat[1], xp.reshape(a, (-1,)), 0)
    xs = backend.standard(d, e, a)
    d = xs.broadcast_to(xs.asarray(d), a.shape)
    e = xs.broadcast_to(xs.asarray(e), a.shape)
    if not xs.any(a == 0):
        q = xs.cumulative_prod(a, axis=axis)
        sd_, se = (xs.cumulative_sum(t / a, axis=axis) for t in (d, e))
        return q * (sd_ * se - xs.cumulative_sum(d * e / (a * a), axis=axis))
    return _cumprod_derivative(a, axis, (d, e))


def cumprod_third(d: Any, e: Any, f: Any, a: Any, axis: Any = None) -> Any:
    """The third derivative of ``np.cumprod(a, axis)`` along ``d``, ``e`` and ``f`` (that of
    ``cumprod_second`` in ``a`` along ``f``); see ``_cumprod_derivative``."""
    return _cumprod_derivative(a, axis, (d, e, f))


def cumprod_fourth(d: Any, e: Any, f: Any, h: Any, a: Any, axis: Any = None) -> Any:
    """The fourth derivative of ``np.cumprod(a, axis)`` along ``d``, ``e``, ``f`` and ``h``
    (that of ``cumprod_third`` in ``a`` along ``h``); see ``_cumprod_derivative``."""
    return _cumprod_derivative(a, axis, (d, e, f, h))


def cumprod_second_grads(g: Any, d: Any, e: Any, a: Any, axis: Any = None
                         ) -> tuple[Any, Any, Any]:  # fmt: skip
    """The gradients of ``d``, ``e`` and ``a`` of ``cumprod_second(d, e, a, axis)`` given
    its adjoint ``g``: in each direction, the adjoint of the products' second derivative
    along the other; in ``a``, that of their third along both (``_cumprod_adjoint``)."""
    return _cumprod_derivative_grads(g, a, axis, (d, e))


def cumprod_third_grads(g: Any, d: Any, e: Any, f: Any, a: Any, axis: Any = None
                        ) -> tuple[Any, Any, Any, Any]:  # fmt: skip
    """The gradients of ``d``, ``e``, ``f`` and ``a`` of ``cumprod_third(d, e, f, a, axis)``
    given its adjoint ``g``, as ``cumprod_second_grads``'s, one order up."""
    return _cumprod_derivative_grads(g, a, axis, (d, e, f))


def _cumprod_derivative_grads(g: Any, a: Any, axis: Any, ds: tuple) -> tuple:
    """The gradients of each direction of ``ds`` and of ``a`` of the derivative of
    ``np.cumprod(a, axis)`` along ``ds``: in each direction the adjoint of the derivative
    along the others, in ``a`` that along all of them (``_cumprod_adjoint``)."""
    grads = []
    for i, d in enumerate(ds):
        others = ds[:i] + ds[i + 1 :]
        grads.append(cast_like(unbroadcast(reshape_like(_cumprod_adjoint(g, a, axis, others), a),
                                           d), d))  # fmt: skip
    return (*grads, cast_like(reshape_like(_cumprod_adjoint(g, a, axis, ds), a), a))


def prod_fourth(c: Any, v: Any, w: Any, x: Any, axis: Any = None) -> Any:
    """The fourth derivative of ``prod(x, axis)`` along ``c``, ``v`` and ``w``, shaped as
    ``x`` (``prod_third``'s derivative in ``x`` along ``w``): entry ``n`` is the derivative
    along them of the product of the lane's other entries, from the products before and
    after ``n`` as numbers ``x + sum of t eps_t`` (exact: no division, zeros or not)."""
    lanes, dirs, back = _prod_lanes(x, axis, c, v, w)
    xp = array_module(lanes, *dirs)
    first = [xp.moveaxis(t, -1, 0) for t in (lanes, *dirs)]
    return back(xp.moveaxis(_others_derivative(first[0], first[1:]), 0, -1))


def _others_derivative(lanes: Any, dirs: list) -> Any:
    """Entry ``m`` of ``lanes`` (the products' axis first): the derivative along ``dirs``
    (once each) of the product of the lane's entries but ``m``."""
    xp = array_module(lanes, *dirs)
    n, full = lanes.shape[0], (1 << len(dirs)) - 1
    one = xp.ones_like(lanes[0, ...])
    before = [{0: one}]  # the derivatives of the products of the entries before m
    for m in range(n - 1):
        before.append(_dual_step(before[-1], lanes, dirs, m))
    out: list = [None] * n
    after: dict = {0: one}  # and of those after m
    for m in range(n - 1, -1, -1):
        out[m] = _split_products(before[m], after, full, xp.zeros_like(one))
        after = _dual_step(after, lanes, dirs, m)
    return xp.stack(out) if out else xp.zeros_like(lanes)


def _lanes_first(a: Any, axis: Any, ts: tuple) -> tuple[Any, list, Callable[[Any], Any]]:
    """``a`` and the arrays ``ts`` (broadcast to it; for ``axis=None``, of its flattened
    size) with the axis of the cumulative products first, and the function putting a
    result so laid out back (as ``np.cumprod`` lays it out: flat for ``axis=None``)."""
    xp = array_module(a, *ts)
    a = xp.asarray(a)
    if axis is None:
        flat = xp.reshape(a, (-1,))
        ts = [xp.asarray(t) for t in ts]
        ts = [t if tuple(t.shape) == tuple(flat.shape) else
              xp.reshape(xp.broadcast_to(t, a.shape), (-1,)) for t in ts]  # fmt: skip
        return flat, ts, lambda r: r
    ts = [xp.moveaxis(xp.broadcast_to(xp.asarray(t), a.shape), axis, 0) for t in ts]
    return xp.moveaxis(a, axis, 0), ts, lambda r: xp.moveaxis(r, 0, axis)


def _dual_step(state: dict, a: Any, ds: list, m: int) -> dict:
    """The derivatives ``state`` of a product (by the set of directions, a bit mask; a set
    absent is 0) times the entry ``m``: ``P[S] a[m] + sum over j in S of P[S - j] d_j[m]``."""
    new = {}
    for s in range(1 << len(ds)):
        total = state[s] * a[m, ...] if s in state else None
        for j, d in enumerate(ds):
            if s >> j & 1 and (s ^ (1 << j)) in state:
                term = state[s ^ (1 << j)] * d[m, ...]
                total = term if total is None else total + term
        if total is not None:
            new[s] = total
    return new


def _split_products(before: dict, after: dict, full: int, zero: Any) -> Any:
    """The sum, over the ways to split the directions ``full`` (a bit mask) in two, of
    the derivative along one part in ``before`` times that along the other in ``after``
    (dicts by bit mask, a part absent being 0), starting from ``zero``."""
    total, t = zero, full
    while True:  # every part t of the directions, taken before
        if t in before and (full ^ t) in after:
            total = total + before[t] * after[full ^ t]
        if t == 0:
            return total
        t = (t - 1) & full


def _cumprod_derivative(a: Any, axis: Any, ds: tuple) -> Any:
    """The derivative of ``np.cumprod(a, axis)`` along the directions ``ds`` (once each):
    the products of the numbers ``a + sum of d_j eps_j`` (``eps_j^2 = 0``), entry by entry
    along the lane, each kept as its part in every set of the ``eps`` (exact: no
    division, zeros or not)."""
    xp = array_module(a, *ds)
    lanes, dirs, back = _lanes_first(a, axis, ds)
    full = (1 << len(ds)) - 1
    state = {0: xp.ones_like(lanes[0, ...])}
    out = []
    for m in range(lanes.shape[0]):
        state = _dual_step(state, lanes, dirs, m)
        out.append(state[full] if full in state else xp.zeros_like(lanes[0, ...]))
    return back(xp.stack(out) if out else xp.zeros_like(lanes))


def _cumprod_adjoint(g: Any, a: Any, axis: Any, ds: tuple) -> Any:
    """The gradient in one more direction of ``sum(g * D)``, ``D`` the derivative of
    ``np.cumprod(a, axis)`` along ``ds`` and that direction: entry ``m`` is the sum, over
    the ways to split ``ds`` in two, of the derivatives along one part of the product of
    the entries before ``m`` times those along the other of ``sum over i >= m of g[i]
    prod(a[l], m < l <= i)`` (exact: no division)."""
    xp = array_module(g, a, *ds)
    lanes, (gl, *dirs), back = _lanes_first(a, axis, (g, *ds))
    n, full = lanes.shape[0], (1 << len(ds)) - 1
    before = [{0: xp.ones_like(lanes[0, ...])}]  # the derivatives of the products before m
    for m in range(n - 1):
        before.append(_dual_step(before[-1], lanes, dirs, m))
    out: list = [None] * n
    after: dict = {}  # those of sum over i > m of g[i] prod(a[l], m < l <= i)
    for m in range(n - 1, -1, -1):
        here = {**after, 0: after[0] + gl[m, ...] if 0 in after else gl[m, ...]}
        out[m] = _split_products(before[m], here, full, xp.zeros_like(lanes[0, ...]))
        after = _dual_step(here, lanes, dirs, m)
    return back(xp.stack(out) if out else xp.zeros_like(lanes))


def _plus(d: Any, c: Any) -> Any:
    """``d + c`` for tangents where None is zero."""
    return c if d is None else d if c is None else d + c


def interp_tangent(x: Any, xp_: Any, fp: Any, left: Any = None, right: Any = None,
                   period: Any = None, *, dx: Any = None, dxp: Any = None, dfp: Any = None,
                   dleft: Any = None, dright: Any = None, dperiod: Any = None) -> Any:  # fmt: skip
    """The tangent of ``np.interp(x, xp, fp, left, right, period)`` along the tangents
    given (None: zero), as ``interp_grads`` reads the function (its transpose): inside,
    ``slope * dx + (1 - t) dfp[i] + t dfp[i + 1] + slope (t - 1) dxp[i] - slope t dxp[i + 1]``;
    outside, the tangent of ``left`` or ``right`` (by default of ``fp[0]`` or ``fp[-1]``);
    with ``period``, through NumPy's wrapping (``x - n * period``), sort and padding."""
    xp = array_module(x, xp_, fp)
    concat = _concat(xp)
    if backend.dtype_kind(xp.asarray(fp)) == "c":
        raise refuse("np.interp of complex values", "interpolate the real and imaginary parts")
    pts, vals, at = xp.asarray(xp_), xp.asarray(fp), xp.asarray(x)
    d_at, d_pts, d_vals = (None if d is None else xp.asarray(d) for d in (dx, dxp, dfp))
    if period is not None:  # as NumPy: wrap, sort, and pad one point on either side
        sign, period = xp.sign(period), abs(period)
        d_period = None if dperiod is None else sign * dperiod
        wraps = [xp.round((v - v % period) / period) for v in (at, pts)]  # the n of each
        at, pts = at % period, pts % period
        if d_period is not None:
            d_at = _plus(d_at, -wraps[0] * d_period)
            d_pts = _plus(d_pts, -wraps[1] * d_period)
        order = xp.argsort(pts)
        pts, vals = pts[order], vals[order]
        pts = concat([pts[-1:] - period, pts, pts[:1] + period])
        vals = concat([vals[-1:], vals, vals[:1]])
        if d_pts is not None:
            d_pts = d_pts[order]
            shift = 0.0 if d_period is None else d_period
            d_pts = concat([d_pts[-1:] - shift, d_pts, d_pts[:1] + shift])
        elif d_period is not None:
            zero = xp.zeros(pts.shape[0] - 2)
            d_pts = concat([zero[-1:] - d_period, zero, zero[:1] + d_period])
        if d_vals is not None:
            d_vals = d_vals[order]
            d_vals = concat([d_vals[-1:], d_vals, d_vals[:1]])
        left = right = dleft = dright = None
    n = pts.shape[0]
    below, above = at < pts[0], at > pts[-1]
    total = xp.zeros(at.shape)
    if n > 1:
        i = xp.clip(xp.searchsorted(pts, at, side="right") - 1, 0, n - 2)
        width = pts[i + 1] - pts[i]
        t = (at - pts[i]) / width
        slope = (vals[i + 1] - vals[i]) / width
        if d_at is not None:
            total = total + slope * d_at
        if d_vals is not None:
            total = total + (1.0 - t) * d_vals[i] + t * d_vals[i + 1]
        if d_pts is not None:
            total = total + slope * (t - 1.0) * d_pts[i] - slope * t * d_pts[i + 1]
    elif d_vals is not None:  # one point: the result is fp[0] there
        total = total + d_vals[0]
    ends = []
    for end, d_end, k in ((left, dleft, 0), (right, dright, -1)):
        if end is not None:
            ends.append(0.0 if d_end is None else d_end)
        else:
            ends.append(0.0 if d_vals is None else d_vals[k])
    return xp.where(below, ends[0], xp.where(above, ends[1], total))
