"""FlowNetC's correlation layer (NVIDIA flownet2-pytorch semantics).

For kernel_size 1 and stride1 1, with R = max_displacement // stride2, D = 2R + 1 and
o = max_displacement - pad_size:

    out[b, (j+R)*D + (i+R), y, x] = sum_c in1[b, c, y+o, x+o] * in2[b, c, y+o+j*s2, x+o+i*s2] / C

zero outside the images; j is the row (slow) offset, i the column (fast) offset. The output
is (B, D*D, H + 2*pad_size - 2*max_displacement, W + ...): 441 channels at the input size
for FlowNetC's settings (pad 20, max displacement 20, stride2 2).

The pure path loops over the D row offsets in forward and backward (one batched matmul
each), so it never holds D*D shifted copies of the features as a naive
(B, D*D, C, H, W) formulation would.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from ._backend import compute_dtype, resolve_backend
from ._selfcheck import register_case

__all__ = ["Correlation", "correlation"]


def _check_args(input1, input2, pad_size, kernel_size, max_displacement, stride1, stride2,
                corr_multiply):
    if kernel_size != 1 or stride1 != 1:
        raise NotImplementedError(
            f"correlation: only kernel_size=1, stride1=1 are implemented (FlowNetC's "
            f"settings), got kernel_size={kernel_size}, stride1={stride1}")
    if corr_multiply != 1:
        # NVIDIA's kernels accept and silently ignore corr_multiply; refuse rather than ignore.
        raise NotImplementedError(f"correlation: corr_multiply must be 1, got {corr_multiply}")
    if stride2 < 1 or max_displacement < 0 or pad_size < 0:
        raise ValueError(f"correlation: need stride2 >= 1, max_displacement >= 0, pad_size >= 0; "
                         f"got {stride2}, {max_displacement}, {pad_size}")
    if input1.dim() != 4 or input1.shape != input2.shape:
        raise ValueError(f"correlation: input1 and input2 must both be (B, C, H, W) of one shape, "
                         f"got {tuple(input1.shape)} and {tuple(input2.shape)}")
    if not (input1.is_floating_point() and input2.is_floating_point()):
        raise ValueError("correlation: inputs must be floating point")
    if input1.device != input2.device:
        raise ValueError(f"correlation: inputs on different devices ({input1.device}, {input2.device})")
    h, w = input1.shape[-2:]
    if min(h, w) + 2 * pad_size - 2 * max_displacement < 1:
        raise ValueError(f"correlation: input {h}x{w} too small for pad_size={pad_size}, "
                         f"max_displacement={max_displacement}")


def _offsets(max_displacement, stride2):
    r = max_displacement // stride2
    return [(j * stride2, i * stride2) for j in range(-r, r + 1) for i in range(-r, r + 1)]


class _CorrelationPure(torch.autograd.Function):
    """Row-by-row correlation: one batched matmul per row offset j.

    For a row offset j, every output row y pairs the (W_out, C) pixels of frame 0 with the
    (C, W_pad) padded row y + j*s2 of frame 1; the D column offsets are D diagonals of that
    (W_out, W_pad) product. Extra memory is one re-laid-out copy of each input plus one
    (B, H_out, W_out, W_pad) product, never D*D copies of the features, in forward and in
    backward; only the two inputs are saved for backward.
    """

    @staticmethod
    def forward(ctx, input1, input2, pad_size, max_displacement, stride2):
        ctx.save_for_backward(input1, input2)
        ctx.args = (pad_size, max_displacement, stride2)
        a, rows, geom = _layout(input1, input2, pad_size, max_displacement, stride2)
        b, c, ho, wo, wp, d, x0, offsets = geom
        out = input1.new_empty(b, d, d, ho, wo)
        for jj, dy in enumerate(offsets):
            prod = torch.bmm(a, rows[:, dy:dy + ho].reshape(b * ho, c, wp))
            out[:, jj] = _diagonals(prod, d, wo, wp, x0, stride2).view(b, ho, d, wo).transpose(1, 2)
        return out.view(b, d * d, ho, wo).div_(c)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        with torch.autocast(grad_out.device.type, enabled=False):
            return _CorrelationPure._backward(ctx, grad_out)

    @staticmethod
    def _backward(ctx, grad_out):
        input1, input2 = ctx.saved_tensors
        pad_size, md, stride2 = ctx.args
        need1, need2 = ctx.needs_input_grad[:2]
        a, rows, geom = _layout(input1, input2, pad_size, md, stride2)
        b, c, ho, wo, wp, d, x0, offsets = geom
        h, w = input1.shape[-2:]
        grad = (grad_out / c).view(b, d, d, ho, wo)
        ga = a.new_zeros(b * ho, wo, c) if need1 else None
        grows = torch.zeros_like(rows) if need2 else None
        gprod = a.new_zeros(b * ho, wo, wp)
        for jj, dy in enumerate(offsets):
            _diagonals(gprod, d, wo, wp, x0, stride2).copy_(
                grad[:, jj].transpose(1, 2).reshape(b * ho, d, wo))
            if need1:
                ga.baddbmm_(gprod, rows[:, dy:dy + ho].reshape(b * ho, c, wp).transpose(1, 2))
            if need2:
                grows[:, dy:dy + ho].add_(torch.bmm(a.transpose(1, 2), gprod).view(b, ho, c, wp))
        g1 = g2 = None
        if need1:
            # a came from padded frame 0 at rows/cols [md, md + out size): scatter back, crop.
            g1p = input1.new_zeros(b, c, h + 2 * pad_size, w + 2 * pad_size)
            g1p[:, :, md:md + ho, md:md + wo] = ga.view(b, ho, wo, c).permute(0, 3, 1, 2)
            g1 = g1p[:, :, pad_size:pad_size + h, pad_size:pad_size + w]
        if need2:
            g2 = grows.permute(0, 2, 1, 3)[:, :, pad_size:pad_size + h, pad_size:pad_size + w]
        return g1, g2, None, None, None


def _layout(input1, input2, pad_size, md, stride2):
    """Frame 0 as (B*H_out, W_out, C) and padded frame 1 as (B, H_pad, C, W_pad) rows."""
    b, c, h, w = input1.shape
    ho, wo = h + 2 * pad_size - 2 * md, w + 2 * pad_size - 2 * md
    p1 = F.pad(input1, (pad_size,) * 4)[:, :, md:md + ho, md:md + wo]
    a = p1.permute(0, 2, 3, 1).reshape(b * ho, wo, c)
    rows = F.pad(input2, (pad_size,) * 4).permute(0, 2, 1, 3).contiguous()
    wp = rows.shape[-1]
    r = md // stride2
    # Row and column offsets of displacement index 0 in padded coordinates.
    offsets = [md + j * stride2 for j in range(-r, r + 1)]
    return a, rows, (b, c, ho, wo, wp, 2 * r + 1, md - r * stride2, offsets)


def _diagonals(prod, d, wo, wp, x0, stride2):
    """View (B*H_out, D, W_out) of prod[:, x, x0 + x + i*stride2] for column offset i."""
    n = prod.shape[0]
    return prod.as_strided((n, d, wo), (wo * wp, stride2, wp + 1), prod.storage_offset() + x0)


class _CorrelationCompiled(torch.autograd.Function):
    """The compiled kernels (csrc/correlation_kernel.h) for CPU or CUDA tensors."""

    @staticmethod
    def forward(ctx, ext, input1, input2, pad_size, max_displacement, stride2):
        ctx.save_for_backward(input1, input2)
        ctx.ext, ctx.args = ext, (pad_size, max_displacement, stride2)
        return ext.correlation_forward(input1, input2, pad_size, max_displacement, stride2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        input1, input2 = ctx.saved_tensors
        g1, g2 = ctx.ext.correlation_backward(grad_out.contiguous(), input1, input2, *ctx.args)
        return None, g1, g2, None, None, None


def correlation(input1, input2, pad_size=20, kernel_size=1, max_displacement=20, stride1=1,
                stride2=2, corr_multiply=1, backend=None):
    """Correlation volume of two feature maps (see the module docstring for the formula).

    Args:
        input1, input2: (B, C, H, W) features of frame 0 and frame 1; float16/bfloat16
            inputs are computed in float32 and the result cast back.
        backend: 'auto' | 'pure' | 'compiled' | 'cuda' | None (None:
            ``$FLOWNET2_OPS_BACKEND`` or 'auto'; see flownet2.ops).
    Returns:
        (B, D*D, H + 2*pad_size - 2*max_displacement, W + ...) with
        D = 2 * (max_displacement // stride2) + 1.
    """
    _check_args(input1, input2, pad_size, kernel_size, max_displacement, stride1, stride2,
                corr_multiply)
    ext = resolve_backend("correlation", backend, input1, input2)
    if ext is not None:
        return _CorrelationCompiled.apply(ext, input1.contiguous(), input2.contiguous(), pad_size,
                                      max_displacement, stride2)
    dtype = input1.dtype
    work = compute_dtype(dtype)
    # Autocast would run the matmuls in half precision; this op stays in fp32.
    with torch.autocast(input1.device.type, enabled=False):
        out = _CorrelationPure.apply(input1.to(work), input2.to(work), pad_size,
                                     max_displacement, stride2)
    return out.to(dtype)


class Correlation(nn.Module):
    """nn.Module wrapper with NVIDIA's constructor signature; forward(input1, input2)."""

    def __init__(self, pad_size=20, kernel_size=1, max_displacement=20, stride1=1, stride2=2,
                 corr_multiply=1, backend=None):
        super().__init__()
        self.pad_size = pad_size
        self.kernel_size = kernel_size
        self.max_displacement = max_displacement
        self.stride1 = stride1
        self.stride2 = stride2
        self.corr_multiply = corr_multiply
        self.backend = backend

    def forward(self, input1, input2):
        return correlation(input1, input2, self.pad_size, self.kernel_size, self.max_displacement,
                           self.stride1, self.stride2, self.corr_multiply, backend=self.backend)

    def extra_repr(self):
        return (f"pad_size={self.pad_size}, kernel_size={self.kernel_size}, "
                f"max_displacement={self.max_displacement}, stride1={self.stride1}, "
                f"stride2={self.stride2}")


def _case_inputs(gen):
    return [torch.randn(2, 3, 9, 11, generator=gen, dtype=torch.float64) for _ in range(2)]


def _case_call(a, b, backend):
    # pad_size != max_displacement and stride2 = 2: every index term of the kernel counts.
    return correlation(a, b, pad_size=3, max_displacement=4, stride2=2, backend=backend)


register_case("correlation", _case_inputs, _case_call)
