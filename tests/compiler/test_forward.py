"""Forward mode (``sd.jvp``): the tangent back end over the same analysed function.

The battery's functions, at random tangents, against central differences at two step
sizes; every forward rule against its reverse rule (<u, J v> = <J^T u, v>); the source
it shows; users' rules; and what it refuses.
"""

from __future__ import annotations

import numpy as np
import pytest
from rules.families import SPECS
from rules.spec import ids, prim_name, rule_grads
from rules.test_variants import KNOWN_IDS, VARIANTS, _refused_rightly

import srcdiff as sd
from srcdiff import runtime as rt
from srcdiff.rules import registry
from srcdiff.runtime import tensor_methods as tm
from srcdiff.testing import _is_differentiable, numeric_grad

from . import forward_functions as late
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


def _forward_specs(specs=SPECS):
    """Every spec of a primitive with a forward rule (or declared linear), but those whose
    arguments hold floats in containers (their tangents are lists: the battery checks
    them). Results may be tuples or lists of arrays (``np.linalg.eigh``, ``np.split``)."""
    out = []
    for spec in specs:
        if not callable(spec.primal) or (spec.call is not None and not _called_as_is(spec)):
            continue
        if any(isinstance(a, (list, tuple, dict)) and _is_differentiable(a) for a in spec.args):
            continue  # containers of tangents: checked through the battery
        prim = spec.prim
        if all(
            f(prim) is None
            for f in (
                registry.lookup_jvp,
                registry.linear_positions,
                registry.multilinear_positions,
            )
        ):
            continue
        out.append(spec)
    return out


def _called_as_is(spec) -> bool:
    """A spec whose ``call`` is its primitive with the result made a tuple (``as_tuple``),
    or an index object's subscript (``np.r_[...]``)."""
    return getattr(spec.call, "__wrapped__", None) is spec.prim or spec.prim in (np.r_, np.c_)


FORWARD = _forward_specs()


def _structure(x):
    """A tuple or list result as a list of its parts; an array as itself."""
    return list(x) if isinstance(x, (list, tuple)) else x


def _add(total, part, ans):
    """``total + part``, each shaped like the result ``ans`` (part by part for a tuple;
    a rule's ``None``: no part)."""
    if part is None:
        return total
    if isinstance(ans, (list, tuple)):
        total = [None] * len(ans) if total is None else total
        return [_add(t, p, a) for t, p, a in zip(total, part, ans, strict=True)]
    part = np.broadcast_to(np.asarray(part, np.float64), np.shape(ans))
    return part if total is None else total + part


def _zero_tangent(a, extra: bool = False):
    """A zero tangent for the argument ``a``; of an extra argument (``*args``) that is not
    a number or an array (a slice of ``np.r_``), none."""
    if isinstance(a, np.ndarray):
        return np.zeros_like(a, dtype=np.float64)
    return None if extra and not isinstance(a, (int, float)) else 0.0


def _jvp_of(spec, tangents: dict[int, object]):
    """J v for the primitive of ``spec`` at its arguments: its forward rule, or the
    primitive itself on the tangents where it is declared linear (on each tangent apart,
    the others held, where it is multilinear). A tuple result gives a list of tangents."""
    args, kwargs = list(spec.args), dict(spec.kwargs)
    ans = _structure(spec.primal(*args, **kwargs))
    positions = registry.linear_positions(spec.prim)
    if positions is not None:
        positions = range(len(args)) if positions == "all" else positions
    # linear in the arguments moved (else, as the compiler does, the forward rule)
    if positions is not None and all(i in positions for i in tangents):
        moved = [
            tangents.get(i, np.zeros_like(a)) if i in positions else a for i, a in enumerate(args)
        ]
        return _structure(spec.primal(*moved, **kwargs))
    each = registry.multilinear_positions(spec.prim)
    if each is not None:
        total = None
        for i, t in tangents.items():
            moved = [t if j == i else a for j, a in enumerate(args)]
            total = _add(total, _structure(spec.primal(*moved, **kwargs)), ans)
        return total
    forward = registry.lookup_jvp(spec.prim)
    if not forward.inline:  # called by name: fn(tangents, result, *args), None for none
        given = tuple(tangents.get(i) for i in range(len(args)))
        parts = forward.fn(given, spec.primal(*args, **kwargs), *args, **kwargs)
        return _structure(parts)
    rule = registry.lookup(spec.prim)
    params = list(rule.params)
    npos = rule.npositional  # the keyword-only parameters after *args take no position
    bound = dict(zip(params[:npos], args, strict=False)) | kwargs
    extra = args[npos:]
    given = {}
    for p in forward.tangents:
        if p == rule.varargs:  # a tuple, one tangent per extra argument
            given[p] = tuple(
                tangents.get(npos + k, _zero_tangent(a, True)) for k, a in enumerate(extra)
            )
        else:
            i = params.index(p)
            given[p] = tangents.get(i, _zero_tangent(bound.get(p))) if i < npos else (
                _zero_tangent(bound.get(p)))  # fmt: skip
    positional = [bound.get(p, rule.defaults.get(p)) for p in params]
    parts = forward.fn(
        spec.primal(*args, **kwargs),
        *positional,
        *extra,
        **{forward.keyword(p): t for p, t in given.items()},
    )
    parts = parts if isinstance(parts, tuple) else (parts,)
    total = None
    for part in parts:
        total = _add(total, _structure(part), ans)
    return total


def _pairing(u, y) -> float:
    """``sum(u * y)``, over the parts of a tuple or list."""
    if isinstance(y, (list, tuple)):
        return sum(_pairing(a, b) for a, b in zip(u, y, strict=True))
    return float(np.sum(np.asarray(u, np.float64) * np.asarray(y, np.float64)))


@pytest.mark.parametrize("spec", FORWARD, ids=ids(FORWARD))
def test_forward_rule_is_the_transpose_of_the_reverse_rule(spec):
    _check_transpose(spec)


# the rule tables' calls at the edges of their shapes and keywords (0-d, size 1 and 0,
# broadcast, axes from the end, keepdims flipped), but those whose reverse rule is known
# to fail there
EDGES = _forward_specs(
    [s for s, name in zip(VARIANTS, ids(VARIANTS), strict=True) if name not in KNOWN_IDS]
)


@pytest.mark.parametrize("spec", EDGES, ids=ids(EDGES))
def test_forward_rule_is_the_transpose_of_the_reverse_rule_at_the_edges(spec):
    _refused_rightly(spec, lambda: _check_transpose(spec))


def _check_transpose(spec) -> None:
    """<u, J v> = <J^T u, v> at random ``u`` and ``v``."""
    rng = np.random.default_rng(3)
    positions = [i for i in spec.positions() if isinstance(spec.args[i], np.ndarray)]
    linear = registry.linear_positions(spec.prim)
    if linear not in (None, "all") and registry.lookup_jvp(spec.prim) is None:
        positions = [i for i in positions if i in linear]  # forward mode there only
    if not positions:
        pytest.skip("no array argument")
    tangents = {i: rng.standard_normal(np.shape(spec.args[i])) for i in positions}
    ans = spec.primal(*spec.args, **spec.kwargs)
    u = (
        type(ans)(rng.standard_normal(np.shape(a)) for a in ans)
        if isinstance(ans, (list, tuple))
        else rng.standard_normal(np.shape(ans))
    )
    grads = rule_grads(spec.prim, u, *spec.args, call=spec.call, **spec.kwargs)
    reverse = sum(  # None: a gradient of zero (the result does not move with it)
        float(np.sum(grads[i] * tangents[i])) for i in positions if grads[i] is not None
    )
    forward = _pairing(u, _jvp_of(spec, tangents))
    assert forward == pytest.approx(reverse, rel=1e-9, abs=1e-9)


def test_there_are_forward_rules_to_check():
    assert len(FORWARD) >= 1300


# Primitives whose forward rules came late: each is compared above, call by call.
CHECKED_FORWARD = [
    np.einsum, np.r_, np.c_, rt.trapezoid, np.array_split, np.atleast_1d, np.atleast_2d,
    np.atleast_3d, np.linalg.eigh, np.linalg.svd, np.linalg.pinv, np.linalg.qr,
    np.linalg.lstsq, np.linalg.slogdet, tm.max, tm.min,
]  # fmt: skip


@pytest.mark.parametrize("prim", CHECKED_FORWARD, ids=[prim_name(p) for p in CHECKED_FORWARD])
def test_the_forward_rules_of_the_decompositions_and_joins_are_compared(prim):
    assert any(spec.prim is prim for spec in FORWARD)


# ---- the forward rules that came late, through the compiler ------------------------------


@pytest.mark.parametrize("fn, args", late.FORWARD_CASES, ids=map(late.case_id, late.FORWARD_CASES))
def test_late_forward_rules_match_finite_differences(fn, args):
    args = list(args)
    tangents = _tangents(args, np.random.default_rng(2))
    value, tangent = sd.jvp(fn, args, tangents)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    fd = _differences(fn, args, tangents)
    assert abs(fd[0] - fd[1]) <= 1e-4 * max(1.0, abs(fd[0]))  # smooth here
    assert float(tangent) == pytest.approx(fd[0], rel=1e-6, abs=1e-8)


def test_an_einsum_tangent_is_one_einsum_per_operand_with_a_tangent():
    a, b = np.ones((2, 3)), np.ones((3, 4))
    forward = sd.jvp(late.einsum_ellipsis)
    forward((a, b), (a, b))
    source = sd.source(forward)
    assert source.count("np.einsum('...ij,...jk->...ik'") == 3, source  # the value, 2 terms
    forward((a, b), (a, np.zeros_like(b)))


def repeated_eigenvalues(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w**2) + np.sum(v)


def svd_full_of_a_tall_matrix(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(s)


def svd_of_a_singular_matrix(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(u) + np.sum(s)


def qr_complete(a):
    q, r = np.linalg.qr(a, mode="complete")
    return np.sum(q) + np.sum(r)


def pinv_of(a):
    return np.sum(np.linalg.pinv(a))


def lstsq_of(a, b):
    return np.sum(np.linalg.lstsq(a, b)[0])


RANK_ONE = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])


def test_where_the_decompositions_have_no_derivative_forward_mode_refuses():
    """Repeated eigenvalues or a zero singular value (the vectors are not unique), the
    complement of a full SVD or QR (any basis), a rank-deficient pseudo-inverse or least
    squares (another formula): a clear error, never a number."""
    twice = np.diag([1.0, 1.0, 3.0])
    with pytest.raises(sd.CompileError, match="repeated eigenvalues"):
        sd.jvp(repeated_eigenvalues, (twice,), (np.eye(3),))
    with pytest.raises(sd.CompileError, match="repeated eigenvalues"):
        sd.grad(repeated_eigenvalues)(twice)  # reverse mode too (it gave NaN)
    with pytest.raises(sd.CompileError, match="full_matrices=False"):
        sd.jvp(svd_full_of_a_tall_matrix, (np.ones((4, 3)),), (np.ones((4, 3)),))
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(sd.CompileError, match="zero singular value"):
        sd.jvp(svd_of_a_singular_matrix, (singular,), (np.eye(2),))
    with pytest.raises(sd.CompileError, match="mode='reduced'"):
        sd.jvp(qr_complete, (np.ones((4, 3)) + np.eye(4, 3),), (np.ones((4, 3)),))
    with pytest.raises(sd.CompileError, match="rank 1"):
        sd.jvp(pinv_of, (RANK_ONE,), (RANK_ONE,))
    with pytest.raises(sd.CompileError, match="rank 1"):
        sd.grad(pinv_of)(RANK_ONE)  # reverse mode too
    with pytest.raises(sd.CompileError, match="rank 1"):
        sd.jvp(lstsq_of, (RANK_ONE, np.ones(3)), (RANK_ONE, np.ones(3)))


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


def scaled_prim(x, s=1.0):
    return x**3 * s


def test_a_users_forward_rule_is_never_called_without_the_calls_keywords(rules):
    """A function found when the code runs, called with ``s=2.0``: its forward rule
    takes positional arguments only, and was called without ``s`` (the derivative at
    the default, silently). Refused; by position it is right."""

    @sd.register_jvp(scaled_prim)
    def scaled_jvp(tangents, ans, x, s=1.0):
        return 3 * x**2 * s * tangents[0]

    def by_keyword(x, fns):
        return np.sum(fns[0](x, s=2.0))

    def by_position(x, fns):
        return np.sum(fns[0](x, 2.0))

    x = np.array([1.0, 2.0])
    with pytest.raises(sd.CompileError, match="keyword arguments of a function whose forward"):
        sd.jvp(by_keyword, (x, [scaled_prim]), (np.ones(2), None))
    _, tangent = sd.jvp(by_position, (x, [scaled_prim]), (np.ones(2), None))
    assert tangent == pytest.approx(float(np.sum(6 * x**2)))


def test_tangents_must_match_the_primals():
    with pytest.raises(ValueError, match="one tangent for each primal"):
        sd.jvp(model, (np.ones((3, 2)), np.ones((4, 3))), (np.ones((3, 2)),))
    with pytest.raises(ValueError, match="each tangent has its primal's shape"):
        sd.jvp(model, (np.ones((3, 2)), np.ones((4, 3))), (np.ones(2), np.ones((4, 3))))


def _doubled(x):
    return x * 2


def _mean_of_sum(x):
    return np.mean(x + x)


def test_a_list_or_integer_tangent_of_an_array_is_that_array():
    # a list tangent once ran as a Python list: `d_x * 2` repeated it, `d_x + d_x`
    # joined it to itself (its mean was then half the derivative)
    x = np.array([0.3, -0.5, 0.8, 0.1])
    for given in ([1.0, 2.0, 3.0, 4.0], (1.0, 2.0, 3.0, 4.0), np.array([1, 2, 3, 4])):
        _, tangent = sd.jvp(_doubled, (x,), (given,))
        assert isinstance(tangent, np.ndarray) and tangent.dtype == np.float64
        assert np.array_equal(tangent, [2.0, 4.0, 6.0, 8.0])
        _, tangent = sd.jvp(_mean_of_sum, (x,), (given,))
        assert tangent == pytest.approx(5.0)
    x32 = x.astype(np.float32)
    _, tangent = sd.jvp(_doubled, (x32,), ([1.0, 2.0, 3.0, 4.0],))
    assert tangent.dtype == np.float32
    hv = sd.hvp(lambda x: np.sum(x**3), (x,), ([1.0, 0.0, 0.0, 0.0],))
    assert np.allclose(hv, [6 * 0.3, 0.0, 0.0, 0.0])
    _, tangent = sd.jvp(lambda d: d["a"] * 2, ({"a": x},), ({"a": [1.0, 1.0, 1.0, 1.0]},))
    assert np.array_equal(tangent, [2.0, 2.0, 2.0, 2.0])


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


def passes_a_dict_it_makes(w):
    kw = {"scale": w[0], "k": 2.0}
    return np.sum(helper(w, **kw))


def passes_its_options(w, opts):
    return np.sum(helper(w, **opts) ** 2)


def passes_keywords_and_a_dict(w):
    total = 0.0
    for i in range(3):  # the helper's branch goes both ways over the iterations
        if i % 2 == 0:
            total = total + np.sum(helper(w - i, k=w[1], **{"scale": np.cos(w[2])}))
        else:
            total = total + np.sum(helper(w * i, **{"k": 3.0}))
    return total


def unpacks_rows(w):
    return np.sum(helper(*w))


def unpacks_a_stack(a, b):
    pair = np.stack([a, b * 2.0])
    if np.sum(a) > 0:
        return np.sum(helper(*pair) ** 2)
    return np.sum(helper(a, *pair[1:]))


def unpacks_a_matrix_of_three(w):
    return np.sum(helper(*w) * w[0])


W3 = np.array([[0.3, -0.5, 0.7], [0.2, 0.4, -0.9]])
KEYWORD_AND_STAR_CASES = [
    (calls_with_kwargs, (np.array([0.5, -1.0, 2.0]),)),
    (calls_with_kwargs, (np.array([-0.5, -1.0, 0.2]),)),
    (passes_a_dict_it_makes, (np.array([0.5, -1.0, 2.0]),)),
    (passes_its_options, (np.array([0.5, 0.3, 0.7]), {"scale": 1.5, "k": 0.5})),
    (passes_keywords_and_a_dict, (np.array([2.5, 0.3, 0.7]),)),
    (unpacks_rows, (W3,)),
    (unpacks_rows, (-W3,)),
    (unpacks_a_stack, (W3[0], W3[1])),
    (unpacks_a_stack, (-W3[0], W3[1])),
    (unpacks_a_matrix_of_three, (np.vstack([W3, W3[:1] * 0.5]),)),
]


def _moved(args: tuple, tangents: tuple, eps: float) -> list:
    """``args`` moved by ``eps`` along ``tangents`` (a dict entry by entry)."""
    out = []
    for a, t in zip(args, tangents, strict=True):
        if isinstance(a, dict):
            out.append({k: v + eps * t[k] for k, v in a.items()})
        else:
            out.append(a + eps * t)
    return out


@pytest.mark.parametrize("fn, args", KEYWORD_AND_STAR_CASES,
                         ids=[f.__name__ for f, _ in KEYWORD_AND_STAR_CASES])  # fmt: skip
def test_forward_mode_through_a_dict_of_keywords_and_a_starred_array(fn, args):
    """``f(x, **kw)`` with a dict carrying derivatives (made in the function, or a
    parameter), and ``f(*w)`` with a differentiated array unpacked into its rows: the
    tangent against central differences, and the Hessian-vector product (reverse over
    this forward mode) against differences of the tangent."""
    rng = np.random.default_rng(7)
    tangents = tuple({k: float(rng.standard_normal()) for k in a} if isinstance(a, dict)
                     else rng.standard_normal(np.shape(a)) for a in args)  # fmt: skip
    value, tangent = sd.jvp(fn, args, tangents)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    eps = 1e-6
    fd = (fn(*_moved(args, tangents, eps)) - fn(*_moved(args, tangents, -eps))) / (2 * eps)
    assert tangent == pytest.approx(fd, rel=1e-6, abs=1e-9)
    products = sd.hvp(fn, args, tangents)
    products = products if len(args) > 1 else (products,)
    for i, a in enumerate(args):  # H v: the gradient of the tangent along v
        if isinstance(a, dict):
            continue

        def along(x, i=i):
            return sd.jvp(fn, (*args[:i], x, *args[i + 1 :]), tangents)[1]

        np.testing.assert_allclose(products[i], numeric_grad(along, (a,)), rtol=1e-5, atol=1e-7)
    if len(args) == 1:
        hessian = sd.hessian(fn)(*args)
        np.testing.assert_allclose(
            np.tensordot(hessian, tangents[0], axes=np.ndim(args[0])), products[0], rtol=1e-10
        )


@pytest.mark.parametrize("fn, args", KEYWORD_AND_STAR_CASES,
                         ids=[f.__name__ for f, _ in KEYWORD_AND_STAR_CASES])  # fmt: skip
def test_reverse_mode_through_the_same_calls(fn, args):
    """The gradients (a parameter dict's too, entry by entry) against central
    differences: ``**kw`` carrying derivatives reaches the callee's parameters
    (``rt.Spread`` in the primal's mask)."""
    wrt = tuple(range(len(args)))
    got = sd.grad(fn, wrt=wrt)(*args)
    want = numeric_grad(fn, args, wrt)
    for g, w in zip(got if len(args) > 1 else (got,), want if len(args) > 1 else (want,),
                    strict=True):  # fmt: skip
        if isinstance(w, dict):
            assert g.keys() == w.keys()
            g, w = list(g.values()), list(w.values())
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-9)


def takes_any_keywords(x, **kw):
    return np.sum(np.sin(x) * kw["scale"])


def passes_to_its_kwargs(w):
    return takes_any_keywords(w, **{"scale": w[1]}) * w[0]


def test_a_derivative_into_a_callees_own_kwargs_is_its_entrys():
    """Both modes take the derivative through the entry of the callee's ``**kwargs``;
    a second derivative through it is refused."""
    w = np.array([0.3, 0.5, 0.7])
    s = np.sum(np.sin(w))
    expected = np.cos(w) * w[1] * w[0] + np.array([s * w[1], s * w[0], 0.0])
    np.testing.assert_allclose(sd.grad(passes_to_its_kwargs)(w), expected)
    _, tangent = sd.jvp(passes_to_its_kwargs, (w,), (w,))
    assert tangent == pytest.approx(expected @ w)
    with pytest.raises(sd.CompileError, match=r"keyword argument\(s\) scale .*\*\*kwargs"):
        sd.hessian(passes_to_its_kwargs)(w)


def test_the_tangent_source_passes_a_dict_of_keywords_whole():
    forward = sd.jvp(passes_a_dict_it_makes)
    forward((np.ones(3),), (np.ones(3),))
    assert "rt.call_jvp_star(helper, (d_w, d_kw), (False,), (None,), w, kw)" in sd.source(forward)


def test_a_starred_operand_must_spread_into_entries():
    def unpacks_a_number(x):
        return helper(*x[0])

    with pytest.raises(TypeError):
        sd.jvp(unpacks_a_number, (np.ones(3),), (np.ones(3),))


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


def _push(h, v):
    h.append(v)


def _pushes_into_a_closure_list(h):
    def loss(x):
        _push(h, float(np.sum(x)))
        return np.sum(x**2)

    return loss


def _appends_to_a_keyword(x, *, acc):
    acc.append(float(np.sum(x)))
    return np.sum(x**2)


def _updates_nested_then_returns(x, d):
    d["lst"].append(1)
    d["inner"]["k"] = 2
    return np.sum(x**2)


def test_updates_forward_mode_would_lose_are_refused_before_anything_runs():
    """A callee appending to a list its caller cannot take back (a closure's), a list
    given by keyword, and a function run by sd.jacobian before its check: each left the
    caller's list otherwise than a plain call (empty, or half updated)."""
    x = np.array([1.0, 2.0, 3.0])
    h: list = []
    with pytest.raises(sd.CompileError, match="updates its argument `h` in place"):
        sd.jvp(_pushes_into_a_closure_list(h), (x,), (np.ones(3),))
    with pytest.raises(sd.CompileError, match="updates its argument `h` in place"):
        sd.hessian(_pushes_into_a_closure_list(h))(x)
    acc: list = []
    with pytest.raises(TypeError, match="updates a list or dict it is given"):
        sd.hessian(_appends_to_a_keyword)(x, acc=acc)
    with pytest.raises(TypeError, match="updates a list or dict it is given"):
        sd.jacobian(_appends_to_a_keyword, mode="fwd")(x, acc=acc)
    d: dict = {"lst": [], "inner": {}}
    with pytest.raises(TypeError, match="sd.jacobian of"):
        sd.jacobian(_updates_nested_then_returns)(x, d)
    assert h == [] and acc == [] and d == {"lst": [], "inner": {}}


def test_a_parameter_named_like_the_array_module_is_refused_in_forward_mode():
    """Templates name the array module ``xp``: a parameter of that name would shadow it in
    the tangent source, and keeps its name (callers pass it by keyword), so forward mode
    refuses it (reverse mode is unaffected; a local variable of that name is renamed)."""

    def f(x, xp):
        return np.sum(np.sum(x * xp, axis=0) ** 2)

    x, y = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    np.testing.assert_allclose(sd.grad(f)(x, y), 2 * np.sum(x * y, axis=0) * y)
    with pytest.raises(sd.CompileError, match="parameter named xp.*rename xp"):
        sd.jvp(f, (x, y), (np.ones_like(x), None))


def _scaled_sum(x, *ws, scale=2.0):
    total = 0.0
    for w in ws:
        total = total + np.sum(np.tanh(w * x)) * scale
    return total


@pytest.mark.parametrize("held", [None, 0, 1, 2])
def test_tangents_of_entries_of_star_args(held):
    """Tangents given for arguments that ``*ws`` takes reach their entries (each one, not
    only the first), with an entry held fixed where its tangent is None."""
    rng = np.random.default_rng(4)
    primals = tuple(rng.standard_normal(3) for _ in range(3))
    tangents = [rng.standard_normal(3) for _ in range(3)]
    if held is not None:
        tangents[held] = None
    _, got = sd.jvp(_scaled_sum, primals, tuple(tangents))
    moved = [np.zeros(3) if t is None else t for t in tangents]
    eps = 1e-6
    up = _scaled_sum(*(p + eps * t for p, t in zip(primals, moved, strict=True)))
    down = _scaled_sum(*(p - eps * t for p, t in zip(primals, moved, strict=True)))
    np.testing.assert_allclose(got, (up - down) / (2 * eps), rtol=1e-6)


# ---- second order through ** dicts and starred lists with constant entries -------------


def scaled_power(x, a=1.0, n=1):
    return np.sin(x) * a * x**n


def power_by_a_dict(x):
    options = {"a": x, "n": 2}  # n: an integer, no tangent
    return np.sum(scaled_power(x, **options))


def power_by_a_starred_list(x):
    rest = [x, 2]
    return np.sum(scaled_power(x, *rest))


def power_spelled_out(x):
    return np.sum(scaled_power(x, x, 2))


def scaled_by_its_kwargs(x, **options):
    return x * options["scale"]


def constant_into_kwargs(x):
    return np.sum(scaled_by_its_kwargs(x, scale=2.0) * x)


def constant_dict_into_kwargs(x):
    options = {"scale": 2.0}
    return np.sum(scaled_by_its_kwargs(*[x], **options) * x)


def test_hvp_through_dicts_and_starred_lists_holding_an_integer():
    x, v = np.array([0.3, -0.7, 0.5]), np.ones(3)
    want = sd.hvp(power_spelled_out, (x,), (v,))
    for fn in (power_by_a_dict, power_by_a_starred_list):
        np.testing.assert_allclose(sd.hvp(fn, (x,), (v,)), want, rtol=1e-12)


@pytest.mark.parametrize("fn", [constant_into_kwargs, constant_dict_into_kwargs])
def test_hvp_with_a_constant_a_callee_takes_in_its_kwargs(fn):
    x, v = np.array([0.3, -0.7, 0.5]), np.array([1.0, 0.5, -2.0])
    np.testing.assert_allclose(sd.hvp(fn, (x,), (v,)), 4.0 * v)  # the Hessian is 4 I


def test_a_derivative_of_a_derivative_into_a_callees_kwargs_is_refused():
    """``c`` reaches the callee's ``**options`` with no tangent (it is held in the jvp),
    but the gradient differentiates it: refused, not a zero."""
    x, v = np.array([0.3, -0.7, 0.5]), np.ones(3)

    def inner(x, c):
        return np.sum(scaled_by_its_kwargs(x, scale=c) * x)

    def outer(c):
        return sd.jvp(inner, (x, c), (v, None))[1]

    with pytest.raises(sd.CompileError, match="takes in its \\*\\*kwargs"):
        sd.grad(outer)(2.0)


def test_a_constant_into_a_callees_kwargs_held_in_an_inner_jvp():
    x, v = np.array([0.3, -0.7, 0.5]), np.ones(3)

    def inner(x, c):
        return np.sum(scaled_by_its_kwargs(x, scale=c) * x)

    def outer(x, c):
        return sd.jvp(inner, (x, c), (v, None))[1]

    np.testing.assert_allclose(sd.grad(outer, wrt=0)(x, 2.0), 4.0 * v)


@pytest.mark.parametrize(
    "use",
    [lambda u: u + 1.0, lambda u: np.ones(2) @ u, lambda u: np.ones(2) * u, lambda u: u**2,
     lambda u: -u, lambda u: float(u), lambda u: u.shape, lambda u: np.asarray(u)],
)  # fmt: skip
def test_no_gradient_refuses_every_use(use):
    """rt.NoGradient stands for a derivative srcdiff cannot follow: any use refuses."""
    with pytest.raises(sd.CompileError, match="what it is"):
        use(rt.NoGradient("what it is", "the fix"))


# ---- makers given an array for its shape ---------------------------------------------------


def fills_like(x):
    return np.sum(np.full_like(x, 2.0) * x**2)


def fills_like_with_an_entry(x):
    return np.sum(np.full_like(x, fill_value=x[1], shape=(2, 3)) @ np.sin(x))


def makes_zeros_ones_and_empties_like(x):
    e = np.empty_like(x)
    e[:] = x**2
    return np.sum((np.zeros_like(x) + np.ones_like(x, dtype=float)) * e * x)


@pytest.mark.parametrize("fn", [fills_like, fills_like_with_an_entry,
                                makes_zeros_ones_and_empties_like])  # fmt: skip
def test_forward_mode_through_a_maker_given_an_array_for_its_shape(fn):
    """``np.full_like(x, c)``: ``x`` gives a shape only, and has no tangent there (forward
    mode refused it: no forward rule for the argument a)."""
    x, v = np.array([0.3, -0.5, 1.2]), np.array([1.0, -2.0, 0.5])
    fd = _differences(fn, [x], [v])
    np.testing.assert_allclose(sd.jvp(fn, (x,), (v,))[1], fd[0], rtol=1e-7)
    np.testing.assert_allclose(sd.jacobian(fn, mode="fwd")(x), numeric_grad(fn, (x,)), rtol=1e-6)


def _counter_after_a_loop(x, names):
    y = x
    for k in names:  # k holds an entry of the caller's list here
        y = y * 2.0 if k else y
    k = 0  # and a number from here on: its update is no update of the list
    k += 1
    return np.sum(y**2) * k


def test_a_name_given_a_number_updates_no_list_it_held_before():
    """``k += 1`` after ``k = 0`` was taken for an update in place of the list ``k``
    iterated earlier, and forward mode refused a function updating its argument."""
    x, names = np.array([0.5, -1.0]), ["a"]
    value, tangent = sd.jvp(_counter_after_a_loop, (x, names), (np.ones(2), None))
    assert value == pytest.approx(5.0) and tangent == pytest.approx(-4.0)
    assert np.allclose(sd.hessian(_counter_after_a_loop)(x, names), 8 * np.eye(2))
    assert names == ["a"]


def _power_of_a_switched_exponent(x, p):
    n = p if p > 0 else 2.0  # on this path the exponent is a constant: its tangent is 0
    return np.sum(x**n)


def test_a_zero_tangent_of_the_exponent_of_a_negative_base_gives_no_nan():
    x = np.array([-1.5, 0.5])
    _, tangent = sd.jvp(_power_of_a_switched_exponent, (x, -1.0), (np.ones(2), 1.0))
    assert tangent == pytest.approx(np.sum(2 * x))
    assert np.isnan(sd.grad(lambda p: np.sum(x**p))(2.0))  # no derivative in p at x < 0


def _sums_an_iterator(x, acc, it):
    for v in it:
        acc += v
    return x * acc


def _gives_an_iterator(x):
    return _sums_an_iterator(x, 0.0, iter([1.0, 2.0]))


def test_a_callee_given_an_iterator_runs_once_in_forward_mode():
    """A check of its updates ran the callee's primal first, which used the iterator up:
    the forward mode then gave zeros."""
    value, tangent = sd.jvp(_gives_an_iterator, (np.array([1.0, 2.0]),), (np.ones(2),))
    assert value.tolist() == [3.0, 6.0] and tangent.tolist() == [3.0, 3.0]


_BUMPED = np.zeros(3)


def _bump(a, x):
    a += x


def _bumps_a_global(x):
    _bump(_BUMPED, x)
    return np.sum(_BUMPED * x)


def test_a_callee_updating_a_globals_array_is_refused_in_forward_mode():
    """A plain call writes x into the global; forward mode gave
    the value and tangent of the global left as it was (0, 0), silently."""
    with pytest.raises(sd.CompileError, match="updates its argument `a` in place"):
        sd.jvp(_bumps_a_global, (np.array([1.0, 2.0, 3.0]),), (np.ones(3),))
    assert not _BUMPED.any()


class _Scale:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return self.w * x


def _entries_doubled(ws):
    out = []
    for w in ws:
        out.append(w * 2)
    return out


def _entries_kept(ws):
    out = []
    for w in ws:
        out.append(w)
    return out


def _layers_of(ws):
    return [_Scale(w) for w in ws]


def _entries_joined(ws):
    out = []
    for w in ws:
        out += [w]
    return out


def _copied_then_appended(ws):
    out = list(ws)
    out.append(ws[0] * 2)
    return out


def _through_built_lists(ws, x):
    for layer in _layers_of(ws):
        x = layer(x)
    a, b = _entries_doubled(ws)
    c, d = _entries_kept([x, ws[0]])
    e, f = _entries_joined(ws)
    g, h, k = _copied_then_appended([e, f])
    return a * b * c + d + g * h * k


def test_a_callee_building_a_list_of_its_argument_entries_runs_in_forward_mode():
    """Appending to a list of its own whose entries hold the argument's updates the new
    list alone: forward mode refused it as an update of the argument, reverse mode not."""
    rng = np.random.default_rng(0)
    ws, x = [rng.standard_normal(3), rng.standard_normal(3)], rng.standard_normal(3)
    dws, dx = [rng.standard_normal(3), rng.standard_normal(3)], rng.standard_normal(3)
    value, tangent = sd.jvp(_through_built_lists, (ws, x), (dws, dx))
    np.testing.assert_allclose(value, _through_built_lists(ws, x))
    eps = 1e-6
    up = _through_built_lists([w + eps * d for w, d in zip(ws, dws, strict=True)], x + eps * dx)
    down = _through_built_lists([w - eps * d for w, d in zip(ws, dws, strict=True)], x - eps * dx)
    np.testing.assert_allclose(tangent, (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)


def _scatter_reducing(reduce, include):
    def scattered(x, src):
        return tm.scatter_reduce(x, 1, np.array([[0, 3], [2, 2], [1, 0]]), src, reduce,
                                 include_self=include)  # fmt: skip

    return scattered


@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_has_a_forward_mode(reduce, include):
    """It was refused; its tangent is the reverse rule's transpose: central differences
    where no values tie, and the reverse rule's sharing where they do."""
    rng = np.random.default_rng(4)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    dx, dsrc = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    fn = _scatter_reducing(reduce, include)
    value, tangent = sd.jvp(fn, (x, src), (dx, dsrc))
    np.testing.assert_array_equal(value, fn(x, src))
    eps = 1e-6
    up, down = fn(x + eps * dx, src + eps * dsrc), fn(x - eps * dx, src - eps * dsrc)
    np.testing.assert_allclose(tangent, (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)
    tied_x, tied_src = np.full((3, 4), 0.5), np.full((3, 2), 0.5)  # each position ties
    _, tied = sd.jvp(fn, (tied_x, tied_src), (dx, dsrc))
    u = rng.standard_normal((3, 4))
    _, pull = sd.vjp(fn, tied_x, tied_src)
    u_x, u_src = pull(u)
    np.testing.assert_allclose(np.sum(u * tied), np.sum(u_x * dx) + np.sum(u_src * dsrc))


@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_the_hessian_through_scatter_reduce_is_the_gradients_differences(reduce, include):
    """sd.hessian, reverse mode over forward mode, through scatter_reduce (refused: no
    forward rule, and its gradient helper had no rules)."""
    src = np.array([[0.7, -1.3], [0.4, 2.1], [-0.6, 0.9]])
    scattered = _scatter_reducing(reduce, include)

    def loss(x):
        y = scattered(x, src * x[:, :2])
        return np.sum(y * y * x)

    x = np.random.default_rng(6).standard_normal((3, 4))
    hessian = np.reshape(sd.hessian(loss)(x), (12, 12))
    grad, eps = sd.grad(loss), 1e-6
    columns = [(grad(x + eps * e.reshape(3, 4)) - grad(x - eps * e.reshape(3, 4))).ravel()
               for e in np.eye(12)]  # fmt: skip
    np.testing.assert_allclose(hessian, np.stack(columns) / (2 * eps), rtol=1e-6, atol=1e-7)


def _listed_twice(a):
    return np.sum(a.tolist() * 2.0) + np.linalg.vector_norm(a)


def test_a_number_given_as_the_tangent_of_a_0d_array_is_that_array():
    """A Python float given for a 0-d array ran as a number where the code calls array
    methods on the tangent: an AttributeError from inside the tangent source."""
    x = np.array(1.5)
    value, tangent = sd.jvp(_listed_twice, (x,), (2.0,))
    assert value == pytest.approx(4.5)
    assert tangent == pytest.approx(2.0 * (2.0 + 1.0))


def _weighted_by_keys(x):
    d = {i: v for i, v in enumerate(x)}
    s = 0.0
    for k, v in d.items():
        s = s + np.sin(v) * (k + 1.0) * v
    return s


def test_a_dicts_items_give_their_keys_no_tangent():
    """Forward mode took a dict's items() for linear in the dict: its tangent paired each
    value's tangent with the key itself, which then counted as the key's tangent (4.0
    where the derivative along the first axis is 1.0 for sum(v * (k + 1)))."""
    x, t = np.array([0.3, -1.0, 2.0]), np.array([0.7, -0.2, 1.1])
    value, tangent = sd.jvp(_weighted_by_keys, (x,), (t,))
    assert value == pytest.approx(_weighted_by_keys(x))
    for eps in (1e-6, 1e-4):
        fd = (_weighted_by_keys(x + eps * t) - _weighted_by_keys(x - eps * t)) / (2 * eps)
        assert tangent == pytest.approx(fd, rel=1e-6)
    hessian, grad = sd.hessian(_weighted_by_keys)(x), sd.grad(_weighted_by_keys)
    for eps in (1e-6, 1e-4):
        fd = [(grad(x + eps * e) - grad(x - eps * e)) / (2 * eps) for e in np.eye(3)]
        np.testing.assert_allclose(hessian, np.array(fd), rtol=1e-6, atol=1e-7)


def iterates_an_array_and_lists(x):
    s = 0.0
    for v in x:
        s = s + v * v
    for w in [x[0], 2.0 * x[1]]:
        s = s + w
    a, b = x[0], x[1]
    ys = list(x)
    return s + sum(ys) * a + b


def iterates_a_dict_display(x):
    e = {1.0: x, 2.0: 2.0 * x}
    total = 0.0
    for k in e:
        total = total + k * e[k]
    return sum(e) * x + total


def iterates_a_dict_given(d, x):
    return sum(d) * x + d[1.0]


@pytest.mark.parametrize(
    "fn, args, tangents, keyless",
    [
        (iterates_an_array_and_lists, [np.array([0.5, -1.2, 2.0])],
         [np.array([0.3, 0.7, -1.1])], False),
        (iterates_a_dict_display, [1.5], [1.0], True),
        (iterates_a_dict_given, [{1.0: 0.5, 2.0: 2.0}, 1.5], [{1.0: 0.3, 2.0: -0.4}, 1.0],
         True),
    ],
)  # fmt: skip
def test_only_what_may_be_a_dict_is_iterated_through_keyless(fn, args, tangents, keyless):
    """A dict iterated gives its keys, whose tangents are zeros (``rt.keyless``); an array,
    a list display, or a list surely is none, and its tangent is iterated as it is."""
    forward = sd.jvp(fn)
    value, tangent = forward(tuple(args), tuple(tangents))
    assert ("rt.keyless" in sd.source(forward)) is keyless, sd.source(forward)

    def along(eps):
        def shifted(sign):
            moved = [
                {k: a[k] + sign * eps * t[k] for k in a} if isinstance(a, dict)
                else a + sign * eps * t
                for a, t in zip(args, tangents, strict=True)
            ]  # fmt: skip
            return fn(*moved)

        return (shifted(1) - shifted(-1)) / (2 * eps)

    for eps in STEPS:
        assert tangent == pytest.approx(along(eps), rel=1e-6, abs=1e-8)
