"""TensorDataset, Subset, random_split, collate and DataLoader."""

import collections

import numpy as np
import pytest

from srcdiff.creation import arange, manual_seed, tensor
from srcdiff.data import DataLoader, Dataset, Subset, TensorDataset, collate, random_split
from srcdiff.dtypes import float32, float64, int64
from srcdiff.tensor import Tensor

N = 10


@pytest.fixture
def dataset():
    x = arange(N * 2).float().reshape(N, 2)
    y = arange(N)
    return TensorDataset(x, y)


class NoItems(TensorDataset):
    """A TensorDataset whose items cannot be read one by one: only batch indexing works."""

    def __getitem__(self, index):
        raise AssertionError("the DataLoader should index the tensors, not read items")


class Squares(Dataset):
    """A plain dataset of (array, int) samples."""

    def __getitem__(self, index):
        return np.array([index, index * index], dtype=np.float32), index

    def __len__(self):
        return 5


def labels(batches):
    return [b[1].tolist() for b in batches]


# ---- datasets -------------------------------------------------------------------------


def test_tensor_dataset_items_and_length(dataset):
    assert len(dataset) == N
    x, y = dataset[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3


def test_tensor_dataset_checks_first_dimensions():
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(arange(3), arange(4))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_base_dataset_names_what_is_missing():
    with pytest.raises(NotImplementedError, match="Dataset does not define __getitem__"):
        Dataset()[0]


def test_subset(dataset):
    subset = Subset(dataset, [7, 2, 5])
    assert len(subset) == 3 and subset[1][1].item() == 2
    assert subset.get_batch(np.array([2, 0]))[1].tolist() == [5, 7]


# ---- random_split ---------------------------------------------------------------------


def test_random_split_partitions_the_dataset(dataset):
    manual_seed(0)
    parts = random_split(dataset, [6, 3, 1])
    assert [len(p) for p in parts] == [6, 3, 1]
    seen = sorted(i for p in parts for i in p.indices)
    assert seen == list(range(N))


def test_random_split_fractions_hand_out_the_remainder_from_the_first(dataset):
    assert [len(p) for p in random_split(dataset, [0.8, 0.2])] == [8, 2]
    assert [len(p) for p in random_split(Squares(), [0.5, 0.5])] == [3, 2]
    assert [len(p) for p in random_split(dataset, [0.25, 0.25, 0.5])] == [3, 2, 5]


def test_random_split_follows_manual_seed_or_a_generator(dataset):
    manual_seed(42)
    first = random_split(dataset, [5, 5])[0].indices
    manual_seed(42)
    again = random_split(dataset, [5, 5])[0].indices
    assert first == again and first != list(range(5))
    mine = random_split(dataset, [5, 5], generator=np.random.default_rng(1))[0].indices
    assert mine == random_split(dataset, [5, 5], generator=np.random.default_rng(1))[0].indices


def test_random_split_checks_lengths(dataset):
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length"):
        random_split(dataset, [5, 6])
    with pytest.raises(ValueError, match="must not be negative"):
        random_split(dataset, [12, -2])
    with pytest.raises(ValueError, match="integers or fractions"):
        random_split(dataset, [4.5, 5.5])


# ---- DataLoader -----------------------------------------------------------------------


def test_batches_in_order_with_a_smaller_last_batch(dataset):
    loader = DataLoader(dataset, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert labels(batches) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = batches[0]
    assert isinstance(batches[0], list) and isinstance(x, Tensor)  # a list, as PyTorch's
    assert x.shape == (4, 2) and x.dtype == float32 and y.dtype == int64


def test_drop_last(dataset):
    loader = DataLoader(dataset, batch_size=4, drop_last=True)
    assert len(loader) == 2 and labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(dataset, batch_size=5, drop_last=True)) == 2


def test_default_batch_size_is_one(dataset):
    batches = list(DataLoader(dataset))
    assert len(batches) == N and batches[0][0].shape == (1, 2)


def test_shuffle_visits_every_sample_once_per_epoch_in_a_new_order(dataset):
    manual_seed(0)
    loader = DataLoader(dataset, batch_size=3, shuffle=True)
    epochs = [sum(labels(loader), []) for _ in range(3)]
    assert all(sorted(e) == list(range(N)) for e in epochs)
    assert epochs[0] != list(range(N)) and epochs[0] != epochs[1]


def test_shuffle_follows_manual_seed_and_a_generator(dataset):
    def order(**kwargs):
        return sum(labels(DataLoader(dataset, batch_size=4, shuffle=True, **kwargs)), [])

    manual_seed(7)
    first = order()
    manual_seed(7)
    assert order() == first
    assert order(generator=np.random.default_rng(3)) == order(generator=np.random.default_rng(3))


def test_tensor_datasets_are_batched_by_indexing(dataset):
    fast = NoItems(*dataset.tensors)
    assert labels(DataLoader(fast, batch_size=4)) == labels(DataLoader(dataset, batch_size=4))
    manual_seed(0)
    train, _ = random_split(fast, [6, 4])
    batches = list(DataLoader(train, batch_size=4, shuffle=True))
    assert sorted(sum(labels(batches), [])) == sorted(train.indices)
    assert all(type(i) is int for i in train.indices)  # as PyTorch's: Python ints


def test_other_datasets_are_collated_item_by_item():
    ((x, index),) = list(DataLoader(Squares(), batch_size=5))
    assert x.shape == (5, 2) and x[4].tolist() == [4.0, 16.0] and x.dtype == float32
    assert index.tolist() == [0, 1, 2, 3, 4] and index.dtype == int64


def test_invalid_batch_size(dataset):
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
            DataLoader(dataset, batch_size=bad)


# ---- collate --------------------------------------------------------------------------


def test_collate_numbers_tuples_and_dicts():
    x, n, name = collate([(1.5, 2, "a"), (2.5, 3, "b")])
    assert x.dtype == float64 and x.tolist() == [1.5, 2.5]
    assert n.dtype == int64 and n.tolist() == [2, 3]
    assert name == ["a", "b"]
    batch = collate([{"x": tensor([1.0]), "y": 0}, {"x": tensor([2.0]), "y": 1}])
    assert batch["x"].shape == (2, 1) and batch["y"].tolist() == [0, 1]


Sample = collections.namedtuple("Sample", "x y")


def test_collate_keeps_namedtuples_and_mappings_and_makes_other_sequences_lists():
    # as PyTorch's default_collate: batch.x of a dataset of namedtuples; a batch of a
    # dataset of tuples (TensorDataset's too) is a list, which a training loop may change
    batch = collate([Sample(tensor([1.0]), 0), Sample(tensor([2.0]), 1)])
    assert (
        type(batch) is Sample and batch.x.tolist() == [[1.0], [2.0]] and batch.y.tolist() == [0, 1]
    )
    ordered = collate([collections.OrderedDict(a=1.0), collections.OrderedDict(a=2.0)])
    assert type(ordered) is collections.OrderedDict and ordered["a"].tolist() == [1.0, 2.0]
    assert type(collate([(1.0, 2), (3.0, 4)])) is list
    assert type(collate([[1.0, 2], [3.0, 4]])) is list
    x = tensor([[1.0], [2.0], [3.0]])
    assert type(next(iter(DataLoader(TensorDataset(x, x), batch_size=2)))) is list


def test_a_loader_without_batches_gives_samples_with_their_arrays_made_tensors():
    data = [(np.array([1.0, 2.0]), 3), (np.array([4.0, 5.0]), 6)]
    samples = list(DataLoader(data, batch_size=None))
    assert len(DataLoader(data, batch_size=None)) == 2
    assert isinstance(samples[0], list) and isinstance(samples[0][0], Tensor)  # PyTorch's
    assert samples[1][0].tolist() == [4.0, 5.0] and samples[1][1] == 6
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(data, batch_size=None, drop_last=True)


def test_collate_fn_gets_the_list_of_samples(dataset):
    loader = DataLoader(dataset, batch_size=3, collate_fn=lambda samples: len(samples))
    assert list(loader) == [3, 3, 3, 1]
    one = DataLoader(dataset, batch_size=None, collate_fn=lambda sample: sample[1].item())
    assert list(one)[:3] == [0, 1, 2]


def test_workers_are_taken_and_load_the_same_batches(dataset):
    manual_seed(3)
    plain = [labels([b]) for b in DataLoader(dataset, batch_size=4, shuffle=True)]
    manual_seed(3)
    loader = DataLoader(dataset, batch_size=4, shuffle=True, num_workers=2, pin_memory=True)
    assert [labels([b]) for b in loader] == plain
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(dataset, num_workers=-1)


def test_collate_keeps_the_graph_of_samples_that_require_grad():
    w = tensor([1.0, 2.0], requires_grad=True)
    collate([w * 2, w * 3]).sum().backward()
    assert w.grad.tolist() == [5.0, 5.0]


def test_a_pass_over_a_loader_has_its_length(dataset):
    loader = DataLoader(dataset, batch_size=4, shuffle=True)
    assert len(iter(loader)) == len(loader) == len(list(iter(loader)))


def test_empty_edges_as_pytorch():
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        DataLoader([], shuffle=True)
    assert list(DataLoader([], batch_size=2)) == []
    with pytest.warns(UserWarning, match="Length of split at index 0 is 0"):
        random_split(range(5), [0.0, 1.0])


def test_a_defaultdict_keeps_its_factory_and_numpy_numbers_become_tensors():
    first, second = collections.defaultdict(int, a=1.0), collections.defaultdict(int, a=2.0)
    batch = collate([first, second])
    assert type(batch) is collections.defaultdict and batch.default_factory is int
    assert batch["a"].tolist() == [1.0, 2.0]
    samples = list(DataLoader([np.float32(1.5), np.float32(2.5)], batch_size=None))
    assert all(isinstance(s, Tensor) and s.dtype == float32 for s in samples)
