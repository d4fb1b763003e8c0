"""Gradient clipping, as ``torch.nn.utils``: rescale or clamp the ``.grad`` of parameters
in place, between ``backward()`` and ``optimizer.step()``, to keep a step from exploding.

Gradients are changed on their own device, through the array module of their data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..backend import array_module
from ..creation import tensor
from ..functions import cat
from ..rules.registry import nondiff
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]

NONFINITE = (
    "The total norm of order {} for gradients from `parameters` is non-finite, so it "
    "cannot be clipped. To disable this error and scale the gradients by the non-finite "
    "norm anyway, set `error_if_nonfinite=False`"
)


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(x: Any, ord: float) -> Any:
    """``torch.linalg.vector_norm(x, ord)`` of the array ``x``, as a 0-d array of its
    module: the max of |x| for inf, the min for -inf, the count of nonzeros for 0."""
    xp = array_module(x)
    if ord == math.inf:
        return xp.max(xp.abs(x))
    if ord == -math.inf:
        return xp.min(xp.abs(x))
    if ord == 0:
        return xp.sum(x != 0).astype(x.dtype)
    if ord == 1:
        return xp.sum(xp.abs(x))
    if ord == 2:
        return xp.sqrt(xp.sum(x * x))
    return xp.sum(xp.abs(x) ** ord) ** (1.0 / ord)


def _changed(g: Tensor) -> None:
    g._changed()  # changed in place: graphs that hold it must see it


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale the gradients of ``parameters`` (one Tensor or several; those without a grad
    are skipped) by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
    ``norm_type`` norm of all of them together (the norm of their norms); returns
    total_norm, as a 0-d Tensor, from before the scaling. ``norm_type`` may be ``inf``.
    With ``error_if_nonfinite``, a nan or infinite total norm raises RuntimeError.
    ``foreach`` (PyTorch's choice of kernel) is taken and changes nothing."""
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return tensor(0.0)
    xp = array_module(grads[0]._data)
    norms = [_vector_norm(g._data, norm_type) for g in grads]
    total_norm = xp.asarray(_vector_norm(xp.stack(norms), norm_type))
    if error_if_nonfinite and not bool(xp.isfinite(total_norm)):
        raise RuntimeError(NONFINITE.format(norm_type))
    clip_coef = xp.minimum(max_norm / (total_norm + 1e-6), 1.0)
    for g in grads:
        array = g._data
        array *= clip_coef.astype(array.dtype)
        _changed(g)
    return Tensor._make(total_norm)


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp the gradients of ``parameters`` (one Tensor or several; those without a grad
    are skipped) to [-clip_value, clip_value], in place (``foreach``, PyTorch's choice of
    kernel, changes nothing)."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        array = g._data
        array_module(array).clip(array, -clip_value, clip_value, out=array)
        _changed(g)


def _same_device(param: Tensor, device: str | None) -> str:
    """``param``'s device, which must be ``device`` where one is given (PyTorch's error)."""
    if device is not None and param.device != device:
        raise TypeError(
            "Found two parameters on different devices, this is currently not supported."
        )
    return param.device


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and joined into one vector, in their order; it carries
    their gradient, as PyTorch's (``torch.cat`` of their views)."""
    device = None
    vec = []
    for param in parameters:
        device = _same_device(param, device)
        vec.append(param.view(-1))
    return cat(vec)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Set the ``.data`` of each parameter, in order, to the next slice of ``vec`` shaped
    like it: views of ``vec``'s memory, as PyTorch's (recording nothing)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device = None
    pointer = 0
    for param in parameters:
        device = _same_device(param, device)
        num_param = param.numel()
        param.data = vec[pointer : pointer + num_param].view_as(param).data
        pointer += num_param


# run as written where compiled code calls them: they change gradients, computing none
nondiff(
    "changes the gradients of parameters in place; its result (a norm) carries no gradient",
    clip_grad_norm_,
    clip_grad_value_,
)
nondiff("sets the .data of parameters, recording nothing", vector_to_parameters)
