"""Datasets: indexable collections of samples, and splitting them at random."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import creation
from ..tensor import Tensor
from .collate import collate


class Dataset:
    """A collection of samples: ``dataset[i]`` is one sample, ``len(dataset)`` how many.

    A dataset that can gather many samples at once faster than one by one defines
    ``get_batch(indices)``, returning the batch as ``collate`` would.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not define __len__")

    def __add__(self, other: Any) -> ConcatDataset:
        return ConcatDataset([self, other])


def fetch(dataset: Any, indices: np.ndarray, collate_fn: Any = None) -> Any:
    """The samples at ``indices`` as one batch: through ``get_batch`` where the dataset has
    it, else item by item and collated (by ``collate_fn``, where given: then always)."""
    if collate_fn is not None:
        return collate_fn([dataset[int(i)] for i in indices])
    get_batch = getattr(dataset, "get_batch", None)
    if get_batch is not None:
        return get_batch(indices)
    return collate([dataset[int(i)] for i in indices])


class TensorDataset(Dataset):
    """Samples ``(t[i] for t in tensors)`` of tensors that share their first dimension."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            sizes = ", ".join(str(t.shape[0]) for t in tensors)
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: np.ndarray) -> list[Tensor]:
        """One indexing per tensor, instead of a stack of single samples (a list of
        them, as ``collate`` gives for tuples)."""
        return [t[indices] for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices  # as given, as PyTorch keeps them
        self._at = np.asarray(indices, dtype=np.int64)  # (for batches taken at once)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self._at[index])]

    def __len__(self) -> int:
        return len(self._at)

    def get_batch(self, indices: np.ndarray) -> Any:
        return fetch(self.dataset, self._at[indices])


class ConcatDataset(Dataset):
    """The samples of each of ``datasets``, one after the other."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[dataset_idx - 1] if dataset_idx else 0
        return self.datasets[dataset_idx][idx - start]


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """Counts from counts, or from fractions summing to 1 (the remainder of flooring
    handed out one by one from the first, as PyTorch does)."""
    if any(x < 0 for x in lengths):
        raise ValueError(f"lengths must not be negative, got {list(lengths)}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=3,
                )
        return counts
    if any(int(x) != x for x in lengths):
        raise ValueError(f"lengths must be integers or fractions summing to 1, got {list(lengths)}")
    return [int(x) for x in lengths]


def random_split(
    dataset: Any, lengths: Sequence[float], generator: np.random.Generator | None = None
) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping Subsets of the given lengths (or
    fractions); the permutation comes from ``generator``, by default ``sd.manual_seed``'s."""
    counts = _split_lengths(len(dataset), lengths)
    if sum(counts) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = (generator or creation.generator()).permutation(len(dataset))
    ends = np.cumsum(counts)
    return [
        Subset(dataset, order[end - count : end].tolist())  # (Python ints, as PyTorch's)
        for count, end in zip(counts, ends, strict=True)
    ]
