"""The whole method on the built-in toy data, on a CPU, in minutes (``quickstart.py``).

Stages (each is the library function behind a script, run with that script's flags):
toy data annotated on every 2nd frame (``default_label_interval: 2``, like VOS's every
15th) -> image pretraining (``pretrain.py``) -> FGPLG training within the label budget
l = 5 (triplets of consecutive kept labels; OpenCV flow, since FlowNet2's weights cannot
be downloaded here) (``train_fgplg.py``) -> the pseudo-label folder ``1_5``: kept GT plus
m = 1 pseudo-label per gap, on frames that have no annotation
(``generate_pseudo_labels.py``) -> video training on that folder (``train.py``) ->
inference on the held-out test videos with overlays (``inference.py``) -> evaluation
(``evaluate.py``).

The toy model has no ImageNet weights to start from, so the demo uses a higher learning
rate than the published schedules (``lr_*`` below) and a small input size. Epochs are
numbered as published (``--epochs N`` runs epochs 0..N).

``--out`` is a folder the quickstart owns: it refuses a non-empty folder that is not one
of its previous runs (marked by ``.quickstart_run``), and a re-run removes only the
entries that marker lists.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from libs.datasets.toy import make_toy_data
from libs.utils.errors import UserError
from libs.utils.io import save_text

from . import fgplg_training, inference, pretraining, pseudo_labels, video_training
from .evaluation import evaluate_split, format_table

__all__ = ["QuickstartConfig", "PRESETS", "build_parser", "run", "MARKER"]

S_MIN, MAE_MAX = 0.80, 0.08
MARKER = ".quickstart_run"
OUTPUTS = ("data", "models", "pseudo-labels", "results", "all-zero")  # what a run writes under --out


@dataclass(frozen=True)
class QuickstartConfig:
    size: int = 64
    frames: int = 40
    label_every: int = 2
    image_epochs: int = 7
    image_batch: int = 8
    lr_image: float = 3e-4
    fgplg_epochs: int = 1
    fgplg_batch: int = 4
    lr_fgplg: float = 1e-4
    video_epochs: int = 1
    video_max_iters: int = 0  # 0: whole epochs
    lr_video: float = 1e-4
    label_interval: int = 5
    frame_between_label_num: int = 1
    val_max_items: int = 0  # 0: the whole val split


PRESETS = {
    "full": QuickstartConfig(),
    # For the test suite: every stage runs, for a fraction of the iterations.
    "fast": QuickstartConfig(size=48, frames=30, image_epochs=1, fgplg_epochs=0, video_epochs=1, video_max_iters=5,
                             val_max_items=3),
}


class QuickstartError(UserError, ValueError):
    """An --out folder the quickstart must not write into."""


def prepare_out(out: Path, keep: bool) -> None:
    """Make ``out`` ours: refuse a non-empty folder without our marker; unless ``keep``,
    remove the entries a previous run listed in the marker (nothing else)."""
    if out.exists() and not out.is_dir():
        raise QuickstartError(f"{out}: exists and is not a folder (--out)")
    marker = out / MARKER
    if out.is_dir() and any(out.iterdir()) and not marker.is_file():
        raise QuickstartError(f"{out}: folder is not empty and is not a previous quickstart run (no {MARKER}); "
                              f"choose another --out")
    if marker.is_file() and not keep:
        try:
            listed = json.loads(marker.read_text()).get("outputs", [])
        except (OSError, ValueError) as e:
            raise QuickstartError(f"{marker}: unreadable quickstart marker ({e})") from None
        for name in listed:
            target = out / name
            if name in OUTPUTS and target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
    out.mkdir(parents=True, exist_ok=True)
    save_text(json.dumps({"outputs": list(OUTPUTS)}) + "\n", marker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quickstart.py",
        description="Run the whole semi-supervised pipeline on generated toy videos (CPU, minutes) and "
                    "report how well the final video model does on the held-out videos.",
    )
    parser.add_argument("--out", default="./runs/quickstart", metavar="DIR",
                        help="working folder for data, checkpoints and results (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="toy data and training seed (default: %(default)s)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full",
                        help="'full' meets the thresholds; 'fast' is a smoke run (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep a previous run's outputs in --out instead of removing them first; they are "
                             "overwritten stage by stage (default: off)")
    return parser


def _stage(title: str, log):
    log(f"\n=== {title} ===")
    return time.time()


def _common(data: Path, cfg: QuickstartConfig, args) -> list:
    return ["--data", str(data), "--dataset-config", str(data / "datasets.yaml"), "--size", str(cfg.size),
            "-j", "0", "--device", args.device, "--seed", str(args.seed)]


def _val_limit(cfg):
    return ["--val-max-items", str(cfg.val_max_items)] if cfg.val_max_items else []


def run(args: argparse.Namespace, log=print) -> dict:
    cfg = PRESETS[args.preset]
    out = Path(args.out)
    prepare_out(out, args.keep)
    data, models, results = out / "data", out / "models", out / "results"
    l, m = cfg.label_interval, cfg.frame_between_label_num
    pseudo_folder = out / "pseudo-labels" / f"{m}_{l}"
    timings, start = {}, time.time()
    log(f"quickstart ({args.preset}): {asdict(cfg)}")

    t = _stage(f"1/7 toy data, 1 frame in {cfg.label_every} annotated (default_label_interval {cfg.label_every})", log)
    make_toy_data(data, seed=args.seed, frames=cfg.frames, label_every=cfg.label_every)
    log(f"toy videos and images in {data}")
    timings["data"] = time.time() - t

    t = _stage("2/7 image pretraining (pretrain.py)", log)
    pretraining.run(pretraining.build_parser().parse_args(_common(data, cfg, args) + [
        "--train-sets", "TOY_IMAGE:train", "--val-sets", "TOY_IMAGE:val", "--checkpoint", "none",
        "--epochs", str(cfg.image_epochs), "--batch-size", str(cfg.image_batch), "--lr", str(cfg.lr_image),
        "--save-folder", str(models), "--backup-epochs", "0"] + _val_limit(cfg)), log=log)
    image_model = models / pretraining.BEST_NAME
    timings["pretrain"] = time.time() - t

    t = _stage(f"3/7 FGPLG training within the budget l={l}: {100 // l}% of the labels "
               f"(train_fgplg.py --flow opencv)", log)
    fgplg_training.run(fgplg_training.build_parser().parse_args(_common(data, cfg, args) + [
        "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val", "--checkpoint", str(image_model),
        "--flow", "opencv", "--label_interval", str(l),
        "--epochs", str(cfg.fgplg_epochs), "--batch-size", str(cfg.fgplg_batch), "--lr", str(cfg.lr_fgplg),
        "--save-folder", str(models), "--backup-epochs", "0"] + _val_limit(cfg)), log=log)
    timings["fgplg"] = time.time() - t

    t = _stage(f"4/7 pseudo-label folder {pseudo_folder.name}: kept GT + m={m} pseudo-label per gap "
               f"(generate_pseudo_labels.py)", log)
    pseudo_labels.run(pseudo_labels.build_parser().parse_args(_common(data, cfg, args) + [
        "--sets", "TOY_VIDEO:train", "--checkpoint", str(models / f"{fgplg_training.PREFIX}_current_best_model.pth"),
        "--pseudo-label-folder", str(out / "pseudo-labels"),
        "--label_interval", str(l), "--frame_between_label_num", str(m)]), log=log)
    timings["pseudo"] = time.time() - t

    t = _stage(f"5/7 video training on {pseudo_folder.name} (train.py --pseudo-label-folder)", log)
    video = video_training.run(video_training.build_parser().parse_args(_common(data, cfg, args) + [
        "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val", "--checkpoint", str(image_model),
        "--pseudo-label-folder", str(pseudo_folder), "--epochs", str(cfg.video_epochs), "--lr", str(cfg.lr_video),
        "--save-folder", str(models), "--backup-epochs", "0", "--eval-first"]
        + (["--max-iters", str(cfg.video_max_iters)] if cfg.video_max_iters else []) + _val_limit(cfg)), log=log)
    timings["video"] = time.time() - t

    t = _stage("6/7 inference on the held-out test videos (inference.py --overlay)", log)
    inference.run(inference.build_parser().parse_args(_common(data, cfg, args) + [
        "--dataset", "TOY_VIDEO", "--split", "test", "--checkpoint", str(models / f"{video_training.PREFIX}_current_best_model.pth"),
        "--results-folder", str(results), "--overlay"]), log=log)
    timings["inference"] = time.time() - t

    t = _stage("7/7 evaluation (evaluate.py)", log)
    scores = evaluate_split(data, data / "datasets.yaml", "TOY_VIDEO", "test", results)
    empty = out / "all-zero"
    (empty / "TOY_VIDEO").mkdir(parents=True, exist_ok=True)  # no maps: every frame counts as all-zero
    quiet = logging.getLogger("libs.pipeline.evaluation")
    level, quiet.level = quiet.level, logging.ERROR  # every map is missing on purpose: no warnings
    try:
        baseline = evaluate_split(data, data / "datasets.yaml", "TOY_VIDEO", "test", empty, allow_missing=True)
    finally:
        quiet.setLevel(level)
    log(format_table(scores))
    timings["evaluate"] = time.time() - t

    s, mae = scores["overall"]["S"], scores["overall"]["MAE"]
    s0, mae0 = baseline["overall"]["S"], baseline["overall"]["MAE"]
    total = time.time() - start
    log("stage times: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()) + f"; total {total:.0f}s")
    log(f"overlays of the held-out videos: {results / 'overlays' / 'TOY_VIDEO'}")
    log(f"toy test: S={s:.3f} MAE={mae:.3f} (all-zero map: S={s0:.3f} MAE={mae0:.3f})")
    passed = s >= S_MIN and mae <= MAE_MAX
    if args.preset == "full" and not passed:
        log(f"quickstart: below the expected S >= {S_MIN} and MAE <= {MAE_MAX}")
    return {"S": s, "MAE": mae, "S_zero": s0, "MAE_zero": mae0, "passed": passed, "seconds": total,
            "video_history": video["history"], "timings": timings}
