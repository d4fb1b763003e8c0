"""nn.utils.clip_grad_norm_ and clip_grad_value_: the norm of all gradients together,
gradients scaled by min(1, max_norm / (norm + 1e-6)) or clamped, in place."""

import math

import numpy as np
import pytest

from srcdiff import differentiate, nn
from srcdiff.creation import manual_seed, randn, tensor
from srcdiff.nn.utils import clip_grad_norm_, clip_grad_value_
from srcdiff.optim import SGD
from srcdiff.tensor import Tensor


def params_with_grads(*grads, dtype=np.float64):
    params = []
    for g in grads:
        p = tensor(np.zeros(np.shape(g), dtype=dtype), requires_grad=True)
        p.grad = tensor(np.array(g, dtype=dtype))
        params.append(p)
    return params


def grads_of(params):
    return [p.grad.tolist() for p in params]


def test_total_norm_across_two_parameters_by_hand():
    # |(3, 4)| = 5 and |(12,)| = 12: together sqrt(25 + 144) = 13
    a, b = params_with_grads([3.0, 4.0], [12.0])
    total = clip_grad_norm_([a, b], max_norm=6.5)
    assert isinstance(total, Tensor) and total.shape == () and total.item() == 13.0
    coef = 6.5 / (13.0 + 1e-6)
    assert np.allclose(a.grad.numpy(), [3 * coef, 4 * coef], rtol=0, atol=1e-15)
    assert np.allclose(b.grad.numpy(), [12 * coef], rtol=0, atol=1e-15)
    assert np.isclose(math.hypot(*a.grad.numpy(), *b.grad.numpy()), 6.5)


def test_no_scaling_below_max_norm():
    a, b = params_with_grads([3.0, 4.0], [12.0])
    total = clip_grad_norm_([a, b], max_norm=13.5)
    assert total.item() == 13.0
    assert grads_of([a, b]) == [[3.0, 4.0], [12.0]]


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, 0.5, math.inf, "inf"])
def test_norm_types_match_numpy(norm_type):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 2)), rng.normal(size=4), rng.normal(size=())]
    params = params_with_grads(*grads)
    flat = np.concatenate([np.ravel(g) for g in grads])
    order = float(norm_type)
    expected = (
        np.max(np.abs(flat)) if order == math.inf else np.sum(np.abs(flat) ** order) ** (1 / order)
    )
    total = clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type)
    assert np.isclose(total.item(), expected, rtol=1e-12)
    coef = 0.5 / (expected + 1e-6)
    for p, g in zip(params, grads, strict=True):
        assert np.allclose(p.grad.numpy(), g * coef, rtol=1e-12, atol=0)


def test_inf_norm_by_hand():
    a, b = params_with_grads([3.0, -4.0], [-12.0])
    total = clip_grad_norm_([a, b], max_norm=6.0, norm_type=float("inf"))
    assert total.item() == 12.0
    assert np.allclose(grads_of([a, b])[1], [-6.0], atol=1e-6)


def test_one_tensor_a_generator_and_parameters_without_grad():
    (a,) = params_with_grads([6.0, 8.0])
    assert clip_grad_norm_(a, 5.0).item() == 10.0
    assert np.allclose(a.grad.numpy(), [3.0, 4.0], atol=1e-6)
    (b,) = params_with_grads([6.0, 8.0])
    no_grad = tensor([100.0], requires_grad=True)
    total = clip_grad_norm_((p for p in [no_grad, b]), 5.0)
    assert total.item() == 10.0 and no_grad.grad is None


def test_nothing_to_clip():
    total = clip_grad_norm_([tensor([1.0], requires_grad=True)], 1.0)
    assert total.item() == 0.0 and total.dtype == tensor(0.0).dtype


def test_non_finite_norms():
    a, b = params_with_grads([1.0, math.inf], [2.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    assert grads_of([a, b]) == [[1.0, math.inf], [2.0]]  # left alone
    with np.errstate(invalid="ignore"):  # inf * 0, as PyTorch computes it
        assert clip_grad_norm_([a, b], 1.0).item() == math.inf
    assert np.array_equal(a.grad.numpy(), [0.0, math.nan], equal_nan=True)
    assert b.grad.tolist() == [0.0]
    (c,) = params_with_grads([math.nan])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(c, 1.0, error_if_nonfinite=True)


def test_float32_stays_float32():
    a, b = params_with_grads([3.0, 4.0], [12.0], dtype=np.float32)
    total = clip_grad_norm_([a, b], 1.0)
    assert total.dtype == a.dtype and a.grad.dtype == a.dtype
    assert np.allclose(a.grad.numpy(), [3 / 13, 4 / 13], atol=1e-6)


def test_in_place_on_the_grad_arrays():
    (a,) = params_with_grads([6.0, 8.0])
    grad, array, version = a.grad, a.grad._data, a.grad._version.value
    clip_grad_norm_(a, 1.0)
    clip_grad_value_(a, 0.1)
    assert a.grad is grad and a.grad._data is array and grad._version.value == version + 2


def test_clip_grad_value():
    a, b = params_with_grads([[0.5, -3.0], [2.0, -0.1]], [7.0])
    no_grad = tensor([100.0], requires_grad=True)
    assert clip_grad_value_([a, no_grad, b], clip_value=1) is None
    assert grads_of([a, b]) == [[[0.5, -1.0], [1.0, -0.1]], [1.0]]
    (c,) = params_with_grads([-5.0, 0.25, 5.0])
    clip_grad_value_(c, 0.25)
    assert c.grad.tolist() == [-0.25, 0.25, 0.25]


def test_clipping_in_a_training_step():
    manual_seed(0)
    model, x, y = nn.Linear(3, 2), randn(16, 3), 100 * randn(16, 2)
    optimizer = SGD(model.parameters(), lr=0.1)
    nn.functional.mse_loss(model(x), y).backward()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads))
    assert norm > 1 and np.isclose(clip_grad_norm_(model.parameters(), 1.0).item(), norm, rtol=1e-5)
    optimizer.step()
    moved = [b - p.detach().numpy() for b, p in zip(before, model.parameters(), strict=True)]
    assert np.isclose(
        np.sqrt(sum(np.sum(m.astype(np.float64) ** 2) for m in moved)), 0.1, rtol=1e-4
    )


def test_pytorchs_foreach_is_taken():
    p = tensor([3.0, 4.0], requires_grad=True)
    p.grad = tensor([3.0, 4.0])
    assert clip_grad_norm_([p], 1.0, foreach=False).item() == 5.0
    clip_grad_value_(p, 0.5, foreach=True)
    assert p.grad.tolist() == [0.5, 0.5]


def _clipped_steps(compiled: bool, clip) -> list[np.ndarray]:
    """Three SGD steps of a linear model with its gradients clipped by ``clip(model)``:
    the parameters after them."""
    manual_seed(0)
    model, x, y = nn.Linear(3, 2), randn(16, 3), 10 * randn(16, 2)
    optimizer = SGD(model.parameters(), lr=0.1)

    def step(x, y):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        clip(model)
        optimizer.step()
        return loss.item()

    if compiled:
        step = differentiate(step)
    for _ in range(3):
        step(x, y)
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize(
    "clip",
    [
        lambda m: clip_grad_norm_([m.weight, m.bias], 1.0),
        lambda m: clip_grad_value_([m.weight, m.bias], 0.5),
        lambda m: clip_grad_norm_((m.weight,), 0.5, norm_type=math.inf),
    ],
    ids=["norm", "value", "tuple"],
)
def test_a_display_of_parameters_clipped_in_a_compiled_step(clip):
    """``clip_grad_norm_([model.weight, model.bias], ...)`` in a compiled step is given the
    parameters (whose ``.grad`` it reads), not their arrays, as in eager code."""
    eager = _clipped_steps(False, clip)
    compiled = _clipped_steps(True, clip)
    for e, c in zip(eager, compiled, strict=True):
        np.testing.assert_array_equal(c, e)
