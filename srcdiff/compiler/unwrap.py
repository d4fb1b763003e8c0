"""Stage 2b, for code that computes with Tensors: where Tensors become arrays.

Compiled code computes on raw arrays. Before a value that may be a Tensor is used by an
operation (``h @ W``, ``np.tanh(h)``, ``h.sum(dim=1)``, ``model(x)``), a statement
``t = rt.unwrap(h)`` takes its array; the primal records whether it was a Tensor that
requires grad (its adjoint then accumulates into ``h.grad``), a Tensor that does not, or
not a Tensor at all (then ``t`` is ``h``). Everything else (``optimizer.step()``,
``a.grad``, code under ``no_grad``) sees the Tensors themselves.

Invariant: every operand of a differentiable operation is a name known to hold an array
(the result of an operation or of ``rt.unwrap``) or a constant.
"""

from __future__ import annotations

import builtins
import inspect
import types
from typing import Any

import gast
import numpy as np

from ..rules import registry
from ..runtime import tensor_methods
from ..runtime.objects import OPERATOR_SYMBOLS
from ..runtime.tensors import HOOK_REFUSAL, tensor_class
from .analyse import BINOPS, _bound_names, assigned_on_tree, found_objects, operands_of, params_of
from .emit import expr as emit_expr
from .ir import facts, mark
from .normalize import (
    PURE_HOMES,
    Names,
    assign,
    clone,
    const,
    is_rt_call,
    local_names,
    name,
    rebuild_blocks,
    walk,
    walk_statements,
)
from .parse import Parsed

ARRAY_ATTRIBUTES = {"T", "mT"}
# in-place Tensor methods compiled as Python's in-place operators (``m *= v``)
# Tensor methods casting to another dtype (their results are arrays in compiled code)
CASTS = frozenset({"long", "int", "float", "double", "half", "bool", "to", "type_as"})
# Tensor methods that may give a named tuple of Tensors (``r.min`` a field, not a method)
RECORDS = frozenset({"aminmax", "max", "min", "sort", "topk", "kthvalue", "median", "mode",
                     "cummax", "cummin"})  # fmt: skip
IN_PLACE_OPERATORS = {"add_": gast.Add, "sub_": gast.Sub, "mul_": gast.Mult, "div_": gast.Div}
# the in-place method an augmented assignment of a Tensor is (``h += v``: ``h.add_(v)``)
AUGMENTED_METHODS = {op: method for method, op in IN_PLACE_OPERATORS.items()}
# in-place Tensor methods compiled as their out-of-place method, then an update in place
# as the operators' (``m = m.masked_fill(mask, v)``)
IN_PLACE_AS_METHODS = {
    "zero_": "zeros_like",  # (a function: ``rt.tensor_methods.zeros_like(m)``)
    "masked_fill_": "masked_fill",
    "clamp_": "clamp",
    "detach_": "detach",  # a value the code computed: detached, names sharing it as well
    "index_fill_": "index_fill",
    "index_add_": "index_add",
    "copy_": "copied",  # (``src`` broadcast to ``m``'s shape, in its dtype)
    **{f"{m}_": m for m in ("relu", "sigmoid", "tanh", "abs", "exp", "log", "nan_to_num")},
}
# in-place Tensor methods but the arithmetic (IN_PLACE_OPERATORS): on a Tensor from
# outside, run as eager code runs them (see rt.tensor_in_place)
IN_PLACE_METHODS = (
    frozenset(
        n for n in tensor_methods.TENSOR_ONLY if n.endswith("_") and n not in IN_PLACE_OPERATORS
    )
    - {"requires_grad_", "detach_"}
    - set(IN_PLACE_AS_METHODS)
)
# Tensor methods whose result shares the Tensor's storage: given the Tensor itself, so that
# an in-place change of the result reaches it (see rt.in_place), as in eager code
SHARING_METHODS = frozenset({"detach", "numpy"})
# a Tensor's attributes set without recording, by their setters in rt.tensor_methods
SETTERS = {"data": "set_data", "grad": "set_grad"}


def rt_call(helper: str, *args: gast.expr) -> gast.Expr:
    """The statement ``rt.<helper>(*args)``."""
    func = gast.Attribute(value=name("rt"), attr=helper, ctx=gast.Load())
    return gast.Expr(value=gast.Call(func=func, args=list(args), keywords=[]))


def unwrap_call(x: str) -> gast.Call:
    func = gast.Attribute(value=name("rt"), attr="unwrap", ctx=gast.Load())
    return gast.Call(func=func, args=[name(x)], keywords=[])


class Unwrapper:
    def __init__(
        self,
        parsed: Parsed,
        fn: gast.FunctionDef,
        names: Names,
        params_are_arrays: bool = False,
        fields: frozenset[str] = frozenset(),
    ):
        self.p = parsed
        self.names = names
        self.locals = local_names(fn)
        self.modules = self.module_names(fn)
        self.returned = {
            s.value.id
            for s in walk_statements(fn.body)
            if isinstance(s, gast.Return) and isinstance(s.value, gast.Name)
        }
        self.arrays = self.array_names(fn, params_are_arrays)
        self.kept = self.displays_for_tensors(fn)  # displays that keep their Tensors
        self.arrays -= self.kept
        first = list(params_of(fn))[:1]  # a method's own object: ``self``, or whatever a
        self.instance = (  # function defined in a class's body names it (``def forward(s, x)``)
            first[0] if first and (first == ["self"] or _takes_its_instance(parsed)) else None
        )
        self.made = self.made_tensors(fn)
        self.fields_held = self.field_aliases(fn)
        self.counters = self.counter_names(fn)
        values = assigned_on_tree(fn.body)  # (before the IR is made)
        self.objects = found_objects(fn, values, self.locals, self.resolve, fields)

    def field_aliases(self, fn: gast.FunctionDef) -> set[str]:
        """The locals, not parameters, bound only to a global (``h = G``), an object's field
        (``h = m.state``) or an entry, and by their own augmented updates: one may hold a Tensor
        from outside the code, which ``h += v`` changes in place, as PyTorch's (see
        ``augmented_in_place``); a parameter's object is written back after the call."""
        bound: dict[str, list[gast.stmt]] = {}
        for st in walk_statements(fn.body):
            for target in getattr(st, "targets", None) or [getattr(st, "target", None)]:
                for n in walk(target) if target is not None else ():
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        bound.setdefault(n.id, []).append(st)
        computed = self.arrays | self.made

        def outside(v: gast.expr) -> bool:  # (not ``.T``, ``.data``: views of a Tensor)
            if isinstance(v, gast.Attribute):
                return v.attr not in ARRAY_ATTRIBUTES | {"data"} and outside(v.value)
            return isinstance(v, gast.Name) and v.id not in self.locals

        def field(st: gast.stmt, n: str) -> bool:  # (or an entry: ``h = m.hist[0]``)
            v = st.value if isinstance(st, gast.Assign) and len(st.targets) == 1 else None
            if isinstance(v, gast.Name):  # (another such name: ``h = a if c else b``)
                return outside(v) or v.id in held
            return (
                isinstance(v, gast.Attribute | gast.Subscript)
                and isinstance(v.value, gast.Name)
                and v.value.id not in computed | {n}
                and getattr(v, "attr", None) not in ARRAY_ATTRIBUTES | {"data"}
            )

        params = set(params_of(fn))
        held: set[str] = set()
        while True:
            more = {
                n
                for n, sts in bound.items()
                if n not in params | computed | held
                and all(facts(st).augments or field(st, n) for st in sts)
            }
            if not more:
                return {n for n in held if any(facts(st).augments for st in bound[n])}
            held |= more

    def augmented_in_place(self, s: gast.stmt, values: dict[str, gast.expr]) -> gast.stmt:
        """``h = t`` of ``h += v`` (``t = rt.augmented(h, h + v)``) where ``h`` may hold an
        object's Tensor (``h = m.state``): that Tensor changed in place, as PyTorch's ``+=``
        changes it, as ``h.add_(v)`` is (see ``updated_in_place``); else ``s``."""
        if not (
            isinstance(s, gast.Assign)
            and facts(s).augments
            and isinstance(s.targets[0], gast.Name)
            and s.targets[0].id in self.fields_held
            and isinstance(s.value, gast.Name)
            and is_rt_call(kept := values.get(s.value.id), "augmented")
            and isinstance(kept.args[1], gast.Name)
            and isinstance(new := values.get(kept.args[1].id), gast.BinOp)
            and not isinstance(new.op, gast.MatMult)  # (a Tensor's ``@=`` rebinds it)
            and not facts(s).no_grad  # (run as written)
        ):
            return s
        owner = s.targets[0].id
        method = AUGMENTED_METHODS.get(type(new.op), "__i" + type(new.op).__name__.lower() + "__")
        update = assign(owner, rt_call("in_place", name(owner), name(s.value.id), const(method),
                                       const(False), const(True),
                                       gast.Tuple(elts=[clone(new.right)], ctx=gast.Load()),
                                       const(False)).value)  # fmt: skip  # (see analyse)
        mark(update, inplace=True, augments=True)
        update.lineno = s.lineno
        return update

    @staticmethod
    def counter_names(fn: gast.FunctionDef) -> set[str]:
        """The counters of ``for ... in range(...)`` loops given no other value: ints,
        which need no unwrapping and no check as an index (``xs[t]`` at each step)."""
        loops: dict[str, int] = {}  # per counter, the range loops it counts
        for s in walk_statements(fn.body):
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name) and (
                isinstance(s.iter, gast.Call) and isinstance(s.iter.func, gast.Name)
                and s.iter.func.id == "range"
            ):  # fmt: skip
                loops[s.target.id] = loops.get(s.target.id, 0) + 1
        stores: dict[str, int] = {}
        for n in walk(fn):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                stores[n.id] = stores.get(n.id, 0) + 1
        return {n for n, count in loops.items() if stores.get(n) == count}

    def array_names(self, fn: gast.FunctionDef, params_are_arrays: bool) -> set[str]:
        """Names every assignment of which is an operation that gives an array (or a
        list or tuple display of them): arithmetic, a differentiable Tensor method, or a
        NumPy function with a rule (and
        the parameters, in a function called from compiled code, which passes arrays)."""
        verdict: dict[str, bool] = dict.fromkeys(params_of(fn), True) if params_are_arrays else {}
        copies: list[tuple[str, str]] = []
        for s in walk_statements(fn.body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                target = s.targets[0].id
                source = _in_place_receiver(s.value)  # ``out = m.add_(v)`` is ``m``
                if isinstance(s.value, gast.Name) or source is not None:
                    copies.append((target, source or s.value.id))
                    verdict.setdefault(target, True)
                else:
                    verdict[target] = verdict.get(target, True) and self.gives_array(s.value)
            elif isinstance(s, gast.For):
                verdict[s.target.id] = False
        changed = True
        while changed:  # a copy is an array when what it copies always is
            changed = False
            for target, source in copies:
                if verdict.get(target) and not verdict.get(source, False):
                    verdict[target] = False
                    changed = True
        return {n for n, ok in verdict.items() if ok}

    def displays_for_tensors(self, fn: gast.FunctionDef) -> set[str]:
        """Names of list, tuple or dict displays (``[model.weight, model.bias]``) read only
        as arguments of calls that see Tensors (``clip_grad_norm_``, ``print``): their
        entries stay Tensors, as the callee reads them (``.grad``), not their arrays."""
        displays: dict[str, bool] = {}
        for s in walk_statements(fn.body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                target = s.targets[0].id
                is_display = isinstance(s.value, (gast.List, gast.Tuple, gast.Dict))
                displays[target] = displays.get(target, True) and is_display
        passed: set[int] = set()  # the Name nodes read as such arguments
        for n in walk(fn):
            if isinstance(n, gast.Call) and self.passes_tensors(n):
                passed.update(id(a) for a in [*n.args, *(k.value for k in n.keywords)]
                              if isinstance(a, gast.Name))  # fmt: skip
        for n in walk(fn):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and id(n) not in passed:
                displays[n.id] = False
        return {n for n, ok in displays.items() if ok and n in self.locals}

    def made_tensors(self, fn: gast.FunctionDef) -> set[str]:
        """Local names every assignment of which makes a new Tensor with a function of
        srcdiff's (``acc = sd.zeros(2)``), not a leaf asked to require grad (whose
        in-place change raises): their in-place arithmetic is compiled as the operators'
        (see ``in_place_method``)."""
        verdict: dict[str, bool] = {}
        params = set(params_of(fn))
        for s in walk_statements(fn.body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                target, value = s.targets[0].id, s.value
                found, obj = self.resolve(value.func) if isinstance(value, gast.Call) else (
                    False, None)  # fmt: skip
                made = (
                    found
                    and (getattr(obj, "__module__", "") or "").startswith(
                        ("srcdiff.creation", "srcdiff.functions")
                    )
                    and not any(k.arg == "requires_grad" for k in value.keywords)
                )  # not a leaf
                verdict[target] = verdict.get(target, True) and bool(made)
        return {n for n, ok in verdict.items() if ok and n not in params}

    def gives_array(self, value: gast.expr) -> bool:
        if isinstance(value, gast.BinOp):
            return True
        if isinstance(value, (gast.List, gast.Tuple)):
            return True  # a display holds arrays: its entries are unwrapped
        if isinstance(value, gast.UnaryOp):
            return isinstance(value.op, (gast.USub, gast.UAdd))
        if not isinstance(value, gast.Call):
            return False
        func = value.func
        if (
            isinstance(func, gast.Attribute)
            and func.attr in tensor_methods.METHODS
            and isinstance(func.value, gast.Name)
            and not self.is_module(func.value)
        ):
            return registry.lookup(tensor_methods.METHODS[func.attr]) is not None
        found, obj = self.resolve(func)
        return (
            found
            and getattr(obj, "__module__", "") in ("numpy", "numpy._core.umath")
            and registry.lookup(obj) is not None
        )

    def resolve(self, func: gast.expr) -> tuple[bool, Any]:
        return self.p.resolve_dotted(func, self.locals)

    def passes_tensors(self, call: gast.Call) -> bool:
        """True for calls that should see Tensors, not arrays: builtins such as print or
        len, functions declared non-differentiable, the check of an inlined call
        (``rt.inlined(site)``, whose site is srcdiff's), and ``x.data = v``'s."""
        func = call.func
        if (
            isinstance(func, gast.Attribute)
            and func.attr == "inlined"
            and isinstance(func.value, gast.Name)
            and func.value.id == "rt"
        ) or emit_expr(func) in {"rt.tensor_in_place"} | {
            f"rt.tensor_methods.{f}" for f in SETTERS.values()
        }:
            return True
        found, obj = self.resolve(call.func)
        if not found or registry.lookup(obj) is not None:
            return False
        return (
            registry.is_nondiff(obj)
            or isinstance(obj, (types.BuiltinFunctionType, type))
            or obj is builtins.print
        )

    def eager_only(self, s: gast.stmt) -> bool:
        """Whether ``s`` is the call of a check that only an eager call needs (``F.relu``'s
        of its arguments being Tensors): left out where arrays stand for the Tensors."""
        if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)):
            return False
        found, obj = self.resolve(s.value.func)
        return found and getattr(obj, "_srcdiff_eager_only", False) is True

    # --- rewriting -------------------------------------------------------------------------
    def block(self, body: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        cache: dict[str, str] = {}
        values: dict[str, gast.expr] = {}  # (as written, before the rewriting below)
        for s in body:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                update = self.augmented_in_place(s, values)
                values[s.targets[0].id] = clone(s.value)
                if update is not s:  # (its arguments are the Tensors: see in_place_method)
                    out.append(update)
                    cache.pop(s.targets[0].id, None)
                    continue
            if isinstance(s, (gast.If, gast.For, gast.While, gast.Try)):
                rebuild_blocks(s, self.block)
                out.append(s)
                cache = {}
                continue
            if self.eager_only(s):
                continue
            if facts(s).no_grad:
                self.refuse_in_place_methods(s)
                out += self.as_tensors(s)
                out.append(s)
                continue
            if (
                isinstance(s, gast.Assign)
                and isinstance(s.targets[0], gast.Attribute)
                and s.targets[0].attr in SETTERS
                and isinstance(s.targets[0].value, gast.Name)
            ):  # ``p.data = v``, ``p.grad = None``: set without recording, as in eager code
                setter = array_version(SETTERS[s.targets[0].attr])
                call = gast.Call(func=setter, args=[s.targets[0].value, s.value], keywords=[])
                line, s = s.lineno, gast.Expr(value=call)
                s.lineno = line
            written = self.written_into(s, values)
            if written is not None:  # an activation's inplace=True: computed, then copied in
                first, s = written
                self.statement(first, out, cache)
                out.append(first)
                cache.pop(first.targets[0].id, None)
            made = self.in_place_method(s)
            if made is not None:  # ``m.mul_(v)``: ``t = m * v``, then m updated in place
                computed, rest = made
                for st in computed:
                    self.statement(st, out, cache)
                    out.append(st)
                    cache.pop(st.targets[0].id, None)
                out += rest
                for target in {t for st in rest for t in assigned_names(st)}:
                    cache.pop(target, None)
                continue
            target = s.targets[0] if isinstance(s, gast.Assign) else None
            if (
                isinstance(target, gast.Subscript)
                and isinstance(target.value, gast.Name)
                and (target.value.id in self.made)
            ):  # ``z = sd.zeros(3); z[m] = v``: a Tensor made here, written as its array
                made = assign(target.value.id, unwrap_call(target.value.id))
                made.lineno = s.lineno
                out.append(made)
                cache.pop(target.value.id, None)
                target.slice = self.array(target.slice, out, cache, s.lineno)  # a mask too
                s.value = self.array(s.value, out, cache, s.lineno)
            if isinstance(target, gast.Subscript):
                target.slice = self.checked_index(target.slice, s.lineno)
            self.method_as_value(s, values)
            self.statement(s, out, cache)
            out.append(s)
            for target in assigned_names(s):
                cache.pop(target, None)
                for key in [k for k, v in cache.items() if v == target]:
                    cache.pop(key)
            if self.may_rebind(s):  # a global read after it is unwrapped again
                for key in [k for k in cache if k not in self.locals]:
                    cache.pop(key)
        return out

    def may_rebind(self, s: gast.stmt) -> bool:
        """Whether ``s`` calls code that may give a global another value (``mod.N = v``
        in a function of any module): a call of anything but srcdiff's, NumPy's and the
        builtins' functions."""
        for n in gast.walk(s):
            if not isinstance(n, gast.Call):
                continue
            root = n.func
            while isinstance(root, gast.Attribute):
                root = root.value
            if isinstance(root, gast.Name) and root.id == "rt":
                continue
            found, obj = self.resolve(n.func)
            owner = getattr(obj, "__module__", None) or getattr(type(obj), "__module__", "")
            if not (found and str(owner).split(".")[0] in PURE_HOMES):
                return True
        return False

    def as_tensors(self, block: gast.With) -> list[gast.stmt]:
        """A ``sd.no_grad()`` block runs as written, on Tensors: each local it reads and
        does not assign, which compiled code may hold as an array, is read as a Tensor
        sharing the array's memory (``t = rt.as_tensor(h)``, the block reading ``t``)."""
        stored = set(facts(block).stores)
        loads = [n for n in gast.walk(block) if isinstance(n, gast.Name)
                 and isinstance(n.ctx, gast.Load)]  # fmt: skip
        read = {n.id for n in loads if n.id in self.locals and n.id not in stored}
        renames = {n: self.names.fresh() for n in sorted(read)}
        made = []
        for n, t in renames.items():
            made.append(assign(t, rt_call("as_tensor", name(n)).value))
            made[-1].lineno = block.lineno
        for n in gast.walk(block):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in renames:
                n.id = renames[n.id]
        return made

    def refuse_in_place_methods(self, s: gast.stmt) -> None:
        """Under ``sd.no_grad()`` the code runs as written, on what compiled code holds:
        an in-place Tensor method on a computed value (an array there) is refused."""
        for st in (n for n in gast.walk(s) if isinstance(n, gast.stmt) and n is not s):
            for node in gast.walk(st):
                func = getattr(node, "func", None)
                if (
                    isinstance(node, gast.Call)
                    and isinstance(func, gast.Attribute)
                    and isinstance(func.value, gast.Name)
                    and func.value.id in self.arrays
                    and func.attr.endswith("_")
                    and not func.attr.startswith("_")
                ):
                    raise self.p.error(
                        f"the in-place Tensor method .{func.attr}() under sd.no_grad() in a "
                        f"compiled function, on {func.value.id}, a value it computed",
                        st,
                        f"compute the new value out of place ({func.value.id} = "
                        f"{func.value.id} + 1.0 for .add_(1.0))",
                    )

    def method_as_value(self, s: gast.stmt, values: dict[str, gast.expr]) -> None:
        """``f = h.var`` or ``f = getattr(h, "var")`` of a value compiled code holds as an
        array (one computed, or a Tensor method's result, ``values`` telling the block's
        earlier statements): the Tensor's method bound to it,
        ``rt.partial(rt.tensor_methods.var, h)`` (NumPy's method of the array is another
        one, which PyTorch's errors and keywords are not)."""
        v = s.value if isinstance(s, gast.Assign) else None
        if isinstance(v, gast.Attribute) and isinstance(v.ctx, gast.Load):
            owner, attr = v.value, v.attr
        elif (
            isinstance(v, gast.Call) and len(v.args) == 2 and not v.keywords
            and isinstance(v.args[1], gast.Constant) and isinstance(v.args[1].value, str)
            and self.resolve(v.func) == (True, builtins.getattr)
        ):  # fmt: skip
            owner, attr = v.args[0], v.args[1].value
        else:
            return
        if not (
            isinstance(owner, gast.Name) and attr in tensor_methods.METHODS
            and callable(getattr(np.ndarray, attr, len))  # (not ``h.size``, an array's too)
            and not self.p.srcdiffs_own(s.lineno)
        ):  # fmt: skip
            return
        made = values.get(owner.id)
        if (
            isinstance(made, gast.Call)
            and isinstance(made.func, gast.Attribute)
            and (made.func.attr in RECORDS)
        ):  # (``r = x.aminmax()``: ``r.min`` is a field)
            return
        if owner.id not in self.arrays and not (
            isinstance(made, gast.Call)
            and isinstance(made.func, gast.Attribute)
            and made.func.attr in CASTS
        ):  # fmt: skip  (a cast's result: an array, of integers too; not ``r = x.aminmax()``)
            return
        s.value = gast.Call(func=gast.Attribute(value=name("rt"), attr="partial",
                                                ctx=gast.Load()),
                            args=[array_version(attr), name(owner.id)], keywords=[])  # fmt: skip

    def written_into(self, s: gast.stmt, values: dict[str, gast.expr]
                     ) -> tuple[gast.Assign, gast.Assign] | None:  # fmt: skip
        """``t = written_into(m, compute, args)`` (an activation's ``inplace=True``, inlined)
        as ``t1 = compute(m, *args)`` and ``t = m.copy_(t1)``, an update in place compiled
        code follows (``args``: a tuple display, or a name an earlier statement of the
        block gave one). None for any other statement."""
        call = s.value if isinstance(s, gast.Assign) and len(s.targets) == 1 else None
        if not (isinstance(call, gast.Call) and not call.keywords and 2 <= len(call.args) <= 3
                and isinstance(call.args[0], gast.Name)):  # fmt: skip
            return None
        found, obj = self.resolve(call.func)
        if not (found and getattr(obj, "_srcdiff_written_into", False) is True):
            return None
        extra: list[gast.expr] = []
        if len(call.args) == 3:
            given = call.args[2]
            if isinstance(given, gast.Name):
                given = values.get(given.id, given)
            if not isinstance(given, gast.Tuple):
                return None
            extra = [clone(e) for e in given.elts]
        owner, new = call.args[0].id, self.names.fresh()
        first = assign(new, gast.Call(func=clone(call.args[1]),
                                      args=[name(owner), *extra], keywords=[]))  # fmt: skip
        copy_ = gast.Call(func=gast.Attribute(value=name(owner), attr="copy_", ctx=gast.Load()),
                          args=[name(new)], keywords=[])  # fmt: skip
        second = gast.Assign(targets=s.targets, value=copy_, type_comment=None)
        first.lineno = second.lineno = s.lineno
        return first, second

    def in_place_method(self, s: gast.stmt) -> tuple[list[gast.Assign], list[gast.stmt]] | None:
        """``m.add_(v)`` (``sub_``, ``mul_``, ``div_``; ``alpha=`` for the first two), as a
        statement or assigned: its new value computed (the first statements, which read
        Tensors), then ``m`` updated in place as ``m *= v`` is (names sharing it follow:
        see ``mutation``), and the target given ``m``. Where ``m`` may be a Tensor from
        outside the code (a parameter, a global, a loop's entry, a ``.grad``), that Tensor
        is changed as eager code changes it, and stays the owner's (see ``rt.in_place``).
        None for any other statement."""
        call = s.value if isinstance(s, (gast.Assign, gast.Expr)) else None
        if not (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr in {**IN_PLACE_OPERATORS, **IN_PLACE_AS_METHODS}
            and isinstance(call.func.value, gast.Name)
            and not self.is_module(call.func.value)
            and (len(call.args) == 1 or call.func.attr in IN_PLACE_AS_METHODS)
        ):
            return None
        method, owner = call.func.attr, call.func.value.id
        computed: list[gast.Assign] = []
        if method in IN_PLACE_AS_METHODS:  # ``m.masked_fill_(mask, v)``: m.masked_fill(...)
            new = self.names.fresh()
            given = [*call.args, *(k.value for k in call.keywords)]
            if method == "zero_":  # (no Tensor method: the function, of m)
                out_of_place = array_version("zeros_like")
                args = [name(owner), *call.args]
            else:
                out_of_place = gast.Attribute(value=name(owner), attr=IN_PLACE_AS_METHODS[method],
                                              ctx=gast.Load())  # fmt: skip
                args = call.args
            computed.append(assign(new, gast.Call(func=out_of_place, args=args,
                                                  keywords=call.keywords)))  # fmt: skip
            return self.updated_in_place(s, method, owner, new, given, computed)
        operand = call.args[0]
        given = [operand]  # (what a Tensor from outside is changed with: see rt.in_place)
        scale = [k.value for k in call.keywords if k.arg == "alpha"]
        if len(scale) != len(call.keywords) or (scale and method not in ("add_", "sub_")):
            return None  # refused as a call: see refuse_in_place_methods
        if scale:  # ``m.add_(v, alpha=a)`` is ``m + a * v``
            given.append(scale[0])
            computed.append(assign(self.names.fresh(), gast.BinOp(
                left=scale[0], op=gast.Mult(), right=operand)))  # fmt: skip
            operand = name(computed[-1].targets[0].id)
        new = self.names.fresh()
        computed.append(assign(new, gast.BinOp(
            left=name(owner), op=IN_PLACE_OPERATORS[method](), right=operand)))  # fmt: skip
        return self.updated_in_place(s, method, owner, new, given, computed)

    def updated_in_place(self, s: gast.stmt, method: str, owner: str, new: str, given: list,
                         computed: list[gast.Assign]) -> tuple[list, list]:  # fmt: skip
        """``computed`` (the new value of ``owner``, ``new``), then ``owner`` updated in
        place to it, as ``in_place_method`` says."""
        local = owner in self.locals
        update = rt_call("in_place", name(owner), name(new), const(method),
                         const(owner in self.arrays | self.made), const(local),
                         gast.Tuple(elts=clone(given), ctx=gast.Load()),
                         const(False))  # fmt: skip  # (see analyse)
        if local:  # the owner's object after the update (a global's is refused but Tensors)
            update = assign(owner, update.value)
            mark(update, inplace=True)  # Python's in-place update: see mutation
        rest: list[gast.stmt] = [update]
        if isinstance(s, gast.Assign):
            rest.append(gast.Assign(targets=s.targets, value=name(owner), type_comment=None))
        for st in computed + rest:
            st.lineno = s.lineno
        return computed, rest

    def array(
        self, e: gast.expr, out: list[gast.stmt], cache: dict[str, str], line: int
    ) -> gast.expr:
        """``e`` itself when it is surely an array or a constant, else its unwrapped name.
        A ``*args`` of Tensors is refused: passed on as Tensors, the callee computed with
        them eagerly and their gradient never reached compiled code."""
        if (
            isinstance(e, gast.Starred)
            and isinstance(e.value, gast.Name)
            and (e.value.id not in self.arrays)
        ):
            raise self.p.error(
                f"*{e.value.id} passed on in a compiled function computing with Tensors",
                _at_line(e, line),
                f"pass its entries one by one ({e.value.id}[0], ...)",
            )
        if not isinstance(e, gast.Name) or e.id in self.arrays or e.id in self.counters:
            return e
        if e.id not in cache:
            t = self.names.fresh()
            stmt = assign(t, unwrap_call(e.id))
            stmt.lineno = line
            out.append(stmt)
            cache[e.id] = t
        return name(cache[e.id])

    def checked_index(self, index: gast.expr, line: int) -> gast.expr:
        """A user's index computed when the code runs, checked where PyTorch and NumPy
        read it differently (``rt.tensor_methods.index``: a list of index arrays, a uint8
        array), which compiled code, holding arrays for Tensors, refuses; srcdiff's own
        code indexes arrays, as NumPy reads them."""
        if self.p.srcdiffs_own(line):
            return index
        if isinstance(index, gast.Tuple):  # (a list inside reads alike: an index array)
            index.elts = [self.checked_part(e, "index_part") for e in index.elts]
            return index
        return self.checked_part(index, "index")

    def promote(self, value: gast.BinOp, out: list[gast.stmt], line: int) -> None:
        """Cast the operands of ``a <op> b`` to the dtype PyTorch computes it in (NumPy
        would promote otherwise: an int64 tensor over 255.0 is float32, a float32 one
        times a 0-d float64 is float32): ``a1 = rt.tensor_methods.promoted(a, a, b)``."""
        operands = (value.left, value.right)
        if not any(isinstance(e, gast.Name) for e in operands) or (
            isinstance(value.left, gast.Name)
            and isinstance(value.right, gast.Name)
            and value.left.id == value.right.id
        ):  # (numbers alone, or ``z * z``: one dtype)
            return
        symbol = const(OPERATOR_SYMBOLS[BINOPS[type(value.op)]])
        for side, operand in zip(("left", "right"), operands, strict=True):
            if not isinstance(operand, gast.Name):
                continue  # a number: NumPy takes it in the other operand's dtype
            cast = gast.Call(func=array_version("promoted"), keywords=[],
                             args=[operand, *map(clone, operands), symbol])  # fmt: skip
            made = assign(self.names.fresh(), cast)
            made.lineno = line
            out.append(made)
            setattr(value, side, name(made.targets[0].id))

    def checked_part(self, e: gast.expr, check: str) -> gast.expr:
        if not isinstance(e, gast.Name) or e.id in self.counters:
            return e
        return gast.Call(func=array_version(check), args=[e], keywords=[])

    def statement(self, s: gast.stmt, out: list[gast.stmt], cache: dict[str, str]) -> None:
        line = s.lineno
        fix = lambda e: self.array(e, out, cache, line)  # noqa: E731
        value = s.value if isinstance(s, (gast.Assign, gast.Expr)) else None
        if isinstance(s, gast.Assign) and not isinstance(s.targets[0], gast.Name):
            return
        if is_rt_call(value, "augmented"):  # ``h += v`` of a Tensor: PyTorch's casts
            value.func = array_version("augmented")
        if isinstance(value, (gast.BinOp, gast.UnaryOp)) and any(
            isinstance(e, gast.Name) and e.id in self.objects for e in operands_of(value)
        ):  # an object of a user's class (``found_objects``): its operator runs, compiled,
            # given arrays for Tensors (not cast as a Tensor's operands)
            fix_other = lambda e: e if isinstance(e, gast.Name) and e.id in self.objects else fix(e)  # noqa: E731
            if isinstance(value, gast.BinOp):
                value.left, value.right = fix_other(value.left), fix_other(value.right)
        elif isinstance(value, gast.BinOp):
            value.left, value.right = fix(value.left), fix(value.right)
            if isinstance(value.op, PROMOTING) and not self.p.srcdiffs_own(line):
                self.promote(value, out, line)
            if isinstance(value.op, gast.MatMult) and not self.p.srcdiffs_own(line):
                # PyTorch promotes neither operand of a product (NumPy would)
                check = gast.Call(func=array_version("same_dtypes"),
                                  args=[value.left, value.right], keywords=[])  # fmt: skip
                checked = gast.Expr(value=check)
                checked.lineno = line
                out.append(checked)
        elif isinstance(value, (gast.List, gast.Tuple, gast.Dict)):
            if s.targets[0].id not in self.returned | self.kept:  # keeping their Tensors
                if isinstance(value, gast.Dict):
                    value.values = [fix(v) for v in value.values]
                else:
                    value.elts = [fix(e) for e in value.elts]
        elif isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub, gast.UAdd)):
            value.operand = fix(value.operand)
        elif (
            isinstance(value, gast.Subscript)
            and isinstance(value.value, gast.Name)
            and value.value.id in self.objects
        ):  # an object's own ``__getitem__`` runs, compiled, given arrays for Tensors
            value.slice = fix(value.slice)
        elif isinstance(value, gast.Subscript):  # its indices may be Tensors too
            value.value = fix(value.value)
            if isinstance(value.slice, gast.Tuple):
                value.slice.elts = [fix(e) for e in value.slice.elts]
            else:
                value.slice = fix(value.slice)
            value.slice = self.checked_index(value.slice, line)
        elif isinstance(value, gast.Attribute) and value.attr in ARRAY_ATTRIBUTES:
            value.value = fix(value.value)
        elif (
            isinstance(value, gast.Attribute)
            and value.attr in tensor_methods.ATTRIBUTES
            and not (value.attr == "dtype" and self.p.srcdiffs_own(line))  # (NumPy's, there)
        ):
            s.value = gast.Call(func=array_version(value.attr), args=[value.value], keywords=[])
        elif isinstance(value, gast.Attribute) and value.attr in tensor_methods.FIELDS:
            helper = array_version(tensor_methods.FIELDS[value.attr])
            s.value = gast.Call(func=helper, args=[value.value], keywords=[])
        elif isinstance(value, gast.Call) and not is_rt_call(value, "unwrap"):
            self.check_tensor_method(value, out, line)
            self.call(value, fix, s)

    def check_tensor_method(self, call: gast.Call, out: list[gast.stmt], line: int) -> None:
        """Before ``h.norm()``, a Tensor method compiled code has no array version of, on a
        value that may be one the code computed (``h = seq[0](x)``): ``rt.tensor_method``
        refuses it there, rather than let it fail as an array's missing attribute."""
        func = call.func
        if (
            isinstance(func, gast.Attribute)
            and isinstance(func.value, gast.Name)
            and func.value.id in self.locals
            and func.value.id not in self.arrays
            and func.attr in tensor_methods.TENSOR_ONLY - {"backward"}
            and func.attr not in tensor_methods.METHODS
            and not func.attr.endswith("_")  # (in-place methods: see in_place_method)
        ):
            helper = gast.Attribute(value=name("rt"), attr="tensor_method", ctx=gast.Load())
            args = [name(func.value.id), const(func.attr)]
            check = gast.Call(func=helper, args=args, keywords=[])
            out.append(_at_line(gast.Expr(value=check), line))

    def call(self, call: gast.Call, fix: Any, at: gast.stmt | None = None) -> None:
        """Unwrap the operands of a call; a Tensor method (``h.sum(dim=1)``) or a srcdiff
        function (``sd.exp(h)``) becomes a call of its array version
        (``rt.tensor_methods.sum(h, dim=1)``)."""
        func = call.func
        method = (
            isinstance(func, gast.Attribute)
            and isinstance(func.value, gast.Name)
            and not self.is_module(func.value)
        )
        if (
            method
            and func.value.id in self.arrays
            and func.attr.endswith("_")
            and not func.attr.startswith("_")
            and func.attr not in tensor_methods.METHODS
        ):  # an in-place Tensor method on a value compiled code holds as an array
            raise self.p.error(
                f"the in-place Tensor method .{func.attr}() in a compiled function",
                at,
                f"write the new value out of place ({func.value.id} = {func.value.id} * v "
                f"for .mul_(v), {func.value.id} = {func.value.id}.clamp(0, 1) for .clamp_(0, 1))",
            )
        if method and func.attr == "register_hook" and func.value.id in self.arrays:
            what, hint = HOOK_REFUSAL
            raise self.p.error(what, at, hint)
        if (
            method
            and func.value.id in self.arrays
            and func.attr in tensor_methods.TENSOR_ONLY
            and func.attr != "backward"  # (an operation: see analyse)
            and func.attr not in tensor_methods.METHODS
        ):  # a Tensor method compiled code has no array version of
            raise self.p.error(
                f"the Tensor method .{func.attr}() on {func.value.id}, a value a compiled "
                "function computed (an array there)",
                at,
                "compute it with the Tensor methods and functions srcdiff compiles, or "
                "run this step eagerly (without @sd.differentiate)",
            )
        if (
            method
            and func.attr in IN_PLACE_METHODS
            and func.value.id not in self.arrays | self.made
        ):  # on a Tensor from outside (a list's entry, a .grad): changed as eager code does
            call.args = [func.value, const(func.attr), *call.args]
            call.func = gast.Attribute(value=name("rt"), attr="tensor_in_place", ctx=gast.Load())
            return
        if method and func.attr in SHARING_METHODS:  # the Tensor's own storage, as eager
            call.func = array_version(func.attr)  # code gives it (a Tensor's stays one)
            call.args = [func.value] + [fix(a) for a in call.args]
            return
        if method and func.attr in tensor_methods.METHODS and self.maybe_tensor_method(func):
            call.func = array_version(_array_name(func.attr, call))
            call.args = [func.value] + call.args
        elif method and func.attr == "backward":
            func.value = fix(func.value)
        elif (
            not method
            and self.array_function(func) is not None
            and not any(k.arg == "requires_grad" for k in call.keywords)  # a leaf: eager
        ):
            call.func = array_version(_array_name(self.array_function(func), call))
        elif not method and self.resolve(func) == (True, builtins.isinstance):
            call.func = array_version("is_instance")  # an array stands for a Tensor
            return
        elif self.passes_tensors(call):
            return
        call.args = [fix(a) for a in call.args]
        for k in call.keywords:
            k.value = fix(k.value)

    def maybe_tensor_method(self, func: gast.Attribute) -> bool:
        """Whether ``x.name(...)`` may call a Tensor's method: not on a method's own object
        (``self.norm(h)``, an ``nn.LayerNorm`` named as a Tensor method), nor where
        ``x.name`` is found now as something else: a method of an object of a user's class
        (``scale.mul(h)``) is its class's, compiled as such."""
        if isinstance(func.value, gast.Name) and (
            func.value.id == self.instance or func.value.id in self.modules
        ):
            return False
        found, obj = self.resolve(func)
        if found and isinstance(obj, types.MethodType):
            return isinstance(obj.__self__, tensor_class())
        return not found or isinstance(obj, types.BuiltinMethodType)

    def module_names(self, fn: gast.FunctionDef) -> set[str]:
        """The locals that only ever hold one module (``m = F``, as ``get(F)`` returning
        its argument leaves it once inlined): ``m.softmax(x)`` is the module's function,
        never a Tensor's method."""
        held: dict[str, set[int]] = {}
        for s in walk_statements(fn.body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                found, obj = self.resolve(s.value)
                module = found and isinstance(obj, types.ModuleType)
                held.setdefault(s.targets[0].id, set()).add(id(obj) if module else 0)
            else:
                for n in _bound_names(s):
                    held.setdefault(n, set()).add(0)
        params = set(params_of(fn))
        return {n for n, ids in held.items() if len(ids) == 1 and 0 not in ids and n not in params}

    def is_module(self, e: gast.Name) -> bool:
        found, obj = self.resolve(e)
        return found and isinstance(obj, types.ModuleType)

    def array_function(self, func: gast.expr) -> str | None:
        """The name of the array version of a srcdiff function (``sd.exp``), if any."""
        found, obj = self.resolve(func)
        name_ = getattr(obj, "__name__", None)
        if (
            found
            and getattr(obj, "__module__", "") in ("srcdiff.functions", "srcdiff.creation")
            and isinstance(obj, types.FunctionType)
            and name_ in tensor_methods.FUNCTIONS
        ):
            return name_
        return None


def _takes_its_instance(parsed: Parsed) -> bool:
    """Whether the function compiled is a method of a class of its module, not a
    staticmethod: its first parameter is the instance (or the class) it is called on.
    (Of a class defined inside a function, only a first parameter named ``self``.)"""
    fn = parsed.fn
    parts = getattr(fn, "__qualname__", "").split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return False
    owner = fn.__globals__.get(parts[0])
    for part in parts[1:-1]:
        owner = getattr(owner, part, None)
    if not isinstance(owner, type):
        return False
    found = inspect.getattr_static(owner, parts[-1], None)
    return isinstance(found, classmethod) or getattr(found, "__code__", None) is fn.__code__


def _array_name(name_: str, call: gast.Call) -> str:
    """The array version of the Tensor method or srcdiff function ``name_`` that ``call``
    takes: ``div`` with a ``rounding_mode=`` is another operation (of gradient 0)."""
    if name_ == "div" and any(k.arg == "rounding_mode" for k in call.keywords):
        return "div_rounded"
    return name_


def _in_place_receiver(value: gast.expr) -> str | None:
    """``m`` of ``m.add_(v)`` (an in-place operator method, which returns ``m``)."""
    if (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr in {**IN_PLACE_OPERATORS, **IN_PLACE_AS_METHODS}
        and isinstance(value.func.value, gast.Name)
    ):
        return value.func.value.id
    return None


# Python's operators that PyTorch computes in a promoted dtype (``@`` promotes nothing)
PROMOTING = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.FloorDiv, gast.Mod)


def array_version(attr: str) -> gast.Attribute:
    """``rt.tensor_methods.<attr>``."""
    module = gast.Attribute(value=name("rt"), attr="tensor_methods", ctx=gast.Load())
    return gast.Attribute(value=module, attr=attr, ctx=gast.Load())


def assigned_names(s: gast.stmt) -> list[str]:
    if isinstance(s, gast.Assign):
        t = s.targets[0]
        if isinstance(t, gast.Name):
            return [t.id]
        if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
            return [t.value.id]
    return []


def insert_unwraps(
    parsed: Parsed,
    fn: gast.FunctionDef,
    names: Names,
    params_are_arrays: bool = False,
    fields: frozenset[str] = frozenset(),
) -> None:
    """Rewrite ``fn`` (normalized) in place so that operations see arrays (a function
    called from compiled code gets arrays: its parameters need no unwrapping); ``fields``:
    the parameters' fields holding objects of a user's class (``"self.scale"``)."""
    fn.body = Unwrapper(parsed, fn, names, params_are_arrays, fields).block(fn.body)


def _at_line(node: gast.AST, line: int) -> gast.AST:
    """``node`` with the line of the statement it is in (for an error's location)."""
    node.lineno = getattr(node, "lineno", None) or line
    return node
