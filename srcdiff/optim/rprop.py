"""Rprop: resilient backpropagation, a step size per coordinate that grows while its
gradient keeps its sign and shrinks when the sign flips (the gradient's size unused)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused
from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, Params

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    r"""Rprop, with PyTorch's formulas. For each parameter p with gradient g, the previous
    one g' (0 at first) and the step sizes s (lr at first), per coordinate:

    g = -g                                        (if maximize)
    s = clamp(s * eta+, *step_sizes)   where g g' > 0
    s = clamp(s * eta-, *step_sizes),  g = 0   where g g' < 0
    p = p - sign(g) * s,   g' = g
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            etas=tuple(etas),
            step_sizes=tuple(step_sizes),
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr",)

    def check_group(self, group: dict[str, Any]) -> None:
        super().check_group(group)
        minus, plus = group["etas"]
        if not 0.0 < minus < 1.0 < plus:
            raise ValueError(f"Invalid eta values: {minus}, {plus}")

    def update_group(self, group: dict[str, Any]) -> None:
        for p in group["params"]:  # one by one, as PyTorch's for-loop
            if p.grad is None:
                continue
            state = self.state[p]
            xp = array_module(p._data)
            if not state:
                state["step"] = 0
                state["prev"] = Tensor._make(xp.zeros_like(p._data))
                state["step_size"] = Tensor._make(xp.full_like(p._data, group["lr"]))
            state["step"] += 1
            rprop(
                [p._data],
                [self.gradient(p, group)],
                [state["prev"]._data],
                [state["step_size"]._data],
                step_size_min=group["step_sizes"][0],
                step_size_max=group["step_sizes"][1],
                etaminus=group["etas"][0],
                etaplus=group["etas"][1],
            )


def rprop(
    params: Sequence[Any],
    grads: Sequence[Any],
    prevs: Sequence[Any],
    step_sizes: Sequence[Any],
    *,
    step_size_min: float,
    step_size_max: float,
    etaminus: float,
    etaplus: float,
) -> None:
    """One Rprop step on arrays, in place. Each line is one operation of PyTorch's
    ``_single_tensor_rprop``."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        xp = array_module(param)
        prev, step_size = prevs[i], step_sizes[i]
        sign = xp.sign(grad * prev)
        positive, negative, zero = sign > 0, sign < 0, sign == 0
        sign[positive] = etaplus
        sign[negative] = etaminus
        sign[zero] = 1
        step_size *= sign
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        grad = grad.copy()
        grad[sign == etaminus] = 0
        param[...] = fused.addcmul(param, xp.sign(grad), step_size, -1)
        prev[...] = grad
