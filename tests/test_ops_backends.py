"""Backend choice of flownet2.ops ('pure', 'compiled', 'auto', 'cuda'), its self-check, and builds.

The self-check is tested with deliberately wrong extensions; the build machinery with a
fake compiler in a temporary build folder (so nothing here compiles for real).
"""
import json
import os
import shutil
import subprocess
import sys
import warnings

import pytest
import torch

from flownet2.ops import _backend, _build, _toolchain, channelnorm, correlation, describe_backends, resample2d
from test_compiled_ops import CountingExtension
from test_flownet2_ops import channelnorm_loop, rand


@pytest.fixture
def fresh_state(monkeypatch):
    """A process that has not loaded or checked anything yet."""
    monkeypatch.setattr(_backend, "_extensions", {})
    monkeypatch.setattr(_backend, "_auto_extensions", {})
    monkeypatch.setattr(_backend, "_checked", {})
    monkeypatch.delenv("FLOWNET2_OPS_BACKEND", raising=False)


class OffByOne(CountingExtension):
    """An extension whose ``broken`` op forward adds 1e-2: a wrong kernel."""

    def __init__(self, ext, broken):
        super().__init__(ext)
        self.broken = broken

    def __getattr__(self, name):
        fn = super().__getattr__(name)
        if name == f"{self.broken}_forward":
            return lambda *args: fn(*args) + 1e-2
        return fn


def test_auto_on_cpu_takes_the_measured_faster_paths(cpu_ext, fresh_state, monkeypatch):
    ext = CountingExtension(cpu_ext)
    monkeypatch.setattr(_backend, "extension", lambda device_type: ext)
    a = rand(1, 2, 6, 6, dtype=torch.float32)
    correlation(a, a, pad_size=2, max_displacement=2)
    assert torch.equal(resample2d(a, torch.zeros(1, 2, 6, 6)), a)
    torch.testing.assert_close(channelnorm(a), channelnorm_loop(a.double()).float())
    # Self-check calls aside, only the ops in AUTO_COMPILED_ON_CPU ran compiled.
    assert _backend.AUTO_COMPILED_ON_CPU == {"channelnorm"}
    assert ext.calls["channelnorm_forward"] == 2  # self-check + the call
    assert ext.calls["correlation_forward"] == ext.calls["resample2d_forward"] == 0
    assert describe_backends("cpu") == ("flownet2.ops on cpu (backend auto): correlation=pure, "
                                        "resample2d=pure, channelnorm=flownet2_ops_cpu")


@pytest.mark.parametrize("op", ["correlation", "resample2d", "channelnorm"])
def test_auto_self_check_catches_a_wrong_kernel_once(cpu_ext, fresh_state, monkeypatch, op):
    broken = OffByOne(cpu_ext, op)
    monkeypatch.setattr(_backend, "extension", lambda device_type: broken)
    monkeypatch.setattr(_backend, "AUTO_COMPILED_ON_CPU", frozenset(_backend.OPS))
    a, flow = rand(1, 3, 6, 7), rand(1, 2, 6, 7)
    calls = {"correlation": lambda b: correlation(a, a, pad_size=2, max_displacement=2, backend=b),
             "resample2d": lambda b: resample2d(a, flow, backend=b),
             "channelnorm": lambda b: channelnorm(a, backend=b)}
    with pytest.warns(RuntimeWarning, match=f"compiled {op} failed its self-check on cpu.*error"):
        out = calls[op]("auto")
    assert torch.equal(out, calls[op]("pure"))  # fell back to the pure path
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once: no second warning
        calls[op]("auto")
        for other in set(calls) - {op}:  # the other ops passed and run compiled
            before = sum(broken.calls.values())
            calls[other]("auto")
            assert sum(broken.calls.values()) > before, other
    assert f"{op}=pure" in describe_backends("cpu", "auto")


def test_compiled_backend_errors_are_clear(fresh_state, monkeypatch):
    def unavailable(device_type):
        raise _build.BuildError("flownet2_ops_cpu: c++ exited 1 on the link")

    monkeypatch.setattr(_backend, "extension", unavailable)
    a = rand(1, 2, 6, 6)
    with pytest.raises(RuntimeError, match=r"backend='compiled' requested.*exited 1 on the link"):
        channelnorm(a, backend="compiled")
    monkeypatch.setenv("FLOWNET2_OPS_BACKEND", "compiled")
    with pytest.raises(RuntimeError, match="unavailable"):
        correlation(a, a, pad_size=2, max_displacement=2)
    assert "channelnorm=error (flownet2.ops backend='compiled' requested" in describe_backends("cpu")
    with pytest.raises(ValueError, match="CUDA tensors"):
        channelnorm(a, backend="cuda")
    monkeypatch.setenv("FLOWNET2_OPS_BACKEND", "fast")
    with pytest.raises(ValueError, match="FLOWNET2_OPS_BACKEND"):
        channelnorm(a)


def test_auto_falls_back_to_pure_when_the_build_fails(fresh_state, monkeypatch):
    def unavailable(device_type):
        raise _build.BuildError("no compiler")

    monkeypatch.setattr(_backend, "extension", unavailable)
    monkeypatch.setattr(_build, "recorded_failure", lambda device_type: None)
    a = rand(1, 3, 4, 5)
    with pytest.warns(RuntimeWarning, match=r"compiled cpu ops unavailable \(no compiler\)"):
        out = channelnorm(a)
    torch.testing.assert_close(out, channelnorm_loop(a))


# --- builds ----------------------------------------------------------------------------

@pytest.fixture
def fake_compiler(tmp_path, monkeypatch):
    """A 'compiler' that logs its calls and fails like g++; an empty build folder."""
    log = tmp_path / "calls.log"
    cxx = tmp_path / "fake-g++"
    cxx.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "cpu_kernels.cpp:12:3: error: boom"\nexit 1\n')
    cxx.chmod(0o755)
    monkeypatch.setenv("CXX", str(cxx))
    monkeypatch.setenv("FLOWNET2_OPS_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    return log


def test_failed_build_says_so_on_stderr_with_the_compiler_output(fake_compiler, capsys):
    with pytest.raises(_build.BuildError, match=r"fake-g\+\+ exited 1 on .*\n.*error: boom"):
        _build.load_or_build("cpu")
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("flownet2.ops: building flownet2_ops_cpu")
    assert "FAILED" in err[1] and any("error: boom" in line for line in err)
    args = fake_compiler.read_text()
    assert "-O3" in args and "fast-math" not in args and "fast_math" not in args
    # The failure is recorded: 'auto' in a later process does not compile again.
    assert "failed to build here" in _build.recorded_failure("cpu")
    leftovers = [p.name for p in _build.build_dir().iterdir() if ".tmp" in p.name]
    assert leftovers == []


def test_auto_does_not_retry_a_recorded_failure(fake_compiler, fresh_state, monkeypatch):
    with pytest.raises(_build.BuildError):
        _build.load_or_build("cpu")
    calls = fake_compiler.read_text().count("\n")
    a = rand(1, 3, 4, 5)
    with pytest.warns(RuntimeWarning, match="failed to build here.*python -m flownet2.ops.build cpu"):
        torch.testing.assert_close(channelnorm(a), channelnorm_loop(a))
    assert fake_compiler.read_text().count("\n") == calls


def test_nonzero_local_rank_takes_rank0_failure_without_compiling(fake_compiler, monkeypatch):
    target = _build.TARGETS["cpu"]
    build = _build.build_dir()
    build.mkdir(parents=True)
    fp = _build.fingerprint(target)
    (build / "flownet2_ops_cpu.failed.json").write_text(
        json.dumps({"fingerprint": fp, "group": _build._group(), "error": "rank 0: boom"}))
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(_build.BuildError, match="local rank 0's build failed: rank 0: boom"):
        _build.load_or_build("cpu", timeout=30)
    (build / "flownet2_ops_cpu.failed.json").unlink()
    with pytest.raises(_build.BuildError, match="local rank 2 timed out"):
        _build.load_or_build("cpu", timeout=0.1)
    assert not fake_compiler.exists()  # waited, never compiled


def test_nonzero_local_rank_loads_rank0_build(cpu_ext, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWNET2_OPS_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(_build, "build", lambda *a, **k: pytest.fail("a non-zero rank compiled"))
    shutil.copy(cpu_ext.__file__, tmp_path / "flownet2_ops_cpu.so")
    target = _build.TARGETS["cpu"]
    stamp = {"fingerprint": _build.fingerprint(target), "arch_list": None}
    (tmp_path / "flownet2_ops_cpu.stamp.json").write_text(json.dumps(stamp))
    module = _build.load_or_build("cpu", timeout=5)
    x = rand(1, 2, 3, 4, dtype=torch.float32)
    torch.testing.assert_close(module.channelnorm_forward(x), channelnorm_loop(x.double()).float())


def test_changed_sources_are_not_reused(cpu_ext, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWNET2_OPS_BUILD_DIR", str(tmp_path))
    shutil.copy(cpu_ext.__file__, tmp_path / "flownet2_ops_cpu.so")
    stale = {"fingerprint": "0" * 64, "arch_list": None}
    (tmp_path / "flownet2_ops_cpu.stamp.json").write_text(json.dumps(stale))
    assert _build.load_prebuilt("cpu") is None


def test_arch_list_flags():
    assert _toolchain.gencode_flags("8.0;9.0+PTX") == [
        "-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_90,code=sm_90",
        "-gencode=arch=compute_90,code=compute_90"]
    with pytest.raises(_toolchain.BuildError, match="Hopper"):
        _toolchain.gencode_flags("Hopper")


def test_concurrent_processes_build_once_and_say_so(cpu_ext, tmp_path, repo_root):
    """Two processes need the target at once: one compiles (start and end lines), one waits."""
    log = tmp_path / "calls.log"
    cxx = tmp_path / "slow-g++"
    # Compiles touch their object, the link copies the real extension: 1 s per command.
    cxx.write_text(f'#!/bin/sh\necho "$@" >> {log}\nsleep 1\nwhile [ "$#" -gt 1 ]; do\n'
                   f'  if [ "$1" = "-o" ]; then out="$2"; fi; shift\ndone\n'
                   f'case "$out" in *.so) cp {cpu_ext.__file__} "$out";; *) touch "$out";; esac\n')
    cxx.chmod(0o755)
    env = {**os.environ, "CXX": str(cxx), "FLOWNET2_OPS_BUILD_DIR": str(tmp_path / "build")}
    env.pop("LOCAL_RANK", None)
    code = ("import torch; from flownet2.ops import _build; "
            "m = _build.load_or_build('cpu'); print(m.channelnorm_forward(torch.ones(1, 4, 1, 1)).item())")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, text=True, cwd=repo_root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["2.0", "2.0"]  # the norm of four ones
    assert log.read_text().count("\n") == 3  # two sources and one link, by one process
    err = "".join(e for _, e in results)
    assert err.count("flownet2.ops: building flownet2_ops_cpu") == 1
    assert err.count("flownet2.ops: built flownet2_ops_cpu in") == 1
    assert [p.name for p in (tmp_path / "build").iterdir() if ".tmp" in p.name] == []
