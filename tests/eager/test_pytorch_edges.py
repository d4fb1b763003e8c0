"""Eager Tensor edge cases where srcdiff once parted from PyTorch silently: remainders and
sign kept in the graph, infinities in sigmoid and softplus, dtypes of masked_fill, ``//``,
``%`` and ``clamp``, empty dims, 0-d cumsum, std of a constant, squeeze of several dims,
NaN in max and abs. The expected values are PyTorch's, written out (or NumPy's closed
forms)."""

import re

import numpy as np
import pytest
from steps import assert_refused_eagerly_and_compiled

import srcdiff as sd

INF, NAN = float("inf"), float("nan")


def arr(t):
    return t.detach().numpy()


# ---- % (remainder, fmod) and sign ----------------------------------------------------------


def test_remainder_is_recorded_with_pytorchs_gradients():
    x = sd.tensor([-7.0, 7.0, 2.5], requires_grad=True)
    y = sd.tensor([2.0, -3.0, 1.5], requires_grad=True)
    out = x % y
    assert out.requires_grad and type(out.grad_fn).__name__ == "RemainderBackward0"
    np.testing.assert_array_equal(arr(out), np.remainder([-7.0, 7.0, 2.5], [2.0, -3.0, 1.5]))
    (out * x).sum().backward()
    # d/dx (x % y) x = x + x % y; d/dy = -floor(x / y) x
    np.testing.assert_array_equal(arr(x.grad), [-7.0 + 1.0, 7.0 - 2.0, 2.5 + 1.0])
    np.testing.assert_array_equal(arr(y.grad), [4.0 * -7.0, 3.0 * 7.0, -1.0 * 2.5])


@pytest.mark.parametrize(
    "op, grad_x",
    [
        (lambda x: x % 2.0, [1.0, 1.0, 1.0]),
        (lambda x: x.remainder(2.0), [1.0, 1.0, 1.0]),
        (lambda x: 5.0 % x, [-2.0, -1.0, 2.0]),  # -floor(5 / x)
        (lambda x: x.fmod(2.0), [1.0, 1.0, 1.0]),
    ],
)
def test_remainders_carry_a_gradient(op, grad_x):
    x = sd.tensor([2.5, 3.0, -4.0], requires_grad=True)
    op(x).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), grad_x)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: 2 % sd.tensor([3.0, -3.0]), [2.0, -1.0]),
        (lambda: 2 % sd.tensor([3, -3]), [2, -1]),
        (lambda: sd.tensor([-7.0, 7.0]).fmod(2.0), [-1.0, 1.0]),
        (lambda: sd.tensor([True]) % 2, [1]),
    ],
)
def test_remainder_values(make, expected):
    out = make()
    np.testing.assert_array_equal(arr(out), expected)
    assert out.dtype == (sd.float32 if isinstance(expected[0], float) else sd.int64)


def test_sign_stays_in_the_graph_with_gradient_zero():
    x = sd.tensor([1.5, -2.0, 0.0, NAN], requires_grad=True)
    s = x.sign()
    assert s.requires_grad and type(s.grad_fn).__name__ == "SignBackward0"
    np.testing.assert_array_equal(arr(s), [1.0, -1.0, 0.0, NAN])
    (s * x).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [1.0, -1.0, 0.0, NAN])  # s alone: x's part


def test_sign_of_a_bool_tensor_is_itself():
    out = sd.tensor([True, False]).sign()
    assert out.dtype == sd.bool and out.tolist() == [True, False]


# ---- infinities -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [sd.float32, sd.float64])
def test_sigmoid_at_infinities(dtype):
    x = sd.tensor([INF, -INF, 1.0, -30.0], dtype=dtype, requires_grad=True)
    y = x.sigmoid()
    s = 1 / (1 + np.exp(-np.array([1.0, -30.0])))
    np.testing.assert_allclose(arr(y), [1.0, 0.0, *s], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(arr(x.grad), [0.0, 0.0, *(s * (1 - s))], rtol=1e-6)
    assert y.dtype == dtype and x.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [sd.float32, sd.float64])
def test_softplus_gradient_at_infinities(dtype):
    x = sd.tensor([INF, -INF, 1.0], dtype=dtype, requires_grad=True)
    sd.nn.functional.softplus(x).sum().backward()
    np.testing.assert_allclose(arr(x.grad), [1.0, 0.0, 1 / (1 + np.exp(-1.0))], rtol=1e-6)


# ---- dtypes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, dtype",
    [
        (lambda i, f, d0: i // 1.5, sd.float32),
        (lambda i, f, d0: 1.5 // i, sd.float32),
        (lambda i, f, d0: i % 1.5, sd.float32),
        (lambda i, f, d0: i.clamp(0.5), sd.float32),
        (lambda i, f, d0: i.clamp(2, 3.5), sd.float32),
        (lambda i, f, d0: i.clamp(max=sd.tensor(2.5)), sd.float32),
        (lambda i, f, d0: i.clamp(1, 3), sd.int64),
        (lambda i, f, d0: f // d0, sd.float32),
        (lambda i, f, d0: f % d0, sd.float32),
        (lambda i, f, d0: f.clamp(min=d0), sd.float32),
        (lambda i, f, d0: i // 2, sd.int64),
        (lambda i, f, d0: i % 2, sd.int64),
    ],
)
def test_floordiv_remainder_and_clamp_promote_as_pytorch(make, dtype):
    i, f = sd.tensor([1, 5, 2]), sd.tensor([1.0, 2.0, 3.0])
    assert make(i, f, sd.tensor(2.0, dtype=sd.float64)).dtype == dtype


def test_clamp_by_a_float64_bound_gives_the_bound_its_gradient_in_its_dtype():
    x = sd.tensor([1.0, 2.0], requires_grad=True)
    lo = sd.tensor(1.5, dtype=sd.float64, requires_grad=True)
    out = x.clamp(min=lo)
    assert out.dtype == sd.float32
    out.sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [0.0, 1.0])
    assert lo.grad.dtype == sd.float64 and lo.grad.item() == 1.0


@pytest.mark.parametrize(
    "data, value, expected, dtype",
    [
        ([1, 5, 2], 1.5, [1, 5, 1], sd.int64),
        ([1, 5, 2], 2.7, [2, 5, 2], sd.int64),
        ([True, False, False], 0.5, [True, False, True], sd.bool),
        ([1.0, 2.0, 3.0], sd.tensor(2.0, dtype=sd.float64), [2.0, 2.0, 2.0], sd.float32),
    ],
)
def test_masked_fill_keeps_the_tensors_dtype(data, value, expected, dtype):
    out = sd.tensor(data).masked_fill(sd.tensor([True, False, True]), value)
    assert out.dtype == dtype and out.tolist() == expected


def test_masked_fill_gradients():
    x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = sd.tensor(0.5, dtype=sd.float64, requires_grad=True)
    mask = sd.tensor([[True, False, False], [False, True, True]])
    out = x.masked_fill(mask, v)  # the mask broadcasts x to (2, 3)
    (out * sd.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [4.0, 2.0, 3.0])
    assert v.grad.item() == 12.0 and v.grad.dtype == sd.float64


# ---- shapes and reductions ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sum", "mean", "var", "std"])
@pytest.mark.parametrize("dim", [(), []])
def test_an_empty_dim_reduces_every_dim(method, dim):
    data = np.array([[1.0, 2.0], [3.0, 5.0]])
    x = sd.tensor(data, requires_grad=True)
    out = getattr(x, method)(dim=dim)
    expected = {"sum": data.sum(), "mean": data.mean(), "var": data.var(ddof=1)}.get(
        method, data.std(ddof=1)
    )
    assert out.shape == () and out.item() == pytest.approx(expected, rel=1e-6)
    out.backward()
    y = sd.tensor(data, requires_grad=True)
    getattr(y, method)().backward()
    np.testing.assert_allclose(arr(x.grad), arr(y.grad), rtol=1e-6)
    assert x.sum(dim=dim, keepdim=True).shape == (1, 1)


@pytest.mark.parametrize("dim", [0, -1])
def test_cumsum_of_a_0d_tensor_keeps_its_shape(dim):
    x = sd.tensor(2.5, requires_grad=True)
    out = x.cumsum(dim)
    assert out.shape == () and out.item() == 2.5
    out.backward()
    assert x.grad.item() == 1.0
    with pytest.raises(IndexError, match="out of range"):
        x.cumsum(1)


@pytest.mark.parametrize(
    "dim, shape",
    [((0, 1), (3,)), ((0, 2), (1, 3)), ([1], (1, 3)), ((-3,), (1, 3)), ((), (1, 1, 3))],
)
def test_squeeze_of_a_tuple_of_dims(dim, shape):
    x = sd.zeros(1, 1, 3, requires_grad=True)
    out = x.squeeze(dim)
    assert out.shape == shape
    out.sum().backward()
    assert x.grad.shape == (1, 1, 3)


def test_squeeze_refuses_a_repeated_dim():
    with pytest.raises(RuntimeError, match="appears multiple times"):
        sd.zeros(1, 1).squeeze((0, 0))


# ---- std of a constant, NaN in max and abs --------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"dim": 1}, {"dim": 1, "keepdim": True}, {}])
def test_std_of_a_constant_has_gradient_zero(kwargs):
    rows = [[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]] if kwargs else [[2.0, 2.0, 2.0]]
    x = sd.tensor(rows, requires_grad=True)
    x.std(**kwargs).sum().backward()
    np.testing.assert_array_equal(arr(x.grad)[0], 0.0)
    if kwargs:  # (x - mean) / ((n - 1) std): NumPy's closed form
        row = np.array(rows[1])
        expected = (row - row.mean()) / ((row.size - 1) * row.std(ddof=1))
        np.testing.assert_allclose(arr(x.grad)[1], expected, rtol=1e-6)


def test_var_of_a_constant_has_gradient_zero():
    x = sd.tensor([[3.0, 3.0]], requires_grad=True)
    x.var(dim=1).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), 0.0)


@pytest.mark.parametrize("method", ["max", "min"])
def test_a_nan_extreme_sends_its_gradient_to_the_nan_entries(method):
    x = sd.tensor([1.0, NAN, 3.0], requires_grad=True)
    out = getattr(x, method)()
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(arr(x.grad), [0.0, 1.0, 0.0])


def test_abs_has_gradient_zero_at_nan():
    x = sd.tensor([1.0, NAN, -3.0, 0.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [1.0, 0.0, -1.0, 0.0])


@pytest.mark.parametrize(
    "op",
    [
        lambda: sd.tensor([1, 2]) % 0,
        lambda: 2 % sd.tensor([0, 1]),
        lambda: sd.tensor([1, 2]) // sd.tensor([True, False]),
        lambda: 7 // sd.tensor(0),
        lambda: sd.tensor([3]).fmod(0),
    ],
)
def test_an_integer_division_by_zero_is_an_error(op):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op()


def _leaf():
    return sd.tensor([1.0, -2.0, 3.0], dtype=sd.float64, requires_grad=True)


def test_an_index_or_mask_changed_after_the_operation_keeps_the_values_it_read():
    """An index, a mask or a NumPy operand has no version counter: the graph keeps them
    as they were read (PyTorch raises for tensors; the gradient here is the right one)."""
    x = _leaf()
    i = sd.tensor([0, 0])
    y = x[i]
    i[1] = 2
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 0.0]
    x, m = _leaf(), sd.tensor([True, False, True])
    y = x.masked_fill(m, 0.0)
    m[0] = False
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    x, m = _leaf(), sd.tensor([True, False, True])
    y = sd.where(m, x * x, x)
    m[0] = False
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 1.0, 6.0]
    x, a = _leaf(), np.array([1.0, 2.0, 3.0])
    y = x * a
    a *= 100
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0]


def test_a_view_made_by_a_numpy_function_shares_the_version_counter():
    x = _leaf()
    y = x.exp()
    v = np.reshape(y, -1)
    with sd.no_grad():
        v[0] = 100.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    x = _leaf()
    y = x * 1
    np.reshape(y, -1).mul_(2)  # written into y's graph too, as PyTorch's CopySlices
    (y * y).sum().backward()
    assert x.grad.tolist() == (8 * x.detach()).tolist()


def test_assigning_data_of_a_tensor_keeps_what_its_graph_made():
    """``y.data = ...`` on a tensor with a graph: its rule reads the value it made (exp's
    result), the operations after read the new values (as PyTorch)."""
    x, w = _leaf(), sd.tensor([0.5, 1.0, 2.0], dtype=sd.float64, requires_grad=True)
    y = x.exp()
    y.data = sd.tensor([2.0, 3.0, 4.0], dtype=sd.float64)
    (y * w).sum().backward()
    assert y.grad_fn.name() == "ExpBackward0"
    assert np.allclose(x.grad.numpy(), np.exp(x.detach().numpy()) * [0.5, 1.0, 2.0])
    assert w.grad.tolist() == [2.0, 3.0, 4.0]


def test_grad_of_several_outputs_sharing_a_graph():
    x = _leaf()
    y = x.exp()
    (g,) = sd.autograd.grad([y.sum(), (y * y).sum()], x)
    e = np.exp(x.detach().numpy())
    assert np.allclose(g.numpy(), e + 2 * e * e)


def test_the_exponent_of_a_negative_base_has_no_derivative():
    """``b ** y`` with ``b < 0``: no derivative in ``y`` (PyTorch's NaN; it was 0), where
    anything reads that entry; 0 where nothing does, and for ``b = 0``."""
    y = sd.tensor([2.0, 3.0, 0.5], dtype=sd.float64, requires_grad=True)
    (sd.tensor([-2.0, 2.0, 0.0], dtype=sd.float64) ** y).sum().backward()
    got = y.grad.tolist()
    assert np.isnan(got[0]) and got[1] == pytest.approx(8 * np.log(2.0)) and got[2] == 0.0
    y = sd.tensor([2.0, 3.0], dtype=sd.float64, requires_grad=True)
    (sd.tensor([-2.0, 2.0], dtype=sd.float64) ** y * sd.tensor([0.0, 1.0])).sum().backward()
    assert y.grad.tolist() == pytest.approx([0.0, 8 * np.log(2.0)])


def test_copy_into_a_tensor_with_a_graph_gives_what_it_held_a_zero_gradient():
    """PyTorch's zeros for ``x`` (it was None), ``w``'s gradient through the copy, and a
    broadcast source's summed."""
    x, w = _leaf(), sd.tensor([4.0, 5.0, 6.0], dtype=sd.float64, requires_grad=True)
    y = x * 2
    y.copy_(w * 3)
    (y * y).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0] and w.grad.tolist() == [72.0, 90.0, 108.0]
    z = sd.tensor([[1.0, 2.0]], dtype=sd.float64, requires_grad=True)
    sd.zeros(3, 2, dtype=sd.float64).copy_(z).sum().backward()
    assert z.grad.tolist() == [[3.0, 3.0]]


def test_a_leaf_that_stops_requiring_grad_gets_no_gradient():
    x = _leaf()
    y = (x * x).sum()
    x.requires_grad_(False)
    y.backward()
    assert x.grad is None


def test_a_view_written_after_data_was_assigned_is_seen_by_the_graph():
    """``y.data = ...`` keeps one version counter for the value the graph made and the
    views taken of it: a change through such a view raises, as in PyTorch."""
    x = _leaf()
    y = x.exp()
    v = y[0:1]
    y.data = sd.tensor([10.0, 20.0, 30.0], dtype=sd.float64)
    with sd.no_grad():
        v.mul_(100.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_an_index_tuple_holding_an_array_keeps_the_values_read():
    x = sd.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=sd.float64, requires_grad=True)
    idx = np.array([0, 1])
    y = x[idx, 0]
    idx[0] = 2
    (y * sd.tensor([1.0, 2.0], dtype=sd.float64)).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]]


def test_grad_of_several_outputs_frees_all_their_graphs():
    x = _leaf()
    y = x.exp()
    a, b = y.sum(), (y * y).sum()
    sd.autograd.grad([a, b], x)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        a.backward()


# ---- indices PyTorch reads otherwise than NumPy, the plans' keys, std, contiguous, dtypes ---


def _rows_cols():
    return sd.tensor([0, 2]), sd.tensor([1, 3])


def test_a_list_of_index_tensors_is_one_index_per_dim():
    """``x[[rows, cols]]`` is ``x[rows, cols]`` in PyTorch; NumPy's reading (one index of
    dim 0) gave a (2, 2, 4) result, and a write zeroed whole rows."""
    rows, cols = _rows_cols()
    x = sd.arange(16.0).reshape(4, 4).requires_grad_()
    picked = x[[rows, cols]]
    assert picked.shape == (2,) and picked.tolist() == [1.0, 11.0]
    assert x[[[0, 2], [1, 3]]].tolist() == [1.0, 11.0]
    assert x[[0, slice(None)]].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert x[[0, 2]].shape == (2, 4)  # a list of ints is still one index
    (picked * sd.tensor([1.0, 2.0])).sum().backward()
    want = np.zeros((4, 4))
    want[0, 1], want[2, 3] = 1.0, 2.0
    np.testing.assert_array_equal(arr(x.grad), want)
    y = sd.ones(4, 4)
    y[[rows, cols]] = 0.0
    assert y.sum().item() == 14.0


def test_a_compiled_step_refuses_an_index_pytorch_and_numpy_read_apart():
    """A list of index tensors (one index per dim for PyTorch, one of dim 0 for NumPy)
    or a uint8 one (a mask, or indices): compiled code holds arrays for Tensors and
    cannot tell which reading the eager program has, so it refuses them."""
    rows, cols = _rows_cols()
    codes = sd.tensor([1, 0, 1, 1], dtype=sd.uint8)

    def by_list(x):
        loss = (x[[rows, cols]] * 2.0).sum()
        loss.backward()
        return loss.item()

    def write_by_list(x):
        y = x * 1.0
        y[[rows, cols]] = 0.0
        loss = (y * y).sum()
        loss.backward()
        return loss.item()

    def by_bytes(x):
        loss = x[:, codes].sum()
        loss.backward()
        return loss.item()

    for step, said in [(by_list, "a list of index arrays"), (write_by_list, "a list of index"),
                       (by_bytes, "a uint8 array as an index")]:  # fmt: skip
        with pytest.raises(sd.CompileError, match=said):
            sd.differentiate(step)(sd.arange(16.0).reshape(4, 4).requires_grad_())


def test_a_compiled_step_reads_slices_numbers_and_arrays_as_before():
    """What PyTorch and NumPy read alike compiles as it did: ``x[:, j]``, a list of
    NumPy integers (an index array), a uint8 number, a tuple of index tensors."""
    rows, cols = _rows_cols()
    labels = np.array([2, 1, 0], dtype=np.uint8)

    def step(x, j):
        picked = x[:, j] + x[list(np.array([2, 0])), 1].sum() + x[labels[0]].sum()
        loss = (picked * picked).sum() + x[rows, cols].sum()
        loss.backward()
        return loss.item()

    runs = []
    for fn in (step, sd.differentiate(step)):
        x = sd.arange(16.0).reshape(4, 4).requires_grad_()
        runs.append((fn(x, 1), arr(x.grad)))
    assert runs[1][0] == pytest.approx(runs[0][0])
    np.testing.assert_allclose(runs[1][1], runs[0][1])


def test_a_list_of_numpy_integers_is_one_index_array():
    """NumPy's integers are numbers to PyTorch: ``x[[np.int64(2), np.int64(0)]]`` picks
    two rows (it was read as ``x[2, 0]``)."""
    x = sd.arange(12.0).reshape(3, 4).requires_grad_()
    rows = x[list(np.array([2, 0]))]
    assert rows.shape == (2, 4)
    (rows * rows).sum().backward()
    assert arr(x.grad).sum(axis=1).tolist() == [12.0, 0.0, 76.0]


def test_a_uint8_index_is_a_mask():
    x = sd.tensor([1.0, 2.0, 3.0])
    for mask in (sd.tensor([1, 0, 1], dtype=sd.uint8), np.array([1, 0, 1], dtype=np.uint8)):
        with pytest.warns(UserWarning, match="uint8 is now deprecated"):
            assert x[mask].tolist() == [1.0, 3.0]
    assert x[np.uint8(2)].item() == 3.0  # a uint8 number is a number


@pytest.mark.parametrize("flag, number", [(True, 1), (False, 0)])
def test_a_bool_index_and_an_int_index_get_plans_of_their_own(flag, number):
    """The eager plans were keyed by ``True == 1``: ``x[1]``'s backward reused
    ``x[True]``'s and gave every row the gradient."""
    b = sd.ones(2, 2, requires_grad=True)
    b[flag].sum().backward()
    a = sd.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (a[number] * 3).sum().backward()
    want = np.zeros((2, 2))
    want[number] = 3.0
    np.testing.assert_array_equal(arr(a.grad), want)


def test_std_takes_a_fractional_correction():
    x = sd.tensor([1.0, 2.0, 4.0, 7.0], dtype=sd.float64, requires_grad=True)
    s = x.std(correction=0.5)
    centred = np.array([1.0, 2.0, 4.0, 7.0]) - 3.5
    want = np.sqrt((centred**2).sum() / 3.5)
    assert s.item() == pytest.approx(want, rel=1e-14)
    s.backward()
    np.testing.assert_allclose(arr(x.grad), centred / (3.5 * want), rtol=1e-14)


def test_contiguous_copies_a_tensor_that_is_not():
    x = sd.arange(6.0).reshape(2, 3)
    assert x.contiguous() is x
    y = x.t().contiguous()
    y.zero_()
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert sd.ones(2).expand(2, 2).contiguous().add_(1).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    a = sd.randn(2, 3, requires_grad=True)
    (a.t().contiguous() * sd.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(arr(a.grad), np.arange(6.0).reshape(3, 2).T)


@pytest.mark.parametrize(
    "data, dtype",
    [
        ([np.float64(0.1)], sd.float64),
        ([np.float64(0.1), 0.1], sd.float64),
        ([np.array([1.0, 2.0]), np.array([3.0, 4.0])], sd.float64),
        ([sd.tensor(0.1, dtype=sd.float64)], sd.float64),
        ([np.int32(1)], sd.int32),
        ([np.int32(1), 2], sd.int64),
        ([np.int64(1), 2.0], sd.float32),
        ([np.float32(1.0), 2.0], sd.float32),
        ([True, 2], sd.int64),
        ([0.1, 0.2], sd.float32),
        ([], sd.float32),
    ],
)
def test_nested_data_keeps_its_numpy_and_tensor_dtypes(data, dtype):
    """As PyTorch: Python floats are float32, but float64 NumPy numbers, arrays and
    tensors inside a list keep float64 (they became float32)."""
    assert sd.tensor(data).dtype == dtype
    assert sd.as_tensor(data).dtype == dtype


def test_backward_of_a_view_taken_before_an_in_place_change_takes_the_change():
    """As PyTorch regenerates a view's grad_fn: ``v`` is ``2 a`` after the change."""
    a = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 1
    v = y.view(-1)
    y.mul_(2)
    v.backward(sd.ones(3))
    assert a.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("reduce", ["sum", "mean", "prod"])
@pytest.mark.parametrize("dim", [0, -1, (0,)])
def test_a_number_reduces_over_its_dim_0_or_minus_1(reduce, dim):
    """A 0-d tensor's dim 0 (or -1) is itself, as in PyTorch: NumPy has no such axis, and
    the backward divided by zero."""
    a = sd.tensor(2.0, requires_grad=True)
    out = getattr(a, reduce)(dim)
    assert out.shape == () and out.item() == 2.0
    out.backward()
    assert a.grad.item() == 1.0
    with pytest.raises(IndexError, match="expected to be in range of \\[-1, 0\\], but got 1"):
        getattr(a, reduce)(1)


def test_a_float16_cumsum_adds_in_float32():
    """NumPy adds float16 in float16 (3,000 ones sum to 2048); PyTorch in float32."""
    x = sd.ones(3000, dtype=sd.float16, requires_grad=True)
    y = x.cumsum(0)
    assert y.dtype == sd.float16 and y[-1].item() == 3000.0
    y[:4].sum().backward()
    assert x.grad.dtype == sd.float16 and x.grad[:5].tolist() == [4.0, 3.0, 2.0, 1.0, 0.0]


def test_linspace_takes_0d_tensors_as_its_ends():
    t = sd.linspace(sd.tensor(0.0), sd.tensor(1.0), 3)
    assert t.dtype == sd.float32 and t.tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda x: x.index_select(1, sd.tensor([-1])), "index_select\\(\\): index out of range"),
        (lambda x: x.gather(1, sd.tensor([[-1], [0]])), "gather\\(\\): index out of range"),
        (lambda x: x[0].tril(), "tril: input tensor must have at least 2 dimensions"),
        (lambda x: sd.bmm(x.reshape(1, 2, 3), sd.ones(2, 3, 1)), "first two dimensions"),
        (lambda x: x.roll((1, 2)), "shifts and dimensions must align"),
        (lambda x: x.roll(1, (0, 1)), "shifts and dimensions must align"),
    ],
)
def test_the_new_methods_refuse_what_pytorch_refuses(make, said):
    """NumPy counts a negative index from the end, makes a matrix of a vector, broadcasts
    batches and rolls by shifts that do not match the dims: each gave a result."""
    x = sd.tensor([[3.0, -2.0, 5.0], [0.0, 7.0, -1.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match=said):
        make(x)


def test_the_new_methods_at_their_edges_are_pytorchs():
    assert sd.arange(4.0).flip(()).tolist() == [0.0, 1.0, 2.0, 3.0]  # no dim: no flip
    assert sd.randn(2, 3).index_select(0, sd.tensor(1)).shape == (1, 3)
    assert [p.shape for p in sd.zeros(0, 3).chunk(3)] == [(0, 3)] * 3
    assert sd.zeros(0, 3).logsumexp(0).tolist() == [-np.inf] * 3
    assert sd.tensor([1.25, 2.5]).round(decimals=1).tolist() == pytest.approx([1.2, 2.5])

    def step(x):
        y = x.floor() * 2 + sd.ceil(x) + x.round() + x.long().logsumexp(0)
        y.sum().backward()
        return y.detach()

    for fn in (step, sd.differentiate(step)):
        x = sd.tensor([0.5, 1.7], requires_grad=True)
        y = fn(x)
        assert y.dtype == sd.float32 and x.grad.tolist() == [0.0, 0.0]  # zeros, not None


# ---- sort, topk, cumprod, unbind, narrow, movedim, diag, outer, masked_fill_, scatter ------


@pytest.mark.parametrize(
    "make, error, said",
    [
        (lambda x: x.sort(2), IndexError, "expected to be in range of \\[-2, 1\\], but got 2"),
        (lambda x: x.topk(4), RuntimeError, "selected index k out of range"),
        (lambda x: x.topk(-1), RuntimeError, "selected index k out of range"),
        (lambda x: (x > 0).topk(1), RuntimeError, "topk does not support bool dtypes on CPU"),
        (lambda x: x[0, 0].unbind(), IndexError, "Dimension specified as 0 but tensor has no"),
        (lambda x: x.narrow(1, 4, 0), IndexError, "start out of range .* but got 4"),
        (lambda x: x.narrow(1, -4, 1), IndexError, "start out of range .* but got -4"),
        (lambda x: x.narrow(1, 2, 2), RuntimeError, "start \\(2\\) \\+ length \\(2\\) exceeds"),
        (lambda x: x.narrow(1, 0, -1), RuntimeError, "length must be non-negative"),
        (lambda x: x[0, 0].narrow(0, 0, 1), RuntimeError, "cannot be applied to a 0-dim"),
        (lambda x: x.movedim((0, 0), (1, 0)), RuntimeError, "repeated dim in `source`"),
        (lambda x: x.movedim((0, 1), (1,)), RuntimeError, "should contain the same number"),
        (lambda x: x[0, 0].diag(), RuntimeError, "Supports 1D or 2D tensors. Got 0D"),
        (lambda x: x.reshape(1, 2, 3).diag(), RuntimeError, "Got 3D"),
        (lambda x: sd.outer(x, x[0]), RuntimeError, "Expected 1-D argument self, but got 2-D"),
        (lambda x: x.flip(0, -2), RuntimeError, "dim 0 appears multiple times"),
        (lambda x: x.masked_fill(sd.tensor([1, 0, 1]), 0.0), RuntimeError, "boolean masks"),
        (lambda x: x.masked_fill(x > 0, x[0]), RuntimeError, "0-dimensional value tensor"),
        (lambda x: x.scatter(1, sd.tensor([[0]]), x.double()), RuntimeError, "self.dtype to be"),
        (lambda x: x.scatter(1, sd.tensor([0]), x), RuntimeError, "same number of dimensions"),
        (lambda x: x.scatter(1, sd.zeros(3, 1).long(), x), RuntimeError, "no larger than self"),
        (lambda x: x.scatter(1, sd.tensor([[3]]), x), RuntimeError, "index 3 is out of bounds"),
        (lambda x: x.scatter(1, sd.tensor([[-1]]), x), RuntimeError, "index -1 is out of bounds"),
        (lambda x: x.scatter(1, sd.tensor([[0]]), x, reduce="add"), NotImplementedError, "reduce"),
        (lambda x: x.scatter_add(1, sd.tensor([[0]]), 1.0), TypeError, "must be Tensor"),
    ],
)
def test_the_sorting_and_scattering_methods_refuse_what_pytorch_refuses(make, error, said):
    x = sd.tensor([[3.0, -2.0, 5.0], [0.0, 7.0, -1.0]], requires_grad=True)
    with pytest.raises(error, match=said):
        make(x)


def test_the_sorting_and_scattering_methods_at_their_edges_are_pytorchs():
    s = sd.tensor(2.5)
    for values, indices in (s.sort(), s.sort(-1), s.topk(1), s.topk(0)):
        assert values.shape == indices.shape == () and values.item() == 2.5
        assert indices.item() == 0 and indices.dtype == sd.int64
    assert s.argsort().shape == () and s.movedim(0, -1).item() == 2.5
    assert [t.shape for t in sd.zeros(0, 3).sort(0)] == [(0, 3), (0, 3)]
    assert [t.shape for t in sd.zeros(2, 3).topk(0)] == [(2, 0), (2, 0)]
    assert sd.zeros(0, 3).unbind(0) == ()
    v, i = sd.tensor([1.0, NAN, 0.0, NAN]).sort(descending=True)
    assert i.tolist() == [1, 3, 0, 2] and np.isnan(arr(v)[:2]).all()
    v, i = sd.tensor([3, 1, 2], dtype=sd.int32).sort()
    assert v.dtype == sd.int32 and v.tolist() == [1, 2, 3] and i.tolist() == [1, 2, 0]
    assert sd.tensor([True, False, True]).sort()[1].tolist() == [1, 0, 2]
    assert sd.tensor([3, 1, 2]).topk(2).indices.tolist() == [0, 2]
    assert s.cumprod(0).shape == () and s.cumprod(-1).item() == 2.5
    assert sd.tensor([1, 2, 3], dtype=sd.int32).cumprod(0).dtype == sd.int64
    assert sd.tensor([True, False]).cumprod(0).tolist() == [1, 0]
    half = sd.tensor([1.5, 2.5], dtype=sd.float16).cumprod(0)
    assert half.dtype == sd.float16 and half.tolist() == [1.5, 3.75]
    assert sd.tensor([1, 2, 3]).cumprod(0, dtype=sd.float32).tolist() == [1.0, 2.0, 6.0]
    x = sd.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert x.narrow(1, sd.tensor(1), 2).tolist() == [[1.0, 2.0], [5.0, 4.0]]
    assert x.narrow(1, 3, 0).shape == (2, 0)
    assert x.diag(5).shape == (0,) and x.diag(-5).shape == (0,)
    assert x.diag(1).tolist() == [1.0, 4.0] and x.diag()._base is None  # (a copy)
    assert sd.tensor([1, 2]).diag().tolist() == [[1, 0], [0, 2]]
    assert sd.outer(sd.tensor([1, 2]), sd.tensor([3.0, 4.0])).dtype == sd.float32
    assert x.flip(()).tolist() == x.tolist() and x.flip(0, 1).tolist() == [
        [4.0, 5.0, 0.0],
        [2.0, 1.0, 3.0],
    ]
    assert x.movedim(0, 1)._base is x
    assert [p.shape for p in x.split(split_size=2, dim=1)] == [(2, 2), (2, 1)]
    assert [p.shape for p in sd.split(x, split_size_or_sections=[1, 1])] == [(1, 3), (1, 3)]
    assert x.scatter(1, sd.tensor([[0, 0]]), x).tolist()[0] == [1.0, 1.0, 2.0]  # the later
    assert x.scatter(1, sd.zeros(0).long(), x).tolist() == x.tolist()
    assert sd.tensor(1.0).scatter(0, sd.tensor(0), sd.tensor(5.0)).item() == 5.0
    assert sd.tensor([1, 2]).masked_fill(sd.tensor([True, False]), 2.7).tolist() == [2, 2]


def test_the_tied_entries_of_a_sort_and_a_topk_are_those_pytorch_picks():
    """Where values tie, PyTorch's CPU sort (``std::sort`` past 16 entries) and topk
    (``nth_element``, ``partial_sort``) give indices in no sorted order of theirs: these
    are PyTorch's own, for values 0-4 repeating."""
    x = sd.tensor([float(i * 7 % 5) for i in range(40)])
    assert x.sort().indices.tolist()[:12] == [10, 20, 25, 15, 30, 35, 5, 0, 33, 8, 28, 13]
    assert x.sort(descending=True).indices.tolist()[:8] == [17, 2, 37, 22, 7, 32, 27, 12]
    assert x.sort(stable=True).indices.tolist()[:8] == [0, 5, 10, 15, 20, 25, 30, 35]
    assert x.topk(5).indices.tolist() == [27, 7, 32, 22, 12]
    assert x.topk(3, largest=False, sorted=False).indices.tolist() == [15, 35, 30]
    assert x.repeat(2).topk(1).indices.tolist() == [2]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_scatter_writing_a_position_twice_refuses_src_its_gradient(compiled):
    """PyTorch keeps the later value and gives both the position's gradient; srcdiff
    refuses the gradient (the values are PyTorch's)."""

    def step(x, src):
        y = x.scatter(1, sd.tensor([[0, 0]]), src)
        (y * 2.0).sum().backward()
        return y.detach()

    fn = sd.differentiate(step) if compiled else step
    x = sd.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="writes a position twice"):
        fn(x, sd.tensor([[1.0, 2.0]], requires_grad=True))
    assert fn(x, sd.tensor([[1.0, 2.0]])).tolist() == [[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    assert x.grad.tolist() == [[0.0, 2.0, 2.0], [2.0, 2.0, 2.0]]


def test_prod_and_cumsum_of_integers_are_int64_and_take_a_dtype():
    # PyTorch 2.13's values and dtypes, eager and compiled
    def program(f):
        x = sd.tensor([[1, 2, 3], [4, 5, 6]], dtype=sd.uint8)
        return (x.prod(1), x.cumsum(1), f.cumsum(0, dtype=sd.float64), f.prod(dtype=sd.float64))

    for run in (program, sd.differentiate(program)):
        f = sd.tensor([[1.5, 2.0], [0.5, -1.0]])
        p, c, cf, pf = run(f)
        assert p.dtype == c.dtype == sd.int64 and p.tolist() == [6, 120]
        assert c.tolist() == [[1, 3, 6], [4, 9, 15]]
        assert cf.dtype == pf.dtype == sd.float64 and pf.item() == -1.5


# ---- index_fill along a negative dim, with negative indices, of a 0-d tensor -------------


@pytest.mark.parametrize("compiled", [False, True])
def test_index_fill_counts_negative_dims_and_indices_from_the_end(compiled):
    def fill(x, dim, index, value):
        return x.index_fill(dim, index, value)

    fill = sd.differentiate(fill) if compiled else fill
    x = sd.arange(6.0).reshape(2, 3)
    # PyTorch 2.13's values
    np.testing.assert_array_equal(arr(fill(x, -1, sd.tensor([0]), 1.0)), [[1, 1, 2], [1, 4, 5]])
    np.testing.assert_array_equal(arr(fill(x, 1, sd.tensor([-1]), 5.0)), [[0, 1, 5], [3, 4, 5]])
    np.testing.assert_array_equal(arr(fill(x, 0, sd.tensor([-2, 1]), 7.0)), np.full((2, 3), 7))
    assert fill(sd.tensor(3.0), 0, sd.tensor([-1]), 1.0).item() == 1.0
    with pytest.raises(RuntimeError, match="out of range"):
        fill(x, 1, sd.tensor([-4]), 1.0)


def test_index_fill_along_dim_minus_one_gives_the_gradients_of_those_entries():
    w = sd.tensor([[1.0, 2, 3], [4, 5, 6]], requires_grad=True)
    v = sd.tensor(2.0, requires_grad=True)
    (w.index_fill(-1, sd.tensor([-1, 0]), v) * w).sum().backward()
    np.testing.assert_array_equal(arr(w.grad), [[2, 4, 2], [2, 10, 2]])
    assert v.grad.item() == 1 + 3 + 4 + 6


def test_index_add_along_dim_minus_one_adds_to_those_entries():
    x = sd.arange(6.0).reshape(2, 3)
    out = x.index_add(-1, sd.tensor([0]), sd.ones(2, 1))
    np.testing.assert_array_equal(arr(out), [[1, 1, 2], [4, 4, 5]])  # PyTorch 2.13's


# ---- tile, trace, mT, select, unflatten, diff, median, kthvalue, aminmax, norms, cdist ----


@pytest.mark.parametrize(
    "make, error, said",
    [
        (lambda x: x[0].trace(), RuntimeError, "expected a matrix, but got tensor with dim 1"),
        (lambda x: x[0].mT, RuntimeError, "batches of matrices. Got 1-D"),
        (lambda x: x.select(2, 0), IndexError, "expected to be in range of \\[-2, 1\\], but got 2"),
        (lambda x: x.select(1, 3), IndexError, "index 3 .* size \\[2, 3\\] at dimension 1"),
        (lambda x: x.select(-1, -4), IndexError, "index -4 out of range .* at dimension 1"),
        (lambda x: x[0, 0].select(0, 0), IndexError, "select\\(\\) cannot be applied to a 0-dim"),
        (lambda x: x.unflatten(1, (2, 2)), RuntimeError, "don't multiply up to the size of dim 1"),
        (lambda x: x.unflatten(1, ()), RuntimeError, "unflatten: sizes must be non-empty"),
        (lambda x: x.unflatten(1, (-1, -1)), RuntimeError, "only one dimension can be inferred"),
        (lambda x: x[0, 0].diff(), RuntimeError, "at least one-dimensional"),
        (lambda x: x.diff(n=-1), RuntimeError, "order must be non-negative but got -1"),
        (lambda x: x.diff(prepend=x[0]), RuntimeError, "prepend or append to be the same dim"),
        (lambda x: x.median(2), IndexError, "expected to be in range of \\[-2, 1\\], but got 2"),
        (lambda x: x.kthvalue(4), RuntimeError, "selected number k out of range for dimension 1"),
        (lambda x: x.kthvalue(0), RuntimeError, "selected number k out of range for dimension 1"),
        (lambda x: sd.zeros(0, 3).aminmax(), RuntimeError, "aminmax over an empty dimension"),
        (lambda x: sd.zeros(0, 3).aminmax(dim=0), IndexError, "aminmax: Expected reduction dim 0"),
        (lambda x: sd.zeros(2, 0).median(1), IndexError, "median\\(\\): Expected reduction dim 1"),
        (lambda x: sd.zeros(2, 0).kthvalue(1, 1), IndexError, "kthvalue\\(\\): Expected"),
        (lambda x: x.long().norm(1), RuntimeError, "vector_norm: Expected a floating .* Got Long"),
        (lambda x: x.long().dist(x.long()), RuntimeError, "dtype .* Got Long instead"),
        (lambda x: x.tile(-1), RuntimeError, "negative dimension -3: \\[2, -3\\]"),
        (lambda x: sd.cdist(x[0], x), RuntimeError, "at least 2D tensors, X1 got: 1D"),
        (lambda x: sd.cdist(x, x[:, :2]), RuntimeError, "same number of columns. X1: 3 X2: 2"),
        (lambda x: sd.cdist(x.long(), x.long()), RuntimeError, "dtypes, X1 got: Long"),
        (lambda x: sd.cdist(x, x, p=-1.0), RuntimeError, "non-negative p values"),
        (lambda x: (x > 0).trace(), NotImplementedError, "not implemented for 'Bool'"),
    ],
)  # fmt: skip
def test_the_reductions_and_views_of_this_round_refuse_what_pytorch_refuses(make, error, said):
    """PyTorch 2.13's errors and messages (NumPy would count a negative index from the end,
    reduce an empty dim to its identity, take the norm of integers, trace a vector)."""
    x = sd.tensor([[3.0, -2.0, 5.0], [0.0, 7.0, -1.0]], requires_grad=True)
    with pytest.raises(error, match=said):
        make(x)


def _shown(t):
    return str(t.dtype).removeprefix("srcdiff."), list(t.shape), t.tolist()


def test_the_reductions_of_this_round_keep_pytorchs_dtypes_and_shapes():
    """Each as PyTorch 2.13 gives it: integers traced as int64, medians of integers and
    aminmax of any dtype in their own, NaN the median where there is one (at the first
    NaN along a dim), a 0-d tensor its own median, a norm in the promoted float dtype."""
    ints = sd.tensor([[1, 2], [3, 4]], dtype=sd.int32)
    assert _shown(ints.trace()) == ("int64", [], 5)
    assert _shown(sd.trace(ints.float())) == ("float32", [], 5.0)
    assert _shown(sd.tensor([3, 1, 2]).median()) == ("int64", [], 2)
    assert np.isnan(sd.tensor([1.0, NAN, 0.0, NAN]).median().item())
    values, indices = sd.tensor([1.0, NAN, 0.0, NAN]).median(0)
    assert np.isnan(values.item()) and _shown(indices) == ("int64", [], 1)
    assert np.isnan(sd.zeros(0).median().item()) and sd.tensor(0.0).median().item() == 0.0
    low, high = sd.aminmax(sd.tensor([[1, 5], [7, 2]], dtype=sd.int32))
    assert _shown(low) == ("int32", [], 1) and _shown(high) == ("int32", [], 7)
    assert [_shown(t) for t in sd.tensor([True, False]).aminmax()] == [
        ("bool", [], False),
        ("bool", [], True),
    ]
    kept = sd.ones(2, 3).aminmax(keepdim=True)
    assert kept.min.shape == kept.max.shape == (1, 1)
    for found in (sd.tensor(2.0).median(0), sd.tensor(2.0).kthvalue(1)):
        assert _shown(found.values) == ("float32", [], 2.0)
        assert _shown(found.indices) == ("int64", [], 0)
    assert _shown(sd.tensor([True, True, False]).diff()) == ("bool", [2], [False, True])
    assert _shown(sd.tensor([1, 4, 9], dtype=sd.int32).diff()) == ("int32", [2], [3, 5])
    assert sd.ones(2, 6).unflatten(1, (-1, 3)).shape == (2, 2, 3)
    assert sd.arange(6.0).reshape(2, 3).tile(2).tolist() == [[0, 1, 2, 0, 1, 2], [3, 4, 5, 3, 4, 5]]
    assert _shown(sd.ones(2, 3).norm(1)) == ("float32", [], 6.0)
    d = sd.ones(3).dist(sd.ones(3, dtype=sd.float64) * 2.0, 3)
    assert d.dtype == sd.float64 and d.item() == pytest.approx(1.4422495703074083, rel=1e-15)
    assert _shown(sd.ones(3).dist(sd.ones(3, dtype=sd.int64))) == ("float32", [], 0.0)
    assert sd.tensor([[0.0, 3.0, -4.0]]).norm(float("inf")).item() == 4.0
    var, mean = sd.var_mean(sd.tensor([1.0, 2.0, 4.0], dtype=sd.float64), False)
    assert var.item() == pytest.approx(14 / 9, rel=1e-15) and mean.item() == pytest.approx(7 / 3)
    std, mean = sd.std_mean(sd.tensor([[1.0, 2.0], [4.0, 8.0]]), 0, keepdim=True)
    assert std.shape == mean.shape == (1, 2) and mean.tolist() == [[2.5, 5.0]]
    np.testing.assert_allclose(arr(std), [[2.1213202476501465, 4.242640495300293]], rtol=1e-7)
    assert sd.cdist(sd.tensor([[0.0, 1.0]]), sd.tensor([[0.0, 1.0], [3.0, 5.0]])).tolist() == [
        [0.0, 5.0]
    ]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_tied_medians_and_kth_values_take_the_indices_and_gradients_pytorch_gives(compiled):
    """PyTorch's CPU median along a dim picks the lower middle of a stable order (its
    ``nth_element`` compares indices where values tie); kthvalue the entry its own
    quickselect leaves at ``k - 1``: neither is NumPy's. The value's gradient goes to that
    entry alone; without a dim, ``median()``'s is shared by the entries equal to it."""

    def step(a, b):
        along = a.median(1)
        third, second = b.kthvalue(3), b.kthvalue(2)
        (along.values * sd.tensor([1.0, 10.0])).sum().backward()
        (third.values * 3.0 + second.values).backward()
        return along.indices, third.indices, second.indices

    run = sd.differentiate(step) if compiled else step
    a = sd.tensor([[3.0, 1, 2, 1], [1, 1, 5, 5]], requires_grad=True)
    b = sd.tensor([2.0, 2, 2, 2, 1, 2], requires_grad=True)
    along, third, second = run(a, b)
    assert along.tolist() == [3, 1] and third.item() == 0 and second.item() == 2
    assert a.grad.tolist() == [[0, 0, 0, 1], [0, 10, 0, 0]]
    assert b.grad.tolist() == [3, 0, 1, 0, 0, 0]
    whole = sd.tensor([[3.0, 1, 2, 1], [1, 1, 5, 5]], requires_grad=True)
    whole.median().backward()
    assert whole.grad.tolist() == [[0, 0.25, 0, 0.25], [0.25, 0.25, 0, 0]]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_aminmax_norms_and_cdist_give_pytorchs_gradients_at_ties_and_zeros(compiled):
    """aminmax shares each extreme's gradient among its ties; the inf-norm its ties too;
    cdist's gradient is 0 at a zero distance (p=2), a norm's where it is 0 (p < 1)."""

    def step(a, b, c, e):
        low, high = a.aminmax()  # (r.min of the named tuple: eagerly only)
        (low * 2.0 + high * 10.0).backward()
        sd.cdist(b, b).sum().backward()
        (c.dist(c * 1.0, 3) + c.norm(float("inf"))).backward()
        e.norm(-1.0, 0).sum().backward()
        return low

    run = sd.differentiate(step) if compiled else step
    a = sd.tensor([[1.0, 3, 1, 3], [2, 2, 0, 2]], requires_grad=True)
    b = sd.tensor([[0.0, 1.0], [3.0, 5.0]], requires_grad=True)
    c = sd.tensor([[1.0, -3.0], [3.0, 2.0]], requires_grad=True)
    e = sd.tensor([[1.0, 0.0], [2.0, 4.0]], requires_grad=True)
    run(a, b, c, e)
    assert a.grad.tolist() == [[0, 5, 0, 5], [0, 0, 2, 0]]  # PyTorch 2.13's
    np.testing.assert_allclose(arr(b.grad), [[-1.2, -1.6], [1.2, 1.6]], rtol=1e-6)
    assert c.grad.tolist() == [[0.0, -0.5], [0.5, 0.0]]
    np.testing.assert_allclose(arr(e.grad), [[0.444444477558136, 0], [0.111111119389534, 0]],
                               rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_cdist_past_25_rows_takes_euclidean_distances_through_a_matrix_product(compiled):
    """As PyTorch's default ``compute_mode``: a row's distance to itself is the rounding
    left of ``|a|^2 - 2 a.a + |a|^2`` (PyTorch 2.13 gives the same 1.49e-08 here), and its
    gradient there 0."""

    def step(x, y):
        d, d2 = sd.cdist(x, x), sd.cdist(x, y)
        (d.sum() + (d2 * d2).sum()).backward()
        return d, d2

    rng = np.random.default_rng(1)
    x = sd.tensor(rng.standard_normal((30, 4)), requires_grad=True)
    y = sd.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    d, d2 = (sd.differentiate(step) if compiled else step)(x, y)
    assert arr(d).diagonal()[:6].tolist() == [0.0, 0.0, 0.0, 0.0, 1.4901161193847656e-08, 0.0]
    np.testing.assert_allclose(arr(d2)[0, :3], [4.2897016781682, 3.775178237188934,
                                                2.6454120661783302], rtol=1e-14)  # fmt: skip
    np.testing.assert_allclose(
        arr(x.grad)[0],
        [5.781675744542731, 35.381048278094696, 22.444567545297843, -43.06355601013861],
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        arr(y.grad)[0],
        [93.06212099680322, -95.95852780343604, -145.35596596711, 49.64953252387291],
        rtol=1e-13,
    )


# ---- scatter_reduce ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, said",
    [
        (lambda x, i: x.scatter_reduce(1, i, x[:, :2].double(), "sum"), RuntimeError,
         "scatter\\(\\): Expected self.dtype to be equal to src.dtype"),
        (lambda x, i: x.scatter_reduce(1, i + 2, x[:, :2], "sum"), RuntimeError,
         "index 4 is out of bounds for dimension 1 with size 3"),
        (lambda x, i: x.scatter_reduce(1, i, 1.0, "sum"), TypeError,
         "argument 'src' \\(position 3\\) must be Tensor, not float"),
        # PyTorch 2.13 returns the input unchanged for an unknown reduction: refused here
        (lambda x, i: x.scatter_reduce(1, i, x[:, :2], "max"), RuntimeError,
         "must be either sum, prod, mean, amax or amin, got max"),
    ],
)  # fmt: skip
def test_scatter_reduce_refuses_what_pytorch_refuses(make, error, said):
    x = sd.tensor([[3.0, -2.0, 5.0], [0.0, 7.0, -1.0]])
    with pytest.raises(error, match=said):
        make(x, sd.tensor([[0, 2], [1, 1]]))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_scatter_reduce_values_and_gradients_are_pytorchs_at_ties_and_zeros(compiled):
    """PyTorch 2.13's: an integer mean rounded down, amax without ``self`` where only
    ``src`` competes, prod's gradient exact at a zero factor, amin's shared by ties
    (``self``'s entry among them)."""

    def step(x, s):
        y = x.scatter_reduce(1, sd.tensor([[0, 0], [2, 2]]), s, "prod")
        z = x.scatter_reduce(1, sd.tensor([[1, 1], [0, 0]]), s, "amin")
        ((y * sd.tensor([[1.0, 2, 3], [4, 5, 6]])).sum() + z.sum()).backward()
        return y, z

    x = sd.tensor([[2.0, 1.0, 3.0], [0.0, 5.0, 4.0]], requires_grad=True)
    s = sd.tensor([[0.0, 3.0], [2.0, 2.0]], requires_grad=True)
    y, z = (sd.differentiate(step) if compiled else step)(x, s)
    assert y.tolist() == [[0.0, 1.0, 3.0], [0.0, 5.0, 16.0]]
    assert z.tolist() == [[2.0, 0.0, 3.0], [0.0, 5.0, 4.0]]
    assert x.grad.tolist() == [[1.0, 2.0, 4.0], [5.0, 6.0, 25.0]]
    assert s.grad.tolist() == [[7.0, 0.0], [48.0, 48.0]]
    ints = sd.tensor([1, 2, 3])
    mean = ints.scatter_reduce(0, sd.tensor([0, 0, 2]), sd.tensor([-4, -5, 7]), "mean")
    assert mean.dtype == sd.int64 and mean.tolist() == [-3, 2, 5]
    alone = sd.tensor([1.0, 2.0]).scatter_reduce(0, sd.tensor([0]), sd.tensor([5.0]), "amax",
                                                 include_self=False)  # fmt: skip
    assert alone.tolist() == [5.0, 2.0]
    assert sd.tensor(2.0).scatter_reduce(0, sd.tensor(0), sd.tensor(5.0), "prod").item() == 10.0


@pytest.mark.parametrize("compiled", [False, True])
def test_baddbmm_with_beta_zero_ignores_input_and_gives_it_gradient_zero(compiled):
    # PyTorch 2.13: the input's NaN is ignored, and its .grad is zeros (not None: an
    # optimizer with weight decay moves it)
    def step(inp, b1, b2):
        loss = sd.baddbmm(inp, b1, b2, beta=0, alpha=0.5).sum()
        loss.backward()
        return loss.item()

    step = sd.differentiate(step) if compiled else step
    inp = sd.tensor(np.full((2, 1, 3), NAN), requires_grad=True)
    b1 = sd.ones(2, 2, 4, dtype=sd.float64, requires_grad=True)
    assert step(inp, b1, sd.ones(2, 4, 3, dtype=sd.float64)) == 24.0
    np.testing.assert_array_equal(arr(inp.grad), np.zeros((2, 1, 3)))
    np.testing.assert_array_equal(arr(b1.grad), np.full((2, 2, 4), 1.5))


def test_cdist_takes_its_compute_mode():
    # PyTorch 2.13: without the matrix product a row's distance to itself is exactly 0
    x = sd.randn(30, 3, dtype=sd.float64)
    exact = sd.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")
    assert arr(exact.diagonal()).max() == 0.0
    with pytest.raises(Exception, match="not a valid value for compute_mode"):
        sd.cdist(x, x, compute_mode="bogus")


def test_index_add_refuses_a_source_of_another_dtype_or_shape_as_pytorch():
    # PyTorch 2.13 raises for both, where a cast or broadcasting would add other values
    x = sd.zeros(3, 4)
    with pytest.raises(RuntimeError, match="same scalar type"):
        x.index_add(1, sd.tensor([0, 2]), sd.ones(3, 2, dtype=sd.float64))
    with pytest.raises(RuntimeError, match="does not fit"):
        x.index_add(1, sd.tensor([0, 2]), sd.ones(1, 2))
    assert x.index_add(1, sd.tensor([0, 2]), sd.ones(3, 2)).sum().item() == 6.0


def test_lerp_of_integer_tensors_is_an_error_as_in_pytorch():
    with pytest.raises(RuntimeError, match="not implemented"):
        sd.tensor([1, 2]).lerp(sd.tensor([3, 4]), 0.5)


# ---- frac, sinc, copysign, heaviside, cummax, cummin, fmax, fmin, hypot, logaddexp ---------


@pytest.mark.parametrize(
    "make, error, said",
    [
        (lambda x: x.long().frac(), NotImplementedError, "\"frac_cpu\" not implemented for 'Long'"),
        (lambda x: sd.hypot(x.long(), x.long()), NotImplementedError, '"hypot_cpu" not'),
        (lambda x: x.long().logaddexp(x.long()), NotImplementedError, '"logaddexp_cpu" not'),
        (lambda x: x.long().logaddexp2(x.long()), NotImplementedError, '"logaddexp2_cpu" not'),
        (lambda x: sd.fmax(x, 0.5), TypeError, "fmax\\(\\): argument 'other' must be Tensor"),
        (lambda x: x.fmin(1), TypeError, "fmin\\(\\): argument 'other' must be Tensor, not int"),
        (lambda x: x.hypot(2.0), TypeError, "hypot\\(\\): argument 'other' must be Tensor"),
        (lambda x: x.logaddexp(0.0), TypeError, "logaddexp\\(\\): argument 'other' must be"),
        (lambda x: x.heaviside(0.5), TypeError, "argument 'values' must be Tensor, not float"),
        (lambda x: x.heaviside(x.double()), RuntimeError, "tensors with different dtypes"),
        (lambda x: x.cummax(2), IndexError, "expected to be in range of \\[-2, 1\\], but got 2"),
    ],
)
def test_the_elementwise_methods_refuse_what_pytorch_refuses(make, error, said):
    """Integers where PyTorch's kernels take floats alone, and numbers where it takes a
    tensor alone: NumPy computes every one of them."""
    x = sd.tensor([[3.0, -2.0, 5.0], [0.0, 7.0, -1.0]], requires_grad=True)
    assert_refused_eagerly_and_compiled(make, x, error, said)


def _elementwise_dtypes(x, ints):
    ys = (
        ints.sinc(),
        sd.copysign(ints, -1),
        ints.copysign(ints),
        sd.fmax(ints, x),
        ints.fmin(ints),
        x.hypot(x.double()),
        sd.logaddexp(x, x.double()),
        ints.cummax(0)[0],
        x.cummin(1)[1],
        x.heaviside(x.new_zeros(())),
    )
    return [y.dtype for y in ys]


def test_the_elementwise_methods_give_pytorchs_dtypes():
    """An integer tensor's sinc and copysign are the default float's, fmax and fmin keep
    integers, float32 with float64 is float64, and indices are int64: as PyTorch's,
    eagerly and in a compiled step."""
    want = [sd.float32, sd.float32, sd.float32, sd.float32, sd.int64, sd.float64,
            sd.float64, sd.int64, sd.int64, sd.float32]  # fmt: skip
    x = sd.tensor([[0.5, -1.5], [2.0, 0.0]])
    ints = sd.tensor([[1, -2], [0, 3]])
    assert _elementwise_dtypes(x, ints) == want
    assert sd.differentiate(_elementwise_dtypes)(x, ints) == want


def _copysign_step(x, s):
    y = x.copysign(s) + x.fmax(s) * 0.0
    y.sum().backward()
    return y.detach()


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_copysign_gives_its_sign_a_zero_gradient_and_fmax_ties_go_to_self(compiled):
    """PyTorch records a zero gradient for the sign (``.grad`` zeros, not None), and
    fmax's tie goes whole to ``self`` (``np.fmax``'s rule shares it)."""
    x = sd.tensor([2.0, -3.0, 0.0, 1.5], requires_grad=True)
    s = sd.tensor([-1.0, -1.0, 1.0, 1.5], requires_grad=True)
    step = sd.differentiate(_copysign_step) if compiled else _copysign_step
    assert step(x, s).tolist() == [-2.0, -3.0, 0.0, 1.5]
    assert x.grad.tolist() == [-1.0, 1.0, 0.0, 1.0] and s.grad.tolist() == [0.0] * 4
    x.grad = s.grad = None
    (x.fmax(s) + sd.fmin(s, x) * 2.0).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 2.0, 1.0] and s.grad.tolist() == [2.0, 1.0, 1.0, 2.0]


def test_where_pytorchs_gradient_is_nan_or_missing_srcdiff_gives_the_limit():
    """hypot at the origin and copysign at an infinite entry: PyTorch's 0 / 0 and inf / inf
    give NaN; srcdiff gives abs's 0 and the sign's +-1. heaviside: PyTorch has no
    derivative, srcdiff gives ``values`` the gradient where the input is 0."""
    x = sd.tensor([0.0, 3.0], dtype=sd.float64, requires_grad=True)
    y = sd.tensor([0.0, 4.0], dtype=sd.float64, requires_grad=True)
    x.hypot(y).sum().backward()
    assert x.grad.tolist() == pytest.approx([0.0, 0.6]) and y.grad.tolist() == pytest.approx(
        [0.0, 0.8]
    )
    x = sd.tensor([INF, -2.0])
    x.requires_grad_()
    x.copysign(sd.tensor([-1.0, 1.0])).sum().backward()
    assert x.grad.tolist() == [-1.0, -1.0]
    v = sd.tensor([0.5, 0.25], requires_grad=True)
    sd.tensor([0.0, 2.0]).heaviside(v).sum().backward()
    assert v.grad.tolist() == [1.0, 0.0]


# ---- clamp at NaN and at equal bounds --------------------------------------------------------

CLAMP_X = [NAN, 0.0, 1.0, 2.0, 0.5, 3.0, NAN, 1.0]
CLAMP_LO = [0.0, 1.0, 1.0, 1.0, NAN, 2.0, 0.0, 2.0]
CLAMP_HI = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, NAN, NAN]
# PyTorch's values and gradients of (clamp(...) * [1, ..., 8]).sum(): the input's where
# lo <= x <= hi (none at a NaN), hi's where x > hi or hi < lo, lo's where x < lo < hi (equal
# bounds below: nobody's); a NaN bound gives NaN
CLAMPS = {
    "tensors": (
        lambda x, lo, hi: x.clamp(lo, hi),
        [NAN, 1.0, 1.0, 1.0, NAN, 1.0, NAN, NAN],
        [[0, 0, 3, 0, 0, 0, 0, 0], [0] * 8, [0, 0, 0, 4, 0, 6, 0, 0]],
    ),
    "min": (
        lambda x, lo, hi: x.clamp(min=lo),
        [NAN, 1.0, 1.0, 2.0, NAN, 3.0, NAN, 2.0],
        [[0, 0, 3, 4, 0, 6, 0, 0], [0, 2, 0, 0, 0, 0, 0, 8], None],
    ),
    "max": (
        lambda x, lo, hi: sd.clamp(x, max=hi),
        [NAN, 0.0, 1.0, 1.0, 0.5, 1.0, NAN, NAN],
        [[0, 2, 3, 0, 5, 0, 0, 0], None, [0, 0, 0, 4, 0, 6, 0, 0]],
    ),
    "numbers": (
        lambda x, lo, hi: x.clamp(0.0, 1.0),
        [NAN, 0.0, 1.0, 1.0, 0.5, 1.0, NAN, 1.0],
        [[0, 2, 3, 0, 5, 0, 0, 8], None, None],
    ),
    "equal numbers": (
        lambda x, lo, hi: x.clip(1.0, 1.0),
        [NAN, 1.0, 1.0, 1.0, 1.0, 1.0, NAN, 1.0],
        [[0, 0, 3, 0, 0, 0, 0, 8], None, None],
    ),
}


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("case", list(CLAMPS))
def test_clamp_at_nan_and_equal_bounds_as_pytorch(case, compiled):
    """clamp's gradient goes nowhere where the input or a bound is NaN, and a NaN Tensor
    bound gives NaN, in eager and compiled code alike; equal Tensor bounds above the
    input give their gradient to neither (PyTorch's choice at that kink)."""
    fn, value, grads = CLAMPS[case]
    leaves = [sd.tensor(v, dtype=sd.float64, requires_grad=True)
              for v in (CLAMP_X, CLAMP_LO, CLAMP_HI)]  # fmt: skip

    def step(x, lo, hi):
        y = fn(x, lo, hi)
        (y * (sd.arange(8, dtype=sd.float64) + 1.0)).sum().backward()
        return y.detach()

    got = (sd.differentiate(step) if compiled else step)(*leaves)
    np.testing.assert_array_equal(arr(got), value)
    for leaf, grad in zip(leaves, grads, strict=True):
        if grad is None:
            assert leaf.grad is None
        else:
            np.testing.assert_array_equal(arr(leaf.grad), grad)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.softmax(1, dtype=sd.float64),
        lambda x: sd.softmax(x, 1, dtype=sd.float64),
        lambda x: x.log_softmax(1, sd.float64).exp(),
        lambda x: sd.log_softmax(x, dim=1, dtype=sd.float64).exp(),
    ],
    ids=["softmax", "sd.softmax", "log_softmax", "sd.log_softmax"],
)
def test_softmax_in_a_dtype(fn):
    """``softmax(dim, dtype=...)``, as PyTorch's method and function take it: the input
    cast first, the result in ``dtype``, the gradient in the input's."""
    z = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.75]], dtype=np.float32)
    x = sd.tensor(z, requires_grad=True)
    y = fn(x)
    assert y.dtype == sd.float64
    soft = np.exp(z.astype(np.float64)) / np.exp(z.astype(np.float64)).sum(1, keepdims=True)
    np.testing.assert_allclose(arr(y), soft, rtol=1e-14)
    weights = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (y * sd.tensor(weights)).sum().backward()
    assert x.grad.dtype == sd.float32
    expected = soft * (weights - (weights * soft).sum(1, keepdims=True))
    np.testing.assert_allclose(arr(x.grad), expected, rtol=1e-6)


# ---- a NumPy scalar on the left, bitwise promotion, heaviside, all/any over no dims ------


@pytest.mark.parametrize("scalar", [np.float64(7.5), np.float32(7.5)], ids=["float64", "float32"])
def test_a_numpy_scalar_floor_divided_or_remaindered_by_a_tensor_keeps_the_tensors_dtype(scalar):
    """NumPy calls the tensor's ``__array_ufunc__`` for ``np.float64(7.5) // t``: floor
    division and remainder went through NumPy's own promotion, float64, where PyTorch's
    (a number does not lift a tensor's dtype) gives float32, as ``7.5 // t`` does."""
    ints = sd.tensor([3, -4])
    x = sd.tensor([3.0, -4.0], requires_grad=True)
    for t, dtype in [(ints, sd.float32), (x, sd.float32)]:
        assert (scalar // t).dtype == dtype and (scalar % t).dtype == dtype
    np.testing.assert_array_equal(arr(scalar % x), [1.5, -0.5])
    np.testing.assert_array_equal(arr(scalar // ints), [2.0, -2.0])
    (scalar % x).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [-2.0, 2.0])  # -floor(7.5 / x)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        np.int64(3) // sd.tensor([0, 1])


@pytest.mark.parametrize("op", ["&", "|", "^"])
def test_bitwise_operators_promote_as_pytorch_does(op):
    """A 0-d tensor does not lift another tensor's dtype (int32 & int64 0-d is int32), and
    a number on the left of ``^`` works as on the right."""
    a = sd.tensor(np.array([5, 6], dtype=np.int32))
    b = sd.tensor(3)
    f = {"&": lambda u, v: u & v, "|": lambda u, v: u | v, "^": lambda u, v: u ^ v}[op]
    want = f(np.array([5, 6], dtype=np.int32), np.int32(3))
    for out in (f(a, b), f(b, a), f(a, 3), f(3, a)):
        assert out.dtype == sd.int32
        np.testing.assert_array_equal(arr(out), want)


def test_heaviside_of_integers_stays_integer():
    """NumPy's heaviside of integers is float64; PyTorch's keeps the dtype."""
    out = sd.tensor([-2, 0, 3]).heaviside(sd.tensor([5, 5, 5]))
    assert out.dtype == sd.int64
    np.testing.assert_array_equal(arr(out), [0, 5, 1])


@pytest.mark.parametrize("dim", [(), []], ids=["tuple", "list"])
def test_all_and_any_over_no_dims_reduce_nothing(dim):
    """PyTorch's ``x.all(dim=())`` is each entry's own truth (where ``x.sum(dim=())``
    reduces every dim); srcdiff reduced every dim."""
    x = sd.tensor([[1.0, 0.0], [2.0, NAN]])
    want = np.array([[True, False], [True, True]])
    for out in (x.all(dim), x.any(dim), sd.all(x, dim), sd.any(x, dim)):
        assert out.dtype == sd.bool
        np.testing.assert_array_equal(arr(out), want)
    assert not x.all().item() and x.any().item()


# ---- reductions of a 0-d tensor along its dim 0 or -1 ---------------------------------------


def _reduced_0d(x, dim):
    """Every reduction PyTorch takes along dim 0 or -1 of a 0-d tensor, weighted."""
    return (
        x.max(dim).values * 2.0
        + x.min(dim, keepdim=True).values * 3.0
        + x.std(dim, correction=0) * 5.0
        + x.var(dim, correction=0) * 7.0
    )


def _reduced_0d_step(x, dim):
    out = _reduced_0d(x, dim)
    out.backward()
    return out


@pytest.mark.parametrize("dim", [0, -1])
def test_max_min_std_var_along_the_dim_of_a_0d_tensor(dim):
    """A 0-d tensor has dims 0 and -1 (itself), as PyTorch takes them: srcdiff refused them
    (axis out of bounds). The values are the entry's own (std and var with no correction
    0); the gradient 2 + 3 (std and var are flat, their deviation 0)."""
    value = 0.3
    for run in (_reduced_0d_step, sd.differentiate(_reduced_0d_step)):
        x = sd.tensor(value, dtype=sd.float64, requires_grad=True)
        out = run(x, dim)
        assert out.shape == () and out.item() == pytest.approx(5 * value)
        for eps in (1e-6, 1e-4):
            plus = _reduced_0d(sd.tensor(value + eps, dtype=sd.float64), dim).item()
            minus = _reduced_0d(sd.tensor(value - eps, dtype=sd.float64), dim).item()
            assert x.grad.item() == pytest.approx((plus - minus) / (2 * eps), rel=1e-7)
    found = sd.tensor(0.3).max(dim)
    assert found.values.shape == () and found.indices.item() == 0
    assert np.isnan(sd.tensor(0.3).std(dim).item())  # n - 1 = 0, as in PyTorch
    with pytest.raises(IndexError, match="Dimension out of range"):
        sd.tensor(0.3).max(1)


# ---- 0-d transpose, split and chunk; std and var of integers --------------------------------


@pytest.mark.parametrize(
    "make, error, said",
    [
        (lambda x: x.sum().chunk(2), RuntimeError, "chunk expects at least a 1-dimensional"),
        (lambda x: sd.chunk(x.sum(), 2, 0), RuntimeError, "chunk expects at least a 1-dim"),
        (lambda x: x.sum().split(1), RuntimeError, "split expects at least a 1-dimensional"),
        (lambda x: x.sum().split([1]), RuntimeError, "split expects at least a 1-dimensional"),
        (lambda x: x.long().var(0, keepdim=True), RuntimeError, "std and var only support"),
        (lambda x: x.long().std(), RuntimeError, "std and var only support floating point"),
        (lambda x: (x > 0).var(), RuntimeError, "std and var only support floating point"),
        (lambda x: x.sum().transpose(0, 1), IndexError, "range of \\[-1, 0\\], but got 1"),
    ],
)
def test_0d_pieces_and_integer_spreads_are_refused_as_pytorch_refuses(make, error, said):
    """split and chunk of a 0-d tensor raise IndexError no more, and std and var of
    integers or booleans no longer give NumPy's float (or its own error): PyTorch's
    errors, eagerly and in compiled code."""
    x = sd.tensor([[3.0, -2.0, 5.0], [0.0, 7.0, -1.0]], requires_grad=True)
    assert_refused_eagerly_and_compiled(make, x, error, said)


@pytest.mark.parametrize("dims", [(0, -1), (0, 0), (-1, -1)])
def test_transpose_of_a_0d_tensor_is_the_tensor_as_in_pytorch(dims):
    """PyTorch takes dims 0 and -1 of a 0-d tensor; srcdiff refused them (axis out of
    bounds). The gradient passes through unchanged, eagerly and compiled."""

    def step(x):
        y = (x * x).sum().transpose(dims[0], dims[1]) * 3.0
        y.backward()
        return y.detach()

    for fn in (step, sd.differentiate(step)):
        x = sd.tensor([1.5, -2.0], dtype=sd.float64, requires_grad=True)
        assert fn(x).item() == 3.0 * (1.5**2 + 2.0**2)
        np.testing.assert_allclose(arr(x.grad), [9.0, -12.0])


# ---- a bool tensor's power, new_full's fill, new_empty ---------------------------------------


@pytest.mark.parametrize("exponent, expected", [(True, [True, False, True]),
                                                (False, [True, True, True])])  # fmt: skip
def test_a_bool_tensor_to_a_bool_power_stays_bool(exponent, expected):
    """NumPy gives int8; PyTorch a bool tensor (``b ** True``, ``b.pow(False)``)."""
    b = sd.tensor([True, False, True])
    for out in (b**exponent, b.pow(exponent)):
        assert out.dtype == sd.bool and out.tolist() == expected


@pytest.mark.parametrize("power", [lambda b: b**b, lambda b: True**b, lambda b: b.pow(b)])
def test_a_bool_tensor_exponent_of_a_bool_base_is_not_implemented(power):
    with pytest.raises(NotImplementedError, match="\"pow\" not implemented for 'Bool'"):
        power(sd.tensor([True, False, True]))


def test_powers_of_bool_tensors_that_promote_keep_pytorchs_dtypes():
    b = sd.tensor([True, False, True])
    assert (b**2).dtype == sd.int64 and (2**b).dtype == sd.int64
    assert (b**0.5).dtype == sd.float32


def test_new_full_takes_a_0d_tensor_without_grad_as_its_number():
    x = sd.tensor([1.5, 2.0], dtype=sd.float64, requires_grad=True)
    out = x.new_full((3,), x[0].detach())
    assert out.tolist() == [1.5, 1.5, 1.5] and not out.requires_grad
    assert x.new_full((2,), sd.tensor(2)).tolist() == [2.0, 2.0]


@pytest.mark.parametrize("fill", [lambda x: x[0], lambda x: sd.tensor([2.0])])
def test_new_full_refuses_a_tensor_requiring_grad_or_not_0d_as_pytorch(fill):
    """It crashed (np.copyto called on tensors) for a fill requiring grad, and took a
    1-element tensor; PyTorch raises TypeError for both."""
    x = sd.tensor([1.5, 2.0], dtype=sd.float64, requires_grad=True)
    with pytest.raises(TypeError, match="argument 'fill_value' .* must be Number, not Tensor"):
        x.new_full((2,), fill(x))


def test_new_empty_and_new_empty_strided_make_tensors_like_pytorchs():
    x = sd.tensor([1.5, 2.0], dtype=sd.float64)
    a = x.new_empty((2, 3))
    b = x.new_empty(2, 3, dtype=sd.float32, requires_grad=True)
    c = x.new_empty_strided((2, 3), (3, 1))
    assert a.shape == (2, 3) and a.dtype == sd.float64 and not a.requires_grad
    assert b.dtype == sd.float32 and b.requires_grad and b.is_leaf
    assert c.shape == (2, 3) and c.dtype == sd.float64
    with pytest.raises(
        RuntimeError,
        match=r"dimensionality of sizes \(2\) must match dimensionality of strides \(1\)",
    ):
        x.new_empty_strided((2, 3), (1,))


def test_new_full_with_a_fill_requiring_grad_is_pytorchs_type_error_compiled_too():
    """Compiled, the fill was taken for a constant: its gradient was lost."""

    @sd.differentiate
    def step(x):
        y = x.new_full((2,), x[0, 0])
        (y * x[0, :2]).sum().backward()

    with pytest.raises(TypeError, match="argument 'fill_value' .* must be Number, not Tensor"):
        step(sd.tensor([[1.5, 2.0], [3.0, 4.0]], requires_grad=True))


BOOL_ERRORS = [
    (lambda b: -b, RuntimeError, "Negation, the `-` operator, on a bool tensor"),
    (lambda b: b.neg(), RuntimeError, "Negation, the `-` operator, on a bool tensor"),
    (lambda b: b - b, RuntimeError, "with two bool tensors is not supported"),
    (lambda b: True - b, RuntimeError, "with two bool tensors is not supported"),
    (lambda b: b - 1.5, RuntimeError, "with a bool tensor is not supported"),
    (lambda b: abs(b), NotImplementedError, "\"abs_cpu\" not implemented for 'Bool'"),
    (lambda b: b.abs(), NotImplementedError, "\"abs_cpu\" not implemented for 'Bool'"),
    (lambda b: b // b, NotImplementedError, "\"div_floor_cpu\" not implemented for 'Bool'"),
    (lambda b: True // b, NotImplementedError, "\"div_floor_cpu\" not implemented for 'Bool'"),
    (lambda b: b % True, NotImplementedError, "\"remainder_cpu\" not implemented for 'Bool'"),
]


@pytest.mark.parametrize(("op", "error", "said"), BOOL_ERRORS)
def test_bool_tensor_arithmetic_pytorch_refuses_is_its_error(op, error, said):
    """NumPy's TypeError, a bool result, an int8 one or a ZeroDivisionError stood there."""
    with pytest.raises(error, match=re.escape(said)):
        op(sd.tensor([True, False]))


def test_bool_tensor_arithmetic_that_promotes_keeps_pytorchs_dtype():
    b = sd.tensor([True, False])
    assert (b // 2).dtype == sd.int64 and (b // 2).tolist() == [0, 0]
    assert (b + 1).tolist() == [2, 1] and (b * 2.5).dtype == sd.float32
