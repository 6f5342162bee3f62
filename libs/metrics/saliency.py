"""Saliency metrics: pysodmetrics' numbers plus DAVIS' J and boundary F.

Every metric but J and F_boundary is computed by ``py_sod_metrics`` (pysodmetrics 1.6.2)
itself, so the numbers are the library's:

======== =========================================================================
key      meaning
======== =========================================================================
MAE      mean absolute error (``py_sod_metrics.MAE``)
maxF     max over the 256 thresholds of the frame-mean F-measure curve, beta^2 = 0.3
         (``FmeasureV2`` + ``FmeasureHandler(beta=0.3)``)
meanF    mean over the 256 thresholds of that curve
adpF     frame mean of the adaptive F-measure (threshold = 2 x mean of the map)
S        S-measure, alpha = 0.5 (``Smeasure``)
maxE     max over thresholds of the frame-mean E-measure curve (``Emeasure``)
meanE    mean over thresholds of that curve
wF       weighted F-measure, beta = 1 (``WeightedFmeasure``)
J        DAVIS region similarity (IoU), by hand below
F_boundary  DAVIS boundary F-measure (bound_th 0.008), :mod:`libs.metrics.boundary`
======== =========================================================================

Inputs and thresholds (exactly):

- Maps are uint8 ``(H, W)`` arrays, prediction and GT of the same size. pysodmetrics divides
  the prediction by 255 and then *stretches it to [0, 1]* (MATLAB ``mapminmax``) unless it is
  constant; the GT is foreground where ``gt > 128``.
- J and F_boundary use binary masks: prediction foreground = ``pred >= 128`` on the raw
  0..255 map (no stretching; for a probability p written as ``round(p * 255)`` this is
  exactly ``p >= 0.5``), GT foreground = ``gt > 128`` (as pysodmetrics).
- J = |P & G| / |P | G|, and J = 1 when both masks are empty (DAVIS ``db_eval_iou``).
- Float probabilities become uint8 with :func:`prob_to_uint8`: ``round(clip(p, 0, 1) * 255)``
  (NumPy rounds halves to even, so 127.5 -> 128), which is how inference writes its PNGs.

Conventions for empty GT (pysodmetrics' own): S = 1 - mean(pred); the F-measure curve and
adpF are 0 (recall is 0); wF = 0; E-measure = fraction of pixels predicted background at each
threshold (x N / (N - 1)). J and F_boundary: see above and :mod:`libs.metrics.boundary`.

Averaging (:func:`summarize`): every metric is first averaged over the frames of a video
(for maxF/meanF/maxE/meanE: the per-frame curves are averaged over the video's frames, then
the max/mean over thresholds is taken, as pysodmetrics does over the frames it was stepped
with). "overall" = the unweighted mean over videos of those per-video numbers (so
overall maxF is the mean of each video's best-threshold F). "pooled" = all frames of all
videos through one accumulator, as if they formed one video (long videos weigh more).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import py_sod_metrics as sod

from .boundary import DAVIS_BOUND_TH, boundary_f_measure

__all__ = [
    "METRIC_KEYS",
    "PRED_FG_THRESHOLD",
    "GT_FG_THRESHOLD",
    "prob_to_uint8",
    "to_uint8_map",
    "prediction_mask",
    "gt_mask",
    "region_similarity",
    "SaliencyEvaluator",
    "s_measure",
    "mae",
    "mean_over_videos",
    "summarize",
]

METRIC_KEYS = ("MAE", "maxF", "meanF", "adpF", "S", "maxE", "meanE", "wF", "J", "F_boundary")

# J / F_boundary binarisation on 0..255 maps: prediction foreground is pred >= 128
# (= probability >= 0.5 after rounding); GT foreground is gt > 128, pysodmetrics' rule, so
# every metric sees the same GT.
PRED_FG_THRESHOLD = 128
GT_FG_THRESHOLD = 128

# Which accumulator produces which keys.
_GROUPS = {
    "mae": ("MAE",),
    "fm": ("maxF", "meanF", "adpF"),
    "sm": ("S",),
    "em": ("maxE", "meanE"),
    "wfm": ("wF",),
    "j": ("J",),
    "fb": ("F_boundary",),
}


def _to_numpy(x) -> np.ndarray:
    """A NumPy view of an array or a torch tensor (detached, on CPU; half -> float32)."""
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def _squeeze_2d(x: np.ndarray, name: str) -> np.ndarray:
    """``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)`` -> ``(H, W)``."""
    while x.ndim > 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2:
        raise ValueError(f"{name}: expected one (H, W) map, got shape {x.shape}")
    return x


def prob_to_uint8(prob) -> np.ndarray:
    """Probabilities in [0, 1] -> uint8 map: ``round(clip(p, 0, 1) * 255)``.

    Args:
        prob: float array/tensor, any shape.
    Returns:
        uint8 array of the same shape. The product is formed in float64 (exact for float32
        inputs) and NumPy rounds halves to even (127.5 -> 128), so ``prob_to_uint8(p) >= 128``
        exactly when ``p >= 0.5``.
    """
    p = _to_numpy(prob)
    if not np.issubdtype(p.dtype, np.floating):
        raise TypeError(f"prob_to_uint8 expects floating-point probabilities, got {p.dtype}")
    if not np.all(np.isfinite(p)):
        raise ValueError("prob_to_uint8: map contains NaN or infinite values")
    return np.round(np.clip(p.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def to_uint8_map(x, name: str = "map") -> np.ndarray:
    """One map as uint8 ``(H, W)``: uint8 is kept, bool -> {0, 255}, float in [0, 1] via
    :func:`prob_to_uint8`. Leading singleton dimensions are dropped."""
    a = _squeeze_2d(_to_numpy(x), name)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(a.dtype, np.floating):
        return prob_to_uint8(a)
    raise TypeError(f"{name}: expected uint8, bool or float in [0, 1], got {a.dtype}")


def prediction_mask(pred_u8: np.ndarray) -> np.ndarray:
    """Binary prediction for J / F_boundary: bool ``pred_u8 >= 128``."""
    return np.asarray(pred_u8) >= PRED_FG_THRESHOLD


def gt_mask(gt_u8: np.ndarray) -> np.ndarray:
    """Binary GT, pysodmetrics' rule: bool ``gt_u8 > 128``."""
    return np.asarray(gt_u8) > GT_FG_THRESHOLD


def region_similarity(pred_mask: np.ndarray, gt: np.ndarray) -> float:
    """DAVIS region similarity J of one frame: IoU of two bool ``(H, W)`` masks.

    Returns 1.0 when both masks are empty (DAVIS ``db_eval_iou``), else |P & G| / |P | G|.
    """
    pred_mask = np.asarray(pred_mask, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    if pred_mask.shape != gt.shape:
        raise ValueError(f"mask shapes differ: prediction {pred_mask.shape}, GT {gt.shape}")
    union = np.count_nonzero(pred_mask | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred_mask & gt) / float(union)


def _new_fmeasure() -> sod.FmeasureV2:
    return sod.FmeasureV2({"fm": sod.FmeasureHandler(with_dynamic=True, with_adaptive=True, beta=0.3)})


class SaliencyEvaluator:
    """Accumulates metrics frame by frame; :meth:`results` averages over the frames seen.

    ``results()`` is what pysodmetrics' ``get_results()`` gives for the same frames in the same
    order: scalar metrics are frame means; maxF/meanF/maxE/meanE are the max/mean over the
    thresholds of the frame-mean curves. Evaluators can be concatenated with :meth:`merge`
    (the "pooled" number of a split), which equals one evaluator stepped with all frames.

    Args:
        metrics: the keys to compute (a subset of :data:`METRIC_KEYS`; default all). Training
            validation can ask for ``("MAE", "S")`` only, which is much cheaper.
        bound_th: DAVIS boundary tolerance for F_boundary.
    """

    def __init__(self, metrics: Optional[Sequence[str]] = None, bound_th: float = DAVIS_BOUND_TH):
        keys = METRIC_KEYS if metrics is None else tuple(metrics)
        unknown = [k for k in keys if k not in METRIC_KEYS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRIC_KEYS)}")
        self.metrics = tuple(k for k in METRIC_KEYS if k in keys)
        self.bound_th = bound_th
        self.num_frames = 0
        active = {g for g, ks in _GROUPS.items() if any(k in self.metrics for k in ks)}
        self._mae = sod.MAE() if "mae" in active else None
        self._fm = _new_fmeasure() if "fm" in active else None
        self._sm = sod.Smeasure() if "sm" in active else None
        self._em = sod.Emeasure() if "em" in active else None
        self._wfm = sod.WeightedFmeasure() if "wfm" in active else None
        self._j: Optional[List[float]] = [] if "j" in active else None
        self._fb: Optional[List[float]] = [] if "fb" in active else None

    def __len__(self) -> int:
        return self.num_frames

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add one frame.

        Args:
            pred: uint8 ``(H, W)`` saliency map, 0..255.
            gt: uint8 ``(H, W)`` ground truth, 0..255 (foreground where > 128).
        """
        pred = np.asarray(pred)
        gt = np.asarray(gt)
        # pysodmetrics would silently treat a float map as 0..255: refuse anything else.
        if pred.dtype != np.uint8 or gt.dtype != np.uint8:
            raise TypeError(
                f"SaliencyEvaluator.step expects uint8 maps (got pred {pred.dtype}, gt {gt.dtype}); "
                "convert probabilities with prob_to_uint8"
            )
        if pred.ndim != 2 or pred.shape != gt.shape:
            raise ValueError(f"expected two (H, W) maps of one size, got pred {pred.shape}, gt {gt.shape}")
        for acc in (self._mae, self._fm, self._sm, self._em, self._wfm):
            if acc is not None:
                acc.step(pred=pred, gt=gt)
        if self._j is not None or self._fb is not None:
            p_mask, g_mask = prediction_mask(pred), gt_mask(gt)
            if self._j is not None:
                self._j.append(region_similarity(p_mask, g_mask))
            if self._fb is not None:
                self._fb.append(boundary_f_measure(p_mask, g_mask, self.bound_th))
        self.num_frames += 1

    def results(self) -> Dict[str, float]:
        """``{key: float}`` for the evaluator's metrics, in :data:`METRIC_KEYS` order."""
        if self.num_frames == 0:
            raise ValueError("SaliencyEvaluator.results(): no frames were evaluated")
        out: Dict[str, float] = {}
        if self._mae is not None:
            out["MAE"] = float(self._mae.get_results()["mae"])
        if self._fm is not None:
            fm = self._fm.get_results()["fm"]
            out["maxF"] = float(fm["dynamic"].max())
            out["meanF"] = float(fm["dynamic"].mean())
            out["adpF"] = float(fm["adaptive"])
        if self._sm is not None:
            out["S"] = float(self._sm.get_results()["sm"])
        if self._em is not None:
            curve = self._em.get_results()["em"]["curve"]
            out["maxE"] = float(curve.max())
            out["meanE"] = float(curve.mean())
        if self._wfm is not None:
            out["wF"] = float(self._wfm.get_results()["wfm"])
        if self._j is not None:
            out["J"] = float(np.mean(np.array(self._j, dtype=np.float64)))
        if self._fb is not None:
            out["F_boundary"] = float(np.mean(np.array(self._fb, dtype=np.float64)))
        return {k: out[k] for k in self.metrics}

    def curves(self) -> Dict[str, np.ndarray]:
        """The frame-mean threshold curves behind maxF/meanF and maxE/meanE.

        Returns:
            ``{"F": (256,), "E": (256,)}`` float64 (only those the evaluator computes); F is
            pysodmetrics' ``FmeasureV2`` dynamic curve (index 0 = threshold 255), E its
            ``Emeasure`` curve. The DAVSOD protocol averages these over videos before the max.
        """
        if self.num_frames == 0:
            raise ValueError("SaliencyEvaluator.curves(): no frames were evaluated")
        out: Dict[str, np.ndarray] = {}
        if self._fm is not None:
            out["F"] = np.asarray(self._fm.get_results()["fm"]["dynamic"], dtype=np.float64)
        if self._em is not None:
            out["E"] = np.asarray(self._em.get_results()["em"]["curve"], dtype=np.float64)
        return out

    def frame_values(self, key: str) -> np.ndarray:
        """Per-frame values of ``"J"`` or ``"F_boundary"``, float64 ``(num_frames,)`` in step order
        (what DAVIS' mean / recall / decay statistics are computed from)."""
        values = {"J": self._j, "F_boundary": self._fb}
        if key not in values:
            raise ValueError(f"frame_values: only 'J' and 'F_boundary' are kept per frame, not {key!r}")
        if values[key] is None:
            raise ValueError(f"frame_values: this evaluator does not compute {key!r}")
        return np.array(values[key], dtype=np.float64)

    @classmethod
    def merge(cls, evaluators: Iterable["SaliencyEvaluator"]) -> "SaliencyEvaluator":
        """One evaluator holding the frames of all ``evaluators`` in order (they must compute
        the same metrics with the same ``bound_th``). Used for the "pooled" numbers."""
        evaluators = list(evaluators)
        if not evaluators:
            raise ValueError("SaliencyEvaluator.merge: nothing to merge")
        first = evaluators[0]
        for e in evaluators[1:]:
            if e.metrics != first.metrics or e.bound_th != first.bound_th:
                raise ValueError("SaliencyEvaluator.merge: evaluators compute different metrics")
        merged = cls(first.metrics, first.bound_th)
        for e in evaluators:
            # The per-frame records pysodmetrics keeps (its get_results() averages these lists).
            if merged._mae is not None:
                merged._mae.maes.extend(e._mae.maes)
            if merged._fm is not None:
                dst, src = merged._fm._metric_handlers["fm"], e._fm._metric_handlers["fm"]
                dst.dynamic_results.extend(src.dynamic_results)
                dst.adaptive_results.extend(src.adaptive_results)
            if merged._sm is not None:
                merged._sm.sms.extend(e._sm.sms)
            if merged._em is not None:
                merged._em.changeable_ems.extend(e._em.changeable_ems)
                merged._em.adaptive_ems.extend(e._em.adaptive_ems)
            if merged._wfm is not None:
                merged._wfm.weighted_fms.extend(e._wfm.weighted_fms)
            if merged._j is not None:
                merged._j.extend(e._j)
            if merged._fb is not None:
                merged._fb.extend(e._fb)
            merged.num_frames += e.num_frames
        return merged


def _single_frame(metric_cls, pred, gt):
    """Run one pysodmetrics accumulator on one frame (float or uint8 maps accepted)."""
    pred_u8 = to_uint8_map(pred, "pred")
    gt_u8 = to_uint8_map(gt, "gt")
    if pred_u8.shape != gt_u8.shape:
        raise ValueError(f"pred {pred_u8.shape} and gt {gt_u8.shape} differ in size")
    acc = metric_cls()
    acc.step(pred=pred_u8, gt=gt_u8)
    return acc.get_results()


def s_measure(pred, gt) -> float:
    """S-measure of one frame, exactly as :class:`SaliencyEvaluator` / evaluate.py compute it.

    Args:
        pred: ``(H, W)`` (or with leading 1-dims) probabilities in [0, 1] (float array or
            tensor), or a uint8 0..255 map. Floats become uint8 by ``round(p * 255)``.
        gt: same size; float in [0, 1] (converted the same way), bool, or uint8. Foreground
            where the uint8 value > 128.
    """
    return float(_single_frame(sod.Smeasure, pred, gt)["sm"])


def mae(pred, gt) -> float:
    """MAE of one frame through pysodmetrics (same inputs and conversion as :func:`s_measure`;
    note pysodmetrics min-max stretches a non-constant prediction first)."""
    return float(_single_frame(sod.MAE, pred, gt)["mae"])


def mean_over_videos(per_video: Mapping[str, Mapping[str, float]]) -> Dict[str, float]:
    """Unweighted mean over videos of each metric key (keys other than metrics, such as
    "frames", are ignored). ``per_video``: ``{video: {key: value}}``."""
    if not per_video:
        raise ValueError("mean_over_videos: no videos")
    rows = list(per_video.values())
    keys = [k for k in METRIC_KEYS if k in rows[0]]
    return {k: float(np.mean(np.array([r[k] for r in rows], dtype=np.float64))) for k in keys}


def summarize(evaluators: Mapping[str, SaliencyEvaluator]) -> Dict[str, Dict]:
    """The report of a split from one evaluator per video.

    Args:
        evaluators: ``{video: SaliencyEvaluator}`` in report order.
    Returns:
        ``{"overall": {metric: float}, "pooled": {metric: float},
        "videos": {video: {metric: float, "frames": int}}}``; "overall" = mean over videos of
        the per-video numbers, "pooled" = all frames through one accumulator.
    """
    videos = {name: dict(ev.results(), frames=ev.num_frames) for name, ev in evaluators.items()}
    return {
        "overall": mean_over_videos(videos),
        "pooled": SaliencyEvaluator.merge(evaluators.values()).results(),
        "videos": videos,
    }
