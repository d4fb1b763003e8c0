"""Samplers, as ``torch.utils.data``'s: the order in which a DataLoader takes a dataset's
indices, and how it groups them into batches. Each draws the random numbers PyTorch's
draws, when it draws them (as its iterator advances), so seeded runs match PyTorch's."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from .. import creation
from ..generator import Generator
from ..tensor import Tensor

__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]


class Sampler:
    """An iterable of indices (or of lists of them, for a batch sampler) of a dataset;
    subclasses define ``__iter__``, and ``__len__`` where a DataLoader's length needs it."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError

    def __class_getitem__(cls, item: Any) -> type:  # ``Sampler[int]``, as PyTorch's
        return cls


class SequentialSampler(Sampler):
    """The indices 0, 1, ..., len(data_source) - 1, in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _positive(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")


class RandomSampler(Sampler):
    """The indices shuffled (one permutation after another while ``num_samples`` asks
    for more), or, with ``replacement``, ``num_samples`` indices drawn uniformly, 32 at a
    time. Without a ``generator``, each pass draws a seed from ``sd.manual_seed``'s
    generator and seeds a new one with it, as PyTorch does."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Generator | None = None
                 ) -> None:  # fmt: skip
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                "num_samples should be a positive integer value, but got "
                f"num_samples={self.num_samples}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = self.generator
        if generator is None:
            generator = Generator().manual_seed(creation.generator().draw_seed())
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from generator.integers(0, n, size=(32,)).tolist()
            yield from generator.integers(0, n, size=(self.num_samples % 32,)).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from generator.permutation(n).tolist()
            yield from generator.permutation(n).tolist()[: self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices``, shuffled anew at each pass."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        order = (self.generator or creation.generator()).permutation(len(self.indices))
        for i in order.tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices of ``[0, len(weights))``, each drawn with probability
    proportional to its weight (with ``replacement``), or without drawing one twice,
    as ``torch.multinomial`` draws them."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:  # fmt: skip
        _positive("num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        data = weights._data if isinstance(weights, Tensor) else weights
        weights_tensor = creation.tensor(np.asarray(data, dtype=np.float64))
        if weights_tensor.ndim != 1:
            raise ValueError(
                "weights should be a 1d sequence but given weights have shape "
                f"{tuple(weights_tensor.shape)}"
            )
        self.weights = weights_tensor
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        generator = self.generator or creation.generator()
        draws = multinomial(generator, self.weights.numpy(), self.num_samples, self.replacement)
        yield from draws.tolist()

    def __len__(self) -> int:
        return self.num_samples


def multinomial(generator: Generator, weights: np.ndarray, n: int, replacement: bool
                ) -> np.ndarray:  # fmt: skip
    """``n`` indices drawn with probabilities proportional to the float64 ``weights``, as
    PyTorch's CPU ``multinomial``: with replacement (more than one), a binary search of a
    uniform draw in the normalized cumulative sums; else the largest weight / Exp(1)
    draws (Exp(1) = -log1p(-u), with the C library's log1p, as PyTorch's)."""
    if not replacement and n > len(weights):
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    if replacement and n > 1:
        if np.any(weights < 0):
            raise RuntimeError(
                "invalid multinomial distribution (encountering probability entry < 0)"
            )
        if not np.all(np.isfinite(weights)):
            raise RuntimeError(
                "invalid multinomial distribution (encountering probability entry = infinity "
                "or NaN)"
            )
        cumulative = np.cumsum(weights)  # (sequential sums, as PyTorch's loop)
        total = cumulative[-1]
        if not total > 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        cumulative /= total
        cumulative[-1] = 1.0
        return np.searchsorted(cumulative, generator.random((n,)), side="left").astype(np.int64)
    if not (np.all(weights < math.inf) and np.all(weights >= 0)):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if weights.sum() == 0:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    exponential = np.array([-math.log1p(-u) for u in generator.random(weights.shape).tolist()])
    q = weights / exponential
    if n == 1:
        return np.argmax(q).reshape(1)
    return np.argsort(-q, kind="stable")[:n]


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (any iterable of indices), the
    last one shorter unless ``drop_last`` leaves it out."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool
                 ) -> None:  # fmt: skip
        _positive("batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        sampler_iter = iter(self.sampler)
        if self.drop_last:
            for batch in zip(*[sampler_iter] * self.batch_size, strict=False):
                yield [*batch]
        else:
            batch = [*itertools.islice(sampler_iter, self.batch_size)]
            while batch:
                yield batch
                batch = [*itertools.islice(sampler_iter, self.batch_size)]

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size  # type: ignore[arg-type]
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size  # type: ignore[arg-type]
