"""Saliency maps with a trained RCRNet+NER.

    python inference.py --data data/datasets --dataset DAVIS2016 --split val \
        --checkpoint ./models/video_best_model.pth --results-folder data/results
    python inference.py --input my_video.mp4 --checkpoint ./models/video_best_model.pth --overlay

All the work is in :mod:`libs.pipeline.inference`.
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.inference import build_parser, run
    from libs.utils.cli import run_main

    return run_main("inference.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
