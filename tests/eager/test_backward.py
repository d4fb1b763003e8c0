"""backward(): gradients by hand and by central differences (float64), accumulation,
retain_grad, generated source, and the code of the autograd tutorial."""

import warnings

import numpy as np
import pytest
from tutorial import fit_by_hand, linear_regression_data

import srcdiff as sd

RNG = np.random.default_rng(7)


def numeric_grads(f, arrays, eps=1e-6):
    """Central differences of the scalar ``f(*tensors)`` with respect to each array."""

    def value(arrs):
        with sd.no_grad():
            return f(*[sd.tensor(a) for a in arrs]).item()

    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            up = [b.copy() for b in arrays]
            down = [b.copy() for b in arrays]
            up[i][idx] += eps
            down[i][idx] -= eps
            g[idx] = (value(up) - value(down)) / (2 * eps)
        grads.append(g)
    return grads


def check(f, *arrays, atol=1e-6):
    """backward() of ``f`` agrees with central differences, for every argument."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    tensors = [sd.tensor(a, requires_grad=True) for a in arrays]
    f(*tensors).backward()
    for t, expected in zip(tensors, numeric_grads(f, arrays), strict=True):
        got = t.grad.numpy() if t.grad is not None else np.zeros_like(expected)
        assert got.dtype == np.float64 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=atol)


def weighted(f, shape):
    """``f`` made scalar by a fixed random weighting of its (non-scalar) result."""
    weights = sd.tensor(RNG.normal(size=shape))
    return lambda *ts: (f(*ts) * weights).sum()


A = RNG.normal(size=(3, 4))
B = RNG.normal(size=(4,))
C = RNG.normal(size=(3, 1))
M = RNG.normal(size=(4, 2))
POS = RNG.uniform(0.5, 2.0, size=(3, 4))

CASES = {
    "add_broadcast": (lambda a, b: a + b, (A, B), (3, 4)),
    "sub_reflected": (lambda a, c: 2.0 - a - c, (A, C), (3, 4)),
    "mul_broadcast": (lambda a, c: a * c * 3.0, (A, C), (3, 4)),
    "div": (lambda a, p: a / p + 1.0 / p, (A, POS), (3, 4)),
    "pow": (lambda p, b: p**3 + p**b + 2.0**b, (POS, B), (3, 4)),
    "neg_abs": (lambda a: (-a).abs(), (A + 0.1,), (3, 4)),
    "matmul": (lambda a, m: a @ m, (A, M), (3, 2)),
    "matvec": (lambda a, b: a @ b, (A, B), (3,)),
    "exp_log_sqrt": (lambda p: p.exp() + p.log() + p.sqrt(), (POS,), (3, 4)),
    "tanh_sigmoid": (lambda a: a.tanh() * a.sigmoid(), (A,), (3, 4)),
    "relu": (lambda a: a.relu(), (A + 0.05,), (3, 4)),
    "clamp": (
        lambda a: a.clamp(-0.5, 0.5) + a.clamp(min=0.1) + a.clamp(max=-0.1),
        (A + 0.013,),
        (3, 4),
    ),
    "sum_mean_dims": (lambda a: a.sum(0) * a.mean(1, keepdim=True), (A,), (3, 4)),
    "max_min": (
        lambda a: a.max(1).values + a.min(0, keepdim=True).values.sum() + a.max(),
        (A,),
        (3,),
    ),
    "indexing": (lambda a: a[1:, ::2] * a[0, 1] + a[[0, 2], 1:3].sum(), (A,), (2, 2)),
    "mask_index": (lambda a: a[a > 0], (np.abs(A) * np.sign(A),), (int((A > 0).sum()),)),
    "shapes": (
        lambda a: (
            a.reshape(4, 3)
            .T.transpose(0, 1)
            .permute(1, 0)
            .unsqueeze(0)
            .squeeze(0)
            .flatten()
            .view(3, 4)
        ),
        (A,),
        (3, 4),
    ),
    "cat_stack": (
        lambda a, c: sd.cat([a, c], dim=1) * 2 + sd.stack([c, c], 2).sum(2).sum(1, keepdim=True),
        (A, C),
        (3, 5),
    ),
    "where_maximum": (
        lambda a, b: sd.where(a > 0, a, b * 2) + sd.maximum(a, b) - sd.minimum(a, 0.1),
        (A, B),
        (3, 4),
    ),
    "softmax": (lambda a: a.softmax(1) + a.log_softmax(0), (A,), (3, 4)),
    "var_std": (lambda p: p.var(1) + p.std(), (POS,), (3,)),
    "norm": (lambda a: a.norm() + a.norm(dim=1).sum(), (A,), ()),
    "square_clone": (lambda a: a.square() + a.clone() * a.expand(2, 3, 4).sum(0), (A,), (3, 4)),
    "numpy_on_tensors": (lambda a, b: np.sin(a) * np.tanh(b) + np.maximum(a, 0.2), (A, B), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_central_differences(name):
    f, arrays, shape = CASES[name]
    check(weighted(f, shape) if shape else f, *arrays)


def test_hand_derived_gradients_of_the_regression_loss():
    x = RNG.uniform(size=(10, 1))
    y = 1 + 2 * x + 0.1 * RNG.normal(size=(10, 1))
    a = sd.tensor([0.5], dtype=sd.float64, requires_grad=True)
    b = sd.tensor([-0.3], dtype=sd.float64, requires_grad=True)
    error = sd.from_numpy(y) - (a + b * sd.from_numpy(x))
    loss = (error**2).mean()
    loss.backward()
    e = y - (0.5 - 0.3 * x)
    np.testing.assert_allclose(a.grad.numpy(), [-2 * e.mean()])
    np.testing.assert_allclose(b.grad.numpy(), [-2 * (x * e).mean()])


def test_float32_gradients_stay_float32():
    w = sd.randn(3, requires_grad=True)
    (w * sd.from_numpy(np.ones(3))).sum().backward()  # float64 data, float32 leaf
    assert w.grad.dtype is sd.float32 and w.grad.tolist() == [1.0, 1.0, 1.0]


def test_gradients_accumulate_over_backward_calls():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (w * w).sum().backward()
    assert w.grad.tolist() == [6.0, 12.0]
    w.grad.zero_()
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_retain_graph_allows_a_second_backward():
    w = sd.tensor([2.0], requires_grad=True)
    loss = (w**3).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert w.grad.tolist() == [24.0]


def test_a_leaf_used_twice_gets_both_contributions():
    w = sd.tensor([3.0], requires_grad=True)
    (w * w + w).backward()
    assert w.grad.tolist() == [7.0]


def test_backward_of_a_leaf():
    w = sd.tensor(2.0, requires_grad=True)
    w.backward()
    assert w.grad.item() == 1.0


def test_backward_with_an_explicit_gradient():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).backward(sd.tensor([1.0, 10.0]))
    assert w.grad.tolist() == [3.0, 30.0]


def test_non_leaf_grad_is_none_unless_retained():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    kept = w * 3
    kept.retain_grad()
    (h.sum() + (kept * kept).sum()).backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert h.grad is None
    assert caught and "not a leaf" in str(caught[0].message)
    assert kept.grad.tolist() == [6.0, 12.0] and kept.retains_grad
    assert w.grad.tolist() == [2.0 + 18.0, 2.0 + 36.0]


def test_update_outside_no_grad_makes_a_non_leaf():
    a = sd.tensor([1.0], requires_grad=True)
    (a * 2).sum().backward()
    a = a - 0.1 * a.grad
    assert not a.is_leaf and a.grad_fn.name() == "SubBackward0"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert a.grad is None


def test_no_grad_update_keeps_the_leaf():
    w = sd.tensor([1.0], requires_grad=True)
    (w * 2).sum().backward()
    with sd.no_grad():
        w -= 0.1 * w.grad
    assert w.is_leaf and w.requires_grad and abs(w.item() - 0.8) < 1e-7


def test_recorded_inplace_change_of_a_non_leaf():
    w = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
    x = sd.tensor([3.0, 4.0], dtype=sd.float64)

    def f(w):
        loss = ((w * x) ** 2).mean()
        loss += (w.exp() * 2).mean()
        h = w * 1.0
        h *= w
        h[0] = w[1] * 5
        return loss + h.sum()

    check(f, w.detach().numpy())
    loss = ((w * x) ** 2).mean()
    loss += w.sum()
    assert loss.grad_fn.name() == "AddBackward0"


def test_setitem_records_a_value_that_requires_grad():
    v = sd.tensor([2.0], requires_grad=True)
    x = sd.zeros(3)
    x[1:2] = v * 3
    assert x.requires_grad and x.grad_fn.name() == "CopySlices"
    (x * sd.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert v.grad.tolist() == [30.0]


def test_overwriting_a_non_leaf_keeps_it_in_the_graph_with_a_zero_gradient():
    """As in PyTorch: ``h.copy_(c)``, ``h.fill_(v)``, ``h.zero_()`` of a computed ``h``
    leave it requiring grad, its old value's gradient zero, so ``w.grad`` is zeros (it
    was None: an optimizer with weight decay then skipped ``w``)."""
    for overwrite in (lambda h: h.copy_(sd.ones(1)), lambda h: h.fill_(3.0), lambda h: h.zero_()):
        w = sd.tensor([1.0], requires_grad=True)
        h = w * 2
        overwrite(h)
        assert h.requires_grad and not h.is_leaf
        (h * 4.0).sum().backward()
        assert w.grad.tolist() == [0.0]
    k = sd.tensor([1.0], requires_grad=True) * 2
    k.fill_(3.0)
    assert k.tolist() == [3.0] and k.grad_fn.name() == "FillBackward0"
    w = sd.tensor([1.0], requires_grad=True)
    k = w * 2
    k.copy_(w * 5)
    k.sum().backward()
    assert k.grad_fn.name() == "CopyBackwards" and w.grad.tolist() == [5.0]
    with sd.no_grad():
        k = w * 2
        k.zero_()
    assert not k.requires_grad and k.tolist() == [0.0]


def test_gradient_through_cast_and_detach():
    w = sd.tensor([1.5], requires_grad=True)
    (w.double() * 2 + w.detach() * 100).sum().backward()
    assert w.grad.dtype is sd.float32 and w.grad.tolist() == [2.0]


def test_source_of_the_generated_adjoint():
    w = sd.tensor([1.0, 2.0], requires_grad=True)
    loss = (w.tanh() * 3).sum()
    with pytest.raises(RuntimeError):
        sd.source(loss)
    loss.backward()
    text = sd.source(loss)
    assert isinstance(text, str) and "def " in text and "tanh" in text
    compile(text, "<adjoint>", "exec")


def test_autograd_tutorial():
    """The code of the autograd tutorial in shared/seeds, with srcdiff for torch."""
    x, y, train = linear_regression_data()
    device = "cuda" if sd.cuda.is_available() else "cpu"
    x_train_tensor = sd.from_numpy(x[train]).float().to(device)
    y_train_tensor = sd.from_numpy(y[train]).float().to(device)

    sd.manual_seed(42)
    b = sd.randn(1, requires_grad=True, dtype=sd.float, device=device)
    w = sd.randn(1, requires_grad=True, dtype=sd.float, device=device)
    lr = 0.1
    for _epoch in range(200):
        yhat = b + w * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        with sd.no_grad():
            b -= lr * b.grad
            w -= lr * w.grad
        b.grad.zero_(), w.grad.zero_()
    assert abs(b.item() - 1.0) < 0.15 and abs(w.item() - 2.0) < 0.25
    assert b.is_leaf and w.is_leaf and b.dtype is sd.float32
    on = ", device='cuda:0'" if device == "cuda" else ""
    assert repr(b).startswith("tensor([") and repr(b).endswith(f"]{on}, requires_grad=True)")

    # the nonsense graph: control flow decides which operations are recorded
    yhat = b + w * x_train_tensor
    error = y_train_tensor - yhat
    loss = (error**2).mean()
    if loss > 0:
        yhat2 = w * x_train_tensor
        error2 = y_train_tensor - yhat2
    loss += error2.mean()
    loss.backward()
    xs, ys = x_train_tensor.cpu().numpy(), y_train_tensor.cpu().numpy()
    e1 = ys - (b.item() + w.item() * xs)
    np.testing.assert_allclose(b.grad.cpu().numpy(), [-2 * e1.mean()], rtol=1e-4)
    np.testing.assert_allclose(w.grad.cpu().numpy(), [-2 * (xs * e1).mean() - xs.mean()], rtol=1e-4)
    assert "digraph" in sd.make_dot(loss).source


def test_full_training_loop_converges_to_the_tutorial_values():
    x, y, train = linear_regression_data()
    a, b = fit_by_hand(sd.from_numpy(x[train]).float(), sd.from_numpy(y[train]).float())
    assert repr(a) == "tensor([1.0235], requires_grad=True)"
    assert repr(b) == "tensor([1.9690], requires_grad=True)"


def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    x = sd.tensor([1.0, 2.0], requires_grad=True)
    w = sd.tensor([3.0, -1.0], requires_grad=True)
    h = x * w
    loss = (h**2).sum()
    gx, gh = sd.autograd.grad(loss, [x, h], retain_graph=True)
    assert gx.tolist() == [18.0, 4.0] and gh.tolist() == [6.0, -4.0]  # 2 x w^2, 2 h
    assert x.grad is None and not h.retains_grad
    (gw,) = sd.autograd.grad(h, w, grad_outputs=sd.ones(2), retain_graph=True)
    assert gw.tolist() == [1.0, 2.0]
    unused = sd.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        sd.autograd.grad(loss, [unused], retain_graph=True)
    assert sd.autograd.grad(loss, [unused], retain_graph=True, allow_unused=True) == (None,)
    (gx,) = sd.autograd.grad(loss, x, create_graph=True)  # see test_create_graph.py
    assert gx.tolist() == [18.0, 4.0] and gx.grad_fn is not None


def test_a_view_taken_before_its_tensor_changed_in_place_takes_the_change():
    """``v = h.view(2, 2)``, then a recorded ``h.zero_()`` (``fill_``, ``mul_``): ``v``
    reads the new values, and its gradient went through ``h``'s old graph (a gradient
    where PyTorch, which rebases the view, gives 0); it takes the new graph now (the
    change's value is ``v``'s, so ``w``'s gradient is ``v.sum(0)`` for its first two), as a
    view read before the change keeps the old one."""
    scale = np.array([2.0, 3.0, -1.0, 4.0])
    for change, after in (
        (lambda h: h.zero_(), np.zeros(4)),
        (lambda h: h.fill_(1.0), np.ones(4)),
        (lambda h: h.mul_(0.0), np.zeros(4)),
    ):
        w = sd.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
        h = w * sd.tensor(scale)
        v = h.view(2, 2)
        change(h)
        (v.sum(0) * w[:2]).sum().backward()
        assert w.grad.tolist() == [*after.reshape(2, 2).sum(0), 0.0, 0.0]
    w = sd.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
    h = w * 2.0
    read_before = h[:2].sum()  # a view read before the change: its old values, right
    h.mul_(3.0)
    (h.view(2, 2).sum(0) * w[:2] + read_before * 0.0).sum().backward()
    assert w.grad.tolist() == [30.0, -21.0, 6.0, -12.0]  # h = 6 w


def test_data_assigned_to_a_computed_tensor_is_what_later_operations_read():
    """``h.data = h.data * 3`` keeps ``h``'s graph, and the product after reads the new
    values, as in PyTorch (the backward read the values of the graph's record: w.grad
    a third of PyTorch's, silently)."""
    w = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    x = sd.tensor([0.5, -1.0, 2.0], dtype=sd.float64)
    h = w * x
    h.data = h.data * 3.0
    loss = (h * h).sum()
    loss.backward()
    assert loss.item() == pytest.approx(362.25)
    np.testing.assert_allclose(w.grad.numpy(), 2 * 3.0 * (w * x).detach().numpy() * x.numpy())


def test_the_adjoint_of_a_reduction_over_a_tuple_of_dims_compiles_without_warnings():
    """A rule given a literal ``dim=(0, 2)`` decides ``dim is None`` when it is inlined:
    written out, ``(0, 2) is None`` is a SyntaxWarning (an error under ``-W error``)."""
    x = sd.tensor(np.random.default_rng(0).normal(size=(2, 3, 4)), requires_grad=True)
    loss = (x.mean(dim=(0, 2)) ** 2).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss.backward()
    means = x.detach().numpy().mean(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(2 * means / 8, (2, 3, 4)))
    assert "is None" not in sd.source(loss)


def test_grad_with_respect_to_a_non_leaf_frees_only_the_graph_above_it():
    # as PyTorch: a later backward through what lies behind h runs (it found it freed)
    x = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    h = x.exp()
    loss = (h**2).sum()
    (gh,) = sd.autograd.grad(loss, h)
    np.testing.assert_allclose(gh.numpy(), 2 * np.exp([1.0, 2.0, 3.0]))
    (h * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()  # the part above h was freed


def test_autograd_backward_takes_pytorchs_arguments():
    x = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    y = sd.tensor([0.5, -1.0, 2.0], dtype=sd.float64, requires_grad=True)
    h = x * y
    sd.autograd.backward([(h**2).sum(), h.sum()], [sd.tensor(2.0, dtype=sd.float64), None])
    xs, ys = x.detach().numpy(), y.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 4 * xs * ys * ys + ys)
    x.grad = y.grad = None
    (x * y).sum().backward(inputs=[x])  # only into x
    assert x.grad.tolist() == [0.5, -1.0, 2.0] and y.grad is None
    h = x * 2.0
    sd.autograd.backward(h.sum(), inputs=[h])  # a non-leaf input gets its .grad
    assert h.grad.tolist() == [1.0, 1.0, 1.0]


def test_grad_refuses_an_input_that_does_not_require_grad_and_frees_when_told():
    x = sd.tensor([1.0, 2.0], dtype=sd.float64, requires_grad=True)
    c = sd.tensor([3.0, 4.0], dtype=sd.float64)
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require"):
        sd.autograd.grad((x * c).sum(), [x, c])
    y = (x**2).sum()
    sd.autograd.grad(y, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        sd.autograd.grad(y, x)  # freed, as PyTorch frees it when told


@pytest.mark.parametrize("reduce", [np.sum, np.mean, np.cumsum])
def test_a_dtype_passed_to_a_recorded_numpy_function(reduce):
    """A dtype given to a NumPy function of a Tensor is a constant of the recorded
    operations that their classification reads: its gradient is the one of the same
    code without it, whatever dtypes the plans met before."""
    a = RNG.normal(size=(2, 3))

    def f(x, dtype):
        return (reduce(x * x, dtype=dtype) * 1.5).sum()

    for dtype in (np.int64, np.float64, float, np.float64):
        x = sd.tensor(a, requires_grad=True)
        f(x, dtype).backward()
        if dtype is np.int64:
            continue  # (an integer sum: no gradient)
        for eps in (1e-5, 1e-6):
            (expected,) = numeric_grads(lambda t, d=dtype: f(t, d), [a], eps)
            np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-6)
