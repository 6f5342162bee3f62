"""DAVIS video object segmentation statistics: J / F mean, recall and decay, and J&F.

What ``davisvideochallenge/davis2017-evaluation`` reports, step by step:

- per frame: J = ``db_eval_iou`` and F = ``db_eval_boundary`` (bound_th 0.008) of
  ``davis2017/metrics.py``; here :func:`libs.metrics.saliency.region_similarity` and
  :func:`libs.metrics.boundary.boundary_f_measure`, which follow them line by line;
- per object (here: per video, saliency being one binary object) ``db_statistics`` of
  ``davis2017/utils.py`` (:func:`db_statistics`): mean; recall = fraction of frames with a
  value ``> 0.5``; decay = mean of the first quarter minus mean of the last quarter, with the
  quarter boundaries ``round(linspace(1, n, 5) + 1e-10) - 1`` and both ends included (the
  quarters share their boundary frames);
- over the dataset (``evaluation_method.py``): the mean over objects of each statistic, and
  ``J&F-Mean = (J-Mean + F-Mean) / 2``.

One deliberate difference: ``db_statistics`` casts the quarter boundaries to ``np.uint8``,
which wraps for long sequences (from 257 frames; at 256 its ``255 + 1`` already wraps to 0
under NumPy 2, giving a NaN decay); here they are plain integers, identical up to 255 frames
(DAVIS 2016's longest sequence has 104).

Which frames enter is the caller's choice: davis2017-evaluation's semi-supervised task drops
the first and the last annotated frame, its unsupervised task keeps them all.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

__all__ = ["VOS_KEYS", "RECALL_THRESHOLD", "db_statistics", "video_vos_stats", "overall_vos"]

# Names and order of davis2017-evaluation's global table (evaluation_method.py, g_measures).
VOS_KEYS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
RECALL_THRESHOLD = 0.5


def db_statistics(values: Sequence[float]) -> Tuple[float, float, float]:
    """Mean, recall and decay of one object's per-frame values (``davis2017/utils.py``).

    Args:
        values: ``(n,)`` per-frame J or F, in frame order, ``n >= 1``.
    Returns:
        ``(mean, recall, decay)``; recall counts values strictly above 0.5.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"db_statistics expects a non-empty 1-D sequence, got shape {v.shape}")
    mean = float(np.nanmean(v))
    recall = float(np.nanmean(v > RECALL_THRESHOLD))
    ids = (np.round(np.linspace(1, v.size, 5) + 1e-10) - 1).astype(np.int64)
    quarters = [v[ids[i] : ids[i + 1] + 1] for i in range(4)]
    decay = float(np.nanmean(quarters[0]) - np.nanmean(quarters[3]))
    return mean, recall, decay


def video_vos_stats(j_values: Sequence[float], f_values: Sequence[float]) -> Dict[str, float]:
    """The :data:`VOS_KEYS` of one video from its per-frame J and boundary F."""
    jm, jr, jd = db_statistics(j_values)
    fm, fr, fd = db_statistics(f_values)
    return {"J&F-Mean": (jm + fm) / 2, "J-Mean": jm, "J-Recall": jr, "J-Decay": jd,
            "F-Mean": fm, "F-Recall": fr, "F-Decay": fd}


def overall_vos(per_video: Mapping[str, Mapping[str, float]]) -> Dict[str, float]:
    """Dataset numbers: the mean over videos of each statistic; J&F-Mean from the means.

    Args:
        per_video: ``{video: {key: value}}`` holding at least the six J/F keys.
    """
    if not per_video:
        raise ValueError("overall_vos: no videos")
    rows = list(per_video.values())
    out = {k: float(np.mean([r[k] for r in rows])) for k in VOS_KEYS[1:]}
    return {"J&F-Mean": (out["J-Mean"] + out["F-Mean"]) / 2, **out}
