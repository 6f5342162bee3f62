"""Image pretraining of RCRNet (step 1 of the pipeline, which the authors shipped only as weights).

    python pretrain.py --data data/datasets --imagenet-checkpoint ./models/resnet50-0676ba61.pth
    # -> ./models/image_pretrained_model.pth, the --checkpoint of train.py and train_fgplg.py

All the work is in :mod:`libs.pipeline.pretraining`.
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.pretraining import build_parser, run
    from libs.utils.cli import run_main

    return run_main("pretrain.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
