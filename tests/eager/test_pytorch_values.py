"""srcdiff's random numbers and the tutorial's values against PyTorch's own, recorded
with PyTorch's x86-64 CPU build (``pytorch/record.py`` writes ``pytorch/values.json``;
PyTorch is not a test dependency; PyTorch 2.11 and 2.14 give the same numbers).

Every draw is compared bit for bit: ``rand``, ``randn`` and ``normal_`` (float32 and
float64, under and over 16 numbers, with a scale whose product rounds), ``uniform_``,
``randint``, ``randperm``, ``bernoulli_``, ``bernoulli`` of a tensor of probabilities, dropout
masks, ``random_split``,
``DataLoader(shuffle=True)`` and ``nn.Linear``'s initial parameters.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from tutorial import fit_by_hand, linear_regression_data

import srcdiff as sd
from srcdiff import nn
from srcdiff.data import DataLoader, TensorDataset, random_split
from srcdiff.nn import functional as F

from .pytorch import programs

VALUES = json.loads((Path(__file__).parent / "pytorch" / "values.json").read_text())
SEEDS = (0, 42, 1234)
SIZES = (1, 3, 15, 16, 17, 40, 100)
DTYPES = {"float32": sd.float32, "float64": sd.float64}


def _same(got, key: str) -> None:
    want = VALUES[key]
    assert np.asarray(got, dtype=float).tolist() == want, key


def _draws(kind: str, n: int, dtype) -> list:
    if kind == "randn":
        return sd.randn(n, dtype=dtype).tolist()
    if kind == "rand":
        return sd.rand(n, dtype=dtype).tolist()
    if kind == "normal_":
        return sd.empty(n, dtype=dtype).normal_(mean=1.0, std=2.0).tolist()
    if kind == "normal_-fused":
        return sd.empty(n, dtype=dtype).normal_(mean=0.3, std=1.7).tolist()
    return sd.empty(n, dtype=dtype).uniform_(-1.0, 3.0).tolist()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["randn", "rand", "normal_", "normal_-fused", "uniform_"])
def test_floats_are_pytorchs(kind, dtype, n, seed):
    sd.manual_seed(seed)
    got = np.asarray(
        _draws(kind, n, DTYPES[dtype]), dtype=np.float32 if dtype == "float32" else float
    )
    key = f"{kind}/{seed}/{n}/{dtype}"
    want = np.asarray(VALUES[key], dtype=got.dtype)
    np.testing.assert_array_equal(got, want, err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_bernoulli_of_a_tensor_of_probabilities_is_pytorchs(n, seed, dtype):
    """PyTorch draws a float32 uniform for probabilities of float32, a float64 one for
    float64 (``bernoulli_distribution<float>`` or ``<double>``)."""
    sd.manual_seed(seed)
    p = sd.from_numpy(np.linspace(0.05, 0.95, n)).to(DTYPES[dtype])
    _same(sd.bernoulli(p).tolist(), f"bernoulli/{seed}/{n}/{dtype}")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_integers_permutations_and_masks_are_pytorchs(n, seed):
    sd.manual_seed(seed)
    _same(sd.randint(-5, 7, (n,)).tolist(), f"randint/{seed}/{n}")
    sd.manual_seed(seed)  # PyTorch's randint(high, size) counts from 0
    assert (
        sd.randint(7, (n,)).tolist() == (sd.manual_seed(seed), sd.randint(0, 7, (n,)))[1].tolist()
    )
    sd.manual_seed(seed)
    _same(sd.randperm(n).tolist(), f"randperm/{seed}/{n}")
    sd.manual_seed(seed)
    _same(sd.empty(n).bernoulli_(0.3).tolist(), f"bernoulli_/{seed}/{n}")
    sd.manual_seed(seed)
    _same(F.dropout(sd.ones(n), p=0.5, training=True).tolist(), f"dropout/{seed}/{n}")


@pytest.mark.parametrize("seed", SEEDS)
def test_splits_loaders_and_layers_are_pytorchs(seed):
    sd.manual_seed(seed)
    _same(sd.randn(1).tolist() + sd.randn(1).tolist(), f"randn-twice/{seed}")
    sd.manual_seed(seed)
    _same(sd.randn(2000).tolist(), f"randn-large/{seed}")
    sd.manual_seed(seed)
    _same(sd.randn(2, 3).reshape(-1).tolist(), f"randn-2x3/{seed}")
    sd.manual_seed(seed)
    first, second = random_split(range(10), [7, 3])
    assert [list(first.indices), list(second.indices)] == VALUES[f"random_split/{seed}"]
    parts = random_split(range(10), [0.5, 0.5], generator=sd.Generator().manual_seed(seed))
    assert [list(p.indices) for p in parts] == VALUES[f"random_split-fractions-generator/{seed}"]
    sd.manual_seed(seed)
    loader = DataLoader(TensorDataset(sd.arange(10)), batch_size=3, shuffle=True)
    batches = [b[0].tolist() for b in loader] + [b[0].tolist() for b in loader]
    assert batches == VALUES[f"dataloader/{seed}"]
    sd.manual_seed(seed)
    layer = nn.Linear(3, 2)
    _same(layer.weight.reshape(-1).tolist() + layer.bias.tolist(), f"linear-init/{seed}")


@pytest.mark.parametrize("seed", [0, 42])
def test_loaders_draw_when_pytorchs_do(seed):
    """Two loaders zipped, a draw between ``iter`` and the first batch, and a generator
    of the loader's own over three epochs (then one draw of it), as PyTorch gives them:
    each pass draws at ``iter``, at its first batch, and from its own generator once
    more when the samples run out."""
    data = TensorDataset(sd.arange(10))
    sd.manual_seed(seed)
    pairs = zip(DataLoader(data, 5, shuffle=True), DataLoader(data, 5, shuffle=True), strict=True)
    assert [a[0].tolist() + b[0].tolist() for a, b in pairs] == VALUES[f"dataloader-zipped/{seed}"]
    sd.manual_seed(seed)
    batches = iter(DataLoader(data, 4, shuffle=True))
    drawn = sd.rand(2).tolist() + [v for b in batches for v in b[0].tolist()]
    _same(drawn, f"dataloader-draw-after-iter/{seed}")
    for size, drop in ((5, False), (3, False), (3, True)):
        g = sd.Generator().manual_seed(seed)
        loader = DataLoader(data, size, shuffle=True, drop_last=drop, generator=g)
        got = [b[0].tolist() for _ in range(3) for b in loader] + [
            sd.randperm(10, generator=g).tolist()
        ]
        assert got == VALUES[f"dataloader-generator/{seed}/{size}/{drop}"]


def test_the_tutorial_starts_and_ends_where_pytorch_does():
    x, y, train = linear_regression_data()
    x_train = sd.from_numpy(x[train]).float()
    y_train = sd.from_numpy(y[train]).float()
    a, b = fit_by_hand(x_train, y_train, epochs=0)
    _same(a.tolist() + b.tolist(), "tutorial/initial")
    a, b = fit_by_hand(x_train, y_train)
    _same(a.tolist() + b.tolist(), "tutorial/final")  # exact, though some gradients are not
    sd.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1))
    _same(model[0].bias.tolist() + model[0].weight.reshape(-1).tolist(), "tutorial/linear-initial")
    dataset = TensorDataset(sd.from_numpy(x).float(), sd.from_numpy(y).float())
    sd.manual_seed(42)
    train, val = random_split(dataset, [80, 20])
    assert [list(train.indices), list(val.indices)] == VALUES["tutorial/split"]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_activation_modules_and_losses_are_pytorchs(compiled):
    """Each module's values and gradients at its kinks and thresholds, eagerly and in a
    compiled step, are PyTorch's (to rounding: erf, exp and tanh round as NumPy's do)."""
    got = programs.layers(sd, sd.differentiate if compiled else None)
    recorded = {k for k in VALUES if k.startswith("layers/")}
    assert got.keys() == {k for k in recorded if not (compiled and k.endswith("inplace"))}
    for key, numbers in got.items():
        rtol = _HARDSIGMOID_RTOL if "Hardsigmoid" in key else 1e-12
        np.testing.assert_allclose(numbers, VALUES[key], rtol=rtol, atol=1e-15, err_msg=key)


# PyTorch's hardsigmoid gradient multiplies by 1 / 6 rounded to float32 (its kernel's
# constant), in float64 too: 3e-8 off; srcdiff's divides by 6
_HARDSIGMOID_RTOL = 1e-7


def test_hardsigmoids_gradient_is_one_sixth_exactly():
    x = sd.tensor([-3.0, -1.5, 0.0, 2.5, 3.0], dtype=sd.float64, requires_grad=True)
    for step in (_summed_hardsigmoid, sd.differentiate(_summed_hardsigmoid)):
        x.grad = None
        step(x)
        assert x.grad.tolist() == [0.0, 1 / 6, 1 / 6, 1 / 6, 0.0]


def _summed_hardsigmoid(x):
    sd.nn.functional.hardsigmoid(x).sum().backward()


def _every_one_is_pytorchs(got: dict, prefix: str, rtol: float, atol: float) -> None:
    """Every program of a family recorded under ``prefix`` ran, each with PyTorch's numbers."""
    assert got.keys() == {k for k in VALUES if k.startswith(prefix)}
    for key, numbers in got.items():
        np.testing.assert_allclose(numbers, VALUES[key], rtol=rtol, atol=atol, err_msg=key)


def test_arange_and_full_of_floats_are_pytorchs_in_each_dtype():
    """``arange`` and ``full`` given Python floats: PyTorch's entries bit for bit, each
    rounded once to the dtype asked for (float64 ones not through float32 first)."""
    got = programs.creation(sd)
    assert got.keys() == {k for k in VALUES if k.startswith("creation/")}
    for key, numbers in got.items():
        assert numbers == VALUES[key], key
    for dtype in (sd.float32, sd.float64):
        assert sd.arange(0, 1, 0.2, dtype=dtype).dtype is dtype
        assert sd.full((2,), 0.1, dtype=dtype).dtype is dtype
    assert sd.full((2,), 0.1, dtype=sd.float64).tolist() == [0.1, 0.1]
    assert sd.arange(0, 1, 0.2, dtype=sd.float64).tolist()[1] == 0.2


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_tensor_methods_are_pytorchs(compiled):
    """split, chunk, tril, triu, gather, bmm and new_* with their gradients, eagerly and
    in a compiled step, as PyTorch computes them."""
    got = programs.tensor_methods(sd, sd.differentiate if compiled else None)
    _every_one_is_pytorchs(got, "methods/", rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_in_place_changes_of_entries_are_pytorchs(compiled):
    """``h[:, 1] += v``, ``h[0] *= v`` and their kind on a computed tensor, eagerly (also
    through a view held apart: ``row = h[1]; row *= v``, one taken before other changes,
    one entry) and in a compiled step, with PyTorch's values and gradients."""
    got = programs.entry_updates(sd, sd.differentiate if compiled else None)
    run = {f"entries/{k}" for k in programs._entry_updates(sd, views=not compiled)}
    assert got.keys() == run and run <= {k for k in VALUES if k.startswith("entries/")}
    for key, numbers in got.items():
        np.testing.assert_allclose(numbers, VALUES[key], rtol=1e-13, atol=1e-15, err_msg=key)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_functional_arguments_are_pytorchs(compiled):
    """``nn.functional`` with PyTorch 2.13's arguments: a loss's ``weight``, the legacy
    ``size_average`` and ``reduce`` by position, softmax's ``dtype`` and implicit dim, and
    activations and dropout ``inplace`` (eagerly: a compiled step refuses the writes)."""
    got = programs.functional(sd, sd.differentiate if compiled else None)
    recorded = {k for k in VALUES if k.startswith("functional/")}
    assert got.keys() == {k for k in recorded if not (compiled and k.endswith("inplace"))}
    for key, numbers in got.items():
        rtol = _HARDSIGMOID_RTOL if "hardsigmoid" in key else 1e-13
        np.testing.assert_allclose(numbers, VALUES[key], rtol=rtol, atol=1e-15, err_msg=key)


def test_flatten_checks_its_dims_as_pytorch():
    """Dims out of range, or out of order, are PyTorch's errors (they were taken modulo
    the dims, and a start after the end added a dim), eagerly and compiled."""
    x = sd.ones(2, 3, 4)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        sd.nn.Flatten(2, 1)(x)
    with pytest.raises(IndexError, match=r"range of \[-3, 2\], but got 5"):
        x.flatten(1, 5)
    with pytest.raises(IndexError, match=r"range of \[-1, 0\], but got 1"):
        sd.nn.Flatten()(sd.ones(4))
    assert sd.tensor(3.0).flatten(0, -1).shape == (1,)
    assert x.flatten(1, 1).shape == (2, 3, 4) and x.flatten(-2).shape == (2, 12)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        sd.differentiate(_flattened)(x, 2, 1)
    empty = sd.zeros(0, 3, requires_grad=True)
    assert sd.differentiate(_flattened)(empty, 1, -1).shape == (0, 3)
    assert empty.grad.shape == (0, 3)


def _flattened(x, start, end):
    out = x.flatten(start, end)
    if x.requires_grad:
        out.sum().backward()
    return out


def test_empty_batches_run_as_pytorchs():
    """A mean over no entries is NaN with an empty gradient, and softmax over an empty
    array is empty, eagerly and compiled (the adjoint divided by zero, softmax's shift
    took the maximum of nothing)."""

    def step(x):
        loss = sd.nn.functional.mse_loss(x, x.detach() * 0.0) + x.softmax(0).sum()
        loss = loss + x.log_softmax(1).sum()
        loss.backward()
        return loss

    for run in (step, sd.differentiate(step)):
        x = sd.zeros(0, 3, requires_grad=True)
        assert np.isnan(run(x).item()) and x.grad.shape == (0, 3)


def test_dropout_in_place_that_is_the_identity_writes_nothing():
    """``Dropout(inplace=True)`` in evaluation mode (or with p 0) gives its input back,
    unwritten: a leaf that requires grad passes, as in PyTorch."""
    leaf = sd.ones(3, requires_grad=True)
    assert sd.nn.Dropout(inplace=True).eval()(leaf) is leaf
    assert sd.nn.Dropout(0.0, inplace=True)(leaf) is leaf
    with pytest.raises(RuntimeError, match="leaf Variable"):
        sd.nn.Dropout(0.5, inplace=True)(leaf)


def test_linear_initial_weights_are_pytorchs_to_the_bit():
    """After ``manual_seed``, ``nn.Linear``'s weights and biases are PyTorch's bits, in
    float64 too (the weight's bound was 1/sqrt(in), one rounding away from PyTorch's)."""
    got = programs.linear_init(sd)
    assert got.keys() == {k for k in VALUES if k.startswith("linear-dtype/")}
    for key, numbers in got.items():
        np.testing.assert_array_equal(numbers, VALUES[key], err_msg=key)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_mixed_dtypes_promote_as_pytorch_does(compiled):
    """A float32 tensor with int64 and int32 tensors, 0-d float64 and int tensors, and
    numbers; integers divided: the dtype of each result, its values and the gradient,
    eagerly and in a compiled step (whose NumPy would compute most of them in float64)."""
    got = programs.mixed_dtypes(sd, sd.differentiate if compiled else None)
    _every_one_is_pytorchs(got, "mixed/", rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_every_augmented_assignment_changes_the_tensor_itself(compiled):
    """``b %= 3``, ``b **= 2``, ``b //= 1.5`` (and ``|=`` on bools) change the tensor in
    place, as PyTorch's do: they rebound the name to a new tensor, which the caller's
    (or another name's) never saw."""

    def step(a, b, flags):
        with sd.no_grad():
            b %= 3
            b **= 2
            b //= 1.5
            flags |= sd.tensor([False, True])
        loss = (a * b).sum()
        loss.backward()
        return loss

    run = sd.differentiate(step) if compiled else step
    a = sd.tensor([1.0, 2.0], requires_grad=True)
    b = sd.tensor([4.5, 5.0], requires_grad=True)
    flags = sd.tensor([True, False])
    assert run(a, b, flags).item() == 5.0  # 4.5 % 3 = 1.5, ** 2 = 2.25, // 1.5 = 1
    assert b.tolist() == [1.0, 2.0] and a.grad.tolist() == [1.0, 2.0]
    assert flags.tolist() == [True, True]


def _each_close(got: dict, prefix: str, float32: tuple, float64: tuple = (1e-12, 1e-15)) -> None:
    """Every program recorded under ``prefix`` ran, each with PyTorch's numbers: to
    ``float64``'s (rtol, atol), or ``float32``'s for a key naming float32 (PyTorch's
    kernels sum and scale in other orders, which float32 rounds apart)."""
    assert got.keys() == {k for k in VALUES if k.startswith(prefix)}
    for key, numbers in got.items():
        rtol, atol = float32 if "float32" in key else float64
        np.testing.assert_allclose(numbers, VALUES[key], rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_embeddings_and_normalization_layers_are_pytorchs(compiled):
    """Embedding (its initial weights after manual_seed, padding_idx, scale_grad_by_freq,
    from_pretrained), LayerNorm and BatchNorm1d (training steps updating the running
    statistics, then evaluation; momentum None, affine and track_running_stats off, (N, C)
    and (N, C, L)) and their functions: outputs, gradients and state dicts, eagerly and in
    a compiled step."""
    got = programs.normalization(sd, sd.differentiate if compiled else None)
    _each_close(got, "normalization/", float32=(1e-4, 1e-6))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_convolution_layers_are_pytorchs(compiled):
    """Conv1d and Conv2d (initial parameters after manual_seed, strides, paddings ints,
    'same' and their modes, dilations, groups, no bias, unbatched inputs, float32) and
    F.conv1d, F.conv2d: outputs, input and parameter gradients, eagerly and compiled."""
    got = programs.convolution(sd, sd.differentiate if compiled else None)
    _each_close(got, "convolution/", float32=(1e-4, 1e-6))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_pooling_layers_are_pytorchs(compiled):
    """MaxPool1d/2d (ties: the gradient to the first of them, as PyTorch's), AvgPool1d/2d
    and AdaptiveAvgPool1d/2d with their kernels, strides, paddings, dilations, ceil_mode,
    count_include_pad and divisor_override, and their functions: outputs and input
    gradients, eagerly and compiled."""
    got = programs.pooling(sd, sd.differentiate if compiled else None)
    _each_close(got, "pooling/", float32=(1e-5, 1e-6))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_recurrent_layers_are_pytorchs(compiled):
    """RNN (tanh, relu), LSTM and GRU with two layers, batch_first, bidirectional, an
    initial state given (and its gradient) or not, unbatched inputs, and their cells:
    outputs, final states, gradients and initial parameters after manual_seed, eagerly
    and compiled."""
    got = programs.recurrent(sd, sd.differentiate if compiled else None)
    _each_close(got, "recurrent/", float32=(1e-5, 1e-6))


def test_recurrent_layers_refuse_what_they_do_not_take():
    """A state of the wrong kind or size, proj_size and a bad nonlinearity are refused,
    with PyTorch's errors where it has them; nothing is read as something else (an LSTM
    given one Tensor for its pair)."""
    x = sd.ones(5, 2, 3)
    with pytest.raises(TypeError, match="an LSTM's hx is a pair"):
        nn.LSTM(3, 4)(x, sd.ones(1, 2, 4))
    with pytest.raises(TypeError, match="hx is one Tensor"):
        nn.GRU(3, 4)(x, (sd.ones(1, 2, 4), sd.ones(1, 2, 4)))
    with pytest.raises(TypeError, match="an LSTM's hx is a pair"):
        nn.LSTMCell(3, 4)(x[0], sd.ones(2, 4))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 2, 4\), got \[1, 2, 4\]"):
        nn.RNN(3, 4, 2)(x, sd.ones(1, 2, 4))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\)"):
        nn.LSTM(3, 4)(x, (sd.ones(1, 2, 4), sd.ones(1, 3, 4)))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D"):
        nn.RNN(3, 4)(x[:, 0], sd.ones(1, 2, 4))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        nn.GRU(3, 4)(sd.ones(5, 2, 2))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        nn.GRU(3, 4)(sd.ones(5, 2, 2, 3))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 2"):
        nn.GRUCell(3, 4)(sd.ones(2, 2))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch"):
        nn.RNNCell(3, 4)(sd.ones(2, 3), sd.ones(3, 4))
    with pytest.raises(NotImplementedError, match="proj_size is not supported"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, dropout=1.5)
    assert [n for n, _ in nn.LSTM(3, 4, 2, bidirectional=True).named_parameters()][4:6] == [
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
    ]
    assert repr(nn.LSTM(3, 4, 2, bias=False, batch_first=True, dropout=0.5)) == (
        "LSTM(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5)"
    )


def test_convolutions_refuse_bad_arguments_as_pytorch():
    """Each argument a convolution does not take is refused, with PyTorch's error, never
    run as if it were another."""
    x, w = sd.ones(2, 3, 5), sd.ones(4, 3, 3)
    refused = {
        r"expected input\[2, 3, 5\] to have 2 channels, but got 3": lambda: F.conv1d(
            x, sd.ones(4, 2, 3)
        ),
        r"expected weight to be divisible by 2 at dimension 0": lambda: F.conv1d(
            sd.ones(2, 4, 5), sd.ones(3, 2, 3), groups=2
        ),
        r"input size per channel: \(5 x 5\). Kernel size: \(6 x 2\)": lambda: F.conv2d(
            sd.ones(2, 3, 5, 5), sd.ones(4, 3, 6, 2)
        ),
        r"Kernel size: \(7\)": lambda: F.conv1d(x, w, dilation=3),
        r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d": lambda: F.conv1d(
            sd.ones(5), w
        ),
        "padding='same' is not supported for strided": lambda: F.conv1d(
            x, w, stride=2, padding="same"
        ),
        "Invalid padding string: 'full'": lambda: F.conv1d(x, w, padding="full"),
        "negative padding": lambda: F.conv1d(x, w, padding=-1),
        "non-positive stride": lambda: F.conv1d(x, w, stride=0),
        "non-positive dilation": lambda: F.conv1d(x, w, dilation=(0,)),
        "non-positive groups": lambda: F.conv1d(x, w, groups=0),
        "expected bias to be 1-dimensional with 4 elements": lambda: F.conv1d(x, w, sd.ones(3)),
        "a list of 2 values": lambda: F.conv2d(
            sd.ones(1, 3, 5, 5), sd.ones(4, 3, 3, 3), padding=(1, 1, 1)
        ),  # fmt: skip
        "expected scalar type Double but found Float": lambda: F.conv1d(x.double(), w),
    }
    for message, call in refused.items():
        with pytest.raises(RuntimeError, match=message):
            call()
    for message, make in {
        "in_channels must be divisible by groups": lambda: nn.Conv1d(3, 4, 3, groups=2),
        "out_channels must be divisible by groups": lambda: nn.Conv1d(4, 3, 3, groups=2),
        "not supported for strided": lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"),
        "Invalid padding string 'full'": lambda: nn.Conv2d(3, 4, 3, padding="full"),
        "padding_mode must be one of": lambda: nn.Conv2d(3, 4, 3, padding_mode="zero"),
    }.items():
        with pytest.raises(ValueError, match=message):
            make()
    assert repr(nn.Conv2d(3, 4, 3, padding="same")) == (
        "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=same)"
    )
    assert repr(nn.Conv1d(4, 4, 2, 2, 1, 2, 2, False, "reflect")) == (
        "Conv1d(4, 4, kernel_size=(2,), stride=(2,), padding=(1,), dilation=(2,), groups=2, "
        "bias=False, padding_mode=reflect)"
    )


def _pooled_grad(x, pool, weights):
    """The gradient of sum(weights * pool(x)) with respect to ``x``."""
    x.grad = None
    (pool(x) * weights).sum().backward()
    return x.grad


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_max_pooling_gives_a_tie_with_its_padding_to_the_input(compiled):
    """A window whose largest entry is -inf, as the padding is, gives its gradient to its
    first entry of the input, as PyTorch does; the padding took it, and it was lost."""
    grad = sd.differentiate(_pooled_grad) if compiled else _pooled_grad
    x = sd.tensor([[-math.inf, 1.0, 2.0]], requires_grad=True)
    got = grad(x, lambda x: F.max_pool1d(x, 2, padding=1), sd.ones(1, 2))
    assert got.tolist() == [[1.0, 0.0, 1.0]]
    x = sd.full((1, 3, 3), -math.inf, requires_grad=True)
    pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
    got = grad(x, pool, sd.arange(1.0, 5.0).reshape(1, 2, 2))
    assert got.tolist() == [[[1.0, 2.0, 0.0], [3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]]


_NAN = math.nan
# a window's gradient with several NaNs: PyTorch 2.13's CPU kernel (recorded) sends it
# to the last NaN in the window's order (row by row), with and without padding
_NAN_POOLS = [
    ([[[1.0, _NAN, 2.0, _NAN]]], {"kernel_size": 4}, [0.0, 0.0, 0.0, 1.0]),
    ([[[_NAN, 1.0, _NAN, 3.0]]], {"kernel_size": 4}, [0.0, 0.0, 1.0, 0.0]),
    ([[[_NAN, 1.0, _NAN]]], {"kernel_size": 3, "padding": 1, "stride": 1}, [1.0, 0.0, 2.0]),
    ([[[1.0, _NAN, 2.0, _NAN, 5.0]]], {"kernel_size": 3, "stride": 1},
     [0.0, 1.0, 0.0, 2.0, 0.0]),
    ([[[_NAN, 1.0, _NAN, 2.0, _NAN]]], {"kernel_size": 3, "dilation": 2},
     [0.0, 0.0, 0.0, 0.0, 1.0]),
    ([[[[1.0, _NAN], [_NAN, 2.0]]]], {"kernel_size": 2}, [0.0, 0.0, 1.0, 0.0]),
    ([[[[_NAN, _NAN], [_NAN, 2.0]]]], {"kernel_size": 2}, [0.0, 0.0, 1.0, 0.0]),
    ([[[[1.0, _NAN, 0.0], [_NAN, 2.0, _NAN], [0.0, _NAN, 1.0]]]],
     {"kernel_size": 3, "padding": 1, "stride": 1},
     [0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0, 6.0, 0.0]),
    ([[[[1.0, 5.0, _NAN], [_NAN, 2.0, 0.0], [0.0, _NAN, 1.0]]]], {"kernel_size": 3},
     [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
]  # fmt: skip


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize(("data", "options", "want"), _NAN_POOLS)
def test_max_pooling_gives_a_window_of_nans_gradient_to_its_last_nan(data, options, want,
                                                                     compiled):  # fmt: skip
    """The gradient went to the first NaN of a window holding several; PyTorch's kernel
    replaces the NaN it holds by each one it meets."""
    grad = sd.differentiate(_pooled_grad) if compiled else _pooled_grad
    x = sd.tensor(data, requires_grad=True)
    pool = F.max_pool1d if x.ndim == 3 else F.max_pool2d
    got = grad(x, lambda x: pool(x, **options), 1.0)
    assert got.flatten().tolist() == want


@pytest.mark.parametrize("dtype", [sd.int8, sd.int16, sd.int32, sd.uint8])
def test_max_pooling_pads_integers_below_their_entries(dtype):
    """An integer input is padded with its dtype's least value, which no entry is below,
    as PyTorch's window skips its padding: -inf cast to int8 or int16 is 0, which was
    taken for the largest of negative entries. Booleans are PyTorch's error."""
    x = sd.tensor([[[-5, -3, -7, -2]]], dtype=dtype)
    got = F.max_pool1d(x, 2, padding=1)
    want = [[[x[0, 0, 0].item(), max(x[0, 0, 1].item(), x[0, 0, 2].item()), x[0, 0, 3].item()]]]
    assert got.dtype == dtype and got.tolist() == want
    assert F.max_pool2d(x, 2, padding=1).tolist() == want
    with pytest.raises(NotImplementedError, match="\"max_pool2d\" not implemented for 'Bool'"):
        F.max_pool2d(x > 0, 2, padding=1)


def test_pooling_refuses_what_it_does_not_take():
    """return_indices, paddings over half the kernel, empty outputs, integers to an
    average and bad output sizes are refused clearly; float32 stays float32."""
    x = sd.ones(2, 3, 5, 5)
    with pytest.raises(NotImplementedError, match="return_indices=True is not supported"):
        nn.MaxPool2d(2, return_indices=True)(x)
    with pytest.raises(NotImplementedError, match="return_indices=True is not supported"):
        F.max_pool1d(x[0], 2, return_indices=True)
    with pytest.raises(RuntimeError, match="pad should be at most half of kernel size"):
        F.max_pool1d(x[0], 3, padding=2, dilation=2)
    with pytest.raises(RuntimeError, match="pad should be at most half of kernel size"):
        nn.AvgPool2d(3, padding=2)(x)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(sd.ones(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.max_pool2d(sd.ones(5, 5), 2)
    with pytest.raises(RuntimeError, match="stride and dilation must be greater than zero"):
        F.avg_pool1d(x[0], 2, stride=0)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.avg_pool1d(sd.tensor([[[1, 5, 3, 2]]]), 2)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        nn.AdaptiveAvgPool2d(1)(sd.ones(1, 2, 2, dtype=sd.int64))
    with pytest.raises(RuntimeError, match="output_size must be 2"):
        F.adaptive_avg_pool2d(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match="must be non-negative integers"):
        F.adaptive_avg_pool2d(x, -1)
    assert F.avg_pool2d(x, 3, 2, 1, ceil_mode=True).dtype == sd.float32
    assert F.adaptive_avg_pool2d(x, (0, 2)).shape == (2, 3, 0, 2)  # (it crashed)
    assert nn.AdaptiveAvgPool1d(0)(x[0]).shape == (3, 5, 0)
    assert nn.AdaptiveAvgPool2d((None, 3))(x).dtype == sd.float32
    assert repr(nn.MaxPool1d(3, 1, 1, 2, ceil_mode=True)) == (
        "MaxPool1d(kernel_size=3, stride=1, padding=1, dilation=2, ceil_mode=True)"
    )
    assert repr(nn.AvgPool1d(2)) == "AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))"
    assert repr(nn.AdaptiveAvgPool2d((None, 3))) == "AdaptiveAvgPool2d(output_size=(None, 3))"


def test_embeddings_and_normalization_refuse_bad_input_as_pytorch():
    weight = sd.randn(5, 3)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(sd.tensor([0, 5]), weight)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(sd.tensor([-1]), weight)  # (NumPy would read it from the end)
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types"):
        F.embedding(sd.tensor([0.0, 1.0]), weight)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(sd.tensor([0]), weight, padding_idx=-6)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        F.embedding(sd.tensor([0]), weight, sparse=True)
    with pytest.raises(AssertionError, match="2-dimensional"):
        nn.Embedding.from_pretrained(sd.ones(3))
    frozen = nn.Embedding.from_pretrained(weight)
    assert not frozen.weight.requires_grad and frozen(sd.tensor([[1, 2]])).shape == (1, 2, 3)
    assert nn.Embedding(4, 2).weight.dtype == sd.float32
    x = sd.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with "
                       r"shape \[\*, 4\], but got input of size\[2, 3\]"):  # fmt: skip
        nn.LayerNorm(4)(x)
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape"):
        F.layer_norm(x, (3,), sd.ones(2))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(sd.ones(2, 3, 1, 1))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(sd.ones(1, 3))
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        nn.BatchNorm1d(4)(sd.ones(2, 3))
    assert nn.BatchNorm1d(3).eval()(sd.ones(1, 3)).shape == (1, 3)  # (one is fine in eval)
    bn = nn.BatchNorm1d(3)
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert bn.num_batches_tracked.dtype == sd.int64
    assert (
        repr(bn) == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    )
    assert repr(nn.LayerNorm([2, 3])) == "LayerNorm((2, 3), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.Embedding(5, 3, padding_idx=-1)) == "Embedding(5, 3, padding_idx=4)"


def test_a_tensor_read_before_batch_norm_updates_its_running_statistics_is_refused():
    """The running statistics change in place, as PyTorch's: a graph that saved one
    refuses its backward, as PyTorch's version check does (no stale gradient)."""
    bn = nn.BatchNorm1d(2)
    x = sd.ones(2, requires_grad=True)
    y = (x * bn.running_var).sum() * (x * 1.0).sum()
    bn(sd.tensor([[1.0, 2.0], [3.0, 5.0]]))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_parameter_lists_and_dicts_train_as_pytorchs(compiled):
    """A model holding its weights in a ParameterList and a ParameterDict: PyTorch's
    losses and state dict after SGD steps, eagerly and in a compiled step, under PyTorch's
    state dict keys."""
    got = programs.parameter_containers(sd, sd.differentiate if compiled else None)
    _each_close(got, "containers/", float32=(0.0, 0.0), float64=(1e-13, 1e-15))
    model = programs._container_model(sd)
    assert list(model.state_dict()) == ["ws.0", "ws.1", "ws.2", "bs.out", "bs.hidden"]
    assert len(list(model.parameters())) == 5


def test_parameter_containers_hold_what_pytorchs_hold():
    ws = nn.ParameterList([sd.ones(2), nn.Parameter(sd.zeros(3)), 7])
    assert type(ws[0]) is nn.Parameter and ws[0].requires_grad and ws[2] == 7
    assert len(ws) == 3 and ws[-1] == 7 and len(ws[1:]) == 2 and list(ws)[1] is ws[1]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        ws[3]
    ws[0] = sd.full((2,), 3.0)
    assert type(ws[0]) is nn.Parameter and ws[0].tolist() == [3.0, 3.0]
    assert repr(ws).splitlines()[1] == "  (0): Parameter containing: [srcdiff.float32 of size 2]"
    bs = nn.ParameterDict({"b": sd.ones(2), "a": sd.zeros(1)})  # (a dict: sorted)
    assert list(bs) == ["a", "b"] and "a" in bs and type(bs["a"]) is nn.Parameter
    bs.update([("c", sd.ones(1))])
    assert list(bs.keys()) == ["a", "b", "c"] and bs.get("z") is None
    assert bs.pop("b").tolist() == [1.0, 1.0] and list(bs) == ["a", "c"]
    assert list(bs.state_dict()) == ["a", "c"] and len(bs) == 2
    with pytest.raises(KeyError, match="contain"):
        bs["x.y"] = sd.ones(1)
    assert list(bs) == ["a", "c"]
    with pytest.raises(ValueError, match="has length 3; 2 is required"):
        bs.update([("d", 1, 2)])


def test_new_functions_refuse_bad_input_as_pytorch():
    x = sd.ones(2, 3)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match="Padding length should be less than or equal"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding"):
        F.pad(x[None], (3, 3), mode="reflect")
    with pytest.raises(NotImplementedError, match="Padding size 4 is not supported for 2D input"):
        F.pad(x, (1, 1, 1, 1), mode="replicate")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(x, (1, 1), mode="foo")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(x[None], (4, 0), mode="circular")
    with pytest.raises(TypeError, match="tuple of ints"):
        F.pad(x, (1, 1.5))
    with pytest.raises(RuntimeError, match="only applicable to index tensor of type LongTensor"):
        F.one_hot(sd.tensor([1.0]))
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        F.one_hot(sd.tensor([-1]))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(sd.tensor([3]), 2)
    with pytest.raises(RuntimeError, match="Can not infer total number of classes"):
        F.one_hot(sd.tensor([], dtype=sd.int64))
    hot = F.one_hot(sd.tensor([[2, 0]]))
    assert hot.dtype == sd.int64 and hot.tolist() == [[[0, 0, 1], [1, 0, 0]]]
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(AssertionError, match=r"max_val \(1\) must be greater than min_val \(2\)"):
        nn.Hardtanh(2, 1)
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.kl_div(x, x, reduction="foo")
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, x)
    with pytest.raises(
        RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b"
    ):
        F.cosine_similarity(x, sd.ones(2, 4))
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.normalize(x, dim=2)
    with pytest.raises(TypeError, match="needs dim"):
        nn.Softmin()(x)
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"


def test_in_place_functions_refuse_what_pytorch_refuses():
    leaf = sd.ones(3, requires_grad=True)
    for method in ("relu_", "sigmoid_", "tanh_", "abs_", "exp_", "log_", "nan_to_num_"):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            getattr(leaf, method)()
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired"):
        sd.tensor([1, 2]).sigmoid_()
    ints = sd.tensor([-1, 2])
    assert ints.abs_() is ints and ints.tolist() == [1, 2]
    assert sd.tensor([1, 2]).nan_to_num().tolist() == [1, 2]
    big = sd.tensor([float("inf"), -float("inf"), float("nan")])
    assert big.nan_to_num().tolist() == [3.4028234663852886e38, -3.4028234663852886e38, 0.0]
    assert sd.ones(2, dtype=sd.float64).type_as(sd.tensor([1])).dtype == sd.int64


def test_normalizations_refuse_parameters_of_another_dtype_as_pytorch():
    """A float32 module given float64 input (or float64 statistics, bias or class
    weights) is PyTorch's error, not a computation promoted to float64."""
    x = sd.ones(2, 4, dtype=sd.float64)
    mixed = "mixed dtype \\(CPU\\): all inputs must share same datatype"
    for module in (nn.LayerNorm(4), nn.BatchNorm1d(4), nn.BatchNorm1d(4).eval(),
                   nn.GroupNorm(2, 4)):  # fmt: skip
        with pytest.raises(RuntimeError, match=mixed):
            module(x)
    with pytest.raises(RuntimeError, match=mixed):
        nn.BatchNorm2d(4)(sd.ones(2, 4, 2, 2, dtype=sd.float64))
    with pytest.raises(RuntimeError, match=mixed):
        F.batch_norm(x.float(), sd.zeros(4, dtype=sd.float64), sd.ones(4), training=True)
    with pytest.raises(RuntimeError, match=mixed):
        F.layer_norm(x.float(), (4,), None, sd.zeros(4, dtype=sd.float64))
    with pytest.raises(RuntimeError, match="prelu: Type promoting not supported. Got Double "
                       "and Float"):  # fmt: skip
        nn.PReLU()(x)
    with pytest.raises(RuntimeError, match="self and mat2 must have the same dtype, but got "
                       "Double and Float"):  # fmt: skip
        F.linear(x.float(), sd.ones(2, 4), sd.ones(2, dtype=sd.float64))
    classes = sd.tensor([0, 1])
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
            loss(x.float(), classes, weight=sd.ones(4, dtype=sd.float64))
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        F.binary_cross_entropy(x.float() * 0.5, x * 0.5)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_normalizations_of_float16_with_float32_parameters_are_pytorchs(compiled):
    """A float16 input to a float32 LayerNorm, GroupNorm or BatchNorm (mixed precision) is
    PyTorch's computation in float32, returned as float16 (it was refused); float64
    parameters to it stay refused."""

    def normalized(module, x):
        module.zero_grad()
        out = module(x)
        (out.float() ** 2).sum().backward()
        return out

    run = sd.differentiate(normalized) if compiled else normalized
    x = sd.tensor(np.random.default_rng(0).normal(size=(3, 4, 5)), dtype=sd.float16)
    for make in (lambda: nn.LayerNorm(5), lambda: nn.GroupNorm(2, 4), lambda: nn.BatchNorm1d(4)):
        module, twin = make(), make()
        got = run(module, x)
        want = normalized(twin, x.float())
        assert got.dtype == sd.float16 and module.weight.grad.dtype == sd.float32
        assert got.tolist() == want.half().tolist()
        for p, q in zip(module.buffers(), twin.buffers(), strict=True):
            np.testing.assert_array_equal(p.numpy(), q.numpy())
    with pytest.raises(RuntimeError, match="mixed dtype"):
        nn.GroupNorm(2, 4, dtype=sd.float64)(x)


def test_binary_cross_entropy_takes_a_weight_of_another_dtype_as_pytorch():
    """PyTorch refuses a target of another dtype than the input's but takes a weight of
    any float dtype, the loss (and the input's gradient) keeping the input's dtype."""
    p = sd.tensor([[0.2, 0.7], [0.9, 0.4]], dtype=sd.float32, requires_grad=True)
    y = sd.tensor([[0.0, 1.0], [0.5, 0.25]], dtype=sd.float32)
    w = sd.tensor([[1.5, 0.5], [2.0, 3.0]], dtype=sd.float64)
    loss = F.binary_cross_entropy(p, y, w, reduction="sum")
    loss.backward()
    want_p, want_y, want_w = (t.detach().numpy().astype(np.float64) for t in (p, y, w))
    terms = -want_w * (want_y * np.log(want_p) + (1 - want_y) * np.log(1 - want_p))
    assert loss.dtype == sd.float32 and p.grad.dtype == sd.float32
    np.testing.assert_allclose(loss.item(), terms.sum(), rtol=1e-6)
    grad = -want_w * (want_y / want_p - (1 - want_y) / (1 - want_p))
    np.testing.assert_allclose(p.grad.numpy(), grad, rtol=1e-5)
    assert nn.BCELoss(weight=w.float())(p.double(), y.double()).dtype == sd.float64


def test_group_norm_batch_norm_2d_and_unflatten_refuse_bad_input_as_pytorch():
    """GroupNorm, BatchNorm2d and Unflatten check their arguments with PyTorch's errors; a
    named dim (srcdiff has no named tensors) is refused rather than read as a number."""
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match=r"divisible by num_groups, but got input of shape "
                       r"\[2, 4, 3\] and num_groups=3"):  # fmt: skip
        F.group_norm(sd.ones(2, 4, 3), 3)
    with pytest.raises(RuntimeError, match="Expected at least 2 dimensions"):
        F.group_norm(sd.ones(4), 2)
    wrong_weight = r"Expected weight to be a vector of size equal to the number of channels"
    with pytest.raises(RuntimeError, match=wrong_weight):
        nn.GroupNorm(2, 4)(sd.ones(2, 6, 3))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(sd.ones(2, 3, 4))
    with pytest.raises(TypeError, match="named tensors"):
        nn.Unflatten("features", (("c", 2), ("h", 3)))
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert repr(nn.Unflatten(1, (2, 3))) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    assert nn.GroupNorm(2, 4, bias=False).bias is None
    assert list(nn.BatchNorm2d(3).state_dict()) == list(nn.BatchNorm1d(3).state_dict())
