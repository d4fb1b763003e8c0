"""Rules of shape manipulation: reshape, transpose, squeeze, concatenate, stack, ..."""

import numpy as xp

from .. import runtime as rt
from .registry import jvp, linear, nondiff, sequence_result, unsupported, vjp


@vjp(xp.reshape)
def reshape(g, ans, a, shape):
    return rt.reshape_like(g, a), None


@vjp("ndarray.reshape")
def reshape_method(g, ans, a, *shape):
    return rt.reshape_like(g, a)


@vjp(xp.ravel, "ndarray.ravel", "ndarray.flatten")
def ravel(g, ans, a):
    return rt.reshape_like(g, a)


@vjp(xp.squeeze, "ndarray.squeeze")
def squeeze(g, ans, a, axis=None):
    return rt.reshape_like(g, a), None


@vjp(xp.expand_dims)
def expand_dims(g, ans, a, axis):
    return rt.reshape_like(g, a), None


@vjp(xp.transpose)
def transpose(g, ans, a, axes=None):
    return rt.transpose_grad(g, axes), None


@vjp("ndarray.transpose")
def transpose_method(g, ans, a, *axes):
    return rt.transpose_grad(g, axes or None)


@vjp("ndarray.T")
def T(g, ans, a):
    return rt.transpose_grad(g)


@vjp("ndarray.mT")
def mT(g, ans, a):  # noqa: N802 - the attribute's name
    """The transpose of a stack of matrices: its last two axes swapped back."""
    return g.mT


@vjp(xp.swapaxes, "ndarray.swapaxes")
def swapaxes(g, ans, a, axis1, axis2):
    return xp.swapaxes(g, axis1, axis2), None, None


@vjp(xp.moveaxis)
def moveaxis(g, ans, a, source, destination):
    return xp.moveaxis(g, destination, source), None, None


@vjp(xp.rollaxis)
def rollaxis(g, ans, a, axis, start=0):
    """The axis ``axis`` lands at ``start`` (one less past it): move it back."""
    n = xp.ndim(a)
    src = axis % n
    dst = start + n if start < 0 else start
    return xp.moveaxis(g, dst - 1 if dst > src else dst, src), None, None


@vjp(xp.broadcast_to)
def broadcast_to(g, ans, array, shape):
    return rt.unbroadcast(g, array), None


@vjp(xp.concatenate)
def concatenate(g, ans, arrays, axis=0):
    return rt.split_like(g, arrays, axis), None


@vjp(xp.stack)
def stack(g, ans, arrays, axis=0):
    return rt.unstack(g, arrays, axis), None


@vjp(xp.flip)
def flip(g, ans, m, axis=None):
    return xp.flip(g, axis=axis), None


@vjp("ndarray.view")
def view(g, ans, a, dtype=None, type=None):  # noqa: A002 - NumPy's names
    """``a.view()``: the same entries (a view as another dtype or class is refused)."""
    return rt.view_grad(g, a, dtype, type), None, None


@jvp("ndarray.view")
def view_jvp(ans, a, dtype=None, type=None, *, da):  # noqa: A002 - NumPy's names
    return rt.view_grad(da, a, dtype, type)


@vjp("ndarray.tolist")
def tolist(g, ans, a):
    """The numbers of nested lists (one number for a 0-d array) back in ``a``'s shape."""
    return rt.tolist_grad(g, ans, a)


UNSTACK = [xp.unstack] if hasattr(xp, "unstack") else []  # NumPy 2.1


@vjp(*UNSTACK)
def unstack(g, ans, x, axis=0):
    """The slices' gradients (zeros for one not used) stacked back."""
    return rt.restack(g, ans, x, axis), None


nondiff(
    "a shape, a size or a dtype: integers and types",
    xp.shape, xp.size, xp.ndim, "ndarray.shape", "ndarray.size", "ndarray.ndim",
    "ndarray.dtype",
)  # fmt: skip


# Forward: every rule of this family moves entries without changing them: linear.
linear((0,), xp.reshape, "ndarray.reshape", xp.ravel, "ndarray.ravel", "ndarray.flatten",
       xp.squeeze, "ndarray.squeeze", xp.expand_dims, xp.transpose, "ndarray.transpose",
       "ndarray.T", "ndarray.mT", xp.swapaxes, "ndarray.swapaxes", xp.moveaxis, xp.rollaxis,
       xp.broadcast_to, xp.concatenate, xp.stack, xp.flip, *UNSTACK)  # fmt: skip
sequence_result(*UNSTACK)  # a tuple of slices
linear((0,), "ndarray.tolist")
sequence_result("ndarray.tolist")  # a list of numbers (of lists): it adds up entry by entry

for _apply in (xp.apply_along_axis, xp.apply_over_axes):
    unsupported(
        _apply,
        f"a function np.{_apply.__name__} calls on each slice: NumPy's loop over them is not "
        "code srcdiff differentiates",
        "call it on each slice yourself (np.stack([f(x[:, j]) for j in range(x.shape[1])]) "
        "for axis=0), or write it with array operations that take an axis",
    )

for _matrix in (xp.asmatrix, xp.bmat, xp.matrix):
    unsupported(
        _matrix,
        f"np.{_matrix.__name__} makes an np.matrix, whose * is a matrix product and whose "
        "reductions keep two dimensions: srcdiff differentiates arrays only",
        "keep an ndarray: np.asarray(x) (np.block for np.bmat), and @ for the product",
    )
unsupported(
    xp.sort_complex,
    "np.sort_complex gives complex values: srcdiff differentiates real-valued code",
    "for real values, np.sort(x) is the same order",
)
