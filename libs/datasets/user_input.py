"""A user's own video: a folder of frames or a video file (decoded with OpenCV), streamed.

Frames are yielded in order as ``(stem, rgb)`` with ``rgb`` a ``(H, W, 3)`` uint8 array, so
a long video is never held in memory at once.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Iterator, List, Tuple, Union

import numpy as np

from libs.utils.io import load_rgb
from libs.utils.natural_sort import natural_sorted

from .indexing import DatasetError
from .video_files import frame_stem, iter_video_file

__all__ = ["IMAGE_EXTS", "VIDEO_EXTS", "image_files", "open_user_input", "stream_clips"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")

Frame = Tuple[str, np.ndarray]


def _folder_frames(folder: Path, files: List[Path]) -> Iterator[Frame]:
    for f in files:
        yield f.stem, np.array(load_rgb(f), dtype=np.uint8)  # a writable copy, as torch.from_numpy wants


def _video_frames(path: Path) -> Iterator[Frame]:
    for index, rgb in iter_video_file(path):
        yield frame_stem(index), rgb


def image_files(folder: Path) -> List[Path]:
    """The image files of ``folder`` (frames or masks) in natural order, hidden ones (``.*``) left out."""
    return natural_sorted(p for p in folder.iterdir()
                          if p.suffix.lower() in IMAGE_EXTS and p.is_file() and not p.name.startswith("."))


def open_user_input(path: Union[str, Path]) -> Tuple[str, Iterator[Frame], int]:
    """``(name, frames, count)`` for ``--input``: a folder of images or a video file.

    ``count`` is the number of frames (OpenCV's estimate for a video file).
    """
    import cv2

    path = Path(path)
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise DatasetError(f"{path}: no image files ({', '.join(IMAGE_EXTS)}) in this --input folder")
        return path.name, _folder_frames(path, files), len(files)
    if not path.is_file():
        raise DatasetError(f"{path}: --input is neither a folder of frames nor a video file")
    if path.suffix.lower() not in VIDEO_EXTS:
        raise DatasetError(f"{path}: --input file is not a video ({', '.join(VIDEO_EXTS)}) nor a folder")
    cap = cv2.VideoCapture(str(path))
    ok, _ = cap.read()
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    cap.release()
    if not ok:
        raise DatasetError(f"{path}: OpenCV cannot decode this video file")
    return path.stem, _video_frames(path), count


def stream_clips(frames: Iterator[Frame], clip_len: int) -> Iterator[List[Frame]]:
    """Inference clips over a stream: non-overlapping, the last one aligned to the end.

    The same rule as :func:`libs.datasets.indexing.clip_indices` with ``training=False``
    (a stream shorter than ``clip_len`` repeats its last frame), without knowing the
    length in advance.
    """
    if clip_len < 1:
        raise DatasetError(f"--clip_len must be an integer >= 1, got {clip_len!r}")
    recent: deque = deque(maxlen=clip_len)
    pending: List[Frame] = []
    seen = 0
    for frame in frames:
        pending.append(frame)
        recent.append(frame)
        seen += 1
        if len(pending) == clip_len:
            yield pending
            pending = []
    if pending:
        if seen >= clip_len:
            yield list(recent)
        else:
            yield pending + [pending[-1]] * (clip_len - len(pending))
