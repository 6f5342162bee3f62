"""Streaming key-frame labelling of one video: the frames of each gap in batches, in frame order.

:func:`label_video` walks a video once, in frame order: each gap's frames (its jobs, see
:mod:`libs.datasets.keyframes`) go through every labeller ``batch_size`` frames at a time
with the gap's two key frames repeated, and each frame's maps are handed back as soon as they
exist; key frames are handed back in their place too when asked (overlays show them). Only a
batch of frames and two key frames are held at once, whatever the video's length.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from libs.datasets.keyframes import Job, segments

from .source import KeyFrame, VideoSource

__all__ = ["Labelled", "label_video", "timeline"]


@dataclass
class Labelled:
    """Frame ``pos`` of ``job``, labelled: ``maps`` = ``{method: uint8 (H, W)}``; ``rgb`` its
    pixels ``(H, W, 3)`` when the frames were read."""

    pos: int
    job: Job
    maps: Dict[str, np.ndarray] = field(default_factory=dict)
    rgb: Optional[np.ndarray] = None


Step = Union[Tuple[str, int], Tuple[str, Tuple[int, int, List[int]]]]


def timeline(keys: Sequence[int], jobs: Sequence[Job], with_keys: bool) -> List[Step]:
    """The order a video is walked in: ``("key", pos)`` and ``("gap", (left, right,
    positions))`` steps sorted by frame position (a gap by its first frame), so key frames are
    needed in non-decreasing order and frames in increasing order.

    >>> timeline([2, 5], [(2, 0, 2), (2, 1, 2), (2, 3, 5), (5, 6, 5)], True)
    [('gap', (2, 2, [0, 1])), ('key', 2), ('gap', (2, 5, [3])), ('key', 5), ('gap', (5, 5, [6]))]
    """
    steps: List[Tuple[int, Step]] = [(seg[2][0], ("gap", seg)) for seg in segments(jobs)]
    if with_keys:
        steps += [(k, ("key", k)) for k in keys]
    return [step for _, step in sorted(steps, key=lambda s: s[0])]


def _batches(positions: List[int], size: int) -> Iterator[List[int]]:
    for i in range(0, len(positions), size):
        yield positions[i : i + size]


def label_video(source: VideoSource, keys: Sequence[int], jobs: Sequence[Job], labellers: Dict[str, object],
                batch_size: int, with_keys: bool = False, keep_rgb: bool = False
                ) -> Iterator[Union[Labelled, KeyFrame]]:
    """Label the ``jobs`` of ``source``'s video with every labeller; yields, in frame order, a
    :class:`Labelled` per job and (``with_keys``) the :class:`KeyFrame` of every key frame.

    Frames are read only when a labeller needs them or ``keep_rgb`` (overlays) asks for them.
    """
    needs_frames = keep_rgb or any(getattr(lab, "needs_frames", True) for lab in labellers.values())
    size = source.size()
    for kind, what in timeline(keys, jobs, with_keys):
        if kind == "key":
            yield source.key(what)
            continue
        left_pos, right_pos, positions = what
        left, right = source.key(left_pos), source.key(right_pos)
        for batch in _batches(positions, batch_size):
            rgbs, images = source.frames(batch) if needs_frames else ([None] * len(batch), None)
            sizes = [size] * len(batch)
            maps = {name: lab(images, sizes, batch, left, right) for name, lab in labellers.items()}
            for i, pos in enumerate(batch):
                yield Labelled(pos, (left_pos, pos, right_pos), {name: m[i] for name, m in maps.items()},
                               rgbs[i] if keep_rgb else None)
