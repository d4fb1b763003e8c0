"""Rules of ``array_api_compat``'s NumPy namespace: its wrappers that compute what a
NumPy function computes take that function's rules."""

import array_api_compat.numpy as compat

from .spec import Sampler, Spec, table_tests

R = Sampler(29)

SPECS = [
    Spec(compat.matmul, (R((3, 4)), R((4, 2)))),
    Spec(compat.matmul, (R((2, 3, 4)), R((4,)))),
    Spec(compat.permute_dims, (R((2, 3, 4)), (2, 0, 1))),
    Spec(compat.tensordot, (R((3, 4)), R((4, 5))), {"axes": 1}),
    Spec(compat.tensordot, (R((2, 3, 4)), R((3, 4, 2))), {"axes": 2}),
    Spec(compat.linalg.matmul, (R((3, 4)), R((4, 2)))),
    Spec(compat.linalg.tensordot, (R((3, 4)), R((3, 4))), {"axes": 2}),
    Spec(compat.linalg.outer, (R((3,)), R((4,)))),
]

test_rule_matches_finite_differences, test_float32_gradients_stay_float32 = table_tests(SPECS)
