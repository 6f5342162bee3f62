"""Experiment files (``config/experiments/<name>.yaml``): what a reproduction runs, read and checked.

An experiment names its stages in order, each with the flags of its script (so every option
is documented once, in that script's ``--help``), the video sets it trains, validates and
tests on, optional presets, and the reference numbers printed beside the result::

    name: paper_table1
    description: ...
    sets: {train: "DAVIS2016:train,FBMS:train,VOS:train", val: "VOS:val", test: "VOS:test,..."}
    options: {data: data/datasets}          # every stage that has the flag
    stages:                                 # in pipeline order; see stages.py for the names
      fgplg: {label_interval: 5, flownet-checkpoint: models/FlowNet2_checkpoint.pth.tar}
      video: {checkpoint: models/image_pretrained_model.pth}
    presets: {fast: {size: 48, video.max-iters: 5}}   # "flag" or "stage.flag"
    reference:
      label: paper Table 1
      source: ...
      metrics: [maxF, S, MAE]
      numbers: {"VOS:test": {maxF: 0.856, S: 0.872, MAE: 0.049}}

A flag is written as in the script without its dashes (``label_interval``, ``batch-size``);
``true`` gives a switch, ``false`` leaves it out. Every problem is one
:class:`ExperimentError` line naming the file and the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from libs.utils.cli import parse_sets
from libs.utils.errors import UsageError, UserError

__all__ = ["ExperimentError", "Setting", "Reference", "Experiment", "EXPERIMENTS_DIR", "ROLES", "find_experiment",
           "load_experiment", "available_experiments", "parse_setting"]

EXPERIMENTS_DIR = Path(__file__).resolve().parents[3] / "config" / "experiments"
ROLES = ("train", "val", "test")
_KEYS = ("name", "description", "sets", "options", "stages", "presets", "reference")
_REFERENCE_KEYS = ("label", "source", "metrics", "numbers")


class ExperimentError(UserError, ValueError):
    """An experiment file (or an override of it) that cannot be used."""


@dataclass(frozen=True)
class Setting:
    """One flag value: for ``stage`` only, or (``stage`` None) for every stage that has ``flag``."""

    stage: Optional[str]
    flag: str  # with its dashes: "--epochs"
    value: object  # str, int, float or bool
    origin: str  # where it was set, for messages

    def describe(self) -> str:
        where = f"{self.stage}." if self.stage else ""
        return f"{where}{self.flag.lstrip('-')}={self.value} ({self.origin})"


@dataclass(frozen=True)
class Reference:
    """Numbers to print beside the run's: ``numbers["NAME:SPLIT"][metric]``."""

    label: str
    source: str
    metrics: Tuple[str, ...]
    numbers: Dict[str, Dict[str, float]]


@dataclass(frozen=True)
class Experiment:
    name: str
    path: Path
    description: str
    sets: Dict[str, str]  # role -> "NAME:SPLIT,..."
    options: Tuple[Setting, ...]
    stages: Dict[str, Tuple[Setting, ...]]  # in pipeline order
    presets: Dict[str, Tuple[Setting, ...]] = field(default_factory=dict)
    reference: Optional[Reference] = None

    def with_sets(self, **sets: Optional[str]) -> "Experiment":
        """The experiment with the sets of the given roles replaced (``None``: kept)."""
        new = dict(self.sets)
        for role, text in sets.items():
            if text is not None:
                parse_sets(text, f"--{role}-sets")
                new[role] = text
        return replace(self, sets=new)

    def without_stage(self, name: str) -> "Experiment":
        """The experiment less one stage (its presets' settings for that stage dropped too)."""
        return replace(self, stages={k: v for k, v in self.stages.items() if k != name},
                       presets={p: tuple(s for s in v if s.stage != name) for p, v in self.presets.items()})

    def sets_of(self, role: str) -> List[Tuple[str, str]]:
        text = self.sets.get(role)
        return parse_sets(text, f"--{role}-sets") if text else []

    def preset(self, name: Optional[str]) -> Tuple[Setting, ...]:
        if name is None:
            return ()
        if name not in self.presets:
            known = ", ".join(sorted(self.presets)) or "none"
            raise ExperimentError(f"--preset {name}: experiment {self.name!r} ({self.path}) has no such preset "
                                  f"(presets: {known})")
        return self.presets[name]


def available_experiments(folder: Path = EXPERIMENTS_DIR) -> List[str]:
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def find_experiment(name_or_path: str, folder: Path = EXPERIMENTS_DIR) -> Path:
    """``--experiment``: a file path, or the name of a file in ``config/experiments/``."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ExperimentError(f"--experiment {name_or_path}: experiment file not found")
        return path
    candidate = folder / f"{name_or_path}.yaml"
    if not candidate.is_file():
        raise ExperimentError(f"--experiment {name_or_path}: no such experiment in {folder} "
                              f"(available: {', '.join(available_experiments(folder)) or 'none'})")
    return candidate


def _flag(key: str) -> str:
    return "--" + str(key).lstrip("-")


def _value(path: Path, where: str, value):
    if isinstance(value, (bool, int, float, str)):
        return value
    raise ExperimentError(f"{path}: {where}: expected a number, a string or true/false, got {value!r}")


def parse_setting(text: str, origin: str) -> Setting:
    """``--set STAGE.FLAG=VALUE`` -> a Setting for that stage; the value stays text
    (``true``/``false`` give or leave out a switch)."""
    key, sep, value = text.partition("=")
    stage, dot, flag = key.partition(".")
    if not sep or not dot or not stage or not flag.strip("-"):
        raise UsageError(f"--set {text!r}: expected STAGE.FLAG=VALUE, e.g. video.batch-size=2")
    lowered = value.strip().lower()
    parsed = True if lowered == "true" else False if lowered == "false" else value
    return Setting(stage, _flag(flag), parsed, origin)


def _settings(path: Path, where: str, mapping, stage: Optional[str], dotted: bool) -> Tuple[Setting, ...]:
    if mapping is None:
        return ()
    if not isinstance(mapping, dict):
        raise ExperimentError(f"{path}: {where}: expected a mapping of flag: value")
    out = []
    for key, value in mapping.items():
        key = str(key)
        scope, flag = stage, key
        if dotted and "." in key:
            scope, _, flag = key.partition(".")
        out.append(Setting(scope, _flag(flag), _value(path, f"{where}.{key}", value), f"{path.name} {where}"))
    return tuple(out)


def _reference(path: Path, raw) -> Optional[Reference]:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ExperimentError(f"{path}: reference: expected a mapping with {', '.join(_REFERENCE_KEYS)}")
    unknown = sorted(set(raw) - set(_REFERENCE_KEYS))
    if unknown:
        raise ExperimentError(f"{path}: reference: unknown key(s) {', '.join(unknown)} "
                              f"(allowed: {', '.join(_REFERENCE_KEYS)})")
    label = str(raw.get("label") or "reference")
    if any(c in label for c in ":=,|"):
        raise ExperimentError(f"{path}: reference.label {label!r}: no ':', '=', ',' or '|' (it names a table row)")
    from libs.pipeline.evaluation.tables import METRIC_LABELS

    metrics = tuple(raw.get("metrics") or ("S", "maxF", "MAE"))
    unknown = [m for m in metrics if m not in METRIC_LABELS]
    if unknown:
        raise ExperimentError(f"{path}: reference.metrics: unknown {', '.join(unknown)} "
                              f"(known: {', '.join(METRIC_LABELS)})")
    numbers = {}
    for key, values in (raw.get("numbers") or {}).items():
        parse_sets(str(key), f"{path}: reference.numbers")
        if not isinstance(values, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in values.values()):
            raise ExperimentError(f"{path}: reference.numbers.{key}: expected a mapping of metric: number")
        numbers[str(key)] = {str(k): float(v) for k, v in values.items()}
    return Reference(label, str(raw.get("source") or ""), metrics, numbers)


def _sets(path: Path, raw) -> Dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ExperimentError(f"{path}: sets: expected a mapping with keys {', '.join(ROLES)}")
    sets = {}
    for role, text in raw.items():
        if role not in ROLES:
            raise ExperimentError(f"{path}: sets: unknown role {role!r} (allowed: {', '.join(ROLES)})")
        try:
            parse_sets(str(text), f"sets.{role}")
        except UsageError as e:
            raise ExperimentError(f"{path}: {e}") from None
        sets[role] = str(text)
    return sets


def load_experiment(name_or_path: str, stage_order: Sequence[str], folder: Path = EXPERIMENTS_DIR) -> Experiment:
    """Read and check an experiment; ``stage_order`` lists the known stage names in pipeline order."""
    path = find_experiment(name_or_path, folder)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ExperimentError(f"{path}: not a readable YAML file ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ExperimentError(f"{path}: expected a mapping with keys {', '.join(_KEYS)}")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ExperimentError(f"{path}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(_KEYS)})")
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, dict) or not stages_raw:
        raise ExperimentError(f"{path}: stages: expected a mapping of stage name -> flags, in pipeline order")
    stages = {}
    for name, flags in stages_raw.items():
        if name not in stage_order:
            raise ExperimentError(f"{path}: stages: unknown stage {name!r} (stages: {', '.join(stage_order)})")
        stages[str(name)] = _settings(path, f"stages.{name}", flags, str(name), dotted=False)
    order = [stage_order.index(n) for n in stages]
    if order != sorted(order):
        raise ExperimentError(f"{path}: stages: {', '.join(stages)} are not in pipeline order "
                              f"({', '.join(stage_order)})")
    presets_raw = raw.get("presets") or {}
    if not isinstance(presets_raw, dict):
        raise ExperimentError(f"{path}: presets: expected a mapping of preset name -> flags")
    presets = {str(k): _settings(path, f"presets.{k}", v, None, dotted=True) for k, v in presets_raw.items()}
    for preset in presets.values():
        for s in preset:
            if s.stage is not None and s.stage not in stages:
                raise ExperimentError(f"{path}: {s.origin}: {s.stage!r} is not a stage of this experiment")
    return Experiment(
        name=str(raw.get("name") or path.stem),
        path=path,
        description=" ".join(str(raw.get("description") or "").split()),
        sets=_sets(path, raw.get("sets")),
        options=_settings(path, "options", raw.get("options"), None, dotted=False),
        stages=stages,
        presets=presets,
        reference=_reference(path, raw.get("reference")),
    )
