"""Rules of the helpers that forward-mode source calls (``rt.broadcast_like``,
``rt.power_slope``, ...) and of ``sd.jvp`` itself: what reverse mode over forward mode
(``sd.hvp``, ``sd.hessian``, gradients of gradients) differentiates."""

import functools

import numpy as np

import srcdiff as sd
from srcdiff import autograd
from srcdiff import runtime as rt

from .spec import Sampler, Spec, rule_grads, table_tests

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


def norm_spec(x, ord=None, axis=None, keepdims=False, label=""):
    """``rt.norm_grad`` at ``x`` and its norm, differentiated in ``g``, ``ans`` and ``x``
    apart (the forward rule of ``np.linalg.norm`` passes ``ans = norm(x)``)."""
    ans = np.asarray(np.linalg.norm(x, ord, axis, keepdims))
    return Spec(rt.norm_grad, (R(ans.shape), ans, x, ord, axis, keepdims), wrt=(0, 1, 2),
                label=label or f"{ord}-{axis}")  # fmt: skip


def slope_tangent_spec(x, ord=None, axis=None, keepdims=False, label=""):
    """``rt.norm_slope_tangent`` at ``x`` and its norm, differentiated in the direction,
    ``g``, ``ans`` and ``x`` apart."""
    ans = np.asarray(np.linalg.norm(x, ord, axis, keepdims))
    return Spec(rt.norm_slope_tangent, (R(x.shape), R(ans.shape), ans, x, ord, axis, keepdims),
                wrt=(0, 1, 2, 3), label=label or f"{ord}-{axis}")  # fmt: skip


def slope_second_spec(x, ord=None, axis=None, keepdims=False, label=""):
    """``rt.norm_slope_second`` at ``x`` and its norm, differentiated in both directions,
    ``g``, ``ans`` and ``x`` apart."""
    ans = np.asarray(np.linalg.norm(x, ord, axis, keepdims))
    args = (R(x.shape), R(x.shape), R(ans.shape), ans, x, ord, axis, keepdims)
    return Spec(rt.norm_slope_second, args, wrt=(0, 1, 2, 3, 4),
                label=label or f"{ord}-{axis}")  # fmt: skip


def slope_power_spec(x, k, ord=None, axis=None, keepdims=False, label=""):
    """``rt.norm_slope_power`` of order ``k`` at ``x`` and its norm, differentiated in the
    directions' product, ``g``, ``ans`` and ``x`` apart."""
    ans = np.asarray(np.linalg.norm(x, ord, axis, keepdims))
    args = (R(x.shape), R(ans.shape), ans, x, k, ord, axis, keepdims)
    return Spec(rt.norm_slope_power, args, wrt=(0, 1, 2, 3),
                label=label or f"{k}-{ord}-{axis}")  # fmt: skip


def slope_along_spec(x, k, m=2, ord=None, axis=None, keepdims=False, label=""):
    """``rt.norm_slope_along`` at ``x`` and its norm, ``m`` rows of ``k`` directions,
    differentiated in the directions, ``g``, ``ans`` and ``x`` apart."""
    ans = np.asarray(np.linalg.norm(x, ord, axis, keepdims))
    args = (R((m, k, *x.shape)), R(ans.shape), ans, x, ord, axis, keepdims)
    return Spec(rt.norm_slope_along, args, wrt=(0, 1, 2, 3),
                label=label or f"{k}-{ord}-{axis}")  # fmt: skip


def with_zeros(a, *where):
    a = a.copy()
    for k in where:
        a[k] = 0.0
    return a


def square(n, shift=2.0):
    return R((n, n), -0.5, 0.5) + shift * np.eye(n)


X = R((3, 4))
TIES = np.array([[1.0, 3.0, 3.0, 2.0], [2.0, 2.0, 2.0, 2.0], [0.5, 0.2, 0.7, 0.7]])
TIES_NAN = np.array([[1.0, 1.0, np.nan, 2.0], [np.nan, 0.5, np.nan, 1.0], [0.1, 0.3, 0.3, 0.2]])
OLD = R((3,))
BOUND = Sampler(31)  # the partials' values (held: their tangents alone are checked)
PARTIAL = functools.partial(np.multiply, BOUND((3,)), BOUND(()))
KEYWORD_PARTIAL = functools.partial(np.multiply, BOUND((3,)), y=BOUND(()))
SAMPLES = np.array([-1.3, -0.2, 0.4, 1.1, 2.5])
AT = np.array([-2.0, -0.9, 0.1, 0.7, 1.6, 2.2, 3.0])  # outside, inside, away from SAMPLES
CHOICES = [np.array(0.5), np.array(2.0), np.array(-1.0)]  # the max is the second
HELD = [R((3,)), OLD]  # a list holding OLD: its tangent follows a write into OLD
SPECS = [
    Spec(rt.cast_grad, (R((3,)), R((3,)).astype(np.float32), R((3,))), wrt=(0,)),
    Spec(rt.carried, (R((3,)), R((3,)).astype(np.float32)), wrt=(0,)),
    Spec(rt.carried, (R((3,)), np.arange(3)), wrt=(0,), label="integers"),
    Spec(rt.rule_grad, (R((3,)), R((3,))), wrt=(0,)),
    Spec(rt.cast_grad, (R((2, 3)), R((2, 3)), R((2, 3))), wrt=(0,), label="same-dtype"),
    Spec(rt.cast_like, (R((2, 3)), R((2, 3))), wrt=(0,)),
    Spec(rt.view_grad, (R((2, 3)), R((2, 3))), wrt=(0,)),
    *[
        Spec(
            rt.meshgrid_tangent,
            (np.meshgrid(a, b, **kw), (a, b), (R((3,)), R((2,))), *kw.values()),
            wrt=(2,),
            label="-".join(kw) or "xy",
        )  # fmt: skip
        for a, b in [(R((3,)), R((2,)))]
        for kw in ({}, {"sparse": True, "indexing": "ij"})
    ],
    Spec(
        rt.broadcast_tangent,
        (np.broadcast_arrays(R((3, 1)), R((2,))), (R((3, 1)), R((2,)))),
        wrt=(1,),
    ),  # fmt: skip
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
    Spec(rt.sinc_derivative, (R((3, 4), -3.0, 3.0), 1), wrt=(0,)),
    Spec(
        rt.sinc_derivative,
        (np.array([0.0, 1e-9, -0.3, 0.63, 0.64, 2.5]), 2),
        wrt=(0,),
        label="second-near-zero",
    ),  # fmt: skip
    Spec(rt.sinc_derivative, (R((5,), -3.0, 3.0), 3), wrt=(0,), label="third"),
    Spec(rt.exponent_grad, (R((3, 4)), R((3, 4)), R((3, 4), 0.5, 2.0))),
    Spec(rt.exponent_grad, (R((3, 4)), R((3, 4)), R((4,), 0.5, 2.0)), label="broadcast"),
    Spec(rt.safe_log, (R((3, 4), 0.5, 2.0),)),
    Spec(rt.safe_log, (R((3, 4)),), label="mixed-signs"),
    Spec(rt.sort_tangent, (R((3, 4)), X)),
    Spec(rt.sort_tangent, (R((3, 4)), X, 0), wrt=(0, 1), label="axis-0"),
    Spec(rt.sort_tangent, (R((3, 4)), X, None), wrt=(0, 1), label="flat"),
    Spec(rt.average_weights, (X, 1, R((X.shape[1],), 0.5, 2.0)), wrt=(2,), label="1d"),
    Spec(rt.average_weights, (X, None, R(X.shape, 0.5, 2.0)), wrt=(2,), label="whole"),
    Spec(rt.extreme_grad, (R(()), np.asarray(np.max(X)), X), wrt=(0,), label="max"),
    Spec(rt.extreme_grad, (R((4,)), np.min(X, axis=0), X, 0), wrt=(0,), label="min-axis-0"),
    Spec(
        rt.extreme_grad,
        (R((3, 1)), np.max(X, axis=1, keepdims=True), X, 1, True),
        wrt=(0,),
        label="keepdims",
    ),  # fmt: skip
    *[
        Spec(rt.pad_stat_tangent, (R((3, 4)), R((3, 4)), width, mode, length), wrt=(1,))
        for mode in ("mean", "maximum", "minimum")
        for width, length in ((((1, 2), (2, 1)), None), (2, ((1, 2), (3, 1))))
    ],
    *[
        Spec(helper, (R(x.shape), running(x, axis=axis), x, axis), wrt=(0,), label=label)
        for helper in (rt.running_extreme_grad, rt.running_extreme_tangent)
        for running, x, axis, label in (
            (np.maximum.accumulate, X, 1, "max"),
            (np.minimum.accumulate, X, 0, "min-axis-0"),
            (np.maximum.accumulate, TIES, -1, "ties"),
            (np.maximum.accumulate, TIES_NAN, 1, "ties-nan"),
        )
    ],
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
    Spec(
        rt.call_jvp_star,
        (cubic, (R((3,)), None), (False, True), (), R((3,)), [R((3,))]),
        wrt=(4, 5),
    ),  # fmt: skip
    Spec(sd.jvp, (cubic, (R((3,)), R((3,))), (R((3,)), R((3,)))), wrt=(1, 2)),
    # the helpers of forward rules, differentiated again (second derivatives)
    Spec(rt.flat_read_grad, (R((3,)), X, [1, 1, 4]), wrt=(0,), label="list"),
    Spec(rt.flat_read_grad, (R((2,)), X, slice(3, 7, 2)), wrt=(0,), label="slice"),
    Spec(rt.sort_grad, (R((3, 4)), X), wrt=(0, 1)),
    Spec(rt.sort_grad, (R((3, 4)), X, 0), wrt=(0, 1), label="axis-0"),
    Spec(rt.sort_grad, (R((12,)), X, None), wrt=(0, 1), label="flat"),
    Spec(rt.digamma, (R((3, 4), 0.3, 4.0),)),
    Spec(rt.digamma, (R((5,), -2.9, -2.1),), label="negative"),
    Spec(rt.digamma, (1.7,), label="number"),
    Spec(rt.trigamma, (R((3, 4), 0.3, 4.0),)),
    Spec(rt.trigamma, (R((5,), -2.9, -2.1),), label="negative"),
    Spec(rt.trigamma, (12.5,), label="number"),
    norm_spec(R((5,)), label="vector"),
    norm_spec(X, label="flat"),
    norm_spec(X, None, 0),
    norm_spec(X, 3, 1, True),
    norm_spec(R((3, 4), 0.2, 2.0), 0.5, 1),
    norm_spec(X, np.inf, 0),
    norm_spec(X, 1, 1),
    norm_spec(X, "fro"),
    norm_spec(X, "nuc"),
    norm_spec(X, 2),
    norm_spec(X, -2),
    norm_spec(X, 1, label="matrix-1"),
    norm_spec(R((3, 2, 4)), "nuc", (0, 2), label="stack-nuc"),
    norm_spec(R((2, 3, 4)), 2, (2, 1), True, label="stack-2-keepdims"),
    slope_tangent_spec(R((5,)), label="vector"),
    slope_tangent_spec(X, label="flat"),
    slope_tangent_spec(X, None, 0),
    slope_tangent_spec(X, 3, 1, True),
    slope_tangent_spec(R((3, 4), 0.2, 2.0), 0.5, 1),
    slope_tangent_spec(R((3, 4), 0.2, 2.0), -1.5, 0),
    slope_tangent_spec(X, np.inf, 0),
    slope_tangent_spec(X, "fro"),
    slope_tangent_spec(X, 1, label="matrix-1"),
    slope_tangent_spec(R((2, 3, 4)), "fro", (2, 1), True, label="stack-fro-keepdims"),
    Spec(rt.cumprod_tangent, (R((3, 4)), R((3, 4)), 1), wrt=(0, 1)),
    Spec(rt.cumprod_tangent, (R((3, 4)), R((3, 4)), None), wrt=(0, 1), label="flat"),
    Spec(rt.cumprod_tangent, (R((4,)), R((3, 4)), 1), wrt=(0, 1), label="broadcast"),
    Spec(
        rt.cumprod_tangent,
        (R((4, 5)), with_zeros(R((4, 5)), (1, 2), (2, 1), (2, 3), (3, 0), (3, 2), (3, 3)), 1),
        wrt=(0, 1),
        label="zeros",
    ),  # fmt: skip
    Spec(
        rt.cumprod_tangent,
        (R((6,)), with_zeros(R((6,)), 1, 4), None),
        wrt=(0, 1),
        label="zeros-flat",
    ),  # fmt: skip
    *[
        Spec(rt.matrix_power_tangent, (R((3, 3)), square(3), n), wrt=(0, 1), label=f"n-{n}")
        for n in (0, 1, 2, 4, -1, -3)
    ],
    Spec(rt.matrix_power_tangent, (R((2, 3, 3)), square(3), 3), wrt=(0, 1), label="stack"),
    Spec(rt.interp_slope, (AT, SAMPLES, R((5,))), wrt=(1, 2)),
    Spec(rt.interp_slope, (R((2, 3), -2.0, 3.0), SAMPLES, R((5,))), wrt=(1, 2), label="2d"),
    Spec(
        rt.interp_slope,
        (R((7,), -4.0, 8.0), np.array([0.3, 2.6, 1.2, 1.9]), R((4,)), 3.0),
        wrt=(1, 2, 3),
        label="period",
    ),  # fmt: skip
    Spec(rt.interp_slope, (AT, SAMPLES[:1], R((1,))), wrt=(1, 2), label="one-point"),
    Spec(
        rt.diff_tangent,
        (R((3, 4)), R((3, 1)), R((3, 2)), X, 1, -1, R((3, 1)), R((3, 2))),
        wrt=(0, 1, 2),
    ),  # fmt: skip
    Spec(
        rt.diff_tangent,
        (R((3, 4)), R((1, 4)), None, X, 2, 0, R((1, 4)), None),
        wrt=(0, 1),
        label="prepend-axis-0",
    ),  # fmt: skip
    Spec(rt.eigen_gaps, (np.array([-1.0, 0.5, 1.7, 3.2]),)),
    Spec(rt.eigen_gaps, (np.array([[0.5, 1.5, 2.5], [-1.0, 0.2, 4.0]]),), label="stack"),
    Spec(rt.eigen_gaps, (np.array([0.3, 1.4, 2.2]), "np.linalg.svd", True), label="positive"),
    Spec(rt.hypot_tangent, ((0.3, -0.5, 1.2), (0.7, 2.0, -1.2), 2.3), wrt=(0, 1, 2)),
    Spec(rt.prod_grad, (R(()), None, X), wrt=(0, 2), label="all"),
    Spec(rt.prod_grad, (R((4,)), None, X, 0), wrt=(0, 2), label="axis-0"),
    Spec(rt.prod_grad, (R((3, 1)), None, X, 1, True), wrt=(0, 2), label="keepdims"),
    Spec(
        rt.prod_grad,
        (R((4,)), None, with_zeros(R((4, 4)), (1, 0), (2, 1), (2, 3), (3, 0), (3, 1), (3, 2)), 1),
        wrt=(0, 2),
        label="zeros",
    ),  # fmt: skip
    # the products' second derivatives (prod_grad's tangent), differentiated again
    Spec(rt.prod_second, (R((3, 4)), X), wrt=(0, 1), label="all"),
    Spec(rt.prod_second, (R((3, 4)), X, 1), wrt=(0, 1), label="axis-1"),
    Spec(rt.prod_second, (R((3, 4)), X, (0, 1)), wrt=(0, 1), label="axes"),
    Spec(
        rt.prod_second,
        (R((4, 4)), with_zeros(R((4, 4)), (1, 0), (2, 1), (2, 3), (3, 0), (3, 1), (3, 2)), 1),
        wrt=(0, 1),
        label="zeros",
        rtol=1e-4,  # (differences step off the zeros, where dividing by them loses digits)
    ),  # fmt: skip
    # their third derivatives, differentiated again (a fourth derivative)
    Spec(rt.prod_third, (R((3, 4)), R((3, 4)), X), wrt=(0, 1, 2), label="all"),
    Spec(rt.prod_third, (R((3, 4)), R((3, 4)), X, 1), wrt=(0, 1, 2), label="axis-1"),
    Spec(
        rt.prod_third,
        (R((4, 5)), R((4, 5)), with_zeros(R((4, 5)), (1, 0), (2, 1), (2, 3)), 1),
        wrt=(0, 1),  # (in x, differences step off the zeros, where prod_third divides by
        label="zeros",  # numbers near them: tests/compiler checks rt.prod_fourth there)
    ),  # fmt: skip
    Spec(rt.cumprod_second, (R((3, 4)), R((3, 4)), X), wrt=(0, 1, 2), label="flat"),
    Spec(rt.cumprod_second, (R((3, 4)), R((3, 4)), X, 1), wrt=(0, 1, 2), label="axis-1"),
    Spec(rt.cumprod_second, (R((4,)), R((3, 4)), X, 0), wrt=(0, 1, 2), label="broadcast"),
    Spec(
        rt.cumprod_second,
        (R((3, 4)), R((3, 4)), with_zeros(R((3, 4)), (0, 1), (1, 0), (1, 2), (2, 1), (2, 2)), 1),
        wrt=(0, 1, 2),
        label="zeros",
        rtol=1e-3,  # (differences step off the zeros, where the primal divides by them)
    ),  # fmt: skip
    Spec(rt.cumprod_third, (R((3, 4)), R((3, 4)), R((3, 4)), X), wrt=(0, 1, 2, 3), label="flat"),
    Spec(
        rt.cumprod_third, (R((4,)), R((3, 4)), R((3, 4)), X, 1), wrt=(0, 1, 2, 3), label="broadcast"
    ),  # fmt: skip
    Spec(
        rt.cumprod_third,
        (
            R((3, 5)),
            R((3, 5)),
            R((3, 5)),
            with_zeros(R((3, 5)), (0, 1), (1, 0), (1, 2), (2, 1), (2, 2), (2, 4)),
            1,
        ),
        wrt=(0, 1, 2, 3),
        label="zeros",
        rtol=1e-3,  # (differences step off the zeros, where the primal divides by them)
    ),  # fmt: skip
    Spec(
        rt.matrix_power_third, (R((3, 3)), R((3, 3)), R((3, 3)), square(3), 3), wrt=(0, 1, 2, 3)
    ),  # fmt: skip
    Spec(
        rt.matrix_power_third,
        (R((3, 3)), R((3, 3)), R((3, 3)), square(3), -2),
        wrt=(0, 1, 2, 3),
        label="inverse",
    ),  # fmt: skip
    Spec(
        rt.matrix_power_third,
        (R((2, 3, 3)), R((3, 3)), R((3, 3)), square(3), 2),
        wrt=(0, 1, 2, 3),
        label="stack",
    ),  # fmt: skip
    Spec(rt.matrix_power_second, (R((3, 3)), R((3, 3)), square(3), 3), wrt=(0, 1, 2)),
    Spec(
        rt.matrix_power_second,
        (R((3, 3)), R((3, 3)), square(3), -2),
        wrt=(0, 1, 2),
        label="inverse",
    ),  # fmt: skip
    Spec(
        rt.matrix_power_second,
        (R((2, 3, 3)), R((3, 3)), square(3), 2),
        wrt=(0, 1, 2),
        label="stack",
    ),  # fmt: skip
    Spec(rt.matrix_power_second, (R((3, 3)), R((3, 3)), square(3), 1), wrt=(0, 1, 2), label="1"),
    Spec(rt.unreduce, (R(()), X), wrt=(0,), label="all"),
    Spec(rt.unreduce, (R((4,)), X, 0), wrt=(0,), label="axis-0"),
    Spec(rt.unreduce, (R((3, 1)), X, 1, True), wrt=(0,), label="keepdims"),
    Spec(rt.choice_grads, (R(()), CHOICES[1], CHOICES[0], tuple(CHOICES[1:]), None), wrt=(0,)),
    Spec(rt.result_like, (np.linalg.eigh(np.eye(3) * 2.0), [R((3,)), R((3, 3))]), wrt=(1,)),
    Spec(
        rt.choice_tangent,
        (CHOICES[1], CHOICES[0], tuple(CHOICES[1:]), None, R(()), None, (R(()), R(()))),
        wrt=(4, 6),
    ),  # fmt: skip
    Spec(
        rt.choice_tangent, (np.min(SAMPLES), SAMPLES, (), None, R((5,))), wrt=(4,), label="entries"
    ),  # fmt: skip
    Spec(rt.sorted_in_place_tangent, (R((3, 4)), X), wrt=(0, 1)),
    Spec(rt.sorted_in_place_tangent, (R((3, 4)), X, 0), wrt=(0, 1), label="axis-0"),
    Spec(
        rt.sorted_in_place_tangent,
        ([R(()), R(()), R(())], [0.5, -1.0, 2.0], -1, None, True),
        wrt=(0, 1),
        label="list-reversed",
    ),  # fmt: skip
    Spec(
        rt.concatenator_tangent, ((R((3,)), 0.5, R((2,))), (R((3,)), 1.0, R((2,))), False), wrt=(0,)
    ),  # fmt: skip
    Spec(
        rt.concatenator_tangent,
        ((R((3,)), R((3, 2))), (R((3,)), R((3, 2))), True),
        wrt=(0,),
        label="columns",
    ),  # fmt: skip
    Spec(autograd.graph_gradient, recorded_gradient(), wrt=(1, 2)),
    # the tangents of a field, a partial and an entry, differentiated again
    Spec(rt.field_tangent, ({"w": R((3,)), "b": R(())}, "w"), wrt=(0,), label="dict"),
    Spec(rt.field_tangent, ({"w": R((3,))}, "b"), wrt=(0,), label="zero-tangent"),
    Spec(
        rt.partial_tangent,
        ((0.0, R((3,)), R(()), 0.0), PARTIAL, (np.multiply, *PARTIAL.args, ())),
        wrt=(0,),
        label="positional",
    ),  # fmt: skip
    Spec(
        rt.partial_tangent,
        (
            (0.0, R((3,)), R(()), 0.0),
            KEYWORD_PARTIAL,
            (np.multiply, *KEYWORD_PARTIAL.args, *KEYWORD_PARTIAL.keywords.values(), ("y",)),
        ),
        wrt=(0,),
        label="keyword",
    ),  # fmt: skip
    # a partial's operands' adjoints from its own (forward mode over them, sd.vjp's)
    Spec(
        rt.partial_grads,
        ([R((3,)), R(())], PARTIAL, (np.multiply, *PARTIAL.args, ())),
        wrt=(0,),
        label="positional",
    ),  # fmt: skip
    Spec(
        rt.partial_grads,
        (
            [R((3,)), R(())],
            KEYWORD_PARTIAL,
            (np.multiply, *KEYWORD_PARTIAL.args, *KEYWORD_PARTIAL.keywords.values(), ("y",)),
        ),
        wrt=(0,),
        label="keyword",
    ),  # fmt: skip
    Spec(rt.item_tangent, (R((3, 4)), (7, None, None, None)), wrt=(0,), label="flat"),
    Spec(rt.item_tangent, (R((3, 4)), (2, 1, None, None)), wrt=(0,), label="per-axis"),
    Spec(rt.item_tangent, (R(()), (None, None, None, None)), wrt=(0,), label="0d"),
    # sd.hvp called inside a differentiated function (its products differentiated again)
    Spec(sd.hvp, (cubic, (R((3,)), R((3,))), (R((3,)), R((3,)))), wrt=(1, 2)),
    Spec(sd.hvp, (cubic, (R((2,)), R((2,))), (R((2,)), None)), wrt=(1,), label="one-tangent"),
    slope_second_spec(R((5,)), 3, label="vector-3"),
    slope_second_spec(X, 3, 1, True),
    slope_second_spec(R((3, 4), 0.2, 2.0), 2.5, 0),
    slope_second_spec(X, None, 0),
    slope_second_spec(X, "fro"),
    slope_power_spec(R((5,)), 3, 4, label="vector-4"),
    slope_power_spec(R((3, 4), 0.2, 2.0), 3, 3, 1, True),
    slope_power_spec(R((3, 4), 0.2, 2.0), 4, 2.5, 0),
    slope_power_spec(R((3, 4), 0.2, 2.0), 3, -1.5, 1),
    slope_power_spec(X, 3, None, 0),
    slope_power_spec(X, 3, "fro", label="fro"),
    # (singular values well apart: two within 0.02 of each other made the central
    # differences of the third derivative miss by 1e-4 where JAX's agree to 1e-12)
    *[
        slope_second_spec(square(3) + np.diag([0.6, 0.0, -0.6]), ord, label=f"matrix-{ord}")
        for ord in ("nuc", 2, -2)
    ],
    *[
        slope_along_spec(square(3), k, 2, ord, label=f"matrix-{k}-{ord}")
        for ord in ("nuc", 2, -2)
        for k in (1, 3)
    ],  # fmt: skip
    slope_along_spec(R((2, 3, 3), -0.5, 0.5) + 2 * np.eye(3), 2, 1, "nuc", (1, 2), label="stack"),
    slope_along_spec(R((5,)), 3, 2, 3, label="vector-3"),
    slope_along_spec(R((3, 4), 0.2, 2.0), 2, 1, 2.5, 0, True, label="axis-keepdims"),
]

# the helpers of rules that move entries (np.insert, np.delete, np.resize, np.block)
S = Sampler(77)
SPECS += [
    *[
        Spec(helper, (S(shape), x, sources), wrt=(0,), label=label)
        for helper, shape, x, sources, label in (
            (rt.sources_grad, (2, 3), S((4,)), np.array([[0, 3, -1], [3, 1, 2]]), "grad"),
            (rt.sources_grad, (5,), S((2, 2)), np.array([-1, 0, 1, 2, 3]), "grad-shaped"),
            (rt.sources_tangent, (4,), S((4,)), np.array([[0, 3, -1], [3, 1, 2]]), "tangent"),
        )
    ],
    *[
        Spec(
            helper,
            (
                S(shape),
                ufunc.reduceat(x, indices, axis=axis),
                x,
                indices,
                axis,
                ufunc is not np.add,
            ),
            wrt=(0,),
            label=label,
        )  # fmt: skip
        for helper in (rt.reduceat_grad, rt.reduceat_tangent)
        for ufunc, x, indices, axis, label in (
            (np.add, S((5, 3)), [0, 3, 1], 0, "sum"),
            (np.maximum, S((3, 5)), [1, 1, 4], 1, "max"),
        )
        for shape in [
            x.shape
            if helper is rt.reduceat_tangent
            else ufunc.reduceat(x, indices, axis=axis).shape
        ]  # fmt: skip
    ],
    Spec(rt.block_grads, (S((3, 5)), [S((3, 2)), S((3, 3))]), wrt=(0,), label="row"),
    Spec(rt.block_grads, (S((3,)), [S((2,)), S.scalar()]), wrt=(0,), label="number"),
]

test_rule_matches_finite_differences, test_float32_gradients_stay_float32 = table_tests(SPECS)


class _Record:
    def __init__(self, w, b):
        self.w, self.b = w, b


def test_a_field_tangent_of_an_object_gives_the_adjoint_of_that_field():
    """An object's tangent (an object of its class) takes a dict of its fields' adjoints."""
    g = np.arange(3.0)
    (d, _) = rule_grads(rt.field_tangent, g, _Record(np.ones(3), 2.0), "w")
    assert d.keys() == {"w"} and d["w"] is g
