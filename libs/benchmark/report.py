"""The benchmark's report: rows and ratios from measured variants, and the Markdown that prints them.

The report dict (what ``--json`` writes) has ``command``, ``machine`` (CPU model and the CPU
features that decide bf16 speed, see :mod:`libs.utils.machine`), ``settings``,
``timing_method``, ``memory_method``, ``inference`` (one row per variant plus the summary of
ours against ``published``), ``e2e`` and ``train`` (None when skipped) and the process's
maximum resident set size.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from libs.utils.machine import REPORTED_FLAGS

from .measurement import compare_maps, mib, paired_speedup, speedup, summarize
from .variants import PUBLISHED, Variant

__all__ = ["TARGET_SPEEDUP", "TARGET_TOLERANCE", "AMP_TARGET_FRACTION", "variant_row", "inference_report",
           "cpu_line", "format_markdown"]

TARGET_SPEEDUP = 1.2  # the CPU target: ours >= 1.2x the published order's throughput ...
TARGET_TOLERANCE = 1e-4  # ... with probability maps equal within 1e-4
AMP_TARGET_FRACTION = 0.999  # --amp maps within 1/255 of fp32 on >= 99.9% of pixels


def variant_row(variant: Variant, published: Variant, frames: int) -> Dict[str, object]:
    """One table row: the variant's settings, timing summary, ratios and map agreement with ``published``.

    ``frames``: frames per pass (clip length x batch), for frames/s.
    """
    row = {"key": variant.key, "label": variant.label, "channels_last": variant.channels_last, "amp": variant.amp,
           "peak_mem_mib": mib(variant.peak_bytes), "error": variant.error, "compile_s": variant.compile_s}
    if variant.times:
        row.update(summarize(variant.times, frames))
        row["speedup_vs_published"] = speedup(published.times, variant.times)
        if variant.paired:
            row["speedup_paired_median"] = paired_speedup(published.times, variant.times)
    if variant.logits is not None and published.logits is not None:
        row.update(compare_maps(variant.logits, published.logits))
    return row


def inference_report(variants: Sequence[Variant], ours_key: str, frames: int) -> Dict[str, object]:
    """Rows of every variant, and ours (``ours_key``) against ``published``: ratios, differences, targets."""
    published = next(v for v in variants if v.key == PUBLISHED)
    rows = [variant_row(v, published, frames) for v in variants]
    by_key = {r["key"]: r for r in rows}
    ours = by_key[ours_key]
    diff = ours["max_abs_diff_probs"]  # the maps inference.py writes; logits reported beside
    amp = next((r for r in rows if r["amp"] and "within_1_255" in r), None)
    return {
        "variants": rows,
        "amp": None if amp is None else {
            "key": amp["key"], "within_1_255": amp["within_1_255"], "target": AMP_TARGET_FRACTION,
            "met": amp["within_1_255"] >= AMP_TARGET_FRACTION},
        "ours": ours_key,
        "speedup": ours["speedup_vs_published"],
        "speedup_paired_median": ours["speedup_paired_median"],
        "speedup_batched_contiguous": by_key["batched"]["speedup_vs_published"] if "batched" in by_key else None,
        "max_abs_diff": diff,
        "max_abs_diff_probs": diff,
        "max_abs_diff_logits": ours["max_abs_diff_logits"],
        "target": {"speedup": TARGET_SPEEDUP, "tolerance": TARGET_TOLERANCE,
                   "met": ours["speedup_vs_published"] >= TARGET_SPEEDUP and diff <= TARGET_TOLERANCE},
    }


def _fmt(x, digits: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and (abs(x) < 1e-2 and x != 0):
        return f"{x:.1e}"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _yes_no(flag: Optional[bool]) -> str:
    return "unknown" if flag is None else ("yes" if flag else "no")


def cpu_line(machine: Dict[str, object]) -> str:
    """``CPU features: avx2 avx512f avx512_bf16; native bf16: yes; AMX: no; PyTorch CPU capability AVX512``."""
    flags = machine.get("cpu_flags")
    if flags is None:
        listed = "unknown (no /proc/cpuinfo)"
    else:
        listed = " ".join(flags) or "none of " + " ".join(REPORTED_FLAGS)
    return (f"CPU features: {listed}; native bf16: {_yes_no(machine.get('native_bf16'))}; "
            f"AMX: {_yes_no(machine.get('amx'))}; PyTorch CPU capability {machine.get('torch_cpu_capability')}")


def _header(report: Dict[str, object]) -> List[str]:
    m, s = report["machine"], report["settings"]
    gpu = f" ({m['gpu']})" if m.get("gpu") else ""
    load = f", load average {' '.join(map(str, m['load_average']))}" if m.get("load_average") else ""
    return [
        f"`{report['command']}`",
        "",
        f"- machine: {m['cpu']} ({m['logical_cpus']} logical CPUs), {m['torch_threads']} torch threads, "
        f"device {m['device']}{gpu}, torch {m['torch']}{load}",
        f"- {cpu_line(m)}",
        f"- input: {s['batch']} clip(s) of {s['clip_len']} frames at {s['size']}x{s['size']}, output stride "
        f"{s['output_stride']}; weights: {s['weights']} ({s['weights_mib']} MiB)",
        f"- timing: {report['timing_method']}, {s['iters']} rounds after {s['warmup']} warm-up pass(es)",
        f"- memory: {report['memory_method']}",
    ]


def _inference_table(inf: Dict[str, object]) -> List[str]:
    lines = ["| variant | latency/clip ms (median) | min | frames/s | vs published | peak mem MiB "
             "| max abs diff logits | max abs diff probs | pixels within 1/255 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in inf["variants"]:
        if r.get("error"):
            lines.append(f"| {r['key']} | {r['error']} | | | | | | | |")
            continue
        name = f"**{r['key']}**" if r["key"] == inf["ours"] else r["key"]
        comp = f" (compile {r['compile_s']} s)" if r.get("compile_s") is not None else ""
        lines.append(
            f"| {name}: {r['label']}{comp} | {_fmt(r['latency_ms_median'])} | {_fmt(r['latency_ms_min'])} "
            f"| {_fmt(r['frames_per_s'], 2)} | {_fmt(r['speedup_vs_published'], 2)}x | {_fmt(r['peak_mem_mib'])} "
            f"| {_fmt(r['max_abs_diff_logits'])} | {_fmt(r['max_abs_diff_probs'])} | {r['within_1_255']:.4%} |")
    t = inf["target"]
    batched = inf.get("speedup_batched_contiguous")
    lines += [
        "",
        f"ours = **{inf['ours']}**: {inf['speedup']:.2f}x the published order's throughput "
        f"(median of the per-round ratios: {inf['speedup_paired_median']:.2f}x)"
        + (f" (batched, contiguous: {batched:.2f}x)" if batched is not None else "")
        + f"; max abs diff of the probability maps {_fmt(inf['max_abs_diff_probs'])} "
        f"(logits {_fmt(inf['max_abs_diff_logits'])}). "
        f"Target >= {t['speedup']}x with maps within {t['tolerance']:g}: **{'met' if t['met'] else 'not met'}**.",
    ]
    if inf.get("amp"):
        a = inf["amp"]
        lines.append(f"\n{a['key']}: {a['within_1_255']:.4%} of pixels within 1/255 of the published fp32 maps; "
                     f"target >= {a['target']:.1%}: **{'met' if a['met'] else 'not met'}**.")
    return lines


def format_markdown(report: Dict[str, object]) -> str:
    """The report as Markdown: machine and CPU features, settings, the inference table and ratio line,
    then the end-to-end and training tables when measured."""
    lines = _header(report) + [""] + _inference_table(report["inference"])
    if report.get("e2e"):
        e = report["e2e"]
        lines += ["", f"| end to end (inference.py defaults, -j {e['workers']}) | frames | seconds | frames/s |",
                  "|---|---|---|---|",
                  f"| decode + model + PNG writing | {e['frames']} | {e['seconds']:.2f} | {e['frames_per_s']:.2f} |"]
    if report.get("train"):
        lines += ["", "| training step (batched VideoModel, BCE, Adam, frozen BN) | step s (median) | min s "
                      "| peak mem MiB | loss |", "|---|---|---|---|---|"]
        for r in report["train"]:
            lines.append(f"| {r['key']} | {r['step_s_median']:.3f} | {r['latency_ms_min'] / 1000:.3f} "
                         f"| {_fmt(r['peak_mem_mib'])} | {r['loss']:.4f} |")
    lines += ["", f"process max RSS: {report['max_rss_mib']} MiB (grew by {report['max_rss_growth_mib']} MiB "
                  "during the benchmark; getrusage)"]
    return "\n".join(lines)
