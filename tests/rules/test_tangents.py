"""Rules of the helpers that forward-mode source calls (``rt.broadcast_like``,
``rt.power_slope``, ...) and of ``sd.jvp`` itself: what reverse mode over forward mode
(``sd.hvp``, ``sd.hessian``, gradients of gradients) differentiates."""

import numpy as np

import srcdiff as sd
from srcdiff import autograd
from srcdiff import runtime as rt

from .spec import Sampler, Spec, table_tests

R = Sampler(29)


def cubic(x, y):
    """A smooth function of two arguments with a helper's shape: a scalar."""
    return np.sum(x**3 * y) + np.sum(np.sin(x) * y**2)


def row_tanh(x):
    return np.tanh(x) * x[0, :]


def recorded_gradient():
    """What ``autograd.grad(..., create_graph=True)`` records: the gradient of a graph
    with respect to its input ``x``, as an operation of the graph's inputs."""
    x = sd.tensor(R((3,)), requires_grad=True)
    w = sd.tensor(R((2, 3)), requires_grad=True)
    (g,) = autograd.grad((w @ x).tanh().sum() + (x * x * x).sum(), x, create_graph=True)
    graph, *inputs = [a.value if a.ref is None else a.ref._data for a in g.grad_fn.args]
    return (graph, *inputs)


X = R((3, 4))
OLD = R((3,))
HELD = [R((3,)), OLD]  # a list holding OLD: its tangent follows a write into OLD
SPECS = [
    Spec(rt.cast_grad, (R((3,)), R((3,)).astype(np.float32), R((3,))), wrt=(0,)),
    Spec(rt.cast_grad, (R((2, 3)), R((2, 3)), R((2, 3))), wrt=(0,), label="same-dtype"),
    Spec(rt.follow_tangent, ([R((3,)), R((3,))], HELD, OLD, R((3,))), wrt=(0, 3)),
    Spec(rt.follow_tangent, (R((3,)), X, OLD, R((3,))), wrt=(0, 3), label="unrelated"),
    Spec(rt.put_back_tangent, ([R((3,)), R((3,))], HELD, 1, R((3,))), wrt=(0, 3)),
    Spec(
        rt.put_back_tangent,
        (R((3, 4)), X, (1, slice(None)), R((4,))),
        wrt=(0, 3),
        label="array-row",
    ),  # fmt: skip
    Spec(rt.broadcast_like, (R((4,)), R((3, 4))), wrt=(0,), label="row"),
    Spec(rt.broadcast_like, (R(()), R((2, 3))), wrt=(0,), label="number"),
    Spec(rt.broadcast_like, (R((2, 3)), R((2, 3))), wrt=(0,), label="same"),
    Spec(rt.power_slope, (R((3, 4), 0.5, 2.0), R((3, 4), -1.5, 2.5))),
    Spec(rt.power_slope, (R((3, 4), 0.5, 2.0), 3.0), wrt=(0,), label="constant-exponent"),
    Spec(rt.power_slope, (R((4,), 0.5, 2.0), R((3, 1), 0.5, 2.0)), label="broadcast"),
    Spec(rt.safe_log, (R((3, 4), 0.5, 2.0),)),
    Spec(rt.safe_log, (R((3, 4)),), label="mixed-signs"),
    Spec(rt.sort_tangent, (R((3, 4)), X)),
    Spec(rt.sort_tangent, (R((3, 4)), X, 0), wrt=(0, 1), label="axis-0"),
    Spec(rt.sort_tangent, (R((3, 4)), X, None), wrt=(0, 1), label="flat"),
    Spec(rt.extreme_grad, (R(()), np.asarray(np.max(X)), X), wrt=(0,), label="max"),
    Spec(rt.extreme_grad, (R((4,)), np.min(X, axis=0), X, 0), wrt=(0,), label="min-axis-0"),
    Spec(
        rt.extreme_grad,
        (R((3, 1)), np.max(X, axis=1, keepdims=True), X, 1, True),
        wrt=(0,),
        label="keepdims",
    ),  # fmt: skip
    Spec(rt.call_jvp, (cubic, (R((3,)), R((3,))), R((3,)), R((3,), 0.5, 1.5)), wrt=(1, 2, 3)),
    Spec(
        rt.call_jvp,
        (cubic, (R((2, 2)), None), R((2, 2)), R((2, 2))),
        wrt=(2, 3),
        label="one-tangent",
    ),  # fmt: skip
    Spec(rt.call_jvp, (row_tanh, (R((3, 2)),), R((3, 2))), wrt=(1, 2), label="array-result"),
    Spec(
        rt.call_jvp_keywords, (cubic, (R((3,)), R((3,))), ("y",), R((3,)), R((3,))), wrt=(1, 3, 4)
    ),  # fmt: skip
    Spec(
        rt.call_jvp_keywords,
        (cubic, (R((2,)), None), ("y",), R((2,)), R((2,))),
        wrt=(3, 4),
        label="passive-keyword",
    ),  # fmt: skip
    Spec(sd.jvp, (cubic, (R((3,)), R((3,))), (R((3,)), R((3,)))), wrt=(1, 2)),
    Spec(autograd.graph_gradient, recorded_gradient(), wrt=(1, 2)),
]

test_rule_matches_finite_differences, test_float32_gradients_stay_float32 = table_tests(SPECS)
