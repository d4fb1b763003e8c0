"""Rules of NumPy's elementwise functions (and their ``math`` and builtin twins)."""

import builtins
import math

import numpy as xp

from .. import runtime as rt
from .registry import casts, jvp, keywords, linear, nondiff, vjp


@vjp(xp.exp, math.exp)
def exp(g, ans, x):
    return g * ans


@jvp(xp.exp, math.exp)
def exp_jvp(ans, x, *, dx):
    return dx * ans


@vjp(xp.exp2)
def exp2(g, ans, x):
    return g * ans * 0.6931471805599453


@jvp(xp.exp2)
def exp2_jvp(ans, x, *, dx):
    return dx * ans * 0.6931471805599453


@vjp(xp.log)
def log(g, ans, x):
    return g / x


@jvp(xp.log)
def log_jvp(ans, x, *, dx):
    return dx / x


@vjp(math.log)
def math_log(g, ans, x, base=2.718281828459045):
    """``math.log(x, base) = ln(x) / ln(base)``."""
    return g / (x * xp.log(base)), -g * ans / (base * xp.log(base))


@jvp(math.log)
def math_log_jvp(ans, x, base=2.718281828459045, *, dx, dbase):
    return dx / (x * xp.log(base)), -dbase * ans / (base * xp.log(base))


@vjp(xp.log2, math.log2)
def log2(g, ans, x):
    return g / (x * 0.6931471805599453)


@jvp(xp.log2, math.log2)
def log2_jvp(ans, x, *, dx):
    return dx / (x * 0.6931471805599453)


@vjp(xp.log10, math.log10)
def log10(g, ans, x):
    return g / (x * 2.302585092994046)


@jvp(xp.log10, math.log10)
def log10_jvp(ans, x, *, dx):
    return dx / (x * 2.302585092994046)


@vjp(xp.log1p, math.log1p)
def log1p(g, ans, x):
    return g / (1.0 + x)


@jvp(xp.log1p, math.log1p)
def log1p_jvp(ans, x, *, dx):
    return dx / (1.0 + x)


@vjp(xp.expm1, math.expm1)
def expm1(g, ans, x):
    return g * (ans + 1.0)


@jvp(xp.expm1, math.expm1)
def expm1_jvp(ans, x, *, dx):
    return dx * (ans + 1.0)


@vjp(xp.cbrt)
def cbrt(g, ans, x):
    return g / (3.0 * ans * ans)


@jvp(xp.cbrt)
def cbrt_jvp(ans, x, *, dx):
    return dx / (3.0 * ans * ans)


@vjp(xp.sqrt, math.sqrt)
def sqrt(g, ans, x):
    return g / (2.0 * ans)


@jvp(xp.sqrt, math.sqrt)
def sqrt_jvp(ans, x, *, dx):
    return dx * 0.5 / ans


@vjp(xp.square)
def square(g, ans, x):
    return g * 2.0 * x


@jvp(xp.square)
def square_jvp(ans, x, *, dx):
    return dx * 2.0 * x


@vjp(xp.reciprocal)
def reciprocal(g, ans, x):
    return -g * ans * ans


@jvp(xp.reciprocal)
def reciprocal_jvp(ans, x, *, dx):
    return -dx * ans * ans


@vjp(xp.abs, xp.absolute, builtins.abs, math.fabs)
def absolute(g, ans, x):
    return g * rt.abs_slope(x)


@jvp(xp.abs, xp.absolute, builtins.abs, math.fabs)
def absolute_jvp(ans, x, *, dx):
    return dx * rt.abs_slope(x)


@vjp(xp.sin, math.sin)
def sin(g, ans, x):
    return g * xp.cos(x)


@jvp(xp.sin, math.sin)
def sin_jvp(ans, x, *, dx):
    return dx * xp.cos(x)


@vjp(xp.cos, math.cos)
def cos(g, ans, x):
    return -g * xp.sin(x)


@jvp(xp.cos, math.cos)
def cos_jvp(ans, x, *, dx):
    return -dx * xp.sin(x)


@vjp(xp.tan, math.tan)
def tan(g, ans, x):
    return g * (1.0 + ans * ans)


@jvp(xp.tan, math.tan)
def tan_jvp(ans, x, *, dx):
    return dx * (1.0 + ans * ans)


@vjp(xp.arcsin, math.asin)
def arcsin(g, ans, x):
    return g / xp.sqrt(1.0 - x * x)


@jvp(xp.arcsin, math.asin)
def arcsin_jvp(ans, x, *, dx):
    return dx / xp.sqrt(1.0 - x * x)


@vjp(xp.arccos, math.acos)
def arccos(g, ans, x):
    return -g / xp.sqrt(1.0 - x * x)


@jvp(xp.arccos, math.acos)
def arccos_jvp(ans, x, *, dx):
    return -dx / xp.sqrt(1.0 - x * x)


@vjp(xp.arctan, math.atan)
def arctan(g, ans, x):
    return g / (1.0 + x * x)


@jvp(xp.arctan, math.atan)
def arctan_jvp(ans, x, *, dx):
    return dx / (1.0 + x * x)


@vjp(xp.tanh, math.tanh)
def tanh(g, ans, x):
    return g * (1.0 - ans * ans)


@jvp(xp.tanh, math.tanh)
def tanh_jvp(ans, x, *, dx):
    return dx * (1.0 - ans * ans)


@vjp(xp.sinh, math.sinh)
def sinh(g, ans, x):
    return g * xp.cosh(x)


@jvp(xp.sinh, math.sinh)
def sinh_jvp(ans, x, *, dx):
    return dx * xp.cosh(x)


@vjp(xp.cosh, math.cosh)
def cosh(g, ans, x):
    return g * xp.sinh(x)


@jvp(xp.cosh, math.cosh)
def cosh_jvp(ans, x, *, dx):
    return dx * xp.sinh(x)


@vjp(xp.maximum)
def maximum(g, ans, x, y):
    """Ties share the gradient evenly, as in PyTorch."""
    share = xp.where(x == y, 0.5 * g, g)
    return (
        rt.unbroadcast(xp.where(x >= y, share, 0.0), x),
        rt.unbroadcast(xp.where(x <= y, share, 0.0), y),
    )


@jvp(xp.maximum)
def maximum_jvp(ans, x, y, *, dx, dy):
    """Ties take the mean of the two tangents, as the reverse rule shares evenly."""
    tie = x == y
    return (
        xp.where(tie, 0.5 * dx, xp.where(x > y, dx, 0.0)),
        xp.where(tie, 0.5 * dy, xp.where(x < y, dy, 0.0)),
    )


@vjp(xp.minimum)
def minimum(g, ans, x, y):
    """Ties share the gradient evenly, as in PyTorch."""
    share = xp.where(x == y, 0.5 * g, g)
    return (
        rt.unbroadcast(xp.where(x <= y, share, 0.0), x),
        rt.unbroadcast(xp.where(x >= y, share, 0.0), y),
    )


@jvp(xp.minimum)
def minimum_jvp(ans, x, y, *, dx, dy):
    """Ties take the mean of the two tangents, as the reverse rule shares evenly."""
    tie = x == y
    return (
        xp.where(tie, 0.5 * dx, xp.where(x < y, dx, 0.0)),
        xp.where(tie, 0.5 * dy, xp.where(x > y, dy, 0.0)),
    )


@vjp(xp.fmax, xp.fmin)
def fmax(g, ans, x, y):
    """The operand that is not NaN gets the gradient (``x`` where both are); ties share it."""
    to_x, to_y = rt.picked_operands(ans, x, y)
    share = xp.where(x == y, 0.5 * g, g)
    return (
        rt.unbroadcast(xp.where(to_x, share, 0.0), x),
        rt.unbroadcast(xp.where(to_y, share, 0.0), y),
    )


@jvp(xp.fmax, xp.fmin)
def fmax_jvp(ans, x, y, *, dx, dy):
    """Ties take the mean of the two tangents, as the reverse rule shares evenly."""
    to_x, to_y = rt.picked_operands(ans, x, y)
    tie = x == y
    return (
        xp.where(tie, 0.5 * dx, xp.where(to_x, dx, 0.0)),
        xp.where(tie, 0.5 * dy, xp.where(to_y, dy, 0.0)),
    )


@vjp(xp.clip, "ndarray.clip")
def clip(g, ans, a, a_min=None, a_max=None):
    """Inside [a_min, a_max] (bounds included) the gradient passes to ``a``, as in PyTorch.

    A bound of None is no bound. Bounds may broadcast ``a`` to a larger shape. Where
    ``a_min > a_max`` the result is ``a_max``, as NumPy computes it.
    """
    below, above, inside = rt.clipped(a, a_min, a_max)
    return (
        rt.unbroadcast(xp.where(inside, g, 0.0), a),
        None if a_min is None else rt.unbroadcast(xp.where(below, g, 0.0), a_min),
        None if a_max is None else rt.unbroadcast(xp.where(above, g, 0.0), a_max),
    )


# NumPy 2.1's names of the bounds
keywords(xp.clip, min="a_min", max="a_max")
keywords("ndarray.clip", min="a_min", max="a_max")


@jvp(xp.clip, "ndarray.clip")
def clip_jvp(ans, a, a_min=None, a_max=None, *, da, da_min, da_max):
    below, above, inside = rt.clipped(a, a_min, a_max)
    return xp.where(inside, da, 0.0), xp.where(below, da_min, 0.0), xp.where(above, da_max, 0.0)


@vjp(xp.where)
def where(g, ans, condition, x=None, y=None):
    """``condition`` may be any array NumPy reads as truth values, not only booleans.
    Alone, ``np.where(condition)`` gives the indices of its true entries: no gradient."""
    return (
        None,
        None if x is None else rt.unbroadcast(xp.where(condition, g, 0.0), x),
        None if y is None else rt.unbroadcast(xp.where(condition, 0.0, g), y),
    )


@jvp(xp.where)
def where_jvp(ans, condition, x=None, y=None, *, dx, dy):
    return (
        None if x is None else xp.where(condition, dx, 0.0),
        None if y is None else xp.where(condition, 0.0, dy),
    )


@vjp(xp.logaddexp)
def logaddexp(g, ans, x, y):
    """Each operand gets its share ``exp(x - ans)``: 1 for the operand equal to the result
    when the other is not (an infinite one too, where ``inf - inf`` would make it NaN), as
    in PyTorch."""
    return (
        rt.unbroadcast(g * xp.exp(xp.where((x == ans) & (y != ans), 0.0, x - ans)), x),
        rt.unbroadcast(g * xp.exp(xp.where((y == ans) & (x != ans), 0.0, y - ans)), y),
    )


@jvp(xp.logaddexp)
def logaddexp_jvp(ans, x, y, *, dx, dy):
    """The shares of the reverse rule (1 for the operand equal to the result alone)."""
    return (
        dx * xp.exp(xp.where((x == ans) & (y != ans), 0.0, x - ans)),
        dy * xp.exp(xp.where((y == ans) & (x != ans), 0.0, y - ans)),
    )


@vjp(builtins.float)
def to_float(g, ans, x):
    return g


@jvp(builtins.float)
def to_float_jvp(ans, x, *, dx):
    return float(dx)


@vjp("ndarray.item")
def item(g, ans, x, i=None, j=None, k=None, m=None):
    """``x.item()`` of a one-entry array, or the entry at a flat index or an index per
    axis (``x.item(2)``, ``x.item(1, 0)``, up to four axes): the gradient goes there."""
    return rt.item_grad(g, x, (i, j, k, m)), None, None, None, None


@jvp("ndarray.item")
def item_jvp(ans, x, i=None, j=None, k=None, m=None, *, dx):
    return rt.item_tangent(dx, (i, j, k, m))


@vjp("ndarray.astype")
def astype(g, ans, x, dtype, order="K", casting="unsafe", subok=True, copy=True):
    """A cast to integers or booleans has no gradient; between floats it passes on."""
    return rt.cast_grad(g, ans, x), None, None, None, None, None


@jvp("ndarray.astype", shaped=True)
def astype_jvp(ans, x, dtype, order="K", casting="unsafe", subok=True, copy=True, *, dx):
    """The tangent in the result's dtype where it is a real float; zero where the cast
    gives integers or booleans."""
    return rt.cast_grad(dx, ans, ans)


AS_ARRAY = (xp.asarray, xp.array, xp.asanyarray, xp.asarray_chkfinite, xp.require)
IN_ORDER = (xp.ascontiguousarray, xp.asfortranarray)  # (which make a 0-d array 1-d)
casts("ndarray.astype", *AS_ARRAY, *IN_ORDER)


@vjp(*AS_ARRAY)
def asarray(g, ans, x, dtype=None):
    return rt.cast_grad(g, ans, x), None


@vjp(xp.float64, xp.float32)
def scalar_type(g, ans, x=0.0):
    """``np.float32(s)``: a cast, whose adjoint goes back to ``s``'s dtype."""
    return rt.cast_grad(g, ans, x)


@jvp(xp.float64, xp.float32)
def scalar_type_jvp(ans, x=0.0, *, dx):
    return rt.cast_grad(dx, x, ans)


@jvp(*AS_ARRAY, shaped=True)
def asarray_jvp(ans, x, dtype=None, *, dx):
    """``dx`` may be a list of tangents (``np.array([a, b])``): made an array first."""
    return rt.cast_grad(xp.asarray(dx), ans, ans)


@vjp(*IN_ORDER)
def ascontiguousarray(g, ans, x, dtype=None):
    """A copy in C (Fortran) order, of shape (1,) where ``x`` is 0-d: ``g`` back in
    ``x``'s shape."""
    return rt.cast_grad(xp.reshape(g, xp.shape(x)), ans, x), None


@jvp(*IN_ORDER, shaped=True)
def ascontiguousarray_jvp(ans, x, dtype=None, *, dx):
    return rt.cast_grad(xp.reshape(xp.asarray(dx), xp.shape(ans)), ans, ans)


@vjp(xp.copy, "ndarray.copy")
def copy(g, ans, x, order="K"):
    return g, None


nondiff(
    "piecewise constant: the derivative is zero wherever it exists",
    xp.floor,
    xp.ceil,
    xp.round,
    xp.rint,
    xp.trunc,
    xp.around,
    xp.fix,
    xp.floor_divide,
    "ndarray.round",
    math.floor,
    math.ceil,
    math.trunc,
    builtins.round,
    builtins.int,
    *(
        getattr(xp, t)
        for t in (
            "int8",
            "int16",
            "int32",
            "int64",
            "intp",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "uintp",
        )
    ),  # fmt: skip
)
nondiff(
    "a boolean result",
    xp.isnan,
    xp.isinf,
    xp.isfinite,
    xp.greater,
    xp.greater_equal,
    xp.less,
    xp.less_equal,
    xp.equal,
    xp.not_equal,
    xp.logical_and,
    xp.logical_or,
    xp.logical_not,
    xp.logical_xor,
    builtins.bool,
    builtins.isinstance,
    builtins.hasattr,
    math.isnan,
    math.isinf,
    math.isfinite,
    math.isclose,
    xp.bool_,
    xp.signbit,
    xp.isclose,
)
nondiff(
    "an integer result: positions or a count",
    xp.searchsorted,
    "ndarray.searchsorted",
    xp.linalg.matrix_rank,
    xp.digitize,
    xp.argpartition,
    "ndarray.argpartition",
    xp.lexsort,
)
nondiff(
    "an integer, a string or nothing: no value to differentiate",
    builtins.len, builtins.range, builtins.print, builtins.str, builtins.repr,
)  # fmt: skip


linear((0,), xp.copy, "ndarray.copy")  # forward: a copy's tangent is the tangent's copy
