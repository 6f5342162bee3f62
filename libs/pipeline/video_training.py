"""Stage 4: video training of RCRNet+NER (``train.py``), on GT or GT + pseudo-labels.

Clips of ``--clip_len`` labelled frames (overlapping by one, played backwards with
probability 1/2), BCE-with-logits summed over the clip's frames, Adam (lr 1e-5),
BatchNorm frozen, the best epoch chosen by S-measure on the validation sets.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from libs.datasets import VideoClipDataset, check_sampling_args, eval_transform, video_train_transform
from libs.networks import VideoModel
from libs.utils.checkpoint import load_checkpoint, load_training_state
from libs.utils.distributed import cleanup_distributed, init_distributed, seed_everything
from libs.utils.training import FitConfig, build_adam, fit, wrap_for_training

from .common import (
    add_data_args,
    add_model_args,
    add_runtime_args,
    add_training_args,
    clip_from_batch,
    load_config,
    load_model_weights,
    make_loader,
    sets_from,
    subset,
)
from .validation import validate_video_model

__all__ = ["build_parser", "run", "video_loss"]

PREFIX = "video"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train RCRNet+NER (VideoModel) on video clips, optionally with pseudo-labels. "
                    "Runs as one process, or on several GPUs/nodes under torchrun.",
    )
    add_data_args(parser)
    add_model_args(parser)
    add_training_args(parser, checkpoint="./models/image_pretrained_model.pth",
                      save_folder="./models/checkpoints", lr=1e-5, epochs=100)
    g = parser.add_argument_group("semi-supervision")
    g.add_argument("--pseudo-label-folder", default="", metavar="DIR",
                   help="train on GT + the pseudo-labels in DIR/<m>_<l>/ (default: GT only)")
    g.add_argument("--label_interval", type=int, default=1, metavar="L",
                   help="keep every L-th ground-truth label (default: %(default)s)")
    g.add_argument("--frame_between_label_num", type=int, default=0, metavar="M",
                   help="pseudo-labelled frames per gap between kept labels (default: %(default)s)")
    g.add_argument("--clip_len", type=int, default=4, metavar="T", help="frames per clip (default: %(default)s)")
    g.add_argument("--augment", action="store_true",
                   help="opt-in augmentation drawn once per clip (jitter, crop, flip) (default: off)")
    add_runtime_args(parser)
    return parser


def video_loss(preds, labels: torch.Tensor) -> torch.Tensor:
    """``preds``: T logits ``(B, 1, S, S)``; ``labels (B, T, 1, S, S)`` -> BCE summed over frames."""
    return sum(F.binary_cross_entropy_with_logits(p.float(), labels[:, t]) for t, p in enumerate(preds))


def run(args: argparse.Namespace, log=print) -> dict:
    check_sampling_args(args.label_interval, args.frame_between_label_num, args.clip_len)
    config = load_config(args)
    train_sets, val_sets = sets_from(args, "train_sets"), sets_from(args, "val_sets")
    ctx = init_distributed(args.device)
    try:
        return _run(args, ctx, config, train_sets, val_sets, log if ctx.is_main else (lambda *_: None))
    finally:
        cleanup_distributed()


def _run(args, ctx, config, train_sets, val_sets, log):
    seed_everything(args.seed, ctx.rank)
    train_set = VideoClipDataset(
        args.data, config, train_sets, clip_len=args.clip_len, training=True,
        label_interval=args.label_interval, frame_between_label_num=args.frame_between_label_num,
        pseudo_label_folder=args.pseudo_label_folder or None, random_reverse_clip=True,
        transform=video_train_transform(args.size, augment=args.augment),
    )
    val_set = VideoClipDataset(args.data, config, val_sets, clip_len=args.clip_len, training=False,
                               transform=eval_transform(args.size))
    train_set.validate()
    val_set.validate()
    log(f"train: {len(train_set)} clips from {', '.join(f'{n}:{s}' for n, s in train_sets)}"
        f"{' + pseudo-labels ' + args.pseudo_label_folder if args.pseudo_label_folder else ''}; "
        f"val: {len(val_set)} clips from {', '.join(f'{n}:{s}' for n, s in val_sets)}")

    model = VideoModel(output_stride=args.os)
    start_epoch, best_score, state = args.start_epoch, float("-inf"), None
    if args.resume:
        state = load_training_state(args.resume)
        load_checkpoint(model, state["state_dict"], strict=True)
        start_epoch, best_score = state["epoch"], state["best_score"]
        log(f"resuming {args.resume}: {start_epoch} epochs done, best S-measure {best_score:.4f}")
    else:
        # An image model (NER keys missing) or a video model; the backbone must be complete.
        load_model_weights(model, args.checkpoint, strict=True, optional=lambda k: not k.startswith("backbone."),
                           log=log)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model = wrap_for_training(model, ctx)
    optimizer = build_adam(model, args.lr)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])

    train_loader = make_loader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers,
                               ctx=ctx, seed=args.seed, drop_last=False)
    val_loader = make_loader(subset(val_set, args.val_max_items), batch_size=args.batch_size, shuffle=False,
                             num_workers=args.num_workers, ctx=ctx, distributed=False)

    def train_step(model, batch):
        clip = clip_from_batch(batch["images"], ctx.device, args.channels_last)
        return video_loss(model(clip), batch["labels"].to(ctx.device, non_blocking=True))

    def validate(model):
        return validate_video_model(model, val_loader, ctx.device, args.amp, args.channels_last, progress=ctx.is_main)

    cfg = FitConfig(epochs=args.epochs, save_folder=args.save_folder, prefix=PREFIX, start_epoch=start_epoch,
                    backup_epochs=args.backup_epochs, eval_first=args.eval_first, amp=args.amp,
                    max_iters=args.max_iters)
    result = fit(model, optimizer, train_loader, train_step, validate, cfg, ctx, args=vars(args),
                 best_score=best_score, log=log)
    log(f"train.py: done; best val S-measure {result['best_score']:.4f} "
        f"(epoch {result['best_epoch']}) -> {result['best_path']}")
    return result
