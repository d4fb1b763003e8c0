"""Devices: ``'cpu'`` arrays are NumPy, ``'cuda'`` arrays are CuPy.

All device logic of the tensor runtime is here. CuPy is imported only when a CUDA
device is asked for, never at ``import srcdiff``.
"""

from __future__ import annotations

import functools
import importlib.util
from types import ModuleType
from typing import Any

import numpy as np

from .backend import device_of, to_cupy, to_numpy

UNAVAILABLE = "CUDA is not available: install CuPy and use a machine with a GPU"


class device(str):  # noqa: N801 - named as torch.device
    """A device name (``'cpu'`` or ``'cuda'``) that compares equal to its string."""

    __slots__ = ()

    def __new__(cls, spec: Any = "cpu", index: int | None = None) -> device:
        if isinstance(spec, device):
            return spec
        name = str(spec).split(":")[0]
        if name not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {spec}"
            )
        return super().__new__(cls, name)

    @property
    def type(self) -> str:
        return str(self)

    @property
    def index(self) -> int | None:
        return 0 if self == "cuda" else None

    def __repr__(self) -> str:
        return f"device(type='{self}')"


CPU = device("cpu")
CUDA = device("cuda")


@functools.lru_cache(maxsize=1)
def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any CUDA/driver failure means "not available"
        return False


def device_count() -> int:
    """The number of GPUs (0 without CuPy or a GPU)."""
    if not is_available():
        return 0
    import cupy

    return cupy.cuda.runtime.getDeviceCount()


def manual_seed(seed: int) -> None:
    """Accepted for PyTorch code: all random numbers come from ``sd.manual_seed``'s generator."""


manual_seed_all = manual_seed


def parse(spec: Any) -> device | None:
    """A device from ``'cpu'``, ``'cuda'``, ``'cuda:0'`` or a device (None stays None)."""
    return None if spec is None else device(spec)


def of_array(array: Any) -> device:
    """The device an array lives on."""
    return CUDA if device_of(array) == "cuda" else CPU


def module(dev: Any) -> ModuleType:
    """The array module of a device (importing CuPy only for ``'cuda'``)."""
    if device(dev) == "cpu":
        return np
    _require()
    import cupy

    return cupy


def to_device(array: Any, dev: Any) -> Any:
    """``array`` on device ``dev`` (the same object when it is already there)."""
    dev = device(dev)
    if of_array(array) == dev:
        return array
    if dev == "cpu":
        return to_numpy(array)
    _require()
    return to_cupy(array)


def _require() -> None:
    if not is_available():
        raise RuntimeError(UNAVAILABLE)
