"""Check every op on every available device and backend against the pure path.

    python -m flownet2.ops.selftest                     # CPU, and CUDA when a GPU is visible
    python -m flownet2.ops.selftest --require-cuda      # fail without a GPU or a CUDA build
    python -m flownet2.ops.selftest --json selftest.json

Builds (or loads) the extension for each device, then prints one line per op, backend,
device and dtype: the largest forward and backward errors against the pure path in
float64 (relative to max(1, largest reference value)), the tolerance, and the time per
forward+backward call of that backend and of the pure path. Exit code 0 when everything
matches, 1 on any mismatch, failed build, or (with --require-cuda) missing GPU.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from libs.utils.io import save_json

from . import _backend, _build, channelnorm, correlation, resample2d
from ._selfcheck import TOLERANCE, compare

__all__ = ["cases", "main", "run"]


def cases():
    """{op: (inputs as float64 CPU tensors, call(*tensors, backend))} at FlowNet2-like settings."""
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, 32, 24, 40, generator=g, dtype=torch.float64) for _ in range(2)]
    img = torch.randn(2, 3, 48, 64, generator=g, dtype=torch.float64)
    flow = torch.randn(2, 2, 48, 64, generator=g, dtype=torch.float64) * 6
    flow[:, :, ::7, ::5] *= 100  # a share of samples far outside the image
    x = torch.randn(2, 3, 96, 128, generator=g, dtype=torch.float64)
    x[:, :, ::9, ::11] = 0  # zero vectors: gradient 0 by convention
    return {
        "correlation": (feats, lambda a, b, backend: correlation(a, b, backend=backend)),  # FlowNetC's
        "resample2d": ([img, flow], lambda i, f, backend: resample2d(i, f, backend=backend)),
        "channelnorm": ([x], lambda t, backend: channelnorm(t, backend=backend)),
    }


def _time_ms(call, inputs, device, backend, iters):
    xs = [t.to(device, torch.float32).requires_grad_() for t in inputs]

    def once():
        out = call(*xs, backend=backend)
        out.backward(torch.ones_like(out))

    once()  # warm-up (and any lazy initialisation)
    times = []
    for _ in range(iters):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        once()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2]


def _check(op, call, inputs, device, backend, dtype, iters):
    record = {"op": op, "backend": backend, "device": str(device), "dtype": str(dtype).replace("torch.", "")}
    if backend == "auto":
        ext = _backend.resolve_backend(op, "auto", inputs[0].to(device))
        record["uses"] = "pure" if ext is None else ext.__name__
    try:
        result = compare(call, inputs, device, backend, dtype)
    except (RuntimeError, AssertionError) as e:
        return {**record, "ok": False, "error": str(e).splitlines()[0]}
    tol = TOLERANCE[dtype]
    record.update(forward_err=result.forward, backward_err=result.backward, tol=tol,
                  ok=bool(result.worst() <= tol))
    if dtype == torch.float32:
        record["ms"] = _time_ms(call, inputs, device, backend, iters)
        record["pure_ms"] = _time_ms(call, inputs, device, "pure", iters)
    return record


def _line(r):
    head = f"{r['op']:<12} {r['backend']:<9} {r['device']:<7} {r['dtype']:<8}"
    if "error" in r:
        return f"{head} FAIL  {r['error']}"
    uses = f"  (auto uses {r['uses']})" if "uses" in r else ""
    speed = f"  {r['ms']:8.2f} ms/call (pure {r['pure_ms']:.2f})" if "ms" in r else ""
    return (f"{head} fwd {r['forward_err']:.1e}  bwd {r['backward_err']:.1e}  tol {r['tol']:.0e}"
            f"{speed}  {'ok' if r['ok'] else 'MISMATCH'}{uses}")


def _devices(require_cuda, problems):
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda", torch.cuda.current_device()))
    elif require_cuda:
        problems.append("no CUDA GPU: torch.cuda.is_available() is False (--require-cuda)")
    return devices


def run(require_cuda=False, iters=5, log=print):
    """All the checks -> (records, problems); each record is also logged as one line."""
    problems, records = [], []
    for device in _devices(require_cuda, problems):
        try:
            ext = _backend.extension(device.type)
            log(f"build        {device.type:<17} ok    {ext.__file__}")
        except _build.BuildError as e:
            problems.append(f"{device.type} build failed: {e}")
            log(f"build        {device.type:<17} FAIL  {e}")
            continue
        dtypes = [torch.float32, torch.float64] + ([torch.float16] if device.type == "cuda" else [])
        for op, (inputs, call) in cases().items():
            for backend in ("compiled", "auto"):
                for dtype in dtypes if backend == "compiled" else [torch.float32]:
                    record = _check(op, call, inputs, device, backend, dtype, iters)
                    records.append(record)
                    log(_line(record))
                    if not record["ok"]:
                        problems.append(f"{op} {backend} {device} {record['dtype']}: mismatch")
    if require_cuda and not any(r["device"].startswith("cuda") and r["ok"] for r in records):
        problems.append("no CUDA op was checked (--require-cuda)")
    return records, problems


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m flownet2.ops.selftest", description=__doc__.split("\n")[0])
    p.add_argument("--require-cuda", action="store_true",
                   help="fail when no GPU is visible or the CUDA extension cannot be built")
    p.add_argument("--iters", type=int, default=5, help="timed calls per line (median; default 5)")
    p.add_argument("--json", metavar="FILE", help="also write the records and problems as JSON")
    args = p.parse_args(argv)
    records, problems = run(args.require_cuda, args.iters)
    for problem in problems:
        print(f"selftest: {problem}", file=sys.stderr)
    print(f"selftest: {'FAILED' if problems else 'all ops match the pure path'} "
          f"({sum(r['ok'] for r in records)}/{len(records)} checks ok)")
    if args.json:
        save_json({"records": records, "problems": problems, "torch": torch.__version__,
                   "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
                  args.json)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
