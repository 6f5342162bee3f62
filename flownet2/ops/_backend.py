"""Choosing between the pure-PyTorch ops and the compiled CUDA extension.

The extension (sources in ``csrc/``) is built with ``torch.utils.cpp_extension`` either
ahead of time by ``flownet2/install.sh`` or just in time, the first time an op sees a CUDA
tensor on a machine with nvcc. Nothing is compiled at import, nothing is attempted on a
machine without a visible GPU, and a failed build only costs a warning: the pure path is
always there.

Backend names: ``'auto'`` (CUDA extension for CUDA tensors when it loads, else pure),
``'pure'`` and ``'cuda'`` (the extension or a clear error). The default comes from the
environment variable ``FLOWNET2_OPS_BACKEND`` (read at call time), else ``'auto'``.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import subprocess
import threading
import warnings
from pathlib import Path

import torch

__all__ = ["BACKENDS", "ENV_VAR", "build_extension", "cuda_ops_available", "resolve_backend"]

BACKENDS = ("auto", "pure", "cuda")
ENV_VAR = "FLOWNET2_OPS_BACKEND"
EXT_NAME = "flownet2_ops_cuda"
CSRC_DIR = Path(__file__).resolve().parent / "csrc"
BUILD_DIR = Path(__file__).resolve().parent / "_build"
DEFAULT_ARCH_LIST = "8.0;9.0+PTX"  # used only when no GPU is visible to infer the arch from
_SOURCES = ("flownet2_ops.cpp", "correlation_cuda.cu", "resample2d_cuda.cu", "channelnorm_cuda.cu")
_HEADERS = ("common.cuh",)
_CFLAGS = ["-O3"]
_CUDA_CFLAGS = ["-O3", "--use_fast_math"]

# Errors a build or load can raise: ninja/compiler failure (RuntimeError,
# CalledProcessError), missing CUDA_HOME/nvcc (OSError), unloadable .so (ImportError).
_BUILD_ERRORS = (RuntimeError, OSError, ImportError, subprocess.CalledProcessError)

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_state = {"module": None, "tried": False, "error": None}


def _sources():
    return [str(CSRC_DIR / s) for s in _SOURCES]


def _fingerprint():
    """Hash of the sources, flags and toolchain a built .so must match to be reused."""
    h = hashlib.sha256()
    for name in _SOURCES + _HEADERS:
        h.update((CSRC_DIR / name).read_bytes())
    h.update(json.dumps([_CFLAGS, _CUDA_CFLAGS, torch.__version__, torch.version.cuda]).encode())
    return h.hexdigest()


def _stamp_path():
    return BUILD_DIR / f"{EXT_NAME}.stamp.json"


def _covers(arch_list):
    """Whether a build for ``arch_list`` (e.g. "8.0;9.0+PTX") runs on the current GPU."""
    if not arch_list:
        return False
    major, minor = torch.cuda.get_device_capability()
    for entry in arch_list.replace(" ", ";").split(";"):
        if not entry:
            continue
        ptx = entry.endswith("+PTX")
        try:
            a_major, a_minor = (int(v) for v in entry.removesuffix("+PTX").split(".")[:2])
        except ValueError:
            continue  # named archs ('Hopper') are not worth guessing: rebuild
        # A cubin runs on later minors of its major; PTX is JIT-compiled for any later GPU.
        if (a_major, a_minor) <= (major, minor) and (ptx or a_major == major):
            return True
    return False


def _import_prebuilt():
    """The extension built earlier for these exact sources and this torch, or None."""
    stamp = _stamp_path()
    so_files = sorted(BUILD_DIR.glob(f"{EXT_NAME}*.so"))
    if not stamp.is_file() or not so_files:
        return None
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if recorded.get("fingerprint") != _fingerprint() or not _covers(recorded.get("arch_list")):
        return None
    loader = importlib.machinery.ExtensionFileLoader(EXT_NAME, str(so_files[0]))
    spec = importlib.util.spec_from_file_location(EXT_NAME, str(so_files[0]), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _pip_cuda_include_dirs(cuda_home):
    """Header folders of pip's nvidia-* wheels when the toolkit lacks library headers.

    torch's CUDA headers include cusparse.h/cublas.h; a minimal toolkit (nvcc + cudart
    only) does not ship them, but the wheels torch itself depends on do.
    """
    if cuda_home and (Path(cuda_home) / "include" / "cusparse.h").is_file():
        return []
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    found = []
    for root in spec.submodule_search_locations:
        found += sorted({str(h.parent) for h in Path(root).glob("*/include/cusparse.h")})
    return found


def build_extension(verbose=False):
    """Compile (or reuse) the CUDA extension into ``flownet2/ops/_build`` and return it.

    Works without a visible GPU (nvcc is enough); the target architectures then come from
    ``TORCH_CUDA_ARCH_LIST``, defaulting to ``"8.0;9.0+PTX"``. Raises the build's own error.
    """
    from torch.utils import cpp_extension

    if cpp_extension.CUDA_HOME is None:
        raise OSError("CUDA toolkit not found (set CUDA_HOME or put nvcc on PATH)")
    set_arch = not torch.cuda.is_available() and not os.environ.get("TORCH_CUDA_ARCH_LIST")
    if set_arch:  # nothing to infer the arch from; torch reads the variable while building
        os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_ARCH_LIST
    arch_list = os.environ.get("TORCH_CUDA_ARCH_LIST")
    if not arch_list and torch.cuda.is_available():
        arch_list = "{}.{}".format(*torch.cuda.get_device_capability())  # what torch targets
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    try:
        module = cpp_extension.load(
            name=EXT_NAME,
            sources=_sources(),
            extra_cflags=_CFLAGS,
            extra_cuda_cflags=_CUDA_CFLAGS,
            extra_include_paths=_pip_cuda_include_dirs(cpp_extension.CUDA_HOME),
            build_directory=str(BUILD_DIR),
            with_cuda=True,
            verbose=verbose,
        )
    finally:
        if set_arch:
            del os.environ["TORCH_CUDA_ARCH_LIST"]
    tmp = _stamp_path().with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": _fingerprint(), "arch_list": arch_list}))
    os.replace(tmp, _stamp_path())
    return module


def _load_extension():
    """The extension module, or None (after one warning) when it cannot be had here."""
    with _lock:
        if _state["tried"]:
            return _state["module"]
        _state["tried"] = True
        if not torch.cuda.is_available():
            _state["error"] = "no CUDA device is visible"
            return None
        try:
            try:
                module = _import_prebuilt()
            except (ImportError, OSError):
                module = None  # a stale or foreign .so: rebuild it below
            if module is None:
                _log.info("flownet2.ops: compiling the CUDA extension (first use; takes minutes)")
                module = build_extension()
        except _BUILD_ERRORS as e:
            _state["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
            warnings.warn(
                f"flownet2.ops: CUDA extension unavailable ({_state['error']}); "
                "using the pure-PyTorch ops", RuntimeWarning, stacklevel=3)
            return None
        _state["module"] = module
        return module


def cuda_ops_available():
    """True when the compiled CUDA ops are loaded or can be built and loaded now.

    On a machine without a visible GPU this returns False without compiling anything.
    """
    return _load_extension() is not None


def resolve_backend(backend, *tensors):
    """The extension module to use for ``tensors``, or None for the pure path.

    ``backend`` is 'auto', 'pure', 'cuda' or None (then ``$FLOWNET2_OPS_BACKEND`` or 'auto').
    """
    if backend is None:
        backend = os.environ.get(ENV_VAR, "auto") or "auto"
    if backend not in BACKENDS:
        raise ValueError(f"flownet2.ops backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "pure":
        return None
    on_cuda = all(t.is_cuda for t in tensors)
    if backend == "auto":
        return _load_extension() if on_cuda else None
    if not on_cuda:
        raise ValueError("flownet2.ops backend='cuda' needs CUDA tensors, got "
                         + ", ".join(str(t.device) for t in tensors))
    module = _load_extension()
    if module is None:
        raise RuntimeError(f"flownet2.ops backend='cuda' requested but the CUDA extension is "
                           f"unavailable ({_state['error']}); build it with flownet2/install.sh")
    return module


def compute_dtype(dtype):
    """Half-precision inputs are computed in float32 (the ops sum hundreds of products)."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
