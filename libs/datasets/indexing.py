"""Which frames of a video are used, and how they are grouped: pure index rules.

These are the published semi-supervised protocol's rules (``video_datasets.py``,
``train_fgplg.py``, ``generate_pseudo_labels.py`` of the authors' code), as functions of
list lengths and indices only, so that the datasets, the generator and the tests agree.

Legend: ``frames`` = every image of a video, sorted; ``labels`` = its ground-truth files,
sorted; ``l`` = ``--label_interval`` (the label budget keeps ``labels[::l]``); ``d`` = the
dataset's ``default_label_interval`` (how often it is annotated: VOS 15, DAVIS 1);
``m`` = ``--frame_between_label_num`` (pseudo-labelled frames per gap between two kept
labels). A *position* is an index into ``frames``.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

from libs.utils.errors import UserError

__all__ = [
    "DatasetError",
    "check_label_interval",
    "check_clip_len",
    "check_frame_between_label_num",
    "kept_indices",
    "pseudo_label_step",
    "pseudo_label_positions",
    "clip_indices",
    "triplet_indices",
]

# FGPLG labels the middle frame of three consecutive kept labels.
TRIPLET_LEN = 3


class DatasetError(UserError, ValueError):
    """A dataset that cannot be used as asked: missing folders/files or bad arguments."""


def _check_int(value, flag: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DatasetError(f"{flag} must be an integer >= {minimum}, got {value!r}")
    return value


def check_label_interval(l: int) -> int:
    return _check_int(l, "--label_interval", 1)


def check_clip_len(clip_len: int) -> int:
    return _check_int(clip_len, "--clip_len", 1)


def check_frame_between_label_num(m: int, l: int, d: int, dataset: str = "") -> int:
    """``0 <= m < l * d``: the published limit (there are ``l*d - 1`` frames between two
    kept labels of a regularly annotated video)."""
    _check_int(m, "--frame_between_label_num", 0)
    check_label_interval(l)
    _check_int(d, "default_label_interval", 1)
    if m >= l * d:
        where = f" for dataset {dataset!r}" if dataset else ""
        raise DatasetError(
            f"--frame_between_label_num must be smaller than --label_interval x default_label_interval = "
            f"{l} x {d} = {l * d}{where}, got {m}"
        )
    return m


def kept_indices(n_labels: int, l: int) -> List[int]:
    """Indices into the sorted label list that the budget keeps: ``0, l, 2l, ...``."""
    check_label_interval(l)
    return list(range(0, n_labels, l))


def pseudo_label_step(l: int, d: int, m: int) -> int:
    """Frames between a kept label and its pseudo-labelled followers: ``(l * d) // (m + 1)``."""
    check_frame_between_label_num(m, l, d)
    return (l * d) // (m + 1)


def pseudo_label_positions(kept_positions: Sequence[int], l: int, d: int, m: int) -> List[Tuple[int, int, int]]:
    """``(left, position, right)`` for every pseudo-label, in the published order.

    For every kept label but the last, at frame position ``k``, the frames ``k + j * step``
    (j = 1..m, ``step`` = :func:`pseudo_label_step`) get a pseudo-label generated from the
    kept labels at ``left = k`` and ``right`` = the next kept label. E.g. VOS (d = 15, GT
    at 0, 15, 30, ...), l = 5, m = 1: kept at 0, 75, 150; pseudo-labels at 37 and 112.

    >>> pseudo_label_positions([0, 75, 150], 5, 15, 1)
    [(0, 37, 75), (75, 112, 150)]
    """
    step = pseudo_label_step(l, d, m)
    return [(k, k + j * step, right) for k, right in zip(kept_positions[:-1], kept_positions[1:])
            for j in range(1, m + 1)]


def clip_indices(n: int, clip_len: int, training: bool) -> List[List[int]]:
    """Group ``n`` items (indices 0..n-1) into clips of ``clip_len``.

    Training clips overlap by one item (starts 0, clip_len-1, ...), plus one clip aligned
    to the end when the last item is not yet covered; clip_len 1 gives every item once.
    Inference clips do not overlap (starts 0, clip_len, ...) and the last one is aligned to
    the end, so it may overlap the one before. Fewer than ``clip_len`` items give one clip
    that repeats the last item. E.g. n=17, clip_len=4: training starts 0,3,6,9,12,13;
    inference starts 0,4,8,12,13.
    """
    check_clip_len(clip_len)
    if n <= 0:
        return []
    if n <= clip_len:
        return [list(range(n)) + [n - 1] * (clip_len - n)]
    step = max(clip_len - 1, 1) if training else clip_len
    starts = list(range(0, n - clip_len + 1, step))
    if starts[-1] + clip_len < n:
        starts.append(n - clip_len)
    return [list(range(s, s + clip_len)) for s in starts]


def triplet_indices(n_kept: int) -> List[List[int]]:
    """FGPLG training triplets: three consecutive kept labels, consecutive triplets sharing
    one label (the training clip rule with clip_len 3, step 2).

    Fewer than three kept labels give no triplet (the published code padded the clip with
    its last label, so the middle frame's own label was also an input).

    >>> triplet_indices(6)
    [[0, 1, 2], [2, 3, 4], [3, 4, 5]]
    """
    if n_kept < TRIPLET_LEN:
        return []
    return clip_indices(n_kept, TRIPLET_LEN, training=True)
