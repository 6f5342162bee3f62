"""A tiny synthetic dataset for smoke tests and quick end-to-end runs.

``python -m libs.datasets.toy --out DIR [--seed N]`` (or :func:`make_toy_data`) writes::

    DIR/datasets.yaml                               same schema as config/datasets.yaml
    DIR/TOY_VIDEO/JPEGImages/<video>/00000.jpg      96x128 RGB frames, JPEG quality 95
    DIR/TOY_VIDEO/Annotations/<video>/00000.png     exact 0/255 masks, every frame
                                                    (every N-th with --label-every N)
    DIR/TOY_IMAGE/imgs/<id>.jpg, gt/<id>.png, ImageSets/{train,val}_id.txt
    DIR/.toy_dataset                                marker (JSON of the parameters)

Each video shows 1-2 saturated, textured blobs (wobbly ellipses) moving, turning and
slightly scaling over a low-saturation textured background that pans slowly; the blobs
cover about 10-30% of the frame. Hue varies per object, so no single channel separates
them, but saturation and texture do: a small CNN learns it in a few steps. The same seed
gives byte-identical files. Everything is written to a temporary folder first and moved
into place, so an interrupted run leaves no half-written dataset.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np
from PIL import Image

from libs.utils.errors import UserError

__all__ = ["ToyDataError", "make_toy_data", "render_video", "main"]

MARKER = ".toy_dataset"
VIDEO_NAME, IMAGE_NAME = "TOY_VIDEO", "TOY_IMAGE"


class ToyDataError(UserError, ValueError):
    """The output folder cannot be used."""


def _noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth value noise ``(h, w)`` in [0, 1] from a ``cells``-wide random grid."""
    ch = max(2, round(cells * h / w))
    grid = rng.random((ch, cells), dtype=np.float32)
    out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Float HSV (hue in degrees) -> ``(H, W, 3)`` RGB float in [0, 1]."""
    hsv = np.stack([np.mod(h, 360.0), np.clip(s, 0, 1), np.clip(v, 0, 1)], axis=-1).astype(np.float32)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _background(rng, h: int, w: int) -> np.ndarray:
    # Brightness spans most of the range so that no intensity threshold finds the objects.
    value = 0.12 + 0.76 * (0.6 * _noise(rng, h, w, 4) + 0.4 * _noise(rng, h, w, 16))
    hue = rng.uniform(0, 360) + 40.0 * _noise(rng, h, w, 3)
    sat = 0.04 + 0.14 * _noise(rng, h, w, 6)
    return _hsv_to_rgb(hue, sat, value)


def _object_texture(rng, size: int = 48) -> np.ndarray:
    """A saturated, textured colour patch ``(size, size, 3)`` in object coordinates."""
    hue = rng.uniform(0, 360) + 30.0 * (_noise(rng, size, size, 3) - 0.5)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle, freq = rng.uniform(0, np.pi), rng.uniform(2.0, 5.0)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)))
    value = 0.45 + 0.35 * _noise(rng, size, size, 6) + 0.2 * stripes
    sat = 0.7 + 0.3 * _noise(rng, size, size, 4)
    return _hsv_to_rgb(hue, sat, value)


def _object_tracks(rng, n_frames: int, h: int, w: int) -> list:
    """Per object: arrays of centre (x, y), semi-axes, rotation and a wobble over time."""
    n_obj = int(rng.integers(1, 3))
    total = rng.uniform(0.12, 0.24)
    tracks = []
    t = np.linspace(0.0, 1.0, n_frames, dtype=np.float64)
    for _ in range(n_obj):
        area = total / n_obj * rng.uniform(0.85, 1.15) * h * w
        aspect = rng.uniform(0.6, 1.6)
        a0, b0 = np.sqrt(area / np.pi * aspect), np.sqrt(area / np.pi / aspect)
        scale = 1.0 + rng.uniform(-0.12, 0.12) * t + 0.04 * np.sin(2 * np.pi * t * rng.uniform(0.5, 1.5))
        # Keep the centre far enough in that most of the blob stays in the frame.
        mx, my = min(0.7 * max(a0, b0), 0.45 * w), min(0.7 * max(a0, b0), 0.45 * h)
        start = rng.uniform([mx, my], [w - mx, h - my])
        end = rng.uniform([mx, my], [w - mx, h - my])
        wobble = rng.uniform(2.0, 5.0) * np.sin(2 * np.pi * (t[:, None] * rng.uniform(0.5, 1.5) + rng.random(2)))
        centre = start + (end - start) * t[:, None] + wobble
        centre = np.clip(centre, [mx, my], [w - mx, h - my])
        theta = rng.uniform(0, np.pi) + rng.uniform(-0.6, 0.6) * t
        lobes, phase, amp = int(rng.integers(2, 5)), rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.15)
        tracks.append(dict(centre=centre, a=a0 * scale, b=b0 * scale, theta=theta,
                           lobes=lobes, phase=phase, amp=amp, texture=_object_texture(rng)))
    return tracks


def _draw(frame: np.ndarray, mask: np.ndarray, obj: dict, i: int) -> None:
    """Paint object ``obj`` at time ``i`` into ``frame (H, W, 3)`` and ``mask (H, W)`` in place."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    (cx, cy), th = obj["centre"][i], obj["theta"][i]
    dx, dy = xx - cx, yy - cy
    u = (dx * np.cos(th) + dy * np.sin(th)) / obj["a"][i]
    v = (-dx * np.sin(th) + dy * np.cos(th)) / obj["b"][i]
    radius = 1.0 + obj["amp"] * np.sin(obj["lobes"] * np.arctan2(v, u) + obj["phase"])
    inside = u * u + v * v <= radius * radius
    tex = obj["texture"]
    size = tex.shape[0]
    # Texture coordinates follow the object, so the texture moves, turns and scales with it.
    tx = np.clip(((u / 1.2 + 1) * 0.5 * (size - 1)).round().astype(np.int64), 0, size - 1)
    ty = np.clip(((v / 1.2 + 1) * 0.5 * (size - 1)).round().astype(np.int64), 0, size - 1)
    frame[inside] = tex[ty[inside], tx[inside]]
    mask[inside] = 255


def render_video(rng: np.random.Generator, n_frames: int, h: int, w: int):
    """``(frames uint8 (N, H, W, 3), masks uint8 (N, H, W) in {0, 255})``."""
    pad = 16
    bg = _background(rng, h + 2 * pad, w + 2 * pad)
    pan = rng.uniform(-pad, pad, size=2)
    tracks = _object_tracks(rng, n_frames, h, w)
    frames = np.empty((n_frames, h, w, 3), np.uint8)
    masks = np.zeros((n_frames, h, w), np.uint8)
    for i in range(n_frames):
        f = i / max(n_frames - 1, 1)
        ox, oy = int(round(pad + pan[0] * f)), int(round(pad + pan[1] * f))
        frame = bg[oy : oy + h, ox : ox + w].copy()
        for obj in tracks:
            _draw(frame, masks[i], obj, i)
        frames[i] = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return frames, masks


def _save(frame: np.ndarray, mask: np.ndarray, image_path: Path, mask_path: Optional[Path]) -> None:
    image_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(image_path, format="JPEG", quality=95)
    if mask_path is not None:
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask, mode="L").save(mask_path, format="PNG")


def _yaml(video_split: dict, seed: int, label_every: int) -> str:
    q = json.dumps  # a JSON string is a valid quoted YAML scalar
    lines = [
        f"# Toy datasets written by `python -m libs.datasets.toy` (seed {seed}).",
        "# Same schema as config/datasets.yaml; use with --data <this folder> --dataset-config <this file>.",
        "",
        f"{IMAGE_NAME}:",
        '  image_dir: "imgs"', '  label_dir: "gt"', '  split_dir: "ImageSets"',
        '  image_ext: ".jpg"', '  label_ext: ".png"',
        "",
        f"{VIDEO_NAME}:",
        '  image_dir: "JPEGImages"', '  label_dir: "Annotations"',
        '  image_ext: ".jpg"', '  label_ext: ".png"',
        f"  default_label_interval: {label_every}",
        "  video_split:",
    ]
    for split, videos in video_split.items():
        lines.append(f"    {q(split)}:")
        lines += [f"      - {q(v)}" for v in videos]
    return "\n".join(lines) + "\n"


def _write_all(tmp: Path, params: dict) -> None:
    seed, h, w = params["seed"], params["height"], params["width"]
    counts = {"train": params["train_videos"], "val": params["val_videos"], "test": params["test_videos"]}
    video_split, vi = {}, 0
    for split, count in counts.items():
        if count:
            video_split[split] = [f"video_{vi + k:02d}" for k in range(count)]
            vi += count
    for video in (v for vs in video_split.values() for v in vs):
        rng = np.random.default_rng([seed, 1, int(video.split("_")[1])])
        frames, masks = render_video(rng, params["frames"], h, w)
        for i, (frame, mask) in enumerate(zip(frames, masks)):
            name = f"{i:05d}"
            # Sparse annotation (VOS labels every 15th frame): only every label_every-th mask.
            annotated = i % params["label_every"] == 0
            _save(frame, mask, tmp / VIDEO_NAME / "JPEGImages" / video / f"{name}.jpg",
                  tmp / VIDEO_NAME / "Annotations" / video / f"{name}.png" if annotated else None)
    ids = [f"{i:05d}" for i in range(params["train_images"] + params["val_images"])]
    for i, image_id in enumerate(ids):
        frames, masks = render_video(np.random.default_rng([seed, 2, i]), 1, h, w)
        _save(frames[0], masks[0], tmp / IMAGE_NAME / "imgs" / f"{image_id}.jpg",
              tmp / IMAGE_NAME / "gt" / f"{image_id}.png")
    sets = tmp / IMAGE_NAME / "ImageSets"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "train_id.txt").write_text("".join(f"{i}\n" for i in ids[: params["train_images"]]))
    (sets / "val_id.txt").write_text("".join(f"{i}\n" for i in ids[params["train_images"]:]))
    (tmp / "datasets.yaml").write_text(_yaml(video_split, seed, params["label_every"]))
    (tmp / MARKER).write_text(json.dumps(params, sort_keys=True) + "\n")


def _check_params(params: dict) -> None:
    for key, value in params.items():
        low = 0 if key == "seed" or key.endswith(("_videos", "_images")) else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ToyDataError(f"--{key.replace('_', '-')} must be an integer >= {low}, got {value!r}")
    if params["train_videos"] + params["val_videos"] + params["test_videos"] < 1:
        raise ToyDataError("at least one video is needed (--train-videos/--val-videos/--test-videos)")
    if params["height"] < 16 or params["width"] < 16:
        raise ToyDataError(f"--height/--width must be >= 16, got {params['height']}x{params['width']}")


def make_toy_data(
    out: Union[str, os.PathLike],
    seed: int = 0,
    train_videos: int = 6,
    val_videos: int = 2,
    test_videos: int = 2,
    frames: int = 20,
    train_images: int = 60,
    val_images: int = 20,
    height: int = 96,
    width: int = 128,
    label_every: int = 1,
    force: bool = False,
) -> Path:
    """Write the toy datasets into ``out``; returns the path of ``out/datasets.yaml``.

    ``out`` must be missing, empty, or a previous toy dataset (its toy entries are
    replaced); ``force`` also allows any other folder (only the toy entries are written).
    """
    params = dict(seed=seed, train_videos=train_videos, val_videos=val_videos, test_videos=test_videos,
                  frames=frames, train_images=train_images, val_images=val_images, height=height, width=width,
                  label_every=label_every)
    _check_params(params)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ToyDataError(f"{out}: exists and is not a folder")
    occupied = out.is_dir() and any(out.iterdir())
    if occupied and not (out / MARKER).is_file() and not force:
        raise ToyDataError(f"{out}: folder is not empty and is not a toy dataset (use --force to write into it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        _write_all(tmp, params)
        if not occupied:
            if out.is_dir():
                out.rmdir()
            os.replace(tmp, out)
        else:
            for entry in sorted(tmp.iterdir()):
                target = out / entry.name
                if target.is_dir() and not target.is_symlink():
                    # Move the old folder aside first so the swap itself is one rename.
                    old = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".old", dir=out))
                    os.replace(target, old / entry.name)
                    os.replace(entry, target)
                    shutil.rmtree(old)
                else:
                    os.replace(entry, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out / "datasets.yaml"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m libs.datasets.toy", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="output folder (missing, empty or a previous toy dataset)")
    p.add_argument("--seed", type=int, default=0, help="same seed -> byte-identical files")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder that is not a toy dataset")
    for name, default in (("train-videos", 6), ("val-videos", 2), ("test-videos", 2), ("frames", 20),
                          ("train-images", 60), ("val-images", 20), ("height", 96), ("width", 128)):
        p.add_argument(f"--{name}", type=int, default=default, help="(default: %(default)s)")
    p.add_argument("--label-every", type=int, default=1, metavar="N",
                   help="annotate only every N-th frame of each video (0, N, 2N, ...) and write "
                        "default_label_interval: N, like VOS's every 15th frame (default: %(default)s)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        config = make_toy_data(args.out, seed=args.seed, force=args.force,
                               **{k: getattr(args, k) for k in ("train_videos", "val_videos", "test_videos", "frames",
                                                                "train_images", "val_images", "height", "width",
                                                                "label_every")})
    except ToyDataError as e:
        parser.exit(2, f"error: {e}\n")
    print(f"toy datasets written to {Path(args.out)} in {time.perf_counter() - start:.1f}s; config: {config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
