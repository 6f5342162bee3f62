"""FlowNetFusion: fuses FlowNetSD's and the stacked S2's flows at full resolution (11 in).

Naming: ``convN`` outputs are at stride 2^N of the input, ``flowN`` at stride 2^N.
"""
import torch
from torch import nn

from .submodules import conv, deconv, i_conv, predict_flow, upsample_flow

__all__ = ["FlowNetFusion"]


class FlowNetFusion(nn.Module):
    """Shallow encoder to stride 4 and decoder back to full resolution."""

    def __init__(self):
        super().__init__()
        self.conv0 = conv(11, 64)
        self.conv1 = conv(64, 64, stride=2)
        self.conv1_1 = conv(64, 128)
        self.conv2 = conv(128, 128, stride=2)
        self.conv2_1 = conv(128, 128)

        self.deconv1 = deconv(128, 32)
        self.deconv0 = deconv(162, 16)

        self.inter_conv1 = i_conv(162, 32)
        self.inter_conv0 = i_conv(82, 16)

        self.predict_flow2 = predict_flow(128)
        self.predict_flow1 = predict_flow(32)
        self.predict_flow0 = predict_flow(16)

        self.upsampled_flow2_to_1 = upsample_flow(bias=True)
        self.upsampled_flow1_to_0 = upsample_flow(bias=True)

    def forward(self, x):
        """x: (B, 11, H, W) -> flow0 (B, 2, H, W) in pixels."""
        out_conv0 = self.conv0(x)
        out_conv1 = self.conv1_1(self.conv1(out_conv0))
        out_conv2 = self.conv2_1(self.conv2(out_conv1))

        flow2 = self.predict_flow2(out_conv2)
        concat1 = torch.cat((out_conv1, self.deconv1(out_conv2), self.upsampled_flow2_to_1(flow2)), 1)
        flow1 = self.predict_flow1(self.inter_conv1(concat1))
        concat0 = torch.cat((out_conv0, self.deconv0(concat1), self.upsampled_flow1_to_0(flow1)), 1)
        return self.predict_flow0(self.inter_conv0(concat0))
