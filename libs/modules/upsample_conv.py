"""A 3x3 convolution of a bilinearly upsampled map, computed at the low resolution.

RCRNet's decoder applies a 3x3 conv (128 -> 256) to the refinement output after
upsampling it 4x to the input size: over half of the model's FLOPs. Upsampling, shifting
and channel mixing are all linear, and the mixing commutes with the spatial operations:

    conv3x3(up(x)) = sum over taps (i, j) of shift_ij(up(W_ij x))

so the nine 1x1 channel mixes ``W_ij x`` run at the low resolution (16x fewer
multiply-adds at 4x upsampling) and only cheap per-channel work (separable bilinear
upsampling and shifted adds) happens at full resolution: vertically for each column of
taps first, then horizontally once per column. Same maths as the direct form, summed in
another order (tested against it, values and gradients).

Shapes: ``x (B, C_in, h, w)``, ``weight (C_out, C_in, 3, 3)`` -> ``(B, C_out, H, W)``.
"""
import torch.nn.functional as F

__all__ = ["upsample_conv3x3", "upsample_conv3x3_reference"]


def upsample_conv3x3_reference(x, weight, size, bias=None):
    """The direct form: bilinear upsampling (align_corners=False), then a padded 3x3 conv."""
    return F.conv2d(F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False), weight, bias, padding=1)


def _shift_rows(t, di):
    """``s[y] = t[y + di]`` with zeros outside, for di in {-1, 0, 1} (dim -2)."""
    if di == 0:
        return t
    return F.pad(t[..., :-1, :], (0, 0, 1, 0)) if di < 0 else F.pad(t[..., 1:, :], (0, 0, 0, 1))


def _shift_cols(t, dj):
    """``s[x] = t[x + dj]`` with zeros outside, for dj in {-1, 0, 1} (dim -1)."""
    if dj == 0:
        return t
    return F.pad(t[..., :-1], (1, 0)) if dj < 0 else F.pad(t[..., 1:], (0, 1))


def upsample_conv3x3(x, weight, size, bias=None):
    """``conv2d(interpolate(x, size, bilinear), weight, bias, padding=1)`` without the full-size conv."""
    b, c_in, h, w = x.shape
    c_out = weight.shape[0]
    height, width = int(size[0]), int(size[1])
    # (B, 3 [row tap i], 3 [column tap j], C_out, h, w): the nine channel mixes at low resolution
    mixed = F.conv2d(x, weight.permute(2, 3, 0, 1).reshape(9 * c_out, c_in, 1, 1)).view(b, 3, 3, c_out, h, w)
    out = None
    for j in range(3):
        rows = F.interpolate(mixed[:, :, j].reshape(b, 3 * c_out, h, w), size=(height, w), mode="bilinear",
                             align_corners=False).view(b, 3, c_out, height, w)
        column = _shift_rows(rows[:, 0], -1) + rows[:, 1] + _shift_rows(rows[:, 2], 1)
        full = F.interpolate(column, size=(height, width), mode="bilinear", align_corners=False)
        full = _shift_cols(full, j - 1)
        out = full if out is None else out + full
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def prefers_low_resolution(low_size, size) -> bool:
    """Whether the low-resolution form saves work: the map is upsampled at least 2x in area."""
    return int(size[0]) * int(size[1]) >= 2 * int(low_size[0]) * int(low_size[1])
