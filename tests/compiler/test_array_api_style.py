"""Array API style code: ``xp = array_namespace(x)`` is a constant (the array module),
``xp.tanh`` and the other functions of array_api_compat's NumPy namespace are NumPy's
and differentiate as such; what srcdiff cannot differentiate there is refused with the
NumPy spelling to write instead."""

import array_api_strict as strict
import gast
import numpy as np
import pytest
from array_api_compat import array_namespace

import srcdiff as sd
from srcdiff.compiler import cache
from srcdiff.testing import check_grads

RNG = np.random.default_rng(1)
W, X = RNG.standard_normal((3, 2)), RNG.standard_normal((4, 3))


def layer(w, x):
    xp = array_namespace(w, x)
    h = xp.tanh(xp.matmul(x, w))
    h = xp.permute_dims(h, (1, 0))
    total = xp.sum(xp.exp(h) * 2.0) + xp.mean(xp.maximum(h, 0.1))
    return total + xp.sum(xp.tensordot(h, h, axes=2))


def clipped(w, x):
    xp = array_namespace(w)
    return xp.sum(xp.clip(x @ w, -0.5, 0.5))


def test_array_api_style_matches_finite_differences():
    got = sd.grad(layer)(W, X)
    want = np.zeros_like(W)
    for k in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[k] = 1e-6
        want[k] = (layer(W + e, X) - layer(W - e, X)) / 2e-6
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_a_wrapper_without_a_rule_is_refused_with_the_numpy_spelling():
    with pytest.raises(sd.CompileError, match=r"xp\.clip of array_api_compat.*np\.clip"):
        sd.grad(clipped)(W, X)


def test_array_api_strict_through_its_namespace_is_refused_with_the_numpy_spelling():
    """Its functions that mean what NumPy's of the same name mean take NumPy's rules
    (``matmul``, ``exp``, ``sum``...); the others are refused with the NumPy spelling."""
    with pytest.raises(sd.CompileError, match=r"array_api_strict's permute_dims.*np\.permute"):
        sd.grad(layer)(strict.asarray(W), strict.asarray(X))


def test_wrappers_of_functions_without_a_derivative_are_constants():
    def f(w):
        xp = array_namespace(w)
        order = xp.argsort(w)
        return xp.sum(w[order] * xp.ones_like(w)) + xp.sum(xp.floor(w) * w)

    w = np.array([0.3, -1.2, 2.5])
    np.testing.assert_allclose(sd.grad(f)(w), 1.0 + np.floor(w))


# Forward mode: the generated source names the array module ``xp`` and srcdiff's helpers
# ``rt``; a local variable of either name is renamed there (``xp_1``), a parameter refused.


def forward_layer(w, x):
    xp = array_namespace(w, x)
    h = xp.tanh(xp.matmul(x, w))
    return xp.sum(xp.exp(h) * 2.0) + xp.sum(h * h)


def forward_layer_rt(w, x):
    xp = array_namespace(x)
    rt = xp.tanh(x @ w)
    return xp.sum(rt * rt)


def plain_layer(w, x):
    h = np.tanh(x @ w)
    return np.sum(np.exp(h) * 2.0) + np.sum(h * h)


def plain_layer_rt(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


DW = RNG.standard_normal((3, 2))


def _directional(f, w, x, dw, eps=1e-6):
    return (f(w + eps * dw, x) - f(w - eps * dw, x)) / (2 * eps)


@pytest.mark.parametrize("f", [forward_layer, forward_layer_rt])
def test_forward_mode_renames_a_local_xp_or_rt(f):
    value, tangent = sd.jvp(f, (W, X), (DW, None))
    np.testing.assert_allclose(value, f(W, X), rtol=1e-12)
    np.testing.assert_allclose(tangent, _directional(f, W, X, DW), rtol=1e-6, atol=1e-8)
    text = sd.source(f)
    assert "xp_1 = array_namespace(" in text
    code = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if line.startswith(("xp =", "rt =", "rt, "))]
    if f is forward_layer_rt:
        assert "rt_1, d_rt_1 = rt.call_jvp(xp_1.tanh" in text


@pytest.mark.parametrize("f", [forward_layer, forward_layer_rt])
def test_forward_mode_with_a_local_xp_on_array_api_strict_inputs(f):
    value, tangent = sd.jvp(f, (strict.asarray(W), strict.asarray(X)), (strict.asarray(DW), None))
    assert isinstance(tangent, type(strict.asarray(1.0)))
    np.testing.assert_allclose(np.asarray(value), f(W, X), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(tangent), _directional(f, W, X, DW), rtol=1e-6,
                               atol=1e-8)  # fmt: skip


@pytest.mark.parametrize(
    ("f", "plain"), [(forward_layer, plain_layer), (forward_layer_rt, plain_layer_rt)]
)
def test_hvp_through_a_local_xp_matches_finite_differences(f, plain):
    """sd.hvp differentiates the forward-mode source again: its renamed local is an
    ordinary variable there. Checked against differences of NumPy-spelled gradients."""
    got_w, got_x = sd.hvp(f, (W, X), (DW, None))
    grad = sd.grad(plain)
    want = (grad(W + 1e-6 * DW, X) - grad(W - 1e-6 * DW, X)) / 2e-6
    np.testing.assert_allclose(got_w, want, rtol=1e-5, atol=1e-7)
    assert got_x.shape == X.shape
    hessian = sd.hessian(f)(W, X)
    np.testing.assert_allclose(np.tensordot(hessian, DW, axes=2), got_w, rtol=1e-8, atol=1e-10)


def test_forward_mode_leaves_the_adjoint_of_a_local_xp_as_it_was():
    """The front end renames a local xp for every mode alike, and forward mode changes
    nothing the other back ends read: an adjoint generated after jvp and hvp is the one
    generated before them."""

    def f(w, x):
        xp = array_namespace(w, x)
        return xp.sum(xp.exp(xp.matmul(x, w)))

    before = sd.grad(f)
    np.testing.assert_allclose(before(W, X), X.T @ np.exp(X @ W), rtol=1e-12)
    text = sd.source(before)
    assert "\n    xp_1 = array_namespace(w, x)\n" in text
    sd.jvp(f, (W, X), (DW, None))
    sd.hvp(f, (W, X), (DW, None))
    after = sd.grad(f)
    np.testing.assert_allclose(after(W, X), X.T @ np.exp(X @ W), rtol=1e-12)
    assert sd.source(after) == text
    (unit,) = cache._UNITS[f].values()  # the analysed tree all back ends read
    assert "xp" not in {n.id for n in gast.walk(unit.analysis.fn) if isinstance(n, gast.Name)}


import numpy as xp  # noqa: E402 (a global xp: the array module, in forward mode too)


def global_xp(w, x):
    return xp.sum(xp.tanh(x @ w) ** 2)


def test_a_global_xp_is_the_array_module_in_forward_mode():
    value, tangent = sd.jvp(global_xp, (W, X), (DW, None))
    np.testing.assert_allclose(tangent, _directional(global_xp, W, X, DW), rtol=1e-6, atol=1e-8)
    got_w, _ = sd.hvp(global_xp, (W, X), (DW, None))
    want, _ = sd.hvp(plain_layer_rt, (W, X), (DW, None))
    np.testing.assert_allclose(got_w, want, rtol=1e-10)
    _, strict_tangent = sd.jvp(
        global_xp, (strict.asarray(W), strict.asarray(X)), (strict.asarray(DW), None)
    )
    np.testing.assert_allclose(np.asarray(strict_tangent), tangent, rtol=1e-10)


def test_a_parameter_named_xp_is_refused_in_forward_mode():
    def f(w, xp):
        return np.sum(np.tanh(w * xp))

    with pytest.raises(sd.CompileError, match="parameter named xp.*rename xp"):
        sd.jvp(f, (W, W), (DW, None))


def test_scipys_functions_written_for_the_array_api_differentiate_as_numpy():
    """``scipy.special.softmax`` calls SciPy's own ``array_namespace`` and its copy of
    array_api_compat: its ``xp.max(x, axis=...)`` was taken for an array's method (a
    refusal naming SciPy's file). ``log_softmax``, once refused inside SciPy, has a rule."""
    special = pytest.importorskip("scipy.special")

    def loss(z):
        return np.sum(special.softmax(z, axis=-1)[:, 0] ** 2)

    z = RNG.standard_normal((3, 4))
    want = np.zeros_like(z)
    for k in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[k] = 1e-6
        want[k] = (loss(z + e) - loss(z - e)) / 2e-6
    np.testing.assert_allclose(sd.grad(loss)(z), want, rtol=1e-6, atol=1e-9)

    def log_loss(z):
        return -np.sum(special.log_softmax(z, axis=-1)[:, 0])

    for eps in (1e-5, 1e-6):
        check_grads(log_loss, sd.grad(log_loss), (z,), eps=eps)


def flattened(x, /, *, xp=None):
    """SciPy's ``xp_ravel``: a parameter ``xp`` the body assigns again."""
    xp = np if xp is None else xp
    return xp.reshape(x, (-1,))


def through_a_reassigned_xp_parameter(w, x):
    return np.sum(flattened(x @ w, xp=np) ** 2) + np.sum(flattened(w) ** 3)


def test_a_parameter_named_xp_assigned_again_keeps_its_name():
    """Its assignment made the parameter itself a local to rename (``xp_1``): called by
    keyword it raised TypeError (an unexpected keyword 'xp'), and without it 'missing
    argument xp_1' (scipy.stats.sigmaclip, through ``xp_ravel``)."""
    check_grads(through_a_reassigned_xp_parameter, sd.grad(through_a_reassigned_xp_parameter,
                wrt=(0, 1)), (W, X), (0, 1), rtol=1e-6, atol=1e-8)  # fmt: skip
