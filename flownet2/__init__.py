"""FlowNet2 (NVIDIA's PyTorch port, as used by FGPLG) and its ops.

    from flownet2 import FlowNet2, load_flownet2_checkpoint
    net = load_flownet2_checkpoint(FlowNet2(rgb_max=1.0), "models/FlowNet2_checkpoint.pth.tar")
    flow = net.freeze()(frames)   # frames (B, 3, 2, H, W) in [0, 1] -> flow (B, 2, H, W)
"""
from .checkpoint import FlowNet2CheckpointError, load_flownet2_checkpoint
from .model import FlowNet2

__all__ = [
    "FlowNet2",
    "FlowNet2CheckpointError",
    "load_flownet2_checkpoint",
]
