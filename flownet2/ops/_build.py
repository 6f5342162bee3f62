"""Compiling and loading the two targets of ``csrc/``: ``flownet2_ops_cpu`` and ``flownet2_ops_cuda``.

The CPU target (``flownet2_ops.cpp`` + ``cpu_kernels.cpp``) needs only a C++ compiler;
the CUDA target adds the ``*.cu`` files (nvcc) and still holds the CPU kernels. Both call
the per-element functions of ``csrc/*_kernel.h``. Compiler commands are run directly
(no ninja), the objects of a build go to a folder unique to the process, and the
finished ``<name>.so`` and its stamp (a fingerprint of the sources, flags and toolchain)
are moved into ``flownet2/ops/_build/`` (or ``$FLOWNET2_OPS_BUILD_DIR``) atomically.

A build prints one line on stderr when it starts and one when it ends, or fails with
the compiler's last lines. Builders take a file lock, so concurrent processes build once;
under torchrun (``LOCAL_RANK`` set) only local rank 0 builds, and the other ranks wait
for its stamp (or its recorded failure) instead of compiling.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from libs.utils.io import save_json

from . import _toolchain
from ._toolchain import CSRC_DIR, CXX_FLAGS, NVCC_FLAGS, TARGETS, BuildError, covers_current_gpu

__all__ = ["BuildError", "TARGETS", "build", "build_dir", "build_extension", "load_or_build",
           "load_prebuilt", "recorded_failure"]

DEFAULT_BUILD_DIR = Path(__file__).resolve().parent / "_build"
WAIT_TIMEOUT_S = 1800.0  # non-zero local ranks wait this long for rank 0's build
TAIL_LINES = 25


def say(msg):
    """One line for the user on stderr (builds are rare and slow: never silent)."""
    print(f"flownet2.ops: {msg}", file=sys.stderr, flush=True)


def build_dir():
    return Path(os.environ.get("FLOWNET2_OPS_BUILD_DIR") or DEFAULT_BUILD_DIR)


def fingerprint(target):
    """Hash of the sources, flags, toolchain and torch a built .so must match to be reused."""
    h = hashlib.sha256()
    for path in sorted(CSRC_DIR.iterdir()):
        if path.suffix in (".h", ".cuh", ".cpp", ".cu"):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    h.update(json.dumps([target.name, target.sources, CXX_FLAGS, NVCC_FLAGS,
                         _toolchain.identity(target), torch.__version__, torch.version.cuda,
                         sys.version, sysconfig.get_config_var("SOABI")]).encode())
    return h.hexdigest()


def _paths(target):
    d = build_dir()
    return d / f"{target.name}.so", d / f"{target.name}.stamp.json", d / f"{target.name}.failed.json"


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _import(so_path, name):
    spec = importlib.util.spec_from_file_location(name, str(so_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_prebuilt(device_type):
    """The target built earlier for these sources, flags and torch (and this GPU), or None."""
    target = _toolchain.target_for(device_type)
    so, stamp, _ = _paths(target)
    recorded = _read_json(stamp)
    if recorded is None or not so.is_file():
        return None
    if recorded.get("fingerprint") != fingerprint(target):
        return None
    if target.cuda and not _arch_fits(recorded.get("arch_list")):
        return None
    try:
        return _import(so, target.name)
    except (ImportError, OSError):
        return None  # a stale or foreign .so: rebuild


def _arch_fits(arch_list):
    """Whether a CUDA build for ``arch_list`` serves here: it runs on the current GPU, or,
    with no GPU visible, it is for the architectures a build now would target."""
    if torch.cuda.is_available():
        return covers_current_gpu(arch_list)
    return arch_list == _toolchain.arch_list()


def recorded_failure(device_type):
    """The error of the last build of these sources here if it failed, else None."""
    target = _toolchain.target_for(device_type)
    record = _read_json(_paths(target)[2])
    if record and record.get("fingerprint") == fingerprint(target):
        return f"{target.name} failed to build here: {record.get('error', '').splitlines()[0]}"
    return None


def _run(cmd, what):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-TAIL_LINES:])
        raise BuildError(f"{Path(cmd[0]).name} exited {proc.returncode} on {what}:\n{tail}")


def _compile_and_link(target, arch, work):
    cxx, nvcc, libs = _toolchain.commands(target, arch)
    jobs = []
    for src in target.sources:
        obj = work / (src.replace(".", "_") + ".o")
        base = nvcc if src.endswith(".cu") else cxx
        jobs.append(([*base, "-c", str(CSRC_DIR / src), "-o", str(obj)], src, obj))
    workers = int(os.environ.get("MAX_JOBS") or 0) or min(len(jobs), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(_run, cmd, src) for cmd, src, _ in jobs]:
            future.result()
    so = work / f"{target.name}.so"
    _run([_toolchain.cxx(), "-shared", *(str(o) for _, _, o in jobs), *libs, "-fopenmp", "-o", str(so)],
         "the link")
    return so


def _group():
    """What ranks of one torchrun launch share: its agent (their parent process)."""
    return f"{socket.gethostname()}:{os.getppid()}"


def build(device_type, verbose=False):
    """Compile the target for ``device_type`` ('cpu' or 'cuda') now and return the module.

    Raises BuildError with the compiler's last lines. Prints a start and an end line.
    """
    target = _toolchain.target_for(device_type)
    arch = _toolchain.arch_list() if target.cuda else None
    fp = fingerprint(target)
    so_final, stamp, failed = _paths(target)
    work = build_dir() / f"{target.name}.{socket.gethostname()}-{os.getpid()}.tmp"
    where = f" for {arch}" if arch else ""
    say(f"building {target.name}{where} from {CSRC_DIR} (once; takes "
        f"{'minutes' if target.cuda else 'about a minute'}) ...")
    t0 = time.monotonic()
    try:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        so = _compile_and_link(target, arch, work)
        os.replace(so, so_final)
        save_json({"fingerprint": fp, "arch_list": arch, "target": target.name,
                   "torch": torch.__version__, "seconds": round(time.monotonic() - t0, 1)}, stamp)
        failed.unlink(missing_ok=True)
        module = _import(so_final, target.name)
    except (BuildError, OSError, ImportError) as e:
        msg = str(e) if isinstance(e, BuildError) else f"{type(e).__name__}: {e}"
        say(f"building {target.name} FAILED after {time.monotonic() - t0:.0f} s: {msg}")
        with contextlib.suppress(OSError):  # e.g. a read-only build folder: nothing to record in
            save_json({"fingerprint": fp, "group": _group(), "error": msg}, failed)
        raise BuildError(f"{target.name}: {msg}") from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"built {target.name} in {time.monotonic() - t0:.0f} s -> {so_final}")
    if verbose:
        say(f"stamp {stamp}: {stamp.read_text()}")
    return module


def _wait_for_rank0(device_type, rank, timeout):
    """Non-zero local ranks: load what rank 0 builds; its failure is ours (same backend)."""
    target = _toolchain.target_for(device_type)
    _, _, failed = _paths(target)
    fp = fingerprint(target)
    say(f"local rank {rank}: waiting for local rank 0 to build {target.name}")
    deadline = time.monotonic() + timeout
    while True:
        module = load_prebuilt(device_type)
        if module is not None:
            return module
        record = _read_json(failed)
        if record and record.get("fingerprint") == fp and record.get("group") == _group():
            raise BuildError(f"{target.name}: local rank 0's build failed: {record.get('error')}")
        if time.monotonic() > deadline:
            raise BuildError(f"{target.name}: local rank {rank} timed out after {timeout:.0f} s "
                             "waiting for local rank 0 to build it")
        time.sleep(1.0)


@contextlib.contextmanager
def _build_lock(target):
    """Held while building or checking for a build: concurrent processes build once."""
    build_dir().mkdir(parents=True, exist_ok=True)
    with open(build_dir() / f"{target.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another process building {target.name} ({lock.name})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def load_or_build(device_type, timeout=WAIT_TIMEOUT_S):
    """The target's module: prebuilt, else built here (or by local rank 0 under torchrun)."""
    module = load_prebuilt(device_type)
    if module is not None:
        return module
    rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if rank > 0:
        return _wait_for_rank0(device_type, rank, timeout)
    with _build_lock(_toolchain.target_for(device_type)):
        module = load_prebuilt(device_type)  # built by whoever held the lock
        return module if module is not None else build(device_type)


def build_extension(verbose=False, *, device="cuda", force=False):
    """Compile (or reuse) the ``device`` target ('cpu' or 'cuda') and return its module.

    The CUDA target builds without a visible GPU (nvcc is enough); its architectures then
    come from ``TORCH_CUDA_ARCH_LIST``, defaulting to ``"8.0;9.0+PTX"``. Raises BuildError.
    """
    if force:
        with _build_lock(_toolchain.target_for(device)):
            return build(device, verbose=verbose)
    module = load_or_build(device)
    if verbose:
        say(f"{module.__name__}: {module.__file__}")
    return module
