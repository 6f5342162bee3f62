"""``RUN/state.json``: which stages finished, with which options and outputs; what a rerun does.

A stage's *options* are its resolved command lines (the run folder written ``<RUN>``, so a
run folder can move). Each finished stage gets an id and records the ids of the stages
before it that it used. A rerun, stage by stage:

- **skip** a finished stage whose options, inputs and outputs are unchanged (one line: why);
- **run** a stage never run, one whose options changed, one whose outputs are gone, one after
  a stage that runs again (or ran again since), and every stage after one that runs;
- **resume** a training stage that did not finish, with the same options, through its own
  ``--resume RUN/<stage>/<prefix>_last_state.pth``;
- with ``--from STAGE``: keep the stages before it as they are (they must have finished),
  run it and every later stage; with ``--only STAGE``: the same, but run that stage alone.

A folder is a run folder when it holds ``state.json``; a non-empty folder without one is
refused, so nothing but a run's own outputs is ever replaced.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from libs.utils.errors import UsageError
from libs.utils.io import save_json

from .commands import StagePlan

__all__ = ["STATE", "COMMANDS", "Action", "RunState", "RunFolderError", "decide", "normalized", "stage_options",
           "options_diff", "check_run_folder"]

STATE = "state.json"
COMMANDS = "commands.sh"
FORMAT = 1
RUN_TOKEN = "<RUN>"


class RunFolderError(UsageError):
    """An --out folder a run must not write into, or a state file that cannot be read."""


@dataclass(frozen=True)
class Action:
    stage: str
    do: str  # "run", "resume", "skip"; "keep" (before --from/--only), "leave" (after --only)
    reason: str

    @property
    def runs(self) -> bool:
        return self.do in ("run", "resume")


def normalized(commands: List[List[str]], run: Path) -> List[List[str]]:
    """The command lines with the run folder written ``<RUN>`` (also inside a value: ``NAME=RUN/x``)."""
    prefix = str(run)
    return [[RUN_TOKEN if a == prefix else a.replace(prefix + "/", RUN_TOKEN + "/") for a in argv]
            for argv in commands]


def stage_options(stage: StagePlan, run: Path, gpus: int = 1) -> List[List[str]]:
    """What state.json records and compares of a stage: its command lines, normalized, and for a
    training stage under ``--gpus N`` (N > 1) the number of processes (``--nproc_per_node N``)."""
    options = normalized(stage.commands, run)
    if stage.kind.training and gpus > 1:
        options = [["--nproc_per_node", str(gpus)] + argv for argv in options]
    return options


def _flag_values(argv: List[str]) -> Dict[str, str]:
    out, i = {}, 0
    while i < len(argv):
        if argv[i].startswith("--"):
            has_value = i + 1 < len(argv) and not argv[i + 1].startswith("--")
            out[argv[i]] = argv[i + 1] if has_value else "(on)"
            i += 2 if has_value else 1
        else:
            i += 1
    return out


def options_diff(old: List[List[str]], new: List[List[str]]) -> str:
    """``--lr 1e-05 -> 2e-05, --amp (unset) -> (on)``: what changed between two option lists."""
    if len(old) != len(new):
        return f"{len(old)} command(s) -> {len(new)} (the test sets changed)"
    changes = []
    for o, n in zip(old, new):
        a, b = _flag_values(o), _flag_values(n)
        changes += [f"{k} {a.get(k, '(unset)')} -> {b.get(k, '(unset)')}" for k in dict.fromkeys([*a, *b])
                    if a.get(k) != b.get(k)]
    return ", ".join(dict.fromkeys(changes)) or "the order of the flags"


class RunState:
    """The content of ``RUN/state.json``, saved atomically after every change."""

    def __init__(self, run: Path, data: dict):
        self.run, self.data = Path(run), data

    @classmethod
    def load(cls, run: Path) -> Optional["RunState"]:
        path = Path(run) / STATE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
                raise ValueError("no 'stages' mapping")
        except (OSError, ValueError) as e:
            raise RunFolderError(f"{path}: not a reproduce.py state file ({e}); choose another --out") from None
        return cls(run, data)

    @classmethod
    def create(cls, run: Path, experiment) -> "RunState":
        state = cls(run, {"format": FORMAT, "experiment": experiment.name, "experiment_file": str(experiment.path),
                          "next_id": 1, "stages": {}})
        state.save()
        return state

    @property
    def experiment(self) -> Optional[str]:
        return self.data.get("experiment")

    def stage(self, name: str) -> Optional[dict]:
        return self.data["stages"].get(name)

    def finished(self, name: str) -> bool:
        rec = self.stage(name)
        return rec is not None and rec.get("status") == "finished"

    def save(self) -> None:
        save_json(self.data, self.run / STATE)

    def start(self, stage: StagePlan, options: List[List[str]], how: str) -> None:
        self.data["stages"][stage.name] = {"status": "started", "how": how, "options": options,
                                           "started": _now(), "outputs": stage.outputs}
        self.save()

    def fail(self, name: str, message: str) -> None:
        rec = self.data["stages"].get(name, {})
        rec.update(status="failed", error=message, failed=_now())
        self.save()

    def finish(self, stage: StagePlan, earlier: List[str], seconds: float, result: dict) -> None:
        rec = self.data["stages"][stage.name]
        rec.update(status="finished", finished=_now(), seconds=round(seconds, 1), result=result,
                   id=self.data["next_id"], inputs={e: self.stage(e).get("id") for e in earlier if self.stage(e)})
        self.data["next_id"] += 1
        self.save()


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def check_run_folder(run: Path, experiment_name: str) -> None:
    """Refuse an --out that is a file, a non-empty folder that is no run, or another experiment's run."""
    if run.exists() and not run.is_dir():
        raise RunFolderError(f"{run}: exists and is not a folder (--out)")
    state = RunState.load(run)
    if state is None:
        if run.is_dir() and any(run.iterdir()):
            raise RunFolderError(f"{run}: folder is not empty and is not a previous run (no {STATE}); "
                                 f"choose another --out")
        return
    if state.experiment != experiment_name:
        raise RunFolderError(f"{run}: a run of experiment {state.experiment!r}, not {experiment_name!r}; "
                             f"choose another --out")


def _target(stages: List[StagePlan], name: str, flag: str) -> int:
    names = [s.name for s in stages]
    if name not in names:
        raise UsageError(f"{flag} {name}: not a stage of this experiment (stages: {', '.join(names)})")
    return names.index(name)


def _inputs_changed(rec: dict, earlier: List[str], state: RunState) -> Optional[str]:
    for e in earlier:
        now = state.stage(e).get("id") if state.stage(e) else None
        if (rec.get("inputs") or {}).get(e) != now:
            return e
    return None


def _normal(stage: StagePlan, state: Optional[RunState], run: Path, earlier: List[str], gpus: int) -> Action:
    rec = state.stage(stage.name) if state else None
    options = stage_options(stage, run, gpus)
    if rec is None:
        return Action(stage.name, "run", "first run")
    same = rec.get("options") == options
    if rec.get("status") != "finished":
        last = stage.outputs.get("last_state")
        if same and stage.kind.training and last and Path(last).is_file():
            return Action(stage.name, "resume", f"continuing an interrupted run through --resume {last}")
        why = "interrupted before it finished" if rec.get("status") == "started" else "it failed last time"
        return Action(stage.name, "run", why + ("" if same else f"; its options changed: "
                                                                 f"{options_diff(rec.get('options', []), options)}"))
    if not same:
        return Action(stage.name, "run", f"its options changed: {options_diff(rec.get('options', []), options)}")
    changed = _inputs_changed(rec, earlier, state)
    if changed:
        return Action(stage.name, "run", f"stage {changed} before it ran again since")
    missing = [p for p in stage.required_outputs() if not p.exists()]
    if missing:
        return Action(stage.name, "run", f"its output {missing[0]} is missing")
    return Action(stage.name, "skip", f"finished {rec.get('finished', '')} with the same options")


def decide(stages: List[StagePlan], state: Optional[RunState], run: Path, start: Optional[str] = None,
           only: Optional[str] = None, gpus: int = 1) -> List[Action]:
    """What this invocation does with each stage (see the module's docstring)."""
    flag, target = ("--only", only) if only else ("--from", start)
    first = _target(stages, target, flag) if target else None
    actions: List[Action] = []
    rerun = None
    for i, stage in enumerate(stages):
        earlier = [s.name for s in stages[:i]]
        if first is not None and i < first:
            rec = state.stage(stage.name) if state else None
            missing = [p for p in stage.required_outputs() if not p.exists()]
            if rec is None or rec.get("status") != "finished" or missing:
                raise UsageError(f"{flag} {target}: stage {stage.name} before it has not finished"
                                 f"{f' (missing {missing[0]})' if rec and missing else ''}; run without {flag} first")
            options = stage_options(stage, run, gpus)
            note = "" if rec.get("options") == options else (
                f"; it finished with other options ({options_diff(rec['options'], options)}), used as it is")
            actions.append(Action(stage.name, "keep", f"kept as it is ({flag} {target}){note}"))
        elif first is not None and only and i > first:
            actions.append(Action(stage.name, "leave", f"not run ({flag} {target})"))
        elif first is not None:
            actions.append(Action(stage.name, "run", f"{flag} {target}"))
        elif rerun is not None and state is not None and state.stage(stage.name) is not None:
            actions.append(Action(stage.name, "run", f"stage {rerun} before it runs again"))
        else:
            actions.append(_normal(stage, state, run, earlier, gpus))
        if actions[-1].runs and rerun is None:
            rerun = stage.name
    return actions
