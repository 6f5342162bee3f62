"""3D non-local block of NER (``non_local_block``, ``non_local_block2``).

Dot-product variant, 256 channels, inner 128, no subsampling, no BatchNorm:
``theta``, ``phi``, ``g`` are 1x1x1 Conv3d with bias; the affinity is
``theta^T phi / N`` with N = T*h*w positions and *no softmax*; ``y = affinity @ g``;
``out = x + W(y)`` with ``W`` (1x1x1 Conv3d 128->256) initialised to zero so a fresh
block is the identity.

Because there is no softmax, ``(theta^T phi) g = theta^T (phi g)``: when N exceeds the
inner channel count we multiply in that order, which costs O(N C^2) instead of O(N^2 C)
and never builds the N x N affinity. Both orders are the same maths; only the summation
order differs (tested against the N x N form).
"""
import torch
from torch import nn

__all__ = ["NonLocalBlock3d", "non_local_aggregate"]


def non_local_aggregate(theta, phi, g):
    """``theta, phi, g: (B, C, N) -> (B, C, N)``: ``y_i = sum_j (theta_i . phi_j) g_j / N``.

    Computed in fp32 (under autocast too): the sums run over thousands of positions.
    """
    n, c = theta.shape[-1], theta.shape[1]
    theta, phi, g = theta.float(), phi.float(), g.float()
    with torch.autocast(theta.device.type, enabled=False):
        if n > c:
            context = torch.bmm(g, phi.transpose(1, 2))  # (B, C_g, C_phi)
            return torch.bmm(context, theta) / n
        affinity = torch.bmm(theta.transpose(1, 2), phi) / n  # (B, N, N)
        return torch.bmm(g, affinity.transpose(1, 2))


class NonLocalBlock3d(nn.Module):
    """``(B, C, T, h, w) -> (B, C, T, h, w)``."""

    def __init__(self, in_channels=256, inter_channels=128):
        super().__init__()
        self.inter_channels = inter_channels
        self.g = nn.Conv3d(in_channels, inter_channels, kernel_size=1)
        self.theta = nn.Conv3d(in_channels, inter_channels, kernel_size=1)
        self.phi = nn.Conv3d(in_channels, inter_channels, kernel_size=1)
        self.W = nn.Conv3d(inter_channels, in_channels, kernel_size=1)
        nn.init.zeros_(self.W.weight)
        nn.init.zeros_(self.W.bias)

    def forward(self, x):
        b = x.shape[0]
        flat = lambda conv: conv(x).reshape(b, self.inter_channels, -1)  # noqa: E731
        y = non_local_aggregate(flat(self.theta), flat(self.phi), flat(self.g))
        y = y.to(x.dtype).reshape(b, self.inter_channels, *x.shape[2:])
        return x + self.W(y)
