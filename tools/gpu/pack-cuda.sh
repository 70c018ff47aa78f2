#!/usr/bin/env bash
# Builds the CUDA library for the accelerator machine (sm_90a only: the lent GPUs are H100/H200)
# and packs it compressed into .device/cuda.node.xz, which tools/gpu/run-on-device.sh unpacks
# there: .device plus the uncompressed library passes the device tool's 64 MiB. One script, so
# that the packed library is always the one just built. Run from the repository root after
# tools/gpu/pack-for-device.sh.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
LMFLOW_CUDA_ARCHS=90 npm run build:cuda -w @lmflow/tensor
mkdir -p .device
xz -T2 -6 -c packages/tensor/native-cuda/build/lmflow_cuda.node > .device/cuda.node.xz.tmp
mv .device/cuda.node.xz.tmp .device/cuda.node.xz
du -sh .device/cuda.node.xz
