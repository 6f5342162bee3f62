"""The plan of a run: its data counted and checked, its weights, device, precision, processes,
disk and time, and what each stage will do; made before any work (``--plan`` stops there).

Roles of a set: ``fgplg train``/``fgplg val`` (triplets of kept labels), ``generation`` (the
pseudo-label folder), ``video train``/``video val`` and ``test`` (inference and evaluation).
The share of the GT the run reads, per set: the kept labels (``labels[::l]``) where only the
FGPLG, generation and training on the pseudo-label folder read it; all of it where video
training validates on it or trains without pseudo-labels, and on the test sets (evaluation).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from libs.datasets.config import DatasetConfigError, load_dataset_config
from libs.utils.errors import UsageError

from .commands import StagePlan
from .datacheck import ImageCount, SplitCount, count_image_split, count_video_split
from .estimates import StageEstimate, amp_notes, estimate_stage, load_figures
from .experiment import Experiment
from .launch import shell_line
from .state import Action

__all__ = ["Plan", "make_plan", "split_roles"]

_SCHEMA = ("videos", "videos_listed", "frames", "annotated", "annotation_interval", "config_interval",
           "kept_labels", "fgplg_triplets", "pseudo_labels", "masks_sampled", "multi_object_masks")


@dataclass
class Plan:
    experiment: Experiment
    run: Path
    stages: List[StagePlan]
    actions: List[Action]
    gpus: int
    data_root: str = ""
    dataset_config: str = ""
    data_note: str = ""  # why the data is not counted yet
    splits: Dict[str, SplitCount] = field(default_factory=dict)
    roles: Dict[str, List[str]] = field(default_factory=dict)
    gt_read: Dict[str, Optional[float]] = field(default_factory=dict)
    images: Dict[str, ImageCount] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    device: str = "cpu"
    device_type: str = "cpu"
    precision: str = "fp32"
    effective_batch: Dict[str, int] = field(default_factory=dict)
    estimates: List[StageEstimate] = field(default_factory=list)
    disk_write: int = 0
    disk_free: Optional[int] = None

    @property
    def budget(self) -> Dict[str, int]:
        """``{"l": .., "m": ..}`` of the FGPLG and generation stages."""
        out = {}
        for s in self.stages:
            if s.name in ("fgplg", "pseudo_labels"):
                out.setdefault("l", s.args[0].label_interval)
            if s.name == "pseudo_labels":
                out["m"] = s.args[0].frame_between_label_num
        return out

    def to_json(self) -> dict:
        datasets = {}
        for key, c in self.splits.items():
            datasets[key] = {k: getattr(c, k) for k in _SCHEMA}
            datasets[key].update(gt_read=self.gt_read.get(key), roles=self.roles.get(key, []))
        return {
            "experiment": self.experiment.name, "experiment_file": str(self.experiment.path), "run": str(self.run),
            "data": self.data_root, "dataset_config": self.dataset_config, "data_note": self.data_note or None,
            "datasets": datasets,
            "image_datasets": {k: {"listed": c.listed, "images": c.images} for k, c in self.images.items()},
            "problems": self.problems, "warnings": self.warnings,
            "device": self.device, "precision": self.precision, "world_size": self.gpus,
            "effective_batch": self.effective_batch,
            "disk": {"write_bytes": self.disk_write, "free_bytes": self.disk_free},
            "estimates": {e.stage: {"work": e.work, "seconds": e.seconds, "note": e.note, "bytes": e.bytes}
                          for e in self.estimates},
            "stages": {s.name: {"action": a.do, "reason": a.reason,
                                "commands": [shell_line(s.kind, argv, self.gpus) for argv in s.commands]}
                       for s, a in zip(self.stages, self.actions)},
        }


def split_roles(stages: List[StagePlan]) -> Dict[str, List[str]]:
    """``NAME:SPLIT`` -> the roles it plays in the run's video stages."""
    roles: Dict[str, List[str]] = {}
    for s in stages:
        pairs = []
        if s.name in ("fgplg", "video"):
            pairs = ([(k, f"{s.name} train") for k in s.set_keys("train_sets")]
                     + [(k, f"{s.name} val") for k in s.set_keys("val_sets")])
        elif s.name == "pseudo_labels":
            pairs = [(k, "generation") for k in s.set_keys("sets")]
        elif s.name == "inference":
            pairs = [(k, "test") for k in s.labels]
        for key, role in pairs:
            roles.setdefault(key, [])
            if role not in roles[key]:
                roles[key].append(role)
    return roles


def _stage(stages: List[StagePlan], name: str) -> Optional[StagePlan]:
    return next((s for s in stages if s.name == name), None)


def _gt_read(count: SplitCount, roles: List[str], video: Optional[StagePlan]) -> Optional[float]:
    if not count.annotated:
        return None
    kept = count.kept_labels / count.annotated
    reads_all = ("video val" in roles or "test" in roles
                 or ("video train" in roles and video is not None and not video.args[0].pseudo_label_folder))
    return 1.0 if reads_all else kept


def _count_data(plan: Plan) -> None:
    stages = plan.stages
    fgplg, pseudo, video = _stage(stages, "fgplg"), _stage(stages, "pseudo_labels"), _stage(stages, "video")
    try:
        config = load_dataset_config(plan.dataset_config)
    except DatasetConfigError as e:
        plan.problems.append(str(e))
        return
    plan.roles = split_roles(stages)
    for key, roles in plan.roles.items():
        own = fgplg if any(r.startswith("fgplg") for r in roles) else pseudo if "generation" in roles else None
        budget = own or fgplg or pseudo
        l = budget.args[0].label_interval if budget else None
        generation = ((pseudo.args[0].label_interval, pseudo.args[0].frame_between_label_num)
                      if pseudo and "generation" in roles else None)
        needs_labels = not all(r.startswith("fgplg") for r in roles)
        count = count_video_split(plan.data_root, config, plan.dataset_config, key, l, generation, needs_labels)
        plan.splits[key] = count
        plan.gt_read[key] = _gt_read(count, roles, video)
        plan.problems += count.problems
        plan.warnings += count.warnings
    pretrain = _stage(stages, "pretrain")
    if pretrain is not None:
        for key in dict.fromkeys(pretrain.set_keys("train_sets") + pretrain.set_keys("val_sets")):
            plan.images[key] = count_image_split(plan.data_root, config, plan.dataset_config, key)
            plan.problems += plan.images[key].problems


def _missing_inputs(stage: StagePlan, action: Action) -> List[str]:
    """Weight files (and evaluation's maps) a stage reads that are not there and that no earlier
    stage makes (``wired``: the run gives its --checkpoint, or evaluation's --results-folder)."""
    a, name = stage.args[0], stage.name
    wired = ("--results-folder" if name == "evaluate" else "--checkpoint") in stage.wired
    wanted = []
    if name in ("fgplg", "video") and action.do != "resume" and not wired:
        wanted.append(("--checkpoint", a.checkpoint))
    if name == "pretrain" and action.do != "resume" and str(a.checkpoint).lower() != "none":
        wanted.append(("--checkpoint", a.checkpoint))
    if name == "pretrain" and a.imagenet_checkpoint:
        wanted.append(("--imagenet-checkpoint", a.imagenet_checkpoint))
    if name == "fgplg" and a.flow == "flownet2":
        wanted.append(("--flownet-checkpoint", a.flownet_checkpoint))
    if name == "fgplg" and a.flow == "raft":
        from libs.networks.flow.raft import raft_weights_path
        from libs.utils.checkpoint import CheckpointError

        try:
            raft_weights_path(a.raft_checkpoint)
        except CheckpointError as e:
            return [f"stage {name} ({stage.kind.script}): weights missing: {e}"]
    if name == "inference" and not wired or name == "pseudo_labels" and not wired and a.frame_between_label_num:
        wanted.append(("--checkpoint", a.checkpoint))
    lines = [f"stage {name} ({stage.kind.script}): weights missing: {flag} {path} not found"
             for flag, path in wanted if path and str(path).lower() != "none" and not Path(path).is_file()]
    if name == "evaluate" and not Path(a.results_folder).is_dir() and not wired:
        lines.append(f"stage {name} ({stage.kind.script}): --results-folder {a.results_folder} not found")
    return lines


def _device(plan: Plan) -> None:
    import torch

    from libs.utils.distributed import resolve_device
    from libs.utils.precision import autocast_dtype

    devices = {}
    for s in plan.stages:
        a = s.args[0]
        if hasattr(a, "device"):
            try:
                devices.setdefault(s.name, resolve_device(a.device))
            except UsageError as e:
                plan.problems.append(f"stage {s.name} ({s.kind.script}): {e}")
    if not devices:
        return
    device = next(iter(devices.values()))
    plan.device_type = device.type
    plan.device = str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
    amp = [s.name for s in plan.stages if getattr(s.args[0], "amp", False)]
    plan.precision = (f"{str(autocast_dtype(device)).replace('torch.', '')} autocast (--amp) in {', '.join(amp)}; "
                      f"fp32 elsewhere" if amp else "fp32 (no --amp)")
    notes = amp_notes()
    native = _native_bf16()
    for s in plan.stages:
        if not getattr(s.args[0], "amp", False) or devices.get(s.name, device).type != "cpu":
            continue
        if s.kind.training:
            plan.warnings.append(f"stage {s.name} ({s.kind.script}): --amp for training on a CPU: "
                                 f"{notes.get('training', 'bf16 autocast is slower than fp32 for training')}")
        elif native is False:
            plan.warnings.append(f"stage {s.name} ({s.kind.script}): --amp on a CPU without native bf16 (no "
                                 f"avx512_bf16/amx_bf16 in /proc/cpuinfo): {notes.get('inference', '')}")
    if plan.gpus > 1:
        if device.type == "cuda" and torch.cuda.device_count() < plan.gpus:
            plan.problems.append(f"--gpus {plan.gpus}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        if not any(s.kind.training for s in plan.stages):
            plan.warnings.append(f"--gpus {plan.gpus}: no training stage in this experiment; every stage runs as "
                                 f"one process")
    plan.effective_batch = {s.name: s.args[0].batch_size * plan.gpus for s in plan.stages if s.kind.training}


def _free_disk(path: Path) -> Optional[int]:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def make_plan(experiment: Experiment, stages: List[StagePlan], actions: List[Action], run: Path,
              gpus: int = 1) -> Plan:
    """Count and check everything a run of ``stages`` will read, and describe what it will do."""
    plan = Plan(experiment, run, stages, actions, gpus)
    readers = [s for s in stages if s.name != "data" and hasattr(s.args[0], "dataset_config")]
    if readers:
        plan.data_root, plan.dataset_config = str(readers[0].args[0].data), str(readers[0].args[0].dataset_config)
    data = _stage(stages, "data")
    rewritten = data is not None and (actions[stages.index(data)].runs or not Path(plan.dataset_config).is_file())
    if readers and rewritten:
        plan.data_note = (f"{plan.data_root} is written by stage data; its counts, problems and the estimates that "
                          f"need them follow once it is there")
    elif readers:
        _count_data(plan)
    for s, a in zip(stages, actions):
        if a.runs:
            plan.problems += _missing_inputs(s, a)
    _device(plan)
    if not plan.data_note:
        figures = load_figures()
        plan.estimates = [estimate_stage(s, plan.splits, plan.images, plan.device_type, gpus, figures)
                          for s in stages]
        plan.disk_write = sum(e.bytes for e, a in zip(plan.estimates, actions) if a.runs)
    plan.disk_free = _free_disk(run)
    if plan.disk_free is not None and plan.disk_write > plan.disk_free:
        plan.problems.append(f"disk: the run writes about {plan.disk_write / 2**30:.1f} GiB under {run}, "
                             f"{plan.disk_free / 2**30:.1f} GiB are free there")
    plan.problems = list(dict.fromkeys(plan.problems))
    plan.warnings = list(dict.fromkeys(plan.warnings))
    return plan


def _native_bf16() -> Optional[bool]:
    """Whether this CPU computes bf16 natively (None: unknown), as the benchmarks report it."""
    from libs.utils.machine import cpu_features, parse_cpuinfo, read_cpuinfo

    text = read_cpuinfo()
    return None if text is None else cpu_features(parse_cpuinfo(text)[1])["native_bf16"]
