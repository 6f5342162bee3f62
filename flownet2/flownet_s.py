"""FlowNetS: the plain encoder-decoder stacked twice in FlowNet2 (12 input channels).

Naming: ``convN`` outputs are at stride 2^N of the input, ``flowN`` at stride 2^N.
"""
from torch import nn

from .submodules import CoarseToFineDecoder, conv

__all__ = ["FlowNetS"]


class FlowNetS(CoarseToFineDecoder, nn.Module):
    """Encoder to stride 64, coarse-to-fine decoder; its flow upsamplers have no bias."""

    def __init__(self, input_channels=12):
        super().__init__()
        self.conv1 = conv(input_channels, 64, kernel_size=7, stride=2)
        self.conv2 = conv(64, 128, kernel_size=5, stride=2)
        self.conv3 = conv(128, 256, kernel_size=5, stride=2)
        self.conv3_1 = conv(256, 256)
        self.conv4 = conv(256, 512, stride=2)
        self.conv4_1 = conv(512, 512)
        self.conv5 = conv(512, 512, stride=2)
        self.conv5_1 = conv(512, 512)
        self.conv6 = conv(512, 1024, stride=2)
        self.conv6_1 = conv(1024, 1024)

        self._add_decoder(upsample_bias=False)

    def forward(self, x):
        """x: (B, input_channels, H, W) -> flow2 (B, 2, H/4, W/4) in units of div_flow."""
        out_conv2 = self.conv2(self.conv1(x))
        out_conv3 = self.conv3_1(self.conv3(out_conv2))
        out_conv4 = self.conv4_1(self.conv4(out_conv3))
        out_conv5 = self.conv5_1(self.conv5(out_conv4))
        out_conv6 = self.conv6_1(self.conv6(out_conv5))

        return self._decode(out_conv2, out_conv3, out_conv4, out_conv5, out_conv6)
