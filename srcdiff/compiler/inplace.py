"""Calls that update an object in place, written as the update they make (a part of
normalize).

``np.exp(z, out=z)`` is ``t = np.exp(z); z[...] = t``; ``np.add.at(a, i, b)`` is
``t = rt.add_at(a, i, b); a[...] = t``; ``xs.extend(ys)`` is ``xs = rt.extended(xs,
ys)``, marked as an update of ``xs`` in place. The result is an ordinary in-place update,
which compiled code follows (``compiler/mutation``) and differentiates (each helper has a
rule), or a CompileError where the update has no derivative (``np.ndarray.resize``).
"""

from __future__ import annotations

import contextlib
import inspect
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import gast
import numpy as np

from ..rules import registry
from ..runtime.objects import is_record_class, out_position
from .ir import mark
from .parse import parse

if TYPE_CHECKING:
    from .normalize import Normalizer

# NumPy functions writing into their first argument, and the helper giving its new value.
WRITERS = {np.put: "put", np.put_along_axis: "put_along_axis", np.putmask: "putmask",
           np.place: "place", np.fill_diagonal: "fill_diagonal"}  # fmt: skip
AT = {np.add: "add_at", np.subtract: "subtract_at", np.multiply: "multiply_at"}  # with a rule
# Methods of lists and dicts (and arrays' fill) updating their object, as helpers.
# (Each helper runs the method itself on an object of another type, and refuses to
# differentiate it.)
METHODS = {"append": "appended", "extend": "extended", "insert": "inserted",
           "reverse": "reversed_list", "clear": "cleared", "update": "updated",
           "fill": "filled"}  # fmt: skip


def rewrite(norm: Normalizer, e: gast.Call) -> gast.expr | None:
    """The value of the call ``e`` when it updates an object in place (its updates
    emitted through ``norm``); None for any other call."""
    func = e.func
    if (
        isinstance(func, gast.Attribute)
        and isinstance(func.value, gast.Name)
        and (func.value.id in norm.locals)
    ):
        out = _method_out(e, func.attr)
        if out is not None:
            return _with_out(norm, e, out)
        if _own_method(norm, func.value.id, func.attr):
            return None  # ``o = Acc(v); o.update(w)``: Acc's method, called as written
        return _method(norm, e, func.value.id, func.attr)
    if (
        isinstance(func, gast.Attribute)
        and func.attr in METHODS
        and isinstance(func.value, gast.Subscript)
        and _root(func.value) in norm.locals
    ):  # ``L[0].append(v)``: as ``inner = L[0]; inner.append(v)``, which L follows
        held = norm.atom(func.value)
        return _method(norm, e, held.id, func.attr)
    if (
        isinstance(func, gast.Attribute)
        and func.attr in METHODS
        and isinstance(func.value, gast.Call)
        and isinstance(func.value.func, gast.Attribute)
        and func.value.func.attr == "setdefault"
        and isinstance(func.value.func.value, gast.Name)
        and func.value.func.value.id in norm.locals
    ):  # ``d.setdefault(k, []).append(v)``: the entry ``d[k]`` then updated, as above
        held = norm.atom(func.value)
        return _method(norm, e, held.id, func.attr)
    if (
        isinstance(func, gast.Attribute)
        and (func.attr in METHODS or func.attr in ("pop", "sort"))
        and isinstance(func.value, gast.Attribute)
        and isinstance(func.value.value, gast.Name)
        and func.value.value.id in norm.locals
        and func.value.value.id not in norm.params
        and not _named_by_a_class(norm, func.attr)
    ):  # ``o.items.append(v)`` on a local object: see _field_method
        return _field_method(norm, e, func.value.value.id, func.value.attr, func.attr)
    obj = norm.resolved(func)
    if obj is None:  # a method of another expression's value (``x.reshape(2, 2).sum(...)``)
        out = _method_out(e, func.attr) if isinstance(func, gast.Attribute) else None
        return None if out is None else _with_out(norm, e, out)
    if obj is np.ndarray.resize and e.args and isinstance(e.args[0], gast.Name):
        return _resize(norm, e, e.args[0].id, e.args[1:])
    out = _out_argument(e, obj)
    if out is not None:
        return _with_out(norm, e, out)
    if getattr(obj, "__name__", None) == "at" and isinstance(
        getattr(obj, "__self__", None), np.ufunc
    ):
        ufunc = obj.__self__
        helper = AT.get(ufunc)
        args = [norm.atom(a) for a in e.args]
        if helper is None:  # computed, without a derivative (see rt.ufunc_at)
            new = _rt_call(norm, "ufunc_at", [func.value, *args])
        else:
            new = _rt_call(norm, helper, args)
        return _write_whole(norm, args[0], new)
    if obj is np.copyto:
        return _copyto(norm, e)
    if isinstance(obj, types.FunctionType) and not _has_rule(obj):
        return _updating_call(norm, e, obj)
    helper = WRITERS.get(obj) if type(obj).__hash__ is not None else None  # (a dataclass's)
    if helper is not None:
        args = [norm.atom(a) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=norm.atom(k.value)) for k in e.keywords]
        new = norm.temp(gast.Call(func=_rt(helper), args=args, keywords=keywords))
        return _write_whole(norm, args[0], new)
    return None


def _has_rule(fn: types.FunctionType) -> bool:
    """Whether compiled code calls ``fn`` for its rules, not its code (a user's rule,
    one of srcdiff's helpers): what its code changes is the rules' business."""
    module = fn.__module__ or ""
    return (registry.lookup(fn) is not None or registry.is_nondiff(fn)
            or module.startswith("srcdiff.runtime"))  # fmt: skip


def _own_parameters(fn: types.FunctionType) -> Mapping[str, inspect.Parameter]:
    """The parameters of ``fn``'s own code, which is what updates them: not those of a
    function it wraps that its ``__signature__`` or ``__wrapped__`` shows."""
    plain = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                               fn.__closure__)  # fmt: skip
    plain.__kwdefaults__ = fn.__kwdefaults__
    return inspect.signature(plain).parameters


def _updating_call(norm: Normalizer, e: gast.Call, fn: types.FunctionType) -> gast.expr | None:
    """``helper(a, b)`` where the user's ``helper`` updates ``a`` in place: ``r =
    rt.returning(helper, ("a",))(a, b)``, which also returns the new value of ``a``,
    then ``value = r[0]`` and ``a = r[1]``, an update of ``a`` in place (``xs[i] =
    r[1]`` for an entry ``xs[i]``). None when the function updates nothing, or an updated
    argument is neither a local name nor an entry of one (compiled code then refuses the
    call when it runs)."""
    from .mutation import updated_params  # a stage after normalize, which it runs

    updated = updated_params(fn)
    if (
        not updated
        or any(isinstance(a, gast.Starred) for a in e.args)
        or any(k.arg is None for k in e.keywords)
    ):
        return None
    signature = _own_parameters(fn)
    if any(signature[n].kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
           for n in updated):  # fmt: skip
        return None  # what it updates came in *args or **kwargs: the call refuses it when run
    params = list(signature)
    written: dict[int, gast.expr] = {}  # by the position of the argument among the call's
    for n in updated:
        i = params.index(n)
        keyword = [j for j, k in enumerate(e.keywords) if k.arg == n]
        arg = e.args[i] if i < len(e.args) else e.keywords[keyword[0]].value if keyword else None
        if arg is None:  # its default, which the call updates in place, as Python does
            default = signature[n].default
            if isinstance(default, (list, dict, set)) or hasattr(default, "__setitem__"):
                raise norm.p.error(
                    f"{fn.__qualname__} updates the default value of `{n}` (a "
                    f"{type(default).__name__}) in place: Python keeps the change for the "
                    "next call, compiled code does not",
                    e,
                    f"pass `{n}` explicitly, or give it a None default and make a new one",
                )
            continue
        holder = arg.value if isinstance(arg, gast.Subscript) else arg
        if not (isinstance(holder, gast.Name) and holder.id in norm.locals):
            return None
        if isinstance(arg, gast.Subscript) and isinstance(arg.slice, gast.Slice):
            return None  # a view of an array, a copy of a list: the call refuses it when run
        written[i if i < len(e.args) else len(e.args) + keyword[0]] = arg
    targets: dict[int, str] = {}  # the name holding each object the callee updates
    entries: dict[int, gast.Subscript] = {}  # where an entry passed came from: put back there

    def argument(i: int, a: gast.expr) -> gast.expr:
        if i not in written:
            return norm.atom(a)
        if isinstance(a, gast.Subscript):  # xs[i]: its object, which xs and others hold
            entries[i] = gast.Subscript(value=a.value, slice=norm.atom(a.slice), ctx=gast.Load())
            a = norm.temp(entries[i])
        targets[i] = a.id
        return a

    args = [argument(i, a) for i, a in enumerate(e.args)]
    keywords = [gast.keyword(arg=k.arg, value=argument(len(e.args) + j, k.value))
                for j, k in enumerate(e.keywords)]  # fmt: skip
    if entries and _returns_a_parameter(fn, updated):
        raise norm.p.error(
            f"{fn.__qualname__} updates an entry passed to it in place and returns it: of "
            "an array, Python hands back a view of the array, which compiled code cannot "
            "follow",
            e,
            "pass the entry in a name of its own and assign it back, or return a copy",
        )
    wrapper = _rt_call(norm, "returning", [norm.callee(e.func), _const(updated)])
    result = norm.temp(gast.Call(func=wrapper, args=args, keywords=keywords))
    value = norm.temp(_item(result, 0))
    for i, target in sorted(targets.items()):
        # the object updated in place: its new value where it is an array, a list or a
        # dict (a number's ``+=`` in the callee made a new one, the caller's is as it was);
        # every other name holding it follows (mutation), the list it came from too
        new = norm.temp(_item(result, updated.index(params_at(fn, i, e)) + 1))
        owner = gast.Name(id=target, ctx=gast.Load(), annotation=None, type_comment=None)
        label = _const(f"{target},{target}")
        followed = gast.Call(func=_rt("follow"), args=[owner, owner, new, label], keywords=[])
        update = _inplace(target, norm.temp(followed))  # a name of its own: the old one saved
        mark(update, returned=value.id)  # mutation checks the names holding its entries
        entry = entries.get(i)
        if entry is not None:  # as ``xs[i] += v`` is: the entry's object, or an array's row
            holder = entry.value.id if isinstance(entry.value, gast.Name) else None
            mark(update, entry_update=True, entry_of=holder)
        norm.emit(update)
        if entry is not None:
            store = gast.Subscript(value=entry.value, slice=entry.slice, ctx=gast.Store())
            norm.emit(gast.Assign(targets=[store], value=gast.Name(
                id=target, ctx=gast.Load(), annotation=None, type_comment=None),
                type_comment=None))  # fmt: skip
    return value


def _returns_a_parameter(fn: types.FunctionType, names: tuple[str, ...]) -> bool:
    """Whether ``fn`` may return one of its parameters ``names`` (in a tuple too)."""
    returned = (
        n.value for n in gast.walk(parse(fn).tree) if isinstance(n, gast.Return) and n.value
    )
    return any(isinstance(n, gast.Name) and n.id in names for v in returned for n in gast.walk(v))


def params_at(fn: types.FunctionType, i: int, e: gast.Call) -> str:
    """The parameter the ``i``-th argument of the call ``e`` (keywords after the
    positional ones) binds."""
    if i < len(e.args):
        return list(inspect.signature(fn).parameters)[i]
    return e.keywords[i - len(e.args)].arg


def _root(e: gast.expr) -> str | None:
    """The name an entry (``L[0][1]``) is reached from (``normalize.root_name``, which
    imports this module)."""
    while isinstance(e, gast.Subscript):
        e = e.value
    return e.id if isinstance(e, gast.Name) else None


def _item(container: gast.expr, k: int) -> gast.Subscript:
    return gast.Subscript(value=container, slice=_const(k), ctx=gast.Load())


def _own_method(norm: Normalizer, owner: str, attr: str) -> bool:
    """Whether the local ``owner`` is given an object of a class of the user's with a
    method ``attr`` of its own (which a list's or dict's of that name is not)."""
    for node in gast.walk(norm.p.tree):
        if not (isinstance(node, gast.Assign) and isinstance(node.value, gast.Call)):
            continue
        if not any(isinstance(t, gast.Name) and t.id == owner for t in node.targets):
            continue
        cls = norm.resolved(node.value.func)
        if isinstance(cls, type) and isinstance(
            inspect.getattr_static(cls, attr, None), types.FunctionType
        ):
            return True
    return False


def _method(norm: Normalizer, e: gast.Call, owner: str, attr: str) -> gast.expr | None:
    """``xs.append(v)``, ``x.fill(v)``, ``t = xs.pop()`` and the like on a local name."""
    if attr == "resize":
        return _resize(norm, e, owner, e.args)
    if attr == "sort" and id(e) in norm.discarded:
        # an array's or a list's sort (a statement: a Tensor's, which returns its values
        # and indices, is one whose value is used; see rt.tensors.tensor_receiver)
        args = [norm.atom(a) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=norm.atom(k.value)) for k in e.keywords]
        new = norm.temp(gast.Call(func=_rt("sorted_in_place"), args=[_name(owner), *args],
                                  keywords=keywords))  # fmt: skip
        norm.emit(_inplace(owner, new))
        return _const(None)
    if attr == "pop" and not e.keywords and len(e.args) <= 1:
        key = [norm.atom(e.args[0])] if e.args else []  # (a user's pop may take none)
        item = _rt_call(norm, "pop_value", [_name(owner), *key])
        norm.emit(_inplace(owner, _rt_call(norm, "removed", [_name(owner), *key])))
        return item
    if attr == "remove" and not e.keywords and len(e.args) == 1:
        # ``xs.remove(v)``: the pop of the first entry that is ``v`` or equals it
        key = _rt_call(norm, "removal_index", [_name(owner), norm.atom(e.args[0])])
        norm.emit(_inplace(owner, _rt_call(norm, "removed", [_name(owner), key])))
        return _const(None)
    if attr == "setdefault" and not e.keywords and len(e.args) == 2:
        # ``d.setdefault(k, v)``: ``d.update({k: d[k] if k in d else v})``, then ``d[k]``
        key, default = norm.atom(e.args[0]), norm.atom(e.args[1])
        found = gast.Compare(left=key, ops=[gast.In()], comparators=[_name(owner)])
        held = gast.Subscript(value=_name(owner), slice=key, ctx=gast.Load())
        entry = norm.atom(gast.IfExp(test=found, body=held, orelse=default))
        other = norm.temp(gast.Dict(keys=[key], values=[entry]))
        new = norm.temp(gast.Call(func=_rt("updated"), args=[_name(owner), other], keywords=[]))
        norm.emit(_inplace(owner, new))
        return norm.temp(gast.Subscript(value=_name(owner), slice=key, ctx=gast.Load()))
    helper = METHODS.get(attr)
    if attr == "update" and e.keywords and all(k.arg is not None for k in e.keywords):
        # ``d.update(m, b=v)``: the mapping's entries, then the keywords', as a display
        named = gast.Dict(keys=[_const(k.arg) for k in e.keywords],
                          values=[norm.atom(k.value) for k in e.keywords])  # fmt: skip
        e = gast.Call(func=e.func, args=[*e.args, norm.temp(named)], keywords=[])
        for a in e.args:
            new = norm.temp(gast.Call(func=_rt(helper), args=[_name(owner), _update_entries(
                norm, owner, a)], keywords=[]))  # fmt: skip
            norm.emit(_inplace(owner, new))
        return _const(None)
    if helper is None or e.keywords:
        return None
    if attr == "update" and len(e.args) == 1:
        e = gast.Call(func=e.func, args=[_update_entries(norm, owner, e.args[0])], keywords=[])
    args = [norm.atom(a) for a in e.args]
    new = norm.temp(gast.Call(func=_rt(helper), args=[_name(owner), *args], keywords=[]))
    norm.emit(_inplace(owner, new))
    return _const(None)


def _update_entries(norm: Normalizer, owner: str, other: gast.expr) -> gast.expr:
    """The entries ``d.update(other)`` puts into ``d``: a dict display as it is, anything
    else through ``rt.update_pairs`` (pairs made a dict, their keys checked, their values'
    gradients followed)."""
    if isinstance(other, gast.Dict):
        return norm.atom(other)
    return norm.temp(gast.Call(func=_rt("update_pairs"), args=[_name(owner), norm.atom(other)],
                               keywords=[]))  # fmt: skip


def _named_by_a_class(norm: Normalizer, attr: str) -> bool:
    """Whether a class of the user's that the function can name has a method ``attr``
    (a field may hold such an object, whose ``append`` is its own, compiled as a method)."""
    fn = norm.p.fn
    if fn is None:
        return True
    values = [*fn.__globals__.values(), *norm.p.scope.values()]
    for cell in fn.__closure__ or ():
        with contextlib.suppress(ValueError):  # (an empty cell)
            values.append(cell.cell_contents)
    return any(
        isinstance(v, type)
        and is_record_class(v)
        and isinstance(inspect.getattr_static(v, attr, None), types.FunctionType)
        for v in values
    )


def _field_method(norm: Normalizer, e: gast.Call, owner: str, field: str, attr: str
                  ) -> gast.expr | None:  # fmt: skip
    """``o.items.append(v)`` (``extend``, ``insert``, ...) on an object a local name
    holds: ``t = o.items``, the update of ``t`` made as a local list's is, and the field
    given ``t`` back (``rt.put_attribute``, which analyse makes ``o.items = t`` where the
    function built ``o``, so that a gradient follows; elsewhere a differentiated value is
    refused there)."""
    held = norm.temp(gast.Attribute(value=_name(owner), attr=field, ctx=gast.Load()))
    start = len(norm.out)
    result = _method(norm, e, held.id, attr)
    if result is None:
        return None
    for s in norm.out[start:]:  # (its holder takes the write back: it follows nothing)
        mark(s, written_back=frozenset({owner, held.id}))
    norm.attribute_entries.add(held.id)
    put = gast.Call(func=_rt("put_attribute"), args=[_name(owner), _const(field), _name(held.id)],
                    keywords=[])  # fmt: skip
    stmt = gast.Expr(value=put)
    stmt.lineno = norm.line
    norm.emit(stmt)
    return result


def _resize(norm: Normalizer, e: gast.Call, owner: str, shape: list[gast.expr]) -> gast.expr:
    """``x.resize(shape)`` (or ``x.resize(n, m)``): ``x = rt.resized(x, shape)``."""
    args = [norm.atom(a) for a in shape]
    if len(args) > 1:
        args = [norm.temp(gast.Tuple(elts=args, ctx=gast.Load()))]
    keywords = [gast.keyword(arg=k.arg, value=norm.atom(k.value)) for k in e.keywords]
    new = norm.temp(gast.Call(func=_rt("resized"), args=[_name(owner), *args],
                              keywords=keywords))  # fmt: skip
    norm.emit(_inplace(owner, new))
    return _const(None)


def _out_argument(e: gast.Call, obj: Any) -> gast.expr | None:
    """The ``out`` of a NumPy call: by keyword, or a ufunc's argument after its inputs.
    None for the user's own functions, whose ``out`` is a parameter like any other."""
    if isinstance(obj, types.FunctionType) and not _array_library(obj):
        return None
    for k in e.keywords:
        if k.arg == "out":
            return None if _is_none(k.value) else k.value
    position = obj.nin if isinstance(obj, np.ufunc) else out_position(obj)
    if position is not None and len(e.args) > position and not _is_none(e.args[position]):
        return e.args[position]
    return None


def _is_none(e: gast.expr) -> bool:
    return isinstance(e, gast.Constant) and e.value is None


# arrays' methods that write into an ``out`` array, and the position ``out`` takes among
# their positional parameters
METHOD_OUT = {"all": 1, "any": 1, "argmax": 1, "argmin": 1, "choose": 1, "clip": 2,
              "compress": 2, "cumprod": 2, "cumsum": 2, "dot": 1, "max": 1, "mean": 2,
              "min": 1, "prod": 2, "round": 1, "std": 2, "sum": 2, "take": 2, "trace": 4,
              "var": 2}  # fmt: skip


def refuse_positional_out(norm: Normalizer, s: gast.Expr) -> None:
    """``z.mean(0, None, y)`` as a statement of its own: its value unused, the call can
    only be for the ``out`` given by position, which is refused (a Tensor's method has
    other arguments there, which a statement of its own would not use either)."""
    e = s.value
    if (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and len(e.args) > METHOD_OUT.get(e.func.attr, len(e.args))
        and norm.resolved(e.func) is None  # a value's method, not NumPy's function
    ):
        raise norm.p.error(
            f"unsupported: `.{e.func.attr}(...)` with arguments past its out position and its "
            "value unused",
            s,
            "pass out= by keyword, or assign the result",
        )


def _method_out(e: gast.Call, attr: str) -> gast.expr | None:
    """The ``out=`` of an array method's call (``x.sum(axis=0, out=y)``), or None. (An
    ``out`` passed by position is not told apart from a Tensor method's argument in that
    place: ``h.max(1, True)``.)"""
    if attr not in METHOD_OUT:
        return None
    for k in e.keywords:
        if k.arg == "out" and not (isinstance(k.value, gast.Constant) and k.value.value is None):
            return k.value
    return None


def _array_library(fn: types.FunctionType) -> bool:
    """Whether ``fn`` is NumPy's (or CuPy's, SciPy's): its ``out=`` is where it writes."""
    return (fn.__module__ or "").split(".")[0] in ("numpy", "cupy", "scipy", "cupyx")


# NumPy functions that take ``out=`` and write nothing into it (each calls the transform it
# is made of with ``out=None``): compiled code would write there
OUT_IGNORED = (np.fft.hfft, np.fft.ifft2, np.fft.irfft2)


def _with_out(norm: Normalizer, e: gast.Call, out: gast.expr) -> gast.expr:
    """``f(x, out=y)``: ``t = f(x); y[...] = t``, whose value is ``y``."""
    if any(norm.resolved(e.func) is f for f in OUT_IGNORED):
        raise norm.p.error(
            f"out= of {gast.unparse(e.func)}, which NumPy leaves as it is (it writes the "
            "result into a new array)",
            e,
            "drop out= and use the result",
        )
    if isinstance(out, gast.Tuple) and len(out.elts) == 1:
        out = out.elts[0]
    elif isinstance(out, gast.Tuple):
        raise norm.p.error("unsupported: out= with several arrays", e,
                           "assign the results and copy them into the arrays")  # fmt: skip
    nin = len(e.args)
    obj = norm.resolved(e.func)
    later: list[gast.keyword] = []  # arguments given by position after out, by name
    if isinstance(obj, np.ufunc):
        nin = min(nin, obj.nin)
    elif (position := out_position(obj)) is not None and position < nin:
        names = list(inspect.signature(obj).parameters)[position + 1 :]
        later = [gast.keyword(arg=n, value=norm.atom(a))
                 for n, a in zip(names, e.args[position + 1 :], strict=False)]  # fmt: skip
        nin = position
    call = gast.Call(func=norm.callee(e.func), args=[norm.atom(a) for a in e.args[:nin]],
                     keywords=[gast.keyword(arg=k.arg, value=norm.atom(k.value))
                               for k in e.keywords if k.arg != "out"] + later)  # fmt: skip
    target = norm.atom(out)
    if not (isinstance(target, gast.Name) and _may_be_none(norm, out)):
        return _write_whole(norm, target, norm.temp(call))
    # a name that may hold None when the code runs (a parameter passing ``out`` on):
    # NumPy's new array then, a write into the array otherwise
    value, result = norm.temp(call), norm.names.fresh()
    write = gast.Assign(targets=[gast.Subscript(value=target, slice=_const(Ellipsis),
                                                ctx=gast.Store())],
                        value=value, type_comment=None)  # fmt: skip
    given = [write, _assign(result, target)]
    for st in given:
        st.lineno = norm.line
    test = norm.temp(gast.Compare(left=target, ops=[gast.Is()], comparators=[_const(None)]))
    fresh = _assign(result, value)
    fresh.lineno = norm.line
    norm.emit(gast.If(test=test, body=norm.block([fresh]), orelse=norm.block(given)))
    return _name(result)


def _may_be_none(norm: Normalizer, out: gast.expr) -> bool:
    """Whether the name ``out`` (as written) may hold None: a parameter, a global or a
    closure's variable, or a local given None somewhere (not an array the code made)."""
    if not isinstance(out, gast.Name) or out.id not in norm.locals:
        return True
    args = norm.p.tree.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    if any(p is not None and p.id == out.id for p in params):
        return True
    return any(
        isinstance(n, gast.Assign)
        and isinstance(n.value, gast.Constant)
        and n.value.value is None
        and any(isinstance(t, gast.Name) and t.id == out.id for t in n.targets)
        for n in gast.walk(norm.p.tree)
    )


def _assign(target: str, value: gast.expr) -> gast.Assign:
    return gast.Assign(targets=[gast.Name(id=target, ctx=gast.Store(), annotation=None,
                                          type_comment=None)],
                       value=value, type_comment=None)  # fmt: skip


def _copyto(norm: Normalizer, e: gast.Call) -> gast.expr:
    """``np.copyto(dst, src, where=m)``: ``t = np.where(m, src, dst); dst[...] = t``."""
    args = [norm.atom(a) for a in e.args]
    named = {k.arg: norm.atom(k.value) for k in e.keywords}
    names = ["dst", "src", "casting", "where"]
    bound = dict(zip(names, args, strict=False)) | named
    new = bound["src"]
    if "where" in bound:
        new = _rt_call(norm, "where", [bound["where"], new, bound["dst"]])
    _write_whole(norm, bound["dst"], new)
    return _const(None)


def _write_whole(norm: Normalizer, target: gast.expr, value: gast.expr) -> gast.expr:
    """``target[...] = value`` (an update in place of every entry); its value is target."""
    norm.emit(gast.Assign(targets=[gast.Subscript(value=target, slice=_const(Ellipsis),
                                                  ctx=gast.Store())],
                          value=value, type_comment=None))  # fmt: skip
    return target


def _rt_call(norm: Normalizer, helper: str, args: list[gast.expr]) -> gast.Name:
    return norm.temp(gast.Call(func=_rt(helper), args=args, keywords=[]))


def _inplace(owner: str, new: gast.expr) -> gast.Assign:
    stmt = gast.Assign(targets=[gast.Name(id=owner, ctx=gast.Store(), annotation=None,
                                          type_comment=None)],
                       value=new, type_comment=None)  # fmt: skip
    mark(stmt, inplace=True)
    return stmt


def _rt(attr: str) -> gast.Attribute:
    return gast.Attribute(value=_name("rt"), attr=attr, ctx=gast.Load())


def _name(n: str) -> gast.Name:
    return gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)


def _const(v: Any) -> gast.Constant:
    return gast.Constant(value=v, kind=None)
