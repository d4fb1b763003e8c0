"""The ways of asking the compiler for a gradient (api.md section 1) agree with each other."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd

X = np.array([0.5, -1.0, 2.0])
Y = np.array([1.5, 0.25, -0.5])


def f(x, y, *, scale=2.0):
    return np.sum(np.tanh(x) * y) * scale


def expected(x, y, scale=2.0):
    return (1.0 - np.tanh(x) ** 2) * y * scale, np.tanh(x) * scale, np.sum(np.tanh(x) * y)


class Model:
    def __init__(self):
        self.w = np.array([1.0, 2.0, 3.0])

    def loss(self, x, y):
        return np.sum(self.w * np.tanh(x) * y)

    @sd.differentiate(wrt="x")
    def decorated(self, x, y):
        return np.sum(self.w * np.tanh(x) * y)


@pytest.mark.parametrize("wrt", [0, "x"])
def test_wrt_by_position_or_name(wrt):
    assert np.allclose(sd.grad(f, wrt=wrt)(X, Y), expected(X, Y)[0])


def test_a_tuple_of_wrt_gives_a_tuple():
    dx, dy = sd.grad(f, wrt=(0, "y"))(X, Y)
    assert np.allclose(dx, expected(X, Y)[0]) and np.allclose(dy, expected(X, Y)[1])


def test_keyword_only_arguments_can_be_differentiated():
    d = sd.grad(f, wrt="scale")(X, Y, scale=3.0)
    assert isinstance(d, float) and d == pytest.approx(expected(X, Y)[2])


def test_value_and_grad_gives_the_value_too():
    value, (dx, dy) = sd.value_and_grad(f, wrt=(0, 1))(X, Y, scale=0.5)
    assert value == pytest.approx(f(X, Y, scale=0.5))
    assert np.allclose(dx, expected(X, Y, 0.5)[0]) and np.allclose(dy, expected(X, Y, 0.5)[1])


def test_differentiate_decorator_calls_grad_and_value_and_grad():
    d = sd.differentiate(f, wrt=1)
    assert d(X, Y) == pytest.approx(f(X, Y))
    assert np.allclose(d.grad(X, Y), expected(X, Y)[1])
    value, dy = d.value_and_grad(X, Y)
    assert value == pytest.approx(f(X, Y)) and np.allclose(dy, expected(X, Y)[1])
    assert "def f_adjoint(" in sd.source(d)


def test_bound_methods_count_positions_after_self():
    model = Model()
    dx = sd.grad(model.loss)(X, Y)
    assert np.allclose(dx, model.w * (1.0 - np.tanh(X) ** 2) * Y)
    dy = sd.grad(model.loss, wrt=1)(X, Y)
    assert np.allclose(dy, model.w * np.tanh(X))


def test_decorated_methods():
    model = Model()
    assert model.decorated(X, Y) == pytest.approx(model.loss(X, Y))
    assert np.allclose(model.decorated.grad(X, Y), sd.grad(model.loss)(X, Y))


def test_a_decorated_method_keeps_its_instance_as_a_bound_method_does(young_heap):
    """``Model().decorated`` held alone keeps its model alive (it raised
    ReferenceError); the cache for the instance does not, and the two share what the
    latest call ran."""
    import gc
    import weakref

    method = Model().decorated
    assert method(X, Y) == pytest.approx(Model().loss(X, Y))
    model = Model()
    model.decorated.grad(X, Y)
    assert "def decorated_adjoint(" in sd.source(model.decorated)
    alive = weakref.ref(model)
    del model, method
    gc.collect()
    assert alive() is None


def test_gradients_have_the_arguments_types():
    assert isinstance(sd.grad(f, wrt="scale")(X, Y, scale=1.0), float)
    d = sd.grad(f)(X.astype(np.float32), Y.astype(np.float32))
    assert d.dtype == np.float32 and d.shape == X.shape


def cube_sum(x):
    return (x**3).sum()


@pytest.mark.parametrize(
    "call",
    [
        lambda x: sd.jvp(cube_sum, (x,), (x,)),
        lambda x: sd.vjp(cube_sum, x),
        lambda x: sd.hvp(cube_sum, (x,), (x,)),
        lambda x: sd.hessian(cube_sum)(x),
        lambda x: sd.jacobian(cube_sum)(x),
        lambda x: sd.jacobian(cube_sum, mode="fwd")(x),
    ],
    ids=["jvp", "vjp", "hvp", "hessian", "jacobian", "jacobian-fwd"],
)
def test_the_array_transforms_refuse_a_tensor_by_name(call):
    """They compile functions of arrays: a Tensor's methods and flags are not what their
    generated code runs on, so a Tensor gets a message saying what to do instead."""
    with pytest.raises(TypeError, match=r"sd\.\w+ of cube_sum given a Tensor.*detach\(\)"):
        call(sd.tensor([1.0, 2.0], dtype=sd.float64))


def as_tensor_sum(x):
    return sd.tensor(x).sum()


def test_a_tensor_returned_for_array_arguments_is_refused_by_name():
    with pytest.raises(TypeError, match="as_tensor_sum was called with arrays and returned"):
        sd.grad(as_tensor_sum)(np.ones(2))
