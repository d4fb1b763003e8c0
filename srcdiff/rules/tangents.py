"""Rules of the helpers that generated forward-mode source calls, so that it can be
differentiated once more: reverse mode over forward mode gives Hessian-vector products
(``sd.hvp``, ``sd.hessian``) and the derivatives of ``sd.grad(f)`` and ``sd.jvp`` called
inside a differentiated function. A helper with no rule here (``rt.interp_tangent``,
for a differentiated period) is refused there with a ``CompileError``."""

import numpy as xp

from .. import runtime as rt
from .registry import (
    constant_in,
    forward_call,
    jvp,
    linear,
    make_rule,
    nondiff,
    register,
    sequence_result,
    vjp,
)


@vjp(rt.broadcast_like)
def broadcast_like(gbar, out, d, ans):
    """``d`` spread to the shape of ``ans``: linear in ``d``; ``ans`` gives a shape only
    (a list's tangent, a list, passes as it is)."""
    return (gbar if isinstance(d, (list, tuple)) else rt.unbroadcast(gbar, d)), None


@vjp(rt.power_slope)
def power_slope(g, ans, x, y):
    """``y * x ** (y - 1)``, the slope of ``x ** y``."""
    d_x, d_y = rt.power_slope_grads(g, x, y)
    return rt.unbroadcast(d_x, x), rt.unbroadcast(d_y, y)


@jvp(rt.power_slope)
def power_slope_jvp(ans, x, y, *, dx, dy):
    """Linear in the tangents, by the slopes ``rt.power_slope_grads`` gives (forward mode
    over the forward mode of ``x ** y``): in ``x``, ``y * power_slope(x, y - 1)`` (0 where
    ``y`` is 0); in ``y``, ``x ** (y - 1) * (1 + y log x)`` where ``x > 0``, 0 elsewhere.
    Written with helpers that have rules of their own, ``power_slope`` again among them,
    so that forward mode over this is differentiated again, to any order."""
    positive = xp.asarray(x) > 0
    base = xp.where(positive, x, 1.0)
    return (
        xp.where(xp.asarray(y) == 0, 0.0, dx * y * rt.power_slope(x, y - 1)),
        dy * xp.where(positive, base ** (y - 1) * (1.0 + y * xp.log(base)), 0.0),
    )


@vjp(rt.sinc_derivative)
def sinc_derivative(g, ans, x, n):
    """The ``n``-th derivative of ``np.sinc``: its slope is the next one."""
    return g * rt.sinc_derivative(x, n + 1), None


@jvp(rt.sinc_derivative)
def sinc_derivative_jvp(ans, x, n, *, dx):
    return dx * rt.sinc_derivative(x, n + 1)


@vjp(rt.exponent_grad)
def exponent_grad(gbar, out, g, ans, x):
    """``g * ans * log x`` (see there): linear in ``g`` and in ``ans``; ``g * ans / x`` in
    ``x`` where ``x > 0``."""
    positive = xp.asarray(x) > 0
    d_x = xp.where(positive, gbar * g * ans / xp.where(positive, x, 1.0), 0.0)
    return (
        rt.unbroadcast(rt.exponent_grad(gbar, ans, x), g),
        rt.unbroadcast(rt.exponent_grad(gbar, g, x), ans),
        rt.unbroadcast(d_x, x),
    )


@jvp(rt.exponent_grad)
def exponent_grad_jvp(out, g, ans, x, *, dg, dans, dx):
    positive = xp.asarray(x) > 0
    return (
        rt.exponent_grad(dg, ans, x),
        rt.exponent_grad(g, dans, x),
        xp.where(positive, g * ans * dx / xp.where(positive, x, 1.0), 0.0),
    )


@jvp(rt.safe_log)
def safe_log_jvp(ans, x, *, dx):
    positive = xp.asarray(x) > 0
    return xp.where(positive, dx / xp.where(positive, x, 1.0), 0.0)


@vjp(rt.safe_log)
def safe_log(g, ans, x):
    """``log x`` where ``x > 0``, 0 elsewhere."""
    positive = xp.asarray(x) > 0
    return xp.where(positive, g / xp.where(positive, x, 1.0), 0.0)


@vjp(rt.sort_tangent)
def sort_tangent(g, ans, d, x, axis=-1):
    """``d`` in the order that sorting ``x`` makes: linear in ``d``, and the order is
    constant where the entries of ``x`` differ."""
    return rt.sort_grad(g, x, axis), None, None


@vjp(rt.extreme_grad)
def extreme_grad(gbar, out, g, ans, x, axis=None, keepdims=False):
    """Max's or min's share of ``g`` for each entry: linear in ``g``; the share is
    constant where one entry attains the extreme (it jumps where two tie)."""
    share = rt.extreme_grad(xp.ones_like(ans), ans, x, axis, keepdims)
    return xp.sum(gbar * share, axis=axis, keepdims=keepdims), None, None, None, None


@vjp(rt.running_extreme_grad)
def running_extreme_grad(gbar, out, g, ans, x, axis=0):
    """A running extreme's gradient: linear in ``g``, whose adjoint is the running
    extreme's tangent; which entries attain it is constant where no two tie."""
    return rt.running_extreme_tangent(gbar, ans, x, axis), None, None, None


@vjp(rt.running_extreme_tangent)
def running_extreme_tangent(gbar, out, d, ans, x, axis=0):
    """A running extreme's tangent: linear in ``d``, whose adjoint is its gradient."""
    return rt.running_extreme_grad(gbar, ans, x, axis), None, None, None


@vjp(rt.pad_stat_tangent)
def pad_stat_tangent(g, ans, array, darray, pad_width, mode, stat_length=None):
    """``np.pad``'s tangent in modes 'mean', 'maximum' and 'minimum': linear in
    ``darray``, whose adjoint is the gradient; which entries attain an extreme is constant
    where no two tie."""
    d_darray, _ = rt.pad_grads(g, array, pad_width, mode, 0, "even", stat_length)
    return None, d_darray, None, None, None


@vjp(rt.follow_tangent)
def follow_tangent(g, ans, dm, m, old, dnew):
    """``dnew`` where ``m`` held the object ``old``, ``dm`` elsewhere: linear in the two
    tangents; ``m`` and ``old`` give a structure only."""
    d_dm, d_dnew = rt.follow_tangent_grads(g, m, old)
    return rt.or_zeros(d_dm, dm), None, None, rt.or_zeros(d_dnew, dnew)


@vjp(rt.put_back_tangent)
def put_back_tangent(g, ans, d_holder, holder, key, d_new):
    """The tangent of a write through a list or an array: linear in the two tangents."""
    d_holder_, d_new_ = rt.put_back_tangent_grads(g, holder, key, d_new)
    return rt.or_zeros(d_holder_, d_holder), None, None, rt.or_zeros(d_new_, d_new)


@vjp(rt.flat_read_grad)
def flat_read_grad(gbar, out, g, x, index):
    """Linear in ``g``: its adjoint reads ``gbar`` where ``g`` was added."""
    return rt.flat_read(gbar, index), None, None


@vjp(rt.carried)
def carried(gbar, out, d, ans):
    return rt.carried(gbar, ans), None


@vjp(rt.rule_grad)
def rule_grad(gbar, out, d, x):
    """``d``, or zero where a user's rule gave None: linear in ``d``."""
    return gbar, None


@vjp(rt.cast_grad)
def cast_grad(gbar, out, g, ans, x):
    """``g`` in ``x``'s dtype (zero where the cast ``ans`` gives integers): linear in ``g``,
    whose gradient is ``gbar`` back in ``g``'s dtype (zero likewise)."""
    return rt.cast_grad(gbar, ans, g), None, None


@vjp(rt.sort_grad)
def sort_grad(gbar, out, g, x, axis=-1):
    """``g`` put back where sorting ``x`` took its entries from: linear in ``g``, whose
    gradient is ``gbar`` read in the sorted order; the order is constant where the
    entries of ``x`` differ."""
    return rt.sort_tangent(gbar, x, axis), None, None


@vjp(rt.digamma)
def digamma(g, ans, x):
    """psi(x), the slope of ``lgamma`` and (times ``gamma``) of ``gamma``."""
    return g * rt.trigamma(x)


@vjp(rt.trigamma)
def trigamma(g, ans, x):
    """psi'(x), the slope of ``scipy.special.digamma``."""
    return g * rt.tetragamma(x)


@vjp(rt.norm_grad)
def norm_grad(gbar, out, g, ans, x, ord=None, axis=None, keepdims=False):
    """A norm's slope (times ``g``): linear in ``g``; in ``ans`` and ``x``, the norm's
    second derivatives (none where the slope is piecewise constant: ``ord`` 0, 1, inf)."""
    d_g, d_ans, d_x = rt.norm_grad_grads(gbar, g, ans, x, ord, axis, keepdims)
    return d_g, d_ans, d_x, None, None, None


@jvp(rt.norm_grad)
def norm_grad_jvp(out, g, ans, x, ord=None, axis=None, keepdims=False, *, dg, dans, dx):
    """Linear in ``g``; in the norm ``n``, a p-norm's slope ``g sign(x) |x|^(p-1) /
    n^(p-1)`` moves as that of ``g`` times ``-(p - 1) dans / n`` (0 where the norm is 0;
    the other norms' slopes do not read it: ``p`` is 1); in ``x`` (the norm held),
    ``rt.norm_slope_tangent``."""
    p = rt.norm_exponent(x, ord, axis)
    moved = -(p - 1) * dans / xp.where(ans == 0, 1, ans) * (ans != 0)
    return (
        rt.norm_grad(dg, ans, x, ord, axis, keepdims),
        rt.norm_grad(g * moved, ans, x, ord, axis, keepdims),
        rt.norm_slope_tangent(dx, g, ans, x, ord, axis, keepdims),
    )


@vjp(rt.norm_slope_tangent)
def norm_slope_tangent(gbar, out, v, g, ans, x, ord=None, axis=None, keepdims=False):
    """Symmetric in ``v`` (its adjoint is itself along ``gbar``); linear in ``g``, summed
    back over the norm's axes; ``g / n^(p-1)`` in the norm, as ``norm_grad``'s slope; in
    ``x``, ``rt.norm_slope_second``."""
    p = rt.norm_exponent(x, ord, axis)
    d_g = xp.sum(
        gbar * rt.norm_slope_tangent(v, xp.ones_like(ans), ans, x, ord, axis, keepdims),
        axis=axis,
        keepdims=keepdims,
    )
    d_ans = d_g * g * -(p - 1) / xp.where(ans == 0, 1, ans) * (ans != 0)
    return (
        rt.norm_slope_tangent(gbar, g, ans, x, ord, axis, keepdims),
        xp.reshape(d_g, xp.shape(g)),
        xp.reshape(d_ans, xp.shape(ans)),
        rt.norm_slope_second(v, gbar, g, ans, x, ord, axis, keepdims),
        None,
        None,
        None,
    )


@jvp(rt.norm_slope_tangent)
def norm_slope_tangent_jvp(out, v, g, ans, x, ord=None, axis=None, keepdims=False, *, dv, dg,
                           dans, dx):  # fmt: skip
    p = rt.norm_exponent(x, ord, axis)
    moved = -(p - 1) * dans / xp.where(ans == 0, 1, ans) * (ans != 0)
    return (
        rt.norm_slope_tangent(dv, g, ans, x, ord, axis, keepdims),
        rt.norm_slope_tangent(v, dg, ans, x, ord, axis, keepdims),
        rt.norm_slope_tangent(v, g * moved, ans, x, ord, axis, keepdims),
        rt.norm_slope_second(v, dx, g, ans, x, ord, axis, keepdims),
    )


@vjp(rt.norm_slope_second)
def norm_slope_second(gbar, out, v, w, g, ans, x, ord=None, axis=None, keepdims=False):
    """Symmetric in ``v`` and ``w`` (each one's adjoint is the same along ``gbar`` and the
    other); linear in ``g``, summed back over the norm's axes; ``g / n^(p-1)`` in the norm;
    in ``x``, the slope's third derivative, ``rt.norm_slope_along``."""
    p = rt.norm_exponent(x, ord, axis)
    d_g = xp.sum(
        gbar * rt.norm_slope_second(v, w, xp.ones_like(ans), ans, x, ord, axis, keepdims),
        axis=axis,
        keepdims=keepdims,
    )
    d_ans = d_g * g * -(p - 1) / xp.where(ans == 0, 1, ans) * (ans != 0)
    return (
        rt.norm_slope_second(gbar, w, g, ans, x, ord, axis, keepdims),
        rt.norm_slope_second(v, gbar, g, ans, x, ord, axis, keepdims),
        xp.reshape(d_g, xp.shape(g)),
        xp.reshape(d_ans, xp.shape(ans)),
        rt.norm_slope_along(xp.stack([xp.stack([v, w, gbar])]), g, ans, x, ord, axis,
                            keepdims)[0],
        None,
        None,
        None,
    )  # fmt: skip


@jvp(rt.norm_slope_second)
def norm_slope_second_jvp(out, v, w, g, ans, x, ord=None, axis=None, keepdims=False, *, dv, dw,
                          dg, dans, dx):  # fmt: skip
    p = rt.norm_exponent(x, ord, axis)
    moved = -(p - 1) * dans / xp.where(ans == 0, 1, ans) * (ans != 0)
    return (
        rt.norm_slope_second(dv, w, g, ans, x, ord, axis, keepdims),
        rt.norm_slope_second(v, dw, g, ans, x, ord, axis, keepdims),
        rt.norm_slope_second(v, w, dg, ans, x, ord, axis, keepdims),
        rt.norm_slope_second(v, w, g * moved, ans, x, ord, axis, keepdims),
        rt.norm_slope_along(xp.stack([xp.stack([v, w, dx])]), g, ans, x, ord, axis,
                            keepdims)[0],
    )  # fmt: skip


@vjp(rt.norm_slope_along)
def norm_slope_along(gbar, out, terms, g, ans, x, ord=None, axis=None, keepdims=False):
    """Symmetric in each row's directions (a direction's adjoint is the row with it
    replaced by ``gbar``'s row: ``swapped`` holds every such row); linear in ``g``, summed
    back over the norm's axes; ``g / n^(p-1)`` in the norm; in ``x``, each row with
    ``gbar``'s appended."""
    p = rt.norm_exponent(x, ord, axis)
    k = terms.shape[1]
    each = xp.reshape(xp.eye(k, dtype=bool), (1, k, k) + (1,) * xp.ndim(x))
    swapped = xp.where(each, gbar[:, None, None], terms[:, None])
    swapped = xp.reshape(swapped, (-1, *xp.shape(terms)[1:]))
    d_g = xp.sum(
        xp.sum(gbar * rt.norm_slope_along(terms, xp.ones_like(ans), ans, x, ord, axis, keepdims),
               axis=0),
        axis=axis,
        keepdims=keepdims,
    )  # fmt: skip
    d_ans = d_g * g * -(p - 1) / xp.where(ans == 0, 1, ans) * (ans != 0)
    return (
        xp.reshape(rt.norm_slope_along(swapped, g, ans, x, ord, axis, keepdims), xp.shape(terms)),
        xp.reshape(d_g, xp.shape(g)),
        xp.reshape(d_ans, xp.shape(ans)),
        xp.sum(rt.norm_slope_along(xp.concatenate([terms, gbar[:, None]], axis=1), g, ans, x,
                                   ord, axis, keepdims), axis=0),
        None,
        None,
        None,
    )  # fmt: skip


@jvp(rt.norm_slope_along)
def norm_slope_along_jvp(out, terms, g, ans, x, ord=None, axis=None, keepdims=False, *, dterms,
                         dg, dans, dx):  # fmt: skip
    p = rt.norm_exponent(x, ord, axis)
    moved = -(p - 1) * dans / xp.where(ans == 0, 1, ans) * (ans != 0)
    k = terms.shape[1]
    each = xp.reshape(xp.eye(k, dtype=bool), (1, k, k) + (1,) * xp.ndim(x))
    swapped = xp.where(each, dterms[:, :, None], terms[:, None])
    swapped = xp.reshape(swapped, (-1, *xp.shape(terms)[1:]))
    return (
        xp.sum(xp.reshape(rt.norm_slope_along(swapped, g, ans, x, ord, axis, keepdims),
                          xp.shape(terms)), axis=1),
        rt.norm_slope_along(terms, dg, ans, x, ord, axis, keepdims),
        rt.norm_slope_along(terms, g * moved, ans, x, ord, axis, keepdims),
        rt.norm_slope_along(xp.concatenate([terms, xp.broadcast_to(dx, xp.shape(terms[:, :1]))],
                                           axis=1), g, ans, x, ord, axis, keepdims),
    )  # fmt: skip


@vjp(rt.norm_slope_power)
def norm_slope_power(gbar, out, dd, g, ans, x, k, ord=None, axis=None, keepdims=False):
    """Linear in ``dd`` entry by entry (its adjoint is itself along ``gbar``) and in ``g``,
    summed back over the norm's axes; ``g / n^(p-1)`` in the norm; in ``x``, itself one
    order higher, so its rules go to any order."""
    p = rt.norm_exponent(x, ord, axis)
    d_g = xp.sum(
        gbar * rt.norm_slope_power(dd, xp.ones_like(ans), ans, x, k, ord, axis, keepdims),
        axis=axis,
        keepdims=keepdims,
    )
    d_ans = d_g * g * -(p - 1) / xp.where(ans == 0, 1, ans) * (ans != 0)
    return (
        rt.norm_slope_power(gbar, g, ans, x, k, ord, axis, keepdims),
        xp.reshape(d_g, xp.shape(g)),
        xp.reshape(d_ans, xp.shape(ans)),
        rt.norm_slope_power(dd * gbar, g, ans, x, k + 1, ord, axis, keepdims),
        None,
        None,
        None,
        None,
    )


@jvp(rt.norm_slope_power)
def norm_slope_power_jvp(out, dd, g, ans, x, k, ord=None, axis=None, keepdims=False, *, ddd, dg,
                         dans, dx):  # fmt: skip
    p = rt.norm_exponent(x, ord, axis)
    moved = -(p - 1) * dans / xp.where(ans == 0, 1, ans) * (ans != 0)
    return (
        rt.norm_slope_power(ddd, g, ans, x, k, ord, axis, keepdims),
        rt.norm_slope_power(dd, dg, ans, x, k, ord, axis, keepdims),
        rt.norm_slope_power(dd, g * moved, ans, x, k, ord, axis, keepdims),
        rt.norm_slope_power(dd * dx, g, ans, x, k + 1, ord, axis, keepdims),
    )


@vjp(rt.cumprod_tangent)
def cumprod_tangent(g, ans, d, a, axis=None):
    """The tangent of ``np.cumprod(a)`` along ``d``: linear in ``d``, a polynomial in ``a``
    (exact where entries are zero)."""
    d_d, d_a = rt.cumprod_tangent_grads(g, d, a, axis)
    return d_d, d_a, None


@jvp(rt.cumprod_tangent)
def cumprod_tangent_jvp(ans, d, a, axis=None, *, dd, da):
    """Linear in ``d``; in ``a``, the products' second derivative along ``d`` and ``da``."""
    return rt.cumprod_tangent(dd, a, axis), rt.cumprod_second(d, da, a, axis)


@vjp(rt.cumprod_second)
def cumprod_second(g, ans, d, e, a, axis=None):
    """The products' second derivative along ``d`` and ``e``: linear in each; in ``a``,
    their third derivative (exact where entries are zero)."""
    d_d, d_e, d_a = rt.cumprod_second_grads(g, d, e, a, axis)
    return d_d, d_e, d_a, None


@jvp(rt.cumprod_second)
def cumprod_second_jvp(ans, d, e, a, axis=None, *, dd, de, da):
    return (
        rt.cumprod_second(dd, e, a, axis),
        rt.cumprod_second(d, de, a, axis),
        rt.cumprod_third(d, e, da, a, axis),
    )


@vjp(rt.cumprod_third)
def cumprod_third(g, ans, d, e, f, a, axis=None):
    """The products' third derivative along ``d``, ``e`` and ``f``: linear in each; in
    ``a``, their fourth derivative (exact where entries are zero)."""
    d_d, d_e, d_f, d_a = rt.cumprod_third_grads(g, d, e, f, a, axis)
    return d_d, d_e, d_f, d_a, None


@jvp(rt.cumprod_third)
def cumprod_third_jvp(ans, d, e, f, a, axis=None, *, dd, de, df, da):
    return (
        rt.cumprod_third(dd, e, f, a, axis),
        rt.cumprod_third(d, de, f, a, axis),
        rt.cumprod_third(d, e, df, a, axis),
        rt.cumprod_fourth(d, e, f, da, a, axis),
    )


@vjp(rt.matrix_power_tangent)
def matrix_power_tangent(g, ans, d, a, n):
    """The tangent of ``np.linalg.matrix_power(a, n)`` along ``d``: linear in ``d``."""
    d_d, d_a = rt.matrix_power_tangent_grads(g, d, a, n)
    return d_d, d_a, None


@jvp(rt.matrix_power_tangent)
def matrix_power_tangent_jvp(ans, d, a, n, *, dd, da):
    """Linear in ``d``; in ``a``, the power's second derivative along ``d`` and ``da``."""
    return rt.matrix_power_tangent(dd, a, n), rt.matrix_power_second(d, da, a, n)


@vjp(rt.matrix_power_second)
def matrix_power_second(g, ans, d, e, a, n):
    """The second derivative of ``A^n`` along ``d`` and ``e``: linear in each, its adjoint
    in one is the second derivative of ``(A^T)^n`` along ``g`` and the other transposed
    (each term a product of ``n`` factors, read backwards); in ``a``, the third
    derivative of ``(A^T)^n`` along ``g``, ``d^T`` and ``e^T``."""
    a_t, d_t, e_t = xp.swapaxes(a, -1, -2), xp.swapaxes(d, -1, -2), xp.swapaxes(e, -1, -2)
    return (
        rt.unbroadcast(rt.matrix_power_second(g, e_t, a_t, n), d),
        rt.unbroadcast(rt.matrix_power_second(g, d_t, a_t, n), e),
        rt.unbroadcast(rt.matrix_power_third(g, d_t, e_t, a_t, n), a),
        None,
    )


@jvp(rt.matrix_power_second)
def matrix_power_second_jvp(ans, d, e, a, n, *, dd, de, da):
    return (
        rt.matrix_power_second(dd, e, a, n),
        rt.matrix_power_second(d, de, a, n),
        rt.matrix_power_third(d, e, da, a, n),
    )


@vjp(rt.matrix_power_third)
def matrix_power_third(g, ans, d, e, f, a, n):
    """The third derivative of ``A^n`` along ``d``, ``e`` and ``f``, as
    ``matrix_power_second``'s rule one order up: in each direction, the third derivative
    of ``(A^T)^n`` along ``g`` and the others transposed; in ``a``, the fourth."""
    a_t, d_t = xp.swapaxes(a, -1, -2), xp.swapaxes(d, -1, -2)
    e_t, f_t = xp.swapaxes(e, -1, -2), xp.swapaxes(f, -1, -2)
    return (
        rt.unbroadcast(rt.matrix_power_third(g, e_t, f_t, a_t, n), d),
        rt.unbroadcast(rt.matrix_power_third(g, d_t, f_t, a_t, n), e),
        rt.unbroadcast(rt.matrix_power_third(g, d_t, e_t, a_t, n), f),
        rt.unbroadcast(rt.matrix_power_fourth(g, d_t, e_t, f_t, a_t, n), a),
        None,
    )


@jvp(rt.matrix_power_third)
def matrix_power_third_jvp(ans, d, e, f, a, n, *, dd, de, df, da):
    return (
        rt.matrix_power_third(dd, e, f, a, n),
        rt.matrix_power_third(d, de, f, a, n),
        rt.matrix_power_third(d, e, df, a, n),
        rt.matrix_power_fourth(d, e, f, da, a, n),
    )


@vjp(rt.interp_slope)
def interp_slope(g, ans, x, xp, fp, period=None):
    """The slope of ``np.interp`` at ``x`` (``xp`` the sample points): piecewise constant
    in ``x``, rational in ``xp`` and linear in ``fp``."""
    d_xp, d_fp, d_period = rt.interp_slope_grads(g, x, xp, fp, period)
    return None, d_xp, d_fp, d_period


@jvp(rt.interp_slope)
def interp_slope_jvp(ans, x, xp, fp, period=None, *, dx, dxp, dfp):
    """Constant in ``x`` (piecewise); linear in ``fp``; in the sample points, the slope
    ``(fp[i+1] - fp[i]) / (xp[i+1] - xp[i])`` moves by minus itself times the slope of
    their tangents (0 outside the points, as the slope is)."""
    return None, -ans * rt.interp_slope(x, xp, dxp, period), rt.interp_slope(x, xp, dfp, period)


@vjp(rt.diff_tangent)
def diff_tangent(g, ans, da, dprepend, dappend, a, n=1, axis=-1, prepend=None, append=None):
    """The tangent of ``np.diff`` with ``prepend`` or ``append``: linear in the three
    tangents (``a`` gives a shape only)."""
    d_a, d_prepend, d_append = rt.diff_grads(g, a, n, axis, prepend, append)
    return d_a, d_prepend, d_append, None, None, None, None, None


@vjp(rt.prod_grad)
def prod_grad(gbar, out, g, ans, x, axis=None, keepdims=False):
    """``g`` times the product of the other entries (``ans`` unread): linear in ``g``; in
    ``x``, the products' second derivatives, exact where entries are zero."""
    d_g, d_x = rt.prod_grad_grads(gbar, g, x, axis, keepdims)
    return d_g, None, d_x, None, None


@jvp(rt.prod_grad)
def prod_grad_jvp(out, g, ans, x, axis=None, keepdims=False, *, dg, dans, dx):
    """Linear in ``g``; along ``dx``, entry ``m`` moves by ``g`` times the sum over
    ``k != m`` of ``dx[k]`` times the product of the entries but ``k`` and ``m``: the
    products' second derivatives along ``dx`` (``rt.prod_second``, which has rules: a
    third derivative of a product)."""
    return (
        rt.prod_grad(dg, ans, x, axis, keepdims),
        None,
        rt.unreduce(g, x, axis, keepdims) * rt.prod_second(dx, x, axis),
    )


@vjp(rt.prod_second)
def prod_second(g, ans, v, x, axis=None):
    """The products' second derivatives along ``v``: linear in ``v``, and symmetric, so
    ``v``'s gradient is the same along ``g``; in ``x``, their third derivatives along
    ``g`` and ``v`` (``rt.prod_third``, exact where entries are zero)."""
    return rt.prod_second(g, x, axis), rt.prod_third(g, v, x, axis), None


@jvp(rt.prod_second)
def prod_second_jvp(ans, v, x, axis=None, *, dv, dx):
    return rt.prod_second(dv, x, axis), rt.prod_third(v, dx, x, axis)


@vjp(rt.prod_third)
def prod_third(g, ans, c, v, x, axis=None):
    """The products' third derivatives along ``c`` and ``v``: linear in each, and
    symmetric, so each direction's gradient is the same along ``g`` and the other; in
    ``x``, their fourth derivatives (``rt.prod_fourth``, exact where entries are zero)."""
    return (
        rt.prod_third(g, v, x, axis),
        rt.prod_third(c, g, x, axis),
        rt.prod_fourth(c, v, g, x, axis),
        None,
    )


@jvp(rt.prod_third)
def prod_third_jvp(ans, c, v, x, axis=None, *, dc, dv, dx):
    return (
        rt.prod_third(dc, v, x, axis),
        rt.prod_third(c, dv, x, axis),
        rt.prod_fourth(c, v, dx, x, axis),
    )


@vjp(rt.unreduce)
def unreduce(gbar, out, g, x, axis=None, keepdims=False):
    """``g`` (a reduction's gradient) spread over the reduced axes of ``x``: linear in
    ``g``, whose gradient sums ``gbar`` back over them; ``x`` gives a shape only."""
    return rt.unbroadcast(xp.sum(gbar, axis=axis, keepdims=keepdims), g), None, None, None


@vjp(rt.sorted_in_place_tangent)
def sorted_in_place_tangent(g, ans, d, x, axis=-1, key=None, reverse=False):
    """``d`` in the order sorting ``x`` makes: linear in ``d``; the order is constant where
    the entries (or their keys) differ."""
    return rt.sorted_in_place_grads(g, x, axis, key, reverse), None, None, None, None


@vjp(rt.hypot_tangent)
def hypot_tangent(g, ans, ds, coordinates, length):
    """The tangent of ``math.hypot``, ``sum(c * d) / length``: linear in the tangents."""
    d_ds, d_coordinates, d_length = rt.hypot_tangent_grads(g, ds, coordinates, length)
    return d_ds, d_coordinates, d_length


@vjp(rt.concatenator_tangent)
def concatenator_tangent(g, ans, ds, items, columns):
    """The tangent of ``np.r_[items]`` or ``np.c_[items]``: linear in the items' tangents
    ``ds``, whose gradient is the result's cut back into the pieces."""
    return rt.concatenator_grads(g, items, columns), None, None


@vjp(rt.choice_tangent)
def choice_tangent(gbar, out, ans, iterable, others=None, default=None, diterable=None,
                   ddefault=None, dothers=None, key=None, largest=True):  # fmt: skip
    """The tangent of Python's ``max``/``min``: linear in the tangents, whose gradients
    are ``gbar`` shared as the reverse rule shares (constant but where candidates tie)."""
    d_iterable, d_default, d_others = rt.choice_grads(gbar, ans, iterable, others, default,
                                                      key, largest)  # fmt: skip
    return None, None, None, None, d_iterable, d_default, d_others, None, None


@vjp(rt.choice_grads)
def choice_grads(gbar, out, g, ans, iterable, others=None, default=None, key=None,
                 largest=True):  # fmt: skip
    """The adjoints of Python's ``max``/``min``: linear in ``g``, whose gradient is the
    tangent along ``gbar`` (its transpose)."""
    d_g = rt.choice_tangent(ans, iterable, others, default, gbar[0], gbar[1], gbar[2], key,
                            largest)  # fmt: skip
    return d_g, None, None, None, None, None, None


@vjp(rt.average_weights)
def average_weights(g, ans, a, axis, weights, returned=False):
    """np.average's weights laid along ``a``'s axes: a reshape of them (linear)."""
    return None, None, None if weights is None else rt.reshape_like(g, weights), None


@vjp(rt.result_like)
def result_like(g, ans, like, parts):
    """A tuple result's tangents made a named tuple like it: the parts' adjoints are the
    entries of ``g``."""
    return None, rt.result_grads(g, ans)


@vjp(rt.eigen_gaps)
def eigen_gaps(g, ans, w, what="np.linalg.eigh", positive=False):
    """``F[i, j] = 1 / (w[j] - w[i])``: ``dF[i, j] = -F[i, j]^2 (dw[j] - dw[i])``."""
    return rt.eigen_gaps_grad(g, ans), None, None


@jvp(rt.eigen_gaps)
def eigen_gaps_jvp(ans, w, what="np.linalg.eigh", positive=False, *, dw):
    """``dF[i, j] = -F[i, j]^2 (dw[j] - dw[i])``, 0 on the diagonal (where ``F`` is)."""
    return -ans * ans * (dw[..., None, :] - dw[..., :, None])


@vjp(rt.field_tangent)
def field_tangent(g, ans, d, name):
    """A field's tangent read from an object's (or a dict of its fields'): linear in ``d``,
    whose adjoint is a dict of its fields' (a named tuple's, a list)."""
    return (rt.Fields({name: g}) if isinstance(d, dict) else rt.field_grad(d, name, g)), None


@vjp(rt.partial_tangent)
def partial_tangent(g, ans, tangents, p, operands):
    """A partial's tangent, the list of its bound values': linear in the operands'
    tangents, whose adjoints are the primal rule's (``rt.partial_grads``)."""
    return rt.partial_grads(g, p, operands), None, None


@vjp(rt.partial_grads)
def partial_grads(g, ans, d, p, operands):
    """A partial's operands' adjoints from its own: linear in ``d``, its transpose being
    the tangent rule (``rt.partial_tangent``), so forward mode runs over it again."""
    return rt.partial_tangent(g, p, operands), None, None


@vjp(rt.cast_like)
def cast_like(g, ans, d, x):
    """``d`` in ``x``'s dtype: linear in ``d``, whose adjoint goes back to its dtype."""
    return rt.cast_like(g, d), None


@vjp(rt.view_grad)
def view_grad(g, ans, d, a, dtype=None, kind=None):
    """``a.view()``'s gradient (or tangent), ``d`` itself: linear in ``d``."""
    return rt.view_grad(g, a, dtype, kind), None, None, None


@vjp(rt.meshgrid_tangent)
def meshgrid_tangent(g, ans, grids, xi, dxi, sparse=False, indexing="xy"):
    """The grids of the tangents: linear in them, whose adjoints are the primal rule's."""
    return None, None, rt.meshgrid_grads(g, grids, xi, indexing), None, None


@vjp(rt.broadcast_tangent)
def broadcast_tangent(g, ans, arrays, dargs):
    """The tangents broadcast: linear in them, whose adjoints are summed back."""
    return None, rt.broadcast_grads(g, arrays, dargs)


@vjp(rt.item_tangent)
def item_tangent(g, ans, dx, index):
    """``dx.item(*index)``: linear in ``dx``, whose adjoint holds ``g`` there."""
    return rt.item_grad(g, dx, index), None


@vjp(rt.sources_grad)
def sources_grad(gbar, out, g, x, sources):
    """Entries carried back to where they were copied from: linear in ``g``, whose adjoint
    copies them forward again; the places are constant."""
    return rt.sources_tangent(gbar, x, sources), None, None


@vjp(rt.sources_tangent)
def sources_tangent(gbar, out, dx, x, sources):
    """Entries copied: linear in ``dx``, whose adjoint carries them back."""
    return rt.sources_grad(gbar, x, sources), None, None


@vjp(rt.reduceat_grad)
def reduceat_grad(gbar, out, g, ans, array, indices, axis=0, extreme=False):
    """A reduceat's gradient: linear in ``g``, whose adjoint is the reduceat's tangent;
    which entries attain an extreme is constant where no two tie."""
    return (
        rt.reduceat_tangent(gbar, ans, array, indices, axis, extreme),
        None,
        None,
        None,
        None,
        None,
    )


@vjp(rt.reduceat_tangent)
def reduceat_tangent(gbar, out, d, ans, array, indices, axis=0, extreme=False):
    """A reduceat's tangent: linear in ``d``, whose adjoint is its gradient."""
    return rt.reduceat_grad(gbar, ans, array, indices, axis, extreme), None, None, None, None, None


@vjp(rt.block_grads)
def block_grads(gbar, out, g, arrays):
    """``g`` cut into ``np.block``'s leaves: linear, whose adjoint blocks them again."""
    return xp.block(gbar), None


linear((0,), rt.broadcast_like, rt.sort_tangent, rt.sort_grad, rt.extreme_grad, rt.cast_grad,
       rt.running_extreme_grad, rt.running_extreme_tangent,
       rt.cast_like, rt.view_grad, rt.meshgrid_grads, rt.broadcast_grads, rt.tolist_grad,
       rt.carried, rt.rule_grad, rt.flat_read_grad,
       rt.concatenator_tangent, rt.cumprod_tangent, rt.matrix_power_tangent,
       rt.hypot_tangent, rt.sorted_in_place_tangent, rt.field_tangent,
       rt.partial_tangent, rt.partial_grads, rt.item_tangent)  # fmt: skip
# (a partial and its operands give the layout alone)
constant_in((1, 2), rt.partial_tangent, rt.partial_grads)
linear((0, 1, 2), rt.diff_tangent)
linear((2,), rt.average_weights)
linear((1,), rt.result_like)  # (the parts' tangents, laid out as the result is)
linear((0,), rt.unreduce)
constant_in((1,), rt.unreduce)  # (``x`` gives the shape to spread over)
constant_in((0,), rt.result_like)
constant_in((0,), rt.average_weights)  # (``a`` gives the axes to lay the weights along)
linear((1,), rt.pad_stat_tangent)
constant_in((0,), rt.pad_stat_tangent)  # (which entries a statistic reads: constant a.e.)
constant_in((1,), rt.broadcast_like, rt.sort_tangent, rt.sort_grad, rt.concatenator_tangent,
            rt.sorted_in_place_tangent, rt.put_back_tangent)  # fmt: skip
constant_in((1, 2), rt.extreme_grad, rt.cast_grad, rt.follow_tangent, rt.running_extreme_grad,
            rt.running_extreme_tangent)  # fmt: skip
constant_in((1,), rt.carried, rt.rule_grad, rt.cast_like, rt.view_grad, rt.sinc_derivative)
constant_in((1, 2, 3), rt.meshgrid_grads)  # (the result and the vectors give shapes alone)
constant_in((1, 2), rt.broadcast_grads, rt.tolist_grad)
linear((2,), rt.meshgrid_tangent)
constant_in((0, 1), rt.meshgrid_tangent, rt.broadcast_tangent)
linear((1,), rt.broadcast_tangent)
constant_in((1, 2), rt.flat_read_grad)
linear((0,), rt.choice_grads)
linear((4, 5, 6), rt.choice_tangent)
constant_in((0, 1, 2, 3), rt.choice_tangent)  # (which candidate is chosen: piecewise constant)
# (a partial's tangent is a list, which broadcast_like passes as it is)
sequence_result(
    rt.choice_grads, rt.result_like, rt.partial_tangent, rt.partial_grads, rt.broadcast_like
)
linear((1,), rt.result_like)
linear((0, 3), rt.follow_tangent, rt.put_back_tangent)
linear((0,), rt.sources_grad, rt.sources_tangent, rt.block_grads, rt.reduceat_grad,
       rt.reduceat_tangent)  # fmt: skip
constant_in((1, 2, 3), rt.reduceat_grad, rt.reduceat_tangent)
constant_in((1, 2), rt.sources_grad, rt.sources_tangent)
constant_in((1,), rt.block_grads)  # (the leaves give shapes alone)
sequence_result(rt.block_grads)
nondiff("a check that returns nothing (no initial= or where=)", rt.plain_nan_reduction)
nondiff("integers: where each entry of a result that moves entries comes from",
        rt.insert_sources, rt.delete_sources, rt.resize_sources, rt.block_sources,
        rt.trim_sources)  # fmt: skip
nondiff("a zero tangent (or adjoint), whatever its argument holds", rt.zeros_like,
        rt.zero_tangent)  # fmt: skip
nondiff("a check that returns nothing (a matrix of full rank, a real value)",
        rt.check_full_rank, rt.real_only)  # fmt: skip
nondiff("whether a dtype carries a gradient", rt.float_result)
nondiff("a check that returns nothing (a user's rule gave a gradient per argument)",
        rt.check_rule_grads)  # fmt: skip
nondiff("piecewise constant: the sign of a value", rt.abs_slope)
nondiff("an integer: how many entries an array has (1 if none)", rt.size)
nondiff("a number: the power of the norm a norm's slope reads", rt.norm_exponent)
nondiff("piecewise constant: which entries attain the extreme (it moves only at ties)",
        rt.extreme_share, rt.extreme_initial_share, rt.picked_operands)  # fmt: skip
nondiff("piecewise constant: which entries clip gives as a bound", rt.clipped)

# A call in forward-mode source, ``(value, tangent)``: reverse mode over the callee's own
# forward mode. Called by name (not inlined): it gives one gradient per argument of *args.
# (``rt.callee_tangent_vjp``: ``rt.tangent_vjp`` of the function a record class or a
# call through ``rt.method`` runs.)
register(rt.call_jvp, make_rule(rt.callee_tangent_vjp, name="call_jvp", inline=False))
register(rt.call_jvp_keywords, make_rule(rt.callee_tangent_vjp_keywords,
                                         name="call_jvp_keywords", inline=False))  # fmt: skip
register(rt.call_jvp_star,
         make_rule(rt.callee_tangent_vjp_star, name="call_jvp_star", inline=False))  # fmt: skip
# their forward modes: calls of functions of source again (``rt.forward_of``)
forward_call("call_jvp", rt.call_jvp)
forward_call("call_jvp_keywords", rt.call_jvp_keywords)
forward_call("call_jvp_star", rt.call_jvp_star)
# ``(value, tangent)``, either of which may be an object or a list: their adjoints add up
# as containers' (two fields of an object read, each giving a dict of its fields')
sequence_result(rt.call_jvp, rt.call_jvp_keywords, rt.call_jvp_star)
