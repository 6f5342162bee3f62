"""FlowNet2's three custom ops: correlation, resample2d (warping) and channelnorm.

Each op is one public function plus an nn.Module with NVIDIA's constructor signature.
A pure-PyTorch implementation (CPU and GPU, with autograd) is always available; a compiled
CUDA extension is used for CUDA tensors when it is built or can be built (see
``cuda_ops_available`` and ``flownet2/install.sh``). Choose with ``backend=`` on a call or
module, or ``FLOWNET2_OPS_BACKEND`` = 'auto' | 'pure' | 'cuda'.
"""
from ._backend import build_extension, cuda_ops_available
from .channelnorm import ChannelNorm, channelnorm
from .correlation import Correlation, correlation
from .resample2d import Resample2d, resample2d

__all__ = [
    "ChannelNorm",
    "Correlation",
    "Resample2d",
    "build_extension",
    "channelnorm",
    "correlation",
    "cuda_ops_available",
    "resample2d",
]
