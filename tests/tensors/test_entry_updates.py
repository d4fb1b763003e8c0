"""An entry of a Tensor read by indexing (``t = a[0]``, ``for t in a:``,
``a.select(0, i)``, ``a.unbind()[i]``, of ``a.detach()`` or of a list holding ``a``)
and updated in place (``t += v``, ``t.add_(v)``): in PyTorch a 0-d view, so the update
changes ``a``; a compiled step held the entry as a NumPy number and lost the update,
silently (value 2.115 and gradient [0.75, 4.32, 1.47, 6.75] where eager code gives
-27.801 and [28.83, 90.81, 1.47, 6.75]). Where ``a`` is read after the update, it is
refused at the line; an entry updated and read alone, and a reduction's number, still
work."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd

X = np.array([0.5, -1.2, 0.7, 1.5])


def adds_into_an_entry(x):
    a = x * 1
    a[0].add_(a[1] * 3)
    loss = (a**3).sum()
    loss.backward()
    return loss


def adds_to_an_entry_by_name(x):
    a = x * 1
    t = a[0]
    t += 5.0
    loss = (a**2).sum()
    loss.backward()
    return loss


def multiplies_each_entry_of_a_loop(x):
    a = x * 1
    for v in a:
        v.mul_(2)
    loss = (a**3).sum()
    loss.backward()
    return loss


def adds_to_an_unpacked_entry(x):
    h = x * 1
    a, b = h[0], h[1]
    a += b
    loss = (h**2).sum() + a
    loss.backward()
    return loss


def multiplies_a_selected_entry(x):
    h = x * 1
    t = h.select(0, 2)
    t.mul_(5)
    loss = (h**2).sum()
    loss.backward()
    return loss


def multiplies_an_unbound_entry(x):
    h = x * 1
    hs = h.unbind(0)
    hs[0].mul_(5)
    loss = (h**2).sum()
    loss.backward()
    return loss


def multiplies_an_entry_of_a_detached_alias(x):
    h = x * 2
    d = h.detach()
    d[0].mul_(0)
    loss = (h * x).sum()
    loss.backward()
    return loss


def adds_to_an_entry_of_data(x):
    h = x * 2
    t = h.data[1]
    t += 100.0
    loss = (h * x).sum()
    loss.backward()
    return loss


def multiplies_an_entry_of_a_listed_tensor(x):
    h = x * 2
    hs = [h]
    t = hs[0][2]
    t.mul_(10)
    loss = (h * x).sum()
    loss.backward()
    return loss


def writes_the_entry_into_the_tensor(x):
    a = x * 1
    a[0] = a[0] + a[1] * 3
    loss = (a**3).sum()
    loss.backward()
    return loss


def multiplies_an_entry_of_the_transpose(x):
    h = x * 1
    t = h.T[2]
    t.mul_(5)
    loss = (h**2).sum()
    loss.backward()
    return loss


def multiplies_an_entry_of_a_row_of_a_view(x):
    h = x * 1
    t = h.view(2, 2)[1][0]
    t.mul_(5)
    loss = (h**2).sum()
    loss.backward()
    return loss


def multiplies_an_entry_of_a_split(x):
    h = x * 1
    t = h.split(2)[1][0]
    t.mul_(5)
    loss = (h**2).sum()
    loss.backward()
    return loss


def multiplies_an_entry_of_its_list(x):
    h = x * 1
    t = list(h)[2]
    t.mul_(5)
    loss = (h**2).sum()
    loss.backward()
    return loss


def multiplies_an_entry_read_alone(x):
    a = x * 1
    e = a[2]
    e.mul_(3)
    loss = e * 2
    loss.backward()
    return loss


def adds_to_a_sum(x):
    s = (x * 1).sum()
    s.add_(1)
    loss = s * 2
    loss.backward()
    return loss


def run(fn, compiled):
    x = sd.tensor(X.copy(), requires_grad=True)
    value = (sd.differentiate(fn) if compiled else fn)(x)
    return float(value), x.grad.numpy()


@pytest.mark.parametrize(
    "fn",
    [
        adds_into_an_entry,
        adds_to_an_entry_by_name,
        multiplies_each_entry_of_a_loop,
        adds_to_an_unpacked_entry,
        multiplies_a_selected_entry,
        multiplies_an_unbound_entry,
        multiplies_an_entry_of_a_detached_alias,
        adds_to_an_entry_of_data,
        multiplies_an_entry_of_a_listed_tensor,
        multiplies_an_entry_of_the_transpose,  # (these four: value 4.43 and gradient
        multiplies_an_entry_of_a_row_of_a_view,  # [1, -2.4, 1.4, 3] where PyTorch writes
        multiplies_an_entry_of_a_split,  # the entry into h, 16.19 and [1, -2.4, 35, 3],
        multiplies_an_entry_of_its_list,  # or refuses it as a view of unbind)
    ],
)
def test_an_entry_updated_in_place_then_the_tensor_read_is_refused(fn):
    with pytest.raises(sd.CompileError, match="0-d view"):
        run(fn, compiled=True)


@pytest.mark.parametrize(
    "fn", [writes_the_entry_into_the_tensor, multiplies_an_entry_read_alone, adds_to_a_sum]
)
def test_a_compiled_step_gives_what_eager_code_gives(fn):
    value, grad = run(fn, compiled=True)
    eager_value, eager_grad = run(fn, compiled=False)
    assert value == pytest.approx(eager_value, rel=1e-12)
    np.testing.assert_allclose(grad, eager_grad, rtol=1e-12)


def test_eager_code_writes_the_entry_through_its_view():
    """The reference the refusal keeps compiled code from contradicting: eager code
    (as PyTorch) changes ``a`` through the entry, by central differences."""
    value, grad = run(adds_into_an_entry, compiled=False)

    def plain(v):
        a = v.copy()
        a[0] += a[1] * 3
        return float((a**3).sum())

    assert value == pytest.approx(plain(X), rel=1e-12)
    for eps in (1e-6, 1e-4):
        fd = [(plain(X + eps * e) - plain(X - eps * e)) / (2 * eps) for e in np.eye(4)]
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def adds_to_an_alias_of_a_sum(x):
    s = (x * 2).sum()
    d = s
    d += 1.0
    loss = s * x.sum()
    loss.backward()
    return loss


def multiplies_an_alias_of_a_max(x):
    m = (x * 2).max()
    m2 = m
    m2.mul_(3.0)
    loss = m * x.sum()
    loss.backward()
    return loss


@pytest.mark.parametrize("fn", [adds_to_an_alias_of_a_sum, multiplies_an_alias_of_a_max])
def test_an_alias_of_a_number_updated_in_place_then_read_is_refused(fn):
    """``d = s; d += 1`` with ``s = h.sum()``: PyTorch changes the 0-d Tensor both names
    hold; compiled code held it as a NumPy number, and ``s`` kept its old value silently
    (value 4.5 and gradient [6, 6, 6, 6] where eager code gives 6.0 and [7, 7, 7, 7])."""
    with pytest.raises(sd.CompileError, match="same 0-d Tensor"):
        run(fn, compiled=True)


def test_an_alias_of_a_number_updated_in_place_eagerly_changes_both():
    value, grad = run(adds_to_an_alias_of_a_sum, compiled=False)
    assert value == pytest.approx((2 * X.sum() + 1.0) * X.sum())
    np.testing.assert_allclose(grad, np.full(4, 4 * X.sum() + 1.0))
