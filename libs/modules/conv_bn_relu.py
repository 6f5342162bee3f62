"""The conv-bn-relu unit shared by ASPP, refinement and the decoder.

Its children are named ``conv`` (no bias), ``bn`` and ``relu`` because the published
checkpoints store ``<unit>.conv.weight`` and ``<unit>.bn.*``.
"""
from torch import nn

__all__ = ["ConvBatchNormReLU"]


class ConvBatchNormReLU(nn.Sequential):
    """``(B, C_in, H, W) -> (B, C_out, H', W')``: conv (no bias) -> BatchNorm -> ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, relu=True):
        super().__init__()
        self.add_module(
            "conv",
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, bias=False),
        )
        self.add_module("bn", nn.BatchNorm2d(out_channels))
        if relu:
            self.add_module("relu", nn.ReLU(inplace=True))
