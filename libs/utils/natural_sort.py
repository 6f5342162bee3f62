"""Natural order of file names: ``f2`` before ``f10``, as a person numbers frames.

Every listing of frames, labels and videos in the project sorts with :func:`natural_key`,
so that the order is the same in training, generation, inference and evaluation. For
zero-padded names (every benchmark: ``00000.jpg``) it is plain string order, the published
``sorted(os.listdir(...))``.
"""
from __future__ import annotations

import re
from typing import Iterable, List, Tuple, TypeVar

__all__ = ["natural_key", "natural_sorted"]

_DIGITS = re.compile(r"(\d+)")
T = TypeVar("T")


def natural_key(name: object) -> Tuple:
    """Sort key of a name (or a path: its name): runs of digits compare as numbers.

    >>> sorted(["f10.png", "f2.png", "f1.png"], key=natural_key)
    ['f1.png', 'f2.png', 'f10.png']

    Equal numbers written differently (``f01``, ``f1``) fall back to string order, so the
    order is total and repeatable.
    """
    text = getattr(name, "name", name)
    parts = _DIGITS.split(str(text))  # text, digits, text, ...: same types at the same places
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), str(text)


def natural_sorted(items: Iterable[T]) -> List[T]:
    """``items`` (names or paths) in natural order of their names."""
    return sorted(items, key=natural_key)
