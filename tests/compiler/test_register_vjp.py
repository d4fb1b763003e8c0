"""``sd.register_vjp``: a custom reverse rule is used wherever its function is called,
shows up in the generated source, and registering again replaces it."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.rules import registry


def cube(x):
    return x**3


def clipped_identity(x, lo, hi):
    return np.clip(x, lo, hi)


def uses_cube(x):
    return np.sum(cube(x) * 2.0)


def uses_cube_in_loop(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(cube(x * (i + 1.0)))
    return s


def uses_two_arguments(x, lo):
    return np.sum(clipped_identity(x, lo, 1.0))


def uses_numpy_function(x):
    return np.sum(np.nextafter(x, 2.0) ** 2)


def helper_calling_cube(v):
    return np.sum(cube(v))


def through_helper(x):
    return helper_calling_cube(x) + helper_calling_cube(x * 2.0)


def uses_square_and_product(x):
    return np.sum(np.square(x) + x * x)


X = np.array([0.5, -1.0, 2.0])


def test_a_custom_rule_is_used_and_shows_in_the_source(rules):
    @sd.register_vjp(cube)
    def cube_vjp(g, result, x):
        return g * 3.0 * x * x

    g = sd.grad(uses_cube)
    assert np.allclose(g(X), 6.0 * X * X)
    text = sd.source(g)
    assert "cube_vjp(" in text
    compile(text, "<source>", "exec")


def test_the_rule_is_what_gives_the_gradient(rules):
    @sd.register_vjp(cube)
    def cube_vjp(g, result, x):
        return g * 0.0 + 7.0

    assert np.allclose(sd.grad(uses_cube)(X), 7.0)  # g * 0 + 7, whatever g is


def test_registering_again_replaces_the_rule(rules):
    @sd.register_vjp(cube)
    def first_rule(g, result, x):
        return g * 1.0

    g = sd.grad(uses_cube)
    assert np.allclose(g(X), 2.0)
    assert "first_rule(" in sd.source(g)

    @sd.register_vjp(cube)
    def second_rule(g, result, x):
        return g * 3.0 * x * x

    assert np.allclose(g(X), 6.0 * X * X)
    text = sd.source(g)
    assert "second_rule(" in text and "first_rule" not in text


def test_a_custom_rule_is_used_inside_loops_and_called_functions(rules):
    @sd.register_vjp(cube)
    def cube_vjp(g, result, x):
        return g * 3.0 * x * x

    expected = sum(3.0 * (i + 1.0) ** 3 * X * X for i in range(3))
    assert np.allclose(sd.grad(uses_cube_in_loop)(X), expected)
    assert np.allclose(sd.grad(through_helper)(X), 3 * X * X + 24 * X * X)


def test_a_rule_with_several_arguments_returns_a_tuple_with_none(rules):
    @sd.register_vjp(clipped_identity)
    def clip_vjp(g, result, x, lo, hi):
        inside = (x >= lo) & (x <= hi)
        return g * inside, np.sum(g * (x < lo)), None

    dx, dlo = sd.grad(uses_two_arguments, wrt=(0, 1))(X, 0.0)
    assert np.allclose(dx, [1.0, 0.0, 0.0]) and dlo == 1.0


def test_a_numpy_function_without_a_rule_gets_one(rules):
    with pytest.raises(sd.CompileError, match="np.nextafter"):
        sd.grad(uses_numpy_function)(X)

    @sd.register_vjp(np.nextafter)
    def nextafter_vjp(g, result, x1, x2):
        return g, None

    g = sd.grad(uses_numpy_function)
    assert np.allclose(g(X), 2 * np.nextafter(X, 2.0))
    assert "nextafter_vjp(" in sd.source(g)


def test_register_vjp_returns_the_rule_unchanged(rules):
    def cube_vjp(g, result, x):
        return g * 3.0 * x * x

    assert sd.register_vjp(cube)(cube_vjp) is cube_vjp


def test_a_rule_for_np_square_is_not_taken_for_a_product(rules):
    @sd.register_vjp(np.square)
    def square_vjp(g, result, x):
        return g * 0.0 + 7.0

    assert np.allclose(sd.grad(uses_square_and_product)(X), 7.0 + 2.0 * X)


def test_a_lambda_registered_as_a_rule_is_called_by_a_name(rules):
    sd.register_vjp(cube)(lambda g, result, x: g * 3.0 * x * x)  # "<lambda>" is no name
    g = sd.grad(uses_cube)
    assert np.allclose(g(X), 6.0 * X * X)
    assert "vjp_rule(" in sd.source(g)


def doubled(x):
    return x * 2.0


def uses_doubled(x):
    return np.sum(doubled(x) * x)


def test_a_function_declared_nondiff_after_a_call_is_seen_by_the_next_call(rules):
    """Declaring a function's result gradient-free changes the rules in force, so code
    compiled before is compiled again."""
    g = sd.grad(uses_doubled)
    np.testing.assert_allclose(g(X), 4.0 * X)
    registry.nondiff("a value used as a constant by design", doubled)
    np.testing.assert_allclose(g(X), 2.0 * X)


def test_a_rule_giving_a_gradient_of_another_shape_is_refused(rules):
    """A rule returning ``np.sum(...)`` for an array argument was broadcast into a
    gradient of the argument's shape, every entry the sum, without a word."""
    sd.register_vjp(cube)(lambda g, result, x: np.sum(g * 3.0 * x * x))
    with pytest.raises(ValueError, match=r"gradient of shape \(\) for argument 0, of shape \(3,\)"):
        sd.grad(uses_cube)(X)
    sd.register_vjp(clipped_identity)(lambda g, result, x, lo, hi: g)
    with pytest.raises(TypeError, match="one gradient per argument"):
        sd.grad(lambda x: np.sum(clipped_identity(x, 0.0, 1.0)))(X)


def scaled_ignoring_its_dtype(x, dtype=np.int32):
    return x * 2.0


def test_a_users_parameter_named_dtype_is_the_users(rules):
    """An integer ``dtype=`` makes NumPy's reductions constant; a user's function with a
    parameter of that name is differentiated by its rule (it was taken for constant)."""
    sd.register_vjp(scaled_ignoring_its_dtype)(lambda g, result, x, dtype=None: (g * 2.0, None))
    got = sd.grad(lambda x: np.sum(scaled_ignoring_its_dtype(x, dtype=int)))(X)
    np.testing.assert_allclose(got, np.full(3, 2.0))


def weighted_powers(scale, *xs, power=2.0):
    return scale * sum(np.sum(v**power) for v in xs)


def weighted_powers_vjp(g, ans, scale, *xs, power=2.0):
    return (g * ans / scale, *[g * scale * power * v ** (power - 1) for v in xs])


def powered(a, *, k):
    return np.sum(a**k)


def powered_vjp(g, ans, a, *, k):
    return g * k * a ** (k - 1)


@pytest.fixture
def keyword_rules(rules):
    """The rules of ``weighted_powers`` and ``powered``, for one test (see ``rules``)."""
    sd.register_vjp(weighted_powers)(weighted_powers_vjp)
    sd.register_vjp(powered)(powered_vjp)


def _by_name(f):
    """``f`` called through a name, as ``g = f if c else f; g(...)``."""
    return lambda c: f if c else f


@pytest.mark.parametrize("through_a_name", [False, True])
def test_a_users_rule_takes_its_keyword_only_parameters_by_keyword(through_a_name, keyword_rules):
    """Its keyword-only parameters were given by position: after a *args, the keyword
    became an entry of it (a wrong gradient without a word); without one, a TypeError."""

    def starred(x):
        f = _by_name(weighted_powers)(x[0] > 0) if through_a_name else weighted_powers
        return f(x[0], x[1:], power=3.0)

    def keyword_only(x):
        f = _by_name(powered)(x[0] > 0) if through_a_name else powered
        return f(x, k=3.0)

    x = np.array([0.5, 1.0, 2.0])
    assert np.allclose(sd.grad(starred)(x), [9.0, 1.5, 6.0])  # (finite differences agree)
    assert np.allclose(sd.grad(keyword_only)(x), 3.0 * x**2)


@pytest.mark.parametrize("through_a_name", [False, True])
def test_a_derivative_through_a_keyword_only_parameter_of_a_users_rule_is_refused(
    through_a_name, keyword_rules
):
    def f(x):
        g = _by_name(powered)(x[0] > 0) if through_a_name else powered
        return g(x[1:], k=x[0])

    with pytest.raises(sd.CompileError, match="keyword-only parameter"):
        sd.grad(f)(np.array([3.0, 1.0, 2.0]))


def _doubled(a, unused):
    return 2.0 * a


def _doubled_vjp(g, ans, a, unused):
    return 2.0 * g, None  # (``unused`` changes nothing)


def _doubles_and_adds(x):
    y = np.sin(x)
    return np.sum(_doubled(y, y) + y)


def test_a_users_rule_giving_none_for_an_argument_with_other_uses_adds_nothing(rules):
    """A rule's None for an argument used elsewhere too was added to its other adjoint
    with ``+`` (a TypeError, ndarray + None); None is no gradient: it adds nothing."""
    sd.register_vjp(_doubled)(_doubled_vjp)
    x = np.array([0.3, -0.7, 1.2])
    got = sd.grad(_doubles_and_adds)(x)
    for h in (1e-6, 1e-4):
        fd = [(_doubles_and_adds(x + e) - _doubles_and_adds(x - e)) / (2 * h)
              for e in np.eye(3) * h]  # fmt: skip
        np.testing.assert_allclose(got, fd, rtol=1e-6)


def _floored_scale(a, k):
    return a * np.floor(k)


def _floored_scale_vjp(g, ans, a, k):
    return g * np.floor(k), None  # (floor is flat: k has no gradient)


def _floored_scale_jvp(tangents, ans, a, k):
    return tangents[0] * np.floor(k)


def _scales_by_a_floor(x, y):
    k = np.sin(x) * 3.0  # (k's adjoint, None, goes on into sin's and *'s rules)
    return np.sum(np.tanh(_floored_scale(y * y, k)))


def test_a_users_rule_giving_none_for_an_argument_made_by_other_rules_is_zero(rules):
    """The rule's None was the adjoint of ``k`` and went on into ``*``'s rule (a
    TypeError, None * 3.0): it is a zero gradient of ``k``'s shape, in every mode."""
    sd.register_vjp(_floored_scale)(_floored_scale_vjp)
    sd.register_jvp(_floored_scale)(_floored_scale_jvp)
    x, y = np.array([0.3, -0.7, 1.2]), np.array([0.9, 1.4, -0.6])
    g = sd.grad(_scales_by_a_floor, wrt=(0, 1))
    dx, dy = g(x, y)
    assert "rt.rule_grad(" in sd.source(g)
    np.testing.assert_array_equal(dx, np.zeros(3))
    for h in (1e-6, 1e-4):
        fd = [(_scales_by_a_floor(x, y + e) - _scales_by_a_floor(x, y - e)) / (2 * h)
              for e in np.eye(3) * h]  # fmt: skip
        np.testing.assert_allclose(dy, fd, rtol=1e-6)
    # second derivatives differentiate the adjoint, rule_grad included
    v = np.array([0.5, -1.0, 2.0])

    def along(y):
        return np.sum(sd.grad(_scales_by_a_floor, wrt=1)(x, y) * v)

    second = sd.grad(along)(y)
    for h in (1e-6, 1e-4):
        fd = [(along(y + e) - along(y - e)) / (2 * h) for e in np.eye(3) * h]
        np.testing.assert_allclose(second, fd, rtol=1e-5, atol=1e-8)


def test_a_registry_restored_whole_takes_its_version_back_and_a_later_rule_a_new_one(rules):
    """The ``rules`` fixture restores the tables and their version, so code compiled
    before stays good; a rule registered after must not take a version some code was
    compiled under meanwhile (that code would run with the rule it replaced)."""
    g = sd.grad(uses_cube)
    np.testing.assert_allclose(g(X), 6.0 * X**2)
    tables = (registry._RULES, registry._TANGENTS, registry._NONDIFF)
    saved, version = [dict(t) for t in tables], registry.version()

    @sd.register_vjp(cube)
    def cube_vjp(g, result, x):
        return g * 3.0 * x * x

    np.testing.assert_allclose(g(X), 6.0 * X**2)  # compiled again, with the rule
    for table, before in zip(tables, saved, strict=True):
        table.clear()
        table.update(before)
    registry._VERSION[0] = version  # as it was: the first code holds again

    @sd.register_vjp(cube)
    def wrong_on_purpose(g, result, x):
        return g * 5.0 * x * x

    assert registry.version() != version
    np.testing.assert_allclose(g(X), 10.0 * X**2)  # this rule's, not the first's
