"""The PyTorch-style training loop (nn.Module, a loss module, optim.SGD), written once.

The same code runs on torch and on srcdiff, whose API mirrors it; for srcdiff the
training step is wrapped in ``@sd.differentiate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .base import Job


def make_train_step(
    model: Any, loss_fn: Any, optimizer: Any, differentiate: Callable | None = None
) -> Callable:
    """The tutorial's training step: forward, loss, backward, update, zero the gradients."""

    def train_step(x, y):
        yhat = model(x)
        loss = loss_fn(yhat, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    return train_step if differentiate is None else differentiate(train_step)


def module_job(
    lib: Any,
    model: Any,
    train_step: Callable,
    initial: dict[str, np.ndarray],
    batches: Sequence[tuple[Any, Any]],
) -> Job:
    """A Job that resets ``model`` to ``initial`` and runs ``train_step`` over ``batches``.

    It returns the final parameters (as NumPy copies, in registration order) and the last loss.
    """
    state = {name: lib.from_numpy(value.copy()) for name, value in initial.items()}

    def run() -> tuple[tuple[np.ndarray, ...], float]:
        model.load_state_dict(state)
        loss = None
        for x, y in batches:
            loss = train_step(x, y)
        return tuple(p.detach().numpy().copy() for p in model.parameters()), loss

    return Job(run)
