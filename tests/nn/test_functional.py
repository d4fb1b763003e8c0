"""nn.functional and the loss modules: values against NumPy formulas, gradients (in both
arguments) against central finite differences in float64, stability at logits of +-1000."""

import warnings

import numpy as np
import pytest
from steps import assert_refused_eagerly_and_compiled

import srcdiff as sd
from srcdiff import nn
from srcdiff.creation import tensor
from srcdiff.grad_mode import no_grad
from srcdiff.nn import functional as F
from srcdiff.testing import numeric_grad

RNG = np.random.default_rng(11)
REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}


def log_softmax_np(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def value(f, *arrays):
    """f on float64 tensors made from ``arrays``, as a float (for finite differences)."""
    with no_grad():
        return f(*[tensor(a) for a in arrays]).item()


def check_grads(f, *arrays, wrt=None, atol=1e-6):
    """Gradients of the scalar f(*tensors) from backward() agree with central differences
    for each argument position in ``wrt`` (default: all)."""
    wrt = tuple(range(len(arrays))) if wrt is None else wrt
    tensors = [tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    f(*tensors).backward()
    expected = numeric_grad(lambda *a: value(f, *a), [np.array(a) for a in arrays], wrt=wrt)
    for i, e in zip(wrt, expected, strict=True):
        got = tensors[i].grad.numpy()
        assert got.dtype == np.float64
        assert np.allclose(got, e, atol=atol), (i, got, e)


# ---- activations ----------------------------------------------------------------------


def test_activations_match_numpy():
    x = RNG.normal(size=(3, 5)) * 3
    t = tensor(x)
    assert np.allclose(F.relu(t).numpy(), np.maximum(x, 0))
    assert np.allclose(F.tanh(t).numpy(), np.tanh(x))
    assert np.allclose(F.sigmoid(t).numpy(), 1 / (1 + np.exp(-x)))
    assert np.allclose(F.softplus(t).numpy(), np.log1p(np.exp(x)))
    assert np.allclose(F.softmax(t, 1).numpy(), np.exp(log_softmax_np(x, 1)))
    assert np.allclose(F.log_softmax(t, 0).numpy(), log_softmax_np(x, 0))


@pytest.mark.parametrize(
    "f", [F.tanh, F.sigmoid, F.softplus, lambda t: F.softmax(t, 1), lambda t: F.log_softmax(t, 1)]
)
def test_activation_gradients(f):
    weights = RNG.normal(size=(3, 4))
    check_grads(lambda t: (f(t) * tensor(weights)).sum(), RNG.normal(size=(3, 4)))


def test_softmax_and_log_softmax_are_stable_at_1000():
    x = tensor([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=np.float32)
    assert np.allclose(F.log_softmax(x, 1).numpy(), [[0.0, -2000.0, -1000.0], [-np.log(3)] * 3])
    assert np.allclose(F.softmax(x, 1).numpy(), [[1.0, 0.0, 0.0], [1 / 3] * 3])


def test_linear():
    x, w, b = RNG.normal(size=(4, 3)), RNG.normal(size=(2, 3)), RNG.normal(size=2)
    assert np.allclose(F.linear(tensor(x), tensor(w), tensor(b)).numpy(), x @ w.T + b)
    assert np.allclose(F.linear(tensor(x), tensor(w)).numpy(), x @ w.T)
    check_grads(lambda x, w, b: (F.linear(x, w, b) ** 2).sum(), x, w, b)


# ---- losses: values -------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    a, b = RNG.normal(size=(5, 2)), RNG.normal(size=(5, 2))
    expected = REDUCE[reduction]((a - b) ** 2)
    assert np.allclose(F.mse_loss(tensor(a), tensor(b), reduction=reduction).numpy(), expected)
    assert np.allclose(nn.MSELoss(reduction=reduction)(tensor(a), tensor(b)).numpy(), expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_class_indices(reduction):
    logits, labels = RNG.normal(size=(6, 4)), RNG.integers(0, 4, size=6)
    expected = REDUCE[reduction](-log_softmax_np(logits, 1)[np.arange(6), labels])
    got = F.cross_entropy(tensor(logits), tensor(labels), reduction=reduction)
    assert np.allclose(got.numpy(), expected)
    module = nn.CrossEntropyLoss(reduction=reduction)(tensor(logits), tensor(labels))
    assert np.allclose(module.numpy(), expected)


def test_cross_entropy_with_class_probabilities():
    logits = RNG.normal(size=(5, 3))
    probs = np.exp(log_softmax_np(RNG.normal(size=(5, 3)), 1))
    expected = np.mean(-(probs * log_softmax_np(logits, 1)).sum(1))
    assert np.allclose(F.cross_entropy(tensor(logits), tensor(probs)).numpy(), expected)


def test_cross_entropy_of_one_sample_and_of_extra_dimensions():
    logits = RNG.normal(size=4)
    assert np.allclose(
        F.cross_entropy(tensor(logits), tensor(2)).numpy(), -log_softmax_np(logits, 0)[2]
    )
    logits, labels = RNG.normal(size=(2, 3, 5)), RNG.integers(0, 3, size=(2, 5))
    picked = np.take_along_axis(log_softmax_np(logits, 1), labels[:, None], 1)[:, 0]
    assert np.allclose(F.cross_entropy(tensor(logits), tensor(labels)).numpy(), -picked.mean())


def test_nll_loss_picks_the_target_log_probabilities():
    log_p, labels = log_softmax_np(RNG.normal(size=(4, 3)), 1), np.array([2, 0, 1, 1])
    expected = -log_p[np.arange(4), labels]
    got = F.nll_loss(tensor(log_p), tensor(labels), reduction="none")
    assert np.allclose(got.numpy(), expected)
    check_grads(lambda x: F.nll_loss(x, tensor(labels)), log_p)


def test_cross_entropy_ignore_index_counts_for_nothing():
    logits, labels = RNG.normal(size=(4, 3)), np.array([0, -100, 2, 1])
    kept = labels != -100
    expected = -log_softmax_np(logits, 1)[np.arange(4)[kept], labels[kept]].mean()
    assert np.allclose(F.cross_entropy(tensor(logits), tensor(labels)).numpy(), expected)


def test_cross_entropy_rejects_bad_targets():
    logits = tensor(RNG.normal(size=(2, 3)))
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.cross_entropy(logits, tensor([0, 3]))
    with pytest.raises(ValueError, match=r"Expected target of shape \(2,\)"):
        F.cross_entropy(logits, tensor([0, 1, 2]))


def test_cross_entropy_refuses_an_ignore_index_for_class_probabilities():
    """A target of class probabilities has no class index to ignore: an ``ignore_index``
    that could name a class (0 or more) is PyTorch's error, not left out; a negative one
    (the default -100) changes nothing."""
    logits, probs = RNG.normal(size=(4, 3)), RNG.uniform(size=(4, 3))
    expected = -(probs * log_softmax_np(logits, 1)).sum(1).mean()
    for ignore_index in (-100, -5):
        got = F.cross_entropy(tensor(logits), tensor(probs), ignore_index=ignore_index)
        assert np.allclose(got.numpy(), expected, rtol=1e-12, atol=0)
    for ignore_index in (0, 2, 7):
        with pytest.raises(RuntimeError, match="ignore_index is not supported for floating"):
            F.cross_entropy(tensor(logits), tensor(probs), ignore_index=ignore_index)
        with pytest.raises(RuntimeError, match="ignore_index is not supported for floating"):
            nn.CrossEntropyLoss(ignore_index=ignore_index)(tensor(logits[0]), tensor(probs[0]))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_cross_entropy_of_probabilities_with_a_weight_of_another_dtype(compiled):
    """Class probabilities weighted by a float64 ``weight`` of float32 logits: the loss is
    computed in the promoted dtype, as PyTorch's (class indices need the input's dtype)."""
    logits, probs = RNG.normal(size=(4, 3)), RNG.uniform(size=(4, 3))
    weight = np.array([0.3, 1.0, 2.0])
    x = tensor(logits, dtype=sd.float32, requires_grad=True)

    def step(x, t):
        loss = F.cross_entropy(x, t, weight=tensor(weight, dtype=sd.float64))
        loss.backward()
        return loss.detach()

    loss = (sd.differentiate(step) if compiled else step)(x, tensor(probs, dtype=sd.float32))
    assert loss.dtype == sd.float64 and x.grad.dtype == sd.float32
    wp = probs.astype(np.float32).astype(np.float64) * weight
    z = logits.astype(np.float32).astype(np.float64)
    expected = -(wp * log_softmax_np(z, 1)).sum(1).mean()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    # d/dz of -sum(wp * log_softmax(z)) / N: (softmax(z) * sum(wp) - wp) / N
    soft = np.exp(log_softmax_np(z, 1))
    grad = (soft * wp.sum(1, keepdims=True) - wp) / 4
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    p, y = RNG.uniform(0.05, 0.95, size=(4, 2)), RNG.uniform(size=(4, 2))
    expected = REDUCE[reduction](-(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert np.allclose(
        F.binary_cross_entropy(tensor(p), tensor(y), reduction=reduction).numpy(), expected
    )
    assert np.allclose(nn.BCELoss(reduction=reduction)(tensor(p), tensor(y)).numpy(), expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    x, y = RNG.normal(size=(4, 2)) * 3, RNG.uniform(size=(4, 2))
    p = 1 / (1 + np.exp(-x))
    expected = REDUCE[reduction](-(y * np.log(p) + (1 - y) * np.log(1 - p)))
    got = F.binary_cross_entropy_with_logits(tensor(x), tensor(y), reduction=reduction)
    assert np.allclose(got.numpy(), expected)
    module = nn.BCEWithLogitsLoss(reduction=reduction)(tensor(x), tensor(y))
    assert np.allclose(module.numpy(), expected)


# ---- losses: gradients in both arguments ------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_loss_gradients(reduction):
    check_grads(
        lambda a, b: F.mse_loss(a, b, reduction=reduction),
        RNG.normal(size=(3, 2)),
        RNG.normal(size=(3, 2)),
    )


def test_cross_entropy_gradients():
    labels = tensor(RNG.integers(0, 4, size=5))
    check_grads(lambda x: F.cross_entropy(x, labels), RNG.normal(size=(5, 4)))
    check_grads(lambda x: F.cross_entropy(x, labels, reduction="sum"), RNG.normal(size=(5, 4)))
    probs = np.exp(log_softmax_np(RNG.normal(size=(5, 4)), 1))
    check_grads(F.cross_entropy, RNG.normal(size=(5, 4)), probs)


def test_binary_cross_entropy_gradients():
    check_grads(
        F.binary_cross_entropy, RNG.uniform(0.1, 0.9, size=(3, 2)), RNG.uniform(size=(3, 2))
    )


def test_binary_cross_entropy_with_logits_gradients():
    check_grads(
        F.binary_cross_entropy_with_logits, RNG.normal(size=(3, 2)) * 3, RNG.uniform(size=(3, 2))
    )


def test_binary_cross_entropy_with_logits_gradient_at_zero_is_sigmoid_minus_target():
    x = tensor([0.0, 0.0], requires_grad=True)
    F.binary_cross_entropy_with_logits(x, tensor([1.0, 0.0]), reduction="sum").backward()
    assert np.allclose(x.grad.numpy(), [-0.5, 0.5])


# ---- losses: stability ----------------------------------------------------------------


def test_cross_entropy_is_stable_at_1000():
    logits = tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 3.0]], requires_grad=True)
    loss = F.cross_entropy(logits, tensor([0, 2]), reduction="none")
    assert np.allclose(loss.detach().numpy(), [0.0, 997.0])
    loss.sum().backward()
    assert np.allclose(logits.grad.numpy(), [[0.0, 0.0, 0.0], [0.0, 1.0, -1.0]])


def test_binary_cross_entropy_with_logits_is_stable_at_1000():
    x = tensor([1000.0, -1000.0, 1000.0, -1000.0], requires_grad=True)
    y = tensor([1.0, 0.0, 0.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert np.allclose(loss.detach().numpy(), [0.0, 0.0, 1000.0, 1000.0])
    loss.sum().backward()
    assert np.allclose(x.grad.numpy(), [0.0, 0.0, 1.0, -1.0])
    assert np.allclose(y.grad.numpy(), [-1000.0, 1000.0, -1000.0, 1000.0])


def test_binary_cross_entropy_clamps_each_log_at_minus_100():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero or invalid-value warnings
        p = tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
        loss = F.binary_cross_entropy(p, tensor([1.0, 0.0, 0.0, 1.0]), reduction="none")
        loss.sum().backward()
    assert np.allclose(loss.detach().numpy(), [100.0, 100.0, 0.0, 0.0])
    assert np.all(np.isfinite(p.grad.numpy()))


def test_binary_cross_entropy_checks_its_input():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(tensor([1.5]), tensor([1.0]))
    with pytest.raises(RuntimeError, match="between 0 and 1"):  # NaN compares false
        F.binary_cross_entropy(tensor([float("nan")]), tensor([1.0]))
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(tensor([0.5, 0.5]), tensor([[1.0], [0.0]]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(tensor([0.5, 0.5]), tensor([[1.0], [0.0]]))


def test_mse_loss_warns_when_shapes_broadcast():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(tensor([[1.0], [2.0]]), tensor([1.0, 2.0]))


@pytest.mark.parametrize(
    "make", [nn.MSELoss, nn.CrossEntropyLoss, nn.BCELoss, nn.BCEWithLogitsLoss]
)
def test_invalid_reduction(make):
    with pytest.raises(ValueError, match="average is not a valid value for reduction"):
        make(reduction="average")
    with pytest.raises(ValueError, match="average is not a valid value for reduction"):
        F.mse_loss(tensor([1.0]), tensor([1.0]), reduction="average")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_with_class_weights_and_label_smoothing(reduction, smoothing):
    """PyTorch's formula: (1 - e) nll + e/C smooth, each weighted per class, the mean
    divided by the weights of the targets not ignored; positional order as PyTorch's
    (weight third)."""
    logits, labels = RNG.normal(size=(5, 4)), np.array([0, 3, 1, -100, 3])
    weight = RNG.uniform(0.5, 2.0, 4)
    log_p, kept = log_softmax_np(logits, 1), labels != -100
    w_picked = np.where(kept, weight[np.where(kept, labels, 0)], 0.0)
    nll = -np.where(kept, log_p[np.arange(5), np.where(kept, labels, 0)], 0.0) * w_picked
    smooth = np.where(kept, -(log_p * weight).sum(1), 0.0)
    if reduction == "mean":
        nll, smooth = nll.sum() / w_picked.sum(), smooth.sum() / w_picked.sum()
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    expected = (1 - smoothing) * nll + smoothing / 4 * smooth
    args = (tensor(logits), tensor(labels), tensor(weight))
    got = F.cross_entropy(*args, reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    module = nn.CrossEntropyLoss(tensor(weight), reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(module(*args[:2]).numpy(), expected, rtol=1e-12)
    check_grads(
        lambda x: F.cross_entropy(x, args[1], args[2], label_smoothing=smoothing).sum(), logits
    )


def test_cross_entropy_with_weighted_smoothed_class_probabilities():
    logits, probs = RNG.normal(size=(5, 3)), np.exp(log_softmax_np(RNG.normal(size=(5, 3)), 1))
    weight = np.array([0.5, 1.0, 2.0])
    target = probs * 0.9 + 0.1 / 3
    expected = np.mean(-(weight * target * log_softmax_np(logits, 1)).sum(1))
    got = F.cross_entropy(tensor(logits), tensor(probs), tensor(weight), label_smoothing=0.1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_nll_loss_and_binary_cross_entropies(reduction):
    """``weight`` of nll_loss (per class, the mean divided by the targets' weights), of
    BCE (per entry), and ``pos_weight`` of BCE with logits (on the positive term)."""
    log_p, labels = log_softmax_np(RNG.normal(size=(4, 3)), 1), np.array([2, 0, 1, 1])
    weight = np.array([0.5, 1.0, 2.0])
    picked = -log_p[np.arange(4), labels] * weight[labels]
    expected = picked.sum() / weight[labels].sum() if reduction == "mean" else (
        REDUCE[reduction](picked))  # fmt: skip
    got = F.nll_loss(tensor(log_p), tensor(labels), tensor(weight), reduction=reduction)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(
        nn.NLLLoss(tensor(weight), reduction=reduction)(tensor(log_p), tensor(labels)).numpy(),
        expected,
        rtol=1e-12,
    )

    x, y = RNG.normal(size=(4, 3)), (RNG.uniform(size=(4, 3)) > 0.5).astype(float)
    p, pos = 1 / (1 + np.exp(-x)), np.array([3.0, 0.5, 1.0])
    bce = -weight * (y * np.log(p) + (1 - y) * np.log(1 - p))
    got = F.binary_cross_entropy(tensor(p), tensor(y), tensor(weight), reduction=reduction)
    np.testing.assert_allclose(got.numpy(), REDUCE[reduction](bce), rtol=1e-10)
    logits = -weight * (pos * y * np.log(p) + (1 - y) * np.log(1 - p))
    module = nn.BCEWithLogitsLoss(tensor(weight), reduction=reduction, pos_weight=tensor(pos))
    np.testing.assert_allclose(
        module(tensor(x), tensor(y)).numpy(), REDUCE[reduction](logits), rtol=1e-10
    )
    check_grads(
        lambda z: F.binary_cross_entropy_with_logits(z, tensor(y), pos_weight=tensor(pos)), x
    )


def test_the_deprecated_size_average_and_reduce_pick_the_reduction():
    a, b = RNG.normal(size=(5, 2)), RNG.normal(size=(5, 2))
    with pytest.warns(UserWarning, match="size_average and reduce"):
        loss = nn.BCEWithLogitsLoss(size_average=False)(tensor(a), tensor((b > 0) * 1.0))
    assert loss.shape == ()
    with pytest.warns(UserWarning):
        assert nn.CrossEntropyLoss(reduce=False)(tensor(a), tensor([0, 1, 1, 0, 1])).shape == (5,)


def test_a_reduction_where_pytorchs_order_has_the_weight_is_a_clear_error():
    with pytest.raises(TypeError, match="pass reduction='sum' by keyword"):
        F.binary_cross_entropy(tensor([0.5]), tensor([1.0]), "sum")


@pytest.mark.parametrize("ignore_index", [1, -100])
def test_ignore_index_of_a_class_and_minus_infinite_logits(ignore_index):
    """A target equal to ``ignore_index`` counts for nothing whatever the index (one of
    the classes too: it counted as that class), and a logit of -inf elsewhere than the
    target is no NaN (0 * -inf of a one-hot product)."""
    logits = np.array([[0.0, -np.inf, 1.0], [2.0, 0.0, 1.0], [0.5, 0.5, -1.0]])
    labels = np.array([0, 1, 2])
    log_p, kept = log_softmax_np(logits, 1), labels != ignore_index
    each = np.where(kept, -log_p[np.arange(3), labels], 0.0)
    got = F.cross_entropy(tensor(logits), tensor(labels), ignore_index=ignore_index,
                          reduction="none")  # fmt: skip
    np.testing.assert_array_equal(np.signbit(got.numpy()), False)
    np.testing.assert_allclose(got.numpy(), each, rtol=1e-12)
    mean = F.nll_loss(tensor(log_p), tensor(labels), ignore_index=ignore_index)
    np.testing.assert_allclose(mean.numpy(), each.sum() / kept.sum(), rtol=1e-12)


LOGITS = [[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]]


@pytest.mark.parametrize("shape", [(1,), (4,), (1, 3)])
@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_a_class_weight_of_another_shape_is_refused(loss, shape):
    """A weight with one entry, or one per class of another count, was broadcast and gave
    a loss; PyTorch refuses it, as srcdiff now does."""
    with pytest.raises(RuntimeError, match="defined either for all 3 classes"):
        loss(tensor(LOGITS), tensor([0, 2]), weight=tensor(np.ones(shape)))


@pytest.mark.parametrize("keyword", ["weight", "pos_weight"])
def test_an_elementwise_weight_larger_than_the_input_is_refused(keyword):
    p, y = tensor([[0.2, 0.7]]), tensor([[0.0, 1.0]])
    with pytest.raises(RuntimeError, match=f"{keyword} of shape \\[2, 1, 2\\] does not broadcast"):
        F.binary_cross_entropy_with_logits(p, y, **{keyword: tensor(np.ones((2, 1, 2)))})
    if keyword == "weight":
        with pytest.raises(RuntimeError, match="does not broadcast"):
            F.binary_cross_entropy(p, y, weight=tensor(np.ones((2, 1, 2))))
    fits = F.binary_cross_entropy_with_logits(p, y, **{keyword: tensor([1.0, 3.0])})
    assert np.isfinite(fits.item())


@pytest.mark.parametrize("f", [F.softmax, F.log_softmax])
def test_softmax_of_a_dim_out_of_range_says_so(f):
    with pytest.raises(IndexError, match=r"expected to be in range of \[-2, 1\], but got 2"):
        f(tensor(LOGITS), 2)


def test_huber_and_smooth_l1_refuse_what_pytorch_refuses():
    """A delta of 0 or less, or a negative beta, gave a negative "loss"."""
    p, y = tensor([0.5, -1.0]), tensor([0.0, 0.0])
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        F.huber_loss(p, y, delta=0.0)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        nn.SmoothL1Loss(beta=-1.0)(p, y)


def test_a_product_of_two_dtypes_is_pytorchs_error():
    """PyTorch promotes neither operand of a matrix product: a float64 input to a float32
    Linear is an error, eagerly and in a compiled step (it ran, in float64)."""
    layer = sd.nn.Linear(3, 1)
    x = sd.ones(2, 3, dtype=sd.float64)
    message = "expected m1 and m2 to have the same dtype, but got: double != float"
    for product in (lambda: x @ layer.weight.T, lambda: x.mm(layer.weight.T), lambda: layer(x)):
        with pytest.raises(RuntimeError, match=message):
            product()

    def step(x):
        loss = layer(x).sum()
        loss.backward()
        return loss.item()

    with pytest.raises(RuntimeError, match=message):
        sd.differentiate(step)(x)


def test_a_compiled_product_operator_of_two_dtypes_is_pytorchs_error():
    """``x @ w`` in a compiled step ran with NumPy's promotion (float64), where PyTorch
    refuses it; ``bmm`` eagerly too."""
    w = sd.ones(2, 2, requires_grad=True)

    def step(w, x):
        loss = (x @ w).sum()
        loss.backward()
        return loss.item()

    with pytest.raises(RuntimeError, match="same dtype, but got: double != float"):
        sd.differentiate(step)(w, sd.ones(2, 2, dtype=sd.float64))
    assert sd.differentiate(step)(w, sd.ones(2, 2)) == 8.0
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        sd.bmm(sd.ones(1, 2, 2, dtype=sd.float64), sd.ones(1, 2, 2))


# ---- Threshold, SELU, CELU, the shrinks, Hardswish, Hardsigmoid, Mish, PReLU, GLU -------


@pytest.mark.parametrize(
    "make, error, said",
    [
        (lambda x: F.hardshrink(x.long()), NotImplementedError, '"hardshrink_cpu" not'),
        (lambda x: F.softshrink(x.long()), NotImplementedError, '"softshrink_check" not'),
        (lambda x: F.hardsigmoid(x.long()), NotImplementedError, '"hardsigmoid_cpu" not'),
        (lambda x: F.hardswish(x.long()), NotImplementedError, '"hardswish_cpu" not'),
        (
            lambda x: F.mish(x.long()),
            NotImplementedError,
            "\"mish_cpu\" not implemented for 'Long'",
        ),
        (lambda x: F.selu(x.long()), NotImplementedError, '"elu_cpu" not'),
        (lambda x: F.celu(x.long()), NotImplementedError, '"elu_cpu" not'),
        (lambda x: F.softshrink(x, -0.5), RuntimeError, "lambda must be greater or equal to 0"),
        (lambda x: F.glu(x), RuntimeError, "dimension 1 is size 3"),
        (lambda x: F.glu(x[0, 0]), RuntimeError, "glu does not support scalars"),
        (
            lambda x: F.prelu(x, sd.ones(2)),
            RuntimeError,
            "parameter numbers = 2 and channel size = 3",
        ),
        (lambda x: F.prelu(x[0], sd.ones(3)), RuntimeError, "numbers = 3 and channel size = 1"),
    ],
)
def test_the_new_activations_refuse_what_pytorch_refuses(make, error, said):
    x = sd.tensor([[3.0, -2.0, 5.0], [0.0, 7.0, -1.0]], requires_grad=True)
    assert_refused_eagerly_and_compiled(make, x, error, said)


def test_the_new_activation_modules_print_and_hold_what_pytorchs_do():
    assert repr(nn.Threshold(0.1, 20)) == "Threshold(threshold=0.1, value=20)"
    assert repr(nn.CELU(0.5)) == "CELU(alpha=0.5)"
    assert (
        repr(nn.Softshrink(0.3)) == "Softshrink(0.3)" and repr(nn.Hardshrink()) == "Hardshrink(0.5)"
    )
    assert repr(nn.GLU()) == "GLU(dim=-1)" and repr(nn.SELU()) == "SELU()"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    prelu = nn.PReLU()
    assert [name for name, _ in prelu.named_parameters()] == ["weight"]
    assert prelu.weight.tolist() == [0.25] and prelu.weight.dtype == sd.float32
    assert nn.PReLU(4, 0.1, dtype=sd.float64).weight.tolist() == [0.1] * 4
    assert nn.PReLU(dtype=sd.float64).weight.dtype == sd.float64


@pytest.mark.parametrize(
    "module",
    [
        nn.Threshold(0.5, -1.0, True),
        nn.SELU(True),
        nn.CELU(0.5, True),
        nn.Hardswish(True),
        nn.Hardsigmoid(True),
        nn.Mish(True),
    ],  # fmt: skip
)
def test_the_new_activations_write_into_their_input_with_inplace(module):
    """Eagerly, as PyTorch's; a compiled step refuses the write, naming the way out."""
    x = sd.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
    h = x * 1.0
    y = module(h)
    assert y is h
    module.inplace = False
    np.testing.assert_allclose(h.detach().numpy(), module(x).detach().numpy())
    module.inplace = True
    with pytest.raises(sd.CompileError, match="inplace=True"):
        sd.differentiate(_applied)(module, x)


def _applied(module, x):
    y = module(x * 1.0)
    y.sum().backward()
    return y


def test_prelu_learns_its_weight_in_a_compiled_step():
    """The weight's gradient is the sum of x over the entries at or below 0 (per channel
    for one weight a channel), and an optimizer steps it, eagerly and compiled."""
    x = sd.tensor([[-1.0, 2.0, -3.0], [0.0, -0.5, 4.0]])
    for compiled in (False, True):
        layer = nn.PReLU(3)
        opt = sd.optim.SGD(layer.parameters(), lr=0.1)
        step = _prelu_step if not compiled else sd.differentiate(_prelu_step)
        step(layer, opt, x)
        assert layer.weight.grad.tolist() == [-1.0, -0.5, -3.0]
        np.testing.assert_allclose(layer.weight.detach().numpy(), [0.35, 0.3, 0.55], rtol=1e-6)


def _prelu_step(layer, opt, x):
    opt.zero_grad()
    layer(x).sum().backward()
    opt.step()


_X4 = RNG.random((1, 2, 5, 5))
_W4 = RNG.random((3, 2, 3, 3))
_X3 = RNG.random((1, 2, 5))


@pytest.mark.parametrize(
    ("call", "name", "argument"),
    [
        (lambda: F.conv2d(_X4, _W4), "conv2d", "input"),
        (lambda: F.conv2d(tensor(_X4), _W4), "conv2d", "weight"),
        (lambda: F.conv2d(tensor(_X4), tensor(_W4), np.zeros(3)), "conv2d", "bias"),
        (lambda: F.conv1d(_X3, _W4[..., 0]), "conv1d", "input"),
        (lambda: F.layer_norm(_X4, (5,)), "layer_norm", "input"),
        (lambda: F.layer_norm(tensor(_X4), (5,), np.ones(5)), "layer_norm", "weight"),
        (lambda: F.batch_norm(_X4, None, None, training=True), "batch_norm", "input"),
        (lambda: F.batch_norm(tensor(_X4), np.zeros(2), tensor(np.ones(2))), "batch_norm",
         "running_mean"),
        (lambda: F.group_norm(_X4, 1), "group_norm", "input"),
        (lambda: F.group_norm(tensor(_X4), 1, [1.0, 1.0]), "group_norm", "weight"),
        (lambda: F.max_pool1d(_X3, 2), "max_pool1d", "input"),
        (lambda: F.max_pool2d(_X4, 2), "max_pool2d", "input"),
        (lambda: F.avg_pool1d(_X3, 2), "avg_pool1d", "input"),
        (lambda: F.avg_pool2d(_X4, 2), "avg_pool2d", "input"),
        (lambda: F.adaptive_avg_pool1d(_X3, 1), "adaptive_avg_pool1d", "input"),
        (lambda: F.adaptive_avg_pool2d(_X4, 1), "adaptive_avg_pool2d", "input"),
    ],
)  # fmt: skip
def test_layers_given_arrays_raise_pytorchs_type_error(call, name, argument):
    """Given a NumPy array (or a list) where PyTorch takes a Tensor, these computed on it
    or failed inside (AttributeError on ``.sqrt``, ``_mean()`` got ``keepdim``); PyTorch
    raises a TypeError naming the function and the argument."""
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument '{argument}' must be Tensor, "):
        call()


def _pooled_array(x):
    return np.sum(F.max_pool2d(x, 2))


def test_a_layer_given_an_array_carrying_a_gradient_is_refused_at_the_users_line():
    """In a function differentiated on arrays, F.max_pool2d(x) was refused inside srcdiff's
    own code; the refusal names the user's line."""
    with pytest.raises(sd.CompileError, match="F.max_pool2d takes Tensors") as info:
        sd.grad(_pooled_array)(_X4)
    line = _pooled_array.__code__.co_firstlineno + 1
    assert f"{__file__}:{line})" in str(info.value)
    assert "srcdiff/nn/functional.py" not in str(info.value)


# PyTorch 2.13's result dtypes (recorded) for float32 and float64 input and target: the
# elementwise losses promote the two, huber_loss keeps the input's (its kernel writes
# into a tensor like the input), binary_cross_entropy_with_logits the target's (it
# computes in place in a tensor made from the target), whatever its weights' dtypes
_LOSS_DTYPES = [
    ("mse_loss", {}, {(32, 64): 64, (64, 32): 64}),
    ("l1_loss", {}, {(32, 64): 64, (64, 32): 64}),
    ("smooth_l1_loss", {}, {(32, 64): 64, (64, 32): 64}),
    ("huber_loss", {}, {(32, 64): 32, (64, 32): 64}),
    ("huber_loss", {"reduction": "none"}, {(32, 64): 32, (64, 32): 64}),
    ("binary_cross_entropy_with_logits", {}, {(32, 64): 64, (64, 32): 32}),
    ("binary_cross_entropy_with_logits", {"pos_weight": 64}, {(32, 64): 64, (64, 32): 32}),
    ("binary_cross_entropy_with_logits", {"weight": 64, "reduction": "none"},
     {(32, 64): 64, (64, 32): 32}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "options", "dtypes"), _LOSS_DTYPES)
def test_loss_result_dtypes_of_mixed_precision_match_pytorch(name, options, dtypes):
    """huber_loss(x32, t64) and binary_cross_entropy_with_logits(x64, t32, pos_weight=w)
    were float64 where PyTorch's are float32; the values agree with float64's to float32
    precision, and the gradient keeps the input's dtype."""
    x = np.array([0.3, -1.2, 2.5])
    t = np.array([0.0, 1.0, 0.5])
    w = np.array([1.0, 2.0, 0.5])
    widths = {32: sd.float32, 64: sd.float64}
    f = getattr(F, name)
    kwargs = {k: (tensor(w, dtype=widths[v]) if v in widths else v) for k, v in options.items()}
    exact = f(tensor(x), tensor(t), **kwargs).detach().numpy()
    for (xw, tw), want in dtypes.items():
        xt = tensor(x, dtype=widths[xw], requires_grad=True)
        loss = f(xt, tensor(t, dtype=widths[tw]), **kwargs)
        assert loss.dtype == widths[want]
        np.testing.assert_allclose(loss.detach().numpy(), exact, rtol=1e-6)
        loss.sum().backward()
        assert xt.grad.dtype == widths[xw]


def test_mixed_precision_loss_values_match_pytorch():
    """PyTorch 2.13's float32 values (recorded) of huber_loss(x32, t64)."""
    x = tensor([0.3, -1.2, 2.5], dtype=sd.float32)
    t = tensor([0.0, 1.0, 0.5], dtype=sd.float64)
    assert F.huber_loss(x, t).item() == 1.0816665887832642
    assert F.huber_loss(x, t, reduction="sum").item() == 3.244999885559082


def _taking_tensors():
    """Every function of srcdiff.nn.functional with a parameter that is a Tensor, and the
    first such parameter."""
    import inspect

    found = []
    for name, fn in vars(F).items():
        if name.startswith("_") or getattr(fn, "__module__", None) != F.__name__:
            continue
        if fn is F.written_into or not inspect.isfunction(fn):
            continue
        params = [k for k, a in fn.__annotations__.items() if k != "return" and "Tensor" in str(a)]
        if params:
            found.append((name, params[0]))
    return found


@pytest.mark.parametrize(("name", "argument"), _taking_tensors())
def test_every_function_given_an_array_raises_pytorchs_type_error(name, argument):
    """F.relu, F.softmax, F.cross_entropy and the rest given a NumPy array failed inside
    (AttributeError: no .relu) or computed on it (F.gelu, F.mse_loss); PyTorch raises a
    TypeError naming the function and the argument."""
    import inspect

    fn = getattr(F, name)
    required = [
        p for p in inspect.signature(fn).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD
    ]  # fmt: skip
    array = RNG.random((2, 3))
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument '{argument}' must be Tensor, "
                       r"not numpy\.ndarray$"):  # fmt: skip
        fn(*[array] * len(required))
    assert fn._srcdiff_takes_tensors  # refused at the user's line in compiled code too


@pytest.mark.parametrize(
    ("call", "name", "argument"),
    [
        (lambda: F.relu(_X3), "relu", "input"),
        (lambda: F.softmax(_X3, dim=1), "softmax", "input"),
        (lambda: F.log_softmax(_X3, dim=1), "log_softmax", "input"),
        (lambda: F.gelu(_X3), "gelu", "input"),
        (lambda: F.sigmoid(_X3), "sigmoid", "input"),
        (lambda: F.tanh(_X3), "tanh", "input"),
        (lambda: F.dropout(_X3, 0.5), "dropout", "input"),
        (lambda: F.mse_loss(tensor(_X3), _X3), "mse_loss", "target"),
        (lambda: F.cross_entropy(_X4[0], np.array([0, 1])), "cross_entropy", "input"),
        (lambda: F.cross_entropy(tensor(_X4[0, :, 0]), tensor(np.array([0, 1])),
                                 weight=np.ones(5)), "cross_entropy", "weight"),
        (lambda: F.linear(tensor(_X3), _W4[0, 0]), "linear", "weight"),
    ],
)  # fmt: skip
def test_activations_and_losses_given_arrays_raise_pytorchs_type_error(call, name, argument):
    """Each argument is checked, not only the first: a target or a weight given as an
    array is named."""
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument '{argument}' must be Tensor, "):
        call()


def _softmax_of_array(x):
    return np.sum(F.softmax(x, dim=-1) * np.arange(5.0))


def _mse_of_array(x):
    return F.mse_loss(x, np.ones(5))


@pytest.mark.parametrize(("fn", "name"), [(_softmax_of_array, "F.softmax"),
                                          (_mse_of_array, "F.mse_loss")])  # fmt: skip
def test_an_activation_or_loss_given_an_array_carrying_a_gradient_is_refused_at_the_users_line(
    fn, name
):
    """In a function differentiated on arrays, F.softmax(x) was refused at srcdiff's own
    line (functional.py), and F.mse_loss computed on arrays where it raises eagerly; the
    refusal names the user's line."""
    with pytest.raises(sd.CompileError, match=f"{name} takes Tensors") as info:
        sd.grad(fn)(RNG.random(5))
    line = fn.__code__.co_firstlineno + 1
    assert f"{__file__}:{line})" in str(info.value)
    assert "srcdiff/nn/functional.py" not in str(info.value)


def test_a_compiled_step_leaves_out_the_checks_that_arguments_are_tensors():
    """Compiled Tensor code holds arrays for the Tensors: each F function's check of its
    arguments (an eager call's TypeError) would be a call doing nothing at every step; the
    step leaves it out and computes what the eager step computes."""
    w0, x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((5, 3)), RNG.standard_normal((5, 4))

    def step(w, x, y):
        loss = F.mse_loss(F.relu(x @ w), y) + F.softmax(x @ w, dim=1).sum()
        loss.backward()
        return loss.item()

    compiled, w = sd.differentiate(step), tensor(w0, requires_grad=True)
    value = compiled(w, tensor(x), tensor(y))
    assert "_tensors(" not in sd.source(compiled)
    eager = tensor(w0, requires_grad=True)
    assert value == pytest.approx(step(eager, tensor(x), tensor(y)), rel=1e-12)
    # (softmax(...).sum() is 1: its gradient is rounding noise, 1e-17, in either step)
    np.testing.assert_allclose(w.grad.numpy(), eager.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("kind", ["F", "module"])
def test_kl_div_target_at_zero_gets_pytorchs_nan(compiled, kind):
    """xlogy(t, t) - t x has an infinite one-sided derivative in t at t = 0: PyTorch's
    gradient there is NaN, never the -x a log of 1 would give; elsewhere (and in x, and
    with log_target) the gradients agree with central differences."""
    x0 = np.array([[-0.5, 0.3, 1.2], [0.7, -1.1, 0.4]])
    t0 = np.array([[0.0, 0.4, 0.6], [0.25, 0.0, 0.75]])

    def loss(x, t, log_target=False):
        if kind == "F":
            return F.kl_div(x, t, reduction="sum", log_target=log_target)
        return nn.KLDivLoss(reduction="sum", log_target=log_target)(x, t)

    def step(x, t, log_target=False):
        y = loss(x, t, log_target)
        y.backward()
        return y.detach()

    run = sd.differentiate(step) if compiled else step
    for log_target, t_at in ((False, t0), (True, t0 - 0.5)):
        x, t = tensor(x0, requires_grad=True), tensor(t_at, requires_grad=True)
        run(x, t, log_target)
        d_t, d_x = t.grad.numpy(), x.grad.numpy()
        inside = t_at != 0 if not log_target else np.ones_like(t_at, bool)
        assert np.isnan(d_t[~inside]).all()
        for h in (1e-5, 1e-6):
            fx, ft = numeric_grad(
                lambda a, b, lt=log_target: value(lambda u, v: loss(u, v, lt), a, b),
                [x0, t_at],
                wrt=(0, 1),
                eps=h,
            )
            np.testing.assert_allclose(d_x, fx, atol=1e-6)
            np.testing.assert_allclose(d_t[inside], ft[inside], atol=1e-6)
