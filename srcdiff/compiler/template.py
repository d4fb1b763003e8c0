"""Inlining a rule's body into generated source.

A built-in rule ``tanh(g, ans, x): return g * (1.0 - ans * ans)`` becomes, for the
statement ``h = np.tanh(t1)``, the expression ``d_h * (1.0 - h * h)``: its parameters
are replaced by the statement's atoms and its own temporaries by fresh names.
"""

from __future__ import annotations

import copy
import inspect
import textwrap
from dataclasses import dataclass
from functools import cache
from typing import Any

import gast

from ..rules.registry import Rule
from .normalize import Names, assign, clone, const, is_rt_call, make, name, walk


@dataclass
class Expansion:
    """The statements a rule needs first, then one gradient expression per operand."""

    prelude: list[gast.stmt]
    components: list[gast.expr | None]


@cache
def _template(fn: Any) -> gast.FunctionDef:
    source = textwrap.dedent(inspect.getsource(fn))
    tree = gast.parse(source).body[0]
    tree.decorator_list = []
    first = tree.body[0]
    if (
        isinstance(first, gast.Expr)
        and isinstance(first.value, gast.Constant)
        and isinstance(first.value.value, str)
        and len(tree.body) > 1
    ):
        tree.body = tree.body[1:]  # the docstring is for readers of the rule, not the adjoint
    returns = [n for n in walk(tree) if isinstance(n, gast.Return)]
    if returns != tree.body[-1:]:  # inlined, an early return would leave the generated code
        raise TypeError(f"rule {fn.__qualname__} must return once, as its last statement")
    return tree


def instantiate(node: Any, mapping: dict[str, Any], fold: bool = True) -> Any:
    """A copy of a template's ``node`` (a tree, or a list of them) with the names of
    ``mapping`` replaced: by a fresh name where it maps to a string, by a copy of the
    expression it maps to otherwise. ``fold``: ``axis is None`` of a literal ``axis`` is
    the answer, known now (written out, ``(0, 2) is None`` is a SyntaxWarning), and an
    ``x if c else y`` (or an ``if c:`` statement) of a known ``c`` the branch it picks.
    One pass, as ``clone`` copies: rules are expanded at every statement the adjoint
    differentiates."""
    if type(node) is list:
        out = []
        for x in node:
            new = instantiate(x, mapping, fold)
            if fold and type(new) is gast.If and _known(new.test):  # the branch it takes
                out += new.body if new.test.value else new.orelse
            else:
                out.append(new)
        return out
    if not isinstance(node, gast.AST):
        return node
    cls = type(node)
    if cls is gast.Name and node.id in mapping:
        new = mapping[node.id]
        if isinstance(new, str):
            return make(gast.Name, id=new, ctx=clone(node.ctx), annotation=None, type_comment=None)
        return instantiate(new, _NOTHING, fold)  # (its names are the caller's, kept)
    new = cls.__new__(cls)
    new.__dict__.update(node.__dict__)
    if "facts" in new.__dict__:  # the copy's facts are its own (as ``clone``'s)
        new.facts = new.facts.copy()
    if not cls._fields:  # a context or an operator: nothing in it to copy
        return new
    for f in node._fields:
        value = getattr(node, f, None)
        if type(value) is list:
            setattr(new, f, [instantiate(x, mapping, fold) for x in value])
        elif isinstance(value, gast.AST):
            setattr(new, f, instantiate(value, mapping, fold))
    if not fold:
        return new
    if (
        cls is gast.Compare
        and len(new.ops) == 1
        and isinstance(new.ops[0], (gast.Is, gast.IsNot))
        and _is_none(new.comparators[0])
        and _literal(new.left)
    ):
        same = _is_none(new.left)
        return const(same if isinstance(new.ops[0], gast.Is) else not same)
    if cls is gast.IfExp and _known(new.test):
        return new.body if new.test.value else new.orelse
    return new


def _known(test: gast.expr) -> bool:
    """A test whose answer is known now: a literal True or False."""
    return isinstance(test, gast.Constant) and isinstance(test.value, bool)


_NOTHING: dict[str, Any] = {}


def _is_none(e: gast.expr) -> bool:
    return isinstance(e, gast.Constant) and e.value is None


def _literal(e: gast.expr) -> bool:
    """A constant, or a tuple of them: a value whose identity with None is known now."""
    if isinstance(e, gast.Tuple):
        return all(map(_literal, e.elts))
    return isinstance(e, gast.Constant)


@cache
def _template_locals(fn: Any) -> tuple[str, ...]:
    """The names a rule's body assigns (its temporaries), sorted."""
    return tuple(sorted(_locals_of(_template(fn).body)))


def _locals_of(body: list[gast.stmt]) -> set[str]:
    return {
        n.id
        for s in body
        for n in walk(s)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    }


def expand(
    rule: Rule,
    g: gast.expr,
    ans: gast.expr,
    bound: dict[str, gast.expr],
    operands: list[gast.expr],
    names: Names,
    same_shape: frozenset[int] = frozenset(),
    numbers: frozenset[int] = frozenset(),
    repeats: bool = False,
) -> Expansion:
    """The rule's body with ``g``, ``ans`` and the parameters substituted (``same_shape``:
    the positions of operands known to have the result's shape; ``numbers``: of globals
    holding numbers; ``repeats``: the primitive is Python's ``*``, which repeats a list)."""
    tree = _template(rule.fn)
    g_param, ans_param = [a.id for a in tree.args.args[:2]]
    mapping: dict[str, Any] = {g_param: g, ans_param: ans}
    mapping.update(bound)
    for local in _template_locals(rule.fn):
        mapping[local] = names.fresh(local.strip("_") or "t")
    body = instantiate(tree.body, mapping)
    *prelude, ret = body
    if not isinstance(ret, gast.Return):
        raise TypeError(f"rule {rule.name} must end with a return")
    n = len(operands)
    value = ret.value
    if isinstance(value, gast.Tuple) and value.elts and isinstance(value.elts[-1], gast.Starred):
        # ``(d_a, *d_rest)``: a gradient for each argument of ``*args`` after the named ones
        rest = value.elts[-1].value
        if not isinstance(rest, gast.Name):
            temp = names.fresh("r")
            prelude.append(assign(temp, rest))
            rest = name(temp)
        components = list(value.elts[:-1]) + [
            gast.Subscript(value=name(rest.id), slice=const(i), ctx=gast.Load())
            for i in range(n - len(value.elts) + 1)
        ]
    elif isinstance(value, gast.Tuple):
        components = list(value.elts)
    elif rule.params:
        components = [value] + [None] * (n - 1)
    else:
        if not isinstance(value, gast.Name):
            temp = names.fresh("r")
            prelude.append(assign(temp, value))
            value = name(temp)
        components = [
            gast.Subscript(value=name(value.id), slice=const(i), ctx=gast.Load()) for i in range(n)
        ]
    components = [
        None if isinstance(c, gast.Constant) and c.value is None else c for c in components
    ]
    if len(components) != n:
        raise TypeError(f"rule {rule.name} returned {len(components)} gradients for {n} arguments")
    valued = {j for j, c in enumerate(components) if c is not None}
    return Expansion(
        prelude,
        [
            _drop_unbroadcast(c, i, operands, same_shape, numbers, valued, repeats)
            for i, c in enumerate(components)
        ],
    )


def call_rule(
    fn_name: str,
    rule: Rule,
    g: gast.expr,
    ans: gast.expr,
    operands: list[gast.expr],
    names: Names,
    keywords: list[gast.keyword] = (),
) -> Expansion:
    """A rule called by name (a user's): ``r = cube_vjp(d_y, y, x)``, with its
    keyword-only parameters by keyword, and the call's other keywords where the rule
    takes them (``**kwargs``). It gives a gradient for each argument it takes by position
    (its ``*args`` too); a keyword-only one's component is None."""
    npos, arity = rule.npositional, rule.arity
    positional = list(operands[:npos]) + list(operands[arity:])
    by_keyword = [
        gast.keyword(arg=rule.params[j], value=copy.deepcopy(operands[j]))
        for j in range(npos, min(arity, len(operands)))
    ]
    temp = names.fresh("r")
    call = gast.Call(
        func=name(fn_name),
        args=[g, ans] + positional,
        keywords=by_keyword + copy.deepcopy(list(keywords)),
    )
    check = gast.Call(  # one gradient per argument, each of its shape
        func=gast.Attribute(value=name("rt"), attr="check_rule_grads", ctx=gast.Load()),
        args=[name(temp), gast.Tuple(elts=copy.deepcopy(positional), ctx=gast.Load()),
              const(fn_name)],
        keywords=[],
    )  # fmt: skip
    prelude = [assign(temp, call), gast.Expr(value=check)]
    if len(positional) == 1:
        given = iter([name(temp)])
    else:
        given = iter(
            gast.Subscript(value=name(temp), slice=const(i), ctx=gast.Load())
            for i in range(len(positional))
        )
    # (None, "no gradient", is made a zero of its argument's shape: the adjoint of what
    # made the argument may go on into another rule)
    return Expansion(
        prelude,
        [
            None
            if npos <= j < arity
            else gast.Call(
                func=gast.Attribute(value=name("rt"), attr="rule_grad", ctx=gast.Load()),
                args=[next(given), copy.deepcopy(operands[j])],
                keywords=[],
            )
            for j in range(len(operands))
        ],
    )


def _drop_unbroadcast(
    c: gast.expr | None,
    i: int,
    operands: list[gast.expr],
    same_shape: frozenset[int],
    numbers: frozenset[int],
    valued: set[int],
    repeats: bool = False,
) -> Any:
    """``rt.unbroadcast(e, x)`` is ``e`` when ``x`` has the result's shape (see
    ``shapes``), or every other operand is a number (a constant, or a global holding a
    Python number) the rule gives a gradient (``valued``: an operand of the arithmetic,
    not a size). For ``*`` (``repeats``) the number must be a float constant: ``xs * 2``
    of a list or tuple a callee gave repeats it, which ``rt.unbroadcast`` refuses."""
    if c is None or not is_rt_call(c, "unbroadcast"):
        return c
    x = c.args[1]
    if i in same_shape and isinstance(x, gast.Name) and x.id == operands[i].id:
        return c.args[0]
    others = [j for j in range(len(operands)) if j != i]
    if (  # (values the result broadcasts, each given a gradient: not a shape, ``expand``'s)
        others
        and set(others) <= valued
        and all(
            isinstance(operands[j], gast.Constant)
            and not (repeats and isinstance(operands[j].value, int))
            or j in numbers
            and not repeats
            for j in others
        )
    ):
        return c.args[0]
    return c
