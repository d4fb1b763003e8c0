"""Forward mode of forward mode: ``sd.jvp`` of a function calling ``sd.jvp`` is forward
mode over the generated tangent source (``rt.forward_of``), ``u^T H v``, checked over the
battery against the Hessian-vector products ``test_higher_order`` checks against
differences of the gradient."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd

from .test_higher_order import FLOATS, _directions, _hvp_or_refusal

_FORWARD_TWICE: dict[str, tuple] = {}


def _directional(fn, v):
    """``x -> J(x) v``, computed by ``sd.jvp`` inside: a function srcdiff compiles."""

    def along(xs):
        return sd.jvp(fn, xs, v)[1]

    return along


def _forward_twice(case) -> tuple[float | None, str | None]:
    if case.name not in _FORWARD_TWICE:
        args = case.args()
        v = _directions(args, np.random.default_rng(5))
        u = _directions(args, np.random.default_rng(6))
        try:
            _, second = sd.jvp(_directional(case.fn, v), (tuple(args),), (tuple(u),))
            _FORWARD_TWICE[case.name] = (float(second), None)
        except sd.CompileError as error:
            _FORWARD_TWICE[case.name] = (None, str(error))
    return _FORWARD_TWICE[case.name]


@pytest.mark.parametrize("case", FLOATS, ids=[c.name for c in FLOATS])
def test_forward_over_forward_is_u_hessian_v(case):
    hv, refused_hvp = _hvp_or_refusal(case)
    second, refused = _forward_twice(case)
    if refused is not None or refused_hvp is not None:
        return  # counted below
    u = _directions(case.args(), np.random.default_rng(6))
    want = sum(float(np.sum(np.asarray(a) * np.asarray(b))) for a, b in zip(u, hv, strict=True))
    assert abs(second - want) <= 1e-6 * max(1.0, abs(want)), (second, want)


def test_most_of_the_battery_runs_forward_over_forward():
    """What is refused: the helper of ``functools.partial``, which has no forward rule
    of its own yet, and an attribute set on a local object (2 of 227)."""
    refused = {c.name: _forward_twice(c)[1] for c in FLOATS if _forward_twice(c)[1] is not None}
    assert len(refused) <= 0.03 * len(FLOATS), f"{len(refused)} refused: {refused}"


def _scaled(a, b=1.0, c=2.0):
    return np.sin(a) * b + c * a**2


def _weighted(a, *, k=2.0):
    return np.sin(a) * k


def _absorbing(a, **options):
    return np.sin(a) * options["k"]


def _keyword_by_position(x):
    return np.sum(_scaled(x, c=x) ** 2)  # c by keyword, b its default


def _keyword_only_constant(x):
    return np.sum(_weighted(x, k=3.0) ** 2)


def _keyword_only_with_tangent(x):
    return np.sum(_weighted(x, k=x) ** 2)


@pytest.mark.parametrize(
    "fn", [_keyword_by_position, _keyword_only_constant, _keyword_only_with_tangent]
)
def test_forward_over_forward_through_keyword_arguments(fn):
    """A call passing keywords, in the tangent source (``rt.call_jvp_keywords``): the
    keywords of parameters that take a position go by position, the keyword-only ones
    by name, each with its tangent: ``u^T H v`` as sd.hessian gives it."""
    rng = np.random.default_rng(3)
    x, u, v = rng.normal(size=(3, 3))
    second = sd.jvp(_directional(fn, (v,)), ((x,),), ((u,),))[1]
    assert np.allclose(second, u @ sd.hessian(fn)(x) @ v, rtol=1e-10, atol=1e-12)


def test_forward_over_forward_refuses_a_tangent_through_kwargs():
    def through_kwargs(x):
        return np.sum(_absorbing(x, k=x) ** 2)

    with pytest.raises(sd.CompileError, match=r"\*\*kwargs"):
        sd.jvp(_directional(through_kwargs, (np.ones(3),)), ((np.ones(3),),), ((np.ones(3),),))


def _chooses(x):
    return max(x[0], x[1]) * x[2] + min(x[1], x[2]) ** 2


def test_forward_twice_through_builtin_max_and_min():
    """The tangent of ``max``/``min`` (``rt.choice_tangent``) is linear in the tangents
    and piecewise constant in the values: forward mode over it was refused."""
    x, v = np.array([0.5, 0.2, 0.7]), np.array([1.0, 0.3, 1.0])

    def along(x, v):
        return sd.jvp(_chooses, (x,), (v,))[1]

    second = sd.jvp(along, (x, v), (v, np.zeros(3)))[1]
    # max(x0, x1) = x0, min(x1, x2) = x1: f = x0 x2 + x1^2, v^T H v = 2 v0 v2 + 2 v1^2
    assert second == pytest.approx(2 * 1.0 * 1.0 + 2 * 0.3**2)


# ---- forward over forward through the helpers of forward rules ---------------------------

_M = np.array([[2.0, 0.5, 0.1], [0.3, 1.5, 0.2], [0.1, 0.4, 3.0]])
_V = np.array([[0.1, 0.2, -0.3], [0.5, -0.1, 0.2], [0.3, 0.2, 0.1]])
_W = np.array([[-0.2, 0.4, 0.1], [0.2, 0.3, -0.5], [0.1, -0.3, 0.2]])
_POINTS, _VALUES = np.array([-1.0, 0.7, 1.7, 4.0]), np.array([0.0, 1.0, 4.0, 9.0])


def _weighted_sum(y):
    y = np.asarray(y)
    return np.sum(y * np.cos(np.arange(y.size).reshape(y.shape) + 0.5))


HELPERS = {
    "norm_frobenius": lambda a: np.linalg.norm(a),
    "norm_vector_2": lambda a: np.linalg.norm(a[0]),
    "norm_vector_3": lambda a: np.linalg.norm(a[1], ord=3),
    "norm_vector_1": lambda a: np.linalg.norm(a[2], ord=1),
    "norm_axis_keepdims": lambda a: _weighted_sum(np.linalg.norm(a, axis=0, keepdims=True)),
    "norm_rows_4": lambda a: _weighted_sum(np.linalg.norm(a, ord=4, axis=1)),
    "norm_nuclear": lambda a: np.linalg.norm(a, ord="nuc"),
    "norm_spectral": lambda a: np.linalg.norm(a, ord=2),
    "cumprod": lambda a: _weighted_sum(np.cumprod(a)),
    "cumprod_axis": lambda a: _weighted_sum(np.cumprod(a, axis=1)),
    "cumprod_through_zeros": lambda a: _weighted_sum(np.cumprod(a * np.array([1.0, 0.0, 1.0]))),
    "cumprod_two_zeros": lambda a: _weighted_sum(
        np.cumprod(a * np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
    ),
    "matrix_power_3": lambda a: _weighted_sum(np.linalg.matrix_power(a, 3)),
    "matrix_power_minus_2": lambda a: _weighted_sum(np.linalg.matrix_power(a, -2)),
    "average_weights": lambda a: _weighted_sum(np.average(a, weights=a[0] ** 2, axis=0)),
    "average_all": lambda a: np.average(a, weights=np.exp(a)),
    "interp_in_x": lambda a: _weighted_sum(np.interp(a, _POINTS, _VALUES) * a),
    "interp_in_points": lambda a: _weighted_sum(
        np.interp(
            np.array([0.2, 1.3, 2.9]),
            _POINTS + np.array([0.0, a[0, 0], a[1, 1], 0.0]),
            _VALUES * a[2, 2],
        )  # fmt: skip
    ),
    "slogdet": lambda a: np.linalg.slogdet(a)[1],
    "slogdet_named": lambda a: np.linalg.slogdet(a).logabsdet,
    "qr": lambda a: _weighted_sum(np.linalg.qr(a)[1]),
    "eigh_values": lambda a: _weighted_sum(np.linalg.eigh(a + a.T)[0]),
    "eigh_vectors": lambda a: _weighted_sum(np.abs(np.linalg.eigh(a + a.T)[1])),
    "svd_values": lambda a: _weighted_sum(np.linalg.svd(a)[1]),
    "svd_vectors": lambda a: _weighted_sum(np.abs(np.linalg.svd(a)[0])),
}


def _second_difference(f, a, v, w, h=1e-4):
    """``v^T H w`` by central second differences of ``f``."""
    return (f(a + h * v + h * w) - f(a + h * v - h * w) - f(a - h * v + h * w)
            + f(a - h * v - h * w)) / (4 * h * h)  # fmt: skip


@pytest.mark.parametrize("name", list(HELPERS))
def test_forward_over_forward_through_a_helper_matches_second_differences(name):
    f = HELPERS[name]

    def along(a):
        return sd.jvp(f, (a,), (_V,))[1]

    got = sd.jvp(along, (_M,), (_W,))[1]
    want = _second_difference(f, _M, _V, _W)
    assert abs(got - want) <= 1e-6 * max(1.0, abs(want)), (got, want)
    # the forward Jacobian of the forward mode: the Hessian times _V, each entry a pass
    column = sd.jacobian(along, mode="fwd")(_M)
    assert column.shape == _M.shape
    assert abs(np.sum(column * _W) - want) <= 1e-6 * max(1.0, abs(want))


def test_forward_mode_joins_a_constant_tuple_with_one_that_has_tangents():
    """``(c,) + (a, a)``: the tangent is the tangents joined, a zero for ``c``'s entry
    (it was ``a``'s tangents alone, one entry short: the entries after were misplaced)."""
    c = np.array([1.0, 2.0])

    def f(a):
        t = (c,) + (a, a)
        return t[2] * 3.0 + t[0]

    def g(a):
        t = (c,) + (a,)
        return t[0] * 5.0 + t[1]

    a, da = np.array([1.0, 1.0]), np.array([1.0, 0.0])
    np.testing.assert_allclose(sd.jvp(f, (a,), (da,))[1], 3.0 * da)
    np.testing.assert_allclose(sd.jvp(g, (a,), (da,))[1], da)
