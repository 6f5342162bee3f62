"""The ``--holdout`` report: scores per video and overall, a table, a verdict and the JSON.

Scores are computed from the 8-bit masks each method writes, against the hidden frame's own
mask decoded by :func:`libs.utils.io.load_mask` (x 255, rounded), as ``evaluate.py`` does
(:class:`libs.metrics.saliency.SaliencyEvaluator`): J and boundary F on ``prediction >= 128``
and ``GT > 128``, S-measure and MAE by pysodmetrics. Per video: means over its hidden frames;
overall: the mean over videos.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from libs.metrics.saliency import SaliencyEvaluator

__all__ = ["REPORT_METRICS", "SCORES", "HIGHER_IS_BETTER", "new_evaluators", "scores", "overall", "ranking",
           "verdict", "format_table", "report_json"]

REPORT_METRICS = ("MAE", "S", "J", "F_boundary")  # what the evaluator computes
SCORES = {"J": "J", "F": "F_boundary", "S": "S", "MAE": "MAE"}  # report key -> evaluator key, in report order
HIGHER_IS_BETTER = {"J": True, "F": True, "S": True, "MAE": False}
METHOD_ORDER = ("fgplg", "copy", "warp")


def new_evaluators(methods: Sequence[str]) -> Dict[str, SaliencyEvaluator]:
    return {m: SaliencyEvaluator(REPORT_METRICS) for m in methods}


def scores(evaluator: SaliencyEvaluator) -> Dict[str, float]:
    """``{"J", "F", "S", "MAE"}``: means over the frames the evaluator saw."""
    results = evaluator.results()
    return {key: float(results[name]) for key, name in SCORES.items()}


def overall(videos: Dict[str, dict], methods: Sequence[str]) -> Dict[str, Optional[Dict[str, float]]]:
    """The unweighted mean over videos of each method's per-video scores."""
    out: Dict[str, Optional[Dict[str, float]]] = {}
    for m in METHOD_ORDER:
        if m not in methods:
            out[m] = None
            continue
        out[m] = {key: float(np.mean([v[m][key] for v in videos.values()])) for key in SCORES}
    return out


def _better(a: Dict[str, float], b: Dict[str, float], key: str) -> bool:
    return a[key] > b[key] if HIGHER_IS_BETTER[key] else a[key] < b[key]


def ranking(results: Dict[str, Optional[Dict[str, float]]]) -> List[str]:
    """Methods scored, best first: by J, then boundary F, then S, then the lower MAE."""
    scored = [m for m in METHOD_ORDER if results.get(m) is not None]
    return sorted(scored, key=lambda m: (-results[m]["J"], -results[m]["F"], -results[m]["S"], results[m]["MAE"],
                                         METHOD_ORDER.index(m)))


def verdict(results: Dict[str, Optional[Dict[str, float]]], why_no_fgplg: str = "") -> List[str]:
    """Plain sentences: did the FGPLG beat both baselines (and where not), and which method to use."""
    lines = []
    fg = results.get("fgplg")
    if fg is None:
        lines.append(f"The FGPLG was not scored{why_no_fgplg}: only the copy and warp baselines are compared.")
    else:
        lost = []
        for key in SCORES:
            beaten = [b for b in ("copy", "warp") if not _better(fg, results[b], key)]
            if beaten:
                lost.append(f"{key} ({', '.join(f'{b} {results[b][key]:.4f}' for b in beaten)} vs fgplg "
                            f"{fg[key]:.4f})")
        if not lost:
            lines.append("The FGPLG beat both baselines (copy and warp) on every metric: J, F, S and MAE.")
        else:
            lines.append("The FGPLG did NOT beat both baselines; not on " + "; ".join(lost) + ".")
    order = ranking(results)
    best = order[0]
    lines.append(f"Ranking by J (then F, S, MAE): {' > '.join(order)}. Best: {best} "
                 f"(J {results[best]['J']:.4f}); label your frames with --method {best}.")
    return lines


def _row(name: str, frames: str, method: str, s: Optional[Dict[str, float]]) -> str:
    cells = [f"{s[k]:.4f}" for k in SCORES] if s is not None else ["-"] * len(SCORES)
    return f"| {name} | {frames} | {method if s is not None else method + ' (not scored)'} | " + " | ".join(cells) + " |"


def format_table(videos: Dict[str, dict], total: Dict[str, Optional[Dict[str, float]]]) -> str:
    """A Markdown table: one row per video and method, then the overall rows."""
    lines = ["| video | hidden frames | method | " + " | ".join(SCORES) + " |",
             "|---|---:|---|" + "---:|" * len(SCORES)]
    for name, v in videos.items():
        for m in METHOD_ORDER:
            if v.get(m) is not None:
                lines.append(_row(name, str(len(v["frames"])), m, v[m]))
    n = sum(len(v["frames"]) for v in videos.values())
    for m in METHOD_ORDER:
        lines.append(_row(f"**overall** (mean of {len(videos)} video{'s' if len(videos) != 1 else ''})", str(n), m,
                          total.get(m)))
    return "\n".join(lines)


def report_json(k: int, videos: Dict[str, dict], total: Dict[str, Optional[Dict[str, float]]]) -> dict:
    """``{"holdout": K, "videos": {video: {"frames", "fgplg", "copy", "warp"}}, "overall": {...}}``;
    ``fgplg`` is null where it was not scored."""
    return {
        "holdout": k,
        "videos": {name: {"frames": list(v["frames"]), **{m: v.get(m) for m in METHOD_ORDER}}
                   for name, v in videos.items()},
        "overall": {m: total.get(m) for m in METHOD_ORDER},
    }
