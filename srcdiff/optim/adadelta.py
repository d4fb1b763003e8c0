"""Adadelta: steps scaled by the ratio of running averages of past steps and gradients,
so that no learning rate needs tuning (lr only scales the result)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused
from ..backend import array_module
from .optimizer import Optimizer, Params

__all__ = ["Adadelta", "adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta, with PyTorch's formulas. For each parameter p with gradient g:

    g = -g                                        (if maximize)
    g = g + weight_decay * p                      (if weight_decay)
    v = rho * v + (1 - rho) * g * g               (v0 = 0)
    d = sqrt(u + eps) / sqrt(v + eps) * g         (u0 = 0)
    u = rho * u + (1 - rho) * d * d
    p = p - lr * d
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "eps", "weight_decay")

    def check_group(self, group: dict[str, Any]) -> None:
        if group["lr"] < 0.0:  # PyTorch checks rho second
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")
        super().check_group(group)

    def update_group(self, group: dict[str, Any]) -> None:
        for p, state in self.stepped(group, "square_avg", "acc_delta"):
            adadelta(
                [p._data],
                [self.gradient(p, group)],
                [state["square_avg"]._data],
                [state["acc_delta"]._data],
                lr=group["lr"],
                rho=group["rho"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
            )


def adadelta(
    params: Sequence[Any],
    grads: Sequence[Any],
    square_avgs: Sequence[Any],
    acc_deltas: Sequence[Any],
    *,
    lr: float,
    rho: float,
    eps: float,
    weight_decay: float,
) -> None:
    """One Adadelta step on arrays, in place. Each line is one operation of PyTorch's
    ``_single_tensor_adadelta``, rounded as its kernel rounds it."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        xp = array_module(param)
        if weight_decay != 0:
            grad = fused.add(grad, param, weight_decay)
        square_avg, acc_delta = square_avgs[i], acc_deltas[i]
        square_avg *= rho
        square_avg[...] = fused.addcmul(square_avg, grad, grad, 1 - rho)
        std = xp.sqrt(square_avg + eps)
        delta = xp.sqrt(acc_delta + eps)
        delta /= std
        delta *= grad
        acc_delta *= rho
        acc_delta[...] = fused.addcmul(acc_delta, delta, delta, 1 - rho)
        fused.add(param, delta, -lr, out=param)
