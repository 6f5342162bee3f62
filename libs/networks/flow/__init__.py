"""Optical-flow sources for the FGPLG, behind one interface and one factory.

Every source maps ``(B, 3, 2, H, W)`` RGB frames in [0, rgb_max] (frame 0 at
``[:, :, 0]``) to ``(B, 2, H, W)`` float flow in pixels of the input, x then y, from
frame 0 to frame 1, and stays frozen:

- ``flownet2``: NVIDIA's FlowNet2 (:mod:`flownet2`), the published choice; needs
  ``FlowNet2_checkpoint.pth.tar``.
- ``opencv``: OpenCV's DIS flow (:class:`OpenCVFlow`), no weights; for trying the pipeline.
- ``raft``: torchvision's RAFT (:mod:`libs.networks.flow.raft`), weights anyone can download.
"""
from __future__ import annotations

from typing import Optional

from torchvision.models.optical_flow import raft_small

from flownet2 import FlowNet2, load_flownet2_checkpoint

from .opencv import OpenCVFlow
from .raft import RAFTFlow, build_raft_from_state, load_raft

__all__ = ["FLOW_SOURCES", "OpenCVFlow", "RAFTFlow", "build_flow_estimator", "build_raft_from_state"]

FLOW_SOURCES = ("flownet2", "opencv", "raft")
RAFT_ITERS = 12  # torchvision's default number of refinement steps


def build_flow_estimator(kind: str, checkpoint: Optional[str] = None, rgb_max: float = 1.0,
                         allow_random: bool = False, method: str = "dis", raft_iters: int = RAFT_ITERS):
    """A frozen flow network with FlowNet2's interface: ``(B, 3, 2, H, W) -> (B, 2, H, W)``.

    Args:
        kind: one of :data:`FLOW_SOURCES`. 'flownet2' needs ``checkpoint`` (the path of
            FlowNet2_checkpoint.pth.tar) unless ``allow_random`` (random weights, for tests
            and for a model whose weights come from a checkpoint loaded afterwards). 'raft'
            reads ``checkpoint`` or, when None, torchvision's download cache (with
            ``allow_random`` and no checkpoint: a random raft_small, for tests).
        rgb_max: full intensity of the frames passed in.
        method: OpenCV method for kind='opencv' ('dis' or 'farneback').
        raft_iters: RAFT's refinement steps.
    """
    if kind not in FLOW_SOURCES:
        raise ValueError(f"build_flow_estimator: kind must be one of {FLOW_SOURCES}, got {kind!r}")
    if kind == "opencv":
        if checkpoint is not None:
            raise ValueError(f"build_flow_estimator: kind='opencv' takes no checkpoint, got {checkpoint}")
        return OpenCVFlow(method=method, rgb_max=rgb_max).freeze()
    if kind == "raft":
        if checkpoint is None and allow_random:
            return RAFTFlow(raft_small(weights=None), iters=raft_iters, rgb_max=rgb_max).freeze()
        return load_raft(checkpoint, iters=raft_iters, rgb_max=rgb_max).freeze()
    if checkpoint is None and not allow_random:
        raise ValueError("build_flow_estimator: kind='flownet2' needs checkpoint=<path to "
                         "FlowNet2_checkpoint.pth.tar> (or kind='opencv', which needs no weights)")
    model = FlowNet2(rgb_max=rgb_max)
    if checkpoint is not None:
        load_flownet2_checkpoint(model, checkpoint)
    return model.freeze()
