"""The first-order, real-valued gradients HIPS autograd's own NumPy test suites ask for
(its ``test_numpy.py`` and ``test_systematic.py``: the functions, argument shapes and
keyword variants they cover), written as srcdiff tests: each function's vector-Jacobian
product along a fixed cotangent, through ``sd.grad``, against central finite differences.
Only what is autograd's own API (``make_diagonal``) or complex-valued is left out."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import check_grads

RNG = np.random.default_rng(1)


def R(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def U(lo: float, hi: float, *shape: int) -> np.ndarray | float:
    return RNG.uniform(lo, hi, shape) if shape else float(RNG.uniform(lo, hi))


def weights(out):
    """A fixed cotangent shaped like ``out``: the checks are of vector-Jacobian products."""
    return np.cos(np.arange(np.size(out)).reshape(np.shape(out)) * 0.7) + 1.5


def scalar(fun: Callable) -> Callable:
    """``fun``'s result paired with ``weights``: a scalar function to differentiate."""

    def paired(*args):
        out = fun(*args)
        return np.sum(out * weights(out))

    return paired


CASES: list = []


def case(name: str, fun: Callable, *args, wrt=None, rtol: float = 1e-5) -> None:
    """Record one check; ``wrt``: the positions differentiated (by default the float ones)."""
    if wrt is None:
        wrt = tuple(i for i, a in enumerate(args) if not isinstance(a, (int, str, bool)))
    CASES.append(pytest.param(fun, list(args), wrt, rtol, id=name))


# ---- test_numpy.py ---------------------------------------------------------------------

M10, V10, V11 = R(10, 11), R(10), R(11)
case("dot-mat-vec", lambda x, y: np.dot(x, y), M10, V11)
case("dot-mat-mat", lambda x, y: np.dot(x, y), M10, R(10, 11).T)
case("dot-vec-mat", lambda x, y: np.dot(x, y), V10, M10)
case("dot-vec-vec", lambda x, y: np.dot(x, y), V11, R(11))
case("dot-mat-float", lambda x, y: np.dot(x, y), M10, 0.7)
case("dot-float-mat", lambda x, y: np.dot(x, y), -0.4, M10)
case("dot-vec-float", lambda x, y: np.dot(x, y), V10, 1.3)
case("dot-float-vec", lambda x, y: np.dot(x, y), 1.3, V10)
case("outer", lambda x, y: np.outer(x, y), V11, R(11))
case("outer-T", lambda x, y: np.outer(x.T, y.T), V11, R(11))
for reduce in (np.max, np.min):
    name = reduce.__name__
    case(f"{name}", lambda x, f=reduce: f(x), R(10, 11))
    case(f"{name}-axis", lambda x, f=reduce: f(x, axis=1), R(3, 4, 5))
    case(f"{name}-axis-keepdims", lambda x, f=reduce: f(x, axis=1, keepdims=True), R(3, 4, 5))
case("sum", lambda x: np.sum(x), R(10, 11))
case("sum-axis", lambda x: np.sum(x, axis=0), R(10, 11))
case("sum-keepdims", lambda x: np.sum(x, axis=0, keepdims=True), R(10, 11))
case("sum-axis-tuple", lambda x: np.sum(x, axis=(1, 2)), R(10, 11, 7))
case("flipud", lambda x: np.flipud(x), R(10, 11))
case("fliplr", lambda x: np.fliplr(x), R(10, 11))
case("rot90", lambda x: np.rot90(x), R(10, 11))
case("cumsum-axis0", lambda x: np.cumsum(x, axis=0), R(10, 11))
case("cumsum-axis1", lambda x: np.cumsum(x, axis=1), R(10, 11))
case("cumsum-1d", lambda x: np.cumsum(x), R(10))
case("cumsum-no-axis", lambda x: np.cumsum(x), R(10, 11))
case("builtin-sum", lambda x, y: sum([x, y]), R(10, 11), R(10, 11))
case("mean", lambda x: np.mean(x), R(10, 11))
case("mean-axis", lambda x: np.mean(x, axis=0), R(10, 11))
case("mean-keepdims", lambda x: np.mean(x, axis=0, keepdims=True), R(10, 11))
A3 = R(5, 6, 4)
case("index-ints", lambda x: x[3, 0, 1], A3)
case("index-slice", lambda x: x[::-1, 2:4, :], A3)
case("index-lists", lambda x: x[[0, 1, 2], :, :], A3)
case("index-mixed", lambda x: x[3, 2:, [1, 3]], A3)
case("vector-slice", lambda x: x[2:4], R(5))
case("index-slice-fanout", lambda x: x[::-1, 2:4, :] + x[::-1, 3:5, :], A3)
case("index-multiple-slices", lambda x: x[2:6][1:3], R(7))
case("reshape-method", lambda x: x.reshape((5 * 4, 6)), A3)
case("reshape-call", lambda x: np.reshape(x, (5 * 4, 6)), A3)
case("reshape-method-nolist", lambda x: x.reshape(5 * 4, 6), A3)
case("ravel-method", lambda x: x.ravel(), A3)
case("ravel-call", lambda x: np.ravel(x), A3)
case("flatten-method", lambda x: x.flatten(), A3)
case("append-list", lambda a, b: np.append(a, b), [1.0, 2.0, 3.0], 4.0)
case("append-array", lambda a, b: np.append(a, b), np.array([1.0, 2.0, 3.0]), 4.0)
B3 = R(5, 6, 4)
case("concatenate", lambda x: np.concatenate((R4, x)), R(4, 6, 4))
case("concatenate-axis0", lambda x: np.concatenate((B3, x, B3)), A3)
case("concatenate-axis1", lambda x: np.concatenate((B3, x, B3), axis=1), A3)
case("concatenate-axis1-by-position", lambda x: np.concatenate((B3, x, B3), 1), A3)
for offset in (-9, -3, 0, 4, 10):
    case(f"trace-offset{offset}", lambda x, k=offset: np.trace(x, offset=k), R(10, 11))
    case(f"trace-tall-offset{offset}", lambda x, k=offset: np.trace(x, offset=k), R(11, 10))
case("trace-extra-dims", lambda x: np.trace(x, offset=2), R(5, 6, 4, 3))
case("split", lambda x: np.split(x, 2)[0], R(10))
case("diag", lambda x: np.diag(x), R(10, 10))
case("transpose-T", lambda x: x.T, R(8, 8))
case("roll", lambda x: np.roll(x, 2, axis=1), R(4, 5))
case("roll-no-axis", lambda x: np.roll(x, 2), R(4, 5))
case("triu", lambda x: np.triu(x, k=2), R(5, 5))
case("tril", lambda x: np.tril(x, k=2), R(5, 5))
case("clip", lambda x: np.clip(x, a_min=0.1, a_max=1.1), R(5, 5))
case("prod", lambda x: np.prod(x), R(2, 3) ** 2 / 10.0 + 0.1)
case("prod-axis", lambda x: np.prod(x, axis=0), R(2, 3) ** 2 + 0.1)
case("prod-keepdims", lambda x: np.prod(x, axis=0, keepdims=True), R(2, 3) ** 2 + 0.1)
case("prod-1d", lambda x: np.prod(x), R(7) ** 2 + 0.1)
case("array-1d", lambda x: np.array([x, x * 1.0, x + 2.5]), 3.0)
case("array-2d", lambda x: np.array([[x, x * 1.0, x + 2.5], [x**2, x, x / 2.0]]), 3.0)
case("array-1d-fanout", lambda x: np.array([x, x * 1.0, x + 2.5]) * 2.0, 3.0)
case("array-from-scalar", lambda x: np.array(x), 3.0)
case("array-from-arrays", lambda x: np.array([x, x]), R(3, 2))
case("array-from-arrays-2", lambda x: np.array([[2 * x, x + 1], [x, x]]), R(3, 2))
case("len", lambda x: x * len(x), R(3, 2))
C32, C10 = R(3, 2), R(10)
case("r_", lambda x: np.r_[x], R(3, 2))
case("r_-double", lambda x: np.r_[x, x], R(3, 2))
case("r_-node-and-constant", lambda x: np.r_[x, C32], R(3, 2))
case("r_-mixed", lambda x: np.r_[x, C32, x], R(3, 2))
case("r_-slicing", lambda x: np.r_[x, C10, 1:10], R(10))
case("c_", lambda x: np.c_[x, C32, x], R(3, 2))
for ddof, axis, keepdims, shape in itertools.chain(
    itertools.product((0, 1), (None,), (True, False), ((3,), (3, 4), (1, 3))),
    itertools.product((2,), (None, 1), (True, False), ((3, 4), (1, 3))),
):
    if axis == 1 and shape == (1, 3) and ddof == 2:
        continue  # fewer than ddof + 1 entries along the axis: no variance to take
    for f in (np.var, np.std):
        case(f"{f.__name__}-ddof{ddof}-axis{axis}-keepdims{keepdims}-{shape}",
             lambda x, f=f, a=axis, k=keepdims, d=ddof: f(x, axis=a, keepdims=k, ddof=d),
             R(*shape))  # fmt: skip
MASK = R(4, 5) > 0
case("where", lambda x, y: np.where(MASK, x, y), R(4, 5), R(4, 5))
case("squeeze", lambda x: np.squeeze(x), R(5, 1, 4))
case("squeeze-method", lambda x: x.squeeze(), R(5, 1, 4))
case("repeat", lambda x: np.repeat(x, 2, axis=1), R(5, 3, 4))
case("repeat-once", lambda x: np.repeat(x, 1, axis=1), R(5, 3, 4))
case("repeat-axis0", lambda x: np.repeat(x, 2, axis=0), R(5, 3))
case("repeat-1d", lambda x: np.repeat(x, 2, axis=0), R(5))
case("repeat-axis0-once", lambda x: np.repeat(x, 1, axis=0), R(5, 1))
case("expand-dims", lambda x: np.expand_dims(x, 2), R(5, 1, 4))
case("tensordot-axes-by-position",
     lambda x: np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2), 1.0)  # fmt: skip
case("multi-index", lambda x: x[[0, 0]], R(3))
case("multi-index-2", lambda x: x[[0, 1, 0]], R(3))
case("index-dot-slices", lambda x: np.dot(x[:2], x[2:]), R(4))
case("cast-to-int", lambda w: w[:, :-1][np.int64(np.abs(w[:, -1]) * 0.0 + 1.0)], R(5, 10))
case("diagonal", lambda d: np.diagonal(d, axis1=-1, axis2=-2), R(4, 4))
case("diagonal-stack", lambda d: np.diagonal(d, axis1=-1, axis2=-2), R(3, 4, 4))
NANS = np.array([0.0, np.nan, np.inf, -np.inf])
case("nan-to-num", lambda x: np.sin(np.nan_to_num(x + NANS)), R(4))
case("max-equal-values", lambda x: np.max(np.array([x, x])), 1.0)
case("max-equal-values-2d", lambda x: np.max(np.array([[x, x], [x, 0.5]]), axis=1), 1.0)
case("max-equal-values-2d-negative",
     lambda x: np.max(np.array([[x, x], [x, 0.5]]), axis=1), -1.0)  # fmt: skip
case("min-3-way-equality",
     lambda x: np.min(np.array([[x, x, x], [x, 0.5, 0.5], [0.5, 0.5, 0.5], [x, x, 0.5]]),
                      axis=0), 1.0)  # fmt: skip
case("maximum-equal-values", lambda x: np.maximum(x, x), 1.0)
for at in (1.0, -1.0, 2.0):
    case(f"maximum-equal-values-2d-at{at}",
         lambda x: np.maximum(np.array([x, x, 0.5]), np.array([[x, 0.5, x], [x, x, 0.5]])),
         at)  # fmt: skip
for num in (0, 1, 5):
    for ends in ((1.2, 3.4), (1.2, -3.4), (1.2, 1.2)):
        case(f"linspace-{num}-{ends}", lambda x, y, n=num: np.linspace(x, y, n), *ends)
case("astype", lambda x: np.sin(x.astype("float64")), np.arange(3, dtype="float64"))

# ---- test_systematic.py ----------------------------------------------------------------

STATS = (np.max, np.mean, np.min, np.sum, np.prod, np.var, np.std)
for f, shape, axis, keepdims in itertools.product(
    STATS, ((), (3,), (3, 4), (2, 3, 4)), (None, 0, 1, -1), (True, False)
):
    if axis is not None and (not shape or axis >= len(shape)):
        continue
    x = U(0.3, 1.5, *shape) if f is np.prod else R(*shape) if shape else float(R())
    case(f"stat-{f.__name__}-{shape}-axis{axis}-keepdims{keepdims}",
         lambda x, f=f, a=axis, k=keepdims: f(x, axis=a, keepdims=k), x)  # fmt: skip

UNARY = {  # the function, and the interval its inputs are drawn from
    np.sin: (-2, 2), np.abs: (0.1, 4), np.absolute: (0.1, 4), np.arccosh: (1.1, 4),
    np.arcsinh: (-0.9, 0.9), np.arctanh: (-0.9, 0.9), np.ceil: (-1.4, -0.6),
    np.cos: (-2, 2), np.cosh: (-2, 2), np.deg2rad: (-2, 2), np.degrees: (-2, 2),
    np.exp: (-2, 2), np.exp2: (-2, 2), np.expm1: (-2, 2), np.fabs: (0.1, 2),
    np.floor: (0.1, 0.9), np.log: (0.2, 2), np.log10: (0.2, 2), np.log1p: (0.2, 2),
    np.log2: (0.2, 2), np.rad2deg: (-2, 2), np.radians: (-2, 2), np.sign: (0.2, 2),
    np.sinh: (-2, 2), np.sqrt: (1, 3), np.square: (-2, 2), np.tan: (-1.1, 1.1),
    np.tanh: (-2, 2), np.real: (-2, 2), np.real_if_close: (-2, 2), np.imag: (-2, 2),
    np.conj: (-2, 2), np.angle: (0.2, 2),
}  # fmt: skip
for f, (lo, hi) in UNARY.items():
    for shape in ((), (3,), (2, 3)):
        case(f"unary-{f.__name__}-{shape}", lambda x, f=f: f(x), U(lo, hi, *shape))

SHAPE_PAIRS = [((), ()), ((4,), ()), ((), (4,)), ((3, 4), (4,)), ((1, 4), (3, 1)), ((3, 4),) * 2]
BINARY = {  # the function, and the intervals of its two inputs
    np.add: ((-2, 2), (-2, 2)), np.logaddexp: ((-2, 2), (-2, 2)),
    np.logaddexp2: ((-2, 2), (-2, 2)), np.remainder: ((-0.9, 0.9), (0.7, 1.9)),
    np.true_divide: ((-2, 2), (0.3, 2)), np.mod: ((0.1, 0.7), (0.8, 2.1)),
    operator.mul: ((-2, 2), (-2, 2)), operator.add: ((-2, 2), (-2, 2)),
    operator.sub: ((-2, 2), (-2, 2)), operator.mod: ((0.1, 0.25), (0.3, 2.0)),
    operator.truediv: ((-2, 2), (0.5, 2)), operator.pow: ((0.7, 2), (-2, 2)),
}  # fmt: skip
NEGATIVE = {np.true_divide: ((-2, 2), (-2.0, -0.3)), np.mod: ((0.1, 0.25), (-2.0, -0.3)),
            operator.mod: ((0.1, 0.25), (-2.0, -0.3))}  # fmt: skip
for table, tag in ((BINARY, ""), (NEGATIVE, "-negative")):
    for f, ((alo, ahi), (blo, bhi)) in table.items():
        for sa, sb in SHAPE_PAIRS:
            case(f"binary-{f.__name__}{tag}-{sa}-{sb}", lambda a, b, f=f: f(a, b),
                 U(alo, ahi, *sa), U(blo, bhi, *sb))  # fmt: skip

for axes in (None, [0, 1, 2], [0, 2, 1], [2, 0, 1], [2, 1, 0], [1, 0, 2], [1, 2, 0]):
    case(f"transpose-{axes}", lambda x, a=axes: np.transpose(x, axes=a), R(2, 3, 4))
for a, b in itertools.product((1.5, R(3), R(2, 3)), (0.3, R(3), R(3, 4))):
    if np.ndim(a) and np.ndim(b) and np.shape(a)[-1] != np.shape(b)[0]:
        continue
    case(f"systematic-dot-{np.shape(a)}-{np.shape(b)}", lambda x, y: np.dot(x, y), a, b)
TENSORDOTS = [
    ((R(1, 3), R(2, 3, 2)), (R(3), R(3, 1), R(3, 4, 2)), [(1,), (0,)]),
    ((R(3), R(3, 1), R(3, 4, 2)), (R(1, 3), R(2, 3, 2)), [(0,), (1,)]),
    ((R(2, 3), R(2, 3, 4)), (R(1, 2, 3), R(2, 2, 3, 4)), [(0, 1), (1, 2)]),
    ((R(2, 3), R(2, 3, 4)), (R(1, 2, 3), R(2, 2, 3, 4)), [(1, 0), (2, 1)]),
    ((R(2, 2), R(4, 2, 2)), (R(2, 2), R(2, 2, 4)), 1),
    ((R(2, 2), R(4, 2, 2)), (R(2, 2), R(2, 2, 4)), 2),
]
for lefts, rights, axes in TENSORDOTS:
    for a, b in itertools.product(lefts, rights):
        try:
            np.tensordot(a, b, axes=axes)
        except ValueError:
            continue  # shapes that do not contract
        case(f"tensordot-{a.shape}-{b.shape}-{axes}",
             lambda x, y, ax=axes: np.tensordot(x, y, axes=ax), a, b)  # fmt: skip
for f in (np.maximum, np.minimum):
    for sa, sb in itertools.product(((1,), (1, 4), (3, 4)), repeat=2):
        case(f"{f.__name__}-{sa}-{sb}", lambda x, y, f=f: f(x, y), R(*sa), R(*sb))
case("sort-1", lambda x: np.sort(x), R(1))
case("sort-7", lambda x: np.sort(x), R(7))
for kth in (0, 3, 6):
    for n in (7, 14):
        case(f"partition-{n}-kth{kth}", lambda x, k=kth: np.partition(x, k), R(n))
for f in (np.atleast_1d, np.atleast_2d, np.atleast_3d):
    for a in (1.2, R(1), R(7), R(1, 4), R(2, 4), R(2, 4, 5), R(2, 4, 3, 5)):
        case(f"{f.__name__}-{np.shape(a)}", lambda x, f=f: f(x), a)
for a in (R(1, 1), R(4, 4), R(3, 4)):
    case(f"einsum-transpose-{a.shape}", lambda x: np.einsum("ij->ji", x), a)
case("einsum-matmul", lambda x, y: np.einsum("ij,jk->ik", x, y), R(2, 3), R(3, 4))
case("einsum-covsum", lambda x, y: np.einsum("ijk,lji->lki", x, y), R(3, 4, 4), R(4, 4, 3))
case("einsum-ellipses", lambda x, y: np.einsum("...jk,...lj->...lk", x, y), R(3, 4, 4),
     R(3, 4, 4))  # fmt: skip
case("einsum-ellipses-elementwise", lambda x, y: np.einsum("...,...->...", x, y), R(3, 4, 4),
     R(3, 4, 4))  # fmt: skip
case("einsum-three-arguments", lambda x, y, z: np.einsum("ijk,lji,lli->lki", x, y, z),
     R(3, 4, 4), R(4, 4, 3), R(4, 4, 3))  # fmt: skip
for a in (R(5, 5), R(4, 5), R(5, 4)):
    for offset in (-1, 0, 1):
        case(f"systematic-trace-{a.shape}-offset{offset}",
             lambda x, k=offset: np.trace(x, offset=k), a)  # fmt: skip

R4 = R(4, 6, 4)  # read by "concatenate" when it runs


def test_the_material_is_all_here():
    assert len(CASES) >= 600


@pytest.mark.parametrize(("fun", "args", "wrt", "rtol"), CASES)
def test_autograd_material(fun, args, wrt, rtol):
    f = scalar(fun)
    check_grads(f, sd.grad(f, wrt=wrt), args, wrt=wrt, rtol=rtol, atol=1e-6)
