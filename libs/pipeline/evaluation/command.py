"""The ``evaluate.py`` command: flags, then :mod:`.engine` does the work.

    python evaluate.py --dataset DAVIS2016 --split val --results-folder results [--protocol davsod]
    python evaluate.py --pred PRED_DIR --gt GT_DIR [--gt-subdir NAME] [--protocol davsod]
"""
from __future__ import annotations

import argparse
import logging
import sys

from libs.utils.cli import UsageError, nonnegative_int

from .engine import DEFAULT_PROTOCOL, PROTOCOLS, default_num_workers, evaluate_folders, evaluate_split
from .reports import format_table, write_reports

__all__ = ["AVERAGING", "build_parser", "check_mode", "run"]

AVERAGING = (
    "Averaging (--protocol per-video): each metric is averaged over the frames of a video "
    "(maxF/maxE = best threshold of that video's frame-mean F/E curve); 'overall' = mean over "
    "videos of the per-video numbers; 'pooled' = all frames of all videos as one set. "
    "--protocol davsod (DAVSOD toolbox, EvaluateTool/main.m): first and last GT frame of each "
    "video skipped, other-size maps resized with MATLAB-style bicubic imresize, 'overall' = mean "
    "over videos with maxF/meanF = max/mean of the mean of the videos' F curves; no 'pooled'. "
    "MAE/F/S/E/wF are pysodmetrics' (GT foreground = GT > 128); J and F_boundary (DAVIS, boundary "
    "tolerance 0.008 of the diagonal) binarise the map at >= 128 of 255, and J/F mean, recall, "
    "decay and J&F are davis2017-evaluation's. Details: docs/evaluation.md."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluate.py",
        description="Evaluate saliency maps against ground truth.",
        epilog=AVERAGING,
    )
    split = parser.add_argument_group("dataset split (predictions at RESULTS/NAME/<video>/<frame>.png)")
    split.add_argument("--data", default="data/datasets", metavar="DIR",
                       help="data root holding <NAME>/ (default: %(default)s)")
    split.add_argument(
        "--dataset-config", default="config/datasets.yaml", metavar="YAML",
        help="dataset config (default: config/datasets.yaml)",
    )
    split.add_argument("--dataset", metavar="NAME", help="video dataset name, e.g. DAVIS2016")
    split.add_argument("--split", metavar="SPLIT", help="split of the dataset, e.g. val")
    split.add_argument("--results-folder", metavar="OUT", help="folder holding <NAME>/<video>/<frame>.png")
    folders = parser.add_argument_group("two folders instead of a dataset split")
    folders.add_argument(
        "--pred", metavar="DIR",
        help="predictions: flat folder of <stem>.png, or <video>/<stem>.png subfolders",
    )
    folders.add_argument(
        "--gt", metavar="DIR",
        help="ground truth, laid out like --pred, or a benchmark release <video>/<GT subfolder>/<frame>",
    )
    folders.add_argument("--gt-ext", default=".png", metavar="EXT", help="GT file extension (default: .png)")
    folders.add_argument(
        "--gt-subdir", metavar="NAME",
        help="GT subfolder of each video of a release (default: detect ground-truth, GT_object_level or GT)",
    )
    parser.add_argument(
        "--protocol", choices=PROTOCOLS, default=DEFAULT_PROTOCOL,
        help="per-video (default) or davsod (the DAVSOD toolbox's EvaluateTool/main.m); see the note below",
    )
    parser.add_argument("--json", metavar="FILE", help="write {protocol, overall, [pooled,] videos} as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write one row per video plus 'overall' (and 'pooled')")
    parser.add_argument(
        "--allow-missing", action="store_true",
        help="count a missing prediction as an all-zero map (default: a missing prediction is an error)",
    )
    parser.add_argument("--videos", metavar="A,B", help="comma-separated videos to evaluate (default: all)")
    parser.add_argument(
        "-j", "--num_workers", type=nonnegative_int, default=default_num_workers(), metavar="N",
        help="worker processes over videos; 0 = in this process (default: %(default)s)",
    )
    parser.add_argument("--decimals", type=int, default=4, choices=(3, 4, 5, 6), help="table precision (default: 4)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def check_mode(args: argparse.Namespace) -> None:
    """Exactly one of the two ways to name the data."""
    folder_mode = args.pred is not None or args.gt is not None
    if folder_mode:
        if args.pred is None or args.gt is None:
            raise UsageError("--pred and --gt go together")
        if args.dataset is not None or args.results_folder is not None:
            raise UsageError("give either --pred/--gt or --dataset/--split/--results-folder, not both")
    elif args.gt_subdir is not None:
        raise UsageError("--gt-subdir goes with --pred/--gt (a dataset config names its label folder)")
    else:
        missing = [f for f, v in (("--dataset", args.dataset), ("--split", args.split),
                                  ("--results-folder", args.results_folder)) if v is None]
        if missing:
            raise UsageError(f"missing {', '.join(missing)} (or use --pred and --gt)")


def run(args: argparse.Namespace, log=print) -> dict:
    """Evaluate, write the ``--json``/``--csv`` reports, print the table; returns the results."""
    check_mode(args)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    videos = [v for v in args.videos.split(",") if v] if args.videos else None
    common = dict(videos=videos, allow_missing=args.allow_missing, num_workers=args.num_workers,
                  progress=not args.no_progress, protocol=args.protocol)
    if args.pred is not None:
        results = evaluate_folders(args.pred, args.gt, gt_ext=args.gt_ext, gt_subdir=args.gt_subdir, **common)
    else:
        results = evaluate_split(args.data, args.dataset_config, args.dataset, args.split, args.results_folder,
                                 **common)
    try:
        write_reports(results, args.json, args.csv)
    except OSError as e:  # an unwritable report path: say which
        raise UsageError(f"cannot write report: {e}") from None
    log(format_table(results, args.decimals).rstrip("\n"))
    return results
