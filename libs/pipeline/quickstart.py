"""The whole method on the built-in toy data, on a CPU, in minutes (``quickstart.py``).

Stages (each is the library function behind a script, run with that script's flags):
toy data -> image pretraining (``pretrain.py``) -> FGPLG training with l = 5, m = 1, i.e.
20% of the labels kept, with OpenCV flow since FlowNet2's weights cannot be downloaded
here (``train_fgplg.py``) -> pseudo-labels (``generate_pseudo_labels.py``) -> video
training on GT + pseudo-labels (``train.py``) -> inference on the held-out test videos
with overlays (``inference.py``) -> evaluation (``evaluate.py``).

The toy model has no ImageNet weights to start from, so the demo uses a higher learning
rate than the published schedules (``lr_*`` below) and a small input size.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from libs.datasets.toy import make_toy_data

__all__ = ["QuickstartConfig", "PRESETS", "build_parser", "run"]

S_MIN, MAE_MAX = 0.80, 0.08


@dataclass(frozen=True)
class QuickstartConfig:
    size: int = 64
    image_epochs: int = 8
    image_batch: int = 8
    lr_image: float = 3e-4
    fgplg_epochs: int = 2
    fgplg_batch: int = 4
    lr_fgplg: float = 1e-4
    video_epochs: int = 2
    video_max_iters: int = 0  # 0: whole epochs
    lr_video: float = 1e-4
    label_interval: int = 5
    frame_between_label_num: int = 1
    val_max_items: int = 0  # 0: the whole val split


PRESETS = {
    "full": QuickstartConfig(),
    # For the test suite: every stage runs, for a fraction of the iterations.
    "fast": QuickstartConfig(size=48, image_epochs=2, fgplg_epochs=1, video_epochs=2, video_max_iters=5,
                             val_max_items=3),
}


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
                        help="reuse an existing --out folder instead of starting afresh (default: off)")
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
    from libs.pipeline import fgplg_training, inference, pretraining, pseudo_labels, video_training
    from libs.utils.evaluation import evaluate_split, format_table

    cfg = PRESETS[args.preset]
    out = Path(args.out)
    if out.exists() and not args.keep:
        shutil.rmtree(out)
    data, models, results = out / "data", out / "models", out / "results"
    l, m = cfg.label_interval, cfg.frame_between_label_num
    timings, start = {}, time.time()
    log(f"quickstart ({args.preset}): {asdict(cfg)}")

    t = _stage("1/7 toy data", log)
    make_toy_data(data, seed=args.seed, force=args.keep)
    log(f"toy videos and images in {data}")
    timings["data"] = time.time() - t

    t = _stage("2/7 image pretraining (pretrain.py)", log)
    pretraining.run(pretraining.build_parser().parse_args(_common(data, cfg, args) + [
        "--train-sets", "TOY_IMAGE:train", "--val-sets", "TOY_IMAGE:val", "--checkpoint", "none",
        "--epochs", str(cfg.image_epochs), "--batch-size", str(cfg.image_batch), "--lr", str(cfg.lr_image),
        "--save-folder", str(models), "--backup-epochs", "0"] + _val_limit(cfg)), log=log)
    image_model = models / pretraining.BEST_NAME
    timings["pretrain"] = time.time() - t

    t = _stage(f"3/7 FGPLG training, l={l} m={m}: {100 // l}% of the labels (train_fgplg.py --flow opencv)", log)
    fgplg_training.run(fgplg_training.build_parser().parse_args(_common(data, cfg, args) + [
        "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val", "--checkpoint", str(image_model),
        "--flow", "opencv", "--label_interval", str(l), "--frame_between_label_num", str(m),
        "--epochs", str(cfg.fgplg_epochs), "--batch-size", str(cfg.fgplg_batch), "--lr", str(cfg.lr_fgplg),
        "--save-folder", str(models), "--backup-epochs", "0"] + _val_limit(cfg)), log=log)
    timings["fgplg"] = time.time() - t

    t = _stage("4/7 pseudo-labels (generate_pseudo_labels.py)", log)
    pseudo_labels.run(pseudo_labels.build_parser().parse_args(_common(data, cfg, args) + [
        "--sets", "TOY_VIDEO:train", "--checkpoint", str(models / "pseudo_label_generator_best_model.pth"),
        "--pseudo-label-folder", str(out / "pseudo-labels"),
        "--label_interval", str(l), "--frame_between_label_num", str(m)]), log=log)
    timings["pseudo"] = time.time() - t

    t = _stage("5/7 video training on GT + pseudo-labels (train.py)", log)
    video = video_training.run(video_training.build_parser().parse_args(_common(data, cfg, args) + [
        "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val", "--checkpoint", str(image_model),
        "--pseudo-label-folder", str(out / "pseudo-labels"), "--label_interval", str(l),
        "--frame_between_label_num", str(m), "--epochs", str(cfg.video_epochs), "--lr", str(cfg.lr_video),
        "--save-folder", str(models), "--backup-epochs", "0", "--eval-first"]
        + (["--max-iters", str(cfg.video_max_iters)] if cfg.video_max_iters else []) + _val_limit(cfg)), log=log)
    timings["video"] = time.time() - t

    t = _stage("6/7 inference on the held-out test videos (inference.py --overlay)", log)
    inference.run(inference.build_parser().parse_args(_common(data, cfg, args) + [
        "--dataset", "TOY_VIDEO", "--split", "test", "--checkpoint", str(models / "video_best_model.pth"),
        "--results-folder", str(results), "--overlay"]), log=log)
    timings["inference"] = time.time() - t

    t = _stage("7/7 evaluation (evaluate.py)", log)
    scores = evaluate_split(data, data / "datasets.yaml", "TOY_VIDEO", "test", results)
    empty = out / "all-zero"
    (empty / "TOY_VIDEO").mkdir(parents=True, exist_ok=True)  # no maps: every frame counts as all-zero
    quiet = logging.getLogger("libs.utils.evaluation")
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
