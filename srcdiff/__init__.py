"""srcdiff: source-to-source reverse-mode automatic differentiation for Python.

``sd.grad``/``sd.value_and_grad``/``@sd.differentiate`` compile a function's source into
its gradient's source (``sd.source`` shows it); ``Tensor``, ``nn``, ``optim`` and
``data`` give a PyTorch-like runtime on the same rules.
"""

from . import cuda, data, nn, optim, rules  # noqa: F401  (rules registers the built-ins)
from .api import differentiate, grad, register_vjp, source, value_and_grad
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .dtypes import (
    bool,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    half,
    int,
    int16,
    int32,
    int64,
    long,
    short,
)
from .errors import CompileError
from .functions import (
    abs,
    add,
    allclose,
    argmax,
    argmin,
    cat,
    clamp,
    cos,
    div,
    equal,
    exp,
    flatten,
    is_tensor,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    numel,
    pow,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    sqrt,
    squeeze,
    stack,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    where,
)
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .rules import creation as _creation_rules  # noqa: F401  (declares tensor makers non-differentiable)
from .tensor import Tensor
from .viz import make_dot

__all__ = [
    "CompileError", "Tensor", "abs", "add", "allclose", "arange", "argmax", "argmin",
    "as_tensor", "bool", "cat", "clamp", "cos", "cuda", "data", "differentiate", "div",
    "double", "dtype", "empty", "empty_like", "enable_grad", "equal", "exp", "eye", "flatten",
    "float", "float16", "float32", "float64", "from_numpy", "full", "full_like", "grad",
    "half", "int", "int16", "int32", "int64", "is_grad_enabled", "is_tensor", "linspace",
    "log", "log_softmax", "long", "make_dot", "manual_seed", "matmul", "max", "maximum",
    "mean", "min", "minimum", "mul", "nn", "no_grad", "numel", "ones", "ones_like", "optim",
    "pow", "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "register_vjp",
    "relu", "reshape", "short", "sigmoid", "sin", "softmax", "source", "sqrt", "squeeze",
    "stack", "sub", "sum", "tanh", "tensor", "transpose", "unsqueeze", "value_and_grad",
    "where", "zeros", "zeros_like",
]
