"""Random numbers as PyTorch's CPU generator makes them.

``sd.manual_seed(s)`` seeds a Mersenne Twister (MT19937) exactly as ``torch.manual_seed``
does, and the draws turn its 32-bit outputs into numbers with PyTorch's CPU algorithms:

- uniform (``rand``, ``uniform_``): float32 from the low 24 bits of one output, float64
  from the low 53 bits of two (``(a << 32) | b``);
- normal (``randn``, ``normal_``): for fewer than 16 numbers, one Box-Muller pair per two
  numbers in float64 (``r = sqrt(-2 log(1 - u2))``, ``r cos(2 pi u1)``), its second
  number kept for the next draw; for 16 or more, uniforms for the whole tensor, then
  Box-Muller over each block of 16 (``u1 = 1 - x[j]``, ``u2 = x[j + 8]``), the last block
  drawn again when the size is not a multiple of 16;
- integers (``randint``): one output modulo the range (two above 2**32);
- permutations (``randperm``, ``random_split``): Fisher-Yates, swapping entry ``i`` with
  ``i + output % (n - i)``.

So ``sd.manual_seed(42); sd.randn(1)`` is ``0.3367``, as in PyTorch's tutorials. Float32
normals of 16 or more numbers repeat the AVX2 kernel of PyTorch's x86-64 builds rounding
by rounding (see ``_box_muller_16_avx``); PyTorch builds without it (ARM) compute those
with the platform's ``logf``/``sinf``/``cosf``, whose last bits differ.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .fused import fma

DEFAULT_SEED = 67280421310721  # PyTorch's default seed


_TYPE_NAMES = {"float16": "c10::Half", "float32": "float", "float64": "double"}  # PyTorch's


def check_draw(kind: str, dtype: Any, **params: Any) -> None:
    """Refuse, with PyTorch's RuntimeError, parameters of a fill (``uniform_``,
    ``normal_``, ``bernoulli_`` and the ``nn.init`` functions) that it refuses: uniform
    bounds out of order or beyond the dtype's finite range (NaN included), a negative (or
    NaN) standard deviation, a probability outside [0, 1]."""
    if kind == "uniform":
        low, high = float(params.get("low", 0.0)), float(params.get("high", 1.0))
        dtype = np.dtype(dtype or np.float64)
        if dtype.kind == "f":
            largest = float(np.finfo(dtype).max)
            name = _TYPE_NAMES.get(dtype.name, dtype.name)
            for which, value in (("from", low), ("to", high)):
                if not -largest <= value <= largest:
                    raise RuntimeError(f"{which} is out of bounds for {name}")
        if low > high:
            raise RuntimeError(
                f"uniform_ expects to return a [from, to) range, but found from={low:g} > "
                f"to={high:g}"
            )
    elif kind == "normal":
        std = float(params.get("scale", 1.0))
        if not std >= 0.0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    elif kind == "bernoulli":
        p = params.get("p", 0.5)
        if not isinstance(p, np.ndarray) and not 0.0 <= float(p) <= 1.0:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")


class Generator:
    """``torch.Generator`` for the CPU: ``manual_seed``, ``initial_seed``, ``get_state``
    and ``set_state``; and the draws the creation functions make (NumPy's names)."""

    draws_in_dtype = True  # see backend.sample

    def __init__(self, device: Any = "cpu") -> None:
        self.device = device
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._seed = seed
        legacy = np.random.RandomState(seed & 0xFFFFFFFF)  # MT19937's init_genrand
        self._bits = np.random.MT19937()
        self._bits.state = legacy.get_state(legacy=False)
        self._next_normal: float | None = None
        return self

    def draw_seed(self) -> int:
        """A seed drawn from this stream, as ``torch.empty((), dtype=torch.int64).random_()``
        draws one (64 random bits, below 2**63)."""
        return int(self._raw64(1)[0]) % (1 << 63)

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        """Seed from the operating system's entropy; the seed chosen."""
        chosen = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(chosen)
        return chosen

    def get_state(self) -> dict:
        return {"seed": self._seed, "mt": self._bits.state, "next_normal": self._next_normal}

    def set_state(self, state: dict) -> Generator:
        self._seed = state["seed"]
        self._bits.state = state["mt"]
        self._next_normal = state["next_normal"]
        return self

    # ---- PyTorch's draws ------------------------------------------------------------------

    def _raw(self, n: int) -> np.ndarray:
        return self._bits.random_raw(n).astype(np.uint64) if n else np.zeros(0, np.uint64)

    def _raw64(self, n: int) -> np.ndarray:
        pairs = self._raw(2 * n).reshape(n, 2)
        return (pairs[:, 0] << np.uint64(32)) | pairs[:, 1]

    def _uniform(self, n: int, dtype: Any) -> np.ndarray:
        if np.dtype(dtype) == np.float32:
            bits = self._raw(n) & np.uint64((1 << 24) - 1)
            return (bits.astype(np.float32) * np.float32(2.0**-24)).astype(np.float32)
        bits = self._raw64(n) & np.uint64((1 << 53) - 1)
        return bits.astype(np.float64) * 2.0**-53

    def _normal_serial(self, n: int) -> np.ndarray:
        out = np.empty(n)
        for i in range(n):
            if self._next_normal is not None:
                out[i], self._next_normal = self._next_normal, None
                continue
            u1, u2 = self._uniform(2, np.float64)
            r = math.sqrt(-2.0 * math.log1p(-u2))
            theta = 2.0 * math.pi * u1
            self._next_normal = r * math.sin(theta)
            out[i] = r * math.cos(theta)
        return out

    def _normal_fill(self, n: int, dtype: Any, loc: float = 0.0, scale: float = 1.0
                     ) -> np.ndarray:  # fmt: skip
        """Uniforms for all ``n``, Box-Muller over each block of 16, and the last 16
        drawn and transformed again when ``n`` is not a multiple of 16."""
        fill = _box_muller_16_avx if np.dtype(dtype) == np.float32 else _box_muller_16
        data = self._uniform(n, dtype)
        data[: n - n % 16] = fill(data[: n - n % 16].reshape(-1, 16), loc, scale).ravel()
        if n % 16:
            data[n - 16 :] = fill(self._uniform(16, dtype).reshape(1, 16), loc, scale)[0]
        return data

    def _normal(self, n: int, dtype: Any) -> np.ndarray:
        if n >= 16:
            return self._normal_fill(n, dtype)
        return self._normal_serial(n).astype(dtype)

    # ---- the names the creation functions call (NumPy's) ---------------------------------

    def random(self, size: tuple = (), dtype: Any = np.float64) -> np.ndarray:
        n = int(np.prod(size))
        return self._uniform(n, dtype or np.float64).reshape(size)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: tuple = (), dtype: Any = None
                ) -> np.ndarray:  # fmt: skip
        dtype = np.dtype(dtype or np.float64)
        low, high = dtype.type(low), dtype.type(high)
        span = dtype.type(high - low)  # as PyTorch: the bounds in dtype, the rest in float64
        u = self.random(size, dtype).astype(np.float64)
        return fma(u, float(span), float(low)).astype(dtype)  # one rounding, as PyTorch's

    def standard_normal(self, size: tuple = (), dtype: Any = np.float64) -> np.ndarray:
        n = int(np.prod(size))
        return self._normal(n, dtype or np.float64).reshape(size)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: tuple = (), dtype: Any = None,
               serial: bool = False) -> np.ndarray:  # fmt: skip
        """As PyTorch: under 16 numbers (or ``serial``, for a non-contiguous tensor),
        ``loc + scale * z`` in float64, then cast; from 16 on, ``z * scale + loc`` in
        ``dtype``, inside its vectorized fill."""
        dtype = np.dtype(dtype or np.float64)
        n = int(np.prod(size))
        if n >= 16 and not serial:
            return self._normal_fill(n, dtype, loc, scale).reshape(size)
        return fma(self._normal_serial(n), scale, loc).astype(dtype).reshape(size)

    def bernoulli(self, p: Any, size: tuple = (), dtype: Any = np.float32) -> np.ndarray:
        """1 with probability ``p`` (a number, or an array of them), else 0, each from one
        uniform draw (``u < p``), as PyTorch's CPU ``bernoulli_``: a float64 one, but for
        an array of probabilities of another dtype, compared in float32 with a float32
        draw (PyTorch's ``bernoulli_distribution<float>``)."""
        n = int(np.prod(size))
        if isinstance(p, np.ndarray) and p.dtype != np.float64:
            return (self._uniform(n, np.float32).reshape(size) < p.astype(np.float32)).astype(dtype)
        return (self._uniform(n, np.float64).reshape(size) < p).astype(dtype)

    def integers(self, low: int, high: int | None = None, size: tuple = (),
                 dtype: Any = np.int64) -> np.ndarray:  # fmt: skip
        if high is None:
            low, high = 0, low
        span = int(high) - int(low)
        n = int(np.prod(size))
        draws = self._raw(n) if span < 2**32 else self._raw64(n)
        return (draws % np.uint64(span)).astype(np.int64).reshape(size).astype(dtype) + low

    def permutation(self, n: int) -> np.ndarray:
        out = np.arange(n, dtype=np.int64)
        for i in range(n - 1):
            z = int(self._raw(1)[0]) % (n - i)
            out[i], out[i + z] = out[i + z], out[i]
        return out


def _box_muller_16(blocks: np.ndarray, loc: float, scale: float) -> np.ndarray:
    """PyTorch's float64 ``normal_fill_16`` on each row of ``blocks`` (rows of 16
    uniforms): ``r cos(theta) * scale + loc`` and ``r sin(theta) * scale + loc``."""
    radius = np.sqrt(-2 * np.log(1 - blocks[:, :8]))
    theta = 2.0 * np.pi * blocks[:, 8:]
    both = np.concatenate([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
    return fma(both, scale, loc)  # GCC fuses ``* std + mean``


# PyTorch's x86-64 builds fill float32 normals with AVX2 kernels: avx_mathfun's
# ``log256_ps`` and ``sincos256_ps`` (Cephes polynomials in float32), compiled by GCC,
# which fuses each multiply feeding an add into one multiply-add. The functions below
# repeat those steps and roundings one by one, so the numbers agree to the last bit.
_F32 = np.float32
_LOG_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
          1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
          3.3333331174e-1)  # fmt: skip
_REDUCE = (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8)  # -pi/4


def _log_avx(x: np.ndarray) -> np.ndarray:
    """avx_mathfun's ``log256_ps`` for positive normal float32 ``x``."""
    bits = x.view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(_F32) + _F32(1)
    m = ((bits & ~0x7F800000) | _F32(0.5).view(np.int32)).view(_F32)  # in [0.5, 1)
    small = m < _F32(0.707106781186547524)
    m = (m - _F32(1)) + np.where(small, m, _F32(0))
    e = e - np.where(small, _F32(1), _F32(0))
    z = m * m
    y = np.full_like(m, _F32(_LOG_P[0]))
    for coefficient in _LOG_P[1:]:
        y = fma(y, m, coefficient)
    y = fma(y * m, z, e * _F32(-2.12194440e-4))
    y = fma(-z, 0.5, y)
    return fma(e, 0.693359375, m + y)


def _sincos_avx(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """avx_mathfun's ``sincos256_ps`` for non-negative float32 ``x``."""
    j = (x * _F32(1.27323954473516)).astype(np.int32)  # x / (pi / 4), truncated
    j = (j + 1) & ~1
    y = j.astype(_F32)
    for part in _REDUCE:  # x - j pi / 4 in three parts
        x = fma(y, part, x)
    z = x * x
    cos = fma(fma(_F32(2.443315711809948e-5), z, -1.388731625493765e-3), z,
               4.166664568298827e-2)  # fmt: skip
    cos = fma(cos * z, z, -(z * _F32(0.5))) + _F32(1)
    sin = fma(fma(_F32(-1.9515295891e-4), z, 8.3321608736e-3), z, -1.6666654611e-1)
    sin = fma(sin * z, x, x)
    swap = (j & 2) != 0
    sin, cos = np.where(swap, cos, sin), np.where(swap, sin, cos)
    sin = np.where((j & 4) != 0, -sin, sin)
    cos = np.where((~(j - 2) & 4) != 0, -cos, cos)
    return sin, cos


def _box_muller_16_avx(blocks: np.ndarray, loc: float, scale: float) -> np.ndarray:
    """PyTorch's ``normal_fill_16_AVX2`` on each row of ``blocks`` (float32)."""
    radius = np.sqrt(_F32(-2) * _log_avx(_F32(1) - blocks[:, :8]))
    sin, cos = _sincos_avx(_F32(2.0 * np.pi) * blocks[:, 8:])
    both = np.concatenate([radius * cos, radius * sin], axis=1)
    return fma(both, _F32(scale), _F32(loc))
