"""Rules of PyTorch's Tensor methods on arrays (``srcdiff.runtime.tensor_methods``), the
functions compiled code calls for ``h.sum(dim=1)``, ``x.view(-1, 1)``, ``h.relu()``."""

import numpy as xp

from .. import runtime as rt
from ..runtime import tensor_methods as tm
from .elementwise import SCIPY_SPECIAL
from .registry import (
    alias,
    casts,
    constant_in,
    jvp,
    keywords,
    linear,
    nondiff,
    sequence_result,
    unsupported,
    vjp,
)


@vjp(tm.sum)
def tensor_sum(g, ans, x, dim=None, keepdim=False, dtype=None):
    """``dim`` read as ``tm.sum`` reads it (``()``: every dim, as in PyTorch); with a
    ``dtype``, the gradient in it, which the caller takes back to ``x``'s."""
    return rt.unreduce(g, x, rt.tensor_methods.axis(dim), keepdim), None, None, None


@vjp(tm.mean)
def tensor_mean(g, ans, x, dim=None, keepdim=False, dtype=None):
    axis = rt.tensor_methods.axis(dim)
    return rt.unreduce(g * (rt.size(ans) / rt.size(x)), x, axis, keepdim), None, None, None


@vjp(tm.max, tm.min, tm.median)
def tensor_extreme(g, ans, x, dim=None, keepdim=False):
    """Without ``dim``, tied entries share the gradient evenly; along ``dim`` the result is
    ``(values, indices)`` and each value's gradient goes to the entry at its index alone,
    as in PyTorch (the indices carry none)."""
    axis = rt.tensor_methods.reduction_dim(x, dim)
    return (
        (
            rt.extreme_grad(g, ans, x)
            if dim is None
            else rt.unreduce(g[0], x, axis, keepdim) * rt.picked(ans[1], x, axis, keepdim)
        ),
        None,
        None,
    )


@vjp(tm.kthvalue)
def tensor_kthvalue(g, ans, x, k, dim=-1, keepdim=False):
    """``(values, indices)``: each value's gradient to the entry at its index (``max``'s
    rule along ``dim``)."""
    axis = rt.tensor_methods.reduction_dim(x, dim)
    d_x = rt.unreduce(g[0], x, axis, keepdim) * rt.picked(ans[1], x, axis, keepdim)
    return d_x, None, None, None


sequence_result(tm.max, tm.min)  # (values, indices) along a dim


@vjp(tm.values)
def values(g, ans, r):
    """``r.values`` of ``r = x.max(dim)``: its first entry."""
    return rt.tensor_methods.field_grad(r, 0, g, "values")


@jvp(tm.values)
def values_jvp(ans, r, *, dr):
    return dr[0]


nondiff("the indices of a max or min along a dim", tm.indices)
nondiff("a gradient an adjoint builds", tm.field_grad)


@vjp(tm.aminmax_min)
def aminmax_min(g, ans, r):
    """``r.min`` of ``r = x.aminmax()``: its first entry."""
    return rt.tensor_methods.field_grad(r, 0, g, "min")


@jvp(tm.aminmax_min)
def aminmax_min_jvp(ans, r, *, dr):
    return dr[0]


@vjp(tm.aminmax_max)
def aminmax_max(g, ans, r):
    """``r.max`` of ``r = x.aminmax()``: its second entry."""
    return rt.tensor_methods.field_grad(r, 1, g, "max")


@jvp(tm.aminmax_max)
def aminmax_max_jvp(ans, r, *, dr):
    return dr[1]


@vjp(tm.var)
def tensor_var(g, ans, x, dim=None, unbiased=True, keepdim=False, correction=None):
    """NumPy's ``var`` rule (``np.var(x, axis, ddof=...)``) with PyTorch's arguments."""
    axis = rt.tensor_methods.axis(rt.tensor_methods.reduction_dim(x, dim))
    ddof = rt.tensor_methods.ddof(unbiased, correction)
    centred = rt.centred(x, axis)
    n = rt.size(x) / rt.size(ans)
    d_x = rt.unreduce(xp.divide(g * 2.0, n - ddof), x, axis, keepdim) * centred  # (nan at n = ddof)
    return d_x, None, None, None, None


@vjp(tm.std)
def tensor_std(g, ans, x, dim=None, unbiased=True, keepdim=False, correction=None):
    """NumPy's ``std`` rule with PyTorch's arguments (0 where ``std`` is 0)."""
    axis = rt.tensor_methods.axis(rt.tensor_methods.reduction_dim(x, dim))
    ddof = rt.tensor_methods.ddof(unbiased, correction)
    centred = rt.centred(x, axis)
    n = rt.size(x) / rt.size(ans)
    scale = rt.keep_dims(g / xp.where(ans == 0, xp.inf, ans * (n - ddof)), x, axis, keepdim)
    return scale * centred, None, None, None, None


@jvp(tm.var, shaped=True)
def tensor_var_jvp(ans, x, dim=None, unbiased=True, keepdim=False, correction=None, *, dx):
    axis = rt.tensor_methods.axis(rt.tensor_methods.reduction_dim(x, dim))
    ddof = rt.tensor_methods.ddof(unbiased, correction)
    centred = rt.centred(x, axis)
    n = rt.size(x) / rt.size(ans)
    return 2.0 * xp.sum(centred * dx, axis=axis, keepdims=keepdim) / (n - ddof)


@jvp(tm.std, shaped=True)
def tensor_std_jvp(ans, x, dim=None, unbiased=True, keepdim=False, correction=None, *, dx):
    axis = rt.tensor_methods.axis(rt.tensor_methods.reduction_dim(x, dim))
    ddof = rt.tensor_methods.ddof(unbiased, correction)
    centred = rt.centred(x, axis)
    n = rt.size(x) / rt.size(ans)
    spread = xp.where(ans == 0, xp.inf, (n - ddof) * ans)
    return xp.sum(centred * dx, axis=axis, keepdims=keepdim) / spread


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
    """The gradient passes where the input is not <= 0: a NaN passes it, as PyTorch's."""
    return xp.where(x <= 0, 0.0, g)


@vjp(tm.leaky_relu)
def leaky_relu(g, ans, x, negative_slope=0.01):
    """The slope's gradient at 0 and below, as PyTorch's (the slope gets x's there)."""
    return (
        xp.where(x > 0, g, g * negative_slope),
        rt.unbroadcast(xp.where(x > 0, 0.0, g * x), negative_slope),
    )


@vjp(tm.hardtanh)
def hardtanh(g, ans, x, min_val, max_val):
    """The gradient passes strictly inside [min_val, max_val] alone, as PyTorch's; a
    bound gets it where it is the result."""
    return (
        xp.where((x > min_val) & (x < max_val), g, 0.0),
        rt.unbroadcast(xp.where(x <= min_val, g, 0.0), min_val),
        rt.unbroadcast(xp.where(x >= max_val, g, 0.0), max_val),
    )


@vjp(tm.elu)
def elu(g, ans, x, alpha=1.0, scale=1.0, input_scale=1.0):
    """PyTorch's ``elu_backward``: ``input_scale alpha scale exp(input_scale x)`` at and
    below 0 (a NaN passes ``scale``), ``scale`` above."""
    negative = g * input_scale * (alpha * scale) * xp.exp(xp.where(x > 0, 0.0, x) * input_scale)
    return xp.where(x <= 0, negative, g * scale), None, None, None


@jvp(tm.elu)
def elu_jvp(ans, x, alpha=1.0, scale=1.0, input_scale=1.0, *, dx):
    negative = dx * input_scale * (alpha * scale) * xp.exp(xp.where(x > 0, 0.0, x) * input_scale)
    return xp.where(x <= 0, negative, dx * scale)


@vjp(tm.nll_picked)
def nll_picked(g, ans, log_p, hot):
    """The gradient passes at the targets alone."""
    return xp.where(hot, g, 0.0), None


@jvp(tm.nll_picked)
def nll_picked_jvp(ans, log_p, hot, *, dlog_p):
    return xp.where(hot, dlog_p, 0.0)


@vjp(tm.threshold)
def threshold(g, ans, x, threshold, value):
    """The gradient passes where the input is not <= ``threshold`` (a NaN passes it), as
    PyTorch's."""
    return xp.where(x <= threshold, 0.0, g), None, None


@jvp(tm.threshold)
def threshold_jvp(ans, x, threshold, value, *, dx):
    return xp.where(x <= threshold, 0.0, dx)


@vjp(tm.hardshrink, tm.softshrink)
def shrink(g, ans, x, lambd=0.5):
    """The gradient passes outside [-lambd, lambd] alone (0 at its ends), as PyTorch's."""
    return xp.where((x >= -lambd) & (x <= lambd), 0.0, g), None


@jvp(tm.hardshrink, tm.softshrink)
def shrink_jvp(ans, x, lambd=0.5, *, dx):
    return xp.where((x >= -lambd) & (x <= lambd), 0.0, dx)


@vjp(tm.hardsigmoid)
def hardsigmoid(g, ans, x):
    """``g / 6`` strictly inside (-3, 3), 0 elsewhere (at -3 and 3 too), as PyTorch's."""
    return xp.where((x > -3) & (x < 3), g / 6, 0.0)


@jvp(tm.hardsigmoid)
def hardsigmoid_jvp(ans, x, *, dx):
    return xp.where((x > -3) & (x < 3), dx / 6, 0.0)


@vjp(tm.hardswish)
def hardswish(g, ans, x):
    """0 to -3 (included), ``x / 3 + 0.5`` up to 3 (excluded), 1 from 3 on, as PyTorch's."""
    return xp.where(x <= -3, 0.0, xp.where(x < 3, g * (x / 3 + 0.5), g))


@jvp(tm.hardswish)
def hardswish_jvp(ans, x, *, dx):
    return xp.where(x <= -3, 0.0, xp.where(x < 3, dx * (x / 3 + 0.5), dx))


@vjp(tm.clamp)
def clamp(g, ans, x, min=None, max=None):
    """``np.clip``'s rule, under PyTorch's names: inside [min, max] (bounds included) the
    gradient passes to ``x``; Tensor bounds get it where they are the result."""
    below, above, inside = rt.clipped(x, min, max)
    return (
        rt.unbroadcast(xp.where(inside, g, 0.0), x),
        None if min is None else rt.unbroadcast(xp.where(below, g, 0.0), min),
        None if max is None else rt.unbroadcast(xp.where(above, g, 0.0), max),
    )


@vjp(tm.view, tm.reshape)
def view(g, ans, x, *shape):
    return rt.reshape_like(g, x)


@vjp(tm.expand)
def expand(g, ans, x, *sizes):
    return rt.unbroadcast(g, x)


@vjp(tm.flatten)
def flatten(g, ans, x, start_dim=0, end_dim=-1):
    return rt.reshape_like(g, x), None, None


@vjp(tm.transpose)
def transpose(g, ans, x, dim0, dim1):
    return (g if xp.ndim(g) == 0 else xp.swapaxes(g, dim0, dim1)), None, None


@vjp(tm.permute)
def permute(g, ans, x, *dims):
    return rt.transpose_grad(g, dims)


@vjp(tm.unsqueeze, tm.squeeze)
def unsqueeze(g, ans, x, dim=None):
    return rt.reshape_like(g, x), None


@vjp(tm.float, tm.double, tm.cpu, tm.contiguous)
def cast(g, ans, x, *args):
    return rt.cast_like(g, x)


casts(tm.to, tm.type_as)  # their dtype may be integers: see analyse.may_give_integers


@vjp(tm.to)
def to(g, ans, x, *args):
    """A cast: none to an integer or boolean result (constant almost everywhere)."""
    return rt.cast_grad(g, ans, x)


@jvp(tm.to)
def to_jvp(ans, x, *args, dx):
    return rt.cast_grad(dx, ans, ans)


for _method, _primitive in (
    (tm.exp, xp.exp),
    (tm.log, xp.log),
    (tm.sqrt, xp.sqrt),
    (tm.abs, xp.absolute),
    (tm.tanh, xp.tanh),
    (tm.sin, xp.sin),
    (tm.cos, xp.cos),
    (tm.neg, xp.negative),
    (tm.t, "ndarray.T"),
    (tm.clone, xp.copy),
    (tm.pow, xp.power),
    (tm.mul, xp.multiply),
    (tm.div, xp.divide),
    (tm.matmul, xp.matmul),
    (tm.mm, xp.matmul),
    (tm.square, xp.square),
    (tm.reciprocal, xp.reciprocal),
    (tm.log1p, xp.log1p),
    (tm.expm1, xp.expm1),
    (tm.dot, xp.matmul),
):
    alias(_method, _primitive)


@vjp(tm.nan_to_num)
def tensor_nan_to_num(g, ans, x, nan=0.0, posinf=None, neginf=None):
    """The gradient passes where ``x`` is finite (the replacements are numbers)."""
    return xp.where(xp.isfinite(x), g, xp.zeros_like(g)), None, None, None


@jvp(tm.nan_to_num)
def tensor_nan_to_num_jvp(ans, x, nan=0.0, posinf=None, neginf=None, *, dx):
    return xp.where(xp.isfinite(x), dx, xp.zeros_like(dx))


@vjp(tm.type_as)
def tensor_type_as(g, ans, x, other):
    """A cast: the gradient in ``x``'s dtype (none to an integer or boolean result);
    ``other`` lends its dtype only."""
    return rt.cast_grad(g, ans, x), None


@jvp(tm.type_as)
def tensor_type_as_jvp(ans, x, other, *, dx):
    return rt.cast_grad(dx, ans, ans)


# ---- forward mode -------------------------------------------------------------------------

linear((0,), tm.sum, tm.mean, tm.view, tm.reshape, tm.expand, tm.flatten, tm.transpose, tm.permute,
       tm.unsqueeze, tm.squeeze, tm.float, tm.double, tm.cpu, tm.contiguous, tm.cat,
       tm.stack, tm.cumsum)  # fmt: skip
linear((0, 1), tm.add, tm.sub)
linear((1,), tm.copied)  # (src broadcast and cast: ``x`` gives only the shape and dtype)
constant_in((0,), tm.copied)


@jvp(tm.max, tm.min, tm.median, shaped=True)
def tensor_extreme_jvp(ans, x, dim=None, keepdim=False, *, dx):
    """The tangent of the extreme entries, as the reverse rule shares the gradient; along
    ``dim``, ``(values, indices)``: the indices do not move."""
    axis = rt.tensor_methods.reduction_dim(x, dim)
    return (
        xp.sum(rt.extreme_grad(xp.ones_like(ans), ans, x) * dx)
        if dim is None
        else [
            xp.sum(rt.picked(ans[1], x, axis, keepdim) * dx, axis=axis, keepdims=keepdim),
            xp.zeros(xp.shape(ans[1])),
        ]
    )


@jvp(tm.kthvalue, shaped=True)
def tensor_kthvalue_jvp(ans, x, k, dim=-1, keepdim=False, *, dx):
    axis = rt.tensor_methods.reduction_dim(x, dim)
    return [
        xp.sum(rt.picked(ans[1], x, axis, keepdim) * dx, axis=axis, keepdims=keepdim),
        xp.zeros(xp.shape(ans[1])),
    ]


@jvp(tm.sigmoid)
def sigmoid_jvp(ans, x, *, dx):
    return dx * ans * (1.0 - ans)


@jvp(tm.relu)
def relu_jvp(ans, x, *, dx):
    return xp.where(x <= 0, 0.0, dx)


@jvp(tm.leaky_relu)
def leaky_relu_jvp(ans, x, negative_slope=0.01, *, dx, dnegative_slope):
    return xp.where(x > 0, dx, dx * negative_slope), xp.where(x > 0, 0.0, dnegative_slope * x)


@jvp(tm.hardtanh)
def hardtanh_jvp(ans, x, min_val, max_val, *, dx, dmin_val, dmax_val):
    return (
        xp.where((x > min_val) & (x < max_val), dx, 0.0),
        xp.where(x <= min_val, dmin_val, 0.0),
        xp.where(x >= max_val, dmax_val, 0.0),
    )


@jvp(tm.clamp)
def clamp_jvp(ans, x, min=None, max=None, *, dx, dmin, dmax):
    below, above, inside = rt.clipped(x, min, max)
    return xp.where(inside, dx, 0.0), xp.where(below, dmin, 0.0), xp.where(above, dmax, 0.0)


@jvp(tm.softmax, shaped=True)
def softmax_jvp(ans, x, dim, *, dx):
    return ans * (dx - (dx * ans).sum(axis=dim, keepdims=True))


@jvp(tm.log_softmax, shaped=True)
def log_softmax_jvp(ans, x, dim, *, dx):
    return dx - (xp.exp(ans) * dx).sum(axis=dim, keepdims=True)


@jvp(tm.masked_fill)
def masked_fill_jvp(ans, x, mask, value, *, dx, dvalue):
    """As the reverse rule: the filled entries take ``value``'s tangent alone."""
    return xp.where(mask, 0.0, dx), xp.where(mask, dvalue, 0.0)


@vjp(tm.softmax)
def softmax(g, ans, x, dim):
    return ans * (g - (g * ans).sum(axis=dim, keepdims=True)), None


@vjp(tm.log_softmax)
def log_softmax(g, ans, x, dim):
    return g - xp.exp(ans) * g.sum(axis=dim, keepdims=True), None


@vjp(tm.masked_fill)
def masked_fill(g, ans, x, mask, value):
    """The filled entries send ``x`` nothing (0, a NaN gradient there too, as in PyTorch)
    and ``value`` the sum of theirs."""
    return (
        rt.unbroadcast(xp.where(mask, 0.0, g), x),
        None,
        rt.unbroadcast(xp.where(mask, g, 0.0).sum(), value),
    )


@vjp(tm.copied)
def copied(g, ans, x, src, non_blocking=False):
    """``x.copy_(src)``: the old values are gone; ``src`` gets the gradient of the entries
    it was broadcast to, in its dtype."""
    return None, rt.cast_like(rt.unbroadcast(g, src), src), None


@vjp(tm.cat)
def cat(g, ans, tensors, dim=0):
    return rt.split_like(g, tensors, dim), None


@vjp(tm.stack)
def stack(g, ans, tensors, dim=0):
    return rt.unstack(g, tensors, dim), None


@vjp(tm.split)
def split(g, ans, x, split_size_or_sections, dim=0):
    """The pieces' gradients (zeros for a piece not used) joined back along ``dim``."""
    return rt.unsplit(g, ans, x, dim), None, None


@vjp(tm.chunk)
def chunk(g, ans, x, chunks, dim=0):
    return rt.unsplit(g, ans, x, dim), None, None


sequence_result(tm.split, tm.chunk)  # a tuple of pieces


@vjp(tm.gather)
def gather(g, ans, x, dim, index):
    """``g`` added into zeros at the entries gathered (twice read, twice added)."""
    return rt.tensor_methods.gather_grad(g, x, dim, index), None, None


@vjp(tm.repeat)
def tensor_repeat(g, ans, x, *sizes):
    """The tiles' gradients summed back onto ``x`` (``np.tile``'s)."""
    return (rt.tile_grad(g, x, rt.tensor_methods.repeat_sizes(x, sizes)), *[None] * len(sizes))


@vjp(tm.index_select)
def index_select(g, ans, x, dim, index):
    """``g`` added into zeros at the entries selected (twice selected, twice added)."""
    return rt.take_grad(g, x, index, dim, "raise"), None, None


@vjp(tm.amax, tm.amin)
def tensor_amax(g, ans, x, dim=None, keepdim=False):
    """Ties share the gradient evenly (``np.max``'s rule, over every dim for ``()``)."""
    return rt.extreme_grad(g, ans, x, rt.tensor_methods.axis(dim), keepdim), None, None


@jvp(tm.amax, tm.amin, shaped=True)
def tensor_amax_jvp(ans, x, dim=None, keepdim=False, *, dx):
    """The mean of the tangents at the ties, as the rule shares the gradient."""
    axis = rt.tensor_methods.axis(dim)
    share = rt.extreme_grad(xp.ones_like(ans), ans, x, axis, keepdim)
    return xp.sum(share * dx, axis=axis, keepdims=keepdim)


@vjp(tm.logsumexp)
def tensor_logsumexp(g, ans, x, dim, keepdim=False):
    """The softmax over ``dim`` times the result's gradient, spread over that dim."""
    axis = rt.tensor_methods.axis(dim)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True, initial=-xp.inf))
    return rt.unreduce(g, x, axis, keepdim) * (e / xp.sum(e, axis=axis, keepdims=True)), None, None


@jvp(tm.logsumexp)
def tensor_logsumexp_jvp(ans, x, dim, keepdim=False, *, dx):
    axis = rt.tensor_methods.axis(dim)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True, initial=-xp.inf))
    return xp.sum(e * dx, axis=axis, keepdims=keepdim) / xp.sum(e, axis=axis, keepdims=keepdim)


@vjp(tm.binary_cross_entropy)
def binary_cross_entropy(g, ans, p, t):
    """PyTorch's gradient, ``(p - t) / (p (1 - p))`` with the denominator no smaller than
    1e-12 (a saturated probability still gets one, as in PyTorch, where the clamped logs'
    own derivative would be 0), and ``-logit(p)`` in the target."""
    least = rt.tensor_methods.BCE_EPSILON
    return (
        rt.unbroadcast((p - t) / xp.maximum((1 - p) * p, least) * g, p),
        rt.unbroadcast(g * rt.tensor_methods.neg_logit(p), t),
    )


@jvp(tm.binary_cross_entropy)
def binary_cross_entropy_jvp(ans, p, t, *, dp, dt):
    least = rt.tensor_methods.BCE_EPSILON
    return (p - t) / xp.maximum((1 - p) * p, least) * dp, rt.tensor_methods.neg_logit(p) * dt


@vjp(tm.kl_div_terms)
def kl_div_terms(g, ans, x, t):
    """``-t`` in ``x``; ``log(t) + 1 - x`` in ``t``, NaN where ``t`` is 0 or negative (as
    PyTorch's: the derivative of ``t log t`` is infinite at 0, undefined below)."""
    d_t = xp.where(t > 0, xp.log(xp.where(t > 0, t, 1)) + 1 - x, xp.nan)
    return (
        rt.cast_like(rt.unbroadcast(-g * t, x), x),
        rt.cast_like(rt.unbroadcast(g * d_t, t), t),
    )


@jvp(tm.kl_div_terms)
def kl_div_terms_jvp(ans, x, t, *, dx, dt):
    d_t = xp.where(t > 0, xp.log(xp.where(t > 0, t, 1)) + 1 - x, xp.nan)
    return -t * dx, xp.where(xp.asarray(dt) == 0, 0.0, d_t * dt)


@vjp(tm.neg_logit)
def neg_logit(g, ans, p):
    return -g / (p * (1 - p))


@jvp(tm.neg_logit)
def neg_logit_jvp(ans, p, *, dp):
    return -dp / (p * (1 - p))


@vjp(tm.flip)
def tensor_flip(g, ans, x, dims=None, *more):
    """``np.flip``'s rule, the dims given as one sequence or apart (``x.flip(0, 1)``)."""
    return (
        xp.flip(g, axis=rt.tensor_methods.flip_dims(xp.ndim(x), dims, more)),
        None,
        *[None] * len(more),
    )


@vjp(tm.sort)
def tensor_sort(g, ans, x, dim=-1, descending=False, stable=False):
    """``(values, indices)``: each value's gradient goes to the entry at its index
    (``np.take_along_axis``'s rule), tied entries too; the indices carry none."""
    d_x = rt.tensor_methods.taken_grad(rt.entries(g, ans)[0], x, ans[1], dim)
    return d_x, None, None, None


@vjp(tm.topk)
def tensor_topk(g, ans, x, k, dim=-1, largest=True, sorted=True):
    """As ``sort``'s: each value's gradient to the entry at its index."""
    d_x = rt.tensor_methods.taken_grad(rt.entries(g, ans)[0], x, ans[1], dim)
    return d_x, None, None, None, None


@jvp(tm.sort, shaped=True)
def tensor_sort_jvp(ans, x, dim=-1, descending=False, stable=False, *, dx):
    return [rt.tensor_methods.taken(dx, ans[1], dim), xp.zeros(xp.shape(ans[1]))]


@jvp(tm.topk, shaped=True)
def tensor_topk_jvp(ans, x, k, dim=-1, largest=True, sorted=True, *, dx):
    return [rt.tensor_methods.taken(dx, ans[1], dim), xp.zeros(xp.shape(ans[1]))]


@vjp(tm.taken)
def tensor_taken(g, ans, x, indices, dim):
    """The entries at ``indices``: each one's gradient goes to the entry it was taken from."""
    return rt.tensor_methods.taken_grad(g, x, indices, dim), None, None


@vjp(tm.taken_grad)
def tensor_taken_grad(gbar, ans, g, x, indices, dim):
    """Linear in ``g``: its own gradient is ``gbar``'s entries at the indices."""
    return rt.tensor_methods.taken(gbar, indices, dim), None, None, None


linear((0,), tm.taken, tm.taken_grad)
constant_in((1, 2), tm.taken)  # (the indices: integers)
constant_in((1, 2, 3), tm.taken_grad)  # (``x`` gives the shape the gradient is laid out in)
sequence_result(tm.sort, tm.topk)  # (values, indices)
nondiff("the indices of a sort", tm.argsort)


@vjp(tm.cumsum)
def tensor_cumsum(g, ans, x, dim, dtype=None):
    """``np.cumsum``'s rule along ``dim`` (a 0-d tensor's sum is itself)."""
    axis = rt.tensor_methods.cumprod_axis(x, dim)
    return rt.reshape_like(rt.reverse_cumsum(g, axis), x), None, None


@vjp(tm.prod)
def tensor_prod(g, ans, x, dim=None, keepdim=False, dtype=None):
    """``np.prod``'s rule (exact where entries are zero) over ``dim``."""
    axis = rt.tensor_methods.axis(rt.tensor_methods.reduction_dim(x, dim))
    return rt.prod_grad(g, ans, x, axis, keepdim), None, None, None


@jvp(tm.prod, shaped=True)
def tensor_prod_jvp(ans, x, dim=None, keepdim=False, dtype=None, *, dx):
    axis = rt.tensor_methods.axis(rt.tensor_methods.reduction_dim(x, dim))
    return xp.sum(
        rt.prod_grad(xp.ones_like(ans), ans, x, axis, keepdim) * dx, axis=axis, keepdims=keepdim
    )


@vjp(tm.cumprod)
def tensor_cumprod(g, ans, x, dim, dtype=None):
    """``np.cumprod``'s rule: exact where entries are zero (no division by them)."""
    return rt.cumprod_grad(g, ans, x, rt.tensor_methods.cumprod_axis(x, dim)), None, None


nondiff("the axis of a cumulative product (None for a 0-d array)", tm.cumprod_axis)
nondiff("the dim of a reduction (None for a 0-d array)", tm.reduction_dim)
nondiff("a check of two dtypes, returning nothing", tm.same_dtypes)


@vjp(tm.promoted)
def promoted(g, ans, x, a, b, symbol=""):
    """An operand cast to the operation's dtype: its adjoint goes back to the operand's."""
    return rt.cast_like(g, x), None, None, None


linear((0,), tm.promoted)  # forward: the tangent in the operation's dtype
constant_in((1, 2), tm.promoted)


@jvp(tm.cumprod, shaped=True)
def tensor_cumprod_jvp(ans, x, dim, dtype=None, *, dx):
    return xp.reshape(
        rt.cumprod_tangent(dx, x, rt.tensor_methods.cumprod_axis(x, dim)), xp.shape(ans)
    )


@vjp(tm.unbind)
def unbind(g, ans, x, dim=0):
    """``np.unstack``'s rule: the slices' gradients (zeros for one not used) stacked."""
    return rt.restack(g, ans, x, dim), None


sequence_result(tm.unbind)  # a tuple of slices


@vjp(tm.narrow)
def narrow(g, ans, x, dim, start, length):
    """Indexing's rule (``x[..., start:start + length]``)."""
    return (
        rt.index_grad(x, rt.tensor_methods.narrow_index(xp.shape(x), dim, start, length), g),
        None,
        None,
        None,
    )


@vjp(tm.unfold)
def unfold(g, ans, x, dimension, size, step):
    """Each window's gradient added back where it lies (windows may overlap)."""
    return rt.tensor_methods.unfold_grad(g, x, dimension, size, step), None, None, None


@vjp(tm.unfold_grad)
def unfold_grad(g, ans, d, x, dimension, size, step):
    """Linear in ``d``: its adjoint reads the windows again."""
    return rt.tensor_methods.unfold(g, dimension, size, step).copy(), None, None, None, None


@vjp(tm.as_strided)
def as_strided(g, ans, x, size, stride, storage_offset=None):
    """Each entry's gradient added to the entry of ``x`` it reads (one read several times
    gets each)."""
    return (
        rt.tensor_methods.as_strided_grad(g, x, size, stride, storage_offset),
        None,
        None,
        None,
    )


@vjp(tm.as_strided_grad)
def as_strided_grad(g, ans, d, x, size, stride, storage_offset=None):
    """Linear in ``d``: its adjoint reads the same entries again."""
    return rt.tensor_methods.strided_read(g, size, stride, storage_offset), None, None, None, None


@vjp(tm.strided_read)
def strided_read(g, ans, x, size, stride, storage_offset=None):
    """``as_strided``'s values as a copy: its rule."""
    return rt.tensor_methods.as_strided_grad(g, x, size, stride, storage_offset), None, None, None


@vjp(tm.movedim)
def movedim(g, ans, x, source, destination):
    """``np.moveaxis``'s rule: the dims moved back (a 0-d ``x``'s, none)."""
    return rt.tensor_methods.movedim(g, destination, source), None, None


@vjp(tm.scatter)
def tensor_scatter(g, ans, x, dim, index, src=None, value=None, reduce=None):
    """``x`` gets the gradient where nothing was written (``g.scatter(dim, index, 0)``,
    PyTorch's rule), each entry of ``src`` written that of its position (``gather``'s);
    a position written twice is refused there (one of its values is kept, where PyTorch
    gives each of them the gradient)."""
    return (
        rt.tensor_methods.scatter(g, dim, index, None, 0.0),
        None,
        None,
        rt.tensor_methods.scatter_src_grad(g, x, dim, index, src, True),
        None,
        None,
    )


@vjp(tm.scatter_add)
def tensor_scatter_add(g, ans, x, dim, index, src):
    """The gradient passes to ``x``; each entry of ``src`` gets that of the position it
    was added to (``gather``'s rule's transpose)."""
    return g, None, None, rt.tensor_methods.scatter_src_grad(g, x, dim, index, src, False)


@jvp(tm.scatter)
def tensor_scatter_jvp(ans, x, dim, index, src=None, value=None, reduce=None, *, dx, dsrc):
    """Linear in ``x`` and ``src`` jointly (``value`` is a constant)."""
    return (
        rt.tensor_methods.scatter(dx, dim, index, None, 0.0),
        rt.tensor_methods.scatter(xp.zeros_like(ans), dim, index, dsrc),
    )


for _method, _primitive in ((tm.bmm, xp.matmul), (tm.tril, xp.tril), (tm.triu, xp.triu),
                            (tm.roll, xp.roll), (tm.diag, xp.diag),
                            (tm.outer, xp.outer), (tm.maximum, xp.maximum),
                            (tm.minimum, xp.minimum), (tm.where, xp.where)):  # fmt: skip
    alias(_method, _primitive)
keywords(tm.tril, diagonal="k")
keywords(tm.triu, diagonal="k")
keywords(tm.diag, diagonal="k")
keywords(tm.outer, vec2="b")
keywords(tm.roll, shifts="shift", dims="axis")
keywords(tm.split, split_size="split_size_or_sections")
linear((0,), tm.split, tm.chunk, tm.gather, tm.repeat, tm.index_select, tm.flip, tm.unbind,
       tm.narrow, tm.movedim, tm.unfold, tm.as_strided, tm.unfold_grad, tm.as_strided_grad,
       tm.strided_read)  # fmt: skip
linear((0, 3), tm.scatter_add)


@vjp(tm.floor, tm.ceil, tm.trunc, tm.sign)
def tensor_step(g, ans, x):
    """Piecewise constant: zero wherever the derivative exists, recorded as PyTorch
    records it (the input's ``.grad`` is zeros, not None)."""
    return xp.zeros_like(x)


@vjp(tm.round)
def tensor_round(g, ans, x, decimals=0):
    return xp.zeros_like(x), None


@jvp(tm.floor, tm.ceil, tm.trunc, tm.sign)
def tensor_step_jvp(ans, x, *, dx):
    return xp.zeros_like(ans)


@jvp(tm.round)
def tensor_round_jvp(ans, x, decimals=0, *, dx):
    return xp.zeros_like(ans)


nondiff("a boolean", tm.isnan, tm.isinf, tm.isfinite)
nondiff("a new tensor of zeros, ones or one value", tm.new_zeros, tm.new_ones, tm.new_full)
# a fill value that requires grad is PyTorch's TypeError (a Number is wanted), not a constant
tm.new_full._srcdiff_numbers = {2: ("new_full", "fill_value")}  # type: ignore[attr-defined]
nondiff("a copy of data, detached (as PyTorch's new_tensor)", tm.new_tensor)


nondiff(
    "detached from the graph, as in PyTorch (.data, .detach(), .numpy())",
    tm.data,
    tm._data,
    tm.detach,
    tm.numpy,
)
nondiff(
    "a device, a dtype, a size, an integer or a boolean",
    tm.device, tm.dtype, tm.is_instance, tm.is_tensor, tm.long, tm.size, tm.numel, tm.dim,
    tm.argmax, tm.argmin, tm.is_floating_point,
)  # fmt: skip
nondiff("a Python number, detached from the graph as in PyTorch (.item())", tm.item)
nondiff("an index, checked for a reading PyTorch and NumPy share", tm.index, tm.index_part)
nondiff("a gradient, which carries none unless asked for (create_graph)", tm.grad)
nondiff("a Tensor's autograd flag or graph node", tm.requires_grad, tm.is_leaf, tm.grad_fn)
nondiff("replaces a Tensor's values without recording them (x.data = v)", tm.set_data)
nondiff("sets a Tensor's gradient (x.grad = None)", tm.set_grad)
nondiff("a 0/1 mask of the entries a max's or min's indices pick", rt.picked)
alias(tm.full_like, xp.full_like)  # the fill value's gradient: the sum of the result's
nondiff("a new array of zeros or ones, shaped like its argument", tm.empty_like, tm.zeros_like,
        tm.ones_like)  # fmt: skip


# ---- rsqrt, atan2, remainders, erf, diagonal, lerp, addcmul, logical functions -------------

for _method, _primitive in ((tm.atan2, xp.arctan2), (tm.remainder, xp.remainder),
                            (tm.fmod, xp.fmod), (tm.diagonal, xp.diagonal)):  # fmt: skip
    alias(_method, _primitive)
keywords(tm.diagonal, dim1="axis1", dim2="axis2")
for _special in SCIPY_SPECIAL:  # (erf has its rules where SciPy is installed)
    if _special.__name__ == "erf":
        alias(tm.erf, _special)


@vjp(tm.rsqrt)
def tensor_rsqrt(g, ans, x):
    """``x ** -0.5``: ``-0.5 x ** -1.5``, from the result, as PyTorch computes it."""
    return g * (-0.5 * ans * ans * ans)


@jvp(tm.rsqrt)
def tensor_rsqrt_jvp(ans, x, *, dx):
    return dx * (-0.5 * ans * ans * ans)


@vjp(tm.lerp)
def tensor_lerp(g, ans, x, end, weight):
    """``x + weight * (end - x)``: linear in ``x`` and ``end``, and in ``weight`` (a
    number or a tensor) with slope ``end - x``."""
    return (
        rt.unbroadcast(g * (1.0 - weight), x),
        rt.unbroadcast(g * weight, end),
        rt.unbroadcast(g * (end - x), weight),
    )


@jvp(tm.lerp)
def tensor_lerp_jvp(ans, x, end, weight, *, dx, dend, dweight):
    return dx * (1.0 - weight), dend * weight, dweight * (end - x)


@vjp(tm.addcmul)
def tensor_addcmul(g, ans, x, tensor1, tensor2, value=1):
    return (
        rt.unbroadcast(g, x),
        rt.unbroadcast(g * value * tensor2, tensor1),
        rt.unbroadcast(g * value * tensor1, tensor2),
        None,
    )


@jvp(tm.addcmul)
def tensor_addcmul_jvp(ans, x, tensor1, tensor2, value=1, *, dx, dtensor1, dtensor2):
    return dx, dtensor1 * value * tensor2, dtensor2 * value * tensor1


@vjp(tm.div_rounded)
def tensor_div_rounded(g, ans, x, other, rounding_mode):
    """A rounded quotient, piecewise constant: a zero gradient for both operands, as
    PyTorch records it (``.grad`` zeros, not None)."""
    return xp.zeros_like(x), rt.zeros_like(other), None


@jvp(tm.div_rounded)
def tensor_div_rounded_jvp(ans, x, other, rounding_mode, *, dx, dother):
    return xp.zeros_like(ans), xp.zeros_like(ans)


nondiff("a boolean", tm.logical_and, tm.logical_or, tm.logical_xor, tm.logical_not, tm.all,
        tm.any)  # fmt: skip


# ---- repeat_interleave, masked_select, index_fill, index_add -----------------------------

alias(tm.repeat_interleave, xp.repeat)
keywords(tm.repeat_interleave, dim="axis")


@vjp(tm.masked_select)
def tensor_masked_select(g, ans, x, mask):
    return rt.tensor_methods.masked_select_grad(g, x, mask), None


@jvp(tm.masked_select)
def tensor_masked_select_jvp(ans, x, mask, *, dx):
    return rt.tensor_methods.masked_select(dx, mask)


@vjp(tm.masked_select_grad)
def tensor_masked_select_grad(g, ans, d, x, mask):
    """``masked_select_grad`` is linear in the gradient it puts back: its own gradient
    is ``g``'s entries where ``mask`` holds (``g`` broadcast as ``x`` was)."""
    return rt.tensor_methods.masked_select(g, mask), None, None


@vjp(tm.index_fill)
def tensor_index_fill(g, ans, x, dim, index, value):
    """The filled entries send ``x`` nothing, and ``value`` the sum of theirs."""
    return (
        rt.tensor_methods.index_fill(g, dim, index, 0.0),
        None,
        None,
        rt.unbroadcast(
            xp.sum(g * rt.tensor_methods.index_fill(xp.zeros_like(g), dim, index, 1.0)), value
        ),  # fmt: skip
    )


@jvp(tm.index_fill)
def tensor_index_fill_jvp(ans, x, dim, index, value, *, dx, dvalue):
    return (
        rt.tensor_methods.index_fill(dx, dim, index, 0.0),
        rt.tensor_methods.index_fill(xp.zeros_like(ans), dim, index, dvalue),
    )


@vjp(tm.index_add)
def tensor_index_add(g, ans, x, dim, index, source, alpha=1):
    """``x`` passes ``g`` on; ``source`` gets ``alpha`` times ``g`` at the entries it was
    added to."""
    return g, None, None, rt.tensor_methods.index_add_grad(g, dim, index, alpha), None


@jvp(tm.index_add)
def tensor_index_add_jvp(ans, x, dim, index, source, alpha=1, *, dx, dsource):
    return dx, rt.tensor_methods.index_add(xp.zeros_like(ans), dim, index, dsource, alpha)


linear((0,), tm.index_add_grad, tm.masked_select_grad)


# ---- tile, trace, select, unflatten, diff, median, kthvalue, aminmax, var_mean, norms ----

alias(tm.trace, xp.trace)
alias(tm.diff, xp.diff)
keywords(tm.diff, dim="axis")


@vjp(tm.tile)
def tensor_tile(g, ans, x, *dims):
    """The tiles' gradients summed back onto ``x`` (``np.tile``'s)."""
    return (rt.tile_grad(g, x, rt.tensor_methods.shape_of(dims)), *[None] * len(dims))


@vjp(tm.select)
def tensor_select(g, ans, x, dim, index):
    """Indexing's rule (``x[..., index]``)."""
    return (
        rt.index_grad(x, rt.tensor_methods.select_index(xp.shape(x), dim, index), g),
        None,
        None,
    )


@vjp(tm.unflatten)
def tensor_unflatten(g, ans, x, dim, sizes):
    return rt.reshape_like(g, x), None, None


linear((0,), tm.tile, tm.select, tm.unflatten)


@vjp(tm.aminmax)
def tensor_aminmax(g, ans, x, dim=None, keepdim=False):
    """``(min, max)``: each shared evenly between its tied entries (``amin``'s and
    ``amax``'s rules)."""
    g_min, g_max = rt.entries(g, ans)
    axis = rt.tensor_methods.reduction_dim(x, dim)
    kept = keepdim and axis is not None
    d_min = rt.extreme_grad(g_min, ans[0], x, axis, kept)
    return d_min + rt.extreme_grad(g_max, ans[1], x, axis, kept), None, None


@jvp(tm.aminmax, shaped=True)
def tensor_aminmax_jvp(ans, x, dim=None, keepdim=False, *, dx):
    axis = rt.tensor_methods.reduction_dim(x, dim)
    kept = keepdim and axis is not None
    return [
        xp.reshape(
            xp.sum(rt.extreme_grad(xp.ones_like(end), end, x, axis, kept) * dx, axis=axis,
                   keepdims=kept),
            xp.shape(end),
        )
        for end in ans
    ]  # fmt: skip


sequence_result(tm.median, tm.kthvalue, tm.aminmax, tm.var_mean, tm.std_mean)


@vjp(tm.var_mean)
def tensor_var_mean(g, ans, x, dim=None, unbiased=True, keepdim=False, correction=None):
    """``(var, mean)``: ``var``'s rule and ``mean``'s, added."""
    g_var, g_mean = rt.entries(g, ans)
    over, unbiased_ = rt.tensor_methods.spread_args(dim, unbiased)
    axis, ddof = rt.tensor_methods.axis(over), rt.tensor_methods.ddof(unbiased_, correction)
    centred = rt.centred(x, axis)
    n = rt.size(x) / rt.size(ans[1])
    d_var = rt.unreduce(xp.divide(g_var * 2.0, n - ddof), x, axis, keepdim) * centred
    return d_var + rt.unreduce(g_mean / n, x, axis, keepdim), None, None, None, None


@vjp(tm.std_mean)
def tensor_std_mean(g, ans, x, dim=None, unbiased=True, keepdim=False, correction=None):
    """``(std, mean)``: ``std``'s rule (0 where the std is 0) and ``mean``'s, added."""
    g_std, g_mean = rt.entries(g, ans)
    over, unbiased_ = rt.tensor_methods.spread_args(dim, unbiased)
    axis, ddof = rt.tensor_methods.axis(over), rt.tensor_methods.ddof(unbiased_, correction)
    centred = rt.centred(x, axis)
    n = rt.size(x) / rt.size(ans[1])
    spread = xp.where(ans[0] == 0, xp.inf, ans[0] * (n - ddof))
    d_std = rt.keep_dims(g_std / spread, x, axis, keepdim) * centred
    return d_std + rt.unreduce(g_mean / n, x, axis, keepdim), None, None, None, None


@jvp(tm.var_mean, shaped=True)
def tensor_var_mean_jvp(ans, x, dim=None, unbiased=True, keepdim=False, correction=None, *,
                        dx):  # fmt: skip
    over, unbiased_ = rt.tensor_methods.spread_args(dim, unbiased)
    axis, ddof = rt.tensor_methods.axis(over), rt.tensor_methods.ddof(unbiased_, correction)
    centred = rt.centred(x, axis)
    n = rt.size(x) / rt.size(ans[1])
    return [
        2.0 * xp.sum(centred * dx, axis=axis, keepdims=keepdim) / (n - ddof),
        xp.sum(dx, axis=axis, keepdims=keepdim) / n,
    ]


@jvp(tm.std_mean, shaped=True)
def tensor_std_mean_jvp(ans, x, dim=None, unbiased=True, keepdim=False, correction=None, *,
                        dx):  # fmt: skip
    over, unbiased_ = rt.tensor_methods.spread_args(dim, unbiased)
    axis, ddof = rt.tensor_methods.axis(over), rt.tensor_methods.ddof(unbiased_, correction)
    centred = rt.centred(x, axis)
    n = rt.size(x) / rt.size(ans[1])
    spread = xp.where(ans[0] == 0, xp.inf, (n - ddof) * ans[0])
    return [
        xp.sum(centred * dx, axis=axis, keepdims=keepdim) / spread,
        xp.sum(dx, axis=axis, keepdims=keepdim) / n,
    ]


@vjp(tm.norm)
def tensor_norm(g, ans, x, p="fro", dim=None, keepdim=False):
    """The vector ``p``-norm's gradient (``np.linalg.norm``'s) over the dims ``dim``
    made one: 0 where an entry or the norm is 0, as PyTorch's."""
    rows = rt.tensor_methods.norm_rows(x, dim)
    d = rt.norm_grad(
        xp.reshape(g, xp.shape(rows)[:-1]),
        xp.reshape(ans, xp.shape(rows)[:-1]),
        rows,
        rt.tensor_methods.norm_order(x, p),
        -1,
    )
    at_zero = (rows == 0) | (xp.expand_dims(xp.reshape(ans, xp.shape(rows)[:-1]), -1) == 0)
    return rt.tensor_methods.norm_rows_back(xp.where(at_zero, 0.0, d), x, dim), None, None, None


@jvp(tm.norm, shaped=True)
def tensor_norm_jvp(ans, x, p="fro", dim=None, keepdim=False, *, dx):
    rows = rt.tensor_methods.norm_rows(x, dim)
    slope = rt.norm_grad(
        xp.ones_like(xp.reshape(ans, xp.shape(rows)[:-1])),
        xp.reshape(ans, xp.shape(rows)[:-1]),
        rows,
        rt.tensor_methods.norm_order(x, p),
        -1,
    )
    at_zero = (rows == 0) | (xp.expand_dims(xp.reshape(ans, xp.shape(rows)[:-1]), -1) == 0)
    along = xp.sum(xp.where(at_zero, 0.0, slope) * rt.tensor_methods.norm_rows(dx, dim), axis=-1)
    return xp.reshape(along, xp.shape(ans))


@vjp(tm.dist)
def tensor_dist(g, ans, x, other, p=2):
    """The norm's gradient of ``x - other``: to ``x``, and negated to ``other``."""
    diff = xp.reshape(x - other, (-1,))
    d = rt.norm_grad(g, ans, diff, rt.tensor_methods.norm_order(diff, p), 0)
    d = xp.reshape(xp.where((diff == 0) | (ans == 0), 0.0, d), xp.shape(x - other))
    return rt.unbroadcast(d, x), rt.unbroadcast(-d, other), None


@jvp(tm.dist)
def tensor_dist_jvp(ans, x, other, p=2, *, dx, dother):
    diff = xp.reshape(x - other, (-1,))
    slope = rt.norm_grad(xp.ones_like(ans), ans, diff, rt.tensor_methods.norm_order(diff, p), 0)
    slope = xp.reshape(xp.where((diff == 0) | (ans == 0), 0.0, slope), xp.shape(x - other))
    return xp.sum(slope * dx), -xp.sum(slope * dother)


@vjp(tm.cdist)
def tensor_cdist(g, ans, x1, x2, p=2.0, compute_mode=None):
    """PyTorch's ``_cdist_backward``: each distance's gradient along the differences of
    its rows (0 where the distance or a difference is 0; for ``p=inf`` to every entry
    at the largest difference, ties each in full)."""
    diff = xp.expand_dims(x1, -2) - xp.expand_dims(x2, -3)
    d = (
        xp.sign(diff) * (xp.abs(diff) == xp.expand_dims(ans, -1)) * xp.expand_dims(g, -1)
        if p == xp.inf
        else xp.where(
            (diff == 0) | (xp.expand_dims(ans, -1) == 0),
            0.0,
            rt.norm_grad(g, ans, diff, rt.tensor_methods.norm_order(diff, p), -1),
        )
    )
    return (
        rt.unbroadcast(xp.sum(d, axis=-2), x1),
        rt.unbroadcast(-xp.sum(d, axis=-3), x2),
        None,
        None,
    )


@jvp(tm.cdist)
def tensor_cdist_jvp(ans, x1, x2, p=2.0, compute_mode=None, *, dx1, dx2):
    """The slopes of the reverse rule along the tangents of the differences."""
    diff = xp.expand_dims(x1, -2) - xp.expand_dims(x2, -3)
    slope = (
        xp.sign(diff) * (xp.abs(diff) == xp.expand_dims(ans, -1))
        if p == xp.inf
        else xp.where(
            (diff == 0) | (xp.expand_dims(ans, -1) == 0),
            0.0,
            rt.norm_grad(xp.ones_like(ans), ans, diff, rt.tensor_methods.norm_order(diff, p), -1),
        )
    )
    return xp.sum(slope * xp.expand_dims(dx1, -2), axis=-1), -xp.sum(
        slope * xp.expand_dims(dx2, -3), axis=-1
    )


nondiff(
    "a check, a shape, an index or the arguments of a method",
    tm.select_index, tm.unflattened_shape, tm.norm_order, tm.norm_shape, tm.spread_args,
    tm.euclid_by_product,
)  # fmt: skip
linear((0,), tm.norm_rows, tm.norm_rows_back)


@vjp(tm.norm_rows)
def tensor_norm_rows(g, ans, x, dim):
    return rt.tensor_methods.norm_rows_back(g, x, dim), None


@vjp(tm.norm_rows_back)
def tensor_norm_rows_back(g, ans, d, x, dim):
    return rt.tensor_methods.norm_rows(g, dim), None, None


@vjp(tm.scatter_reduce)
def tensor_scatter_reduce(g, ans, x, dim, index, src, reduce, include_self=True):
    """PyTorch's ``scatter_reduce_backward`` (``rt.tensor_methods.scatter_reduce_grads``)."""
    d = rt.tensor_methods.scatter_reduce_grads(g, ans, x, dim, index, src, reduce, include_self)
    return d[0], None, None, d[1], None, None


@jvp(tm.scatter_reduce, shaped=True)
def tensor_scatter_reduce_jvp(ans, x, dim, index, src, reduce, include_self=True, *, dx, dsrc):
    """The reverse rule's transpose: each tangent times the slope that rule gives it
    (``amax``/``amin`` ties shared as there), ``src``'s added where scattered; for
    ``prod``, each entry's factors laid out as a row (filled up with 1s) and np.prod's
    rules over the rows, whose derivatives go on, exact where factors are zero."""
    slopes = rt.tensor_methods.scatter_reduce_slopes(ans, x, dim, index, src, reduce, include_self)
    slots = rt.tensor_methods.scatter_prod_slots(x, dim, index, src, reduce, include_self)
    pad = xp.ones_like(xp.reshape(x, (-1,))[:1])
    flat_x, flat_src = xp.reshape(x, (-1,)), xp.reshape(src, (-1,))
    factors = rt.prod_grad(
        xp.ones_like(slots[:, 0], dtype=x.dtype),
        None,
        xp.concatenate([flat_x, flat_src, pad])[slots],
        -1,
    )
    rows_dx = xp.concatenate([xp.reshape(dx, (-1,)), 0 * flat_src, 0 * pad])[slots]
    rows_dsrc = xp.concatenate([0 * flat_x, xp.reshape(dsrc, (-1,)), 0 * pad])[slots]
    return (
        slopes[0] * dx + xp.reshape(xp.sum(factors * rows_dx, axis=-1), xp.shape(ans)),
        rt.tensor_methods.scatter_add(xp.zeros_like(ans), dim, index, slopes[1] * dsrc)
        + xp.reshape(xp.sum(factors * rows_dsrc, axis=-1), xp.shape(ans)),
    )


@vjp(tm.scatter_reduce_grads)
def tensor_scatter_reduce_grads(gbar, out, g, ans, x, dim, index, src, reduce, include_self=True):
    """Linear in ``g`` (its adjoint is the forward rule). The slopes vary with ``x`` and
    ``src`` for ``prod`` alone, symmetrically (the Hessian of ``<g, ans>``); ``ans``,
    their scatter_reduce, changes through them, taken there."""
    slopes = rt.tensor_methods.scatter_reduce_grads(
        xp.ones_like(g), ans, x, dim, index, src, reduce, include_self
    )
    gbar_x, gbar_src = rt.or_zeros(gbar[0], x), rt.or_zeros(gbar[1], src)
    spread = rt.tensor_methods.scatter_add(xp.zeros_like(g), dim, index, slopes[1] * gbar_src)
    curved = rt.tensor_methods.scatter_reduce_curvature(
        g, x, dim, index, src, reduce, include_self, gbar_x, gbar_src
    )
    return slopes[0] * gbar_x + spread, None, curved[0], None, None, curved[1], None, None


@jvp(tm.scatter_reduce_grads)
def tensor_scatter_reduce_grads_jvp(out, g, ans, x, dim, index, src, reduce, include_self=True, *,
                                    dg, dx, dsrc):  # fmt: skip
    """Linear in ``g``; the slopes vary with ``x`` and ``src`` for ``prod`` alone (``ans``
    changes through them)."""
    return (
        rt.tensor_methods.scatter_reduce_grads(dg, ans, x, dim, index, src, reduce, include_self),
        rt.tensor_methods.scatter_reduce_curvature(
            g, x, dim, index, src, reduce, include_self, dx, xp.zeros_like(src)
        ),
        rt.tensor_methods.scatter_reduce_curvature(
            g, x, dim, index, src, reduce, include_self, xp.zeros_like(x), dsrc
        ),
    )


nondiff(
    "piecewise constant: the slopes of a sum, mean, amax or amin scatter_reduce (which "
    "entries attain an extreme moves only at ties), and the positions of its factors",
    tm.scatter_reduce_slopes, tm.scatter_prod_slots,
)  # fmt: skip
unsupported(
    tm.scatter_reduce_curvature,
    "a third derivative through scatter_reduce",
    "differentiate it at most twice",
)


# ---- frac, sinc, copysign, heaviside, cummax, fmax, hypot, logaddexp --------------------

for _method, _primitive in ((tm.sinc, xp.sinc), (tm.heaviside, xp.heaviside),
                            (tm.hypot, xp.hypot), (tm.logaddexp, xp.logaddexp),
                            (tm.logaddexp2, xp.logaddexp2)):  # fmt: skip
    alias(_method, _primitive)
constant_in((0,), tm.heaviside)


@vjp(tm.frac)
def tensor_frac(g, ans, x):
    """``x - trunc(x)``: the truncation is piecewise constant, so the gradient passes."""
    return g


@jvp(tm.frac)
def tensor_frac_jvp(ans, x, *, dx):
    return dx


@vjp(tm.copysign)
def tensor_copysign(g, ans, x, other):
    """``|x|`` with the sign of ``other``: ``x`` gets ``g`` times the sign it was given (0 at
    ``x = 0``); ``other``, whose sign is piecewise constant, a zero gradient, as PyTorch
    records it (``.grad`` zeros, not None)."""
    return rt.unbroadcast(g * xp.sign(x) * xp.sign(ans), x), rt.zeros_like(other)


@jvp(tm.copysign)
def tensor_copysign_jvp(ans, x, other, *, dx, dother):
    return dx * xp.sign(x) * xp.sign(ans), xp.zeros_like(ans)


@vjp(tm.cummax, tm.cummin)
def tensor_cummax(g, ans, x, dim):
    """``(values, indices)``: each value's gradient goes to the entry at its index (the
    latest of tied entries, as PyTorch's); the indices carry none."""
    return rt.tensor_methods.taken_grad(rt.entries(g, ans)[0], x, ans[1], dim), None


@jvp(tm.cummax, tm.cummin, shaped=True)
def tensor_cummax_jvp(ans, x, dim, *, dx):
    return [rt.tensor_methods.taken(dx, ans[1], dim), xp.zeros(xp.shape(ans[1]))]


sequence_result(tm.cummax, tm.cummin)  # (values, indices)


@vjp(tm.fmax)
def tensor_fmax(g, ans, x, other):
    """The larger operand gets the gradient, ``x`` at a tie (PyTorch's, where ``np.fmax``'s
    rule shares it), the one that is not NaN where one is."""
    to_x = (x >= other) | xp.isnan(other)
    return rt.unbroadcast(xp.where(to_x, g, 0.0), x), rt.unbroadcast(xp.where(to_x, 0.0, g), other)


@jvp(tm.fmax)
def tensor_fmax_jvp(ans, x, other, *, dx, dother):
    to_x = (x >= other) | xp.isnan(other)
    return xp.where(to_x, dx, 0.0), xp.where(to_x, 0.0, dother)


@vjp(tm.fmin)
def tensor_fmin(g, ans, x, other):
    """As ``fmax``'s, of the smaller operand."""
    to_x = (x <= other) | xp.isnan(other)
    return rt.unbroadcast(xp.where(to_x, g, 0.0), x), rt.unbroadcast(xp.where(to_x, 0.0, g), other)


@jvp(tm.fmin)
def tensor_fmin_jvp(ans, x, other, *, dx, dother):
    to_x = (x <= other) | xp.isnan(other)
    return xp.where(to_x, dx, 0.0), xp.where(to_x, 0.0, dother)
