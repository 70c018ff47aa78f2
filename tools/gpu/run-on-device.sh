#!/usr/bin/env bash
# Runs the GPU checks of the CUDA backend on the accelerator machine (the `device` tool's
# `run`). That machine gets only the repository (not ../shared, not the 600 MB node_modules)
# and may have no npm, so the calling session first packs what the checks need into .device/
# (git-ignored) and this script calls node directly:
#
#   ../shared/tools/device-prep.sh                  # Node.js and the cuBLAS finder
#   bash tools/gpu/pack-for-device.sh               # slim node_modules + the shared files used
#   bash tools/gpu/pack-cuda.sh                     # the CUDA library (sm_90a), compressed
#   device run  carry: [".device", "packages/tensor/build/Release/lmflow_cpu.node"]
#               command: "bash tools/gpu/run-on-device.sh"
#
# GPU_STAGES picks what runs (default "test bench"; also "attention" and "matmul": kernel times
# beside PyTorch, "ncu": Nsight Compute on the attention kernels (NCU_KERNELS, NCU_SECTIONS,
# NCU_METRICS choose what), and "profile": the LoRA run's GPU time by op, after a bench stage
# saved its model). Each stage has its own time limit, so one hang does not cost the others.
# Logs go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
run() { bash .device/run.sh "$@"; }
if [ -f .device/nm.txz ] && [ ! -d node_modules/vitest ]; then
  tar -xJf .device/nm.txz
fi
[ -e ../shared ] || ln -s "$PWD/.device/shared" ../shared
# The library can come compressed (.device/cuda.node.xz: the run's files are capped at 64 MiB).
if [ -f .device/cuda.node.xz ] && [ ! -f packages/tensor/native-cuda/build/lmflow_cuda.node ]; then
  mkdir -p packages/tensor/native-cuda/build && xz -dc .device/cuda.node.xz > packages/tensor/native-cuda/build/lmflow_cuda.node
fi
[ -f packages/tensor/native-cuda/build/lmflow_cuda.node ] || LMFLOW_CUDA_ARCHS=90 run node packages/tensor/scripts/build-cuda.mjs 2>&1 | tee "$out/build.log"
export PYTHONUNBUFFERED=1
ts="node --import tsx --conditions=lmflow-source"
for stage in ${GPU_STAGES:-test bench}; do
  case $stage in
    test) timeout "${GPU_TEST_TIMEOUT:-240}" bash .device/run.sh node node_modules/vitest/vitest.mjs run gpu.test 2>&1 | tee "$out/test-gpu.log" ;;
    bench) timeout "${GPU_BENCH_TIMEOUT:-300}" bash .device/run.sh $ts tools/bench/gpu.ts 2>&1 | tee "$out/bench-gpu.log" ;;
    attention) timeout 120 bash .device/run.sh $ts tools/gpu/profile-attention.ts 2>&1 | tee "$out/attention.log" ;;
    ncu)
      ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
      sections=${NCU_SECTIONS:-SpeedOfLight Occupancy WarpStateStats ComputeWorkloadAnalysis}
      # Kernel names: forward_wgmma, backward_wgmma (Hopper's defaults at head dim 128), and
      # forward_mma, dq_mma, dkv_mma (elsewhere, or with LMFLOW_CUDA_ATTENTION=mma).
      for kernel in ${NCU_KERNELS:-forward_wgmma backward_wgmma}; do
        ATTENTION_ITERATIONS=2 NO_TORCH=1 timeout 120 bash .device/run.sh "$ncu" -k "regex:attention_${kernel}" --launch-count 1 \
          $(printf -- '--section %s ' $sections) ${NCU_METRICS:+--metrics "$NCU_METRICS"} \
          $ts tools/gpu/profile-attention.ts 2>&1 | tee "$out/ncu-$kernel.log"
        # NCU_SOURCE=1: every SASS instruction with its execution count and stall samples (CSV),
        # which tools/gpu/sass-hotspots.py sums by opcode and code region.
        if [ -n "${NCU_SOURCE:-}" ]; then
          ATTENTION_ITERATIONS=2 NO_TORCH=1 timeout 120 bash .device/run.sh "$ncu" -k "regex:attention_${kernel}" --launch-count 1 \
            --section SourceCounters --page source --print-source sass --csv $ts tools/gpu/profile-attention.ts > "$out/ncu-src-$kernel.csv" 2>&1
        fi
      done ;;
    matmul)
      timeout 90 bash .device/run.sh $ts tools/gpu/profile-matmul.ts 2>&1 | tee "$out/matmul.log" ;;
    profile) BENCH_GPU_ONLY=lora LMFLOW_CUDA_PROFILE=1 timeout 180 bash .device/run.sh $ts tools/bench/gpu.ts 2>&1 | tee "$out/profile.log" ;;
  esac
done
