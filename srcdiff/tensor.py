"""The Tensor: a backend array with PyTorch's operators and methods, and autograd state.

Each operation runs one primitive (a key of the rule registry) on the arrays, wraps the
result, and, when grad mode is on and an input requires grad, records a node through
``srcdiff.autograd``. Composite operations (sigmoid, relu, softmax, ...) are recorded as
a few primitives. Dtypes follow PyTorch's promotion (float32 by default).
"""

from __future__ import annotations

import copy as _copy
import linecache
import math
import numbers
import operator
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from sys import _getframe
from typing import Any

import numpy as np

from . import autograd, cuda, dtypes, grad_mode, printing, rules
from . import runtime as rt
from .backend import array_module, device_of, sample, to_numpy
from .errors import CompileError
from .generator import check_draw

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_INPLACE = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)
GRAPH_VIEW_INPLACE = (
    "an in-place operation recorded for gradients on a view whose entries are not laid "
    "out in the memory of the tensor it views as srcdiff can index them (that tensor not "
    "contiguous): its gradient would be wrong. Change the entries through an index of the "
    "tensor itself (h[0] += v), or compute the new tensor out of place."
)


RETURN_TYPES = rt.tensor_methods.RETURN_TYPES


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``srcdiff.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"srcdiff.Size({list(self)})"

    def numel(self) -> int:
        return math.prod(self)


# ---- operations --------------------------------------------------------------------------


def _data(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _scalar(x: Any) -> Any:
    """NumPy scalars as Python scalars (weak in promotion, literal in generated source)."""
    return x.item() if isinstance(x, np.generic) else x


def _bool_subtraction(a: Any, b: Any) -> None:
    """PyTorch's error for ``a - b`` where a bool tensor is an operand."""
    if not any(isinstance(t, Tensor) and t._data.dtype == np.bool_ for t in (a, b)):
        return
    if all(isinstance(t, bool) or isinstance(t, Tensor) and t._data.dtype == np.bool_
           for t in (a, b)):  # fmt: skip
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
            "`^` or `logical_xor()` operator instead."
        )
    raise RuntimeError(
        "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
        "trying to invert a mask, use the `~` or `logical_not()` operator instead."
    )


def _not_for_bools(a: Any, b: Any, kernel: str) -> None:
    """PyTorch's NotImplementedError for ``kernel`` where the operands promote to bool."""
    a, b = _scalar(a), _scalar(b)
    if _operand(a) and _operand(b) and result_dtype(a, b) == np.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _bool_pow(base: Any, exponent: Any, name: str) -> Any:
    """``base ** exponent`` as PyTorch gives it where the operands promote to bool: a bool
    tensor to a bool number a bool tensor (NumPy gives int8), a bool tensor exponent not
    implemented."""
    if (
        not (_operand(_scalar(base)) and _operand(_scalar(exponent)))
        or result_dtype(_scalar(base), _scalar(exponent)) != np.bool_
    ):
        return binary_op(operator.pow, base, exponent, name)
    if isinstance(exponent, Tensor):
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    return binary_op(operator.pow, base, exponent, name).bool()


def _number_argument(value: Any, fn: str, name: str, position: int) -> Any:
    """``value`` given where PyTorch takes a Number: a 0-d Tensor that requires no grad
    as its number, another Tensor PyTorch's TypeError."""
    if isinstance(value, Tensor):
        if value.ndim != 0 or value.requires_grad:
            raise TypeError(
                f"{fn}(): argument '{name}' (position {position}) must be Number, not Tensor"
            )
        return value.item()
    return _scalar(value)


def _call(prim: Any, arrays: Sequence[Any], kwargs: dict) -> Any:
    if isinstance(prim, str):
        attr = getattr(arrays[0], prim.split(".", 1)[1])
        return attr(*arrays[1:], **kwargs) if callable(attr) else attr
    return prim(*arrays, **kwargs)


def _check_devices(inputs: Sequence[Any]) -> None:
    """Raise if the tensors among ``inputs`` live on different devices."""
    seen = None
    for x in inputs:
        if isinstance(x, Tensor):
            here = "cpu" if type(x._data) is np.ndarray else device_of(x._data)
            if seen is None:
                seen = here
            elif here != seen:
                raise RuntimeError(
                    "Expected all tensors to be on the same device, but found at "
                    "least two devices, cuda:0 and cpu!"
                )


def apply_op(
    prim: Any,
    inputs: Sequence[Any],
    kwargs: dict | None = None,
    *,
    name: str,
    view: bool = False,
    compute: Callable | None = None,
    inside: int = 0,
) -> Tensor:
    """``prim(*inputs, **kwargs)`` on the arrays of ``inputs``, recorded when it needs to be.

    ``inputs`` are the primitive's positional arguments in the order of its rule's
    parameters; ``view`` marks operations whose result may share the first input's memory;
    ``compute``, when given, computes the same value as ``prim`` more cheaply. Its caller
    is srcdiff's code, and so are ``inside`` callers up from that: the search for the
    user's line of the operation (``autograd.user_line``) starts above them.
    """
    _check_devices(inputs)
    for x in inputs:
        if type(x) is Tensor and (x._view_of is not None or x._base is not None):
            x._regraph_entries()
    kwargs = kwargs or {}
    arrays = [_data(x) for x in inputs]
    real_only(*inputs, *kwargs.values())  # (a Tensor holds no complex value)
    try:
        out = compute(*arrays, **kwargs) if compute else _call(prim, arrays, kwargs)
    except ValueError as exc:  # shapes that do not fit: PyTorch raises RuntimeError
        raise RuntimeError(str(exc)) from exc
    real_only(out, made=True)
    if not hasattr(out, "shape") or isinstance(out, np.generic):
        out = array_module(*arrays).asarray(out)
    result = Tensor._make(out)
    if view:
        _share_storage(result, inputs[0])
    if _recording(*inputs):
        autograd.record(result, prim, inputs, kwargs, name, view=result._base is not None,
                        inside=2 + inside)  # fmt: skip
    return result


def real_only(*values: Any, made: bool = False) -> None:
    """Refuse a complex number (Python's, or a NumPy scalar or array of them) given to a
    Tensor operation (``made``: one an operation made): srcdiff has no complex dtype and
    differentiates real values, so a complex Tensor would have a wrong gradient."""
    for v in values:
        if not isinstance(v, Tensor) and rt.arrays.is_complex(v):
            from .compiler.eager import line_of

            code, lasti = autograd.user_line(_getframe(1)) or (_getframe(1).f_code, -1)
            line = line_of(code, lasti)
            shown = "" if made else f" ({v!r})" if not hasattr(v, "shape") or v.size < 7 else ""
            raise CompileError(
                f"a complex value{shown} {'made by' if made else 'given to'} a Tensor "
                "operation: srcdiff has no complex dtype",
                function=code.co_name,
                filename=code.co_filename,
                lineno=line,
                source_line=linecache.getline(code.co_filename, line),
                hint="compute with the real and imaginary parts as real Tensors",
            )


def _share_storage(result: Tensor, base: Any) -> None:
    """Make ``result`` a view of tensor ``base`` where it shares its memory: one version
    counter for both, so that a change through either is seen by the graph of the other."""
    if isinstance(base, Tensor) and array_module(result._data).may_share_memory(
        result._data, base._data
    ):
        result._version, result._taken_at = base._version, base._version.value
        result._base = base._base if base._base is not None else base


def _writable_diagonal(x: Any, offset: int, dim1: int, dim2: int) -> Any:
    """``rt.tensor_methods.diagonal(x, ...)`` as a view of ``x`` that can be written."""
    d = rt.tensor_methods.diagonal(x, offset, dim1, dim2)
    if type(x) is not np.ndarray or d.flags.writeable or not x.flags.writeable:
        return d
    a, b = rt.tensor_methods.checked_dim(x.ndim, dim1), rt.tensor_methods.checked_dim(x.ndim, dim2)
    start = [slice(None)] * x.ndim
    start[a], start[b] = slice(max(-offset, 0), None), slice(max(offset, 0), None)
    return np.lib.stride_tricks.as_strided(x[tuple(start)], d.shape, d.strides)


def _entries_in_base(view: Tensor) -> tuple[Tensor, Any]:
    """The tensor a view (a reshape, a transpose, a diagonal) shares its memory with, and
    the index of that tensor that picks the view's entries, as PyTorch's ``CopySlices``
    of a strided view writes them; a RuntimeError where the memory is not laid out so."""
    base, a, b = view._base, view._data, view._base._data
    size = b.dtype.itemsize
    if not b.flags.c_contiguous or any(st % size for st in a.strides):
        raise RuntimeError(GRAPH_VIEW_INPLACE)
    address = (lambda x: x.ctypes.data) if type(b) is np.ndarray else (lambda x: x.data.ptr)
    at = np.asarray((address(a) - address(b)) // size)
    for n, st in zip(a.shape, a.strides, strict=True):
        at = at[..., None] + np.arange(n) * (st // size)
    if at.size and (at.min() < 0 or at.max() >= b.size):
        raise RuntimeError(GRAPH_VIEW_INPLACE)
    xp = array_module(b)
    return base, tuple(xp.asarray(i) for i in np.unravel_index(at, b.shape))


OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a "
    "single memory location. Please clone() the tensor before performing the operation."
)


def _overlapping(t: Tensor, idx: Any = Ellipsis) -> bool:
    """Whether two of the entries ``t[idx]`` lie at one place in memory (an ``expand``ed
    tensor, an ``unfold`` of overlapping windows)."""
    a = t._data
    if not any(st == 0 and n > 1 for n, st in zip(a.shape, a.strides, strict=True)) and not (
        rt.tensor_methods.self_overlapping(a)
    ):
        return False
    at = rt.tensor_methods.strided_positions(a.shape, a.strides, 0)[_host_index(idx)]
    return np.unique(at).size < np.size(at)


def _one_number(value: Any) -> bool:
    """Whether ``value`` is one number written alike into every entry (not a Tensor that
    requires grad)."""
    if isinstance(value, Tensor):
        return value.ndim == 0 and not value.requires_grad
    return np.ndim(value) == 0


def _host_index(idx: Any) -> Any:
    """An index with its arrays as NumPy's (to index positions computed on the host)."""
    if isinstance(idx, tuple):
        return tuple(_host_index(i) for i in idx)
    return to_numpy(idx) if hasattr(idx, "shape") else idx


def _check_overlap(t: Tensor) -> None:
    """PyTorch's error for a write computed from a tensor whose entries share memory (an
    ``expand``ed one): NumPy refuses it as read-only, and an array library may not."""
    if _overlapping(t):
        raise RuntimeError(OVERLAP)


def result_dtype(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an elementwise operation on ``operands`` (Tensors, arrays
    or numbers): see ``dtypes.result_dtype``."""
    return dtypes.result_dtype(*map(_data, operands))


def _cast(x: Any, dt: np.dtype) -> Any:
    """``x`` in dtype ``dt`` (a recorded cast for a tensor that requires grad)."""
    real_only(x)  # (a cast to a real dtype would drop the imaginary part)
    if isinstance(x, Tensor):
        return x if x._data.dtype == dt else x.to(dtypes.of_numpy(dt))
    if hasattr(x, "dtype") and hasattr(x, "astype") and x.dtype != dt:
        return x.astype(dt)
    return x


def _operand(x: Any) -> bool:
    return isinstance(x, (Tensor, numbers.Number, np.ndarray)) or device_of(x) == "cuda"


def _same_dtype(a: Any, b: Any) -> bool:
    """True when the result obviously has the dtype of the operands (the common case)."""
    if isinstance(a, Tensor):
        a, b = a._data, b
    elif isinstance(b, Tensor):
        a, b = b._data, a
    else:
        return False
    if isinstance(b, Tensor):
        return a.dtype == b._data.dtype
    kind = a.dtype.kind
    return (type(b) is float and kind == "f") or (type(b) is int and kind in "fiu")


def binary_op(prim: Any, a: Any, b: Any, name: str, *, floating: bool = False) -> Any:
    """An elementwise binary operation with broadcasting and PyTorch's dtype promotion."""
    if not _same_dtype(a, b):
        a, b = _scalar(a), _scalar(b)
        if not (_operand(a) and _operand(b)):
            return NotImplemented
        dt = result_dtype(a, b)
        a, b = _cast(a, dt), _cast(b, dt)
    if floating and dtypes.category(result_dtype(a, b)) != dtypes.FLOAT:
        a, b = _cast(a, dtypes.DEFAULT_FLOAT.numpy), _cast(b, dtypes.DEFAULT_FLOAT.numpy)
    return apply_op(prim, (a, b), name=name, inside=1)  # (called by srcdiff's operators)


def alpha_op(prim: Any, a: Tensor, b: Any, alpha: Any, name: str) -> Tensor:
    """``a + alpha * b`` or ``a - alpha * b`` (``prim``: ``tensor_methods.add`` or ``sub``)
    with PyTorch's dtype promotion of ``a`` and ``b``; ``alpha`` takes the result's dtype
    and must be an integer for integer tensors, as in PyTorch."""
    alpha = _scalar(alpha)
    if not _same_dtype(a, b):
        b = _scalar(b)
        if not _operand(b):
            raise TypeError(f"{name[:3].lower()}(): argument 'other' must be Tensor or Number")
        dt = result_dtype(a, b)
        a, b = _cast(a, dt), _cast(b, dt)
    if dtypes.category(result_dtype(a, b)) != dtypes.FLOAT and not isinstance(
        alpha, numbers.Integral
    ):
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    return apply_op(prim, (a, b), {"alpha": alpha}, name=name)


def compare_op(prim: Callable, a: Any, b: Any) -> Any:
    """A comparison: a bool tensor, never recorded."""
    a, b = _scalar(a), _scalar(b)
    if not (_operand(a) and _operand(b)):
        return NotImplemented
    _check_devices((a, b))
    return Tensor._make(array_module(_data(a), _data(b)).asarray(prim(_data(a), _data(b))))


def _matmul_name(a: Any, b: Any) -> str:
    dims = (np.ndim(_data(a)), np.ndim(_data(b)))
    return {
        (2, 2): "MmBackward0",
        (1, 1): "DotBackward0",
        (2, 1): "MvBackward0",
        (3, 3): "BmmBackward0",
    }.get(dims, "MatmulBackward0")


def _index(idx: Any) -> Any:
    """An index with tensors replaced by their arrays (a negative step is an error, as in
    PyTorch), read as PyTorch reads it: a uint8 tensor or array is a mask, and a list
    holding a tensor, a sequence, a slice, ``None`` or ``...`` is a tuple of indices, one
    per dim (``x[[rows, cols]]`` is ``x[rows, cols]``, where NumPy reads one index of
    dim 0)."""
    if isinstance(idx, (Tensor, np.ndarray)):
        data = idx._data if isinstance(idx, Tensor) else idx
        if rt.tensor_methods.is_mask_of_bytes(data):
            warnings.warn(
                "indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                "torch.bool instead.",
                UserWarning,
                stacklevel=3,
            )
            return data.astype(bool)
        if data.ndim == 0 and data.dtype.kind in "iu":  # an integer, as PyTorch reads it
            return int(data)
        return data
    if isinstance(idx, slice) and idx.step is not None and _scalar(idx.step) <= 0:
        raise ValueError("step must be greater than zero")
    if isinstance(idx, list) and rt.tensor_methods.indices_per_dim(idx):
        idx = tuple(idx)
    if isinstance(idx, tuple):
        return tuple(_index(i) for i in idx)
    if isinstance(idx, list):
        return [_index(i) for i in idx]
    return _scalar(idx)


def _one_entry(idx: Any, ndim: int) -> bool:
    """Whether ``idx`` picks one entry of a tensor of ``ndim`` dims by integers alone
    (``()`` of a 0-d one too: NumPy gives a copy of the entry there, PyTorch a view)."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    integers = all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in parts)
    return len(parts) == ndim and integers


def _immutable(key: Any) -> bool:
    """Whether the index ``key`` cannot change (so one object is one index)."""
    parts = key if type(key) is tuple else (key,)
    return all(type(p) in (int, slice, type(None), type(Ellipsis)) for p in parts)


def _index_name(idx: Any) -> str:
    parts = idx if isinstance(idx, tuple) else (idx,)
    if any(isinstance(p, list) or hasattr(p, "shape") for p in parts):
        return "IndexBackward0"
    if any(isinstance(p, slice) for p in parts):
        return "SliceBackward0"
    return "SelectBackward0"


def _dims(dim: Any) -> Any:
    """PyTorch's ``dim`` of a reduction as NumPy's ``axis``: a tuple for a list, and None
    (every dim) for an empty one, as PyTorch reduces over all dims for ``dim=()``."""
    if isinstance(dim, (list, tuple)):
        return tuple(dim) or None
    return dim


def _axis_kwargs(dim: Any, keepdim: bool) -> dict:
    kwargs: dict[str, Any] = {}
    dim = _dims(dim)
    if dim is not None:
        kwargs["axis"] = dim
    if keepdim:
        kwargs["keepdims"] = True
    return kwargs


def _unary(fn: Callable, name: str, doc: str, floating: bool = True) -> Callable:
    def method(self: Tensor) -> Tensor:
        x = self._floating() if floating else self
        return apply_op(fn, (x,), name=name)

    method.__name__ = fn.__name__
    method.__doc__ = doc
    return method


def _recording(*inputs: Any) -> bool:
    """Whether an operation on ``inputs`` is recorded now."""
    for x in inputs:
        if isinstance(x, Tensor) and (x._node is not None or x._requires_grad):
            return grad_mode.is_grad_enabled()
    return False


class Tensor:
    """An n-dimensional array on a device, with PyTorch's autograd attributes."""

    # an entry view (``h[:, 1]``): the tensor it was taken from and the index, through
    # which an in-place change of it is recorded (``_inplace_of_entries``), and through
    # which it takes its graph again after a recorded change of that tensor (as PyTorch
    # regenerates a view's grad_fn); None otherwise. ``_taken_at``: the shared version
    # counter's value when its graph was last taken from there.
    _view_of: tuple[Tensor, Any] | None = None
    _taken_at = 0
    # the tensor, index and version an in-place change of this entry view wrote back at:
    # Python's write after ``h[k] += v`` is then already made (see ``__setitem__``)
    _written_back: tuple[Tensor, Any, int] | None = None

    def __init__(
        self, *args: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> None:
        """``Tensor(2, 3)`` (zeros of that shape), ``Tensor([1., 2.])`` (float32 data) or
        ``Tensor(t)`` (sharing ``t``'s array), as PyTorch's legacy constructor."""
        if len(args) == 1 and isinstance(args[0], Tensor):
            data, version = args[0]._data, args[0]._version
        else:
            version = autograd.Version()
            dt = (dtypes.parse(dtype) or dtypes.DEFAULT_FLOAT).numpy
            if not args:
                data = np.zeros((0,), dtype=dt)
            elif all(isinstance(a, (int, np.integer)) for a in args) or (
                len(args) == 1 and isinstance(args[0], Size)
            ):
                data = np.zeros(rt.tensor_methods.shape_of(args), dtype=dt)
            else:
                data = np.array(_unwrap_nested(args[0]), dtype=dt)
        if device is not None:
            data = cuda.to_device(data, device)
        Tensor._make(data, False, self)
        self._version = version
        self.requires_grad = requires_grad

    @staticmethod
    def _make(data: Any, requires_grad: bool = False, into: Tensor | None = None) -> Tensor:
        """A Tensor around ``data`` (no copy, no checks); ``into``: an instance not yet
        initialized (of a subclass too), given the attributes instead, and returned."""
        t = object.__new__(Tensor) if into is None else into
        t._data = data
        t._requires_grad = requires_grad
        t._grad = None
        t._node = None
        t._version = autograd.Version()
        t._retains_grad = False
        t._base = None
        return t

    # ---- attributes ----------------------------------------------------------------------

    @property
    def data(self) -> Tensor:
        """A Tensor sharing this one's storage, that requires no grad: writes through it
        (``w.grad.data.zero_()``, ``w.data -= lr * g``) are not recorded, as in PyTorch.
        The backend array itself is ``numpy()`` (on 'cpu')."""
        view = Tensor._make(self._data)
        return view

    @data.setter
    def data(self, value: Any) -> None:
        """New values without recording, as in PyTorch: the graph that made this tensor
        stays (its gradient flows there, and its rule reads the value it made), and the
        operations after read the new values."""
        new = value._data if isinstance(value, Tensor) else value
        real_only(new)
        node = self._node
        if node is None:
            self._data = new
            return
        made = Tensor._make(self._data)  # the value the graph made, with that graph; one
        made._node, made._version = node, self._version  # version counter for both, as in
        self._data = new  # PyTorch: a change of either (or of a view) is seen by its rule
        holder = Tensor._make(new)  # the new values, their gradient passed on to ``made``
        autograd.rebind(self, autograd.record(holder, rt.follow_detached, [made, None, None],
                                              None, node.name()))  # fmt: skip

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Size | int:
        return self.shape if dim is None else self._data.shape[dim]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.of_numpy(self._data.dtype)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    @property
    def device(self) -> cuda.device:
        return cuda.of_array(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device == "cuda"

    def type(self, dtype: Any = None) -> Any:
        """``'srcdiff.FloatTensor'`` (and ``'srcdiff.cuda.FloatTensor'``); given a dtype, a
        tensor type (``sd.DoubleTensor``) or its name (``'torch.DoubleTensor'``), a cast."""
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            name = dtype.rsplit(".", 1)[-1]
            found = [d for d in dtypes.ALL if d.type_name == name]
            if not found:
                raise ValueError(f"invalid type: {dtype!r}")
            return self.to(found[0], device="cuda" if ".cuda." in dtype else "cpu")
        if isinstance(dtype, type) and isinstance(getattr(dtype, "dtype", None), dtypes.dtype):
            return self.to(dtype.dtype, device="cuda" if dtype.is_cuda else "cpu")
        if dtype is not None:
            return self.to(dtype)
        where = "cuda." if self.is_cuda else ""
        return f"srcdiff.{where}{self.dtype.type_name}"

    # ---- autograd state ------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._node is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self._node is not None:
            if not flag:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach()."
                )
            return
        if flag and not self.is_floating_point():
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> autograd.Node | None:
        return self._node

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (leaves, and non-leaves after ``retain_grad()``)."""
        if self._grad is None and self._node is not None and not self._retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during backward(). If you indeed want "
                "the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on "
                "the non-leaf Tensor.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got {type(value)}")
        if value is not None and value.shape != self.shape:
            raise RuntimeError(
                f"assigned grad has data of a different size: {value.shape} vs {self.shape}"
            )
        self._grad = value

    @staticmethod
    def _clear_grads(params: Iterable[Tensor], set_to_none: bool = True) -> None:
        """What ``zero_grad`` does to parameters: each ``.grad`` to None, or zeroed in
        place after it is detached (a grad made with ``create_graph=True`` leaves its
        graph), as PyTorch's ``zero_grad`` does. (One call for them all: an optimizer's
        runs at every training step.)"""
        for p in params:
            grad = p._grad
            if grad is None:
                continue
            if set_to_none:
                p._grad = None
                continue
            if grad._node is not None:
                grad.detach_()
            else:
                grad.requires_grad_(False)
            grad.zero_()

    _hooks: dict | None = None  # a leaf's hooks (a non-leaf's are its grad_fn's)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> autograd.RemovableHandle:
        """Call ``hook(grad)`` with this tensor's gradient whenever a backward computes
        it; a tensor it returns takes the gradient's place (in a leaf's ``.grad``, and in
        what flows on behind a non-leaf)."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._node is None:
            if self._hooks is None:
                self._hooks = {}
            return autograd.RemovableHandle(self._hooks, hook)
        if self._node.hooks is None:
            self._node.hooks = {}
        return autograd.RemovableHandle(self._node.hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` of this non-leaf tensor after ``backward()``."""
        if self._node is None or self._retains_grad:
            return
        self._retains_grad = True
        self._node.retained.append(weakref.ref(self))

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
    ) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of the leaves behind it
        (or of ``inputs`` only).

        The adjoint is generated Python source (see ``sd.source(tensor)`` afterwards).
        With ``create_graph``, each ``.grad`` is itself differentiable (see
        ``autograd.grad``).
        """
        if self._view_of is not None or self._base is not None:  # (a view: its graph as
            self._regraph_entries()  # it stands now)
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """The same array, outside the graph (sharing memory and version counter)."""
        t = Tensor._make(self._data)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        self._node = None
        self._requires_grad = False
        return self

    # ---- conversions ---------------------------------------------------------------------

    def _floating(self) -> Tensor:
        """This tensor, or a float32 copy of an integer/bool one (for exp, log, ...)."""
        if self.is_floating_point():
            return self
        return Tensor._make(self._data.astype(dtypes.DEFAULT_FLOAT.numpy))

    def to(
        self,
        *args: Any,
        dtype: Any = None,
        device: Any = None,
        copy: bool = False,
        non_blocking: bool = False,
    ) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif dtypes.is_dtype_like(a):
                dtype = a
            else:
                device = a
        t = self
        if device is not None:
            t = t._move(cuda.device(device))
        dt = dtypes.parse(dtype)
        if dt is not None and dt.numpy != t._data.dtype:
            if dt.is_floating_point:
                t = apply_op("ndarray.astype", (t, dt.name), name="ToCopyBackward0")
            else:
                t = Tensor._make(t._data.astype(dt.numpy))
        if copy and t is self:
            t = self.clone()
        return t

    def _move(self, dev: cuda.device) -> Tensor:
        if dev == self.device:
            return self
        array = cuda.to_device(self._data, dev)
        if self.requires_grad and grad_mode.is_grad_enabled():
            if self._node is not None:
                raise RuntimeError(
                    "srcdiff does not record moves between devices: move the leaves "
                    "(parameters and data) to the device before computing with them"
                )
            return Tensor._make(array, requires_grad=True)
        return Tensor._make(array)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Tensor:
        return self.to("cuda")

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    def numpy(self, force: bool = False) -> np.ndarray:
        """The NumPy array (sharing memory), as PyTorch's ``numpy()``."""
        if force:
            return np.array(cuda.to_device(self._data, "cpu"))
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        if self.is_cuda:
            raise TypeError(
                "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() "
                "to copy the tensor to host memory first."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        a = self.numpy()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def item(self) -> Any:
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def _scalar_value(self) -> Any:
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self._data.reshape(()).item()

    def __float__(self) -> float:
        return float(self._scalar_value())

    def __int__(self) -> int:
        return int(self._scalar_value())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.reshape(()).item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __repr__(self) -> str:
        return printing.tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    __hash__ = object.__hash__

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self._node is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) "
                "support the deepcopy protocol at the moment."
            )
        new = object.__new__(type(self))
        memo[id(self)] = new
        skip = {"_data", "_version", "_base", "_accumulator", "_source", "_view_of",
                "_taken_at", "_written_back"}  # fmt: skip
        for key, value in self.__dict__.items():
            if key not in skip:
                new.__dict__[key] = _copy.deepcopy(value, memo)
        new._data = self._data.copy()
        new._version = autograd.Version()
        new._base = None
        return new

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return (
            _rebuild,
            (type(self), cuda.to_device(self._data, "cpu"), self._requires_grad, str(self.device)),
        )

    # ---- arithmetic ----------------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        return binary_op(operator.add, self, other, "AddBackward0")

    def __radd__(self, other: Any) -> Tensor:
        return binary_op(operator.add, other, self, "AddBackward0")

    def __sub__(self, other: Any) -> Tensor:
        _bool_subtraction(self, other)
        return binary_op(operator.sub, self, other, "SubBackward0")

    def __rsub__(self, other: Any) -> Tensor:
        _bool_subtraction(other, self)
        return binary_op(operator.sub, other, self, "RsubBackward1")

    def __mul__(self, other: Any) -> Tensor:
        return binary_op(operator.mul, self, other, "MulBackward0")

    def __rmul__(self, other: Any) -> Tensor:
        return binary_op(operator.mul, other, self, "MulBackward0")

    def __truediv__(self, other: Any) -> Tensor:
        return binary_op(operator.truediv, self, other, "DivBackward0", floating=True)

    def __rtruediv__(self, other: Any) -> Tensor:
        return binary_op(operator.truediv, other, self, "DivBackward0", floating=True)

    def __pow__(self, exponent: Any) -> Tensor:
        name = "PowBackward1" if isinstance(exponent, Tensor) else "PowBackward0"
        return _bool_pow(self, exponent, name)

    def __rpow__(self, base: Any) -> Tensor:
        return _bool_pow(base, self, "PowBackward2")

    def __matmul__(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            _check_devices((self, other))  # (PyTorch's first error)
            rt.tensor_methods.same_dtypes(self, other)
        return binary_op(operator.matmul, self, other, _matmul_name(self, other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return binary_op(operator.matmul, other, self, _matmul_name(other, self))

    def __neg__(self) -> Tensor:
        if self._data.dtype == np.bool_:
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                "trying to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        return apply_op(operator.neg, (self,), name="NegBackward0")

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    def __floordiv__(self, other: Any) -> Tensor:
        _not_for_bools(self, other, "div_floor_cpu")
        _integer_divisor(self, other)
        return _no_grad_binary(operator.floordiv, self, other, promote=True)

    def __rfloordiv__(self, other: Any) -> Tensor:
        _not_for_bools(other, self, "div_floor_cpu")
        _integer_divisor(other, self)
        return _no_grad_binary(operator.floordiv, other, self, promote=True)

    def __mod__(self, other: Any) -> Tensor:
        """``self - floor(self / other) * other`` (PyTorch's ``remainder``), recorded: the
        gradient is 1 in ``self`` and ``-floor(self / other)`` in ``other``."""
        _not_for_bools(self, other, "remainder_cpu")
        _integer_divisor(self, other)
        return binary_op(operator.mod, self, other, "RemainderBackward0")

    def __rmod__(self, other: Any) -> Tensor:
        _not_for_bools(other, self, "remainder_cpu")
        _integer_divisor(other, self)
        return binary_op(operator.mod, other, self, "RemainderBackward1")

    remainder = __mod__

    def fmod(self, other: Any) -> Tensor:
        """``self - trunc(self / other) * other`` (the remainder with the sign of ``self``)."""
        _integer_divisor(self, other)
        return binary_op(np.fmod, self, other, "FmodBackward0")

    def __and__(self, other: Any) -> Tensor:
        return _no_grad_binary(operator.and_, self, other, promote=True)

    __rand__ = __and__

    def __or__(self, other: Any) -> Tensor:
        return _no_grad_binary(operator.or_, self, other, promote=True)

    __ror__ = __or__

    def __xor__(self, other: Any) -> Tensor:
        return _no_grad_binary(operator.xor, self, other, promote=True)

    __rxor__ = __xor__

    def __invert__(self) -> Tensor:
        return Tensor._make(~self._data)

    def add(self, other: Any, alpha: Any = 1) -> Tensor:
        """``self + alpha * other``, the product and the sum rounded once, as PyTorch's
        kernel rounds them (``srcdiff.fused.fma``)."""
        if alpha == 1:
            return self + other
        return alpha_op(rt.tensor_methods.add, self, other, alpha, "AddBackward0")

    def sub(self, other: Any, alpha: Any = 1) -> Tensor:
        """``self - alpha * other``, rounded once as ``add`` rounds it."""
        if alpha == 1:
            return self - other
        return alpha_op(rt.tensor_methods.sub, self, other, alpha, "SubBackward0")

    mul = __mul__

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """``self / other``; with ``rounding_mode`` ``"floor"`` or ``"trunc"``, the quotient
        rounded (integers stay integers), recorded with a zero gradient, as PyTorch's."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("floor", "trunc"):
            raise RuntimeError(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"'{rounding_mode}'"
            )
        a, b = self, _scalar(other)  # (div_rounded refuses an integer zero divisor)
        if not _same_dtype(a, b):
            dt = result_dtype(a, b)
            a, b = _cast(a, dt), _cast(b, dt)
        return apply_op(rt.tensor_methods.div_rounded, (a, b), {"rounding_mode": rounding_mode},
                        name="DivBackward3")  # fmt: skip

    matmul = __matmul__
    mm = __matmul__
    dot = __matmul__
    neg = __neg__

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    # ---- comparisons (never recorded) ----------------------------------------------------

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return compare_op(operator.eq, self, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return compare_op(operator.ne, self, other)

    def __lt__(self, other: Any) -> Any:
        return compare_op(operator.lt, self, other)

    def __le__(self, other: Any) -> Any:
        return compare_op(operator.le, self, other)

    def __gt__(self, other: Any) -> Any:
        return compare_op(operator.gt, self, other)

    def __ge__(self, other: Any) -> Any:
        return compare_op(operator.ge, self, other)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # ---- elementwise functions -----------------------------------------------------------

    exp = _unary(np.exp, "ExpBackward0", "e ** x, elementwise.")
    log = _unary(np.log, "LogBackward0", "Natural logarithm, elementwise.")
    log1p = _unary(np.log1p, "Log1pBackward0", "log(1 + x), elementwise.")
    expm1 = _unary(np.expm1, "Expm1Backward0", "exp(x) - 1, elementwise.")
    sqrt = _unary(np.sqrt, "SqrtBackward0", "Square root, elementwise.")
    sin = _unary(np.sin, "SinBackward0", "Sine, elementwise.")
    cos = _unary(np.cos, "CosBackward0", "Cosine, elementwise.")
    tanh = _unary(np.tanh, "TanhBackward0", "Hyperbolic tangent, elementwise.")
    reciprocal = _unary(np.reciprocal, "ReciprocalBackward0", "1 / x, elementwise.")
    _abs = _unary(np.abs, "AbsBackward0", "Absolute value, elementwise.", floating=False)

    def abs(self) -> Tensor:
        """Absolute value, elementwise (of a bool tensor, PyTorch's NotImplementedError)."""
        _not_for_bools(self, self, "abs_cpu")
        return self._abs()

    def square(self) -> Tensor:
        return self**2

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x), elementwise."""
        return apply_op(rt.tensor_methods.rsqrt, (self._floating(),), name="RsqrtBackward0")

    def erf(self) -> Tensor:
        """The error function, elementwise (SciPy's: the ``scipy`` extra)."""
        return apply_op(rt.tensor_methods.erf, (self._floating(),), name="ErfBackward0")

    def atan2(self, other: Any) -> Tensor:
        """The angle of the point ``(other, self)``, elementwise, in ``(-pi, pi]``."""
        return binary_op(np.arctan2, self, other, "Atan2Backward0", floating=True)

    arctan2 = atan2

    def lerp(self, end: Any, weight: Any) -> Tensor:
        """``self + weight * (end - self)`` (``weight`` a number or a tensor), rounded as
        PyTorch's kernel rounds it."""
        weight = _scalar(weight)
        name = "LerpBackward1" if isinstance(weight, Tensor) else "LerpBackward0"
        return apply_op(rt.tensor_methods.lerp, (self, end, weight), name=name)

    def addcmul(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``self + value * tensor1 * tensor2``, rounded as PyTorch's kernel rounds it."""
        return apply_op(rt.tensor_methods.addcmul, (self, tensor1, tensor2), {"value": value},
                        name="AddcmulBackward0")  # fmt: skip

    def frac(self) -> Tensor:
        """``x - trunc(x)``, elementwise (floats alone); its gradient passes."""
        return apply_op(rt.tensor_methods.frac, (self,), name="FracBackward0")

    def sinc(self) -> Tensor:
        """``sin(pi x) / (pi x)``, 1 at 0, elementwise."""
        return apply_op(rt.tensor_methods.sinc, (self._floating(),), name="SincBackward0")

    def copysign(self, other: Any) -> Tensor:
        """``|self|`` with the sign of ``other``, elementwise, in a floating dtype; ``other``
        gets a zero gradient."""
        return binary_op(rt.tensor_methods.copysign, self, other, "CopysignBackward0",
                         floating=True)  # fmt: skip

    def heaviside(self, values: Tensor) -> Tensor:
        """0 where ``self < 0``, 1 where ``self > 0``, ``values`` where ``self == 0``
        (``values`` a tensor of ``self``'s dtype); the gradient goes to ``values`` there."""
        rt.tensor_methods.tensor_only(values, "heaviside", "values")
        return apply_op(rt.tensor_methods.heaviside, (self, values), name="HeavisideBackward0")

    def cummax(self, dim: int) -> Any:
        """``(values, indices)`` of the running maximum along ``dim``, each value's gradient
        to the entry at its index (the latest of tied ones)."""
        indices = rt.tensor_methods.cummax(self._data, dim).indices
        values = self._taken(indices, dim, "CummaxBackward0")
        return RETURN_TYPES["cummax"](values, Tensor._make(indices))

    def cummin(self, dim: int) -> Any:
        """``(values, indices)`` of the running minimum along ``dim``, as ``cummax``."""
        indices = rt.tensor_methods.cummin(self._data, dim).indices
        values = self._taken(indices, dim, "CumminBackward0")
        return RETURN_TYPES["cummin"](values, Tensor._make(indices))

    def fmax(self, other: Any) -> Tensor:
        """The larger entry (the one that is not NaN where one is); a tie's gradient goes
        to ``self``."""
        rt.tensor_methods.tensor_only(other, "fmax")
        return binary_op(rt.tensor_methods.fmax, self, other, "FmaxBackward0")

    def fmin(self, other: Any) -> Tensor:
        """The smaller entry (the one that is not NaN where one is), as ``fmax``."""
        rt.tensor_methods.tensor_only(other, "fmin")
        return binary_op(rt.tensor_methods.fmin, self, other, "FminBackward0")

    def hypot(self, other: Any) -> Tensor:
        """``sqrt(self ** 2 + other ** 2)`` without overflow (floats alone)."""
        rt.tensor_methods.tensor_only(other, "hypot")
        return binary_op(rt.tensor_methods.hypot, self, other, "HypotBackward0")

    def logaddexp(self, other: Any) -> Tensor:
        """``log(exp(self) + exp(other))`` without overflow (floats alone)."""
        rt.tensor_methods.tensor_only(other, "logaddexp")
        return binary_op(rt.tensor_methods.logaddexp, self, other, "LogaddexpBackward0")

    def logaddexp2(self, other: Any) -> Tensor:
        """``log2(2 ** self + 2 ** other)`` without overflow (floats alone)."""
        rt.tensor_methods.tensor_only(other, "logaddexp2")
        return binary_op(rt.tensor_methods.logaddexp2, self, other, "Logaddexp2Backward0")

    def repeat_interleave(self, repeats: Any, dim: Any = None) -> Tensor:
        """Each entry along ``dim`` repeated ``repeats`` times (of the flattened tensor
        without a ``dim``)."""
        return apply_op(rt.tensor_methods.repeat_interleave, (self, _data(repeats), dim),
                        name="RepeatInterleaveBackward0")  # fmt: skip

    def masked_select(self, mask: Any) -> Tensor:
        """The entries where the bool tensor ``mask`` holds (broadcast together), as a
        vector."""
        return apply_op(rt.tensor_methods.masked_select, (self, _data(mask)),
                        name="MaskedSelectBackward0")  # fmt: skip

    def index_fill(self, dim: int, index: Any, value: Any) -> Tensor:
        """A copy with the entries at ``index`` along ``dim`` set to ``value``."""
        value = _scalar(value)
        if isinstance(value, Tensor):
            value = _cast(value, self._data.dtype)
        return apply_op(rt.tensor_methods.index_fill, (self, dim, _data(index), value),
                        name="IndexFillBackward0")  # fmt: skip

    def index_fill_(self, dim: int, index: Any, value: Any) -> Tensor:
        return self._inplace(lambda s: s.index_fill(dim, index, value), value)

    def index_add(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
        """A copy with ``alpha * source[i]`` added to the entry ``index[i]`` along ``dim``
        (each time an index names it)."""
        return apply_op(rt.tensor_methods.index_add, (self, dim, _data(index), source),
                        {"alpha": alpha}, name="IndexAddBackward0")  # fmt: skip

    def index_add_(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
        return self._inplace(lambda s: s.index_add(dim, index, source, alpha=alpha), source)

    def logical_and(self, other: Any) -> Tensor:
        return _no_grad_binary(np.logical_and, self, other)

    def logical_or(self, other: Any) -> Tensor:
        return _no_grad_binary(np.logical_or, self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return _no_grad_binary(np.logical_xor, self, other)

    def logical_not(self) -> Tensor:
        return Tensor._make(array_module(self._data).logical_not(self._data))

    def sign(self) -> Tensor:
        """-1, 0 or 1 (a bool tensor as it is); recorded with gradient 0, as in PyTorch."""
        xp = array_module(self._data)
        if self._data.dtype.kind == "b":
            return Tensor._make(self._data.copy())
        return self._constant_pieces(xp.sign(self._data), "SignBackward0")

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-x)) as ``tensor_methods.sigmoid`` computes it (never inf, 1 and 0
        at +-inf); its gradient is ``y (1 - y)``, 0 at +-inf, as in PyTorch."""
        return apply_op(rt.tensor_methods.sigmoid, (self._floating(),), name="SigmoidBackward0")

    def relu(self) -> Tensor:
        """max(x, 0), with gradient 0 at 0 as in PyTorch (NaN stays NaN)."""
        return apply_op(rt.tensor_methods.relu, (self,), name="ReluBackward0")

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """``x`` limited to [min, max]; the gradient passes where ``min <= x <= max``. The
        result has the dtype PyTorch's promotion gives ``x`` and the bounds."""
        lo, hi = _scalar(min), _scalar(max)
        if lo is None and hi is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        dt = result_dtype(self, *(b for b in (lo, hi) if b is not None))
        x, lo, hi = _cast(self, dt), _cast(lo, dt), _cast(hi, dt)
        if hi is None:  # (a NaN bound gives NaN, as PyTorch's)
            return apply_op(np.clip, (x, lo, None), name="ClampMinBackward0")
        if lo is None:
            return apply_op(np.clip, (x, None, hi), name="ClampMaxBackward0")
        return apply_op(np.clip, (x, lo, hi), name="ClampBackward1")

    clip = clamp

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor in ``other``'s dtype (itself where it already is)."""
        return self.to(other.dtype)

    def nan_to_num(self, nan: float = 0.0, posinf: float | None = None,
                   neginf: float | None = None) -> Tensor:  # fmt: skip
        """NaN as ``nan``, +inf as ``posinf`` and -inf as ``neginf`` (by default the
        largest and the lowest finite number of the dtype); the gradient passes to the
        entries that were finite (0 to those replaced, as PyTorch's)."""
        return apply_op(rt.tensor_methods.nan_to_num, (self, nan, posinf, neginf),
                        name="NanToNumBackward0")  # fmt: skip

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where ``mask`` (a bool tensor) holds, in ``self``'s dtype (as PyTorch
        keeps it)."""
        value = _scalar(value)
        rt.tensor_methods.fill_checked(_data(mask), _data(value))
        if isinstance(value, Tensor):
            value = _cast(value, self._data.dtype)
        return apply_op(
            rt.tensor_methods.masked_fill, (self, _data(mask), value), name="MaskedFillBackward0"
        )

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """``value`` written where ``mask`` holds (the mask broadcast to this tensor's
        shape, no further)."""
        return self._inplace(lambda s: s.masked_fill(mask, value), value)

    def softmax(self, dim: int, dtype: Any = None) -> Tensor:
        """exp(x) / sum(exp(x)) along ``dim``, shifted by the (constant) maximum for
        stability; in ``dtype`` where given (the input cast first, as PyTorch's)."""
        x = self._floating() if dtype is None else self.to(dtype)
        e = (x - rt.tensor_methods.softmax_shift(x._data, dim)).exp()
        return e / e.sum(dim, keepdim=True)

    def log_softmax(self, dim: int, dtype: Any = None) -> Tensor:
        """x - log(sum(exp(x))) along ``dim``; in ``dtype`` where given (cast first)."""
        x = self._floating() if dtype is None else self.to(dtype)
        z = x - rt.tensor_methods.softmax_shift(x._data, dim)
        return z - z.exp().sum(dim, keepdim=True).log()

    # ---- reductions ----------------------------------------------------------------------

    def sum(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        """The sum over ``dim`` (every dim without one), of the entries cast to ``dtype``
        first where given."""
        if dtype is not None:
            return self.to(dtype).sum(dim, keepdim)
        name = "SumBackward0" if dim is None else "SumBackward1"
        dim = rt.tensor_methods.reduction_dim(self._data, dim)
        return apply_op("ndarray.sum", (self,), _axis_kwargs(dim, keepdim), name=name)

    def mean(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        """The mean over ``dim`` (every dim without one), of the entries cast to ``dtype``
        first where given."""
        if dtype is not None:
            return self.to(dtype).mean(dim, keepdim)
        if not self.is_floating_point():
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {self.dtype.type_name.removesuffix('Tensor')}"
            )
        name = "MeanBackward0" if dim is None else "MeanBackward1"
        dim = rt.tensor_methods.reduction_dim(self._data, dim)
        return apply_op("ndarray.mean", (self,), _axis_kwargs(dim, keepdim), name=name)

    def prod(self, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None
             ) -> Tensor:  # fmt: skip
        """The product over ``dim`` (every dim without one); integers and booleans as
        int64, as PyTorch gives them; the gradient is ``np.prod``'s."""
        name = "ProdBackward0" if dim is None else "ProdBackward1"
        return apply_op(rt.tensor_methods.prod, (self, dim, keepdim, dtype), name=name)

    def cumprod(self, dim: int, *, dtype: Any = None) -> Tensor:
        """Running products along ``dim`` (integers as int64, as PyTorch gives them); the
        gradient is ``np.cumprod``'s, exact where entries are zero."""
        return apply_op(rt.tensor_methods.cumprod, (self, dim, dtype), name="CumprodBackward0")

    def cumsum(self, dim: int, *, dtype: Any = None) -> Tensor:
        """Running sums along ``dim`` (integers as int64, a 0-d tensor as itself, as in
        PyTorch); the gradient is ``np.cumsum``'s."""
        return apply_op(rt.tensor_methods.cumsum, (self, dim, dtype), name="CumsumBackward0")

    def var(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: Any = None) -> Tensor:  # fmt: skip
        """The variance over ``dim``, divided by ``n - correction`` (1 by default, as
        ``unbiased``)."""
        correction = int(unbiased) if correction is None else correction
        rt.tensor_methods.floats_for_spread(self._data.dtype)
        x = self
        dim = rt.tensor_methods.reduction_dim(x._data, _dims(dim))  # (None for a 0-d x)
        n = (
            x.numel()
            if dim is None
            else math.prod(x.shape[d] for d in (dim if isinstance(dim, (tuple, list)) else (dim,)))
        )
        centred = x - x.mean(dim, keepdim=True)
        return (centred * centred).sum(dim, keepdim=keepdim) / max(n - correction, 0)

    def std(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: Any = None) -> Tensor:  # fmt: skip
        """The square root of ``var``, recorded as ``tensor_methods.std`` (the compiled
        primitive), whose gradient is 0 where the deviation is 0, as in PyTorch."""
        return apply_op(
            rt.tensor_methods.std,
            (self, _dims(dim), unbiased, keepdim, correction),
            name="StdBackward0",
        )

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        """The vector ``p``-norm (of every entry, or over ``dim``): ``p`` a number (inf,
        -inf and 0 among them) or ``"fro"``, the 2-norm."""
        return apply_op(rt.tensor_methods.norm, (self, p, dim, keepdim), name="NormBackward1")

    def dist(self, other: Any, p: Any = 2) -> Tensor:
        """The ``p``-norm of ``self - other`` (broadcast together)."""
        dt = result_dtype(self, other)
        if dt.kind not in "fc":
            raise RuntimeError(
                "norm(): input dtype should be either floating point or complex. Got "
                f"{rt.tensor_methods.SCALAR_TYPES.get(str(dt), dt)} instead."
            )
        return apply_op(rt.tensor_methods.dist, (_cast(self, dt), _cast(other, dt), p),
                        name="DistBackward0")  # fmt: skip

    def median(self, dim: Any = None, keepdim: bool = False) -> Any:
        """The lower of the two middle values (tied entries share its gradient); with
        ``dim``, ``(values, indices)``, each value's gradient to the entry at its index."""
        if dim is None:
            return apply_op(rt.tensor_methods.median, (self,), name="MedianBackward0")
        found = rt.tensor_methods.median(self._data, dim, keepdim)
        return self._selected("median", found, dim, keepdim, "MedianBackward1")

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False) -> Any:
        """``(values, indices)`` of the ``k``-th smallest entries along ``dim``."""
        found = rt.tensor_methods.kthvalue(self._data, k, dim, keepdim)
        return self._selected("kthvalue", found, dim, keepdim, "KthvalueBackward0")

    def _selected(self, name: str, found: Any, dim: int, keepdim: bool, grad: str) -> Any:
        """``found``, the ``(values, indices)`` of the entries picked along ``dim``, its
        values recorded as taken at the indices: each one's gradient goes to that entry
        alone."""
        indices = found.indices
        if self.ndim == 0:
            return RETURN_TYPES[name](self._taken(indices, dim, grad), Tensor._make(indices))
        xp = array_module(self._data)
        kept = indices if keepdim else xp.expand_dims(indices, dim)
        taken = found.values if keepdim else xp.expand_dims(found.values, dim)
        values = self._taken(kept, dim, grad, taken)
        return RETURN_TYPES[name](values if keepdim else values.squeeze(dim),
                                  Tensor._make(indices))  # fmt: skip

    def aminmax(self, *, dim: Any = None, keepdim: bool = False) -> Any:
        """``(min, max)`` (of every entry, or along ``dim``): tied entries share each
        one's gradient evenly."""
        rt.tensor_methods.aminmax_dim(self._data, dim)  # (PyTorch's errors)
        if self.ndim == 0 or dim is None:
            dim = ()
        return RETURN_TYPES["aminmax"](self.amin(dim, keepdim), self.amax(dim, keepdim))

    def _extreme(self, method: str, arg: Callable, dim: Any, keepdim: bool) -> Any:
        if isinstance(dim, Tensor):
            return binary_op(
                np.maximum if method == "max" else np.minimum,
                self,
                dim,
                f"{method.title()}imumBackward0",
            )
        title = method.title()
        if dim is not None and self.ndim == 0:  # its dim 0 or -1 is itself, as in PyTorch
            rt.tensor_methods.checked_dim(0, dim)
            return self.reshape(1)._extreme(method, arg, 0, False)
        if dim is None:  # tied entries share the gradient evenly
            return apply_op(f"ndarray.{method}", (self,), name=f"{title}Backward1")
        # along a dim, the values are the entries at the indices: their gradient goes
        # there alone, ties or not, as in PyTorch
        picked = arg(self._data, axis=dim, keepdims=True)
        values = apply_op(np.take_along_axis, (self, picked, dim), name=f"{title}Backward0")
        if not keepdim:
            values = values.squeeze(dim)
        indices = picked if keepdim else array_module(picked).squeeze(picked, axis=dim)
        return RETURN_TYPES[method](values, Tensor._make(indices))

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """The maximum; with ``dim``, ``(values, indices)``; with a tensor, ``maximum``."""
        return self._extreme("max", array_module(self._data).argmax, dim, keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """The minimum; with ``dim``, ``(values, indices)``; with a tensor, ``minimum``."""
        return self._extreme("min", array_module(self._data).argmin, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        xp = array_module(self._data)
        return Tensor._make(xp.asarray(xp.argmax(self._data, axis=dim, keepdims=keepdim)))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        xp = array_module(self._data)
        return Tensor._make(xp.asarray(xp.argmin(self._data, axis=dim, keepdims=keepdim)))

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Whether every entry (over ``dim``) is nonzero: a bool tensor."""
        return Tensor._make(rt.tensor_methods.all(self._data, dim, keepdim))

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Whether some entry (over ``dim``) is nonzero: a bool tensor."""
        return Tensor._make(rt.tensor_methods.any(self._data, dim, keepdim))

    # ---- shapes --------------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        shape = rt.tensor_methods.shape_of(shape)
        return apply_op(np.reshape, (self, shape), name="ViewBackward0", view=True)

    view = reshape

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return self.reshape(rt.tensor_methods.flattened_shape(self.shape, start_dim, end_dim))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """``dim0`` and ``dim1`` swapped (a view); a 0-d tensor's dims 0 and -1 leave it
        as it is."""
        prim = rt.tensor_methods.transpose if self.ndim == 0 else np.swapaxes
        return apply_op(prim, (self, dim0, dim1), name="TransposeBackward0", view=True)

    swapaxes = swapdims = transpose

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The diagonal of the dims ``dim1`` and ``dim2`` (``offset`` above it), as the
        last dim: a view, as PyTorch's (NumPy's is read-only), so that a write through it
        reaches ``self`` (and its graph, where recorded)."""
        return apply_op(rt.tensor_methods.diagonal, (self, offset, dim1, dim2),
                        name="DiagonalBackward0", view=True,
                        compute=_writable_diagonal)  # fmt: skip

    def trace(self) -> Tensor:
        """The sum of a matrix's diagonal (integers as int64)."""
        return apply_op(rt.tensor_methods.trace, (self,), name="TraceBackward0")

    def tile(self, *dims: Any) -> Tensor:
        """``self`` repeated ``dims[i]`` times along each dim (ones put before the
        shorter of ``dims`` and the shape)."""
        return apply_op(rt.tensor_methods.tile, (self, *dims), name="RepeatBackward0")

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The last two dims swapped, a view."""
        if self.ndim < 2:
            raise RuntimeError(
                "tensor.mT is only supported on matrices or batches of matrices. Got "
                f"{self.ndim}-D tensor."
            )
        return apply_op("ndarray.mT", (self,), name="TransposeBackward0", view=True)

    def select(self, dim: int, index: Any) -> Tensor:
        """The slice at ``index`` along ``dim``, a view."""
        return self[rt.tensor_methods.select_index(self._data.shape, dim, index)]

    def unflatten(self, dim: int, sizes: Any) -> Tensor:
        """The dim ``dim`` made the dims ``sizes`` (one of them -1: inferred), a view."""
        return self.reshape(rt.tensor_methods.unflattened_shape(self._data.shape, dim, sizes))

    def diff(self, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None
             ) -> Tensor:  # fmt: skip
        """The ``n``-th differences along ``dim`` (``prepend`` and ``append`` joined to
        it first)."""
        return apply_op(rt.tensor_methods.diff, (self, n, dim, prepend, append),
                        name="DiffBackward0")  # fmt: skip

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D"
            )
        return apply_op(np.transpose, (self,), name="TBackward0", view=True)

    @property
    def T(self) -> Tensor:
        return apply_op("ndarray.T", (self,), name="PermuteBackward0", view=True)

    def permute(self, *dims: Any) -> Tensor:
        return apply_op(
            np.transpose,
            (self, rt.tensor_methods.shape_of(dims)),
            name="PermuteBackward0",
            view=True,
        )

    def squeeze(self, dim: Any = None) -> Tensor:
        """Drop the dims of size 1 (of those in ``dim``, an int or a tuple, when given)."""
        if dim is None:
            return apply_op(np.squeeze, (self,), name="SqueezeBackward0", view=True)
        axis = rt.tensor_methods.squeezed_axes(self._data.shape, dim)
        name = "SqueezeBackward2" if isinstance(dim, (tuple, list)) else "SqueezeBackward1"
        return apply_op(np.squeeze, (self,), {"axis": axis}, name=name, view=True)

    def unsqueeze(self, dim: int) -> Tensor:
        return apply_op(np.expand_dims, (self, dim), name="UnsqueezeBackward0", view=True)

    def expand(self, *sizes: Any) -> Tensor:
        sizes = rt.tensor_methods.shape_of(sizes)
        lead = len(sizes) - self.ndim
        shape = tuple(self._data.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        return apply_op(np.broadcast_to, (self, shape), name="ExpandBackward0", view=True)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def contiguous(self) -> Tensor:
        """The tensor itself where its data is C-contiguous, else a copy that is (writes
        into it leave the tensor as it was, as PyTorch's)."""
        if self._data.flags.c_contiguous:
            return self
        return apply_op(np.ascontiguousarray, (self,), name="CloneBackward0")

    def clone(self) -> Tensor:
        return apply_op(np.copy, (self,), name="CloneBackward0")

    # ---- cutting, triangles, batched products, gathering, new tensors --------------------

    def split(self, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """The pieces along ``dim`` (every ``split_size``, or of the given sizes), each a
        view recorded as a slice."""
        rt.tensor_methods.at_least_1d(self.ndim, "split")
        dim = rt.tensor_methods.checked_dim(self.ndim, dim) % max(self.ndim, 1)
        length = self._data.shape[dim]
        cuts = rt.tensor_methods.split_points(length, split_size)
        ends = [0, *cuts, length]
        head = (slice(None),) * dim
        return tuple(self[(*head, slice(a, b))] for a, b in zip(ends, ends[1:], strict=False))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces of ``ceil(length / chunks)`` along ``dim`` (fewer where they run out)."""
        rt.tensor_methods.at_least_1d(self.ndim, "chunk")
        length = self._data.shape[rt.tensor_methods.checked_dim(self.ndim, dim)]
        return self.split(rt.tensor_methods.chunk_sections(length, chunks), dim)

    def tril(self, diagonal: int = 0) -> Tensor:
        return apply_op(rt.tensor_methods.tril, (self, diagonal), name="TrilBackward0")

    def triu(self, diagonal: int = 0) -> Tensor:
        return apply_op(rt.tensor_methods.triu, (self, diagonal), name="TriuBackward0")

    def bmm(self, other: Tensor) -> Tensor:
        return apply_op(rt.tensor_methods.bmm, (self, other), name="BmmBackward0")

    def repeat(self, *sizes: Any) -> Tensor:
        """Tiled ``sizes`` times along each dim (new leading dims for extra sizes)."""
        return apply_op(rt.tensor_methods.repeat, (self, *rt.tensor_methods.shape_of(sizes)),
                        name="RepeatBackward0")  # fmt: skip

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        return apply_op(rt.tensor_methods.index_select, (self, dim, _data(index)),
                        name="IndexSelectBackward0")  # fmt: skip

    def flip(self, *given: Any, dims: Any = None) -> Tensor:
        """Reversed along ``dims`` (``x.flip(0, 1)``, ``x.flip([0, 1])``)."""
        return apply_op(rt.tensor_methods.flip, (self, *(given or (dims,))), name="FlipBackward0")

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return apply_op(rt.tensor_methods.roll, (self, shifts, dims), name="RollBackward0")

    def amax(self, dim: Any = (), keepdim: bool = False) -> Tensor:
        return apply_op(rt.tensor_methods.amax, (self, dim, keepdim), name="AmaxBackward0")

    def amin(self, dim: Any = (), keepdim: bool = False) -> Tensor:
        return apply_op(rt.tensor_methods.amin, (self, dim, keepdim), name="AminBackward0")

    def logsumexp(self, dim: Any, keepdim: bool = False) -> Tensor:
        return apply_op(rt.tensor_methods.logsumexp, (self._floating(), dim, keepdim),
                        name="LogsumexpBackward0")  # fmt: skip

    def _constant_pieces(self, values: Any, name: str) -> Tensor:
        """``values`` (a piecewise constant function of this tensor) recorded with a
        zero gradient, as PyTorch records them."""
        if not _recording(self):
            return Tensor._make(values)
        # where(True, values, x): the value of values, and a zero gradient for x
        xp = array_module(self._data)
        return apply_op(np.where, (xp.asarray(True), values, self), name=name)

    def floor(self) -> Tensor:
        return self._constant_pieces(array_module(self._data).floor(self._data), "FloorBackward0")

    def ceil(self) -> Tensor:
        return self._constant_pieces(array_module(self._data).ceil(self._data), "CeilBackward0")

    def round(self, decimals: int = 0) -> Tensor:
        """To the nearest integer (or ``decimals`` places), halves to even (as PyTorch)."""
        rounded = array_module(self._data).round(self._data, decimals)
        return self._constant_pieces(rounded, "RoundBackward0")

    def trunc(self) -> Tensor:
        return self._constant_pieces(array_module(self._data).trunc(self._data), "TruncBackward0")

    def isnan(self) -> Tensor:
        return Tensor._make(array_module(self._data).isnan(self._data))

    def isinf(self) -> Tensor:
        return Tensor._make(array_module(self._data).isinf(self._data))

    def isfinite(self) -> Tensor:
        return Tensor._make(array_module(self._data).isfinite(self._data))

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """out[i][j] = self[i][index[i][j]] for dim 1 (and so on for the other dims)."""
        return apply_op(rt.tensor_methods.gather, (self, dim, _data(index)), name="GatherBackward0")

    # ---- sorting, cumulative products, views and scatters ---------------------------------

    def sort(self, dim: int = -1, descending: bool = False, *, stable: Any = False) -> Any:
        """``(values, indices)`` along ``dim``: tied entries in the order PyTorch's CPU sort
        leaves them (``stable=True``: as they stood); each value's gradient goes to the
        entry at its index (``np.take_along_axis``'s rule)."""
        indices = rt.tensor_methods.sort_indices(self._data, dim, descending, stable)
        values = self._taken(indices, dim, "SortBackward0")
        return RETURN_TYPES["sort"](values, Tensor._make(indices))

    def argsort(self, dim: int = -1, descending: bool = False, *, stable: Any = False) -> Tensor:
        return Tensor._make(rt.tensor_methods.sort_indices(self._data, dim, descending, stable))

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) entries
        along ``dim``, tied ones those PyTorch's CPU topk picks; each value's gradient goes
        to the entry at its index."""
        indices = rt.tensor_methods.topk_indices(self._data, k, dim, largest, sorted)
        values = self._taken(indices, dim, "TopkBackward0")
        return RETURN_TYPES["topk"](values, Tensor._make(indices))

    def _taken(self, indices: Any, dim: int, name: str, values: Any = None) -> Tensor:
        """The entries at ``indices`` along ``dim``, recorded as ``np.take_along_axis``
        (a 0-d tensor's, itself); ``values``: those entries, taken already."""
        if self.ndim == 0:
            return apply_op(np.copy, (self,), name=name)
        compute = None if values is None else (lambda *_: values)
        return apply_op(np.take_along_axis, (self, indices, dim), name=name, compute=compute)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along ``dim``, each a view recorded as an index."""
        if self.ndim == 0:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        dim = rt.tensor_methods.checked_dim(self.ndim, dim) % self.ndim
        head = (slice(None),) * dim
        return tuple(self[(*head, i)] for i in range(self._data.shape[dim]))

    def narrow(self, dim: int, start: Any, length: int) -> Tensor:
        """``length`` entries from ``start`` (counted from the end where negative) along
        ``dim``, a view."""
        return self[rt.tensor_methods.narrow_index(self._data.shape, dim, start, length)]

    def unfold(self, dimension: int, size: int, step: int) -> Tensor:
        """The windows of ``size`` entries, ``step`` apart, along ``dimension``: that dim
        made their number, a new last dim their entries (a view)."""
        return apply_op(rt.tensor_methods.unfold, (self, dimension, size, step),
                        name="UnfoldBackward0", view=True)  # fmt: skip

    def as_strided(self, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:
        """The view whose entry at ``i`` is entry ``storage_offset + sum(i[k] * stride[k])``
        of this tensor's storage (its entries in row-major order)."""
        return apply_op(rt.tensor_methods.as_strided, (self, size, stride, storage_offset),
                        name="AsStridedBackward0", view=True)  # fmt: skip

    def movedim(self, source: Any, destination: Any) -> Tensor:
        """The dims ``source`` moved to ``destination`` (``np.moveaxis``), a view."""
        return apply_op(rt.tensor_methods.movedim, (self, source, destination),
                        name="PermuteBackward0", view=True)  # fmt: skip

    def diag(self, diagonal: int = 0) -> Tensor:
        """A vector on a diagonal of a matrix, or a matrix's diagonal (``np.diag``)."""
        return apply_op(rt.tensor_methods.diag, (self, diagonal), name="DiagBackward0")

    def outer(self, vec2: Any) -> Tensor:
        """The products of the entries of two vectors (in their promoted dtype)."""
        dt = result_dtype(self, vec2)
        return apply_op(rt.tensor_methods.outer, (_cast(self, dt), _cast(vec2, dt)),
                        name="OuterBackward0")  # fmt: skip

    def scatter(self, dim: int, index: Any, src: Any = None, *, value: Any = None,
                reduce: Any = None) -> Tensor:  # fmt: skip
        """This tensor with ``src``'s entries (or ``value``) written where ``index`` says
        along ``dim``: ``out[i][index[i][j]] = src[i][j]`` for dim 1."""
        return apply_op(rt.tensor_methods.scatter,
                        (self, dim, _data(index), _scalar(src), _scalar(value), reduce),
                        name="ScatterBackward0")  # fmt: skip

    def scatter_add(self, dim: int, index: Any, src: Any) -> Tensor:
        """This tensor plus ``src``'s entries added where ``index`` says along ``dim``."""
        return apply_op(rt.tensor_methods.scatter_add, (self, dim, _data(index), src),
                        name="ScatterAddBackward0")  # fmt: skip

    def scatter_reduce(self, dim: int, index: Any, src: Any, reduce: str, *,
                       include_self: bool = True) -> Tensor:  # fmt: skip
        """``src``'s entries reduced (``"sum"``, ``"prod"``, ``"mean"``, ``"amax"``,
        ``"amin"``) into the positions ``index`` names along ``dim``, ``self``'s own entry
        among them unless ``include_self=False``."""
        return apply_op(rt.tensor_methods.scatter_reduce, (self, dim, _data(index), src, reduce),
                        {"include_self": include_self}, name="ScatterReduceBackward0")  # fmt: skip

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:  # fmt: skip
        return self._new(rt.tensor_methods.new_zeros(self._data, *size, dtype=dtype), device,
                         requires_grad)  # fmt: skip

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:  # fmt: skip
        return self._new(rt.tensor_methods.new_ones(self._data, *size, dtype=dtype), device,
                         requires_grad)  # fmt: skip

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:  # fmt: skip
        real_only(fill_value)
        fill = _number_argument(fill_value, "new_full", "fill_value", 2)
        array = rt.tensor_methods.new_full(self._data, size, fill, dtype=dtype)
        return self._new(array, device, requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:  # fmt: skip
        """A new tensor of ``size`` in this tensor's dtype and device (its values are
        zeros here, which PyTorch leaves unspecified)."""
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_empty_strided(self, size: Any, stride: Any, dtype: Any = None, device: Any = None,
                          requires_grad: bool = False) -> Tensor:  # fmt: skip
        """``new_empty`` of ``size``, laid out with ``stride`` (a contiguous one here)."""
        if len(tuple(size)) != len(tuple(stride)):
            raise RuntimeError(
                f"dimensionality of sizes ({len(tuple(size))}) must match dimensionality of "
                f"strides ({len(tuple(stride))})"
            )
        return self.new_zeros(tuple(size), dtype=dtype, device=device,
                              requires_grad=requires_grad)  # fmt: skip

    def new_tensor(self, data: Any, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False) -> Tensor:  # fmt: skip
        """A copy of ``data`` in this tensor's dtype (or ``dtype``) and device, detached."""
        array = rt.tensor_methods.new_tensor(self._data, _unwrap_nested(data), dtype=dtype)
        return self._new(array, device, requires_grad)

    def _new(self, array: Any, device: Any, requires_grad: bool) -> Tensor:
        """A new tensor of ``array`` (made in its dtype), on ``device`` where given."""
        out = Tensor._make(array)
        if device is not None:
            out = out.to(device=device)
        return out.requires_grad_(requires_grad) if requires_grad else out

    # ---- indexing ------------------------------------------------------------------------

    def __getitem__(self, key: Any) -> Tensor:
        idx = _index(key)
        if _one_entry(idx, self.ndim):  # a 0-d view of it, as PyTorch's (NumPy: a copy)
            idx = (*idx, Ellipsis) if isinstance(idx, tuple) else (idx, Ellipsis)
        view = apply_op(operator.getitem, (self, idx), name=_index_name(idx), view=True)
        if view._base is not None:
            view._view_of, view._taken_at = (self, key), self._version.value
        return view

    def _current_entries(self) -> Tensor:
        """This entry view taken again from what it views, as its graph stands now (the
        tensor itself, for one that is no entry view)."""
        if self._view_of is None:
            return self
        parent, key = self._view_of
        return parent._current_entries()[key]

    def _regraph_entries(self) -> None:
        """Take this entry view's graph again where a recorded in-place change of the
        tensor it views (or of another view of it) came after it was taken: its values
        are the new ones, its graph must be too."""
        if self._version.regraphed > self._taken_at:
            if self._view_of is None:  # (a view other than an index: by its entries' place)
                try:
                    self._view_of = _entries_in_base(self)
                except RuntimeError:  # (a stale read is refused where the graph is pulled)
                    return
            self._take_graph(self._current_entries())

    def _take_graph(self, again: Tensor) -> None:
        """Give this entry view the graph of ``again``, the same entries taken now."""
        if again._node is not None:
            autograd.rebind(self, again._node)
        else:  # the entries depend on nothing that requires grad
            self._node = None
        self._requires_grad = again._requires_grad
        self._taken_at = self._version.value

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, Tensor) and value._written_back is not None:
            parent, at, version = value._written_back
            if parent is self and at is key and _immutable(key) and version == self._version.value:
                return  # ``self[key] += v``: the entries' change was recorded on self
        idx, value = _index(key), _scalar(value)
        real_only(value)
        if _overlapping(self):  # (a view's own memory, read-only: written in what it views)
            if _overlapping(self, idx) and not _one_number(value):
                raise RuntimeError(OVERLAP)
            self._write_into_base(idx, value)
            return
        if _recording(self, value):
            self._inplace(lambda s: apply_op(rt.setitem, (s, idx, value), name="CopySlices"), value)
            return
        _check_devices((self, value))
        self._data[idx] = _data(value)
        self._changed()

    def _write_into_base(self, idx: Any, value: Any) -> None:
        """``self[idx] = value`` for a view whose entries share memory (an ``unfold`` of
        overlapping windows, an ``as_strided``): written into the entries of the tensor it
        views, as PyTorch writes it (where entries ``idx`` share memory, ``value`` is one
        number, the same for each), recorded there, and the view's graph taken again."""
        self._check_inplace()
        base, entries = _entries_in_base(self)
        base[tuple(e[idx] for e in entries)] = value
        if _recording(base):
            self._take_graph(base[entries])
        self._version.value = max(self._version.value, base._version.value)

    def _compiled_setitem(self, idx: Any, value: Any) -> Tensor:
        """``self[idx] = value`` made by compiled code, to which this Tensor is from outside
        (``d = w.detach(); d[0] = 7.0``): written as eager code writes it, but refused
        where ``value`` may carry a gradient this Tensor could not take on."""
        rt.tensors.refuse_carried("a write into an entry of a Tensor from outside", (value,))
        self[idx] = value
        return self

    # ---- in-place operations -------------------------------------------------------------

    def _check_inplace(self) -> None:
        if not grad_mode.is_grad_enabled():
            return
        if self._node is None and self._requires_grad:
            raise RuntimeError(LEAF_INPLACE)
        base = self._base
        if base is not None and base._node is None and base._requires_grad:
            raise RuntimeError(VIEW_INPLACE)

    def _changed(self) -> None:
        """Its array was changed in place: graphs and compiled code that saved it must
        see it (``rt.wrote``)."""
        self._version.value += 1
        rt.wrote(self)

    def _check_output(self, values: Any) -> None:
        """PyTorch's error for an in-place result (``values``) not shaped as this tensor."""
        if tuple(values.shape) != tuple(self._data.shape):
            raise RuntimeError(
                f"output with shape {list(self._data.shape)} doesn't match the "
                f"broadcast shape {list(values.shape)}"
            )

    def _write(self, values: Any) -> None:
        """Store ``values`` (the result of an operation on this tensor) into its array (a
        read-only view's, of an ``unfold``: into the entries of the tensor it views)."""
        self._check_output(values)
        if not getattr(self._data.flags, "writeable", True) and self._base is not None:
            base, entries = _entries_in_base(self)
            base._data[entries] = values
            base._changed()
            return
        try:
            array_module(self._data).copyto(self._data, values, casting="same_kind")
        except TypeError:
            src = dtypes.of_numpy(values.dtype).type_name.removesuffix("Tensor")
            dst = self.dtype.type_name.removesuffix("Tensor")
            raise RuntimeError(
                f"result type {src} can't be cast to the desired output type {dst}"
            ) from None
        self._changed()

    def _inplace(self, compute: Callable[[Tensor], Tensor], *others: Any) -> Tensor:
        """Run ``compute(self)`` and store the result in this tensor.

        When the change must be recorded, ``compute`` runs on a snapshot of the old value
        and its node becomes this tensor's grad_fn.
        """
        _check_overlap(self)
        self._check_inplace()
        if _recording(self, *others):
            if self._view_of is None and self._base is not None:
                self._view_of = _entries_in_base(self)  # (its entries, by position)
                self._taken_at = self._version.value
            if self._view_of is not None:
                return self._inplace_of_entries(compute)
            result = compute(autograd.snapshot(self))
            self._write(result._data)
            self._version.regraphed = self._version.value  # (views taken before: see there)
            if result._node is not None:
                autograd.rebind(self, result._node)
            else:  # the new value depends on nothing that requires grad
                self._node, self._requires_grad = None, False
        else:
            self._write(compute(self)._data)
        return self

    def _inplace_of_entries(self, compute: Callable[[Tensor], Tensor]) -> Tensor:
        """A recorded in-place change of an entry view (``h[:, 1] += v``), as PyTorch
        records it: written into the tensor it views, whose graph takes it (its
        ``CopySlices``), and the view taken again from the new graph."""
        parent, key = self._view_of
        # (from the entries as the graph of what they view stands now: the view's own
        # graph may be older, where that tensor changed since)
        result = compute(autograd.snapshot(self._current_entries()))
        self._check_output(result._data)
        parent[key] = result  # (the view's memory is written too)
        self._take_graph(parent[key])
        self._written_back = (parent, key, parent._version.value)
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        if alpha == 1:
            return self._inplace(lambda s: binary_op(operator.add, s, other, "AddBackward0"), other)
        return self._inplace(lambda s: s.add(other, alpha), other)

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        if alpha == 1:
            return self._inplace(lambda s: binary_op(operator.sub, s, other, "SubBackward0"), other)
        return self._inplace(lambda s: s.sub(other, alpha), other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace(lambda s: binary_op(operator.mul, s, other, "MulBackward0"), other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace(
            lambda s: binary_op(operator.truediv, s, other, "DivBackward0", floating=True), other
        )

    def pow_(self, exponent: Any) -> Tensor:
        return self._inplace(lambda s: s**exponent, exponent)

    def floor_divide_(self, other: Any) -> Tensor:
        return self._inplace(lambda s: s // other, other)

    def remainder_(self, other: Any) -> Tensor:
        return self._inplace(lambda s: s % other, other)

    def bitwise_and_(self, other: Any) -> Tensor:
        return self._inplace(lambda s: s & other, other)

    def bitwise_or_(self, other: Any) -> Tensor:
        return self._inplace(lambda s: s | other, other)

    def bitwise_xor_(self, other: Any) -> Tensor:
        return self._inplace(lambda s: s ^ other, other)

    # Python's augmented assignments change the tensor itself, as PyTorch's do
    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_
    __ipow__, __ifloordiv__, __imod__ = pow_, floor_divide_, remainder_
    __iand__, __ior__, __ixor__ = bitwise_and_, bitwise_or_, bitwise_xor_

    def addcmul_(self, tensor1: Any, tensor2: Any, value: Any = 1) -> Tensor:
        """``self += value * tensor1 * tensor2`` (as optimizers use it)."""
        return self.add_(tensor1 * tensor2 * value)

    def addcdiv_(self, tensor1: Any, tensor2: Any, value: Any = 1) -> Tensor:
        """``self += value * tensor1 / tensor2``."""
        return self.add_(tensor1 / tensor2 * value)

    def relu_(self) -> Tensor:
        return self._inplace(lambda s: s.relu())

    def sigmoid_(self) -> Tensor:
        return self._inplace(lambda s: s.sigmoid())

    def tanh_(self) -> Tensor:
        return self._inplace(lambda s: s.tanh())

    def abs_(self) -> Tensor:
        return self._inplace(lambda s: s.abs())

    def exp_(self) -> Tensor:
        return self._inplace(lambda s: s.exp())

    def log_(self) -> Tensor:
        return self._inplace(lambda s: s.log())

    def nan_to_num_(self, nan: float = 0.0, posinf: float | None = None,
                    neginf: float | None = None) -> Tensor:  # fmt: skip
        return self._inplace(lambda s: s.nan_to_num(nan, posinf, neginf))

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace(lambda s: s.clamp(min, max), min, max)

    def copy_(self, src: Any) -> Tensor:
        """Overwrite this tensor with ``src`` (broadcast, cast to this dtype)."""
        if not isinstance(src, Tensor):  # an array or data: moved to this tensor's device
            array = src if cuda.of_array(src) == "cuda" else np.asarray(src)
            real_only(array)
            src = Tensor._make(cuda.to_device(array, self.device))
        if not _recording(src):
            return self._overwrite(src._data.astype(self._data.dtype, copy=False), "CopyBackwards")
        # src everywhere: the tensors this one came from get a zero .grad, as in PyTorch
        held = array_module(self._data).zeros(self._data.shape, dtype=bool)
        return self._inplace(
            lambda s: apply_op(np.where, (held, s, src.to(self.dtype)), name="CopyBackwards"), src
        )

    def _overwrite(self, values: Any, name: str = "FillBackward0") -> Tensor:
        """Fill with values that do not depend on the old ones. A tensor in a graph stays
        in it, with a zero gradient for what it held, as in PyTorch: the tensors it came
        from get a zero ``.grad``, not None."""
        xp = array_module(self._data)
        if _overlapping(self):  # one number for the entries sharing memory (else refused)
            a = self._data
            zero = any(st == 0 and n > 1 for n, st in zip(a.shape, a.strides, strict=True))
            if not _one_number(values) or (zero and _recording(self)):
                raise RuntimeError(OVERLAP)  # (PyTorch's, for a recorded fill of stride 0)
            self._write_into_base(Ellipsis, values)
            return self
        full = xp.broadcast_to(xp.asarray(values, dtype=self._data.dtype), self._data.shape)
        if _recording(self) and self._node is not None:
            held = xp.zeros(self._data.shape, dtype=bool)  # (where: the new values only)
            return self._inplace(lambda s: apply_op(np.where, (held, s, full), name=name))
        self._check_inplace()
        self._write(full)
        return self

    def fill_(self, value: Any) -> Tensor:
        if isinstance(value, Tensor) and _recording(value):  # its gradient is the sum
            return self.copy_(value)
        real_only(value)
        return self._overwrite(_scalar(_data(value)))

    def zero_(self) -> Tensor:
        return self._overwrite(0, "ZeroBackward0")

    def _random_(self, kind: str, **params: Any) -> Tensor:
        """Overwrite with draws of the default generator (``sd.manual_seed``'s): ``kind``
        names its method (``uniform``, ``normal``, ``bernoulli``)."""
        from .creation import generator

        check_draw(kind, self._data.dtype, **params)
        _check_overlap(self)  # (draws for entries sharing memory: refused)
        values = sample(generator(), kind, self._data.shape, self._data.dtype,
                        xp=cuda.module(self.device), into=self._data, **params)  # fmt: skip
        return self._overwrite(values)

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        return self._random_("uniform", low=a, high=b)

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        return self._random_("normal", loc=mean, scale=std)

    def bernoulli_(self, p: Any = 0.5) -> Tensor:
        """1 with probability ``p`` (a number, or a tensor of them), else 0."""
        if isinstance(p, Tensor):
            p = to_numpy(p._data)
        return self._random_("bernoulli", p=p)

    # ---- NumPy protocols -----------------------------------------------------------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs:
            return NotImplemented
        if ufunc in _UFUNC_BINARY:
            prim, name = _UFUNC_BINARY[ufunc]
            if ufunc is np.matmul:
                name = _matmul_name(*inputs)
            return binary_op(prim, *inputs, name, floating=ufunc is np.true_divide)
        if ufunc in _UFUNC_COMPARE:
            return compare_op(_UFUNC_COMPARE[ufunc], *inputs)
        if ufunc is np.floor_divide or ufunc is np.remainder:  # a NumPy scalar's ``//``, ``%``
            _integer_divisor(*inputs)
            if ufunc is np.floor_divide:
                return _no_grad_binary(operator.floordiv, *inputs, promote=True)
            return binary_op(operator.mod, *inputs, "RemainderBackward0")
        return numpy_call(ufunc, inputs, {})

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        from .functions import NUMPY_FUNCTIONS

        handler = NUMPY_FUNCTIONS.get(func)
        if handler is not None:
            return handler(*args, **kwargs)
        return numpy_call(func, args, kwargs)


def _integer_divisor(a: Any, b: Any) -> None:
    """Refuse an integer ``a // b`` or ``a % b`` by zero, as PyTorch does (NumPy gives 0)."""
    a, b = _scalar(a), _scalar(b)
    if _operand(a) and _operand(b):
        rt.tensor_methods.integer_divisor(_data(a), _data(b))


def _no_grad_binary(prim: Callable, a: Any, b: Any, *, promote: bool = False) -> Any:
    """An elementwise operation whose result carries no gradient (``promote``: in the dtype
    PyTorch's promotion gives, as ``binary_op``'s)."""
    a, b = _scalar(a), _scalar(b)
    if not (_operand(a) and _operand(b)):
        return NotImplemented
    _check_devices((a, b))
    if promote:
        dt = result_dtype(a, b)
        a, b = _cast(_data(a), dt), _cast(_data(b), dt)
    return Tensor._make(array_module(_data(a), _data(b)).asarray(prim(_data(a), _data(b))))


_UFUNC_BINARY = {
    np.add: (operator.add, "AddBackward0"),
    np.subtract: (operator.sub, "SubBackward0"),
    np.multiply: (operator.mul, "MulBackward0"),
    np.true_divide: (operator.truediv, "DivBackward0"),
    np.power: (operator.pow, "PowBackward0"),
    np.matmul: (operator.matmul, "MmBackward0"),
    np.maximum: (np.maximum, "MaximumBackward0"),
    np.minimum: (np.minimum, "MinimumBackward0"),
}
_UFUNC_COMPARE = {
    np.equal: operator.eq,
    np.not_equal: operator.ne,
    np.less: operator.lt,
    np.less_equal: operator.le,
    np.greater: operator.gt,
    np.greater_equal: operator.ge,
}


def _has_tensor(x: Any) -> bool:
    if isinstance(x, Tensor):
        return True
    return isinstance(x, (list, tuple)) and any(_has_tensor(v) for v in x)


def _unwrap_nested(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap_nested(v) for v in x)
    return x


def _wrap(out: Any) -> Any:
    if isinstance(out, (np.ndarray, np.generic)) or device_of(out) == "cuda":
        real_only(out, made=True)
        return Tensor._make(array_module(out).asarray(out))
    if isinstance(out, tuple):
        return tuple(_wrap(v) for v in out)
    return out


def numpy_call(func: Callable, args: Sequence[Any], kwargs: dict) -> Any:
    """A NumPy function called on tensors: recorded through its rule, or run on the arrays."""
    args = tuple(_scalar(a) for a in args)
    wants_grad = grad_mode.is_grad_enabled() and any(
        isinstance(a, Tensor) and a.requires_grad for a in (*args, *kwargs.values())
    )
    nested = any(isinstance(a, (list, tuple)) and _has_tensor(a) for a in args)
    if not wants_grad or rules.is_nondiff(func):
        out = _wrap(func(*_unwrap_nested(args), **_unwrap_nested(kwargs)))
        if isinstance(out, Tensor) and args:  # np.reshape(t, -1): a view of t
            _share_storage(out, args[0])
        return out
    refused = rules.refusal(func)
    if refused is not None:
        raise RuntimeError(
            f"srcdiff cannot differentiate this call on tensors: {refused[0]}; {refused[1]}"
        )
    if rules.lookup(func) is None or nested or any(_has_tensor(v) for v in kwargs.values()):
        name = f"{getattr(func, '__module__', None) or 'numpy'}.{getattr(func, '__name__', func)}"
        raise RuntimeError(
            f"srcdiff cannot differentiate {name} called on tensors: it has no reverse rule "
            f"(register one with @sd.register_vjp({name})) or takes tensors inside lists or "
            "keyword arguments"
        )
    name = getattr(func, "__name__", "Op")
    view = isinstance(args[0], Tensor) if args else False
    # (inside: called by the Tensor's __array_ufunc__ or __array_function__)
    return apply_op(func, args, kwargs, name=f"{name[:1].upper()}{name[1:]}Backward0",
                    view=view, inside=1)  # fmt: skip


def _rebuild(cls: type, data: Any, requires_grad: bool, device: str) -> Tensor:
    return Tensor._make(cuda.to_device(data, device), requires_grad, object.__new__(cls))


rt.install(tensor=Tensor, grad_enabled=grad_mode.is_grad_enabled)  # for compiled code
