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
    """A partial seen as the list of its bound values (its adjoint), with ``func``,
    ``args`` and ``keywords`` for the rule."""

    func = None
    args: tuple = ()
    keywords: dict = {}  # noqa: RUF012 - replaced per object, never changed


def partial_as_list(func, *operands):
    """``functools.partial(func, *args, **kw)`` from the rule's operands: ``func``, the
    arguments, the keywords' values, then their names."""
    *values, names = operands
    npos = len(values) - len(names)
    p = functools.partial(func, *values[:npos], **dict(zip(names, values[npos:], strict=True)))
    out = Bound([*p.args, *p.keywords.values()])
    out.func, out.args, out.keywords = p.func, p.args, p.keywords
    return out


def fields_of(cls, values):
    return dict(vars(rt.assemble(cls, values)))


SPECS = [
    Spec("object-attribute", ({"W": R((3, 2)), "b": R((2,))}, "W"), call=dict.get, wrt=(0,)),
    Spec(rt.assemble, (Record, {"W": R((3,)), "b": R(())}), call=fields_of, wrt=(1,)),
    Spec(rt.set_field, ({"W": R((3,)), "b": R(())}, "W", R((3,))), wrt=(0, 2)),
    Spec(functools.partial, (np.multiply, R((3,)), R(()), ()), call=partial_as_list, wrt=(1, 2)),
    Spec(
        functools.partial, (np.multiply, R((3,)), R(()), ("out",)), call=partial_as_list, wrt=(1, 2)
    ),  # fmt: skip
    Spec(rt.partial_args, ([R((2,)), R(())],)),
    Spec(rt.merged, ({"W": R((3,)), "b": R(())}, {"b": R((2,)), "c": R(())}), wrt=(0, 1)),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)
