"""The ``reproduce.py`` command: flags, then :func:`~.runner.execute`.

    python reproduce.py --plan                       # paper_table1: the data checked, the run described
    python reproduce.py                              # and run, into runs/paper_table1/
    python reproduce.py --experiment quickstart --preset fast --out runs/qs
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List

from libs.utils.cli import positive_int

from .commands import GLOBAL_TARGETS, resolve_stages
from .experiment import EXPERIMENTS_DIR, Setting, available_experiments, load_experiment, parse_setting
from .runner import execute
from .stages import KINDS, STAGE_ORDER, flag_actions, parser_of

__all__ = ["build_parser", "run", "OVERRIDES", "settings_from"]

# The scripts' usual flags, accepted here for every stage that has them: (option strings, metavar; None: a switch)
OVERRIDES = (
    (("--data",), "DIR"), (("--dataset-config",), "YAML"), (("--label_interval",), "L"),
    (("--frame_between_label_num",), "M"), (("--size",), "S"), (("--os",), "OS"), (("--epochs",), "N"),
    (("--max-iters",), "N"), (("--val-max-items",), "N"), (("--batch-size",), "B"), (("--lr",), "LR"),
    (("--backup-epochs",), "N"), (("--eval-first",), None), (("--flow",), "SOURCE"),
    (("--flownet-checkpoint",), "PTH"), (("--raft-checkpoint",), "PTH"), (("--device",), "DEVICE"),
    (("--amp",), None), (("--seed",), "N"), (("-j", "--num_workers"), "N"), (("--protocol",), "NAME"),
)


def _dest(flag: str) -> str:
    return "stage_" + flag.lstrip("-").replace("-", "_")


def _scripts_with(flag: str) -> str:
    scripts = [k.script for k in KINDS.values()
               if flag in flag_actions(parser_of(k)) and k.name in GLOBAL_TARGETS.get(flag, (k.name,))]
    return ", ".join(scripts) or "no stage"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reproduce.py",
        description="From the data to the paper's table in one command: run an experiment's stages (each the "
                    "library function behind its script, with that script's flags) into one run folder, "
                    "after a plan that checks the data; rerun to continue where it stopped.",
        epilog=f"Experiments: {', '.join(available_experiments()) or 'none'} ({EXPERIMENTS_DIR}). Stages: "
               f"{', '.join(STAGE_ORDER)}. The run folder: RUN/state.json, RUN/commands.sh, RUN/<stage>/, "
               "RUN/table.md. See docs/reproduce.md.",
    )
    g = parser.add_argument_group("the run")
    g.add_argument("--experiment", default="paper_table1", metavar="NAME|YAML",
                   help="an experiment of config/experiments/ or an experiment file (default: %(default)s)")
    g.add_argument("--preset", default=None, metavar="NAME",
                   help="one of the experiment's presets, e.g. the quickstart's 'fast' (default: none)")
    g.add_argument("--out", default=None, metavar="RUN",
                   help="the run folder; a rerun continues it (default: runs/<experiment name>)")
    g.add_argument("--plan", action="store_true",
                   help="only check the data and describe the run: counts, problems, warnings, device, disk, "
                        "time; exit status 1 when there are problems (default: off)")
    g.add_argument("--json", metavar="FILE", help="also write the plan as JSON (default: none)")
    g.add_argument("--force", action="store_true", help="run despite the plan's problems (default: off)")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--from", dest="from_stage", metavar="STAGE",
                       help="run this stage and every later one again; earlier ones are used as they are "
                            "(default: as state.json says)")
    which.add_argument("--only", metavar="STAGE", help="run this stage alone (default: as state.json says)")
    g.add_argument("--gpus", type=positive_int, default=1, metavar="N",
                   help="processes per training stage, launched with torchrun --nproc_per_node N; --batch-size "
                        "is per process (default: %(default)s)")
    g.add_argument("--set", dest="settings", action="append", default=[], metavar="STAGE.FLAG=VALUE",
                   help="a flag of one stage, e.g. video.batch-size=2 or fgplg.checkpoint=FILE; true/false for "
                        "switches; repeatable (default: none)")
    s = parser.add_argument_group("sets (the experiment's video sets; NAME:SPLIT,...)")
    for role in ("train", "val", "test"):
        s.add_argument(f"--{role}-sets", default=None, metavar="NAME:SPLIT,...",
                       help=f"the {role} sets (default: the experiment's)")
    o = parser.add_argument_group("stage flags: each for every stage that has it (as in the scripts; their "
                                  "--help says what it means and its default); the default is the experiment's")
    for strings, metavar in OVERRIDES:
        flag = strings[-1]
        kwargs = dict(action="store_true") if metavar is None else dict(metavar=metavar)
        o.add_argument(*strings, dest=_dest(flag), default=argparse.SUPPRESS, help=f"for {_scripts_with(flag)}",
                       **kwargs)
    return parser


def settings_from(args: argparse.Namespace) -> List[Setting]:
    """The stage flags given on the command line, then the ``--set`` ones."""
    given = [Setting(None, strings[-1], getattr(args, _dest(strings[-1])), "command line")
             for strings, _ in OVERRIDES if hasattr(args, _dest(strings[-1]))]
    return given + [parse_setting(text, "--set") for text in args.settings]


def run(args: argparse.Namespace, log=print) -> dict:
    """Load the experiment, resolve every stage's flags, then plan and run (:func:`~.runner.execute`)."""
    experiment = load_experiment(args.experiment, STAGE_ORDER).with_sets(
        train=args.train_sets, val=args.val_sets, test=args.test_sets)
    run_dir = Path(args.out) if args.out else Path("runs") / experiment.name
    given = settings_from(args)
    if "data" in experiment.stages and any(s.flag in ("--data", "--dataset-config") for s in given):
        experiment = experiment.without_stage("data")  # the user's data replaces the toy data
        log("stage data left out: --data/--dataset-config name the data of this run")
    settings = list(experiment.preset(args.preset)) + given
    stages = resolve_stages(experiment, settings, run_dir)
    return execute(experiment, stages, run_dir, gpus=args.gpus, plan_only=args.plan, json_path=args.json,
                   force=args.force, start=args.from_stage, only=args.only, log=log)
