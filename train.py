"""Train RCRNet+NER (VideoModel) on video clips, optionally with FGPLG pseudo-labels.

    python train.py --data data/datasets --checkpoint ./models/image_pretrained_model.pth \
        [--pseudo-label-folder data/pseudo-labels/1_5]    # the folder generate_pseudo_labels.py wrote
    torchrun --nproc_per_node 4 train.py ...   # DistributedDataParallel, same flags
    python train.py --input FRAMES --labels DENSE   # your own videos and their masks (docs/own-videos.md)

All the work is in :mod:`libs.pipeline.video_training`.
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.video_training import build_parser, run
    from libs.utils.cli import run_main

    return run_main("train.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
