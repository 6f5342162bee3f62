"""Running one stage: in this process through its library function, or its script under
``torchrun`` (``--gpus N``, training stages); and its stand-alone command in ``RUN/commands.sh``.

``commands.sh`` starts with a ``cd`` into the folder the run was started from (the paths are
relative to it) and gets one comment line and one command per stage command that runs, so
``bash RUN/commands.sh`` or any single line reruns a stage by hand with the same flags.
The file is rewritten whole (temporary file, then rename), never appended in place.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

from libs.utils.errors import UserError
from libs.utils.io import save_text

from .commands import StagePlan
from .stages import ROOT, StageKind, parse_stage, stage_function
from .state import COMMANDS, Action, RunState, stage_options

__all__ = ["StageError", "shell_line", "torchrun_command", "append_commands", "run_stage", "script_words"]


class StageError(UserError):
    """A stage stopped on a user error (its message prefixed with the stage's name)."""


def script_words(kind: StageKind, cwd: Optional[Path] = None) -> List[str]:
    """How to name the stage's script on a command line run from ``cwd``: relative when inside it."""
    if kind.script_path is None:
        return kind.script.split()
    cwd = Path(cwd or Path.cwd()).resolve()
    try:
        return [str(kind.script_path.relative_to(cwd))]
    except ValueError:
        return [str(kind.script_path)]


def torchrun_command(kind: StageKind, argv: List[str], nproc: int) -> List[str]:
    """The launcher command for ``nproc`` processes on this node (``torchrun --standalone``)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            str(kind.script_path), *argv]


def shell_line(kind: StageKind, argv: List[str], gpus: int = 1, cwd: Optional[Path] = None) -> str:
    """The stand-alone command, shell-quoted: ``python train.py ...`` or ``torchrun ... train.py ...``."""
    words = script_words(kind, cwd)
    head = (["torchrun", "--standalone", f"--nproc_per_node={gpus}"] if gpus > 1 and kind.training
            else ["python"])
    line = shlex.join(head + words + list(argv))
    if kind.script_path is None and Path(cwd or Path.cwd()).resolve() != ROOT:
        line = f"PYTHONPATH={shlex.quote(str(ROOT))} {line}"  # python -m finds the project's modules from its root
    return line


def _header(run: Path) -> str:
    return ("#!/usr/bin/env bash\n"
            f"# The stand-alone command of each stage of the run {run} (reproduce.py), in the order they ran.\n"
            "# Any line reruns its stage by hand with the same flags; paths are relative to this folder:\n"
            "set -e\n"
            f"cd {shlex.quote(str(Path.cwd().resolve()))}\n")


def append_commands(run: Path, lines: List[str]) -> None:
    path = run / COMMANDS
    text = path.read_text() if path.is_file() else _header(run)
    save_text(text + "".join(line + "\n" for line in lines), path)


def _summary(result) -> dict:
    """The JSON-safe part of a stage function's result (numbers, strings), for state.json."""
    if not isinstance(result, dict):
        return {}
    return {k: v for k, v in result.items() if isinstance(v, (str, int, float, bool)) or v is None}


def _all_epochs_done(stage: StagePlan) -> Optional[int]:
    """The next epoch a training stage's last state records, when it is past ``--epochs``."""
    from libs.utils.checkpoint import load_training_state

    epoch = load_training_state(stage.outputs["last_state"])["epoch"]
    return epoch if epoch > stage.args[0].epochs else None


def _launch(kind: StageKind, argv: List[str], gpus: int, log):
    if kind.training and gpus > 1:
        command = torchrun_command(kind, argv, gpus)
        completed = subprocess.run(command, check=False)
        if completed.returncode != 0:
            raise StageError(f"stage {kind.name}: torchrun exited with status {completed.returncode} (its log is "
                             f"above)")
        return None
    return stage_function(kind)(parse_stage(kind, argv), log=log)


def run_stage(stage: StagePlan, action: Action, state: RunState, earlier: List[str], gpus: int = 1,
              log=print) -> List[object]:
    """Run (or resume) ``stage``'s commands, recording it in ``state`` and ``commands.sh``.

    A fresh run first empties ``RUN/<stage>/`` (the folder is the run's own); a resumed one
    keeps it and adds ``--resume`` to the command. Returns the stage function's results (None
    for a process launched by torchrun).
    """
    run = state.run
    commands = [list(argv) for argv in stage.commands]
    if action.do == "resume":
        done = _all_epochs_done(stage)
        if done is not None and Path(stage.outputs["best"]).is_file():
            log(f"{stage.name}: its last state says epochs up to {done - 1} are done: nothing left to train")
            state.start(stage, stage_options(stage, run, gpus), "resume")
            state.finish(stage, earlier, 0.0, {"resumed": "nothing left to train"})
            return []
        commands[0] += ["--resume", stage.outputs["last_state"]]
    elif stage.folder.is_dir() and not stage.folder.is_symlink():
        shutil.rmtree(stage.folder)
    state.start(stage, stage_options(stage, run, gpus), action.do)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    append_commands(run, [f"# {stamp} stage {stage.name}{f' ({label})' if label else ''}: {action.reason}\n"
                          + shell_line(stage.kind, argv, gpus)
                          for argv, label in zip(commands, stage.labels)])
    start, results = time.time(), []
    try:
        for argv in commands:
            results.append(_launch(stage.kind, argv, gpus, log))
    except StageError as e:
        state.fail(stage.name, str(e))
        raise
    except UserError as e:
        state.fail(stage.name, str(e))
        raise StageError(f"stage {stage.name} ({stage.kind.script}): {e}") from e
    except Exception as e:
        state.fail(stage.name, f"{type(e).__name__}: {e}")
        raise
    state.finish(stage, earlier, time.time() - start, _summary(results[0]) if len(results) == 1 else {})
    return results
