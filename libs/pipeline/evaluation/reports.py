"""Text table, CSV and JSON of one evaluation report (see :func:`.engine.evaluate_jobs`).

The report is ``{"protocol", "overall", "videos"}`` plus "pooled" under the per-video
protocol; reports written before protocols existed have no "protocol" key and are per-video.
"""
from __future__ import annotations

import csv
import io
from typing import Dict, List, Optional, Tuple

from libs.metrics.saliency import METRIC_KEYS
from libs.metrics.vos import VOS_KEYS
from libs.utils.io import save_json, save_text

from .jobs import PathLike

__all__ = ["PROTOCOL_NOTES", "report_protocol", "format_table", "results_to_csv", "write_reports"]

PROTOCOL_NOTES = {
    "per-video": (
        "per-video protocol: every GT frame; each metric averaged over a video's frames (maxF/maxE: "
        "best threshold of the video's frame-mean curve), overall = mean over videos, pooled = all frames as one set"
    ),
    "davsod": (
        "DAVSOD toolbox protocol (EvaluateTool/main.m): first and last GT frame of each video skipped; "
        "per-video frame means; overall = mean over videos, maxF/meanF (maxE/meanE) = max/mean of the "
        "mean over videos of the frame-mean curves"
    ),
}
_SHORT = {"F_boundary": "F_bnd", "J&F-Mean": "J&F"}


def report_protocol(results: Dict) -> str:
    """The protocol a report was computed with ("per-video" when it does not say)."""
    return str(results.get("protocol", "per-video"))


def _rows(results: Dict[str, Dict]) -> List[Tuple[str, int, Dict[str, float]]]:
    """(label, frames, metrics) per video, then "overall" and, if present, "pooled"."""
    videos = results["videos"]
    total = sum(int(v.get("frames", 0)) for v in videos.values())
    rows = [(name, int(v.get("frames", 0)), v) for name, v in videos.items()]
    rows.append(("overall", total, results["overall"]))
    if "pooled" in results:
        rows.append(("pooled", total, results["pooled"]))
    return rows


def _keys(results: Dict[str, Dict]) -> Tuple[List[str], List[str]]:
    """(saliency metric keys, DAVIS J/F statistic keys) present in "overall", in canonical order."""
    overall = results["overall"]
    return [k for k in METRIC_KEYS if k in overall], [k for k in VOS_KEYS if k in overall]


def _block(rows, keys: List[str], decimals: int) -> List[str]:
    name_w = max(len("video"), max(len(r[0]) for r in rows))
    col_w = max(decimals + 4, max(len(_SHORT.get(k, k)) for k in keys))
    head = f"{'video':<{name_w}}  {'frames':>6}  " + "  ".join(f"{_SHORT.get(k, k):>{col_w}}" for k in keys)
    lines = [head, "-" * len(head)]
    first_summary = next(i for i, r in enumerate(rows) if r[0] == "overall")
    for i, (label, frames, vals) in enumerate(rows):
        if i == first_summary:
            lines.append("-" * len(head))
        cells = [f"{vals[k]:>{col_w}.{decimals}f}" if k in vals else f"{'-':>{col_w}}" for k in keys]
        lines.append(f"{label:<{name_w}}  {frames:>6}  " + "  ".join(cells))
    return lines


def format_table(results: Dict[str, Dict], decimals: int = 4) -> str:
    """An aligned text table: one row per video, then "overall" (and "pooled"); the DAVIS
    J / F statistics, when present, in a second block; a note on the averaging."""
    keys, vos = _keys(results)
    rows = _rows(results)
    lines = _block(rows, keys, decimals)
    if vos:
        lines += ["", "DAVIS J/F statistics (davis2017-evaluation: mean, recall > 0.5, decay first - last quarter):"]
        lines += _block([r for r in rows if r[0] != "pooled"], vos, decimals)
    n = len(results["videos"])
    lines.append(f"{n} video(s); {PROTOCOL_NOTES.get(report_protocol(results), report_protocol(results))}. "
                 "F_bnd = DAVIS boundary F.")
    return "\n".join(lines) + "\n"


def results_to_csv(results: Dict[str, Dict]) -> str:
    """CSV text: header ``video,frames,<metrics>,<J/F statistics>``, one row per video, then
    "overall" (and "pooled"); values at full precision, empty where a row lacks a key."""
    keys, vos = _keys(results)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["video", "frames", *keys, *vos])
    for label, frames, vals in _rows(results):
        writer.writerow([label, frames, *(repr(float(vals[k])) if k in vals else "" for k in keys + vos)])
    return buf.getvalue()


def write_reports(results: Dict[str, Dict], json_path: Optional[PathLike] = None,
                  csv_path: Optional[PathLike] = None) -> None:
    """Write the JSON and/or CSV report, each atomically (never a partial file)."""
    if json_path is not None:
        save_json(results, json_path)
    if csv_path is not None:
        save_text(results_to_csv(results), csv_path)
