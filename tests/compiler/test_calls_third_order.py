"""Third derivatives (and higher) through calls of the user's functions.

Forward-mode source calls each function it calls through ``rt.call_jvp``; differentiated
again, that call is one of a function of source (``rt.forward_of``) calling the callee's
own forward-mode program, whose derivatives are those of calls again, to any order.
Checked against central differences of the second derivative, against the same
function written inline, and in closed form."""

from __future__ import annotations

import dataclasses
import functools
import sys

import numpy as np
import pytest

import srcdiff as sd

X = 0.7


def helper(x):
    return np.sin(x) * x**3


def inline(x):
    return np.sin(x) * x**3


def third_in_closed_form(x):
    """d^3/dx^3 of x^3 sin x."""
    return 6 * np.sin(x) + 18 * x * np.cos(x) - 9 * x**2 * np.sin(x) - x**3 * np.cos(x)


def fourth_in_closed_form(x):
    return 24 * np.cos(x) - 36 * x * np.sin(x) - 12 * x**2 * np.cos(x) + x**3 * np.sin(x)


def through_helper(x):
    return helper(x)


def through_lambda(x):
    h = lambda y: np.sin(y) * y**3  # noqa: E731
    return h(x)


def through_closure(x):
    a = 1.5

    def h(y):
        return np.sin(a * y) * y**3

    return h(x)


def through_closure_of_the_argument(x):
    def h(y):
        return np.sin(x * y) * y**3

    return h(x)


def scaled(x, scale=1.0, *, shift=0.0):
    return scale * np.sin(x + shift) * x**3


def through_keywords(x):
    return scaled(x, scale=2.0, shift=0.25)


def through_differentiated_keywords(x):
    return scaled(x, scale=x, shift=x)


def spread(*xs):
    return np.sin(xs[0]) * xs[1] ** 3


def through_star_args(x):
    return spread(x, np.cos(x))


def pair(x, y):
    return np.sin(x) * y**3


def through_starred_call(x):
    xs = (x, np.cos(x))
    return pair(*xs)


def through_spread_keywords(x):
    given = {"y": np.cos(x)}
    return pair(x, **given)


def through_nested_helpers(x):
    def inner(y):
        return helper(y) * 2.0 + pair(y, y)

    return inner(x) + x


def through_partial(x):
    p = functools.partial(pair, y=1.5)
    return p(x) * helper(x)


def through_primitive_by_name(x):
    act = np.tanh
    return act(x) * helper(x)


def through_forward_mode(x):
    return sd.jvp(helper, (x,), (1.0,))[1] * x


@dataclasses.dataclass
class Wave:
    k: float

    def value(self, y):
        return np.sin(self.k * y) * y**3


def through_record_method(x):
    return Wave(x).value(x)


class Spring:
    k = 2.0

    def energy(self, x):
        return self.k * np.sin(x) * x**3

    def total(self, x):
        return self.energy(x) + helper(x)


CALLS = [
    through_helper,
    through_lambda,
    through_closure,
    through_closure_of_the_argument,
    through_keywords,
    through_differentiated_keywords,
    through_star_args,
    through_starred_call,
    through_spread_keywords,
    through_nested_helpers,
    through_partial,
    through_primitive_by_name,
    through_forward_mode,
    through_record_method,
    Spring().total,
]


def _differences_of_the_second(f, x):
    second = sd.grad(sd.grad(f))
    return [(second(x + eps) - second(x - eps)) / (2 * eps) for eps in (1e-5, 1e-3)]


@pytest.mark.parametrize("f", CALLS, ids=lambda f: f.__name__)
def test_a_third_derivative_through_a_call_matches_differences_of_the_second(f):
    got = sd.grad(sd.grad(sd.grad(f)))(X)
    fine, coarse = _differences_of_the_second(f, X)
    assert abs(fine - coarse) <= 1e-3 * max(1.0, abs(fine))
    assert abs(got - fine) <= 1e-6 * max(1.0, abs(fine)), (got, fine)
    second = sd.grad(sd.grad(f))
    assert sd.jvp(second, (X,), (1.0,))[1] == pytest.approx(got, rel=1e-12)
    assert sd.jacobian(second, mode="fwd")(X) == pytest.approx(got, rel=1e-12)


def test_a_third_derivative_through_a_helper_is_the_inline_one_and_the_closed_form():
    got = sd.grad(sd.grad(sd.grad(through_helper)))(X)
    assert got == pytest.approx(sd.grad(sd.grad(sd.grad(inline)))(X), rel=1e-14)
    assert got == pytest.approx(third_in_closed_form(X), rel=1e-12)
    assert isinstance(got, float)
    third_f32 = sd.grad(sd.grad(sd.grad(through_helper)))(np.float32(X))
    assert third_f32.dtype == np.float32
    assert third_f32 == pytest.approx(third_in_closed_form(X), rel=1e-4)


def _along(f):
    return lambda y: sd.jvp(f, (y,), (1.0,))[1]


def test_nesting_forward_modes_of_calls_has_no_depth_limit():
    """Forward mode over forward mode through a call, three and four times, and reverse
    mode over them: each level is a call of a function of source again."""
    third = third_in_closed_form(X)
    fourth = fourth_in_closed_form(X)
    assert _along(_along(_along(through_helper)))(X) == pytest.approx(third, rel=1e-12)
    assert sd.grad(_along(_along(through_helper)))(X) == pytest.approx(third, rel=1e-12)
    assert sd.grad(sd.grad(_along(through_helper)))(X) == pytest.approx(third, rel=1e-12)
    got = _along(_along(_along(_along(through_helper))))(X)
    assert got == pytest.approx(fourth, rel=1e-12)
    assert sd.grad(sd.grad(_along(_along(through_helper))))(X) == pytest.approx(fourth, rel=1e-12)


def _energy(w):
    return np.sum(helper(w) * w[::-1])


def test_a_third_derivative_through_a_call_on_arrays():
    """The third derivative of ``_energy`` contracted with ``u``, ``v`` and ``e_k``: the
    gradient of ``w -> (Hessian(w) u) . v``, against differences of that product."""
    w = np.array([0.3, -0.8, 1.1])
    u, v = np.array([1.0, 0.5, -0.2]), np.array([-0.3, 0.7, 0.4])

    def hu_dot_v(w):
        return np.sum(sd.grad(lambda y: np.sum(sd.grad(_energy)(y) * u))(w) * v)

    got = sd.grad(hu_dot_v)(w)
    eps = 1e-5
    want = [(hu_dot_v(w + eps * e) - hu_dot_v(w - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def _gradient_inside(x):
    return sd.grad(helper)(x) * x


def test_a_fourth_derivative_through_an_inner_gradient():
    """It was refused ("order four or more"): with ``h = x^3 sin x`` and ``h3``, ``h4`` its
    third and fourth derivatives, ``x h'(x)`` has the third derivative ``3 h3 + x h4``."""
    assert sd.grad(sd.grad(_gradient_inside))(X) == pytest.approx(
        sd.grad(sd.grad(lambda y: sd.grad(inline)(y) * y))(X), rel=1e-12
    )
    near, far = ((third_in_closed_form(X + h) - third_in_closed_form(X - h)) / (2 * h)
                 for h in (1e-4, 2e-4))  # fmt: skip
    assert near == pytest.approx(far, rel=1e-6)
    assert fourth_in_closed_form(X) == pytest.approx(near, rel=1e-6)
    want = 3 * third_in_closed_form(X) + X * fourth_in_closed_form(X)
    assert sd.grad(sd.grad(sd.grad(_gradient_inside)))(X) == pytest.approx(want, rel=1e-12)
    assert sd.grad(sd.grad(sd.grad(sd.grad(inline))))(X) == pytest.approx(
        fourth_in_closed_form(X), rel=1e-12
    )


def test_a_third_derivative_through_a_forward_mode_function_says_what_to_write():
    def through_jvp_function(x):
        return sd.jvp(helper)((x,), (1.0,))[1] * x

    with pytest.raises(sd.CompileError) as error:
        sd.grad(sd.grad(through_jvp_function))(X)
    message = str(error.value)
    assert "a third derivative of helper: sd.jvp(helper) differentiated twice more" in message
    assert "sd.jvp(f, primals, tangents)" in message
    assert "_jvp_jvp" not in message
    # written so, it is differentiated as any call
    got = sd.grad(sd.grad(lambda x: sd.jvp(helper, (x,), (1.0,))[1] * x))(X)
    second = sd.grad(lambda x: sd.jvp(helper, (x,), (1.0,))[1] * x)
    eps = 1e-5
    assert got == pytest.approx((second(X + eps) - second(X - eps)) / (2 * eps), rel=1e-6)


SCALE = 1.5


def helper_of_a_global(x):
    return np.sin(SCALE * x) * x**3


def through_helper_of_a_global(x):
    return helper_of_a_global(x)


def test_a_call_in_forward_mode_source_is_made_once(monkeypatch):
    """``rt.forward_of`` finds the function it made for a call by the callee, which
    tangents are None, the values' types and shapes and the calling line, before building
    anything; what the callee reads from its globals it reads on every call."""
    import srcdiff.api as api

    built = []
    target = api._forward_target

    def counting(*args, **kwargs):
        if "forward_call" in sys._getframe(1).f_code.co_name:
            built.append(args[0])
        return target(*args, **kwargs)

    monkeypatch.setattr(api, "_forward_target", counting)
    third = sd.grad(sd.grad(sd.grad(through_helper_of_a_global)))
    first = third(X)
    assert built
    built.clear()
    assert third(X + 0.1) == pytest.approx(
        third_of_scaled(X + 0.1, SCALE), rel=1e-10
    )  # (another value, the same types and shapes)
    assert built == []
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 0.5)
    assert third(X) == pytest.approx(third_of_scaled(X, 0.5), rel=1e-10)
    assert first == pytest.approx(third_of_scaled(X, 1.5), rel=1e-10)


def third_of_scaled(x, a):
    """d^3/dx^3 of x^3 sin(a x)."""
    s, c = np.sin(a * x), np.cos(a * x)
    return 6 * s + 18 * a * x**2 * c / x - 9 * a**2 * x**2 * s - a**3 * x**3 * c
