"""FlowNetC: the correlation network, first stage of FlowNet2.

Naming: ``a``/``b`` = frame 0 / frame 1 stream; ``convN`` outputs are at stride 2^N of the
input, ``flowN`` at stride 2^N.
"""
import torch
from torch import nn

from .ops import Correlation
from .submodules import conv, deconv, predict_flow, upsample_flow

__all__ = ["FlowNetC"]


class FlowNetC(nn.Module):
    """Siamese encoder, correlation of the stride-8 features, coarse-to-fine decoder."""

    def __init__(self):
        super().__init__()
        self.conv1 = conv(3, 64, kernel_size=7, stride=2)
        self.conv2 = conv(64, 128, kernel_size=5, stride=2)
        self.conv3 = conv(128, 256, kernel_size=5, stride=2)
        self.conv_redir = conv(256, 32, kernel_size=1, stride=1)
        self.corr = Correlation(pad_size=20, kernel_size=1, max_displacement=20, stride1=1,
                                stride2=2, corr_multiply=1)
        self.corr_activation = nn.LeakyReLU(0.1, inplace=True)
        self.conv3_1 = conv(473, 256)
        self.conv4 = conv(256, 512, stride=2)
        self.conv4_1 = conv(512, 512)
        self.conv5 = conv(512, 512, stride=2)
        self.conv5_1 = conv(512, 512)
        self.conv6 = conv(512, 1024, stride=2)
        self.conv6_1 = conv(1024, 1024)

        self.deconv5 = deconv(1024, 512)
        self.deconv4 = deconv(1026, 256)
        self.deconv3 = deconv(770, 128)
        self.deconv2 = deconv(386, 64)

        self.predict_flow6 = predict_flow(1024)
        self.predict_flow5 = predict_flow(1026)
        self.predict_flow4 = predict_flow(770)
        self.predict_flow3 = predict_flow(386)
        self.predict_flow2 = predict_flow(194)

        self.upsampled_flow6_to_5 = upsample_flow(bias=True)
        self.upsampled_flow5_to_4 = upsample_flow(bias=True)
        self.upsampled_flow4_to_3 = upsample_flow(bias=True)
        self.upsampled_flow3_to_2 = upsample_flow(bias=True)

    def forward(self, x):
        """x: (B, 6, H, W) two normalised frames -> flow2 (B, 2, H/4, W/4) in units of div_flow."""
        out_conv2a = self.conv2(self.conv1(x[:, :3]))
        out_conv3a = self.conv3(out_conv2a)
        out_conv3b = self.conv3(self.conv2(self.conv1(x[:, 3:])))

        out_corr = self.corr_activation(self.corr(out_conv3a, out_conv3b))
        in_conv3_1 = torch.cat((self.conv_redir(out_conv3a), out_corr), 1)

        out_conv3_1 = self.conv3_1(in_conv3_1)
        out_conv4 = self.conv4_1(self.conv4(out_conv3_1))
        out_conv5 = self.conv5_1(self.conv5(out_conv4))
        out_conv6 = self.conv6_1(self.conv6(out_conv5))

        flow6 = self.predict_flow6(out_conv6)
        concat5 = torch.cat((out_conv5, self.deconv5(out_conv6), self.upsampled_flow6_to_5(flow6)), 1)
        flow5 = self.predict_flow5(concat5)
        concat4 = torch.cat((out_conv4, self.deconv4(concat5), self.upsampled_flow5_to_4(flow5)), 1)
        flow4 = self.predict_flow4(concat4)
        concat3 = torch.cat((out_conv3_1, self.deconv3(concat4), self.upsampled_flow4_to_3(flow4)), 1)
        flow3 = self.predict_flow3(concat3)
        concat2 = torch.cat((out_conv2a, self.deconv2(concat3), self.upsampled_flow3_to_2(flow3)), 1)
        return self.predict_flow2(concat2)
