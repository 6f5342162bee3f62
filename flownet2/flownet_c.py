"""FlowNetC: the correlation network, first stage of FlowNet2.

Naming: ``a``/``b`` = frame 0 / frame 1 stream; ``convN`` outputs are at stride 2^N of the
input, ``flowN`` at stride 2^N.
"""
import torch
from torch import nn

from .ops import Correlation
from .submodules import CoarseToFineDecoder, conv

__all__ = ["FlowNetC"]


class FlowNetC(CoarseToFineDecoder, nn.Module):
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

        self._add_decoder(upsample_bias=True)

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

        return self._decode(out_conv2a, out_conv3_1, out_conv4, out_conv5, out_conv6)
