"""Objects of user classes as values a gradient flows through: a dataclass, or a plain
object whose state is its ``__dict__`` (a named tuple is a tuple). Compiled code keeps
an object's adjoint as a dict of its fields' adjoints, as it keeps a dict's; only the
gradient handed back to the caller is an object of the argument's class
(``arrays.grad_like``)."""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import functools
import inspect
import keyword
import math
import operator
import re
import sys
import textwrap
import types
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend

# Packages whose objects are never records (with the standard library's): arrays,
# Tensors, modules, random generators.
_FOREIGN = ("srcdiff", "numpy", "cupy", "array_api_strict", "array_api_compat", "scipy",
            "torch", "jax")  # fmt: skip
_NOT_RECORDS = (list, tuple, dict, set, frozenset, str, bytes, int, float, complex, type,
                types.ModuleType, types.FunctionType, types.MethodType,
                types.BuiltinFunctionType, functools.partial)  # fmt: skip


# what Python runs to read and write ``obj.name``: a class defining one of these keeps more
# (or less) than its fields, which compiled code reads and writes directly
_PROTOCOLS = ("__getattr__", "__getattribute__", "__setattr__", "__delattr__")


def is_record_class(cls: type) -> bool:
    """Whether instances of ``cls`` are records (see ``is_record``): not the standard
    library's, NumPy's or srcdiff's own, not arrays, not context managers (what
    ``with`` hands over is not a field)."""
    if cls is types.SimpleNamespace:  # the standard library's record of fields
        return True
    package = (cls.__module__ or "").split(".")[0]
    if package in _FOREIGN or package in sys.stdlib_module_names:
        return False
    if hasattr(cls, "__array__") or hasattr(cls, "__enter__"):
        return False
    if cls.__new__ is not object.__new__:  # exceptions, enums, ...: not just their fields
        return False
    frozen = dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    protocols = _PROTOCOLS[:2] if frozen else _PROTOCOLS  # (a frozen one's refuse writes)
    if any(getattr(cls, m, None) is not getattr(object, m, None) for m in protocols):
        return False  # attributes of its own making
    if dataclasses.is_dataclass(cls):
        return True
    return "__dict__" in dir(cls) and not hasattr(cls, "shape")


def is_record(x: Any) -> bool:
    """Whether ``x`` is a user object whose fields carry gradients: a dataclass, or an
    object of a user class keeping its state in ``__dict__``."""
    return not isinstance(x, _NOT_RECORDS) and x is not None and is_record_class(type(x))


def holds_record(x: Any, depth: int = 4) -> bool:
    """Whether ``x`` (a list, tuple or dict, or a record) holds an object of a user's class
    among its entries or fields, to ``depth`` levels down (the first 64 of each): where
    compiled code takes such an entry out (``vs[0]``, ``self.scale``), its operators are
    its class's. A record holding only arrays, or an array, holds none."""
    if depth == 0:
        return False
    if isinstance(x, dict):
        entries = list(x.values())
    elif isinstance(x, (list, tuple)):
        entries = list(x)
    elif is_record(x):
        entries = list(vars(x).values())
    else:
        return False
    return any(is_record(e) or holds_record(e, depth - 1) for e in entries[:64])


def fields_holding_records(name: str, x: Any) -> set[str]:
    """The fields of ``x`` (a module, a record: an object keeping them in ``__dict__``,
    no array) that hold objects of a user's class, as ``"name.field"``: compiled Tensor
    code runs their operators (``self.scale * h``) as their class's."""
    if isinstance(x, _NOT_RECORDS) or x is None or hasattr(x, "shape"):
        return set()
    try:
        fields_ = vars(x)
    except TypeError:  # (no __dict__)
        return set()
    return {f"{name}.{k}" for k, v in list(fields_.items())[:256] if is_record(v)}


# the methods of lists, dicts and sets that update them in place
CONTAINER_UPDATES = frozenset({"append", "extend", "insert", "update", "clear", "reverse",
                               "pop", "remove", "setdefault", "popitem", "sort", "add",
                               "discard"})  # fmt: skip
CONTAINER_UPDATE_WHY = (
    "compiled code follows such an update only in a list or dict a local name holds, or a "
    "field of an object the differentiated function builds itself"
)
CONTAINER_UPDATE_HINT = (
    "build the object in the differentiated function and update its field there "
    "(o = Acc(); o.items.append(v)); in a method, return the new list and set the field "
    "where the object is built (o.items = o.items + [v])"
)


def container_update(obj: Any, name: str) -> tuple[str, str] | None:
    """Why ``obj.name(v)``, a list's or dict's update in place reached through a field or
    an expression (``self.items.append(v)`` in a method), is refused where ``v`` carries a
    gradient, and what to do; None for another call."""
    if type(obj) not in (list, dict, set) or name not in CONTAINER_UPDATES:
        return None
    return (
        f"`.{name}(...)` of a {type(obj).__name__} reached through a field or an "
        "expression, not a local name (`self.items.append(v)`), with a value carrying a "
        "gradient: " + CONTAINER_UPDATE_WHY,
        CONTAINER_UPDATE_HINT,
    )


def receiver(obj: Any, name: str, *index: Any) -> None:
    """Check ``obj`` of ``obj.name(...)`` (or ``obj.name``), which compiled code
    differentiates as an array's (or a dict's) method or attribute of that name: an object
    of a user's class, whose own it is (``acc.copy()``, a property ``T``), is refused,
    never given the array's derivative. ``obj[index]`` (``name`` ``"__getitem__"``) with
    an index that carries no gradient (an integer taken from a list, a key) only selects:
    the object's own ``__getitem__`` runs, as in Python (``self.params[i]``)."""
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and not is_record(obj):
        return  # an array of any library (array-api-strict's .T is a Python property)
    if index and selects_only(index[0]):
        return
    own = inspect.getattr_static(type(obj), name, None)  # in Python: the class's own
    if is_record(obj) or isinstance(own, (types.FunctionType, property)):  # (a named tuple's)
        from .mutation import refuse  # mutation imports this module

        raise refuse(
            f".{name} of a {type(obj).__qualname__}, which compiled code took for an array's "
            f"(or a dict's) .{name}",
            f"call it as {type(obj).__qualname__}.{name}(obj, ...), or construct the object "
            "in this function",
        )


def selects_only(key: Any) -> bool:
    """Whether ``key`` is an index no gradient flows through: integers, booleans,
    strings, slices of them, None, ``...``, arrays of integers or booleans, and tuples
    of these."""
    if isinstance(key, tuple):
        return all(map(selects_only, key))
    if isinstance(key, slice):
        return all(selects_only(p) for p in (key.start, key.stop, key.step))
    if isinstance(key, (int, str, bytes, range, np.integer, np.bool_)) or key is None \
            or key is Ellipsis:  # fmt: skip
        return True
    kind = getattr(getattr(key, "dtype", None), "kind", None)
    return kind is not None and kind in "biu" and hasattr(key, "shape")


# what Python's operators do on an array class of NumPy's that is not the ndarray itself
# np.matrix's * is @; a masked entry is skipped; a record array's fields are attributes
_OWN_OPERATORS = ("matrix", "MaskedArray", "recarray")
# the methods by which an ndarray subclass changes what NumPy's operators and functions do
_OPERATOR_HOOKS = frozenset({
    "__array_ufunc__", "__array_function__", "__array_wrap__", "__getitem__", "__setitem__",
    "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__", "__mul__", "__rmul__",
    "__imul__", "__truediv__", "__rtruediv__", "__itruediv__", "__pow__", "__rpow__",
    "__ipow__", "__matmul__", "__rmatmul__", "__imatmul__", "__neg__", "__pos__", "__abs__",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__or__", "__ror__", "__and__",
    "__rand__", "__xor__", "__rxor__", "__invert__", "__lshift__", "__rshift__",
})  # fmt: skip
_PLAIN_OPERANDS = frozenset({np.ndarray, float, int, bool, complex, *np.sctypeDict.values()})
# what an ndarray subclass may define and stay an array srcdiff's rules differentiate
_HARMLESS = frozenset({"__new__", "__init__", "__array_finalize__", "__repr__", "__str__",
                       "__reduce__", "__reduce_ex__", "__setstate__", "__format__"})  # fmt: skip


def plain_operand_type(cls: type) -> bool:
    """Whether Python's operators on a value of ``cls`` are the arithmetic srcdiff's rules
    differentiate: NumPy's arrays (not ``np.matrix``, a masked array, a record array, or a
    subclass with operators of its own) and numbers (an ``enum`` of integers too), and
    another array library's arrays. (An array's dtype must be plain too: ``plain_value``.)
    Not cached: a class may be given an operator later."""
    if cls in _PLAIN_OPERANDS:
        return True
    base = next((b for b in (np.ndarray, float, int) if issubclass(cls, b)), None)
    if base is None:
        return (cls.__module__ or "").split(".")[0] in _ARRAY_PACKAGES
    return not _own_operators(cls, base)


def _plain_sequence_type(cls: type) -> bool:
    """A list, tuple (a named tuple too) or string class whose operators are the built-in
    ones (joins and repeats), not its own, and whose entries are the ones it holds (no
    ``__iter__``, ``__getitem__`` or ``__len__`` of its own)."""
    base = next((b for b in (list, tuple, str, bytes) if issubclass(cls, b)), None)
    return base is not None and not _own_operators(cls, base) and plain_entries_type(cls, base)


_ENTRY_METHODS = ("__iter__", "__getitem__", "__len__")


def plain_entries_type(cls: type, base: type) -> bool:
    """Whether the subclass ``cls`` of ``base`` (list, tuple, ...) gives the entries it
    holds, by index and in order, as ``base`` does: compiled code indexes what Python
    iterates, and its adjoints give each stored entry its gradient."""
    return all(getattr(cls, m, None) is getattr(base, m) for m in _ENTRY_METHODS)


def _own_operators(cls: type, base: type) -> bool:
    """Whether a subclass ``cls`` of the built-in or NumPy class ``base`` computes in its
    own way: a class of the user's between them defines operators (an ndarray subclass:
    any method), or it is one of NumPy's arrays of another kind (``_OWN_OPERATORS``)."""
    for c in cls.__mro__[: cls.__mro__.index(base)]:
        if c.__name__ in _OWN_OPERATORS and c.__module__.startswith("numpy"):
            return True
        if not _foreign(c) and (_own_hooks(c) or base is np.ndarray and _own_methods(c)):
            return True
    return False


def _own_methods(cls: type) -> bool:
    """Whether the ndarray subclass ``cls`` defines methods (``sum``, ``__getitem__``)
    of its own, which NumPy's functions and srcdiff's rules would not run as it does."""
    return any(
        k not in _HARMLESS and isinstance(f, (types.FunctionType, property, staticmethod,
                                              classmethod))
        for k, f in vars(cls).items()
    )  # fmt: skip


def _own_hooks(cls: type) -> bool:
    """Whether ``cls`` defines operators (or NumPy's hooks) of its own: not those a
    class of NumPy's or the standard library gave it (``enum`` copies ``IntFlag.__or__``
    into a flag class)."""
    given = [b for b in cls.__mro__[1:] if _foreign(b)]
    return any(
        not any(vars(b).get(h) is f for b in given)
        for h, f in vars(cls).items() if h in _OPERATOR_HOOKS
    )  # fmt: skip


def _foreign(cls: type) -> bool:
    """A class of a package srcdiff knows (NumPy's, its own) or of the standard library
    (an ``enum.IntFlag``'s operators are the integers')."""
    package = (cls.__module__ or "").split(".")[0]
    return package in _FOREIGN or package in sys.stdlib_module_names


# the packages whose array classes' operators are arithmetic (srcdiff's: Tensors, batches)
_ARRAY_PACKAGES = frozenset({"cupy", "array_api_strict", "jax", "jaxlib", "torch", "srcdiff"})
_TEXT = (str, bytes)  # joined, repeated and formatted: no gradient, no array's arithmetic


def plain_value(v: Any) -> bool:
    """Whether ``v`` is an array or a number whose operators are arithmetic on its entries
    (see ``plain_operand_type``): not an array of objects, nor of records."""
    return (
        plain_operand_type(type(v)) and getattr(getattr(v, "dtype", None), "kind", "f") not in "OV"
    )


# Python's operators as functions, by the symbol the checks name them with
OPERATOR_SYMBOLS = {
    operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
    operator.pow: "**", operator.matmul: "@", operator.floordiv: "//", operator.mod: "%",
    operator.and_: "&", operator.or_: "|", operator.xor: "^", operator.lshift: "<<",
    operator.rshift: ">>", operator.neg: "-", operator.pos: "+", operator.invert: "~",
    operator.iadd: "+=", operator.isub: "-=", operator.imul: "*=", operator.itruediv: "/=",
    operator.ior: "|=", abs: "abs", operator.abs: "abs", pow: "pow",
}  # fmt: skip
# builtins with a rule that convert their argument by its own method (float: __float__),
# and functions taken to give no gradient that call one, which may return anything
# (int(), len() and bool() must return what they say)
HANDED_OVER = {sum: "sum", float: "float"}
UNTAKEN_HANDED_OVER = {
    round: "round", math.floor: "math.floor", math.ceil: "math.ceil", math.trunc: "math.trunc"
}  # fmt: skip


def call_check(fn: Any, rule: bool = True) -> tuple[Callable, str] | None:
    """How the primal checks the arguments of the primitive ``fn`` (one with a derivative
    rule, or else one taken to give no gradient): as an operator's operands
    (``operands``), or as those of a function that hands its work to its arguments' own
    methods (``arguments``: NumPy's, ``math``'s, ``sum``, ``float``, ``round``); None
    where none is needed. The symbol or name is the one a refusal shows."""
    try:
        symbol = OPERATOR_SYMBOLS.get(fn) if rule else None
        name = (HANDED_OVER if rule else UNTAKEN_HANDED_OVER).get(fn)
    except TypeError:  # an unhashable callable
        return None
    if symbol is not None:
        return operands, symbol
    if name is None and rule and getattr(fn, "__module__", None) == "math":
        name = f"math.{fn.__name__}"
    if name is None and numpy_callable(fn):
        name = f"np.{getattr(fn, '__name__', '')}"
    return None if name is None else (arguments, name)


def check_call(check: tuple[Callable, str] | None, args: tuple, kwargs: dict) -> None:
    """Run ``check`` (``call_check``'s) on a call's arguments, where compiled code met the
    primitive only when it ran (``f = round; f(o)``, ``round(*xs)``)."""
    if check is not None:
        check[0](check[1], *args, *kwargs.values())


def out_position(fn: Any) -> int | None:
    """Where a NumPy function takes ``out`` among its positional parameters (a ufunc's
    after its inputs; ``np.sum(a, axis, dtype, out)``, ``np.clip(a, lo, hi, out)``)."""
    if isinstance(fn, np.ufunc):
        return fn.nin
    kept = _KEPT_OUT_POSITIONS if type(fn) is _DISPATCHER else _OUT_POSITIONS
    try:
        return kept[fn]
    except (KeyError, TypeError):  # (TypeError: fn takes no weak reference)
        pass
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # no signature to read
        return None
    position = None
    for i, p in enumerate(parameters):
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        if p.name == "out":
            position = i
            break
    with contextlib.suppress(TypeError):  # (fn takes no weak reference: not kept)
        kept[fn] = position
    return position


# out_position's answers (reading a signature costs more than the rest of a call's
# compilation); weakly: gone with the function
_OUT_POSITIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# ... but NumPy's functions (``np.sum``, ``np.diff``: array-function dispatchers) take
# no weak reference; they live as long as their module, so are kept
_DISPATCHER = type(np.sum)
_KEPT_OUT_POSITIONS: dict[Any, int | None] = {}


def refuse_out(fn: Any, position: int | None, args: tuple, kwargs: dict) -> None:
    """Refuse a call of ``fn`` given an ``out`` array (by keyword, or by position): made
    through a name compiled code met only when it ran, its write is not followed."""
    given = kwargs.get("out")
    if given is None and position is not None and len(args) > position:
        given = args[position]
    if given is not None:
        from .mutation import refuse  # mutation imports this module

        raise refuse(
            f"{getattr(fn, '__name__', 'a function')}(..., out=...) called through a name: "
            "compiled code does not follow its write into out",
            "call it by its NumPy name (np.multiply(x, y, out=o)), or assign its result",
        )


# NumPy's modules whose functions make arrays of another kind (masked, matrices, records,
# strings)
_OTHER_ARRAYS = ("numpy.ma", "numpy.matrixlib", "numpy.rec", "numpy.char", "numpy.strings")
_DISPATCHER = type(np.sum)  # NumPy's array-function dispatchers
_MATRIX_MAKERS = frozenset({"asmatrix", "bmat", "mat"})  # NumPy's own, in its namespace


def numpy_callable(obj: Any) -> bool:
    """A NumPy ufunc or function (not a class, not an object such as ``np.vectorize(f)``,
    none of ``np.ma``'s): its result, of arrays and numbers, is an array or a number."""
    if isinstance(obj, np.ufunc):
        return True
    module = getattr(obj, "__module__", None) or ""
    return (
        module.startswith("numpy")
        and not module.startswith(_OTHER_ARRAYS)
        and isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, _DISPATCHER))
        and getattr(obj, "__name__", "") not in _MATRIX_MAKERS
    )


def arguments(name: str, *values: Any) -> None:
    """Check the arguments of the NumPy function (or array method) ``name`` where the
    compiler could not tell that some are arrays or numbers: an object of a user's class,
    ``np.matrix``, a masked array or an array of objects would run operators of its own
    (NumPy hands them its work), so they are refused; options (None, a dtype, a string,
    a slice) pass. A list meeting an array is an array of its entries: plain ones."""
    sequences = arrays = False
    for v in values:
        cls = type(v)
        if cls in _PLAIN_OPERANDS and (cls is not np.ndarray or v.dtype.kind not in "OV"):
            arrays = True
        elif cls in _OPTIONS:
            continue
        elif cls in _SEQUENCE_TYPES or isinstance(v, (list, tuple)) and _plain_sequence_type(cls):
            sequences = True
        elif not (plain_value(v) or isinstance(v, (type, np.dtype)) or _inert_type(cls)):
            raise _operator_refusal(name, v)  # a user's object, or an array of another kind
    if sequences and arrays:
        _plain_entries(name, values)


_OPTIONS = frozenset({type(None), str, bytes, slice, type(Ellipsis), range})
_SEQUENCE_TYPES = frozenset({list, tuple})


def _inert_type(cls: type) -> bool:
    """A class of NumPy's, srcdiff's or the standard library's whose objects NumPy takes
    for no array (not scipy's sparse matrices, which give themselves a priority)."""
    return _foreign(cls) and not any(hasattr(cls, h) for h in _ARRAY_HOOKS)


# what makes an object an array NumPy computes with in its own way (scipy's sparse
# matrices give themselves a priority)
_ARRAY_HOOKS = ("__array__", "__array_ufunc__", "__array_function__", "__array_priority__")


def operands(symbol: str, *values: Any) -> None:
    """Check the operands of the operator ``symbol`` (``+``, ``|``, ``abs``), all of them,
    where the compiler could not tell that some are arrays or numbers (a NumPy function's
    are checked by ``arguments``): an object of a user's class (or a dict, ``np.matrix``,
    an array of objects) runs its own operator, whose derivative is not the arithmetic
    one, so it is refused, never differentiated as an array. Lists and tuples join and
    repeat (rules of their own); one meeting an array or a number is an array of its
    entries, which must be plain then. Strings carry no gradient."""
    if symbol in COMPARISONS:
        _compared(symbol, values)
        return
    sequences = False
    for v in values:
        cls = type(v)
        if cls in _PLAIN_OPERANDS and (cls is not np.ndarray or v.dtype.kind not in "OV"):
            continue
        if v is None:  # (pow's modulus; None meets no operator)
            continue
        if cls in _SEQUENCE_TYPES or isinstance(v, (list, tuple)) and _plain_sequence_type(cls):
            sequences = True
        elif not (cls in _TEXT or isinstance(v, _TEXT) and _plain_sequence_type(cls)
                  or plain_value(v)):  # fmt: skip
            raise _operator_refusal(symbol, v)
    if sequences and not all(isinstance(v, (list, tuple, int, *_TEXT)) for v in values):
        _plain_entries(symbol, values)


def compared(symbol: str, result: Any, *values: Any) -> None:
    """Check a comparison (``p == q``) where it ran, the compiler not seeing that its
    operands are arrays or numbers: a result that is a bool (or an array of bools)
    carries no gradient, whatever method made it (a class's own ``__eq__`` returning
    ``self.k == other.k``); any other result is refused where a method of a user's class
    made it (see ``operands``)."""
    if isinstance(result, (bool, np.bool_)) or (
        type(result) is np.ndarray and result.dtype == np.bool_
    ):
        return
    _compared(symbol, values, type(result).__name__)


# Python's comparisons, by symbol, and the methods a class defines them with
COMPARISONS = {"<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__", "==": "__eq__",
               "!=": "__ne__"}  # fmt: skip


def _compared(symbol: str, values: tuple, gave: str | None = None) -> None:
    """Refuse a comparison (``v < x``) that runs a method of a user's class (its own
    ``__lt__``, or the reflected ``__gt__``, also on a list's entries or an array of
    objects): it may compute a value, whose derivative a comparison's zero is not."""
    for v in _leaves(values):
        cls = type(v)
        kind = getattr(getattr(v, "dtype", None), "kind", None)
        if hasattr(v, "shape") and hasattr(v, "dtype") and kind not in ("O", "V"):
            continue  # an array (a Tensor, another library's): its comparisons give bools
        if cls in _PLAIN_OPERANDS and not isinstance(v, np.ndarray):
            continue
        if (
            isinstance(v, np.ndarray)
            and v.dtype.kind in "OV"
            or any(
                isinstance(fn := inspect.getattr_static(cls, m, None), types.FunctionType)
                and not _dataclass_comparison(v, fn)
                for m in COMPARISONS.values()
            )
        ):
            raise _operator_refusal(symbol, v, gave)


def _dataclass_comparison(v: Any, fn: types.FunctionType) -> bool:
    """Whether ``fn`` is the comparison ``dataclasses`` made for ``v``'s class, whose
    fields are numbers or strings: it gives a bool."""
    return (
        dataclasses.is_dataclass(v)
        and fn.__code__.co_filename == "<string>"
        and all(
            isinstance(getattr(v, f.name, None), (*_NUMBERS, str, type(None)))
            for f in dataclasses.fields(v)
        )  # fmt: skip
    )


def _plain_entries(symbol: str, values: tuple) -> None:
    """Refuse a list or tuple among ``values`` holding what is no plain value (NumPy makes
    an array of its entries, on which it runs their own operators)."""
    for v in values:
        if isinstance(v, (list, tuple)):
            for entry in _leaves(v):  # (einsum's sublists hold ... and axes)
                if not (plain_value(entry) or isinstance(entry, _INDEXES)):
                    raise _operator_refusal(symbol, entry)


_INDEXES = (type(Ellipsis), slice, type(None), str)


def _leaves(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        for e in v:
            yield from _leaves(e)
    else:
        yield v


def _operator_refusal(symbol: str, v: Any, gave: str | None = None) -> Exception:
    from .mutation import refuse  # mutation imports this module

    cls = type(v)
    what = (
        "np.matrix (whose * is a matrix product)" if _numpy_class(cls, "matrix")
        else "a masked array" if _numpy_class(cls, "MaskedArray")
        else "an array of objects" if isinstance(v, np.ndarray) and v.dtype.kind in "OV"
        else f"a {cls.__qualname__}"
    )  # fmt: skip
    if symbol in COMPARISONS and gave is not None:
        return refuse(
            f"`{symbol}` of {what}, which runs a comparison method of the object's own that "
            f"gave a {gave}, not a bool (a value it computed, whose derivative a "
            "comparison's zero is not)",
            f"return a bool from {COMPARISONS[symbol]} (bool(...)), or call the method for "
            f"its value (v.{COMPARISONS[symbol]}(w))",
        )
    if symbol in COMPARISONS:
        return refuse(
            f"`{symbol}` of {what}, which runs a comparison method of the object's own "
            "(it may compute a value, whose derivative a comparison's zero is not)",
            f"call the method for its value (v.{COMPARISONS[symbol]}(w)), or compare arrays",
        )
    return refuse(
        f"`{symbol}` of {what}, which runs an operation of the object's own that "
        "compiled code cannot differentiate as arithmetic on arrays",
        "compute with arrays (np.asarray(v)), or call a method of the object's "
        "class (s.merged(t) for s + t); merge dicts with {**d, **e}",
    )


def _numpy_class(cls: type, name: str) -> bool:
    return any(c.__name__ == name and c.__module__.startswith("numpy") for c in cls.__mro__)


def put_attribute(holder: Any, attr: str, entry: Any, own: bool = False) -> None:
    """``holder.attr[k] = v`` in compiled code, which gave ``entry`` (the attribute's
    object, written) a new value, as Python's in-place write reaches the object: a list's
    or a dict's contents go back into it (every name holding it sees them); an array is
    the field's new value where the object is the function's ``own`` (built here, held
    by one name) and no other field shares it. Else refused: the caller's array, or an
    array's view (``b.T``), would not see the write."""
    from .mutation import refuse, write_back  # mutation imports this module

    old = getattr(holder, attr, None)
    if old is entry or callable(getattr(old, "_changed", None)) and old._data is entry:
        return  # (the Tensor's own array: an attribute of the Tensor set, ``m.b.grad = g``)
    if isinstance(old, (list, dict)) and isinstance(entry, type(old)):
        write_back(old, entry)
        return
    tensor = callable(getattr(holder, "_changed", None))  # a Tensor's .data takes it
    if hasattr(holder, "shape") and hasattr(holder, "dtype") and not tensor:
        if attr == "data":  # a value compiled Tensor code computed
            raise refuse(
                "a write into the entries of .data of a value the compiled code computed",
                "write through .detach() (h.detach()[0] = v), which keeps h's graph as .data does",
            )
        raise refuse(
            f"a write into the entries of .{attr} of an array (a view of it): compiled code "
            "gives the view a new value, which the array does not see",
            "write into the array itself (b[:, 0] = v for b.T[0] = v)",
        )
    if not (own or tensor):
        raise refuse(
            f"a write into the entries of the array .{attr} of an object the function did "
            "not build, or shares (the caller's array would change)",
            "compute the new array in a local name (buf = s.buf.copy(); buf[1] = v) and return it",
        )
    others = (
        [v for k, v in vars(holder).items() if k != attr] if hasattr(holder, "__dict__") else []
    )
    if any(holds(v, old) or _shares_memory(v, old) for v in others):
        raise refuse(  # another field holds the array (or a view of it): it would not see
            f"a write into the entries of .{attr}, whose array another field of the "
            f"{type(holder).__qualname__} also holds (or views)",
            "give each field an array of its own (.copy() it), or write into a copy",
        )
    setattr(holder, attr, entry)


def _shares_memory(a: Any, b: Any) -> bool:
    """Whether arrays ``a`` and ``b`` may share memory (a view of one in the other)."""
    if not (hasattr(a, "shape") and hasattr(b, "shape")):
        return False
    try:
        return bool(np.may_share_memory(a, b))
    except TypeError:  # arrays NumPy cannot look into (CuPy's): their bases
        return getattr(a, "base", None) is b or getattr(b, "base", None) is a


def fields(x: Any) -> list[str]:
    """The names of a record's fields: a dataclass's fields and other attributes in its
    ``__dict__``, else its ``__dict__``'s (a dict's keys, for a dict of fields)."""
    if isinstance(x, dict):
        return list(x)
    if dataclasses.is_dataclass(x):  # with attributes set besides (by __post_init__)
        declared = [f.name for f in dataclasses.fields(x)]
        return declared + [k for k in getattr(x, "__dict__", ()) if k not in declared]
    return list(vars(x))


backend.install_records(is_record_class, fields)  # array_module looks into their fields


def check_fields(x: Any) -> None:
    """Refuse a record with a field named like an array attribute (``.T``, ``.shape``):
    compiled code reads ``p.T`` as the array's, whose derivative differs."""
    import numpy as np

    clash = [k for k in fields(x) if hasattr(np.ndarray, k)]
    if clash:
        raise _refused(
            type(x),
            f"a field named .{clash[0]} of a {type(x).__qualname__} differentiated: srcdiff "
            f"reads .{clash[0]} as the array attribute",
            "rename the field",
        )


def _refused(cls: type, what: str, hint: str) -> Exception:
    """A CompileError at the definition of ``cls``."""
    from ..errors import CompileError

    try:
        lines, line = inspect.getsourcelines(cls)
        filename = inspect.getsourcefile(cls) or "?"
    except (OSError, TypeError):
        lines, line, filename = [""], None, "?"
    return CompileError(what, function=cls.__qualname__, filename=filename, lineno=line,
                        source_line=lines[0], hint=hint)  # fmt: skip


def field_grad(x: Any, name: str, g: Any) -> Any:
    """The adjoint of ``x`` from that of ``x.name``: a dict of the field's, or for a
    named tuple the list of its entries'. A class attribute is a constant (none); a
    property or other computed attribute is refused."""
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        d: list = [None] * len(x)
        d[x._fields.index(name)] = g
        return d
    check_fields(x)
    found = inspect.getattr_static(type(x), name, None)
    if isinstance(found, functools.cached_property):  # its value kept in __dict__ as a field's
        raise _refused(
            type(x),
            f"the cached property .{name} of a {type(x).__qualname__} read on a value "
            "carrying a gradient: srcdiff would take its cached value for a field",
            "make it a @property (srcdiff compiles its getter), or compute it from the fields",
        )
    if name not in fields(x):
        if isinstance(inspect.getattr_static(x, name, None), types.FunctionType):
            return g  # a method, bound to x: its adjoint is x's (see _method_of_record)
        if hasattr(inspect.getattr_static(x, name, None), "__get__"):
            raise _refused(
                type(x),
                f"the computed attribute .{name} of a {type(x).__qualname__} (a property or "
                "descriptor) read on a value carrying a gradient, not compiled: srcdiff "
                "compiles the getters of properties of the classes the function can name",
                "define the class at module level (a property), or make it a method and call it",
            )
        return None
    return Fields({name: g})


def field_tangent(d: Any, name: str) -> Any:
    """The tangent of ``x.name`` from that of ``x``: an object's, or a dict of its
    fields' (a zero tangent, made by compiled code). An attribute of the class, not of
    the object (``scale = 3.0`` in its body), is a constant: its tangent is zero (the
    tangent object's class would give the attribute's value)."""
    if isinstance(d, dict):
        return d.get(name, 0.0)
    if is_record(d) and hasattr(d, "__dict__") and name not in fields(d):
        return 0.0
    return getattr(d, name)


def record_grad(d: Any, x: Any, like: Any) -> Any:
    """The gradient of the record ``x`` from its adjoint ``d`` (a dict of the fields', or
    None), as an object of ``x``'s class built without calling ``__init__``: each field
    with a gradient holds it (``like(d_field, field)``), the others keep their value."""
    from .calls import carries_gradient

    check_fields(x)
    if d is not None and not isinstance(d, dict):
        raise _refused(
            type(x),
            f"a {type(x).__qualname__} used as an array (an array function, operator or "
            "method applied to it)",
            "compute with its fields",
        )
    d = d or {}
    out = copy.copy(x)
    for k in fields(x):
        v = getattr(x, k)
        if carries_gradient(v) or is_record(v):
            object.__setattr__(out, k, like(d.get(k), v))
    return out


class Fields(dict):
    """The adjoint of an object of a user's class: its fields' adjoints, by name (a dict's
    adjoint is a plain dict of its entries'). An index's adjoint never goes into it:
    ``x[i]`` of such an object runs its class's ``__getitem__`` (see ``index_add``)."""


def record_zeros(x: Any, zeros: Any) -> Fields:
    """A zero adjoint of the record ``x``: its fields' (``zeros(field)``)."""
    return Fields({k: zeros(getattr(x, k)) for k in fields(x)})


def method(obj: Any, name: str, after: type | None = None) -> Any:
    """The function ``obj.name(...)`` runs, called with ``obj`` first: compiled code
    passes ``obj`` as an argument, so that its fields' gradients reach it (for a static
    or class method, a function that drops it: see ``_forwarder``). ``after``: the
    class whose ``super()`` is called: the classes after it in ``obj``'s order."""
    from .mutation import refuse

    if type(obj) in (str, bytes) and after is None:  # a dict's key: its methods give
        fn = getattr(type(obj), name, None)  # no gradient (see rules/containers)
        if fn is not None and isinstance(fn, types.MethodDescriptorType):
            return fn
    if after is not None:
        order = type(obj).__mro__
        found = (vars(c)[name] for c in order[order.index(after) + 1 :] if name in vars(c))
        fn = next(found, None)
        if fn is object.__init__:
            return _object_init
    else:
        if name == "__call__" and isinstance(obj, functools.partial):
            return PARTIAL_CALL
        if name == "__call__" and callable(obj) and not is_record(obj):
            bound_to = getattr(obj, "__self__", None)  # a method: of an object with fields?
            if not (isinstance(obj, types.MethodType) and is_record(bound_to)):
                return PLAIN_CALL
        fn = inspect.getattr_static(type(obj), name, None)
        if name == "_replace" and _named_tuple_replace(obj, fn):
            return replacer(obj)
    if isinstance(fn, (staticmethod, classmethod)) and isinstance(fn.__func__,
                                                                  types.FunctionType):  # fmt: skip
        return _forwarder(fn.__func__, type(obj) if isinstance(fn, classmethod) else None)
    if not isinstance(fn, types.FunctionType) and (found := container_update(obj, name)):
        raise refuse(*found)
    if not isinstance(fn, types.FunctionType):
        raise refuse(
            f"a call of .{name} of a {type(obj).__qualname__} carrying a gradient, which is "
            "not a plain method with Python source",
            "call a plain method, or a function taking the object",
        )
    return fn


_BINARY = {"__add__": "+", "__sub__": "-", "__mul__": "*", "__truediv__": "/",
           "__floordiv__": "//", "__mod__": "%", "__pow__": "**", "__matmul__": "@",
           "__and__": "&", "__or__": "|", "__xor__": "^", "__lshift__": "<<",
           "__rshift__": ">>"}  # fmt: skip
_UNARY = {"__neg__": "-", "__pos__": "+", "__invert__": "~", "__getitem__": "[]"}
_NUMBERS = (int, float, complex, bool)
_DISPATCHERS: dict[tuple, types.FunctionType] = {}


def operator_method(name: str, *values: Any, tensors: bool = False) -> Any:
    """The function Python's operator ``name`` (``"__add__"``, ``"__neg__"``,
    ``"__getitem__"``; ``"__iadd__"`` for ``+=``, then ``"__add__"``'s) runs on
    ``values``, to be called with them: where an object of a
    user's class has that method in Python, a function calling it (for a binary operator
    as Python does: the reflected method of the right operand first where its class is a
    subclass of the left's, the other on NotImplemented), compiled as the user's code;
    else Python's own operator, its operands checked as an operator's are. ``tensors``: in
    compiled Tensor code, where an array stands for a Tensor, whose operators give
    NotImplemented for an object of a user's class."""
    from .mutation import refuse

    inplace = None
    if name not in _BINARY and name not in _UNARY:  # ``v += w``: ``__iadd__`` first
        inplace, name = name, "__" + name[3:]
    symbol = _BINARY.get(name) or _UNARY[name]
    fallback = getattr(operator, name.strip("_") + ("_" if name in ("__and__", "__or__") else ""))
    if name in _UNARY:
        fn = inspect.getattr_static(type(values[0]), name, None)
        if isinstance(fn, types.FunctionType):
            return fn
        operands(symbol, values[0])
        return fallback
    left, right = values
    reflected = "__r" + name[2:]
    steps = [(False, type(left), inspect.getattr_static(type(left), name, None))]
    if type(right) is not type(left):
        later = (True, type(right), inspect.getattr_static(type(right), reflected, None))
        own = later[2] is not inspect.getattr_static(type(left), reflected, None)
        steps.insert(0 if issubclass(type(right), type(left)) and own else 1, later)
    steps = [step for step in steps
             if not _defers(step, right if not step[0] else left, tensors)]  # fmt: skip
    if inplace is not None:
        steps.insert(0, (False, type(left), inspect.getattr_static(type(left), inplace, None)))
        symbol += "="
    if not any(isinstance(fn, types.FunctionType) for _, _, fn in steps):
        operands(symbol, left, right)
        return fallback
    message = (f"unsupported operand type(s) for {symbol}: "
               f"'{type(left).__qualname__}' and '{type(right).__qualname__}'")  # fmt: skip
    calls, failure, refusal = [], "TypeError(unsupported)", None
    for swapped, cls, fn in steps:  # (a number's own method gives NotImplemented here)
        if isinstance(fn, types.FunctionType):
            calls.append((swapped, fn))
        elif fn is not None and cls not in _NUMBERS:
            refusal = refuse(
                f"`{symbol}` of a {type(left).__qualname__} and a "
                f"{type(right).__qualname__}, where the {cls.__qualname__}'s own operator "
                "runs"
                + (" first" if not calls else " on NotImplemented")
                + ", which is not Python code srcdiff can compile",
                "call the class's method directly (v.__mul__(w)), or compute with arrays",
            )
            if not calls:
                raise refusal
            failure = "refusal"
            break
    key = (name, message, failure, *calls)
    hit = _DISPATCHERS.get(key) if failure != "refusal" else None
    if hit is None:
        names = _callee_names([fn for _, fn in calls])
        lines = [f"def {name.strip('_')}_of_objects(left, right):"]
        for i, (swapped, _) in enumerate(calls):
            lines += [f"{'    ' * i}if out is NotImplemented:"] if i else []
            args = "right, left" if swapped else "left, right"
            lines += [f"{'    ' * (i + 1)}out = {names[i]}({args})"]
        pad = "    " * len(calls)
        lines += [f"{pad}if out is NotImplemented:", f"{pad}    raise {failure}", "    return out"]
        namespace = {n: fn for n, (_, fn) in zip(names, calls, strict=True)}
        namespace.update(unsupported=message, refusal=refusal)
        from .calls import function_of_source

        hit = function_of_source(
            "\n".join(lines) + "\n",
            f"operator {symbol}",
            f"{name.strip('_')}_of_objects",
            namespace,
        )
        if failure != "refusal":
            _DISPATCHERS[key] = hit
    return hit


def _callee_names(fns: list[types.FunctionType]) -> list[str]:
    """Distinct identifiers naming ``fns`` in a dispatcher's source (``Vec__add__``), from
    their qualified names, whatever those hold (``make.<locals>.L``, ``<lambda>``), none
    the dispatcher's own."""
    names: list[str] = []
    for fn in fns:
        parts = [p for p in fn.__qualname__.split(".") if p != "<locals>"]
        name = re.sub(r"\W", "_", "".join(parts))
        if name[0].isdigit() or keyword.iskeyword(name):
            name = "m_" + name
        base, i = name, 2
        while name in names or name in _DISPATCH_OWN:
            name, i = f"{base}_{i}", i + 1
        names.append(name)
    return names


_DISPATCH_OWN = frozenset({"left", "right", "out", "unsupported", "refusal", "TypeError",
                           "NotImplemented"})  # fmt: skip


def _defers(step: tuple[bool, type, Any], other: Any, tensors: bool = False) -> bool:
    """Whether the operator method of ``step`` is NumPy's (an array's or a NumPy
    scalar's), which gives NotImplemented where ``other``'s class sets ``__array_ufunc__
    = None`` (or, the array standing for a Tensor, where ``other`` is no array or
    number): Python runs ``other``'s reflected method then (``x * obj``: its
    ``__rmul__``)."""
    _, cls, fn = step
    if not issubclass(cls, (np.ndarray, np.generic)) or isinstance(fn, types.FunctionType):
        return False
    if tensors and not plain_value(other):
        return True
    return inspect.getattr_static(type(other), "__array_ufunc__", False) is None


def _named_tuple_replace(obj: Any, fn: Any) -> bool:
    """Whether ``fn`` is the ``_replace`` ``collections.namedtuple`` gave ``obj``'s class."""
    return (
        isinstance(obj, tuple)
        and isinstance(getattr(type(obj), "_fields", None), tuple)
        and getattr(fn, "__module__", None) == "collections"
    )


_KEEP = object()  # a field not given to ``replacer``'s function: the object's kept
_REPLACERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def replacer(obj: Any, names: tuple[str, ...] = ()) -> types.FunctionType:
    """The function ``dataclasses.replace(obj, **changes)`` (or a named tuple's
    ``obj._replace(**changes)``) runs, with Python source, to be called with ``obj`` and
    the changes: a new object of ``obj``'s class built by its constructor from the fields
    given and those of ``obj`` (a dataclass's fields its ``__init__`` takes; an
    ``InitVar`` without default must be given, one with a default takes it). ``names``:
    the fields given, checked as ``dataclasses.replace`` checks them."""
    cls = type(obj)
    fields = getattr(cls, "__dataclass_fields__", None)
    for n in names if isinstance(fields, dict) and not isinstance(obj, type) else ():
        if n in fields and not fields[n].init:
            raise ValueError(f"field {n} is declared with init=False, it cannot be "
                             "specified with replace()")  # fmt: skip
        if n not in fields or fields[n]._field_type is dataclasses._FIELD_CLASSVAR:  # type: ignore[attr-defined]
            raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword "
                            f"argument '{n}'")  # fmt: skip
    hit = _REPLACERS.get(cls)
    if hit is not None:
        return hit
    defaults: dict[str, Any] = {"_srcdiff_cls": cls, "_srcdiff_keep": _KEEP}
    if isinstance(obj, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        params = {f: "_srcdiff_keep" for f in cls._fields}
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        params = {}
        for f in cls.__dataclass_fields__.values():  # type: ignore[attr-defined]
            kind = f._field_type  # type: ignore[attr-defined]
            if not f.init or kind is dataclasses._FIELD_CLASSVAR:  # type: ignore[attr-defined]
                continue
            if kind is not dataclasses._FIELD_INITVAR:  # type: ignore[attr-defined]
                params[f.name] = "_srcdiff_keep"
            elif f.default is dataclasses.MISSING:
                params[f.name] = None  # (to be given)
            else:
                params[f.name] = f"_srcdiff_default_{f.name}"
                defaults[params[f.name]] = f.default
    else:
        raise TypeError("replace() should be called on dataclass instances")
    name = re.sub(r"\W", "_", cls.__qualname__) + "_replaced"
    keywords = ", ".join(f if d is None else f"{f}={d}" for f, d in params.items())
    named = "" if isinstance(obj, tuple) else "{}="  # (a named tuple's: by position)
    values = ", ".join(named.format(f) + (f"_srcdiff_obj.{f} if {f} is _srcdiff_keep else {f}"
                                         if d == "_srcdiff_keep" else f)
                       for f, d in params.items())  # fmt: skip
    source = (f"def {name}(_srcdiff_obj, /, *, {keywords}):\n"
              f"    return _srcdiff_cls({values})\n")  # fmt: skip
    from .calls import function_of_source

    hit = function_of_source(source, f"replace of {cls.__qualname__}", name, defaults)
    _REPLACERS[cls] = hit
    return hit


def holds(value: Any, obj: Any) -> bool:
    """Whether ``value`` is ``obj`` or holds it: in a tuple, list or dict, or in a field
    of an object, at any depth. A name given such a value would share ``obj``, which
    compiled code does not follow (see ``analyse.made_objects``)."""
    seen: set[int] = set()
    todo = [value]
    while todo:
        v = todo.pop()
        if v is obj:
            return True
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, (tuple, list)):
            todo.extend(v)
        elif isinstance(v, dict):
            todo.extend(v.values())
        elif is_record(v):
            todo.extend(getattr(v, k, None) for k in fields(v))
    return False


def getter(obj: Any, name: str) -> Any:
    """The function reading ``obj.name``, called with ``obj``: a property's getter,
    compiled as a method, or for a field one reading it (``analyse`` reads ``x.name``
    through this where ``name`` is a property of a class the function can name)."""
    prop = inspect.getattr_static(type(obj), name, None)
    if isinstance(prop, property) and isinstance(prop.fget, types.FunctionType):
        return prop.fget
    hit = _GETTERS.get(name)  # a field; another computed attribute is refused there
    if hit is None:
        from .calls import function_of_source
        from .mutation import refuse

        if not (isinstance(name, str) and name.isidentifier()) or keyword.iskeyword(name):
            raise refuse(
                f"getattr() of a differentiated object with the name {name!r}, which is no "
                "Python identifier: srcdiff reads a field as obj.<name>",
                "keep such values in a dict field, and index it",
            )

        source = f"def read_{name}(obj):\n    return obj.{name}\n"
        hit = _GETTERS[name] = function_of_source(source, f"reading .{name}", f"read_{name}")
    return hit


_GETTERS: dict[Any, types.FunctionType] = {}


def getter_or(obj: Any, name: str) -> Any:
    """The function ``getattr(obj, name, default)`` runs, called with ``obj`` and the
    default: the field's reader (see ``getter``, which it ignores the default of) where
    ``obj`` or its class has ``name``, else one giving the default back. A class that
    makes attributes in its own ``__getattr__`` is refused: which one it has is then no
    fact to read."""
    from .mutation import refuse

    if inspect.getattr_static(obj, name, _ABSENT) is not _ABSENT:
        read = getter(obj, name)
        hit = _GETTERS.get((name, "default"))
        if hit is None:
            from .calls import function_of_source

            source = f"def read_{name}_or(obj, default):\n    return obj.{name}\n"
            hit = _GETTERS[(name, "default")] = function_of_source(
                source, f"reading .{name}", f"read_{name}_or"
            )
        return hit if read is _GETTERS.get(name) else _with_default(read)
    if hasattr(type(obj), "__getattr__"):
        raise refuse(
            f"getattr(p, {name!r}, default) of a differentiated {type(obj).__qualname__}, "
            "whose class makes attributes in its own __getattr__",
            f"read the field with getattr(p, {name!r}), or keep such values in a dict",
        )
    hit = _GETTERS.get((None, "default"))
    if hit is None:  # (source srcdiff compiles, as a reader's)
        from .calls import function_of_source

        hit = _GETTERS[(None, "default")] = function_of_source(
            "def default_of(obj, default):\n    return default\n", "a getattr's default",
            "default_of",
        )  # fmt: skip
    return hit


def _with_default(read: types.FunctionType) -> Any:
    """A property's getter ``read``, given the default of ``getattr`` too."""
    hit = _GETTERS.get(read)
    if hit is None:
        from .calls import function_of_source

        hit = _GETTERS[read] = function_of_source(
            "def read_with_default(obj, default):\n    return read(obj)\n",
            f"reading .{read.__name__}", "read_with_default", {"read": read},
        )  # fmt: skip
    return hit


def setter(obj: Any, name: str) -> types.FunctionType:
    """The function ``obj.name = v`` runs, compiled: the setter of ``obj``'s property
    ``name`` (Python source, each ``self.f = e`` made ``self = rt.set_field(self, "f",
    e)``) on a copy of ``self``, which it returns and the caller's name takes (``analyse``:
    an object the function built, held by that name alone). A callee changes nothing it
    is given: it may run twice, traced then on its path."""
    from .mutation import refuse

    cls = type(obj)
    prop = inspect.getattr_static(cls, name, None)
    fset = prop.fset if isinstance(prop, property) else None
    hit = _SETTERS.get(fset) if fset is not None else None
    if hit is not None:
        return hit
    where = f"the setter of {cls.__qualname__}.{name}"
    if not (isinstance(fset, types.FunctionType) and _has_source(fset)):
        raise refuse(f"{where}, which is no Python function with source",
                     "set the fields the setter sets in the function itself")  # fmt: skip
    tree = ast.parse(textwrap.dedent(inspect.getsource(fset))).body[0]
    args = tree.args
    if args.posonlyargs or args.vararg or args.kwarg or args.kwonlyargs or len(args.args) != 2:
        raise refuse(f"{where}, whose parameters are not (self, value)",
                     "write it as def x(self, value)")  # fmt: skip
    self_name = args.args[0].arg
    writes = _SetterWrites(self_name, cls)
    tree.body = [writes.visit(s) for s in tree.body]
    if writes.refused:
        raise refuse(
            f"{where}, which {writes.refused} (srcdiff compiles a setter that sets and "
            f"reads fields of {self_name} only)",
            "set the fields the setter sets in the function itself",
        )
    tree.body = [
        ast.parse(f"{self_name} = _srcdiff_copy({self_name})").body[0],
        *tree.body,
        ast.Return(ast.Name(self_name, ast.Load())),
    ]
    tree.decorator_list = []
    tree.name = re.sub(r"\W", "_", cls.__qualname__) + f"_set_{name}"
    inner = textwrap.indent(ast.unparse(ast.fix_missing_locations(tree)), "    ")
    source = f"def _srcdiff_make(_srcdiff_copy):\n{inner}\n    return {tree.name}\n"
    from .calls import function_of_source

    made = function_of_source(source, f"setter of {cls.__qualname__}.{name}", "_srcdiff_make")
    made = made(copy.copy)
    fn = types.FunctionType(made.__code__, fset.__globals__, made.__name__, None,
                            made.__closure__)  # fmt: skip
    fn.__qualname__ = f"{cls.__qualname__}.{name}.setter"
    _SETTERS[fset] = fn
    return fn


class _SetterWrites(ast.NodeTransformer):
    """A setter's ``self.f = e`` made ``self = rt.set_field(self, "f", e)``; what else it
    does with ``self`` (a method called, ``self`` passed on, a field written otherwise,
    a property set) and ``return`` noted in ``refused``."""

    def __init__(self, self_name: str, cls: type):
        self.self_name, self.cls, self.refused = self_name, cls, ""

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        target = node.targets[0]
        of_self = isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
        if not (len(node.targets) == 1 and of_self and target.value.id == self.self_name):
            return self.generic_visit(node)
        if hasattr(inspect.getattr_static(self.cls, target.attr, None), "__set__"):
            self.refused = self.refused or f"sets the property {self.self_name}.{target.attr}"
        value = self.visit(node.value)
        call = ast.Call(ast.parse("rt.set_field", mode="eval").body,
                        [ast.Name(self.self_name, ast.Load()), ast.Constant(target.attr), value],
                        [])  # fmt: skip
        return ast.copy_location(ast.Assign([ast.Name(self.self_name, ast.Store())], call), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == self.self_name:
            if not isinstance(node.ctx, ast.Load):
                self.refused = self.refused or f"writes {self.self_name}.{node.attr} in place"
            return node
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and (isinstance(func.value.value, ast.Name) and func.value.value.id == self.self_name)
        ):  # ``self.items.append(v)``: the field's object changed in place
            self.refused = self.refused or f"changes {self.self_name}.{func.value.attr} in place"
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and (func.value.id == self.self_name)
        ):
            self.refused = self.refused or f"calls a method of {self.self_name}"
        return self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if not isinstance(node.ctx, ast.Load):
            self.refused = self.refused or "writes into an entry in place"
        return self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.refused = self.refused or "updates a value in place (+=)"
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.self_name:
            self.refused = self.refused or f"uses {self.self_name} other than by its fields"
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.refused = self.refused or "returns"
        return node


_SETTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FORWARDERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _object_init(obj: Any) -> None:
    """``object.__init__``, as ``super().__init__()`` calls it: it does nothing."""


def _forwarder(fn: types.FunctionType, cls: type | None) -> types.FunctionType:
    """A function, with source of its own, taking an object then ``fn``'s parameters
    and calling ``fn`` with them (a static method called on an object), or with ``cls``
    first (a class method: ``fn``'s first parameter)."""
    from .calls import function_of_source
    from .mutation import refuse

    per_fn = _FORWARDERS.setdefault(fn, {})
    hit = per_fn.get(cls)
    if hit is not None:
        return hit
    params = list(inspect.signature(fn).parameters.values())[1 if cls is not None else 0 :]
    if any(q.kind in (q.VAR_POSITIONAL, q.VAR_KEYWORD) for q in params):
        raise refuse(
            f"a call of the static or class method {fn.__qualname__}, taking *args or "
            "**kwargs, on an object carrying a gradient",
            f"call it on the class ({fn.__qualname__}(...))",
        )
    defaults, text, passed, star = [], ["_srcdiff_self"], ["_srcdiff_cls"] if cls else [], False
    for q in params:
        if q.kind is q.KEYWORD_ONLY and not star:
            text.append("*")
            star = True
        piece = q.name
        if q.default is not q.empty:
            piece += f"=_srcdiff_defaults[{len(defaults)}]"
            defaults.append(q.default)
        text.append(piece)
        passed.append(f"{q.name}={q.name}" if q.kind is q.KEYWORD_ONLY else q.name)
    name = re.sub(r"\W", "_", fn.__name__)
    source = (
        "def _srcdiff_make(_srcdiff_fn, _srcdiff_cls, _srcdiff_defaults):\n"
        f"    def {name}({', '.join(text)}):\n"
        f"        return _srcdiff_fn({', '.join(passed)})\n"
        f"    return {name}\n"
    )
    made = function_of_source(source, f"a call of {fn.__qualname__}", "_srcdiff_make")
    hit = per_fn[cls] = made(fn, cls, defaults)
    return hit


def assemble(cls: type, values: dict) -> Any:
    """An object of ``cls`` with the fields ``values``, built without calling its
    ``__init__`` (what a constructor compiled by ``constructor`` returns)."""
    out = object.__new__(cls)
    for k, v in values.items():
        object.__setattr__(out, k, v)
    return out


def set_field(obj: Any, name: str, v: Any) -> Any:
    """``obj.name = v`` on an object the function made (and shares with no other name),
    as Python does it; ``obj`` returned. On a dict of fields (a zero tangent), a new
    dict with the entry."""
    if isinstance(obj, dict):
        return {**obj, name: v}
    setattr(obj, name, v)
    return obj


def set_field_grads(g: Any, name: str, v: Any) -> tuple[Any, Any]:
    """The adjoints of ``obj`` and ``v`` from that of ``set_field(obj, name, v)``: the
    field's goes to ``v``, the rest to the object as it was."""
    from .arrays import zeros_like

    rest = dict(g or {})
    part = rest.pop(name, None)
    return rest, zeros_like(v) if part is None else part


_CONSTRUCTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INITIALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_HINT = "build it outside the differentiated function, or pass its fields as arguments"


def constructor(cls: type) -> types.FunctionType:
    """A Python function, with source of its own, taking ``cls``'s arguments and
    returning the object ``cls(...)`` makes, built by ``assemble`` (so that srcdiff
    compiles it like a user's function, and each field's gradient reaches the arguments
    it was computed from): a dataclass's fields from its arguments, defaults and
    factories, then the body of its ``__post_init__``; or the body of ``cls.__init__``,
    in both ``self.x`` read and written as an entry of a dict, and
    ``super().__init__(...)`` the fields the base class's ``initializer`` sets."""
    hit = _CONSTRUCTORS.get(cls)
    if hit is None:
        hit = _CONSTRUCTORS[cls] = _make_constructor(cls, cls.__init__, whole=True)
    return hit


def initializer(cls: type, init: Any) -> types.FunctionType:
    """As ``constructor``, of the ``__init__`` ``init`` (``cls``'s own, or one of a base
    class, which ``super().__init__`` calls), returning the dict of the fields it sets."""
    per_cls = _INITIALIZERS.setdefault(cls, {})
    hit = per_cls.get(init)
    if hit is None:
        hit = per_cls[init] = _make_constructor(cls, init, whole=False)
    return hit


def merged(fields: dict, more: dict) -> dict:
    """The fields ``fields`` then those ``super().__init__`` set (``more``), as a new
    dict."""
    return {**fields, **more}


def merged_grads(g: Any, more: dict) -> tuple[Any, Any]:
    """The adjoints of ``fields`` and ``more`` from that of ``merged(fields, more)``:
    each field's goes to the dict that gave its value."""
    if g is None:
        return None, None
    return {k: v for k, v in g.items() if k not in more}, {k: v for k, v in g.items() if k in more}


def _make_constructor(cls: type, init: Any, whole: bool) -> types.FunctionType:
    """``constructor(cls)`` (``whole``), or ``initializer(cls, init)``."""
    from .calls import function_of_source
    from .mutation import refuse

    name = cls.__qualname__
    owner = next((c for c in cls.__mro__ if c.__dict__.get("__init__") is init), cls)
    if dataclasses.is_dataclass(owner) and not _has_source(init):
        return _dataclass_constructor(cls, owner, whole)
    if not isinstance(init, types.FunctionType) or not _has_source(init):
        raise refuse(
            f"a {name} built in a differentiated function, whose __init__ "
            f"({init.__qualname__}) has no Python source",
            _HINT,
        )
    tree = ast.parse(textwrap.dedent(inspect.getsource(init))).body[0]
    self_name = tree.args.posonlyargs[0].arg if tree.args.posonlyargs else tree.args.args[0].arg
    base = _base_init(cls, owner)
    problem = _FieldsOf(self_name, "_srcdiff_fields", base, cls)
    body = [problem.visit(s) for s in tree.body]
    if problem.super_called:
        problem.stored |= getattr(initializer(cls, base), "_srcdiff_sets", set())
    _check(cls, problem, self_name, "__init__")
    if tree.args.posonlyargs:
        tree.args.posonlyargs.pop(0)
    else:
        tree.args.args.pop(0)
    tree.decorator_list = []
    tree.name = re.sub(r"\W", "_", name) + "__init__"  # (not the class's name: its code reads it)
    tree.body = [
        ast.parse("_srcdiff_fields = {}").body[0],
        *body,
        ast.parse(_ending(whole)).body[0],
    ]
    inner = textwrap.indent(ast.unparse(ast.fix_missing_locations(tree)), "    ")
    source = (
        "def _srcdiff_make(_cls, _srcdiff_defaults, _srcdiff_base_init):\n"
        f"{inner}\n    return {tree.name}\n"
    )
    made = function_of_source(source, f"constructor of {name}", "_srcdiff_make")
    made = made(cls, (), initializer(cls, base) if problem.super_called else None)
    fn = types.FunctionType(made.__code__, init.__globals__, made.__name__,
                            init.__defaults__, made.__closure__)  # fmt: skip
    fn.__kwdefaults__ = init.__kwdefaults__
    fn.__qualname__ = f"{name}.__init__"
    fn._srcdiff_sets = problem.stored  # type: ignore[attr-defined]
    return fn


def _base_init(cls: type, owner: type) -> Any:
    """The ``__init__`` that ``super().__init__`` in ``owner``'s calls for an object of
    ``cls``: that of the next class in ``cls``'s method resolution order defining one."""
    mro = cls.__mro__
    after = mro[mro.index(owner) + 1 :] if owner in mro else ()
    return next((c.__dict__["__init__"] for c in after if "__init__" in c.__dict__), None)


def _ending(whole: bool) -> str:
    return "return rt.assemble(_cls, _srcdiff_fields)" if whole else "return _srcdiff_fields"


def _check(cls: type, problem: _FieldsOf, self_name: str, what: str) -> None:
    """Refuse the constructor whose ``what`` (``__init__``, ``__post_init__``) did more
    than srcdiff follows, as ``problem`` noted."""
    from .mutation import refuse

    unset = sorted(problem.read - problem.stored)
    computed = [
        k for k in problem.stored if hasattr(inspect.getattr_static(cls, k, None), "__set__")
    ]
    if unset and not problem.refused:
        problem.refused = f"reads {self_name}.{unset[0]}, which it does not set"
    elif computed and not problem.refused:
        problem.refused = f"sets the property {self_name}.{computed[0]}"
    if problem.refused:
        raise refuse(
            f"a {cls.__qualname__} built in a differentiated function, whose {what} "
            f"{problem.refused} (srcdiff compiles a {what} that only sets and reads "
            "attributes of self"
            + (", and calls super().__init__)" if what == "__init__" else ")"),  # fmt: skip
            _HINT,
        )


def _dataclass_constructor(cls: type, owner: type, whole: bool) -> types.FunctionType:
    """The constructor (``whole``) or initializer of the dataclass ``owner`` for an
    object of ``cls``: its ``__init__``'s parameters, each field from its argument,
    default or factory, then the body of ``__post_init__`` (its parameters the
    ``InitVar`` ones)."""
    from .calls import function_of_source

    name = cls.__qualname__
    consts: list = []

    def constant(v: Any) -> str:
        consts.append(v)
        return f"_srcdiff_defaults[{len(consts) - 1}]"

    signature = inspect.signature(owner.__init__)
    params = list(signature.parameters.values())[1:]
    pieces = {False: [], True: []}  # positional, keyword-only
    for q in params:
        default = "" if q.default is q.empty else "=" + constant(q.default)
        pieces[q.kind is q.KEYWORD_ONLY].append(q.name + default)
    text = ", ".join(pieces[False] + (["*", *pieces[True]] if pieces[True] else []))
    given = {q.name: q.default for q in params}
    body = ["_srcdiff_fields = {}"]
    stored = set()
    for f in dataclasses.fields(owner):
        factory = None if f.default_factory is dataclasses.MISSING else f.default_factory
        if f.init and factory is not None:  # the argument left out: a new default
            body += [f"if {f.name} is {constant(given[f.name])}:",
                     f"    {f.name} = {constant(factory)}()"]  # fmt: skip
        if f.init:
            value = f.name
        elif factory is not None:
            value = constant(factory) + "()"
        elif f.default is not dataclasses.MISSING:
            value = constant(f.default)
        else:
            continue  # set by __post_init__, or never
        body.append(f"_srcdiff_fields[{f.name!r}] = {value}")
        stored.add(f.name)
    post = getattr(owner, "__post_init__", None)
    namespace = None
    if post is not None:
        init_vars = [q.name for q in params if not _is_field(owner, q.name)]
        post_body, namespace = _post_init(cls, post, stored, init_vars)
        body += post_body
    body.append(_ending(whole))
    source = _wrapped(name, text, body)
    make = function_of_source(source, f"constructor of {name}", "_srcdiff_make")
    fn = made = make(cls, consts)
    if namespace is not None:  # the body of __post_init__ reads the user's module
        fn = types.FunctionType(made.__code__, namespace, made.__name__, made.__defaults__,
                                made.__closure__)  # fmt: skip
        fn.__kwdefaults__ = made.__kwdefaults__
    fn.__qualname__ = f"{name}.__init__"
    fn._srcdiff_sets = stored  # type: ignore[attr-defined]
    return fn


def _is_field(cls: type, name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(cls))


def _post_init(cls: type, post: Any, stored: set, init_vars: list[str]) -> tuple[list, dict]:
    """The lines of ``post``'s body, ``self.x`` an entry of the dict of fields, its
    parameters given the ``InitVar`` arguments ``init_vars`` (``stored`` gains the fields
    it sets); and the namespace its names are read in."""
    from .mutation import refuse

    if not isinstance(post, types.FunctionType) or not _has_source(post):
        raise refuse(
            f"a {cls.__qualname__} built in a differentiated function, whose "
            "__post_init__ has no Python source",
            _HINT,
        )
    tree = ast.parse(textwrap.dedent(inspect.getsource(post))).body[0]
    names = [a.arg for a in tree.args.posonlyargs + tree.args.args]
    if len(names) != len(init_vars) + 1 or tree.args.vararg or tree.args.kwonlyargs:
        raise refuse(
            f"a {cls.__qualname__} built in a differentiated function, whose __post_init__ "
            "takes other parameters than its InitVar fields",
            _HINT,
        )
    problem = _FieldsOf(names[0], "_srcdiff_fields", None, cls)
    problem.stored = set(stored)
    body = [problem.visit(s) for s in tree.body]
    _check(cls, problem, names[0], "__post_init__")
    stored |= problem.stored
    lines = [f"{p} = {v}" for p, v in zip(names[1:], init_vars, strict=True) if p != v]
    for s in body:
        lines += ast.unparse(ast.fix_missing_locations(s)).splitlines()
    return lines, post.__globals__


def _has_source(fn: Any) -> bool:
    try:
        inspect.getsource(fn)
    except (OSError, TypeError):
        return False
    return True


def _wrapped(name: str, params: str, body: list[str]) -> str:
    """The source of ``_srcdiff_make(_cls, _srcdiff_defaults)``, which returns the
    constructor ``name(params)`` of ``body``."""
    fn = re.sub(r"\W", "_", name) + "__init__"  # (not the class's name: its code reads it)
    lines = "".join(f"        {line}\n" for line in body)
    return (
        f"def _srcdiff_make(_cls, _srcdiff_defaults):\n    def {fn}({params}):\n{lines}"
        f"    return {fn}\n"
    )


class _FieldsOf(ast.NodeTransformer):
    """``self.x`` made ``fields['x']``, and ``super().__init__(...)`` (where ``super_init``
    is the base class's ``__init__``) ``fields = rt.merged(fields,
    _srcdiff_base_init(...))``, or nothing for ``object.__init__``; anything else done
    with ``self`` (a method called, ``self`` passed on or returned), other uses of
    ``super()`` and ``return`` noted in ``refused``."""

    def __init__(self, self_name: str, fields_name: str, super_init: Any, cls: type):
        self.cls = cls
        self.self_name = self_name
        self.fields_name = fields_name
        self.super_init = super_init  # the __init__ super().__init__ calls, or None
        self.super_called = False
        self.refused = ""
        self.stored: set[str] = set()
        self.read: set[str] = set()

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        call = node.value
        if _is_object_setattr(call, self.self_name):  # how a frozen dataclass sets a field
            key, value = call.args[1], self.visit(call.args[2])
            self.stored.add(key.value)
            target = ast.Subscript(ast.Name(self.fields_name, ast.Load()), key, ast.Store())
            return ast.copy_location(ast.Assign([target], value), node)
        if self.super_init is None or not _is_super_init(call, self.self_name):
            return self.generic_visit(node)
        if self.super_init is object.__init__:  # sets nothing
            if call.args or call.keywords:
                self.refused = self.refused or "passes arguments to object.__init__"
            return ast.copy_location(ast.Pass(), node)
        self.super_called = True
        call.func = ast.Name("_srcdiff_base_init", ast.Load())
        call = self.generic_visit(call)
        table = ast.Name(self.fields_name, ast.Load())
        merge = ast.Call(ast.parse("rt.merged", mode="eval").body, [table, call], [])
        target = ast.Name(self.fields_name, ast.Store())
        return ast.copy_location(ast.Assign([target], merge), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == self.self_name:
            key = ast.Constant(node.attr)
            table = ast.Name(self.fields_name, ast.Load())
            entry = ast.Subscript(table, key, node.ctx)
            if isinstance(node.ctx, ast.Store):
                self.stored.add(node.attr)
            elif _class_value(self.cls, node.attr):  # the object's own, else the class's
                here = ast.Compare(key, [ast.In()], [ast.Name(self.fields_name, ast.Load())])
                of_class = ast.Attribute(ast.Name("_cls", ast.Load()), node.attr, ast.Load())
                return ast.copy_location(ast.IfExp(here, entry, of_class), node)
            else:
                self.read.add(node.attr)
            return ast.copy_location(entry, node)
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == self.self_name
        ):
            self.refused = self.refused or f"calls a method of {self.self_name}"
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.self_name:
            self.refused = self.refused or f"uses {self.self_name} other than by its attributes"
        elif node.id == "super":
            self.refused = self.refused or "calls super()"
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.refused = self.refused or "returns early"
        return node


def _class_value(cls: type, name: str) -> bool:
    """Whether ``cls`` has a plain value (no method, property or other descriptor) named
    ``name``, which ``self.name`` reads until the object has one of its own."""
    found = inspect.getattr_static(cls, name, _ABSENT)
    return found is not _ABSENT and not hasattr(type(found), "__get__")


_ABSENT = object()


def _is_object_setattr(call: Any, self_name: str) -> bool:
    """Whether ``call`` is ``object.__setattr__(self, "name", value)``."""
    return (
        isinstance(call, ast.Call)
        and ast.unparse(call.func) == "object.__setattr__"
        and len(call.args) == 3
        and not call.keywords
        and isinstance(call.args[0], ast.Name)
        and call.args[0].id == self_name
        and isinstance(call.args[1], ast.Constant)
        and isinstance(call.args[1].value, str)
    )


def _is_super_init(call: Any, self_name: str) -> bool:
    """Whether ``call`` is ``super().__init__(...)`` or ``super(C, self).__init__(...)``."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return False
    inner = call.func.value
    return (
        call.func.attr == "__init__"
        and isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Name)
        and inner.func.id == "super"
        and not inner.keywords
        and (
            not inner.args
            or (
                len(inner.args) == 2
                and isinstance(inner.args[1], ast.Name)
                and inner.args[1].id == self_name
            )  # fmt: skip
        )
    )


def partial_function(p: functools.partial) -> Any:
    """The function a ``functools.partial`` made in compiled code calls (its arguments
    and keywords passed by ``partial_caller``, from ``partial_args``). A method bound to
    an object is refused: its object's gradient would not reach it."""
    from .mutation import refuse

    if isinstance(p.func, types.MethodType) and is_record(p.func.__self__):
        raise refuse(
            f"a functools.partial of the method {p.func.__qualname__} of an object",
            "bind the function of the class with the object as first argument "
            f"(functools.partial({type(p.func.__self__).__qualname__}."
            f"{p.func.__name__}, obj, ...))",
        )
    return p.func


def partial_args(p: Any) -> Any:
    """The values a ``functools.partial`` binds: its arguments, then its keywords'
    values. Its adjoint and tangent are the list of theirs, which this returns as it
    is."""
    return [*p.args, *p.keywords.values()] if isinstance(p, functools.partial) else p


def _inner(p: functools.partial, func: Any) -> functools.partial | None:
    """The partial ``func`` that ``p`` took over (``functools.partial(partial(f, a),
    b)`` is ``partial(f, a, b)``), or None."""
    return func if isinstance(func, functools.partial) and p.func is not func else None


def partial_grads(g: Any, p: functools.partial, operands: tuple) -> list:
    """The adjoints of the operands of ``p = functools.partial(func, *args, **kw)`` (the
    analysis passes ``func, *args, *kw.values(), kw's names``) from the partial's (the
    list of its bound values'): ``func``'s is the part of it that is its own values'
    when ``p`` took them over, else none."""
    from .arrays import entries, zeros_like

    func, values, names = operands[0], operands[1:-1], operands[-1]
    parts = entries(g, partial_args(p))
    by_key = dict(zip(p.keywords, parts[len(p.args) :], strict=True))
    inner = _inner(p, func)
    n = len(inner.args) if inner is not None else 0
    own = None
    if inner is not None:
        own = [*parts[:n], *(zeros_like(v) if k in names else by_key[k]
                             for k, v in inner.keywords.items())]  # fmt: skip
    npos = len(values) - len(names)
    return [own, *parts[n : n + npos], *(by_key[k] for k in names), None]


def partial_tangent(tangents: tuple, p: functools.partial, operands: tuple) -> list:
    """The tangent of ``p = functools.partial(func, *args, **kw)`` given the operands'
    (as for ``partial_grads``; None where none): the list of its bound values'."""
    from .arrays import zeros_like

    func, names = operands[0], operands[-1]
    given = list(tangents[1:-1])
    npos = len(given) - len(names)
    inner = _inner(p, func)
    own = list(tangents[0]) if inner is not None and tangents[0] is not None else None
    n = len(inner.args) if inner is not None else 0
    inner_kw = dict(zip(inner.keywords, own[n:], strict=True)) if inner and own else {}
    outer_kw = dict(zip(names, given[npos:], strict=True))
    out = [*(own[:n] if own else [None] * n), *given[:npos]]
    out += [outer_kw[k] if k in outer_kw else inner_kw.get(k) for k in p.keywords]
    return [zeros_like(a) if d is None else d for d, a in zip(out, partial_args(p), strict=True)]


class Sentinel:
    """What ``method`` gives for a call that ``rt.call`` resolves from its arguments."""

    def __init__(self, what: str):
        self.what = what

    def __repr__(self) -> str:
        return self.what


# a call of a functools.partial made in compiled code: see ``partial_caller``
PARTIAL_CALL = Sentinel("a call of a partial")
# a call of a function (or other callable with no fields) held in a differentiated
# container: the function itself, given the arguments after it
PLAIN_CALL = Sentinel("a call of a function")
_CALLERS: dict[tuple, types.FunctionType] = {}


def keywords_by_position(p: Any, nargs: int, keywords: tuple[str, ...]) -> tuple[str, ...]:
    """The keywords of a call of the partial ``p`` with ``nargs`` more arguments, in the
    order of its function's parameters, where that function is one of srcdiff's
    primitives taking them by position next (``_srcdiff_names``: the cotangent of
    ``sd.vjp``'s pull-back); else ()."""
    if not keywords or not isinstance(p, functools.partial) or p.keywords:
        return ()
    names = getattr(p.func, "_srcdiff_names", ())[len(p.args) + nargs :][: len(keywords)]
    return tuple(names) if set(names) == set(keywords) else ()


def partial_caller(p: functools.partial, nargs: int, keywords: tuple[str, ...]
                   ) -> types.FunctionType:  # fmt: skip
    """A function, with source of its own, calling the partial ``p`` (its first
    argument) with ``nargs`` more arguments and ``keywords``: ``p``'s function called
    with ``p``'s arguments, then these, and ``p``'s keywords under these, all read from
    ``partial_args(p)`` so that the gradients of ``p``'s values reach them."""
    from .calls import function_of_source

    by_position = keywords_by_position(p, nargs, keywords)
    key = (len(p.args), tuple(p.keywords), nargs, keywords, by_position)
    hit = _CALLERS.get(key)
    if hit is None:
        # (names of its own, apart from the keywords passed: ``p=3.0`` is the user's)
        params = [f"_srcdiff_x{i}" for i in range(nargs)]
        signature = ", ".join(["_srcdiff_p", *params, *(["*", *keywords] if keywords else [])])
        bound = [f"_srcdiff_bound[{i}]" for i in range(len(p.args))]
        kept = [f"{k}=_srcdiff_bound[{len(p.args) + i}]" for i, k in enumerate(p.keywords)
                if k not in keywords]  # fmt: skip
        named = [f"{k}={k}" for k in keywords] if not by_position else list(by_position)
        passed = ", ".join([*bound, *params, *named, *kept] if by_position
                           else [*bound, *params, *kept, *named])  # fmt: skip
        source = (
            f"def call_partial({signature}):\n"
            "    _srcdiff_bound = rt.partial_args(_srcdiff_p)\n"
            f"    return rt.partial_function(_srcdiff_p)({passed})\n"
        )
        hit = _CALLERS[key] = function_of_source(source, "a call of a partial", "call_partial")
    return hit


# ---- reverse mode over a call's forward mode (``rt.call_jvp``) ---------------------------


def callee_tangent_vjp(g: tuple, ans: tuple, fn: Any, tangents: tuple, *args: Any,
                       **kwargs: Any) -> tuple:  # fmt: skip
    """The reverse rule of ``rt.call_jvp``: ``rt.tangent_vjp`` of what ``call_jvp`` runs
    for a record class (its constructor) and for ``PLAIN_CALL`` and ``PARTIAL_CALL``."""
    from .calls import tangent_vjp

    if getattr(fn, "_srcdiff_of_partial", False) and not kwargs:
        return _spread_partial_tangent_vjp(g, ans, args, tangents)
    spread = getattr(fn, "_srcdiff_spread_vjp", None)
    if spread is not None and not kwargs:  # (a call laid out of its arguments: see there)
        return spread(g, ans, tangents, args)
    if (over := _transform_of_partial(g, ans, fn, tangents, args, kwargs)) is not None:
        return (None, over[0], *over[1])
    target = getattr(fn, "_srcdiff_target", fn)  # (sd.vjp: the function of source it runs)
    if (
        getattr(target, "_srcdiff_vjp_source", False)
        and not kwargs
        and args
        and isinstance(args[0], functools.partial)
    ):
        return _vjp_source_tangent_vjp(g, ans, tangents, args)
    _no_partial_passed(args, tangents, 1 if fn is PARTIAL_CALL else 0)
    if fn is PLAIN_CALL:  # args[0], the function called, carries no gradient
        out = tangent_vjp(g, ans, args[0], tangents[1:], *args[1:], **kwargs)
        out = (None, (None, *out[1]), None, *out[2:])
    elif fn is PARTIAL_CALL:
        d_bound, bound, pulled = partial_pullback(g, args[0], tangents[0], args[1:],
                                                   tangents[1:], kwargs, {})  # fmt: skip
        n = len(args[0].args)
        out = (None, (d_bound, *pulled.d_tangents[n:]), bound, *pulled.d_args[n:])
    elif (method := _method_of_record(fn)) is not None:  # the object is an argument too
        function, obj = method
        out = tangent_vjp(g, ans, function, (None, *tangents), obj, *args, **kwargs)
        return (_adjoint(out[2], obj), _adjoints(out[1][1:], tangents),
                *_adjoints(out[3:], args))  # fmt: skip
    elif _bound_partial(fn):  # called with no tangent of its own: its values' gradients
        _, bound, pulled = partial_pullback(g, fn, None, args, tangents, kwargs, {})
        n = len(fn.args)
        return (bound, _adjoints(pulled.d_tangents[n:], tangents),
                *_adjoints(pulled.d_args[n:], args))  # fmt: skip
    else:
        out = tangent_vjp(g, ans, _function(fn), tangents, *args, **kwargs)
    return (None, _adjoints(out[1], tangents), *_adjoints(out[2:], args))


def _vjp_source_tangent_vjp(g: tuple, ans: tuple, tangents: tuple, args: tuple) -> tuple:
    """``callee_tangent_vjp`` of ``sd.vjp(fn, *primals)`` as compiled code runs it, ``fn``
    a partial holding differentiated values (a lambda reading them), whose value is
    ``(fn(*primals), partial(pullback, fn, primals))``: the pull-back of the call of ``fn``
    (see ``partial_pullback``), plus what the pull-back's adjoint (the list of its bound
    values') gives ``fn`` and the primals."""
    from .arrays import acc

    fn, primals = args[0], args[1:]
    d_fn, d_primals = tangents[0], tuple(tangents[1:])

    def part(pair: Any, i: int) -> Any:
        return None if pair is None else pair[i]

    g_value, g_tangent = g
    out_g = (part(g_value, 0), part(g_tangent, 0))
    pull_g = [part(part(g_value, 1), k) for k in range(2)]  # (fn's, the primals')
    pull_t = [part(part(g_tangent, 1), k) for k in range(2)]
    primal_grads = [part(pull_g[1], i) for i in range(len(primals))]
    primal_tangent_grads = [part(pull_t[1], i) for i in range(len(primals))]
    d_bound, bound, pulled = partial_pullback(out_g, fn, d_fn, primals, d_primals, {}, {})
    n = len(fn.args)
    d_of_d_fn, d_of_fn = d_bound, bound
    d_tangents, d_args = pulled.d_tangents[n:], pulled.d_args[n:]
    d_of_fn = acc(d_of_fn, pull_g[0]) if pull_g[0] is not None else d_of_fn
    d_of_d_fn = acc(d_of_d_fn, pull_t[0]) if pull_t[0] is not None else d_of_d_fn
    d_args = [acc(d, e) for d, e in zip(d_args, primal_grads, strict=True)]
    d_tangents = [
        None if t is None else acc(d, e)
        for d, e, t in zip(d_tangents, primal_tangent_grads, d_primals, strict=True)
    ]
    return (None, _adjoints((d_of_d_fn, *d_tangents), tangents),
            *_adjoints((d_of_fn, *d_args), args))  # fmt: skip


def _transform_of_partial(g: tuple, ans: tuple, fn: Any, tangents: tuple, args: tuple,
                          kwargs: dict) -> tuple[list, list] | None:  # fmt: skip
    """Reverse mode over the forward mode of ``sd.grad(p)`` (and the other transforms
    that ``Host.over_partial`` takes) of a partial ``p`` holding differentiated values:
    that of a function of source given ``p``'s values one by one, which makes the partial
    of the transform of ``p``'s function binding them; the adjoints of ``p``'s tangent and
    of ``p`` (lists of its values'). None for any other call."""
    from .calls import Host, tangent_vjp

    if not args or tangents[0] is None or not isinstance(args[0], functools.partial):
        return None
    over = Host.over_partial(fn, args, kwargs, spread=True)
    if over is None:
        return None
    made, values, _ = over
    n = len(values) - len(args) + 1  # (the partial's values, in place of it)
    t = [None if callable(v) else d for v, d in zip(values[:n], tangents[0], strict=True)]
    t += [*tangents[1:], *(None,) * (len(values) - len(t) - len(tangents[1:]))]
    out = tangent_vjp(g, ans, made, tuple(t[: len(values)]), *values)
    d_tangents, d_args = tuple(out[1]), tuple(out[2:])
    return ([*d_tangents[:n]], *d_tangents[n:]), ([*d_args[:n]], *d_args[n:])


def callee_tangent_vjp_keywords(g: tuple, ans: tuple, fn: Any, tangents: tuple,
                                names: tuple[str, ...], *values: Any) -> tuple:  # fmt: skip
    """The reverse rule of ``rt.call_jvp_keywords``, as ``callee_tangent_vjp``."""
    from .calls import tangent_vjp_keywords

    m = len(values) - len(names)
    if m == 1 and not any(t is not None for t in tangents[1:]):
        over = _transform_of_partial(g, ans, fn, tangents[:1], values[:1],
                                     dict(zip(names, values[1:], strict=True)))  # fmt: skip
        if over is not None:
            return (None, (*over[0], *(None,) * len(names)), None, *over[1],
                    *(None,) * len(names))  # fmt: skip
    if fn is PARTIAL_CALL and keywords_by_position(values[0], m - 1, names) == names:
        out = callee_tangent_vjp(g, ans, fn, tangents, *values)  # (the keywords: positions)
        return (*out[:2], None, *out[2:])
    _no_partial_passed(values, tangents, 1 if fn is PARTIAL_CALL else 0)
    if fn is PLAIN_CALL:
        out = tangent_vjp_keywords(g, ans, values[0], tangents[1:], names, *values[1:])
        out = (None, (None, *out[1]), None, None, *out[3:])
    elif fn is PARTIAL_CALL:
        kwargs = dict(zip(names, values[m:], strict=True))
        named = dict(zip(names, tangents[m:], strict=True))
        d_bound, bound, pulled = partial_pullback(g, values[0], tangents[0], values[1:m],
                                                   tangents[1:m], kwargs, named)  # fmt: skip
        n = len(values[0].args)
        d_tangents = (d_bound, *pulled.d_tangents[n:],
                      *(pulled.d_keyword_tangents[k] for k in names))  # fmt: skip
        out = (None, d_tangents, None, bound, *pulled.d_args[n:],
               *(pulled.d_kwargs[k] for k in names))  # fmt: skip
    elif (method := _method_of_record(fn)) is not None:
        function, obj = method
        out = tangent_vjp_keywords(g, ans, function, (None, *tangents), names, obj, *values)
        return (_adjoint(out[3], obj), _adjoints(out[1][1:], tangents), None,
                *_adjoints(out[4:], values))  # fmt: skip
    elif _bound_partial(fn):
        kwargs = dict(zip(names, values[m:], strict=True))
        named = dict(zip(names, tangents[m:], strict=True))
        _, bound, pulled = partial_pullback(g, fn, None, values[:m], tangents[:m], kwargs, named)
        n = len(fn.args)
        d_tangents = (*pulled.d_tangents[n:], *(pulled.d_keyword_tangents[k] for k in names))
        d_values = (*pulled.d_args[n:], *(pulled.d_kwargs[k] for k in names))
        return (bound, _adjoints(d_tangents, tangents), None, *_adjoints(d_values, values))
    else:
        out = tangent_vjp_keywords(g, ans, _function(fn), tangents, names, *values)
    return (None, _adjoints(out[1], tangents), None, *_adjoints(out[3:], values))


def callee_tangent_vjp_star(g: tuple, ans: tuple, fn: Any, tangents: tuple, stars: tuple,
                            names: tuple, *values: Any) -> tuple:  # fmt: skip
    """The reverse rule of ``rt.call_jvp_star`` (a record class made its constructor)."""
    from .calls import _spreads, tangent_vjp_star

    if (
        fn is PARTIAL_CALL
        and not names
        and not stars[0]
        and all(
            _spreads(v) and type(v) in (list, tuple)
            for v, s in zip(values, stars, strict=True)
            if s
        )
    ):
        return _partial_star_tangent_vjp(g, ans, tangents, stars, values)  # fmt: skip
    _no_partial_passed(values, tangents)
    if (method := _method_of_record(fn)) is not None:
        function, obj = method
        out = tangent_vjp_star(g, ans, function, (None, *tangents), (False, *stars), names,
                               obj, *values)  # fmt: skip
        return (_adjoint(out[4], obj), _adjoints(out[1][1:], tangents), None, None,
                *_adjoints(out[5:], values))  # fmt: skip
    out = tangent_vjp_star(g, ans, _function(fn), tangents, stars, names, *values)
    return (None, _adjoints(out[1], tangents), None, None, *_adjoints(out[4:], values))


def _partial_star_tangent_vjp(g: tuple, ans: tuple, tangents: tuple, stars: tuple,
                              values: tuple) -> tuple:  # fmt: skip
    """``callee_tangent_vjp_star`` of a call of a partial with starred lists or tuples
    (``pull(*us)``): that of the call passing their entries one by one, the pull-backs
    of each starred operand (and of its tangent) the list of its entries'."""
    spread_values, spread_tangents, counts = [], [], []
    for v, t, starred in zip(values, tangents, stars, strict=True):
        if starred:
            entries = list(v)
            ts = list(t) if t is not None else [None] * len(entries)
            spread_values += entries
            spread_tangents += ts
            counts.append(len(entries))
        else:
            spread_values.append(v)
            spread_tangents.append(t)
            counts.append(None)
    out = callee_tangent_vjp(g, ans, PARTIAL_CALL, tuple(spread_tangents), *spread_values)
    d_tangents, d_values, at = [], [], 0
    for c in counts:
        if c is None:
            d_tangents.append(out[1][at])
            d_values.append(out[2 + at])
            at += 1
        else:
            d_tangents.append(list(out[1][at : at + c]))
            d_values.append(list(out[2 + at : 2 + at + c]))
            at += c
    return (None, _adjoints(tuple(d_tangents), tangents), None, None,
            *_adjoints(tuple(d_values), values))  # fmt: skip


def _spread_partial_tangent_vjp(g: tuple, ans: tuple, args: tuple, tangents: tuple) -> tuple:
    """The reverse rule of ``call_jvp(F, tangents, T, p, *rest)``, ``F`` the forward mode of
    a call of the partial ``p`` (``rt.forward_of`` of ``PARTIAL_CALL``): that of the same
    call of the forward mode of ``p``'s function given ``p``'s bound values spread out
    before ``rest``, their tangents those of ``p``'s (a list, as its adjoint is), so that
    no partial is an argument of a function differentiated again."""
    from .calls import Host, tangent_vjp

    inner, p, rest = args[0], args[1], args[2:]
    d_inner, d_p, d_rest = tangents[0], tangents[1], tangents[2:]
    bound = partial_args(p)
    n = len(bound)

    def spread(t: Any, values: list) -> list:  # (a function bound carries no tangent)
        t = list(t) if t is not None else [None] * n
        return [None if callable(v) else d for v, d in zip(values, t, strict=True)]

    # the bound values and the call's, as the call passes them: positions, then keywords
    k, m = len(p.args), len(rest)
    order = [*range(k), *range(n, n + m), *range(k, n)]
    back = [order.index(i) for i in range(n + m)]

    def ordered(items: Any) -> tuple:
        return tuple(items[i] for i in order)

    def unordered(items: Any) -> tuple:
        return tuple(items[i] for i in back)

    t_p = spread(inner[0], bound)
    spread_inner = ordered((*t_p, *inner[1:]))
    d_spread_inner = None
    if d_inner is not None:
        d_spread_inner = ordered((*spread(d_inner[0], bound), *d_inner[1:]))
    names = tuple(p.keywords)
    forward = Host.forward_of(partial_function(p), spread_inner, None, names,
                              ordered((*bound, *rest)), None)  # fmt: skip
    out = tangent_vjp(g, ans, forward, (d_spread_inner, *ordered((*spread(d_p, bound), *d_rest))),
                      spread_inner, *ordered((*bound, *rest)))  # fmt: skip
    d_tangents, d_args = (out[1][0], *unordered(out[1][1:])), (out[2], *unordered(out[3:]))
    d_of_inner = d_args[0]
    if d_of_inner is not None:
        d_of_inner = unordered(d_of_inner)
        d_of_inner = (list(d_of_inner[:n]), *d_of_inner[n:])
    d_of_d_inner = d_tangents[0]
    if d_of_d_inner is not None:
        d_of_d_inner = unordered(d_of_d_inner)
        d_of_d_inner = (list(d_of_d_inner[:n]), *d_of_d_inner[n:])
    d_tangents = (d_of_d_inner, list(d_tangents[1 : 1 + n]), *d_tangents[1 + n :])
    d_args = (d_of_inner, list(d_args[1 : 1 + n]), *d_args[1 + n :])
    return (None, _adjoints(d_tangents, tangents), *_adjoints(d_args, args))


def _no_partial_passed(values: tuple, tangents: tuple, start: int = 0) -> None:
    """Refuse a partial with a tangent passed on to a callee: the pull-back would give its
    gradient (the list of its bound values') as a value like it, which it cannot be."""
    from .mutation import refuse

    passed = [v for v, t in list(zip(values, tangents, strict=False))[start:]
              if isinstance(v, functools.partial) and t is not None]  # fmt: skip
    too_deep = getattr(passed[0].func, "_srcdiff_too_deep", None) if passed else None
    if callable(too_deep):  # (sd.vjp's pull-back: the derivative says it)
        raise refuse(*too_deep())
    if passed:
        raise refuse(
            "a derivative of a derivative through a functools.partial passed to a function",
            "call the partial where it is built, or pass its function and values apart",
        )


def _adjoints(ds: Any, xs: tuple) -> tuple:
    """``_adjoint`` of each of ``ds`` against the value in ``xs`` at its place."""
    return tuple(_adjoint(d, xs[i]) if i < len(xs) else d for i, d in enumerate(ds))


def _adjoint(d: Any, x: Any) -> Any:
    """The gradient ``d`` of ``x`` as compiled code keeps adjoints: a record's (which the
    pull-back gives as an object of its class) as a dict of its fields', at any depth."""
    from .calls import carries_gradient

    if isinstance(x, functools.partial):  # its adjoint: the list of its bound values'
        x = partial_args(x)
    if is_record(x) and is_record(d):
        return {k: _adjoint(getattr(d, k), getattr(x, k)) for k in fields(x)
                if carries_gradient(getattr(x, k)) or is_record(getattr(x, k))}  # fmt: skip
    if isinstance(x, dict) and isinstance(d, dict):
        return {k: _adjoint(d.get(k), v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and isinstance(d, (list, tuple)) and len(d) == len(x):
        return [_adjoint(a, b) for a, b in zip(d, x, strict=True)]
    return d


def _method_of_record(fn: Any) -> tuple[Callable, Any] | None:
    """``(function, obj)`` where calling ``fn`` runs ``function`` with ``obj`` first, an
    object whose fields may carry gradients: a method of it, or ``obj`` itself called
    (its ``__call__``); None for anything else. Forward-mode source calls it as ``fn``
    where ``obj`` has no tangent, but a derivative of that source reaches its fields."""
    if isinstance(fn, types.MethodType) and is_record(fn.__self__):
        return fn.__func__, fn.__self__
    call = inspect.getattr_static(type(fn), "__call__", None)
    if is_record(fn) and isinstance(call, types.FunctionType):
        return call, fn
    return None


def record_pullback(g: tuple, fn: Any, args: tuple, tangents: tuple) -> tuple | None:
    """Reverse over forward mode of ``fn(*args)`` where ``fn`` is a method of an object
    whose fields may carry gradients, or such an object called: ``(the object's adjoint,
    the pull-back, whose first entries are the object's)``; None for another ``fn``."""
    from .calls import Host

    method = _method_of_record(fn)
    if method is None:
        return None
    function, obj = method
    pulled = Host.tangent_vjp(function, (obj, *args), {}, (None, *tangents), g)
    return _adjoint(pulled.d_args[0], obj), pulled


def is_method_of_record(fn: Any) -> bool:
    """Whether calling ``fn`` runs a method of an object whose fields may carry
    gradients (see ``_method_of_record``)."""
    return _method_of_record(fn) is not None


def _bound_partial(fn: Any) -> bool:
    """Whether ``fn`` is a ``functools.partial`` of a user's function binding values
    that may carry gradients: a derivative of a call of it reaches them."""
    from .calls import carries_gradient

    return (
        isinstance(fn, functools.partial)
        and not isinstance(fn.func, functools.partial)
        and getattr(fn.func, "__module__", None) not in ("srcdiff.api",)
        and any(carries_gradient(v) and not callable(v) for v in partial_args(fn))
    )


def _function(fn: Any) -> Any:
    """A record class's constructor (what ``call_jvp`` runs for it); ``fn`` otherwise."""
    return constructor(fn) if isinstance(fn, type) and is_record_class(fn) else fn


def partial_pullback(g: tuple, p: functools.partial, dp: Any, args: tuple, tangents: tuple,
                      kwargs: dict, named: dict) -> tuple[list, list, Any]:  # fmt: skip
    """Reverse over forward mode of ``p(*args, **kwargs)`` as a call of ``p``'s function:
    the adjoints of ``p``'s tangent ``dp`` and of ``p`` (lists of its bound values'), and
    the pull-back, whose first ``len(p.args)`` entries are ``p``'s."""
    from .calls import Host, carries_gradient

    n = len(p.args)
    dp = list(dp) if dp is not None else [None] * len(partial_args(p))
    spreads = getattr(p.func, "_srcdiff_spreads_partials", False)  # (sd.vjp's pull-back)
    if not spreads:
        _no_partial_passed(partial_args(p), dp)  # (a partial bound, with a tangent: refused)
    dp = [  # (a function, an integer bound, as a lambda's default ``k=k``: no tangent)
        None if callable(v) and not (spreads and (_bound_partial(v) or is_record(v)))
        or not carries_gradient(v) else d
        for v, d in zip(partial_args(p), dp, strict=True)
    ]  # fmt: skip
    kept = [k for k in p.keywords if k not in kwargs]  # a keyword of the call's overrides
    pulled = Host.tangent_vjp(
        partial_function(p),
        (*p.args, *args),
        {**{k: p.keywords[k] for k in kept}, **kwargs},
        (*dp[:n], *tangents),
        g,
        {**{k: dp[n + i] for i, k in enumerate(p.keywords) if k in kept}, **named},
    )
    d_bound = [
        *pulled.d_tangents[:n],
        *(pulled.d_keyword_tangents.get(k) if k in kept else None for k in p.keywords),
    ]
    bound = [*pulled.d_args[:n],
             *(pulled.d_kwargs.get(k) if k in kept else None for k in p.keywords)]  # fmt: skip
    return d_bound, bound, pulled
