"""Where compiled code meets Tensors: taking their arrays, giving back gradients, and
running ``loss.backward()`` inside a compiled function."""

from __future__ import annotations

import itertools
import sys
from typing import Any

import numpy as np

from ..backend import array_module
from ..fused import _fma64 as fma64
from ..fused import fma
from ..grad_mode import STATE as GRAD_MODE
from ..grad_mode import enable_grad
from . import mutation
from .calls import CALLED, LEAVES, STEP, UNREACHED, Host, Step, path_key
from .creation import float_result
from .mutation import holds, refuse
from .objects import receiver
from .tensor_methods import is_array


def wrote(tensor: Any) -> None:
    """A Tensor's array was written in place (``Tensor._write``)."""
    step = STEP[0]
    if step is not None:  # inside a callee, any value saved so far may be the array
        step.writes[id(tensor)] = (tensor, None if step.depth else len(step.saved))
        if step.depth:  # but for those its primals, running, save after it
            step.callee_writes[id(tensor)] = _saved_so_far(sys._getframe(1))


def _saved_so_far(frame: Any) -> dict[int, int]:
    """Per dict of saved values of the generated primals running (by id), how many
    values it holds now."""
    found: dict[int, int] = {}
    while frame is not None:
        if frame.f_code.co_name.endswith(mutation.GENERATED):
            saved = frame.f_locals.get("_saved")
            if type(saved) is dict:
                found[id(saved)] = len(saved)
        frame = frame.f_back
    return found


def wrote_stepped(params: Any) -> None:
    """``Tensor._changed`` of each of ``params`` that has a gradient (an optimizer's step
    updated them in place): their versions bumped and their writes noted as ``wrote``
    notes them, in one call (every training step passes here)."""
    step = STEP[0]
    if step is None:
        for p in params:
            if p._grad is not None:
                p._version.value += 1
        return
    writes, n = step.writes, None if step.depth else len(step.saved)
    for p in params:
        if p._grad is not None:
            p._version.value += 1
            writes[id(p)] = (p, n)


SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward(). Specify retain_graph=True if you need to backward through "
    "the graph a second time."
)


def check_array_writes(step: Step, saved: dict, valued: dict[int, frozenset] | None) -> None:
    """Before ``backward()`` runs an adjoint reading the values ``valued`` (per saved
    value, the entries of its tuple read, None for all of it; None: any value): none may
    be an array the code computed and then changed in place through a detached alias
    (``y.detach().zero_()``: compiled code gave the change a new array, eager code's
    Tensor bumped its version), as eager code's version check says."""
    for array, n in step.array_writes:
        for sid, value in itertools.islice(saved.items(), n if saved is step.saved else None):
            entries = None if valued is None else valued.get(sid)
            if valued is not None and not entries:
                continue
            whole = entries is None or None in entries or not isinstance(value, tuple)
            parts = [value] if whole else [value[i] for i in entries if i < len(value)]
            if any(holds(part, array, tensors=False) for part in parts):
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been "
                    "modified by an inplace operation: a tensor the code computed (or a "
                    "detached alias of it) was changed in place after an operation saved "
                    "it for backward(). Hint: change a clone(), or make the change after "
                    "backward()."
                )


def check_writes(step: Step, saved: dict, reads: frozenset[int] | None) -> None:
    """Before ``backward()`` runs an adjoint reading the saved values ``reads`` (None:
    any): none of them may be a Tensor's array written in place after it was saved, as
    eager code's version check says."""
    for tensor, n in step.writes.values():
        before = itertools.islice(saved.items(), n if saved is step.saved else None)
        for sid, value in before:
            after = step.callee_writes.get(id(tensor), {})
            if (reads is None or sid in reads) and _holds_read(value, tensor._data, after):
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been "
                    "modified by an inplace operation: a tensor the code read before was "
                    "changed in place (under sd.no_grad(), or by a call) before "
                    "backward(). Hint: change a clone(), or make the change after "
                    "backward()."
                )


def _holds_read(value: Any, array: Any, before: dict[int, int]) -> bool:
    """Whether the saved ``value`` holds ``array`` where an adjoint reads it: of a compiled
    callee's record, only its saved values whose values (not shapes) its adjoint reads
    (``self.count += 1`` in a module's forward reads the counter for its dtype alone),
    saved before the write where it was made while the callee ran (``before``: per dict
    of saved values, how many it held then)."""
    if type(value) is tuple and len(value) == 8 and value[0] == "unit":
        unit, saved, path = value[1], value[2], value[3]
        reads = unit.freed_reads(path_key(path) if path else (), None)
        entries = itertools.islice(saved.items(), before.get(id(saved)))
        return any(
            (reads is None or sid in reads) and _holds_read(v, array, before) for sid, v in entries
        )
    return holds(value, array, tensors=False)


def tensor_class() -> type:
    """srcdiff's Tensor class (a class of no object before the Tensor layer loads)."""
    return Host.tensor


def unwrap(x: Any, path: list) -> Any:
    """The array of a Tensor (else ``x``), recording in ``path`` whether it was a Tensor
    that requires grad (1), one that does not (0), or no Tensor (2)."""
    tensor = Host.tensor
    cls = type(x)
    if cls is tensor:  # (the property's own test: no call)
        requires = x._node is not None or x._requires_grad
    elif not isinstance(x, tensor):
        path.append(2)
        return x
    else:  # (the same, where the subclass keeps the property)
        requires = (
            x._node is not None or x._requires_grad
            if cls.requires_grad is tensor.requires_grad
            else x.requires_grad
        )
    if requires and GRAD_MODE.enabled:
        LEAVES[0] += 1
        path.append(1)
        step = STEP[0]
        if step is not None:  # a leaf's (see ``mutation.follow``), a graph's
            (step.leaf_arrays if x._node is None else step.graph_arrays)[id(x._data)] = x
    else:
        path.append(0)
    return x._data


def record_float(path: list, x: Any) -> None:
    """Record in ``path`` whether ``x``, what a cast in compiled Tensor code gave, is a
    real float (1), which carries its input's gradient, or integers or booleans (0),
    which carry none (PyTorch's integer Tensors do not require grad)."""
    path.append(1 if float_result(x) else 0)


def refuse_leaf_update(old: Any) -> None:
    """PyTorch's error where the array ``old``, updated in place (by a function a
    compiled Tensor step called, given it), is that of a leaf requiring grad the step
    unwrapped, while recording: eager code would have written into the leaf."""
    step = STEP[0]
    leaf = None if step is None else step.leaf_arrays.get(id(old))
    if leaf is not None and leaf._data is old and Host.grad_enabled():
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )


mutation.LEAF_UPDATE[0] = refuse_leaf_update  # (see mutation.follow)


# what a compiled step says of a .register_hook() in it, and what to do
HOOK_REFUSAL = (
    "a gradient hook registered in a compiled step (.register_hook()): the compiled "
    "gradient does not run hooks it registers",
    "register the hook on the leaf before calling the step (its hooks run on the gradient "
    "the step gives it), or run this step eagerly (without @sd.differentiate)",
)


def tensor_method(obj: Any, name: str) -> None:
    """Check ``obj`` of ``obj.name()``, a Tensor method compiled code has no array version
    of (``retain_grad``, ``norm``), where ``obj`` may be a value the code computed, which
    it holds as an array: refused, where it would be an AttributeError. A hook is refused
    on any tensor: the compiled gradient has no place to run one that a step registers."""
    if name == "register_hook":
        raise refuse(*HOOK_REFUSAL)
    if is_array(obj):
        raise refuse(
            f"the Tensor method .{name}() on a value a compiled function computed (an array there)",
            "compute it with the Tensor methods and functions srcdiff compiles, or run this "
            "step eagerly (without @sd.differentiate)",
        )


# methods a Tensor has under the name of an array's or a list's update in place (which a
# statement of its own, compiled, is taken for)
IN_PLACE_ELSEWHERE = frozenset({"sort"})


def tensor_receiver(obj: Any, name: str) -> None:
    """``receiver(obj, name)`` in compiled Tensor code, where an array stands for a
    Tensor: a name srcdiff's Tensor has not (``h.repeat``) is refused, not NumPy's."""
    if is_array(obj) and not hasattr(Host.tensor, name):
        raise refuse(
            f".{name} of a Tensor: srcdiff's Tensor has no .{name} (compiled code would run "
            f"NumPy's array method .{name}, which means something else)",
            "compute it with the Tensor methods and functions srcdiff has",
        )
    if name in IN_PLACE_ELSEWHERE and (is_array(obj) or isinstance(obj, Host.tensor)):
        raise refuse(
            f".{name}() of a Tensor as a statement of its own: a Tensor's .{name}() leaves it "
            f"as it is and returns a new value, which the statement drops (compiled code took "
            f"it for an array's or a list's .{name}(), which changes it in place)",
            f"use its value (values, indices = h.{name}()), or leave the call out",
        )
    receiver(obj, name)


def entry_in_place(entry: Any, names: str) -> None:
    """In compiled Tensor code, check the old value of ``t`` after ``t = a[i]`` (or
    ``a.select(0, i)``, ``a.unbind()[i]``) and an update of ``t`` in place (``t += v``,
    ``t.add_(v)``) where ``a`` is read after it: a number there is PyTorch's 0-d view of
    ``a``'s entry, which the update writes into ``a``; compiled code holds it as a NumPy
    number, which no update reaches: refused. (A row, an array, is followed or refused
    as any view is.)"""
    if isinstance(entry, np.generic):
        held, written = (names.split(",") + ["", ""])[:2]
        raise refuse(
            f"an in-place update of `{written}`, an entry of the Tensor `{held}` (read by "
            f"indexing it, a loop over it, .select() or .unbind()), which `{held}` is read "
            f"after: PyTorch writes it into `{held}` through a 0-d view, compiled code holds "
            "the entry as a number the update cannot reach",
            f"write into `{held}` itself (`{held}[i] = {held}[i] + v`)",
        )


def alias_in_place(m: Any, old: Any, names: str) -> None:
    """In compiled Tensor code, check a name ``m`` read after an update in place of
    another name of its object (``d = s; d += 1``): where that object is a number (a 0-d
    Tensor compiled code holds as a NumPy number, ``s = h.sum()``), PyTorch changes it,
    so ``m`` sees the update; compiled code cannot change a number: refused."""
    if m is old and isinstance(old, np.generic):
        held, written = (names.split(",") + ["", ""])[:2]
        raise refuse(
            f"an in-place update of `{written}`, which holds the same 0-d Tensor as "
            f"`{held}`, read after it: PyTorch changes that Tensor, which `{held}` sees; "
            "compiled code holds it as a number, which no update changes",
            f"give the new value a name of its own (`{written} = {written} + v`), and read "
            "that name",
        )


def tensors_of(x: Any) -> Any:
    """``as_tensor`` of a value written into an object from outside compiled Tensor
    code, and of the entries of a list, tuple or dict it holds (new containers: the code
    built them), as eager code would have stored them."""
    if type(x) in (list, tuple):
        return type(x)(map(tensors_of, x))
    if type(x) is dict:
        return {k: tensors_of(v) for k, v in x.items()}
    return as_tensor(x)


def as_tensor(x: Any) -> Any:
    """A value compiled Tensor code holds as an array, as a Tensor sharing its memory
    (requiring no grad), for a ``sd.no_grad()`` block, which runs as written; any other
    value as it is."""
    if isinstance(x, np.generic):  # a reduction's float (``total.detach()``); an
        return Host.tensor._make(np.asarray(x)) if x.dtype.kind == "f" else x  # index stays
    return Host.tensor._make(x) if is_array(x) else x


def in_place(old: Any, new: Any, method: str, computed: bool, local: bool, operand: tuple,
             carries: tuple[bool, ...]) -> Any:  # fmt: skip
    """``m.add_(v)`` (``method``) in compiled code, computed as ``new = m + v``: what
    ``m`` is after it. The result must keep ``m``'s shape and dtype, as the Tensor's own
    array does. Where ``m`` may not be a value the code ``computed``, a Tensor from
    outside it (a parameter, a global, a list's entry, a ``.grad``) is changed in place
    as eager code changes it, and is ``m`` after it (the caller's lists keep it); but a
    leaf that requires grad raises PyTorch's error, and an ``operand`` (``v``, and
    ``alpha``) that carries a gradient (a Tensor that requires grad, or a value the
    analysis says ``carries`` one) is refused: the Tensor cannot take it on (see also
    ``outside_grad``). A value from outside that is not ``local`` must be such a Tensor
    (compiled code cannot change an array a global holds). ``carries`` ends with whether
    ``m`` may carry one."""
    if old is None:  # (``p.grad.zero_()`` before any backward(): Python's error)
        raise AttributeError(f"'NoneType' object has no attribute '{method}'")
    outside = isinstance(old, Host.tensor) and not computed
    if method == "detach_":
        return _detached_in_place(old, new, outside)
    if outside and old.requires_grad and Host.grad_enabled():
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation "
            f"(.{method}() in a compiled function)"
        )
    if not (outside or local):
        raise refuse(
            f"the in-place method .{method}() in a compiled function, on an object from "
            "outside it that is not a Tensor",
            "compute a new value out of place (`m = m + v` for `.add_(v)`)",
        )
    array = old._data if isinstance(old, Host.tensor) else old
    shape, new_shape = getattr(array, "shape", ()), getattr(new, "shape", ())
    if tuple(shape) != tuple(new_shape):
        raise RuntimeError(
            f"output with shape {list(shape)} doesn't match the broadcast shape "
            f"{list(new_shape)} (in .{method}())"
        )
    dtype, new_dtype = getattr(array, "dtype", None), getattr(new, "dtype", None)
    if dtype is not None and new_dtype is not None and dtype != new_dtype:
        raise RuntimeError(
            f"result type {new_dtype} of .{method}() differs from the tensor's {dtype}: "
            "compute it out of place, or convert the operand first"
        )
    carried = any(e.requires_grad if isinstance(e, Host.tensor) else may
                  for e, may in zip(operand, carries[:-1], strict=True))  # fmt: skip
    if not outside:
        if not (carried or carries[-1]) and new is not old and is_array(old):
            _wrote_array(old)  # (a detached alias, ``y.detach().zero_()``: y's array)
        return new
    if carried and Host.grad_enabled():
        raise refuse(
            f"the in-place method .{method}() in a compiled function, on a Tensor from "
            "outside it, with a value that may carry a gradient",
            "make the change under `with sd.no_grad():`, .detach() the value it adds, or "
            "compute a new Tensor out of place",
        )
    old.copy_(Host.tensor._make(new))  # (its writes are noted: see ``wrote``)
    return old


def _wrote_array(old: Any) -> None:
    """The array ``old``, which the code computed, was changed in place (given a new
    array), by a change that carries no gradient: a value saved before it must not be
    ``old``, whose Tensor eager code would have changed (see ``check_array_writes``)."""
    step = STEP[0]
    if step is not None and Host.grad_enabled():
        step.array_writes.append((old, None if step.depth else len(step.saved)))


def _detached_in_place(old: Any, new: Any, outside: bool) -> Any:
    """``h.detach_()`` (computed as ``new = h.detach()``, the same array) of a value the
    code computed: a new view of its array, so that ``h`` and every name sharing it
    follow the update as any other in place (see ``mutation.follow``), each detached.
    Refused on a Tensor from outside the code (it would stop requiring grad for good,
    which a compiled step cannot follow) and on a value held as a number."""
    if outside or isinstance(old, Host.tensor):
        raise refuse(
            ".detach_() of a Tensor from outside the compiled function (a parameter, an "
            "argument, a global): it would stop requiring grad for good",
            "detach a copy of its value instead (`h = x.detach()`), or call x.detach_() "
            "outside the compiled function",
        )
    if not is_array(new) or isinstance(new, np.generic):
        raise refuse(
            ".detach_() of a value compiled code holds as a number (a reduction's result)",
            "detach it out of place: `h = h.detach()`",
        )
    return new.view()


def tensor_in_place(obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """``obj.zero_()`` (``fill_``, ``copy_``, ``clamp_``, ...) in compiled code on an object
    that may be a Tensor from outside it (a list's entry, a ``.grad``): the Tensor's own
    method, run as eager code runs it (its writes are noted: see ``wrote``). Refused on
    a value the code computed (an array), and with a value that may carry a gradient
    (a Tensor that requires grad, or an array the code computed), which the Tensor
    could not take on; a leaf that requires grad raises PyTorch's error."""
    if not isinstance(obj, Host.tensor):
        raise refuse(
            f"the in-place Tensor method .{method}() in a compiled function, on a value it "
            "computed (an array there)",
            "compute the new value out of place (`h = h + v * w` for `.addcmul_(v, w)`)",
        )
    refuse_carried(f"the in-place Tensor method .{method}()", (*args, *kwargs.values()))
    return getattr(obj, method)(*args, **kwargs)


def held_without_gradient(value: Any, *roots: Any, into: tuple | None = None) -> Any:
    """``value``, written into an object from outside compiled Tensor code (a module's
    counter, ``self.calls + 1``), where it may carry a gradient the object could not keep
    (an array the code computed, a Tensor that requires grad): refused then. An array
    whose gradient may come only from the unwrapped arrays ``roots`` (the analysis says
    so: ``acc.total += loss.detach()``) carries none where none was a Tensor's requiring
    grad: it goes there as eager code puts it, a Tensor requiring none."""
    if not Host.grad_enabled():
        return value
    if type(value) in (list, tuple) or type(value) is dict:  # (each entry, as it would go)
        if type(value) is dict:
            return {k: held_without_gradient(v, *roots) for k, v in value.items()}
        return type(value)(held_without_gradient(v, *roots) for v in value)
    step = STEP[0]
    if roots and step is not None:
        if not any(id(r) in step.leaf_arrays or id(r) in step.graph_arrays for r in roots):
            if isinstance(value, np.generic):  # a 0-d Tensor's (``self.count += 1``) in eager
                value = Host.tensor._make(np.asarray(value))  # code, an integer one too
            return _kept_in_place(as_tensor(value), into)
        raise refuse(
            "a value computed from a Tensor that requires grad (a leaf's, or the object's "
            "own), written into an object from outside the compiled function, which could "
            "not keep its gradient",
            "detach the value that carries one (`self.last = y.sum().detach()`), or make "
            "the change under `with sd.no_grad():`",
        )
    if isinstance(value, Host.tensor) and value.requires_grad:
        raise refuse(
            "a Tensor that requires grad, written into an object from outside the compiled "
            "function",
            "make the change under `with sd.no_grad():`, or .detach() the value first",
        )
    if is_array(value) or isinstance(value, np.generic):  # (``acc.total += v.detach()``)
        raise refuse(
            "a value computed from one that may carry a gradient (a leaf's, or a Tensor "
            "read from an object), written into an object from outside the compiled "
            "function: compiled code holds it as an array, and cannot tell it carries none",
            "detach the value that carries one (`self.last = y.sum().detach()`), or make "
            "the change under `with sd.no_grad():`, needed where the value is computed from "
            "the object's own Tensor in a loop (`acc.total += loss.detach()` in a `for`)",
        )
    return _kept_in_place(value, into)


def _kept_in_place(value: Any, into: tuple | None) -> Any:
    """``value`` (no gradient carried), the new value of the field or entry ``into`` (an
    object and a name, or a list or dict and a key) of an augmented update (``self.count +=
    1``, ``self.xs[0] += 1.0``): where it holds a Tensor of its shape and dtype, that
    Tensor changed in place, as PyTorch's ``+=`` changes it (a name or a list holding it
    sees the change), and the field or entry keeps it; else ``value``."""
    if into is None:
        return value
    holder, key = into
    old = holder[key] if isinstance(holder, (list, dict)) else getattr(holder, key, None)
    new = value._data if isinstance(value, Host.tensor) else value
    if not (isinstance(old, Host.tensor) and (is_array(new) or isinstance(new, np.generic))):
        return value
    new = np.asarray(new) if isinstance(new, np.generic) else new
    if tuple(new.shape) != tuple(old.shape) or new.dtype != old._data.dtype:
        return value
    old.copy_(Host.tensor._make(new))  # (its writes are noted: see ``wrote``)
    return old


def refuse_carried(what: str, given: tuple) -> None:
    """Refuse ``what`` (a change of a Tensor from outside compiled code) where a value it
    takes on may carry a gradient: a Tensor that requires grad, or an array the code
    computed; the Tensor could not carry it."""
    if Host.grad_enabled() and any(
        a.requires_grad if isinstance(a, Host.tensor) else is_array(a) for a in given
    ):
        raise refuse(
            f"{what} in a compiled function, with a value that may carry a gradient",
            "make the change under `with sd.no_grad():`, or .detach() the value first",
        )


def outside_grad(g: Any, ans: Any, new: Any, method: str) -> Any:
    """The gradient of ``new`` given that of ``ans = in_place(old, new, ...)``: ``g``,
    where ``ans`` is ``new``; where it is a Tensor from outside the code, changed in
    place, no gradient flows through it (it requires none): one arriving is refused."""
    if ans is new or g is None or method == "detach_":  # (a view of new: see above)
        return g
    raise refuse(
        f"a gradient through .{method}() of a Tensor from outside the compiled function "
        "(it requires no grad, and the change made it depend on values that do)",
        "make the change under `with sd.no_grad():`, .detach() the value it adds, or "
        "compute a new Tensor out of place",
    )


ACCUMULATED = [0]  # how many gradients compiled adjoints have handed to Tensors so far


# while an adjoint runs: the gradients of its leaves with hooks (register_hook) and of
# the Tensors it was given that eager code computed, summed by id; after it, they go on
# together, so that each hook runs once on the whole gradient (as PyTorch's), not on each
# part (see ``hand_on``)
HOOKED: list[dict | None] = [None]


def accumulate_grad(tensor: Any, g: Any) -> None:
    """Add ``g`` to ``tensor.grad`` (a leaf), or carry it on through the graph that
    produced ``tensor`` (recorded by eager code before the compiled call)."""
    unreached = UNREACHED[0]
    if unreached is not None and any(g is z for z in unreached):
        return  # (no gradient path reaches it: PyTorch leaves its .grad as it was)
    ACCUMULATED[0] += 1
    held = HOOKED[0]
    if tensor._node is None and not tensor._hooks:  # a leaf without hooks: the usual case
        Host.accumulate(tensor, g)
        return
    if not hasattr(g, "shape"):  # (the seed 1.0 of a loss computed eagerly, as an array)
        g = array_module(tensor._data).asarray(g, dtype=tensor._data.dtype)
    if held is None:
        hand_on({id(tensor): (tensor, g)})
    else:
        key = id(tensor)
        held[key] = (tensor, g if key not in held else held[key][1] + g)


def hand_on(held: dict) -> None:
    """Give the gradients ``held`` (see ``HOOKED``) to their Tensors: a leaf's to its
    ``.grad`` after its hooks, a Tensor eager code computed on through its graph. Where a
    graph is behind several of them, they go through it as one loss, ``sum((t * g).sum())``,
    so that a hook in it (or on a leaf also given directly) sees the sum of the parts."""
    graphs = [(t, g) for t, g in held.values() if t._node is not None]
    if not graphs:
        for tensor, g in held.values():
            Host.accumulate_hooked(tensor, g)
        return
    if len(held) == 1:
        ((tensor, g),) = graphs
        tensor.backward(Host.tensor._make(g), retain_graph=True)
        return
    make = Host.tensor._make
    with enable_grad():
        parts = [(t * make(g)).sum() for t, g in held.values()]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
    total.backward(retain_graph=True)


def inactive_backward(obj: Any, /, *args: Any, **kwargs: Any) -> Any:
    """``obj.backward(...)`` in compiled Tensor code where ``obj`` carries no gradient (a
    loss computed under ``sd.no_grad()``, held as an array): PyTorch's error; a Tensor
    or another object runs its own ``backward``."""
    if is_array(obj) or isinstance(obj, Host.tensor) and not obj.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    return obj.backward(*args, **kwargs)


def backward_seed(data: Any, gradient: Any) -> Any:
    """The gradient ``backward(gradient)`` of an output holding ``data`` starts from:
    ones for a one-element output given none, else ``gradient``'s array (a Tensor's or
    an array-like), of the output's shape, in its dtype; PyTorch's errors otherwise."""
    xp = array_module(data)
    if gradient is None:
        if data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return xp.ones_like(data)
    g = gradient._data if isinstance(gradient, Host.tensor) else xp.asarray(gradient)
    if g.shape != data.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[0] has a shape of {tuple(g.shape)} and output[0] "
            f"has a shape of {tuple(data.shape)}."
        )
    return g.astype(data.dtype, copy=False)


def backward(
    unit: Any,
    saved: dict,
    path: list,
    site: int,
    loss: Any,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """``loss.backward()`` in compiled code: run the generated adjoint of the statements
    of this call that came before it (their Tensors' ``.grad`` accumulate)."""
    if create_graph:
        raise refuse(
            "backward(create_graph=True) in a compiled step: compiled code differentiates "
            "the step once",
            "run the step without @sd.differentiate (eager Tensors take create_graph=True)",
        )
    if inputs is not None:
        raise refuse(
            "backward(inputs=...) in a compiled step: its adjoint accumulates into every "
            "Tensor requiring grad that the loss was computed from",
            "run the step without @sd.differentiate (eager Tensors take inputs=)",
        )
    if type(loss) is not np.float64 and isinstance(loss, Host.tensor):  # (a Tensor the
        loss = loss._data  # compiled code left as one)
    if gradient is None and (type(loss) is np.float64 or getattr(loss, "shape", ()) == ()):
        seed = 1.0  # (the usual loss: a number)
    else:
        seed = backward_seed(array_module(loss).asarray(loss), gradient)
    key = path_key(path)
    # (unit.adjoint's, unit.saved_reads, unit.freed_reads: those whose values it reads)
    adjoint, reads, values = unit.backward_parts(key, site)
    step = STEP[0]
    if step is not None and LEAVES[0] == step.leaves:  # as eager code's loss would be
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn "
            "(nothing the compiled code read so far requires grad"
            + ("" if Host.grad_enabled() else ", and it runs under sd.no_grad()")
            + ")"
        )
    if step is not None:
        freed = step.freed.get(id(saved))
        if (
            freed
            and (values is None or not freed.isdisjoint(values))
            or step.roots  # (none, the usual case: no generator to make)
            and any(root is loss for root in step.roots)
        ):
            raise RuntimeError(SECOND_BACKWARD)
        if step.writes:
            check_writes(step, saved, reads)
        if step.array_writes:
            check_array_writes(step, saved, unit.valued_entries(key, site))
    called: dict = {}
    previous, CALLED[0] = CALLED[0], called  # (collect_called's, written out: every
    handed = ACCUMULATED[0]  # training step passes here)
    outer, HOOKED[0] = HOOKED[0], {}
    unreached, UNREACHED[0] = UNREACHED[0], []
    try:
        adjoint(saved, seed)
        hooked = HOOKED[0]
    finally:
        CALLED[0] = previous
        HOOKED[0] = outer
        UNREACHED[0] = unreached
    if hooked:
        hand_on(hooked)
    if step is not None and ACCUMULATED[0] == handed:  # as eager code's loss would be
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn (no "
            "Tensor that requires grad reaches the loss through operations that have a "
            "gradient: an integer cast, argmax, a comparison or .detach() passes none)"
        )
    if step is not None and not retain_graph:  # its saved values freed, as PyTorch's
        read = frozenset(saved) if values is None else values  # (the adjoint's own set)
        freed = step.freed.get(id(saved))
        step.freed[id(saved)] = read if freed is None else freed | read
        step.roots.append(loss)
    unit.last_backward = (key, site, tuple(called))


def number_argument(value: Any, fn: str, param: str, position: int) -> None:
    """PyTorch's TypeError for an array (a Tensor requiring grad, in compiled code) given
    where ``fn`` takes a Number only; a number passes."""
    if hasattr(value, "shape"):
        raise TypeError(f"{fn}(): argument '{param}' (position {position}) must be Number, "
                        "not Tensor")  # fmt: skip


# ---- optimizer.step() of a plain SGD, inlined in a compiled step ---------------------------

_PLAIN_NUMBERS = (float, int, bool)
_FLOAT64 = np.dtype(np.float64)


def sgd_arrays(optimizer: Any, count: int) -> list | None:
    """For a compiled step's ``optimizer.step()`` (see ``compiler/steps``): where it is
    SGD's update ``p = p - lr * g`` of one group of ``count`` parameters, each with a
    gradient (no momentum, weight decay or maximize; plain numbers; SGD's own methods),
    ``-lr`` and each parameter's array and its gradient's, read now, the parameters
    noted as written (``wrote_stepped``); else None, and the step runs as written."""
    if not Host.sgd:
        return None
    kind, step, update_group = Host.sgd
    if (
        type(optimizer) is not kind
        or kind.step is not step
        or kind.update_group is not update_group
    ):
        return None
    own = optimizer.__dict__
    groups = own.get("param_groups")
    if "step" in own or "update_group" in own or type(groups) is not list or len(groups) != 1:
        return None
    group = groups[0]
    lr, momentum, decay, maximize = (
        group.get("lr"), group.get("momentum"), group.get("weight_decay"), group.get("maximize")
    )  # fmt: skip
    plain = _PLAIN_NUMBERS
    if (
        type(lr) not in plain
        or type(momentum) not in plain
        or type(decay) not in plain
        or type(maximize) not in plain
        or momentum
        or decay
        or maximize
    ):
        return None
    params = group.get("params")
    if type(params) is not list or len(params) != count:
        return None
    arrays: list = [-lr]
    for p in params:
        grad = p._grad
        if grad is None:
            return None
        arrays += (p._data, grad._data)
    wrote_stepped(params)
    return arrays


def descend(param: Any, grad: Any, alpha: Any) -> None:
    """``param += alpha * grad`` in place, rounded once as SGD's update rounds it
    (``fused.fma``): a parameter's array updated by a step inlined (``sgd_arrays``). A
    parameter that is one float64 number (a step's microseconds) is computed at once."""
    if (
        type(alpha) is float
        and param.shape == (1,)
        and grad.shape == (1,)
        and type(param) is np.ndarray
        and type(grad) is np.ndarray
        and param.dtype is _FLOAT64
        and grad.dtype is _FLOAT64
    ):  # (fused.fma's own first case, without its other checks)
        param[0] = fma64(grad.item(), alpha, param.item())
        return
    fma(grad, alpha, param, out=param)
