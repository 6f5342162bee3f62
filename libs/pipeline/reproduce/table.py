"""The end of a run: its test sets in one table, this run beside the experiment's reference numbers.

The table is ``tables.py``'s (:mod:`libs.pipeline.evaluation.table_command`), fed with the
evaluation reports of the run (``RUN/evaluate/<DATASET>_<split>.json``) and with the reference
numbers written as reports of the same protocol (``RUN/table/reference__<DATASET>_<split>.json``:
a table holds one protocol; which protocol a paper used is in docs/evaluation.md). It is
saved to ``RUN/table.md`` and printed on every run, also when every stage was skipped; its
``tables.py`` command goes to ``commands.sh`` whenever it changes.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import List, Optional

from libs.utils.io import save_json

from .commands import StagePlan
from .experiment import Experiment
from .launch import append_commands, shell_line
from .stages import TABLE, parse_stage, stage_function
from .state import RunState, normalized

__all__ = ["RUN_ROW", "TABLE_FILE", "table_argv", "write_table"]

RUN_ROW = "this run"
TABLE_FILE = "table.md"


def _columns(labels: List[str]) -> dict:
    """``NAME:SPLIT`` -> the table's column name: the dataset's name, unless two test sets share it."""
    names = [label.rpartition(":")[0] for label in labels]
    return {label: name if names.count(name) == 1 else label for label, name in zip(labels, names)}


def table_argv(experiment: Experiment, evaluate: StagePlan, run: Path) -> List[str]:
    """The ``tables.py`` flags of the run's table; writes the reference reports they name."""
    reports = evaluate.outputs["reports"]
    columns = _columns(list(reports))
    argv = []
    for label, path in reports.items():
        argv += ["--report", f"{RUN_ROW}:{columns[label]}={path}"]
    ref = experiment.reference
    caption = f"{experiment.name}: {RUN_ROW}"
    if ref is not None:
        protocol = json.loads(Path(next(iter(reports.values()))).read_text()).get("protocol", "per-video")
        for label, numbers in ref.numbers.items():
            if label not in reports:
                continue
            path = run / "table" / f"reference__{label.replace(':', '_')}.json"
            save_json({"protocol": protocol, "overall": numbers, "source": ref.source}, path)
            argv += ["--report", f"{ref.label}:{columns[label]}={path}"]
        caption += f" beside {ref.label}"
    metrics = ",".join(ref.metrics) if ref is not None else "S,maxF,MAE"
    return argv + ["--metrics", metrics, "--decimals", "3", "--caption", caption + ".",
                   "--out", str(run / TABLE_FILE)]


def write_table(experiment: Experiment, stages: List[StagePlan], state: RunState, log=print) -> Optional[str]:
    """Build, save and print the table; None (and a line saying why) when there is none yet."""
    evaluate = next((s for s in stages if s.name == "evaluate"), None)
    if evaluate is None:
        log("no table: the experiment has no evaluate stage")
        return None
    missing = [p for p in evaluate.required_outputs() if not p.is_file()]
    if not state.finished("evaluate") or missing:
        log("no table yet: stage evaluate has not finished")
        return None
    argv = table_argv(experiment, evaluate, state.run)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):  # tables.py prints the table; the run logs it
        stage_function(TABLE)(parse_stage(TABLE, argv))
    text = buffer.getvalue().rstrip("\n")
    log(f"\n=== the table: {state.run / TABLE_FILE} ===\n{text}")
    recorded = normalized([argv], state.run)
    if state.data.get("table_command") != recorded:
        append_commands(state.run, ["# the table of the test sets (tables.py)\n" + shell_line(TABLE, argv)])
        state.data["table_command"] = recorded
        state.save()
    return text
