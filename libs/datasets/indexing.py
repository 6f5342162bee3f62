"""Which frames of a video are used, and how they are grouped: pure index rules.

Every function here works on *positions* in a video's frame list: the list of its
labelled frames (the published rule) or, with ``all_frames``, the list of all its frames.
``n`` is the length of that list. The datasets, the pseudo-label generator and the tests
share these functions so that they agree on which frame gets which label.

Legend: ``l`` = ``--label_interval`` (keep every l-th label), ``m`` =
``--frame_between_label_num`` (pseudo-labelled frames per gap between two kept labels).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

__all__ = [
    "DatasetError",
    "check_sampling_args",
    "kept_label_positions",
    "label_gaps",
    "pseudo_label_positions",
    "triplet_positions",
    "used_positions",
    "clip_indices",
    "positions_to_clips",
]


class DatasetError(ValueError):
    """A dataset that cannot be used as asked: missing folders/files or bad arguments."""


def _check_int(value, flag: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DatasetError(f"{flag} must be an integer >= {minimum}, got {value!r}")
    return value


def check_sampling_args(label_interval: int = 1, frame_between_label_num: int = 0, clip_len: int = 1) -> None:
    """Raise a one-line :class:`DatasetError` naming the command-line flag that is wrong.

    Requires ``l >= 1``, ``clip_len >= 1`` and ``0 <= m <= l - 1`` (there are only
    ``l - 1`` frames strictly between two kept labels).
    """
    _check_int(label_interval, "--label_interval", 1)
    _check_int(clip_len, "--clip_len", 1)
    _check_int(frame_between_label_num, "--frame_between_label_num", 0)
    if frame_between_label_num > label_interval - 1:
        raise DatasetError(
            f"--frame_between_label_num must be <= --label_interval - 1 = {label_interval - 1} "
            f"(frames strictly between two kept labels), got {frame_between_label_num}"
        )


def kept_label_positions(n: int, l: int) -> List[int]:
    """Positions whose ground truth is kept: 0, l, 2l, ... below ``n``."""
    check_sampling_args(label_interval=l)
    return list(range(0, n, l))


def label_gaps(n: int, l: int) -> List[Tuple[int, int]]:
    """Consecutive kept positions ``(a, a + l)``; frames after the last kept label form no gap."""
    kept = kept_label_positions(n, l)
    return list(zip(kept[:-1], kept[1:]))


def _middles(a: int, l: int, m: int) -> List[int]:
    # (k*l)//(m+1) spreads the m frames evenly; m <= l-1 keeps them distinct and strictly
    # inside (a, a+l).
    return [a + (k * l) // (m + 1) for k in range(1, m + 1)]


def pseudo_label_positions(n: int, l: int, m: int) -> List[int]:
    """Positions that get a pseudo-label: ``a + k*l//(m+1)``, k = 1..m, for every gap (a, a+l).

    >>> pseudo_label_positions(11, 5, 1)
    [2, 7]
    """
    check_sampling_args(label_interval=l, frame_between_label_num=m)
    return [p for a, _ in label_gaps(n, l) for p in _middles(a, l, m)]


def triplet_positions(n: int, l: int, m: int) -> List[Tuple[int, int, int]]:
    """FGPLG triplets ``(left, middle, right)``: one per pseudo-labelled position."""
    check_sampling_args(label_interval=l, frame_between_label_num=m)
    return [(a, p, b) for a, b in label_gaps(n, l) for p in _middles(a, l, m)]


def used_positions(n: int, l: int, m: int = 0, with_pseudo: bool = False) -> List[int]:
    """Sorted positions a dataset uses: the kept labels, plus the pseudo-labelled ones."""
    positions = set(kept_label_positions(n, l))
    if with_pseudo:
        positions.update(pseudo_label_positions(n, l, m))
    return sorted(positions)


def clip_indices(n: int, clip_len: int, training: bool) -> List[List[int]]:
    """Group ``n`` frames (indices 0..n-1) into clips of ``clip_len``.

    Training clips overlap by one frame (starts 0, clip_len-1, ...), plus one clip aligned
    to the end when the last frame is not yet covered; clip_len 1 gives every frame once.
    Inference clips do not overlap (starts 0, clip_len, ...) and the last one is aligned to
    the end, so it may overlap the one before. A video shorter than ``clip_len`` gives one
    clip that repeats its last frame. E.g. n=17, clip_len=4: training starts
    0,3,6,9,12,13; inference starts 0,4,8,12,13.
    """
    _check_int(clip_len, "--clip_len", 1)
    if n <= 0:
        return []
    if n <= clip_len:
        return [list(range(n)) + [n - 1] * (clip_len - n)]
    step = max(clip_len - 1, 1) if training else clip_len
    starts = list(range(0, n - clip_len + 1, step))
    if starts[-1] + clip_len < n:
        starts.append(n - clip_len)
    return [list(range(s, s + clip_len)) for s in starts]


def positions_to_clips(positions: Sequence[int], clip_len: int, training: bool) -> List[List[int]]:
    """:func:`clip_indices` over a list of used positions, returning positions."""
    return [[positions[i] for i in clip] for clip in clip_indices(len(positions), clip_len, training)]
