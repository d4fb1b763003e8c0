"""DataLoader: a dataset in (shuffled) batches."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import creation
from ..generator import Generator
from .collate import convert
from .dataset import fetch


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, each batch collated
    (``collate``, as PyTorch's ``default_collate``: a list of stacked tensors for a dataset
    of tuples), or by ``collate_fn`` from the list of samples. ``batch_size=None`` gives
    the samples one by one, their arrays made tensors (``convert``), or each passed to
    ``collate_fn``. With ``shuffle``, each pass takes a new permutation from
    ``generator``, by default ``sd.manual_seed``'s; with ``drop_last``, a last incomplete
    batch is left out. Samples are loaded in the calling process: ``num_workers`` and
    ``pin_memory`` are taken as PyTorch takes them and give the same batches."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | None = None,
    ) -> None:
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
        ):
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if shuffle and len(dataset) == 0:  # (PyTorch's RandomSampler refuses it)
            raise ValueError(
                "num_samples should be a positive integer value, but got num_samples=0"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.drop_last = drop_last
        self.generator = generator

    def __iter__(self) -> Iterator[Any]:
        return _Pass(self)

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
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
        size, collate_fn = loader.batch_size, loader.collate_fn
        order, generator = np.arange(n), None
        if loader.shuffle:
            generator = loader.generator or Generator().manual_seed(
                creation.generator().draw_seed()
            )
            order = generator.permutation(n)
        if size is None:  # sample by sample
            for i in order:
                sample = loader.dataset[int(i)]
                yield convert(sample) if collate_fn is None else collate_fn(sample)
            whole = n
        else:
            whole = n - n % size  # the samples of whole batches
            for start in range(0, whole, size):
                yield fetch(loader.dataset, order[start : start + size], collate_fn)
        if generator is not None:  # the samples run out: RandomSampler draws once more
            generator.permutation(n)
        if whole < n and not loader.drop_last:
            yield fetch(loader.dataset, order[whole:], collate_fn)
