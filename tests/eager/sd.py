"""The public names of the eager runtime, as ``srcdiff`` is to export them.

The eager tests import this module as ``sd``; once ``srcdiff/__init__.py`` exports these
names, ``import srcdiff as sd`` replaces it.
"""

from srcdiff import cuda  # noqa: F401
from srcdiff.api import source  # noqa: F401
from srcdiff.autograd import Variable  # noqa: F401
from srcdiff.creation import (  # noqa: F401
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
from srcdiff.cuda import device  # noqa: F401
from srcdiff.dtypes import (  # noqa: F401
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
from srcdiff.functions import (  # noqa: F401
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
from srcdiff.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from srcdiff.tensor import Size, Tensor  # noqa: F401
from srcdiff.viz import make_dot  # noqa: F401
