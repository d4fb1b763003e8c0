"""Adamax: Adam with the infinity norm (a decaying maximum of |g|) as second moment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused
from ..backend import array_module
from .optimizer import Optimizer, Params

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    r"""Adamax, with PyTorch's formulas. For each parameter p with gradient g, at step t:

    g = -g                                        (if maximize)
    g = g + weight_decay * p                      (if weight_decay)
    m = m + (1 - beta1) * (g - m)                 (m0 = 0)
    u = max(beta2 * u, |g| + eps)                 (u0 = 0)
    p = p - lr / (1 - beta1**t) * m / u
    """

    def __init__(
        self,
        params: Params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "eps", "weight_decay")

    def update_group(self, group: dict[str, Any]) -> None:
        for p, state in self.stepped(group, "exp_avg", "exp_inf"):
            adamax(
                [p._data],
                [self.gradient(p, group)],
                [state["exp_avg"]._data],
                [state["exp_inf"]._data],
                [state["step"]],
                beta1=group["betas"][0],
                beta2=group["betas"][1],
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
            )


def adamax(
    params: Sequence[Any],
    grads: Sequence[Any],
    exp_avgs: Sequence[Any],
    exp_infs: Sequence[Any],
    steps: Sequence[int],
    *,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    eps: float,
) -> None:
    """One Adamax step on arrays, in place. Each line is one operation of PyTorch's
    ``_single_tensor_adamax``, rounded as its kernel rounds it."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        xp = array_module(param)
        if weight_decay != 0:
            grad = fused.add(grad, param, weight_decay)
        exp_avg, exp_inf = exp_avgs[i], exp_infs[i]
        exp_avg[...] = fused.lerp(exp_avg, grad, 1 - beta1)
        exp_inf *= beta2
        norm = xp.abs(grad)
        norm += eps
        xp.maximum(exp_inf, norm, out=exp_inf)
        clr = lr / (1 - beta1 ** steps[i])
        param[...] = fused.addcdiv(param, exp_avg, exp_inf, -clr)
