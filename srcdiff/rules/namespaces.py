"""Array API style code (``xp = array_namespace(x); xp.tanh(x @ w)``): the namespace is
the array module of the arguments, a constant. ``array_api_compat``'s NumPy namespace
holds NumPy's own functions, which have their rules, and thin wrappers: those computing
what a NumPy function computes take its rules; the others are refused with the NumPy
spelling to use."""

import contextlib

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

NAMESPACE_FUNCTIONS = [array_api_compat.array_namespace, array_api_compat.get_namespace]
with contextlib.suppress(ImportError):  # SciPy's own (its functions call it: softmax, ...)
    from scipy._lib._array_api import array_namespace as scipy_namespace

    NAMESPACE_FUNCTIONS.append(scipy_namespace)
nondiff("the array module of its arguments: a namespace, not a value", *NAMESPACE_FUNCTIONS)

# the wrappers computing what a NumPy function computes, by name (in the namespace, and
# in its linalg)
SAME_AS_NUMPY = {
    "matmul": np.matmul, "permute_dims": np.transpose, "tensordot": np.tensordot,
    "asarray": np.asarray, "sign": np.sign, "reshape": np.reshape,
}  # fmt: skip
SAME_AS_NUMPY_LINALG = {"matmul": np.matmul, "tensordot": np.tensordot, "outer": np.outer}
COMPAT_NAMESPACES = [compat]
with contextlib.suppress(ImportError):  # SciPy's copy of array_api_compat (its xp)
    import scipy._lib.array_api_compat.numpy as scipy_compat

    COMPAT_NAMESPACES.append(scipy_compat)

WRAPPERS = []  # the wrappers taking NumPy's rules (they compute on NumPy arrays only)
for top in COMPAT_NAMESPACES:
    for namespace, prefix, same in ((top, "xp", SAME_AS_NUMPY),
                                    (top.linalg, "xp.linalg", SAME_AS_NUMPY_LINALG)):  # fmt: skip
        for name in dir(namespace):
            wrapper = getattr(namespace, name)
            ours = getattr(np.linalg if prefix == "xp.linalg" else np, name, None)
            if name.startswith("_") or not callable(wrapper) or wrapper is ours:
                continue
            if name in same:
                alias(wrapper, same[name])
                WRAPPERS.append(wrapper)
            elif lookup(wrapper) is not None:
                continue
            elif ours is not None and is_nondiff(ours):  # argsort, zeros_like, floor, ...
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

# NumPy 2's own spellings in np.linalg of functions NumPy has at its top level, with the
# same arguments (the array API's: np.linalg.outer of vectors, cross and vecdot along the
# last axis by default, as NumPy's): the top-level function's rules.
LINALG_AS_NUMPY = ("matmul", "outer", "tensordot", "vecdot", "cross")
LINALG_ALIASES = []  # (NumPy's functions: compiled code for another array module keeps them)
for name in LINALG_AS_NUMPY:
    theirs, ours = getattr(np.linalg, name, None), getattr(np, name, None)
    if theirs is not None and ours is not None and theirs is not ours and lookup(ours):
        alias(theirs, ours)
        LINALG_ALIASES.append(theirs)
