"""Time and memory of FlowNet2's three ops, per path, and of a full FlowNet2 forward pass.

    python -m flownet2.benchmark                     # CPU, 448x448, batch 1
    python -m flownet2.benchmark --device cuda       # pure and compiled ops on the GPU
    python -m flownet2.benchmark --device cpu --ops-only --json ops_cpu.json

Each op is timed at the size FlowNet2 runs it for a --size input: correlation on the
(B, 256, size/8, size/8) conv3 features, resample2d warping a (B, 3, size, size) frame by
a (B, 2, size, size) flow, channelnorm on a (B, 2, size, size) flow. Paths: 'pure' and
'compiled' (the extension for the device: flownet2_ops_cpu or flownet2_ops_cuda, built
on first use, with a line on stderr) unless --paths says otherwise.

Prints a Markdown table. GPU time is the mean over --iters calls (CUDA events); CPU time
is the fastest of --iters calls (wall clock), the estimate least disturbed by other jobs
on a shared machine. CPU memory is the peak increase of the process's resident set
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

from libs.utils.io import save_json
from libs.utils.machine import machine_info

from .model import FlowNet2
from .ops import channelnorm, compiled_ops_available, correlation, resample2d

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
    p.add_argument("--paths", default="pure,compiled",
                   help="comma-separated op paths to time: pure, compiled, auto (default: "
                        "pure,compiled; compiled is left out, with a note, where it cannot be built)")
    p.add_argument("--ops-only", action="store_true", help="skip the FlowNet2 forward pass")
    p.add_argument("--json", metavar="FILE", help="also write the rows and the machine as JSON")
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
    """(milliseconds per call, peak extra bytes) of fn(): the mean on a GPU, the minimum on a CPU."""
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
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
    # The fastest call: on a shared machine the others measure the neighbours' load.
    return min(times), mem.delta


def naive_correlation_bytes(size, batch, bytes_per_value=4):
    """Memory of a (B, 441, 256, size/8, size/8) tensor: the naive correlation's products."""
    side = size // 8
    return batch * NAIVE_DISPLACEMENTS * CONV3_CHANNELS * side * side * bytes_per_value


def _op_workloads(args, device):
    """(name, callable(path)) of each op at the size FlowNet2 runs it for --size."""
    g = torch.Generator().manual_seed(0)
    side, b, n = args.size // 8, args.batch, args.size
    feats = [torch.randn(b, CONV3_CHANNELS, side, side, generator=g).to(device) for _ in range(2)]
    frame = torch.rand(b, 3, n, n, generator=g).to(device)
    flow = (torch.randn(b, 2, n, n, generator=g) * 5).to(device)

    def fwd(fn, *xs):
        def call(path):
            with torch.no_grad():
                fn(*xs, backend=path)
        return call

    def fwd_bwd(fn, *xs):
        def call(path):
            leaves = [x.detach().requires_grad_() for x in xs]
            fn(*leaves, backend=path).sum().backward()
        return call

    return [(f"correlation fwd, ({b}, 256, {side}, {side})", fwd(correlation, *feats)),
            ("correlation fwd+bwd", fwd_bwd(correlation, *feats)),
            (f"resample2d fwd, ({b}, 3, {n}, {n})", fwd(resample2d, frame, flow)),
            ("resample2d fwd+bwd", fwd_bwd(resample2d, frame, flow)),
            (f"channelnorm fwd, ({b}, 2, {n}, {n})", fwd(channelnorm, flow)),
            ("channelnorm fwd+bwd", fwd_bwd(channelnorm, flow))]


def _paths(args, device):
    paths, notes = [], []
    for path in (p.strip() for p in args.paths.split(",") if p.strip()):
        if path not in ("pure", "compiled", "auto"):
            raise SystemExit(f"--paths: unknown path {path!r} (expected pure, compiled, auto)")
        if path == "compiled" and not compiled_ops_available(device.type):
            notes.append(f"compiled {device.type} ops unavailable here: not timed")
            continue
        paths.append(path)
    return paths, notes


def run(args):
    """Rows of (benchmark, device, path, ms per call, peak MiB), and notes."""
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    paths, notes = _paths(args, device)
    rows = []
    for name, fn in _op_workloads(args, device):
        for path in paths:
            ms, peak = _measure(lambda: fn(path), device, args.iters, args.warmup)
            rows.append((name, str(device), path, ms, peak / 2**20))
    if args.ops_only:
        return rows, notes
    g = torch.Generator().manual_seed(1)
    frames = torch.rand(args.batch, 3, 2, args.size, args.size, generator=g).to(device)
    net = FlowNet2(rgb_max=1.0).to(device).freeze()
    name = f"FlowNet2 fwd, {args.batch}x{args.size}x{args.size}"
    for path, (ms, peak) in _flownet2_times(net, frames, paths, device, args).items():
        rows.append((name, str(device), path, ms, peak / 2**20))
    return rows, notes


def _flownet2_times(net, frames, paths, device, args):
    """{path: (ms, peak bytes)} of FlowNet2's forward; on a CPU the paths take turns, call by
    call, so a change in the machine's load hits them alike."""
    def forward(path):
        previous = os.environ.get("FLOWNET2_OPS_BACKEND")
        os.environ["FLOWNET2_OPS_BACKEND"] = path  # FlowNet2's ops read it at call time
        try:
            with torch.no_grad():
                net(frames)
        finally:
            if previous is None:
                os.environ.pop("FLOWNET2_OPS_BACKEND", None)
            else:
                os.environ["FLOWNET2_OPS_BACKEND"] = previous

    if device.type == "cuda":
        return {path: _measure(lambda: forward(path), device, args.iters, args.warmup) for path in paths}
    times, peaks = {p: [] for p in paths}, {}
    for path in paths:
        with _RssPeak() as mem:
            for _ in range(max(args.warmup, 1)):
                forward(path)
        peaks[path] = mem.delta
    for _ in range(args.iters):
        for path in paths:
            t0 = time.perf_counter()
            forward(path)
            times[path].append((time.perf_counter() - t0) * 1000)
    return {path: (min(times[path]), peaks[path]) for path in paths}


def format_table(rows, args, notes=()):
    lines = ["| benchmark | device | ops path | time / call (ms) | peak extra memory (MiB) |",
             "|---|---|---|---:|---:|"]
    lines += [f"| {n} | {d} | {p} | {ms:.1f} | {mib:.0f} |" for n, d, p, ms, mib in rows]
    naive = naive_correlation_bytes(args.size, args.batch) / 2**30
    lines.append("")
    lines.append(f"A naive correlation holding a ({args.batch}, 441, 256, {args.size // 8}, "
                 f"{args.size // 8}) float32 tensor would need {naive:.2f} GiB for its products alone.")
    lines += [f"Note: {n}" for n in notes]
    return "\n".join(lines)


def main(argv=None):
    args = build_parser().parse_args(argv)
    rows, notes = run(args)
    print(format_table(rows, args, notes))
    if args.json:
        report = {"machine": machine_info(torch.device(args.device)), "settings": vars(args), "notes": notes,
                  "rows": [dict(zip(("benchmark", "device", "path", "ms", "peak_mib"), r)) for r in rows]}
        save_json(report, args.json)
    return rows


if __name__ == "__main__":
    main()
