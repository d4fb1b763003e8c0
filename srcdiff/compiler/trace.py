"""Stage 4: the traced primal.

The primal is the normalized function with three additions: it saves, in a dict keyed by
statement number, the values the adjoint will read (``_saved[3] = x, w``); it records the
path it takes (``_path.append(1)`` in a taken branch, one record per loop iteration, and
for a ``try`` which except clause caught what, raised where); and calls to other Python
functions go through ``rt.call``, which runs their own primal. Everything else is the
user's code, in the user's names.

Where an exception raised in a try's body is caught, the path says after which
statements it came: each normalized statement has a position (``pos``, in the order of
``walk_statements``), and in the body of a try with an except clause ``_at = pos`` goes
before each statement that may raise, where what ran since the last such mark matters
to the adjoint. The except clause records ``_at`` (``_try5.caught(0, _at)``), and a
loop the exception leaves marks its last step (``_loop7.cut(_at)``).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import gast

from .. import runtime as rt_module
from ..runtime.mutation import FINAL
from ..runtime.objects import COMPARISONS, OPERATOR_SYMBOLS
from .analyse import recorded, relevant, relevant_try
from .ir import (
    Analysis,
    Block,
    Branch,
    Kind,
    LoopKind,
    Node,
    NoGradBlock,
    Op,
    Repeat,
    Step,
    StepKind,
    TryBlock,
    Visitor,
    blocks_of,
    facts,
    leaves_finally,
    mark,
    walk_nodes,
)
from .normalize import (
    Names,
    assign,
    clone,
    const,
    index_value,
    is_rt_call,
    local_names,
    name,
    params_of,
    walk,
)


@dataclass(frozen=True)
class Frame:
    """Where the statements of one block save values and record their path."""

    saved: str
    path: str
    depth: int


def attr(obj: str, attribute: str) -> gast.Attribute:
    return gast.Attribute(value=name(obj), attr=attribute, ctx=gast.Load())


def call(func: gast.expr, *args: gast.expr) -> gast.Call:
    return gast.Call(func=func, args=list(args), keywords=[])


def subscript(obj: str, key: int, store: bool = False) -> gast.Subscript:
    ctx = gast.Store() if store else gast.Load()
    return gast.Subscript(value=name(obj), slice=const(key), ctx=ctx)


def pack(names: tuple[str, ...]) -> gast.expr:
    if len(names) == 1:
        return name(names[0])
    return gast.Tuple(elts=[name(n) for n in names], ctx=gast.Load())


def at(stmt: gast.stmt, line: int) -> gast.stmt:
    stmt.lineno = line
    return stmt


@dataclass(frozen=True)
class Records:
    """The names under which a primal saves values and records its path, as its adjoint
    reads them: a ``PrimalBuilder``'s, or these for a program whose values are known
    when its adjoint is built (recorded Tensor operations)."""

    saved: str = "_saved"
    path: str = "_path"

    def frame_names(self, depth: int) -> tuple[str, str]:
        return f"_s{depth}", f"_p{depth}"


class PrimalBuilder(Visitor[list[gast.stmt]]):
    """Builds the traced primal, a node of the program's IR at a time (in ``frame``)."""

    def __init__(self, analysis: Analysis, names: Names):
        self.a = analysis
        self.names = names
        self.next_id = 0
        self.saved = names.reserve("_saved")
        self.path = names.reserve("_path")
        self.depth_names: dict[int, tuple[str, str]] = {}
        self.fixed = False  # keep the statement numbers a first build gave (see PathPrimal)
        self.guarded = False  # building the body of a try with an except clause
        self.progress: str | None = None  # ``_at``: the position of what may raise next
        self.marks = 0  # how many ``_at = pos`` this build has written
        # Tensor code: the position of its last ``backward()``, after which no adjoint
        # reads what the primal saved (None: the adjoint runs after the whole primal)
        self.backwards = [n for n in walk_nodes(analysis.program) if _is_backward(n)]
        self.last_backward = max((n.pos for n in self.backwards), default=None)
        self.branches_of = _branches(analysis.program, {})  # per backward(): its ifs' sides

    def frame_names(self, depth: int) -> tuple[str, str]:
        """The iteration record and path names of loops nested ``depth`` deep."""
        if depth not in self.depth_names:
            self.depth_names[depth] = (
                self.names.reserve(f"_s{depth}"),
                self.names.reserve(f"_p{depth}"),
            )
        return self.depth_names[depth]

    def number(self) -> int:
        self.next_id += 1
        return self.next_id

    def numbered(self, s: gast.stmt, field: str = "sid") -> int:
        """The number of ``s``'s saved values (new, unless this build keeps the first's)."""
        if not self.fixed:
            setattr(mark(s), field, self.number())
        return getattr(facts(s), field)

    def numbered_name(self, s: gast.stmt, field: str, n: str) -> int:
        """The number under which loop ``s`` saves name ``n`` (``s.<field>[n]``)."""
        numbers = getattr(mark(s), field)
        if not self.fixed:
            numbers[n] = self.number()
        return numbers[n]

    def build(self, fn_name: str) -> gast.FunctionDef:
        args = copy.deepcopy(self.a.fn.args)
        extra = [
            gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
            for n in (self.saved, self.path)
        ]
        args.posonlyargs = extra + args.posonlyargs
        body = self.block(self.a.program, Frame(self.saved, self.path, 0))
        if self.a.updated and not (body and isinstance(body[-1], gast.Return)):
            body.append(self.final_values(self.a.fn.lineno))
        if self.a.updated:
            body = self.finals_on_raise(body)
        fn = gast.FunctionDef(
            name=fn_name,
            args=args,
            body=body or [gast.Pass()],
            decorator_list=[],
            returns=None,
            type_comment=None,
            type_params=[],
        )
        fn.lineno = self.a.fn.lineno
        return fn

    def finals_on_raise(self, body: list[gast.stmt]) -> list[gast.stmt]:
        """``body`` in ``try: ... except BaseException: _saved[0] = (xs, d); raise``: an
        exception leaving the function gives the caller the updates made before it, as
        Python's in-place updates would have."""
        line = self.a.fn.lineno
        handler = gast.ExceptHandler(
            type=name("BaseException"),
            name=None,
            body=[self.final_values(line), at(gast.Raise(exc=None, cause=None), line)],
        )
        return [at(gast.Try(body=body, handlers=[handler], orelse=[], finalbody=[]), line)]

    def final_values(self, line: int) -> gast.stmt:
        """``_saved[0] = (xs, d)``: the values of the parameters whose objects Python
        would have updated in place, for the caller to take (see ``rt.write_back``)."""
        flags = getattr(facts(self.a.fn).sharing, "rebound_flags", {})
        values = gast.Tuple(
            elts=[call(attr("rt", "unless_rebound"), name(n), name(flags[n])) if n in flags
                  else name(n) for n in self.a.updated],
            ctx=gast.Load(),
        )  # fmt: skip
        target = subscript(self.saved, FINAL, store=True)
        return at(gast.Assign(targets=[target], value=values, type_comment=None), line)

    def block(self, body: Block, frame: Frame) -> list[gast.stmt]:
        """The primal of ``body``; in a guarded block (see ``guarded``), with ``_at = pos``
        before each statement that may raise after one that matters to the adjoint (the
        statements between two marks change nothing an adjoint reads), before each loop
        (whose record is in the path before its ``for`` may raise), and where a line of
        the user's starts (so that the mark names the line that raised). What a
        ``transient`` statement computed is read by nothing after an exception: no mark
        is due after it."""
        out: list[gast.stmt] = []
        due, line = True, None
        for node in body:
            loop = isinstance(node, Repeat)
            if self.guarded and (due or loop or node.line != line) and may_raise(node):
                out.append(self.mark(node.pos, node.line))
                due, line = False, node.line
            out += self.visit(node, frame)
            due = due or not (_passive(node) or facts(node.stmt).transient)
        return out

    def mark(self, pos: int, line: int) -> gast.stmt:
        """``_at = pos``."""
        self.marks += 1
        return at(assign(self.at_name(), const(pos)), line)

    def at_name(self) -> str:
        if self.progress is None:
            self.progress = self.names.reserve("_at")
        return self.progress

    def save(self, frame: Frame, key: int, names: tuple[str, ...], line: int) -> gast.stmt:
        target = subscript(frame.saved, key, store=True)
        return at(gast.Assign(targets=[target], value=pack(names), type_comment=None), line)

    def on_step(self, node: Step, frame: Frame) -> list[gast.stmt]:
        s, op, line = node.stmt, node.op, node.line
        if node.kind is StepKind.ASSIGN:
            return self.assignment(s, frame)
        if node.kind is StepKind.EXPR and op is not None and op.kind is Kind.BACKWARD:
            return self.backward(s, frame)
        if node.kind is StepKind.EXPR and op is not None and op.kind is Kind.CALL:
            # a result nobody reads: run for what it changes
            return [at(gast.Expr(value=self.call_of(op, frame)), line)]
        if node.kind is StepKind.RETURN and self.a.updated:
            return [self.final_values(line), s]
        return [s]

    def on_branch(self, node: Branch, frame: Frame) -> list[gast.stmt]:
        line = node.line
        body = self.block(node.body, frame)
        orelse = self.block(node.orelse, frame)
        if facts(node.stmt).recorded:
            body = [self.decision(frame, 1, line)] + body
            orelse = [self.decision(frame, 0, line)] + orelse
        return [at(gast.If(test=node.test, body=body or [at(gast.Pass(), line)], orelse=orelse),
                   line)]  # fmt: skip

    def on_no_grad(self, node: NoGradBlock, frame: Frame) -> list[gast.stmt]:
        known = facts(node.stmt)
        if (known.changes or known.holders) and (
            self.last_backward is None or node.pos < self.last_backward
        ):  # (after the last backward(), no adjoint reads what it changes)
            return [node.stmt, self.unsaved(known.changes, known.holders, frame, node.line)]
        return [node.stmt]

    def unsaved(self, changed: tuple[str, ...], holders: tuple[str, ...], frame: Frame,
                line: int) -> gast.stmt:  # fmt: skip
        """``rt.check_unsaved(...)`` after a no_grad block, run as written: the objects it
        may have changed in place (the entries of ``holders``) are none the adjoint saved
        (it would read the change)."""
        saved = [name(self.saved)] + ([name(frame.saved)] if frame.saved != self.saved else [])
        names = (*changed, *holders)
        args = [gast.Tuple(elts=saved, ctx=gast.Load()),
                gast.Tuple(elts=[name(n) for n in names], ctx=gast.Load()),
                const(", ".join(names)), const(len(changed))]  # fmt: skip
        return at(gast.Expr(value=gast.Call(func=attr("rt", "check_unsaved"), args=args,
                                            keywords=[])), line)  # fmt: skip

    def backward(self, s: gast.Expr, frame: Frame) -> list[gast.stmt]:
        """``loss.backward()``: run the adjoint of this call's path so far, here."""
        if frame.depth:
            raise self.a.parsed.error(
                "backward() inside a loop of a compiled function",
                s,
                "call the compiled function once per step, from the loop",
            )
        branches = self.branches_of[id(s)]
        for b in self.backwards:
            other = self.branches_of[id(b.stmt)]
            apart = any(k in other and other[k] != side for k, side in branches.items())
            if b.pos < facts(s).pos and (branches or other) and not apart:
                # (the adjoints of two backward() calls on one path, one of them in a
                # branch, are not cut right: the second would miss what it reads)
                raise self.a.parsed.error(
                    "a backward() after another on the same path, one of them inside an "
                    "if, in a compiled function",
                    s,
                    "call backward() once, on the sum of the losses, or take the branch "
                    "outside the compiled function",
                )
        self.numbered(s)
        op = facts(s).op
        args = [name("_unit"), name(frame.saved), name(frame.path), const(facts(s).sid)]
        value = gast.Call(
            func=attr("rt", "backward"), args=args + op.operands, keywords=op.keywords
        )
        return [at(gast.Expr(value=value), s.lineno)]

    def on_try(self, node: TryBlock, frame: Frame) -> list[gast.stmt]:
        """A try as written. A recorded one (``mark_recorded``) puts its ``rt.Attempt`` in
        the path first, which the except clause that runs fills in with its number and
        ``_at``; every except clause first refuses what a callee's partial in-place
        update makes unsound (``rt.handled``), and is preceded by one that lets srcdiff's
        own errors through (``rt.INTERNAL``) where it could catch them. A finally block
        with marks of an enclosing try's body gives ``_at`` back as it found it, for that
        try's except clause."""
        s, line = node.stmt, node.line
        out: list[gast.stmt] = []
        record = None
        if facts(s).recorded:
            if not self.fixed:
                mark(s, attempt=self.names.reserve(f"_try{facts(s).pos}"))
            record = facts(s).attempt
            start = call(attr("rt", "attempt"), name(frame.path))
            out.append(at(assign(record, start), line))
        outer = self.guarded
        self.guarded = outer or bool(node.handlers)
        body = self.block(node.body, frame)
        self.guarded = outer
        handlers = []
        if node.handlers and may_catch_internal(self.a, [c.handler for c in node.handlers]):
            reraise = at(gast.Raise(exc=None, cause=None), line)
            handlers.append(
                at(gast.ExceptHandler(type=attr("rt", "INTERNAL"), name=None, body=[reraise]),
                   line)
            )  # fmt: skip
        for j, c in enumerate(node.handlers):
            if record is None:
                first = call(attr("rt", "handled"))
            else:
                first = call(attr(record, "caught"), const(j), name(self.at_name()))
            inner = [at(gast.Expr(value=first), c.line)] + self.block(c.body, frame)
            handlers.append(at(gast.ExceptHandler(type=c.type, name=c.handler.name, body=inner),
                               c.line))  # fmt: skip
        orelse = self.block(node.orelse, frame)
        marks = self.marks
        final = self.block(node.finalbody, frame)
        if leaves_finally(node.finalbody):  # what goes through is not dropped unseen
            if not self.fixed:
                mark(s, handling=self.names.reserve(f"_handling{facts(s).pos}"))
            before = facts(s).handling
            out.append(at(assign(before, call(attr("rt", "current_exception"))), line))
            check = call(attr("rt", "finally_leaves"), name(before), const(False))
            final = [at(gast.Expr(value=check), line), *final]
        if self.marks > marks and outer:  # (outside a guarded body nothing reads _at back)
            if not self.fixed:
                mark(s, kept=self.names.reserve(f"_at{facts(s).pos}"))
            last = node.finalbody[-1].line
            final = [at(assign(facts(s).kept, name(self.at_name())), line), *final,
                     at(assign(self.at_name(), name(facts(s).kept)), last)]  # fmt: skip
        node = gast.Try(body=body or [at(gast.Pass(), line)], handlers=handlers,
                        orelse=orelse, finalbody=final)  # fmt: skip
        return [*out, at(node, line)]

    def decision(self, frame: Frame, taken: int, line: int) -> gast.stmt:
        return at(gast.Expr(value=call(attr(frame.path, "append"), const(taken))), line)

    def assignment(self, s: gast.Assign, frame: Frame) -> list[gast.stmt]:
        op = facts(s).op
        line = s.lineno
        if op.kind is Kind.CALL:
            self.numbered(s)
            value = self.call_of(op, frame)
            target = gast.Tuple(
                elts=[
                    name(op.target, store=True),
                    subscript(frame.saved, facts(s).sid, store=True),
                ],
                ctx=gast.Store(),
            )
            checks = [at(check, line) for check in run_time_checks(op)]
            return [
                *checks,
                at(gast.Assign(targets=[target], value=value, type_comment=None), line),
            ]
        if op.kind is Kind.UNWRAP:
            self.numbered(s)
            value = gast.Call(
                func=attr("rt", "unwrap"), args=[op.operands[0], name(frame.path)], keywords=[]
            )
            return [
                at(assign(op.target, value), line),
                self.save(frame, facts(s).sid, (op.operands[0].id,), line),
            ]
        out = [s]
        functional = facts(s).functional  # see analyse.mark_copied_updates
        target = s.targets[0]
        if functional and isinstance(target, gast.Subscript):
            index = index_value(target.slice)
            value = functional_write_call(s, [target.value, index, s.value])
            out = [at(assign(target.value.id, value), line)]
        if op.kind is Kind.PASSIVE and is_rt_call(s.value, "appended") and not functional:
            # nothing differentiated: the user's own in-place append (the copy that follows
            # it, xs = t, then names the same list)
            xs, v = s.value.args
            append = gast.Attribute(value=xs, attr="append", ctx=gast.Load())
            out = [
                at(gast.Expr(value=gast.Call(func=append, args=[v], keywords=[])), line),
                at(assign(op.target, xs), line),
            ]
        if op.kind is Kind.RULE and op.primitive in (rt_module.setitem, rt_module.put_back):
            if op.primitive is rt_module.put_back:
                call_ = call(attr("rt", "put_back"), *op.operands)
            else:
                call_ = functional_write_call(s, list(op.operands))
            out = [at(assign(op.target, call_), line)]
        out[:0] = [at(check, line) for check in run_time_checks(op)]
        out += [at(check, line) for check in checks_after(op)]
        if op.kind is Kind.RULE and op.flagged:  # a cast: whether it gave floats, in the path
            record = call(attr("rt", "record_float"), name(frame.path), name(op.target))
            out.append(at(gast.Expr(value=record), line))
        if op.kind is Kind.RULE and op.saves:
            self.numbered(s)
            out.append(self.save(frame, facts(s).sid, op.saves, line))
        return out

    def call_of(self, op: Op, frame: Frame | None = None) -> gast.Call:
        """``rt.call(f, mask, *args)``: a call of a compiled function (or of one with a
        rule), ``mask`` naming the differentiated arguments."""
        star = next((i for i, a in enumerate(op.operands) if isinstance(a, gast.Starred)), None)
        entries: list[gast.expr] = []
        for i, a in enumerate(op.operands):
            if not self.active(a):
                continue
            if i == star:  # the positions *args covers are known when the code runs
                after = len(op.operands) - i - 1
                entries.append(call(attr("rt", "Star"), const(i), const(after), a.value))
            else:  # counted from the end after a *args
                entries.append(const(i if star is None or i < star else i - len(op.operands)))
        named = gast.Tuple(elts=[const(k.arg) for k in op.keywords if k.arg is not None],
                           ctx=gast.Load())  # fmt: skip
        entries += [const(k.arg) if k.arg is not None else call(attr("rt", "Spread"), named)
                    for k in op.keywords if self.active(k.value)]  # fmt: skip
        mask = gast.Tuple(elts=entries, ctx=gast.Load())
        path = name((frame or Frame(self.saved, self.path, 0)).path)
        # a call from Tensor code (flagged) records in the path whether it met a leaf
        head = [op.callee, mask, path] if op.flagged else [op.callee, mask]
        return gast.Call(func=attr("rt", "tensor_call" if op.flagged else "call"),
                         args=head + op.operands, keywords=op.keywords)  # fmt: skip

    def active(self, e: gast.expr) -> bool:
        if isinstance(e, gast.Starred):
            e = e.value
        return isinstance(e, gast.Name) and e.id in self.a.active

    def on_repeat(self, node: Repeat, frame: Frame) -> list[gast.stmt]:
        s, line = node.stmt, node.line
        if not relevant(node):
            body = self.block(node.body, frame)
            return [self.clone_loop(node, body)]
        info = node.loop
        out = []
        shared = {n for n, _ in info.entry_shared}  # (saved before, read from there)
        own = tuple(n for n in info.entry_saves if n not in shared)
        if own:
            self.numbered(s, "entry_sid")
            out.append(self.save(frame, facts(s).entry_sid, own, line))
        if info.hoisted:
            self.numbered(s, "hoist_sid")
            out.append(self.save(frame, facts(s).hoist_sid, info.hoisted, line))
        for n in info.maybe_saves:  # a step of an enclosing loop may have set it, or not
            sid = self.numbered_name(s, "maybe_sids", n)
            out.append(self.save_if_bound(frame, sid, n, line))
        self.numbered(s)
        depth = frame.depth + 1
        if not self.fixed:
            mark(s, record=self.names.reserve(f"_loop{facts(s).sid}"))
        record = facts(s).record
        saved, path = self.frame_names(depth)
        inner = Frame(saved, path if info.branching else frame.path, depth)
        empty = (
            call(attr("rt", "Iterations"))
            if info.branching
            else gast.List(elts=[], ctx=gast.Load())
        )
        out.append(at(assign(record, empty), line))
        out.append(
            at(
                gast.Assign(
                    targets=[subscript(frame.saved, facts(s).sid, store=True)],
                    value=name(record),
                    type_comment=None,
                ),
                line,
            )
        )
        if info.branching:
            out.append(at(gast.Expr(value=call(attr(frame.path, "append"), name(record))), line))
        head = [at(assign(inner.saved, gast.Dict(keys=[], values=[])), line)]
        if info.branching:
            head.append(at(assign(inner.path, gast.List(elts=[], ctx=gast.Load())), line))
            entry = gast.List(elts=[name(inner.path), name(inner.saved)], ctx=gast.Load())
        else:
            entry = name(inner.saved)
        head.append(at(gast.Expr(value=call(attr(record, "append"), entry)), line))
        for n in info.start_saves:  # the shape of a zero adjoint for the step before
            sid = self.numbered_name(s, "start_sids", n)
            bound = n in info.entry_saves  # set before the loop, else maybe not yet
            head.append(self.save(inner, sid, (n,), line) if bound
                        else self.save_if_bound(inner, sid, n, line))  # fmt: skip
        looped = self.clone_loop(node, head + self.block(node.body, inner))
        after = []
        for n in info.exit_saves:  # the shape of a zero adjoint for the last step's value
            after.append(self.save_if_bound(frame, self.numbered_name(s, "exit_sids", n), n,
                                            line))  # fmt: skip
        if info.final_saves:
            self.numbered(s, "final_sid")
            after.append(self.save(frame, facts(s).final_sid, info.final_saves, line))
        # a return from a step leaves the loop too: its values are saved as it leaves
        returns = info.final_saves and any(
            isinstance(n, Step)
            and n.kind is StepKind.RETURN
            or isinstance(n, NoGradBlock)
            and n.returns
            for n in walk_nodes(node.body)
        )
        if self.guarded:  # an exception leaving the loop: its last step ends there
            cut = at(gast.Expr(value=call(attr(record, "cut"), name(self.at_name()))), line)
            reraise = at(gast.Raise(exc=None, cause=None), line)
            leaving = gast.ExceptHandler(type=name("BaseException"), name=None, body=[
                cut, *([] if returns else copy.deepcopy(after)), reraise])  # fmt: skip
            looped = at(gast.Try(body=[looped], handlers=[at(leaving, line)], orelse=[],
                                 finalbody=[]), line)  # fmt: skip
        if returns:
            return [*out, at(gast.Try(body=[looped], handlers=[], orelse=[], finalbody=after),
                             line)]  # fmt: skip
        return [*out, looped, *after]

    def save_if_bound(self, frame: Frame, sid: int, n: str, line: int) -> gast.stmt:
        """Save ``n``'s value if it has one here (it may be unbound: Python says so only
        when it is read)."""
        unbound = gast.ExceptHandler(
            type=name("NameError"), name=None, body=[at(gast.Pass(), line)]
        )
        return at(
            gast.Try(
                body=[self.save(frame, sid, (n,), line)],
                handlers=[unbound],
                orelse=[],
                finalbody=[],
            ),
            line,
        )

    @staticmethod
    def clone_loop(node: Repeat, body: list[gast.stmt]) -> gast.stmt:
        if node.kind is LoopKind.FOR:
            new = gast.For(target=node.target, iter=node.iter, body=body, orelse=[],
                           type_comment=None)  # fmt: skip
        else:
            new = gast.While(test=node.test, body=body, orelse=[])
        return at(new, node.line)


class PathPrimal(PrimalBuilder):
    """The primal of one path: each recorded ``if`` outside loops becomes a guard, that
    raises ``rt.Diverged`` when the call goes the other way, followed by the branch the
    path took alone. It saves and records exactly what the traced primal does (same
    numbers), so the adjoint of the path reads it unchanged."""

    def __init__(self, first: PrimalBuilder, names: Names):
        self.__dict__.update(first.__dict__)
        self.names = names
        self.depth_names = dict(first.depth_names)
        self.fixed = True

    def build_path(self, fn_name: str, key: tuple) -> gast.FunctionDef:
        fn = self.build(fn_name)
        frame = Frame(self.saved, self.path, 0)
        fn.body, _ = self.path_block(self.a.program, frame, iter(key))
        if self.a.updated:
            fn.body = self.finals_on_raise(fn.body)
        return fn

    def path_block(self, body: Block, frame: Frame, key: Iterator) -> tuple[list[gast.stmt], bool]:
        """The statements of ``body`` on the path ``key``, and whether they return."""
        out: list[gast.stmt] = []
        for node in body:
            line = node.line
            if isinstance(node, Branch) and facts(node.stmt).recorded:
                taken = next(key)
                test = node.test if not taken else gast.UnaryOp(op=gast.Not(), operand=node.test)
                diverged = gast.Raise(exc=call(attr("rt", "Diverged")), cause=None)
                out.append(at(gast.If(test=test, body=[at(diverged, line)], orelse=[]), line))
                out.append(self.decision(frame, taken, line))
                branch, returned = self.path_block(node.body if taken else node.orelse, frame, key)
                out += branch
                if returned:
                    return out, True
                continue
            if isinstance(node, Repeat) and relevant(node) and node.loop.branching:
                next(key)  # the loop is kept whole: its iterations record their own paths
            out += self.visit(node, frame)
            if isinstance(node, Step) and node.kind is StepKind.RETURN:
                return out, True
        return out, False


def speculable(analysis: Analysis) -> bool:
    """Whether a function may run the primal of the path it took last, re-running the
    traced primal when it goes another way: it calls only pure functions (so running it
    twice cannot be seen), has an ``if`` to specialise outside loops, and no ``return``
    inside a loop."""
    body = analysis.program
    if any(isinstance(n, TryBlock) for n in walk_nodes(body)):
        return False  # its record is filled in after the body's: see PrimalBuilder.on_try
    top_ifs = any(isinstance(n, Branch) and facts(n.stmt).recorded for n in _outside_loops(body))
    returns_in_loops = any(
        isinstance(x, Step) and x.kind is StepKind.RETURN
        for n in walk_nodes(body)
        if isinstance(n, Repeat)
        for x in walk_nodes(n.body)
    )
    return analysis.pure and top_ifs and not returns_in_loops


def _outside_loops(body: Block) -> Iterator[Node]:
    for node in body:
        yield node
        if isinstance(node, Branch):
            yield from _outside_loops(node.body)
            yield from _outside_loops(node.orelse)


def may_catch_internal(analysis: Analysis, handlers: list[gast.ExceptHandler]) -> bool:
    """Whether one of these except clauses may catch one of srcdiff's own errors (a
    clause whose exception class is not known here may)."""
    local = local_names(analysis.fn)
    for h in handlers:
        if h.type is None:  # a bare except
            return True
        for t in h.type.elts if isinstance(h.type, gast.Tuple) else [h.type]:
            found, cls = analysis.parsed.resolve_dotted(t, local)
            if not (found and isinstance(cls, type)):
                return True
            if any(issubclass(error, cls) for error in rt_module.INTERNAL):
                return True
    return False


def mark_recorded(body: Block, inside: bool = True) -> None:
    """Flag the ``if`` statements whose choice goes into the path, and the ``try``
    statements whose way does (those with an except clause that matter to the adjoint):
    not those in a loop the adjoint does not know about (``inside`` false)."""
    for node in body:
        if isinstance(node, Repeat):
            mark_recorded(node.body, inside and relevant(node))
            continue
        if isinstance(node, Branch):
            mark(node.stmt, recorded=inside and recorded(node))
        elif isinstance(node, TryBlock):
            mark(node.stmt, recorded=inside and bool(node.handlers) and relevant_try(node))
        else:
            continue
        for b in blocks_of(node):
            mark_recorded(b, inside)


def _branches(body: Block, sides: dict[int, int]) -> dict[int, dict[int, int]]:
    """For each ``backward()`` statement (by id), the ifs it is in and the side of each
    (0: the body, 1: the else clause)."""
    found: dict[int, dict[int, int]] = {}
    for node in body:
        if isinstance(node, Branch):
            found |= _branches(node.body, {**sides, id(node.stmt): 0})
            found |= _branches(node.orelse, {**sides, id(node.stmt): 1})
        else:
            for b in blocks_of(node):
                found |= _branches(b, sides)
        if _is_backward(node):
            found[id(node.stmt)] = sides
    return found


def _is_backward(node: Node) -> bool:
    return isinstance(node, Step) and node.op is not None and node.op.kind is Kind.BACKWARD


def number_positions(body: Block) -> None:
    """Give each statement the position ``pos`` its IR node has (in the order of
    ``walk_statements``), and the last position inside it, ``last``."""
    for node in walk_nodes(body):
        mark(node.stmt, pos=node.pos, last=node.last)


def mark_transient(fn: gast.FunctionDef, program: Block) -> None:
    """Flag (``transient``) each assignment of a name (assigned once, a compiler
    temporary) that only statements after it on the same user line, in the same block,
    read, and that records nothing in the path: where an exception stops the line,
    nothing reads what it computed, so its adjoint contributes nothing, whether it ran
    or not."""
    stores = Counter(
        n.id for n in walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    )
    params = set(params_of(fn))
    readers: dict[str, set[int]] = {}
    for node in walk_nodes(program):
        heads: list[gast.AST] = [node.stmt]  # what the statement itself reads
        if isinstance(node, Branch):
            heads = [node.test]
        elif isinstance(node, Repeat):
            heads = [node.iter if node.kind is LoopKind.FOR else node.test]
        elif isinstance(node, TryBlock):
            heads = [c.type for c in node.handlers if c.type is not None]
        for n in (n for h in heads for n in walk(h)):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                readers.setdefault(n.id, set()).add(id(node.stmt))
    for node in walk_nodes(program):
        for block in blocks_of(node):
            _mark_transient(block, stores, params, readers)
    _mark_transient(program, stores, params, readers)


def _mark_transient(
    block: Block, stores: Counter, params: set[str], readers: dict[str, set[int]]
) -> None:
    for i, node in enumerate(block):
        if not (isinstance(node, Step) and node.kind is StepKind.ASSIGN):
            continue
        s = node.stmt
        if not isinstance(s.targets[0], gast.Name):
            continue
        target = s.targets[0].id
        rest = set()
        for later in block[i + 1 :]:
            if later.line != node.line:
                break
            rest.add(id(later.stmt))
        op = node.op
        mark(s, transient=(
            stores[target] == 1
            and target not in params
            and readers.get(target, set()) <= rest
            and not (op is not None and op.flagged)  # in the path
        ))  # fmt: skip


def may_raise(node: Node) -> bool:
    """Whether running ``node`` may raise: all but ``pass``, ``break``, ``continue`` and
    the return of a constant (a try counts, so that ``_at`` is set before its blocks
    read it)."""
    if not isinstance(node, Step):
        return True
    if node.kind is StepKind.RETURN:
        return not isinstance(node.stmt.value, gast.Constant)
    return node.kind not in (StepKind.PASS, StepKind.BREAK, StepKind.CONTINUE)


def _passive(node: Node) -> bool:
    """A straight-line statement the adjoint and the path do not see."""
    op = node.op if isinstance(node, Step) else None
    return op is not None and op.kind is Kind.PASSIVE and not op.flagged


def primal(
    analysis: Analysis, names: Names, fn_name: str
) -> tuple[gast.FunctionDef, PrimalBuilder]:
    """The traced primal of ``analysis.fn``, and the builder (its names and numbering)."""
    mark_recorded(analysis.program)
    number_positions(analysis.program)
    mark_transient(analysis.fn, analysis.program)
    builder = PrimalBuilder(analysis, names)
    return builder.build(fn_name), builder


def run_time_checks(op: Op) -> list[gast.stmt]:
    """What the primal checks before a statement, of what the compiler could not see:
    that a method's owner is no user's object (``rt.receiver``), that an operator's
    operands are arrays or numbers (``rt.operands``). Every back end's primal runs
    them."""
    out = []
    if op.receiver is not None and op.operands:
        helper = "tensor_receiver" if op.receiver_tensor else "receiver"
        index = op.operands[1:2] if op.receiver == "__getitem__" and not op.receiver_tensor else []
        out.append(gast.Expr(value=call(attr("rt", helper), op.operands[0], const(op.receiver),
                                        *map(clone, index))))  # fmt: skip
    if op.checked and op.symbol not in COMPARISONS:  # (operands; arguments: options pass)
        operator_ = op.symbol in OPERATOR_SYMBOLS.values()
        helper = "operands" if operator_ else "arguments"
        check = call(attr("rt", helper), const(op.symbol), *map(clone, op.checked))
        out.append(gast.Expr(value=check))
    if op.keys:
        out.append(gast.Expr(value=call(attr("rt", "plain_keys"), *map(clone, op.keys))))
    out += [gast.Expr(value=clone(check)) for check in op.numbers]
    return out


def checks_after(op: Op) -> list[gast.stmt]:
    """What the primal checks after a statement: that a comparison the compiler could not
    see to be of arrays or numbers gave a bool (``rt.compared``), which carries no
    gradient whatever method made it."""
    if not (op.checked and op.symbol in COMPARISONS and op.target is not None):
        return []
    check = call(attr("rt", "compared"), const(op.symbol), name(op.target),
                 *map(clone, op.checked))  # fmt: skip
    return [gast.Expr(value=check)]


def functional_write_call(s: gast.stmt, args: list[gast.expr]) -> gast.Call:
    """The call of ``functional_write(s)`` on ``args`` (the object, the index, the value),
    given the globals an array written in place may be held by (``held_outside``)."""
    helper = functional_write(s)
    if helper == "write_entry_held" and (facts(s).entry_roots or facts(s).augmented_entry):
        roots = gast.Tuple(elts=[name(n) for n in facts(s).entry_roots], ctx=gast.Load())
        return call(attr("rt", helper), *args, roots, const(facts(s).augmented_entry))
    held = [gast.Tuple(elts=[name(n) for n in facts(s).held_outside], ctx=gast.Load())]
    return call(attr("rt", helper), *args, *(held if facts(s).held_outside else ()))


def functional_write(s: gast.stmt) -> str:
    """The helper giving the object ``s`` writes into its new value: ``rt.write_through``
    where a global may hold it (``facts(s).outside``: the write is made in that object,
    as Python makes it), ``rt.write_entry`` where it is reached through an attribute
    (``rt.write_entry_held`` where the value, in Tensor code, may carry a gradient),
    ``rt.put_back`` for an entry's own, ``rt.write_into`` where the write is made in the
    array itself (``facts(s).in_object``), else ``rt.setitem``."""
    if facts(s).put_back:
        return "put_back"
    if facts(s).through_attribute:
        return "write_entry_held" if facts(s).held_entry else "write_entry"
    if facts(s).in_object:
        return "write_into"
    return "write_through" if facts(s).outside else "setitem"
