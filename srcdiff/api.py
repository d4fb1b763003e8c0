"""The compiler's public entry points: grad, value_and_grad, differentiate, source,
register_vjp."""

from __future__ import annotations

import ast
import builtins
import contextlib
import dataclasses
import functools
import inspect
import keyword
import linecache
import re
import sys
import types
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import gast
import numpy as np

from . import batching
from . import runtime as rt
from .backend import array_module, device_of, dtype_kind
from .compiler.analyse import runs_as_one_example
from .compiler.cache import Dialect, Unit, unit_for
from .compiler.differentiate import explain
from .compiler.parse import parse
from .errors import STANDS_FOR, CompileError, generated_name
from .rules import registry
from .runtime.arrays import is_complex
from .runtime.calls import (
    LEAVES,
    STEP,
    BoundedCache,
    CallSite,
    Host,
    Step,
    own_signature,
    value_kind,
)
from .runtime.mutation import FINAL, GENERATED
from .runtime.objects import is_method_of_record, partial_pullback, record_pullback
from .runtime.tensor_methods import is_array

Wrt = int | str | tuple


def _share(a: Any, b: Any) -> bool:
    """True when two gradients are, or may be views of, one array."""
    if a is b:
        return hasattr(a, "copy")
    return (
        type(a) is np.ndarray
        and type(b) is np.ndarray
        and (a if a.base is None else a.base) is (b if b.base is None else b.base)
    )


def _entry(d: Any, element: int | None) -> Any:
    """The gradient of one entry of ``*args`` from the adjoint of the tuple (None: zero)."""
    if element is None or d is None:
        return d
    return d[element]


ARRAY_LIBRARIES = ("numpy", "cupy", "array_api_strict", "srcdiff", "jax", "torch")


def _check_real(v: Any, function: str, top: bool = True) -> None:
    """Refuse a differentiated argument that is an integer, a boolean or a complex
    number, holds complex numbers, or is a list, tuple or dict of integers alone
    (``[1, 2, 3]``, which ``np.array`` makes an integer array, whose gradient is zero):
    srcdiff differentiates real floats. An integer among floats, or in a part of its
    own (``(w, (2, 2))``, a shape), is a number like any other."""
    if isinstance(v, (list, tuple, dict)):
        items = list(v.values() if isinstance(v, dict) else v)
        for item in items:
            if isinstance(item, (list, tuple, dict)) or is_complex(item):
                _check_real(item, function, top=False)
        if top and _integers_alone(v):
            _check_real(items[0], function)
        return
    kind = _kind_of(v)
    if isinstance(v, (bool, int)) or kind in ("b", "i", "u"):
        raise TypeError(
            f"cannot differentiate {function} with respect to an integer or boolean "
            "argument: pass floats"
        )
    if is_complex(v):
        raise TypeError(
            f"cannot differentiate {function} with respect to a complex argument: srcdiff "
            "differentiates real-valued code (pass the real and imaginary parts as real "
            "arrays)"
        )


def _integers_alone(v: Any) -> bool:
    """Whether ``v`` is a list, tuple or dict of integers (or flags) alone: no gradient."""
    items = list(v.values() if isinstance(v, dict) else v)
    return bool(items) and all(isinstance(item, int) for item in items)


def _kind_of(v: Any) -> str | None:
    """NumPy's kind letter of an array's or NumPy scalar's dtype; None for other values
    (a class such as ``np.float32`` has a ``dtype`` attribute too)."""
    return dtype_kind(v) if hasattr(v, "dtype") and not isinstance(v, type) else None


def _check_array_type(v: Any, function: str) -> None:
    """Refuse a differentiated argument that is an array of a class of the user's (a
    subclass of NumPy's, or an object with ``__array__``) defining methods of its own
    (``sum``, ``mean``): compiled code gives its methods the array's derivatives. So is
    one whose operators are not arithmetic on its entries (``np.matrix``, a masked array)
    and an object that is neither an array nor a container of gradients (a class with
    ``__slots__``, ``__float__`` or ``__array__`` alone)."""
    cls = type(v)
    if not (rt.plain_operand_type(cls) or value_kind(v) == "any"
            or isinstance(v, (functools.partial, types.MethodType, Iterator))):  # fmt: skip
        raise CompileError(
            f"a differentiated argument of {cls.__qualname__}, which is neither an array nor "
            "a list, tuple, dict, dataclass or plain object of arrays",
            function=function,
            hint="pass np.asarray(v) (m.filled() for a masked array), or keep the object's "
            "arrays in its __dict__",
        )
    if (cls.__module__ or "").split(".")[0] in ARRAY_LIBRARIES or not (
        isinstance(v, np.ndarray) or hasattr(v, "__array__")
    ):
        return
    mro = cls.__mro__[: cls.__mro__.index(np.ndarray)] if isinstance(v, np.ndarray) else cls.__mro__
    own = sorted(
        k for c in mro for k, f in vars(c).items()
        if isinstance(f, types.FunctionType) and not k.startswith("__")
    )  # fmt: skip
    if own:
        raise CompileError(
            f"a differentiated argument of {cls.__qualname__}, an array of a class with "
            f"methods of its own ({', '.join(own)})",
            function=function,
            hint="pass np.asarray(v): srcdiff differentiates NumPy's arrays' methods",
        )


TENSORS = "tensors"  # the last entry of the key of a unit compiled for Tensor arguments


_PYTHON_SCALARS = frozenset({float, int, bool, type(None), str})


def _as_tensors(value: Any, graph: bool = False) -> Any:
    """What Tensor code returns: the arrays compiled code computed in place of its Tensors
    made Tensors again, in lists, tuples and dicts too; with ``graph`` (computed from
    Tensors that require grad), floating ones require grad, with a graph that a
    ``backward()`` cannot follow (``autograd.compiled_result``)."""
    if type(value) in _PYTHON_SCALARS:  # (loss.item(): a training step's usual result)
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(_as_tensors(v, graph) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(v, graph) for v in value)
    if isinstance(value, dict):
        return {k: _as_tensors(v, graph) for k, v in value.items()}
    if isinstance(value, (np.ndarray, np.generic)) or device_of(value) == "cuda":
        from .autograd import compiled_result
        from .tensor import Tensor

        tensor = Tensor._make(array_module(value).asarray(value))
        return compiled_result(tensor) if graph and dtype_kind(value) in "fc" else tensor
    return value


def _seed(value: Any, fn_name: str) -> Any:
    """The gradient of the result with respect to itself, for a scalar result."""
    if type(value) is float:
        return 1.0
    shape = getattr(value, "shape", None)
    if shape is None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return 1.0
        raise TypeError(
            f"{fn_name} must return a scalar to be differentiated, not {type(value).__name__}"
        )
    if shape == () and isinstance(value, (np.generic, np.ndarray)) and value.dtype.kind != "c":
        return _ONES.get(value.dtype.type, 1.0)  # a number for NumPy (see _ONES)
    if is_complex(value):
        raise TypeError(
            f"{fn_name} returned a complex value; srcdiff differentiates real-valued "
            "functions (return its real part, or abs())"
        )
    if shape == ():  # an array for libraries whose functions take arrays only
        return array_module(value).ones_like(value)
    size = 1
    for n in shape:
        size *= n
    if size != 1:
        raise ValueError(
            f"{fn_name} returned an array of shape {tuple(shape)}; srcdiff "
            "differentiates functions returning a scalar (reduce it first, "
            "e.g. with .sum())"
        )
    return array_module(value).ones_like(value)


def _tensor_module(values: tuple) -> Any:
    """The array module of the Tensors among ``values`` (a Module's, of its parameters):
    NumPy on 'cpu', CuPy on 'cuda'."""
    tensor = Host.tensor
    for v in values:
        if type(v) is not tensor and isinstance(v, _module_class()):
            v = next(iter(v.parameters()), None)
        if isinstance(v, tensor):
            data = v._data
            return np if type(data) is np.ndarray else array_module(data)
    return np


@functools.cache
def _module_class() -> type:
    from .nn import Module

    return Module


_CHECKING, _KINKS = rt.CHECKING, rt.KINKS  # the flags of check_finite and warn_kinks
_VERSION = registry._VERSION  # the rules' version, as registry.version() reads it
# the seed of a scalar result, by its type: NumPy's float64 one for a float64 (so that the
# adjoint divides by a Python zero as the primal did, into inf, not Python's
# ZeroDivisionError), a Python one for the others (which takes the arrays' dtype where it
# meets them, and keeps a float16 adjoint's scalars from overflowing before)
_ONES = {float: 1.0, np.float64: np.float64(1.0), np.float32: 1.0, np.float16: 1.0}


class _KeyMakers(dict):
    """``_KEYS[n](args)``: the types and shapes of ``n`` positional arguments, as one flat
    tuple (the key of ``_Target.fast``), by a function unrolled for ``n`` arguments
    (made on first use): twice as fast as a loop over them."""

    def __missing__(self, n: int) -> Callable[[tuple], tuple]:
        names = "".join(f"a{i}, " for i in range(n))
        parts = "".join(f"type(a{i}), getattr(a{i}, 'shape', None), " for i in range(n))
        text = f"def key(args):\n    ({names}) = args\n    return ({parts})\n"
        namespace: dict = {}
        exec(text, namespace)  # text made above, from n alone
        maker = self[n] = namespace["key"]
        return maker


_KEYS = _KeyMakers()


_NUMBERS = (float, int, bool, complex)  # the types whose values have no shape
_DISPATCH: dict[tuple, types.CodeType] = {}  # the code of each form of dispatcher


def _unseen(args: tuple) -> None:
    """``_Target.latest`` before a call was recorded: no call matches."""
    return None


def _dispatcher(
    target: _Target, unit: Unit, key: tuple, order: tuple[int, ...], dtypes: tuple
) -> Callable:
    """``_Target.run`` for calls whose positional arguments have the types and shapes
    ``key`` (see ``_KEYS``) and, arrays, the ``dtypes`` (an integer array is refused, a
    float32 one has its own unit), on ``unit``, which calls no compiled function and updates
    none of its arguments: the same steps, unrolled, with nothing looked up or checked
    twice. It returns ``(value, gradients)``, or None for calls of other arguments and
    calls ``run`` must take: with finiteness or kink checks on, rules registered since,
    or a global taken for a number holding something else now (``Unit.stale``)."""
    n = len(key) // 2
    kinds = tuple(
        "array" if t is np.ndarray else "number" if t in _NUMBERS else
        "shaped" if shape is not None else "other"
        for t, shape in zip(key[::2], key[1::2], strict=True)
    )  # fmt: skip
    wanted = tuple(zip(order, target.positions, strict=True))
    form = (kinds, wanted, target.multiple, unit.speculative, target._self is not None,
            bool(unit.number_globals))  # fmt: skip
    code = _DISPATCH.get(form)
    if code is None:
        code = _DISPATCH[form] = _dispatch_code(*form)
    paths: dict[tuple, tuple[Callable, list[int]]] = {}  # each path's adjoint and count

    def new_path(pkey: tuple) -> tuple[Callable, list[int]]:
        hit = paths[pkey] = (unit.adjoint(pkey, checked=False)[0], unit.count(pkey))
        return hit

    name = target.fn.__qualname__
    namespace = {
        "__builtins__": builtins, "target": target, "unit": unit, "primal": unit.primal,
        "path_primals": unit.path_primals, "Diverged": rt.Diverged,
        "paths": paths, "new_path": new_path, "path_key": rt.path_key,
        "STILL": unit.still, "FN": target.fn,
        "seed": lambda value: _seed(value, name), "ONES": _ONES,
        "grad_like": rt.grad_like, "distinct": _Target.distinct, "ndarray": np.ndarray,
        "CHECKING": _CHECKING, "KINKS": _KINKS, "VERSION": _VERSION, "V": _VERSION[0],
        **{f"T{i}": key[2 * i] for i in range(n)}, **{f"S{i}": key[2 * i + 1] for i in range(n)},
        **{f"D{i}": dtypes[i] for i in range(n)},
    }  # fmt: skip
    return types.FunctionType(code, namespace, "dispatch")


def _speculation(arguments: str, call: str) -> list[str]:
    """The lines of a dispatcher running the primal of the path the unit took last (see
    ``Unit.run_path``), given the ``arguments`` of a primal and the ``call``'s tuple:
    ``Unit.run_recent`` takes the call from the second path on, or when there is none."""
    return [
        "    recent = unit.recent",
        "    if recent:",
        "        saved = {}",
        "        path = []",
        "        try:",
        f"            value = path_primals[recent[0]][0](saved, path, {arguments})",
        "        except Diverged:",
        f"            value, saved, path = unit.run_recent({call}, first=1)",
        "        else:",
        "            unit.ran_path = True",
        "    else:",
        f"        value, saved, path = unit.run_recent({call})",
    ]


def _dispatch_code(
    kinds: tuple[str, ...],
    wanted: tuple[tuple[int, int], ...],
    multiple: bool,
    speculative: bool,
    method: bool,
    number_globals: bool,
) -> types.CodeType:
    """The code of a dispatcher (see ``_dispatcher``) for arguments of ``kinds``, the
    gradients ``wanted`` (their index in the adjoint's results, and argument)."""
    args = "".join(f"a{i}, " for i in range(len(kinds)))
    checks = {
        "array": "type(a{0}) is ndarray and a{0}.shape == S{0} and a{0}.dtype is D{0}",
        "number": "type(a{0}) is T{0}",
        "shaped": "type(a{0}) is T{0} and getattr(a{0}, 'shape', None) == S{0}",
        "other": "type(a{0}) is T{0} and getattr(a{0}, 'shape', None) is None",
    }
    matches = " and ".join(checks[k].format(i) for i, k in enumerate(kinds)) or "True"
    stale = " or unit.stale()" if number_globals else " or not STILL(FN)"
    instance = "target.bound[0], " if method else ""
    if speculative:
        call = "(target.bound[0], *args)" if method else "args"
        primal = _speculation(f"{instance}{args}", call)
    else:
        primal = [
            "    saved = {}",
            "    path = []",
            f"    value = primal(saved, path, {instance}{args})",
        ]
    lines = [
        "def dispatch(args):",
        f"    if len(args) != {len(kinds)}:",
        "        return None",
        f"    ({args}) = args",
        f"    if not ({matches}):",
        "        return None",
        f"    if CHECKING[0] or KINKS[0] is not None or VERSION[0] != V{stale}:",
        "        return None",
        "    target.last_call = (args, {})",
        *primal,
        "    unit.ran_kinks = False",
        "    key = path_key(path) if path else ()",
        "    hit = paths.get(key)",
        "    if hit is None:",
        "        hit = new_path(key)",
        "    hit[1][0] += 1",
        "    target.last = (unit, key, (), False)",  # the source to read if the adjoint fails
        "    one = ONES.get(type(value))",
        "    grads = hit[0](saved, seed(value) if one is None else one)",
    ]
    for j, (i, p) in enumerate(wanted):
        lines.append(f"    d{j} = grads[{i}]")
        if kinds[p] == "array":  # what rt.grad_like returns first, checked with less
            lines += [
                f"    if not (type(d{j}) is ndarray and d{j}.flags.carray"
                f" and d{j}.shape == S{p} and d{j}.dtype == a{p}.dtype):",
                f"        d{j} = grad_like(d{j}, a{p})",
            ]
        else:
            lines.append(f"    d{j} = grad_like(d{j}, a{p})")
    if multiple:  # two arguments never share one gradient array (see _Target.distinct)
        grads = "".join(f"d{j}, " for j in range(len(wanted)))
        lines += [  # the array each one's memory belongs to
            f"    r{j} = d{j} if type(d{j}) is not ndarray or d{j}.base is None else d{j}.base"
            for j in range(len(wanted))
        ]
        apart = [f"r{j} is not r{k}" for k in range(len(wanted)) for j in range(k)]
        lines += [
            f"    if {' and '.join(apart) or 'True'}:",
            f"        return value, ({grads})",
            f"    return value, distinct([{grads}])",
        ]
    else:
        lines.append("    return value, d0")
    module = compile("\n".join(lines) + "\n", "<srcdiff: dispatch>", "exec")
    return next(c for c in module.co_consts if isinstance(c, types.CodeType))


def _graph_from(sources: Any, positions: dict[str, int], args: tuple, kwargs: dict) -> bool:
    """Whether a value computed from ``sources`` (``influence.Sources``) may have been
    computed from a Tensor that requires grad: one read from outside, or an argument
    (``args`` by the parameters' ``positions``, ``kwargs``) that is one, or may hold one
    (a list, a model)."""
    if sources.outside:
        return True
    for p in sources.params:
        i = positions.get(p, len(args))
        if _may_require_grad(kwargs[p] if p in kwargs else args[i] if i < len(args) else None):
            return True
    return False


def _may_require_grad(value: Any) -> bool:
    """Whether ``value`` (a compiled Tensor function's argument) is a Tensor that
    requires grad, or may hold one (anything but a Tensor, an array or a plain value)."""
    if is_array(value) or type(value) in _PYTHON_SCALARS:
        return False
    requires = getattr(value, "requires_grad", None)
    return requires if isinstance(requires, bool) else True


def _completed(g: Any, like: Any) -> Any:
    """The adjoint ``g`` of the value ``like`` with zeros for its missing parts: a dict's
    absent keys, a list's None entries (code that reads some of a gradient's entries
    gives no adjoint to the others)."""
    if g is None:
        if not isinstance(like, (list, tuple, dict)):
            return rt.zeros_like(like)
        g = {} if isinstance(like, dict) else [None] * len(like)  # (entry by entry)
    if isinstance(g, dict) and isinstance(like, dict):
        return {k: _completed(g.get(k), v) for k, v in like.items()}
    if isinstance(g, (list, tuple)) and isinstance(like, (list, tuple)):
        entries = [_completed(d, v) for d, v in zip(g, like, strict=True)]
        if hasattr(like, "_fields"):  # a named tuple's, which its fields are read from
            return type(like)(*entries)
        return type(g)(entries)
    return g


def _updates_before(exc: BaseException, unit: Unit, args: tuple, kwargs: dict, saved: dict
                    ) -> None:  # fmt: skip
    """``exc`` left the function ``unit`` runs: the caller's lists and dicts take the
    updates it made before (Python makes them in place as it goes; its primal saved them
    on the way out). One that a function it called made, before raising, is lost with
    that function's frame: refused, rather than leave them otherwise than a plain call."""
    if not unit.updated or FINAL not in saved:
        return
    partly = getattr(exc, rt.control.PARTIAL, None)
    if partly is not None and not isinstance(exc, CompileError):  # (a refusal says its own)
        label, names = partly
        raise CompileError(
            f"{label} raised {type(exc).__name__} after it may have updated its argument "
            f"{', '.join(f'`{n}`' for n in names)} in place, and the exception leaves "
            f"{unit.label}: compiled code hands a function's updates to its caller when it "
            "returns, so the part made before the exception is lost",
            function=unit.parsed.name,
            hint="catch the exception inside that function, or have it update a copy and "
            "return the new value",
        ) from exc
    unit.write_back(args, kwargs, saved)


def _wraps(transform: Any, fn: Any) -> None:
    """``functools.update_wrapper`` of ``transform`` over ``fn``, named after ``fn``'s
    class where ``fn`` (a callable object) has no name of its own."""
    functools.update_wrapper(transform, fn, updated=())
    if not isinstance(getattr(transform, "__name__", None), str):
        transform.__name__ = transform.__qualname__ = type(fn).__name__


def _calling(fn: Callable) -> Callable:
    """``fn`` itself, or for one of srcdiff's transforms (``sd.grad(f)``), a function of
    the same parameters and defaults calling it (``def f_called(x, a=2.0): return
    transform(x, a)``), which the compiler differentiates as a call of a derivative, as
    when ``sd.grad(sd.grad(f))`` is written ``sd.grad(lambda x: sd.grad(f)(x))``."""
    if isinstance(fn, Differentiated):  # its value is its function's: no derivative
        return fn._srcdiff_target
    if isinstance(fn, types.FunctionType) or not hasattr(fn, "_srcdiff_source"):
        return fn
    made = getattr(fn, "__dict__", {}).get("_srcdiff_called")
    if made is not None:  # one per transform, so that its units are compiled once
        return made
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return fn  # (refused where it is compiled)
    # a valid name for any function's (``<lambda>``: ``_lambda_called``)
    name = re.sub(r"\W", "_", getattr(fn, "__name__", "transform")) + "_called"
    if not name.isidentifier():
        name = "transform_called"
    defaults = {f"_default_{p.name}": p.default for p in params if p.default is not p.empty}
    keyword_only = tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY)
    transform = fn
    if keyword_only and isinstance(fn, _BY_POSITION):  # (their rules take positions)
        npositional = len(params) - len(keyword_only)
        transform = _by_position(fn, npositional, npositional, keyword_only) or fn
    signature, passed = [], []
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and (i == 0 or params[i - 1].kind is not p.KEYWORD_ONLY):
            signature.append("*")
        default = f"=_default_{p.name}" if p.default is not p.empty else ""
        signature.append(p.name + default)
        if p.kind is p.POSITIONAL_ONLY and (
            i + 1 == len(params) or params[i + 1].kind is not p.POSITIONAL_ONLY
        ):
            signature.append("/")
        by_keyword = p.kind is p.KEYWORD_ONLY and transform is fn
        passed.append(f"{p.name}={p.name}" if by_keyword else p.name)
    filename = f"<srcdiff: {name} {id(fn):x}>"
    text = f"def {name}({', '.join(signature)}):\n    return _transform({', '.join(passed)})\n"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    with contextlib.suppress(TypeError):  # dropped with the transform
        weakref.finalize(fn, linecache.cache.pop, filename, None)
    # __name__: srcdiff's own module, which marks the function as srcdiff's
    namespace: dict[str, Any] = {"_transform": transform, "__name__": __name__, **defaults}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - the text just written
    with contextlib.suppress(AttributeError, TypeError):
        fn.__dict__["_srcdiff_called"] = namespace[name]
    return namespace[name]


def _primitive(fn: Any) -> bool:
    """Whether ``fn`` is a primitive known by its rules or by its non-differentiable
    listing (``np.sum``, ``np.floor``) and has no Python source to compile."""
    if isinstance(fn, (types.FunctionType, types.MethodType)) or hasattr(type(fn), "_srcdiff_vjp"):
        return False
    return registry.lookup(fn) is not None or registry.is_nondiff(fn)


def _ufunc_called(fn: Any, nargs: int | None = None, keywords: tuple[str, ...] = ()) -> Any:
    """For a primitive (``sd.grad(np.sin)``, ``sd.grad(np.sum)``, ``sd.vmap(np.sin)``
    differentiated), a function of source calling it: a ufunc with its ``nin``
    arguments, another with ``nargs`` of them and ``keywords`` (left as it is where
    ``nargs`` is None, the call not yet seen); else ``fn`` itself."""
    if not _primitive(fn):
        return fn
    if isinstance(fn, np.ufunc) and not keywords:
        return rt.primitive_function(fn, fn.nin, ())
    return fn if nargs is None else rt.primitive_function(fn, nargs, keywords)


def _arity(wrt: Wrt) -> int:
    """The fewest positional arguments a call differentiating ``wrt`` passes."""
    positions = [w for w in (wrt if isinstance(wrt, (tuple, list)) else (wrt,))
                 if isinstance(w, int)]  # fmt: skip
    return max(positions, default=0) + 1


class _Target(CallSite):
    """A function (or bound method) and the parameters to differentiate: the call site
    of ``sd.grad``'s function and of ``@sd.differentiate``, whose units it looks up as
    every call compiled code makes does (``CallSite``), every parameter asked for
    differentiated (checked: a real array, or a container of them)."""

    every = True

    def __init__(self, fn: Callable, wrt: Wrt):
        self._self: Callable[[], Any] | None = None  # the instance of a method
        fn = rt.as_function(_calling(fn))  # a functools.partial, a callable object: see there
        if isinstance(fn, (types.MethodType, _WeakMethod)):
            obj = None if isinstance(fn, _WeakMethod) else fn.__self__
            self._self = fn.reference if isinstance(fn, _WeakMethod) else lambda: obj
            fn = fn.__func__
        while hasattr(fn, "_srcdiff_target"):  # srcdiff's own wrappers only: a user's
            fn = fn._srcdiff_target  # decorator is compiled like any function
        fn = _ufunc_called(fn, _arity(wrt))
        if not isinstance(fn, types.FunctionType):
            raise TypeError(f"srcdiff differentiates Python functions, not {type(fn).__name__}")
        self.fn = fn
        params = list(own_signature(fn).parameters.values())[len(self.bound) :]
        self.multiple = isinstance(wrt, (tuple, list))
        names: list[str] = []
        self.positions: list[int | None] = []
        elements: list[int | None] = []  # where wrt points into *args: which entry
        starred = next((i for i, p in enumerate(params) if p.kind is p.VAR_POSITIONAL), None)
        for w in wrt if self.multiple else (wrt,):
            element = None
            if isinstance(w, int) and starred is not None and w >= starred:
                p, element = params[starred], w - starred  # the entry w - starred of *args
            elif isinstance(w, int):
                if not 0 <= w < len(params):
                    raise ValueError(
                        f"wrt={w} but {fn.__qualname__} takes {len(params)} argument(s)"
                    )
                p = params[w]
            else:
                matches = [p for p in params if p.name == w]
                if not matches:
                    raise ValueError(f"{fn.__qualname__} has no argument named {w!r}")
                p = matches[0]
            if p.kind is p.VAR_KEYWORD or (p.kind is p.VAR_POSITIONAL and element is None):
                raise ValueError(
                    f"cannot differentiate with respect to all of *{p.name}: give the "
                    "positions of the arguments (wrt=(0, 1))"
                )
            names.append(p.name)
            elements.append(element)
            positional = p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            self.positions.append(w if element is not None else
                                  params.index(p) if positional else None)  # fmt: skip
        self.active = tuple(dict.fromkeys(names))
        self.last_position = max((p for p in self.positions if p is not None), default=-1)
        if None in self.positions:
            self.last_position = 1 << 30
        super().__init__(fn, len(self.bound), tuple(names), tuple(elements))
        # the dispatcher of each pattern of argument types and shapes seen, and the
        # latest one to take a call (see run)
        self.fast: dict[tuple, Callable[[tuple], tuple[Any, Any] | None]] = {}
        self.latest: Callable[[tuple], tuple[Any, Any] | None] = _unseen
        self.last: tuple[Unit, tuple, tuple, bool] | None = None  # what sd.source shows
        # the arguments of the latest call, for sd.explain (replaced by the next call)
        self.last_call: tuple[tuple, dict] | None = None
        self.dialect = Dialect.ARRAYS  # TENSORS: code on Tensors, which a plain call runs
        self.eager_backward = False  # calls backward() in a loop: left to eager code
        self.plain: Unit | None = None  # the unit of the latest plain call

    @property
    def bound(self) -> tuple:
        """The arguments bound before the caller's: the instance of a method."""
        if self._self is None:
            return ()
        obj = self._self()
        if obj is None:
            raise ReferenceError(f"the instance of {self.fn.__qualname__} no longer exists")
        return (obj,)

    def values(self, args: tuple, kwargs: dict) -> list:
        if not kwargs and self.last_position < len(args):
            return [args[p] for p in self.positions]
        out = []
        for n, pos in zip(self.names, self.positions, strict=True):
            if pos is not None and pos < len(args):
                out.append(args[pos])
            elif n in kwargs:
                out.append(kwargs[n])
            else:
                default = own_signature(self.fn).parameters[n].default
                if default is inspect.Parameter.empty:
                    raise TypeError(f"{self.fn.__qualname__}() missing argument {n!r}")
                out.append(default)
        return out

    def check(self, values: list) -> None:
        for v in values:
            _check_real(v, self.fn.__qualname__)
            _check_array_type(v, self.fn.__qualname__)

    def run(self, args: tuple, kwargs: dict) -> tuple[Any, Any]:
        """Differentiate a call: ``(value, gradients)``. A call a dispatcher may take next
        time (see ``_dispatcher``) is recorded for it."""
        self.last_call = (args, kwargs)
        checks = _CHECKING[0] or _KINKS[0] is not None
        # the arguments' types and shapes, taken before the call
        key = None if kwargs or checks else _KEYS[len(args)](args)
        tensor = rt.tensors.tensor_class()
        for a in (*args, *kwargs.values()) if kwargs else args:
            if isinstance(a, tensor):
                return self.run_on_tensors(args, kwargs)
        value, state = self.forward(args, kwargs)
        try:
            seed = _seed(value, self.fn.__qualname__)
        except TypeError:
            if isinstance(value, rt.tensors.tensor_class()):
                raise TypeError(
                    f"{self.fn.__qualname__} was called with arrays and returned a Tensor: "
                    "call it with Tensors to differentiate Tensor code, or return an array "
                    "(t.numpy())"
                ) from None
            raise
        grads = self.backward(state, seed)
        unit, *_ = state
        if unit.updated:  # after the adjoint, which may read the caller's objects as they were
            unit.write_back(self.bound + args, kwargs, state[1])
        elif (
            key is not None
            and not (unit.calls or self.starred)
            and self.last_position < len(args)
            and all(type(a) not in (list, tuple, dict) for a in args)
            and not any(isinstance(a, Iterator) for a in args)
        ):
            if len(self.fast) > 256:  # calls of ever new shapes
                self.fast.clear()
            dtypes = tuple(getattr(a, "dtype", None) for a in args)
            self.latest = self.fast[key] = _dispatcher(self, unit, key, state[3], dtypes)
        return value, grads

    def run_fast(self, args: tuple) -> tuple[Any, Any] | None:
        """``run`` for a call of positional arguments of types and shapes seen before,
        not those of the latest (``latest``), by their dispatcher, which is the latest
        from now on; None when there is none, or it leaves the call to ``run``."""
        dispatch = self.fast.get(_KEYS[len(args)](args))
        if dispatch is None or dispatch is self.latest:
            return None
        self.latest = dispatch
        return dispatch(args)

    def forward(self, args: tuple, kwargs: dict) -> tuple[Any, tuple]:
        """Run the primal: the value, and what ``backward`` needs."""
        values = self.values(args, kwargs)
        unit, order = self.unit(values, args, kwargs)
        value, saved, pkey = self.primal(unit, args, kwargs)
        return value, (unit, saved, pkey, order, values)

    def primal(self, unit: Unit, args: tuple, kwargs: dict) -> tuple[Any, dict, tuple]:
        """Run ``unit``'s primal on a call: the value, the values saved, the path's key."""
        saved: dict = {}
        try:
            value, saved, path = unit.run_primal(self.bound + args, kwargs, saved=saved)
        except BaseException as exc:
            _updates_before(exc, unit, self.bound + args, kwargs, saved)
            raise
        return value, saved, (rt.path_key(path) if path else ())

    def adjoint(self, unit: Unit, pkey: tuple, checked: bool) -> Callable:
        """The adjoint of ``unit``'s path ``pkey`` (counted as taken, and shown by
        ``sd.source`` from now on)."""
        unit.count(pkey)[0] += 1
        hit = unit.adjoints.get((pkey, None, None, checked))
        self.last = (unit, pkey, (), checked)  # the source to read if the adjoint fails
        return hit[0] if hit is not None else unit.adjoint(pkey)[0]

    def backward(self, state: tuple, seed: Any, within: bool = False) -> Any:
        """Run the adjoint of a ``forward`` from the result's adjoint ``seed``: the
        gradient of each differentiated argument (one, or a tuple). ``within`` a rule (of
        a forward mode differentiated again), an ``rt.NoGradient`` is handed on as it is,
        for the adjoint around to ignore or refuse."""
        like = _like_or_unknown if within else rt.grad_like
        unit, saved, pkey, order, values = state
        checked = rt.CHECKING[0]
        adjoint = self.adjoint(unit, pkey, checked)
        if unit.calls:
            grads, called = self.run_collecting(adjoint, saved, seed)
        else:
            grads, called = adjoint(saved, seed), ()
        self.last = (unit, pkey, called, checked)
        if self.starred:
            grads = [_entry(grads[i], e) for i, e in zip(order, self.elements, strict=True)]
            order = range(len(order))
        if not self.multiple:
            return like(grads[order[0]], values[0])
        return self.distinct([like(grads[i], v) for i, v in zip(order, values, strict=True)])

    @staticmethod
    def distinct(out: list) -> tuple:
        """The gradients as a tuple, copying any that shares its array with an earlier one
        (two arguments never share one gradient array)."""
        for i in range(1, len(out)):
            for earlier in out[:i]:
                if _share(out[i], earlier):
                    out[i] = out[i].copy()
                    break
        return tuple(out)

    def run_on_tensors(self, args: tuple, kwargs: dict) -> tuple[Any, Any]:
        """Tensors in: their arrays differentiated, by code compiled for Tensor methods;
        Tensors out (the value, and the gradient of each Tensor argument)."""
        tensor = rt.tensors.tensor_class()
        plain = lambda v: v._data if isinstance(v, tensor) else v  # noqa: E731
        values = self.values(args, kwargs)
        arrays = tuple(map(plain, args))
        named = {k: plain(v) for k, v in kwargs.items()}
        arrays_of = list(map(plain, values))
        key = (*rt.call_key(arrays_of, arrays, named, shapes=False), TENSORS)
        unit, order = rt.cached_unit(self.units, key, self.compile_arrays, arrays_of)
        saved: dict = {}
        try:
            value, saved, path = unit.run_primal(self.bound + arrays, named, False, saved)
        except BaseException as exc:
            _updates_before(exc, unit, self.bound + arrays, named, saved)
            raise
        pkey = rt.path_key(path) if path else ()
        grads, called = self.run_collecting(
            unit.adjoint(pkey)[0], saved, _seed(value, self.fn.__qualname__)
        )
        self.last = (unit, pkey, called, rt.CHECKING[0])
        if unit.updated:  # after the adjoint, which may read the caller's objects as they were
            unit.write_back(self.bound + arrays, named, saved)
        out = []
        for i, v in zip(order, values, strict=True):
            d = rt.grad_like(grads[i], plain(v))
            out.append(tensor._make(d) if isinstance(v, tensor) else d)
        value = tensor._make(array_module(value).asarray(value))
        return value, (tuple(out) if self.multiple else out[0])

    def compile_arrays(self, values: list) -> tuple[Unit, tuple[int, ...]]:
        """The unit of a call with Tensors, for their arrays ``values``."""
        kinds = {n: value_kind(v) for n, v in zip(self.names, values, strict=True)}
        unit = unit_for(
            self.fn, self.active, kinds, array_module(*values), dialect=Dialect.TENSOR_CALLEE
        )
        return unit, tuple(unit.wrt.index(n) for n in self.names)

    @staticmethod
    def run_collecting(adjoint: Callable, saved: dict, seed: Any) -> tuple[tuple, tuple]:
        """Run ``adjoint``, noting the compiled callees whose adjoints it runs."""
        called: dict = {}
        previous = rt.collect_called(called)
        try:
            grads = adjoint(saved, seed)
        finally:
            rt.collect_called(previous)
            if previous is not None:
                previous.update(called)
        return grads, tuple(called)

    def call(self, args: tuple, kwargs: dict) -> Any:
        """Run the compiled primal (with its backward() calls, for Tensor code)."""
        # (each read once: a training step's every call passes here)
        tensors = self.dialect is not Dialect.ARRAYS  # (its on_tensors)
        bound = () if self._self is None else self.bound
        xp = (
            _tensor_module(bound + args + tuple(kwargs.values()) if bound or kwargs else args)
            if tensors
            else array_module(*args, *kwargs.values())
        )
        unit, _ = rt.cached_unit(self.units, (xp,), self.compile_plain, xp)
        self.plain = unit
        saved: dict = {}
        outer = STEP[0]
        leaves = LEAVES[0]  # (how many Tensors requiring grad were unwrapped before)
        if tensors:  # (Tensors written meanwhile are noted: rt.wrote)
            STEP[0] = Step(saved, leaves)
        try:
            value = unit.primal(saved, [], *bound, *args, **kwargs)
        except BaseException as exc:
            _updates_before(exc, unit, bound + args, kwargs, saved)
            raise
        finally:
            STEP[0] = outer
        if unit.analysis.updated:  # (unit.updated)
            unit.write_back(bound + args, kwargs, saved)
        if not tensors or type(value) in _PYTHON_SCALARS:  # (loss.item(): the usual)
            return value
        if LEAVES[0] == leaves or not rt.calls.Host.grad_enabled():
            return _as_tensors(value)
        given = (unit.param_positions, bound + args, kwargs)
        sources = unit.returned
        if isinstance(sources, tuple) and type(value) is tuple and len(value) == len(sources):
            return tuple(_as_tensors(v, _graph_from(s, *given))
                         for v, s in zip(value, sources, strict=True))  # fmt: skip
        return _as_tensors(value, _graph_from(unit.returned_whole, *given))

    def compile_plain(self, xp: Any) -> tuple[Unit, tuple]:
        """The unit of a plain call (no gradient) with arrays of ``xp``."""
        return unit_for(self.fn, (), {}, xp, dialect=self.dialect), ()

    def tensor_source(self) -> str:
        unit = self.plain
        if unit.last_backward is None:
            from .autograd import LAST_SOURCE

            eager = (
                f"\n\n# the adjoint its last backward() ran (eager):\n{LAST_SOURCE[0]}"
                if self.eager_backward
                else ""
            )
            return render_primal(unit) + eager
        key, site, called = unit.last_backward
        return render_source(unit, key, called, stop=site)

    def source(self) -> str:
        if self.last is None:
            raise RuntimeError(
                f"no gradient of {self.fn.__qualname__} has been computed "
                "yet: call it first, then ask for its source"
            )
        unit, key, called, checked = self.last
        return render_source(unit, key, called, checked=checked)


def render_source(
    unit: Unit, key: tuple, called: tuple = (), stop: int | None = None, checked: bool = False
) -> str:
    """The primal and the adjoint of one path, and those of the functions it called, as
    one module (``checked``: the adjoints with finiteness checks, when they ran)."""
    _, adjoint_text = unit.adjoint(key, stop, checked=checked)
    what = (
        f"with respect to {', '.join(unit.wrt)}"
        if unit.wrt
        else "with respect to the Tensors that require grad"
    )
    primal_name, adjoint_name = (
        unit.parsed.tree.name + "_primal",
        adjoint_text.split("(", 1)[0].removeprefix("def "),
    )
    header = [
        f"# srcdiff: gradient of {unit.label} {what}",
        f"# path: {describe_path(key)}",
        f"# to run: _saved, _path = {{}}, []; value = {primal_name}(_saved, _path, <args>); "
        f"rt.path_key(_path); grads = {adjoint_name}(_saved, 1.0)",
    ]
    kinks = unit.ran_kinks and stop is None
    speculated = unit.speculative and unit.ran_path and stop is None and not kinks
    primal_text = (
        unit.kink_primal()[1]
        if kinks
        else unit.path_primal(key)[1]
        if speculated
        else unit.primal_source
    )
    if kinks:
        header.insert(3, "# the primal with kink checks (warn_kinks): rt.near_* measure margins")
    if speculated:
        header.insert(
            3,
            "# the primal of this path: a call going another way raises "
            "rt.Diverged and is traced again",
        )
    parts = [primal_text, adjoint_text]
    for callee, callee_key, wanted in called:
        if (callee, callee_key, wanted) == (unit, key, None):
            continue
        names = (
            ", ".join(callee.wrt if wanted is None else wanted) or "the Tensors that require grad"
        )
        parts.append(
            f"# called: {callee.label} with respect to {names}; path: {describe_path(callee_key)}\n"
        )
        callee_primal = (
            callee.kink_primal()[1]
            if callee.ran_kinks
            else callee.path_primal(callee_key)[1]
            if callee.speculative and callee.ran_path
            else callee.primal_source
        )
        parts += [callee_primal, callee.adjoint(callee_key, wanted=wanted, checked=checked)[1]]
    return "\n\n".join(["\n".join(header + _imports(unit, parts)) + "\n", *parts])


def render_primal(unit: Unit) -> str:
    """The compiled primal alone (for a call that differentiated nothing)."""
    header = [f"# srcdiff: compiled primal of {unit.label}"]
    imports = _imports(unit, [unit.primal_source])
    return "\n".join(header + imports) + "\n\n\n" + unit.primal_source


@dataclass(frozen=True)
class CompiledPath:
    """One path a gradient function was compiled for (``sd.paths``): its key, what it
    means in the user's terms, how many calls took it, and its source."""

    function: str
    key: tuple
    choices: tuple[str, ...]
    calls: int
    source: str

    def __str__(self) -> str:
        calls = f"{self.calls} call{'s' if self.calls != 1 else ''}"
        head = f"{self.function}, path {describe_path(self.key)} ({calls})"
        return "\n".join([head, *(f"  {c}" for c in self.choices or ("straight line",))])


def paths(g: Any) -> list[CompiledPath]:
    """Every path ``g`` (made by ``sd.grad``, ``sd.value_and_grad`` or
    ``@sd.differentiate``) was compiled for so far, the most taken first."""
    if isinstance(g, Differentiated):
        g = g._gradient()
    if not isinstance(g, GradientFunction):
        raise TypeError(f"sd.paths takes a function made by sd.grad, not {type(g).__name__}")
    found = []
    for unit, _ in g._target.units.values():
        compiled: dict[tuple, bool] = {}  # path -> whether only a checked adjoint exists
        for key, stop, wanted, checked in list(unit.adjoints):
            if stop is None and wanted is None:
                compiled[key] = compiled.get(key, True) and checked
        calls = unit.path_calls
        for key, checked in compiled.items():
            choices = tuple(explain(unit.analysis, key))
            found.append(CompiledPath(unit.label, key, choices, calls[key],
                                      render_source(unit, key, checked=checked)))  # fmt: skip
    return sorted(found, key=lambda p: -p.calls)


def describe_path(key: tuple) -> str:
    if not key:
        return "straight line"
    return " ".join(str(k) for k in key)


def _imports(unit: Unit, texts: list[str]) -> list[str]:
    """The imports the generated ``texts`` use, and no other: the array module as ``xp``,
    srcdiff's helpers as ``rt``, and ``import numpy as np`` and the like for the modules
    the user's code names."""
    used = set()  # (names in comments and strings, "rt.arguments('np.sum', ...)", need none)
    for text in texts:
        try:
            used |= {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
        except SyntaxError:  # (a fragment: every name before a dot outside comments)
            code = re.sub(r"#.*", "", text)
            used |= {m.group(1) for m in re.finditer(r"\b(\w+)\.", code)}
    lines = [f"import {unit.xp.__name__} as xp"] if "xp" in used else []
    lines += ["from srcdiff import runtime as rt"] if "rt" in used else []
    for name_, value in sorted(unit.fn.__globals__.items()):
        if (
            isinstance(value, types.ModuleType)
            and name_ in used
            and (value.__name__ in ("numpy", "math") or value.__name__.startswith("numpy"))
        ):
            lines.append(
                f"import {value.__name__} as {name_}"
                if name_ != value.__name__
                else f"import {name_}"
            )
    return lines


def _transform_rules(transform: Any, tangent: Callable[[Any], Any]) -> tuple:
    """A transform's rules (its ``_srcdiff_rules``): the reverse rule its
    ``_srcdiff_vjp`` gives, and the forward rule ``tangent(transform)``, an object with
    rules of its own; made once and kept in its ``__dict__``."""
    rules = transform.__dict__.get("_rules")
    if rules is None:

        def vjp(g: Any, ans: Any, *args: Any, **kwargs: Any) -> Any:
            grads = transform._srcdiff_vjp(g, ans, *args, **kwargs)
            return grads[0] if len(args) == 1 else grads  # a rule called by name: so

        rule = registry.make_rule(vjp, name=f"{transform.__name__}_vjp", inline=False)
        forward = registry.Tangent.of(tangent(transform), inline=False)
        rules = transform.__dict__["_rules"] = (dataclasses.replace(rule, whole=True), forward)
    return rules


class GradientFunction:
    """What ``sd.grad`` and ``sd.value_and_grad`` return. Called inside a function being
    differentiated, it is differentiated too (``_srcdiff_vjp``, ``_srcdiff_jvp``)."""

    def __init__(
        self,
        fn: Callable,
        wrt: Wrt,
        with_value: bool,
        check_finite: bool = False,
        warn_kinks: float | None = None,
    ):
        if warn_kinks is not None and (
            isinstance(warn_kinks, bool)
            or not isinstance(warn_kinks, (int, float, np.floating, np.integer))
            or not warn_kinks >= 0
        ):
            raise ValueError(
                f"warn_kinks must be a non-negative number (a distance, such as 1e-8), "
                f"not {warn_kinks!r}"
            )
        self._fn = fn
        self._target = _Target(fn, wrt)
        # a primitive taking any number of arguments (np.sum): a target per call's
        self._by_arity: dict | None = None
        if _primitive(fn) and not isinstance(fn, np.ufunc):
            self._by_arity = {(_arity(wrt), ()): self._target}
        self._wrt = wrt
        self._with_value = with_value
        self._check_finite = check_finite
        self._warn_kinks = None if warn_kinks is None else float(warn_kinks)
        self._options = check_finite or warn_kinks is not None  # calls never run_fast
        functools.update_wrapper(self, self._target.fn, updated=())
        self.__signature__ = _signature_without_bound(self._target)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._by_arity is not None:
            self._target = self._called_with(len(args), tuple(kwargs))
        target = self._target
        if self._options:
            with contextlib.ExitStack() as options:
                if self._check_finite:
                    options.enter_context(rt.checking_finite())
                if self._warn_kinks is not None:
                    options.enter_context(rt.warning_kinks(self._warn_kinks))
                out = target.run(args, kwargs)
        else:
            out = None if kwargs else target.latest(args) or target.run_fast(args)
            if out is None:
                out = target.run(args, kwargs)
        return out if self._with_value else out[1]

    def _called_with(self, nargs: int, keywords: tuple[str, ...]) -> _Target:
        """The target of a call of a primitive with ``nargs`` positional arguments and
        these keywords (``sd.grad(np.linalg.norm)(x, 2)``)."""
        assert self._by_arity is not None
        target = self._by_arity.get((nargs, keywords))
        if target is None:
            called = _ufunc_called(self._fn, max(nargs, _arity(self._wrt)), keywords)
            target = self._by_arity[(nargs, keywords)] = _Target(called, self._wrt)
        return target

    @property
    def _srcdiff_rules(self) -> tuple:
        """Its reverse rule, and its forward rule as an object with rules of its own, so
        that forward-mode source calling it is differentiated again (third derivatives);
        made when first asked for (``registry.own_rules``)."""
        return _transform_rules(self, _GradientTangent)

    @_srcdiff_rules.setter
    def _srcdiff_rules(self, value: tuple) -> None:
        self.__dict__["_rules"] = value

    def _srcdiff_source(self) -> str:
        return self._target.source()

    def _tangents(self, grads: Any, args: tuple, kwargs: dict) -> tuple[list, dict]:
        """One tangent per positional argument, and one per keyword argument: ``grads``
        (shaped like this function's gradients) at the differentiated arguments (a
        parameter left to its default gets its tangent by name), None elsewhere."""
        target = self._target
        if target.starred:
            raise CompileError(
                f"sd.grad({target.fn.__qualname__}, wrt=...) differentiated again, with wrt "
                "naming an entry of *args",
                function=target.fn.__qualname__,
                hint="give the function named parameters and wrt by position or name",
            )
        tangents: list = [None] * len(args)
        named: dict = {}
        for name, p, g in zip(target.names, target.positions,
                              grads if target.multiple else (grads,), strict=True):  # fmt: skip
            if p is not None and p < len(args):
                tangents[p] = g
            else:
                named[name] = g
        return tangents, named

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any, **kwargs: Any) -> tuple:
        """The adjoint ``g`` of the gradient pulled back to the positional arguments: the
        Hessian of ``fn`` times ``g``, by reverse mode over ``fn``'s forward mode."""
        g_value, g_grads = g if self._with_value else (None, g)
        g_grads = _completed(g_grads, ans[1] if self._with_value else ans)
        tangents, named = self._tangents(g_grads, args, kwargs)
        cotangent = (g_value, _SEED)
        return tangent_vjp(self._fn, args, kwargs, tangents, cotangent, named,
                           keyword_grads=False).d_args  # fmt: skip

    def _srcdiff_jvp(self, tangents: tuple, ans: Any, *args: Any, **kwargs: Any) -> Any:
        """The gradient's tangent along ``tangents``: the Hessian of ``fn`` times them."""
        target = self._target
        _, named = self._tangents(ans[1] if self._with_value else ans, args, kwargs)
        if named:
            raise CompileError(
                f"forward mode through sd.grad({target.fn.__qualname__}) called without its "
                f"differentiated argument(s) {', '.join(named)} among the positional ones",
                function=target.fn.__qualname__,
                hint="pass the differentiated arguments by position",
            )
        pulled = tangent_vjp(self._fn, args, kwargs, tangents, (None, _SEED), keyword_grads=False)
        outputs, d_args = pulled.outputs, pulled.d_args
        grads = [
            rt.zeros_like(args[p]) if d_args[p] is None else d_args[p] for p in target.positions
        ]
        out = tuple(grads) if target.multiple else grads[0]
        return (outputs[1], out) if self._with_value else out


class _TransformTangent:
    """The forward rule of a transform (``_srcdiff_jvp``), an object holding the transform
    weakly (compiled code keeps its rules), named after it; its subclasses give it rules
    of its own."""

    kind, suffix = "transform", "jvp"

    def __init__(self, transform: Any):
        self._reference = weakref.ref(transform)
        name = re.sub(r"\W", "_", transform.__name__).strip("_") or self.kind.split()[0]
        self.__name__ = self.__qualname__ = f"{name}_{self.suffix}"  # (<lambda>: the kind's)

    @property
    def _transform(self) -> Any:
        transform = self._reference()
        if transform is None:
            raise ReferenceError(f"the {self.kind} of {self.__name__} no longer exists")
        return transform

    def __call__(self, tangents: tuple, ans: Any, *args: Any, **kwargs: Any) -> Any:
        return self._transform._srcdiff_jvp(tangents, ans, *args, **kwargs)

    def _fallback(self, depth: int, pull: tuple | None, args: tuple, kwargs: dict) -> Any:
        """The rules ``_relaid`` has no form for: the value and the pull-back of this
        rule, the value of its forward rule; else ``_refusal``'s."""
        if depth == 0 and pull is None:
            return self(*args, **kwargs)
        if depth == 0:
            return self._pulled_back(*pull, *args, **kwargs)
        if depth == 1 and pull is None:
            return self._srcdiff_jvp(*args, **kwargs)
        raise rt.refuse(*self._refusal(depth, pull))

    def _refusal(self, depth: int, pull: tuple | None) -> tuple[str, str]:
        """The refusal of a derivative ``_fallback`` has no rule for."""
        raise NotImplementedError

    def _relaid_along(self, fn: Callable, args: tuple, shape: Any,
                      transform: Callable[[Callable, tuple], Any]) -> _Relaid:  # fmt: skip
        """This rule at ``args`` (``(tangents, ans, *x)``) as ``transform(phi, given)``:
        ``phi`` is ``fn``'s derivative along the tangents given (``_along``), taking ``x``,
        then those tangents. Made once per calls alike in which tangents are given and in
        ``shape``."""
        x = args[2:]
        tangents = tuple(args[0]) + (None,) * (len(x) - len(tuple(args[0])))
        given = tuple(k for k, t in enumerate(tangents) if t is not None)

        def make() -> _Relaid:
            inner = transform(_along(fn, given, len(x), self.__name__), given)
            layout = (*((2 + i,) for i in range(len(x))), *((0, k) for k in given))
            return _Relaid(inner, layout, self.__name__)

        return _relaid_made(self, (given, shape), make)


class _GradientTangent(_TransformTangent):
    """The forward rule of ``sd.grad(f)`` (``GradientFunction._srcdiff_jvp``), which the
    forward-mode source of a function calling ``sd.grad(f)`` calls: ``rule(tangents, ans,
    *args)``, the Hessian of ``f`` times ``tangents``. That is the gradient, in ``args``,
    of ``phi``, the tangent that ``f``'s forward mode computes: so its own derivatives are
    those of ``sd.grad(phi)`` (``_relaid``), to any order."""

    kind, suffix = "gradient function", "jvp"

    @property
    def _gradient(self) -> GradientFunction:
        return self._transform

    def _srcdiff_too_deep(self) -> tuple[str, str]:
        """Its rules differentiated (see ``rt.calls._derivative_inside``): the gradient
        differentiated three times more."""
        return _too_deep(self._gradient, 3)

    @property
    def _srcdiff_rules(self) -> tuple:
        """Its rules: those of ``_Delegate(self, 0)``, so at every order."""
        return _delegated_rules(self)

    def _relaid(self, args: tuple, kwargs: dict) -> _Relaid | None:
        """This rule at ``args`` (``(tangents, ans, *x)``) as ``sd.grad`` of ``phi``,
        ``f``'s derivative along the tangents (``_along``), in ``x`` and the tangents: the
        Hessian of ``f`` times the tangents is ``phi``'s gradient in ``x``, so this rule's
        derivatives are those of a gradient again, to any order (``f`` a function, a
        method or a callable object). None where it is called so (keywords,
        ``*args``) that its rules are those of ``_fallback``, which go to the third
        order."""
        gradient = self._gradient
        target = gradient._target
        fn = _plain_call(gradient._fn)
        if (
            fn is None
            or kwargs
            or len(args) < 3
            or target.starred
            or any(p is None for p in target.positions)
        ):
            return None
        wrt = tuple(target.positions) if target.multiple else target.positions[0]
        return self._relaid_along(
            fn, args, len(args) - 2, lambda phi, given: GradientFunction(
                phi, wrt, gradient._with_value)
        )  # fmt: skip

    def _refusal(self, depth: int, pull: tuple | None) -> tuple[str, str]:
        shown, base, order = _derivative_of(self._gradient)
        return (
            f"a derivative of order {order + depth + 1 + (pull is not None)} of {base} "
            f"through {shown} called with keyword arguments, as a method, or with its "
            "differentiated values in *args",
            "call it with its arguments by position, on a function of named parameters",
        )

    def _program(self, tangents: tuple, args: tuple, kwargs: dict) -> tuple:
        """``f``'s forward-mode program along ``tangents`` (one per positional argument),
        the tangents it takes first (``given``), the argument of each (``where``), and
        the arguments it takes after them (the instance of a method, then ``args``)."""
        gradient = self._gradient
        target = gradient._target
        if target.starred or any(p is None for p in target.positions):
            raise CompileError(
                f"a third derivative through sd.grad({target.fn.__qualname__}) with wrt "
                "naming an entry of *args or a keyword-only argument",
                function=target.fn.__qualname__,
                hint="give the function named positional parameters and wrt by position",
            )
        tangents = tuple(tangents) + (None,) * (len(args) - len(tuple(tangents)))
        positions = tuple(i for i, t in enumerate(tangents) if t is not None)
        forward = _forward_target(gradient._fn, positions, len(args), kwargs)
        if any(e is not None for e in forward.elements):
            raise CompileError(
                f"a third derivative through sd.grad({target.fn.__qualname__}), whose "
                "function takes the differentiated values in *args",
                function=target.fn.__qualname__,
                hint="give the function named parameters",
            )
        unit, _ = forward.unit(forward.values(args, kwargs), args, kwargs)
        where = [positions[forward.names.index(n)] for n in unit.wrt]
        given = tuple(tangents[w] for w in where)
        return unit.tangent_program(), given, where, (*forward.bound, *args)

    def _pull(self, tangents: tuple, args: tuple, kwargs: dict, along: dict,
              value_cotangent: Any) -> tuple[Pullback, list, int]:  # fmt: skip
        """Reverse mode over the forward mode of ``f``'s forward-mode program at ``args``
        and ``tangents``, along ``along`` (a tangent per index of the program's
        arguments), the seed 1 on its tangent's tangent (``phi``'s), ``value_cotangent``
        on ``phi``. Returns the pull-back, ``where``, and the index of ``args[0]``."""
        program, given, where, rest = self._program(tangents, args, kwargs)
        p_args = (*given, *rest)
        first = len(p_args) - len(args)
        p_tangents = [along.get(i) for i in range(len(p_args))]

        def on_phi(d: Any) -> Callable[[Any], list]:
            return lambda out: [rt.zeros_like(out[0]), d(out[1])]

        seed = lambda t: _seed(t, fn_name=program.__qualname__)  # noqa: E731
        cotangent = (
            None if value_cotangent is None else on_phi(lambda _: value_cotangent),
            on_phi(seed),
        )
        pulled = tangent_vjp(program, p_args, kwargs, p_tangents, cotangent)
        return pulled, where, first

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any, **kwargs: Any) -> tuple:
        """The rule's pull-back (see ``_Delegate``)."""
        return _Delegate(self, 0)._srcdiff_vjp(g, ans, *args, **kwargs)

    def _pulled_back(self, g: Any, ans: Any, tangents: tuple, ans_f: Any, *args: Any,
                     **kwargs: Any) -> tuple:  # fmt: skip
        """The rule's pull-back: to ``tangents`` (a tuple, one per argument), to the
        gradient ``ans_f`` (none: the rule reads it for its structure only) and to
        ``args``."""
        gradient = self._gradient
        target = gradient._target
        if gradient._with_value or target.multiple:  # a tuple, whose zero adjoint would be
            raise CompileError(  # added to the result's by concatenation
                f"a third derivative through sd.value_and_grad({target.fn.__qualname__}) or "
                "sd.grad of it with several wrt, which return tuples",
                function=target.fn.__qualname__,
                hint="call sd.grad(f) with one wrt at a time there (and f itself for its value)",
            )
        g_value, g_grads = None, (g,)
        tangents = tuple(tangents) + (None,) * (len(args) - len(tuple(tangents)))
        # where the cotangent of each gradient goes: a tangent of its argument
        _, _, where, rest = self._program(tangents, args, kwargs)
        first = len(where) + len(rest) - len(args)
        along = {first + p: d for p, d in zip(target.positions, g_grads, strict=True)
                 if d is not None}  # fmt: skip
        zero = rt.zeros_like(ans_f)  # (a zero, not None: the rule's result is active)
        if not along and g_value is None:
            return (rt.zeros_like(tangents), zero, *map(rt.zeros_like, args))
        pulled, where, first = self._pull(tangents, args, kwargs, along, g_value)
        d_tangents: list = [rt.zeros_like(t) for t in tangents]
        for k, w in enumerate(where):
            if pulled.d_args[k] is not None:
                d_tangents[w] = pulled.d_args[k]
        d_args = [rt.zeros_like(a) if d is None else d
                  for a, d in zip(args, pulled.d_args[first:], strict=True)]  # fmt: skip
        return (tuple(d_tangents), zero, *d_args)

    def _srcdiff_jvp(self, d: tuple, ans: Any, tangents: tuple, ans_f: Any, *args: Any,
                     **kwargs: Any) -> Any:  # fmt: skip
        """The rule's tangent along ``d`` (the tangents of ``tangents``, of ``ans_f``, and
        of each of ``args``): the Hessian of ``phi`` times them, at the differentiated
        arguments (and ``phi``'s tangent, for ``sd.value_and_grad``)."""
        gradient = self._gradient
        target = gradient._target
        d_tangents, _, *d_args = d
        tangents = tuple(tangents) + (None,) * (len(args) - len(tuple(tangents)))
        d_tangents = (tuple(d_tangents) + (None,) * len(tangents) if d_tangents is not None
                      else (None,) * len(tangents))  # fmt: skip
        _, _, where, rest = self._program(tangents, args, kwargs)
        first = len(where) + len(rest) - len(args)
        along = {k: d_tangents[w] for k, w in enumerate(where) if d_tangents[w] is not None}
        along.update({first + i: t for i, t in enumerate(d_args) if t is not None})
        pulled, _, first = self._pull(tangents, args, kwargs, along, None)
        grads = [
            rt.zeros_like(args[p]) if pulled.d_args[first + p] is None
            else rt.grad_like(pulled.d_args[first + p], args[p])
            for p in target.positions
        ]  # fmt: skip
        out = tuple(grads) if target.multiple else grads[0]
        return (pulled.outputs[1][1], out) if gradient._with_value else out


class _Delegate:
    """A primitive of srcdiff's (``depth`` 0), or its forward rule ``depth`` times over,
    computed as the same of its ``_Relaid`` form at the call's arguments
    (``owner._relaid``, given the primitive's own arguments, the last of a rule's): so
    its rules are those of a transform of a function of source, at every order. Where
    ``owner`` has no such form, ``owner._fallback`` gives the value or the pull-back
    (``g`` not None), or refuses."""

    def __init__(self, owner: Any, depth: int):
        self._owner, self.depth = owner, depth
        self.__name__ = self.__qualname__ = owner.__name__ + "_jvp" * depth

    def _relaid(self, args: tuple, kwargs: dict) -> _Relaid | None:
        relaid = self._owner._relaid(args[2 * self.depth :], kwargs)
        for _ in range(self.depth):
            relaid = None if relaid is None else relaid.forward()
        return relaid

    def _moved(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The call with the keywords that the primitive takes by name too (``names`` of
        its owner: ``cotangent`` of ``sd.vjp``'s pull-back) moved to their positions."""
        rest = getattr(self._owner, "names", ())[max(len(args) - 2 * self.depth, 0) :]
        if not kwargs or not rest or set(kwargs) != set(rest):
            return args, kwargs
        # (a forward rule's tangents, one per argument after them: none for those moved)
        pad = (None,) * len(rest)
        args = tuple((*a, *pad) if i < 2 * self.depth and i % 2 == 0 and type(a) is tuple
                     else a for i, a in enumerate(args))  # fmt: skip
        return (*args, *(kwargs[n] for n in rest)), {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self._moved(args, kwargs)
        relaid = self._relaid(args, kwargs)
        if relaid is None:
            return self._owner._fallback(self.depth, None, args, kwargs)
        return relaid(*args)

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any, **kwargs: Any) -> tuple:
        args, kwargs = self._moved(args, kwargs)
        relaid = self._relaid(args, kwargs)
        if relaid is None:
            return self._owner._fallback(self.depth, (g, ans), args, kwargs)
        return relaid._srcdiff_vjp(g, ans, *args)

    def _srcdiff_jvp(self, tangents: tuple, ans: Any, *args: Any, **kwargs: Any) -> Any:
        return self.forward()(tangents, ans, *args, **kwargs)

    def forward(self) -> _Delegate:
        """Its own forward rule."""
        made = self.__dict__.get("_forward")
        if made is None:
            made = self.__dict__["_forward"] = _Delegate(self._owner, self.depth + 1)
        return made

    @property
    def _srcdiff_rules(self) -> tuple:
        return _own_rules(self)


def _own_rules(primitive: Any) -> tuple:
    """The rules of ``primitive`` (a ``_Delegate`` or a ``_Relaid``): its ``_srcdiff_vjp``,
    and its forward rule, ``primitive.forward()``, as a transform's (``_transform_rules``)."""
    return _transform_rules(primitive, lambda p: p.forward())


def _along(fn: Any, given: tuple[int, ...], n: int, name: str) -> Callable:
    """``phi(x..., t...)``, ``fn``'s derivative at its ``n`` arguments ``x`` along the
    tangents ``t`` of those at ``given``: a function of source running ``fn`` in forward
    mode as forward-mode source does (``rt.call_jvp``; a transform by its forward rule).
    The Hessian of ``fn`` times the tangents is ``phi``'s gradient in ``x``, and the
    tangent of a Jacobian ``phi``'s Jacobian."""
    params = [f"a{i}" for i in range(n)] + [f"t{k}" for k in given]
    along = ", ".join(f"t{k}" if k in given else "None" for k in range(n))
    source = (
        f"def {name}_along({', '.join(params)}, /):\n"
        f"    return rt.call_jvp(_fn, ({along},), {', '.join(params[:n])})[1]\n"
    )
    shown = getattr(fn, "__qualname__", type(fn).__name__)
    return rt.function_of_source(source, f"derivative of {shown} along its tangents",
                                 f"{name}_along", {"_fn": fn, "rt": rt})  # fmt: skip


def _plain_call(fn: Any, objects: bool = True) -> Any:
    """What ``_along`` calls for ``fn``: a transform itself or a primitive (their forward
    rules have rules), a Python function, and where ``objects``, a method bound to an
    object or an object of a class with a ``__call__`` of source (forward-mode source
    calls them as it calls functions, the object held as it is); None for others."""
    if isinstance(fn, types.FunctionType) or hasattr(type(fn), "_srcdiff_jvp"):
        return fn
    if objects and (
        isinstance(fn, types.MethodType)
        or isinstance(inspect.getattr_static(type(fn), "__call__", None), types.FunctionType)
    ):
        return fn
    return fn if registry.lookup(fn) is not None else None


def _delegated_rules(owner: Any) -> tuple:
    """The rules of ``owner``, a primitive with a ``_relaid`` form: ``_Delegate(owner,
    0)``'s, kept in its ``__dict__``."""
    delegate = owner.__dict__.get("_delegate")
    if delegate is None:
        delegate = owner.__dict__["_delegate"] = _Delegate(owner, 0)
    return _own_rules(delegate)


def _relaid_made(owner: Any, key: tuple, make: Callable[[], _Relaid]) -> _Relaid:
    """``owner``'s ``_Relaid`` form for calls alike in ``key`` (which tangents are given,
    how many arguments), made once (a few dozen kept)."""
    made = owner.__dict__.setdefault("_relaid_made", {})
    key = (*key, registry.version())
    if key not in made:
        if len(made) > 64:
            made.clear()
        made[key] = make()
    return made[key]


def _gather(layout: tuple, args: tuple) -> list:
    """The arguments ``layout`` lays out of ``args``: each entry a path of indices into
    them, or a list of entries (a tuple). None where there is no container on the way:
    a tangent of None (a zero where that None is in a tuple of tangents)."""

    def one(entry: Any) -> Any:
        if isinstance(entry, list):
            return tuple(one(e) for e in entry)
        value: Any = args
        for i in entry:
            if isinstance(value, functools.partial):  # (into its bound values)
                value = rt.partial_args(value)
            elif isinstance(value, types.MethodType) and rt.is_record(value.__self__):
                value = [value.__self__]  # (a method of an object: into the object)
            if type(value) not in (tuple, list):
                return None
            value = value[i]
        return value

    return [one(e) for e in layout]


def _grads_by_path(layout: tuple, grads: tuple) -> dict[tuple, Any]:
    """Each gradient in ``grads`` under the path (in ``layout``) of the value it is for,
    summed where a value went twice; a list in ``layout`` stands for its entries'."""
    found: dict[tuple, Any] = {}

    def put(entry: Any, g: Any) -> None:
        if isinstance(entry, list):
            for e, d in zip(entry, g if g is not None else [None] * len(entry), strict=True):
                put(e, d)
        elif entry is not None and g is not None and not isinstance(g, rt.NoGradient):
            found[entry] = g if entry not in found else found[entry] + g

    for e, g in zip(layout, grads, strict=True):
        put(e, g)
    return found


def _scatter(layout: tuple, grads: tuple, args: tuple) -> tuple:
    """The pull-backs to ``args`` of those (``grads``) to the arguments ``layout`` made of
    them (see ``_gather``): summed where a value went twice, zeros where it went nowhere."""
    found = _grads_by_path(layout, grads)

    def build(value: Any, path: tuple) -> Any:
        if path in found:
            return found[path]
        if isinstance(value, types.MethodType) and (*path, 0) in found:
            return found[(*path, 0)]  # (a method's adjoint: its object's)
        if isinstance(value, functools.partial) and any(p[: len(path)] == path for p in found):
            # (a partial's adjoint: the list of its bound values')
            return [build(v, (*path, i)) for i, v in enumerate(rt.partial_args(value))]
        if type(value) in (tuple, list) and any(p[: len(path)] == path for p in found):
            return tuple(build(v, (*path, i)) for i, v in enumerate(value))
        if value is None or callable(value):  # (no tangent, a function: none)
            return None
        return rt.zeros_like(value)

    return tuple(build(a, (i,)) for i, a in enumerate(args))


class _Relaid:
    """A primitive whose value is ``inner``'s, at arguments ``layout`` makes of its own
    (see ``_gather``), so that its rules are ``inner``'s, laid out the same way: the
    forward rule of ``sd.grad(f)``, ``sd.grad`` of ``f``'s derivative along the tangents,
    and its rules in turn, to any order."""

    def __init__(self, inner: Any, layout: tuple, name: str):
        self.inner, self.layout = inner, layout
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args: Any) -> Any:
        return self.inner(*_gather(self.layout, args))

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any) -> tuple:
        grads = self.inner._srcdiff_vjp(g, ans, *_gather(self.layout, args))
        return _scatter(self.layout, tuple(grads), args)

    def _srcdiff_jvp(self, tangents: tuple, ans: Any, *args: Any) -> Any:
        return self.forward()(tangents, ans, *args)

    def forward(self) -> _Relaid:
        """Its forward rule, ``(tangents, ans, *args)``: ``inner``'s, laid out."""
        made = self.__dict__.get("_forward")
        if made is None:
            tangents = [_shifted(e, 0) for e in self.layout]
            layout = (tangents, (1,), *(_shifted(e, 2) for e in self.layout))
            inner = registry.own_rules(self.inner)[1].fn
            made = self.__dict__["_forward"] = _Relaid(inner, layout, f"{self.__name__}_jvp")
        return made

    @property
    def _srcdiff_rules(self) -> tuple:
        return _own_rules(self)


def _shifted(entry: Any, by: int) -> Any:
    """A layout entry (see ``_gather``) into arguments that now start ``by`` later, or
    (``by`` 0) into the tangents of the arguments, given as the first of them."""
    if isinstance(entry, list):
        return [_shifted(e, by) for e in entry]
    return (0, *entry) if by == 0 else (entry[0] + by, *entry[1:])


def _signature_without_bound(target: _Target) -> inspect.Signature:
    """The signature a transform of ``target`` is called with: its function's, less the
    instance of a method (``sd.grad(obj.f)`` takes ``f``'s arguments after ``self``)."""
    signature = own_signature(target.fn)
    params = list(signature.parameters.values())
    return signature.replace(parameters=params[1 if target._self is not None else 0 :])


def grad(
    fn: Callable, wrt: Wrt = 0, *, check_finite: bool = False, warn_kinks: float | None = None
) -> GradientFunction:
    """A function computing the gradient of scalar-valued ``fn`` with respect to the
    argument(s) ``wrt`` (an index, a name, or a tuple of them). With ``check_finite``,
    the adjoint checks each gradient it computes and raises ``sd.NonFiniteError`` at the
    first infinite or NaN one, naming your line and the usual fix. With ``warn_kinks=eps``
    (a distance), the primal measures how far each comparison of differentiated values
    (``if``, ``while``, ``np.where`` masks) and each kink (``np.maximum``, ``abs``,
    ``np.clip``, ``np.max`` and ``np.sort`` ties), in ``fn`` and the functions it calls,
    is from switching, and warns (``sd.KinkWarning``, once per site and call) where it
    is within ``eps``: there the gradient is one-sided. Values and gradients are the same
    either way; without these options the generated code has no checks at all."""
    return GradientFunction(fn, wrt, with_value=False, check_finite=check_finite,
                            warn_kinks=warn_kinks)  # fmt: skip


def value_and_grad(
    fn: Callable, wrt: Wrt = 0, *, check_finite: bool = False, warn_kinks: float | None = None
) -> GradientFunction:
    """Like ``grad``, returning ``(value, gradient)``."""
    return GradientFunction(fn, wrt, with_value=True, check_finite=check_finite,
                            warn_kinks=warn_kinks)  # fmt: skip


def detect_nonfinite() -> contextlib.AbstractContextManager:
    """Within the block, every gradient checks finiteness as ``sd.grad(f,
    check_finite=True)`` does: compiled ones, and eager ``loss.backward()``, whose error
    names the recorded operation."""
    return rt.checking_finite()


class _WeakMethod:
    """A method bound to an instance it does not keep alive."""

    __slots__ = ("__func__", "reference", "__dict__")  # __dict__: only the names of fn

    def __init__(self, fn: Callable, obj: Any):
        self.__func__ = fn
        self.reference = weakref.ref(obj)
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__func__(self.reference(), *args, **kwargs)


_TANGENTS_SHOWN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # sd.source(fn)


class TangentFunction:
    """What ``sd.jvp(fn)`` returns: called with ``(primals, tangents)``, it runs the
    generated forward-mode source of ``fn`` and returns ``(value, tangent)``, the
    derivative of ``fn`` at ``primals`` along ``tangents``; ``sd.source`` shows that
    source."""

    def __init__(self, fn: Callable):
        self._fn = _ufunc_called(fn)
        self._targets: dict[tuple, _Target] = {}
        self._last: Unit | None = None
        _wraps(self, fn)

    def __call__(self, primals: tuple | list, tangents: tuple | list) -> tuple[Any, Any]:
        primals = tuple(primals)
        _refuse_tensors((primals, tuple(tangents)), "sd.jvp", self._fn)
        return self.run(primals, _tangents_as_arrays(primals, tuple(tangents)), {})

    def run(self, primals: tuple, tangents: tuple, kwargs: dict,
            keyword_tangents: dict | None = None) -> tuple[Any, Any]:  # fmt: skip
        """``__call__``, passing ``kwargs`` to ``fn`` too: held constant, apart from those
        ``keyword_tangents`` gives a tangent (keyword-only parameters of ``fn``)."""
        _check_tangents(primals, tangents)
        named = {k: t for k, t in (keyword_tangents or {}).items() if t is not None}
        own = registry.lookup_jvp(self._fn)
        if own is not None and not own.inline:  # sd.grad(f), a user's register_jvp
            if named:
                raise CompileError(
                    f"forward mode of {getattr(self._fn, '__qualname__', self._fn)} along "
                    "a keyword argument: its forward rule takes tangents by position",
                    hint="pass the argument by position",
                )
            value = self._fn(*primals, **kwargs)
            if not kwargs:
                return value, own.fn(tangents, value, *primals)
            if not hasattr(type(self._fn), "_srcdiff_jvp"):
                raise TypeError(
                    f"the forward rule of {getattr(self._fn, '__qualname__', self._fn)} "
                    "takes no keyword arguments: pass them by position"
                )
            return value, self._fn._srcdiff_jvp(tangents, value, *primals, **kwargs)
        wrt = (*(i for i, t in enumerate(tangents) if t is not None), *named)  # None: fixed
        key = (len(primals), wrt, tuple(kwargs))
        target = self._targets.get(key)
        if target is None:
            called = _ufunc_called(self._fn, len(primals), tuple(kwargs))
            target = self._targets[key] = _Target(called, wrt)
        unit, _ = target.unit(target.values(primals, kwargs), primals, kwargs)
        _refuse_updates(unit, "sd.jvp", (*target.bound, *primals), kwargs)
        forward, _ = unit.tangent()
        self._last = unit
        with contextlib.suppress(TypeError):  # (a primitive such as np.sum: not weakly held)
            _TANGENTS_SHOWN[self._fn] = unit  # (a unit holds its function weakly)
        given = {}
        for n, d in zip(unit.wrt, unit.tangent_names, strict=True):
            k = target.names.index(n)
            if target.positions[k] is None:  # a keyword-only parameter
                given[d] = named[n]
            elif target.elements[k] is None:
                given[d] = tangents[target.positions[k]]
            else:  # *args: the tangents of all its entries, zero where held fixed
                start = target.positions[k] - target.elements[k]
                given[d] = tuple(
                    rt.zeros_like(p) if t is None else t
                    for p, t in zip(primals[start:], tangents[start:], strict=True)
                )
        value, tangent = forward(*target.bound, *primals, **kwargs, **given)
        leaves = zip(batching.leaves(value), batching.leaves(tangent), strict=False)
        if any(is_complex(t) and not is_complex(v) for v, t in leaves):
            raise TypeError(
                "jvp: a complex tangent of a real result: srcdiff differentiates real-valued "
                "code; compute with the real and imaginary parts as real arrays"
            )
        return value, _tangent_like(value, tangent)

    def _srcdiff_vjp(self, g: Any, ans: Any, primals: tuple, tangents: tuple) -> tuple:
        """Called inside a differentiated function: see ``_jvp_vjp``."""
        return _jvp_vjp(g, ans, self._fn, primals, tangents)[1:]

    def _srcdiff_jvp(self, tangents: tuple, ans: Any, primals: tuple, inner: tuple) -> Any:
        """Called inside a function taken in forward mode: see ``_jvp_jvp``."""
        return _jvp_jvp((None, *tangents), ans, self._fn, primals, inner)

    def _srcdiff_too_deep(self) -> tuple[str, str]:
        """Its rules differentiated (see ``rt.calls._derivative_inside``)."""
        return _too_deep(self, 2)

    def _srcdiff_source(self) -> str:
        if self._last is None:
            raise RuntimeError(
                f"{self._fn.__qualname__} has not run yet: call it first, then ask for its source"
            )
        return _tangent_source(self._last)


def _tangent_like(value: Any, tangent: Any) -> Any:
    """``tangent`` in the float dtype of ``value`` (entry by entry in a tuple, list or
    dict): a rule computing in float64 (a mask of Python floats, a Python float's
    logarithm) must not promote the tangent of a float32 result, which NumPy keeps."""
    if isinstance(value, (tuple, list)) and type(tangent) is type(value):
        if len(value) != len(tangent):
            return tangent
        entries = [_tangent_like(v, t) for v, t in zip(value, tangent, strict=True)]
        return type(value)(*entries) if hasattr(value, "_fields") else type(value)(entries)
    if isinstance(value, dict) and isinstance(tangent, dict) and set(value) == set(tangent):
        return {k: _tangent_like(value[k], t) for k, t in tangent.items()}
    want = np.dtype(np.float64) if type(value) is float else getattr(value, "dtype", None)
    have = getattr(tangent, "dtype", None)
    if (getattr(want, "kind", None) != "f" or getattr(have, "kind", None) != "f"
            or want == have):  # fmt: skip
        return tangent
    if type(value) is float or isinstance(tangent, np.generic):
        return want.type(tangent)
    return rt.cast_like(tangent, value)


def _tangent_source(unit: Unit) -> str:
    """The forward-mode source ``unit`` ran last, with a header saying how to run it."""
    header = [
        f"# srcdiff: forward mode of {unit.label} along the tangents of {', '.join(unit.wrt)}",
        f"# to run: value, tangent = {unit.parsed.tree.name}_tangent(<args>, "
        f"{', '.join(d + '=<tangent>' for d in unit.tangent_names)})",
    ]
    text = unit.tangent()[1]
    return "\n".join(header + _imports(unit, [text])) + "\n\n\n" + text


def _refuse_updates(unit: Unit, api: str, args: tuple, kwargs: dict) -> None:
    """``api`` does not give the caller's lists and dicts (``args`` and ``kwargs``, as the
    function takes them) what the function would have left in them (``sd.grad`` does):
    it refuses such a function rather than leave them otherwise than a plain call.
    (Arrays are never written into, by design.)"""
    given = {**dict(zip(unit.analysis.params, args, strict=False)), **kwargs}
    if any(isinstance(given.get(n), (list, dict)) for n in unit.updated):
        raise TypeError(
            f"{api} of {unit.fn.__qualname__}, which updates a list or dict it is given in "
            "place: use sd.grad, or pass copies"
        )


def _refuse_tensors(values: Any, api: str, fn: Any) -> None:
    """Refuse Tensors among ``values`` (arguments of ``api``, a transform of functions of
    arrays): their methods and autograd flags are not what its generated code runs on.
    ``sd.grad`` and ``@sd.differentiate`` take Tensors."""
    tensor = rt.tensors.tensor_class()
    if isinstance(values, dict):
        values = list(values.values())
    if isinstance(values, (list, tuple)):
        for v in values:
            _refuse_tensors(v, api, fn)
    elif isinstance(values, tensor):
        raise TypeError(
            f"{api} of {getattr(fn, '__qualname__', fn)} given a Tensor: {api} transforms "
            "functions of arrays. Pass t.detach().numpy() (and make the result a Tensor "
            "again), or differentiate Tensor code with backward() or srcdiff.autograd.grad"
        )


def _check_tangents(primals: tuple, tangents: tuple) -> None:
    """One tangent per primal, each of its primal's shape (a list's, tuple's or dict's
    entry by entry)."""
    if len(primals) != len(tangents):
        raise ValueError(
            f"{len(primals)} primals but {len(tangents)} tangents: give one tangent for each primal"
        )
    for p, t in zip(primals, tangents, strict=True):
        if t is None:
            continue
        if isinstance(p, dict) or isinstance(t, dict):
            if not (isinstance(p, dict) and isinstance(t, dict) and set(t) == set(p)):
                raise ValueError(
                    f"a tangent {type(t).__name__} for a primal {type(p).__name__}: the "
                    "tangent of a dict is a dict of the same keys"
                )
            _check_entries([p[k] for k in p], [t[k] for k in p])
        elif isinstance(p, (list, tuple)) and isinstance(t, (list, tuple)):
            if hasattr(p, "_fields") and type(t) is not type(p):
                raise ValueError(
                    f"a tangent {type(t).__name__} for a named tuple {type(p).__name__}: its "
                    f"tangent is a {type(p).__name__} too"
                )
            if len(t) != len(p):
                raise ValueError(
                    f"a tangent of {len(t)} entries for a primal of {len(p)}: each tangent "
                    "has its primal's structure"
                )
            _check_entries(list(p), list(t))
        elif np.shape(p) != np.shape(t):
            raise ValueError(
                f"a tangent of shape {np.shape(t)} for a primal of shape {np.shape(p)}: each "
                "tangent has its primal's shape"
            )


def _tangents_as_arrays(primals: tuple, tangents: tuple) -> tuple:
    """The tangents, each of an array primal an array of its float dtype: a list or
    tuple of numbers given for an array would otherwise run as a Python list (``d_x *
    2`` repeating it, ``d_x + d_y`` joining two), an integer one give an integer
    tangent, and a number given for a 0-d array meet array methods (``d_x.tolist()``).
    Entries of containers are taken one by one; other tangents pass as given."""
    if len(primals) != len(tangents):
        return tangents  # (refused by _check_tangents)

    def like(p: Any, t: Any) -> Any:
        if t is None:
            return t
        if isinstance(p, dict) and isinstance(t, dict) and set(p) == set(t):
            return {k: like(p[k], t[k]) for k in t}
        if isinstance(p, (list, tuple)) and isinstance(t, (list, tuple)) and len(p) == len(t):
            entries = [like(a, b) for a, b in zip(p, t, strict=True)]
            return type(t)(*entries) if hasattr(t, "_fields") else type(t)(entries)
        if not is_array(p) or p.dtype.kind != "f":
            return t
        if isinstance(t, (list, tuple)) or (
            is_array(t) and t.dtype.kind in "biu" and np.shape(t) == np.shape(p)
        ):
            return array_module(p).asarray(t, dtype=p.dtype)
        if isinstance(t, (int, float, np.number)) and not isinstance(t, bool) and p.ndim == 0:
            return array_module(p).asarray(t, dtype=p.dtype)  # (a number for a 0-d array)
        return t

    return tuple(like(p, t) for p, t in zip(primals, tangents, strict=True))


def _check_entries(primals: list, tangents: list) -> None:
    """The entries of a list's (tuple's, dict's) tangent: one per entry, none None."""
    if any(t is None for t in tangents):
        raise ValueError(
            "a tangent None inside a list, tuple or dict: give the entries held fixed a "
            "zero tangent (np.zeros_like)"
        )
    _check_tangents(tuple(primals), tuple(tangents))


def jvp(fn: Callable, primals: tuple | list | None = None, tangents: tuple | list | None = None
        ) -> Any:  # fmt: skip
    """Forward mode: ``sd.jvp(fn, primals, tangents)`` is ``(fn(*primals), J @ tangents)``,
    computed by generated tangent source (one pass, nothing saved, branches and loops as
    written); ``sd.jvp(fn)`` is the function doing it, whose source ``sd.source`` shows."""
    forward = TangentFunction(fn)
    if primals is None and tangents is None:
        return forward
    if primals is None or tangents is None:
        raise TypeError("jvp takes fn, primals and tangents (or fn alone)")
    return forward(primals, tangents)


def vjp(fn: Callable, *primals: Any) -> tuple[Any, Callable[[Any], tuple]]:
    """Reverse mode for any result: ``(fn(*primals), vjp_fn)``, where ``vjp_fn(u)`` is
    the tuple of ``u``'s pulled-back gradients, one per primal (``u`` shaped like the
    result). ``vjp_fn`` may be called many times: the primal runs once."""
    _refuse_tensors(primals, "sd.vjp", fn)  # (sd.jacobian refuses them before its _vjp)
    return _vjp(fn, primals, tuple(range(len(primals))))


def _vjp(
    fn: Callable,
    primals: tuple,
    wrt: tuple[int, ...],
    kwargs: dict | None = None,
    api: str = "sd.vjp",
) -> tuple[Any, Callable]:
    """``vjp`` with respect to the positional arguments ``wrt``, passing ``kwargs`` too
    (``api``: what the caller called, for its refusals)."""
    kwargs = kwargs or {}
    if isinstance(fn, MappedFunction):  # differentiated by its rule, as in a call of it
        fn = rt.primitive_function(fn, len(primals), tuple(kwargs))
    fn = _ufunc_called(fn, len(primals), tuple(kwargs))
    # the pull-back reads the arrays the primal saved: copies of the caller's, so that it
    # pulls back at the values given here whatever the caller writes into them meanwhile
    primals = tuple(_tree_map(_own_array, p) for p in primals)
    kwargs = {k: _tree_map(_own_array, v) for k, v in kwargs.items()}
    target = _Target(fn, wrt)
    unit, _ = target.unit(target.values(primals, kwargs), primals, kwargs)
    _refuse_updates(unit, api, (*target.bound, *primals), kwargs)  # (before it runs)
    value, state = target.forward(primals, kwargs)

    def vjp_fn(cotangent: Any) -> tuple:
        shapes = [np.shape(leaf) for leaf in batching.leaves(cotangent)]
        if shapes != [np.shape(leaf) for leaf in batching.leaves(value)]:
            raise ValueError(
                f"vjp: a cotangent of shape(s) {shapes} for a result of shape(s) "
                f"{[np.shape(leaf) for leaf in batching.leaves(value)]}"
            )
        if any(map(is_complex, [*batching.leaves(cotangent), *batching.leaves(value)])):
            raise TypeError(
                "vjp: a complex result or cotangent; srcdiff differentiates real-valued "
                "functions (pull back its real and imaginary parts apart)"
            )
        return target.backward(state, cotangent)

    vjp_fn._srcdiff_source = target.source  # sd.source: the latest pull-back's
    return value, vjp_fn


class _VjpRules:
    """The owner (see ``_Delegate``) of the pull-back that ``sd.vjp`` gives inside a
    function being differentiated: ``pullback(fn, primals, u)`` is the gradient, in the
    primals, of ``<u, fn(*primals)>`` (a function of source), at the primals and ``u``;
    so its derivatives are a gradient's, to any order."""

    __name__ = "vjp_pullback"
    names = ("fn", "primals", "cotangent")  # (the cotangent may be passed by name)

    def _relaid(self, args: tuple, kwargs: dict) -> _Relaid | None:
        if kwargs or len(args) != 3:
            return None
        primals, u = tuple(args[1]), args[2]
        # (of a partial, a lambda reading differentiated values: they are arguments too)
        spread = _bound_as_primals(args[0], primals)
        fn = spread[0] if spread is not None else _plain_call(args[0], objects=False)
        bound, positions = spread[1:] if spread is not None else ((), ())
        held: tuple = ()  # (a method's object, or a callable object: an argument first)
        if spread is None and (method := rt.objects._method_of_record(args[0])) is not None:
            fn, held = method[0], (method[1],)
        parts = u if type(u) is tuple else (u,)
        if fn is None or not primals or not all(map(_inexact, (*bound, *primals, *parts))):
            return None
        n, k = len(primals), len(bound) + len(held)
        on_object = [(0, 0)] if isinstance(args[0], types.MethodType) else [(0,)]
        fn_layout = tuple(on_object if held else ((0, i) for i in positions))

        def make() -> _Relaid:
            params = ", ".join([*(f"c{i}" for i in range(k)), *(f"a{i}" for i in range(n))])
            products = (" + ".join(f"np.sum(u[{j}] * out[{j}])" for j in range(len(parts)))
                        if type(u) is tuple else "np.sum(u * out)")  # fmt: skip
            source = (f"def vjp_pulled({params}, u, /):\n    out = _fn({params})\n"
                      f"    return {products}\n")  # fmt: skip
            shown = getattr(args[0], "__qualname__", None) or type(args[0]).__name__
            pulled = rt.function_of_source(source, f"a pull-back of {shown}", "vjp_pulled",
                                           {"_fn": fn, "np": np})  # fmt: skip
            layout = (*fn_layout, *((1, i) for i in range(n)), (2,))
            gradient = GradientFunction(pulled, tuple(range(k, k + n)), False)
            return _Relaid(gradient, layout, "vjp")

        key = (fn, positions, fn_layout, n, len(parts) if type(u) is tuple else None)
        return _relaid_made(self, key, make)

    def _fallback(self, depth: int, pull: tuple | None, args: tuple, kwargs: dict) -> Any:
        """The pull-back's value, taken as outside compiled code; its derivatives, of a
        method or callable object, or at values that are not floats, refused."""
        if depth == 0 and pull is None:
            fn, primals, u = args
            return vjp(fn, *primals)[1](u, **kwargs)
        fn = args[0] if args else None
        if isinstance(fn, functools.partial):  # (a closure reading differentiated values)
            raise _refused_at_call(
                fn,
                "a derivative through sd.vjp's pull-back of a functools.partial (or of a "
                "lambda or closure defined in the function being differentiated, reading a "
                "value that carries a derivative, which srcdiff holds as one)",
                "pass sd.vjp a function defined at module level, taking those values as arguments",
            )
        if isinstance(fn, types.MethodType) or _plain_call(fn, objects=False) is None:
            shown = getattr(fn, "__qualname__", None) or f"an object of {type(fn).__name__}"
            raise _refused_at_call(
                fn,
                f"a derivative through sd.vjp's pull-back of {shown} (a method or a callable "
                "object, whose fields the pull-back would not follow), inside a function "
                "being differentiated",
                "pass sd.vjp a function calling it (sd.vjp(lambda x: obj.f(x), x))",
            )
        primals = tuple(args[1]) if len(args) > 1 and isinstance(args[1], tuple) else ()
        if any(isinstance(p, functools.partial) or callable(p) for p in primals):
            raise _refused_at_call(
                fn,
                "a derivative through sd.vjp's pull-back, inside a function being "
                "differentiated, of a primal that is a function (a functools.partial)",
                "give sd.vjp the values the partial binds as primals of a function calling "
                "the partial's function with them (sd.vjp(lambda x, a: np.sum(g(x, a=a) ** 2), "
                "x, a) for f(x, partial(g, a=a)) = np.sum(g(x, a=a) ** 2))",
            )
        raise _refused_at_call(
            fn,
            "a derivative through sd.vjp's pull-back, inside a function being differentiated, "
            "at values (primals, cotangent) that are not float arrays or numbers",
            "pass float arrays (x.astype(float))",
        )


def _vjp_of_source() -> Callable:
    """``sd.vjp`` as compiled code runs it (``rt.calls._target``): a function of source
    giving ``fn``'s value and, as the pull-back, a ``functools.partial`` of a primitive
    holding ``fn`` and the primals (see ``_VjpRules``), which the compiler follows."""
    source = "def vjp(fn, *primals):\n    return fn(*primals), _partial(_pullback, fn, primals)\n"
    pullback = _Delegate(_VjpRules(), 0)
    pullback._srcdiff_too_deep = _vjp_too_deep  # type: ignore[attr-defined]
    pullback._srcdiff_names = _VjpRules.names  # type: ignore[attr-defined]
    pullback._srcdiff_spreads_partials = True  # type: ignore[attr-defined]
    namespace = {"_partial": functools.partial, "_pullback": pullback}
    made = rt.function_of_source(source, "sd.vjp", "vjp", namespace)
    made._srcdiff_vjp_source = True  # (see rt.objects._vjp_source_tangent_vjp)
    return made


def _vjp_too_deep() -> tuple[str, str]:
    """The refusal of a derivative of a derivative through ``sd.vjp``'s pull-back where a
    call hands it on as a value (see ``rt.objects._no_partial_passed``)."""
    return (
        "a derivative of a derivative through the pull-back of sd.vjp called inside a "
        "differentiated function, passed to another function or called with keywords and a "
        "starred list together (srcdiff follows it to any order where it is called with "
        "the cotangent by position, by name or in a starred list)",
        "write the pull-back of u as the gradient of a function of your own (def pulled(x, "
        "u): return np.sum(u * f(x)); then sd.grad(pulled)(x, u)), which goes to any order",
    )


vjp._srcdiff_target = _vjp_of_source()  # type: ignore[attr-defined]


def _own_array(v: Any) -> Any:
    """A copy of ``v`` where it is an array (NumPy's, CuPy's), else ``v``."""
    return v.copy() if is_array(v) else v


def _tree_map(f: Callable, *trees: Any) -> Any:
    """``f`` of the leaves of ``trees`` (one structure), in that structure."""
    first = trees[0]
    if isinstance(first, (tuple, list)):
        mapped = [_tree_map(f, *parts) for parts in zip(*trees, strict=True)]
        return type(first)(*mapped) if hasattr(first, "_fields") else type(first)(mapped)
    if isinstance(first, dict):
        return {k: _tree_map(f, *(t[k] for t in trees)) for k in first}
    return f(*trees)


def _changes_nothing(fn: Any, args: tuple) -> bool:
    """Whether ``fn`` (or the function a gradient of it differentiates) is pure as the
    compiler sees it for ``args``: it changes nothing but objects it made itself (no
    global, closure variable, argument or their items written into, no random draw, only
    pure callees), so running it once on a whole batch does what running it once per
    example does."""
    target = fn._fn if isinstance(fn, GradientFunction) else fn
    if not isinstance(target, types.FunctionType):
        return False
    names = target.__code__.co_varnames[: target.__code__.co_argcount]
    kinds = {n: "array" for n, a in zip(names, args, strict=False) if isinstance(a, np.ndarray)}
    try:
        return unit_for(target, (), kinds, np).analysis.pure and runs_as_one_example(target)
    except Exception:  # srcdiff cannot compile it: the loop runs it as Python does
        return False


def _several_results() -> CompileError:
    """The refusal of a map, inside code differentiated on Tensors, of a function
    returning a dict, or a tuple or list holding containers, or whose ``out_axes`` has
    another number of entries: each result Tensor of a tuple is joined by ``sd.stack``."""
    return rt.refuse(
        "sd.vmap inside a function differentiated on Tensors of a function returning a "
        "dict, nested tuples or lists, or with out_axes not one per result (srcdiff joins "
        "each Tensor of a tuple or list there)",
        "return the Tensors in one tuple, give out_axes one int per result, or call sd.vmap "
        "outside the @sd.differentiate function",
    )


def _structure(value: Any) -> Any:
    """The layout of a list, tuple or dict argument (its lengths and keys), for which a
    map's function of source is made; None for anything else."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _structure(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(map(_structure, value)))
    return None


class MappedFunction:
    """What ``sd.vmap(fn, in_axes, out_axes)`` returns: ``fn`` of each slice of the
    mapped arguments along their axis, the results stacked along ``out_axes``.

    ``fn`` runs once on the whole batch where every step it takes has a batching rule
    (``srcdiff/batching.py``: elementwise, reductions, products, shapes, indexing; for
    ``vmap(grad(loss))`` the gradient compiled for one example, run on the batch), else
    once per example (control flow on data, steps with no rule), which is always right.
    Given Tensors, the examples' results are joined by ``sd.stack`` (recorded for
    ``backward()``). Called inside a differentiated function, its derivatives are the mapped
    derivatives of ``fn`` (``_srcdiff_vjp`` and ``_srcdiff_jvp``)."""

    def __init__(self, fn: Callable, in_axes: Any = 0, out_axes: Any = 0):
        self._fn = fn
        self._in_axes = _axes_given(in_axes, "in_axes")
        self._out_axes = _axes_given(out_axes, "out_axes")
        self._last_batched: bool | None = None  # whether the latest call ran batched
        _wraps(self, fn)

    def _axes(self, args: tuple) -> list[int | None]:
        """The mapped axis of each argument (None: the same for every example)."""
        axes = self._in_axes
        if not isinstance(axes, (tuple, list)):
            axes = [axes] * len(args)
        if len(axes) != len(args):
            raise ValueError(
                f"vmap: in_axes has {len(axes)} entries for {len(args)} arguments: give one "
                "per positional argument (None for those not mapped)"
            )
        return list(axes)

    def _size(self, args: tuple, axes: list[int | None]) -> int:
        """The number of examples: the length of every mapped array along its axis."""
        sizes = {}
        for i, (a, axis) in enumerate(zip(args, axes, strict=True)):
            for leaf in batching.leaves(a) if axis is not None else ():
                ndim = np.ndim(leaf)
                if not -ndim <= axis < ndim:
                    raise ValueError(
                        f"vmap: in_axes={axis} for argument {i}, which has {ndim} dimensions"
                    )
                sizes.setdefault(np.shape(leaf)[axis], i)
        if not sizes:
            raise ValueError("vmap: no argument is mapped: give an axis in in_axes")
        if len(sizes) > 1:
            found = ", ".join(f"{n} (argument {i})" for n, i in sizes.items())
            raise ValueError(f"vmap: the mapped axes have different lengths: {found}")
        (size,) = sizes
        if size == 0:
            raise ValueError("vmap: the mapped axes are empty: no example to map")
        return size

    @staticmethod
    def _slice(args: tuple, axes: list[int | None], b: int) -> tuple:
        """Example ``b`` of each argument (views of the mapped arrays)."""
        return tuple(
            a if axis is None else _example(a, axis, b) for a, axis in zip(args, axes, strict=True)
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(leaf, batching.Batched) for leaf in batching.leaves((args, kwargs))):
            # mapped inside a batched map: the outer map runs its examples one by one
            raise batching.NotBatchable("a map inside a batched map")
        axes = self._axes(args)
        size = self._size(args, axes)
        done, out = self._batched_call(args, kwargs, axes, size)
        self._last_batched = done
        if done:
            return out
        outs = [self._fn(*self._slice(args, axes, b), **kwargs) for b in range(size)]
        mapped = [a for a, axis in zip(args, axes, strict=True) if axis is not None]
        return _stack(outs, self._out_axes, batching.leaves(mapped))

    def _srcdiff_examples(self, args: tuple, kwargs: dict) -> Callable:
        """What code differentiated on Tensors calls for this map (``rt.call``): a function
        of source calling ``fn`` on each example and joining the results with
        ``sd.stack``, compiled as that code's callees are, so that the gradient reaches
        the Tensors ``fn`` reads as well as its arguments."""
        axes = self._axes(args)
        self._size(args, axes)  # (checked as a call outside does)
        out = self._out_axes
        outs_given = out if isinstance(out, (tuple, list)) else (out,)
        if any(o is None for o in outs_given):
            raise rt.refuse(
                "sd.vmap called inside a function differentiated on Tensors with out_axes "
                f"{out!r}: a result every example shares carries the gradient of one "
                "example's values, which srcdiff cannot tell from the others' there",
                "map the result (out_axes=0) and take its first entry, or call sd.vmap "
                "outside the @sd.differentiate function",
            )
        key = (len(args), tuple(axes), tuple(map(_structure, args)), out, tuple(kwargs))
        made = self.__dict__.setdefault("_srcdiff_made", {}).get(key)
        if made is None:
            params = [f"a{i}" for i in range(len(args))]

            def taken(axis: int) -> str:
                where = [":"] * axis + ["b"] if axis >= 0 else ["...", "b", *[":"] * (-axis - 1)]
                return f"[{', '.join(where)}]"

            def example(text: str, value: Any, axis: int | None) -> str:
                """The source of example ``b`` of ``value`` (written ``text``): each
                Tensor of a list, tuple or dict taken along ``axis``."""
                if axis is None:
                    return text
                if isinstance(value, dict):
                    entries = (f"{k!r}: {example(f'{text}[{k!r}]', v, axis)}"
                               for k, v in value.items())  # fmt: skip
                    return "{" + ", ".join(entries) + "}"
                if isinstance(value, (tuple, list)):
                    entries = [example(f"{text}[{j}]", v, axis) for j, v in enumerate(value)]
                    body = ", ".join(entries) + ("," if len(entries) == 1 else "")
                    return f"({body})" if isinstance(value, tuple) else f"[{body}]"
                return text + taken(axis)

            def leaf(text: str, value: Any) -> str | None:
                """The source of the first Tensor in ``value``, the batch's size's (None:
                it holds only empty containers)."""
                if not isinstance(value, (tuple, list, dict)):
                    return text
                keys = value if isinstance(value, dict) else range(len(value))
                found = (leaf(f"{text}[{k!r}]", value[k]) for k in keys)
                return next((t for t in found if t is not None), None)

            first, sized = next(
                (i, text)
                for i, a in enumerate(axes)
                if a is not None and (text := leaf(params[i], args[i])) is not None
            )  # (the size checked: some mapped argument holds a Tensor)
            passed = [example(params[i], args[i], a) for i, a in enumerate(axes)]
            passed += [f"{k}={k}" for k in kwargs]
            signature = ", ".join([*params, "/", *(["*", *kwargs] if kwargs else [])])
            source = (
                f"def vmap_examples({signature}):\n"
                f"    outs = [_fn({', '.join(passed)}) for b in range("
                f"{sized}.shape[{axes[first]}])]\n"
                "    first = outs[0]\n"
                "    if isinstance(first, (tuple, list)):\n"
                "        if len(_out) > 1 and len(_out) != len(first) or any(\n"
                "                [isinstance(e, (tuple, list, dict)) for e in first]):\n"
                "            raise _several()\n"
                "        joined = [_stack([o[j] for o in outs], dim=_out[j % len(_out)])\n"
                "                  for j in range(len(first))]\n"
                "        if isinstance(first, tuple):\n"
                "            return tuple(joined)\n"
                "        return joined\n"
                "    if isinstance(first, dict):\n"
                "        raise _several()\n"
                "    return _stack(outs, dim=_out[0])\n"
            )
            from .functions import stack

            made = self._srcdiff_made[key] = rt.function_of_source(
                source, f"sd.vmap of {getattr(self._fn, '__qualname__', 'a function')}",
                "vmap_examples", {"_fn": self._fn, "_stack": stack, "_out": (*outs_given,),
                                  "_several": _several_results},
            )  # fmt: skip
        return made

    def _batched_call(self, args: tuple, kwargs: dict, axes: list, size: int) -> tuple[bool, Any]:
        """``fn`` run once on the whole batch (see ``srcdiff/batching.py``): ``(True,
        result)``, or ``(False, None)`` where some step has no batching rule."""
        if not _changes_nothing(self._fn, args):
            return False, None  # what it changes outside must change once per example
        call = None
        if isinstance(self._fn, GradientFunction):
            if kwargs:
                return False, None
            try:
                first, last = self._slice(args, axes, 0), self._slice(args, axes, size - 1)
                call = batching.gradient_call(self._fn, first, last, size)
            except Exception:  # no batching: the loop gives the result, or the error
                return False, None
        return batching.run(self._fn, args, kwargs, axes, size, self._out_axes, call)

    @property
    def _srcdiff_rules(self) -> tuple:
        """Its reverse rule, and its forward rule as an object with rules of its own, so
        that forward-mode source calling the map is differentiated again (see
        ``_MappedTangent``); made when first asked for (``registry.own_rules``)."""
        return _transform_rules(self, _MappedTangent)

    @_srcdiff_rules.setter
    def _srcdiff_rules(self, value: tuple) -> None:
        self.__dict__["_rules"] = value

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any, **kwargs: Any) -> tuple:
        """The mapped pullback: each example's gradients, stacked along the argument's
        axis where it is mapped and summed where it is shared (keywords are every
        example's)."""
        axes, size = self._mapped_for_derivatives(args)
        fn = functools.partial(self._fn, **kwargs) if kwargs else self._fn
        floats = tuple(i for i, a in enumerate(args)
                       if _differentiable(a) or axes[i] is None and _binds_floats(a))  # fmt: skip
        per_example = []
        own = getattr(type(self._fn), "_srcdiff_vjp", None)  # sd.vmap(sd.grad(f)): its rule
        for b in range(size):
            example, ans_b = self._slice(args, axes, b), _example(ans, self._out_axes, b)
            g_b = _tree_map(_spread, _example(g, self._out_axes, b), ans_b)
            if own is not None:
                grads_b = own(self._fn, g_b, ans_b, *example, **kwargs)
                per_example.append(tuple(grads_b[i] for i in floats))
                continue
            _, pull = _vjp(fn, example, floats, api="sd.vmap")
            per_example.append(pull(g_b))
        grads: list = [None] * len(args)
        for k, i in enumerate(floats):
            parts = [grads_b[k] for grads_b in per_example]
            if axes[i] is None:
                grads[i] = _tree_map(lambda *p: sum(p[1:], p[0]), *parts)
            else:
                grads[i] = _stack(parts, axes[i])
        for i, a in enumerate(args):
            if i not in floats and _holds_floats(a):
                grads[i] = rt.NoGradient(
                    f"a gradient through sd.vmap of {getattr(self._fn, '__qualname__', 'fn')} "
                    f"in its argument {i}, a {type(a).__name__} (an object's fields, or floats "
                    "beside integers or strings), which srcdiff does not compute",
                    "pass the arrays the gradient must reach as arguments of their own",
                )
        return tuple(grads)

    def _srcdiff_jvp(self, tangents: tuple, ans: Any, *args: Any, **kwargs: Any) -> Any:
        """The mapped forward mode: each example's tangent, stacked like the result."""
        axes, size = self._mapped_for_derivatives(args)
        fn = functools.partial(self._fn, **kwargs) if kwargs else self._fn
        tangent_axes = [a if t is not None else None for a, t in zip(axes, tangents, strict=True)]
        own = getattr(type(self._fn), "_srcdiff_jvp", None)  # sd.vmap(sd.grad(f)): its rule
        outs = []
        for b in range(size):
            example, t_b = self._slice(args, axes, b), self._slice(tangents, tangent_axes, b)
            if own is not None:
                ans_b = _example(ans, self._out_axes, b)
                outs.append(own(self._fn, t_b, ans_b, *example, **kwargs))
            else:
                outs.append(jvp(fn, example, t_b)[1])
        return _stack(outs, self._out_axes)

    def _tangent_vjp(self, args: tuple, kwargs: dict, tangents: tuple, cotangent: tuple
                     ) -> Pullback:  # fmt: skip
        """Reverse mode over the mapped forward mode (``tangent_vjp``, a second derivative
        through the map): each example's, the pull-backs stacked along the argument's
        axis where it is mapped and summed where it is shared (keywords are every
        example's, and held constant, as the mapped derivatives hold them)."""
        axes, size = self._mapped_for_derivatives(args)
        tangents = tuple(tangents) + (None,) * (len(args) - len(tuple(tangents)))
        tangent_axes = [a if t is not None else None for a, t in zip(axes, tangents, strict=True)]
        g_value, g_tangent = cotangent
        if any(g is _SEED or callable(g) for g in cotangent):
            name = getattr(self._fn, "__qualname__", "vmap")
            raise CompileError(
                f"a second derivative through sd.vmap({name}) seeded on its stacked result",
                function=name,
                hint="reduce the mapped result (np.sum) before differentiating it again",
            )
        per_example = []
        for b in range(size):
            cotangent_b = tuple(None if g is None else _example(g, self._out_axes, b)
                                for g in (g_value, g_tangent))  # fmt: skip
            per_example.append(tangent_vjp(
                self._fn, self._slice(args, axes, b), kwargs,
                self._slice(tangents, tangent_axes, b), cotangent_b, keyword_grads=False,
            ))  # fmt: skip

        def gathered(parts: list, axis: int | None) -> Any:
            if all(p is None for p in parts):
                return None
            like = next(p for p in parts if p is not None)
            parts = [rt.zeros_like(like) if p is None else p for p in parts]
            if axis is None:
                return _tree_map(lambda *p: sum(p[1:], p[0]), *parts)
            return _stack(parts, axis)

        outputs = tuple(_stack([p.outputs[k] for p in per_example], self._out_axes)
                        for k in range(2))  # fmt: skip
        d_tangents = tuple(
            None if t is None else gathered([p.d_tangents[i] for p in per_example], axes[i])
            for i, t in enumerate(tangents)
        )
        d_args = tuple(gathered([p.d_args[i] for p in per_example], axes[i])
                       for i in range(len(args)))  # fmt: skip
        return Pullback(outputs, d_tangents, d_args, {}, dict.fromkeys(kwargs))

    def _mapped_for_derivatives(self, args: tuple) -> tuple[list[int | None], int]:
        """The axes and the number of examples, for a derivative: a result shared by the
        examples (``out_axes=None``) has no one derivative, so it is refused."""
        outs = self._out_axes if isinstance(self._out_axes, (tuple, list)) else [self._out_axes]
        if any(axis is None for axis in outs):
            raise _refused_at_call(
                self._fn,
                f"a derivative of sd.vmap({getattr(self._fn, '__qualname__', 'f')}) with "
                "out_axes=None",
                "map the result (out_axes=0) and take its first entry",
            )
        axes = self._axes(args)
        return axes, self._size(args, axes)


def _mapped_too_deep(mapped: MappedFunction) -> tuple[str, str]:
    """The refusal of a derivative through ``mapped`` of an order its rules do not
    follow: what, and what to do."""
    shown, _, _ = _derivative_of(mapped)
    return (
        f"a third derivative through {shown} called with keyword arguments, or mapping a "
        "method or a callable object",
        "pass the arguments by position (None in in_axes for those every example shares), "
        "and map a function (a lambda calling the method)",
    )


class _MappedTangent(_TransformTangent):
    """The forward rule of ``sd.vmap(f)`` (``MappedFunction._srcdiff_jvp``), which the
    forward-mode source of a function calling the map calls: ``rule(tangents, ans,
    *args)``. Its own derivatives are each example's: reverse mode over ``f``'s forward
    mode (``MappedFunction._tangent_vjp``), and forward mode over it, which is linear
    in the tangents (``_directional``)."""

    kind, suffix = "mapped function", "mapped_jvp"

    @property
    def _mapped(self) -> MappedFunction:
        return self._transform

    def _srcdiff_too_deep(self) -> tuple[str, str]:
        """Its rules differentiated (see ``rt.calls._derivative_inside``)."""
        return _mapped_too_deep(self._mapped)

    @property
    def _srcdiff_rules(self) -> tuple:
        """Its rules: those of ``_Delegate(self, 0)``, so at every order."""
        return _delegated_rules(self)

    def _relaid(self, args: tuple, kwargs: dict) -> _Relaid | None:
        """This rule at ``args`` (``(tangents, ans, *x)``) as ``sd.vmap`` of ``phi``,
        ``f``'s derivative along the tangents (``_along``), each tangent mapped as its
        argument is: so its derivatives are a map's again, to any order. None where the
        map takes keywords or ``f`` is none of what ``_plain_call`` calls."""
        mapped = self._mapped
        fn = _plain_call(mapped._fn)
        if fn is None or kwargs or len(args) < 3:
            return None
        axes = tuple(mapped._axes(args[2:]))
        return self._relaid_along(
            fn, args, axes, lambda phi, given: MappedFunction(
                phi, (*axes, *(axes[k] for k in given)), mapped._out_axes)
        )  # fmt: skip

    def _refusal(self, depth: int, pull: tuple | None) -> tuple[str, str]:
        return _mapped_too_deep(self._mapped)

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any, **kwargs: Any) -> tuple:
        """The rule's pull-back (see ``_Delegate``)."""
        return _Delegate(self, 0)._srcdiff_vjp(g, ans, *args, **kwargs)

    def _pulled_back(self, g: Any, ans: Any, tangents: tuple, ans_f: Any, *args: Any,
                     **kwargs: Any) -> tuple:  # fmt: skip
        """The rule's pull-back: to ``tangents`` (a tuple, one per argument), to the map's
        value ``ans_f`` (none: the rule reads it for its shape only) and to ``args``."""
        tangents = tuple(tangents) + (None,) * (len(args) - len(tuple(tangents)))
        pulled = self._mapped._tangent_vjp(args, kwargs, tangents, (None, g))
        d_tangents = tuple(rt.zeros_like(t) if d is None else d
                           for t, d in zip(tangents, pulled.d_tangents, strict=True))  # fmt: skip
        d_args = [rt.zeros_like(a) if d is None else d
                  for a, d in zip(args, pulled.d_args, strict=True)]  # fmt: skip
        return (d_tangents, rt.zeros_like(ans_f), *d_args)

    def _srcdiff_jvp(self, d: tuple, ans: Any, tangents: tuple, ans_f: Any, *args: Any,
                     **kwargs: Any) -> Any:  # fmt: skip
        """The rule's tangent along ``d`` (the tangents of ``tangents``, of ``ans_f`` and
        of each of ``args``), each example's: along the arguments' tangents, that of
        ``f``'s derivative along ``tangents``; along the tangents' own, ``f``'s."""
        mapped = self._mapped
        d_tangents, _, *d_args = d
        axes, size = mapped._mapped_for_derivatives(args)
        fn = functools.partial(mapped._fn, **kwargs) if kwargs else mapped._fn
        n = len(args)
        tangents = tuple(tangents) + (None,) * (n - len(tuple(tangents)))
        d_tangents = tuple(d_tangents or ()) + (None,) * (n - len(tuple(d_tangents or ())))
        d_args = tuple(d_args) + (None,) * (n - len(d_args))

        def along(values: tuple) -> list:
            return [a if v is not None else None for a, v in zip(axes, values, strict=True)]

        outs = []
        for b in range(size):
            example = mapped._slice(args, axes, b)
            t_b = mapped._slice(tangents, along(tangents), b)
            parts = []
            if any(t is not None for t in d_args):
                da_b = mapped._slice(d_args, along(d_args), b)
                parts.append(jvp(_directional(fn, t_b), example, da_b)[1])
            if any(t is not None for t in d_tangents):
                dt_b = mapped._slice(d_tangents, along(d_tangents), b)
                parts.append(jvp(fn, example, dt_b)[1])
            ans_b = _example(ans, mapped._out_axes, b)
            outs.append(sum(parts[1:], parts[0]) if parts else rt.zeros_like(ans_b))
        return _stack(outs, mapped._out_axes)


def _axes_given(axes: Any, name: str) -> Any:
    """``in_axes`` or ``out_axes`` as given (an axis, or a tuple or list of them), each
    axis an int or None: NumPy's integers as ints, a bool refused (not an axis)."""

    def axis(a: Any) -> int | None:
        if a is None:
            return None
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"vmap: {name} entries are ints or None, not {a!r}")
        return int(a)

    if isinstance(axes, (tuple, list)):
        return type(axes)(axis(a) for a in axes)
    return axis(axes)


def _stack(outs: list, axes: Any, mapped: list | None = None) -> Any:
    """The examples' results (one structure) as one, stacked along ``axes`` (an int, None
    for a result every example shares, or one entry per part of a tuple result).
    ``mapped``: the mapped arguments' leaves (Tensors among them), where known: a shared
    result (``None``) whose graph reaches none of them is every example's, as in
    PyTorch's ``torch.func.vmap``."""
    if isinstance(axes, (tuple, list)):
        if not isinstance(outs[0], (tuple, list)) or len(axes) != len(outs[0]):
            raise ValueError("vmap: out_axes as a tuple needs a tuple result of that length")
        return type(outs[0])(
            _stack([o[k] for o in outs], axis, mapped) for k, axis in enumerate(axes)
        )

    tensor = rt.tensors.tensor_class()

    def stack(*examples: Any) -> Any:
        tensors = [e for e in examples if isinstance(e, tensor)]
        if axes is None:
            carried = [t for t in tensors if t.requires_grad]
            if carried and (mapped is None or _reaches_any(carried, mapped)):
                raise ValueError(
                    "vmap: out_axes=None for a result that carries a gradient from a mapped "
                    "argument: one example's would stand for all. Map it (out_axes=0) and "
                    "take its first entry"
                )
            plain = [e._data if isinstance(e, tensor) else e for e in examples]
            if any(not _same_value(e, plain[0]) for e in plain[1:]):
                raise ValueError(
                    "vmap: out_axes=None but the result differs from example to example"
                )
            return examples[0]
        ndim = np.ndim(examples[0]) + 1
        if not -ndim <= axes < ndim:
            raise ValueError(f"vmap: out_axes={axes} for results of {ndim - 1} dimensions")
        if tensors:  # eager Tensor code: sd.stack records the join, for backward()
            from .functions import stack as stack_tensors

            return stack_tensors(examples, dim=axes)
        xp = array_module(*examples)
        return xp.stack([xp.asarray(e) for e in examples], axis=axes)

    return _tree_map(stack, *outs)


def _same_value(a: Any, b: Any) -> bool:
    """Whether two examples' results are equal, NaN in the same places counting equal."""
    try:
        return bool(np.array_equal(a, b, equal_nan=True))
    except TypeError:  # (entries NaN has no meaning for)
        return bool(np.array_equal(a, b))


def _spread(g: Any, ans: Any) -> Any:
    """An example's cotangent of ``ans`` from the batch's: None (an unused result's) as
    zeros; a number where the result is an array, spread over its shape."""
    if g is None:
        return rt.zeros_like(ans)
    if np.ndim(g) == 0 and np.ndim(ans):
        return array_module(g).broadcast_to(g, np.shape(ans))
    return g


def _reaches_any(results: list, mapped: list) -> bool:
    """Whether the graph of any of the Tensors ``results`` reaches one of the Tensors
    among ``mapped`` (a leaf, or the node that made it)."""
    from .autograd import LEAF, NODE

    tensor = rt.tensors.tensor_class()
    targets = [m for m in mapped if isinstance(m, tensor) and m.requires_grad]
    leaves = {id(m) for m in targets if m.grad_fn is None}
    nodes = {id(m.grad_fn) for m in targets if m.grad_fn is not None}
    todo = [t.grad_fn for t in results if t.grad_fn is not None]
    if any(id(t) in leaves for t in results):
        return True
    seen: set[int] = set()
    while todo:
        node = todo.pop()
        if id(node) in nodes:
            return True
        if id(node) in seen:
            continue
        seen.add(id(node))
        for arg in getattr(node, "args", ()):
            if arg.kind == LEAF and id(arg.ref) in leaves:
                return True
            if arg.kind == NODE:
                todo.append(arg.ref)
    return False


def _example(stacked: Any, axes: Any, b: int) -> Any:
    """Example ``b`` of a result stacked along ``axes`` (what ``_stack`` made)."""
    if isinstance(axes, (tuple, list)):
        return type(stacked)(
            _example(part, axis, b) for part, axis in zip(stacked, axes, strict=True)
        )
    # (a number or None, not stacked: an unused result's cotangent, every example's)
    return _tree_map(
        lambda x: x[(slice(None),) * (axes % np.ndim(x)) + (b,)] if np.ndim(x) else x, stacked
    )


def _differentiable(x: Any) -> bool:
    """Whether ``x`` holds floats (arrays or numbers) a derivative can be taken in."""
    leaves = batching.leaves(x)
    return bool(leaves) and all(
        isinstance(leaf, float) or dtype_kind(leaf) in "fc" if hasattr(leaf, "dtype") else
        isinstance(leaf, float) for leaf in leaves
    )  # fmt: skip


def _holds_floats(x: Any) -> bool:
    """Whether ``x`` holds floats among its leaves, or an object whose fields may (or a
    ``functools.partial`` binding such values)."""
    return any(
        isinstance(leaf, float) or rt.is_record(leaf) or _binds_floats(leaf) or
        (hasattr(leaf, "dtype") and dtype_kind(leaf) in "fc") for leaf in batching.leaves(x)
    )  # fmt: skip


def _binds_floats(x: Any) -> bool:
    """Whether ``x`` is a ``functools.partial`` binding floats (its gradient is the list
    of its bound values')."""
    return isinstance(x, functools.partial) and _holds_floats(rt.partial_args(x))


def vmap(fn: Callable, in_axes: Any = 0, out_axes: Any = 0) -> MappedFunction:
    """``fn`` mapped over a batch axis: ``in_axes`` gives each positional argument's axis
    (one int for all, or one entry per argument, None for an argument every example
    shares), ``out_axes`` where the examples' results are stacked. ``sd.vmap(sd.grad(loss),
    in_axes=(None, 0, 0))`` gives per-example gradients."""
    return MappedFunction(fn, in_axes, out_axes)


vmap._srcdiff_builds = True  # type: ignore[attr-defined]


def _positions(wrt: Any, api: str, fn: Callable) -> tuple[int | str, ...]:
    """The arguments ``wrt`` names, as ``sd.grad`` takes them: each a position or the name
    of a parameter of ``fn`` (a tuple of them for ``sd.jacobian``), refusing anything
    else."""
    many = wrt if isinstance(wrt, tuple) else (wrt,)
    if not many or not all(
        isinstance(w, str) or isinstance(w, int) and not isinstance(w, bool) and w >= 0
        for w in many
    ):
        raise TypeError(
            f"{api}: wrt must be the position or the name of an argument"
            f"{' or a tuple of them' if api == 'jacobian' else ''}, not {wrt!r}"
        )
    names = [w for w in many if isinstance(w, str)]
    if names:
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # no signature to read: found when called
            return many
        for w in names:
            p = params.get(w)
            if p is None or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise ValueError(
                    f"{api}: {getattr(fn, '__qualname__', fn)} has no argument named {w!r}"
                )
    return many


def _named_by_position(asked: tuple, args: tuple, kwargs: dict, fn: Callable
                       ) -> tuple[tuple, dict]:  # fmt: skip
    """The call, with the arguments passed by keyword to positional parameters moved to
    positions (as far as they follow on), where ``asked`` names one of them: derivatives
    are taken along positional arguments where they can be."""
    names = {w for w in asked if isinstance(w, str) and w in kwargs}
    if not names:
        return args, kwargs
    args, kwargs = list(args), dict(kwargs)
    for p in list(inspect.signature(fn).parameters.values())[len(args) :]:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or p.name not in kwargs:
            break
        args.append(kwargs.pop(p.name))
    return tuple(args), kwargs


def _where(w: int | str, args: tuple, kwargs: dict, fn: Callable, api: str) -> int | str:
    """Where a call passes the argument ``w`` (a position, or a parameter's name): its
    position among ``args``, or its keyword."""
    if isinstance(w, str):
        if w in kwargs:
            return w
        params = list(inspect.signature(fn).parameters.values())
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                           p.POSITIONAL_OR_KEYWORD)]  # fmt: skip
        if w in positional and positional.index(w) < len(args):
            return positional.index(w)
        raise TypeError(
            f"{api} of {getattr(fn, '__qualname__', fn)} with respect to {w}, which the call "
            "does not pass: pass the differentiated arguments"
        )
    if w >= len(args):
        raise TypeError(
            f"{api} of {getattr(fn, '__qualname__', fn)} with respect to argument "
            f"{w}, but the call passes {len(args)} positional argument(s): pass "
            "the differentiated arguments by position"
        )
    return w


def _unit_vector(xp: Any, k: int, like: Any) -> Any:
    """The ``k``-th unit vector of the flattened shape of ``like``, in its shape (a Python
    float for a number)."""
    shape = np.shape(like)
    e = xp.zeros(int(np.prod(shape)), dtype=getattr(like, "dtype", float))
    e[k] = 1.0
    return xp.reshape(e, shape) if shape else float(e[0])


def _located(fn: Any) -> dict[str, Any]:
    """Where ``fn`` is defined, as ``CompileError`` takes it (its name, file and line)."""
    code = getattr(rt.as_function(fn), "__code__", None) or getattr(
        getattr(fn, "__func__", None), "__code__", None
    )
    where = {"function": getattr(fn, "__qualname__", type(fn).__name__)}
    if code is not None:
        where.update(filename=code.co_filename, lineno=code.co_firstlineno)
    return where


def _refused_at_call(fn: Any, what: str, hint: str) -> CompileError:
    """The refusal of a derivative of ``fn`` differentiated again: at the user's line that
    calls it (the generated code running it), else where ``fn`` is defined."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        filename, line = code.co_filename, frame.f_lineno
        if filename in STANDS_FOR:  # forward-mode source standing for the user's lines
            filename, _, lines = STANDS_FOR[filename]
            line = lines[line - 1] if 0 < line <= len(lines) else None
        if code.co_name.endswith(GENERATED) and not filename.startswith("<srcdiff"):
            return CompileError(
                what,
                function=generated_name(code, GENERATED),
                filename=filename,
                lineno=line,
                source_line=linecache.getline(filename, line or 0),
                hint=hint,
            )
        frame = frame.f_back
    return CompileError(what, **_located(fn), hint=hint)


def _array_like(x: Any) -> bool:
    """An array, a number, or a list (tuple) of numbers of a rectangular shape."""
    if hasattr(x, "shape") or isinstance(x, (int, float)):
        return True
    if not isinstance(x, (list, tuple)):
        return False
    try:
        return np.asarray(x).dtype.kind in "fi"
    except ValueError:  # ragged
        return False


class JacobianFunction:
    """What ``sd.jacobian`` returns: called with ``fn``'s arguments, the Jacobian of its
    result(s) in the argument(s) ``wrt``. Called inside a function being differentiated
    (``sd.jacobian(sd.jacobian(f))``), it is differentiated too: reverse mode over ``fn``'s
    forward mode (``_srcdiff_vjp``, ``_srcdiff_jvp``)."""

    def __init__(self, fn: Callable, wrt: Wrt = 0, mode: str | None = None):
        if mode not in (None, "rev", "fwd"):
            raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', not {mode!r}")
        self._fn, self._wrt, self._mode = fn, wrt, mode
        self._positions = _positions(wrt, "jacobian", fn)
        self._forward = TangentFunction(fn)
        self._shown: Any = None  # what sd.source shows: the latest pass's
        _wraps(self, fn)
        with contextlib.suppress(TypeError, ValueError):
            self.__signature__ = inspect.signature(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _refuse_tensors((args, kwargs), "sd.jacobian", self._fn)
        args, kwargs = _named_by_position(self._positions, args, kwargs, self._fn)
        positions = tuple(_where(w, args, kwargs, self._fn, "jacobian") for w in self._positions)
        xs = [args[w] if isinstance(w, int) else kwargs[w] for w in positions]
        for w, x in zip(positions, xs, strict=True):
            if not _array_like(x):
                raise TypeError(
                    f"jacobian of {getattr(self._fn, '__qualname__', self._fn)} with respect "
                    f"to argument {w}, a {type(x).__name__}: the Jacobian is taken in arrays, "
                    "numbers and lists of numbers; pass the arrays as arguments of their own "
                    "(wrt=(0, 1, ...))"
                )
        n_in = sum(int(np.prod(np.shape(x))) for x in xs)
        if self._mode == "fwd":
            return self._by_columns(args, kwargs, positions)
        value, pull = _vjp(self._fn, args, positions, kwargs, api="sd.jacobian")
        outs = self._results(value)
        n_out = sum(int(np.prod(np.shape(o))) for o in outs)
        if self._mode is None and n_out > n_in:
            return self._by_columns(args, kwargs, positions)
        xp = array_module(*xs, *outs)
        self._shown = pull
        blocks = []  # per output, per argument: the rows of the Jacobian
        for i, out in enumerate(outs):
            rows: list[list] = [[] for _ in xs]
            for k in range(int(np.prod(np.shape(out)))):
                u = tuple(_unit_vector(xp, k, o) if j == i else rt.zeros_like(o)
                          for j, o in enumerate(outs))  # fmt: skip
                grads = pull(u if type(value) is tuple else u[0])
                for row, d in zip(rows, grads, strict=True):
                    row.append(xp.reshape(xp.asarray(d), (-1,)))
            blocks.append([
                xp.reshape(xp.stack(row) if row else xp.zeros((0, np.size(x))),
                           (*np.shape(out), *np.shape(x)))
                for row, x in zip(rows, xs, strict=True)
            ])  # fmt: skip
        return self._shaped(blocks, type(value) is tuple)

    def _by_columns(self, args: tuple, kwargs: dict, positions: tuple) -> Any:
        """The Jacobian by forward mode: a pass per entry of the differentiated arguments
        (at ``positions``: each a position, or a keyword, of the call's)."""
        xs = [args[w] if isinstance(w, int) else kwargs[w] for w in positions]
        columns: list[list] = [[] for _ in xs]
        value, values = None, []
        for c, (w, x) in enumerate(zip(positions, xs, strict=True)):
            xp = array_module(x, *args)
            for k in range(int(np.prod(np.shape(x)))):
                tangents: list = [None] * len(args)  # None: held constant
                named = {}
                if isinstance(w, int):
                    tangents[w] = _unit_vector(xp, k, x)
                else:
                    named[w] = _unit_vector(xp, k, x)
                value, tangent = self._forward.run(args, tuple(tangents), kwargs, named)
                values.append(value)
                columns[c].append(tangent if type(tangent) is tuple else (tangent,))
        _same_on_every_pass(values, self._fn, "jacobian (by forward mode)")
        self._shown = self._forward
        if value is None:  # no entries: the value for the shapes
            value = self._fn(*args, **kwargs)
        outs = self._results(value)
        xp = array_module(*xs, *outs)
        blocks = [
            [
                xp.reshape(
                    xp.stack([xp.reshape(xp.asarray(col[i]), (-1,)) for col in cols], axis=-1)
                    if cols else xp.zeros((np.size(out), 0)),
                    (*np.shape(out), *np.shape(x)),
                )
                for cols, x in zip(columns, xs, strict=True)
            ]
            for i, out in enumerate(outs)
        ]  # fmt: skip
        return self._shaped(blocks, type(value) is tuple)

    def _results(self, value: Any) -> tuple:
        """``fn``'s results: the entries of a tuple, or the one result, each an array or
        a number."""
        outs = value if type(value) is tuple else (value,)
        for out in outs:
            if not (hasattr(out, "shape") or isinstance(out, (int, float))):
                raise TypeError(
                    f"jacobian of {getattr(self._fn, '__qualname__', self._fn)}: a result "
                    f"of type {type(out).__name__}; give it results that are arrays or "
                    "numbers, or a tuple of them"
                )
        return outs

    def _shaped(self, blocks: list[list], tuple_out: bool) -> Any:
        """The Jacobians as ``fn`` returns its results and ``wrt`` names its arguments: a
        tuple per output (for a tuple result) of a tuple per argument (for a tuple wrt),
        as ``jax.jacobian`` gives them."""
        per_output = [tuple(b) if isinstance(self._wrt, tuple) else b[0] for b in blocks]
        return tuple(per_output) if tuple_out else per_output[0]

    def _blocks(self, args: tuple, kwargs: dict, ans: Any) -> list[tuple[int, Any]]:
        """For a Jacobian differentiated again (of one array result): each argument
        differentiated (a position) with its Jacobian in ``ans``."""
        several = isinstance(self._wrt, tuple)
        blocks = ans if several and type(ans) is tuple else (ans,)
        if any(type(b) is tuple for b in blocks) or (not several and type(ans) is tuple):
            raise _refused_at_call(
                self._fn,
                f"the Jacobian of {self._fn.__qualname__}, which returns a tuple, "
                "differentiated again",
                "differentiate the Jacobian of each result apart",
            )
        out = []
        for w, block in zip(self._wrt if several else (self._wrt,), blocks, strict=True):
            wrt = _where(w, args, kwargs, self._fn, "jacobian")
            if isinstance(wrt, str):
                raise TypeError(
                    f"sd.jacobian({self._fn.__qualname__}, wrt={self._wrt!r}) differentiated "
                    "again, its argument passed by keyword: pass the differentiated "
                    "arguments by position"
                )
            out.append((wrt, block))
        return out

    def _second(self, wrt: int, args: tuple, kwargs: dict, pairs: list) -> list:
        """The sum, over ``(tangent, cotangent)`` in ``pairs`` (of the differentiated
        argument, and of the result), of the gradients in every positional argument of
        ``cotangent . J tangent``: reverse mode over ``fn``'s forward mode."""
        total: list = [None] * len(args)
        for tangent, cotangent in pairs:
            tangents: list = [None] * len(args)
            tangents[wrt] = tangent
            d_args = tangent_vjp(self._fn, args, kwargs, tangents, (None, cotangent),
                                 keyword_grads=False).d_args  # fmt: skip
            total = [rt.acc(t, d) for t, d in zip(total, d_args, strict=True)]
        return total

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any, **kwargs: Any) -> tuple:
        """The adjoint ``g`` of the Jacobian (shaped like it; a tuple of them for a tuple
        ``wrt``) pulled back to the arguments: a pass per entry of the result with a
        nonzero row of ``g``, for each Jacobian."""
        blocks = self._blocks(args, kwargs, ans)
        adjoints = g if isinstance(self._wrt, tuple) else (g,)
        total: list = [None] * len(args)
        for (wrt, block), g_block in zip(blocks, adjoints, strict=True):
            if g_block is None or isinstance(g_block, rt.NoGradient):
                continue
            x = args[wrt]
            out_shape = np.shape(block)[: np.ndim(block) - np.ndim(x)]
            xp = array_module(g_block, x)
            rows = xp.reshape(xp.asarray(g_block), (-1, *np.shape(x)))
            pairs = [
                (rows[i] if np.shape(x) else float(rows[i]),
                 _unit_vector(xp, i, xp.zeros(out_shape)))
                for i in range(rows.shape[0])
                if bool(xp.any(rows[i] != 0))
            ]  # fmt: skip
            d_args = self._second(wrt, args, kwargs, pairs)
            total = [rt.acc(t, d) for t, d in zip(total, d_args, strict=True)]
        return tuple(total)

    def _srcdiff_jvp(self, tangents: tuple, ans: Any, *args: Any, **kwargs: Any) -> Any:
        """The Jacobian's tangent along ``tangents``: row ``i`` is the gradient in the
        differentiated argument of entry ``i`` of ``fn``'s tangent along them (second
        derivatives being symmetric); one per Jacobian for a tuple ``wrt``."""
        _no_partial_through_derivative(self._fn, args)
        out = []
        for wrt, block in self._blocks(args, kwargs, ans):
            x = args[wrt]
            out_shape = np.shape(block)[: np.ndim(block) - np.ndim(x)]
            xp = array_module(block, x)
            rows = []
            for i in range(int(np.prod(out_shape))):
                e = _unit_vector(xp, i, xp.zeros(out_shape))
                tangents_at = list(tangents) + [None] * (len(args) - len(tangents))
                pulled = tangent_vjp(self._fn, args, kwargs, tangents_at, (None, e),
                                     keyword_grads=False)  # fmt: skip
                d = pulled.d_args[wrt]
                rows.append(xp.reshape(xp.asarray(rt.zeros_like(x) if d is None else d), (-1,)))
            out.append(xp.reshape(xp.stack(rows) if rows else xp.zeros((0, np.size(x))),
                                  np.shape(block)))  # fmt: skip
        return tuple(out) if isinstance(self._wrt, tuple) else out[0]

    @property
    def _srcdiff_rules(self) -> tuple:
        """Its reverse rule, and its forward rule as an object with rules of its own at
        every order (``_JacobianTangent``)."""
        return _transform_rules(self, _JacobianTangent)

    @_srcdiff_rules.setter
    def _srcdiff_rules(self, value: tuple) -> None:
        self.__dict__["_rules"] = value

    def _srcdiff_source(self) -> str:
        if self._shown is None:
            raise RuntimeError(
                f"{self._fn.__qualname__} has not run yet: call it first, then ask for its source"
            )
        return self._shown._srcdiff_source()


class _JacobianTangent(_TransformTangent):
    """The forward rule of ``sd.jacobian(f)`` (``JacobianFunction._srcdiff_jvp``): along
    tangents ``t``, the Jacobian of ``phi``, ``f``'s derivative along ``t`` (``_along``),
    in the same argument; so its rules are a Jacobian's again, to any order."""

    kind, suffix = "jacobian", "jvp"

    @property
    def _srcdiff_rules(self) -> tuple:
        return _delegated_rules(self)

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any, **kwargs: Any) -> tuple:
        return _Delegate(self, 0)._srcdiff_vjp(g, ans, *args, **kwargs)

    def _srcdiff_jvp(self, tangents: tuple, ans: Any, *args: Any, **kwargs: Any) -> Any:
        """Its own forward rule (what makes it a primitive with one: a Jacobian's again)."""
        return _Delegate(self, 0)._srcdiff_jvp(tangents, ans, *args, **kwargs)

    def _relaid(self, args: tuple, kwargs: dict) -> _Relaid | None:
        """This rule at ``args`` (``(tangents, ans, *x)``) as the Jacobian of ``phi`` in
        ``x`` and the tangents; None for a Jacobian in several arguments or by keyword."""
        jacobian = self._transform
        fn = _plain_call(jacobian._fn)
        if fn is None or kwargs or len(args) < 3 or not isinstance(jacobian._wrt, int):
            return None
        return self._relaid_along(
            fn, args, len(args) - 2,
            lambda phi, given: JacobianFunction(phi, jacobian._wrt, jacobian._mode),
        )  # fmt: skip

    def _fallback(self, depth: int, pull: tuple | None, args: tuple, kwargs: dict) -> Any:
        """The value of this rule where ``_relaid`` has no form for it; else a refusal."""
        if depth == 0 and pull is None:
            return self(*args, **kwargs)
        what, hint = _too_deep(self._transform, 2)
        raise rt.refuse(what, hint)


def jacobian(fn: Callable, wrt: Wrt = 0, mode: str | None = None) -> JacobianFunction:
    """A function computing the Jacobian of ``fn`` with respect to argument ``wrt`` (a
    position or a parameter's name, as ``sd.grad`` takes it), shaped ``result.shape +
    argument.shape``: a reverse pass per entry of the result (``mode="rev"``) or a
    forward pass per entry of the argument (``"fwd"``); by default whichever makes fewer
    passes. For a tuple ``wrt``, a tuple of Jacobians, one per argument; for ``fn``
    returning a tuple, a tuple, one per result (each a tuple per argument for a tuple
    ``wrt``), as ``jax.jacobian`` does. Keyword arguments are passed to ``fn`` and held
    constant, but those ``wrt`` names."""
    return JacobianFunction(fn, wrt, mode)


def _derivative_of(fn: Any) -> tuple[str, str, int]:
    """How the user wrote the derivative ``fn``: ``("sd.grad(sd.grad(f))", "f", 2)``, the
    call, the function it differentiates and its order (0 for a function)."""
    inner = getattr(fn, "_fn", None)
    kinds = {GradientFunction: "sd.grad", TangentFunction: "sd.jvp", JacobianFunction:
             "sd.jacobian", MappedFunction: "sd.vmap", HessianFunction: "sd.hessian"}  # fmt: skip
    kind = kinds.get(type(fn))
    if kind == "sd.grad" and fn._with_value:
        kind = "sd.value_and_grad"
    if kind is None or inner is None:
        return (
            getattr(fn, "__qualname__", type(fn).__name__),
            getattr(fn, "__qualname__", type(fn).__name__),
            0,
        )
    shown, base, order = _derivative_of(inner)
    return f"{kind}({shown})", base, order + {"sd.vmap": 0, "sd.hessian": 2}.get(kind, 1)


def keyword_refusal(fn: Any, names: list[str], nargs: int, forward: bool) -> tuple[str, str]:
    """The refusal of a call of srcdiff's transform ``fn`` (``sd.vmap(f)``, ``sd.grad(f)``)
    given a derivative through its keyword arguments ``names`` (its rules differentiate
    positional arguments alone), in the user's words: what, and what to do."""
    shown, base, _ = _derivative_of(fn)
    inner = fn
    while getattr(inner, "_fn", None) is not None:
        inner = inner._fn
    code = getattr(inspect.unwrap(inner), "__code__", None)
    where = "" if code is None else f" (defined at {code.co_filename}:{code.co_firstlineno})"
    listed = ", ".join(f"{n}=" for n in names)
    mode = "forward mode" if forward else "a derivative"
    what = (
        f"{mode} through the keyword argument {listed} of {shown}{where}, which srcdiff "
        "differentiates in its positional arguments only"
    )
    try:
        params = inspect.signature(inner).parameters
    except (TypeError, ValueError):
        params = {}
    positional = all(
        n in params and params[n].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for n in names
    )
    leading = [n for n in params if n not in names][:nargs]
    given = leading + [f"a{i}" for i in range(len(leading), nargs)]  # (the parameters' names)
    called = getattr(inner, "__name__", base)  # (as the user's code names it)
    if not positional:  # a keyword-only parameter: through a function taking it by position
        passed = ", ".join(given + [f"{n}={n}" for n in names])
        called = f"lambda {', '.join(given + names)}: {called}({passed})"
    arguments = ", ".join(given + names)
    both = " and ".join(names)
    if isinstance(fn, MappedFunction):
        axes = fn._in_axes if isinstance(fn._in_axes, (tuple, list)) else (fn._in_axes,) * nargs
        shared = ", ".join(map(str, (*axes, *(None,) * len(names))))
        hint = (
            f"pass {both} by position, mapped along no axis (None in in_axes: each example "
            f"gets the whole value, as a keyword gives it): "
            f"sd.vmap({_derivative_of(fn._fn)[0].replace(base, called, 1)}, "
            f"in_axes=({shared}))({arguments})"
        )
    else:
        hint = f"pass {both} by position: {shown.replace(base, called, 1)}({arguments})"
    return what, hint


def keywords_by_position(fn: Any, args: tuple, kwargs: dict
                         ) -> tuple[Any, tuple, dict, dict] | None:  # fmt: skip
    """A call of srcdiff's transform ``fn`` (``sd.grad(f)``, ``sd.jacobian(f)``,
    ``sd.hessian(f)``, ``sd.vmap(f)``) given ``kwargs``, whose rules differentiate
    positional arguments, as the call of a transform taking those keywords by position:
    ``sd.grad(f)(x, scale=s)`` is ``sd.grad(f)(x, s)``, and for a keyword-only ``scale``,
    ``sd.grad(g)(x, s)`` where ``g(x, scale)`` calls ``f(x, scale=scale)``; a mapped
    function maps none of them (a keyword's value is every example's). A parameter
    between left to its default gets it. Returns the transform, the arguments, the
    keywords left, and each moved keyword's position; None where none moves."""
    if isinstance(fn, _Delegate):  # (sd.vjp's pull-back given its cotangent by name)
        moved, left = fn._moved(args, kwargs)
        if left:
            return None
        return fn, moved, {}, {k: i for i, k in enumerate(fn._owner.names) if k in kwargs}
    if not isinstance(fn, _BY_POSITION):
        return None
    if isinstance(fn, GradientFunction) and fn._target.starred:
        return None
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    kinds = inspect.Parameter
    positional = [
        p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    if len(args) > len(positional) or any(p.kind is kinds.VAR_POSITIONAL for p in params):
        return None
    keyword_only = [p.name for p in params if p.kind is kinds.KEYWORD_ONLY and p.name in kwargs]
    later = positional[len(args) :]
    if not keyword_only and not any(p.name in kwargs for p in later):
        return None
    args, kwargs, at = list(args), dict(kwargs), {}
    given = len(args)
    for i, p in enumerate(later):
        if not keyword_only and not any(q.name in kwargs for q in later[i:]):
            break
        if p.name in kwargs and p.kind is not kinds.POSITIONAL_ONLY:
            at[p.name] = len(args)
            args.append(kwargs.pop(p.name))
        elif p.default is not kinds.empty:  # a later one moves: its default
            args.append(p.default)
        else:
            return None
    for name in keyword_only:
        at[name] = len(args)
        args.append(kwargs.pop(name))
    if not keyword_only and not isinstance(fn, MappedFunction):
        return fn, tuple(args), kwargs, at
    moved = _by_position(fn, given, len(args) - len(keyword_only), tuple(keyword_only))
    return (moved, tuple(args), kwargs, at) if moved is not None else None


def _by_position(fn: Any, given: int, npositional: int, keyword_only: tuple[str, ...]) -> Any:
    """The transform ``fn`` of a function taking its first ``npositional`` parameters
    and then ``keyword_only`` by position (its ``f`` itself where there are none), a
    mapped function mapping the first ``given`` only; one per call pattern, kept on
    ``fn`` so that its units are compiled once."""
    made = fn.__dict__.setdefault("_srcdiff_by_position", {})
    key = (given, npositional, keyword_only)
    if key in made:
        return made[key]
    inner = fn._fn
    if keyword_only and isinstance(inner, _BY_POSITION):  # (sd.vmap(sd.grad(f)): f's)
        inner = _by_position(inner, npositional, npositional, keyword_only)
        if inner is None:
            return None
    elif keyword_only:
        params = list(inspect.signature(fn).parameters.values())
        names = [p.name for p in params[:npositional]]
        if any(not n.isidentifier() or keyword.iskeyword(n) for n in names):
            return None
        label = re.sub(r"\W", "_", getattr(inner, "__name__", "fn")).strip("_") or "fn"
        # (the keywords left, where f takes **kwargs, go on by name)
        rest = ["**keywords"] if any(p.kind is p.VAR_KEYWORD for p in params) else []
        passed = ", ".join([*names, *(f"{k}={k}" for k in keyword_only), *rest])
        source = (f"def {label}_by_position({', '.join([*names, *keyword_only, *rest])}):\n"
                  f"    return fn({passed})\n")  # fmt: skip
        inner = rt.function_of_source(source, f"a call of {label}", f"{label}_by_position",
                                      {"fn": inner})  # fmt: skip
    try:  # (a wrt naming a keyword the call leaves to its default: refused as it was)
        if isinstance(fn, GradientFunction):
            target = fn._target
            wrt = tuple(target.names) if target.multiple else target.names[0]
            moved = GradientFunction(inner, wrt, fn._with_value, fn._check_finite,
                                     fn._warn_kinks)  # fmt: skip
        elif isinstance(fn, JacobianFunction):
            moved = JacobianFunction(inner, fn._wrt, fn._mode)
        elif isinstance(fn, HessianFunction):
            moved = HessianFunction(inner, fn._wrt)
    except (TypeError, ValueError):
        return None
    if isinstance(fn, MappedFunction):
        axes = fn._in_axes if isinstance(fn._in_axes, (tuple, list)) else (fn._in_axes,) * given
        shared = (None,) * (npositional + len(keyword_only) - given)
        moved = MappedFunction(inner, (*axes, *shared), fn._out_axes)
    made[key] = moved
    return moved


rt.install(keyword_refusal=keyword_refusal, by_position=keywords_by_position)


def _shifted_wrt(wrt: Any, n: int) -> Any:
    """``wrt`` of a partial binding ``n`` positional arguments, as its function counts
    them: positions moved past them, names as they are."""
    if isinstance(wrt, tuple):
        return tuple(_shifted_wrt(w, n) for w in wrt)
    return wrt + n if isinstance(wrt, int) and not isinstance(wrt, bool) and wrt >= 0 else wrt


_OF_PARTIAL = BoundedCache(256, lambda fn: rt.calls.forget_source(fn))


def transform_of_partial(fn: Any, args: tuple, kwargs: dict, spread: bool = False
                         ) -> tuple | None:  # fmt: skip
    """``sd.grad(p, ...)`` (``sd.value_and_grad``, ``sd.jacobian``, ``sd.hessian``,
    ``sd.vmap``) of a ``functools.partial`` compiled code made (a lambda or nested function
    reading differentiated values): ``(made, (p,), {})``, ``made`` a function of source
    giving the partial of the transform of ``p``'s function that binds ``p``'s values, so
    that their gradients flow through the transform's call as its arguments'; with
    ``spread``, ``made`` takes those values one by one in place of ``p`` (reverse mode over
    its forward mode differentiates functions of arrays). None for any other call."""
    if fn not in (grad, value_and_grad, jacobian, hessian, vmap) or len(args) < 1:
        return None
    p = args[0]
    if not isinstance(p, functools.partial) or isinstance(p.func, functools.partial):
        return None
    try:
        given = inspect.signature(fn).bind(*args, **kwargs).arguments
    except TypeError:
        return None  # (the call raises as written)
    bound_values = rt.partial_args(p)
    held = [v for v in bound_values if rt.carries_gradient(v)
            and not (is_array(v) or isinstance(v, (float, complex, np.generic)))]  # fmt: skip
    if held:
        raise rt.refuse(
            f"sd.{fn.__name__} of a lambda or function defined in the function being "
            f"differentiated (or of a functools.partial) that reads a value of type "
            f"{type(held[0]).__name__} carrying a derivative (srcdiff follows arrays and "
            "numbers read there)",
            "define the function at module level and pass that value as an argument",
        )
    options = {k: v for k, v in given.items() if k != "fn"}
    n = len(p.args)
    if fn is not vmap:
        options["wrt"] = _shifted_wrt(options.get("wrt", 0), n)
    elif n:
        axes = options.get("in_axes", 0)
        if not isinstance(axes, (tuple, list)):
            raise rt.refuse(
                "sd.vmap of a functools.partial binding positional arguments, with one "
                "in_axes for all the arguments, inside a differentiated function",
                "give in_axes one entry per argument of the call (None for those not mapped)",
            )
        options["in_axes"] = (*(None,) * n, *axes)
    func = rt.partial_function(p)
    key = (fn, func if spread else None, n, tuple(p.keywords), tuple(options.items()))
    made = _OF_PARTIAL.get(key)
    if made is None:
        name = f"{fn.__name__}_of_partial"
        values = [f"b{i}" if spread else f"bound[{i}]" for i in range(len(bound_values))]
        passed = values[:n] + [f"{k}={v}" for k, v in zip(p.keywords, values[n:], strict=True)]
        source = (
            f"def {name}({', '.join([*values, '/'])}):\n"
            f"    return _partial(_transform(_func, **_options), {', '.join(passed)})\n"
            if spread else
            f"def {name}(p, /):\n    bound = rt.partial_args(p)\n    return _partial("
            f"_transform(rt.partial_function(p), **_options), {', '.join(passed)})\n"
        )  # fmt: skip
        namespace = {"rt": rt, "_partial": functools.partial, "_transform": fn,
                     "_options": options, "_func": func}  # fmt: skip
        made = _OF_PARTIAL.put(
            key, rt.function_of_source(source, f"sd.{fn.__name__} of a partial", name, namespace)
        )
    return made, (tuple(bound_values) if spread else (p,)), {}


rt.install(over_partial=transform_of_partial)


_BY_POSITION_MADE = BoundedCache(256, lambda fn: rt.forget_source(fn))


def _partial_by_position(p: functools.partial, m: int) -> Callable:
    """A function of source calling ``p``'s function as ``p`` does with ``m`` more
    arguments, given ``p``'s bound values (those that are not functions) by position
    before them (made once per function and layout)."""
    func, bound = rt.partial_function(p), rt.partial_args(p)
    n = len(p.args)
    kept = tuple(not callable(v) for v in bound)
    key = (func, n, tuple(p.keywords), kept, tuple(v for v in bound if callable(v)), m)
    made = _BY_POSITION_MADE.get(key)
    if made is None:
        made = _BY_POSITION_MADE.put(key, _by_position_made(p, m, kept))
    return made


def _by_position_made(p: functools.partial, m: int, kept: tuple) -> Callable:
    """``_partial_by_position``'s function, made."""
    func, bound = rt.partial_function(p), rt.partial_args(p)
    n = len(p.args)
    taken = [f"c{i}" for i, k in enumerate(kept) if k]
    given = [f"c{i}" if k else f"_bound[{i}]" for i, k in enumerate(kept)]
    args = [f"x{j}" for j in range(m)]
    passed = [*given[:n], *args, *(f"{k}={v}" for k, v in zip(p.keywords, given[n:],
                                                              strict=True))]  # fmt: skip
    return rt.function_of_source(
        f"def by_position({', '.join([*taken, *args, '/'])}):\n"
        f"    return _func({', '.join(passed)})\n",
        f"a call of {getattr(func, '__qualname__', 'a function')}", "by_position",
        {"_func": func, "_bound": bound},
    )  # fmt: skip


def _bound_as_primals(fn: Any, primals: tuple) -> tuple | None:
    """For ``sd.jvp(fn, primals, ...)`` and ``sd.hvp`` of a partial binding arrays or
    numbers (a lambda reading differentiated values): ``(by_position, bound, positions)``,
    ``by_position`` taking those values before the primals (``_partial_by_position``), ``bound``
    them, ``positions`` where each is in ``rt.partial_args(fn)`` (its adjoint's layout);
    None for any other function. Values of other kinds carrying a derivative: refused."""
    if not isinstance(fn, functools.partial) or isinstance(fn.func, functools.partial):
        return None
    values = rt.partial_args(fn)
    positions = tuple(i for i, v in enumerate(values) if not callable(v))
    numbers = (float, complex, np.generic)
    held = [values[i] for i in positions if rt.carries_gradient(values[i])
            and not (is_array(values[i]) or isinstance(values[i], numbers))]  # fmt: skip
    if held:
        raise rt.refuse(
            f"a derivative through sd.jvp, sd.hvp or sd.vjp of a functools.partial (or of a "
            f"lambda or "
            f"function defined in the function being differentiated) holding a value of type "
            f"{type(held[0]).__name__} that carries a derivative",
            "define the function at module level and pass that value as an argument",
        )
    if not positions:
        return None
    return _partial_by_position(fn, len(primals)), tuple(values[i] for i in positions), positions


def _adjoint_of_partial(fn: functools.partial, positions: tuple, grads: tuple) -> list:
    """The adjoint of the partial ``fn`` (the list of its bound values', see
    ``rt.partial_args``) from those of the values at ``positions``."""
    out: list = [None] * len(rt.partial_args(fn))
    for i, d in zip(positions, grads, strict=True):
        out[i] = d
    return out


def _no_tangent_of_partial(fn: Any, tangent: Any) -> None:
    """Refuse forward mode through ``sd.jvp``/``sd.hvp`` of a partial whose bound values
    have a tangent (a lambda reading values that carry one): its rules take ``fn``'s
    value alone."""
    if (
        isinstance(fn, functools.partial)
        and tangent is not None
        and any(d is not None for d in (tangent if isinstance(tangent, list) else [tangent]))
    ):
        raise _refused_at_call(
            fn,
            "forward mode through sd.jvp or sd.hvp of a lambda or function defined in the "
            "function being differentiated (or a functools.partial), reading values that "
            "carry a derivative",
            "define the function at module level and pass those values as arguments, or "
            "take the outer derivative in reverse mode (sd.grad)",
        )


def _too_deep(fn: Any, more: int) -> tuple[str, str]:
    """The refusal of the derivative ``fn`` differentiated ``more`` times more than srcdiff
    follows, in the user's words: what, and what to do."""
    shown, base, order = _derivative_of(fn)
    total = order + more
    words = (
        "a third derivative"
        if total == 3
        else f"a derivative of order four or more (order {total})"
    )
    times = ("once", "twice", "three times")[more - 1]
    what = f"{words} of {base}: {shown} differentiated {times} more"
    if isinstance(fn, TangentFunction):
        hint = ("call sd.jvp(f, primals, tangents) there instead of sd.jvp(f)(primals, "
                "tangents): srcdiff differentiates that call as often as any other")  # fmt: skip
    else:
        hint = ("srcdiff follows derivatives up to the third order through sd.grad and "
                "sd.jvp; write a lower derivative out as a function of its own (by hand) and "
                "differentiate that")  # fmt: skip
    return what, hint


_SEED = object()  # a cotangent of 1 for a scalar result (see tangent_vjp)


class Pullback(NamedTuple):
    """What ``tangent_vjp`` returns: the forward mode's ``(value, tangent)``, and the
    pull-backs to each tangent and each argument (None where none is carried), for
    the positional ones, then by name for the keyword ones."""

    outputs: tuple
    d_tangents: tuple
    d_args: tuple
    d_keyword_tangents: dict
    d_kwargs: dict


_STAR = "*"  # see tangent_vjp


def _like_or_unknown(d: Any, x: Any) -> Any:
    """A gradient handed back inside a rule: ``grad_like``'s, kept in the form adjoints
    take in compiled code (an object's the dict of its fields', a partial's the list of
    its bound values'), an ``rt.NoGradient`` as it is."""
    if isinstance(d, rt.NoGradient):
        return d
    if rt.is_record(x) or isinstance(x, functools.partial) or is_method_of_record(x):
        return (None if is_method_of_record(x) else rt.zeros_like(x)) if d is None else d
    if type(x) in (list, tuple) and (d is None or isinstance(d, (list, tuple))):
        d = d if d is not None else [None] * len(x)
        return type(x)(_like_or_unknown(a, b) for a, b in zip(d, x, strict=True))
    if type(x) is dict and (d is None or isinstance(d, dict)):
        return {k: _like_or_unknown((d or {}).get(k), v) for k, v in x.items()}
    return rt.grad_like(d, x)


def _forward_target(fn: Callable, positions: tuple, nargs: int, kwargs: dict) -> _Target:
    """The target whose forward mode a derivative of ``fn``'s forward mode differentiates
    again: a primitive's rules (not its code), a helper updating its arguments returning
    them too."""
    if (registry.lookup(fn) is not None or registry.is_nondiff(fn)) and (
        not hasattr(type(fn), "_srcdiff_vjp") or isinstance(fn, (_Delegate, _Relaid))
    ):
        fn = rt.primitive_function(fn, nargs, tuple(kwargs))
    forward = _Target(fn, positions)
    if type(fn) is rt.Returning:
        forward.returns = fn.names
    return forward


def tangent_vjp(
    fn: Callable,
    args: tuple,
    kwargs: dict,
    tangents: Any,
    cotangent: tuple,
    keyword_tangents: dict | None = None,
    top: bool = False,
    keyword_grads: bool = True,
) -> Pullback:
    """Reverse mode over forward mode. ``(value, tangent)`` is ``fn``'s forward mode at
    ``args`` and ``kwargs`` along ``tangents`` (one per positional argument, None for
    none) and ``keyword_tangents`` (by name); given their adjoints ``cotangent`` (None
    for zero; ``_SEED`` for 1, the tangent being a scalar), returns the pull-backs to
    every tangent and argument (``keyword_grads=False``: to the positional ones, the
    keyword arguments held constant, for the rules of transforms, which differentiate
    those only). The forward mode is the generated tangent source
    (``Unit.tangent_program``), differentiated as user code is."""
    tangents = tuple(tangents) + (None,) * (len(args) - len(tuple(tangents)))
    named = {k: t for k, t in (keyword_tangents or {}).items() if t is not None}
    positions = (*(i for i, t in enumerate(tangents) if t is not None), *named)
    transform = getattr(fn, "__self__", fn)  # (sd.vmap's first-order rules: see below)
    if hasattr(type(transform), "_srcdiff_jvp") and not isinstance(
        transform, (MappedFunction, _Delegate, _Relaid, *_RULES_AT_EVERY_ORDER)
    ):  # (a gradient's forward mode is source calling its forward rule, which has rules)
        name = getattr(transform, "__qualname__", type(transform).__name__)
        what, hint = _too_deep(transform, 2)
        raise CompileError(what, function=name, hint=hint)
    if isinstance(transform, _BY_POSITION):  # (its forward mode taken again: see there)
        _no_partial_through_derivative(transform, (*args, *kwargs.values()))
    if isinstance(transform, _BY_POSITION) and (
        named or (kwargs and isinstance(transform, MappedFunction))
    ):  # (their rules take positions: each example gets a keyword's whole value)
        moved = keywords_by_position(transform, args, kwargs)
        if moved is not None:
            return _keywords_moved(moved, args, tangents, cotangent, keyword_tangents or {},
                                   top, keyword_grads)  # fmt: skip
    if isinstance(getattr(fn, "__self__", None), (np.random.Generator, np.random.RandomState)):
        # reverse mode over this call's forward mode runs it again: another draw
        what = (
            f"a second derivative through the random draw {fn.__name__} of a generator "
            "called in forward mode: differentiating it again would draw other numbers"
        )
        hint = (
            "draw the standard numbers outside (z = rng.standard_normal(shape)) and pass "
            "them in (mu + sigma * z), or take the first derivative only"
        )
        if rt.in_generated_code():  # (its frames carry the user's lines)
            raise rt.refuse(what, hint)  # at the user's line calling it
        raise CompileError(what, function=fn.__name__, hint=hint)
    try:
        forward = _forward_target(fn, positions, len(args), kwargs)
    except ValueError as exc:  # a keyword no parameter takes: an entry of its **kwargs
        if not named:
            raise
        name = getattr(fn, "__qualname__", repr(fn))
        raise CompileError(
            f"a second derivative through the keyword argument(s) {', '.join(named)} that "
            f"{name} takes in its **kwargs",
            function=name,
            hint="give it a parameter of that name, or take the first derivative only",
        ) from exc
    if isinstance(transform, MappedFunction) and not named:
        return transform._tangent_vjp(args, kwargs, tangents, cotangent)
    if isinstance(transform, MappedFunction):  # (a tangent given to a keyword argument)
        shown, base, _ = _derivative_of(transform)  # (not its __call__)
        what = (
            f"a second derivative through the keyword argument(s) {', '.join(named)} of "
            f"{shown}, which srcdiff differentiates in its positional arguments only"
        )
        hint = (
            "pass them by position, mapped along no axis (None in in_axes: each example "
            "gets the whole value, as a keyword gives it)"
        )
        if rt.in_generated_code():  # (its frames carry the user's lines)
            raise rt.refuse(what, hint)  # at the user's line calling it
        raise CompileError(what, function=shown, hint=hint)
    if (
        forward.fn.__module__ == __name__
        and not isinstance(transform, _RULES_AT_EVERY_ORDER)
        and forward.fn not in _DIRECTIONAL
    ):
        # the forward mode of a derivative (``f_called``'s: see ``_calling``), whose own
        # derivatives are three more
        derivative = forward.fn.__globals__.get("_transform", forward.fn)
        what, hint = _too_deep(derivative, 3)
        raise CompileError(what, function=getattr(derivative, "__qualname__", what), hint=hint)
    unit, _ = forward.unit(forward.values(args, kwargs), args, kwargs)
    if top:  # called by the user (sd.hvp, sd.hessian), not for a call inside compiled code
        _refuse_updates(unit, "a second derivative", (*forward.bound, *args), kwargs)
    program = unit.tangent_program()
    where = []  # each tangent's argument: a position, a keyword, or (STAR, where *args starts)
    for n in unit.wrt:
        k = forward.names.index(n)
        element = forward.elements[k]
        where.append(positions[k] if element is None else (_STAR, positions[k] - element))

    def given_at(w: Any) -> Any:
        if isinstance(w, tuple):  # *args: a tangent for each entry, zero where held fixed
            return tuple(rt.zeros_like(a) if t is None else t
                         for a, t in zip(args[w[1]:], tangents[w[1]:], strict=True))  # fmt: skip
        return tangents[w] if isinstance(w, int) else named[w]

    given = [given_at(w) for w in where]
    bound = forward.bound
    first = len(where) + len(bound)  # the program's index of args[0]
    flags = [isinstance(a, dict) and _integers_alone(a) for a in args]  # (no gradient)
    carried = [i for i, a in enumerate(args) if rt.carries_gradient(a) and not flags[i]]
    named_params = rt.parameter_names(program, 0)[1] if kwargs and keyword_grads else frozenset()
    carried_named = [k for k, v in kwargs.items() if rt.carries_gradient(v) and k in named_params
                     and not (isinstance(v, dict) and _integers_alone(v))]  # fmt: skip
    absorbed = [k for k, v in kwargs.items()
                if keyword_grads and rt.carries_gradient(v) and k not in named_params]  # fmt: skip
    wanted = (*range(len(where)), *(first + i for i in carried), *carried_named)
    reverse = _Target(program, wanted)
    outputs, state = reverse.forward((*given, *bound, *args), kwargs)
    g_value, g_tangent = cotangent
    if callable(g_value):  # (see _GradientTangent: a seed made to the value's structure)
        g_value = g_value(outputs[0])
    if callable(g_tangent):
        g_tangent = g_tangent(outputs[1])
    seed = (
        rt.zeros_like(outputs[0]) if g_value is None else g_value,
        _seed(outputs[1], fn_name=forward.fn.__qualname__) if g_tangent is _SEED
        else rt.zeros_like(outputs[1]) if g_tangent is None else g_tangent,
    )  # fmt: skip
    grads = reverse.backward(state, seed, within=True) if wanted else ()
    d_tangents: list = [None] * len(tangents)
    d_named: dict = dict.fromkeys(keyword_tangents or {})
    for w, d in zip(where, grads, strict=False):
        if isinstance(w, tuple):  # the entries of *args, each to its argument
            for i, d_entry in enumerate(d, start=w[1]):
                d_tangents[i] = d_entry if tangents[i] is not None else None
        elif isinstance(w, int):
            d_tangents[w] = d
        else:
            d_named[w] = d
    rest = list(grads[len(where) :])
    d_args: list = [None] * len(args)
    for i in carried:
        d_args[i] = rest.pop(0)
    d_kwargs = {k: rest.pop(0) if k in carried_named else None for k in kwargs}
    for k in absorbed:  # a constant here, or else a derivative srcdiff cannot follow
        d_kwargs[k] = rt.NoGradient(
            f"a derivative of a derivative through the keyword argument `{k}`, which "
            f"{forward.fn.__qualname__} takes in its **kwargs",
            f"give {forward.fn.__qualname__} a parameter named {k}",
        )
    return Pullback(outputs, tuple(d_tangents), tuple(d_args), d_named, d_kwargs)


def _keywords_moved(moved: tuple, args: tuple, tangents: tuple, cotangent: tuple,
                    keyword_tangents: dict, top: bool, keyword_grads: bool
                    ) -> Pullback:  # fmt: skip
    """``tangent_vjp`` of a transform's call as ``keywords_by_position`` moved it (its
    keywords by position), the pull-backs given back to the keywords they came from."""
    fn, moved_args, kwargs, at = moved
    by_position = list(tangents) + [None] * (len(moved_args) - len(tangents))
    for k, i in at.items():
        by_position[i] = keyword_tangents.get(k)
    left = {k: t for k, t in keyword_tangents.items() if k not in at}
    pulled = tangent_vjp(fn, moved_args, kwargs, tuple(by_position), cotangent, left,
                         top=top, keyword_grads=keyword_grads)  # fmt: skip
    n = len(args)
    moved_tangents = {k: pulled.d_tangents[i] for k, i in at.items() if k in keyword_tangents}
    d_keyword_tangents = {**pulled.d_keyword_tangents, **moved_tangents}
    d_kwargs = {**pulled.d_kwargs, **{k: pulled.d_args[i] for k, i in at.items()}}
    return Pullback(pulled.outputs, pulled.d_tangents[:n], pulled.d_args[:n],
                    d_keyword_tangents, d_kwargs)  # fmt: skip


rt.install(tangent_vjp=tangent_vjp)  # the rule of rt.call_jvp, in forward-mode source


def hvp(fn: Callable, primals: tuple | list, tangents: tuple | list) -> Any:
    """The Hessian of scalar-valued ``fn`` at ``primals`` times ``tangents``, the Hessian
    being in all the arguments together (a tangent of None holds its argument constant):
    one product per primal (a tuple when there are several). Computed by reverse mode
    over ``fn``'s generated forward-mode source: one forward and one reverse pass, exact,
    no finite differences."""
    primals = tuple(primals)
    _refuse_tensors((primals, tuple(tangents)), "sd.hvp", fn)
    tangents = _tangents_as_arrays(primals, tuple(tangents))
    _check_tangents(primals, tangents)
    d_args = tangent_vjp(fn, primals, {}, tangents, (None, _SEED), top=True).d_args
    out = tuple(
        rt.zeros_like(p) if d is None else rt.grad_like(d, p)
        for p, d in zip(primals, d_args, strict=True)
    )
    return out if len(out) > 1 else out[0]


class HessianFunction:
    """What ``sd.hessian`` returns: called with ``fn``'s arguments, the Hessian of ``fn``
    in argument ``wrt``, one Hessian-vector product (``hvp``) per entry of it. Called
    inside a function being differentiated, its derivatives are those of the same
    matrix as ``sd.jacobian(sd.grad(fn))`` gives it (``_srcdiff_vjp``, ``_srcdiff_jvp``)."""

    def __init__(self, fn: Callable, wrt: int | str = 0):
        if isinstance(wrt, (tuple, list)):
            raise TypeError(
                f"hessian: wrt must be the position or the name of one argument, not {wrt!r}"
            )
        (self._wrt,) = _positions(wrt, "hessian", fn)
        self._fn = fn
        self._of_gradient: JacobianFunction | None = None  # (made when differentiated)
        _wraps(self, fn)
        with contextlib.suppress(TypeError, ValueError):
            self.__signature__ = inspect.signature(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self._fn
        _refuse_tensors((args, kwargs), "sd.hessian", fn)
        args, kwargs = _named_by_position((self._wrt,), args, kwargs, fn)
        wrt = _where(self._wrt, args, kwargs, fn, "hessian")
        x = args[wrt] if isinstance(wrt, int) else kwargs[wrt]
        if not _array_like(x):
            raise TypeError(
                f"hessian of {getattr(fn, '__qualname__', fn)} with respect to argument {wrt}, "
                f"a {type(x).__name__}: the Hessian is taken in an array, a number or a list of "
                "numbers (sd.hvp takes any argument)"
            )
        shape = np.shape(x)
        n = int(np.prod(shape))
        xp = array_module(x)
        columns, values = [], []
        for k in range(n):
            tangents: list = [None] * len(args)
            named = {}
            if isinstance(wrt, int):
                tangents[wrt] = _unit_vector(xp, k, x)
            else:
                named[wrt] = _unit_vector(xp, k, x)
            pulled = tangent_vjp(fn, args, kwargs, tangents, (None, _SEED), named, top=True)
            values.append(pulled.outputs[0])
            d = pulled.d_args[wrt] if isinstance(wrt, int) else pulled.d_kwargs[wrt]
            d = rt.zeros_like(x) if d is None else d
            columns.append(xp.reshape(xp.asarray(d), (-1,)))
        _same_on_every_pass(values, fn, "hessian")
        return xp.reshape(xp.stack(columns, axis=-1), (*shape, *shape))

    def _jacobian_of_gradient(self) -> JacobianFunction:
        """``sd.jacobian(sd.grad(fn, wrt), wrt)``: the same matrix, whose rules are this
        one's."""
        if self._of_gradient is None:
            gradient = GradientFunction(self._fn, self._wrt, with_value=False)
            self._of_gradient = JacobianFunction(gradient, self._wrt)
        return self._of_gradient

    @property
    def _srcdiff_rules(self) -> tuple:
        """The rules of ``sd.jacobian(sd.grad(fn))``, which go to any order."""
        return self._jacobian_of_gradient()._srcdiff_rules

    def _srcdiff_vjp(self, g: Any, ans: Any, *args: Any, **kwargs: Any) -> tuple:
        """The adjoint ``g`` of the Hessian pulled back to the positional arguments."""
        return self._jacobian_of_gradient()._srcdiff_vjp(g, ans, *args, **kwargs)

    def _srcdiff_jvp(self, tangents: tuple, ans: Any, *args: Any, **kwargs: Any) -> Any:
        """The Hessian's tangent along ``tangents`` (a third derivative of ``fn``)."""
        return self._jacobian_of_gradient()._srcdiff_jvp(tangents, ans, *args, **kwargs)

    def _srcdiff_source(self) -> str:
        if self._of_gradient is None:
            raise RuntimeError(
                f"the Hessian of {getattr(self._fn, '__qualname__', self._fn)} has not been "
                "differentiated: sd.source shows the source of its derivatives once they ran"
            )
        return self._of_gradient._srcdiff_source()


# transforms whose forward rules have rules at every order (see ``_Delegate``): their
# forward mode differentiated again is that of a function of source calling them
_RULES_AT_EVERY_ORDER = (GradientFunction, JacobianFunction, HessianFunction)


def hessian(fn: Callable, wrt: int | str = 0) -> HessianFunction:
    """A function computing the Hessian of scalar-valued ``fn`` in argument ``wrt`` (a
    position or a parameter's name, as ``sd.grad`` takes it), shaped ``argument.shape +
    argument.shape``: one Hessian-vector product (``hvp``) per entry of the argument.
    Keyword arguments are passed to ``fn`` and held constant, but the one ``wrt`` names."""
    return HessianFunction(fn, wrt)


# the transforms whose calls take keywords by position (see keywords_by_position)
_BY_POSITION = (GradientFunction, JacobianFunction, HessianFunction, MappedFunction)


def _equal(a: Any, b: Any) -> bool:
    """Whether two values of a function are equal, NaNs alike, on any array module."""
    xp = array_module(a, b)
    a, b = xp.asarray(a), xp.asarray(b)
    return a.shape == b.shape and bool(xp.all((a == b) | (xp.isnan(a) & xp.isnan(b))))


def _same_on_every_pass(values: list, fn: Callable, what: str) -> None:
    """Check that the passes computing a derivative's columns, each a run of ``fn``, gave
    one value: else ``fn`` drew random numbers or read state it changed, and the columns
    are derivatives of different functions (a wrong result)."""
    first = values[0] if values else None
    for v in values[1:]:
        same = all(
            _equal(a, b) for a, b in zip(batching.leaves(v), batching.leaves(first), strict=True)
        )
        if not same:
            name = getattr(fn, "__qualname__", repr(fn))
            raise CompileError(
                f"{what} of {name}, which gave another value on each run: it computes the "
                "derivative a column at a time, a run of the function each, and this one "
                "draws random numbers or reads state it changes",
                function=name,
                hint="draw the random numbers (or make the change) outside the function and "
                "pass them in"
                + (
                    "; sd.jacobian(f, mode='rev') runs it once"
                    if what.startswith("jacobian")
                    else ""
                ),  # fmt: skip
            )


def _jvp_vjp(g: Any, ans: Any, fn: Callable, primals: tuple, tangents: tuple) -> tuple:
    """The rule of ``sd.jvp(fn, primals, tangents)`` called inside a differentiated
    function: reverse mode over ``fn``'s forward mode. A ``functools.partial`` (what a
    lambda or a function defined inside becomes, reading the function's variables) gets
    the gradients of the values it binds, which it is a function of too."""
    primals, tangents = tuple(primals), tuple(tangents)
    if isinstance(fn, functools.partial):
        _, bound, pulled = partial_pullback(g, fn, None, primals, tangents, {}, {})
        n = len(fn.args)
        return bound, pulled.d_args[n:], pulled.d_tangents[n:]
    found = record_pullback(g, fn, primals, tangents)
    if found is not None:  # a method of an object whose fields carry gradients, or one called
        d_obj, pulled = found
        return d_obj, pulled.d_args[1:], pulled.d_tangents[1:]
    pulled = tangent_vjp(fn, primals, {}, tangents, g)
    return None, pulled.d_args, pulled.d_tangents


registry.register(jvp, registry.make_rule(_jvp_vjp, name="jvp", inline=False))


def _directional(fn: Callable, tangents: tuple) -> Callable:
    """``fn``'s derivative along ``tangents`` as a function of its arguments, whose
    gradient is ``sd.hvp(fn, primals, tangents)``: differentiated like any function."""

    def directional(*primals: Any) -> Any:
        return jvp(fn, primals, tangents)[1]

    directional.__qualname__ = f"{getattr(fn, '__qualname__', 'fn')}_along_tangents"
    _DIRECTIONAL.add(directional)
    return directional


# the functions _directional made: srcdiff's, and yet forward mode of them is first order
_DIRECTIONAL: weakref.WeakSet = weakref.WeakSet()


def _hvp_vjp(g: Any, ans: Any, fn: Callable, primals: tuple, tangents: tuple) -> tuple:
    """The rule of ``sd.hvp(fn, primals, tangents)`` called inside a differentiated
    function. The products ``H t`` are the gradient of ``phi``, ``fn``'s derivative along
    ``t``: pulled back to the primals, ``g`` gives ``phi``'s Hessian times ``g``; to the
    tangents, ``H g`` (a Hessian is symmetric)."""
    primals = tuple(primals)
    tangents = _tangents_as_arrays(primals, tuple(tangents))
    several = len(primals) > 1
    gs = tuple(g) if several else (g,)
    gs = tuple(rt.zeros_like(p) if d is None else d for p, d in zip(primals, gs, strict=True))
    gs = tuple(
        _no_partial_cotangent(p, d, t) for p, d, t in zip(primals, gs, tangents, strict=True)
    )
    spread = _bound_as_primals(fn, primals)
    if spread is not None:  # (a partial: its values are primals too, held constant)
        by_position, bound, positions = spread
        k = len(bound)
        along = (*map(rt.zeros_like, bound), *tangents)
        moved = (*map(rt.zeros_like, bound), *gs)
        d_all = hvp(_directional(by_position, along), (*bound, *primals), moved)
        products = hvp(by_position, (*bound, *primals), moved)[k:]
        d_tangents = tuple(None if t is None else d
                           for t, d in zip(tangents, products, strict=True))  # fmt: skip
        d_fn = _adjoint_of_partial(fn, positions, tuple(d_all[:k]))
        return d_fn, tuple(d_all[k:]), d_tangents
    d_primals = hvp(_directional(fn, tangents), primals, gs)
    products = hvp(fn, primals, gs)
    d_primals, products = (d_primals, products) if several else ((d_primals,), (products,))
    d_tangents = tuple(None if t is None else d for t, d in zip(tangents, products, strict=True))
    return _bound_values_refused(fn, "a gradient"), tuple(d_primals), d_tangents


def _no_partial_through_derivative(fn: Any, args: tuple) -> None:
    """Refuse reverse mode over the forward mode of the transform ``fn`` (``sd.hessian(f)``
    or ``sd.grad(sd.grad(f))`` inside a function being differentiated) given a
    ``functools.partial`` binding floats: ``f``'s forward mode taken again holds the
    partial's values as constants."""
    if hasattr(type(fn), "_srcdiff_jvp") and any(map(rt.objects._bound_partial, args)):
        raise rt.refuse(
            "a second derivative of a transform (sd.grad, sd.jacobian, sd.hessian or "
            "sd.vmap of a function, called inside a function being differentiated) through "
            "a functools.partial given as an argument, binding values that may carry a "
            "derivative (the forward mode taken again would hold them constant)",
            "pass the partial's function and its values as arguments of their own "
            "(k(x, a) calling base(x, a=a)), which goes to any order",
        )


def _no_partial_cotangent(primal: Any, g: Any, tangent: Any) -> Any:
    """The adjoint ``g`` of ``sd.hvp``'s product for ``primal`` as the rule passes it on
    as a direction: None (held constant) for a ``functools.partial`` given no tangent whose
    product nothing reads, a refusal where something reads it (its Hessian rows are not
    computed)."""
    if not isinstance(primal, functools.partial):
        return g
    if tangent is None and not any(
        bool(np.any(np.asarray(leaf) != 0)) for leaf in batching.leaves(g) if leaf is not None
    ):
        return None
    raise rt.refuse(
        "a derivative through sd.hvp's product for a functools.partial given as a primal",
        "pass the partial's values as primals of their own (a function taking them)",
    )


def _bound_values_refused(fn: Any, what: str) -> rt.NoGradient | None:
    """The gradient of ``fn`` in ``sd.hvp(fn, ...)``, where it binds numbers (a
    ``functools.partial``, or a lambda or function defined inside reading the function's
    variables) or is an object's method (or the object, called): their derivative is not
    computed, so a refusal wherever it is used (where they carry no gradient, nothing uses
    it); None for a plain function."""
    if not (
        isinstance(fn, functools.partial)
        and any(map(_inexact, rt.partial_args(fn)))
        or is_method_of_record(fn)
    ):
        return None
    shown = fn.func if isinstance(fn, functools.partial) else fn
    return rt.NoGradient(
        f"{what} of sd.hvp of {getattr(shown, '__qualname__', type(fn).__qualname__)} in "
        "the values it binds (a functools.partial, a function defined inside reading the "
        "function's variables, an object's fields), which srcdiff does not compute",
        "pass those values to it as arguments, among the primals with a tangent of None",
    )


registry.register(hvp, registry.make_rule(_hvp_vjp, name="hvp", inline=False))
# (a tuple, one product per primal, where there are several: their adjoints add up entry
# by entry, not by joining two tuples)
registry.sequence_result(hvp)


def _hvp_jvp(tangents: tuple, ans: Any, fn: Callable, primals: tuple, inner: tuple) -> Any:
    """The forward rule of ``sd.hvp(fn, primals, inner)`` called inside a function taken
    in forward mode: along the primals' tangents, ``phi``'s Hessian times them (``phi``
    being ``fn``'s derivative along ``inner``); along the tangents of ``inner``, ``fn``'s."""
    d_fn, d_primals, d_inner = tangents
    primals = tuple(primals)
    inner = _tangents_as_arrays(primals, tuple(inner))
    several, k = len(primals) > 1, 0
    spread = _bound_as_primals(fn, primals) if d_fn is not None else None
    if spread is not None:  # (a partial: its values are primals too, their tangents d_fn's)
        fn, bound, at = spread
        k = len(bound)
        d_bound = tuple(d_fn[i] for i in at) if isinstance(d_fn, list) else (None,) * k
        d_primals = (*d_bound, *(d_primals if d_primals is not None else (None,) * len(primals)))
        d_inner = (*(None,) * k, *(d_inner if d_inner is not None else (None,) * len(primals)))
        inner = (*map(rt.zeros_like, bound), *inner)
        primals = (*bound, *primals)
    refused = _bound_values_refused(fn, "a forward mode") if d_fn is not None else None
    if refused is not None:  # (the values it binds carry tangents, which it would lose)
        refused._refuse()
    parts = []
    if d_primals is not None and any(d is not None for d in d_primals):
        parts.append(hvp(_directional(fn, inner), primals, tuple(d_primals)))
    if d_inner is not None and any(d is not None for d in d_inner):
        parts.append(hvp(fn, primals, tuple(d_inner)))
    if k:  # (the products for the partial's values: not this rule's)
        parts = [part[k:] if several else part[k] for part in parts]
    if not parts:
        return rt.zeros_like(ans)
    if len(parts) == 1:
        return parts[0]
    if several:
        return tuple(a + b for a, b in zip(*parts, strict=True))
    return parts[0] + parts[1]


def _hvp_too_deep() -> tuple[str, str]:
    """The refusal of ``_hvp_jvp`` differentiated (see ``_HvpRules``)."""
    return (
        "a derivative of order four or more: sd.hvp(f, primals, tangents) differentiated "
        "twice more, with f a method or a callable object, or primals that are not floats",
        "pass f as a function (a lambda calling the method) and the primals as float "
        "arrays or numbers",
    )


class _HvpRules:
    """The owner (see ``_Delegate``) of ``sd.hvp``'s forward rule: ``hvp(fn, primals,
    tangents)`` is the gradient, in the primals, of ``phi``, ``fn``'s derivative along the
    tangents (``_along``), at the primals and the tangents; so the rule's derivatives are
    a gradient's, to any order."""

    __name__ = "hvp"

    def _relaid(self, args: tuple, kwargs: dict) -> _Relaid | None:
        if kwargs or len(args) != 3:
            return None
        fn, primals, tangents = _plain_call(args[0]), tuple(args[1]), tuple(args[2])
        # (of a partial, a lambda reading differentiated values: they are primals too,
        # first, along no tangent)
        spread = _bound_as_primals(args[0], primals) if primals else None
        bound, positions = spread[1:] if spread is not None else ((), ())
        fn = spread[0] if spread is not None else fn
        if fn is None or not primals or not all(map(_inexact, (*bound, *primals))):
            return None
        if is_method_of_record(fn):  # (its fields may carry tangents: a form holding it as a
            return None  # constant would lose them; see _hvp_jvp)
        tangents = _tangents_as_arrays(primals, tangents)
        k, n = len(bound), len(primals)
        given = tuple(k + j for j, t in enumerate(tangents) if t is not None)

        def make() -> _Relaid:
            phi = _along(fn, given, k + n, "hvp")
            wrt = tuple(range(k, k + n)) if n > 1 else k
            layout = (*((0, i) for i in positions), *((1, i) for i in range(n)),
                      *((2, j - k) for j in given))  # fmt: skip
            return _Relaid(GradientFunction(phi, wrt, False), layout, "hvp")

        return _relaid_made(self, (fn, given, n, positions), make)

    def _fallback(self, depth: int, pull: tuple | None, args: tuple, kwargs: dict) -> Any:
        """The rule's value where ``_relaid`` has no form for it (second derivatives);
        else a refusal."""
        if depth == 1 and pull is None:
            return _hvp_jvp(*args, **kwargs)
        raise rt.refuse(*_hvp_too_deep())


def _inexact(x: Any) -> bool:
    """Whether ``x`` is an array or number of floats, whose gradient ``sd.grad`` takes."""
    try:
        return bool(np.issubdtype(np.result_type(x), np.inexact)) and _array_like(x)
    except TypeError:
        return False


registry.register_jvp(hvp, _Delegate(_HvpRules(), 1))


def _jvp_jvp(tangents: tuple, ans: tuple, fn: Callable, primals: tuple, inner: tuple
             ) -> tuple:  # fmt: skip
    """The forward rule of ``sd.jvp(fn)(primals, inner)`` called inside a function taken
    in forward mode: forward mode over ``fn``'s generated forward-mode source, along the
    tangents of ``primals`` and of ``inner``. (A call ``sd.jvp(fn, primals, inner)`` is
    taken as a call of ``forward_call``'s function instead.)"""
    d_fn, d_primals, d_inner = tangents
    _no_tangent_of_partial(fn, d_fn)
    primals, inner = tuple(primals), tuple(inner)
    d_primals = tuple(d_primals) if d_primals is not None else (None,) * len(primals)
    d_inner = tuple(d_inner) if d_inner is not None else (None,) * len(inner)
    positions = tuple(i for i, t in enumerate(inner) if t is not None)
    forward = _forward_target(fn, positions, len(primals), {})
    if forward.fn.__module__ == __name__ or any(e is not None for e in forward.elements):
        raise CompileError(
            f"forward mode of sd.jvp of {forward.fn.__qualname__}, a derivative or a "
            "function taking *args",
            function=forward.fn.__qualname__,
            hint="take the inner forward mode of a plain function of named parameters",
        )
    unit, _ = forward.unit(forward.values(primals, {}), primals, {})
    given, d_given = [], []
    for n in unit.wrt:
        w = positions[forward.names.index(n)]
        given.append(inner[w])
        d_given.append(rt.zeros_like(inner[w]) if d_inner[w] is None else d_inner[w])
    bound = forward.bound
    program = unit.tangent_program()
    _, (d_value, d_tangent) = TangentFunction(program).run(
        (*given, *bound, *primals), (*d_given, *(None,) * len(bound), *d_primals), {}
    )
    return d_value, d_tangent


registry.forward_call("jvp", jvp)  # (see forward_call)


def _forget_forward_call(entry: tuple) -> None:
    """Let go of the source kept for a function ``forward_call`` made."""
    rt.forget_source(entry[0])
    STANDS_FOR.pop(entry[0].__code__.co_filename, None)


# see forward_call: (the function, the unit whose program it calls, or None)
_FORWARD_CALLS = BoundedCache(1024, _forget_forward_call)


def _call_shape(v: Any) -> Any:
    """What ``forward_call`` makes of a value, bar its numbers: its type, shape and dtype,
    and for a list, tuple or dict, those of its entries (by key)."""
    if type(v) in (list, tuple):
        return type(v), tuple(map(_call_shape, v))
    if type(v) is dict:
        return dict, tuple((k, _call_shape(e)) for k, e in v.items())
    return type(v), getattr(v, "shape", None), getattr(v, "dtype", None)


def _tangent_shape(t: Any) -> Any:
    """Which of a tangent (of a starred or ``**`` argument: its entries) are None."""
    if t is None:
        return None
    if type(t) in (list, tuple):
        return tuple(e is None for e in t)
    if type(t) is dict:
        return tuple((k, e is None) for k, e in t.items())
    return True


def forward_call(fn: Any, inner: tuple, stars: tuple | None, names: tuple, values: tuple,
                 where: tuple[str, str, int] | None = None) -> Callable:  # fmt: skip
    """``rt.forward_of``: a function of source ``F(tangents, *values)`` giving what
    ``rt.call_jvp(fn, tangents, *values)`` gives (``call_jvp_keywords`` for the keywords
    ``names`` of the last values, ``call_jvp_star`` with ``stars``), by calling the
    forward-mode program of ``fn`` (``Unit.tangent_program``) on the tangents that are
    not None here, the arguments, and the instance of a method::

        def forward_call(tangents, a0, a1, /):
            return _program(tangents[0], a0, a1)

    Forward-mode source differentiated again (a derivative of order three or more) takes
    each call it makes as a call of ``F``, whose derivatives are those of calls again.
    ``where``: the file, function and line of the call, where a refusal met in ``F`` is
    reported (the user's, for a line of a forward-mode program). Made once for a callee,
    which tangents are None, the types, shapes and dtypes of the values, and ``where``:
    found again while the unit whose program it calls is current."""
    if (
        fn is rt.objects.PARTIAL_CALL
        and stars is None
        and names
        and names
        == (rt.objects.keywords_by_position(values[0], len(values) - len(names) - 1, names))
    ):
        names = ()  # (keywords its function takes by position next: the same values)
    callee = values[0] if fn in (rt.objects.PLAIN_CALL, rt.objects.PARTIAL_CALL) else None
    key = (fn, callee, stars, names, where, registry.version(),
           tuple(map(_tangent_shape, inner)), tuple(map(_call_shape, values)))  # fmt: skip
    hit = _FORWARD_CALLS.get(key)
    if hit is not None and (hit[1] is None or not hit[1].stale()):
        return hit[0]
    made, unit = _make_forward_call(fn, inner, stars, names, values, where)
    return _FORWARD_CALLS.put(key, (made, unit))[0]


def _make_forward_call(fn: Any, inner: tuple, stars: tuple | None, names: tuple,
                       values: tuple, where: tuple[str, str, int] | None
                       ) -> tuple[Callable, Unit | None]:  # fmt: skip
    """``forward_call``'s function, made, and the unit whose program it calls (None:
    none)."""
    n = len(values) - len(names)
    unit = None
    consts: list = []  # values ``F`` holds (``_c0``, ...): bound, or not differentiated
    of_partial = fn is rt.objects.PARTIAL_CALL and not names and stars is None
    if stars is None and transform_of_partial(fn, values[:n], {}) is not None:
        raise rt.refuse(
            f"a third derivative through sd.{fn.__name__} of a lambda or function defined in "
            "the function being differentiated, reading a value that carries a derivative "
            "(srcdiff follows it to the second order)",
            "define that function at module level and pass the value as an argument, which "
            "goes to any order",
        )
    if (
        fn is rt.objects.PARTIAL_CALL
        and stars is not None
        and not names
        and not stars[0]
        and all(type(v) in (list, tuple) for v, s in zip(values, stars, strict=True) if s)
    ):  # ``pull(*us)``: the call passing their entries one by one, laid out
        paths = [(i, j) if s else (i,) for i, (v, s) in enumerate(zip(values, stars, strict=True))
                 for j in range(len(v) if s else 1)]  # fmt: skip
        layout = ([(0, *path) for path in paths], *((1 + path[0], *path[1:]) for path in paths))
        spread_values = tuple(_spread_gather(e, (inner, *values)) for e in layout[1:])
        spread_inner = _spread_gather(layout[0], (inner, *values))
        made = forward_call(fn, spread_inner, None, (), spread_values, where)
        return _spread_function(made, layout, (inner, *values)), None
    if getattr(fn, "_srcdiff_of_partial", False) and not names and stars is None:
        spread = _spread_forward_call(fn, inner, values, where)
        if spread is not None:
            return spread, None
    if getattr(fn, "_srcdiff_spread", None) is not None and not names and stars is None:
        return _spread_forward(*fn._srcdiff_spread, inner, values, where), None
    if getattr(fn, "_srcdiff_of_partial", False) or getattr(fn, "_srcdiff_spread", False):
        rt.objects._no_partial_passed(values, inner)  # its program reads a partial given here

    def const(v: Any) -> str:
        consts.append(v)
        return f"_c{len(consts) - 1}"

    # each argument of the call as F's source writes it, and its tangent's (None: none)
    args: list[tuple[str, str | None]] = []
    arg_values: list = []
    kw: dict[str, tuple[str, str | None]] = {}
    kw_values: dict = {}
    for i in range(n):
        v, t = values[i], inner[i]
        if stars is None or not stars[i]:
            args.append((f"a{i}", None if t is None else f"tangents[{i}]"))
            arg_values.append(v)
            continue
        entries = tuple(v)
        if t is not None and (not rt.calls._spreads(v) or len(t) != len(entries)):
            raise CompileError(
                f"a derivative of a derivative through a starred argument of type "
                f"{type(v).__name__}",
                hint="pass a list, a tuple or an array, or the arguments one by one",
            )
        for j, e in enumerate(entries):
            carried = t is not None and t[j] is not None and rt.carries_gradient(e)
            args.append((f"a{i}[{j}]", f"tangents[{i}][{j}]" if carried else None))
            arg_values.append(e)
    for i, k in enumerate(names, start=n):
        v, t = values[i], inner[i]
        spread = {k: v} if k is not None else v
        if k is None and (not isinstance(v, dict) or t is not None and not isinstance(t, dict)):
            raise CompileError(
                f"a derivative of a derivative through **kwargs of type {type(v).__name__}",
                hint="pass a dict, or the arguments one by one",
            )
        for key, entry in spread.items():
            if key in kw:
                raise TypeError(f"got multiple values for keyword argument {key!r}")
            if not (isinstance(key, str) and key.isidentifier()) or keyword.iskeyword(key):
                raise CompileError(
                    f"a derivative of a derivative through the keyword {key!r} of **kwargs, "
                    "which is not a name",
                    hint="pass it to a parameter of that name",
                )
            if k is not None:
                kw[key] = (f"a{i}", None if t is None else f"tangents[{i}]")
            else:
                carried = t is not None and t.get(key) is not None and rt.carries_gradient(entry)
                kw[key] = (f"a{i}[{key!r}]", f"tangents[{i}][{key!r}]" if carried else None)
            kw_values[key] = entry
    if fn is rt.objects.PLAIN_CALL:  # the function called is the first argument, held
        fn, args, arg_values = arg_values[0], args[1:], arg_values[1:]
    if fn is rt.objects.PARTIAL_CALL:
        fn = rt.objects.partial_caller(arg_values[0], len(arg_values) - 1, tuple(kw))
    while isinstance(fn, functools.partial):  # its arguments first, its keywords under
        args = [(const(a), None) for a in fn.args] + args  # the call's
        arg_values = [*fn.args, *arg_values]
        for k, v in (fn.keywords or {}).items():
            if k not in kw:
                kw[k], kw_values[k] = (const(v), None), v
        fn = fn.func
    if isinstance(fn, type) and rt.is_record_class(fn):
        fn = rt.objects.constructor(fn)
    label = getattr(fn, "__qualname__", None) or type(fn).__name__
    own = registry.lookup_jvp(fn)
    # a transform's rules take positions: its keywords move there, with a tangent or not
    # (differentiated again, each argument of F is one whose gradient may be asked for)
    if kw and (any(t is not None for _, t in kw.values()) or isinstance(fn, _BY_POSITION)):
        moved = keywords_by_position(fn, tuple(arg_values), kw_values)
        if moved is not None:
            fn, moved_values, kw_values, at = moved
            keyed = {i: k for k, i in at.items()}  # the keyword moved to each position
            for i in range(len(args), len(moved_values)):  # (or a default passed over)
                args.append(kw.pop(keyed[i]) if i in keyed else (const(moved_values[i]), None))
            arg_values = list(moved_values)
            own = registry.lookup_jvp(fn)
    if own is not None and not own.inline and not hasattr(type(fn), "_srcdiff_jvp"):
        fn = rt.primitive_function(fn, len(args), tuple(kw))  # a user's forward rule
    call_args = [a for a, _ in args] + [f"{k}={a}" for k, (a, _) in kw.items()]
    positions = (*(i for i, (_, t) in enumerate(args) if t is not None),
                 *(k for k, (_, t) in kw.items() if t is not None))  # fmt: skip
    if not positions or registry.is_nondiff(fn):  # no tangent here: a zero one
        body = [f"value = {const(fn)}({', '.join(call_args)})",
                "return value, rt.zeros_like(value)"]  # fmt: skip
    elif own is not None and not own.inline:  # srcdiff's transform: its rule has rules
        if any(isinstance(p, str) for p in positions):
            raise CompileError(
                f"a derivative of a derivative through a value passed by keyword to {label}, "
                "whose forward rule takes tangents by position",
                function=label,
                hint="pass it by position",
            )
        tangents = ", ".join(t or "None" for _, t in args)
        body = [
            f"value = {const(fn)}({', '.join(call_args)})",
            f"return value, {const(own.fn)}(({tangents},), value, {', '.join(call_args)})",
        ]
    else:
        try:
            forward = _forward_target(fn, positions, len(args), kw_values)
        except ValueError as exc:  # a keyword no parameter takes: an entry of its **kwargs
            raise CompileError(
                f"a derivative of a derivative through the keyword argument(s) "
                f"{', '.join(p for p in positions if isinstance(p, str))} that {label} takes "
                "in its **kwargs",
                function=label,
                hint="give it a parameter of that name",
            ) from exc
        unit, _ = forward.unit(forward.values(arg_values, kw_values), arg_values, kw_values)
        given = []
        for name_ in unit.wrt:
            k = forward.names.index(name_)
            w, element = positions[k], forward.elements[k]
            if element is not None:  # *args: a tangent for each entry, zero where none
                entries = [t or f"rt.zeros_like({a})" for a, t in args[w - element :]]
                given.append(f"({', '.join(entries)},)")
            else:
                given.append(args[w][1] if isinstance(w, int) else kw[w][1])
        program = [*given, *map(const, forward.bound), *call_args]
        body = [f"return {const(unit.tangent_program())}({', '.join(program)})"]
    params = ", ".join(["tangents", *(f"a{i}" for i in range(len(values))), "/"])
    source = f"def forward_call({params}):\n" + "".join(f"    {line}\n" for line in body)
    namespace = {"rt": rt, **{f"_c{i}": c for i, c in enumerate(consts)}}
    made = rt.function_of_source(
        source, f"forward mode of a call of {label}", "forward_call", namespace
    )
    if of_partial:  # (see rt.objects.callee_tangent_vjp: its reverse rule spreads the partial)
        made._srcdiff_of_partial = True
    if where is not None:
        filename, function, line = where
        if filename in STANDS_FOR:  # a line of a forward-mode program: the user's
            filename, function, lines = STANDS_FOR[filename]
            line = lines[line - 1] if 0 < line <= len(lines) else None
        STANDS_FOR[made.__code__.co_filename] = (filename, function, [line] * (len(body) + 1))
    return made, unit


rt.install(forward_of=forward_call)


def _spread_forward_call(fn: Callable, inner: tuple, values: tuple,
                         where: tuple[str, str, int] | None) -> Callable | None:  # fmt: skip
    """``forward_call`` of ``F``, the forward mode of a call of the partial ``p`` (see
    ``rt.objects._spread_partial_tangent_vjp``), called as ``F(T, p, *rest)``: ``F`` is
    the forward mode ``G`` of ``p``'s function given ``p``'s bound values spread out before
    ``rest`` (their tangents, in ``T``, a list spread out too), so its forward mode is
    ``G``'s, laid out (``_spread_forward``). None where ``p`` has no tangent."""
    if len(values) < 2 or not isinstance(values[1], functools.partial) or inner[1] is None:
        return None
    t, p, rest = values[0], values[1], values[2:]
    n, m = len(rt.partial_args(p)), len(rest)
    if type(t) is not tuple or len(t) != 1 + m:
        return None
    bound = rt.partial_args(p)  # (a function bound carries no tangent)
    layout = ([*(None if callable(v) else (0, 0, k) for k, v in enumerate(bound)),
               *((0, 1 + i) for i in range(m))],
              *((1, k) for k in range(n)), *((2 + i,) for i in range(m)))  # fmt: skip
    spread_t = _spread_gather(layout[0], values)
    g = Host.forward_of(rt.partial_function(p), spread_t, None, (), (*bound, *rest), None)
    return _spread_forward(g, layout, inner, values, where)


def _spread_gather(entry: Any, args: tuple, tangent: tuple | None = None) -> Any:
    """The value a layout entry (a path of indices, a partial's being into its bound values
    as ``rt.partial_args`` lists them, or a list of entries: a tuple; None: None) takes out
    of ``args``; None where there is no container on the way. Given ``tangent`` (the
    values whose tangents ``args`` are), None where that value is a function."""
    if entry is None:
        return None
    if isinstance(entry, list):
        return tuple(_spread_gather(e, args, tangent) for e in entry)
    value: Any = args
    for i in entry:
        if isinstance(value, functools.partial):
            value = rt.partial_args(value)
        if type(value) not in (tuple, list):
            return None
        value = value[i]
    held = _spread_gather(entry, tangent) if tangent is not None else None
    if callable(held) and not isinstance(held, functools.partial):
        return None
    return value


def _spread_scatter(layout: tuple, grads: tuple, args: tuple) -> tuple:
    """The pull-backs to ``args`` of those (``grads``) to the arguments ``layout`` took out
    of them (see ``_spread_gather``): summed where a value went twice, a partial's the list
    of its bound values', zeros where a value went nowhere."""
    found = _grads_by_path(layout, grads)

    def build(value: Any, path: tuple) -> Any:
        if path in found:
            return found[path]
        inside = any(p[: len(path)] == path and len(p) > len(path) for p in found)
        if isinstance(value, functools.partial) and inside:
            return [build(v, (*path, i)) for i, v in enumerate(rt.partial_args(value))]
        if type(value) in (tuple, list) and inside:
            return type(value)(build(v, (*path, i)) for i, v in enumerate(value))
        if value is None or callable(value):
            return None
        return rt.zeros_like(value)

    return tuple(build(a, (i,)) for i, a in enumerate(args))


def _spread_shifted(entry: Any, by: int) -> Any:
    """A layout entry into arguments now given after one more (``by`` 1), or into their
    tangents, given as the first argument (``by`` 0)."""
    if entry is None:
        return None
    if isinstance(entry, list):
        return [_spread_shifted(e, by) for e in entry]
    return (0, *entry) if by == 0 else (entry[0] + 1, *entry[1:])


def _spread_forward(g: Callable, layout: tuple, inner: tuple, values: tuple,
                    where: tuple[str, str, int] | None) -> Callable:  # fmt: skip
    """``forward_call`` of ``W``, whose value at ``values`` is ``g``'s at the arguments
    ``layout`` takes out of them (into partials too, see ``_spread_gather``), along
    ``inner``: a function of source ``W'(inner, *values)`` calling ``g``'s forward mode at
    the arguments and tangents so taken, whose own derivatives are laid out the same way
    (``_srcdiff_spread_vjp``, and this again), so that no partial is an argument of a
    function differentiated again."""
    g_values = tuple(_spread_gather(e, values) for e in layout)
    g_inner = tuple(_spread_gather(e, inner, tangent=values) for e in layout)
    made = forward_call(g, g_inner, None, (), g_values, where)
    layout = ([_spread_shifted(e, 0) for e in layout], *(_spread_shifted(e, 1) for e in layout))
    return _spread_function(made, layout, (inner, *values))


def _spread_function(g: Callable, layout: tuple, example: tuple) -> Callable:
    """A function of source ``W(*args)`` giving ``g`` of the arguments ``layout`` takes
    out of ``args`` (laid out as ``example``), with the rules of such a function."""

    def text(entry: Any) -> str:
        if entry is None:
            return "None"
        if isinstance(entry, list):
            return f"({''.join(text(e) + ', ' for e in entry)})"
        value, out = example[entry[0]], f"a{entry[0]}"
        for i in entry[1:]:
            if isinstance(value, functools.partial):
                value, out = rt.partial_args(value), f"rt.partial_args({out})"
            if type(value) not in (tuple, list):
                return "None"  # (no container on the way: see _spread_gather)
            value, out = value[i], f"{out}[{i}]"
        return out

    params = ", ".join([*(f"a{i}" for i in range(len(example))), "/"])
    source = f"def forward_call({params}):\n    return _g({', '.join(map(text, layout))})\n"
    made = rt.function_of_source(source, "forward mode of a call of a partial", "forward_call",
                                 {"rt": rt, "_g": g})  # fmt: skip

    def spread_vjp(cotangent: tuple, ans: tuple, tangents: tuple, args: tuple) -> tuple:
        g_args = tuple(_spread_gather(e, args) for e in layout)
        g_tangents = tuple(_spread_gather(e, tangents, tangent=args) for e in layout)
        out = rt.objects.callee_tangent_vjp(cotangent, ans, g, g_tangents, *g_args)
        d_tangents = _spread_scatter(layout, tuple(out[1]), tangents)
        return (None, d_tangents, *_spread_scatter(layout, tuple(out[2:]), args))

    made._srcdiff_spread = (g, layout)
    made._srcdiff_spread_vjp = spread_vjp
    return made


class Differentiated:
    """A function decorated with ``@sd.differentiate``.

    Calling it runs its compiled primal. When its code calls ``.backward()``, it is
    compiled for Tensors: they are unwrapped to arrays where operations use them, and
    ``backward()`` runs the generated adjoint of the statements before it, accumulating
    into the ``.grad`` of the Tensors that require grad.
    """

    def __init__(self, fn: Callable, wrt: Wrt = 0):
        self._fn = fn
        self._wrt = wrt
        self._grad: GradientFunction | None = None
        self._plain: _Target | None = None
        self._bound: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._last: Any = None
        functools.update_wrapper(self, fn)

    @property
    def _srcdiff_target(self) -> Callable:
        return self._fn

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        try:
            bound = self._bound.get(obj)
        except TypeError:  # not weakly referable: compiled again at each access
            return Differentiated(types.MethodType(self._fn, obj), self._wrt)
        if bound is None:  # cached for the instance, without keeping it alive
            bound = self._bound[obj] = Differentiated(_WeakMethod(self._fn, obj), self._wrt)
        method = object.__new__(_BoundMethod)
        method.__dict__ = bound.__dict__  # (one state: what a call compiles, sd.source's)
        method.instance = obj
        return method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._plain is None:
            self._plain = _Target(self._fn, ())
            tensors = calls_backward(self._plain.fn)
            self._plain.dialect = Dialect.TENSORS if tensors else Dialect.ARRAYS
            self._plain.eager_backward = not tensors and any(
                isinstance(n, gast.Attribute) and n.attr == "backward"
                for n in gast.walk(parse(self._plain.fn).tree)
            )
        value = self._plain.call(args, kwargs)
        self._last = self._plain
        return value

    def _gradient(self) -> GradientFunction:
        if self._grad is None:
            self._grad = GradientFunction(self._fn, self._wrt, with_value=True)
        return self._grad

    def grad(self, *args: Any, **kwargs: Any) -> Any:
        """The gradient of this function at ``args``, with respect to its ``wrt``."""
        self._last = self._gradient()
        return self._last(*args, **kwargs)[1]

    def value_and_grad(self, *args: Any, **kwargs: Any) -> Any:
        """``(value, gradient)`` at ``args``."""
        self._last = self._gradient()
        return self._last(*args, **kwargs)

    def _srcdiff_source(self) -> str:
        if self._last is None:
            raise RuntimeError(
                f"{self._fn.__qualname__} has not run yet: call it first, then ask for its source"
            )
        if isinstance(self._last, GradientFunction):
            return self._last._srcdiff_source()
        return self._last.tensor_source()


def calls_backward(fn: types.FunctionType) -> bool:
    """True when ``fn`` calls ``.backward()`` outside loops: it is then compiled for
    Tensors. A ``backward()`` in a loop (a training loop in one function), and code that
    makes a tensor of its own require grad, keeps a non-leaf's ``.grad`` or turns grad
    mode on (but for ``with sd.set_grad_enabled(flag):``, which compiles), or reads
    the autograd flags of a value it computes (``h.requires_grad``, which compiled code,
    holding an array for ``h``, does not track), are left to the eager runtime, whose
    adjoint is generated too."""

    def backward_in(tree: gast.AST) -> bool:
        return any(isinstance(n, gast.Attribute) and n.attr == "backward" for n in gast.walk(tree))

    tree = parse(fn).tree
    in_loops = any(backward_in(n) for n in gast.walk(tree) if isinstance(n, (gast.For, gast.While)))
    managers = {  # ``with sd.set_grad_enabled(flag):`` compiles (as a no_grad block or not)
        id(item.context_expr.func)
        for n in gast.walk(tree)
        if isinstance(n, gast.With)
        for item in n.items
        if isinstance(item.context_expr, gast.Call)
    }
    eager = any(
        isinstance(n, gast.Attribute)
        and (
            n.attr in _EAGER_ONLY
            and not (n.attr == "set_grad_enabled" and id(n) in managers)
            or n.attr == "requires_grad"
            and isinstance(n.ctx, gast.Store)
        )
        for n in gast.walk(tree)
    )
    return backward_in(tree) and not in_loops and not eager and not _reads_flags_of_computed(tree)


# a Tensor's autograd flags, which compiled code does not keep for the arrays it computes
_AUTOGRAD_FLAGS = frozenset({"requires_grad", "is_leaf", "grad_fn"})
_COMPUTING = (gast.BinOp, gast.UnaryOp, gast.Call, gast.Subscript, gast.IfExp)


def _reads_flags_of_computed(tree: gast.AST) -> bool:
    """Whether the function reads ``.requires_grad`` (``.is_leaf``, ``.grad_fn``) of a
    value it may hold as an array when compiled: one an operation gives (``h = x * 2``,
    ``model(x)``, ``(x * 2).requires_grad``), or an entry of a list or tuple it writes
    out (whose Tensors compiled code unwraps). A parameter, a global, an attribute
    (``self.w``) and a loop's entry of what a call gives (``model.parameters()``) are
    Tensors there, with their own flags."""
    computed = set()
    for n in gast.walk(tree):
        if isinstance(n, gast.Assign) and isinstance(n.value, _COMPUTING):
            targets = [t for target in n.targets for t in gast.walk(target)]
        elif isinstance(n, gast.AugAssign):
            targets = [n.target]
        elif isinstance(n, (gast.For, gast.comprehension)) and isinstance(
            n.iter, (gast.List, gast.Tuple)
        ):
            targets = list(gast.walk(n.target))
        else:
            continue
        computed.update(t.id for t in targets if isinstance(t, gast.Name))
    return any(
        isinstance(n, gast.Attribute)
        and n.attr in _AUTOGRAD_FLAGS
        and isinstance(n.ctx, gast.Load)
        and (
            isinstance(n.value, _COMPUTING)
            or isinstance(n.value, gast.Name)
            and n.value.id in computed
        )
        for n in gast.walk(tree)
    )


# what compiled Tensor code leaves to the eager runtime (see calls_backward)
_EAGER_ONLY = frozenset({"requires_grad_", "retain_grad", "enable_grad", "set_grad_enabled"})


class _BoundMethod(Differentiated):
    """A decorated method as ``obj.method`` gives it: it keeps ``obj`` alive, as a bound
    method does, and shares all else with the one cached for ``obj``, which does not."""

    __slots__ = ("instance",)


def differentiate(fn: Callable | None = None, *, wrt: Wrt = 0) -> Any:
    """Decorator: ``@sd.differentiate`` or ``@sd.differentiate(wrt=...)``."""
    if fn is None:
        return lambda f: Differentiated(f, wrt)
    return Differentiated(fn, wrt)


def source(obj: Any) -> str:
    """The generated source (traced primal and adjoint) that the latest call of ``obj``
    ran: a ``grad``/``value_and_grad`` function, a ``@differentiate`` function, or a
    tensor on which ``backward()`` was called."""
    getter = getattr(obj, "_srcdiff_source", None)
    if getter is not None:
        return getter()
    try:
        unit = _TANGENTS_SHOWN.get(obj)
    except TypeError:
        unit = None
    if unit is not None:  # a plain function after sd.jvp(fn, primals, tangents)
        return _tangent_source(unit)
    text = getattr(obj, "_source", None)
    if text is not None:
        return text
    raise RuntimeError(
        f"no generated source for {type(obj).__name__}: pass a function "
        "made by sd.grad, sd.value_and_grad or @sd.differentiate after "
        "calling it, or a tensor after backward()"
    )


def register_jvp(fn: Callable) -> Callable[[Callable], Callable]:
    """Decorator registering ``jvp(tangents, result, *args)`` as the forward rule of
    ``fn``: ``tangents`` holds one tangent per argument (None for those without one);
    it returns the tangent of the result."""

    def register(jvp: Callable) -> Callable:
        registry.register_jvp(fn, jvp)
        return jvp

    return register


def register_vjp(fn: Callable) -> Callable[[Callable], Callable]:
    """Decorator registering ``vjp(g, result, *args)`` as the reverse rule of ``fn``."""

    def register(vjp: Callable) -> Callable:
        registry.register(fn, registry.make_rule(vjp, inline=False))
        return vjp

    return register
