"""AdamW: Adam with decoupled weight decay, which shrinks the parameters themselves
rather than adding to their gradients (Loshchilov and Hutter)."""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..tensor import Tensor
from .adam import adam
from .optimizer import Optimizer, Params

__all__ = ["AdamW"]


class AdamW(Optimizer):
    r"""AdamW, with PyTorch's formulas. For each parameter p with gradient g, at step t:

    g = -g                                        (if maximize)
    p = p * (1 - lr * weight_decay)               (decoupled: g does not see the decay)
    m = m + (1 - beta1) * (g - m)                 (m0 = 0)
    v = beta2 * v + (1 - beta2) * g * g           (v0 = 0)
    v_max = max(v_max, v)                         (amsgrad; then v_max replaces v below)
    p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "eps", "weight_decay")

    def update_group(self, group: dict[str, Any]) -> None:
        params = [p for p in group["params"] if p.grad is not None]
        states = []
        for p in params:
            state = self.state[p]
            zeros = array_module(p._data).zeros_like
            if not state:
                state["step"] = 0
                state["exp_avg"] = Tensor._make(zeros(p._data))
                state["exp_avg_sq"] = Tensor._make(zeros(p._data))
            if group["amsgrad"] and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = Tensor._make(zeros(p._data))
            state["step"] += 1
            states.append(state)
        lr, weight_decay = group["lr"], group["weight_decay"]
        if weight_decay != 0:
            for p in params:
                p._data *= 1 - lr * weight_decay
        beta1, beta2 = group["betas"]
        adam(
            [p._data for p in params],
            [-p.grad._data if group["maximize"] else p.grad._data for p in params],
            [s["exp_avg"]._data for s in states],
            [s["exp_avg_sq"]._data for s in states],
            [s["max_exp_avg_sq"]._data for s in states] if group["amsgrad"] else [],
            [s["step"] for s in states],
            amsgrad=group["amsgrad"],
            beta1=beta1,
            beta2=beta2,
            lr=lr,
            weight_decay=0,  # applied above, to the parameters
            eps=group["eps"],
        )
