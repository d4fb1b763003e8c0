"""``srcdiff.utils``, as ``torch.utils``: ``from srcdiff.utils.data import DataLoader``."""

from . import data

__all__ = ["data"]
