"""Objects of user classes in differentiated functions: dataclasses, named tuples and
plain objects passed in (their gradient an object of the same class), objects built
inside (constructors, methods, attributes set), each checked against central finite
differences; and what stays refused, with its message."""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import NamedTuple

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad

rng = np.random.default_rng(0)
W, B, X = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 3))


@dataclasses.dataclass
class Params:
    W: np.ndarray
    b: np.ndarray


@dataclasses.dataclass(frozen=True)
class Frozen:
    W: np.ndarray
    b: np.ndarray
    name: str = "layer"


class Pair(NamedTuple):
    W: np.ndarray
    b: np.ndarray


class MLP:
    """A plain class: ``__init__`` sets attributes, a branch and a loop in a method."""

    def __init__(self, W, b, scale=1.0):
        self.W = W * scale
        if scale > 1.0:
            self.b = b * 2.0
        else:
            self.b = b

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)

    def forward(self, x, steps):
        h = x @ self.W
        for _ in range(steps):
            if np.sum(h) > 0:
                h = np.tanh(h) + self.b
            else:
                h = h * 0.5
        return h


def rebuilt(obj, values: dict):
    """``obj`` with the fields ``values``, its ``__init__`` not called."""
    if isinstance(obj, tuple):
        return obj._replace(**values)
    out = copy.copy(obj)
    for k, v in values.items():
        object.__setattr__(out, k, v)
    return out


def check_fields(f, obj, *rest, names=("W", "b")):
    """``sd.grad(f)(obj, *rest)`` against finite differences, field by field: an object
    of ``obj``'s class, each field's dtype kept."""
    got = sd.grad(f)(obj, *rest)
    assert type(got) is type(obj)
    values = {k: getattr(obj, k) for k in names}
    want = numeric_grad(lambda d, *r: f(rebuilt(obj, d), *r), [values, *rest], 0)
    for k in names:
        assert getattr(got, k).dtype == getattr(obj, k).dtype
        np.testing.assert_allclose(getattr(got, k), want[k], rtol=1e-5, atol=1e-7)
    return got


def layer(p, x):
    return np.sum(np.tanh(x @ p.W + p.b))


def test_dataclass_argument():
    got = check_fields(layer, Params(W, B), X)
    assert got.W is not W


def test_frozen_dataclass_keeps_other_fields():
    got = check_fields(layer, Frozen(W, B, "first"), X)
    assert got.name == "first"


def test_named_tuple_fields():
    check_fields(layer, Pair(W, B), X)


def test_plain_object_argument_and_method_with_loop_and_branch():
    def loss(m, x):
        return np.sum(m.forward(x, 3) ** 2) + np.sum(m(x))

    check_fields(loss, MLP(W, B), X)
    check_fields(loss, MLP(-W, B), X)  # the other branch


def test_float32_stays_float32():
    p = Params(W.astype(np.float32), B.astype(np.float32))
    got = sd.grad(layer)(p, X.astype(np.float32))
    assert got.W.dtype == np.float32 and got.b.dtype == np.float32


def test_field_unused_gets_zeros():
    got = sd.grad(lambda p, x: np.sum(x @ p.W))(Params(W, B), X)
    np.testing.assert_array_equal(got.b, np.zeros_like(B))


def test_objects_in_a_list_and_a_dict():
    def deep(layers, x):
        h = x
        for p in layers:
            h = np.tanh(h @ p.W + p.b)
        return np.sum(h**2)

    layers = [Params(W, B), Params(rng.normal(size=(2, 2)), rng.normal(size=2))]
    got = sd.grad(deep)(layers, X)
    assert isinstance(got, list) and all(type(g) is Params for g in got)
    for i, p in enumerate(layers):

        def moved(d, x, i=i, p=p):
            return deep([*layers[:i], rebuilt(p, d), *layers[i + 1 :]], x)

        want = numeric_grad(moved, [{"W": p.W, "b": p.b}, X], 0)
        np.testing.assert_allclose(got[i].W, want["W"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got[i].b, want["b"], rtol=1e-5, atol=1e-7)

    def by_name(params, x):
        return layer(params["first"], x) * 2.0

    got = sd.grad(by_name)({"first": Params(W, B)}, X)
    np.testing.assert_allclose(got["first"].W, 2.0 * sd.grad(layer)(Params(W, B), X).W)


def mlp_inside(W, b, x):
    m = MLP(W, b)
    return np.sum(m(x))


def scaled_inside(W, b, x):
    m = MLP(W, b, scale=2.0)
    return np.sum(m.forward(x, 2) ** 2)


def dataclass_inside(W, b, x):
    p = Params(b=b, W=W * 2.0)
    return layer(p, x)


def set_inside(W, x):
    o = MLP(W, 0.0)
    o.W = W * 2
    o.b = o.W[0] * 3.0
    return np.sum(o(x))


@pytest.mark.parametrize("fn", [mlp_inside, scaled_inside, dataclass_inside])
def test_objects_built_inside(fn):
    got = sd.grad(fn, wrt=(0, 1))(W, B, X)
    want = numeric_grad(fn, [W, B, X], (0, 1))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_attributes_set_on_an_object_built_inside():
    got = sd.grad(set_inside)(W, X)
    np.testing.assert_allclose(got, numeric_grad(set_inside, [W, X]), rtol=1e-5, atol=1e-7)


def refused(fn, *args, match: str) -> str:
    with pytest.raises(sd.CompileError, match=match) as info:
        sd.grad(fn)(*args)
    return str(info.value)


def test_attribute_set_on_an_object_passed_in_is_refused():
    def setter(p, x):
        p.W = p.W * 2.0
        return layer(p, x)

    message = refused(setter, Params(W, B), X, match="attribute")
    assert "test_objects.py" in message


def test_an_object_built_inside_and_shared_keeps_its_refusal():
    def shared(W, x):
        o = MLP(W, 0.0)
        other = o
        o.W = W * 2.0
        return np.sum(other(x))

    refused(shared, W, X, match="attribute")


class Returning:
    def __init__(self, W):
        self.W = W

    def me(self):
        return self


def test_a_method_returning_self_is_refused():
    def chained(W, x):
        o = Returning(W)
        alias = o.me()
        o.W = W * 2.0
        return np.sum(x @ alias.W)

    refused(chained, W, X, match="returns the object it is called on")


@dataclasses.dataclass
class Clash:
    T: np.ndarray


def test_a_field_named_like_an_array_attribute_is_refused():
    refused(lambda p: np.sum(p.T), Clash(W), match="field named .T")


class Registering:
    def __init__(self, W):
        self.W = W
        self.check()

    def check(self):
        pass


@dataclasses.dataclass
class Posted:
    W: np.ndarray

    def __post_init__(self):
        self.W = self.W * 2.0


@pytest.mark.parametrize(
    ("cls", "match"), [(Registering, "calls a method of self"), (Posted, "__post_init__")]
)
def test_constructors_srcdiff_cannot_compile_are_refused(cls, match):
    def build(W, x):
        return np.sum(x @ cls(W).W)

    refused(build, W, X, match=match)


def scale(h, factor, shift=0.0):
    if np.sum(h) > 0:
        return h * factor + shift
    return h * factor * factor


def partial_numpy(w, x):
    g = functools.partial(np.multiply, w)
    return np.sum(g(x) ** 2)


def partial_user(w, x):
    g = functools.partial(scale, x, shift=1.0)  # a user function, the partial bound twice
    twice = functools.partial(g, w)
    return np.sum(twice() ** 2) + np.sum(g(w * 2.0))


@pytest.mark.parametrize("fn", [partial_numpy, partial_user])
def test_partial_binding_a_differentiated_value(fn):
    w, x = rng.normal(size=4), rng.normal(size=(3, 4))
    got = sd.grad(fn, wrt=(0, 1))(w, x)
    want = numeric_grad(fn, [w, x], (0, 1))
    for g, v in zip(got, want, strict=True):
        np.testing.assert_allclose(g, v, rtol=1e-5, atol=1e-7)


def test_partial_binding_by_keyword_is_refused():
    def by_keyword(w, x):
        return np.sum(functools.partial(scale, factor=w)(x))

    refused(by_keyword, B, X[:, :2], match="by keyword")


@pytest.mark.parametrize("fn", [mlp_inside, set_inside, partial_numpy])
def test_forward_mode_agrees(fn):
    args = (W, X) if fn is set_inside else (W, B, X) if fn is mlp_inside else (B, X[:, :2])
    v = rng.normal(size=args[0].shape)
    tangents = (v, *(np.zeros_like(a) for a in args[1:]))
    _, tangent = sd.jvp(fn, args, tangents)
    np.testing.assert_allclose(tangent, np.sum(sd.grad(fn)(*args) * v), rtol=1e-10)


def test_forward_mode_of_a_dataclass_argument():
    p, v = Params(W, B), Params(rng.normal(size=W.shape), rng.normal(size=B.shape))
    _, tangent = sd.jvp(layer, (p, X), (v, np.zeros_like(X)))
    g = sd.grad(layer)(p, X)
    np.testing.assert_allclose(tangent, np.sum(g.W * v.W) + np.sum(g.b * v.b), rtol=1e-10)


def test_a_partial_of_a_bound_method_is_refused():
    def bound(W, x):
        return np.sum(functools.partial(MLP(W, B).forward, x)(2))

    refused(bound, W, X, match="partial of the method")


def test_a_bound_method_passed_on_is_refused():
    def apply(f, x):
        return f(x, 2)

    def passed(W, x):
        return np.sum(apply(MLP(W, B).forward, x))

    refused(passed, W, X, match="not a plain method")


def test_functions_in_a_differentiated_list_are_called():
    def chain(steps, x):
        h = x
        for f in steps[0]:
            h = f(h) * steps[1]
        return np.sum(h)

    fs, scale = [np.tanh, np.sin], np.array([0.5, 2.0])
    got = sd.grad(chain)([fs, scale], B)
    want = numeric_grad(lambda s, x: chain([fs, s], x), [scale, B], 0)
    np.testing.assert_allclose(got[1], want, rtol=1e-5, atol=1e-7)


@dataclasses.dataclass(kw_only=True)
class Named:
    W: np.ndarray
    scale: float = 2.0


def test_keyword_only_dataclass_built_inside():
    def build(W, x):
        return np.sum(x @ Named(W=W).W * Named(W=W, scale=3.0).scale)

    got = sd.grad(build)(W, X)
    np.testing.assert_allclose(got, numeric_grad(build, [W, X]), rtol=1e-5, atol=1e-7)
