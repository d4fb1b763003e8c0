"""Activations, losses and layers as functions of tensors, as ``torch.nn.functional``.

Each is a few tensor operations, so its gradient comes from the rules of those; where the
textbook formula overflows or loses precision, a stable equivalent is used instead. Binary
cross entropy is one primitive, whose rule is PyTorch's own gradient.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import runtime as rt
from ..backend import array_module
from ..creation import bernoulli, full
from ..dtypes import float64
from ..functions import minimum, stack, where
from ..grad_mode import no_grad
from ..rules.elementwise import SCIPY_SPECIAL
from ..rules.registry import alias, nondiff
from ..tensor import Tensor, apply_op

# erf for gelu, from SciPy where it is installed (the rules of scipy.special import it then)
_erf = next((f for f in SCIPY_SPECIAL if f.__name__ == "erf"), None)

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> str:
    """``reduction`` if it is one of 'mean', 'sum', 'none'; else a ValueError."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str,
                     weight: Any = None) -> str:  # fmt: skip
    """The reduction PyTorch's deprecated ``size_average`` and ``reduce`` ask for (where
    given), else ``reduction``; a reduction passed by position where PyTorch's order has
    ``weight`` or ``size_average`` (srcdiff's order once) is a TypeError."""
    for given in (weight, size_average):
        if isinstance(given, str):
            raise TypeError(
                f"{given!r} given where PyTorch's order has weight or size_average: pass "
                f"reduction={given!r} by keyword"
            )
    if size_average is None and reduce is None:
        return check_reduction(reduction)
    warnings.warn(
        "size_average and reduce args will be deprecated, please use reduction instead",
        stacklevel=3,
    )
    size_average = True if size_average is None else size_average  # (read as truth
    reduce = True if reduce is None else reduce  # values, as PyTorch reads them)
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


nondiff("a check of an argument, returning it", check_reduction, legacy_reduction)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if check_reduction(reduction) == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


# ---- activations --------------------------------------------------------------------


def written_into(input: Tensor, compute: Callable, args: tuple = ()) -> Tensor:
    """``compute(input, *args)`` written into ``input``, which is returned (an activation's
    or dropout's ``inplace=True``), as PyTorch's in-place activations write it: computed
    from the old values (a snapshot, which later writes leave as it is), recorded into the
    tensor a view views. Compiled code does not look inside (it would take every function
    calling this for one that updates its input, ``inplace`` or not): there it is refused
    where it runs."""
    if not isinstance(input, Tensor):
        raise rt.refuse(
            "an activation or dropout with inplace=True in a compiled step: the write into "
            "its input is not compiled",
            "use inplace=False (the result is the same where nothing reads the input after "
            "it), or run the step eagerly",
        )
    return input._inplace(lambda old: compute(old, *args))


nondiff("a write an eager call makes (compiled code makes it an update in place)",
        written_into)  # fmt: skip
# compiled Tensor code computes the new value, then copies it into the input (see unwrap)
written_into._srcdiff_written_into = True  # type: ignore[attr-defined]


def _relu_of(input: Tensor) -> Tensor:
    return input.relu()


def _silu_of(input: Tensor) -> Tensor:
    return input * input.sigmoid()


def _mish_of(input: Tensor) -> Tensor:
    return input * _softplus(input).tanh()


def _times(input: Tensor, scale: Any) -> Tensor:
    return input * scale


def _tensors(name: str, **arguments: Any) -> None:
    """PyTorch's TypeError for an argument of ``name`` given (not None) that is not a
    Tensor, in an eager call; compiled code passes arrays in their place (and refuses an
    array carrying a gradient at the user's line: see ``rt.calls``)."""
    for argument, value in arguments.items():
        if value is not None and not isinstance(value, Tensor):
            if rt.in_generated_code():
                return
            kind = type(value)
            shown = kind.__name__ if kind.__module__ == "builtins" else (
                f"{kind.__module__.split('.')[0]}.{kind.__name__}"
            )  # fmt: skip
            raise TypeError(f"{name}(): argument '{argument}' must be Tensor, not {shown}")


nondiff("a check of arguments' types", _tensors)
# compiled Tensor code, where arrays stand for the Tensors, leaves its calls out
_tensors._srcdiff_eager_only = True  # type: ignore[attr-defined]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    _tensors("relu", input=input)
    return written_into(input, _relu_of) if inplace else input.relu()


def _recorded(op: Callable, name: str) -> Callable:
    """``op`` (of ``rt.tensor_methods``) as one recorded operation, as PyTorch's: on a
    Tensor through ``apply_op`` (its grad_fn named ``name``), on the array compiled code
    passes as it is; compiled code takes it for ``op``, with its rules."""

    def recorded(*args: Any) -> Any:
        if isinstance(args[0], Tensor):
            return apply_op(op, args, name=name)
        return op(*args)

    recorded.__name__ = recorded.__qualname__ = f"_{op.__name__}"
    alias(recorded, op)
    return recorded


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else ``negative_slope`` x (the slope's gradient at 0, as PyTorch)."""
    _tensors("leaky_relu", input=input)
    if not input.is_floating_point():
        _floats_only(input, "leaky_relu_cpu")
    if inplace:
        return written_into(input, _leaky_relu, (negative_slope,))
    return _leaky_relu(input, negative_slope)


_leaky_relu = _recorded(rt.tensor_methods.leaky_relu, "LeakyReluBackward0")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha (exp(x) - 1) (floats alone)."""
    _tensors("elu", input=input)
    if not input.is_floating_point():
        _floats_only(input, "elu_cpu")
    if inplace:
        return written_into(input, _elu, (alpha, 1.0, 1.0))
    return _elu(input, alpha, 1.0, 1.0)


_elu = _recorded(rt.tensor_methods.elu, "EluBackward0")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x), the swish."""
    _tensors("silu", input=input)
    return written_into(input, _silu_of) if inplace else _silu_of(input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x), Phi the standard normal's distribution function: exact through
    ``scipy.special.erf`` (SciPy needed), or with ``approximate="tanh"`` PyTorch's tanh
    form."""
    _tensors("gelu", input=input)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * (inner.tanh() + 1.0) * 0.5
    if approximate != "none":
        raise ValueError(f"approximate argument must be either none or tanh, not {approximate!r}")
    if _erf is None:  # pragma: no cover (the tests install the scipy extra)
        raise RuntimeError(
            "gelu needs SciPy for erf: pip install 'srcdiff[scipy]', or pass approximate=\"tanh\""
        )
    return input * (_erf(input * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5


def tanh(input: Tensor) -> Tensor:
    _tensors("tanh", input=input)
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    _tensors("sigmoid", input=input)
    return input.sigmoid()


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > ``threshold``, as
    PyTorch."""
    _tensors("softplus", input=input)
    scaled = input * beta
    soft = _softplus(input) if beta == 1.0 else _softplus(scaled) / beta
    return where(scaled > threshold, input, soft)


def _softplus(input: Tensor) -> Tensor:
    """log(1 + exp(x)), as logaddexp(0, x): it equals max(x, 0) + log1p(exp(-|x|)) and never
    overflows, and its gradient is sigmoid(x) also at 0, where the two terms of that form
    have kinks whose one-sided gradients would not add up to 0.5."""
    return np.logaddexp(0.0, input)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
            ) -> Tensor:  # fmt: skip
    """exp(x) / sum(exp(x)) along ``dim`` (shifted by the maximum: no overflow), in
    ``dtype`` where given (the input cast first)."""
    _tensors("softmax", input=input)
    return _cast(input, dtype).softmax(_implicit_dim(input, dim, "softmax", _stacklevel))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
                ) -> Tensor:  # fmt: skip
    """x - log(sum(exp(x))) along ``dim`` (shifted by the maximum: no overflow)."""
    _tensors("log_softmax", input=input)
    dim = _implicit_dim(input, dim, "log_softmax", _stacklevel)
    return _cast(input, dtype).log_softmax(dim)


def _cast(input: Tensor, dtype: Any) -> Tensor:
    return input if dtype is None else input.to(dtype)


def _implicit_dim(input: Tensor, dim: int | None, name: str, stacklevel: int) -> int:
    """``dim``, or where None PyTorch's deprecated choice (0 for 0-, 1- and 3-d inputs,
    else 1), with its warning."""
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if input.ndim in (0, 1, 3) else 1


nondiff("a dim (an integer)", _implicit_dim)  # (run as written where compiled code calls it)


# ---- layers -------------------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias (of one dtype, as PyTorch asks)."""
    _tensors("linear", input=input, weight=weight, bias=bias)
    rt.tensor_methods.same_dtypes(input, weight)
    _bias_dtype(weight, bias)
    out = input @ weight.T
    return out if bias is None else out + bias


def _bias_dtype(weight: Any, bias: Any) -> None:
    """PyTorch's error for a bias of a dtype other than the weight's (it promotes neither)."""
    w = getattr(weight, "_data", weight)
    b = getattr(bias, "_data", bias)
    if bias is not None and b.dtype != w.dtype:
        raise RuntimeError(
            f"self and mat2 must have the same dtype, but got "
            f"{type_name(b).removesuffix('Tensor')} and {type_name(w).removesuffix('Tensor')}"
        )


nondiff("a check of arguments' dtypes", _bias_dtype)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
            ) -> Tensor:  # fmt: skip
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), when
    ``training``; the identity otherwise (``inplace`` then writes nothing). The mask comes
    from ``sd.manual_seed``'s generator."""
    _tensors("dropout", input=input)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        scale = 0.0
    else:
        # PyTorch's mask, from its draws: empty_like(input).bernoulli_(1 - p), whose number
        # 1 - p is a double (its draws float64 ones, as for float64 probabilities)
        keep = bernoulli(full(input.shape, 1.0 - p, dtype=float64, device=input.device))
        scale = keep._data.astype(input._data.dtype) / (1.0 - p)
    return written_into(input, _times, (scale,)) if inplace else input * scale


# ---- losses -------------------------------------------------------------------------


def _weighted(loss: Tensor, reduction: str, weight: Tensor | None, input: Tensor,
              by_weights: bool = True) -> Tensor:  # fmt: skip
    """``loss`` times ``weight`` (shaped as ``input``), reduced: its mean over the
    weights' sum where ``by_weights`` (mse_loss, l1_loss), else over the entries
    (huber_loss), as PyTorch weighs them."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if check_reduction(reduction) == "mean" and by_weights:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean", weight: Tensor | None = None
            ) -> Tensor:  # fmt: skip
    """|input - target|, reduced (gradient 0 where they are equal, as PyTorch)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("l1_loss", input=input, target=target, weight=weight)
    return _weighted((input - target).abs(), reduction, weight, input)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:  # fmt: skip
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta), for d = input - target."""
    _tensors("huber_loss", input=input, target=target, weight=weight)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = input - target
    size = d.abs()
    loss = where(size < delta, d * d * 0.5, (size - 0.5 * delta) * delta)
    if loss.dtype != input.dtype:  # PyTorch's kernel writes the loss in the input's dtype
        loss = loss.to(input.dtype)
    return _weighted(loss, reduction, weight, input, by_weights=False)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0
                   ) -> Tensor:  # fmt: skip
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (L1 where beta is 0)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("smooth_l1_loss", input=input, target=target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = input - target
    size = d.abs()
    if beta == 0.0:
        return _reduce(size, reduction)
    return _reduce(where(size < beta, d * d * (0.5 / beta), size - 0.5 * beta), reduction)


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean", weight: Tensor | None = None
             ) -> Tensor:  # fmt: skip
    """(input - target) ** 2, reduced; differentiable in both arguments."""
    _tensors("mse_loss", input=input, target=target, weight=weight)
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input "
            f"size ({input.shape}). This will likely lead to incorrect results due "
            "to broadcasting. Please ensure they have the same size.",
            stacklevel=2,
        )
    squared = (input - target) ** 2
    if reduction == "mean" and size_average is None and reduce is None and weight is None:
        return squared.mean()  # the usual case, without the call (compiled code pays for it)
    return _weighted(squared, legacy_reduction(size_average, reduce, reduction), weight, input)


def _class_dim(input: Tensor) -> int:
    return 0 if input.ndim == 1 else 1


def _class_weight(weight: Tensor | None, classes: int) -> None:
    """Refuse a per-class ``weight`` that is not one entry per class (broadcast, a wrong
    one gave a loss without a word)."""
    if weight is not None and tuple(weight.shape) != (classes,):
        raise RuntimeError(
            f"weight tensor should be defined either for all {classes} classes or no "
            f"classes but got weight tensor of shape: {list(weight.shape)}"
        )


def _elementwise_weight(weight: Tensor | None, input: Tensor, name: str) -> None:
    """Refuse a ``weight`` (or ``pos_weight``) that does not broadcast to the input's
    shape: broadcasting would have grown the loss to the weight's."""
    if weight is None:
        return
    shape, grown = tuple(input.shape), tuple(weight.shape)
    try:
        fits = np.broadcast_shapes(grown, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"{name} of shape {list(grown)} does not broadcast to the input's shape {list(shape)}"
        )


def _along(weight: Tensor, dim: int, ndim: int) -> Tensor:
    """Per-class ``weight`` (C,) shaped to broadcast along the class dim ``dim``."""
    shape = [1] * ndim
    shape[dim] = weight.shape[0]
    return weight.reshape(shape)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross entropy of logits ``input`` (N, C) or (C,), as PyTorch's.

    ``target`` holds class indices (N,), whose loss is -weight[t] log_softmax(input)[n, t]
    for t = target[n] (entries equal to ``ignore_index`` count for nothing, also in the
    mean, which divides by the summed weights), or class probabilities shaped like
    ``input``, whose loss is -sum(weight * target * log_softmax(input)). With
    ``label_smoothing`` e, the target is (1 - e) of itself and e spread over the classes.
    """
    reduction = legacy_reduction(size_average, reduce, reduction, weight)
    _tensors("cross_entropy", input=input, target=target, weight=weight)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    dim = _class_dim(input)
    _class_weight(weight, input.shape[dim])
    if not target.is_floating_point():  # (probabilities: weighted as promoted, as PyTorch's)
        _same_dtype(input, weight, None)
    log_p = log_softmax(input, dim)
    weighted = log_p if weight is None else log_p * _along(weight, dim, log_p.ndim)
    classes = input.shape[dim]
    if target.is_floating_point():
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"Expected target of class probabilities to have the shape of "
                f"the input {tuple(input.shape)}, got {tuple(target.shape)}"
            )
        if ignore_index >= 0:  # (a class probabilities' target has no index to ignore)
            raise RuntimeError("ignore_index is not supported for floating point target")
        if label_smoothing > 0.0:
            target = target * (1.0 - label_smoothing) + label_smoothing / classes
        return _reduce(-(target * weighted).sum(dim), reduction)
    loss = _reduce_picked(log_p, target, weight, ignore_index, reduction)
    if label_smoothing == 0.0:
        return loss
    kept = target._data != ignore_index
    smooth = -weighted.sum(dim).masked_fill(~kept, 0.0)
    if reduction == "mean":
        one_hot = _one_hot(log_p, target, ignore_index)
        smooth = smooth.sum() / _picked_weight(log_p, one_hot, weight)
    elif reduction == "sum":
        smooth = smooth.sum()
    return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


def _one_hot(log_p: Tensor, target: Tensor, ignore_index: int) -> np.ndarray:
    """The class indices ``target`` as a boolean array shaped like ``log_p`` (a row of
    False where the index is ``ignore_index``), checked against the classes."""
    dim = _class_dim(log_p)
    classes = log_p.shape[dim]
    labels = getattr(target, "_data", target)
    expected = tuple(log_p.shape[:dim] + log_p.shape[dim + 1 :])
    if tuple(labels.shape) != expected:
        raise ValueError(
            f"Expected target of shape {expected} for input of shape "
            f"{tuple(log_p.shape)}, got {tuple(labels.shape)}"
        )
    xp = array_module(getattr(log_p, "_data", log_p))
    kept = labels != ignore_index
    outside = kept & ((labels < 0) | (labels >= classes))
    if xp.any(outside):
        raise IndexError(f"Target {int(labels[outside][0])} is out of bounds.")
    shape = [1] * log_p.ndim
    shape[dim] = classes
    along = (*expected[:dim], 1, *expected[dim:])  # (reshapes: sooner than expand_dims)
    hot = xp.reshape(labels, along) == xp.reshape(xp.arange(classes), tuple(shape))
    return hot & xp.reshape(kept, along)


# run as written where compiled code calls them (a compiled copy of each paid for its
# bookkeeping at every step): an integer and a boolean mask, which carry no gradient
nondiff(
    "a class dim (an integer), a check of class weights, a boolean mask of the targets",
    _class_dim,
    _class_weight,
    _one_hot,
)


def _picked_weight(log_p: Tensor, one_hot: Any, weight: Tensor | None) -> Tensor | float:
    """What a mean over class indices divides by: the weights of the targets not
    ignored (their number, without weights); ``one_hot`` is ``_one_hot``'s mask."""
    if weight is None:  # (an array: every target ignored gives 0 / 0, NaN as in PyTorch)
        return one_hot.sum().astype(log_p._data.dtype)
    return _along(weight, _class_dim(log_p), log_p.ndim).masked_fill(~one_hot, 0.0).sum()


def _reduce_picked(log_p: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                   reduction: str) -> Tensor:  # fmt: skip
    """-weight * log_p at each target class (a one-hot product, so any number of extra
    dims works)."""
    dim = _class_dim(log_p)
    # the targets' entries alone (a product with a one-hot would make 0 * -inf a NaN)
    one_hot = _one_hot(log_p, target, ignore_index)
    picked = _nll_picked(log_p, one_hot)
    if weight is not None:
        picked = picked * _along(weight, dim, log_p.ndim)
    loss = 0.0 - picked.sum(dim)  # (an ignored target: 0, not -0)
    if reduction == "mean":
        return loss.sum() / _picked_weight(log_p, one_hot, weight)
    return _reduce(loss, reduction)


_nll_picked = _recorded(rt.tensor_methods.nll_picked, "NllLossBackward0")


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-weight[t] input[n, t] for t = target[n], reduced: cross entropy for inputs that are
    log-probabilities."""
    reduction = legacy_reduction(size_average, reduce, reduction, weight)
    _tensors("nll_loss", input=input, target=target, weight=weight)
    _class_weight(weight, input.shape[_class_dim(input)])
    _same_dtype(input, weight, None)
    return _reduce_picked(input, target, weight, ignore_index, reduction)


def _binary_cross_entropy(input: Tensor, target: Tensor) -> Tensor:
    """The terms of ``binary_cross_entropy``, by the primitive whose rule is PyTorch's
    gradient (recorded as one operation; compiled code applies its rule)."""
    if isinstance(input, Tensor):
        return apply_op(rt.tensor_methods.binary_cross_entropy, (input, target),
                        name="BinaryCrossEntropyBackward0")  # fmt: skip
    return rt.tensor_methods.binary_cross_entropy(input, target)


alias(_binary_cross_entropy, rt.tensor_methods.binary_cross_entropy)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-weight (y log(p) + (1 - y) log(1 - p)) for probabilities ``input`` in [0, 1], each
    log clamped at -100, with PyTorch's gradient (finite at a saturated probability);
    differentiable in both arguments."""
    reduction = legacy_reduction(size_average, reduce, reduction, weight)
    _tensors("binary_cross_entropy", input=input, target=target, weight=weight)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input "
            f"size ({input.shape}) is deprecated. Please ensure they have the "
            "same size."
        )
    _elementwise_weight(weight, input, "weight")
    if target._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"Found dtype {type_name(target._data).removesuffix('Tensor')} but expected "
            f"{type_name(input._data).removesuffix('Tensor')}"
        )
    data = input._data
    if not bool(((data >= 0) & (data <= 1)).all()):  # (NaN too)
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = _binary_cross_entropy(input, target)
    if weight is not None:  # (of any float dtype: the loss keeps the input's, as PyTorch's)
        loss = (loss * weight).to(input.dtype)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross entropy of sigmoid(input): (1 - y) x + (1 + (pos_weight - 1) y)
    softplus(-x), times ``weight``; softplus(x) - x y without ``pos_weight``. Stable for
    any logit. Of the target's dtype, as PyTorch's (which computes it in place in a
    tensor made from the target)."""
    reduction = legacy_reduction(size_average, reduce, reduction, weight)
    _tensors("binary_cross_entropy_with_logits", input=input, target=target, weight=weight,
             pos_weight=pos_weight)  # fmt: skip
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    _elementwise_weight(weight, input, "weight")
    _elementwise_weight(pos_weight, input, "pos_weight")
    if pos_weight is None:
        loss = _softplus(input) - input * target
    else:
        loss = (1.0 - target) * input + ((pos_weight - 1.0) * target + 1.0) * _softplus(-input)
    loss = loss if weight is None else loss * weight
    if target.is_floating_point() and loss.dtype != target.dtype:
        loss = loss.to(target.dtype)
    return _reduce(loss, reduction)


# ---- embeddings and normalization ---------------------------------------------------


def _embedding_indices(indices: Any, num_embeddings: int) -> None:
    """Refuse indices that are not integers, or that fall outside the table (NumPy would
    read a negative one from the end)."""
    data = getattr(indices, "_data", indices)
    if getattr(data, "dtype", None) not in (np.int32, np.int64):  # (uint8 would be a mask)
        name = type_name(data)
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got srcdiff.{name} instead (while checking arguments for "
            "embedding)"
        )
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_embeddings):
        raise IndexError("index out of range in self")


def type_name(data: Any) -> str:
    """PyTorch's name of the type of a tensor of ``data``'s dtype (``FloatTensor``)."""
    from ..dtypes import of_numpy

    return of_numpy(np.dtype(data.dtype)).type_name


def _padding_index(padding_idx: int | None, num_embeddings: int) -> int | None:
    """``padding_idx`` counted from the start (a negative one from the end), checked as
    PyTorch checks it."""
    if padding_idx is None:
        return None
    if padding_idx >= 0:
        if padding_idx >= num_embeddings:
            raise AssertionError("Padding_idx must be within num_embeddings")
        return padding_idx
    if padding_idx < -num_embeddings:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return num_embeddings + padding_idx


def _embedding_renorm_(weight: Any, indices: Any, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: each row of ``weight`` that ``indices`` names and
    whose ``norm_type``-norm exceeds ``max_norm`` scaled in place by ``max_norm / (norm +
    1e-7)`` (the norm in ``weight``'s dtype, the scale in float64, then in the dtype)."""
    xp = array_module(weight)
    rows = xp.unique(xp.reshape(xp.asarray(indices), (-1,)))
    picked = weight[rows]
    norms = rt.tensor_methods.vector_norm(picked, norm_type, 1).astype(np.float64)
    over = norms > max_norm
    scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
    weight[rows[over]] = picked[over] * scale[:, None]


def _index_counts(indices: Any, num_embeddings: int, like: Any) -> Any:
    """How often each entry of ``indices`` occurs among them (for ``scale_grad_by_freq``),
    in the dtype of ``like`` (the rows': a division by them keeps it)."""
    data = getattr(indices, "_data", indices)
    xp = array_module(data)
    counts = xp.bincount(data.reshape(-1), minlength=num_embeddings)
    return counts[data].astype(getattr(like, "_data", like).dtype)


nondiff(
    "a check or a count of integer indices", _embedding_indices, type_name, _padding_index,
    _index_counts,
)  # fmt: skip
nondiff("a renormalization of an embedding's rows in place, unrecorded", _embedding_renorm_)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:  # fmt: skip
    """The rows of ``weight`` at the integer indices ``input`` (shaped ``input.shape +
    (embedding_dim,)``). The row ``padding_idx`` gets no gradient; with
    ``scale_grad_by_freq`` each row's gradient is divided by how often its index occurs in
    ``input``, as PyTorch's."""
    _tensors("embedding", input=input, weight=weight)
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num = weight.shape[0]
    padding_idx = _padding_index(padding_idx, num)
    if max_norm is not None:  # (in place, unrecorded, as PyTorch's embedding_renorm_)
        _embedding_renorm_(weight._data, input._data, max_norm, norm_type)
    if sparse:
        raise NotImplementedError(
            "embedding with sparse=True (sparse gradients) is not supported by srcdiff: use "
            "sparse=False, whose dense gradient has the same values"
        )
    _embedding_indices(input, num)
    if padding_idx is not None:  # the padding row's value, without its gradient
        rows = array_module(weight._data).arange(num).reshape(num, 1) == padding_idx
        weight = where(rows, weight.detach(), weight)
    out = weight[input]
    if scale_grad_by_freq:  # the value unchanged, its gradient divided by the count
        held = out.detach()
        counts = _index_counts(input, num, out).reshape(tuple(input.shape) + (1,))
        out = held + (out - held) / counts
    return out


def _normalized_dims(input: Tensor, normalized_shape: Any) -> tuple[int, ...]:
    """The last dims of ``input``, which must have ``normalized_shape``."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if n == 0:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
            "least one element, but got normalized_shape = []"
        )
    if tuple(input.shape[input.ndim - n :]) != shape or input.ndim < n:
        expected = ", ".join(str(s) for s in shape)
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape [*, {expected}], "
            f"but got input of size{list(input.shape)}"
        )
    return tuple(range(-n, 0))


def _checked_shape(t: Any, shape: tuple, name: str, normalized_shape: tuple) -> None:
    if t is not None and tuple(t.shape) != tuple(shape):
        raise RuntimeError(
            f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
            f"shape {list(t.shape)} and normalized_shape = {list(normalized_shape)}"
        )


nondiff("a check of arguments' shapes", _normalized_dims, _checked_shape)


def _one_dtype(input: Any, *tensors: Any, promoting: bool = False) -> bool:
    """PyTorch's error for a normalization's parameters or statistics (``promoting``:
    prelu's weight) of a dtype other than the input's: it promotes none of them. True
    where a normalization's input is float16 and all of them float32, which PyTorch
    takes (it computes in float32 and returns float16)."""
    data = getattr(input, "_data", input)
    given = [getattr(t, "_data", t) for t in tensors if t is not None]
    float32 = given and all(other.dtype == np.float32 for other in given)
    if not promoting and data.dtype == np.float16 and float32:
        return True
    for t in tensors:
        other = getattr(t, "_data", t)
        if t is not None and other.dtype != data.dtype:
            if promoting:
                raise RuntimeError(
                    "prelu: Type promoting not supported. Got "
                    f"{type_name(data).removesuffix('Tensor')} and "
                    f"{type_name(other).removesuffix('Tensor')}"
                )
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    return False


nondiff("a check of arguments' dtypes", _one_dtype)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """(x - mean) / sqrt(var + eps) over the last dims (those of ``normalized_shape``),
    the variance biased, then times ``weight`` and plus ``bias`` where given."""
    _tensors("layer_norm", input=input, weight=weight, bias=bias)
    dims = _normalized_dims(input, normalized_shape)
    dtype = input.dtype
    half = _one_dtype(input, weight, bias)
    if half:
        input = input.float()
    shape = tuple(input.shape[input.ndim - len(dims) :])
    _checked_shape(weight, shape, "weight", shape)
    _checked_shape(bias, shape, "bias", shape)
    centred = input - input.mean(dims, keepdim=True)
    out = centred / ((centred * centred).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out.to(dtype) if half else out


def _channels(input: Tensor) -> tuple[int, tuple[int, ...], list[int]]:
    """The channels (dim 1), the dims a batch norm reduces over (all others) and the shape
    a per-channel vector broadcasts as."""
    if input.ndim < 2:
        raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")
    shape = [1] * input.ndim
    shape[1] = input.shape[1]
    return input.shape[1], (0, *range(2, input.ndim)), shape


def _per_channel(channels: int, running_mean: Any, running_var: Any, weight: Any, bias: Any
                 ) -> None:  # fmt: skip
    """Refuse a per-channel statistic or parameter of another number of entries."""
    given = {"running_mean": running_mean, "running_var": running_var, "weight": weight,
             "bias": bias}  # fmt: skip
    for name, t in given.items():
        size = None if t is None else math.prod(t.shape)
        if size is not None and size != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {size}")


def _batch_size(input: Tensor, dims: tuple[int, ...]) -> int:
    """The entries per channel, more than one in training (a variance of one is 0)."""
    n = math.prod(input.shape[d] for d in dims)
    if n == 1:
        raise ValueError(
            "Expected more than 1 value per channel when training, got input size "
            f"{list(input.shape)}"
        )
    return n


def _update_running(running: Any, batch: Any, momentum: float, scale: float) -> None:
    """``running`` (a running statistic, in place) becomes ``momentum`` of the batch's
    statistic ``batch`` (times ``scale``: n / (n - 1) unbiases a variance) plus ``1 -
    momentum`` of itself, as PyTorch updates it. Nothing is recorded: the statistics are
    buffers, never differentiated."""
    batch = getattr(batch, "_data", batch).reshape(running.shape)
    if scale != 1.0:
        batch = batch * scale
    if isinstance(running, Tensor):
        with no_grad():
            running.copy_(Tensor._make(batch * momentum + running._data * (1.0 - momentum)))
    else:  # (the array of a Tensor compiled code was given: the Tensor's own memory)
        running[...] = batch * momentum + running * (1.0 - momentum)


nondiff("a check of arguments' shapes", _channels, _per_channel, _batch_size)
nondiff("an update of running statistics (buffers, never differentiated)", _update_running)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """(x - mean) / sqrt(var + eps) per channel (dim 1), times ``weight`` plus ``bias``.
    In ``training``, over the batch (the variance biased), and the running statistics
    where given become ``momentum`` of the batch's (the variance unbiased) plus ``1 -
    momentum`` of theirs; otherwise by the running statistics."""
    _tensors("batch_norm", input=input, running_mean=running_mean, running_var=running_var,
             weight=weight, bias=bias)  # fmt: skip
    channels, dims, shape = _channels(input)
    _per_channel(channels, running_mean, running_var, weight, bias)
    dtype = input.dtype
    half = _one_dtype(input, running_mean, running_var, weight, bias)
    if half:
        input = input.float()
    if training:
        n = _batch_size(input, dims)
        mean = input.mean(dims, keepdim=True)
        centred = input - mean
        var = (centred * centred).mean(dims, keepdim=True)
        if running_mean is not None:
            _update_running(running_mean, mean, momentum, 1.0)
        if running_var is not None:
            _update_running(running_var, var, momentum, n / (n - 1))
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        centred = input - running_mean.reshape(shape)
        var = running_var.reshape(shape)
    out = centred / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out.to(dtype) if half else out


def _groups(input: Tensor, num_groups: int, weight: Any, bias: Any) -> tuple[int, ...]:
    """The shape ``(N, num_groups, rest)`` a group norm reduces over the last dim of, the
    channels (dim 1) checked to split into ``num_groups`` groups and ``weight`` and
    ``bias`` to have one entry each, as PyTorch checks them."""
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    channels = input.shape[1]
    if channels % num_groups != 0:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(t.shape)} and input of shape "
                f"{list(input.shape)}"
            )
    return (input.shape[0], num_groups, math.prod(input.shape[1:]) // num_groups)


nondiff("a check of arguments' shapes", _groups)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """(x - mean) / sqrt(var + eps) over each group of ``num_groups`` consecutive channels
    (dim 1) and the dims after them, per sample, the variance biased; then times
    ``weight`` and plus ``bias`` (one per channel) where given."""
    _tensors("group_norm", input=input, weight=weight, bias=bias)
    dtype = input.dtype
    half = _one_dtype(input, weight, bias)
    if half:
        input = input.float()
    grouped = input.reshape(_groups(input, num_groups, weight, bias))
    centred = grouped - grouped.mean(2, keepdim=True)
    var = (centred * centred).mean(2, keepdim=True)
    out = (centred / (var + eps).sqrt()).reshape(tuple(input.shape))
    shape = (input.shape[1],) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out.to(dtype) if half else out


# ---- more activations, similarities, padding and losses ---------------------------


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), without overflow for any x (floats alone, as
    PyTorch's)."""
    _tensors("logsigmoid", input=input)
    if not input.is_floating_point():
        _floats_only(input, "log_sigmoid_cpu")
    return -_softplus(-input)


def _floats_only(input: Any, kernel: str) -> None:
    """PyTorch's error for a kernel of floats given an integer tensor (its array's, in
    compiled code)."""
    rt.tensor_methods.floats_only(getattr(input, "_data", input), kernel)


nondiff("PyTorch's error for integers", _floats_only)


def _hardtanh(input: Tensor, min_val: float, max_val: float) -> Tensor:
    """``input`` clamped to [min_val, max_val], whose gradient passes strictly inside the
    interval only (at a bound it is 0, as PyTorch's hardtanh; clamp's passes there)."""
    if not input.is_floating_point():  # integers stay integers (the bounds truncated)
        return input.clamp(int(min_val), int(max_val))
    return _hardtanh_floats(input, min_val, max_val)


_hardtanh_floats = _recorded(rt.tensor_methods.hardtanh, "HardtanhBackward0")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
             ) -> Tensor:  # fmt: skip
    """x clamped to [min_val, max_val] (gradient 1 strictly inside, 0 elsewhere)."""
    _tensors("hardtanh", input=input)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return written_into(input, _hardtanh, (min_val, max_val))
    return _hardtanh(input, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): hardtanh between 0 and 6."""
    _tensors("relu6", input=input)
    if inplace:
        return written_into(input, _hardtanh, (0.0, 6.0))
    return _hardtanh(input, 0.0, 6.0)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > ``threshold``, else ``value`` (the gradient 0 there)."""
    _tensors("threshold", input=input)
    if inplace:
        return written_into(input, _threshold, (threshold, value))
    return _threshold(input, threshold, value)


_threshold = _recorded(rt.tensor_methods.threshold, "ThresholdBackward0")


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """0 where -lambd <= x <= lambd, else x (floats alone)."""
    _tensors("hardshrink", input=input)
    if not input.is_floating_point():
        _floats_only(input, "hardshrink_cpu")
    return _hardshrink(input, lambd)


_hardshrink = _recorded(rt.tensor_methods.hardshrink, "HardshrinkBackward0")


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x moved ``lambd`` toward 0, and 0 where -lambd <= x <= lambd (floats alone)."""
    _tensors("softshrink", input=input)
    if not input.is_floating_point():
        _floats_only(input, "softshrink_check")
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {float(lambd)}.")
    return _softshrink(input, lambd)


_softshrink = _recorded(rt.tensor_methods.softshrink, "SoftshrinkBackward0")


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x + 3, 0), 6) / 6 (floats alone; the gradient 0 at -3 and 3)."""
    _tensors("hardsigmoid", input=input)
    if not input.is_floating_point():
        _floats_only(input, "hardsigmoid_cpu")
    if inplace:
        return written_into(input, _hardsigmoid)
    return _hardsigmoid(input)


_hardsigmoid = _recorded(rt.tensor_methods.hardsigmoid, "HardsigmoidBackward0")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x min(max(x + 3, 0), 6) / 6 (floats alone; PyTorch's gradient at -3 and 3)."""
    _tensors("hardswish", input=input)
    if not input.is_floating_point():
        _floats_only(input, "hardswish_cpu")
    if inplace:
        return written_into(input, _hardswish)
    return _hardswish(input)


_hardswish = _recorded(rt.tensor_methods.hardswish, "HardswishBackward0")


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale x where x > 0, else scale alpha (exp(x) - 1), with PyTorch's constants."""
    _tensors("selu", input=input)
    if not input.is_floating_point():
        _floats_only(input, "elu_cpu")
    if inplace:
        return written_into(input, _elu, (SELU_ALPHA, SELU_SCALE, 1.0))
    return _elu(input, SELU_ALPHA, SELU_SCALE, 1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha (exp(x / alpha) - 1)."""
    _tensors("celu", input=input)
    if not input.is_floating_point():
        _floats_only(input, "elu_cpu")
    if inplace:
        return written_into(input, _elu, (alpha, 1.0, 1.0 / alpha))
    return _elu(input, alpha, 1.0, 1.0 / alpha)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    _tensors("softsign", input=input)
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    _tensors("tanhshrink", input=input)
    return input - input.tanh()


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x)) (floats alone), softplus without overflow."""
    _tensors("mish", input=input)
    if not input.is_floating_point():
        _floats_only(input, "mish_cpu")
    return written_into(input, _mish_of) if inplace else _mish_of(input)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight x: one weight, or one per channel (dim 1), as
    ``leaky_relu`` with a slope that learns (its gradient x's where x <= 0)."""
    _tensors("prelu", input=input, weight=weight)
    _one_dtype(input, weight, promoting=True)
    count = weight.numel()
    if count == 1:
        return _leaky_relu(input, weight.reshape(()))
    channels = input.shape[1] if input.ndim >= 2 else 1
    if count != channels:
        raise RuntimeError(
            "Mismatch of parameter numbers and input channel size. Found parameter numbers "
            f"= {count} and channel size = {channels}."
        )
    return _leaky_relu(input, weight.reshape((channels,) + (1,) * (input.ndim - 2)))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a sigmoid(b), for a and b the halves of ``input`` along ``dim``."""
    _tensors("glu", input=input)
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {dim % input.ndim} is size {size}"
        )
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
            ) -> Tensor:  # fmt: skip
    """softmax(-x) along ``dim``, in ``dtype`` where given (the input cast first)."""
    _tensors("softmin", input=input)
    dim = _implicit_dim(input, dim, "softmin", _stacklevel)
    return (-_cast(input, dtype)).softmax(dim)


def _indices_one_hot(indices: Any, num_classes: int) -> Any:
    """The int64 array of ``indices`` one-hot over ``num_classes`` classes (-1: one more
    than the largest index), PyTorch's checks first."""
    data = getattr(indices, "_data", indices)
    xp = array_module(data)
    if data.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    if data.size and int(data.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if data.size and int(data.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return (data[..., None] == xp.arange(num_classes)).astype(np.int64)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape ``tensor.shape + (num_classes,)``: 1 at each index of the
    int64 ``tensor``, 0 elsewhere (``num_classes`` -1: one more than the largest index)."""
    _tensors("one_hot", tensor=tensor)
    hot = _indices_one_hot(tensor, num_classes)
    return Tensor._make(hot) if isinstance(tensor, Tensor) else hot


nondiff("an integer result", one_hot, _indices_one_hot)


def _vector_norm(input: Tensor, p: float, dim: int) -> Tensor:
    """The ``p``-norm along ``dim`` (kept), with PyTorch's gradient, 0 where the norm is
    0 (a square root's there is infinite, times 0)."""
    if p == math.inf:
        return input.abs().amax(dim, keepdim=True)
    if p <= 0:
        raise NotImplementedError(f"srcdiff supports p-norms for p > 0, not p={p}")
    powered = input.abs() if p == 1 else (input * input if p == 2 else input.abs() ** p)
    total = powered.sum(dim, keepdim=True)
    if p == 1:
        return total
    nonzero = total > 0
    safe = where(nonzero, total, 1.0)
    return where(nonzero, safe.sqrt() if p == 2 else safe ** (1.0 / p), 0.0)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:  # fmt: skip
    """The ``p``-norm of ``x1 - x2 + eps`` (broadcast) along their last dimension, as
    PyTorch computes it (``eps`` keeps the norm's gradient finite where they are equal)."""
    _tensors("pairwise_distance", x1=x1, x2=x2)
    return (x1 - x2 + eps).norm(p, max(x1.ndim, x2.ndim) - 1, keepdim)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:  # fmt: skip
    """max(0, -target * (input1 - input2) + margin), reduced: ``target`` (1 or -1) says
    which input should rank higher. The gradient passes where the loss is 0 exactly, as
    PyTorch's clamp_min passes it."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("margin_ranking_loss", input1=input1, input2=input2, target=target)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got "
            f"sizes: input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} "
        )
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:  # fmt: skip
    """1 - cos(input1, input2) where ``target`` is 1, max(0, cos - margin) where it is -1
    (0 elsewhere), along the last dimension, reduced; the squared norms get 1e-12 added,
    as in PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("cosine_embedding_loss", input1=input1, input2=input2, target=target)
    dim = target.ndim
    if dim == 1:
        if input1.ndim != 2 or input2.ndim != 2:
            raise RuntimeError(
                "1D target tensor expects 2D input tensors, but found inputs with sizes "
                f"{list(input1.shape)} and {list(input2.shape)}."
            )
    elif dim == 0:
        if input1.ndim != 1 or input2.ndim != 1:
            raise RuntimeError(
                "0D target tensor expects 1D input tensors, but found inputs with sizes "
                f"{list(input1.shape)} and {list(input2.shape)}."
            )
    else:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    prod_sum = (input1 * input2).sum(dim)
    mag_square1 = (input1 * input1).sum(dim) + 1e-12
    mag_square2 = (input2 * input2).sum(dim) + 1e-12
    cos = prod_sum / (mag_square1 * mag_square2).sqrt()
    zeros = cos * 0.0
    pos = 1 - cos
    neg = (cos - margin).clamp(min=0)
    loss = where(target == 1, pos, zeros) + where(target == -1, neg, zeros)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:  # fmt: skip
    """``input`` where ``target`` is 1, max(0, margin - input) where it is -1 (both
    added where it is neither, as PyTorch's formula does), reduced. The gradient passes
    where margin - input is 0 exactly, as PyTorch's clamp_min passes it."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("hinge_embedding_loss", input=input, target=target)
    margin_clamp = (margin - input).clamp(min=0)
    loss = where(target != 1, margin_clamp, 0.0) + where(target != -1, input, 0.0)
    return _reduce(loss, reduction)


def _margin_targets(input: Any, target: Any) -> Any:
    """The class indices ``target`` of ``multi_margin_loss`` as a boolean array shaped
    like ``input`` ((N, C) or (C,)), checked as PyTorch checks them."""
    labels = getattr(target, "_data", target)
    data = getattr(input, "_data", input)
    xp = array_module(data)
    if data.ndim not in (1, 2) or data.size == 0:
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(data.shape)}"
        )
    if labels.dtype.kind not in "iu":
        found = type_name(labels).removesuffix("Tensor")
        raise RuntimeError(f"expected scalar type Long but found {found}")
    samples = 1 if data.ndim == 1 else data.shape[0]
    if labels.ndim > 1 or labels.size != samples or (data.ndim == 2 and labels.ndim != 1):
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{samples}], but got "
            f"{list(labels.shape)}. Input has shape {list(data.shape)}."
        )
    classes = data.shape[-1]
    if xp.any((labels < 0) | (labels >= classes)):
        raise RuntimeError("target out of range")
    return xp.reshape(labels, (-1, 1)[2 - data.ndim :]) == xp.arange(classes)


nondiff("a check of the targets, and a boolean mask of them", _margin_targets)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """The multi-class hinge loss of scores ``input`` (N, C) or (C,) against class
    indices ``target``: for each sample, the sum over the classes i other than its
    target y of weight[y] max(0, margin - input[y] + input[i]) ** p, over C, reduced.
    As PyTorch's kernel, a term exactly 0 passes no gradient."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("multi_margin_loss", input=input, target=target, weight=weight)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    hot = _margin_targets(input, target)
    dim = input.ndim - 1
    z = (margin - input.masked_fill(~hot, 0.0).sum(dim, keepdim=True)) + input
    h = z if p == 1 else z * z
    if weight is not None:
        h = h * weight.masked_fill(~hot, 0.0).sum(dim, keepdim=True)
    loss = where(z > 0, h, 0.0).masked_fill(hot, 0.0).sum(dim) / input.shape[dim]
    if dim == 0 and target.ndim == 1:
        loss = loss.reshape(1)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:  # fmt: skip
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), reduced, ``d`` the
    ``pairwise_distance`` of norm ``p``; with ``swap``, the negative's distance is the
    smaller of its distances to the anchor and to the positive."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _tensors("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and "
            f"negative {negative.ndim}D inputs"
        )
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = minimum(dist_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + dist_pos - dist_neg).clamp(min=0), reduction)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:  # fmt: skip
    """``input`` over its ``p``-norm along ``dim``, the norm at least ``eps`` (below it the
    norm gets no gradient, as PyTorch's clamp_min gives it)."""
    _tensors("normalize", input=input, out=out)
    if out is not None:
        raise TypeError("normalize(out=...) is not supported by srcdiff: assign the result")
    rt.tensor_methods.checked_dim(input.ndim, dim)
    return input / _vector_norm(input, p, dim).clamp(min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between ``x1`` and ``x2`` (broadcast) along ``dim``: each
    over its norm at least ``eps``, their products summed. The gradient through the norms
    is as if unclamped, as PyTorch's (which clamps them in place under no_grad)."""
    _tensors("cosine_similarity", x1=x1, x2=x2)
    rt.tensor_methods.checked_dim(max(x1.ndim, x2.ndim), dim)
    shape = _broadcast_shape(x1.shape, x2.shape)
    if tuple(x1.shape) != shape:
        x1 = x1.expand(shape)
    if tuple(x2.shape) != shape:
        x2 = x2.expand(shape)
    n1, n2 = _vector_norm(x1, 2, dim), _vector_norm(x2, 2, dim)
    n1 = n1 + (n1.clamp(min=eps) - n1).detach()  # (the clamped value, the norm's gradient)
    n2 = n2 + (n2.clamp(min=eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _broadcast_shape(a: Any, b: Any) -> tuple:
    """The shape ``a`` and ``b`` broadcast to, or PyTorch's error."""
    a, b = tuple(a), tuple(b)
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y and 1 not in (x, y):
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i}"
            )
    return tuple(max(x, y) if 1 in (x, y) else x for x, y in zip(a, b, strict=True))


PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_plan(shape: tuple, pad: Any, mode: str) -> list[tuple[int, Any, Any]]:
    """Per padded dim: the dim, the indices of the input each output entry reads along it
    (clipped into range), and where an entry is inside the input (None: everywhere), as
    PyTorch's checks allow."""
    pad = tuple(pad)
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError("pad(): argument 'pad' must be a tuple of ints")
    ndim = len(shape)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pad)} and input of dimension {ndim}"
        )
    if mode not in PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and not (len(pad) // 2 + 1 <= ndim <= len(pad) // 2 + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {ndim}D input tensor."
        )
    plan = []
    for k in range(len(pad) // 2):
        dim = ndim - 1 - k
        left, right, n = pad[2 * k], pad[2 * k + 1], shape[dim]
        size = n + left + right
        if size < 0 or (size == 0 and mode != "constant"):
            raise RuntimeError(
                f"The input size {n}, plus negative padding {left} and {right} resulted in "
                f"a negative output size, which is invalid. Check dimension {dim} of your input."
            )
        at = np.arange(-left, n + right)
        if mode == "reflect":
            if left >= n or right >= n:
                raise RuntimeError(
                    f"Argument #4: Padding size should be less than the corresponding input "
                    f"dimension, but got: padding ({left}, {right}) at dimension {dim} of "
                    f"input {list(shape)}"
                )
            period = 2 * (n - 1) if n > 1 else 1
            at = np.abs((at + period) % period) if n > 1 else np.zeros_like(at)
            at = np.where(at >= n, period - at, at)
        elif mode == "circular":  # (wrapping around what a negative padding keeps)
            if left > n or right > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            lo, kept = max(-left, 0), n - max(-left, 0) - max(-right, 0)
            at = lo + np.arange(-max(left, 0), kept + max(right, 0)) % max(kept, 1)
        inside = None
        if mode == "constant":
            inside = (at >= 0) & (at < n)
            if bool(inside.all()):
                inside = None
        plan.append((dim, np.clip(at, 0, max(n - 1, 0)), inside))
    return plan


nondiff("a plan of indices (integers) and masks", _pad_plan, _broadcast_shape)


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """``input`` padded: ``pad`` gives (left, right) for the last dim, then for the one
    before, ...; a negative one crops. ``mode`` 'constant' fills with ``value`` (0 by
    default), 'reflect' mirrors without the edge, 'replicate' repeats the edge,
    'circular' wraps around."""
    _tensors("pad", input=input)
    if mode != "constant" and value is not None:
        raise NotImplementedError(f'Padding mode "{mode}" doesn\'t take in value argument')
    fill = 0.0 if value is None else value
    out = input
    for dim, at, inside in _pad_plan(tuple(input.shape), pad, mode):
        out = out.index_select(dim, at)
        if inside is not None:
            shape = [1] * out.ndim
            shape[dim] = inside.shape[0]
            out = where(inside.reshape(shape), out, out.new_full((1,) * out.ndim, fill))
    return out


_kl_div_terms = _recorded(rt.tensor_methods.kl_div_terms, "SubBackward0")


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean", log_target: bool = False
           ) -> Tensor:  # fmt: skip
    """The Kullback-Leibler divergence of log-probabilities ``input`` from ``target``
    (probabilities, or log-probabilities where ``log_target``): target (log(target) -
    input), 0 where target is 0; ``reduction='batchmean'`` divides the sum by the batch
    size (``'mean'``, by every entry, is what PyTorch warns of)."""
    _tensors("kl_div", input=input, target=target)
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    elif reduction != "batchmean":
        check_reduction(reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:  # xlogy(t, t) - t x, with PyTorch's gradient (NaN in t where t is 0)
        loss = _kl_div_terms(input, target)
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


# ---- convolution --------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _tupled(value: Any, nd: int, name: str) -> tuple[int, ...]:
    """An int, or a tuple or list of ``nd`` ints, as ``nd`` ints (PyTorch's ``_ntuple``)."""
    if _is_int(value):
        return (int(value),) * nd
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(values) == 1 and _is_int(values[0]):
        return (int(values[0]),) * nd
    if len(values) != nd or not all(_is_int(v) for v in values):
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {nd} values to "
            f"match the convolution dimensions, but got {name}={list(values)}"
        )
    return tuple(int(v) for v in values)


def _conv_padding(padding: Any, kernel: tuple, stride: tuple, dilation: tuple
                  ) -> tuple[int, ...]:  # fmt: skip
    """F.pad's (left, right) pairs, the last spatial dim first, of a convolution's
    ``padding``: ints, or 'valid' (none) or 'same' (the output as long as the input, the
    odd one on the right, as PyTorch pads it; for stride 1 only)."""
    nd = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * (2 * nd)
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pairs = []
        for k, d in zip(kernel, dilation, strict=True):
            total = d * (k - 1)
            pairs.append((total // 2, total - total // 2))
    else:
        pads = _tupled(padding, nd, "padding")
        if any(p < 0 for p in pads):
            raise RuntimeError("negative padding is not supported")
        pairs = [(p, p) for p in pads]
    return tuple(v for pair in reversed(pairs) for v in pair)


def _conv_windows(shape: tuple, weight: Any, bias: Any, stride: tuple, dilation: tuple,
                  groups: int) -> tuple[list[tuple], tuple[int, ...]]:  # fmt: skip
    """The index of the (padded) input's entries each kernel entry meets, one per kernel
    entry in the weight's order, and the output's spatial sizes; the shapes checked as
    PyTorch checks them."""
    nd = len(stride)
    w_shape = tuple(weight.shape)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if len(w_shape) != nd + 2:
        raise RuntimeError(
            f"weight should have at least {nd + 2} dimensions (got {len(w_shape)}): "
            f"conv{nd} takes a weight of shape (out_channels, in_channels / groups, "
            f"{', '.join(['k'] * nd)})"
        )
    if w_shape[0] % groups != 0:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension "
            f"0, but got weight of size {list(w_shape)} instead"
        )
    if shape[1] != w_shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(w_shape)}, expected input"
            f"{list(shape)} to have {w_shape[1] * groups} channels, but got {shape[1]} "
            "channels instead"
        )
    if bias is not None and tuple(bias.shape) != (w_shape[0],):
        raise RuntimeError(
            f"Given weight of size {list(w_shape)}, expected bias to be 1-dimensional with "
            f"{w_shape[0]} elements, but got bias of size {list(bias.shape)} instead"
        )
    spans = [d * (k - 1) + 1 for k, d in zip(w_shape[2:], dilation, strict=True)]
    if any(span > n for span, n in zip(spans, shape[2:], strict=True)):
        sizes = " x ".join(str(n) for n in shape[2:])
        kernel = " x ".join(str(span) for span in spans)
        raise RuntimeError(
            f"Calculated padded input size per channel: ({sizes}). Kernel size: ({kernel}). "
            "Kernel size can't be greater than actual input size"
        )
    out = tuple((n - span) // s + 1 for n, span, s in zip(shape[2:], spans, stride, strict=True))
    windows = []
    for offsets in np.ndindex(*w_shape[2:]):
        index = [slice(None), slice(None)]
        for o, d, s, m in zip(offsets, dilation, stride, out, strict=True):
            index.append(slice(o * d, o * d + s * (m - 1) + 1, s))
        windows.append(tuple(index))
    return windows, out


nondiff("a plan of a convolution's windows (integers)", _is_int, _tupled, _conv_padding,
        _conv_windows)  # fmt: skip


def _same_dtype(input: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's error for a convolution's weight or bias of a dtype not the input's."""
    want = getattr(input, "_data", input)
    for t in (weight, bias):
        got = None if t is None else getattr(t, "_data", t)
        if got is not None and got.dtype != want.dtype:
            raise RuntimeError(
                f"expected scalar type {type_name(want).removesuffix('Tensor')} but found "
                f"{type_name(got).removesuffix('Tensor')}"
            )


nondiff("a check of arguments' dtypes", _same_dtype)


def _conv(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
          dilation: Any, groups: int, nd: int) -> Tensor:  # fmt: skip
    """The ``nd``-dimensional cross-correlation of a batched (N, C, *spatial) or
    unbatched (C, *spatial) input with ``weight`` (out_channels, C / groups, *kernel), as
    PyTorch's conv1d and conv2d: each kernel entry's strided slice of the padded input,
    all of them multiplied by the weight as one matrix per group."""
    _tensors(f"conv{nd}d", input=input, weight=weight, bias=bias)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to conv{nd}d, but "
            f"got input of size: {list(input.shape)}"
        )
    _same_dtype(input, weight, bias)
    stride, dilation = _tupled(stride, nd, "stride"), _tupled(dilation, nd, "dilation")
    kernel = tuple(weight.shape[2:]) if weight.ndim == nd + 2 else (1,) * nd
    pads = _conv_padding(padding, kernel, stride, dilation)
    batched = input.ndim == nd + 2
    x = input if batched else input.unsqueeze(0)
    if any(pads):
        x = pad(x, pads)
    windows, out = _conv_windows(tuple(x.shape), weight, bias, stride, dilation, groups)
    n, channels, out_channels = x.shape[0], x.shape[1], weight.shape[0]
    patches = stack([x[index] for index in windows], 2)
    patches = patches.reshape(n, groups, channels // groups * len(windows), math.prod(out))
    y = weight.reshape(groups, out_channels // groups, -1) @ patches
    y = y.reshape((n, out_channels) + out)
    if bias is not None:
        y = y + bias.reshape((out_channels,) + (1,) * nd)
    return y if batched else y.squeeze(0)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:  # fmt: skip
    """The 1-d cross-correlation of (N, C, L) or (C, L) ``input`` with ``weight`` (out,
    C / groups, k), plus ``bias``; ``padding`` ints, 'valid' or 'same' (zeros)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:  # fmt: skip
    """The 2-d cross-correlation of (N, C, H, W) or (C, H, W) ``input`` with ``weight``
    (out, C / groups, kh, kw), plus ``bias``; ``padding`` ints, 'valid' or 'same'
    (zeros)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


# ---- pooling ------------------------------------------------------------------------


def _pool_plan(kind: str, shape: tuple, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any, ceil_mode: bool, nd: int) -> tuple:  # fmt: skip
    """A pooling's windows over the last ``nd`` dims of an input of ``shape`` (a
    (C, *spatial) or (N, C, *spatial) one): F.pad's pairs (the padding, and on the right
    what a last window of ``ceil_mode`` reaches past it), the index of each kernel entry's
    strided slice, the kernel, stride and padding as ``nd`` ints each, and the output's
    spatial sizes, checked as PyTorch checks them."""
    if len(shape) not in (nd + 1, nd + 2) or 0 in shape[-nd - 1 :]:
        raise RuntimeError(
            f"{kind}{nd}d: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with optional "
            f"0 dim batch size for input, but got: {list(shape)}"
        )
    kernel = _tupled(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None or stride == () or stride == [] else _tupled(
        stride, nd, "stride"
    )  # fmt: skip
    pads, dilation = _tupled(padding, nd, "padding"), _tupled(dilation, nd, "dilation")
    if any(v <= 0 for v in kernel + stride + dilation):
        raise RuntimeError(
            f"{kind}{nd}d: kernel_size, stride and dilation must be greater than zero, but "
            f"got kernel_size={list(kernel)}, stride={list(stride)}, dilation={list(dilation)}"
        )
    if any(p < 0 or p > k // 2 for p, k in zip(pads, kernel, strict=True)):
        raise RuntimeError(
            f"{kind}{nd}d: pad should be at most half of kernel size, but got "
            f"pad={list(pads)} and kernel_size={list(kernel)}"
        )
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    sizes, pairs, windows = [], [], []
    for n, span, s, p in zip(shape[-nd:], spans, stride, pads, strict=True):
        out = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n + p:  # (a last window starting in the padding)
            out -= 1
        if out <= 0:
            raise RuntimeError(
                f"Given input size: ({'x'.join(str(v) for v in shape[-nd - 1 :])}). "
                f"Calculated output size: {out} along a spatial dim. Output size is too small"
            )
        sizes.append(out)
        pairs.append((p, p + max(0, (out - 1) * s + span - (n + 2 * p))))
    for offsets in np.ndindex(*kernel):
        index = [Ellipsis]
        for o, d, s, m in zip(offsets, dilation, stride, sizes, strict=True):
            index.append(slice(o * d, o * d + s * (m - 1) + 1, s))
        windows.append(tuple(index))
    pad_pairs = tuple(v for pair in reversed(pairs) for v in pair)
    return pad_pairs, windows, kernel, stride, pads, tuple(sizes)


def _avg_divisor(input: Any, kernel: tuple, stride: tuple, pads: tuple, sizes: tuple,
                 count_include_pad: bool, divisor_override: Any) -> Any:  # fmt: skip
    """What each window's sum is divided by, shaped as the output's spatial dims (an array
    of ``input``'s dtype and device): the window's entries in the padded input
    (``count_include_pad``) or in the input alone, or ``divisor_override``, as PyTorch's
    avg_pool counts them."""
    data = getattr(input, "_data", input)
    shape = tuple(data.shape)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        return float(divisor_override)
    counts = np.ones((), dtype=np.float64)
    for n, k, s, p, m in zip(shape[-len(kernel) :], kernel, stride, pads, sizes, strict=True):
        start = np.arange(m) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts = np.multiply.outer(counts, (end - start).astype(np.float64))
    return array_module(data).asarray(counts, dtype=data.dtype)


def _lowest(input: Any, kernel: str) -> Any:
    """The value a max pooling pads ``input`` with, below or equal to any of its entries:
    -inf, or an integer dtype's least (-inf cast to int8 or int16 is 0); booleans are
    PyTorch's error (-inf cast to bool is True)."""
    data = getattr(input, "_data", input)
    if data.dtype == np.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    return -math.inf if np.issubdtype(data.dtype, np.inexact) else np.iinfo(data.dtype).min


def _inside(input: Any, nd: int, pads: tuple, windows: list) -> Any:
    """Which entries of each window are the input's own, not its padding: a bool array
    (on ``input``'s device) of shape (windows, *the output's spatial sizes), as the
    patches' last dims."""
    data = getattr(input, "_data", input)
    pairs = list(zip(pads[::2], pads[1::2], strict=True))[::-1]
    inside = np.pad(np.ones(tuple(data.shape[-nd:]), dtype=bool), pairs)
    return array_module(data).asarray(np.stack([inside[index] for index in windows]))


nondiff("a plan of a pooling's windows (integers)", _pool_plan, _avg_divisor, _lowest, _inside)


def _max_pool(input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool, return_indices: bool, nd: int) -> Tensor:  # fmt: skip
    """The largest entry of each window; its gradient goes to that entry: as PyTorch's CPU
    kernel picks it, the first in the window's order among ties, and the last NaN of a
    window holding NaNs (each NaN the kernel meets replaces the one it holds)."""
    _tensors(f"max_pool{nd}d", input=input)
    if return_indices:
        raise NotImplementedError(
            f"max_pool{nd}d with return_indices=True is not supported by srcdiff: take the "
            "values alone"
        )
    pads, windows, *_ = _pool_plan("max_pool", tuple(input.shape), kernel_size, stride,
                                   padding, dilation, ceil_mode, nd)  # fmt: skip
    low = _lowest(input, f"max_pool{nd}d")
    x = pad(input, pads, value=low) if any(pads) else input
    dim = input.ndim - nd
    patches = stack([x[index] for index in windows], dim)
    key = patches.detach()
    if any(pads):  # a tie with the padding goes to the input's entry, as PyTorch's
        top = (key == key.amax(dim, keepdim=True)) | key.isnan()
        key = top & _inside(input, nd, pads, windows)
    picked = key.argmax(dim, keepdim=True)
    nan = patches.detach().isnan()  # (the padding is never NaN)
    if nan.any():
        last = (nan.shape[dim] - 1) - nan.flip(dim).argmax(dim, keepdim=True)
        picked = where(nan.any(dim, keepdim=True), last, picked)
    return patches.gather(dim, picked).squeeze(dim)


def _avg_pool(input: Tensor, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
              count_include_pad: bool, divisor_override: Any, nd: int) -> Tensor:  # fmt: skip
    """The mean of each window (its sum over ``_avg_divisor``), of floats only (PyTorch's
    rounds an integer one)."""
    _tensors(f"avg_pool{nd}d", input=input)
    _floats_only(input, f"avg_pool{nd}d")
    shape = tuple(input.shape)
    pads, windows, kernel, stride, padding, sizes = _pool_plan(
        "avg_pool", shape, kernel_size, stride, padding, 1, ceil_mode, nd
    )
    divisor = _avg_divisor(input, kernel, stride, padding, sizes, count_include_pad,
                           divisor_override)  # fmt: skip
    x = pad(input, pads) if any(pads) else input
    dim = input.ndim - nd
    return stack([x[index] for index in windows], dim).sum(dim) / divisor


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False
               ) -> Tensor:  # fmt: skip
    """The largest entry of each window along the last dim of (N, C, L) or (C, L)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 1)  # fmt: skip


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False
               ) -> Tensor:  # fmt: skip
    """The largest entry of each window over the last two dims of (N, C, H, W) or (C, H,
    W)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 2)  # fmt: skip


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:  # fmt: skip
    """The mean of each window along the last dim of (N, C, L) or (C, L)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     None, 1)  # fmt: skip


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:  # fmt: skip
    """The mean of each window over the last two dims of (N, C, H, W) or (C, H, W)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2)  # fmt: skip


def _adaptive_windows(shape: tuple, output_size: Any, nd: int) -> list[list[tuple]]:
    """Per pooled dim (the last ``nd``), each output entry's (start, end) along it:
    floor(i n / out) to ceil((i + 1) n / out), as PyTorch's; None keeps the input's size."""
    if len(shape) not in (nd + 1, nd + 2) or 0 in shape[-nd - 1 :]:
        raise RuntimeError(
            f"adaptive_avg_pool{nd}d(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
            f"{list(shape)}"
        )
    sizes = (output_size,) * nd if _is_int(output_size) or output_size is None else tuple(
        output_size
    )  # fmt: skip
    if len(sizes) != nd:
        raise RuntimeError(f"adaptive_avg_pool{nd}d: output_size must be {nd}")
    plan = []
    for n, m in zip(shape[-nd:], sizes, strict=True):
        m = n if m is None else m
        if not _is_int(m) or m < 0:
            raise RuntimeError(f"adaptive_avg_pool{nd}d: elements of output_size must be "
                               f"non-negative integers, but got {list(sizes)}")  # fmt: skip
        plan.append([(i * n // m, -(-(i + 1) * n // m)) for i in range(m)])
    return plan


nondiff("a plan of a pooling's windows (integers)", _adaptive_windows)


def _adaptive_avg_pool(input: Tensor, output_size: Any, nd: int) -> Tensor:
    """The mean of each of the output's windows, one pooled dim at a time (a window's mean
    is the mean along each of its dims in turn)."""
    _tensors(f"adaptive_avg_pool{nd}d", input=input)
    _floats_only(input, f"adaptive_avg_pool{nd}d")
    out = input
    for k, bounds in enumerate(_adaptive_windows(tuple(input.shape), output_size, nd)):
        dim = input.ndim - nd + k
        if not bounds:  # an output size of 0: an empty result, as PyTorch's
            out = out.narrow(dim, 0, 0)
            continue
        out = stack([out.narrow(dim, a, b - a).mean(dim) for a, b in bounds], dim)
    return out


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """The means of ``output_size`` windows spread over the last dim of (N, C, L) or (C,
    L)."""
    return _adaptive_avg_pool(input, output_size, 1)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """The means of ``output_size`` (an int, or a pair, None keeping a size) windows spread
    over the last two dims of (N, C, H, W) or (C, H, W)."""
    return _adaptive_avg_pool(input, output_size, 2)


# the functions taking Tensors alone (a parameter a Tensor; each checks its arguments with
# ``_tensors``): given an array carrying a gradient in code compiled on arrays, refused at
# the user's line (``rt.calls``)
for _name, _fn in list(globals().items()):
    if _name[0] != "_" and getattr(_fn, "__module__", None) == __name__ and _fn is not written_into:
        _params = getattr(_fn, "__annotations__", {})
        if any("Tensor" in str(a) for k, a in _params.items() if k != "return"):
            _fn._srcdiff_takes_tensors = True  # type: ignore[attr-defined]
del _name, _fn, _params
