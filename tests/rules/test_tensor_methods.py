"""Rules of PyTorch's Tensor methods on arrays (what compiled Tensor code calls)."""

import numpy as np
import pytest

from srcdiff.nn import functional as F
from srcdiff.rules import lookup
from srcdiff.runtime import tensor_methods as tm

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(11)
FIVE = np.array(
    [[True, False, True, False], [False, True, False, False], [True, False, False, True]]
)


def _pair(method):
    """``method``'s ``(values, indices)`` as a plain tuple (as the tables rebuild one)."""
    return lambda *args, **kwargs: tuple(method(*args, **kwargs))


# x, dim, index and src of a scatter_reduce, whose result its gradients take
_SCATTERED = (
    np.random.default_rng(0).standard_normal((3, 4)),
    1,
    np.array([[0, 3], [2, 2], [1, 0]]),
    np.random.default_rng(1).standard_normal((3, 2)),
)

SPECS = [
    *[
        Spec(tm.sum, (R((3, 4)),), {"dim": dim, "keepdim": keep})
        for dim in (None, 0, 1, -1, (0, 1))
        for keep in (False, True)
    ],
    *[
        Spec(tm.mean, (R((3, 4)),), {"dim": dim, "keepdim": keep})
        for dim in (None, 0, -1)
        for keep in (False, True)
    ],
    *[
        Spec(m, (R((3, 4)),), kw)
        for m in (tm.var, tm.std)
        for kw in (
            {},
            {"dim": 1},
            {"dim": 0, "keepdim": True},
            {"unbiased": False},
            {"dim": (0, 1), "correction": 0},
        )
    ],  # fmt: skip
    Spec(tm.max, (R((3, 4)),)),
    # an operand cast to the dtype PyTorch computes an operator in (float32 here)
    Spec(tm.promoted, (R((3, 4)), R((3, 4)).astype(np.float32), R((3, 4))), wrt=(0,)),
    Spec(tm.augmented, (R((3, 4)), R((3, 4))), wrt=(1,)),  # h += v: the new value's
    Spec(tm.maximum, (R((3, 4)), R((4,)))),
    Spec(tm.minimum, (R((3, 4)), R((4,)))),
    Spec(tm.where, (R((3, 4)) > 0, R((3, 4)), R((4,))), wrt=(1, 2)),
    Spec(tm.min, (R((3, 4)),)),
    Spec(tm.values, ((R((3,)), R((3,))),), call=lambda r: tm.values(tm.RETURN_TYPES["max"](*r))),
    Spec(tm.aminmax_min, ((R((3,)), R((3,))),), call=lambda r: tm.aminmax_min(tm.aminmax_type(*r))),
    Spec(tm.aminmax_max, ((R((3,)), R((3,))),), call=lambda r: tm.aminmax_max(tm.aminmax_type(*r))),
    Spec(tm.full_like, (R((3, 4)), R.scalar()), wrt=(1,)),
    *[
        Spec(m, (R((3, 4)),))
        for m in (
            tm.exp,
            tm.sin,
            tm.cos,
            tm.tanh,
            tm.sigmoid,
            tm.neg,
            tm.abs,
            tm.clone,
            tm.t,
            tm.double,
        )
    ],
    # a cast's derivative is the identity: checked in float64, where no rounding hides it
    Spec(tm.float, (R((3, 4)),), call=tm.double, label="in-float64"),
    *[Spec(m, (R((3, 4), 0.1, 2.0),)) for m in (tm.log, tm.sqrt)],
    Spec(tm.relu, (R((3, 4)),)),
    Spec(tm.leaky_relu, (R((3, 4)), 0.2)),
    Spec(tm.hardtanh, (R((3, 4)), -0.5, 0.5)),
    Spec(F._leaky_relu, (R((3, 4)), 0.2)),
    Spec(F._hardtanh_floats, (R((3, 4)), -0.5, 0.5)),
    Spec(tm.elu, (R((3, 4)),)),
    Spec(tm.nll_picked, (R((3, 4)), FIVE), wrt=(0,)),
    Spec(F._nll_picked, (R((3, 4)), FIVE), wrt=(0,)),
    Spec(tm.elu, (R((3, 4)), 1.6, 1.05, 0.5), wrt=(0,), label="scaled"),
    Spec(tm.threshold, (R((3, 4)), 0.3, -1.5), wrt=(0,)),
    Spec(tm.hardshrink, (R((3, 4)), 0.5), wrt=(0,)),
    Spec(tm.softshrink, (R((3, 4)), 0.5), wrt=(0,)),
    Spec(tm.hardsigmoid, (R((3, 4), -4.0, 4.0),)),
    Spec(tm.hardswish, (R((3, 4), -4.0, 4.0),)),
    Spec(F._elu, (R((3, 4)), 0.7, 1.0, 2.0), wrt=(0,)),
    Spec(F._threshold, (R((3, 4)), 0.3, -1.5), wrt=(0,)),
    Spec(F._hardshrink, (R((3, 4)), 0.5), wrt=(0,)),
    Spec(F._softshrink, (R((3, 4)), 0.5), wrt=(0,)),
    Spec(F._hardsigmoid, (R((3, 4), -4.0, 4.0),)),
    Spec(F._hardswish, (R((3, 4), -4.0, 4.0),)),
    Spec(tm.pow, (R((3, 4), 0.5, 2.0), 3.0), wrt=(0,)),
    Spec(tm.pow, (R((3, 4), 0.5, 2.0), R((3, 4)))),
    *[
        Spec(tm.clamp, (R((3, 4)),), kw)
        for kw in ({"min": -0.5}, {"max": 0.5}, {"min": -0.5, "max": 0.5})
    ],
    Spec(tm.view, (R((3, 4)), -1), wrt=(0,)),
    Spec(tm.view, (R((3, 4)), 2, 6), wrt=(0,)),
    *[Spec(tm.flatten, (R((2, 3, 4)),), kw) for kw in ({}, {"start_dim": 1})],
    Spec(tm.transpose, (R((2, 3, 4)), 0, 2), wrt=(0,)),
    Spec(tm.permute, (R((2, 3, 4)), 2, 0, 1), wrt=(0,)),
    Spec(tm.unsqueeze, (R((3, 4)), 1), wrt=(0,)),
    *[Spec(tm.squeeze, (R((3, 1, 4)),), kw) for kw in ({}, {"dim": 1}, {"dim": 0})],
    Spec(tm.to, (R((3, 4)), np.float64), wrt=(0,)),
    Spec(tm.cpu, (R((3, 4)),)),
    Spec(tm.nan_to_num, (R((3, 4)),), {"nan": 0.5, "posinf": 2.0}),
    Spec(tm.type_as, (R((3, 4)), np.ones(2)), wrt=(0,)),
    *[Spec(m, (R((3, 4)), R((4,)))) for m in (tm.add, tm.sub, tm.mul)],
    *[Spec(m, (R((3, 4)), R((4,))), {"alpha": -1.5}, label="alpha") for m in (tm.add, tm.sub)],
    Spec(tm.add, (R((2, 3)), R(())), {"alpha": 2.0}, wrt=(0, 1), label="0d-alpha"),
    Spec(tm.div, (R((3, 4)), R((4,), 0.5, 2.0))),
    *[Spec(m, (R((3, 4)), R((4, 2)))) for m in (tm.matmul, tm.mm)],
    Spec(tm.dot, (R((4,)), R((4,)))),
    *[Spec(m, (R((3, 4), 0.5, 2.0),)) for m in (tm.square, tm.reciprocal, tm.log1p, tm.expm1)],
    Spec(tm.contiguous, (R((3, 4)),)),
    Spec(tm.contiguous, (R(()),), label="0d"),  # (NumPy's ascontiguousarray makes it 1-d)
    Spec(tm.norm, (R((3, 4)),)),
    Spec(tm.norm, (R((3, 4)),), {"dim": 1}, label="dim"),
    Spec(tm.norm, (R((3, 4)), 2, 0, True), label="keepdim"),
    Spec(tm.expand, (R((3, 1)), 3, 4), wrt=(0,)),
    Spec(tm.expand, (R((4,)), (2, -1)), wrt=(0,), label="tuple"),
    Spec(tm.reshape, (R((3, 4)), (4, 3)), wrt=(0,)),
    *[
        Spec(m, (R((3, 4)), dim), wrt=(0,))
        for m in (tm.softmax, tm.log_softmax)
        for dim in (0, 1, -1)
    ],
    Spec(tm.masked_fill, (R((3, 4)), R((3, 4)) > 0, 0.5), wrt=(0,)),
    Spec(tm.copied, (R((3, 4)), R((4,))), wrt=(1,)),
    Spec(tm.copied, (R((2, 3)), R((2, 3))), wrt=(1,), label="same-shape"),
    Spec(tm.masked_fill, (R((3, 4)), R((3, 4)) > 0, 0.5), label="value"),
    Spec(tm.masked_fill, (R((3, 4)), R((2, 3, 4)) > 0, 0.5), wrt=(0,), label="broadcast-mask"),
    *[
        Spec(m, (R((3, 4)),), {"dim": ()}, label="empty-dim")
        for m in (tm.sum, tm.mean, tm.var, tm.std)
    ],
    Spec(tm.squeeze, (R((1, 3, 1)),), {"dim": (0, 2)}, label="tuple-dim"),
    Spec(tm.split, (R((5, 4)), 2), wrt=(0,)),
    Spec(tm.split, (R((4, 5)), [1, 4], 1), wrt=(0,), label="sizes"),
    Spec(tm.chunk, (R((4, 7)), 3, -1), wrt=(0,)),
    *[Spec(m, (R((4, 5)), k), wrt=(0,)) for m in (tm.tril, tm.triu) for k in (0, -1, 2)],
    Spec(tm.bmm, (R((2, 3, 4)), R((2, 4, 5)))),
    Spec(tm.repeat, (R((2, 3)), 2, 1, 3), wrt=(0,)),
    Spec(tm.index_select, (R((3, 4)), 1, np.array([3, 0, 3])), wrt=(0,)),
    *[Spec(m, (R((3, 4)), dim), wrt=(0,)) for m in (tm.amax, tm.amin) for dim in (1, ())],
    Spec(tm.binary_cross_entropy, (R((3, 4), 0.05, 0.95), R((3, 4), 0.0, 1.0))),
    Spec(tm.binary_cross_entropy, (R((3, 4), 0.05, 0.95), R((4,), 0.0, 1.0)), label="broadcast"),
    Spec(tm.neg_logit, (R((3, 4), 0.05, 0.95),)),
    Spec(tm.kl_div_terms, (R((3, 4)), R((3, 4), 0.05, 1.0))),
    Spec(tm.kl_div_terms, (R((3, 4)), R((4,), 0.05, 1.0)), label="broadcast"),
    Spec(F._kl_div_terms, (R((3, 4)), R((3, 4), 0.05, 1.0))),
    # (what nn.functional.binary_cross_entropy calls, as compiled code sees it)
    Spec(F._binary_cross_entropy, (R((3, 4), 0.05, 0.95), R((3, 4), 0.0, 1.0))),
    Spec(tm.logsumexp, (R((3, 4)), 1), wrt=(0,)),
    Spec(tm.logsumexp, (R((3, 4)), (0, 1), True), wrt=(0,), label="keepdim"),
    Spec(tm.flip, (R((3, 4)), [0, 1]), wrt=(0,)),
    Spec(tm.flip, (R((3, 4)), 1, 0), wrt=(0,), label="dims-apart"),
    Spec(tm.flip, (R((3, 4)),), {"dims": (-1,)}, wrt=(0,)),
    Spec(tm.sort, (R((3, 4)),), wrt=(0,), call=_pair(tm.sort)),
    Spec(tm.sort, (R((3, 4)), 0, True), wrt=(0,), call=_pair(tm.sort), label="dim0-descending"),
    Spec(
        tm.sort, (R((3, 4)),), {"stable": True, "descending": True}, wrt=(0,), call=_pair(tm.sort)
    ),  # fmt: skip
    Spec(tm.topk, (R((3, 5)), 2), wrt=(0,), call=_pair(tm.topk)),
    Spec(
        tm.topk,
        (R((4, 3)), 3, 0, False, False),
        wrt=(0,),
        call=_pair(tm.topk),
        label="smallest-unsorted",
    ),  # fmt: skip
    Spec(tm.cumprod, (R((3, 4)), 1), wrt=(0,)),
    Spec(tm.cumprod, (R((3, 4)), -2), wrt=(0,)),
    Spec(
        tm.cumprod,
        (np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.5, -1.5, 0.0, 2.0, 3.0]]), 1),
        wrt=(0,),
        label="zeros",
    ),  # fmt: skip
    Spec(tm.cumprod, (R(()), 0), wrt=(0,), label="0d"),
    *[Spec(tm.cumsum, (R((3, 4)), dim), wrt=(0,)) for dim in (1, -2)],
    Spec(tm.cumsum, (R(()), 0), wrt=(0,), label="0d"),
    Spec(tm.prod, (R((3, 4)),), wrt=(0,), label="all"),
    Spec(tm.prod, (R((3, 4)), 1), wrt=(0,)),
    Spec(tm.prod, (R((3, 4)), 0, True), wrt=(0,), label="keepdim"),
    Spec(tm.prod, (np.array([[2.0, 0.0, 3.0], [0.5, -1.5, 2.0]]), 1), wrt=(0,), label="zero"),
    Spec(tm.prod, (R(()), 0), wrt=(0,), label="0d"),
    *[Spec(tm.unbind, (R((3, 4)), dim), wrt=(0,)) for dim in (0, -1)],
    Spec(tm.narrow, (R((3, 5)), 1, -3, 2), wrt=(0,)),
    Spec(tm.narrow, (R((3, 5)), 0, 1, 2), wrt=(0,)),
    Spec(tm.unfold, (R((3, 5)), 1, 2, 1), wrt=(0,), label="overlapping"),
    Spec(tm.unfold, (R((5, 2)), 0, 2, 2), wrt=(0,), label="apart"),
    Spec(tm.unfold, (R((2, 6)), -1, 3, 4), wrt=(0,), label="gaps"),
    Spec(tm.unfold, (R(()), 0, 1, 1), wrt=(0,), label="0d"),
    Spec(tm.unfold_grad, (R((3, 4, 2)), R((3, 5)), 1, 2, 1), wrt=(0,)),
    Spec(tm.unfold_grad, (R((1,)), R(()), 0, 1, 1), wrt=(0,), label="0d"),
    Spec(tm.as_strided, (R((3, 4)), (4, 3), (2, 2), 1), wrt=(0,), label="overlapping"),
    Spec(tm.as_strided, (R((3, 4)), (2, 2), (1, 4)), wrt=(0,), label="columns"),
    Spec(tm.as_strided, (R((3, 4)), (), (), 5), wrt=(0,), label="0d"),
    Spec(tm.as_strided_grad, (R((4, 3)), R((3, 4)), (4, 3), (2, 2), 1), wrt=(0,)),
    Spec(tm.strided_read, (R((3, 4)), (4, 3), (2, 2), 1), wrt=(0,)),
    Spec(tm.movedim, (R((2, 3, 4)), (0, 1), (2, 0)), wrt=(0,)),
    Spec(tm.movedim, (R((2, 3, 4)), -1, 0), wrt=(0,)),
    Spec(tm.movedim, (R(()), 0, -1), wrt=(0,), label="0d"),
    *[Spec(tm.diag, (R((4,)), k), wrt=(0,)) for k in (0, -1)],
    *[Spec(tm.diag, (R((3, 4)), k), wrt=(0,)) for k in (0, 1, -2)],
    Spec(tm.outer, (R((3,)), R((4,)))),
    Spec(tm.scatter, (R((3, 4)), 1, np.array([[0, 2], [3, 1]]), R((2, 3))), wrt=(0, 3)),
    Spec(
        tm.scatter, (R((3, 4)), 0, np.array([[0, 2], [2, 1]]), None, 0.5), wrt=(0,), label="value"
    ),  # fmt: skip
    Spec(tm.scatter_add, (R((3, 4)), 1, np.array([[0, 0], [3, 1]]), R((2, 3))), wrt=(0, 3)),
    Spec(
        tm.scatter_add,
        (R((3, 4)), 0, np.array([[0, 2, 0, 1]]), R((1, 4))),
        wrt=(0, 3),
        label="dim0",
    ),  # fmt: skip
    Spec(tm.roll, (R((3, 4)), 1, 1), wrt=(0,)),
    *[Spec(m, (R((3, 4)) * 3.0 + 0.2,), wrt=(0,)) for m in (tm.floor, tm.ceil, tm.trunc, tm.sign)],
    Spec(tm.round, (R((3, 4)) * 3.0 + 0.2,), wrt=(0,)),
    Spec(tm.gather, (R((3, 5)), 1, np.array([[0, 0, 4], [2, 1, 1], [3, 3, 0]])), wrt=(0,)),
    Spec(tm.gather, (R((4, 3)), 0, np.array([[3, 0], [1, 1]])), wrt=(0,), label="dim0-part"),
    *[
        Spec(m, ([R((2, 3)), R((2, 3))],), {"dim": dim})
        for m in (tm.cat, tm.stack)
        for dim in (0, 1)
    ],
    Spec(tm.rsqrt, (R((3, 4), 0.3, 3.0),)),
    Spec(tm.frac, (R((3, 4), 0.1, 0.9) + np.array([-2.0, -1.0, 0.0, 3.0]),)),
    Spec(tm.sinc, (R((3, 4)),)),
    Spec(tm.copysign, (R((3, 4)), R((4,)))),
    Spec(tm.heaviside, (R((3, 4)) * (R((3, 4)) > 0), R((4,))), wrt=(1,)),
    *[
        Spec(m, (R((3, 4)), R((4,))))
        for m in (tm.fmax, tm.fmin, tm.hypot, tm.logaddexp, tm.logaddexp2)
    ],  # fmt: skip
    *[
        Spec(m, (R((3, 4)), dim), wrt=(0,), call=_pair(m), label=f"dim{dim}")
        for m in (tm.cummax, tm.cummin)
        for dim in (0, -1)
    ],  # fmt: skip
    Spec(tm.atan2, (R((3, 4)), R((4,)))),
    *[Spec(m, (R((3, 4)), R((3, 4), 0.6, 1.5))) for m in (tm.remainder, tm.fmod)],
    Spec(tm.diagonal, (R((3, 4)), 1), wrt=(0,)),
    Spec(tm.diagonal, (R((2, 3, 4)), 0, 2, 0), wrt=(0,), label="dims"),
    Spec(tm.lerp, (R((3, 4)), R((4,)), 0.3), wrt=(0, 1)),
    Spec(tm.lerp, (R((3, 4)), R((3, 4)), R((3, 4))), label="weights"),
    Spec(tm.addcmul, (R((3, 4)), R((4,)), R((3, 1))), {"value": 0.5}),
    Spec(tm.div_rounded, (R((3, 4)) * 3.0 + 0.2, R((3, 4), 0.6, 1.5), "floor"), wrt=(0, 1)),
    Spec(tm.div_rounded, (R((3, 4)) * 3.0 + 0.2, 0.7, "trunc"), wrt=(0,), label="trunc"),
    *([Spec(tm.erf, (R((3, 4)),))] if lookup(tm.erf) is not None else []),  # (SciPy's erf)
    Spec(tm.repeat_interleave, (R((3, 4)), 2, 1), wrt=(0,)),
    Spec(tm.repeat_interleave, (R((3, 4)), 3), wrt=(0,), label="flat"),
    Spec(tm.masked_select, (R((3, 4)), R((4,)) > 0), wrt=(0,)),
    Spec(tm.masked_select_grad, (R((5,)), R((3, 4)), FIVE), wrt=(0,)),
    Spec(tm.index_fill, (R((3, 4)), 1, np.array([0, 2, 0]), 0.7), wrt=(0,)),
    Spec(tm.index_fill, (R((3, 4)), 0, np.array([1]), R(())), wrt=(0, 3), label="0-d value"),
    Spec(tm.index_fill, (R((3, 4)), -1, np.array([-1, 0]), R(())), wrt=(0, 3), label="dim -1"),
    Spec(tm.index_fill, (R(()), 0, np.array([-1]), R(())), wrt=(0, 3), label="0-d"),
    Spec(tm.index_add, (R((3, 4)), -1, np.array([3, 0]), R((3, 2))), wrt=(0, 3), label="dim -1"),
    Spec(
        tm.index_add, (R((3, 4)), 0, np.array([0, 2, 0]), R((3, 4))), {"alpha": 0.5}, wrt=(0, 3)
    ),  # fmt: skip
    Spec(tm.tile, (R((3, 4)), (2, 1, 2)), wrt=(0,)),
    Spec(tm.tile, (R((3, 4)), 2), wrt=(0,), label="fewer dims"),
    Spec(tm.trace, (R((3, 4)),)),
    Spec(tm.select, (R((3, 4)), 1, -2), wrt=(0,)),
    Spec(tm.unflatten, (R((3, 4)), 1, (2, -1)), wrt=(0,)),
    Spec(tm.diff, (R((3, 4)),), wrt=(0,)),
    Spec(tm.diff, (R((3, 4)), 2, 0, R((1, 4)), R((2, 4))), wrt=(0, 3, 4), label="joined"),
    Spec(tm.median, (R((3, 4)),)),
    Spec(tm.median, (R((3, 4)), 1), wrt=(0,), call=_pair(tm.median), label="dim"),
    Spec(tm.median, (R((3, 4)), 0, True), wrt=(0,), call=_pair(tm.median), label="keepdim"),
    Spec(tm.kthvalue, (R((3, 4)), 2), wrt=(0,), call=_pair(tm.kthvalue)),
    Spec(tm.kthvalue, (R((3, 4)), 3, 0, True), wrt=(0,), call=_pair(tm.kthvalue), label="dim0"),
    Spec(tm.aminmax, (R((3, 4)),), wrt=(0,), call=_pair(tm.aminmax)),
    Spec(
        tm.aminmax,
        (R((3, 4)),),
        {"dim": 1, "keepdim": True},
        wrt=(0,),
        call=_pair(tm.aminmax),
        label="dim",
    ),  # fmt: skip
    *[
        Spec(m, (R((3, 4)),), kw, wrt=(0,), label=str(kw))
        for m in (tm.var_mean, tm.std_mean)
        for kw in ({}, {"dim": 1, "keepdim": True}, {"dim": False}, {"dim": 0, "correction": 0})
    ],
    *[
        Spec(tm.norm, (R((3, 4)), p), kw, wrt=(0,), label=f"{p} {kw}")
        for p in (1, float("inf"), -float("inf"), 0, 3, 0.5, "fro")
        for kw in ({}, {"dim": 1}, {"dim": (0, 1), "keepdim": True})
    ],
    Spec(tm.dist, (R((3, 4)), R((4,))), wrt=(0, 1)),
    Spec(tm.dist, (R((3, 4)), R((3, 4)), 1), wrt=(0, 1), label="p=1"),
    Spec(tm.dist, (R((3, 4)), R((3, 1)), 3), wrt=(0, 1), label="p=3"),
    *[
        Spec(tm.cdist, (R((3, 4)), R((2, 4)), p), wrt=(0, 1), label=str(p))
        for p in (2.0, 1.0, float("inf"), 3.0, 0.5)
    ],
    Spec(tm.cdist, (R((2, 3, 4)), R((2, 4))), wrt=(0, 1), label="batches"),
    Spec(tm.cdist, (R((27, 3)), R((2, 3))), wrt=(0, 1), label="by a matrix product"),
    *[
        Spec(
            tm.scatter_reduce,
            (R((3, 4)), 1, np.array([[0, 3], [2, 2], [1, 0]]), R((3, 2)), reduce),
            {"include_self": include},
            wrt=(0, 3),
            label=f"{reduce} {include}",
        )
        for reduce in ("sum", "prod", "mean", "amax", "amin")
        for include in (True, False)
    ],  # fmt: skip
    *[
        Spec(
            tm.scatter_reduce_grads,
            (
                R((3, 4)),
                tm.scatter_reduce(*_SCATTERED, reduce, include_self=include),
                *_SCATTERED,
                reduce,
                include,
            ),
            wrt=(0,),
            label=f"{reduce} {include}",
        )
        for reduce in ("sum", "prod", "mean", "amax", "amin")
        for include in (True, False)
    ],  # fmt: skip
    Spec(tm.norm_rows, (R((3, 4, 2)), (0, 2)), wrt=(0,)),
    Spec(tm.norm_rows_back, (R((4, 6)), R((3, 4, 2)), (0, 2)), wrt=(0,)),
    Spec(tm.taken, (R((3, 4)), np.array([[1, 0, 3, 3], [2, 2, 0, 1], [0, 1, 1, 2]]), 1)),
    Spec(tm.taken, (R((3, 4)), np.array([[1, 0, 2, 2]]), 0)),
    Spec(tm.taken, (R(()), np.array(0), 0)),
    Spec(tm.taken_grad, (R((3, 2)), R((3, 4)), np.array([[1, 1], [3, 0], [2, 2]]), 1), wrt=(0,)),
    Spec(tm.taken_grad, (R(()), R(()), np.array(0), 0), wrt=(0,)),
]


(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(
    SPECS, [s for s in SPECS if s.has_float_array() and s.prim is not tm.double]
)


@pytest.mark.parametrize("extreme", [tm.max, tm.min])
def test_extreme_along_a_dim_gives_the_values_gradient_to_the_entry_at_its_index(extreme):
    """As in PyTorch, ties or not (the second row ties for both max and min); without a
    dim, ties share evenly."""
    x = np.array([[1.0, 5.0, 3.0], [4.0, 4.0, 4.0]])
    values, indices = extreme(x, 1)
    g = np.array([10.0, 20.0])
    (d, *_) = rule_grads(extreme, (g, np.zeros(2)), x, 1)
    expected = np.zeros_like(x)
    expected[np.arange(2), indices] = g
    np.testing.assert_array_equal(d, expected)
    (whole, *_) = rule_grads(extreme, np.float64(6.0), x[1:])
    np.testing.assert_array_equal(whole, [[2.0, 2.0, 2.0]])
    y = R((3, 4))  # no ties: central differences of sum(u * values) along each dim
    for dim, keep in ((0, False), (1, True), (-1, False)):
        u = R(extreme(y, dim, keep).values.shape)
        (d, *_) = rule_grads(extreme, (u, None), y, dim, keep)
        steps = np.eye(y.size).reshape(y.size, *y.shape) * 1e-6
        ups = [np.sum(u * extreme(y + e, dim, keep).values) for e in steps]
        downs = [np.sum(u * extreme(y - e, dim, keep).values) for e in steps]
        fd = (np.array(ups) - np.array(downs)) / 2e-6
        np.testing.assert_allclose(d.ravel(), fd, atol=1e-8)


@pytest.mark.parametrize("cast", [tm.float, lambda x: tm.to(x, np.float32)])
def test_a_cast_to_float32_gives_the_gradient_back_in_the_input_dtype(cast):
    x = R((2, 3))
    g = np.full((2, 3), 0.5, np.float32)
    rule = lookup(tm.float)
    d = rule.fn(g, cast(x), x)
    assert d.dtype == np.float64
    np.testing.assert_array_equal(d, 0.5)


def test_relu_gives_no_gradient_at_zero_as_pytorch():
    x = np.array([-1.0, 0.0, 2.0])
    (d,) = rule_grads(tm.relu, np.ones(3), x)
    np.testing.assert_array_equal(d, [0.0, 0.0, 1.0])


def test_sigmoid_is_stable_and_its_gradient_is_hand_derived():
    x = np.array([-1000.0, 0.0, 1000.0])
    y = tm.sigmoid(x)
    np.testing.assert_array_equal(y, [0.0, 0.5, 1.0])
    (d,) = rule_grads(tm.sigmoid, np.ones(3), x)
    np.testing.assert_allclose(d, [0.0, 0.25, 0.0])


def test_squeeze_of_a_dimension_that_is_not_one_keeps_it():
    x = R((3, 4))
    assert tm.squeeze(x, 0).shape == (3, 4)


def test_methods_fall_back_to_the_object_itself():
    class Box:
        def to(self, device):
            return ("moved", device)

    assert tm.to(Box(), "cpu") == ("moved", "cpu")


@pytest.mark.parametrize("m", [tm.sum, tm.mean, tm.var, tm.std])
def test_an_empty_dim_reduces_over_every_dim_as_pytorch(m):
    x = R((3, 4))
    np.testing.assert_allclose(m(x, dim=()), m(x))
    assert m(x, dim=[], keepdim=True).shape == (1, 1)


@pytest.mark.parametrize(
    "dim, shape", [((0, 2), (3,)), ((0, 1), (3, 1)), ([-1], (1, 3)), (0, (3, 1))]
)
def test_squeeze_takes_a_tuple_of_dims(dim, shape):
    assert tm.squeeze(np.zeros((1, 3, 1)), dim).shape == shape


def test_squeeze_refuses_a_repeated_or_missing_dim():
    with pytest.raises(RuntimeError, match="appears multiple times"):
        tm.squeeze(np.zeros((1, 3)), (0, -2))
    with pytest.raises(IndexError, match="out of range"):
        tm.squeeze(np.zeros((1, 3)), (2,))


def test_std_of_a_constant_row_has_gradient_zero_as_pytorch():
    x = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    (d, *_) = rule_grads(tm.std, np.ones(2), x, 1)
    np.testing.assert_array_equal(d[0], 0.0)
    assert np.isfinite(d).all()


def test_masked_fill_sends_no_gradient_from_a_filled_nan():
    """PyTorch's ``grad.masked_fill(mask, 0)``: a NaN gradient where filled is dropped."""
    x, mask = np.ones(3), np.array([True, False, True])
    g = np.array([np.nan, 2.0, 3.0])
    d_x, _, d_value = rule_grads(tm.masked_fill, g, x, mask, 0.5)
    np.testing.assert_array_equal(d_x, [0.0, 2.0, 0.0])
    assert np.isnan(d_value)


def test_sigmoid_is_pytorchs_formula_without_overflow_warnings():
    x = np.array([-np.inf, -1e4, -3.0, 0.5, np.inf], np.float32)
    with np.errstate(over="raise"):
        y = tm.sigmoid(x)
    np.testing.assert_array_equal(y, (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32))
    assert y.dtype == np.float32


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_extreme_without_self_gives_x_left_out_no_share(reduce):
    """With include_self=False, an entry of ``x`` equal to the value scattered over it
    took half the gradient (as PyTorch does), though the result does not depend on it:
    ``src``'s entry got half its slope."""
    x, src, index = np.array([5.0, 1.0]), np.array([5.0]), np.array([0])
    d_x, _, _, d_src, *_ = rule_grads(
        tm.scatter_reduce, np.array([1.0, 1.0]), x, 0, index, src, reduce, include_self=False
    )
    np.testing.assert_array_equal(d_x, [0.0, 1.0])
    np.testing.assert_array_equal(d_src, [1.0])


def _scatter_prod_grads(x, src, g, include):
    index = np.array([[0, 3, 0], [2, 2, 2], [1, 0, 1]])
    ans = tm.scatter_reduce(x, 1, index, src, "prod", include_self=include)
    return tm.scatter_reduce_grads(g, ans, x, 1, index, src, "prod", include)


@pytest.mark.parametrize("include", [True, False])
def test_scatter_prod_gradients_change_as_their_differences_say_zeros_among_the_factors(include):
    """The change of prod's gradients (its second derivative) where one, two or three
    factors of a position are 0, against central differences (exact: the gradients are
    linear in each factor)."""
    rng = np.random.default_rng(5)
    index = np.array([[0, 3, 0], [2, 2, 2], [1, 0, 1]])
    for _ in range(20):
        x, src = rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
        x[rng.random((3, 4)) < 0.3] = 0.0
        src[rng.random((3, 3)) < 0.4] = 0.0
        g, dx, dsrc = (
            rng.standard_normal((3, 4)),
            rng.standard_normal((3, 4)),
            rng.standard_normal((3, 3)),
        )
        changed = tm.scatter_reduce_curvature(g, x, 1, index, src, "prod", include, dx, dsrc)
        eps = 1e-6
        up = _scatter_prod_grads(x + eps * dx, src + eps * dsrc, g, include)
        down = _scatter_prod_grads(x - eps * dx, src - eps * dsrc, g, include)
        for c, u, d in zip(changed, up, down, strict=True):
            np.testing.assert_allclose(c, (u - d) / (2 * eps), rtol=1e-6, atol=1e-8)
