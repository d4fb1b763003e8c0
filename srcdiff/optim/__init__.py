"""Optimizers, as ``torch.optim``: SGD and Adam over a model's parameters."""

from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]
