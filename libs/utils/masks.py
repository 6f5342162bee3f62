"""One decoder for every mask file the project reads: training labels, key frames, GT.

A saliency label is one value per pixel in [0, 1]. Mask files come in many forms, and each
is decoded by what it means, not by its luminance (PIL's ``convert('L')``, which the
published code used, turns the DAVIS-2017 palette's objects 1, 2, 3 into 0.149, 0.294,
0.443, so evaluation saw no foreground in them at all):

=========================  ================================================================
file                       value of a pixel
=========================  ================================================================
8-bit grayscale (``L``)    the published rule: the values as they are when the mask's
                           maximum is <= 1 (0/1 masks), else value / 255 (soft maps kept)
1-bit (``1``)              0 or 1
palette (``P``, ``PA``)    1 for every non-zero index, 0 for index 0, whatever the palette's
                           colours: single- and multi-object masks alike
RGB / RGBA, gray           channels equal (within 2 of 255, for masks that went through
                           JPEG): the grayscale rule on their mean
RGB / RGBA, coloured       channels differ somewhere (coloured object ids): 1 for every
                           non-black pixel
RGBA / LA, transparency    alpha is ignored, unless the colour channels are all zero and the
                           alpha is not (a mask saved as transparency): then the grayscale
                           rule on the alpha
16-bit (``I;16``, ``I``)   value / 65535 (scaled by the bit depth)
32-bit float (``F``)       the grayscale rule, clipped to [0, 1]
=========================  ================================================================

Other modes (CMYK, YCbCr, ...) are converted to RGB first. Saliency *predictions* are maps,
not masks: :func:`map_to_uint8` reads them as 8-bit gray, so that a nearly black prediction
(max 1 of 255) is never taken for a 0/1 mask.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["GRAY_TOLERANCE", "decode_mask", "mask_kind", "mask_object_count", "map_to_uint8"]

# JPEG stores a gray mask as YCbCr: decoded, its R, G, B differ by a unit or two.
GRAY_TOLERANCE = 2
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _gray_rule(values: np.ndarray) -> np.ndarray:
    """The published rule: used as they are when the maximum is <= 1, else divided by 255."""
    values = values.astype(np.float32, copy=False)
    if values.size and values.max() > 1:
        values = values / np.float32(255.0)
    return values


def _colour_and_alpha(img: Image.Image):
    """``(colour (H, W, C) uint8, alpha (H, W) uint8 or None)`` of an L/LA/RGB/RGBA image."""
    arr = np.asarray(img)
    if img.mode in ("LA", "RGBA"):
        return arr[..., :-1], arr[..., -1]
    if arr.ndim == 2:
        arr = arr[..., None]
    return arr[..., :3], None


def _classify(img: Image.Image):
    """``(kind, pixels)``: the row of the table ``img`` falls in, and its pixels as decoding
    them needs (one array for the single-channel kinds, ``(colour, alpha)`` for the colour
    ones), so that a mask's pixels are read once."""
    mode = img.mode
    if mode == "1":
        return "1-bit", np.asarray(img, dtype=np.float32)
    if mode in ("P", "PA"):
        index = np.asarray(img)
        return "palette", index[..., 0] if index.ndim == 3 else index  # PA: (index, alpha)
    if mode in _SIXTEEN_BIT:
        return "16-bit", np.asarray(img, dtype=np.float32)
    if mode == "F":
        return "float", np.nan_to_num(np.asarray(img, dtype=np.float32))
    if mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGB")
    colour, alpha = _colour_and_alpha(img)
    if alpha is not None and not colour.any() and alpha.any():
        return "alpha", (colour, alpha)
    if colour.shape[-1] == 1:
        return "gray", (colour, alpha)
    c = colour.astype(np.int16)
    spread = max(np.abs(c[..., 0] - c[..., 1]).max(initial=0), np.abs(c[..., 1] - c[..., 2]).max(initial=0))
    return ("rgb-gray" if spread <= GRAY_TOLERANCE else "rgb-coloured"), (colour, alpha)


def mask_kind(img: Image.Image) -> str:
    """Which row of the table ``img`` falls in: 'gray', '1-bit', 'palette', 'rgb-gray',
    'rgb-coloured', 'alpha', '16-bit' or 'float'."""
    return _classify(img)[0]


def _decode(kind: str, pixels) -> np.ndarray:
    if kind == "1-bit":
        return pixels
    if kind == "palette":
        return (pixels != 0).astype(np.float32)
    if kind == "16-bit":
        return np.clip(pixels / np.float32(65535.0), 0.0, 1.0)
    if kind == "float":
        return np.clip(_gray_rule(pixels), 0.0, 1.0)
    colour, alpha = pixels
    if kind == "alpha":
        return _gray_rule(alpha)
    if kind == "rgb-coloured":
        return colour.any(axis=-1).astype(np.float32)
    gray = colour[..., 0] if colour.shape[-1] == 1 else np.rint(colour.mean(axis=-1, dtype=np.float32))
    return _gray_rule(gray)


def decode_mask(img: Image.Image) -> np.ndarray:
    """A decoded PIL image -> float32 ``(H, W)`` in [0, 1], by the table of this module."""
    return _decode(*_classify(img))


def mask_object_count(img: Image.Image) -> int:
    """How many distinct objects a mask labels: non-zero palette indices, or non-black
    colours of a coloured RGB mask; 1 for a gray mask with any foreground, else 0."""
    kind, pixels = _classify(img)
    if kind == "palette":
        return int(np.count_nonzero(np.unique(pixels)))
    if kind == "rgb-coloured":
        colour = pixels[0]
        colours = np.unique(colour.reshape(-1, colour.shape[-1]), axis=0)
        return int(np.count_nonzero(colours.any(axis=-1)))
    return int(_decode(kind, pixels).max(initial=0.0) > 0)


def map_to_uint8(img: Image.Image) -> np.ndarray:
    """A saliency *map* (prediction) -> uint8 ``(H, W)``: 8-bit gray as it is, 16-bit scaled
    to 0..255, colour through PIL's luminance. No 0/1-mask rule: a map is never a mask."""
    if img.mode in _SIXTEEN_BIT:
        return np.rint(np.asarray(img, dtype=np.float32) / np.float32(257.0)).clip(0, 255).astype(np.uint8)
    if img.mode == "F":
        return np.rint(np.clip(np.asarray(img, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    if img.mode != "L":
        img = img.convert("L")
    return np.asarray(img, dtype=np.uint8)
