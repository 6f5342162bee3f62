"""Building blocks of RCRNet and NER, one per part of the paper's figure."""
from .aspp import ASPP
from .bottleneck import Bottleneck
from .conv_bn_relu import ConvBatchNormReLU
from .convgru import ConvGRUCell
from .fuse import fold_batchnorm
from .init import init_fresh_layers
from .non_local import NonLocalBlock3d
from .refinement import Refinement

__all__ = [
    "ASPP",
    "Bottleneck",
    "ConvBatchNormReLU",
    "ConvGRUCell",
    "NonLocalBlock3d",
    "Refinement",
    "fold_batchnorm",
    "init_fresh_layers",
]
