"""Stage 1: image pretraining of RCRNet (``pretrain.py``), which the authors shipped only as
weights (``image_pretrained_model.pth``).

ImageModel on still-image saliency datasets (default MSRA-B + HKU-IS train), initialised
from a local ImageNet ResNet-50 file when one is given; the published augmentations
(colour jitter 0.3, random resized crop 0.7..1, random flip among four), BCE-with-logits,
Adam lr 1e-4, BatchNorm trained (batches of images, unlike the video stages). The best
epoch by validation S-measure is written as ``image_pretrained_model.pth``, the file
``train.py`` and ``train_fgplg.py`` start from.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset

from libs.datasets import DatasetError, ImageDataset, eval_transform, get_dataset_spec, image_train_transform
from libs.networks import ImageModel
from libs.utils.checkpoint import init_from_imagenet
from libs.utils.cli import UsageError
from libs.utils.precision import autocast_context

from .common import (
    add_data_args,
    add_model_args,
    add_runtime_args,
    add_training_args,
    load_config,
    require_file,
    sets_from,
)
from .stage import fit_stage, make_loaders, prepare_model, run_stage
from .validation import validate_frames

__all__ = ["build_parser", "run", "BEST_NAME"]

PREFIX = "image"
BEST_NAME = "image_pretrained_model.pth"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pretrain.py",
        description="Image pretraining of RCRNet (ImageModel) on still-image saliency datasets; writes "
                    f"<save-folder>/{BEST_NAME} for train.py and train_fgplg.py.",
    )
    add_data_args(parser)
    add_model_args(parser)
    add_training_args(parser, checkpoint="none", save_folder="./models", lr=1e-4, epochs=30,
                      train_sets="MSRA-B:train,HKU-IS:train", val_sets="MSRA-B:val", backup_epochs=10,
                      prefix=PREFIX)
    g = parser.add_argument_group("initialisation")
    g.add_argument("--imagenet-checkpoint", default=None, metavar="PTH",
                   help="torchvision resnet50 weights (e.g. resnet50-0676ba61.pth) for the backbone; "
                        "without it the whole model starts fresh (default: none)")
    g.add_argument("--freeze-bn", action="store_true",
                   help="keep BatchNorm statistics frozen, for very small batches (default: off)")
    add_runtime_args(parser, batch_size=8)
    return parser


def image_datasets(args, config, sets, transform):
    datasets = []
    for name, split in sets:
        spec = get_dataset_spec(config, name, kind="image", config_path=args.dataset_config)
        ds = ImageDataset(args.data, spec, split, transform=transform)
        ds.validate()
        datasets.append(ds)
    return datasets[0] if len(datasets) == 1 else ConcatDataset(datasets)


def run(args: argparse.Namespace, log=print) -> dict:
    if args.batch_size < 2 and not args.freeze_bn:
        # BatchNorm in training mode cannot normalise one image (ASPP's pooled branch is 1x1).
        raise UsageError(f"--batch-size {args.batch_size}: image pretraining trains BatchNorm, which needs at least "
                         f"2 images per batch (or keep it frozen with --freeze-bn)")
    config = load_config(args)
    train_sets, val_sets = sets_from(args, "train_sets", config), sets_from(args, "val_sets", config)
    return run_stage(args, lambda ctx, log: _run(args, ctx, config, train_sets, val_sets, log), log)


def _run(args, ctx, config, train_sets, val_sets, log):
    train_set = image_datasets(args, config, train_sets, image_train_transform(args.size))
    val_set = image_datasets(args, config, val_sets, eval_transform(args.size))
    log(f"train: {len(train_set)} images from {', '.join(f'{n}:{s}' for n, s in train_sets)}; "
        f"val: {len(val_set)} images")
    if len(train_set) <= ctx.world_size and not args.freeze_bn:  # a process would get batches of one image
        raise DatasetError(f"--train-sets {args.train_sets}: {len(train_set)} training image(s) for {ctx.world_size} "
                           f"process(es); trained BatchNorm needs at least 2 per batch (or use --freeze-bn)")

    model = ImageModel(output_stride=args.os, freeze_bn=args.freeze_bn)

    def from_imagenet():
        path = require_file(args.imagenet_checkpoint, "--imagenet-checkpoint", "ImageNet ResNet-50")
        log(f"ImageNet initialisation: {init_from_imagenet(model, path).summary()}")

    model, optimizer, start_epoch, best_score = prepare_model(
        model, args, ctx, log, initialise=from_imagenet if args.imagenet_checkpoint else None)
    # Trained BatchNorm: no batch of a single image at an epoch's end.
    train_loader, val_loader = make_loaders(args, ctx, train_set, val_set,
                                            drop_last=len(train_set) > args.batch_size * ctx.world_size)

    def train_step(model, batch):
        image = batch["image"].to(ctx.device, non_blocking=True)
        if args.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return F.binary_cross_entropy_with_logits(model(image).float(), batch["label"].to(ctx.device))

    def validate(model):
        def predict(batch):
            with autocast_context(ctx.device, args.amp):
                return model(batch["image"].to(ctx.device))

        return validate_frames(predict, val_loader, label_fn=lambda batch: batch["label"], progress=ctx.is_main)

    return fit_stage("pretrain.py", args, ctx, log, model, optimizer, train_loader, train_step, validate,
                     prefix=PREFIX, start_epoch=start_epoch, best_score=best_score, best_name=BEST_NAME)
