"""Gradients of contractions (einsum, tensordot, kron, cross) and of matrix decompositions
(eigh, svd, qr, cholesky, pinv, matrix_power, lstsq), for ``rules/contractions.py`` and
``rules/decompositions.py``.

Each works on the array module of its inputs (NumPy or CuPy; tensordot's also on any
Array-API library) and computes in the dtype of the arrays it is given. The formulas of
the decompositions hold where the decomposition is differentiable: distinct eigenvalues
and singular values, full rank.
"""

from __future__ import annotations

import itertools
import math
import operator
import string
from typing import Any

import numpy as np

from .. import backend
from ..backend import array_module
from .arrays import (
    _permute,
    _swap_last,
    entries,
    entries_like,
    reshape_like,
    unbroadcast,
    zeros_like,
)
from .mutation import refuse

# ---- einsum ------------------------------------------------------------------------------

_LABELS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's order of sublist labels


def _einsum_parts(operands: tuple) -> tuple[list[str], str | None, list[int]]:
    """The labels of each array operand (with ``...``), the output's (None: implicit),
    and the positions of the arrays among ``operands``, for either form of einsum's
    arguments: ``('ij,jk->ik', a, b)`` or ``(a, [0, 1], b, [1, 2], [0, 2])``."""
    if isinstance(operands[0], str):
        spec = operands[0].replace(" ", "")
        inputs, arrow, output = spec.partition("->")
        return inputs.split(","), (output if arrow else None), list(range(1, len(operands)))

    def labels(sublist: Any) -> str:
        return "".join("..." if i is Ellipsis else _LABELS[operator.index(i)] for i in sublist)

    n = len(operands) // 2
    output = labels(operands[-1]) if len(operands) % 2 else None
    return [labels(operands[2 * i + 1]) for i in range(n)], output, [2 * i for i in range(n)]


def _einsum_labels(
    inputs: list[str], output: str | None, shapes: list[tuple[int, ...]]
) -> tuple[list[str], str, dict[str, int], list[str]]:
    """Explicit labels: one letter per axis of each operand and of the result (``...``
    spelled out; an axis of length 1 that broadcasts against a longer one gets a letter
    of its own, summed away), the length of each letter, and the letters still free."""
    used = set("".join(inputs) + (output or "")) - {"."}
    free = [c for c in string.ascii_letters if c not in used]
    ranks = [
        len(shape) - len(s.replace("...", "")) for s, shape in zip(inputs, shapes, strict=True)
    ]
    ellipsis = "".join(free.pop() for _ in range(max(ranks, default=0)))
    spelled = [
        s.replace("...", ellipsis[len(ellipsis) - r :] if r else "")
        for s, r in zip(inputs, ranks, strict=True)
    ]
    if output is None:  # NumPy's implicit output: '...', then the letters used once, sorted
        counts = "".join(s.replace("...", "") for s in inputs)
        output = ellipsis + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    else:
        output = output.replace("...", ellipsis)
    lengths: dict[str, int] = {}
    for s, shape in zip(spelled, shapes, strict=True):
        for c, n in zip(s, shape, strict=True):
            if lengths.get(c, 1) == 1:
                lengths[c] = n
    for k, (s, shape) in enumerate(zip(spelled, shapes, strict=True)):
        if any(n == 1 and lengths[c] != 1 for c, n in zip(s, shape, strict=True)):
            own = [
                free.pop() if n == 1 and lengths[c] != 1 else c
                for c, n in zip(s, shape, strict=True)
            ]
            lengths.update((c, 1) for c in own if c not in lengths)
            spelled[k] = "".join(own)
    return spelled, output, lengths, free


def einsum_grads(g: Any, ans: Any, operands: tuple) -> list:
    """The gradient of each argument of ``np.einsum(*operands)`` (None for the subscripts
    and sublists): one more einsum each, of ``g`` and the other operands into the
    operand's own letters. A letter the operand repeats (``'ii->i'``) becomes a pair of
    letters joined by an identity matrix (its gradient lives on the diagonal); a letter
    found nowhere else (summed away) comes back through a vector of ones."""
    inputs, output, where = _einsum_parts(operands)
    arrays = [operands[i] for i in where]
    xp = array_module(*arrays)
    arrays = [xp.asarray(x) for x in arrays]
    labels, output, lengths, free = _einsum_labels(inputs, output, [x.shape for x in arrays])
    if not hasattr(g, "shape"):
        g = xp.asarray(g, dtype=getattr(ans, "dtype", None))
    if tuple(g.shape) != tuple(getattr(ans, "shape", ())):
        g = xp.broadcast_to(g, getattr(ans, "shape", ()))
    fast = {"optimize": True} if xp is np else {}  # NumPy: contract pairwise, with BLAS
    grads: list = [None] * len(operands)
    for k, x in enumerate(arrays):
        spare, target, terms, extra = list(free), "", [output], [g]
        for j, other in enumerate(arrays):
            if j != k:
                terms.append(labels[j])
                extra.append(other)
        for c in labels[k]:
            if c in target:  # a repeated letter: a new one, equal to it through the identity
                terms.append(c + spare[-1])
                extra.append(xp.eye(lengths[c], dtype=x.dtype))
                c = spare.pop()
            target += c
        present = set("".join(terms))
        for c in dict.fromkeys(target):
            if c not in present:  # summed away in the forward pass: ones bring it back
                terms.append(c)
                extra.append(xp.ones(lengths.get(c, 1), dtype=x.dtype))
        d = xp.einsum(",".join(terms) + "->" + target, *extra, **fast)
        grads[where[k]] = xp.reshape(d, x.shape)
    return grads


# ---- tensordot, kron, cross --------------------------------------------------------------


def _tensordot_axes(axes: Any, na: int, nb: int) -> tuple[list[int], list[int]]:
    """``np.tensordot``'s ``axes`` as two lists of non-negative axes of ``a`` and ``b``."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        return list(range(na - n, na)), list(range(n))
    xa, xb = axes
    xa = [xa] if isinstance(xa, (int, np.integer)) else list(xa)
    xb = [xb] if isinstance(xb, (int, np.integer)) else list(xb)
    return [int(i) % na for i in xa], [int(j) % nb for j in xb]


def tensordot_grads(g: Any, a: Any, b: Any, axes: Any = 2) -> tuple[Any, Any]:
    """Gradients of ``np.tensordot(a, b, axes)``: ``g`` (the free axes of ``a``, then of
    ``b``) contracted with the other operand over its free axes, then the axes put back
    in the operand's order."""
    xp = array_module(g, a, b)
    na, nb = len(a.shape), len(b.shape)
    xa, xb = _tensordot_axes(axes, na, nb)
    fa = [i for i in range(na) if i not in xa]
    fb = [j for j in range(nb) if j not in xb]
    g = xp.asarray(g)
    # tensordot(g, b) holds a's free axes, then b's contracted axes in b's order
    # axes as tuples: CuPy takes an empty contraction of a 0-d array only as ((), ())
    da = xp.tensordot(g, b, axes=(tuple(range(len(fa), len(fa) + len(fb))), tuple(fb)))
    from_a = fa + [xa[xb.index(j)] for j in sorted(xb)]
    da = _permute(xp, da, tuple(int(i) for i in np.argsort(from_a)))
    db = xp.tensordot(a, g, axes=(tuple(fa), tuple(range(len(fa)))))
    from_b = [xb[xa.index(i)] for i in sorted(xa)] + fb
    db = _permute(xp, db, tuple(int(i) for i in np.argsort(from_b)))
    return da, db


def kron_grads(g: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """Gradients of ``np.kron(a, b)``: ``g`` seen with its axes split as (a's, b's)
    interleaved, multiplied by the other operand and summed over its axes (a list operand
    taken as its array)."""
    xp = array_module(g, a, b)
    a, b = (xp.asarray(v) if isinstance(v, (list, tuple)) else v for v in (a, b))
    nd = max(len(a.shape), len(b.shape))
    sa = (1,) * (nd - len(a.shape)) + tuple(a.shape)
    sb = (1,) * (nd - len(b.shape)) + tuple(b.shape)
    split = xp.reshape(g, tuple(n for pair in zip(sa, sb, strict=True) for n in pair))
    a_axes = tuple(n for i in range(nd) for n in (sa[i], 1))
    b_axes = tuple(n for i in range(nd) for n in (1, sb[i]))
    da = xp.sum(split * xp.reshape(b, b_axes), axis=tuple(range(1, 2 * nd, 2)))
    db = xp.sum(split * xp.reshape(a, a_axes), axis=tuple(range(0, 2 * nd, 2)))
    return xp.reshape(da, a.shape), xp.reshape(db, b.shape)


def cross_grads(
    g: Any, a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: Any = None
) -> tuple[Any, Any]:
    """Gradients of ``np.cross``: ``<g, a x b> = <b x g, a> = <g x a, b>``, with 2-vectors
    taken as 3-vectors whose z is 0 (two 2-vectors give the z of the product alone)."""
    xp = array_module(g, a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    am, bm = xp.moveaxis(a, axisa, -1), xp.moveaxis(b, axisb, -1)
    da_n, db_n = am.shape[-1], bm.shape[-1]
    if not hasattr(g, "dtype"):
        g = xp.asarray(g, dtype=xp.result_type(a, b))
    if da_n == 2 and db_n == 2:
        gm = xp.stack([xp.zeros_like(g), xp.zeros_like(g), g], axis=-1)
    else:
        gm = xp.moveaxis(g, axisc, -1)

    def padded(x: Any) -> Any:
        if x.shape[-1] == 3:
            return x
        return xp.concatenate([x, xp.zeros_like(x[..., :1])], axis=-1)

    ga = xp.cross(padded(bm), gm)[..., :da_n]
    gb = xp.cross(gm, padded(am))[..., :db_n]
    return (
        xp.moveaxis(unbroadcast(ga, am), -1, axisa),
        xp.moveaxis(unbroadcast(gb, bm), -1, axisb),
    )


# ---- decompositions ------------------------------------------------------------------------


def result_like(ans: Any, parts: list) -> Any:
    """The tangents ``parts`` of the entries of a tuple result ``ans``, as a named tuple of
    ``ans``'s class when it is one (``np.linalg.slogdet(a).logabsdet`` reads its field),
    else the list."""
    if isinstance(ans, tuple) and hasattr(ans, "_fields"):
        return type(ans)(*parts)
    return parts


def result_grads(g: Any, ans: Any) -> list:
    """The adjoints of the entries of a tuple result (``w, v = np.linalg.eigh(a)``): those
    in ``g`` (a zero where it has None), or, for an array ``g``, the adjoint of the array
    NumPy made of the tuple (``np.sum(np.linalg.qr(a))``), cut into its entries."""
    if g is None or isinstance(g, (list, tuple)):
        return entries(g, ans)
    xp = array_module(g, *ans)
    g = xp.broadcast_to(xp.asarray(g), (len(ans), *tuple(getattr(ans[0], "shape", ()))))
    return [g[i, ...] for i in range(len(ans))]


def triangle_grad(s: Any, uplo: str = "L") -> Any:
    """The gradient with respect to the matrix NumPy was given, of a function that reads
    only its lower (``'L'``) or upper (``'U'``) triangle as a symmetric matrix
    (cholesky, eigh, eigvalsh, ``hermitian=True``), from ``s``, a gradient valid for
    symmetric changes of that symmetric matrix: ``s + s.T`` on that triangle, once on the
    diagonal. It agrees with the symmetrized gradient of autograd and JAX along every
    symmetric change, and is exact for NumPy's function along any other."""
    xp = array_module(s)
    n = s.shape[-1]
    ones = xp.ones((n, n), dtype=s.dtype)
    mask = (xp.tril(ones) if str(uplo).upper() == "L" else xp.triu(ones)) - 0.5 * xp.eye(
        n, dtype=s.dtype
    )
    return (s + _swap_last(xp, s)) * mask


def cofactor(a: Any, det: Any) -> Any:
    """The cofactor matrix of each matrix of ``a`` (``det`` their determinants): the
    gradient of the determinant. ``det * inv(a)^T`` where every one is invertible; else,
    from the SVD ``a = U diag(s) V^T``, ``det(U) det(V) U diag(p) V^T`` with ``p_i`` the
    product of the other singular values, which needs no inverse (a singular matrix has
    one: the determinant is a polynomial of the entries)."""
    xp = array_module(a)
    det = xp.asarray(det)
    if bool(xp.all(det != 0)):
        return det[..., None, None] * _swap_last(xp, xp.linalg.inv(a))
    u, s, vt = xp.linalg.svd(a)
    concat = getattr(xp, backend.counterpart(xp, "concatenate"))
    cumprod = getattr(xp, backend.counterpart(xp, "cumprod"))
    ones = xp.ones_like(s[..., :1])
    before = cumprod(concat([ones, s[..., :-1]], axis=-1), axis=-1)
    after = cumprod(concat([ones, xp.flip(s, axis=-1)[..., :-1]], axis=-1), axis=-1)
    others = before * xp.flip(after, axis=-1)
    sign = xp.linalg.det(u) * xp.linalg.det(vt)
    return sign[..., None, None] * ((u * others[..., None, :]) @ vt)


def invertible(a: Any, what: str, conditioned: bool = False) -> Any:
    """``inv(a)``, refused for a singular matrix where ``what`` needs the inverse (a
    derivative the rules compute through it), rather than NumPy's LinAlgError;
    ``conditioned``: for a nearly singular one too (condition number above 1/sqrt(eps)),
    where ``what`` cancels terms of the inverse's size and would keep no digits."""
    xp = array_module(a)
    try:
        inverse = xp.linalg.inv(a)
    except xp.linalg.LinAlgError:
        inverse = None
    if inverse is not None and conditioned:
        limit = float(xp.finfo(inverse.dtype).eps) ** -0.5
        if bool(xp.any(~(xp.linalg.cond(a) <= limit))):
            inverse = None
    if inverse is None:
        near = " (or nearly singular)" if conditioned else ""
        raise refuse(
            f"{what} at a singular{near} matrix: srcdiff computes it through the inverse",
            "differentiate it at a well-conditioned matrix",
        )
    return inverse


def eigen_gaps(w: Any, what: str = "np.linalg.eigh", positive: bool = False) -> Any:
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it: the factor of the
    derivatives of eigenvectors (``w`` the eigenvalues) and singular vectors (``w`` the
    squared singular values, ``positive``: none of them zero). Where two coincide (to
    rounding) the vectors have no derivative: refused, rather than an infinite factor."""
    xp = array_module(w)
    n = w.shape[-1]
    diff = w[..., None, :] - w[..., :, None]
    eye = xp.eye(n, dtype=bool)
    scale = xp.max(xp.abs(w), axis=-1, keepdims=True) if n else xp.zeros_like(w)
    tol = max(n, 1) * float(xp.finfo(w.dtype).eps) * scale[..., None]
    if bool(xp.any(xp.logical_and(xp.logical_not(eye), xp.abs(diff) <= tol))):
        values = "singular values" if positive else "eigenvalues"
        raise refuse(
            f"{what} at a matrix with repeated {values}: its {values[:-6]}vectors have no "
            "derivative there",
            f"differentiate a function of the {values} alone that is smooth where they "
            "coincide (a sum, a trace), or perturb the matrix",
        )
    if positive and bool(xp.any(w <= tol[..., 0] * max(n, 1) * float(xp.finfo(w.dtype).eps))):
        raise refuse(
            f"{what} at a matrix with a zero singular value: its singular vectors (and the "
            "value itself, |.| at 0) have no derivative there",
            "use compute_uv=False for the singular values alone, or a matrix of full rank",
        )
    return xp.where(eye, 0.0, 1.0 / xp.where(eye, 1.0, diff)).astype(w.dtype)


def eigen_gaps_grad(g: Any, ans: Any) -> Any:
    """The gradient of ``w`` through ``F = eigen_gaps(w)``: ``dF[i, j] = -F[i, j]^2
    (dw[j] - dw[i])``."""
    xp = array_module(g, ans)
    h = g * ans * ans
    return xp.sum(h, axis=-1) - xp.sum(h, axis=-2)


def _svd_grad(u: Any, s: Any, vh: Any, gu: Any, gs: Any, gvh: Any, xp: Any) -> Any:
    """The reduced SVD's gradient (Townsend 2016, "Differentiating the singular value
    decomposition"): with ``F[i, j] = 1 / (s[j]^2 - s[i]^2)``, ``J = F * (U^T U_bar)``,
    ``K = F * (V^T V_bar)``::

        U ((J + J^T) S + diag(s_bar) + S (K + K^T)) V^T
        + (I - U U^T) U_bar S^-1 V^T + U S^-1 V_bar^T (I - V V^T)
    """
    v, gv = _swap_last(xp, vh), _swap_last(xp, gvh)
    ut = _swap_last(xp, u)
    f = eigen_gaps(s * s, "np.linalg.svd", positive=True)
    j = f * (ut @ gu)
    k = f * (vh @ gv)
    inner = (j + _swap_last(xp, j)) * s[..., None, :] + s[..., :, None] * (k + _swap_last(xp, k))
    inner = inner + gs[..., None, :] * xp.eye(s.shape[-1], dtype=s.dtype)
    d = u @ inner @ vh
    gu_s = gu / s[..., None, :]  # U_bar S^-1
    d = d + (gu_s - u @ (ut @ gu_s)) @ vh
    gv_s = gv / s[..., None, :]  # V_bar S^-1
    return d + u @ _swap_last(xp, gv_s - v @ (vh @ gv_s))


def svd_grad(
    g: Any, ans: Any, a: Any, full_matrices: bool = True, compute_uv: bool = True,
    hermitian: bool = False,
) -> Any:  # fmt: skip
    """Gradient of ``np.linalg.svd`` (distinct, nonzero singular values). With
    ``full_matrices=True`` on a matrix that is not square, the extra columns of U (or rows
    of Vh) are any orthonormal basis of a complement: they may carry no gradient."""
    xp = array_module(a)
    if not compute_uv:
        u, s, vh = xp.linalg.svd(
            a, full_matrices=False, **({"hermitian": True} if hermitian else {})
        )
        from .linalg import tied_values  # (linalg imports this module)

        tied_values(s, g, "np.linalg.svd", "singular values")
        d = (u * xp.asarray(g)[..., None, :]) @ vh
    else:
        u, s, vh = ans[0], ans[1], ans[2]
        gu, gs, gvh = result_grads(g, ans)
        m, n = a.shape[-2:]
        k = min(m, n)
        if full_matrices and m != n:
            if bool(xp.any(gu[..., :, k:] != 0)) or bool(xp.any(gvh[..., k:, :] != 0)):
                raise refuse(
                    "np.linalg.svd with full_matrices=True of a matrix that is not square: "
                    "its extra singular vectors are any basis of a complement, so a result "
                    "that uses them has no gradient",
                    "use full_matrices=False",
                )
            u, gu, vh, gvh = u[..., :, :k], gu[..., :, :k], vh[..., :k, :], gvh[..., :k, :]
        d = _svd_grad(u, s, vh, gu, gs, gvh, xp)
    return triangle_grad(d, "L") if hermitian else d


def pinv_grad(g: Any, ans: Any, a: Any, hermitian: bool = False) -> Any:
    """Gradient of ``np.linalg.pinv`` at a matrix of full rank (Golub and Pereyra 1973,
    the derivative of the pseudo-inverse ``X``): ``-X^T G X^T + (I - A X) G^T X X^T +
    X^T X G^T (I - X A)``; with ``hermitian=True`` (then square, invertible) the first
    term, on the lower triangle NumPy reads."""
    xp = array_module(ans)
    x, xt, gt = ans, _swap_last(xp, ans), _swap_last(xp, xp.asarray(g))
    d = -(xt @ g @ xt)
    if hermitian:  # (of an empty matrix, square or not: no triangle, no entry)
        return triangle_grad(d, "L") if d.size else d
    ax, xa = a @ x, x @ a
    left = gt @ x @ xt
    right = xt @ x @ gt
    return d + (left - ax @ left) + (right - right @ xa)


def check_full_rank(a: Any, what: str, rank: Any = None, inverse: Any = None) -> None:
    """Refuse a matrix ``a`` (or a stack) that is not of full rank, where the derivative
    of ``what`` (the pseudo-inverse, least squares) is not the formula srcdiff uses: its
    ``rank`` as NumPy gave it, or else read from its pseudo-inverse ``inverse`` (the trace
    of ``inverse @ a``, a projector, is the rank that NumPy's cutoff kept)."""
    xp = array_module(a)
    m, n = a.shape[-2:]
    if min(m, n) == 0 or math.prod(a.shape[:-2]) == 0:
        return  # (no singular value, or no matrix: nothing to be short of)
    if rank is None:
        rank = xp.round(xp.sum(inverse * _swap_last(xp, a), axis=(-2, -1)))
    low = xp.min(xp.asarray(rank)) if hasattr(rank, "shape") else rank
    if int(low) < min(m, n):
        raise refuse(
            f"{what} of a {m}x{n} matrix of rank {int(low)}: it is not differentiable there",
            "srcdiff differentiates it at a matrix of full rank",
        )


def cholesky_grad(g: Any, ans: Any, upper: bool = False) -> Any:
    """Gradient of ``np.linalg.cholesky`` (Murray 2016, "Differentiation of the Cholesky
    decomposition"): with ``A = L L^T`` and ``Phi`` the lower triangle with its diagonal
    halved, ``S = L^-T Phi(L^T L_bar) L^-1``, on the triangle NumPy reads."""
    xp = array_module(ans)
    low, gl = (_swap_last(xp, ans), _swap_last(xp, g)) if upper else (ans, g)
    n = low.shape[-1]
    half = xp.tril(xp.ones((n, n), dtype=low.dtype)) - 0.5 * xp.eye(n, dtype=low.dtype)
    p = (_swap_last(xp, low) @ gl) * half
    inv = xp.linalg.inv(low)
    return triangle_grad(_swap_last(xp, inv) @ p @ inv, "U" if upper else "L")


def qr_grad(g: Any, ans: Any, a: Any, mode: str = "reduced") -> Any:
    """Gradient of ``np.linalg.qr`` (Walter and Lehmann 2018; Liao et al. 2019): with
    ``M = R R_bar^T - Q_bar^T Q`` and ``sym_lower(M)`` the symmetric matrix of its lower
    triangle, ``(Q_bar + Q sym_lower(M)) R^-T`` for ``m >= n``. A wide ``A = [X | Y]``
    (``m < n``) has ``Q U = X`` and ``R = [U | Q^T Y]``: ``Y`` gets ``Q V_bar``, and ``X``
    the square case's gradient with ``Q_bar + Y V_bar^T`` for ``Q_bar``."""
    xp = array_module(a)
    m, n = a.shape[-2:]
    if mode not in ("reduced", "complete", "r"):
        raise refuse(
            f"no derivative of np.linalg.qr in mode={mode!r}: srcdiff differentiates modes "
            "'reduced', 'complete' and 'r'",
            "use one of those modes, or register a rule with sd.register_vjp",
        )
    if mode == "r":
        q = xp.linalg.qr(a)[0]
        r, gq, gr = ans, xp.zeros(q.shape, dtype=ans.dtype), g
    else:
        q, r = ans[0], ans[1]
        gq, gr = result_grads(g, ans)
    if m < n:
        gv = gr[..., :, m:]
        gx = _qr_tall_grad(xp, q, r[..., :, :m], gq + a[..., :, m:] @ _swap_last(xp, gv),
                           gr[..., :, :m])  # fmt: skip
        return xp.concatenate([gx, q @ gv], axis=-1)
    if q.shape[-1] != n:  # mode 'complete' of a tall matrix: Q's extra columns
        if bool(xp.any(gq[..., :, n:] != 0)):
            raise refuse(
                "np.linalg.qr with mode='complete' of a matrix with more rows than columns: "
                "the extra columns of Q are any basis of a complement, so a result that uses "
                "them has no gradient",
                "use mode='reduced'",
            )
        q, r, gq, gr = q[..., :, :n], r[..., :n, :], gq[..., :, :n], gr[..., :n, :]
    return _qr_tall_grad(xp, q, r, gq, gr)


def _qr_tall_grad(xp: Any, q: Any, r: Any, gq: Any, gr: Any) -> Any:
    """``(Q_bar + Q sym_lower(R R_bar^T - Q_bar^T Q)) R^-T`` for a square ``R``."""
    n = r.shape[-1]
    mm = r @ _swap_last(xp, gr) - _swap_last(xp, gq) @ q
    low = xp.tril(mm)
    sym = low + _swap_last(xp, low) - mm * xp.eye(n, dtype=mm.dtype)
    rhs = gq + q @ sym  # (rhs) R^-T, as the solution of R X^T = rhs^T
    return _swap_last(xp, xp.linalg.solve(r, _swap_last(xp, rhs)))


def matrix_power_grad(g: Any, a: Any, n: Any) -> Any:
    """Gradient of ``np.linalg.matrix_power(a, n)``: ``sum_k (A^T)^k G (A^T)^(n-1-k)`` for
    ``n > 0``; zero for ``n = 0``; for ``n < 0``, that of ``inv(a)`` to the ``-n``, then
    through the inverse (``-B^T B_bar B^T``)."""
    xp = array_module(g, a)
    n = operator.index(n)
    if n == 0:
        return xp.zeros_like(a)
    if n < 0:
        b = xp.linalg.inv(a)
        bt = _swap_last(xp, b)
        return -(bt @ matrix_power_grad(g, b, -n) @ bt)
    at = _swap_last(xp, a)
    total, power = g, at  # the sum for the power 1, and (A^T)^1
    for _ in range(n - 1):  # T(j + 1) = A^T T(j) + G (A^T)^j
        total = at @ total + g @ power
        power = power @ at
    return total


def matrix_power_tangent(d: Any, a: Any, n: Any) -> Any:
    """Tangent of ``np.linalg.matrix_power(a, n)`` along ``d``: ``sum_k A^k dA A^(n-1-k)``
    for ``n > 0``; zero for ``n = 0``; for ``n < 0``, that of ``inv(a)`` to the ``-n``
    along ``-B dA B``, ``B = inv(a)``."""
    xp = array_module(d, a)
    n = operator.index(n)
    if n == 0:
        return xp.zeros_like(d + a)
    if n < 0:
        b = xp.linalg.inv(a)
        return matrix_power_tangent(-(b @ d @ b), b, -n)
    total, power = d, a  # the tangent of A^1, and A^1
    for _ in range(n - 1):  # d(A^(j+1)) = d(A^j) A + A^j dA
        total = total @ a + power @ d
        power = power @ a
    return total


def matrix_power_second(d: Any, e: Any, a: Any, n: Any) -> Any:
    """The tangent of ``matrix_power_tangent(d, a, n)`` along ``e`` in ``a`` (the second
    derivative of ``A^n`` along ``dA = d`` and ``e``): the recurrence ``T(j+1) = T(j) A +
    P(j) dA``, ``P(j+1) = P(j) A`` differentiated along ``e`` (``S`` the tangent of ``T``,
    ``E`` of ``P``); for ``n < 0``, through ``B = inv(a)``, whose tangent is ``-B e B``."""
    xp = array_module(d, e, a)
    n = operator.index(n)
    if n == 0:
        return xp.zeros_like(d + e + a)
    if n < 0:
        b = xp.linalg.inv(a)
        eb = -(b @ e @ b)  # the tangent of B along e
        db = -(b @ d @ b)
        d_db = -(eb @ d @ b + b @ d @ eb)  # the tangent of -B d B along e
        return matrix_power_tangent(d_db, b, -n) + matrix_power_second(db, eb, b, -n)
    t, p = d, a  # T(1), P(1)
    s, q = xp.zeros_like(d + e), e  # their tangents along e
    for _ in range(n - 1):
        t, p, s, q = t @ a + p @ d, p @ a, s @ a + t @ e + q @ d, q @ a + p @ e
    return s


def matrix_power_third(d: Any, e: Any, f: Any, a: Any, n: Any) -> Any:
    """The third derivative of ``A^n`` along ``d``, ``e`` and ``f`` (that of
    ``matrix_power_second`` in ``a`` along ``f``); see ``matrix_power_derivative``."""
    return matrix_power_derivative(a, n, (d, e, f))


def matrix_power_fourth(d: Any, e: Any, f: Any, h: Any, a: Any, n: Any) -> Any:
    """The fourth derivative of ``A^n`` along ``d``, ``e``, ``f`` and ``h`` (that of
    ``matrix_power_third`` in ``a`` along ``h``); see ``matrix_power_derivative``."""
    return matrix_power_derivative(a, n, (d, e, f, h))


def matrix_power_derivative(a: Any, n: Any, ds: tuple) -> Any:
    """The derivative of ``A^n`` of order ``len(ds)`` along the directions ``ds``: with
    ``X(j)[S]`` the derivative of the ``j``-th power along the directions of the set ``S``,
    ``X(j+1)[S] = sum over T in S of X(j)[S - T] B[T]``, where ``B = A`` (``n > 0``), whose
    derivative along one direction is that direction and along more is 0, or ``B =
    inv(A)`` (``n < 0``), whose derivative along the directions ``T`` is ``(-1)^|T|`` times
    the sum over their orders of ``B t1 B t2 ... B``."""
    xp = array_module(a, *ds)
    n = operator.index(n)
    k = len(ds)
    full = (1 << k) - 1
    zero = xp.zeros_like(sum(ds, a))
    if n == 0:
        return zero
    if n > 0:
        base = {0: a, **{1 << i: d for i, d in enumerate(ds)}}
    else:
        b = xp.linalg.inv(a)
        base = {}
        for s in range(full + 1):
            chosen = [ds[i] for i in range(k) if s >> i & 1]
            total = None
            for order in itertools.permutations(chosen):
                term = b
                for t in order:
                    term = term @ t @ b
                total = term if total is None else total + term
            base[s] = -total if len(chosen) % 2 else total
    x = dict(base)
    for _ in range(abs(n) - 1):
        new = {}
        for s in range(full + 1):
            t, total = s, None
            while True:  # every subset t of s
                if t in base and x.get(s ^ t) is not None:
                    term = x[s ^ t] @ base[t]
                    total = term if total is None else total + term
                if t == 0:
                    break
                t = (t - 1) & s
            if total is not None:
                new[s] = total
        x = new
    return x[full] + zero if full in x else zero


def matrix_power_tangent_grads(g: Any, d: Any, a: Any, n: Any) -> tuple[Any, Any]:
    """The gradients of ``d`` and ``a`` of ``matrix_power_tangent(d, a, n)``: reverse mode
    over its recurrence ``T(j+1) = T(j) A + P(j) dA``, ``P(j+1) = P(j) A`` from
    ``T(1) = dA``, ``P(1) = A`` (``d`` gets ``matrix_power_grad``, as the tangent is linear
    in it); for ``n < 0``, through ``B = inv(a)`` and the tangent ``-B dA B`` of ``B``."""
    xp = array_module(g, d, a)
    n = operator.index(n)
    if n == 0:
        return xp.zeros_like(d), xp.zeros_like(a)
    if n < 0:
        b = xp.linalg.inv(a)
        bt = _swap_last(xp, b)
        d_e, d_b = matrix_power_tangent_grads(g, -(b @ d @ b), b, -n)
        d_b = d_b - d_e @ _swap_last(xp, d @ b) - _swap_last(xp, b @ d) @ d_e
        return unbroadcast(-(bt @ d_e @ bt), d), unbroadcast(-(bt @ d_b @ bt), a)
    powers, tangents = [a], [d]
    for _ in range(n - 2):  # P(j) and T(j) for j < n
        tangents.append(tangents[-1] @ a + powers[-1] @ d)
        powers.append(powers[-1] @ a)
    at, dt = _swap_last(xp, a), _swap_last(xp, d)
    t_bar, p_bar = g, xp.zeros_like(g)  # the adjoints of T(j + 1) and P(j + 1)
    d_a, d_d = xp.zeros_like(a), xp.zeros_like(d)
    for p, t in zip(reversed(powers[: n - 1]), reversed(tangents[: n - 1]), strict=True):
        d_a = d_a + _swap_last(xp, t) @ t_bar + _swap_last(xp, p) @ p_bar
        d_d = d_d + _swap_last(xp, p) @ t_bar
        t_bar, p_bar = t_bar @ at, t_bar @ dt + p_bar @ at
    return unbroadcast(d_d + t_bar, d), unbroadcast(d_a + p_bar, a)


def lstsq_grads(g: Any, ans: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """Gradients of ``np.linalg.lstsq(a, b)`` at an ``a`` of full rank: ``x = P b`` with
    ``P = pinv(a)`` (the pseudo-inverse's derivative as in ``pinv_grad``); the residuals
    ``|b - a x|^2`` give ``2 r`` to ``b`` and ``-2 r x^T`` to ``a`` (``a^T r = 0``); the
    singular values ``U diag(s_bar) V^T`` to ``a``; the rank none."""
    xp = array_module(a, b)
    x, res, rank = ans[0], ans[1], ans[2]
    parts = list(g) if g is not None else [None] * 4
    m, n = a.shape
    if int(rank) < min(m, n):
        raise refuse(
            f"np.linalg.lstsq of a {m}x{n} matrix of rank {int(rank)}: its solution is "
            "not differentiable there",
            "srcdiff differentiates it at a matrix of full rank",
        )
    vector = b.ndim == 1
    bb, xx = (b[:, None], x[:, None]) if vector else (b, x)
    gx = xp.zeros_like(xx) if parts[0] is None else (parts[0][:, None] if vector else parts[0])
    p = xp.linalg.pinv(a)
    pt = p.T
    r = bb - a @ xx
    db = pt @ gx
    da = -(db @ xx.T) + r @ (gx.T @ p @ pt) + (pt @ xx) @ (gx.T - (gx.T @ p) @ a)
    if parts[1] is not None and res.shape[0]:
        gres = xp.asarray(parts[1])
        db = db + 2.0 * r * gres
        da = da - 2.0 * (r * gres) @ xx.T
    if parts[3] is not None:
        u, _, vh = xp.linalg.svd(a, full_matrices=False)
        da = da + (u * xp.asarray(parts[3])) @ vh
    return da, (db[:, 0] if vector else db)


def _chain(arrays: Any) -> tuple[list, Any]:
    """The matrices of ``np.linalg.multi_dot(arrays)``, a first vector made a row and a
    last one a column, and the array module."""
    xp = array_module(*arrays)
    mats = [xp.asarray(a) for a in arrays]
    if mats[0].ndim == 1:
        mats[0] = mats[0][None, :]
    if mats[-1].ndim == 1:
        mats[-1] = mats[-1][:, None]
    return mats, xp


def multi_dot_grads(g: Any, arrays: Any) -> list:
    """The gradients of the entries of ``np.linalg.multi_dot(arrays)``: ``L^T g R^T``
    for each, ``L`` the product of those before it and ``R`` of those after."""
    mats, xp = _chain(arrays)
    g = xp.reshape(xp.asarray(g), (mats[0].shape[0], mats[-1].shape[1]))
    before = [None]
    for m in mats[:-1]:
        before.append(m if before[-1] is None else before[-1] @ m)
    after = [None]
    for m in mats[:0:-1]:
        after.append(m if after[-1] is None else m @ after[-1])
    after.reverse()
    grads = []
    for a, left, right in zip(arrays, before, after, strict=True):
        d = g if left is None else left.T @ g
        d = d if right is None else d @ right.T
        grads.append(reshape_like(d, a))
    return entries_like(grads, arrays)


def multi_dot_tangent_grads(g: Any, arrays: Any, darrays: Any) -> tuple[Any, list]:
    """The gradients of ``arrays`` and ``darrays`` of ``multi_dot_tangent(arrays,
    darrays)`` given its adjoint ``g``: each of its products (entry ``i`` replaced by its
    tangent) passes ``multi_dot_grads`` on to the tangent at ``i`` and to the others'
    entries (none to a tangent that is None)."""
    entries = list(arrays)  # (an array: its rows)
    tangents = list(darrays) if darrays is not None else [None] * len(entries)
    d_arrays = [zeros_like(a) for a in entries]
    d_tangents: list = [None if t is None else zeros_like(t) for t in tangents]
    for i, t in enumerate(tangents):
        if t is None:
            continue
        parts = list(multi_dot_grads(g, [t if j == i else a for j, a in enumerate(entries)]))
        for j, d in enumerate(parts):
            if j == i:
                d_tangents[i] = d_tangents[i] + d
            else:
                d_arrays[j] = d_arrays[j] + d
    return entries_like(d_arrays, arrays), d_tangents


def multi_dot_tangent(arrays: Any, darrays: Any) -> Any:
    """The tangent of ``np.linalg.multi_dot(arrays)``: for each entry with a tangent,
    the product with that entry replaced by it."""
    total = None
    for i, t in enumerate(darrays if darrays is not None else ()):
        if t is None:
            continue
        moved = [t if j == i else a for j, a in enumerate(arrays)]
        part = array_module(*moved).linalg.multi_dot(moved)
        total = part if total is None else total + part
    return total
