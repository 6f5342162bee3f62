"""Video datasets for RCRNet+NER: clips (training, validation, inference) and single frames.

Which frames take part (see :mod:`libs.datasets.frames`): the labelled ones, every label
file of the video (``train.py`` uses all the GT, as published), or, with ``label_folder``
(``train.py --pseudo-label-folder <root>/<m>_<l>``), exactly the label files of that
folder, the dataset's GT never being read. ``all_frames`` (inference without labels)
uses every frame. Folders and label lists are checked when the dataset is built, so a bad
path fails before any work. Instead of a config, ``videos=`` takes videos already listed
(a user's own, :func:`libs.datasets.user_videos.list_user_videos`): the same rules apply to
their labelled frames.

Legend: T = frames per clip, S = transformed size, (H, W) = a frame's original size.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch.utils.data import Dataset

from .frames import FrameRef, VideoFrames, label_list, list_video, resolve_sets
from .indexing import DatasetError, check_clip_len, clip_indices
from .loading import check_pair_sizes, read_pair
from .pseudo_label_folder import PSEUDO_EXT, check_training_folder, video_label_folder
from .transforms import ClipTransform

__all__ = ["VideoClipDataset", "VideoFrameDataset", "VideoSets", "load_frames"]

PathLike = Union[str, Path]


def load_frames(frames: Sequence[FrameRef], with_labels: bool):
    """Decode ``frames`` -> ``images (T, 3, H, W)``, ``labels (T, 1, H, W)`` or None, ``sizes (T, 2)``."""
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
            if label is None:
                raise DatasetError(f"{f.image}: no label for this frame")
            labels.append(label)
    sizes = torch.tensor([list(im.shape[1:]) for im in images], dtype=torch.long)
    return torch.stack(images), (torch.stack(labels) if with_labels else None), sizes


class VideoSets(Dataset):
    """Lists the videos of ``sets = [(dataset name, split), ...]`` from ``config``, or takes
    ``videos`` already listed (then ``data_root``, ``config`` and ``sets`` are not used).

    ``label_folder`` replaces every dataset's GT folder by ``<label_folder>/<DATASET>/<video>``
    (a pseudo-label folder); ``need_labels=False`` does not even list labels.
    """

    def __init__(self, data_root: Optional[PathLike] = None, config=None, sets=None, transform=None,
                 label_folder: Optional[PathLike] = None, need_labels: bool = True, *,
                 videos: Optional[Sequence[VideoFrames]] = None):
        self.transform = transform if transform is not None else ClipTransform(None)
        self.manifest = None
        if videos is not None:
            self._take_videos(videos, data_root, config, sets, label_folder)
            return
        if data_root is None or config is None or sets is None:
            raise DatasetError("a video dataset needs data_root, config and sets, or videos=")
        self.data_root = Path(data_root)
        self.sets = resolve_sets(config, sets)
        self.label_folder = None if label_folder is None else Path(label_folder)
        if self.label_folder is not None:
            self.manifest = check_training_folder(self.label_folder, [spec for spec, _ in self.sets])
        self.videos: List[VideoFrames] = []
        for spec, split in self.sets:
            for video in spec.videos(split):
                if self.label_folder is None:
                    self.videos.append(list_video(data_root, spec, video, need_labels=need_labels))
                else:
                    folder = video_label_folder(self.label_folder, spec.name, video)
                    self.videos.append(list_video(data_root, spec, video, label_dir=folder,
                                                  label_exts=(spec.label_ext, PSEUDO_EXT)))

    def _take_videos(self, videos, data_root, config, sets, label_folder) -> None:
        if data_root is not None or config is not None or sets is not None or label_folder is not None:
            raise DatasetError("videos= replaces data_root, config, sets and label_folder: give one or the other")
        self.videos = list(videos)
        if not self.videos:
            raise DatasetError("no videos given (videos= is empty)")
        self.data_root, self.sets, self.label_folder = None, [], None


def _used_frames(vf: VideoFrames, all_frames: bool, require_labels: bool) -> List[FrameRef]:
    """Every frame, or the labelled ones; their labels only when they are to be read."""
    refs = list(vf.frames) if all_frames else [vf.frames[k] for k in label_list(vf)]
    if not require_labels:
        return [f.without_label() for f in refs]
    missing = next((f for f in refs if f.label is None), None)
    if missing is not None:
        raise DatasetError(f"{missing.image}: this frame has no label in {vf.label_dir} "
                           f"(every frame is used with its label)")
    return refs


class VideoClipDataset(VideoSets):
    """Clips of ``clip_len`` frames (training: overlapping by one; inference: end-aligned).

    Item: ``images (T, 3, S, S)`` normalised; ``labels (T, 1, S, S)`` in [0, 1] (only with
    ``require_labels``); ``dataset`` str; ``video`` str; ``frames`` list of T frame stems;
    ``sizes`` long ``(T, 2)`` original (H, W); ``reversed`` bool (played backwards, images
    and labels together). A video shorter than ``clip_len`` repeats its last frame.
    """

    def __init__(
        self,
        data_root: Optional[PathLike] = None,
        config=None,
        sets=None,
        clip_len: int = 4,
        training: bool = True,
        label_folder: Optional[PathLike] = None,
        random_reverse_clip: bool = False,
        transform=None,
        all_frames: bool = False,
        require_labels: bool = True,
        *,
        videos: Optional[Sequence[VideoFrames]] = None,
    ):
        check_clip_len(clip_len)
        if label_folder is not None and not require_labels:
            raise DatasetError("a pseudo-label folder needs labels (require_labels=True)")
        super().__init__(data_root, config, sets, transform, label_folder,
                         need_labels=require_labels or not all_frames, videos=videos)
        self.clip_len, self.training = clip_len, training
        self.random_reverse_clip = random_reverse_clip
        self.require_labels = require_labels
        self.frames: List[List[FrameRef]] = [_used_frames(vf, all_frames, require_labels) for vf in self.videos]
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
        return sample


class VideoFrameDataset(VideoSets):
    """Single frames, chosen by the same rules as :class:`VideoClipDataset`.

    Item: ``image (3, S, S)``; ``label (1, S, S)`` (with ``require_labels``); ``dataset``,
    ``video``, ``frame`` (stem) str; ``size`` long (2,).
    """

    def __init__(self, data_root: Optional[PathLike] = None, config=None, sets=None,
                 label_folder: Optional[PathLike] = None, transform=None, all_frames: bool = False,
                 require_labels: bool = True, *, videos: Optional[Sequence[VideoFrames]] = None):
        super().__init__(data_root, config, sets, transform, label_folder, need_labels=require_labels or not all_frames,
                         videos=videos)
        self.require_labels = require_labels
        self.frames = [_used_frames(vf, all_frames, require_labels) for vf in self.videos]
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
        return sample
