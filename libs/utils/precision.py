"""How the models compute: mixed precision (``--amp``) and the channels_last memory format.

Shared by training, inference, pseudo-label generation and the benchmark.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

__all__ = ["autocast_dtype", "autocast_context", "to_channels_last"]


def autocast_dtype(device: torch.device) -> torch.dtype:
    """What ``--amp`` computes in on ``device``: bf16 (CPU, and GPUs that support it), else fp16."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def autocast_context(device: torch.device, enabled: bool):
    """Autocast in :func:`autocast_dtype`; a no-op when disabled."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=autocast_dtype(device))


def to_channels_last(model: nn.Module) -> nn.Module:
    """Put every 4-D parameter and buffer (Conv2d / ConvTranspose2d weights) in channels_last, in place.

    ``model.to(memory_format=torch.channels_last)`` raises on the 5-D Conv3d weights of the
    NER non-local blocks; those (and 1-D tensors) keep their layout here.
    """
    with torch.no_grad():
        for module in model.modules():
            for t in [*module.parameters(recurse=False), *module.buffers(recurse=False)]:
                if t.dim() == 4:
                    t.data = t.data.contiguous(memory_format=torch.channels_last)
    return model
