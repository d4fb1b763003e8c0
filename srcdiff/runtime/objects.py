"""Objects of user classes as values a gradient flows through: a dataclass, or a plain
object whose state is its ``__dict__`` (a named tuple is a tuple). Compiled code keeps
an object's adjoint as a dict of its fields' adjoints, as it keeps a dict's; only the
gradient handed back to the caller is an object of the argument's class
(``arrays.grad_like``)."""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import inspect
import re
import sys
import textwrap
import types
import weakref
from typing import Any

# Packages whose objects are never records (with the standard library's): arrays,
# Tensors, modules, random generators.
_FOREIGN = ("srcdiff", "numpy", "cupy", "array_api_strict", "array_api_compat", "scipy",
            "torch", "jax")  # fmt: skip
_NOT_RECORDS = (list, tuple, dict, set, frozenset, str, bytes, int, float, complex, type,
                types.ModuleType, types.FunctionType, types.MethodType,
                types.BuiltinFunctionType, functools.partial)  # fmt: skip


def is_record_class(cls: type) -> bool:
    """Whether instances of ``cls`` are records (see ``is_record``): not the standard
    library's, NumPy's or srcdiff's own, not arrays, not context managers (what
    ``with`` hands over is not a field)."""
    package = (cls.__module__ or "").split(".")[0]
    if package in _FOREIGN or package in sys.stdlib_module_names:
        return False
    if hasattr(cls, "__array__") or hasattr(cls, "__enter__"):
        return False
    if cls.__new__ is not object.__new__:  # exceptions, enums, ...: not just their fields
        return False
    if dataclasses.is_dataclass(cls):
        return True
    return "__dict__" in dir(cls) and not hasattr(cls, "shape")


def is_record(x: Any) -> bool:
    """Whether ``x`` is a user object whose fields carry gradients: a dataclass, or an
    object of a user class keeping its state in ``__dict__``."""
    return not isinstance(x, _NOT_RECORDS) and x is not None and is_record_class(type(x))


def fields(x: Any) -> list[str]:
    """The names of a record's fields: a dataclass's fields, else its ``__dict__``'s
    (a dict's keys, for a dict of fields)."""
    if isinstance(x, dict):
        return list(x)
    if dataclasses.is_dataclass(x):
        return [f.name for f in dataclasses.fields(x)]
    return list(vars(x))


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
    if name not in fields(x):
        if hasattr(inspect.getattr_static(x, name, None), "__get__"):
            raise _refused(
                type(x),
                f"the computed attribute .{name} of a {type(x).__qualname__} (a property or "
                "descriptor) read on a value carrying a gradient",
                "make it a method and call it, or compute it from the fields",
            )
        return None
    return {name: g}


def field_tangent(d: Any, name: str) -> Any:
    """The tangent of ``x.name`` from that of ``x``: an object's, or a dict of its
    fields' (a zero tangent, made by compiled code)."""
    if isinstance(d, dict):
        return d.get(name, 0.0)
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


def record_zeros(x: Any, zeros: Any) -> dict:
    """A zero adjoint of the record ``x``: a dict of its fields' (``zeros(field)``)."""
    return {k: zeros(getattr(x, k)) for k in fields(x)}


def method(obj: Any, name: str) -> Any:
    """The function ``obj.name(...)`` runs, called with ``obj`` first: compiled code
    passes ``obj`` as an argument, so that its fields' gradients reach it."""
    from .mutation import refuse

    if name == "__call__" and isinstance(obj, functools.partial):
        return PARTIAL_CALL
    if name == "__call__" and callable(obj) and not is_record(obj):
        bound_to = getattr(obj, "__self__", None)  # a method: of an object with fields?
        if not (isinstance(obj, types.MethodType) and is_record(bound_to)):
            return PLAIN_CALL
    fn = inspect.getattr_static(type(obj), name, None)
    if not isinstance(fn, types.FunctionType):
        raise refuse(
            f"a call of .{name} of a {type(obj).__qualname__} carrying a gradient, which is "
            "not a plain method with Python source",
            "call a plain method, or a function taking the object",
        )
    return fn


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


def constructor(cls: type) -> types.FunctionType:
    """A Python function, with source of its own, taking ``cls``'s arguments and
    returning the object ``cls(...)`` makes, built by ``assemble`` (so that srcdiff
    compiles it like a user's function, and each field's gradient reaches the arguments
    it was computed from): a dataclass's fields from its arguments, or the body of
    ``cls.__init__`` with ``self.x`` read and written as an entry of a dict."""
    hit = _CONSTRUCTORS.get(cls)
    if hit is None:
        hit = _CONSTRUCTORS[cls] = _make_constructor(cls)
    return hit


def _make_constructor(cls: type) -> types.FunctionType:
    from .calls import function_of_source
    from .mutation import refuse

    init = cls.__init__
    name = cls.__qualname__
    hint = "build it outside the differentiated function, or pass its fields as arguments"
    if dataclasses.is_dataclass(cls) and not _has_source(init):
        if hasattr(cls, "__post_init__") or any(
            not f.init or f.default_factory is not dataclasses.MISSING
            for f in dataclasses.fields(cls)
        ):
            raise refuse(
                f"a {name} built in a differentiated function: its fields are not all "
                "set from its arguments (__post_init__, init=False or default_factory)",
                hint,
            )
        fs = dataclasses.fields(cls)
        pieces = {False: [], True: []}  # positional, keyword-only
        for i, f in enumerate(fs):
            default = "" if f.default is dataclasses.MISSING else f"=_srcdiff_defaults[{i}]"
            pieces[bool(getattr(f, "kw_only", False))].append(f.name + default)
        params = ", ".join(pieces[False] + (["*", *pieces[True]] if pieces[True] else []))
        values = ", ".join(f"{f.name!r}: {f.name}" for f in fs)
        body = [f"return rt.assemble(_cls, {{{values}}})"]
        source = _wrapped(name, params, body)
        make = function_of_source(source, f"constructor of {name}", "_srcdiff_make")
        fn = make(cls, [f.default for f in fs])
        fn.__qualname__ = f"{name}.__init__"
        return fn
    if not isinstance(init, types.FunctionType) or not _has_source(init):
        raise refuse(
            f"a {name} built in a differentiated function, whose __init__ has no Python source",
            hint,
        )
    tree = ast.parse(textwrap.dedent(inspect.getsource(init))).body[0]
    self_name = tree.args.posonlyargs[0].arg if tree.args.posonlyargs else tree.args.args[0].arg
    fields_name = "_srcdiff_fields"
    problem = _FieldsOf(self_name, fields_name)
    body = [problem.visit(s) for s in tree.body]
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
            f"a {name} built in a differentiated function, whose __init__ {problem.refused}"
            " (srcdiff compiles an __init__ that only sets attributes of self)",
            hint,
        )
    if tree.args.posonlyargs:
        tree.args.posonlyargs.pop(0)
    else:
        tree.args.args.pop(0)
    tree.decorator_list = []
    tree.name = re.sub(r"\W", "_", name)
    tree.body = [
        ast.parse(f"{fields_name} = {{}}").body[0],
        *body,
        ast.parse(f"return rt.assemble(_cls, {fields_name})").body[0],
    ]
    inner = textwrap.indent(ast.unparse(ast.fix_missing_locations(tree)), "    ")
    source = f"def _srcdiff_make(_cls, _srcdiff_defaults):\n{inner}\n    return {tree.name}\n"
    made = function_of_source(source, f"constructor of {name}", "_srcdiff_make")(cls, ())
    fn = types.FunctionType(made.__code__, init.__globals__, made.__name__,
                            init.__defaults__, made.__closure__)  # fmt: skip
    fn.__kwdefaults__ = init.__kwdefaults__
    fn.__qualname__ = f"{name}.__init__"
    return fn


def _has_source(fn: Any) -> bool:
    try:
        inspect.getsource(fn)
    except (OSError, TypeError):
        return False
    return True


def _wrapped(name: str, params: str, body: list[str]) -> str:
    """The source of ``_srcdiff_make(_cls, _srcdiff_defaults)``, which returns the
    constructor ``name(params)`` of ``body``."""
    fn = re.sub(r"\W", "_", name)
    lines = "".join(f"        {line}\n" for line in body)
    return (
        f"def _srcdiff_make(_cls, _srcdiff_defaults):\n    def {fn}({params}):\n{lines}"
        f"    return {fn}\n"
    )


class _FieldsOf(ast.NodeTransformer):
    """``self.x`` made ``fields['x']``; anything else done with ``self`` (a method
    called, ``self`` passed on or returned), ``super()`` and ``return`` noted in
    ``refused``."""

    def __init__(self, self_name: str, fields_name: str):
        self.self_name = self_name
        self.fields_name = fields_name
        self.refused = ""
        self.stored: set[str] = set()
        self.read: set[str] = set()

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == self.self_name:
            (self.stored if isinstance(node.ctx, ast.Store) else self.read).add(node.attr)
            key = ast.Constant(node.attr)
            table = ast.Name(self.fields_name, ast.Load())
            return ast.copy_location(ast.Subscript(table, key, node.ctx), node)
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


def partial_function(p: functools.partial) -> Any:
    """The function a ``functools.partial`` made in compiled code calls, with its
    keywords bound (they carry no gradient: see ``analyse``). A method bound to an
    object is refused: its object's gradient would not reach it."""
    from .mutation import refuse

    if isinstance(p.func, types.MethodType) and is_record(p.func.__self__):
        raise refuse(
            f"a functools.partial of the method {p.func.__qualname__} of an object",
            "bind the function of the class with the object as first argument "
            f"(functools.partial({type(p.func.__self__).__qualname__}."
            f"{p.func.__name__}, obj, ...))",
        )
    return functools.partial(p.func, **p.keywords) if p.keywords else p.func


def partial_args(p: Any) -> Any:
    """The arguments a ``functools.partial`` binds. Its adjoint and tangent are the list
    of theirs, which this returns as it is."""
    return p.args if isinstance(p, functools.partial) else p


def _flattened(p: functools.partial, func: Any) -> int:
    """How many of ``p``'s arguments are those of the partial ``func`` it was made of
    (``functools.partial(partial(f, a), b)`` is ``partial(f, a, b)``): 0 if none."""
    return len(func.args) if isinstance(func, functools.partial) and p.func is not func else 0


def partial_grads(g: Any, p: functools.partial, operands: tuple) -> list:
    """The adjoints of the operands of ``p = functools.partial(func, *args)`` from the
    partial's (the list of its arguments'): ``func``'s is the part of it that is its own
    arguments' when ``p`` took them over, else none."""
    from .arrays import entries

    parts = entries(g, p.args)
    n = _flattened(p, operands[0])
    return [parts[:n] if n else None, *parts[n:]]


def partial_tangent(tangents: tuple, p: functools.partial, operands: tuple) -> list:
    """The tangent of ``p = functools.partial(func, *args)`` given the operands'
    (None where none): the list of its arguments'."""
    from .arrays import zeros_like

    n = _flattened(p, operands[0])
    own = list(partial_args(tangents[0])) if n and tangents[0] is not None else []
    given = [None] * (n - len(own)) + own + list(tangents[1:])
    return [zeros_like(a) if d is None else d for d, a in zip(given, p.args, strict=True)]


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


def partial_caller(p: functools.partial, nargs: int, keywords: tuple[str, ...]
                   ) -> types.FunctionType:  # fmt: skip
    """A function, with source of its own, calling the partial ``p`` (its first
    argument) with ``nargs`` more arguments and ``keywords``: ``p``'s function called
    with ``p``'s arguments, then these, so that the gradients of ``p``'s reach them."""
    from .calls import function_of_source

    key = (len(p.args), nargs, keywords)
    hit = _CALLERS.get(key)
    if hit is None:
        params = [f"x{i}" for i in range(nargs)]
        signature = ", ".join(["p", *params, *(["*", *keywords] if keywords else [])])
        bound = [f"bound[{i}]" for i in range(len(p.args))]
        passed = ", ".join([*bound, *params, *(f"{k}={k}" for k in keywords)])
        source = (
            f"def call_partial({signature}):\n"
            "    bound = rt.partial_args(p)\n"
            f"    return rt.partial_function(p)({passed})\n"
        )
        hit = _CALLERS[key] = function_of_source(source, "a call of a partial", "call_partial")
    return hit
