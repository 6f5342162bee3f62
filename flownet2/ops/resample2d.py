"""Resample2d: backward warping of an image by a flow field (NVIDIA flownet2-pytorch).

    out[b, c, y, x] = bilinear(input1[b, c], x + flow[b, 0, y, x], y + flow[b, 1, y, x])

with both neighbour indices clamped to the image, so samples past a border take the border
value. That is ``grid_sample(padding_mode='border', align_corners=True)`` on the pixel
coordinates mapped to [-1, 1] (up to that mapping's rounding), including its zero
gradient along an axis whose sample was clamped.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._backend import compute_dtype, resolve_backend
from ._selfcheck import register_case

__all__ = ["Resample2d", "resample2d"]


def _check_args(input1, flow, kernel_size):
    if kernel_size != 1:
        raise NotImplementedError(f"resample2d: only kernel_size=1 is implemented, got {kernel_size}")
    if input1.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2 or flow.shape[0] != input1.shape[0]:
        raise ValueError(f"resample2d: need input1 (B, C, H, W) and flow (B, 2, H', W'), got "
                         f"{tuple(input1.shape)} and {tuple(flow.shape)}")
    if not (input1.is_floating_point() and flow.is_floating_point()):
        raise ValueError("resample2d: inputs must be floating point")
    if input1.device != flow.device:
        raise ValueError(f"resample2d: inputs on different devices ({input1.device}, {flow.device})")


def _resample_pure(input1, flow):
    """Gather-based bilinear sampling with the kernel's exact arithmetic.

    Written out rather than through grid_sample so a zero or integer flow reproduces the
    input exactly (grid_sample's round trip through [-1, 1] does not).
    """
    b, c, h, w = input1.shape
    hf, wf = flow.shape[-2:]
    xs = torch.arange(wf, dtype=flow.dtype, device=flow.device).view(1, 1, wf)
    ys = torch.arange(hf, dtype=flow.dtype, device=flow.device).view(1, hf, 1)
    xf, yf = xs + flow[:, 0], ys + flow[:, 1]
    fx, fy = xf.detach().floor(), yf.detach().floor()
    ax, ay = (xf - fx).unsqueeze(1), (yf - fy).unsqueeze(1)  # in [0, 1) even off the image
    # Clamp in floating point first so huge coordinates never overflow the integer cast.
    fx, fy = fx.clamp_(-1, w), fy.clamp_(-1, h)
    x0, x1 = fx.long().clamp(0, w - 1), (fx + 1).long().clamp(0, w - 1)
    y0, y1 = fy.long().clamp(0, h - 1), (fy + 1).long().clamp(0, h - 1)
    flat = input1.reshape(b, c, h * w)

    def tap(yi, xi):
        idx = (yi * w + xi).view(b, 1, hf * wf).expand(b, c, hf * wf)
        return flat.gather(2, idx).view(b, c, hf, wf)

    return ((1 - ax) * (1 - ay) * tap(y0, x0) + ax * (1 - ay) * tap(y0, x1)
            + (1 - ax) * ay * tap(y1, x0) + ax * ay * tap(y1, x1))


class _Resample2dCompiled(torch.autograd.Function):
    """The compiled kernels (csrc/resample2d_kernel.h) for CPU or CUDA tensors."""

    @staticmethod
    def forward(ctx, ext, input1, flow):
        ctx.save_for_backward(input1, flow)
        ctx.ext = ext
        return ext.resample2d_forward(input1, flow)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        input1, flow = ctx.saved_tensors
        g1, gflow = ctx.ext.resample2d_backward(grad_out.contiguous(), input1, flow)
        return None, g1, gflow


def resample2d(input1, flow, kernel_size=1, backend=None):
    """Warp ``input1`` (B, C, H, W) with ``flow`` (B, 2, H', W') (pixels, x then y).

    Returns (B, C, H', W'); float16/bfloat16 inputs are computed in float32 and cast back
    to input1's dtype. ``backend``: 'auto' | 'pure' | 'compiled' | 'cuda' | None (see
    flownet2.ops).
    """
    _check_args(input1, flow, kernel_size)
    ext = resolve_backend("resample2d", backend, input1, flow)
    dtype = input1.dtype
    if ext is not None:
        # One kernel dtype for both: never round a float32 flow to half precision.
        common = torch.promote_types(dtype, flow.dtype)
        out = _Resample2dCompiled.apply(ext, input1.to(common).contiguous(), flow.to(common).contiguous())
        return out.to(dtype)
    work = compute_dtype(dtype)
    return _resample_pure(input1.to(work), flow.to(work)).to(dtype)


class Resample2d(nn.Module):
    """nn.Module wrapper with NVIDIA's constructor signature; forward(input1, flow)."""

    def __init__(self, kernel_size=1, backend=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.backend = backend

    def forward(self, input1, flow):
        return resample2d(input1, flow, self.kernel_size, backend=self.backend)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}"


def _case_inputs(gen):
    img = torch.randn(2, 3, 7, 9, generator=gen, dtype=torch.float64)
    flow = torch.randn(2, 2, 7, 9, generator=gen, dtype=torch.float64) * 4 + 0.37
    flow[0, :, 0, 0] = torch.tensor([-1e6 - 0.3, 30.4])  # far outside: clamped to the border
    flow[1, :, 3, 4] = torch.tensor([0.5, -0.25])
    return [img, flow]


def _case_call(img, flow, backend):
    return resample2d(img, flow, backend=backend)


register_case("resample2d", _case_inputs, _case_call)
