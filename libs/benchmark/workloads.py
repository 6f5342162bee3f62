"""What the benchmark runs: its clip and weights, the inference variants, ``inference.py`` end to end,
and a training step.

Weights: ``--checkpoint`` (a VideoModel state dict), or by default variance-preserving random
weights (each conv ``N(0, 1/fan_in)``, BatchNorm statistics near identity) with the last 1x1
conv rescaled so that the logits have mean 0 and std ``--logit-std`` (2) on the benchmark clip:
the maps then span (0, 1) instead of sitting near 0.5 (raw scale, logit std ~0.2) or
saturating, so neither difference between variants is trivially small. Absolute differences
of the logits, and the 1/255 fractions, scale with that choice; with trained weights use
``--checkpoint``. The clip is a toy video (:mod:`libs.datasets.toy`) rendered at ``--size``.

Inference variants are timed round-robin (one pass of each per round) so that the load of a
shared machine drifts over all of them alike. End to end: ``libs.pipeline.inference.run`` on a
toy video with a checkpoint of the benchmark weights: decoding, transfer, the model and the
PNG writing (``inference.py``'s defaults otherwise). Training step: the batched VideoModel in
training mode (BatchNorm frozen, ASPP dropout 0.1), BCE summed over the clip's frames, Adam
(lr 1e-5), as ``train.py`` takes it.
"""
from __future__ import annotations

import argparse
import copy
import functools
import statistics
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from libs.datasets.toy import make_toy_data, render_video
from libs.pipeline import inference
from libs.pipeline.fit import build_adam, training_step, wrap_for_training
from libs.pipeline.video_training import video_loss
from libs.utils.checkpoint import save_model
from libs.utils.distributed import DistributedContext
from libs.utils.normalization import normalize
from libs.utils.precision import autocast_dtype

from .measurement import Meter, mib, summarize
from .variants import OURS, Variant, amp_variant, base_variants, compiled_variants, forward

__all__ = ["toy_clip", "calibrate_head", "bench_inference", "bench_e2e", "bench_train"]

Log = Callable[[str], None]


def toy_clip(size: int, clip_len: int, batch: int, seed: int) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """A toy video rendered at ``size``: ``clip_len`` normalised frames ``(batch, 3, size, size)``,
    and labels ``(batch, clip_len, 1, size, size)`` in {0, 1}."""
    frames, masks = render_video(np.random.default_rng([seed, 7]), clip_len * batch, size, size)
    images = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(255.0)
    images = normalize(images).reshape(batch, clip_len, 3, size, size)
    labels = torch.from_numpy(masks).float().div(255.0).reshape(batch, clip_len, 1, size, size)
    return list(images.unbind(1)), labels


def calibrate_head(model: nn.Module, clip: Sequence[torch.Tensor], std: float) -> None:
    """Rescale ``backbone.decoder.conv2`` so the logits on ``clip`` (T frames ``(B, 3, S, S)``) have
    mean 0 and standard deviation ``std``.

    Measured on the clip downsampled 4x (the statistics barely depend on the size).
    """
    small = max(32, clip[0].shape[-1] // 4)
    with torch.inference_mode():
        logits = torch.stack(model([F.interpolate(f, size=(small, small), mode="bilinear") for f in clip]))
    mean, scale = logits.mean().item(), std / max(logits.std().item(), 1e-12)
    conv = model.backbone.decoder.conv2
    with torch.no_grad():
        conv.weight.mul_(scale)
        conv.bias.sub_(mean).mul_(scale)


def _prepare(variant: Variant, clip, device, meter: Meter, warmup: int) -> None:
    """Output, memory pass and warm-up passes of one variant (nothing timed)."""
    if meter.cuda:  # cuDNN autotuning happens on the first pass; keep it out of the memory pass
        forward(variant, clip, device)
    variant.peak_bytes, logits = meter.peak(lambda: forward(variant, clip, device))
    variant.logits = logits.cpu()
    for _ in range(warmup):
        forward(variant, clip, device)


def _timed_rounds(group: Sequence[Variant], rounds: int, clip, device, meter: Meter, log: Log) -> None:
    for r in range(rounds):
        for v in group:
            if v.error is None:
                v.times.append(meter.time(functools.partial(forward, v, clip, device))[0])
        log(f"[inference] round {r + 1}/{rounds}: " + ", ".join(
            f"{v.key} {v.times[-1] * 1000:.0f} ms" for v in group if v.times))


def _compile(variants: Sequence[Variant], clip, device, meter: Meter, log: Log) -> None:
    """First call of each compiled variant, timed apart; a failure is recorded, not raised."""
    for v in variants:
        log(f"[inference] compiling {v.key} (first call) ...")
        try:
            v.compile_s = round(meter.time(functools.partial(forward, v, clip, device))[0], 2)
        except RuntimeError as e:  # dynamo/inductor errors (no compiler, unsupported op) derive from it
            v.error = f"torch.compile failed: {str(e).strip().splitlines()[0][:200]}"
            log(f"[inference] {v.error}")


def bench_inference(args: argparse.Namespace, model: nn.Module, clip, device: torch.device, meter: Meter,
                    log: Log) -> List[Variant]:
    """Every inference variant the flags ask for, measured: outputs, peak memory, ``--iters`` timed rounds.

    ``clip``: T frames ``(B, 3, S, S)`` on ``device``. The variants of ``--amp``/``--compile`` are
    timed in rounds of their own beside ours again, and their times rescaled by ours' ratio of
    medians between the two sets of rounds, so that their ratios to ``published`` are like-for-like.
    """
    variants = base_variants(model, args.proposals)
    for v in variants:
        log(f"[inference] preparing {v.key}")
        _prepare(v, clip, device, meter, args.warmup)
    _timed_rounds(variants, args.iters, clip, device, meter, log)
    ours = next(v for v in variants if v.key == OURS)
    extra = [amp_variant(ours, device)] if args.amp else []
    if args.compile:
        compiled = compiled_variants(ours, device, args.proposals)
        _compile(compiled, clip, device, meter, log)
        extra += compiled
    for v in extra:
        if v.error is None:
            log(f"[inference] preparing {v.key}")
            _prepare(v, clip, device, meter, args.warmup)
    if extra:
        again = Variant(ours.key, ours.label, ours.model, ours.channels_last)
        _timed_rounds([again, *extra], args.iters, clip, device, meter, log)
        scale = statistics.median(ours.times) / statistics.median(again.times)
        for v in extra:
            v.times = [t * scale for t in v.times]  # expressed on the first rounds' clock
    return variants + extra


def bench_e2e(args: argparse.Namespace, model: nn.Module, device: torch.device, log: Log) -> Dict[str, object]:
    """``libs.pipeline.inference.run`` on a toy video of ``--e2e-clips`` x ``--clip-len`` frames."""
    frames = args.e2e_clips * args.clip_len
    with tempfile.TemporaryDirectory(prefix="rcrnet-bench-") as tmp:
        tmp = Path(tmp)
        config = make_toy_data(tmp / "toy", seed=args.seed, train_videos=0, val_videos=0, test_videos=1,
                               frames=frames, train_images=0, val_images=0, height=args.size, width=args.size)
        save_model(model, tmp / "model.pth")
        argv = ["--data", str(config.parent), "--dataset-config", str(config), "--dataset", "TOY_VIDEO",
                "--split", "test", "--checkpoint", str(tmp / "model.pth"), "--results-folder", str(tmp / "results"),
                "--size", str(args.size), "--os", str(args.os), "--clip_len", str(args.clip_len),
                "--batch-size", str(args.batch), "-j", str(args.e2e_workers), "--device", str(device)]
        lines: List[str] = []
        result = inference.run(inference.build_parser().parse_args(argv), log=lines.append)
        written = sorted((tmp / "results" / "TOY_VIDEO").rglob("*.png"))
    if len(written) != frames or result["maps"] != frames:
        raise RuntimeError(f"end-to-end run wrote {len(written)} maps, expected {frames}")
    log(f"[e2e] {lines[-1] if lines else result}")
    return {
        "command": (f"inference.py --data <toy> --dataset TOY_VIDEO --split test --checkpoint <benchmark weights> "
                    f"--size {args.size} --os {args.os} --clip_len {args.clip_len} --batch-size {args.batch} "
                    f"-j {args.e2e_workers} --device {device}"),
        "frames": frames,
        "seconds": round(result["seconds"], 3),
        "frames_per_s": round(frames / result["seconds"], 3),
        "workers": args.e2e_workers,
    }


def _trainer(model: nn.Module, device: torch.device, amp: bool) -> Dict[str, object]:
    m = copy.deepcopy(model)
    m.batched_backbone = True
    m = wrap_for_training(m, DistributedContext(device=device)).train()  # BatchNorm stays frozen (frozen_bn)
    fp16 = amp and autocast_dtype(device) == torch.float16  # fp16 needs a GradScaler, bf16 does not
    return {"key": "train+amp" if amp else "train", "model": m, "opt": build_adam(m, 1e-5), "amp": amp,
            "scaler": torch.amp.GradScaler("cuda") if fp16 else None, "times": []}


def bench_train(args: argparse.Namespace, model: nn.Module, clip, labels: torch.Tensor, device: torch.device,
                meter: Meter, log: Log) -> List[Dict[str, object]]:
    """One training step (forward, BCE, backward, Adam) of the batched VideoModel, fp32 (and ``--amp``).

    ``clip``: T frames ``(B, 3, S, S)``; ``labels``: ``(B, T, 1, S, S)``, both on ``device``.
    """
    batch = {"clip": clip, "labels": labels}

    def step(t):
        return training_step(t["model"], t["opt"], lambda m, b: video_loss(m(b["clip"]), b["labels"]), batch,
                             device=device, amp=t["amp"], scaler=t["scaler"])

    runs = [_trainer(model, device, False)] + ([_trainer(model, device, True)] if args.amp else [])
    for t in runs:
        log(f"[train] preparing {t['key']}")
        step(t)  # creates Adam's state: not part of a step's steady-state memory
        for _ in range(max(args.warmup - 1, 0)):
            step(t)
        t["peak"], t["loss"] = meter.peak(functools.partial(step, t))
    for r in range(args.iters):
        for t in runs:
            t["times"].append(meter.time(functools.partial(step, t))[0])
        log(f"[train] round {r + 1}/{args.iters}: " + ", ".join(f"{t['key']} {t['times'][-1]:.2f} s" for t in runs))
    out = []
    for t in runs:
        row = {"key": t["key"], "amp": t["amp"], "peak_mem_mib": mib(t["peak"]), "loss": round(float(t["loss"]), 4)}
        row.update(summarize(t["times"], args.clip_len * args.batch))
        row["step_s_median"] = round(row["latency_ms_median"] / 1000, 3)
        out.append(row)
    return out
