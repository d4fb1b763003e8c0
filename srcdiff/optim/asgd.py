"""ASGD: averaged stochastic gradient descent, SGD with a decaying step that keeps, in
the state, a running average of the parameters (``ax``) from step ``t0`` on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import fused
from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, Params

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    r"""ASGD, with PyTorch's formulas. For each parameter p with gradient g, at step t:

    g = -g                                        (if maximize)
    g = g + weight_decay * p                      (if weight_decay)
    p = p * (1 - lambd * eta),  p = p - eta * g   (eta0 = lr)
    ax = ax + mu * (p - ax)   (ax = p where mu is 1; ax0 = 0, mu0 = 1)
    eta = lr / (1 + lambd * lr * t) ** alpha,  mu = 1 / max(1, t - t0)

    ``eta`` and ``mu`` are kept in the state as float32 numbers, as PyTorch keeps them (a
    state loaded into a parameter takes its dtype, as in PyTorch, but the values set
    there are still rounded to float32).
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    nonnegative = ("lr", "weight_decay")

    def update_group(self, group: dict[str, Any]) -> None:
        for p in group["params"]:  # one by one, as PyTorch's for-loop
            if p.grad is None:
                continue
            state = self.state[p]
            xp = array_module(p._data)
            if not state:
                state["step"] = 0
                state["eta"] = Tensor._make(xp.full((), group["lr"], "float32"))
                state["mu"] = Tensor._make(xp.ones((), "float32"))
                state["ax"] = Tensor._make(xp.zeros_like(p._data))
            state["step"] += 1
            asgd(
                [p._data],
                [self.gradient(p, group)],
                [state["ax"]._data],
                [state["mu"]._data],
                [state["eta"]._data],
                [state["step"]],
                lambd=group["lambd"],
                lr=group["lr"],
                t0=group["t0"],
                alpha=group["alpha"],
                weight_decay=group["weight_decay"],
            )


def asgd(
    params: Sequence[Any],
    grads: Sequence[Any],
    axs: Sequence[Any],
    mus: Sequence[Any],
    etas: Sequence[Any],
    steps: Sequence[int],
    *,
    lambd: float,
    lr: float,
    t0: float,
    alpha: float,
    weight_decay: float,
) -> None:
    """One ASGD step on arrays, in place (``mus[i]``, ``etas[i]`` 0-d arrays). Each line
    is one operation of PyTorch's ``_single_tensor_asgd``, rounded as its kernel rounds it."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if weight_decay != 0:
            grad = fused.add(grad, param, weight_decay)
        eta = float(etas[i])
        param *= 1 - lambd * eta
        fused.add(param, grad, -eta, out=param)
        ax, mu = axs[i], mus[i]
        if float(mu) != 1:
            ax += (param - ax) * mu
        else:
            ax[...] = param
        step = steps[i]  # (PyTorch makes each new value a float32 tensor, then copies it)
        etas[i][...] = float(np.float32(lr / ((1 + lambd * lr * step) ** alpha)))
        mus[i][...] = float(np.float32(1 / max(1, step - t0)))
