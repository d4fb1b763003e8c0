"""Python's own questions about a value carrying a gradient, and fields read by a name
known when the code runs: ``math.isnan`` and its kin, ``hasattr``, ``getattr(obj,
name)`` (differentiated as ``obj.<name>``), each against central finite differences or a
plain call; ``getattr(obj, name, default)``; ``setattr(obj, "name", v)`` as ``obj.name =
v``; ``vars(obj)`` and ``obj.__dict__``, refused with a message saying so."""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad

X = np.array([1.5, -2.0, 0.7])
SPACE = types.SimpleNamespace(w=np.array([1.0, 2.0, 3.0]))


def check(f, *args, wrt=0):
    got = sd.grad(f, wrt=wrt)(*args)
    want = numeric_grad(f, list(args), wrt)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    return got


def finite_squares(x):
    s = 0.0
    for v in x:
        if math.isnan(v) or math.isinf(v) or not math.isfinite(v):
            continue
        if math.isclose(v, 100.0):  # (never: no gradient either way)
            s = s + 3.0 * v
        s = s + v * v
    return s


def test_math_tests_of_a_number_carry_no_gradient():
    assert sd.value_and_grad(finite_squares)(X)[0] == finite_squares(X)
    check(finite_squares, X)


def test_math_tests_skip_a_nan_entry():
    x = np.array([1.5, np.nan, 0.7])
    value, grad = sd.value_and_grad(finite_squares)(x)
    assert value == finite_squares(x)
    np.testing.assert_allclose(grad, [3.0, 0.0, 1.4])


class Holder:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    @property
    def total(self):
        return self.w * self.b[0]

    scale = 3.0


@dataclasses.dataclass
class Fields:
    w: np.ndarray
    b: np.ndarray


def test_hasattr_gives_what_python_gives():
    def f(x):
        h = Holder(x * 2.0, x[:2])
        if hasattr(h, "clone") or not hasattr(h, "w"):
            return 0.0
        return np.sum(h.w**2)

    value, _ = sd.value_and_grad(f)(X)
    assert value == f(X)
    check(f, X)


def by_names(x):
    p = Fields(x * 2.0, x[:2] ** 2)
    s = 0.0
    for name in ("w", "b"):
        s = s + np.sum(np.sin(getattr(p, name)))
    return s


def test_getattr_of_a_name_known_when_the_code_runs():
    check(by_names, X)


def test_getattr_reads_properties_class_attributes_and_array_attributes():
    def f(x):
        h = Holder(x * 1.0, x[:2])
        s = 0.0
        for name in ["total", "w", "scale"]:
            s = s + np.sum(getattr(h, name) * 2.0)
        t = "T"
        return s + np.sum(getattr(x.reshape(3, 1), t) @ x.reshape(3, 1))

    check(f, X)


def test_getattr_on_an_object_passed_in_gives_its_fields_gradients():
    def f(p, x):
        s = 0.0
        for name in ["w", "b"]:
            s = s + np.sum(getattr(p, name) * x[:2])
        return s

    got = sd.grad(f)(Fields(X[:2].copy(), X[1:].copy()), X)
    np.testing.assert_allclose(got.w, X[:2])
    np.testing.assert_allclose(got.b, X[:2])


def test_getattr_in_forward_mode_and_second_order():
    _, tangent = sd.jvp(by_names, (X,), (np.ones(3),))
    assert tangent == pytest.approx(np.sum(numeric_grad(by_names, [X])), rel=1e-6)
    hessian = sd.hessian(by_names)(X)
    want = numeric_grad(lambda x: sd.grad(by_names)(x)[1], [X])
    np.testing.assert_allclose(hessian[1], want, rtol=1e-5, atol=1e-7)


def test_an_update_through_a_name_getattr_gave_is_refused():
    def f(x):
        p = Holder(x * 1.0, x)
        w = p.w
        w += 1.0
        return np.sum(p.w**2)

    with pytest.raises(sd.CompileError, match="changes a field of `p`"):
        sd.grad(f)(X)


@pytest.mark.parametrize("read", [lambda p: vars(p), lambda p: p.__dict__])
def test_the_dict_of_fields_is_refused_with_what_to_write(read):
    def f(x):
        p = Holder(x * 2.0, x)
        s = 0.0
        for v in read(p).values():
            s = s + np.sum(v)
        return s

    with pytest.raises(sd.CompileError, match=r"vars\(p\) or p.__dict__") as info:
        sd.grad(f)(X)
    assert "ndarray" not in str(info.value) and "getattr(p, name)" in str(info.value)


def by_names_or_defaults(x):
    p = Holder(x * 2.0, x[:2] ** 2)
    s = np.sum(getattr(p, "v", x) * x)  # (absent: the default, itself differentiated)
    for name in ("w", "total", "scale", "missing"):
        s = s + np.sum(np.sin(getattr(p, name, x * 0.5)))
    return s + np.sum(getattr(SPACE, "w", 1.0) * x * x + getattr(SPACE, "q", x))


class Shifted:
    def __init__(self, w):
        self.w = w

    def __getattr__(self, name):
        return self.w + 1.0


def test_getattr_with_a_default_gives_the_field_or_the_default():
    # (refused before: "getattr() given 3 arguments, on a value carrying a gradient")
    value, _ = sd.value_and_grad(by_names_or_defaults)(X)
    assert value == pytest.approx(by_names_or_defaults(X), rel=1e-12)
    check(by_names_or_defaults, X)
    _, tangent = sd.jvp(by_names_or_defaults, (X,), (np.ones(3),))
    assert tangent == pytest.approx(np.sum(numeric_grad(by_names_or_defaults, [X])), rel=1e-6)
    hessian = sd.hessian(by_names_or_defaults)(X)
    want = numeric_grad(lambda x: sd.grad(by_names_or_defaults)(x)[1], [X])
    np.testing.assert_allclose(hessian[1], want, rtol=1e-5, atol=1e-7)


def test_getattr_with_a_default_of_a_class_making_attributes_is_refused():
    def f(x):
        return np.sum(getattr(Shifted(x * 2.0), "v", x))

    with pytest.raises(sd.CompileError, match="Shifted"):  # (never the default)
        sd.grad(f)(X)


def reads_a_class_attribute(x):
    p = Holder(x * 2.0, x)
    return np.sum(np.sin(p.scale) * x + p.scale * p.w)


def test_a_class_attribute_read_through_an_object_has_no_tangent():
    # (forward mode read the tangent object's class attribute: a tangent of -0.1706 where
    # finite differences give 0.4234 along ones, for the first term alone)
    _, tangent = sd.jvp(reads_a_class_attribute, (X,), (np.ones(3),))
    assert tangent == pytest.approx(np.sum(numeric_grad(reads_a_class_attribute, [X])), rel=1e-6)


def sets_fields_by_setattr(x):
    p = Holder(x * 2.0, x)
    p.w = np.sin(p.w) * x
    if np.sum(x) > -100.0:
        p.b = p.b * 3.0
    return np.sum(p.w * p.b)


def test_setattr_of_a_name_written_out_is_the_fields_assignment():
    # (refused before: "no derivative rule for setattr")
    value, _ = sd.value_and_grad(sets_fields_by_setattr)(X)
    assert value == pytest.approx(sets_fields_by_setattr(X), rel=1e-12)
    check(sets_fields_by_setattr, X)
    _, tangent = sd.jvp(sets_fields_by_setattr, (X,), (np.ones(3),))
    assert tangent == pytest.approx(np.sum(numeric_grad(sets_fields_by_setattr, [X])), rel=1e-6)
