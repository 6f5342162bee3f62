"""Speed and memory of RCRNet+NER (VideoModel): inference variants, end-to-end inference.py, a training step.

The library behind ``benchmark.py``:

    python benchmark.py                                    # auto device, 448x448, clips of 4, batch 1
    python benchmark.py --device cpu --threads 2 --iters 5 --warmup 1 --json bench.json
    python benchmark.py --device cuda --amp --compile      # GPU: also autocast and torch.compile
    python benchmark.py --size 64 --iters 1 --warmup 0 --skip-e2e --skip-train   # CI-sized: seconds

Inference variants, all run in this one process on the same weights and the same clip,
timed round-robin (one pass of each variant per round) so that the load of a shared
machine drifts over all of them alike; latency is the median over ``--iters`` rounds after
``--warmup`` untimed passes:

* ``published``: the published execution order: backbone and decoder frame by frame
  (``VideoModel(batched_backbone=False)``), fp32, contiguous tensors;
* ``batched``: all T*B frames through ``feat_conv`` / ``seg_conv`` as one batch, fp32,
  contiguous;
* ``batched+cl``: the same in channels_last (``inference.py --no-fold-bn``);
* ``batched+cl+foldbn``: and BatchNorm folded into the convs: ``inference.py``'s default,
  "ours";
* ``--amp``: ours under bf16 autocast (fp16 on GPUs without bf16);
* ``--compile``: ours through ``torch.compile`` (compile time apart);
* ``--proposals``: speed-ups not in ``inference.py``'s defaults: decoder.conv1 mixed at low
  resolution (``RCRNet(low_res_decoder=True)``), and with ``--compile`` on CPU inductor's
  freezing.

The report gives ours' throughput ratio to ``published`` and the largest difference of
their outputs (logits and probabilities), and for every variant the fraction of pixels
whose probability is within 1/255 of the published fp32 map.

Timing: CUDA events and ``torch.cuda.synchronize`` on GPU, ``time.perf_counter`` on CPU.
Peak memory: on GPU ``torch.cuda.max_memory_allocated`` over one pass, minus what was
allocated before it; on CPU the same quantity from ``torch.profiler``'s allocator events
(``profile_memory=True``: the running sum of the CPU allocator's allocations and frees
over one pass, its maximum). Both are tensor memory beyond the weights and inputs already
resident; memory that oneDNN/MKL allocate outside PyTorch's allocator is not seen. The
process's maximum resident set size (``getrusage``) is reported too, for the whole run.

Weights: ``--checkpoint`` (a VideoModel state dict), or by default variance-preserving
random weights (each conv ``N(0, 1/fan_in)``, BatchNorm statistics near identity) with the
last 1x1 conv rescaled so that the logits have mean 0 and std ``--logit-std`` (2) on the
benchmark clip: the maps then span (0, 1) instead of sitting near 0.5 (raw scale, logit std
~0.2) or saturating, so neither difference is trivially small. Absolute differences of the
logits, and the 1/255 fractions, scale with that choice; with trained weights use
``--checkpoint``. The clip is a toy video (:mod:`libs.datasets.toy`) rendered at ``--size``.

End to end (skip with ``--skip-e2e``): ``libs.pipeline.inference.run`` on a toy video of
``--e2e-clips`` x ``--clip-len`` frames rendered at ``--size``, with a checkpoint of the
benchmark weights: decoding, transfer, the model, and the PNG writing at the frames' size
(``inference.py``'s defaults otherwise). Training step (skip with ``--skip-train``): the
batched VideoModel in training mode (BatchNorm frozen, ASPP dropout 0.1), BCE summed over
the clip's frames, Adam (lr 1e-5), as ``train.py`` does it.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

__all__ = ["build_parser", "main", "run_benchmark", "format_markdown"]

TARGET_SPEEDUP = 1.2  # the CPU target: ours >= 1.2x the published order's throughput ...
TARGET_TOLERANCE = 1e-4  # ... with outputs equal within 1e-4
AMP_TARGET_FRACTION = 0.999  # --amp maps within 1/255 of fp32 on >= 99.9% of pixels
HEAD_STD = 2.0
OURS = "batched+cl+foldbn"  # inference.py's default execution


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="benchmark.py",
        description="Inference throughput, latency and peak memory of RCRNet+NER in the published execution order "
                    "and in ours, end-to-end inference.py frames/s, and one training step.",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--size", type=int, default=448, help="frames are S x S (default: %(default)s)")
    p.add_argument("--clip-len", type=int, default=4, help="frames per clip (default: %(default)s)")
    p.add_argument("--batch", type=int, default=1, help="clips per batch (default: %(default)s)")
    p.add_argument("--os", type=int, choices=(8, 16), default=16, dest="os",
                   help="output stride (default: %(default)s)")
    p.add_argument("--iters", type=int, default=5, help="timed rounds (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed passes per variant before timing (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads (default: PyTorch's choice, one per core)")
    p.add_argument("--amp", action="store_true", help="also time bf16 autocast (fp16 on GPUs without bf16)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (compile time reported apart)")
    p.add_argument("--proposals", action="store_true",
                   help="also time proposed, not yet adopted speed-ups: BatchNorm folded into the convs, and with "
                        "--compile on CPU inductor's freezing")
    p.add_argument("--checkpoint", default=None, metavar="PTH",
                   help="VideoModel weights (default: variance-preserving random weights, see the module docstring)")
    p.add_argument("--logit-std", type=float, default=HEAD_STD,
                   help="random weights only: rescale the last conv so the logits have this std on the clip; "
                        "0 keeps the raw scale (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random weights and the toy clip (default: %(default)s)")
    p.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end inference.py measurement")
    p.add_argument("--e2e-clips", type=int, default=3, help="clips in the end-to-end toy video (default: %(default)s)")
    p.add_argument("--e2e-workers", type=int, default=2,
                   help="inference.py -j: decoding worker processes (default: %(default)s, inference.py's)")
    p.add_argument("--skip-train", action="store_true", help="skip the training step measurement")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    return p


# ----------------------------------------------------------------------------- machine and inputs


def machine_info(device) -> Dict[str, object]:
    """CPU model, logical CPUs, threads, versions, and the GPU when one is used."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def calibrate_head(model, clip, std: float = HEAD_STD) -> None:
    """Rescale ``backbone.decoder.conv2`` so the logits on ``clip`` have mean 0 and std ``std``.

    Measured on the clip downsampled 4x (the statistics barely depend on the size).
    """
    import torch
    import torch.nn.functional as F

    small = max(32, clip[0].shape[-1] // 4)
    with torch.inference_mode():
        logits = torch.stack(model([F.interpolate(f, size=(small, small), mode="bilinear") for f in clip]))
    mean, scale = logits.mean().item(), std / max(logits.std().item(), 1e-12)
    conv = model.backbone.decoder.conv2
    with torch.no_grad():
        conv.weight.mul_(scale)
        conv.bias.sub_(mean).mul_(scale)


def toy_clip(size: int, clip_len: int, batch: int, seed: int):
    """A toy video rendered at ``size``: ``clip_len`` frames ``(batch, 3, size, size)`` normalised,
    labels ``(batch, clip_len, 1, size, size)`` in {0, 1}."""
    import numpy as np
    import torch

    from libs.datasets.toy import render_video
    from libs.datasets.transforms import normalize

    frames, masks = render_video(np.random.default_rng([seed, 7]), clip_len * batch, size, size)
    images = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(255.0)
    images = normalize(images).reshape(batch, clip_len, 3, size, size)
    labels = torch.from_numpy(masks).float().div(255.0).reshape(batch, clip_len, 1, size, size)
    return list(images.unbind(1)), labels


# ----------------------------------------------------------------------------- timing and memory


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to /dev/null: the profiler's C++ side prints start/stop lines there."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Meter:
    """Times and memory of callables on one device (CUDA events / perf_counter; see the docstring)."""

    def __init__(self, device):
        import torch

        self.torch = torch
        self.device = device
        self.cuda = device.type == "cuda"

    def time(self, fn: Callable[[], object]):
        """``(seconds, result)`` of one call, the device's queued work included."""
        torch = self.torch
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(self.device)
            start.record()
            result = fn()
            end.record()
            torch.cuda.synchronize(self.device)
            return start.elapsed_time(end) / 1000.0, result
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result

    def peak(self, fn: Callable[[], object]):
        """``(peak bytes allocated during the call beyond what was allocated before, result)``.

        The bytes are None on CPU when this PyTorch's profiler does not expose its events.
        """
        torch = self.torch
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            base = torch.cuda.memory_allocated(self.device)
            result = fn()
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) - base, result
        from torch.profiler import ProfilerActivity, profile

        with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            result = fn()
        results = getattr(prof.profiler, "kineto_results", None)
        if results is None:  # the profiler's internals changed: no CPU figure rather than a wrong one
            return None, result
        events = [e for e in results.events() if e.name() == "[memory]"]
        level = peak = 0
        for e in sorted(events, key=lambda e: e.start_ns()):
            level += e.nbytes()
            peak = max(peak, level)
        return peak, result


def _mib(nbytes) -> Optional[float]:
    return None if nbytes is None else round(nbytes / 2**20, 1)


def _summary(seconds: List[float], frames: int) -> Dict[str, object]:
    med = statistics.median(seconds)
    return {
        "latency_ms_median": round(med * 1000, 2),
        "latency_ms_min": round(min(seconds) * 1000, 2),
        "latency_ms_all": [round(s * 1000, 2) for s in seconds],
        "frames_per_s": round(frames / med, 3),
    }


# ----------------------------------------------------------------------------- inference variants


@dataclass
class Variant:
    key: str
    label: str
    model: object
    channels_last: bool = False
    amp: bool = False
    compile_s: Optional[float] = None
    error: Optional[str] = None
    times: List[float] = field(default_factory=list)
    peak_bytes: Optional[int] = None
    probs: object = None
    logits: object = None


def _forward(variant: Variant, clip, device):
    """One inference pass -> logits ``(T, B, 1, S, S)`` float32."""
    import torch

    from libs.utils.training import autocast_context

    if variant.channels_last:
        clip = [f.contiguous(memory_format=torch.channels_last) for f in clip]
    with torch.inference_mode(), autocast_context(device, variant.amp):
        return torch.stack([p.float() for p in variant.model(clip)])


def _inference_variants(model, proposals: bool) -> List[Variant]:
    """published, batched, batched+cl and ours: copies of ``model`` (same weights); and the proposals."""
    from libs.modules import fold_batchnorm
    from libs.utils.training import to_channels_last

    published = copy.deepcopy(model)
    published.batched_backbone = False
    batched = copy.deepcopy(model)
    batched.batched_backbone = True
    channels_last = to_channels_last(copy.deepcopy(batched))
    ours = to_channels_last(fold_batchnorm(copy.deepcopy(batched).eval()))
    variants = [
        Variant("published", "per-frame backbone, fp32, contiguous", published),
        Variant("batched", "batched backbone, fp32, contiguous", batched),
        Variant("batched+cl", "batched backbone, fp32, channels_last (inference.py --no-fold-bn)",
                channels_last, True),
        Variant(OURS, "batched+cl with BatchNorm folded into the convs (inference.py default)", ours, True),
    ]
    if proposals:
        low_res = to_channels_last(fold_batchnorm(copy.deepcopy(batched).eval()))
        low_res.backbone.low_res_decoder = True
        variants.append(Variant(f"{OURS}+lowres", "ours with decoder.conv1 mixed before upsampling "
                                                  "(RCRNet(low_res_decoder=True); proposal)", low_res, True))
    return variants


def _measure_variant_once(variant: Variant, clip, device, meter: Meter, warmup: int) -> None:
    """Outputs, warm-up passes and the memory pass of one variant (nothing timed)."""
    if meter.cuda:  # cuDNN autotuning happens on the first pass; keep it out of the memory pass
        _forward(variant, clip, device)
    variant.peak_bytes, logits = meter.peak(lambda: _forward(variant, clip, device))
    variant.logits = logits.cpu()
    variant.probs = variant.logits.sigmoid()
    for _ in range(warmup):
        _forward(variant, clip, device)


def _compare(variant: Variant, reference: Variant) -> Dict[str, float]:
    dl = (variant.logits - reference.logits).abs()
    dp = (variant.probs - reference.probs).abs()
    return {
        "max_abs_diff_logits": float(dl.max()),
        "max_abs_diff_probs": float(dp.max()),
        "within_1_255": float((dp <= 1.0 / 255.0).float().mean()),
    }


def bench_inference(args, model, clip, device, meter: Meter, log) -> Dict[str, object]:
    import torch

    variants = _inference_variants(model, args.proposals)
    frames = args.clip_len * args.batch
    for v in variants:
        log(f"[inference] preparing {v.key}")
        _measure_variant_once(v, clip, device, meter, args.warmup)


    def timed_rounds(group: Sequence[Variant], rounds: int) -> None:
        for r in range(rounds):
            for v in group:
                if v.error is None:
                    v.times.append(meter.time(functools.partial(_forward, v, clip, device))[0])
            log(f"[inference] round {r + 1}/{rounds}: " + ", ".join(
                f"{v.key} {v.times[-1] * 1000:.0f} ms" for v in group if v.times))

    timed_rounds(variants, args.iters)
    ours = next(v for v in variants if v.key == OURS)
    extra = []
    if args.amp:
        dtype = "fp16" if device.type == "cuda" and not torch.cuda.is_bf16_supported() else "bf16"
        v = Variant(f"{ours.key}+amp", f"{ours.key} under {dtype} autocast (--amp)", ours.model, ours.channels_last,
                    amp=True)
        extra.append(v)
    if args.compile:
        compiled = [Variant(f"{ours.key}+compile", f"{ours.key} through torch.compile (--compile)",
                            torch.compile(copy.deepcopy(ours.model)), ours.channels_last)]
        if args.proposals and device.type == "cpu":
            # Its own inductor options also keep dynamo from reusing the graph compiled above.
            compiled.append(Variant(
                f"{ours.key}+compile+freezing", f"{ours.key} through torch.compile with inductor freezing "
                "(weights as constants: BatchNorm folded, prepacked oneDNN convs; proposal)",
                torch.compile(copy.deepcopy(ours.model), options={"freezing": True}), ours.channels_last))
        for v in compiled:
            log(f"[inference] compiling {v.key} (first call) ...")
            try:
                v.compile_s = round(meter.time(functools.partial(_forward, v, clip, device))[0], 2)
            except RuntimeError as e:  # dynamo/inductor errors (no compiler, unsupported op) derive from it
                v.error = f"torch.compile failed: {str(e).strip().splitlines()[0][:200]}"
                log(f"[inference] {v.error}")
        extra += compiled
    for v in extra:
        if v.error is None:
            log(f"[inference] preparing {v.key}")
            _measure_variant_once(v, clip, device, meter, args.warmup)
    if extra:
        # Time the extra variants round-robin with ours again, so their ratio is like-for-like.
        again = Variant(ours.key, ours.label, ours.model, ours.channels_last)
        timed_rounds([again, *extra], args.iters)
        scale = statistics.median(ours.times) / statistics.median(again.times)
        for v in extra:
            v.times = [t * scale for t in v.times]  # expressed on the first rounds' clock

    published = variants[0]
    rows = []
    for v in variants + extra:
        row = {"key": v.key, "label": v.label, "channels_last": v.channels_last, "amp": v.amp,
               "peak_mem_mib": _mib(v.peak_bytes), "error": v.error, "compile_s": v.compile_s}
        if v.times:
            row.update(_summary(v.times, frames))
            row["speedup_vs_published"] = round(statistics.median(published.times) / statistics.median(v.times), 3)
            if v in variants:  # timed in the same rounds as published: the median of the per-round ratios too
                row["speedup_paired_median"] = round(
                    statistics.median(p / t for p, t in zip(published.times, v.times, strict=True)), 3)
        if v.logits is not None:
            row.update(_compare(v, published))
        rows.append(row)
    by_key = {r["key"]: r for r in rows}
    ours_row, batched_row = by_key[ours.key], by_key["batched"]
    diff = ours_row["max_abs_diff_probs"]  # the maps inference.py writes; logits reported beside
    amp_row = next((r for r in rows if r["amp"] and "within_1_255" in r), None)
    return {
        "variants": rows,
        "amp": None if amp_row is None else {
            "key": amp_row["key"], "within_1_255": amp_row["within_1_255"], "target": AMP_TARGET_FRACTION,
            "met": bool(amp_row["within_1_255"] >= AMP_TARGET_FRACTION)},
        "ours": ours.key,
        "speedup": ours_row["speedup_vs_published"],
        "speedup_paired_median": ours_row["speedup_paired_median"],
        "speedup_batched_contiguous": batched_row["speedup_vs_published"],
        "max_abs_diff": diff,
        "max_abs_diff_probs": ours_row["max_abs_diff_probs"],
        "max_abs_diff_logits": ours_row["max_abs_diff_logits"],
        "target": {"speedup": TARGET_SPEEDUP, "tolerance": TARGET_TOLERANCE,
                   "met": bool(ours_row["speedup_vs_published"] >= TARGET_SPEEDUP and diff <= TARGET_TOLERANCE)},
    }


# ----------------------------------------------------------------------------- end to end and training


def bench_e2e(args, model, device, log) -> Dict[str, object]:
    """``libs.pipeline.inference.run`` on a toy video rendered at ``--size``."""
    from libs.datasets.toy import make_toy_data
    from libs.pipeline import inference
    from libs.utils.checkpoint import save_model

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


def bench_train(args, model, clip, labels, device, meter: Meter, log) -> List[Dict[str, object]]:
    """One training step (forward, BCE, backward, Adam) of the batched VideoModel, fp32 (and --amp)."""
    import torch

    from libs.pipeline.video_training import video_loss
    from libs.utils.training import build_adam, training_step

    def make(amp: bool):
        m = copy.deepcopy(model)
        m.batched_backbone = True
        for name, p in m.named_parameters():
            if name.startswith("backbone.resnet.fc."):  # as wrap_for_training: never used
                p.requires_grad_(False)
        m.train()  # BatchNorm stays frozen (VideoModel.frozen_bn)
        fp16 = amp and device.type == "cuda" and not torch.cuda.is_bf16_supported()
        return {"key": "train+amp" if amp else "train", "model": m, "opt": build_adam(m, 1e-5), "amp": amp,
                "scaler": torch.amp.GradScaler("cuda") if fp16 else None, "times": []}

    batch = {"clip": clip, "labels": labels}

    def step(t):
        return training_step(t["model"], t["opt"], lambda m, b: video_loss(m(b["clip"]), b["labels"]), batch,
                             device=device, amp=t["amp"], scaler=t["scaler"])

    runs = [make(False)] + ([make(True)] if args.amp else [])
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
        row = {"key": t["key"], "amp": t["amp"], "peak_mem_mib": _mib(t["peak"]), "loss": round(float(t["loss"]), 4)}
        row.update(_summary(t["times"], args.clip_len * args.batch))
        row["step_s_median"] = round(row["latency_ms_median"] / 1000, 3)
        out.append(row)
        del t["model"], t["opt"], t["scaler"]
    return out


# ----------------------------------------------------------------------------- report


def run_benchmark(args, log=print) -> Dict[str, object]:
    """Everything the command line asks for -> the report dict (also what ``--json`` writes)."""
    import torch

    from libs.networks import VideoModel
    from libs.utils.checkpoint import load_checkpoint
    from libs.utils.cli import UsageError
    from libs.utils.distributed import resolve_device
    from libs.utils.reference_weights import fill_reference_weights

    for name in ("size", "clip_len", "batch", "iters", "e2e_clips"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("warmup", "e2e_workers", "logit_std"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    device = resolve_device(args.device)  # a UsageError for a device that cannot be used
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as inference.py
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    torch.manual_seed(args.seed)
    model = VideoModel(output_stride=args.os).eval()
    clip_cpu, labels_cpu = toy_clip(args.size, args.clip_len, args.batch, args.seed)
    if args.checkpoint:
        log(load_checkpoint(model, args.checkpoint, strict=True).summary())
        weights = f"checkpoint {args.checkpoint}"
    else:
        fill_reference_weights(model, args.seed)
        weights = f"random (variance-preserving, seed {args.seed}"
        if args.logit_std > 0:
            calibrate_head(model, clip_cpu, args.logit_std)
            weights += f", head rescaled to logit std {args.logit_std:g}"
        weights += ")"
    model = model.to(device)
    clip = [f.to(device) for f in clip_cpu]
    labels = labels_cpu.to(device)
    meter = Meter(device)
    report: Dict[str, object] = {
        "command": "python benchmark.py " + " ".join(sys.argv[1:] if getattr(args, "argv", None) is None
                                                     else args.argv),
        "machine": machine_info(device),
        "settings": {"size": args.size, "clip_len": args.clip_len, "batch": args.batch, "output_stride": args.os,
                     "iters": args.iters, "warmup": args.warmup, "weights": weights,
                     "weights_mib": _mib(sum(t.numel() * t.element_size() for t in model.state_dict().values()))},
        "memory_method": ("torch.cuda.max_memory_allocated during one pass minus memory_allocated before it"
                          if device.type == "cuda" else
                          "torch.profiler (profile_memory=True): peak of the running sum of CPU allocator events "
                          "during one pass (tensor memory beyond weights and inputs; oneDNN/MKL-internal buffers "
                          "not included)"),
        "timing_method": ("CUDA events, torch.cuda.synchronize" if device.type == "cuda" else
                          "time.perf_counter") + "; variants timed round-robin, median over rounds",
    }
    report["inference"] = bench_inference(args, model, clip, device, meter, log)
    report["e2e"] = None if args.skip_e2e else bench_e2e(args, model, device, log)
    report["train"] = None if args.skip_train else bench_train(args, model, clip, labels, device, meter, log)
    rss_end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report["max_rss_mib"] = round(rss_end / 1024, 1)  # Linux: KiB
    report["max_rss_growth_mib"] = round((rss_end - rss_start) / 1024, 1)
    return report


def _fmt(x, digits=1):
    if x is None:
        return "-"
    if isinstance(x, float) and (abs(x) < 1e-2 and x != 0):
        return f"{x:.1e}"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def format_markdown(report: Dict[str, object]) -> str:
    """The report as Markdown: settings, the inference table, the ratio line, e2e and training tables."""
    m, s, inf = report["machine"], report["settings"], report["inference"]
    lines = [
        f"`{report['command']}`",
        "",
        f"- machine: {m['cpu']} ({m['logical_cpus']} logical CPUs), {m['torch_threads']} torch threads, "
        f"device {m['device']}{' (' + m['gpu'] + ')' if m.get('gpu') else ''}, torch {m['torch']}"
        f"{', load average ' + ' '.join(map(str, m['load_average'])) if m.get('load_average') else ''}",
        f"- input: {s['batch']} clip(s) of {s['clip_len']} frames at {s['size']}x{s['size']}, output stride "
        f"{s['output_stride']}; weights: {s['weights']} ({s['weights_mib']} MiB)",
        f"- timing: {report['timing_method']}, {s['iters']} rounds after {s['warmup']} warm-up pass(es)",
        f"- memory: {report['memory_method']}",
        "",
        "| variant | latency/clip ms (median) | min | frames/s | vs published | peak mem MiB "
        "| max abs diff logits | max abs diff probs | pixels within 1/255 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in inf["variants"]:
        if r.get("error"):
            lines.append(f"| {r['key']} | {r['error']} | | | | | | | |")
            continue
        name = f"**{r['key']}**" if r["key"] == inf["ours"] else r["key"]
        comp = f" (compile {r['compile_s']} s)" if r.get("compile_s") is not None else ""
        lines.append(
            f"| {name}: {r['label']}{comp} | {_fmt(r['latency_ms_median'])} | {_fmt(r['latency_ms_min'])} "
            f"| {_fmt(r['frames_per_s'], 2)} | {_fmt(r['speedup_vs_published'], 2)}x | {_fmt(r['peak_mem_mib'])} "
            f"| {_fmt(r['max_abs_diff_logits'])} | {_fmt(r['max_abs_diff_probs'])} | {r['within_1_255']:.4%} |")
    t = inf["target"]
    lines += [
        "",
        f"ours = **{inf['ours']}**: {inf['speedup']:.2f}x the published order's throughput "
        f"(median of the per-round ratios: {inf['speedup_paired_median']:.2f}x) "
        f"(batched, contiguous: {inf['speedup_batched_contiguous']:.2f}x); max abs diff of the probability maps "
        f"{_fmt(inf['max_abs_diff_probs'])} (logits {_fmt(inf['max_abs_diff_logits'])}). "
        f"Target >= {t['speedup']}x with maps within {t['tolerance']:g}: **{'met' if t['met'] else 'not met'}**.",
    ]
    if inf.get("amp"):
        a = inf["amp"]
        lines.append(f"\n{a['key']}: {a['within_1_255']:.4%} of pixels within 1/255 of the published fp32 maps; "
                     f"target >= {a['target']:.1%}: **{'met' if a['met'] else 'not met'}**.")
    if report.get("e2e"):
        e = report["e2e"]
        lines += ["", "| end to end (inference.py defaults, -j %d) | frames | seconds | frames/s |" % e["workers"],
                  "|---|---|---|---|",
                  f"| decode + model + PNG writing | {e['frames']} | {e['seconds']:.2f} | {e['frames_per_s']:.2f} |"]
    if report.get("train"):
        lines += ["", "| training step (batched VideoModel, BCE, Adam, frozen BN) | step s (median) | min s "
                      "| peak mem MiB | loss |", "|---|---|---|---|---|"]
        for r in report["train"]:
            lines.append(f"| {r['key']} | {r['step_s_median']:.3f} | {r['latency_ms_min'] / 1000:.3f} "
                         f"| {_fmt(r['peak_mem_mib'])} | {r['loss']:.4f} |")
    lines += ["", f"process max RSS: {report['max_rss_mib']} MiB (grew by {report['max_rss_growth_mib']} MiB "
                  "during the benchmark; getrusage)"]
    return "\n".join(lines)


def _cli(args: argparse.Namespace) -> int:
    import torch

    from libs.utils.io import save_json

    threads = torch.get_num_threads()
    try:
        report = run_benchmark(args, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    finally:
        torch.set_num_threads(threads)  # --threads must not outlive the call when main() runs in-process
    print(format_markdown(report))
    if args.json:
        save_json(report, args.json)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv``, run, print the Markdown report; a bad flag or device -> one line, exit code 2."""
    from libs.utils.cli import run_main

    args = build_parser().parse_args(argv)
    args.argv = None if argv is None else list(argv)
    return run_main("benchmark.py", _cli, args)
