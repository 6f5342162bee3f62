"""The three ways to label a frame from its key frames: ``fgplg``, ``warp`` and ``copy``.

Each labeller maps the frames of one gap (``images (B, 3, S, S)``, ImageNet-normalised, at
``--size``) and the gap's two key frames (:class:`~.source.KeyFrame`) to one uint8 ``(H, W)``
map per frame, at the frame's size: exactly what is written to disk and what ``--holdout``
scores, so the report's baselines are the code paths ``--method`` writes with.

- ``fgplg``: ``FGPLG.generate_pseudo_label(frame, frame_l, frame_r, label_l, label_r)`` as
  published (flow from the frame to each key frame, both masks warped, the 7-channel RCRNet),
  sigmoid, then :func:`~libs.pipeline.postprocess.probabilities_to_maps` (bilinear resize of the
  probabilities to the frame's size, rounded).
- ``warp``: the nearer key frame's mask (the left one on a tie) warped to the frame by the
  flow from the frame to that key frame, computed exactly as the FGPLG computes it
  (``FGPLG.estimate_flow``: same flow network, same un-normalisation) and warped by the same
  ``Resample2d``; then the same resize and rounding.
- ``copy``: the nearer key frame's mask x 255, rounded; no model, no frame read.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from flownet2.ops import Resample2d
from libs.datasets.keyframes import nearer_key
from libs.networks import FGPLG
from libs.networks.flow import build_flow_estimator
from libs.utils.cli import UsageError
from libs.utils.precision import autocast_context

from ..fgplg_training import flow_weights, log_ops_backends
from ..postprocess import probabilities_to_maps
from ..pseudo_labels import load_fgplg
from .options import DEFAULT_FLOW
from .source import KeyFrame

__all__ = ["CopyLabeller", "WarpLabeller", "FGPLGLabeller", "FlowWarp", "build_flow_warp", "build_labellers",
           "flow_used"]

Sizes = Sequence[Tuple[int, int]]


def _nearer(left: KeyFrame, pos: int, right: KeyFrame) -> KeyFrame:
    return left if nearer_key((left.pos, pos, right.pos)) == left.pos else right


class CopyLabeller:
    """The nearer key frame's mask, as it is (x 255, rounded)."""

    name = "copy"
    needs_frames = False

    def __call__(self, images: Optional[torch.Tensor], sizes: Sizes, positions: Sequence[int], left: KeyFrame,
                 right: KeyFrame) -> List[np.ndarray]:
        return [_nearer(left, p, right).mask_u8.copy() for p in positions]


class FlowWarp(nn.Module):
    """A flow network and the FGPLG's warp, without the FGPLG's backbone: ``estimate_flow``
    *is* :meth:`FGPLG.estimate_flow`, so ``warp`` sees exactly the flow the FGPLG would."""

    estimate_flow = FGPLG.estimate_flow

    def __init__(self, flownet: nn.Module, flow: str, flow_fp16: bool = False):
        super().__init__()
        self.flow = flow  # the source's name, as FGPLG.flow
        self.flownet = flownet
        self.flow_fp16 = flow_fp16
        self.warp = Resample2d()


def build_flow_warp(flow: str, flownet_checkpoint: Optional[str], raft_checkpoint: Optional[str], rgb_max: float,
                    raft_iters: int, flow_fp16: bool, device, log=print) -> FlowWarp:
    """The ``--flow`` source for ``warp`` when no FGPLG checkpoint says which (weights checked)."""
    weights = flow_weights(flow, flownet_checkpoint, raft_checkpoint)
    net = build_flow_estimator(flow, checkpoint=None if weights is None else str(weights), rgb_max=rgb_max,
                               raft_iters=raft_iters)
    log(f"flow source for warp: {flow}" + (f" ({weights})" if weights else " (torchvision's cache)"
                                          if flow == "raft" else " (no weights)"))
    log_ops_backends(device, flow, log)
    return FlowWarp(net, flow, flow_fp16).eval().to(device)


class WarpLabeller:
    """The nearer key frame's mask warped to the frame by ``flow`` (an FGPLG or a
    :class:`FlowWarp`: anything with ``estimate_flow`` and ``warp``)."""

    name = "warp"
    needs_frames = True

    def __init__(self, flow: nn.Module, device):
        self.flow, self.device = flow, torch.device(device)

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, sizes: Sizes, positions: Sequence[int], left: KeyFrame,
                 right: KeyFrame) -> List[np.ndarray]:
        keys = [_nearer(left, p, right) for p in positions]
        frames = images.to(self.device)
        key_images = torch.stack([k.image for k in keys]).to(self.device)
        key_labels = torch.stack([k.label for k in keys]).to(self.device)
        (flow,) = self.flow.estimate_flow(frames, (key_images,))
        warped = self.flow.warp(key_labels.float(), flow)
        return probabilities_to_maps(warped, sizes)


class FGPLGLabeller:
    """The FGPLG, all frames of a gap in one batch with the two key frames repeated."""

    name = "fgplg"
    needs_frames = True

    def __init__(self, model: FGPLG, device, amp: bool = False):
        self.model, self.device, self.amp = model, torch.device(device), amp

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, sizes: Sizes, positions: Sequence[int], left: KeyFrame,
                 right: KeyFrame) -> List[np.ndarray]:
        b = images.shape[0]

        def repeat(t: torch.Tensor) -> torch.Tensor:
            return t.to(self.device)[None].expand(b, *t.shape).contiguous()

        with autocast_context(self.device, self.amp):
            logits = self.model.generate_pseudo_label(images.to(self.device), repeat(left.image),
                                                      repeat(right.image), repeat(left.label), repeat(right.label))
        return probabilities_to_maps(torch.sigmoid(logits.float()), sizes)


def flow_used(labellers: Dict[str, object]) -> Optional[str]:
    """The flow source the labellers use (None when none does: copy)."""
    for lab in labellers.values():
        for attr in ("model", "flow"):  # FGPLGLabeller.model, WarpLabeller.flow: both know their source
            net = getattr(lab, attr, None)
            if net is not None:
                return net.flow
    return None


def build_labellers(args, checkpoint, methods: Sequence[str], device, log=print) -> Dict[str, object]:
    """``{method: labeller}`` for ``methods`` (in that order). The FGPLG comes from ``checkpoint``
    (strictly loaded, with the flow source it records), and ``warp`` then uses its flow; without
    a checkpoint, ``warp`` uses ``--flow`` (default OpenCV). A ``--flow`` that contradicts the
    checkpoint's is refused: the report compares methods on one flow."""
    model = None
    if checkpoint is not None and ("fgplg" in methods or "warp" in methods):
        model = load_fgplg(checkpoint, args.os, device, log, args.raft_iters, args.rgb_max, args.fp16)
        if args.flow is not None and args.flow != model.flow:
            raise UsageError(f"--flow {args.flow}: {checkpoint} was trained with --flow {model.flow}, and warp "
                             f"uses the FGPLG's flow; leave --flow out or pass --checkpoint none")
    out: Dict[str, object] = {}
    for method in methods:
        if method == "copy":
            out[method] = CopyLabeller()
        elif method == "fgplg":
            out[method] = FGPLGLabeller(model, device, args.amp)
        elif model is not None:
            out[method] = WarpLabeller(model, device)
        else:
            flow = build_flow_warp(args.flow or DEFAULT_FLOW, args.flownet_checkpoint, args.raft_checkpoint,
                                   args.rgb_max, args.raft_iters, args.fp16, device, log)
            out[method] = WarpLabeller(flow, device)
    return out
