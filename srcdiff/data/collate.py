"""Turning a list of samples into one batch, as PyTorch's default_collate."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..creation import tensor
from ..functions import stack
from ..tensor import Tensor


def collate(samples: Sequence[Any]) -> Any:
    """Tensors and arrays stacked along a new first dimension, numbers made a tensor
    (float64 for Python floats, int64 for ints), tuples/lists and dicts collated field by
    field (a tuple of fields for sequences); anything else left as a list."""
    first = samples[0]
    if isinstance(first, Tensor):
        return stack(list(samples))
    if isinstance(first, (np.ndarray, np.generic)):
        return tensor(np.stack(samples))
    if isinstance(first, bool):
        return tensor(list(samples))
    if isinstance(first, numbers.Integral):
        return tensor(list(samples), dtype=np.int64)
    if isinstance(first, numbers.Real):
        return tensor(list(samples), dtype=np.float64)
    if isinstance(first, Mapping):
        return {key: collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)) and not isinstance(first, str):
        if any(len(s) != len(first) for s in samples):
            raise RuntimeError("each element in list of batch should be of equal size")
        return tuple(collate(list(field)) for field in zip(*samples, strict=True))
    return list(samples)
