"""Rules of building and iterating containers: ``(a, b)``, ``[a, b]``, ``{k: a}``, ``for``."""

import copy
import operator

import numpy as np

from srcdiff import runtime as rt

from .spec import Sampler, Spec, rule_grads, table_tests

R = Sampler(7)
KEYS = ("w", "b", "scale")


def tuple_display(*items):
    return tuple(items)


def list_display(*items):
    return list(items)


def dict_display(*values):
    return dict(zip(KEYS, values, strict=True))


SPECS = [
    Spec("tuple-display", (R((3, 4)), R((4,)), R.scalar()), call=tuple_display),
    Spec("tuple-display", (R((2,)),), call=tuple_display),
    Spec("list-display", (R((3, 4)), R(())), call=list_display),
    Spec("dict-display", (R((3, 4)), R((4,)), R.scalar()), call=dict_display),
    Spec(rt.iterable, (R((3, 4)),)),
    Spec(rt.iterable, ([R((2,)), R((3, 1))],), label="list-of-arrays"),
    Spec(rt.unpacked, (R((2, 3)), 2), wrt=(0,)),
    Spec(dict, ({"a": R((2,)), "b": R(())},)),
    # (pairs, which the sweep cannot perturb, are checked end to end in
    # tests/soundness/test_dict_pairs.py and below)
    Spec(rt.update_pairs, ({"a": R((2,))}, {"a": R((2,)), "c": R(())}), wrt=(1,)),
    Spec(rt.pairs_tangent, ({"a": R((2,)), "b": R(())}, {"a": R((2,)), "b": R(())}), wrt=(1,)),
    Spec(rt.pairs_grad, ({"a": R((2,)), "b": R(())}, {"b": R(()), "a": R((2,))}), wrt=(0,)),
    Spec(rt.keyless, ([R((2,)), R(())], [R((2,)), R(())]), wrt=(1,)),
    Spec(rt.keyless, ({1: R((2,))}, {1: R((2,))}), wrt=(1,), label="dict"),
    Spec(rt.reversible, (R((3, 2)),)),
    Spec(rt.reversible, ([R((2,)), R(())],), label="list"),
    Spec(rt.unpacked, ([R((2,)), R(())], 2), wrt=(0,), label="list"),
    Spec(rt.appended, ([R((2,)), R((3,))], R((2, 2)))),
    Spec(rt.put_back, (R((3, 2)), 1, R((2,))), wrt=(0, 2), label="array-row"),
    Spec(rt.put_back, ([R((2,)), R((3,))], 1, R((3,))), wrt=(0, 2), label="list-entry"),
    Spec(copy.copy, ([R((2,)), R((3,))],)),
    Spec(copy.copy, ({"a": R((2,)), "b": R(())},), label="dict"),
    Spec(copy.copy, (R((3, 2)),), label="array"),
    Spec(copy.deepcopy, ([R((2,)), [R(()), R((3,))]],)),
    Spec(copy.deepcopy, ({"a": (R((2,)), R((2, 2)))},), label="dict"),
    Spec(list, ((R((2,)), R((3,))),)),
    Spec(list, (R((3, 2)),), label="rows"),
    Spec(tuple, ([R((2,)), R(())],)),
    Spec("sequence-join", ([R((2,)), R((3,))], [R(())]), call=operator.add),
    Spec("sequence-join", ((R((2,)),), (R((2, 2)), R((1,)))), call=operator.add, label="tuples"),
    Spec("sequence-join", (R((3, 4)), R((4,))), call=operator.add, label="arrays"),
    Spec("sequence-repeat", ([R((2,)), R(())], 3), call=operator.mul),
    Spec("sequence-repeat", (2, [R((3,))]), call=operator.mul, label="count-first"),
    Spec("sequence-repeat", (R((3, 1)), R((4,))), call=operator.mul, label="arrays"),
    Spec("dict.values", ({"a": R((2,)), "b": R((3,))},), call=lambda d: list(d.values())),
    Spec("dict.items", ({"a": R((2,)), "b": R((3,))},), call=lambda d: list(d.items())),
    Spec(rt.items_tangent, ({0: R((2,)), 1: R((3,))},)),
    Spec(rt.follow, (R((3,)), R((3,)), R((3,))), label="holding-another-object"),
    Spec(rt.follow_detached, (R((3,)), R((3,)), R((3,))), label="holding-another-object"),
    Spec(rt.snapshot, (R((3, 2)),)),
    Spec(rt.augmented, (R((3, 2)), R((3, 2))), wrt=(1,)),  # x += v: the new value's
    Spec(rt.differentiated_update, (0.5, R(())), wrt=(1,)),  # acc += v of a global's number
    # m.add_(v) on a value compiled code computed: m's new value is new's
    Spec(
        rt.in_place,
        (R((3,)), R((3,)), "add_", True, True, (1.0,), (False, True)),
        wrt=(1,),
        label="computed",
    ),  # fmt: skip
    Spec("dict.get", ({"a": R((2,)), "b": R(())}, "a", R((2,))), call=dict.get, label="found"),
    Spec("dict.get", ({"a": R((2,))}, "b", R((3,))), call=dict.get, label="default"),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


def test_dict_display_gives_each_value_its_entry():
    g = {"w": np.ones(2), "b": 2.0, "scale": 3.0}
    grads = rule_grads("dict-display", g, np.zeros(2), 0.0, 0.0, call=dict_display)
    assert grads[1:] == (2.0, 3.0)
    np.testing.assert_array_equal(grads[0], [1.0, 1.0])


def test_iterating_a_dict_gives_its_keys_which_have_no_gradient():
    d, *_ = rule_grads(rt.iterable, [None, None], {"a": 1.0, "b": 2.0})
    assert d == {"a": 0.0, "b": 0.0}  # zeros, into which its entries' gradients can add


def test_a_view_iterated_as_a_list_gets_the_gradients_of_its_entries():
    view = {"a": 1.0, "b": 2.0}.values()
    d, *_ = rule_grads(rt.iterable, [3.0, 4.0], view)
    assert d == [3.0, 4.0]


def test_a_name_holding_the_updated_object_takes_the_new_value_and_gives_it_its_adjoint():
    old, new, g = np.ones(3), np.zeros(3), np.arange(3.0)
    assert rt.follow(old, old, new) is new
    d_m, d_old, d_new, _ = rule_grads(rt.follow, g, old, old, new)
    np.testing.assert_array_equal(d_new, g)
    np.testing.assert_array_equal(d_m, 0.0)


def test_a_name_written_through_a_detached_alias_takes_the_value_and_keeps_its_adjoint():
    """``d = h.detach(); d[0] = 7.0``: ``h`` is the new array, its adjoint goes on to
    its old value (its graph), none to the write (finite differences would say the
    opposite: the rule is PyTorch's meaning, not the derivative of the values)."""
    old, new, g = np.ones(3), np.zeros(3), np.arange(3.0)
    assert rt.follow_detached(old, old, new) is new
    d_m, d_old, d_new, _ = rule_grads(rt.follow_detached, g, old, old, new)
    np.testing.assert_array_equal(d_m, g)
    assert d_old is None and d_new is None


def test_a_container_holding_the_updated_object_has_that_entry_replaced():
    old, new, other = np.ones(3), np.zeros(3), np.full(3, 2.0)
    hs = [other, {"h": old}]
    ans = rt.follow(hs, old, new)
    assert ans[0] is other and ans[1]["h"] is new and hs[1]["h"] is old
    g = [np.full(3, 1.0), {"h": np.full(3, 5.0)}]
    d_m, d_new = rt.follow_grads(g, ans, hs, new)
    np.testing.assert_array_equal(d_new, 5.0)
    assert d_m[0] is g[0] and d_m[1]["h"] is None


def test_a_number_is_replaced_not_updated():
    a = 1.5
    assert rt.follow(a, a, 2.5) == 1.5


def test_put_back_gives_every_entry_holding_the_object_its_new_value():
    a, b = np.zeros(2), np.ones(2)
    new = np.array([5.0, 6.0])
    held = rt.put_back([a, b, a, {"k": a}], 0, new)
    assert held[0] is new and held[2] is new and held[3]["k"] is new and held[1] is b
    g = [np.ones(2), np.ones(2) * 2, np.ones(2) * 3, {"k": np.ones(2) * 4}]
    d_holder, d_new = rt.put_back_grads(g, held, 0, new)
    assert d_new.tolist() == [8.0, 8.0] and d_holder[1].tolist() == [2.0, 2.0]
    assert d_holder[0] is None and d_holder[2] is None


def test_pairs_made_a_dict_give_the_last_pair_of_a_key_its_gradient():
    pairs = [("a", np.ones(2)), ("b", 1.0), ("a", np.zeros(2))]
    g = {"a": np.full(2, 3.0), "b": 4.0}
    (d,) = rule_grads(dict, g, pairs)
    assert d[0][1] is None or not np.any(d[0][1])
    assert d[1][1] == 4.0 and np.all(d[2][1] == 3.0)


def test_the_pairs_rules_are_each_others_adjoints():
    """<pairs_tangent(x, u), g> = <u, pairs_grad(g, x)> for pairs with a repeated key."""
    rng = np.random.default_rng(1)
    x = [("a", rng.normal(size=2)), ("b", 1.0), ("a", rng.normal(size=2))]
    u = [(0.0, rng.normal(size=2)), (0.0, 0.5), (0.0, rng.normal(size=2))]
    g = {"a": rng.normal(size=2), "b": 2.0}
    left = sum(np.sum(v * g[k]) for k, v in rt.pairs_tangent(x, u).items())
    back = rt.pairs_grad(g, x)
    right = sum(np.sum(b[1] * w[1]) for b, w in zip(back, u, strict=True) if b[1] is not None)
    assert np.isclose(left, right)
