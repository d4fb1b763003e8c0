"""Rules of functions that make arrays: those whose entries are made from numbers they
are given (``np.full``, ``np.linspace``, ``np.arange``, ``np.r_``, ``np.c_``), casts, and
the makers whose values depend on no value given (shapes, dtypes)."""

import numpy as xp

from .. import runtime as rt
from .registry import nondiff, vjp


@vjp(xp.full)
def full(g, ans, shape, fill_value, dtype=None, order="C"):
    return None, rt.fill_grad(g, ans, fill_value), None, None


@vjp(xp.full_like)
def full_like(g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return None, rt.fill_grad(g, ans, fill_value), None, None, None, None


@vjp(xp.linspace)
def linspace(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """Entry ``i`` is ``start + (stop - start) * i / (num - 1)``."""
    if retstep:
        raise TypeError("srcdiff differentiates np.linspace without retstep=True")
    d_start, d_stop = rt.linspace_grads(g, start, stop, num, endpoint, axis)
    return d_start, d_stop, None, None, None, None, None


@vjp(xp.arange)
def arange(g, ans, start, stop=None, step=None, dtype=None):
    """Entry ``i`` is ``start + i * step``; ``stop`` only decides how many there are."""
    d_start, d_stop, d_step = rt.arange_grads(g, start, stop, step)
    return d_start, d_stop, d_step, None


@vjp(xp.r_)
def r_(g, ans, *items):
    """``np.r_[a, b]``: the pieces concatenated, scalars as one entry each."""
    return rt.concatenator_grads(g, items, False)


@vjp(xp.c_)
def c_(g, ans, *items):
    """``np.c_[a, b]``: vectors as columns, matrices side by side."""
    return rt.concatenator_grads(g, items, True)


nondiff(
    "its values depend on no value it is given (only shapes, sizes and dtypes)",
    xp.zeros, xp.ones, xp.empty, xp.zeros_like, xp.ones_like, xp.empty_like, xp.eye,
    xp.identity,
)  # fmt: skip

# srcdiff's own tensor makers are declared in srcdiff/creation.py: the rules do not import
# the Tensor layer.
