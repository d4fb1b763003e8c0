"""srcdiff: source-to-source reverse-mode automatic differentiation for Python.

``sd.grad``/``sd.value_and_grad``/``@sd.differentiate`` compile a function's source into
its gradient's source (``sd.source`` shows it); ``Tensor``, ``nn``, ``optim`` and
``data`` give a PyTorch-like runtime on the same rules.
"""

from . import cuda, data, nn, optim, rules  # noqa: F401  (rules registers the built-ins)
from .api import differentiate, grad, register_vjp, source, value_and_grad
from .autograd import Variable
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
from .cuda import device
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
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
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
    clip,
    concat,
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
    mm,
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
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .rules import creation as _creation_rules  # noqa: F401  (declares tensor makers non-differentiable)
from .tensor import Size, Tensor
from .viz import make_dot

__all__ = [
    "CompileError", "Size", "Tensor", "Variable", "clip", "concat", "device", "int8", "mm",
    "set_grad_enabled", "uint8", "abs", "add", "allclose", "arange", "argmax", "argmin",
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
