"""Rules of reparameterised draws (``rng.normal(loc, scale)``): each call draws from a
generator seeded afresh, so the primal is a deterministic function of the parameters and
central differences see the gradient the rule gives (``z`` held fixed)."""

import numpy as np

from srcdiff import runtime as rt
from srcdiff.rules.registry import method

from .spec import Sampler, Spec, table_tests

R = Sampler(23)
SEED = 5


def _draw(source: type, name: str):
    """``name`` drawn from a ``source`` generator seeded with ``SEED``, as a function."""

    def draw(*args, **kwargs):
        rng = np.random.default_rng(SEED) if source is np.random.Generator else (
            np.random.RandomState(SEED))  # fmt: skip
        return getattr(rng, name)(*args, **kwargs)

    draw.__name__ = name
    return draw


def _specs(source: type) -> list[Spec]:
    specs = []
    for name in ("normal", "laplace", "gumbel", "logistic"):
        specs += [
            Spec(method(source, name), (R((3,)), R((3,), 0.5, 2.0)), call=_draw(source, name)),
            Spec(
                method(source, name), (R.scalar(), R((2, 3), 0.5, 2.0)), call=_draw(source, name)
            ),  # fmt: skip
            Spec(
                method(source, name), (R((2, 1)), 1.5), {"size": (2, 4)}, call=_draw(source, name)
            ),  # fmt: skip
        ]
    specs += [
        Spec(
            method(source, "uniform"),
            (R((3,)), 3.0 + R((3,), 0.5, 2.0)),
            call=_draw(source, "uniform"),
        ),  # fmt: skip
        Spec(
            method(source, "uniform"),
            (-1.0, R((2, 3), 0.5, 2.0)),
            {"size": (2, 3)},
            call=_draw(source, "uniform"),
        ),  # fmt: skip
        Spec(
            method(source, "exponential"), (R((4,), 0.5, 2.0),), call=_draw(source, "exponential")
        ),
        Spec(
            method(source, "exponential"),
            (2.0 + R.scalar(),),
            {"size": 5},
            call=_draw(source, "exponential"),
        ),  # fmt: skip
        Spec(
            method(source, "lognormal"),
            (R((3,)), R((3,), 0.5, 2.0)),
            call=_draw(source, "lognormal"),
        ),  # fmt: skip
    ]
    return specs


SPECS = [
    *_specs(np.random.Generator),
    *_specs(np.random.RandomState),
    Spec(rt.draw_scale, (R((3,), 0.5, 2.0), "scale"), wrt=(0,)),  # the identity, or refused
]

# NumPy draws float64 whatever the parameters' dtype, so there is no float32 table; the
# op sweep checks that the final gradients keep their argument's dtype.
test_rule_matches_finite_differences, test_float32_gradients_stay_float32 = table_tests(
    SPECS, float32=[]
)
