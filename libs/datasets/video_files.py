"""Frames of a video file (decoded with OpenCV), addressable one by one like frame files.

A :class:`VideoFileFrame` stands where a frame's path stands in a
:class:`~libs.datasets.frames.FrameRef`, so the datasets read frames of ``.mp4`` files and
of folders alike (:func:`libs.datasets.loading.read_image`). Its stem is the zero-padded
frame index that ``inference.py --input`` writes (``00012``).

Decoding keeps one ``cv2.VideoCapture`` per video file and process, and reads on from the
last frame when the next one is asked for (the common case: clips and generation go
forward), seeking only otherwise; a seek that does not land where asked is corrected by
reading from the start.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Tuple

import numpy as np

from .indexing import DatasetError

__all__ = ["VideoFileFrame", "frame_stem", "probe_video_file", "read_video_frame", "iter_video_file",
           "VideoFileCursor"]

_MAX_OPEN = 4  # captures kept open per process (a DataLoader worker reads a few videos at a time)


def frame_stem(index: int) -> str:
    """The stem of frame ``index`` of a video file: ``00012``, as ``inference.py --input`` names it."""
    return f"{index:05d}"


@dataclass(frozen=True)
class VideoFileFrame:
    """Frame ``index`` of the video file ``video``, whose frames are ``size`` = (H, W)."""

    video: Path
    index: int
    size: Tuple[int, int]

    @property
    def stem(self) -> str:
        return frame_stem(self.index)

    @property
    def name(self) -> str:
        return self.stem

    def __str__(self) -> str:  # error messages name the file and the frame
        return f"{self.video} [frame {self.stem}]"


def _open(path: Path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise DatasetError(f"{path}: OpenCV cannot decode this video file")
    return cap


def probe_video_file(path) -> Tuple[int, Tuple[int, int]]:
    """``(frame count, (H, W))`` of a video file, by decoding it through once (a container's
    own count is an estimate); a clear error when OpenCV cannot decode it."""
    path = Path(path)
    cap = _open(path)
    try:
        ok, bgr = cap.read()
        if not ok:
            raise DatasetError(f"{path}: OpenCV cannot decode this video file")
        count, size = 1, tuple(bgr.shape[:2])
        while cap.grab():
            count += 1
    finally:
        cap.release()
    return count, size


def iter_video_file(path) -> Iterator[Tuple[int, np.ndarray]]:
    """``(index, rgb (H, W, 3) uint8)`` of every frame, in order."""
    import cv2

    cap = _open(Path(path))
    try:
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()


_readers: "OrderedDict[Path, _Reader]" = OrderedDict()
_readers_pid = os.getpid()
_lock = threading.Lock()


def read_video_frame(ref: VideoFileFrame) -> np.ndarray:
    """``rgb (H, W, 3)`` uint8 of one frame of a video file."""
    global _readers_pid
    with _lock:
        if _readers_pid != os.getpid():  # a forked DataLoader worker: never share the parent's decoders
            _readers.clear()
            _readers_pid = os.getpid()
        reader = _readers.pop(ref.video, None) or _Reader(ref.video)
        _readers[ref.video] = reader  # most recently used last
        while len(_readers) > _MAX_OPEN:
            _readers.popitem(last=False)[1].close()
        return reader.read(ref.index)


class VideoFileCursor:
    """Forward-only reading of one video file: ``read(index)`` decodes on from the last frame
    read and never seeks, so reading frames in increasing order decodes the file once. Asking
    for an earlier frame than the last one read is a bug of the caller (``ValueError``).

    Generation keeps two per video (one for the key frames ahead, one for the frames between
    them). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.cap = None
        self.next = 0  # index of the frame the next cap.read() returns

    def read(self, index: int) -> np.ndarray:
        """``rgb (H, W, 3)`` uint8 of frame ``index`` (>= the last index read)."""
        import cv2

        if index < self.next:
            raise ValueError(f"VideoFileCursor({self.path}): frame {index} asked after frame {self.next - 1}; "
                             f"a cursor only reads forward")
        if self.cap is None:
            self.cap = _open(self.path)
        while self.next < index:
            if not self.cap.grab():
                break
            self.next += 1
        ok, bgr = self.cap.read() if self.next == index else (False, None)
        if not ok:
            raise DatasetError(f"{self.path}: OpenCV cannot decode frame {frame_stem(index)} of this video file")
        self.next = index + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class _Reader(VideoFileCursor):
    """A cursor that may also go back (or far ahead): by a seek when OpenCV lands exactly where
    asked, else by reading on from the start. For the datasets' random access."""

    def read(self, index: int) -> np.ndarray:
        import cv2

        if self.cap is not None and (index < self.next or index > self.next + 64):
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self.next = int(self.cap.get(cv2.CAP_PROP_POS_FRAMES))
            if self.next != index:  # an inexact seek: read forward from the start instead
                self.close()
                self.next = 0
        return super().read(index)
