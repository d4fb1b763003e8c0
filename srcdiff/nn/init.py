"""Initializers, as ``torch.nn.init``: fill a tensor in place with values from a
distribution whose scale comes from the tensor's fan-in and fan-out.

Every initializer writes into the tensor's array without recording a gradient (as under
``no_grad``), so a Parameter stays a leaf that requires grad; the dtype and device stay,
and the tensor itself is returned. Random values come from the generator that
``sd.manual_seed`` seeds (the one behind ``sd.randn`` and ``Tensor.uniform_``), or from
``generator`` when one is given; they are drawn on the host, so a seed gives the same
values on every device.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import creation
from ..backend import array_module, dense, sample
from ..generator import Generator, check_draw
from ..grad_mode import no_grad
from ..rules.registry import nondiff
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


_LINEAR = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain PyTorch recommends for ``nonlinearity``: 1 for linear, convolution and
    sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope**2)) for leaky_relu
    (``param`` is the negative slope, 0.01 by default) and 3/4 for selu."""
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight laid out as (out, in, *kernel): the inputs and
    outputs of one unit, times the kernel's size."""
    if tensor.dim() < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive_field_size = math.prod(int(s) for s in tensor.shape[2:])
    fan_in = int(tensor.shape[1]) * receptive_field_size
    fan_out = int(tensor.shape[0]) * receptive_field_size
    return fan_in, fan_out


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# ---- writing and drawing -------------------------------------------------------------------


def _store(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` (an array or a number, broadcast, cast to the tensor's dtype) into
    ``tensor``'s array in place, recording no gradient."""
    with no_grad():
        tensor._overwrite(values)
    return tensor


def _floating(tensor: Tensor, name: str) -> None:
    if not tensor.is_floating_point():
        raise RuntimeError(f"{name} fills floating-point tensors only, not {tensor.dtype}")


def _draw(tensor: Tensor, kind: str, generator: Generator | None, anew: bool = False,
          **params: Any) -> Any:  # fmt: skip
    """Values of ``tensor``'s shape from ``rng.<kind>(**params)``, in its dtype, as an
    array of the tensor's array module (drawn on the host, as ``sd.randn`` draws), into
    the order of its memory; ``anew``: as into PyTorch's ``empty_like(tensor)``, which
    keeps a dense layout and makes any other dense, its axes in the same order."""
    check_draw(kind, tensor._data.dtype, **params)
    rng = creation.generator() if generator is None else generator
    into = tensor._data
    if anew and not dense(into):  # a dense array of its shape, its axes in its order
        order = sorted(range(into.ndim), key=lambda i: -abs(into.strides[i]))
        into = np.empty([into.shape[i] for i in order]).transpose(np.argsort(order))
    return sample(rng, kind, tuple(tensor._data.shape), tensor._data.dtype,
                  array_module(tensor._data), into=into, **params)  # fmt: skip


# ---- filling -------------------------------------------------------------------------------


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fill with values from U(a, b)."""
    _floating(tensor, "uniform_")
    return _store(tensor, _draw(tensor, "uniform", generator, low=a, high=b))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fill with values from N(mean, std**2)."""
    _floating(tensor, "normal_")
    return _store(tensor, _draw(tensor, "normal", generator, loc=mean, scale=std))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _store(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _store(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _store(tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal, for a rectangular one
    too), which keeps the identity of the inputs in a Linear layer."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = (int(s) for s in tensor.shape)
    xp = array_module(tensor._data)
    return _store(tensor, xp.eye(rows, cols, dtype=tensor._data.dtype))


# ---- scaled by fan-in and fan-out ----------------------------------------------------------


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Glorot and Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)),
    so activations and gradients keep their variance through tanh-like layers."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std  # the bound of a uniform distribution with this std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot and Bengio (2010): N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    """gain / sqrt(fan), or None (after PyTorch's warning) for a tensor with no elements."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He et al. (2015): U(-bound, bound) with bound = gain * sqrt(3 / fan), fan being
    fan_in (keeps the activations' variance) or fan_out (the gradients'), and ``a`` the
    negative slope of the leaky_relu that follows."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He et al. (2015): N(0, std**2) with std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


# ---- truncated normal ----------------------------------------------------------------------


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:
    """Fill with values from N(mean, std**2) truncated to [a, b] (``a`` and ``b`` are
    values, not numbers of standard deviations), by PyTorch 2.13's rejection sampling,
    draw for draw: where [a, b] holds more than 30% of the normal's mass, normal draws,
    those outside [a, b] drawn again until none is; elsewhere uniform draws on [a, b],
    each kept with probability density / the density's peak on [a, b] (a second uniform
    draw against it), the rejected ones drawn again."""
    _floating(tensor, "trunc_normal_")
    check_draw("uniform", tensor._data.dtype, low=a, high=b)  # (a > b: PyTorch's refusal)
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    xp = array_module(tensor._data)
    if _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std) > 0.3:
        low, high = (float(tensor._data.dtype.type(v)) for v in (a, b))  # (in its dtype)
        result = _draw(tensor, "normal", generator, loc=mean, scale=std)
        while (outside := (result < low) | (result > high)).any():
            again = _draw(tensor, "normal", generator, True, loc=mean, scale=std)
            result = xp.where(outside, again, result)
        return _store(tensor, result)
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2

    def rejected(candidates: Any) -> Any:  # log u > log(density / peak), u uniform on [0, 1)
        log_ratio = ((candidates - mean) / std) ** 2 * -0.5 - log_peak
        return xp.log(_draw(tensor, "uniform", generator, True, low=0.0, high=1.0)) > log_ratio

    result = _draw(tensor, "uniform", generator, low=a, high=b)
    pending = rejected(result)
    while pending.any():
        candidates = _draw(tensor, "uniform", generator, True, low=a, high=b)
        result = xp.where(pending, candidates, result)
        pending = xp.where(pending, rejected(candidates), pending)
    return _store(tensor, result)


# ---- orthogonal ----------------------------------------------------------------------------


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Generator | None = None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix, times ``gain``, from the QR
    decomposition of a normal matrix (signs fixed so that it is uniformly distributed);
    dimensions past the first are flattened into columns."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = int(tensor.shape[0])
    cols = tensor.numel() // rows
    rng = creation.generator() if generator is None else generator
    xp = array_module(tensor._data)
    dtype = tensor._data.dtype  # drawn in it, as PyTorch's new_empty(...).normal_()
    flattened = sample(rng, "normal", (rows, cols), dtype, xp, loc=0.0, scale=1.0)
    if rows < cols:
        flattened = flattened.T
    if dtype.itemsize < 4:  # (no LAPACK of float16: its QR in float32)
        flattened = flattened.astype(xp.float32)
    q, r = xp.linalg.qr(flattened)
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    return _store(tensor, gain * q.reshape(tuple(tensor._data.shape)))


nondiff(
    "an initializer writes values that depend on no input, under no_grad, as PyTorch's "
    "torch.nn.init does; the gain and the fans are numbers",
    calculate_gain, _calculate_fan_in_and_fan_out, uniform_, normal_, constant_, ones_,
    zeros_, eye_, xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_,
    trunc_normal_, orthogonal_,
)  # fmt: skip
