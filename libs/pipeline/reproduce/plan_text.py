"""The plan as text: stages and what each will do, the data table, device, processes, disk, time,
then the problems and warnings, one per line."""
from __future__ import annotations

from typing import List

from .estimates import format_bytes, format_seconds
from .plan import Plan

__all__ = ["render_plan", "render_data", "render_findings"]

_ROLE = {"fgplg train": "train", "video train": "train", "generation": "train", "fgplg val": "val",
         "video val": "val", "test": "test"}
_COLUMNS = ("set", "role", "videos", "frames", "annotated", "interval found/config", "kept at l", "triplets",
            "pseudo-labels", "GT read")


def _table(rows: List[List[str]]) -> List[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def _opt(value) -> str:
    return "-" if value is None else str(value)


def render_data(plan: Plan) -> List[str]:
    """The data part: where it is, the per-set table, the image sets, the mask sample."""
    budget = plan.budget
    head = f"data: {plan.data_root or '-'} (config {plan.dataset_config or '-'})"
    if "l" in budget:
        head += f"; label budget l={budget['l']} ({100 / budget['l']:.0f}% of the annotations kept)"
    if "m" in budget:
        head += f", m={budget['m']} pseudo-label{'s' if budget['m'] != 1 else ''} per gap"
    lines = [head]
    if plan.data_note:
        return lines + [f"  {plan.data_note}"]
    rows = [list(_COLUMNS)]
    for key, c in plan.splits.items():
        roles = ",".join(dict.fromkeys(_ROLE.get(r, r) for r in plan.roles.get(key, [])))
        share = plan.gt_read.get(key)
        rows.append([key, roles, f"{c.videos}/{c.videos_listed}", str(c.frames), str(c.annotated),
                     f"{_opt(c.annotation_interval)}/{_opt(c.config_interval)}", str(c.kept_labels),
                     str(c.fgplg_triplets), str(c.pseudo_labels), "-" if share is None else f"{100 * share:.0f}%"])
    if len(rows) > 1:
        lines += _table(rows)
    for key, c in plan.images.items():
        lines.append(f"  image set {key}: {c.images} of {c.listed} listed images found")
    sampled = sum(c.masks_sampled for c in plan.splits.values())
    if sampled:
        multi = sum(c.multi_object_masks for c in plan.splits.values())
        lines.append(f"  multi-object check: {sampled} masks decoded (first, middle and last annotated frame of "
                     f"each video), {multi} with more than one object")
    return lines


def render_plan(plan: Plan) -> str:
    e = plan.experiment
    lines = [f"plan of experiment {e.name} ({e.path}), run folder {plan.run}"]
    if e.description:
        lines.append(f"  {e.description}")
    lines.append("stages:")
    width = max(len(s.name) for s in plan.stages)
    script = max(len(s.kind.script) for s in plan.stages)
    for s, a in zip(plan.stages, plan.actions):
        times = f" x{len(s.commands)}" if len(s.commands) > 1 else ""
        lines.append(f"  {s.number}/{s.total} {s.name.ljust(width)}  {(s.kind.script + times).ljust(script + 3)}  "
                     f"{a.do}: {a.reason}")
    lines += render_data(plan)
    lines.append(f"device: {plan.device}; precision: {plan.precision}")
    if plan.effective_batch:
        batch = ", ".join(f"{k} {v}" for k, v in plan.effective_batch.items())
        lines.append(f"processes: world size {plan.gpus} (--gpus {plan.gpus}"
                     f"{', torchrun' if plan.gpus > 1 else ''}); effective batch (--batch-size x processes): {batch}")
    if plan.estimates:
        parts = ", ".join(f"{x.stage} {format_bytes(x.bytes)}" for x, a in zip(plan.estimates, plan.actions)
                          if a.runs and x.bytes)
        free = "unknown" if plan.disk_free is None else format_bytes(plan.disk_free)
        lines.append(f"disk: the run writes about {format_bytes(plan.disk_write)} under {plan.run}"
                     f"{f' ({parts})' if parts else ''}; {free} free there")
        lines.append("time (config/throughput.yaml, the figures of docs/speed.md):")
        width = max(len(x.stage) for x in plan.estimates)
        for x, a in zip(plan.estimates, plan.actions):
            when = f"about {format_seconds(x.seconds)}" if x.seconds is not None else "?"
            skip = "" if a.runs else f" [{a.do}]"
            lines.append(f"  {x.stage.ljust(width)}  {x.work}: {when}{skip} ({x.note})")
    return "\n".join(lines + render_findings(plan))


def render_findings(plan: Plan) -> List[str]:
    """The problems, then the warnings, one per line."""
    lines = [f"problems ({len(plan.problems)}):" + ("" if plan.problems else " none")]
    lines += [f"  - {p}" for p in plan.problems]
    lines.append(f"warnings ({len(plan.warnings)}):" + ("" if plan.warnings else " none"))
    return lines + [f"  - {w}" for w in plan.warnings]
