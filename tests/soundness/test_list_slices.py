"""A slice of a list given a list display of another length (``z[1:] += [v]``, ``z[0:2] =
[a, b]`` where the slice held one entry): the list grows or shrinks, and the gradient of
each entry follows it to its new place, in both modes; an alias of the list sees it."""

import numpy as np
import pytest

import srcdiff as sd

from .verify import verify_both_modes


def grows_by_augmented(x):
    z = [x[0], x[1] * 2]
    z[1:] += [x[2] ** 2]
    return z[0] * z[1] + np.sum(z[2])


def grows_into_a_short_list(x):
    z = [x[0]]
    z[0:2] = [x[1] * 3, x[2]]
    return z[0] * z[1]


def shrinks(x):
    z = [x[0], 1.0, 2.0]
    z[0:2] = [x[1] * 3]
    return z[0] * z[1] + x[0] * len(z)


def replaces_all(x):
    z = [x[0], x[1]]
    z[:] = [x[1] * 3, x[2], x[0]]
    return z[0] * z[1] * z[2]


def of_arrays(x):
    z = [x[0:2], x[1:3]]
    z[1:] += [np.sin(x[0:2])]
    return np.sum(z[0] * z[1] * z[2])


def seen_by_an_alias(x):
    z = [1.0, 2.0]
    w = z
    z[1:] += [x[0] ** 2]
    z[-1:] = [z[-1] * x[1], x[2]]
    return z[0] * z[1] + w[2] * w[3]


def negative_bounds(x):
    z = [x[0], x[1], x[2]]
    z[-2:-1] = [x[0] * x[1], x[2] * 2.0, 5.0]
    return z[0] * z[1] + z[2] * z[3] - z[4]


def in_a_loop(x):
    z = [x[0]]
    for i in range(3):
        z[i:] = [z[i] * x[i], x[i] + 1.0]
    return z[0] + z[1] * z[2] - z[3]


FUNCTIONS = [grows_by_augmented, grows_into_a_short_list, shrinks, replaces_all, of_arrays,
             seen_by_an_alias, negative_bounds, in_a_loop]  # fmt: skip


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_gradients_follow_the_entries(fn):
    x = np.array([0.7, -1.3, 2.1])
    verify_both_modes(fn, (x,), np.random.default_rng(0))


def test_a_slice_given_a_list_in_a_name_is_still_refused():
    """Only a display written into the slice is followed; a list held in a name, whose
    length compiled code does not see where it writes it, is refused with the rewrite."""

    def f(x):
        z = [x[0], x[1]]
        more = [x[2], x[0]]
        z[1:] = more
        return z[0] * z[2]

    with pytest.raises(sd.CompileError, match="another number of entries"):
        sd.grad(f)(np.array([0.7, -1.3, 2.1]))


def test_a_tensor_step_grows_a_list():
    def loss_of(w):
        h = w * 1.0
        z = [h[0], h[1]]
        z[1:] += [h[2] * 2.0]
        z[0:1] = [z[0].tanh(), h[1]]
        return (z[0] * z[1] + z[2] * z[3]).sum()

    @sd.differentiate
    def step(w):
        loss = loss_of(w)
        loss.backward()
        return loss

    w0 = np.random.default_rng(1).standard_normal((3, 2))
    w = sd.tensor(w0, requires_grad=True)
    value = step(w)
    assert value.item() == pytest.approx(loss_of(sd.tensor(w0)).item(), rel=1e-12)
    for eps in (1e-6, 1e-4):
        fd = np.zeros_like(w0)
        for i in np.ndindex(w0.shape):
            up, down = w0.copy(), w0.copy()
            up[i] += eps
            down[i] -= eps
            fd[i] = (loss_of(sd.tensor(up)).item() - loss_of(sd.tensor(down)).item()) / (2 * eps)
        np.testing.assert_allclose(w.grad.numpy(), fd, rtol=1e-6, atol=1e-8)
