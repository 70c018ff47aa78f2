/**
 * Devices and their backends. A device string names where a tensor lives: 'cpu' (native
 * backend), 'reference' (the float64 oracle, also host memory), 'cuda' / 'cuda:N'.
 * Backends are created on first use, so the CUDA library is loaded only when asked for.
 */
import type { Backend } from './backend.js';
import { createReferenceBackend } from './backends/reference/index.js';
import { createCpuBackend } from './backends/cpu/index.js';
import { isNativeAddonAvailable } from './backends/cpu/native.js';
// Importing this loads nothing native: the CUDA library is opened when a cuda backend is created.
import { createCudaBackend } from './backends/cuda/index.js';

export type BackendFactory = (index: number) => Backend;

const factories = new Map<string, BackendFactory>([
  ['reference', () => createReferenceBackend()],
  ['cpu', () => createCpuBackend()],
  ['cuda', (index) => createCudaBackend(index)],
]);
const instances = new Map<string, Backend>();

/** Makes a backend kind available (the CUDA package registers 'cuda' this way). */
export function registerBackend(kind: string, factory: BackendFactory): void {
  factories.set(kind, factory);
  for (const key of [...instances.keys()]) if (key === kind || key.startsWith(`${kind}:`)) instances.delete(key);
}

/** 'cuda' means 'cuda:0'; host backends have no index. */
export function normalizeDevice(device: string): string {
  const [kind, index] = device.split(':');
  if (!kind || !factories.has(kind)) {
    throw new Error(`unknown device "${device}": expected one of ${[...factories.keys()].map((k) => (k === 'cuda' ? 'cuda, cuda:N' : k)).join(', ')}`);
  }
  if (kind === 'cpu' || kind === 'reference') {
    if (index !== undefined && index !== '0') throw new Error(`unknown device "${device}": ${kind} has no index`);
    return kind;
  }
  const n = index === undefined ? 0 : Number(index);
  if (!Number.isInteger(n) || n < 0) throw new Error(`unknown device "${device}": the index must be a non-negative integer`);
  return `${kind}:${n}`;
}

export function getBackend(device: string = defaultDevice()): Backend {
  const key = normalizeDevice(device);
  let backend = instances.get(key);
  if (!backend) {
    const [kind, index] = key.split(':');
    backend = factories.get(kind!)!(Number(index ?? 0));
    instances.set(key, backend);
  }
  return backend;
}

let defaultDeviceName: string | null = null;

/**
 * Where new tensors go when no device is given: LMFLOW_DEVICE if set, else 'cpu'; 'reference'
 * (with a warning) when the native addon is missing, so a broken build still computes.
 */
export function defaultDevice(): string {
  if (defaultDeviceName) return defaultDeviceName;
  const fromEnv = process.env.LMFLOW_DEVICE;
  if (fromEnv) {
    defaultDeviceName = normalizeDevice(fromEnv);
  } else if (isNativeAddonAvailable()) {
    defaultDeviceName = 'cpu';
  } else {
    console.warn('@lmflow/tensor: the native CPU backend is not built; using the slow reference backend. Run `npm rebuild @lmflow/tensor` to build it.');
    defaultDeviceName = 'reference';
  }
  return defaultDeviceName;
}

export function setDefaultDevice(device: string): void {
  defaultDeviceName = normalizeDevice(device);
}
