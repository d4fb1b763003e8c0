"""Making tensors: dtypes as PyTorch infers them, memory sharing, seeded randomness."""

import builtins
import pickle

import numpy as np
import pytest

import srcdiff as sd


@pytest.mark.parametrize(
    "data, dtype",
    [
        ([1.0, 2.0], sd.float32),
        (2.5, sd.float32),
        ([1, 2], sd.int64),
        ([True, False], sd.bool),
        (np.array([1.0, 2.0]), sd.float64),
        (np.array([1, 2], dtype=np.int32), sd.int32),
        (np.float64(1.5), sd.float64),
        ([[1, 2.5]], sd.float32),
    ],
)
def test_tensor_infers_dtype_as_pytorch(data, dtype):
    assert sd.tensor(data).dtype is dtype


def test_tensor_copies_and_converts():
    a = np.array([1.0, 2.0])
    t = sd.tensor(a, dtype=sd.float32, requires_grad=True)
    a[0] = 9.0
    assert t.dtype is sd.float32 and t.tolist() == [1.0, 2.0]
    assert t.requires_grad and t.is_leaf and t.grad is None
    assert sd.tensor([sd.tensor(1.0), sd.tensor(2.0)]).tolist() == [1.0, 2.0]
    assert sd.tensor([1, 2], dtype=float).dtype is sd.float64


def test_from_numpy_shares_memory_and_dtype():
    a = np.zeros(3)
    t = sd.from_numpy(a)
    a[1] = 5.0
    assert t.dtype is sd.float64 and t[1].item() == 5.0
    t.numpy()[2] = 7.0
    assert a[2] == 7.0
    with pytest.raises(TypeError):
        sd.from_numpy([1.0, 2.0])


def test_from_numpy_float_to_device_as_in_the_tutorial():
    x = sd.from_numpy(np.random.default_rng(0).random((80, 1))).float().to("cpu")
    assert x.type() == "srcdiff.FloatTensor" and x.shape == (80, 1)


@pytest.mark.parametrize("make", [sd.zeros, sd.ones, sd.empty])
def test_filled_shapes_and_dtypes(make):
    assert make(2, 3).shape == (2, 3)
    assert make((2, 3)).shape == (2, 3)
    assert make([4]).shape == (4,)
    assert make(2, dtype=sd.float64).dtype is sd.float64
    assert make(2, dtype=sd.long).dtype is sd.int64
    assert make(2).dtype is sd.float32
    assert make(1, requires_grad=True).requires_grad


def test_values_of_filled_and_like():
    assert sd.zeros(2).tolist() == [0.0, 0.0]
    assert sd.ones(2, 1).tolist() == [[1.0], [1.0]]
    base = sd.tensor([1, 2, 3])
    assert sd.zeros_like(base).dtype is sd.int64 and sd.zeros_like(base).tolist() == [0, 0, 0]
    assert sd.ones_like(base, dtype=sd.float64).dtype is sd.float64
    assert sd.full((2,), 1.5).tolist() == [1.5, 1.5]
    assert sd.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_arange_dtypes():
    assert sd.arange(3).tolist() == [0, 1, 2] and sd.arange(3).dtype is sd.int64
    assert sd.arange(0, 1, 0.5).dtype is sd.float32
    assert sd.arange(1, 4, dtype=sd.float64).tolist() == [1.0, 2.0, 3.0]


def test_manual_seed_makes_randomness_repeatable():
    sd.manual_seed(42)
    a = sd.randn(3)
    b = sd.rand(2, 2)
    sd.manual_seed(42)
    assert sd.randn(3).tolist() == a.tolist() and sd.rand(2, 2).tolist() == b.tolist()
    sd.manual_seed(42)
    wide = sd.randn(3, dtype=sd.float64)
    assert np.allclose(wide.numpy(), a.numpy())
    assert b.min().item() >= 0.0 and b.max().item() < 1.0


def test_random_tensors_as_in_the_tutorial():
    sd.manual_seed(42)
    b = sd.randn(1, requires_grad=True, dtype=sd.float, device="cpu")
    assert b.shape == (1,) and b.requires_grad and b.is_leaf and b.dtype is sd.float32
    assert sorted(sd.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    r = sd.randint(0, 3, (10,))
    assert r.dtype is sd.int64 and set(r.tolist()) <= {0, 1, 2}


def test_dtype_objects():
    assert repr(sd.float32) == "srcdiff.float32"
    assert sd.float is sd.float32 and sd.double is sd.float64 and sd.long is sd.int64
    assert sd.float32.is_floating_point and not sd.int64.is_floating_point
    assert pickle.loads(pickle.dumps(sd.float64)) is sd.float64
    assert builtins.isinstance(sd.bool, sd.dtype)


@pytest.mark.parametrize(
    "dtype, name",
    [
        (sd.float32, "srcdiff.FloatTensor"),
        (sd.float64, "srcdiff.DoubleTensor"),
        (sd.int64, "srcdiff.LongTensor"),
        (sd.bool, "srcdiff.BoolTensor"),
    ],
)
def test_type_names(dtype, name):
    assert sd.zeros(1, dtype=dtype).type() == name


def test_legacy_constructor():
    assert sd.Tensor(2, 3).shape == (2, 3) and sd.Tensor(2, 3).dtype is sd.float32
    assert sd.Tensor([1, 2]).dtype is sd.float32
    t = sd.Tensor(7, 5).uniform_(-1, 1)
    assert t.min().item() >= -1 and t.max().item() <= 1
    w = sd.Variable(sd.Tensor([1.0]), requires_grad=True)
    assert w.requires_grad and w.is_leaf


@pytest.mark.skipif(sd.cuda.is_available(), reason="CUDA is available here")
def test_cuda_is_unavailable_without_cupy_or_gpu():
    assert sd.cuda.is_available() is False
    assert sd.cuda.device_count() == 0


@pytest.mark.parametrize(
    "args, expected",  # PyTorch 2.13's values
    [
        ((0, 5, 1.5), [0, 1, 2, 3]),
        ((0.5, 5, 1.5), [0, 1, 2]),
        ((-3.7, 2, 0.9), [-3] * 7),
        ((0, 5, 2.5), [0, 2]),
    ],
)
def test_arange_of_an_integer_dtype_with_float_bounds_truncates_them_first(args, expected):
    """PyTorch's integer kernel counts the entries from the floats, then steps by the
    truncated step from the truncated start (rounding each float entry gave [0, 1, 3, 4])."""
    assert sd.arange(*args, dtype=sd.int32).tolist() == expected


@pytest.mark.parametrize(
    "args, expected",  # PyTorch 2.13's values
    [
        ((0.5, 5, 1.5), [0, 1, 2, 3, 4]),
        ((-2.5, 3, 1.7), [-2, -1, 0, 1, 2]),
        ((0.5, 5.2, 2.5), [0, 2, 4]),
        ((1.7, 9.9, 2.9), [1, 3, 5, 7]),
    ],
)
def test_arange_of_int64_with_float_bounds_counts_from_the_truncated_bounds(args, expected):
    """PyTorch's int64 kernel truncates start, end and step before counting (its other
    integer kernels count from the floats)."""
    assert sd.arange(*args, dtype=sd.int64).tolist() == expected
