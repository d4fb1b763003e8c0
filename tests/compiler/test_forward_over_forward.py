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
    """What is refused: a call passing keywords in the tangent source
    (``rt.call_jvp_keywords``: lambdas, nested defs, keyword arguments), the helpers of
    ``np.prod``'s rule and of writes into nested entries, which have no forward rules of
    their own yet, ``with``, and an attribute set on a local object (21 of 227)."""
    refused = {c.name: _forward_twice(c)[1] for c in FLOATS if _forward_twice(c)[1] is not None}
    assert len(refused) <= 0.10 * len(FLOATS), f"{len(refused)} refused: {refused}"
