"""Speed and peak memory of ``generate_pseudo_labels.py --input`` (key-frame labelling).

    python -m libs.benchmark.keyframes [--size 448] [--frames 1000] [--short 100] [--json FILE]

Makes its own inputs in a temporary folder: a synthetic video (:func:`libs.datasets.toy.render_video`,
played back and forth to ``--frames`` frames) written as an MP4 file, masks on every
``--key-every``-th frame, and a seeded random FGPLG checkpoint with OpenCV flow (as
``train_fgplg.py --flow opencv`` saves it). Then it runs the real command, each run in a fresh
process so that its peak resident memory (``ru_maxrss``) is its own:

- ``fgplg``: ``--method fgplg --frame_between_label_num M`` on the long video (every frame is
  decoded by the forward cursors; M frames per gap go through the flow and the FGPLG);
- ``fgplg, short video``: the same on the first ``--short`` frames, to show that the peak
  does not grow with the video's length (streaming);
- ``warp``: ``--method warp`` labelling every frame of the long video (skip with ``--skip-warp``).

Frames per second = masks generated / seconds of the generation loop (model loading
excluded; it is in the wall time, imports are not). The resident memory after the imports
(torch, the project) is printed beside the peak: the difference is what the run holds. The report names the machine
(:func:`libs.utils.machine.machine_info`): CPU figures do not transfer to another CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

from libs.utils.cli import positive_int, run_main

__all__ = ["build_parser", "run", "main", "make_inputs"]

PROG = "python -m libs.benchmark.keyframes"
ROOT = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Frames per second and peak memory of generate_pseudo_labels.py "
                                                       "--input on a synthetic video file with --flow opencv.")
    p.add_argument("--size", type=positive_int, default=448, help="--size of the runs (default: %(default)s)")
    p.add_argument("--frames", type=positive_int, default=1000, help="frames of the long video (default: %(default)s)")
    p.add_argument("--short", type=positive_int, default=100, help="frames of the short video (default: %(default)s)")
    p.add_argument("--key-every", type=positive_int, default=100, metavar="K",
                   help="a key frame every K frames, and on the last frame (default: %(default)s)")
    p.add_argument("--m", type=positive_int, default=4, metavar="M",
                   help="--frame_between_label_num of the fgplg runs (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=1, help="--batch-size of the runs (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads per run (default: PyTorch's)")
    p.add_argument("--skip-warp", action="store_true", help="leave out the warp run (default: off)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the report as JSON (default: none)")
    p.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def make_inputs(root: Path, frames: int, short: int, size: int, key_every: int, base: int = 48,
                seed: int = 0) -> Dict[str, Path]:
    """``root/FRAMES/long.mp4``, ``root/SHORT/short.mp4`` (its first ``short`` frames) with masks under
    ``root/MASKS*/``, and ``root/fgplg.pth``. Frames are rendered once (``base`` of them) and
    played back and forth, so memory stays small whatever ``frames`` is."""
    import cv2
    import torch
    from PIL import Image

    from libs.datasets.toy import render_video
    from libs.networks import FGPLG
    from libs.utils.checkpoint import save_model

    rendered, masks = render_video(np.random.default_rng(seed), base, size, size)
    period = 2 * (base - 1)

    def source(i: int) -> int:  # 0, 1, ..., base-1, base-2, ..., 1, 0, 1, ...
        j = i % period
        return j if j < base else period - j

    def write(path: Path, n: int, mask_dir: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (size, size))
        for i in range(n):
            writer.write(cv2.cvtColor(rendered[source(i)], cv2.COLOR_RGB2BGR))
        writer.release()
        mask_dir.mkdir(parents=True, exist_ok=True)
        for k in sorted(set(range(0, n, key_every)) | {n - 1}):
            Image.fromarray(masks[source(k)]).save(mask_dir / f"{k:05d}.png")

    write(root / "FRAMES" / "long.mp4", frames, root / "MASKS" / "long")
    write(root / "SHORT" / "short.mp4", min(short, frames), root / "MASKS_SHORT" / "short")
    torch.manual_seed(seed)
    save_model(FGPLG(flow="opencv"), root / "fgplg.pth")
    return {"frames": root / "FRAMES", "masks": root / "MASKS", "short": root / "SHORT",
            "short_masks": root / "MASKS_SHORT", "checkpoint": root / "fgplg.pth"}


def _child(argv: List[str]) -> int:
    """Run the command in this process and print its figures as one JSON line."""
    import torch

    import libs.pipeline.keyframes.generation  # noqa: F401  (what the run imports, in the start-up figure)
    from libs.pipeline.pseudo_labels import build_parser as generation_parser
    from libs.pipeline.pseudo_labels import run as generation_run

    threads = os.environ.get("KEYFRAMES_BENCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    startup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    start = time.perf_counter()
    result = generation_run(generation_parser().parse_args(argv), log=lambda _: None)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB -> MiB (Linux)
    print(json.dumps({"count": result["count"], "seconds": result["seconds"], "wall": wall, "peak_mib": peak,
                      "startup_mib": startup, "threads": torch.get_num_threads()}))
    return 0


def _run_child(argv: List[str], threads) -> dict:
    env = dict(os.environ)
    if threads:
        env.update(KEYFRAMES_BENCH_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    p = subprocess.run([sys.executable, "-m", "libs.benchmark.keyframes", "--child", *map(str, argv)], cwd=ROOT,
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{PROG}: a run failed:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace, log=print) -> dict:
    if args.child is not None:
        return _child([a for a in args.child if a != "--"])
    import torch

    from libs.utils.io import save_json
    from libs.utils.machine import machine_info

    rows = []
    with tempfile.TemporaryDirectory(prefix="keyframes-bench-") as tmp:
        tmp = Path(tmp)
        short = min(args.short, args.frames)
        inputs = make_inputs(tmp, args.frames, short, args.size, args.key_every)
        common = ["--size", args.size, "--device", "cpu", "--batch-size", args.batch_size]
        runs = [("fgplg", args.frames, ["--input", inputs["frames"], "--labels", inputs["masks"], "--method", "fgplg",
                                        "--checkpoint", inputs["checkpoint"], "--frame_between_label_num", args.m]),
                ("fgplg, short video", short, ["--input", inputs["short"], "--labels", inputs["short_masks"],
                                               "--method", "fgplg", "--checkpoint", inputs["checkpoint"],
                                               "--frame_between_label_num", args.m])]
        if not args.skip_warp:
            runs.append(("warp (--flow opencv)", args.frames, ["--input", inputs["frames"], "--labels",
                                                               inputs["masks"], "--method", "warp"]))
        for i, (name, frames, argv) in enumerate(runs):
            log(f"{name}: {frames}-frame video ...")
            figures = _run_child(argv + common + ["--out", tmp / f"out{i}"], args.threads)
            rows.append({"run": name, "video_frames": frames, **figures,
                         "fps": figures["count"] / figures["seconds"] if figures["seconds"] else None})
    machine = machine_info(torch.device("cpu"))
    machine["torch_threads"] = rows[0]["threads"] if rows else None  # the runs', not this process's
    report = {"size": args.size, "key_every": args.key_every, "m": args.m, "batch_size": args.batch_size,
              "threads": args.threads, "rows": rows, "machine": machine}
    log(format_report(report))
    if args.json:
        save_json(report, args.json)
    return report


def format_report(report: dict) -> str:
    m = report["machine"]
    lines = [f"{m['cpu']} ({m['logical_cpus']} logical CPUs, torch threads {m['torch_threads']}, features "
             f"{' '.join(m['cpu_flags'] or [])}; PyTorch {m['torch']}; load average {m.get('load_average')})",
             f"--size {report['size']}, key frame every {report['key_every']} frames, --batch-size "
             f"{report['batch_size']}, fgplg runs with --frame_between_label_num {report['m']}", "",
             "| run | video frames | masks generated | frames/s (generation) | wall s (with model loading) | "
             "RSS after imports MiB | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        lines.append(f"| {r['run']} | {r['video_frames']} | {r['count']} | {r['fps']:.2f} | {r['wall']:.1f} | "
                     f"{r['startup_mib']:.0f} | {r['peak_mib']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    return run_main(PROG, run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
