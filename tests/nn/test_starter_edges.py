"""Edges of the starter layers and functions where PyTorch 2.13 keeps a dtype or raises
(its results noted beside each), eagerly and in compiled steps."""

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import nn
from srcdiff.nn import functional as F


def test_relu6_and_hardtanh_of_integers_stay_integers():
    t = sd.tensor([-3, 0, 9])
    six, one = F.relu6(t), F.hardtanh(t)  # PyTorch: tensor([0, 0, 6]), tensor([-1, 0, 1])
    assert six.dtype == sd.int64 and six.tolist() == [0, 0, 6]
    assert one.dtype == sd.int64 and one.tolist() == [-1, 0, 1]
    w = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def step(t):
        loss = (F.relu6(t) * w).sum()
        loss.backward()
        return loss.detach()

    for run in (step, sd.differentiate(step)):
        w.grad = None
        loss = run(t)
        assert loss.dtype == sd.float32 and loss.item() == 18.0
        assert w.grad.tolist() == [0.0, 0.0, 6.0]


def test_logsigmoid_of_integers_is_pytorchs_error():
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.logsigmoid(sd.tensor([1, 2]))


def test_leaky_relu_of_integers_is_pytorchs_error():
    """(It gave a float tensor.)"""
    with pytest.raises(NotImplementedError, match="leaky_relu_cpu.*not implemented for 'Long'"):
        F.leaky_relu(sd.tensor([-2, 0, 3]))


def test_leaky_relu_and_hardtanh_steps_match_eager_ones():
    """Each one recorded operation, which compiled code differentiates by its rule."""
    w = sd.tensor([0.5, -1.0, 2.0], requires_grad=True)

    def step(x):
        loss = (F.leaky_relu(w * x, 0.2) + F.hardtanh(w * x, -0.5, 1.0)).sum()
        loss.backward()
        return loss.item()

    runs = []
    for run in (step, sd.differentiate(step)):
        w.grad = None
        runs.append((run(sd.tensor([-1.0, 0.3, 2.0])), w.grad.tolist()))
    assert runs[0] == runs[1] and runs[0][1] == [-0.20000000298023224, 0.36000001430511475, 2.0]


def test_batch_norm_of_4d_input_is_pytorchs_error_when_compiled_too():
    bn = nn.BatchNorm1d(2)

    def step(x):
        loss = bn(x).sum()
        loss.backward()
        return loss.detach()

    for run in (step, sd.differentiate(step)):
        with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
            run(sd.tensor(np.ones((2, 2, 2, 2))))


def test_an_embedding_scaled_by_frequency_keeps_its_dtype_when_compiled():
    """The counts it divides by were int64: NumPy made the rows float64."""
    embedding = nn.Embedding(5, 2, scale_grad_by_freq=True)

    def step(indices):
        out = embedding(indices)
        out.sum().backward()
        return out.detach()

    for run in (step, sd.differentiate(step)):
        embedding.weight.grad = None
        out = run(sd.tensor([1, 1, 3]))
        assert out.dtype == sd.float32
        np.testing.assert_array_equal(embedding.weight.grad.numpy()[[1, 3]], np.ones((2, 2)))


W = [[0.5, -1.25, 2.0], [1.5, 0.25, -2.5], [-0.75, 2.25, 0.125], [0.1, 0.2, -0.3]]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_an_embedding_with_max_norm_renormalizes_the_rows_it_looks_up_in_place(compiled):
    """As PyTorch's ``embedding_renorm_``: the rows looked up whose norm exceeds
    ``max_norm`` are scaled by ``max_norm / (norm + 1e-7)`` in the weight itself, before
    the lookup, unrecorded; the others (row 1, not looked up) stay. PyTorch 2.13's values."""

    def step(m, idx):
        out = m(idx)
        (out * out.flip(-1)).sum().backward()
        return out.detach()

    run = sd.differentiate(step) if compiled else step
    w = sd.tensor(W, dtype=sd.float64)
    m = nn.Embedding.from_pretrained(w.clone(), freeze=False, max_norm=2.0)
    out = run(m, sd.tensor([0, 2, 0]))
    renormed = [
        [0.4147806606878698, -1.0369516517196744, 1.6591226427514791],
        [1.5, 0.25, -2.5],
        [-0.6315789207756245, 1.8947367623268734, 0.10526315346260408],
        [0.1, 0.2, -0.3],
    ]
    assert m.weight.detach().tolist() == renormed
    assert out.tolist() == [renormed[0], renormed[2], renormed[0]]
    assert m.weight.grad.tolist() == [
        [6.6364905710059166, -4.147806606878698, 1.6591226427514791],
        [0.0, 0.0, 0.0],
        [0.21052630692520816, 3.7894735246537468, -1.263157841551249],
        [0.0, 0.0, 0.0],
    ]
    weight = w.clone()
    out = F.embedding(sd.tensor([[1], [3]]), weight, max_norm=1.0, norm_type=float("inf"))
    row = [0.599999976000001, 0.09999999600000016, -0.9999999600000016]
    assert weight.tolist()[1] == row and out.tolist() == [[row], [[0.1, 0.2, -0.3]]]  # fmt: skip


def test_an_embedding_takes_long_and_int_indices_alone():
    """uint8 indices are PyTorch's error (NumPy took them for a mask, or rows)."""
    embedding = nn.Embedding(5, 2)
    for run in (embedding, sd.differentiate(lambda i: embedding(i))):
        with pytest.raises(RuntimeError, match="Long, Int; but got srcdiff.ByteTensor"):
            run(sd.tensor([1, 3], dtype=sd.uint8))
    assert embedding(sd.tensor([1, 3], dtype=sd.int32)).shape == (2, 2)


def test_batch_norm_loads_a_state_without_its_count_of_batches():
    """A state saved without ``num_batches_tracked`` (a plain dict, an older PyTorch's)
    loads, keeping the module's own count, as PyTorch's does; other keys stay required."""
    bn = nn.BatchNorm1d(2)
    bn(sd.tensor(np.random.default_rng(0).standard_normal((4, 2)), dtype=sd.float32))
    state = {k: v for k, v in nn.BatchNorm1d(2).state_dict().items() if k != "num_batches_tracked"}
    result = bn.load_state_dict(state)
    assert result.missing_keys == [] and bn.num_batches_tracked.item() == 1  # (PyTorch: too)
    np.testing.assert_array_equal(bn.running_mean.numpy(), [0.0, 0.0])
    del state["running_var"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "running_var"'):
        bn.load_state_dict(state)
