"""The eager graph: recorded primitive calls, and ``backward()`` through generated source.

Every differentiable operation on tensors (in grad mode, with an input that requires
grad) records a ``Node``: the primitive (a key of the rule registry), its positional
inputs in the order of the rule's parameters, its keyword constants, its output array
and the versions of its inputs. ``backward()`` numbers the values of the graph, hands
the operations to ``srcdiff.compiler.eager.compile_ops``, which emits (and caches) the
adjoint as Python source, runs it, and accumulates the gradients into ``.grad``.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import inspect
import operator
import os
import sys
import textwrap
import weakref
from collections.abc import Callable, Iterator, Sequence
from types import CodeType, FrameType
from typing import Any

import numpy as np

from . import grad_mode, rules, runtime
from .backend import array_module

SECOND_BACKWARD = runtime.tensors.SECOND_BACKWARD  # (compiled code's refusal too)


@functools.cache
def _Tensor() -> type:  # noqa: N802 - stands for the class
    """The Tensor class (imported late: srcdiff.tensor imports this module)."""
    from .tensor import Tensor

    return Tensor


class Version:
    """The version counter of an array: bumped by every in-place change (shared by views).
    ``regraphed`` is the version a recorded in-place change left it at (its tensor got a
    new grad_fn, which views taken before do not have): -1 for none."""

    __slots__ = ("value", "regraphed")

    def __init__(self) -> None:
        self.value = 0
        self.regraphed = -1


# Kinds of recorded argument.
CONST, LEAF, INPUT, NODE = "c", "leaf", "input", "node"


class Arg:
    """A positional input of a node: a constant, a leaf, another input, or a node's output."""

    __slots__ = ("kind", "ref", "value", "box", "version")

    def __init__(
        self,
        kind: str,
        ref: Any = None,
        value: Any = None,
        box: Version | None = None,
        version: int = 0,
    ) -> None:
        self.kind, self.ref, self.value, self.box, self.version = kind, ref, value, box, version


class Node:
    """One recorded primitive call; a tensor's ``grad_fn``."""

    __slots__ = (
        "prim",
        "args",
        "kwargs",
        "out",
        "out_box",
        "out_version",
        "_name",
        "freed",
        "retained",
        "view",
        "hooks",
        "at",
        "__weakref__",
    )

    def __init__(
        self,
        prim: Any,
        args: tuple[Arg, ...],
        kwargs: dict,
        out: Any,
        out_box: Version | None,
        name: str,
        at: tuple[CodeType, int] | None = None,
    ) -> None:
        self.prim, self.args, self.kwargs, self.out = prim, args, kwargs, out
        self.out_box = out_box
        self.out_version = out_box.value if out_box is not None else 0
        self._name = name
        self.freed = False
        self.retained: list[weakref.ref] = []
        self.view = False  # its output shares the memory of an input (see _check_versions)
        self.hooks: dict | None = None  # its tensor's ``register_hook``s, by handle id
        # the user's code that made it, and the instruction there (see ``user_line``):
        # the line a refusal of its backward() names
        self.at = at

    def name(self) -> str:
        return self._name

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """The functions that feed this one, one ``(fn, 0)`` per positional input, as in PyTorch."""
        out = []
        for arg in self.args:
            if arg.kind == NODE:
                out.append((arg.ref, 0))
            elif arg.kind == LEAF:
                out.append((accumulator(arg.ref), 0))
            else:
                out.append((None, 0))
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{self._name} object at {hex(id(self))}>"


class CompiledFunctionBackward(Node):
    """The grad_fn of a value that a compiled Tensor function (one calling ``backward()``
    itself) returned, computed from Tensors that require grad: the compiled code keeps no
    graph of it, so a ``backward()`` reaching it raises rather than give the Tensors
    before it no gradient."""

    __slots__ = ()

    REFUSAL = (
        "backward() through a value that a function compiled with @sd.differentiate returned: "
        "it ran its own backward(), and compiled code keeps no graph for another. Return "
        "loss.item() or a detached value, compute what needs this gradient inside the "
        "function, or run the function without @sd.differentiate"
    )


def compiled_result(tensor: Any) -> Any:
    """``tensor`` (a compiled function's result) made a non-leaf whose graph cannot be
    followed (see ``CompiledFunctionBackward``), as PyTorch's would require grad."""
    tensor._node = CompiledFunctionBackward(
        None, (), {}, tensor._data, tensor._version, "CompiledFunctionBackward"
    )
    return tensor


class AccumulateGrad:
    """The graph node of a leaf that requires grad (``.variable`` is the leaf)."""

    __slots__ = ("_variable", "__weakref__")

    def __init__(self, variable: Any) -> None:
        self._variable = weakref.ref(variable)  # the leaf holds this node: no cycle

    @property
    def variable(self) -> Any:
        return self._variable()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    next_functions: tuple = ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"


def accumulator(leaf: Any) -> AccumulateGrad:
    """The (one) AccumulateGrad node of a leaf."""
    acc = getattr(leaf, "_accumulator", None)
    if acc is None:
        acc = leaf._accumulator = AccumulateGrad(leaf)
    return acc


def Variable(data: Any, requires_grad: bool = False) -> Any:  # noqa: N802 - PyTorch's name
    """PyTorch's old wrapper: a tensor sharing ``data``'s array, with ``requires_grad``."""
    return _Tensor()(data, requires_grad=requires_grad)


# ---- recording ---------------------------------------------------------------------------


def _is_const(x: Any) -> bool:
    """Whether ``x`` is a constant of the generated source (a literal, part of its cache key).

    Anything else (arrays, slices, lists) is an input value, so that reading a different
    slice of a tensor each step does not generate a new adjoint each step.
    """
    if type(x) is float:
        return x == x and abs(x) != float("inf")
    if type(x) is tuple:
        return all(_is_const(v) for v in x)
    return x is None or x is Ellipsis or type(x) in (bool, int, str)


def _arg(x: Any) -> Arg:
    if isinstance(x, _Tensor()):
        node = x._node
        if node is not None:
            return Arg(NODE, node, version=node.out_box.value if node.out_box is not None else 0)
        kind = LEAF if x._requires_grad else INPUT
        return Arg(kind, x if kind == LEAF else None, x._data, x._version, x._version.value)
    if _is_const(x):
        return Arg(CONST, value=x)
    return Arg(INPUT, value=_as_now(x))


def _as_now(x: Any) -> Any:
    """An operand that is no tensor, as it is now: an array or a list (an index, a mask,
    a constant) has no version counter to tell a later change in place, so the graph
    keeps a copy, and its gradient is that of the values the operation read."""
    if isinstance(x, (list, tuple)):
        kept = [_as_now(e) for e in x]
        return x if type(x) is tuple and all(map(operator.is_, kept, x)) else type(x)(kept)
    if isinstance(x, (dict, set)):
        return copy.deepcopy(x)
    if hasattr(x, "shape") and hasattr(x, "copy") and not isinstance(x, np.generic):
        return x.copy()
    return x


_NODE_CLASSES: dict[str, type] = {}


def node_class(name: str) -> type:
    """A subclass of Node named as PyTorch names the function (``MulBackward0``)."""
    cls = _NODE_CLASSES.get(name)
    if cls is None:
        cls = _NODE_CLASSES[name] = type(name, (Node,), {"__slots__": ()})
    return cls


def record(out: Any, prim: Any, inputs: Sequence[Any], kwargs: dict | None, name: str,
           view: bool = False, inside: int = 0) -> Node:  # fmt: skip
    """Record ``out = prim(*inputs, **kwargs)`` as ``out``'s grad_fn (``view``: ``out``
    shares the memory of ``inputs[0]``), with the user's line that asked for it;
    ``inside``: how many callers up from this call are srcdiff's own, for certain (not
    looked at)."""
    if rules.lookup(prim) is None:
        raise RuntimeError(
            f"srcdiff has no reverse rule for {_prim_name(prim)}; register one with "
            f"@sd.register_vjp({_prim_name(prim)}) or call it under sd.no_grad()"
        )
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in (kwargs or {}).items()}
    try:  # the first caller not known to be srcdiff's: mostly the user's, seen before
        frame = _getframe(1 + inside)
        code = frame.f_code
        at = (code, frame.f_lasti) if code.co_filename in _USER_FILES else user_line(frame)
    except ValueError:  # (no frame that deep)
        at = None
    node = node_class(name)(prim, tuple(_arg(x) for x in inputs), kw, out._data, out._version, name,
                            at)  # fmt: skip
    node.view = view
    out._node = node
    return node


OWN_CODE = (os.path.dirname(os.path.abspath(__file__)) + os.sep, "<srcdiff")
_getframe = sys._getframe
_OWN_FILES: set[str] = set()  # the files of the frames seen that are srcdiff's ...
_USER_FILES: set[str] = set()  # ... and those that are not


def user_line(frame: FrameType | None) -> tuple[CodeType, int] | None:
    """The code and instruction (``f_lasti``: ``compiler.eager.line_of`` reads its line,
    when a refusal names it) of the innermost caller
    outside srcdiff (its files and the code it generates), from ``frame`` up: where the
    user's code asked for the operation being recorded. Run for every recorded operation
    whose caller is srcdiff's (``record`` skips those known to be, which
    ``sys._getframe`` passes without making objects of them), so kept to a walk up the
    frames, each file's side looked up."""
    while frame is not None:
        code = frame.f_code
        while code.co_filename in _OWN_FILES:  # (the common case, kept short)
            frame = frame.f_back
            if frame is None:
                return None
            code = frame.f_code
        if code.co_filename in _USER_FILES:
            return code, frame.f_lasti
        file = code.co_filename  # first seen: which side is it?
        (_OWN_FILES if file.startswith(OWN_CODE) else _USER_FILES).add(file)
    return None


def _prim_name(prim: Any) -> str:
    if isinstance(prim, str):
        return prim
    module = getattr(prim, "__module__", None) or "numpy"
    return f"{module}.{getattr(prim, '__name__', repr(prim))}"


def rebind(tensor: Any, node: Node) -> None:
    """Make ``node`` (recorded on a snapshot) the grad_fn of ``tensor`` after an in-place change."""
    old = tensor._node
    node.out, node.out_box, node.out_version = tensor._data, tensor._version, tensor._version.value
    if old is not None and tensor._retains_grad:
        old.retained = [r for r in old.retained if r() is not tensor]
    tensor._node = node
    if tensor._retains_grad:
        node.retained.append(weakref.ref(tensor))


def snapshot(tensor: Any) -> Any:
    """A tensor standing for ``tensor`` as it is now, for recording an in-place change of it.

    The snapshot owns a copy of the data, so the nodes that read the old value keep it.
    """
    snap = _Tensor()._make(tensor._data.copy())
    if tensor._node is not None:
        node = tensor._node
        if node.out is tensor._data:
            node.out, node.out_box = snap._data, None
        snap._node = node
    return snap


# ---- backward ----------------------------------------------------------------------------


def compile_ops(ops: tuple, n_inputs: int, wanted: tuple[int, ...], xp: Any = None,
                where: tuple = ()) -> Callable:  # fmt: skip
    """The adjoint of ``ops`` as generated source (``srcdiff.compiler.eager.compile_ops``),
    computing with the array module ``xp`` (NumPy by default); ``where``: the user's code
    and instruction of each operation (or None), whose line a refusal names."""
    from .compiler.eager import compile_ops as compile_adjoint

    return compile_adjoint(ops, n_inputs, wanted, xp=xp, where=where)


LAST_SOURCE = [""]  # the adjoint source of the latest backward(), for sd.source


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """``torch.autograd.backward``: accumulate the gradients of ``tensors`` (one, or a
    sequence; each weighted by its entry of ``grad_tensors``) into the ``.grad`` of every
    leaf behind them that requires grad, or of ``inputs`` only (leaves or not); with
    ``create_graph``, as tensors with a graph of their own (see ``grad``). The graphs are
    freed once all ran, unless ``retain_graph`` (by default ``create_graph``)."""
    roots = _sequence(tensors)
    weights = [None] * len(roots) if grad_tensors is None else _sequence(grad_tensors)
    keep = create_graph if retain_graph is None else bool(retain_graph)
    wanted = None if inputs is None else _sequence(inputs)
    if len(roots) > 1 and wanted is None and not create_graph and _hooked(roots):
        roots, weights = [_one_loss(roots, weights)], [None]
    whole = len(roots) == 1 and wanted is None  # (one whole graph: _pull frees it)
    with _retained(wanted or []):
        for root, weight in zip(roots, weights, strict=True):
            for tensor, g in _pull(root, weight, keep or not whole, create_graph):
                if g is None or (tensor._node is None and not tensor._requires_grad):
                    continue  # (a leaf that stopped requiring grad after it was read)
                if wanted is not None and not any(tensor is x for x in wanted):
                    continue
                if not create_graph:
                    accumulate(tensor, g)
                elif tensor._grad is None:
                    tensor._grad = g
                else:
                    tensor._grad = tensor._grad + g
        if not (keep or whole):  # freed once all ran (their graphs may share), above
            _free(_between(roots, wanted) if wanted is not None else _graphs(roots))  # inputs


def _hooked(roots: list) -> bool:
    """Whether a tensor behind ``roots``, leaf or not, has hooks (``register_hook``), and
    all of them require grad (one that does not raises PyTorch's error as it is)."""
    if not all(r.requires_grad for r in roots):
        return False
    if any(r._node is None and r._hooks for r in roots):
        return True
    return any(
        node.hooks or any(a.kind == LEAF and a.ref._hooks for a in node.args)
        for node in _graphs(roots)
    )


def _one_loss(roots: list, weights: list) -> Any:
    """``roots`` weighted by ``weights`` as one loss, ``sum((root * seed).sum())``: its
    backward is theirs together, and a hook behind several of them runs once, on the sum
    of their gradients (as PyTorch's one pass over the graph does), not once per root."""
    make = _Tensor()._make
    with grad_mode.enable_grad():
        parts = [
            (r * make(runtime.tensors.backward_seed(r._data, w))).sum()
            for r, w in zip(roots, weights, strict=True)
        ]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
    return total


def _sequence(x: Any) -> list:
    """``x`` as a list of tensors (one tensor, or a sequence of them)."""
    return [x] if isinstance(x, _Tensor()) else list(x)


def _graphs(roots: list) -> list[Node]:
    """The nodes of the graphs behind ``roots``, each once."""
    nodes: dict[int, Node] = {}
    for root in roots:
        if root._node is not None:
            nodes.update((id(n), n) for n in _topological(root._node))
    return list(nodes.values())


@contextlib.contextmanager
def _retained(tensors: list) -> Iterator[None]:
    """The non-leaves among ``tensors`` keep their gradient for one pass (their
    ``.grad`` set as ``retain_grad()`` would, where they are the wanted inputs)."""
    held = []
    for x in tensors:
        if x._node is not None and not x._retains_grad:
            ref = weakref.ref(x)
            x._node.retained.append(ref)
            held.append((x._node, ref))
    try:
        yield
    finally:
        for node, ref in held:
            node.retained.remove(ref)


def _pull(
    root: Any, gradient: Any, retain_graph: bool, create_graph: bool = False
) -> list[tuple[Any, Any]]:
    """Run the generated adjoint of the graph behind ``root``: each leaf (and retained
    non-leaf) tensor with its gradient array (None where nothing reached it); with
    ``create_graph``, with its gradient as a tensor recorded as an operation of the
    leaves (``graph_gradient``), so that it can be differentiated again. The hooks of a
    leaf (``register_hook``) have run on its gradient."""
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    seed = runtime.tensors.backward_seed(root._data, gradient)
    nodes = _topological(root._node) if root._node is not None else []
    _check_root(root._node)
    _check_versions(nodes)
    if any(node.hooks for node in nodes):
        pairs = _pull_through_hooks(nodes, seed, create_graph)
    else:
        pairs = _pull_plan(_Plan(nodes, root), gradient, seed, create_graph)
    root._source = LAST_SOURCE[0]
    if not retain_graph:
        _free(nodes)
    return [
        (
            t,
            g
            if g is None or t._node is not None or not t._hooks
            else run_hooks(t._hooks, g, t._data),
        )
        for t, g in pairs
    ]


def _pull_plan(plan: _Plan, gradient: Any, seed: Any, create_graph: bool) -> list[tuple]:
    """The targets of ``plan`` with their gradients, the graph's result weighted by
    ``seed`` (see ``_pull``)."""
    adjoint = compile_ops(plan.ops, plan.n_inputs, plan.wanted, array_module(seed), plan.where)
    grads = adjoint(plan.values, seed)
    LAST_SOURCE[0] = adjoint.source
    if create_graph:  # (a gradient given as a tensor with a graph is an input of theirs)
        carried = isinstance(gradient, _Tensor()) and gradient.requires_grad
        grads = _recorded(plan, grads, gradient if carried else seed)
    return list(zip(plan.targets, grads, strict=True))


def _pull_through_hooks(nodes: list[Node], seed: Any, create_graph: bool) -> list[tuple]:
    """``_pull`` of a graph where non-leaves have hooks: the graph cut at them, run part
    by part from the root, each hooked tensor's part once its whole gradient is in (the
    parts behind the others first, as each comes after what it reads), its hooks run on
    it, and what they return taken on behind it."""
    if create_graph:
        raise RuntimeError(
            "backward(create_graph=True) through a tensor that is not a leaf with a hook "
            "(register_hook): srcdiff runs such hooks without create_graph only; register "
            "the hook on a leaf, or differentiate without the hook"
        )
    order = {id(node): i for i, node in enumerate(nodes)}
    cuts = {id(node): node for node in nodes if node.hooks}
    pending: dict[int, Any] = {}
    out: dict[int, tuple] = {}  # (a leaf reached in two parts: its gradients added)
    start, g = nodes[-1], seed
    while True:
        if start.hooks:
            g = run_hooks(start.hooks, g, start.out)
        others = {k: n for k, n in cuts.items() if n is not start}
        plan = _Plan(_topological(start, others), None, others)
        for target, grad in _pull_plan(plan, None, g, False):
            if not isinstance(target, Node):
                before = out.get(id(target), (target, None))[1]
                total = grad if before is None else before if grad is None else before + grad
                out[id(target)] = (target, total)
            elif grad is not None:
                key = id(target)
                pending[key] = grad if key not in pending else pending[key] + grad
        if not pending:
            return list(out.values())
        key = max(pending, key=order.__getitem__)
        start, g = cuts[key], pending.pop(key)


def run_hooks(hooks: dict, g: Any, like: Any = None) -> Any:
    """``g`` (a gradient array, or a tensor with create_graph) after each of ``hooks`` in
    the order they were registered, each given the last one's result as a tensor (shaped
    like the array ``like``): one that returns a tensor replaces it (of the same shape, as
    PyTorch checks)."""
    if not isinstance(g, _Tensor()) and like is not None and np.shape(g) != like.shape:
        g = array_module(like).broadcast_to(g, like.shape).copy()  # (a broadcast gradient)
    tensor = g if isinstance(g, _Tensor()) else _Tensor()._make(g)
    for hook in list(hooks.values()):
        new = hook(tensor)
        if new is None:
            continue
        if not isinstance(new, _Tensor()):
            raise TypeError(
                f"a hook returned a {type(new).__name__}: return a tensor (or None to keep "
                "the gradient)"
            )
        if tuple(new.shape) != tuple(tensor.shape):
            raise RuntimeError(
                f"hook '{getattr(hook, '__name__', hook)}' has changed the size of value"
            )
        tensor = new
    return tensor if isinstance(g, _Tensor()) else tensor._data


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook away (as PyTorch's
    ``torch.utils.hooks.RemovableHandle``, a context manager too)."""

    next_id = 0

    def __init__(self, hooks: dict, hook: Callable) -> None:
        self._hooks = hooks
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class RecordedGraph:
    """The gradient of a recorded graph (its result weighted by a seed) with respect to
    its input ``k``, as an operation of the seed and the graph's inputs: it is
    differentiated again by reverse mode over the forward mode of the graph's program
    (``compile_ops``'s ``graph_program``), as ``sd.hvp`` differentiates a compiled
    function."""

    def __init__(self, program: Callable, constants: list, k: int, retaining: bool = False
                 ) -> None:  # fmt: skip
        self.program, self.constants, self.k = program, constants, k
        self.retaining = retaining  # the graph holds non-leaves that retain their grad

    def __repr__(self) -> str:
        return f"<the gradient of a recorded graph with respect to its input {self.k}>"

    def __call__(self, seed: Any, *inputs: Any) -> Any:
        values = (*inputs, *self.constants)
        grads = runtime.reverse_over_forward(self.program, values, [], (seed, None)).d_args
        return runtime.zeros_like(inputs[self.k]) if grads[self.k] is None else grads[self.k]

    def vjp(self, g: Any, seed: Any, inputs: tuple) -> tuple:
        """The pull-back of ``g`` (shaped like the gradient) to the seed and every input:
        the gradient is linear in the seed, whose share is the graph's derivative along
        ``g`` (the forward mode's tangent). A graph holding non-leaves that retain their
        grad is refused: their ``.grad`` would not take this pass's share."""
        if self.retaining:
            raise NotImplementedError(
                "a gradient made with create_graph=True, differentiated again through a "
                "graph where a tensor that is not a leaf retains its grad (retain_grad()): "
                "srcdiff would leave its .grad without this pass's share; call retain_grad() "
                "after the backward with create_graph=True, or not at all"
            )
        tangents: list = [None] * (len(inputs) + len(self.constants))
        tangents[self.k] = g
        values = (*inputs, *self.constants)
        pulled = runtime.reverse_over_forward(self.program, values, tangents, (None, seed))
        along = pulled.outputs[1]
        return (runtime.zeros_like(seed) if along is None else along, *pulled.d_args[: len(inputs)])


def graph_gradient(graph: RecordedGraph, seed: Any, *inputs: Any) -> Any:
    """The primitive ``create_graph=True`` records: ``graph``'s gradient at ``inputs``,
    weighted by ``seed`` (a tensor with a graph of its own, or an array)."""
    return graph(seed, *inputs)


def _graph_gradient_vjp(g: Any, ans: Any, graph: RecordedGraph, seed: Any, *inputs: Any) -> tuple:
    return (None, *graph.vjp(g, seed, inputs))


rules.register(graph_gradient, rules.make_rule(_graph_gradient_vjp, inline=False))
rules.registry.no_forward(  # what a gradient of it would take, with create_graph=True
    graph_gradient,
    "a third derivative: a gradient made with create_graph=True, differentiated with "
    "create_graph=True again, then once more",
    "srcdiff differentiates a gradient once more (second derivatives); for a third, write "
    "the second derivative out as a function and differentiate that",
)


def _recorded(plan: _Plan, grads: tuple, seed: Any) -> list:
    """The gradients ``grads`` of the graph of ``plan`` as tensors recorded as
    ``graph_gradient`` operations of ``seed`` (the tensor ``backward`` was given, or its
    array) and the graph's inputs (``create_graph=True``). Each is an operation of the
    leaves it depends on alone (``_dependencies``), the others taken as constants, as
    PyTorch's is: a loss of it leaves the ``.grad`` of the others None (an optimizer
    skips them), and one that depends on no leaf and no seed with a graph is a constant,
    that requires no grad (the gradient of ``3 * x``)."""
    from .compiler.eager import graph_program

    program, constants = graph_program(plan.ops, plan.n_inputs)
    carried = isinstance(seed, _Tensor()) and seed.requires_grad
    depends = _dependencies(plan)
    out = []
    leaves = len(plan.inputs_of)  # (the targets: the leaves, then retained non-leaves)
    retaining = any(t._retains_grad for t in plan.targets[leaves:])
    for k, g, uses in zip(plan.inputs_of, grads[:leaves], depends[:leaves], strict=True):
        if g is None:
            out.append(None)
            continue
        tensor = _Tensor()._make(g.copy())  # its own: g may be the seed itself (y = x)
        if uses or carried:
            record(tensor, graph_gradient, [RecordedGraph(program, constants, k, retaining), seed,
                   *_operands(plan, uses)], None, "GradBackward")  # fmt: skip
        out.append(tensor)
    for g, uses in zip(grads[leaves:], depends[leaves:], strict=True):
        tensor = None if g is None else _Tensor()._make(g.copy())
        if tensor is not None and (uses or carried):  # refused only where differentiated
            record(tensor, graph_gradient, [_NonLeafGradient(), seed, *_operands(plan, uses)],
                   None, "GradBackward")  # fmt: skip
        out.append(tensor)
    return out


@functools.cache
def _operand_reads(
    fn: Callable, params: tuple[str, ...], varargs: str | None, n: int, masks: bool
) -> tuple[tuple[str | None, ...], tuple[frozenset[str], ...]]:
    """For a rule (its ``fn``, ``params``, ``varargs``) given ``n`` positional operands: the
    parameter taking each, and for each, the parameters (and ``ans``) whose values the
    rule's adjoint reads for its gradient (all it reads, where the rule's form does not
    tell them apart; with ``masks``, reads as masks and indices left out). Found once per
    rule and count: every create_graph backward asks."""
    names = tuple(params[j] if j < len(params) else varargs for j in range(n))
    per_operand = _reads_by_gradient(fn, params, varargs, masks)
    if per_operand is None or varargs or len(per_operand) < n:
        return names, (_reads(fn, params, varargs, masks),) * n
    return names, tuple(per_operand[:n])


def _operands(plan: _Plan, uses: frozenset[int]) -> list:
    """The inputs of ``plan``'s graph as operands of a gradient depending on the leaves
    at the positions ``uses`` alone: the other leaves detached (constants there)."""
    return [x.detach() if isinstance(x, _Tensor()) and i not in uses else x
            for i, x in enumerate(plan.inputs)]  # fmt: skip


# The primitives whose gradient PyTorch computes by an operation with a derivative of its
# own (threshold_backward, leaky_relu_backward, hardtanh_backward, hardshrink_backward,
# softshrink_backward, hardsigmoid_backward, nll_loss_backward): a gradient through them
# depends on their input, which they compare, or read for its shape alone (its derivative
# is zero).
_OWN_BACKWARD = frozenset(
    (
        runtime.tensor_methods.relu,
        runtime.tensor_methods.leaky_relu,
        runtime.tensor_methods.hardtanh,
        runtime.tensor_methods.threshold,
        runtime.tensor_methods.hardshrink,
        runtime.tensor_methods.softshrink,
        runtime.tensor_methods.hardsigmoid,
        runtime.tensor_methods.nll_picked,
    )
)


def _dependencies(plan: _Plan) -> list[frozenset[int]]:
    """For each target of ``plan`` (its leaves, then its retained non-leaves): the
    positions of the leaves its gradient depends on. As in PyTorch, a gradient depends
    on what the adjoints on its way from the root read (their saved tensors): each
    rule's adjoint for an operand reads some of the operands and the result
    (``_reads_by_gradient``), which depend on the leaves behind them."""
    n = plan.n_inputs
    behind: list[frozenset[int]] = [frozenset()] * (n + len(plan.ops))
    for i in plan.inputs_of:
        behind[i] = frozenset((i,))
    for i, (_, args, _) in enumerate(plan.ops):
        behind[n + i] = frozenset().union(*(behind[v] for kind, v in args if kind == "v"))
    reads: list[frozenset[int] | None] = [None] * len(behind)  # None: no gradient reaches it
    reads[-1] = frozenset()  # the root's: the seed
    for i in reversed(range(len(plan.ops))):
        if reads[n + i] is None:
            continue
        prim, args, _ = plan.ops[i]
        rule = rules.lookup(prim)
        masks = prim not in _OWN_BACKWARD
        params, per_operand = _operand_reads(rule.fn, rule.params, rule.varargs, len(args), masks)
        operands = [(u, name) for (kind, u), name in zip(args, params, strict=True)
                    if kind == "v"]  # fmt: skip
        for (kind, v), names in zip(args, per_operand, strict=True):
            if kind != "v":
                continue
            read = [u for u, name in operands if name in names] + (
                [n + i] if "ans" in names else []
            )
            if not masks and operands:  # (PyTorch's backward of it takes the input)
                read.append(operands[0][0])
            now = reads[n + i].union(*(behind[u] for u in read))
            reads[v] = now if reads[v] is None else reads[v] | now
    targets = [*plan.inputs_of, *(plan.wanted[len(plan.inputs_of) :])]
    return [reads[t] or frozenset() for t in targets]


class _NonLeafGradient:
    """Stands for the graph of the gradient of a non-leaf made with ``create_graph=True``
    (recorded as an operation of the graph's inputs, so that a loss of it reaches them):
    differentiated again, it is refused (srcdiff differentiates gradients with respect to
    leaves only), never taken for a constant."""

    def vjp(self, g: Any, seed: Any, inputs: tuple) -> tuple:
        raise NotImplementedError(
            "a gradient of the .grad of a tensor that is not a leaf, made with "
            "create_graph=True: srcdiff differentiates gradients with respect to leaves only. "
            "Take the gradient with respect to the leaves it is computed from "
            "(autograd.grad(outputs, x, create_graph=True)), or make the tensor a leaf "
            "(y = y.detach().requires_grad_()) to differentiate in it alone"
        )


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """``torch.autograd.grad``: the gradients of ``outputs`` (summed, each weighted by
    its ``grad_outputs``) with respect to each of ``inputs``, returned rather than
    accumulated into ``.grad``. With ``create_graph=True`` they are recorded operations
    of the leaves, so that a loss made of them (a gradient penalty) has gradients too."""
    outputs, inputs = _sequence(outputs), _sequence(inputs)
    weights = [None] * len(outputs) if grad_outputs is None else _sequence(grad_outputs)
    keep = create_graph if retain_graph is None else bool(retain_graph)
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    with _retained(inputs):  # (non-leaf inputs: for this pass only)
        found: dict[int, Any] = {}
        for out, weight in zip(outputs, weights, strict=True):
            for tensor, g in _pull(out, weight, True, create_graph):
                if g is not None:
                    found[id(tensor)] = g if id(tensor) not in found else found[id(tensor)] + g
        if not keep:  # freed once all ran: the outputs' graphs may share
            _free(_between(outputs, inputs))
    result = []
    for x in inputs:
        g = found.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(
                "One of the differentiated Tensors appears to not have been used in the "
                "graph. Set allow_unused=True if this is the desired behavior."
            )
        result.append(g if g is None or create_graph else _Tensor()._make(g))
    return tuple(result)


def _between(outputs: list, inputs: list) -> list[Node]:
    """The nodes of the graphs of ``outputs`` that their gradients with respect to
    ``inputs`` go through: those reading an input or a node that does. PyTorch runs and
    frees these only: what lies behind a non-leaf input stays for another backward."""
    nodes = {id(n): n for n in _graphs(outputs)}
    wanted = {id(x._node) if x._node is not None else id(x) for x in inputs}
    above: set[int] = set()
    for key, node in nodes.items():  # (each after the nodes it reads)
        if any(a.kind in (NODE, LEAF) and (id(a.ref) in wanted or id(a.ref) in above)
               for a in node.args):  # fmt: skip
            above.add(key)
    return [node for key, node in nodes.items() if key in above]


def _topological(root: Node, stops: dict | None = None) -> list[Node]:
    """The nodes behind ``root``, each after the nodes it reads (``root`` last), none
    behind the nodes ``stops`` holds (by id) nor those."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        if node.freed:
            raise RuntimeError(SECOND_BACKWARD)
        if type(node) is CompiledFunctionBackward:
            raise RuntimeError(CompiledFunctionBackward.REFUSAL)
        seen.add(id(node))
        stack.append((node, True))
        stack.extend(
            (a.ref, False)
            for a in reversed(node.args)
            if a.kind == NODE and id(a.ref) not in seen and not (stops and id(a.ref) in stops)
        )
    return order


class _Plan:
    """The graph as numbered values: the ``ops`` for compile_ops and what to run them on."""

    def __init__(self, nodes: list[Node], root: Any, cuts: dict | None = None) -> None:
        """``cuts``: nodes (by id) whose outputs count as inputs, and as targets (the
        node itself standing for its tensor), where a graph is run part by part."""
        cuts = cuts or {}
        index: dict[tuple, int] = {}
        self.values: list[Any] = []
        self.inputs: list[Any] = []  # per input value: its leaf tensor, or the value
        self.targets: list[Any] = []
        self.inputs_of: list[int] = []  # per target that is an input: its position
        wanted: list[int] = []
        if not nodes:  # the root is a leaf
            self.values.append(root._data)
            self.inputs.append(root)
            self.targets.append(root)
            self.inputs_of.append(0)
            wanted.append(0)
        for node in nodes:
            for arg in node.args:
                if arg.kind == NODE and id(arg.ref) in cuts and (id(arg.ref), 0) not in index:
                    index[(id(arg.ref), 0)] = len(self.values)
                    self.values.append(arg.ref.out)
                    self.inputs.append(arg.ref)
                    self.targets.append(arg.ref)
                    wanted.append(index[(id(arg.ref), 0)])
                if arg.kind in (LEAF, INPUT):
                    key = (id(arg.ref), id(arg.value))
                    if key not in index:
                        index[key] = len(self.values)
                        self.values.append(arg.value)
                        self.inputs.append(arg.ref if arg.kind == LEAF else arg.value)
                        if arg.kind == LEAF:
                            self.targets.append(arg.ref)
                            self.inputs_of.append(index[key])
                            wanted.append(index[key])
        self.n_inputs = len(self.values)
        position = {id(node): self.n_inputs + i for i, node in enumerate(nodes)}
        ops, where = [], []
        for node in nodes:
            specs = []
            for arg in node.args:
                if arg.kind == CONST:
                    specs.append(("c", arg.value))
                elif arg.kind == NODE and id(arg.ref) in cuts:
                    specs.append(("v", index[(id(arg.ref), 0)]))
                elif arg.kind == NODE:
                    specs.append(("v", position[id(arg.ref)]))
                else:
                    specs.append(("v", index[(id(arg.ref), id(arg.value))]))
            ops.append((node.prim, tuple(specs), node.kwargs))
            where.append(node.at)
            self.values.append(node.out)
            for ref in node.retained:
                tensor = ref()
                if tensor is not None and tensor._node is node:
                    self.targets.append(tensor)
                    wanted.append(position[id(node)])
        self.ops = tuple(ops)
        self.where = tuple(where)  # each operation's code and instruction in the user's
        self.wanted = tuple(wanted)


def accumulate(tensor: Any, g: Any) -> None:
    """Add the gradient array ``g`` into ``tensor.grad`` (made on first use, in its dtype)."""
    data, grad = tensor._data, tensor._grad
    if type(g) is np.ndarray and type(data) is np.ndarray and g.shape == data.shape:
        if grad is None:  # the common cases, kept short
            g = g.copy() if g.dtype == data.dtype else g.astype(data.dtype)
            tensor._grad = tensor._make(g)  # (Tensor._make, without importing the class)
        else:
            np.add(grad._data, g, out=grad._data, casting="same_kind")
            grad._changed()
        return
    xp = array_module(tensor._data)
    g = xp.asarray(g)
    if g.shape != tensor._data.shape:
        g = xp.broadcast_to(g, tensor._data.shape)
    if tensor._grad is None:
        tensor._grad = _Tensor()._make(xp.array(g, dtype=tensor._data.dtype, copy=True))
    else:
        xp.add(tensor._grad._data, g, out=tensor._grad._data, casting="same_kind")
        tensor._grad._changed()


def _free(nodes: list[Node]) -> None:
    """Drop the saved arrays of the graph; its structure stays (for ``next_functions``)."""
    for node in nodes:
        node.freed = True
        node.out = None
        for arg in node.args:
            if arg.kind in (LEAF, INPUT):
                arg.value = None


# ---- version checks ----------------------------------------------------------------------


def _check_versions(nodes: list[Node]) -> None:
    """Raise if an array a rule needs was changed in place after it was recorded."""
    for node in nodes:
        rule = rules.lookup(node.prim)
        needed = _value_params(rule, tuple(a.kind in (NODE, LEAF) for a in node.args))
        if "ans" in needed and node.out_box is not None and node.out_box.value != node.out_version:
            _stale(node, "output", node.out_box.value, node.out_version)
        for arg in node.args:  # a view read after its tensor got a new graph
            view = arg.ref if arg.kind == NODE and arg.ref.view else None
            box = view.out_box if view is not None else None
            if box is not None and view.out_version < box.regraphed <= arg.version:
                raise RuntimeError(
                    f"a view ({view.name()}) read by {node.name()} after a recorded in-place "
                    "operation changed the tensor it views: it reads the new values, and its "
                    "gradient would go to the old ones. Take the view after the change, or "
                    "make the change out of place."
                )
        for i, arg in enumerate(node.args):
            if _param_name(rule, i) not in needed:
                continue
            box = arg.ref.out_box if arg.kind == NODE else arg.box
            if box is not None and box.value != arg.version:
                _stale(node, f"input {i}", box.value, arg.version)


def _check_root(node: Node | None) -> None:
    """Raise if the tensor differentiated is a view taken before a recorded in-place
    change of the tensor it views: it holds the new values, and its graph the old."""
    box = node.out_box if node is not None and node.view else None
    if box is not None and node.out_version < box.regraphed:
        raise RuntimeError(
            f"backward() of a view ({node.name()}) taken before a recorded in-place operation "
            "changed the tensor it views: it holds the new values, and its gradient would go "
            "to the old ones. Take the view after the change, or make the change out of place."
        )


def _stale(node: Node, which: str, now: int, then: int) -> None:
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {which} of {node.name()} is at version {now}; expected version {then} "
        "instead. Hint: the in-place change happened after the operation was recorded; use an "
        "out-of-place operation (x = x + 1) or clone() the tensor first."
    )


def _param_name(rule: Any, i: int) -> str | None:
    if i < len(rule.params):
        return rule.params[i]
    return rule.varargs


def _value_params(rule: Any, wanted: tuple[bool, ...]) -> frozenset[str]:
    """The parameters (and ``ans``) whose values, not only shapes, the rule reads for the
    gradients of the operands ``wanted`` (``2 * y[1]`` reads no ``y[1]``: ``2`` needs no
    gradient)."""
    per_gradient = _reads_by_gradient(rule.fn, rule.params, rule.varargs)
    if per_gradient is None or rule.varargs or len(per_gradient) != len(wanted):
        return _reads(rule.fn, rule.params, rule.varargs)
    return frozenset().union(*(r for r, w in zip(per_gradient, wanted, strict=True) if w))


@functools.cache
def _reads(fn: Callable, params: tuple[str, ...], varargs: str | None, masks: bool = False
           ) -> frozenset[str]:  # fmt: skip
    names = {"ans", *params} | ({varargs} if varargs else set())
    tree = _rule_tree(fn)
    return frozenset(names) if tree is None else _read_in(tree, names, masks)


@functools.cache
def _reads_by_gradient(fn: Callable, params: tuple[str, ...], varargs: str | None,
                       masks: bool = False) -> tuple[frozenset[str], ...] | None:  # fmt: skip
    """What each gradient a rule returns reads of ``ans`` and the parameters (through the
    names its assignments before the return give), or None for a rule of another form;
    with ``masks``, reads as masks, indices or shapes left out (see ``_read_in``)."""
    tree = _rule_tree(fn)
    body = tree.body[0].body if tree is not None and isinstance(tree.body[0], ast.FunctionDef) \
        else []  # fmt: skip
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        return None
    names = {"ans", *params} | ({varargs} if varargs else set())
    local: dict[str, frozenset[str]] = {}
    for s in body[:-1]:
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
            continue  # the docstring
        if not (isinstance(s, ast.Assign) and all(isinstance(t, ast.Name) for t in s.targets)):
            return None
        found = _read_in(s.value, names | set(local), masks)
        reads = frozenset(n for n in found if n in names).union(*(local[n] for n in found
                                                                  if n in local))  # fmt: skip
        for t in s.targets:
            local[t.id] = reads
    value = body[-1].value
    results = value.elts if isinstance(value, ast.Tuple) else [value]
    return tuple(
        frozenset(n for n in found if n in names).union(*(local[n] for n in found if n in local))
        for found in (_read_in(r, names | set(local), masks) for r in results)
    )


def _rule_tree(fn: Callable) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None


def _read_in(tree: ast.AST, names: set[str], masks: bool = False) -> frozenset[str]:
    """The ``names`` that ``tree`` reads for their values (not only their shapes); with
    ``masks``, for values a gradient varies with (not only compared: ``x <= 0``)."""
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    used = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and node.id in names
            and isinstance(node.ctx, ast.Load)
            and not (
                rules.registry.mask_only(node, parents)
                if masks
                else rules.registry.shape_only(node, parents.get(node))
            )
        ):
            used.add(node.id)
    return frozenset(used)


def accumulate_hooked(tensor: Any, g: Any) -> None:
    """``accumulate``, after the leaf's hooks (``register_hook``) ran on ``g``."""
    accumulate(tensor, g if not tensor._hooks else run_hooks(tensor._hooks, g, tensor._data))


# compiled code adds to a leaf's .grad so (its hooks run first, where it has some)
runtime.install(accumulate=accumulate, accumulate_hooked=accumulate_hooked)
rules.registry.unsupported(
    grad,
    "srcdiff.autograd.grad in a compiled step: compiled code differentiates the step once",
    "call loss.backward() in the step, or run the step without @sd.differentiate (eager "
    "Tensors take autograd.grad, also with create_graph=True)",
)
