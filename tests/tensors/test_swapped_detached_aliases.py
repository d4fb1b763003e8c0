"""A tuple assignment swapping a Tensor and a detached alias of it (``a, b = h,
h.detach()``, then ``a, b = b, a``), then an in-place update through one of them: the
names hold a detached alias at one point and not at another, which the compiled step
took for an attached alias throughout, silently (gradient [0, 0, 0] where eager code
gives [16, 32, 48]). It is refused at the update's line, naming the user's names."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd


def multiplies_a_swapped_detached_alias(w):
    h = w * 2.0
    a, b = h, h.detach()
    a, b = b, a
    a.mul_(2.0)
    loss = (h * b).sum()
    loss.backward()
    return loss


def adds_to_a_swapped_data_alias(w):
    h = w * 2.0
    x, y = h.data, h
    x, y = y, x
    y += 1.0
    loss = (h * x).sum()
    loss.backward()
    return loss


def keeps_the_detached_alias_apart(w):
    h = w * 2.0
    a, b = h, h.detach()
    b.mul_(2.0)
    loss = (h * a).sum()
    loss.backward()
    return loss


@pytest.mark.parametrize(
    "fn, line, said",
    [
        (multiplies_a_swapped_detached_alias, 4, "`a` is a detached alias"),
        (adds_to_a_swapped_data_alias, 4, "`x` is a detached alias"),
    ],
)
def test_an_update_through_a_swapped_detached_alias_is_refused(fn, line, said):
    w = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    fn(w)
    assert np.any(w.grad.numpy() != 0.0)  # (eager code: a gradient the alias leaves alone)
    with pytest.raises(sd.CompileError, match="tuple assignment swapping names") as info:
        sd.differentiate(fn)(sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True))
    assert said in str(info.value)
    assert info.value.lineno == fn.__code__.co_firstlineno + line
    assert "`t" not in str(info.value)  # (no temporary of normalize's named)


def test_a_detached_alias_not_swapped_is_followed():
    got, want = [], []
    for out, step in ((want, keeps_the_detached_alias_apart),
                      (got, sd.differentiate(keeps_the_detached_alias_apart))):  # fmt: skip
        w = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
        out += [step(w).item(), w.grad.numpy()]
    assert got[0] == pytest.approx(want[0])
    np.testing.assert_allclose(got[1], want[1])
