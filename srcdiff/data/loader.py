"""DataLoader: a dataset in (shuffled) batches."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import creation
from ..generator import Generator
from .dataset import fetch


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, each batch collated
    (a tuple of stacked tensors for a dataset of tuples). With ``shuffle``, each pass takes
    a new permutation from ``generator``, by default ``sd.manual_seed``'s; with
    ``drop_last``, a last incomplete batch is left out."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator

    def __iter__(self) -> Iterator[Any]:
        return _Pass(self)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


class _Pass:
    """One pass over a DataLoader's batches. It draws its random numbers when PyTorch's
    does, so that seeded runs match it whatever else draws between: the pass's base seed
    when it starts (``iter``); a shuffling pass's permutation at its first batch (from a
    fresh generator seeded then, without one of its own); and, from a generator of its
    own, one permutation more when the samples run out (RandomSampler's)."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        generator = loader.generator or creation.generator()
        if hasattr(generator, "draw_seed"):  # srcdiff's (a NumPy Generator draws no seeds)
            generator.draw_seed()
        self.batches = self.run()  # (its body runs at the first batch)

    def __iter__(self) -> _Pass:
        return self

    def __next__(self) -> Any:
        return next(self.batches)

    def __len__(self) -> int:
        return len(self.loader)

    def run(self) -> Iterator[Any]:
        loader, n = self.loader, len(self.loader.dataset)
        size = loader.batch_size
        order, generator = np.arange(n), None
        if loader.shuffle:
            generator = loader.generator or Generator().manual_seed(
                creation.generator().draw_seed()
            )
            order = generator.permutation(n)
        whole = n - n % size  # the samples of whole batches
        for start in range(0, whole, size):
            yield fetch(loader.dataset, order[start : start + size])
        if generator is not None:  # the samples run out: RandomSampler draws once more
            generator.permutation(n)
        if whole < n and not loader.drop_last:
            yield fetch(loader.dataset, order[whole:])
