"""FlowNet2's three custom ops: correlation, resample2d (warping) and channelnorm.

Each op is one public function plus an nn.Module with NVIDIA's constructor signature.
A pure-PyTorch implementation (CPU and GPU, with autograd) is always available. The
compiled kernels (``csrc/``: per-element arithmetic shared by a CPU target built with
g++ alone and a CUDA target built with nvcc) are used when asked for or when 'auto'
finds them worth it and checked. Choose with ``backend=`` on a call or module, or
``FLOWNET2_OPS_BACKEND`` = 'auto' | 'pure' | 'compiled' | 'cuda'; see ``_backend`` and
docs/flownet2.md. ``python -m flownet2.ops.selftest`` checks every op on every device.
"""
from ._backend import (BACKENDS, compiled_ops_available, cuda_ops_available, describe_backends,
                       extension)
from ._build import BuildError, build_extension
from .channelnorm import ChannelNorm, channelnorm
from .correlation import Correlation, correlation
from .resample2d import Resample2d, resample2d

__all__ = [
    "BACKENDS",
    "BuildError",
    "ChannelNorm",
    "Correlation",
    "Resample2d",
    "build_extension",
    "channelnorm",
    "compiled_ops_available",
    "correlation",
    "cuda_ops_available",
    "describe_backends",
    "extension",
    "resample2d",
]
