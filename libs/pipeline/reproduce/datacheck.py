"""The data a run will read, counted and checked from folder listings and file headers.

Per video split (``NAME:SPLIT``): videos listed in the config and found on disk, frames,
annotated frames (label files that have a frame), the annotation interval found in the
files (the most common gap between consecutive annotated frames) beside the config's
``default_label_interval``, kept labels at l (``labels[::l]``, :func:`~libs.datasets.frames.kept_labels`),
FGPLG triplets (:func:`~libs.datasets.indexing.triplet_indices`) and the pseudo-labels
generation writes (:class:`~libs.datasets.fgplg_datasets.VideoPlan`). Nothing is decoded but
a few masks per video (the multi-object sample); sizes come from headers
(:func:`~libs.datasets.loading.header_size`).

**Problems** stop a run (one line each, naming the dataset, video and file); **warnings**
describe what the published code runs through but a user should know.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from PIL import Image

from libs.datasets.config import DatasetConfigError
from libs.datasets.fgplg_datasets import VideoPlan
from libs.datasets.frames import FrameRef, VideoFrames, kept_labels, list_video
from libs.datasets.indexing import DatasetError, check_frame_between_label_num, triplet_indices
from libs.datasets.loading import header_size
from libs.utils.io import ImageReadError
from libs.utils.masks import mask_object_count

__all__ = ["SplitCount", "ImageCount", "count_video_split", "count_image_split", "most_common_gap", "MASK_SAMPLE"]

MASK_SAMPLE = 3  # masks decoded per video for the multi-object check: first, middle, last annotated
_SHOWN = 3  # files named in one warning line


@dataclass
class SplitCount:
    key: str  # NAME:SPLIT
    config_interval: Optional[int] = None
    videos_listed: int = 0
    videos: int = 0  # found on disk
    frames: int = 0
    annotated: int = 0
    annotation_interval: Optional[int] = None
    kept_labels: int = 0
    fgplg_triplets: int = 0
    pseudo_labels: int = 0
    masks_sampled: int = 0
    multi_object_masks: int = 0
    label_bytes: int = 0  # of the annotated frames' label files: for the disk estimate
    kept_bytes: int = 0
    frame_bytes: int = 0  # of the annotated frames
    found: List[VideoFrames] = field(default_factory=list)  # the videos with frames and GT
    generated: List[int] = field(default_factory=list)  # per found video: kept + pseudo-labels (the folder m_l)
    problems: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


@dataclass
class ImageCount:
    key: str
    listed: int = 0
    images: int = 0
    problems: List[str] = field(default_factory=list)


def most_common_gap(positions_per_video: List[List[int]]) -> Optional[int]:
    """The most common gap between consecutive annotated positions over all videos (the
    smallest of equally common ones); None when no video has two annotated frames."""
    ordered = [sorted(pos) for pos in positions_per_video]
    gaps = Counter(b - a for pos in ordered for a, b in zip(pos, pos[1:]))
    if not gaps:
        return None
    best = max(gaps.values())
    return min(g for g, n in gaps.items() if n == best)


def _list_video(count: SplitCount, data_root: Path, spec, video: str, config_path) -> Optional[VideoFrames]:
    """The video as the stages list it (:func:`~libs.datasets.frames.list_video`), its problems recorded."""
    image_dir = spec.video_image_dir(data_root, video)
    where = f"{count.key} video {video!r}"
    if not image_dir.is_dir():
        count.problems.append(f"{where}: listed in {config_path} but not on disk: {image_dir} not found")
        return None
    orphans: List[Path] = []
    try:
        vf = list_video(data_root, spec, video, orphans=orphans)
    except DatasetError as e:  # a folder without frames
        count.problems.append(f"{where}: {e}")
        return None
    count.problems += [f"{where}: GT without a frame: {path} (no {path.name[: -len(spec.label_ext)]}"
                       f"{spec.image_ext} in {image_dir})" for path in orphans]
    return vf


def _pair_problem(where: str, image: Path, label: Path, noun: str) -> Optional[str]:
    """The problem of a frame (``noun``: "frame" or "image") and its mask, from their headers; None if fine."""
    try:
        image_hw, label_hw = header_size(image), header_size(label)
    except ImageReadError as e:
        return f"{where}: unreadable file: {e}"
    if label_hw != image_hw:
        return (f"{where}: mask of another size than its {noun}: {label} is {label_hw[0]}x{label_hw[1]} (HxW), "
                f"its {noun} {image} {image_hw[0]}x{image_hw[1]}")
    return None


def _check_pair(count: SplitCount, vf: VideoFrames, ref: FrameRef) -> None:
    problem = _pair_problem(f"{count.key} video {vf.video!r}", ref.image, ref.label, "frame")
    if problem is not None:
        count.problems.append(problem)
    count.label_bytes += ref.label.stat().st_size
    count.frame_bytes += ref.image.stat().st_size


def _sample_objects(count: SplitCount, vf: VideoFrames, examples: list) -> None:
    labels = sorted(vf.labels)
    picks = sorted({labels[0], labels[len(labels) // 2], labels[-1]})[:MASK_SAMPLE]
    for pos in picks:
        path = vf.frames[pos].label
        try:
            with Image.open(path) as img:
                objects = mask_object_count(img)
        except (OSError, SyntaxError, ValueError) as e:
            count.problems.append(f"{count.key} video {vf.video!r}: unreadable file: {path}: unreadable or "
                                  f"truncated image ({e})")
            continue
        count.masks_sampled += 1
        if objects > 1:
            count.multi_object_masks += 1
            examples.append((path, objects))


def _interval_warnings(count: SplitCount, d: int, l: Optional[int], m: Optional[int], config_path) -> None:
    found = count.annotation_interval
    generation = m is not None and l is not None
    if found is not None and found != d:
        text = (f"{count.key}: GT every {found} frames (the most common gap between annotated frames) but "
                f"{config_path} says default_label_interval: {d}")
        if d == 1 and generation:
            text += (f"; pseudo-labels go (l x d) // (m + 1) = {(l * d) // (m + 1)} frame(s) after each kept label, "
                     f"as the published code did for FBMS, not midway between kept labels "
                     f"({(l * found) // (m + 1)} frames on); default_label_interval: {found} would put them there")
        elif d == 1:
            text += " (sparse GT, like FBMS's)"
        else:
            text += f"; the protocol's pseudo-label positions k + j x (l x {d}) // (m + 1) assume GT every {d} frames"
        count.warnings.append(text)
    if d > 1:
        for vf in count.found:
            pos = sorted(vf.labels)
            off = [p for p in pos if (p - pos[0]) % d]
            if off:
                files = ", ".join(str(vf.frames[p].label) for p in off[:_SHOWN])
                more = f" and {len(off) - _SHOWN} more" if len(off) > _SHOWN else ""
                count.warnings.append(f"{count.key} video {vf.video!r}: GT on frames the interval {d} does not "
                                      f"predict (first annotated frame {pos[0]} + multiples of {d}): {files}{more}")


def count_video_split(data_root, config, config_path, key: str, l: Optional[int] = None,
                      generation: Optional[tuple] = None, needs_labels: bool = True) -> SplitCount:
    """Count and check one ``NAME:SPLIT``; ``l`` the budget for kept labels and triplets;
    ``generation`` ``(l, m)`` when pseudo-labels are generated on this split."""
    count = SplitCount(key)
    name, _, split = key.rpartition(":")
    spec = config.get(name)
    if spec is None or spec.kind != "video":
        what = "no dataset" if spec is None else "an image dataset, not a video dataset:"
        count.problems.append(f"{key}: {what} {name!r} in {config_path}")
        return count
    count.config_interval = spec.default_label_interval
    try:
        videos = spec.videos(split)
    except DatasetConfigError as e:
        count.problems.append(f"{key}: {config_path}: {e}")
        return count
    count.videos_listed = len(videos)
    root = spec.root(data_root)
    if not root.is_dir():
        where = f"data root {data_root} not found (--data)" if not Path(data_root).is_dir() else f"{root} not found"
        count.problems.append(f"{key}: dataset folder missing: {where}; none of its {len(videos)} videos is on disk")
        return count
    examples: list = []
    for video in videos:
        vf = _list_video(count, Path(data_root), spec, video, config_path)
        if vf is None:
            continue
        count.videos += 1
        count.frames += len(vf.frames)
        count.annotated += len(vf.labels)
        if not vf.labels:
            line = f"{key} video {video!r}: no GT file for any frame in {vf.label_dir}"
            (count.problems if needs_labels else count.warnings).append(line)
            continue
        count.found.append(vf)
        for pos in vf.labels:
            _check_pair(count, vf, vf.frames[pos])
        _sample_objects(count, vf, examples)
    count.annotation_interval = most_common_gap([list(vf.labels) for vf in count.found])
    _count_protocol(count, spec, l, generation)
    _interval_warnings(count, spec.default_label_interval, *(generation or (None, None)), config_path)
    if examples:
        path, objects = examples[0]
        count.warnings.append(f"{key}: {count.multi_object_masks} of {count.masks_sampled} sampled masks (up to "
                              f"{MASK_SAMPLE} per video) label more than one object, e.g. {path} ({objects} objects): "
                              f"every object counts as salient foreground (docs/pipeline.md#mask-files)")
    return count


def _count_protocol(count: SplitCount, spec, l: Optional[int], generation: Optional[tuple]) -> None:
    short = []
    for vf in count.found:
        kept = kept_labels(vf, l) if l else list(vf.labels)
        count.kept_labels += len(kept)
        count.kept_bytes += sum(vf.frames[k].label.stat().st_size for k in kept)
        count.fgplg_triplets += len(triplet_indices(len(kept))) if l else 0
        if l and len(kept) < 3:
            short.append(vf.video)
    if short:
        count.warnings.append(f"{count.key}: {len(short)} video(s) with fewer than 3 kept labels at l={l} give no "
                              f"FGPLG triplet (skipped by train_fgplg.py): {', '.join(short[:_SHOWN])}"
                              + (f" and {len(short) - _SHOWN} more" if len(short) > _SHOWN else ""))
    if generation is None:
        return
    gl, m = generation
    try:
        check_frame_between_label_num(m, gl, spec.default_label_interval, spec.name)
    except DatasetError as e:
        count.problems.append(f"{count.key}: {e}")
        return
    for vf in count.found:
        try:
            plan = VideoPlan(vf, gl, spec.default_label_interval, m)
        except DatasetError as e:
            count.problems.append(f"{count.key} video {vf.video!r}: {e}")
            continue
        count.pseudo_labels += len(plan.jobs)
        count.generated.append(len(plan.kept) + len(plan.jobs))
        for _, pos, _ in plan.jobs:  # the frames generation reads besides the kept ones
            _check_frame(count, vf, vf.frames[pos])


def _check_frame(count: SplitCount, vf: VideoFrames, ref: FrameRef) -> None:
    try:
        header_size(ref.image)
    except ImageReadError as e:
        count.problems.append(f"{count.key} video {vf.video!r}: unreadable file: {e}")


def count_image_split(data_root, config, config_path, key: str) -> ImageCount:
    """An image set (image pretraining): ids listed, images found, every label against its image."""
    count = ImageCount(key)
    name, _, split = key.rpartition(":")
    spec = config.get(name)
    if spec is None or spec.kind != "image":
        count.problems.append(f"{key}: no image dataset {name!r} in {config_path}")
        return count
    id_file = spec.root(data_root) / spec.split_dir / f"{split}_id.txt"
    if not id_file.is_file():
        count.problems.append(f"{key}: split file not found: {id_file}")
        return count
    ids = id_file.read_text().split()
    count.listed = len(ids)
    if not ids:
        count.problems.append(f"{key}: no image ids listed in {id_file}")
    root = spec.root(data_root)
    for image_id in ids:
        image = root / spec.image_dir / f"{image_id}{spec.image_ext}"
        label = root / spec.label_dir / f"{image_id}{spec.label_ext}"
        missing = [p for p in (image, label) if not p.is_file()]
        if missing:
            count.problems.append(f"{key} image {image_id!r}: listed in {id_file} but not on disk: {missing[0]}")
            continue
        count.images += 1
        problem = _pair_problem(f"{key} image {image_id!r}", image, label, "image")
        if problem is not None:
            count.problems.append(problem)
    return count
