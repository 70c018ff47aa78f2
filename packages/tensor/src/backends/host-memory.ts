/**
 * Host memory for the host backends (reference and cpu): typed arrays from a small caching
 * allocator. A training step allocates the same sizes every step; reusing freed buffers
 * saves the zero-filling and garbage collection that `new Float32Array(n)` costs.
 *
 * Buffers are cached by size class, up to LMFLOW_HOST_CACHE_MB in all (default: a quarter of
 * the machine's memory, at least 1 GiB). A class is 2^k * (1 + j/8), and a request takes the
 * smallest cached buffer of its class or up to MAX_SLACK times larger. Steps whose sequence
 * lengths differ (packed or padded batches: 437 tokens, then 505, then 312) so reuse each
 * other's buffers instead of allocating and zero-filling new ones every step and leaving the
 * old ones to the garbage collector, which made such runs twice as slow as fixed-length ones. The default scales with the machine because
 * a step's activations are what cycles through the cache: when they outgrow it, every step
 * allocates them afresh (LoRA on a 110M model at T=512 keeps more than 1 GiB for backward;
 * see bench:peft in docs/benchmarks.md).
 */
import os from 'node:os';
import { hostArray, itemSize, type DType, type HostArray } from '../dtype.js';
import { createSizeBuckets } from './size-buckets.js';

const limitBytes = Number(process.env.LMFLOW_HOST_CACHE_MB) > 0 ? Number(process.env.LMFLOW_HOST_CACHE_MB) * 2 ** 20 : Math.max(2 ** 30, Math.floor(os.totalmem() / 4));
/** How much larger than its size class a reused buffer may be. */
const MAX_SLACK = 1.5;
const cache = createSizeBuckets<ArrayBuffer>();
let cachedBytes = 0;
let liveBytes = 0;

/** The byte length of the buffer that serves a request of n bytes. */
export function sizeClass(n: number): number {
  // Tiny buffers round up to 64 bytes, so scalars share one bucket.
  if (n <= 4096) return Math.max(64, Math.ceil(n / 64) * 64);
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

export function allocateHost(dtype: DType, length: number): HostArray {
  const wanted = sizeClass(length * itemSize(dtype));
  let buffer = cache.take(wanted, MAX_SLACK)?.block;
  if (buffer) cachedBytes -= buffer.byteLength;
  else buffer = new ArrayBuffer(wanted);
  liveBytes += buffer.byteLength;
  return hostArray(dtype, buffer, length);
}

export function releaseHost(array: HostArray): void {
  const buffer = array.buffer as ArrayBuffer;
  const bytes = buffer.byteLength;
  liveBytes -= bytes;
  if (cachedBytes + bytes > limitBytes) return;
  cache.put(bytes, buffer);
  cachedBytes += bytes;
}

/** Drops every cached buffer (the garbage collector reclaims them). */
export function emptyHostCache(): void {
  cache.drain();
  cachedBytes = 0;
}

export function hostMemoryStats(): { liveBytes: number; cachedBytes: number } {
  return { liveBytes, cachedBytes };
}
