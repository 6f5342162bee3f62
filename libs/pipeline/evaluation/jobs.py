"""Which frames to evaluate: GT files on disk and the prediction expected for each.

Three ways to lay out the GT:

- a dataset split (:func:`collect_split_jobs`): the split's videos, GT in
  ``VideoDatasetSpec.video_label_dir(data, video)`` (``<data>/<NAME>/<label_dir>/<video>/``,
  or ``label_dir`` with ``{video}`` filled in); predictions ``<results>/<NAME>/<video>/``;
- two folders (:func:`collect_folder_jobs`): a flat folder of GT files (one group named after
  the folder), or a folder of ``<video>/`` subfolders holding the GT files;
- a benchmark release (also :func:`collect_folder_jobs`): ``<gt>/<video>/<sub>/<frame>`` where
  ``<sub>`` is one of :data:`GT_SUBDIRS` (detected) or ``gt_subdir``; the DAVSOD toolbox's
  ``main.m`` reads ``<dataset>/<video>/ground-truth/`` (``DengPingFan/DAVSOD``).

Only frames with a GT file are evaluated. The prediction of GT file ``<stem><ext>`` is
``<pred>/<video>/<stem>.png``, or, when that file does not exist, a file with the GT's own
name (the toolbox reads ``[resPath name]``, the GT file name).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from libs.datasets.config import get_dataset_spec, load_dataset_config
from libs.utils.errors import UserError
from libs.utils.natural_sort import natural_sorted

__all__ = [
    "EvaluationError", "FramePair", "VideoJob", "PRED_EXT", "GT_SUBDIRS",
    "collect_split_jobs", "collect_folder_jobs", "check_predictions",
]

PathLike = Union[str, os.PathLike]
PRED_EXT = ".png"
# Per-video GT subfolders of the benchmark releases: DAVSOD toolbox layout (main.m reads
# <video>/ground-truth/), DAVSOD's own release (GT_object_level), and plain GT.
GT_SUBDIRS = ("ground-truth", "GT_object_level", "GT")


class EvaluationError(UserError, ValueError):
    """Inputs that cannot be evaluated (missing folder or prediction, empty video, ...)."""


@dataclass(frozen=True)
class FramePair:
    """One evaluated frame: its name (GT file stem), GT file and expected prediction file."""

    name: str
    gt: Path
    pred: Path


@dataclass(frozen=True)
class VideoJob:
    """The frames of one video, in evaluation (file name) order."""

    name: str
    frames: Tuple[FramePair, ...]


def _files_with_ext(folder: Path, ext: str) -> List[Path]:
    """Visible files of ``folder`` whose name ends with ``ext``, in natural order of their names."""
    return natural_sorted(
        p for p in folder.iterdir() if p.is_file() and p.name.endswith(ext) and not p.name.startswith(".")
    )


def _subdirs(folder: Path) -> List[Path]:
    return natural_sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _pred_path(pred_dir: Path, gt: Path, stem: str) -> Path:
    png = pred_dir / (stem + PRED_EXT)
    if not png.is_file() and (pred_dir / gt.name).is_file():
        return pred_dir / gt.name
    return png


def _video_job(name: str, gt_dir: Path, gt_ext: str, pred_dir: Path) -> VideoJob:
    if not gt_dir.is_dir():
        raise EvaluationError(f"{gt_dir}: GT folder of video {name!r} not found")
    gts = _files_with_ext(gt_dir, gt_ext)
    if not gts:
        raise EvaluationError(f"{gt_dir}: no GT files (*{gt_ext}) for video {name!r}")
    frames = []
    for g in gts:
        stem = g.name[: -len(gt_ext)]
        frames.append(FramePair(stem, g, _pred_path(pred_dir, g, stem)))
    return VideoJob(name, tuple(frames))


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
    """The frames of a dataset split: GT in each video's label folder (see
    ``VideoDatasetSpec.video_label_dir``), predictions expected at
    ``<results_folder>/<dataset>/<video>/<stem>.png``."""
    data_root = Path(data_root)
    if not data_root.is_dir():
        raise EvaluationError(f"--data {data_root}: data root not found")
    spec = get_dataset_spec(load_dataset_config(dataset_config), dataset, kind="video", config_path=dataset_config)
    names = _restrict(spec.videos(split), videos, f"split {split!r} of {dataset}")
    if not spec.root(data_root).is_dir():
        raise EvaluationError(f"--data {data_root}: folder of {dataset} not found: {spec.root(data_root)}")
    results_root = Path(results_folder)
    if not results_root.is_dir():
        raise EvaluationError(f"--results-folder {results_root}: results folder not found")
    pred_root = results_root / dataset
    if not pred_root.is_dir():
        raise EvaluationError(f"--results-folder {results_root}: no predictions folder {pred_root}")
    return [_video_job(v, spec.video_label_dir(data_root, v), spec.label_ext, pred_root / v) for v in names]


def _release_subdir(gt_dir: Path, video_dirs: List[Path], gt_subdir: Optional[str]) -> Optional[str]:
    """The per-video GT subfolder of a benchmark release, or None when there is none.

    With ``gt_subdir`` every video must have it. Detected: each video holds exactly one of
    :data:`GT_SUBDIRS`, the same one for all videos; anything else is an error.
    """
    if gt_subdir is not None:
        lacking = [d for d in video_dirs if not (d / gt_subdir).is_dir()]
        if lacking:
            raise EvaluationError(f"--gt-subdir {gt_subdir}: no folder {lacking[0] / gt_subdir} "
                                  f"({len(lacking)} of {len(video_dirs)} video(s) of --gt {gt_dir} lack it)")
        return gt_subdir
    found: Dict[str, List[str]] = {d.name: [s for s in GT_SUBDIRS if (d / s).is_dir()] for d in video_dirs}
    if not any(found.values()):
        return None
    for video, subs in found.items():
        if len(subs) > 1:
            raise EvaluationError(f"--gt {gt_dir}: video {video!r} has several GT subfolders ({', '.join(subs)}); "
                                  "choose one with --gt-subdir NAME")
    lacking = [v for v, subs in found.items() if not subs]
    if lacking:
        raise EvaluationError(f"--gt {gt_dir}: video {lacking[0]!r} has no GT subfolder ({', '.join(GT_SUBDIRS)}) "
                              "unlike the others; restrict with --videos or name it with --gt-subdir NAME")
    used = sorted({subs[0] for subs in found.values()})
    if len(used) > 1:
        raise EvaluationError(f"--gt {gt_dir}: videos use different GT subfolders ({', '.join(used)}); "
                              "choose one with --gt-subdir NAME")
    return used[0]


def collect_folder_jobs(
    pred_dir: PathLike,
    gt_dir: PathLike,
    videos: Optional[Sequence[str]] = None,
    gt_ext: str = ".png",
    gt_subdir: Optional[str] = None,
) -> List[VideoJob]:
    """The frames of two folders (see the module docstring), in this order of precedence:

    1. ``gt_subdir`` given: a release, GT in ``<gt_dir>/<video>/<gt_subdir>/``;
    2. ``gt_dir`` holds GT files (``*<gt_ext>``): one group named after the folder, matched
       against ``<pred_dir>/<stem>.png``;
    3. its subfolders hold one of :data:`GT_SUBDIRS`: a release (detected subfolder);
    4. its subfolders holding GT files are videos, matched against ``<pred_dir>/<video>/``.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    if not gt_dir.is_dir():
        raise EvaluationError(f"--gt {gt_dir}: GT folder not found")
    if not pred_dir.is_dir():
        raise EvaluationError(f"--pred {pred_dir}: prediction folder not found")
    if gt_subdir is None and _files_with_ext(gt_dir, gt_ext):
        name = gt_dir.resolve().name or "all"
        _restrict([name], videos, f"--gt {gt_dir}")
        return [_video_job(name, gt_dir, gt_ext, pred_dir)]
    dirs = _subdirs(gt_dir)
    keep = set(_restrict([d.name for d in dirs], videos, f"--gt {gt_dir}"))
    dirs = [d for d in dirs if d.name in keep]
    if gt_subdir is not None and not dirs:
        raise EvaluationError(f"--gt {gt_dir}: no video subfolders (expected <video>/{gt_subdir}/)")
    sub = _release_subdir(gt_dir, dirs, gt_subdir) if dirs else None
    if sub is not None:
        return [_video_job(d.name, d / sub, gt_ext, pred_dir / d.name) for d in dirs]
    # Asked-for videos must have GT files (an error names the folder); otherwise skip the others.
    names = [d.name for d in dirs if videos is not None or _files_with_ext(d, gt_ext)]
    if not names:
        raise EvaluationError(
            f"--gt {gt_dir}: no GT files (*{gt_ext}) in the folder, its subfolders, or a per-video GT subfolder "
            f"({', '.join(GT_SUBDIRS)}); name the subfolder with --gt-subdir NAME"
        )
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
