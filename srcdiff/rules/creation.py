"""Rules of functions that make arrays: those whose entries are made from numbers they
are given (``np.full``, ``np.linspace``, ``np.arange``, ``np.r_``, ``np.c_``), casts, and
the makers whose values depend on no value given (shapes, dtypes)."""

import numpy as xp

from .. import runtime as rt
from .registry import casts, jvp, nondiff, vjp

casts(xp.full, xp.full_like)


@vjp(xp.full)
def full(g, ans, shape, fill_value, dtype=None, order="C"):
    return None, rt.fill_grad(g, ans, fill_value), None, None


@jvp(xp.full, shaped=True)
def full_jvp(ans, shape, fill_value, dtype=None, order="C", *, dfill_value):
    """The fill value's tangent in every entry (none where the result is not a float)."""
    return xp.full_like(ans, dfill_value) if rt.float_result(ans) else xp.zeros_like(ans)


@vjp(xp.full_like)
def full_like(g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return None, rt.fill_grad(g, ans, fill_value), None, None, None, None


@jvp(xp.full_like, shaped=True)
def full_like_jvp(ans, a, fill_value, dtype=None, order="K", subok=True, shape=None, *, da,
                  dfill_value):  # fmt: skip
    """``a`` gives a shape and a dtype only: no tangent."""
    return None, (xp.full_like(ans, dfill_value) if rt.float_result(ans) else xp.zeros_like(ans))


@vjp(xp.linspace)
def linspace(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """Entry ``i`` is ``start + (stop - start) * i / (num - 1)``."""
    if retstep:
        raise rt.refuse("np.linspace with retstep=True", "compute the step yourself")
    d_start, d_stop = rt.linspace_grads(g, start, stop, num, endpoint, axis)
    return d_start, d_stop, None, None, None, None, None


@jvp(xp.linspace, shaped=True)
def linspace_jvp(ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
                 dstart, dstop):  # fmt: skip
    """Linear in ``start`` and ``stop`` jointly: the samples of the tangents."""
    if retstep:
        raise rt.refuse("np.linspace with retstep=True", "compute the step yourself")
    return (
        xp.linspace(dstart, xp.zeros_like(stop), num, endpoint, axis=axis)
        if ans.dtype.kind == "f"
        else xp.zeros_like(ans),
        xp.linspace(xp.zeros_like(start), dstop, num, endpoint, axis=axis)
        if ans.dtype.kind == "f"
        else xp.zeros_like(ans),
    )


@vjp(xp.logspace)
def logspace(g, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``base ** y`` with ``y = np.linspace(start, stop)`` (``start``, ``stop`` and ``base``
    broadcast together, the samples laid along ``axis``): ``x ** y``'s derivatives, those
    in ``y`` taken back through ``np.linspace``'s."""
    s, e, b = xp.broadcast_arrays(start, stop, base)
    b = xp.expand_dims(b, axis)
    d_start, d_stop = rt.linspace_grads(rt.exponent_grad(g, ans, b), start, stop, num, endpoint,
                                        axis)  # fmt: skip
    return (
        rt.cast_like(d_start, start),
        rt.cast_like(d_stop, stop),
        None,
        None,
        rt.cast_like(
            rt.unbroadcast(
                xp.sum(
                    g * rt.power_slope(b, xp.linspace(s, e, num, endpoint, axis=axis)), axis=axis
                ),
                base,
            ),
            base,
        ),
        None,
        None,
    )


@jvp(xp.logspace, shaped=True)
def logspace_jvp(ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0, *,
                 dstart, dstop, dbase):  # fmt: skip
    """``x ** y``'s tangents, that of ``y`` the samples of the tangents of ``start`` and
    ``stop``."""
    s, e, b = xp.broadcast_arrays(start, stop, base)
    return (
        rt.exponent_grad(
            xp.linspace(
                xp.broadcast_to(dstart, xp.shape(s)), xp.zeros_like(e), num, endpoint, axis=axis
            ),  # fmt: skip
            ans,
            xp.expand_dims(b, axis),
        ),
        rt.exponent_grad(
            xp.linspace(
                xp.zeros_like(s), xp.broadcast_to(dstop, xp.shape(e)), num, endpoint, axis=axis
            ),  # fmt: skip
            ans,
            xp.expand_dims(b, axis),
        ),
        rt.power_slope(xp.expand_dims(b, axis), xp.linspace(s, e, num, endpoint, axis=axis))
        * xp.expand_dims(xp.broadcast_to(dbase, xp.shape(b)), axis),
    )


@vjp(xp.geomspace)
def geomspace(g, ans, start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Entry ``i`` is ``start ** (1 - t_i) * stop ** t_i`` (``t_i`` as ``np.linspace``'s;
    both of one sign): it moves by ``(1 - t_i) / start`` and ``t_i / stop`` of itself, so
    ``np.linspace``'s gradients of ``g * ans`` over ``start`` and ``stop``."""
    d_start, d_stop = rt.linspace_grads(g * ans, start, stop, num, endpoint, axis)
    return (
        rt.cast_like(d_start / start, start),
        rt.cast_like(d_stop / stop, stop),
        None,
        None,
        None,
        None,
    )


@jvp(xp.geomspace, shaped=True)
def geomspace_jvp(ans, start, stop, num=50, endpoint=True, dtype=None, axis=0, *, dstart, dstop):
    """``ans`` times the samples of the tangents relative to ``start`` and ``stop``."""
    s, e = xp.broadcast_arrays(start, stop)
    return (
        ans
        * xp.linspace(
            xp.broadcast_to(dstart / start, xp.shape(s)), xp.zeros_like(e), num, endpoint, axis=axis
        ),  # fmt: skip
        ans
        * xp.linspace(
            xp.zeros_like(s), xp.broadcast_to(dstop / stop, xp.shape(e)), num, endpoint, axis=axis
        ),  # fmt: skip
    )


@vjp(xp.arange)
def arange(g, ans, start, stop=None, step=None, dtype=None):
    """Entry ``i`` is ``start + i * step``; ``stop`` only decides how many there are (zeros
    where nothing is differentiated: ``np.arange(stop)``, an integer range)."""
    d_start, d_stop, d_step = rt.arange_grads(g, start, stop, step)
    return rt.or_zeros(d_start, start), None, rt.or_zeros(d_step, step), None


@jvp(xp.arange, shaped=True)
def arange_jvp(ans, start, stop=None, step=None, dtype=None, *, dstart, dstop, dstep):
    """Entry ``i`` moves with ``start + i * step``; with one argument (the stop), and with
    integers, nothing moves."""
    return (
        xp.zeros_like(ans) + dstart
        if stop is not None and ans.dtype.kind == "f"
        else xp.zeros_like(ans),
        xp.zeros_like(ans),
        xp.arange(ans.shape[0], dtype=ans.dtype) * dstep
        if stop is not None and ans.dtype.kind == "f"
        else xp.zeros_like(ans),
    )


@vjp(xp.r_)
def r_(g, ans, *items):
    """``np.r_[a, b]``: the pieces concatenated, scalars as one entry each."""
    return rt.concatenator_grads(g, items, False)


@vjp(xp.c_)
def c_(g, ans, *items):
    """``np.c_[a, b]``: vectors as columns, matrices side by side."""
    return rt.concatenator_grads(g, items, True)


@jvp(xp.r_, shaped=True)
def r_jvp(ans, *items, ditems):
    """Linear in the items jointly: their tangents joined as they are (zeros for an item
    without one, and for a slice's range)."""
    return rt.concatenator_tangent(ditems, items, False)


@jvp(xp.c_, shaped=True)
def c_jvp(ans, *items, ditems):
    return rt.concatenator_tangent(ditems, items, True)


nondiff(
    "its values depend on no value it is given (only shapes, sizes and dtypes)",
    xp.zeros, xp.ones, xp.empty, xp.zeros_like, xp.ones_like, xp.empty_like, xp.eye,
    xp.identity,
)  # fmt: skip

nondiff(
    "zeros and ones (its dtype's), piecewise constant in its offset k: which entries lie on "
    "or below a diagonal",
    xp.tri,
)

# srcdiff's own tensor makers are declared in srcdiff/creation.py: the rules do not import
# the Tensor layer.
