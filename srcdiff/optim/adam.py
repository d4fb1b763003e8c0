"""Adam, with bias correction, weight decay and the AMSGrad variant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused
from ..backend import array_module
from .optimizer import Optimizer, Params

__all__ = ["Adam", "adam", "adam_moments"]


class Adam(Optimizer):
    r"""Adam, with PyTorch's formulas. For each parameter p with gradient g, at step t:

    g = -g                                       (if maximize)
    g = g + weight_decay * p                     (if weight_decay, not decoupled)
    p = p * (1 - lr * weight_decay)              (decoupled_weight_decay: AdamW's, which g
                                                  does not see)
    m = m + (1 - beta1) * (g - m)                (the lerp of PyTorch; m0 = 0)
    v = beta2 * v + (1 - beta2) * g * g          (v0 = 0)
    v_max = max(v_max, v)                        (amsgrad; then v_max replaces v below)
    p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "eps", "weight_decay")

    def update_group(self, group: dict[str, Any]) -> None:
        lr, weight_decay = group["lr"], group["weight_decay"]
        decoupled = group["decoupled_weight_decay"]
        beta1, beta2 = group["betas"]
        buffers = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())
        for p, state in self.stepped(group, *buffers):
            if decoupled and weight_decay != 0:
                p._data *= 1 - lr * weight_decay
            adam(
                [p._data],
                [self.gradient(p, group)],
                [state["exp_avg"]._data],
                [state["exp_avg_sq"]._data],
                [state["max_exp_avg_sq"]._data] if group["amsgrad"] else [],
                [state["step"]],
                amsgrad=group["amsgrad"],
                beta1=beta1,
                beta2=beta2,
                lr=lr,
                weight_decay=0 if decoupled else weight_decay,  # (decoupled: applied above)
                eps=group["eps"],
            )


def adam(
    params: Sequence[Any],
    grads: Sequence[Any],
    exp_avgs: Sequence[Any],
    exp_avg_sqs: Sequence[Any],
    max_exp_avg_sqs: Sequence[Any],
    steps: Sequence[int],
    *,
    amsgrad: bool,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    eps: float,
) -> None:
    """One Adam step on arrays, in place; ``steps[i]`` counts this step (1 on the first).
    Each line is one operation of PyTorch's ``_single_tensor_adam``, rounded as its kernel
    rounds it (``srcdiff.fused``)."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        xp = array_module(param)
        if weight_decay != 0:
            grad = fused.add(grad, param, weight_decay)
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        adam_moments(grad, exp_avg, exp_avg_sq, beta1, beta2)
        step_size = lr / (1 - beta1 ** steps[i])
        bias_correction2_sqrt = (1 - beta2 ** steps[i]) ** 0.5
        if amsgrad:
            xp.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            second = max_exp_avg_sqs[i]
        else:
            second = exp_avg_sq
        denom = xp.sqrt(second) / bias_correction2_sqrt + eps
        param[...] = fused.addcdiv(param, exp_avg, denom, -step_size)


def adam_moments(grad: Any, exp_avg: Any, exp_avg_sq: Any, beta1: float, beta2: float) -> None:
    """Adam's moving averages of the gradient and of its square, updated in place (shared
    by Adam, NAdam and RAdam): ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 v + (1 - beta2) g g``,
    rounded as PyTorch's kernels round them."""
    exp_avg[...] = fused.lerp(exp_avg, grad, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq[...] = fused.addcmul(exp_avg_sq, grad, grad, 1 - beta2)
