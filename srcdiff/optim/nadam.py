"""NAdam: Adam with Nesterov momentum, its momentum warmed up by ``momentum_decay``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused
from ..backend import array_module
from ..tensor import Tensor
from .adam import adam_moments
from .optimizer import Optimizer, Params

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    r"""NAdam, with PyTorch's formulas. For each parameter p with gradient g, at step t:

    g = -g                                        (if maximize)
    g = g + weight_decay * p                      (if weight_decay, not decoupled)
    p = p * (1 - lr * weight_decay)               (decoupled_weight_decay: g does not see it)
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)),  M_t = mu_1 ... mu_t
    m = m + (1 - beta1) * (g - m),  v = beta2 * v + (1 - beta2) * g * g     (m0 = v0 = 0)
    d = sqrt(v / (1 - beta2**t)) + eps
    p = p - lr (1 - mu_t) / (1 - M_t) * g / d - lr mu_{t+1} / (1 - M_t mu_{t+1}) * m / d

    ``M_t`` is kept in the state as ``mu_product``, a float32 number as PyTorch keeps it
    (a state loaded into a parameter takes its dtype, as in PyTorch).
    """

    def __init__(
        self,
        params: Params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "eps", "weight_decay", "momentum_decay")

    def update_group(self, group: dict[str, Any]) -> None:
        for p, state in self.stepped(group, "exp_avg", "exp_avg_sq"):
            if "mu_product" not in state:
                state["mu_product"] = Tensor._make(array_module(p._data).ones((), "float32"))
            nadam(
                [p._data],
                [self.gradient(p, group)],
                [state["exp_avg"]._data],
                [state["exp_avg_sq"]._data],
                [state["mu_product"]._data],
                [state["step"]],
                beta1=group["betas"][0],
                beta2=group["betas"][1],
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                momentum_decay=group["momentum_decay"],
                eps=group["eps"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
            )


def nadam(
    params: Sequence[Any],
    grads: Sequence[Any],
    exp_avgs: Sequence[Any],
    exp_avg_sqs: Sequence[Any],
    mu_products: Sequence[Any],
    steps: Sequence[int],
    *,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    momentum_decay: float,
    eps: float,
    decoupled_weight_decay: bool,
) -> None:
    """One NAdam step on arrays, in place (``mu_products[i]`` a 0-d array). Each line is
    one operation of PyTorch's ``_single_tensor_nadam``, rounded as its kernel rounds it."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        xp = array_module(param)
        step = steps[i]
        bias_correction2 = 1 - beta2**step
        if weight_decay != 0:
            if decoupled_weight_decay:
                param *= 1 - lr * weight_decay
            else:
                grad = fused.add(grad, param, weight_decay)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_products[i] *= mu  # (in the product's dtype, as PyTorch's tensor computes it)
        mu_product = float(mu_products[i])
        adam_moments(grad, exp_avgs[i], exp_avg_sqs[i], beta1, beta2)
        denom = xp.sqrt(exp_avg_sqs[i] / bias_correction2)
        denom += eps
        mu_product_next = mu_product * mu_next
        param[...] = fused.addcdiv(param, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_product))
        param[...] = fused.addcdiv(
            param, exp_avgs[i], denom, (-lr * mu_next) / (1.0 - mu_product_next)
        )
