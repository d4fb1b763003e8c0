"""Stage 1c: the module variables a function assigns (``global n``), part of parse.

A name the function declares ``global`` and assigns is a variable of the function in
compiled code: read from the module where the function starts (``n =
rt.global_value("n")``, where the function reads it) and written back to the module after
each assignment (``rt.set_global("n", n)``), so that the module, and any function called
meanwhile, sees what a plain call makes it see; as other code may assign it too (of its
module, or of any other: ``mod.n = v``), it is read again after each statement calling
code that may (``_read_again``). Its
values are followed like any variable's; a value that may carry a gradient is refused
where it is written (see ``analyse``): a global read elsewhere would be read as a constant.

What would change the object a global holds rather than the name is refused here (an
item or attribute written, a method changing it in place), and so is a binding other
than an assignment; a global assigned in a function defined inside is its own (its parse does
the same).
"""

from __future__ import annotations

import ast
import dis
import functools
import types
from typing import TYPE_CHECKING, Any

import gast
import numpy as np

from ..runtime import tensor_methods
from .normalize import local_names, rebuild_blocks, walk
from .snapshots import ARRAY_MUTATORS, CONTAINER_MUTATORS

if TYPE_CHECKING:
    from .parse import Parsed

ASSIGNING = (gast.Assign, gast.AugAssign, gast.AnnAssign)
SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)


def _rt_call(attr: str, *args: gast.expr) -> gast.Call:
    rt = gast.Name(id="rt", ctx=gast.Load(), annotation=None, type_comment=None)
    func = gast.Attribute(value=rt, attr=attr, ctx=gast.Load())
    return gast.Call(func=func, args=list(args), keywords=[])


def _name(id_: str, ctx: gast.expr_context) -> gast.Name:
    return gast.Name(id=id_, ctx=ctx, annotation=None, type_comment=None)


def _located(new: gast.stmt, old: gast.AST) -> gast.stmt:
    for n in walk(new):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if hasattr(old, attr):
                setattr(n, attr, getattr(old, attr))
    return new


def _own(nodes: list[gast.AST]):
    """The nodes of ``nodes`` in the function's own scope (not in functions or classes
    it defines; a comprehension's are its own, but what they bind is refused)."""
    todo = list(nodes)
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, SCOPES):
            todo.extend(gast.iter_child_nodes(n))


def assign_globals(parsed: Parsed) -> None:
    """Make the globals ``parsed``'s function assigns variables of its own (see above)."""
    tree = parsed.tree
    declared = {name: n for n in _own(tree.body) if isinstance(n, gast.Global) for name in n.names}
    if not declared:
        return
    nodes = list(_own(tree.body))
    stores = {n.id for n in nodes if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
    assigned = {g for g in declared if g in stores}
    for n in nodes:
        _check(parsed, n, assigned, nodes)
    read = {n.id for n in nodes if isinstance(n, gast.Name) and n.id in assigned
            and isinstance(n.ctx, gast.Load)}  # fmt: skip
    read |= {s.target.id for s in nodes if isinstance(s, gast.AugAssign)
             and isinstance(s.target, gast.Name) and s.target.id in assigned}  # fmt: skip

    def rebuilt(block: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for s in block:
            if isinstance(s, gast.Global):
                continue  # (a global only read stays a global's read)
            if not isinstance(s, SCOPES):
                rebuild_blocks(s, rebuilt)
            out.append(s)
            targets = s.targets if isinstance(s, gast.Assign) else [getattr(s, "target", None)]
            if not isinstance(s, ASSIGNING) or isinstance(s, gast.AnnAssign) and s.value is None:
                continue
            written = sorted({n.id for t in targets for n in walk(t)
                              if isinstance(n, gast.Name) and n.id in assigned})  # fmt: skip
            for g in written:
                call = _rt_call("set_global", gast.Constant(value=g, kind=None),
                                _name(g, gast.Load()))  # fmt: skip
                if isinstance(s, gast.AugAssign):  # (in place, on an array or a list)
                    call.keywords.append(
                        gast.keyword(arg="augmented", value=gast.Constant(value=True, kind=None))
                    )
                out.append(_located(gast.Expr(value=call), s))
        return out

    tree.body = rebuilt(tree.body)
    if read:
        tree.body = _read_again(parsed, tree.body, read)
    first = [
        _located(gast.Assign(targets=[_name(g, gast.Store())], type_comment=None,
                             value=_rt_call("global_value", gast.Constant(value=g, kind=None))),
                 declared[g])
        for g in sorted(read)
    ]  # fmt: skip
    tree.body[:0] = first


def _changes_its_object(method: str) -> bool:
    """Whether ``.method()`` changes an array, a list, a dict or a Tensor in place."""
    return (method in ARRAY_MUTATORS or method in CONTAINER_MUTATORS
            or method.endswith("_") and not method.startswith("_"))  # fmt: skip


def _check(parsed: Parsed, n: gast.AST, assigned: set[str], nodes: list[gast.AST]) -> None:
    """Refuse what would change a global ``n`` assigns other than by assigning it."""

    def refuse(what: str, hint: str) -> Exception:
        return parsed.error(what, n, hint)

    if isinstance(n, (gast.Subscript, gast.Attribute)) and not isinstance(n.ctx, gast.Load):
        base = n.value
        while isinstance(base, (gast.Subscript, gast.Attribute)):
            base = base.value
        if isinstance(base, gast.Name) and base.id in assigned:
            raise refuse(
                f"an item or attribute of the global `{base.id}` written in a function that "
                f"assigns it (global {base.id})",
                f"assign `{base.id}` a new value, or drop `global {base.id}` where the function "
                "only changes the object it holds",
            )
    if (
        isinstance(n, gast.Call)
        and isinstance(n.func, gast.Attribute)
        and isinstance(n.func.value, gast.Name)
        and n.func.value.id in assigned
        and _changes_its_object(n.func.attr)
    ):
        g = n.func.value.id
        raise refuse(
            f"the global `{g}` changed in place by .{n.func.attr}() in a function that assigns "
            f"it (global {g})",
            f"call it on a copy, or drop `global {g}` where the function only changes the "
            "object it holds",
        )
    bound = None
    if isinstance(n, (gast.For, gast.comprehension)):
        bound = n.target
    elif isinstance(n, gast.withitem):
        bound = n.optional_vars
    elif isinstance(n, gast.NamedExpr):
        bound = n.target
    elif isinstance(n, gast.Delete):
        bound = gast.Tuple(elts=n.targets, ctx=gast.Del())
    elif isinstance(n, (gast.Import, gast.ImportFrom)):
        names = [a.asname or a.name.split(".")[0] for a in n.names]
        bound = gast.Tuple(elts=[_name(x, gast.Store()) for x in names], ctx=gast.Store())
    elif isinstance(n, (gast.FunctionDef, gast.ClassDef)) and n.name in assigned:
        bound = _name(n.name, gast.Store())
    elif isinstance(n, gast.ExceptHandler) and n.name is not None:
        bound = n.name
    if bound is not None:
        names = [m.id for m in walk(bound) if isinstance(m, gast.Name) and m.id in assigned]
        if names:
            raise refuse(
                f"the global `{names[0]}` bound other than by an assignment ({type(n).__name__})",
                f"bind a local name there, then assign it: {names[0]} = ...",
            )


# modules whose code reads and assigns none of the user's globals
_LIBRARIES = ("numpy", "srcdiff", "builtins", "math", "itertools", "functools", "operator",
              "cupy", "scipy")  # fmt: skip
# what a function of any module may reach a module's variables through: ``mod.N = v``
# is an attribute's store (``STORE_ATTR N``), the rest are these names
_WRITING = ("setattr", "delattr", "vars", "__dict__", "exec")
_READING = ("getattr", "vars", "__dict__", "exec", "eval")


def _may_assign(parsed: Parsed, call: gast.Call, name: str, module: dict | None = None) -> bool:
    """Whether ``call`` may assign the global ``name`` (of ``module``, the function's
    unless given): a callee whose code (or code it names) assigns it
    (``reaches_global``), or one not known here, as code of any module may (``mod.N =
    v``, ``setattr(mod, "N", v)``): another function of the module, or this one called
    again, may be it."""
    f, path = call.func, []
    while isinstance(f, gast.Attribute):
        path.append(f.attr)
        f = f.value
    if not isinstance(f, gast.Name):
        return True
    if f.id == "rt":
        return False
    found, obj = parsed.resolve_path(f.id, path[::-1])
    if not found:
        return True
    module = parsed.fn.__globals__ if module is None else module
    return reaches_global(obj, name, module, assigns=True)


def reaches_global(obj: Any, name: str, module: dict, assigns: bool,
                   seen: set[int] | None = None) -> bool:  # fmt: skip
    """Whether calling ``obj`` may read (``assigns``: assign) the global ``name`` of
    ``module``: a Python function whose code (or a function or class it names, in turn,
    or a module's function it names) names (assigns) it, or names an attribute ``name``
    (``mod.N += 1``, of any module: ``sys.modules[__name__].N`` too) or what reaches a
    module's variables by name (``setattr``, ``vars``, ``__dict__``); srcdiff's,
    NumPy's and the builtins' do neither."""
    seen = set() if seen is None else seen
    owner = getattr(obj, "__module__", None) or getattr(type(obj), "__module__", None) or ""
    if id(obj) in seen or owner.startswith(_LIBRARIES):
        return False
    seen.add(id(obj))
    again = functools.partial(reaches_global, name=name, module=module, assigns=assigns,
                              seen=seen)  # fmt: skip
    obj = getattr(obj, "__func__", obj)
    if isinstance(obj, functools.partial):
        return again(obj.func) or any(again(a) for a in (*obj.args, *obj.keywords.values()))
    if isinstance(obj, type):
        wrapped = (property, staticmethod, classmethod)
        return any(again(v) for v in vars(obj).values() if callable(v) or isinstance(v, wrapped))
    if isinstance(obj, (property, staticmethod, classmethod)):
        parts = (obj.fget, obj.fset) if isinstance(obj, property) else (obj.__func__,)
        return any(again(f) for f in parts if f is not None)
    if not isinstance(obj, types.FunctionType):  # (an object called: its class's __call__)
        return callable(obj) and again(type(obj))
    codes, names = [obj.__code__], set()
    while codes:
        code = codes.pop()
        if obj.__globals__ is module and "globals" in code.co_names:
            return True  # (its dict read or written into, maybe)
        if any(n in code.co_names for n in (_WRITING if assigns else _READING)):
            return True
        if assigns and any(
            i.argval == name and (i.opname in ("STORE_ATTR", "DELETE_ATTR") or obj.__globals__
                                  is module and i.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"))
            for i in dis.get_instructions(code)
        ):  # fmt: skip
            return True
        if (
            not assigns
            and name in code.co_names
            and (obj.__globals__ is module or _reads_attribute(code, name))
        ):
            return True
        names |= set(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    found = [obj.__globals__.get(n) for n in names]
    found += [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
    found += [getattr(m, n, None) for m in found if isinstance(m, types.ModuleType)
              and not m.__name__.startswith(_LIBRARIES) for n in names]  # fmt: skip
    return any(again(f) for f in found
               if isinstance(f, (types.FunctionType, type, functools.partial)))  # fmt: skip


def _reads_attribute(code: types.CodeType, name: str) -> bool:
    """Whether ``code`` reads an attribute ``name`` (``mod.N``)."""
    return any(i.opname in ("LOAD_ATTR", "LOAD_METHOD") and i.argval == name
               for i in dis.get_instructions(code))  # fmt: skip


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _heads(s: gast.stmt) -> list[Any]:
    """The expressions of ``s`` itself (not of the blocks nested in it)."""
    found: list[Any] = []
    for f, v in gast.iter_fields(s):
        if f not in ("body", "orelse", "finalbody", "handlers", "cases"):
            found += [e for e in (v if isinstance(v, list) else [v]) if isinstance(e, gast.AST)]
    return found


def _read_again(parsed: Parsed, body: list[gast.stmt], names: set[str]) -> list[gast.stmt]:
    """``body`` with each global of ``names`` read again from the module after a
    statement calling code that may assign it (``_may_assign``), as Python reads it
    after; a read in that statement that Python makes after such a call reads the module
    there (``_read_after_calls``), and one in a lambda of it is refused."""

    def again(at: gast.AST, which: list[str]) -> list[gast.stmt]:
        return [_located(gast.Assign(targets=[_name(g, gast.Store())], type_comment=None,
                                     value=_rt_call("global_value",
                                                    gast.Constant(value=g, kind=None))), at)
                for g in which]  # fmt: skip

    local = local_names(parsed.tree)

    def rebuilt(block: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for s in block:
            if isinstance(s, SCOPES) or isinstance(s, gast.Expr) and _is_rt(s.value):
                out.append(s)
                continue
            rebuild_blocks(s, rebuilt)
            if isinstance(s, gast.Try):  # (a call raising after it assigns: read in handlers)
                inside = [n for n in walk(s) if isinstance(n, gast.Call)]
                which = [g for g in sorted(names) if any(_may_assign(parsed, c, g) for c in inside)]
                for h in s.handlers:
                    h.body[:0] = again(h, which)
                if s.finalbody:
                    s.finalbody[:0] = again(s, which)
            own = [n for h in _heads(s) for n in walk(h) if isinstance(n, gast.AST)]
            calls = [n for n in own if isinstance(n, gast.Call)]
            stores = {n.id for n in own if isinstance(n, gast.Name)
                      and isinstance(n.ctx, gast.Store)}  # fmt: skip
            which = []
            for g in sorted(names):
                assigning = [c for c in calls if _may_assign(parsed, c, g)]
                if not assigning:
                    continue
                unknown = [c for c in assigning if not _array_method(c, local)]
                if unknown and _read_in_lambda(s, g):
                    shown = ast.unparse(gast.gast_to_ast(unknown[0].func))
                    raise parsed.error(
                        f"the global `{g}` read in a lambda of a statement calling `{shown}`, "
                        f"which may assign it (its code, or code it calls, assigns {g}, or it "
                        "is not known before it runs)",
                        s,
                        f"make the call a statement of its own, and read `{g}` after it",
                    )
                given = [c for c in unknown if _read_in_generator_given(c, g)]
                if given:
                    shown = ast.unparse(gast.gast_to_ast(given[0].func))
                    raise parsed.error(
                        f"the global `{g}` read in a generator expression given to `{shown}`, "
                        f"which may assign it: Python reads it as `{shown}` takes the "
                        "generator's entries, compiled code where the generator is written",
                        s,
                        f"give it a list ([... for ...]) if `{g}` is to be read first",
                    )
                if unknown:
                    _read_after_calls(s, g, unknown)
                if g not in stores:
                    which.append(g)
            if isinstance(s, (gast.Return, gast.Raise)) or not which:
                out.append(s)
                continue
            if isinstance(s, (gast.If, gast.For, gast.While, gast.With)):
                s.body[:0] = again(s, which)
                if isinstance(s, gast.If):
                    s.orelse[:0] = again(s, which)
            out.append(s)
            if not isinstance(s, gast.If):
                out.extend(again(s, which))
        return out

    return rebuilt(body)


def _array_method(call: gast.Call, local: set[str]) -> bool:
    """Whether ``call`` is ``v.sum()``, ``v.reshape(...)``: a method an array or a Tensor
    has, on a local name, which may hold one (known when the code runs: the global is
    read again after its statement, but a read in that statement is not refused)."""
    f = call.func
    return (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name)
            and f.value.id in local
            and (hasattr(np.ndarray, f.attr) or hasattr(tensor_methods, f.attr)))  # fmt: skip


def _read_after_calls(s: gast.stmt, g: str, assigning: list[gast.Call]) -> None:
    """Make each read of the global ``g`` in ``s`` that Python makes after one of the
    calls ``assigning`` (which may assign it) a read from the module there
    (``rt.global_value``): the variable holds what it held before the statement, which
    the reads made before the calls see, as in Python (``y = x * N + bump()``, ``N +=
    bump()``), and ``bump() + N`` reads what the call left."""
    calls = {id(c) for c in assigning}
    late, called = set(), False
    for kind, node in _evaluation(s):
        if kind == "call" and id(node) in calls:
            called = True
        elif kind == "load" and called and node.id == g:
            late.add(id(node))
    if late:
        _ReadFromModule(late, g).visit(s)


class _ReadFromModule(gast.NodeTransformer):
    """The reads ``late`` (by node) of the global ``g`` made ``rt.global_value("g")``."""

    def __init__(self, late: set[int], g: str):
        self.late, self.g = late, g

    def visit_Name(self, node: gast.Name) -> gast.expr:
        if id(node) not in self.late:
            return node
        return _located(_rt_call("global_value", gast.Constant(value=self.g, kind=None)), node)


def _evaluation(s: gast.stmt) -> list[tuple[str, Any]]:
    """The reads of names (``"load"``) and the calls (``"call"``, made once their function
    and arguments are) of ``s``'s own expressions, in the order Python makes them; a
    comprehension's loop is taken twice (a read in its second step follows a call in
    its first)."""
    out: list[tuple[str, Any]] = []

    def visit(e: Any) -> None:
        if e is None or isinstance(e, SCOPES):
            return
        if isinstance(e, list):
            for x in e:
                visit(x)
        elif isinstance(e, gast.Name):
            if isinstance(e.ctx, gast.Load):
                out.append(("load", e))
        elif isinstance(e, gast.Call):
            visit(e.func)
            visit(e.args)
            visit([k.value for k in e.keywords])
            out.append(("call", e))
        elif isinstance(e, gast.Dict):
            for k, v in zip(e.keys, e.values, strict=True):
                visit(k)
                visit(v)
        elif isinstance(e, (gast.ListComp, gast.SetComp, gast.GeneratorExp, gast.DictComp)):
            first, *rest = e.generators
            visit(first.iter)
            step = [first.ifs, *([c.iter, c.ifs] for c in rest)]
            step += [e.key, e.value] if isinstance(e, gast.DictComp) else [e.elt]
            visit(step)
            visit(step)
        elif isinstance(e, gast.AST):
            for _, v in gast.iter_fields(e):
                if isinstance(v, (gast.AST, list)):
                    visit(v)

    if isinstance(s, gast.Assign):
        visit(s.value)
        visit(s.targets)
    elif isinstance(s, gast.AugAssign):
        if isinstance(s.target, gast.Name):
            out.append(("load", s.target))
        else:
            visit(s.target)
        visit(s.value)
    elif isinstance(s, gast.AnnAssign):
        visit(s.value)
        visit(s.target)
    else:
        visit(_heads(s))
    return out


def _is_rt(e: gast.expr) -> bool:
    return (isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute)
            and isinstance(e.func.value, gast.Name) and e.func.value.id == "rt")  # fmt: skip


def _read_in_generator_given(call: gast.Call, g: str) -> bool:
    """Whether a generator expression given to ``call`` reads the global ``g``: it reads
    it as the callee takes its entries, maybe after the callee assigned it."""
    return any(isinstance(n, gast.Name) and n.id == g and isinstance(n.ctx, gast.Load)
               for a in (*call.args, *(k.value for k in call.keywords))
               if isinstance(a, gast.GeneratorExp) for n in walk(a))  # fmt: skip


def _read_in_lambda(s: gast.stmt, g: str) -> bool:
    """Whether a lambda of ``s`` reads the global ``g``: it reads it when it is called,
    maybe after a call of ``s`` assigned it."""
    return any(isinstance(n, gast.Name) and n.id == g and isinstance(n.ctx, gast.Load)
               for h in _heads(s) for fn in walk(h) if isinstance(fn, gast.Lambda)
               for n in walk(fn))  # fmt: skip
