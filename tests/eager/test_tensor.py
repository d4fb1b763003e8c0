"""Tensor operations, methods, printing and what they record (no backward here)."""

import copy
import operator

import numpy as np
import pytest

import srcdiff as sd


def arr(t):
    return t.detach().numpy()


# ---- printing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, text",
    [
        (lambda: sd.tensor([1.0235], requires_grad=True), "tensor([1.0235], requires_grad=True)"),
        (lambda: sd.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
        (
            lambda: sd.tensor([1.0, 4.0], requires_grad=True).mean(),
            "tensor(2.5000, grad_fn=<MeanBackward0>)",
        ),
        (
            lambda: sd.tensor([1.0, 2.0], dtype=sd.float64),
            "tensor([1., 2.], dtype=srcdiff.float64)",
        ),
        (lambda: sd.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
        (lambda: sd.tensor([True, False]), "tensor([ True, False])"),
        (lambda: sd.tensor([1, 2], dtype=sd.int32), "tensor([1, 2], dtype=srcdiff.int32)"),
        (lambda: sd.tensor([-0.5836, 1.2]), "tensor([-0.5836,  1.2000])"),
        (lambda: sd.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
        (lambda: sd.tensor(3), "tensor(3)"),
        (lambda: sd.tensor([float("nan"), 1.0, float("inf")]), "tensor([nan, 1., inf])"),
        (lambda: sd.zeros(0, 3), "tensor([], size=(0, 3))"),
        (lambda: sd.tensor([2.0], requires_grad=True) * 3, "tensor([6.], grad_fn=<MulBackward0>)"),
    ],
)
def test_repr_as_pytorch(make, text):
    assert repr(make()) == text


def test_repr_summarizes_large_tensors():
    text = repr(sd.arange(5000))
    assert text.startswith("tensor([   0,    1,    2,  ..., 4997, 4998, 4999])")


def test_repr_of_3d_and_long_rows():
    assert repr(sd.arange(8).reshape(2, 2, 2)) == (
        "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])"
    )
    lines = repr(sd.ones(20) / 3).splitlines()
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines)


def test_size_and_shape():
    t = sd.zeros(2, 3)
    assert t.shape == (2, 3) and isinstance(t.shape, tuple)
    assert repr(t.shape) == "srcdiff.Size([2, 3])"
    assert t.size() == (2, 3) and t.size(1) == 3 and t.size(-1) == 3
    assert t.ndim == 2 and t.dim() == 2 and t.numel() == 6 and len(t) == 2


# ---- arithmetic and dtypes ---------------------------------------------------------------


def test_operators_broadcast_like_numpy():
    a = sd.tensor([[1.0], [2.0]])
    b = sd.tensor([10.0, 20.0, 30.0])
    assert np.array_equal(arr(a + b), arr(a) + arr(b))
    assert np.array_equal(arr(a - b), arr(a) - arr(b))
    assert np.array_equal(arr(a * b), arr(a) * arr(b))
    assert np.allclose(arr(a / b), arr(a) / arr(b))
    assert np.array_equal(arr(a**2), arr(a) ** 2)
    assert np.array_equal(arr(-a), -arr(a))
    m = sd.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.array_equal(arr(m @ m), arr(m) @ arr(m))


def test_reflected_operators_with_numbers_and_arrays():
    t = sd.tensor([1.0, 2.0])
    assert (2 + t).tolist() == [3.0, 4.0] and (2 - t).tolist() == [1.0, 0.0]
    assert (2 * t).tolist() == [2.0, 4.0] and (2 / t).tolist() == [2.0, 1.0]
    assert (2**t).tolist() == [2.0, 4.0]
    a = np.array([1.0, 1.0], dtype=np.float32)
    for result in (a + t, a - t, a * t, a / t, t + a):
        assert isinstance(result, sd.Tensor)
    assert (a - t).tolist() == [0.0, -1.0]
    assert isinstance(np.float64(2.0) * t, sd.Tensor)
    assert (np.float64(2.0) * t).dtype is sd.float32


@pytest.mark.parametrize(
    "a, b, dtype",
    [
        (sd.tensor([1, 2]), 2.5, sd.float32),
        (sd.tensor([1, 2]), sd.tensor([1.0, 2.0]), sd.float32),
        (sd.tensor([1.0, 2.0]), sd.tensor([1.0, 2.0], dtype=sd.float64), sd.float64),
        (sd.tensor([1.0, 2.0]), sd.tensor(2.0, dtype=sd.float64), sd.float32),
        (sd.tensor([1, 2]), sd.tensor(2.0, dtype=sd.float64), sd.float64),
        (sd.tensor([1, 2]), 2, sd.int64),
        (sd.tensor([True, False]), 1, sd.int64),
        (sd.tensor([1.0, 2.0]), np.float64(3.0), sd.float32),
    ],
)
def test_promotion_as_pytorch(a, b, dtype):
    assert (a + b).dtype is dtype
    assert (a * b).dtype is dtype


def test_division_of_integers_is_float32():
    assert (sd.tensor([1, 2]) / sd.tensor([2, 4])).dtype is sd.float32
    assert (sd.tensor([1, 2]) / 2).tolist() == [0.5, 1.0]


def test_comparisons_give_bool_tensors_without_grad():
    w = sd.tensor([1.0, -1.0], requires_grad=True)
    for result in (w > 0, w < 0, w >= 0, w <= 0, w == 1.0, w != 1.0):
        assert result.dtype is sd.bool and not result.requires_grad
    assert (w > 0).tolist() == [True, False]
    assert (w == None) is False  # noqa: E711 - the identity fallback, as for PyTorch tensors
    assert bool(sd.tensor(2.0) > 1)


def test_tensors_hash_by_identity():
    a, b = sd.zeros(1), sd.zeros(1)
    assert len({a, b}) == 2 and {a: 1}[a] == 1


# ---- methods -----------------------------------------------------------------------------


def test_reductions():
    x = sd.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert x.sum().item() == 21.0 and x.sum(0).tolist() == [5.0, 7.0, 9.0]
    assert x.sum(dim=1, keepdim=True).shape == (2, 1)
    assert x.mean().item() == 3.5 and x.mean(1).tolist() == [3.0, 4.0]
    assert x.max().item() == 6.0 and x.min().item() == 1.0
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 6.0] and indices.tolist() == [1, 2]
    assert x.min(dim=0).indices.tolist() == [0, 1, 0]
    assert x.max(1, keepdim=True).values.shape == (2, 1)
    assert x.sum((0, 1)).item() == 21.0
    assert x.argmax().item() == 5 and x.argmax(1).tolist() == [1, 2]
    assert sd.tensor([1, 2]).sum().dtype is sd.int64
    with pytest.raises(RuntimeError, match="mean"):
        sd.tensor([1, 2]).mean()


def test_relu_keeps_nan_and_sends_no_gradient_where_the_input_is_not_positive():
    """relu(nan) is nan, eagerly and compiled, as in PyTorch: a diverged model's loss must
    not look finite (it was 0); relu(-inf) is 0; the gradient is 0 at 0 and passes at
    nan, as PyTorch's."""
    x = sd.tensor([float("nan"), float("-inf"), -1.0, 0.0, 2.0], requires_grad=True)
    y = sd.nn.functional.relu(x)
    np.testing.assert_array_equal(y.detach().numpy(), [np.nan, 0.0, 0.0, 0.0, 2.0])
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]

    @sd.differentiate
    def total(t):
        return sd.relu(t).sum().item()

    assert np.isnan(total(sd.tensor([float("nan"), -1.0, 2.0])))
    assert total(sd.tensor([float("-inf"), 2.0])) == 2.0


def test_elementwise_methods():
    x = sd.tensor([-2.0, 0.0, 3.0])
    assert x.abs().tolist() == [2.0, 0.0, 3.0]
    assert x.relu().tolist() == [0.0, 0.0, 3.0]
    assert x.clamp(-1, 1).tolist() == [-1.0, 0.0, 1.0]
    assert x.clamp(min=0).tolist() == [0.0, 0.0, 3.0]
    assert x.clamp(max=0).tolist() == [-2.0, 0.0, 0.0]
    assert np.allclose(arr(x.exp()), np.exp(arr(x)))
    assert np.allclose(arr(x.tanh()), np.tanh(arr(x)))
    assert np.allclose(arr(x.sigmoid()), 1 / (1 + np.exp(-arr(x))))
    assert np.allclose(arr(sd.tensor([4.0]).sqrt()), [2.0])
    assert np.allclose(arr(sd.tensor([1.0]).log()), [0.0])
    assert x.pow(2).tolist() == [4.0, 0.0, 9.0]
    assert sd.tensor([1, 4]).sqrt().dtype is sd.float32


def test_sigmoid_is_accurate_in_both_tails():
    x = sd.tensor([-80.0, -20.0, 0.0, 20.0, 80.0])
    expected = 1 / (1 + np.exp(-np.array([-80.0, -20.0, 0.0, 20.0, 80.0])))
    assert np.allclose(arr(x.sigmoid()), expected, rtol=1e-5, atol=0)


def test_softmax_and_log_softmax():
    x = sd.tensor([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]])
    s = x.softmax(1)
    assert np.allclose(arr(s).sum(1), 1.0) and np.allclose(arr(s)[1], 1 / 3)
    assert np.allclose(arr(x.log_softmax(1)), np.log(arr(s)), atol=1e-6)


def test_shape_methods():
    x = sd.arange(6).float()
    assert x.reshape(2, 3).shape == (2, 3) and x.view(-1, 2).shape == (3, 2)
    assert x.reshape((3, 2)).shape == (3, 2)
    m = x.view(2, 3)
    assert m.transpose(0, 1).shape == (3, 2) and m.T.shape == (3, 2) and m.t().shape == (3, 2)
    assert m.permute(1, 0).tolist() == arr(m).T.tolist()
    assert m.unsqueeze(0).shape == (1, 2, 3) and m.unsqueeze(-1).shape == (2, 3, 1)
    assert m.unsqueeze(0).squeeze().shape == (2, 3) and m.unsqueeze(1).squeeze(1).shape == (2, 3)
    assert m.squeeze(0).shape == (2, 3)
    assert m.unsqueeze(0).flatten().shape == (6,) and m.flatten(0, 0).shape == (2, 3)
    assert sd.zeros(2, 3, 4).flatten(1).shape == (2, 12)
    assert sd.zeros(1, 3).expand(2, -1).shape == (2, 3)


def test_views_share_memory_and_version():
    x = sd.zeros(2, 3)
    v = x.view(6)
    with sd.no_grad():
        v[0] = 1.0
    assert x[0, 0].item() == 1.0 and x._version is v._version


def test_indexing_reads():
    x = sd.arange(12).float().reshape(3, 4)
    assert x[1].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert x[:, 1].tolist() == [1.0, 5.0, 9.0]
    assert x[1:, ::2].tolist() == [[4.0, 6.0], [8.0, 10.0]]
    assert x[x > 9].tolist() == [10.0, 11.0]
    assert x[[0, 2]].shape == (2, 4)
    assert x[sd.tensor([2, 0])][0, 0].item() == 8.0
    assert x[1, 2].item() == 6.0


def test_setitem_without_grad():
    x = sd.zeros(3)
    x[1] = 5.0
    x[sd.tensor([True, False, True])] = sd.tensor([1.0, 2.0])
    assert x.tolist() == [1.0, 5.0, 2.0]
    w = sd.zeros(2, requires_grad=True)
    with sd.no_grad():
        w[0] = 3.0
    assert w.tolist() == [3.0, 0.0] and w.is_leaf and w.requires_grad


def test_conversions():
    x = sd.tensor([1.5, 2.5])
    assert x.double().dtype is sd.float64 and x.long().tolist() == [1, 2]
    assert x.to(sd.float64).dtype is sd.float64 and x.to("cpu") is x and x.cpu() is x
    assert x.to("cpu", sd.float64).dtype is sd.float64
    assert x.to(sd.zeros(1, dtype=sd.float64)).dtype is sd.float64
    assert x.type(sd.float64).dtype is sd.float64
    assert x.device == "cpu" and str(x.device) == "cpu" and not x.is_cuda
    assert x.float() is x
    assert float(sd.tensor([2.5])) == 2.5 and int(sd.tensor(3)) == 3
    assert sd.tensor(2.5).item() == 2.5 and isinstance(sd.tensor(2).item(), int)
    assert x.tolist() == [1.5, 2.5] and [v.item() for v in x] == [1.5, 2.5]
    assert np.asarray(x).tolist() == [1.5, 2.5]
    assert f"{sd.tensor(2.123456):.2f}" == "2.12"
    assert [0, 1, 2][sd.tensor(1)] == 1


def test_numpy_shares_memory():
    x = sd.zeros(2)
    x.numpy()[0] = 1.0
    assert x.tolist() == [1.0, 0.0]
    w = sd.zeros(2, requires_grad=True)
    assert w.detach().numpy() is w._data


def test_clone_detach_and_deepcopy():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    c = w.clone()
    assert c.grad_fn.name() == "CloneBackward0" and c._data is not w._data
    d = w.detach()
    assert not d.requires_grad and d._data is w._data
    e = copy.deepcopy(w)
    assert e.requires_grad and e.is_leaf and e._data is not w._data and e.tolist() == w.tolist()


def test_inplace_methods_and_versions():
    x = sd.zeros(3)
    v = x._version.value
    x.add_(1).mul_(3).sub_(1)
    x += 1
    x /= 2
    assert x.tolist() == [1.5, 1.5, 1.5] and x._version.value == v + 5
    x.fill_(2.0)
    assert x.tolist() == [2.0, 2.0, 2.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    x.copy_(sd.tensor([1, 2, 3]))
    assert x.tolist() == [1.0, 2.0, 3.0] and x.dtype is sd.float32
    x.add_(sd.ones(3), alpha=2)
    assert x.tolist() == [3.0, 4.0, 5.0]
    x.addcmul_(sd.ones(3), sd.ones(3), value=-1).addcdiv_(sd.ones(3), sd.ones(3) * 2)
    assert x.tolist() == [2.5, 3.5, 4.5]
    sd.manual_seed(0)
    assert sd.zeros(100).uniform_(-1, 1).min().item() >= -1
    assert abs(sd.zeros(10000).normal_(1.0, 0.1).mean().item() - 1.0) < 0.01


def test_inplace_keeps_the_dtype():
    x = sd.zeros(2, dtype=sd.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x += 1.5
    with pytest.raises(RuntimeError, match="broadcast shape"):
        sd.zeros(1).add_(sd.zeros(3))


# ---- functions ---------------------------------------------------------------------------


def test_functions():
    a, b = sd.tensor([1.0, 5.0]), sd.tensor([3.0, 2.0])
    assert sd.maximum(a, b).tolist() == [3.0, 5.0] and sd.minimum(a, b).tolist() == [1.0, 2.0]
    assert sd.where(a > b, a, b).tolist() == [3.0, 5.0]
    assert sd.where(a > 2, a, 0.0).tolist() == [0.0, 5.0]
    assert sd.cat([a, b]).tolist() == [1.0, 5.0, 3.0, 2.0]
    assert sd.stack([a, b]).shape == (2, 2) and sd.stack([a, b], dim=1).tolist() == [
        [1.0, 3.0],
        [5.0, 2.0],
    ]
    assert sd.cat([a.view(1, 2), b.view(1, 2)], dim=1).shape == (1, 4)
    assert sd.sum(a).item() == 6.0 and sd.mean(a).item() == 3.0
    assert sd.matmul(a, b).item() == 13.0
    assert np.allclose(arr(sd.exp(a)), np.exp(arr(a)))
    assert sd.relu(sd.tensor([-1.0, 1.0])).tolist() == [0.0, 1.0]
    result = sd.zeros(2)
    sd.add(a, b, out=result)
    assert result.tolist() == [4.0, 7.0]


def test_numpy_functions_on_tensors():
    t = sd.tensor([1.0, 4.0])
    assert isinstance(np.sqrt(t), sd.Tensor) and np.sqrt(t).tolist() == [1.0, 2.0]
    assert isinstance(np.sum(t), sd.Tensor) and np.sum(t).item() == 5.0
    assert np.concatenate([t, t]).shape == (4,)
    assert isinstance(np.maximum(t, 2.0), sd.Tensor)


# ---- what is recorded --------------------------------------------------------------------


def test_recording_follows_requires_grad():
    x = sd.tensor([1.0, 2.0])
    assert (x * 2).grad_fn is None and (x * 2).is_leaf
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    y = w * x
    assert y.requires_grad and not y.is_leaf
    assert repr(y.grad_fn).startswith("<MulBackward0 object at 0x")


def test_recorded_nodes_hold_the_primitive_and_its_arguments():
    w = sd.tensor([[1.0, 2.0]], requires_grad=True)
    s = w.sum(dim=1, keepdim=True)
    node = s.grad_fn
    assert node.prim == "ndarray.sum" and dict(node.kwargs) == {"axis": 1, "keepdims": True}
    assert node.name() == "SumBackward1"
    y = w * 3.0
    assert y.grad_fn.prim is operator.mul
    assert [a.kind for a in y.grad_fn.args] == ["leaf", "c"]
    assert y.grad_fn.args[1].value == 3.0
    assert w[0].grad_fn.prim is operator.getitem


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda w, x: w + x, "AddBackward0"),
        (lambda w, x: w - x, "SubBackward0"),
        (lambda w, x: 1 - w, "RsubBackward1"),
        (lambda w, x: w * x, "MulBackward0"),
        (lambda w, x: w / x, "DivBackward0"),
        (lambda w, x: w**2, "PowBackward0"),
        (lambda w, x: -w, "NegBackward0"),
        (lambda w, x: w.exp(), "ExpBackward0"),
        (lambda w, x: w.tanh(), "TanhBackward0"),
        (lambda w, x: w.mean(), "MeanBackward0"),
        (lambda w, x: w.sum(), "SumBackward0"),
        (lambda w, x: w.sigmoid(), "SigmoidBackward0"),
        (lambda w, x: w.relu(), "ReluBackward0"),
        (lambda w, x: w[[0, 1]], "IndexBackward0"),
        (lambda w, x: w[0], "SelectBackward0"),
        (lambda w, x: w[1:], "SliceBackward0"),
        (lambda w, x: w.view(2, 1), "ViewBackward0"),
        (lambda w, x: w @ x, "DotBackward0"),
        (lambda w, x: w.view(1, 2) @ x.view(2, 1), "MmBackward0"),
        (lambda w, x: w.double(), "ToCopyBackward0"),
        (lambda w, x: w.clamp(0, 1), "ClampBackward1"),
        (lambda w, x: sd.cat([w, x]), "CatBackward0"),
        (lambda w, x: sd.stack([w, w]), "StackBackward0"),
        (lambda w, x: sd.maximum(w, x), "MaximumBackward0"),
        (lambda w, x: sd.where(x > 1, w, x), "WhereBackward0"),
    ],
)
def test_grad_fn_names_follow_pytorch(make, name):
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    x = sd.tensor([3.0, 4.0])
    assert make(w, x).grad_fn.name() == name


def test_next_functions_walk_the_graph():
    b = sd.tensor([1.0], requires_grad=True)
    w = sd.tensor([2.0], requires_grad=True)
    x = sd.tensor([3.0, 4.0])
    yhat = b + w * x
    (acc_b, _), (mul, _) = yhat.grad_fn.next_functions
    assert acc_b.variable is b and mul.name() == "MulBackward0"
    (acc_w, _), (none, _) = mul.next_functions
    assert acc_w.variable is w and none is None
    assert (w * 2).grad_fn.next_functions[0][0] is acc_w


def test_pytorch_101_snippets():
    """The tensor code of the 'PyTorch 101' tutorial in shared/seeds."""
    x = sd.Tensor(7, 5).uniform_(-1, 1)
    assert x.size() == (7, 5)
    x = sd.rand(5, 3)
    y = sd.rand(5, 3)
    assert isinstance(x + y, sd.Tensor)
    result = sd.Tensor(5, 3)
    sd.add(x, y, out=result)
    assert np.allclose(arr(result), arr(x) + arr(y))
    before = arr(y).copy()
    y.add_(x)
    assert np.allclose(arr(y), before + arr(x))
    assert x[:, 1].shape == (5,)
    y = sd.randn(5, 10, 15)
    assert y.size() == (5, 10, 15) and y.view(-1, 15).size() == (50, 15)
    w = sd.Variable(sd.Tensor([1.0]), requires_grad=True)
    loss = sum((x_val * w - y_val) ** 2 for x_val, y_val in [(1.0, 2.0), (2.0, 4.0)])
    loss.backward()
    assert w.grad.tolist() == [2 * (1 - 2) * 1 + 2 * (2 - 4) * 2]


def test_a_negative_step_is_refused_as_in_pytorch():
    x = sd.arange(4.0)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    assert arr(x[::2]).tolist() == [0.0, 2.0]


def test_add_and_sub_scale_the_other_by_alpha():
    x = sd.tensor([1.0, 2.0], requires_grad=True)
    y = sd.tensor([3.0, 5.0], requires_grad=True)
    z = x.add(y, alpha=2).sub(x, alpha=0.5)
    assert arr(z).tolist() == [6.5, 11.0]
    z.sum().backward()
    assert arr(x.grad).tolist() == [0.5, 0.5] and arr(y.grad).tolist() == [2.0, 2.0]
    assert arr(sd.add(x, y, alpha=-1)).tolist() == [-2.0, -3.0]


def test_typed_tensor_classes_check_make_and_cast():
    x = sd.tensor([1.0, 2.0])
    assert isinstance(x, sd.FloatTensor) and not isinstance(x, sd.DoubleTensor)
    assert not isinstance(x, sd.cuda.FloatTensor) and not isinstance(np.ones(2), sd.FloatTensor)
    assert isinstance(sd.arange(3), sd.LongTensor)
    assert x.type() == "srcdiff.FloatTensor"
    assert x.type(sd.DoubleTensor).dtype == sd.float64
    assert x.type("torch.LongTensor").dtype == sd.int64
    assert arr(sd.FloatTensor([1, 2])).dtype == np.float32
    assert sd.IntTensor(2, 3).shape == (2, 3) and sd.IntTensor(2, 3).dtype == sd.int32
    with pytest.raises(ValueError, match="invalid type"):
        x.type("torch.NoSuchTensor")


def test_data_is_a_tensor_sharing_storage_that_requires_no_grad():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    d = w.grad.data
    assert isinstance(d, sd.Tensor) and not d.requires_grad and d.grad_fn is None
    assert repr(w.grad.data[0]) == "tensor(2.)"
    w.grad.data.zero_()  # the PyTorch 101 idiom
    assert arr(w.grad).tolist() == [0.0, 0.0]
    w.data -= 0.5 * sd.ones(2)  # an update autograd does not see
    assert arr(w).tolist() == [0.5, 1.5] and w.is_leaf and w.grad_fn is None
    w.data.normal_()  # in place, into w's storage
    assert w.data.numpy() is w.detach().numpy()


def test_an_in_place_change_of_an_entry_view_is_recorded_on_the_tensor_it_views():
    """``m[0].mul_(v)`` with ``m`` computed from leaves: the change goes into ``m``'s
    graph (and ``v``'s gradient with it), as PyTorch's CopySlices; so does a change of a
    view that is not an index (``reshape``)."""
    w = sd.tensor([[0.3, -1.2], [1.1, 0.4]], requires_grad=True)
    v = sd.tensor([0.2, -0.3], requires_grad=True)
    m = w * 1.0
    row = m[0]
    row.mul_(v)
    (m.sum() + row.sum() * 10.0).backward()
    assert m.grad_fn.name() == "CopySlices"
    np.testing.assert_allclose(w.grad.numpy(), [[2.2, -3.3], [1.0, 1.0]])
    np.testing.assert_allclose(v.grad.numpy(), [3.3, -13.2])
    flat = w * 1.0
    flat.reshape(4).add_(1.0)
    assert flat.grad_fn.name() == "CopySlices"
    with sd.no_grad():
        m[1].mul_(2.0)  # nothing recorded
    np.testing.assert_allclose(m.detach().numpy()[1], [2.2, 0.8])


def test_an_in_place_change_of_an_entry_view_bringing_a_gradient_in():
    """``buf[0].add_(w)`` with ``w`` requiring grad: ``buf`` takes on the gradient, as
    in PyTorch; a write bringing none is a plain write."""
    buf = sd.zeros(2, 3)
    buf[1].add_(1.0)  # nothing to record
    assert buf.grad_fn is None and buf.numpy()[1].tolist() == [1.0, 1.0, 1.0]
    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    buf[0].add_(w)
    assert buf.requires_grad and buf.tolist()[0] == [1.0, 2.0, 3.0]
    (buf * buf).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0, 6.0]


def test_an_in_place_change_of_an_entry_view_keeps_its_shape():
    """``v += t`` broadcasting ``v``'s entries to a larger shape: PyTorch's error."""
    h = (sd.tensor([[1.0, -2.0, 3.0]], requires_grad=True) * 2.0)[None]
    with pytest.raises(RuntimeError, match=r"output with shape \[1, 3\] doesn't match"):
        view = h[0]
        view += sd.ones(2, 3)


def test_backward_of_an_entry_view_taken_before_a_change_of_its_tensor():
    """``v = h[1, 2]; h.mul_(3.0); v.backward()``: the view's graph is taken again, as
    PyTorch regenerates it (it was refused)."""
    w = sd.tensor([[0.5, -0.2, 1.0], [0.3, 0.8, -1.5]], requires_grad=True)
    h = w * 1.0
    v = h[1, 2]
    e = h[0][1]
    h.mul_(3.0)
    v.backward(retain_graph=True)
    e.backward()
    assert w.grad.tolist() == [[0.0, 3.0, 0.0], [0.0, 0.0, 3.0]]
