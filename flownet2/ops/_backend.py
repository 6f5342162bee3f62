"""Which implementation an op call uses: the pure-PyTorch ops or a compiled target.

Backend names (``backend=`` on a call or module, else ``$FLOWNET2_OPS_BACKEND`` read at
call time, else ``'auto'``):

- ``'pure'``: the pure-PyTorch ops (CPU and GPU, autograd).
- ``'compiled'``: the extension for the tensors' device (``flownet2_ops_cpu`` or
  ``flownet2_ops_cuda``), built on first use; a clear error if it cannot be had.
- ``'cuda'``: ``'compiled'`` that also requires CUDA tensors.
- ``'auto'``: the compiled ops where they pay (CUDA tensors, and on the CPU only the ops in
  ``AUTO_COMPILED_ON_CPU``, from the measurement in docs/flownet2.md), and only after
  they passed a self-check in this process on that device (a tiny forward and backward
  against the pure path; well under a second, once). A failed build or self-check warns
  once, naming the op and the error, and the op falls back to the pure path.
"""
from __future__ import annotations

import os
import threading
import warnings

import torch

from . import _build
from ._selfcheck import OPS, self_check

__all__ = ["AUTO_COMPILED_ON_CPU", "BACKENDS", "ENV_VAR", "compiled_ops_available",
           "cuda_ops_available", "describe_backends", "extension", "resolve_backend"]

BACKENDS = ("auto", "pure", "compiled", "cuda")
ENV_VAR = "FLOWNET2_OPS_BACKEND"
# Ops for which 'auto' takes the compiled CPU kernels, by measurement (docs/flownet2.md,
# "Which path 'auto' takes on the CPU"): channelnorm's kernel is 20-40x faster than
# torch.linalg.vector_norm over channels (~100 ms of a 1.7 s FlowNet2 forward at 448x448);
# resample2d is a tie forward and slower backward; the pure correlation (matmuls) is ~5x
# faster than the kernel.
AUTO_COMPILED_ON_CPU = frozenset({"channelnorm"})

_lock = threading.RLock()
_extensions = {}  # device type -> module or the BuildError that stopped it
_auto_extensions = {}  # device type -> module or None: what 'auto' found, once per process
_checked = {}  # (device, op) -> None (passed) or the self-check's error message


def _device_key(device):
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return str(device)


def extension(device_type):
    """The compiled target for ``device_type`` ('cpu' or 'cuda'); raises BuildError.

    Loaded (or built, once per machine) on first use and kept for the process; a failure
    is kept too, so a process tries once.
    """
    with _lock:
        if device_type not in _extensions:
            if device_type == "cuda" and not torch.cuda.is_available():
                _extensions[device_type] = _build.BuildError("no CUDA device is visible")
            else:
                try:
                    _extensions[device_type] = _build.load_or_build(device_type)
                except (_build.BuildError, OSError, ImportError) as e:
                    _extensions[device_type] = (e if isinstance(e, _build.BuildError)
                                                else _build.BuildError(f"{type(e).__name__}: {e}"))
        found = _extensions[device_type]
    if isinstance(found, _build.BuildError):
        raise found
    return found


def compiled_ops_available(device_type="cuda"):
    """True when the compiled target for ``device_type`` is loaded, or loads/builds now.

    For 'cuda' on a machine without a visible GPU this returns False without compiling.
    """
    try:
        extension(device_type)
    except _build.BuildError:
        return False
    return True


def cuda_ops_available():
    """True when the compiled CUDA ops are loaded or can be built and loaded now."""
    return compiled_ops_available("cuda")


def _requested(backend):
    source = "backend="
    if backend is None:
        backend, source = os.environ.get(ENV_VAR, "auto") or "auto", ENV_VAR
    if backend not in BACKENDS:
        raise ValueError(f"flownet2.ops backend must be one of {BACKENDS}, got {backend!r} "
                         f"(from {source})")
    return backend


def _auto_extension(device_type):
    """The extension 'auto' may use on ``device_type``, or None (after one warning)."""
    with _lock:
        if device_type not in _auto_extensions:
            try:
                failed = _build.recorded_failure(device_type)
                if failed:  # not retried in every process; python -m flownet2.ops.build retries
                    raise _build.BuildError(
                        f"{failed}; retry with python -m flownet2.ops.build {device_type}")
                _auto_extensions[device_type] = extension(device_type)
            except _build.BuildError as e:
                _auto_extensions[device_type] = None
                warnings.warn(f"flownet2.ops: compiled {device_type} ops unavailable ({e}); "
                              "using the pure-PyTorch ops", RuntimeWarning, stacklevel=5)
        return _auto_extensions[device_type]


def _auto(op, device):
    """The extension 'auto' uses for ``op`` on ``device``, or None (pure)."""
    if device.type not in ("cpu", "cuda") or (device.type == "cpu" and op not in AUTO_COMPILED_ON_CPU):
        return None
    ext = _auto_extension(device.type)
    if ext is None:
        return None
    key = (_device_key(device), op)
    with _lock:
        if key not in _checked:
            _checked[key] = self_check(op, device)
            if _checked[key] is not None:
                warnings.warn(f"flownet2.ops: the compiled {op} failed its self-check on {key[0]} "
                              f"({_checked[key]}); {op} uses the pure-PyTorch path in this process",
                              RuntimeWarning, stacklevel=4)
        return ext if _checked[key] is None else None


def resolve_backend(op, backend, *tensors):
    """The extension module for ``op`` on ``tensors``, or None for the pure path.

    ``op``: 'correlation' | 'resample2d' | 'channelnorm'; ``backend``: one of BACKENDS or
    None (then ``$FLOWNET2_OPS_BACKEND`` or 'auto').
    """
    backend = _requested(backend)
    if backend == "pure":
        return None
    device = tensors[0].device
    if backend == "auto":
        return _auto(op, device)
    if backend == "cuda" and device.type != "cuda":
        raise ValueError("flownet2.ops backend='cuda' needs CUDA tensors, got "
                         + ", ".join(str(t.device) for t in tensors))
    if device.type not in _build.TARGETS:
        raise ValueError(f"flownet2.ops backend={backend!r}: no compiled target for {device}")
    try:
        return extension(device.type)
    except _build.BuildError as e:
        raise RuntimeError(f"flownet2.ops backend={backend!r} requested but the compiled "
                           f"{device.type} ops are unavailable ({e})") from e


def describe_backends(device="cpu", backend=None, ops=OPS):
    """One line: the path each of ``ops`` takes on ``device`` under ``backend`` (default: env/auto).

    Resolves as a call would (so it may build the extension or run the self-check); never
    raises for an unavailable extension, it says so instead.
    """
    device = torch.device(device)
    requested = _requested(backend)
    probe = torch.zeros(1, device=device)
    parts = []
    for op in ops:
        try:
            ext = resolve_backend(op, requested, probe)
            parts.append(f"{op}={'pure' if ext is None else ext.__name__}")
        except (RuntimeError, ValueError) as e:
            parts.append(f"{op}=error ({str(e).splitlines()[0]})")
    return f"flownet2.ops on {device} (backend {requested}): " + ", ".join(parts)


def compute_dtype(dtype):
    """Half-precision inputs are computed in float32 (the ops sum hundreds of products)."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
