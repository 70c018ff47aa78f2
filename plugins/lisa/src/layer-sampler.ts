/**
 * Which decoder layers train in each LISA period: N distinct layers of L, drawn uniformly
 * (as LMFlow's np.random.choice(L, N, replace=False)). The draw of period p depends only on
 * (seed, p), so a resumed run picks the same layers as an uninterrupted one without replaying
 * earlier draws. A few lines of a small, well-known generator (mulberry32) rather than a
 * dependency: the tensor package's generators draw tensors, not numbers on the host.
 */

/** The sorted layer indices active during period `period` (0 for the first K steps). */
export function sampleLayers(seed: number, period: number, layers: number, count: number): number[] {
  if (!(Number.isInteger(count) && count >= 1 && count <= layers)) {
    throw new Error(`sampleLayers: cannot choose ${count} of ${layers} layers`);
  }
  const next = mulberry32(mix(seed, period));
  // Partial Fisher-Yates: the first `count` entries are a uniform sample without replacement.
  const order = Array.from({ length: layers }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(next() * (layers - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, count).sort((a, b) => a - b);
}

// One 32-bit state from the seed and the period (murmur3's finalizer spreads nearby inputs).
function mix(seed: number, period: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(period + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function mulberry32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
