"""``srcdiff.utils.data``, the name PyTorch code imports data loading under: the same
objects as ``srcdiff.data``."""

from ..data import DataLoader, Dataset, Subset, TensorDataset, collate, random_split

default_collate = collate  # PyTorch's name

__all__ = [
    "DataLoader", "Dataset", "Subset", "TensorDataset", "collate", "default_collate",
    "random_split",
]  # fmt: skip
