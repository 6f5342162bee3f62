"""Finding a video's frames and labels on disk, and choosing the ones a dataset uses.

Layout (paths from ``config/datasets.yaml``, relative to ``<data>/<NAME>/``):
frames ``<image_dir>/<video>/*<image_ext>`` sorted by file name; a frame is *labelled*
when ``<label_dir>/<video>/<stem><label_ext>`` exists; pseudo-labels live in
``<pseudo folder>/<m>_<l>/<NAME>/<video>/<stem>.png`` (what ``generate_pseudo_labels.py``
writes). Every problem is one :class:`DatasetError` line naming the path or flag.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Union

from .config import get_dataset_spec
from .indexing import DatasetError, check_sampling_args, pseudo_label_positions, used_positions

__all__ = [
    "FrameRef",
    "VideoFrames",
    "UsedFrame",
    "dataset_root",
    "frame_list",
    "gt_label",
    "list_video",
    "list_videos",
    "pseudo_label_path",
    "resolve_sets",
    "select_frames",
]

PathLike = Union[str, Path]


@dataclass(frozen=True)
class FrameRef:
    """One frame file and its ground-truth label file (``None`` when it has none)."""

    stem: str
    image: Path
    label: Optional[Path]


@dataclass(frozen=True)
class VideoFrames:
    """Every frame of one video, sorted by file name."""

    dataset: str
    video: str
    image_dir: Path
    label_dir: Path
    label_ext: str
    frames: tuple

    def labelled(self) -> List[FrameRef]:
        return [f for f in self.frames if f.label is not None]


@dataclass(frozen=True)
class UsedFrame:
    """A frame a dataset uses; ``label`` is the file to read (GT or pseudo) or ``None``."""

    stem: str
    image: Path
    label: Optional[Path]
    pseudo: bool = False


def dataset_root(data_root: PathLike, spec) -> Path:
    """``<data>/<NAME>``, checked: a clear error names whichever folder is missing."""
    data_root = Path(data_root)
    if not data_root.is_dir():
        raise DatasetError(f"{data_root}: data root folder not found (--data)")
    root = spec.root(data_root)
    if not root.is_dir():
        raise DatasetError(f"{root}: folder of dataset {spec.name!r} not found under the data root")
    return root


def pseudo_label_path(folder: PathLike, m: int, l: int, dataset: str, video: str, stem: str) -> Path:
    """``<folder>/<m>_<l>/<dataset>/<video>/<stem>.png``, the pseudo-label layout."""
    return Path(folder) / f"{m}_{l}" / dataset / video / f"{stem}.png"


def _files_with_ext(folder: Path, ext: str) -> List[str]:
    # Hidden files (macOS "._x.jpg" resource forks, editor temp files) are never frames.
    return sorted(
        p.name for p in folder.iterdir() if p.name.endswith(ext) and not p.name.startswith(".") and p.is_file()
    )


def list_video(data_root: PathLike, spec, video: str) -> VideoFrames:
    """All frames of ``video`` in dataset ``spec`` with their GT label files, if any."""
    root = dataset_root(data_root, spec)
    image_dir = root / spec.image_dir / video
    label_dir = root / spec.label_dir / video
    if not image_dir.is_dir():
        raise DatasetError(f"{image_dir}: video folder not found (video {video!r} of dataset {spec.name!r})")
    names = _files_with_ext(image_dir, spec.image_ext)
    if not names:
        raise DatasetError(f"{image_dir}: no *{spec.image_ext} frames in this video folder")
    label_names = set(_files_with_ext(label_dir, spec.label_ext)) if label_dir.is_dir() else set()
    frames = []
    for name in names:
        stem = name[: -len(spec.image_ext)]
        label = stem + spec.label_ext
        frames.append(FrameRef(stem, image_dir / name, label_dir / label if label in label_names else None))
    return VideoFrames(spec.name, video, image_dir, label_dir, spec.label_ext, tuple(frames))


def frame_list(vf: VideoFrames, all_frames: bool) -> List[FrameRef]:
    """The list positions refer to: labelled frames, or every frame with ``all_frames``."""
    if all_frames:
        return list(vf.frames)
    labelled = vf.labelled()
    if not labelled:
        raise DatasetError(
            f"{vf.image_dir}: no frame of this video has a label in {vf.label_dir} "
            f"(inference.py --all-frames runs on unlabelled frames)"
        )
    return labelled


def select_frames(
    vf: VideoFrames,
    label_interval: int = 1,
    frame_between_label_num: int = 0,
    pseudo_label_folder: Optional[PathLike] = None,
    all_frames: bool = False,
    require_labels: bool = True,
) -> List[UsedFrame]:
    """The frames a dataset uses from one video, in order, with the label file to read.

    Kept ground truth: every ``label_interval``-th position of the frame list. With a
    pseudo-label folder, the ``frame_between_label_num`` positions per gap are added and
    read their label from that folder (a missing file is an error here, before any work).
    """
    check_sampling_args(label_interval, frame_between_label_num)
    refs = frame_list(vf, all_frames)
    l, m = label_interval, frame_between_label_num
    with_pseudo = pseudo_label_folder is not None
    pseudo = set(pseudo_label_positions(len(refs), l, m)) if with_pseudo else set()
    used = []
    for pos in used_positions(len(refs), l, m, with_pseudo=with_pseudo):
        ref = refs[pos]
        if pos in pseudo:
            label = pseudo_label_path(pseudo_label_folder, m, l, vf.dataset, vf.video, ref.stem)
            if not label.is_file():
                raise DatasetError(f"{label}: pseudo-label file not found (--pseudo-label-folder, m={m}, l={l})")
            used.append(UsedFrame(ref.stem, ref.image, label, pseudo=True))
        elif require_labels:
            used.append(UsedFrame(ref.stem, ref.image, gt_label(ref, vf)))
        else:
            used.append(UsedFrame(ref.stem, ref.image, None))
    return used


def gt_label(ref: FrameRef, vf: VideoFrames) -> Path:
    """The ground-truth label file of ``ref``; a clear error naming the expected file."""
    if ref.label is None:
        expected = vf.label_dir / f"{ref.stem}{vf.label_ext}"
        raise DatasetError(f"{expected}: label file not found for frame {ref.image}")
    return ref.label


def list_videos(data_root: PathLike, spec, split: str) -> List[VideoFrames]:
    """Every video of ``split`` (a clear error lists the available splits)."""
    return [list_video(data_root, spec, v) for v in spec.videos(split)]


def resolve_sets(config, sets: Sequence) -> list:
    """``[(name, split), ...]`` -> ``[(spec, split), ...]`` of video datasets, checked."""
    if isinstance(sets, tuple) and len(sets) == 2 and all(isinstance(s, str) for s in sets):
        sets = [sets]
    out = []
    for item in sets:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise DatasetError(f"dataset sets must be (name, split) pairs, got {item!r}")
        name, split = item
        spec = get_dataset_spec(config, name, kind="video")
        spec.videos(split)
        out.append((spec, split))
    if not out:
        raise DatasetError("no (dataset, split) pairs given")
    return out
