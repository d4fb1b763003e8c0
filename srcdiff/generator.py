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

So ``sd.manual_seed(42); sd.randn(1)`` is ``0.3367``, as in PyTorch's tutorials. (PyTorch
may compute the float32 normals of 16 or more numbers with vector instructions, whose
last bits can differ.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DEFAULT_SEED = 67280421310721  # PyTorch's default seed


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

    def _normal_fill(self, n: int, dtype: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        data = self._uniform(n, dtype)
        for start in range(0, n - 15, 16):
            _box_muller_16(data, start, dtype)
        if n % 16:
            data[n - 16 :] = self._uniform(16, dtype)
            _box_muller_16(data, n - 16, dtype)
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
        return (u * float(span) + float(low)).astype(dtype)

    def standard_normal(self, size: tuple = (), dtype: Any = np.float64) -> np.ndarray:
        n = int(np.prod(size))
        return self._normal(n, dtype or np.float64).reshape(size)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: tuple = (), dtype: Any = None
               ) -> np.ndarray:  # fmt: skip
        """As PyTorch: under 16 numbers, ``loc + scale * z`` in float64, then cast; from
        16 on, ``z * scale + loc`` in ``dtype`` (its vectorized fill)."""
        dtype = np.dtype(dtype or np.float64)
        n = int(np.prod(size))
        if n >= 16:
            return (self._normal_fill(n, dtype) * scale + loc).astype(dtype).reshape(size)
        return (self._normal_serial(n) * scale + loc).astype(dtype).reshape(size)

    def bernoulli(self, p: Any, size: tuple = (), dtype: Any = np.float32) -> np.ndarray:
        """1 with probability ``p`` (a number, or an array of them), else 0, each from one
        float64 uniform draw (``u < p``), as PyTorch's CPU ``bernoulli_``."""
        n = int(np.prod(size))
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


def _box_muller_16(data: np.ndarray, start: int, dtype: np.dtype) -> None:
    """PyTorch's ``normal_fill_16``, in place on ``data[start:start + 16]``."""
    block = data[start : start + 16]
    u1 = (1 - block[:8]).astype(dtype)
    u2 = block[8:].astype(dtype)
    radius = np.sqrt(-2 * np.log(u1)).astype(dtype)
    theta = (2.0 * np.pi * u2).astype(dtype)
    block[:8] = radius * np.cos(theta)
    block[8:] = radius * np.sin(theta)
