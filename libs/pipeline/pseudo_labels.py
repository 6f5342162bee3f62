"""Stage 3: pseudo-label generation with a trained FGPLG (``generate_pseudo_labels.py``).

Writes the self-contained folder ``<pseudo-label-folder>/<m>_<l>/`` that ``train.py
--pseudo-label-folder <root>/<m>_<l>`` trains on (:mod:`libs.datasets.pseudo_label_folder`):
the kept GT labels (every ``--label_interval``-th annotation), copied byte for byte, and
a pseudo-label, as an 8-bit PNG at the frame's size, for each of the
``--frame_between_label_num`` frames ``k + j * (l*d)//(m+1)`` after every kept label ``k``
but the last (d = the dataset's ``default_label_interval``), generated from the kept
labels on both sides. Only kept GT is read. The flow source is the one recorded in the
checkpoint.

The same command labels a user's own videos from their key frames (``--input FRAMES --labels
MASKS --out DIR``) and reports on hidden key frames (``--holdout K``):
:mod:`libs.pipeline.keyframes`, which :func:`run` hands those modes to.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch
from tqdm import tqdm

from libs.datasets import PseudoLabelDataset, check_label_interval, eval_transform, folder_name
from libs.datasets.pseudo_label_folder import (
    check_generation_target,
    dataset_entry,
    pseudo_label_path,
    video_label_folder,
)
from libs.networks import FGPLG
from libs.networks.flow import RAFT_ITERS
from libs.networks.pseudo_label_generator import build_fgplg_for_checkpoint, read_fgplg_checkpoint
from libs.utils.checkpoint import load_checkpoint
from libs.utils.distributed import DistributedContext, resolve_device
from libs.utils.io import BackgroundWriter, atomic_path, save_png
from libs.utils.precision import autocast_context

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
from .fgplg_training import add_published_flow_args, add_raft_args, fgplg_logits, log_ops_backends
from .postprocess import probabilities_to_maps

__all__ = ["build_parser", "run", "load_fgplg", "copy_file"]


def build_parser() -> argparse.ArgumentParser:
    # libs.pipeline.keyframes imports this module (load_fgplg): imported when used, not at the top.
    from .keyframes.options import DEFAULT_CHECKPOINT, PUBLISHED_M, add_flow_source_args, add_keyframe_args

    parser = argparse.ArgumentParser(
        prog="generate_pseudo_labels.py",
        description="Write a self-contained pseudo-label folder <pseudo-label-folder>/<m>_<l>: the kept GT "
                    "labels (every --label_interval-th annotation) and, with a trained FGPLG, pseudo-labels "
                    "for --frame_between_label_num frames after each kept label. With --input FRAMES --labels "
                    "MASKS --out DIR: label your own videos from their key frames (the frames with a mask), every "
                    "frame between two key frames. With --holdout K: a quality report on hidden key frames "
                    "(docs/own-videos.md).",
    )
    add_data_args(parser)
    g = parser.add_argument_group("generation")
    g.add_argument("--checkpoint", default=None, metavar="PTH",
                   help="trained FGPLG weights (not read when M is 0, nor by --method warp or copy unless given; "
                        "'none': no FGPLG, and --holdout scores the baselines only) "
                        f"(default: {DEFAULT_CHECKPOINT}; with --method warp or copy: none)")
    g.add_argument("--pseudo-label-folder", default="./data/pseudo-labels", metavar="DIR",
                   help="output root; labels go to DIR/<m>_<l>/<DATASET>/<video>/ (default: %(default)s)")
    g.add_argument("--sets", default=DEFAULT_TRAIN_SETS, metavar="NAME:SPLIT,...",
                   help="datasets and splits to label (default: %(default)s)")
    g.add_argument("--label_interval", type=int, default=5, metavar="L",
                   help="the label budget: keep every L-th ground-truth label (default: %(default)s)")
    g.add_argument("--frame_between_label_num", type=int, default=None, metavar="M",
                   help="pseudo-labelled frames after each kept label, at steps of (L x D) // (M + 1) frames, "
                        "D = the dataset's default_label_interval; 0 <= M < L x D; 0 writes the kept GT only. With "
                        "--input: M frames per gap between two key frames a < b, at a + j x ((b - a) // (M + 1)), "
                        "j = 1..M (every frame of a gap too small for M) "
                        f"(default: {PUBLISHED_M}; with --input: every frame between two key frames)")
    add_keyframe_args(parser)
    flow = parser.add_argument_group("optical flow (with an FGPLG checkpoint, the source is the one it holds)")
    add_raft_args(flow, checkpoint=False)
    add_published_flow_args(flow)
    add_flow_source_args(flow)
    add_model_args(parser)
    add_runtime_args(parser, batch_size=1, workers=2)
    return parser


def load_fgplg(checkpoint, output_stride, device, log=print, raft_iters: int = RAFT_ITERS, rgb_max: float = 1.0,
               flow_fp16: bool = False) -> FGPLG:
    """An FGPLG with its checkpoint loaded strictly, using the flow source (and weights) recorded in it."""
    path = require_file(checkpoint, "--checkpoint", "FGPLG checkpoint")
    state, flow = read_fgplg_checkpoint(path)
    model = build_fgplg_for_checkpoint(state, flow, output_stride, raft_iters, rgb_max, flow_fp16)  # weights: `state`
    report = load_checkpoint(model, state, strict=True)
    log(f"{path}: loaded {len(report.loaded)} tensors (flow source: {flow})")
    log_ops_backends(device, flow, log)
    return model.eval().to(device)


def copy_file(source: Path, target: Path) -> None:
    """``source`` copied byte for byte to ``target``, atomically (a kept or key label)."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def _update_manifest(root: Path, manifest, dataset) -> int:
    """Enter every file this run will write in the manifest (before writing, so an interrupted
    run is known), removing what an earlier run listed for these videos and this one does
    not write (only files the manifest lists: nothing else is ever deleted). Returns how
    many files were removed."""
    for spec, _ in dataset.sets:
        manifest.datasets.setdefault(spec.name, {"entry": dataset_entry(spec), "videos": {}})
    removed = 0
    for plan in dataset.plans:
        vf = plan.vf
        entry = {"kept": [f.name for f in plan.kept_files()], "pseudo": plan.pseudo_names()}
        for name in set(manifest.files(vf.dataset, vf.video)) - set(entry["kept"] + entry["pseudo"]):
            stale = video_label_folder(root, vf.dataset, vf.video) / name
            if stale.is_file():
                stale.unlink()
                removed += 1
        manifest.datasets[vf.dataset]["videos"][vf.video] = entry
    return removed


def run(args: argparse.Namespace, log=print) -> dict:
    from .keyframes.options import resolve

    settings = resolve(args)
    if settings.mode == "generate":
        from .keyframes.generation import run_generation

        return run_generation(args, settings, log)
    if settings.mode == "holdout":
        from .keyframes.holdout import run_holdout

        return run_holdout(args, settings, log)
    args.checkpoint, args.frame_between_label_num = str(settings.checkpoint), settings.m
    l, m = args.label_interval, args.frame_between_label_num
    check_label_interval(l)
    device = resolve_device(args.device)
    config = load_config(args)
    sets = sets_from(args, "sets", config)
    dataset = PseudoLabelDataset(args.data, config, sets, l, m, transform=eval_transform(args.size))
    manifest = check_generation_target(args.pseudo_label_folder, l, m, [spec for spec, _ in dataset.sets])
    dataset.validate()
    model = (load_fgplg(args.checkpoint, args.os, device, log, args.raft_iters, args.rgb_max, args.fp16)
             if len(dataset) else None)
    root = Path(args.pseudo_label_folder) / folder_name(m, l)
    removed = _update_manifest(root, manifest, dataset)
    manifest.complete = False
    manifest.save(root)
    start, count = time.time(), 0
    kept = [(f, video_label_folder(root, plan.vf.dataset, plan.vf.video) / f.name)
            for plan in dataset.plans for f in plan.kept_files()]
    with BackgroundWriter() as writer:
        for source, target in kept:
            writer.submit(copy_file, source, target)
        if model is not None:
            count = _generate(args, model, dataset, root, device, writer)
    manifest.complete = True
    manifest.save(root)
    on_kept = sum(len(p.on_kept) for p in dataset.plans)
    if dataset.plans:
        log(f"e.g. {_describe(dataset.plans[0])}")
    log(f"generate_pseudo_labels.py: {root}: {len(kept)} kept GT labels copied, {count} pseudo-labels written "
        f"in {time.time() - start:.1f}s (l={l}, m={m})"
        + (f"; {on_kept} positions fell on kept labels and keep their GT" if on_kept else "")
        + (f"; {removed} stale files of an earlier run removed" if removed else ""))
    return {"count": count, "kept": len(kept), "folder": str(root)}


def _describe(plan) -> str:
    """``DATASET/video: kept GT on frames [...], pseudo-labels on [...] (from [left, right])``."""
    vf = plan.vf
    jobs = ", ".join(f"{vf.frames[p].stem} (from {vf.frames[a].stem}, {vf.frames[b].stem})" for a, p, b in plan.jobs)
    return (f"{vf.dataset}/{vf.video}: kept GT on frames {', '.join(vf.frames[k].stem for k in plan.kept)}; "
            f"pseudo-labels on {jobs or 'none'}")


def _generate(args, model, dataset, root: Path, device, writer) -> int:
    loader = make_loader(dataset, batch_size=args.batch_size, shuffle=False, num_workers=args.num_workers,
                         ctx=DistributedContext(device=device), distributed=False)
    count = 0
    with torch.inference_mode():
        for batch in tqdm(loader, desc="pseudo-labels", dynamic_ncols=True):
            images = batch["images"].to(device, non_blocking=True)
            outer = batch["labels"].to(device, non_blocking=True)
            with autocast_context(device, args.amp):
                logits = fgplg_logits(model, images, outer)
            maps = probabilities_to_maps(torch.sigmoid(logits.float()), batch["sizes"][:, 1].tolist())
            for b, saliency in enumerate(maps):
                target = pseudo_label_path(root, batch["dataset"][b], batch["video"][b], batch["frames"][1][b])
                writer.submit(save_png, saliency, target)
                count += 1
    return count
