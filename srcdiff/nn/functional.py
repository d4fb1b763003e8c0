"""Activations, losses and layers as functions of tensors, as ``torch.nn.functional``.

Each is a few tensor operations, so its gradient comes from the rules of those; where the
textbook formula overflows or loses precision, a stable equivalent is used instead.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..backend import array_module
from ..creation import bernoulli, full
from ..rules.registry import nondiff
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")
# exp(-100): BCE clamps each log term at -100, as PyTorch does, so a probability of
# exactly 0 or 1 gives a finite loss and gradient.
LOG_FLOOR = -100.0
TINY = math.exp(LOG_FLOOR)


def check_reduction(reduction: str) -> str:
    """``reduction`` if it is one of 'mean', 'sum', 'none'; else a ValueError."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


nondiff("a check of an argument, returning it", check_reduction)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if check_reduction(reduction) == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


# ---- activations --------------------------------------------------------------------


def relu(input: Tensor) -> Tensor:
    return input.relu()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def softplus(input: Tensor) -> Tensor:
    """log(1 + exp(x)), as logaddexp(0, x): it equals max(x, 0) + log1p(exp(-|x|)) and never
    overflows, and its gradient is sigmoid(x) also at 0, where the two terms of that form
    have kinks whose one-sided gradients would not add up to 0.5."""
    return np.logaddexp(0.0, input)


def softmax(input: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (shifted by the maximum: no overflow)."""
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """x - log(sum(exp(x))) along ``dim`` (shifted by the maximum: no overflow)."""
    return input.log_softmax(dim)


# ---- layers -------------------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias."""
    out = input @ weight.T
    return out if bias is None else out + bias


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), when
    ``training``; the identity otherwise. The mask comes from ``sd.manual_seed``'s
    generator."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    # PyTorch's mask, from its draws: bernoulli_(1 - p)
    keep = bernoulli(full(input.shape, 1.0 - p, dtype=input.dtype, device=input.device))
    return input * (keep._data / (1.0 - p))


# ---- losses -------------------------------------------------------------------------


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """(input - target) ** 2, reduced; differentiable in both arguments."""
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input "
            f"size ({input.shape}). This will likely lead to incorrect results due "
            "to broadcasting. Please ensure they have the same size.",
            stacklevel=2,
        )
    squared = (input - target) ** 2
    if reduction == "mean":  # the usual case, without the call (compiled code pays for it)
        return squared.mean()
    return _reduce(squared, reduction)


def _class_dim(input: Tensor) -> int:
    return 0 if input.ndim == 1 else 1


def cross_entropy(
    input: Tensor, target: Tensor, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Softmax cross entropy of logits ``input`` (N, C) or (C,), as PyTorch's.

    ``target`` holds class indices (N,), whose loss is -log_softmax(input)[n, target[n]]
    (entries equal to ``ignore_index`` count for nothing, also in the mean), or class
    probabilities shaped like ``input``, whose loss is -sum(target * log_softmax(input)).
    """
    dim = _class_dim(input)
    log_p = log_softmax(input, dim)
    if target.is_floating_point():
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"Expected target of class probabilities to have the shape of "
                f"the input {tuple(input.shape)}, got {tuple(target.shape)}"
            )
        return _reduce(-(target * log_p).sum(dim), reduction)
    return _reduce_picked(log_p, target, ignore_index, reduction)


def _reduce_picked(log_p: Tensor, target: Tensor, ignore_index: int, reduction: str) -> Tensor:
    """-log_p at each target class (one-hot product, so any number of extra dims works)."""
    dim = _class_dim(log_p)
    classes = log_p.shape[dim]
    labels = target._data
    expected = tuple(log_p.shape[:dim] + log_p.shape[dim + 1 :])
    if tuple(labels.shape) != expected:
        raise ValueError(
            f"Expected target of shape {expected} for input of shape "
            f"{tuple(log_p.shape)}, got {tuple(labels.shape)}"
        )
    xp = array_module(log_p._data)
    kept = labels != ignore_index
    bad = labels[kept & ((labels < 0) | (labels >= classes))]
    if bad.size:
        raise IndexError(f"Target {int(bad[0])} is out of bounds.")
    shape = [1] * log_p.ndim
    shape[dim] = classes
    one_hot = xp.expand_dims(labels, dim) == xp.arange(classes).reshape(shape)
    loss = -(log_p * one_hot.astype(log_p._data.dtype)).sum(dim)
    if reduction == "mean":
        return loss.sum() / float(kept.sum())
    return _reduce(loss, reduction)


def nll_loss(
    input: Tensor, target: Tensor, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """-input[n, target[n]], reduced: cross entropy for inputs that are log-probabilities."""
    return _reduce_picked(input, target, ignore_index, reduction)


def _log_clamped(p: Tensor) -> Tensor:
    """max(log(p), -100), with a finite gradient where p is 0 (zero there)."""
    low = p._data <= TINY
    return p.masked_fill(low, 1.0).log().masked_fill(low, LOG_FLOOR)


def binary_cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """-(y log(p) + (1 - y) log(1 - p)) for probabilities ``input`` in [0, 1], each log
    clamped at -100 as in PyTorch; differentiable in both arguments."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input "
            f"size ({input.shape}) is deprecated. Please ensure they have the "
            "same size."
        )
    data = input._data
    if bool(((data < 0) | (data > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = -(target * _log_clamped(input) + (1.0 - target) * _log_clamped(1.0 - input))
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor, target: Tensor, reduction: str = "mean"
) -> Tensor:
    """Binary cross entropy of sigmoid(input), as softplus(x) - x * y
    (= max(x, 0) - x * y + log1p(exp(-|x|))): stable for any logit."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    return _reduce(softplus(input) - input * target, reduction)
