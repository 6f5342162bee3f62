"""Stage 2: training the flow-guided pseudo-label generator (``train_fgplg.py``).

Triplets (left kept label, middle frame, right kept label) with the middle frame's GT as
target; FlowNet2 (or OpenCV flow) frozen, the 7-channel RCRNet trained from the image
model (conv1's extra 4 input channels start fresh) with frozen BatchNorm.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from libs.datasets import TripletDataset, check_sampling_args, eval_transform, video_train_transform
from libs.networks import FGPLG
from libs.networks.pseudo_label_generator import FLOW_SOURCES
from libs.utils.cli import UsageError
from libs.utils.training import autocast_context

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

__all__ = ["build_parser", "run", "fgplg_logits"]

PREFIX = "pseudo_label_generator"


def add_flow_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("optical flow")
    g.add_argument("--flow", choices=FLOW_SOURCES, default="flownet2",
                   help="flow source: FlowNet2 (needs --flownet-checkpoint) or OpenCV DIS flow, which needs "
                        "no weights; recorded in the checkpoint (default: %(default)s)")
    g.add_argument("--flownet-checkpoint", default="./models/FlowNet2_checkpoint.pth.tar", metavar="PTH",
                   help="NVIDIA's FlowNet2 weights, for --flow flownet2 (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train_fgplg.py",
        description="Train the flow-guided pseudo-label generator (FGPLG) on triplets of frames whose outer "
                    "frames keep their labels (every --label_interval-th annotation).",
    )
    add_data_args(parser)
    add_model_args(parser)
    add_training_args(parser, checkpoint="./models/image_pretrained_model.pth",
                      save_folder="./models/checkpoints", lr=1e-5, epochs=100)
    g = parser.add_argument_group("semi-supervision")
    g.add_argument("--label_interval", type=int, default=5, metavar="L",
                   help="keep every L-th ground-truth label (default: %(default)s)")
    g.add_argument("--frame_between_label_num", type=int, default=1, metavar="M",
                   help="frames labelled per gap between kept labels, 1 <= M < L (default: %(default)s)")
    add_flow_args(parser)
    add_runtime_args(parser)
    return parser


def fgplg_logits(model, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``images (B, 3, 3, S, S)`` [left, middle, right], ``labels (B, 3, 1, S, S)`` -> middle logits."""
    return model.generate_pseudo_label(images[:, 1], images[:, 0], images[:, 2], labels[:, 0], labels[:, 2])


def build_fgplg(args, log=print) -> FGPLG:
    """FGPLG with its flow source ready (FlowNet2 weights loaded, or OpenCV)."""
    flownet = None
    if args.flow == "flownet2":
        flownet = require_file(args.flownet_checkpoint, "--flownet-checkpoint",
                               "FlowNet2 checkpoint (or use --flow opencv, which needs no weights)")
    model = FGPLG(output_stride=args.os, flow=args.flow, flownet_checkpoint=flownet, allow_random_flownet=False)
    log(f"flow source: {args.flow}{' (' + str(flownet) + ')' if flownet else ''}")
    return model


def run(args: argparse.Namespace, log=print) -> dict:
    check_sampling_args(args.label_interval, args.frame_between_label_num)
    if args.frame_between_label_num < 1:
        raise UsageError("--frame_between_label_num must be >= 1 for FGPLG training")
    config = load_config(args)
    train_sets, val_sets = sets_from(args, "train_sets", config), sets_from(args, "val_sets", config)
    return run_stage(args, lambda ctx, log: _run(args, ctx, config, train_sets, val_sets, log), log)


def _run(args, ctx, config, train_sets, val_sets, log):
    l, m = args.label_interval, args.frame_between_label_num
    train_set = TripletDataset(args.data, config, train_sets, l, m, require_middle_label=True,
                               transform=video_train_transform(args.size))
    val_set = TripletDataset(args.data, config, val_sets, l, m, require_middle_label=True,
                             transform=eval_transform(args.size))
    train_set.validate()
    val_set.validate()
    log(f"train: {len(train_set)} triplets, val: {len(val_set)} triplets (l={l}, m={m})")

    # FlowNet2's weights come from --flownet-checkpoint, not from the image model.
    model, optimizer, start_epoch, best_score = prepare_model(
        build_fgplg(args, log), args, ctx, log, optional=lambda k: k.startswith("flownet."),
        expect={"flow": args.flow})
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
                return fgplg_logits(model, batch["images"].to(ctx.device), batch["labels"].to(ctx.device))

        return validate_frames(predict, val_loader,
                               key_fn=lambda batch, b: (batch["dataset"][b], batch["video"][b], batch["frames"][1][b]),
                               label_fn=lambda batch: batch["labels"][:, 1], progress=ctx.is_main)

    return fit_stage("train_fgplg.py", args, ctx, log, model, optimizer, train_loader, train_step, validate,
                     prefix=PREFIX, start_epoch=start_epoch, best_score=best_score,
                     checkpoint_extra={"flow": args.flow})
