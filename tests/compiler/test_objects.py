"""Objects of user classes in differentiated functions: dataclasses, named tuples and
plain objects passed in (their gradient an object of the same class), objects built
inside (constructors, ``__post_init__``, default factories, ``super().__init__``,
methods, properties, static and class methods, attributes set), partials binding
gradients by position or keyword, callable objects, the array module of objects' arrays,
each checked against central finite differences; and what stays refused, with its
message."""

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


class Holding:
    def __init__(self, W):
        self.W = W

    def pair(self):
        return (self, self.W)

    def listed(self):
        return [self.W, [self]]

    def named(self):
        return {"me": self}

    def wrapped(self):
        return Returning(self)

    @property
    def me(self):
        return self


def via_tuple(W, x):
    o = Holding(W)
    alias = o.pair()[0]
    o.W = W * 2.0
    return np.sum(x @ alias.W)


def via_list(W, x):
    o = Holding(W)
    alias = o.listed()[1][0]
    o.W = W * 2.0
    return np.sum(x @ alias.W)


def via_dict(W, x):
    o = Holding(W)
    alias = o.named()["me"]
    o.W = W * 2.0
    return np.sum(x @ alias.W)


def via_object(W, x):
    o = Holding(W)
    alias = o.wrapped().W
    o.W = W * 2.0
    return np.sum(x @ alias.W)


def via_property(W, x):
    o = Holding(W)
    alias = o.me
    o.W = W * 2.0
    return np.sum(x @ alias.W)


@pytest.mark.parametrize("fn", [via_tuple, via_list, via_dict, via_object, via_property])
def test_a_method_returning_a_container_holding_self_is_refused(fn):
    """Followed, the alias would read the field as it was before the assignment, and
    the gradient would be wrong."""
    message = refused(fn, W, X, match="returns the object it is called on")
    assert "test_objects.py" in message


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
class Checked:
    W: np.ndarray

    def __post_init__(self):
        self.W = self.W * 2.0
        self.validate()

    def validate(self):
        pass


class Base:
    def __init__(self, W, b):
        self.W = W
        self.b = b * 2.0

    def scaled(self):
        return self.W * 2.0


class Derived(Base):
    def __init__(self, W):
        super().__init__(W, W[0])
        self.c = super().scaled()


@pytest.mark.parametrize(
    ("cls", "match"),
    [
        (Registering, "__init__ calls a method of self"),
        (Checked, "__post_init__ calls a method of self"),
        (Derived, "__init__ calls super()"),
    ],
)
def test_constructors_srcdiff_cannot_compile_are_refused(cls, match):
    def build(W, x):
        return np.sum(x @ cls(W).W)

    message = refused(build, W, X, match=match)
    assert "test_objects.py" in message and "pass its fields as arguments" in message


def check_built_inside(fn, *args):
    """``sd.grad`` of ``fn`` with respect to its first two arguments, against finite
    differences, and forward mode against it."""
    got = sd.grad(fn, wrt=(0, 1))(*args)
    want = numeric_grad(fn, list(args), (0, 1))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)
    v = rng.normal(size=np.shape(args[0]))
    _, tangent = sd.jvp(fn, args, (v, *(np.zeros_like(a) for a in args[1:])))
    np.testing.assert_allclose(tangent, np.sum(got[0] * v), rtol=1e-9, atol=1e-12)


@dataclasses.dataclass
class Normalised:
    """``__post_init__`` computing a field from the others, with a branch; a field with
    a default factory, and one the constructor does not take."""

    W: np.ndarray
    b: np.ndarray
    scale: float = 2.0
    shift: np.ndarray = dataclasses.field(default_factory=lambda: np.full(2, 0.5))
    norm: np.ndarray = dataclasses.field(init=False)

    def __post_init__(self):
        self.W = self.W * self.scale
        if self.scale > 1.0:
            self.norm = np.sum(self.W**2) + np.sum(self.b)
        else:
            self.norm = np.sum(self.b * self.shift)


def post_init_inside(W, b, x):
    p = Normalised(W, b)
    q = Normalised(W, b, scale=0.5, shift=b * 3.0)
    h = x @ p.W + p.shift
    for _ in range(3):
        h = np.tanh(h) * p.norm + q.norm
    return np.sum(h)


@dataclasses.dataclass
class Tagged:
    W: np.ndarray
    b: np.ndarray = dataclasses.field(default_factory=lambda: np.ones(2))
    tags: list = dataclasses.field(default_factory=list)


def factory_inside(W, b, x):
    made, given = Tagged(W), Tagged(W, b)
    return np.sum(x @ made.W + made.b) + np.sum(x @ given.W * given.b) + len(made.tags)


class Sub(Base):
    def __init__(self, W, b, scale):
        super().__init__(W * scale, b)
        self.c = self.W[0] + self.b  # reads the fields the base class set
        if scale > 1:
            self.b = self.b * scale

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b + self.c)


class Named2(Base):
    def __init__(self, W, b):
        super().__init__(W, b=b)


@dataclasses.dataclass
class Record:
    W: np.ndarray


class FromRecord(Record):
    def __init__(self, W, k):
        super().__init__(W * k)
        self.k = k


class Plain:
    def __init__(self, W):
        super().__init__()  # object's: sets nothing
        self.W = W


def super_inside(W, b, x):
    s, t = Sub(W, b, 3.0), Named2(W, b)
    out = np.sum(x @ FromRecord(W, 3.0).W) + np.sum(x @ Plain(W).W)
    for _ in range(2):
        out = out + np.sum(s(x)) + np.sum(t.W * t.b[0])
    return out


@dataclasses.dataclass(frozen=True)
class FrozenPosted:
    """A frozen dataclass sets a derived field with ``object.__setattr__``; an
    ``InitVar`` is a parameter of ``__post_init__``."""

    W: np.ndarray
    factor: dataclasses.InitVar[float] = 2.0

    def __post_init__(self, k):
        object.__setattr__(self, "V", self.W * k)


def init_var_inside(W, b, x):
    return np.sum(x @ FrozenPosted(W).V) + np.sum(x @ FrozenPosted(W * b[0], 5.0).V)


@pytest.mark.parametrize("fn", [post_init_inside, factory_inside, super_inside, init_var_inside])
def test_constructors_doing_more_than_setting_fields(fn):
    check_built_inside(fn, W, B, X)


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


def partial_keywords(w, x):
    g = functools.partial(scale, factor=w)
    shifted = functools.partial(g, shift=w[0])  # its keywords over g's
    h = x
    for _ in range(2):
        h = g(h) + shifted(x, factor=w * 0.5)  # a keyword of the call over the partial's
    return np.sum(h**2)


def partial_mixed(w, x):
    g = functools.partial(scale, x, shift=w[1])
    twice = functools.partial(g, w)
    dot = functools.partial(np.dot, b=w)
    return np.sum(twice() ** 2) + np.sum(g(w * 2.0)) + np.sum(dot(x) ** 2)


@pytest.mark.parametrize("fn", [partial_keywords, partial_mixed])
def test_partial_binding_a_differentiated_value_by_keyword(fn):
    w, x = rng.normal(size=4), rng.normal(size=(3, 4))
    if fn is partial_mixed:
        w, x = rng.normal(size=3), rng.normal(size=(3, 3))
    check_built_inside(fn, w, x)


def looped(x, w):
    h = x
    for _ in range(2):
        if np.sum(h) > 0:
            h = np.tanh(h * w)
        else:
            h = h * 2.0
    return np.sum(h)


def test_a_partial_binding_by_keyword_given_to_grad():
    w, x = rng.normal(size=2), rng.normal(size=(4, 2))
    p = functools.partial(looped, w=w)
    gx, gw = sd.grad(p, wrt=(0, "w"))(x)
    np.testing.assert_allclose(gx, numeric_grad(looped, [x, w], 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gw, numeric_grad(looped, [x, w], 1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sd.grad(p)(-x), numeric_grad(looped, [-x, w], 0), rtol=1e-5)


class Loss:
    """A callable object: a loss with a branch and a loop."""

    def __init__(self, W, steps):
        self.W = W
        self.steps = steps

    def __call__(self, x):
        h = x
        for _ in range(self.steps):
            h = np.tanh(h @ self.W) if np.sum(h) > 0 else h @ self.W * 0.5
        return np.sum(h**2)


def doubled(f, x):
    return f(x) * 2.0


def calls_objects(W, x):
    made = Loss(W, 2)
    return made(x) + doubled(Loss(W * 2.0, 1), x)


def test_a_callable_object_given_to_grad_and_called():
    w, x = rng.normal(size=(3, 3)), rng.normal(size=(4, 3))
    for loss in (Loss(w, 3), Loss(-w, 2)):
        np.testing.assert_allclose(sd.grad(loss)(x), numeric_grad(loss, [x]), rtol=1e-5,
                                   atol=1e-7)  # fmt: skip
    check_built_inside(calls_objects, w, x)
    check_fields(lambda o, x: o(x) * 3.0, Loss(w, 2), x, names=("W",))


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


class Scaled:
    """A property computed from the fields, with a branch; static and class methods."""

    def __init__(self, W, scale):
        self.W = W
        self.scale = scale

    @property
    def weight(self):
        if self.scale > 1.0:
            return self.W * self.scale
        return self.W

    @staticmethod
    def act(h, k=1.0):
        return np.tanh(h) * k

    @classmethod
    def halved(cls, W, scale=2.0):
        return cls(W * 0.5, scale)

    def forward(self, x, steps):
        h = x
        for _ in range(steps):
            h = self.act(h @ self.weight, k=self.scale) @ self.weight.T
        return h


@dataclasses.dataclass
class Summed:
    W: np.ndarray
    b: np.ndarray

    @property
    def both(self):
        return self.W + self.b


def test_properties_of_objects_passed_in():
    def loss(o, x):
        return np.sum(o.forward(x, 2) ** 2) + np.sum(x @ o.weight)

    check_fields(loss, Scaled(W, np.array(3.0)), X, names=("W", "scale"))
    check_fields(loss, Scaled(W, np.array(0.5)), X, names=("W", "scale"))  # the other branch
    check_fields(lambda p, x: np.sum(x @ p.both), Summed(W, B), X)


def properties_inside(W, b, x):
    o = Scaled(W, 3.0)
    p = Scaled.halved(W)  # a class method called on the class
    q = o.halved(W + b[0], 0.5)  # and on an object
    s = 0.0
    for _ in range(2):
        s = s + np.sum(x @ o.weight) * np.sum(p.weight) + np.sum(o.act(x @ q.weight, 2.0))
    return s + np.sum(Scaled.act(x @ Summed(W, b).both))


def test_properties_static_and_class_methods_of_objects_built_inside():
    check_built_inside(properties_inside, W, B, X)


def test_array_module_looks_inside_objects():
    """The arrays of an object's fields choose the array module, as a list's do."""
    import array_api_strict as xps

    from srcdiff import backend

    s = xps.asarray(W)
    assert backend.array_module(Params(s, 1.0)) is xps
    assert backend.array_module(Pair(s, None)) is xps
    assert backend.array_module([MLP(s, 1.0)], np.ones(2)) is xps
    assert backend.array_module(Params(W, Params(B, s))) is xps
    assert backend.array_module(Params(W, B)) is np
    looped = Returning(s)
    looped.me = looped  # objects referring to each other
    assert backend.array_module(looped) is xps

    def loss(p):
        return np.sum(np.tanh(p.W) * p.b)

    p = Params(xps.asarray(W), xps.asarray(B))
    grad = sd.grad(loss)
    got = grad(p)
    assert type(got.W) is type(p.W)
    assert "import array_api_strict as xp" in sd.source(grad)
    want = numeric_grad(lambda d: loss(Params(**d)), [{"W": W, "b": B}])
    np.testing.assert_allclose(np.asarray(got.W), want["W"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(got.b), want["b"], rtol=1e-5, atol=1e-7)


class Cached:
    def __init__(self, W):
        self.W = W

    @functools.cached_property
    def weight(self):
        return self.W * 2.0


def test_properties_srcdiff_does_not_compile_are_refused():
    """A cached property's value sits in ``__dict__`` like a field's (followed, its
    gradient would never reach ``W``); a property of a class the function cannot name
    is not compiled."""

    def built(W, x):
        return np.sum(x @ Cached(W).weight)

    refused(built, W, X, match="cached property .weight")
    refused(lambda o, x: np.sum(x @ o.weight), Cached(W), X, match="cached property")

    class Local:
        def __init__(self, W):
            self.W = W

        @property
        def doubled(self):
            return self.W * 2.0

    refused(lambda o, x: np.sum(x @ o.doubled), Local(W), X, match="define the class at")


class _Scored:
    def __init__(self, w):
        self.w = w

    def update(self, d):
        return np.sum(self.w * d["a"])


def _calls_its_own_update(x):
    o = _Scored(x * 1.0)
    return o.update({"a": x})


def test_a_method_named_as_a_dicts_in_place_one_is_the_objects():
    """``o.update(d)`` of a user's class was compiled as dict.update (value None): sd.jvp
    gave a zero tangent silently, sd.grad crashed."""
    x, v = np.array([0.5, -1.0, 2.0]), np.array([0.3, 0.7, -0.2])
    assert np.allclose(sd.grad(_calls_its_own_update)(x), 2 * x)
    assert sd.jvp(_calls_its_own_update, (x,), (v,))[1] == pytest.approx(2 * x @ v)


class _Buffers:
    def __init__(self, v):
        self.items = []
        self.items.append(v * 2.0)
        self.buf = np.zeros(3)
        self.buf[0] = v[1]

    def add(self, v):
        self.items.append(v)


def _writes_into_its_own_objects_fields(x):
    h = _Buffers(x)
    before = h.buf * 1.0
    kept = h.items
    h.items.append(x**2)
    h.items.extend([np.sin(x), x[0] * x])
    last = h.items.pop()
    h.buf[2] = x[0] * x[1]
    h.buf[1:] += x[1:] * 3.0
    for i in range(2):
        h.buf[i] = h.buf[i] * x[2]
    return np.sum(sum(h.items) * h.buf) + np.sum(last * before) + np.sum(kept[1])


def test_fields_of_an_object_built_inside_written_into_and_appended_to():
    """``o.buf[1] = v`` and ``o.items.append(v)`` of a value carrying a gradient, on an
    object the function built: the field takes the new array (or list), with its
    gradient (they were refused: the write as one through an attribute, the append as a
    call of list.append without a rule)."""
    x, v = np.array([0.5, -1.0, 2.0]), np.array([0.3, 0.7, -0.2])
    f = _writes_into_its_own_objects_fields
    value, got = sd.value_and_grad(f)(x)
    assert value == pytest.approx(f(x.copy()))
    np.testing.assert_allclose(got, numeric_grad(f, [x]), rtol=1e-6, atol=1e-8)
    eps = 1e-6
    want = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    assert sd.jvp(f, (x,), (v,))[1] == pytest.approx(want, rel=1e-6)


def _appends_through_a_method(x):
    h = _Buffers(x)
    h.add(x * 3.0)
    return np.sum(sum(h.items))


def _appends_to_an_object_it_was_given(x):
    h = _made_elsewhere(x)
    h.items.append(x * 3.0)
    return np.sum(sum(h.items))


def _made_elsewhere(x):
    return _Buffers(x)


@pytest.mark.parametrize(
    "fn, shown",
    [(_appends_through_a_method, "self.items.append"), (_appends_to_an_object_it_was_given,
                                                        "h.items.append")],
)  # fmt: skip
def test_appending_to_a_field_of_an_object_not_built_here_is_refused(fn, shown):
    message = refused(fn, np.ones(3), match="did not build itself|not a local name")
    assert f"`{shown}(" in message and "o.items = o.items + [v]" in message


@dataclasses.dataclass
class _Affine:
    """A dataclass compares by its fields, so its objects are unhashable."""

    w: np.ndarray
    b: float = 0.5

    def __call__(self, x):
        return x * self.w + self.b

    def squashed(self, x):
        return np.tanh(self(x))


AFFINE = _Affine(np.arange(3.0))


def _calls_a_global_dataclass(x):
    return np.sum(AFFINE(x) ** 2)


def _calls_a_global_dataclasss_method(x):
    f = AFFINE
    return np.sum(f.squashed(x) ** 2)


@pytest.mark.parametrize("fn", [_calls_a_global_dataclass, _calls_a_global_dataclasss_method])
def test_an_unhashable_callable_object_held_by_a_global(fn):
    """An object compared by value (a dataclass's) has no hash: looking it up among the
    functions that write into their argument crashed the compiler."""
    x = rng.normal(size=3)
    value, got = sd.value_and_grad(fn)(x)
    assert value == pytest.approx(fn(x), rel=1e-12)
    np.testing.assert_allclose(got, numeric_grad(fn, [x]), rtol=1e-6, atol=1e-8)
    v = rng.normal(size=3)
    eps = 1e-6
    want = (fn(x + eps * v) - fn(x - eps * v)) / (2 * eps)
    assert sd.jvp(fn, (x,), (v,))[1] == pytest.approx(want, rel=1e-6)


class Lookup:
    """An object of the user's with methods named like a dict's."""

    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v * 2.0

    def keys(self):
        return self.v * 3.0


def _lookup(v):
    return Lookup(v)


def get_of_an_object_from_a_call(x):
    return np.sum(_lookup(x * x).get())


def get_of_an_object_given(o, x):
    return np.sum(o.get() * x)


def test_a_method_named_get_that_no_dicts_get_fits_is_the_objects():
    """``o.get()`` takes no key, so it is no dict's ``get``: the method of the object's
    class, compiled as such (it was refused as "missing argument key for dict.get")."""
    x = np.array([0.3, -0.7, 1.1])
    value, grad = sd.value_and_grad(get_of_an_object_from_a_call)(x)
    assert value == pytest.approx(get_of_an_object_from_a_call(x))
    np.testing.assert_allclose(grad, numeric_grad(get_of_an_object_from_a_call, [x]), rtol=1e-6)
    o = Lookup(x.copy())
    value, grad = sd.value_and_grad(get_of_an_object_given, wrt=1)(o, x)
    assert value == pytest.approx(get_of_an_object_given(o, x))
    np.testing.assert_allclose(grad, 2.0 * x)
    np.testing.assert_array_equal(o.v, x)


def keys_of_an_object_from_a_call(x):
    return np.sum(_lookup(x).keys())


def get_of_a_dict_without_a_key(x):
    d = {"a": x * 2.0}
    return np.sum(d.get())


def test_a_dicts_methods_of_an_object_not_built_here_are_refused_or_a_dicts():
    """``o.keys()`` of an object from a call gave no gradient (a dict's keys carry none);
    it is refused where the object turns out to be a user's. ``d.get()`` of a dict, given
    no key, is refused (a plain call raises a TypeError); ``d.get("a")`` is the dict's."""
    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(sd.CompileError, match=r"call it as Lookup\.keys\(obj"):
        sd.grad(keys_of_an_object_from_a_call)(x)
    with pytest.raises(sd.CompileError, match=r"\.get of a dict"):
        sd.grad(get_of_a_dict_without_a_key)(x)

    def get_of_a_dict(x):
        d = {"a": x * 2.0}
        return np.sum(d.get("a")) + np.sum(d.get("b", x))

    np.testing.assert_allclose(sd.grad(get_of_a_dict)(x), np.full(3, 3.0))
