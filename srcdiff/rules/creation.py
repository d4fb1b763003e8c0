"""Functions that make new tensors carry no gradient: compiled code calls them as they
are (with Tensors, not arrays)."""

from .. import creation, grad_mode
from .registry import nondiff

nondiff(
    creation.tensor,
    creation.as_tensor,
    creation.from_numpy,
    creation.zeros,
    creation.ones,
    creation.empty,
    creation.full,
    creation.zeros_like,
    creation.ones_like,
    creation.empty_like,
    creation.full_like,
    creation.eye,
    creation.arange,
    creation.linspace,
    creation.randn,
    creation.rand,
    creation.randn_like,
    creation.rand_like,
    creation.randint,
    creation.randperm,
    creation.manual_seed,
    grad_mode.is_grad_enabled,
)
