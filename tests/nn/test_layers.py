"""Linear (initialisation, forward, gradients), Sequential, the activations and Dropout."""

import math
from collections import OrderedDict

import numpy as np
import pytest

from srcdiff import nn
from srcdiff.creation import manual_seed, ones, randn, tensor
from srcdiff.dtypes import float64
from srcdiff.testing import numeric_grad

RNG = np.random.default_rng(3)


@pytest.fixture(autouse=True)
def seed():
    manual_seed(0)


# ---- Linear ---------------------------------------------------------------------------


def test_linear_shapes_and_repr():
    layer = nn.Linear(3, 5)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (5,)
    assert repr(layer) == "Linear(in_features=3, out_features=5, bias=True)"
    no_bias = nn.Linear(3, 5, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    assert repr(no_bias) == "Linear(in_features=3, out_features=5, bias=False)"
    assert nn.Linear(2, 2, dtype=float64).weight.dtype == float64


def test_linear_init_is_uniform_within_one_over_sqrt_fan_in():
    layer = nn.Linear(100, 400)
    bound = 1 / math.sqrt(100)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert -bound <= w.min() < -0.99 * bound and 0.99 * bound < w.max() <= bound
    assert abs(w.mean()) < 0.01 and abs(w.std() - bound / math.sqrt(3)) < 0.005
    assert -bound <= b.min() and b.max() <= bound and b.std() > 0.5 * bound / math.sqrt(3)


def test_linear_init_follows_manual_seed():
    manual_seed(42)
    first = nn.Linear(4, 3).state_dict()
    manual_seed(42)
    again = nn.Linear(4, 3).state_dict()
    other = nn.Linear(4, 3).state_dict()
    assert all(np.array_equal(first[k].numpy(), again[k].numpy()) for k in first)
    assert not np.array_equal(first["weight"].numpy(), other["weight"].numpy())


def test_linear_forward_is_x_weight_transposed_plus_bias():
    layer = nn.Linear(3, 2)
    x = randn(4, 3)
    expected = x.numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    assert np.allclose(layer(x).detach().numpy(), expected, atol=1e-6)
    assert layer(randn(3)).shape == (2,)


def test_linear_gradients_match_finite_differences():
    layer = nn.Linear(3, 2).double()
    x = RNG.normal(size=(4, 3))

    def loss(w, b):
        return float(np.sum(np.tanh(x @ w.T + b) ** 2))

    (layer(tensor(x)).tanh() ** 2).sum().backward()
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    expected_w, expected_b = numeric_grad(loss, [w.copy(), b.copy()], wrt=(0, 1))
    assert np.allclose(layer.weight.grad.numpy(), expected_w, atol=1e-7)
    assert np.allclose(layer.bias.grad.numpy(), expected_b, atol=1e-7)


# ---- Sequential -----------------------------------------------------------------------


def test_sequential_applies_modules_in_order():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    x = randn(5, 2)
    expected = model[2](model[1](model[0](x)))
    assert np.array_equal(model(x).detach().numpy(), expected.detach().numpy())


def test_sequential_indexing_length_iteration_and_slices():
    layers = [nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[2]
    head = model[1:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:]
    assert [name for name, _ in head.named_children()] == ["1", "2"]
    with pytest.raises(IndexError):
        model[3]  # noqa: B018


def test_sequential_from_an_ordered_dict_and_append():
    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("act", nn.Sigmoid())]))
    assert [name for name, _ in model.named_parameters()] == ["hidden.weight", "hidden.bias"]
    model.append(nn.ReLU())
    assert len(model) == 3 and isinstance(model[2], nn.ReLU)


def test_sequential_repr():
    assert repr(nn.Sequential(nn.Linear(1, 1), nn.Dropout(0.25))) == (
        "Sequential(\n"
        "  (0): Linear(in_features=1, out_features=1, bias=True)\n"
        "  (1): Dropout(p=0.25, inplace=False)\n"
        ")"
    )


# ---- activations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, reference",
    [
        (nn.ReLU(), lambda x: np.maximum(x, 0)),
        (nn.Tanh(), np.tanh),
        (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    ],
)
def test_activations(module, reference):
    x = RNG.normal(size=(3, 4))
    assert np.allclose(module(tensor(x)).numpy(), reference(x), atol=1e-12)
    assert repr(module) == f"{type(module).__name__}()"


# ---- Dropout --------------------------------------------------------------------------


def test_dropout_zeroes_about_p_and_scales_the_rest():
    x = ones(200, 100)
    out = nn.Dropout(0.3)(x).numpy()
    kept = out != 0
    assert np.allclose(out[kept], 1 / 0.7)
    assert abs(1 - kept.mean() - 0.3) < 0.02


def test_dropout_is_the_identity_in_eval_mode_and_for_p_zero():
    x = randn(10, 10)
    layer = nn.Dropout(0.5)
    layer.eval()
    assert layer(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)


def test_dropout_honours_the_model_mode():
    model = nn.Sequential(nn.Dropout(0.5))
    x = ones(50, 50)
    assert np.any(model(x).numpy() == 0)
    model.eval()
    assert np.all(model(x).numpy() == 1)


def test_dropout_follows_manual_seed_and_its_gradient_is_the_scaled_mask():
    x = randn(6, 6, requires_grad=True)
    manual_seed(5)
    out = nn.Dropout(0.5)(x)
    manual_seed(5)
    again = nn.Dropout(0.5)(x)
    assert np.array_equal(out.detach().numpy(), again.detach().numpy())
    out.sum().backward()
    mask = out.detach().numpy() != 0
    assert np.allclose(x.grad.numpy(), mask * 2.0)


def test_dropout_rejects_p_outside_zero_one():
    with pytest.raises(
        ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"
    ):
        nn.Dropout(1.5)


def test_the_new_modules_print_as_pytorchs():
    shown = [
        repr(m)
        for m in (
            nn.LeakyReLU(),
            nn.LeakyReLU(0.2, inplace=True),
            nn.ELU(0.5, True),
            nn.ReLU(inplace=True),
            nn.SiLU(),
            nn.GELU(approximate="tanh"),
            nn.Softplus(beta=2.0),
            nn.Flatten(),
            nn.Softmax(dim=1),
            nn.Dropout(0.3, inplace=True),
        )
    ]
    assert shown == [
        "LeakyReLU(negative_slope=0.01)",
        "LeakyReLU(negative_slope=0.2, inplace=True)",
        "ELU(alpha=0.5, inplace=True)",
        "ReLU(inplace=True)",
        "SiLU()",
        "GELU(approximate='tanh')",
        "Softplus(beta=2.0, threshold=20.0)",
        "Flatten(start_dim=1, end_dim=-1)",
        "Softmax(dim=1)",
        "Dropout(p=0.3, inplace=True)",
    ]
