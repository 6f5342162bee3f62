"""Video datasets: clips for RCRNet+NER, single frames, and triplets for FGPLG.

All three index the same way (see :mod:`libs.datasets.frames` and
:mod:`libs.datasets.indexing`): only labelled frames take part unless ``all_frames``;
``label_interval`` (l) keeps every l-th label; a pseudo-label folder adds the
``frame_between_label_num`` (m) frames per gap. Folders and label files are checked when
the dataset is built, so a bad path fails before any work.

Legend: T = frames per clip, S = transformed size, (H, W) = a frame's original size.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch.utils.data import Dataset

from .frames import (
    UsedFrame,
    VideoFrames,
    frame_list,
    gt_label,
    list_video,
    resolve_sets,
    select_frames,
)
from .indexing import DatasetError, check_sampling_args, clip_indices, triplet_positions
from .loading import check_pair_sizes, read_pair
from .transforms import ClipTransform

__all__ = ["VideoClipDataset", "VideoFrameDataset", "TripletDataset", "load_frames"]

PathLike = Union[str, Path]


def load_frames(frames: Sequence[UsedFrame], with_labels: bool):
    """Decode ``frames`` -> ``images (T, 3, H, W)``, ``labels (T, 1, H, W)`` or None, ``sizes (T, 2)``.

    A frame listed with ``label=None`` while labels are wanted gets an all-zero label (only
    the FGPLG middle frame does that, flagged by the caller).
    """
    images, labels = [], []
    for f in frames:
        image, label = read_pair(f.image, f.label if with_labels else None)
        if images and image.shape != images[0].shape:
            raise DatasetError(
                f"{f.image}: frame size {tuple(image.shape[1:])} differs from {frames[0].image} "
                f"{tuple(images[0].shape[1:])} in the same clip"
            )
        images.append(image)
        if with_labels:
            labels.append(label if label is not None else torch.zeros_like(image[:1]))
    sizes = torch.tensor([list(im.shape[1:]) for im in images], dtype=torch.long)
    return torch.stack(images), (torch.stack(labels) if with_labels else None), sizes


class _VideoSets(Dataset):
    """Lists the videos of ``sets = [(dataset name, split), ...]`` from ``config``."""

    def __init__(self, data_root: PathLike, config, sets, transform=None):
        self.data_root = Path(data_root)
        self.sets = resolve_sets(config, sets)
        self.transform = transform if transform is not None else ClipTransform(None)
        self.videos: List[VideoFrames] = [
            list_video(data_root, spec, video) for spec, split in self.sets for video in spec.videos(split)
        ]


def _check_pseudo_folder(folder: Optional[PathLike], l: int, m: int, require_labels: bool) -> Optional[Path]:
    if folder is None:
        return None
    if not require_labels:
        raise DatasetError("--pseudo-label-folder needs labels (require_labels=True)")
    sub = Path(folder) / f"{m}_{l}"
    if not sub.is_dir():
        raise DatasetError(
            f"{sub}: pseudo-label folder for m={m} (--frame_between_label_num), l={l} (--label_interval) not found"
        )
    return Path(folder)


class VideoClipDataset(_VideoSets):
    """Clips of ``clip_len`` frames (training: overlapping by one; inference: end-aligned).

    Item: ``images (T, 3, S, S)`` normalised; ``labels (T, 1, S, S)`` in [0, 1] (only with
    ``require_labels``); ``pseudo`` bool ``(T,)`` (label read from the pseudo-label folder);
    ``dataset`` str; ``video`` str; ``frames`` list of T frame stems; ``sizes`` long
    ``(T, 2)`` original (H, W); ``reversed`` bool (played backwards, images and labels
    together). A video shorter than ``clip_len`` repeats its last frame.
    """

    def __init__(
        self,
        data_root: PathLike,
        config,
        sets,
        clip_len: int = 4,
        training: bool = True,
        label_interval: int = 1,
        frame_between_label_num: int = 0,
        pseudo_label_folder: Optional[PathLike] = None,
        random_reverse_clip: bool = False,
        transform=None,
        all_frames: bool = False,
        require_labels: bool = True,
    ):
        check_sampling_args(label_interval, frame_between_label_num, clip_len)
        pseudo = _check_pseudo_folder(pseudo_label_folder, label_interval, frame_between_label_num, require_labels)
        super().__init__(data_root, config, sets, transform)
        self.clip_len, self.training = clip_len, training
        self.random_reverse_clip = random_reverse_clip
        self.require_labels = require_labels
        self.frames: List[List[UsedFrame]] = [
            select_frames(vf, label_interval, frame_between_label_num, pseudo, all_frames, require_labels)
            for vf in self.videos
        ]
        self.clips: List[Tuple[int, List[int]]] = [
            (vi, clip) for vi, used in enumerate(self.frames) for clip in clip_indices(len(used), clip_len, training)
        ]

    def __len__(self) -> int:
        return len(self.clips)

    def clip_info(self, index: int) -> Tuple[str, str, List[str]]:
        """``(dataset, video, frame stems)`` of clip ``index`` without decoding anything."""
        vi, clip = self.clips[index]
        vf = self.videos[vi]
        return vf.dataset, vf.video, [self.frames[vi][k].stem for k in clip]

    def validate(self) -> int:
        """Check every used label's size against its frame (file headers only); returns the count."""
        return check_pair_sizes((f.image, f.label) for used in self.frames for f in used)

    def __getitem__(self, index: int) -> dict:
        vi, clip = self.clips[index]
        frames = [self.frames[vi][k] for k in clip]
        # One draw per clip: torch's RNG is seeded per DataLoader worker, so runs repeat.
        rev = bool(self.random_reverse_clip and torch.randint(2, ()).item() == 1)
        if rev:
            frames = frames[::-1]
        images, labels, sizes = load_frames(frames, self.require_labels)
        images, labels = self.transform(images, labels)
        vf = self.videos[vi]
        sample = {
            "images": images,
            "dataset": vf.dataset,
            "video": vf.video,
            "frames": [f.stem for f in frames],
            "sizes": sizes,
            "reversed": rev,
        }
        if labels is not None:
            sample["labels"] = labels
            sample["pseudo"] = torch.tensor([f.pseudo for f in frames], dtype=torch.bool)
        return sample


class VideoFrameDataset(_VideoSets):
    """Single frames, chosen by the same rules as :class:`VideoClipDataset`.

    Item: ``image (3, S, S)``; ``label (1, S, S)`` and ``pseudo`` bool (with
    ``require_labels``); ``dataset``, ``video``, ``frame`` (stem) str; ``size`` long (2,).
    """

    def __init__(
        self,
        data_root: PathLike,
        config,
        sets,
        label_interval: int = 1,
        frame_between_label_num: int = 0,
        pseudo_label_folder: Optional[PathLike] = None,
        transform=None,
        all_frames: bool = False,
        require_labels: bool = True,
    ):
        check_sampling_args(label_interval, frame_between_label_num)
        pseudo = _check_pseudo_folder(pseudo_label_folder, label_interval, frame_between_label_num, require_labels)
        super().__init__(data_root, config, sets, transform)
        self.require_labels = require_labels
        self.frames = [
            select_frames(vf, label_interval, frame_between_label_num, pseudo, all_frames, require_labels)
            for vf in self.videos
        ]
        self.items = [(vi, k) for vi, used in enumerate(self.frames) for k in range(len(used))]

    def __len__(self) -> int:
        return len(self.items)

    def validate(self) -> int:
        return check_pair_sizes((f.image, f.label) for used in self.frames for f in used)

    def __getitem__(self, index: int) -> dict:
        vi, k = self.items[index]
        f, vf = self.frames[vi][k], self.videos[vi]
        images, labels, sizes = load_frames([f], self.require_labels)
        images, labels = self.transform(images, labels)
        sample = {"image": images[0], "dataset": vf.dataset, "video": vf.video, "frame": f.stem, "size": sizes[0]}
        if labels is not None:
            sample["label"] = labels[0]
            sample["pseudo"] = f.pseudo
        return sample


class TripletDataset(_VideoSets):
    """FGPLG triplets (left = a, middle = p, right = a + l) for every kept gap and each of
    its m pseudo-label positions (:func:`~libs.datasets.indexing.triplet_positions`).

    ``require_middle_label=True`` (FGPLG training/validation) reads the middle frame's GT;
    ``False`` (pseudo-label generation) leaves it out. Left/right labels are always read.
    With ``all_frames`` the positions count every frame, not only labelled ones, so the
    middle frame may be unannotated (left and right must still have labels).
    Videos with no complete gap (at most l labelled frames) give no triplet (``skipped``).

    Item: ``images (3, 3, S, S)`` ordered [left, middle, right]; ``labels (3, 1, S, S)``
    (middle all zeros unless ``has_middle_label``); ``has_middle_label`` bool; ``frames``
    [left, middle, right] stems; ``sizes`` long (3, 2); ``dataset``, ``video`` str.
    """

    def __init__(
        self,
        data_root: PathLike,
        config,
        sets,
        label_interval: int,
        frame_between_label_num: int,
        require_middle_label: bool = True,
        transform=None,
        all_frames: bool = False,
    ):
        check_sampling_args(label_interval, frame_between_label_num)
        if frame_between_label_num < 1:
            raise DatasetError(f"--frame_between_label_num must be >= 1 for triplets, got {frame_between_label_num}")
        super().__init__(data_root, config, sets, transform)
        self.require_middle_label = require_middle_label
        self.triplets: List[Tuple[int, Tuple[UsedFrame, UsedFrame, UsedFrame]]] = []
        self.skipped: List[Tuple[str, str]] = []
        for vi, vf in enumerate(self.videos):
            refs = frame_list(vf, all_frames)
            positions = triplet_positions(len(refs), label_interval, frame_between_label_num)
            if not positions:
                self.skipped.append((vf.dataset, vf.video))
            for a, p, b in positions:
                left = UsedFrame(refs[a].stem, refs[a].image, gt_label(refs[a], vf))
                right = UsedFrame(refs[b].stem, refs[b].image, gt_label(refs[b], vf))
                mid_label = gt_label(refs[p], vf) if require_middle_label else None
                self.triplets.append((vi, (left, UsedFrame(refs[p].stem, refs[p].image, mid_label), right)))
        if not self.triplets:
            raise DatasetError(
                f"no triplets: every video has at most --label_interval={label_interval} frames "
                f"in its frame list ({len(self.videos)} videos)"
            )

    def __len__(self) -> int:
        return len(self.triplets)

    def validate(self) -> int:
        return check_pair_sizes((f.image, f.label) for _, trip in self.triplets for f in trip)

    def __getitem__(self, index: int) -> dict:
        vi, trip = self.triplets[index]
        vf = self.videos[vi]
        images, labels, sizes = load_frames(trip, with_labels=True)
        images, labels = self.transform(images, labels)
        return {
            "images": images,
            "labels": labels,
            "has_middle_label": trip[1].label is not None,
            "frames": [f.stem for f in trip],
            "sizes": sizes,
            "dataset": vf.dataset,
            "video": vf.video,
        }
