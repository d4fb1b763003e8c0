"""The benchmark's hand-written NumPy gradients, checked against central finite differences.

bench/run.py checks every implementation against these references, so they are verified
here (W1 and W4, small sizes). No timing, and no torch/JAX/autograd needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import WORKLOADS, calls, overheads, w1_linreg, w4_control  # noqa: E402
from bench.workloads.base import REFERENCE  # noqa: E402


def central_difference(f, args: list[np.ndarray], i: int, eps: float = 1e-6) -> np.ndarray:
    """d f / d args[i] by central differences, one component at a time."""
    grad = np.zeros_like(args[i])
    for k in np.ndindex(args[i].shape):
        plus = [a.copy() for a in args]
        minus = [a.copy() for a in args]
        plus[i][k] += eps
        minus[i][k] -= eps
        grad[k] = (f(*plus) - f(*minus)) / (2 * eps)
    return grad


def test_workload_modules_have_the_uniform_shape():
    for workload in WORKLOADS:
        assert workload.NAME and workload.TITLE
        assert workload.IMPLEMENTATIONS[0].name == REFERENCE
    assert callable(overheads.measure) and callable(calls.measure)


def test_w1_gradient_matches_finite_differences():
    p = w1_linreg.make_problem()
    args = [p.a0, p.b0]
    value, grads = w1_linreg.numpy_value_and_grad(*args, p.x, p.y)
    f = lambda a, b: w1_linreg.loss(a, b, p.x, p.y)
    assert np.isclose(value, f(*args))
    for i, g in enumerate(grads):
        assert g.shape == args[i].shape
        np.testing.assert_allclose(g, central_difference(f, args, i), rtol=1e-6)


def test_w1_training_reaches_the_tutorial_result():
    p = w1_linreg.make_problem()
    step = w1_linreg.sgd_step(w1_linreg.numpy_value_and_grad, w1_linreg.LR)
    (a, b), _ = w1_linreg.train(step, (p.a0, p.b0), [(p.x, p.y)] * p.epochs)
    np.testing.assert_allclose([a[0], b[0]], [1.0235, 1.9690], atol=1e-4)


def test_w4_gradient_matches_finite_differences():
    p = w4_control.make_problem(n_steps=300, size=4)
    args = [p.y0, p.v0]
    value, grads = w4_control.numpy_value_and_grad(*args, p.n_steps)
    f = lambda y0, v0: w4_control.simulate(y0, v0, p.n_steps)
    assert np.isclose(value, f(*args), rtol=1e-12)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, central_difference(f, args, i), rtol=1e-5, atol=1e-8)


def test_w4_takes_both_branches():
    p = w4_control.make_problem(n_steps=300, size=4)
    y, v = p.y0, p.v0
    clipped = 0
    for _ in range(p.n_steps):
        v = v + w4_control.DT * (-np.sin(y) - 0.1 * v)
        y = y + w4_control.DT * v
        clipped += np.sum(v * v) > w4_control.EMAX
        v = v * min(1.0, np.sqrt(w4_control.EMAX / np.sum(v * v)))
    assert 0 < clipped < p.n_steps


def test_calls_gradients_match_finite_differences_and_the_generated_code():
    import srcdiff as sd

    for loss in calls.losses():
        args = list(loss.args)
        grad = loss.grad(*args)
        np.testing.assert_allclose(grad, central_difference(loss.fn, args, 0), rtol=1e-6)
        g = sd.grad(loss.fn)
        np.testing.assert_allclose(g(*args), grad, rtol=1e-12)
        np.testing.assert_allclose(calls.generated(g, loss.args)(), grad, rtol=1e-12)
