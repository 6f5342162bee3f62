"""A run: the plan first, then each stage run, resumed or skipped as ``state.json`` says, then the table.

Every run starts with its plan (``--plan`` stops there) and stops on a problem unless
``--force``. When the data is itself written by a stage (the quickstart's toy data), its part
of the plan is made and checked right after that stage. Nothing is written outside the run
folder (the plan's ``--json`` file aside).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Optional

from libs.utils.io import save_json

from .commands import StagePlan
from .experiment import Experiment
from .launch import run_stage
from .plan import Plan, make_plan
from .plan_text import render_data, render_findings, render_plan
from .state import Action, RunState, check_run_folder, decide
from .table import write_table

__all__ = ["execute"]


def _stop(plan: Plan, force: bool, log) -> bool:
    """Whether the run stops on the plan's problems (it goes on with ``force``)."""
    if not plan.problems:
        return False
    if force:
        log(f"reproduce.py: going on despite {len(plan.problems)} problem(s) (--force)")
        return False
    log(f"reproduce.py: stopped before any work: {len(plan.problems)} problem(s) above; fix them, or pass --force "
        f"to run anyway")
    return True


def _times(stages: List[StagePlan], timings: Dict[str, Optional[float]], total: float) -> str:
    parts = [f"{s.name} {timings[s.name]:.0f}s" if timings.get(s.name) is not None else f"{s.name} skipped"
             for s in stages]
    return "stage times: " + ", ".join(parts) + f"; total {total:.0f}s"


def execute(experiment: Experiment, stages: List[StagePlan], run: Path, *, gpus: int = 1, plan_only: bool = False,
            json_path: Optional[str] = None, force: bool = False, start: Optional[str] = None,
            only: Optional[str] = None, log=print) -> dict:
    """Plan, then run. Returns ``{"status", "plan", "results": {stage: [results]}, "timings", "table"}``;
    status 1 when problems stopped it (or ``--plan`` found some)."""
    begin = time.time()
    state = RunState.load(run)
    actions = decide(stages, state, run, start, only, gpus)
    plan = make_plan(experiment, stages, actions, run, gpus)
    log(render_plan(plan))
    if json_path:
        save_json(plan.to_json(), json_path)
    out = {"status": 0, "plan": plan, "results": {}, "timings": {}, "table": None}
    if plan_only or _stop(plan, force, log):
        out["status"] = 1 if plan.problems else 0
        return out
    check_run_folder(run, experiment.name)
    state = state or RunState.create(run, experiment)
    for i, (stage, action) in enumerate(zip(stages, actions)):
        if not action.runs:
            log(f"skipped {stage.name} ({stage.kind.script}): {action.reason}")
            out["timings"][stage.name] = None
        else:
            log(f"\n=== {stage.number}/{stage.total} {stage.title()} ===")
            if action.reason != "first run":
                log(f"{'continuing' if action.do == 'resume' else 'running'} {stage.name}: {action.reason}")
            t = time.time()
            try:
                out["results"][stage.name] = run_stage(stage, action, state, [s.name for s in stages[:i]], gpus, log)
            except KeyboardInterrupt:
                log(f"reproduce.py: stage {stage.name} interrupted; the same command continues the run"
                    + (" (from its last state)" if stage.kind.training else ""))
                raise
            out["timings"][stage.name] = time.time() - t
        if stage.name == "data" and plan.data_note:
            done = [Action(a.stage, "skip", "done") if a.stage == "data" else a for a in actions]
            plan = make_plan(experiment, stages, done, run, gpus)
            out["plan"] = plan
            log("\n".join(render_data(plan) + render_findings(plan)))
            if json_path:
                save_json(plan.to_json(), json_path)
            if _stop(plan, force, log):
                out["status"] = 1
                return out
    left = [a.stage for a in actions if a.do == "leave"]
    if left and state.finished("evaluate"):
        log(f"\n(the table below is that of the last evaluation: {', '.join(left)} did not run again (--only))")
    out["table"] = write_table(experiment, stages, state, log)
    log(_times(stages, out["timings"], time.time() - begin))
    return out
