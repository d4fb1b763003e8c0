"""Rules of functions along an axis or of sequences of samples: differences, cumulative
products, numerical derivatives and integrals, interpolation, convolutions, polynomials."""

import numpy as xp

from .. import runtime as rt
from .registry import alias, jvp, keywords, linear, sequence_result, vjp


@vjp(xp.diff)
def diff(g, ans, a, n=1, axis=-1, prepend=None, append=None):
    """``prepend`` and ``append`` (None: not given) are joined to ``a`` before it is
    differenced, and get the gradient of the entries they became."""
    d_a, d_prepend, d_append = rt.diff_grads(g, a, n, axis, prepend, append)
    return d_a, None, None, d_prepend, d_append


@jvp(xp.diff, shaped=True)
def diff_jvp(ans, a, n=1, axis=-1, prepend=None, append=None, *, da, dprepend, dappend):
    """Linear in ``a``, ``prepend`` and ``append`` jointly: the differences of the tangents
    joined as the values were (``np.diff`` itself without ``prepend`` and ``append``)."""
    return (
        (
            xp.diff(da, n, axis)
            if append is None
            else rt.diff_tangent(da, None, None, a, n, axis, prepend, append)
        )
        if prepend is None
        else rt.diff_tangent(da, None, None, a, n, axis, prepend, append),
        rt.diff_tangent(None, dprepend, None, a, n, axis, prepend, append),
        rt.diff_tangent(None, None, dappend, a, n, axis, prepend, append),
    )


@vjp(xp.cumprod, "ndarray.cumprod")
def cumprod(g, ans, a, axis=None, dtype=None, out=None):
    """Exact where entries are zero (no division by them)."""
    return rt.cumprod_grad(g, ans, a, axis), None, None, None


@jvp(xp.cumprod, "ndarray.cumprod", shaped=True)
def cumprod_jvp(ans, a, axis=None, dtype=None, out=None, *, da):
    """Exact where entries are zero (no division by them)."""
    return rt.cumprod_tangent(da, a, axis)


@vjp(xp.nancumprod)
def nancumprod(g, ans, a, axis=None, dtype=None, out=None):
    """``np.cumprod`` with the NaN entries taken for ones: they get no gradient."""
    d_a = rt.cumprod_grad(g, ans, xp.where(xp.isnan(a), 1.0, a), axis)
    return xp.where(xp.isnan(a), 0.0, rt.reshape_like(d_a, a)), None, None, None


@jvp(xp.nancumprod, shaped=True)
def nancumprod_jvp(ans, a, axis=None, dtype=None, out=None, *, da):
    return rt.cumprod_tangent(xp.where(xp.isnan(a), 0.0, da), xp.where(xp.isnan(a), 1.0, a), axis)


# ``np.multiply.accumulate`` is ``np.cumprod`` with ``axis`` 0 by default, not None
alias(xp.multiply.accumulate, xp.cumprod, axis=0)
keywords(xp.multiply.accumulate, array="a")


CUMULATIVE_PROD = [xp.cumulative_prod] if hasattr(xp, "cumulative_prod") else []  # NumPy 2.1


@vjp(*CUMULATIVE_PROD)
def cumulative_prod(g, ans, x, axis=None, dtype=None, out=None, include_initial=False):
    """``np.cumprod`` (``axis`` None: of a 1-D array); ``include_initial``: a 1 first,
    whose gradient goes nowhere."""
    ax = 0 if axis is None else axis
    kept = xp.take(g, xp.arange(1, g.shape[ax]), axis=ax) if include_initial else g
    return rt.cumprod_grad(kept, xp.cumprod(x, axis=ax), x, ax), None, None, None, None


@jvp(*CUMULATIVE_PROD, shaped=True)
def cumulative_prod_jvp(ans, x, axis=None, dtype=None, out=None, include_initial=False, *, dx):
    return (
        xp.concatenate(
            [
                xp.zeros_like(xp.take(ans, xp.arange(1), axis=0 if axis is None else axis)),
                rt.cumprod_tangent(dx, x, 0 if axis is None else axis),
            ],
            axis=0 if axis is None else axis,
        )  # fmt: skip
        if include_initial
        else rt.cumprod_tangent(dx, x, 0 if axis is None else axis)
    )


@vjp(xp.gradient)
def gradient(g, ans, f, *varargs, axis=None, edge_order=1):
    """Scalar spacings (each result moving by ``-result / h``) or coordinate arrays
    (NumPy's divided differences of a grid that is not uniform), as ``rt.gradient_grads``."""
    d_f, d_varargs = rt.gradient_grads(g, ans, f, varargs, axis, edge_order)
    return d_f, None, None, *d_varargs


@jvp(xp.gradient)
def gradient_jvp(ans, f, axis=None, edge_order=1, *varargs, df, dvarargs):
    """Linear in ``f`` (the spacings held; alone, ``linear`` below serves it); the
    spacings' tangents move each stencil coefficient (``rt.gradient_spacing_tangent``).
    Several results: their tangent is one array, the results' tangents stacked."""
    return (
        rt.gradient_samples_tangent(df, varargs, axis, edge_order),
        rt.gradient_spacing_tangent(f, varargs, dvarargs, axis, edge_order),
    )


@vjp(rt.gradient_samples_tangent)
def gradient_samples_tangent(g, ans, df, varargs, axis=None, edge_order=1):
    """``np.gradient`` of the samples' tangent, its results stacked: np.gradient's rule."""
    d_df, d_varargs = rt.gradient_samples_tangent_grads(g, ans, df, varargs, axis, edge_order)
    return d_df, d_varargs, None, None


@vjp(rt.gradient_spacing_tangent)
def gradient_spacing_tangent(g, ans, f, varargs, dvarargs, axis=None, edge_order=1):
    """Linear in ``f`` and in the spacings' tangents, the spacings' gradients from the
    second derivatives of the coefficients (so that reverse over forward mode holds)."""
    d_f, d_varargs, d_dvarargs = rt.gradient_spacing_tangent_grads(
        g, f, varargs, dvarargs, axis, edge_order
    )
    return d_f, d_varargs, d_dvarargs, None, None


@vjp(*[f for f in (getattr(xp, "trapezoid", None), getattr(xp, "trapz", None)) if f])
def trapezoid(g, ans, y, x=None, dx=1.0, axis=-1):
    d_y, d_x, d_dx = rt.trapezoid_grads(g, y, x, dx, axis)
    return d_y, d_x, d_dx, None


@jvp(*[f for f in (getattr(xp, "trapezoid", None), getattr(xp, "trapz", None)) if f], shaped=True)
def trapezoid_jvp(ans, y, x=None, dx=1.0, axis=-1, *, dy, d_x, ddx):
    """Bilinear in ``y`` and the sample points ``x`` (or, without them, the spacing
    ``dx``, which NumPy ignores when ``x`` is given); ``d_x`` is the tangent of ``x``."""
    return (
        rt.trapezoid(dy, x, dx, axis),
        xp.zeros_like(ans) if x is None else rt.trapezoid(y, d_x, axis=axis),
        rt.trapezoid(y, dx=ddx, axis=axis) if x is None else xp.zeros_like(ans),
    )


@vjp(xp.interp)
def interp(g, ans, x, xp, fp, left=None, right=None, period=None):
    """``xp`` is NumPy's name of the sample points here, not the array module."""
    d_x, d_xp, d_fp, d_left, d_right, d_period = rt.interp_grads(g, x, xp, fp, left, right, period)
    return d_x, d_xp, d_fp, d_left, d_right, d_period


@jvp(xp.interp, shaped=True)
def interp_jvp(ans, x, xp, fp, left=None, right=None, period=None, *, dx, dxp, dfp, dleft,
               dright, dperiod):  # fmt: skip
    """``xp`` is NumPy's name of the sample points here, not the array module. The slope
    times ``dx``; the interpolation of ``dfp`` (linear in ``fp``), and of ``dxp`` times
    minus the slope; ``dleft`` and ``dright`` where ``x`` is outside: all made of
    functions with rules, so that they are differentiated again (but ``period``'s)."""
    return (
        rt.interp_slope(x, xp, fp, period) * dx,
        -rt.interp_slope(x, xp, fp, period) * rt.interp(x, xp, dxp, 0.0, 0.0, period),
        rt.interp(
            x, xp, dfp, None if left is None else 0.0, None if right is None else 0.0, period
        ),
        rt.interp(x, xp, rt.zeros_like(fp), dleft, 0.0, period),
        rt.interp(x, xp, rt.zeros_like(fp), 0.0, dright, period),
        rt.interp_tangent(x, xp, fp, left, right, period, dperiod=dperiod),
    )


@vjp(xp.convolve)
def convolve(g, ans, a, v, mode="full"):
    d_a, d_v = rt.convolution_grads(g, a, v, mode, False)
    return d_a, d_v, None


@jvp(xp.convolve, shaped=True)
def convolve_jvp(ans, a, v, mode="full", *, da, dv):
    return xp.convolve(da, v, mode), xp.convolve(a, dv, mode)


@vjp(xp.correlate)
def correlate(g, ans, a, v, mode="valid"):
    d_a, d_v = rt.convolution_grads(g, a, v, mode, True)
    return d_a, d_v, None


@jvp(xp.correlate, shaped=True)
def correlate_jvp(ans, a, v, mode="valid", *, da, dv):
    return xp.correlate(da, v, mode), xp.correlate(a, dv, mode)


@vjp(xp.unwrap)
def unwrap(g, ans, p, discont=None, axis=-1, period=6.283185307179586):
    """``p`` plus whole periods, as many as its jumps call for: how many is constant where
    no jump sits at ``discont``, so ``p``'s gradient is ``g``; ``period``'s is the number
    of periods added to each entry."""
    return (
        g,
        None,
        None,
        xp.sum(g * xp.round((ans - p) / period)),
    )


@jvp(xp.unwrap, shaped=True)
def unwrap_jvp(ans, p, discont=None, axis=-1, period=6.283185307179586, *, dp, dperiod):
    return dp, dperiod * xp.round((ans - p) / period)


@vjp(xp.polyder)
def polyder(g, ans, p, m=1):
    """Each kept coefficient times its falling power (``m`` factors): linear in ``p``;
    the last ``m`` coefficients are gone (all, for ``m`` past the degree)."""
    n = xp.shape(p)[0]
    k = xp.arange(max(n - m, 0))
    c = xp.prod((n - 1 - k)[:, None] - xp.arange(m)[None, :], axis=1)
    return (
        rt.cast_like(
            xp.zeros(n, dtype=xp.result_type(g, 1.0))
            if m >= n
            else xp.concatenate([g * c, xp.zeros(m, dtype=xp.result_type(g, 1.0))]),
            p,
        ),
        None,
    )


@vjp(xp.polyval)
def polyval(g, ans, p, x):
    d_p, d_x = rt.polyval_grads(g, p, x)
    return d_p, d_x


linear((0,), xp.polyder)


@vjp(xp.poly)
def poly(g, ans, seq_of_zeros):
    """The coefficients of ``prod (x - r_i)``: moving ``r_i`` moves them by minus those of
    the quotient ``q_i = ans / (x - r_i)`` (``rt.poly_quotients``). The characteristic
    polynomial of a square matrix is refused. (Of no roots, NumPy gives the number 1.)"""
    rt.poly_of_roots(seq_of_zeros)
    c = xp.reshape(xp.asarray(ans), (-1,))
    return rt.cast_like(
        xp.reshape(
            -(rt.poly_quotients(xp.reshape(seq_of_zeros, (-1,)), c) @ xp.reshape(g, (-1,))[1:]),
            xp.shape(seq_of_zeros),
        ),
        seq_of_zeros,
    )


@jvp(xp.poly)
def poly_jvp(ans, seq_of_zeros, *, dseq_of_zeros):
    rt.poly_of_roots(seq_of_zeros)
    c = xp.reshape(xp.asarray(ans), (-1,))
    moved = xp.reshape(dseq_of_zeros, (-1,)) @ rt.poly_quotients(xp.reshape(seq_of_zeros, (-1,)), c)
    return xp.reshape(xp.concatenate([xp.zeros_like(c[:1]), -moved]), xp.shape(ans))


@vjp(rt.poly_quotients)
def poly_quotients(g, ans, r, c):
    """Linear in ``c``: coefficient ``j`` gets ``sum_{k>=j} g_k r_i^(k-j)``, the division of
    ``g`` reversed (summed over the rows for a shared ``c``). Row ``i`` moves with ``r_i``
    by the quotient of the quotient, one place on."""
    back = rt.poly_quotients(r, xp.concatenate([g[:, ::-1], xp.zeros_like(g[:, :1])], axis=1))
    d_c = xp.concatenate([back[:, ::-1], xp.zeros_like(back[:, :1])], axis=1)
    moved = xp.concatenate([xp.zeros_like(ans[:, :1]), rt.poly_quotients(r, ans)], axis=1)
    return xp.sum(g * moved, axis=1), d_c if xp.ndim(c) == 2 else xp.sum(d_c, axis=0)


@jvp(rt.poly_quotients, shaped=True)
def poly_quotients_jvp(ans, r, c, *, dr, dc):
    return (
        dr[:, None]
        * xp.concatenate([xp.zeros_like(ans[:, :1]), rt.poly_quotients(r, ans)], axis=1),
        rt.poly_quotients(r, xp.broadcast_to(dc, xp.shape(c))),
    )


@vjp(xp.polyint)
def polyint(g, ans, p, m=1, k=None):
    """Linear in ``p`` and ``k``: coefficient ``i`` of ``n`` divided by the ``m`` rising
    powers ``n - i`` to ``n - i + m - 1``; constant ``j`` (of ``m``) lands at ``n + j``,
    divided by ``(m - 1 - j)!`` (one scalar ``k`` stands for ``m`` equal constants)."""
    n = xp.shape(p)[0]
    c = xp.prod(xp.arange(n, 0, -1)[:, None] + xp.arange(m)[None, :], axis=1)
    f = (xp.cumprod(xp.arange(1.0, m + 1)) / xp.arange(1.0, m + 1))[::-1]  # (m - 1 - j)!
    return (
        rt.cast_like(g[:n] / c, p),
        None,
        None if k is None else rt.unbroadcast(rt.cast_like(g[n:] / f, g), xp.asarray(k)),
    )


@jvp(xp.polyint)
def polyint_jvp(ans, p, m=1, k=None, *, dp, dk):
    return xp.polyint(dp, m), xp.polyint(xp.zeros(xp.shape(p)[0], dtype=ans.dtype), m, dk)


@jvp(xp.polyval)
def polyval_jvp(ans, p, x, *, dp, dx):
    """The polynomial of the tangents of the coefficients, and the derivative polynomial
    (coefficients ``p[k] * (N - 1 - k)``) times ``dx``."""
    return xp.polyval(dp, x), dx * xp.polyval(
        xp.asarray(p)[:-1]
        * xp.reshape(xp.arange(xp.shape(p)[0] - 1, 0, -1), (-1,) + (1,) * (xp.ndim(p) - 1)),
        x,
    )


@vjp(xp.polyadd)
def polyadd(g, ans, a1, a2, sign=1):
    """Linear: the shorter is padded with leading zeros, so each gets the last of ``g``
    (``a2`` times ``sign``: -1 for ``np.polysub``, the sum of ``a1`` and ``-a2``)."""
    n = xp.shape(g)[0]
    return (
        rt.cast_like(rt.unbroadcast(g[n - (xp.shape(a1) + (1,))[0] :], a1), a1),
        rt.cast_like(rt.unbroadcast(sign * g[n - (xp.shape(a2) + (1,))[0] :], a2), a2),
        None,
    )


linear("all", xp.polyadd, xp.polysub)
alias(xp.polysub, xp.polyadd, sign=-1)


@vjp(xp.polymul)
def polymul(g, ans, a1, a2):
    """The product's coefficients are the last of the full convolution of the factors
    (NumPy drops each factor's leading zeros, whose products are the first): ``g`` put
    there, each factor gets its valid correlation with the other. A factor whose leading
    zero NumPy drops is refused (``rt.polymul_factor_shape``). NumPy reads an empty factor
    as the polynomial 0 (``[0.]``): it gets an empty gradient, and the other none."""
    e1, e2 = int(xp.size(a1) == 0), int(xp.size(a2) == 0)
    p1 = xp.concatenate([xp.zeros(e1, dtype=g.dtype), xp.reshape(a1, (-1,))])
    p2 = xp.concatenate([xp.zeros(e2, dtype=g.dtype), xp.reshape(a2, (-1,))])
    full = xp.concatenate(
        [xp.zeros(xp.shape(p1)[0] + xp.shape(p2)[0] - 1 - xp.shape(g)[0], dtype=g.dtype), g]
    )
    return (
        rt.cast_like(
            xp.reshape(xp.correlate(full, p2, "valid")[e1:], rt.polymul_factor_shape(a1)), a1
        ),
        rt.cast_like(
            xp.reshape(xp.correlate(full, p1, "valid")[e2:], rt.polymul_factor_shape(a2)), a2
        ),
    )


@jvp(xp.polymul, shaped=True)
def polymul_jvp(ans, a1, a2, *, da1, da2):
    """Bilinear: the last coefficients of the full convolutions (refused for a factor whose
    leading zero NumPy drops, as in reverse mode; an empty factor is the polynomial 0)."""
    e1, e2 = int(xp.size(a1) == 0), int(xp.size(a2) == 0)
    p1 = xp.concatenate([xp.zeros(e1, dtype=ans.dtype), xp.reshape(a1, (-1,))])
    p2 = xp.concatenate([xp.zeros(e2, dtype=ans.dtype), xp.reshape(a2, (-1,))])
    return (
        xp.convolve(
            xp.concatenate(
                [
                    xp.zeros(e1, dtype=ans.dtype),
                    xp.reshape(xp.reshape(da1, rt.polymul_factor_shape(a1)), (-1,)),
                ]
            ),
            p2,
        )[-xp.shape(ans)[0] :],
        xp.convolve(
            p1,
            xp.concatenate(
                [
                    xp.zeros(e2, dtype=ans.dtype),
                    xp.reshape(xp.reshape(da2, rt.polymul_factor_shape(a2)), (-1,)),
                ]
            ),
        )[-xp.shape(ans)[0] :],
    )


@vjp(xp.polydiv)
def polydiv(g, ans, u, v):
    """``u = q v + R``, the remainder ``R`` the last ``min(len(u), len(v) - 1)`` of ``u``'s
    coefficients (the others NumPy's ``r`` holds are zero but for rounding): for ``e = du -
    dv q``, ``dq`` solves the triangular Toeplitz system of ``v`` (``T``) on the first of
    ``e`` and ``dR`` is the rest less ``B dq``; its transpose here. Refused where NumPy cut
    the remainder short or ``v`` leads with 0 (``rt.check_polydiv``)."""
    rt.check_polydiv(u, v, ans[1])
    gq, gr = rt.result_grads(g, ans)
    u1, v1 = xp.reshape(xp.asarray(u), (-1,)), xp.reshape(xp.asarray(v), (-1,))
    k = max(xp.shape(u1)[0] - xp.shape(v1)[0] + 1, 0)  # the quotient's coefficients
    at = xp.arange(xp.shape(u1)[0])[:, None] - xp.arange(k)[None, :]
    c = xp.where((at >= 0) & (at < xp.shape(v1)[0]), v1[xp.clip(at, 0, xp.shape(v1)[0] - 1)], 0)
    d_rest = gr[xp.shape(gr)[0] - (xp.shape(u1)[0] - k) :]
    d_e = xp.concatenate([xp.linalg.solve(c[:k].T, gq[:k] - c[k:].T @ d_rest), d_rest])
    return (
        rt.cast_like(xp.reshape(d_e, xp.shape(xp.asarray(u))), u),
        rt.cast_like(
            xp.reshape(
                -xp.correlate(d_e, ans[0], "valid") if k else xp.zeros_like(v1),
                xp.shape(xp.asarray(v)),
            ),
            v,
        ),
    )


@jvp(xp.polydiv, shaped=True)
def polydiv_jvp(ans, u, v, *, du, dv):
    """``dq = T^-1 e[:k]`` and ``dR = e[k:] - B dq`` for ``e = du``, then ``e = -dv q``."""
    rt.check_polydiv(u, v, ans[1])
    u1, v1 = xp.reshape(xp.asarray(u), (-1,)), xp.reshape(xp.asarray(v), (-1,))
    k = max(xp.shape(u1)[0] - xp.shape(v1)[0] + 1, 0)
    at = xp.arange(xp.shape(u1)[0])[:, None] - xp.arange(k)[None, :]
    c = xp.where((at >= 0) & (at < xp.shape(v1)[0]), v1[xp.clip(at, 0, xp.shape(v1)[0] - 1)], 0)
    pad = xp.zeros(xp.shape(ans[1])[0] - (xp.shape(u1)[0] - k), dtype=ans[1].dtype)
    e_u = xp.reshape(xp.broadcast_to(du, xp.shape(xp.asarray(u))), (-1,))
    e_v = (
        -xp.convolve(ans[0], xp.reshape(xp.broadcast_to(dv, xp.shape(xp.asarray(v))), (-1,)))
        if k
        else xp.zeros_like(u1)
    )
    return (
        [
            xp.concatenate(
                [xp.linalg.solve(c[:k], e_u[:k]), xp.zeros(1 - min(k, 1), dtype=ans[0].dtype)]
            ),
            xp.concatenate([pad, e_u[k:] - c[k:] @ xp.linalg.solve(c[:k], e_u[:k])]),
        ],
        [
            xp.concatenate(
                [xp.linalg.solve(c[:k], e_v[:k]), xp.zeros(1 - min(k, 1), dtype=ans[0].dtype)]
            ),
            xp.concatenate([pad, e_v[k:] - c[k:] @ xp.linalg.solve(c[:k], e_v[:k])]),
        ],
    )


sequence_result(xp.polydiv)


@vjp(xp.roots)
def roots(g, ans, p):
    """A simple real root ``r`` of ``sum_k p_k x^(N-1-k)`` moves (implicit function
    theorem) by ``-r^(N-1-k) / p'(r)`` per coefficient ``p_k``; complex and repeated
    roots, and a leading zero (a root comes in from infinity as it leaves 0), are refused."""
    rt.simple_real_roots(ans, p)
    c = xp.reshape(p, (-1,))
    powers = ans[:, None] ** xp.arange(xp.shape(c)[0] - 1, -1, -1)
    return rt.cast_like(rt.reshape_like(-(g / xp.polyval(xp.polyder(c), ans)) @ powers, p), p)


@jvp(xp.roots, shaped=True)
def roots_jvp(ans, p, *, dp):
    rt.simple_real_roots(ans, p)
    return -xp.polyval(xp.reshape(dp, (-1,)), ans) / xp.polyval(
        xp.polyder(xp.reshape(p, (-1,))), ans
    )


@vjp(xp.polyfit)
def polyfit(g, ans, x, y, deg, rcond=None, full=False, w=None, cov=False):
    d_x, d_y, d_w = rt.polyfit_grads(g, ans, x, y, deg, rcond, full, w, cov)
    return d_x, d_y, None, None, None, d_w, None


@jvp(xp.polyfit, shaped=True)
def polyfit_jvp(ans, x, y, deg, rcond=None, full=False, w=None, cov=False, *, dx, dy, dw):
    """The fit of ``dy`` (the coefficients are linear in ``y``), and the change of the
    least-squares solution ``G c = V^T W y`` (``G = V^T W V``, ``W = diag(w ** 2)``) with
    the points and the weights: ``G^-1 (dV^T W r - V^T W dV c)`` with ``dV = D diag(dx)``
    (``D`` the derivative of ``V`` in ``x``), and ``G^-1 V^T diag(2 w dw) r``, ``r = y - V
    c`` the residuals. Made of functions with rules, so that it is differentiated again."""
    rt.check_polyfit(x, y, deg, rcond, full, w, cov)
    v = xp.vander(x, deg + 1)
    weights = xp.ones_like(v[:, 0]) if w is None else xp.asarray(w)  # (a list of numbers too)
    lhs = v * weights[:, None]
    rows = (-1,) + (1,) * (xp.ndim(y) - 1)  # a weight per point, for each column of y
    r = y - v @ ans
    slope = xp.concatenate([v[:, 1:] * xp.arange(deg, 0, -1), xp.zeros_like(v[:, :1])], 1)
    moved = slope * xp.reshape(dx, (-1, 1))
    return (
        xp.linalg.solve(
            lhs.T @ lhs,
            moved.T @ (r * xp.reshape(weights * weights, rows))
            - (v * (weights * weights)[:, None]).T @ (moved @ ans),
        ),
        xp.polyfit(x, dy, deg, rcond, full, w, cov),
        xp.linalg.solve(lhs.T @ lhs, v.T @ (r * xp.reshape(2.0 * weights * dw, rows))),
    )


@vjp(xp.vander)
def vander(g, ans, x, N=None, increasing=False):
    """Column ``j`` of the increasing matrix is ``x ** j``: ``x`` gets ``j * x ** (j - 1)``
    times its gradient, ``x ** (j - 1)`` read from the column before. (NumPy makes the
    matrix in float64 for float32 ``x``: the gradient is cast back.)"""
    up, powers = (g, ans) if increasing else (xp.flip(g, axis=1), xp.flip(ans, axis=1))
    j = xp.arange(1, ans.shape[1], dtype=ans.dtype)
    return rt.cast_like(xp.sum(j * up[:, 1:] * powers[:, :-1], axis=1), x), None, None


@jvp(xp.vander, shaped=True)
def vander_jvp(ans, x, N=None, increasing=False, *, dx):
    """Column ``j`` of the increasing matrix, ``x ** j``, moves by ``j * x ** (j - 1) * dx``,
    ``x ** (j - 1)`` read from the column before."""
    up = ans if increasing else xp.flip(ans, axis=1)
    j = xp.arange(1, ans.shape[1], dtype=ans.dtype)
    return (
        xp.concatenate([xp.zeros_like(ans[:, :1]), j * up[:, :-1] * dx[:, None]], axis=1)
        if increasing
        else xp.flip(
            xp.concatenate([xp.zeros_like(ans[:, :1]), j * up[:, :-1] * dx[:, None]], axis=1),
            axis=1,
        )
    )


# Forward: np.gradient is linear in the samples (its spacings fixed); with a spacing's
# tangent, gradient_jvp above.
linear((0,), xp.gradient)
sequence_result(xp.gradient)  # a list of arrays, one per axis
