"""Tiny toy experiments for the reproduce.py tests: paper_table1's stages, overridden to run on
toy videos at 32x32 for one iteration, with OpenCV flow and seeded random image weights."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import List

import torch

from libs.datasets.toy import make_toy_data

VIDEO_DIRS = ("JPEGImages", "Annotations")


def make_data(root: Path, frames: int = 11, label_every: int = 1, train: int = 2) -> Path:
    """Toy videos, 32x40: ``train`` train videos (video_00, ...), then one val and one test video."""
    data = root / "data"
    make_toy_data(data, train_videos=train, val_videos=1, test_videos=1, frames=frames, train_images=0,
                  val_images=0, height=32, width=40, label_every=label_every)
    return data


def make_weights(root: Path) -> Path:
    """Seeded random ImageModel weights, the image-pretrained init of the FGPLG and video stages:
    variance-preserving, so that the maps span (0, 1) instead of saturating (a map that is 0
    everywhere would hide a wrong flag in a command run by hand)."""
    from libs.networks import ImageModel
    from libs.utils.reference_weights import fill_reference_weights

    path = root / "image.pth"
    torch.save(fill_reference_weights(ImageModel(), seed=0).state_dict(), path)
    return path


def toy_flags(data: Path, weights: Path, out: Path, *extra: str) -> List[str]:
    """``reproduce.py`` flags: paper_table1 on the toy sets, quick and on the CPU."""
    return ["--data", str(data), "--dataset-config", str(data / "datasets.yaml"),
            "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val", "--test-sets", "TOY_VIDEO:test",
            "--flow", "opencv", "--size", "32", "--epochs", "0", "--max-iters", "1", "--val-max-items", "1", "-j", "0",
            "--device", "cpu",
            "--set", f"fgplg.checkpoint={weights}", "--set", f"video.checkpoint={weights}", "--out", str(out),
            *extra]


def plan_of(flags: List[str], tmp: Path, capsys):
    """Run ``reproduce.py --plan --json``: (exit status, the JSON, the printed text)."""
    import reproduce

    path = tmp / f"plan{len(list(tmp.glob('plan*.json')))}.json"
    rc = reproduce.main(flags + ["--plan", "--json", str(path)])
    return rc, json.loads(path.read_text()), capsys.readouterr().out


def link_copy(src: Path, dst: Path) -> Path:
    """A copy of a run folder made of hard links: cheap, and safe because every output is written
    to a temporary file and renamed (the links of the source are never written through)."""
    shutil.copytree(src, dst, copy_function=os.link)
    return dst
