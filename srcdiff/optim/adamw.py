"""AdamW: Adam with decoupled weight decay, which shrinks the parameters themselves
rather than adding to their gradients (Loshchilov and Hutter)."""

from __future__ import annotations

from .adam import Adam
from .optimizer import Params

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW, with PyTorch's formulas: ``Adam`` with ``decoupled_weight_decay=True``
    (and a weight decay of 0.01 unless given). For each parameter p with gradient g, at
    step t:

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
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
