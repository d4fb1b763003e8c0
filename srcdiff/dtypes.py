"""Tensor dtypes: small named objects that map to NumPy dtypes and print like PyTorch's."""

from __future__ import annotations

import builtins
import numbers
from typing import Any

import numpy as np


class dtype:  # noqa: N801 - named as torch.dtype
    """A tensor element type (``srcdiff.float32``, ...), backed by a NumPy dtype."""

    __slots__ = ("name", "numpy", "is_floating_point", "type_name")

    def __init__(self, name: str, numpy_dtype: Any, type_name: str) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.is_floating_point = self.numpy.kind == "f"
        self.type_name = type_name

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    def __repr__(self) -> str:
        return f"srcdiff.{self.name}"

    def __reduce__(self) -> str:
        return self.name


float16 = dtype("float16", np.float16, "HalfTensor")
float32 = dtype("float32", np.float32, "FloatTensor")
float64 = dtype("float64", np.float64, "DoubleTensor")
uint8 = dtype("uint8", np.uint8, "ByteTensor")
int8 = dtype("int8", np.int8, "CharTensor")
int16 = dtype("int16", np.int16, "ShortTensor")
int32 = dtype("int32", np.int32, "IntTensor")
int64 = dtype("int64", np.int64, "LongTensor")
bool_ = dtype("bool", np.bool_, "BoolTensor")

ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NUMPY = {d.numpy: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(float=float32, double=float64, half=float16, long=int64, int=int32, short=int16)
_PYTHON = {float: float64, int: int64, bool: bool_}

DEFAULT_FLOAT = float32


def _name(spec: str) -> str:
    return spec.removeprefix("srcdiff.").removeprefix("torch.")


def of_numpy(np_dtype: Any) -> dtype:
    """The srcdiff dtype of a NumPy dtype."""
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"srcdiff has no dtype for NumPy's {np.dtype(np_dtype)}") from None


def parse(spec: Any) -> dtype | None:
    """A srcdiff dtype from a dtype, a NumPy dtype, a Python type or a name (None stays None)."""
    if spec is None or isinstance(spec, dtype):
        return spec
    if spec in _PYTHON:
        return _PYTHON[spec]
    if isinstance(spec, str) and _name(spec) in _BY_NAME:
        return _BY_NAME[_name(spec)]
    try:
        return of_numpy(spec)
    except (TypeError, ValueError):
        raise TypeError(f"not a dtype: {spec!r}") from None


def is_dtype_like(spec: Any) -> bool:
    """True when ``spec`` names a dtype (as opposed to a device)."""
    if isinstance(spec, (dtype, np.dtype)) or spec in _PYTHON:
        return True
    if isinstance(spec, type) and issubclass(spec, np.generic):
        return True
    return isinstance(spec, str) and _name(spec) in _BY_NAME


# Aliases, as PyTorch spells them. They shadow the builtins in this module: keep them last.
float = float32
double = float64
half = float16
long = int64
int = int32
short = int16
bool = bool_


# ---- PyTorch's type promotion --------------------------------------------------------------

BOOL, INT, FLOAT = 0, 1, 2


def category(dt: np.dtype) -> int:
    """PyTorch's kind of a dtype, in its order of promotion: bool < integer < floating."""
    return BOOL if dt.kind == "b" else FLOAT if dt.kind == "f" else INT


def _promote(a: np.dtype | None, b: np.dtype | None) -> np.dtype | None:
    if a is None or b is None:
        return a if b is None else b
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """PyTorch's rule: a lower-priority operand matters only if it is of a higher category."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if category(higher) == FLOAT:
        return higher
    if category(higher) == BOOL or category(lower) == FLOAT:
        return _promote(higher, lower)
    return higher


def result_dtype(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an elementwise operation on ``operands`` (arrays standing
    for Tensors, and numbers).

    Dimensioned tensors decide; 0-d tensors, then Python numbers (float32, int64, bool),
    count only when they are of a higher category (bool < integer < floating).
    """
    dim = zero = wrapped = None
    for x in operands:
        if hasattr(x, "dtype") and hasattr(x, "ndim"):
            if x.ndim:
                dim = _promote(dim, x.dtype)
            else:
                zero = _promote(zero, x.dtype)
        elif isinstance(x, (builtins.bool, np.bool_)):
            wrapped = _promote(wrapped, np.dtype(np.bool_))
        elif isinstance(x, numbers.Integral):
            wrapped = _promote(wrapped, np.dtype(np.int64))
        elif isinstance(x, numbers.Real):
            wrapped = _promote(wrapped, DEFAULT_FLOAT.numpy)
    return _combine(dim, _combine(zero, wrapped))
