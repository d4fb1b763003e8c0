"""``from srcdiff.utils.data import ...`` works as ``from torch.utils.data import ...``."""

import numpy as np

import srcdiff as sd
import srcdiff.data
from srcdiff.utils.data import DataLoader, TensorDataset, default_collate, random_split


def test_utils_data_is_the_data_package_under_pytorchs_name():
    assert DataLoader is srcdiff.data.DataLoader and random_split is srcdiff.data.random_split
    assert default_collate is srcdiff.data.collate
    dataset = TensorDataset(sd.arange(6.0).view(3, 2), sd.arange(3.0))
    ((x, y),) = list(DataLoader(dataset, batch_size=3))
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(3, 2))
    assert sd.utils.data.Dataset is srcdiff.data.Dataset
