"""The derivative rules, one module a family, all in one registry."""

from .. import runtime
from . import (  # noqa: F401  (each registers its rules)
    arithmetic,
    assembly,
    containers,
    contractions,
    creation,
    decompositions,
    elementwise,
    indexing,
    linalg,
    namespaces,
    numpy_math,
    objects,
    random,
    reductions,
    registry,
    scipy_linalg,
    selection,
    sequences,
    shapes,
    spectral,
    tangents,
    tensor_methods,
    updates,
)
from .registry import (
    Rule,
    is_nondiff,
    lookup,
    make_rule,
    nondiff,
    refusal,
    register,
    unsupported,
    vjp,
)

runtime.install(registry=registry)  # calls from generated code look rules up there

__all__ = [
    "Rule", "is_nondiff", "lookup", "make_rule", "nondiff", "refusal", "register",
    "unsupported", "vjp",
]  # fmt: skip
