"""Making tensors: from data, filled, ranged and random (with one seeded generator)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import cuda, dtypes, fused, grad_mode
from .backend import sample, to_numpy
from .dtypes import (  # noqa: F401 - re-exported: sd.float32 and friends
    bool_,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from .generator import Generator
from .rules.registry import nondiff
from .tensor import Size, Tensor, _unwrap_nested, real_only

_generator = Generator()  # PyTorch's default seed, so runs without manual_seed repeat


def manual_seed(seed: int) -> Generator:
    """Seed the generator behind randn, rand, uniform_, normal_, randint, randperm,
    random_split, ...: the numbers PyTorch's CPU generator gives after the same seed."""
    return _generator.manual_seed(seed)


def generator() -> Generator:
    """The default generator (on the host, so results do not depend on the device)."""
    return _generator


def _module(device: Any) -> Any:
    """The array module of ``device`` (NumPy when none is given)."""
    return np if device is None else cuda.module(device)


def _finish(array: np.ndarray, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    real_only(array)
    dt = dtypes.parse(dtype)
    if dt is not None and array.dtype != dt.numpy:
        array = array.astype(dt.numpy)
    if device is not None:
        array = cuda.to_device(array, device)
    t = Tensor._make(array)
    t.requires_grad = requires_grad
    return t


def _default_dtype(array: np.ndarray) -> np.ndarray:
    """Python data gets PyTorch's defaults: float32 for floats, int64 for integers."""
    if array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    if array.dtype.kind in "iu" and array.dtype != np.int64:
        return array.astype(np.int64)
    return array


# PyTorch's categories, lowest first: a nested sequence's dtype is the widest of the
# highest category its entries have (int64 and float32 promote to float32, not float64)
_CATEGORIES = "bui" + "fc"


def _nested_dtype(data: Any) -> np.dtype | None:
    """The dtype PyTorch gives a tensor of nested sequences: Python floats float32,
    Python ints int64, and arrays, NumPy scalars and tensors inside them their own
    dtype, promoted together within the highest category (None for no numbers)."""
    found: list[np.dtype] = []

    def visit(x: Any) -> None:
        if isinstance(x, (list, tuple)):
            for v in x:
                visit(v)
        elif isinstance(x, Tensor):
            found.append(x._data.dtype)
        elif isinstance(x, (np.ndarray, np.generic)):
            found.append(x.dtype)
        elif isinstance(x, bool):
            found.append(np.dtype(bool))
        elif isinstance(x, numbers.Integral):
            found.append(np.dtype(np.int64))
        elif isinstance(x, numbers.Real):
            found.append(np.dtype(np.float32))
        elif isinstance(x, numbers.Complex):
            found.append(np.dtype(np.complex64))

    visit(data)
    ranked = [d for d in found if d.kind in _CATEGORIES]
    if not ranked:
        return None
    top = max(ranked, key=lambda d: _CATEGORIES.index(d.kind)).kind
    joined = {"f": "f", "c": "fc"}.get(top, "bui")  # the kinds promoted with the top's
    return np.result_type(*(d for d in ranked if d.kind in joined))


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (Python numbers, nested lists, arrays, tensors).

    NumPy arrays and scalars keep their dtype; Python floats become float32, unless
    ``dtype`` is given: then each number is rounded once, straight to ``dtype`` (as
    PyTorch does: ``tensor([0.1], dtype=float64)`` holds the double 0.1, not a float32).
    """
    if isinstance(data, Tensor):
        array = data._data.copy()
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data)
    elif cuda.of_array(data) == "cuda":
        array = data.copy()
    else:
        given = dtypes.parse(dtype) is not None
        inferred = None if given else _nested_dtype(data)
        array = np.array(_unwrap_nested(data), dtype=inferred)
        if not given and inferred is None and array.dtype == np.float64:
            array = array.astype(np.float32)  # no numbers: an empty tensor, float32
    return _finish(array, dtype, device, requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory where no conversion is needed."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, np.ndarray) and dtypes.parse(dtype) in (None, dtypes.of_numpy(data.dtype)):
        return _finish(data, None, device, False)
    return tensor(data, dtype, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    real_only(array)
    return Tensor._make(array)


def _shape(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = size[0]
    return tuple(int(s) for s in size)


def _float_dtype(dtype: Any) -> np.dtype:
    return (dtypes.parse(dtype) or dtypes.DEFAULT_FLOAT).numpy


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(_shape(size), _float_dtype(dtype)), None, device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(_shape(size), _float_dtype(dtype)), None, device, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.empty(_shape(size), _float_dtype(dtype)), None, device, requires_grad)


def full(
    size: Sequence[int],
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    real_only(fill_value)
    dt = dtypes.parse(dtype)
    if dt is not None:  # each entry rounded once, straight to ``dtype`` (no float32 first)
        return _finish(np.full(_shape((size,)), fill_value, dt.numpy), None, device, requires_grad)
    return _finish(
        _default_dtype(np.full(_shape((size,)), fill_value)), None, device, requires_grad
    )


def _like(t: Tensor, fill: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    """A new tensor of ``fill`` shaped like ``t`` (a Tensor, or the array compiled code
    holds for one), of ``dtype`` or ``t``'s, on ``device`` or ``t``'s."""
    real_only(fill)
    dt = (dtypes.parse(dtype) or dtypes.parse(t.dtype)).numpy
    device = device or (t.device if isinstance(t, Tensor) else cuda.of_array(t))
    return _finish(np.full(tuple(t.shape), fill, dt), None, device, requires_grad)


def zeros_like(
    t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _like(t, 0, dtype, device, requires_grad)


def ones_like(
    t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _like(t, 1, dtype, device, requires_grad)


def empty_like(
    t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _like(t, 0, dtype, device, requires_grad)


def full_like(
    t: Tensor, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _like(t, fill_value, dtype, device, requires_grad)


def eye(
    n: int, m: int | None = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), None, device, requires_grad)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``arange(end)`` or ``arange(start, end, step)``: int64 for integer bounds, else float32.

    Floating entries are PyTorch's CPU values, bit for bit: ``start + i * step`` computed
    in double precision and rounded once to ``dtype`` (never through float32 first), as
    its vectorized kernel rounds them (see ``_arange_values``)."""
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    array = np.arange(start, end, step)  # (the length, and integer entries)
    dt = dtypes.parse(dtype)
    target = _default_dtype(array).dtype if dt is None else dt.numpy
    if target.kind == "f" and array.size:
        array = _arange_values(start, step, array.size, target)
    elif target == np.int64 and array.dtype.kind == "f":  # PyTorch's kernel counts in
        array = np.arange(int(start), int(end), int(step))  # int64: every bound truncated
    elif target.kind in "iu" and array.dtype.kind == "f":  # the other integer kernels count
        array = int(start) + np.arange(array.size) * int(step)  # in double: start and step
    return _finish(array, target, device, requires_grad)


# PyTorch's x86-64 arange kernel computes this many entries at once (one AVX2 register)
_ARANGE_LANES = {np.dtype(np.float64): 4, np.dtype(np.float32): 8}


def _arange_values(start: Any, step: Any, n: int, dtype: np.dtype) -> np.ndarray:
    """The ``n`` entries of PyTorch's CPU ``arange`` in the floating ``dtype``.

    Its kernel works in double precision with fused multiply-adds: a block of
    ``lanes`` entries from ``i0`` is ``fma(j, step, base)`` with ``base = fma(step, i0,
    start)`` (rounded to ``dtype`` first), two blocks at a time; the entries after the
    last pair of blocks are ``fma(step, i, start)``, one by one. Each is then rounded to
    ``dtype``. (Past 32768 entries PyTorch may split the work among threads, each
    starting its blocks afresh: entries can then differ from its own in the last bit.)"""
    i = np.arange(n, dtype=np.float64)
    start64, step64 = np.full(n, float(start)), np.full(n, float(step))
    one_by_one = fused.fma(step64, i, start64)
    lanes = _ARANGE_LANES.get(dtype)
    if lanes is None:
        return one_by_one.astype(dtype)
    first = np.floor(i / lanes) * lanes  # the first entry of each one's block
    base = fused.fma(step64, first, start64).astype(dtype).astype(np.float64)
    blocks = fused.fma(i - first, step64, base)
    return np.where(i < n - n % (2 * lanes), blocks, one_by_one).astype(dtype)


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))  # 0-d ones
    real_only(start, end)
    array = np.linspace(start, end, steps, dtype=_float_dtype(dtype))
    return _finish(array, None, device, requires_grad)


def randn(
    *size: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Standard normal samples (drawn in float64, then cast, so dtypes share one stream)."""
    values = sample(
        generator or _generator,
        "standard_normal",
        _shape(size),
        _float_dtype(dtype),
        _module(device),
    )
    return _finish(values, None, device, requires_grad)


def bernoulli(input: Tensor, generator: Generator | None = None) -> Tensor:
    """1 with probability ``input`` (each entry a probability), else 0, as
    ``torch.bernoulli``: PyTorch's draws after ``sd.manual_seed``."""
    values = sample(generator or _generator, "bernoulli", tuple(input.shape), input._data.dtype,
                    _module(input.device), p=to_numpy(input._data))  # fmt: skip
    return _finish(values, None, input.device, False)


def rand(
    *size: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Uniform samples in [0, 1)."""
    values = sample(
        generator or _generator, "random", _shape(size), _float_dtype(dtype), _module(device)
    )
    return _finish(values, None, device, requires_grad)


def randn_like(
    t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return randn(
        *t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad
    )


def rand_like(
    t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return rand(
        *t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad
    )


def randint(
    low: int,
    high: int | None = None,
    size: Sequence[int] = (),
    dtype: Any = None,
    device: Any = None,
    generator: Generator | None = None,
) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` counts from 0)."""
    if high is not None and not isinstance(high, numbers.Integral) and size == ():
        low, high, size = 0, low, high  # ``randint(5, (3, 2))``: PyTorch's (high, size)
    if high is None:
        low, high = 0, low
    draws = generator or _generator
    values = draws.integers(low, high, size=_shape((size,)), dtype=np.int64)
    return _finish(values, dtype, device, False)


def randperm(n: int, dtype: Any = None, device: Any = None,
             generator: Generator | None = None) -> Tensor:  # fmt: skip
    """A random permutation of 0 .. n-1."""
    order = (generator or _generator).permutation(n)
    return _finish(order.astype(np.int64), dtype, device, False)


class _TensorTypeMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.is_cuda == cls.is_cuda

    def __repr__(cls) -> str:
        return f"<class 'srcdiff.{'cuda.' if cls.is_cuda else ''}{cls.__name__}'>"


class TensorType(metaclass=_TensorTypeMeta):
    """PyTorch's typed tensor classes (``srcdiff.FloatTensor``, ...): for
    ``isinstance(x, sd.FloatTensor)``, ``x.type(sd.DoubleTensor)``, and to make a tensor
    from data (``sd.FloatTensor([1, 2])``) or of a shape (``sd.FloatTensor(2, 3)``,
    zeros here where PyTorch leaves memory uninitialized)."""

    dtype: dtypes.dtype = dtypes.float32
    is_cuda = False

    def __new__(cls, *args: Any) -> Tensor:  # type: ignore[misc]
        device = "cuda" if cls.is_cuda else "cpu"
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            return tensor(args[0], dtype=cls.dtype, device=device)
        return zeros(*args, dtype=cls.dtype, device=device)


def _tensor_type(dt: dtypes.dtype, cuda_: bool = False) -> type:
    return _TensorTypeMeta(dt.type_name, (TensorType,), {"dtype": dt, "is_cuda": cuda_})


TENSOR_TYPES = {dt.type_name: _tensor_type(dt) for dt in dtypes.ALL}
FloatTensor, DoubleTensor, HalfTensor = (
    TENSOR_TYPES[n] for n in ("FloatTensor", "DoubleTensor", "HalfTensor")
)
LongTensor, IntTensor, ShortTensor = (
    TENSOR_TYPES[n] for n in ("LongTensor", "IntTensor", "ShortTensor")
)
CharTensor, ByteTensor, BoolTensor = (
    TENSOR_TYPES[n] for n in ("CharTensor", "ByteTensor", "BoolTensor")
)
CUDA_TENSOR_TYPES = {dt.type_name: _tensor_type(dt, True) for dt in dtypes.ALL}
for _name, _cls in CUDA_TENSOR_TYPES.items():  # srcdiff.cuda.FloatTensor, as in PyTorch
    setattr(cuda, _name, _cls)


nondiff(
    "a new tensor is a leaf that requires no grad, as in PyTorch (torch.tensor(t) copies "
    "and detaches, torch.full takes a number)",
    tensor, as_tensor, from_numpy, zeros, ones, empty, full, zeros_like, ones_like,
    empty_like, full_like, eye, arange, linspace, randn, rand, randn_like, rand_like,
    randint, randperm, bernoulli, manual_seed, grad_mode.is_grad_enabled,
)  # fmt: skip
nondiff("a grad mode, made of a flag (which carries no gradient)", grad_mode.set_grad_enabled)
