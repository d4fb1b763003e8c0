"""RMSprop, with momentum, the centered variant, weight decay and maximize."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused
from ..backend import array_module
from .optimizer import Optimizer, Params

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    r"""RMSprop, with PyTorch's formulas. For each parameter p with gradient g, at step t:

    g = -g                                        (if maximize)
    g = g + weight_decay * p                      (if weight_decay)
    v = alpha * v + (1 - alpha) * g * g           (v0 = 0)
    a = alpha * a + (1 - alpha) * g,  v~ = v - a * a   (centered; a0 = 0; else v~ = v)
    b = momentum * b + g / (sqrt(v~) + eps),  p = p - lr * b     (if momentum; b0 = 0)
    p = p - lr * g / (sqrt(v~) + eps)                            (otherwise)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "eps", "momentum", "weight_decay", "alpha")

    def update_group(self, group: dict[str, Any]) -> None:
        momentum, centered = group["momentum"], group["centered"]
        buffers = ("square_avg",) + (("momentum_buffer",) if momentum > 0 else ())
        for p, state in self.stepped(group, *buffers + (("grad_avg",) if centered else ())):
            rmsprop(
                [p._data],
                [p.grad._data],
                [state["square_avg"]._data],
                [state["grad_avg"]._data] if centered else [],
                [state["momentum_buffer"]._data] if momentum > 0 else [],
                lr=group["lr"],
                alpha=group["alpha"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                momentum=momentum,
                centered=centered,
                maximize=group["maximize"],
            )


def rmsprop(
    params: Sequence[Any],
    grads: Sequence[Any],
    square_avgs: Sequence[Any],
    grad_avgs: Sequence[Any],
    momentum_buffers: Sequence[Any],
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    """One RMSprop step on arrays, in place (``grad_avgs`` used if centered,
    ``momentum_buffers`` if momentum > 0). Each line is one operation of PyTorch's
    ``_single_tensor_rmsprop``, rounded as its kernel rounds it (``srcdiff.fused``)."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        xp = array_module(param)
        if maximize:
            grad = -grad
        if weight_decay != 0:
            grad = fused.add(grad, param, weight_decay)
        square_avg = square_avgs[i]
        square_avg *= alpha
        square_avg[...] = fused.addcmul(square_avg, grad, grad, 1 - alpha)
        if centered:
            grad_avg = grad_avgs[i]
            grad_avg[...] = fused.lerp(grad_avg, grad, 1 - alpha)
            avg = xp.sqrt(fused.addcmul(square_avg, grad_avg, grad_avg, -1))
        else:
            avg = xp.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf = momentum_buffers[i]
            buf *= momentum
            buf[...] = fused.addcdiv(buf, grad, avg)
            fused.add(param, buf, -lr, out=param)
        else:
            param[...] = fused.addcdiv(param, grad, avg, -lr)
