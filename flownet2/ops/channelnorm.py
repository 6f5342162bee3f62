"""ChannelNorm: the L2 norm over channels, (B, C, H, W) -> (B, 1, H, W).

Used by FlowNet2 for flow magnitudes and brightness errors. The gradient at a zero vector
is taken as 0 (the norm is not differentiable there; NaN would poison the fusion net).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._backend import compute_dtype, resolve_backend
from ._selfcheck import register_case

__all__ = ["ChannelNorm", "channelnorm"]


class _ChannelNormCompiled(torch.autograd.Function):
    """The compiled kernels (csrc/channelnorm_kernel.h) for CPU or CUDA tensors."""

    @staticmethod
    def forward(ctx, ext, input1):
        out = ext.channelnorm_forward(input1)
        ctx.save_for_backward(input1, out)
        ctx.ext = ext
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        input1, out = ctx.saved_tensors
        return None, ctx.ext.channelnorm_backward(grad_out.contiguous(), input1, out)


def channelnorm(input1, norm_deg=2, backend=None):
    """sqrt(sum_c input1[:, c]^2) as (B, 1, H, W) for input1 (B, C, H, W).

    float16/bfloat16 inputs are computed in float32 and cast back.
    ``backend``: 'auto' | 'pure' | 'compiled' | 'cuda' | None (see flownet2.ops).
    """
    if norm_deg != 2:
        raise NotImplementedError(f"channelnorm: only norm_deg=2 is implemented, got {norm_deg}")
    if input1.dim() != 4 or not input1.is_floating_point():
        raise ValueError(f"channelnorm: need a floating-point (B, C, H, W) tensor, got "
                         f"{input1.dtype} {tuple(input1.shape)}")
    ext = resolve_backend("channelnorm", backend, input1)
    if ext is not None:
        return _ChannelNormCompiled.apply(ext, input1.contiguous())
    dtype = input1.dtype
    # vector_norm's backward already maps a zero norm to a zero gradient.
    out = torch.linalg.vector_norm(input1.to(compute_dtype(dtype)), ord=2, dim=1, keepdim=True)
    return out.to(dtype)


class ChannelNorm(nn.Module):
    """nn.Module wrapper with NVIDIA's constructor signature; forward(input1)."""

    def __init__(self, norm_deg=2, backend=None):
        super().__init__()
        self.norm_deg = norm_deg
        self.backend = backend

    def forward(self, input1):
        return channelnorm(input1, self.norm_deg, backend=self.backend)

    def extra_repr(self):
        return f"norm_deg={self.norm_deg}"


def _case_inputs(gen):
    x = torch.randn(2, 3, 5, 6, generator=gen, dtype=torch.float64)
    x[1, :, 2, 3] = 0.0  # the zero vector: gradient 0 by convention
    return [x]


def _case_call(x, backend):
    return channelnorm(x, backend=backend)


register_case("channelnorm", _case_inputs, _case_call)
