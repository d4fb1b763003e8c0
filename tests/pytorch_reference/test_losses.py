"""MarginRankingLoss, CosineEmbeddingLoss and TripletMarginLoss (modules and functions,
every reduction, margins, p-norms and swap) against PyTorch 2.13's values and input
gradients (recorded by ``record.py`` from ``programs.losses``), eagerly and compiled;
and their gradients against central finite differences."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd

from . import programs

VALUES = json.loads((Path(__file__).parent / "values.json").read_text())
KEYS = list(programs._losses(sd))


@functools.cache
def _run(compiled: bool) -> dict[str, list]:
    return programs.losses(sd, sd.differentiate if compiled else None)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("key", KEYS)
def test_values_and_gradients_are_pytorchs(key, compiled):
    got, want = _run(compiled)[f"loss/{key}"], VALUES[f"loss/{key}"]
    assert len(got) == len(want)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _central(f, x, h):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        grad[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


@pytest.mark.parametrize(
    "loss",
    [
        lambda a, b, c: sd.nn.functional.margin_ranking_loss(a.sum(1), b.sum(1), c[:, 0].sign(),
                                                             margin=0.3),
        lambda a, b, c: sd.nn.functional.cosine_embedding_loss(a, b, c[:, 0].sign(), margin=0.2),
        lambda a, b, c: sd.nn.functional.triplet_margin_loss(a, b, c, margin=2.0, p=3, swap=True),
        lambda a, b, c: sd.nn.functional.triplet_margin_loss(a, b, c, margin=2.0, p=1.5),
    ],
    ids=["margin_ranking", "cosine_embedding", "triplet-p3-swap", "triplet-p1.5"],
)  # fmt: skip
def test_gradients_match_central_differences(loss):
    rng = np.random.default_rng(4)
    a, b, c = (rng.standard_normal((5, 4)) for _ in range(3))

    def value(a, b):
        return loss(sd.tensor(a), sd.tensor(b), sd.tensor(c)).item()

    ta, tb = sd.tensor(a, requires_grad=True), sd.tensor(b, requires_grad=True)
    loss(ta, tb, sd.tensor(c)).backward()
    for h in (1e-5, 1e-6):
        np.testing.assert_allclose(ta.grad.numpy(), _central(lambda x: value(x, b), a, h),
                                   rtol=1e-5, atol=1e-7)  # fmt: skip
        np.testing.assert_allclose(tb.grad.numpy(), _central(lambda x: value(a, x), b, h),
                                   rtol=1e-5, atol=1e-7)  # fmt: skip


def test_shapes_pytorch_refuses_are_refused():
    F = sd.nn.functional
    x = sd.zeros(3, 4)
    with pytest.raises(RuntimeError, match="All input tensors should have same dimension"):
        F.margin_ranking_loss(sd.zeros(3), sd.zeros(3), sd.zeros(3, 1))
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(sd.zeros(4), sd.zeros(4), sd.ones(1))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected"):
        F.cosine_embedding_loss(x, x, sd.ones(3, 1))
    with pytest.raises(RuntimeError, match="expected to have the same number of dimensions"):
        F.triplet_margin_loss(x, x, sd.zeros(4))
    with pytest.raises(ValueError, match="expected margin to be greater than 0, got 0"):
        sd.nn.TripletMarginLoss(margin=0)
    with pytest.raises(ValueError, match="^margin must be greater than 0, got -1.0$"):
        F.triplet_margin_loss(x, x, x, margin=-1.0)


TARGET_KEYS = list(programs._target_losses(sd))


@functools.cache
def _run_targets(compiled: bool) -> dict[str, list]:
    return programs.target_losses(sd, sd.differentiate if compiled else None)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("key", TARGET_KEYS)
def test_hinge_and_multi_margin_values_and_gradients_are_pytorchs(key, compiled):
    got, want = _run_targets(compiled)[f"loss/{key}"], VALUES[f"loss/{key}"]
    assert len(got) == len(want)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "loss, target",
    [
        (lambda x, t: sd.nn.functional.hinge_embedding_loss(x, t, margin=0.8), "signs"),
        (lambda x, t: sd.nn.HingeEmbeddingLoss(reduction="sum")(x, t), "signs"),
        (lambda x, t: sd.nn.functional.multi_margin_loss(x, t, margin=1.5), "classes"),
        (lambda x, t: sd.nn.MultiMarginLoss(p=2, weight=sd.tensor([1.0, 0.5, 2.0, 3.0]),
                                            reduction="sum")(x, t), "classes"),
    ],
    ids=["hinge", "hinge-module", "multi_margin", "multi_margin-p2-weight"],
)  # fmt: skip
def test_hinge_and_multi_margin_gradients_match_central_differences(loss, target):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4))
    if target == "signs":
        t = sd.tensor(np.where(rng.standard_normal((5, 4)) > 0, 1.0, -1.0))
    else:
        t = sd.tensor(rng.integers(0, 4, size=5))

    def value(x):
        return loss(sd.tensor(x), t).item()

    tx = sd.tensor(x, requires_grad=True)
    loss(tx, t).backward()
    assert np.abs(tx.grad.numpy()).sum() > 0
    for h in (1e-5, 1e-6):
        np.testing.assert_allclose(tx.grad.numpy(), _central(value, x, h), rtol=1e-5, atol=1e-7)


def test_multi_margin_loss_refuses_what_pytorch_refuses():
    F, x = sd.nn.functional, sd.zeros(2, 3)
    with pytest.raises(RuntimeError, match="^target out of range$"):
        F.multi_margin_loss(x, sd.tensor([0, 3]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2\], but got \[3\]"):
        F.multi_margin_loss(x, sd.tensor([0, 1, 1]))
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        F.multi_margin_loss(x, sd.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, sd.tensor([0, 1]), p=3)
    with pytest.raises(ValueError, match="weight must be one-dimensional"):
        F.multi_margin_loss(x, sd.tensor([0, 1]), weight=sd.ones(1, 3))
    with pytest.raises(ValueError, match="expected weight to be None or 1D tensor, got 2D"):
        sd.nn.MultiMarginLoss(weight=sd.ones(1, 3))


def test_multi_margin_loss_class_weights_get_their_gradient():
    rng = np.random.default_rng(8)
    x, t = sd.tensor(rng.standard_normal((6, 4))), sd.tensor(rng.integers(0, 4, size=6))
    weight = rng.uniform(0.5, 2.0, size=4)

    def value(w):
        return sd.nn.functional.multi_margin_loss(x, t, p=2, weight=sd.tensor(w)).item()

    tw = sd.tensor(weight, requires_grad=True)
    sd.nn.functional.multi_margin_loss(x, t, p=2, weight=tw).backward()
    for h in (1e-5, 1e-6):
        np.testing.assert_allclose(
            tw.grad.numpy(), _central(value, weight, h), rtol=1e-6, atol=1e-9
        )
