"""Forward mode: the tangent back end.

Over the same analysed, normalized function as the adjoint, it writes one function that
computes the primal and, after each statement, the tangent of what the statement
assigned (``d_h`` beside ``h``). Nothing is saved and no path is recorded: branches and
loops stay as they are written, and a call takes whichever way it goes::

    def loss_tangent(w, x, d_w):
        # line 2: h = np.tanh(x @ w)
        t1 = x @ w
        d_t1 = x @ d_w
        h = np.tanh(t1)
        d_h = d_t1 * (1.0 - h * h)
        ...
        return t5, d_t5

A statement's tangent comes from its primitive's forward rule (``@jvp``, beside its
``@vjp``), or, for a primitive declared linear (``registry.linear``: reshapes, sums,
indexing, list displays), from the statement itself with its operands' tangents in
their place. Every name that may carry a derivative has its tangent wherever it has a
value: zero where a statement gives it one that carries none. What has no forward rule
is a CompileError.
"""

from __future__ import annotations

import copy

import gast
import numpy as np

from .. import runtime as rt_module
from ..rules import registry
from .analyse import describe, iterates, sequence_rule
from .ir import (
    Analysis,
    Block,
    Branch,
    Kind,
    LoopKind,
    NoGradBlock,
    Op,
    Repeat,
    Step,
    StepKind,
    TryBlock,
    Visitor,
    facts,
    leaves_finally,
    mark,
)
from .normalize import (
    Names,
    assign,
    const,
    index_value,
    is_rt_call,
    name,
    params_of,
    rebuild_blocks,
    walk,
)
from .optimize import folded
from .template import _locals_of, _template, instantiate
from .trace import (
    at,
    attr,
    call,
    checks_after,
    functional_write_call,
    may_catch_internal,
    run_time_checks,
)


class TangentBuilder(Visitor[list[gast.stmt]]):
    """Builds the tangent function, a node of the program's IR at a time."""

    def __init__(self, analysis: Analysis, names: Names, rule_names: dict):
        self.a = analysis
        self.names = names
        self.rule_names = rule_names  # users' rules, called by these names
        self.dnames: dict[str, str] = {}
        # inside a try's body with except clauses, a flag is up while tangents run, so
        # that a clause can tell an exception of theirs from one of the values'
        self.trying = 0
        self.flag: str | None = None

    def dname(self, n: str) -> str:
        if n not in self.dnames:
            self.dnames[n] = self.names.reserve(f"d_{n}")
        return self.dnames[n]

    def active(self, e: gast.expr) -> bool:
        return isinstance(e, gast.Name) and e.id in self.a.active

    def error(self, node: gast.AST, what: str, hint: str) -> Exception:
        return self.a.parsed.error(what, node, hint)

    def build(self, fn_name: str, wrt: list[str]) -> gast.FunctionDef:
        fn = self.a.fn
        args = copy.deepcopy(fn.args)
        for p in wrt:  # keyword-only, after the parameters (and their defaults)
            args.kwonlyargs.append(gast.Name(id=self.dname(p), ctx=gast.Param(),
                                             annotation=None, type_comment=None))  # fmt: skip
            args.kw_defaults.append(None)
        body: list[gast.stmt] = []
        for p in params_of(fn):  # differentiated parameters not asked about: zero tangents
            if p in self.a.active and p not in wrt:
                body.append(at(self.zero(p), fn.lineno))
        body += self.block(self.a.program)
        tree = gast.FunctionDef(name=fn_name, args=args, body=body, decorator_list=[],
                                returns=None, type_comment=None, type_params=[])  # fmt: skip
        return at(tree, fn.lineno)

    def block(self, nodes: Block) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for node in nodes:
            out += self.visit(node)
        return out

    def on_branch(self, node: Branch) -> list[gast.stmt]:
        new = gast.If(test=node.test, body=self.block(node.body) or [gast.Pass()],
                      orelse=self.block(node.orelse))  # fmt: skip
        return [at(new, node.line)]

    def on_repeat(self, node: Repeat) -> list[gast.stmt]:
        if node.kind is LoopKind.WHILE:
            return [at(gast.While(test=node.test, body=self.block(node.body), orelse=[]),
                       node.line)]  # fmt: skip
        if isinstance(node.target, gast.Name) and node.target.id in self.a.active:
            raise self.error(node.stmt, "forward mode over the items of a differentiated value",
                             "loop over range(len(xs)) and index: xs[i]")  # fmt: skip
        new = gast.For(target=node.target, iter=node.iter, body=self.block(node.body),
                       orelse=[], type_comment=None)  # fmt: skip
        return [at(new, node.line)]

    def on_no_grad(self, node: NoGradBlock) -> list[gast.stmt]:
        return [node.stmt]  # run as written

    def on_step(self, node: Step) -> list[gast.stmt]:
        s, op, line = node.stmt, node.op, node.line
        if node.kind is StepKind.RETURN:
            value = s.value
            tangent = self.tangent_or_zeros(value)
            pair = gast.Tuple(elts=[value, tangent], ctx=gast.Load())
            return [at(gast.Return(value=pair), line)]
        if node.kind is StepKind.EXPR and op is not None and op.kind is Kind.CALL:
            # a call made for what it changes: through its own tangent source, which
            # refuses what forward mode cannot follow (a list's append, a global)
            return [at(gast.Expr(value=self.call_value(op)), line)]
        assigns = node.kind is StepKind.ASSIGN
        if op is not None and not assigns and op.kind not in (Kind.PASSIVE,):
            raise self.error(s, f"forward mode does not support this statement yet ({op.kind})",
                             "use sd.grad (reverse mode) for this function")  # fmt: skip
        if op is None or not assigns:
            return [s]
        primal = [at(p, line) for p in run_time_checks(op) + self.primal(s, op) + checks_after(op)]
        tangent = [at(folded(t), line) for t in self.tangent(s, op)]
        for inner in (n for t in tangent for n in walk(t)):  # a rule's if ...: raise
            if isinstance(inner, gast.stmt):
                inner.lineno = line
        for t in tangent if self.trying else ():
            mark(t, guarded=True)  # see flag_tangents
        if facts(s).put_back:  # its tangent reads the holder as it was
            return tangent + primal
        return primal + tangent

    def on_try(self, node: TryBlock) -> list[gast.stmt]:
        """A try as written, each tangent beside its primal statement: an exception leaves
        the body where the primal raised it, with the tangents of what ran before. Every
        except clause first refuses what a callee's partial in-place update makes unsound,
        and an exception of a tangent's (``rt.handled_in_forward_mode``: the flag
        ``_in_tangent`` is up while the body's tangents run); it is preceded by one that
        lets srcdiff's own errors through (``rt.INTERNAL``) where it could catch them, as
        in the traced primal. A finally block marks an exception a tangent raised, for the
        clauses further out, and refuses one it would drop (``rt.finally_in_forward_mode``)."""
        leaves = leaves_finally(node.finalbody)
        line = node.line
        if not (node.handlers or leaves or self.trying and node.finalbody):  # no flag to mind
            body = self.block(node.body) or [gast.Pass()]
            orelse, finalbody = self.block(node.orelse), self.block(node.finalbody)
            return [at(gast.Try(body=body, handlers=[], orelse=orelse, finalbody=finalbody), line)]
        if self.flag is None:
            self.flag = self.names.reserve("_in_tangent")
        self.trying += 1
        body = self.block(node.body) or [gast.Pass()]
        self.trying -= 1
        handlers = []
        if node.handlers and may_catch_internal(self.a, [c.handler for c in node.handlers]):
            reraise = at(gast.Raise(exc=None, cause=None), line)
            guard = gast.ExceptHandler(type=attr("rt", "INTERNAL"), name=None, body=[reraise])
            handlers.append(at(guard, line))
        self.trying += leaves  # what the finally block drops by leaving it: flagged too
        for c in node.handlers:
            check = call(attr("rt", "handled_in_forward_mode"), name(self.flag))
            clause = [at(gast.Expr(value=check), c.line), *self.block(c.body)]
            handlers.append(at(gast.ExceptHandler(type=c.type, name=c.handler.name, body=clause),
                               c.line))  # fmt: skip
        orelse = self.block(node.orelse)
        self.trying -= leaves
        finalbody = self.block(node.finalbody)
        if finalbody:
            check = call(attr("rt", "finally_in_forward_mode"), name(self.flag), const(leaves))
            lowered = assign(self.flag, const(False))
            finalbody = [at(gast.Expr(value=check), line), at(lowered, line), *finalbody]
        new = gast.Try(body=body, handlers=handlers, orelse=orelse, finalbody=finalbody)
        return [at(assign(self.flag, const(False)), line), at(new, line)]

    def primal(self, s: gast.Assign, op: Op) -> list[gast.stmt]:
        """The statement as the traced primal runs it: a write into an object the caller
        or a saved value may hold gives it a new value (``rt.setitem``); the user's own
        append stays in place (see ``trace.PrimalBuilder.assignment``)."""
        target = s.targets[0]
        if op.kind is Kind.CALL and isinstance(target, gast.Name):
            return [self.call(op, target.id)]
        if op.kind is Kind.CALL and isinstance(target, gast.Attribute):  # a property's
            return [self.call(op, op.target)]  # setter, the object taken back (see analyse)
        if self.forward_of_forward(s, op):
            return self.call_of_forward(s, op, target.id)
        if op.kind is Kind.RULE and op.primitive is rt_module.put_back:
            return [assign(op.target, call(attr("rt", "put_back"), *op.operands))]
        if op.kind is Kind.RULE and op.primitive is rt_module.setitem:
            return [assign(op.target, functional_write_call(s, list(op.operands)))]
        if facts(s).functional and isinstance(target, gast.Subscript):
            index = index_value(copy.deepcopy(target.slice))
            write = functional_write_call(s, [target.value, index, s.value])
            return [assign(target.value.id, write)]
        if op.kind is Kind.PASSIVE and is_rt_call(s.value, "appended") and not facts(s).functional:
            xs, v = s.value.args
            append = gast.Attribute(value=xs, attr="append", ctx=gast.Load())
            return [gast.Expr(value=gast.Call(func=append, args=[v], keywords=[])),
                    assign(op.target, xs)]  # fmt: skip
        return [s]

    def call(self, op: Op, n: str) -> gast.stmt:
        """``t, d_t = rt.call_jvp(f, (d_x, None), x, k)``: a call of another function (or
        callable), its value and tangent from its own tangent source, compiled when the
        call runs."""
        value = self.call_value(op)
        targets = gast.Tuple(elts=[name(n, store=True), name(self.dname(n), store=True)],
                             ctx=gast.Store())  # fmt: skip
        return gast.Assign(targets=[targets], value=value, type_comment=None)

    def call_value(self, op: Op) -> gast.Call:
        """``rt.call_jvp(f, (d_x, None), x, k)``; with keywords, each an argument too, so
        that the call can be differentiated again: ``rt.call_jvp_keywords(f, (d_x,
        d_w), ("w",), x, w)``; with ``*xs`` or ``**kw``, ``rt.call_jvp_star`` (``**kw``
        named None there)."""
        stars = [isinstance(a, gast.Starred) for a in op.operands]
        operands = [a.value if s else a for a, s in zip(op.operands, stars, strict=True)]
        values = [*operands, *(k.value for k in op.keywords)]
        tangents = gast.Tuple(elts=[name(self.dname(e.id)) if self.active(e) else
                                    gast.Constant(value=None, kind=None)
                                    for e in values], ctx=gast.Load())  # fmt: skip
        names = gast.Tuple(elts=[gast.Constant(value=k.arg, kind=None) for k in op.keywords],
                           ctx=gast.Load())  # fmt: skip
        if any(stars) or any(k.arg is None for k in op.keywords):
            # f(x, *xs, **kw): each starred operand passed whole, with its tangent
            flags = gast.Tuple(elts=[gast.Constant(value=s, kind=None) for s in stars],
                               ctx=gast.Load())  # fmt: skip
            return call(attr("rt", "call_jvp_star"), op.callee, tangents, flags, names, *values)
        if not op.keywords:
            return call(attr("rt", "call_jvp"), op.callee, tangents, *op.operands)
        return call(attr("rt", "call_jvp_keywords"), op.callee, tangents, names, *values)

    def forward_of_forward(self, s: gast.Assign, op: Op) -> bool:
        """Whether ``s`` runs a function in forward mode (``rt.call_jvp`` and its variants
        in forward-mode source differentiated again, ``sd.jvp(f, primals, tangents)``:
        ``registry.forward_call``) with an operand that has a tangent here."""
        if op.kind is not Kind.RULE or registry.forward_call_layout(op.primitive) is None:
            return False
        target = s.targets[0]
        if not isinstance(target, gast.Name) or target.id not in self.a.active:
            return False
        if isinstance(s.value, gast.Call) and s.value.keywords:  # (never written so)
            return False
        if registry.forward_call_layout(op.primitive) == "jvp" and self.active(op.operands[0]):
            return True  # (sd.jvp of a lambda reading values that have a tangent)
        return any(self.active(e) for e in op.operands[1:])

    def call_of_forward(self, s: gast.Assign, op: Op, n: str) -> list[gast.stmt]:
        """The forward mode of ``t = rt.call_jvp(f, (d_x,), x)``, a call in forward-mode
        source: that call is one of a function of source (``rt.forward_of``: it calls
        ``f``'s own forward-mode program) of the tangents and the arguments, taken in
        forward mode as any call is::

            forward1 = rt.forward_of(f, (d_x,), None, (), x)
            t, d_t = rt.call_jvp(forward1, (d_d_x, d_x_1), (d_x,), x)

        so that its derivatives, of any order, are those of calls again. ``sd.jvp(f,
        primals, tangents)`` is ``rt.call_jvp_star(f, (tangents,), (True,), (), primals)``."""
        layout = registry.forward_call_layout(op.primitive)
        fn = op.operands[0]
        if self.active(fn) and layout == "jvp":  # a lambda reading values with a tangent
            return self.jvp_of_active(op, n)
        if self.active(fn):
            raise self.error(
                s,
                "a derivative of a derivative through a call of a function that carries a "
                "derivative itself (a method of a differentiated object, or a function made "
                "from differentiated values)",
                "pass the object's values to a plain function as arguments, or use sd.hvp "
                "(reverse mode over forward mode)",
            )
        none = gast.Constant(value=None, kind=None)
        if layout == "jvp":  # sd.jvp(f, primals, tangents)
            primals, tangents = op.operands[1:3]
            inner = gast.Tuple(elts=[copy.deepcopy(tangents)], ctx=gast.Load())
            stars = gast.Tuple(elts=[gast.Constant(value=True, kind=None)], ctx=gast.Load())
            names = gast.Tuple(elts=[], ctx=gast.Load())
            values = [primals]
            d_inner = (gast.Tuple(elts=[name(self.dname(tangents.id))], ctx=gast.Load())
                       if self.active(tangents) else none)  # fmt: skip
        else:
            skip = {"call_jvp": 2, "call_jvp_keywords": 3, "call_jvp_star": 4}[layout]
            inner, values = op.operands[1], list(op.operands[skip:])
            stars = op.operands[2] if layout == "call_jvp_star" else none
            if layout == "call_jvp":
                names = gast.Tuple(elts=[], ctx=gast.Load())
            else:
                names = op.operands[skip - 1]
            d_inner = name(self.dname(inner.id)) if self.active(inner) else none
        callee = self.names.fresh("forward")
        made = call(attr("rt", "forward_of"), fn, inner, stars, names, *values)
        d_values = [name(self.dname(e.id)) if self.active(e) else copy.deepcopy(none)
                    for e in values]  # fmt: skip
        tangent_of = gast.Tuple(elts=[d_inner, *d_values], ctx=gast.Load())
        both = call(attr("rt", "call_jvp"), name(callee), tangent_of, copy.deepcopy(inner),
                    *values)  # fmt: skip
        targets = gast.Tuple(elts=[name(n, store=True), name(self.dname(n), store=True)],
                             ctx=gast.Store())  # fmt: skip
        pair = gast.Assign(targets=[targets], value=both, type_comment=None)
        return [assign(callee, made), pair]

    def jvp_of_active(self, op: Op, n: str) -> list[gast.stmt]:
        """The forward mode of ``sd.jvp(f, primals, tangents)`` where ``f`` has a tangent (a
        lambda or partial reading values that have one): the call ``f(*primals)`` along
        ``tangents`` as a call of ``f``'s ``__call__`` (``rt.method``: a partial's is
        ``PARTIAL_CALL``) given ``f`` first, with no tangent of its own there, so that
        ``rt.forward_of`` spreads the partial's values out as arguments with theirs::

            called = rt.method(f, '__call__')
            inner = (None, tangents)
            forward1 = rt.forward_of(called, inner, (False, True), (), f, primals)
            t, d_t = rt.call_jvp(forward1, ((None, d_tangents), d_f, d_primals), inner, f,
                                 primals)
        """
        fn, primals, tangents = op.operands[:3]
        none = gast.Constant(value=None, kind=None)
        called, inner = self.names.fresh("called"), self.names.fresh("inner")
        stars = gast.Tuple(elts=[const(False), const(True)], ctx=gast.Load())
        callee = self.names.fresh("forward")
        made = call(attr("rt", "forward_of"), name(called), name(inner), stars,
                    gast.Tuple(elts=[], ctx=gast.Load()), copy.deepcopy(fn),
                    copy.deepcopy(primals))  # fmt: skip
        d_inner = (gast.Tuple(elts=[copy.deepcopy(none), name(self.dname(tangents.id))],
                              ctx=gast.Load())
                   if self.active(tangents) else copy.deepcopy(none))  # fmt: skip
        d_primals = name(self.dname(primals.id)) if self.active(primals) else copy.deepcopy(none)
        tangent_of = gast.Tuple(elts=[d_inner, name(self.dname(fn.id)), d_primals],
                                ctx=gast.Load())  # fmt: skip
        both = call(attr("rt", "call_jvp"), name(callee), tangent_of, name(inner),
                    copy.deepcopy(fn), copy.deepcopy(primals))  # fmt: skip
        targets = gast.Tuple(elts=[name(n, store=True), name(self.dname(n), store=True)],
                             ctx=gast.Store())  # fmt: skip
        return [
            assign(called, call(attr("rt", "method"), copy.deepcopy(fn), const("__call__"))),
            assign(inner, gast.Tuple(elts=[none, copy.deepcopy(tangents)], ctx=gast.Load())),
            assign(callee, made),
            gast.Assign(targets=[targets], value=both, type_comment=None),
        ]

    def zeros(self, e: gast.expr) -> gast.expr:
        return call(attr("rt", "zero_tangent"), e)

    def tangent_or_zeros(self, e: gast.expr) -> gast.expr:
        return name(self.dname(e.id)) if self.active(e) else self.zeros(e)

    def zero(self, n: str) -> gast.stmt:
        return assign(self.dname(n), self.zeros(name(n)))

    def tangent(self, s: gast.Assign, op: Op) -> list[gast.stmt]:
        """The statements giving the tangent of what ``s`` assigned."""
        target = s.targets[0]
        if isinstance(target, gast.Subscript):  # x[i] = v: the same write into d_x
            holder = target.value.id
            if holder not in self.a.active:
                return []
            value = self.tangent_or_zeros(s.value)
            index = index_value(copy.deepcopy(target.slice))
            d = name(self.dname(holder))  # written as a new value: tangents may be shared
            if facts(s).put_back:
                update = call(attr("rt", "put_back_tangent"), d, target.value, index, value)
            else:
                update = call(attr("rt", "setitem"), d, index, value)
            return [assign(self.dname(holder), update)]
        if isinstance(target, gast.Attribute) and op.primitive is rt_module.set_field:
            holder = target.value.id  # o.x = v on an object the function made: see analyse
            if holder not in self.a.active:
                return []
            value = self.tangent_or_zeros(s.value)
            update = call(attr("rt", "set_field"), name(self.dname(holder)), const(target.attr),
                          value)  # fmt: skip
            return [assign(self.dname(holder), update)]
        if not isinstance(target, gast.Name) or target.id not in self.a.active:
            return []
        n = target.id
        if op.kind is Kind.COPY and self.active(s.value):
            return [assign(self.dname(n), name(self.dname(s.value.id)))]
        if op.kind is Kind.CALL or self.forward_of_forward(s, op):
            return []  # computed with the value (see ``primal``)
        if op.kind is Kind.RULE and op.dtype_at_run_time:  # zero for an integer result
            carried = call(attr("rt", "carried"), name(self.dname(n)), name(n))
            return [*self.rule(s, op, n), assign(self.dname(n), carried)]
        if op.kind is Kind.RULE:
            return self.rule(s, op, n)
        if op.kind in (Kind.PASSIVE, Kind.OVERWRITE, Kind.COPY):
            return [self.zero(n)]
        raise self.error(s, f"forward mode does not support this statement yet ({op.kind})",
                         "use sd.grad (reverse mode) for this function")  # fmt: skip

    @staticmethod
    def binding(op: Op) -> dict[str, gast.expr]:
        """The rule's parameters and the statement's atoms (an operator's, by position)."""
        if op.rule is None:
            return op.bound
        return {**dict(zip(op.rule.params, op.operands, strict=False)), **op.bound}

    def rule(self, s: gast.Assign, op: Op, n: str) -> list[gast.stmt]:
        primitive = op.primitive
        joined = sequence_rule(primitive)
        if joined is not None and op.rule is registry.lookup(joined):
            primitive = joined  # a list's or tuple's + and *: joined or repeated, not added
        constant = registry.constant_positions(primitive)
        active = [i for i, e in enumerate(op.operands) if self.active(e) and i not in constant]
        if not active:
            return [self.zero(n)]
        if op.primitive is rt_module.follow:  # a selection of one of the two tangents
            m, old, new = op.operands[:3]
            tangents = [self.tangent_or_zeros(e) for e in (m, new)]
            value = call(attr("rt", "follow_tangent"), tangents[0], m, old, tangents[1])
            return [assign(self.dname(n), value)]
        if op.primitive is rt_module.put_back:  # in forward-mode source: as a write is
            holder, key, new = op.operands[:3]
            value = call(attr("rt", "put_back_tangent"), self.tangent_or_zeros(holder), holder,
                         key, self.tangent_or_zeros(new))  # fmt: skip
            return [assign(self.dname(n), value)]
        positions = registry.linear_positions(primitive)
        if positions == "all":
            positions = tuple(range(len(op.operands)))
        if positions is not None and set(active) <= set(positions):
            value = self.linear(s.value, op, positions, facts(s).dictless)
            return [assign(self.dname(n), value)]
        each = registry.multilinear_positions(primitive)
        if each == "all":
            each = tuple(range(len(op.operands)))
        if each is not None and set(active) <= set(each):
            return [assign(self.dname(n), self.multilinear(s.value, op, active))]
        forward = registry.lookup_jvp(primitive)
        if op.rule is not None and op.rule is registry.lookup(np.square):
            forward = registry.lookup_jvp(np.square)  # v * v, analysed as np.square(v)
        if forward is None and (refusal := registry.forward_refusal(primitive)):
            raise self.error(s, *refusal)
        if forward is None:
            raise self.error(
                s,
                f"no forward rule for {describe(primitive)}",
                "use sd.grad (reverse mode), or register one with sd.register_jvp",
            )
        if not forward.inline:
            return [assign(self.dname(n), self.call_users(forward, op, n))]
        bound = self.binding(op)
        named = {id(e) for e in bound.values()}
        varargs = op.rule.varargs if op.rule is not None else None
        if varargs in forward.tangents and isinstance(bound.get(varargs), gast.Tuple):
            named |= {id(e) for e in bound[varargs].elts}  # its tangent: one per argument
        held = {id(op.operands[i]) for i in constant if i < len(op.operands)}
        if any(self.active(e) and id(e) not in named | held for e in op.operands):  # in *args
            raise self.error(
                s,
                f"no forward rule for the extra arguments of {describe(op.primitive)}",
                "use sd.grad (reverse mode)",
            )
        told = forward.tangents
        untold = [
            p for p, e in bound.items() if self.active(e) and id(e) not in held and p not in told
        ]
        if untold:  # the rule gives no tangent for an argument that has one
            raise self.error(
                s,
                f"no forward rule for the argument {untold[0]} of {describe(op.primitive)}",
                "use sd.grad (reverse mode), or pass a value without a derivative there",
            )
        return self.inline(forward, op, n)

    def linear(
        self, value: gast.expr, op: Op, positions: tuple[int, ...], dictless: bool = False
    ) -> gast.expr:
        """The statement's value with each operand in a linear position replaced by its
        tangent (a zero where it has none); ``dictless``: an operand it iterates surely
        is no dict."""
        replace: dict[int, gast.expr] = {}
        for i in positions:
            if i < len(op.operands):
                e = op.operands[i]
                replace[id(e)] = self.tangent_or_zeros(e)
                if i == 0 and iterates(op.primitive) and self.active(e) and not dictless:
                    # a dict iterated gives its keys, whose tangents are zeros (its
                    # tangent, a dict of its values' tangents, would give the keys)
                    replace[id(e)] = call(attr("rt", "keyless"), e, replace[id(e)])
        return _copy_replacing(value, replace)

    def multilinear(self, value: gast.expr, op: Op, active: list[int]) -> gast.expr:
        """The sum, over the operands with a tangent, of the statement's value with that
        operand replaced by its tangent (the others as they are)."""
        total = None
        for i in active:
            e = op.operands[i]
            term = _copy_replacing(value, {id(e): name(self.dname(e.id))})
            total = term if total is None else gast.BinOp(left=total, op=gast.Add(), right=term)
        return total

    def call_users(self, forward: registry.Tangent, op: Op, n: str) -> gast.expr:
        """``d_y = cube_jvp((d_x, None), y, x, k)``: a user's rule, called by name with
        one tangent per argument (None where it has none), the result, the arguments
        (the keyword ones by keyword, as the call passes them)."""
        fn_name = self.rule_names.get(forward.fn)
        if fn_name is None:
            fn_name = self.rule_names[forward.fn] = self.names.fresh(f"{forward.name}_rule")
        tangents = gast.Tuple(elts=[name(self.dname(e.id)) if self.active(e) else
                                    gast.Constant(value=None, kind=None)
                                    for e in op.operands], ctx=gast.Load())  # fmt: skip
        keywords = copy.deepcopy(op.keywords)
        return gast.Call(func=name(fn_name), args=[tangents, name(n), *op.operands],
                         keywords=keywords)  # fmt: skip

    def inline(self, forward: registry.Tangent, op: Op, n: str) -> list[gast.stmt]:
        """The forward rule's body, its contributions for the operands with a tangent
        summed."""
        tree = _template(forward.fn)
        params = [a.id for a in tree.args.args]
        bound = self.binding(op)
        missing = [p for p in params[1:] if p not in bound]
        if missing:
            raise TypeError(f"forward rule {forward.name}: no argument for {missing}")
        mapping: dict[str, object] = {params[0]: name(n)}
        mapping.update({p: bound[p] for p in params[1:]})
        varargs = op.rule.varargs if op.rule is not None else None
        if tree.args.vararg is not None and varargs in bound:  # the extra arguments, a tuple
            mapping[tree.args.vararg.id] = bound[varargs]
        for local in sorted(_locals_of(tree.body)):
            mapping[local] = self.names.fresh(local.strip("_") or "t")
        with_tangent = [p for p in forward.tangents if p in bound and self.active(bound[p])]
        for p in with_tangent:
            mapping[forward.keyword(p)] = name(self.dname(bound[p].id))
        extra = bound.get(varargs)
        if (
            varargs in forward.tangents
            and isinstance(extra, gast.Tuple)
            and any(self.active(e) for e in extra.elts)
        ):  # the tangent of *args: a tuple, one tangent per argument (None where none)
            with_tangent.append(varargs)
            mapping[forward.keyword(varargs)] = gast.Tuple(
                elts=[name(self.dname(e.id)) if self.active(e) else
                      gast.Constant(value=None, kind=None) for e in extra.elts],
                ctx=gast.Load())  # fmt: skip
        body = instantiate(tree.body, mapping, fold=False)
        *prelude, ret = body
        parts = ret.value.elts if isinstance(ret.value, gast.Tuple) else [ret.value]
        chosen = [part for p, part in zip(forward.tangents, parts, strict=True)
                  if p in with_tangent and not _is_none(part)]  # fmt: skip
        if not chosen:  # (a rule's None: that tangent contributes nothing)
            return [self.zero(n)]
        total = _merged_choice(chosen)
        if total is None:
            total = chosen[0]
            for part in chosen[1:]:
                total = _plus(total, part)
        actives = {i for i, e in enumerate(op.operands) if self.active(e)}
        shaped = forward.shaped or len(op.operands) == 1 or actives <= set(op.same_shape)
        if not shaped:  # a smaller operand's tangent, broadcast to the result's shape
            total = call(attr("rt", "broadcast_like"), total, name(n))
        return [*prelude, assign(self.dname(n), total)]


def _is_none(e: gast.expr) -> bool:
    return isinstance(e, gast.Constant) and e.value is None


def _merged_choice(parts: list[gast.expr]) -> gast.expr | None:
    """Several contributions ``rt.choice_tangent(..., diterable=a)``,
    ``rt.choice_tangent(..., dothers=b)`` of ``max``/``min`` as one call taking every
    tangent: the chosen candidate may be a list or a tuple, whose tangents ``+`` would
    join; None where the parts are not such calls."""
    if len(parts) < 2 or not all(is_rt_call(p, "choice_tangent") for p in parts):
        return None
    merged = copy.deepcopy(parts[0])
    given = {k.arg for k in merged.keywords}
    for part in parts[1:]:
        merged.keywords += [copy.deepcopy(k) for k in part.keywords if k.arg not in given]
        given |= {k.arg for k in part.keywords}
    return merged


def _plus(a: gast.expr, b: gast.expr) -> gast.expr:
    """``a + b`` of two contributions; of two list displays (the tangent of a tuple
    result, ``np.linalg.lstsq``'s), entry by entry."""
    lists = (gast.List, gast.Tuple)
    if isinstance(a, lists) and isinstance(b, lists) and len(a.elts) == len(b.elts):
        return gast.List(elts=[_plus(x, y) for x, y in zip(a.elts, b.elts, strict=True)],
                         ctx=gast.Load())  # fmt: skip
    return gast.BinOp(left=a, op=gast.Add(), right=b)


def _copy_replacing(node: object, replace: dict[int, gast.expr]) -> object:
    """A copy of ``node`` with the nodes whose ids ``replace`` has replaced."""
    if id(node) in replace:
        return copy.deepcopy(replace[id(node)])
    if isinstance(node, list):
        return [_copy_replacing(n, replace) for n in node]
    if not isinstance(node, gast.AST):
        return node
    new = type(node)(**{f: _copy_replacing(getattr(node, f), replace) for f in node._fields})
    return gast.copy_location(new, node)


def flag_tangents(fn: gast.FunctionDef) -> None:
    """Raise the function's flag around each run of tangent statements in a try's body
    (what is left of them once dead ones are dropped), so that an except clause can
    tell an exception a tangent raised from one of the values' (``rt.handled_in_forward_mode``)."""
    flag = facts(fn).flag
    if flag is None:
        return

    def block(body: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        raised = False  # the flag is up after the statements so far
        for s in body:
            rebuild_blocks(s, block)
            up = facts(s).guarded and not _cannot_raise(s)
            if up and not raised:
                out.append(at(assign(flag, const(True)), s.lineno))
            if not up and raised:
                out.append(at(assign(flag, const(False)), out[-1].lineno))
            out.append(s)
            raised = up
        if raised:
            out.append(at(assign(flag, const(False)), out[-1].lineno))
        return out

    fn.body = block(fn.body)


def _cannot_raise(s: gast.stmt) -> bool:
    """A copy of a name or a constant (``d_s = d_t4``): no flag needed around it."""
    return isinstance(s, gast.Assign) and isinstance(s.value, (gast.Name, gast.Constant))


def tangent(analysis: Analysis, names: Names, fn_name: str, wrt: list[str],
            rule_names: dict) -> tuple[gast.FunctionDef, list[str]]:  # fmt: skip
    """The tangent function of ``analysis.fn``: its parameters, then the tangents of
    ``wrt`` by keyword (their names returned too); it returns the value and its
    tangent."""
    builder = TangentBuilder(analysis, names, rule_names)
    tree = builder.build(fn_name, wrt)
    mark(tree, flag=builder.flag)
    return tree, [builder.dname(p) for p in wrt]
