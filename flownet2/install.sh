#!/usr/bin/env bash
# Pre-build the compiled ops of flownet2.ops (correlation, resample2d, channelnorm).
#
#   bash flownet2/install.sh                       # CUDA target for the visible GPU, else "8.0;9.0+PTX"
#   TORCH_CUDA_ARCH_LIST="9.0" bash flownet2/install.sh
#   bash flownet2/install.sh cpu                   # only the CPU target (g++ alone; what CI builds)
#
# The CUDA target needs nvcc (a toolkit matching torch's CUDA major version; set CUDA_HOME
# if nvcc is not the one on PATH) and g++, not a GPU; the CPU target needs only g++. Output
# goes to flownet2/ops/_build/ (git-ignored). Without this step a target is built on first
# use (with a line on stderr when the build starts and ends); without a compiler the
# pure-PyTorch ops are used. Afterwards, `python -m flownet2.ops.selftest` checks every op.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
    set -- cuda cpu
fi
python -m flownet2.ops.build "$@"
