"""Checking that an implementation's result agrees with the hand-written NumPy reference."""

from __future__ import annotations

from typing import Any

import numpy as np

# (rtol, atol relative to the largest reference magnitude) per reference dtype.
TOLERANCES = {np.dtype(np.float32): (1e-4, 1e-5), np.dtype(np.float64): (1e-7, 1e-9)}


def leaves(result: Any) -> list[np.ndarray]:
    """The arrays of a (nested tuple/list) result, converted to NumPy.

    Tensors (torch, srcdiff) go through ``detach().cpu().numpy()``; anything else,
    JAX arrays and Python floats included, through ``np.asarray``.
    """
    if isinstance(result, tuple | list):
        return [leaf for item in result for leaf in leaves(item)]
    if hasattr(result, "detach"):
        return [np.asarray(result.detach().cpu().numpy())]
    return [np.asarray(result)]


def disagreement(result: Any, reference: Any) -> str | None:
    """Why ``result`` does not match ``reference``, or ``None`` when it does.

    Arrays must match in shape and (unless 0-d) dtype, and be ``np.allclose`` with the
    tolerance of the reference's dtype, the absolute part scaled to the reference's size.
    """
    got, want = leaves(result), leaves(reference)
    if len(got) != len(want):
        return f"{len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g.shape != w.shape:
            return f"output {i}: shape {g.shape}, expected {w.shape}"
        if w.ndim and g.dtype != w.dtype:
            return f"output {i}: dtype {g.dtype}, expected {w.dtype}"
        rtol, atol = TOLERANCES.get(w.dtype, TOLERANCES[np.dtype(np.float64)])
        scale = float(np.max(np.abs(w))) if w.size else 0.0
        if not np.allclose(g, w, rtol=rtol, atol=atol * max(scale, 1e-30)):
            err = float(np.max(np.abs(g.astype(np.float64) - w)))
            return f"output {i}: max abs error {err:.3g} (reference scale {scale:.3g})"
    return None
