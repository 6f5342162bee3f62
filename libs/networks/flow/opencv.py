"""A weight-free optical-flow source with FlowNet2's call interface.

``OpenCVFlow`` runs OpenCV's DIS (preset MEDIUM) or Farneback flow on 8-bit grayscale
frames on the CPU. It is far less accurate than FlowNet2 but needs no checkpoint, so
FGPLG can be trained and pseudo-labels generated without NVIDIA's weights.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from flownet2.interface import check_flow_input

__all__ = ["OpenCVFlow"]

_METHODS = ("dis", "farneback")


class OpenCVFlow(nn.Module):
    """OpenCV flow from frame 0 to frame 1; no parameters and no state-dict entries.

    Args:
        method: 'dis' (DIS optical flow, preset MEDIUM) or 'farneback'.
        rgb_max: the value of full intensity in the input, as for FlowNet2.

    forward(inputs): inputs (B, 3, 2, H, W) RGB in [0, rgb_max] -> flow (B, 2, H, W)
    float32 in pixels (x then y), on the input's device. Not differentiable.
    """

    def __init__(self, method="dis", rgb_max=1.0):
        super().__init__()
        if method not in _METHODS:
            raise ValueError(f"OpenCVFlow: method must be one of {_METHODS}, got {method!r}")
        self.method = method
        self.rgb_max = float(rgb_max)

    def freeze(self):
        """For interface parity with FlowNet2 (nothing to freeze)."""
        return self.eval()

    def _gray_uint8(self, frames):
        """(N, 3, H, W) float RGB -> list of (H, W) uint8 grayscale arrays."""
        rgb = (frames.detach().float() * (255.0 / self.rgb_max)).clamp_(0, 255).round_()
        rgb = rgb.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in rgb]

    def _pair_flow(self, prev, nxt):
        if self.method == "dis":
            dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
            return dis.calc(prev, nxt, None)
        return cv2.calcOpticalFlowFarneback(prev, nxt, None, pyr_scale=0.5, levels=3,
                                            winsize=15, iterations=3, poly_n=5,
                                            poly_sigma=1.2, flags=0)

    def forward(self, inputs):
        """inputs (B, 3, 2, H, W) in [0, rgb_max] -> flow (B, 2, H, W) float32."""
        check_flow_input(inputs, "OpenCVFlow", floating=False)
        prev = self._gray_uint8(inputs[:, :, 0])
        nxt = self._gray_uint8(inputs[:, :, 1])
        flows = np.stack([self._pair_flow(p, n) for p, n in zip(prev, nxt, strict=True)])  # (B, H, W, 2)
        flow = torch.from_numpy(flows.astype(np.float32, copy=False)).permute(0, 3, 1, 2)
        return flow.contiguous().to(inputs.device)
