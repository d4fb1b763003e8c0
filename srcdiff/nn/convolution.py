"""The convolution layers Conv1d and Conv2d, as PyTorch's."""

from __future__ import annotations

import math
from typing import Any

from ..creation import empty
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """A convolution of ``in_channels`` to ``out_channels`` channels: weight (out_channels,
    in_channels / groups, *kernel_size) and bias (out_channels), both drawn as PyTorch
    draws them (kaiming_uniform_ with a = sqrt(5); the bias U(-1/sqrt(fan_in),
    1/sqrt(fan_in))). ``padding_mode`` other than 'zeros' pads by ``F.pad``'s mode."""

    nd = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None
                 ) -> None:  # fmt: skip
        super().__init__()
        nd = self.nd
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {list(PADDING_MODES)}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = F._tupled(kernel_size, nd, "kernel_size")
        self.stride = F._tupled(stride, nd, "stride")
        self.dilation = F._tupled(dilation, nd, "dilation")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string '{padding}', should be one of "
                                 "{'valid', 'same'}")  # fmt: skip
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        self.padding = padding if isinstance(padding, str) else F._tupled(padding, nd, "padding")
        self.groups, self.padding_mode = groups, padding_mode
        self.weight = Parameter(
            empty(
                out_channels, in_channels // groups, *self.kernel_size, dtype=dtype, device=device
            )  # fmt: skip
        )
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return F._conv(input, self.weight, self.bias, self.stride, self.padding,
                           self.dilation, self.groups, self.nd)  # fmt: skip
        pads = F._conv_padding(self.padding, self.kernel_size, self.stride, self.dilation)
        padded = F.pad(input, pads, mode=self.padding_mode)
        return F._conv(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                       self.groups, self.nd)  # fmt: skip

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")  # fmt: skip
        if self.padding != (0,) * self.nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """The 1-d convolution (cross-correlation) of an (N, C, L) or (C, L) input."""

    nd = 1


class Conv2d(_ConvNd):
    """The 2-d convolution (cross-correlation) of an (N, C, H, W) or (C, H, W) input."""

    nd = 2
