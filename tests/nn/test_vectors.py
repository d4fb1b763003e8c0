"""nn.utils.parameters_to_vector and vector_to_parameters, as PyTorch's: one vector of
all parameters (carrying their gradient), and parameters set to views of a vector."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import nn
from srcdiff.nn.utils import parameters_to_vector, vector_to_parameters


def _linear() -> nn.Linear:
    model = nn.Linear(3, 2).double()
    with sd.no_grad():
        model.weight.copy_(sd.tensor([[0.5, -1.25, 2.0], [1.5, 0.75, -0.3]], dtype=sd.float64))
        model.bias.copy_(sd.tensor([0.1, -0.2], dtype=sd.float64))
    return model


def test_parameters_to_vector_in_order_with_their_gradient():
    model = _linear()
    vec = parameters_to_vector(model.parameters())
    assert vec.tolist() == [0.5, -1.25, 2.0, 1.5, 0.75, -0.3, 0.1, -0.2]
    (vec**2 * sd.arange(8, dtype=sd.float64)).sum().backward()
    # d/dp of sum(k p_k^2): 2 k p_k, the vector's entry k laid back into each parameter
    expected = 2 * np.arange(8) * vec.detach().numpy()
    np.testing.assert_array_equal(model.weight.grad.numpy().ravel(), expected[:6])
    np.testing.assert_array_equal(model.bias.grad.numpy(), expected[6:])


def _trained(compiled: bool) -> np.ndarray:
    """Three SGD steps with an L2 penalty written with parameters_to_vector."""
    x = sd.tensor([[0.3, -0.7, 1.1], [0.9, 0.2, -0.4]], dtype=sd.float64)
    y = sd.tensor([[1.0, 0.0], [0.5, -1.0]], dtype=sd.float64)
    model = _linear()
    optimizer = sd.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        optimizer.zero_grad()
        penalty = (parameters_to_vector(model.parameters()) ** 2).sum()
        loss = ((model(x) - y) ** 2).mean() + 0.1 * penalty
        loss.backward()
        optimizer.step()
        return loss.item()

    run = sd.differentiate(step) if compiled else step
    for _ in range(3):
        run(x, y)
    return parameters_to_vector(model.parameters()).detach().numpy()


def test_a_penalty_on_the_vector_in_a_compiled_step():
    """An L2 penalty written with parameters_to_vector trains alike compiled and eager."""
    np.testing.assert_allclose(_trained(True), _trained(False), rtol=1e-14, atol=0)


def test_vector_to_parameters_sets_views_of_the_vector():
    model = _linear()
    vec = sd.arange(8, dtype=sd.float64)
    assert vector_to_parameters(vec, model.parameters()) is None
    assert model.weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert model.bias.tolist() == [6.0, 7.0]
    assert model.weight.is_leaf and model.weight.requires_grad
    with sd.no_grad():
        vec[0] = 100.0  # PyTorch's parameters share the vector's memory
    assert model.weight.tolist()[0][0] == 100.0
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        vector_to_parameters([1.0], model.parameters())
