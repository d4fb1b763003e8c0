"""Turning a list of samples into one batch, as PyTorch's default_collate."""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np

from ..creation import tensor
from ..functions import stack
from ..tensor import Tensor


def collate(samples: Sequence[Any]) -> Any:
    """Tensors and arrays stacked along a new first dimension, numbers made a tensor
    (float64 for Python floats, int64 for ints), and containers collated field by field,
    as PyTorch's ``default_collate``: a namedtuple or a mapping stays of its type, any
    other tuple or list becomes a list of fields; anything else is left as a list."""
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
        return _same_kind(first, {key: collate([s[key] for s in samples]) for key in first})
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [collate(list(field)) for field in zip(*samples, strict=True)]
        return type(first)(*fields) if _namedtuple(first) else fields
    return list(samples)


def convert(sample: Any) -> Any:
    """One sample as a loader without batches (``batch_size=None``) gives it, as
    PyTorch's ``default_convert``: arrays and NumPy numbers made tensors, containers
    converted entry by entry (a namedtuple or a mapping of its type, another tuple or a
    list as a list)."""
    if isinstance(sample, (np.ndarray, np.generic)) and sample.dtype.kind not in "OUS":
        return tensor(sample)
    if isinstance(sample, Mapping):
        return _same_kind(sample, {key: convert(value) for key, value in sample.items()})
    if isinstance(sample, (tuple, list)):
        entries = [convert(entry) for entry in sample]
        return type(sample)(*entries) if _namedtuple(sample) else entries
    return sample


def _namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _same_kind(like: Mapping, entries: dict) -> Mapping:
    """``entries`` in a mapping of ``like``'s type, as PyTorch makes it: a copy of a
    mutable one (a defaultdict keeps its factory) updated, another made from a dict
    where it can be."""
    try:
        if isinstance(like, MutableMapping):
            clone = copy.copy(like)
            clone.update(entries)
            return clone
        return type(like)(entries)
    except TypeError:
        return entries
