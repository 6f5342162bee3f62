"""From logits to the 8-bit maps written to disk.

The published post-processing truncated ``prob * 255`` to uint8 at the model's size and
then let PIL resize it with whatever default filter the installed Pillow had (NEAREST in
2019, BICUBIC since Pillow 7). Here: bilinear resizing of the *probabilities* to the
frame's original size (align_corners=False), then rounding to the nearest of 0..255.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["probabilities_to_maps", "overlay"]


def probabilities_to_maps(prob: torch.Tensor, sizes: Sequence[Tuple[int, int]]) -> List[np.ndarray]:
    """``prob (B, 1, S, S)`` in [0, 1], original ``(H, W)`` per item -> B uint8 ``(H, W)`` arrays."""
    prob = prob.float()
    maps = []
    for b, (h, w) in enumerate(sizes):
        p = prob[b : b + 1]
        if tuple(p.shape[-2:]) != (int(h), int(w)):
            p = F.interpolate(p, size=(int(h), int(w)), mode="bilinear", align_corners=False)
        maps.append(p[0, 0].mul(255.0).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy())
    return maps


def overlay(frame: np.ndarray, saliency: np.ndarray, color=(255, 40, 40), strength: float = 0.6) -> np.ndarray:
    """Tint ``frame (H, W, 3)`` uint8 with ``color`` in proportion to ``saliency (H, W)`` uint8."""
    alpha = (saliency.astype(np.float32) / 255.0 * strength)[..., None]
    tinted = frame.astype(np.float32) * (1 - alpha) + np.asarray(color, np.float32) * alpha
    return tinted.round().clip(0, 255).astype(np.uint8)
