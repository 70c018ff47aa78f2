/**
 * The seeded stream of uniform numbers sampling draws from: one number per sampled token.
 * The tensor package's generators fill tensors (one allocation per draw); here a host number is
 * all each step needs, so a few lines of counter-based hashing (the same "lowbias32" mixer the
 * tensor package uses) give a stream that depends only on (seed, stream, counter).
 */
function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Uniform numbers in [0, 1) for `seed` (an integer up to 2^53). `stream` separates the rows of a
 * batch; stream 0 of a seed is what a single prompt with that seed uses.
 */
export function createRandom(seed: number, stream = 0): () => number {
  const k1 = hash32(((seed >>> 0) ^ 0x9e3779b9) >>> 0);
  const k2 = hash32((Math.floor(seed / 4294967296) ^ k1 ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0);
  let counter = 0;
  return () => {
    const hi = hash32((hash32((counter ^ k1) >>> 0) + k2) >>> 0);
    const lo = hash32((hash32(((counter + 0x632be5ab) ^ k2) >>> 0) + k1) >>> 0);
    counter++;
    // 53 random bits: a probability mass below 2^-32 can still be hit.
    return ((hi >>> 5) * 67108864 + (lo >>> 6)) / 9007199254740992;
  };
}
