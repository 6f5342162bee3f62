"""DAVIS boundary accuracy F (Perazzi et al., CVPR 2016), for binary masks.

Follows ``f_measure`` / ``_seg2bmap`` of the DAVIS evaluation code
(``davisvideochallenge/davis2017-evaluation``, ``davis2017/metrics.py``) step by step:

1. Boundary map of each mask with ``seg2bmap``: 1-pixel-wide boundaries, offset by half a
   pixel towards the origin (a pixel is on the boundary when it differs from its east,
   south or south-east neighbour).
2. Tolerance ``bound_pix = ceil(bound_th * ||(H, W)||)`` pixels for ``bound_th < 1``
   (0.008 of the image diagonal: 1 pixel at 32x40, 8 pixels at DAVIS' 480x854), or
   ``bound_th`` pixels when ``bound_th >= 1``.
3. Each boundary is dilated with a disk of that radius (``x^2 + y^2 <= r^2``, the
   ``skimage.morphology.disk`` footprint); precision = fraction of predicted boundary
   pixels inside the dilated GT boundary, recall = fraction of GT boundary pixels inside
   the dilated predicted boundary, F = 2PR / (P + R) (0 when P + R = 0).
4. Empty boundaries, as DAVIS defines them: both empty -> P = R = 1 (F = 1); only the
   prediction empty -> P = 1, R = 0 (F = 0); only the GT empty -> P = 0, R = 1 (F = 0).
   Note that a mask covering the whole image has an empty boundary under ``seg2bmap``.

Naming: ``mask`` = bool ``(H, W)`` array, True = foreground.
"""
from __future__ import annotations

import math
from typing import Tuple

import cv2
import numpy as np

__all__ = ["DAVIS_BOUND_TH", "disk", "seg2bmap", "boundary_tolerance", "boundary_f_measure"]

DAVIS_BOUND_TH = 0.008


def disk(radius: int) -> np.ndarray:
    """Disk footprint: uint8 ``(2r+1, 2r+1)``, 1 where ``x^2 + y^2 <= r^2``.

    Same footprint as ``skimage.morphology.disk(radius)`` (its default strict radius); kept
    here so the metric does not rest on an indirect dependency.
    """
    r = int(radius)
    if r < 0:
        raise ValueError(f"disk radius must be >= 0, got {radius}")
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    return (x * x + y * y <= r * r).astype(np.uint8)


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """1-pixel boundary map of a binary mask, as DAVIS' ``_seg2bmap`` (same size).

    Args:
        mask: ``(H, W)`` array, nonzero = foreground.
    Returns:
        bool ``(H, W)``: True where the pixel differs from its east, south or south-east
        neighbour (outside the image counts as background, except that the last row only
        compares east, the last column only south, and the bottom-right pixel is never a
        boundary pixel: the DAVIS conventions).
    """
    seg = np.asarray(mask).astype(bool)
    if seg.ndim != 2:
        raise ValueError(f"seg2bmap expects an (H, W) mask, got shape {seg.shape}")
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def boundary_tolerance(shape: Tuple[int, int], bound_th: float = DAVIS_BOUND_TH) -> int:
    """Matching tolerance in pixels: ``ceil(bound_th * sqrt(H^2 + W^2))``, or ``bound_th``
    itself when it is >= 1 (then it is already a pixel count)."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * float(np.linalg.norm(shape[:2]))))


def boundary_f_measure(pred_mask: np.ndarray, gt_mask: np.ndarray, bound_th: float = DAVIS_BOUND_TH) -> float:
    """DAVIS boundary F-measure of one frame.

    Args:
        pred_mask: bool ``(H, W)`` predicted foreground.
        gt_mask: bool ``(H, W)`` ground-truth foreground.
        bound_th: tolerance as a fraction of the image diagonal (< 1) or in pixels (>= 1).
    Returns:
        F in [0, 1] (see the module docstring for the empty-boundary conventions).
    """
    pred_mask = np.asarray(pred_mask)
    gt_mask = np.asarray(gt_mask)
    if pred_mask.shape != gt_mask.shape:
        raise ValueError(f"mask shapes differ: prediction {pred_mask.shape}, GT {gt_mask.shape}")
    pred_b = seg2bmap(pred_mask)
    gt_b = seg2bmap(gt_mask)
    n_pred = int(np.count_nonzero(pred_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        # P = 1, R = 0 or P = 0, R = 1: F = 0 either way.
        return 0.0

    footprint = disk(boundary_tolerance(gt_mask.shape, bound_th))
    pred_dil = cv2.dilate(pred_b.astype(np.uint8), footprint).astype(bool)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), footprint).astype(bool)
    precision = np.count_nonzero(pred_b & gt_dil) / float(n_pred)
    recall = np.count_nonzero(gt_b & pred_dil) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))
