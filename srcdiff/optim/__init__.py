"""Optimizers, as ``torch.optim``: SGD, Adam, AdamW, RMSprop and Adagrad over a model's
parameters, and learning-rate schedules in ``optim.lr_scheduler``."""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
