"""The array module of a computation, and the few helpers array libraries differ on.

``array_module(*xs)`` finds the module of the arrays among ``xs`` with array-api-compat's
``array_namespace``, so NumPy, CuPy and any Array-API library (array-api-strict, ...) go
through one mechanism. NumPy arrays and Python numbers take a fast path that returns
``numpy`` itself (this runs on every call of a compiled gradient). For NumPy and CuPy the
library's own module is returned rather than array-api-compat's wrapper of it, so code
written against NumPy's API keeps NumPy's meaning on the GPU; any other library gives
its Array-API namespace.

The helpers that the libraries differ on live here and nowhere else:

* ``counterpart(xp, name)``: the name under which ``xp`` has NumPy's function ``name``
  (``arccos`` is ``acos`` in the Array API standard), the one table of such names;
* ``standard(x)``: the Array-API namespace of ``x``'s library (array-api-compat's
  wrapper for NumPy and CuPy), for helpers written against the standard alone;
* ``scatter_add(d, idx, g)``: ``d[idx] += g`` where ``idx`` may repeat positions
  (``np.add.at``, ``cupyx.scatter_add``, ``.at[].add`` or a loop);
* ``last_writes(shape, idx)``: which entry of ``x[idx]`` holds each position's last
  write, as NumPy resolves a repeated index (CuPy leaves the winner undefined);
* ``astype`` and ``copy``: array methods that are functions in the standard;
* ``to_numpy``, ``to_cupy``: moving arrays between devices;
* ``sample``: random numbers, drawn on the host from a NumPy generator (so a seed gives
  the same numbers on every device) and put where they are needed.

CuPy is imported only when a CuPy array is seen or the CUDA device is asked for, so
``import srcdiff`` never imports it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

# NumPy's names of functions that the Array API standard names otherwise. A backend
# module without NumPy's name gets the standard's (``np.arccos`` -> ``xp.acos``).
STANDARD_NAMES = {
    "absolute": "abs",
    "arccos": "acos",
    "arccosh": "acosh",
    "arcsin": "asin",
    "arcsinh": "asinh",
    "arctan": "atan",
    "arctan2": "atan2",
    "arctanh": "atanh",
    "amax": "max",
    "amin": "min",
    "bool_": "bool",
    "concatenate": "concat",
    "cumprod": "cumulative_prod",
    "cumsum": "cumulative_sum",
    "invert": "bitwise_invert",
    "left_shift": "bitwise_left_shift",
    "power": "pow",
    "right_shift": "bitwise_right_shift",
    "true_divide": "divide",
}

# array-api-compat's wrappers of libraries whose own module has NumPy's API.
_NATIVE = {"array_api_compat.numpy": "numpy", "array_api_compat.cupy": "cupy"}

_SKIP = object()  # not an array, or a NumPy one: nothing to learn from it
_NESTED = object()  # a container: look inside
_FIELDS = object()  # an object of a user class: look into its fields
_BY_TYPE: dict[type, Any] = {
    np.ndarray: _SKIP,
    float: _SKIP,
    int: _SKIP,
    bool: _SKIP,
    complex: _SKIP,
    str: _SKIP,
    type(None): _SKIP,
    slice: _SKIP,
    type(Ellipsis): _SKIP,
    list: _NESTED,
    tuple: _NESTED,
    dict: _NESTED,
}


# which objects hold their state in fields, and their names: installed by the runtime,
# which knows user objects (this module imports nothing of srcdiff)
_RECORDS: list[Any] = [lambda cls: False, lambda x: []]


def install_records(is_record_class: Any, fields: Any) -> None:
    """Let ``array_module`` look into the fields of objects of user classes:
    ``is_record_class(cls)`` says whether a class's objects are such, ``fields(x)``
    names an object's fields."""
    _RECORDS[:] = [is_record_class, fields]


def array_module(*xs: Any) -> ModuleType:
    """The module of the arrays among ``xs`` (looking into lists, tuples, dicts and the
    fields of objects of user classes): ``numpy`` when there are none but NumPy arrays
    and numbers."""
    return _module_of(xs, None)


def _module_of(xs: Any, inside: set[int] | None) -> ModuleType:
    """``array_module`` of ``xs``, not looking again into the objects ``inside`` (ids of
    those being looked into: objects may refer to each other)."""
    xp: Any = np
    for x in xs:
        cls = type(x)
        if cls is np.ndarray or cls is float:
            continue
        found = _BY_TYPE.get(cls)
        if found is None:
            found = _learn(cls, x)
        if found is _SKIP:
            continue
        if found is _NESTED or found is _FIELDS:
            if inside is None:  # made only where there is something to look into
                inside = set()
            elif id(x) in inside:
                continue
            inside.add(id(x))
            if found is _FIELDS:
                found = _module_of([getattr(x, k, None) for k in _RECORDS[1](x)], inside)
            else:
                found = _module_of(x.values() if isinstance(x, dict) else x, inside)
            inside.discard(id(x))
            if found is np:
                continue
        if xp is np:
            xp = found
        elif found is not xp:
            raise TypeError(
                f"arrays of two libraries meet in one computation: "
                f"{xp.__name__} and {found.__name__}; convert one of them"
            )
    return xp


def _learn(cls: type, x: Any) -> Any:
    """What ``array_module`` makes of values of type ``cls`` (remembered per type)."""
    if issubclass(cls, (np.generic, type)):  # NumPy scalars, and classes (dtypes)
        found = _SKIP
    elif issubclass(cls, (list, tuple, dict)):
        found = _NESTED
    else:
        import array_api_compat

        if array_api_compat.is_array_api_obj(x) and not isinstance(x, np.ndarray):
            found = native(array_api_compat.array_namespace(x))
        elif _RECORDS[0](cls):  # a dataclass, or a plain object: its fields' arrays
            found = _FIELDS
        else:
            found = _SKIP
    _BY_TYPE[cls] = found
    return found


def native(namespace: ModuleType) -> ModuleType:
    """The library's own module for array-api-compat's wrapper of NumPy or CuPy."""
    name = _NATIVE.get(namespace.__name__)
    return namespace if name is None else importlib.import_module(name)


def standard(*xs: Any) -> ModuleType:
    """The Array-API namespace of the arrays among ``xs`` (array-api-compat's wrapper for
    NumPy and CuPy): for helpers that use only the standard's functions."""
    import array_api_compat

    return array_api_compat.array_namespace(*xs)


def is_numpy(xp: Any) -> bool:
    return xp is np


def counterpart(xp: ModuleType, name: str) -> str | None:
    """The name under which ``xp`` has NumPy's function ``name`` (None if it has none)."""
    if hasattr(xp, name):
        return name
    other = STANDARD_NAMES.get(name)
    return other if other is not None and hasattr(xp, other) else None


_KINDS = (
    ("b", "bool"),
    ("i", "signed integer"),
    ("u", "unsigned integer"),
    ("f", "real floating"),
    ("c", "complex floating"),
)


def dtype_kind(x: Any) -> str:
    """NumPy's one-letter kind (``'f'``, ``'i'``, ``'u'``, ``'b'``, ``'c'``) of the dtype
    of the array ``x``."""
    kind = getattr(x.dtype, "kind", None)
    if kind is not None:
        return kind
    xp = standard(x)
    return next((k for k, name in _KINDS if xp.isdtype(x.dtype, name)), "?")


def device_of(x: Any) -> str:
    """``'cuda'`` for a CuPy array, ``'cpu'`` for anything else."""
    return "cuda" if type(x).__module__.startswith("cupy") else "cpu"


# ---- helpers the libraries differ on -------------------------------------------------------


def astype(x: Any, dtype: Any) -> Any:
    """``x`` in ``dtype`` (a method in NumPy and CuPy, a function in the standard)."""
    if hasattr(x, "astype"):
        return x.astype(dtype)
    return standard(x).astype(x, dtype)


def copy(x: Any, dtype: Any = None) -> Any:
    """A new array holding ``x`` (in ``dtype`` if given), never a view of it."""
    if isinstance(x, np.ndarray):
        return np.array(x, dtype=dtype, copy=True)
    return standard(x).asarray(x, dtype=dtype, copy=True)


def scatter_add(d: Any, idx: Any, g: Any) -> Any:
    """``d[idx] += g`` where the index ``idx`` may name a position several times, each
    time adding; in place where the library allows it. Returns the result."""
    if isinstance(d, np.ndarray):
        np.add.at(d, idx, g)
        return d
    if device_of(d) == "cuda":
        _cupy_at("add", d, idx, g)
        return d
    if hasattr(d, "at"):  # JAX-style immutable arrays
        return d.at[idx].add(g)
    return _scatter_add_loop(d, idx, g)


def last_writes(x: Any, idx: Any) -> Any:
    """For each entry of ``x[idx]`` (flat, in C order), the entry whose write a position
    of ``x`` keeps when ``x[idx] = v`` names it more than once: the last one, as NumPy
    assigns. CuPy leaves that winner undefined, so it is found here with a scatter-max,
    which is deterministic; a write or a gradient that follows it agrees with NumPy."""
    xp = array_module(x)
    shape = x[idx].shape
    ids = xp.reshape(xp.arange(int(np.prod(shape)), dtype=xp.int64), shape)
    last = xp.full(x.shape, -1, dtype=xp.int64)
    if isinstance(x, np.ndarray):
        last[idx] = ids  # NumPy keeps the last write
    elif device_of(x) == "cuda":
        _cupy_at("maximum", last, idx, ids)
    else:
        raise NotImplementedError(
            f"{xp.__name__} does not say which write to a repeated position wins: srcdiff "
            "cannot write x[idx] = v there with an index that may repeat a position"
        )
    return last[idx]


def _cupy_at(ufunc: str, d: Any, idx: Any, v: Any) -> None:
    """``cupy.<ufunc>.at(d, idx, v)`` (CuPy 13 on), else the older ``cupyx.scatter_<op>``."""
    import cupy

    at = getattr(getattr(cupy, ufunc), "at", None)
    if at is not None:
        at(d, idx, v)
    else:
        import cupyx

        getattr(cupyx, {"add": "scatter_add", "maximum": "scatter_max"}[ufunc])(d, idx, v)


def _scatter_add_loop(d: Any, idx: Any, g: Any) -> Any:
    """``scatter_add`` for libraries with no scatter: one position at a time, for an index
    made of integer arrays (or lists) only, as in ``x[i]`` or ``x[rows, cols]``."""
    xp = standard(d)
    parts = idx if isinstance(idx, tuple) else (idx,)
    if not all(isinstance(p, list) or hasattr(p, "shape") for p in parts):
        raise NotImplementedError(
            f"{xp.__name__} has no scatter-add: srcdiff adds into d[idx] one position at a "
            "time, for an index made of integer arrays only (as in x[i] or x[rows, cols])"
        )
    positions = np.broadcast_arrays(*(to_numpy(xp.asarray(p)) for p in parts))
    shape = positions[0].shape
    g = xp.broadcast_to(xp.asarray(g, dtype=d.dtype), shape + tuple(d.shape[len(parts) :]))
    for k in np.ndindex(*shape):
        where = (*(int(p[k]) for p in positions), ...)
        d[where] = d[where] + g[(*k, ...)]
    return d


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a NumPy array on the host (itself when it is one)."""
    if isinstance(x, np.ndarray):
        return x
    if device_of(x) == "cuda":
        return x.get()
    try:
        return np.from_dlpack(x)
    except (AttributeError, TypeError, RuntimeError, BufferError):
        return np.asarray(x)


def to_cupy(x: Any) -> Any:
    """``x`` as a CuPy array on the current GPU (itself when it is one)."""
    import cupy

    return cupy.asarray(x)


def dense(a: Any) -> bool:
    """Whether ``a``'s elements fill its memory without gaps or overlaps, in some order of
    its axes (a transpose does; a strided slice does not)."""
    expected = a.itemsize
    for stride, n in sorted(
        (abs(st), n) for n, st in zip(a.shape, a.strides, strict=True) if n != 1
    ):
        if stride != expected:
            return False
        expected *= n
    return True


def memory_order(a: Any) -> np.ndarray | None:
    """The (C-order) flat indices of ``a``'s elements in the order of their addresses,
    None where that is their order (a C-contiguous array)."""
    if a.flags.c_contiguous or a.size < 2:
        return None
    offsets = np.zeros((), dtype=np.int64)
    for n, stride in zip(a.shape, a.strides, strict=True):
        offsets = offsets[..., None] + np.arange(n, dtype=np.int64) * stride
    return np.argsort(offsets.reshape(-1), kind="stable")


def sample(
    rng: np.random.Generator,
    kind: str,
    shape: tuple[int, ...],
    dtype: Any = None,
    xp: ModuleType = np,
    into: Any = None,
    **params: Any,
) -> Any:
    """``rng.<kind>(size=shape, **params)`` (``standard_normal``, ``random``, ``uniform``,
    ``normal``, ...) in ``dtype``, as an array of ``xp``: drawn on the host, so a seed
    gives the same numbers on every device (srcdiff's Generator draws in ``dtype``, as
    PyTorch's does; a NumPy Generator in float64). ``into``: the array they will fill;
    where it is no C-contiguous array (a transposed or strided view) its elements take
    the draws in the order of their memory, one by one, as PyTorch fills such a tensor."""
    order = memory_order(into) if into is not None else None
    ours = getattr(rng, "draws_in_dtype", False)  # srcdiff's Generator: PyTorch's numbers
    if order is not None:
        if ours and kind == "normal":
            params["serial"] = True  # (not the vectorized fill of 16 numbers and more)
        if getattr(params.get("p"), "ndim", 0):  # bernoulli's probabilities, in that order
            params["p"] = np.broadcast_to(params["p"], shape).reshape(-1)[order]
        flat = sample(rng, kind, (len(order),), dtype, np, **params)
        values = np.empty_like(flat)
        values[order] = flat
        values = values.reshape(shape)
    elif ours:
        values = getattr(rng, kind)(size=shape, dtype=dtype, **params)
    else:
        values = getattr(rng, kind)(size=shape, **params)
    if dtype is not None:
        values = values.astype(dtype, copy=False)
    if xp is np:
        return values
    if xp.__name__ == "cupy":
        return to_cupy(values)
    return xp.asarray(values)
