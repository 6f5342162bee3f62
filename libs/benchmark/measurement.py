"""How the benchmark measures: wall time, peak tensor memory, ratios of medians, map agreement.

Timing: CUDA events and ``torch.cuda.synchronize`` on GPU, ``time.perf_counter`` on CPU.
Peak memory: on GPU ``torch.cuda.max_memory_allocated`` over one call, minus what was
allocated before it; on CPU the same quantity from ``torch.profiler``'s allocator events
(``profile_memory=True``: the running sum of the CPU allocator's allocations and frees over
one call, its maximum). Both are tensor memory beyond what was already resident (weights,
inputs); memory that oneDNN/MKL allocate outside PyTorch's allocator is not seen.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import torch
from torch.profiler import ProfilerActivity, profile

__all__ = ["Meter", "MEMORY_METHOD", "TIMING_METHOD", "mib", "summarize", "speedup", "paired_speedup",
           "compare_maps"]

MEMORY_METHOD = {
    "cuda": "torch.cuda.max_memory_allocated during one pass minus memory_allocated before it",
    "cpu": "torch.profiler (profile_memory=True): peak of the running sum of CPU allocator events during one "
           "pass (tensor memory beyond weights and inputs; oneDNN/MKL-internal buffers not included)",
}
TIMING_METHOD = {"cuda": "CUDA events, torch.cuda.synchronize", "cpu": "time.perf_counter"}


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: the profiler's C++ side prints start/stop lines there."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Meter:
    """Wall time and peak tensor memory of callables on one device (see the module docstring)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"

    def time(self, fn: Callable[[], object]) -> Tuple[float, object]:
        """``(seconds, result)`` of one call, the device's queued work included."""
        if not self.cuda:
            start = time.perf_counter()
            result = fn()
            return time.perf_counter() - start, result
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(self.device)
        start.record()
        result = fn()
        end.record()
        torch.cuda.synchronize(self.device)
        return start.elapsed_time(end) / 1000.0, result

    def peak(self, fn: Callable[[], object]) -> Tuple[Optional[int], object]:
        """``(peak bytes allocated during the call beyond what was allocated before, result)``.

        The bytes are None on CPU when this PyTorch's profiler does not expose its events.
        """
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            base = torch.cuda.memory_allocated(self.device)
            result = fn()
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) - base, result
        with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            result = fn()
        results = getattr(prof.profiler, "kineto_results", None)
        if results is None:  # the profiler's internals changed: no CPU figure rather than a wrong one
            return None, result
        events = sorted((e for e in results.events() if e.name() == "[memory]"), key=lambda e: e.start_ns())
        level = peak = 0
        for e in events:
            level += e.nbytes()
            peak = max(peak, level)
        return peak, result


def mib(nbytes: Optional[int]) -> Optional[float]:
    """Bytes -> MiB rounded to 0.1; None stays None (a figure that could not be measured)."""
    return None if nbytes is None else round(nbytes / 2**20, 1)


def summarize(seconds: Sequence[float], frames: int) -> Dict[str, object]:
    """Per-call times of a workload processing ``frames`` frames -> median/min latency and frames/s."""
    med = statistics.median(seconds)
    return {
        "latency_ms_median": round(med * 1000, 2),
        "latency_ms_min": round(min(seconds) * 1000, 2),
        "latency_ms_all": [round(s * 1000, 2) for s in seconds],
        "frames_per_s": round(frames / med, 3),
    }


def speedup(reference: Sequence[float], seconds: Sequence[float]) -> float:
    """Throughput ratio to the reference: median of its times over the median of ours."""
    return round(statistics.median(reference) / statistics.median(seconds), 3)


def paired_speedup(reference: Sequence[float], seconds: Sequence[float]) -> float:
    """Median of the per-round ratios, for times taken in the same rounds (less sensitive to drifting load)."""
    return round(statistics.median(r / s for r, s in zip(reference, seconds, strict=True)), 3)


def compare_maps(logits: torch.Tensor, reference: torch.Tensor) -> Dict[str, float]:
    """Agreement of two outputs of the same shape, e.g. ``(T, B, 1, S, S)`` logits.

    Largest absolute difference of the logits and of the probability maps (sigmoid), and the
    fraction of pixels whose probabilities differ by at most 1/255 (one step of the 8-bit PNG).
    """
    dl = (logits.float() - reference.float()).abs()
    dp = (logits.float().sigmoid() - reference.float().sigmoid()).abs()
    return {
        "max_abs_diff_logits": float(dl.max()),
        "max_abs_diff_probs": float(dp.max()),
        "within_1_255": float((dp <= 1.0 / 255.0).float().mean()),
    }

