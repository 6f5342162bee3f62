"""The frames of one video, read in the order key-frame labelling needs them, never all at once.

Frames of a folder are files (random access is free). A video file is read by two
forward-only cursors (:class:`~libs.datasets.video_files.VideoFileCursor`): one for the key
frames, one for the frames between them, both asked for frames in increasing order, so
nothing seeks backwards and the file is decoded at most twice. The last two key frames are
kept (a gap needs its left and right one, and the right one is the next gap's left one).

Legend: S = ``--size``; (H, W) = the video's frame size.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from libs.datasets import eval_transform
from libs.datasets.frames import VideoFrames
from libs.datasets.loading import header_size, read_label, read_rgb
from libs.datasets.video_files import VideoFileCursor, VideoFileFrame
from libs.metrics.saliency import prob_to_uint8

__all__ = ["KeyFrame", "VideoSource", "to_tensor"]


@dataclass
class KeyFrame:
    """A key frame ready for every method: ``image (3, S, S)`` ImageNet-normalised, ``label (1,
    S, S)`` in [0, 1] (resized bilinearly, soft), ``mask_u8 (H, W)`` its mask x 255 rounded (what
    ``copy`` writes), ``rgb (H, W, 3)`` uint8 (for overlays)."""

    pos: int
    rgb: np.ndarray
    image: torch.Tensor
    label: torch.Tensor
    mask_u8: np.ndarray


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 in [0, 1], as the datasets decode frames."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)


class VideoSource:
    """Key frames and frames to label of ``vf`` at size ``size`` (``--size``).

    ``key(pos)`` must be asked in non-decreasing order of ``pos`` over the run (the two most
    recent are cached), ``frames(positions)`` in increasing order; for frame folders any order
    works. Use as a context manager (closes the cursors).
    """

    def __init__(self, vf: VideoFrames, size: int):
        self.vf = vf
        self.transform = eval_transform(size)
        first = vf.frames[0].image if vf.frames else None
        self.video_file = first.video if isinstance(first, VideoFileFrame) else None
        self._key_cursor = VideoFileCursor(self.video_file) if self.video_file else None
        self._frame_cursor = VideoFileCursor(self.video_file) if self.video_file else None
        self._keys: "OrderedDict[int, KeyFrame]" = OrderedDict()

    def _rgb(self, cursor: Optional[VideoFileCursor], pos: int) -> np.ndarray:
        ref = self.vf.frames[pos].image
        return cursor.read(ref.index) if cursor is not None else read_rgb(ref)

    def key(self, pos: int) -> KeyFrame:
        """Key frame ``pos`` (a frame with a mask), decoded and transformed once."""
        if pos in self._keys:
            return self._keys[pos]
        ref = self.vf.frames[pos]
        if ref.label is None:
            raise ValueError(f"frame {ref.stem} of {self.vf.video!r} has no mask: not a key frame")
        rgb = self._rgb(self._key_cursor, pos)
        label = read_label(ref.label, ref.image, rgb.shape[:2])  # (1, H, W); a size mismatch names both files
        image, label_s = self.transform(to_tensor(rgb)[None], label[None])
        key = KeyFrame(pos, rgb, image[0], label_s[0], prob_to_uint8(label[0].numpy()))
        self._keys[pos] = key
        while len(self._keys) > 2:
            self._keys.popitem(last=False)
        return key

    def frames(self, positions: Sequence[int]) -> Tuple[List[np.ndarray], torch.Tensor]:
        """``(rgbs, images (B, 3, S, S))`` of the frames at ``positions`` (increasing)."""
        rgbs = [self._rgb(self._frame_cursor, p) for p in positions]
        images, _ = self.transform(torch.stack([to_tensor(rgb) for rgb in rgbs]))
        return rgbs, images

    def size(self) -> Tuple[int, int]:
        """``(H, W)`` of the video's frames (from the file headers: every frame has it)."""
        return header_size(self.vf.frames[0].image)

    def close(self) -> None:
        for cursor in (self._key_cursor, self._frame_cursor):
            if cursor is not None:
                cursor.close()
        self._keys.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
