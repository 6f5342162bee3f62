"""How long each stage takes and how much it writes, before it runs.

Time: the work of a stage (steps, frames) times a measured figure of ``config/throughput.yaml``
for the device kind (docs/speed.md shows them), scaled by the pixels (``(S / measured S)^2``);
"no measured figure" where there is none. Disk: checkpoints from the models' parameter
counts (built on PyTorch's meta device: no memory, no weights), pseudo-labels and maps from
the sizes of the GT files they resemble.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import yaml

from libs.datasets.indexing import clip_indices

from .commands import StagePlan
from .datacheck import ImageCount, SplitCount
from .stages import ROOT

__all__ = ["Figure", "StageEstimate", "load_figures", "estimate_stage", "format_seconds", "format_bytes",
           "THROUGHPUT", "amp_notes"]

THROUGHPUT = ROOT / "config" / "throughput.yaml"
_FLOAT = 4  # bytes per fp32 value
_TOY_FILE = 8 * 1024  # a toy frame with its mask, about


@dataclass(frozen=True)
class Figure:
    name: str
    what: str
    unit: str
    device: str
    seconds: float
    size: int
    precision: str
    machine: str
    command: str


@dataclass
class StageEstimate:
    stage: str
    work: str  # what the stage does, counted
    seconds: Optional[float]
    note: str  # the figure used, or why there is none
    bytes: int


@functools.lru_cache(maxsize=4)
def _read(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def load_figures(path: Path = THROUGHPUT) -> Dict[str, Figure]:
    raw = _read(str(path)).get("figures") or {}
    return {name: Figure(name, str(f["what"]), str(f.get("unit", "unit")), str(f["device"]), float(f["seconds"]),
                         int(f["size"]), str(f.get("precision", "fp32")), str(f.get("machine", "")),
                         str(f.get("command", "")))
            for name, f in raw.items()}


def amp_notes(path: Path = THROUGHPUT) -> Dict[str, str]:
    return {str(k): str(v) for k, v in (_read(str(path)).get("amp_on_cpu") or {}).items()}


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit in ("B", "KiB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


@functools.lru_cache(maxsize=8)
def parameter_counts(model: str, flow: str = "opencv") -> tuple:
    """``(values in the state dict, trainable values)`` of a model, built on the meta device."""
    import torch

    from libs.networks import FGPLG, ImageModel, VideoModel

    with torch.device("meta"):
        net = {"image": ImageModel, "video": VideoModel}.get(model, lambda: FGPLG(flow="opencv"))()
    total = sum(t.numel() for t in net.state_dict().values())
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    if model == "fgplg" and flow != "opencv":  # the frozen flow network: in the best model, not in the last state
        from flownet2 import FlowNet2

        with torch.device("meta"):
            flow_net = FlowNet2() if flow == "flownet2" else _raft()
        total += sum(t.numel() for t in flow_net.state_dict().values())
    return total, trainable


def _raft():
    from torchvision.models.optical_flow import raft_large

    return raft_large(weights=None)


def _scaled(figure: Optional[Figure], device: str, size: int):
    """Seconds per unit at ``size`` on ``device`` and the note saying where it comes from."""
    if figure is None:
        return None, "no measured figure for this stage"
    if figure.device != device:
        return None, f"no measured figure for {device} (only {figure.device}: {figure.what})"
    scale = (size / figure.size) ** 2
    note = (f"{figure.seconds:g} s per {figure.unit} at {figure.size}x{figure.size}, {figure.precision}, measured on "
            f"{figure.machine}"
            + (f", scaled by pixels to {size}x{size}" if size != figure.size else ""))
    return figure.seconds * scale, note


def _epochs(a) -> int:
    return max(a.epochs - a.start_epoch + 1, 0)


def _steps(items: int, a, world: int) -> int:
    steps = math.ceil(items / max(a.batch_size * world, 1))
    return min(steps, a.max_iters) if a.max_iters else steps


def _backups(a) -> int:
    every = a.backup_epochs
    return sum(1 for n in range(a.start_epoch, a.epochs + 1) if n > 0 and every and n % every == 0) if every else 0


def _checkpoint_bytes(model: str, a, flow: str = "opencv") -> int:
    total, trainable = parameter_counts(model, flow)
    best = total * _FLOAT
    last_state = trainable * _FLOAT * 3  # weights and Adam's two moments
    return best * (1 + _backups(a)) + last_state


def _sum(counts: Dict[str, SplitCount], keys, attr: str) -> int:
    return sum(getattr(counts[k], attr) for k in keys if k in counts)


def _mean_label(counts: Dict[str, SplitCount], keys) -> float:
    return _sum(counts, keys, "label_bytes") / max(_sum(counts, keys, "annotated"), 1)


def estimate_stage(stage: StagePlan, counts: Dict[str, SplitCount], images: Dict[str, ImageCount], device: str,
                   world: int, figures: Dict[str, Figure]) -> StageEstimate:
    """The work, time and disk of one stage; ``world`` processes for the training stages."""
    a, name = stage.args[0], stage.name
    procs = world if stage.kind.training else 1
    per = f"batch {a.batch_size} x {procs} process{'es' if procs > 1 else ''}" if hasattr(a, "batch_size") else ""
    if name == "data":
        files = (a.train_videos + a.val_videos + a.test_videos) * a.frames + a.train_images + a.val_images
        return StageEstimate(name, f"{files} toy frames and images", None, "no measured figure (seconds)",
                             files * _TOY_FILE)
    if name == "pretrain":
        n = sum(images[k].images for k in stage.set_keys("train_sets") if k in images)
        steps = _steps(n, a, procs)
        return StageEstimate(name, f"{_epochs(a)} epochs x {steps} steps ({per}) on {n} images", None,
                             "no measured figure for this stage", _checkpoint_bytes("image", a))
    if name == "fgplg":
        train = _sum(counts, stage.set_keys("train_sets"), "fgplg_triplets")
        val = _sum(counts, stage.set_keys("val_sets"), "fgplg_triplets")
        steps = _steps(train, a, procs)
        return StageEstimate(name, f"{_epochs(a)} epochs x {steps} steps ({per}) on {train} triplets, "
                                   f"validation on {val}", None, "no measured figure for this stage",
                             _checkpoint_bytes("fgplg", a, a.flow))
    if name == "pseudo_labels":
        keys = stage.set_keys("sets")
        n = _sum(counts, keys, "pseudo_labels")
        written = _sum(counts, keys, "kept_bytes") + n * _mean_label(counts, keys)
        return StageEstimate(name, f"{n} pseudo-labels, {_sum(counts, keys, 'kept_labels')} kept GT copied", None,
                             "no measured figure for this stage", int(written))
    if name == "video":
        return _video(stage, counts, device, procs, per, figures)
    if name == "inference":
        return _inference(stage, counts, device, figures)
    frames = sum(counts[k].annotated for k in stage.labels if k in counts)
    return StageEstimate(name, f"{frames} GT frames of {len(stage.labels)} test set(s)", None,
                         "no measured figure for this stage", 0)


def _video(stage: StagePlan, counts, device: str, procs: int, per: str, figures) -> StageEstimate:
    a = stage.args[0]
    train_keys, val_keys = stage.set_keys("train_sets"), stage.set_keys("val_sets")
    clips = 0
    for k in train_keys:
        if k not in counts:
            continue
        c = counts[k]
        used = c.generated if a.pseudo_label_folder else [len(vf.labels) for vf in c.found]
        clips += sum(len(clip_indices(n, a.clip_len, training=True)) for n in used)
    val_clips = sum(len(clip_indices(len(vf.labels), a.clip_len, training=True))
                    for k in val_keys if k in counts for vf in counts[k].found)
    if a.val_max_items:
        val_clips = min(val_clips, a.val_max_items)
    epochs, steps = _epochs(a), _steps(clips, a, procs)
    validations = epochs + (1 if a.eval_first else 0)
    step_s, note = _scaled(figures.get("video_training_step"), device, a.size)
    frame_s, _ = _scaled(figures.get("validation_frame"), device, a.size)
    seconds = None
    if step_s is not None and frame_s is not None:
        # a step of batch B costs about B clips; processes on their own devices run side by side
        seconds = epochs * steps * a.batch_size * step_s + validations * val_clips * a.clip_len * frame_s
    work = (f"{epochs} epochs x {steps} steps ({per}) on {clips} clips of {a.clip_len}, validation on "
            f"{val_clips} clips {validations} times")
    return StageEstimate("video", work, seconds, note, _checkpoint_bytes("video", a))


def _inference(stage: StagePlan, counts, device: str, figures) -> StageEstimate:
    frames = maps_bytes = 0
    for label, a in zip(stage.labels, stage.args):
        c = counts.get(label)
        if c is None:
            continue
        n = c.frames if a.all_frames else c.annotated
        frames += n
        maps_bytes += n * c.label_bytes / max(c.annotated, 1)
        if a.overlay:
            maps_bytes += n * c.frame_bytes / max(c.annotated, 1)
    per_frame, note = _scaled(figures.get("inference_frame"), device, stage.args[0].size)
    seconds = None if per_frame is None else frames * per_frame
    return StageEstimate("inference", f"{frames} frames of {len(stage.labels)} test set(s)", seconds, note,
                         int(maps_bytes))
