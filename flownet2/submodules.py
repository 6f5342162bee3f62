"""Building blocks of the FlowNet family (NVIDIA flownet2-pytorch, batchNorm=False).

Children are named and nested as in the published code so the Caffe-converted checkpoint
loads strictly: a conv unit is ``Sequential(Conv2d, LeakyReLU)`` (keys ``.0.weight``).
"""
from torch import nn

__all__ = ["conv", "deconv", "i_conv", "predict_flow", "upsample_flow"]


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
