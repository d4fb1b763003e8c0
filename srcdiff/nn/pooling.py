"""The pooling layers MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d and
AdaptiveAvgPool2d, as PyTorch's."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module


class _MaxPoolNd(Module):
    """The largest entry of each window (``stride`` the kernel's size by default; the
    input padded with -inf)."""

    nd = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False, ceil_mode: bool = False
                 ) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return F._max_pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                           self.ceil_mode, self.return_indices, self.nd)  # fmt: skip

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                f", dilation={self.dilation}, ceil_mode={self.ceil_mode}")  # fmt: skip


class MaxPool1d(_MaxPoolNd):
    """Max pooling along the last dim of (N, C, L) or (C, L)."""

    nd = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling over the last two dims of (N, C, H, W) or (C, H, W)."""

    nd = 2


class AvgPool1d(Module):
    """The mean of each window along the last dim of (N, C, L) or (C, L), zero padding
    counted where ``count_include_pad``."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size = F._tupled(kernel_size, 1, "kernel_size")
        self.stride = F._tupled(stride if stride is not None else kernel_size, 1, "stride")
        self.padding = F._tupled(padding, 1, "padding")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F._avg_pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                           self.count_include_pad, None, 1)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """The mean of each window over the last two dims of (N, C, H, W) or (C, H, W), zero
    padding counted where ``count_include_pad``, or the sum over ``divisor_override``."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F._avg_pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                           self.count_include_pad, self.divisor_override, 2)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """The means of ``output_size`` windows spread over the last dim."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F._adaptive_avg_pool(input, self.output_size, 1)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """The means of ``output_size`` (an int, or a pair, None keeping a size) windows spread
    over the last two dims."""

    def forward(self, input: Tensor) -> Tensor:
        return F._adaptive_avg_pool(input, self.output_size, 2)
