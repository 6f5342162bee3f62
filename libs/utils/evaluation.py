"""Evaluation of saliency maps on disk: file discovery, loading, averaging and reports.

Two ways to name the data:

- a dataset split (:func:`evaluate_split`): GT frames are the files
  ``<data>/<NAME>/<label_dir>/<video>/*<label_ext>`` of the split's videos (only frames with a
  GT file are evaluated); predictions are ``<results>/<NAME>/<video>/<GT stem>.png``;
- two folders (:func:`evaluate_folders`): either flat folders of maps matched by file stem
  (evaluated as one group named after the GT folder), or folders of video subfolders
  (``<gt>/<video>/<stem><gt_ext>`` against ``<pred>/<video>/<stem>.png``).

Each map is read as a grayscale 8-bit map (:func:`libs.utils.io.load_label`, back to 0..255).
A prediction whose size differs from its GT is resized to the GT size (bilinear,
``cv2.INTER_LINEAR`` on the map in [0, 1], the same sampling as torch's bilinear with
``align_corners=False``; then rounded to uint8) with one warning per video. A missing
prediction is an error, or with ``allow_missing`` an all-zero map (one warning per video).

Averaging (see :mod:`libs.utils.metrics`): metrics are averaged over the frames of each
video; "overall" is the mean over videos; "pooled" puts all frames through one accumulator.

Problems with the inputs raise :class:`EvaluationError`, :class:`~libs.utils.io.ImageReadError`
or :class:`~libs.datasets.config.DatasetConfigError`, each a one-line message naming the path.
"""
from __future__ import annotations

import csv
import io
import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from libs.datasets.config import get_dataset_spec, load_dataset_config
from libs.utils.io import load_label, save_json, save_text
from libs.utils.metrics import METRIC_KEYS, SaliencyEvaluator, prob_to_uint8, summarize

__all__ = [
    "EvaluationError",
    "FramePair",
    "VideoJob",
    "PRED_EXT",
    "collect_split_jobs",
    "collect_folder_jobs",
    "check_predictions",
    "evaluate_jobs",
    "evaluate_split",
    "evaluate_folders",
    "format_table",
    "results_to_csv",
    "write_reports",
    "default_num_workers",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
PRED_EXT = ".png"


class EvaluationError(ValueError):
    """Inputs that cannot be evaluated (missing folder or prediction, empty video, ...)."""


@dataclass(frozen=True)
class FramePair:
    """One evaluated frame: its name (GT file stem), GT file and expected prediction file."""

    name: str
    gt: Path
    pred: Path


@dataclass(frozen=True)
class VideoJob:
    """The frames of one video, in evaluation order."""

    name: str
    frames: Tuple[FramePair, ...]


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


# ----------------------------------------------------------------------------- discovery

def _files_with_ext(folder: Path, ext: str) -> List[Path]:
    """Visible files of ``folder`` whose name ends with ``ext``, sorted by name."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.name.endswith(ext) and not p.name.startswith(".")
    )


def _video_job(name: str, gt_dir: Path, gt_ext: str, pred_dir: Path) -> VideoJob:
    if not gt_dir.is_dir():
        raise EvaluationError(f"{gt_dir}: GT folder of video {name!r} not found")
    gts = _files_with_ext(gt_dir, gt_ext)
    if not gts:
        raise EvaluationError(f"{gt_dir}: no GT files (*{gt_ext}) for video {name!r}")
    frames = tuple(
        FramePair(g.name[: -len(gt_ext)], g, pred_dir / (g.name[: -len(gt_ext)] + PRED_EXT)) for g in gts
    )
    return VideoJob(name, frames)


def _restrict(names: List[str], videos: Optional[Sequence[str]], where: str) -> List[str]:
    """Keep ``videos`` (in the order of ``names``); an unknown name is an error."""
    if videos is None:
        return names
    unknown = [v for v in videos if v not in names]
    if unknown:
        raise EvaluationError(f"--videos: {', '.join(unknown)} not in {where} (available: {', '.join(names)})")
    wanted = set(videos)
    return [n for n in names if n in wanted]


def collect_split_jobs(
    data_root: PathLike,
    dataset_config: PathLike,
    dataset: str,
    split: str,
    results_folder: PathLike,
    videos: Optional[Sequence[str]] = None,
) -> List[VideoJob]:
    """The frames of a dataset split: GT under ``<data_root>/<dataset>/<label_dir>/<video>/``,
    predictions expected at ``<results_folder>/<dataset>/<video>/<stem>.png``."""
    data_root = Path(data_root)
    if not data_root.is_dir():
        raise EvaluationError(f"--data {data_root}: data root not found")
    spec = get_dataset_spec(load_dataset_config(dataset_config), dataset, kind="video", config_path=dataset_config)
    names = _restrict(spec.videos(split), videos, f"split {split!r} of {dataset}")
    label_root = spec.root(data_root) / spec.label_dir
    if not label_root.is_dir():
        raise EvaluationError(f"--data {data_root}: GT folder of {dataset} not found: {label_root}")
    results_root = Path(results_folder)
    if not results_root.is_dir():
        raise EvaluationError(f"--results-folder {results_root}: results folder not found")
    pred_root = results_root / dataset
    if not pred_root.is_dir():
        raise EvaluationError(f"--results-folder {results_root}: no predictions folder {pred_root}")
    return [_video_job(v, label_root / v, spec.label_ext, pred_root / v) for v in names]


def collect_folder_jobs(
    pred_dir: PathLike,
    gt_dir: PathLike,
    videos: Optional[Sequence[str]] = None,
    gt_ext: str = ".png",
) -> List[VideoJob]:
    """The frames of two plain folders.

    If ``gt_dir`` holds GT files (``*<gt_ext>``) itself, it is one group named after the
    folder, matched against ``<pred_dir>/<stem>.png``. Otherwise each subfolder holding GT
    files is a video, matched against ``<pred_dir>/<video>/<stem>.png``.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    if not gt_dir.is_dir():
        raise EvaluationError(f"--gt {gt_dir}: GT folder not found")
    if not pred_dir.is_dir():
        raise EvaluationError(f"--pred {pred_dir}: prediction folder not found")
    if _files_with_ext(gt_dir, gt_ext):
        name = gt_dir.resolve().name or "all"
        _restrict([name], videos, f"--gt {gt_dir}")
        return [_video_job(name, gt_dir, gt_ext, pred_dir)]
    subdirs = sorted(p for p in gt_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = [d.name for d in subdirs if _files_with_ext(d, gt_ext)]
    if not names:
        raise EvaluationError(f"--gt {gt_dir}: no GT files (*{gt_ext}) in the folder or its subfolders")
    names = _restrict(names, videos, f"--gt {gt_dir}")
    return [_video_job(v, gt_dir / v, gt_ext, pred_dir / v) for v in names]


def check_predictions(jobs: Sequence[VideoJob], allow_missing: bool = False) -> int:
    """Count the missing prediction files; without ``allow_missing`` the first one is an error.

    Checked before any work, so a typo fails in a second, not after an hour.
    """
    missing = [f.pred for job in jobs for f in job.frames if not f.pred.is_file()]
    if missing and not allow_missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise EvaluationError(
            f"{missing[0]}: prediction not found{more}; use --allow-missing to count missing maps as all-zero"
        )
    return len(missing)


# ----------------------------------------------------------------------------- evaluation

def _load_u8(path: Path) -> np.ndarray:
    """A grayscale map file as uint8 ``(H, W)`` (0/1 palette masks become 0/255)."""
    return prob_to_uint8(load_label(path))


def _resize_to(pred_u8: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a uint8 map to ``shape`` = (H, W), on the map in [0, 1], rounded."""
    h, w = shape
    resized = cv2.resize(pred_u8.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_LINEAR)
    return prob_to_uint8(resized)


def evaluate_video(
    job: VideoJob,
    allow_missing: bool = False,
    metrics: Optional[Sequence[str]] = None,
    on_frame: Optional[Callable[[], None]] = None,
) -> _VideoOutcome:
    """Step one :class:`SaliencyEvaluator` through the frames of ``job``."""
    evaluator = SaliencyEvaluator(metrics)
    missing = resized = 0
    example = None
    for frame in job.frames:
        gt = _load_u8(frame.gt)
        if frame.pred.is_file():
            pred = _load_u8(frame.pred)
            if pred.shape != gt.shape:
                if example is None:
                    example = (pred.shape, gt.shape)
                resized += 1
                pred = _resize_to(pred, gt.shape)
        elif allow_missing:
            missing += 1
            pred = np.zeros_like(gt)
        else:
            raise EvaluationError(f"{frame.pred}: prediction not found")
        evaluator.step(pred, gt)
        if on_frame is not None:
            on_frame()
    return _VideoOutcome(job.name, evaluator, missing, resized, example)


def _evaluate_video_task(job: VideoJob, allow_missing: bool, metrics) -> _VideoOutcome:
    """Top-level (picklable) entry point for worker processes."""
    return evaluate_video(job, allow_missing, metrics)


def _report_notes(outcome: _VideoOutcome, num_frames: int) -> None:
    """One warning line per video for resized and for missing predictions."""
    if outcome.resized:
        (ph, pw), (gh, gw) = outcome.resize_example
        logger.warning(
            "video %s: %d of %d prediction(s) differ in size from the GT (e.g. %dx%d vs %dx%d, HxW); "
            "resized bilinearly to the GT size",
            outcome.name, outcome.resized, num_frames, ph, pw, gh, gw,
        )
    if outcome.missing:
        logger.warning(
            "video %s: %d of %d prediction(s) missing, counted as all-zero maps",
            outcome.name, outcome.missing, num_frames,
        )


def evaluate_jobs(
    jobs: Sequence[VideoJob],
    allow_missing: bool = False,
    num_workers: int = 0,
    progress: bool = False,
    metrics: Optional[Sequence[str]] = None,
) -> Dict[str, Dict]:
    """Evaluate videos and return :func:`libs.utils.metrics.summarize`'s report.

    Args:
        jobs: the videos, in report order.
        allow_missing: count a missing prediction as an all-zero map instead of failing.
        num_workers: worker processes over videos; 0 or 1 evaluates in this process.
        progress: show a tqdm bar over frames (on stderr).
        metrics: subset of :data:`METRIC_KEYS` (default all).
    Returns:
        ``{"overall": {...}, "pooled": {...}, "videos": {video: {..., "frames": n}}}``.
    """
    if not jobs:
        raise EvaluationError("nothing to evaluate: no videos selected")
    check_predictions(jobs, allow_missing)
    from tqdm import tqdm  # only needed when evaluating

    total = sum(len(j.frames) for j in jobs)
    outcomes: Dict[str, _VideoOutcome] = {}
    with tqdm(total=total, unit="frame", desc="evaluate", disable=not progress, leave=False) as bar:
        if num_workers <= 1 or len(jobs) == 1:
            for job in jobs:
                outcomes[job.name] = evaluate_video(job, allow_missing, metrics, on_frame=lambda: bar.update(1))
        else:
            with ProcessPoolExecutor(max_workers=min(num_workers, len(jobs))) as pool:
                futures = {pool.submit(_evaluate_video_task, job, allow_missing, metrics): job for job in jobs}
                try:
                    for fut in as_completed(futures):
                        outcome = fut.result()
                        outcomes[outcome.name] = outcome
                        bar.update(len(futures[fut].frames))
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    for job in jobs:  # warnings in report order, whatever order the workers finished in
        _report_notes(outcomes[job.name], len(job.frames))
    return summarize({job.name: outcomes[job.name].evaluator for job in jobs})


def evaluate_split(
    data_root: PathLike,
    dataset_config: PathLike,
    dataset: str,
    split: str,
    results_folder: PathLike,
    *,
    videos: Optional[Sequence[str]] = None,
    allow_missing: bool = False,
    num_workers: int = 0,
    progress: bool = False,
    metrics: Optional[Sequence[str]] = None,
) -> Dict[str, Dict]:
    """Evaluate ``<results_folder>/<dataset>/<video>/*.png`` against a split's GT.

    Returns the report dict of :func:`evaluate_jobs`.
    """
    jobs = collect_split_jobs(data_root, dataset_config, dataset, split, results_folder, videos)
    return evaluate_jobs(jobs, allow_missing, num_workers, progress, metrics)


def evaluate_folders(
    pred_dir: PathLike,
    gt_dir: PathLike,
    *,
    videos: Optional[Sequence[str]] = None,
    gt_ext: str = ".png",
    allow_missing: bool = False,
    num_workers: int = 0,
    progress: bool = False,
    metrics: Optional[Sequence[str]] = None,
) -> Dict[str, Dict]:
    """Evaluate a prediction folder against a GT folder (see :func:`collect_folder_jobs`).

    Returns the report dict of :func:`evaluate_jobs`.
    """
    jobs = collect_folder_jobs(pred_dir, gt_dir, videos, gt_ext)
    return evaluate_jobs(jobs, allow_missing, num_workers, progress, metrics)


# ----------------------------------------------------------------------------- reports

_SHORT = {"F_boundary": "F_bnd"}


def _rows(results: Dict[str, Dict]) -> List[Tuple[str, int, Dict[str, float]]]:
    """(label, frames, metrics) per video, then "overall" and "pooled" (frames = total)."""
    videos = results["videos"]
    total = sum(int(v.get("frames", 0)) for v in videos.values())
    rows = [(name, int(v.get("frames", 0)), v) for name, v in videos.items()]
    rows.append(("overall", total, results["overall"]))
    rows.append(("pooled", total, results["pooled"]))
    return rows


def _metric_keys(results: Dict[str, Dict]) -> List[str]:
    return [k for k in METRIC_KEYS if k in results["overall"]]


def format_table(results: Dict[str, Dict], decimals: int = 4) -> str:
    """An aligned text table: one row per video, then "overall" and "pooled", and a note on
    how they are averaged."""
    keys = _metric_keys(results)
    rows = _rows(results)
    name_w = max(len("video"), max(len(r[0]) for r in rows))
    col_w = max(decimals + 3, max(len(_SHORT.get(k, k)) for k in keys))
    head = f"{'video':<{name_w}}  {'frames':>6}  " + "  ".join(f"{_SHORT.get(k, k):>{col_w}}" for k in keys)
    lines = [head, "-" * len(head)]
    for i, (label, frames, vals) in enumerate(rows):
        if i == len(rows) - 2:
            lines.append("-" * len(head))
        lines.append(
            f"{label:<{name_w}}  {frames:>6}  " + "  ".join(f"{vals[k]:>{col_w}.{decimals}f}" for k in keys)
        )
    n = len(results["videos"])
    lines.append(
        f"overall = mean over {n} video(s) of per-video scores (frames averaged within each video); "
        "pooled = all frames as one set. F_bnd = DAVIS boundary F."
    )
    return "\n".join(lines) + "\n"


def results_to_csv(results: Dict[str, Dict]) -> str:
    """CSV text: header ``video,frames,<metrics>``, one row per video, then "overall" and
    "pooled" rows; values at full precision."""
    keys = _metric_keys(results)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["video", "frames", *keys])
    for label, frames, vals in _rows(results):
        writer.writerow([label, frames, *(repr(float(vals[k])) for k in keys)])
    return buf.getvalue()


def write_reports(results: Dict[str, Dict], json_path: Optional[PathLike] = None,
                  csv_path: Optional[PathLike] = None) -> None:
    """Write the JSON and/or CSV report, each atomically (never a partial file)."""
    if json_path is not None:
        save_json(results, json_path)
    if csv_path is not None:
        save_text(results_to_csv(results), csv_path)
