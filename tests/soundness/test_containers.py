"""Lists and dicts updated in place by their methods, inside the function and in the
caller's containers: the gradient flows through each entry, and the caller's containers
end as a plain call leaves them."""

import numpy as np
import pytest

import srcdiff as sd

from .verify import verify, verify_both_modes

X = np.array([0.3, -1.2, 0.7])


def extend_insert_pop(x):
    out = [x * 2.0]
    out.extend([np.sin(x), x**2])
    out.insert(1, x * 3.0)
    last = out.pop()
    first = out.pop(0)
    return np.sum(last * first) + np.sum(out[0] * out[1])


def reverse_and_clear(x):
    hs = [x, x * 2.0, np.tanh(x)]
    hs.reverse()
    total = np.sum(hs[0] * hs[2])
    hs.clear()
    hs.append(x * 5.0)
    return total + np.sum(hs[0])


def dict_update_and_pop(x):
    d = {"a": x * 2.0}
    d.update({"b": np.sin(x), "c": x})
    c = d.pop("c")
    return np.sum(d["a"] * d["b"]) + np.sum(c)


def fill_then_write(x):
    h = np.empty(3)
    h.fill(x[0])
    h[1] = x[2] * 4.0
    return np.sum(h * x)


def resize_a_copy(x):
    h = x * 1.0
    h.resize((2, 2), refcheck=False)
    return np.sum(h * h)


def appends_to_the_callers_list(x, log):
    log.append(x * 2.0)
    log.extend([1.0])
    return np.sum(log[-2] * x)


def writes_into_the_callers_dict(x, state):
    state["h"] = np.tanh(x)
    state["count"] = state.get("count", 0) + 1
    return np.sum(state["h"] ** 2)


def remove_by_value(x):
    """``xs.remove(v)`` takes out the first entry that is ``v`` or equals it (it was
    refused as the update of a list reached through a field, which ``xs`` is not)."""
    xs = [x[0] * 2.0, x[1], x[2] ** 2, x[1] * 1.0]
    xs.remove(min(xs))
    xs.remove(xs[1])
    return xs[0] * xs[1] + sum(xs)


def remove_an_array_held_twice(x):
    h = np.sin(x)
    hs = [h, x * 2.0, h]
    hs.remove(h)
    s = {1, 2}
    s.remove(2)
    return np.sum(hs[0] * hs[1]) * len(s)


FUNCTIONS = [extend_insert_pop, reverse_and_clear, dict_update_and_pop, fill_then_write,
             resize_a_copy, remove_by_value, remove_an_array_held_twice]  # fmt: skip


@pytest.mark.parametrize("fn", FUNCTIONS, ids=[f.__name__ for f in FUNCTIONS])
def test_updates_of_local_containers(fn):
    assert verify(fn, (X,)) == "ok"


@pytest.mark.parametrize(
    "fn, container",
    [(appends_to_the_callers_list, [np.ones(3)]), (writes_into_the_callers_dict, {"count": 1})],
    ids=["list", "dict"],
)
def test_updates_of_the_callers_containers(fn, container):
    assert verify(fn, (X, container)) == "ok"


GLIST = [1.0, 2.0, 3.0]


def _rebound_to_a_global_on_one_path(x, lst):
    if x[0] > 0:
        lst = GLIST
    lst += [5.0]
    return np.sum(x * x) * len(GLIST)


def _rebound_to_a_new_list_on_one_path(x, lst):
    if x[0] > 0:
        lst = [1.0, 2.0]
    lst += [5.0]
    return np.sum(x * x) * len(lst)


def _a_default_list_made_when_none(x, lst=None):
    if lst is None:
        lst = []
    lst.append(float(np.sum(x)))
    return np.sum(x * x)


@pytest.mark.parametrize(
    "f",
    [_rebound_to_a_global_on_one_path, _rebound_to_a_new_list_on_one_path,
     _a_default_list_made_when_none],
    ids=lambda f: f.__name__,
)  # fmt: skip
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_list_argument_given_another_list_on_one_path(f, sign):
    """Where the parameter was given another list, that list is not the caller's: it was
    written back into the caller's list (whose contents it replaced)."""
    import srcdiff as sd

    x = sign * X
    plain_list, compiled_list = [9.0], [9.0]
    GLIST[:] = [1.0, 2.0, 3.0]
    expected = f(x, plain_list)
    plain_global = list(GLIST)
    GLIST[:] = [1.0, 2.0, 3.0]
    value, grad = sd.value_and_grad(f)(x, compiled_list)
    assert value == pytest.approx(expected)
    assert compiled_list == plain_list and plain_global == GLIST
    np.testing.assert_allclose(grad, 2.0 * x * (expected / np.sum(x * x)))


# ---- dicts iterated, lists unpacked --------------------------------------------------------


def loops_over_items(x):
    d = {"a": x * 2.0, "b": np.sin(x)}
    s = 0.0
    for k, v in d.items():
        s = s + v * x * len(k)
    for v in d.values():
        s = s + v * v
    for k in d:
        s = s + d[k] * x
    for k in d:
        s = s + np.cos(d[k])
    return np.sum(s)


def _sums_items(x, d):
    s = 0.0
    for _, v in d.items():
        s = s + v * x
    return np.sum(s)


def loops_over_a_given_dict(x):
    return _sums_items(x, {"a": x * 2.0, "b": np.tanh(x)})


def _pair(x):
    return [x * 2.0, np.sin(x)]


def _triple(x):
    return (x * 2.0, np.sin(x), x**2)


def unpacks_lists(x):
    vs = [x * 2.0, x + 1.0, np.cos(x)]
    a, b, c = vs
    first, *rest = vs
    p, q = _pair(x)
    u, *others = _triple(x)
    *init, last = _triple(x)
    return np.sum(a * b * c + first * rest[1] + p * q + u * others[1] + init[0] * last)


@pytest.mark.parametrize("fn", [loops_over_items, loops_over_a_given_dict, unpacks_lists])
def test_dicts_iterated_and_lists_unpacked(fn):
    verify_both_modes(fn, (X,), np.random.default_rng(4))
    hessian = sd.hessian(fn)(X)
    for i in range(3):
        want = [(sd.grad(fn)(X + e)[i] - sd.grad(fn)(X - e)[i]) / 2e-5 for e in np.eye(3) * 1e-5]
        np.testing.assert_allclose(hessian[i], want, rtol=1e-5, atol=1e-6)
