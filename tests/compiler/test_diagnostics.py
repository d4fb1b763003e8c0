"""``sd.explain`` and ``sd.check_grad`` on functions with branches, loops and calls: what
each line saw, why a gradient is zero, and which adjoint line a wrong rule breaks."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import srcdiff as sd

from . import functions  # noqa: F401 - fills CASES with the battery
from .cases import CASES


def model(w, x, y):
    h = np.tanh(x @ w)
    if h.sum() > 0:
        h = np.maximum(h, 0.0)
    loss = 0.0
    for i in range(3):
        loss = loss + np.sum((h * i - y) ** 2)
    return loss / len(y)


def dead_relu(w, b, x):
    z = x @ w
    k = np.argmax(z)
    if b.sum() > 0:
        z = z * 2
    r = np.maximum(z, 0.0)
    return r.sum() + k


def unused(w, v):
    return np.sum(w**2)


def counted(w, n):
    total = np.sum(w)
    m = int(n.sum())
    return total * 2.0 + m


def cube(x):
    return x**3


def uses_cube(w, x):
    h = np.tanh(x @ w)
    c = cube(h)
    return np.sum(c * h)


def helper(v):
    return np.sum(np.sin(v) * v)


def calls_in_loop(x):
    s = 0.0
    for i in range(3):
        s = s + helper(x * (i + 1.0))
    return s


def line_of(fn, code: str) -> int:
    """The line number of the line of ``fn`` holding ``code``."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if code in line)


RNG = np.random.default_rng(0)
W, X, Y = RNG.normal(size=(3, 2)), RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))


# ---- sd.explain -----------------------------------------------------------------------------


def test_explain_annotates_each_line_with_the_shapes_it_saw():
    g = sd.grad(model)
    g(W, X, Y)
    text = str(sd.explain(g))
    assert "# arguments: w: float64[3, 2], x: float64[4, 3], y: float64[4, 2]" in text
    assert "# gradients: w: float64[3, 2]" in text
    lines = text.splitlines()
    assert any(line.strip().startswith("t1 = x @ w") and "# t1: float64[4, 2]" in line
               for line in lines)  # fmt: skip
    assert any(line.strip().startswith("d_w") and "# d_w: float64[3, 2]" in line for line in lines)
    # the same source as the call ran, the loop's line seen as a scalar
    assert "loss = t" in text and "loss: float64[]" in text


def test_explain_uses_the_latest_call_or_the_arguments_given():
    g = sd.grad(model)
    with pytest.raises(RuntimeError, match="call it first"):
        sd.explain(g)
    g(W, X, Y)
    latest = sd.explain(g)
    given = sd.explain(g, W[:2], X[:, :2], Y)
    assert "w: float64[3, 2]" in latest.arguments.values().__repr__() or latest.arguments["w"]
    assert latest.arguments["w"] == "float64[3, 2]"
    assert given.arguments["w"] == "float64[2, 2]"


def test_explain_leaves_the_arguments_and_the_gradient_function_unchanged():
    w = W.copy()
    g = sd.grad(model)
    expected = g(w, X, Y)
    source = sd.source(g)
    sd.explain(g)
    np.testing.assert_array_equal(w, W)
    assert sd.source(g) == source
    np.testing.assert_array_equal(g(w, X, Y), expected)
    assert "_probe" not in sd.source(g)


def test_explain_says_why_a_gradient_is_zero():
    g = sd.grad(dead_relu, wrt=(0, 1))
    g(np.ones(3), np.ones(2), -np.ones((4, 3)))
    e = sd.explain(g)
    assert e.gradients == {"w": "zero", "b": "zero"}
    why = {z.name: "\n".join(z.reasons) for z in e.zeros}
    # w reaches the result, but the maximum's derivative is zero at these values
    r = line_of(dead_relu, "r = np.maximum")
    assert f"line {r} (`r = np.maximum(z, 0.0)`) made the gradient of z zero" in why["w"]
    # b only decides a branch
    assert "no path from the output reaches b" in why["b"]
    branch = line_of(dead_relu, "if b.sum()")
    assert f"line {branch} (`if b.sum() > 0:`)" in why["b"] and "condition" in why["b"]
    assert "d_z: float64[4], zero" in str(e)


def test_explain_names_integers_and_unused_arguments():
    g = sd.grad(unused, wrt=(0, 1))
    g(np.ones(2), np.ones(2))
    (zero,) = sd.explain(g).zeros
    assert zero.name == "v" and "does not depend on v" in zero.reasons[0]
    g = sd.grad(counted, wrt=(0, 1))
    g(np.ones(2), np.ones(2))
    (zero,) = sd.explain(g).zeros
    assert zero.name == "n"
    m = line_of(counted, "m = int")
    assert f"line {m} (`m = int(n.sum())`): `int` gives an integer" in "\n".join(zero.reasons)


def zeroed_apart(z, w):
    b = np.maximum(z, 0.0)
    c = np.sum(w) - np.sum(w)
    q = w * 0.0
    return np.sum(b) + c + np.sum(q)


def test_explain_gives_each_argument_the_lines_its_own_gradient_went_through():
    g = sd.grad(zeroed_apart, wrt=(0, 1))
    g(np.array([-1.0, -3.0]), np.array([0.3, 0.4]))
    why = {z.name: "\n".join(z.reasons) for z in sd.explain(g).zeros}
    b, c, q = (line_of(zeroed_apart, f"{v} = ") for v in "bcq")
    assert why["z"] == (
        f"line {b} (`b = np.maximum(z, 0.0)`) made the gradient of z zero: its derivative is "
        "zero at these values (a kink, a constant piece, a mask)"
    )
    assert f"line {b}" not in why["w"] and f"line {c}" in why["w"] and f"line {q}" in why["w"]
    # the exact cancellation is not said to be a zero derivative
    (cancel,) = (r for r in why["w"].splitlines() if f"line {c}" in r)
    assert "terms to the gradient of w that cancel" in cancel and "derivative" not in cancel


def test_explain_of_a_nonzero_gradient_has_no_reasons():
    g = sd.grad(model)
    g(W, X, Y)
    assert sd.explain(g).zeros == ()


def test_explain_takes_tensors_and_differentiate():
    @sd.differentiate
    def loss(w):
        return (w * w).sum()

    loss.grad(np.ones(3))
    assert sd.explain(loss).gradients == {"w": "float64[3]"}
    g = sd.grad(lambda w: (w * 3.0).sum())
    t = sd.tensor([1.0, 2.0], dtype=sd.float64)
    g(t)
    assert sd.explain(g).arguments["w"] == "float64[2]"


def test_explain_refuses_what_is_not_a_gradient():
    with pytest.raises(TypeError, match="sd.grad"):
        sd.explain(model)


# ---- sd.check_grad --------------------------------------------------------------------------


def test_check_grad_agrees_on_branches_loops_and_calls():
    r = sd.check_grad(model, W, X, Y)
    assert r and r.ok and r.mismatch is None
    assert r.checked >= 10
    assert "all agree" in str(r)
    assert sd.check_grad(calls_in_loop, np.linspace(-1, 1, 4))
    assert sd.check_grad(dead_relu, np.ones(3), np.ones(2), X, wrt=(0, 1))
    g = sd.grad(model, wrt=(0, 1))
    assert sd.check_grad(g, W, X, Y).checked > r.checked  # the gradient of x too


def test_check_grad_names_the_adjoint_line_of_a_wrong_custom_rule(rules):
    @sd.register_vjp(cube)
    def cube_vjp(g, result, x):
        return g * 3.0 * x * x * 1.01  # wrong by 1%

    r = sd.check_grad(uses_cube, W[:, 0], X)
    assert not r
    m = r.mismatch
    h, c = line_of(uses_cube, "h = np.tanh"), line_of(uses_cube, "c = cube")
    assert (m.name, m.line) == ("h", h)  # h's gradient is the first one wrong
    assert m.source == "h = np.tanh(x @ w)"
    assert m.fault == c  # the adjoint of c = cube(h) gives h the wrong contribution
    assert m.computed_by == (
        f"r1 = cube_vjp(d_c, c, h)    # line {c}: c = cube(h)",
        f"d_h = rt.acc(d_h, rt.rule_grad(r1, h))    # line {c}: c = cube(h)",
    )
    assert f"the adjoint of `c = cube(h)`, of line {c} (`c = cube(h)`), gives the wrong" in str(r)
    assert abs(m.adjoint - m.numeric) > 1e-3 * abs(m.numeric)
    assert f"line {h} (`h = np.tanh(x @ w)`)" in str(r)


def cube_plus_one(a):
    c = cube(a + 1.0)
    return c * 2.0


def calls_cube_inside(x):
    y = np.sin(x)
    z = cube_plus_one(y)
    return np.sum(z)


def test_check_grad_goes_into_the_helper_whose_contribution_is_wrong(rules):
    @sd.register_vjp(cube)
    def cube_vjp(g, result, x):
        return g * 2.0 * x * x  # not 3

    r = sd.check_grad(calls_cube_inside, np.array([0.3, 0.7]))
    assert not r
    m = r.mismatch
    y, z = line_of(calls_cube_inside, "y = "), line_of(calls_cube_inside, "z = ")
    assert (m.name, m.line, m.fault) == ("y", y, z)  # not "each contribution agrees"
    text = str(r)
    assert f"the adjoint of `z = cube_plus_one(y)`, of line {z}" in text
    assert "one is missing" not in text
    inner = m.inside.mismatch  # the helper checked alone, along the gradient z got
    c = line_of(cube_plus_one, "c = cube")
    assert inner.fault == c and "cube_vjp(" in "".join(inner.computed_by)
    assert f"inside cube_plus_one ({__file__}:" in text and "  r1 = cube_vjp(" in text


def test_check_grad_names_the_line_of_a_wrong_built_in_rule(rules):
    @sd.register_vjp(np.tanh)
    def tanh_vjp(g, ans, x):
        return g * (1.0 - ans)  # not 1 - ans ** 2

    r = sd.check_grad(uses_cube, W[:, 0], X)
    assert not r
    # every later gradient is right; the matmul's result t1 = x @ w gets the wrong one,
    # from the adjoint of h = np.tanh(t1)
    h = line_of(uses_cube, "h = np.tanh")
    assert (r.mismatch.line, r.mismatch.name, r.mismatch.fault) == (h, "t1", h)
    assert "tanh_vjp" in "".join(r.mismatch.computed_by)


def test_check_grad_finds_a_wrong_gradient_of_an_argument(rules):
    @sd.register_vjp(cube)
    def cube_vjp(g, result, x):
        return g * 2.0 * x * x

    def direct(x):
        return np.sum(cube(x))

    r = sd.check_grad(direct, np.array([0.5, -1.0, 2.0]))
    assert not r and r.mismatch.name == "x"


def ramp(v):
    if np.sum(v) > 0:
        return np.sum(v)
    return 0.0 * np.sum(v)


def at_kink(x):
    return ramp(x - x)  # at ramp's corner: its one-sided derivatives differ


def test_check_grad_skips_values_at_a_kink_rather_than_blame_them():
    r = sd.check_grad(at_kink, np.ones(3))
    assert r.ok and r.skipped >= 1


def _float64(x):
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x.astype(np.float64)
    if isinstance(x, (list, tuple)):
        return type(x)(map(_float64, x))
    if isinstance(x, dict):
        return {k: _float64(v) for k, v in x.items()}
    return x


# every third function of the battery by default; all of them with SRCDIFF_CHECK_GRAD_ALL=1
BATTERY = CASES if os.environ.get("SRCDIFF_CHECK_GRAD_ALL") else CASES[::3]


@pytest.mark.parametrize("part", range(2))
def test_check_grad_agrees_on_the_functions_of_the_battery(part):
    """No false alarms: the battery's gradients are right (test_battery), so check_grad
    finds nothing wrong in any of them, and its probed adjoint computes the gradients
    sd.grad does."""
    wrong = []
    assert len(CASES) > 200
    for c in BATTERY[part::2]:
        if c.xfail:
            continue
        args = [_float64(a) for a in c.args()]
        r = sd.check_grad(c.fn, *args, wrt=c.wrt, most=100, **c.kwargs)
        if not r:
            wrong.append(f"{c.name}: {r}")
        expected = sd.grad(c.fn, wrt=c.wrt)(*args, **c.kwargs)
        names = list(r.gradients)
        got = (
            tuple(r.gradients[n] for n in names)
            if isinstance(c.wrt, tuple)
            else r.gradients[names[0]]
        )
        np.testing.assert_equal(_float64(got), _float64(expected), err_msg=c.name)
    assert not wrong, "\n".join(wrong)


# A wrong built-in rule, one at a time: check_grad names the statement it differentiates.
MUTANTS = {
    np.sin: lambda g, ans, x: g * np.cos(x) * 1.25,
    np.exp: lambda g, ans, x: g * ans * 0.8,
    np.tanh: lambda g, ans, x: g * (1.0 - ans),
    np.log: lambda g, ans, x: g / (x + 0.5),
    np.sqrt: lambda g, ans, x: g / ans,
}


def mixed(x, w):
    a = np.sin(x * w)
    b = np.exp(-a * a)
    total = 0.0
    for i in range(2):
        if np.sum(b) > 0:
            c = np.tanh(b + i)
        else:
            c = b
        total = total + np.sum(np.log(1.5 + c) * np.sqrt(1.0 + a * a))
    return total


@pytest.mark.parametrize("primitive", list(MUTANTS), ids=lambda p: p.__name__)
def test_check_grad_names_the_statement_of_each_wrong_built_in_rule(rules, primitive):
    x, w = np.linspace(-1.0, 1.0, 3), np.array([0.7, -0.4, 1.1])
    assert sd.check_grad(mixed, x, w)
    sd.register_vjp(primitive)(MUTANTS[primitive])
    r = sd.check_grad(mixed, x, w)
    assert not r
    fault = r.mismatch.fault
    assert fault is not None, str(r)
    assert (
        f"np.{primitive.__name__}("
        in inspect.getsource(mixed).splitlines()[fault - inspect.getsourcelines(mixed)[1]]
    ), str(r)
    assert f"np.{primitive.__name__}(" in r.mismatch.fault_statement or "_vjp" not in str(r)


# ---- sd.explain(tensor): why is .grad None ------------------------------------------------


def test_explain_says_why_a_tensor_grad_is_none():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    b = sd.tensor([1.0, 2.0], requires_grad=True)
    c = sd.tensor([1.0, 2.0])
    h = w * 2
    loss = h.sum() + b.detach().sum()
    assert "no backward() has reached it yet" in str(sd.explain(w))
    assert "in the loss's graph" in str(sd.explain(w, loss))
    assert ".detach()" in str(sd.explain(b, loss)) and "does not depend" in str(sd.explain(b, loss))
    assert "does not require grad" in str(sd.explain(c))
    assert "not a leaf" in str(sd.explain(h)) and "MulBackward0" in str(sd.explain(h))
    loss.backward()
    assert str(sd.explain(w)) == ".grad holds a gradient: float32[2]"
    assert b.grad is None
    with sd.no_grad():
        frozen = (w * 3).sum()
    assert "no graph" in str(sd.explain(b, frozen))


def logs(w, log, seen):
    log.append(1.0)
    seen["h"] = w * 3.0
    return np.sum(seen["h"] * w) + len(log)


def test_diagnostics_leave_the_callers_lists_and_dicts_as_they_are():
    g = sd.grad(logs)
    log, seen = [0.0], {}
    g(np.ones(2), log, seen)
    assert log == [0.0, 1.0] and list(seen) == ["h"]  # as a plain call leaves them
    sd.explain(g)
    r = sd.check_grad(logs, np.ones(2), log, seen)
    assert r, str(r)
    assert log == [0.0, 1.0] and list(seen) == ["h"]
