"""The numbers the trainers choose their best epoch by, as the published trainers computed them.

The published ``train.py`` / ``train_fgplg.py`` scored every validation frame with
``StructureMeasure(sigmoid(logits), label >= 0.5)`` on the raw probabilities at the
network's input size (no 8-bit rounding, no min-max stretching, unlike evaluate.py) and
``mean(|sigmoid(logits) - label|)`` against the soft (bilinearly resized) label. Here the
S-measure maths are pysodmetrics' own (``Smeasure.step(..., normalize=False)``, which takes
the probabilities and the boolean GT as they are).

Inputs: ``prob`` and ``label`` ``(H, W)`` (or with leading 1-dims) float arrays or tensors
in [0, 1].
"""
from __future__ import annotations

import numpy as np
import py_sod_metrics as sod

__all__ = ["LABEL_THRESHOLD", "selection_s_measure", "selection_mae"]

# The published validation binarised the soft label with >= 0.5.
LABEL_THRESHOLD = 0.5


def _as_2d_float64(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch in this leaf module
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    while x.ndim > 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2:
        raise ValueError(f"{name}: expected one (H, W) map, got shape {x.shape}")
    return x


def selection_s_measure(prob, label) -> float:
    """S-measure (alpha 0.5) of the unstretched ``prob`` against ``label >= 0.5``."""
    pred = np.clip(_as_2d_float64(prob, "prob"), 0.0, 1.0)
    gt = _as_2d_float64(label, "label") >= LABEL_THRESHOLD
    meter = sod.Smeasure()
    meter.step(pred, gt, normalize=False)
    return float(meter.get_results()["sm"])


def selection_mae(prob, label) -> float:
    """Mean absolute difference of ``prob`` and the soft ``label``."""
    return float(np.abs(_as_2d_float64(prob, "prob") - _as_2d_float64(label, "label")).mean())
