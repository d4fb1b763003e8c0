"""RAdam: Adam whose adaptive step is rectified, so that its variance is bounded while
the second moment holds few gradients (plain momentum SGD until then)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused
from ..backend import array_module
from .adam import adam_moments
from .optimizer import Optimizer, Params

__all__ = ["RAdam", "radam"]


class RAdam(Optimizer):
    r"""RAdam, with PyTorch's formulas. For each parameter p with gradient g, at step t:

    g = -g                                        (if maximize)
    g = g + weight_decay * p                      (if weight_decay, not decoupled)
    p = p * (1 - lr * weight_decay)               (decoupled_weight_decay: g does not see it)
    m = m + (1 - beta1) * (g - m),  v = beta2 * v + (1 - beta2) * g * g     (m0 = v0 = 0)
    rho_inf = 2 / (1 - beta2) - 1,  rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
    r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    p = p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r  (rho_t > 5)
    p = p - lr * m / (1 - beta1**t)                                               (otherwise)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "eps", "weight_decay")

    def update_group(self, group: dict[str, Any]) -> None:
        for p, state in self.stepped(group, "exp_avg", "exp_avg_sq"):
            radam(
                [p._data],
                [self.gradient(p, group)],
                [state["exp_avg"]._data],
                [state["exp_avg_sq"]._data],
                [state["step"]],
                beta1=group["betas"][0],
                beta2=group["betas"][1],
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
            )


def radam(
    params: Sequence[Any],
    grads: Sequence[Any],
    exp_avgs: Sequence[Any],
    exp_avg_sqs: Sequence[Any],
    steps: Sequence[int],
    *,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    eps: float,
    decoupled_weight_decay: bool,
) -> None:
    """One RAdam step on arrays, in place. Each line is one operation of PyTorch's
    ``_single_tensor_radam``, rounded as its kernel rounds it."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        xp = array_module(param)
        step = steps[i]
        if weight_decay != 0:
            if decoupled_weight_decay:
                param *= 1 - lr * weight_decay
            else:
                grad = fused.add(grad, param, weight_decay)
        adam_moments(grad, exp_avgs[i], exp_avg_sqs[i], beta1, beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        bias_corrected_exp_avg = exp_avgs[i] / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            exp_avg_sq_sqrt = xp.sqrt(exp_avg_sqs[i])
            exp_avg_sq_sqrt += eps
            # (PyTorch's number / tensor: the reciprocal, times the number)
            adaptive_lr = (1 / exp_avg_sq_sqrt) * bias_correction2**0.5
            update = bias_corrected_exp_avg * lr * adaptive_lr * rect
        else:
            update = bias_corrected_exp_avg * lr
        fused.add(param, update, -1.0, out=param)
