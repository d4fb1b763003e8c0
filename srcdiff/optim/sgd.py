"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused, runtime
from ..tensor import Tensor
from .optimizer import Optimizer, Params

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, with PyTorch's formulas. For each parameter p with
    gradient g, at step t:

        g = -g                                            (if maximize)
        g = g + weight_decay * p                          (if weight_decay)
        b = g  (t = 1),   b = momentum * b + (1 - dampening) * g  (t > 1)   (if momentum)
        g = g + momentum * b  (nesterov),   g = b  (otherwise)               (if momentum)
        p = p - lr * g

    Usage: ``optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()``.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "momentum", "weight_decay")

    def check_group(self, group: dict[str, Any]) -> None:
        super().check_group(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def update_group(self, group: dict[str, Any]) -> None:
        momentum = group["momentum"]
        if not momentum and not group["weight_decay"] and not group["maximize"]:  # sgd's
            alpha = -group["lr"]  # last line alone, p = p - lr * g, without the lists
            for p in group["params"]:  # (a training step's microseconds)
                grad = p._grad
                if grad is not None:
                    data = p._data
                    fused.fma(grad._data, alpha, data, out=data)  # (fused.add's, at once)
            return
        params = [p for p in group["params"] if p.grad is not None]
        if momentum:
            buffers = [self.state[p].get("momentum_buffer") for p in params]
            arrays = [None if b is None else b._data for b in buffers]
        else:
            arrays = [None] * len(params)  # plain SGD keeps no state
        sgd(
            [p._data for p in params],
            [p.grad._data for p in params],
            arrays,
            lr=group["lr"],
            momentum=momentum,
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        if momentum:
            for p, buffer, array in zip(params, buffers, arrays, strict=True):
                if buffer is None:
                    self.state[p]["momentum_buffer"] = Tensor._make(array)


def sgd(
    params: Sequence[Any],
    grads: Sequence[Any],
    momentum_buffers: list[Any | None],
    *,
    lr: float,
    momentum: float = 0,
    dampening: float = 0,
    weight_decay: float = 0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    """One SGD step on arrays, in place. ``momentum_buffers[i]`` is None before the first
    step with momentum; it is then set to a new buffer. Each line is one operation of
    PyTorch's ``_single_tensor_sgd``, rounded as its kernel rounds it (``srcdiff.fused``)."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        d_p = -grad if maximize else grad
        if weight_decay != 0:
            d_p = fused.add(d_p, param, weight_decay)
        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = momentum_buffers[i] = d_p.copy()
            else:
                buf *= momentum
                buf[...] = fused.add(buf, d_p, 1 - dampening)
            d_p = fused.add(d_p, buf, momentum) if nesterov else buf
        fused.add(param, d_p, -lr, out=param)


# what a compiled step's ``optimizer.step()`` inlined checks it still runs (rt.sgd_arrays)
runtime.install(sgd=(SGD, SGD.step, SGD.update_group))
