"""Stage 1c: the module variables a function assigns (``global n``), part of parse.

A name the function declares ``global`` and assigns is a variable of the function in
compiled code: read from the module where the function starts (``n =
rt.global_value("n")``, where the function reads it) and written back to the module after
each assignment (``rt.set_global("n", n)``), so that the module, and any function called
meanwhile, sees what a plain call makes it see. Its values are followed like any
variable's; a value that may carry a gradient is refused where it is written (see
``analyse``): a global read elsewhere would be read as a constant.

What would change the object a global holds rather than the name is refused here (an
item or attribute written, a method changing it in place), and so is a binding other
than an assignment; a global assigned in a function defined inside is its own (its parse does
the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gast

from .normalize import rebuild_blocks, walk
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
