"""The ``tables.py`` command: flags, then :mod:`.tables` does the work.

    python tables.py --method Ours=results --method Other=other_results \\
        --dataset DAVIS2016:val --gt FBMS=/data/Datasets/FBMS --protocol davsod \\
        [--report Old:DAVIS2016=old_davis.json] [--metrics S,maxF,maxE,MAE] [--format latex]

Predictions of method M on dataset D are ``<M dir>/<D>/<video>/<frame>.png``.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List

from libs.utils.cli import UsageError, nonnegative_int
from libs.utils.io import save_text

from .engine import PROTOCOLS, default_num_workers
from .tables import (
    DEFAULT_TABLE_METRICS, FORMATS, DatasetSource, evaluate_methods, load_report, paper_table, parse_assignment,
    resolve_protocol, save_reports,
)

__all__ = ["build_parser", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tables.py",
        description="Evaluate several methods on several datasets and print a paper-style table.",
        epilog="Predictions of method M on dataset D: <M dir>/<D>/<video>/<frame>.png. Protocols and "
               "metrics: docs/evaluation.md.",
    )
    src = parser.add_argument_group("what to tabulate (each flag repeatable; column groups in the order given)")
    src.add_argument("--method", action="append", default=[], metavar="NAME=DIR",
                     help="a method (table row) and its results folder")
    src.add_argument("--dataset", action="append", dest="sources", type=lambda s: ("split", s),
                     metavar="NAME:SPLIT", help="a dataset of --dataset-config, GT under --data")
    src.add_argument("--gt", action="append", dest="sources", type=lambda s: ("gt", s), metavar="NAME=DIR",
                     help="a dataset given by its GT folder or benchmark release (as evaluate.py --gt)")
    src.add_argument("--report", action="append", default=[], metavar="METHOD:DATASET=FILE",
                     help="an evaluate.py --json report instead of evaluating (also a method or dataset on its own)")
    parser.add_argument("--data", default="data/datasets", metavar="DIR",
                        help="data root for --dataset (default: %(default)s)")
    parser.add_argument("--dataset-config", default="config/datasets.yaml", metavar="YAML",
                        help="dataset config for --dataset (default: config/datasets.yaml)")
    parser.add_argument("--gt-subdir", metavar="NAME", help="per-video GT subfolder of --gt releases (default: detect)")
    parser.add_argument("--gt-ext", default=".png", metavar="EXT", help="GT extension for --gt (default: .png)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default=None,
                        help="evaluation protocol (default: the reports' own, else per-video)")
    parser.add_argument("--metrics", default=",".join(DEFAULT_TABLE_METRICS), metavar="A,B",
                        help="columns per dataset, e.g. S,maxF,maxE,MAE or J&F-Mean,J-Mean,F-Mean (default: %(default)s)")
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="table format (default: markdown)")
    parser.add_argument("--decimals", type=int, default=3, choices=(2, 3, 4), help="precision (default: 3)")
    parser.add_argument("--caption", metavar="TEXT", help="caption text (the protocol sentence is appended)")
    parser.add_argument("--out", metavar="FILE", help="also write the table to FILE")
    parser.add_argument("--save-reports", metavar="DIR", help="write each computed report as DIR/<method>__<dataset>.json")
    parser.add_argument("--allow-missing", action="store_true", help="count a missing prediction as an all-zero map")
    parser.add_argument("-j", "--num_workers", type=nonnegative_int, default=default_num_workers(), metavar="N",
                        help="worker processes over videos (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _sources(args: argparse.Namespace) -> List[DatasetSource]:
    out = []
    for kind, text in args.sources or []:
        if kind == "gt":
            name, folder = parse_assignment(text, "--gt")
            out.append(DatasetSource(name, gt=Path(folder)))
        else:
            name, split = parse_assignment(text, "--dataset", sep=":")
            out.append(DatasetSource(name, split=split))
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError(f"dataset(s) given twice: {', '.join(dup)}")
    return out


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    methods = [parse_assignment(t, "--method") for t in args.method]
    sources = _sources(args)
    loaded: Dict[str, Dict] = {}
    given: Dict[str, Dict[str, Dict]] = {}
    for text in args.report:
        pair, path = parse_assignment(text, "--report")
        method, dataset = parse_assignment(pair, "--report", sep=":")
        loaded[path] = given.setdefault(method, {})[dataset] = load_report(path)
    if not given and not (methods and sources):
        raise UsageError("nothing to tabulate: give --method with --dataset/--gt, or --report")
    protocol = resolve_protocol(args.protocol, loaded)
    skip = [(m, d) for m, by in given.items() for d in by]
    computed = evaluate_methods(methods, sources, protocol=protocol, data_root=args.data,
                                dataset_config=args.dataset_config, gt_subdir=args.gt_subdir, gt_ext=args.gt_ext,
                                skip=skip, allow_missing=args.allow_missing, num_workers=args.num_workers,
                                progress=not args.no_progress)
    if args.save_reports:
        save_reports(computed, args.save_reports)
    reports = {m: {**computed.get(m, {}), **given.get(m, {})} for m in [*computed, *given]}
    method_names = list(dict.fromkeys([m for m, _ in methods] + list(given)))
    dataset_names = list(dict.fromkeys([s.name for s in sources] + [d for by in given.values() for d in by]))
    metrics = [k.strip() for k in args.metrics.split(",") if k.strip()]
    table = paper_table(reports, method_names, dataset_names, metrics, args.format, args.decimals, protocol,
                        args.caption)
    if args.out:
        save_text(table, args.out)
    sys.stdout.write(table)
    return 0
