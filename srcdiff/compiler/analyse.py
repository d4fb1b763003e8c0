"""Stage 3: what each normalized statement computes, which names are active, and what the
adjoint will need from the forward pass.

Invariant: after ``analyse``, every statement of the normalized function carries an
``Op`` in its facts (``facts(stmt).op``: assignments and returns) and every loop a
``Loop`` (``facts(stmt).loop``);
``Analysis.active`` holds every name that may depend on a differentiated argument.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import dataclasses
import decimal
import fractions
import functools
import json
import operator
import re
import types
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any

import gast
import numpy as np

from .. import dtypes
from .. import runtime as rt_module
from ..errors import CompileError
from ..rules import registry
from ..runtime import tensor_methods
from ..runtime.mutation import mutable_array
from ..runtime.objects import OPERATOR_SYMBOLS, call_check, numpy_callable
from .assigned_globals import reaches_global
from .ir import (
    DIFFERENTIATING,
    Analysis,
    Block,
    Branch,
    Dialect,
    Kind,
    Loop,
    LoopKind,
    Node,
    NoGradBlock,
    Op,
    Repeat,
    Step,
    StepKind,
    TryBlock,
    blocks_of,
    build,
    facts,
    hashable,
    mark,
    operand_name,
    walk_nodes,
)
from .mutation import FOLLOWS, Sharing, is_update
from .normalize import (
    Names,
    all_names,
    blocks,
    const,
    index_value,
    insert_beside,
    is_rt_call,
    local_names,
    name,
    normalize,
    params_of,
    walk,
    walk_statements,
)
from .optimize import folded
from .parse import Parsed, parse
from .shapes import mark_same_shapes
from .snapshots import ARRAY_MUTATORS

BINOPS = {
    gast.Add: operator.add,
    gast.Sub: operator.sub,
    gast.Mult: operator.mul,
    gast.Div: operator.truediv,
    gast.Pow: operator.pow,
    gast.MatMult: operator.matmul,
    gast.FloorDiv: operator.floordiv,
    gast.Mod: operator.mod,
    gast.BitAnd: operator.and_,
    gast.BitOr: operator.or_,
    gast.BitXor: operator.xor,
    gast.LShift: operator.lshift,
    gast.RShift: operator.rshift,
}
UNARYOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Invert: operator.invert}
_COMPARISONS = {gast.Lt: "<", gast.LtE: "<=", gast.Gt: ">", gast.GtE: ">=", gast.Eq: "==",
                gast.NotEq: "!="}  # fmt: skip
# the methods a user's class defines Python's operators with
_DUNDERS = {
    **{op: f"__{f.__name__.strip('_')}__" for op, f in BINOPS.items()},
    gast.USub: "__neg__", gast.UAdd: "__pos__", gast.Invert: "__invert__",
}  # fmt: skip
_OPERATOR_METHODS = (
    frozenset(_DUNDERS.values())
    | {"__r" + m[2:] for op, m in _DUNDERS.items() if op in BINOPS}
    | {"__getitem__"}
)
# the methods of a string that neither an array nor a Tensor has: in Tensor code, called
# on a value the compiler takes for differentiated (a parameter's name from
# named_parameters()), they give no gradient, once the primal checks that the value is no
# user's object with a method so named (``rt.receiver``; in code on arrays, ``rt.method``
# tells a string from an object of a user's class)
STRING_METHODS = (
    frozenset(m for m in dir(str) if not m.startswith("_"))
    - set(dir(np.ndarray))
    - set(tensor_methods.METHODS)
)
# Python's operators, and the functions that run them (operator.add, abs): on an object
# of a user's class they run its own methods (see ``Analyser.check_operands``)
# what reads a number from text (besides NumPy's functions and scalar types)
NUMBER_READERS = frozenset({float, complex, eval, decimal.Decimal, fractions.Fraction,
                            ast.literal_eval, json.loads})  # fmt: skip
registry.nondiff(
    "piecewise constant, or an integer or boolean result",
    operator.floordiv, operator.invert, operator.and_, operator.or_, operator.xor,
    operator.lshift, operator.rshift, operator.not_, rt_module.is_entry,
)  # fmt: skip

RUNTIME = "srcdiff.runtime"  # the module of the helpers generated code calls
# the new values normalize gives an object updated by one of its methods, by method: in
# Tensor code, checked where they run (a list's sort is fine; a Tensor has none of them)
ARRAY_UPDATES = {rt_module.filled: "fill", rt_module.resized: "resize",
                 rt_module.sorted_in_place: "sort"}  # fmt: skip


# ``+`` and ``*`` where an operand may be a list or tuple: the rules that join and repeat
SEQUENCE_RULES = ((operator.add, "sequence-join"), (operator.mul, "sequence-repeat"))


# the callees whose results are lists, tuples or ranges (never dicts)
SEQUENCE_MAKERS = {("object", f) for f in (list, tuple, range, sorted)}


def iterates(primitive: object) -> bool:
    """Whether the linear ``primitive`` iterates its first argument (a dict: its keys)."""
    return any(primitive is p for p in (rt_module.iterable, rt_module.reversible,
                                        rt_module.unpacked, list, tuple, sum))  # fmt: skip


def sequence_rule(primitive: Any) -> str | None:
    return next((rule for p, rule in SEQUENCE_RULES if p is primitive), None)


def as_square(op: Op | None) -> None:
    """``v * v`` takes the rule of ``np.square(v)``: one adjoint ``g * 2.0 * v`` instead
    of two equal contributions, in compiled code and in eager ``backward()`` alike (the
    two must round alike)."""
    square = registry.lookup(np.square)
    if square is None or not square.fn.__module__.startswith("srcdiff.rules"):
        return  # a rule of the user's for np.square is not one for v * v
    if (
        op is None
        or op.kind is not Kind.RULE
        or op.primitive is not operator.mul
        or op.rule.name != "multiply"
        or len(op.operands) != 2
    ):
        return
    x, y = op.operands
    if isinstance(x, gast.Name) and isinstance(y, gast.Name) and x.id == y.id:
        op.rule, op.operands, op.bound = square, [x], {square.params[0]: x}


class Classifier:
    """What makes an ``Op`` of a primitive applied to operands (``rule_op``): which names
    are active, which dtype an operand names (``value_of``), and how a refusal is made
    (``error``; while ``final``, it raises at once). The Analyser is one, for a
    function's source; the recorded Tensor operations have one of their own."""

    active: set[str]
    final: bool
    on_tensors: bool

    def value_of(self, e: gast.expr) -> tuple[bool, Any]:
        """The object ``e`` names where the code cannot change it, if found."""
        raise NotImplementedError

    def error(self, what: str, node: gast.AST | int | None, hint: str) -> CompileError:
        raise NotImplementedError

    def shown(self, e: gast.expr) -> str:
        """``e`` as a refusal shows it to the user: as the user's code writes it."""
        return gast.unparse(e)

    def is_active(self, e: gast.expr | None) -> bool:
        if isinstance(e, gast.Starred):
            e = e.value
        if isinstance(e, gast.Name):
            return e.id in self.active
        if isinstance(e, (gast.Tuple, gast.List)):
            return any(self.is_active(x) for x in e.elts)
        return False

    def fail(self, node: gast.AST | None, what: str, hint: str) -> Op:
        if self.final:
            raise self.error(what, node, hint)
        return Op(Kind.PASSIVE)

    def rule_op(
        self,
        rule: registry.Rule,
        prim: Any,
        args: list[gast.expr],
        keywords: list[gast.keyword],
        stmt: gast.stmt | None,
        target: str | None = None,
    ) -> Op:
        if not any(map(self.is_active, [*args, *(k.value for k in keywords)])):
            return Op(Kind.PASSIVE)  # (whatever its arguments: math.log(8, 2) has no rule)
        bound, operands = {}, []
        npos = rule.npositional  # keyword-only parameters take no positional argument
        starred = [i for i, a in enumerate(args) if isinstance(a, gast.Starred)]
        if (starred and starred[0] < npos) or any(k.arg is None for k in keywords):
            return self.fail(
                stmt,
                f"*args or **kwargs passed to {describe(prim)}",
                "pass its arguments one by one, so that srcdiff can tell which is which",
            )
        for pname, arg in zip(rule.params[:npos], args, strict=False):
            bound[pname] = arg
        extra = args[npos:]
        if extra and rule.varargs is None:
            return self.fail(
                stmt,
                f"too many arguments for the rule of {describe(prim)}",
                "pass the documented arguments only",
            )
        passed_on = []  # keywords a rule called by name takes as they are (**kwargs)
        for k in keywords:
            pname = registry.keyword(prim, k.arg)
            if pname is None or k.arg == "out" and _is_none(k.value):  # (NumPy's default)
                continue
            if rule.keywords and pname not in rule.params:
                if self.is_active(k.value):  # its rule would give it no gradient
                    return self.fail(
                        stmt,
                        f"a differentiated value passed by keyword ({k.arg}=) to {describe(prim)}",
                        "pass it by position",
                    )
                passed_on.append(k)
                continue
            if pname not in rule.params or pname in bound:
                return self.fail(
                    stmt,
                    f"argument {k.arg}= of {describe(prim)} is not "
                    "supported by its derivative rule",
                    "drop it, or register a rule with sd.register_vjp",
                )
            bound[pname] = k.value
        for pname in rule.params:
            if pname not in bound:
                if pname not in rule.defaults:
                    if not any(map(self.is_active, [*bound.values(), *extra])):
                        return Op(Kind.PASSIVE)  # another form (np.where(c): indices)
                    return self.fail(
                        stmt, f"missing argument {pname} for {describe(prim)}", "pass it explicitly"
                    )
                bound[pname] = const(rule.defaults[pname])
            operands.append(bound[pname])
        if rule.varargs:
            bound[rule.varargs] = gast.Tuple(elts=list(extra), ctx=gast.Load())
            operands += extra
        if not any(self.is_active(a) for a in operands):
            return Op(Kind.PASSIVE)
        at_run_time = False
        # NumPy's dtype= (srcdiff's own rules: a user's parameter so named may mean anything)
        if (
            rule.inline
            and "dtype" in bound
            and not (isinstance(bound["dtype"], gast.Constant) and bound["dtype"].value is None)
        ):
            kind = self.static_dtype_kind(bound["dtype"])
            if kind in ("i", "u", "b"):
                return Op(Kind.PASSIVE)  # integers or booleans: constant almost everywhere
            if kind not in ("f", None):
                what = "a complex value" if kind == "c" else f"NumPy's kind {kind!r}"
                return self.fail(
                    stmt,
                    f"dtype={self.shown(bound['dtype'])} ({what}) in {describe(prim)} of a "
                    "differentiated value",
                    "pass a real floating dtype there (np.float32, float), or cast the value "
                    "with .astype() first",
                )
            at_run_time = kind is None and not registry.is_cast(prim)
        elif (
            "dtype" not in bound  # x.to(torch.long), x.type_as(y)
            and registry.is_cast(prim)
            and self.on_tensors
            and {self.static_dtype_kind(a) for a in operands[1:]} & {"i", "u", "b"}
        ):
            return Op(Kind.PASSIVE)  # as PyTorch's integer Tensors: no gradient
        if any(isinstance(a, gast.Constant) and isinstance(a.value, complex) for a in operands):
            return self.fail(
                stmt,
                "a complex number in a differentiated computation",
                "srcdiff differentiates real-valued code: compute with the real and "
                "imaginary parts as real arrays",
            )
        return Op(Kind.RULE, target=target, rule=rule, operands=operands, bound=bound,
                  primitive=prim, keywords=passed_on, dtype_at_run_time=at_run_time)  # fmt: skip

    def static_dtype_kind(self, e: gast.expr) -> str | None:
        """The kind (NumPy's letter) of the dtype ``e`` names, where it names one this
        function cannot change (a constant, ``float``, ``np.float32``); None elsewhere."""
        if isinstance(e, gast.Constant):
            return dtype_kind(e.value)
        found, value = self.value_of(e)
        return dtype_kind(value) if found else None


class Analyser(Classifier):
    def __init__(
        self,
        parsed: Parsed,
        fn: gast.FunctionDef,
        active_params: set[str],
        dialect: Dialect = Dialect.ARRAYS,
        sequence_params: frozenset[str] = frozenset(),
        shapes: dict[str, tuple | None] | None = None,
    ):
        self.p = parsed
        self.sequence_params = sequence_params
        self.shapes = shapes or {}
        self.assumed_numbers: set[str] = set()  # globals taken for numbers (``Unit.stale``)
        self.fn = fn
        self.on_tensors = dialect.on_tensors  # attributes and methods are the Tensor's
        self.dialect = dialect
        self.locals = local_names(fn)
        self.active = set(active_params)
        self.final = False
        self._made: frozenset[str] | None = None  # see made_objects
        self._own: frozenset[str] | None = None  # see own_entries
        self._made_classes: dict[str, set[type]] = {}  # the classes whose objects they hold
        self._arrays: set[str] | None = None  # see known_array
        self._built: frozenset[str] | None = None  # see built_by_class
        self._operated: frozenset[str] | None = None  # see user_object
        self._found_objects: frozenset[str] = frozenset()  # ... in Tensor code
        self._augmenting: frozenset[int] | None = None  # see augmenting
        self._values: dict[str, list[gast.expr | None]] | None = None  # see assigned_values
        self._properties: frozenset[str] | None = None  # see property_names
        self.plain_params: frozenset[str] = frozenset()  # given arrays or numbers
        self.object_params: frozenset[str] = frozenset()  # given objects of a user's class
        self.holder_params: frozenset[str] = frozenset()  # given what holds such objects
        self._taken: frozenset[str] | None = None  # see taken_out
        self.program: Block | None = None  # the function's IR, once ``run`` is given it

    def nodes(self) -> Iterator[Node]:
        """Every node of the function's IR, in order: the scans of the whole function
        run on it once it is made (``run``)."""
        if self.program is None:
            raise RuntimeError("the function's IR is read before it is made (see run)")
        return walk_nodes(self.program)

    def value_of(self, e: gast.expr) -> tuple[bool, Any]:
        kind, value = self.resolve(e)
        return kind == "object", value

    def error(self, what: str, node: gast.AST | int | None, hint: str) -> CompileError:
        return self.p.error(what, node, hint)

    # --- callees ---------------------------------------------------------------------
    def resolve(self, func: gast.expr) -> tuple[str, Any]:
        """('object', obj) for a callee known now, ('method', attr) for ``local.attr``,
        ('dynamic', None) for a callee only known when the code runs."""
        path = []
        e = func
        while isinstance(e, gast.Attribute):
            path.append(e.attr)
            e = e.value
        if not isinstance(e, gast.Name):
            return "dynamic", None
        if e.id in self.locals:
            return ("method", None) if path else ("dynamic", None)
        if e.id == "rt" and path:
            found, obj = self.p.resolve_dotted(func, (), {"rt": rt_module})
        else:  # an attribute whose read would run code (a property): not found, dynamic
            found, obj = self.p.resolve_path(e.id, path[::-1])
        return ("object", obj) if found else ("dynamic", None)

    def unknown(self, obj: Any, stmt: gast.stmt, call: gast.Call | None = None) -> Op | None:
        """The failure for a call of ``obj`` that is refused or has no rule and no
        source; None when it can be compiled."""
        refused = registry.refusal(obj)
        if refused is not None:
            return self.fail(stmt, *refused)
        func = getattr(call, "func", None)
        if (
            isinstance(func, gast.Attribute)
            and isinstance(func.value, gast.Name)
            and func.value.id not in self.locals
            and func.attr in ARRAY_MUTATORS
            and mutable_array(getattr(obj, "__self__", None))
        ):  # ``GA.fill(v)``: a global's array updated in place to a differentiated value
            return self.global_store(stmt, func.value.id)
        if isinstance(obj, type) and rt_module.is_record_class(obj):
            return None  # built by its constructor, compiled (see runtime/objects.py)
        if getattr(obj, "__module__", None) == "itertools":  # (a class: no rule to register)
            return self.fail(
                stmt,
                f"{describe(obj)} called here in a form srcdiff does not compile (it compiles "
                "chain, product, combinations(xs, r), accumulate, pairwise, starmap and "
                "islice called by name with their arguments written out, and a func that is "
                "a name or a lambda)",
                "write the arguments out (no *args), or write the loop it stands for "
                "(for ... in ...: ...)",
            )
        if obj is next or obj is iter:
            return self.fail(stmt, *_stepped(obj, call))
        if not is_python_callable(obj):
            return self.fail(
                stmt,
                f"no derivative rule for {describe(obj)}",
                f"register one with @sd.register_vjp({describe(obj)}), "
                "or compute it with functions srcdiff knows",
            )
        if (getattr(obj, "__module__", None) or "").startswith(RUNTIME):  # generated code's helpers
            return self.fail(
                stmt,
                f"no derivative rule for srcdiff's rt.{obj.__name__}, which srcdiff's own code "
                "compiled here calls (a derivative differentiated again, or a function of "
                "srcdiff's given a value that may carry a gradient)",
                "take a derivative of a derivative another way (sd.hvp and sd.hessian "
                "differentiate forward mode once more), pass srcdiff's functions plain "
                "values (.detach(), a Python bool or number), or ask for the rule",
            )
        return None

    # --- classification --------------------------------------------------------------
    def classify(self, stmt: gast.stmt) -> Op:
        if facts(stmt).no_grad:
            # (a name it only updates, h -= v, keeps its gradient: the update's is none)
            kept = set(facts(stmt).augmented)
            overwritten = [
                name(n) for n in facts(stmt).stores if n in self.active and n not in kept
            ]
            return Op(Kind.OVERWRITE, operands=overwritten) if overwritten else Op(Kind.PASSIVE)
        if isinstance(stmt, gast.Return):
            return Op(Kind.RETURN, operands=[stmt.value])
        carried = stmt.exc if isinstance(stmt, gast.Raise) else getattr(stmt, "msg", None)
        if isinstance(stmt, (gast.Raise, gast.Assert)) and any(
            map(self.is_active, self.carried(carried))
        ):
            return self.fail(
                stmt,
                "a differentiated value carried by an exception (`raise E(v)`): its "
                "gradient cannot reach the handler that reads it",
                "return the value (with a flag saying it was found) instead of raising it, "
                "or raise with a message only (`raise E(f'... {v}')`)",
            )
        if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
            call = stmt.value
            if (
                self.on_tensors
                and _autograd_backward(self.resolve(call.func))
                and (call.args and isinstance(call.args[0], gast.Name))
            ):  # sd.autograd.backward(loss, ...): loss.backward(...), its gradient as given
                call.func = gast.Attribute(value=call.args.pop(0), attr="backward", ctx=gast.Load())
                for k in call.keywords:
                    k.arg = "gradient" if k.arg == "grad_tensors" else k.arg
            if (
                isinstance(call.func, gast.Attribute)
                and call.func.attr == "backward"
                and self.on_tensors
                and self.is_active(call.func.value)
            ):
                return Op(
                    Kind.BACKWARD,
                    operands=[call.func.value] + list(call.args),
                    keywords=list(call.keywords),
                )
            if (
                isinstance(call.func, gast.Attribute)
                and call.func.attr == "backward"
                and self.on_tensors
                and self.resolve(call.func)[0] == "method"
            ):  # of what carries no gradient here: PyTorch's error where it is an array (a
                # Tensor computed without grad), the object's own backward() otherwise
                call.args.insert(0, call.func.value)
                call.func = _rt_attr("inactive_backward")
                return Op(Kind.PASSIVE)
            if _is_put_attribute(call) and len(call.args) == 3:  # whether the object is
                call.args.append(const(call.args[0].id in self.made_objects()))  # its own
            return self.classify_effect(stmt, call)
        if not isinstance(stmt, gast.Assign):
            return Op(Kind.PASSIVE)
        target = stmt.targets[0]
        if isinstance(target, gast.Subscript):
            return self.classify_setitem(stmt, target)
        if isinstance(target, gast.Attribute):
            base = target.value
            if isinstance(base, gast.Name) and base.id in self.made_objects():
                cls = next((c for c in self._made_classes[base.id]
                            if _is_setter(getattr(c, target.attr, None))), None)  # fmt: skip
                if cls is not None and not (self.is_active(stmt.value) or self.is_active(base)):
                    return Op(Kind.PASSIVE, target=base.id)
                if cls is not None:  # the setter, compiled, sets the fields (``rt.setter``)
                    callee = gast.Call(func=_rt_attr("setter"), args=[base, const(target.attr)],
                                       keywords=[])  # fmt: skip
                    op = Op(Kind.CALL, callee=callee, operands=[base, stmt.value], keywords=[])
                    op.target = base.id
                    return op
                if not (self.is_active(stmt.value) or self.is_active(base)):
                    return Op(Kind.PASSIVE, target=base.id)
                args = [base, const(target.attr), stmt.value]
                write = rt_module.set_field
                return self.rule_op(registry.lookup(write), write, args, [], stmt, base.id)
            if self.is_active(stmt.value):
                return self.fail(
                    stmt,
                    "assignment of a differentiated value to an attribute",
                    "keep the value in a local variable",
                )
            if self.is_active(target.value) and not (
                self.held_from_outside(stmt.value) and self.from_outside(base)
            ):  # h.shape = (2, 2) changes h in place
                return self.fail(
                    stmt,
                    f"assignment to the attribute .{target.attr} of a differentiated value",
                    "give it a new value instead (h = h.reshape(...) for .shape)",
                )
            return Op(Kind.PASSIVE)
        if facts(stmt).in_object and self.is_active(stmt.value.args[1]):  # ``y += x``
            # a number or a tuple is a value: rebound, with its gradient; an array or a
            # list is refused where the code runs (``rt.differentiated_update``)
            stmt.value.func = _rt_attr("differentiated_update")
        if (
            facts(stmt).inplace
            and target.id in facts(self.fn).attribute_entries
            and target.id not in self.own_entries()
            and self.is_active(stmt.value)
            and (field := self.field_of(target)) is not None
        ):  # ``o.items.append(v)`` on an object the function did not build (see inplace)
            return self.fail(stmt, *_field_update(*field))
        op = self.classify_value(stmt.value, stmt)
        op.target = target.id
        return op

    def leaving_as_tensors(self, statements: list[gast.stmt]) -> None:
        """In Tensor code, a value written into an object from outside (a global's, the
        caller's: ``state["h"] = h.detach()``, ``history.append(v)``, ``model.calls =
        model.calls + 1``) goes there as eager code puts it, a Tensor sharing an array's
        memory (``rt.tensors_of``), not the array compiled code holds; one that may carry
        a gradient, which the object could not keep, is written through
        ``rt.held_without_gradient`` (a number passes, an array computed is refused). A
        field's list (``acc.history.append(v)``) is the object's too."""
        outside = set(params_of(self.fn))
        if self.dialect is Dialect.TENSOR_CALLEE:  # (arrays a compiled caller holds), but
            outside &= {self.method_self()}  # the object a method is called on (a module's
            # counter, ``self.count += 1``, the module passed to the step)
        stores = (gast.Subscript, gast.Attribute)
        adds = ("append", "insert", "setdefault")
        for s in statements:
            call = s.value if isinstance(s, gast.Expr) else None
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], stores):
                holder, value = s.targets[0].value, s.value
            elif (
                isinstance(call, gast.Call)
                and getattr(call.func, "attr", None) in adds
                and (call.args)
            ):
                holder, value = call.func.value, call.args[-1]
            else:
                continue
            if not (isinstance(holder, gast.Name) and isinstance(value, gast.Name)):
                continue
            field = None if isinstance(s, gast.Assign) else self.field_of(holder)
            owner = holder.id if field is None else field[0]  # ``t = acc.history``
            if owner in self.locals and owner not in outside:
                continue
            helper = "held_without_gradient" if self.is_active(value) else "tensors_of"
            roots = self.gradient_roots(value.id, s) if self.is_active(value) else []
            into = []  # ``o.n += v``: a Tensor o.n holds is changed in place, as PyTorch's
            if helper == "held_without_gradient" and facts(s).augmented_field:
                field = gast.Tuple(elts=[name(holder.id), const(s.targets[0].attr)],
                                   ctx=gast.Load())  # fmt: skip
                into = [gast.keyword(arg="into", value=field)]
            wrapped = gast.Call(func=_rt_attr(helper), args=[value, *roots], keywords=into)
            if isinstance(s, gast.Assign):
                s.value = wrapped
            else:
                s.value.args[-1] = wrapped

    def method_self(self) -> str | None:
        """The name of the first parameter of a method of a class (``self``), or None."""
        fn = self.p._fn()
        params = params_of(self.fn)
        parts = getattr(fn, "__qualname__", "").split(".")
        if len(parts) < 2 or parts[-2] == "<locals>" or not params or params[0] != "self":
            return None
        return params[0]

    def gradient_roots(self, name: str, at: gast.stmt) -> list[gast.Name]:
        """The arrays of Tensors (``t = rt.unwrap(x)``) the only ones a gradient of
        ``name``, read at ``at``, may come from: each unwrapped once, in a statement of the
        function's own body run before ``at``'s; none where another may (a loop's, a
        branch's, a name bound otherwise), so that where the code runs, the value is
        known to carry none when none of them came from a Tensor requiring grad."""
        before = _run_before(self.program, at, False)
        values = self.assigned_values()
        roots: list[gast.Name] = []
        seen: set[str] = set()
        todo = [name]
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            if n not in values or None in values[n]:
                return []
            for v in values[n]:
                if isinstance(v, gast.Call) and self.resolve(v.func)[1] is rt_module.unwrap:
                    if len(values[n]) > 1 or not any(
                        s.value is v for s in before if isinstance(s, gast.Assign)
                    ):
                        return []
                    unwrapped = self.unwrapped_reads(v.args[0], values)
                    if unwrapped is None:
                        return []
                    roots.append(gast.Name(n, gast.Load(), None, None))
                    todo += unwrapped
                elif any(isinstance(c, gast.Call) and not self.has_rule(c) for c in walk(v)):
                    return []  # a compiled callee's: it may unwrap Tensors of its own
                else:
                    todo += [
                        e.id for e in walk(v) if isinstance(e, gast.Name) and e.id in self.active
                    ]
        return roots

    def unwrapped_reads(self, e: gast.expr, values: dict) -> list[str] | None:
        """Of ``rt.unwrap(e)``, the names a gradient of ``e``'s array may come from other
        than through a Tensor ``rt.unwrap`` notes (one read from an object or a container,
        ``self.total``, ``d["loss"]``, or a step's parameter): those computed in the
        function it may hold (``t = t + 1`` in a loop); None where it may be an array
        noted nowhere (a compiled callee's result, a callee's parameter)."""
        if not isinstance(e, gast.Name):
            return None
        further: list[str] = []
        todo, seen = [e.id], set()
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            if n not in values:  # a parameter: a Tensor in a step, an array in a callee
                if n in params_of(self.fn) and self.dialect is Dialect.TENSOR_CALLEE:
                    return None
                continue
            for w in values[n]:
                if w is None or any(
                    isinstance(c, gast.Call) and not self.has_rule(c) for c in walk(w)
                ):
                    return None
                if isinstance(w, gast.Name):
                    todo.append(w.id)
                elif not isinstance(w, (gast.Attribute, gast.Subscript)):
                    further += [m.id for m in walk(w) if isinstance(m, gast.Name)
                                and m.id in self.active]  # fmt: skip
        return further

    def has_rule(self, call: gast.Call) -> bool:
        """Whether ``call`` is a primitive's, with a rule or none to have."""
        kind, obj = self.resolve(call.func)
        if kind == "method":
            prim = f"ndarray.{call.func.attr}"
            return registry.lookup(prim) is not None or registry.is_nondiff(prim)
        return kind == "object" and (registry.lookup(obj) is not None or registry.is_nondiff(obj))

    def classify_effect(self, stmt: gast.Expr, call: gast.Call) -> Op:
        """A call whose result is dropped, with differentiated arguments: what matters is
        what it changes. A function with source is compiled (``call`` with no target),
        which refuses it where it updates its arguments in place; a NumPy function or a
        known array method changes nothing (``out=`` and the like are rewritten by
        ``inplace``); anything else is a CompileError."""
        values = [call.func.value] if isinstance(call.func, gast.Attribute) else []
        values += list(call.args) + [k.value for k in call.keywords]
        if is_rt_call(call, "in_place"):  # (a global's Tensor changed: see note_carried)
            self.note_carried(call)
        if not any(self.is_active(v) for v in values):
            return Op(Kind.PASSIVE)
        if self.logs(call):
            call.args[-1] = gast.Call(func=_rt_attr("logged"), args=[call.args[-1]], keywords=[])
            return Op(Kind.PASSIVE)
        kind, obj = self.resolve(call.func)
        if kind == "object" and obj is None:  # ``hook(x)`` under ``if hook is not None:``:
            kind = "dynamic"  # it fails where it runs, as in Python (see classify_call)
        owner = call.func.value if kind == "method" else None
        if owner is not None and (self.objects_method(owner, call.func.attr) or self.is_active(
                owner) and not self.on_tensors and not self.known_array(owner)):  # fmt: skip
            # a user's object's method (``o.clip(3.0)`` too) called for what it changes
            return self.method_call(owner, call.func.attr, call)
        if kind == "method":
            prim = f"ndarray.{call.func.attr}"
            if registry.lookup(prim) is not None or registry.is_nondiff(prim):
                return Op(Kind.PASSIVE)
        elif kind == "object":
            if obj is rt_module.set_global:  # (``global n``: see compiler/assigned_globals)
                return self.differentiated_global(stmt, call)
            if registry.lookup(obj) is not None or registry.is_nondiff(obj):
                return Op(Kind.PASSIVE)
            if (refused := self.unknown(obj, stmt, call)) is not None:
                return refused
        return Op(Kind.CALL, callee=call.func, operands=list(call.args),
                  keywords=list(call.keywords))  # fmt: skip

    def differentiated_global(self, stmt: gast.stmt, call: gast.Call) -> Op:
        """``rt.set_global(name, v)`` (``global name``) of a value that may carry a
        gradient: followed in this function, as its variable's; refused where another
        function may read the global meanwhile, as a constant: a function this one calls
        (any that may read it: see ``reaches_global``), or one that called it (``rt.set_global``
        refuses where it runs in a function compiled code called: ``differentiated``), and
        in Tensor code (a plain call leaves a Tensor there, compiled code an array)."""
        name = call.args[0].value
        hint = (f"keep it in a local name and return it (the caller may assign `{name}`), or "
                "assign a value without gradient (float(v), v.detach())")  # fmt: skip
        what = f"a value that may carry a gradient assigned to the global `{name}` (global {name})"
        if self.on_tensors:
            return self.fail(stmt, f"{what} in code computing with Tensors", hint)
        for c in walk(self.fn):
            if not isinstance(c, gast.Call):
                continue
            kind, obj = self.resolve(c.func)
            if kind == "method" and self.known_array(c.func.value):
                continue
            if kind != "object" or reaches_global(obj, name, self.p.fn.__globals__, assigns=False):
                shown = ast.unparse(gast.gast_to_ast(c.func))
                return self.fail(
                    stmt,
                    f"{what}, in a function calling `{shown}`, which may read `{name}` (as a "
                    "constant)",
                    f"pass `{name}` to `{shown}` as an argument, or {hint}",
                )
        if not any(k.arg == "differentiated" for k in call.keywords):  # (analysed again)
            call.keywords.append(gast.keyword(arg="differentiated", value=const(True)))
        return Op(Kind.PASSIVE)

    def field_of(self, n: gast.expr | None) -> tuple[str, str] | None:
        """``(o, "items")`` where the name ``n`` is given ``o.items`` and nothing else but
        its own updates (normalize's ``t = o.items`` of ``o.items.append(v)``)."""
        if not isinstance(n, gast.Name):
            return None
        values = self.assigned_values().get(n.id, [])
        found = {(v.value.id, v.attr) for v in values if isinstance(v, gast.Attribute)
                 and isinstance(v.value, gast.Name)}  # fmt: skip
        return found.pop() if len(found) == 1 and isinstance(values[0], gast.Attribute) else None

    def global_store(self, stmt: gast.stmt, global_name: str) -> Op:
        """Refuse a differentiated value stored into the array a global holds."""
        return self.fail(
            stmt,
            f"a differentiated value stored into the global `{global_name}`",
            "keep it in a local name and return it (compiled code gives an updated "
            "array a new value, which a global cannot take)",
        )

    def classify_setitem(self, stmt: gast.Assign, target: gast.Subscript) -> Op:
        op = self.classify_write(stmt, target)
        index = index_value(target.slice)
        if self.is_active(index) and not isinstance(index, gast.Slice):
            op.keys = (index,)  # (a dict's key: the primal checks it is no number)
        return op

    def classify_write(self, stmt: gast.Assign, target: gast.Subscript) -> Op:
        base = target.value
        if not isinstance(base, gast.Name):
            return self.fail(
                stmt, "item assignment into an expression", "assign into a local variable"
            )
        if not (self.is_active(base) or self.is_active(stmt.value)):
            return Op(Kind.PASSIVE, target=base.id)
        if base.id not in self.locals:
            return self.global_store(stmt, base.id)
        if base.id in self.own_entries():
            pass  # (a new array, which the field of the function's own object takes)
        elif base.id in facts(self.fn).attribute_entries and (
            facts(stmt).put_back or not self.is_active(stmt.value)
        ):  # a number written there, and the entry written back (an array: refused then)
            mark(stmt, through_attribute=True)
        elif base.id in facts(self.fn).attribute_entries and self.users_tensor_code(stmt):
            # Tensor code: a value that may be a Tensor (``t.stats["n"] += 1``, the entry
            # read back), written as eager code writes it; one carrying a gradient, which
            # the entry could not keep, is refused where the code runs
            value = stmt.value
            roots = self.gradient_roots(value.id, stmt) if isinstance(value, gast.Name) else []
            mark(stmt, through_attribute=True, held_entry=True,
                 entry_roots=tuple(r.id for r in roots))  # fmt: skip
        elif base.id in facts(self.fn).attribute_entries:
            return self.fail(
                stmt,
                "item assignment through an attribute (b.T[0] = v, "
                "self.w[0] = v) of a differentiated value",
                "srcdiff gives the array a new value, which the attribute "
                "cannot take back: build the new array in a local name",
            )
        outside = facts(stmt).outside or facts(stmt).in_object
        if outside and not self.on_tensors and self.is_active(stmt.value):
            return self.fail(  # (Tensor code: a number written carries no gradient there)
                stmt,
                f"a differentiated value stored into an object a global holds, through `{base.id}`",
                "keep it in a local name and return it (the global's object would hold a "
                "value whose gradient compiled code cannot follow)",
            )
        write = rt_module.put_back if facts(stmt).put_back else rt_module.setitem
        return self.rule_op(
            registry.lookup(write),
            write,
            [base, index_value(target.slice), stmt.value],
            [],
            stmt,
            base.id,
        )

    def classify_value(self, v: gast.expr, stmt: gast.stmt) -> Op:
        if isinstance(v, gast.Name):
            return Op(Kind.COPY, operands=[v])
        operands = [v.value] if isinstance(v, gast.Subscript) else _operands(v)
        read = [index_value(v.slice)] if isinstance(v, gast.Subscript) else []  # (``tab[x]``)
        if (
            isinstance(v, (gast.BinOp, gast.UnaryOp, gast.Subscript))
            and any(self.user_object(e) for e in operands)
            and not (isinstance(v, gast.Subscript) and v.value.id in self.taken_out())
            and (
                any(self.is_active(e) for e in operands + read)
                or isinstance(v, gast.BinOp)
                and id(stmt) in self.augmenting()
            )
        ):  # its class's operator runs, compiled (an array's derivative would not be its;
            # ``v += 1.0``, nothing differentiated, runs ``__iadd__``, which may change v)
            return self.operator_call(v, stmt)
        if isinstance(v, (gast.BinOp, gast.UnaryOp)) and any(
            self.built_by_class(e) and self.is_active(e) for e in _operands(v)
        ):  # (Tensor code: its class's operator runs, whose derivative an array's is not)
            return self.fail(
                stmt,
                "an arithmetic operator on an object of a user's class in code on Tensors",
                "call a method of the class instead (v.scaled(3.0) for v * 3.0)",
            )
        if isinstance(v, gast.BinOp):
            prim = BINOPS[type(v.op)]
            return self.primitive(prim, [v.left, v.right], [], stmt, describe_op(v.op))
        if isinstance(v, gast.UnaryOp) and type(v.op) in UNARYOPS:
            prim = UNARYOPS[type(v.op)]
            return self.primitive(prim, [v.operand], [], stmt, "unary operator")
        if isinstance(v, gast.Subscript):
            if not self.is_active(v.value):
                return self.index_of_constant(v, stmt)
            index = index_value(v.slice)
            if self.indices_entry(v.value, index):
                return Op(Kind.PASSIVE)  # (integers: PyTorch's carry no gradient)
            op = self.primitive(operator.getitem, [v.value, index], [], stmt, "indexing")
            if (
                op.kind is Kind.RULE
                and op.receiver is None
                and not self.known_array(v.value)
                and any(map(self.is_active, _index_parts(index)))
            ):  # ``h[x]``: an object's own ``__getitem__`` is refused where it runs
                op.receiver, op.receiver_tensor = "__getitem__", False
            return op
        if isinstance(v, gast.Attribute):
            if not self.is_active(v.value):
                return Op(Kind.PASSIVE)
            if v.attr == "__dict__":
                return self.fail(stmt, *_dynamic_fields(vars, 1))
            field = self.is_field(v.attr) or self.built_by_class(v.value)  # (a user's .T)
            if field and v.attr in self.property_names():
                callee = gast.Call(
                    func=gast.Attribute(value=name("rt"), attr="getter", ctx=gast.Load()),
                    args=[v.value, const(v.attr)],
                    keywords=[],
                )
                return Op(Kind.CALL, callee=callee, operands=[v.value], keywords=[])
            if field:
                return self.primitive(
                    "object-attribute", [v.value, const(v.attr)], [], stmt, f"field .{v.attr}"
                )
            op = self.primitive(
                f"ndarray.{v.attr}", [v.value], [], stmt, f"attribute .{v.attr} of an array"
            )
            tensor = self.users_tensor_code(stmt)
            if op.kind is Kind.RULE and (tensor or not self.known_array(v.value)):
                op.receiver = v.attr  # a user's object with an attribute so named: refused
                op.receiver_tensor = tensor
            return op
        if isinstance(v, (gast.Tuple, gast.List)):
            key = "tuple-display" if isinstance(v, gast.Tuple) else "list-display"
            return self.primitive(key, list(v.elts), [], stmt, "display")
        if isinstance(v, gast.Dict):
            op = self.primitive("dict-display", list(v.values), [], stmt, "dict display")
            op.keys = tuple(k for k in v.keys if self.is_active(k))
            return op
        if isinstance(v, gast.Call):
            op = self.classify_call(v, stmt)
            pairs = self.given_pairs(v)
            if pairs is not None and op.kind is Kind.RULE and self.is_active(pairs[0]):
                check = gast.Call(func=_rt_attr("pair_keys"), args=list(pairs), keywords=[])
                op.keys = (check,)  # (the pairs' keys: the primal checks they are no numbers)
            return op
        if isinstance(v, gast.Set) and any(self.is_active(e) for e in v.elts):
            return self.fail(stmt, "a set of differentiated values",
                             "use a list or a tuple")  # fmt: skip
        return Op(Kind.PASSIVE)

    def given_pairs(self, call: gast.Call) -> tuple[gast.expr, ...] | None:
        """The pairs (or mapping) of ``dict(pairs)``, or of ``d.update(pairs)`` (normalized
        as ``rt.update_pairs(d, pairs)``) and ``d``, whose keys become a dict's; None for
        another call."""
        if call.keywords:
            return None
        kind, obj = self.resolve(call.func)
        if kind != "object":
            return None
        if obj is dict and len(call.args) == 1:
            return (call.args[0],)
        if obj is rt_module.update_pairs and len(call.args) == 2:
            return (call.args[1], call.args[0])
        return None

    def indices_entry(self, r: gast.expr, index: gast.expr) -> bool:
        """Whether ``r[index]`` is the indices of a ``(values, indices)`` result
        (``x.max(dim)[1]``, ``_, i = x.sort()``), as ``r.indices`` is: ``r`` holds such a
        result and ``index`` is 1 or -1."""
        parts = _index_parts(index)  # (as ``rt.tensor_methods.index`` checks it)
        index = parts[0] if len(parts) == 1 and not isinstance(index, gast.Tuple) else index
        if isinstance(index, gast.Name):  # (a negative index: a name given it)
            given = self.assigned_values().get(index.id, [None])
            index = given[0] if len(given) == 1 else index
        if isinstance(index, gast.UnaryOp) and isinstance(index.op, gast.USub):  # ``r[-1]``
            index = index.operand
        if not (
            isinstance(r, gast.Name)
            and isinstance(index, gast.Constant)
            and type(index.value) is int
            and index.value == 1
        ):
            return False
        return self.paired_result(r)

    def paired_result(self, r: gast.Name) -> bool:
        """Whether every value ``r`` is given is a ``(values, indices)`` result, or such a
        result unpacked (``rt.unpacked(t, 2)``, of ``v, i = x.max(dim)``) or unwrapped."""
        for v in self.assigned_values().get(r.id, [None]):
            if not isinstance(v, gast.Call):
                return False
            found = self.resolve(v.func)
            if found in (("object", rt_module.unpacked), ("object", rt_module.unwrap)):
                if not (isinstance(v.args[0], gast.Name) and self.paired_result(v.args[0])):
                    return False
            elif found not in PAIRED_RESULTS:
                return False
        return True

    def index_of_constant(self, v: gast.Subscript, stmt: gast.stmt) -> Op:
        """``c[i]`` where ``c`` carries no gradient: ``np.r_[a, b]`` and ``np.c_[...]``
        (objects with a rule for their indexing), else no gradient (an index is an
        integer, a slice or a mask, whose derivative is zero by nature)."""
        kind, obj = self.resolve(v.value)
        index = index_value(v.slice)
        if kind == "object" and registry.lookup(obj) is not None:
            items = list(index.elts) if isinstance(index, gast.Tuple) else [index]
            what = next((f"np.{n}" for n in ("r_", "c_") if getattr(np, n) is obj), "indexing")
            return self.primitive(obj, items, [], stmt, what)
        op = Op(Kind.PASSIVE, operands=[v.value])
        if any(map(self.is_active, _index_parts(index))):  # (an object's own ``__getitem__``
            op.receiver, op.receiver_tensor = "__getitem__", False  # may compute with it)
        return op

    def note_carried(self, call: gast.Call) -> None:
        """``rt.in_place(m, new, ...)``, ``m.add_(v)`` (see unwrap): whether v (and alpha)
        may carry a gradient, which a Tensor from outside, changed in place, could not take
        on, then whether m may (a detached alias carries none: its change is checked
        against saved values). Its statement assigns m where m is a local, and is one of
        its own (a global's Tensor)."""
        if self.final:
            args = call.args
            carries = (*(self.is_active(e) for e in args[-2].elts), self.is_active(args[0]))
            call.args[-1] = const(carries)

    def classify_call(self, call: gast.Call, stmt: gast.stmt) -> Op:
        args = list(call.args)
        kw_active = any(self.is_active(k.value) for k in call.keywords)
        kind, obj = self.resolve(call.func)
        if kind == "object" and obj is None:  # ``hook = None``: the call fails where it runs,
            kind = "dynamic"  # as in Python, on a path taken (an ``if hook is not None``'s)
        if kind == "object" and obj is rt_module.unwrap:
            return Op(Kind.UNWRAP, operands=args)
        if kind == "object" and obj is rt_module.in_place:
            self.note_carried(call)
        if kind == "method":
            owner = call.func.value
            attr = call.func.attr
            if self.on_tensors and attr == "backward" and self.is_active(owner):
                return self.fail(  # (a statement of its own is an operation: see classify)
                    stmt,
                    "backward() used as a value (`_ = loss.backward()`, or inside an expression)",
                    "call loss.backward() as a statement of its own (it returns None)",
                )
            if self.on_tensors and attr in STRING_METHODS and self.is_active(owner):
                op = Op(Kind.PASSIVE, operands=[owner])  # a parameter's name: no gradient,
                op.receiver, op.receiver_tensor = attr, True  # else refused (rt.receiver)
                return op
            if (
                self.objects_method(owner, attr)
                or self.given_object(owner, attr)
                or (
                    attr in _OPERATOR_METHODS
                    and self.is_active(owner)
                    and not self.on_tensors
                    and not self.known_array(owner)
                )
            ):  # (``self.__mul__(o)`` in ``__rmul__``: the class's, not an array's)
                return self.method_call(owner, attr, call)
            if (
                attr in ("index", "count")
                and self.is_active(owner)
                and not self.on_tensors
                and not self.known_array(owner)
            ):  # a list's or tuple's ``xs.index(v)``: a position, without gradient (a user's
                # object's own method is refused where it runs: rt.receiver)
                op = Op(Kind.PASSIVE, operands=[owner])
                op.receiver, op.receiver_tensor = attr, False
                return op
            dict_method = registry.lookup(f"dict.{attr}") is not None or registry.is_nondiff(
                f"dict.{attr}"
            )
            if (
                dict_method
                and not hasattr(np.ndarray, attr)
                and self.is_active(owner)
                and not self.on_tensors
                and not self.known_array(owner)
                and not self.fits(f"dict.{attr}", [owner, *args], call.keywords)
            ):  # ``o.get()``: no dict's .get (a dict's or another's is refused where it
                # runs, rt.method): a method of a user's object, compiled as its class's
                return self.method_call(owner, attr, call)
            given = [*args, *(k.value for k in call.keywords)]
            if (self.is_active(owner) and (
                dict_method or hasattr(np.ndarray, attr) or not self.from_outside(owner)
            )) or (dict_method and any(map(self.is_active, args))) or (
                hasattr(np.ndarray, attr) and not self.on_tensors and self.known_array(owner)
                and any(map(self.is_active, given))
            ):  # fmt: skip
                # (a method of an object the code computed: refused, never a constant; a
                # dict's, given a differentiated value: d.get(k, x); an array's, given one:
                # x.max(initial=b); Tensor code's parameters may be modules: self.max(h))
                known = f"dict.{attr}" if dict_method else f"ndarray.{attr}"
                op = self.primitive(known, [owner] + args, call.keywords, stmt, f"method .{attr}()")
                tensor = self.users_tensor_code(stmt)
                # (an array has no .get: whatever ``owner`` holds, a dict's is checked for)
                unsure = tensor or not self.known_array(owner) or not hasattr(np.ndarray, attr)
                if op.kind is Kind.RULE and unsure:
                    op.receiver = attr  # a user's object with a method so named: refused
                    op.receiver_tensor = tensor
                elif (
                    op.kind is Kind.PASSIVE
                    and (self.is_active(owner) or any(map(self.is_active, given)))
                    and unsure
                ):  # ``o.keys()``, ``w.get(x)``: a dict's gives ``x`` no gradient, a user's
                    # object's own method may
                    op = Op(Kind.PASSIVE, operands=[owner])
                    op.receiver, op.receiver_tensor = attr, tensor
                elif (
                    tensor
                    and not hasattr(rt_module.tensors.tensor_class(), attr)
                    and not (hasattr(list, attr) or hasattr(dict, attr))
                ):  # (an array's method without a derivative: a Tensor has none so named)
                    return self.fail(
                        stmt,
                        f".{attr}() of a Tensor: srcdiff's Tensor has no .{attr} (compiled "
                        f"code would run NumPy's array method .{attr})",
                        "compute it with the Tensor methods and functions srcdiff has",
                    )
                return op
            kind = "dynamic"  # (an array has no such method: an object's, called)
        if kind == "object" and numpy_callable(obj) and any(map(self.built_by_class, args)):
            return self.fail(  # NumPy would call the object's own method (np.sum: its sum)
                stmt,
                f"an object of a user's class passed to {describe(obj)}",
                "call the object's methods, or pass NumPy the arrays it holds",
            )
        if kind == "object" and obj in (eval, exec):  # (values compiled code cannot see)
            return self.fail(
                stmt,
                f"{obj.__name__}() in a differentiated function: the code it runs reads and "
                "makes values compiled code cannot follow",
                "write that code out in the function",
            )
        if (
            kind == "object"
            and obj is getattr
            and len(args) == 2
            and not call.keywords
            and not any(isinstance(a, gast.Starred) for a in args)
            and self.is_active(args[0])
            and not self.on_tensors
        ):  # ``getattr(p, name)``: read as ``p.<name>`` is, by a function compiled for it
            # (a field's reader, a property's getter: see ``rt.getter``)
            callee = gast.Call(func=_rt_attr("getter"), args=args, keywords=[])
            return Op(Kind.CALL, callee=callee, operands=[args[0]], keywords=[])
        if (
            kind == "object"
            and obj is getattr
            and len(args) == 3
            and not call.keywords
            and not any(isinstance(a, gast.Starred) for a in args)
            and (self.is_active(args[0]) or self.is_active(args[2]))
            and not self.on_tensors
        ):  # ``getattr(p, name, default)``: the field's reader, or the default given back,
            # as ``p`` has the field where it runs (see ``rt.getter_or``)
            callee = gast.Call(func=_rt_attr("getter_or"), args=args[:2], keywords=[])
            return Op(Kind.CALL, callee=callee, operands=[args[0], args[2]], keywords=[])
        if (
            kind == "object"
            and obj is dataclasses.replace
            and len(args) == 1
            and not isinstance(args[0], gast.Starred)
            and all(k.arg is not None for k in call.keywords)
            and (self.is_active(args[0]) or kw_active)
        ):  # a new object built by its class's constructor (``rt.replacer``)
            names = const(tuple(k.arg for k in call.keywords))
            callee = gast.Call(func=_rt_attr("replacer"), args=[args[0], names], keywords=[])
            return Op(Kind.CALL, callee=callee, operands=args, keywords=list(call.keywords))
        if kind == "object" and obj in (getattr, vars) and args and self.is_active(args[0]):
            return self.fail(stmt, *_dynamic_fields(obj, len(args)))
        if kind == "object":
            rule = registry.lookup(obj)
            if obj is functools.partial:  # its keywords' values, then their names
                if any(k.arg is None for k in call.keywords):
                    return self.fail(stmt, "functools.partial given **kwargs",
                                     "bind each keyword by name")  # fmt: skip
                values = [k.value for k in call.keywords]
                names = const(tuple(k.arg for k in call.keywords))
                return self.rule_op(rule, obj, [*args, *values, names], [], stmt)
            if rule is not None and any(isinstance(a, gast.Starred) for a in args):
                # ``np.einsum(s, *ops)``, ``max(*x)``: which parameters ``*ops`` gives is
                # known when the code runs, where a call of a function with a rule binds them
                return Op(Kind.CALL, callee=call.func, operands=args, keywords=list(call.keywords))
            if obj in (float, complex) and self.users_tensor_code(stmt):
                return Op(Kind.PASSIVE)  # a Tensor's number: no gradient, as PyTorch gives
            if rule is not None and self.on_tensors and hasattr(type(obj), "_srcdiff_vjp"):
                # srcdiff's transform (``sd.vmap(f)``): its rules run on arrays, and ``f``
                # on Tensors; a call, which code on Tensors runs as it does (see rt.call)
                return Op(Kind.CALL, callee=call.func, operands=args, keywords=list(call.keywords))
            if rule is not None:
                op = self.rule_op(rule, obj, args, call.keywords, stmt)
                if obj in ARRAY_UPDATES and self.users_tensor_code(stmt):
                    op.receiver, op.receiver_tensor = ARRAY_UPDATES[obj], True
                elif (
                    op.kind is Kind.RULE
                    and args
                    and _lowered_method(obj)
                    and self.users_tensor_code(stmt)
                    and not self.known_array(args[0])
                ):  # ``h.mul(w)`` made ``rt.tensor_methods.mul(h, w)``: on an object of a
                    # user's class its own method runs, whose derivative is not the Tensor's
                    op.receiver, op.receiver_tensor = obj.__name__, True
                return op
            if registry.is_nondiff(obj):
                return self.numbers_checked(Op(Kind.PASSIVE), obj, args)
            if not (any(self.is_active(a) for a in args) or kw_active):
                return Op(Kind.PASSIVE)
            if (refused := self.unknown(obj, stmt, call)) is not None:
                return refused
        elif isinstance(call.func, gast.Name) and self.is_active(call.func):
            return self.method_call(call.func, "__call__", call)
        elif not (any(self.is_active(a) for a in args) or kw_active):
            return Op(Kind.PASSIVE)
        return Op(Kind.CALL, callee=call.func, operands=args, keywords=list(call.keywords))

    def logs(self, call: gast.Call) -> bool:
        """Whether ``call`` adds a differentiated value to a list of a global's or a
        closure's that the function does not read (``LOG.append(float(loss))``): made
        as written, the value a number without gradient (``rt.logged``: an array is
        refused), as NumPy-style code keeps a history."""
        func = call.func
        if self.on_tensors or not (
            isinstance(func, gast.Attribute)
            and func.attr in ("append", "insert")
            and isinstance(func.value, gast.Name)
            and func.value.id not in self.locals
            and call.args
            and not call.keywords
            and not any(self.is_active(a) for a in call.args[:-1])
        ):
            return False
        found, held = self.p.resolve(func.value.id)
        receivers = {id(n.func.value) for n in walk(self.fn) if isinstance(n, gast.Call)
                     and isinstance(n.func, gast.Attribute)
                     and n.func.attr in ("append", "insert")}  # fmt: skip
        return (
            found
            and type(held) is list
            and all(
                id(n) in receivers
                for n in walk(self.fn)
                if isinstance(n, gast.Name) and n.id == func.value.id
            )
        )

    def held_from_outside(self, value: gast.expr) -> bool:
        """Whether ``value`` is written into an object from outside as eager code writes it
        (``rt.held_without_gradient(v)``, ``rt.tensors_of(v)``: see ``leaving_as_tensors``),
        its gradient, if it may carry one, refused where the code runs."""
        return isinstance(value, gast.Call) and self.resolve(value.func)[1] in (
            rt_module.held_without_gradient,
            rt_module.tensors_of,
        )

    def from_outside(self, owner: gast.expr) -> bool:
        """Whether ``owner`` is an object the caller gave (a parameter, a global) that the
        code only follows through in-place updates (``m = rt.follow(m, ...)``): active
        only because it might hold an updated array, so that its methods (a Module's
        ``parameters()``) run as written; a value the code computed is not."""
        if not isinstance(owner, gast.Name):
            return False
        values: dict[str, list[gast.expr]] = {}
        for node in self.nodes():
            if (assigned := _named_assignment(node)) is not None:
                values.setdefault(assigned.targets[0].id, []).append(assigned.value)

        def followed(value: gast.expr) -> bool:  # ``rt.follow(...)``, or a copy of one
            if isinstance(value, gast.Name):
                return all(map(followed, values.get(value.id, [None])))
            return isinstance(value, gast.Call) and self.resolve(value.func)[1] in FOLLOWS

        outside = owner.id in params_of(self.fn) or owner.id not in self.locals
        return outside and all(map(followed, values.get(owner.id, [])))

    def users_tensor_code(self, stmt: gast.stmt) -> bool:
        """Whether ``stmt`` is PyTorch-style code of the user's, where an array stands for
        a Tensor (srcdiff's own, inlined from ``srcdiff.nn``, also handles arrays)."""
        return self.on_tensors and not self.p.srcdiffs_own(getattr(stmt, "lineno", None))

    def known_array(self, owner: gast.expr) -> bool:
        """Whether ``owner`` surely holds an array (or a number): a parameter given one,
        or a name every assignment of which is arithmetic, a NumPy function's result, an
        entry of such an array, or a copy of one. Its method ``x.copy()`` is then the
        array's; another value's is checked when the code runs (``rt.receiver``)."""
        if not isinstance(owner, gast.Name):
            return False
        if self._arrays is None:
            self._arrays = self.array_names()
        return owner.id in self._arrays

    def assigned_values(self) -> dict[str, list[gast.expr | None]]:
        """The values each local name is given (None: bound otherwise, by a loop, an
        unpacking, a with or an except), in the order of the code."""
        if self._values is None:
            self._values = assigned_in(self.nodes())
        return self._values

    def array_names(self) -> set[str]:
        values = self.assigned_values()
        params = set(params_of(self.fn))
        given = params - set(self.sequence_params) - set(self.object_params)  # given arrays

        def gives_array(v: gast.expr | None) -> bool:
            if isinstance(v, gast.Constant):
                return True
            if isinstance(v, gast.BinOp):  # of arrays (a user's class may define + too)
                return gives_array(v.left) and gives_array(v.right)
            if isinstance(v, gast.UnaryOp):
                return gives_array(v.operand)
            if isinstance(v, gast.Name):
                return v.id in known
            if isinstance(v, gast.Subscript):
                return gives_array(v.value)
            if isinstance(v, gast.Call):
                kind, obj = self.resolve(v.func)
                module = getattr(obj, "__module__", None) or ""
                return kind == "object" and (
                    module.startswith("numpy") or type(obj).__name__ == "ufunc"
                )
            return False

        # the largest set of names given only arrays (a loop's h = h * 2.0 included): all
        # names, less those given something else, until none is
        known = given | {n for n in values if n not in params or n in given}
        changed = True
        while changed:
            changed = False
            for n, vs in values.items():
                if n in known and not all(map(gives_array, vs)):
                    known.discard(n)
                    changed = True
        return known

    def built_by_class(self, owner: gast.expr) -> bool:
        """Whether ``owner`` is a name every assignment gives an object of a user's class
        (``acc = Acc(v)``): its methods are its class's, whatever their names (``copy``,
        ``sum``, ``get``), never an array's or a dict's."""
        if self._built is None:
            params = set(params_of(self.fn))
            self._built = frozenset(
                n for n, values in self.assigned_values().items()
                if n not in params and all(map(self.constructs, values))
            )  # fmt: skip
        return isinstance(owner, gast.Name) and owner.id in self._built

    def user_object(self, e: gast.expr) -> bool:
        """Whether ``e`` is a name every assignment gives an object of a user's class or
        the result of an operator on one (``w = v * 2.0``), a method's ``self``, or a
        parameter given such an object, whose class's operators ``operator_call`` runs
        (Python's own where it has none)."""
        if self._operated is None:
            params, values = list(params_of(self.fn)), self.assigned_values()
            own = {p for p in params[:1] if p == "self" and p not in values}  # a method's
            # a global (or a global's field) holding such an object now (``net.scale``)
            self._found_objects = frozenset(
                found_objects(self.fn, values, self.locals, self.resolve, self.holder_params)
            )
            own |= {p for p in self.object_params if p not in values} | self.taken_out()
            own |= self._found_objects
            holders = self.holder_params | self.taken_out()  # (``v = vs[0]; v = v * x``)
            assigned = set(values) - set(params) | set(self.object_params)
            vs_all = set(values) | own
            found = {n for n, vs in values.items() if n in assigned and all(
                isinstance(v, (gast.BinOp, gast.UnaryOp, gast.Name)) or self.constructs(v)
                or is_rt_call(v, "augmented") or _holder_read(v) in holders
                or _follows(v, vs_all) for v in vs)}  # fmt: skip
            while True:  # (an operator's result is one where an operand is one)
                kept = {n for n in found if all(
                    self.made_or_operated(v, found | own) or _holder_read(v) in holders
                    or _follows(v, found | own) for v in values[n])}  # fmt: skip
                if kept == found:
                    break
                found = kept
            self._operated = frozenset(found | own)
        if self.on_tensors:
            return isinstance(e, gast.Name) and e.id in self._found_objects
        return isinstance(e, gast.Name) and e.id in self._operated

    def taken_out(self) -> frozenset[str]:
        """The names every assignment gives an entry or a field (``vs[0]``, ``h.v``,
        ``self.scale``, ``for v in vs``) of a parameter passed what holds objects of a user's class
        (``holder_params``), or of such a name: which may be such an object, whose
        operators ``operator_call`` runs (Python's own where it has none)."""
        if self._taken is None:
            values = self.assigned_values()
            params = set(params_of(self.fn))
            found = {n for n, vs in values.items() if n not in params
                     and all(_holder_read(v) is not None for v in vs)}  # fmt: skip
            while True:
                holders = found | self.holder_params
                kept = {n for n in found if all(_holder_read(v) in holders for v in values[n])}
                if kept == found:
                    break
                found = kept
            self._taken = frozenset(found)
        return self._taken

    def augmenting(self) -> frozenset[int]:
        """The statements ``t = v + w`` normalize made of ``v += w`` (``v =
        rt.augmented(v, t)`` follows), by id: Python calls ``__iadd__`` there first."""
        if self._augmenting is None:
            news = {v.args[1].id for vs in self.assigned_values().values() for v in vs
                    if is_rt_call(v, "augmented") and isinstance(v.args[1], gast.Name)}  # fmt: skip
            self._augmenting = frozenset(
                id(s) for s in map(_named_assignment, self.nodes())
                if s is not None and s.targets[0].id in news and isinstance(s.value, gast.BinOp)
            )  # fmt: skip
        return self._augmenting

    def made_or_operated(self, v: gast.expr | None, objects: set[str]) -> bool:
        """Whether ``v`` builds an object of a user's class, or is one of ``objects`` or
        an operator on one."""
        return self.constructs(v) is not None or any(
            isinstance(e, gast.Name) and e.id in objects for e in _operands(v)
        )

    def operator_call(self, v: gast.BinOp | gast.UnaryOp | gast.Subscript, stmt: gast.stmt
                      ) -> Op:  # fmt: skip
        """``v * 2.0``, ``-v``, ``v[i]`` of an object of a user's class: a call of the
        function ``rt.operator_method`` finds when the code runs (the class's own method,
        or Python's operator where no operand has one), its operands passed."""
        if isinstance(v, gast.Subscript):
            dunder, operands = "__getitem__", [v.value, index_value(v.slice)]
        else:
            dunder = _DUNDERS[type(v.op)]
            operands = _operands(v)
        if isinstance(v, gast.BinOp) and id(stmt) in self.augmenting():  # ``v += w``
            dunder = "__i" + dunder[2:]
        tensors = [gast.keyword(arg="tensors", value=const(True))] if self.on_tensors else []
        callee = gast.Call(func=_rt_attr("operator_method"), args=[const(dunder), *operands],
                           keywords=tensors)  # fmt: skip
        return Op(Kind.CALL, callee=callee, operands=operands, keywords=[])

    def constructs(self, v: gast.expr | None) -> type | None:
        """The user's class ``v`` calls (``Acc(v)``), or None."""
        kind, obj = self.resolve(v.func) if isinstance(v, gast.Call) else ("", None)
        made = kind == "object" and isinstance(obj, type) and rt_module.is_record_class(obj)
        return obj if made else None

    def own_fields(self) -> None:
        """``o.buf[1] = v`` on an object the function made (``made_objects``): the field
        takes the written array (``o.buf = t`` after ``t = o.buf; t[1] = v``, checked
        first to be the field's alone), which a gradient may reach as through ``o.buf =
        v``; normalize wrote it back with ``rt.put_attribute``, which carries none."""
        made = self.made_objects()
        puts = [s for s in walk_statements(self.fn.body) if isinstance(s, gast.Expr)
                and _is_put_attribute(s.value) and s.value.args[0].id in made
                and isinstance(s.value.args[2], gast.Name)]  # fmt: skip
        for s in puts:
            holder, attr, entry = s.value.args[:3]
            check = gast.Call(
                func=_rt_attr("check_field_alone"),
                args=[name(holder.id), attr, const(holder.id)],
                keywords=[],
            )
            store = gast.Attribute(value=name(holder.id), attr=attr.value, ctx=gast.Store())
            put = gast.Assign(targets=[store], value=name(entry.id), type_comment=None)
            made_stmts = [gast.Expr(value=check), put]
            for new in made_stmts:
                new.lineno = s.lineno
            insert_beside(self.fn.body, s, made_stmts)
            _remove(self.fn.body, s)
        self._own = None

    def own_entries(self) -> frozenset[str]:
        """The names holding a field's array of an object the function made, written
        into and given back to the field (see ``own_fields``)."""
        if self._own is not None:
            return self._own
        entries = facts(self.fn).attribute_entries
        made = self.made_objects()
        self._own = frozenset(
            s.value.id
            for s in (n.stmt for n in self.nodes() if _assigns(n))
            if isinstance(s.targets[0], gast.Attribute)
            and isinstance(s.targets[0].value, gast.Name)
            and s.targets[0].value.id in made
            and isinstance(s.value, gast.Name)
            and s.value.id in entries
        )
        return self._own

    def made_objects(self) -> frozenset[str]:
        """Local names whose attributes the function may set as Python does: each holds
        only objects it built (every assignment to it a call of a class srcdiff builds,
        see ``runtime/objects.py``), and is used only for its attributes and methods,
        never passed, stored, copied or returned, so no other name shares the object."""
        if self._made is None:
            built, by_constructor = set(), set()
            for s in walk_statements(self.fn.body):
                if not isinstance(s, gast.Assign) or not isinstance(s.targets[0], gast.Name):
                    continue
                if (cls := self.constructs(s.value)) is not None:
                    self._made_classes.setdefault(s.targets[0].id, set()).add(cls)
                    built.add(s.targets[0].id)
                    by_constructor.add(id(s.targets[0]))
                elif facts(s).follows:  # ``m = rt.follow(m, ...)``: m's own object still
                    by_constructor.add(id(s.targets[0]))
            other = _names_used(self.fn, gast.Store, by_constructor)
            allowed: set[int] = set()  # the loads that read an attribute or call a method
            for node in walk(self.fn):
                if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
                    allowed.add(id(node.value))
                if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
                    allowed.add(id(node.func))
                if is_rt_call(
                    node, "put_attribute", "follow", "follow_detached", "check_field_alone"
                ) and _names_first(node):  # (a field's array written
                    allowed.add(id(node.args[0]))  # back, the object followed: its own)
                if isinstance(node, gast.Return) and node.value is not None:
                    # (returned, as the function ends: what its fields were set to last)
                    values = node.value.elts if isinstance(node.value, gast.Tuple) else [node.value]
                    allowed.update(id(v) for v in values if isinstance(v, gast.Name))
            escaping = _names_used(self.fn, gast.Load, allowed)
            params = set(params_of(self.fn))
            self._made = frozenset(built - other - escaping - params)
        return self._made

    def property_names(self) -> frozenset[str]:
        """The names of the properties (with a Python getter) of the user classes this
        function can name (globals, closure cells, functions defined in it): ``x.name``
        of a differentiated ``x`` is read through ``rt.getter``, which compiles the
        getter of a property (a field is read as it is). Where a property of another
        class is read, ``rt.field_grad`` refuses it."""
        if self._properties is None:
            fn = self.p.fn
            if fn is None:
                self._properties = frozenset()
                return self._properties
            values = list(fn.__globals__.values()) + list(self.p.scope.values())
            for cell in fn.__closure__ or ():
                with contextlib.suppress(ValueError):  # an empty cell has no contents
                    values.append(cell.cell_contents)
            found = set()
            for v in values:
                if isinstance(v, type) and rt_module.is_record_class(v):
                    found.update(
                        k
                        for c in v.__mro__
                        for k, d in vars(c).items()
                        if isinstance(d, property) and isinstance(d.fget, types.FunctionType)
                    )
            self._properties = frozenset(found)
        return self._properties

    def is_field(self, attr: str) -> bool:
        """Whether ``x.attr`` of a differentiated ``x`` is read as an object's field (or
        method), not as an array's attribute: a name arrays do not have, and in code
        computing with Tensors, not a Tensor's either (``model.weight``, not ``h.grad``)."""
        if hasattr(np.ndarray, attr):
            return False
        return not self.on_tensors or attr not in tensor_methods.TENSOR_ONLY

    def carried(self, e: gast.expr | None) -> list[gast.Name]:
        """The names whose values an exception ``e`` may carry: all it reads, but those
        only formatted into a message (an f-string, ``"%s" % v``, ``str(v)``), compared,
        or read for a size (``v.shape``, ``len(v)``)."""
        if e is None or isinstance(e, (gast.JoinedStr, gast.Compare, gast.BoolOp)):
            return []
        if isinstance(e, gast.Name):
            return [e]
        if isinstance(e, gast.Attribute) and e.attr in ("shape", "ndim", "size", "dtype"):
            return []
        if (
            isinstance(e, gast.BinOp)
            and isinstance(e.op, gast.Mod)
            and isinstance(e.left, gast.Constant)
        ):
            return []
        if isinstance(e, gast.Call):
            kind, obj = self.resolve(e.func)
            if kind == "object" and any(obj is d for d in _DESCRIBING):
                return []
        return [n for child in gast.iter_child_nodes(e) for n in self.carried(child)]

    def objects_method(self, owner: gast.expr, attr: str) -> bool:
        """Whether ``owner.attr(...)`` is the method of a user's object carrying a
        gradient (see ``method_call``), not an array's or a dict's."""
        return (
            self.is_active(owner)
            and not self.on_tensors  # (a Module's methods: their Tensors carry gradients)
            and (
                self.is_field(attr)
                and not (hasattr(dict, attr) or hasattr(list, attr))
                or self.built_by_class(owner)  # ``Acc(v).copy()``: Acc's, not an array's
            )
        )

    def given_object(self, owner: gast.expr, attr: str) -> bool:
        """Whether ``owner.attr(...)`` names a dict's, a list's or an array's method on a
        parameter the call gave an object of a user's class (a fact the compiled code is
        keyed on) and the code never rebinds: the method is its class's (``w.get(x)``)."""
        return (
            any(hasattr(t, attr) for t in (dict, list, np.ndarray))
            and isinstance(owner, gast.Name)
            and owner.id in self.object_params
            and owner.id not in self.assigned_values()
        )

    @staticmethod
    def fits(prim: str, args: list[gast.expr], keywords: list[gast.keyword]) -> bool:
        """Whether a call with ``args`` and ``keywords`` binds the parameters of the rule of
        ``prim`` (a dict's method: ``d.get(k)`` does, ``o.get()`` does not), as Python
        would bind them; a call with ``*args`` or ``**kwargs`` is taken to."""
        rule = registry.lookup(prim)
        if rule is None or rule.keywords or any(isinstance(a, gast.Starred) for a in args):
            return True
        if any(k.arg is None for k in keywords):
            return True
        if len(args) > rule.npositional and rule.varargs is None:
            return False
        bound = set(rule.params[: len(args)])
        for k in keywords:
            pname = registry.keyword(prim, k.arg)
            if pname is None:
                continue
            if pname not in rule.params or pname in bound:
                return False
            bound.add(pname)
        return all(p in bound or p in rule.defaults for p in rule.params)

    def method_call(self, owner: gast.expr, attr: str, call: gast.Call) -> Op:
        """``owner.attr(...)`` (``owner(...)`` for ``__call__``) of an object carrying a
        gradient: a call of ``rt.method(owner, attr)``, the function of its class, with
        ``owner`` passed first, so that its fields' gradients reach it."""
        callee = gast.Call(
            func=gast.Attribute(value=name("rt"), attr="method", ctx=gast.Load()),
            args=[owner, const(attr)],
            keywords=[],
        )
        return Op(Kind.CALL, callee=callee, operands=[owner, *call.args],
                  keywords=list(call.keywords))  # fmt: skip

    def primitive(
        self,
        prim: Any,
        args: list[gast.expr],
        keywords: list[gast.keyword],
        stmt: gast.stmt,
        what: str,
    ) -> Op:
        rule = registry.lookup(prim)
        if rule is None:
            if registry.is_nondiff(prim) or not any(self.is_active(a) for a in args):
                return self.numbers_checked(Op(Kind.PASSIVE), prim, args)
            shown = prim if isinstance(prim, str) else describe(prim)
            return self.fail(
                stmt,
                f"no derivative rule for {what} ({shown})",
                "rewrite it with supported operations, or register a rule with sd.register_vjp",
            )
        return self.rule_op(rule, prim, args, keywords, stmt)

    def numbers_checked(self, op: Op, prim: Any, args: list[gast.expr]) -> Op:
        """``op``, whose primal checks each value that may be differentiated given for an
        argument PyTorch takes as a Number only (``x.new_full(size, x[0])``), which a
        function without a derivative there would take for a constant: PyTorch's
        TypeError where it is an array (``rt.number_argument``)."""
        checks = []
        for i, (fn, param) in getattr(prim, "_srcdiff_numbers", {}).items():
            if i < len(args) and self.is_active(args[i]):
                checks.append(gast.Call(func=_rt_attr("number_argument"), keywords=[], args=[
                    args[i], const(fn), const(param), const(i)]))  # fmt: skip
        op.numbers = tuple(checks)
        return op

    def may_give_integers(self, op: Op) -> bool:
        """Whether a cast in Tensor code may give integers or booleans, a dtype only the
        running code knows (``x.to(dtype)``, ``x.type_as(y)``): the primal records which
        (``rt.record_float``), as PyTorch's integer Tensors carry no gradient, and leave
        the ``.grad`` of what they came from as it was."""
        if op.dtype_at_run_time:
            return True
        if not registry.is_cast(op.primitive):
            return False
        dtypes = [op.bound["dtype"]] if "dtype" in op.bound else op.operands[1:]
        return any(self.static_dtype_kind(e) != "f" and not _device(e) for e in dtypes)

    # --- activity --------------------------------------------------------------------
    def tensor_sources(self, statements: list[gast.stmt]) -> set[str]:
        """Names that may hold Tensors coming from outside compiled code: parameters,
        globals, attributes (``self.weight``), items of containers of them, and results
        of calls that are not compiled (``sd.randn``, ``next(it)``)."""
        sources = set(params_of(self.fn)) | {
            n.id
            for s in statements
            for n in walk(s)
            if isinstance(n, gast.Name) and n.id not in self.locals
        }
        changed = True
        while changed:
            changed = False
            for s in statements:
                if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
                    continue
                target, v = s.targets[0].id, s.value
                if target in sources:
                    continue
                if isinstance(v, gast.Name):
                    found = v.id in sources
                elif isinstance(v, gast.Attribute):
                    found = not registry.is_nondiff(f"ndarray.{v.attr}") and v.attr != "T"
                elif isinstance(v, gast.Subscript):
                    found = isinstance(v.value, gast.Name) and v.value.id in sources
                elif isinstance(v, gast.Call):
                    kind, obj = self.resolve(v.func)
                    found = kind != "object" or (
                        registry.lookup(obj) is None
                        and obj is not rt_module.unwrap
                        and not (
                            registry.is_nondiff(obj)
                            and getattr(obj, "__module__", "") != "srcdiff.creation"
                        )
                    )
                else:
                    found = False
                if found:
                    sources.add(target)
                    changed = True
        return sources

    def run(self, program: Block) -> None:
        """Classify every statement of ``program`` (the function's IR, made after
        ``own_fields``): find the active names (a fixpoint), then give each its ``Op``."""
        self.program = program
        statements = [node.stmt for node in walk_nodes(program)]
        sources = self.tensor_sources(statements) if self.on_tensors else set()
        changed = True
        while changed:
            changed = False
            for stmt in statements:
                op = self.classify(stmt)
                if (
                    op.kind is Kind.UNWRAP
                    and op.target not in self.active
                    and isinstance(op.operands[0], gast.Name)
                    and op.operands[0].id in sources | self.active
                ):
                    self.active.add(op.target)
                    changed = True
                if (
                    op.kind in DIFFERENTIATING
                    and op.target
                    and op.target not in self.active
                    and any(self.is_active(a) for a in op.operands + [k.value for k in op.keywords])
                ):
                    self.active.add(op.target)
                    changed = True
        self.final = True
        if self.on_tensors:
            self.leaving_as_tensors(statements)
        for stmt in statements:
            op = self.classify(stmt)
            if op.kind in (Kind.RULE, Kind.COPY) and op.target not in self.active:
                op = Op(Kind.PASSIVE, target=op.target)
            if (
                op.kind is Kind.PASSIVE
                and op.target in self.active
                and isinstance(stmt, gast.Assign)
                and isinstance(stmt.targets[0], gast.Name)
            ):
                op = Op(Kind.OVERWRITE, target=op.target)
            op.flagged = self.on_tensors and (
                op.kind in (Kind.CALL, Kind.UNWRAP)
                or op.kind is Kind.RULE
                and self.may_give_integers(op)
            )
            mark(stmt, op=op)
        self.join_sequences(statements)
        self.square_products(statements)
        self.check_operands(statements)
        self.mark_dictless(statements)
        self.refuse_numbers_from_text(statements)
        mark_same_shapes(
            self.fn,
            program,
            self.shapes,
            self.resolve,
            self.p.resolve,
            self.global_number,
            self.changes_nothing,
        )
        useful = useful_names(statements, self.active)
        kept = self.locals | self.free_values()
        for stmt in statements:
            if facts(stmt).op.kind is Kind.RULE and facts(stmt).op.target in useful:
                facts(stmt).op.number_operands = self.global_numbers(facts(stmt).op.operands)
                facts(stmt).op.saves = saves_of(facts(stmt).op, self.active, kept)

    def free_values(self) -> set[str]:
        """The globals and closure variables the function reads that hold values (not
        modules, functions or classes): the adjoint reads what the primal read, saved,
        as a call meanwhile may have given the name another value (``mod.N += 1``)."""
        found = set()
        for n in walk(self.fn):
            if (
                isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Load)
                and n.id not in self.locals
            ):
                known, value = self.p.resolve(n.id)
                if known and not callable(value) and not isinstance(value, types.ModuleType):
                    found.add(n.id)
        return found

    def check_operands(self, statements: list[gast.stmt]) -> None:
        """Have the primal check the operands of Python's operators (``rt.operands``),
        and the arguments of NumPy's functions, arrays' methods, ``sum``, ``float`` and
        ``math`` (``rt.arguments``), that meet a differentiated value where the compiler
        cannot tell they are arrays or numbers: an object of a user's class (``Stats +
        Stats``, a global ``S + x``), a dict (``d | e``) or ``np.matrix`` runs an operator
        of its own, whose derivative the arithmetic rules are not. Plain values
        (``plain_names``) need no check."""
        plain: set[str] | None = None
        promoted = {  # Tensor code's operands cast for an operator, checked as they are
            facts(s).op.target
            for s in statements
            if isinstance(s, gast.Assign) and facts(s).op is not None
            and facts(s).op.primitive is rt_module.tensor_methods.promoted
        }  # fmt: skip
        for s in statements:
            op = facts(s).op
            spread = [e.value for e in op.operands if isinstance(e, gast.Starred)]
            if op.kind is Kind.CALL and self.active & reads_of(gast.Tuple(elts=spread)):
                # ``f(*xs)`` passes what iterating ``xs`` gives, whose adjoints go to the
                # entries ``xs`` holds: the same for lists and tuples, not for a class's
                # own ``__iter__`` (``rt.arguments`` refuses it)
                op.checked, op.symbol = tuple(spread), "*args"
                continue
            if _calls_operator_method(op):  # (the class's own method, compiled)
                continue
            operator_operands = _operator_operands(s)
            if operator_operands is not None and all(
                isinstance(e, gast.Constant) or isinstance(e, gast.Name) and e.id in promoted
                for e in operator_operands[1]
            ):
                continue
            found = operator_operands or _function_operands(s) or self.untaken_operands(s)
            if found is None or not self.active & reads_of(gast.Tuple(elts=found[1])):
                continue
            if plain is None:
                plain = self.plain_names(statements)
            known = (isinstance(e, gast.Constant) or _plain_operand(e, plain) for e in found[1])
            if not all(known):  # (then all of them, for rt to see which meet which)
                op = facts(s).op
                op.checked, op.symbol = tuple(found[1]), found[0]

    def mark_dictless(self, statements: list[gast.stmt]) -> None:
        """Mark the iterations of a differentiated value that surely is no dict
        (``dictless``): their tangents are the value's tangent as it is, not passed
        through ``rt.keyless``."""
        iterations = [
            s for s in statements
            if facts(s).op.kind is Kind.RULE and iterates(facts(s).op.primitive)
            and facts(s).op.operands and self.is_active(facts(s).op.operands[0])
        ]  # fmt: skip
        if not iterations:
            return
        known = self.dictless_names(statements)
        for s in iterations:
            e = facts(s).op.operands[0]
            if isinstance(e, (gast.List, gast.Tuple)) or _plain_operand(e, known):
                mark(s, dictless=True)

    def dictless_names(self, statements: list[gast.stmt]) -> set[str]:
        """Names that surely hold no dict wherever they are read: arrays and numbers
        (``plain_names``), and names every assignment of which gives a list or tuple
        display, ``list()``, ``tuple()``, ``range()``, ``sorted()`` or a copy of such a
        name. (A parameter given a container may be given a dict.)"""
        plain = self.plain_names(statements)
        values = self.assigned_values()
        params = set(params_of(self.fn))
        given = set(self.plain_params)
        known = plain | {n for n in values if n not in params or n in given}
        known |= {p for p in given if p not in values}

        def gives(v: gast.expr | None) -> bool:
            if isinstance(v, (gast.List, gast.Tuple, gast.ListComp)):
                return True
            if isinstance(v, gast.Name):
                return v.id in known
            if isinstance(v, gast.Call):
                return self.resolve(v.func) in SEQUENCE_MAKERS
            return False

        changed = True
        while changed:
            changed = False
            for n, vs in values.items():
                if n in known and n not in plain and not all(map(gives, vs)):
                    known.discard(n)
                    changed = True
        return known

    def refuse_numbers_from_text(self, statements: list[gast.stmt]) -> None:
        """Refuse a number read back from text that holds a differentiated value
        (``float(str(x))``, ``np.float64(f"{x}")``): text carries no gradient, so the
        number would be taken as a constant, though it is the value itself. Text made
        for printing or logging is fine."""
        if not any(isinstance(s, gast.Assign) and self.makes_text(s.value) for s in statements):
            return
        self.follow_text(self.program, set(), top=True)

    def follow_text(self, body: Block, texts: set[str], top: bool) -> None:
        """``refuse_numbers_from_text`` over ``body``, in the order its statements run
        (a loop's twice: its end reaches its start), ``texts`` the names holding text:
        an assignment gives its names text, or another value (then, in the function's
        own block alone, they are no text: a branch or a loop may not run). A no_grad
        block asks for no gradient: a number it reads from text is what it asks for."""
        for node in body:
            if isinstance(node, Repeat):
                for _ in range(2):
                    self.follow_text(node.body, texts, top=False)
                continue
            if not isinstance(node, Step):
                for block in blocks_of(node):
                    self.follow_text(block, texts, top=False)
                continue
            s = node.stmt
            v = getattr(s, "value", None)
            if isinstance(v, gast.Call) and reads_of(v) & texts and self.reads_number(v.func):
                raise self.p.error(
                    "a number read back from text holding a differentiated value, which "
                    "carries no gradient",
                    s,
                    "compute with the value itself (round it with np.round), not its text",
                )
            if not isinstance(s, gast.Assign):
                continue
            made = {n.id for t in s.targets for n in walk(t) if isinstance(n, gast.Name)}
            reads = reads_of(v)
            if not self.counts(v) and (  # (the length of a text is no text)
                reads & texts or reads & self.active and self.makes_text(v)
            ):
                texts |= made
            elif top:
                texts -= made

    def counts(self, v: gast.expr) -> bool:
        """Whether ``v`` is ``len(...)``, ``bool(...)`` or the like: a number of what it
        is given, not its text."""
        if not (isinstance(v, gast.Call) and isinstance(v.func, gast.Name)):
            return False
        kind, obj = self.resolve(v.func)
        return kind == "object" and obj in (len, bool, hash, id, isinstance)

    def makes_text(self, v: gast.expr) -> bool:
        """Whether ``v`` formats values as text: an f-string, ``str``/``repr``/``format``,
        ``"...".format(...)`` or ``"..." % ...``."""
        if isinstance(v, gast.JoinedStr):
            return True
        if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Mod):
            return isinstance(v.left, gast.Constant) and isinstance(v.left.value, str)
        if not isinstance(v, gast.Call):
            return False
        if isinstance(v.func, gast.Attribute) and v.func.attr == "format":
            return True  # "{}".format(x) (or a template's, held by a name)
        kind, obj = self.resolve(v.func)  # (str itself, or by another name)
        return kind == "object" and hashable(obj) and obj in (str, repr, format, ascii)

    def reads_number(self, func: gast.expr) -> bool:
        """Whether calling ``func`` may read a number from text: ``float``, ``complex``,
        NumPy's functions and scalar types, ``.astype``, ``Decimal``, ``eval``, ..."""
        if isinstance(func, gast.Attribute) and func.attr == "astype":
            return True
        kind, obj = self.resolve(func)
        if kind != "object":
            return False
        if isinstance(obj, type) and issubclass(obj, np.generic):
            return True
        return numpy_callable(obj) or hashable(obj) and obj in NUMBER_READERS

    def untaken_operands(self, s: gast.stmt) -> tuple[str, list[gast.expr]] | None:
        """The name and the arguments of a primitive taken to give no gradient that hands
        its work to an object's own method (``round(o)`` runs ``o.__round__``,
        ``math.floor(o)`` its ``__floor__``, ``np.rint(o)`` its ``rint``): a user's
        method may return something that depends on ``o`` smoothly."""
        if not isinstance(s, gast.Assign) or facts(s).op.kind not in (Kind.PASSIVE, Kind.OVERWRITE):
            return None  # fmt: skip
        v = s.value
        if not isinstance(v, gast.Call):
            return None
        kind, obj = self.resolve(v.func)
        check = call_check(obj, rule=False) if kind == "object" else None
        return None if check is None else (check[1], call_arguments(v))

    def plain_names(self, statements: list[gast.stmt]) -> set[str]:
        """Names that surely hold arrays or numbers wherever they are read: parameters the
        call gave them (``plain_params``), and names every assignment of which gives one:
        a constant, a comparison, an operator of plain operands (or of operands checked,
        but for a ``+`` or ``*`` that may join lists), a NumPy function, an array's method
        or an entry of plain values, a copy of a plain name."""
        values = self.assigned_values()
        params = set(params_of(self.fn))
        counted = collections.Counter(  # the names a loop over range() binds: integers
            node.target.id
            for node in walk_nodes(self.program)
            if isinstance(node, Repeat)
            and node.kind is LoopKind.FOR
            and isinstance(node.target, gast.Name)
            and isinstance(node.iter, gast.Call)
            and self.resolve(node.iter.func) == ("object", range)
        )
        bound = {n: vs.count(None) for n, vs in values.items()}  # ... and otherwise
        plain = {n for n in values if bound[n] == counted[n] and n not in params}
        plain |= {p for p in self.plain_params if not bound.get(p)}
        free = {n.id for n in walk(self.fn) if isinstance(n, gast.Name)} - self.locals
        plain |= {n for n in free if self.global_number(n)}  # (Unit.stale checks them)
        assignments = [
            s for s in statements
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
        ]  # fmt: skip

        def gives_plain(s: gast.Assign) -> bool:
            op = facts(s).op
            found = _operator_operands(s)
            if found is not None:
                symbol, operands = found
                if all(_plain_operand(e, plain) for e in operands):
                    return True
                if not any(map(self.is_active, operands)):
                    return False  # (unchecked: see check_operands)
                # checked: an array or a number, but a list's + or * makes a list (an
                # integer's * too: plain beside an array, not beside an integer)
                return symbol not in ("+", "*", "+=", "*=") or any(
                    _plain_operand(e, plain) and not _whole(e, counted) for e in operands
                )
            v = s.value
            if isinstance(v, gast.Compare):
                return True
            if isinstance(v, gast.Constant):
                return _number(v)
            if isinstance(v, gast.Name):
                return v.id in plain
            if isinstance(v, gast.Attribute):  # an array's .shape, .T
                return v.attr in ARRAY_ATTRIBUTES and _plain_operand(v.value, plain)
            if isinstance(v, gast.Subscript):
                return _plain_operand(v.value, plain)
            if op is not None and op.kind is Kind.RULE and op.operands:
                if op.primitive is operator.getitem:
                    return _plain_operand(op.operands[0], plain)
                if isinstance(op.primitive, str):  # an array's method, of plain operands
                    return op.primitive.startswith("ndarray.") and all(
                        isinstance(e, gast.Constant) or _plain_operand(e, plain)
                        for e in op.operands
                    )
            if not isinstance(v, gast.Call):
                return False
            kind, obj = self.resolve(v.func)
            if kind != "object" or not (obj is len or numpy_callable(obj)):
                return False
            return obj is len or (
                all(_plain_operand(a, plain) for a in v.args)
                and all(
                    _plain_operand(k.value, plain) or _is_none(k.value) and k.arg != "fill_value"
                    for k in v.keywords
                )
            )

        changed = True
        while changed:
            changed = False
            for s in assignments:
                target = s.targets[0].id
                if target in plain and not gives_plain(s):
                    plain.discard(target)
                    changed = True
        return plain

    def join_sequences(self, statements: list[gast.stmt]) -> None:
        """Give ``+`` and ``*`` the rules that join and repeat sequences where an operand
        may be a list or tuple built here or passed in (an element taken out of a
        container, or a callee's result, is taken for an array: ``rt.unbroadcast`` says
        if it was not)."""
        sequences = set(self.sequence_params)
        changed = True
        while changed:
            changed = False
            for s in statements:
                op = facts(s).op
                if not op.target or op.target in sequences:
                    continue
                if op.kind in (Kind.PASSIVE, Kind.OVERWRITE):
                    value = getattr(s, "value", None)
                    found = isinstance(value, (gast.List, gast.Tuple, gast.ListComp)) or (
                        isinstance(value, gast.Name) and value.id in sequences
                    )
                elif op.kind in (Kind.COPY, Kind.UNWRAP) or (  # rt.unwrap and
                    op.kind is Kind.RULE and op.primitive is rt_module.tensor_methods.promoted
                ):  # rt.tensor_methods.promoted pass a list as it is
                    found = op.operands[0].id in sequences
                elif (
                    op.kind is Kind.RULE
                    and sequence_rule(op.primitive)
                    and any(isinstance(a, gast.Name) and a.id in sequences for a in op.operands)
                ):
                    op.rule = registry.lookup(sequence_rule(op.primitive))
                    found = True
                else:
                    found = op.kind is Kind.RULE and op.primitive in (
                        "tuple-display",
                        "list-display",
                        rt_module.appended,
                        list,
                        tuple,
                    )
                if found:
                    sequences.add(op.target)
                    changed = True

    def square_products(self, statements: list[gast.stmt]) -> None:
        """``v * v`` takes the rule of ``np.square(v)`` (see ``as_square``)."""
        for s in statements:
            as_square(facts(s).op)

    def changes_nothing(self, c: gast.Call) -> bool:
        """Whether the call ``c`` surely changes none of its arguments."""
        if _pure_call(self, c):
            return True
        kind, obj = self.resolve(c.func)
        return (
            kind == "object"
            and isinstance(obj, types.FunctionType)
            and obj is not self.p.fn
            and function_is_pure(obj)
        )

    def global_numbers(self, operands: list[gast.expr]) -> frozenset[int]:
        """The positions of the operands that are globals holding Python numbers: like
        constants, they broadcast nothing."""
        return frozenset(
            i
            for i, a in enumerate(operands)
            if isinstance(a, gast.Name) and a.id not in self.locals and self.global_number(a.id)
        )

    def global_number(self, n: str) -> bool:
        """Whether the global (or closure variable) ``n`` holds a Python number now; code
        compiled from that relies on it (``Unit.stale`` checks it on each call)."""
        found, value = self.p.resolve(n)
        number = found and is_number(value)
        if number:
            self.assumed_numbers.add(n)
        return number


def is_number(value: Any) -> bool:
    """A Python number (a NumPy scalar too), not a flag, nor a subclass's with operators
    of its own (``rt.plain_operand_type``)."""
    return (
        isinstance(value, (int, float, complex))
        and not isinstance(value, bool)
        and (type(value) in (int, float, complex) or rt_module.plain_operand_type(type(value)))
    )


def _stepped(obj: Any, call: gast.Call | None) -> tuple[str, str]:
    """Why ``next(g)`` (``iter(xs)``) of values that may carry a gradient is refused, and
    what to write instead, naming what the user passed where normalize kept its name."""
    arg = call.args[0] if call is not None and call.args else None
    named = isinstance(arg, gast.Name) and not re.fullmatch(r"t\d+", arg.id)
    shown = f"{obj.__name__}({arg.id if named else '...'})"
    if obj is next:
        return (
            f"{shown}: a generator or an iterator stepped one value at a time, which "
            "srcdiff does not follow (it compiles a generator of yours where its values "
            "are consumed whole: for v in gen(x), list(gen(x)), sum(gen(x)))",
            "take its values as a list first (vals = list(gen(x)), then vals[0], "
            "vals[1]), or loop over it (for v in gen(x): ...)",
        )
    return (
        f"{shown}: an iterator of values that may carry a gradient, which srcdiff does not "
        "follow (it follows lists, tuples and the loops over them)",
        "index the list or tuple itself (xs[0], xs[1]), or loop over it (for v in xs: ...)",
    )


def dtype_kind(value: Any) -> str | None:
    """The kind (NumPy's letter) of the dtype ``value`` is (a Tensor's too), or None where
    it is none."""
    if isinstance(value, dtypes.dtype):  # a Tensor's (torch.long)
        return value.numpy.kind
    try:
        return np.dtype(value).kind
    except TypeError:
        return None


def describe(obj: Any) -> str:
    """How a user names ``obj``: ``np.linalg.inv``, ``math.gamma``, ``max``."""
    module = getattr(obj, "__module__", None) or ""
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    if module.split(".")[0] == "numpy":
        public = [p for p in module.split(".")[1:] if not p.startswith("_")]
        return ".".join(["np", *public, qual])
    return f"{module}.{qual}" if module and module != "builtins" else qual


def describe_op(op: gast.operator) -> str:
    return f"operator {type(op).__name__}"


def is_python_callable(obj: Any) -> bool:
    """Functions with Python source, bound methods of them, and other callable objects
    (whose call is resolved when the code runs); not classes."""
    if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType, type)):
        return False  # builtins, and classes: what a constructor does is not differentiated
    if type(obj).__name__ == "ufunc" or type(obj).__module__.startswith("numpy"):
        return False
    return callable(obj)


def _names_used(fn: gast.FunctionDef, ctx: type, but: set[int]) -> set[str]:
    """The names ``fn`` stores (``ctx`` Store) or loads, but at the nodes ``but`` (ids)."""
    return {
        n.id
        for n in walk(fn)
        if isinstance(n, gast.Name) and isinstance(n.ctx, ctx) and id(n) not in but
    }


def saves_of(op: Op, active: set[str], local: set[str] | None = None) -> tuple[str, ...]:
    """Names whose values (after the statement) the adjoint of ``op`` reads, for the
    gradients of its active operands: those its rule, expanded here, actually loads.
    Names that are not ``local`` (globals, closure variables) are read where they are."""
    if op.kind is not Kind.RULE:
        return ()
    rule = op.rule
    operand_names = {n.id for a in op.operands for n in walk(a) if isinstance(n, gast.Name)}
    known = operand_names | ({op.target} if op.target else set())
    if local is not None:
        known &= local
    if not rule.inline:
        given = [operand_name(a) for a in [*op.operands, *(k.value for k in op.keywords)]]
        given = [n for n in given if n is not None and (local is None or n in local)]  # *a too
        return tuple(dict.fromkeys([op.target, *given]))
    loads = _rule_loads(op, active, known)
    if op.dtype_at_run_time and op.target not in loads:  # read by rt.carried
        loads = (op.target, *loads)
    return loads


def _rule_loads(op: Op, active: set[str], known: set[str]) -> tuple[str, ...]:
    """What ``op``'s inline rule, expanded, reads (``_expanded_loads``), by the pattern of
    the statement where one was seen before."""
    rule = op.rule
    pattern = _Pattern(op, active, known)
    key = pattern.key()
    hit = _SAVES.get(key) if key is not None else None
    if hit is not None and hit[0] is rule:  # (the rule kept: its id is not reused)
        return tuple(pattern.names[i] for i in hit[1])
    loads = _expanded_loads(op, active, known)
    if key is not None:
        if len(_SAVES) > 4096:
            _SAVES.clear()
        _SAVES[key] = (rule, tuple(pattern.slot(n) for n in loads))
    return loads


# The loads of a rule's adjoint, by the pattern of the statement it is expanded for: the
# same rule over the same arrangement of names and constants reads the same (see _Pattern)
_SAVES: dict[tuple, tuple[registry.Rule, tuple[int, ...]]] = {}


SIMPLE = (int, float, str, bool, type(None))  # constants a pattern holds as they are


class _Pattern:
    """A statement's operands, keywords and target with each name replaced by its slot
    (numbered in order of appearance) and whether it is active and known: what decides
    which of them a rule's adjoint reads, whatever the names are."""

    def __init__(self, op: Op, active: set[str], known: set[str]):
        self.op, self.active, self.known = op, active, known
        self.names: list[str] = []
        self.slots: dict[str, int] = {}

    def slot(self, n: str) -> int:
        if n not in self.slots:
            self.slots[n] = len(self.names)
            self.names.append(n)
        return self.slots[n]

    def part(self, e: gast.expr | None) -> Any:
        if e is None:
            return None
        if isinstance(e, gast.Name):
            return "n", self.slot(e.id), e.id in self.active, e.id in self.known
        if isinstance(e, gast.Constant) and isinstance(e.value, SIMPLE):
            return "c", type(e.value).__name__, e.value
        if isinstance(e, (gast.Tuple, gast.List, gast.Starred)):
            inner = e.elts if not isinstance(e, gast.Starred) else [e.value]
            parts = tuple(self.part(x) for x in inner)
            return None if None in parts else (type(e).__name__, parts)
        return None  # anything else: not cached

    def key(self) -> tuple | None:
        op = self.op
        target = self.part(name(op.target)) if op.target else ("none",)
        operands = tuple(self.part(a) for a in op.operands)
        bound = tuple((k, self.part(v)) for k, v in sorted(op.bound.items()))
        if None in operands or any(p is None for _, p in bound):
            return None
        repeats = op.primitive is operator.mul
        return (id(op.rule), target, operands, bound, op.same_shape, op.number_operands, repeats)


def _expanded_loads(op: Op, active: set[str], known: set[str]) -> tuple[str, ...]:
    """The names of ``known`` that ``op``'s rule, expanded, reads for the gradients of
    its active operands."""
    rule = op.rule
    from .normalize import Names
    from .template import expand

    names = Names(known | {"__g"})
    expansion = expand(
        rule,
        name("__g"),
        name(op.target or "__ans"),
        op.bound,
        op.operands,
        names,
        op.same_shape,
        op.number_operands,
        op.primitive is operator.mul,
    )
    read = list(expansion.prelude)
    read += [
        c
        for a, c in zip(op.operands, expansion.components, strict=True)
        if c is not None and isinstance(a, gast.Name) and a.id in active
    ]
    read = [folded(node) for node in read]  # a branch on a constant argument: the one taken
    loads = [
        n.id
        for node in read
        for n in walk(node)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in known
    ]
    return tuple(dict.fromkeys(loads))


def useful_names(statements: list[gast.stmt], active: set[str]) -> set[str]:
    """Active names whose adjoints can reach a returned value or a ``backward()``: only
    their statements need saved values."""
    useful = {
        op.operands[0].id
        for op in (facts(s).op for s in statements)
        if op is not None
        and op.kind in (Kind.RETURN, Kind.BACKWARD)
        and op.operands
        and isinstance(op.operands[0], gast.Name)
    }
    changed = True
    while changed:
        changed = False
        for s in statements:
            op = facts(s).op
            if op.target not in useful or op.kind not in DIFFERENTIATING:
                continue
            for a in op.operands + [k.value for k in op.keywords]:
                for n in walk(a):
                    if isinstance(n, gast.Name) and n.id in active and n.id not in useful:
                        useful.add(n.id)
                        changed = True
    return useful


def _calls_operator_method(op: Op) -> bool:
    """Whether ``op`` calls what ``rt.operator_method`` finds (see ``operator_call``)."""
    callee = op.callee if op.kind is Kind.CALL else None
    return isinstance(callee, gast.Call) and getattr(callee.func, "attr", "") == "operator_method"


def found_objects(fn: gast.FunctionDef, values: dict[str, list[gast.expr | None]],
                  locals_: Collection[str], resolve: Callable[[gast.expr], tuple[Any, Any]],
                  fields: frozenset[str] = frozenset()) -> set[str]:  # fmt: skip
    """The free names of ``fn`` holding an object of a user's class now, and its local
    names every assignment of which reads one (``values``: what each is given, see
    ``assigned_in``): a global's field holding one now (``s = net.scale``; ``resolve``
    gives ``(found, obj)`` for such a read), or one of ``fields``, a parameter's field
    the call gave one (``"self.scale"``)."""

    def held(v: gast.expr | None) -> bool:
        base = v
        while isinstance(base, gast.Attribute):
            base = base.value
        if not (isinstance(v, gast.Attribute) and isinstance(base, gast.Name)):
            return False
        if base.id in locals_:
            return v.value is base and f"{base.id}.{v.attr}" in fields
        found, obj = resolve(v)
        return found not in (False, "dynamic") and rt_module.is_record(obj)

    found = {n for n, vs in values.items() if n not in params_of(fn) and all(map(held, vs))}
    free = {n.id for n in walk(fn) if isinstance(n, gast.Name) and n.id not in locals_}
    for n in free:  # a global or a closure's variable: ``scale * h``
        where, obj = resolve(gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None))
        if where not in (False, "dynamic") and rt_module.is_record(obj):
            found.add(n)
    return found


def operands_of(v: gast.expr | None) -> list[gast.expr]:
    """The operands of an operator (``a + b``, ``-a``)."""
    return _operands(v)


# the Tensor methods returning ``(values, indices)`` (``max`` and ``min`` along a dim; a
# 0-d result of theirs has no entry 1), as ``resolve`` finds them in compiled Tensor code
PAIRED_RESULTS = [
    ("object", getattr(tensor_methods, m))
    for m in ("max", "min", "sort", "topk", "median", "kthvalue", "cummax", "cummin")
]


def _index_parts(index: gast.expr) -> list[gast.expr]:
    """The values an index is made of: a tuple's entries, and in Tensor code what
    ``rt.tensor_methods.index(i)`` (or ``index_part``) checks."""
    parts = list(index.elts) if isinstance(index, gast.Tuple) else [index]
    out = []
    for p in parts:
        while (
            isinstance(p, gast.Call)
            and isinstance(p.func, gast.Attribute)
            and p.func.attr in ("index", "index_part")
            and p.args
        ):
            p = p.args[0]
        out += list(p.elts) if isinstance(p, gast.Tuple) else [p]
    return out


def _holder_read(v: gast.expr | None) -> str | None:
    """The name ``v`` reads an entry or a field of (``vs[i]``, ``h.v``; ``vs`` of
    ``rt.iterable(vs)``, which a loop over ``vs`` indexes), or None."""
    if isinstance(v, (gast.Subscript, gast.Attribute)) and isinstance(v.value, gast.Name):
        return v.value.id
    if is_rt_call(v, "iterable") and v.args and isinstance(v.args[0], gast.Name):
        return v.args[0].id
    return None


def _lowered_method(obj: Any) -> bool:
    """Whether ``obj`` is the array version of a Tensor method (``rt.tensor_methods.mul``)
    that Tensor code's ``h.mul(w)`` was lowered to, which runs ``h``'s own method where
    ``h`` is no array."""
    name = getattr(obj, "__name__", None)
    return (
        isinstance(name, str)
        and tensor_methods.METHODS.get(name) is obj
        and name not in rt_module.tensors.IN_PLACE_ELSEWHERE
        and hasattr(rt_module.tensors.tensor_class(), name)  # (not ``div_rounded``)
    )


def _follows(v: gast.expr | None, objects: Collection[str]) -> bool:
    """Whether ``v`` is ``rt.follow(m, old, new)`` or ``rt.update_into(m, new)`` of one
    of ``objects`` (``m`` after it or an alias of it was updated in place: ``m`` itself,
    or what the update made of it)."""
    return (
        (is_rt_call(v, "follow") or is_rt_call(v, "update_into"))
        and isinstance(v.args[0], gast.Name)
        and v.args[0].id in objects
    )


def _operands(v: gast.expr | None) -> list[gast.expr]:
    if isinstance(v, gast.BinOp):
        return [v.left, v.right]
    if is_rt_call(v, "augmented"):  # ``v += w``: ``v = rt.augmented(v, t)``, t = v + w
        return list(v.args)
    if isinstance(v, gast.UnaryOp):
        return [v.operand]
    return [v] if isinstance(v, gast.Name) else []


def _autograd_backward(resolved: tuple[str, Any]) -> bool:
    """Whether a callee resolved so is ``sd.autograd.backward`` (found by name: the
    compiler does not import the Tensor layer)."""
    kind, obj = resolved
    return (
        kind == "object"
        and getattr(obj, "__module__", None) == "srcdiff.autograd"
        and getattr(obj, "__name__", None) == "backward"
    )


def _run_before(body: Block, at: gast.stmt, looped: bool) -> list[gast.stmt]:
    """The statements of ``body`` and its blocks that have run, once, whenever ``at``
    runs: those ahead of it in each block that holds it, outside loops."""
    for i, node in enumerate(body):
        if not any(x.stmt is at for x in walk_nodes((node,))):
            continue
        found = [] if looped else [n.stmt for n in body[:i]]
        loop = looped or isinstance(node, Repeat)
        for block in blocks_of(node) if node.stmt is not at else []:
            if any(x.stmt is at for x in walk_nodes(block)):
                found += _run_before(block, at, loop)
        return found
    return []


def _rt_attr(helper: str) -> gast.Attribute:
    return gast.Attribute(value=name("rt"), attr=helper, ctx=gast.Load())


def _is_setter(attribute: Any) -> bool:
    """Whether a class attribute runs code when an instance's attribute of its name is
    assigned (a property, a descriptor with ``__set__``; not a slot)."""
    return hasattr(attribute, "__set__") and not isinstance(attribute, types.MemberDescriptorType)


# calls whose results describe a value and carry none of its gradient: a message, a size
_DESCRIBING = (str, repr, format, len, type, np.shape, np.ndim, np.size)


def _is_put_attribute(node: gast.AST) -> bool:
    """``rt.put_attribute(holder, "attr", entry)`` (see ``normalize.put``)."""
    return is_rt_call(node, "put_attribute") and _names_first(node)


def _field_update(holder: str, field: str) -> tuple[str, str]:
    """Why ``holder.field.append(v)`` (``extend``, ...) with a differentiated ``v`` is
    refused where the function did not build ``holder`` itself, and what to write."""
    return (
        f"`{holder}.{field}` updated in place (`.append(...)`, `.extend(...)`, ...) with a "
        f"value carrying a gradient, where `{holder}` is an object the function did not "
        "build itself (an argument, an object another function made): "
        + rt_module.objects.CONTAINER_UPDATE_WHY,
        rt_module.objects.CONTAINER_UPDATE_HINT,
    )


def _dynamic_fields(fn: Any, nargs: int) -> tuple[str, str]:
    """Why ``vars(p)`` (``p.__dict__``) or ``getattr(p, name, default)`` of a
    differentiated ``p`` is refused, and what to write instead."""
    if fn is vars:
        return (
            "vars(p) or p.__dict__ of a value carrying a gradient: compiled code follows an "
            "object's fields one by one, by name, not through the dict Python keeps them in",
            "read the fields by name: p.w, or getattr(p, name) for each name of a list "
            "(for name in ('w', 'b'): ...)",
        )
    return (
        f"getattr() given {nargs} arguments, on a value carrying a gradient",
        "read the field with getattr(p, name) or getattr(p, name, default)",
    )


def _remove(body: list[gast.stmt], s: gast.stmt) -> bool:
    """Take the statement ``s`` out of whichever block of ``body`` holds it."""
    for i, t in enumerate(body):
        if t is s:
            del body[i]
            return True
        if any(_remove(b, s) for b in blocks(t)):
            return True
    return False


def _names_first(call: gast.Call) -> bool:
    """Whether ``call``'s first argument is a name."""
    return bool(call.args) and isinstance(call.args[0], gast.Name)


def assigned_on_tree(body: list[gast.stmt]) -> dict[str, list[gast.expr | None]]:
    """``assigned_in`` of a normalized body before its IR is made (as ``unwrap`` reads it)."""
    values: dict[str, list[gast.expr | None]] = {}
    for s in walk_statements(body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            values.setdefault(s.targets[0].id, []).append(s.value)
        else:
            for n in _bound_names(s):
                values.setdefault(n, []).append(None)
    return values


def _bound_names(s: gast.stmt) -> list[str]:
    """The names a statement binds other than as the one target of an assignment: a
    loop's variables, an unpacking's, a with's and an except's names."""
    if isinstance(s, gast.For):
        heads = [s.target]
    elif isinstance(s, gast.Assign):
        heads = s.targets
    else:
        heads = [item.optional_vars for item in getattr(s, "items", ()) if item.optional_vars]
        heads += [h.name for h in getattr(s, "handlers", ()) if h.name is not None]
    return [n.id for head in heads for n in walk(head)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)]  # fmt: skip


def _assigns(node: Node) -> bool:
    """Whether ``node`` is an assignment step (``t = ...``, ``a, b = ...``, ``o.f = ...``)."""
    return isinstance(node, Step) and node.kind is StepKind.ASSIGN


def _named_assignment(node: Node) -> gast.Assign | None:
    """The assignment ``node`` is, where it gives one name a value (``t = ...``)."""
    if _assigns(node) and isinstance(node.stmt.targets[0], gast.Name):
        return node.stmt
    return None


def assigned_in(program: Iterable[Node]) -> dict[str, list[gast.expr | None]]:
    """The values each local name is given in the IR nodes ``program`` (None: bound
    otherwise, by a loop, an unpacking, a with or an except), in their order."""
    values: dict[str, list[gast.expr | None]] = {}
    for node in program:
        if (assigned := _named_assignment(node)) is not None:
            values.setdefault(assigned.targets[0].id, []).append(assigned.value)
            continue
        heads: list[gast.expr] = []
        if _assigns(node):
            heads = node.stmt.targets
        elif isinstance(node, Repeat) and node.kind is LoopKind.FOR:
            heads = [node.target]
        elif isinstance(node, NoGradBlock):
            heads = [i.optional_vars for i in node.stmt.items if i.optional_vars is not None]
        bound = [n.id for head in heads for n in walk(head)
                 if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)]  # fmt: skip
        if isinstance(node, TryBlock):
            bound = [c.name for c in node.handlers if c.name is not None]
        for n in bound:
            values.setdefault(n, []).append(None)
    return values


def analyse(
    parsed: Parsed,
    fn: gast.FunctionDef,
    active_params: set[str],
    dialect: Dialect = Dialect.ARRAYS,
    sequence_params: frozenset[str] = frozenset(),
    shapes: dict[str, tuple | None] | None = None,
    plain_params: frozenset[str] = frozenset(),
    object_params: frozenset[str] = frozenset(),
    holder_params: frozenset[str] = frozenset(),
) -> Analysis:
    """Make ``fn`` (normalized) typed IR, and annotate it with Ops and Loops; return the
    analysed function (its IR in ``program``).
    ``sequence_params`` are the parameters passed lists or tuples; ``shapes`` are the
    parameters' symbolic shapes (see ``rt.shape_pattern``); ``plain_params`` those passed
    arrays or numbers (see ``check_operands``), ``object_params`` those passed objects of a
    user's class, ``holder_params`` those passed containers or records holding such
    objects (in code on Tensors: the parameters' fields given such objects, ``"self.scale"``;
    see ``user_object``)."""
    analyser = Analyser(parsed, fn, active_params, dialect, sequence_params, shapes)
    analyser.plain_params = plain_params
    analyser.object_params = object_params
    analyser.holder_params = holder_params
    analyser.own_fields()  # (the last rewrite of the tree: its IR is made after it)
    program = build(fn.body)
    analyser.run(program)
    annotate_loops(program, analyser.active, set(params_of(fn)))
    hoist_invariant_saves(program, frozenset(analyser.free_values()), parsed.fn.__globals__)
    share_saves(program, analyser.locals, sharing=facts(fn).sharing)
    statements = [node.stmt for node in walk_nodes(program)]
    mark_copied_updates(fn, program)
    pure = (
        not dialect.on_tensors
        and is_pure(analyser, program)
        and not recursive(parsed.fn, static_callees(analyser, statements))
    )
    return Analysis(
        parsed,
        fn,
        pure,
        frozenset(analyser.assumed_numbers),
        getattr(facts(fn).sharing, "updated_params", ()),
        getattr(facts(fn).sharing, "updated_by_name", ()),
        source=parsed.listing,
        params=params_of(fn),
        active=analyser.active,
        program=program,
    )


def _operator_operands(s: gast.stmt) -> tuple[str, list[gast.expr]] | None:
    """The symbol and the operands of the Python operator a statement applies (``t = a +
    b``, ``t = -a``, ``t = operator.add(a, b)``, ``t = abs(a)``); None for another."""
    if not isinstance(s, gast.Assign):
        return None
    v = s.value
    if isinstance(v, gast.BinOp):
        return OPERATOR_SYMBOLS[BINOPS[type(v.op)]], [v.left, v.right]
    if isinstance(v, gast.Compare) and all(type(o) in _COMPARISONS for o in v.ops):
        # (an object's own ``__lt__`` may compute a value a comparison's zero would drop)
        return _COMPARISONS[type(v.ops[0])], [v.left, *v.comparators]
    if isinstance(v, gast.UnaryOp) and type(v.op) in UNARYOPS:
        return OPERATOR_SYMBOLS[UNARYOPS[type(v.op)]], [v.operand]
    op = facts(s).op
    if op is not None and op.kind is Kind.RULE and isinstance(v, gast.Call):
        symbol = OPERATOR_SYMBOLS.get(op.primitive) if hashable(op.primitive) else None
        if symbol is not None:  # (pow's modulus None is no operand)
            return symbol, [e for e in op.operands if not _is_none(e)]
    return None


def _function_operands(s: gast.stmt) -> tuple[str, list[gast.expr]] | None:
    """The name and the operands of a NumPy function, an array's method or ``sum`` a
    statement applies with a rule (``t = np.add(a, b)``, ``t = a.dot(b)``), whose
    operands may be objects of a user's class too (see ``check_operands``)."""
    op = facts(s).op
    if not isinstance(s, gast.Assign) or op is None or op.kind is not Kind.RULE:
        return None
    operands = [e for e in op.operands if not isinstance(e, gast.Starred)]
    if isinstance(op.primitive, str) and op.primitive.startswith("ndarray."):
        return "." + op.primitive.removeprefix("ndarray."), operands
    check = call_check(op.primitive)
    return None if check is None else (check[1], operands)


def call_arguments(call: gast.Call) -> list[gast.expr]:
    """A call's arguments as the arguments of a check of them: ``*xs`` as it is, and
    ``**kw`` as ``*kw.values()``."""
    return [
        *call.args,
        *(
            k.value if k.arg is not None
            else gast.Starred(value=gast.Call(func=gast.Attribute(value=k.value, attr="values",
                              ctx=gast.Load()), args=[], keywords=[]), ctx=gast.Load())
            for k in call.keywords
        ),
    ]  # fmt: skip


def _whole(e: gast.expr, counters: Collection[str]) -> bool:
    """An integer constant, or a loop's counter over range(): a list times it is a list."""
    if isinstance(e, gast.Constant):
        return type(e.value) in (int, bool)
    return isinstance(e, gast.Name) and e.id in counters


def _plain_operand(e: gast.expr, plain: set[str]) -> bool:
    """A number, a plain name, or a tuple of them (a shape: ``np.zeros((n, 4))``)."""
    if isinstance(e, gast.Tuple):
        return all(_plain_operand(x, plain) for x in e.elts)
    return _number(e) or isinstance(e, gast.Name) and e.id in plain


def _number(e: gast.expr) -> bool:
    return isinstance(e, gast.Constant) and type(e.value) in (int, float, bool, complex)


def _is_none(e: gast.expr) -> bool:
    return isinstance(e, gast.Constant) and e.value is None


# an array's attributes that are arrays or numbers (another may be a subclass's own)
ARRAY_ATTRIBUTES = frozenset({"T", "mT", "real", "imag", "shape", "ndim", "size", "dtype"})


def mark_copied_updates(fn: gast.FunctionDef, program: Block) -> None:
    """Give an in-place update without gradient a new value too (``functional``) where
    the object may be the caller's (taking a gradient never writes into the caller's
    arrays) or may have been saved for the adjoint (which must read it as it was)."""
    sharing = facts(fn).sharing
    if sharing is None:
        return
    nodes = list(walk_nodes(program))
    saved = {n for node in nodes for n in facts(node.stmt).op.saves}
    for node in nodes:
        if isinstance(node, Repeat):
            loop = node.loop
            saved.update(loop.entry_saves, loop.exit_saves, loop.maybe_saves, loop.final_saves,
                         loop.hoisted)  # fmt: skip
    for s in (node.stmt for node in nodes):
        written = is_update(s)
        if written is not None and facts(s).op.kind in (Kind.PASSIVE, Kind.OVERWRITE):
            own = written in sharing.locals  # a global's object is updated as written
            mark(s, functional=own and (facts(s).callers or bool(sharing.group(written) & saved)))


PURE_BUILTINS = {
    "len",
    "range",
    "min",
    "max",
    "abs",
    "float",
    "int",
    "bool",
    "isinstance",
    "zip",
    "enumerate",
    "sum",
    "round",
    "tuple",
    "list",
    "dict",
    "sorted",
    "reversed",
    "any",
    "all",
    "str",
    "repr",
    "slice",
    "divmod",
    "pow",
}
PURE_METHODS = {
    "sum",
    "mean",
    "max",
    "min",
    "prod",
    "std",
    "var",
    "cumsum",
    "reshape",
    "transpose",
    "squeeze",
    "ravel",
    "flatten",
    "dot",
    "astype",
    "copy",
    "item",
    "tolist",
    "argmax",
    "argmin",
    "any",
    "all",
    "clip",
    "keys",
    "values",
    "items",
    "get",
    "index",
    "count",
}


# Per function, held weakly: whether it is pure, and (weakly) the functions it calls.
_PURITY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CALLEES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def static_callees(analyser: Analyser, statements: list[gast.stmt]) -> list:
    """The Python functions the calls among ``statements`` resolve to now; a call whose
    callee is only known when it runs gives ``None``."""
    out = []
    for s in statements:
        if facts(s).op is not None and facts(s).op.kind is Kind.CALL:
            kind, obj = analyser.resolve(facts(s).op.callee)
            out.append(obj if kind == "object" and isinstance(obj, types.FunctionType) else None)
    return out


def recursive(fn: Any, callees: list) -> bool:
    """Whether ``fn`` is among the functions ``callees`` call, directly or not (so its
    calls nest: running each twice would cost exponentially)."""
    seen, stack = set(), list(callees)
    while stack:
        f = stack.pop()
        if f is fn:
            return True
        if f is None or f in seen:
            continue
        seen.add(f)
        function_is_pure(f)
        stack += [ref() for ref in _CALLEES.get(f, [])]
    return False


def function_is_pure(fn: types.FunctionType) -> bool:
    """``is_pure`` of another function (a function being checked counts as pure, so
    recursion does not make a function impure); a callee known only when the code runs
    (None) is not known to be pure."""
    if fn is None:
        return False
    if fn not in _PURITY:
        _PURITY[fn] = True
        try:
            parsed = parse(fn)
            normalized = normalize(parsed, Names(all_names(parsed.tree)))
            analyser = Analyser(parsed, normalized, set(params_of(normalized)))
            analyser.own_fields()
            program = build(normalized.body)
            analyser.run(program)
            statements = [node.stmt for node in walk_nodes(program)]
            _CALLEES[fn] = [weakref.ref(f) if f is not None else (lambda: None)
                            for f in static_callees(analyser, statements)]  # fmt: skip
            _PURITY[fn] = is_pure(analyser, program)
        except Exception:  # noqa: BLE001 - a function srcdiff cannot read is not pure
            _PURITY[fn] = False
    return _PURITY[fn]


# builtins that look at what a value is: run on a whole batch (sd.vmap), they see the
# batch, not one example
TYPE_INSPECTIONS = frozenset({isinstance, issubclass, type, hasattr, callable, id, np.isscalar})
INSPECTION_NAMES = frozenset(f.__name__ for f in TYPE_INSPECTIONS)


def runs_as_one_example(fn: types.FunctionType) -> bool:
    """Whether ``fn`` and the functions it calls (``function_is_pure`` finds them) neither
    catch exceptions nor look at what their values are: run once on a whole batch, a
    ``try`` would catch the batch's refusal of a step (and run its handler for every
    example), an ``isinstance`` would see the batch."""
    seen: set[types.FunctionType] = set()

    def plain(f: types.FunctionType | None) -> bool:
        if f is None or f in seen:
            return f is not None
        seen.add(f)
        parsed = parse(f)
        handed = []  # functions it passes on (sd.jvp(g, ...) runs g on the batch too)
        for n in gast.walk(parsed.tree):
            if isinstance(n, gast.Try) or isinstance(n, gast.Attribute) and n.attr == "__class__":
                return False
            if not isinstance(n, gast.Call):
                continue
            if isinstance(n.func, gast.Name):
                found, obj = parsed.resolve(n.func.id)
                if found and hashable(obj) and obj in TYPE_INSPECTIONS:
                    return False
            elif isinstance(n.func, gast.Attribute) and n.func.attr in INSPECTION_NAMES:
                return False  # (builtins.isinstance, np.isscalar: by any path)
            for a in n.args:
                found, obj = parsed.resolve(a.id) if isinstance(a, gast.Name) else (False, None)
                if found and isinstance(obj, types.FunctionType):
                    handed.append(obj)
        function_is_pure(f)  # (finds its callees)
        return all(plain(ref()) for ref in _CALLEES.get(f, ())) and all(map(plain, handed))

    return plain(fn)


def is_pure(analyser: Analyser, program: Block) -> bool:
    """True when running the function (its IR ``program``) twice cannot be told from
    running it once: it calls srcdiff's known primitives, math, pure builtins, methods
    that change nothing and other pure functions; it writes into no attribute, no item
    and no list in place."""
    nodes = list(walk_nodes(program))
    statements = [node.stmt for node in nodes]
    for node in nodes:
        s = node.stmt
        if (
            facts(s).no_grad
            or facts(s).in_object
            or facts(s).op.kind
            in (
                Kind.UNWRAP,
                Kind.BACKWARD,
            )
        ):  # (a write into a global's object: see compiler/snapshots)
            return False
        if facts(s).op.kind is Kind.CALL:
            if not all(function_is_pure(f) for f in static_callees(analyser, [s])):
                return False
            continue
        target = s.targets[0] if isinstance(s, gast.Assign) else None
        if isinstance(target, gast.Attribute) or (
            isinstance(target, gast.Subscript)
            and facts(s).op.kind is Kind.PASSIVE
            and not _made_here(analyser, statements, target.value)
        ):
            return False  # a store into an object another function may hold
        if (
            facts(s).op.kind is Kind.PASSIVE
            and isinstance(getattr(s, "value", None), gast.Call)
            and getattr(s.value.func, "attr", None) == "appended"
            and _may_be_callers(analyser, s.value.args[0])
        ):
            return False  # the user's own append, in place, to a list it may not own
        if isinstance(node, TryBlock):
            heads = [c.type for c in node.handlers if c.type is not None]
        elif isinstance(node, Branch):
            heads = [node.test]
        elif isinstance(node, Repeat):
            heads = [node.iter if node.kind is LoopKind.FOR else node.test]
        else:
            heads = [s]  # bodies: on their own
        if not all(
            _pure_call(analyser, c) for h in heads for c in walk(h) if isinstance(c, gast.Call)
        ):
            return False
    return True


def _made_here(analyser: Analyser, statements: list[gast.stmt], e: gast.expr) -> bool:
    """Whether ``e`` surely names an array the function made itself: no name that may
    share its object is a parameter or a global, and each was given only new arrays
    (NumPy's results, arithmetic) or the others' objects; not what a function of the
    user's returned (it may be a global's)."""
    if _may_be_callers(analyser, e):
        return False
    group = facts(analyser.fn).sharing.group(e.id)
    for s in statements:
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            continue
        if s.targets[0].id not in group:
            continue
        v = s.value
        if isinstance(v, gast.Call):
            kind, obj = analyser.resolve(v.func)
            if kind == "method" and v.func.attr in PURE_METHODS:
                continue  # an array's own method: a new array or a view of one of the group
            numpy = (getattr(obj, "__module__", None) or "").startswith("numpy")
            if obj is rt_module.augmented:  # ``x += v``: arithmetic, kept in x's dtype
                continue
            if kind != "object" or not (numpy or type(obj).__name__ == "ufunc"):
                return False
        elif not isinstance(v, (gast.Name, gast.BinOp, gast.UnaryOp, gast.Subscript)):
            return False
    return True


def _may_be_callers(analyser: Analyser, e: gast.expr) -> bool:
    """Whether ``e`` may be an object of the caller's (not one the function built)."""
    sharing = facts(analyser.fn).sharing
    return sharing is None or not isinstance(e, gast.Name) or sharing.callers(e.id)


def _pure_call(analyser: Analyser, c: gast.Call) -> bool:
    """A call that changes nothing: no ``out`` argument, by name or by position."""
    if any(k.arg == "out" for k in c.keywords):
        return False
    kind, obj = analyser.resolve(c.func)
    if kind == "method":
        return c.func.attr in PURE_METHODS and len(c.args) <= 2
    if kind != "object" or obj is rt_module.enter or obj is rt_module.exit:
        return False  # entering a context manager: seen (a timer's, a lock's)
    if obj is rt_module.set_global:
        return False  # a module variable assigned (``global n``): seen
    if _draws(obj):
        return False  # it moves a generator on: a second run would draw other numbers
    if isinstance(obj, type) and issubclass(obj, np.generic):
        return True  # a NumPy scalar made: np.float32(1.0)
    if type(getattr(obj, "__self__", None)).__name__ == "ufunc":
        return obj.__name__ in ("reduce", "accumulate", "reduceat", "outer")  # not .at
    if obj in vars(rt_module).values() or getattr(obj, "__module__", None) == "math":
        return True
    if getattr(obj, "__module__", None) == "builtins":
        return getattr(obj, "__name__", "") in PURE_BUILTINS
    known = registry.lookup(obj) is not None or registry.is_nondiff(obj)
    inputs = getattr(obj, "nin", None)  # a ufunc's further positional argument is its out
    return known and (inputs is None or len(c.args) <= inputs)


GENERATORS = (np.random.Generator, np.random.RandomState, np.random.BitGenerator)


def _draws(obj: Any) -> bool:
    """Whether calling ``obj`` draws random numbers: a method of a generator (the legacy
    ``np.random.normal`` is one of the global ``RandomState``'s), or a function of a
    random module (NumPy's, CuPy's)."""
    if isinstance(getattr(obj, "__self__", None), GENERATORS):
        return True
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[-1] == "random" or ".random." in module


# --- control flow facts ---------------------------------------------------------------
def exits(body: Block) -> bool:
    """True when the block contains a return, break or continue (outside nested loops for
    break/continue)."""
    for node in body:
        if isinstance(node, Step) and node.kind in LEAVING:
            return True
        if isinstance(node, (Branch, TryBlock)) and any(exits(b) for b in blocks_of(node)):
            return True
        if isinstance(node, Repeat) and any(_returns(n) for n in walk_nodes(node.body)):
            return True
    return False


LEAVING = (StepKind.RETURN, StepKind.BREAK, StepKind.CONTINUE)


def _returns(node: Node) -> bool:
    return isinstance(node, Step) and node.kind is StepKind.RETURN


def always_exits(body: Block) -> bool:
    """True when every path through the block leaves it by a return, break, continue or
    raise (so no name it assigns is seen after it); a conditional exit, or a return inside
    a nested loop, leaves the paths that go on."""
    for node in body:
        if isinstance(node, Step) and node.kind in (*LEAVING, StepKind.RAISE):
            return True
        if isinstance(node, Branch) and always_exits(node.body) and always_exits(node.orelse):
            return True
        if isinstance(node, TryBlock) and (
            always_exits(node.finalbody)
            or (always_exits(node.body) or always_exits(node.orelse))
            and all(always_exits(c.body) for c in node.handlers)
        ):
            return True
    return False


def has_active(body: Block) -> bool:
    """Whether ``body`` holds a statement the adjoint runs: a differentiated one, or a
    ``backward()`` (a block holding nothing else still decides whether it runs)."""
    return any(
        facts(n.stmt).op is not None and facts(n.stmt).op.kind in (*DIFFERENTIATING, Kind.BACKWARD)
        for n in walk_nodes(body)
    )


def recorded(node: Branch) -> bool:
    """An ``if`` whose choice the adjoint must know: it holds differentiated statements or
    leaves the enclosing block."""
    return (
        has_active(node.body) or has_active(node.orelse) or exits(node.body) or exits(node.orelse)
    )


def relevant_try(node: TryBlock) -> bool:
    """A ``try`` the adjoint must know about: a block of it differentiates something or
    leaves the enclosing block (whether it also records the way it went: see
    ``trace.mark_recorded``)."""
    return any(has_active(b) or exits(b) for b in blocks_of(node))


def relevant(node: Repeat) -> bool:
    """A loop the adjoint must know about: it differentiates something or returns."""
    return has_active(node.body) or any(_returns(n) for n in walk_nodes(node.body))


def _device(e: gast.expr) -> bool:
    """Whether ``e`` is no dtype where one may be (``x.to("cpu")``, ``np.asarray(x,
    dtype=None)``): a string or None."""
    return isinstance(e, gast.Constant) and (e.value is None or isinstance(e.value, str))


def branching(body: Block) -> bool:
    """True when iterations of a loop with this body can take different paths."""
    for node in body:
        if isinstance(node, Step) and node.kind in LEAVING:
            return True
        if facts(node.stmt).op is not None and facts(node.stmt).op.flagged:
            return True
        if isinstance(node, Branch) and recorded(node):
            return True
        if isinstance(node, TryBlock) and relevant_try(node):
            return True
        if isinstance(node, Repeat) and relevant(node) and node.loop.branching:
            return True
    return False


def reads(body: Block) -> set[str]:
    return {
        n.id
        for node in walk_nodes(body)
        for n in walk(node.stmt)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
    }


def assigned(body: Block) -> set[str]:
    out = set()
    for node in walk_nodes(body):
        s = node.stmt
        out.update(facts(s).stores)
        if isinstance(node, Step) and node.kind is StepKind.ASSIGN:
            if isinstance(s.targets[0], gast.Name):
                out.add(s.targets[0].id)
            elif isinstance(s.targets[0], gast.Subscript):
                out.add(s.targets[0].value.id)
        elif isinstance(node, Repeat) and node.kind is LoopKind.FOR:
            out.add(node.target.id)
    return out


def exposed(body: Block) -> set[str]:
    """Names a block may read before it assigns them (a loop body's: those a step may read
    from the step before)."""
    found: set[str] = set()
    _exposed(body, set(), found)
    return found


def _exposed(body: Block, done: set[str], found: set[str]) -> set[str] | None:
    """Add to ``found`` the names ``body`` reads before assigning; return the names
    assigned on every path through it (None when no path leaves it at its end)."""
    for node in body:
        if isinstance(node, Branch):
            found |= reads_of(node.test) - done
            a = _exposed(node.body, set(done), found)
            b = _exposed(node.orelse, set(done), found)
            if a is None and b is None:
                return None
            done = a if b is None else b if a is None else a & b
        elif isinstance(node, Repeat):
            head = node.iter if node.kind is LoopKind.FOR else node.test
            found |= reads_of(head) - done
            inner = done | _counter(node)
            _exposed(node.body, inner, found)  # may run no step: assigns nothing for sure
        elif isinstance(node, TryBlock):
            ends = []  # an except clause may start anywhere in the body: from ``done``
            body = _exposed(node.body, set(done), found)
            if body is not None:
                ends.append(_exposed(node.orelse, body, found))
            for c in node.handlers:
                found |= reads_of(c.type) - done
                ends.append(_exposed(c.body, set(done), found))
            final = _exposed(node.finalbody, set(done), found)
            ends = [e for e in ends if e is not None]
            if not ends or final is None:
                return None
            done = set.intersection(*ends) | final
        elif isinstance(node, Step) and node.kind in (*LEAVING, StepKind.RAISE):
            found |= reads_of(node.stmt) - done
            return None
        else:
            found |= reads_of(node.stmt) - done
            done = done | set(assigned((node,)))
    return done


def _counter(node: Repeat) -> set[str]:
    """The name a ``for`` loop binds to each item (none for a ``while``)."""
    return {node.target.id} if node.kind is LoopKind.FOR else set()


def hoist_invariant_saves(body: Block, free: frozenset[str] = frozenset(),
                          module: dict | None = None, loop: Loop | None = None,
                          steady: frozenset[str] = frozenset()) -> None:  # fmt: skip
    """Take the values a step's adjoint reads but no step changes (the weights of an RNN
    step) out of the step's saves and into its innermost loop's ``hoisted``: saved once
    on entering the loop, and read once before the reversed loop. ``free``: the globals
    and closure variables the function reads (``module``: its globals), which a loop
    calling nothing but srcdiff's, NumPy's and the builtins' code changes in no step."""
    for node in body:
        op = facts(node.stmt).op
        if isinstance(node, Repeat):
            fixed = frozenset() if _calls_out(node, module or {}) else free
            hoist_invariant_saves(node.body, free, module, node.loop, fixed)
            read = set(node.loop.hoisted)
            node.loop.entry_read = bool(read & set(node.loop.entry_saves))  # saved there already
            node.loop.hoisted = tuple(sorted(read - set(node.loop.entry_saves)))
        elif isinstance(node, (Branch, TryBlock)):
            for b in blocks_of(node):
                hoist_invariant_saves(b, free, module, loop, steady)
        elif loop is not None and op is not None and op.saves:
            fixed = tuple(n for n in op.saves if n in loop.invariant or n in steady)
            if fixed:
                op.saves = tuple(n for n in op.saves if n not in fixed)
                loop.hoisted += fixed


def _calls_out(loop: Repeat, module: dict) -> bool:
    """Whether ``loop`` may call code that gives a global or a closure's variable another
    value: a call, outside a rule's statement, of anything but the builtins (``range``,
    ``len``) the module does not shadow."""
    for node in walk_nodes((loop,)):
        op = facts(node.stmt).op
        if op is not None and op.kind is Kind.RULE:
            continue
        if isinstance(node, Repeat):
            heads = [node.iter if node.kind is LoopKind.FOR else node.test]
        elif isinstance(node, Branch):
            heads = [node.test]
        elif isinstance(node, TryBlock):
            continue
        else:
            heads = [node.stmt]
        for c in (n for h in heads for n in walk(h) if isinstance(n, gast.Call)):
            f = c.func
            if not (isinstance(f, gast.Name) and f.id in _BUILTIN_CALLS and f.id not in module):
                return True
    return False


# builtins that call none of the user's code on the values a loop has (``min``, ``sum``,
# ``float`` may: a key, an ``__add__``, a ``__float__``)
_BUILTIN_CALLS = frozenset({"range", "len", "enumerate", "zip", "reversed", "isinstance"})


def share_saves(body: Block, local: set[str], saved_by: dict[str, gast.stmt] | None = None,
                sharing: Sharing | None = None) -> None:  # fmt: skip
    """Save each value once per record: a statement whose adjoint reads a value that an
    earlier statement saved (before it in its block, or before the ``if`` or ``try`` it
    is in: the same record, not a loop step's; before a ``try``, for its body only: an
    ``except``, ``else`` or ``finally`` block runs after some of the body, which may have
    given the value another), and that no statement in between gave a new value, reads it
    from there (``Op.shared``) instead of saving it again (``h = np.tanh(t)`` saves ``h``;
    ``h * h`` after it need not). So do a loop's entry saves (``Loop.entry_shared``), and
    statements after a loop what it saved as it ended. Both would be the same object: a
    save is a reference, never a copy; so a write into an object (through whichever name)
    or a call that may write ends the sharing: of those that may share the object written
    (all, without ``sharing``, or where the object may be the caller's or a global's).
    ``saved_by``: what the enclosing block saved before this one; ``local``: the
    function's own names (a call may give any other another value)."""
    saved_by = dict(saved_by or {})
    for node in body:
        if not isinstance(node, Step):  # a loop's steps save into records of their own
            if isinstance(node, Repeat) and node.loop is not None:  # (its entry is in ours)
                node.loop.entry_shared = tuple(
                    (n, saved_by[n]) for n in node.loop.entry_saves if n in saved_by
                )
            outer = saved_by if isinstance(node, (Branch, TryBlock)) else None
            for i, b in enumerate(blocks_of(node)):
                share_saves(b, local, None if isinstance(node, TryBlock) and i else outer, sharing)
            saved_by.clear()  # (code run as written, no_grad's, saves nothing)
            if isinstance(node, Repeat) and node.loop is not None and relevant(node):
                saved_by.update((n, node.stmt) for n in node.loop.final_saves)  # as it ends
            continue
        s, op = node.stmt, node.op
        written = is_update(s)
        if written is not None and not _reaches_outside(sharing, written):
            group = sharing.group(written)  # an object of the function's own, written
            for n in [n for n in saved_by if n in group or sharing.shares_here(n, written)]:
                del saved_by[n]
        elif (
            written is not None
            or node.kind is not StepKind.ASSIGN
            or op is None
            or op.kind is Kind.CALL
        ):  # an object written into (through any name), or a call that may write
            saved_by.clear()
        elif op.kind is not Kind.RULE and any(isinstance(n, gast.Call) for n in walk(s.value)):
            for n in [n for n in saved_by if n not in local]:  # (``mod.N += 1`` in a callee
                del saved_by[n]  # gives a global, or a closure's variable, another value)
        for n in stored_names(s):
            saved_by.pop(n, None)
        if op is None or op.kind is not Kind.RULE or not op.saves:
            continue
        op.shared = tuple((n, saved_by[n]) for n in op.saves if n in saved_by)
        op.saves = tuple(n for n in op.saves if n not in saved_by)
        saved_by.update((n, s) for n in op.saves)


def _reaches_outside(sharing: Sharing | None, written: str) -> bool:
    """Whether an update of ``written``'s object may change what names outside its group
    hold: unknown without ``sharing``; so where the object may be the caller's (two
    parameters may be given one object) or a global's."""
    return sharing is None or sharing.callers(written) or sharing.outside(written)


def stored_names(s: gast.stmt) -> set[str]:
    """The names ``s`` (and any statement nested in it) gives a value."""
    return {n.id for n in walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def reads_of(node: gast.AST | None) -> set[str]:
    if node is None:
        return set()
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def annotate_loops(
    body: Block,
    active: set[str],
    defined: set[str],
    counter: list[int] | None = None,
    guarded: bool = False,
) -> set[str]:
    """Give every loop its ``Loop`` facts; return the names definitely assigned after
    ``body`` runs (given ``defined`` before it). ``guarded``: ``body`` is in the body of
    a try with an except clause, so an exception may leave a step of a loop in it
    midway, and the loop's steps record their paths (``branching``)."""
    counter = counter if counter is not None else [0]
    defined = set(defined)
    for node in body:
        if isinstance(node, Branch):
            a = annotate_loops(node.body, active, defined, counter, guarded)
            b = annotate_loops(node.orelse, active, defined, counter, guarded)
            a = a if not always_exits(node.body) else b  # no path goes on from there
            b = b if not always_exits(node.orelse) else a
            defined |= a & b
        elif isinstance(node, TryBlock):
            defined |= annotate_try(node, active, defined, counter, guarded)
        elif isinstance(node, Repeat):
            annotate_loops(node.body, active, defined | _counter(node), counter, guarded)
            counter[0] += 1
            written = assigned(node.body) | _counter(node)
            needed = sorted((reads(node.body) | written) & active & defined)
            carried = sorted((exposed(node.body) & written & active) - defined)
            maybe = sorted((reads(node.body) & active) - defined - written)
            final = sorted(written & active & defined)  # (saved as a return leaves it too)
            mark(node.stmt, loop=Loop(
                counter[0], guarded or branching(node.body), written, tuple(needed),
                tuple(carried), tuple(maybe), tuple(final),
                frozenset((reads(node.body) & defined) - written),
                start_saves=restarting(node.body, written & active, defined),
            ))  # fmt: skip
        elif (
            isinstance(node, Step)
            and node.kind is StepKind.ASSIGN
            and isinstance(node.stmt.targets[0], gast.Name)
        ):
            defined.add(node.stmt.targets[0].id)
    return defined


def restarting(body: Block, written: set[str], defined: set[str]) -> tuple[str, ...]:
    """The names of ``written`` (active, assigned by a loop's steps, with a value as a
    step starts) whose adjoint a step may restart: one that a path through the step gives
    a new value before an operation with a derivative reads the old one leaves the step
    before a zero adjoint, shaped like that value (a layer's input and output differ)."""
    found: set[str] = set()
    used = {n for x in walk_nodes(body) if _carries(x.stmt)
            for n in facts(x.stmt).op.operand_names()}  # fmt: skip
    _overwritten_first(body, set(), found, used)
    return tuple(sorted(written & found & (defined | exposed(body))))


def _carries(s: gast.stmt) -> bool:
    """Whether ``s`` is an operation with a derivative (a Tensor's unwrapping may have
    none), whose operands' adjoints it may give."""
    op = facts(s).op
    return op is not None and op.kind in (Kind.RULE, Kind.CALL, Kind.COPY)


def _overwritten_first(body: Block, read: set[str], found: set[str], used: set[str]
                       ) -> set[str]:  # fmt: skip
    """Add to ``found`` the names some path through ``body`` assigns before an operation
    with a derivative reads them into a value that such an operation of the step reads in
    turn (``np.sum(x) > 100`` reads ``x`` for no derivative); return the names every
    path leaving its end has read so."""
    for node in body:
        if isinstance(node, Branch):
            ends = [_overwritten_first(b, set(read), found, used) for b in blocks_of(node)]
            read = ends[0] & ends[1]
        elif isinstance(node, (Repeat, TryBlock)):  # may run no step, or stop anywhere
            for b in blocks_of(node):
                _overwritten_first(b, set(read), found, used)
        else:
            s = node.stmt
            if _carries(s) and stored_names(s) & used:
                read |= set(facts(s).op.operand_names())
            found |= stored_names(s) - read
    return read


def annotate_try(
    node: TryBlock, active: set[str], defined: set[str], counter: list[int], guarded: bool
) -> set[str]:
    """``annotate_loops`` of a try's blocks; the names definitely assigned after it. An
    except clause, and the finally block, may start anywhere in the body: they are
    given what was defined before the try."""
    body = annotate_loops(node.body, active, defined, counter, guarded or bool(node.handlers))
    clauses = [annotate_loops(c.body, active, defined, counter, guarded) for c in node.handlers]
    orelse = annotate_loops(node.orelse, active, body, counter, guarded)
    final = annotate_loops(node.finalbody, active, defined, counter, guarded)
    ends = [] if always_exits(node.body) or always_exits(node.orelse) else [orelse]
    ends += [d for c, d in zip(node.handlers, clauses, strict=True) if not always_exits(c.body)]
    return (set.intersection(*ends) if ends else orelse) | final
