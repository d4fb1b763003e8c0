"""Derivatives of functions that are srcdiff's own wrappers (``@sd.differentiate``,
``sd.vmap``) or that take derivatives inside: right, or refused with a clear error."""

import numpy as np
import pytest

import srcdiff as sd
import srcdiff.autograd as ag

X = np.array([0.3, -0.5, 1.2])


@sd.differentiate
def energy(x):
    return np.sum(np.exp(x) * x)


def hessian_of_energy(x):
    return np.diag(np.exp(x) * (x + 2))


def test_the_hessian_of_a_differentiate_function_is_its_functions():
    """Its value is its function's: it was refused as a third derivative."""
    np.testing.assert_allclose(sd.hessian(energy)(X), hessian_of_energy(X))
    second = sd.grad(lambda x: np.sum(sd.grad(energy)(x)))(X)
    np.testing.assert_allclose(second, np.diag(hessian_of_energy(X)))


def test_a_second_derivative_through_vmap_is_each_examples():
    """It was refused (derivatives of first order only): reverse mode over the mapped
    forward mode is each example's, shared arguments' pull-backs summed."""

    def uses_vmap(x):
        return np.sum(sd.vmap(lambda a, b: np.sin(a) * b, in_axes=(0, None))(x, x[0]) ** 2)

    def written_out(x):
        return np.sum((np.sin(x) * x[0]) ** 2)

    np.testing.assert_allclose(sd.hessian(uses_vmap)(X), sd.hessian(written_out)(X), rtol=1e-12)


def test_forward_mode_takes_lists_of_arrays_of_several_shapes():
    w, b = np.ones((3, 2)), np.ones(2)

    def f(ps):
        w, b = ps
        return np.sum(w) * np.sum(b**2)

    value, tangent = sd.jvp(f, ([w, b],), ([w, b],))
    assert value == 12.0 and tangent == 12.0 + 24.0  # sum(dw) |b|^2 + sum(w) 2 b.db
    hw, hb = sd.hvp(f, ((w, b),), ((w, b),))
    np.testing.assert_allclose(hw, np.full((3, 2), 4.0))
    np.testing.assert_allclose(hb, np.full(2, 24.0))
    with pytest.raises(ValueError, match="structure"):
        sd.jvp(f, ([w, b],), ([w],))


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_a_jacobian_in_a_dict_is_refused_not_made_an_array_of_dicts(mode):
    with pytest.raises(TypeError, match="a dict"):
        sd.jacobian(lambda d: d["a"] * d["b"], mode=mode)({"a": X, "b": X})


def test_a_second_derivative_in_a_compiled_step_is_refused_at_the_users_line():
    w = sd.tensor([0.5, -1.0, 2.0], dtype=sd.float64, requires_grad=True)

    @sd.differentiate
    def with_create_graph(w):
        loss = (w**3).sum()
        loss.backward(create_graph=True)
        return loss.item()

    @sd.differentiate
    def with_autograd_grad(w):
        (g,) = ag.grad((w**3).sum(), w, create_graph=True)
        penalty = (g**2).sum()
        penalty.backward()
        return penalty.item()

    for step in (with_create_graph, with_autograd_grad):
        with pytest.raises(sd.CompileError, match="compiled step") as caught:
            step(w)
        assert "test_nesting.py" in str(caught.value)
    (g,) = ag.grad((w**3).sum(), w, create_graph=True)  # eager: differentiated again
    (g**2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 36 * w.detach().numpy() ** 3)


def test_forward_mode_and_jacobians_take_lists_of_numbers_as_arrays():
    """A list primal with an array tangent, a tuple with a list, and a Jacobian in a list
    of numbers (refused once, for their types)."""
    f = lambda ps: ps[0] * ps[1] ** 2  # noqa: E731
    assert sd.jvp(f, ([1.0, 2.0],), (np.array([1.0, 0.0]),)) == (4.0, 4.0)
    assert sd.jvp(f, ((1.0, 2.0),), ([1.0, 0.0],)) == (4.0, 4.0)
    for mode in ("rev", "fwd"):
        jac = sd.jacobian(lambda xs: np.array([xs[0] * xs[1], xs[1]]), mode=mode)([1.0, 2.0])
        np.testing.assert_allclose(jac, [[2.0, 1.0], [0.0, 1.0]])


def test_tangents_of_containers_are_checked_entry_by_entry():
    h = lambda d: d["a"] * d["b"] ** 2  # noqa: E731
    with pytest.raises(ValueError, match="zero tangent"):
        sd.jvp(h, ({"a": 1.0, "b": 2.0},), ({"a": 1.0, "b": None},))
    with pytest.raises(ValueError, match="same keys"):
        sd.jvp(h, ({"a": 1.0, "b": 2.0},), ({"a": 1.0},))


def _f(x):
    return np.sum(np.sin(x) * x[::-1] ** 2)


def test_forward_mode_of_a_function_taking_forward_mode_inside():
    """``sd.jvp`` of a function calling ``sd.jvp`` is ``u^T H v`` (it was refused: no
    forward rule for sd.jvp)."""
    u, v = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])

    def directional(x):
        return sd.jvp(_f, (x,), (v,))[1]

    value, second = sd.jvp(directional, (X,), (u,))
    assert value == pytest.approx(sd.jvp(_f, (X,), (v,))[1])
    assert second == pytest.approx(u @ sd.hessian(_f)(X) @ v, rel=1e-10)
