"""Review outputs of key-frame labelling: overlays and an MP4 to scrub through.

``--overlay`` writes each frame that has a mask (key frames and generated ones) blended with
its mask (:func:`libs.pipeline.postprocess.overlay`) as ``DIR/overlays/<video>/<stem>.jpg``;
``--video`` writes the same blends, in frame order, as ``DIR/overlays/<video>.mp4`` (OpenCV's
``VideoWriter``, codec ``mp4v``), to a temporary ``.mp4`` name first and renamed when complete.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from libs.utils.errors import UserError

from ..postprocess import overlay

__all__ = ["OVERLAYS", "FPS", "overlay_name", "mp4_name", "blend", "Mp4Writer"]

OVERLAYS = "overlays"
FPS = 24.0  # frames of a folder have no rate; a video file's own rate is used for it
KEY_COLOR = (40, 220, 40)  # key frames in green: the user's masks
GENERATED_COLOR = (255, 40, 40)  # generated masks in red, postprocess.overlay's default


def overlay_name(video: str, stem: str) -> str:
    return f"{OVERLAYS}/{video}/{stem}.jpg"


def mp4_name(video: str) -> str:
    return f"{OVERLAYS}/{video}.mp4"


def blend(rgb: np.ndarray, mask_u8: np.ndarray, key: bool) -> np.ndarray:
    """The frame tinted by its mask: green for a key frame, red for a generated mask."""
    return overlay(rgb, mask_u8, color=KEY_COLOR if key else GENERATED_COLOR)


def video_fps(path: Optional[Path]) -> float:
    """The frame rate of a video file (``FPS`` when it has none, or for frame folders)."""
    if path is None:
        return FPS
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
    return fps if 1.0 <= fps <= 240.0 else FPS


class Mp4Writer:
    """Frames ``(H, W, 3)`` uint8 RGB -> ``path`` (an MP4), atomically: written under a
    temporary ``.mp4`` name in the same folder, renamed on :meth:`close`, removed on an error."""

    def __init__(self, path: Path, size_hw: Tuple[int, int], fps: float = FPS):
        import cv2

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # OpenCV picks the container from the extension: the temporary name must end in .mp4.
        self.tmp = self.path.parent / f".{self.path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp.mp4"
        h, w = size_hw
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not self.writer.isOpened():
            self._discard()
            raise UserError(f"{self.path}: OpenCV cannot write an MP4 (mp4v) here; leave out --video")
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        import cv2

        self.writer.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
        self.count += 1

    def _discard(self) -> None:
        self.writer.release()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def close(self) -> None:
        self.writer.release()
        os.replace(self.tmp, self.path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._discard()
        else:
            self.close()
        return False
