"""Rules of more elementwise functions (rules/elementwise.py): inverse hyperbolics,
arctan2 and hypot, angle conversions, remainders, copysign, sinc, nan_to_num, the parts
of real numbers, ``math``'s special functions and, where SciPy is installed,
``scipy.special``'s."""

import builtins
import importlib.util
import math
import operator

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.rules import lookup
from srcdiff.testing import check_grads

from .spec import Sampler, Spec, rule_grads, table_tests
from .test_arithmetic import BROADCAST

R = Sampler(21)

HAS_SCIPY = importlib.util.find_spec("scipy") is not None
if HAS_SCIPY:
    import scipy.special as special
else:  # the rows and tests of scipy.special are left out, and say so
    special = None

ARRAY_SHAPES = ((3, 4), (5,), (2, 3, 2), ())

# primitive -> input domain (kept away from poles, branch points and kinks)
UNARY = {
    np.arcsinh: (-2.0, 2.0),
    np.arccosh: (1.2, 3.0),
    np.arctanh: (-0.8, 0.8),
    np.deg2rad: (-200.0, 200.0),
    np.radians: (-200.0, 200.0),
    np.rad2deg: (-3.0, 3.0),
    np.degrees: (-3.0, 3.0),
    np.fabs: (0.2, 2.0),
    np.sinc: (-2.0, 2.0),
}
UNARY_MATH = {
    math.asinh: (-2.0, 2.0),
    math.acosh: (1.2, 3.0),
    math.atanh: (-0.8, 0.8),
    math.radians: (-200.0, 200.0),
    math.degrees: (-3.0, 3.0),
    math.erf: (-2.0, 2.0),
    math.erfc: (-2.0, 2.0),
    math.gamma: (0.3, 4.0),
    math.lgamma: (0.3, 4.0),
}
# (x1 domain, x2 domain) of binary functions, in NumPy and in ``math``
BINARY = {
    np.arctan2: ((-2.0, 2.0), (-2.0, 2.0)),
    np.hypot: ((-2.0, 2.0), (-2.0, 2.0)),
    np.logaddexp2: ((-2.0, 2.0), (-2.0, 2.0)),
    np.copysign: ((0.3, 2.0), (-2.0, 2.0)),
    np.remainder: ((-3.0, 3.0), (0.7, 1.3)),
    np.mod: ((-3.0, 3.0), (-1.3, -0.7)),
    np.fmod: ((-3.0, 3.0), (0.7, 1.3)),
    operator.mod: ((-3.0, 3.0), (0.7, 1.3)),
}
BINARY_MATH = {
    math.atan2: ((-2.0, 2.0), (-2.0, 2.0)),
    math.copysign: ((-2.0, -0.3), (-2.0, 2.0)),
    math.fmod: ((-3.0, 3.0), (-1.3, -0.7)),
}


def value(shape, lo=-2.0, hi=2.0):
    return R.scalar(lo, hi) if shape is None else R(shape, lo, hi)


def with_specials(shape=(3, 4), infinities=True):
    """An array with NaN (and +inf and -inf) among finite entries."""
    x = R(shape)
    x.flat[1] = np.nan
    if infinities:
        x.flat[3], x.flat[4] = np.inf, -np.inf
    return x


def _scipy_specs():
    if not HAS_SCIPY:
        return []
    a, b = R((3, 4)), R((3, 4), 0.5, 2.0)
    return [
        *[
            Spec(p, (value(s, *dom),))
            for p, dom in (
                (special.erf, (-2.0, 2.0)),
                (special.erfc, (-2.0, 2.0)),
                (special.expit, (-4.0, 4.0)),
                (special.logit, (0.1, 0.9)),
                (special.gamma, (0.3, 4.0)),
                (special.gammaln, (0.3, 4.0)),
                (special.digamma, (0.3, 4.0)),
            )
            for s in ((3, 4), (), None)
        ],
        Spec(special.gammaln, (R((5,), -2.9, -2.1),), label="negative"),
        Spec(special.gamma, (R((5,), -2.9, -2.1),), label="negative"),
        *[Spec(special.xlogy, (value(xs, -2.0, 2.0), value(ys, 0.5, 2.0))) for xs, ys in BROADCAST],
        Spec(special.xlogy, (np.array([0.0, 1.5, 0.0]), R((3,), 0.5, 2.0)), label="zeros"),
        Spec(special.logsumexp, (a,)),
        Spec(special.logsumexp, (a, 1), label="axis-1"),
        Spec(special.logsumexp, (a,), {"axis": 0, "keepdims": True}),
        Spec(special.logsumexp, (R((2, 3, 4)),), {"axis": (0, 2)}),
        Spec(special.logsumexp, (a, None, b), label="b"),
        Spec(special.logsumexp, (a, -1, R((4,), 0.5, 2.0)), label="b-broadcast"),
        *[
            Spec(p, (value(s, *dom),))
            for p, dom in (
                (special.erfinv, (-0.9, 0.9)),
                (special.erfcinv, (0.1, 1.9)),
                (special.ndtr, (-3.0, 3.0)),
                (special.log_ndtr, (-3.0, 3.0)),
                (special.ndtri, (0.05, 0.95)),
                (special.log_expit, (-4.0, 4.0)),
            )
            for s in ((3, 4), (), None)
        ],
        Spec(special.log_ndtr, (R((4,), -30.0, -20.0),), label="lower-tail"),
        Spec(special.log_expit, (R((4,), 30.0, 40.0),), label="large"),
        *[
            Spec(special.xlog1py, (value(xs, -2.0, 2.0), value(ys, -0.5, 2.0)))
            for xs, ys in BROADCAST
        ],
        Spec(special.xlog1py, (np.array([0.0, 1.5, 0.0]), R((3,), -0.5, 2.0)), label="zeros"),
        *[Spec(special.betaln, (value(xs, 0.3, 3.0), value(ys, 0.3, 3.0))) for xs, ys in BROADCAST],
        Spec(special.softmax, (a,)),
        Spec(special.softmax, (a, 1), label="axis-1"),
        Spec(special.softmax, (R((2, 3, 4)),), {"axis": (0, 2)}),
        Spec(special.softmax, (R((5,)),), {"axis": -1}),
        Spec(special.log_softmax, (a,)),
        Spec(special.log_softmax, (a, 0), label="axis-0"),
        Spec(special.log_softmax, (R((2, 3, 4)),), {"axis": (1, 2)}),
        *[
            Spec(p, (value(s, *dom),))
            for p, dom in ((special.erfcx, (-2.0, 3.0)), (special.entr, (0.2, 2.0)))
            for s in ((3, 4), (), None)
        ],
        *[
            Spec(p, (value(xs, 0.2, 2.0), value(ys, 0.2, 2.0)))
            for p in (special.rel_entr, special.kl_div)
            for xs, ys in BROADCAST
        ],
        Spec(
            special.rel_entr,
            (np.array([0.0, 1.5, 0.0]), R((3,), 0.5, 2.0)),
            wrt=(1,),
            label="zeros",
        ),  # fmt: skip
        *[
            Spec(p, (value(ds, 0.5, 1.5), value(rs, -3.0, 3.0)))
            for p in (special.huber, special.pseudo_huber)
            for ds, rs in BROADCAST
        ],
    ]


SPECS = [
    *[Spec(p, (value(s, *dom),)) for p, dom in UNARY.items() for s in ARRAY_SHAPES],
    Spec(np.fabs, (R((3, 4), -2.0, -0.2),), label="negative"),
    Spec(np.sinc, (np.array([0.0, 0.5, -1.5, 1e-3]),), label="zero"),
    *[Spec(p, (R.scalar(*dom),)) for p, dom in UNARY_MATH.items()],
    Spec(math.gamma, (-1.7,), label="negative"),
    Spec(math.lgamma, (-2.6,), label="negative"),
    *[
        Spec(p, (value(xs, *dx), value(ys, *dy)))
        for p, (dx, dy) in BINARY.items()
        for xs, ys in BROADCAST
    ],
    Spec(np.fmod, (R((3, 4), -3.0, 3.0), R((4,), -1.3, -0.7)), label="negative-divisor"),
    Spec(np.copysign, (R((3, 4), -2.0, -0.3), -1.0), label="negative-x1"),
    *[Spec(p, (R.scalar(*dx), R.scalar(*dy))) for p, (dx, dy) in BINARY_MATH.items()],
    *[Spec(math.hypot, tuple(R.scalar() for _ in range(k)), label=f"{k}-args") for k in (1, 2, 3)],
    Spec(math.dist, ([R.scalar(), R.scalar(), R.scalar()], [R.scalar(), R.scalar(), 0.5])),
    Spec(math.dist, (R((4,)), R((4,))), label="arrays"),
    Spec(math.dist, ((R.scalar(),), [R(())]), label="one-coordinate"),
    # (the largest float, put for an infinity by default, drowns a finite difference)
    Spec(np.nan_to_num, (with_specials(infinities=False),), label="defaults"),
    Spec(np.nan_to_num, (with_specials((5,)),), {"posinf": 9.0, "neginf": -2.0}, label="keywords"),
    Spec(np.nan_to_num, (with_specials(), True, 1.5, 9.0, -9.0), label="values"),
    Spec(np.nan_to_num, (R((2, 3)),), label="finite"),
    *[
        Spec(p, (value(s),))
        for p in (np.real, np.conjugate, np.imag, np.real_if_close)
        for s in ((3, 4), ())
    ],
    *[
        Spec(p, (value((3, 4)),), call=c)
        for p, c in [
            ("ndarray.real", lambda a: a.real),
            ("ndarray.imag", lambda a: a.imag),
            ("ndarray.conj", lambda a: a.conj()),
            ("ndarray.conjugate", lambda a: a.conjugate()),
        ]
    ],
    *[
        Spec(p, (R(xs, -3.0, 3.0), R(ys, 0.7, 1.3)))
        for p in (builtins.divmod, np.divmod)
        for xs, ys in (((3, 4), (3, 4)), ((3, 4), (4,)), ((), ()))
    ],
    Spec(builtins.divmod, (R.scalar(-3.0, 3.0), R.scalar(0.7, 1.3))),
    *[Spec(np.modf, (R(s, -3.0, 3.0),)) for s in ((3, 4), ())],
    Spec(np.angle, (R((3, 4)),)),
    Spec(np.angle, (R((5,)),), {"deg": True}),
    *[Spec(np.sign, (R(s),)) for s in ((3, 4), ())],
    *_scipy_specs(),
]

H = Sampler(35)
SPECS += [
    Spec(np.heaviside, (H((3, 4)), H((3, 4)))),
    Spec(np.heaviside, (H((3, 4)), H((4,)))),
    # at x1 = 0 the result is x2 (a step in x1 there: x2's gradient only)
    Spec(
        np.heaviside,
        (np.array([[0.0, 1.0, -1.0], [0.0, 0.0, 2.0]]), H((2, 3))),
        wrt=(1,),
        label="zeros",
    ),  # fmt: skip
    Spec(np.heaviside, (np.array([0.0, 1.0, -1.0, 0.0]), H(())), wrt=(1,), label="zeros-0d"),
    Spec(np.ldexp, (H((3, 4)), np.array([[1], [-2], [3]]))),
    Spec(np.ldexp, (H((4,)), 3)),
]

SPECS += [
    Spec(np.frexp, (R((3, 4), -9.0, 9.0),)),
    Spec(np.i0, (R((3, 4), -4.0, 4.0),)),
    Spec(np.i0, (np.array([0.0, 12.5, -30.0]),), label="zero-and-large"),
    Spec(rt.bessel_i1, (R((5,), -3.0, 3.0),)),
    Spec(rt.bessel_i1, (np.array([0.0, -0.3, 25.0]),), label="zero-and-large"),
    Spec(np.frexp, (R((), 0.1, 0.4),)),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def d(prim, *args, g=1.0, **kwargs):
    """The rule's gradients of ``prim`` at ``args`` for the cotangent ``g``."""
    return rule_grads(prim, g, *args, **kwargs)


@pytest.mark.parametrize(
    "prim, x, expected",
    [
        (np.arcsinh, 0.0, 1.0),
        (np.arccosh, 2.0, 1.0 / math.sqrt(3.0)),
        (np.arctanh, 0.5, 4.0 / 3.0),
        (np.deg2rad, 1.0, math.pi / 180.0),
        (np.rad2deg, 1.0, 180.0 / math.pi),
        (np.fabs, -3.0, -1.0),
        (np.fabs, 0.0, 0.0),  # at the kink, 0 as abs
        (np.sinc, 0.0, 0.0),
        (np.sinc, 0.5, -4.0 / math.pi),  # (cos(pi/2) - 2/pi) / 0.5
        (math.erf, 0.0, 2.0 / math.sqrt(math.pi)),
        (math.erfc, 1.0, -2.0 / math.sqrt(math.pi) * math.exp(-1.0)),
        (math.gamma, 1.0, -0.5772156649015329),  # Gamma'(1) = -Euler's gamma
        (math.lgamma, 0.5, -0.5772156649015329 - 2 * math.log(2.0)),
        (math.degrees, 1.0, 180.0 / math.pi),
    ],
)
def test_derivative_values(prim, x, expected):
    (dx,) = d(prim, np.float64(x) if isinstance(prim, np.ufunc) else x)
    assert float(dx) == pytest.approx(expected, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("prim", [np.arctan2, np.hypot, math.atan2])
def test_at_the_origin_the_gradient_is_zero_not_nan(prim):
    d1, d2 = d(prim, 0.0, 0.0)
    assert float(d1) == 0.0 and float(d2) == 0.0


def test_math_hypot_at_zero_and_of_one_argument():
    assert d(math.hypot, 0.0, 0.0) == (0.0, 0.0)
    (dx,) = d(math.hypot, -2.5)
    assert dx == -1.0


def test_math_dist_where_the_points_meet_has_gradient_zero():
    p = np.array([1.0, -2.0])
    assert [list(g) for g in d(math.dist, p, p.copy())] == [[0.0, 0.0], [0.0, 0.0]]


def test_arctan2_is_the_angle_of_the_point():
    # atan2(y, x) at (x, y) = (1, 1): d/dy = x / r^2 = 0.5, d/dx = -y / r^2 = -0.5
    dy, dx = d(np.arctan2, np.float64(1.0), np.float64(1.0))
    assert (float(dy), float(dx)) == (0.5, -0.5)


def test_remainder_reads_its_quotient_from_the_result():
    # 1.0 % 0.1 is 0.09999999999999995 = 1.0 - 9 * 0.1, though floor(1.0 / 0.1) is 10
    x, y = np.float64(1.0), np.float64(0.1)
    for prim in (np.remainder, operator.mod, np.fmod):
        dx, dy = d(prim, x, y)
        assert float(dx) == 1.0 and float(dy) == -9.0


def test_remainder_of_negative_operands():
    # -3.5 % 2 = 0.5 = -3.5 - (-2) * 2; fmod(-3.5, 2) = -1.5 = -3.5 - (-1) * 2
    assert float(d(np.remainder, np.float64(-3.5), 2.0)[1]) == 2.0
    assert float(d(np.fmod, np.float64(-3.5), 2.0)[1]) == 1.0
    assert float(d(math.fmod, -3.5, 2.0)[1]) == 1.0


def test_copysign_gives_the_second_operand_nothing():
    dx, dy = d(np.copysign, np.array([2.0, -2.0, 2.0, 0.0]), np.array([1.0, 1.0, -0.0, -1.0]),
               g=np.ones(4))  # fmt: skip
    np.testing.assert_array_equal(dx, [1.0, -1.0, -1.0, 0.0])
    assert dy is None


def test_nan_to_num_passes_the_gradient_where_finite_only():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    g = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    dx, _, dnan, dpos, dneg = d(np.nan_to_num, x, True, 0.5, 7.0, None, g=g)
    np.testing.assert_array_equal(dx, [1.0, 0.0, 0.0, 0.0, 5.0])
    assert (float(dnan), float(dpos), dneg) == (2.0, 3.0, None)


def test_nan_to_num_without_a_copy_is_refused():
    with pytest.raises(sd.CompileError, match="copy=False"):
        d(np.nan_to_num, np.ones(3), False, g=np.ones(3))


@pytest.mark.parametrize("prim", [np.real, np.imag, np.conjugate, np.angle, np.sign])
def test_complex_values_are_refused(prim):
    z = np.array([1.0 + 2.0j, 3.0 - 1.0j])
    with pytest.raises(sd.CompileError, match="complex"):
        lookup(prim).fn(np.ones(2), prim(z), z)


def test_imag_and_angle_of_real_values_have_no_gradient():
    x = R((4,))
    assert d(np.imag, x, g=np.ones(4)) == (None,)
    assert d(np.angle, x, g=np.ones(4)) == (None, None)


def test_digamma_known_values():
    euler = 0.5772156649015329
    np.testing.assert_allclose(
        rt.digamma(np.array([1.0, 0.5, 2.0, -0.5, 10.0, 1e-3])),
        [-euler, -euler - 2 * math.log(2.0), 1.0 - euler, 0.03648997397857652,
         2.251752589066721, -1000.5755719318103],
        rtol=1e-13,
    )  # fmt: skip
    assert isinstance(rt.digamma(2.0), float) and rt.digamma(2.0) == pytest.approx(1.0 - euler)
    assert rt.digamma(np.ones(3, np.float32)).dtype == np.float32


def test_digamma_is_lgammas_derivative_everywhere():
    for x in (-3.7, -2.2, -0.4, 0.05, 0.7, 3.3, 11.5, 250.0):
        eps = 1e-6 * max(1.0, abs(x))
        fd = (math.lgamma(x + eps) - math.lgamma(x - eps)) / (2 * eps)
        assert rt.digamma(x) == pytest.approx(fd, rel=1e-7, abs=1e-7), x


@pytest.mark.skipif(not HAS_SCIPY, reason="SciPy is not installed")
def test_digamma_matches_scipy():
    x = np.concatenate([np.linspace(-9.9, -0.1, 97), np.linspace(0.01, 60.0, 300)])
    x = x[np.abs(x - np.round(x)) > 1e-3]  # away from the poles
    np.testing.assert_allclose(rt.digamma(x), special.digamma(x), rtol=1e-12, atol=1e-12)


def test_scipy_rules_exist_only_with_scipy():
    from srcdiff.rules import elementwise

    assert len(elementwise.SCIPY_SPECIAL) == (25 if HAS_SCIPY else 0)


@pytest.mark.skipif(not HAS_SCIPY, reason="SciPy is not installed")
def test_logsumexp_with_return_sign_is_refused():
    a = R((3,))
    with pytest.raises(sd.CompileError, match="return_sign"):
        lookup(special.logsumexp).fn(
            (1.0, 1.0), special.logsumexp(a, return_sign=True), a, None, None, False, True
        )


# ---- through the compiler ----------------------------------------------------------------


def angles_and_lengths(x, y):
    return np.sum(np.arctan2(y, x) * np.hypot(x, y) + np.arcsinh(x) * np.deg2rad(y))


def remainders(x, y):
    return np.sum((x % y) ** 2 + np.fmod(x, 0.7) * np.copysign(x, y) + np.sinc(x))


def cleaned(x):
    return np.sum(np.nan_to_num(x, nan=0.0, posinf=1.0) ** 2) + np.real(x[0]) * np.imag(x[3])


def scalars(t):
    return (
        math.erf(t) * math.gamma(t + 2.0)
        + math.lgamma(t + 1.0)
        + math.atan2(t, 2.0)
        + math.hypot(t, 1.0, 2.0)
        + math.fmod(t, 0.3) * math.erfc(t)
    )


def formatted(x):
    label = "%.3f" % float(np.sum(x))  # noqa: UP031  (the % of strings passes untouched)
    return np.sum(x * x) + len(label) * 0.0


def special_functions(x, y):
    return np.sum(
        special.logsumexp(x, axis=0) + special.expit(x[0]) * special.gammaln(y[1] + 1.0)
    ) + np.sum(special.xlogy(y, y) + special.erf(x) * special.digamma(y))


@pytest.mark.parametrize(
    "fn, args",
    [
        (angles_and_lengths, (R((3, 4)), R((4,)))),
        (remainders, (R((3, 4), -3.0, 3.0), R((3, 4), 0.7, 1.3))),
        (scalars, (0.8,)),
        (formatted, (R((3,)),)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_compiled_functions_match_finite_differences(fn, args):
    wrt = tuple(range(len(args)))
    check_grads(fn, sd.grad(fn, wrt=wrt), args, wrt, rtol=1e-6, atol=1e-8)


def test_nan_to_num_through_the_compiler():
    x = np.array([0.5, np.nan, np.inf, -1.5])
    (dx,) = sd.grad(cleaned, wrt=(0,))(x)
    np.testing.assert_allclose(dx, [1.0, 0.0, 0.0, -3.0])


@pytest.mark.skipif(not HAS_SCIPY, reason="SciPy is not installed")
def test_scipy_special_through_the_compiler():
    args = (R((2, 3)), R((2, 3), 0.5, 2.0))
    check_grads(special_functions, sd.grad(special_functions, wrt=(0, 1)), args, (0, 1), rtol=1e-6)


def _i0_sum(x):
    return np.sum(np.i0(x))


def _i0_slopes(x):
    return np.sum(sd.grad(_i0_sum)(x))


def _i0_curvatures(x):
    return np.sum(sd.grad(_i0_slopes)(x))


def test_i0_goes_to_the_third_derivative():
    """I0' = I1, I0'' = I0 - I1 / x, I0''' = I1 - (I0 - I1 / x) / x + I1 / x**2 (at 0:
    1/2 and 0), against SciPy's derivatives of Bessel functions."""
    special = pytest.importorskip("scipy.special")
    x = np.array([0.0, 0.4, -1.7, 3.2])
    np.testing.assert_allclose(sd.grad(_i0_sum)(x), special.ivp(0, x, 1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sd.grad(_i0_slopes)(x), special.ivp(0, x, 2), rtol=1e-10)
    np.testing.assert_allclose(
        sd.grad(_i0_curvatures)(x), special.ivp(0, x, 3), rtol=1e-9, atol=1e-12
    )
