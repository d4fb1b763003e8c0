"""Forward mode of forward mode: ``sd.jvp`` of a function calling ``sd.jvp`` is forward
mode over the generated tangent source (``api._jvp_jvp``), ``u^T H v``, checked over the
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
