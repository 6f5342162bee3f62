"""MATLAB's ``imresize(A, [H W])`` with its defaults (bicubic, antialiasing when shrinking), for 2-D maps.

Why it is here: the DAVSOD toolbox (``DengPingFan/DAVSOD``, ``EvaluateTool/main.m``) resizes
a saliency map whose size differs from its GT with ``sal = imresize(sal, size(gt))`` before
any metric, so reproducing its numbers on such maps needs MATLAB's resampling, not OpenCV's
(``cv2.INTER_CUBIC`` uses a = -0.75 and no antialiasing).

The algorithm is MATLAB's ``toolbox/images/images/imresize.m`` as re-derived, with its
``imresizemex`` step, by ``fatheral/matlab_imresize`` (``imresize.py``); that repository's
``test/README.md`` reports zero grey-level difference from MATLAB R2015b on uint8 and double
inputs. Step by step:

1. ``scale = out / in`` per dimension; the dimensions are resized one after the other, the
   smaller scale first (MATLAB ``[~, order] = sort(scale)``, stable: rows first on a tie).
2. Output index ``x`` (1-based) maps to ``u = x / scale + 0.5 * (1 - 1 / scale)``; it draws
   on the inputs ``left + 0 .. P-1`` with ``left = floor(u - w / 2)``, ``P = ceil(w) + 2``,
   weights ``h(u - index)`` normalised to sum 1. ``h`` is the cubic kernel (a = -0.5) of
   width ``w = 4``; when shrinking (``scale < 1``, antialiasing on) ``h(x) = scale *
   cubic(scale * x)`` and ``w = 4 / scale``.
3. Indices outside ``1..n`` are mirrored with the edge repeated (``[1..n, n..1]``, periodic).
4. A uint8 input gives uint8 after *each* 1-D pass: rounded (MATLAB's conversion rounds
   halves away from zero; fatheral's ``np.around`` rounds them to even, which differs only on
   an exact .5) and saturated to 0..255. A float input is not rounded or clipped.

The weighted sums are accumulated in float64 one tap at a time over whole rows or columns
(``P`` products per output sample, not one per input sample as with a dense resampling
matrix); they may differ from MATLAB's loop in the last bit, which can only matter when a
sum lands within 1e-13 of a .5.
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np

__all__ = ["cubic", "contributions", "imresize"]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB ``imresize``'s ``cubic``)."""
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def contributions(in_length: int, out_length: int, antialiasing: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based input indices of each output sample along one dimension.

    Returns:
        ``(weights, indices)``, both ``(out_length, P)``: output ``i`` is
        ``sum_k weights[i, k] * input[indices[i, k]]`` (see the module docstring).
    """
    if in_length < 1 or out_length < 1:
        raise ValueError(f"imresize: lengths must be >= 1, got {in_length} -> {out_length}")
    scale = out_length / in_length
    if scale < 1 and antialiasing:
        def kernel(t):
            return scale * cubic(scale * t)
        width = 4.0 / scale
    else:
        kernel, width = cubic, 4.0
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    index_1based = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - index_1based)
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(index_1based.astype(np.int64) - 1, mirror.size)]
    return weights, indices


def _resize_dim(image: np.ndarray, dim: int, out_length: int) -> np.ndarray:
    """Resample float64 ``image`` (H, W) along ``dim`` (0: rows, 1: columns) to ``out_length``."""
    weights, indices = contributions(image.shape[dim], out_length)
    src = image if dim == 0 else image.T
    out = weights[:, 0, None] * src[indices[:, 0]]
    for k in range(1, weights.shape[1]):
        out += weights[:, k, None] * src[indices[:, k]]
    return out if dim == 0 else out.T


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB's double -> uint8: saturate, round halves away from zero."""
    x = np.clip(x, 0.0, 255.0)
    floor = np.floor(x)
    return (floor + (x - floor >= 0.5)).astype(np.uint8)


def imresize(image: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """``imresize(image, shape)`` as MATLAB computes it with its defaults.

    Args:
        image: ``(H, W)`` uint8 or floating-point map.
        shape: ``(H_out, W_out)``.
    Returns:
        ``(H_out, W_out)``: uint8 for a uint8 input (rounded after each pass), else float64.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"imresize expects an (H, W) map, got shape {image.shape}")
    is_u8 = image.dtype == np.uint8
    if not is_u8 and not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"imresize expects uint8 or floating-point input, got {image.dtype}")
    out_h, out_w = int(shape[0]), int(shape[1])
    scales = (out_h / image.shape[0], out_w / image.shape[1])
    out = image if is_u8 else image.astype(np.float64)
    for dim in np.argsort(np.array(scales), kind="stable"):
        if out.shape[dim] == (out_h, out_w)[dim]:
            continue  # scale 1: MATLAB's weights are one 1 per row (pure nearest neighbour)
        res = _resize_dim(out.astype(np.float64), dim, (out_h, out_w)[dim])
        out = _to_uint8(res) if is_u8 else res
    return out
