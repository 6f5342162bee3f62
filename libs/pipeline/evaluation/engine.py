"""Evaluating the frames of :mod:`.jobs` under one of two protocols.

``per-video`` (the default): every GT frame; a prediction of another size is resized
bilinearly (``cv2.INTER_LINEAR`` on the map in [0, 1], i.e. torch's bilinear with
``align_corners=False``, rounded to uint8); metrics averaged per video, then over videos
("overall"), and over all frames as one set ("pooled") (:func:`libs.metrics.saliency.summarize`).

``davsod``: the DAVSOD toolbox's protocol (``DengPingFan/DAVSOD``, ``EvaluateTool/main.m``;
:mod:`libs.metrics.davsod`): first and last GT frame of each video skipped, a prediction of
another size resized with MATLAB's ``imresize`` (:mod:`libs.metrics.matlab_imresize`), per-video
means, dataset = mean over videos with maxF / meanF from the mean of the videos' curves.

Both add davis2017-evaluation's J / F statistics (:mod:`libs.metrics.vos`) to
"overall" and to every video, over the frames the protocol evaluates. Each map is read as a
8-bit map (:func:`libs.utils.io.load_map_u8`); each GT through the project's one mask decoder
(:func:`libs.utils.io.load_mask`: every palette object is foreground), as 0..255.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from libs.metrics.davsod import DAVSOD_METRICS, inner_frames, summarize_davsod
from libs.metrics.matlab_imresize import imresize as matlab_imresize
from libs.metrics.saliency import METRIC_KEYS, SaliencyEvaluator, prob_to_uint8, summarize
from libs.metrics.vos import overall_vos, video_vos_stats
from libs.utils.io import load_map_u8, load_mask

from .jobs import EvaluationError, PathLike, VideoJob, check_predictions, collect_folder_jobs, collect_split_jobs

__all__ = ["PROTOCOLS", "DEFAULT_PROTOCOL", "default_num_workers", "protocol_jobs", "evaluate_video",
           "evaluate_jobs", "evaluate_split", "evaluate_folders"]

# One logger for the whole package: quickstart silences "libs.pipeline.evaluation".
logger = logging.getLogger("libs.pipeline.evaluation")

DEFAULT_PROTOCOL = "per-video"
PROTOCOLS = ("per-video", "davsod")
_RESIZE_NAME = {"per-video": "bilinearly", "davsod": "with MATLAB-style bicubic imresize"}


@dataclass
class _VideoOutcome:
    name: str
    evaluator: SaliencyEvaluator
    missing: int
    resized: int
    resize_example: Optional[Tuple[Tuple[int, int], Tuple[int, int]]]  # (pred (H, W), GT (H, W))


def default_num_workers() -> int:
    """A small default for ``-j``: up to 4 processes, never more than the CPUs."""
    return max(1, min(4, os.cpu_count() or 1))


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise EvaluationError(f"--protocol {protocol}: unknown protocol (choose from {', '.join(PROTOCOLS)})")


def protocol_jobs(jobs: Sequence[VideoJob], protocol: str) -> list:
    """The frames the protocol evaluates: all, or (davsod) all but each video's first and last."""
    _check_protocol(protocol)
    if protocol != "davsod":
        return list(jobs)
    out = []
    for job in jobs:
        try:
            out.append(VideoJob(job.name, tuple(inner_frames(job.frames))))
        except ValueError as e:
            folder = job.frames[0].gt.parent if job.frames else job.name
            raise EvaluationError(f"{folder}: video {job.name!r} under --protocol davsod {e}") from None
    return out


def _load_gt_u8(path: Path) -> np.ndarray:
    """A GT mask as uint8 ``(H, W)``: decoded like a training label (every palette object is
    foreground, 0/1 masks are 0/255), soft GT values kept."""
    return prob_to_uint8(load_mask(path))


def _resize_bilinear(pred_u8: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a uint8 map to ``shape`` = (H, W), on the map in [0, 1], rounded."""
    h, w = shape
    resized = cv2.resize(pred_u8.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_LINEAR)
    return prob_to_uint8(resized)


def evaluate_video(
    job: VideoJob,
    allow_missing: bool = False,
    metrics: Optional[Sequence[str]] = None,
    on_frame: Optional[Callable[[], None]] = None,
    protocol: str = DEFAULT_PROTOCOL,
) -> _VideoOutcome:
    """Step one :class:`SaliencyEvaluator` through the frames of ``job`` (already selected by
    :func:`protocol_jobs`); a prediction of another size is resized as the protocol says."""
    # main.m: "if size(sal) ~= size(gt): sal = imresize(sal, size(gt))" on the 8-bit map.
    resize = matlab_imresize if protocol == "davsod" else _resize_bilinear
    evaluator = SaliencyEvaluator(metrics)
    missing = resized = 0
    example = None
    for frame in job.frames:
        gt = _load_gt_u8(frame.gt)
        if frame.pred.is_file():
            pred = load_map_u8(frame.pred)
            if pred.shape != gt.shape:
                if example is None:
                    example = (pred.shape, gt.shape)
                resized += 1
                pred = resize(pred, gt.shape)
        elif allow_missing:
            missing += 1
            pred = np.zeros_like(gt)
        else:
            raise EvaluationError(f"{frame.pred}: prediction not found")
        # pysodmetrics (lartpang/PySODMetrics, py_sod_metrics/utils.py prepare_data) takes GT > 128
        # and the map / 255 min-max stretched: main.m's gt(:,:,1) > 128 and mapminmax(im2double(sal)).
        evaluator.step(pred, gt)
        if on_frame is not None:
            on_frame()
    return _VideoOutcome(job.name, evaluator, missing, resized, example)


def _report_notes(outcome: _VideoOutcome, num_frames: int, protocol: str) -> None:
    """One warning line per video for resized and for missing predictions."""
    if outcome.resized:
        (ph, pw), (gh, gw) = outcome.resize_example
        logger.warning(
            "video %s: %d of %d prediction(s) differ in size from the GT (e.g. %dx%d vs %dx%d, HxW); "
            "resized %s to the GT size",
            outcome.name, outcome.resized, num_frames, ph, pw, gh, gw, _RESIZE_NAME[protocol],
        )
    if outcome.missing:
        logger.warning(
            "video %s: %d of %d prediction(s) missing, counted as all-zero maps",
            outcome.name, outcome.missing, num_frames,
        )


def _add_vos(report: Dict[str, Dict], evaluators: Dict[str, SaliencyEvaluator]) -> None:
    """davis2017-evaluation's J / F statistics into each video and "overall" (in place)."""
    for name, ev in evaluators.items():
        report["videos"][name].update(video_vos_stats(ev.frame_values("J"), ev.frame_values("F_boundary")))
    report["overall"].update(overall_vos(report["videos"]))


def evaluate_jobs(
    jobs: Sequence[VideoJob],
    allow_missing: bool = False,
    num_workers: int = 0,
    progress: bool = False,
    metrics: Optional[Sequence[str]] = None,
    protocol: str = DEFAULT_PROTOCOL,
) -> Dict[str, Dict]:
    """Evaluate videos under ``protocol`` and return the report.

    Args:
        jobs: the videos, in report order, with all their GT frames.
        allow_missing: count a missing prediction as an all-zero map instead of failing.
        num_workers: worker processes over videos; 0 or 1 evaluates in this process.
        progress: show a tqdm bar over frames (on stderr).
        metrics: subset of :data:`METRIC_KEYS` (default: all for per-video, the toolbox's
            plus E-measure, J and F_boundary for davsod).
        protocol: ``"per-video"`` or ``"davsod"`` (see the module docstring).
    Returns:
        ``{"protocol": str, "overall": {...}, "pooled": {...} (per-video only),
        "videos": {video: {..., "frames": n}}}``; with J and F_boundary computed, "overall"
        and each video also hold the DAVIS :data:`~libs.metrics.vos.VOS_KEYS`.
    """
    if not jobs:
        raise EvaluationError("nothing to evaluate: no videos selected")
    jobs = protocol_jobs(jobs, protocol)
    if metrics is None:
        metrics = DAVSOD_METRICS if protocol == "davsod" else METRIC_KEYS
    check_predictions(jobs, allow_missing)
    from tqdm import tqdm  # only needed when evaluating

    total = sum(len(j.frames) for j in jobs)
    outcomes: Dict[str, _VideoOutcome] = {}
    with tqdm(total=total, unit="frame", desc="evaluate", disable=not progress, leave=False) as bar:
        if num_workers <= 1 or len(jobs) == 1:
            for job in jobs:
                outcomes[job.name] = evaluate_video(job, allow_missing, metrics, lambda: bar.update(1), protocol)
        else:
            with ProcessPoolExecutor(max_workers=min(num_workers, len(jobs))) as pool:
                futures = {pool.submit(evaluate_video, job, allow_missing, metrics, protocol=protocol): job
                           for job in jobs}
                try:
                    for fut in as_completed(futures):
                        outcome = fut.result()
                        outcomes[outcome.name] = outcome
                        bar.update(len(futures[fut].frames))
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    for job in jobs:  # warnings in report order, whatever order the workers finished in
        _report_notes(outcomes[job.name], len(job.frames), protocol)
    evaluators = {job.name: outcomes[job.name].evaluator for job in jobs}
    body = summarize_davsod(evaluators) if protocol == "davsod" else summarize(evaluators)
    report = {"protocol": protocol, **body}
    if {"J", "F_boundary"} <= set(metrics):
        _add_vos(report, evaluators)
    return report


def evaluate_split(
    data_root: PathLike,
    dataset_config: PathLike,
    dataset: str,
    split: str,
    results_folder: PathLike,
    *,
    videos: Optional[Sequence[str]] = None,
    **options,
) -> Dict[str, Dict]:
    """Evaluate ``<results_folder>/<dataset>/<video>/*.png`` against a split's GT.

    ``options``: the keyword arguments of :func:`evaluate_jobs` (``allow_missing``,
    ``num_workers``, ``progress``, ``metrics``, ``protocol``). Returns its report dict.
    """
    _check_protocol(options.get("protocol", DEFAULT_PROTOCOL))  # before any file is looked at
    jobs = collect_split_jobs(data_root, dataset_config, dataset, split, results_folder, videos)
    return evaluate_jobs(jobs, **options)


def evaluate_folders(
    pred_dir: PathLike,
    gt_dir: PathLike,
    *,
    videos: Optional[Sequence[str]] = None,
    gt_ext: str = ".png",
    gt_subdir: Optional[str] = None,
    **options,
) -> Dict[str, Dict]:
    """Evaluate a prediction folder against a GT folder or benchmark release (see
    :func:`~.jobs.collect_folder_jobs`); ``options`` and the result as :func:`evaluate_split`."""
    _check_protocol(options.get("protocol", DEFAULT_PROTOCOL))
    jobs = collect_folder_jobs(pred_dir, gt_dir, videos, gt_ext, gt_subdir)
    return evaluate_jobs(jobs, **options)
