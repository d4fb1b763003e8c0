"""Reparameterised random draws: a draw of a location-scale family is ``loc + scale * z``
with ``z`` the generator's standard draw, so its gradient in ``loc`` and ``scale`` is
that of the expression, ``z`` held fixed (as in a VAE's sampling step). The draw itself
is not differentiated: the same numbers come out, and ``z`` is recovered from them
(``rt.draw_scale`` refuses a zero scale, where ``z`` cannot be: NaN otherwise)."""

import numpy as xp

from .. import runtime as rt
from .registry import jvp, linear, method, vjp

LOCATION_SCALE = [
    draw
    for source in (xp.random.Generator, xp.random.RandomState)
    for draw in (method(source, "normal"), method(source, "laplace"),
                 method(source, "gumbel"), method(source, "logistic"))
]  # fmt: skip


@vjp(*LOCATION_SCALE)
def location_scale_draw(g, ans, loc=0.0, scale=1.0, size=None):
    return (
        rt.unbroadcast(g, loc),
        rt.unbroadcast(g * ((ans - loc) / rt.draw_scale(scale, "scale")), scale),
        None,
    )


@jvp(*LOCATION_SCALE)
def location_scale_draw_jvp(ans, loc=0.0, scale=1.0, size=None, *, dloc, dscale):
    return dloc, dscale * ((ans - loc) / rt.draw_scale(scale, "scale"))


UNIFORM = [method(xp.random.Generator, "uniform"), method(xp.random.RandomState, "uniform")]


@vjp(*UNIFORM)
def uniform_draw(g, ans, low=0.0, high=1.0, size=None):
    """``low + (high - low) * u``."""
    u = (ans - low) / rt.draw_scale(high - low)
    return rt.unbroadcast(g * (1.0 - u), low), rt.unbroadcast(g * u, high), None


@jvp(*UNIFORM)
def uniform_draw_jvp(ans, low=0.0, high=1.0, size=None, *, dlow, dhigh):
    u = (ans - low) / rt.draw_scale(high - low)
    return dlow * (1.0 - u), dhigh * u


SCALE = [method(xp.random.Generator, "exponential"), method(xp.random.RandomState, "exponential")]


@vjp(*SCALE)
def scale_draw(g, ans, scale=1.0, size=None):
    """``scale * e``."""
    return rt.unbroadcast(g * (ans / rt.draw_scale(scale, "scale")), scale), None


@jvp(*SCALE)
def scale_draw_jvp(ans, scale=1.0, size=None, *, dscale):
    return dscale * (ans / rt.draw_scale(scale, "scale"))


LOGNORMAL = [method(xp.random.Generator, "lognormal"), method(xp.random.RandomState, "lognormal")]


@vjp(*LOGNORMAL)
def lognormal_draw(g, ans, mean=0.0, sigma=1.0, size=None):
    """``exp(mean + sigma * z)``."""
    return (
        rt.unbroadcast(g * ans, mean),
        rt.unbroadcast(g * ans * ((xp.log(ans) - mean) / rt.draw_scale(sigma, "sigma")), sigma),
        None,
    )


@jvp(*LOGNORMAL)
def lognormal_draw_jvp(ans, mean=0.0, sigma=1.0, size=None, *, dmean, dsigma):
    return dmean * ans, dsigma * ans * ((xp.log(ans) - mean) / rt.draw_scale(sigma, "sigma"))


# ``rt.draw_scale`` is the identity where it does not refuse: linear, its gradient passes.
@vjp(rt.draw_scale)
def draw_scale(g, ans, scale, param=None):
    return g, None


linear((0,), rt.draw_scale)
