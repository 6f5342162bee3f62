"""The compilers, flags and CUDA architectures of the two targets (no building here).

``flownet2_ops_cpu`` is ``flownet2_ops.cpp`` + ``cpu_kernels.cpp`` compiled by the C++
compiler (``$CXX``, else ``c++``); ``flownet2_ops_cuda`` adds the ``*.cu`` files compiled
by nvcc (``$CUDA_HOME``, else /usr/local/cuda, else the nvcc on PATH) for the
architectures of ``$TORCH_CUDA_ARCH_LIST``, else of the visible GPUs, else 8.0 and 9.0+PTX.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
import sysconfig
from pathlib import Path

import torch

__all__ = ["BuildError", "CSRC_DIR", "TARGETS", "Target", "arch_list", "commands", "covers_current_gpu",
           "cuda_home", "cxx", "gencode_flags", "identity", "target_for"]

CSRC_DIR = Path(__file__).resolve().parent / "csrc"
DEFAULT_ARCH_LIST = "8.0;9.0+PTX"  # used only when no GPU is visible to take the arch from
# No --use_fast_math: it would make the kernels less exact than the pure path they are
# checked against, for ops that are a few percent of FlowNet2's time.
CXX_FLAGS = ("-O3", "-fopenmp")
NVCC_FLAGS = ("-O3", "-D__CUDA_NO_HALF_OPERATORS__", "-D__CUDA_NO_HALF_CONVERSIONS__",
              "-D__CUDA_NO_BFLOAT16_CONVERSIONS__", "-D__CUDA_NO_HALF2_OPERATORS__",
              "--expt-relaxed-constexpr")


class BuildError(RuntimeError):
    """A target could not be compiled, linked or loaded here (the message says why)."""


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    sources: tuple
    cuda: bool


_CPU_SOURCES = ("flownet2_ops.cpp", "cpu_kernels.cpp")
TARGETS = {
    "cpu": Target("flownet2_ops_cpu", _CPU_SOURCES, cuda=False),
    "cuda": Target("flownet2_ops_cuda", _CPU_SOURCES + ("correlation_cuda.cu", "resample2d_cuda.cu",
                                                        "channelnorm_cuda.cu"), cuda=True),
}


def target_for(device_type):
    if device_type not in TARGETS:
        raise ValueError(f"flownet2.ops: no compiled target for device type {device_type!r} "
                         f"(have {sorted(TARGETS)})")
    return TARGETS[device_type]


def cxx():
    return os.environ.get("CXX") or "c++"


def cuda_home():
    """The CUDA toolkit folder (holding bin/nvcc), or None."""
    for candidate in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if candidate and (Path(candidate) / "bin" / "nvcc").is_file():
            return Path(candidate)
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    # nvcc may be a wrapper script outside the toolkit: ask it where its headers are.
    real = Path(os.path.realpath(nvcc)).parent.parent
    return real if (real / "include" / "cuda_runtime.h").is_file() else None


def arch_list():
    """TORCH_CUDA_ARCH_LIST, else the visible GPUs' capabilities (+PTX), else the default."""
    env = os.environ.get("TORCH_CUDA_ARCH_LIST", "").strip()
    if env:
        return env
    if torch.cuda.is_available():
        caps = sorted({"{}.{}".format(*torch.cuda.get_device_capability(i))
                       for i in range(torch.cuda.device_count())})
        return ";".join(caps[:-1] + [caps[-1] + "+PTX"])
    return DEFAULT_ARCH_LIST


# One TORCH_CUDA_ARCH_LIST entry: major, minor, an optional a/f suffix, an optional +PTX.
_ARCH_ENTRY = re.compile(r"(\d+)\.(\d+)([af]?)(\+PTX)?")


def _arch_entries(arch_list):
    """(entry, match or None) of each entry of an arch list ("8.0;9.0+PTX" or "8.0 9.0")."""
    return [(e, _ARCH_ENTRY.fullmatch(e)) for e in arch_list.replace(" ", ";").split(";") if e]


def gencode_flags(arch_list):
    flags = []
    for entry, m in _arch_entries(arch_list):
        if m is None:
            raise BuildError(f"TORCH_CUDA_ARCH_LIST entry {entry!r} is not like '9.0' or '9.0+PTX'")
        arch = f"{m[1]}{m[2]}{m[3]}"
        flags.append(f"-gencode=arch=compute_{arch},code=sm_{arch}")
        if m[4]:
            flags.append(f"-gencode=arch=compute_{arch},code=compute_{arch}")
    return flags


def covers_current_gpu(arch_list):
    """Whether a build for ``arch_list`` (e.g. "8.0;9.0+PTX") runs on the current GPU."""
    if not arch_list or not torch.cuda.is_available():
        return False
    major, minor = torch.cuda.get_device_capability()
    for _, m in _arch_entries(arch_list):
        if m is None:
            continue
        a_major, a_minor = int(m[1]), int(m[2])
        # A cubin runs on later minors of its major; PTX is JIT-compiled for any later GPU.
        if (a_major, a_minor) <= (major, minor) and (m[4] or a_major == major):
            return True
    return False


def _pip_cuda_include_dirs(home):
    """Header folders of pip's nvidia-* wheels when the toolkit lacks library headers.

    torch's CUDA headers include cusparse.h/cublas.h; a minimal toolkit (nvcc + cudart
    only) does not ship them, but the wheels torch itself depends on do.
    """
    if home and (home / "include" / "cusparse.h").is_file():
        return []
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    found = set()
    for root in spec.submodule_search_locations:
        found |= {str(h.parent) for h in Path(root).glob("*/include/cusparse.h")}
    return sorted(found)


def identity(target):
    """The toolchain this target's build here uses, for the fingerprint of the build."""
    return [cxx(), str(cuda_home())] if target.cuda else [cxx()]


def commands(target, arch):
    """(C++ compile command, nvcc compile command or None, link libraries) of ``target``.

    The compile commands lack only "-c SOURCE -o OBJECT"; ``arch``: the CUDA arch list.
    """
    torch_dir = Path(torch.__file__).resolve().parent
    includes = ["-I", str(CSRC_DIR),
                "-isystem", str(torch_dir / "include"),
                "-isystem", str(torch_dir / "include" / "torch" / "csrc" / "api" / "include"),
                "-isystem", sysconfig.get_path("include")]
    defines = [f"-DTORCH_EXTENSION_NAME={target.name}", "-DTORCH_API_INCLUDE_EXTENSION_H"]
    libs = [f"-L{torch_dir / 'lib'}", "-lc10", "-ltorch_cpu", "-ltorch", "-ltorch_python"]
    nvcc = None
    if target.cuda:
        home = cuda_home()
        if home is None:
            raise BuildError("CUDA toolkit not found (set CUDA_HOME or put nvcc on PATH)")
        defines.append("-DFLOWNET2_WITH_CUDA")
        includes += ["-isystem", str(home / "include")]
        for extra in _pip_cuda_include_dirs(home):
            includes += ["-isystem", extra]
        lib_dir = home / "lib64" if (home / "lib64").is_dir() else home / "lib"
        libs += ["-lc10_cuda", "-ltorch_cuda", f"-L{lib_dir}", "-lcudart"]
        nvcc = [str(home / "bin" / "nvcc"), *defines, *includes, *NVCC_FLAGS,
                *gencode_flags(arch), "-Xcompiler", "-fPIC", "-std=c++20"]
        if os.environ.get("CXX"):
            nvcc += ["-ccbin", os.environ["CXX"]]
    cxx_cmd = [cxx(), *defines, *includes, "-fPIC", "-std=c++20", *CXX_FLAGS]
    return cxx_cmd, nvcc, libs
