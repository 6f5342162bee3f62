"""tools/gpu_check: its clean refusal without a GPU, its step runner, budget and report.

The real steps need a GPU; here they are replaced by tiny commands, and the fixture step
runs on the CPU target, so the orchestration and the report are what is checked.
"""
import json
import subprocess
import sys

import pytest
import torch

from tools import gpu_check


def test_without_gpu_refuses_cleanly(tmp_path, repo_root):
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    report = tmp_path / "gc.json"
    proc = subprocess.run(["bash", "tools/gpu_check.sh", "--json", str(report)], cwd=repo_root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "no CUDA GPU" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    data = json.loads(report.read_text())
    assert data["ok"] is False and data["error"].startswith("no CUDA GPU") and data["steps"] == []


def test_steps_run_in_order_within_the_budget(tmp_path, monkeypatch, capsys):
    py = sys.executable
    fake = [
        ("writes", [py, "-c", f"import json; json.dump({{'x': 1}}, open('{tmp_path}/r.json', 'w'))"],
         {}, 30, f"{tmp_path}/r.json"),
        ("env", [py, "-c", "import os, sys; sys.exit(os.environ['GC_TEST'] != '1')"], {"GC_TEST": "1"}, 30, None),
        ("fails", [py, "-c", "print('first'); print('boom'); raise SystemExit(3)"], {}, 30, None),
        ("hangs", [py, "-c", "import time; time.sleep(60)"], {}, 1.5, None),
        ("late", [py, "-c", "pass"], {}, 30, None),
    ]
    monkeypatch.setattr(gpu_check, "steps", lambda tmp: fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(gpu_check, "_machine", lambda: {"gpu": "pretend"})
    report = tmp_path / "gc.json"
    rc = gpu_check.main(["--json", str(report), "--budget", "60"])
    data = json.loads(report.read_text())
    by_name = {s["name"]: s for s in data["steps"]}
    assert rc == 1 and data["ok"] is False
    assert [s["name"] for s in data["steps"]] == ["writes", "env", "fails", "hangs", "late"]
    assert by_name["writes"]["ok"] and by_name["writes"]["result"] == {"x": 1}
    assert by_name["env"]["ok"]
    assert by_name["fails"]["rc"] == 3 and by_name["fails"]["tail"][-1] == "boom"
    assert by_name["hangs"]["rc"] == "timeout" and by_name["hangs"]["seconds"] < 10
    assert by_name["late"]["ok"]
    assert "FAILED: fails, hangs" in capsys.readouterr().out
    # A budget that is used up: every step is recorded as skipped, none runs.
    assert gpu_check.main(["--json", str(report), "--budget", "5"]) == 1
    data = json.loads(report.read_text())
    assert [s.get("skipped", "")[:11] for s in data["steps"]] == ["time budget"] * 5


def test_the_real_steps_ask_for_cuda():
    steps = {name: (cmd, env) for name, cmd, env, _, _ in gpu_check.steps("/tmp/x")}
    assert "--require-cuda" in steps["selftest"][0]
    assert steps["pytest -m cuda"][1] == {"FLOWNET2_REQUIRE_CUDA_OPS": "1"}
    assert steps["pytest -m cuda"][0][3:6] == ["-q", "-m", "cuda"]
    bench = steps["benchmark.py --amp --compile"][0]
    assert {"--amp", "--compile", "--skip-e2e", "--skip-train"} <= set(bench)
    assert sum(longest for *_, longest, _ in gpu_check.steps("/tmp/x")) > 470  # the budget bounds them


def test_fixture_step_on_the_cpu_target(tmp_path, monkeypatch, one_thread):
    # The step sets these for its own process: restore them for the other tests.
    monkeypatch.setenv("FLOWNET2_OPS_BACKEND", "auto")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", torch.backends.cudnn.allow_tf32)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", torch.backends.cuda.matmul.allow_tf32)
    out = tmp_path / "fixtures.json"
    assert gpu_check.fixtures(out, device="cpu") == 0
    data = json.loads(out.read_text())
    assert set(data) == {"flownet2_64x128", "fgplg_64"}
    assert all(r["ok"] and r["max_abs_err"] < r["tol"] for r in data.values())
