"""The DAVSOD toolbox's protocol (``DengPingFan/DAVSOD``, ``EvaluateTool/main.m``): frame
selection and averaging. The per-frame numbers are pysodmetrics', through
:class:`libs.metrics.saliency.SaliencyEvaluator`.

What ``main.m`` does for one dataset, and where it is implemented:

1. Each sequence's GT files, in name order (``calculateNumber.m``), without the first and
   the last (``for i = 2:fileNUM-1``): :func:`inner_frames`.
2. Per frame (``libs.pipeline.evaluation``): GT foreground ``gt > 128``; the prediction,
   when its size differs, ``imresize``-d to the GT (:mod:`libs.metrics.matlab_imresize`),
   then ``im2double`` and min-max stretched to [0, 1] (``mapminmax``, which pysodmetrics
   applies); S-measure; adaptive F with threshold ``min(2 * mean, 1)`` (``Fmeasure_calu.m``
   caps it at 1); MAE; the F-measure at the 256 thresholds ``1:-1/255:0`` with ``sal >=
   threshold`` and beta^2 = 0.3 (F = 0 when no foreground pixel is hit).
3. Per sequence: the mean over its frames of S, adaptive F, MAE and of the F curve
   (``seq_Fmeasure(seqnum,:) = mean(threshold_Fmeasure,1)``); the sequence's maxF / meanF
   are the max / mean of that curve.
4. Per dataset (:func:`aggregate_sequences`): the mean over sequences of S, adaptive F and
   MAE, and maxF / meanF = max / mean of the *mean of the sequences' curves*
   (``video_Fmeasure = mean(seq_Fmeasure,1); maxF = max(video_Fmeasure)``), not the mean of
   the sequences' maxF.

Per-frame numbers: ``lartpang/PySODMetrics`` (pysodmetrics 1.6.2): ``py_sod_metrics/utils.py``
(``prepare_data``: GT > 128, map / 255 min-max stretched; ``get_adaptive_threshold``:
``min(2 * mean, 1)``), ``py_sod_metrics/fmeasurev2.py`` (``FmeasureV2`` counts ``>=`` each of
the 256 thresholds on ``floor(255 * map)``; ``FmeasureHandler`` with beta^2 = 0.3),
``py_sod_metrics/sod_metrics.py`` (``Smeasure``, ``MAE``, ``Emeasure``).

The toolbox computes no E-measure (its README says it does); maxE / meanE here are an
extension averaged the same way as the F curve. J and F_boundary are means over sequences
of frame means.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence, TypeVar

import numpy as np

from .saliency import SaliencyEvaluator, mean_over_videos

__all__ = ["TOOLBOX_KEYS", "DAVSOD_METRICS", "MIN_GT_FRAMES", "inner_frames", "aggregate_sequences",
           "summarize_davsod"]

T = TypeVar("T")

# What main.m prints, and what the davsod protocol computes by default.
TOOLBOX_KEYS = ("S", "adpF", "maxF", "meanF", "MAE")
DAVSOD_METRICS = ("MAE", "maxF", "meanF", "adpF", "S", "maxE", "meanE", "J", "F_boundary")
MIN_GT_FRAMES = 3

# Keys whose dataset number comes from the mean curve: key -> (curve, reduction).
_CURVE_KEYS = {"maxF": ("F", np.max), "meanF": ("F", np.mean), "maxE": ("E", np.max), "meanE": ("E", np.mean)}


def inner_frames(frames: Sequence[T]) -> Sequence[T]:
    """The frames ``main.m`` evaluates: all but the first and the last (``i = 2:fileNUM-1``).

    Raises:
        ValueError: fewer than :data:`MIN_GT_FRAMES` frames (the toolbox would average an
            empty list into NaN).
    """
    if len(frames) < MIN_GT_FRAMES:
        raise ValueError(f"needs at least {MIN_GT_FRAMES} GT frames (first and last are skipped), got {len(frames)}")
    return frames[1:-1]


def aggregate_sequences(
    per_video: Mapping[str, Mapping[str, float]],
    curves: Mapping[str, Mapping[str, np.ndarray]],
) -> Dict[str, float]:
    """Dataset numbers from per-sequence numbers, as ``main.m`` combines them.

    Args:
        per_video: ``{video: {metric: frame mean}}`` (keys of :data:`~libs.metrics.saliency.METRIC_KEYS`).
        curves: ``{video: {"F": (256,), "E": (256,)}}``, the frame-mean curves.
    Returns:
        ``{metric: value}`` in ``METRIC_KEYS`` order: curve keys = max / mean of the mean
        over videos of the curves; the other keys = mean over videos.
    """
    if not per_video:
        raise ValueError("aggregate_sequences: no sequences")
    out = mean_over_videos(per_video)
    for key in (k for k in _CURVE_KEYS if k in out):  # replaced in place: the key order stays
        name, reduce = _CURVE_KEYS[key]
        mean_curve = np.mean(np.stack([np.asarray(curves[v][name], dtype=np.float64) for v in per_video]), axis=0)
        out[key] = float(reduce(mean_curve))
    return out


def summarize_davsod(evaluators: Mapping[str, SaliencyEvaluator]) -> Dict[str, Dict]:
    """The report of a dataset under the DAVSOD protocol.

    Args:
        evaluators: ``{video: SaliencyEvaluator}`` stepped with the video's evaluated frames.
    Returns:
        ``{"overall": {metric: float}, "videos": {video: {metric: float, "frames": int}}}``.
    """
    videos = {name: dict(ev.results(), frames=ev.num_frames) for name, ev in evaluators.items()}
    curves = {name: ev.curves() for name, ev in evaluators.items()}
    return {"overall": aggregate_sequences(videos, curves), "videos": videos}
