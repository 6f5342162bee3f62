"""FlowNetSD: the small-displacement network of FlowNet2 (6 input channels).

Naming: ``convN`` outputs are at stride 2^N of the input, ``flowN`` at stride 2^N.
"""
from torch import nn

from .submodules import CoarseToFineDecoder, conv

__all__ = ["FlowNetSD"]


class FlowNetSD(CoarseToFineDecoder, nn.Module):
    """3x3 convs only; each decoder level passes its concat through an inter conv."""

    def __init__(self):
        super().__init__()
        self.conv0 = conv(6, 64)
        self.conv1 = conv(64, 64, stride=2)
        self.conv1_1 = conv(64, 128)
        self.conv2 = conv(128, 128, stride=2)
        self.conv2_1 = conv(128, 128)
        self.conv3 = conv(128, 256, stride=2)
        self.conv3_1 = conv(256, 256)
        self.conv4 = conv(256, 512, stride=2)
        self.conv4_1 = conv(512, 512)
        self.conv5 = conv(512, 512, stride=2)
        self.conv5_1 = conv(512, 512)
        self.conv6 = conv(512, 1024, stride=2)
        self.conv6_1 = conv(1024, 1024)

        self._add_decoder(upsample_bias=True, inter_convs=True)

    def forward(self, x):
        """x: (B, 6, H, W) two normalised frames -> flow2 (B, 2, H/4, W/4)."""
        out_conv0 = self.conv0(x)
        out_conv1 = self.conv1_1(self.conv1(out_conv0))
        out_conv2 = self.conv2_1(self.conv2(out_conv1))
        out_conv3 = self.conv3_1(self.conv3(out_conv2))
        out_conv4 = self.conv4_1(self.conv4(out_conv3))
        out_conv5 = self.conv5_1(self.conv5(out_conv4))
        out_conv6 = self.conv6_1(self.conv6(out_conv5))

        return self._decode(out_conv2, out_conv3, out_conv4, out_conv5, out_conv6)
