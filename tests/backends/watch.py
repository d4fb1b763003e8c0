"""Catching a silent fall back to NumPy: the float arrays that generated code and srcdiff's
runtime helpers hold while a computation on another array library runs.

``numpy_floats()`` watches every frame of a generated primal or adjoint and of
``srcdiff.runtime``/``srcdiff.rules`` as it returns, and lists the local variables that
hold NumPy arrays of floats. On CuPy or array-api-strict inputs there must be none: a
NumPy array there means a value was computed on the host behind the user's back.
(Integer arrays, such as the positions a runtime helper works out from shapes, are
bookkeeping, not values, and are not listed.)
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import srcdiff

GENERATED = ("_primal", "_adjoint", "_backward")
HELPERS = tuple(str(Path(srcdiff.__file__).parent / part) for part in ("runtime", "rules"))


def _watched(code) -> bool:
    return code.co_name.endswith(GENERATED) or code.co_filename.startswith(HELPERS)


def _floats(value, depth: int = 0) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fc"
    if depth < 2 and isinstance(value, (list, tuple)):
        return any(_floats(v, depth + 1) for v in value)
    if depth < 2 and isinstance(value, dict):
        return any(_floats(v, depth + 1) for v in value.values())
    return False


@contextlib.contextmanager
def numpy_floats() -> Iterator[list[str]]:
    """Yield a list that fills with ``function: name`` for each NumPy float array found."""
    found: list[str] = []

    def profile(frame, event, arg):
        if event == "return" and _watched(frame.f_code):
            for name, value in frame.f_locals.items():
                if _floats(value):
                    found.append(f"{frame.f_code.co_name}: {name}")
            if _floats(arg):
                found.append(f"{frame.f_code.co_name}: its result")

    # (no cyclic collection while watching: it would close generators left over from
    # earlier code, whose frames then return here holding that code's arrays)
    collecting = gc.isenabled()
    gc.disable()
    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield found
    finally:
        sys.setprofile(previous)
        if collecting:
            gc.enable()
