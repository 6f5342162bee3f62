"""Refinement stage of the RCRNet decoder (``refinement1..3``).

The encoder feature passes ``skip``, a bottleneck with expansion 2 (1x1 -> 3x3 -> 1x1, 96
output channels, 1x1 conv + BN ``downsample``); ``refine`` fuses concat(decoder feature,
skip output) with a 3x3 conv-bn-relu to 128 channels. The decoder feature comes first.
"""
import torch
from torch import nn

from .bottleneck import Bottleneck
from .conv_bn_relu import ConvBatchNormReLU

__all__ = ["Refinement"]


class Refinement(nn.Module):
    """``encoder (B, bottom_up, h, w), decoder (B, top_down, h, w) -> (B, out, h, w)``."""

    def __init__(self, bottom_up_channels, reduce_channels, top_down_channels, refinement_channels, expansion=2):
        super().__init__()
        downsample = None
        if bottom_up_channels != reduce_channels * expansion:
            downsample = nn.Sequential(
                nn.Conv2d(bottom_up_channels, reduce_channels * expansion, kernel_size=1, bias=False),
                nn.BatchNorm2d(reduce_channels * expansion),
            )
        self.skip = Bottleneck(bottom_up_channels, reduce_channels, downsample=downsample, expansion=expansion)
        self.refine = ConvBatchNormReLU(
            reduce_channels * expansion + top_down_channels, refinement_channels, 3, padding=1
        )

    def forward(self, bottom_up, top_down):
        return self.refine(torch.cat((top_down, self.skip(bottom_up)), dim=1))
