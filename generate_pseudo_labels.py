"""Generate pseudo-labels with a trained FGPLG.

    python generate_pseudo_labels.py --data data/datasets --checkpoint ./models/pseudo_label_generator_5.pth \
        --label_interval 5 --frame_between_label_num 1 --pseudo-label-folder data/pseudo-labels
    python generate_pseudo_labels.py --input FRAMES --labels MASKS --out DENSE [--method fgplg|warp|copy]
    python generate_pseudo_labels.py --input FRAMES --labels MASKS --holdout 2 --json report.json

The published protocol is in :mod:`libs.pipeline.pseudo_labels`; your own videos labelled from
key frames (``--input``, ``--holdout``) in :mod:`libs.pipeline.keyframes` (docs/own-videos.md).
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.pseudo_labels import build_parser, run
    from libs.utils.cli import run_main

    return run_main("generate_pseudo_labels.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
