"""torchvision's RAFT as an FGPLG flow source, with FlowNet2's call interface.

``RAFTFlow`` wraps ``torchvision.models.optical_flow.raft_large`` or ``raft_small``:
(B, 3, 2, H, W) RGB in [0, rgb_max], frame 0 at ``[:, :, 0]`` -> (B, 2, H, W) float32 flow
in pixels (x then y) from frame 0 to frame 1, i.e. frame0(x, y) matches
frame1(x + dx, y + dy), as FlowNet2 and OpenCVFlow. The variant is read off a checkpoint's
keys (:func:`detect_raft_variant`); weights come from a file or torchvision's download
cache, never from the network. Naming: ``image1`` / ``image2`` are RAFT's inputs (frame 0
/ frame 1 in [-1, 1]), ``*_pad`` are sizes after padding.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Union
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.optical_flow import Raft_Large_Weights, Raft_Small_Weights, raft_large, raft_small

from flownet2.interface import check_flow_input
from libs.utils.checkpoint import CheckpointError, describe_mismatch, read_state_dict, shapes_of

__all__ = [
    "RAFT_VARIANTS",
    "RAFTFlow",
    "build_raft_from_state",
    "detect_raft_variant",
    "load_raft",
    "raft_weights_path",
    "pad_to_raft_size",
    "padded_size",
    "raft_cache_paths",
    "to_raft_range",
]

PathLike = Union[str, Path]

RAFT_VARIANTS = ("raft_large", "raft_small")
_BUILDERS = {"raft_large": raft_large, "raft_small": raft_small}
_DEFAULT_WEIGHTS = {"raft_large": Raft_Large_Weights.DEFAULT, "raft_small": Raft_Small_Weights.DEFAULT}

SIZE_MULTIPLE = 8  # the encoders work at 1/8 resolution
# The 4-level correlation pyramid halves the 1/8 feature maps three times and torchvision
# refuses maps under 16 cells: inputs need H, W >= 8 * 16.
MIN_SIZE = 128

# Tensors that exist in one architecture only, with their shapes: the feature encoder's
# stem width (64 vs 32) and the update block's GRU layout (two separable 1x5/5x1 GRUs vs
# one 3x3 GRU). Both must agree, so a truncated or foreign file is not mistaken for RAFT.
_SIGNATURES = {
    "raft_large": {
        "feature_encoder.convnormrelu.0.weight": (64, 3, 7, 7),
        "update_block.recurrent_block.convgru2.convz.weight": (128, 384, 5, 1),
    },
    "raft_small": {
        "feature_encoder.convnormrelu.0.weight": (32, 3, 7, 7),
        "update_block.recurrent_block.convgru1.convz.weight": (96, 242, 3, 3),
    },
}
# Where RAFT's weights sit in the state dicts of the wrappers: RAFTFlow, then FGPLG.
_WRAPPER_PREFIXES = ("flownet.raft.", "raft.")


class RAFTFlow(nn.Module):
    """Frozen RAFT flow from frame 0 to frame 1.

    Args:
        model: a torchvision RAFT (``raft_large`` / ``raft_small``) or any module called as
            ``model(image1, image2, num_flow_updates=iters)`` returning a list of
            (B, 2, H, W) flows, the last being the final one. Registered as child ``raft``,
            so an FGPLG state dict holds it under ``flownet.raft.*``.
        iters: RAFT's refinement steps (``num_flow_updates``; torchvision's default 12).
        rgb_max: the value of full intensity in the input, as for FlowNet2.

    forward(inputs): inputs (B, 3, 2, H, W) in [0, rgb_max] -> flow (B, 2, H, W) float32 in
    pixels, on the input's device. Frames are mapped to [-1, 1] as torchvision's
    ``Raft_*_Weights.transforms()`` do, replicate-padded on the right and bottom to the
    next multiple of 8 (and to at least 128, RAFT's minimum) and the flow is cropped back
    to (H, W), unscaled. Padding only right/bottom keeps pixel (0, 0) where it was, so
    the crop is ``[:H, :W]`` exactly as FlowNet2 does here. Runs without gradients, in
    float32 (also under autocast: the correlation volume is a large dot-product sum), and
    stays in eval mode whatever ``train()`` is called with.
    """

    def __init__(self, model: nn.Module, iters: int = 12, rgb_max: float = 1.0):
        super().__init__()
        if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
            raise ValueError(f"RAFTFlow: iters (--raft-iters) must be a positive integer, got {iters!r}")
        if not rgb_max > 0:
            raise ValueError(f"RAFTFlow: rgb_max must be positive, got {rgb_max!r}")
        self.raft = model
        self.iters = iters
        self.rgb_max = float(rgb_max)
        self.freeze()

    def freeze(self):
        """Eval mode and no parameter gradients (RAFT is never trained here)."""
        self.requires_grad_(False)
        return self.eval()

    def train(self, mode=True):
        # Frozen like FlowNet2 in FGPLG: BatchNorm statistics of raft_large must not move.
        return super().train(False)

    def extra_repr(self):
        return f"iters={self.iters}, rgb_max={self.rgb_max}"

    def forward(self, inputs):
        """inputs (B, 3, 2, H, W) in [0, rgb_max] -> flow (B, 2, H, W) float32 in pixels."""
        check_flow_input(inputs, "RAFTFlow")
        h, w = inputs.shape[-2:]
        with torch.no_grad(), torch.autocast(inputs.device.type, enabled=False):
            pair = pad_to_raft_size(to_raft_range(inputs, self.rgb_max))
            flows = self.raft(pair[:, :, 0].contiguous(), pair[:, :, 1].contiguous(),
                              num_flow_updates=self.iters)
            flow = flows[-1]
        return flow[:, :, :h, :w].float().contiguous()


def to_raft_range(inputs, rgb_max=1.0):
    """(..) in [0, rgb_max] -> float32 in [-1, 1], as ``Raft_*_Weights.transforms()``.

    Clamped first: frames un-normalised from ImageNet statistics can stray a rounding
    error outside [0, 1], and RAFT was trained on exactly [-1, 1].
    """
    return (inputs.float() / rgb_max).clamp(0.0, 1.0).mul(2.0).sub(1.0)


def padded_size(h: int, w: int):
    """(H, W) -> the size RAFT gets: next multiple of 8, at least ``MIN_SIZE``."""
    def grow(n):
        return max(MIN_SIZE, -(-n // SIZE_MULTIPLE) * SIZE_MULTIPLE)

    return grow(h), grow(w)


def pad_to_raft_size(pair):
    """(B, 3, 2, H, W) -> (B, 3, 2, H_pad, W_pad), edge pixels replicated right and bottom."""
    b, c, t, h, w = pair.shape
    h_pad, w_pad = padded_size(h, w)
    if (h_pad, w_pad) == (h, w):
        return pair
    flat = F.pad(pair.reshape(b, c * t, h, w), (0, w_pad - w, 0, h_pad - h), mode="replicate")
    return flat.view(b, c, t, h_pad, w_pad)


def _torchvision_keys(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """RAFT's own keys from a torchvision file, a RAFTFlow or an FGPLG state dict."""
    for prefix in _WRAPPER_PREFIXES:
        inner = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if inner:
            return inner
    return dict(state)


def detect_raft_variant(state_dict: Dict[str, torch.Tensor], source: str = "state dict") -> str:
    """'raft_large' or 'raft_small' from a state dict's keys and shapes.

    Accepts torchvision's keys, RAFTFlow's (``raft.*``) or FGPLG's (``flownet.raft.*``).
    ``source`` names the file in the error raised for anything else.
    """
    state = _torchvision_keys(state_dict)
    for variant, signature in _SIGNATURES.items():
        if all(k in state and tuple(state[k].shape) == shape for k, shape in signature.items()):
            return variant
    example = next(iter(state_dict), None)
    raise CheckpointError(
        f"{source}: not a torchvision RAFT checkpoint (expected the keys of raft_large or "
        f"raft_small, e.g. 'feature_encoder.convnormrelu.0.weight' of 64 or 32 channels; "
        f"got keys like {example!r})"
    )


def _load_strict(model: nn.Module, state: Dict[str, torch.Tensor], source: str, variant: str):
    """Every key of ``model`` with its shape, nothing else; else one CheckpointError line."""
    problem = describe_mismatch(shapes_of(state), shapes_of(model.state_dict()))
    if problem:
        raise CheckpointError(f"{source}: does not match torchvision's {variant} ({problem})")
    model.load_state_dict(state, strict=True)


def build_raft_from_state(state_dict: Dict[str, torch.Tensor], iters: int = 12, rgb_max: float = 1.0,
                          source: str = "state dict") -> RAFTFlow:
    """A frozen RAFTFlow of the variant the keys show, holding these weights (strict, CPU).

    ``state_dict``: torchvision's RAFT keys, a RAFTFlow's (``raft.*``) or a whole FGPLG
    state dict (its ``flownet.raft.*`` entries are used, the rest ignored).
    """
    variant = detect_raft_variant(state_dict, source)
    model = _BUILDERS[variant](weights=None, progress=False)
    _load_strict(model, _torchvision_keys(state_dict), source, variant)
    return RAFTFlow(model, iters=iters, rgb_max=rgb_max)


def raft_cache_paths() -> List[Path]:
    """Where torchvision keeps the DEFAULT raft_large and raft_small weights once downloaded.

    ``torch.hub.get_dir()/checkpoints/<file name of the weights' url>`` (TORCH_HOME moves
    it), large first: the preferred one when both are there.
    """
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    return [folder / os.path.basename(urlparse(_DEFAULT_WEIGHTS[v].url).path) for v in RAFT_VARIANTS]


def load_raft(checkpoint: Optional[PathLike] = None, iters: int = 12, rgb_max: float = 1.0) -> RAFTFlow:
    """A frozen RAFTFlow with weights from ``checkpoint`` or, when None, torchvision's cache.

    The variant comes from the file's keys. Nothing is downloaded (see :func:`raft_weights_path`).
    """
    path = raft_weights_path(checkpoint)
    return build_raft_from_state(read_state_dict(path), iters=iters, rgb_max=rgb_max, source=str(path))


def raft_weights_path(checkpoint: Optional[PathLike] = None) -> Path:
    """The file RAFT's weights come from: ``checkpoint``, or the first of :func:`raft_cache_paths`
    that exists; when there is none, the error names both places (the ``--raft-checkpoint``
    flag and the cache paths)."""
    cached = raft_cache_paths()
    looked_at = ", ".join(str(p) for p in cached)
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise CheckpointError(
                f"{path}: RAFT checkpoint not found (--raft-checkpoint); without the flag "
                f"torchvision's cache is used: {looked_at}"
            )
    else:
        path = next((p for p in cached if p.is_file()), None)
        if path is None:
            raise CheckpointError(
                f"RAFT weights not found: pass --raft-checkpoint PATH (a torchvision raft_large or "
                f"raft_small state dict) or put torchvision's file in its cache (looked at {looked_at}; "
                f"raft_large(weights='DEFAULT') downloads it there on a machine with internet)"
            )
    return path
