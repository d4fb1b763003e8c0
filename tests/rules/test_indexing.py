"""Rules of indexing: reads ``x[i]`` and functional writes ``srcdiff.runtime.setitem``."""

import operator

import numpy as np

from srcdiff import runtime as rt

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(5)

X = R((4, 5))
INDICES = [
    ("int", 1),
    ("negative-int", -1),
    ("slice", slice(1, 3)),
    ("step-slice", slice(None, None, 2)),
    ("negative-slice", slice(-3, None)),
    ("tuple-int-int", (2, -2)),
    ("tuple-slice-int", (slice(1, None), 2)),
    ("tuple-slice-slice", (slice(None), slice(1, 4))),
    ("tuple-colon-neg", (slice(None), -1)),
    ("int-array-duplicates", np.array([0, 2, 0, 3])),
    ("list-duplicates", [3, 3, 1]),
    ("2d-int-array", np.array([[0, 1], [1, 1]])),
    ("paired-int-arrays", (np.array([0, 1, 0]), np.array([4, 4, 4]))),
    ("int-array-and-slice", (np.array([2, 2]), slice(0, 3))),
    ("bool-mask-rows", np.array([True, False, True, True])),
    ("bool-mask-full", R((4, 5)) > 0),
    ("ellipsis", (Ellipsis, 1)),
    ("newaxis", (None, slice(1, 3))),
]

SETITEMS = [
    ("int-row", 1, R((5,))),
    ("int-scalar", 1, R.scalar()),
    ("slice-broadcast-row", slice(0, 2), R((5,))),
    ("slice-block", slice(1, 3), R((2, 5))),
    ("tuple", (2, slice(1, 4)), R((3,))),
    ("tuple-0d", (2, 3), R(())),
    ("int-array", np.array([3, 0]), R((2, 5))),
    ("int-array-duplicates", np.array([0, 2, 0]), R((3, 5))),
    ("int-array-duplicates-broadcast", np.array([1, 1]), R((5,))),
    ("bool-mask-scalar", np.array([True, False, False, True]), R.scalar()),
    ("bool-mask-full", R((4, 5)) > 0.5, R(())),
]

SPECS = [
    *[Spec(operator.getitem, (X, idx), wrt=(0,), label=label) for label, idx in INDICES],
    Spec(operator.getitem, (R((6,)), 2), wrt=(0,), label="1d-int"),
    Spec(operator.getitem, ([R((3,)), R((2, 2)), R(())], 1), wrt=(0,), label="list-of-arrays"),
    Spec(
        operator.getitem,
        ([R((3,)), R((2, 2)), R(())], slice(1, None)),
        wrt=(0,),
        label="list-slice",
    ),
    *[Spec(rt.setitem, (R((4, 5)), idx, v), wrt=(0, 2), label=label) for label, idx, v in SETITEMS],
    # of an array a global may hold, a new value as setitem's (a list's or a dict's is written
    # in place: tests/soundness/test_reported.py)
    Spec(rt.write_through, (R((4, 5)), (1, slice(None)), R((5,))), wrt=(0, 2), label="array-row"),
    # a number written into a list reached through an attribute, in place (writing it again
    # changes nothing: the spec's calls see one list)
    Spec(rt.write_entry, ([R((3,)), 0.1], 1, 0.5), wrt=(0,), label="list-number"),
    # ... in Tensor code, where the value may carry a gradient: a number is written the same
    Spec(rt.write_entry_held, ([R((3,)), 0.1], 1, 0.5), wrt=(0,), label="list-number-held"),
    # x.flat[i] (normalized to rt.flat_read): row-major positions, read as often as named
    *[
        Spec(rt.flat_read, (R((3, 4)), idx), wrt=(0,), label=label)
        for label, idx in [
            ("int", 5),
            ("negative-int", -1),
            ("slice", slice(2, 9, 3)),
            ("list-duplicates", [0, 7, 7, 11]),
            ("2d-int-array", np.array([[1, 2], [2, 10]])),
            ("bool-mask", np.arange(12) % 3 == 0),
        ]
    ],
    Spec(rt.flat_read, (R((3, 4)).T, slice(None, 5)), wrt=(0,), label="transposed"),
    Spec(rt.flat_read, (R(()), 0), wrt=(0,), label="0d"),
    Spec(np.sort, (R((6,)),), label="1d"),
    Spec(np.sort, (R((3, 4)),), label="last-axis"),
    Spec(np.sort, (R((3, 4)),), {"axis": 0}, label="axis-0"),
    Spec(np.sort, (R((3, 4)),), {"axis": None}, label="flat"),
    Spec(np.sort, (R((2, 3, 2)),), {"axis": 1, "kind": "stable"}, label="kind"),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


# ---- values derived by hand ----------------------------------------------------------------


def test_repeated_indices_accumulate():
    d, d_index = rule_grads(operator.getitem, np.ones(3), np.zeros(4), np.array([0, 0, 2]))
    np.testing.assert_array_equal(d, [2.0, 0.0, 1.0, 0.0])
    assert d_index is None


def test_boolean_mask_and_negative_index():
    mask = np.array([True, False, True])
    d, *_ = rule_grads(operator.getitem, np.array([5.0, 7.0]), np.zeros(3), mask)
    np.testing.assert_array_equal(d, [5.0, 0.0, 7.0])
    d, *_ = rule_grads(operator.getitem, 3.0, np.zeros(3), -1)
    np.testing.assert_array_equal(d, [0.0, 0.0, 3.0])


def test_setitem_routes_the_gradient():
    g = np.arange(1.0, 5.0)
    d_x, d_index, d_v = rule_grads(rt.setitem, g, np.zeros(4), slice(1, 3), 9.0)
    np.testing.assert_array_equal(d_x, [1.0, 0.0, 0.0, 4.0])
    assert d_index is None and float(d_v) == 5.0


def test_setitem_repeated_index_only_the_last_write_counts():
    g = np.array([10.0, 20.0, 30.0])
    d_x, _, d_v = rule_grads(rt.setitem, g, np.zeros(3), np.array([0, 0]), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(d_x, [0.0, 20.0, 30.0])
    np.testing.assert_array_equal(d_v, [0.0, 10.0])


def test_sort_sends_each_gradient_back_to_its_value_ties_in_order():
    d, *_ = rule_grads(np.sort, np.array([10.0, 20.0, 30.0]), np.array([2.0, 1.0, 2.0]))
    np.testing.assert_array_equal(d, [20.0, 10.0, 30.0])


def test_setitem_leaves_its_input_alone():
    x = np.zeros(3)
    y = rt.setitem(x, 1, 5.0)
    assert x[1] == 0.0 and y[1] == 5.0
