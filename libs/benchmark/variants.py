"""The inference variants compared: the published execution order, each step towards ours, the opt-ins.

All are copies of one ``VideoModel`` (same weights) run on the same clip:

* ``published``: backbone and decoder frame by frame (``VideoModel(batched_backbone=False)``),
  fp32, contiguous tensors: what the published code does;
* ``batched``: all T*B frames through ``feat_conv`` / ``seg_conv`` as one batch, fp32, contiguous;
* ``batched+cl``: the same in channels_last (``inference.py --no-fold-bn``);
* ``batched+cl+foldbn`` ("ours"): and the frozen BatchNorm folded into the convs, which is what
  ``inference.py`` runs by default;
* ``--amp``: ours under bf16 autocast (fp16 on GPUs without bf16);
* ``--compile``: ours through ``torch.compile``;
* ``--proposals``: opt-ins that no default uses: the low-resolution decoder (decoder.conv1
  mixed at 1/4 resolution before upsampling, ``RCRNet(low_res_decoder=True)``), and with
  ``--compile`` on CPU inductor's freezing.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import torch
from torch import nn

from libs.modules import fold_batchnorm
from libs.utils.precision import autocast_context, autocast_dtype, to_channels_last

__all__ = ["OURS", "PUBLISHED", "Variant", "forward", "base_variants", "amp_variant",
           "compiled_variants"]

PUBLISHED = "published"
OURS = "batched+cl+foldbn"  # inference.py's default execution


@dataclass
class Variant:
    """One way of running the model, and what was measured of it.

    ``paired``: timed in the same rounds as ``published`` (so the per-round ratios are meaningful).
    ``logits``: its output ``(T, B, 1, S, S)`` float32 on CPU, once measured.
    """

    key: str
    label: str
    model: nn.Module
    channels_last: bool = False
    amp: bool = False
    paired: bool = True
    compile_s: Optional[float] = None
    error: Optional[str] = None
    times: List[float] = field(default_factory=list)
    peak_bytes: Optional[int] = None
    logits: Optional[torch.Tensor] = None


def forward(variant: Variant, clip: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """One inference pass of T frames ``(B, 3, S, S)`` -> logits ``(T, B, 1, S, S)`` float32."""
    if variant.channels_last:
        clip = [f.contiguous(memory_format=torch.channels_last) for f in clip]
    with torch.inference_mode(), autocast_context(device, variant.amp):
        return torch.stack([p.float() for p in variant.model(clip)])


def _batched(model: nn.Module, batched: bool) -> nn.Module:
    copied = copy.deepcopy(model).eval()
    copied.batched_backbone = batched
    return copied


def _ours(model: nn.Module) -> nn.Module:
    return to_channels_last(fold_batchnorm(_batched(model, True)))


def base_variants(model: nn.Module, opt_in: bool = False) -> List[Variant]:
    """published, batched, batched+cl and ours as copies of a ``VideoModel``; with ``opt_in`` the
    low-resolution decoder too (see the module docstring)."""
    variants = [
        Variant(PUBLISHED, "per-frame backbone, fp32, contiguous", _batched(model, False)),
        Variant("batched", "batched backbone, fp32, contiguous", _batched(model, True)),
        Variant("batched+cl", "batched backbone, fp32, channels_last (inference.py --no-fold-bn)",
                to_channels_last(_batched(model, True)), channels_last=True),
        Variant(OURS, "batched+cl with BatchNorm folded into the convs (inference.py default)", _ours(model),
                channels_last=True),
    ]
    if opt_in:
        low_res = _ours(model)
        low_res.backbone.low_res_decoder = True
        variants.append(Variant(f"{OURS}+lowres", "ours with decoder.conv1 mixed at 1/4 resolution before "
                                "upsampling (RCRNet(low_res_decoder=True), opt-in)", low_res, channels_last=True))
    return variants


def amp_variant(ours: Variant, device: torch.device) -> Variant:
    """Ours under autocast in :func:`autocast_dtype`."""
    dtype = "fp16" if autocast_dtype(device) == torch.float16 else "bf16"
    return Variant(f"{ours.key}+amp", f"{ours.key} under {dtype} autocast (--amp)", ours.model,
                   ours.channels_last, amp=True, paired=False)


def compiled_variants(ours: Variant, device: torch.device, opt_in: bool = False) -> List[Variant]:
    """Ours through ``torch.compile`` (compiled lazily, on the first call); with ``opt_in`` on CPU
    also with inductor's freezing (weights as constants, prepacked oneDNN convolutions)."""
    variants = [Variant(f"{ours.key}+compile", f"{ours.key} through torch.compile (--compile)",
                        torch.compile(copy.deepcopy(ours.model)), ours.channels_last, paired=False)]
    if opt_in and device.type == "cpu":
        # Its own inductor options also keep dynamo from reusing the graph compiled above.
        variants.append(Variant(
            f"{ours.key}+compile+freezing", f"{ours.key} through torch.compile with inductor freezing (opt-in)",
            torch.compile(copy.deepcopy(ours.model), options={"freezing": True}), ours.channels_last, paired=False))
    return variants
