"""Stage 2: training the flow-guided pseudo-label generator (``train_fgplg.py``).

Within the label budget, as published: triplets of three consecutive kept labels (every
``--label_interval``-th annotation), each played backwards with probability 1/2; the
generator labels the middle frame from the outer two and is trained against the middle
frame's kept label. No other label is ever read. Validation uses the kept-label triplets
of the validation sets. FlowNet2 (or OpenCV flow) stays frozen; the 7-channel RCRNet starts
from the image model (conv1's extra 4 input channels start fresh) with frozen BatchNorm.

With ``--input FRAMES --labels MASKS`` (a user's own videos, no dataset config) the labels are
the key frames, at whatever spacing they have: triplets of consecutive key frames by the same
rules (``--label_interval`` keeps every l-th key frame, default 1: the user's key frames are
the budget); validation as :func:`libs.pipeline.user_data.split_validation` says.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

from flownet2.ops import describe_backends
from libs.datasets import TripletDataset, check_label_interval, eval_transform, video_train_transform
from libs.datasets.frames import VideoFrames, kept_labels
from libs.datasets.indexing import TRIPLET_LEN
from libs.datasets.user_videos import check_masks, enough_key_frames
from libs.networks import FGPLG
from libs.networks.flow import FLOW_SOURCES, RAFT_ITERS
from libs.networks.flow.raft import raft_weights_path
from libs.utils.cli import UsageError, positive_float, positive_int
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
from .user_data import (
    add_input_args,
    add_validation_args,
    check_input_flags,
    load_input_videos,
    mark_defaults,
    split_validation,
)
from .validation import validate_frames

__all__ = ["build_parser", "run", "fgplg_logits", "input_triplets"]

PREFIX = "fgplg"
PUBLISHED_LABEL_INTERVAL = 5  # 20% of the benchmark's annotations, as published
INPUT_LABEL_INTERVAL = 1  # with --input, every key frame: the user's key frames are the budget


def add_flow_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("optical flow")
    g.add_argument("--flow", choices=FLOW_SOURCES, default="flownet2",
                   help="flow source: FlowNet2 (published; needs --flownet-checkpoint), OpenCV DIS flow (no "
                        "weights; for trying the pipeline) or torchvision's RAFT (--raft-checkpoint or "
                        "torchvision's download cache); its weights go into the FGPLG checkpoint, from which "
                        "generation reads it (default: %(default)s)")
    g.add_argument("--flownet-checkpoint", default="./models/FlowNet2_checkpoint.pth.tar", metavar="PTH",
                   help="NVIDIA's FlowNet2 weights, for --flow flownet2 (default: %(default)s)")
    add_raft_args(g, checkpoint=True)
    add_published_flow_args(g)


def add_published_flow_args(group) -> None:
    """The published scripts' FlowNet2 settings."""
    group.add_argument("--rgb_max", type=positive_float, default=1.0, metavar="V",
                       help="full intensity the flow network assumes; the FGPLG feeds it frames in [0, 1], as "
                            "published (default: %(default)s)")
    group.add_argument("--fp16", action="store_true",
                       help="run the flow network in half precision (fp16 autocast on a GPU, bf16 on a CPU) "
                            "(default: off)")


def add_raft_args(group, checkpoint: bool) -> None:
    if checkpoint:
        group.add_argument("--raft-checkpoint", default=None, metavar="PTH",
                           help="torchvision raft_large or raft_small weights (the variant is read off the keys), "
                                "for --flow raft (default: torchvision's cache, $TORCH_HOME/hub/checkpoints/)")
    group.add_argument("--raft-iters", type=positive_int, default=RAFT_ITERS, metavar="N",
                       help="RAFT's refinement steps, for --flow raft (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train_fgplg.py",
        description="Train the flow-guided pseudo-label generator (FGPLG) within the label budget: on "
                    "triplets of three consecutive kept labels (every --label_interval-th annotation), "
                    "labelling the middle frame from the outer two. With --input FRAMES --labels MASKS: on "
                    "triplets of consecutive key frames (the frames with a mask) of your own videos.",
    )
    add_data_args(parser)
    g = add_input_args(parser, "masks of the key frames: the FGPLG trains on triplets of consecutive key frames, "
                               "at whatever spacing they have (a video needs 3)")
    add_validation_args(g)
    add_model_args(parser)
    add_training_args(parser, checkpoint="./models/image_pretrained_model.pth",
                      save_folder="./models/checkpoints", lr=1e-5, epochs=50, prefix=PREFIX)
    mark_defaults(parser)
    g = parser.add_argument_group("semi-supervision")
    g.add_argument("--label_interval", type=int, default=None, metavar="L",
                   help=f"the label budget: keep every L-th ground-truth label of each video, 1/L of the "
                        f"annotations; with --input, every L-th key frame (default: {PUBLISHED_LABEL_INTERVAL}; "
                        f"with --input: {INPUT_LABEL_INTERVAL}, every key frame)")
    g.add_argument("--clip_len", type=int, choices=(3,), default=3, metavar="3",
                   help="frames per training clip: the generator takes triplets, as published (default: %(default)s)")
    g.add_argument("--no-reverse", action="store_true",
                   help="do not play training triplets backwards with probability 1/2 (published: they are)")
    # Not a flag of the published train_fgplg.py: m is chosen at generation. Refused with a reason.
    g.add_argument("--frame_between_label_num", type=int, default=None, help=argparse.SUPPRESS)
    add_flow_args(parser)
    add_runtime_args(parser)
    return parser


def fgplg_logits(model, images: torch.Tensor, outer_labels: torch.Tensor) -> torch.Tensor:
    """``images (B, 3, 3, S, S)`` [left, middle, right], ``outer_labels (B, 2, 1, S, S)`` [left, right]
    -> logits of the middle frame ``(B, 1, S, S)``."""
    return model.generate_pseudo_label(images[:, 1], images[:, 0], images[:, 2], outer_labels[:, 0],
                                       outer_labels[:, 1])


def flow_weights(flow: str, flownet_checkpoint: Optional[str], raft_checkpoint: Optional[str]) -> Optional[Path]:
    """The weights file of ``--flow``, checked: FlowNet2's is required, RAFT's optional (else
    torchvision's cache), OpenCV flow has none."""
    if flow == "flownet2":
        return require_file(flownet_checkpoint, "--flownet-checkpoint",
                            "FlowNet2 checkpoint (or use --flow opencv, which needs no weights)")
    if flow == "raft" and raft_checkpoint:
        return require_file(raft_checkpoint, "--raft-checkpoint", "RAFT checkpoint")
    return None


def build_fgplg(args, log=print) -> FGPLG:
    """FGPLG with its flow source ready (FlowNet2 or RAFT weights loaded, or OpenCV)."""
    weights = flow_weights(args.flow, args.flownet_checkpoint, args.raft_checkpoint)
    model = FGPLG(output_stride=args.os, flow=args.flow, flownet_checkpoint=weights, allow_random_flownet=False,
                  raft_iters=args.raft_iters, rgb_max=args.rgb_max, flow_fp16=args.fp16)
    log(f"flow source: {args.flow}" + (f" ({weights})" if weights else " (torchvision's cache)" if args.flow == "raft"
                                       else ""))
    return model


def log_ops_backends(device, flow: str, log) -> None:
    """Which implementation of FlowNet2's ops runs: all three with FlowNet2; otherwise only
    resample2d, which warps the labels whatever the flow (so nothing else gets built)."""
    ops = ("correlation", "resample2d", "channelnorm") if flow == "flownet2" else ("resample2d",)
    log(describe_backends(torch.device(device).type, ops=ops))


def run(args: argparse.Namespace, log=print) -> dict:
    if args.frame_between_label_num is not None:
        raise UsageError("--frame_between_label_num is not a train_fgplg.py flag: the generator trains on "
                         "triplets of consecutive kept labels; choose m with generate_pseudo_labels.py")
    own_videos = check_input_flags(args)
    if args.label_interval is None:
        args.label_interval = INPUT_LABEL_INTERVAL if own_videos else PUBLISHED_LABEL_INTERVAL
    check_label_interval(args.label_interval)
    if own_videos:
        return run_stage(args, lambda ctx, log: _fit(args, ctx, *input_triplets(args, log), log), log)
    config = load_config(args)
    train_sets, val_sets = sets_from(args, "train_sets", config), sets_from(args, "val_sets", config)
    return run_stage(args, lambda ctx, log: _fit(args, ctx, *_benchmark_triplets(args, config, train_sets,
                                                                                  val_sets, log), log), log)


def _benchmark_triplets(args, config, train_sets, val_sets, log) -> Tuple[TripletDataset, TripletDataset]:
    l = args.label_interval
    train_set = TripletDataset(args.data, config, train_sets, l, random_reverse=not args.no_reverse,
                               transform=video_train_transform(args.size))
    val_set = TripletDataset(args.data, config, val_sets, l, transform=eval_transform(args.size))
    train_set.validate()
    val_set.validate()
    log(f"train: {len(train_set)} triplets of consecutive kept labels, val: {len(val_set)} (l={l}: 1 label in "
        f"{l} kept)" + _skipped(train_set, val_set))
    return train_set, val_set


def input_triplets(args: argparse.Namespace, log=print) -> Tuple[TripletDataset, TripletDataset]:
    """Training and validation triplets of ``--input``'s videos (``args`` as :func:`run` resolves them).

    Videos with fewer than 3 kept key frames are skipped with a warning line each; every kept
    key mask is decoded and checked against its frame's size before any training.
    """
    l = args.label_interval

    def prepare(videos: List[VideoFrames], flag: str) -> List[VideoFrames]:
        masks = args.val_labels if flag == "--val-labels" else args.labels
        what = f"FGPLG {'validation' if flag == '--val-labels' else 'training'} on {flag} {masks}"
        usable = enough_key_frames(videos, TRIPLET_LEN, what, log, label_interval=l)
        check_masks([replace(vf, labels=tuple(kept_labels(vf, l))) for vf in usable])  # only the budget is read
        return usable

    split = split_validation(args, prepare(load_input_videos(args, log).videos, "--labels"), prepare, log)
    log(split.line)
    train_set = TripletDataset(label_interval=l, random_reverse=not args.no_reverse,
                               transform=video_train_transform(args.size), videos=split.train)
    val_set = TripletDataset(label_interval=l, transform=eval_transform(args.size), videos=split.val)
    kept = "every key frame" if l == 1 else f"1 key frame in {l} kept"
    log(f"train: {len(train_set)} triplets of consecutive key frames from {len(split.train)} video(s) of --input "
        f"{args.input} (l={l}: {kept}), val: {len(val_set)}")
    return train_set, val_set


def _fit(args, ctx, train_set, val_set, log):
    # FlowNet2's weights come from --flownet-checkpoint, not from the image model or the state.
    flow_info = flow_record(args)
    model, optimizer, start_epoch, best_score = prepare_model(
        build_fgplg(args, log), args, ctx, log, optional=is_flow_key, expect={"flow": args.flow})
    log_ops_backends(ctx.device, args.flow, log)
    train_loader, val_loader = make_loaders(args, ctx, train_set, val_set)

    def train_step(model, batch):
        images = batch["images"].to(ctx.device, non_blocking=True)
        labels = batch["labels"].to(ctx.device, non_blocking=True)
        # Call the (possibly DDP-wrapped) module itself so gradients are synchronised.
        logits = model(list(images.unbind(1)), list(labels.unbind(1)))
        return F.binary_cross_entropy_with_logits(logits.float(), labels[:, 1])

    def validate(model):
        def predict(batch):
            with autocast_context(ctx.device, args.amp):
                return fgplg_logits(model, batch["images"].to(ctx.device), batch["labels"][:, 0::2].to(ctx.device))

        return validate_frames(predict, val_loader, label_fn=lambda batch: batch["labels"][:, 1],
                               progress=ctx.is_main)

    # The last state keeps the trainable weights and points to the frozen flow weights.
    return fit_stage("train_fgplg.py", args, ctx, log, model, optimizer, train_loader, train_step, validate,
                     prefix=PREFIX, start_epoch=start_epoch, best_score=best_score,
                     state_extra=flow_info, state_keys=lambda k: not is_flow_key(k))


def is_flow_key(key: str) -> bool:
    return key.startswith("flownet.")


def flow_record(args) -> dict:
    """What the last state records of the flow source instead of its (frozen) weights."""
    weights = None
    if args.flow == "flownet2":
        weights = Path(args.flownet_checkpoint).resolve()
    elif args.flow == "raft":
        weights = raft_weights_path(args.raft_checkpoint).resolve()
    return {"flow": args.flow, "flow_weights": str(weights) if weights else None}


def _skipped(*datasets) -> str:
    skipped = [f"{d}/{v}" for ds in datasets for d, v in ds.skipped]
    if not skipped:
        return ""
    shown = ", ".join(skipped[:5]) + (f", ... ({len(skipped) - 5} more)" if len(skipped) > 5 else "")
    return f"; {len(skipped)} videos with fewer than 3 kept labels give no triplet: {shown}"
