"""Rules of functions that make arrays from numbers they are given: ``np.full``,
``np.full_like``, ``np.linspace``, ``np.arange``, ``np.r_``, ``np.c_``."""

import numpy as np

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(17)


def r_(*items):
    return np.r_[items]


def c_(*items):
    return np.c_[items]


SPECS = [
    Spec(np.full, ((2, 3), R.scalar()), wrt=(1,)),
    Spec(np.full, ((2, 3), R((3,))), wrt=(1,), label="row-fill"),
    Spec(np.full_like, (R((2, 3)), R.scalar()), wrt=(1,)),
    Spec(np.full_like, (R((2, 3)), R((2, 1))), wrt=(1,), label="column-fill"),
    Spec(np.linspace, (R.scalar(), R.scalar(), 5), wrt=(0, 1)),
    Spec(np.linspace, (R.scalar(), R.scalar(), 4), {"endpoint": False}, wrt=(0, 1)),
    Spec(np.linspace, (R((2,)), R((2,)), 3), {"axis": 1}, wrt=(0, 1), label="arrays-axis-1"),
    Spec(np.logspace, (R.scalar(), R.scalar(), 5), wrt=(0, 1)),
    Spec(np.logspace, (R.scalar(), R.scalar(), 4), {"endpoint": False}, wrt=(0, 1)),
    Spec(np.logspace, (R.scalar(), R.scalar(), 5, True, R.scalar(1.5, 4.0)), wrt=(0, 1, 4)),
    Spec(np.logspace, (R.scalar(), R.scalar(), 4), {"base": R.scalar(0.2, 0.8)}, wrt=(0, 1)),
    Spec(np.logspace, (R((2,)), R((2,)), 3), {"axis": 1}, wrt=(0, 1), label="arrays-axis-1"),
    Spec(
        np.logspace,
        (R((3,)), R.scalar(), 4, True, R((2, 1), 1.5, 4.0)),
        {"axis": -1},
        wrt=(0, 1, 4),
        label="broadcast-base-axis--1",
    ),  # fmt: skip
    Spec(
        np.logspace,
        (R((2, 1)), R((3,)), 3, False, R((3,), 1.5, 4.0)),
        {"axis": 1},
        wrt=(0, 1, 4),
        label="broadcast-axis-1",
    ),  # fmt: skip
    Spec(np.logspace, (R(()), R(()), 1, True, np.array(2.0)), wrt=(0, 1, 4)),
    Spec(np.geomspace, (R.scalar(0.5, 2.0), R.scalar(3.0, 9.0), 5), wrt=(0, 1)),
    Spec(np.geomspace, (R.scalar(-2.0, -0.5), R.scalar(-9.0, -3.0), 4), {"endpoint": False}),
    Spec(
        np.geomspace,
        (R((2, 1), 0.5, 2.0), R((3,), 3.0, 9.0), 4),
        {"axis": -1},
        label="broadcast-axis--1",
    ),  # fmt: skip
    Spec(np.geomspace, (R((2,), 0.5, 2.0), R((2,), 3.0, 9.0), 3), {"axis": 1}, label="axis-1"),
    Spec(np.arange, (R.scalar(0.0, 1.0), 3.5, R.scalar(0.3, 0.6)), wrt=(0, 2)),
    Spec(np.r_, (R((3,)), R.scalar(), R((2,))), call=r_),
    Spec(np.r_, (R((2, 2)), R((1, 2))), call=r_, label="rows"),
    Spec(np.c_, (R((3,)), R((3, 2))), call=c_),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


def test_a_fill_value_cast_to_integers_has_no_gradient():
    d_shape, d_fill, *_ = rule_grads(np.full, np.ones((2, 2)), (2, 2), 1.5, int)
    assert d_shape is None and d_fill == 0.0


def test_np_arange_of_one_argument_counts_from_zero():
    """Its stop gets a zero gradient, not None: compiled code takes what a rule gives a
    differentiated argument for its adjoint (None crashed it)."""
    grads = rule_grads(np.arange, np.ones(4), 4.0)
    assert grads[0] == 0.0 and grads[1] is None and not np.any(grads[2])


def test_np_r_gives_a_slice_no_gradient():
    grads = rule_grads(np.r_, np.ones(5), slice(0, 3), np.ones(2), call=r_)
    assert grads[0] is None and grads[1].shape == (2,)


def np_tri_offset(x, k):
    return np.sum(np.tri(3, 4, k, x.dtype) * x**2)


def test_np_tri_is_a_constant_pattern_of_its_offset():
    """Its entries are zeros and ones, constant in the offset between whole numbers:
    the offset's gradient is 0 and the pattern multiplies the other's (it was refused,
    as NumPy's source called a function without a rule)."""
    import srcdiff as sd

    x = R((3, 4))
    for dtype in (np.float64, np.float32):
        d_x, d_k = sd.grad(np_tri_offset, wrt=(0, 1))(x.astype(dtype), 0.5)
        assert d_x.dtype == dtype and d_k == 0.0
        np.testing.assert_allclose(d_x, 2 * np.tri(3, 4, 0.5) * x, rtol=1e-6)
    assert np.tri(3, 4, 0.5).dtype == np.float64 and np.tri(3, dtype=int).dtype.kind == "i"


def logspace_sum(start, stop, base):
    return np.sum(np.logspace(start, stop, 4, base=base) * np.array([1.0, -2.0, 0.5, 3.0]))


def powers_sum(start, stop, base):
    return np.sum(base ** np.linspace(start, stop, 4) * np.array([1.0, -2.0, 0.5, 3.0]))


def test_np_logspace_of_base_0_has_the_derivatives_of_a_power():
    """``0 ** y`` is 0 for y > 0: no derivative in y, and none in the base for y > 1; the
    rule's ``ans * log(base)`` and ``ans * y / base`` gave NaN for all three (as ``**``
    written out gives 0), in both modes."""
    import srcdiff as sd
    from srcdiff.testing import check_grads

    args = (1.5, 2.5, 0.0)
    grads = sd.grad(logspace_sum, wrt=(0, 1, 2))(*args)
    assert grads == sd.grad(powers_sum, wrt=(0, 1, 2))(*args) == (0.0, 0.0, 0.0)
    for eps in (1e-5, 1e-6):
        check_grads(logspace_sum, sd.grad(logspace_sum, wrt=(0, 1)), args, wrt=(0, 1), eps=eps)
    assert sd.jvp(logspace_sum, args, (1.0, -1.0, 1.0))[1] == 0.0
