"""End to end on the toy data: the four scripts as subprocesses, in the order users run them.

train_fgplg.py -> generate_pseudo_labels.py -> train.py (on GT + pseudo-labels) ->
inference.py --overlay -> evaluate.py, each at a tiny size for one iteration, checking the
files each stage leaves behind (names, sizes, value ranges) against the toy data on disk
and the indexing rules of :mod:`libs.datasets.indexing`.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from libs.datasets import clip_indices, pseudo_label_positions, used_positions
from libs.datasets.toy import make_toy_data
from libs.utils.metrics import METRIC_KEYS

REPO = Path(__file__).resolve().parent.parent
L, M = 5, 1  # --label_interval, --frame_between_label_num
CLIP_LEN = 4
TINY = ["--size", "32", "-j", "0", "--device", "cpu"]
TRAIN_TINY = TINY + ["--epochs", "1", "--max-iters", "1", "--val-max-items", "1"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e") / "toy"
    make_toy_data(root, train_videos=2, val_videos=1, test_videos=1, frames=12, train_images=0, val_images=0)
    return root


def run_script(script, *argv):
    # One thread: with 2 shared cores, torch's spinning OpenMP threads are many times slower
    # than one when other processes compete for the cores.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, script, *map(str, argv)], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, (f"{script} exited {p.returncode}\nstdout:\n{p.stdout[-3000:]}\n"
                               f"stderr:\n{p.stderr[-3000:]}")
    return p.stdout


def annotated_stems(root, video):
    """The labelled frames of a toy video, read from disk (sorted by name, as the datasets do)."""
    return sorted(p.stem for p in (root / "TOY_VIDEO" / "Annotations" / video).glob("*.png"))


def split_videos(root, split):
    import yaml

    return yaml.safe_load((root / "datasets.yaml").read_text())["TOY_VIDEO"]["video_split"][split]


def frame_size(root, video, stem):
    with Image.open(root / "TOY_VIDEO" / "JPEGImages" / video / f"{stem}.jpg") as img:
        return img.size  # (W, H)


def files_under(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def check_gray_png(path, size):
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == "L" and img.size == size, (path, img.format, img.mode, img.size)
        arr = np.asarray(img)
    assert arr.dtype == np.uint8 and 0 <= arr.min() <= arr.max() <= 255


@pytest.mark.slow
def test_four_scripts_in_sequence(toy, tmp_path):
    data = ["--data", toy, "--dataset-config", toy / "datasets.yaml"]
    fgplg_dir, pseudo_dir, video_dir, results = (tmp_path / n for n in ("fgplg", "pseudo", "video", "results"))
    train_videos, test_videos = split_videos(toy, "train"), split_videos(toy, "test")

    # 1. FGPLG training (OpenCV flow: there are no FlowNet2 weights here).
    out = run_script("train_fgplg.py", *data, "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val",
                     "--checkpoint", "none", "--flow", "opencv", "--label_interval", L,
                     "--frame_between_label_num", M, "--save-folder", fgplg_dir, *TRAIN_TINY)
    assert "train_fgplg.py: done;" in out
    assert files_under(fgplg_dir) == {"pseudo_label_generator_best_model.pth", "pseudo_label_generator_last_state.pth"}
    best = load(fgplg_dir / "pseudo_label_generator_best_model.pth")
    assert set(best) == {"state_dict", "flow"} and best["flow"] == "opencv"
    assert any(k.startswith("backbone.") for k in best["state_dict"])
    assert not any(k.startswith("module.") for k in best["state_dict"])
    state = load(fgplg_dir / "pseudo_label_generator_last_state.pth")
    assert state["epoch"] == 1 and state["flow"] == "opencv" and "optimizer" in state

    # 2. Pseudo-labels exactly at the positions the indexing rules give, at each frame's size.
    out = run_script("generate_pseudo_labels.py", *data, "--sets", "TOY_VIDEO:train",
                     "--checkpoint", fgplg_dir / "pseudo_label_generator_best_model.pth",
                     "--label_interval", L, "--frame_between_label_num", M,
                     "--pseudo-label-folder", pseudo_dir, *TINY)
    expected = {}
    for video in train_videos:
        stems = annotated_stems(toy, video)
        for pos in pseudo_label_positions(len(stems), L, M):
            expected[f"{M}_{L}/TOY_VIDEO/{video}/{stems[pos]}.png"] = frame_size(toy, video, stems[pos])
    assert expected and files_under(pseudo_dir) == set(expected)
    assert f"wrote {len(expected)} pseudo-labels" in out
    for rel, size in expected.items():
        assert size == (128, 96)
        check_gray_png(pseudo_dir / rel, size)

    # 3. Video training on GT + pseudo-labels: the pseudo-labelled frames join the clips.
    out = run_script("train.py", *data, "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val",
                     "--checkpoint", "none", "--pseudo-label-folder", pseudo_dir, "--label_interval", L,
                     "--frame_between_label_num", M, "--clip_len", CLIP_LEN, "--save-folder", video_dir, *TRAIN_TINY)
    clips = sum(len(clip_indices(len(used_positions(len(annotated_stems(toy, v)), L, M, with_pseudo=True)),
                                 CLIP_LEN, training=True)) for v in train_videos)
    gt_only = sum(len(clip_indices(len(used_positions(len(annotated_stems(toy, v)), L)), CLIP_LEN, training=True))
                  for v in train_videos)
    assert clips != gt_only  # the check below tells the two apart
    assert f"train: {clips} clips" in out and "train.py: done;" in out
    assert files_under(video_dir) == {"video_best_model.pth", "video_last_state.pth"}
    weights = load(video_dir / "video_best_model.pth")  # the published format: a bare state dict
    assert "state_dict" not in weights and any(k.startswith("convgru_forward.") for k in weights)
    assert load(video_dir / "video_last_state.pth")["epoch"] == 1

    # 4. Inference with overlays: one map per annotated test frame, at the frame's size.
    out = run_script("inference.py", *data, "--dataset", "TOY_VIDEO", "--split", "test",
                     "--checkpoint", video_dir / "video_best_model.pth", "--results-folder", results,
                     "--clip_len", CLIP_LEN, "--overlay", *TINY)
    maps = {f"TOY_VIDEO/{v}/{s}.png": (v, s) for v in test_videos for s in annotated_stems(toy, v)}
    overlays = {f"overlays/TOY_VIDEO/{v}/{s}.jpg": (v, s) for v, s in maps.values()}
    assert files_under(results) == set(maps) | set(overlays)
    assert f"wrote {len(maps)} maps of {len(test_videos)} videos" in out
    for rel, (video, stem) in maps.items():
        check_gray_png(results / rel, frame_size(toy, video, stem))
    for rel, (video, stem) in overlays.items():
        with Image.open(results / rel) as img:
            assert img.format == "JPEG" and img.mode == "RGB" and img.size == frame_size(toy, video, stem)

    # No stage left a temporary file behind.
    leftovers = [p for root in (toy, tmp_path) for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers

    # 5. evaluate.py on the maps: every metric present and in [0, 1].
    report = tmp_path / "eval" / "scores.json"
    run_script("evaluate.py", *data, "--dataset", "TOY_VIDEO", "--split", "test", "--results-folder", results,
               "--json", report, "-j", "0", "--no-progress")
    scores = json.loads(report.read_text())
    for row in ("overall", "pooled"):
        assert set(METRIC_KEYS) <= set(scores[row])
        for key in METRIC_KEYS:
            assert 0.0 <= scores[row][key] <= 1.0, (row, key, scores[row][key])
    assert set(scores["videos"]) == set(test_videos)

    # pytest keeps the last runs' temporary folders: drop the ~1.5 GB of checkpoints on success.
    for checkpoint in tmp_path.rglob("*.pth"):
        checkpoint.unlink()
