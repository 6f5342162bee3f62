"""FGPLG: the flow-guided pseudo-label generator.

To label frame t from its labelled neighbours l and r, optical flow from t to each
neighbour (FlowNet2, frozen; or OpenCV's DIS flow, which needs no weights) warps the
neighbour's label onto frame t. A 7-channel RCRNet then sees
``concat(frame t, warped label_l, warped label_r, |flow_l|, |flow_r|)`` and predicts the
label of frame t. Children are named as in the published checkpoints: ``flownet``,
``warp`` (Resample2d) and ``backbone``.
"""
import torch
from torch import nn

from flownet2 import build_flow_estimator
from flownet2.opencv_flow import FLOW_KINDS
from flownet2.ops import Resample2d
from libs.datasets.transforms import denormalize

from .models import _FrozenBNMixin
from .rcrnet import RCRNet

__all__ = ["FGPLG", "FLOW_SOURCES", "flow_magnitude", "read_fgplg_checkpoint"]

FLOW_SOURCES = FLOW_KINDS


def flow_magnitude(flow):
    """``(B, 2, H, W)`` pixel flow -> ``(B, 1, H, W)`` = sqrt((dx/W)^2 + (dy/H)^2)."""
    h, w = flow.shape[-2:]
    scale = flow.new_tensor([1.0 / w, 1.0 / h]).view(1, 2, 1, 1)
    return torch.linalg.vector_norm(flow * scale, dim=1, keepdim=True)


class FGPLG(_FrozenBNMixin, nn.Module):
    """Pseudo-label generator: frame t plus labelled neighbours -> logits ``(B, 1, H, W)``.

    ``flow`` picks the flow source ('flownet2' or 'opencv'); FlowNet2 stays frozen (no
    gradients, eval mode) whatever ``train()`` is called with, and the backbone's
    BatchNorm stays in eval mode as in the published training.
    """

    def __init__(self, output_stride=16, flow="flownet2", flownet_checkpoint=None, allow_random_flownet=True):
        super().__init__()
        if flow not in FLOW_SOURCES:
            raise ValueError(f"flow must be one of {', '.join(FLOW_SOURCES)}, got {flow!r}")
        self.flow = flow
        self.flownet = build_flow_estimator(
            flow, checkpoint=flownet_checkpoint, rgb_max=1.0, allow_random=allow_random_flownet
        )
        self.warp = Resample2d()
        self.backbone = RCRNet(n_classes=1, output_stride=output_stride, input_channels=7)
        for p in self.flownet.parameters():
            p.requires_grad_(False)
        self.frozen_bn = True
        self.train()

    def train(self, mode=True):
        super().train(mode)
        self.flownet.eval()
        return self

    def estimate_flow(self, frame, others):
        """Flow from ``frame`` to each of ``others``: normalised ``(B, 3, H, W)`` -> ``[(B, 2, H, W)]``.

        Frames are un-normalised back to RGB in [0, 1] (rgb_max 1), and all pairs go
        through the flow network as one batch.
        """
        rgb = denormalize(frame)
        pairs = torch.cat([torch.stack((rgb, denormalize(o)), dim=2) for o in others], dim=0)
        with torch.no_grad():
            flows = self.flownet(pairs)
        return list(flows.float().split(frame.shape[0], dim=0))

    def generate_pseudo_label(self, frame, frame_l, frame_r, label_l, label_r):
        """Frames ``(B, 3, H, W)`` (ImageNet-normalised), labels ``(B, 1, H, W)`` in [0, 1] -> logits."""
        flow_l, flow_r = self.estimate_flow(frame, (frame_l, frame_r))
        with torch.no_grad():
            warped_l = self.warp(label_l.float(), flow_l)
            warped_r = self.warp(label_r.float(), flow_r)
            guidance = torch.cat((warped_l, warped_r, flow_magnitude(flow_l), flow_magnitude(flow_r)), dim=1)
        return self.backbone(torch.cat((frame, guidance.to(frame.dtype)), dim=1))

    def forward(self, clip, clip_labels):
        """Label the middle frame of ``clip`` from its first and last frames' labels.

        ``clip``: list of ``(B, 3, H, W)`` [left, ..., right]; ``clip_labels``: list of
        ``(B, 1, H, W)`` aligned with it (only the first and last are read).
        """
        mid = len(clip) // 2
        return self.generate_pseudo_label(clip[mid], clip[0], clip[-1], clip_labels[0], clip_labels[-1])


def read_fgplg_checkpoint(path):
    """``(state_dict, flow source)`` of an FGPLG checkpoint.

    Ours store ``{"state_dict": ..., "flow": "flownet2" | "opencv"}``; a published
    checkpoint is a bare state dict holding FlowNet2's weights under ``flownet.*``.
    """
    from libs.utils.checkpoint import CheckpointError, read_checkpoint

    state, meta = read_checkpoint(path)
    flow = meta.get("flow")
    if flow is None and any(k.startswith("flownet.") for k in state):
        flow = "flownet2"
    if flow not in FLOW_SOURCES or not any(k.startswith("backbone.") for k in state):
        raise CheckpointError(
            f"{path}: not an FGPLG checkpoint (expected backbone.* weights and FlowNet2 weights "
            f"or a recorded flow source); is this a checkpoint of another model?"
        )
    return state, flow
