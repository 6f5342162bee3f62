"""The authors' released weights, checked in one command before a long run::

    python -m libs.pipeline.check_weights --models models/

For each released file in ``--models`` (:data:`RELEASED`): read it on the CPU
(``weights_only``), check that its keys and shapes are exactly those of its model, load it
strictly, run one toy clip through the model on ``--device`` and print one line: ``ok``,
the model, its parameter count, the output range on the toy clip, the time to load and to
run. A file that is not there is listed as ``missing``; one that cannot be read (a truncated
download), that holds another model, or whose keys differ gets one ``FAILED`` line naming the
file and what is wrong. Exit status: 0 when every file checked is fine, 1 otherwise, 2 for bad
flags (one ``check_weights: error:`` line).

The toy clip is :func:`libs.datasets.toy.render_video`'s: textured blobs moving over a
textured background, ``--frames`` frames of ``--size`` x ``--size`` (a multiple of 64, as
FlowNet2 needs). The video model sees the clip, the image model its frames, the FGPLG labels
the middle frame from the first and last frames and their masks, FlowNet2 estimates the flow
from the first frame to the second.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from flownet2 import FlowNet2
from libs.datasets.toy import render_video
from libs.networks import FGPLG, ImageModel, VideoModel
from libs.networks.pseudo_label_generator import flow_source_of
from libs.utils.checkpoint import CheckpointError, describe_mismatch, load_checkpoint, read_checkpoint, shapes_of
from libs.utils.cli import UsageError, positive_int, run_main
from libs.utils.distributed import resolve_device
from libs.utils.normalization import normalize

__all__ = ["RELEASED", "Released", "Outcome", "ToyClip", "toy_clip", "load_released", "check_file", "build_parser",
           "run", "main"]

PROG = "check_weights"
FLOWNET_SIZE = 64  # FlowNet2 takes sizes that are multiples of 64


@dataclass(frozen=True)
class ToyClip:
    """``frames (T, 3, S, S)`` RGB in [0, 1]; ``masks (T, 1, S, S)`` in {0, 1}."""

    frames: torch.Tensor
    masks: torch.Tensor


def toy_clip(frames: int = 3, size: int = FLOWNET_SIZE, seed: int = 0) -> ToyClip:
    rgb, masks = render_video(np.random.default_rng(seed), frames, size, size)
    return ToyClip(torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div(255.0),
                   torch.from_numpy(masks)[:, None].float().div(255.0))


def _saliency(logits: torch.Tensor, what: str) -> Tuple[torch.Tensor, str]:
    return torch.sigmoid(logits.float()), f"saliency {{lo:.3f}}..{{hi:.3f}} {what}"


def _run_video(model, clip: ToyClip, device) -> Tuple[torch.Tensor, str]:
    x = normalize(clip.frames).to(device)
    logits = torch.stack(model([x[t : t + 1] for t in range(x.shape[0])]))
    return _saliency(logits, f"over the {x.shape[0]} frames of the clip")


def _run_image(model, clip: ToyClip, device) -> Tuple[torch.Tensor, str]:
    x = normalize(clip.frames).to(device)
    return _saliency(model(x), f"over {x.shape[0]} frames")


def _run_fgplg(model, clip: ToyClip, device) -> Tuple[torch.Tensor, str]:
    x, m = normalize(clip.frames).to(device), clip.masks.to(device)
    mid = x.shape[0] // 2
    logits = model.generate_pseudo_label(x[mid : mid + 1], x[:1], x[-1:], m[:1], m[-1:])
    return _saliency(logits, f"for frame {mid} from frames 0 and {x.shape[0] - 1}")


def _run_flownet2(model, clip: ToyClip, device) -> Tuple[torch.Tensor, str]:
    pair = torch.stack((clip.frames[0], clip.frames[1]), dim=1)[None].to(device)  # (1, 3, 2, S, S)
    return model(pair).float(), "flow {lo:.2f}..{hi:.2f} px from frame 0 to frame 1"


@dataclass(frozen=True)
class Released:
    """One released file: its name, the model it holds, what reads it, how to build and run it."""

    name: str
    model: str
    used_by: str
    build: Callable[[], nn.Module]
    run: Callable[[nn.Module, ToyClip, torch.device], Tuple[torch.Tensor, str]]


RELEASED: Tuple[Released, ...] = (
    Released("video_best_model.pth", "VideoModel", "inference.py", VideoModel, _run_video),
    Released("image_pretrained_model.pth", "ImageModel", "train.py and train_fgplg.py", ImageModel, _run_image),
    Released("pseudo_label_generator_5.pth", "FGPLG", "generate_pseudo_labels.py",
             lambda: FGPLG(flow="flownet2", allow_random_flownet=True), _run_fgplg),
    Released("FlowNet2_checkpoint.pth.tar", "FlowNet2", "train_fgplg.py", lambda: FlowNet2(rgb_max=1.0),
             _run_flownet2),
)
NAMES = tuple(r.name for r in RELEASED)


@lru_cache(maxsize=None)
def signature(name: str) -> Dict[str, Tuple[int, ...]]:
    """``{key: shape}`` of the model released as ``name``, built on the meta device (no memory)."""
    spec = next(r for r in RELEASED if r.name == name)
    with torch.device("meta"):
        model = spec.build()
    return shapes_of(model.state_dict())


def _what_is_wrong(spec: Released, state: Dict[str, torch.Tensor]) -> Optional[str]:
    """None when ``state`` has exactly the keys and shapes of ``spec``'s model, else why not."""
    found = shapes_of(state)
    if found == signature(spec.name):
        return None
    for other in RELEASED:
        if other.name != spec.name and found == signature(other.name):
            return f"holds the {other.model} of {other.name}, not the {spec.model}"
    if spec.model == "FGPLG":
        flow = flow_source_of(state)
        if flow in ("opencv", "raft"):
            trained = "--flow opencv: no flownet.* weights" if flow == "opencv" else "--flow raft"
            return (f"an FGPLG trained with {trained}; the released one holds FlowNet2's weights "
                    f"under flownet.* ({describe_mismatch(found, signature(spec.name))})")
    return f"not the released {spec.model}: {describe_mismatch(found, signature(spec.name))}"


@dataclass(frozen=True)
class Outcome:
    """One file's result: ``status`` is 'ok', 'missing' or 'FAILED'; ``detail`` the rest of its line."""

    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<8} {self.name:<29} {self.detail}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _empty_model(spec: Released) -> nn.Module:
    """``spec``'s model with its tensors allocated but not initialised: built on the meta device,
    then on the CPU, which skips the random initialisation of up to 200M parameters. The
    strict load overwrites every tensor (every one is in the state dict; a model with tensors
    outside it is built normally)."""
    with torch.device("meta"):
        model = spec.build()
    tensors = {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}
    if tensors != set(model.state_dict()):
        return spec.build()
    return model.to_empty(device="cpu")


def load_released(spec: Released, path: Path) -> nn.Module:
    """The model of ``spec`` with ``path`` loaded strictly, on the CPU, in eval mode.

    Raises :class:`CheckpointError` (one line naming ``path``) when the file cannot be read,
    holds another model, or its keys or shapes differ from the model's.
    """
    try:
        state, _ = read_checkpoint(path)
    except CheckpointError as e:
        raise CheckpointError(f"{e}; a truncated or damaged download?") from None
    problem = _what_is_wrong(spec, state)
    if problem is not None:
        raise CheckpointError(f"{path}: {problem}")
    model = _empty_model(spec)
    load_checkpoint(model, state, strict=True, allow_channel_extension=False)
    return model.eval()


def check_file(spec: Released, folder: Path, clip: ToyClip, device: torch.device) -> Outcome:
    """Read, strictly load and run one released file; never raises for a bad file."""
    path = folder / spec.name
    if not path.is_file():
        return Outcome(spec.name, "missing", f"not in {folder} (the {spec.model} {spec.used_by} reads)")
    start = time.perf_counter()
    try:
        model = load_released(spec, path)
    except CheckpointError as e:
        return Outcome(spec.name, "FAILED", str(e))
    params = sum(p.numel() for p in model.parameters())
    flow_params = sum(p.numel() for p in model.flownet.parameters()) if spec.model == "FGPLG" else 0
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    try:
        model = model.to(device)
        with torch.inference_mode():
            out, text = spec.run(model, clip, device)
            _sync(device)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Outcome(spec.name, "FAILED", f"{path}: loaded, but the toy clip failed on {device}: {first}")
    ran = time.perf_counter() - start
    if not bool(torch.isfinite(out).all()):
        return Outcome(spec.name, "FAILED", f"{path}: loaded, but gives non-finite outputs (NaN or inf) on the "
                                            f"toy clip")
    count = f"{params:,} parameters" + (f" ({flow_params:,} of them FlowNet2's)" if flow_params else "")
    lo, hi = out.min().item(), out.max().item()
    return Outcome(spec.name, "ok", f"{spec.model}, {count}; {text.format(lo=lo, hi=hi)}; "
                                    f"load {loaded:.1f} s, run {ran:.1f} s on {device}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m libs.pipeline.{PROG}",
        description="Check the released weights (" + ", ".join(NAMES) + "): each is read, loaded strictly into "
                    "its model and run on a toy clip; one line per file. Exit status 0 when all are fine, 1 when "
                    "one is missing or broken.",
    )
    parser.add_argument("--models", default="./models", metavar="DIR",
                        help="folder holding the downloaded files (default: %(default)s)")
    parser.add_argument("--files", nargs="+", choices=NAMES, default=list(NAMES), metavar="NAME",
                        help="check only these files, e.g. video_best_model.pth for inference alone "
                             "(default: all four)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    parser.add_argument("--size", type=positive_int, default=FLOWNET_SIZE, metavar="S",
                        help="toy clip size S x S, a multiple of 64 (default: %(default)s)")
    parser.add_argument("--frames", type=positive_int, default=3, metavar="T",
                        help="toy clip length, at least 2 (default: %(default)s)")
    return parser


def run(args: argparse.Namespace, log=print) -> int:
    folder = Path(args.models)
    if not folder.is_dir():
        raise UsageError(f"{folder}: folder not found (--models)")
    if args.size % FLOWNET_SIZE:
        raise UsageError(f"--size must be a multiple of {FLOWNET_SIZE} (FlowNet2's input), got {args.size}")
    if args.frames < 2:
        raise UsageError(f"--frames must be at least 2 (the FGPLG and FlowNet2 need two frames), got {args.frames}")
    device = resolve_device(args.device)
    clip = toy_clip(args.frames, args.size)
    specs = [r for r in RELEASED if r.name in args.files]
    log(f"{PROG}: {len(specs)} released file(s) in {folder}, toy clip of {args.frames} frames "
        f"{args.size}x{args.size} on {device}")
    outcomes: List[Outcome] = []
    for spec in specs:
        outcomes.append(check_file(spec, folder, clip, device))
        log(outcomes[-1].line())
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "missing", "FAILED")}
    log(f"{PROG}: {counts['ok']} ok, {counts['missing']} missing, {counts['FAILED']} failed")
    return 0 if counts["ok"] == len(outcomes) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main(PROG, run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
