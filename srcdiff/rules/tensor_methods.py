"""Rules of PyTorch's Tensor methods on arrays (``srcdiff.runtime.tensor_methods``), the
functions compiled code calls for ``h.sum(dim=1)``, ``x.view(-1, 1)``, ``h.relu()``."""

import numpy as xp

from .. import runtime as rt
from ..runtime import tensor_methods as tm
from . import arithmetic, numpy_math, shapes
from .registry import nondiff, vjp


@vjp(tm.sum)
def tensor_sum(g, ans, x, dim=None, keepdim=False):
    return rt.unreduce(g, x, dim, keepdim), None, None


@vjp(tm.mean)
def tensor_mean(g, ans, x, dim=None, keepdim=False):
    return rt.unreduce(g * (rt.size(ans) / rt.size(x)), x, dim, keepdim), None, None


@vjp(tm.max, tm.min)
def tensor_extreme(g, ans, x, dim=None, keepdim=False):
    """Along ``dim`` the result is ``(values, indices)``: only the values carry a
    gradient."""
    return (
        (
            rt.extreme_grad(g, ans, x)
            if dim is None
            else rt.extreme_grad(g[0], ans[0], x, dim, keepdim)
        ),
        None,
        None,
    )


@vjp(tm.add)
def tensor_add(g, ans, x, other, alpha=1):
    return rt.unbroadcast(g, x), rt.unbroadcast(g * alpha, other), None


@vjp(tm.sub)
def tensor_sub(g, ans, x, other, alpha=1):
    return rt.unbroadcast(g, x), rt.unbroadcast(-g * alpha, other), None


@vjp(tm.sigmoid)
def sigmoid(g, ans, x):
    return g * ans * (1.0 - ans)


@vjp(tm.relu)
def relu(g, ans, x):
    return g * (x > 0)


@vjp(tm.clamp)
def clamp(g, ans, x, min=None, max=None):
    """Inside [min, max] (bounds included) the gradient passes, as in PyTorch."""
    return (
        g * ((x >= min) & (x <= max))
        if min is not None and max is not None
        else g * (x >= min)
        if min is not None
        else g * (x <= max)
        if max is not None
        else g,
        None,
        None,
    )


@vjp(tm.view, tm.reshape)
def view(g, ans, x, *shape):
    return rt.reshape_like(g, x)


@vjp(tm.flatten)
def flatten(g, ans, x, start_dim=0, end_dim=-1):
    return rt.reshape_like(g, x), None, None


@vjp(tm.transpose)
def transpose(g, ans, x, dim0, dim1):
    return xp.swapaxes(g, dim0, dim1), None, None


@vjp(tm.permute)
def permute(g, ans, x, *dims):
    return rt.transpose_grad(g, dims)


@vjp(tm.unsqueeze, tm.squeeze)
def unsqueeze(g, ans, x, dim=None):
    return rt.reshape_like(g, x), None


@vjp(tm.float, tm.double, tm.to)
def cast(g, ans, x, *args):
    return rt.cast_like(g, x)


for _method, _rule in (
    (tm.exp, numpy_math.exp),
    (tm.log, numpy_math.log),
    (tm.sqrt, numpy_math.sqrt),
    (tm.abs, numpy_math.absolute),
    (tm.tanh, numpy_math.tanh),
    (tm.sin, numpy_math.sin),
    (tm.cos, numpy_math.cos),
    (tm.neg, arithmetic.negative),
    (tm.t, shapes.T),
    (tm.clone, numpy_math.copy),
    (tm.pow, arithmetic.power),
    (tm.mul, arithmetic.multiply),
    (tm.div, arithmetic.divide),
    (tm.matmul, arithmetic.matmul),
    (tm.mm, arithmetic.matmul),
):
    vjp(_method)(_rule)


@vjp(tm.softmax)
def softmax(g, ans, x, dim):
    return ans * (g - (g * ans).sum(axis=dim, keepdims=True)), None


@vjp(tm.log_softmax)
def log_softmax(g, ans, x, dim):
    return g - xp.exp(ans) * g.sum(axis=dim, keepdims=True), None


@vjp(tm.masked_fill)
def masked_fill(g, ans, x, mask, value):
    return g * ~mask, None, rt.unbroadcast((g * mask).sum(), value)


@vjp(tm.cat)
def cat(g, ans, tensors, dim=0):
    return rt.split_like(g, tensors, dim), None


@vjp(tm.stack)
def stack(g, ans, tensors, dim=0):
    return rt.unstack(g, tensors, dim), None


nondiff(
    "detached from the graph, as in PyTorch (.data, .detach(), .numpy())",
    tm.data,
    tm._data,
    tm.detach,
    tm.numpy,
)
nondiff(
    "a device, a size, an integer or a boolean",
    tm.device, tm.long, tm.size, tm.numel, tm.dim, tm.argmax, tm.argmin, tm.is_floating_point,
)  # fmt: skip
