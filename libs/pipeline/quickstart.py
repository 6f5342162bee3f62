"""The whole method on the built-in toy data, on a CPU, in minutes (``quickstart.py``).

A thin alias of ``reproduce.py --experiment quickstart`` (``config/experiments/quickstart.yaml``):
toy data annotated on every 2nd frame (``default_label_interval: 2``, like VOS's every 15th) ->
image pretraining (``pretrain.py``) -> FGPLG training within the label budget l = 5 (triplets
of consecutive kept labels; OpenCV flow, since FlowNet2's weights cannot be downloaded here)
(``train_fgplg.py``) -> the pseudo-label folder ``1_5``: kept GT plus m = 1 pseudo-label per
gap, on frames that have no annotation (``generate_pseudo_labels.py``) -> video training on
that folder (``train.py``) -> inference on the held-out test videos with overlays
(``inference.py``) -> evaluation (``evaluate.py``) -> the table beside the README's run.

Then the quickstart's own last line, the final model against an all-zero map on the test
videos, ``toy test: S=... MAE=... (all-zero map: S=... MAE=...)``, and its exit rule: status 1
when the full preset misses S >= 0.80 or MAE <= 0.08.

``--out`` is a run folder (``RUN/state.json``): a rerun skips the stages that finished with
the same options; a non-empty folder that is no run is refused. A folder of the quickstart
before ``reproduce.py`` (marked ``.quickstart_run``) has the outputs its marker lists removed
first, nothing else, and becomes a run folder.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from libs.utils.errors import UserError

from .evaluation import evaluate_split, format_table
from .reproduce import build_parser as reproduce_parser
from .reproduce import run as reproduce
from .reproduce.experiment import load_experiment
from .reproduce.stages import STAGE_ORDER
from .reproduce.state import RunState

__all__ = ["build_parser", "run", "exit_status", "adopt_legacy_folder", "S_MIN", "MAE_MAX", "LEGACY_MARKER"]

S_MIN, MAE_MAX = 0.80, 0.08
EXPERIMENT = "quickstart"
PRESETS = ("fast", "full")
LEGACY_MARKER = ".quickstart_run"
_LEGACY_OUTPUTS = ("data", "models", "pseudo-labels", "results", "all-zero")


class QuickstartError(UserError, ValueError):
    """An --out folder the quickstart must not write into."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quickstart.py",
        description="Run the whole semi-supervised pipeline on generated toy videos (CPU, minutes) and "
                    "report how well the final video model does on the held-out videos: reproduce.py "
                    "--experiment quickstart (config/experiments/quickstart.yaml).",
    )
    parser.add_argument("--out", default="./runs/quickstart", metavar="DIR",
                        help="the run folder for data, checkpoints and results; a rerun skips the stages that "
                             "finished (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="toy data and training seed (default: %(default)s)")
    parser.add_argument("--preset", choices=PRESETS, default="full",
                        help="'full' meets the thresholds; 'fast' is a smoke run (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="no effect, kept for old command lines: every rerun keeps the finished stages of "
                             "--out now (reproduce.py --experiment quickstart --from data starts over)")
    return parser


def adopt_legacy_folder(out: Path, log=print) -> None:
    """A quickstart folder of before reproduce.py: remove the outputs its marker lists (nothing
    else), then make it a run folder (``state.json`` in place of the marker)."""
    marker = out / LEGACY_MARKER
    if not marker.is_file() or (out / "state.json").is_file():
        return
    try:
        listed = json.loads(marker.read_text()).get("outputs", [])
    except (OSError, ValueError, AttributeError) as e:
        raise QuickstartError(f"{marker}: unreadable quickstart marker ({e})") from None
    for name in listed:
        target = out / name
        if name in _LEGACY_OUTPUTS and target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
    RunState.create(out, load_experiment(EXPERIMENT, STAGE_ORDER))  # the folder is a run folder from now on
    marker.unlink()
    log(f"{out}: removed the outputs of a quickstart run of the old layout ({', '.join(listed)})")


def _all_zero(run: Path, data: Path, config: Path, dataset: str, split: str) -> dict:
    """The test videos scored against no map at all (every frame an all-zero map)."""
    empty = run / "all-zero"
    (empty / dataset).mkdir(parents=True, exist_ok=True)
    quiet = logging.getLogger("libs.pipeline.evaluation")
    level, quiet.level = quiet.level, logging.ERROR  # every map is missing on purpose: no warnings
    try:
        return evaluate_split(data, config, dataset, split, empty, allow_missing=True)
    finally:
        quiet.setLevel(level)


def run(args: argparse.Namespace, log=print) -> dict:
    out = Path(args.out)
    adopt_legacy_folder(out, log)
    argv = ["--experiment", EXPERIMENT, "--preset", args.preset, "--out", str(out), "--seed", str(args.seed),
            "--device", args.device]
    result = reproduce(reproduce_parser().parse_args(argv), log=log)
    if result["status"]:
        return {"status": result["status"], "passed": False, "reproduce": result}
    stages = {s.name: s for s in result["plan"].stages}
    test_set = stages["evaluate"].labels[0]  # NAME:SPLIT, the experiment's one test set
    report = Path(stages["evaluate"].outputs["reports"][test_set])
    scores = json.loads(report.read_text())
    data = stages["data"].outputs
    dataset, _, split = test_set.rpartition(":")
    baseline = _all_zero(out, Path(data["data"]), Path(data["dataset_config"]), dataset, split)
    if "evaluate" not in result["results"]:  # skipped: its metrics table, as the first run printed it
        log(f"\nthe evaluation of the held-out videos ({report}):\n{format_table(scores).rstrip()}")
    s, mae = scores["overall"]["S"], scores["overall"]["MAE"]
    s0, mae0 = baseline["overall"]["S"], baseline["overall"]["MAE"]
    log(f"overlays of the held-out videos: {Path(stages['inference'].outputs['results']) / 'overlays' / dataset}")
    log(f"toy test: S={s:.3f} MAE={mae:.3f} (all-zero map: S={s0:.3f} MAE={mae0:.3f})")
    passed = s >= S_MIN and mae <= MAE_MAX
    if args.preset == "full" and not passed:
        log(f"quickstart: below the expected S >= {S_MIN} and MAE <= {MAE_MAX}")
    video = (result["results"].get("video") or [None])[0]
    return {"status": 0, "S": s, "MAE": mae, "S_zero": s0, "MAE_zero": mae0, "passed": passed,
            "video_history": video["history"] if isinstance(video, dict) else None,
            "timings": result["timings"], "reproduce": result}


def exit_status(result: dict, args: argparse.Namespace) -> int:
    """The plan's status when it stopped the run; else 1 when the full preset misses the thresholds."""
    if result["status"]:
        return result["status"]
    return 0 if result["passed"] or args.preset != "full" else 1
