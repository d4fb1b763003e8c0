"""Rules of more elementwise functions: inverse hyperbolic functions, ``arctan2`` and
``hypot``, angle conversions, remainders, ``copysign``, ``sinc``, ``nan_to_num``, the
parts of real numbers, ``math``'s special functions, and ``scipy.special``'s (registered
only where SciPy is installed)."""

import importlib.util
import math
import operator

import numpy as xp

from .. import runtime as rt
from .registry import vjp


@vjp(xp.arcsinh, math.asinh)
def arcsinh(g, ans, x):
    return g / xp.sqrt(x * x + 1.0)


@vjp(xp.arccosh, math.acosh)
def arccosh(g, ans, x):
    return g / xp.sqrt((x - 1.0) * (x + 1.0))


@vjp(xp.arctanh, math.atanh)
def arctanh(g, ans, x):
    return g / (1.0 - x * x)


@vjp(xp.arctan2, math.atan2)
def arctan2(g, ans, x1, x2):
    """The angle of the point ``(x2, x1)``; at the origin the gradient is 0."""
    r2 = x1 * x1 + x2 * x2
    scale = g / xp.where(r2 == 0, 1.0, r2)
    return rt.unbroadcast(scale * x2, x1), rt.unbroadcast(-scale * x1, x2)


@vjp(xp.hypot)
def hypot(g, ans, x1, x2):
    """At the origin the gradient is 0, as that of ``abs``."""
    scale = g / xp.where(ans == 0, 1.0, ans)
    return rt.unbroadcast(scale * x1, x1), rt.unbroadcast(scale * x2, x2)


@vjp(math.hypot)
def math_hypot(g, ans, *coordinates):
    """``math.hypot(*coordinates)``, the length of a vector; at 0 the gradient is 0."""
    scale = g / ans if ans else 0.0
    return tuple(scale * c for c in coordinates)


@vjp(xp.logaddexp2)
def logaddexp2(g, ans, x1, x2):
    """``log2(2 ** x1 + 2 ** x2)``: each operand gets its share ``2 ** (x - ans)``."""
    return (
        rt.unbroadcast(g * xp.exp((x1 - ans) * 0.6931471805599453), x1),
        rt.unbroadcast(g * xp.exp((x2 - ans) * 0.6931471805599453), x2),
    )


@vjp(xp.deg2rad, xp.radians, math.radians)
def deg2rad(g, ans, x):
    return g * 0.017453292519943295


@vjp(xp.rad2deg, xp.degrees, math.degrees)
def rad2deg(g, ans, x):
    return g * 57.29577951308232


@vjp(xp.fabs)
def fabs(g, ans, x):
    """At 0 the gradient is 0, as that of ``abs``."""
    return g * xp.sign(x)


@vjp(xp.remainder, operator.mod, xp.fmod, math.fmod)
def remainder(g, ans, x1, x2):
    """``x1 - n * x2`` with ``n`` the integer NumPy took (``floor(x1 / x2)``, for ``fmod``
    ``trunc(x1 / x2)``), read back from the result so that rounding in ``x1 / x2``
    cannot pick another: ``x1`` gets ``g`` and ``x2`` gets ``-n * g``, as in autograd
    and JAX."""
    n = xp.round((x1 - ans) / x2)
    return rt.unbroadcast(g, x1), rt.unbroadcast(-g * n, x2)


@vjp(xp.copysign, math.copysign)
def copysign(g, ans, x1, x2):
    """``|x1|`` with the sign of ``x2``: ``x2`` gets no gradient (its sign is piecewise
    constant); at ``x1 = 0`` the gradient is 0, as that of ``abs``."""
    return rt.unbroadcast(g * xp.sign(x1) * xp.sign(ans), x1), None


@vjp(xp.sinc)
def sinc(g, ans, x):
    """``sin(pi x) / (pi x)``, whose derivative ``(cos(pi x) - sinc(x)) / x`` is 0 at 0."""
    nonzero = x != 0
    return g * xp.where(nonzero, (xp.cos(xp.pi * x) - ans) / xp.where(nonzero, x, 1.0), 0.0)


@vjp(xp.nan_to_num)
def nan_to_num(g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    """The gradient passes where ``x`` is finite; each replacement value gets that of the
    entries it replaced (the largest float, used when ``posinf`` is None, gets none)."""
    if not copy:
        raise TypeError("srcdiff differentiates np.nan_to_num with copy=True only")
    return (
        xp.where(xp.isfinite(x), g, 0.0),
        None,
        xp.sum(xp.where(xp.isnan(x), g, 0.0)),
        None if posinf is None else xp.sum(xp.where(x == xp.inf, g, 0.0)),
        None if neginf is None else xp.sum(xp.where(x == -xp.inf, g, 0.0)),
    )


# The parts of a number: srcdiff differentiates real values, and refuses complex ones.


@vjp(xp.real)
def real(g, ans, val):
    rt.real_only(val)
    return g


@vjp(xp.conjugate)
def conjugate(g, ans, x):
    rt.real_only(x)
    return g


@vjp(xp.imag)
def imag(g, ans, val):
    """0 for a real value, whatever it is."""
    rt.real_only(val)
    return None


@vjp(xp.angle)
def angle(g, ans, z, deg=False):
    """0 or pi (180 with ``deg``) for a real value: piecewise constant."""
    rt.real_only(z)
    return None, None


# ---- special functions -------------------------------------------------------------------


@vjp(math.erf)
def erf(g, ans, x):
    return g * 1.1283791670955126 * xp.exp(-x * x)


@vjp(math.erfc)
def erfc(g, ans, x):
    return -g * 1.1283791670955126 * xp.exp(-x * x)


@vjp(math.gamma)
def gamma(g, ans, x):
    return g * ans * rt.digamma(x)


@vjp(math.lgamma)
def lgamma(g, ans, x):
    """``log|Gamma(x)|``, whose derivative is the digamma function for any sign of Gamma."""
    return g * rt.digamma(x)


def expit(g, ans, x):
    return g * ans * (1.0 - ans)


def logit(g, ans, x):
    return g / (x * (1.0 - x))


def digamma(g, ans, x):
    return g * rt.trigamma(x)


def xlogy(g, ans, x, y):
    """``x * log(y)``, 0 where ``x`` is 0 (there ``y`` gets no gradient)."""
    return (
        rt.cast_like(rt.unbroadcast(g * xp.log(y), x), x),
        rt.unbroadcast(xp.where(xp.asarray(x) == 0, 0.0, g * x / y), y),
    )


def logsumexp(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over ``axis``: ``a`` gets the softmax weights."""
    d_a, d_b = rt.logsumexp_grads(g, ans, a, axis, b, keepdims, return_sign)
    return d_a, None, d_b, None, None


SCIPY_SPECIAL: tuple = ()  # the functions of scipy.special with a rule (none without SciPy)
if importlib.util.find_spec("scipy") is not None:
    import scipy.special as special

    for _fn, _rule in (
        (special.erf, erf),
        (special.erfc, erfc),
        (special.expit, expit),
        (special.logit, logit),
        (special.logsumexp, logsumexp),
        (special.gammaln, lgamma),
        (special.digamma, digamma),
        (special.xlogy, xlogy),
    ):
        vjp(_fn)(_rule)
        SCIPY_SPECIAL += (_fn,)
