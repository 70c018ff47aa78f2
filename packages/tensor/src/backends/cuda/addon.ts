/**
 * Loads the CUDA library (native-cuda/build/lmflow_cuda.node, built by scripts/build-cuda.mjs
 * when nvcc is present) on first use, and says clearly why a `cuda` device is unavailable:
 * not built, failed to load, or loaded but no device (no driver, no GPU).
 *
 * LMFLOW_CUDA_ADDON=<path> loads another build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface CudaProbe {
  count: number;
  /** Why there is no device when count is 0 (the CUDA runtime's message). */
  error: string;
  driverVersion: number;
  runtimeVersion: number;
}

export interface CudaDeviceInfo {
  name: string;
  major: number;
  minor: number;
  totalBytes: number;
  multiprocessors: number;
}

type KernelCall = (args: Float64Array, count: number) => void;

export interface CudaAddon {
  probe(): CudaProbe;
  deviceInfo(index: number): CudaDeviceInfo;
  malloc(device: number, bytes: number): number | null;
  free(device: number, ptr: number): void;
  memInfo(device: number): { freeBytes: number; totalBytes: number };
  upload(device: number, ptr: number, data: ArrayBufferView): void;
  download(device: number, ptr: number, data: ArrayBufferView): void;
  synchronize(device: number): void;
  recordEvent(device: number): number;
  queryEvent(device: number, id: number): boolean;
  setTf32(on: boolean): boolean;
  blasPath(): string;
  kernelNames(): string[];
  [kernel: string]: unknown;
}

export function kernel(addon: CudaAddon, name: string): KernelCall {
  const fn = addon[name];
  if (typeof fn !== 'function') throw new Error(`@lmflow/tensor: the CUDA library has no kernel "${name}" (rebuild it: npm run build:cuda -w @lmflow/tensor)`);
  return fn as KernelCall;
}

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'native-cuda'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('@lmflow/tensor: cannot find the package root (native-cuda/) above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Where the library is looked for. */
export function cudaLibraryPath(): string {
  return process.env.LMFLOW_CUDA_ADDON || path.join(packageRoot(), 'native-cuda', 'build', 'lmflow_cuda.node');
}

let addon: CudaAddon | null = null;
let loadError: Error | null = null;

/** The loaded library, or an error saying how to get one. */
export function loadCudaAddon(): CudaAddon {
  if (addon) return addon;
  if (loadError) throw loadError;
  const file = cudaLibraryPath();
  if (!fs.existsSync(file)) {
    loadError = new Error(
      `the CUDA backend is not built: ${file} does not exist. It is built at install when nvcc (CUDA 12.8 or newer) is found; ` +
        'build it with `npm run build:cuda -w @lmflow/tensor` (set CUDA_HOME if nvcc is not on PATH).',
    );
    throw loadError;
  }
  try {
    addon = createRequire(import.meta.url)(file) as CudaAddon;
    return addon;
  } catch (cause) {
    loadError = new Error(`the CUDA backend at ${file} could not be loaded: ${(cause as Error).message}`, { cause });
    throw loadError;
  }
}

/**
 * Whether `cuda:index` can be used, and if not, why (`reason`, a sentence for error messages;
 * empty when available). Never throws.
 */
export function cudaStatus(index = 0): { available: boolean; reason: string; devices: number } {
  let lib: CudaAddon;
  try {
    lib = loadCudaAddon();
  } catch (e) {
    return { available: false, reason: (e as Error).message, devices: 0 };
  }
  const probe = lib.probe();
  if (probe.count === 0) {
    return { available: false, devices: 0, reason: `no CUDA device: the CUDA library loaded but found no GPU (${probe.error || 'no device'}; driver API version ${probe.driverVersion || 'none'})` };
  }
  if (index >= probe.count) {
    return { available: false, devices: probe.count, reason: `no device cuda:${index}: ${probe.count} CUDA device${probe.count === 1 ? '' : 's'} found (cuda:0${probe.count > 1 ? ` to cuda:${probe.count - 1}` : ''})` };
  }
  return { available: true, reason: '', devices: probe.count };
}

/** The number of usable CUDA devices (0 when the library is missing or there is no GPU). */
export function cudaDeviceCount(): number {
  return cudaStatus().devices;
}

export function isCudaAvailable(): boolean {
  return cudaStatus().available;
}
