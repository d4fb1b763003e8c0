"""Gradients of ``np.linalg.norm`` for every ``ord`` and ``axis`` NumPy accepts, and the
derivatives of those gradients (the norm's second derivatives, for forward mode's rule
differentiated again); the gradient of ``np.linalg.eigh``; and the helpers of the rules of
``scipy.linalg`` (``rules/scipy_linalg.py``): its triangular solve and the Fréchet
derivative of the matrix exponential, primitives with rules of their own (the forward
rules call them, and are differentiated again), and the gradients of ``cho_solve``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module, astype, dtype_kind
from .arrays import _swap_last, cast_like, keep_dims, unbroadcast
from .contractions import eigen_gaps, result_grads, triangle_grad
from .creation import real_only
from .mutation import refuse


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
        # ``U diag(share) V^T``: the nuclear norm's ``U V^T`` without the pairs of singular
        # values 0 (|s| at 0, as a norm at 0: none), the spectral norms' pair of the largest
        # (smallest) singular value, shared evenly where it ties (as ord 1 and inf share
        # theirs), which no basis of the tied pairs LAPACK returns changes
        u, s, vt = xp.linalg.svd(x, full_matrices=False)
        top = xp.max(s, axis=-1, keepdims=True) if s.shape[-1] else s
        tol = max(s.shape[-1], 1) * float(xp.finfo(s.dtype).eps) * top
        if ord == "nuc":
            share = astype(s > tol, x.dtype)
        else:
            extreme = s[..., :1] if ord == 2 else s[..., -1:]
            share = _share_ties(xp.abs(s - extreme) <= tol, -1, x, xp)
        return (u * share[..., None, :]) @ vt
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
    real_only(x)
    xp = array_module(x)
    x = xp.asarray(x)  # (a list, as NumPy takes it)
    if x.size == 0:  # (no entry to move: no max or min to find either)
        return xp.zeros_like(x)
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


def _layout(ans: Any, x: Any, ord: Any, axis: Any) -> tuple[Any, Any]:
    """How ``norm_grad`` reads ``x``: ``("flat", None)``, ``("vector", axis)`` or
    ``("matrix", (rows, cols))``."""
    if axis is None and (ord is None or x.ndim == 1):
        return "flat", None
    if axis is None:
        axis = (0, 1)
    if isinstance(axis, int) or len(axis) == 1:
        return "vector", axis if isinstance(axis, int) else axis[0]
    return "matrix", tuple(a % x.ndim for a in axis)


def _vector_second(c: Any, x: Any, n: Any, gk: Any, ord: Any, axis: int) -> tuple[Any, Any]:
    """The gradients of ``x`` and of the norm ``n`` (axis kept) of ``gk * slope(x, n)``
    (``_vector_grad``) given its adjoint ``c``: zero for the piecewise constant slopes
    (``ord`` 0, 1, +-inf)."""
    xp = array_module(x)
    if ord in (0, 1, float("inf"), -float("inf")):
        return xp.zeros_like(x), xp.zeros_like(n)
    safe = xp.where(n == 0, 1, n)
    cg = c * gk
    if ord is None or ord == 2:
        d_n = -xp.sum(cg * x, axis=axis, keepdims=True) / (safe * safe)
        return cg / safe, xp.where(n == 0, 0.0, d_n)
    a = xp.abs(x)
    d_x = cg * (ord - 1) * a ** (ord - 2) / safe ** (ord - 1)
    d_n = -(ord - 1) * xp.sum(cg * xp.sign(x) * a ** (ord - 1), axis=axis, keepdims=True)
    return d_x, xp.where(n == 0, 0.0, d_n / safe**ord)


def _matrix_second(c: Any, x: Any, n: Any, gk: Any, ord: Any) -> tuple[Any, Any]:
    """The gradients of ``x`` and of ``n`` of ``gk * _matrix_grad(x, n, ord)`` (matrices in
    the last two axes) given its adjoint ``c``: the Frobenius norm's as a vector's; the
    nuclear and spectral norms' slopes ``U V^T`` and ``u_k v_k^T`` through the SVD's
    gradient (distinct nonzero singular values); zero for the piecewise constant ones."""
    from .contractions import svd_grad

    xp = array_module(x)
    cg = c * gk
    if ord is None or ord == "fro":
        safe = xp.where(n == 0, 1, n)
        d_n = -xp.sum(cg * x, axis=(-2, -1), keepdims=True) / (safe * safe)
        return cg / safe, xp.where(n == 0, 0.0, d_n)
    if ord in ("nuc", 2, -2):
        u, s, vt = xp.linalg.svd(x, full_matrices=False)
        gu, gvt = cg @ _swap_last(xp, vt), _swap_last(xp, u) @ cg
        if ord != "nuc":  # only the largest (smallest) singular pair
            pick = xp.arange(s.shape[-1]) == (0 if ord == 2 else s.shape[-1] - 1)
            gu, gvt = gu * pick, gvt * pick[:, None]
        d_x = svd_grad((gu, xp.zeros_like(s), gvt), (u, s, vt), x, False)
        return d_x, xp.zeros_like(n)
    return xp.zeros_like(x), xp.zeros_like(n)


def norm_grad_grads(gbar: Any, g: Any, ans: Any, x: Any, ord: Any = None, axis: Any = None,
                    keepdims: bool = False) -> tuple[Any, Any, Any]:  # fmt: skip
    """The gradients of ``g``, ``ans`` and ``x`` of ``norm_grad(g, ans, x, ord, axis,
    keepdims)`` given its adjoint ``gbar``: linear in ``g``; in ``ans`` and ``x`` the
    derivatives of each norm's slope (zero where the slope is piecewise constant)."""
    xp = array_module(x)
    gbar = xp.asarray(gbar)
    kind, where = _layout(ans, x, ord, axis)
    slope = norm_grad(xp.ones_like(xp.asarray(ans)), ans, x, ord, axis, keepdims)
    if kind == "flat":
        flat = xp.reshape(x, (-1,))
        n = xp.reshape(xp.asarray(ans), (1,))
        d_x, d_n = _vector_second(xp.reshape(gbar, (-1,)), flat, n, xp.reshape(g, (1,)), ord, 0)
        d_g = xp.sum(gbar * slope)
        return (xp.reshape(d_g, xp.shape(g)), xp.reshape(d_n, xp.shape(ans)),
                xp.reshape(d_x, x.shape))  # fmt: skip
    if kind == "vector":
        n, gk = keep_dims(ans, x, where, keepdims), keep_dims(g, x, where, keepdims)
        d_x, d_n = _vector_second(gbar, x, n, gk, ord, where)
        d_g = xp.sum(gbar * slope, axis=where, keepdims=True)
    else:
        rows, cols = where
        moved = xp.moveaxis(x, (rows, cols), (-2, -1))
        n = xp.moveaxis(keep_dims(ans, x, where, keepdims), (rows, cols), (-2, -1))
        gk = xp.moveaxis(keep_dims(g, x, where, keepdims), (rows, cols), (-2, -1))
        c = xp.moveaxis(gbar, (rows, cols), (-2, -1))
        d_x, d_n = _matrix_second(c, moved, n, gk, ord)
        d_x = xp.moveaxis(d_x, (-2, -1), (rows, cols))
        d_n = xp.moveaxis(d_n, (-2, -1), (rows, cols))
        d_g = xp.sum(gbar * slope, axis=where, keepdims=True)
    return (xp.reshape(d_g, xp.shape(g)), xp.reshape(d_n, xp.shape(ans)),
            xp.reshape(d_x, x.shape))  # fmt: skip


def norm_exponent(x: Any, ord: Any = None, axis: Any = None) -> Any:
    """The power ``p`` of the norm in the slope ``norm_grad`` gives, for the norms whose
    slope reads the norm (``g sign(x) |x|^(p-1) / n^(p-1)``: the p-norms of vectors, 2
    for the Frobenius norm); 1 for the others (``ord`` 0, 1, inf, the nuclear and
    spectral norms), whose slope does not read it."""
    x = array_module(x).asarray(x)
    kind, _ = _layout(None, x, ord, axis)
    if kind == "matrix" or (kind == "flat" and x.ndim > 1):
        return 2 if ord in (None, "fro") else 1
    return 2 if ord is None else 1 if ord in (0, 1, float("inf"), -float("inf")) else ord


def norm_slope_tangent(dx: Any, g: Any, ans: Any, x: Any, ord: Any = None, axis: Any = None,
                       keepdims: bool = False) -> Any:  # fmt: skip
    """The tangent of ``norm_grad(g, ans, x, ord, axis, keepdims)`` along ``dx`` in ``x``
    alone (the norm held): symmetric in ``dx`` (a p-norm's slope changes entry by entry,
    a matrix norm's by its Hessian), so ``norm_grad_grads`` gives it."""
    return norm_grad_grads(dx, g, ans, x, ord, axis, keepdims)[2]


def norm_slope_second(dx: Any, dy: Any, g: Any, ans: Any, x: Any, ord: Any = None,
                      axis: Any = None, keepdims: bool = False) -> Any:  # fmt: skip
    """The tangent of ``norm_slope_tangent(dx, g, ans, x, ...)`` along ``dy`` in ``x`` (the
    norm held): the nuclear and spectral norms' through the SVD's second derivative
    (``_svd_slope_along``), the others' ``norm_slope_power`` of ``dx dy``."""
    xp = array_module(x)
    x = xp.asarray(x)
    kind, where = _layout(ans, x, ord, axis)
    if kind == "matrix" and ord in ("nuc", 2, -2):
        rows, cols = where
        gm = xp.moveaxis(keep_dims(g, x, where, keepdims), (rows, cols), (-2, -1))
        moved = [xp.moveaxis(xp.asarray(v), (rows, cols), (-2, -1)) for v in (x, dx, dy)]
        return xp.moveaxis(
            gm * _svd_slope_along(xp, ord, moved[0], moved[1:]), (-2, -1), (rows, cols)
        )
    return norm_slope_power(xp.asarray(dx) * dy, g, ans, x, 2, ord, axis, keepdims)


def norm_slope_power(dd: Any, g: Any, ans: Any, x: Any, k: int, ord: Any = None,
                     axis: Any = None, keepdims: bool = False) -> Any:  # fmt: skip
    """The ``k``-th derivative in ``x`` (the norm held) of a norm's slope ``norm_grad(g,
    ans, x, ...)`` along directions whose entrywise product is ``dd``: a p-norm's slope
    ``g sign(x) |x|^(p-1) / n^(p-1)`` moves entry by entry, so that derivative is
    ``g (p-1)...(p-k) sign(x)^(k+1) |x|^(p-1-k) dd / n^(p-1)`` (0 where the norm is 0, and
    for ``k`` of 2 or more where the slope is linear or piecewise constant in ``x``);
    written once for every ``k``, its rules are itself at ``k + 1``. The nuclear and
    spectral norms' slopes do not move entry by entry: refused (srcdiff's rules take
    them along each direction apart, ``norm_slope_along``)."""
    xp = array_module(x)
    x = xp.asarray(x)
    kind, where = _layout(ans, x, ord, axis)
    if kind == "matrix" and ord in ("nuc", 2, -2):
        raise refuse(
            f"a derivative of order {k + 1} of the {'nuclear' if ord == 'nuc' else 'spectral'} "
            "norm of a matrix (np.linalg.norm(x, ord)) along a product of directions: the "
            "slope of the nuclear and spectral norms does not move entry by entry",
            "call rt.norm_slope_along with the directions apart",
        )
    p = norm_exponent(x, ord, axis)
    factor = 1.0
    for i in range(1, k + 1):
        factor = factor * (p - i)
    if factor == 0:
        return xp.zeros_like(x * dd)
    if kind == "flat":
        n, gk = xp.reshape(xp.asarray(ans), (1,)), xp.reshape(xp.asarray(g), (1,))
        d = _p_power(xp.reshape(x, (-1,)), n, gk, p, k, factor, xp.reshape(dd, (-1,)))
        return xp.reshape(d, x.shape)
    n, gk = keep_dims(ans, x, where, keepdims), keep_dims(g, x, where, keepdims)
    return _p_power(x, n, gk, p, k, factor, dd)


def norm_slope_along(terms: Any, g: Any, ans: Any, x: Any, ord: Any = None, axis: Any = None,
                     keepdims: bool = False) -> Any:  # fmt: skip
    """For each row ``terms[j]`` (``k`` directions shaped like ``x``), the ``k``-th
    derivative in ``x`` (the norm held) of a norm's slope ``norm_grad(g, ans, x, ...)``
    along those directions, stacked (shape ``(m, *x.shape)``). It is symmetric in them
    (the slope is a gradient), so its rules are itself with a direction replaced or one
    more: rows of directions, built by array operations, go to any order. The nuclear and
    spectral norms' slopes (``U V^T``, ``u_k v_k^T``) by forward mode ``k`` times over that
    slope written as source, through the SVD's rules; the others' by
    ``norm_slope_power`` of the directions' product."""
    xp = array_module(x)
    x, terms = xp.asarray(x), xp.asarray(terms)
    kind, where = _layout(ans, x, ord, axis)
    k = terms.shape[1]
    rows = []
    for term in terms:
        if kind == "matrix" and ord in ("nuc", 2, -2):
            r, c = where
            gm = xp.moveaxis(keep_dims(g, x, where, keepdims), (r, c), (-2, -1))
            moved = [xp.moveaxis(v, (r, c), (-2, -1)) for v in (x, *term)]
            slope = _svd_slope_along(xp, ord, moved[0], moved[1:])
            rows.append(xp.moveaxis(gm * slope, (-2, -1), (r, c)))
        else:
            product = term[0]
            for d in term[1:]:
                product = product * d
            rows.append(norm_slope_power(product, g, ans, x, k, ord, axis, keepdims))
    return xp.stack([xp.broadcast_to(row, x.shape) for row in rows])


_SVD_SLOPES: dict[tuple[str, Any], Any] = {}


def _svd_slope_along(xp: Any, ord: Any, x: Any, directions: Any) -> Any:
    """The derivative along each of ``directions`` of the slope of the nuclear (``ord``
    "nuc") or spectral (2, -2) norm of the matrices ``x`` (last two axes): forward mode
    once per direction over that slope written as source, through the SVD's rules
    (distinct nonzero singular values; others refused there)."""
    from .calls import Host, function_of_source

    key = (xp.__name__, ord)
    if key not in _SVD_SLOPES:
        pair = {"nuc": "", 2: "[..., :, :1]", -2: "[..., :, -1:]"}[ord]
        rows = {"nuc": "", 2: "[..., :1, :]", -2: "[..., -1:, :]"}[ord]
        source = (
            "def svd_slope(x):\n"
            "    u, s, vt = xp.linalg.svd(x, full_matrices=False)\n"
            f"    return u{pair} @ vt{rows}\n"
        )
        _SVD_SLOPES[key] = function_of_source(
            source, f"the slope of the norm ord={ord!r}", "svd_slope", {"xp": xp}
        )
    program, args = _SVD_SLOPES[key], (x,)
    for d in directions:  # each a program of the last, the tangent on x alone
        tangents = (*(None,) * (len(args) - 1), d)
        program = Host.forward_of(program, tangents, None, (), args, None)
        args = (tangents, *args)
    out = program(*args)
    for _ in directions:
        out = out[1]
    return out


def _p_power(x: Any, n: Any, gk: Any, p: Any, k: int, factor: Any, dd: Any) -> Any:
    """``gk factor sign(x)^(k+1) |x|^(p-1-k) dd / n^(p-1)`` (0 where the norm is 0)."""
    xp = array_module(x)
    safe = xp.where(n == 0, 1, n)
    signed = xp.sign(x) if k % 2 == 0 else 1.0
    d = gk * factor * signed * xp.abs(x) ** (p - 1 - k) * dd / safe ** (p - 1)
    return xp.where(n == 0, 0.0, d)


# ---- np.linalg.eigh ----------------------------------------------------------------------


def _gaps_of_moved(w: Any, moved: Any) -> Any:
    """``F[i, j] = 1 / (w[j] - w[i])`` (``w`` the eigenvalues), 0 on the diagonal and
    where ``w[i]`` and ``w[j]`` coincide (to rounding, as ``eigen_gaps`` judges): there the
    eigenvector ``j`` has no derivative, refused where it has an adjoint (``moved[..., j]``);
    where it has none, its column of ``F`` multiplies zeros."""
    xp = array_module(w)
    n = w.shape[-1]
    diff = w[..., None, :] - w[..., :, None]
    eye = xp.eye(n, dtype=bool)
    scale = xp.max(xp.abs(w), axis=-1, keepdims=True)
    tol = n * float(xp.finfo(w.dtype).eps) * scale[..., None]
    tied = xp.logical_and(xp.logical_not(eye), xp.abs(diff) <= tol)
    if bool(xp.any(xp.logical_and(tied, moved[..., None, :]))):
        raise refuse(
            "np.linalg.eigh at a matrix with repeated eigenvalues, with a result that uses "
            "an eigenvector of a repeated eigenvalue: those eigenvectors have no derivative "
            "there",
            "differentiate a function of the eigenvalues alone (or of the eigenvectors of "
            "eigenvalues that are not repeated), or perturb the matrix",
        )
    skip = xp.logical_or(eye, tied)
    return xp.where(skip, 0.0, 1.0 / xp.where(skip, 1.0, diff)).astype(w.dtype)


def _ties(w: Any) -> Any:
    """Where ``w[..., i]`` and ``w[..., j]`` (eigenvalues, or singular values) coincide to
    rounding, as ``eigen_gaps`` judges, off the diagonal."""
    xp = array_module(w)
    n = w.shape[-1]
    scale = xp.max(xp.abs(w), axis=-1, keepdims=True) if n else xp.zeros_like(w)
    tol = max(n, 1) * float(xp.finfo(w.dtype).eps) * scale[..., None]
    return xp.logical_and(
        xp.logical_not(xp.eye(n, dtype=bool)), xp.abs(w[..., None, :] - w[..., :, None]) <= tol
    )


def tied_values(w: Any, g: Any, what: str, values: str = "eigenvalues") -> None:
    """Refuse the gradient ``V diag(g) V^T`` of the sorted ``values`` ``w`` where two of
    them tie and ``g`` tells them apart: the smaller of two equal ones moves as a minimum
    does (``min(a, b)`` at ``a = b``), so a function that weighs them differently has no
    derivative there (JAX and PyTorch give the gradient of one side, picked by the basis
    LAPACK returns). Where ``g`` is the same across each tie (``sum(w**2)``, a trace), the
    gradient holds whatever basis of their eigenvectors ``V`` holds."""
    xp = array_module(w, g)
    if w.shape[-1] < 2:
        return
    tied = _ties(w)
    if not bool(xp.any(tied)):
        return
    gw = xp.broadcast_to(xp.asarray(g), w.shape)
    spread = xp.abs(gw[..., None, :] - gw[..., :, None])
    tol = float(np.sqrt(xp.finfo(w.dtype).eps)) * xp.max(xp.abs(gw), axis=-1)[..., None, None]
    if bool(xp.any(xp.logical_and(tied, spread > tol))):
        raise refuse(
            f"the derivative of {what} at a matrix with repeated {values}, of a result "
            f"that tells them apart: the smaller of two equal {values} moves as a minimum "
            "does, so no derivative exists there",
            f"differentiate a function that treats equal {values} alike (a sum, a trace, "
            "sum(w**2)), or perturb the matrix",
        )


def tied_change(w: Any, p: Any, what: str, values: str = "eigenvalues") -> None:
    """Refuse the tangent ``diag(P)`` of the sorted ``values`` ``w`` (``P = V^T S V``, of
    the change ``S``) where two tie and ``S`` moves them apart (``P`` is not a multiple
    of the identity on their eigenspace): each then moves on its side as the eigenvalues
    of that block do, not linearly in ``S``. A change that keeps them tied has this one."""
    xp = array_module(w, p)
    if w.shape[-1] < 2:
        return
    tied = _ties(w)
    if not bool(xp.any(tied)):
        return
    d = xp.diagonal(p, 0, -2, -1)
    # (in the block of a tie: an entry off the diagonal, or two unequal on it)
    apart = xp.maximum(xp.abs(p), xp.abs(d[..., None, :] - d[..., :, None]))
    tol = float(np.sqrt(xp.finfo(w.dtype).eps)) * xp.max(xp.abs(p), axis=(-2, -1))
    if bool(xp.any(xp.logical_and(tied, apart > tol[..., None, None]))):
        raise refuse(
            f"the forward derivative of {what} at a matrix with repeated {values}, along a "
            f"change that moves them apart: each moves on its side as a minimum or a "
            "maximum does, so no derivative exists along it",
            f"use reverse mode (sd.grad), which differentiates a function that treats equal "
            f"{values} alike, or perturb the matrix",
        )


def eigh_grad(g: Any, ans: Any, uplo: str = "L") -> Any:
    """Gradient of ``np.linalg.eigh``: with ``A = V diag(w) V^T``,
    ``V (diag(w_bar) + F * (V^T V_bar)) V^T``, ``F[i, j] = 1 / (w[j] - w[i])``
    (Giles 2008, section 3.1; as autograd's numpy/linalg.py), on the triangle read. The
    eigenvalues' part holds at repeated eigenvalues too (as ``np.linalg.eigvalsh``'s), so
    ``w, V = eigh(A); sum(w**2)`` has its gradient there (``w[0]`` alone, none:
    ``tied_values``); an eigenvector of a repeated
    eigenvalue with a nonzero adjoint is refused (``_gaps_of_moved``)."""
    xp = array_module(ans[0], ans[1])
    w, v = ans[0], ans[1]
    gw, gv = result_grads(g, ans)
    tied_values(w, gw, "np.linalg.eigh")
    inner = gw[..., None, :] * xp.eye(w.shape[-1], dtype=w.dtype)
    moved = xp.any(gv != 0, axis=-2)  # the eigenvectors with an adjoint
    if bool(xp.any(moved)):
        inner = inner + _gaps_of_moved(w, moved) * (_swap_last(xp, v) @ gv)
    return triangle_grad(v @ inner @ _swap_last(xp, v), uplo)


def real_eigenvalues(w: Any, what: str, eig_values: Any = None) -> None:
    """Check ``w``, the eigenvalues ``np.linalg.eig`` (or ``eigvals``) gave, real and
    distinct: NumPy gives complex ones as a complex array (whose derivatives srcdiff does
    not compute), and where two coincide they have no derivative. ``eig_values``: those
    ``np.linalg.eig`` gives with the eigenvectors a rule reads, in the same order."""
    if dtype_kind(w) == "c":
        raise refuse(
            f"{what} of a matrix with complex eigenvalues: srcdiff differentiates real values",
            "for a symmetric matrix use np.linalg.eigh (or eigvalsh), whose eigenvalues are real",
        )
    eigen_gaps(w, what)
    xp = array_module(w)
    if eig_values is not None and not bool(xp.allclose(w, eig_values, rtol=1e-6, atol=0.0)):
        raise refuse(
            f"{what} gave its eigenvalues in another order than np.linalg.eig",
            "call np.linalg.eig and use its eigenvalues",
        )


def eig_grad(g: Any, ans: Any) -> Any:
    """Gradient of ``np.linalg.eig`` of a real matrix with real, distinct eigenvalues:
    with ``A = V diag(w) V^-1`` and ``V``'s columns of norm 1, ``V^-T (diag(w_bar) + F *
    (V^T V_bar')) V^T``, ``F[i, j] = 1 / (w[j] - w[i])`` and ``V_bar' = V_bar - V
    diag(V^T V_bar)`` (an eigenvector's change along itself is its norm's, held at 1)."""
    xp = array_module(ans[0], ans[1])
    w, v = ans[0], ans[1]
    real_eigenvalues(w, "np.linalg.eig")
    gw, gv = result_grads(g, ans)
    vt = _swap_last(xp, v)
    inner = gw[..., None, :] * xp.eye(w.shape[-1], dtype=w.dtype)
    if bool(xp.any(gv != 0)):
        moved = gv - v * xp.sum(v * gv, axis=-2, keepdims=True)
        inner = inner + eigen_gaps(w, "np.linalg.eig") * (vt @ moved)
    return xp.linalg.solve(vt, inner @ vt)


# ---- scipy.linalg ------------------------------------------------------------------------


def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False,
                     unit_diagonal: bool = False) -> Any:  # fmt: skip
    """``scipy.linalg.solve_triangular(a, b, trans, lower, unit_diagonal)``, for the rules
    of scipy.linalg's functions: a primitive with that function's rules, so that forward
    rules calling it can be differentiated again."""
    from scipy.linalg import solve_triangular as solve

    return solve(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def cho_solve_grads(g: Any, ans: Any, c: Any, lower: bool, b: Any) -> tuple[Any, Any]:
    """The gradients of ``c`` and ``b`` of ``x = scipy.linalg.cho_solve((c, lower), b)``,
    ``A x = b`` with ``A = L L^T`` (``L`` the lower triangle of ``c``; not ``lower``:
    ``A = U^T U``, ``U`` its upper one): ``b_bar = A^-1 x_bar``, ``A_bar = -b_bar x^T``
    and, through the factor, ``L_bar = tril((A_bar + A_bar^T) L)`` (``U_bar = triu(U
    (A_bar + A_bar^T))``); the other triangle of ``c`` is not read. ``b`` is a vector only
    when 1-D; stacks broadcast."""
    from scipy.linalg import cho_solve

    xp = array_module(c, b, g)
    lower = bool(xp.all(lower))  # (one flag per matrix of a stack, all alike)
    vector = xp.ndim(b) == 1
    gm = g[..., None] if vector else g
    xm = ans[..., None] if vector else ans
    db = cho_solve((c, lower), gm)
    s = -(db @ _swap_last(xp, xm) + xm @ _swap_last(xp, db))  # A_bar + A_bar^T
    dc = xp.tril(s @ xp.tril(c)) if lower else xp.triu(xp.triu(c) @ s)
    return unbroadcast(dc, c), unbroadcast(db[..., 0] if vector else db, b)


def lu_order(lu: Any, piv: Any, inverse: bool = False) -> np.ndarray:
    """The rows of ``a`` in the order ``scipy.linalg.lu_factor(a)`` factors them
    (``a[order] = L U``), from its pivots: row ``i`` was swapped with row ``piv[i]``, in
    turn (``inverse``: where each row of ``a`` went). One matrix only: the derivative of
    a stack's factors is refused."""
    if np.ndim(lu) != 2:
        raise refuse(
            "the derivative of scipy.linalg.lu_factor and lu_solve of a stack of matrices",
            "factor each matrix apart (a loop), or use np.linalg.solve",
        )
    pivots = np.asarray(piv.get() if hasattr(piv, "get") else piv).reshape(-1)
    order = np.arange(len(pivots))
    for i, p in enumerate(pivots.tolist()):
        order[[i, p]] = order[[p, i]]
    return np.argsort(order) if inverse else order


def lu_solve(lu_and_piv: Any, b: Any, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Any:  # fmt: skip
    """``scipy.linalg.lu_solve``, for the rules of lu_factor and lu_solve: a primitive with
    that function's rules, so that rules calling it can be differentiated again."""
    from scipy.linalg import lu_solve as solve

    return solve(lu_and_piv, b, trans=trans, check_finite=check_finite)


def expm_frechet(a: Any, e: Any) -> Any:
    """The Fréchet derivative of the matrix exponential at ``a`` along ``e`` (matrices, or
    stacks of them, of one shape), in their dtype: ``scipy.linalg.expm_frechet`` (whose
    result is float64 for float32 matrices) without the exponential. A primitive with
    rules of its own: the forward rule of ``scipy.linalg.expm`` calls it."""
    from scipy.linalg import expm_frechet as frechet

    xp = array_module(a, e)
    if 0 in a.shape:  # (no matrix, or an empty one: SciPy refuses them, the map is 0)
        return xp.zeros(a.shape, dtype=xp.result_type(a, e))
    return xp.asarray(frechet(a, e, compute_expm=False), dtype=xp.result_type(a, e))


def _upper_blocks(xp: Any, a: Any, e: Any, d: Any) -> Any:
    """The block matrix ``[[a, e], [0, d]]`` (of stacks too)."""
    top = xp.concatenate([a, e], axis=-1)
    return xp.concatenate([top, xp.concatenate([xp.zeros_like(d), d], axis=-1)], axis=-2)


def expm_frechet_grads(g: Any, a: Any, e: Any) -> tuple[Any, Any]:
    """The gradients of ``a`` and ``e`` of ``expm_frechet(a, e)`` given its adjoint ``g``.
    It is the upper right block of ``expm(M)``, ``M = [[a, e], [0, a]]``, so its gradient
    is that of the exponential, ``L(M^T, G)`` (``L`` the Fréchet derivative), given
    ``G = [[0, g], [0, 0]]``: ``a`` gets the two diagonal blocks, ``e`` the upper right
    one."""
    xp = array_module(a, e, g)
    n = a.shape[-1]
    m = _upper_blocks(xp, a, e, a)
    zero = xp.zeros_like(a)
    d = expm_frechet(_swap_last(xp, m), _upper_blocks(xp, zero, xp.asarray(g, dtype=m.dtype), zero))
    return d[..., :n, :n] + d[..., n:, n:], d[..., :n, n:]


def standardizing(c: Any, axis: Any = 0, ddof: int = 0, nan_policy: str = "propagate"
                  ) -> tuple[Any, Any, Any, Any]:  # fmt: skip
    """What scipy.stats's ``zmap``, ``zscore`` and ``gzscore`` standardize by, along
    ``axis`` (kept): which entries of ``c`` count (``nan_policy='omit'``: those not NaN),
    how many, their mean and their standard deviation (with ``ddof``). A primitive with
    rules of its own, so that the rules of those functions read it once."""
    xp = array_module(c)
    omit = nan_policy == "omit"
    kept = xp.logical_not(xp.isnan(c)) if omit else xp.ones(xp.shape(c), dtype=bool)
    n = xp.sum(kept, axis=axis, keepdims=True, dtype=c.dtype)
    mean = (xp.nanmean if omit else xp.mean)(c, axis=axis, keepdims=True)
    spread = (xp.nanstd if omit else xp.std)(c, axis=axis, ddof=ddof, keepdims=True)
    return kept, n, mean, spread


def _cov_rows(x: Any, rowvar: bool, xp: Any, dtype: Any, first: bool) -> Any:
    """``x`` as ``np.cov`` reads it: a 2-d array, one row per variable (``first``: its
    ``m``, transposed where ``rowvar`` is false unless 1-d; else its ``y``, transposed
    unless it has one row)."""
    given = xp.asarray(x)
    rows = xp.asarray(given, dtype=dtype)
    rows = xp.reshape(rows, (1,) * max(0, 2 - rows.ndim) + tuple(rows.shape))
    turned = not rowvar and (given.ndim != 1 if first else rows.shape[0] != 1)
    return rows.T if turned else rows


def _cov_back(d: Any, x: Any, rowvar: bool, first: bool) -> Any:
    """The gradient of ``x`` from that of its rows as ``np.cov`` read them."""
    xp = array_module(d)
    given = xp.asarray(x)
    rows = (1,) * max(0, 2 - given.ndim) + tuple(given.shape)
    if not rowvar and (given.ndim != 1 if first else rows[0] != 1):
        d = d.T
    return cast_like(xp.reshape(d, given.shape), x)


def _cov_parts(m: Any, y: Any, rowvar: bool, bias: bool, ddof: Any, fweights: Any,
               aweights: Any, dtype: Any) -> tuple[Any, Any, Any, int, Any]:  # fmt: skip
    """What ``np.cov`` computes ``X W X^T / fact`` from: the centred rows ``X`` (``m``'s,
    then ``y``'s), the weights ``w`` of the observations (None: all 1), ``1 / fact``,
    how many rows are ``m``'s, and the array module."""
    xp = array_module(m, y)
    if dtype is None:
        dtype = xp.result_type(*(a for a in (m, y) if a is not None), xp.float64)
    rows = _cov_rows(m, rowvar, xp, dtype, True)
    count = rows.shape[0]
    if y is not None:
        rows = xp.concatenate([rows, _cov_rows(y, rowvar, xp, dtype, False)], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    w = None if fweights is None else xp.asarray(fweights, dtype=xp.float64)
    if aweights is not None:
        a = xp.asarray(aweights, dtype=xp.float64)
        w = a if w is None else w * a
    if w is None:
        centred = rows - xp.mean(rows, axis=1, keepdims=True)
        fact = rows.shape[1] - ddof
    else:
        total = xp.sum(w)
        centred = rows - astype(xp.sum(rows * w, axis=1, keepdims=True) / total, rows.dtype)
        if ddof == 0:
            fact = total
        elif aweights is None:
            fact = total - ddof
        else:
            fact = total - ddof * xp.sum(w * xp.asarray(aweights, dtype=xp.float64)) / total
    with np.errstate(divide="ignore"):
        scale = np.true_divide(1, max(float(fact), 0.0))
    return centred, w, scale, count, xp


def cov_grads(g: Any, m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
              ddof: Any = None, fweights: Any = None, aweights: Any = None,
              dtype: Any = None) -> tuple[Any, Any]:  # fmt: skip
    """The gradients of ``m`` and ``y`` from that of ``np.cov(m, y, ...)``, ``C = X W
    X^T / fact`` with ``X`` the centred rows: ``(G + G^T) X W / fact`` (the centring
    takes nothing away: each row of it sums to 0 with the weights), cut into ``m``'s
    rows and ``y``'s. The weights are constants."""
    centred, w, scale, count, xp = _cov_parts(m, y, rowvar, bias, ddof, fweights, aweights,
                                              dtype)  # fmt: skip
    k = centred.shape[0]
    grid = xp.reshape(xp.asarray(g, dtype=centred.dtype), (k, k))
    d = (grid + grid.T) @ (centred if w is None else centred * w) * scale
    d_y = None if y is None else _cov_back(d[count:], y, rowvar, False)
    return _cov_back(d[:count], m, rowvar, True), d_y


def cov_tangent(m: Any, y: Any, rowvar: bool, bias: bool, ddof: Any, fweights: Any,
                aweights: Any, dtype: Any, dm: Any, dy: Any) -> Any:  # fmt: skip
    """The tangent of ``np.cov(m, y, ...)``: ``(dX W X^T + X W dX^T) / fact``, ``dX``
    the centred rows of the tangents, shaped as NumPy shapes the result."""
    centred, w, scale, count, xp = _cov_parts(m, y, rowvar, bias, ddof, fweights, aweights,
                                              dtype)  # fmt: skip
    dm = xp.zeros_like(xp.asarray(m, dtype=centred.dtype)) if dm is None else dm
    if y is None:
        dy = None  # (no second array: no tangent of one)
    elif dy is None:
        dy = xp.zeros_like(xp.asarray(y, dtype=centred.dtype))
    moved, *_ = _cov_parts(dm, dy, rowvar, bias, ddof, fweights, aweights, centred.dtype)
    weighted = centred if w is None else centred * w
    product = moved @ weighted.T * scale
    return xp.squeeze(product + product.T)


def _correlation(c: Any, xp: Any) -> tuple[Any, Any]:
    """The correlations of the covariances ``c`` (not clipped), and the standard
    deviations."""
    s = xp.sqrt(xp.diagonal(c))
    return c / (s[:, None] * s[None, :]), s


def corrcoef_grads(g: Any, x: Any, y: Any = None, rowvar: bool = True,
                   dtype: Any = None) -> tuple[Any, Any]:  # fmt: skip
    """The gradients of ``x`` and ``y`` from that of ``np.corrcoef(x, y)``, ``R = C /
    (s s^T)`` with ``s`` the square roots of the diagonal of ``C = np.cov(x, y)``:
    ``dC = G / (s s^T)`` and, on the diagonal, ``-(G R + (G R)^T) 1 / (2 s^2)``; then
    ``np.cov``'s. One variable gives 1 whatever its values: no gradient."""
    xp = array_module(x, y)
    c = xp.asarray(np.cov(x, y, rowvar, dtype=dtype))
    if c.ndim == 0:
        zero = xp.zeros_like(c)
        return cov_grads(zero, x, y, rowvar, dtype=dtype)
    r, s = _correlation(c, xp)
    grid = xp.reshape(xp.asarray(g, dtype=c.dtype), c.shape)
    weighted = grid * r
    d_c = grid / (s[:, None] * s[None, :])
    d_c = d_c - xp.diag((xp.sum(weighted, axis=1) + xp.sum(weighted, axis=0)) / (2 * s * s))
    return cov_grads(d_c, x, y, rowvar, dtype=dtype)


def corrcoef_tangent(x: Any, y: Any, rowvar: bool, dtype: Any, dx: Any, dy: Any) -> Any:
    """The tangent of ``np.corrcoef(x, y)``: ``dR = dC / (s s^T) - R (dC_ii / (2 s_i^2)
    + dC_jj / (2 s_j^2))``, ``dC`` that of ``np.cov``."""
    xp = array_module(x, y)
    c = xp.asarray(np.cov(x, y, rowvar, dtype=dtype))
    dc = cov_tangent(x, y, rowvar, False, None, None, None, dtype, dx, dy)
    if c.ndim == 0:
        return xp.zeros_like(c)
    r, s = _correlation(c, xp)
    half = xp.diagonal(dc) / (2 * s * s)
    return dc / (s[:, None] * s[None, :]) - r * (half[:, None] + half[None, :])


def overwrite_refusal(name: str, argument: str) -> Exception:
    """The refusal of a call of scipy.linalg's ``name`` that lets SciPy write into an
    argument (``overwrite_a=True``, ``overwrite_b=True``): compiled code does not follow it."""
    return refuse(
        f"scipy.linalg.{name} with {argument}=True: SciPy may write into "
        f"{'the matrix' if argument == 'overwrite_a' else 'b'}, a change compiled code does "
        "not follow",
        f"leave {argument} False (the default)",
    )


def eigh_of_one_matrix(b: Any, subset_by_index: Any, subset_by_value: Any,
                       overwrite_a: Any) -> None:  # fmt: skip
    """Refuse a call of scipy.linalg.eigh whose derivative is not np.linalg.eigh's: with a
    second matrix, a subset of the eigenvalues, or leave to write into the matrix."""
    if b is not None or subset_by_index is not None or subset_by_value is not None:
        raise refuse(
            "the derivative of scipy.linalg.eigh with b=, subset_by_index= or subset_by_value=",
            "call it on one matrix for all of its eigenvalues, then select them",
        )
    if overwrite_a:
        raise overwrite_refusal("eigh", "overwrite_a")


def scipy_as_numpy(name: str, assume_a: Any = None, transposed: Any = False,
                   ndim: int = 2) -> None:  # fmt: skip
    """Refuse a call of scipy.linalg's ``name`` whose derivative is not np.linalg's: one
    that reads one triangle (``assume_a``), solves with the transpose, or solves a stack
    of matrices (batched as SciPy reads it). (One that may write into an argument:
    ``overwrite_refusal``.)"""
    if assume_a not in (None, "gen", "general") or transposed or ndim != 2:
        raise refuse(
            f"scipy.linalg.{name} with assume_a={assume_a!r}, transposed={transposed!r} "
            f"or a stack of matrices: its derivative is np.linalg.{name}'s of one general "
            "matrix only",
            f"call np.linalg.{name} (of the matrix the structure stands for), or register "
            "a rule with sd.register_vjp",
        )
