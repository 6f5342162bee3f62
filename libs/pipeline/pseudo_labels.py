"""Stage 3: pseudo-label generation with a trained FGPLG (``generate_pseudo_labels.py``).

For each gap between two kept labels (every ``--label_interval``-th annotation), the
``--frame_between_label_num`` evenly spaced frames get a pseudo-label, written as 8-bit
PNG at the frame's original size to
``<pseudo-label-folder>/<m>_<l>/<DATASET>/<video>/<frame>.png`` (the folder ``train.py
--pseudo-label-folder`` reads). The flow source is the one recorded in the checkpoint.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm import tqdm

from libs.datasets import TripletDataset, check_sampling_args, eval_transform, pseudo_label_path
from libs.networks import FGPLG
from libs.networks.pseudo_label_generator import read_fgplg_checkpoint
from libs.utils.checkpoint import load_checkpoint
from libs.utils.cli import UsageError
from libs.utils.distributed import DistributedContext, resolve_device
from libs.utils.io import BackgroundWriter, save_png
from libs.utils.training import autocast_context

from .common import (
    DEFAULT_TRAIN_SETS,
    add_data_args,
    add_model_args,
    add_runtime_args,
    load_config,
    make_loader,
    require_file,
    sets_from,
)
from .fgplg_training import fgplg_logits
from .postprocess import probabilities_to_maps

__all__ = ["build_parser", "run", "load_fgplg"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="generate_pseudo_labels.py",
        description="Generate pseudo-labels for the frames between kept labels with a trained FGPLG.",
    )
    add_data_args(parser)
    g = parser.add_argument_group("generation")
    g.add_argument("--checkpoint", default="./models/pseudo_label_generator_5.pth", metavar="PTH",
                   help="trained FGPLG weights (default: %(default)s)")
    g.add_argument("--pseudo-label-folder", default="./data/pseudo-labels", metavar="DIR",
                   help="output root; maps go to DIR/<m>_<l>/<DATASET>/<video>/ (default: %(default)s)")
    g.add_argument("--sets", default=DEFAULT_TRAIN_SETS, metavar="NAME:SPLIT,...",
                   help="datasets and splits to label (default: %(default)s)")
    g.add_argument("--label_interval", type=int, default=5, metavar="L",
                   help="keep every L-th ground-truth label (default: %(default)s)")
    g.add_argument("--frame_between_label_num", type=int, default=1, metavar="M",
                   help="frames to pseudo-label per gap between kept labels, 1 <= M < L (default: %(default)s)")
    add_model_args(parser)
    add_runtime_args(parser, batch_size=1, workers=2)
    return parser


def load_fgplg(checkpoint, output_stride, device, log=print) -> FGPLG:
    """An FGPLG with its checkpoint loaded strictly, using the flow source recorded in it."""
    path = require_file(checkpoint, "--checkpoint", "FGPLG checkpoint")
    state, flow = read_fgplg_checkpoint(path)
    model = FGPLG(output_stride=output_stride, flow=flow, allow_random_flownet=True)  # weights come from `state`
    report = load_checkpoint(model, state, strict=True)
    log(f"{path}: loaded {len(report.loaded)} tensors (flow source: {flow})")
    return model.eval().to(device)


def run(args: argparse.Namespace, log=print) -> dict:
    l, m = args.label_interval, args.frame_between_label_num
    check_sampling_args(l, m)
    if m < 1:
        raise UsageError("--frame_between_label_num must be >= 1 to generate pseudo-labels")
    device = resolve_device(args.device)
    config = load_config(args)
    sets = sets_from(args, "sets", config)
    dataset = TripletDataset(args.data, config, sets, l, m, require_middle_label=False,
                             transform=eval_transform(args.size))
    dataset.validate()
    model = load_fgplg(args.checkpoint, args.os, device, log)
    loader = make_loader(dataset, batch_size=args.batch_size, shuffle=False, num_workers=args.num_workers,
                         ctx=DistributedContext(device=device), distributed=False)
    start, count = time.time(), 0
    with BackgroundWriter() as writer, torch.inference_mode():
        for batch in tqdm(loader, desc="pseudo-labels", dynamic_ncols=True):
            images = batch["images"].to(device, non_blocking=True)
            labels = batch["labels"].to(device, non_blocking=True)
            with autocast_context(device, args.amp):
                logits = fgplg_logits(model, images, labels)
            maps = probabilities_to_maps(torch.sigmoid(logits.float()), batch["sizes"][:, 1].tolist())
            for b, saliency in enumerate(maps):
                target = pseudo_label_path(args.pseudo_label_folder, m, l, batch["dataset"][b],
                                           batch["video"][b], batch["frames"][1][b])
                writer.submit(save_png, saliency, target)
                count += 1
    out = Path(args.pseudo_label_folder) / f"{m}_{l}"
    log(f"generate_pseudo_labels.py: wrote {count} pseudo-labels to {out} in {time.time() - start:.1f}s"
        + (f" ({len(dataset.skipped)} videos too short for a triplet)" if dataset.skipped else ""))
    return {"count": count, "folder": str(out)}
