"""How much worse ``--extrapolate`` labels are than labels between two key frames, measured.

    python -m libs.benchmark.extrapolation --input FRAMES --labels MASKS --keys 10,20 [--method warp]

``MASKS`` must hold a mask for *every* frame of the video (dense GT, e.g. a DAVIS 2016 video
with its annotations). Only the masks of ``--keys`` are given to the labeller; every
other frame is labelled exactly as ``generate_pseudo_labels.py --input ... --extrapolate`` would
(same engine, same labellers): the frames between two key frames from that pair, the frames
before the first and after the last from that one key frame. Each labelled frame is scored
against its own mask (J, boundary F, S, MAE, as ``--holdout`` scores), and the table groups
the frames by their distance to the key frame the method used (the nearer one), interpolated
beside extrapolated, so both are compared at the same distances.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from libs.datasets.keyframes import label_jobs, nearer_key
from libs.datasets.user_videos import check_masks, list_user_videos
from libs.metrics.saliency import prob_to_uint8
from libs.networks.flow import RAFT_ITERS
from libs.pipeline.keyframes.engine import label_video
from libs.pipeline.keyframes.labellers import build_labellers
from libs.pipeline.keyframes.report import new_evaluators, scores
from libs.pipeline.keyframes.source import VideoSource
from libs.utils.cli import UsageError, positive_int, run_main
from libs.utils.distributed import resolve_device
from libs.utils.io import load_mask, save_json

__all__ = ["build_parser", "run", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m libs.benchmark.extrapolation",
                                description="Score labels extrapolated from one key frame against labels "
                                            "interpolated between two, by distance to the key frame used, on a "
                                            "video whose every frame has a mask.")
    p.add_argument("--input", required=True, metavar="FRAMES", help="one video: a folder of frames or a video file")
    p.add_argument("--labels", required=True, metavar="MASKS", help="a mask for every frame of the video")
    p.add_argument("--video", default=None, help="which video of a folder of videos (default: the first)")
    p.add_argument("--keys", required=True, metavar="A,B,...",
                   help="positions (0-based, natural order) of the key frames whose masks are given")
    p.add_argument("--method", choices=("warp", "copy", "fgplg"), default="warp",
                   help="the labeller; fgplg needs --checkpoint (default: %(default)s)")
    p.add_argument("--checkpoint", default=None, metavar="PTH", help="FGPLG weights for --method fgplg or for the "
                   "flow of warp (default: none; warp then uses OpenCV flow)")
    p.add_argument("--size", type=positive_int, default=448, help="frames resized to S x S (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=1, help="frames per batch (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: %(default)s)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the table as JSON (default: none)")
    return p


def _labeller(args, device):
    """The labeller ``generate_pseudo_labels.py --input`` builds for ``--method`` (warp without a
    checkpoint: OpenCV flow)."""
    if args.method == "fgplg" and args.checkpoint is None:
        raise UsageError("--method fgplg needs --checkpoint PTH")
    # Generation's defaults; no --flow: the checkpoint's flow, else OpenCV (no weights file is read).
    flags = argparse.Namespace(os=16, raft_iters=RAFT_ITERS, rgb_max=1.0, fp16=False, amp=False, flow=None,
                               flownet_checkpoint=None, raft_checkpoint=None)
    return build_labellers(flags, args.checkpoint, [args.method], device, log=lambda _: None)[args.method]


def _parse_keys(text: str) -> List[int]:
    try:
        return sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise UsageError(f"--keys: expected comma-separated frame positions, got {text!r}") from None


def run(args: argparse.Namespace, log=print) -> dict:
    listing = list_user_videos(args.input, args.labels)
    vf = listing.by_name().get(args.video) if args.video else listing.videos[0]
    if vf is None:
        raise UsageError(f"--video {args.video}: no such video in {args.input}")
    if len(vf.labels) != len(vf.frames):
        raise UsageError(f"{args.labels}: {len(vf.labels)} masks for {len(vf.frames)} frames; every frame needs its "
                         f"mask to be scored")
    check_masks([vf])
    keys = _parse_keys(args.keys)
    if len(keys) < 2:
        raise UsageError("--keys: give at least two key frames (one gap to interpolate in)")
    given = replace(vf, frames=tuple(f if i in keys else f.without_label() for i, f in enumerate(vf.frames)),
                    labels=tuple(keys))
    jobs = label_jobs(keys, len(vf.frames), None, extrapolate=True)
    device = resolve_device(args.device)
    labeller = _labeller(args, device)
    groups: Dict[tuple, object] = {}
    with VideoSource(given, args.size) as source:
        for item in label_video(source, keys, jobs, {args.method: labeller}, args.batch_size):
            left, pos, right = item.job
            kind = "extrapolated" if left == right else "interpolated"
            distance = abs(pos - nearer_key(item.job))
            gt = prob_to_uint8(load_mask(vf.frames[pos].label))
            if (distance, kind) not in groups:
                groups[distance, kind] = new_evaluators([args.method])[args.method]
            groups[distance, kind].step(item.maps[args.method], gt)
    rows = [{"distance": d, "kind": kind, "frames": len(ev), **scores(ev)} for (d, kind), ev in sorted(groups.items())]
    log(f"{vf.video}: key frames {keys}, --method {args.method}, --size {args.size}; frames grouped by distance to "
        f"the key frame used")
    log(format_rows(rows))
    summary = summarize(rows)
    for line in summary:
        log(line)
    result = {"video": vf.video, "keys": keys, "method": args.method, "size": args.size, "rows": rows,
              "summary": summary}
    if args.json:
        save_json(result, args.json)
    return result


def format_rows(rows: Sequence[dict]) -> str:
    lines = ["| distance | kind | frames | J | F | S | MAE |", "|---:|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['distance']} | {r['kind']} | {r['frames']} | {r['J']:.3f} | {r['F']:.3f} | {r['S']:.3f} | "
              f"{r['MAE']:.4f} |" for r in rows]
    return "\n".join(lines)


def _mean(rows: Sequence[dict], key: str) -> Optional[float]:
    frames = sum(r["frames"] for r in rows)
    return sum(r[key] * r["frames"] for r in rows) / frames if frames else None


def summarize(rows: Sequence[dict]) -> List[str]:
    """Frame-weighted means: interpolated vs extrapolated at the distances both have, and
    extrapolated beyond the farthest interpolated frame."""
    inter = [r for r in rows if r["kind"] == "interpolated"]
    both = {r["distance"] for r in inter}
    near = [r for r in rows if r["kind"] == "extrapolated" and r["distance"] in both]
    far = [r for r in rows if r["kind"] == "extrapolated" and r["distance"] not in both]
    lines = []
    for name, group in (("interpolated", inter), (f"extrapolated, distances {min(both)}-{max(both)}", near),
                        ("extrapolated, farther", far)):
        if group:
            lines.append(f"{name}: {sum(r['frames'] for r in group)} frames, J {_mean(group, 'J'):.3f}, "
                         f"F {_mean(group, 'F'):.3f}, S {_mean(group, 'S'):.3f}, MAE {_mean(group, 'MAE'):.4f}")
    return lines


def main(argv=None) -> int:
    return run_main("python -m libs.benchmark.extrapolation", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
