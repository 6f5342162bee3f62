"""Time and memory of FlowNet2's correlation op and of a full FlowNet2 forward pass.

    python -m flownet2.benchmark                     # CPU, 448x448, batch 1
    python -m flownet2.benchmark --device cuda       # both op paths on the GPU

Prints a Markdown table. CPU memory is the peak increase of the process's resident set
(sampled every 0.5 ms from /proc/self/statm, falling back to ru_maxrss), so it is
approximate; GPU memory is ``torch.cuda.max_memory_allocated`` above the memory already
allocated before the call. Weights are random (no checkpoint is needed to time).
"""
from __future__ import annotations

import argparse
import os
import resource
import threading
import time

import torch

from .model import FlowNet2
from .ops import correlation, cuda_ops_available

NAIVE_DISPLACEMENTS = 441
CONV3_CHANNELS = 256


def build_parser():
    p = argparse.ArgumentParser(prog="python -m flownet2.benchmark", description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=448, help="input height and width (default: 448)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default: 1)")
    p.add_argument("--iters", type=int, default=3, help="timed calls per row (default: 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls first (default: 1)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                   help="'auto' = cuda when available, else cpu (default: auto)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own choice)")
    return p


class _RssPeak:
    """Peak resident-set growth while the context is open (CPU memory, approximate)."""

    def __init__(self):
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self.peak = 0

    def _rss(self):
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * self._page
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.0005)

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def delta(self):
        return self.peak - self.base


def _measure(fn, device, iters, warmup):
    """(milliseconds per call, peak extra bytes) of fn()."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        for _ in range(warmup):
            fn()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / iters, torch.cuda.max_memory_allocated(device) - base
    with _RssPeak() as mem:
        for _ in range(warmup):
            fn()
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        ms = (time.perf_counter() - t0) * 1000 / iters
    return ms, mem.delta


def naive_correlation_bytes(size, batch, bytes_per_value=4):
    """Memory of a (B, 441, 256, size/8, size/8) tensor: the naive correlation's products."""
    side = size // 8
    return batch * NAIVE_DISPLACEMENTS * CONV3_CHANNELS * side * side * bytes_per_value


def run(args):
    """Rows of (benchmark, device, path, ms per call, peak MiB)."""
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = ["pure"]
    if device.type == "cuda" and cuda_ops_available():
        paths.append("cuda")
    side = args.size // 8  # FlowNetC correlates its stride-8 conv3 features
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(args.batch, CONV3_CHANNELS, side, side, generator=g).to(device)
             for _ in range(2)]
    frames = torch.rand(args.batch, 3, 2, args.size, args.size, generator=g).to(device)
    net = FlowNet2(rgb_max=1.0).to(device).freeze()
    rows = []
    for path in paths:
        def corr_fwd(path=path):
            with torch.no_grad():
                correlation(*feats, backend=path)

        def corr_fwd_bwd(path=path):
            a, b = (f.detach().requires_grad_() for f in feats)
            correlation(a, b, backend=path).sum().backward()

        def flownet2_fwd():
            with torch.no_grad():
                net(frames)

        previous = os.environ.get("FLOWNET2_OPS_BACKEND")
        os.environ["FLOWNET2_OPS_BACKEND"] = path  # FlowNet2's ops read it at call time
        try:
            for name, fn in ((f"correlation fwd, ({args.batch}, 256, {side}, {side})", corr_fwd),
                             ("correlation fwd+bwd", corr_fwd_bwd),
                             (f"FlowNet2 fwd, {args.batch}x{args.size}x{args.size}", flownet2_fwd)):
                ms, peak = _measure(fn, device, args.iters, args.warmup)
                rows.append((name, str(device), path, ms, peak / 2**20))
        finally:
            if previous is None:
                os.environ.pop("FLOWNET2_OPS_BACKEND", None)
            else:
                os.environ["FLOWNET2_OPS_BACKEND"] = previous
    return rows


def format_table(rows, args):
    lines = ["| benchmark | device | ops path | time / call (ms) | peak extra memory (MiB) |",
             "|---|---|---|---:|---:|"]
    lines += [f"| {n} | {d} | {p} | {ms:.1f} | {mib:.0f} |" for n, d, p, ms, mib in rows]
    naive = naive_correlation_bytes(args.size, args.batch) / 2**30
    lines.append("")
    lines.append(f"A naive correlation holding a ({args.batch}, 441, 256, {args.size // 8}, "
                 f"{args.size // 8}) float32 tensor would need {naive:.2f} GiB for its products alone.")
    return "\n".join(lines)


def main(argv=None):
    args = build_parser().parse_args(argv)
    rows = run(args)
    print(format_table(rows, args))
    return rows


if __name__ == "__main__":
    main()
