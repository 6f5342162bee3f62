"""Dilated ResNet-50 backbone (``resnet.*`` in the checkpoints).

Unlike torchvision's ``replace_stride_with_dilation``, every block of a dilated layer,
the first included, uses that layer's dilation: that is what the published weights were
trained with. The stride sits on the 3x3 conv. ``avgpool``/``fc`` are unused but kept so
that ImageNet and published checkpoints load strictly.
"""
from torch import nn

from libs.modules.bottleneck import Bottleneck

__all__ = ["Bottleneck", "ResNet", "resnet50_dilated", "strides_and_dilations"]


def strides_and_dilations(output_stride):
    """Per-layer (strides, dilations) of layer1..4 for an output stride of 8 or 16."""
    if output_stride == 16:
        return (1, 2, 2, 1), (1, 1, 1, 2)
    if output_stride == 8:
        return (1, 2, 1, 1), (1, 1, 2, 2)
    raise ValueError(f"output_stride must be 8 or 16, got {output_stride!r}")


class ResNet(nn.Module):
    """Stem + layer1..4. ``forward`` is not used by RCRNet (it calls the stages itself)."""

    def __init__(self, layers=(3, 4, 6, 3), output_stride=16, input_channels=3, num_classes=1000):
        super().__init__()
        strides, dilations = strides_and_dilations(output_stride)
        self.inplanes = 64
        self.conv1 = nn.Conv2d(input_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0], strides[0], dilations[0])
        self.layer2 = self._make_layer(128, layers[1], strides[1], dilations[1])
        self.layer3 = self._make_layer(256, layers[2], strides[2], dilations[2])
        self.layer4 = self._make_layer(512, layers[3], strides[3], dilations[3])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * 4, num_classes)

    def _make_layer(self, planes, blocks, stride, dilation, expansion=4):
        downsample = None
        if stride != 1 or self.inplanes != planes * expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * expansion),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, dilation, downsample, expansion)]
        self.inplanes = planes * expansion
        layers += [Bottleneck(self.inplanes, planes, 1, dilation, None, expansion) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def stem(self, x):
        """``(B, C_in, H, W) -> (B, 64, H/4, W/4)``."""
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet50_dilated(output_stride=16, input_channels=3):
    return ResNet((3, 4, 6, 3), output_stride=output_stride, input_channels=input_channels)
