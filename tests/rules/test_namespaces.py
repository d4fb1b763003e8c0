"""Rules of ``array_api_compat``'s NumPy namespace: its wrappers that compute what a
NumPy function computes take that function's rules."""

import numpy as np
import pytest

from srcdiff.rules.namespaces import COMPAT_NAMESPACES

from .spec import Sampler, Spec, table_tests

R = Sampler(29)

SPECS = [  # array_api_compat's namespace, and SciPy's copy of it where SciPy is installed
    spec
    for compat in COMPAT_NAMESPACES
    for spec in (
        Spec(compat.matmul, (R((3, 4)), R((4, 2)))),
        Spec(compat.matmul, (R((2, 3, 4)), R((4,)))),
        Spec(compat.permute_dims, (R((2, 3, 4)), (2, 0, 1))),
        Spec(compat.tensordot, (R((3, 4)), R((4, 5))), {"axes": 1}),
        Spec(compat.tensordot, (R((2, 3, 4)), R((3, 4, 2))), {"axes": 2}),
        Spec(compat.asarray, (R((3, 4)),)),
        Spec(compat.sign, (R((3, 4)),)),
        Spec(compat.reshape, (R((3, 4)), (2, 6))),
        Spec(compat.asarray, (R((3,)),), {"dtype": np.float64}, label="dtype"),
        Spec(compat.linalg.matmul, (R((3, 4)), R((4, 2)))),
        Spec(compat.linalg.tensordot, (R((3, 4)), R((3, 4))), {"axes": 2}),
        Spec(compat.linalg.outer, (R((3,)), R((4,)))),
    )
]

LINALG_SPECS = [  # NumPy 2's np.linalg spellings of its top-level functions
    Spec(np.linalg.matmul, (R((3, 4)), R((4, 2)))),
    Spec(np.linalg.matmul, (R((2, 3, 4)), R((4,)))),
    Spec(np.linalg.outer, (R((3,)), R((4,)))),
    Spec(np.linalg.tensordot, (R((3, 4)), R((4, 5))), {"axes": 1}),
    Spec(np.linalg.tensordot, (R((2, 3, 4)), R((3, 4, 2))), {"axes": 2}),
    Spec(np.linalg.vecdot, (R((2, 3)), R((2, 3)))),
    Spec(np.linalg.vecdot, (R((3, 2)), R((3, 2))), {"axis": 0}, label="axis"),
    Spec(np.linalg.cross, (R((2, 3)), R((2, 3)))),
    Spec(np.linalg.cross, (R((3, 2)), R((3, 2))), {"axis": 0}, label="axis"),
]
SPECS = [*SPECS, *(s for s in LINALG_SPECS if hasattr(np.linalg, "vecdot"))]

test_rule_matches_finite_differences, test_float32_gradients_stay_float32 = table_tests(SPECS)


# ---- array_api_strict's own functions that compute what NumPy's of the same name do -------

strict = pytest.importorskip("array_api_strict")
from srcdiff.rules.namespaces import STRICT_AS_NUMPY  # noqa: E402

DOMAINS = {
    **dict.fromkeys("log log1p log2 log10 sqrt reciprocal".split(), (0.3, 2.0)),
    **dict.fromkeys("asin acos atanh".split(), (-0.8, 0.8)),
    "acosh": (1.2, 2.0),
}
BINARY = set("add subtract multiply divide pow maximum minimum hypot logaddexp atan2".split())


def _through_strict(fn):
    def call(*args, **kwargs):
        if not any(isinstance(a, np.ndarray) for a in args):  # the backend tests' arrays
            return fn(*args, **kwargs)
        return np.asarray(fn(*[strict.asarray(a) for a in args], **kwargs))

    call.__name__ = fn.__name__
    return call


def _strict_spec(name):
    fn = getattr(strict, name)
    if name == "matmul":
        args = (R((3, 4)), R((4, 2)))
    elif name in BINARY:
        lo = 0.3 if name in ("divide", "pow") else -2.0
        args = (R((3, 4), lo, 2.0), R((3, 4), lo, 2.0))
    else:
        args = (R((3, 4), *DOMAINS.get(name, (-2.0, 2.0))),)
    kwargs = {"axis": 1} if name in ("sum", "mean", "prod", "max", "min") else {}
    return Spec(fn, args, kwargs, call=_through_strict(fn), label=f"strict-{name}")


STRICT_SPECS = [_strict_spec(name) for name in STRICT_AS_NUMPY if hasattr(strict, name)]
SPECS = [*SPECS, *STRICT_SPECS]  # the coverage test and the backend tests read SPECS
test_strict_rule_matches_finite_differences, test_strict_float32_stays_float32 = table_tests(
    STRICT_SPECS
)
