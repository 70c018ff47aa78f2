/**
 * CI checks of the CUDA backend on machines without a GPU: the CUDA sources compile (skipped
 * only when nvcc is absent), the library loads without a driver or GPU, and asking for a cuda
 * device then fails with a message that says why.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { getBackend, normalizeDevice } from '../../index.js';
import { cudaLibraryPath, cudaStatus, loadCudaAddon } from './addon.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const nvcc = [process.env.NVCC, process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'bin/nvcc'), ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'nvcc')), '/usr/local/cuda/bin/nvcc']
  .find((p) => p && fs.existsSync(p));
if (!nvcc) console.warn('cuda-library.test: nvcc not found, the CUDA compile check is skipped (install the CUDA toolkit or set CUDA_HOME to run it)');

describe('the CUDA library', () => {
  // The install step builds it; this rebuilds only when the sources changed (hash stamp).
  it.skipIf(!nvcc)('compiles for sm_80, sm_89 and sm_90 with nvcc (static CUDA runtime, one nvcc call, cached by source hash)', () => {
    const result = spawnSync(process.execPath, [path.join(packageRoot, 'scripts/build-cuda.mjs')], { encoding: 'utf8' });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(fs.existsSync(cudaLibraryPath())).toBe(true);
    // It must not need the CUDA runtime or cuBLAS as shared libraries (dlopen'ed at run time).
    const ldd = spawnSync('ldd', [cudaLibraryPath()], { encoding: 'utf8' });
    if (ldd.status === 0) expect(ldd.stdout).not.toMatch(/libcudart|libcublas|libcuda\.so/);
  }, 20 * 60_000);

  it.skipIf(!fs.existsSync(cudaLibraryPath()))('loads without a GPU and exposes every kernel of the Backend contract', () => {
    const lib = loadCudaAddon();
    const probe = lib.probe();
    expect(probe.count).toBeGreaterThanOrEqual(0);
    expect(probe.runtimeVersion).toBeGreaterThanOrEqual(12000);
    expect(lib.kernelNames()).toEqual(expect.arrayContaining([
      'fill', 'copy', 'random', 'unary', 'unaryGrad', 'binary', 'compare', 'scalar', 'where', 'reduce', 'argmax',
      'indexSelect', 'indexAdd', 'gather', 'scatterAdd', 'matmul', 'softmax', 'softmaxGrad', 'logSoftmax', 'logSoftmaxGrad',
      'rmsNorm', 'rmsNormGrad', 'layerNorm', 'layerNormGrad', 'rope', 'attention', 'attentionGrad', 'crossEntropy',
      'crossEntropyGrad', 'adamw', 'nf4Dequantize', 'nf4Matmul',
    ]));
    if (probe.count === 0) {
      expect(probe.error).not.toBe('');
      // A kernel call names the missing device instead of crashing.
      expect(() => (lib.fill as (a: Float64Array, n: number) => void)(new Float64Array([0, 1, 0, 0, 0, 1, 1, 0]), 8)).toThrow(/cuda:0: no such device \(0 found\)/);
    }
  });

  it.skipIf(!fs.existsSync(cudaLibraryPath()) || cudaStatus().available)('asking for cuda without a GPU fails with the reason', () => {
    expect(() => getBackend('cuda')).toThrow(/device "cuda:0" is not available: no CUDA device: the CUDA library loaded but found no GPU \(cuda/);
    expect(() => getBackend('cuda:1')).toThrow(/device "cuda:1" is not available/);
  });

  it('without the library, asking for cuda says how to build it', async () => {
    vi.resetModules();
    const previous = process.env.LMFLOW_CUDA_ADDON;
    process.env.LMFLOW_CUDA_ADDON = path.join(packageRoot, 'native-cuda/build/missing.node');
    try {
      const fresh = await import('./addon.js');
      expect(fresh.cudaStatus()).toMatchObject({ available: false, devices: 0 });
      expect(() => fresh.loadCudaAddon()).toThrow(/the CUDA backend is not built: .*missing\.node does not exist.*npm run build:cuda -w @lmflow\/tensor/);
    } finally {
      if (previous === undefined) delete process.env.LMFLOW_CUDA_ADDON;
      else process.env.LMFLOW_CUDA_ADDON = previous;
      vi.resetModules();
    }
  });

  it('cuda device strings: cuda means cuda:0; indices are checked', () => {
    expect(normalizeDevice('cuda')).toBe('cuda:0');
    expect(normalizeDevice('cuda:3')).toBe('cuda:3');
    expect(() => normalizeDevice('cuda:x')).toThrow(/unknown device "cuda:x": the index must be a non-negative integer/);
    expect(() => normalizeDevice('gpu')).toThrow(/expected one of reference, cpu, cuda, cuda:N/);
  });
});
