"""PyTorch's Tensor methods as functions on raw arrays.

Compiled code holds arrays, not Tensors: a method call such as ``h.sum(dim=1)`` or
``x.view(-1, 1)`` in a compiled function is rewritten into a call of the function of the
same name here, which has PyTorch's semantics on arrays (and a rule in the registry).
An object that is not an array gets its own method called, so ``model.to(device)`` still
works when ``model`` is a Module.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import numpy as np

from .. import backend, dtypes, fused
from ..backend import array_module
from .arrays import FLOAT_DTYPES, float_mean, np_mean, unbroadcast
from .assembly import take_along_axis_grad
from .mutation import in_generated_code, refuse
from .objects import operands
from .sorting import kth_order, median_order, sort_order, topk_order

_add_reduce = np.add.reduce


def is_array(x: Any) -> bool:
    """Whether ``x`` is an array compiled code holds (NumPy's or CuPy's), not a Tensor."""
    return isinstance(x, (np.ndarray, np.generic)) or type(x).__module__.startswith("cupy")


def axis(dim: Any) -> Any:
    """PyTorch's ``dim`` as NumPy's ``axis`` (a list becomes a tuple; an empty one, None:
    PyTorch reduces over every dim for ``dim=()``)."""
    return (tuple(dim) or None) if isinstance(dim, (list, tuple)) else dim


def reduction_dim(x: Any, dim: Any) -> Any:
    """``dim`` of a reduction, None for a 0-d array (whose dims 0 and -1 PyTorch takes
    for itself; NumPy has no axis there)."""
    if dim is None or getattr(x, "ndim", 1):
        return dim
    for d in dim if isinstance(dim, (list, tuple)) else (dim,):
        checked_dim(0, d)
    return None


def sum(x: Any, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Any:
    """``x.sum(dim, keepdim, dtype=...)``: ``dtype`` casts ``x`` first, as PyTorch's."""
    if dtype is not None:
        if not is_array(x):
            return x.sum(dim, keepdim, dtype=dtype)
        x = x.astype(_numpy_dtype(dtype), copy=False)
    dim = reduction_dim(x, dim)
    if type(x) is np.ndarray:  # (the reduction ndarray.sum calls: the same bits, sooner)
        return _add_reduce(x, axis(dim), None, None, keepdim)
    if not is_array(x):
        return x.sum(dim, keepdim) if dim is not None else x.sum()
    return x.sum(axis=axis(dim), keepdims=keepdim)


def mean(x: Any, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Any:
    """``x.mean(dim, keepdim, dtype=...)``: ``dtype`` casts ``x`` first, as PyTorch's."""
    if dtype is not None:
        if not is_array(x):
            return x.mean(dim, keepdim, dtype=dtype)
        x = x.astype(_numpy_dtype(dtype), copy=False)
    if dim is not None:  # (the mean of every entry, a training loss's, goes on at once)
        dim = reduction_dim(x, dim)
    if type(x) is np.ndarray:
        if x.dtype in FLOAT_DTYPES and x.ndim:  # (ndarray.mean's own steps: the same
            return float_mean(x, None if dim is None else axis(dim), keepdim)  # bits, sooner)
        return np_mean(x, None if dim is None else axis(dim), None, None, keepdim)
    if not is_array(x):
        return x.mean(dim, keepdim) if dim is not None else x.mean()
    return x.mean(axis=axis(dim), keepdims=keepdim)


class _ReturnType(tuple):
    """``(values, indices)`` of ``max``/``min`` along a dim (and of ``sort``, ``topk``),
    printed as PyTorch prints it."""

    _name = ""

    def __new__(cls, values: Any, indices: Any) -> Any:
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __repr__(self) -> str:
        return f"srcdiff.return_types.{self._name}(\nvalues={self[0]!r},\nindices={self[1]!r})"


RETURN_TYPES = {
    m: type(m, (_ReturnType,), {"_name": m, "__slots__": ()})
    for m in ("max", "min", "sort", "topk", "median", "kthvalue", "cummax", "cummin")
}


class aminmax_type(tuple):  # noqa: N801 - PyTorch's torch.return_types.aminmax
    """``(min, max)`` of ``aminmax``, printed as PyTorch prints it."""

    __slots__ = ()

    def __new__(cls, min: Any, max: Any) -> Any:  # noqa: A002 - PyTorch's field names
        return super().__new__(cls, (min, max))

    min = property(lambda self: self[0])
    max = property(lambda self: self[1])

    def __repr__(self) -> str:
        return f"srcdiff.return_types.aminmax(\nmin={self[0]!r},\nmax={self[1]!r})"


RETURN_TYPES["aminmax"] = aminmax_type


def values(x: Any) -> Any:
    """``r.values`` of ``r = x.max(dim)`` (its first entry)."""
    return x.values


def indices(x: Any) -> Any:
    """``r.indices`` of ``r = x.max(dim)`` (its second entry)."""
    return x.indices


def aminmax_min(r: Any) -> Any:
    """``r.min`` of ``r = x.aminmax()`` (its first entry); another value's ``.min``."""
    return r[0] if type(r) is aminmax_type else r.min


def aminmax_max(r: Any) -> Any:
    """``r.max`` of ``r = x.aminmax()`` (its second entry); another value's ``.max``."""
    return r[1] if type(r) is aminmax_type else r.max


def field_grad(r: Any, i: int, g: Any, field: str) -> list:
    """The gradient of ``r.<field>``, entry ``i`` of a result of ``max(dim)``, ``sort``,
    ``aminmax``... (``g`` there), or the entry of a named tuple's field of that name;
    another object's field of that name is refused: compiled Tensor code read it as
    such a result's."""
    if isinstance(r, (tuple, list)):  # (a named tuple's field by its name)
        fields = getattr(type(r), "_fields", None)
        i = fields.index(field) if fields is not None and field in fields else i
        return [g if j == i else None for j in range(len(r))]
    from .mutation import refuse  # mutation imports this module

    raise refuse(
        f"a field named .{field} of a {type(r).__qualname__}, differentiated: compiled "
        f"Tensor code reads .{field} as the field of a result of max(dim), sort or aminmax",
        "rename the field",
    )


# fields read as attributes (not called) that compiled Tensor code reads through a helper
# (``r.min`` of an aminmax result, not an array's method)
FIELDS = {"min": "aminmax_min", "max": "aminmax_max"}


def max(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """``x.max()``, or ``(values, indices)`` along ``dim`` as PyTorch returns them."""
    if not is_array(x):
        return x.max() if dim is None else x.max(dim, keepdim)
    if dim is None:
        return x.max()
    _dim_of("max", "maximum", dim)
    along = reduction_dim(x, dim)  # (a 0-d array's dim 0 or -1 is itself)
    found = x.max(axis=along, keepdims=keepdim), x.argmax(axis=along, keepdims=keepdim)
    return RETURN_TYPES["max"](*found)


def min(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """``x.min()``, or ``(values, indices)`` along ``dim`` as PyTorch returns them."""
    if not is_array(x):
        return x.min() if dim is None else x.min(dim, keepdim)
    if dim is None:
        return x.min()
    _dim_of("min", "minimum", dim)
    along = reduction_dim(x, dim)  # (a 0-d array's dim 0 or -1 is itself)
    found = x.min(axis=along, keepdims=keepdim), x.argmin(axis=along, keepdims=keepdim)
    return RETURN_TYPES["min"](*found)


def _dim_of(method: str, elementwise: str, dim: Any) -> None:
    """Refuse ``sd.max(a, b)`` of two tensors in compiled code, where ``b`` came as ``dim``:
    the rules of ``max`` along a dim would be applied to it."""
    shaped = getattr(dim, "ndim", 0) > 0 or getattr(dim, "dtype", np.dtype(int)).kind not in "iu"
    if shaped or hasattr(dim, "_changed"):  # (an integer, NumPy's too, is a dim)
        raise refuse(
            f"sd.{method}(a, b) of two tensors in a compiled function",
            f"write sd.{elementwise}(a, b)",
        )


def ddof(unbiased: bool, correction: Any) -> Any:
    """PyTorch's divisor ``n - correction``: 1 by default (``unbiased``), as NumPy's
    ``ddof`` (which may be a float too, as ``correction`` may)."""
    return int(unbiased) if correction is None else correction


def floats_for_spread(dtype: Any) -> None:
    """PyTorch's error for ``std`` and ``var`` of integers or booleans (NumPy would
    give a float)."""
    if np.dtype(dtype).kind in "biu":
        raise RuntimeError("std and var only support floating point and complex dtypes")


def var(x: Any, dim: Any = None, unbiased: bool = True, keepdim: bool = False,
        correction: Any = None) -> Any:  # fmt: skip
    """``x.var()``: unbiased by default, where NumPy's ``var`` divides by ``n``."""
    if not is_array(x):
        return x.var(dim, unbiased, keepdim, correction=correction)
    floats_for_spread(x.dtype)
    return x.var(
        axis=axis(reduction_dim(x, dim)), ddof=ddof(unbiased, correction), keepdims=keepdim
    )


def std(x: Any, dim: Any = None, unbiased: bool = True, keepdim: bool = False,
        correction: Any = None) -> Any:  # fmt: skip
    """``x.std()``: unbiased by default, as ``var``."""
    if not is_array(x):
        return x.std(dim, unbiased, keepdim, correction=correction)
    floats_for_spread(x.dtype)
    return x.std(
        axis=axis(reduction_dim(x, dim)), ddof=ddof(unbiased, correction), keepdims=keepdim
    )


def item(x: Any) -> Any:
    """``x.item()``: a Python number, which carries no gradient (as in PyTorch)."""
    return x.item()


def floating(x: Any) -> Any:
    """``x``, or for an integer or bool array the default float's: what PyTorch computes
    a function defined on reals of (``exp``, ``sqrt``, ``sigmoid`` ...) in."""
    if getattr(x, "dtype", None) is not None and x.dtype.kind in "biu":
        return backend.astype(x, dtypes.DEFAULT_FLOAT.numpy)
    return x


def _method(name: str, fn: Any, reals: bool = False) -> Any:
    """``x.<name>(*args)``: ``fn(x, *args)`` on an array (``reals``: a function of real
    numbers, of an integer array as the default float's), the method itself otherwise."""

    def method(x: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_array(x):
            return getattr(x, name)(*args, **kwargs)
        return fn(floating(x) if reals else x, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``x.{name}(...)`` on an array."
    return method


exp = _method("exp", np.exp, reals=True)
log = _method("log", np.log, reals=True)
sqrt = _method("sqrt", np.sqrt, reals=True)
abs = _method("abs", np.abs)
tanh = _method("tanh", np.tanh, reals=True)
sin = _method("sin", np.sin, reals=True)
cos = _method("cos", np.cos, reals=True)
neg = _method("neg", np.negative)
t = _method("t", np.transpose)
clone = _method("clone", np.copy)
square = _method("square", np.square)
reciprocal = _method("reciprocal", np.reciprocal, reals=True)
log1p = _method("log1p", np.log1p, reals=True)
expm1 = _method("expm1", np.expm1, reals=True)
sign = _method("sign", np.sign)


def _in_c_order(x: Any) -> Any:
    """``x`` in C order (a copy where it is not), 0-d where ``x`` is, which
    ``np.ascontiguousarray`` makes 1-d."""
    return np.ascontiguousarray(x).reshape(x.shape)


contiguous = _method("contiguous", _in_c_order)
floor = _method("floor", np.floor)
ceil = _method("ceil", np.ceil)
round = _method("round", np.round)  # (half to even, as PyTorch's)
trunc = _method("trunc", np.trunc)
isnan = _method("isnan", np.isnan)
isinf = _method("isinf", np.isinf)
isfinite = _method("isfinite", np.isfinite)


def expand(x: Any, *sizes: Any) -> Any:
    """``x.expand(*sizes)``: broadcast to ``sizes`` (-1 keeps a dim), a read-only view."""
    if not is_array(x):
        return x.expand(*sizes)
    sizes = shape_of(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return array_module(x).broadcast_to(x, shape)


def rsqrt(x: Any) -> Any:
    """``x.rsqrt()``: ``1 / sqrt(x)`` (of an integer array, the default float's), rounded
    twice, as PyTorch's CPU kernel computes it."""
    if not is_array(x):
        return x.rsqrt()
    x = floating(x)
    return 1.0 / array_module(x).sqrt(x)


def diagonal(x: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
    """``x.diagonal(offset, dim1, dim2)``: the diagonal of the dims ``dim1`` and ``dim2``,
    as the last dim (NumPy's read-only view: a write into it is an error, where PyTorch
    would write through into ``x``)."""
    if not is_array(x):
        return x.diagonal(offset, dim1, dim2)
    ndim = x.ndim
    return array_module(x).diagonal(x, offset, checked_dim(ndim, dim1), checked_dim(ndim, dim2))


def atan2(x: Any, other: Any) -> Any:
    """``x.atan2(other)``: the angle of the point ``(other, x)``, in the floating dtype
    PyTorch promotes to."""
    if not is_array(x):
        return x.atan2(other)
    return np.arctan2(*_promoted(x, other, "atan2"))


arctan2 = atan2


def remainder(x: Any, other: Any) -> Any:
    """``x.remainder(other)``: ``x - floor(x / other) * other`` (Python's ``%``)."""
    if not is_array(x):
        return x.remainder(other)
    return np.remainder(*_promoted(x, other, "remainder"))  # (a divisor 0 checked there)


def fmod(x: Any, other: Any) -> Any:
    """``x.fmod(other)``: the remainder with the sign of ``x`` (C's ``fmod``)."""
    if not is_array(x):
        return x.fmod(other)
    return np.fmod(*_promoted(x, other, "fmod"))  # (a divisor 0 checked there)


def erf(x: Any) -> Any:
    """``x.erf()``: the error function (SciPy's; the ``scipy`` extra)."""
    if not is_array(x):
        return x.erf()
    return scipy_erf()(floating(x))


def scipy_erf() -> Any:
    """SciPy's ``erf`` (whose rules srcdiff has), or PyTorch's error's kin without it."""
    try:
        import scipy.special
    except ImportError:  # pragma: no cover (the tests install the scipy extra)
        raise RuntimeError("erf needs SciPy: pip install 'srcdiff[scipy]'") from None
    return scipy.special.erf


def lerp(x: Any, end: Any, weight: Any) -> Any:
    """``x.lerp(end, weight)``: ``x + weight * (end - x)``, rounded as PyTorch's kernel
    rounds it: one fused multiply-add, from ``end`` where ``weight`` is 0.5 or more."""
    if not is_array(x):
        return x.lerp(end, weight)
    if x.dtype.kind != "f":  # (PyTorch's kernel has none for integers)
        raise RuntimeError(f'"lerp_kernel_scalar" not implemented for {x.dtype}')
    xp = array_module(x)
    if not hasattr(weight, "shape"):
        return fused.lerp(x, end, weight)
    w = promoted(weight, x, weight)
    diff = end - x
    low = fused.fma(diff, w, xp.broadcast_to(x, diff.shape))
    high = fused.fma(diff, w - 1, xp.broadcast_to(end, diff.shape))
    return xp.where(xp.abs(w) < 0.5, low, high)


def addcmul(x: Any, tensor1: Any, tensor2: Any, value: Any = 1) -> Any:
    """``x.addcmul(tensor1, tensor2, value=v)``: ``x + v * tensor1 * tensor2``, rounded as
    PyTorch's kernel rounds it (``fused.addcmul``)."""
    if not is_array(x):
        return x.addcmul(tensor1, tensor2, value=value)
    return fused.addcmul(x, tensor1, tensor2, value)


def logical_and(x: Any, other: Any) -> Any:
    return np.logical_and(x, other) if is_array(x) else x.logical_and(other)


def logical_or(x: Any, other: Any) -> Any:
    return np.logical_or(x, other) if is_array(x) else x.logical_or(other)


def logical_xor(x: Any, other: Any) -> Any:
    return np.logical_xor(x, other) if is_array(x) else x.logical_xor(other)


def logical_not(x: Any) -> Any:
    return np.logical_not(x) if is_array(x) else x.logical_not()


def all(x: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001 - Tensor.all
    """``x.all(dim)``: whether every entry (over ``dim``) is nonzero, a boolean array; over
    no dims (``dim=()``), each entry's own (where ``sum`` reduces all)."""
    if not is_array(x):
        return x.all(dim, keepdim)
    if _no_dims(dim):
        return backend.astype(x, bool)
    return array_module(x).asarray(np.all(x, axis=axis(dim), keepdims=keepdim))


def _no_dims(dim: Any) -> bool:
    return isinstance(dim, (list, tuple)) and not dim


def any(x: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001 - Tensor.any
    """``x.any(dim)``: whether some entry (over ``dim``) is nonzero, a boolean array (each
    entry's own over no dims, as ``all``)."""
    if not is_array(x):
        return x.any(dim, keepdim)
    if _no_dims(dim):
        return backend.astype(x, bool)
    return array_module(x).asarray(np.any(x, axis=axis(dim), keepdims=keepdim))


def div_rounded(x: Any, other: Any, rounding_mode: Any) -> Any:
    """``x.div(other, rounding_mode=...)``: the quotient rounded toward minus infinity
    (``"floor"``, Python's ``//``) or toward zero (``"trunc"``), in the dtype the operands
    promote to (integers stay integers), as PyTorch's; its gradient is zero."""
    if not is_array(x):
        return x.div(other, rounding_mode=rounding_mode)
    a, b = _promoted(x, other, "//")  # (no true division: integers stay integers; and a
    # zero divisor of integers checked there)
    if rounding_mode in ("floor", "trunc"):
        with np.errstate(divide="ignore", invalid="ignore"):  # (inf and nan, as PyTorch's)
            if rounding_mode == "floor":
                return np.floor_divide(a, b)
            if np.result_type(a, b).kind in "biu":
                q = np.floor_divide(a, b)
                return q + ((q < 0) & (q * b != a))  # toward zero where floor went past it
            return np.trunc(np.true_divide(a, b))
    if rounding_mode is None:
        raise refuse(
            "x.div(y, rounding_mode=None) given through a name in compiled code",
            "write x / y (or x.div(y)) for true division",
        )
    raise RuntimeError(
        "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
        f"'{rounding_mode}'"
    )


def repeat_interleave(x: Any, repeats: Any, dim: Any = None) -> Any:
    """``x.repeat_interleave(repeats, dim)``: each entry along ``dim`` repeated (of the
    flattened ``x`` without one), as ``np.repeat``."""
    if not is_array(x):
        return x.repeat_interleave(repeats, dim)
    if dim is not None:
        dim = checked_dim(x.ndim, dim)
    return array_module(x).repeat(x, repeats, axis=dim)


def masked_select(x: Any, mask: Any) -> Any:
    """``x.masked_select(mask)``: the entries where the boolean ``mask`` holds, ``x`` and
    ``mask`` broadcast together, as a vector (in C order)."""
    if not is_array(x):
        return x.masked_select(mask)
    if getattr(mask, "dtype", None) != np.bool_:
        raise RuntimeError(
            f"masked_select: expected BoolTensor for mask (got {getattr(mask, 'dtype', mask)})"
        )
    xp = array_module(x)
    shape = np.broadcast_shapes(x.shape, mask.shape)
    return xp.broadcast_to(x, shape)[xp.broadcast_to(mask, shape)]


def masked_select_grad(g: Any, x: Any, mask: Any) -> Any:
    """The gradient of ``masked_select(x, mask)``: ``g`` put back where ``mask`` holds,
    the broadcast entries' summed back onto ``x``."""
    xp = array_module(g)
    shape = np.broadcast_shapes(x.shape, mask.shape)
    d = xp.zeros(shape, dtype=g.dtype)
    d[xp.broadcast_to(mask, shape)] = g
    return unbroadcast(d, x)


def _vector_index(x: Any, dim: int, index: Any, name: str, negative: bool = False
                  ) -> tuple[int, Any]:  # fmt: skip
    """``dim`` checked, and ``index`` as a vector of positions within it (PyTorch's errors
    for a matrix of indices and for one out of range; ``negative`` takes ``-1`` for the
    last, as ``index_fill`` does)."""
    dim = checked_dim(x.ndim, dim) % builtins.max(x.ndim, 1)  # (-1 the last, counted)
    index = array_module(x).asarray(index)
    if index.ndim > 1 or index.dtype.kind not in "iu":
        raise IndexError(f"{name}(): Index is supposed to be a vector of integers")
    index = index.reshape(-1)
    in_range(index, x.shape[dim] if x.ndim else 1, name, negative)
    return dim, index


def index_fill(x: Any, dim: int, index: Any, value: Any) -> Any:
    """``x.index_fill(dim, index, value)``: ``x`` with the entries at ``index`` along
    ``dim`` (``-1`` the last) set to ``value`` (a number, or a 0-d tensor)."""
    if not is_array(x):
        return x.index_fill(dim, index, value)
    dim, index = _vector_index(x, dim, index, "index_fill", negative=True)
    if x.ndim == 0:  # its one entry, 0 or -1
        return array_module(x).full_like(x, value) if index.size else x.copy()
    out = x.copy()
    out[(slice(None),) * dim + (index,)] = value
    return out


def index_add(x: Any, dim: int, index: Any, source: Any, alpha: Any = 1) -> Any:
    """``x.index_add(dim, index, source, alpha=a)``: ``x`` with ``a * source[i]`` added
    to its entry ``index[i]`` along ``dim``, each time an index names it."""
    if not is_array(x):
        return x.index_add(dim, index, source, alpha=alpha)
    dim, index = _vector_index(x, dim, index, "index_add")
    xp = array_module(x)
    source = xp.asarray(source)
    if source.dtype != x.dtype:  # (PyTorch's: no cast)
        raise RuntimeError(
            f"index_add_(): self ({x.dtype}) and source ({source.dtype}) must have the same "
            "scalar type"
        )
    if (
        source.ndim != x.ndim
        or source.shape[dim] != index.shape[0]
        or source.shape[:dim] + source.shape[dim + 1 :] != x.shape[:dim] + x.shape[dim + 1 :]
    ):  # (PyTorch's: no broadcasting)
        raise RuntimeError(
            f"index_add_(): source of shape {list(source.shape)} does not fit index of "
            f"{index.shape[0]} entries along dim {dim} of a tensor of shape {list(x.shape)}"
        )
    added = source if alpha == 1 else source * alpha
    out = xp.moveaxis(x.copy(), dim, 0)
    out = backend.scatter_add(out, (index,), xp.moveaxis(added, dim, 0))
    return xp.moveaxis(out, 0, dim)


def index_add_grad(g: Any, dim: int, index: Any, alpha: Any) -> Any:
    """The gradient of ``source`` in ``index_add``: ``alpha`` times ``g``'s entries at
    ``index`` along ``dim``."""
    xp = array_module(g)
    dim = checked_dim(g.ndim, dim)
    part = xp.take(g, xp.reshape(xp.asarray(index), (-1,)), axis=dim)
    return part if alpha == 1 else part * alpha


# ---- tile, trace, select, unflatten, diff, median, kthvalue, aminmax, var_mean, norms ----


def tile(x: Any, *dims: Any) -> Any:
    """``x.tile(dims)``: ``x`` repeated ``dims[i]`` times along each dim (``np.tile``: ones
    put before the shorter of ``dims`` and ``x``'s shape)."""
    if not is_array(x):
        return x.tile(*dims)
    reps = shape_of(dims)
    n = builtins.max(len(reps), x.ndim)
    shape = (1,) * (n - x.ndim) + tuple(x.shape)
    sizes = [s * r for s, r in zip(shape, (1,) * (n - len(reps)) + reps, strict=True)]
    negative = [s for s in sizes if s < 0]
    if negative:
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {negative[0]}: {sizes}"
        )
    return array_module(x).tile(x, reps)


def trace(x: Any) -> Any:
    """``x.trace()``: the sum of a matrix's diagonal (integers as int64, as PyTorch's)."""
    if not is_array(x):
        return x.trace()
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    if x.dtype.kind == "b":
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return array_module(x).trace(x, dtype=np.int64 if x.dtype.kind in "iu" else None)


def select(x: Any, dim: int, index: Any) -> Any:
    """``x.select(dim, index)``: the slice at ``index`` along ``dim``, a view."""
    if not is_array(x):
        return x.select(dim, index)
    return x[select_index(x.shape, dim, index)]


def select_index(shape: tuple, dim: int, index: Any) -> tuple:
    """The index ``select`` reads, checked as PyTorch checks it."""
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    dim = checked_dim(len(shape), dim) % len(shape)
    index, size = operator.index(index), shape[dim]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(shape)} at "
            f"dimension {dim}"
        )
    return (slice(None),) * dim + (index,)


def unflatten(x: Any, dim: int, sizes: Any) -> Any:
    """``x.unflatten(dim, sizes)``: the dim ``dim`` made the dims ``sizes`` (one of them
    -1: inferred), a view."""
    if not is_array(x):
        return x.unflatten(dim, sizes)
    return x.reshape(unflattened_shape(x.shape, dim, sizes))


def unflattened_shape(shape: tuple, dim: int, sizes: Any) -> tuple:
    """The shape ``unflatten(dim, sizes)`` gives a tensor of ``shape``, with PyTorch's
    errors."""
    ndim = len(shape)
    dim = checked_dim(ndim, dim) % builtins.max(ndim, 1)
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten got an unexpected error:\nonly one dimension can be inferred")
    n = shape[dim] if ndim else 1
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes and known and n % known == 0:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != n or builtins.any(s < 0 for s in sizes):
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
            f"{dim} ({n}) in the input tensor"
        )
    return (*shape[:dim], *sizes, *shape[dim + 1 :])


def diff(x: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """``x.diff(n, dim, prepend, append)``: ``np.diff`` with PyTorch's checks (booleans
    differ where they change, as NumPy's do)."""
    if not is_array(x):
        return x.diff(n, dim, prepend, append)
    if x.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = checked_dim(x.ndim, dim)
    for other in (prepend, append):
        if other is not None and getattr(other, "ndim", None) != x.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    joined = {} if prepend is None else {"prepend": prepend}
    if append is not None:
        joined["append"] = append
    return array_module(x).diff(x, n, axis=dim, **joined)


def median(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """``x.median()``: the lower of the two middle values (NaN where there is one); along
    ``dim``, ``(values, indices)``, the index of a tied value the one PyTorch's CPU
    ``nth_element`` leaves (see ``sorting.median_order``)."""
    if not is_array(x):
        return x.median() if dim is None else x.median(dim, keepdim)
    xp = array_module(x)
    if dim is None:
        flat = xp.reshape(x, (-1,))
        if flat.size == 0 or (x.dtype.kind in "fc" and bool(xp.isnan(flat).any())):
            return xp.asarray(np.nan, dtype=x.dtype if x.dtype.kind in "fc" else None)
        mid = (flat.size - 1) // 2
        return xp.asarray(xp.partition(flat, mid)[mid])
    return _selected("median", x, dim, keepdim, lambda d: median_order(x, d))


def kthvalue(x: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """``x.kthvalue(k, dim, keepdim)``: ``(values, indices)`` of the ``k``-th smallest
    entries along ``dim``, the index of a tied value the one PyTorch's quickselect
    leaves (see ``sorting.kth_order``)."""
    if not is_array(x):
        return x.kthvalue(k, dim, keepdim)
    size = x.shape[checked_dim(x.ndim, dim)] if x.ndim else 1
    if size == 0:
        raise IndexError(
            f"kthvalue(): Expected reduction dim {checked_dim(x.ndim, dim) % x.ndim} to have "
            "non-zero size."
        )
    if not 1 <= k <= size:
        raise RuntimeError(
            f"kthvalue(): selected number k out of range for dimension "
            f"{checked_dim(x.ndim, dim) % builtins.max(x.ndim, 1)}"
        )
    return _selected("kthvalue", x, dim, keepdim, lambda d: kth_order(x, int(k), d))


def _selected(name: str, x: Any, dim: int, keepdim: bool, order: Any) -> Any:
    """``(values, indices)`` of the entries ``order(dim)`` picks along ``dim`` (kept)."""
    xp = array_module(x)
    dim = checked_dim(x.ndim, dim)
    if x.ndim == 0:
        return RETURN_TYPES[name](x.copy(), xp.zeros((), dtype=np.int64))
    if x.shape[dim] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim % x.ndim} to have non-zero size.")
    indices = order(dim % x.ndim)
    values = xp.take_along_axis(x, indices, axis=dim)
    if not keepdim:
        values, indices = xp.squeeze(values, axis=dim), xp.squeeze(indices, axis=dim)
    return RETURN_TYPES[name](values, indices)


def spread_args(dim: Any, unbiased: Any) -> tuple:
    """``dim`` and ``unbiased`` of ``var_mean``/``std_mean``, where ``unbiased`` may come
    in place of ``dim``."""
    return (None, dim) if isinstance(dim, bool) else (dim, unbiased)


def aminmax_dim(x: Any, dim: Any) -> Any:
    """The dim ``x.aminmax(dim=dim)`` reduces (None: all), with PyTorch's errors for an
    empty one."""
    if dim is None and x.size == 0:
        raise RuntimeError(
            "aminmax(): cannot compute aminmax over an empty dimension as the operation has "
            "no identity."
        )
    dim = reduction_dim(x, dim)
    if dim is not None:
        dim = checked_dim(x.ndim, dim)
        if x.shape[dim] == 0:
            raise IndexError(
                f"aminmax: Expected reduction dim {dim % x.ndim} to have non-zero size."
            )
    return dim


def aminmax(x: Any, *, dim: Any = None, keepdim: bool = False) -> Any:
    """``x.aminmax(dim=, keepdim=)``: ``(min, max)`` (of every entry, or along ``dim``)."""
    if not is_array(x):
        return x.aminmax(dim=dim, keepdim=keepdim)
    dim = aminmax_dim(x, dim)
    xp = array_module(x)
    keep = keepdim and dim is not None
    low, high = xp.amin(x, axis=dim, keepdims=keep), xp.amax(x, axis=dim, keepdims=keep)
    if keepdim and dim is None:  # (every dim kept, of size 1)
        low, high = xp.reshape(low, (1,) * x.ndim), xp.reshape(high, (1,) * x.ndim)
    return aminmax_type(xp.asarray(low), xp.asarray(high))


def var_mean(x: Any, dim: Any = None, unbiased: Any = True, keepdim: bool = False, *,
             correction: Any = None) -> Any:  # fmt: skip
    """``torch.var_mean(x, ...)``: ``(x.var(...), x.mean(...))`` (``unbiased`` may come
    second, in place of ``dim``, as PyTorch takes it)."""
    dim, unbiased = spread_args(dim, unbiased)
    return (var(x, dim, unbiased, keepdim, correction),
            mean(x, reduction_dim(x, dim), keepdim))  # fmt: skip


def std_mean(x: Any, dim: Any = None, unbiased: Any = True, keepdim: bool = False, *,
             correction: Any = None) -> Any:  # fmt: skip
    """``torch.std_mean(x, ...)``: ``(x.std(...), x.mean(...))``."""
    dim, unbiased = spread_args(dim, unbiased)
    return (std(x, dim, unbiased, keepdim, correction),
            mean(x, reduction_dim(x, dim), keepdim))  # fmt: skip


def euclid_by_product(x1: Any, x2: Any, compute_mode: Any) -> bool:
    """Whether PyTorch's ``cdist`` takes 2-norm distances through a matrix product: past
    25 rows of either (its default), or where ``compute_mode`` asks for it."""
    if compute_mode == "use_mm_for_euclid_dist":
        return True
    if compute_mode == "donot_use_mm_for_euclid_dist":
        return False
    if compute_mode not in (None, "use_mm_for_euclid_dist_if_necessary"):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    return x1.shape[-2] > 25 or x2.shape[-2] > 25


def euclid_by_product_values(x1: Any, x2: Any) -> Any:
    """The 2-norm distances as PyTorch's ``_euclidean_dist`` computes them: ``|a|^2 -
    2 a.b + |b|^2`` in one matrix product, negative rounding clamped to 0 (a distance of a
    row to itself need not be 0 there)."""
    xp = array_module(x1, x2)
    n1, n2 = xp.sum(x1 * x1, axis=-1, keepdims=True), xp.sum(x2 * x2, axis=-1, keepdims=True)
    a = xp.concatenate([x1 * -2, n1, xp.ones_like(n1)], axis=-1)
    b = xp.concatenate([x2, xp.ones_like(n2), n2], axis=-1)
    return xp.sqrt(xp.maximum(a @ xp.swapaxes(b, -1, -2), 0))


def norm_order(x: Any, p: Any) -> Any:
    """NumPy's vector ``ord`` for PyTorch's ``p`` (None for the 2-norm), with PyTorch's
    errors for an integer tensor and a matrix norm."""
    kind = getattr(getattr(x, "dtype", None), "kind", "f")
    if kind not in "fc":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{SCALAR_TYPES.get(str(x.dtype), x.dtype)}"
        )
    if p in ("fro", 2, 2.0):
        return None
    if isinstance(p, str):
        raise NotImplementedError(f"srcdiff computes vector norms only, not p={p!r}")
    return builtins.float(p)


def norm_rows(x: Any, dim: Any) -> Any:
    """``x``'s dims ``dim`` (every dim for None) moved last and made one: a row per entry
    of the norm over them."""
    xp = array_module(x)
    dims = _norm_dims(x.ndim, dim)
    moved = xp.moveaxis(x, dims, tuple(range(x.ndim - len(dims), x.ndim)))
    kept = moved.shape[: x.ndim - len(dims)]
    return xp.reshape(moved, (*kept, math.prod(moved.shape[len(kept) :])))  # (-1: no size
    # an empty array's rows can be told from)


def norm_rows_back(d: Any, x: Any, dim: Any) -> Any:
    """``d``, shaped as ``norm_rows(x, dim)``, back in ``x``'s layout."""
    xp = array_module(d)
    dims = _norm_dims(x.ndim, dim)
    rest = [i for i in range(x.ndim) if i not in dims]
    moved = xp.reshape(d, (*(x.shape[i] for i in rest), *(x.shape[i] for i in dims)))
    return xp.moveaxis(moved, tuple(range(x.ndim - len(dims), x.ndim)), dims)


def _norm_dims(ndim: int, dim: Any) -> tuple:
    if dim is None or (isinstance(dim, (list, tuple)) and not dim):
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (list, tuple)) else (dim,)
    normal = tuple(checked_dim(ndim, d) % builtins.max(ndim, 1) for d in dims)
    return normal if ndim else ()


def norm_shape(x: Any, dim: Any, keepdim: bool) -> tuple:
    """The shape of the norm of ``x`` over ``dim``."""
    dims = _norm_dims(x.ndim, dim)
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(x.shape))
    return tuple(s for i, s in enumerate(x.shape) if i not in dims)


def vector_norm(x: Any, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Any:
    """The ``p``-norm of ``x`` over ``dim`` (every dim for None) as one vector: ``p`` a
    number (inf, -inf, 0 among them) or ``"fro"``."""
    xp = array_module(x)
    ord = norm_order(x, p)
    with np.errstate(divide="ignore"):
        found = xp.linalg.norm(norm_rows(x, dim), ord, -1)
    return xp.reshape(xp.asarray(found, dtype=x.dtype), norm_shape(x, dim, keepdim))


def norm(x: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Any:
    """``x.norm(p, dim, keepdim)``: the vector ``p``-norm, of every entry or along
    ``dim`` (the 2-norm as NumPy's ``linalg.norm`` computes it)."""
    if not is_array(x):
        return x.norm(p, dim, keepdim)
    if norm_order(x, p) is None and (dim is None or isinstance(dim, int)):
        return array_module(x).linalg.norm(x, None, axis(dim), keepdim)
    return vector_norm(x, p, dim, keepdim)


def dist(x: Any, other: Any, p: Any = 2) -> Any:
    """``x.dist(other, p)``: the ``p``-norm of ``x - other`` (broadcast together)."""
    if not is_array(x):
        return x.dist(other, p)
    x, other = _promoted(x, other, "sub")
    return vector_norm(x - other, p)


def cdist(x1: Any, x2: Any, p: Any = 2.0, compute_mode: Any = None) -> Any:
    """``torch.cdist(x1, x2, p)``: the ``p``-norm distances between the rows of ``x1``
    and those of ``x2`` (batches broadcast), each computed from its differences."""
    if getattr(x1, "ndim", 0) < 2 or getattr(x2, "ndim", 0) < 2:
        raise RuntimeError(
            f"cdist only supports at least 2D tensors, X1 got: {getattr(x1, 'ndim', 0)}D"
            if getattr(x1, "ndim", 0) < 2
            else f"cdist only supports at least 2D tensors, X2 got: {x2.ndim}D"
        )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    xp = array_module(x1, x2)
    if p == 2 and euclid_by_product(x1, x2, compute_mode):
        return euclid_by_product_values(x1, x2)
    diff = xp.expand_dims(x1, -2) - xp.expand_dims(x2, -3)
    with np.errstate(divide="ignore"):
        return xp.asarray(xp.linalg.norm(diff, norm_order(diff, p), -1), dtype=diff.dtype)


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:  # fmt: skip
    """``x.nan_to_num(...)``: NaN, +inf and -inf replaced (the infinities by the dtype's
    largest and lowest finite numbers by default)."""
    if not is_array(x):
        return x.nan_to_num(nan, posinf, neginf)
    return array_module(x).nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def type_as(x: Any, other: Any) -> Any:
    """``x.type_as(other)``: ``x`` in ``other``'s dtype."""
    if not is_array(x):
        return x.type_as(other)
    return x if x.dtype == other.dtype else x.astype(other.dtype)


def sigmoid(x: Any) -> Any:
    """The logistic function as PyTorch computes it, ``1 / (1 + exp(-x))``: 0 where
    ``exp(-x)`` overflows (no warning), 1 and 0 at +-inf."""
    if not is_array(x):
        return x.sigmoid()
    xp, x = array_module(x), floating(x)
    with np.errstate(over="ignore"):
        return (1 / (1 + xp.exp(-x))).astype(x.dtype, copy=False)


def index(idx: Any) -> Any:
    """A user's index in compiled Tensor code, where it is an array or a list: refused
    where PyTorch (indexing a Tensor) and NumPy (an array) read it differently, as
    compiled code cannot tell which the object indexed is in the program run eagerly.
    A Tensor in it (a mask ``y > 0`` of a Tensor the code did not unwrap) is given as
    its array: the adjoint indexes arrays with it."""
    if isinstance(idx, list) and indices_per_dim(idx):
        raise refuse(
            "a list of index arrays, lists or slices as one index: PyTorch reads it as one "
            "index per dim, NumPy as one index of the first dim",
            "write the indices as a tuple (x[rows, cols]), or make the list an array",
        )
    if isinstance(idx, tuple):
        return tuple(index_part(i) for i in idx)
    return index_part(idx)


def index_part(idx: Any) -> Any:
    """One part of a user's index in compiled Tensor code, a Tensor as its array: a
    uint8 array is refused (PyTorch reads it as a mask, NumPy as integer indices)."""
    from .calls import Host  # (calls imports this module)

    if isinstance(idx, Host.tensor):
        idx = idx._data
    if is_mask_of_bytes(idx):
        raise refuse(
            "a uint8 array as an index: PyTorch reads it as a mask, NumPy as indices",
            "make it .bool() for a mask, or .long() for indices",
        )
    return idx


def indices_per_dim(idx: list) -> bool:
    """Whether PyTorch reads the list ``idx`` as a tuple (its ``treatSequenceAsTuple``:
    fewer than 32 entries, one of which is a tensor or an array, a sequence, a slice,
    None or ...; NumPy's scalars are numbers)."""
    return len(idx) < 32 and builtins.any(
        (hasattr(i, "shape") and not isinstance(i, np.generic))
        or isinstance(i, (list, tuple, slice))
        or i is None
        or i is Ellipsis
        for i in idx
    )


def is_mask_of_bytes(i: Any) -> bool:
    """A uint8 array (not a number): PyTorch's mask of old (``ByteTensor``)."""
    return getattr(i, "dtype", None) == np.uint8 and getattr(i, "ndim", 0) > 0


def checked_dim(ndim: int, dim: int) -> int:
    """``dim`` of a tensor of ``ndim`` dimensions (a 0-d one has dims 0 and -1), or
    PyTorch's IndexError where there is no such dim."""
    bound = builtins.max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-bound}, {bound - 1}], "
            f"but got {dim})"
        )
    return dim


def squeezed_axes(shape: tuple, dim: Any) -> tuple:
    """The axes ``squeeze(dim)`` drops: those of ``dim`` (an int or a tuple of them) whose
    size is 1 (PyTorch leaves the others; a 0-d tensor's dim 0 or -1 drops nothing)."""
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    ndim = len(shape)
    normal = [checked_dim(ndim, d) % builtins.max(ndim, 1) for d in dims]
    for i, d in enumerate(normal):
        if d in normal[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return tuple(d for d in normal if ndim and shape[d] == 1)


def squeeze(x: Any, dim: Any = None) -> Any:
    """As PyTorch: squeezing a dimension whose size is not 1 leaves it; ``dim`` may be a
    tuple of dims."""
    if not is_array(x):
        return x.squeeze() if dim is None else x.squeeze(dim)
    return x.squeeze() if dim is None else x.squeeze(axis=squeezed_axes(x.shape, dim))


def flattened_shape(shape: tuple, start_dim: int, end_dim: int) -> tuple:
    """The shape ``flatten(start_dim, end_dim)`` gives a tensor of ``shape``, with
    PyTorch's errors for dims out of range or out of order."""
    ndim = len(shape)
    start = checked_dim(ndim, start_dim) % builtins.max(ndim, 1)
    end = checked_dim(ndim, end_dim) % builtins.max(ndim, 1)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if not ndim:
        return (1,)
    return (*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    if not is_array(x):
        return x.flatten(start_dim, end_dim)
    return x.reshape(flattened_shape(x.shape, start_dim, end_dim))


# max(x, 0): NaN stays NaN, -inf is 0, as in PyTorch (``x * (x > 0)`` makes them NaN)
relu = _method("relu", lambda x: array_module(x).maximum(x, 0))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """``F.leaky_relu``: x where x > 0, else ``negative_slope`` x (one primitive, whose
    gradient a create_graph backward makes an operation of ``x``, as PyTorch's)."""
    return array_module(x).where(x > 0, x, x * negative_slope)


def hardtanh(x: Any, min_val: float, max_val: float) -> Any:
    """``F.hardtanh``: x clamped to [min_val, max_val] (one primitive, as ``leaky_relu``)."""
    return array_module(x).clip(x, min_val, max_val)


def elu(x: Any, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0) -> Any:
    """``F.elu``, ``F.selu`` and ``F.celu``: ``scale x`` where x > 0, else ``alpha scale
    (exp(input_scale x) - 1)`` (one primitive, whose gradient is PyTorch's
    ``elu_backward``: from ``exp``, not from the result)."""
    xp = array_module(x)
    negative = xp.expm1(xp.where(x > 0, 0.0, x) * input_scale) * (alpha * scale)
    return xp.where(x <= 0, negative, x * scale)


def nll_picked(log_p: Any, hot: Any) -> Any:
    """``F.nll_loss``'s and ``F.cross_entropy``'s entries of ``log_p`` at the targets (the
    booleans ``hot``), 0 elsewhere (one primitive, whose gradient a create_graph backward
    makes an operation of ``log_p``, as PyTorch's ``nll_loss_backward``)."""
    return array_module(log_p).where(hot, log_p, log_p.dtype.type(0))


def threshold(x: Any, threshold: float, value: float) -> Any:
    """``F.threshold``: x where x > ``threshold`` (NaN too), else ``value`` (one primitive,
    as ``leaky_relu``)."""
    return array_module(x).where(x <= threshold, x.dtype.type(value), x)


def hardshrink(x: Any, lambd: float = 0.5) -> Any:
    """``F.hardshrink``: 0 where -lambd <= x <= lambd, else x (one primitive)."""
    return array_module(x).where((x >= -lambd) & (x <= lambd), x.dtype.type(0), x)


def softshrink(x: Any, lambd: float = 0.5) -> Any:
    """``F.softshrink``: x moved ``lambd`` toward 0, 0 where -lambd <= x <= lambd (``x * 0``
    there, as PyTorch's kernel: -0.0 of a negative x); one primitive."""
    xp = array_module(x)
    return xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, x * 0))


def hardsigmoid(x: Any) -> Any:
    """``F.hardsigmoid``: ``min(max(x + 3, 0), 6) / 6`` (one primitive)."""
    return array_module(x).clip(x + 3, 0, 6) / 6


def hardswish(x: Any) -> Any:
    """``F.hardswish``: ``x min(max(x + 3, 0), 6) / 6`` (one primitive)."""
    return x * array_module(x).clip(x + 3, 0, 6) / 6


pow = _method("pow", lambda x, exponent: operator.pow(*_promoted(x, exponent, "pow")))
clamp = _method("clamp", lambda x, min=None, max=None: array_module(x).clip(x, min, max))
view = _method("view", lambda x, *shape: x.reshape(*shape))


def _transposed(x: Any, dim0: int, dim1: int) -> Any:
    """``swapaxes``; a 0-d tensor's dims 0 and -1 leave it as it is (a view of it), as
    PyTorch's do."""
    if x.ndim == 0:
        checked_dim(0, dim0)
        checked_dim(0, dim1)
        return x[...]
    return array_module(x).swapaxes(x, dim0, dim1)


transpose = _method("transpose", _transposed)
permute = _method("permute", lambda x, *dims: x.transpose(*dims))
unsqueeze = _method("unsqueeze", lambda x, dim: array_module(x).expand_dims(x, dim))
float = _method("float", lambda x: x.astype(np.float32))
double = _method("double", lambda x: x.astype(np.float64))
long = _method("long", lambda x: x.astype(np.int64))


def to(x: Any, *args: Any, **kwargs: Any) -> Any:
    """``x.to(dtype)`` casts; ``x.to('cpu')`` keeps a CPU array as it is."""
    if not is_array(x):
        return x.to(*args, **kwargs)
    from .. import dtypes

    for a in list(args) + list(kwargs.values()):
        parsed = dtypes.parse(a) if not isinstance(a, str) else None
        if parsed is not None:
            return x.astype(parsed.numpy)
        if (
            isinstance(a, str)
            and a.startswith("cuda")
            and not type(x).__module__.startswith("cupy")
        ):
            raise RuntimeError(
                "compiled code cannot move arrays between devices: move "
                "the tensors before calling the compiled function"
            )
    return x


def cpu(x: Any) -> Any:
    """``x.cpu()``: a CPU array as it is (compiled code moves no array between devices)."""
    if not is_array(x):
        return x.cpu()
    if type(x).__module__.startswith("cupy"):
        raise RuntimeError(
            "compiled code cannot move arrays between devices: move the tensors after "
            "calling the compiled function"
        )
    return x


def detach(x: Any) -> Any:
    return x if is_array(x) else x.detach()


def numpy(x: Any) -> Any:
    return x if is_array(x) else x.numpy()


def size(x: Any, dim: Any = None) -> Any:
    if not is_array(x):
        return x.size() if dim is None else x.size(dim)
    return tuple(x.shape) if dim is None else x.shape[dim]


def numel(x: Any) -> int:
    return int(x.size) if is_array(x) else x.numel()


def dim(x: Any) -> int:
    return x.ndim if is_array(x) else x.dim()


def _promoted(x: Any, other: Any, name: str) -> tuple[Any, Any]:
    """Both operands of ``x.name(other)`` (``add``, ``div`` ...) in the dtype PyTorch
    computes the operation in (see ``promoted``)."""
    return promoted(x, x, other, name), promoted(other, x, other, name)


def add(x: Any, other: Any, alpha: Any = 1) -> Any:
    """``x.add(other, alpha=a)``: ``x + a * other``, rounded once (a fused multiply-add,
    as PyTorch's kernel computes it)."""
    if not is_array(x):
        return x.add(other, alpha=alpha)
    return fused.add(*_promoted(x, other, "add"), alpha)


def sub(x: Any, other: Any, alpha: Any = 1) -> Any:
    """``x.sub(other, alpha=a)``: ``x - a * other``, rounded once as ``add`` rounds it."""
    if not is_array(x):
        return x.sub(other, alpha=alpha)
    x, other = _promoted(x, other, "sub")
    return x - other if alpha == 1 else fused.fma(other, -alpha, x)


mul = _method("mul", lambda x, other: np.multiply(*_promoted(x, other, "mul")))
div = _method("div", lambda x, other: np.divide(*_promoted(x, other, "div")))
swapaxes = swapdims = transpose  # (PyTorch's other names of transpose)


# PyTorch's names of its C++ types, in its errors
C_TYPES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
           "int32": "int", "int16": "short int", "int8": "signed char",
           "uint8": "unsigned char", "bool": "bool"}  # fmt: skip


# the operations computed in a floating dtype whatever their operands' (true divisions)
_FLOATING = frozenset({"/", "/=", "div", "atan2", "copysign"})
# ... and those that divide integers as integers
_INTEGER_DIVISIONS = frozenset({"//", "%", "//=", "%=", "remainder", "fmod"})
_CHECKED = _FLOATING | _INTEGER_DIVISIONS  # the symbols promoted does more for


def integer_divisor(a: Any, b: Any) -> None:
    """PyTorch's error for an integer division (``//``, ``%``, ``remainder``, ``fmod``,
    ``div(rounding_mode=)``) by zero, where NumPy gives 0."""
    kinds = (getattr(v, "dtype", np.dtype(type(v))).kind for v in (a, b))
    if builtins.all(k in "biu" for k in kinds) and bool((array_module(b).asarray(b) == 0).any()):
        raise RuntimeError("ZeroDivisionError")


def promoted(x: Any, a: Any, b: Any, symbol: str = "") -> Any:
    """``x`` (the operand ``a`` or ``b`` of the Python operator ``symbol`` in Tensor code)
    cast to the dtype PyTorch computes the operation in (``dtypes.result_dtype``; the
    default float for a true division of integers, ``_FLOATING``), so that NumPy
    computes what PyTorch does: an int64 tensor divided by 255.0 is float32, not float64.
    Numbers are left as they are (NumPy takes them in the array's dtype). An operand that
    is no plain array is checked as ``rt.operands`` checks it (the compiler checks no
    operator further whose operands all come from here)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and (x is a or x is b):
        dtype = a.dtype  # (arrays of one float dtype: nothing to check or cast, the usual
        if dtype is b.dtype and dtype in FLOAT_DTYPES and symbol not in _CHECKED:  # case)
            return x
    if type(x) is not np.ndarray or x.dtype.kind in "OV":
        operands(symbol, a, b)
    if symbol in _INTEGER_DIVISIONS:  # (a constant divisor gets no call of its own)
        integer_divisor(a, b)
    floating = symbol in _FLOATING
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is db and not floating:  # (one dtype: nothing to promote, the common case)
        return x
    dtype = getattr(x, "dtype", None)
    if not isinstance(dtype, np.dtype) or not builtins.all(
        isinstance(d, np.dtype) for d in (da, db) if d is not None
    ):  # (a number, or a Tensor compiled code left as it is: its own operator promotes)
        return x
    wanted = dtypes.result_dtype(a, b)
    if floating and dtypes.category(wanted) != dtypes.FLOAT:
        wanted = dtypes.DEFAULT_FLOAT.numpy
    if dtype == wanted:
        return x
    return backend.astype(x, wanted)


# PyTorch's names of dtypes in its messages
SCALAR_TYPES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                "bool": "Bool"}  # fmt: skip


def augmented(x: Any, new: Any) -> Any:
    """``x <op>= v`` of a Tensor in compiled code, given ``new = x <op> v``: PyTorch's
    in-place operator keeps ``x``'s shape and dtype (a 0-d one too, a NumPy number here)
    and raises where the result cannot be cast back (a float into an integer tensor) or
    does not fit; numbers and lists take ``new``, as Python rebinds them."""
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if not isinstance(dtype, np.dtype) or shape is None:
        return new
    found = getattr(new, "shape", ())
    if tuple(found) != tuple(shape):
        raise RuntimeError(
            f"output with shape {list(shape)} doesn't match the broadcast shape {list(found)}"
        )
    result = getattr(new, "dtype", None)
    if result is None or result == dtype:
        return new
    if dtypes.category(result) > dtypes.category(dtype):
        raise RuntimeError(
            f"result type {SCALAR_TYPES.get(str(result), result)} can't be cast to the "
            f"desired output type {SCALAR_TYPES.get(str(dtype), dtype)}"
        )
    return backend.astype(new, dtype)


def same_dtypes(a: Any, b: Any) -> None:
    """PyTorch's error for a matrix product of two dtypes (it promotes neither): ``a`` and
    ``b`` are arrays or Tensors. (The dtypes are compared before they are named: every
    layer of a network checks its product, at every step.)"""
    da = getattr(getattr(a, "_data", a), "dtype", None)
    db = getattr(getattr(b, "_data", b), "dtype", None)
    if da is db or da is None or db is None:
        return
    da, db = str(da), str(db)
    if da != db:
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{C_TYPES.get(da, da)} != {C_TYPES.get(db, db)}"
        )


def _product(name: str) -> Any:
    """``x.<name>(other)``: the matrix product, of two arrays of one dtype."""

    def method(x: Any, other: Any) -> Any:
        if not is_array(x):
            return getattr(x, name)(other)
        same_dtypes(x, other)
        return np.matmul(x, other)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``x.{name}(other)`` on an array."
    return method


matmul = _product("matmul")
mm = _product("mm")
dot = _product("dot")  # of 1-D Tensors, as PyTorch's


def softmax_shift(x: Any, dim: int) -> Any:
    """The maximum along ``dim`` (kept), that softmax subtracts for stability (taken as
    a constant: the result does not depend on it); for an empty array, zeros (NumPy's
    maximum has no value to give)."""
    checked_dim(x.ndim, dim)
    if not x.size:
        shape = list(x.shape)
        if shape:
            shape[dim] = 1
        return array_module(x).zeros(tuple(shape), dtype=x.dtype)
    return x.max(axis=dim, keepdims=True)


def softmax(x: Any, dim: int) -> Any:
    if not is_array(x):
        return x.softmax(dim)
    xp = array_module(x)
    e = xp.exp(x - softmax_shift(x, dim))
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax(x: Any, dim: int) -> Any:
    if not is_array(x):
        return x.log_softmax(dim)
    xp = array_module(x)
    shifted = x - softmax_shift(x, dim)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


def copied(x: Any, src: Any, non_blocking: bool = False) -> Any:
    """The new value of ``x`` after ``x.copy_(src)``: ``src`` broadcast to ``x``'s shape,
    in ``x``'s dtype (compiled code writes it into ``x`` as an update in place)."""
    if not is_array(x):
        return x.copy_(src, non_blocking)
    xp = array_module(x)
    return xp.broadcast_to(xp.asarray(src).astype(x.dtype, copy=False), x.shape).copy()


def masked_fill(x: Any, mask: Any, value: Any) -> Any:
    if not is_array(x):
        return x.masked_fill(mask, value)
    fill_checked(mask, value)
    return array_module(x).where(mask, value, x).astype(x.dtype, copy=False)


def fill_checked(mask: Any, value: Any) -> None:
    """Refuse what PyTorch's masked_fill refuses: a mask that is not boolean, a value of
    one dim or more."""
    kind = getattr(getattr(mask, "dtype", None), "kind", "b")
    if kind != "b":
        raise RuntimeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}"
        )
    if getattr(value, "ndim", 0):
        raise RuntimeError(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.ndim} dimension(s)."
        )


def argmax(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    if not is_array(x):
        return x.argmax(dim, keepdim) if dim is not None else x.argmax()
    return x.argmax(axis=dim, keepdims=keepdim) if dim is not None else x.argmax()


def argmin(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    if not is_array(x):
        return x.argmin(dim, keepdim) if dim is not None else x.argmin()
    return x.argmin(axis=dim, keepdims=keepdim) if dim is not None else x.argmin()


def is_floating_point(x: Any) -> bool:
    return x.dtype.kind == "f" if is_array(x) else x.is_floating_point()


def reshape(x: Any, *shape: Any) -> Any:
    if not is_array(x):
        return x.reshape(*shape)
    return x.reshape(*shape)


def _common(tensors: Any) -> list:
    """``tensors`` in the dtype PyTorch joins them in (``cat``, ``stack``)."""
    arrays = list(tensors)
    kinds = {getattr(a, "dtype", None) for a in arrays}
    if len(kinds) < 2 or not builtins.all(isinstance(k, np.dtype) for k in kinds):
        return arrays
    wanted = dtypes.result_dtype(*arrays)
    return [a if a.dtype == wanted else backend.astype(a, wanted) for a in arrays]


def cat(tensors: Any, dim: int = 0) -> Any:
    return array_module(*tensors).concatenate(_common(tensors), axis=dim)


def stack(tensors: Any, dim: int = 0) -> Any:
    return array_module(*tensors).stack(_common(tensors), axis=dim)


def data(x: Any) -> Any:
    """``x.data``: an array is its own data (a Tensor's, a Tensor sharing it)."""
    return x if is_array(x) else x.data


def set_data(x: Any, value: Any) -> None:
    """``x.data = value`` (``x.data -= lr * g`` ends so): a Tensor's values replaced
    without recording, as in PyTorch, written into its array where the shape and dtype
    stay (what shares the array sees them, as in eager code). A value compiled code
    holds as an array is refused: its ``.data`` is not another object (but for the value
    it already holds, which ``h.data *= 3`` writes back after ``h`` followed the update)."""
    if is_array(x):
        if value is x:
            return
        raise refuse(
            "assignment to .data of a value the compiled code computed",
            "give the name a new value (h = h - v), or change it under sd.no_grad()",
        )
    value = getattr(value, "_data", value)
    if getattr(value, "shape", None) == x._data.shape and value.dtype == x._data.dtype:
        if value is not x._data:
            x.data.copy_(type(x)._make(value))
    else:
        x.data = value


def set_grad(x: Any, value: Any) -> None:
    """``x.grad = value`` (``p.grad = None``), as eager code sets it; on a value compiled
    code computed, refused (an array there, which has no ``.grad``)."""
    if is_array(x):
        raise refuse(
            "assignment to .grad of a value the compiled code computed",
            "set .grad of the leaf Tensors (the parameters) instead",
        )
    x.grad = value if value is None or not is_array(value) else type(x)._make(value)


def _data(x: Any) -> Any:
    """``x._data``: a Tensor's array (srcdiff's own Tensor code, which also runs compiled,
    reads it so); an array is its own."""
    return x if is_array(x) else x._data


def grad(x: Any) -> Any:
    """``x.grad``: a Tensor's gradient; None for an array compiled code computed (as
    PyTorch's for a tensor that is not a leaf)."""
    return None if is_array(x) else x.grad


def requires_grad(x: Any) -> Any:
    """``x.requires_grad``: a Tensor's flag (a parameter's, a loop's entry of
    ``model.parameters()``), carrying no gradient; refused for a value compiled code
    computed (see ``autograd_flag``)."""
    return autograd_flag(x, "requires_grad")


def is_leaf(x: Any) -> Any:
    """``x.is_leaf``: a Tensor's flag; refused as ``requires_grad`` is."""
    return autograd_flag(x, "is_leaf")


def grad_fn(x: Any) -> Any:
    """``x.grad_fn``: a Tensor's; refused as ``requires_grad`` is."""
    return autograd_flag(x, "grad_fn")


def autograd_flag(x: Any, name: str) -> Any:
    """A Tensor's own ``x.<name>``. Compiled code holds an array for a value it computed
    (``h = x * 2``) and keeps no autograd flags for it (whether it requires grad depends
    on every Tensor it was computed from): refused there."""
    if is_array(x):
        raise refuse(
            f".{name} of a value a compiled function computed (compiled code holds an array "
            "for it, which keeps no autograd flags)",
            f"read .{name} in the function decorated with @sd.differentiate itself (which "
            "then runs as eager code), or outside the compiled step",
        )
    return getattr(x, name)


def _tensor_class() -> type:
    from .calls import Host  # calls imports this module

    return Host.tensor


def is_instance(x: Any, classes: Any) -> bool:
    """``isinstance(x, classes)`` in compiled Tensor code, where an array stands for a
    computed Tensor: it is an instance of what a plain Tensor is an instance of."""
    if is_array(x):
        return issubclass(_tensor_class(), classes)
    return isinstance(x, classes)


def is_tensor(x: Any) -> bool:
    """``sd.is_tensor(x)`` in compiled Tensor code: an array stands for a Tensor."""
    return is_array(x) or isinstance(x, _tensor_class())


def dtype(x: Any) -> Any:
    """``x.dtype``: a Tensor's, srcdiff's (``sd.float32``), also of an array standing for
    a computed Tensor, so that ``h.dtype == sd.float32`` holds as it does eagerly."""
    if not is_array(x):
        return x.dtype
    from .. import dtypes

    return dtypes.of_numpy(x.dtype)


def device(x: Any) -> Any:
    """``x.device``: where an array lives."""
    if not is_array(x):
        return x.device
    from .. import cuda

    return cuda.of_array(x)


def maximum(x: Any, y: Any) -> Any:
    """``sd.maximum(x, y)`` in compiled code, in the dtype PyTorch promotes to."""
    return np.maximum(*_promoted(x, y, "maximum"))


def minimum(x: Any, y: Any) -> Any:
    """``sd.minimum(x, y)`` in compiled code, in the dtype PyTorch promotes to."""
    return np.minimum(*_promoted(x, y, "minimum"))


def where(condition: Any, x: Any, y: Any) -> Any:
    """``sd.where(c, x, y)`` in compiled code, in the dtype PyTorch promotes to."""
    return np.where(condition, *_promoted(x, y, "where"))


def zeros_like(x: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Any:  # fmt: skip
    """``sd.zeros_like(x)`` in compiled code (``dtype`` srcdiff's or NumPy's)."""
    dtype = _like_dtype(x, dtype, device, requires_grad, "zeros_like")
    return array_module(x).zeros_like(x, dtype=dtype)


def ones_like(x: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              memory_format: Any = None) -> Any:  # fmt: skip
    """``sd.ones_like(x)`` in compiled code (``dtype`` srcdiff's or NumPy's)."""
    dtype = _like_dtype(x, dtype, device, requires_grad, "ones_like")
    return array_module(x).ones_like(x, dtype=dtype)


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Any:
    """``sd.full_like(x, v)`` in compiled code: an array of ``v`` shaped like ``x``."""
    return array_module(x).full_like(x, fill_value, dtype=_numpy_dtype(dtype))


def empty_like(x: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Any:  # fmt: skip
    """``sd.empty_like(x)`` in compiled code (zeros, as eager code makes it)."""
    dtype = _like_dtype(x, dtype, device, requires_grad, "empty_like")
    return array_module(x).zeros_like(x, dtype=dtype)


def _like_dtype(x: Any, dtype: Any, device: Any, requires_grad: bool, name: str) -> Any:
    """NumPy's dtype for ``sd.<name>(x, dtype, device, requires_grad)`` in compiled code
    (None: ``x``'s); a device other than ``x``'s, or a new leaf that requires grad given
    by position, is refused (the keyword ``requires_grad=`` runs the function eagerly)."""
    if device is not None and str(device).split(":")[0] != backend.device_of(x):
        raise refuse(
            f"sd.{name}(x, device=...) in a compiled function, on a device other than x's",
            f"call sd.{name}(x) and move the result with .to(device)",
        )
    if requires_grad:
        raise refuse(
            f"sd.{name}(x, ..., requires_grad) given by position in a compiled function",
            "pass it by keyword (requires_grad=True)",
        )
    return _numpy_dtype(dtype)


# ---- cutting, triangles, batched products, gathering, new tensors ------------------------


def split_points(length: int, split_size_or_sections: Any) -> list[int]:
    """Where ``x.split(split_size_or_sections)`` cuts a dim of ``length``: every
    ``split_size`` (the last piece shorter), or after each of the given sizes, which must
    add up to ``length`` as PyTorch asks."""
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(n) for n in split_size_or_sections]
        if builtins.sum(sizes) != length or builtins.min(sizes, default=0) < 0:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {length} (input "
                f"tensor's size at dimension), but got split_sizes={sizes}"
            )
        return list(np.cumsum(sizes[:-1], dtype=np.int64).tolist())
    size = int(split_size_or_sections)
    if size <= 0:
        raise RuntimeError(f"split_size can only be a positive number, but got {size}")
    return list(range(size, length, size))


def split(x: Any, split_size_or_sections: Any = None, dim: int = 0, *,
          split_size: Any = None) -> Any:  # fmt: skip
    """``x.split(...)``: the pieces, as a tuple (views of ``x``, as PyTorch's); the
    method names its size ``split_size``, ``sd.split`` ``split_size_or_sections``."""
    split_size_or_sections = split_sizes(split_size_or_sections, split_size)
    if not is_array(x):
        return x.split(split_size_or_sections, dim)
    at_least_1d(x.ndim, "split")
    dim = checked_dim(x.ndim, dim)
    cuts = split_points(x.shape[dim], split_size_or_sections)
    return tuple(array_module(x).split(x, cuts, axis=dim))


def at_least_1d(ndim: int, name: str) -> None:
    """PyTorch's error for ``split`` and ``chunk`` of a 0-d tensor."""
    if ndim == 0:
        raise RuntimeError(f"{name} expects at least a 1-dimensional tensor")


def split_sizes(split_size_or_sections: Any, split_size: Any) -> Any:
    """The size or sizes of a split, given under either name (and only one)."""
    if (split_size_or_sections is None) == (split_size is None):
        raise TypeError("split() takes the size of its pieces once (split_size)")
    return split_size if split_size_or_sections is None else split_size_or_sections


def chunk(x: Any, chunks: int, dim: int = 0) -> Any:
    """``x.chunk(chunks, dim)``, as PyTorch's (see ``chunk_sections``)."""
    if not is_array(x):
        return x.chunk(chunks, dim)
    at_least_1d(x.ndim, "chunk")
    return split(x, chunk_sections(x.shape[checked_dim(x.ndim, dim)], chunks), dim)


def chunk_sections(length: int, chunks: int) -> Any:
    """What ``split`` takes for ``chunk`` of a dim of ``length``: pieces of
    ``ceil(length / chunks)`` (fewer where they run out), and as many empty pieces as
    asked of an empty dim, as PyTorch gives."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    return [0] * chunks if length == 0 else -(-length // chunks)


def tril(x: Any, diagonal: int = 0) -> Any:
    if not is_array(x):
        return x.tril(diagonal)
    return array_module(x).tril(_matrices(x, "tril"), diagonal)


def triu(x: Any, diagonal: int = 0) -> Any:
    if not is_array(x):
        return x.triu(diagonal)
    return array_module(x).triu(_matrices(x, "triu"), diagonal)


def _matrices(x: Any, name: str) -> Any:
    if x.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return x


def bmm(x: Any, other: Any) -> Any:
    """``x.bmm(other)``: products of two batches of matrices (3-D both, as PyTorch asks)."""
    if not is_array(x):
        return x.bmm(other)
    if x.ndim != 3 or other.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor, and batch2 too (got {x.ndim}D, "
                           f"{other.ndim}D)")  # fmt: skip
    if x.dtype != other.dtype:  # (PyTorch promotes neither)
        names = {"float64": "Double", "float32": "Float", "float16": "Half", "int64": "Long"}
        raise RuntimeError(f"expected scalar type {names.get(str(x.dtype), x.dtype)} but found "
                           f"{names.get(str(other.dtype), other.dtype)}")  # fmt: skip
    if other.shape[:2] != (x.shape[0], x.shape[2]):
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{x.shape[0]}, {x.shape[2]}] but got: [{other.shape[0]}, {other.shape[1]}]."
        )
    return x @ other


def gathered(x: Any, dim: int, index: Any) -> tuple[Any, tuple]:
    """The part of ``x`` that ``x.gather(dim, index)`` reads from (``index`` may be
    smaller than ``x`` in the other dims), and the slices that cut it."""
    if index.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    dim = checked_dim(x.ndim, dim) % builtins.max(x.ndim, 1)
    cut = tuple(slice(None) if d == dim else slice(0, index.shape[d]) for d in range(x.ndim))
    if builtins.any(index.shape[d] > x.shape[d] for d in range(x.ndim) if d != dim):
        raise RuntimeError(f"Size does not match at dimension {dim}: index {index.shape} "
                           f"is larger than input {x.shape} outside it")  # fmt: skip
    return x[cut], cut


def gather(x: Any, dim: int, index: Any) -> Any:
    """``x.gather(dim, index)``: out[i][j] = x[i][index[i][j]] (for dim 1)."""
    if not is_array(x):
        return x.gather(dim, index)
    part, _ = gathered(x, dim, index)
    in_range(index, x.shape[dim], "gather")
    return array_module(x).take_along_axis(part, index, axis=dim)


def repeat(x: Any, *sizes: Any) -> Any:
    """``x.repeat(*sizes)``: ``x`` tiled ``sizes`` times along each dim (new dims first)."""
    if not is_array(x):
        return x.repeat(*sizes)
    return array_module(x).tile(x, repeat_sizes(x, sizes))


def repeat_sizes(x: Any, sizes: tuple) -> tuple:
    """``repeat``'s sizes as one tuple, at least one per dim of ``x`` (as PyTorch asks;
    NumPy's ``tile`` would fill the missing ones with 1)."""
    sizes = shape_of(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of "
            "dimensions of tensor"
        )
    return sizes


def index_select(x: Any, dim: int, index: Any) -> Any:
    """``x.index_select(dim, index)``: the entries at ``index`` (a vector) along ``dim``."""
    if not is_array(x):
        return x.index_select(dim, index)
    if getattr(index, "ndim", 1) > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    dim = checked_dim(x.ndim, dim)
    index = array_module(x).reshape(index, (-1,))  # (a 0-d index selects one entry)
    in_range(index, x.shape[dim], "index_select")
    return array_module(x).take(x, index, axis=dim)


def in_range(index: Any, size: int, name: str, negative: bool = False) -> None:
    """Refuse indices outside ``[0, size)`` (``[-size, size)`` where ``negative``):
    PyTorch's index_select and gather do (NumPy would count a negative one from the end)."""
    low = -size if negative else 0
    if index.size and (int(index.min()) < low or int(index.max()) >= size):
        raise RuntimeError(f"{name}(): index out of range for a dimension of size {size}")


def flip(x: Any, dims: Any = None, *more: Any) -> Any:
    """``x.flip(dims)``, also ``x.flip(0, 1)`` (no dim flips nothing, where NumPy's
    ``axis=None`` flips all)."""
    if not is_array(x):
        return x.flip(dims, *more)
    return array_module(x).flip(x, axis=flip_dims(x.ndim, dims, more))


def flip_dims(ndim: int, dims: Any, more: tuple = ()) -> tuple:
    """The dims of ``flip(dims, *more)`` as a tuple, as PyTorch takes them (one dim, a
    sequence of them or several given apart; each once)."""
    if dims is None:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    given = shape_of((dims, *more))
    normal = [checked_dim(ndim, d) % builtins.max(ndim, 1) for d in given]
    for i, d in enumerate(normal):
        if d in normal[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return given if ndim else ()


def roll(x: Any, shifts: Any, dims: Any = None) -> Any:
    if not is_array(x):
        return x.roll(shifts, dims)
    several = [len(v) if isinstance(v, (list, tuple)) else 1 for v in (shifts, dims)]
    if dims is None and several[0] > 1 or dims is not None and several[0] != several[1]:
        raise RuntimeError("shifts and dimensions must align")
    return array_module(x).roll(x, shifts, axis=axis(dims))


def amax(x: Any, dim: Any = (), keepdim: bool = False) -> Any:
    """``x.amax(dim)``: the maximum over ``dim`` (every dim by default; ties share its
    gradient, unlike ``max(dim)``'s, which goes to one index)."""
    if not is_array(x):
        return x.amax(dim, keepdim)
    return x.max(axis=axis(dim), keepdims=keepdim)


def amin(x: Any, dim: Any = (), keepdim: bool = False) -> Any:
    if not is_array(x):
        return x.amin(dim, keepdim)
    return x.min(axis=axis(dim), keepdims=keepdim)


def logsumexp(x: Any, dim: Any, keepdim: bool = False) -> Any:
    """log(sum(exp(x))) over ``dim``, shifted by the maximum (no overflow; a row of -inf
    gives -inf)."""
    if not is_array(x):
        return x.logsumexp(dim, keepdim)
    xp = array_module(x)
    if x.dtype.kind in "biu":  # (an integer tensor's is float32, as PyTorch's)
        x = x.astype(np.float32)
    dims = axis(dim)
    top = x.max(axis=dims, keepdims=True, initial=-np.inf)  # (-inf where it is empty)
    top = xp.where(xp.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):  # (an empty dim's sum is 0: its log, -inf)
        out = xp.log(xp.exp(x - top).sum(axis=dims, keepdims=True)) + top
    return out if keepdim else xp.squeeze(out, axis=dims)


# the least denominator of binary cross entropy's gradient: PyTorch's 1e-12, which it
# holds as a float32 (so 1e-12 rounded to 24 bits, in float64 computations too)
BCE_EPSILON = float(np.float32(1e-12))


def binary_cross_entropy(p: Any, t: Any) -> Any:
    """PyTorch's binary cross entropy of probabilities ``p`` against targets ``t``, entry
    by entry (before its weight and reduction): ``(t - 1) max(log1p(-p), -100) - t
    max(log(p), -100)``, so a probability of 0 or 1 gives a finite loss. Its rule is
    PyTorch's gradient, which stays finite there too."""
    xp = array_module(p, t)
    with np.errstate(divide="ignore"):
        return (t - 1) * xp.maximum(xp.log1p(-p), -100.0) - t * xp.maximum(xp.log(p), -100.0)


def kl_div_terms(x: Any, t: Any) -> Any:
    """PyTorch's Kullback-Leibler terms of log-probabilities ``x`` against probabilities
    ``t``: ``xlogy(t, t) - t x`` (0 where ``t`` is 0, NaN where it is negative). Its rule
    is PyTorch's gradient: NaN in ``t`` where ``t`` is 0 (its one-sided derivative there
    is infinite)."""
    xp = array_module(x, t)
    with np.errstate(invalid="ignore"):
        logs = t * xp.log(xp.where(t == 0, 1, t))
    return xp.where(t == 0, 0, logs) - t * x


def neg_logit(p: Any) -> Any:
    """``-log(p / (1 - p))``: the gradient of binary cross entropy in its target, as
    PyTorch computes it (infinite, without a warning, at 0 and 1)."""
    with np.errstate(divide="ignore"):
        return -array_module(p).log(p / (1 - p))


# ---- sorting, cumulative products, views and scatters ------------------------------------


def sort(x: Any, dim: int = -1, descending: bool = False, stable: Any = False) -> Any:
    """``x.sort(dim, descending)``: ``(values, indices)``, tied entries in the order
    PyTorch's CPU sort leaves them (``stable=True``: as they stood)."""
    if not is_array(x):
        return x.sort(dim, descending, stable=stable)
    indices = sort_indices(x, dim, descending, stable)
    return RETURN_TYPES["sort"](taken(x, indices, dim), indices)


def argsort(x: Any, dim: int = -1, descending: bool = False, stable: Any = False) -> Any:
    """``x.argsort(dim, descending)``: the indices of ``x.sort(...)``."""
    if not is_array(x):
        return x.argsort(dim, descending, stable=stable)
    return sort_indices(x, dim, descending, stable)


def sort_indices(x: Any, dim: int, descending: bool, stable: Any) -> Any:
    """The indices ``x.sort(dim, descending, stable=stable)`` gives (``x`` an array)."""
    dim = checked_dim(x.ndim, dim)
    if x.ndim == 0:
        return array_module(x).zeros((), dtype=np.int64)
    return sort_order(x, dim, bool(descending), bool(stable))


def topk(x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """``x.topk(k, dim, largest, sorted)``: ``(values, indices)`` of the ``k`` largest
    (smallest) entries along ``dim``, ties as PyTorch's CPU topk picks them."""
    if not is_array(x):
        return x.topk(k, dim, largest, sorted)
    indices = topk_indices(x, k, dim, largest, sorted)
    return RETURN_TYPES["topk"](taken(x, indices, dim), indices)


def topk_indices(x: Any, k: Any, dim: int, largest: bool, sorted: bool) -> Any:
    dim = checked_dim(x.ndim, dim)
    k = int(k)
    if not 0 <= k <= (x.shape[dim] if x.ndim else 1):
        raise RuntimeError("selected index k out of range")
    if x.dtype.kind == "b":
        raise RuntimeError("topk does not support bool dtypes on CPU")
    if x.ndim == 0:  # (k 0 or 1: the entry itself, as PyTorch gives it)
        return array_module(x).zeros((), dtype=np.int64)
    return topk_order(x, k, dim, bool(largest), bool(sorted))


def taken(x: Any, indices: Any, dim: int) -> Any:
    """The entries of ``x`` at ``indices`` along ``dim`` (``np.take_along_axis``; a 0-d
    ``x``, its entry)."""
    if x.ndim == 0:
        return x.copy()
    return array_module(x).take_along_axis(x, indices, axis=dim)


def taken_grad(g: Any, x: Any, indices: Any, dim: int) -> Any:
    """The gradient of ``taken(x, indices, dim)``: ``np.take_along_axis``'s."""
    if x.ndim == 0:
        return g
    return take_along_axis_grad(g, x, indices, dim)


def cumprod(x: Any, dim: int, dtype: Any = None) -> Any:
    """``x.cumprod(dim)``: running products along ``dim``."""
    return _cumulative(x, dim, dtype, "cumprod")


def cumsum(x: Any, dim: int, dtype: Any = None) -> Any:
    """``x.cumsum(dim)``: running sums along ``dim``."""
    return _cumulative(x, dim, dtype, "cumsum")


def _cumulative(x: Any, dim: int, dtype: Any, name: str) -> Any:
    """``x.<name>(dim)`` (``cumsum`` or ``cumprod``) as PyTorch gives it: integers and
    booleans as int64, a 0-d tensor as itself, float16 computed in float32."""
    if not is_array(x):
        method = getattr(x, name)
        return method(dim) if dtype is None else method(dim, dtype=dtype)
    x = cumulative_operand(x, dtype)
    dim = checked_dim(x.ndim, dim)
    if x.ndim == 0:
        return x.copy()
    if x.dtype == np.float16:  # as PyTorch's kernels do
        return getattr(x.astype(np.float32), name)(axis=dim).astype(np.float16)
    return getattr(x, name)(axis=dim)


def requires_grad_(x: Any, requires_grad: bool = True) -> Any:
    """``x.requires_grad_(flag)`` in compiled code: on a value it computed without
    gradient (``h.detach()``), ``False`` changes nothing; ``True`` would start a graph
    there, which compiled code does not record (refused); a Tensor from outside changes
    its own flag, as eagerly."""
    if not is_array(x):
        return x.requires_grad_(requires_grad)
    if requires_grad:
        raise refuse(
            "requires_grad_() on a value a compiled step computed: the step records no "
            "graph from there",
            "make the tensor require grad outside the step, or run it eagerly",
        )
    return x


def prod(x: Any, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Any:
    """``x.prod(dim, keepdim)``: the product over ``dim`` (every dim without one)."""
    if not is_array(x):
        return x.prod() if dim is None else x.prod(dim, keepdim)
    x = cumulative_operand(x, dtype)  # (integers as int64, as PyTorch)
    return x.prod(axis=axis(reduction_dim(x, dim)), keepdims=keepdim)


def cumulative_operand(x: Any, dtype: Any) -> Any:
    """``x`` as a cumulative product takes it (PyTorch's cumsum too): in ``dtype`` where
    given, integers and booleans as int64."""
    wanted = _numpy_dtype(dtype)
    if wanted is not None:
        return x.astype(wanted, copy=False)
    return x.astype(np.int64) if x.dtype.kind in "biu" else x


def cumprod_axis(x: Any, dim: int) -> Any:
    """The axis of ``np.cumprod``'s rule for ``x.cumprod(dim)``: None (the flat entries,
    one) for a 0-d ``x``."""
    return dim if x.ndim else None


def unbind(x: Any, dim: int = 0) -> Any:
    """``x.unbind(dim)``: the slices along ``dim``, as a tuple of views."""
    if not is_array(x):
        return x.unbind(dim)
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    dim = checked_dim(x.ndim, dim)
    return tuple(array_module(x).moveaxis(x, dim, 0))


def narrow(x: Any, dim: int, start: Any, length: int) -> Any:
    """``x.narrow(dim, start, length)``: ``length`` entries from ``start`` along ``dim``,
    a view."""
    if not is_array(x):
        return x.narrow(dim, start, length)
    return x[narrow_index(x.shape, dim, start, length)]


def narrow_index(shape: tuple, dim: int, start: Any, length: Any) -> tuple:
    """The index ``narrow`` reads, checked as PyTorch checks it (``start`` may count
    from the end, and may be a 0-d tensor)."""
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    dim = checked_dim(len(shape), dim) % len(shape)
    size, start, length = shape[dim], int(start), int(length)
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})"
        )
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return (slice(None),) * dim + (slice(start, start + length),)


def _int_argument(method: str, name: str, position: int, value: Any) -> int:
    """``value`` as an int, or PyTorch's TypeError for argument ``name`` of ``method``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{method}(): argument '{name}' (position {position}) must be int, not "
            f"{type(value).__name__}"
        )
    return int(value)


def _ints_argument(method: str, name: str, position: int, value: Any) -> tuple:
    """``value`` (a tuple, list or Size of ints) as a tuple, or PyTorch's TypeError."""
    if not isinstance(value, (tuple, list)) or not builtins.all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        raise TypeError(
            f"{method}(): argument '{name}' (position {position}) must be tuple of ints, not "
            f"{type(value).__name__}"
        )
    return tuple(int(v) for v in value)


def _strided(x: Any, shape: tuple, strides: tuple) -> Any:
    """A view of ``x``'s memory with ``shape`` and ``strides`` (in bytes), read-only where
    two of its entries share a position (a write there would be one of several)."""
    xp = array_module(x)
    if xp is np:
        view = np.lib.stride_tricks.as_strided(x, shape, strides)
        if self_overlapping(view):
            view.flags.writeable = False
        return view
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def self_overlapping(x: Any) -> bool:
    """Whether two entries of ``x`` lie at one place in memory (an ``unfold`` of
    overlapping windows, an ``as_strided`` reading an entry twice)."""
    if x.flags.c_contiguous or x.flags.f_contiguous or x.size < 2:
        return False
    at = strided_positions(x.shape, x.strides, 0)
    return np.unique(at).size < at.size


def strided_positions(size: tuple, stride: tuple, offset: int) -> Any:
    """The position each entry of ``as_strided(size, stride, offset)`` reads, an int array
    shaped ``size``."""
    at = np.asarray(offset, dtype=np.int64)
    for n, st in zip(size, stride, strict=True):
        at = at[..., None] + np.arange(n, dtype=np.int64) * st
    return at


def unfold_shape(shape: tuple, dimension: Any, size: Any, step: Any) -> tuple[int, int, int, int]:
    """``dimension`` (counted from 0), the number of windows, ``size`` and ``step`` of
    ``unfold`` on a tensor shaped ``shape``, checked as PyTorch checks them."""
    dimension = _int_argument("unfold", "dimension", 1, dimension)
    size = _int_argument("unfold", "size", 2, size)
    step = _int_argument("unfold", "step", 3, step)
    dim = checked_dim(len(shape), dimension) % builtins.max(len(shape), 1)
    length = shape[dim] if shape else 1
    if size > length:
        raise RuntimeError(
            f"maximum size for tensor at dimension {dim} is {length} but size is {size}"
        )
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return dim, (length - size) // step + 1, size, step


def unfold(x: Any, dimension: int, size: int, step: int) -> Any:
    """``x.unfold(dimension, size, step)``: the windows of ``size`` entries, ``step`` apart,
    along ``dimension``, that dim made their number and a new last dim their entries (a
    view of ``x``, as PyTorch's)."""
    if not is_array(x):
        if hasattr(x, "unfold"):  # a Tensor
            return x.unfold(dimension, size, step)
        x = np.asarray(x)  # a number: a 0-d gradient
    dim, n, size, step = unfold_shape(x.shape, dimension, size, step)
    if x.ndim == 0:  # (its one entry, or none)
        return array_module(x).reshape(x, (1,))[:size]
    shape = (*x.shape[:dim], n, *x.shape[dim + 1 :], size)
    strides = (*x.strides[:dim], x.strides[dim] * step, *x.strides[dim + 1 :], x.strides[dim])
    return _strided(x, shape, strides)


def unfold_grad(g: Any, x: Any, dimension: int, size: int, step: int) -> Any:
    """Gradient of ``unfold(x, dimension, size, step)`` (``x`` read for its shape): each
    window's entries added back where the window lies."""
    xp = array_module(g)
    shape = tuple(xp.shape(x))
    dim, n, size, step = unfold_shape(shape, dimension, size, step)
    if not shape:
        return xp.sum(g).astype(g.dtype) if size else xp.zeros((), g.dtype)
    d = xp.zeros(shape, dtype=g.dtype)
    for j in range(size):
        at = (slice(None),) * dim + (slice(j, j + (n - 1) * step + 1, step),)
        d[at] += g[..., j]
    return d


def as_strided_checked(shape: tuple, size: Any, stride: Any, storage_offset: Any
                       ) -> tuple[tuple, tuple, int]:  # fmt: skip
    """``size``, ``stride`` and the offset of ``as_strided`` on the entries of a tensor
    shaped ``shape`` (in row-major order), checked as PyTorch checks them against its
    storage."""
    size = _ints_argument("as_strided", "size", 1, size)
    stride = _ints_argument("as_strided", "stride", 2, stride)
    offset = 0 if storage_offset is None else int(storage_offset)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if builtins.any(n < 0 for n in size):
        raise RuntimeError(
            f"Storage size calculation overflowed with sizes={list(size)} and "
            f"strides={list(stride)}"
        )
    if builtins.any(st < 0 for st in stride):
        raise RuntimeError(
            f"as_strided: Negative strides are not supported at the moment, got strides: "
            f"{list(stride)}"
        )
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    return size, stride, offset


def _as_strided_read(x: Any, size: tuple, stride: tuple, offset: int) -> int:
    """The number of entries of ``x`` that ``as_strided`` reads from (its storage), or
    PyTorch's error where that is more than ``x`` holds; a refusal where ``x`` is laid out
    otherwise than its storage would be (a view of entries of another array)."""
    needed = offset + 1 + builtins.sum((n - 1) * st for n, st in zip(size, stride, strict=True))
    if 0 in size:
        needed = 0
    owned = _owns_storage(x)
    if needed > x.size or not owned and offset:
        if owned:
            raise RuntimeError(
                f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
                f"{offset}, and itemsize {x.dtype.itemsize} requiring a storage size of "
                f"{needed * x.dtype.itemsize} are out of bounds for storage of size "
                f"{x.size * x.dtype.itemsize}"
            )
        raise _refusal(
            "as_strided with a storage_offset, or reading past the last entry, of a tensor "
            "that is a view: PyTorch reads the storage of the tensor it views there, and "
            "srcdiff reads the tensor's own entries",
            "call as_strided on the tensor it views (or on a clone() of this one)",
        )
    return needed


def _refusal(what: str, hint: str) -> Exception:
    """A refusal at the user's line in compiled code, a RuntimeError saying the same in
    eager code."""
    if in_generated_code():
        return refuse(what, hint)
    return RuntimeError(f"{what}: {hint}")


def _owns_storage(x: Any) -> bool:
    """Whether ``x`` is the whole of the memory it lies in (not a part of another array's,
    as a slice is), as a tensor holding its own storage is."""
    base = x
    while getattr(base, "base", None) is not None and hasattr(base.base, "nbytes"):
        base = base.base
    if base is x:
        return True
    address = (lambda a: a.ctypes.data) if isinstance(x, np.ndarray) else (lambda a: a.data.ptr)
    return base.nbytes == x.nbytes and address(base) == address(x)


def as_strided(x: Any, size: Any, stride: Any, storage_offset: Any = None) -> Any:
    """``x.as_strided(size, stride, storage_offset)``: the view whose entry at ``i`` is
    entry ``storage_offset + sum(i[k] * stride[k])`` of ``x``'s entries in row-major order
    (its storage, where ``x`` is contiguous and owns it)."""
    if not is_array(x):
        return x.as_strided(size, stride, storage_offset)
    size, stride, offset = as_strided_checked(tuple(x.shape), size, stride, storage_offset)
    if not x.flags.c_contiguous:
        raise _refusal(
            "as_strided of a tensor that is not contiguous: PyTorch reads its storage, laid "
            "out otherwise than its entries in row-major order",
            "call .contiguous() first (then PyTorch reads the same entries)",
        )
    _as_strided_read(x, size, stride, offset)
    flat = array_module(x).reshape(x, (-1,))
    item = x.dtype.itemsize
    if not size:
        return flat[offset : offset + 1].reshape(())
    return _strided(flat[offset:] if flat.size else flat, size, tuple(st * item for st in stride))


def strided_read(x: Any, size: tuple, stride: tuple, storage_offset: Any = None) -> Any:
    """``as_strided(x, size, stride, storage_offset)``'s values, as a new array, from ``x``
    laid out in any way (the adjoint of ``as_strided_grad``)."""
    xp = array_module(x)
    size, stride, offset = as_strided_checked(tuple(xp.shape(x)), size, stride, storage_offset)
    at = xp.asarray(strided_positions(size, stride, offset))
    return xp.reshape(x, (-1,))[at]


def as_strided_grad(g: Any, x: Any, size: tuple, stride: tuple, storage_offset: Any = None
                    ) -> Any:  # fmt: skip
    """Gradient of ``as_strided(x, size, stride, storage_offset)`` (``x`` read for its
    shape): each entry's gradient added to the entry of ``x`` it reads (an entry read
    several times gets each)."""
    xp = array_module(g)
    shape = tuple(xp.shape(x))
    size, stride, offset = as_strided_checked(shape, size, stride, storage_offset)
    d = xp.zeros(math.prod(shape), dtype=g.dtype)
    at = xp.asarray(strided_positions(size, stride, offset).reshape(-1))
    d = backend.scatter_add(d, (at,), xp.reshape(g, (-1,)))
    return xp.reshape(d, shape)


def movedim(x: Any, source: Any, destination: Any) -> Any:
    """``x.movedim(source, destination)``: ``np.moveaxis`` with PyTorch's checks (a 0-d
    tensor has dims 0 and -1)."""
    if not is_array(x):
        return x.movedim(source, destination)
    src, dst = moved_dims(x.ndim, source, destination)
    return x if x.ndim == 0 else array_module(x).moveaxis(x, src, dst)


def moved_dims(ndim: int, source: Any, destination: Any) -> tuple[tuple, tuple]:
    src = source if isinstance(source, (list, tuple)) else (source,)
    dst = destination if isinstance(destination, (list, tuple)) else (destination,)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    src = tuple(checked_dim(ndim, int(d)) % builtins.max(ndim, 1) for d in src)
    dst = tuple(checked_dim(ndim, int(d)) % builtins.max(ndim, 1) for d in dst)
    for name, dims, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    return src, dst


def diag(x: Any, diagonal: int = 0) -> Any:
    """``x.diag(diagonal)``: a matrix with the vector ``x`` on a diagonal, or a matrix's
    diagonal (a new array, not NumPy's read-only view)."""
    if not is_array(x):
        return x.diag(diagonal)
    if x.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")
    out = array_module(x).diag(x, diagonal)
    return out.copy() if x.ndim == 2 else out


def outer(x: Any, vec2: Any) -> Any:
    """``x.outer(vec2)``: the products of the entries of two vectors."""
    if not is_array(x):
        return x.outer(vec2)
    for name, v in (("self", x), ("vec2", vec2)):
        if getattr(v, "ndim", 0) != 1:
            raise RuntimeError(
                f"outer: Expected 1-D argument {name}, but got {getattr(v, 'ndim', 0)}-D"
            )
    return array_module(x).outer(x, vec2)


def scatter(x: Any, dim: int, index: Any, src: Any = None, value: Any = None,
            reduce: Any = None) -> Any:  # fmt: skip
    """``x.scatter(dim, index, src)`` (or ``value=``): ``x`` with ``src``'s entries (or
    ``value``) written where ``index`` says along ``dim`` (a position written twice keeps
    the later value, as PyTorch's CPU kernel does)."""
    if not is_array(x):
        return x.scatter(dim, index, src, value=value, reduce=reduce)
    if reduce is not None:
        raise NotImplementedError(
            "srcdiff's scatter takes no reduce=: use scatter_add for reduce='add'"
        )
    if src is None and value is None:
        raise TypeError("scatter() missing 1 required argument: 'src' (or 'value')")
    if x.ndim == 0:
        return _on_vector(scatter, x, dim, index, value if src is None else src)
    part, where = scattered(x, dim, index, value if src is None else src, "scatter")
    out = x.copy()
    if where is not None:
        out[where] = part
    return out


def scatter_add(x: Any, dim: int, index: Any, src: Any) -> Any:
    """``x.scatter_add(dim, index, src)``: ``x`` plus ``src``'s entries added where
    ``index`` says along ``dim`` (those of a position given twice both)."""
    if not is_array(x):
        return x.scatter_add(dim, index, src)
    if not is_array(src):
        raise TypeError(
            f"scatter_add(): argument 'src' (position 3) must be Tensor, not {type(src).__name__}"
        )
    if x.ndim == 0:
        return _on_vector(scatter_add, x, dim, index, src)
    part, where = scattered(x, dim, index, src, "scatter_add")
    return x.copy() if where is None else x + gather_grad(part, x, dim, index)


def _on_vector(method: Any, x: Any, dim: int, index: Any, src: Any) -> Any:
    """A scatter into a 0-d ``x`` (``index`` and an array ``src`` 0-d too, or empty), as
    into a vector of one entry."""
    checked_dim(0, dim)
    xp = array_module(x)
    index = xp.asarray(index)
    index = xp.reshape(index, (1,)) if index.ndim == 0 else index
    src = xp.reshape(src, (1,)) if getattr(src, "ndim", None) == 0 else src
    return xp.reshape(method(x.reshape(1), 0, index, src), ())


def scattered(x: Any, dim: int, index: Any, src: Any, name: str) -> tuple[Any, Any]:
    """``src``'s part a scatter into ``x`` writes (its first entries, as many as ``index``
    has along each dim; a number as it is) and the positions of ``x`` it writes (None
    for an empty ``index``), checked as PyTorch checks them."""
    xp = array_module(x)
    index = xp.asarray(index)
    array = is_array(src)
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")
    if array and src.dtype != x.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
    dim = checked_dim(x.ndim, dim) % x.ndim
    if index.size == 0:
        return src, None
    if index.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if array and src.ndim != index.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    too_big = builtins.any(index.shape[d] > x.shape[d] for d in range(x.ndim) if d != dim)
    if too_big or (
        array and builtins.any(i > s for i, s in zip(index.shape, src.shape, strict=True))
    ):
        raise RuntimeError(
            f"Expected index {list(index.shape)} to be no larger than self {list(x.shape)} "
            f"apart from dimension {dim} and to be no larger size than src "
            f"{list(src.shape) if array else list(index.shape)}"
        )
    low, high = int(index.min()), int(index.max())
    if low < 0 or high >= x.shape[dim]:
        raise RuntimeError(f"index {low if low < 0 else high} is out of bounds for dimension "
                           f"{dim} with size {x.shape[dim]}")  # fmt: skip
    part = src[tuple(slice(0, n) for n in index.shape)] if array else src
    where = tuple(
        index
        if d == dim
        else xp.reshape(xp.arange(n), [-1 if e == d else 1 for e in range(x.ndim)])
        for d, n in enumerate(index.shape)
    )
    return part, where


def scatter_src_grad(g: Any, x: Any, dim: int, index: Any, src: Any, once: bool) -> Any:
    """The gradient of a scatter's ``src`` (None for a number): each entry written gets
    that of the position it was written to (``gather``'s), the rest none. ``once``
    (``scatter``, which keeps one of the entries written to a position): a position
    written twice is refused, where PyTorch gives each of them its gradient."""
    if not is_array(src):
        return None
    xp = array_module(g)
    if x.ndim == 0:
        d = scatter_src_grad(xp.reshape(g, (1,)), x.reshape(1), 0, xp.reshape(xp.asarray(index),
                             (-1,)), xp.reshape(src, (-1,)), once)  # fmt: skip
        return xp.reshape(d, src.shape)
    d = xp.zeros(src.shape, dtype=g.dtype)
    part, where = scattered(x, dim, index, src, "scatter")
    if where is None:
        return d
    if once:
        flat = xp.ravel_multi_index(xp.broadcast_arrays(*where), x.shape)
        if xp.unique(flat).size != flat.size:
            raise RuntimeError(
                "scatter(): index writes a position twice, and src requires grad: only one "
                "of the values written there is kept (PyTorch gives each of them the "
                "position's gradient); use unique indices, or scatter_add"
            )
    d[tuple(slice(0, n) for n in part.shape)] = g[where]
    return d


# ---- scatter_reduce ----------------------------------------------------------------------

SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(x: Any, dim: int, index: Any, src: Any, reduce: str, *,
                   include_self: bool = True) -> Any:  # fmt: skip
    """``x.scatter_reduce(dim, index, src, reduce, include_self=)``: ``src``'s entries
    reduced (``"sum"``, ``"prod"``, ``"mean"``, ``"amax"``, ``"amin"``) into the positions
    ``index`` names along ``dim``, with ``x``'s own entry there or (``include_self=False``)
    without it."""
    if not is_array(x):
        return x.scatter_reduce(dim, index, src, reduce, include_self=include_self)
    if reduce not in SCATTER_REDUCTIONS:
        raise RuntimeError(
            "reduce argument must be either sum, prod, mean, amax or amin, got " + str(reduce)
        )
    if not is_array(src):
        raise TypeError(
            "scatter_reduce(): argument 'src' (position 3) must be Tensor, not "
            f"{type(src).__name__}"
        )
    xp = array_module(x)
    if x.ndim == 0:
        flat = scatter_reduce(xp.reshape(x, (1,)), checked_dim(0, dim) * 0,
                              xp.reshape(xp.asarray(index), (-1,)), xp.reshape(src, (-1,)),
                              reduce, include_self=include_self)  # fmt: skip
        return xp.reshape(flat, ())
    part, where = scattered(x, dim, index, src, "scatter")
    out = x.copy()
    if where is None:
        return out
    where = tuple(xp.broadcast_arrays(*where))
    if not include_self:
        out[where] = _identity(reduce, x.dtype)
    ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
             "amin": np.minimum}[reduce]  # fmt: skip
    ufunc.at(out, where, part)
    if reduce == "mean":
        count = _scatter_count(x, where, include_self)
        out = out // count.astype(x.dtype) if x.dtype.kind in "iub" else out / count
    return out.astype(x.dtype, copy=False)


def _identity(reduce: str, dtype: Any) -> Any:
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:
        return reduce == "amin"
    return info.min if reduce == "amax" else info.max


def _scatter_count(x: Any, where: tuple, include_self: bool) -> Any:
    """How many values ``mean`` averages at each position of ``x`` (1 where none is
    scattered, as PyTorch divides there)."""
    xp = array_module(x)
    count = xp.ones(x.shape, dtype=np.float64)
    if not include_self:
        count[where] = 0
    np.add.at(count, where, 1)
    count[count == 0] = 1
    return count


def scatter_reduce_grads(g: Any, ans: Any, x: Any, dim: int, index: Any, src: Any,
                         reduce: str, include_self: bool = True) -> tuple[Any, Any]:  # fmt: skip
    """The gradients of ``x`` and ``src`` of ``scatter_reduce``, PyTorch's
    (``scatter_reduce_backward``): ``mean`` divides by the count; ``amax``/``amin``
    share among the entries equal to the result, ``x``'s included where it takes part (not
    PyTorch's: it shares with an ``x`` left out); ``prod`` divides the
    product by each factor, exactly where one of them is 0."""
    xp = array_module(g)
    if x.ndim == 0:
        d_x, d_src = scatter_reduce_grads(
            xp.reshape(g, (1,)), xp.reshape(ans, (1,)), xp.reshape(x, (1,)), 0,
            xp.reshape(xp.asarray(index), (-1,)), xp.reshape(src, (-1,)), reduce, include_self,
        )  # fmt: skip
        return xp.reshape(d_x, ()), xp.reshape(d_src, xp.shape(src))
    part, where = scattered(x, dim, index, src, "scatter")
    d_src = xp.zeros(src.shape, dtype=g.dtype)
    if where is None:
        return g, d_src
    where = tuple(xp.broadcast_arrays(*where))
    if reduce == "sum":
        d_x, d_part = g, g[where]
    elif reduce == "mean":
        d_x = g / _scatter_count(x, where, include_self).astype(g.dtype)
        d_part = d_x[where]
    elif reduce in ("amax", "amin"):
        picked = backend.astype(x == ans, g.dtype)
        if not include_self:  # x's own entry is no candidate where src is scattered
            picked[where] = 0
        src_picked = backend.astype(part == ans[where], g.dtype)
        count = picked.copy()
        np.add.at(count, where, src_picked)
        shared = g / count
        d_x, d_part = picked * shared, src_picked * shared[where]
    else:
        kept = xp.where(x == 0, 1, x)
        d_x = g * scatter_reduce(kept, dim, index, src, "prod", include_self=include_self) / kept
        zero = part == 0
        zeros = xp.zeros(x.shape, dtype=g.dtype)
        np.add.at(zeros, where, backend.astype(zero, g.dtype))
        single = zero & (zeros[where] == 1)
        lone = src.copy()
        lone[tuple(slice(0, n) for n in part.shape)] = xp.where(single, 1, part)
        without = scatter_reduce(x, dim, index, lone, "prod", include_self=include_self)
        d_part = xp.where(single, (g * without)[where], (g * ans)[where] / xp.where(zero, 1, part))
    if not include_self:
        d_x = d_x.copy() if d_x is g else d_x
        d_x[where] = 0
    d_src[tuple(slice(0, n) for n in part.shape)] = d_part
    return d_x, d_src


def scatter_reduce_slopes(ans: Any, x: Any, dim: int, index: Any, src: Any, reduce: str,
                          include_self: bool = True) -> tuple[Any, Any]:  # fmt: skip
    """The slopes of ``scatter_reduce``'s result in each entry of ``x`` and of ``src``
    (``scatter_reduce_grads``'s, of a gradient of ones) for the reductions whose slopes
    are piecewise constant (sum, mean, amax, amin); zeros for ``prod``, whose tangent
    ``scatter_prod_slots`` lays out."""
    if reduce == "prod":
        xp = array_module(x)
        return xp.zeros_like(x), xp.zeros_like(src)
    return scatter_reduce_grads(array_module(ans).ones_like(ans), ans, x, dim, index, src,
                                reduce, include_self)  # fmt: skip


def scatter_prod_slots(x: Any, dim: int, index: Any, src: Any, reduce: str,
                       include_self: bool = True) -> Any:  # fmt: skip
    """For ``scatter_reduce(..., "prod")``: each entry of ``x`` (flat) as a row of its
    factors, as indices into ``x`` and ``src`` flattened and joined (``x``'s own entry
    first, where it takes part), rows filled up with their joint size (past its end,
    where the rule puts a 1). For the other reductions, rows of that alone."""
    xp = array_module(x)
    size, total = int(np.prod(x.shape)), int(np.prod(x.shape)) + int(np.prod(np.shape(src)))
    if reduce != "prod":
        return xp.asarray(np.full((size, 1), total))
    if x.ndim == 0:
        x, index, src, dim = (
            np.reshape(x, (1,)),
            np.reshape(index, (-1,)),
            np.reshape(src, (-1,)),
            0,
        )
    part, where = scattered(np.empty(x.shape), dim, backend.to_numpy(xp.asarray(index)),
                            np.empty(np.shape(src)), "scatter")  # fmt: skip
    own = np.arange(size)
    if where is None:
        return xp.asarray(own[:, None])
    where = np.broadcast_arrays(*where)
    at = np.ravel_multi_index(tuple(w.ravel() for w in where), x.shape)
    grid = np.indices(part.shape).reshape(len(part.shape), -1)
    factors = size + np.ravel_multi_index(tuple(grid), np.shape(src))
    if include_self:
        at, factors = np.concatenate([own, at]), np.concatenate([own, factors])
    else:
        kept = np.setdiff1d(own, at)
        at, factors = np.concatenate([kept, at]), np.concatenate([kept, factors])
    order = np.argsort(at, kind="stable")
    counts = np.bincount(at, minlength=size)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - starts[at[order]]
    slots = np.full((size, builtins.max(int(counts.max(initial=0)), 1)), total)
    slots[at, rank] = factors
    return xp.asarray(slots)


def scatter_reduce_curvature(
    g: Any,
    x: Any,
    dim: int,
    index: Any,
    src: Any,
    reduce: str,
    include_self: bool,
    dx: Any,
    dsrc: Any,
) -> tuple[Any, Any]:
    """The change of ``scatter_reduce_grads(g, ...)`` along ``dx`` and ``dsrc``: the
    Hessian of ``<g, result>`` times them (symmetric, its own adjoint), zero but for
    ``prod``'s, found per position from its zero factors' count and tangents and its
    nonzero ones' product and relative tangents, exact where factors are 0."""
    xp = array_module(g)
    if reduce != "prod":
        return xp.zeros(x.shape, dtype=g.dtype), xp.zeros(src.shape, dtype=g.dtype)
    if x.ndim == 0:
        d_x, d_src = scatter_reduce_curvature(
            xp.reshape(g, (1,)), xp.reshape(x, (1,)), 0, xp.reshape(xp.asarray(index), (-1,)),
            xp.reshape(src, (-1,)), reduce, include_self, xp.reshape(dx, (1,)),
            xp.reshape(dsrc, (-1,)),
        )  # fmt: skip
        return xp.reshape(d_x, ()), xp.reshape(d_src, xp.shape(src))
    part, where = scattered(x, dim, index, src, "scatter")
    d_src = xp.zeros(src.shape, dtype=g.dtype)
    if where is None:
        return xp.zeros(x.shape, dtype=g.dtype), d_src
    where = tuple(xp.broadcast_arrays(*where))
    d_part = dsrc[tuple(slice(0, n) for n in part.shape)]
    zero_x, zero_part = x == 0, part == 0
    kept_x, kept_part = xp.where(zero_x, 1, x), xp.where(zero_part, 1, part)
    own = backend.astype(xp.full(x.shape, include_self), g.dtype)  # x's entry a factor
    zeros = own * zero_x  # per position: how many factors are 0
    np.add.at(zeros, where, backend.astype(zero_part, g.dtype))
    nonzero = xp.where(zero_x, 1, kept_x) if include_self else xp.ones_like(own)
    np.multiply.at(nonzero, where, kept_part)  # (the product of the nonzero factors)
    ratios = own * xp.where(zero_x, 0, dx / kept_x)  # their tangents over their values
    np.add.at(ratios, where, xp.where(zero_part, 0, d_part / kept_part))
    zero_tangents = own * xp.where(zero_x, dx, 0)  # the zero factors' tangents
    np.add.at(zero_tangents, where, xp.where(zero_part, d_part, 0))

    def change(f: Any, df: Any, zero: Any, at: Any) -> Any:
        """The change of the product of the factors other than ``f`` (tangent ``df``) at
        its position, whose counts and sums ``at`` reads."""
        n, product, ratio, tangent = (at(zeros), at(nonzero), at(ratios), at(zero_tangents))
        kept = xp.where(zero, 1, f)
        if_nonzero = xp.where(n == 0, product / kept * (ratio - df / kept),
                              xp.where(n == 1, product / kept * tangent, 0))  # fmt: skip
        if_zero = xp.where(n == 1, product * ratio, xp.where(n == 2, product * (tangent - df), 0))
        return xp.where(zero, if_zero, if_nonzero)

    d_x = own * g * change(x, dx, zero_x, lambda a: a)
    d_src[tuple(slice(0, n) for n in part.shape)] = g[where] * change(
        part, d_part, zero_part, lambda a: a[where]
    )
    return d_x, d_src


def gather_grad(g: Any, x: Any, dim: int, index: Any) -> Any:
    """Gradient of ``x.gather(dim, index)``: ``g`` added into zeros at the entries read
    (an entry read twice gets both), zero outside the part read."""
    part, cut = gathered(x, dim, index)
    d = array_module(g).zeros(x.shape, dtype=g.dtype)
    d[cut] = take_along_axis_grad(g, part, index, dim)
    return d


def new_zeros(x: Any, *size: Any, dtype: Any = None) -> Any:
    return array_module(x).zeros(shape_of(size), dtype=_numpy_dtype(dtype) or x.dtype)


def new_ones(x: Any, *size: Any, dtype: Any = None) -> Any:
    return array_module(x).ones(shape_of(size), dtype=_numpy_dtype(dtype) or x.dtype)


def new_full(x: Any, size: Any, fill_value: Any, dtype: Any = None) -> Any:
    return array_module(x).full(shape_of((size,)), fill_value, dtype=_numpy_dtype(dtype) or x.dtype)


def new_tensor(x: Any, data: Any, dtype: Any = None) -> Any:
    """``x.new_tensor(data)``: a copy of ``data`` (numbers, arrays, nested lists of them)
    in ``x``'s dtype (or ``dtype``), carrying no gradient, as PyTorch's."""
    return array_module(x).array(data, dtype=_numpy_dtype(dtype) or x.dtype)


def shape_of(size: tuple) -> tuple:
    """A size given as numbers (``f(2, 3)``) or as one tuple, list or Size (``f((2, 3))``),
    as a tuple of ints."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _numpy_dtype(dtype: Any) -> Any:
    """NumPy's dtype for a srcdiff one (``sd.float32``), or a NumPy one as it is."""
    from .. import dtypes

    parsed = dtypes.parse(dtype) if dtype is not None else None
    return None if parsed is None else parsed.numpy


# ---- frac, sinc, copysign, heaviside, cummax, fmax, hypot, logaddexp --------------------


def floats_only(x: Any, kernel: str) -> None:
    """PyTorch's error for a kernel of floats given an integer or bool array."""
    if x.dtype.kind in "biu":
        name = SCALAR_TYPES.get(x.dtype.name, x.dtype.name)
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{name}'")


def tensor_only(other: Any, name: str, argument: str = "other") -> None:
    """PyTorch's error for a number where ``name`` takes a tensor alone."""
    if not hasattr(other, "dtype"):
        raise TypeError(
            f"{name}(): argument '{argument}' must be Tensor, not {type(other).__name__}"
        )


def frac(x: Any) -> Any:
    """``x.frac()``: ``x - trunc(x)``, the fractional part with the sign of ``x`` (floats
    alone, as PyTorch's)."""
    if not is_array(x):
        return x.frac()
    floats_only(x, "frac_cpu")
    return x - array_module(x).trunc(x)


def sinc(x: Any) -> Any:
    """``x.sinc()``: ``sin(pi x) / (pi x)``, 1 at 0 (of an integer array, the default
    float's)."""
    if not is_array(x):
        return x.sinc()
    return array_module(x).sinc(floating(x))


def copysign(x: Any, other: Any) -> Any:
    """``x.copysign(other)``: ``|x|`` with the sign of ``other``, in the floating dtype
    PyTorch promotes to."""
    if not is_array(x):
        return x.copysign(other)
    return np.copysign(*_promoted(x, other, "copysign"))


def heaviside(x: Any, values: Any) -> Any:
    """``x.heaviside(values)``: 0 where ``x < 0``, 1 where ``x > 0``, ``values`` where
    ``x == 0`` (``values`` a tensor of ``x``'s dtype, as PyTorch requires)."""
    if not is_array(x):
        return x.heaviside(values)
    tensor_only(values, "heaviside", "values")
    if values.dtype != x.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    return backend.astype(array_module(x).heaviside(x, values), x.dtype)  # (NumPy's of
    # integers is float64)


def cummax(x: Any, dim: int) -> Any:
    """``x.cummax(dim)``: ``(values, indices)`` of the running maximum along ``dim``; a tied
    maximum's index is its latest entry, a NaN's the latest NaN, as PyTorch's."""
    if not is_array(x):
        return x.cummax(dim)
    return RETURN_TYPES["cummax"](*_running_extreme(x, dim, np.maximum))


def cummin(x: Any, dim: int) -> Any:
    """``x.cummin(dim)``: as ``cummax``, of the running minimum."""
    if not is_array(x):
        return x.cummin(dim)
    return RETURN_TYPES["cummin"](*_running_extreme(x, dim, np.minimum))


def _running_extreme(x: Any, dim: int, extreme: Any) -> tuple[Any, Any]:
    """The running ``extreme`` of ``x`` along ``dim`` and the index of the entry each one
    is: the latest entry equal to it so far (NaN propagates, with the latest NaN's)."""
    xp = array_module(x)
    dim = checked_dim(x.ndim, dim)
    if x.ndim == 0:
        return x.copy(), xp.zeros((), dtype=np.int64)
    ufunc = getattr(xp, extreme.__name__)
    values = ufunc.accumulate(x, axis=dim)
    hit = x == values
    if x.dtype.kind in "fc":
        hit |= xp.isnan(x)
    shape = [1] * x.ndim
    shape[dim] = x.shape[dim]
    positions = xp.reshape(xp.arange(x.shape[dim], dtype=np.int64), shape)
    indices = xp.maximum.accumulate(xp.where(hit, positions, 0), axis=dim)
    return values, indices


def fmax(x: Any, other: Any) -> Any:
    """``x.fmax(other)``: the larger entry, the one that is not NaN where one is."""
    if not is_array(x):
        return x.fmax(other)
    tensor_only(other, "fmax")
    return np.fmax(*_promoted(x, other, "fmax"))


def fmin(x: Any, other: Any) -> Any:
    """``x.fmin(other)``: the smaller entry, the one that is not NaN where one is."""
    if not is_array(x):
        return x.fmin(other)
    tensor_only(other, "fmin")
    return np.fmin(*_promoted(x, other, "fmin"))


def _of_floats(ufunc: Any, x: Any, other: Any) -> Any:
    """``ufunc`` of the Tensor ``x`` and the Tensor ``other``, promoted as PyTorch does,
    refused as PyTorch's kernel of floats alone refuses integers."""
    name = ufunc.__name__
    tensor_only(other, name)
    a, b = _promoted(x, other, name)
    floats_only(a, f"{name}_cpu")
    return ufunc(a, b)


def hypot(x: Any, other: Any) -> Any:
    """``x.hypot(other)``: ``sqrt(x ** 2 + other ** 2)`` without overflow (floats alone)."""
    return x.hypot(other) if not is_array(x) else _of_floats(np.hypot, x, other)


def logaddexp(x: Any, other: Any) -> Any:
    """``x.logaddexp(other)``: ``log(exp(x) + exp(other))`` without overflow (floats)."""
    return x.logaddexp(other) if not is_array(x) else _of_floats(np.logaddexp, x, other)


def logaddexp2(x: Any, other: Any) -> Any:
    """``x.logaddexp2(other)``: ``log2(2 ** x + 2 ** other)`` without overflow (floats)."""
    return x.logaddexp2(other) if not is_array(x) else _of_floats(np.logaddexp2, x, other)


METHODS = {
    name: globals()[name]
    for name in (
        "sum mean max min exp log sqrt abs tanh sin cos neg t clone sigmoid relu pow clamp "
        "view reshape transpose permute unsqueeze squeeze flatten float double long to detach "
        "numpy cpu size numel dim add sub mul div matmul mm dot softmax log_softmax masked_fill "
        "argmax argmin is_floating_point var std item square reciprocal log1p expm1 sign "
        "contiguous norm expand split chunk tril triu bmm gather new_zeros new_ones new_full "
        "new_tensor "
        "repeat index_select flip roll amax amin logsumexp floor ceil round trunc isnan isinf "
        "isfinite sort argsort topk cumprod cumsum prod unbind narrow movedim diag outer "
        "scatter scatter_add requires_grad_ nan_to_num type_as rsqrt diagonal swapaxes "
        "swapdims atan2 arctan2 remainder fmod erf lerp addcmul logical_and logical_or "
        "logical_xor logical_not all any div_rounded repeat_interleave masked_select "
        "index_fill index_add tile trace select unflatten diff median kthvalue aminmax dist "
        "scatter_reduce frac sinc copysign heaviside cummax cummin fmax fmin hypot logaddexp "
        "logaddexp2 unfold as_strided copied"
    ).split()
}
# names of the Tensor's that an array has no attribute of: its methods compiled code has
# no array version of (called on a computed value, refused), and its own attributes
TENSOR_ONLY = frozenset({
    "retain_grad", "register_hook", "requires_grad_", "expand_as", "view_as",
    "reshape_as", "element_size", "nelement", "ndimension", "eq", "ne", "gt", "ge",
    "lt", "le", "cuda",
    "half", "bool", "int", "type", "backward", "requires_grad", "is_leaf", "grad_fn",
    "grad", "data", "device", "detach_", "zero_", "fill_", "clamp_", "copy_", "add_", "sub_",
    "mul_", "div_", "uniform_", "normal_", "bernoulli_", "addcmul_", "addcdiv_",
    "masked_fill_", "relu_", "sigmoid_", "tanh_", "abs_", "exp_", "log_", "nan_to_num_",
    "index_fill_", "index_add_",
})  # fmt: skip
ATTRIBUTES = {
    name: globals()[name]
    for name in (
        "data",
        "device",
        "dtype",
        "_data",
        "grad",
        "values",
        "indices",
        "requires_grad",
        "is_leaf",
        "grad_fn",
    )  # fmt: skip
}
# methods of an array or a Tensor that change neither their object nor an argument (an
# array's sort does, a Tensor's does not: it is taken to)
ARRAY_IN_PLACE = frozenset({"fill", "sort", "partition", "put", "itemset", "resize", "setfield",
                            "setflags", "byteswap"})  # fmt: skip
UNCHANGING = (
    frozenset(n for n in dir(np.ndarray) if not n.startswith("_")) | frozenset(METHODS)
) - ARRAY_IN_PLACE | frozenset(
    n for n in TENSOR_ONLY
    if not n.endswith("_") and n not in ("backward", "register_hook", "retain_grad")
)  # fmt: skip
FUNCTIONS = {
    name: globals()[name]
    for name in (
        "sum mean max min exp log sqrt abs tanh sin cos sigmoid relu pow clamp reshape "
        "transpose unsqueeze squeeze flatten add sub mul div matmul softmax log_softmax argmax "
        "argmin maximum minimum where cat stack zeros_like ones_like full_like empty_like var "
        "std is_tensor split chunk tril triu bmm gather index_select flip roll amax amin "
        "logsumexp floor ceil round trunc isnan isinf isfinite sort argsort topk cumprod "
        "unbind narrow movedim diag outer scatter scatter_add masked_fill nan_to_num rsqrt "
        "diagonal swapaxes swapdims atan2 arctan2 remainder fmod erf lerp addcmul "
        "logical_and logical_or logical_xor logical_not all any repeat_interleave "
        "masked_select index_fill index_add tile trace diff median kthvalue aminmax var_mean "
        "std_mean norm dist cdist select unflatten scatter_reduce frac sinc copysign heaviside "
        "cummax cummin fmax fmin hypot logaddexp logaddexp2 as_strided"
    ).split()
}
