"""Derivatives of any order through srcdiff's transforms called inside differentiated
functions: ``sd.grad`` nested four and five times (of functions, methods, callable
objects, and calls passing keywords), ``sd.vjp``'s pull-back, third
derivatives through ``sd.vmap``, Hessians of functions calling ``sd.jacobian``,
``sd.value_and_grad``, ``sd.hessian`` and ``sd.hvp``. Each was refused before (its
rules went to a fixed order); the values are closed forms, central differences of a
lower derivative at two steps, or JAX's (float64, recorded here)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import srcdiff as sd

X3 = np.array([0.3, 0.5, -0.2])
X22 = np.array([[0.3, 0.5], [-0.2, 0.4]])
W = np.array([0.2, -0.4])


def _differences(f, x, steps=(1e-3, 2e-3)):
    """Central differences of scalar ``f`` at ``x``, at each step."""
    return [(f(x + h) - f(x - h)) / (2 * h) for h in steps]


def _matches_differences(value, f, x, rel=1e-5):
    """``value`` agrees with the central differences of ``f`` at two steps (which agree
    with each other: ``f`` is smooth there)."""
    near, far = _differences(f, x)
    assert near == pytest.approx(far, rel=1e-4, abs=1e-6)
    assert value == pytest.approx(near, rel=rel, abs=1e-6)


# ---- sd.grad nested four and five times ------------------------------------------------


def polynomial(x):
    return x**5 - 3 * x**3 + x


def looped(x):
    s = 0.0
    for _ in range(3):
        if x > 0:
            s = s + x * np.sin(x)
        else:
            s = s - x
        x = x * 0.9
    return s


def branched(x):
    if x > 0:
        return x**5
    return np.sin(x)


def fourth(f):
    return sd.grad(sd.grad(sd.grad(sd.grad(f))))


@pytest.mark.parametrize("x", [0.7, -0.4])
def test_grad_nested_four_times_gives_closed_forms(x):
    assert fourth(np.sin)(x) == pytest.approx(np.sin(x), rel=1e-12)
    assert fourth(lambda y: np.sin(y))(x) == pytest.approx(np.sin(x), rel=1e-12)
    assert fourth(lambda y: np.exp(2 * y))(x) == pytest.approx(16 * np.exp(2 * x), rel=1e-12)
    assert fourth(polynomial)(x) == pytest.approx(120 * x, rel=1e-12)
    assert fourth(branched)(x) == pytest.approx(120 * x if x > 0 else np.sin(x), rel=1e-12)


def test_grad_nested_four_times_through_a_loop_and_a_branch():
    """Against differences of the third derivative; each call takes its own path."""
    third = sd.grad(sd.grad(sd.grad(looped)))
    of_looped = sd.grad(third)
    _matches_differences(of_looped(0.7), third, 0.7)
    assert of_looped(-0.4) == 0.0  # (-x each step: linear)
    _matches_differences(of_looped(1.3), third, 1.3)


def test_grad_nested_five_times_and_mixed_with_jvp():
    assert sd.grad(fourth(np.sin))(0.7) == pytest.approx(np.cos(0.7), rel=1e-12)
    along = lambda f: lambda y: sd.jvp(f, (y,), (1.0,))[1]  # noqa: E731
    assert along(sd.grad(sd.grad(sd.grad(polynomial))))(0.7) == pytest.approx(84.0)
    assert sd.grad(along(sd.grad(along(polynomial))))(0.7) == pytest.approx(84.0)


def quartic(x):
    return x**4 + np.sin(x)


def test_third_derivatives_through_value_and_grad_and_several_wrt():
    """Refused before: their results are tuples, whose adjoints compiled code added with
    ``+`` (concatenating them) where ``rt.acc`` adds entry by entry."""

    def mixed(x):
        value, slope = sd.value_and_grad(quartic)(x)
        return value + slope

    x = 0.7
    # (x^4 + sin x) + (4x^3 + cos x): second derivative 12x^2 - sin x + 24x - cos x
    want = 12 * x**2 - np.sin(x) + 24 * x - np.cos(x)
    assert sd.grad(sd.grad(mixed))(x) == pytest.approx(want, rel=1e-12)
    assert sd.grad(sd.grad(sd.grad(mixed)))(x) == pytest.approx(24 * x - np.cos(x) + 24 + np.sin(x))

    def both(x, y):
        dx, dy = sd.grad(lambda a, b: a**3 * b**2, wrt=(0, 1))(x, y)
        return dx * dy  # 6 a^5 b^3

    assert sd.grad(sd.grad(sd.grad(both)))(0.7, 1.3) == pytest.approx(360 * 0.7**2 * 1.3**3)


def test_value_and_grad_inside_a_hessian_matches_jax():
    def f(x):
        value, g = sd.value_and_grad(lambda y: np.sum(np.sin(y) ** 3))(x)
        return value + np.sum(g**2)

    want = [[8.030988957496787, 0.0, 0.0], [0.0, 8.770987159162859, 0.0],
            [0.0, 0.0, 2.5162381712588804]]  # fmt: skip
    np.testing.assert_allclose(sd.hessian(f)(X3), want, rtol=1e-10, atol=1e-12)


class Model:
    def __init__(self, k):
        self.k = k

    def energy(self, x):
        return self.k * np.sin(x) ** 4

    def __call__(self, x):
        return self.k * np.sin(x) ** 4


def test_fourth_and_fifth_derivatives_through_a_method_and_a_callable_object():
    """Refused before at the fourth order (``sd.grad`` of a bound method or a callable
    object: its forward rule had no relaid form); both now give the plain function's
    numbers, to the fifth order, which agree with differences of the next-lower one."""
    m = Model(2.0)
    plain = lambda y: 2.0 * np.sin(y) ** 4  # noqa: E731
    plain_fourth = fourth(plain)  # (each order built on the one below)
    plain_fifth = sd.grad(plain_fourth)(0.7)
    third = sd.grad(sd.grad(sd.grad(m.energy)))
    assert third(0.7) == pytest.approx(sd.grad(sd.grad(sd.grad(plain)))(0.7), rel=1e-12)
    for fn in (m.energy, m):
        of_fn = sd.grad(third) if fn is m.energy else fourth(fn)
        assert of_fn(0.7) == pytest.approx(plain_fourth(0.7), rel=1e-12)
        assert sd.grad(of_fn)(0.7) == pytest.approx(plain_fifth, rel=1e-12)
    _matches_differences(sd.grad(third)(0.7), third, 0.7)


def test_a_map_of_a_method_or_with_keywords_to_the_fourth_order():
    """Refused before at the third order (``sd.vmap`` of a method, or called with a
    keyword argument)."""
    m = Model(2.0)
    mapped_method = lambda s: np.sum(sd.vmap(m.energy)(s * X3) ** 2)  # noqa: E731
    mapped_keyword = lambda s: np.sum(sd.vmap(weighted)(s * X3, k=2.0) ** 2)  # noqa: E731
    mapped_plain = lambda s: np.sum(sd.vmap(lambda r: 2.0 * np.sin(r) ** 4)(s * X3) ** 2)  # noqa: E731
    want = sd.grad(sd.grad(sd.grad(mapped_plain)))(1.1)
    for mapped in (mapped_method, mapped_keyword):
        third = sd.grad(sd.grad(sd.grad(mapped)))
        assert third(1.1) == pytest.approx(want, rel=1e-12)
    _matches_differences(sd.grad(third)(1.1), third, 1.1)


def weighted(x, k=1.0):
    return k * np.sin(x) ** 4


def weighted_by_name(x, *, k=1.0):
    return k * np.sin(x) ** 4


def constant_keyword(x):
    return sd.grad(weighted)(x, k=2.0)


def differentiated_keyword_only(x):
    return sd.grad(weighted_by_name)(x, k=np.cos(x))


def test_third_and_fourth_derivatives_through_keyword_arguments():
    """A constant keyword (``k=2.0``) was refused at the third order as a differentiated
    value passed by keyword: the forward mode of the call took it as an argument of its
    own, which a transform's rules take by position only; it is now passed there by
    position, as a differentiated one is."""
    for f in (constant_keyword, differentiated_keyword_only):
        second = sd.grad(sd.grad(f))
        third = sd.grad(second)
        _matches_differences(third(0.7), second, 0.7)
    # 2 sin^4 x = 3/4 - cos 2x + cos(4x) / 4: its fifth derivative, in closed form
    want = 32 * np.sin(1.4) - 256 * np.sin(2.8)
    assert sd.grad(sd.grad(sd.grad(sd.grad(constant_keyword))))(0.7) == pytest.approx(
        want, rel=1e-10
    )


# ---- sd.vjp inside a differentiated function -------------------------------------------


def h(x):
    return np.sin(x) * x


def pulled_twice(x):
    out, pull = sd.vjp(h, x)
    return np.sum(pull(np.ones_like(out))[0] ** 2)


def pulled_pair(x, y):
    out, pull = sd.vjp(lambda a, b: (a * b, np.sin(a) + b), x, y)
    da, db = pull((np.ones(3), 2 * np.ones(3)))
    return np.sum(da * db) + np.sum(out[0])


def test_vjp_inside_a_differentiated_function_matches_jax():
    """Refused before: the pull-back held the primals where the compiler could not see
    them; inside compiled code it is a partial of a primitive that holds them."""
    assert pulled_twice(X3) == pytest.approx(1.3377615562783483, rel=1e-12)
    np.testing.assert_allclose(
        sd.grad(pulled_twice)(X3), [2.121269177603228, 2.7830276822160283, -1.5158965473266859],
        rtol=1e-10,
    )  # fmt: skip
    hessian = [[5.273646957535921, 0.0, 0.0], [0.0, 1.1460810489113227, 0.0],
               [0.0, 0.0, 6.750672730806125]]  # fmt: skip
    np.testing.assert_allclose(sd.hessian(pulled_twice)(X3), hessian, rtol=1e-10, atol=1e-12)
    tangent = sd.jvp(pulled_twice, (X3,), (np.array([1.0, -0.5, 2.0]),))[1]
    assert tangent == pytest.approx(-2.302037758158159, rel=1e-10)


def test_vjp_of_several_primals_and_results_inside_a_hessian_matches_jax():
    dx, dy = sd.grad(pulled_pair, wrt=(0, 1))(X3, X3 + 1)
    np.testing.assert_allclose(dx, [3.1512800276090505, 2.3580374307597305, 4.275342746544704])
    np.testing.assert_allclose(dy, [2.6, 3.0, 1.6])
    want = [[-5.5766286766231445, 0.0, 0.0], [0.0, -6.305614963868676, 0.0],
            [0.0, 0.0, -2.733562357048225]]  # fmt: skip
    np.testing.assert_allclose(sd.hessian(pulled_pair)(X3, X3 + 1), want, rtol=1e-10, atol=1e-12)


def pulled_as_a_gradient(x):
    """``pulled_twice`` with the pull-back written as the README says: ``sd.grad`` of a
    function of one's own, which goes to any order."""
    pulled = sd.grad(lambda y, u: np.sum(u * h(y)))(x, np.ones_like(x))
    return np.sum(pulled**2)


def test_third_and_fourth_derivatives_through_the_pull_back_of_vjp():
    """Refused before: the forward mode of the pull-back's call (a partial) was a function
    taking the partial, which reverse mode could not differentiate; its reverse rule now
    spreads the partial's bound values out. A fourth was refused: the forward mode of that
    function took the partial too; it is the forward mode of the same call with the bound
    values spread out, laid out (its own rules laid out the same way)."""
    along_x3 = lambda f: lambda s: f(s * X3)  # noqa: E731
    second = sd.grad(sd.grad(along_x3(pulled_twice)))  # (each order built on the one below)
    third = sd.grad(second)
    own_third = sd.grad(sd.grad(sd.grad(along_x3(pulled_as_a_gradient))))
    assert third(1.1) == pytest.approx(own_third(1.1), rel=1e-12)
    _matches_differences(third(1.1), second, 1.1)
    second_pair = sd.grad(sd.grad(lambda s: pulled_pair(s * X3, X3 + s)))
    _matches_differences(sd.grad(second_pair)(0.9), second_pair, 0.9)
    fourth = sd.grad(third)(1.1)
    own = sd.grad(own_third)(1.1)
    assert fourth == pytest.approx(own, rel=1e-10)
    _matches_differences(fourth, third, 1.1)


def pulled_by_name(x):
    out, pull = sd.vjp(h, x)
    return np.sum(pull(cotangent=np.cos(x) * out)[0] ** 2)


def pulled_by_position(x):
    out, pull = sd.vjp(h, x)
    return np.sum(pull(np.cos(x) * out)[0] ** 2)


def test_the_pull_back_of_vjp_given_its_cotangent_by_name_to_the_third_order():
    """It crashed (a ValueError from inside srcdiff) from the first derivative on: the
    pull-back's primitive took the cotangent by position only; a call naming it is now
    the call passing it by position, to the third order as that one goes."""
    along_x3 = lambda f: lambda s: f(s * X3)  # noqa: E731
    by_name, by_position = along_x3(pulled_by_name), along_x3(pulled_by_position)
    for _ in range(3):
        by_name, by_position = sd.grad(by_name), sd.grad(by_position)
        assert by_name(1.1) == pytest.approx(by_position(1.1), rel=1e-12)
    lower = along_x3(pulled_by_name)
    for _ in range(2):
        lower = sd.grad(lower)
    _matches_differences(by_name(1.1), lower, 1.1)
    np.testing.assert_allclose(sd.grad(pulled_by_name)(X3), sd.grad(pulled_by_position)(X3),
                               rtol=1e-12)  # fmt: skip


def pulled_starred(x):
    out, pull = sd.vjp(h, x)
    return np.sum(pull(*[np.cos(x) * out])[0] ** 2)


def partial_starred(x):
    return functools.partial(lambda a, b: np.sum(np.sin(a) * b), x)(*[x**2])


def partial_plain(x):
    return functools.partial(lambda a, b: np.sum(np.sin(a) * b), x)(x**2)


def test_derivatives_through_a_partial_called_with_a_starred_list():
    """It was refused (the pull-back of sd.vjp, or a partial of one's own, called as
    ``pull(*us)``: the reverse rule of the call's forward mode took the partial for a
    value passed on); it is the call passing the entries one by one. A third derivative
    through the pull-back so called was refused; so is its forward mode now, to any
    order, and a fourth by name is the fourth by position."""
    along_x3 = lambda f: lambda s: f(s * X3)  # noqa: E731
    first = sd.grad(along_x3(pulled_starred))  # (each order built on the one below)
    second = sd.grad(first)
    second_by_position = sd.grad(sd.grad(along_x3(pulled_by_position)))
    assert second(1.1) == pytest.approx(second_by_position(1.1))
    _matches_differences(second(1.1), first, 1.1)
    first_starred = sd.grad(along_x3(partial_starred))
    starred = sd.grad(first_starred)(0.9)
    assert starred == pytest.approx(sd.grad(sd.grad(along_x3(partial_plain)))(0.9), rel=1e-12)
    _matches_differences(starred, first_starred, 0.9)
    third = sd.grad(second)(1.1)
    third_by_position = sd.grad(second_by_position)
    assert third == pytest.approx(third_by_position(1.1))
    _matches_differences(third, second, 1.1)
    by_name = sd.grad(sd.grad(sd.grad(sd.grad(along_x3(pulled_by_name)))))
    by_position = sd.grad(third_by_position)
    assert by_name(1.1) == pytest.approx(by_position(1.1), rel=1e-12)


def pulled_method(x):
    out, pull = sd.vjp(OBJECT.method, x)
    return np.sum(pull(np.ones_like(out))[0] ** 2)


def pulled_through_a_lambda(x):
    out, pull = sd.vjp(lambda y: OBJECT.method(y), x)
    return np.sum(pull(np.ones_like(out))[0] ** 2)


def pulled_plain(x):
    out, pull = sd.vjp(cubed, x)
    return np.sum(pull(np.ones_like(out))[0] ** 2)


def pulled_closure(x):
    held = Cubed(x[0])
    out, pull = sd.vjp(lambda y: held.method(y), x)
    return np.sum(pull(np.ones_like(out))[0] ** 2)


def test_the_pull_back_of_a_method_goes_to_the_third_order_in_the_primals():
    """The pull-back of a method was refused (its object's fields would not be followed);
    it holds the object as an argument now, so in the primals it is the lambda's, to the
    third order. A closure holding a differentiated object is refused, saying why."""
    along_x3 = lambda f: lambda s: f(s * X3)  # noqa: E731
    gradient = sd.grad(pulled_method)(X3)
    np.testing.assert_allclose(gradient, sd.grad(pulled_through_a_lambda)(X3), rtol=1e-12)
    for k in range(3):
        along = lambda s, k=k: pulled_method(X3 + s * np.eye(3)[k])  # noqa: E731
        _matches_differences(gradient[k], along, 0.0, rel=1e-4)
    third = sd.grad(sd.grad(sd.grad(along_x3(pulled_method))))(1.1)
    assert third == pytest.approx(sd.grad(sd.grad(sd.grad(along_x3(pulled_plain))))(1.1))
    _matches_differences(third, sd.grad(sd.grad(along_x3(pulled_method))), 1.1)
    with pytest.raises(sd.CompileError, match="functools.partial .or of a lambda or closure"):
        sd.grad(pulled_closure)(X3)


# ---- third derivatives through sd.vmap --------------------------------------------------


def mapped(x):
    return np.sum(sd.vmap(lambda r: np.sin(r) ** 2 * r)(x))


def mapped_gradients(x):
    return np.sum(sd.vmap(sd.grad(lambda r: np.sum(np.sin(r) ** 3)))(x) ** 2)


def mapped_shared(w, x):
    return np.sum(sd.vmap(lambda w, r: np.tanh(r @ w) ** 2, in_axes=(None, 0))(w, x))


def test_third_derivatives_through_vmap_match_jax():
    third = sd.grad(sd.grad(sd.grad(lambda s: mapped(s * X3))))(1.1)
    assert third == pytest.approx(0.16081285795003453, rel=1e-10)
    shared = sd.grad(sd.grad(sd.grad(lambda s: mapped_shared(W * s, X22))))(0.9)
    assert shared == pytest.approx(-0.026310291320497947, rel=1e-10)
    penalty = sd.grad(lambda w: np.sum(sd.hessian(lambda v: mapped_shared(v, X22))(w) ** 2))(W)
    np.testing.assert_allclose(penalty, [0.19484152140581384, 0.7610739141480706], rtol=1e-10)


def test_hessians_of_gradients_through_vmap_match_jax():
    want = [[[[6.490143565830954, 0.0], [0.0, 0.0]], [[0.0, 6.886192593256888], [0.0, 0.0]]],
            [[[0.0, 0.0], [3.637681738301414, 0.0]],
             [[0.0, 0.0], [0.0, 7.9871107171590765]]]]  # fmt: skip
    np.testing.assert_allclose(sd.hessian(mapped_gradients)(X22), want, rtol=1e-10, atol=1e-12)
    want = [[7.472623635913201, 0.0, 0.0], [0.0, 11.91398546293421, 0.0],
            [0.0, 0.0, 3.856369962609798]]  # fmt: skip
    of_gradient = sd.hessian(lambda x: np.sum(sd.grad(mapped)(x) ** 2))(X3)
    np.testing.assert_allclose(of_gradient, want, rtol=1e-10, atol=1e-12)


# ---- sd.jacobian of functions, methods, callable objects, with keywords -----------------


def cubed(y, k=2.0):
    return k * np.sin(y) ** 3


class Cubed:
    def __init__(self, k):
        self.k = k

    def __call__(self, y):
        return self.k * np.sin(y) ** 3

    def method(self, y):
        return self.k * np.sin(y) ** 3


OBJECT = Cubed(2.0)


def jacobian_squared(of):
    return lambda s: np.sum(sd.jacobian(of)(s * X3) ** 2)


def test_a_jacobian_differentiated_three_and_four_times_of_any_callable():
    """A Jacobian's forward rule had no forward rule of its own (a fourth derivative was
    refused as "no forward rule for f_jvp", for a function too), and ``sd.jacobian`` of a
    callable object had no name, so its rules could not be made (refused at the third
    order as a derivative taken inside); ``sd.vmap`` of one likewise. Each now gives the
    plain function's numbers, which agree with differences of the next-lower order."""
    obj = Cubed(2.0)
    plain = jacobian_squared(cubed)
    third = sd.grad(sd.grad(plain))  # (each order built on the one below)
    fourth = sd.grad(third)
    _matches_differences(fourth(1.1), third, 1.1)
    keyword = lambda s: np.sum(sd.jacobian(cubed)(s * X3, k=2.0) ** 2)  # noqa: E731
    assert sd.grad(sd.grad(jacobian_squared(obj.method)))(1.1) == pytest.approx(third(1.1))
    for f in (jacobian_squared(obj), keyword):
        of_f = sd.grad(sd.grad(f))
        assert of_f(1.1) == pytest.approx(third(1.1), rel=1e-12)
        assert sd.grad(of_f)(1.1) == pytest.approx(fourth(1.1), rel=1e-12)
    mapped_object = lambda s: np.sum(sd.vmap(obj)(s * X3) ** 2)  # noqa: E731
    mapped_plain = lambda s: np.sum(sd.vmap(cubed)(s * X3) ** 2)  # noqa: E731
    want = sd.grad(sd.grad(sd.grad(mapped_plain)))(1.1)
    assert sd.grad(sd.grad(sd.grad(mapped_object)))(1.1) == pytest.approx(want, rel=1e-12)


# ---- Hessians of functions calling sd.jacobian, sd.hessian, sd.hvp ----------------------


def test_hessian_of_a_function_calling_jacobian_matches_jax():
    def f(x):
        return np.sum(sd.jacobian(lambda y: np.sin(y) * y[0])(x) ** 2)

    want = [[8.735010257406946, -0.5048825908847379, 0.2336510053851903],
            [-0.5048825908847379, 0.9833501966800144, 0.0],
            [0.23365100538519026, 0.0, 1.676331009085251]]  # fmt: skip
    np.testing.assert_allclose(sd.hessian(f)(X3), want, rtol=1e-10, atol=1e-12)


def test_hessian_of_a_function_calling_hessian_matches_jax():
    def f(x):
        return np.sum(sd.hessian(lambda y: np.sum(np.sin(y) ** 3) * y[1])(x) ** 2)

    want = [[6.983304061070905, 10.72232680267676, 0.0],
            [10.722326802676761, 23.360179391871057, -10.846524727395783],
            [0.0, -10.846524727395781, 12.640894614624361]]  # fmt: skip
    np.testing.assert_allclose(sd.hessian(f)(X3), want, rtol=1e-10, atol=1e-12)


def curvature(x):
    return np.sum(sd.hvp(lambda y: np.sum(np.sin(y) ** 3), (x,), (np.ones(3),)) ** 2)


def test_fourth_derivatives_through_hvp_match_jax():
    want = [[-23.98793228236401, 0.0, 0.0], [0.0, -74.72222100723116, 0.0],
            [0.0, 0.0, 21.46212455208613]]  # fmt: skip
    np.testing.assert_allclose(sd.hessian(curvature)(X3), want, rtol=1e-10, atol=1e-12)
    second = sd.grad(sd.grad(lambda s: curvature(s * X3)))(1.1)
    assert second == pytest.approx(-20.43541401036447, rel=1e-10)


# ---- reverse over reverse of np.polyfit, eigenvalues that coincide -----------------------

_KNOTS = np.linspace(0.0, 1.0, 6)


def fitted(y):
    return np.sum(np.polyfit(_KNOTS, y, 2) ** 2)


def test_polyfit_reverse_over_reverse_matches_jax():
    y = np.sin(3 * _KNOTS)
    want = [-5415.323692008679, 413.7197712707767, 3487.8469232014, 3807.057763783189,
            1371.3522930161384, -3819.269489099745]  # fmt: skip
    np.testing.assert_allclose(sd.grad(lambda v: np.sum(sd.grad(fitted)(v) ** 2))(y), want,
                               rtol=1e-9)  # fmt: skip


def test_eigvals_at_repeated_eigenvalues_is_refused_at_every_order():
    def spread(s):
        return np.sum(np.real(np.linalg.eigvals(np.diag([1.0, 1.0, 2.0]) * s)) ** 2)

    for derivative in (sd.grad(spread), sd.grad(sd.grad(spread)), sd.hessian(spread)):
        with pytest.raises(sd.CompileError, match="repeated eigenvalues"):
            derivative(1.5)


# ---- transforms of lambdas and nested functions reading differentiated values ----------


def of_a_lambda(x):
    g = sd.grad(lambda y: np.sum(np.sin(y * x)))
    return np.sum(g(x))


def of_a_nested_def(x):
    def inner(y, k=2.0):
        return np.sum(np.exp(y * x) * k)

    return np.sum(sd.grad(inner)(np.cos(x)))


def mapped_lambda(x):
    return np.sum(sd.vmap(lambda r: np.sin(r * x[0]) * x[1])(x) ** 2)


# (JAX's jax.grad, jax.hessian and jax.jvp of the same functions, float64)
OF_LAMBDAS = [
    (of_a_lambda, [0.9797745941563524, 0.8452104420833834, 0.9960009599260471],
     [-0.2693442837217152, -1.2266680886188912, 0.0799616044371123], 2.549171292966755),
    (of_a_nested_def, [3.3563803770057223, 4.090891740043029, 1.3348206978735726],
     [4.516205267568338, 2.420405597466688, 2.6059905329163398], 3.980575902731354),
]  # fmt: skip


@pytest.mark.parametrize(("f", "gradient", "diagonal", "tangent"), OF_LAMBDAS)
def test_grad_of_a_lambda_or_nested_def_reading_a_differentiated_value_matches_jax(
    f, gradient, diagonal, tangent
):
    """It was refused ("a derivative (grad) taken inside a differentiated function"): the
    lambda, reading ``x``, is a partial binding it, and ``sd.grad`` of it had no rule; it
    is the partial of ``sd.grad`` of the lambda's function binding ``x``, whose calls
    differentiate ``x`` as an argument, to the second order and in forward mode."""
    np.testing.assert_allclose(sd.grad(f)(X3), gradient, rtol=1e-10)
    np.testing.assert_allclose(sd.hessian(f)(X3), np.diag(diagonal), rtol=1e-10, atol=1e-12)
    along = np.array([1.0, -0.5, 2.0])
    assert sd.jvp(f, (X3,), (along,))[1] == pytest.approx(tangent, rel=1e-10)
    second = sd.grad(sd.grad(lambda s: f(s * X3)))
    _matches_differences(second(1.1), sd.grad(lambda s: f(s * X3)), 1.1)


def test_other_transforms_of_lambdas_and_partials_reading_differentiated_values():
    """``sd.vmap``, ``sd.value_and_grad``, ``sd.jacobian`` and ``sd.hessian`` of such a
    lambda, and ``sd.grad`` of a partial binding a value by position (``wrt`` moved past
    it), each against differences of the next-lower derivative."""
    want = [[0.405879885272552, 0.4246505771937035, -0.05971231089784583],
            [0.42465057719370347, 0.28831344823986227, -0.035913662186675806],
            [-0.05971231089784583, -0.035913662186675806, 0.04467638861342398]]  # fmt: skip
    np.testing.assert_allclose(sd.hessian(mapped_lambda)(X3), want, rtol=1e-10)

    def valued(x):
        v, g = sd.value_and_grad(lambda y: np.sum(np.sin(y * x) ** 2))(x * 2)
        return v + np.sum(g**2)

    def jacobian(x):
        return np.sum(sd.jacobian(lambda y: np.sin(y * x))(x) ** 2)

    def hessian(x):
        return np.sum(sd.hessian(lambda y: np.sum(np.sin(y * x) ** 3))(x) ** 2)

    def bound(x):
        p = functools.partial(lambda a, b: np.sum(np.sin(a) * b**2), x)
        return np.sum(sd.grad(p, wrt=0)(x * 3))

    for f in (valued, jacobian, hessian, bound):
        first = lambda s, f=f: f(s * X3)  # noqa: E731
        _matches_differences(sd.grad(first)(0.9), first, 0.9)
        _matches_differences(sd.grad(sd.grad(first))(0.9), sd.grad(first), 0.9)


def test_a_third_derivative_through_grad_of_a_lambda_is_refused_saying_what_to_write():
    """Beyond the second order, and where the lambda reads a function carrying a
    derivative, the refusal names the user's line and the rewrite."""
    line = of_a_lambda.__code__.co_firstlineno + 1
    second = sd.grad(sd.grad(lambda s: of_a_lambda(s * X3)))
    with pytest.raises(sd.CompileError, match=rf"third derivative through sd.grad .*py:{line}\)"):
        sd.grad(second)(1.1)

    def reads_a_function(x):
        g = sd.grad(lambda y: np.sum(np.sin(y * x)))
        return np.sum(sd.grad(lambda z: np.sum(g(z) * x))(x))

    with pytest.raises(sd.CompileError, match="reads a value of type partial"):
        sd.grad(reads_a_function)(X3)


def jvp_of_a_lambda(x):
    value, tangent = sd.jvp(lambda y, z: np.sum(np.sin(y * x) * z), (x, x**2), (X3, x))
    return value + tangent


def hvp_of_a_lambda(x):
    return np.sum(sd.hvp(lambda y, z: np.sum(np.sin(y * x) * z), (x, x**2), (X3, x))[1])


@pytest.mark.parametrize("f", [jvp_of_a_lambda, hvp_of_a_lambda])
def test_jvp_and_hvp_of_a_lambda_reading_a_differentiated_value(f):
    """Their rules gave the lambda no gradient: the values it reads (``x``) were held
    constant, a wrong gradient (for ``sd.jvp(lambda y: np.sum(np.sin(y * x)), (x,),
    (ones,))[1]``, [-0.0081, -0.0619, -0.0016] where [0.9798, 0.8452, 0.9960] is right);
    they are primals of a function taking them first, held constant. Forward mode through
    them (refused before) spreads the values out as arguments with their tangents: the
    tangent is the gradient's along the direction, and a Hessian differences of the
    gradient."""
    gradient = sd.grad(f)(X3)
    for k in range(3):
        along = lambda s, k=k: f(X3 + s * np.eye(3)[k])  # noqa: E731
        _matches_differences(gradient[k], along, 0.0)
    tangent = sd.jvp(f, (X3,), (np.ones(3),))[1]
    assert tangent == pytest.approx(np.sum(gradient), rel=1e-10)
    hessian = sd.hessian(f)(X3)
    for k in range(3):
        along = lambda s, k=k: sd.grad(f)(X3 + s * np.eye(3)[k])  # noqa: E731
        for j in range(3):
            _matches_differences(hessian[k, j], lambda s, j=j, a=along: a(s)[j], 0.0, rel=1e-4)


def pulled_of_a_lambda(x):
    out, pull = sd.vjp(lambda y: np.sin(y * x), x)
    return np.sum(pull(np.cos(x))[0] ** 2)


def pulled_of_a_function(x):
    out, pull = sd.vjp(lambda k, y: np.sin(y * k), x, x)
    return np.sum(pull(np.cos(x))[1] ** 2)


def test_the_pull_back_of_a_lambda_reading_a_differentiated_value():
    """It was refused ("a derivative through sd.vjp's pull-back of a functools.partial");
    the values the lambda reads are arguments of the pull-back's gradient too, held
    constant (the numbers of a function taking them as primals); a second derivative
    through it (refused before) is that of the function taking them."""
    np.testing.assert_allclose(sd.grad(pulled_of_a_lambda)(X3), sd.grad(pulled_of_a_function)(X3),
                               rtol=1e-12)  # fmt: skip
    gradient = sd.grad(pulled_of_a_lambda)(X3)
    for k in range(3):
        along = lambda s, k=k: pulled_of_a_lambda(X3 + s * np.eye(3)[k])  # noqa: E731
        _matches_differences(gradient[k], along, 0.0)
    tangent = sd.jvp(pulled_of_a_lambda, (X3,), (np.ones(3),))[1]
    assert tangent == pytest.approx(np.sum(gradient), rel=1e-12)
    hessian = sd.hessian(pulled_of_a_lambda)(X3)
    np.testing.assert_allclose(hessian, sd.hessian(pulled_of_a_function)(X3), rtol=1e-10)
    for k in range(3):
        along = lambda s, k=k: sd.grad(pulled_of_a_lambda)(X3 + s * np.eye(3)[k])  # noqa: E731
        _matches_differences(hessian[k], along, 0.0)
