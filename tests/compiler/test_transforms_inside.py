"""Derivatives taken inside a differentiated function, checked against central finite
differences."""

import numpy as np
import pytest

import srcdiff as sd

X = np.array([0.3, -0.7, 1.2])
V = np.array([1.0, 0.5, -0.2])
W = np.array([0.2, 0.1, 0.4])


def _numeric_jacobian(fn, x, eps=1e-6):
    """d fn / d x by central differences, shaped ``fn(x).shape + x.shape``."""
    x = np.asarray(x, dtype=float)
    columns = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = eps
        columns.append((np.asarray(fn(x + e)) - np.asarray(fn(x - e))) / (2 * eps))
    return np.moveaxis(np.array(columns), 0, -1).reshape(np.shape(fn(x)) + x.shape)


def _f(x):
    return np.sum(np.sin(x) * x**2)


def _scaled(x, *, scale=1.0):
    return np.sum(np.sin(x) * scale * x**2)


def _scaled_positional(x, scale=1.0):
    return np.sum(np.sin(x) * scale * x**2)


def _pair(x, y):
    return np.sum(np.sin(x) * y**2) * np.sum(x * y)


@pytest.mark.parametrize("fn", [_scaled, _scaled_positional])
def test_forward_mode_through_a_gradient_given_a_keyword_reads_its_value(fn):
    """The forward rule of ``sd.grad(f)`` was called without the call's keywords: the
    tangent was that of ``f`` at its default (``scale=1.0``), a silent wrong number."""
    gradient = sd.grad(fn)

    def h(y):
        return gradient(y, scale=2.0)

    want = _numeric_jacobian(h, X)
    np.testing.assert_allclose(sd.jvp(h, (X,), (V,))[1], want @ V, rtol=1e-6)
    np.testing.assert_allclose(sd.jacobian(h, mode="fwd")(X), want, rtol=1e-6, atol=1e-9)


def test_hvp_inside_a_differentiated_function():
    """``sd.hvp`` was refused there ("a derivative taken inside a differentiated
    function"): its products are differentiated in the primals and the tangents."""

    def in_x(x):
        return np.sum(W * sd.hvp(_f, (x,), (V,)))

    def in_v(v):
        return np.sum(W * sd.hvp(_f, (X,), (v,)) ** 2)

    np.testing.assert_allclose(sd.grad(in_x)(X), _numeric_jacobian(in_x, X), rtol=1e-6)
    np.testing.assert_allclose(sd.grad(in_v)(V), _numeric_jacobian(in_v, V), rtol=1e-6)
    assert sd.grad(lambda x: sd.hvp(_f, (x,), (V,))[1])(X) == pytest.approx(
        _numeric_jacobian(lambda x: sd.hvp(_f, (x,), (V,))[1], X), rel=1e-6
    )


def test_hvp_of_several_primals_inside_a_differentiated_function():
    """One product per primal, a tangent of None holding its argument constant."""

    def both(a, b):
        first, second = sd.hvp(_pair, (a, b), (V, None))
        return np.sum(W * first) + np.sum(second**2)

    got = sd.grad(both, wrt=(0, 1))(X, V)
    np.testing.assert_allclose(got[0], _numeric_jacobian(lambda a: both(a, V), X), rtol=1e-6)
    np.testing.assert_allclose(got[1], _numeric_jacobian(lambda b: both(X, b), V), rtol=1e-6)


def test_forward_mode_of_hvp():
    def products(x):
        return sd.hvp(_f, (x,), (V,))

    np.testing.assert_allclose(
        sd.jvp(products, (X,), (W,))[1], _numeric_jacobian(products, X) @ W, rtol=1e-6
    )


def test_hessian_inside_a_differentiated_function():
    """``sd.hessian(f)`` was refused there; so was a derivative of it (a third
    derivative): both are those of ``sd.jacobian(sd.grad(f))``."""
    weights = np.outer(W, V)

    def penalty(x):
        return np.sum(weights * sd.hessian(_f)(x))

    def in_second(y):
        return np.sum(weights * sd.hessian(_pair, wrt=1)(V, y))

    def keyword_held(x):
        return np.sum(sd.hessian(_scaled)(x, scale=2.0) ** 2)

    for fn in (penalty, in_second, keyword_held):
        np.testing.assert_allclose(sd.grad(fn)(X), _numeric_jacobian(fn, X), rtol=1e-6)
    hessian = sd.hessian(_f)
    want = _numeric_jacobian(hessian, X)
    np.testing.assert_allclose(sd.jacobian(hessian)(X), want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sd.jvp(hessian, (X,), (V,))[1], want @ V, rtol=1e-6, atol=1e-9)


def test_a_fourth_derivative_through_hvp_in_closed_form():
    """It was refused ("order four or more"): ``_f`` is ``x^2 sin x`` entry by entry, so
    the Hessian of ``W . H V`` is diagonal, ``W V`` times the fourth derivative."""

    def curvature(x):
        return np.sum(W * sd.hvp(_f, (x,), (V,)))

    fourth = -12 * np.sin(X) - 8 * X * np.cos(X) + X**2 * np.sin(X)
    np.testing.assert_allclose(sd.hessian(curvature)(X), np.diag(W * V * fourth), atol=1e-12)


def test_vjp_inside_a_differentiated_function():
    """It was refused (its pull-back held the primals out of the compiler's sight)."""

    def pulled(x):
        return np.sum(sd.vjp(np.sin, x)[1](V)[0])

    np.testing.assert_allclose(sd.grad(pulled)(X), -np.sin(X) * V, rtol=1e-12)
    np.testing.assert_allclose(sd.hessian(pulled)(X), np.diag(-np.cos(X) * V), atol=1e-12)


def _rows(x):
    return np.sum(sd.vmap(lambda r: np.sin(r) * r)(x.reshape(3, 1)) ** 2)


def _rows_written_out(x):
    return np.sum((np.sin(x) * x) ** 2)


def test_second_derivatives_of_a_function_calling_vmap():
    """They were refused (derivatives of first order only): reverse mode over the mapped
    forward mode is each example's."""
    want = sd.hessian(_rows_written_out)(X)
    np.testing.assert_allclose(sd.hessian(_rows)(X), want, rtol=1e-12)
    np.testing.assert_allclose(sd.hvp(_rows, (X,), (V,)), want @ V, rtol=1e-12)
    np.testing.assert_allclose(sd.jacobian(sd.grad(_rows))(X), want, rtol=1e-12)
    np.testing.assert_allclose(sd.jvp(sd.grad(_rows), (X,), (V,))[1], want @ V, rtol=1e-12)
    outer = sd.grad(lambda x: np.sum(np.sin(sd.grad(_rows)(x))))(X)
    np.testing.assert_allclose(outer, np.cos(sd.grad(_rows)(X)) @ want, rtol=1e-12)


def test_second_derivatives_through_vmap_with_axes_and_tuples():
    """Mapped and shared arguments, ``in_axes``/``out_axes`` other than 0, a tuple result
    and ``sd.vmap(sd.grad(f))``: each against finite differences of its gradient."""
    rows = np.array([[0.5, -1.0, 2.0], [1.5, 0.2, -0.3]])
    weights = np.arange(6.0).reshape(2, 3) / 5

    def shared(x):
        return np.sum(sd.vmap(lambda r, p: np.tanh(r @ p), in_axes=(0, None))(rows, x) ** 2)

    def columns(x):
        mapped = sd.vmap(lambda a, b: np.sin(a) * b, in_axes=(1, None), out_axes=1)
        return np.sum(mapped(np.outer(x, x[:2]), x) * np.arange(6.0).reshape(3, 2))

    def second_of_tuple(x):
        both = sd.vmap(lambda a: (np.sin(a) * a, a**3), out_axes=(0, 1))(np.outer(x, x[:2]))
        return np.sum(both[1] * weights)

    def per_example_gradients(x):
        gradient = sd.grad(lambda p, r: np.sum(np.sin(p * r) ** 2))
        return np.sum(sd.vmap(gradient, in_axes=(None, 0))(x, rows) * rows)

    for fn in (shared, columns, second_of_tuple, per_example_gradients):
        want = _numeric_jacobian(sd.grad(fn), X)
        np.testing.assert_allclose(sd.hessian(fn)(X), want, rtol=1e-6, atol=1e-8)


def test_a_ufunc_is_differentiated_as_a_function_calling_it():
    """``sd.grad(np.sin)``, and ``sd.vmap(np.sin)`` differentiated, were refused with a
    TypeError (not a Python function); ``sd.jvp(np.sin, ...)`` crashed."""
    rows = np.stack([X, 2 * X])
    assert sd.grad(np.sin)(0.5) == pytest.approx(np.cos(0.5), rel=1e-14)
    assert sd.grad(np.multiply, wrt=(0, 1))(0.5, 3.0) == (3.0, 0.5)
    np.testing.assert_allclose(sd.jvp(np.sin, (X,), (V,))[1], np.cos(X) * V, rtol=1e-14)
    assert sd.hessian(np.sin)(0.5) == pytest.approx(-np.sin(0.5), rel=1e-14)

    def mapped(x):
        return np.sum(sd.vmap(np.sin)(rows * x))

    want = _numeric_jacobian(mapped, X)
    np.testing.assert_allclose(sd.grad(mapped)(X), want, rtol=1e-6)
    np.testing.assert_allclose(
        sd.hessian(mapped)(X), _numeric_jacobian(sd.grad(mapped), X), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(sd.vjp(sd.vmap(np.sin), rows)[1](rows)[0], np.cos(rows) * rows)


def test_forward_mode_over_forward_mode_through_vmap():
    """Forward mode of a function taking ``sd.jvp`` of a map was refused (its forward
    rule had no derivatives); each example's is forward mode over ``f``'s."""
    rows = np.stack([X, V])

    def tangent(y):
        return sd.jvp(sd.vmap(lambda r: np.sin(r) * r), (y,), (rows,))[1]

    # tangent(y) = (y cos y + sin y) rows, whose derivative is (2 cos y - y sin y) rows
    want = (2 * np.cos(rows) - rows * np.sin(rows)) * rows * (2 * rows)
    np.testing.assert_allclose(sd.jvp(tangent, (rows,), (2 * rows,))[1], want, rtol=1e-12)


def test_a_third_derivative_through_vmap():
    """It was refused: the map's forward rule is now the map of ``f``'s derivative along
    the tangents, whose rules are a map's again."""

    def curvature_penalty(x):
        return np.sum(sd.hessian(_rows)(x))

    want = _numeric_jacobian(curvature_penalty, X, eps=1e-4)
    np.testing.assert_allclose(want, _numeric_jacobian(curvature_penalty, X, eps=2e-4), rtol=1e-6)
    np.testing.assert_allclose(sd.grad(curvature_penalty)(X), want, rtol=1e-6)


def _scaled_elementwise(x, k=3.0):
    return np.sin(x) * k * x


def _scaled_elementwise_keyword(x, *, k=3.0):
    return np.sin(x) * k * x


@pytest.mark.parametrize("fn", [_scaled_elementwise, _scaled_elementwise_keyword])
def test_a_derivative_through_a_keyword_of_a_transform(fn):
    """A differentiated value passed by keyword to ``sd.grad(f)``, ``sd.jacobian(f)``,
    ``sd.hessian(f)`` or ``sd.vmap(f)`` was refused (their rules differentiate positional
    arguments): the call is that of the transform of ``f`` taking it by position."""
    rows = np.stack([X, V])
    summed = lambda x, k=3.0: np.sum(fn(x, k=k))  # noqa: E731
    uses = {
        "grad": lambda s: np.sum(sd.grad(summed)(X, k=s) ** 2),
        "jacobian": lambda s: np.sum(sd.jacobian(fn)(X, k=s) ** 2),
        "hessian": lambda s: np.sum(sd.hessian(summed)(X, k=s) ** 2),
        "vmap": lambda s: np.sum(sd.vmap(fn)(rows, k=s) ** 2),
    }
    for name, use in uses.items():
        want = _numeric_jacobian(use, 2.0)
        assert sd.grad(use)(2.0) == pytest.approx(want, rel=1e-6)
        assert sd.jvp(use, (2.0,), (1.0,))[1] == pytest.approx(want, rel=1e-6)
        if name in ("grad", "vmap"):  # (of the others: a third derivative, or a fourth)
            second = _numeric_jacobian(sd.grad(use), 2.0)
            assert sd.hessian(use)(2.0) == pytest.approx(second, rel=1e-5)


def test_a_gradient_in_a_keyword_only_parameter_differentiated_again():
    """``sd.grad(sd.grad(f, wrt="s"), wrt="s")`` for a keyword-only ``s`` was refused at
    a line of srcdiff's own (the transform's call, passing ``s=s``)."""

    def f(x, *, s):
        return np.sum(np.sin(x)) * s**3

    second = sd.grad(sd.grad(f, wrt="s"), wrt="s")(X, s=2.0)
    assert second == pytest.approx(6 * 2.0 * np.sum(np.sin(X)), rel=1e-12)
    mixed = sd.grad(sd.grad(f, wrt="s"))(X, s=2.0)
    np.testing.assert_allclose(mixed, 3 * 2.0**2 * np.cos(X), rtol=1e-12)


def test_keywords_of_nested_transforms_and_of_forward_over_forward_mode():
    """``sd.vmap(sd.grad(f))`` given a keyword-only ``scale``: the map's and the gradient's
    function both take it by position (a call of source passing ``scale=`` on to the
    gradient was refused); forward mode over forward mode through a keyword of a map or
    a gradient was refused ("whose forward rule takes tangents by position")."""
    rows = np.stack([X, V])

    def per_example(s):
        return np.sum(sd.vmap(sd.grad(_scaled))(rows, scale=s) ** 2)

    second = _numeric_jacobian(sd.grad(per_example), 2.0)
    assert sd.hessian(per_example)(2.0) == pytest.approx(second, rel=1e-6)

    def mapped(z):
        return sd.vmap(_scaled_elementwise)(rows * z, k=z[1])

    def gradient(z):
        return sd.grad(_scaled)(z, scale=z[0])

    for fn in (mapped, gradient):

        def tangent(y, fn=fn):
            return sd.jvp(fn, (y,), (V,))[1]

        want = _numeric_jacobian(tangent, X) @ W
        np.testing.assert_allclose(sd.jvp(tangent, (X,), (W,))[1], want, rtol=1e-6, atol=1e-9)


def _checked(got, fn, x):
    """``got`` against central differences of ``fn`` at ``x``, with two step sizes."""
    for eps in (1e-5, 1e-6):
        np.testing.assert_allclose(got, _numeric_jacobian(fn, x, eps), rtol=1e-6, atol=1e-8)


# away from the kinks of floor, abs and max (where the derivative is defined)
_REDUCING = [np.sum, np.mean, np.linalg.norm, np.max]
_ELEMENTWISE = [np.sin, np.floor, np.abs]


@pytest.mark.parametrize("fn", _REDUCING + _ELEMENTWISE, ids=lambda f: f.__name__)
def test_numpy_callables_passed_directly_nest_twice(fn):
    """``sd.grad(np.sum)``, ``sd.grad(np.floor)`` and ``sd.jvp``, ``sd.jacobian``,
    ``sd.vjp`` of them raised TypeError (not Python functions), directly and nested: each
    derivative, and each derivative of it, against finite differences."""
    if fn in _ELEMENTWISE:
        x = 1.3
        first = sd.grad(fn)
        _checked(first(x), fn, x)
        _checked(sd.grad(sd.grad(fn))(x), first, x)
        _checked(sd.hessian(fn)(x), first, x)
        _checked(sd.jvp(fn, (X,), (V,))[1], lambda t: fn(X + t * V), 0.0)
        _checked(sd.jacobian(fn)(X), fn, X)
        _checked(sd.vjp(fn, X)[1](V)[0], lambda y: np.sum(fn(y) * V), X)

        def tangent_sum(y):
            return np.sum(sd.jvp(fn, (y,), (V,))[1] * y)

        _checked(sd.grad(tangent_sum)(X), tangent_sum, X)
        return
    first = sd.grad(fn)
    _checked(first(X), fn, X)
    _checked(sd.hessian(fn)(X), first, X)
    _checked(sd.jvp(first, (X,), (V,))[1], lambda t: first(X + t * V), 0.0)
    _checked(sd.jvp(fn, (X,), (V,))[1], lambda t: fn(X + t * V), 0.0)
    _checked(sd.vjp(fn, X)[1](2.0)[0], lambda y: 2.0 * fn(y), X)

    def weighted(y):
        return np.sum(sd.grad(fn)(y) * y**2)

    _checked(sd.grad(weighted)(X), weighted, X)

    def tangent(y):
        return sd.jvp(fn, (y,), (y * V,))[1]

    _checked(sd.grad(tangent)(X), tangent, X)


def test_a_primitive_passed_directly_takes_its_further_arguments():
    """``sd.grad(np.linalg.norm)(x, 1)`` and by keyword: the arguments after the first
    reach the primitive, one compiled call per way of calling it."""
    gradient = sd.grad(np.linalg.norm)
    _checked(gradient(X, 1), lambda y: np.linalg.norm(y, 1), X)
    _checked(gradient(X, ord=1), lambda y: np.linalg.norm(y, ord=1), X)
    _checked(gradient(X), np.linalg.norm, X)
    rows = np.stack([X, V])
    _checked(sd.grad(np.sum)(rows, None), np.sum, rows)


def _sines_of(z, p):
    return np.sum(np.sin(z * p[0]) * p[1])


def _sines_of_named(z, p):
    return np.sum(np.sin(z * p["w"]) * p["n"])


class _Scale:
    """An object whose field a function may compute from differentiated values."""

    def __init__(self, w):
        self.w = w


def _sines_of_object(z, s):
    return np.sum(np.sin(z * s.w))


def vmap_sharing_a_list_with_an_integer(x):
    return np.sum(sd.vmap(_sines_of, in_axes=(0, None))(np.outer(x, x), [x * 2.0, 3]))


def vmap_sharing_a_dict_with_an_integer(x):
    return np.sum(sd.vmap(_sines_of_named, in_axes=(0, None))(np.outer(x, x), {"w": x, "n": 2}))


def vmap_sharing_an_object(x):
    return np.sum(sd.vmap(_sines_of_object, in_axes=(0, None))(np.outer(x, x), _Scale(x * 2.0)))


@pytest.mark.parametrize(
    "fn",
    [vmap_sharing_a_list_with_an_integer, vmap_sharing_a_dict_with_an_integer,
     vmap_sharing_an_object],
)  # fmt: skip
def test_vmap_of_an_argument_holding_floats_beside_other_values_is_refused(fn):
    """The map's pull-back gave no gradient to an argument holding an integer beside the
    floats, or an object: the floats' derivative was lost without a word."""
    with pytest.raises(sd.CompileError, match="a gradient through sd.vmap"):
        sd.grad(fn)(X)


def vmap_sharing_a_list_of_floats(x):
    return np.sum(sd.vmap(_sines_of, in_axes=(0, None))(np.outer(x, x), [x * 2.0, 3.0]))


def test_vmap_sharing_a_list_of_floats_is_differentiated():
    fn = vmap_sharing_a_list_of_floats
    np.testing.assert_allclose(sd.grad(fn)(X), _numeric_jacobian(fn, X), rtol=1e-6)
    np.testing.assert_allclose(sd.grad(fn)(X), _numeric_jacobian(fn, X, 1e-5), rtol=1e-5)
