"""Paper tables: several methods (result folders) on several datasets, in Markdown or LaTeX.

One column group per dataset (S, maxF, MAE by default; any report key on request, e.g. maxE or
the DAVIS J&F statistics), one row per method, the best value of each column in bold (the
lowest for MAE and the decays, compared at the printed precision, ties all bold), and the
protocol named in the caption. A table holds one protocol: reports of different protocols are
refused. Cells come from evaluating ``<method dir>/<DATASET>/<video>/<frame>.png`` (dataset
config split, or benchmark release folder) or from JSON reports written by ``evaluate.py
--json`` / ``tables.py --save-reports``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from libs.utils.io import save_json

from .engine import DEFAULT_PROTOCOL, evaluate_folders, evaluate_split
from .jobs import EvaluationError, PathLike
from .reports import PROTOCOL_NOTES, report_protocol

__all__ = ["DatasetSource", "METRIC_LABELS", "DEFAULT_TABLE_METRICS", "parse_assignment", "evaluate_methods",
           "load_report", "save_reports", "resolve_protocol", "paper_table"]

Reports = Dict[str, Dict[str, Dict]]  # {method: {dataset: report}}

# key -> (Markdown label, LaTeX label, lower is better)
METRIC_LABELS = {
    "S": ("S", r"$S_\alpha$", False),
    "maxF": ("maxF", r"$F_\beta^{\max}$", False),
    "meanF": ("meanF", r"$F_\beta^{\mathrm{mean}}$", False),
    "adpF": ("adpF", r"$F_\beta^{\mathrm{adp}}$", False),
    "maxE": ("maxE", r"$E_\xi^{\max}$", False),
    "meanE": ("meanE", r"$E_\xi^{\mathrm{mean}}$", False),
    "wF": ("wF", r"$F_\beta^{w}$", False),
    "MAE": ("MAE", r"$\mathcal{M}$", True),
    "J": ("J", r"$\mathcal{J}$", False),
    "F_boundary": ("F_bnd", r"$\mathcal{F}$", False),
    "J&F-Mean": ("J&F", r"$\mathcal{J}\&\mathcal{F}$", False),
    "J-Mean": ("J-Mean", r"$\mathcal{J}$-Mean", False),
    "J-Recall": ("J-Recall", r"$\mathcal{J}$-Recall", False),
    "J-Decay": ("J-Decay", r"$\mathcal{J}$-Decay", True),
    "F-Mean": ("F-Mean", r"$\mathcal{F}$-Mean", False),
    "F-Recall": ("F-Recall", r"$\mathcal{F}$-Recall", False),
    "F-Decay": ("F-Decay", r"$\mathcal{F}$-Decay", True),
}
DEFAULT_TABLE_METRICS = ("S", "maxF", "MAE")
FORMATS = ("markdown", "latex")


@dataclass(frozen=True)
class DatasetSource:
    """A column group: predictions in ``<method dir>/<name>/``; GT from a dataset config split
    (``split``) or from a GT / benchmark release folder (``gt``)."""

    name: str
    split: Optional[str] = None
    gt: Optional[Path] = None


def parse_assignment(text: str, flag: str, sep: str = "=") -> Tuple[str, str]:
    """``"LEFT<sep>RIGHT"`` -> (LEFT, RIGHT), both non-empty; a one-line error otherwise."""
    left, found, right = text.partition(sep)
    if not found or not left or not right:
        raise EvaluationError(f"{flag} {text!r}: expected LEFT{sep}RIGHT")
    return left, right


def evaluate_methods(
    methods: Sequence[Tuple[str, PathLike]],
    datasets: Sequence[DatasetSource],
    *,
    protocol: str = DEFAULT_PROTOCOL,
    data_root: PathLike = "data",
    dataset_config: PathLike = "config/datasets.yaml",
    gt_subdir: Optional[str] = None,
    gt_ext: str = ".png",
    skip: Sequence[Tuple[str, str]] = (),
    **options,
) -> Reports:
    """Evaluate every method on every dataset (except the (method, dataset) pairs in ``skip``).

    ``options`` go to :func:`~.engine.evaluate_split` / :func:`~.engine.evaluate_folders`
    (``allow_missing``, ``num_workers``, ``progress``).
    """
    reports: Reports = {}
    for method, folder in methods:
        folder = Path(folder)
        if not folder.is_dir():
            raise EvaluationError(f"--method {method}={folder}: results folder not found")
        for ds in datasets:
            if (method, ds.name) in skip:
                continue
            if ds.gt is not None:
                report = evaluate_folders(folder / ds.name, ds.gt, gt_ext=gt_ext, gt_subdir=gt_subdir,
                                          protocol=protocol, **options)
            else:
                report = evaluate_split(data_root, dataset_config, ds.name, ds.split, folder,
                                        protocol=protocol, **options)
            reports.setdefault(method, {})[ds.name] = report
    return reports


def load_report(path: PathLike) -> Dict:
    """A JSON report of ``evaluate.py --json``; a one-line error naming the file otherwise."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise EvaluationError(f"{path}: report not found") from None
    except (OSError, ValueError) as e:
        raise EvaluationError(f"{path}: not a JSON report ({str(e).splitlines()[0]})") from None
    if not isinstance(report, dict) or not isinstance(report.get("overall"), dict):
        raise EvaluationError(f"{path}: not an evaluate.py report (no 'overall' mapping)")
    return report


def save_reports(reports: Reports, folder: PathLike) -> List[Path]:
    """Write each report as ``<folder>/<method>__<dataset>.json`` (unsafe characters -> ``_``)."""
    written = []
    for method, by_dataset in reports.items():
        for dataset, report in by_dataset.items():
            name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{method}__{dataset}") + ".json"
            save_json(report, Path(folder) / name)
            written.append(Path(folder) / name)
    return written


def resolve_protocol(requested: Optional[str], loaded: Mapping[str, Dict]) -> str:
    """The table's protocol: ``requested`` (every loaded report must match it), else the
    loaded reports' common protocol, else the default. ``loaded``: ``{file: report}``."""
    found = {f: report_protocol(r) for f, r in loaded.items()}
    if requested is not None:
        for f, p in found.items():
            if p != requested:
                raise EvaluationError(f"{f}: report computed with protocol {p!r}, table asks for {requested!r}")
        return requested
    kinds = sorted(set(found.values()))
    if len(kinds) > 1:
        raise EvaluationError(f"reports mix protocols ({', '.join(kinds)}); one table holds one protocol")
    return kinds[0] if kinds else DEFAULT_PROTOCOL


def _latex_escape(text: str) -> str:
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(table.get(c, c) for c in text)


def _cells(reports: Reports, methods, datasets, metrics, decimals) -> Dict[Tuple[str, str, str], Tuple[str, bool]]:
    """(method, dataset, metric) -> (formatted value or "", is best)."""
    out = {}
    for ds in datasets:
        for key in metrics:
            lower = METRIC_LABELS[key][2]
            values = {m: round(float(reports[m][ds]["overall"][key]), decimals)
                      for m in methods if key in reports.get(m, {}).get(ds, {}).get("overall", {})}
            best = (min if lower else max)(values.values()) if len(values) > 1 else None
            for m in methods:
                v = values.get(m)
                out[m, ds, key] = ("" if v is None else f"{v:.{decimals}f}", v is not None and v == best)
    return out


def paper_table(
    reports: Reports,
    methods: Sequence[str],
    datasets: Sequence[str],
    metrics: Sequence[str] = DEFAULT_TABLE_METRICS,
    fmt: str = "markdown",
    decimals: int = 3,
    protocol: str = DEFAULT_PROTOCOL,
    caption: Optional[str] = None,
) -> str:
    """The table text: rows = ``methods``, one column group per dataset of ``metrics``.

    Args:
        reports: ``{method: {dataset: report}}``; a missing report or key prints "-".
        fmt: ``"markdown"`` (a ``Table:`` caption line, then a pipe table) or ``"latex"``
            (a ``table`` with booktabs rules and ``\\multicolumn`` groups).
        caption: replaces the default caption (metrics, datasets, protocol); the protocol
            sentence is always appended.
    """
    unknown = [k for k in metrics if k not in METRIC_LABELS]
    if unknown:
        raise EvaluationError(f"--metrics: unknown {', '.join(unknown)} (known: {', '.join(METRIC_LABELS)})")
    absent = [k for k in metrics if not any(k in r.get("overall", {}) for by in reports.values() for r in by.values())]
    if absent:
        raise EvaluationError(f"--metrics: {', '.join(absent)} in none of the reports (protocol {protocol})")
    if fmt not in FORMATS:
        raise EvaluationError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    cells = _cells(reports, methods, datasets, metrics, decimals)
    note = f"Protocol: {protocol} ({PROTOCOL_NOTES.get(protocol, protocol)}). Best per column in bold."
    head = caption or f"{', '.join(METRIC_LABELS[k][0] for k in metrics)} on {', '.join(datasets)}."
    if fmt == "markdown":
        return _markdown(cells, methods, datasets, metrics, f"{head} {note}")
    return _latex(cells, methods, datasets, metrics, _latex_escape(f"{head} {note}") if caption is None
                  else f"{caption} {_latex_escape(note)}")


def _arrow(key: str, up: str, down: str) -> str:
    return down if METRIC_LABELS[key][2] else up


def _markdown(cells, methods, datasets, metrics, caption: str) -> str:
    header = ["Method"] + [f"{ds} {METRIC_LABELS[k][0]} {_arrow(k, '↑', '↓')}" for ds in datasets for k in metrics]
    lines = [f"Table: {caption}", "", "| " + " | ".join(header) + " |",
             "| :-- |" + " --: |" * (len(header) - 1)]
    for m in methods:
        row = [m.replace("|", r"\|")]
        for ds in datasets:
            for k in metrics:
                text, best = cells[m, ds, k]
                row.append("-" if not text else f"**{text}**" if best else text)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _latex(cells, methods, datasets, metrics, caption: str) -> str:
    n = len(metrics)
    spec = "l" + "c" * (n * len(datasets))
    groups = " & ".join(rf"\multicolumn{{{n}}}{{c}}{{{_latex_escape(ds)}}}" for ds in datasets)
    rules = " ".join(rf"\cmidrule(lr){{{2 + i * n}-{1 + (i + 1) * n}}}" for i in range(len(datasets)))
    names = " & ".join(METRIC_LABELS[k][1] + _arrow(k, r"$\uparrow$", r"$\downarrow$") for _ in datasets for k in metrics)
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{caption}}}", rf"\begin{{tabular}}{{{spec}}}",
             r"\toprule", rf" & {groups} \\", rules, rf"Method & {names} \\", r"\midrule"]
    for m in methods:
        row = [_latex_escape(m)]
        for ds in datasets:
            for k in metrics:
                text, best = cells[m, ds, k]
                row.append("--" if not text else rf"\textbf{{{text}}}" if best else text)
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
