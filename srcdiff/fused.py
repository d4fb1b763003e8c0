"""PyTorch's fused CPU arithmetic, on arrays: the multiply-adds that it rounds once.

PyTorch's x86-64 CPU kernels of ``add`` and ``sub`` with ``alpha``, ``addcmul`` and
``lerp`` compute ``a * b + c`` as one fused multiply-add (the vectorized code calls
``fmadd``, and GCC contracts the scalar code into the same instruction), so the product is
not rounded on its own; two operations can differ in the last bit. Its optimizers are
made of these operations, so srcdiff's optimizers (and ``Tensor.add(alpha=...)``) use the
functions here to give the same numbers, bit for bit. ``addcdiv`` is not fused: it
rounds ``value * t1``, then the quotient, then the sum.

A Python number among the operands (``alpha``, ``value``, ``weight``) is first rounded to
the arrays' dtype, as PyTorch converts a scalar to the tensor's dtype. The functions work
on the arrays of NumPy, CuPy or any Array-API library; integer arrays are computed plainly.
"""

from __future__ import annotations

import math
import threading
from itertools import repeat
from typing import Any

import numpy as np

from .backend import array_module

__all__ = ["add", "addcdiv", "addcmul", "fma", "lerp"]


def _is_floating(xp: Any, dtype: Any) -> bool:
    if hasattr(xp, "isdtype"):
        return bool(xp.isdtype(dtype, "real floating"))
    return np.dtype(dtype).kind == "f"


_FLOAT64 = np.dtype(np.float64)
_NUMPY_DIGITS = {np.dtype(t): np.finfo(t).nmant + 1 for t in (np.float16, np.float32, np.float64)}
_NARROW = 25  # dtypes of at most this many digits go through float64 (float32: 24)


def _digits(xp: Any, dtype: Any) -> int:
    """The significand's bits of a floating ``dtype`` (24 for float32, 53 for float64)."""
    if xp is np:
        digits = _NUMPY_DIGITS.get(dtype)
        return np.finfo(dtype).nmant + 1 if digits is None else digits
    return 1 - round(math.log2(float(xp.finfo(dtype).eps)))


def _two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``a + b = s + e`` exactly, ``s`` the rounded sum (Knuth)."""
    s = a + b
    t = s - a
    return s, (a - (s - t)) + (b - t)


def _two_product(a: Any, b: Any, split: Any) -> tuple[Any, Any]:
    """``a * b = p + e`` exactly, ``p`` the rounded product (Dekker, Veltkamp's split)."""
    a_hi, b_hi = (split * v - (split * v - v) for v in (a, b))
    a_lo, b_lo = a - a_hi, b - b_hi
    p = a * b
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


_INF64 = np.float64(math.inf)
_TINY = {np.dtype(t): float(np.finfo(t).tiny) for t in (np.float16, np.float32, np.float64)}
_SMALL = 16  # NumPy operands of at most this many elements are computed one by one


def _nudged(s: float, e: float, digits: int) -> float:
    """``s`` (a float64 rounded sum with error ``e``) rounded to odd for a dtype of
    ``digits`` bits: moved off a value that could be a tie there, toward ``e``."""
    split = 2.0 ** (53 - (digits + 1)) + 1  # keeps digits + 1 bits: room for a tie
    if e != 0 and s == split * s - (split * s - s):
        return math.nextafter(s, math.copysign(math.inf, e))
    return s


def _fma_float(x: float, y: float, z: float, digits: int) -> float:
    """``x * y + z`` rounded once to ``digits`` bits (24 or 53), on Python floats."""
    if digits <= _NARROW:  # the product of narrow values is exact in float64
        p = x * y
        s = p + z
        t = s - p
        return _nudged(s, (p - (s - t)) + (z - t), digits)
    return _fma64(x, y, z)


def _fma64(x: float, y: float, z: float) -> float:
    """``x * y + z`` rounded once, on Python floats (float64)."""
    if _MATH_FMA is not None:
        return _MATH_FMA(x, y, z)
    p = x * y
    high = _EXACT_HIGH  # (chained comparisons: NaNs fail them, as they fail abs() < high)
    if _EXACT_LOW < abs(p) < high and -high < x < high and -high < y < high and -high < z < high:
        # x * y = p + pe exactly (Dekker's product, Veltkamp's split), and fsum rounds
        # the exact sum p + pe + z once
        h = _SPLIT53 * x
        x_hi = h - (h - x)
        h = _SPLIT53 * y
        y_hi = h - (h - y)
        x_lo, y_lo = x - x_hi, y - y_hi
        return _FSUM((p, ((x_hi * y_hi - p) + x_hi * y_lo + x_lo * y_hi) + x_lo * y_lo, z))
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return x * y + z
    (n1, d1), (n2, d2), (n3, d3) = (v.as_integer_ratio() for v in (x, y, z))
    numerator = n1 * n2 * d3 + n3 * d1 * d2
    if numerator == 0:  # an exact zero: the signs of zeros decide, as IEEE adds them
        return x * y + z
    try:
        return numerator / (d1 * d2 * d3)  # integer division rounds once, to nearest
    except OverflowError:
        return x * y + z


_MATH_FMA = getattr(math, "fma", None)  # Python 3.13
_FSUM = math.fsum
_SPLIT53 = 2.0**27 + 1  # Veltkamp's split of a float64 into two halves of 26 bits
# products of magnitudes in this range, of factors below its top, split and multiply
# exactly (no overflow in the split, no underflow in the error term)
_EXACT_LOW = 2.0**-900
_EXACT_HIGH = 2.0**900


def _fma_small(a: Any, b: Any, c: Any, dtype: Any, digits: int) -> Any:
    """``fma`` on a few NumPy elements, one at a time in Python floats: a few
    microseconds where the vectorized error-free transformations cost tens."""
    operands = [
        v if type(v) is np.ndarray and v.dtype == dtype else np.asarray(v, dtype=dtype)
        for v in (a, b, c)
    ]
    shapes = {v.shape for v in operands if v.ndim}
    shape = shapes.pop() if len(shapes) == 1 else np.broadcast_shapes(*(v.shape for v in operands))
    a, b, c = (
        v.ravel().tolist()
        if v.shape == shape
        else repeat(v.item())  # (one number of any shape: (), (1,), (1, 1))
        if v.size == 1
        else np.broadcast_to(v, shape).ravel().tolist()
        for v in operands
    )
    values = [_fma_float(x, y, z, digits) for x, y, z in zip(a, b, c)]  # noqa: B905 (repeats)
    return np.array(values, dtype=dtype).reshape(shape)


_DTYPES = {t: np.dtype(t) for t in (np.float64, np.uint64, np.bool_)}
_SCRATCH = threading.local()  # per thread: (dtype, slot) -> the largest flat buffer yet
_SCRATCH_LIMIT = 1 << 24  # bytes: a larger temporary is allocated as it is needed


def _scratch(shape: tuple, dtype: Any, slot: int = 0) -> np.ndarray | None:
    """An array of ``shape`` and ``dtype`` to compute a temporary into, kept between
    calls (None for a 0-d or very large one: allocated as usual). The optimizers'
    temporaries, as large as the parameters, cost more to allocate (their memory is
    faulted in page by page) than to compute."""
    dtype = _DTYPES.get(dtype) or np.dtype(dtype)
    size = math.prod(shape)
    if not shape or size * dtype.itemsize > _SCRATCH_LIMIT:
        return None
    kept = _SCRATCH.__dict__.get("buffers")
    if kept is None:
        kept = _SCRATCH.buffers = {}
    flat = kept.get((dtype, slot))
    if flat is None or flat.size < size:
        flat = kept[dtype, slot] = np.empty(size, dtype)
    return flat[:size].reshape(shape)


def _narrow_fma(a: np.ndarray, b: Any, c: np.ndarray, digits: int, inf: Any, tiny: float
                ) -> np.ndarray:  # fmt: skip
    """``a * b + c`` of NumPy arrays of a narrow dtype of ``digits`` bits (``b`` an array or
    a Python float of that dtype's values), in float64 (where the product is exact),
    rounded to odd for that dtype (see ``fma``), with the sum's error found only where it
    matters: where the rounded sum is a tie of the narrow dtype, which few sums are.
    Computed in place in a kept buffer (``_scratch``: the optimizers' temporaries), which
    it returns: the caller copies it out before the next call."""
    shape = a.shape if type(b) is float else np.broadcast_shapes(a.shape, b.shape, c.shape)
    s = _scratch(shape, np.float64)
    s = np.empty(shape, np.float64) if s is None else s
    if type(b) is float and c.shape == shape:  # an optimizer's update: widened, then
        np.copyto(s, a)  # multiplied by a float64 (sooner than a product that widens
        np.multiply(s, b, out=s)  # as it goes), exactly
    else:
        np.multiply(a, b, out=s, dtype=np.float64)  # widened (exactly) as it multiplies
    np.add(s, c, out=s)  # the product is exact, then added in place
    flat = s.reshape(-1)
    # a tie of the narrow dtype has no bits past its digits + 1 (float64's significand
    # bits below them all zero): few sums; of those, the ties are the ones whose next bit
    # is set, or that are below the dtype's normal numbers (rounded at a higher bit)
    low = np.uint64((1 << (52 - digits)) - 1)
    bits = np.bitwise_and(flat.view(np.uint64), low, out=_scratch(flat.shape, np.uint64))
    if not bits.size or bits.min():  # none (the usual case: one pass over the bits)
        return s
    maybe = np.equal(bits, 0, out=_scratch(flat.shape, np.bool_)).nonzero()[0]
    if maybe.size:
        sums = flat[maybe]
        half = np.uint64(1 << (52 - digits))
        tie = ((sums.view(np.uint64) & half) != 0) | (np.abs(sums) < tiny)
        maybe = maybe[tie & np.isfinite(sums)]  # infinities and NaNs: as they are
    if maybe.size:
        ab, bb, cb = (np.broadcast_to(v, shape).reshape(-1)[maybe].astype(np.float64)
                      for v in (a, b, c))  # fmt: skip
        sub, e = _two_sum(ab * bb, cb)
        flat[maybe] = np.where(e != 0, np.nextafter(sub, np.copysign(inf, e)), sub)
    return s


def _alike(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are NumPy arrays of one shape and dtype, of a few elements."""
    return (
        type(a) is np.ndarray
        and type(b) is np.ndarray
        and a.size <= _SMALL
        and a.shape == b.shape
        and a.dtype == b.dtype
    )


def fma(a: Any, b: Any, c: Any, out: Any = None) -> Any:
    """``a * b + c`` rounded once, in the dtype that ``a``, ``b`` and ``c`` promote to.

    float32 (and narrower) goes through float64, where the product is exact: the sum is
    rounded to odd there (nudged off a value that could be a tie in the narrow dtype), so
    that rounding it again to the narrow dtype rounds right. float64 goes through
    error-free transformations: ``a * b = p + pe``, then ``p + pe + c = r + e2 + te``
    exactly, ``r`` the rounded sum, which is the answer unless ``r + e2`` was a tie that
    ``te`` breaks. Where that overflows (or an operand is not finite), ``a * b + c``.
    A few NumPy elements are computed one by one in Python floats (the same roundings,
    or integer arithmetic for float64.

    ``out``, an array of the result's shape and dtype, is given the result (in place)
    and returned: an optimizer's parameter updated, without a new array."""
    if (
        type(a) is np.ndarray
        and type(c) is np.ndarray
        and type(b) is float
        and a.size == 1
        and a.dtype is _FLOAT64
        and c.dtype is _FLOAT64
        and a.shape == c.shape
    ):  # an optimizer's step of a float64 parameter that is one number, shortest
        value = _fma64(a.item(), b, c.item())
        if out is None:
            return np.array(value, _FLOAT64).reshape(a.shape)
        if out.ndim == 1:  # (a parameter of shape (1,): indexed, sooner than fill)
            out[0] = value
        else:
            out.fill(value)
        return out
    if (
        type(a) is np.ndarray
        and type(c) is np.ndarray
        and a.size == 1
        and (type(b) is float or _alike(a, b))
        and a.shape == c.shape
        and a.dtype == c.dtype
    ):
        digits = _NUMPY_DIGITS.get(a.dtype)  # a parameter that is one number
        if digits is not None:
            if type(b) is not float:
                b = b.item()
            elif digits != 53:  # (a float64 is one already)
                b = float(a.dtype.type(b))
            value = _fma_float(a.item(), b, c.item(), digits)
            if out is None:
                return np.array(value, a.dtype).reshape(a.shape)
            out.fill(value)
            return out
    result = _fma(a, b, c, out)
    if out is None or result is out:
        return result
    out[...] = result
    return out


def _fma(a: Any, b: Any, c: Any, out: Any = None) -> Any:
    """``fma``; the result written into ``out`` where the NumPy float32 path can (it
    then returns ``out``)."""
    if _alike(a, c) and (type(b) is float or _alike(a, b)):  # the optimizers' usual case
        digits = _NUMPY_DIGITS.get(a.dtype)
        if digits is not None:
            b = repeat(float(a.dtype.type(b))) if type(b) is float else b.ravel().tolist()
            values = map(_fma_float, a.ravel().tolist(), b, c.ravel().tolist(), repeat(digits))
            return np.array(list(values), dtype=a.dtype).reshape(a.shape)
    if (
        type(a) is np.ndarray
        and type(c) is np.ndarray
        and type(b) is float
        and a.dtype == c.dtype
        and a.shape == c.shape
        and _NUMPY_DIGITS.get(a.dtype, _NARROW + 1) <= _NARROW
    ):  # an optimizer's update of a float32 parameter, shortest
        dtype = a.dtype
        s = _narrow_fma(a, float(dtype.type(b)), c, _NUMPY_DIGITS[dtype], _INF64, _TINY[dtype])
        if out is None or out.shape != s.shape or out.dtype != dtype:
            return s.astype(dtype)
        out[...] = s
        return out
    xp = array_module(a, b, c)
    dtype = xp.result_type(a, b, c)
    if xp is np and dtype.kind == "f" and all(getattr(v, "size", 1) <= _SMALL for v in (a, b, c)):
        return _fma_small(a, b, c, dtype, _digits(xp, dtype))
    a, b, c = (xp.asarray(v, dtype=dtype) for v in (a, b, c))
    if not _is_floating(xp, dtype):
        return a * b + c
    digits = _digits(xp, dtype)
    inf = xp.asarray(math.inf, dtype=xp.float64 if digits <= _NARROW else dtype)
    if digits <= _NARROW:
        split = 2.0 ** (53 - (digits + 1)) + 1  # keeps digits + 1 bits: room for a tie
        if xp is np:  # in one kept float64 buffer: no float64 copies of the operands
            s = _narrow_fma(a, b, c, digits, inf, float(np.finfo(dtype).tiny))
            if out is None or out.shape != s.shape or out.dtype != dtype:
                return s.astype(dtype)
            out[...] = s  # (rounded to dtype as astype rounds)
            return out
        wide = [xp.asarray(v, dtype=xp.float64) for v in (a, b, c)]
        product = wide[0] * wide[1]
        s, e = _two_sum(product, wide[2])
        ties = (e != 0) & (s == split * s - (split * s - s))
        return xp.asarray(xp.where(ties, xp.nextafter(s, xp.copysign(inf, e)), s), dtype=dtype)
    split = xp.asarray(2.0 ** ((digits + 1) // 2) + 1, dtype=dtype)
    p, pe = _two_product(a, b, split)
    s, se = _two_sum(p, c)
    t, te = _two_sum(pe, se)
    r, e2 = _two_sum(s, t)
    beyond = xp.nextafter(r, xp.copysign(inf, e2))
    tie = (te != 0) & ((e2 > 0) == (te > 0)) & (xp.abs(e2) * 2 == xp.abs(beyond - r))
    fused = xp.where(tie, beyond, r)
    return xp.where(xp.isfinite(fused), fused, a * b + c)


def add(x: Any, other: Any, alpha: float = 1, out: Any = None) -> Any:
    """``x + alpha * other`` as PyTorch's ``add`` computes it: rounded once (with alpha 1,
    the plain sum); into ``out`` when given (see ``fma``)."""
    if alpha != 1:
        return fma(other, alpha, x, out)
    if out is None:
        return x + other
    out[...] = x + other
    return out


def lerp(start: Any, end: Any, weight: float) -> Any:
    """``start + weight * (end - start)`` as PyTorch's ``lerp`` rounds it: fused, and
    from ``end`` when ``weight`` is 0.5 or more (``end - (1 - weight) * (end - start)``)."""
    if abs(weight) < 0.5:
        return fma(end - start, weight, start)
    xp = array_module(start, end)
    dtype = xp.result_type(start, end, weight)
    w = xp.asarray(weight, dtype=dtype)
    return fma(end - start, w - 1, end)


def addcmul(x: Any, tensor1: Any, tensor2: Any, value: float = 1) -> Any:
    """``x + value * tensor1 * tensor2`` as PyTorch's ``addcmul``: ``value * tensor1``
    rounded, then multiplied by ``tensor2`` and added to ``x`` in one rounding."""
    return fma(tensor1 if value == 1 else value * tensor1, tensor2, x)


def addcdiv(x: Any, tensor1: Any, tensor2: Any, value: float = 1) -> Any:
    """``x + value * tensor1 / tensor2`` as PyTorch's ``addcdiv``: ``value * tensor1``,
    divided by ``tensor2``, added to ``x``, each rounded."""
    return x + (tensor1 if value == 1 else value * tensor1) / tensor2
