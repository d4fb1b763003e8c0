"""Rules of more elementwise functions: inverse hyperbolic functions, ``arctan2`` and
``hypot``, angle conversions, remainders, ``copysign``, ``sinc``, ``nan_to_num``, the
parts of real numbers, ``math``'s special functions, and ``scipy.special``'s (registered
only where SciPy is installed)."""

import builtins
import importlib.util
import math
import operator

import numpy as xp

from .. import runtime as rt
from .registry import constant_in, jvp, linear, sequence_result, vjp


@vjp(xp.arcsinh, math.asinh)
def arcsinh(g, ans, x):
    return g / xp.sqrt(x * x + 1.0)


@jvp(xp.arcsinh, math.asinh)
def arcsinh_jvp(ans, x, *, dx):
    return dx / xp.sqrt(x * x + 1.0)


@vjp(xp.arccosh, math.acosh)
def arccosh(g, ans, x):
    return g / xp.sqrt((x - 1.0) * (x + 1.0))


@jvp(xp.arccosh, math.acosh)
def arccosh_jvp(ans, x, *, dx):
    return dx / xp.sqrt((x - 1.0) * (x + 1.0))


@vjp(xp.arctanh, math.atanh)
def arctanh(g, ans, x):
    return g / (1.0 - x * x)


@jvp(xp.arctanh, math.atanh)
def arctanh_jvp(ans, x, *, dx):
    return dx / (1.0 - x * x)


@vjp(xp.arctan2, math.atan2)
def arctan2(g, ans, x1, x2):
    """The angle of the point ``(x2, x1)``; at the origin the gradient is 0."""
    r2 = x1 * x1 + x2 * x2
    scale = g / xp.where(r2 == 0, 1.0, r2)
    return rt.unbroadcast(scale * x2, x1), rt.unbroadcast(-scale * x1, x2)


@jvp(xp.arctan2, math.atan2)
def arctan2_jvp(ans, x1, x2, *, dx1, dx2):
    """At the origin the tangent is 0, as the gradient is."""
    r2 = x1 * x1 + x2 * x2
    scale = 1.0 / xp.where(r2 == 0, 1.0, r2)
    return dx1 * x2 * scale, -dx2 * x1 * scale


@vjp(xp.hypot)
def hypot(g, ans, x1, x2):
    """At the origin the gradient is 0, as that of ``abs``."""
    scale = g / xp.where(ans == 0, 1.0, ans)
    return rt.unbroadcast(scale * x1, x1), rt.unbroadcast(scale * x2, x2)


@jvp(xp.hypot)
def hypot_jvp(ans, x1, x2, *, dx1, dx2):
    """At the origin the tangent is 0, as the gradient is."""
    scale = 1.0 / xp.where(ans == 0, 1.0, ans)
    return dx1 * x1 * scale, dx2 * x2 * scale


@vjp(math.hypot)
def math_hypot(g, ans, *coordinates):
    """``math.hypot(*coordinates)``, the length of a vector; at 0 the gradient is 0."""
    scale = g / ans if ans else 0.0
    return tuple(scale * c for c in coordinates)


@jvp(math.hypot)
def math_hypot_jvp(ans, *coordinates, dcoordinates):
    """Each coordinate's tangent times the coordinate over the length (0 at the origin)."""
    return rt.hypot_tangent(dcoordinates, coordinates, ans)


@vjp(math.dist)
def math_dist(g, ans, p, q):
    """``math.dist(p, q)``, the length of ``p - q``; at 0 the gradient is 0, as
    ``math.hypot``'s and ``np.linalg.norm``'s."""
    scale = g / ans if ans else 0.0
    return (
        rt.entries_like([scale * (a - b) for a, b in zip(p, q, strict=True)], p),
        rt.entries_like([scale * (b - a) for a, b in zip(p, q, strict=True)], q),
    )


@jvp(math.dist)
def math_dist_jvp(ans, p, q, *, dp, dq):
    """Each point's tangent against ``p - q`` over the length (0 where the points meet)."""
    return (
        rt.hypot_tangent(dp, [a - b for a, b in zip(p, q, strict=True)], ans),
        rt.hypot_tangent(dq, [b - a for a, b in zip(p, q, strict=True)], ans),
    )


@vjp(xp.logaddexp2)
def logaddexp2(g, ans, x1, x2):
    """``log2(2 ** x1 + 2 ** x2)``: each operand gets its share ``2 ** (x - ans)``, 1 for
    the operand equal to the result when the other is not (an infinite one too, where
    ``inf - inf`` would make it NaN), as ``np.logaddexp``'s rule gives."""
    return (
        rt.unbroadcast(g * xp.exp(xp.where((x1 == ans) & (x2 != ans), 0.0, x1 - ans)
                                  * 0.6931471805599453), x1),
        rt.unbroadcast(g * xp.exp(xp.where((x2 == ans) & (x1 != ans), 0.0, x2 - ans)
                                  * 0.6931471805599453), x2),
    )  # fmt: skip


@jvp(xp.logaddexp2)
def logaddexp2_jvp(ans, x1, x2, *, dx1, dx2):
    """The shares of the reverse rule (1 for the operand equal to the result alone)."""
    return (
        dx1 * xp.exp(xp.where((x1 == ans) & (x2 != ans), 0.0, x1 - ans) * 0.6931471805599453),
        dx2 * xp.exp(xp.where((x2 == ans) & (x1 != ans), 0.0, x2 - ans) * 0.6931471805599453),
    )


@vjp(xp.deg2rad, xp.radians, math.radians)
def deg2rad(g, ans, x):
    return g * 0.017453292519943295


@jvp(xp.deg2rad, xp.radians, math.radians)
def deg2rad_jvp(ans, x, *, dx):
    return dx * 0.017453292519943295


@vjp(xp.rad2deg, xp.degrees, math.degrees)
def rad2deg(g, ans, x):
    return g * 57.29577951308232


@jvp(xp.rad2deg, xp.degrees, math.degrees)
def rad2deg_jvp(ans, x, *, dx):
    return dx * 57.29577951308232


@vjp(xp.fabs)
def fabs(g, ans, x):
    """At 0 the gradient is 0, as that of ``abs``."""
    return g * xp.sign(x)


@jvp(xp.fabs)
def fabs_jvp(ans, x, *, dx):
    return dx * xp.sign(x)


@vjp(xp.remainder, operator.mod, xp.fmod, math.fmod)
def remainder(g, ans, x1, x2):
    """``x1 - n * x2`` with ``n`` the integer NumPy took (``floor(x1 / x2)``, for ``fmod``
    ``trunc(x1 / x2)``), read back from the result so that rounding in ``x1 / x2``
    cannot pick another: ``x1`` gets ``g`` and ``x2`` gets ``-n * g``, as in autograd
    and JAX."""
    n = xp.round((x1 - ans) / x2)
    return rt.unbroadcast(g, x1), rt.unbroadcast(-g * n, x2)


@jvp(xp.remainder, operator.mod, xp.fmod, math.fmod)
def remainder_jvp(ans, x1, x2, *, dx1, dx2):
    """``x1 - n * x2`` with ``n`` read back from the result, as the reverse rule does."""
    n = xp.round((x1 - ans) / x2)
    return dx1, -dx2 * n


@vjp(builtins.divmod, xp.divmod)
def divmod_(g, ans, x1, x2):
    """``(x1 // x2, x1 % x2)``: the quotient is piecewise constant (no gradient), the
    remainder's gradient is ``np.remainder``'s."""
    d_rest = rt.result_grads(g, ans)[1]
    n = xp.round((x1 - ans[1]) / x2)
    return rt.unbroadcast(d_rest, x1), rt.unbroadcast(-d_rest * n, x2)


@jvp(builtins.divmod, xp.divmod, shaped=True)
def divmod_jvp(ans, x1, x2, *, dx1, dx2):
    n = xp.round((x1 - ans[1]) / x2)
    return (
        [rt.zeros_like(ans[0]), rt.broadcast_like(dx1, ans[1])],
        [rt.zeros_like(ans[0]), rt.broadcast_like(-dx2 * n, ans[1])],
    )


sequence_result(builtins.divmod, xp.divmod)  # (a pair: its adjoint adds up entry by entry)


@vjp(xp.modf)
def modf(g, ans, x):
    """``(x - trunc(x), trunc(x))``: the fractional part's gradient passes, the integral
    part is piecewise constant."""
    return rt.result_grads(g, ans)[0]


@jvp(xp.modf, shaped=True)
def modf_jvp(ans, x, *, dx):
    return [dx, rt.zeros_like(ans[1])]


@vjp(xp.i0)
def i0(g, ans, x):
    """The modified Bessel function ``I0``, whose derivative is ``I1`` (``rt.bessel_i1``)."""
    return g * rt.bessel_i1(x)


@jvp(xp.i0)
def i0_jvp(ans, x, *, dx):
    return dx * rt.bessel_i1(x)


@vjp(rt.bessel_i1)
def bessel_i1(g, ans, x):
    """``I1' = I0 - I1 / x``, ``1/2`` at 0: with ``np.i0``'s rule, any order."""
    return g * (xp.i0(x) - xp.where(x == 0, 0.5, ans / xp.where(x == 0, 1.0, x)))


@jvp(rt.bessel_i1)
def bessel_i1_jvp(ans, x, *, dx):
    return dx * (xp.i0(x) - xp.where(x == 0, 0.5, ans / xp.where(x == 0, 1.0, x)))


@vjp(xp.frexp)
def frexp(g, ans, x):
    """``(x * 2**-e, e)``: the mantissa moves by ``2**-e`` (``e`` piecewise constant); the
    integer exponent has no gradient."""
    return xp.ldexp(rt.result_grads(g, ans)[0], -ans[1])


@jvp(xp.frexp, shaped=True)
def frexp_jvp(ans, x, *, dx):
    return [xp.ldexp(dx, -ans[1]), xp.zeros(xp.shape(ans[1]), dtype=dx.dtype)]


sequence_result(xp.modf, xp.frexp)


@vjp(xp.copysign, math.copysign)
def copysign(g, ans, x1, x2):
    """``|x1|`` with the sign of ``x2``: ``x2`` gets no gradient (its sign is piecewise
    constant); at ``x1 = 0`` the gradient is 0, as that of ``abs``."""
    return rt.unbroadcast(g * xp.sign(x1) * xp.sign(ans), x1), None


@jvp(xp.copysign, math.copysign)
def copysign_jvp(ans, x1, x2, *, dx1, dx2):
    """``x2`` moves the result nowhere (its sign is piecewise constant)."""
    return dx1 * xp.sign(x1) * xp.sign(ans), 0.0 * dx2


@vjp(xp.heaviside)
def heaviside(g, ans, x1, x2):
    """A step: constant in ``x1`` but at 0, where it is ``x2`` (which gets ``g`` there)."""
    return None, rt.unbroadcast(xp.where(x1 == 0, g, 0.0), x2)


@jvp(xp.heaviside)
def heaviside_jvp(ans, x1, x2, *, dx2):
    return xp.where(x1 == 0, dx2, 0.0)


@vjp(xp.ldexp)
def ldexp(g, ans, x1, x2):
    """``x1 * 2 ** x2`` of integer exponents ``x2``: ``g * 2 ** x2``, exact."""
    return rt.unbroadcast(xp.ldexp(g, x2), x1), None


constant_in((0,), xp.heaviside)
constant_in((1,), xp.ldexp)
linear((0,), xp.ldexp)


@vjp(xp.sinc)
def sinc(g, ans, x):
    """``sin(pi x) / (pi x)``, whose derivative ``(cos(pi x) - sinc(x)) / x`` cancels near
    0: ``rt.sinc_derivative`` (with rules of its own, so that it goes to any order)."""
    return g * rt.sinc_derivative(x, 1)


@jvp(xp.sinc)
def sinc_jvp(ans, x, *, dx):
    return dx * rt.sinc_derivative(x, 1)


@vjp(xp.nan_to_num)
def nan_to_num(g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    """The gradient passes where ``x`` is finite; each replacement value gets that of the
    entries it replaced (the largest float, used when ``posinf`` is None, gets none)."""
    if not copy:
        raise rt.refuse("np.nan_to_num with copy=False", "use copy=True (the default)")
    return (
        xp.where(xp.isfinite(x), g, 0.0),
        None,
        xp.sum(xp.where(xp.isnan(x), g, 0.0)),
        None if posinf is None else xp.sum(xp.where(x == xp.inf, g, 0.0)),
        None if neginf is None else xp.sum(xp.where(x == -xp.inf, g, 0.0)),
    )


@jvp(xp.nan_to_num)
def nan_to_num_jvp(ans, x, copy=True, nan=0.0, posinf=None, neginf=None, *, dx, dnan, dposinf,
                   dneginf):  # fmt: skip
    """The tangent passes where ``x`` is finite; each replacement value gives its own to the
    entries it replaced."""
    if not copy:
        raise rt.refuse("np.nan_to_num with copy=False", "use copy=True (the default)")
    return (
        xp.where(xp.isfinite(x), dx, 0.0),
        xp.where(xp.isnan(x), dnan, 0.0),
        xp.where(x == xp.inf, dposinf, 0.0),
        xp.where(x == -xp.inf, dneginf, 0.0),
    )


# The parts of a number: srcdiff differentiates real values, and refuses complex ones.


@vjp(xp.real, "ndarray.real")
def real(g, ans, val):
    rt.real_only(val)
    return g


@vjp(xp.real_if_close)
def real_if_close(g, ans, a, tol=100):
    """The value itself, for a real one."""
    rt.real_only(a)
    return g, None


@vjp(xp.conjugate, "ndarray.conjugate", "ndarray.conj")
def conjugate(g, ans, x):
    rt.real_only(x)
    return g


@vjp(xp.imag, "ndarray.imag")
def imag(g, ans, val):
    """0 for a real value, whatever it is."""
    rt.real_only(val)
    return None


@vjp(xp.angle)
def angle(g, ans, z, deg=False):
    """0 or pi (180 with ``deg``) for a real value: piecewise constant."""
    rt.real_only(z)
    return None, None


@jvp(xp.angle)
def angle_jvp(ans, z, deg=False, *, dz):
    rt.real_only(z)
    return 0.0 * dz


@vjp(xp.sign)
def sign(g, ans, x):
    """0 wherever it is differentiable, for a real ``x`` (piecewise constant); a complex
    one's sign, ``x / |x|``, is not."""
    rt.real_only(x)
    return None


@jvp(xp.sign)
def sign_jvp(ans, x, *, dx):
    rt.real_only(x)
    return 0.0 * dx


# Forward mode refuses complex values where reverse mode does: a complex tangent made real
# there would hold whatever the rules before, written for real values, made of it.


@jvp(xp.real, "ndarray.real")
def real_jvp(ans, val, *, dval):
    rt.real_only(val)
    return dval


@jvp(xp.conjugate, "ndarray.conjugate", "ndarray.conj")
def conjugate_jvp(ans, x, *, dx):
    rt.real_only(x)
    return dx


@jvp(xp.real_if_close)
def real_if_close_jvp(ans, a, tol=100, *, da):
    rt.real_only(a)
    return da


@jvp(xp.imag, "ndarray.imag")
def imag_jvp(ans, val, *, dval):
    rt.real_only(val)
    return 0.0 * dval


# ---- special functions -------------------------------------------------------------------


@vjp(math.erf)
def erf(g, ans, x):
    return g * 1.1283791670955126 * xp.exp(-x * x)


@jvp(math.erf)
def erf_jvp(ans, x, *, dx):
    return dx * 1.1283791670955126 * xp.exp(-x * x)


@vjp(math.erfc)
def erfc(g, ans, x):
    return -g * 1.1283791670955126 * xp.exp(-x * x)


@jvp(math.erfc)
def erfc_jvp(ans, x, *, dx):
    return -dx * 1.1283791670955126 * xp.exp(-x * x)


@vjp(math.gamma)
def gamma(g, ans, x):
    return g * ans * rt.digamma(x)


@jvp(math.gamma)
def gamma_jvp(ans, x, *, dx):
    return dx * ans * rt.digamma(x)


@vjp(math.lgamma)
def lgamma(g, ans, x):
    """``log|Gamma(x)|``, whose derivative is the digamma function for any sign of Gamma."""
    return g * rt.digamma(x)


@jvp(math.lgamma)
def lgamma_jvp(ans, x, *, dx):
    return dx * rt.digamma(x)


def expit(g, ans, x):
    return g * ans * (1.0 - ans)


def expit_jvp(ans, x, *, dx):
    return dx * ans * (1.0 - ans)


def logit(g, ans, x):
    return g / (x * (1.0 - x))


def logit_jvp(ans, x, *, dx):
    return dx / (x * (1.0 - x))


def digamma(g, ans, x):
    return g * rt.trigamma(x)


def digamma_jvp(ans, x, *, dx):
    return dx * rt.trigamma(x)


def xlogy(g, ans, x, y):
    """``x * log(y)``, 0 where ``x`` is 0 (there ``y`` gets no gradient)."""
    return (
        rt.cast_like(rt.unbroadcast(g * xp.log(y), x), x),
        rt.unbroadcast(xp.where(xp.asarray(x) == 0, 0.0, g * x / y), y),
    )


def xlogy_jvp(ans, x, y, *, dx, dy):
    return dx * xp.log(y), xp.where(xp.asarray(x) == 0, 0.0, dy * x / y)


def logsumexp(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over ``axis``: ``a`` gets the softmax weights."""
    d_a, d_b = rt.logsumexp_grads(g, ans, a, axis, b, keepdims, return_sign)
    return d_a, None, d_b, None, None


def logsumexp_jvp(ans, a, axis=None, b=None, keepdims=False, return_sign=False, *, da, db):
    """The softmax weights ``exp(a - ans)`` (over the shape ``a`` and ``b`` broadcast to)
    times ``b`` and ``da``, or times ``db``, summed over ``axis``."""
    if return_sign:
        raise rt.refuse("scipy.special.logsumexp with return_sign=True",
                        "differentiate it without return_sign")  # fmt: skip
    e = xp.exp(a - xp.max(a, axis=axis, keepdims=True))
    w = e / xp.sum(e if b is None else b * e, axis=axis, keepdims=True)
    return (
        xp.sum(w * da if b is None else w * b * da, axis=axis, keepdims=keepdims),
        xp.sum(w * db, axis=axis, keepdims=keepdims),
    )


def erfinv(g, ans, y):
    """The slope of the inverse, ``sqrt(pi) / 2 * exp(erfinv(y) ** 2)``."""
    return g * 0.886226925452758 * xp.exp(ans * ans)


def erfinv_jvp(ans, y, *, dy):
    return dy * 0.886226925452758 * xp.exp(ans * ans)


def erfcinv(g, ans, y):
    return -g * 0.886226925452758 * xp.exp(ans * ans)


def erfcinv_jvp(ans, y, *, dy):
    return -dy * 0.886226925452758 * xp.exp(ans * ans)


def ndtr(g, ans, x):
    """The standard normal density, ``exp(-x ** 2 / 2) / sqrt(2 pi)``."""
    return g * 0.3989422804014327 * xp.exp(-0.5 * x * x)


def ndtr_jvp(ans, x, *, dx):
    return dx * 0.3989422804014327 * xp.exp(-0.5 * x * x)


def log_ndtr(g, ans, x):
    """The density over the distribution, ``exp(-x ** 2 / 2 - log_ndtr(x)) / sqrt(2 pi)``
    (finite far in the lower tail, where both are)."""
    return g * 0.3989422804014327 * xp.exp(-0.5 * x * x - ans)


def log_ndtr_jvp(ans, x, *, dx):
    return dx * 0.3989422804014327 * xp.exp(-0.5 * x * x - ans)


def ndtri(g, ans, y):
    """The slope of the inverse of ``ndtr``, ``sqrt(2 pi) * exp(ndtri(y) ** 2 / 2)``."""
    return g * 2.5066282746310002 * xp.exp(0.5 * ans * ans)


def ndtri_jvp(ans, y, *, dy):
    return dy * 2.5066282746310002 * xp.exp(0.5 * ans * ans)


def log_expit(g, ans, x):
    """``1 - expit(x)``, as ``-expm1(log_expit(x))`` (exact for large ``x``)."""
    return -g * xp.expm1(ans)


def log_expit_jvp(ans, x, *, dx):
    return -dx * xp.expm1(ans)


def xlog1py(g, ans, x, y):
    """``x * log1p(y)``, 0 where ``x`` is 0 (there ``y`` gets no gradient)."""
    return (
        rt.cast_like(rt.unbroadcast(g * xp.log1p(y), x), x),
        rt.unbroadcast(xp.where(xp.asarray(x) == 0, 0.0, g * x / (1.0 + y)), y),
    )


def xlog1py_jvp(ans, x, y, *, dx, dy):
    return dx * xp.log1p(y), xp.where(xp.asarray(x) == 0, 0.0, dy * x / (1.0 + y))


def betaln(g, ans, a, b):
    """``log|B(a, b)|``: digamma of each less digamma of their sum."""
    return (
        rt.unbroadcast(g * (rt.digamma(a) - rt.digamma(a + b)), a),
        rt.unbroadcast(g * (rt.digamma(b) - rt.digamma(a + b)), b),
    )


def betaln_jvp(ans, a, b, *, da, db):
    return da * (rt.digamma(a) - rt.digamma(a + b)), db * (rt.digamma(b) - rt.digamma(a + b))


def softmax(g, ans, x, axis=None):
    """``s * (g - sum(g * s))`` over ``axis`` (all entries for None), ``s`` the result."""
    return ans * (g - xp.sum(g * ans, axis=axis, keepdims=True)), None


def softmax_jvp(ans, x, axis=None, *, dx):
    return ans * (dx - xp.sum(ans * dx, axis=axis, keepdims=True))


def log_softmax(g, ans, x, axis=None):
    """``g - softmax(x) * sum(g)`` over ``axis`` (all entries for None)."""
    return g - xp.exp(ans) * xp.sum(g, axis=axis, keepdims=True), None


def log_softmax_jvp(ans, x, axis=None, *, dx):
    return dx - xp.sum(xp.exp(ans) * dx, axis=axis, keepdims=True)


def erfcx(g, ans, x):
    """``exp(x ** 2) * erfc(x)``: its slope is ``2 x erfcx(x) - 2 / sqrt(pi)``."""
    return g * (2.0 * x * ans - 1.1283791670955126)


def erfcx_jvp(ans, x, *, dx):
    return dx * (2.0 * x * ans - 1.1283791670955126)


def entr(g, ans, x):
    """``-x log x``: its slope ``-(log x + 1)`` (+inf at 0, its slope from the right)."""
    return -g * (xp.log(x) + 1.0)


def entr_jvp(ans, x, *, dx):
    """(No change where ``dx`` is 0, the slope infinite or not.)"""
    return xp.where(xp.asarray(dx) == 0, 0.0, -dx * (xp.log(x) + 1.0))


def rel_entr(g, ans, x, y):
    """``x log(x / y)`` (0 where ``x`` is 0, whatever ``y``: there ``y`` gets none)."""
    return (
        rt.cast_like(rt.unbroadcast(g * (xp.log(x / y) + 1.0), x), x),
        rt.cast_like(rt.unbroadcast(xp.where(xp.asarray(x) == 0, 0.0, -g * x / y), y), y),
    )


def rel_entr_jvp(ans, x, y, *, dx, dy):
    return (
        xp.where(xp.asarray(dx) == 0, 0.0, dx * (xp.log(x / y) + 1.0)),
        xp.where(xp.asarray(x) == 0, 0.0, -dy * x / y),
    )


def kl_div(g, ans, x, y):
    """``x log(x / y) - x + y``: ``log(x / y)`` and ``1 - x / y``."""
    return (
        rt.cast_like(rt.unbroadcast(g * xp.log(x / y), x), x),
        rt.cast_like(rt.unbroadcast(g * (1.0 - x / y), y), y),
    )


def kl_div_jvp(ans, x, y, *, dx, dy):
    return xp.where(xp.asarray(dx) == 0, 0.0, dx * xp.log(x / y)), dy * (1.0 - x / y)


def huber(g, ans, delta, r):
    """``r ** 2 / 2`` where ``|r| <= delta``, else ``delta (|r| - delta / 2)``."""
    inside = xp.abs(r) <= delta
    return (
        rt.cast_like(rt.unbroadcast(xp.where(inside, 0.0, g * (xp.abs(r) - delta)), delta), delta),
        rt.cast_like(rt.unbroadcast(xp.where(inside, g * r, g * delta * xp.sign(r)), r), r),
    )


def huber_jvp(ans, delta, r, *, ddelta, dr):
    inside = xp.abs(r) <= delta
    return (
        xp.where(inside, 0.0, ddelta * (xp.abs(r) - delta)),
        xp.where(inside, dr * r, dr * delta * xp.sign(r)),
    )


def pseudo_huber(g, ans, delta, r):
    """``delta ** 2 (s - 1)``, ``s = sqrt(1 + (r / delta) ** 2)``: ``r / s`` and ``2 delta
    (s - 1) - r ** 2 / (delta s)``."""
    s = xp.sqrt(1.0 + (r / delta) ** 2)
    return (
        rt.cast_like(
            rt.unbroadcast(g * (2.0 * delta * (s - 1.0) - r * r / (delta * s)), delta), delta
        ),  # fmt: skip
        rt.cast_like(rt.unbroadcast(g * r / s, r), r),
    )


def pseudo_huber_jvp(ans, delta, r, *, ddelta, dr):
    s = xp.sqrt(1.0 + (r / delta) ** 2)
    return ddelta * (2.0 * delta * (s - 1.0) - r * r / (delta * s)), dr * r / s


SCIPY_SPECIAL: tuple = ()  # the functions of scipy.special with a rule (none without SciPy)
if importlib.util.find_spec("scipy") is not None:
    import scipy.special as special

    for _fn, _rule, _tangent in (
        (special.erf, erf, erf_jvp),
        (special.erfc, erfc, erfc_jvp),
        (special.expit, expit, expit_jvp),
        (special.logit, logit, logit_jvp),
        (special.logsumexp, logsumexp, logsumexp_jvp),
        (special.gamma, gamma, gamma_jvp),
        (special.gammaln, lgamma, lgamma_jvp),
        (special.digamma, digamma, digamma_jvp),
        (special.xlogy, xlogy, xlogy_jvp),
        (special.erfinv, erfinv, erfinv_jvp),
        (special.erfcinv, erfcinv, erfcinv_jvp),
        (special.ndtr, ndtr, ndtr_jvp),
        (special.log_ndtr, log_ndtr, log_ndtr_jvp),
        (special.ndtri, ndtri, ndtri_jvp),
        (special.log_expit, log_expit, log_expit_jvp),
        (special.xlog1py, xlog1py, xlog1py_jvp),
        (special.betaln, betaln, betaln_jvp),
        (special.softmax, softmax, softmax_jvp),
        (special.log_softmax, log_softmax, log_softmax_jvp),
        (special.erfcx, erfcx, erfcx_jvp),
        (special.entr, entr, entr_jvp),
        (special.rel_entr, rel_entr, rel_entr_jvp),
        (special.kl_div, kl_div, kl_div_jvp),
        (special.huber, huber, huber_jvp),
        (special.pseudo_huber, pseudo_huber, pseudo_huber_jvp),
    ):
        vjp(_fn)(_rule)
        jvp(_fn, shaped=_fn in (special.logsumexp, special.softmax, special.log_softmax))(_tangent)
        SCIPY_SPECIAL += (_fn,)
