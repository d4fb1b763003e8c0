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
        n = len(self.dataset)
        # As PyTorch's: each pass draws its iterator's base seed; a shuffling pass with no
        # generator of its own then draws a seed for a fresh generator that permutes.
        generator = self.generator or creation.generator()
        if hasattr(generator, "draw_seed"):  # srcdiff's (a NumPy Generator draws no seeds)
            generator.draw_seed()
        if self.shuffle and self.generator is None:
            generator = Generator().manual_seed(generator.draw_seed())
        order = generator.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield fetch(self.dataset, order[start : start + self.batch_size])

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
