"""The machine a figure was measured on: CPU model and the instruction sets that decide bf16 speed.

Both benchmarks (``benchmark.py`` and ``python -m flownet2.benchmark``) report it.

Why the flags matter: bf16 autocast (``--amp``) on a CPU is fast only with native bf16
arithmetic (x86 ``avx512_bf16`` or AMX ``amx_bf16``, Arm ``bf16``); without it, oneDNN emulates
bf16 through fp32 and the same command was measured 6x *slower* than fp32 on an AVX2 machine but
2.1x *faster* on an AVX-512-BF16 one. A figure without these flags cannot be compared.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch

__all__ = ["REPORTED_FLAGS", "BF16_FLAGS", "AMX_FLAGS", "parse_cpuinfo", "cpu_features", "read_cpuinfo",
           "machine_info"]

# Instruction sets worth printing beside a CPU figure (x86, then Arm's name for native bf16).
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_fp16", "bf16")
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # native bf16 dot products
AMX_FLAGS = ("amx_tile",)


def parse_cpuinfo(text: str) -> Tuple[Optional[str], Optional[frozenset]]:
    """``/proc/cpuinfo`` text -> (model name, flags) of its first processor; None for what is absent.

    x86 lists its instruction sets under ``flags``, Arm under ``Features``; a model name is under
    ``model name`` (x86) or ``Model``/``Hardware`` (Arm).
    """
    model = flags = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key in ("model name", "Model", "Hardware") and model is None:
            model = value.strip() or None
        elif key in ("flags", "Features") and flags is None:
            flags = frozenset(value.split())
    return model, flags


def cpu_features(flags: Optional[frozenset]) -> Dict[str, object]:
    """The reported flags present, whether bf16 is native and AMX present; None where unknown."""
    if flags is None:
        return {"cpu_flags": None, "native_bf16": None, "amx": None}
    return {
        "cpu_flags": [f for f in REPORTED_FLAGS if f in flags],
        "native_bf16": any(f in flags for f in BF16_FLAGS),
        "amx": any(f in flags for f in AMX_FLAGS),
    }


def read_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> Optional[str]:
    """The text of ``path``, or None where there is none (not Linux, a sandbox hiding it)."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def machine_info(device: torch.device, cpuinfo: Optional[str] = None) -> Dict[str, object]:
    """CPU model and features, logical CPUs, threads, versions, load, and the GPU when one is used.

    ``cpuinfo``: the text of ``/proc/cpuinfo`` (read when None).
    """
    text = read_cpuinfo() if cpuinfo is None else cpuinfo
    model, flags = parse_cpuinfo(text) if text is not None else (None, None)
    info = {
        "cpu": model or platform.processor() or "unknown",
        **cpu_features(flags),
        # What ATen's own dispatch detected (e.g. AVX2, AVX512): the kernels PyTorch picks.
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info
