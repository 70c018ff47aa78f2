/**
 * Host memory for the host backends (reference and cpu): typed arrays from a small caching
 * allocator. A training step allocates the same sizes every step; reusing freed buffers
 * saves the zero-filling and garbage collection that `new Float32Array(n)` costs.
 *
 * Buffers are cached by exact byte length, up to LMFLOW_HOST_CACHE_MB (default 1024) in all.
 */
import { hostArray, itemSize, type DType, type HostArray } from '../dtype.js';

const limitBytes = (Number(process.env.LMFLOW_HOST_CACHE_MB) || 1024) * 1024 * 1024;
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
