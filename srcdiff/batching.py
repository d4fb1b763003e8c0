"""Batching for ``sd.vmap``: a function run once on whole batches instead of once per
example, where that gives each example's result.

A mapped argument becomes a ``Batched``: a NumPy array whose first axis is the batch,
which shows the shape, dtype and NumPy behaviour of one example. NumPy's dispatch
protocols (``__array_ufunc__``, ``__array_function__``) and its operators, methods and
indexing send each operation to a batching rule. Anything without a rule, and anything
that would turn a batched value into one Python value (``if x > 0``, ``float(x)``,
``np.asarray(x)``), raises ``NotBatchable``; ``sd.vmap`` then runs its loop over the
examples instead, which is always right.

A gradient (``sd.grad(loss)``) is batched beneath its dispatcher: the primal and adjoint
compiled for one example run on the batch, with the few runtime helpers that need one
replaced by batching versions (``BatchedRuntime``); the caches see one example only.
"""

from __future__ import annotations

import string
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import runtime as rt


class NotBatchable(Exception):
    """An operation with no batching rule: the caller runs the examples one by one."""


_SCALAR_TYPES = (bool, int, float, complex, np.generic)


class Batched:
    """A batch of arrays, the batch along the first axis of ``value``, that behaves as
    one example (its shape, its NumPy functions) so that a function written for one
    example computes all of them at once."""

    __slots__ = ("value", "scalar")
    __array_priority__ = 1000
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, value: np.ndarray, scalar: bool = False):
        self.value = value
        # each example's value is a NumPy scalar (immutable: ``s += 1`` makes a new one),
        # as a ufunc, a whole reduction or an integer index gives; False where it may be
        # a 0-d array, which ``s += 1`` updates in place
        self.scalar = scalar and value.ndim == 1

    # what one example shows
    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape[1:]

    @property
    def ndim(self) -> int:
        return self.value.ndim - 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    @property
    def T(self) -> Batched:
        return transpose(self)

    @property
    def real(self) -> Batched:
        return Batched(self.value.real)

    @property
    def imag(self) -> Batched:
        return Batched(self.value.imag)

    def __len__(self) -> int:
        if not self.shape:
            raise NotBatchable("len() of a batched number")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise NotBatchable("iteration over a batched number")
        return (Batched(self.value[:, i]) for i in range(self.shape[0]))

    def __repr__(self) -> str:
        return f"Batched({self.value!r})"

    # what would make one value of the batch, or write into it: not batchable
    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotBatchable("a batched value used as one Python value")

    __bool__ = __float__ = __int__ = __index__ = __complex__ = __str__ = __format__ = _refuse
    __array__ = item = tolist = tobytes = _refuse
    __delitem__ = __imatmul__ = _refuse

    def __setitem__(self, index: Any, value: Any) -> None:
        """Each example's ``x[index] = value``, in place (so that views see it as they
        would see each example's write)."""
        _check(value)
        if self.ndim == 0:  # a NumPy scalar (no writes) or a 0-d array, not known which
            raise NotBatchable("a write into a batched number")
        full, moved = _index_layout(index, self)
        target_ndim = self.value[full].ndim - 1
        if _ndim(value) > target_ndim:
            raise NotBatchable("an assigned value of more dimensions than its place")
        self.value[full] = _placed(value, target_ndim, moved)

    # NumPy's protocols
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if kwargs.get("out") is not None or kwargs.get("where", True) is not True:
            raise NotBatchable(f"{ufunc.__name__} with out= or where=")
        kwargs.pop("out", None)
        kwargs.pop("where", None)
        if method == "reduce" and len(inputs) == 1:
            return _reduction(ufunc.reduce, axis_default=0)(*inputs, **kwargs)
        if method != "__call__":
            raise NotBatchable(f"{ufunc.__name__}.{method}")
        if ufunc is np.matmul:
            return matmul(*inputs, **kwargs)
        if ufunc.signature is not None:
            raise NotBatchable(f"{ufunc.__name__} (a generalized ufunc)")
        out = elementwise(ufunc, *inputs, **kwargs)
        return tuple(map(_as_scalars, out)) if isinstance(out, tuple) else _as_scalars(out)

    def __array_function__(self, func: Callable, types_: tuple, args: tuple, kwargs: dict) -> Any:
        rule = RULES.get(func)
        if rule is None or any(t not in (Batched, np.ndarray) for t in types_):
            raise NotBatchable(f"no batching rule for {getattr(func, '__name__', func)}")
        return rule(*args, **kwargs)

    # methods
    def sum(self, *args: Any, **kwargs: Any) -> Any:
        return np.sum(self, *args, **kwargs)

    def mean(self, *args: Any, **kwargs: Any) -> Any:
        return np.mean(self, *args, **kwargs)

    def max(self, *args: Any, **kwargs: Any) -> Any:
        return np.max(self, *args, **kwargs)

    def min(self, *args: Any, **kwargs: Any) -> Any:
        return np.min(self, *args, **kwargs)

    def prod(self, *args: Any, **kwargs: Any) -> Any:
        return np.prod(self, *args, **kwargs)

    def std(self, *args: Any, **kwargs: Any) -> Any:
        return np.std(self, *args, **kwargs)

    def var(self, *args: Any, **kwargs: Any) -> Any:
        return np.var(self, *args, **kwargs)

    def any(self, *args: Any, **kwargs: Any) -> Any:
        return np.any(self, *args, **kwargs)

    def all(self, *args: Any, **kwargs: Any) -> Any:
        return np.all(self, *args, **kwargs)

    def argmax(self, *args: Any, **kwargs: Any) -> Any:
        return np.argmax(self, *args, **kwargs)

    def argmin(self, *args: Any, **kwargs: Any) -> Any:
        return np.argmin(self, *args, **kwargs)

    def cumsum(self, *args: Any, **kwargs: Any) -> Any:
        return np.cumsum(self, *args, **kwargs)

    def cumprod(self, *args: Any, **kwargs: Any) -> Any:
        return np.cumprod(self, *args, **kwargs)

    def clip(self, *args: Any, **kwargs: Any) -> Any:
        return np.clip(self, *args, **kwargs)

    def round(self, *args: Any, **kwargs: Any) -> Any:
        return np.round(self, *args, **kwargs)

    def dot(self, other: Any) -> Any:
        return np.dot(self, other)

    def conj(self) -> Any:
        return np.conjugate(self)

    conjugate = conj

    def reshape(self, *shape: Any, order: str = "C") -> Batched:
        return reshape(self, shape[0] if len(shape) == 1 else shape, order=order)

    def transpose(self, *axes: Any) -> Batched:
        return transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def swapaxes(self, a: int, b: int) -> Batched:
        return swapaxes(self, a, b)

    def squeeze(self, axis: Any = None) -> Batched:
        return squeeze(self, axis)

    def ravel(self, order: str = "C") -> Batched:
        return ravel(self, order)

    def flatten(self, order: str = "C") -> Batched:
        return Batched(reshape(self, -1, order=order).value.copy())

    def copy(self, order: str = "C") -> Batched:
        if order not in ("C", "K", "A"):
            raise NotBatchable("copy in Fortran order")
        return Batched(self.value.copy())

    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe", copy: bool = True
               ) -> Batched:  # fmt: skip
        return Batched(self.value.astype(dtype, casting=casting, copy=copy))

    def __getitem__(self, index: Any) -> Batched:
        full, moved = _index_layout(index, self)
        ints = all(
            isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_))
            for p in (index if isinstance(index, tuple) else (index,))
        )  # an element by integers is a NumPy scalar; by an Ellipsis, a 0-d array
        out = np.moveaxis(self.value[full], moved, 0) if moved else self.value[full]
        if ints and out.ndim == 1:  # each example's number is a copy, not a view: a write
            out = out.copy()  # into the array after it was read leaves it as it was
        return Batched(out, scalar=ints)

    # operators (by their ufuncs, so that both sides' rules apply)
    def __neg__(self) -> Any:
        return np.negative(self)

    def __pos__(self) -> Any:
        return np.positive(self)

    def __abs__(self) -> Any:
        return np.absolute(self)

    def __invert__(self) -> Any:
        return np.invert(self)


def _binary(ufunc: np.ufunc) -> tuple[Callable, Callable]:
    def forward(self: Batched, other: Any) -> Any:
        _python_complex(self, other)
        return ufunc(self, other)

    def reflected(self: Batched, other: Any) -> Any:
        _python_complex(self, other)
        return ufunc(other, self)

    return forward, reflected


def _python_complex(x: Batched, other: Any) -> None:
    """A Python complex meeting examples of one number is left to the loop: with a
    float64 scalar (a Python float) Python's complex arithmetic answers, not NumPy's
    (``1j / np.float64(0.0)`` raises ZeroDivisionError)."""
    if x.ndim == 0 and isinstance(other, complex):
        raise NotBatchable("a Python complex and a batched number")


for _name, _ufunc in {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.remainder, "matmul": np.matmul,
    "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
    "lshift": np.left_shift, "rshift": np.right_shift, "divmod": np.divmod,
}.items():  # fmt: skip
    _forward, _reflected = _binary(_ufunc)
    setattr(Batched, f"__{_name}__", _forward)
    setattr(Batched, f"__r{_name}__", _reflected)


def _one_number(x: Any) -> bool:
    """Whether each example's ``x`` is one number (a NumPy scalar, a 0-d array or a Python
    number), whose arithmetic is not always an array's."""
    return _ndim(x) == 0


def _operator_power(base: Any, exp: Any) -> Batched:
    """Each example's ``base ** exp`` as Python's operator gives it, which is not always
    ``np.power``: an array raised to a Python number takes NumPy's shortcuts (``square``
    for 2, keeping a bool array's ``** 2`` in int8; ``sqrt`` for 0.5; ``reciprocal`` for
    -1), and NumPy scalars raise by the C library's ``pow`` (``-inf ** 0.5`` is inf)."""
    _check(base)
    _check(exp)
    if not _one_number(base) and not isinstance(exp, Batched):
        ndim = max(_ndim(base), _ndim(exp))
        return Batched(_lift(base, ndim) ** exp)  # the array operator's own shortcuts
    if not _one_number(base) and not _one_number(exp):
        return elementwise(np.power, base, exp)  # no shortcut for an array exponent
    if not _one_number(base):
        raise NotBatchable("an array raised to a batched number")
    out = elementwise(np.power, base, exp)
    if not _one_number(exp):
        return out  # a number raised to an array: np.power
    # numbers: each example's may be a NumPy scalar or a 0-d array, which can differ
    n = out.value.shape[0]
    bs, es = (
        np.broadcast_to(x.value, (n,)) if isinstance(x, Batched) else [x] * n for x in (base, exp)
    )
    for form in (lambda v: v, np.asarray):
        for b, e, o in zip(bs, es, out.value, strict=True):
            r = np.asarray(form(b) ** (form(e) if isinstance(exp, Batched) else e))
            if (
                r.dtype != o.dtype
                or not np.array_equal(r, o, equal_nan=True)
                or (r.dtype.kind in "fc" and np.signbit(r.real) != np.signbit(o.real))
            ):
                raise NotBatchable("a power of numbers that NumPy's scalars give otherwise")
    return out


Batched.__pow__ = lambda self, other: _operator_power(self, other)  # type: ignore[method-assign]
Batched.__rpow__ = lambda self, other: _operator_power(other, self)  # type: ignore[method-assign]


def _in_place(ufunc: np.ufunc, operator: Callable) -> Callable:
    def update(self: Batched, other: Any) -> Batched:
        """Each example's ``x op= other``, in place; for examples of one number, what
        NumPy scalars do (a new value), or the loop where they may be 0-d arrays (which
        update in place, their views with them)."""
        _check(other)
        if self.ndim == 0:
            if not self.scalar:
                raise NotBatchable("an in-place update of what may be 0-d arrays")
            return operator(self, other)  # a NumPy scalar's ``op=`` makes a new one
        if _ndim(other) > self.ndim:
            raise NotBatchable("an in-place update by a value of more dimensions")
        if ufunc is np.power:  # the array operator's shortcuts (see _operator_power)
            if isinstance(other, Batched) and other.ndim == 0:
                raise NotBatchable("an array raised in place to a batched number")
            value = self.value
            value **= _lift(other, self.ndim)
            return self
        ufunc(self.value, _lift(other, self.ndim), out=self.value)
        return self

    return update


for _name, _ufunc in {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power,
    "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
    "lshift": np.left_shift, "rshift": np.right_shift,
}.items():  # fmt: skip
    setattr(Batched, f"__i{_name}__", _in_place(_ufunc, getattr(Batched, f"__{_name}__")))
for _name, _ufunc in {
    "lt": np.less, "le": np.less_equal, "eq": np.equal, "ne": np.not_equal,
    "gt": np.greater, "ge": np.greater_equal,
}.items():  # fmt: skip
    setattr(Batched, f"__{_name}__", _binary(_ufunc)[0])


# the parts of a rule


def _as_scalars(x: Batched) -> Batched:
    """A ufunc's result: of examples of one number, NumPy scalars."""
    x.scalar = x.value.ndim == 1
    return x


def _check(x: Any) -> None:
    """Only batches, NumPy arrays and numbers meet a batch: anything else (a list that
    may hold batches, another library's array) is left to the loop."""
    if not isinstance(x, (Batched, np.ndarray, *_SCALAR_TYPES)):
        raise NotBatchable(f"a {type(x).__name__} meets a batched value")


def _ndim(x: Any) -> int:
    return x.ndim if isinstance(x, Batched) else np.ndim(x)


def _lift(x: Any, ndim: int) -> Any:
    """``x`` ready to broadcast with examples of ``ndim`` dimensions: a batch gets 1s
    after its batch axis (broadcasting goes from the right); the rest is left as it is."""
    if not isinstance(x, Batched):
        return x
    extra = ndim - x.ndim
    return x.value.reshape((x.value.shape[0],) + (1,) * extra + x.shape) if extra else x.value


def _wrap(out: Any) -> Any:
    if isinstance(out, tuple):
        return tuple(Batched(o) for o in out)
    return Batched(out)


def _axis(axis: int, ndim: int) -> int:
    """An example's axis as the batch's (one further on)."""
    if (
        not isinstance(axis, (int, np.integer))
        or isinstance(axis, bool)
        or not -ndim <= axis < ndim
    ):
        raise NotBatchable(f"axis {axis!r} for {ndim} dimensions")
    return int(axis) % ndim + 1


def _axes(axis: Any, ndim: int) -> Any:
    """``axis`` (None: all of an example's, an int, or a tuple) as the batch's."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(_axis(a, ndim) for a in axis)
    return _axis(axis, ndim)


# the rules


def elementwise(fn: Callable, *inputs: Any, **kwargs: Any) -> Batched:
    """An elementwise function (a ufunc, ``np.where``, ``np.clip``) of batches and
    others."""
    for x in inputs:
        _check(x)
    ndim = max(_ndim(x) for x in inputs)
    return _wrap(fn(*(_lift(x, ndim) for x in inputs), **kwargs))


def _reduction(fn: Callable, axis_default: Any = None) -> Callable:
    """A reduction over an example's axes (all of them for ``axis=None``)."""

    def rule(a: Any, axis: Any = axis_default, *args: Any, **kwargs: Any) -> Batched:
        if not isinstance(a, Batched) or args:
            raise NotBatchable("a reduction of a value not batched, or by position")
        if kwargs.get("out") is not None or kwargs.get("where", True) is not True:
            raise NotBatchable("a reduction with out= or where=")
        for k, v in kwargs.items():
            if isinstance(v, Batched) or k not in ("dtype", "keepdims", "initial", "ddof", "out",
                                                   "where"):  # fmt: skip
                raise NotBatchable(f"a reduction with {k}=")
        kwargs.pop("out", None)
        kwargs.pop("where", None)
        return Batched(np.asarray(fn(a.value, axis=_axes(axis, a.ndim), **kwargs)), scalar=True)

    return rule


def _scan(fn: Callable) -> Callable:
    """``cumsum``-like functions along one axis (all flattened for ``axis=None``)."""

    def rule(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Batched:
        if not isinstance(a, Batched) or out is not None:
            raise NotBatchable("a scan of a value not batched, or with out=")
        if axis is None:
            a, axis = reshape(a, -1), 0
        return Batched(fn(a.value, axis=_axis(axis, a.ndim), dtype=dtype))

    return rule


def _arg_reduction(fn: Callable) -> Callable:
    """``argmax``/``argmin``: with ``axis=None``, the index into the flattened example."""

    def rule(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Batched:
        if not isinstance(a, Batched) or out is not None:
            raise NotBatchable("an argmax of a value not batched, or with out=")
        if axis is None:
            flat = fn(a.value.reshape(a.value.shape[0], -1), axis=1)
            return Batched(flat.reshape((-1,) + (1,) * a.ndim) if keepdims else flat)
        return Batched(fn(a.value, axis=_axis(axis, a.ndim), keepdims=keepdims))

    return rule


def _expand(x: Any) -> tuple[np.ndarray, bool]:
    """``x`` with a batch axis (of 1 when it is not batched), and whether it was."""
    if isinstance(x, Batched):
        return x.value, True
    _check(x)
    return np.asarray(x)[None], False


def matmul(x: Any, y: Any, **kwargs: Any) -> Batched:
    """``x @ y`` for each example: a 1-D operand is a row (left) or a column (right), the
    stacks of matrices broadcast after the batch axis."""
    if kwargs:
        raise NotBatchable("matmul with keywords")
    nx, ny = _ndim(x), _ndim(y)
    if nx == 0 or ny == 0:
        raise NotBatchable("matmul of a number")
    if not isinstance(y, Batched) and ny <= 2:  # one product: (B, ..., n) @ (n[, p])
        _check(y)
        return Batched(np.matmul(x.value, y))
    if not isinstance(x, Batched) and nx <= 2 and ny == 1:  # (B, n) @ x^T
        _check(x)
        return Batched(np.matmul(y.value, np.swapaxes(x, -1, -2) if nx == 2 else x))
    xv, _ = _expand(x)
    yv, _ = _expand(y)
    if nx == 1:
        xv = xv[..., None, :]
    if ny == 1:
        yv = yv[..., None]
    core = max(nx, ny, 2)
    xv = xv.reshape(xv.shape[:1] + (1,) * (core - max(nx, 2)) + xv.shape[1:])
    yv = yv.reshape(yv.shape[:1] + (1,) * (core - max(ny, 2)) + yv.shape[1:])
    out = np.matmul(xv, yv)
    if ny == 1:
        out = out[..., 0]
    if nx == 1:
        out = out[..., 0] if ny == 1 else out[..., 0, :]
    return Batched(out)


def dot(a: Any, b: Any, out: Any = None) -> Batched:
    """``np.dot``: a product by a number, or a matrix product of operands of at most two
    dimensions (higher ones are left to the loop)."""
    if out is not None:
        raise NotBatchable("dot with out=")
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return elementwise(np.multiply, a, b)
    if na > 2 or nb > 2:
        raise NotBatchable("dot of arrays of more than two dimensions")
    return matmul(a, b)


def vdot_like(fn: Callable) -> Callable:
    """``np.inner`` and ``np.outer`` of 1-D examples (others are left to the loop)."""

    def rule(a: Any, b: Any) -> Batched:
        if _ndim(a) != 1 or _ndim(b) != 1:
            raise NotBatchable(f"{fn.__name__} of arrays not 1-D")
        av, bv = _expand(a)[0], _expand(b)[0]
        if fn is np.inner:
            return Batched(np.einsum("bi,bi->b", av, bv))
        return Batched(av[:, :, None] * bv[:, None, :])

    return rule


def einsum(subscripts: Any, *operands: Any, **kwargs: Any) -> Batched:
    """``np.einsum`` with subscripts given as a string: a new letter for the batch axis,
    on every batched operand and on the result."""
    if not isinstance(subscripts, str) or kwargs.get("out") is not None:
        raise NotBatchable("einsum with operands interleaved with subscripts, or out=")
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise NotBatchable("einsum with a wrong number of operands")
    letters = [c for c in spec if c.isalpha()]
    if not arrow:  # implicit: the letters seen once, in order, after any ellipsis
        once = sorted(c for c in set(letters) if letters.count(c) == 1)
        output = ("..." if "..." in inputs else "") + "".join(once)
    free = [c for c in string.ascii_letters if c not in letters]
    b = free[0]
    new_terms, values = [], []
    for term, x in zip(terms, operands, strict=True):
        _check(x)
        if isinstance(x, Batched):
            new_terms.append(b + term)
            values.append(x.value)
        else:
            new_terms.append(term)
            values.append(x)
    kwargs.pop("out", None)
    spec = ",".join(new_terms) + "->" + b + output
    return Batched(np.asarray(np.einsum(spec, *values, **kwargs)))


def reshape(a: Any, shape: Any = None, order: str = "C", **kwargs: Any) -> Batched:
    """An example reshaped (C order: the batch axis stays first)."""
    shape = kwargs.pop("newshape", shape)
    if not isinstance(a, Batched) or order != "C" or kwargs or isinstance(shape, Batched):
        raise NotBatchable("reshape of a value not batched, or not in C order")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return Batched(a.value.reshape((a.value.shape[0], *shape)))


def ravel(a: Any, order: str = "C") -> Batched:
    """An example flattened: a view where it is C-contiguous, a copy otherwise (as
    NumPy's ``ravel``, where reshaping a batch of strided vectors would give a view)."""
    if order not in ("C", "A", "K"):
        raise NotBatchable("ravel in Fortran order")
    flat = reshape(a, -1)
    if a.value[0].flags.c_contiguous:
        return flat
    if order != "C":
        raise NotBatchable("ravel in memory order of examples that are not contiguous")
    return Batched(flat.value.copy())


def transpose(a: Any, axes: Any = None) -> Batched:
    if not isinstance(a, Batched):
        raise NotBatchable("transpose of a value not batched")
    if axes is None:
        order = tuple(range(a.ndim, 0, -1))
    else:
        order = tuple(_axis(i, a.ndim) for i in axes)
    return Batched(a.value.transpose((0, *order)))


def swapaxes(a: Any, axis1: int, axis2: int) -> Batched:
    if not isinstance(a, Batched):
        raise NotBatchable("swapaxes of a value not batched")
    return Batched(a.value.swapaxes(_axis(axis1, a.ndim), _axis(axis2, a.ndim)))


def moveaxis(a: Any, source: Any, destination: Any) -> Batched:
    if not isinstance(a, Batched):
        raise NotBatchable("moveaxis of a value not batched")
    return Batched(np.moveaxis(a.value, _axes(source, a.ndim), _axes(destination, a.ndim)))


def squeeze(a: Any, axis: Any = None) -> Batched:
    if not isinstance(a, Batched):
        raise NotBatchable("squeeze of a value not batched")
    if axis is None:
        axis = tuple(i for i, n in enumerate(a.shape) if n == 1)
    return Batched(np.squeeze(a.value, _axes(axis, a.ndim)))


def expand_dims(a: Any, axis: Any) -> Batched:
    if not isinstance(a, Batched):
        raise NotBatchable("expand_dims of a value not batched")
    axes = axis if isinstance(axis, tuple) else (axis,)
    return Batched(np.expand_dims(a.value, _axes(tuple(axes), a.ndim + len(axes))))


def broadcast_to(array: Any, shape: Any, subok: bool = False) -> Batched:
    if not isinstance(array, Batched) or isinstance(shape, Batched):
        raise NotBatchable("broadcast_to of a value not batched")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    lifted = _lift(array, len(shape)) if len(shape) >= array.ndim else array.value
    return Batched(np.broadcast_to(lifted, (array.value.shape[0], *shape)))


def _joined(fn: Callable, result_extra: int) -> Callable:
    """``np.stack`` (``result_extra=1``) and ``np.concatenate`` (0) of batches and
    others: the others repeated for each example."""

    def rule(arrays: Any, axis: int = 0, **kwargs: Any) -> Batched:
        if kwargs.get("out") is not None or not isinstance(arrays, (list, tuple)):
            raise NotBatchable(f"{fn.__name__} with out= or of an array")
        kwargs.pop("out", None)
        batched = [x for x in arrays if isinstance(x, Batched)]
        for x in arrays:
            _check(x)
        n = batched[0].value.shape[0]
        values = [
            x.value if isinstance(x, Batched) else np.broadcast_to(x, (n, *np.shape(x)))
            for x in arrays
        ]
        if axis is None:
            values, axis = [v.reshape(n, -1) for v in values], 0
        return Batched(fn(values, axis=_axis(axis, batched[0].ndim + result_extra), **kwargs))

    return rule


def _like(fn: Callable) -> Callable:
    """``np.zeros_like`` and the like: a new batch of the same shapes."""

    def rule(a: Any, *args: Any, **kwargs: Any) -> Batched:
        if kwargs.get("shape") is not None or any(isinstance(v, Batched) for v in args):
            raise NotBatchable(f"{fn.__name__} with shape= or a batched fill")
        return Batched(fn(a.value, *args, **kwargs))

    return rule


def _ask(fn: Callable) -> Callable:
    """``np.shape``, ``np.ndim``, ``np.size``: what one example answers."""

    def rule(a: Any, *args: Any) -> Any:
        return fn(np.empty(a.shape, dtype=a.dtype), *args)

    return rule


def _copy(a: Any, order: str = "K", subok: bool = False) -> Batched:
    return a.copy()


def _astype(x: Any, dtype: Any, /, *, copy: bool = True, **kwargs: Any) -> Batched:
    return x.astype(dtype, copy=copy)


def _per_matrix(fn: Callable) -> Callable:
    """``np.triu``/``np.tril`` of examples of at least two dimensions (they act on the
    last two axes)."""

    def rule(m: Any, k: int = 0) -> Batched:
        if not isinstance(m, Batched) or m.ndim < 2:
            raise NotBatchable(f"{fn.__name__} of an example not a matrix")
        return Batched(fn(m.value, k))

    return rule


def _where(condition: Any, *xy: Any) -> Batched:
    if len(xy) != 2:
        raise NotBatchable("np.where with one argument")
    return elementwise(np.where, condition, *xy)


def _clip(a: Any, a_min: Any = None, a_max: Any = None, **kwargs: Any) -> Batched:
    if kwargs:
        raise NotBatchable("clip with keywords")
    inputs = [x for x in (a, a_min, a_max) if x is not None]
    ndim = max(_ndim(x) for x in inputs)
    for x in inputs:
        _check(x)
    lo, hi = (None if v is None else _lift(v, ndim) for v in (a_min, a_max))
    return Batched(np.clip(_lift(a, ndim), lo, hi))


RULES: dict[Callable, Callable] = {
    np.sum: _reduction(np.sum), np.mean: _reduction(np.mean), np.prod: _reduction(np.prod),
    rt.np_sum: _reduction(np.sum), rt.np_mean: _reduction(np.mean),  # generated code's
    np.max: _reduction(np.max), np.min: _reduction(np.min), np.amax: _reduction(np.max),
    np.amin: _reduction(np.min), np.std: _reduction(np.std), np.var: _reduction(np.var),
    np.any: _reduction(np.any), np.all: _reduction(np.all), np.nansum: _reduction(np.nansum),
    np.cumsum: _scan(np.cumsum), np.cumprod: _scan(np.cumprod),
    np.argmax: _arg_reduction(np.argmax), np.argmin: _arg_reduction(np.argmin),
    np.dot: dot, np.matmul: matmul, np.inner: vdot_like(np.inner),
    np.outer: vdot_like(np.outer), np.einsum: einsum,
    np.reshape: reshape, np.transpose: transpose, np.swapaxes: swapaxes,
    np.moveaxis: moveaxis, np.squeeze: squeeze, np.expand_dims: expand_dims,
    np.broadcast_to: broadcast_to, np.ravel: ravel,
    np.stack: _joined(np.stack, 1), np.concatenate: _joined(np.concatenate, 0),
    np.zeros_like: _like(np.zeros_like), np.ones_like: _like(np.ones_like),
    np.empty_like: _like(np.empty_like), np.full_like: _like(np.full_like),
    np.shape: _ask(np.shape), np.ndim: _ask(np.ndim), np.size: _ask(np.size),
    np.copy: _copy, np.astype: _astype, np.where: _where, np.clip: _clip,
    np.round: lambda a, decimals=0: Batched(np.round(a.value, decimals)),
    np.triu: _per_matrix(np.triu), np.tril: _per_matrix(np.tril),
}  # fmt: skip


# indexing


def _index_layout(index: Any, x: Batched) -> tuple[tuple, int]:
    """The index of the batch for an example's ``index``, and where NumPy puts the batch
    axis in its result (0 unless advanced indices apart from each other go first)."""
    parts = index if isinstance(index, tuple) else (index,)
    kinds = []
    advanced_shapes = []
    for p in parts:
        if p is None or p is Ellipsis or isinstance(p, slice):
            if isinstance(p, slice) and any(
                isinstance(v, Batched) for v in (p.start, p.stop, p.step)
            ):
                raise NotBatchable("a slice with batched bounds")
            kinds.append("basic")
        elif isinstance(p, (bool, np.bool_, Batched)):
            raise NotBatchable("an index that is a batch or a Python bool")
        elif isinstance(p, (int, np.integer)):
            kinds.append("int")
            advanced_shapes.append(())
        elif isinstance(p, (list, np.ndarray)):
            a = np.asarray(p)
            if a.dtype == bool:
                advanced_shapes.append((int(np.count_nonzero(a)),))
            elif a.dtype.kind in "iu":
                advanced_shapes.append(a.shape)
            else:
                raise NotBatchable("an index array of neither integers nor booleans")
            kinds.append("array")
        else:
            raise NotBatchable(f"an index of type {type(p).__name__}")
    full = (slice(None), *parts)
    if "array" not in kinds:
        return full, 0
    where = [i for i, k in enumerate(kinds) if k != "basic"]
    if where[-1] - where[0] + 1 == len(where):  # adjacent: their axes stay in place
        return full, 0
    return full, len(np.broadcast_shapes(*advanced_shapes))


def _placed(value: Any, ndim: int, moved: int) -> Any:
    """``value`` (each example's, of at most ``ndim`` dimensions) laid out to broadcast
    with a batch indexed by ``_index_layout``'s index: its batch axis (of 1 when it is
    not batched) at ``moved``. Where advanced indices apart put their axes before the
    batch's, even a value that is not batched must have its axes placed around it, or it
    would broadcast against the batch axis."""
    if not isinstance(value, Batched):
        if moved == 0:
            return value
        value = Batched(np.asarray(value)[None])
    return np.moveaxis(_lift(value, ndim), 0, moved)


def _batch_index(d: Any, index: Any, g: Any) -> Batched:
    """A new batch ``d`` with ``g`` added into ``d[index]`` of each example (positions
    named twice add up)."""
    dv = d.value.copy() if isinstance(d, Batched) else None
    n = d.value.shape[0] if isinstance(d, Batched) else g.value.shape[0]
    probe = d if isinstance(d, Batched) else Batched(np.empty((1, *np.shape(d))))
    full, moved = _index_layout(index, probe)
    if dv is None:
        dv = np.array(np.broadcast_to(d, (n, *np.shape(d))))
    target_shape = dv[full].shape
    _check(g)
    np.add.at(dv, full, np.broadcast_to(_placed(g, len(target_shape) - 1, moved), target_shape))
    return Batched(dv)


# batching versions of runtime helpers that generated gradients call


def _matmul_lhs(g: Any, x: Any, y: Any) -> Any:
    """``rt.matmul_lhs`` of batches: ``g @ y^T`` for each example, summed to ``x``."""
    if not any(isinstance(v, Batched) for v in (g, x, y)):
        return rt.matmul_lhs(g, x, y)
    if x.ndim == 1 and y.ndim == 1:
        return g * y
    if y.ndim == 1:
        return rt.unbroadcast(expand_dims(g, -1) * y, x) if x.ndim > 1 else g * y
    gg = expand_dims(g, -2) if x.ndim == 1 else g
    d = matmul(gg, swapaxes(y, -1, -2) if isinstance(y, Batched) else np.swapaxes(y, -1, -2))
    return rt.unbroadcast(d[..., 0, :] if x.ndim == 1 else d, x)


def _matmul_rhs(g: Any, x: Any, y: Any) -> Any:
    """``rt.matmul_rhs`` of batches: ``x^T @ g`` for each example, summed to ``y``."""
    if not any(isinstance(v, Batched) for v in (g, x, y)):
        return rt.matmul_rhs(g, x, y)
    if x.ndim == 1 and y.ndim == 1:
        return g * x
    if x.ndim == 1:
        return rt.unbroadcast(expand_dims(x, -1) * expand_dims(g, -2), y)
    gg = expand_dims(g, -1) if y.ndim == 1 else g
    d = matmul(swapaxes(x, -1, -2) if isinstance(x, Batched) else np.swapaxes(x, -1, -2), gg)
    return rt.unbroadcast(d[..., 0] if y.ndim == 1 else d, y)


def _index_add(d: Any, idx: Any, g: Any) -> Any:
    """``rt.index_add`` of batches: a new batch (the examples' adjoints are the
    batch's own, so nothing outside sees the difference)."""
    if isinstance(d, (dict, list, tuple)) or not (isinstance(d, Batched) or isinstance(g, Batched)):
        return rt.index_add(d, idx, g)
    return _batch_index(d, idx, g)


def _index_grad(x: Any, idx: Any, g: Any) -> Any:
    if isinstance(x, (dict, list, tuple)) or not isinstance(g, Batched):
        return rt.index_grad(x, idx, g)
    return _batch_index(np.zeros(x.shape, dtype=x.dtype), idx, g)


def _iteration_grad(g: Any, ans: Any, x: Any) -> Any:
    if isinstance(x, Batched):
        raise NotBatchable("the gradient of a batch unpacked into its rows")
    return rt.iteration_grad(g, ans, x)


def _power_slope(x: Any, y: Any) -> Any:
    """``rt.power_slope`` of batches: ``y * x ** (y - 1)``, 0 where ``y`` is 0."""
    if not (isinstance(x, Batched) or isinstance(y, Batched)):
        return rt.power_slope(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = y * x ** (y - 1)
    return np.where(y == 0, 0.0, slope)


class BatchedRuntime(types.SimpleNamespace):
    """What generated gradients see as ``rt`` while they run on batches: the helpers
    that work on batches as they are (they reach arrays only through the NumPy functions
    and methods ``Batched`` has rules for), batching versions of a few others, and
    ``NotBatchable`` for every other one."""

    SAFE = frozenset({
        "unbroadcast", "unreduce", "unreduce_times", "size", "zeros_like", "acc", "path_key",
        "Iterations",
        "Diverged", "keep_dims", "reshape_like", "cast_like", "broadcast_like", "extreme_grad",
        "np_sum", "np_mean",  # (np.sum and np.mean, which Batched has rules for)
        "receiver", "operands", "arguments",  # (checks that an object is no user's)
        "unpacked", "reversible",  # (a batch iterates as its examples do)
        "augmented",  # (an example's shape and dtype)
    })  # fmt: skip

    def __init__(self) -> None:
        super().__init__(
            matmul_lhs=_matmul_lhs, matmul_rhs=_matmul_rhs,
            index_add=_index_add, index_grad=_index_grad, power_slope=_power_slope,
            iteration_grad=_iteration_grad,
        )  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        if name in self.SAFE:
            return getattr(rt, name)
        raise NotBatchable(f"rt.{name} has no batching version")


BATCHED_RT = BatchedRuntime()


def with_batched_runtime(fn: types.FunctionType) -> types.FunctionType:
    """A generated function whose ``rt`` is ``BATCHED_RT`` (and whose other free names
    and globals are its own)."""
    cells = tuple(
        types.CellType(BATCHED_RT) if name == "rt" else cell
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True)
    )
    if "rt" in fn.__code__.co_names and "rt" not in fn.__code__.co_freevars:
        raise NotBatchable("a generated function taking rt from its globals")
    out = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, cells)
    out.__kwdefaults__ = fn.__kwdefaults__
    return out


# batches in and out of a mapped function


def leaves(tree: Any) -> list:
    """The leaves of nested tuples, lists and dicts."""
    if isinstance(tree, (tuple, list)):
        return [leaf for t in tree for leaf in leaves(t)]
    if isinstance(tree, dict):
        return [leaf for t in tree.values() for leaf in leaves(t)]
    return [tree]


def tree_map(f: Callable, tree: Any) -> Any:
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(tree_map(f, t) for t in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(f, t) for t in tree)
    if isinstance(tree, dict):
        return {k: tree_map(f, v) for k, v in tree.items()}
    return f(tree)


def batch_argument(a: Any, axis: int | None) -> Any:
    """A mapped argument as batches (its arrays' axis ``axis`` first), a shared one as it
    is; their arrays read-only, so that an update of the caller's arrays fails and the
    loop makes it instead (a shared one is updated once per example; and a batched run
    given up after an update would leave it made twice). Lists, dicts and objects
    shared by the examples are left to the loop (an update of one would be made once,
    not once per example)."""

    def leaf(x: Any) -> Any:
        if axis is None:
            if type(x) is np.ndarray:
                view = x.view()
                view.flags.writeable = False
                return view
            if isinstance(x, (*_SCALAR_TYPES, str, type(None))):
                return x
            raise NotBatchable(f"a shared {type(x).__name__}")
        if type(x) is not np.ndarray:
            raise NotBatchable(f"a mapped {type(x).__name__}")
        view = np.moveaxis(x, axis, 0)
        view.flags.writeable = False  # an update of the caller's array is left to the loop
        return Batched(view)

    if axis is None and any(isinstance(t, (list, dict)) for t in _containers(a)):
        raise NotBatchable("a shared list or dict")
    return tree_map(leaf, a)


def _containers(tree: Any) -> list:
    if isinstance(tree, (tuple, list, dict)):
        inner = tree.values() if isinstance(tree, dict) else tree
        return [tree, *(c for t in inner for c in _containers(t))]
    return []


def random_state() -> tuple:
    """NumPy's global random state: a batched run that draws from it (one draw for all
    the examples, not one each) is left to the loop."""
    return np.random.get_state()


def same_random_state(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def stack_result(out: Any, axes: Any, shared: dict) -> Any:
    """A batched run's result as the loop would stack the examples' results along
    ``axes`` (an int, None for a result every example shares, or one per part of a
    tuple); ``shared`` maps the read-only views of shared arrays back to the caller's."""
    if isinstance(axes, (tuple, list)):
        if not isinstance(out, (tuple, list)) or len(axes) != len(out):
            raise NotBatchable("out_axes as a tuple for a result that is not one")
        return type(out)(stack_result(o, a, shared) for o, a in zip(out, axes, strict=True))

    def leaf(x: Any) -> Any:
        if axes is None:
            if isinstance(x, Batched):
                raise NotBatchable("a shared result that is batched")
            return shared.get(id(x), x)
        if isinstance(x, Batched):
            value = x.value
        elif isinstance(x, (np.ndarray, *_SCALAR_TYPES)):
            value = np.asarray(x)[None]
        else:
            raise NotBatchable(f"a result of type {type(x).__name__}")
        if not -value.ndim <= axes < value.ndim:
            raise NotBatchable("out_axes out of range")
        return _Stacked(value, axes)

    return _plain_tree_map(leaf, out)


class _Stacked(types.SimpleNamespace):
    """A result's examples on a first axis (of 1 when it is every example's), and the
    axis the caller wants them on."""

    def __init__(self, value: np.ndarray, axis: int):
        super().__init__(value=value, axis=axis)


def _plain_tree_map(f: Callable, tree: Any) -> Any:
    """``f`` of the leaves, in tuples, lists and dicts built as the loop's stacking builds
    them."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(_plain_tree_map(f, t) for t in tree)
    if isinstance(tree, dict):
        return {k: _plain_tree_map(f, v) for k, v in tree.items()}
    return f(tree)


def finish(stacked: Any, size: int) -> Any:
    """The results of ``stack_result`` as new C-ordered arrays (each example's result
    repeated where it is not batched), as the loop's ``np.stack`` makes them."""

    def leaf(x: Any) -> Any:
        if not isinstance(x, _Stacked):
            return x
        value = np.broadcast_to(x.value, (size, *x.value.shape[1:]))
        return np.array(np.moveaxis(value, 0, x.axis), order="C")

    return _plain_tree_map(leaf, stacked)


def run(
    fn: Callable, args: tuple, kwargs: dict, axes: list, size: int, out_axes: Any,
    call: Callable | None = None,
) -> tuple[bool, Any]:  # fmt: skip
    """``fn`` run once on the batch: ``(True, result)`` stacked as the loop would stack
    it, or ``(False, None)`` when some operation has no batching rule (or fails: the
    loop then gives the result, or the error). ``call`` runs ``fn`` on the batched
    arguments in its own way (a gradient's)."""
    state = random_state()
    shared: dict = {}
    try:
        batched = []
        for a, axis in zip(args, axes, strict=True):
            b = batch_argument(a, axis)
            batched.append(b)
            if axis is None:
                for view, original in zip(leaves(b), leaves(a), strict=True):
                    if view is not original:
                        shared[id(view)] = original
        named = {k: batch_argument(v, None) for k, v in kwargs.items()}
        out = call(tuple(batched)) if call is not None else fn(*batched, **named)
        result = finish(stack_result(out, out_axes, shared), size)
    except Exception:  # no rule, or an error: the loop answers (or raises) as it does
        np.random.set_state(state)
        return False, None
    if not same_random_state(state, random_state()):  # one draw for all the examples
        np.random.set_state(state)
        return False, None
    return True, result


# a gradient (``sd.grad``) run on batches


def _gradient_like(d: Any, x: Any) -> Any:
    """``rt.grad_like`` for the batch: the gradient of each example, shaped and typed
    like its argument ``x`` (an example's)."""
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        raise NotBatchable("a named tuple argument")
    if isinstance(x, (tuple, list)):
        d = [None] * len(x) if d is None else d
        if not isinstance(d, (tuple, list)) or len(d) != len(x):
            raise NotBatchable("a container gradient of another length")
        return type(x)(_gradient_like(a, b) for a, b in zip(d, x, strict=True))
    if isinstance(x, dict):
        d = {} if d is None else d
        if not isinstance(d, dict):
            raise NotBatchable("a dict argument's gradient that is not a dict")
        return {k: _gradient_like(d.get(k), v) for k, v in x.items()}
    if type(x) is float:
        shape, dtype = (), np.dtype(np.float64)
    elif type(x) is np.ndarray or isinstance(x, np.floating):
        shape, dtype = x.shape, x.dtype
    else:
        raise NotBatchable(f"a gradient for a {type(x).__name__}")
    if dtype.kind != "f":
        raise NotBatchable("a gradient for a non-float argument")
    if d is None:
        return np.zeros(shape, dtype=dtype)
    if isinstance(d, Batched):
        if d.shape != shape:
            raise NotBatchable("a batched gradient of another shape")
        return Batched(d.value.astype(dtype, copy=False))
    _check(d)
    if np.shape(d) != shape:
        raise NotBatchable("a gradient of another shape")
    return np.asarray(d, dtype=dtype)


def gradient_call(gradient: Any, example: tuple, last: tuple, size: int) -> Callable:
    """How ``run`` calls ``sd.grad(fn)`` (``gradient``) on the batch: the primal and
    adjoint compiled for one example (``example``: the first), with ``BATCHED_RT``, the
    gradients then stacked as ``rt.grad_like`` makes each. What ``sd.source`` and
    ``sd.paths`` show afterwards is what the loop leaves (``last``: the last example)."""
    target = gradient._target
    if (
        gradient._options
        or target._self is not None
        or target.starred
        or target.dialect.on_tensors
        or rt.CHECKING[0]
        or rt.KINKS[0] is not None
    ):
        raise NotBatchable("a gradient with options, of a method, or of *args")
    values = target.values(example, {})
    unit, order = target.unit(values, example, {})
    if unit.calls or unit.updated or unit.enters:
        raise NotBatchable("a gradient calling compiled functions or updating its arguments")

    def call(batched: tuple) -> Any:
        saved: dict = {}
        path: list = []
        value = with_batched_runtime(unit.primal)(saved, path, *batched)
        pkey = rt.path_key(path) if path else ()
        if getattr(value, "shape", ()) != () or not isinstance(
            value, (Batched, *_SCALAR_TYPES, np.ndarray)
        ):
            raise NotBatchable("a result that is not a number")
        adjoint = unit.adjoint(pkey, checked=False)[0]
        grads = with_batched_runtime(adjoint)(saved, 1.0)
        out = [_gradient_like(grads[i], v) for i, v in zip(order, values, strict=True)]
        unit.count(pkey)[0] += size
        target.last = (unit, pkey, (), False)
        target.last_call = (last, {})
        grads_out = tuple(out) if target.multiple else out[0]
        return (value, grads_out) if gradient._with_value else grads_out

    return call
