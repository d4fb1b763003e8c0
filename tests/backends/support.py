"""The array backends the tests run on, moving values to and from them, and the one list of
what a backend cannot run (each with its reason).

Backends: NumPy; array-api-strict, an implementation of the Array API standard with no
NumPy behaviour (so a test passing on it shows that generated code and rules lean on
nothing outside the standard); CuPy, skipped where ``sd.cuda.is_available()`` is False.
"""

from __future__ import annotations

import builtins
import importlib
from typing import Any

import array_api_strict as backend_strict
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import srcdiff as sd
from srcdiff import backend
from srcdiff import runtime as rt
from srcdiff.compiler.backends import numpy_name
from srcdiff.rules.elementwise import SCIPY_SPECIAL
from srcdiff.rules.namespaces import LINALG_ALIASES, STRICT_AS_NUMPY, WRAPPERS
from srcdiff.rules.registry import method
from srcdiff.rules.scipy_linalg import NUMPY_ONLY as SCIPY_LINALG

try:
    from srcdiff.rules.scipy_stats import SCIPY_STATS
except ImportError:  # SciPy is optional
    SCIPY_STATS = ()
from srcdiff.runtime import tensor_methods as tm

STRICT = "array_api_strict"
AUTOGRAD = "srcdiff.autograd"  # the Tensor layer's own primitives (create_graph=True)
NN_FUNCTIONAL = "srcdiff.nn.functional"  # ... and nn.functional's (binary cross entropy)
NO_CUDA = "CuPy or a GPU is missing here: sd.cuda.is_available() is False"


def backend_params() -> list:
    """One pytest param per backend: NumPy, array-api-strict, CuPy (skipped without CUDA)."""
    return [
        pytest.param("numpy", id="numpy"),
        pytest.param(STRICT, id="strict"),
        pytest.param(
            "cupy", id="cupy", marks=pytest.mark.skipif(not sd.cuda.is_available(), reason=NO_CUDA)
        ),
    ]


def module(name: str) -> Any:
    return importlib.import_module(name)


# ---- values on a backend ------------------------------------------------------------------


def rebuilt(x: list | tuple, items: Any) -> list | tuple:
    """``items`` as a sequence of ``x``'s type (a named tuple takes its fields apart)."""
    items = list(items)
    return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)


def to_backend(x: Any, xp: Any) -> Any:
    """``x`` with its NumPy arrays (also inside lists, tuples and dicts) made ``xp``'s."""
    if isinstance(x, dict):
        return {k: to_backend(v, xp) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return rebuilt(x, (to_backend(v, xp) for v in x))
    if isinstance(x, np.ndarray) and xp is not np:
        return xp.asarray(x)
    return x


def to_numpy(x: Any) -> Any:
    """``x`` with its arrays (also inside containers) made NumPy's, for comparisons."""
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return rebuilt(x, (to_numpy(v) for v in x))
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic):
        return np.array(backend.to_numpy(x))
    return x


def arrays_in(x: Any) -> list:
    """The arrays (not NumPy scalars) inside ``x``."""
    if isinstance(x, dict):
        return [a for v in x.values() for a in arrays_in(v)]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in arrays_in(v)]
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic):
        return [x]
    return []


def assert_on(x: Any, xp: Any, where: str) -> None:
    """Every array inside ``x`` belongs to ``xp``: nothing was converted to NumPy."""
    for a in arrays_in(x):
        assert backend.array_module(a) is xp, (
            f"{where} is a {type(a).__module__}.{type(a).__name__}, not an array of "
            f"{xp.__name__}: something converted to NumPy"
        )


def assert_close(
    got: Any, expected: Any, where: str, rtol: float = 1e-9, atol: float = 1e-12
) -> None:
    """``got`` (on a backend) equals ``expected`` (NumPy), entry by entry."""
    got, expected = to_numpy(got), to_numpy(expected)
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), where
        for k in expected:
            assert_close(got[k], expected[k], f"{where}[{k!r}]", rtol, atol)
    elif isinstance(expected, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(expected), where
        for k, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_close(a, b, f"{where}[{k}]", rtol, atol)
    elif expected is None or got is None:
        zero = got if expected is None else expected
        assert zero is None or not np.any(np.asarray(zero, np.float64)), where
    else:
        assert np.shape(got) == np.shape(expected), f"{where}: shape {np.shape(got)}"
        np.testing.assert_allclose(
            np.asarray(got, np.float64),
            np.asarray(expected, np.float64),
            rtol=rtol,
            atol=atol,
            err_msg=where,
        )


def primal_on(prim: Any, xp: Any) -> Any:
    """The primitive ``prim`` (a registry key) as code on ``xp`` calls it: NumPy functions
    by their counterpart in ``xp``, everything else as it is."""
    name = numpy_name(prim)
    if name is None or xp is np:
        return prim
    other = backend.counterpart(xp, name)
    if other is None:
        pytest.fail(f"np.{name} has no counterpart in {xp.__name__}: list it in UNSUPPORTED")
    return getattr(xp, other)


# ---- what a backend cannot run ----------------------------------------------------------

NOT_STANDARD = "not in the Array API standard"
STRICT_OWN = [getattr(backend_strict, n) for n in STRICT_AS_NUMPY if hasattr(backend_strict, n)]
METHODS = "an array method outside the standard"
TENSOR = "a Tensor method: the Tensor runtime keeps its arrays on 'cpu' (NumPy) or 'cuda' (CuPy)"
INDEX_ARRAYS = "integer arrays in an index must index every axis in the standard"
FANCY_WRITE = "writing through an integer-array index: the standard has no such __setitem__"

# Per backend, the primitives (registry keys) whose rules it cannot run, and why. The
# README's table of backends is made from this list (see ``coverage.py``).
DRAWS = "NumPy's generators draw NumPy arrays from NumPy parameters"
NUMPY_DRAWS = [
    method(source, name)
    for source in (np.random.Generator, np.random.RandomState)
    for name in ("normal", "laplace", "gumbel", "logistic", "uniform", "exponential", "lognormal")
]
COMPAT = "array_api_compat's NumPy namespace: its own backend's namespace serves other arrays"
LINALG_SPELLINGS = (
    "NumPy 2's np.linalg spelling of a top-level function: compiled code for another array "
    "module calls NumPy's (write np.matmul, np.outer, np.tensordot, np.vecdot, np.cross)"
)
UNSUPPORTED: dict[str, dict[Any, str]] = {
    STRICT: {
        **dict.fromkeys(NUMPY_DRAWS, DRAWS),
        **dict.fromkeys(WRAPPERS, COMPAT),
        **dict.fromkeys(LINALG_ALIASES, LINALG_SPELLINGS),
        **dict.fromkeys(
            [
                np.exp2,
                np.fmax,
                np.fmin,
                np.outer,
                np.inner,
                np.dot,
                np.ravel,
                np.swapaxes,
                np.array,
                np.copy,
                np.ascontiguousarray,
                np.asanyarray,
                np.asfortranarray,
                np.asarray_chkfinite,
                np.diagflat,
                np.ediff1d,
                np.nancumsum,
                np.nanprod,
                np.nancumprod,
                np.require,
                np.unwrap,
                np.polyder,
                np.polyint,
                np.poly,
                np.polyadd,
                np.polysub,
                np.polymul,
                np.roots,
                np.compress,
                np.extract,
                np.union1d,
                np.setdiff1d,
                np.setxor1d,
                np.intersect1d,
                np.polydiv,
                rt.poly_quotients,  # (np.poly's rules call it)
                np.logspace,
                np.geomspace,
                np.nanmedian,
                np.unique,
                np.histogram_bin_edges,
                np.frexp,
                np.i0,
                rt.bessel_i1,  # (its rule calls np.i0)
                np.ix_,
                *[getattr(np, n) for n in ("matvec", "vecmat") if hasattr(np, n)],
            ],
            NOT_STANDARD,
        ),
        np.trace: "not in the standard (only in its linalg extension)",
        **dict.fromkeys(
            [np.matrix_transpose] if hasattr(np, "matrix_transpose") else [],
            "its rule swaps the axes with swapaxes, which the standard spells matrix_transpose",
        ),
        **dict.fromkeys(
            [
                np.average,
                np.quantile,
                np.percentile,
                np.nanquantile,
                np.nanpercentile,
                np.median,
                rt.average_weights,
                np.cbrt,
                np.polyfit,
            ],  # fmt: skip
            NOT_STANDARD,
        ),
        **dict.fromkeys(
            [rt.quantile_tangent, rt.quantile_grads, rt.quantile_cross, rt.quantile_cross_grads],
            "a helper of the rules of np.quantile, np.percentile and np.median (and their "
            "NaN-skipping forms), which the standard has not",
        ),
        **dict.fromkeys([np.r_, np.c_], "NumPy's index objects: the standard has none"),
        **dict.fromkeys(
            [
                rt.add_at,
                rt.subtract_at,
                rt.multiply_at,
                rt.put,
                rt.put_along_axis,
                rt.putmask,
                rt.place,
                rt.fill_diagonal,
                rt.filled,
            ],
            "np.add.at, np.multiply.at, np.put, np.put_along_axis, np.putmask, np.place, "
            "np.fill_diagonal and x.fill: not in the standard",
        ),  # fmt: skip
        np.linalg.norm: "not in the standard (its linalg extension has vector_norm)",
        **dict.fromkeys(
            [
                rt.norm_grad,
                rt.norm_slope_tangent,
                rt.norm_slope_second,
                rt.norm_slope_power,
                rt.norm_slope_along,
            ],
            "the slope of np.linalg.norm, which is not in the standard, and its derivatives",
        ),
        **dict.fromkeys(
            [rt.eigen_gaps, rt.concatenator_tangent, rt.interp_slope],
            "a helper of the forward rules of np.linalg.eigh and svd, np.r_ and np.c_, "
            "np.interp, which the standard has not",
        ),
        **dict.fromkeys(
            [rt.cofactor, rt.invertible],
            "a helper of the rules of np.linalg.det and slogdet, which compiled code leaves "
            "NumPy's",
        ),
        **dict.fromkeys(
            [rt.matrix_power_second, rt.matrix_power_third],
            "a helper of the forward rule of np.linalg.matrix_power, which compiled code "
            "leaves NumPy's",
        ),
        rt.multi_dot_tangent: (
            "a helper of the forward rule of np.linalg.multi_dot, which is not in the standard"
        ),
        **dict.fromkeys([np.einsum, np.kron, np.vdot], NOT_STANDARD),
        np.cross: "not in the standard (its linalg extension has cross, of 3-vectors only)",
        **dict.fromkeys(
            [
                np.linalg.inv,
                np.linalg.cond,
                np.linalg.solve,
                np.linalg.det,
                np.linalg.slogdet,
                np.linalg.cholesky,
                np.linalg.eigh,
                np.linalg.eigvalsh,
                np.linalg.svd,
                np.linalg.pinv,
                np.linalg.qr,
                np.linalg.matrix_power,
            ],
            "only in the standard's optional linalg extension, which compiled code does not "
            "reach: np.linalg.* stays NumPy's, and makes NumPy arrays of the arguments",
        ),
        **dict.fromkeys(
            [np.linalg.lstsq, np.linalg.eig, np.linalg.eigvals, np.linalg.tensorinv],
            "not in the standard, nor in its linalg extension",
        ),
        **dict.fromkeys(
            [
                np.hstack,
                np.vstack,
                np.dstack,
                np.column_stack,
                np.append,
                np.split,
                np.array_split,
                np.hsplit,
                np.vsplit,
                np.dsplit,
                np.fliplr,
                np.flipud,
                np.rot90,
                np.atleast_1d,
                np.atleast_2d,
                np.atleast_3d,
                np.pad,
                np.diag,
                np.select,
                np.choose,
                np.partition,
                np.nanmax,
                np.nanmin,
                np.nansum,
                np.nanmean,
                np.insert,
                np.delete,
                np.resize,
                np.block,
                np.trim_zeros,
                rt.block_grads,
                np.histogram,
                np.histogram2d,
                *([np.row_stack] if hasattr(np, "row_stack") else []),
            ],
            NOT_STANDARD,
        ),
        rt.pad_stat_tangent: "the tangent of np.pad, which is not in the standard",
        np.diagonal: "not in the standard (only in its linalg extension)",
        sliding_window_view: "NumPy's stride tricks: the standard has no strided views",
        **dict.fromkeys(
            [
                np.logaddexp2,
                np.deg2rad,
                np.rad2deg,
                np.radians,
                np.degrees,
                np.fabs,
                np.fmod,
                np.sinc,
                np.nan_to_num,
                np.angle,
                np.gradient,
                rt.gradient_samples_tangent,  # np.gradient of a tangent
                rt.gradient_spacing_tangent,
                *[f for f in (getattr(np, "trapezoid", None), getattr(np, "trapz", None)) if f],
                np.interp,
                np.convolve,
                np.correlate,
                np.polyval,
                np.vander,
                np.rollaxis,
            ],
            NOT_STANDARD,
        ),
        **dict.fromkeys(
            [np.float_power, np.divmod, np.modf, np.ptp, np.cov, np.corrcoef], NOT_STANDARD
        ),
        builtins.divmod: "the standard's arrays have no __divmod__",
        np.conjugate: "not in the standard under this name (it has conj)",
        np.imag: "the standard's imag takes complex arrays only",
        np.real_if_close: "not in the standard (its real takes complex arrays only)",
        **dict.fromkeys(SCIPY_SPECIAL, "scipy.special computes on NumPy arrays"),
        **dict.fromkeys(SCIPY_LINALG, "scipy.linalg computes on NumPy arrays"),
        **dict.fromkeys(SCIPY_STATS, "scipy.stats computes on NumPy arrays"),
        rt.standardizing: "scipy.stats's helper (the standard has no nanmean or nanstd, and its "
        "std takes correction=, not ddof=)",
        "ndarray.cumprod": METHODS,
        np.transpose: "the standard's permute_dims needs the axes",
        np.cumsum: "the standard's cumulative_sum needs an axis for more than one dimension",
        **dict.fromkeys(
            [
                np.add.reduce,
                np.multiply.reduce,
                np.maximum.reduce,
                np.minimum.reduce,
                np.add.accumulate,
                np.multiply.accumulate,
                np.maximum.accumulate,
                np.minimum.accumulate,
                np.fmax.accumulate,
                np.fmin.accumulate,
                np.add.reduceat,
                np.multiply.reduceat,
                np.maximum.reduceat,
                np.minimum.reduceat,
                np.fmax.reduceat,
                np.fmin.reduceat,
                rt.reduceat_grad,  # (reached through reduceat only)
                rt.reduceat_tangent,
                np.add.outer,
                np.subtract.outer,
                np.multiply.outer,
            ],
            "a ufunc's own method: the standard's functions are not ufuncs",
        ),  # fmt: skip
        **dict.fromkeys(
            [np.heaviside, np.ldexp, np.bincount, np.nanvar, np.nanstd, np.linalg.multi_dot],
            NOT_STANDARD,
        ),
        **dict.fromkeys(
            [
                np.fft.fftshift,
                np.fft.ifftshift,
                np.fft.irfft,
                np.fft.irfftn,
                np.fft.irfft2,
                np.fft.hfft,
                rt.irfft_grad,
            ],  # fmt: skip
            "only in the standard's fft extension, which compiled code does not reach: "
            "np.fft.* stays NumPy's",
        ),
        **dict.fromkeys(
            [
                *[getattr(np, n) for n in ("cumulative_sum", "cumulative_prod") if hasattr(np, n)],
                rt.reverse_cumsum,
            ],
            "its rule sums and multiplies with np.cumsum and np.cumprod, which the standard "
            "spells otherwise",
        ),
        **dict.fromkeys(
            [
                getattr(np.linalg, n)
                for n in (
                    "matrix_norm",
                    "vector_norm",
                    "trace",
                    "diagonal",
                    "svdvals",
                    "matrix_transpose",
                )
                if hasattr(np.linalg, n)
            ],
            "only in the standard's optional linalg extension, which compiled code does not "
            "reach: np.linalg.* stays NumPy's, and makes NumPy arrays of the arguments",
        ),  # fmt: skip
        **dict.fromkeys(
            [
                "ndarray.sum",
                "ndarray.mean",
                "ndarray.prod",
                "ndarray.max",
                "ndarray.min",
                "ndarray.var",
                "ndarray.std",
                "ndarray.cumsum",
                "ndarray.reshape",
                "ndarray.ravel",
                "ndarray.flatten",
                "ndarray.squeeze",
                "ndarray.transpose",
                "ndarray.swapaxes",
                "ndarray.clip",
                "ndarray.dot",
                "ndarray.trace",
                "ndarray.item",
                "ndarray.astype",
                "ndarray.copy",
                "ndarray.repeat",
                "ndarray.diagonal",
                "ndarray.take",
                "ndarray.real",
                "ndarray.imag",
                "ndarray.conj",
                "ndarray.conjugate",
                "ndarray.view",
                "ndarray.tolist",
            ],
            METHODS,
        ),
    },
    "cupy": {
        **dict.fromkeys(
            STRICT_OWN, "array_api_strict's own functions take array_api_strict arrays only"
        ),
        **dict.fromkeys(SCIPY_LINALG, "scipy.linalg computes on NumPy arrays"),
        **dict.fromkeys(SCIPY_STATS, "scipy.stats computes on NumPy arrays"),
        **dict.fromkeys(
            [
                f
                for f in SCIPY_SPECIAL
                if getattr(f, "__name__", "") in ("psi", "logsumexp", "softmax", "log_softmax")
            ],
            "scipy.special's psi, logsumexp, softmax and log_softmax make NumPy arrays of "
            "their arguments, which CuPy refuses",
        ),
        **dict.fromkeys(
            [np.r_, np.c_],
            "NumPy's index objects make NumPy arrays: CuPy code writes cupy.r_ and cupy.c_",
        ),
        **dict.fromkeys(NUMPY_DRAWS, DRAWS),
        **dict.fromkeys(WRAPPERS, COMPAT),
        **dict.fromkeys(LINALG_ALIASES, LINALG_SPELLINGS),
        **dict.fromkeys(
            [np.linalg.eig, np.linalg.eigvals],
            "not run on CuPy: its eig and eigvals (cuSOLVER's, whose order of the eigenvalues "
            "its documentation leaves open) are not checked against these rules",
        ),
    },
}

# Single specs of tests/rules (by id) a backend cannot run, and why.
REDUCTIONS_WITH_INITIAL_OR_WHERE = [
    "np.max[initial]",
    "np.max[initial-wins]",
    "np.min[initial]",
    "np.max[where]",
    "np.min[where]",
    "np.sum[initial]",
    "np.sum[where]",
    "np.sum[where-kw;axis=0,keepdims=True,where=[[True], [False], [True]]]",
    "np.mean[where;axis=1,where=[True, False, True, True]]",
    "np.mean[where;axis=0,keepdims=True,where=[[True], [False], [True]]]",
    "np.mean[where-all;where=[True, False, True, True]]",
    "assembly.centred[where]",
    "assembly.centred[where-all]",
]
ITERATES = "iterates over an array (for row in x, len(x), sum(x)): the standard has neither"
TENSORDOT_AXES = "the standard's tensordot takes its axes by keyword"
UNSUPPORTED_SPECS: dict[str, dict[str, str]] = {
    STRICT: {
        "np.where[int-condition]": "the standard's where takes a boolean condition only",
        **dict.fromkeys(
            ["np.clip[crossed-bounds]", "np.clip[partly-crossed]"],
            "array_api_strict's clip refuses a lower bound above the upper one",
        ),
        "np.vecdot[3x4-3x1;axis=0]": "the standard's vecdot takes a negative axis only",
        **dict.fromkeys(
            [
                "builtins.min[array-entries]",
                "builtins.max[array-rows]",
                "updates.choice_tangent[entries]",
            ],
            "Python's max and min iterate the array, which the standard's arrays forbid",
        ),  # fmt: skip
        "np.sort[kind;axis=1,kind='stable']": "the standard's sort has no kind (stable=)",
        "np.full[row-fill]": "the standard's full takes a Python scalar fill value",
        "np.full_like[column-fill]": "the standard's full_like takes a Python scalar",
        "np.linspace[arrays-axis-1;axis=1]": "the standard's linspace has no axis",
        "np.squeeze[3x1x4x1;axis=None]": "the standard's squeeze needs its axis",
        "np.sum[3x4-positional-axis]": "the standard's sum takes its axis by keyword",
        "np.concatenate[positional-axis]": "the standard's concat takes its axis by keyword",
        "ndarray.T[2x3x4]": "the standard's .T is for matrices only (.mT for stacks)",
        "operator.getitem[int-array-duplicates]": INDEX_ARRAYS,
        "builtins.list[rows]": ITERATES,
        "builtins.sum[rows-of-an-array]": ITERATES,
        "math.prod[rows-of-an-array]": ITERATES,
        "math.dist[arrays]": ITERATES,
        **dict.fromkeys(
            [f"np.meshgrid[{shapes};sparse=True]" for shapes in ("3-4", "3", "2-3-4", "2x2-0d")]
            + ["assembly.meshgrid_tangent[sparse-indexing]"],
            "the standard's meshgrid has no sparse grids",
        ),
        "operator.getitem[list-duplicates]": "lists as indices (the standard takes arrays)",
        "operator.getitem[2d-int-array]": INDEX_ARRAYS,
        "operator.getitem[int-array-and-slice]": INDEX_ARRAYS,
        "operator.getitem[newaxis]": "None in an index with fewer entries than axes",
        "arrays.setitem[int-array]": FANCY_WRITE,
        "arrays.setitem[int-array-duplicates]": FANCY_WRITE,
        "arrays.setitem[int-array-duplicates-broadcast]": FANCY_WRITE,
        "np.copysign[float-3x4]": "the standard's copysign takes an array as x1",
        **dict.fromkeys(
            [
                "np.diff[3x4-n-2]",
                "np.diff[n-0]",
                "np.diff[n-past-length]",
                "np.diff[prepend-append]",
                "np.diff[prepend-axis-0]",
                "np.diff[number-prepend-append]",
            ],
            "the standard's diff takes n, axis, prepend and append by keyword (prepend and "
            "append as arrays)",
        ),
        **dict.fromkeys(
            ["np.cumprod[3x4-flat]", "np.cumprod[zeros-flat]"],
            "the standard's cumulative_prod needs an axis for more than one dimension",
        ),
        "np.cumprod[3x4-axis-1]": "the standard's cumulative_prod takes its axis by keyword",
        "np.cumprod[dtype;axis=1,dtype=<class 'numpy.float64'>]": (
            "a NumPy dtype: the standard's cumulative_prod takes its own"
        ),
        "np.tile[int-reps]": "the standard's tile takes a tuple of repetitions",
        "np.repeat[flat-list]": "the standard's repeat takes an int or an array of counts",
        "np.repeat[positional-axis]": "the standard's repeat takes its axis by keyword",
        "np.roll[positional-axis]": "the standard's roll takes its axis by keyword",
        "np.tril[vector]": "the standard's tril takes a matrix or a stack of them",
        "np.triu[vector]": "the standard's triu takes a matrix or a stack of them",
        "np.tril[positional-k]": "the standard's tril takes k by keyword",
        "np.triu[positional-k]": "the standard's triu takes k by keyword",
        "np.take[list-duplicates]": "the standard's take takes an array of indices",
        "np.take[2d;axis=0]": "the standard's take takes a 1-D array of indices",
        "np.take[flat-int]": "the standard's take takes an array of indices",
        "np.take[flat-2d]": "the standard's take takes a 1-D array of indices",
        "np.take[int-axis;axis=1]": "the standard's take takes an array of indices",
        "np.take[wrap;mode='wrap']": "the standard's take has no mode",
        "np.take[clip;axis=1,mode='clip']": "the standard's take has no mode",
        "np.take[positional-axis]": "the standard's take takes its axis by keyword",
        "np.take_along_axis[positional-axis]": "the standard takes this axis by keyword",
        **dict.fromkeys(
            REDUCTIONS_WITH_INITIAL_OR_WHERE, "the standard's reductions have no initial= or where="
        ),
        "np.tensordot[positional-int]": TENSORDOT_AXES,
        "np.tensordot[positional-outer]": TENSORDOT_AXES,
        "np.tensordot[positional-full]": TENSORDOT_AXES,
        "np.tensordot[positional-pairs]": TENSORDOT_AXES,
        "np.tensordot[positional-negative]": TENSORDOT_AXES,
    },
}

# Specs whose arguments share objects (a list holding another argument), which moving
# them to another backend, one by one, cannot keep.
SHARED = (
    "arguments that are one object (a list holding another argument), which moving them "
    "to the backend one by one does not keep"
)
for _backend in (STRICT, "cupy"):
    UNSUPPORTED_SPECS.setdefault(_backend, {}).update(
        dict.fromkeys(
            [
                "mutation.follow_tangent[[3,3]-[3,3]-3-3]",
                "mutation.put_back_tangent[[3,3]-[3,3]-1-3]",
            ],
            SHARED,
        )
        | dict.fromkeys(
            [
                "objects.partial_tangent[positional]",
                "objects.partial_tangent[keyword]",
                "objects.partial_grads[positional]",
                "objects.partial_grads[keyword]",
            ],
            "a partial's bound arrays: moving the arguments to the backend does not reach "
            "inside the partial",
        )
    )
UNSUPPORTED_SPECS[STRICT] |= dict.fromkeys(
    ["arrays.item_tangent[flat]", "arrays.item_tangent[per-axis]"],
    "the standard's arrays have no item() (as ndarray.item)",
)
UNSUPPORTED_SPECS[STRICT] |= dict.fromkeys(
    [
        *(
            f"arrays.flat_read[{label}]"
            for label in (
                "int",
                "negative-int",
                "slice",
                "list-duplicates",
                "2d-int-array",
                "bool-mask",
                "transposed",
                "0d",
            )
        ),  # fmt: skip
        "arrays.flat_read_grad[list]",
        "arrays.flat_read_grad[slice]",
    ],
    "the standard's arrays have no .flat (as ndarray.flat)",
)

# Specs whose primal CuPy itself cannot run: a plain call with CuPy arrays raises, and so
# does compiled code (the same call, on CuPy), which is all srcdiff owes there.
CUPY_REDUCTIONS = "CuPy's reductions have no initial= or where="
UNSUPPORTED_SPECS["cupy"] |= {
    "np.column_stack[[0d,0d]]": "CuPy's column_stack takes 1-D and 2-D arrays only",
    **dict.fromkeys(
        [
            "np.pad[widths-per-axis]",
            "np.pad[array-widths]",
            "np.pad[dict]",
            "np.pad[dict-negative-axis]",
            "np.pad[dict;mode='reflect',reflect_type='even']",
        ],
        "CuPy's pad takes its widths as an int or (before, after) pairs for every axis",
    ),
    **dict.fromkeys(
        ["np.convolve[integer-mode]", "np.correlate[integer-mode]"],
        "CuPy takes mode as a string",
    ),
    "np.polyval[two-polynomials]": "CuPy's polyval takes 1-D coefficients only",
    "np.interp[number]": "CuPy's interp takes an array of points, not a Python number",
    "stride_tricks.sliding_window_view[same-axis;axis=(0, 0)]": (
        "CuPy's sliding_window_view refuses an axis named twice"
    ),
    "np.partition[2x3x4-2;axis=1,kind='introselect']": "CuPy's partition has no kind=",
    **dict.fromkeys(
        [
            "np.select[broadcast-default]",
            "np.select[choices-array]",
            "np.select[[3x4,3x4]-[3x4,3x4]-3x4]",
        ],
        "CuPy's select takes a scalar default",
    ),
    **dict.fromkeys(
        [
            "np.choose[3x4-[3x4,3x4,3x4]]",
            "np.choose[broadcast]",
            "np.choose[3x4-[3x4,3x4];mode='wrap']",
            "np.choose[3x4-[3x4,3x4];mode='clip']",
            "np.choose[number-choice]",
        ],
        "CuPy's choose takes its choices as one array, not a list",
    ),
    **dict.fromkeys(
        ["np.take[wrap;mode='wrap']", "np.take[clip;axis=1,mode='clip']"],
        "CuPy's take has no mode=",
    ),
    "np.take_along_axis[default-axis]": "CuPy's take_along_axis needs its axis",
    **dict.fromkeys(
        [
            *REDUCTIONS_WITH_INITIAL_OR_WHERE,
            "np.nanmax[initial]",
            "np.nanmin[initial]",
            "np.nanmax[where]",
            "np.nansum[initial]",
            "np.nansum[where;axis=1,where=[True, False, True, True]]",
            "np.nanmean[where;axis=1,where=[True, False, True, True]]",
        ],
        CUPY_REDUCTIONS,
    ),
    "np.linalg.cholesky[3x3;upper=True]": "CuPy's cholesky has no upper=",
    "np.linalg.pinv[3x3;hermitian=True]": "CuPy's pinv has no hermitian=",
    "np.linalg.svd[3x3;hermitian=True]": "CuPy's svd has no hermitian=",
    **dict.fromkeys(
        ["np.linalg.solve[1x3x3-2x3x1]", "np.linalg.solve[3x3-2x3x4]"],
        "CuPy's solve does not broadcast a stack of matrices against b",
    ),
}

# Battery functions (tests/compiler/functions.py) a backend cannot run, and why: each is
# NumPy code that the standard does not allow, never a limit of srcdiff's generated code.
USES_METHODS = "calls array methods outside the standard (x.sum(), x.max(), x.reshape(), ...)"
FEW_AXES = "indexes fewer axes than the array has (m[1] of a matrix): the standard wants m[1, ...]"
OWN_ARRAYS = "computes with NumPy arrays of its own (globals, attributes) next to its arguments"
BOOL_MATH = (
    "does arithmetic on booleans (x * (x > 0), np.sum(mask)): the standard does not promote them"
)
OWN_ARRAYS_FUNCTIONS = "call_method call_callable_object loss uses_globals"
STRICT_FUNCTIONS = {
    USES_METHODS: "method_sum_axis method_mean method_reshape method_dot method_astype "
    "method_max_min method_prod method_clip method_copy_ravel_flatten "
    "method_squeeze method_transpose method_item write_overwrites_active "
    "logsumexp_by_hand model_layer_norm model_softmax_cross_entropy "
    "corner_reversed_slice corner_method_chain",
    ITERATES: "for_over_rows for_zip for_enumerate for_enumerate_zip loop_counts_pass_only "
    "model_rnn model_horner corner_integer_arithmetic "
    "corner_enumerate_index_stays_integer corner_builtin_sum_of_array "
    "list_comprehension rnn_collecting_states rows_of_an_array_as_a_list "
    "set_comprehension_of_signs zips_consumed_later accumulated_by_keyword",
    FEW_AXES: "write_column nested_loops_branching rule_reshape rule_stack "
    "corner_write_rows_and_columns write_nested_into_array_rows",
    OWN_ARRAYS: OWN_ARRAYS_FUNCTIONS,
    BOOL_MATH: "op_comparison_mask op_comparison_between",
    "x[:, None] on a vector: the standard's newaxis comes with an index for every axis": (
        "index_new_axis"
    ),
    "np.array: the standard makes arrays with asarray": "write_with_index_array",
    "np.dot, np.outer: not in the standard": "rule_dot rule_outer write_nested_through_a_copy",
    "np.transpose: not in the standard (permute_dims)": "rule_transpose",
    "np.squeeze without an axis: the standard's squeeze needs one": "rule_squeeze_expand_dims",
    "np.sqrt(3.0) of a Python number: the standard's functions take arrays": "model_attention",
    "np.sum(x, 0): the standard's reductions take their axis by keyword": "corner_positional_axis",
    "arithmetic between an array and a Python list: the standard takes arrays and scalars": (
        "array_with_a_list_literal array_plus_a_list_of_an_array rule_matmul_of_lists "
        "rule_of_list_displays"
    ),
}
UNSUPPORTED_FUNCTIONS: dict[str, dict[str, str]] = {
    STRICT: {fn: why for why, fns in STRICT_FUNCTIONS.items() for fn in fns.split()},
    "cupy": {
        **dict.fromkeys(OWN_ARRAYS_FUNCTIONS.split(), OWN_ARRAYS),
        **dict.fromkeys(
            [
                "array_with_a_list_literal",
                "array_plus_a_list_of_an_array",
                "rule_matmul_of_lists",
                "rule_of_list_displays",
            ],
            "arithmetic between an array and a Python list: CuPy takes arrays and scalars",
        ),
    },
}


def skip_reason(backend_name: str, prim: Any, spec_id: str = "") -> str | None:
    """Why ``backend_name`` cannot run the rule of ``prim`` (or the one spec ``spec_id``
    of it); None when it can."""
    if spec_id in UNSUPPORTED_SPECS.get(backend_name, {}):
        return UNSUPPORTED_SPECS[backend_name][spec_id]
    if backend_name == STRICT and "ddof=" in spec_id:
        return "the standard's var and std call ddof correction"
    if backend_name == STRICT and prim in (np.var, np.std) and "where=" in spec_id:
        return "the standard's var and std take no where="
    if backend_name == STRICT and "positional-keepdims" in spec_id:
        return "the standard's reductions take axis and keepdims by keyword"
    if backend_name == STRICT and getattr(prim, "__module__", None) in (tm.__name__, AUTOGRAD,
                                                                        NN_FUNCTIONAL):  # fmt: skip
        return TENSOR  # every Tensor method, so none is forgotten
    try:
        return UNSUPPORTED.get(backend_name, {}).get(prim)
    except TypeError:  # an unhashable key
        return None
