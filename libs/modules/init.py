"""Weight initialisation of freshly created (not checkpoint-loaded) layers."""
from torch import nn

__all__ = ["init_fresh_layers", "FRESH_BIAS"]

# The published code starts every fresh bias slightly positive.
FRESH_BIAS = 0.001


def init_fresh_layers(module):
    """Kaiming-normal (fan_out) conv weights, BatchNorm weight 1, all biases ``FRESH_BIAS``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, FRESH_BIAS)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.constant_(m.weight, 1.0)
            nn.init.constant_(m.bias, FRESH_BIAS)
    return module
