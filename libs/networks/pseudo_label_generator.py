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

from flownet2.ops import Resample2d
from libs.utils.checkpoint import CheckpointError, read_checkpoint
from libs.utils.normalization import denormalize

from .flow import FLOW_SOURCES, RAFT_ITERS, build_flow_estimator, build_raft_from_state
from .models import _FrozenBNMixin
from .rcrnet import RCRNet

__all__ = ["FGPLG", "FLOW_SOURCES", "flow_magnitude", "read_fgplg_checkpoint", "flow_source_of",
           "build_fgplg_for_checkpoint"]


def flow_magnitude(flow):
    """``(B, 2, H, W)`` pixel flow -> ``(B, 1, H, W)`` = sqrt((dx/W)^2 + (dy/H)^2)."""
    h, w = flow.shape[-2:]
    scale = flow.new_tensor([1.0 / w, 1.0 / h]).view(1, 2, 1, 1)
    return torch.linalg.vector_norm(flow * scale, dim=1, keepdim=True)


class FGPLG(_FrozenBNMixin, nn.Module):
    """Pseudo-label generator: frame t plus labelled neighbours -> logits ``(B, 1, H, W)``.

    ``flow`` picks the flow source ('flownet2', 'opencv' or 'raft'; see
    :mod:`libs.networks.flow`), whose weights come from ``flownet_checkpoint`` (FlowNet2's
    or RAFT's file) or, given, the ready ``flow_net``. The flow network stays frozen (no
    gradients, eval mode) whatever ``train()`` is called with, and the backbone's
    BatchNorm stays in eval mode as in the published training.
    """

    def __init__(self, output_stride=16, flow="flownet2", flownet_checkpoint=None, allow_random_flownet=True,
                 flow_net=None, raft_iters=RAFT_ITERS, rgb_max=1.0, flow_fp16=False):
        super().__init__()
        if flow not in FLOW_SOURCES:
            raise ValueError(f"flow must be one of {', '.join(FLOW_SOURCES)}, got {flow!r}")
        self.flow = flow
        # The child keeps the published name `flownet` whatever the source, for the checkpoint keys.
        self.flownet = flow_net if flow_net is not None else build_flow_estimator(
            flow, checkpoint=flownet_checkpoint, rgb_max=rgb_max, allow_random=allow_random_flownet,
            raft_iters=raft_iters)
        self.flow_fp16 = flow_fp16  # the published --fp16: the flow network in half precision
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

        Frames are un-normalised back to RGB in [0, 1] (the flow network's ``rgb_max`` is 1
        unless the published ``--rgb_max`` says otherwise), and all pairs go through the
        flow network as one batch, in half precision with ``flow_fp16`` (bf16 on a CPU).
        """
        rgb = denormalize(frame)
        pairs = torch.cat([torch.stack((rgb, denormalize(o)), dim=2) for o in others], dim=0)
        half = torch.float16 if pairs.device.type == "cuda" else torch.bfloat16
        with torch.no_grad(), torch.autocast(pairs.device.type, dtype=half, enabled=self.flow_fp16):
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


def flow_source_of(state) -> str:
    """The flow source an FGPLG state dict was trained with, read off its keys: FlowNet2's
    sub-networks under ``flownet.``, RAFT under ``flownet.raft.``, or no ``flownet.`` key at
    all for OpenCV flow (which has no weights)."""
    flow_keys = [k for k in state if k.startswith("flownet.")]
    if not flow_keys:
        return "opencv"
    if any(k.startswith("flownet.flownetc.") for k in flow_keys):
        return "flownet2"
    if any(k.startswith("flownet.raft.") for k in flow_keys):
        return "raft"
    return "unknown"


def build_fgplg_for_checkpoint(state, flow: str, output_stride: int = 16, raft_iters: int = RAFT_ITERS,
                               rgb_max: float = 1.0, flow_fp16: bool = False) -> "FGPLG":
    """An FGPLG whose flow network fits ``state`` (RAFT's variant is read off its keys); the
    caller loads ``state`` into it."""
    flow_net = build_raft_from_state(state, iters=raft_iters, rgb_max=rgb_max) if flow == "raft" else None
    return FGPLG(output_stride=output_stride, flow=flow, allow_random_flownet=True, flow_net=flow_net,
                 rgb_max=rgb_max, flow_fp16=flow_fp16)


def read_fgplg_checkpoint(path):
    """``(state_dict, flow source)`` of an FGPLG checkpoint.

    The best and backup files are bare state dicts, as published: the flow source is read
    off the keys (:func:`flow_source_of`). A dict with a ``state_dict`` entry and a ``flow``
    entry (our earlier format) is read too.
    """
    state, meta = read_checkpoint(path)
    flow = meta.get("flow") or flow_source_of(state)
    conv1 = state.get("backbone.resnet.conv1.weight")
    if flow not in FLOW_SOURCES or conv1 is None or conv1.dim() != 4 or conv1.shape[1] != 7:
        raise CheckpointError(
            f"{path}: not an FGPLG checkpoint (expected a 7-channel backbone.resnet.conv1.weight, plus FlowNet2's or "
            f"RAFT's flownet.* weights unless it was trained with --flow opencv); is this a checkpoint of another "
            f"model?"
        )
    return state, flow
