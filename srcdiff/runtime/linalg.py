"""Gradients of ``np.linalg.norm`` for every ``ord`` and ``axis`` NumPy accepts."""

from __future__ import annotations

from typing import Any

from ..backend import array_module, astype
from .arrays import keep_dims


def _share_ties(mask: Any, axis: Any, like: Any, xp: Any) -> Any:
    """``mask`` (where an extreme is attained) in ``like``'s dtype, scaled so that ties
    share evenly."""
    mask = astype(mask, like.dtype)
    return mask / xp.sum(mask, axis=axis, keepdims=True)


def _vector_grad(x: Any, n: Any, ord: Any, axis: int) -> Any:
    """d‖x‖/dx along ``axis`` (``n``: the norm, with the axis kept)."""
    xp = array_module(x)
    a = xp.abs(x)
    if ord is None or ord == 2:
        return x / xp.where(n == 0, 1, n)
    if ord == float("inf") or ord == -float("inf"):
        extreme = xp.max(a, axis=axis, keepdims=True) if ord > 0 else \
            xp.min(a, axis=axis, keepdims=True)  # fmt: skip
        return xp.sign(x) * _share_ties(a == extreme, axis, x, xp)
    if ord == 0:
        return xp.zeros_like(x)
    if ord == 1:
        return xp.sign(x)
    safe = xp.where(n == 0, 1, n)
    return xp.sign(x) * a ** (ord - 1) / safe ** (ord - 1)


def _matrix_grad(x: Any, n: Any, ord: Any) -> Any:
    """d‖x‖/dx for matrices in the last two axes (``n`` with both axes kept)."""
    xp = array_module(x)
    if ord is None or ord == "fro":
        return x / xp.where(n == 0, 1, n)
    if ord in ("nuc", 2, -2):
        u, s, vt = xp.linalg.svd(x, full_matrices=False)
        if ord == "nuc":
            return u @ vt
        k = 0 if ord == 2 else -1
        return u[..., :, k : k + 1 if k == 0 else None] @ vt[..., k : k + 1 if k == 0 else None, :]
    a = xp.abs(x)
    if ord in (1, -1):  # the largest (smallest) column sum of |x|
        sums = xp.sum(a, axis=-2, keepdims=True)
        pick = xp.max(sums, axis=-1, keepdims=True) if ord == 1 else \
            xp.min(sums, axis=-1, keepdims=True)  # fmt: skip
        return xp.sign(x) * _share_ties(sums == pick, -1, x, xp)
    if ord in (float("inf"), -float("inf")):  # rows
        sums = xp.sum(a, axis=-1, keepdims=True)
        pick = xp.max(sums, axis=-2, keepdims=True) if ord > 0 else \
            xp.min(sums, axis=-2, keepdims=True)  # fmt: skip
        return xp.sign(x) * _share_ties(sums == pick, -2, x, xp)
    raise ValueError(f"Invalid norm order {ord!r} for matrices.")


def norm_grad(g: Any, ans: Any, x: Any, ord: Any = None, axis: Any = None,
              keepdims: bool = False) -> Any:  # fmt: skip
    """The gradient of ``np.linalg.norm(x, ord, axis, keepdims)`` given that of its
    result (ties of max/min norms share evenly; the gradient at 0 is 0)."""
    xp = array_module(x)
    if axis is None and (ord is None or x.ndim == 1):
        flat = xp.reshape(x, (-1,))
        d = _vector_grad(flat, xp.reshape(ans, (1,)), ord, 0)
        return xp.reshape(d * xp.reshape(g, ()), x.shape)
    if axis is None:
        axis = (0, 1)
    if isinstance(axis, int) or len(axis) == 1:
        axis = axis if isinstance(axis, int) else axis[0]
        n = keep_dims(ans, x, axis, keepdims)
        return keep_dims(g, x, axis, keepdims) * _vector_grad(x, n, ord, axis)
    rows, cols = (a % x.ndim for a in axis)
    moved = xp.moveaxis(x, (rows, cols), (-2, -1))
    n = xp.moveaxis(keep_dims(ans, x, axis, keepdims), (rows, cols), (-2, -1))
    gm = xp.moveaxis(keep_dims(g, x, axis, keepdims), (rows, cols), (-2, -1))
    return xp.moveaxis(gm * _matrix_grad(moved, n, ord), (-2, -1), (rows, cols))
