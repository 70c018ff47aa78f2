#!/usr/bin/env bash
# Runs the GPU checks of the CUDA backend on the accelerator machine (the `device` tool's
# `run`), from a session that prepared .device/ with ../shared/tools/device-prep.sh:
#
#   ../shared/tools/device-prep.sh        # here: Node.js and the cuBLAS finder for that machine
#   device run  carry: [".device", "node_modules", "packages/tensor/build", "packages/tensor/native-cuda/build"]
#               command: "bash tools/gpu/run-on-device.sh"
#
# The CUDA library (native-cuda/build) is built here, where nvcc and the Node.js headers are;
# that machine has nvcc too, so a stale or missing build is rebuilt there for sm_90 only.
# Logs go to $OUT (they come back to the calling session).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
run() { bash .device/run.sh "$@"; }
run node packages/tensor/scripts/build-cuda.mjs --check || LMFLOW_CUDA_ARCHS=90 run node packages/tensor/scripts/build-cuda.mjs 2>&1 | tee "$out/build.log"
run npm run test:gpu 2>&1 | tee "$out/test-gpu.log"
run npm run bench:gpu 2>&1 | tee "$out/bench-gpu.log"
