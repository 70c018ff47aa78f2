/**
 * The native CPU backend: kernels in C++ (native/), SIMD with runtime dispatch, a thread pool,
 * zero-copy access to the typed arrays that hold host tensors.
 */
import type { Backend } from '../../backend.js';
import { hostMemoryOps } from '../host-storage.js';
import { loadNativeAddon } from './native.js';
import { cpuLayout } from './layout.js';
import { cpuElementwise } from './elementwise.js';
import { cpuMatmul } from './matmul.js';
import { cpuIndex } from './index-ops.js';
import { cpuNn } from './nn.js';
import { cpuOptim } from './optim.js';
import { cpuQuant } from './quant.js';

export function createCpuBackend(): Backend {
  loadNativeAddon(); // fail here, with the build instructions, rather than at the first op
  const backend: Backend = {
    name: 'cpu',
    device: 'cpu',
    ...hostMemoryOps(() => backend, (src, out) => cpuLayout.copy(src, out)),
    ...cpuLayout,
    ...cpuElementwise,
    ...cpuMatmul,
    ...cpuIndex,
    ...cpuNn,
    ...cpuOptim,
    ...cpuQuant,
  };
  return backend;
}

/** Threads of the native pool (LMFLOW_NUM_THREADS, else all cores). */
export function cpuNumThreads(): number {
  return loadNativeAddon().numThreads();
}

export function setCpuNumThreads(n: number): void {
  loadNativeAddon().setNumThreads(n);
}

/** The SIMD kernels in use: 'avx512', 'avx2' or 'scalar' (LMFLOW_CPU_KERNEL forces one). */
export function cpuSimdLevel(): string {
  return loadNativeAddon().simdLevel();
}

export function setCpuSimdLevel(level: 'avx512' | 'avx2' | 'scalar'): string {
  return loadNativeAddon().setSimdLevel(level);
}
