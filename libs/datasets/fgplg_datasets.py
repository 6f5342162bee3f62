"""The FGPLG's datasets: training triplets within the label budget, and generation jobs.

Both see only the labels the budget keeps (``labels[::l]``, :func:`~libs.datasets.frames.kept_labels`);
no other label file is opened, not even for its header.

- :class:`TripletDataset` (``train_fgplg.py``, training and validation): three consecutive
  kept labels (K_i, K_i+1, K_i+2), consecutive triplets sharing one (clip rule with
  clip_len 3, step 2), each played backwards with probability 1/2 when
  ``random_reverse``. The generator labels the middle frame from the outer two; the
  target is the middle frame's kept label.
- :class:`PseudoLabelDataset` (``generate_pseudo_labels.py``): one item per pseudo-label
  position ``k + j * (l*d)//(m+1)`` (j = 1..m) after every kept label ``k`` but the last,
  with the kept labels at ``k`` and the next kept position as neighbours
  (:func:`~libs.datasets.indexing.pseudo_label_positions`); ``kept`` lists the kept GT
  files to copy into the pseudo-label folder.

Legend: S = transformed size, (H, W) = a frame's original size.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .frames import FrameRef, VideoFrames, kept_labels
from .indexing import (
    DatasetError,
    check_frame_between_label_num,
    check_label_interval,
    pseudo_label_positions,
    triplet_indices,
)
from .loading import check_pair_sizes, read_label
from .pseudo_label_folder import pseudo_label_path
from .video_datasets import VideoSets, load_frames

__all__ = ["TripletDataset", "PseudoLabelDataset", "VideoPlan"]

PathLike = Union[str, Path]


class TripletDataset(VideoSets):
    """FGPLG training/validation triplets of consecutive kept labels.

    Videos with fewer than three kept labels give no triplet and are listed in
    ``skipped``. With ``videos`` (a user's own, listed by
    :func:`~libs.datasets.user_videos.list_user_videos`) the labels are their key frames, at
    whatever spacing they have: a triplet is three consecutive kept key frames all the same.
    Item: ``images (3, 3, S, S)`` [left, middle, right] (after reversal); ``labels (3, 1, S, S)``
    (all three kept labels); ``frames`` their stems; ``sizes`` long (3, 2); ``dataset``,
    ``video`` str; ``reversed`` bool. ``label_interval`` is required.
    """

    def __init__(self, data_root: Optional[PathLike] = None, config=None, sets=None,
                 label_interval: Optional[int] = None, random_reverse: bool = False, transform=None, *,
                 videos: Optional[Sequence[VideoFrames]] = None):
        check_label_interval(label_interval)
        super().__init__(data_root, config, sets, transform, videos=videos)
        self.label_interval = label_interval
        self.random_reverse = random_reverse
        self.triplets: List[Tuple[int, Tuple[FrameRef, FrameRef, FrameRef]]] = []
        self.skipped: List[Tuple[str, str]] = []
        for vi, vf in enumerate(self.videos):
            kept = kept_labels(vf, label_interval)
            clips = triplet_indices(len(kept))
            if not clips:
                self.skipped.append((vf.dataset, vf.video))
            for clip in clips:
                self.triplets.append((vi, tuple(vf.frames[kept[i]] for i in clip)))
        if not self.triplets:
            raise DatasetError(
                f"no triplets: no video has 3 kept labels at --label_interval {label_interval} "
                f"({len(self.videos)} videos)"
            )

    def __len__(self) -> int:
        return len(self.triplets)

    def validate(self) -> int:
        """Check the size of every label the triplets use against its frame (headers only)."""
        return check_pair_sizes((f.image, f.label) for _, trip in self.triplets for f in trip)

    def __getitem__(self, index: int) -> dict:
        vi, trip = self.triplets[index]
        rev = bool(self.random_reverse and torch.randint(2, ()).item() == 1)
        if rev:
            trip = trip[::-1]
        images, labels, sizes = load_frames(trip, with_labels=True)
        images, labels = self.transform(images, labels)
        vf = self.videos[vi]
        return {"images": images, "labels": labels, "frames": [f.stem for f in trip], "sizes": sizes,
                "dataset": vf.dataset, "video": vf.video, "reversed": rev}


class VideoPlan:
    """What generation does for one video: the kept GT files and the pseudo-label jobs.

    ``jobs``: ``(left, position, right)`` frame positions; a position that falls on a kept
    label (only with irregular annotation) keeps its GT and is listed in ``on_kept``; a
    position past the last frame is an error naming the video.
    """

    def __init__(self, vf: VideoFrames, l: int, d: int, m: int):
        self.vf = vf
        self.kept = kept_labels(vf, l)
        kept = set(self.kept)
        jobs: Dict[int, Tuple[int, int, int]] = {}
        self.on_kept: List[int] = []
        for left, pos, right in pseudo_label_positions(self.kept, l, d, m):
            if pos >= len(vf.frames):
                raise DatasetError(
                    f"{vf.image_dir}: pseudo-label position {pos} (after the kept label at {left}) is past the "
                    f"last frame ({len(vf.frames) - 1}); the annotation of {vf.video!r} is not every "
                    f"{d} frames as default_label_interval says"
                )
            if pos in kept:
                self.on_kept.append(pos)
                continue
            jobs[pos] = (left, pos, right)  # the published loop wrote a position twice: the last write won
        self.jobs = sorted(jobs.values(), key=lambda job: job[1])

    def kept_files(self) -> List[Path]:
        return [self.vf.frames[k].label for k in self.kept]

    def pseudo_names(self) -> List[str]:
        """File names of the pseudo-labels, in the folder's layout."""
        return [pseudo_label_path("", "", "", self.vf.frames[pos].stem).name for _, pos, _ in self.jobs]


class PseudoLabelDataset(VideoSets):
    """Generation jobs over ``sets``: items ``images (3, 3, S, S)`` [left, middle, right],
    ``labels (2, 1, S, S)`` [left, right] (kept GT), ``frames`` [left, middle, right] stems,
    ``sizes`` long (3, 2), ``dataset``, ``video`` str.

    ``plans`` holds one :class:`VideoPlan` per video (kept files to copy, positions).
    """

    def __init__(self, data_root: PathLike, config, sets, label_interval: int, frame_between_label_num: int,
                 transform=None):
        check_label_interval(label_interval)
        super().__init__(data_root, config, sets, transform)
        specs = {spec.name: spec for spec, _ in self.sets}
        for spec in specs.values():
            check_frame_between_label_num(frame_between_label_num, label_interval, spec.default_label_interval,
                                          spec.name)
        self.plans = [VideoPlan(vf, label_interval, specs[vf.dataset].default_label_interval,
                                frame_between_label_num) for vf in self.videos]
        self.items = [(vi, job) for vi, plan in enumerate(self.plans) for job in plan.jobs]

    def __len__(self) -> int:
        return len(self.items)

    def validate(self) -> int:
        """Check every kept label and every frame generation reads (file headers only)."""
        pairs = [(plan.vf.frames[k].image, plan.vf.frames[k].label) for plan in self.plans for k in plan.kept]
        pairs += [(self.plans[vi].vf.frames[job[1]].image, None) for vi, job in self.items]
        return check_pair_sizes(pairs)

    def __getitem__(self, index: int) -> dict:
        vi, (left, pos, right) = self.items[index]
        vf = self.plans[vi].vf
        trip = (vf.frames[left], vf.frames[pos].without_label(), vf.frames[right])
        images, _, sizes = load_frames(trip, with_labels=False)
        labels = torch.stack([read_label(trip[i].label, trip[i].image, images.shape[-2:]) for i in (0, 2)])
        images, labels = self.transform(images, labels)
        return {"images": images, "labels": labels, "frames": [f.stem for f in trip], "sizes": sizes,
                "dataset": vf.dataset, "video": vf.video}
