"""DataLoader: a dataset in (shuffled) batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .. import creation
from ..generator import Generator
from .collate import collate, convert
from .dataset import fetch
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, each batch collated
    (``collate``, as PyTorch's ``default_collate``: a list of stacked tensors for a dataset
    of tuples), or by ``collate_fn`` from the list of samples. ``batch_size=None`` gives
    the samples one by one, their arrays made tensors (``convert``), or each passed to
    ``collate_fn``. With ``shuffle``, each pass takes a new permutation from
    ``generator``, by default ``sd.manual_seed``'s; with ``drop_last``, a last incomplete
    batch is left out. ``sampler`` (an iterable of indices) or ``batch_sampler`` (of
    lists of them) choose the samples instead, as in PyTorch. Samples are loaded in the
    calling process: ``num_workers`` and ``pin_memory`` are taken as PyTorch takes them
    and give the same batches."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable[list] | None = None,
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
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        # the loader's own samplers are taken as arrays, whole (the same indices, drawn
        # when PyTorch's draw them: see _Pass); one given is iterated as PyTorch does
        self._own_sampler = sampler is None
        if sampler is None:
            sampler = (
                RandomSampler(dataset, generator=generator) if shuffle
                else SequentialSampler(dataset)
            )  # fmt: skip
        self._own_batches = batch_sampler is None
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.drop_last = drop_last
        self.generator = generator

    def __iter__(self) -> Iterator[Any]:
        return _Pass(self)

    def __len__(self) -> int:
        return len(self.sampler if self.batch_sampler is None else self.batch_sampler)


class _Pass:
    """One pass over a DataLoader's batches. It draws its random numbers when PyTorch's
    does, so that seeded runs match it whatever else draws between: the pass's base seed
    when it starts (``iter``); a shuffling pass's permutation at its first batch (from a
    fresh generator seeded then, without one of its own); and, from a generator of its
    own, one permutation more when the samples run out (RandomSampler's)."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        given = not (loader._own_sampler and loader._own_batches)
        if given:  # (iterated now, as PyTorch's: an __iter__ that draws draws first)
            self.indices = iter(loader.sampler if loader.batch_sampler is None
                                else loader.batch_sampler)  # fmt: skip
        generator = loader.generator or creation.generator()
        if hasattr(generator, "draw_seed"):  # srcdiff's (a NumPy Generator draws no seeds)
            generator.draw_seed()
        self.batches = self.given() if given else self.run()  # (run at the first batch)

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

    def given(self) -> Iterator[Any]:
        """The batches of a sampler or batch sampler given to the loader."""
        loader = self.loader
        for indices in self.indices:
            if loader.batch_sampler is None:  # sample by sample
                sample = loader.dataset[indices]
                yield convert(sample) if loader.collate_fn is None else loader.collate_fn(sample)
            elif all(isinstance(i, int | np.integer) for i in indices):
                yield fetch(loader.dataset, np.asarray(indices, dtype=np.int64), loader.collate_fn)
            else:  # (keys of another kind, for a dataset indexed by them)
                samples = [loader.dataset[i] for i in indices]
                yield (loader.collate_fn or collate)(samples)
