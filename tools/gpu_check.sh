#!/usr/bin/env bash
# FlowNet2's compiled ops on a machine with one NVIDIA GPU, in one command (under 8 minutes):
# build, selftest --require-cuda, pytest -m cuda (skips fail), the reference fixtures through
# the CUDA kernels, and short benchmarks; one JSON report (default gpu_check.json).
#
#   bash tools/gpu_check.sh                      # needs the GPU's driver, nvcc and g++
#   bash tools/gpu_check.sh --json /tmp/gpu.json --budget 400
#
# Exit code 0 when every step passed, 1 when one failed, 2 when no GPU is visible.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m tools.gpu_check "$@"
