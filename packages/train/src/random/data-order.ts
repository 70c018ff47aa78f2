/**
 * The order in which a run visits its samples: epoch e's permutation of 0..n-1 depends on
 * (seed, e) alone, so a run resumed mid-epoch needs only the epoch and its position in it.
 *
 * Written by hand because it must be reproducible across processes and versions from those
 * two numbers, with no hidden generator state: a Fisher-Yates shuffle driven by a counter-based
 * integer hash (murmur3's 32-bit finalizer), the same idea as @lmflow/tensor's random streams.
 * It does not reproduce torch's RandomSampler order (no JS library does).
 */

/** murmur3's fmix32: a bijective 32-bit mixer with full avalanche. */
function fmix32(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A stream of 32-bit values determined by (seed, epoch): value i is a hash of (key, i). */
function stream(seed: number, epoch: number): () => number {
  const k1 = fmix32((seed >>> 0) ^ 0x9e3779b9);
  const k2 = fmix32((Math.floor(seed / 4294967296) >>> 0) ^ k1 ^ 0x7f4a7c15);
  const k3 = fmix32((epoch >>> 0) ^ k2 ^ 0x94d049bb);
  const k4 = fmix32((Math.floor(epoch / 4294967296) >>> 0) ^ k3 ^ 0x2545f491);
  let counter = 0;
  return () => {
    const c = counter++;
    return fmix32((fmix32((c ^ k3) >>> 0) + fmix32((Math.floor(c / 4294967296) ^ k4) >>> 0) + k1) >>> 0);
  };
}

function checkCount(what: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`data order: ${what} is ${value}, expected an integer in [0, ${max}]`);
}

/** Epoch `epoch`'s order of the indices 0..n-1 under `seed`. */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  checkCount('the number of samples', n, 0xffffffff);
  checkCount('seed', seed);
  checkCount('epoch', epoch);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const next = stream(seed, epoch);
  for (let i = n - 1; i > 0; i--) {
    const j = uniformBelow(next, i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** The indices still to visit in `epoch` after `position` of them were consumed (resume). */
export function remainingInEpoch(n: number, seed: number, epoch: number, position: number): Uint32Array {
  checkCount('position in epoch', position, n);
  return epochPermutation(n, seed, epoch).subarray(position);
}

// Unbiased integer in [0, bound) by rejection: values at or above the largest multiple of bound are redrawn.
function uniformBelow(next: () => number, bound: number): number {
  const limit = 4294967296 - (4294967296 % bound);
  for (;;) {
    const r = next();
    if (r < limit) return r % bound;
  }
}
