"""Rules of np.fft: the inverse real transforms of a real array (``irfft``, ``irfft2``,
``irfftn``, ``hfft``), real-linear maps to a real array; the transforms whose results
are complex are refused, as srcdiff differentiates real values only.
"""

import numpy as xp

from .. import runtime as rt
from .registry import alias, jvp, linear, unsupported, vjp


@vjp(xp.fft.irfft)
def irfft(g, ans, a, n=None, axis=-1, norm=None, out=None):
    return rt.irfft_grad(g, a, rt.fft_axes(a, None, (axis,)), norm), None, None, None, None


@vjp(xp.fft.irfftn)
def irfftn(g, ans, a, s=None, axes=None, norm=None, out=None):
    return rt.irfft_grad(g, a, rt.fft_axes(a, s, axes), norm), None, None, None, None


@vjp(xp.fft.hfft)
def hfft(g, ans, a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.hfft(a)`` is ``np.fft.irfft`` of ``a``'s conjugate, ``a`` itself for a real
    one, with the other norm."""
    return (
        rt.irfft_grad(g, a, rt.fft_axes(a, None, (axis,)), rt.swapped_norm(norm)),
        None,
        None,
        None,
        None,
    )


# Each transform is linear in its array: the tangent's transform, for a real array, as in
# reverse mode (a complex one's tangent holds what rules written for real values made).


@jvp(xp.fft.irfft)
def irfft_jvp(ans, a, n=None, axis=-1, norm=None, out=None, *, da):
    rt.real_only(a)
    return xp.fft.irfft(da, n, axis, norm)


@jvp(xp.fft.hfft)
def hfft_jvp(ans, a, n=None, axis=-1, norm=None, out=None, *, da):
    rt.real_only(a)
    return xp.fft.hfft(da, n, axis, norm)


@jvp(xp.fft.irfftn)
def irfftn_jvp(ans, a, s=None, axes=None, norm=None, out=None, *, da):
    rt.real_only(a)
    return xp.fft.irfftn(da, s, axes, norm)


@vjp(rt.irfft_grad)
def irfft_grad(g, ans, d, a, axes, norm=None):
    """The transpose of the transpose: the inverse transform of ``g`` to ``d``'s lengths."""
    return xp.fft.irfftn(g, [d.shape[k] for k in axes], axes, norm), None, None, None


linear((0,), rt.irfft_grad)
# irfft2 is irfftn along the last two axes by default (irfftn's default is every axis)
alias(xp.fft.irfft2, xp.fft.irfftn, axes=(-2, -1))

COMPLEX = (
    "{} gives complex values: srcdiff differentiates real-valued code",
    "write the transform as real matrix products (np.cos and np.sin of the frequencies), "
    "or use np.fft.irfft/irfftn/hfft of a real array, which srcdiff differentiates",
)
for _name in ("fft", "ifft", "rfft", "fft2", "ifft2", "rfft2", "fftn", "ifftn", "rfftn",
              "ihfft"):  # fmt: skip
    unsupported(getattr(xp.fft, _name), COMPLEX[0].format(f"np.fft.{_name}"), COMPLEX[1])
