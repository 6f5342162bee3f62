"""``benchmark.py``: the flags, the run they ask for, and the printed (and ``--json``) report.

Example command lines are in ``benchmark.py``'s docstring and docs/speed.md.
"""
from __future__ import annotations

import argparse
import resource
import sys
from typing import Dict, List, Optional, Sequence

import torch

from libs.networks import VideoModel
from libs.utils.checkpoint import load_checkpoint
from libs.utils.cli import nonnegative_int, positive_int, run_main
from libs.utils.distributed import resolve_device
from libs.utils.errors import UsageError
from libs.utils.io import save_json
from libs.utils.machine import machine_info
from libs.utils.reference_weights import fill_reference_weights

from .measurement import MEMORY_METHOD, TIMING_METHOD, Meter, mib
from .report import TARGET_SPEEDUP, TARGET_TOLERANCE, format_markdown, inference_report
from .variants import OURS
from .workloads import bench_e2e, bench_inference, bench_train, calibrate_head, toy_clip

__all__ = ["build_parser", "run_benchmark", "main"]

LOGIT_STD = 2.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="benchmark.py",
        description="Inference throughput, latency and peak memory of RCRNet+NER in the published execution order "
                    "(frame by frame, fp32, contiguous) against inference.py's defaults ('ours': batched "
                    "backbone, channels_last, BatchNorm folded into the convs) and each step between, with the largest "
                    "difference of their maps; then inference.py end to end and one training step. The report "
                    "names the CPU and its bf16/AMX support: CPU figures depend on them.",
        epilog=f"Target printed for ours: >= {TARGET_SPEEDUP}x the published order's throughput with probability "
               f"maps within {TARGET_TOLERANCE:g}. Figures and how they were measured: docs/speed.md.",
    )
    g = p.add_argument_group("input and model")
    g.add_argument("--size", type=positive_int, default=448, metavar="S",
                   help="frames are S x S (default: %(default)s)")
    g.add_argument("--clip-len", type=positive_int, default=4, metavar="T",
                   help="frames per clip (default: %(default)s)")
    g.add_argument("--batch", type=positive_int, default=1, metavar="B", help="clips per batch (default: %(default)s)")
    g.add_argument("--os", type=int, choices=(8, 16), default=16, dest="os",
                   help="output stride of the dilated ResNet-50 (default: %(default)s)")
    g.add_argument("--checkpoint", default=None, metavar="PTH",
                   help="VideoModel weights (default: variance-preserving random weights with a calibrated head)")
    g.add_argument("--logit-std", type=float, default=LOGIT_STD, metavar="STD",
                   help="random weights only: rescale the last conv so the logits have this std on the clip, so "
                        "the maps span (0, 1); 0 keeps the raw scale (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0,
                   help="seed of the random weights and the toy clip (default: %(default)s)")
    g = p.add_argument_group("measurement")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    g.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="torch.set_num_threads (default: PyTorch's choice, one per core)")
    g.add_argument("--iters", type=positive_int, default=5, metavar="N",
                   help="timed rounds, one pass of every variant each; medians are reported (default: %(default)s)")
    g.add_argument("--warmup", type=nonnegative_int, default=1, metavar="N",
                   help="untimed passes per variant before timing (default: %(default)s)")
    g = p.add_argument_group("optional variants (the defaults time published, batched, batched+cl and ours)")
    g.add_argument("--amp", action="store_true",
                   help="also time ours under bf16 autocast (fp16 on GPUs without bf16); on a CPU it pays only with "
                        "native bf16 (avx512_bf16 or AMX), see the CPU features line")
    g.add_argument("--compile", action="store_true",
                   help="also time ours through torch.compile (compile time reported apart)")
    g.add_argument("--proposals", action="store_true",
                   help="also time opt-ins that no default uses: the low-resolution decoder (decoder.conv1 mixed at "
                        "1/4 resolution before upsampling, RCRNet(low_res_decoder=True)) and, with --compile on a "
                        "CPU, inductor's freezing")
    g = p.add_argument_group("end to end and training")
    g.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end inference.py measurement")
    g.add_argument("--e2e-clips", type=positive_int, default=3, metavar="N",
                   help="clips in the end-to-end toy video (default: %(default)s)")
    g.add_argument("--e2e-workers", type=nonnegative_int, default=2, metavar="N",
                   help="inference.py -j: decoding worker processes (default: %(default)s, inference.py's)")
    g.add_argument("--skip-train", action="store_true", help="skip the training step measurement")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    return p


def _weights(args: argparse.Namespace, model: VideoModel, clip_cpu, log) -> str:
    """Load ``--checkpoint`` or fill random weights (and calibrate the head); returns their description."""
    if args.checkpoint:
        log(load_checkpoint(model, args.checkpoint, strict=True).summary())
        return f"checkpoint {args.checkpoint}"
    fill_reference_weights(model, args.seed)
    if args.logit_std == 0:
        return f"random (variance-preserving, seed {args.seed})"
    calibrate_head(model, clip_cpu, args.logit_std)
    return f"random (variance-preserving, seed {args.seed}, head rescaled to logit std {args.logit_std:g})"


def _settings(args: argparse.Namespace, weights: str, model: VideoModel) -> Dict[str, object]:
    nbytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return {"size": args.size, "clip_len": args.clip_len, "batch": args.batch, "output_stride": args.os,
            "iters": args.iters, "warmup": args.warmup, "weights": weights, "weights_mib": mib(nbytes)}


def run_benchmark(args: argparse.Namespace, log=print) -> Dict[str, object]:
    """Everything the command line asks for -> the report dict (also what ``--json`` writes)."""
    if args.logit_std < 0:
        raise UsageError(f"--logit-std must be >= 0, got {args.logit_std}")
    device = resolve_device(args.device)  # a UsageError for a device that cannot be used
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as inference.py
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    torch.manual_seed(args.seed)
    model = VideoModel(output_stride=args.os).eval()
    clip_cpu, labels_cpu = toy_clip(args.size, args.clip_len, args.batch, args.seed)
    weights = _weights(args, model, clip_cpu, log)
    model = model.to(device)
    clip = [f.to(device) for f in clip_cpu]
    meter = Meter(device)
    argv: Optional[List[str]] = getattr(args, "argv", None)
    report: Dict[str, object] = {
        "command": "python benchmark.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(device),
        "settings": _settings(args, weights, model),
        "memory_method": MEMORY_METHOD[device.type],
        "timing_method": TIMING_METHOD[device.type] + "; variants timed round-robin, median over rounds",
    }
    variants = bench_inference(args, model, clip, device, meter, log)
    report["inference"] = inference_report(variants, OURS, args.clip_len * args.batch)
    del variants  # their model copies
    report["e2e"] = None if args.skip_e2e else bench_e2e(args, model, device, log)
    report["train"] = (None if args.skip_train else
                       bench_train(args, model, clip, labels_cpu.to(device), device, meter, log))
    rss_end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report["max_rss_mib"] = round(rss_end / 1024, 1)  # Linux: KiB
    report["max_rss_growth_mib"] = round((rss_end - rss_start) / 1024, 1)
    return report


def _cli(args: argparse.Namespace) -> int:
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
    """Parse ``argv``, run, print the Markdown report; a bad value or device -> one line, exit code 2."""
    args = build_parser().parse_args(argv)
    args.argv = None if argv is None else list(argv)
    return run_main("benchmark.py", _cli, args)
