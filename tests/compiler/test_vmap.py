"""``sd.vmap``: each example of the mapped arguments through the function, the results
stacked; compared with a Python loop, composed with ``grad`` both ways (per-example
gradients, and gradients through a mapped function) and with ``jvp``."""

import builtins
import copy
import inspect

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.batching import leaves as _leaves
from srcdiff.testing import numeric_grad

from . import functions  # noqa: F401  (fills the battery)
from .cases import CASES
from .cases import A as Array

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
    np.testing.assert_allclose(mapped, loop, rtol=1e-13)  # sums may add in another order


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
    with pytest.raises(TypeError, match="in_axes entries are ints or None, not True"):
        sd.vmap(np.sin, in_axes=True)  # a bool is no axis (it was taken for axis 1)
    with pytest.raises(TypeError, match="out_axes entries are ints or None, not 'a'"):
        sd.vmap(np.sin, out_axes="a")
    assert sd.vmap(np.sin, in_axes=np.int64(0))(np.ones((2, 3))).shape == (2, 3)


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

    with pytest.raises(sd.CompileError, match="out_axes=None") as refused:
        sd.grad(f)(W, X[:3, 0])
    line = inspect.getsourcelines(f)[1] + 1  # (the line calling the mapped function)
    assert f"{__file__}:{line}" in str(refused.value)


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


# batched runs: the function once on the whole batch, checked against a Python loop


def _loop(fn, args, in_axes, out_axes=0):
    """``fn`` of each example, stacked: what the map must give."""
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    size = next(np.shape(a)[ax] for a, ax in zip(args, axes, strict=True) if ax is not None)
    outs = [
        fn(*(a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, axes, strict=True)))
        for b in range(size)
    ]
    if isinstance(outs[0], tuple):
        return tuple(np.stack([o[k] for o in outs], axis=out_axes) for k in range(len(outs[0])))
    return np.stack(outs, axis=out_axes)


def _check(fn, *args, in_axes=0, out_axes=0, batched=True):
    mapped = sd.vmap(fn, in_axes=in_axes, out_axes=out_axes)
    out = mapped(*args)
    expected = _loop(fn, args, in_axes, out_axes)
    assert mapped._last_batched is batched
    for o, e in (
        zip(out, expected, strict=True) if isinstance(expected, tuple) else [(out, expected)]
    ):
        assert o.shape == e.shape and o.dtype == e.dtype
        np.testing.assert_allclose(o, e, rtol=1e-12, atol=1e-14)
    return out


A = RNG.standard_normal((5, 3, 4))
B = RNG.standard_normal((5, 4))
M = RNG.standard_normal((4, 2))


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: np.exp(a) * b + np.sin(b) - 1.5,
        lambda a, b: np.maximum(a, b) / (1.0 + b**2),
        lambda a, b: np.where(a > b, a, -b) + np.abs(a) % 0.5,
        lambda a, b: (a >= 0.1) & (b < 0.3),
        lambda a, b: -a + np.clip(a, -0.2, b),
        lambda a, b: np.hypot(b, a) ** 0.5,
    ],
)
def test_elementwise_batches(fn):
    """Operands of different ranks broadcast from the right within each example."""
    _check(fn, A, B)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: a.sum(),
        lambda a: a.sum(axis=0),
        lambda a: np.mean(a, axis=-1, keepdims=True),
        lambda a: a.max(axis=(0, 1)),
        lambda a: np.min(a, 1) + a.prod(axis=0).sum(),
        lambda a: np.sum(a, keepdims=True),
        lambda a: a.argmax() + np.argmin(a, axis=1).sum(),
        lambda a: np.cumsum(a, axis=1) + a.std(axis=0),
        lambda a: np.add.reduce(a, axis=1),
        lambda a: a.var() + np.any(a > 1.0) + np.all(a > -9.0, axis=0),
    ],
)
def test_reductions_batch(fn):
    _check(fn, A)


@pytest.mark.parametrize(
    "fn, in_axes",
    [
        (lambda a, b: a @ b, (0, 0)),  # stacks of matrices times vectors
        (lambda a, b: b @ a.T, (0, 0)),
        (lambda b, m: b @ m, (0, None)),  # a vector times a shared matrix
        (lambda a, m: a @ m, (0, None)),
        (lambda b, c: b @ c, (0, 0)),  # an inner product
        (lambda m, b: m.T @ b, (None, 0)),
        (lambda a, m: np.dot(a, m) + np.matmul(a, m), (0, None)),
        (lambda a, b: np.einsum("ij,j->i", a, b), (0, 0)),
        (lambda a, m: np.einsum("ij,jk", a, m), (0, None)),
        (lambda b, c: np.outer(b, c) + np.inner(b, c), (0, 0)),
    ],
)
def test_products_batch(fn, in_axes):
    names = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    values = [{"a": A, "b": B, "c": B, "m": M}[n] for n in names]  # by the argument's name
    _check(fn, *values, in_axes=in_axes)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: a.reshape(-1),
        lambda a: np.reshape(a, (2, 6)).T,
        lambda a: a.transpose(1, 0)[None, :, 1:],
        lambda a: np.swapaxes(a[..., None], 0, 2).squeeze(),
        lambda a: np.expand_dims(a, 1) * a.shape[0] + len(a) + a.ndim + a.size,
        lambda a: np.stack([a, a * 2.0], axis=1) + np.concatenate([a, a], axis=-1)[:, None, :4],
        lambda a: np.moveaxis(a, 0, -1).ravel(),
        lambda a: a[1] + a[:, 2].sum() + a[-1, ::2].sum(),
        lambda a: a[[0, 2, 2]] * a[:, np.array([3, 0])].sum(),
        lambda a: a[np.array([0, 1]), np.array([3, 2])],
        lambda a: a[a.shape[0] - 1, [1, 0]],
        lambda a: a[np.array([True, False, True])],
        lambda a: (
            np.zeros_like(a) + np.ones_like(a, dtype=np.float32) + a.copy().astype(np.float32)
        ),
        lambda a: np.broadcast_to(a[0], (3, 4)) + np.zeros(a.shape),
        lambda a: sum(row.sum() for row in a),  # iteration over an example's rows
    ],
)
def test_shapes_and_indexing_batch(fn):
    _check(fn, A)


def test_indexing_with_advanced_indices_apart():
    """Advanced indices with a slice between them put their axes first: the batch axis
    must follow them."""
    c = RNG.standard_normal((4, 3, 5, 6))
    _check(lambda x: x[[0, 2], :, [1, 4]], c)
    _check(lambda x: x[0, :, [1, 3, 4]], c)


@pytest.mark.parametrize(
    "in_axes, out_axes",
    [((1, None), 0), ((-1, None), 1), ((2, 0), -1), ((0, None), -2)],
)
def test_axes_of_a_batched_run(in_axes, out_axes):
    a = RNG.standard_normal((4, 3, 4))
    other = RNG.standard_normal((4, 4)) if in_axes[1] is not None else RNG.standard_normal(3)
    _check(lambda x, y: np.tanh(x) * y.sum() + x.mean(), a, other, in_axes=in_axes,
           out_axes=out_axes)  # fmt: skip


def test_a_dict_and_tuple_result_batch():
    def f(a, b):
        return {"prod": a * b, "pair": (a.sum(), b)}

    a = RNG.standard_normal((5, 3))
    mapped = sd.vmap(f, in_axes=(0, None))
    out = mapped(a, np.arange(3.0))
    assert mapped._last_batched
    np.testing.assert_allclose(out["prod"], a * np.arange(3.0), rtol=1e-15)
    np.testing.assert_allclose(out["pair"][0], a.sum(axis=1), rtol=1e-13)
    np.testing.assert_array_equal(out["pair"][1], np.broadcast_to(np.arange(3.0), (5, 3)))
    shared = sd.vmap(lambda a, b: (a.sum(), b), in_axes=(0, None), out_axes=(0, None))
    b = np.arange(3.0)
    total, same = shared(a, b)
    assert shared._last_batched and same is b  # a shared result is the caller's array


def test_nested_maps_batch_the_inner_map():
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((5, 3))
    inner = sd.vmap(lambda u, v: ((u - v) ** 2).sum(), (None, 0))
    outer = sd.vmap(inner, (0, None))
    np.testing.assert_allclose(outer(a, b), ((a[:, None] - b[None]) ** 2).sum(-1), rtol=1e-13)
    assert inner._last_batched  # the outer map loops; each inner call is one batch


def _linear_loss(w, x, y):
    return (x @ w - y) ** 2 * 0.5


def _mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    return np.mean((out - y) ** 2) + 0.01 * np.sum(w1**2)


def test_per_example_gradients_of_a_linear_regression_batch():
    w, x, y = RNG.standard_normal(3), RNG.standard_normal((8, 3)), RNG.standard_normal(8)
    mapped = sd.vmap(sd.grad(_linear_loss), in_axes=(None, 0, 0))
    out = mapped(w, x, y)
    assert mapped._last_batched
    loop = np.stack([sd.grad(_linear_loss)(w, x[i], y[i]) for i in range(8)])
    np.testing.assert_allclose(out, loop, rtol=1e-12)
    np.testing.assert_allclose(out, (x @ w - y)[:, None] * x, rtol=1e-12)  # by hand
    assert "_linear_loss_adjoint" in sd.source(mapped._fn)


def test_per_example_gradients_of_an_mlp_batch():
    params = (RNG.standard_normal((3, 5)), RNG.standard_normal(5),
              RNG.standard_normal((5, 2)), RNG.standard_normal(2))  # fmt: skip
    x, y = RNG.standard_normal((7, 3)), RNG.standard_normal((7, 2))
    mapped = sd.vmap(sd.value_and_grad(_mlp_loss), in_axes=(None, 0, 0))
    values, grads = mapped(params, x, y)
    assert mapped._last_batched and isinstance(grads, tuple)
    for i in range(7):
        value_i, grads_i = sd.value_and_grad(_mlp_loss)(params, x[i], y[i])
        np.testing.assert_allclose(values[i], value_i, rtol=1e-12)
        for g, g_i in zip(grads, grads_i, strict=True):
            np.testing.assert_allclose(g[i], g_i, rtol=1e-11, atol=1e-14)
    # and against finite differences, for one example
    eps, k = 1e-6, (1, 2)
    up = [p.copy() for p in params]
    down = [p.copy() for p in params]
    up[0][k] += eps
    down[0][k] -= eps
    slope = (_mlp_loss(up, x[3], y[3]) - _mlp_loss(down, x[3], y[3])) / (2 * eps)
    np.testing.assert_allclose(grads[0][3][k], slope, rtol=1e-6)


def test_per_example_gradients_with_respect_to_the_mapped_argument_batch():
    def f(x, w):
        return np.sum(np.sin(x[1:] * w) ** 2) + x[0] * x.max()

    x, w = RNG.standard_normal((6, 4)), RNG.standard_normal(3)
    mapped = sd.vmap(sd.grad(f), in_axes=(0, None))
    out = mapped(x, w)
    assert mapped._last_batched
    np.testing.assert_allclose(out, np.stack([sd.grad(f)(xi, w) for xi in x]), rtol=1e-12)


def _branchy(x):
    if x.sum() > 0:  # a branch on each example's data
        return np.sum(x**2)
    return -np.sum(x)


@pytest.mark.parametrize(
    "fn",
    [
        _branchy,
        lambda x: float(x[0]) * x,
        lambda x: x * x.item(0),
        lambda x: np.asarray(x) * 2.0,
        lambda x: np.sort(x),  # no rule
        lambda x: np.linalg.norm(x) * x,
        lambda x: np.array([x.sum(), x.max()]),
        lambda x: x[np.argmax(x)] + 0.0,  # an index that is a batch
        lambda x: x[x > 0].sum(),
        lambda x: x * len(str(x)),  # text of each example
    ],
)
def test_what_has_no_rule_falls_back_to_the_loop(fn):
    x = RNG.standard_normal((6, 4))
    _check(fn, x, batched=False)


def test_in_place_writes_fall_back_and_update_as_the_loop_does():
    def write(x, acc):
        y = x * 1.0
        y[0] = 5.0
        acc += 1.0  # a shared array updated by every example
        return y + acc

    x = RNG.standard_normal((4, 3))
    acc, acc_loop = np.zeros(3), np.zeros(3)
    mapped = sd.vmap(write, in_axes=(0, None))
    out = mapped(x, acc)
    assert not mapped._last_batched
    loop = np.stack([write(xi, acc_loop) for xi in x])
    np.testing.assert_array_equal(out, loop)
    np.testing.assert_array_equal(acc, acc_loop)  # updated four times, not once

    def add_into(x):
        x += 1.0  # the caller's array, through each example's view
        return x.sum()

    x_loop = x.copy()
    mapped = sd.vmap(add_into)
    out = mapped(x)
    assert not mapped._last_batched
    np.testing.assert_array_equal(out, [add_into(xi) for xi in x_loop])
    np.testing.assert_array_equal(x, x_loop)


def test_random_draws_fall_back_to_one_draw_per_example():
    np.random.seed(3)
    mapped = sd.vmap(lambda x: x + np.random.standard_normal(x.shape))
    out = mapped(np.zeros((3, 2)))
    assert not mapped._last_batched
    np.random.seed(3)
    np.testing.assert_array_equal(out, [np.random.standard_normal(2) for _ in range(3)])


def test_a_branchy_gradient_falls_back():
    mapped = sd.vmap(sd.grad(loss), in_axes=(None, 0, 0))
    mapped(W, X, Y)
    assert not mapped._last_batched


def test_a_gradient_inside_a_batched_function_gives_the_loops_result():
    g = sd.grad(_cubes)
    x = RNG.standard_normal((4, 3))
    _check(lambda v: g(v) * 2.0, x, batched=_batched_or_not(lambda v: g(v) * 2.0, x))


def _batched_or_not(fn, *args):
    mapped = sd.vmap(fn)
    mapped(*args)
    return mapped._last_batched


def test_dtypes_and_python_numbers_match_the_loop():
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    _check(lambda v: v * 2.0 + np.float32(1.0), x)
    _check(lambda v: v.sum() * 3, x)
    _check(lambda v: 2.5, x)  # a result every example shares
    _check(lambda v: (v > 0).sum(), x)


def test_writes_into_new_arrays_batch():
    def fill(x):
        y = np.zeros_like(x)
        y[1:] = x[:-1] * 2.0
        y[0] += x.sum()
        y[[0, 2]] = y[[2, 0]]
        y *= 0.5
        return y

    _check(fill, RNG.standard_normal((5, 4)))
    _check(fill, RNG.standard_normal((3, 4, 2)))


BATTERY = [c for c in CASES if not c.xfail and not c.kwargs]


@pytest.mark.parametrize("case", BATTERY, ids=[c.name for c in BATTERY])
def test_per_example_gradients_of_the_battery_are_the_loops(case):
    """Every function of the gradient battery, its array arguments mapped: the map (batched
    or not) gives each example's gradient, or the error the loop gives."""
    examples = [case.args(seed=s) for s in range(3)]
    axes = tuple(0 if isinstance(k, Array) and k.shape else None for k in case.kinds)
    if all(axis is None for axis in axes):
        pytest.skip("no array argument to map")

    args = [np.stack([e[i] for e in examples]) if axis == 0 else examples[0][i]
            for i, axis in enumerate(axes)]  # fmt: skip
    shared = [i for i, axis in enumerate(axes) if axis is None]
    loop_args = [
        [examples[b][i] if i not in shared else examples[0][i] for i in range(len(axes))]
        for b in range(3)
    ]
    gradient = sd.grad(case.fn, wrt=case.wrt)
    try:
        loop = [gradient(*copy.deepcopy(loop_args[b])) for b in range(3)]
    except Exception as error:  # the map must raise the same
        with pytest.raises(type(error)):
            sd.vmap(gradient, in_axes=axes)(*copy.deepcopy(args))
        return
    out = sd.vmap(sd.grad(case.fn, wrt=case.wrt), in_axes=axes)(*copy.deepcopy(args))
    for b in range(3):
        mapped = [leaf[b] for leaf in _leaves(out)]
        expected = _leaves(loop[b])
        assert len(mapped) == len(expected)
        for m, e in zip(mapped, expected, strict=True):
            assert np.shape(m) == np.shape(e)
            np.testing.assert_allclose(m, e, rtol=1e-9, atol=1e-12)


def test_a_write_by_advanced_indices_apart_places_a_value_not_batched():
    """``y[[0, 1], :, [1, 2]] = v`` puts the indexed axes before the batch's: a value that
    is not batched is laid out around the batch axis, not broadcast against it (with two
    examples, a value of 2 rows would otherwise fill example b's rows with row b)."""

    def write(x):
        y = x * 1.0
        y[[0, 1], :, [1, 2]] = np.arange(8.0).reshape(2, 4)
        return y

    _check(write, RNG.standard_normal((2, 3, 4, 5)))


def test_powers_by_the_operator_match_the_loop():
    """``**`` is not always ``np.power``: an array's operator takes shortcuts (a bool
    array squared stays int8), NumPy scalars raise by C's pow (``-inf ** 0.5`` is inf)."""
    x = np.array([[1.0, -2.0, 0.5], [-np.inf, 3.0, -0.0]])
    _check(lambda v: (v > 0) ** 2, x)
    _check(lambda v: v.astype(np.float16) ** 0.5, x)
    _check(lambda v: (v + 0j) ** -1, x)
    _check(lambda v: np.abs(v).sum() ** 0.5, x)
    _check(lambda v: v[0] ** 0.5, x, batched=False)


def test_an_update_of_a_number_does_not_reach_its_other_names():
    """A NumPy scalar's ``+=`` makes a new one: another name for it, or the array it was
    read from, keeps its value."""

    def renamed(v):
        s = v.sum()
        t = s
        s += 1.0
        return t + 0.0 * s

    def read_from(v):
        z = v * 1.0
        s = z[0]
        s *= 3.0
        z[1] += s
        return z

    x = RNG.standard_normal((4, 3))
    _check(renamed, x)
    _check(read_from, x)

    def through_a_view(v):
        z = v * 1.0
        e = z[..., 0]  # a 0-d array: its update reaches z
        e += 1.0
        return z

    _check(through_a_view, x, batched=False)


def test_a_python_complex_and_a_number_are_left_to_the_loop():
    x = np.array([[1.0, -1.0], [2.0, 3.0]])
    with pytest.raises(ZeroDivisionError):
        sd.vmap(lambda v: 1j / v.sum())(x)


SEEN: list = []
COUNTER = np.zeros(1)
GEN = np.random.default_rng(2)
BUFFER = np.zeros((3, 4))


def _buffer():
    return BUFFER


def test_what_a_function_changes_outside_changes_once_per_example():
    """A function that changes something outside itself (a global list, a global array,
    a generator's state, an array a function of the user's hands back) runs once per
    example, so it changes what the loop changes: a batched run would change it once."""

    def appends(v):
        SEEN.append(1)
        return v * 2.0

    def counts(v):
        COUNTER[0] += 1.0
        return v.sum()

    def draws(v):
        return v + GEN.normal(size=v.shape)

    def writes_a_global(v):
        b = _buffer()
        b[0] = v[0]
        return v * 1.0

    x = RNG.standard_normal((4, 3, 4))
    for fn, state in [
        (appends, lambda: len(SEEN)),
        (counts, lambda: float(COUNTER[0])),
        (writes_a_global, lambda: BUFFER.copy()),
    ]:
        start = state()
        mapped = sd.vmap(fn)
        out = mapped(x)
        assert mapped._last_batched is False
        after_map = state()
        reference = _loop(fn, (x,), 0, 0)
        if fn is writes_a_global:  # the last example's row, as the loop leaves it
            np.testing.assert_array_equal(after_map, state())
        else:  # changed as often as by the loop
            assert after_map - start == state() - after_map == x.shape[0]
        np.testing.assert_allclose(out, reference)
    global GEN
    GEN = np.random.default_rng(2)
    mapped = sd.vmap(draws)
    out = mapped(x)
    assert mapped._last_batched is False
    GEN = np.random.default_rng(2)
    np.testing.assert_array_equal(out, _loop(draws, (x,), 0, 0))


def test_vjp_and_the_reverse_jacobian_of_a_mapped_function_use_its_rule():
    """They compiled MappedFunction.__call__ itself, and refused it at srcdiff's own line."""
    mapped = sd.vmap(lambda x: np.sin(x) * x.sum())
    x = np.array([[0.1, 0.2], [0.3, -0.4]])
    u = np.array([[1.0, 2.0], [-1.0, 0.5]])
    _, pull = sd.vjp(mapped, x)
    want = numeric_grad(lambda z: np.sum(u * mapped(z)), (x,))
    np.testing.assert_allclose(pull(u)[0], want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        sd.jacobian(mapped, mode="rev")(x), sd.jacobian(mapped, mode="fwd")(x), atol=1e-12
    )


def caught(x):
    try:
        if x.sum() > 0:
            return x * 2.0
        return -x
    except Exception:
        return x * 0.0


def rounded_or_seven(v):
    try:
        k = round(v)
    except TypeError:
        k = 7
    return v * k


def summed_if_an_array(x):
    if isinstance(x, np.ndarray):
        return x.sum()
    return x * 2.0


def scaled_loss(w, v):
    scale = 10.0 if isinstance(v, float) else 1.0
    return np.sum(w**2) * scale * v


def tangent_through_jvp(x, w, t):
    return sd.jvp(summed_if_an_array_of(w), (x,), (t,))[1]


def summed_if_an_array_of(w):
    return lambda x: np.sum(x * w) if isinstance(x, np.ndarray) else np.sum(w) * x


def _looped(fn, in_axes, args, size):
    """``fn`` of each example, stacked: what vmap must give."""
    return np.stack([
        fn(*(a if axis is None else a[b] for a, axis in zip(args, in_axes, strict=True)))
        for b in range(size)
    ])  # fmt: skip


@pytest.mark.parametrize(
    "fn, in_axes, args",
    [
        (caught, (0,), (np.array([[1.0, 2.0], [-1.0, -2.0], [3.0, -1.0]]),)),
        (rounded_or_seven, (0,), (np.array([1.4, 2.6, -0.7]),)),
        (summed_if_an_array, (0,), (np.arange(6.0).reshape(3, 2),)),
        (sd.grad(scaled_loss, wrt=1), (None, 0), (np.array([1.0, 2.0]), np.array([0.5, 1.0]))),
    ],
)
def test_a_try_or_an_isinstance_runs_example_by_example(fn, in_axes, args):
    """Run on the whole batch, a user's ``except`` caught the batch's refusal of a step
    (its handler ran for every example) and ``isinstance`` saw the batch: the results
    were wrong, silently. Such functions run example by example."""
    mapped = sd.vmap(fn, in_axes=in_axes)(*args)
    size = len(args[in_axes.index(0)])
    assert np.allclose(mapped, _looped(fn, in_axes, args, size))


def test_a_function_handed_to_jvp_inside_the_map_is_looked_at_too():
    x, w = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0, 3.0])
    mapped = sd.vmap(tangent_through_jvp, in_axes=(0, None, 0))(x, w, x)
    assert np.allclose(mapped, _looped(tangent_through_jvp, (0, None, 0), (x, w, x), 2))


def first_of_pair(x, w):
    a, b = sd.vmap(lambda xi, wi: (np.tanh(xi * wi).sum(), xi * wi), in_axes=(0, None))(x, w)
    return np.sum(a**2)


def test_a_mapped_result_left_unused_gets_a_zero_gradient():
    """The cotangent of a result left unused is None: taking an example of it crashed."""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(3, 4)), rng.normal(size=(4,))

    def loop(x, w):
        return sum(np.tanh(x[i] * w).sum() ** 2 for i in range(3))

    assert np.allclose(sd.grad(first_of_pair, wrt=1)(x, w), sd.grad(loop, wrt=1)(x, w))


def by_its_class(x):
    if x.__class__ is np.float64:
        return x * 2.0
    return x * 3.0


def by_builtins_isinstance(x):
    if builtins.isinstance(x, float):
        return x * 2.0
    return x * 3.0


@pytest.mark.parametrize("fn", [by_its_class, by_builtins_isinstance])
def test_a_look_at_the_class_by_any_path_runs_example_by_example(fn):
    x = np.array([1.0, 2.0])
    assert np.allclose(sd.vmap(fn)(x), _looped(fn, (0,), (x,), 2))


def _swap(x):
    y = x.copy()
    y[0], y[1] = y[1], y[0]
    return y


def _saved_then_zeroed(x):
    y = x.copy()
    old = y[0]
    y[0] = 0.0
    return old + y.sum()


def _running_sum(x):
    y = x.copy()
    prev = y[0]
    for i in range(1, 3):
        cur = y[i]
        y[i] = cur + prev
        prev = cur
    return y


def _write_through_ravel(x):
    y = (x.reshape(2, 2) * 1.0)[:, 0]  # strided: ravel copies it
    r = y.ravel()
    r[0] = 99.0
    s = np.ravel(y)
    s[1] = 77.0
    return y


@pytest.mark.parametrize("fn", [_swap, _saved_then_zeroed, _running_sum, _write_through_ravel])
def test_a_number_read_or_a_raveled_copy_does_not_see_later_writes(fn):
    """An element read by integers is each example's number, a copy, and ``ravel`` of a
    strided vector copies it: batched, both were views, and later writes changed them."""
    x = np.arange(8.0).reshape(2, 4)
    mapped = sd.vmap(fn)
    np.testing.assert_array_equal(mapped(x), _loop(fn, (x,), 0))
    assert mapped._last_batched


def test_the_gradient_through_a_map_of_one_list_argument():
    """The mapped pullback's gradient of a single list argument is that list: it was
    read as one gradient per argument, which spread the first entry's rows over both."""
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def f(pair):
        return np.sum(sd.vmap(lambda p: p[0] * p[1])(pair))

    got = sd.grad(f)([x, 2 * x])
    np.testing.assert_allclose(got[0], 2 * x)
    np.testing.assert_allclose(got[1], x)
    both = sd.grad(lambda a, b: f((a, b)), wrt=(0, 1))(x, 2 * x)
    np.testing.assert_allclose(both[0], 2 * x)
    np.testing.assert_allclose(both[1], x)


def test_keywords_of_a_mapped_function_under_a_derivative():
    """Keywords are every example's: the mapped rules did not take them (TypeError)."""
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def body(r, *, s=1.0):
        return np.sin(r) * s

    got = sd.grad(lambda a: np.sum(sd.vmap(body)(a, s=2.0)))(x)
    np.testing.assert_allclose(got, 2.0 * np.cos(x))
    tangent = sd.jvp(lambda a: sd.vmap(body)(a, s=2.0), (x,), (np.ones_like(x),))[1]
    np.testing.assert_allclose(tangent, 2.0 * np.cos(x))
    # a differentiated keyword is every example's too (it was refused)
    by_keyword = sd.grad(lambda a, t: np.sum(sd.vmap(body)(a, s=t)), wrt=1)(x, 2.0)
    assert by_keyword == pytest.approx(np.sum(np.sin(x)), rel=1e-12)


def _scaled_rows(r, w=1.0):
    return np.sum(np.tanh(r * w))


def _keyword_carries_the_derivative(w, x):
    return np.sum(sd.vmap(_scaled_rows)(x, w=w))


def _by_position_unmapped(w, x):
    return np.sum(sd.vmap(_scaled_rows, in_axes=(0, None))(x, w))


@pytest.mark.parametrize("mode", ["grad", "jvp", "hessian"])
def test_a_derivative_through_a_keyword_of_a_mapped_function(mode):
    """It was refused (the mapped rules differentiate positional arguments): the call
    is that of the map taking the keyword by position, mapped along no axis."""
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]) / 5
    w = np.array([0.5, -1.0])
    run = {
        "grad": lambda f: sd.grad(f)(w, x),
        "jvp": lambda f: sd.jvp(f, (w, x), (w, 0 * x))[1],
        "hessian": lambda f: sd.hessian(f)(w, x),
    }[mode]
    want = run(lambda w, x: sum(_scaled_rows(r, w) for r in x))
    np.testing.assert_allclose(run(_keyword_carries_the_derivative), want, rtol=1e-12)
    np.testing.assert_allclose(run(_by_position_unmapped), want, rtol=1e-12)


def test_a_derivative_through_a_keyword_only_parameter_of_a_mapped_function():
    def body(r, *, s):
        return np.sum(np.sin(r) * s)

    def keyword(t, x):
        return np.sum(sd.vmap(body, in_axes=(1,))(x, s=t))

    x = np.arange(6.0).reshape(2, 3)
    assert sd.grad(keyword)(2.0, x) == pytest.approx(np.sum(np.sin(x)), rel=1e-12)  # (refused)
    assert sd.hessian(keyword)(2.0, x) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(sd.grad(keyword, wrt=1)(2.0, x), 2.0 * np.cos(x), rtol=1e-12)


def _row_loss(r, w):
    return (r.tanh() @ w).sin().sum() * r.sum()


@pytest.mark.parametrize("in_axes, out_axes", [((0, None), 0), ((1, None), -1)])
def test_a_map_over_tensors_records_and_its_gradients_reach_them(in_axes, out_axes):
    """Eagerly on Tensors that require grad, the map failed as it stacked the results
    (numpy() of a Tensor that requires grad): its result is a Tensor, as the loop's
    examples joined by sd.stack, and backward() reaches the mapped and shared inputs."""
    x0 = RNG.standard_normal((4, 3))
    w0 = RNG.standard_normal(x0.shape[1 - in_axes[0]])  # an example's length
    x = sd.tensor(x0, requires_grad=True)
    w = sd.tensor(w0, requires_grad=True)
    mapped = sd.vmap(lambda r, p: _row_loss(r, p) * r, in_axes=in_axes, out_axes=out_axes)(x, w)
    rows = x.unbind(in_axes[0])
    loop = sd.stack([_row_loss(r, w) * r for r in rows], dim=out_axes)
    assert isinstance(mapped, sd.Tensor) and mapped.requires_grad
    np.testing.assert_allclose(mapped.detach().numpy(), loop.detach().numpy(), rtol=1e-13)
    c = RNG.standard_normal(tuple(mapped.shape))
    (mapped * sd.tensor(c)).sum().backward()

    def plain(x0, w0):
        rows = np.moveaxis(x0, in_axes[0], 0)
        each = [np.sum(np.sin(np.tanh(r) @ w0)) * np.sum(r) * r for r in rows]
        return np.sum(np.stack(each, axis=out_axes) * c)

    for i, t in enumerate((x, w)):
        for eps in (1e-5, 1e-6):
            expected = numeric_grad(plain, (x0, w0), wrt=i, eps=eps)
            np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-6, atol=1e-8)


def test_a_map_over_tensors_gives_a_tensor_without_a_gradient_too():
    """Tensors not requiring grad gave a NumPy array; the map of Tensors is a Tensor."""
    x = sd.tensor(RNG.standard_normal((3, 2)))
    out = sd.vmap(lambda r: r * 2.0)(x)
    assert isinstance(out, sd.Tensor) and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), x.numpy() * 2.0)


def test_a_shared_result_of_tensors_carrying_a_gradient_is_refused():
    """out_axes=None keeps one example's result for all: with a gradient, whose would be
    a guess (as the compiled map's derivative refuses it)."""
    x = sd.tensor(RNG.standard_normal((3, 2)), requires_grad=True)
    with pytest.raises(ValueError, match="out_axes=None for a result that carries a gradient"):
        sd.vmap(lambda r: r.sum() * 0.0, out_axes=None)(x)


def test_a_shared_result_of_tensors_not_reaching_the_mapped_ones_is_every_examples():
    """As in torch.func.vmap: out_axes=None for a result that depends on shared Tensors
    alone is every example's (the same value, the same graph): its gradient reaches them."""
    w = sd.tensor(RNG.standard_normal(2), requires_grad=True)
    x = sd.tensor(RNG.standard_normal((3, 2)), requires_grad=True)
    shared, per_row = sd.vmap(lambda r: ((w * w).sum(), (r * w).sum()), out_axes=(None, 0))(x)
    (shared * 3.0 + (per_row**2).sum()).backward()
    wv, xv = w.detach().numpy(), x.detach().numpy()
    np.testing.assert_allclose(w.grad.numpy(), 6.0 * wv + 2.0 * (xv @ wv) @ xv, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.outer(xv @ wv, wv), rtol=1e-6)
    with pytest.raises(ValueError, match="carries a gradient from a mapped argument"):
        sd.vmap(lambda r: (r * w).sum() * 0.0 + w.sum(), out_axes=None)(x)


def _mapped_in_tensor_code(x):
    y = sd.vmap(_row_loss, in_axes=(0, None))(x, x[0])
    s = y.sum()
    s.backward()
    return s


def _row_loss_of_arrays(x):
    """``_mapped_in_tensor_code``'s loss on arrays, for finite differences."""
    w = x[0]
    return sum(np.sum(np.sin(np.tanh(r) @ w)) * np.sum(r) for r in x)


def test_a_map_inside_a_function_differentiated_on_tensors_matches_differences():
    """It was refused (srcdiff differentiated calls of sd.vmap in code on arrays only);
    the map's examples are calls of the function, joined by ``sd.stack``, compiled as
    that code's callees are: the same gradient as eager code, and as differences."""
    data = RNG.standard_normal((3, 3))
    x = sd.tensor(data, requires_grad=True)
    value = sd.differentiate(_mapped_in_tensor_code)(x)
    assert float(value) == pytest.approx(_row_loss_of_arrays(data), rel=1e-12)
    want = [numeric_grad(_row_loss_of_arrays, (data,), eps=h) for h in (1e-5, 2e-5)]
    np.testing.assert_allclose(want[0], want[1], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(x.grad.numpy(), want[0], rtol=1e-6, atol=1e-9)
    eager = sd.tensor(data, requires_grad=True)
    sd.vmap(_row_loss, in_axes=(0, None))(eager, eager[0]).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), eager.grad.numpy(), rtol=1e-12)


class _MappedModel(sd.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = sd.nn.Parameter(sd.tensor(RNG.standard_normal(3)))

    def row(self, r, v):
        return (r * self.w * v).tanh().sum() ** 2

    def forward(self, x, v):
        return sd.vmap(self.row, in_axes=(0, None))(x, v).sum()


_SHARED_MAP = sd.vmap(lambda r, v: (r * v).tanh().sum() ** 2, in_axes=(0, None))


def _shared_map_step(x, w):
    v = w * 3.0
    loss = _SHARED_MAP(x, v).sum() + w.sum()
    loss.backward()
    return loss


def test_a_map_in_a_compiled_forward_and_a_map_given_a_computed_tensor():
    """A Module's forward calling sd.vmap (was refused), and a map made outside called
    with a Tensor computed inside: its rule ran on arrays, so its result had no gradient
    for them (w.grad [1, 1, 1], eager's [0.52, -0.90, 2.77]); both now match eager code."""
    data = RNG.standard_normal((4, 3))
    model = _MappedModel()
    v = sd.tensor(RNG.standard_normal(3), requires_grad=True)

    @sd.differentiate
    def step(x, v):
        loss = model(x, v)
        loss.backward()
        return loss

    step(sd.tensor(data), v)
    compiled = model.w.grad.numpy().copy(), v.grad.numpy().copy()
    model.zero_grad()
    v.grad = None
    model(sd.tensor(data), v).backward()
    np.testing.assert_allclose(compiled[0], model.w.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(compiled[1], v.grad.numpy(), rtol=1e-12)

    w = sd.tensor(RNG.standard_normal(3), requires_grad=True)
    sd.differentiate(_shared_map_step)(sd.tensor(data), w)

    def loss_of_arrays(wv):
        return sum(np.sum(np.tanh(r * wv * 3.0)) ** 2 for r in data) + np.sum(wv)

    wv = w.detach().numpy()
    want = [numeric_grad(loss_of_arrays, (wv,), eps=h) for h in (1e-5, 2e-5)]
    np.testing.assert_allclose(want[0], want[1], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(w.grad.numpy(), want[0], rtol=1e-6, atol=1e-9)


def _shared_out_in_tensor_code(x):
    y = sd.vmap(lambda r: r.sum(), out_axes=None)(x)
    y.backward()
    return y


def _pair_in_tensor_code(x):
    a, b = sd.vmap(lambda r: (r.sum(), (r * r).sum()))(x)
    loss = a.sum() + b.sum()
    loss.backward()
    return loss


def test_a_map_inside_tensor_code_of_a_shared_result_is_refused_with_what_to_do():
    """A result shared by every example (``out_axes=None``) is refused there, at the
    user's line, saying what to write (its gradient would be one example's)."""
    x = sd.tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    with pytest.raises(sd.CompileError) as info:
        sd.differentiate(_shared_out_in_tensor_code)(x)
    message = str(info.value)
    line = _shared_out_in_tensor_code.__code__.co_firstlineno + 1
    assert f"{__file__}:{line})" in message
    assert "out_axes None" in message
    assert "map the result (out_axes=0)" in message


def _list_mapped(xs, w):
    return (xs[0] @ w).tanh() * xs[1].sum(), (xs[1] * w[:, 0]).sum()


@pytest.mark.parametrize("out", [0, (0, 0), (1, 0)])
def test_a_map_inside_tensor_code_of_tuples_lists_and_dicts_matches_differences(out):
    """Were refused: a function returning a tuple, a list or a dict argument, mapped in
    code differentiated on Tensors. Each result is joined by ``sd.stack`` along its
    out_axes entry, each entry of a mapped list taken along the axis."""
    data = RNG.standard_normal((4, 3))
    wdata = RNG.standard_normal((3, 2))
    x = sd.tensor(data, requires_grad=True)
    w = sd.tensor(wdata, requires_grad=True)
    mapped = sd.vmap(lambda r, w: _list_mapped([r, 2 * r], w), in_axes=(0, None), out_axes=out)
    given_list = sd.vmap(_list_mapped, in_axes=(0, None), out_axes=out)

    def step(x, w):
        a, s = mapped(x, w)
        a2, s2 = given_list([x, 2 * x], w)
        d = sd.vmap(lambda m, w: (m["x"] @ w).sum(), in_axes=(0, None))({"x": x}, w)
        loss = (a**2).sum() + s.sum() + (a2**2).sum() + s2.sum() + d.sum()
        loss.backward()
        return loss

    def of_arrays(xv, wv):
        axis = out if isinstance(out, int) else out[0]
        a = np.stack([np.tanh(r @ wv) * np.sum(2 * r) for r in xv], axis=axis)
        s = np.sum(2 * xv @ wv[:, 0])
        return 2 * np.sum(a**2) + 2 * s + np.sum(xv @ wv)

    value = sd.differentiate(step)(x, w)
    assert float(value) == pytest.approx(of_arrays(data, wdata), rel=1e-12)
    for got, at, fn in (
        (x, 0, lambda v: of_arrays(v, wdata)),
        (w, 1, lambda v: of_arrays(data, v)),
    ):
        arg = (data, wdata)[at]
        want = [numeric_grad(fn, (arg,), eps=h) for h in (1e-5, 2e-5)]
        np.testing.assert_allclose(want[0], want[1], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(got.grad.numpy(), want[0], rtol=1e-6, atol=1e-9)


def _nested_in_tensor_code(x):
    a, (b, c) = sd.vmap(lambda r: (r.sum(), (r * r, r)))(x)
    loss = a.sum() + b.sum() + c.sum()
    loss.backward()
    return loss


def _dict_in_tensor_code(x):
    d = sd.vmap(lambda r: {"s": r.sum()})(x)
    loss = d["s"].sum()
    loss.backward()
    return loss


@pytest.mark.parametrize("fn", [_nested_in_tensor_code, _dict_in_tensor_code])
def test_a_map_inside_tensor_code_of_nested_results_is_refused_with_what_to_do(fn):
    two = sd.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    with pytest.raises(sd.CompileError) as info:
        sd.differentiate(fn)(two)
    line = fn.__code__.co_firstlineno + 1
    assert f"{__file__}:{line})" in str(info.value)
    assert "one tuple" in str(info.value)


def _empty_list_first(xs, x):
    r = sd.vmap(lambda qs, q: (q * q).sum() + len(qs))(xs, x)
    loss = r.sum()
    loss.backward()
    return loss


def test_a_map_inside_tensor_code_of_an_empty_list_first_takes_the_size_of_the_next():
    """An empty list mapped before a Tensor: the number of examples is the Tensor's (the
    map of source read the list's first entry, an IndexError)."""
    data = RNG.standard_normal((4, 3))
    x = sd.tensor(data, requires_grad=True)
    value = sd.differentiate(_empty_list_first)([], x)
    assert float(value) == pytest.approx(np.sum(data**2), rel=1e-12)
    want = [numeric_grad(lambda v: np.sum(v**2), (data,), eps=h) for h in (1e-5, 2e-5)]
    np.testing.assert_allclose(want[0], want[1], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(x.grad.numpy(), want[0], rtol=1e-6, atol=1e-9)
