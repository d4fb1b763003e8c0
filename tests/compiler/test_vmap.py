"""``sd.vmap``: each example of the mapped arguments through the function, the results
stacked; compared with a Python loop, composed with ``grad`` both ways (per-example
gradients, and gradients through a mapped function) and with ``jvp``."""

import numpy as np
import pytest

import srcdiff as sd

RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 2))
X = RNG.standard_normal((6, 4, 3))
Y = RNG.standard_normal((6, 4, 2))


def loss(w, x, y):
    h = np.tanh(x @ w)
    if h.sum() > 0:  # a branch on data: examples take different paths
        h = h * 2.0
    for _ in range(2):
        h = h + 0.1 * np.sin(h)
    return ((h - y) ** 2).mean()


def test_per_example_gradients_are_the_loops():
    per_example = sd.vmap(sd.grad(loss), in_axes=(None, 0, 0))(W, X, Y)
    loop = np.stack([sd.grad(loss)(W, X[i], Y[i]) for i in range(len(X))])
    assert per_example.shape == (6, 3, 2)
    np.testing.assert_allclose(per_example, loop, rtol=1e-12)
    branches = {bool(np.tanh(X[i] @ W).sum() > 0) for i in range(len(X))}
    assert branches == {True, False}  # both paths were mapped


@pytest.mark.parametrize("in_axis, out_axis", [(0, 0), (1, 0), (-1, 1), (2, -1)])
def test_axes_move_as_asked(in_axis, out_axis):
    a = RNG.standard_normal((2, 3, 4))
    mapped = sd.vmap(lambda v: np.cumsum(v) * v.sum(), in_axes=in_axis, out_axes=out_axis)(a)
    loop = np.stack([np.cumsum(v) * v.sum() for v in np.moveaxis(a, in_axis, 0)], axis=out_axis)
    np.testing.assert_array_equal(mapped, loop)


def test_tuples_dicts_and_shared_results():
    def f(a, b):
        return {"prod": a * b, "pair": (a.sum(), b)}

    a = RNG.standard_normal((5, 3))
    out = sd.vmap(f, in_axes=(0, None))(a, np.arange(3.0))
    np.testing.assert_array_equal(out["prod"], a * np.arange(3.0))
    np.testing.assert_array_equal(out["pair"][0], a.sum(axis=1))
    assert out["pair"][1].shape == (5, 3)
    shared = sd.vmap(lambda a, b: (a.sum(), b), in_axes=(0, None), out_axes=(0, None))
    total, b = shared(a, np.arange(3.0))
    np.testing.assert_array_equal(b, np.arange(3.0))


def test_nested_maps_are_pairwise():
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((5, 3))
    pairwise = sd.vmap(sd.vmap(lambda u, v: ((u - v) ** 2).sum(), (None, 0)), (0, None))(a, b)
    np.testing.assert_allclose(pairwise, ((a[:, None] - b[None]) ** 2).sum(-1))


def _total(w, x, y):
    return (sd.vmap(loss, in_axes=(None, 0, 0))(w, x, y) ** 2).sum()


def _differences(f, args, i, eps=1e-6):
    out = np.zeros_like(args[i])
    for k in np.ndindex(out.shape):
        up, down = [a.copy() for a in args], [a.copy() for a in args]
        up[i][k] += eps
        down[i][k] -= eps
        out[k] = (f(*up) - f(*down)) / (2 * eps)
    return out


def test_gradients_through_a_mapped_function():
    """The shared argument's gradient sums the examples'; the mapped one's stacks them."""
    args = [W, X[:3], Y[:3]]
    dw, dx = sd.grad(_total, wrt=(0, 1))(*args)
    np.testing.assert_allclose(dw, _differences(_total, args, 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dx, _differences(_total, args, 1), rtol=1e-6, atol=1e-9)


def test_forward_mode_through_a_mapped_function():
    args = (W, X[:3], Y[:3])
    tangents = (RNG.standard_normal(W.shape), RNG.standard_normal(X[:3].shape), None)
    _, tangent = sd.jvp(_total, args, tangents)
    dw, dx = sd.grad(_total, wrt=(0, 1))(*args)
    expected = (dw * tangents[0]).sum() + (dx * tangents[1]).sum()
    np.testing.assert_allclose(tangent, expected, rtol=1e-9)


@pytest.mark.parametrize(
    "in_axes, args, message",
    [
        ((0, 0), (np.ones((3, 2)), np.ones((4, 2))), "different lengths: 3 .argument 0., 4"),
        ((0,), (np.ones(3), np.ones(3)), "in_axes has 1 entries for 2 arguments"),
        (2, (np.ones((3, 2)),), "in_axes=2 for argument 0, which has 2 dimensions"),
        (None, (np.ones(3),), "no argument is mapped"),
        (0, (np.ones((0, 2)),), "the mapped axes are empty"),
    ],
)
def test_clear_errors(in_axes, args, message):
    with pytest.raises(ValueError, match=message):
        sd.vmap(lambda *a: sum(x.sum() for x in a), in_axes=in_axes)(*args)


def test_a_result_that_varies_cannot_be_shared():
    with pytest.raises(ValueError, match="out_axes=None but the result differs"):
        sd.vmap(lambda v: v * 2, out_axes=None)(np.arange(3.0))
    with pytest.raises(TypeError, match="in_axes entries are ints or None"):
        sd.vmap(np.sin, in_axes="0")


def test_gradients_through_a_map_with_a_tuple_result():
    def f(w, x):
        pair = sd.vmap(lambda w, v: (np.sin(v @ w), np.sum(v * v)), (None, 0), (1, 0))(w, x)
        return np.sum(pair[0] ** 2) + np.sum(pair[1] * np.sum(w))

    args = [W, X[:3, 0]]
    dw, dx = sd.grad(f, wrt=(0, 1))(*args)
    np.testing.assert_allclose(dw, _differences(f, args, 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dx, _differences(f, args, 1), rtol=1e-6, atol=1e-9)


def test_a_shared_result_has_no_derivative():
    def f(w, x):
        return np.sum(sd.vmap(lambda w, v: w * 2.0, (None, 0), out_axes=None)(w, x))

    with pytest.raises(sd.CompileError, match="out_axes=None"):
        sd.grad(f)(W, X[:3, 0])


def _cubes(x):
    return np.sum(x**3)


PER_EXAMPLE_GRADS = sd.vmap(sd.grad(_cubes))  # held in a global: differentiated by its rules


def test_a_mapped_gradient_held_in_a_global_is_differentiated_again():
    def energy(x):
        return np.sum(PER_EXAMPLE_GRADS(x) ** 2)  # sum of 9 x^4

    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
    np.testing.assert_allclose(sd.grad(energy)(x), 36 * x**3)
    v = np.ones_like(x)
    np.testing.assert_allclose(sd.jvp(energy, (x,), (v,))[1], np.sum(36 * x**3))
    assert sd.check_grad(energy, x)
