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
