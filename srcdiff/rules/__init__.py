"""The derivative rules, one module a family, all in one registry."""

from . import (  # noqa: F401  (each registers its rules)
    arithmetic,
    containers,
    indexing,
    linalg,
    numpy_math,
    reductions,
    shapes,
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

__all__ = [
    "Rule", "is_nondiff", "lookup", "make_rule", "nondiff", "refusal", "register",
    "unsupported", "vjp",
]  # fmt: skip
