/**
 * Counter-based random numbers: value i depends only on (seed, counter i), never on a hidden
 * state, so every backend produces the same numbers, a checkpointed segment redraws the same
 * dropout mask when it is recomputed, and a resumed run continues the same stream.
 *
 * Native backends implement the same functions bit for bit (native/elementwise/random.h).
 * The mixer is Chris Wellons' "lowbias32" integer hash, chosen because it needs only 32-bit
 * multiplies (Math.imul here, uint32_t in C++) and passes the usual avalanche tests.
 */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The two 32-bit keys derived from a seed (an integer up to 2^53). */
export function seedKeys(seed: number): [number, number] {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  const k1 = hash32((lo ^ 0x9e3779b9) >>> 0);
  const k2 = hash32((hi ^ k1 ^ 0x85ebca6b) >>> 0);
  return [k1, k2];
}

/** 32 random bits for counter c (an integer up to 2^53). */
export function randomBits(k1: number, k2: number, counter: number): number {
  const lo = counter >>> 0;
  const hi = Math.floor(counter / 4294967296) >>> 0;
  return hash32((hash32((lo ^ k1) >>> 0) + hash32((hi ^ k2) >>> 0)) >>> 0);
}

/** Uniform in [0, 1) with 24 random bits (exact in f32). */
export function uniformAt(k1: number, k2: number, counter: number): number {
  return (randomBits(k1, k2, counter) >>> 8) * 5.9604644775390625e-8;
}

/** A standard normal from counters c and c + 1 (Box-Muller); element i of a tensor uses c = offset + 2i. */
export function normalAt(k1: number, k2: number, counter: number): number {
  const u1 = uniformAt(k1, k2, counter);
  const u2 = uniformAt(k1, k2, counter + 1);
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

/** 1 with probability p: compares the 32 random bits with p * 2^32, exactly on every backend. */
export function bernoulliAt(k1: number, k2: number, counter: number, p: number): number {
  return randomBits(k1, k2, counter) < bernoulliThreshold(p) ? 1 : 0;
}

export function bernoulliThreshold(p: number): number {
  return Math.min(4294967296, Math.max(0, Math.floor(p * 4294967296)));
}

/**
 * A random stream: a seed and the next unused counter. Ops that draw random numbers take
 * (seed, offset) from a generator and advance it by the counters they used.
 */
export interface GeneratorState {
  seed: number;
  offset: number;
}

export class Generator {
  seed: number;
  offset = 0;

  constructor(seed: number) {
    this.seed = seed;
  }

  /** Reserves `count` counters and returns where they start. */
  take(count: number): GeneratorState {
    const state = { seed: this.seed, offset: this.offset };
    this.offset += count;
    return state;
  }

  getState(): GeneratorState {
    return { seed: this.seed, offset: this.offset };
  }

  setState(state: GeneratorState): void {
    this.seed = state.seed;
    this.offset = state.offset;
  }
}

/** The default stream used by random ops when no generator is given. */
export const defaultGenerator = new Generator(0);

/** Sets the default stream's seed and rewinds it (torch.manual_seed). */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`manualSeed: seed must be a non-negative safe integer, got ${seed}`);
  }
  defaultGenerator.setState({ seed, offset: 0 });
}
