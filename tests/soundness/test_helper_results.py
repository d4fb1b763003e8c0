"""What a call of a function of the user's may share with what it is given: a helper
returning a new array (``return X @ p["w"] + p["b"]``) makes none of its arguments share
an object with its result, or with each other, so updating the function's own parameters
after it is not an update of the global ``X`` it was also given. A helper that may
return (a view of, an entry of) an argument or a global, or store one argument into
another, keeps them together, and what is refused there stays refused."""

import dataclasses

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler.mutation import returns_new

X = np.random.default_rng(0).normal(size=(20, 3))
Y = X @ np.array([1.0, -2.0, 0.5])
XC, YC = X.copy(), Y.copy()
GX = np.arange(6.0).reshape(3, 2)


def init(w0):
    return {"w": w0.copy(), "b": np.zeros(1)}


def fwd(p, X):
    return X @ p["w"] + p["b"]


def train(w0, lr):
    p = init(w0)
    for _ in range(5):
        r = fwd(p, X) - Y
        p["w"] -= lr * (X.T @ r) / len(Y)
        p["b"] -= lr * np.mean(r, keepdims=True)
    return np.sum(fwd(p, X) ** 2)


def _linear(w, X):
    return X @ w


def _act(h):
    return np.tanh(h) * 2.0


def _layer(w, X):
    return _act(_linear(w, X))


def an_entry_of_a_dict_updated_after_a_helper(w0):
    p = {"w": w0 * 1.0}
    r = _linear(p["w"], GX)
    p["w"] -= np.sum(r)
    return np.sum(p["w"] ** 2)


def an_entry_of_a_list_set_after_a_helper_in_a_loop(w0):
    p = [w0 * 1.0]
    for _ in range(2):
        r = _layer(p[0], GX)
        p[0] = p[0] - 0.1 * np.sum(r)
    return np.sum(p[0] ** 2)


def _finite_difference(f, args, i, h=1e-6):
    x = np.asarray(args[i], dtype=float)
    grad = np.zeros_like(x)
    for k in range(x.size):
        step = np.zeros_like(x)
        step.flat[k] = h
        up = list(args)
        down = list(args)
        up[i], down[i] = x + step, x - step
        grad.flat[k] = (f(*up) - f(*down)) / (2 * h)
    return grad


@pytest.mark.parametrize(
    "f, args",
    [
        (train, (np.array([0.1, 0.2, -0.3]), 0.1)),
        (an_entry_of_a_dict_updated_after_a_helper, (np.array([0.5, -1.0]),)),
        (an_entry_of_a_list_set_after_a_helper_in_a_loop, (np.array([0.5, -1.0]),)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_the_functions_own_arrays_updated_after_a_helper_returning_a_new_array(f, args):
    expected = f(*[np.copy(a) for a in args])
    given = [np.copy(a) for a in args]
    value, grad = sd.value_and_grad(f)(*given)
    assert value == pytest.approx(expected)
    np.testing.assert_allclose(grad, _finite_difference(f, args, 0), rtol=1e-5, atol=1e-6)
    for a, b in zip(given, args, strict=True):
        np.testing.assert_array_equal(a, b)  # the caller's arrays, and the globals, as they were
    np.testing.assert_array_equal(X, XC)
    np.testing.assert_array_equal(Y, YC)
    np.testing.assert_array_equal(GX, np.arange(6.0).reshape(3, 2))


def _reads_gx(w, X):
    return np.sum(X @ w)


def a_global_given_to_a_helper_then_changed(w):
    s = _reads_gx(w, GX)
    GX[0, 0] += 1.0
    return s


def test_a_global_the_helper_read_changed_after_it_is_still_refused():
    try:
        with pytest.raises(sd.CompileError, match="after a call of `_reads_gx`"):
            sd.grad(a_global_given_to_a_helper_then_changed)(np.ones(2))
    finally:
        GX[:] = np.arange(6.0).reshape(3, 2)


def _the_second(p, X):
    return X


def _a_view_of_the_second(p, X):
    return X[:2]


def _new_or_the_second(p, X):
    return X @ p["w"] if p["w"].size > 1 else X


def _keeps_the_second_in_the_first(p, X):
    p["X"] = X
    return X @ p["w"]


def _appends_the_second(p, X):
    out = [X @ p["w"]]
    out.append(X)
    return np.sum(out[0])


@pytest.mark.parametrize(
    "helper, new",
    [
        (fwd, True),
        (_linear, True),
        (_layer, True),
        (init, False),  # (``w0.copy()`` of a list would hold its entries)
        (_the_second, False),
        (_a_view_of_the_second, False),
        (_new_or_the_second, False),
        (_keeps_the_second_in_the_first, False),
        (_appends_the_second, False),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_which_helpers_return_a_new_array(helper, new):
    assert returns_new(helper) is new


def _updates_what_a_helper_returned(helper):
    def f(w0):
        p = {"w": w0 * 1.0}
        h = helper(p, GX)
        h[0] = h[0] * 0.0 + 1.0  # an update of what the helper returned
        return np.sum(p["w"] ** 2) + np.sum(GX[0] * w0)

    return f


def _updates_an_entry_a_helper_stored(w0):
    p = {"w": w0 * 1.0}
    s = _keeps_the_second_in_the_first(p, GX)
    p["X"][0, 0] = 7.0
    return np.sum(s) + np.sum(GX[0] * w0)


@pytest.mark.parametrize(
    "f",
    [
        _updates_what_a_helper_returned(_the_second),
        _updates_what_a_helper_returned(_a_view_of_the_second),
        _updates_what_a_helper_returned(_new_or_the_second),
        _updates_an_entry_a_helper_stored,
    ],
    ids=["the_second", "a_view", "new_or_the_second", "stored_in_the_first"],
)
def test_an_update_of_what_a_helper_may_return_of_a_global_is_refused(f):
    """Where the helper may hand back the global (or a view of it, or put it in the
    dict), an update through the result would change the global after a call whose
    derivative reads it: refused, before anything runs."""
    GX[:] = np.arange(6.0).reshape(3, 2)
    with pytest.raises(sd.CompileError, match="after a call of|object a global holds"):
        sd.grad(f)(np.array([0.5, -1.0]))
    np.testing.assert_array_equal(GX, np.arange(6.0).reshape(3, 2))


def an_entry_of_a_global_changed_after_a_helper_read_it(w):
    s = _reads_gx(w, GX)
    GROUPS["x"][0, 0] = 2.0
    return s


GROUPS = {"x": GX}


@pytest.mark.parametrize(
    "fn, shown",
    [
        (a_global_given_to_a_helper_then_changed, "through `GX`"),
        (an_entry_of_a_global_changed_after_a_helper_read_it, "through `GROUPS['x']`"),
    ],
)
def test_the_refusal_of_a_change_after_a_helper_names_the_array_as_written(fn, shown):
    """The refusal says which array is changed, as the user wrote it (it said only "an
    array from outside the function"), and the line of the call before."""
    try:
        with pytest.raises(sd.CompileError, match="after a call of `_reads_gx`") as info:
            sd.grad(fn)(np.ones(2))
    finally:
        GX[:] = np.arange(6.0).reshape(3, 2)
    assert shown in str(info.value)
    assert info.value.lineno == fn.__code__.co_firstlineno + 2


# ---- objects a helper builds, read by the caller -------------------------------------------


@dataclasses.dataclass
class _Pair:
    u: np.ndarray
    v: np.ndarray


class _Box:
    def __init__(self, w):
        self.w = w
        self.n = 2.0


def _pair_of(x):
    return _Pair(x * 2.0, np.sin(x))


def _boxed(x):
    b = _Box(x * x)
    b.w = b.w + np.cos(x)
    return b


def reads_fields_of_objects_helpers_built(x):
    p = _pair_of(x)
    b = _boxed(p.v)
    return np.sum(p.u * p.v + b.w * b.n * x)


def test_fields_of_an_object_a_helper_built_carry_their_gradients():
    from .verify import verify_both_modes

    verify_both_modes(reads_fields_of_objects_helpers_built, (X[0],), np.random.default_rng(5))
