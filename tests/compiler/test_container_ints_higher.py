"""Second derivatives (``sd.hessian``, forward over reverse, reverse over reverse) of a
function whose nested function reads a dict of integers of the function around it
(``v ** cfg["p"]``): the dict, passed to the nested function's tangent by keyword, was
taken for a differentiated argument and refused ("cannot differentiate
_bind.<locals>.inner_tangent with respect to an integer or boolean argument")."""

from __future__ import annotations

import numpy as np
import pytest

import srcdiff as sd


def powers_in_a_nested_function(x, cfg):
    def inner(v):
        return v ** cfg["p"]

    return np.sum(inner(x) * x[cfg["k"]])


X = np.array([0.3, 0.7, 1.1, 0.5])


def _fd_hessian(f, x, cfg, eps):
    g = sd.grad(f)
    return np.stack([(g(x + e, cfg) - g(x - e, cfg)) / (2 * eps) for e in np.eye(x.size) * eps])


@pytest.mark.parametrize("cfg", [{"p": 3, "k": 1}, {"p": 2, "k": 3}])
@pytest.mark.parametrize(
    "second",
    [
        lambda f, x, c: sd.hessian(f)(x, c),
        lambda f, x, c: sd.jacobian(sd.grad(f), mode="fwd")(x, c),
        lambda f, x, c: sd.jacobian(sd.grad(f), mode="rev")(x, c),
    ],
    ids=["hessian", "jacobian-fwd-of-grad", "jacobian-rev-of-grad"],
)
def test_a_dict_of_integers_read_by_a_nested_function(second, cfg):
    got = second(powers_in_a_nested_function, X, cfg)
    for eps in (1e-4, 1e-5):
        np.testing.assert_allclose(
            got, _fd_hessian(powers_in_a_nested_function, X, cfg, eps), rtol=1e-5, atol=1e-6
        )
