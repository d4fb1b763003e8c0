"""Layers and losses inside a training step compiled with @sd.differentiate give the same
loss and gradients as the eager step (the compiler traces their source, so it must stay
within the Python it supports)."""

import warnings

import numpy as np
import pytest
from steps import assert_compiled_step_matches_eager

import srcdiff as sd
from srcdiff import nn
from srcdiff.nn import functional as F

RNG = np.random.default_rng(5)


class SoftmaxHead(nn.Module):
    """A layer followed by a log-softmax and a softmax, for F.softmax/F.log_softmax."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 4)

    def forward(self, x):
        z = self.linear(x)
        return F.log_softmax(z, 1) * F.softmax(z, dim=1)


def probabilities(n, c):
    e = np.exp(RNG.normal(size=(n, c)))
    return sd.tensor(e / e.sum(1, keepdims=True), dtype=sd.float)


CASES = {
    "linear, mse": (lambda: nn.Linear(3, 2), nn.MSELoss(), lambda: sd.randn(6, 2)),
    "sequential, bce": (
        lambda: nn.Sequential(
            nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid()
        ),
        nn.BCELoss(),
        lambda: sd.rand(6, 1),
    ),
    "linear, bce with logits, sum": (
        lambda: nn.Linear(3, 2),
        nn.BCEWithLogitsLoss(reduction="sum"),
        lambda: sd.rand(6, 2),
    ),
    "linear, cross entropy": (
        lambda: nn.Linear(3, 4),
        nn.CrossEntropyLoss(),
        lambda: sd.tensor([0, 3, 1, -100, 2, 2]),
    ),
    "linear, cross entropy, probabilities": (
        lambda: nn.Linear(3, 4),
        nn.CrossEntropyLoss(reduction="sum"),
        lambda: probabilities(6, 4),
    ),
    "dropout, mse": (
        lambda: nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Linear(8, 2)),
        nn.MSELoss(),
        lambda: sd.randn(6, 2),
    ),
    "softmax head, mse none": (SoftmaxHead, nn.MSELoss(reduction="none"), lambda: sd.randn(6, 4)),
}


def run(step, model, x, y):
    """The loss and the parameter gradients of one step, from fresh gradients."""
    model.zero_grad()
    sd.manual_seed(1)  # the same dropout mask for both runs
    loss = step(x, y)
    return loss, [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_step_matches_eager(name):
    make_model, loss_fn, make_target = CASES[name]
    sd.manual_seed(0)
    model, x, y = make_model(), sd.randn(6, 3), make_target()

    def step(x, y):
        loss = loss_fn(model(x), y).sum()
        loss.backward()
        return loss.item()

    eager_loss, eager_grads = run(step, model, x, y)
    compiled = sd.differentiate(step)
    for _ in range(2):  # the second call runs the cached code
        loss, grads = run(compiled, model, x, y)
        assert np.isclose(loss, eager_loss, rtol=1e-6)
        for got, expected in zip(grads, eager_grads, strict=True):
            assert np.allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_an_activation_written_in_place_where_it_is_not_inlined_is_refused():
    """``inplace=True`` in a module an nn.Sequential calls writes into the input where
    compiled code cannot take it back to the caller: refused, where eager code runs it as
    PyTorch does; called in the step itself, it is compiled, with eager code's gradient."""
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(inplace=True))

    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss.item()

    x = sd.randn(4, 3)
    assert step(x) >= 0.0
    with pytest.raises(sd.CompileError, match="inplace=True, called where compiled code"):
        sd.differentiate(step)(x)
    model.zero_grad()
    out = _relu_in_place(model[0], x)
    eager = [p.grad.numpy().copy() for p in model[0].parameters()]
    model.zero_grad()
    compiled = sd.differentiate(_relu_in_place)(model[0], x)
    np.testing.assert_allclose(compiled.detach().numpy(), out.detach().numpy(), rtol=1e-6)
    for p, want in zip(model[0].parameters(), eager, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-6)


def _relu_in_place(layer, x):
    out = sd.nn.functional.relu(layer(x), inplace=True)
    out.sum().backward()
    return out


def test_inplace_set_after_construction_takes_effect_both_ways():
    m = nn.ReLU()
    m.inplace = True
    x = sd.tensor([-1.0, 2.0])
    assert m(x) is x and x.tolist() == [0.0, 2.0]
    m.inplace = False
    x = sd.tensor([-1.0, 2.0])
    assert m(x).tolist() == [0.0, 2.0] and x.tolist() == [-1.0, 2.0]


def test_gradients_accumulate_over_two_backwards_through_a_sequential():
    """Two losses, each with its own forward and backward(), in one compiled step: the
    second backward's adjoint no longer runs the first loop over the layers (with zero
    gradients, reading what the first backward freed: it was refused), and a layer only
    the first loss reached keeps the gradient the first gave it."""
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    side = nn.Linear(3, 1)

    def step(x):
        first = model(x).sum() + side(x).sum()
        first.backward()
        second = (model(x) ** 2).sum()
        second.backward()
        return second.item()

    x = sd.randn(4, 3)
    assert_compiled_step_matches_eager(step, model, x)
    side.zero_grad()
    step(x)
    eager = side.weight.grad.numpy().copy()
    side.zero_grad()
    sd.differentiate(step)(x)
    np.testing.assert_allclose(side.weight.grad.numpy(), eager)


def test_a_name_first_given_a_value_in_a_no_grad_block_after_an_update():
    """``h[:, -1] = 0.0`` then ``with sd.no_grad(): ev = ...``: the update's names that
    may share ``h`` took ``ev`` for one read before the block (which assigns it), and
    followed it there: an UnboundLocalError at the update's line."""
    model = nn.Sequential(nn.Linear(3, 2))

    def step(x):
        h = model(x)
        h[:, -1] = 0.0
        loss = h.sum()
        loss.backward()
        with sd.no_grad():
            ev = model(x).sum().item()
        return loss.item() + ev

    assert_compiled_step_matches_eager(step, model, sd.randn(4, 3))


def test_a_learning_rate_written_through_param_groups_in_a_compiled_step():
    """``opt.param_groups[0]["lr"] = lr``: a number written into the group's dict, made
    in the dict itself, as Python makes it (it was refused as a write of an array)."""
    model = nn.Linear(3, 1)
    opt = sd.optim.SGD(model.parameters(), lr=0.1)

    def step(x, lr):
        opt.param_groups[0]["lr"] = lr
        loss = model(x).sum()
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()

    x = sd.ones(2, 3)
    before = model.weight.detach().numpy().copy()
    sd.differentiate(step)(x, 0.05)
    assert opt.param_groups[0]["lr"] == 0.05
    np.testing.assert_allclose(model.weight.detach().numpy(), before - 0.05 * 2.0, rtol=1e-6)


def test_a_gradient_set_through_a_modules_attribute_in_a_compiled_step():
    """``model[0].bias.grad = None`` (``model.w.grad = g``): the Tensor's attribute is
    set, and the Tensor stays its module's (it was refused as a write into the entries
    of the module's array). A loss linear in the bias: its gradient is the number of
    rows, the weight's the sum of the rows on top of what it held."""
    model = nn.Sequential(nn.Linear(3, 1))
    x = sd.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])

    def step(x):
        model[0].bias.grad = None
        loss = model(x).sum()
        loss.backward()
        model[0].weight.grad = model[0].weight.grad * 2.0
        return loss.item()

    model[0].bias.grad = sd.tensor([7.0])
    model[0].weight.grad = sd.ones(1, 3)
    sd.differentiate(step)(x)
    np.testing.assert_allclose(model[0].bias.grad.numpy(), [2.0])
    np.testing.assert_allclose(model[0].weight.grad.numpy(), [[5.0, 4.0, 12.0]])


def test_softmax_with_a_dtype_compiles_without_warnings():
    """``F.softmax(h, dim=1, dtype=...)`` inlined: ``dim is not None`` became ``1 is not
    None``, which Python's compiler warns of (a SyntaxWarning at the user's line)."""
    model = nn.Linear(3, 2)

    def step(x):
        loss = F.softmax(model(x), dim=1, dtype=sd.float64).sum()
        loss.backward()
        return loss.item()

    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)
        assert sd.differentiate(step)(sd.ones(2, 3)) == pytest.approx(2.0)


def test_backward_kept_as_a_value_is_refused_clearly():
    """``_ = loss.backward()`` was refused as an array method without a rule."""
    layer = nn.Linear(3, 1)

    def step(x):
        loss = layer(x).sum()
        _ = loss.backward()
        return loss.item()

    with pytest.raises(sd.CompileError, match=r"backward\(\) used as a value"):
        sd.differentiate(step)(sd.ones(2, 3))


SET_TO_NONE = [False]


def test_zero_grad_given_a_flag_from_a_global_runs_as_written_at_every_call():
    """``opt.zero_grad(set_to_none=FLAG)`` (and a module's) with ``FLAG`` a global: the
    flag may have been a Tensor, so the call was compiled as a callee; the second call,
    with gradients to reset, failed in srcdiff's own ``_clear_grad`` ("no derivative rule
    for rt.requires_grad_, which a derivative differentiated again calls"). It runs as
    written, as eagerly, taking the flag each call has."""

    def step(model, opt, x):
        opt.zero_grad(set_to_none=SET_TO_NONE[0])
        model.zero_grad(set_to_none=SET_TO_NONE[0])
        loss = model(x).pow(2).sum()
        loss.backward()
        opt.step()
        return loss.item()

    runs = []
    for fn in (step, sd.differentiate(step)):
        sd.manual_seed(0)
        model = nn.Linear(2, 1)
        opt = sd.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for i in range(4):
            SET_TO_NONE[0] = i % 2 == 1
            losses.append(fn(model, opt, sd.ones(3, 2) * (i + 1)))
        runs.append((losses, model.weight.tolist(), model.weight.grad.tolist()))
    assert runs[1] == runs[0]


def test_a_module_float_read_by_dropout_between_layers_compiles():
    """An LSTM's ``dropout`` between its layers (a float of the module, which the masks'
    scale reads) in a compiled step: the module's zero adjoint and that float's gradient
    add up, and the step gives the eager step's loss and gradients."""
    sd.manual_seed(0)
    lstm = nn.LSTM(3, 4, 3, dropout=0.4, dtype=sd.float64)
    x = sd.tensor(RNG.normal(size=(5, 2, 3)))

    def step(x):
        out, (h, c) = lstm(x)
        loss = (out**3).sum() + (h * c).sum()
        loss.backward()
        return loss.item()

    runs = []
    for fn in (step, sd.differentiate(step)):
        lstm.zero_grad()
        sd.manual_seed(1)  # the same dropout masks for both runs
        runs.append((fn(x), [p.grad.numpy().copy() for p in lstm.parameters()]))
    assert runs[1][0] == pytest.approx(runs[0][0])
    for got, want in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(got, want)


class _Tagger(nn.Module):
    """A tagger whose forward calls ``flatten_parameters`` first, as models written for
    cuDNN do."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 4, bidirectional=True, batch_first=True, dtype=sd.float64)
        self.head = nn.Linear(8, 2, dtype=sd.float64)

    def forward(self, x):
        self.rnn.flatten_parameters()
        out, _ = self.rnn(x)
        return self.head(out)


def test_a_recurrent_layer_flattening_its_parameters_trains_eagerly_and_compiled():
    """``flatten_parameters()`` leaves the layer computing as it did (it raised an
    AttributeError), eagerly and in a compiled step."""
    sd.manual_seed(0)
    model = _Tagger()
    x = sd.tensor(RNG.normal(size=(2, 5, 3)))

    def step(x):
        loss = (model(x) ** 2).sum()
        loss.backward()
        return loss.item()

    runs = []
    for fn in (step, sd.differentiate(step)):
        model.zero_grad()
        runs.append((fn(x), [p.grad.numpy().copy() for p in model.parameters()]))
    out, _ = model.rnn(x)
    np.testing.assert_allclose(model(x).detach().numpy(), model.head(out).detach().numpy())
    assert runs[1][0] == pytest.approx(runs[0][0])
    for got, want in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(got, want)


def test_cross_entropys_class_dim_and_target_mask_run_as_written_in_a_compiled_step():
    """The class dim, the implicit dim's choice, the check of class weights and the
    one-hot mask of class-index targets carry no gradient: compiled code calls them as
    written, where a compiled copy of each (its operands unwrapped and saved, through a
    call site or behind a check of it) ran at every step; a target out of range is still
    refused there, and the gradients are the eager step's."""
    sd.manual_seed(0)
    model, loss_fn = nn.Linear(3, 4), nn.CrossEntropyLoss()
    x, y = sd.randn(5, 3), sd.tensor([0, 3, 1, -100, 2])

    def step(x, y):
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss.item()

    eager_loss, eager_grads = run(step, model, x, y)
    compiled = sd.differentiate(step)
    loss, grads = run(compiled, model, x, y)
    assert np.isclose(loss, eager_loss, rtol=1e-6)
    for got, expected in zip(grads, eager_grads, strict=True):
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-7)
    source = sd.source(compiled)
    assert "_one_hot(" in source and "_one_hot_primal" not in source
    assert "tensor_call(_one_hot" not in source and "tensor_call(_class_dim" not in source
    assert "_class_weight(" in source and "(classes,)" not in source
    assert "_implicit_dim(" in source and "Implicit dimension choice" not in source
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        compiled(x, sd.tensor([0, 4, 1, -100, 2]))


NORMS = {
    "layer norm": (lambda: nn.LayerNorm(16), (8, 16)),
    "layer norm over two dims": (lambda: nn.LayerNorm((5, 7)), (4, 3, 5, 7)),
    "batch norm 1d": (lambda: nn.BatchNorm1d(16), (8, 16)),
    "batch norm 1d, length": (lambda: nn.BatchNorm1d(7), (5, 7, 9)),
    "batch norm 2d": (lambda: nn.BatchNorm2d(3), (4, 3, 5, 7)),
}


@pytest.mark.parametrize("name", list(NORMS))
def test_float32_normalizations_compiled_and_eager_agree_bit_for_bit(name):
    """A compiled step and the eager step round alike: ``centred * centred`` in the
    variance takes one rule in both (``g * 2.0 * v``), where eager code summed two
    contributions and its input gradients were 1e-7 away from the compiled step's."""
    make, shape = NORMS[name]
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 3.0 + 1.0).astype(np.float32)
    c = sd.tensor(rng.standard_normal(shape).astype(np.float32))
    sd.manual_seed(0)
    model = make()
    model.train()

    def step(x):
        out = model(x)
        loss = (out * c).sum() + (out * out).sum() * 0.5
        loss.backward()
        return out.detach()

    runs = []
    for fn in (step, sd.differentiate(step)):
        model.zero_grad()
        xt = sd.tensor(x, requires_grad=True)
        out = fn(xt)
        runs.append([out.numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in model.parameters()])
    for got, want in zip(runs[1], runs[0], strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
