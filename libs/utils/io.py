"""File I/O with clear errors and atomic writes.

Every output of the project (PNG maps, checkpoints, JSON/CSV reports) is written to a
temporary file in the destination folder and renamed into place, so an interrupted run
never leaves a truncated file behind and never damages an existing one.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Iterator, Union

import numpy as np
from PIL import Image

from .errors import UserError
from .masks import decode_mask, map_to_uint8

__all__ = [
    "ImageReadError",
    "check_not_empty",
    "atomic_path",
    "load_rgb",
    "load_mask",
    "load_map_u8",
    "save_png",
    "save_jpeg",
    "save_json",
    "save_text",
    "torch_save",
    "BackgroundWriter",
]

PathLike = Union[str, os.PathLike]


class ImageReadError(UserError, OSError):
    """An image or label file that is missing, unreadable or truncated."""


def _create_unique(folder: Path, prefix: str) -> Path:
    """Create an empty, uniquely named ``<prefix><pid>.<random>.tmp`` in ``folder``.

    Mode 0o666 lets the kernel apply the process umask, so the final file gets the
    permissions ``open()`` would give it (``mkstemp`` makes private 0600 files, and reading
    the umask means setting it, which races with other threads).
    """
    while True:
        tmp = folder / f"{prefix}{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On an exception (or Ctrl-C) the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_unique(path.parent, f".{path.name}.")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def check_not_empty(path: Path) -> None:
    """A clear error for a missing or empty (0-byte) image file, before a decoder's vaguer one."""
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes), not an image")


def _open_fully(path: PathLike) -> Image.Image:
    path = Path(path)
    check_not_empty(path)
    try:
        img = Image.open(path)
        img.load()  # decode now: a truncated file fails here, not deep inside a worker
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageReadError(f"{path}: unreadable or truncated image ({e})") from None
    return img


def load_rgb(path: PathLike) -> Image.Image:
    """An image file as a fully decoded RGB PIL image."""
    return _open_fully(path).convert("RGB")


def load_mask(path: PathLike) -> np.ndarray:
    """A mask file (training label, key frame, GT) as float32 ``(H, W)`` in [0, 1].

    The one decoder of :mod:`libs.utils.masks`: grayscale by the published rule (as they are
    when the maximum is <= 1, else / 255), every non-zero palette index or non-black colour
    as foreground, transparency masks by their alpha, 16-bit maps by their bit depth.
    """
    return decode_mask(_open_fully(path))


def load_map_u8(path: PathLike) -> np.ndarray:
    """A saliency map (a prediction) as uint8 ``(H, W)``, read as 8-bit gray (:func:`map_to_uint8`)."""
    return map_to_uint8(_open_fully(path))


def save_png(array: np.ndarray, path: PathLike) -> None:
    """Write a uint8 ``(H, W)`` or ``(H, W, 3)`` array as PNG, atomically."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"save_png expects uint8, got {array.dtype}")
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def save_jpeg(array: np.ndarray, path: PathLike, quality: int = 90) -> None:
    """Write a uint8 ``(H, W, 3)`` array as JPEG, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(array, dtype=np.uint8)).save(tmp, format="JPEG", quality=quality)


def save_json(obj, path: PathLike) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")


def save_text(text: str, path: PathLike) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def torch_save(obj, path: PathLike) -> None:
    """``torch.save`` to a temporary file, then rename: never a half-written checkpoint."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


class BackgroundWriter:
    """Runs file writes on a small thread pool so the model never waits for PNG encoding.

    ``submit(fn, *args)`` queues a write (blocking when ``max_pending`` are queued, which
    bounds memory); ``close()`` waits for all of them and re-raises the first failure.
    Writes submitted with the same ``key`` (e.g. the target path) run in submission order,
    so when a file is written twice the last write wins. Use as a context manager.
    """

    def __init__(self, workers: int = 2, max_pending: int = 64):
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="writer")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._futures = []
        self._by_key = {}
        self.count = 0

    def submit(self, fn, *args, key=None) -> None:
        if key is not None and key in self._by_key:
            # The same file again: let the earlier write finish first, or it could land last.
            self._by_key.pop(key).result()
        self._slots.acquire()
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)
        if key is not None:
            self._by_key[key] = future
        self.count += 1
        if len(self._futures) > 256:  # surface errors early and keep the list short
            done = [f for f in self._futures if f.done()]
            for f in done:
                f.result()
            self._futures = [f for f in self._futures if not f.done()]
            self._by_key = {k: f for k, f in self._by_key.items() if not f.done()}

    def close(self) -> None:
        try:
            for f in self._futures:
                f.result()
        finally:
            self._pool.shutdown(wait=True)
            self._futures = []
            self._by_key = {}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            return False
        self.close()
        return False
