"""Helpers imported by generated code as ``rt`` (keep these names stable)."""

from . import tensor_methods, tensors
from .arrays import (
    acc,
    cast_like,
    dict_grad,
    entries,
    extreme_grad,
    grad_like,
    index_add,
    index_grad,
    iterable,
    iteration_grad,
    keep_dims,
    matmul_lhs,
    matmul_rhs,
    prod_grad,
    reshape_like,
    safe_log,
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
from .calls import Iterations, call, call_vjp, collect_called, owned, path_key, tensor_call
from .tensors import accumulate_grad, backward, unwrap

__all__ = [
    "acc", "cast_like", "dict_grad", "entries", "iteration_grad", "extreme_grad", "grad_like", "index_add", "index_grad", "keep_dims",
    "matmul_lhs", "matmul_rhs", "prod_grad", "reshape_like", "safe_log", "setitem",
    "setitem_grads", "size", "split_like", "transpose_grad", "unbroadcast", "unreduce", "unstack",
    "iterable", "call", "call_vjp", "collect_called", "Iterations", "tensor_call",
    "accumulate_grad", "backward", "unwrap", "tensor_methods", "tensors", "owned", "path_key",
    "zeros_like",
]
