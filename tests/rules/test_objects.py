"""Rules of objects of user classes and partials (``rules/objects.py``). An object's
adjoint is a dict of its fields', which is how these specs pass objects; a partial's is
the list of its arguments' (a partial of a partial: tests/compiler/test_objects.py)."""

import functools

import numpy as np

from srcdiff import runtime as rt

from .spec import Sampler, Spec, table_tests

R = Sampler(11)


class Record:
    """A plain object, built without ``__init__`` by ``rt.assemble``."""


class Bound(list):
    """A partial seen as the list of its arguments (its adjoint), with ``args`` and
    ``func`` for the rule."""

    func = None

    @property
    def args(self) -> tuple:
        return tuple(self)


def partial_as_list(func, *args):
    p = functools.partial(func, *args)
    out = Bound(p.args)
    out.func = p.func
    return out


def fields_of(cls, values):
    return dict(vars(rt.assemble(cls, values)))


SPECS = [
    Spec("object-attribute", ({"W": R((3, 2)), "b": R((2,))}, "W"), call=dict.get, wrt=(0,)),
    Spec(rt.assemble, (Record, {"W": R((3,)), "b": R(())}), call=fields_of, wrt=(1,)),
    Spec(rt.set_field, ({"W": R((3,)), "b": R(())}, "W", R((3,))), wrt=(0, 2)),
    Spec(functools.partial, (np.multiply, R((3,)), R(())), call=partial_as_list, wrt=(1, 2)),
    Spec(rt.partial_args, ([R((2,)), R(())],)),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)
