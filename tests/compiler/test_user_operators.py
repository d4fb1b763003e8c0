"""Python's operators on objects of a user's class built inside the differentiated
function or passed in to it (``v * 2.0 + v``, ``2.0 * v``, ``-v``, ``v @ m``, ``v[i]``):
each runs the class's own method, compiled, with Python's order (the reflected method on
NotImplemented, a subclass's reflected method first); checked against finite
differences at two step sizes, the plain call's value, and forward mode."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import srcdiff as sd
from tests.soundness.verify import verify, verify_both_modes

rng = np.random.default_rng(3)
X, Y, M = rng.normal(size=3), rng.normal(size=3), rng.normal(size=(3, 3))


class Vec:
    """A pair of arrays with elementwise arithmetic, by another Vec or a number."""

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __add__(self, o):
        if isinstance(o, Vec):
            return Vec(self.a + o.a, self.b + o.b)
        if isinstance(o, float):
            return Vec(self.a + o, self.b + o)
        return NotImplemented

    def __radd__(self, o):
        return self.__add__(o)

    def __sub__(self, o):
        return self + (-o)

    def __rsub__(self, o):
        return (-self).__add__(o)

    def __mul__(self, o):
        if isinstance(o, Vec):
            return Vec(self.a * o.a, self.b * o.b)
        return Vec(self.a * o, self.b * o)

    def __rmul__(self, o):
        return self.__mul__(o)

    def __truediv__(self, o):
        return Vec(self.a / o, self.b / o)

    def __neg__(self):
        return Vec(-self.a, -self.b)

    def __matmul__(self, m):
        return Vec(self.a @ m, self.b @ m)

    def __getitem__(self, i):
        return self.a[i] * self.b[i]


class Scaled(Vec):
    """A subclass whose reflected product Python runs before Vec's ``__mul__``."""

    def __rmul__(self, o):
        return Vec(self.a * o.a * 3.0, self.b * o.b)


class Other:
    """An ``__add__`` that gives NotImplemented for a Vec, as Vec's gives for an Other:
    the reflected method runs then (``Vec + Other``: Other's ``__radd__``; ``Other +
    Vec``: Vec's, which gives NotImplemented too, a TypeError)."""

    def __init__(self, c):
        self.c = c

    def __add__(self, o):
        if isinstance(o, Vec):
            return NotImplemented
        return Other(self.c + o)

    def __radd__(self, o):
        return Other(self.c * 2.0 + o.a)


def scaled_and_added(x, y):
    v = Vec(x, y)
    w = v * 2.0 + v
    return (w.a * w.b).sum()


def reflected(x, y):
    v = Vec(x, y)
    w = 2.0 * v - 1.0 + (-v) / 3.0
    u = 1.0 - w
    return (u.a * w.b).sum() + w[1]


def through_a_matrix(x, y):
    v = Vec(x, y) @ M
    return np.sum(np.sin(v.a) * v.b) + v[0]


def subclass_first(x, y):
    v = Vec(x, y)
    s = Scaled(y, x)
    w = v * s
    return np.sum(w.a + w.b * w.a)


def not_implemented_then_reflected(x, y):
    o = Other(x)
    v = Vec(x, y)
    w = o + v
    return np.sum(w.a * w.b)


def not_implemented_then_reflected_other(x, y):
    o = Other(x)
    v = Vec(y, x)
    w = v + o
    return np.sum(w.c * y)


@pytest.mark.parametrize(
    "fn",
    [scaled_and_added, reflected, through_a_matrix, subclass_first,
     not_implemented_then_reflected_other],
)  # fmt: skip
def test_operators_run_the_class_methods(fn):
    verify_both_modes(fn, (X, Y), rng)


def test_no_method_left_raises_type_error_as_python():
    with pytest.raises(TypeError, match="unsupported operand"):
        not_implemented_then_reflected(X, Y)
    with pytest.raises(TypeError, match="unsupported operand"):
        sd.grad(not_implemented_then_reflected)(X, Y)


def array_on_the_left(x, y):
    v = Vec(x, y)
    w = x * v
    return np.sum(w.a)


def test_array_on_the_left_stays_refused():
    # (NumPy would make an array of objects, running Vec.__rmul__ on each entry)
    with pytest.raises(sd.CompileError, match="is not Python code srcdiff can compile"):
        sd.grad(array_on_the_left)(X, Y)


class Half:
    """An ``__add__`` for numbers alone: on an array, NumPy's ``__radd__`` would run."""

    def __init__(self, a):
        self.a = a

    def __add__(self, o):
        if isinstance(o, float):
            return Half(self.a + o)
        return NotImplemented


def half_plus_an_array(x, y):
    h = Half(x)
    w = h + y
    return np.sum(w.a)


def test_an_array_operator_after_not_implemented_stays_refused():
    with pytest.raises(sd.CompileError, match="own operator runs on NotImplemented"):
        sd.grad(half_plus_an_array)(X, Y)


class Acc:
    """An ``__iadd__`` making a new object (``+=`` runs it, ``+`` runs ``__add__``)."""

    def __init__(self, t):
        self.t = t

    def __iadd__(self, o):
        return Acc(self.t + 2.0 * o)

    def __add__(self, o):
        return Acc(self.t + o)


class Growing:
    """An ``__iadd__`` changing ``self`` in place."""

    def __init__(self, t):
        self.t = t

    def __iadd__(self, o):
        self.t = self.t + o
        return self


def augmented(x, y):
    v = Vec(x, y)
    v += 1.0
    v *= v
    return np.sum(v.a * v.b)


def augmented_with_another_name(x, y):
    v = Vec(x, y)
    held = v
    v += Vec(y, x)  # (no __iadd__: v is a new object, held the old one)
    return np.sum(held.a * v.b)


def augmented_in_a_loop(x, y):
    v = Vec(x, y)
    for _ in range(3):
        v += v * 0.5
    return np.sum(v.a * v.b)


def own_iadd(x, y):
    a = Acc(x)
    a += y
    b = a + y
    return np.sum(a.t * b.t)


@pytest.mark.parametrize(
    "fn", [augmented, augmented_with_another_name, augmented_in_a_loop, own_iadd]
)
def test_augmented_assignment_runs_iadd_then_add(fn):
    test_operators_run_the_class_methods(fn)


def iadd_in_place(x, y):
    g = Growing(x)
    g += y
    return np.sum(g.t**2)


def test_an_iadd_changing_self_stays_refused():
    with pytest.raises(sd.CompileError, match="assignment of a differentiated value"):
        sd.grad(iadd_in_place)(X, Y)


# ---- objects passed in as arguments ---------------------------------------------------------


def given_a_vec(x, v):
    w = v * x + v
    return np.sum(w.a * w.b) + (v @ M)[1] + v[0] * x[2]


def given_and_updated(x, a):
    a += x
    return np.sum(a.t * x)


def called_with_a_vec(x, v):
    return np.sum(scaled_by(v, x).a)


def scaled_by(v, x):
    return -v * x


@pytest.mark.parametrize("fn", [given_a_vec, called_with_a_vec])
def test_operators_of_an_object_passed_in_run_its_class_methods(fn):
    v = Vec(Y, np.cos(Y))
    assert verify(fn, (X, v), wrt=(0, 1)) == "ok"
    direction = rng.normal(size=3)
    grad = sd.grad(fn)(X, v)
    value, tangent = sd.jvp(fn, (X, v), (direction, None))
    assert value == pytest.approx(fn(X, v))
    assert tangent == pytest.approx(np.sum(grad * direction), rel=1e-9)


def test_an_augmented_assignment_to_an_object_passed_in_runs_its_iadd():
    a = Acc(Y.copy())
    assert verify(given_and_updated, (X, a), wrt=(0, 1)) == "ok"
    np.testing.assert_array_equal(a.t, Y)  # (__iadd__ made a new object)
    with pytest.raises(sd.CompileError, match="assignment of a differentiated value"):
        sd.grad(iadd_of_an_argument)(X, Growing(Y.copy()))


def iadd_of_an_argument(x, g):
    g += x
    return np.sum(g.t**2)


def updated_twice(x, v):
    v *= x
    v *= x
    return np.sum(v.a * v.b)


def updated_then_read_twice(x, a):
    a += x
    b = a + x
    return np.sum(a.t) + np.sum(b.t * x)


@pytest.mark.parametrize(
    ("fn", "given"), [(updated_twice, Vec(Y, np.cos(Y))), (updated_then_read_twice, Acc(Y))]
)
def test_an_object_passed_in_and_updated_gives_the_other_arguments_gradients(fn, given):
    """Its adjoint, gathered from two statements, is its fields' (added as a container's),
    where only the array beside it is differentiated: they were added with ``+``."""
    assert verify(fn, (X, given), wrt=(0,)) == "ok"
    direction = rng.normal(size=3)
    value, tangent = sd.jvp(fn, (X, given), (direction, None))
    assert value == pytest.approx(fn(X, given))
    assert tangent == pytest.approx(np.sum(sd.grad(fn)(X, given) * direction), rel=1e-9)


# ---- objects taken out of containers and fields ---------------------------------------------


class Holder:
    """A record holding objects of a user's class in a field."""

    def __init__(self, v):
        self.v = v


class Odd:
    """Operators that are no multiplication: an array's derivative would be wrong."""

    def __init__(self, a):
        self.a = a

    def __mul__(self, o):
        return Odd(np.sin(self.a) + o**2)

    def __rmul__(self, o):
        return Odd(self.a - np.exp(o))


class Summed:
    """An operator giving a Python float computed from the arrays: the gradient goes
    through ``float()``, as finite differences see it."""

    def __init__(self, a):
        self.a = a

    def __mul__(self, o):
        return float(np.sum(self.a * o))


def entry_of_a_list(x, vs):
    w = vs[0] * x
    return np.sum(w.a * w.b)


def entry_of_a_dict(x, d):
    w = d["k"] * x + d["k"]
    return np.sum(w.a * w.b)


def field_then_entry(x, h):
    w = h.v[1] * x + h.v[0]
    return np.sum(w.a * w.b)


def entry_then_operated(x, vs):
    v = vs[0]
    v = v * x
    v *= 2.0
    return np.sum(v.a * v.b)


def over_a_list(x, vs):
    total = 0.0
    for v in vs:
        w = v * x
        total = total + np.sum(w.a * w.b)
    return total


def odd_entries(x, os):
    w = os[0] * x
    u = 2.0 * os[1]
    return np.sum(w.a * u.a)


def summed_entry(x, d):
    return d["s"] * x + np.sum(x)


@pytest.mark.parametrize(
    ("fn", "given"),
    [
        (entry_of_a_list, [Vec(Y, np.cos(Y))]),
        (entry_then_operated, [Vec(Y, np.cos(Y))]),
        (entry_of_a_dict, {"k": Vec(Y, np.cos(Y))}),
        (field_then_entry, Holder([Vec(Y, np.cos(Y)), Vec(np.sin(Y), Y)])),
        (over_a_list, [Vec(Y, np.cos(Y)), Vec(-Y, 2.0 * Y)]),
        (odd_entries, [Odd(Y), Odd(np.cos(Y))]),
        (summed_entry, {"s": Summed(Y)}),
    ],
)
def test_objects_taken_out_of_containers_and_fields_run_their_class_methods(fn, given):
    """``vs[0] * x``, ``d["k"] * x``, ``h.v[1] * x``, ``for v in vs: v * x`` run the
    class's own operator, compiled (refused before: taken for an array's operator)."""
    assert verify(fn, (X, given), wrt=(0, 1)) == "ok"
    direction = rng.normal(size=3)
    value, tangent = sd.jvp(fn, (X, given), (direction, None))
    assert value == pytest.approx(fn(X, given))
    assert tangent == pytest.approx(np.sum(sd.grad(fn)(X, given) * direction), rel=1e-9)


class Scale:
    """A scale whose product is its own."""

    def __init__(self, s):
        self.s = s

    def __mul__(self, o):
        return self.s * o

    def __rmul__(self, o):
        return o * self.s * 2.0


class Model:
    """A method reading an object of a user's class from a field (``self.scale * x``)."""

    def __init__(self, scale, w):
        self.scale = scale
        self.w = w

    def loss(self, x):
        return np.sum(self.scale * x + 2.0 * self.scale) + np.sum(self.w * x)


def through_a_method(x, m):
    return m.loss(x)


def test_an_object_in_a_field_of_self_runs_its_class_methods():
    m = Model(Scale(Y), np.cos(Y))
    assert verify(through_a_method, (X, m), wrt=(0, 1)) == "ok"
    direction = rng.normal(size=3)
    _, tangent = sd.jvp(through_a_method, (X, m), (direction, None))
    assert tangent == pytest.approx(np.sum(sd.grad(through_a_method)(X, m) * direction))
    grad = sd.grad(m.loss)(X)
    for h in (1e-5, 1e-6):
        fd = [(m.loss(X + h * e) - m.loss(X - h * e)) / (2 * h) for e in np.eye(3)]
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


class Partial:
    """An operator that is no Python function srcdiff can compile."""

    def __init__(self, a):
        self.a = a

    def _times(self, o, k):
        return Partial(self.a * o * k)

    __mul__ = functools.partialmethod(_times, k=3.0)


def partial_entry(x, vs):
    return np.sum((vs[0] * x).a)


def test_an_entry_whose_operator_is_not_compilable_is_refused_at_the_users_line():
    assert np.isfinite(partial_entry(X, [Partial(Y)]))  # (Python runs it)
    with pytest.raises(
        sd.CompileError,
        match=r"`\*` of a Partial, which runs an operation of the object.s own.*partial_entry",
    ):
        sd.grad(partial_entry)(X, [Partial(Y)])


# ---- an array on the left of an object that NumPy hands its operators ---------------------


class Deferring:
    """``__array_ufunc__ = None``: NumPy's operators give NotImplemented for it, so
    ``x + d`` runs ``d.__radd__(x)``."""

    __array_ufunc__ = None

    def __init__(self, a):
        self.a = a

    def __radd__(self, o):
        return Deferring(o * self.a)

    def __rmul__(self, o):
        return Deferring(o + np.sin(self.a))

    def __rmatmul__(self, o):
        return o @ self.a


def array_on_the_left_of_a_deferring_object(x, d):
    w = x + d
    u = x * d
    s = np.sum(x) * d  # (a NumPy scalar on the left too)
    return np.sum(w.a * u.a) + x @ d + np.sum(s.a)


def deferring_built_here(x, y):
    d = Deferring(y)
    w = x * d
    return np.sum(w.a * (x + d).a)


def test_an_array_on_the_left_of_an_object_with_array_ufunc_none_runs_its_reflected_method():
    assert verify(array_on_the_left_of_a_deferring_object, (X, Deferring(Y)), wrt=(0, 1)) == "ok"
    verify_both_modes(deferring_built_here, (X, Y), rng)


# ---- globals, and an index that carries a gradient ------------------------------------------


class Table:
    """A ``__getitem__`` computing with its index (``tab[x]``)."""

    def __init__(self, s):
        self.s = s

    def __getitem__(self, i):
        return i * i * self.s


TABLE = Table(3.0)
SCALE = Scale(np.array([1.5, -0.5, 2.0]))


def global_table(x):
    return np.sum(TABLE[x]) + np.sum(x)


def table_passed(x, t):
    return np.sum(t[x] * x)


def global_scale(x):
    return np.sum(SCALE * x + 2.0 * SCALE)


@pytest.mark.parametrize("fn", [global_table, global_scale])
def test_operators_of_a_global_object_run_its_class_methods(fn):
    """``TABLE[x]`` gave no gradient through its index (zeros, silently);
    ``SCALE * x`` was refused."""
    assert verify(fn, (X,), wrt=(0,)) == "ok"


def test_an_index_carrying_a_gradient_into_an_object_passed_in_runs_its_getitem():
    """``t[x]`` with ``t`` passed in and not differentiated: was a constant's index
    (zeros, silently)."""
    assert verify(table_passed, (X, Table(2.0)), wrt=(0,)) == "ok"


def table_made_elsewhere(x):
    t = make_table()
    return np.sum(t[x])


def make_table():
    return Table(3.0)


def table_in_a_list(x, ts):
    t = ts[0]
    return np.sum(t[x])


def test_an_index_carrying_a_gradient_into_an_unknown_object_is_refused():
    """Where the compiler cannot tell the object indexed (a callee's result, a list's
    entry), its own ``__getitem__`` is refused where it runs (zeros, silently, before)."""
    with pytest.raises(sd.CompileError, match=r"\.__getitem__ of a Table"):
        sd.grad(table_made_elsewhere)(X)
    with pytest.raises(sd.CompileError, match=r"\.__getitem__ of a Table"):
        sd.grad(table_in_a_list)(X, [Table(3.0)])


# ---- the dispatcher's names for the methods it calls ----------------------------------------


class Twin:
    """Gives NotImplemented for any other operand."""

    def __init__(self, t):
        self.t = t

    def __add__(self, o):
        return NotImplemented


FirstTwin = Twin


class Twin:  # noqa: F811 (a class defined again under its name, as a rerun cell does)
    """Its ``__radd__`` is its ``__add__``, whose qualified name is the first Twin's."""

    def __init__(self, t):
        self.t = t

    def __add__(self, o):
        return Twin(np.sin(self.t) * o.t)

    __radd__ = __add__


def made_by(k):
    class Local:
        """A class defined in a function: ``made_by.<locals>.Local``."""

        def __init__(self, t):
            self.t = t

        def __mul__(self, o):
            return Local(self.t * o * k)

    return Local


Local = made_by(2.0)


class Lambdas:
    """An operator given by a lambda."""

    def __init__(self, t):
        self.t = t


Lambdas.__mul__ = lambda self, o: Lambdas(np.cos(self.t) * o)


def twins_added(x, y):
    return np.sum((FirstTwin(x) + Twin(y)).t)


def local_entry(x, ls):
    return np.sum((ls[0] * x).t)


def local_built(x):
    return np.sum((Local(x) * x).t)


def lambda_entry(x, ls):
    return np.sum((ls[0] * x).t)


@pytest.mark.parametrize(
    ("fn", "args"),
    [
        (twins_added, (X, Y)),
        (local_entry, (X, [Local(Y)])),
        (local_built, (X,)),
        (lambda_entry, (X, [Lambdas(Y)])),
    ],
)
def test_methods_of_any_qualified_name_are_called_as_themselves(fn, args):
    """Two methods of one qualified name (``Twin.__add__`` of a class defined again) were
    one name in the dispatcher's source: the second ran for both (value -0.338 where
    Python gives -0.424); a class's ``<locals>`` or a ``<lambda>`` made its source
    invalid (a NameError, a SyntaxError)."""
    assert verify(fn, args, wrt=0) == "ok"


def entry_times(x, vs):
    w = vs[0] * x
    return np.sum(w) if isinstance(w, np.ndarray) else np.sum(w.a * w.b)


def test_a_list_of_arrays_then_of_objects_gets_a_unit_for_each():
    """The unit compiled for a list of arrays was taken again for a list of objects (the
    key held the differentiated values' types alone): its operator refused the object;
    and a list of arrays after a list of objects is differentiated as arrays."""
    g = sd.grad(entry_times)
    np.testing.assert_allclose(g(X, [Y]), Y)
    v = Vec(Y, np.cos(Y))
    assert verify(entry_times, (X, [v])) == "ok"
    np.testing.assert_allclose(g(X, [v]), sd.grad(entry_times)(X, [v]), rtol=1e-12)
    np.testing.assert_allclose(g(X, [2.0 * Y]), 2.0 * Y)


class Margin:
    """Comparisons that compute values (as NumPy arrays' give arrays)."""

    def __init__(self, a):
        self.a = a

    def __lt__(self, o):
        return np.sin(self.a) - o

    def __gt__(self, o):
        return self.a * o


def below_an_argument(x, m):
    return np.sum(m < x)


def below_an_entry(x, ms):
    return np.sum(ms[0] < x)


def above_a_built(x, y):
    return np.sum(Margin(x) > y)


@pytest.mark.parametrize(
    ("fn", "args"),
    [(below_an_argument, (X, Margin(Y))), (below_an_entry, (X, [Margin(Y)])),
     (above_a_built, (X, Y))],
)  # fmt: skip
def test_a_comparison_running_a_users_method_is_refused(fn, args):
    """``m < x`` runs ``Margin.__lt__``, which computes ``sin(a) - x``: taken for a
    comparison, it gave x a zero gradient (where finite differences give -1 each)."""
    assert np.sum(fn(*args)) != 0.0
    with pytest.raises(sd.CompileError, match="comparison method of the object's own"):
        sd.grad(fn)(*args)


@dataclasses.dataclass
class Key:
    k: float


def compared_keys(x, key):
    if Key(float(np.sum(x))) == key:
        return np.sum(x)
    return np.sum(x * 2.0)


def test_a_dataclass_comparison_of_numbers_is_a_bool_and_runs():
    assert verify(compared_keys, (X, Key(1.0))) == "ok"


class Point:
    """Hand-written comparisons that give bools, of objects holding differentiated arrays."""

    def __init__(self, a):
        self.a = a

    def __eq__(self, o):
        return bool(np.allclose(self.a, o.a))

    def __lt__(self, o):
        return np.sum(self.a) < np.sum(o.a)

    __hash__ = None


class Gap:
    """An ``__eq__`` that computes a value (as NumPy arrays' give arrays)."""

    def __init__(self, a):
        self.a = a

    def __eq__(self, o):
        return np.sum(self.a - o.a)


def branches_on_equal_points(x):
    p, q = Point(x * 2.0), Point(x + x)
    if p == q:
        y = np.sin(x) * 2.0
    else:
        y = x
    if p != Point(x):  # (the inverse of __eq__, which Python makes)
        y = y * x
    if Point(x) < p:
        y = y + x * x
    return np.sum(y)


def test_a_users_comparison_giving_a_bool_runs_in_control_flow():
    """``if p == q:`` on objects of a class with its own ``__eq__`` was refused (it may
    compute a value); a bool, checked where it is made, carries no gradient."""
    for x in (np.abs(X) + 0.5, -np.abs(X) - 0.5):  # (each way of ``Point(x) < p``)
        verify_both_modes(branches_on_equal_points, (x,), np.random.default_rng(3))


def compares_gaps(x):
    if Gap(x) == Gap(x * 0.5):
        return np.sum(x)
    return np.sum(x * 2.0)


def test_a_users_comparison_giving_a_number_is_refused_naming_what_it_gave():
    with pytest.raises(sd.CompileError, match="gave a float64, not a bool"):
        sd.grad(compares_gaps)(X)


class Kept:
    """An ``__iadd__`` changing ``self`` in place, and an ``__add__`` making a new one."""

    def __init__(self, t):
        self.t = t

    def __iadd__(self, o):
        self.t = self.t + o
        return self

    def __add__(self, o):
        return Kept(self.t + o)


KEPT = Kept(Y.copy())


def kept_entry(x, ks):
    k = ks[0]
    k += 1.0
    return np.sum(ks[0].t * x)


def kept_argument(x, k):
    k += 1.0
    return np.sum(k.t * x)


def kept_alias(x, k):
    c = k
    c += 1.0
    return np.sum(k.t * x)


def kept_global(x):
    c = KEPT
    c += 1.0
    return np.sum(KEPT.t * x)


@pytest.mark.parametrize("fn", [kept_entry, kept_argument, kept_alias, kept_global])
def test_an_augmented_assignment_with_nothing_differentiated_runs_iadd(fn):
    """``k += 1.0`` ran ``k + 1.0`` (``__add__``: a new object), where Python runs
    ``__iadd__``, which changes the caller's object: the gradient was [0.5, 0.2, -0.4]
    where a plain call's finite differences give [1.5, 1.2, 0.6]; the object is now
    changed as a plain call changes it."""

    def given():
        KEPT.t = Y.copy()
        return {kept_entry: (X, [Kept(Y.copy())]), kept_global: (X,)}.get(fn, (X, Kept(Y.copy())))

    def changed(args):
        return KEPT if fn is kept_global else args[1][0] if fn is kept_entry else args[1]

    plain_args = given()
    plain = fn(*plain_args)
    np.testing.assert_allclose(changed(plain_args).t, Y + 1.0)
    args = given()
    value, grad = sd.value_and_grad(fn)(*args)
    assert value == pytest.approx(plain, rel=1e-12)
    np.testing.assert_allclose(grad, Y + 1.0, rtol=1e-12)
    np.testing.assert_allclose(changed(args).t, Y + 1.0, rtol=1e-12)


class Stored:
    """A ``__setitem__`` of its own, which stores no array entry."""

    def __init__(self):
        self.store = 0.0

    def __setitem__(self, i, v):
        self.store = v * 2.0


def stored_argument(x, s):
    s[1] = x[0]
    return s.store * x[1]


def stored_entry(x, ss):
    s = ss[0]
    s[1] = x[0]
    return s.store * x[1]


@pytest.mark.parametrize(("fn", "given"), [(stored_argument, Stored()), (stored_entry, [Stored()])])
def test_an_item_assignment_into_a_users_object_is_refused(fn, given):
    """``s[1] = x[0]`` on an object with a ``__setitem__`` of its own was taken for an
    array's write, which failed with a TypeError from the array library."""
    with pytest.raises(sd.CompileError, match="__setitem__ of its own"):
        sd.grad(fn)(X, given)
