"""The derivative rules, one module a family, all in one registry."""

from . import arithmetic, containers, indexing, linalg, numpy_math, reductions, shapes  # noqa: F401
from .registry import Rule, is_nondiff, lookup, make_rule, nondiff, register, vjp

__all__ = ["Rule", "is_nondiff", "lookup", "make_rule", "nondiff", "register", "vjp"]
