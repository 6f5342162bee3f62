"""Finding a video's frames and labels on disk, and choosing the ones a dataset uses.

Layout (paths from ``config/datasets.yaml``, relative to ``<data>/<NAME>/``; ``{video}``
may appear in ``image_dir``/``label_dir``): frames are ``<image_dir>/<video>/*<image_ext>``
in natural order of their names (``f2`` before ``f10``; plain string order for the benchmarks'
zero-padded names, as published); labels are the files ``<label_dir>/<video>/*<label_ext>``
in the same order, each belonging to the frame of the same stem. A pseudo-label folder replaces
``<label_dir>`` (see :mod:`libs.datasets.pseudo_label_folder`).

Nothing here opens a label file: listing a folder is all it takes to know which frames
are labelled, so a label the budget discards is never read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from libs.utils.natural_sort import natural_sorted

from .config import get_dataset_spec
from .indexing import DatasetError, kept_indices

__all__ = [
    "FrameRef",
    "VideoFrames",
    "dataset_root",
    "list_video",
    "label_list",
    "kept_labels",
    "resolve_sets",
]

PathLike = Union[str, Path]


@dataclass(frozen=True)
class FrameRef:
    """One frame file and its label file (``None`` when it has none, or is not to be read)."""

    stem: str
    image: Path
    label: Optional[Path]

    def without_label(self) -> "FrameRef":
        return replace(self, label=None)


@dataclass(frozen=True)
class VideoFrames:
    """Every frame of one video, in natural order of the file names, with the labels found for them.

    ``labels`` holds the positions (indices into ``frames``) of the label files, in the
    natural order of the label file names (the published ``label_list``).
    """

    dataset: str
    video: str
    image_dir: Path
    label_dir: Path
    frames: Tuple[FrameRef, ...]
    labels: Tuple[int, ...]


def dataset_root(data_root: PathLike, spec) -> Path:
    """``<data>/<NAME>``, checked: a clear error names whichever folder is missing."""
    data_root = Path(data_root)
    if not data_root.is_dir():
        raise DatasetError(f"{data_root}: data root folder not found (--data)")
    root = spec.root(data_root)
    if not root.is_dir():
        raise DatasetError(f"{root}: folder of dataset {spec.name!r} not found under the data root")
    return root


def _files_with_ext(folder: Path, exts: Sequence[str]) -> List[str]:
    # Hidden files (macOS "._x.jpg" resource forks, editor temp files) are never frames.
    return natural_sorted(
        p.name for p in folder.iterdir()
        if p.name.endswith(tuple(exts)) and not p.name.startswith(".") and p.is_file()
    )


def _stem(name: str, exts: Sequence[str]) -> str:
    ext = max((e for e in exts if name.endswith(e)), key=len)
    return name[: -len(ext)]


def list_video(data_root: PathLike, spec, video: str, label_dir: Optional[PathLike] = None,
               label_exts: Optional[Sequence[str]] = None, need_labels: bool = True,
               orphans: Optional[List[Path]] = None) -> VideoFrames:
    """All frames of ``video`` in dataset ``spec`` and the label files found for them.

    Labels come from the dataset's GT folder, or from ``label_dir`` (a pseudo-label
    folder's ``<DATASET>/<video>``) with extensions ``label_exts``. With ``need_labels``, a
    label file whose stem is no frame, or two label files for one frame, is an error (the
    published code failed on them); without, labels are not even listed. ``orphans``: a
    list that collects the label files whose stem is no frame instead of failing on the first
    (a check of the data names them all).
    """
    dataset_root(data_root, spec)
    image_dir = spec.video_image_dir(data_root, video)
    label_dir = Path(label_dir) if label_dir is not None else spec.video_label_dir(data_root, video)
    exts = tuple(dict.fromkeys(label_exts or (spec.label_ext,)))
    if not image_dir.is_dir():
        raise DatasetError(f"{image_dir}: video folder not found (video {video!r} of dataset {spec.name!r})")
    names = _files_with_ext(image_dir, (spec.image_ext,))
    if not names:
        raise DatasetError(f"{image_dir}: no *{spec.image_ext} frames in this video folder")
    stems = [n[: -len(spec.image_ext)] for n in names]
    index = {stem: k for k, stem in enumerate(stems)}
    label_for, labels = {}, []
    label_names = _files_with_ext(label_dir, exts) if need_labels and label_dir.is_dir() else []
    for name in label_names:
        stem = _stem(name, exts)
        if stem not in index and orphans is not None:
            orphans.append(label_dir / name)
            continue
        if stem not in index:
            raise DatasetError(f"{label_dir / name}: label file without a frame {stem}{spec.image_ext} "
                               f"in {image_dir}")
        if stem in label_for:
            raise DatasetError(f"{label_dir / name}: frame {stem} has two label files "
                               f"({label_for[stem].name} and {name})")
        label_for[stem] = label_dir / name
        labels.append(index[stem])
    frames = tuple(FrameRef(s, image_dir / n, label_for.get(s)) for s, n in zip(stems, names))
    return VideoFrames(spec.name, video, image_dir, label_dir, frames, tuple(labels))


def label_list(vf: VideoFrames) -> List[int]:
    """Positions of the labelled frames in label order; a clear error when there is none."""
    if not vf.labels:
        raise DatasetError(
            f"{vf.label_dir}: no label file for any frame of video {vf.video!r} of dataset {vf.dataset!r} "
            f"(inference.py --all-frames runs on unlabelled frames)"
        )
    return list(vf.labels)


def kept_labels(vf: VideoFrames, l: int) -> List[int]:
    """Positions of the labels the budget keeps: ``labels[::l]`` (never reads a file)."""
    labels = label_list(vf)
    return [labels[i] for i in kept_indices(len(labels), l)]


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
