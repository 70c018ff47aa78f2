/**
 * Host memory for the host backends (reference and cpu): typed arrays from a small caching
 * allocator. A training step allocates the same sizes every step; reusing freed buffers
 * saves the zero-filling and garbage collection that `new Float32Array(n)` costs.
 *
 * Buffers are cached by exact byte length, up to LMFLOW_HOST_CACHE_MB in all (default: a
 * quarter of the machine's memory, at least 1 GiB). The default scales with the machine because
 * a step's activations are what cycles through the cache: when they outgrow it, every step
 * allocates them afresh (LoRA on a 110M model at T=512 keeps more than 1 GiB for backward;
 * see bench:peft in docs/benchmarks.md).
 */
import os from 'node:os';
import { hostArray, itemSize, type DType, type HostArray } from '../dtype.js';

const limitBytes = Number(process.env.LMFLOW_HOST_CACHE_MB) > 0 ? Number(process.env.LMFLOW_HOST_CACHE_MB) * 2 ** 20 : Math.max(2 ** 30, Math.floor(os.totalmem() / 4));
const cache = new Map<number, ArrayBuffer[]>();
let cachedBytes = 0;
let liveBytes = 0;

export function allocateHost(dtype: DType, length: number): HostArray {
  // Round tiny buffers up to 64 bytes so scalars share one cache bucket.
  const bytes = Math.max(64, length * itemSize(dtype));
  const bucket = cache.get(bytes);
  let buffer = bucket?.pop();
  if (buffer) cachedBytes -= bytes;
  else buffer = new ArrayBuffer(bytes);
  liveBytes += bytes;
  return hostArray(dtype, buffer, length);
}

export function releaseHost(array: HostArray): void {
  const buffer = array.buffer as ArrayBuffer;
  const bytes = buffer.byteLength;
  liveBytes -= bytes;
  if (cachedBytes + bytes > limitBytes) return;
  let bucket = cache.get(bytes);
  if (!bucket) cache.set(bytes, (bucket = []));
  bucket.push(buffer);
  cachedBytes += bytes;
}

/** Drops every cached buffer (the garbage collector reclaims them). */
export function emptyHostCache(): void {
  cache.clear();
  cachedBytes = 0;
}

export function hostMemoryStats(): { liveBytes: number; cachedBytes: number } {
  return { liveBytes, cachedBytes };
}
