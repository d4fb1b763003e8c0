"""Second derivatives: reverse mode over the generated forward-mode source.

``sd.hvp`` and ``sd.hessian`` over the battery and over every rule table, against central
differences (two step sizes) of ``sd.grad``, which the other tests check against finite
differences of the function; ``sd.grad`` and ``sd.jvp`` called inside a differentiated
function (gradients of gradients and of forward modes, forward modes of gradients); and
third derivatives (``sd.grad`` three times, forward modes and Hessians of second
derivatives) against differences of the second; what is refused (a fourth derivative, a
helper with no rule).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math

import numpy as np
import pytest
from rules.families import SPECS
from rules.spec import ids, prim_name

import srcdiff as sd
from srcdiff import runtime as rt

from . import forward_functions as late
from . import (
    functions,  # noqa: F401  (registers the battery)
    higher_with,
)
from .cases import CASES, A, S

STEPS = (1e-6, 1e-4)
FLOATS = [c for c in CASES if all(isinstance(k, (A, S)) for k in c.kinds) and not c.kwargs]


def _directions(args: list, rng: np.random.Generator) -> list:
    return [
        rng.standard_normal(np.shape(a)) if isinstance(a, np.ndarray) else float(rng.normal())
        for a in args
    ]


def _gradient_differences(fn, args: list, v: list, wrt: tuple[int, ...]) -> list[list]:
    """Central differences of ``sd.grad(fn)`` along ``v``, at two step sizes."""
    grad = sd.grad(fn, wrt=wrt)
    out = []
    for eps in STEPS:
        plus = [a + eps * t if t is not None else a for a, t in zip(args, v, strict=True)]
        minus = [a - eps * t if t is not None else a for a, t in zip(args, v, strict=True)]
        gp, gm = grad(*plus), grad(*minus)
        out.append(
            [(np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(gp, gm, strict=True)]
        )
    return out


def _assert_matches(got: list, fd: list[list], where: str, rtol: float = 1e-4) -> None:
    """``got`` (one product per argument) against the differences at the smaller step,
    unless the two steps disagree (a kink nearby)."""
    scale = max([1.0] + [float(np.max(np.abs(d), initial=0.0)) for d in fd[0]])
    for a, b in zip(fd[0], fd[1], strict=True):
        if np.max(np.abs(a - b), initial=0.0) > 1e-3 * scale:
            return  # not smooth here
    for i, (g, d) in enumerate(zip(got, fd[0], strict=True)):
        err = float(np.max(np.abs(np.asarray(g) - d), initial=0.0))
        assert err <= rtol * scale, f"{where}: product {i} off by {err:.3g} (scale {scale:.3g})"


# ---- the battery -----------------------------------------------------------------------


_HVPS: dict[str, tuple] = {}  # per case: its products or its refusal, computed once


def _hvp_or_refusal(case) -> tuple[list | None, str | None]:
    if case.name not in _HVPS:
        _HVPS[case.name] = _hvp_of(case)
    return _HVPS[case.name]


def _hvp_of(case) -> tuple[list | None, str | None]:
    args = case.args()
    v = _directions(args, np.random.default_rng(5))
    try:
        hv = sd.hvp(case.fn, args, v)
    except sd.CompileError as error:
        return None, str(error)
    return (list(hv) if len(args) > 1 else [hv]), None


@pytest.mark.parametrize("case", FLOATS, ids=[c.name for c in FLOATS])
def test_hvp_matches_differences_of_the_gradient_or_refuses(case):
    hv, refused = _hvp_or_refusal(case)
    if refused is not None:
        # (a field set on an object built in forward-mode source: the analysis does not
        # take ``layer, d_layer = rt.call_jvp(Layer, ...)`` for an object made there)
        known = ("no derivative rule", "forward", "of a derivative", "value to an attribute")
        assert any(w in refused for w in known), refused
        return
    args = case.args()
    v = _directions(args, np.random.default_rng(5))
    fd = _gradient_differences(case.fn, args, v, tuple(range(len(args))))
    _assert_matches(hv, fd, case.name)


def test_most_of_the_battery_has_second_derivatives():
    """What is refused: a primitive with no forward rule yet (``x.astype``, ``sorted``
    with a key), ``np.prod``'s exact gradient, a field set on an object built inside,
    ``with``."""
    refused = [c.name for c in FLOATS if _hvp_or_refusal(c)[1] is not None]
    assert len(FLOATS) >= 150
    assert len(refused) <= 0.05 * len(FLOATS), f"{len(refused)} refused: {refused}"


# ---- every rule table ------------------------------------------------------------------


def _paired(y, u):
    """``sum(u * y)`` over the parts of a tuple result (1 to 4 of them: ix_, eigh, qr,
    slogdet, svd, lstsq), a function srcdiff compiles."""
    total = np.sum(u[0] * y[0])
    if len(u) > 1:
        total = total + np.sum(u[1] * y[1])
    if len(u) > 2:
        total = total + np.sum(u[2] * y[2])
    if len(u) > 3:
        total = total + np.sum(u[3] * y[3])
    return total


def _scalarized(spec, u):
    """``sum(u * primitive(*args))`` as a function srcdiff compiles (arity 1 to 4); for a
    tuple result, ``u`` holds one array per part."""
    prim = spec.prim
    if spec.kwargs:  # keywords bound by a partial of a function calling the primitive
        called = rt.primitive_function(prim, len(spec.args), tuple(spec.kwargs))
        prim = functools.partial(called, **spec.kwargs)
    if isinstance(u, list):
        shapes = {
            1: lambda a: _paired(prim(a), u),
            2: lambda a, b: _paired(prim(a, b), u),
            3: lambda a, b, c: _paired(prim(a, b, c), u),
            4: lambda a, b, c, d: _paired(prim(a, b, c, d), u),
        }
        return shapes[len(spec.args)]
    shapes = {
        1: lambda a: np.sum(u * prim(a)),
        2: lambda a, b: np.sum(u * prim(a, b)),
        3: lambda a, b, c: np.sum(u * prim(a, b, c)),
        4: lambda a, b, c, d: np.sum(u * prim(a, b, c, d)),
    }
    return shapes[len(spec.args)]


def _tuple_result(spec) -> bool:
    """A spec of a primitive with a tuple result, called through ``as_tuple``."""
    return getattr(spec.call, "__wrapped__", None) is spec.prim


def _float_result(y) -> bool:
    """A float array, or a tuple with a float array (or NumPy float) among its parts."""
    if isinstance(y, tuple):
        return any(_float_result(p) or isinstance(p, np.floating) for p in y)
    return isinstance(y, np.ndarray) and y.dtype.kind == "f"


def _second_order_specs(per_primitive: int = 2):
    """The rule tables' specs of array-valued primitives (also tuples of arrays), at most
    ``per_primitive`` of each (the first-order sweeps take every spec)."""
    out, taken = [], {}
    for spec in SPECS:
        if (spec.call is not None and not _tuple_result(spec)) or isinstance(spec.prim, str):
            continue
        if not 1 <= len(spec.args) <= 4:
            continue
        if any(isinstance(a, (list, tuple, dict)) for a in spec.args):
            continue  # containers: through the battery
        if "singular" in spec.label:
            continue  # first derivatives at singular matrices (their second are refused)
        arrays = [i for i in spec.positions() if isinstance(spec.args[i], np.ndarray)]
        if not arrays:
            continue
        try:
            y = spec.primal(*spec.args, **spec.kwargs)
        except (TypeError, ValueError):  # a call this NumPy does not take
            continue
        if not _float_result(y):
            continue
        key = spec.prim if not isinstance(spec.prim, np.ufunc) else ("ufunc", spec.prim.__name__)
        if taken.get(key, 0) < per_primitive:
            taken[key] = taken.get(key, 0) + 1
            out.append(spec)
    return out


SECOND = _second_order_specs()

# What the sweep refuses, and why: the one list of primitives without second derivatives.
# The helpers of forward rules are differentiated to second order by the rules of
# tests/rules/test_tangents.py; differentiating one of them again (a third derivative)
# needs a forward rule it does not have.
REFUSED_AT_SECOND_ORDER = {
    "autograd.graph_gradient": "a recorded graph's gradient: no forward rule",
    **dict.fromkeys(
        ["math.prod", "np.cov", "np.corrcoef"],
        "a gradient whose helper (rt.prod_entries_grads, cov_grads, corrcoef_grads) has no "
        "derivative rule: first order only",
    ),
    **dict.fromkeys(
        ["np.histogram", "np.histogram_bin_edges", "np.histogram2d"],
        "a gradient whose helpers (rt.histogram_grads, histogram2d_grads, histogram_tangent) "
        "have no derivative rule: first order only",
    ),
    **dict.fromkeys(
        [
            "arrays.prod_second",
            "sequences.cumprod_second",
            "contractions.matrix_power_second",
            "arrays.prod_third",
            "sequences.cumprod_third",
            "contractions.matrix_power_third",
            "sequences.digamma",
            "sequences.trigamma",
        ],
        "a helper of a forward rule: a third derivative",
    ),  # fmt: skip
}


@pytest.mark.parametrize("spec", SECOND, ids=ids(SECOND))
def test_hvp_of_every_rule_matches_differences_or_refuses(spec):
    rng = np.random.default_rng(7)
    y = spec.primal(*spec.args, **spec.kwargs)
    u = (
        [rng.standard_normal(np.shape(p)) for p in y]
        if isinstance(y, tuple)
        else rng.standard_normal(np.shape(y))
    )
    fn = _scalarized(spec, u)
    args = list(spec.args)
    wrt = tuple(i for i in spec.positions() if isinstance(args[i], np.ndarray))
    v = [rng.standard_normal(np.shape(a)) if i in wrt else None for i, a in enumerate(args)]
    try:
        hv = sd.hvp(fn, args, v)
    except sd.CompileError as error:  # mostly a primitive with no forward rule yet
        known = ("no forward rule", "no derivative rule", "a third derivative")
        assert any(k in str(error) for k in known), str(error)
        assert prim_name(spec.prim) in REFUSED_AT_SECOND_ORDER, str(error)
        return
    hv = list(hv) if len(args) > 1 else [hv]
    fd = _gradient_differences(fn, args, v, wrt)
    _assert_matches([hv[i] for i in wrt], fd, spec.id, rtol=1e-4)


def test_the_rule_sweep_compares_second_derivatives():
    """The sweep above is not vacuous: each of its cases compares, or fails unless its
    primitive is listed as refused, and most specs are of primitives not listed. (Counted
    from the specs, not from the cases a process ran, so that none runs the sweep twice.)"""
    compared = [s.id for s in SECOND if prim_name(s.prim) not in REFUSED_AT_SECOND_ORDER]
    assert len(compared) >= 355, f"only {len(compared)} of {len(SECOND)} compared"


# ---- the forward rules that came late, and the helpers forward rules call ---------------


@pytest.mark.parametrize(
    "fn, args", late.SECOND_ORDER_CASES, ids=map(late.case_id, late.SECOND_ORDER_CASES)
)
def test_hvp_through_late_forward_rules_and_helpers_matches_differences(fn, args):
    """What the sweep does not reach: einsum with ``...`` and implicit output, full SVDs,
    eigenvectors, every norm, cumulative products through zeros, negative matrix powers,
    interpolation outside and periodic, NaN-skipping extremes, special functions."""
    args = list(args)
    v = _directions(args, np.random.default_rng(11))
    hv = sd.hvp(fn, args, v)
    hv = list(hv) if len(args) > 1 else [hv]
    fd = _gradient_differences(fn, args, v, tuple(range(len(args))))
    for a, b in zip(fd[0], fd[1], strict=True):  # smooth here: the two steps agree
        assert np.max(np.abs(a - b), initial=0.0) <= 1e-3 * max(1.0, np.max(np.abs(fd[0][0])))
    _assert_matches(hv, fd, fn.__name__, rtol=1e-5)


def test_a_second_derivative_at_repeated_eigenvalues_is_refused():
    with pytest.raises(sd.CompileError, match="repeated eigenvalues"):
        sd.hvp(late.eigh_values_and_vectors, (np.eye(4),), (np.ones((4, 4)),))


_MIDDLE = np.array([[1.0, 2.0, 0.5], [0.3, -0.4, 0.2], [0.1, 0.2, 0.3]])


def multi_dot_chain(a, x):
    return np.sum(np.linalg.multi_dot([a * x, _MIDDLE, np.tanh(a), a * x]) ** 2)


def multi_dot_vectors(a, x):
    return np.linalg.multi_dot([x, a, _MIDDLE, np.sin(x)]) ** 2


@pytest.mark.parametrize("fn", [multi_dot_chain, multi_dot_vectors])
def test_second_derivatives_through_multi_dot_match_differences_of_the_gradient(fn):
    rng = np.random.default_rng(3)
    args = [rng.standard_normal((3, 3)), rng.standard_normal(3)]
    v = [rng.standard_normal((3, 3)), rng.standard_normal(3)]
    _assert_matches(list(sd.hvp(fn, args, v)), _gradient_differences(fn, args, v, (0, 1)),
                    fn.__name__, rtol=1e-6)  # fmt: skip
    hessian = sd.hessian(fn, wrt=1)(*args)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-12, atol=1e-12)


def dist_to_double(x):
    return math.dist(x, 2.0 * x)


def dist_to_half(x):
    return math.dist(x, x * 0.5)


def dist_of_parts(x):
    return math.dist(x[:1], 3.0 * x[1:2])


@pytest.mark.parametrize("fn", [dist_to_double, dist_to_half, dist_of_parts])
def test_second_derivatives_through_math_dist_of_arrays_match_differences_of_the_gradient(fn):
    """An array point's tangent is an array: its gradient through the tangent's helper
    came back a list (repeated by a product, or without a shape)."""
    rng = np.random.default_rng(5)
    args, v = [rng.standard_normal(3)], [rng.standard_normal(3)]
    _assert_matches([sd.hvp(fn, args, v)], _gradient_differences(fn, args, v, (0,)),
                    fn.__name__, rtol=1e-6)  # fmt: skip


def lambdas_binding_an_index_by_default(x):
    fs = [lambda v, k=k: v * x[k] for k in range(3)]
    return sum(f(x[(i + 1) % 3]) ** 2 for i, f in enumerate(fs))


def test_second_derivatives_through_lambdas_with_an_integer_default_match_differences():
    """The integer a lambda binds as its default (``k=k``) got a zero tangent, and the
    second derivative then refused it as an integer argument being differentiated."""
    fn = lambdas_binding_an_index_by_default
    rng = np.random.default_rng(6)
    args, v = [rng.standard_normal(3)], [rng.standard_normal(3)]
    fd = _gradient_differences(fn, args, v, (0,))
    _assert_matches([sd.hvp(fn, args, v)], fd, "hvp", rtol=1e-6)
    _assert_matches([sd.hessian(fn)(*args) @ v[0]], fd, "hessian", rtol=1e-6)


# ---- derivatives inside differentiated functions -------------------------------------


def loss(w, x):
    h = np.tanh(x @ w)
    for _ in range(3):
        h = h * w[0] + np.sin(h)
    if np.sum(h) > 0:
        h = h**2
    return np.mean(h**3) + np.sum(np.maximum(h, 0.1))


def squared_gradient(w, x):
    return np.sum(sd.grad(loss)(w, x) ** 2)


def value_and_gradient_mixed(w, x):
    value, g = sd.value_and_grad(loss, wrt=(0, 1))(w, x)
    return value * np.sum(g[0]) + np.sum(g[1] ** 2)


def directional(w, x):
    value, tangent = sd.jvp(loss, (w, x), (np.ones_like(w), x))
    return value + tangent**2


def helper_calls(w, x):
    return loss(w, x) * np.sum(w)


def _numeric_gradient(fn, args, wrt, eps=1e-6):
    args = list(args)
    x = args[wrt]
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[k] += eps
        minus[k] -= eps
        out[k] = (
            fn(*args[:wrt], plus, *args[wrt + 1 :]) - fn(*args[:wrt], minus, *args[wrt + 1 :])
        ) / (2 * eps)
    return out


W = np.array([0.3, 0.7])
X = np.linspace(-1.0, 1.0, 8).reshape(4, 2)


@pytest.mark.parametrize("fn", [squared_gradient, value_and_gradient_mixed, directional])
def test_a_derivative_inside_a_differentiated_function(fn):
    for wrt in (0, 1):
        got = sd.grad(fn, wrt=wrt)(W, X)
        want = _numeric_gradient(fn, (W, X), wrt)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * np.max(np.abs(want)))


def _scaled_sines(z, c):
    return np.sum(np.sin(z) * c)


def jvp_of_a_closure(w, x):
    value, tangent = sd.jvp(lambda z: loss(z, x * w[1]), (w,), (w,))
    return value * tangent


def jvp_of_a_nested_function(w, x):
    def inner(z):
        return loss(z, x) * w[0]

    return sd.jvp(inner, (w * 2.0,), (np.ones_like(w),))[1] ** 2


def jvp_of_a_partial(w, x):
    f = functools.partial(_scaled_sines, c=w**2)
    value, tangent = sd.jvp(f, (w * 1.0,), (np.ones_like(w),))
    return value * tangent + loss(w, x)


@pytest.mark.parametrize("fn", [jvp_of_a_closure, jvp_of_a_nested_function, jvp_of_a_partial])
def test_sd_jvp_of_a_function_reading_differentiated_values(fn):
    """The gradient of ``sd.jvp(f, ...)``'s results reached the primals and the tangents
    only: the values ``f`` reads from the function around it (bound in a partial) were
    taken for constants, without a word."""
    for wrt in (0, 1):
        got = sd.grad(fn, wrt=wrt)(W, X)
        for eps in (1e-6, 1e-5):
            want = _numeric_gradient(fn, (W, X), wrt, eps)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.max(np.abs(want)))


class Sines:
    """A callable object whose field a function may compute from differentiated values."""

    def __init__(self, c):
        self.c = c

    def __call__(self, z):
        return np.sum(np.sin(self.c * z))

    def cosines(self, z):
        return np.sum(np.cos(self.c * z) * z)


def jvp_of_an_object_built_inside(w, x):
    value, tangent = sd.jvp(Sines(w * 2.0), (w,), (w,))
    return value * tangent + np.sum(x)


def jvp_of_a_method_of_an_object_built_inside(w, x):
    value, tangent = sd.jvp(Sines(w * 2.0).cosines, (w,), (w,))
    return value * tangent + np.sum(x)


def jvp_of_an_object_given(x, m):
    value, tangent = sd.jvp(m, (x,), (x,))
    return value * tangent


@pytest.mark.parametrize("fn", [jvp_of_an_object_built_inside,
                                jvp_of_a_method_of_an_object_built_inside])  # fmt: skip
def test_sd_jvp_of_an_object_with_differentiated_fields(fn):
    """The pull-back of ``sd.jvp(obj, ...)`` gave the object no gradient: its fields' was
    lost, without a word."""
    got = sd.grad(fn)(W, X)
    for eps in (1e-6, 1e-5):
        np.testing.assert_allclose(got, _numeric_gradient(fn, (W, X), 0, eps), rtol=1e-5)


def test_sd_jvp_of_an_object_given_gives_its_fields_gradients():
    m = Sines(np.array([0.5, -1.5]))
    got = sd.grad(jvp_of_an_object_given, wrt=1)(W, m)
    want = _numeric_gradient(lambda x, c: jvp_of_an_object_given(x, Sines(c)), (W, m.c), 1)
    np.testing.assert_allclose(got.c, want, rtol=1e-5)


def hvp_of_an_object_built_inside(w, x):
    return np.sum(sd.hvp(Sines(w * 2.0), (w,), (w,)) ** 2) + np.sum(x)


def hvp_of_a_constant_object(w, x):
    return np.sum(sd.hvp(Sines(np.array([1.0, 2.0])), (w,), (w,)) ** 2) + np.sum(x)


def test_sd_hvp_of_an_object_with_differentiated_fields_is_refused():
    with pytest.raises(sd.CompileError, match="in the values it binds"):
        sd.grad(hvp_of_an_object_built_inside)(W, X)
    with pytest.raises(sd.CompileError, match="in the values it binds"):
        sd.jvp(hvp_of_an_object_built_inside, (W, X), (W, None))


def test_sd_hvp_of_an_object_with_constant_fields_is_differentiated():
    fn = hvp_of_a_constant_object
    got = sd.grad(fn)(W, X)
    np.testing.assert_allclose(got, _numeric_gradient(fn, (W, X), 0), rtol=1e-5)
    np.testing.assert_allclose(sd.jvp(fn, (W, X), (W, None))[1], got @ W, rtol=1e-6)


def hvp_of_a_closure(w, x):
    return np.sum(sd.hvp(lambda z: loss(z, x * w[1]), (w,), (w,)) ** 2)


def hvp_of_a_closure_over_a_constant(w, x):
    c = np.array([1.0, 2.0])
    return np.sum(sd.hvp(lambda z: np.sum(np.sin(z) * c) + loss(z, x), (w,), (w,)) ** 2)


def test_sd_hvp_of_a_function_reading_differentiated_values():
    """Its derivative in the values the function reads was lost, then refused; in reverse
    mode those values are primals held constant (their products left out), so it is
    computed; forward mode through it (refused before) takes those values as primals with
    their tangents: the tangent is the gradient along the direction."""
    grads = []
    for wrt in (0, 1):
        got = sd.grad(hvp_of_a_closure, wrt=wrt)(W, X)
        grads.append(got)
        for eps in (1e-6, 1e-5):
            want = _numeric_gradient(hvp_of_a_closure, (W, X), wrt, eps)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.max(np.abs(want)))
    tangent = sd.jvp(hvp_of_a_closure, (W, X), (W, X))[1]
    assert tangent == pytest.approx(np.sum(grads[0] * W) + np.sum(grads[1] * X), rel=1e-8)


def test_sd_hvp_of_a_function_reading_a_constant_is_differentiated():
    fn = hvp_of_a_closure_over_a_constant
    got = sd.grad(fn)(W, X)
    np.testing.assert_allclose(got, _numeric_gradient(fn, (W, X), 0), rtol=1e-5)
    tangent = sd.jvp(fn, (W, X), (W, None))[1]
    np.testing.assert_allclose(tangent, got @ W, rtol=1e-6)


def test_forward_mode_of_a_gradient_is_the_hessian_times_the_tangent():
    v = (np.array([1.0, -0.5]), np.zeros_like(X))
    g, hv = sd.jvp(sd.grad(loss), (W, X), v)
    np.testing.assert_allclose(g, sd.grad(loss)(W, X))
    np.testing.assert_allclose(hv, sd.hvp(loss, (W, X), v)[0], rtol=1e-12)


def test_hessian_is_symmetric_and_matches_differences_of_the_gradient():
    h = sd.hessian(loss)(W, X)
    assert h.shape == (2, 2)
    np.testing.assert_allclose(h, h.T, rtol=1e-10)
    columns = [_numeric_gradient(lambda w, k=k: sd.grad(loss)(w, X)[k], (W,), 0) for k in range(2)]
    np.testing.assert_allclose(h, np.array(columns), rtol=1e-6)
    hx = sd.hessian(loss, wrt=1)(W, X)
    assert hx.shape == (4, 2, 4, 2)


def test_hvp_through_a_helper_call_and_a_lambda():
    v = np.array([1.0, -0.5])
    fd = _gradient_differences(lambda w: helper_calls(w, X), [W], [v], (0,))
    _assert_matches([sd.hvp(lambda w: helper_calls(w, X), (W,), (v,))], fd, "helper")


def test_hvp_of_a_quadratic_is_exact():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    v = np.array([0.5, -1.0])
    np.testing.assert_allclose(sd.hvp(lambda x: x @ a @ x / 2.0, (W,), (v,)), a @ v)
    np.testing.assert_allclose(sd.hessian(lambda x: x @ a @ x / 2.0)(W), a)


# ---- refusals ----------------------------------------------------------------------------


def third(w, x):
    return np.sum(sd.grad(squared_gradient)(w, x))


def test_a_gradient_of_a_function_differentiating_a_gradient_is_a_third_derivative():
    for wrt in (0, 1):
        got = sd.grad(third, wrt=wrt)(W, X)
        want = _numeric_gradient(third, (W, X), wrt)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.max(np.abs(want)))


# ---- third derivatives -------------------------------------------------------------------


def _quartic(x):
    return x**4


def _sine_times(x):
    return np.sin(x) * x


def _exp_tanh(x):
    return np.exp(np.tanh(x))


def _branching(x):
    if x > 0.5:
        y = x**3 * np.cos(x)
    else:
        y = np.sin(2.0 * x) / (1.0 + x * x)
    return y


def _looping(x):
    s = x
    for k in range(3):
        s = s * np.tanh(x) + np.sin(s) / (k + 1.0)
    n = 0
    while n < 2:
        s = s + x * s
        n += 1
    return s


THIRD = [_quartic, _sine_times, _exp_tanh, _branching, _looping]


def _third_by_differences(f, x):
    """Central differences of ``sd.grad(sd.grad(f))``, at two step sizes."""
    second = sd.grad(sd.grad(f))
    return [(second(x + eps) - second(x - eps)) / (2 * eps) for eps in (1e-5, 1e-3)]


@pytest.mark.parametrize("f", THIRD, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("x", [0.3, 0.9, -0.7])
def test_a_third_derivative_matches_differences_of_the_second(f, x):
    got = sd.grad(sd.grad(sd.grad(f)))(x)
    fine, coarse = _third_by_differences(f, x)
    assert abs(fine - coarse) <= 1e-3 * max(1.0, abs(fine))  # smooth here
    assert abs(got - fine) <= 1e-6 * max(1.0, abs(fine)), (got, fine)
    assert isinstance(got, float)


def test_third_derivatives_in_closed_form():
    x = 0.7
    assert sd.grad(sd.grad(sd.grad(_quartic)))(x) == pytest.approx(24 * x, rel=1e-12)
    want = -np.cos(x) * x - 3 * np.sin(x)
    assert sd.grad(sd.grad(sd.grad(_sine_times)))(x) == pytest.approx(want, rel=1e-12)
    third_f32 = sd.grad(sd.grad(sd.grad(_quartic)))(np.float32(0.5))
    assert third_f32.dtype == np.float32 and third_f32 == pytest.approx(12.0)


def test_forward_modes_of_a_second_derivative_are_the_third():
    x = 0.4
    fine, _ = _third_by_differences(_looping, x)
    second = sd.grad(sd.grad(_looping))
    assert sd.jvp(second, (x,), (1.0,))[1] == pytest.approx(fine, rel=1e-6)
    assert sd.jacobian(second, mode="fwd")(x) == pytest.approx(fine, rel=1e-6)
    inner = lambda y: sd.jvp(sd.grad(_looping), (y,), (1.0,))[1]  # noqa: E731
    assert sd.grad(inner)(x) == pytest.approx(fine, rel=1e-6)


def _cubic_energy(v):
    return np.sum(np.sin(v) ** 3 * v[::-1])


def _gradient_size(v):
    return np.sum(sd.grad(_cubic_energy)(v) ** 2)


def test_the_hessian_of_a_function_calling_sd_grad_matches_differences():
    v = np.array([0.3, -0.8, 1.1])
    h = sd.hessian(_gradient_size)(v)
    columns = [_numeric_gradient(lambda w, k=k: sd.grad(_gradient_size)(w)[k], (v,), 0)
               for k in range(3)]  # fmt: skip
    np.testing.assert_allclose(h, np.array(columns), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)


def test_a_third_derivative_of_a_method_and_in_a_later_argument():
    class Spring:
        k = 2.0

        def energy(self, x):
            return self.k * x**4

    assert sd.grad(sd.grad(sd.grad(Spring().energy)))(0.7) == pytest.approx(48 * 0.7)
    f = lambda a, x: a * np.sin(x)  # noqa: E731
    got = sd.grad(sd.grad(sd.grad(f, wrt=1), wrt=1), wrt=1)(3.0, 0.7)
    assert got == pytest.approx(-3.0 * np.cos(0.7), rel=1e-12)


def _power(x, k):
    return x**k


def _power_of_both(x):
    return np.sum(np.array([x, 2.0 * x]) ** (x + 1.5))


def _product(x):
    return np.prod(np.array([x, x * x, 2.0 + x]))


def _product_method(x):
    return np.array([np.sin(x), x * x, 2.0 + x]).prod()


def _product_over_rows(x):
    rows = np.stack([np.array([x, x * x, 2.0 + x]), np.array([np.cos(x), x, 3.0 * x])])
    return np.sum(np.prod(rows, axis=1, keepdims=True) ** 2)


def _product_through_zero(x):
    return np.prod(np.array([x - 0.7, x, 2.0 + x]))  # (x - 0.7 is 0 at x = 0.7)


def _running_products(x):
    return np.sum(np.cumprod(np.array([x, x * x, 2.0 + x, np.sin(x)])) ** 2)


def _running_products_through_zero(x):
    rows = np.array([[x - 0.7, x, 2.0 + x], [x, x * x, 1.5]])
    return np.sum(np.cumprod(rows, axis=1) * np.array([1.0, -2.0, 0.5]))


def _matrix_cube(x):
    return np.sum(np.linalg.matrix_power(np.array([[x, 1.0], [x * x, 2.0]]), 3))


def _matrix_inverse_square(x):
    return np.sum(np.linalg.matrix_power(np.array([[2.0 + x, np.sin(x)], [x * x, 3.0]]), -2))


@pytest.mark.parametrize(
    "f",
    [_power_of_both, _product, _product_method, _product_over_rows, _product_through_zero,
     _running_products, _running_products_through_zero, _matrix_cube, _matrix_inverse_square],
)  # fmt: skip
@pytest.mark.parametrize("x", [0.7, 1.3])
def test_third_derivatives_through_powers_and_products(f, x):
    got = sd.grad(sd.grad(sd.grad(f)))(x)
    fine, coarse = _third_by_differences(f, x)
    assert abs(fine - coarse) <= 1e-3 * max(1.0, abs(fine))
    assert abs(got - fine) <= 1e-6 * max(1.0, abs(fine)), (got, fine)


def test_third_derivatives_of_a_variable_power_in_closed_form():
    x, k = 0.7, 3.5
    third = sd.grad(sd.grad(sd.grad(_power)))
    assert third(x, k) == pytest.approx(k * (k - 1) * (k - 2) * x ** (k - 3), rel=1e-12)
    assert third(x, 3) == pytest.approx(6.0, rel=1e-12)
    assert third(x, 2.0) == 0.0
    in_k = sd.grad(sd.grad(sd.grad(_power, wrt=1), wrt=1), wrt=1)
    assert in_k(x, k) == pytest.approx(x**k * np.log(x) ** 3, rel=1e-12)
    mixed = sd.grad(sd.grad(sd.grad(_power, wrt=1)))  # d^3 / dk dx dx
    want = x ** (k - 2) * ((2 * k - 1) + k * (k - 1) * np.log(x))
    assert mixed(x, k) == pytest.approx(want, rel=1e-12)
    assert third(np.float32(x), k).dtype == np.float32
    along = lambda f: lambda y: sd.jvp(f, (y,), (1.0,))[1]  # noqa: E731
    power = lambda z: _power(z, k)  # noqa: E731
    fourth = k * (k - 1) * (k - 2) * (k - 3) * x ** (k - 4)
    assert along(along(along(along(power))))(x) == pytest.approx(fourth, rel=1e-12)
    assert sd.grad(sd.grad(along(along(power))))(x) == pytest.approx(fourth, rel=1e-12)


def test_third_and_fourth_derivatives_of_products_in_closed_form_and_a_fifth_refused():
    """(x - 0.7) x (2 + x) has the third derivative 6, at its zero too, and the fourth 24
    (it was refused: rt.prod_third had no rules); a fifth derivative through a product
    is refused, naming the helper with no rule."""
    assert sd.grad(sd.grad(sd.grad(_product_through_zero)))(0.7) == pytest.approx(6.0)
    assert sd.grad(sd.grad(sd.grad(_product)))(0.7) == pytest.approx(24 * 0.7 + 12, rel=1e-12)
    along = lambda f: lambda y: sd.jvp(f, (y,), (1.0,))[1]  # noqa: E731
    third = along(along(along(_product)))  # (each order built on the one below)
    assert third(0.7) == pytest.approx(24 * 0.7 + 12, rel=1e-12)
    assert sd.grad(third)(0.7) == pytest.approx(24.0, rel=1e-12)
    assert along(along(along(along(_product_through_zero))))(0.7) == pytest.approx(0.0)
    with pytest.raises(sd.CompileError, match="no derivative rule for srcdiff's rt.prod_fourth"):
        along(along(third))(0.7)
    with pytest.raises(sd.CompileError, match="rule for srcdiff's rt.matrix_power_fourth"):
        sd.grad(along(along(along(along(_matrix_cube)))))(0.7)
    with pytest.raises(sd.CompileError, match="rule for srcdiff's rt.cumprod_fourth"):
        sd.grad(along(along(along(along(_running_products)))))(0.7)


def periodic(x, period):
    points, values = np.array([0.1, 0.5, 0.9]), np.array([1.0, -1.0, 2.0])
    return np.sum(np.interp(x, points, values, period=period) ** 2)


def test_a_helper_with_no_rule_in_forward_source_is_refused_clearly():
    """``np.interp``'s tangent in a differentiated period has no rule of its own."""
    with pytest.raises(sd.CompileError, match="rt.interp_tangent"):
        sd.hvp(periodic, (W, 1.5), (W, 1.0))
    v = np.array([1.0, -0.5])
    fd = _gradient_differences(lambda x: periodic(x, 1.5), [W], [v], (0,))
    _assert_matches([sd.hvp(periodic, (W, 1.5), (v, None))[0]], fd, "periodic")


def _cubes(x):
    return np.sum(x**3)


def _cube_times(x, y):
    return np.sum(x**3 * y)


GRAD_OF_CUBES = sd.grad(_cubes)  # gradient functions held in globals: rules by name
GRAD_OF_CUBE_TIMES = sd.grad(_cube_times, wrt=(0, 1))


def test_a_gradient_function_held_in_a_global_is_differentiated_again():
    def one(x):
        return np.sum(GRAD_OF_CUBES(x) ** 2)

    def two(x, y):
        a, b = GRAD_OF_CUBE_TIMES(x, y)
        return np.sum(a) + np.sum(b * b)

    x, y = np.array([0.5, -1.0, 2.0]), np.array([2.0, 0.3, -1.0])
    np.testing.assert_allclose(sd.grad(one)(x), 2 * 3 * x**2 * 6 * x)
    gx, gy = sd.grad(two, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, 6 * x * y + 6 * x**5)
    np.testing.assert_allclose(gy, 3 * x**2)
    assert sd.check_grad(one, x) and sd.check_grad(two, x, y, wrt=(0, 1))


def _star(*ws):
    total = np.sum(ws[0] * np.sin(ws[1]))
    for w in ws[2:]:
        total = total + np.sum(np.tanh(w * ws[0]))
    return total


def _named(a, b, c):
    return np.sum(a * np.sin(b)) + np.sum(np.tanh(c * a))


def test_second_derivatives_through_star_args_are_those_of_named_arguments():
    """A function taking its arguments through ``*ws``: its Hessian-vector products,
    Hessians and gradients of its forward mode are those of the same function with
    named arguments (each entry of ``*ws`` gets its own tangent and gradient)."""
    rng = np.random.default_rng(8)
    args = tuple(rng.standard_normal(3) for _ in range(3))
    for tangents in [(args[2], None, args[1]), (None, args[0], None), args]:
        for got, want in zip(
            sd.hvp(_star, args, tangents), sd.hvp(_named, args, tangents), strict=True
        ):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    for wrt in (0, 1, 2):
        np.testing.assert_allclose(
            sd.hessian(_star, wrt=wrt)(*args), sd.hessian(_named, wrt=wrt)(*args), rtol=1e-10
        )

    def squared_tangent(f):
        return lambda a, b, c: sd.jvp(f, (a, b, c), (b, c, a))[1] ** 2

    got = sd.grad(squared_tangent(_star), wrt=(0, 1, 2))(*args)
    want = sd.grad(squared_tangent(_named), wrt=(0, 1, 2))(*args)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10)
    fd = [_numeric_gradient(squared_tangent(_named), args, k) for k in range(3)]
    for g, w in zip(want, fd, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_a_transform_passed_straight_to_another_is_differentiated():
    """``sd.grad(sd.grad(f))`` and ``sd.jacobian(sd.grad(g))`` (api.md's nesting) were
    refused as "a derivative taken inside a differentiated function" in srcdiff's own
    ``__call__``; they are differentiated as calls of a derivative."""

    def cube(x):
        return x**3

    def total(x, w):
        return np.sum(w * x**3)

    assert sd.grad(sd.grad(cube))(1.5) == pytest.approx(6 * 1.5)
    x, w = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    np.testing.assert_allclose(sd.jacobian(sd.grad(total))(x, w), np.diag(6 * w * x))
    mixed = sd.jacobian(sd.grad(total, wrt=1))(x, w)  # d/dx of d/dw = x ** 3
    np.testing.assert_allclose(mixed, np.diag(3 * x**2))


# ---- transforms nested with keyword arguments, defaults, lambdas and methods ---------------


def _scaled(w, x, a=1.5):
    return np.sum(np.tanh(x @ w) ** 2) * a


def _scaled_keyword_only(w, x, *, a=1.5):
    return np.sum(np.tanh(x @ w) ** 2) * a


def _by_position(w, x):
    return np.sum(sd.grad(_scaled)(w, x, 2.5) ** 2)


def _by_keyword(w, x):
    return np.sum(sd.grad(_scaled)(w, x=x, a=2.5) ** 2)


def _keyword_only(w, x):
    return np.sum(sd.grad(_scaled_keyword_only)(w, x, a=2.5) ** 2)


@pytest.mark.parametrize("fn", [_by_keyword, _keyword_only], ids=["keyword", "keyword-only"])
def test_an_inner_gradient_called_with_keyword_arguments(fn):
    """``sd.grad(loss)(w, x=x)`` inside a differentiated function: its rule takes the
    call's keyword arguments (it crashed with a TypeError in srcdiff's rule)."""
    x = X[:, :2]
    got = sd.grad(fn)(W, x)
    np.testing.assert_allclose(got, sd.grad(_by_position)(W, x), rtol=1e-12)
    np.testing.assert_allclose(got, _numeric_gradient(fn, (W, x), 0), rtol=1e-6)


def _given_by_keyword(w, x):
    return np.sum(sd.grad(_scaled)(w, x, a=w[0]) ** 2)


def _given_by_position(w, x):
    return np.sum(sd.grad(_scaled)(w, x, w[0]) ** 2)


def _skipping_a_default(w, x):
    return np.sum(sd.grad(_scaled)(w, a=w[0], x=x) ** 2)


@pytest.mark.parametrize("fn", [_given_by_keyword, _skipping_a_default])
def test_an_inner_gradient_given_a_differentiated_value_by_keyword(fn):
    """``sd.grad(f)(w, x, a=w[0])``, a derivative through ``a``: refused (the rule of
    sd.grad(f) gives positional arguments' gradients), though ``f(w, x, w[0])`` is the
    same call, which srcdiff now makes; in every mode."""
    x = X[:, :2]
    np.testing.assert_allclose(sd.grad(fn)(W, x), sd.grad(_given_by_position)(W, x), rtol=1e-12)
    np.testing.assert_allclose(sd.grad(fn)(W, x), _numeric_gradient(fn, (W, x), 0), rtol=1e-6)
    v = np.ones_like(W)
    np.testing.assert_allclose(
        sd.jvp(fn, (W, x), (v, None))[1], sd.jvp(_given_by_position, (W, x), (v, None))[1]
    )
    np.testing.assert_allclose(sd.hvp(fn, (W, x), (v, None))[0],
                               sd.hvp(_given_by_position, (W, x), (v, None))[0])  # fmt: skip


def test_an_inner_gradient_given_a_differentiated_value_by_keyword_only():
    """It was refused (the rule of sd.grad(f) gives positional arguments' gradients): the
    call is that of sd.grad of a function taking ``a`` by position and passing it on."""

    def outer(w, x):
        return np.sum(sd.grad(_scaled_keyword_only)(w, x, a=w[0]) ** 2)

    x = X[:, :2]
    np.testing.assert_allclose(sd.grad(outer)(W, x), sd.grad(_given_by_position)(W, x),
                               rtol=1e-12)  # fmt: skip

    def both(w, x):  # x moves to its position, and a to the one after it
        return np.sum(sd.grad(_scaled_keyword_only)(w, x=x * w[1], a=w[0]) ** 2)

    v = np.ones_like(W)
    tangent = sd.jvp(both, (W, x), (v, None))[1]
    assert tangent == pytest.approx(np.sum(_numeric_gradient(both, (W, x), 0) * v), rel=1e-6)


class _Cubic:
    def __init__(self):
        self.k = 2.0

    def s(self, t):
        return self.k * t**3

    def total(self, x):
        return np.sum(self.k * x**3)


def _with_default(t, a=2.0):
    return t**4 * a


def _keyword_only_default(t, *, a=2.0):
    return t**4 * a


def _positional_only(t, /, a=2.0):
    return t**4 * a


NESTED = [  # (name, the nested transform, its arguments, the closed-form value)
    ("lambda", lambda: sd.grad(sd.grad(lambda t: t**4)), (0.5,), 12 * 0.5**2),
    ("default", lambda: sd.grad(sd.grad(_with_default)), (0.5,), 24 * 0.5**2),
    ("keyword-only", lambda: sd.grad(sd.grad(_keyword_only_default)), (0.5,), 24 * 0.5**2),
    ("positional-only", lambda: sd.grad(sd.grad(_positional_only)), (0.5, 3.0), 36 * 0.5**2),
    ("method", lambda: sd.grad(sd.grad(_Cubic().s)), (1.5,), 12 * 1.5),
    ("jacobian-lambda", lambda: sd.jacobian(sd.grad(lambda x: np.sum(x**3))), (W,), np.diag(6 * W)),
    ("jacobian-method", lambda: sd.jacobian(sd.grad(_Cubic().total)), (W,), np.diag(12 * W)),
]


@pytest.mark.parametrize("make, args, want", [c[1:] for c in NESTED], ids=[c[0] for c in NESTED])
def test_a_nested_transform_keeps_the_callee_s_signature(make, args, want):
    """``sd.grad(sd.grad(f))`` of a lambda (no valid name), of a function with defaults
    or keyword-only parameters, of a bound method (``self`` not an argument)."""
    np.testing.assert_allclose(make()(*args), want, rtol=1e-12)


def test_nested_transforms_and_hessian_take_keyword_arguments():
    def f(x, a=2.0):
        return np.sum(np.sin(x) * x**3) * a

    def closed_form(x, a):
        return np.diag(a * (6 * x * np.sin(x) + 6 * x**2 * np.cos(x) - x**3 * np.sin(x)))

    want = closed_form(W, 3.0)
    np.testing.assert_allclose(sd.jacobian(sd.grad(f))(W, a=3.0), want, rtol=1e-12)
    np.testing.assert_allclose(sd.jacobian(sd.grad(f), mode="fwd")(W, a=3.0), want, rtol=1e-12)
    np.testing.assert_allclose(sd.hessian(f)(W, a=3.0), want, rtol=1e-12)
    np.testing.assert_allclose(sd.hessian(f)(W), closed_form(W, 2.0), rtol=1e-12)


@pytest.mark.parametrize("wrt", [(0, 1), -1, 1.0, True])
def test_hessian_takes_one_position_or_name(wrt):
    with pytest.raises(TypeError, match="hessian: wrt must be the position or the name"):
        sd.hessian(loss, wrt=wrt)
    with pytest.raises(ValueError, match="loss has no argument named 'z'"):
        sd.hessian(loss, wrt="z")


def _scaled_loss(w, x, *, k=2.0):
    return np.sum(np.tanh(x @ w) ** 2) * k + np.sum(w**3 * x[0]) * k**3


def test_hessian_and_jacobian_take_argument_names_as_grad_does():
    """``wrt`` names an argument as ``sd.grad``'s does: passed by position or by keyword,
    a keyword-only one too."""
    w, x, k = W[:2], np.array([[0.2, 0.7], [1.0, -0.3]]), np.array(1.5)
    h_w, h_x = sd.hessian(_scaled_loss)(w, x), sd.hessian(_scaled_loss, wrt=1)(w, x)
    for call in [lambda f: f(w, x), lambda f: f(w, x=x), lambda f: f(w=w, x=x)]:
        np.testing.assert_allclose(call(sd.hessian(_scaled_loss, wrt="w")), h_w, rtol=1e-12)
        np.testing.assert_allclose(call(sd.hessian(_scaled_loss, wrt="x")), h_x, rtol=1e-12)
        for mode in ("rev", "fwd", None):
            jacobian = sd.jacobian(sd.grad(_scaled_loss), wrt="w", mode=mode)
            np.testing.assert_allclose(call(jacobian), h_w, rtol=1e-12)
            both = sd.jacobian(sd.grad(_scaled_loss, wrt="w"), wrt=("w", "x"), mode=mode)
            np.testing.assert_allclose(call(both)[1], sd.jacobian(
                sd.grad(_scaled_loss), wrt=1, mode=mode)(w, x), rtol=1e-12)  # fmt: skip
    in_k = sd.hessian(_scaled_loss, wrt="k")(w, x, k=k)
    assert in_k == pytest.approx(6 * k * np.sum(w**3 * x[0]), rel=1e-12)
    slope = sd.jacobian(lambda v, *, k: np.sum(w**3 * x[0]) * k**3 * v, wrt="k")(2.0, k=k)
    assert slope == pytest.approx(6 * k**2 * np.sum(w**3 * x[0]), rel=1e-12)
    with pytest.raises(TypeError, match="with respect to x, which the call does not pass"):
        sd.hessian(_scaled_loss, wrt="x")(w)


def test_hessian_of_an_argument_not_passed_by_position_is_refused_clearly():
    with pytest.raises(TypeError, match="pass the differentiated arguments by position"):
        sd.hessian(loss, wrt=1)(W, x=X)


def test_forward_mode_through_an_inner_gradient_called_with_keywords():
    """The inner gradient is taken at ``a=3.0``, not at its default (silently, before)."""

    def quartic(w, a=2.0):
        return np.sum(w**4) * a

    def outer(w):
        return np.sum(sd.grad(quartic)(w, a=3.0))

    w = np.array([0.3, 0.8])
    got = sd.jvp(outer, (w,), (np.ones(2),))[1]
    np.testing.assert_allclose(got, np.sum(36 * w**2), rtol=1e-10)


def _cubed_scale(w, a=2.0, *, b=2.0):
    return np.sum(np.sin(w) * a**3 * b)


@pytest.mark.parametrize(
    "inner, a",
    [
        (lambda w: sd.grad(_cubed_scale, wrt="a")(w, a=1.5), 1.5),  # by keyword
        (lambda w: sd.grad(_cubed_scale, wrt=1)(w), 2.0),  # left to its default
        (lambda w: sd.grad(_cubed_scale, wrt="b")(w, b=1.5) * 3.0, 2.0),  # a^3 cos w, keyword-only
    ],
    ids=["keyword", "default", "keyword-only"],
)
def test_an_inner_gradient_in_an_argument_not_passed_by_position(inner, a):
    """d/dw of d/da of ``sin(w) a^3 b`` is ``3 a^2 b cos(w)``: the inner gradient's own
    argument passed by keyword, or left to its default (refused before)."""
    np.testing.assert_allclose(sd.grad(inner)(W), 3 * a**2 * 2.0 * np.cos(W), rtol=1e-12)


def test_forward_mode_through_a_pullback():
    """``sd.jvp`` of a function calling ``sd.vjp`` (refused before): the pull-back of 1 is
    the derivative of ``t^3 sin t``, whose tangent is its second derivative; a third
    derivative through the pull-back (refused before) is the fourth of ``t^3 sin t``, and
    a fourth (refused before: the forward mode of the pull-back's call took the partial
    as an argument) is its fifth."""

    def pull(v):
        out, back = sd.vjp(lambda t: np.sin(t) * t**3, v)
        return back(1.0)[0]

    t = 0.7
    second = -(t**3) * np.sin(t) + 6 * t**2 * np.cos(t) + 6 * t * np.sin(t)
    assert sd.jvp(pull, (t,), (1.0,))[1] == pytest.approx(second, rel=1e-12)
    third = -9 * t**2 * np.sin(t) - t**3 * np.cos(t) + 18 * t * np.cos(t) + 6 * np.sin(t)
    of_pull = sd.grad(sd.grad(pull))  # (each order built on the one below)
    assert of_pull(t) == pytest.approx(third, rel=1e-12)
    fourth = 24 * np.cos(t) - 36 * t * np.sin(t) - 12 * t**2 * np.cos(t) + t**3 * np.sin(t)
    of_pull = sd.grad(of_pull)
    assert of_pull(t) == pytest.approx(fourth, rel=1e-12)
    fifth = t**3 * np.cos(t) + 15 * t**2 * np.sin(t) - 60 * t * np.cos(t) - 60 * np.sin(t)
    assert sd.grad(of_pull)(t) == pytest.approx(fifth, rel=1e-10)


# ---- second derivatives through objects, partials, entries and makers ---------------------


@dataclasses.dataclass
class _Point:
    w: np.ndarray
    s: float = 1.0


class _Scaled:
    def __init__(self, w, scale):
        self.w = w * scale
        self.b = np.sum(w)


def _mul(a, b, c=1.0):
    return a * np.sin(b) * c


def _dataclass_fields(x):
    p = _Point(x)
    return np.sum(np.sin(p.w) * p.w)


def _dataclass_by_keyword(x):
    p = _Point(w=x, s=x[1])
    return np.sum(np.sin(p.w) * p.w) * p.s


def _plain_object(x):
    q = _Scaled(x, 2.0)
    return np.sum(q.w**2 * q.b)


def _partial_built_inside(x):
    g = functools.partial(_mul, x[0])
    return np.sum(g(x) ** 2)


def _partial_with_a_keyword(x):
    g = functools.partial(_mul, c=x[1])
    return np.sum(g(x[0], x) ** 2)


def _partial_called_with_keywords(x):
    g = functools.partial(_mul, x[0], c=x[1])
    return np.sum(g(b=x, c=x[2]) ** 2)  # its own c overridden


def _apply(f, x):
    return f(x)


def _constant_partial_passed_on(x):
    return np.sum(_apply(functools.partial(_mul, 2.0), x) ** 2)


def _partial_passed_on(x):
    g = functools.partial(_mul, x[0])
    return np.sum(_apply(g, x) ** 2)


def _function_held_in_a_list(x):
    fs = [np.tanh, x]
    return np.sum(fs[0](x) * x)


def _items(x):
    m = np.outer(x, x)
    return x.item(2) ** 3 + m.item(1, 2) ** 2 + m.item(5) * np.sum(x**2)


def _full_like(x):
    return np.sum(np.full_like(x, 2.0) * x**2) + np.sum(np.full_like(x, x[0], shape=(2, 3)) @ x)


def _arange_to_a_computed_stop(x):
    return np.sum(np.arange(x[0], x[0] + 3.0, 1.0) * x**2) + np.sum(np.arange(x[2] + 1.5)) * x[1]


def _list_pop(x):
    xs = [x, x**2, x * 3]
    v = xs.pop(1)
    return np.sum(xs[0] * v)


def _dict_pop(x):
    d = {"a": x, "b": np.cos(x)}
    v = d.pop("b")
    return np.sum(d["a"] * v)


def _powered(x, k, p=2.0):
    return np.sum(np.sin(x * k) ** p)


def _partial_called_twice(x):
    """Its tangent's adjoints from the two calls were joined as lists, not added."""
    g = functools.partial(_powered, x)
    return g(x[1]) + g(x[2])


def _partial_called_with_a_keyword_named_p(x):
    """``p=3.0`` clashed with the name of the generated caller's own parameter."""
    return functools.partial(_powered, x)(2.0, p=3.0)


SECOND_ORDER_OF_HELPERS = [
    _partial_called_twice,
    _partial_called_with_a_keyword_named_p,
    _dataclass_fields,
    _dataclass_by_keyword,
    _plain_object,
    _partial_built_inside,
    _partial_with_a_keyword,
    _partial_called_with_keywords,
    _constant_partial_passed_on,
    _function_held_in_a_list,
    _items,
    _full_like,
    _arange_to_a_computed_stop,
    # compiler/inplace.py takes rt.pop_value for a function updating its argument (its
    # fallback calls another object's own pop) and calls it through rt.returning
    _list_pop,
    _dict_pop,
]
POINT = np.array([0.3, -0.5, 1.2])


@pytest.mark.parametrize("fn", SECOND_ORDER_OF_HELPERS)
def test_second_derivatives_through_fields_partials_items_and_makers(fn):
    """``sd.hessian``, ``sd.hvp`` and a gradient of a gradient, where first order worked
    and second order was refused, against differences of the gradient."""
    grad = sd.grad(fn)
    columns = [_numeric_gradient(lambda x, k=k: grad(x)[k], (POINT,), 0) for k in range(3)]
    want = np.array(columns)
    np.testing.assert_allclose(sd.hessian(fn)(POINT), want, rtol=1e-6, atol=1e-8)
    v = np.array([1.0, -0.5, 2.0])
    np.testing.assert_allclose(sd.hvp(fn, (POINT,), (v,)), want @ v, rtol=1e-6, atol=1e-8)
    squared = sd.grad(lambda x: np.sum(sd.grad(fn)(x) ** 2))(POINT)
    np.testing.assert_allclose(squared, 2 * want @ grad(POINT), rtol=1e-6, atol=1e-8)


def test_a_second_derivative_through_a_partial_passed_on_is_refused_clearly():
    """Its pull-back would hand its gradient back as a partial (crashed in grad_like)."""
    line = _partial_passed_on.__code__.co_firstlineno + 2
    with pytest.raises(
        sd.CompileError, match=rf"functools.partial passed to a function.*:{line}\)"
    ):
        sd.hessian(_partial_passed_on)(POINT)
    want = _numeric_gradient(_partial_passed_on, (POINT,), 0)
    np.testing.assert_allclose(sd.grad(_partial_passed_on)(POINT), want, rtol=1e-6)


class _Cubed:
    """A callable object and a method holding an array: its field has no tangent in
    forward mode along ``x``, but a derivative of that forward mode reaches it."""

    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return np.sum(self.w * x**3)

    def apply(self, x):
        return np.sum(self.w * x**3)


def _by_call(x, w):
    return _Cubed(w)(x)


def _by_method(x, w):
    return _Cubed(w).apply(x)


def _by_method_keyword(x, w):
    return _Cubed(w).apply(x=x)


@pytest.mark.parametrize("fn", [_by_call, _by_method, _by_method_keyword])
def test_second_derivatives_reach_the_fields_of_an_object_called(fn):
    """The Hessian in ``x`` of a function calling an object made of ``w``, and ``H v``
    in both arguments with ``w`` held (it crashed, was refused, or gave ``w`` zero)."""
    x, w = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    assert np.allclose(sd.hessian(fn)(x, w), np.diag(6 * w * x))
    assert np.allclose(sd.hessian(lambda a: fn(a, w))(x), np.diag(6 * w * x))
    d_x, d_w = sd.hvp(fn, (x, w), (np.ones(2), None))
    assert np.allclose(d_x, 6 * w * x) and np.allclose(d_w, 3 * x**2)


def _doubled_where_flagged(x, flags):
    y = x**3
    for v in flags.values():
        if v:
            y = y * 2.0
    return np.sum(y)


def test_a_dict_of_flags_beside_the_argument_differentiated_twice():
    """A dict of booleans was taken for an argument to differentiate at second order,
    and refused as an integer argument, in words naming srcdiff's own function."""
    x = np.array([0.5, -1.0])
    assert np.allclose(sd.hessian(_doubled_where_flagged)(x, {"a": True}), np.diag(12 * x))


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_a_derivative_of_a_hessian_is_the_third_derivative(mode):
    """It was refused as a third derivative: a Hessian's rules are those of
    ``sd.jacobian(sd.grad(f))``, which follow derivatives to the third order."""

    def f(x):
        return np.sum(np.sin(x) * x**2)

    x = np.array([0.3, -0.7, 1.1])
    third = 6 * np.cos(x) - 6 * x * np.sin(x) - x**2 * np.cos(x)  # of x**2 sin(x)
    want = np.zeros((3, 3, 3))
    want[range(3), range(3), range(3)] = third
    np.testing.assert_allclose(sd.jacobian(sd.hessian(f), mode=mode)(x), want, atol=1e-12)


def test_a_second_derivative_of_a_function_calling_sd_jvp_is_a_third():
    """``sd.hvp`` of a function that calls ``sd.jvp(fn)(...)`` crashed (a ValueError
    about ``jn_called``'s arguments); it is a third derivative of ``jn``, refused."""

    def f(x, y):
        def jn(t):
            return t + np.sin(t)

        v, t = sd.jvp(jn)((np.sum(x),), (y,))
        return t * v

    with pytest.raises(sd.CompileError, match="a third derivative"):
        sd.hvp(f, (np.array([0.1, 0.2]), 0.7), (np.ones(2), 1.0))


def _partial_sum_then_write(M, s):
    p = functools.partial(np.sum, axis=0)
    v = p(M * s)
    v[0] += s
    return np.sum(v**2)


def test_a_partial_of_a_numpy_function_with_out_is_differentiated_twice():
    """``partial(np.sum, axis=0)`` passes ``out=None`` on: forward mode took it for an
    array written into (a TypeError in hvp and hessian)."""
    M = np.array([[0.5, -0.2, 0.9], [0.1, 0.7, -0.4]])
    s, eps = 0.7, 1e-5
    got = sd.hvp(_partial_sum_then_write, (M, s), (np.ones_like(M), 1.0))
    g = sd.grad(_partial_sum_then_write, wrt=(0, 1))
    ahead, behind = g(M + eps, s + eps), g(M - eps, s - eps)
    for h, a, b in zip(got, ahead, behind, strict=True):
        np.testing.assert_allclose(h, (a - b) / (2 * eps), rtol=1e-7, atol=1e-8)
    assert sd.hessian(_partial_sum_then_write, 0)(M, s).shape == (2, 3, 2, 3)


def _three_way(a, b, c=1.0):
    return np.sum(np.tanh(a) * b) * c


def _star_call_and_partial_of_a_global(x):
    pair = (x[0], x[1])
    first = _three_way(*pair)
    bound = functools.partial(_three_way, x[:2])
    return first + bound(x[1:])


def test_a_global_function_a_rule_reads_is_not_saved_under_its_name():
    """A star call of a global function saved it for the adjoint, whose load made its
    name local there: the adjoint's read of it for the partial, before that load, failed
    (UnboundLocalError in hvp)."""
    x, t, eps = np.array([0.3, -0.5, 0.8]), np.array([1.0, 0.5, -0.25]), 1e-5
    got = sd.hvp(_star_call_and_partial_of_a_global, (x,), (t,))
    g = sd.grad(_star_call_and_partial_of_a_global)
    np.testing.assert_allclose(got, (g(x + eps * t) - g(x - eps * t)) / (2 * eps), rtol=1e-7)


@pytest.mark.parametrize("fn", [higher_with.log_squared, higher_with.tracked_loop],
                         ids=lambda f: f.__name__)  # fmt: skip
def test_second_derivatives_through_with_blocks(fn):
    # the forward-mode program enters and leaves the managers as the function does
    x = np.array([0.3, 1.2])
    h = 1e-5
    columns = [(sd.grad(fn)(x + h * e) - sd.grad(fn)(x - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(sd.hessian(fn)(x), np.array(columns), rtol=1e-6, atol=1e-8)
    grad_of_grad = sd.grad(lambda z: np.sum(sd.grad(fn)(z)))(x)
    np.testing.assert_allclose(grad_of_grad, np.sum(columns, axis=0), rtol=1e-6, atol=1e-8)


def test_an_exception_through_a_with_block_of_a_second_derivative_leaves_its_managers():
    higher_with.LOG.clear()
    with pytest.raises(ValueError, match="too large"):
        sd.hessian(higher_with.tracked_loop)(np.array([1.5, 1.6]))
    assert higher_with.LOG.count("enter") == higher_with.LOG.count("exit") > 0


def test_second_derivatives_of_a_zeroth_power_at_zero_are_zero():
    """``x ** 0`` is the constant 1: its second derivative at ``x = 0`` was ``0 * inf``,
    a NaN (the polynomial features ``x ** k`` for ``k in range(n)`` meet it)."""
    c = np.array([1.0, 2.0, 3.0, 4.0])

    def poly(x):
        s = 0.0
        for k in range(4):
            s = s + c[k] * x**k
        return np.sum(s)

    x = np.array([0.0, 0.5])
    np.testing.assert_allclose(sd.hessian(poly)(x), np.diag([6.0, 18.0]))
    assert sd.grad(sd.grad(lambda x, k: x**k))(0.0, 0) == 0.0
    np.testing.assert_allclose(sd.hessian(lambda x: np.sum(x**0 * x))(x), np.zeros((2, 2)))


def test_a_function_reading_some_entries_of_an_inner_gradient_is_differentiated():
    """The adjoint of an inner gradient of a dict or list has no entry for what the code
    never read: those are zeros (the generated tangent code indexed a missing key)."""
    P = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}

    def f(p):
        return np.sum(p["a"] ** 2 * p["b"])

    def meta(p):
        return np.sum(sd.grad(f)(p)["a"])  # 2 a b: its gradient is (2 b, 2 a)

    got = sd.grad(meta)(P)
    np.testing.assert_allclose(got["a"], 2 * P["b"])
    np.testing.assert_allclose(got["b"], 2 * P["a"])

    def fl(p):
        return np.sum(p[0] ** 2 * p[1])

    def meta_list(p):
        return np.sum(sd.grad(fl)(p)[0])

    got = sd.grad(meta_list)([P["a"], P["b"]])
    np.testing.assert_allclose(got[0], 2 * P["b"])
    np.testing.assert_allclose(got[1], 2 * P["a"])


_Pair = collections.namedtuple("_Pair", "a b")


def test_a_function_reading_a_field_of_an_inner_gradient_of_a_named_tuple_is_differentiated():
    """An inner gradient of a named tuple is one: its adjoint, completed with zeros, is
    made one again for the tangents that read its fields (it was a list)."""
    p = _Pair(np.array([1.0, 2.0]), np.array([3.0, 4.0]))

    def f(p):
        return np.sum(p.a**2 * p.b)

    def meta(p):
        return np.sum(sd.grad(f)(p).a)  # 2 a b

    got = sd.grad(meta)(p)
    assert isinstance(got, _Pair)
    np.testing.assert_allclose(got.a, 2 * p.b)
    np.testing.assert_allclose(got.b, 2 * p.a)


def _sine_times_through(s, m=np):
    return m.sin(s) * s


def test_a_third_derivative_of_a_function_given_a_module():
    """A parameter holding a module (``m=np``, code written for several array modules):
    the check of a rule's gradients took ``np.shape``, the module's function, for the
    argument's shape, and crashed."""
    third = sd.grad(sd.grad(sd.grad(_sine_times_through)))(0.3)
    assert third == pytest.approx(-3 * np.sin(0.3) - 0.3 * np.cos(0.3), rel=1e-12)


def _sinc_sum(x):
    return np.sum(np.sinc(x))


def _sinc_at(t):
    return np.sinc(t)


def test_the_second_and_third_derivatives_of_sinc_near_zero_are_right():
    """``np.sinc``'s slope was written ``(cos(pi x) - sinc(x)) / x``, and 0 at 0: its own
    derivative, in ``sd.hessian`` and ``sd.grad(sd.grad(...))``, was 0 at 0 and -pi^2 at
    1e-9, where ``sinc'' = -pi^2 / 3`` (the two terms cancel to nothing there)."""
    x = np.array([0.0, 1e-9, 0.5, -1.3])

    def second(v: float, h: float) -> float:
        return (np.sinc(v + h) - 2 * np.sinc(v) + np.sinc(v - h)) / h**2

    hessian = sd.hessian(_sinc_sum)(x)
    for i, v in enumerate(x):
        assert abs(second(v, 1e-3) - second(v, 2e-3)) < 1e-4  # smooth there
        assert hessian[i, i] == pytest.approx(second(v, 1e-3), abs=1e-5)
        assert sd.grad(sd.grad(_sinc_at))(float(v)) == pytest.approx(second(v, 1e-3), abs=1e-5)
        h = 1e-3
        third = (second(v + h, 1e-3) - second(v - h, 1e-3)) / (2 * h)
        assert sd.grad(sd.grad(sd.grad(_sinc_at)))(float(v)) == pytest.approx(third, abs=1e-3)
    np.testing.assert_array_equal(hessian, np.diag(np.diag(hessian)))


def _trapezoid_squared(y, x, dx):
    return np.sum(np.trapezoid(y, x, dx, 0) ** 2)


def test_a_second_derivative_through_trapezoid_with_both_x_and_dx_runs():
    """``np.trapezoid(y, x, dx)`` ignores ``dx`` beside ``x``; its rule gave ``dx`` no
    gradient (None), and reverse mode over forward mode, adding two such, raised a
    TypeError (None + None) inside the generated adjoint."""
    y = np.random.default_rng(0).standard_normal((4, 3))
    x = np.array([[0.0], [0.4], [1.1], [1.5]])
    v = (np.ones_like(y), np.full_like(x, 0.5))
    hy, hx, hdx = sd.hvp(_trapezoid_squared, (y, x, 1.0), (*v, 1.0))
    assert hdx == 0.0
    gradient = sd.grad(_trapezoid_squared, wrt=(0, 1))
    h = 1e-5
    plus, minus = (
        gradient(y + h * v[0], x + h * v[1], 1.0),
        gradient(y - h * v[0], x - h * v[1], 1.0),
    )
    np.testing.assert_allclose(hy, (plus[0] - minus[0]) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hx, (plus[1] - minus[1]) / (2 * h), rtol=1e-6, atol=1e-8)


def _two_arguments(x, y):
    return np.sum(np.tanh(x * y) ** 2) + np.sum(x**3) * 0.1


def _calls_hvp_of_two(x, y):
    return np.sum(sd.hvp(_two_arguments, (x, y), (y, None))[0] * x)


def test_a_derivative_of_a_function_calling_hvp_in_two_primals_is_right():
    """``sd.hvp`` of two primals gives a tuple; reverse mode over forward mode added two
    adjoints of it with ``+``, joining the tuples (four entries for two primals), and its
    rule refused them with a ValueError from inside srcdiff."""
    x, y = np.array([0.3, -0.7, 0.5]), np.array([0.9, 0.4, -0.2])
    hx, hy = sd.hvp(_calls_hvp_of_two, (x, y), (y, x))
    gradient = sd.grad(_calls_hvp_of_two, wrt=(0, 1))
    h = 1e-5
    plus, minus = gradient(x + h * y, y + h * x), gradient(x - h * y, y - h * x)
    np.testing.assert_allclose(hx, (plus[0] - minus[0]) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hy, (plus[1] - minus[1]) / (2 * h), rtol=1e-6, atol=1e-8)


def _curved(x, y):
    return np.sum(np.sin(x) * y**2) + np.sum(x**3 * y)


def _calls_hessian_in_x(x, y):
    return np.sum(sd.hessian(_curved)(x, y) * y)


def _calls_jacobian_in_y(x, y):
    return np.sum(sd.jacobian(_curved, wrt=1)(x, y) * x)


@pytest.mark.parametrize("g", [_calls_hessian_in_x, _calls_jacobian_in_y])
def test_a_second_derivative_along_some_arguments_of_a_transform_call_is_right(g):
    """A second derivative of ``g(x, y)`` calling ``sd.hessian`` (or ``sd.jacobian``),
    taken along one argument only: the transform's rule gives None for the other, which
    the adjoint added with ``+`` (``TypeError: float + None``); None adds nothing."""
    x, y, v = np.array([0.3, 0.7]), np.array([0.5, 1.1]), np.array([0.2, -0.4])
    for wrt, tangents in ((0, (v, None)), (1, (None, v))):
        hv = sd.hvp(g, (x, y), tangents)[wrt]
        hessian = sd.hessian(g, wrt=wrt)(x, y)
        gradient = sd.grad(g, wrt=wrt)
        for h in (1e-5, 1e-4):
            moved = [(x + s * h * v, y) if wrt == 0 else (x, y + s * h * v) for s in (1, -1)]
            fd = (gradient(*moved[0]) - gradient(*moved[1])) / (2 * h)
            np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(hessian @ v, fd, rtol=1e-6, atol=1e-8)


class _Weighted:
    """A method holding an array, whose Jacobian a function takes."""

    def __init__(self, w):
        self.w = w

    def f(self, x):
        return np.sin(x) * self.w * x**2


_WEIGHTED = _Weighted(np.array([1.5, 0.7]))


def _squared_jacobian_of_a_method(x):
    return np.sum(sd.jacobian(_WEIGHTED.f)(x) ** 2)


def test_a_third_derivative_through_the_jacobian_of_a_method_is_right():
    """``sd.jacobian`` of a method, differentiated twice more (a third derivative of the
    method): it was refused; its rules are a Jacobian's of a function of source calling
    the method, as for a function."""
    x = np.array([0.4, 0.9])
    hessian = sd.hessian(_squared_jacobian_of_a_method)(x)
    gradient = sd.grad(_squared_jacobian_of_a_method)
    for h in (1e-5, 1e-4):
        fd = np.stack([(gradient(x + h * e) - gradient(x - h * e)) / (2 * h) for e in np.eye(2)])
        np.testing.assert_allclose(hessian, fd, rtol=1e-6, atol=1e-8)
