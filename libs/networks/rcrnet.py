"""RCRNet: the spatial saliency model (dilated ResNet-50 + ASPP + refinement decoder).

Naming legend: ``l1``, ``l2``, ``l3`` are the layer1..3 features (strides 4, 8 and 16 at
output stride 16; layer3 is at stride 8 at output stride 8); ``top`` is the ASPP output
(256 channels, at the output stride). The video model (NER) sits between
:meth:`RCRNet.feat_conv` and :meth:`RCRNet.seg_conv`.
"""
import torch.nn.functional as F
from torch import nn

from libs.modules import ASPP, ConvBatchNormReLU, Refinement, init_fresh_layers
from libs.modules.upsample_conv import prefers_low_resolution, upsample_conv3x3

from .resnet import resnet50_dilated

__all__ = ["RCRNet"]


def _resize(x, size):
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class RCRNet(nn.Module):
    """``(B, input_channels, H, W) -> (B, n_classes, H, W)`` logits, any H and W."""

    def __init__(self, n_classes=1, output_stride=16, input_channels=3, low_res_decoder=False):
        super().__init__()
        self.output_stride = output_stride
        # True runs decoder.conv1's channel mixing before the 4x upsampling: same maths, half
        # the model's FLOPs, but memory-bound full-resolution passes that made it slower on
        # the CPUs measured (benchmark.py); off until a GPU measurement says otherwise.
        self.low_res_decoder = low_res_decoder
        self.resnet = resnet50_dilated(output_stride, input_channels)
        self.aspp = ASPP(2048, 256, output_stride)
        self.decoder = nn.Sequential()
        self.decoder.add_module("conv1", ConvBatchNormReLU(128, 256, 3, padding=1))
        self.decoder.add_module("conv2", nn.Conv2d(256, n_classes, kernel_size=1))
        self.refinement1 = Refinement(1024, 48, 256, 128)
        self.refinement2 = Refinement(512, 48, 128, 128)
        self.refinement3 = Refinement(256, 48, 128, 128)
        init_fresh_layers(self)

    def feat_conv(self, x):
        """Spatial features of ``(B, C_in, H, W)``.

        Returns ``l1 (B, 256, H/4, W/4)``, ``l2 (B, 512, H/8, W/8)``, ``l3 (B, 1024, h, w)``
        and ``top (B, 256, h, w)``, with ``h, w`` = H/16, W/16 at output stride 16 and
        H/8, W/8 at 8 (sizes rounded up).
        """
        r = self.resnet
        l1 = r.layer1(r.stem(x))
        l2 = r.layer2(l1)
        l3 = r.layer3(l2)
        top = self.aspp(r.layer4(l3))
        return l1, l2, l3, top

    def seg_conv(self, l1, l2, l3, top, out_size):
        """Refinement decoder: features of :meth:`feat_conv` -> ``(B, n_classes, *out_size)`` logits."""
        x = self.refinement1(l3, _resize(top, l3.shape[-2:]))
        x = self.refinement2(l2, _resize(x, l2.shape[-2:]))
        x = self.refinement3(l1, _resize(x, l1.shape[-2:]))
        conv1 = self.decoder.conv1
        if self.low_res_decoder and prefers_low_resolution(x.shape[-2:], out_size):
            x = conv1.relu(conv1.bn(upsample_conv3x3(x, conv1.conv.weight, out_size, conv1.conv.bias)))
        else:
            x = conv1(_resize(x, out_size))
        return self.decoder.conv2(x)

    def forward(self, x):
        return self.seg_conv(*self.feat_conv(x), x.shape[-2:])
