"""Helpers of the rules of np.fft: the transpose of the inverse real transforms
(``irfft``, ``irfftn``, ``hfft``), which map a real array to a real array linearly."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module
from .creation import real_only
from .mutation import refuse

# The norm whose transform is the adjoint of a transform with this one: NumPy's
# ``backward`` scales the inverse by 1/n, and the adjoint of that scales the forward one.
_DUAL_NORM = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def fft_axes(a: Any, s: Any, axes: Any) -> tuple[int, ...]:
    """The axes ``np.fft.irfftn(a, s, axes)`` transforms, as nonnegative numbers: all of
    them when neither is given, the last ``len(s)`` when only ``s`` is; refused where one
    repeats (the gradient reads each axis once)."""
    ndim = np.ndim(a)
    if axes is None:
        axes = range(ndim) if s is None else range(ndim - len(s), ndim)
    axes = tuple(int(ax) % ndim for ax in axes)
    if len(set(axes)) < len(axes):
        raise refuse(
            "an inverse real transform along an axis given twice (NumPy transforms along it again)",
            "call the transforms one after the other, np.fft.ifft then np.fft.irfft",
        )
    return axes


def irfft_grad(d: Any, a: Any, axes: Any, norm: Any = None) -> Any:
    """The gradient of the real ``a`` in ``np.fft.irfftn(a, s, axes, norm)``, whose result's
    cotangent ``d`` is shaped like (its lengths along ``axes`` are ``s``).

    The inverse transform along the last axis reads the entries ``k`` and ``n - k`` of
    the full spectrum from ``a[k]`` alone, so the transpose weighs them twice, but the
    first (and, for an even ``n``, the last); along the other axes the transpose of a
    complex inverse transform is the forward one. The lengths of ``a`` that ``s`` cut are
    padded with zeros (entries never read), the ones it padded cut again."""
    xp = array_module(d)
    a = xp.asarray(a)  # (a list of numbers too)
    real_only(a)
    dual = _DUAL_NORM[norm]
    last = axes[-1]
    n = d.shape[last]
    spectrum = xp.fft.rfft(d, axis=last, norm=dual)
    if len(axes) > 1:
        spectrum = xp.fft.fftn(spectrum, axes=axes[:-1], norm=dual)
    weight = xp.full(spectrum.shape[last], 2.0, dtype=d.dtype)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    shape = [1] * spectrum.ndim
    shape[last] = -1
    d = xp.real(spectrum) * weight.reshape(shape)
    return _fit(xp, d.astype(xp.result_type(a, d), copy=False), a.shape, axes)


def _fit(xp: Any, d: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """``d`` cut or padded with zeros at the end of each of ``axes`` to ``shape``."""
    cut = tuple(slice(0, shape[ax]) if ax in axes else slice(None) for ax in range(d.ndim))
    d = d[cut]
    pad = [(0, shape[ax] - d.shape[ax]) if ax in axes else (0, 0) for ax in range(d.ndim)]
    return xp.pad(d, pad) if any(p[1] for p in pad) else d


def swapped_norm(norm: Any) -> Any:
    """The norm of ``np.fft.irfft`` that ``np.fft.hfft`` with ``norm`` runs with."""
    return {None: "forward", "backward": "forward", "forward": "backward"}.get(norm, norm)
