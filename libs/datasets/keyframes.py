"""Key frames at any spacing: which frames get a label, from which key frames. Pure index rules.

A user labels a few frames of a video, where the content changes (frames 0, 7, 9, 30, 52):
the *key frames*, given as positions (indices into the video's frames, in natural order).
``generate_pseudo_labels.py --input`` labels the frames between them, and ``--holdout``
hides some of them to score what would have been written. A *job* is ``(left, position,
right)``: the frame at ``position`` is labelled from the key frames at ``left`` and ``right``
(``left == right`` when extrapolated from one key frame).

- Every frame strictly between two consecutive key frames ``a < b`` is labelled from ``(a,
  b)``; adjacent key frames (``b = a + 1``) leave nothing to label.
- ``--frame_between_label_num M``: only ``a + j * ((b - a) // (M + 1))``, j = 1..M, the
  published positions :func:`~libs.datasets.indexing.pseudo_label_positions` when the key
  frames are regularly spaced; a gap too small for M (step 0) has every interior frame
  labelled.
- ``--extrapolate``: the frames before the first key frame and after the last one are
  labelled from that one key frame on both sides (M does not thin them: they are no gap).
- ``--holdout K``: the key frames are numbered 0..n-1 in frame order and those whose number
  is a multiple of K are hidden, never the first or the last; each hidden frame is labelled
  from the nearest remaining key frames on both sides.
- The baselines ``copy`` and ``warp`` use the nearer of ``(left, right)``, the left one on a tie.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from .indexing import DatasetError

__all__ = ["Job", "check_key_frames", "gap_positions", "label_jobs", "nearer_key", "holdout_split",
           "holdout_jobs", "segments"]

Job = Tuple[int, int, int]  # (left key frame, labelled frame, right key frame), positions


def check_key_frames(keys: Sequence[int], n_frames: int) -> List[int]:
    """``keys`` as a list, checked: strictly increasing positions of frames ``0..n_frames-1``."""
    keys = list(keys)
    if any(not 0 <= k < n_frames for k in keys) or any(b <= a for a, b in zip(keys, keys[1:])):
        raise DatasetError(f"key frames must be increasing positions in 0..{n_frames - 1}, got {keys}")
    return keys


def gap_positions(a: int, b: int, m: Optional[int] = None) -> List[int]:
    """The frames labelled between key frames ``a < b``: all of ``a+1..b-1`` when ``m`` is None
    (or when the gap is too small for ``m``: ``(b - a) // (m + 1) == 0``), else the ``m``
    positions ``a + j * ((b - a) // (m + 1))``, j = 1..m.

    >>> gap_positions(0, 4), gap_positions(0, 10, 1), gap_positions(0, 10, 3), gap_positions(11, 12)
    ([1, 2, 3], [5], [2, 4, 6], [])
    >>> gap_positions(3, 6, 4)  # step 0: every interior frame, once
    [4, 5]
    """
    if b <= a:
        raise ValueError(f"gap_positions: need a < b, got ({a}, {b})")
    if m is not None and m < 0:
        raise DatasetError(f"--frame_between_label_num must be an integer >= 0, got {m}")
    step = 0 if m is None else (b - a) // (m + 1)
    if step == 0:
        return list(range(a + 1, b))
    return [a + j * step for j in range(1, m + 1)]  # a + m * step < b: no key frame is hit


def label_jobs(keys: Sequence[int], n_frames: int, m: Optional[int] = None, extrapolate: bool = False) -> List[Job]:
    """Every ``(left, position, right)`` job of a video with key frames at ``keys``, by position.

    >>> label_jobs([0, 3, 4, 6], 8, extrapolate=True)
    [(0, 1, 3), (0, 2, 3), (4, 5, 6), (6, 7, 6)]
    """
    keys = check_key_frames(keys, n_frames)
    if not keys:
        return []
    jobs: List[Job] = []
    if extrapolate:
        jobs += [(keys[0], p, keys[0]) for p in range(keys[0])]
    for a, b in zip(keys, keys[1:]):
        jobs += [(a, p, b) for p in gap_positions(a, b, m)]
    if extrapolate:
        jobs += [(keys[-1], p, keys[-1]) for p in range(keys[-1] + 1, n_frames)]
    return jobs


def nearer_key(job: Job) -> int:
    """The key frame of ``job`` nearer to its frame, the left one on a tie.

    >>> nearer_key((0, 2, 4)), nearer_key((0, 3, 4)), nearer_key((5, 2, 5))
    (0, 4, 5)
    """
    left, pos, right = job
    return left if abs(pos - left) <= abs(right - pos) else right


def holdout_split(keys: Sequence[int], k: int) -> Tuple[List[int], List[int]]:
    """``(remaining, hidden)`` key frames of ``--holdout k``: key number i (0..n-1, in frame
    order) is hidden when i is a multiple of k and 0 < i < n - 1.

    >>> holdout_split([0, 3, 11, 12, 20, 25], 2)
    ([0, 3, 12, 25], [11, 20])
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DatasetError(f"--holdout must be an integer >= 1, got {k!r}")
    keys = list(keys)
    hidden = [key for i, key in enumerate(keys) if 0 < i < len(keys) - 1 and i % k == 0]
    return [key for key in keys if key not in hidden], hidden


def holdout_jobs(keys: Sequence[int], k: int) -> List[Job]:
    """One job per hidden key frame, from the remaining key frames enclosing it.

    >>> holdout_jobs([0, 3, 11, 12, 20, 25], 2)
    [(3, 11, 12), (12, 20, 25)]
    """
    remaining, hidden = holdout_split(keys, k)
    jobs = []
    for pos in hidden:
        left = max(r for r in remaining if r < pos)
        right = min(r for r in remaining if r > pos)
        jobs.append((left, pos, right))
    return jobs


def segments(jobs: Sequence[Job]) -> List[Tuple[int, int, List[int]]]:
    """Jobs grouped by their key frames, in order: ``[(left, right, positions), ...]`` (the
    frames of one gap go through the networks together, with their two key frames).

    >>> segments([(0, 1, 3), (0, 2, 3), (4, 5, 6), (6, 7, 6)])
    [(0, 3, [1, 2]), (4, 6, [5]), (6, 6, [7])]
    """
    out: List[Tuple[int, int, List[int]]] = []
    for left, pos, right in jobs:
        if out and out[-1][:2] == (left, right):
            out[-1][2].append(pos)
        else:
            out.append((left, right, [pos]))
    return out
