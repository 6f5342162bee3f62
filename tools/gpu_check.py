"""The GPU check of FlowNet2's compiled ops, in one command, with one JSON report.

    bash tools/gpu_check.sh                          # writes gpu_check.json
    python -m tools.gpu_check --json out.json --budget 470   # the same, from the repo root

On a machine with one NVIDIA GPU (and nvcc), in order, each step a subprocess with a
time limit taken from one overall budget (default 470 s, under 8 minutes):

1. build     python -m flownet2.ops.build cuda cpu (the CUDA target for this GPU's arch)
2. selftest  python -m flownet2.ops.selftest --require-cuda (every op, device, backend)
3. pytest    FLOWNET2_REQUIRE_CUDA_OPS=1 python -m pytest -q -m cuda (skips become failures)
4. fixtures  FlowNet2's and FGPLG's reference fixtures through the CUDA kernels (max errors)
5. ops bench python -m flownet2.benchmark --device cuda (pure vs compiled, each op, FlowNet2)
6. benchmark python benchmark.py --device cuda --amp --compile, shortened

The report holds the machine, each step's command, exit code, seconds, last output lines
and parsed results. Exit code 0 when every step passed, 1 otherwise, 2 without a GPU.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from libs.utils.io import save_json

ROOT = Path(__file__).resolve().parent.parent
TAIL = 40


def build_parser():
    p = argparse.ArgumentParser(prog="python -m tools.gpu_check", description=__doc__.split("\n")[0])
    p.add_argument("--json", default="gpu_check.json", help="report path (default: gpu_check.json)")
    p.add_argument("--budget", type=float, default=470.0,
                   help="seconds for all steps together (default: 470, under 8 minutes)")
    p.add_argument("--fixtures", metavar="OUT", help=argparse.SUPPRESS)  # step 4, in a subprocess
    p.add_argument("--fixtures-device", default="cuda", help=argparse.SUPPRESS)
    return p


def _machine():
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": sys.version.split()[0]}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["capability"] = "{}.{}".format(*torch.cuda.get_device_capability(0))
        info["gpus_visible"] = torch.cuda.device_count()
    return info


def _run_step(name, cmd, limit, env=None):
    """Run one step; never raises. Returns its record (ok, rc, seconds, tail)."""
    print(f"gpu_check: [{name}] {' '.join(cmd)}  (limit {limit:.0f} s)", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=max(limit, 1.0))
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the step's whole process group (pytest, nvcc, ...)
        out, _ = proc.communicate()
        rc = "timeout"
    seconds = round(time.monotonic() - t0, 1)
    lines = (out or "").rstrip().splitlines()
    ok = rc == 0
    print("\n".join(f"    {line}" for line in lines[-(TAIL if not ok else 15):]), flush=True)
    print(f"gpu_check: [{name}] {'ok' if ok else 'FAILED'} (exit {rc}, {seconds} s)", flush=True)
    return {"name": name, "cmd": cmd, "env": env or {}, "rc": rc, "seconds": seconds, "ok": ok,
            "tail": lines[-TAIL:]}


def _load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def fixtures(out, device="cuda"):
    """Step 4: the reference fixtures through the compiled ops on ``device`` (TF32 off).

    Writes {fixture: max_abs_err, max_abs_ref, tol, ok} to ``out``; returns an exit code.
    """
    # Imported here, in the step's own subprocess: a broken model import fails this step
    # (with its traceback in the report), not the whole check.
    from flownet2 import FlowNet2
    from libs.networks import FGPLG
    from libs.utils.reference_weights import fill_reference_weights

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    # The compiled ops or an error: 'cuda' on a GPU, the CPU target otherwise.
    os.environ["FLOWNET2_OPS_BACKEND"] = "cuda" if device == "cuda" else "compiled"
    ref_dir = ROOT / "tests" / "fixtures" / "reference"
    results = {}
    fx = torch.load(ref_dir / "flownet2_64x128.pt", map_location="cpu", weights_only=True)
    with torch.device("meta"):  # every weight is overwritten: skip the random init
        net = FlowNet2(rgb_max=1.0)
    net = fill_reference_weights(net.to_empty(device="cpu").eval(), seed=fx["seed"]).to(device)
    with torch.no_grad():
        flow = net(fx["input"].to(device)).cpu()
    results["flownet2_64x128"] = {"max_abs_err": (flow - fx["flow"]).abs().max().item(),
                                  "max_abs_ref": fx["flow"].abs().max().item()}
    del net
    fx = torch.load(ref_dir / "fgplg_64.pt", map_location="cpu")
    model = fill_reference_weights(FGPLG(output_stride=16, flow="flownet2").eval(), fx["seed"]).to(device)
    f, lab = [t.to(device) for t in fx["frames"]], [t.to(device) for t in fx["labels"]]
    with torch.no_grad():
        logits = model.generate_pseudo_label(f[1], f[0], f[2], lab[0], lab[2]).cpu()
    expected = fx["pseudo_label_logits"]
    results["fgplg_64"] = {"max_abs_err": (logits - expected).abs().max().item(),
                           "max_abs_ref": expected.abs().max().item()}
    ok = True
    for name, r in results.items():
        # cuDNN sums fp32 convolutions in another order than the CPU that made the fixtures.
        r["tol"] = (1e-3 if device == "cuda" else 1e-4) * max(1.0, r["max_abs_ref"])
        r["ok"] = r["max_abs_err"] < r["tol"]
        ok &= r["ok"]
        print(f"{name} on {device}: max abs error {r['max_abs_err']:.2e} (tolerance {r['tol']:.1e}) "
              f"{'ok' if r['ok'] else 'MISMATCH'}")
    save_json(results, out)
    return 0 if ok else 1


def steps(tmp):
    """(name, command, env, longest seconds it may take, file its results land in)."""
    py = sys.executable
    return [
        ("build", [py, "-m", "flownet2.ops.build", "cuda", "cpu"], {}, 300, None),
        ("selftest", [py, "-m", "flownet2.ops.selftest", "--require-cuda", "--json", f"{tmp}/selftest.json"],
         {}, 120, f"{tmp}/selftest.json"),
        ("pytest -m cuda", [py, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
                            f"--junitxml={tmp}/pytest.xml"], {"FLOWNET2_REQUIRE_CUDA_OPS": "1"}, 150, None),
        ("fixtures", [py, "-m", "tools.gpu_check", "--fixtures", f"{tmp}/fixtures.json"], {}, 90,
         f"{tmp}/fixtures.json"),
        ("ops benchmark", [py, "-m", "flownet2.benchmark", "--device", "cuda", "--size", "448",
                           "--iters", "20", "--warmup", "3", "--json", f"{tmp}/ops_bench.json"], {}, 90,
         f"{tmp}/ops_bench.json"),
        ("benchmark.py --amp --compile", [py, "benchmark.py", "--device", "cuda", "--amp", "--compile",
                                          "--iters", "3", "--warmup", "1", "--skip-e2e", "--skip-train",
                                          "--json", f"{tmp}/benchmark.json"], {}, 240, f"{tmp}/benchmark.json"),
    ]


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.fixtures:
        return fixtures(args.fixtures, args.fixtures_device)
    t0 = time.monotonic()
    report = {"command": "python -m tools.gpu_check " + " ".join(sys.argv[1:] if argv is None else argv),
              "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": _machine(), "steps": []}
    if not torch.cuda.is_available():
        report.update(ok=False, error="no CUDA GPU: torch.cuda.is_available() is False")
        save_json(report, args.json)
        print("gpu_check: no CUDA GPU (torch.cuda.is_available() is False); this check needs a "
              f"machine with an NVIDIA GPU and its driver. Report: {args.json}", file=sys.stderr)
        return 2
    print(f"gpu_check: {report['machine']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check.") as tmp:
        for name, cmd, env, longest, result_file in steps(tmp):
            left = args.budget - (time.monotonic() - t0)
            if left < 10:
                report["steps"].append({"name": name, "ok": False, "rc": None,
                                        "skipped": f"time budget of {args.budget:.0f} s used up"})
                print(f"gpu_check: [{name}] skipped: time budget used up", flush=True)
                continue
            record = _run_step(name, cmd, min(longest, left), env)
            if result_file:
                record["result"] = _load(result_file)
            report["steps"].append(record)
            save_json(report, args.json)  # a partial report survives a killed run
    report["seconds"] = round(time.monotonic() - t0, 1)
    report["ok"] = all(s["ok"] for s in report["steps"])
    save_json(report, args.json)
    failed = [s["name"] for s in report["steps"] if not s["ok"]]
    print(f"gpu_check: {'all steps passed' if not failed else 'FAILED: ' + ', '.join(failed)} "
          f"in {report['seconds']} s; report: {args.json}", flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
