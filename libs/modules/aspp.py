"""Atrous Spatial Pyramid Pooling with image pooling (``aspp.*`` in the checkpoints).

2048 -> 256 channels: ``stages.c0`` (1x1) and ``stages.c1..c3`` (3x3 with rates 6/12/18 at
output stride 16, 12/24/36 at output stride 8), ``imagepool`` (global average pool + 1x1
conv-bn-relu, resized back), concatenated as [imagepool, c0, c1, c2, c3] and fused by
``fire.conv`` (3x3 conv-bn-relu) followed by ``fire.dropout`` (Dropout2d 0.1).
"""
from collections import OrderedDict

import torch
from torch import nn

from .conv_bn_relu import ConvBatchNormReLU

__all__ = ["ASPP", "aspp_rates"]


def aspp_rates(output_stride):
    """Dilation rates of the three 3x3 branches for an output stride of 8 or 16."""
    rates = {16: (6, 12, 18), 8: (12, 24, 36)}
    if output_stride not in rates:
        raise ValueError(f"output_stride must be 8 or 16, got {output_stride!r}")
    return rates[output_stride]


class ASPP(nn.Module):
    """``(B, in_channels, h, w) -> (B, out_channels, h, w)``."""

    def __init__(self, in_channels=2048, out_channels=256, output_stride=16):
        super().__init__()
        self.stages = nn.Module()
        self.stages.add_module("c0", ConvBatchNormReLU(in_channels, out_channels, 1))
        for i, rate in enumerate(aspp_rates(output_stride)):
            self.stages.add_module(
                f"c{i + 1}", ConvBatchNormReLU(in_channels, out_channels, 3, padding=rate, dilation=rate)
            )
        self.imagepool = nn.Sequential(OrderedDict([
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("conv", ConvBatchNormReLU(in_channels, out_channels, 1)),
        ]))
        self.fire = nn.Sequential(OrderedDict([
            ("conv", ConvBatchNormReLU(out_channels * 5, out_channels, 3, padding=1)),
            ("dropout", nn.Dropout2d(0.1)),
        ]))

    def forward(self, x):
        pooled = self.imagepool(x)
        # expand() equals bilinear resizing of a 1x1 map (align_corners=False) without the op.
        h = [pooled.expand(-1, -1, x.shape[2], x.shape[3])]
        h += [stage(x) for stage in self.stages.children()]
        return self.fire(torch.cat(h, dim=1))
