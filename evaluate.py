"""Evaluate saliency maps: MAE, F-measure, S-measure, E-measure, weighted F, DAVIS J and F.

Usage:
    python evaluate.py --dataset DAVIS2016 --split val --results-folder results
        [--data data] [--dataset-config config/datasets.yaml] [--protocol davsod]
    python evaluate.py --pred PRED_DIR --gt GT_DIR [--gt-subdir NAME] [--protocol davsod]

Predictions of a split are read from ``<results-folder>/<DATASET>/<video>/<frame>.png``; only
frames with a GT file are evaluated. ``--gt`` may be a flat folder, a folder of ``<video>/``
GT folders, or a benchmark release with ``<video>/ground-truth/`` (``GT_object_level``,
``GT``) subfolders. Under ``--protocol per-video`` (default) every metric is averaged over
the frames of each video, "overall" is the mean over videos, "pooled" treats all frames as
one set; ``--protocol davsod`` is the DAVSOD toolbox's (EvaluateTool/main.m). See
docs/evaluation.md. All the work is in :mod:`libs.pipeline.evaluation` (flags: :mod:`libs.pipeline.evaluation.command`).
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.evaluation.command import build_parser, run
    from libs.utils.cli import run_main

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2): return it as the exit code
        return int(e.code or 0)
    return run_main("evaluate.py", run, args)


if __name__ == "__main__":
    sys.exit(main())
