"""SGD against values worked out by hand (p = 1, lr = 0.1, gradient 1 at every step unless
said otherwise), and the stateless ``sgd`` on arrays."""

import numpy as np
import pytest

from srcdiff.optim import SGD
from srcdiff.optim.sgd import sgd

from .helpers import run_steps

ONES = [[1.0]] * 3


@pytest.mark.parametrize(
    "options, expected",
    [
        # p = p - 0.1 * 1
        ({}, [0.9, 0.8, 0.7]),
        # b = 1, 1.9, 2.71; p = p - 0.1 * b
        ({"momentum": 0.9}, [0.9, 0.71, 0.439]),
        # b = 1, 1.9, 2.71; p = p - 0.1 * (1 + 0.9 b)
        ({"momentum": 0.9, "nesterov": True}, [0.81, 0.539, 0.1951]),
        # b = 1 (no dampening on the first step), 0.9 + 0.5 = 1.4, 1.26 + 0.5 = 1.76
        ({"momentum": 0.9, "dampening": 0.5}, [0.9, 0.76, 0.584]),
        # g = 1 + 0.1 p: 1.1, 1.089, 1.07811
        ({"weight_decay": 0.1}, [0.89, 0.7811, 0.673289]),
        # g as above; b = 1.1, 0.99 + 1.089 = 2.079, 1.8711 + 1.06821 = 2.93931
        ({"momentum": 0.9, "weight_decay": 0.1}, [0.89, 0.6821, 0.388169]),
    ],
)
def test_steps_worked_by_hand(options, expected):
    values, _, _ = run_steps(lambda params: SGD(params, lr=0.1, **options), [1.0], ONES)
    assert np.allclose(np.ravel(values), expected, rtol=0, atol=1e-12)


def test_gradients_that_change_sign():
    # b = 2, 0.9 * 2 - 1 = 0.8; p = 1 - 0.2 = 0.8, 0.8 - 0.08 = 0.72
    values, _, optimizer = run_steps(
        lambda ps: SGD(ps, lr=0.1, momentum=0.9), [1.0], [[2.0], [-1.0]]
    )
    assert np.allclose(np.ravel(values), [0.8, 0.72], atol=1e-12)


def test_momentum_buffer_is_per_parameter_state():
    _, p, optimizer = run_steps(
        lambda ps: SGD(ps, lr=0.1, momentum=0.9), [1.0, 2.0], [[1.0, 0.0]] * 2
    )
    assert np.allclose(optimizer.state[p]["momentum_buffer"].numpy(), [1.9, 0.0])


def test_float32_stays_float32_and_no_graph_is_recorded():
    values, p, _ = run_steps(
        lambda ps: SGD(ps, lr=0.1, momentum=0.9), [1.0], ONES, dtype=np.float32
    )
    assert values[-1].dtype == np.float32 and np.allclose(values[-1], 0.439, atol=1e-6)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad


@pytest.mark.parametrize(
    "options, message",
    [
        ({"lr": -1}, "Invalid learning rate: -1"),
        ({"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
        ({"lr": 0.1, "weight_decay": -1}, "Invalid weight_decay value: -1"),
        ({"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
        (
            {"lr": 0.1, "nesterov": True, "momentum": 0.9, "dampening": 0.1},
            "Nesterov momentum requires a momentum and zero dampening",
        ),
    ],
)
def test_invalid_hyperparameters(options, message):
    from srcdiff.creation import zeros

    with pytest.raises(ValueError, match=f"^{message}$"):
        SGD([zeros(1, requires_grad=True)], **options)


def test_stateless_sgd_updates_arrays_in_place():
    param, buffers = np.array([1.0, 2.0]), [None]
    sgd([param], [np.array([1.0, 1.0])], buffers, lr=0.1, momentum=0.9)
    assert np.allclose(param, [0.9, 1.9]) and np.allclose(buffers[0], [1.0, 1.0])
    sgd([param], [np.array([1.0, 1.0])], buffers, lr=0.1, momentum=0.9)
    assert np.allclose(param, [0.71, 1.71]) and np.allclose(buffers[0], [1.9, 1.9])
