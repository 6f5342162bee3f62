#!/usr/bin/env bash
# Pre-build the CUDA fast path of flownet2.ops (correlation, resample2d, channelnorm).
#
#   bash flownet2/install.sh                       # for the visible GPU, else "8.0;9.0+PTX"
#   TORCH_CUDA_ARCH_LIST="9.0" bash flownet2/install.sh
#
# Needs nvcc (a CUDA toolkit matching torch's CUDA major version; set CUDA_HOME if nvcc is
# not the one on PATH) and a C++ compiler; no GPU is needed to build. Output goes to
# flownet2/ops/_build/ (git-ignored). Without this step the extension is built on first use
# with a CUDA tensor; without nvcc the pure-PyTorch ops are used. The project works either way.
set -euo pipefail
cd "$(dirname "$0")/.."
export MAX_JOBS="${MAX_JOBS:-4}"
python - <<'PY'
import json
from flownet2.ops import build_extension
from flownet2.ops._backend import _stamp_path

module = build_extension(verbose=True)
arch = json.loads(_stamp_path().read_text())["arch_list"] or "the visible GPU"
print(f"built {module.__file__} for {arch}")
PY
