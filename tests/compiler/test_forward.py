"""Forward mode (``sd.jvp``): the tangent back end over the same analysed function.

The battery's functions, at random tangents, against central differences at two step
sizes; every forward rule against its reverse rule (<u, J v> = <J^T u, v>); the source
it shows; users' rules; and what it refuses.
"""

from __future__ import annotations

import numpy as np
import pytest
from rules.families import SPECS
from rules.spec import ids, rule_grads

import srcdiff as sd
from srcdiff.rules import registry

from . import functions  # noqa: F401  (registers the battery)
from .cases import CASES, A, S

STEPS = (1e-6, 1e-4)
FLOATS = [c for c in CASES if all(isinstance(k, (A, S)) for k in c.kinds) and not c.kwargs]


def _tangents(args: list, rng: np.random.Generator) -> list:
    return [
        rng.standard_normal(np.shape(a))
        if isinstance(a, np.ndarray)
        else float(rng.standard_normal())
        for a in args
    ]


def _differences(fn, args: list, tangents: list) -> list[float]:
    out = []
    for eps in STEPS:
        plus = [a + eps * t for a, t in zip(args, tangents, strict=True)]
        minus = [a - eps * t for a, t in zip(args, tangents, strict=True)]
        out.append((fn(*plus) - fn(*minus)) / (2 * eps))
    return out


@pytest.mark.parametrize("case", FLOATS, ids=[c.name for c in FLOATS])
def test_jvp_matches_finite_differences_or_refuses(case):
    args = case.args()
    tangents = _tangents(args, np.random.default_rng(1))
    try:
        value, tangent = sd.jvp(case.fn, args, tangents)
    except sd.CompileError as error:
        assert "forward" in str(error) or "no derivative rule" in str(error), str(error)
        return
    assert value == pytest.approx(case.fn(*args), rel=1e-12)
    fd = _differences(case.fn, args, tangents)
    scale = max(1.0, abs(fd[0]))
    if abs(fd[0] - fd[1]) > 1e-3 * scale:
        return  # not smooth here: the two steps disagree
    forward = sd.jvp(case.fn)
    forward(args, tangents)
    assert abs(float(tangent) - fd[0]) <= 1e-5 * scale, (
        f"tangent {tangent}, finite differences {fd[0]}\n{sd.source(forward)}"
    )


def test_most_of_the_battery_runs_forward():
    refused = 0
    for case in FLOATS:
        try:
            sd.jvp(case.fn, case.args(), _tangents(case.args(), np.random.default_rng(1)))
        except sd.CompileError:
            refused += 1
    assert len(FLOATS) >= 150
    assert refused <= 0.2 * len(FLOATS), f"{refused} of {len(FLOATS)} refused"


# ---- every forward rule against its reverse rule ------------------------------------------


def _forward_specs():
    out = []
    for spec in SPECS:
        if not callable(spec.primal) or spec.call is not None:
            continue
        if any(isinstance(a, (list, tuple, dict)) for a in spec.args):
            continue  # containers of tangents: checked through the battery
        if registry.lookup_jvp(spec.prim) is None and registry.linear_positions(spec.prim) is None:
            continue
        out.append(spec)
    return out


FORWARD = _forward_specs()


def _jvp_of(spec, tangents: dict[int, object]):
    """J v for the primitive of ``spec`` at its arguments: its forward rule, or the
    primitive itself on the tangents where it is declared linear."""
    args, kwargs = list(spec.args), dict(spec.kwargs)
    ans = spec.primal(*args, **kwargs)
    positions = registry.linear_positions(spec.prim)
    if positions is not None:
        positions = range(len(args)) if positions == "all" else positions
        moved = [
            tangents.get(i, np.zeros_like(a)) if i in positions else a for i, a in enumerate(args)
        ]
        return spec.primal(*moved, **kwargs)
    forward = registry.lookup_jvp(spec.prim)
    params = list(registry.lookup(spec.prim).params)
    bound = dict(zip(params, args, strict=False)) | kwargs
    given = {f"d{params[i]}": t for i, t in tangents.items()}
    parts = forward.fn(ans, **bound, **{f"d{p}": given.get(f"d{p}", 0.0) for p in forward.tangents})
    parts = parts if isinstance(parts, tuple) else (parts,)
    return sum(np.broadcast_to(p, np.shape(ans)) for p in parts)


@pytest.mark.parametrize("spec", FORWARD, ids=ids(FORWARD))
def test_forward_rule_is_the_transpose_of_the_reverse_rule(spec):
    rng = np.random.default_rng(3)
    positions = [i for i in spec.positions() if isinstance(spec.args[i], np.ndarray)]
    if not positions:
        pytest.skip("no array argument")
    tangents = {i: rng.standard_normal(np.shape(spec.args[i])) for i in positions}
    ans = spec.primal(*spec.args, **spec.kwargs)
    u = rng.standard_normal(np.shape(ans))
    grads = rule_grads(spec.prim, u, *spec.args, **spec.kwargs)
    reverse = sum(  # None: a gradient of zero (the result does not move with it)
        float(np.sum(grads[i] * tangents[i])) for i in positions if grads[i] is not None
    )
    forward = float(np.sum(u * _jvp_of(spec, tangents)))
    assert forward == pytest.approx(reverse, rel=1e-9, abs=1e-9)


def test_there_are_forward_rules_to_check():
    assert len(FORWARD) >= 60


# ---- the source, users' rules, errors -----------------------------------------------------


def model(w, x):
    h = np.tanh(x @ w)
    if h.sum() > 0:
        h = h * 2.0
    return np.mean(h**2)


def test_the_tangent_source_reads_as_the_function_does():
    w, x = np.ones((3, 2)) * 0.1, np.ones((4, 3))
    forward = sd.jvp(model)
    value, tangent = forward((w, x), (np.ones_like(w), np.zeros_like(x)))
    source = sd.source(forward)
    assert "def model_tangent(w, x, *, d_w, d_x):" in source
    assert "d_h = d_t1 * (1.0 - h * h)" in source
    assert "if " in source and "_saved" not in source  # branches as written, nothing saved
    fd = _differences(model, [w, x], [np.ones_like(w), np.zeros_like(x)])[0]
    assert tangent == pytest.approx(fd, rel=1e-6)


def cube(x):
    return x**3


def uses_cube(x):
    return np.sum(cube_prim(x))


def cube_prim(x):
    return x**3


@pytest.fixture
def rules():
    """Restore the registry after the test (the rules registered here would outlive it)."""
    saved, tangents = dict(registry._RULES), dict(registry._TANGENTS)
    yield
    registry._RULES.clear()
    registry._RULES.update(saved)
    registry._TANGENTS.clear()
    registry._TANGENTS.update(tangents)
    registry._VERSION[0] += 1


def test_a_users_forward_rule_is_called_by_name(rules):
    @sd.register_vjp(cube_prim)
    def cube_vjp(g, ans, x):
        return g * 3 * x**2

    @sd.register_jvp(cube_prim)
    def cube_jvp(tangents, ans, x):
        (dx,) = tangents
        return 3 * x**2 * dx

    x, dx = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    value, tangent = sd.jvp(uses_cube, (x,), (dx,))
    assert tangent == pytest.approx(float(np.sum(3 * x**2 * dx)))
    assert "cube_jvp_rule1((d_x,), t1, x)" in sd.source(uses_cube)  # after sd.jvp(fn, ...)


def test_tangents_must_match_the_primals():
    with pytest.raises(ValueError, match="one tangent for each primal"):
        sd.jvp(model, (np.ones((3, 2)), np.ones((4, 3))), (np.ones((3, 2)),))
    with pytest.raises(ValueError, match="each tangent has its primal's shape"):
        sd.jvp(model, (np.ones((3, 2)), np.ones((4, 3))), (np.ones(2), np.ones((4, 3))))


def calls_a_helper(x, y):
    return np.sum(helper(x, 2.0) * y) + helper(y, 1.0)[0]


def calls_by_keyword(x):
    return np.sum(helper(x, scale=x))


def helper(x, k=1.0, scale=1.0):
    if np.sum(x) > 0:
        return np.sin(x) * k * scale
    return x * k * scale


def test_calls_run_their_own_tangent_source():
    x, y, dx, dy = np.array([0.3, -0.2]), np.array([1.5, 0.5]), np.array([1.0, 2.0]), np.ones(2)
    value, tangent = sd.jvp(calls_a_helper, (x, y), (dx, dy))
    fd = _differences(calls_a_helper, [x, y], [dx, dy])[0]
    assert tangent == pytest.approx(fd, rel=1e-6)
    assert "rt.call_jvp(helper, (d_x, None), x, " in sd.source(calls_a_helper)


def calls_with_kwargs(x):
    options = {"scale": x}
    return np.sum(helper(x, **options))


def test_a_derivative_passed_by_keyword_reaches_the_callee():
    x, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.2, -0.3])
    value, tangent = sd.jvp(calls_by_keyword, (x,), (v,))
    assert value == pytest.approx(calls_by_keyword(x))
    assert tangent == pytest.approx(sd.grad(calls_by_keyword)(x) @ v, rel=1e-12)
    forward = sd.jvp(calls_by_keyword)
    forward((x,), (v,))
    assert "rt.call_jvp_keywords(helper, (d_x, d_x), ('scale',), x, x)" in sd.source(forward)


def test_what_forward_mode_cannot_do_yet_is_a_compile_error():
    with pytest.raises(sd.CompileError, match="forward mode through \\*args or \\*\\*kwargs"):
        sd.jvp(calls_with_kwargs, (np.ones(3),), (np.ones(3),))


def appends_to_its_argument(x, acc):
    acc.append(x * 2.0)
    return np.sum(acc[-1])


def test_a_function_updating_a_list_it_is_given_is_refused_not_left_different():
    """A plain call appends to the caller's list; forward mode and second derivatives
    would not, so they refuse (sd.grad gives the caller the append)."""
    x = np.array([1.0, 2.0])
    acc: list = []
    with pytest.raises(TypeError, match="updates a list or dict it is given"):
        sd.jvp(appends_to_its_argument, (x, acc), (np.ones(2), []))
    with pytest.raises(TypeError, match="updates a list or dict it is given"):
        sd.hvp(appends_to_its_argument, (x, acc), (np.ones(2), None))
    assert acc == []
    sd.grad(appends_to_its_argument)(x, acc)
    assert len(acc) == 1
