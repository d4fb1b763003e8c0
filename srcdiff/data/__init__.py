"""Data loading, as ``torch.utils.data``: datasets, random splits and batch loaders."""

from .collate import collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "collate", "random_split"]
