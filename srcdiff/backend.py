"""The array module (NumPy or CuPy) of a computation, and the few helpers they differ on.

CuPy is imported only when a CuPy array is seen, so ``import srcdiff`` never needs it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np


def array_module(*xs: Any) -> ModuleType:
    """The module of the arrays among ``xs``: CuPy if any is a CuPy array, else NumPy."""
    for x in xs:
        cls = type(x)
        if cls is np.ndarray or cls is float:
            continue
        if cls.__module__.startswith("cupy"):
            import cupy

            return cupy
    return np


def device_of(x: Any) -> str:
    """``'cuda'`` for a CuPy array, ``'cpu'`` for anything else."""
    return "cuda" if type(x).__module__.startswith("cupy") else "cpu"
