"""Resizing, normalisation and augmentation of frames together with their labels.

A transform takes a clip ``images (T, 3, H, W)`` float in [0, 1] and ``labels
(T, 1, H, W)`` in [0, 1] (or ``None``) and returns ``images (T, 3, S, S)`` ImageNet-
normalised and ``labels (T, 1, S, S)`` (soft: resized bilinearly, never thresholded). An
image dataset is a clip of T = 1.

Augmentation (image pretraining; opt-in for video training) follows the published
recipe: colour jitter (brightness, contrast, saturation and hue 0.3 each, in a random
order, torchvision ``ColorJitter`` maths; image only),
random resized crop (scale 0.7..1, ratio 3/4..4/3) to (S, S) and a flip chosen among
none / horizontal / vertical / both. Its parameters are drawn once per call, so every
frame of a clip and every label get the same geometry. Draws use ``generator`` (a
``torch.Generator``) when given, else torch's global RNG (seeded per DataLoader worker).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torchvision.transforms import functional as TF

from libs.utils.normalization import IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "normalize",
    "denormalize",
    "resize",
    "AugmentParams",
    "draw_augment_params",
    "apply_augment",
    "ClipTransform",
    "eval_transform",
    "image_train_transform",
    "video_train_transform",
]

FLIPS = ("none", "horizontal", "vertical", "both")

SizeArg = Union[None, int, Tuple[int, int]]


def _hw(size: SizeArg) -> Optional[Tuple[int, int]]:
    if size is None:
        return None
    if isinstance(size, int):
        return (size, size)
    return (int(size[0]), int(size[1]))


def resize(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``(T, C, H, W)`` to ``(T, C, *size)``; antialiased like PIL's."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True).clamp_(0.0, 1.0)


@dataclass(frozen=True)
class AugmentParams:
    """One draw of augmentation parameters, shared by every frame and label of a clip."""

    brightness: float
    contrast: float
    saturation: float
    order: Tuple[int, ...]  # order of the colour ops (0 brightness, 1 contrast, 2 saturation, 3 hue)
    crop: Tuple[int, int, int, int]  # top, left, height, width in the original frame
    flip: str  # one of FLIPS
    hue: float = 0.0  # hue shift as a fraction of the colour circle, in [-0.5, 0.5]


def _uniform(lo: float, hi: float, generator) -> float:
    return lo + (hi - lo) * torch.rand((), generator=generator).item()


def _randint(lo: int, hi: int, generator) -> int:
    """Integer in [lo, hi)."""
    return int(torch.randint(lo, hi, (), generator=generator).item())


def random_crop_box(height: int, width: int, scale, ratio, generator=None) -> Tuple[int, int, int, int]:
    """``(top, left, h, w)`` as torchvision's RandomResizedCrop draws it (10 tries, then centre)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * _uniform(scale[0], scale[1], generator)
        aspect = math.exp(_uniform(log_ratio[0], log_ratio[1], generator))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return _randint(0, height - h + 1, generator), _randint(0, width - w + 1, generator), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def draw_augment_params(
    height: int,
    width: int,
    generator: Optional[torch.Generator] = None,
    jitter: float = 0.3,
    scale: Sequence[float] = (0.7, 1.0),
    ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
    hue: float = 0.3,
) -> AugmentParams:
    """Draw colour factors in [1-jitter, 1+jitter], a hue shift in [-hue, hue], the order of
    the four colour ops, a crop box and one of four flips."""
    factors = [_uniform(max(0.0, 1 - jitter), 1 + jitter, generator) for _ in range(3)]
    shift = _uniform(-hue, hue, generator)
    order = tuple(torch.randperm(4, generator=generator).tolist())
    crop = random_crop_box(height, width, scale, ratio, generator)
    flip = FLIPS[_randint(0, len(FLIPS), generator)]
    return AugmentParams(factors[0], factors[1], factors[2], order, crop, flip, hue=shift)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` -> ``(..., 1, H, W)`` luma (ITU-R 601, as PIL's "L")."""
    return 0.299 * x[..., 0:1, :, :] + 0.587 * x[..., 1:2, :, :] + 0.114 * x[..., 2:3, :, :]


def _blend(x: torch.Tensor, other: torch.Tensor, factor: float) -> torch.Tensor:
    return (factor * x + (1.0 - factor) * other).clamp(0.0, 1.0)


def _colour(images: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    """Brightness, contrast, saturation, hue (torchvision/PIL ``ColorJitter`` maths)."""
    ops = (
        lambda x: _blend(x, torch.zeros_like(x), p.brightness),
        # contrast blends with each frame's mean gray level, as PIL's ImageEnhance does
        lambda x: _blend(x, _gray(x).mean(dim=(-3, -2, -1), keepdim=True), p.contrast),
        lambda x: _blend(x, _gray(x), p.saturation),
        lambda x: TF.adjust_hue(x, p.hue) if p.hue else x,
    )
    for i in p.order:
        images = ops[i](images)
    return images.clamp(0.0, 1.0)


def _geometry(x: torch.Tensor, p: AugmentParams, size: Optional[Tuple[int, int]]) -> torch.Tensor:
    top, left, h, w = p.crop
    x = x[..., top : top + h, left : left + w]
    x = resize(x, size or (h, w))
    if p.flip in ("horizontal", "both"):
        x = x.flip(-1)
    if p.flip in ("vertical", "both"):
        x = x.flip(-2)
    return x


def apply_augment(images: torch.Tensor, labels: Optional[torch.Tensor], params: AugmentParams, size: SizeArg):
    """Colour jitter on ``images (T, 3, H, W)``; the same crop/resize/flip on images and labels."""
    size = _hw(size)
    images = _geometry(_colour(images, params), params, size)
    labels = None if labels is None else _geometry(labels, params, size)
    return images, labels


class ClipTransform:
    """Resize to ``size`` (int S -> (S, S); ``None`` keeps the frame size), optional
    augmentation, then ImageNet normalisation.

    ``__call__(images (T, 3, H, W), labels (T, 1, H, W) or None, generator=None)``
    -> ``(images (T, 3, S, S), labels (T, 1, S, S) or None)``.
    """

    def __init__(self, size: SizeArg = None, augment: bool = False, jitter: float = 0.3,
                 scale: Sequence[float] = (0.7, 1.0), ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
                 hue: float = 0.3):
        self.size = _hw(size)
        self.augment = augment
        self.jitter, self.scale, self.ratio, self.hue = jitter, tuple(scale), tuple(ratio), hue

    def __call__(self, images: torch.Tensor, labels: Optional[torch.Tensor] = None, generator=None):
        if self.augment:
            params = draw_augment_params(images.shape[-2], images.shape[-1], generator,
                                         self.jitter, self.scale, self.ratio, self.hue)
            images, labels = apply_augment(images, labels, params, self.size)
        elif self.size is not None:
            images = resize(images, self.size)
            labels = None if labels is None else resize(labels, self.size)
        return normalize(images), labels

    def __repr__(self):
        return f"ClipTransform(size={self.size}, augment={self.augment})"


def eval_transform(size: SizeArg) -> ClipTransform:
    """Validation/inference: resize to (S, S) + normalise."""
    return ClipTransform(size)


def image_train_transform(size: SizeArg) -> ClipTransform:
    """Image pretraining: jitter, random resized crop, random flip, normalise."""
    return ClipTransform(size, augment=True)


def video_train_transform(size: SizeArg, augment: bool = False) -> ClipTransform:
    """Video training: the published recipe has no augmentation (``augment`` opts in)."""
    return ClipTransform(size, augment=augment)
