"""Train the flow-guided pseudo-label generator (FGPLG).

    python train_fgplg.py --data data/datasets --checkpoint ./models/image_pretrained_model.pth \
        --flownet-checkpoint ./models/FlowNet2_checkpoint.pth.tar --label_interval 5
    python train_fgplg.py ... --flow opencv          # no FlowNet2 weights needed
    python train_fgplg.py --input FRAMES --labels MASKS --flow opencv   # on your key frames (docs/own-videos.md)

All the work is in :mod:`libs.pipeline.fgplg_training`.
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.fgplg_training import build_parser, run
    from libs.utils.cli import run_main

    return run_main("train_fgplg.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
