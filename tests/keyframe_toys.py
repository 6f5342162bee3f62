"""Toy inputs for the key-frame tests: user videos with masks on a few frames, in every mask
format, and computations written independently of the code under test (reading masks, the
copy and warp baselines, the report's scores)."""
import collections
import os
import re
from pathlib import Path

import cv2
import numpy as np
import py_sod_metrics as sod
import torch
import torch.nn.functional as F
from PIL import Image

from libs.datasets.toy import render_video

H, W = 48, 64
# The DAVIS 2017 palette's first colours: index 1 dark red, 2 dark green, 3 olive.
DAVIS_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [0] * (256 * 3 - 12)
PROGRESS = re.compile(r"\d+%\||\d+/\d+ \[|\d+it \[")

Result = collections.namedtuple("Result", "rc out err")


def run(argv, capsys):
    """``generate_pseudo_labels.main(argv)`` -> Result."""
    import generate_pseudo_labels

    try:
        rc = generate_pseudo_labels.main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return Result(rc, out, err)


def error_line(result, *needles, prog="generate_pseudo_labels.py"):
    """Exit status 2 and one ``<prog>: error:`` line, the only one on stderr but progress bars."""
    assert result.rc == 2, f"exit status {result.rc}; stderr:\n{result.err}"
    lines = [ln for ln in result.err.splitlines() if ln.strip() and not PROGRESS.search(ln)]
    errors = [ln for ln in lines if ln.startswith(f"{prog}: error: ")]
    assert len(errors) == 1 and lines == errors, result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert str(needle) in errors[0], f"{needle!r} not in {errors[0]}"
    return errors[0]


def save_mask(mask01: np.ndarray, path: Path, kind: str) -> None:
    """A binary ``(H, W)`` mask saved in one of the formats users have."""
    path.parent.mkdir(parents=True, exist_ok=True)
    m = mask01.astype(np.uint8)
    if kind == "gray":  # 0/255
        Image.fromarray(m * 255, mode="L").save(path)
    elif kind == "01":  # 0/1
        Image.fromarray(m, mode="L").save(path)
    elif kind == "palette":  # two objects: left half index 1, right half index 2 (DAVIS 2017)
        index = m.copy()
        index[:, W // 2 :] *= 2
        img = Image.fromarray(index, mode="P")
        img.putpalette(DAVIS_PALETTE)
        img.save(path)
    elif kind == "rgb":  # coloured object ids
        rgb = np.zeros(m.shape + (3,), np.uint8)
        rgb[m > 0] = (0, 0, 200)
        Image.fromarray(rgb, mode="RGB").save(path)
    elif kind == "jpeg":
        Image.fromarray(m * 255, mode="L").save(path, format="JPEG", quality=95)
    else:
        raise ValueError(kind)


def expected_u8(path: Path, mask01: np.ndarray) -> np.ndarray:
    """What a mask file holds, x 255, decoded by hand: binary masks are exact; a JPEG one keeps
    the gray values it decodes to."""
    if path.suffix == ".jpg":
        return np.asarray(Image.open(path).convert("L"))
    return mask01.astype(np.uint8) * 255


def make_user_video(frames_root: Path, masks_root: Path, name: str, n: int, keys: dict, seed: int,
                    stem=lambda i: f"f{i}", ext=".jpg"):
    """A folder of ``n`` frames and masks on ``keys`` = ``{position: format}``; returns the
    frames (N, H, W, 3) and masks (N, H, W) in {0, 1} rendered."""
    frames, masks = render_video(np.random.default_rng(seed), n, H, W)
    masks = (masks > 127).astype(np.uint8)
    folder = frames_root / name
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(frames[i]).save(folder / f"{stem(i)}{ext}", quality=95)
    for k, kind in keys.items():
        save_mask(masks[k], masks_root / name / f"{stem(k)}{'.jpg' if kind == 'jpeg' else '.png'}", kind)
    return frames, masks


def make_video_file(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()


def files(folder: Path):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def stat_all(folder: Path):
    """``{relative path: (bytes, mtime_ns)}`` of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def read_png(path: Path) -> np.ndarray:
    img = Image.open(path)
    assert img.mode == "L", f"{path}: mode {img.mode}"
    return np.asarray(img)


# ----------------------------------------------------------- independent computations
def to_size(rgb: np.ndarray, s: int) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, s, s)`` float in [0, 1], bilinear with antialiasing (as
    the project resizes frames)."""
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255.0
    return F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def dis_flow(frame: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """OpenCV DIS (preset MEDIUM) flow from ``frame`` to ``other`` ((1, 3, s, s) in [0, 1])."""
    def gray(x):
        u8 = (x[0] * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        return cv2.cvtColor(np.ascontiguousarray(u8), cv2.COLOR_RGB2GRAY)

    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(gray(frame), gray(other), None)
    return torch.from_numpy(flow).permute(2, 0, 1)[None]


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``out(y, x) = image(y + v, x + u)``, bilinear, border-clamped: grid_sample on pixel coordinates."""
    _, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing="ij")
    gx = (xs + flow[0, 0].double()) / (w - 1) * 2 - 1
    gy = (ys + flow[0, 1].double()) / (h - 1) * 2 - 1
    grid = torch.stack((gx, gy), dim=-1)[None]
    return F.grid_sample(image.double(), grid, mode="bilinear", padding_mode="border", align_corners=True).float()


def independent_warp(frame_rgb, key_rgb, key_mask01, s: int) -> np.ndarray:
    """The warp baseline computed here: DIS flow frame -> key at s x s, key mask warped, resized
    back bilinearly, x 255 rounded."""
    flow = dis_flow(to_size(frame_rgb, s), to_size(key_rgb, s))
    mask = torch.from_numpy(key_mask01.astype(np.float32))[None, None]
    mask_s = F.interpolate(mask, size=(s, s), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    warped = backward_warp(mask_s, flow)
    full = F.interpolate(warped, size=key_mask01.shape, mode="bilinear", align_corners=False)
    return (full[0, 0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()


def score(pred_u8: np.ndarray, gt_u8: np.ndarray) -> dict:
    """J by NumPy (pred >= 128, GT > 128, 1 when both are empty); MAE and S by pysodmetrics."""
    p, g = pred_u8 >= 128, gt_u8 > 128
    union = np.count_nonzero(p | g)
    j = 1.0 if union == 0 else np.count_nonzero(p & g) / union
    mae, sm = sod.MAE(), sod.Smeasure()
    mae.step(pred=pred_u8, gt=gt_u8)
    sm.step(pred=pred_u8, gt=gt_u8)
    return {"J": j, "MAE": float(mae.get_results()["mae"]), "S": float(sm.get_results()["sm"])}


def save_random_fgplg(path: Path, seed: int = 0) -> Path:
    """A seeded random FGPLG with OpenCV flow, saved as train_fgplg.py --flow opencv saves it."""
    from libs.networks import FGPLG
    from libs.utils.checkpoint import save_model

    torch.manual_seed(seed)
    save_model(FGPLG(flow="opencv"), path)
    return path


def remove_checkpoint(path: Path) -> None:
    if path.is_file():
        os.unlink(path)  # ~180 MB that pytest would keep for a few runs
