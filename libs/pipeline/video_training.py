"""Stage 4: video training of RCRNet+NER (``train.py``), on all the GT or on a pseudo-label folder.

Clips of ``--clip_len`` labelled frames (overlapping by one, played backwards with
probability 1/2), BCE-with-logits summed over the clip's frames, Adam (lr 1e-5),
BatchNorm frozen, the best epoch chosen by S-measure on the validation clips (built by the
same overlapping rule, as published). With ``--pseudo-label-folder <root>/<m>_<l>`` the
training sets use exactly the labels found in that folder (kept GT + pseudo-labels) and
never the dataset's own GT.

With ``--input FRAMES --labels DENSE`` (a user's own videos, no dataset config): clips of the
frames that have a mask in DENSE (the key frames and the labels
``generate_pseudo_labels.py --input ... --out DENSE`` wrote, or any masks laid out alike), by the
same clip rules; validation as :func:`libs.pipeline.user_data.split_validation` says.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Tuple

import torch
import torch.nn.functional as F

from libs.datasets import DatasetError, VideoClipDataset, check_clip_len, eval_transform, video_train_transform
from libs.datasets.frames import VideoFrames
from libs.datasets.user_videos import GENERATED_MANIFEST, check_masks
from libs.networks import VideoModel
from libs.utils.cli import UsageError

from .common import (
    add_data_args,
    add_model_args,
    add_runtime_args,
    add_training_args,
    clip_from_batch,
    load_config,
    sets_from,
)
from .stage import fit_stage, make_loaders, prepare_model, run_stage
from .user_data import (
    add_input_args,
    add_validation_args,
    check_input_flags,
    load_input_videos,
    mark_defaults,
    split_validation,
)
from .validation import validate_video_model

__all__ = ["build_parser", "run", "video_loss", "input_clips"]

PREFIX = "video"
# Up to this many masks of --input mode are decoded before training (~6 ms each at 854x480); beyond,
# their headers are checked and a mask that fails to decode later stops training with its name.
DECODE_CHECK_LIMIT = 2000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train RCRNet+NER (VideoModel) on video clips, optionally with pseudo-labels. "
                    "With --input FRAMES --labels DENSE: on your own videos, on the frames that have a mask. "
                    "Runs as one process, or on several GPUs/nodes under torchrun.",
    )
    add_data_args(parser)
    g = add_input_args(parser, "the masks to train on (e.g. the --out DENSE folder of generate_pseudo_labels.py "
                               "--input: key frames and generated labels); clips of the frames that have one")
    add_validation_args(g)
    add_model_args(parser)
    add_training_args(parser, checkpoint="./models/image_pretrained_model.pth",
                      save_folder="./models/checkpoints", lr=1e-5, epochs=50, prefix=PREFIX)
    mark_defaults(parser)
    g = parser.add_argument_group("semi-supervision")
    g.add_argument("--pseudo-label-folder", default="", metavar="DIR",
                   help="a folder written by generate_pseudo_labels.py, <root>/<m>_<l> (e.g. data/pseudo-labels/1_5): "
                        "train on exactly the labels in it (the kept GT and the pseudo-labels); the datasets' own "
                        "GT is not read (default: none, train on all the GT)")
    # The folder fixes l and m; flags that could contradict it are refused with a reason.
    for flag in ("--label_interval", "--frame_between_label_num"):
        g.add_argument(flag, type=int, default=None, help=argparse.SUPPRESS)
    g.add_argument("--clip_len", type=int, default=4, metavar="T", help="frames per clip (default: %(default)s)")
    g.add_argument("--no-reverse", action="store_true",
                   help="do not play training clips backwards with probability 1/2 (published: they are)")
    g.add_argument("--augment", action="store_true",
                   help="opt-in augmentation drawn once per clip (jitter, crop, flip) (default: off)")
    add_runtime_args(parser)
    return parser


def video_loss(preds, labels: torch.Tensor) -> torch.Tensor:
    """``preds``: T logits ``(B, 1, S, S)``; ``labels (B, T, 1, S, S)`` -> BCE summed over frames."""
    return sum(F.binary_cross_entropy_with_logits(p.float(), labels[:, t]) for t, p in enumerate(preds))


def run(args: argparse.Namespace, log=print) -> dict:
    if args.label_interval is not None or args.frame_between_label_num is not None:
        raise UsageError("--label_interval/--frame_between_label_num are not train.py flags: pass the folder "
                         "generate_pseudo_labels.py wrote for them, --pseudo-label-folder <root>/<m>_<l>")
    check_clip_len(args.clip_len)
    if check_input_flags(args):
        if args.pseudo_label_folder:
            raise UsageError("--pseudo-label-folder goes with --data; with --input, --labels is the folder of "
                             "masks to train on")
        return run_stage(args, lambda ctx, log: _fit(args, ctx, *input_clips(args, log), log), log)
    config = load_config(args)
    train_sets, val_sets = sets_from(args, "train_sets", config), sets_from(args, "val_sets", config)
    return run_stage(args, lambda ctx, log: _fit(args, ctx, *_benchmark_clips(args, config, train_sets, val_sets,
                                                                               log), log), log)


def input_clips(args: argparse.Namespace, log=print) -> Tuple[VideoClipDataset, VideoClipDataset]:
    """Training and validation clips of ``--input``'s videos, on the frames with a mask in ``--labels``.

    A video without any mask is skipped with a warning line; the masks are checked against
    their frames' sizes (and decoded, up to :data:`DECODE_CHECK_LIMIT` of them) before training.
    """
    def prepare(videos: List[VideoFrames], flag: str) -> List[VideoFrames]:
        masks = args.val_labels if flag == "--val-labels" else args.labels
        usable = [vf for vf in videos if vf.labels]
        for vf in videos:
            if not vf.labels:
                log(f"warning: video {vf.video!r} skipped: no mask for any of its frames in {vf.label_dir}")
        if not usable:
            raise DatasetError(f"{masks}: no mask for any frame of the {len(videos)} video(s) ({flag} mirrors the "
                               f"frames: <video>/<stem>.png)")
        count = sum(len(vf.labels) for vf in usable)
        check_masks(usable, decode=count <= DECODE_CHECK_LIMIT)
        return usable

    split = split_validation(args, prepare(load_input_videos(args, log).videos, "--labels"), prepare, log)
    log(split.line)
    train_set = VideoClipDataset(clip_len=args.clip_len, training=True, random_reverse_clip=not args.no_reverse,
                                 transform=video_train_transform(args.size, augment=args.augment), videos=split.train)
    val_set = VideoClipDataset(clip_len=args.clip_len, training=True, transform=eval_transform(args.size),
                               videos=split.val)
    labels = sum(len(used) for used in train_set.frames)
    made = " (written by generate_pseudo_labels.py)" if (Path(args.labels) / GENERATED_MANIFEST).is_file() else ""
    log(f"train: {len(train_set)} clips, {labels} labelled frames from {len(split.train)} video(s) of --input "
        f"{args.input}, the masks of {args.labels}{made}; val: {len(val_set)} clips")
    return train_set, val_set


def _benchmark_clips(args, config, train_sets, val_sets, log) -> Tuple[VideoClipDataset, VideoClipDataset]:
    train_set = VideoClipDataset(
        args.data, config, train_sets, clip_len=args.clip_len, training=True,
        label_folder=args.pseudo_label_folder or None, random_reverse_clip=not args.no_reverse,
        transform=video_train_transform(args.size, augment=args.augment),
    )
    val_set = VideoClipDataset(args.data, config, val_sets, clip_len=args.clip_len, training=True,
                               transform=eval_transform(args.size))
    train_set.validate()
    val_set.validate()
    labels = sum(len(used) for used in train_set.frames)
    source = "all GT labels"
    if args.pseudo_label_folder:
        m = train_set.manifest
        made = f" (l={m.label_interval}, m={m.frame_between_label_num})" if m else " (no manifest)"
        source = f"the labels of {args.pseudo_label_folder}{made}"
    log(f"train: {len(train_set)} clips, {labels} labelled frames from {', '.join(f'{n}:{s}' for n, s in train_sets)}"
        f", {source}; val: {len(val_set)} clips from {', '.join(f'{n}:{s}' for n, s in val_sets)}")
    return train_set, val_set


def _fit(args, ctx, train_set, val_set, log):
    # An image model (NER keys missing) or a video model; the backbone must be complete.
    model, optimizer, start_epoch, best_score = prepare_model(
        VideoModel(output_stride=args.os), args, ctx, log, optional=lambda k: not k.startswith("backbone."))
    train_loader, val_loader = make_loaders(args, ctx, train_set, val_set)

    def train_step(model, batch):
        clip = clip_from_batch(batch["images"], ctx.device, args.channels_last)
        return video_loss(model(clip), batch["labels"].to(ctx.device, non_blocking=True))

    def validate(model):
        return validate_video_model(model, val_loader, ctx.device, args.amp, args.channels_last, progress=ctx.is_main)

    return fit_stage("train.py", args, ctx, log, model, optimizer, train_loader, train_step, validate,
                     prefix=PREFIX, start_epoch=start_epoch, best_score=best_score)
