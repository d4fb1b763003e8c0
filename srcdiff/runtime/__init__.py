"""Helpers imported by generated code as ``rt`` (keep these names stable)."""

from . import tensor_methods, tensors
from .arrays import (
    acc,
    appended,
    cast_like,
    dict_grad,
    entries,
    entries_like,
    extreme_grad,
    grad_like,
    index_add,
    index_grad,
    iterable,
    iteration_grad,
    join_grads,
    keep_dims,
    matmul_lhs,
    matmul_rhs,
    prod_grad,
    repeat_grads,
    reshape_like,
    safe_log,
    sequence_grad,
    setitem,
    setitem_grads,
    size,
    split_like,
    transpose_grad,
    unbroadcast,
    unreduce,
    unstack,
    zeros_like,
)
from .calls import (
    Diverged,
    Iterations,
    call,
    call_vjp,
    collect_called,
    owned,
    path_key,
    shape_classes,
    tensor_call,
)
from .tensors import accumulate_grad, backward, unwrap

__all__ = [
    "Diverged", "Iterations", "acc", "accumulate_grad", "appended", "backward", "call",
    "call_vjp", "cast_like", "collect_called", "dict_grad", "entries", "entries_like",
    "extreme_grad", "grad_like", "index_add", "index_grad", "iterable", "iteration_grad",
    "join_grads", "keep_dims", "matmul_lhs", "matmul_rhs", "owned", "path_key", "prod_grad",
    "repeat_grads", "reshape_like", "safe_log", "sequence_grad", "setitem", "setitem_grads",
    "shape_classes", "size", "split_like", "tensor_call", "tensor_methods", "tensors",
    "transpose_grad", "unbroadcast", "unreduce", "unstack", "unwrap", "zeros_like",
]
