"""The stages a reproduction can run, each the library function behind one script.

=================  ==============================  =====================================================
stage              command                         writes under ``RUN/<stage>/``
=================  ==============================  =====================================================
``data``           ``python -m libs.datasets.toy``  the toy datasets and their ``datasets.yaml``
``pretrain``       ``pretrain.py``                 ``image_pretrained_model.pth``, ``image_last_state.pth``
``fgplg``          ``train_fgplg.py``              ``fgplg_current_best_model.pth``, ``fgplg_last_state.pth``
``pseudo_labels``  ``generate_pseudo_labels.py``   the pseudo-label folder ``<m>_<l>/``
``video``          ``train.py``                    ``video_current_best_model.pth``, ``video_last_state.pth``
``inference``      ``inference.py`` per test set   ``<DATASET>/<video>/<frame>.png`` (and ``overlays/``)
``evaluate``       ``evaluate.py`` per test set    ``<DATASET>_<split>.json``
=================  ==============================  =====================================================

Each stage's arguments are built by its script's own parser (:func:`parse_stage`), so a
flag means what the script's ``--help`` says.
"""
from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from libs.utils.errors import UsageError

__all__ = ["StageKind", "KINDS", "STAGE_ORDER", "TABLE", "ROOT", "parser_of", "flag_actions",
           "canonical_flag", "flag_tokens", "parse_stage", "run_toy_data", "stage_function", "PUBLISHED_L",
           "PUBLISHED_M"]

ROOT = Path(__file__).resolve().parents[3]  # the repository: scripts and config/
PUBLISHED_L, PUBLISHED_M = 5, 1  # --label_interval and --frame_between_label_num of the training instruction
_INPUT_MODE = ("--input", "--labels", "--val-input", "--val-labels", "--val-share")
_TRAINING_OWNED = ("--save-folder", "--resume") + _INPUT_MODE


@dataclass(frozen=True)
class StageKind:
    name: str
    script: str  # the stand-alone command after "python": a script, or "-m module"
    module: str  # the library module with build_parser() (and run(args, log), but for data)
    what: str
    prefix: Optional[str] = None  # training stages: the checkpoint prefix (<prefix>_last_state.pth)
    best_name: Optional[str] = None
    per_test_set: bool = False  # one command per test set
    owned: Tuple[str, ...] = ()  # flags only the run sets (outputs, modes a reproduction does not use)

    @property
    def training(self) -> bool:
        return self.prefix is not None

    @property
    def script_path(self) -> Optional[Path]:
        return None if self.script.startswith("-m ") else ROOT / self.script


KINDS: Dict[str, StageKind] = {k.name: k for k in (
    StageKind("data", "-m libs.datasets.toy", "libs.datasets.toy", "toy data", owned=("--out", "--force")),
    StageKind("pretrain", "pretrain.py", "libs.pipeline.pretraining", "image pretraining", prefix="image",
              best_name="image_pretrained_model.pth", owned=_TRAINING_OWNED),
    StageKind("fgplg", "train_fgplg.py", "libs.pipeline.fgplg_training", "FGPLG training", prefix="fgplg",
              best_name="fgplg_current_best_model.pth", owned=_TRAINING_OWNED),
    StageKind("pseudo_labels", "generate_pseudo_labels.py", "libs.pipeline.pseudo_labels",
              "pseudo-label generation", owned=("--pseudo-label-folder", "--out", "--holdout", "--json",
                                                "--method") + _INPUT_MODE),
    StageKind("video", "train.py", "libs.pipeline.video_training", "video training", prefix="video",
              best_name="video_current_best_model.pth", owned=_TRAINING_OWNED),
    StageKind("inference", "inference.py", "libs.pipeline.inference", "inference", per_test_set=True,
              owned=("--results-folder", "--input")),
    StageKind("evaluate", "evaluate.py", "libs.pipeline.evaluation.command", "evaluation", per_test_set=True,
              owned=("--json", "--csv", "--pred", "--gt", "--videos")),
)}
STAGE_ORDER = tuple(KINDS)
TABLE = StageKind("table", "tables.py", "libs.pipeline.evaluation.table_command", "the table",
                  owned=("--out", "--report", "--method"))


def parser_of(kind: StageKind) -> argparse.ArgumentParser:
    """The script's own parser; its errors raise a :class:`UsageError` naming the stage instead of exiting."""
    parser = importlib.import_module(kind.module).build_parser()

    def error(message: str):
        raise UsageError(f"stage {kind.name} ({kind.script}): {message}")

    parser.error = error  # argparse reports every bad flag through error(); the script's own would exit
    return parser


def flag_actions(parser: argparse.ArgumentParser) -> Dict[str, argparse.Action]:
    """Every visible option string (``--epochs``, ``-j``, ``--num_workers``) -> its action."""
    return {s: a for a in parser._actions for s in a.option_strings
            if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)}


def canonical_flag(parser: argparse.ArgumentParser, flag: str) -> Optional[str]:
    """The first long option string of the action ``flag`` belongs to (``--learning-rate`` ->
    ``--lr``); None when the script has no such visible flag."""
    action = flag_actions(parser).get(flag)
    if action is None:
        return None
    return next(s for s in action.option_strings if s.startswith("--"))


def flag_tokens(parser: argparse.ArgumentParser, flag: str, value) -> List[str]:
    """The command-line words for ``flag`` = ``value``: a switch is given for true and left out
    for false (``--no-X`` for a ``--X/--no-X`` pair); anything else is ``flag str(value)``."""
    action = flag_actions(parser)[flag]
    if action.nargs == 0:
        truth = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes")
        if isinstance(action, argparse.BooleanOptionalAction):
            return [flag] if truth else ["--no-" + flag[2:]]
        return [flag] if truth else []
    if isinstance(value, bool):
        raise UsageError(f"{flag} takes a value, got {value}")
    return [flag, str(value)]


def parse_stage(kind: StageKind, argv: List[str]) -> argparse.Namespace:
    return parser_of(kind).parse_args(argv)


def run_toy_data(args: argparse.Namespace, log=print) -> dict:
    """``python -m libs.datasets.toy`` as a stage: :func:`~libs.datasets.toy.make_toy_data` with its flags."""
    from libs.datasets.toy import make_toy_data

    config = make_toy_data(**vars(args))  # the toy parser's flags are make_toy_data's parameters
    log(f"toy videos and images in {args.out} (config: {config})")
    return {"dataset_config": str(config)}


def stage_function(kind: StageKind):
    """``run(args, log)`` of the stage's library module (the toy data's: :func:`run_toy_data`)."""
    if kind.name == "data":
        return run_toy_data
    return importlib.import_module(kind.module).run
