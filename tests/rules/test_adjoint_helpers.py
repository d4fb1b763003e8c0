"""The NumPy fast paths of the adjoint helpers (``rt.unbroadcast``, ``rt.unreduce``,
``rt.keep_dims``, ``rt.size``, ``rt.zeros_like``) give, bit for bit, what the general
paths give: an ndarray subclass, which takes the general path, is the reference."""

import math

import numpy as np
import pytest

from srcdiff.errors import CompileError
from srcdiff.runtime import arrays as rt

SHAPES = [(), (1,), (3,), (80, 1), (1, 1), (32, 8), (8,), (3, 4), (3, 1), (1, 4), (2, 1, 4)]
DTYPES = [np.float64, np.float32, np.int64, np.complex128]


class Sub(np.ndarray):
    """An ndarray that is not exactly one: the helpers take their general path."""


def sample(shape, dtype, seed=0):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)


def same_bits(a, b):
    return (
        type(a) is type(b)
        and np.shape(a) == np.shape(b)
        and np.asarray(a).dtype == np.asarray(b).dtype
        and np.asarray(a).tobytes() == np.asarray(b).tobytes()
    )


def broadcasts_to(xs, gs):
    try:
        return np.broadcast_shapes(xs, gs) == gs
    except ValueError:
        return False


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbroadcast_fast_path_sums_as_the_general_one(dtype):
    for gs in SHAPES:
        g = sample(gs, dtype)
        for xs in [s for s in SHAPES if broadcasts_to(s, gs)]:
            x = sample(xs, np.float64, 1)
            fast = rt.unbroadcast(g, x)
            general = rt.unbroadcast(g.view(Sub), x.view(Sub))
            assert np.shape(fast) == xs
            assert same_bits(np.asarray(fast), np.asarray(general)), (gs, xs)


@pytest.mark.parametrize("x", [2.0, 3, True, np.float64(2), np.float32(2), np.bool_(True)])
def test_unbroadcast_to_a_number(x):
    g = sample((80, 1), np.float64)
    general = g.view(Sub).sum(axis=(0, 1))
    out = rt.unbroadcast(g, x)
    assert type(out) is np.float64 and out.tobytes() == np.asarray(general).tobytes()
    assert rt.unbroadcast(np.array(1.5), x).shape == ()  # already the number's shape


def test_unbroadcast_refuses_lists():
    with pytest.raises(CompileError):
        rt.unbroadcast(np.ones((2, 2)), [1.0, 2.0])
    with pytest.raises(CompileError):
        rt.unbroadcast(np.ones(2), [1.0, 2.0])


@pytest.mark.parametrize("xs", SHAPES)
def test_unreduce_and_keep_dims(xs):
    for xdtype in [np.float64, np.float32]:
        x = sample(xs, xdtype)
        for g in [1.0 / max(x.size, 1), np.float64(0.3), np.float32(0.3), 2, np.array(0.5)]:
            out = rt.unreduce(g, x, None, False)
            want = np.broadcast_to(np.asarray(g, dtype=xdtype), xs)
            assert out.dtype == xdtype and out.flags.writeable and same_bits(out, np.array(want))
        for axis in range(-len(xs), len(xs)):
            red = x.sum(axis=axis)
            kept = rt.keep_dims(red, x, axis, False)
            assert same_bits(kept, np.expand_dims(red, axis))
            assert same_bits(rt.unreduce(red, x, axis, False), np.array(np.broadcast_to(kept, xs)))


@pytest.mark.parametrize("xs", [s for s in SHAPES if s])
def test_unreduce_times_is_unreduce_then_the_product(xs):
    """Bit for bit, in every dtype pairing; a factor of another shape, a number, or an
    array that is not exactly an ndarray takes the plain ``unreduce(...) * factor``."""
    for xdtype, fdtype in [(np.float64,) * 2, (np.float32,) * 2, (np.float32, np.float64),
                           (np.float64, np.float32)]:  # fmt: skip
        x, factor = sample(xs, xdtype), sample(xs, fdtype, 2)
        for g in [1.0 / x.size, np.float64(0.3), np.float32(0.3), np.array(0.5),
                  np.array(0.5, np.float32)]:  # fmt: skip
            want = rt.unreduce(g, x, None, False) * factor
            assert same_bits(rt.unreduce_times(g, x, None, False, factor), want)
        for axis in range(-len(xs), len(xs)):
            for keepdims in (False, True):
                red = x.sum(axis=axis, keepdims=keepdims)
                want = rt.unreduce(red, x, axis, keepdims) * factor
                assert same_bits(rt.unreduce_times(red, x, axis, keepdims, factor), want)
        for other in [2.0, factor.view(Sub), factor[..., :1]]:
            want = rt.unreduce(0.25, x, None, False) * other
            assert same_bits(rt.unreduce_times(0.25, x, None, False, other), want)


def test_size_and_zeros_like():
    for xs in SHAPES:
        x = sample(xs, np.float32)
        for v in [x, np.asfortranarray(x), np.broadcast_to(x, xs), x.T]:
            assert type(rt.size(v)) is int and rt.size(v) == math.prod(xs)
            z, want = rt.zeros_like(v), np.zeros_like(v)
            assert same_bits(z, want) and z.strides == want.strides
    assert rt.size(2.0) == 1 and rt.size([[1.0, 2.0]]) == 2
    assert rt.zeros_like(2.0) == 0.0 and rt.zeros_like([np.ones(2)])[0].shape == (2,)
