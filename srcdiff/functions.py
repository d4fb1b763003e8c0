"""Functions on tensors (``sd.exp``, ``sd.cat``, ``sd.where``, ...), as PyTorch names them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import grad_mode
from . import runtime as rt
from .backend import array_module
from .creation import tensor as _new_tensor
from .dtypes import of_numpy
from .tensor import Tensor, apply_op, binary_op, result_dtype


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _new_tensor(x)


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()


def exp(x: Any) -> Tensor:
    return _t(x).exp()


def log(x: Any) -> Tensor:
    return _t(x).log()


def sqrt(x: Any) -> Tensor:
    return _t(x).sqrt()


def abs(x: Any) -> Tensor:
    return _t(x).abs()


def sin(x: Any) -> Tensor:
    return _t(x).sin()


def cos(x: Any) -> Tensor:
    return _t(x).cos()


def tanh(x: Any) -> Tensor:
    return _t(x).tanh()


def sigmoid(x: Any) -> Tensor:
    return _t(x).sigmoid()


def relu(x: Any) -> Tensor:
    return _t(x).relu()


def clamp(x: Any, min: Any = None, max: Any = None) -> Tensor:
    return _t(x).clamp(min, max)


clip = clamp


def softmax(x: Any, dim: int, dtype: Any = None) -> Tensor:
    return _t(x).softmax(dim) if dtype is None else _t(x).softmax(dim, dtype)


def log_softmax(x: Any, dim: int, dtype: Any = None) -> Tensor:
    return _t(x).log_softmax(dim) if dtype is None else _t(x).log_softmax(dim, dtype)


def sum(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        return _t(x).sum(dim, keepdim, dtype=dtype)
    return _t(x).sum(dim, keepdim)


def mean(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        return _t(x).mean(dim, keepdim, dtype=dtype)
    return _t(x).mean(dim, keepdim)


def var(x: Any, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:  # fmt: skip
    """The variance (divided by ``n - correction``, 1 by default), as ``torch.var``."""
    return _t(x).var(dim, unbiased, keepdim, correction=correction)


def std(x: Any, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:  # fmt: skip
    """The standard deviation (see ``var``), as ``torch.std``."""
    return _t(x).std(dim, unbiased, keepdim, correction=correction)


def max(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    return _t(x).max(dim, keepdim)


def min(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    return _t(x).min(dim, keepdim)


def argmax(x: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _t(x).argmax(dim, keepdim)


def argmin(x: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _t(x).argmin(dim, keepdim)


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    return _t(x).reshape(shape)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return _t(x).flatten(start_dim, end_dim)


def transpose(x: Any, dim0: int, dim1: int) -> Tensor:
    return _t(x).transpose(dim0, dim1)


def squeeze(x: Any, dim: int | None = None) -> Tensor:
    return _t(x).squeeze(dim)


def unsqueeze(x: Any, dim: int) -> Tensor:
    return _t(x).unsqueeze(dim)


def _out(result: Tensor, out: Tensor | None) -> Tensor:
    return result if out is None else out.copy_(result)


def add(x: Any, y: Any, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    return _out(_t(x).add(y, alpha=alpha), out)


def sub(x: Any, y: Any, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    return _out(_t(x).sub(y, alpha=alpha), out)


def mul(x: Any, y: Any, out: Tensor | None = None) -> Tensor:
    return _out(_t(x) * y, out)


def div(x: Any, y: Any, *, rounding_mode: str | None = None, out: Tensor | None = None
        ) -> Tensor:  # fmt: skip
    return _out(_t(x).div(y, rounding_mode=rounding_mode), out)


def pow(x: Any, exponent: Any) -> Tensor:
    return _t(x) ** exponent if isinstance(x, Tensor) else x ** _t(exponent)


def matmul(x: Any, y: Any) -> Tensor:
    return _t(x) @ y


mm = matmul


def dot(x: Tensor, y: Tensor) -> Tensor:
    """The inner product of two 1-D tensors (PyTorch's error for others)."""
    if _t(x).ndim != 1 or _t(y).ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {_t(x).ndim}D and {_t(y).ndim}D tensors")
    return _t(x) @ y


def mv(mat: Tensor, vec: Tensor) -> Tensor:
    """A 2-D tensor times a 1-D one."""
    if _t(mat).ndim != 2 or _t(vec).ndim != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got 1, {_t(mat).ndim}, {_t(vec).ndim}"
        )
    return _t(mat) @ vec


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1
          ) -> Tensor:  # fmt: skip
    """``beta * input + alpha * (mat1 @ mat2)``."""
    product = _t(mat1) @ mat2
    product = product if alpha == 1 else product * alpha
    return product + (input if beta == 1 else input * beta)


def einsum(equation: str, *operands: Any) -> Tensor:
    """``np.einsum``'s contraction of 1 to 4 tensors (given one by one, or as one list)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if len(operands) == 1:  # (one by one: compiled Tensor code passes no *operands on)
        return np.einsum(equation, operands[0])
    if len(operands) == 2:
        return np.einsum(equation, operands[0], operands[1])
    if len(operands) == 3:
        return np.einsum(equation, operands[0], operands[1], operands[2])
    if len(operands) == 4:
        return np.einsum(equation, operands[0], operands[1], operands[2], operands[3])
    raise ValueError(f"srcdiff's einsum takes 1 to 4 operands, not {len(operands)}")


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """The vector ``p``-norm of all entries, or over ``dim``."""
    return _t(input).norm(p, dim, keepdim)


def bmm(x: Tensor, y: Tensor) -> Tensor:
    return _t(x).bmm(y)


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return _t(x).split(split_size_or_sections, dim)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    return _t(x).chunk(chunks, dim)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    return _t(x).tril(diagonal)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    return _t(x).triu(diagonal)


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    return _t(x).gather(dim, index)


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    return _t(x).index_select(dim, index)


def flip(x: Tensor, dims: Any) -> Tensor:
    return _t(x).flip(dims)


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    return _t(x).roll(shifts, dims)


def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    return _t(x).amax(dim, keepdim)


def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    return _t(x).amin(dim, keepdim)


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    return _t(x).logsumexp(dim, keepdim)


def floor(x: Tensor) -> Tensor:
    return _t(x).floor()


def ceil(x: Tensor) -> Tensor:
    return _t(x).ceil()


def round(x: Tensor, decimals: int = 0) -> Tensor:
    return _t(x).round(decimals)


def trunc(x: Tensor) -> Tensor:
    return _t(x).trunc()


def isnan(x: Tensor) -> Tensor:
    return _t(x).isnan()


def isinf(x: Tensor) -> Tensor:
    return _t(x).isinf()


def isfinite(x: Tensor) -> Tensor:
    return _t(x).isfinite()


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: Any = False) -> Any:
    return _t(x).sort(dim, descending, stable=stable)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: Any = False) -> Tensor:
    return _t(x).argsort(dim, descending, stable=stable)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    return _t(x).topk(k, dim, largest, sorted)


def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return _t(x).cumprod(dim, dtype=dtype)


def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return _t(x).cumsum(dim, dtype=dtype)


def prod(x: Any, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    return _t(x).prod(dim, keepdim, dtype=dtype)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    return _t(x).unbind(dim)


def narrow(x: Tensor, dim: int, start: Any, length: int) -> Tensor:
    return _t(x).narrow(dim, start, length)


def as_strided(x: Tensor, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:
    """``x.as_strided(size, stride, storage_offset)``."""
    return _t(x).as_strided(size, stride, storage_offset)


def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    return _t(x).movedim(source, destination)


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    return _t(x).diag(diagonal)


def outer(x: Tensor, vec2: Tensor) -> Tensor:
    return _t(x).outer(vec2)


def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    return _t(x).masked_fill(mask, value)


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:  # fmt: skip
    return _t(x).nan_to_num(nan, posinf, neginf)


def scatter(x: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,
            reduce: Any = None) -> Tensor:  # fmt: skip
    return _t(x).scatter(dim, index, src, value=value, reduce=reduce)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return _t(x).scatter_add(dim, index, src)


def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise maximum (ties share the gradient evenly, as in PyTorch)."""
    return binary_op(np.maximum, _t(x), y, "MaximumBackward0")


def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise minimum (ties share the gradient evenly, as in PyTorch)."""
    return binary_op(np.minimum, _t(x), y, "MinimumBackward0")


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` holds, else ``y`` (tensors or numbers, broadcast)."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = _t(x)
    dt = result_dtype(x, y)
    x, y = (
        v.to(of_numpy(dt)) if isinstance(v, Tensor) and v._data.dtype != dt else v for v in (x, y)
    )
    return apply_op(np.where, (cond.astype(bool, copy=False), x, y), name="WhereBackward0")


def _joined(tensors: Sequence[Tensor], whole: np.ndarray, parts: list[tuple], name: str) -> Tensor:
    """``whole``, with each piece that requires grad recorded as written into it.

    A recorded step is ``rt.setitem(previous, index, piece)`` (a rule of the registry, so
    the joined pieces need no rule of their own). ``whole`` already holds every piece, so
    every step has ``whole`` as its value and nothing is copied.
    """
    grad_pieces = [(t, idx) for t, idx in zip(tensors, parts, strict=True) if t.requires_grad]
    result = Tensor._make(whole)
    if not grad_pieces or not grad_mode.is_grad_enabled():
        return result
    for i, (piece, idx) in enumerate(grad_pieces):
        last = i == len(grad_pieces) - 1
        result = apply_op(
            rt.setitem,
            (result, idx, piece),
            name=name if last else "CopySlices",
            compute=lambda *_: whole,
        )
    return result


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = [_t(t) for t in tensors]
    dt = result_dtype(*tensors)
    arrays = [t._data.astype(dt, copy=False) for t in tensors]
    whole = np.concatenate(arrays, axis=dim)
    dim = dim % whole.ndim
    ends = np.cumsum([a.shape[dim] for a in arrays])
    parts = [
        (slice(None),) * dim + (slice(int(e - a.shape[dim]), int(e)),)
        for a, e in zip(arrays, ends, strict=True)
    ]
    return _joined(tensors, whole, parts, "CatBackward0")


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along a new dimension."""
    tensors = [_t(t) for t in tensors]
    dt = result_dtype(*tensors)
    whole = np.stack([t._data.astype(dt, copy=False) for t in tensors], axis=dim)
    dim = dim % whole.ndim
    parts = [(slice(None),) * dim + (i,) for i in range(len(tensors))]
    return _joined(tensors, whole, parts, "StackBackward0")


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08) -> bool:
    a, b = _t(a)._data, _t(b)._data
    return bool(array_module(a, b).allclose(a, b, rtol, atol))


def equal(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool((a == b).all())


NUMPY_FUNCTIONS = {
    np.concatenate: lambda arrays, axis=0: cat(arrays, dim=axis),
    np.stack: lambda arrays, axis=0: stack(arrays, dim=axis),
    np.where: where,
}


def rsqrt(x: Any) -> Tensor:
    return _t(x).rsqrt()


def erf(x: Any) -> Tensor:
    return _t(x).erf()


def atan2(x: Any, other: Any) -> Tensor:
    return _t(x).atan2(other)


arctan2 = atan2


def remainder(x: Any, other: Any) -> Tensor:
    return _t(x).remainder(other)


def fmod(x: Any, other: Any) -> Tensor:
    return _t(x).fmod(other)


def lerp(x: Any, end: Any, weight: Any) -> Tensor:
    return _t(x).lerp(end, weight)


def addcmul(x: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    return _t(x).addcmul(tensor1, tensor2, value=value)


def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    return _t(x).diagonal(offset, dim1, dim2)


swapaxes = swapdims = transpose  # (as PyTorch's: the same function)


def logical_and(x: Any, other: Any) -> Tensor:
    return _t(x).logical_and(other)


def logical_or(x: Any, other: Any) -> Tensor:
    return _t(x).logical_or(other)


def logical_xor(x: Any, other: Any) -> Tensor:
    return _t(x).logical_xor(other)


def logical_not(x: Any) -> Tensor:
    return _t(x).logical_not()


def all(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch.all
    return _t(x).all(dim, keepdim)


def any(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch.any
    return _t(x).any(dim, keepdim)


def repeat_interleave(x: Tensor, repeats: Any, dim: Any = None) -> Tensor:
    return _t(x).repeat_interleave(repeats, dim)


def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    return _t(x).masked_select(mask)


def index_fill(x: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    return _t(x).index_fill(dim, index, value)


def index_add(x: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    return _t(x).index_add(dim, index, source, alpha=alpha)


def tile(x: Any, dims: Any) -> Tensor:
    return _t(x).tile(dims)


def trace(x: Any) -> Tensor:
    return _t(x).trace()


def select(x: Any, dim: int, index: Any) -> Tensor:
    return _t(x).select(dim, index)


def unflatten(x: Any, dim: int, sizes: Any) -> Tensor:
    return _t(x).unflatten(dim, sizes)


def diff(x: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Tensor:
    return _t(x).diff(n, dim, prepend, append)


def median(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    return _t(x).median(dim, keepdim)


def kthvalue(x: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    return _t(x).kthvalue(k, dim, keepdim)


def aminmax(x: Any, *, dim: Any = None, keepdim: bool = False) -> Any:
    return _t(x).aminmax(dim=dim, keepdim=keepdim)


def var_mean(x: Any, dim: Any = None, unbiased: Any = True, keepdim: bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:  # fmt: skip
    """``(x.var(...), x.mean(...))`` (``unbiased`` may come in place of ``dim``)."""
    x = _t(x)
    dim, unbiased = rt.tensor_methods.spread_args(dim, unbiased)
    return x.var(dim, unbiased, keepdim, correction=correction), _spread_mean(x, dim, keepdim)


def std_mean(x: Any, dim: Any = None, unbiased: Any = True, keepdim: bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:  # fmt: skip
    """``(x.std(...), x.mean(...))``."""
    x = _t(x)
    dim, unbiased = rt.tensor_methods.spread_args(dim, unbiased)
    return x.std(dim, unbiased, keepdim, correction=correction), _spread_mean(x, dim, keepdim)


def _spread_mean(x: Tensor, dim: Any, keepdim: bool) -> Tensor:
    x = x._floating()
    return x.mean(dim, keepdim) if dim is not None else x.mean((), keepdim)


def dist(x: Any, other: Any, p: Any = 2) -> Tensor:
    return _t(x).dist(other, p)


def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * (batch1 @ batch2)`` of batches of matrices (``input``
    ignored where ``beta`` is 0, its NaN too, as PyTorch's)."""
    product = _t(batch1).bmm(batch2)
    product = product if alpha == 1 else product * alpha
    input = _t(input)
    if beta == 0:  # its values ignored (NaN too), its gradient zero, as PyTorch's
        return product + where(input.new_zeros(input.shape, dtype=bool), input, 0.0)
    return product + (input if beta == 1 else input * beta)


def cdist(x1: Any, x2: Any, p: Any = 2.0, compute_mode: Any = None) -> Tensor:
    """The ``p``-norm distances between the rows of ``x1`` and those of ``x2``."""
    x1, x2 = _t(x1), _t(x2)
    dt = result_dtype(x1, x2)
    for name, x in (("X1", x1), ("X2", x2)):
        if x.dtype.numpy.kind not in "fc":
            raise RuntimeError(
                f"cdist only supports floating-point dtypes, {name} got: "
                f"{rt.tensor_methods.SCALAR_TYPES.get(str(x.dtype.numpy), x.dtype)}"
            )
    return apply_op(rt.tensor_methods.cdist,
                    (x1.to(of_numpy(dt)), x2.to(of_numpy(dt)), p, compute_mode),
                    name="CdistBackward0")  # fmt: skip


def scatter_reduce(x: Any, dim: int, index: Any, src: Any, reduce: str, *,
                   include_self: bool = True) -> Tensor:  # fmt: skip
    return _t(x).scatter_reduce(dim, index, src, reduce, include_self=include_self)


def frac(x: Any) -> Tensor:
    return _t(x).frac()


def sinc(x: Any) -> Tensor:
    return _t(x).sinc()


def copysign(x: Any, other: Any) -> Tensor:
    return _t(x).copysign(other)


def heaviside(x: Any, values: Any) -> Tensor:
    return _t(x).heaviside(values)


def cummax(x: Any, dim: int) -> Any:
    return _t(x).cummax(dim)


def cummin(x: Any, dim: int) -> Any:
    return _t(x).cummin(dim)


def fmax(x: Any, other: Any) -> Tensor:
    return _t(x).fmax(other)


def fmin(x: Any, other: Any) -> Tensor:
    return _t(x).fmin(other)


def hypot(x: Any, other: Any) -> Tensor:
    return _t(x).hypot(other)


def logaddexp(x: Any, other: Any) -> Tensor:
    return _t(x).logaddexp(other)


def logaddexp2(x: Any, other: Any) -> Tensor:
    return _t(x).logaddexp2(other)
