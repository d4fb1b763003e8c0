"""Samplers, ConcatDataset and DataLoader's ``sampler=``/``batch_sampler=`` against
PyTorch 2.13's indices (recorded by ``tests/pytorch_reference/record.py`` from
``programs.samplers``): two passes of each, its length, and the global generator's next
numbers (so each draws what PyTorch's draws, from the generator it draws from)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from pytorch_reference import programs  # (tests/, beside this package)

import srcdiff as sd
from srcdiff import data

VALUES = json.loads((Path(programs.__file__).parent / "values.json").read_text())


@functools.cache
def _run() -> dict[str, list]:
    return programs.samplers(sd)


KEYS = [f"sampler/{k}" for k in programs._samplers(sd)] + [
    f"loader/{k}" for k in programs._loaders(sd)
]


@pytest.mark.parametrize("key", KEYS)
def test_indices_and_draws_are_pytorchs(key):
    assert _run()[key] == VALUES[key]


def test_concat_dataset_indexes_across_its_parts():
    a, b = data.TensorDataset(sd.arange(3.0)), data.TensorDataset(sd.arange(10.0, 12.0))
    both = data.ConcatDataset([a, b])
    assert len(both) == 5 and both.cumulative_sizes == [3, 5]
    assert [both[i][0].item() for i in range(-5, 5)] == [0, 1, 2, 10, 11] * 2
    with pytest.raises(ValueError, match="should not exceed dataset length"):
        both[-6]
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        data.ConcatDataset([])
    assert isinstance(a + b, data.ConcatDataset)


def test_loader_arguments_pytorch_refuses_are_refused():
    ds = data.TensorDataset(sd.arange(4.0))
    sampler = data.SequentialSampler(ds)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        data.DataLoader(ds, sampler=sampler, shuffle=True)
    batches = data.BatchSampler(sampler, 2, False)
    for kwargs in ({"batch_size": 2}, {"shuffle": True}, {"sampler": sampler},
                   {"drop_last": True}):  # fmt: skip
        with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
            data.DataLoader(ds, batch_sampler=batches, **kwargs)
    loader = data.DataLoader(ds, batch_sampler=batches)
    assert loader.batch_size is None and len(loader) == 2 and loader.sampler is not None


def test_sampler_arguments_pytorch_refuses_are_refused():
    with pytest.raises(ValueError, match="num_samples=0"):
        data.RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        data.RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        data.WeightedRandomSampler([1.0], True)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        data.WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        data.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        data.BatchSampler(range(3), 2, 0)
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
        list(data.WeightedRandomSampler([1.0, 2.0], 3, replacement=False))
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        list(data.WeightedRandomSampler([0.0, 0.0], 3))
    with pytest.raises(RuntimeError, match="probability entry < 0"):
        list(data.WeightedRandomSampler([1.0, -1.0], 3))


@pytest.mark.parametrize("kind", ["weighted", "batch_sampler"])
def test_a_compiled_epoch_over_a_loader_with_a_sampler_is_the_eager_one(kind):
    def run(compiled):
        sd.manual_seed(3)
        x = sd.tensor(np.linspace(-1, 1, 30).reshape(10, 3))
        ds = data.TensorDataset(x, x.sum(1, keepdim=True))
        if kind == "weighted":
            sampler = data.WeightedRandomSampler([1.0] * 5 + [2.0] * 5, 9)
            loader = data.DataLoader(ds, batch_size=3, sampler=sampler)
        else:
            sampler = data.RandomSampler(range(20), replacement=True, num_samples=7)
            batches = data.BatchSampler(sampler, 2, False)
            loader = data.DataLoader(data.ConcatDataset([ds, ds]), batch_sampler=batches)
        model = sd.nn.Linear(3, 1).double()
        optimizer = sd.optim.SGD(model.parameters(), lr=0.1)

        def epoch():
            total = 0.0
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = ((model(xb) - yb) ** 2).mean()
                loss.backward()
                optimizer.step()
                total += loss.item()
            return total

        epoch = sd.differentiate(epoch) if compiled else epoch
        return [epoch() for _ in range(3)] + model.weight.detach().numpy().ravel().tolist()

    np.testing.assert_allclose(run(True), run(False), rtol=1e-12)
