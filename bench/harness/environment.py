"""The report header: library versions, Python, cores and the BLAS actually loaded."""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata

import numpy as np

LIBRARIES = ("numpy", "srcdiff", "torch", "autograd", "jax", "jaxlib", "threadpoolctl")
BLAS_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def versions() -> dict[str, str]:
    """Installed version of each library of interest, or "not installed"."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def cores() -> str:
    """Logical cores, and how many this process may run on."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return f"{os.cpu_count()} logical, {usable} usable by this process"


def blas() -> list[str]:
    """The BLAS and OpenMP libraries loaded now (threadpoolctl), else NumPy's build config.

    Call it after the peers ran, so that their libraries are loaded and listed too.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [f"numpy build: {numpy_blas()} (threadpoolctl not installed)"]
    lines = [f"numpy build: {numpy_blas()}"]
    for pool in threadpool_info():
        details = ", ".join(
            f"{key} {pool[key]}"
            for key in ("version", "architecture", "threading_layer", "num_threads")
            if pool.get(key)
        )
        library = os.path.basename(pool["filepath"])
        lines.append(f"loaded {pool['internal_api']} ({library}): {details}")
    return lines + torch_blas()


def torch_blas() -> list[str]:
    """torch's own BLAS (statically linked, so threadpoolctl misses it), if torch was used."""
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    match = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return [f"torch: {match.group(1) if match else 'unknown'}, {torch.get_num_threads()} threads"]


def numpy_blas() -> str:
    """The BLAS NumPy was built against, from ``numpy.show_config``."""
    try:
        config = np.show_config(mode="dicts")
        info = config["Build Dependencies"]["blas"]
    except (TypeError, KeyError):
        return "unknown"
    return f"{info.get('name', '?')} {info.get('version', '')}".strip()


def header_lines(load_before: tuple[float, float, float]) -> list[str]:
    """Markdown bullet lines describing the machine and software.

    ``load_before`` is ``os.getloadavg()`` taken before the run: other work on the
    machine makes the times noisy, and this shows it.
    """
    names = versions()
    load = ", ".join(f"{x:.2f}" for x in load_before)
    lines = [
        f"- Python {platform.python_version()} ({platform.python_implementation()}),"
        f" {platform.system()} {platform.machine()}",
        f"- cores: {cores()}; load average before the run (1, 5, 15 min): {load}",
        "- versions: " + ", ".join(f"{name} {version}" for name, version in names.items()),
    ]
    lines += [f"- BLAS: {line}" for line in blas()]
    env = [f"{key}={os.environ[key]}" for key in BLAS_ENV if key in os.environ]
    if env:
        lines.append("- environment: " + " ".join(env))
    return lines
