"""Rules of assembling and cutting arrays: stacks, append, splits, tile, repeat, roll,
flips and rotations, atleast_*, pad, diagonals and triangles, sliding windows, insert,
delete, resize, block and trim_zeros."""

import numpy as xp
from numpy.lib.stride_tricks import sliding_window_view as _sliding_window_view

from .. import runtime as rt
from .registry import jvp, linear, sequence_result, vjp

# A join's gradient is ``g`` cut back into its pieces; a cut's gradient is the pieces'
# gradients joined back (zeros for a piece nobody used); a copy's is the copies summed.


@vjp(xp.hstack)
def hstack(g, ans, tup, dtype=None, casting="same_kind"):
    return rt.unjoin(g, tup, "hstack"), None, None


@vjp(xp.vstack, *([xp.row_stack] if hasattr(xp, "row_stack") else []))
def vstack(g, ans, tup, dtype=None, casting="same_kind"):
    return rt.unjoin(g, tup, "vstack"), None, None


@vjp(xp.dstack)
def dstack(g, ans, tup):
    return rt.unjoin(g, tup, "dstack")


@vjp(xp.column_stack)
def column_stack(g, ans, tup):
    return rt.unjoin(g, tup, "column_stack")


@vjp(xp.append)
def append(g, ans, arr, values, axis=None):
    d_arr, d_values = rt.append_grads(g, arr, values, axis)
    return d_arr, d_values, None


@vjp(xp.split, xp.array_split)
def split(g, ans, ary, indices_or_sections, axis=0):
    return rt.unsplit(g, ans, ary, axis), None, None


@vjp(xp.hsplit)
def hsplit(g, ans, ary, indices_or_sections):
    return rt.unsplit(g, ans, ary, 1 if ary.ndim > 1 else 0), None


@vjp(xp.vsplit)
def vsplit(g, ans, ary, indices_or_sections):
    return rt.unsplit(g, ans, ary, 0), None


@vjp(xp.dsplit)
def dsplit(g, ans, ary, indices_or_sections):
    return rt.unsplit(g, ans, ary, 2), None


@vjp(xp.tile)
def tile(g, ans, A, reps):
    return rt.tile_grad(g, A, reps), None


@vjp(xp.repeat, "ndarray.repeat")
def repeat(g, ans, a, repeats, axis=None):
    return rt.repeat_grad(g, a, repeats, axis), None, None


@vjp(xp.roll)
def roll(g, ans, a, shift, axis=None):
    return xp.roll(g, rt.negated(shift), axis=axis), None, None


@vjp(xp.fft.fftshift)
def fftshift(g, ans, x, axes=None):
    """A permutation of the entries: its inverse, ``ifftshift``, carries ``g`` back."""
    return xp.fft.ifftshift(g, axes=axes), None


@vjp(xp.fft.ifftshift)
def ifftshift(g, ans, x, axes=None):
    return xp.fft.fftshift(g, axes=axes), None


@vjp(xp.fliplr)
def fliplr(g, ans, m):
    return xp.flip(g, axis=1)


@vjp(xp.flipud)
def flipud(g, ans, m):
    return xp.flip(g, axis=0)


@vjp(xp.rot90)
def rot90(g, ans, m, k=1, axes=None):
    """``axes=None`` stands for NumPy's default ``(0, 1)``."""
    return xp.rot90(g, -k, axes=(0, 1) if axes is None else axes), None, None


@vjp(xp.atleast_1d, xp.atleast_2d, xp.atleast_3d)
def atleast_nd(g, ans, *arys):
    return rt.atleast_grads(g, ans, arys)


@vjp(xp.ix_)
def ix_(g, ans, *args):
    """Each argument reshaped to lie along its own axis (a boolean one gives the integer
    positions of its true entries: no gradient)."""
    return tuple(
        xp.reshape(d, xp.shape(x)) if rt.float_result(a) else None
        for d, a, x in zip(rt.result_grads(g, ans), ans, args, strict=True)
    )


@jvp(xp.ix_, shaped=True)
def ix_jvp(ans, *args, dargs):
    """Each tangent laid along its argument's axis (zeros for a boolean argument's
    positions)."""
    return [
        xp.reshape(d, xp.shape(a))
        if d is not None and rt.float_result(a)
        else xp.zeros(xp.shape(a))
        for d, a in zip(dargs, ans, strict=True)
    ]


@vjp(xp.meshgrid)
def meshgrid(g, ans, *xi, copy=True, sparse=False, indexing="xy"):
    """Each grid is its vector spread along the other axes: its adjoint summed back."""
    return (None, None, None, *rt.meshgrid_grads(g, ans, xi, indexing))


@jvp(xp.meshgrid, shaped=True)
def meshgrid_jvp(ans, copy=True, sparse=False, indexing="xy", *xi, dxi):
    """The grids of the tangents (zeros for a vector without one), laid out alike."""
    return rt.meshgrid_tangent(ans, xi, dxi, sparse, indexing)


@vjp(xp.broadcast_arrays)
def broadcast_arrays(g, ans, *args, subok=False):
    return (None, *rt.broadcast_grads(g, ans, args))


@jvp(xp.broadcast_arrays, shaped=True)
def broadcast_arrays_jvp(ans, subok=False, *args, dargs):
    return rt.broadcast_tangent(ans, dargs)


@vjp(xp.pad)
def pad(
    g,
    ans,
    array,
    pad_width,
    mode="constant",
    stat_length=None,
    constant_values=0,
    end_values=0,
    reflect_type="even",
):
    """Modes 'constant' (``constant_values`` gets the padding's gradient), 'edge',
    'reflect', 'symmetric', 'wrap', 'mean', 'maximum' and 'minimum' (ties share, as
    ``np.max``'s); any other is refused when the gradient is taken."""
    d_array, d_values = rt.pad_grads(
        g, array, pad_width, mode, constant_values, reflect_type, stat_length
    )
    return d_array, None, None, None, d_values, None, None


@jvp(xp.pad, shaped=True)
def pad_jvp(
    ans,
    array,
    pad_width,
    mode="constant",
    stat_length=None,
    constant_values=0,
    end_values=0,
    reflect_type="even",
    *,
    darray,
    dconstant_values,
):
    """Linear in ``array`` and ``constant_values`` jointly, in the modes the reverse rule
    takes (the padding reads entries of ``array`` again, or is the constant); in modes
    'mean', 'maximum' and 'minimum', the statistic's tangent."""
    if mode not in (
        "constant",
        "edge",
        "reflect",
        "symmetric",
        "wrap",
        "mean",
        "maximum",
        "minimum",
    ) or (mode in ("reflect", "symmetric") and reflect_type != "even"):
        raise rt.refuse(
            f"np.pad in mode {mode!r} (reflect_type={reflect_type!r}), in forward mode or "
            "second derivatives",
            "use mode 'constant', 'edge', 'wrap', 'reflect', 'symmetric' (with "
            "reflect_type='even'), 'mean', 'maximum' or 'minimum', or sd.grad",
        )
    return (
        rt.pad_stat_tangent(array, darray, pad_width, mode, stat_length)
        if mode in ("mean", "maximum", "minimum")
        else xp.pad(darray, pad_width, mode=mode),
        xp.pad(xp.zeros_like(array, dtype=ans.dtype), pad_width, constant_values=dconstant_values)
        if mode == "constant" and ans.dtype.kind == "f"
        else xp.zeros_like(ans),
    )


@vjp(xp.diag)
def diag(g, ans, v, k=0):
    return rt.diag_grad(g, v, k), None


@vjp(xp.diagonal, "ndarray.diagonal")
def diagonal(g, ans, a, offset=0, axis1=0, axis2=1):
    return rt.diagonal_grad(g, a, offset, axis1, axis2), None, None, None


@vjp(xp.tril)
def tril(g, ans, m, k=0):
    """A vector ``m`` is broadcast to the rows of a matrix: their gradients add up."""
    return rt.tri_grad(g, m, k, False), None


@vjp(xp.triu)
def triu(g, ans, m, k=0):
    """A vector ``m`` is broadcast to the rows of a matrix: their gradients add up."""
    return rt.tri_grad(g, m, k, True), None


@vjp(_sliding_window_view)
def sliding_window_view(g, ans, x, window_shape, axis=None, subok=False, writeable=False):
    return rt.window_grad(g, x, window_shape, axis), None, None, None, None


@vjp(xp.diagflat)
def diagflat(g, ans, v, k=0):
    """``np.diag`` of ``v`` flattened: its diagonal's gradient, in ``v``'s shape."""
    return xp.reshape(xp.diagonal(g, k), xp.shape(v)), None


@vjp(xp.ediff1d)
def ediff1d(g, ans, ary, to_end=None, to_begin=None):
    """``[*to_begin, *np.diff(ary.ravel()), *to_end]``: each entry of ``ary`` is the end
    of one difference and the start of the next; ``to_begin`` and ``to_end`` get theirs."""
    n = xp.size(ary)
    begin = 0 if to_begin is None else xp.size(to_begin)
    end = begin + max(n - 1, 0)  # (no entries: no differences, and no entry at the ends)
    steps = g[begin:end]
    zero = xp.zeros(min(n, 1), dtype=g.dtype)
    return (
        xp.reshape(xp.concatenate([zero, steps]) - xp.concatenate([steps, zero]), xp.shape(ary)),
        None if to_end is None else xp.reshape(g[end:], xp.shape(to_end)),
        None if to_begin is None else xp.reshape(g[:begin], xp.shape(to_begin)),
    )


@jvp(xp.ediff1d, shaped=True)
def ediff1d_jvp(ans, ary, to_end=None, to_begin=None, *, dary, dto_end, dto_begin):
    """Linear in the three jointly: each tangent's part, zeros in the others' places (an
    end not given stays not given)."""
    end = None if to_end is None else xp.zeros(xp.shape(to_end), dtype=ans.dtype)
    begin = None if to_begin is None else xp.zeros(xp.shape(to_begin), dtype=ans.dtype)
    return (
        xp.ediff1d(dary, end, begin),
        xp.ediff1d(
            xp.zeros(xp.shape(ary), dtype=ans.dtype), None if to_end is None else dto_end, begin
        ),
        xp.ediff1d(
            xp.zeros(xp.shape(ary), dtype=ans.dtype), end, None if to_begin is None else dto_begin
        ),
    )


# Entries moved without being changed (``rt.sources_grad``): each argument's gradient is
# ``g`` at the places its entries went, summed over copies.


@vjp(xp.insert)
def insert(g, ans, arr, obj, values, axis=None):
    """The inserted ``values`` are broadcast into place: their copies' gradients add up;
    the positions ``obj`` get none."""
    from_arr, from_values = rt.insert_sources(arr, obj, values, axis)
    return rt.sources_grad(g, arr, from_arr), None, rt.sources_grad(g, values, from_values), None


@vjp(xp.delete)
def delete(g, ans, arr, obj, axis=None):
    """The entries deleted get no gradient."""
    return rt.sources_grad(g, arr, rt.delete_sources(arr, obj, axis)), None, None


@vjp(xp.resize)
def resize(g, ans, a, new_shape):
    """``a``'s entries repeated (or cut short) to fill ``new_shape``: the copies add up."""
    return rt.sources_grad(g, a, rt.resize_sources(a, new_shape)), None


@vjp(xp.block)
def block(g, ans, arrays):
    """Each leaf of the nested lists gets its block of ``g`` (summed where a leaf of
    fewer dimensions was broadcast up to the block's)."""
    return rt.block_grads(g, arrays)


@vjp(xp.trim_zeros)
def trim_zeros(g, ans, filt, trim="fb", axis=None):
    """The identity where no zero is trimmed off; refused where one is (``rt.trim_sources``)."""
    return rt.sources_grad(g, filt, rt.trim_sources(filt, trim, axis)), None, None


@jvp(xp.insert, shaped=True)
def insert_jvp(ans, arr, obj, values, axis=None, *, darr, dvalues):
    from_arr, from_values = rt.insert_sources(arr, obj, values, axis)
    return rt.sources_tangent(darr, arr, from_arr), rt.sources_tangent(dvalues, values, from_values)


@jvp(xp.delete, shaped=True)
def delete_jvp(ans, arr, obj, axis=None, *, darr):
    return rt.sources_tangent(darr, arr, rt.delete_sources(arr, obj, axis))


@jvp(xp.resize, shaped=True)
def resize_jvp(ans, a, new_shape, *, da):
    return rt.sources_tangent(da, a, rt.resize_sources(a, new_shape))


@jvp(xp.trim_zeros, shaped=True)
def trim_zeros_jvp(ans, filt, trim="fb", axis=None, *, dfilt):
    return rt.sources_tangent(dfilt, filt, rt.trim_sources(filt, trim, axis))


linear((0,), xp.block)

# Forward: every rule of this family but pad's moves or copies entries without changing
# them: linear in the arrays (``append`` in its two arrays jointly, ``atleast_*`` in each of
# its arrays, which it returns as a tuple when there are several).
linear((0,), xp.hstack, xp.vstack, *([xp.row_stack] if hasattr(xp, "row_stack") else []),
       xp.dstack, xp.column_stack, xp.split, xp.array_split, xp.hsplit, xp.vsplit, xp.dsplit,
       xp.tile, xp.repeat, "ndarray.repeat", xp.roll, xp.fliplr, xp.flipud, xp.rot90, xp.diag,
       xp.diagonal, "ndarray.diagonal", xp.tril, xp.triu, _sliding_window_view, xp.fft.fftshift,
       xp.fft.ifftshift)  # fmt: skip
linear((0, 1), xp.append)
linear((0,), xp.diagflat)
linear("all", xp.atleast_1d, xp.atleast_2d, xp.atleast_3d)
sequence_result(xp.ix_, xp.split, xp.array_split, xp.hsplit, xp.vsplit, xp.dsplit, xp.atleast_1d,
                xp.atleast_2d, xp.atleast_3d, xp.meshgrid, xp.broadcast_arrays)  # fmt: skip
