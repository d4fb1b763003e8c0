"""Array API style code (``xp = array_namespace(x); xp.tanh(x @ w)``): the namespace is
the array module of the arguments, a constant. ``array_api_compat``'s NumPy namespace
holds NumPy's own functions, which have their rules, and thin wrappers: those computing
what a NumPy function computes take its rules; the others are refused with the NumPy
spelling to use."""

import array_api_compat
import array_api_compat.numpy as compat
import numpy as np

from . import (  # noqa: F401  (NumPy's rules and reasons, read here, are registered first)
    arithmetic,
    assembly,
    contractions,
    creation,
    decompositions,
    elementwise,
    linalg,
    numpy_math,
    reductions,
    selection,
    sequences,
    shapes,
)
from .registry import alias, is_nondiff, lookup, nondiff, nondiff_reason, unsupported

nondiff(
    "the array module of its arguments: a namespace, not a value",
    array_api_compat.array_namespace,
    array_api_compat.get_namespace,
)

SAME_AS_NUMPY = {
    compat.matmul: np.matmul,
    compat.permute_dims: np.transpose,
    compat.tensordot: np.tensordot,
    compat.linalg.matmul: np.matmul,
    compat.linalg.tensordot: np.tensordot,
    compat.linalg.outer: np.outer,
}
for wrapper, primitive in SAME_AS_NUMPY.items():
    alias(wrapper, primitive)

for namespace, prefix in ((compat, "xp"), (compat.linalg, "xp.linalg")):
    for name in dir(namespace):
        wrapper = getattr(namespace, name)
        ours = getattr(np.linalg if namespace is compat.linalg else np, name, None)
        if name.startswith("_") or not callable(wrapper) or wrapper is ours:
            continue
        if wrapper in SAME_AS_NUMPY or lookup(wrapper) is not None:
            continue
        if ours is not None and is_nondiff(ours):  # argsort, zeros_like, floor, ...
            nondiff(f"as np.{name}: {nondiff_reason(ours)}", wrapper)
        else:
            unsupported(
                wrapper,
                f"{prefix}.{name} of array_api_compat's NumPy namespace (a wrapper whose "
                "derivative srcdiff does not know)",
                f"call NumPy's own function for it (np.{name} or its NumPy spelling)",
            )

# array_api_strict's own functions of the standard that compute what NumPy's function of
# the same name computes (elementwise math, reductions of the same keywords) take its rules.
try:
    import array_api_strict as strict
except ImportError:  # pragma: no cover - an optional backend
    strict = None
STRICT_AS_NUMPY = (
    "abs exp expm1 log log1p log2 log10 sqrt square sin cos tan sinh cosh tanh asin acos "
    "atan asinh acosh atanh negative positive add subtract multiply divide pow maximum "
    "minimum hypot logaddexp atan2 reciprocal matmul sum mean prod max min"
).split()
for name in STRICT_AS_NUMPY if strict is not None else ():
    theirs, ours = getattr(strict, name, None), getattr(np, name, None)
    if theirs is not None and ours is not None and lookup(ours) is not None:
        alias(theirs, ours)
