"""For the primal: ``optimizer.step()`` of an SGD optimizer found when the step is
compiled, written out as the update it makes.

A training step's ``optimizer.step()`` pays, at every call, for the optimizer's general
code (its groups, its hyperparameters' kinds, the choice of update), many times the
arithmetic of a small model's update. Where the name is free (a closure variable or a
global) and holds an ``optim.SGD`` of one group, the primal asks ``rt.sgd_arrays`` for
the update's arrays, read afresh at each call, and updates each parameter itself
(``rt.descend``: the same rounding as SGD's). ``rt.sgd_arrays`` answers None wherever
the step is not that update now (momentum, weight decay or maximize set, a hyperparameter
that is a Tensor, a group added, a parameter without a gradient, a method replaced): the
primal then calls ``optimizer.step()`` as written.
"""

from __future__ import annotations

from keyword import iskeyword
from typing import Any

import gast

from ..runtime.calls import Host
from .normalize import Names, assign, const, name, walk
from .parse import Parsed
from .trace import attr, call

STATEMENT_FIELDS = ("body", "orelse", "finalbody")


def inline_steps(parsed: Parsed, tree: gast.FunctionDef, names: Names) -> None:
    """Write each ``X.step()`` statement of ``tree`` (a primal) whose ``X`` is a free name
    holding an SGD optimizer of one group as its update (see the module)."""
    if not Host.sgd:
        return
    local = {n.id for n in walk(tree) if isinstance(n, gast.Name) and type(n.ctx) is not gast.Load}
    local |= {a.id for a in (*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs)}
    local |= {a.id for a in (tree.args.vararg, tree.args.kwarg) if a is not None}
    _rewrite(tree.body, parsed, names, local)


def _rewrite(body: list[gast.stmt], parsed: Parsed, names: Names, local: set[str]) -> None:
    out: list[gast.stmt] = []
    for s in body:
        for field in STATEMENT_FIELDS:
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                _rewrite(inner, parsed, names, local)
        for handler in getattr(s, "handlers", None) or ():
            _rewrite(handler.body, parsed, names, local)
        count = _sgd_step(s, parsed, local)
        out.extend([s] if count is None else _update(s, count, parsed, names))
    body[:] = out


def _sgd_step(s: gast.stmt, parsed: Parsed, local: set[str]) -> int | None:
    """The number of parameters of the SGD optimizer whose ``step()`` statement ``s`` is
    (None where it is not one)."""
    if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)):
        return None
    c = s.value
    f = c.func
    if c.args or c.keywords or not (isinstance(f, gast.Attribute) and f.attr == "step"):
        return None
    if not isinstance(f.value, gast.Name) or f.value.id in local:
        return None
    found, obj = parsed.resolve(f.value.id)
    if not found or type(obj) is not Host.sgd[0]:
        return None
    groups = obj.param_groups
    if len(groups) != 1 or not groups[0]["params"]:
        return None
    return len(groups[0]["params"])


def _update(s: gast.Expr, count: int, parsed: Parsed, names: Names) -> list[gast.stmt]:
    """``s`` (``opt.step()``) as the update of its ``count`` parameters, or ``s`` itself
    where ``rt.sgd_arrays`` finds the optimizer is not that update now."""
    holder = s.value.func.value.id
    arrays = names.fresh("step")
    alpha = names.reserve("alpha")
    params = [names.reserve(n) for n in _param_names(parsed, holder, count)]
    grads = [names.reserve(f"{p}_grad") for p in params]
    targets = [alpha, *(n for pair in zip(params, grads, strict=True) for n in pair)]
    unpack = gast.Assign(
        targets=[gast.Tuple(elts=[name(n, store=True) for n in targets], ctx=gast.Store())],
        value=name(arrays),
        type_comment=None,
    )
    updates = [
        gast.Expr(value=call(attr("rt", "descend"), name(p), name(g), name(alpha)))
        for p, g in zip(params, grads, strict=True)
    ]
    check = gast.Compare(left=name(arrays), ops=[gast.Is()], comparators=[const(None)])
    branch = gast.If(test=check, body=[s], orelse=[unpack, *updates])
    ask = assign(arrays, call(attr("rt", "sgd_arrays"), name(holder), const(count)))
    statements = [ask, branch]
    for st in statements:
        for node in walk(st):
            if isinstance(node, (gast.stmt, gast.expr)) and not hasattr(node, "lineno"):
                node.lineno = s.lineno
    return statements


def _param_names(parsed: Parsed, holder: str, count: int) -> list[str]:
    """Names for the optimizer's parameters: each one's own name in a module the function
    reads through a free name (``weight``, ``bias``), else ``p1``, ``p2``, ..."""
    fn = parsed.fn
    optimizer: Any = parsed.resolve(holder)[1]
    params = optimizer.param_groups[0]["params"]
    known: dict[int, str] = {}
    roots = [*fn.__code__.co_freevars, *fn.__code__.co_names]
    for root in roots:
        found, obj = parsed.resolve(root)
        own = found and isinstance(obj, Host.modules)  # (srcdiff's method: no user code runs)
        if own and all(type(obj).named_parameters is m.named_parameters for m in Host.modules):
            for dotted, p in obj.named_parameters():
                known.setdefault(id(p), dotted.rsplit(".", 1)[-1])
    chosen = [known.get(id(p), f"p{i + 1}") for i, p in enumerate(params[:count])]
    return [n if n.isidentifier() and not iskeyword(n) and chosen.count(n) == 1 else f"p{i + 1}"
            for i, n in enumerate(chosen)]  # fmt: skip
