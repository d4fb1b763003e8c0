"""Reparameterised draws inside differentiated code: ``rng.normal(mu, sigma)`` and the
other location-scale draws differentiate in their parameters with the generator's
standard draw held fixed (a VAE's sampling step), in reverse and forward mode; the
numbers drawn are the plain call's."""

import numpy as np
import pytest

import srcdiff as sd


def vae_step(mu, log_sigma, x):
    rng = np.random.default_rng(3)
    z = rng.normal(mu, np.exp(log_sigma))
    return ((z - x) ** 2).sum() + 0.5 * (mu**2).sum()


def legacy(mu, sigma):
    np.random.seed(4)
    return (np.random.normal(mu, sigma, size=(4, 3)) ** 2).mean()


def mixed(loc, scale):
    rng = np.random.default_rng(7)
    a = rng.uniform(loc, loc + scale, size=3)
    b = rng.exponential(scale, size=3)
    c = rng.lognormal(loc, scale)
    d = rng.gumbel(loc, scale, size=3) + rng.laplace(loc, scale, size=3)
    return (a * b).sum() + c.sum() + np.tanh(d).sum()


def _differences(fn, args, i, eps=1e-6):
    grad = np.zeros_like(args[i])
    for k in np.ndindex(args[i].shape):
        up = [a.copy() for a in args]
        down = [a.copy() for a in args]
        up[i][k] += eps
        down[i][k] -= eps
        grad[k] = (fn(*up) - fn(*down)) / (2 * eps)
    return grad


CASES = [
    (vae_step, (np.array([0.1, -0.4, 0.3]), np.array([-0.2, 0.1, 0.0]), np.ones(3))),
    (legacy, (np.array([0.2, 0.4, -0.1]), np.array(1.3))),
    (mixed, (np.array([0.3, 0.1, 0.5]), np.array([0.7, 1.1, 0.9]))),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradients_hold_the_standard_draw_fixed(fn, args):
    value, grads = sd.value_and_grad(fn, wrt=(0, 1))(*args)
    assert value == fn(*args)  # the same numbers drawn as a plain call
    for i, got in enumerate(grads):
        np.testing.assert_allclose(got, _differences(fn, args, i), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fn, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_forward_mode_agrees(fn, args):
    tangents = tuple(np.full_like(a, 0.5) for a in args[:2]) + tuple(
        np.zeros_like(a) for a in args[2:]
    )
    _, tangent = sd.jvp(fn, args, tangents)
    grads = sd.grad(fn, wrt=(0, 1))(*args)
    expected = sum((g * t).sum() for g, t in zip(grads, tangents, strict=False))
    np.testing.assert_allclose(tangent, expected, rtol=1e-9)


RNG = np.random.default_rng(11)


def draws_from_the_global_generator(x):
    if np.sum(x) > 0:  # a branch: a new path used to be traced, then run again
        x = x * 2.0
    return np.sum(x * np.random.normal(size=x.shape))


def draws_from_a_held_generator(x):
    if np.sum(x) > 0:
        x = x * 2.0
    return np.sum(x * RNG.normal(size=x.shape)) + np.sum(RNG.uniform(x, x + 1.0))


@pytest.mark.parametrize("fn", [draws_from_the_global_generator, draws_from_a_held_generator])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_gradient_draws_what_a_plain_call_draws_and_no_more(fn, sign):
    """A function that draws random numbers is run once per call, as Python runs it: the
    value is the plain call's, and the generators are left where a plain call leaves
    them (running it a second time to confirm its path would draw twice)."""
    x = sign * np.linspace(0.5, 1.5, 4)
    global RNG
    np.random.seed(5)
    RNG = np.random.default_rng(11)
    plain = fn(x)
    after_plain = (np.random.normal(size=2), RNG.normal(size=2))
    for _ in range(2):  # a new path, then a known one
        np.random.seed(5)
        RNG = np.random.default_rng(11)
        value, _ = sd.value_and_grad(fn)(x)
        assert value == plain
        after = (np.random.normal(size=2), RNG.normal(size=2))
        np.testing.assert_array_equal(after[0], after_plain[0])
        np.testing.assert_array_equal(after[1], after_plain[1])


def squared_draw(sigma):
    rng = np.random.default_rng(5)
    return (rng.normal(0.3, sigma) ** 2).sum()


def squared_legacy_draw(sigma):
    np.random.seed(5)
    return (np.random.normal(0.3, sigma) ** 2).sum()


def test_a_second_derivative_through_a_generator_draw_is_refused_not_drawn_again():
    """Reverse mode over the forward mode of ``rng.normal(mu, sigma)`` ran the draw again,
    from the generator's next state: ``sd.hessian`` of ``sum(normal(0.3, s) ** 2)`` gave
    -0.67 where ``2 z**2`` is 1.29 (and so did ``sd.grad(sd.grad(...))``). The legacy
    ``np.random.normal``, whose rule the forward-mode source inlines, stays right."""
    sigma = np.array([0.5, 0.8, 1.2])
    scalar_draw = lambda s: np.random.default_rng(5).normal(0.3, s) ** 2  # noqa: E731
    for second in (
        lambda: sd.hessian(squared_draw)(sigma),
        lambda: sd.hvp(squared_draw, (sigma,), (np.ones(3),)),
        lambda: sd.grad(sd.grad(scalar_draw))(0.5),
        lambda: sd.jacobian(sd.grad(squared_draw), mode="rev")(sigma),
    ):
        with pytest.raises(sd.CompileError, match="second derivative through the random draw"):
            second()
    gradient = sd.grad(squared_legacy_draw)
    h = 1e-5
    columns = [(gradient(sigma + h * e) - gradient(sigma - h * e)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(sd.hessian(squared_legacy_draw)(sigma), np.stack(columns),
                               rtol=1e-6, atol=1e-8)  # fmt: skip
