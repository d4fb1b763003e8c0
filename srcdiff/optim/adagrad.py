"""Adagrad: a step per coordinate that shrinks with the sum of its squared gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import fused
from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, Params

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, with PyTorch's formulas. For each parameter p with gradient g, at step t:

    g = -g                                        (if maximize)
    g = g + weight_decay * p                      (if weight_decay)
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g       (s0 = initial_accumulator_value, the constructor's: as in PyTorch,
                         a parameter group's own value is kept in it but never read)
    p = p - clr * g / (sqrt(s) + eps)

    As in PyTorch, the state (``step`` 0 and ``sum``) of the constructor's parameters is
    made at once, not at their first step; that of a group added later, at its first step.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:  # (a group added later: at its first step)
            for p in group["params"]:
                self._init_state(p)

    nonnegative = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _init_state(self, p: Tensor) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            full_like = array_module(p._data).full_like
            state["step"] = 0
            # the constructor's value, as PyTorch fills it (a group's own is not read)
            value = self.defaults["initial_accumulator_value"]
            state["sum"] = Tensor._make(full_like(p._data, value))
        return state

    def update_group(self, group: dict[str, Any]) -> None:
        for p in group["params"]:
            if p.grad is not None:
                self._init_state(p)  # (made anew after a load)
        for p, state in self.stepped(group):
            adagrad(
                [p._data],
                [p.grad._data],
                [state["sum"]._data],
                [state["step"]],
                lr=group["lr"],
                lr_decay=group["lr_decay"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
            )


def adagrad(
    params: Sequence[Any],
    grads: Sequence[Any],
    state_sums: Sequence[Any],
    steps: Sequence[int],
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    """One Adagrad step on arrays, in place; ``steps[i]`` counts this step (1 on the first).
    Each line is one operation of PyTorch's ``_single_tensor_adagrad``, rounded as its
    kernel rounds it (``srcdiff.fused``)."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        xp = array_module(param)
        if maximize:
            grad = -grad
        if weight_decay != 0:
            grad = fused.add(grad, param, weight_decay)
        clr = lr / (1 + (steps[i] - 1) * lr_decay)
        state_sum = state_sums[i]
        state_sum[...] = fused.addcmul(state_sum, grad, grad)
        std = xp.sqrt(state_sum)
        std += eps
        param[...] = fused.addcdiv(param, grad, std, -clr)
