"""Building blocks of the FlowNet family (NVIDIA flownet2-pytorch, batchNorm=False).

Children are named and nested as in the published code so the Caffe-converted checkpoint
loads strictly: a conv unit is ``Sequential(Conv2d, LeakyReLU)`` (keys ``.0.weight``).
"""
import torch
from torch import nn

__all__ = ["CoarseToFineDecoder", "conv", "deconv", "i_conv", "predict_flow", "upsample_flow"]


def conv(in_planes, out_planes, kernel_size=3, stride=1):
    """Conv2d (bias, 'same' padding for odd kernels) + LeakyReLU(0.1)."""
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride,
                  padding=(kernel_size - 1) // 2, bias=True),
        nn.LeakyReLU(0.1, inplace=True),
    )


def i_conv(in_planes, out_planes, kernel_size=3, stride=1, bias=True):
    """FlowNetSD/Fusion's inter conv: a 3x3 Conv2d with no activation (as published)."""
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride,
                  padding=(kernel_size - 1) // 2, bias=bias),
    )


def predict_flow(in_planes):
    """3x3 Conv2d to the 2 flow channels (x, y)."""
    return nn.Conv2d(in_planes, 2, kernel_size=3, stride=1, padding=1, bias=True)


def deconv(in_planes, out_planes):
    """x2 ConvTranspose2d (kernel 4, stride 2, padding 1, bias) + LeakyReLU(0.1)."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_planes, out_planes, kernel_size=4, stride=2, padding=1, bias=True),
        nn.LeakyReLU(0.1, inplace=True),
    )


def upsample_flow(bias):
    """x2 ConvTranspose2d for a coarse flow (FlowNetS's have no bias, the others do)."""
    return nn.ConvTranspose2d(2, 2, kernel_size=4, stride=2, padding=1, bias=bias)


class CoarseToFineDecoder:
    """The decoder FlowNetC, FlowNetS and FlowNetSD share (a mixin for their nn.Module).

    Children keep the published names (``deconv5..2``, ``predict_flow6..2``,
    ``upsampled_flow6_to_5..3_to_2``, FlowNetSD's ``inter_conv5..2``). Level N concatenates
    [encoder feature N, deconvN(previous concat), upsampled flow N+1] and predicts flow N
    from it (through ``inter_convN`` first when there are inter convs).
    """

    def _add_decoder(self, upsample_bias, inter_convs=False):
        concat = {5: 1026, 4: 770, 3: 386, 2: 194}
        for level, (c_in, c_out) in zip((5, 4, 3, 2), ((1024, 512), (1026, 256), (770, 128), (386, 64))):
            setattr(self, f"deconv{level}", deconv(c_in, c_out))
        if inter_convs:
            for level, c_out in zip((5, 4, 3, 2), (512, 256, 128, 64)):
                setattr(self, f"inter_conv{level}", i_conv(concat[level], c_out))
        self.predict_flow6 = predict_flow(1024)
        for level, c_pred in zip((5, 4, 3, 2), (512, 256, 128, 64) if inter_convs else (1026, 770, 386, 194)):
            setattr(self, f"predict_flow{level}", predict_flow(c_pred))
        for level in (5, 4, 3, 2):
            setattr(self, f"upsampled_flow{level + 1}_to_{level}", upsample_flow(bias=upsample_bias))
        self._inter_convs = inter_convs

    def _decode(self, conv2, conv3, conv4, conv5, conv6):
        """Encoder features at strides 4..64 -> flow2 ``(B, 2, H/4, W/4)``."""
        x, flow = conv6, self.predict_flow6(conv6)
        for level, skip in zip((5, 4, 3, 2), (conv5, conv4, conv3, conv2)):
            up = getattr(self, f"upsampled_flow{level + 1}_to_{level}")(flow)
            x = torch.cat((skip, getattr(self, f"deconv{level}")(x), up), 1)
            head = getattr(self, f"inter_conv{level}")(x) if self._inter_convs else x
            flow = getattr(self, f"predict_flow{level}")(head)
        return flow
