"""Decoding frames and labels into tensors, with size checks that name both files.

Shapes: an image is ``(3, H, W)`` float32 in [0, 1]; a label ``(1, H, W)`` float32 in
[0, 1] (soft values kept). A frame is a file path or a
:class:`~libs.datasets.video_files.VideoFileFrame` (a frame of a video file); labels are files,
decoded by the project's one mask decoder (:func:`libs.utils.io.load_mask`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image

from libs.utils.io import ImageReadError, check_not_empty, load_mask, load_rgb

from .indexing import DatasetError
from .video_files import VideoFileFrame, read_video_frame

__all__ = ["header_size", "read_rgb", "read_image", "read_label", "read_pair", "check_pair_sizes"]

PathLike = Union[str, Path]


def header_size(path: Union[PathLike, VideoFileFrame]) -> Tuple[int, int]:
    """``(H, W)`` from the file header only (no decoding: cheap for up-front checks)."""
    if isinstance(path, VideoFileFrame):
        return path.size
    path = Path(path)
    check_not_empty(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"{path}: unreadable image header ({e})") from None
    return h, w


def _size_error(image: PathLike, label: PathLike, image_hw, label_hw) -> DatasetError:
    return DatasetError(
        f"{label}: label size {label_hw[0]}x{label_hw[1]} (HxW) differs from its frame "
        f"{image} ({image_hw[0]}x{image_hw[1]})"
    )


def read_rgb(path: Union[PathLike, VideoFileFrame]) -> np.ndarray:
    """A frame (file or frame of a video file) as ``(H, W, 3)`` uint8, writable."""
    if isinstance(path, VideoFileFrame):
        return read_video_frame(path)
    return np.array(load_rgb(path), dtype=np.uint8)


def read_image(path: Union[PathLike, VideoFileFrame]) -> torch.Tensor:
    """A frame as ``(3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(read_rgb(path)).permute(2, 0, 1).float().div_(255.0)


def read_label(label_path: PathLike, image_path: PathLike, image_hw: Tuple[int, int]) -> torch.Tensor:
    """Label ``(1, H, W)`` in [0, 1] of the frame ``image_path`` of size ``image_hw``."""
    label = load_mask(label_path)
    if label.shape != tuple(image_hw):
        raise _size_error(image_path, label_path, tuple(image_hw), label.shape)
    return torch.from_numpy(np.ascontiguousarray(label, dtype=np.float32))[None]


def read_pair(image_path: PathLike, label_path: Optional[PathLike]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """``(image (3, H, W), label (1, H, W) or None)``; a size mismatch names both files."""
    image = read_image(image_path)
    if label_path is None:
        return image, None
    return image, read_label(label_path, image_path, tuple(image.shape[1:]))


def check_pair_sizes(pairs: Iterable[Tuple[PathLike, Optional[PathLike]]]) -> int:
    """Check every ``(image, label)`` pair from file headers; returns how many were checked."""
    count = 0
    for image_path, label_path in pairs:
        image_hw = header_size(image_path)
        if label_path is not None:
            label_hw = header_size(label_path)
            if label_hw != image_hw:
                raise _size_error(image_path, label_path, image_hw, label_hw)
        count += 1
    return count
