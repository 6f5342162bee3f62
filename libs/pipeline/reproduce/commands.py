"""From an experiment and its overrides to each stage's command lines.

The flags of a stage, later ones winning: the experiment's ``options`` (for every stage
that has the flag), the stage's own entry, the preset, then the command line (a plain flag
such as ``--epochs 0`` for every stage that has it; ``--set STAGE.FLAG=VALUE`` for one).
The run sets the rest itself, and refuses them from anywhere else:

- the outputs: ``RUN/<stage>/`` (``--save-folder``, ``--pseudo-label-folder``,
  ``--results-folder``, ``--json``, ``--out``), and ``--resume`` when a training stage continues;
- the inputs a previous stage made: the toy data's ``--data``/``--dataset-config``, the image
  model as ``--checkpoint`` of the FGPLG and video stages, the FGPLG as generation's
  ``--checkpoint``, the folder ``<m>_<l>`` as ``train.py --pseudo-label-folder``, the video
  model as inference's ``--checkpoint``, the maps as evaluation's ``--results-folder``;
- the sets: the experiment's train sets (``--train-sets``, generation's ``--sets``), val sets
  (``--val-sets``) and test sets (``--dataset``/``--split``, one command each).

``--flow``, ``--flownet-checkpoint`` and ``--raft-checkpoint`` given for every stage go to
the FGPLG's training only (generation reads the flow source from the FGPLG checkpoint).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from .experiment import Experiment, ExperimentError, Setting
from .stages import KINDS, PUBLISHED_L, PUBLISHED_M, StageKind, canonical_flag, flag_actions, flag_tokens, parser_of

__all__ = ["StagePlan", "resolve_stages", "SET_FLAGS"]

SET_FLAGS = ("--train-sets", "--val-sets", "--sets", "--dataset", "--split")
GLOBAL_TARGETS = {"--flow": ("fgplg",), "--flownet-checkpoint": ("fgplg",), "--raft-checkpoint": ("fgplg",)}
_PER_MODEL = ("--checkpoint",)  # another model in every stage: only per stage


@dataclass
class StagePlan:
    """One stage of a run: its command lines (script flags), their parsed arguments, its outputs."""

    kind: StageKind
    number: int
    total: int
    commands: List[List[str]]
    args: List[argparse.Namespace]
    labels: List[str]  # the test set of each command ("" for a one-command stage)
    folder: Path
    outputs: Dict[str, object]
    wired: Tuple[str, ...] = ()  # the flags the run set: outputs, sets, what earlier stages made

    @property
    def name(self) -> str:
        return self.kind.name

    def set_keys(self, attr: str) -> List[str]:
        """The ``NAME:SPLIT`` keys of a sets flag of the stage (``train_sets``, ``val_sets``, ``sets``)."""
        text = getattr(self.args[0], attr, "") or ""
        return [s.strip() for s in str(text).split(",") if s.strip()]

    def required_outputs(self) -> List[Path]:
        """Files or folders whose absence means the stage has to run again."""
        out = self.outputs
        if self.name == "data":
            return [Path(out["dataset_config"])]
        if self.kind.training:
            return [Path(out["best"])]
        if self.name == "pseudo_labels":
            return [Path(out["folder"]) / "pseudo_labels.json"]
        if self.name == "inference":
            return [Path(out["results"])]
        return [Path(p) for p in out["reports"].values()]

    def title(self) -> str:
        a = self.args[0]
        if self.name == "data":
            return f"toy data, 1 frame in {a.label_every} annotated (default_label_interval {a.label_every})"
        if self.name == "fgplg":
            l = a.label_interval
            return (f"FGPLG training within the budget l={l}: {100 / l:.0f}% of the labels "
                    f"(train_fgplg.py --flow {a.flow})")
        if self.name == "pseudo_labels":
            m = a.frame_between_label_num
            return (f"pseudo-label folder {Path(self.outputs['folder']).name}: kept GT + m={m} pseudo-label"
                    f"{'s' if m != 1 else ''} per gap (generate_pseudo_labels.py)")
        if self.name == "video":
            on = (f"{Path(a.pseudo_label_folder).name} (train.py --pseudo-label-folder)" if a.pseudo_label_folder
                  else "all the GT (train.py)")
            return f"video training on {on}"
        if self.name == "inference":
            return (f"inference on the test sets {', '.join(self.labels)} (inference.py"
                    f"{' --overlay' if a.overlay else ''})")
        return f"{self.kind.what} ({self.kind.script})"


class _Flags:
    """The flags of one stage in the order they were first set; later values win."""

    def __init__(self, kind: StageKind, parser):
        self.kind, self.parser = kind, parser
        self.actions = flag_actions(parser)
        self.values: Dict[str, List[str]] = {}
        self.wired: Dict[str, str] = {}  # flag -> why the run sets it

    def wire(self, flag: str, value, why: str) -> None:
        if flag in self.actions:
            self.values[flag] = flag_tokens(self.parser, flag, value)
            self.wired[flag] = why

    def set(self, setting: Setting) -> bool:
        """Apply ``setting`` if this stage has the flag; False when a global flag does not apply here."""
        flag = canonical_flag(self.parser, setting.flag)
        if flag is None:
            if setting.stage is None:
                return False
            raise ExperimentError(f"{setting.describe()}: stage {self.kind.name} ({self.kind.script}) has no flag "
                                  f"{setting.flag} (see python {self.kind.script} --help)")
        if setting.stage is None and self.kind.name not in GLOBAL_TARGETS.get(flag, (self.kind.name,)):
            return False
        if flag in self.kind.owned or flag in self.wired or (self.kind.per_test_set and flag in SET_FLAGS):
            why = self.wired.get(flag, "the run sets it (outputs go under RUN/<stage>/; sets come from the "
                                       "experiment's sets or --train-sets/--val-sets/--test-sets)")
            raise ExperimentError(f"{setting.describe()}: not settable for stage {self.kind.name}: {why}")
        self.values[flag] = flag_tokens(self.parser, flag, setting.value)
        return True

    def argv(self, first: Sequence[str]) -> List[str]:
        """All flags, the run's input flags ``first`` in front."""
        order = [f for f in first if f in self.values] + [f for f in self.values if f not in first]
        return [t for f in order for t in self.values[f]]


def _check_global(setting: Setting) -> None:
    if setting.flag in SET_FLAGS:
        raise ExperimentError(f"{setting.describe()}: sets go in the experiment's sets: (or --train-sets, "
                              f"--val-sets, --test-sets), not in the flags of every stage")
    if setting.flag in _PER_MODEL:
        raise ExperimentError(f"{setting.describe()}: --checkpoint names another model in each stage; set it for "
                              f"one stage (--set STAGE.checkpoint=FILE)")


def _sets(experiment: Experiment, role: str, stage: str) -> str:
    text = experiment.sets.get(role)
    if not text:
        raise ExperimentError(f"{experiment.path}: stage {stage} needs sets.{role} (or --{role}-sets)")
    return text


def _wire(flags: _Flags, experiment: Experiment, made: Dict[str, StagePlan], folder: Path) -> None:
    """The flags the run sets for this stage: earlier stages' outputs, the sets, its own outputs."""
    name = flags.kind.name
    if "data" in made:
        flags.wire("--data", made["data"].outputs["data"], "the data stage writes the data")
        flags.wire("--dataset-config", made["data"].outputs["dataset_config"], "the data stage writes the config")
    if name in ("fgplg", "video"):
        flags.wire("--train-sets", _sets(experiment, "train", name), "the experiment's train sets")
        flags.wire("--val-sets", _sets(experiment, "val", name), "the experiment's val sets")
        if "pretrain" in made:
            flags.wire("--checkpoint", made["pretrain"].outputs["best"], "stage pretrain makes the image model")
    if name == "pseudo_labels":
        flags.wire("--sets", _sets(experiment, "train", name), "the experiment's train sets")
        if "fgplg" in made:
            flags.wire("--checkpoint", made["fgplg"].outputs["best"], "stage fgplg makes the generator")
    if name == "video" and "pseudo_labels" in made:
        flags.wire("--pseudo-label-folder", made["pseudo_labels"].outputs["folder"],
                   "stage pseudo_labels writes the folder")
    if name == "inference" and "video" in made:
        flags.wire("--checkpoint", made["video"].outputs["best"], "stage video makes the model")
    if name == "evaluate" and "inference" in made:
        flags.wire("--results-folder", made["inference"].outputs["results"], "stage inference writes the maps")
    outputs = {"data": "--out", "pseudo_labels": "--pseudo-label-folder", "inference": "--results-folder"}
    flags.wire(outputs.get(name, "--save-folder"), folder, "the stage writes under RUN/<stage>/")


def _outputs(kind: StageKind, folder: Path, args: List[argparse.Namespace], labels: List[str]) -> Dict[str, object]:
    a = args[0]
    if kind.name == "data":
        return {"data": str(folder), "dataset_config": str(folder / "datasets.yaml")}
    if kind.training:
        save = Path(a.save_folder)
        return {"best": str(save / kind.best_name), "last_state": str(save / f"{kind.prefix}_last_state.pth")}
    if kind.name == "pseudo_labels":
        return {"folder": str(Path(a.pseudo_label_folder) / f"{a.frame_between_label_num}_{a.label_interval}")}
    if kind.name == "inference":
        return {"results": str(folder)}
    return {"reports": {label: str(Path(x.json)) for label, x in zip(labels, args)}}


def _published_defaults(flags: _Flags) -> None:
    """Write out l (and m) where the experiment leaves them to the script's published default."""
    if flags.kind.name in ("fgplg", "pseudo_labels") and "--label_interval" not in flags.values:
        flags.wire("--label_interval", PUBLISHED_L, "the published default")
        flags.wired.pop("--label_interval")
    if flags.kind.name == "pseudo_labels" and "--frame_between_label_num" not in flags.values:
        flags.wire("--frame_between_label_num", PUBLISHED_M, "the published default")
        flags.wired.pop("--frame_between_label_num")


def resolve_stages(experiment: Experiment, settings: Sequence[Setting], run: Path) -> List[StagePlan]:
    """Every stage's command lines, parsed by its script's parser (a bad flag fails here, before any work).

    ``settings``: the preset's, then the command line's, in that order.
    """
    for s in (*experiment.options, *settings):
        if s.stage is None:
            _check_global(s)
        elif s.stage not in experiment.stages:
            raise ExperimentError(f"{s.describe()}: {s.stage!r} is not a stage of experiment {experiment.name!r} "
                                  f"(stages: {', '.join(experiment.stages)})")
    used = {id(s): False for s in (*experiment.options, *settings) if s.stage is None}
    made: Dict[str, StagePlan] = {}
    names = list(experiment.stages)
    for number, name in enumerate(names, 1):
        kind = KINDS[name]
        parser = parser_of(kind)
        flags = _Flags(kind, parser)
        folder = run / name
        _wire(flags, experiment, made, folder)
        for s in (*experiment.options, *experiment.stages[name], *(s for s in settings if s.stage in (None, name))):
            applied = flags.set(s)
            if s.stage is None:
                used[id(s)] |= applied
        _published_defaults(flags)
        base = flags.argv(first=("--data", "--dataset-config"))
        labels, commands = [""], [base]
        if kind.per_test_set:
            tests = experiment.sets_of("test")
            if not tests:
                raise ExperimentError(f"{experiment.path}: stage {name} needs sets.test (or --test-sets)")
            labels = [f"{n}:{s}" for n, s in tests]
            commands = [base + ["--dataset", n, "--split", s]
                        + (["--json", str(folder / f"{n}_{s}.json")] if name == "evaluate" else [])
                        for n, s in tests]
        args = [parser.parse_args(argv) for argv in commands]
        made[name] = StagePlan(kind, number, len(names), commands, args, labels, folder,
                               _outputs(kind, folder, args, labels), tuple(flags.wired))
    unused = [s for s in (*experiment.options, *settings) if s.stage is None and not used[id(s)]]
    if unused:
        raise ExperimentError(f"{unused[0].describe()}: no stage of experiment {experiment.name!r} takes "
                              f"{unused[0].flag} (stages: {', '.join(names)})")
    return list(made.values())
