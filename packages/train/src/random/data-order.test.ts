import { describe, expect, it } from 'vitest';
import { defaultGenerator, dropout, manualSeed, ones } from '@lmflow/tensor';
import { epochPermutation, remainingInEpoch } from './data-order.js';
import { captureRngState, restoreRngState } from './rng-state.js';

function isPermutation(order: Uint32Array, n: number): boolean {
  const seen = new Uint8Array(n);
  for (const i of order) {
    if (i >= n || seen[i]) return false;
    seen[i] = 1;
  }
  return order.length === n;
}

describe('epochPermutation', () => {
  it('is a permutation for every size, including 0 and 1', () => {
    for (const n of [0, 1, 2, 3, 17, 1000, 65_537]) expect(isPermutation(epochPermutation(n, 42, 0), n), `n ${n}`).toBe(true);
  });

  it('depends on (seed, epoch) alone: the same twice, different across epochs and seeds', () => {
    const a = epochPermutation(500, 42, 3);
    expect(epochPermutation(500, 42, 3)).toEqual(a);
    expect(epochPermutation(500, 42, 4)).not.toEqual(a);
    expect(epochPermutation(500, 43, 3)).not.toEqual(a);
    // Seeds above 2^32 use their high bits too.
    expect(epochPermutation(500, 2 ** 32 + 42, 3)).not.toEqual(a);
    // Golden prefix: a change to the shuffle would silently change every resumed run's order.
    expect([...epochPermutation(10, 42, 0)]).toEqual(GOLDEN_42_0);
  });

  it('looks uniform: each index lands in each position about equally often', () => {
    // 4000 shuffles of 8: each of 64 (index, position) cells expects 500 hits.
    const n = 8;
    const counts = new Array(n * n).fill(0);
    for (let e = 0; e < 4000; e++) epochPermutation(n, 7, e).forEach((v, pos) => counts[v * n + pos]++);
    // Chi-square with 49 degrees of freedom (rows and columns are fixed): 99.9th percentile is about 85.4.
    const chi2 = counts.reduce((s, c) => s + (c - 500) ** 2 / 500, 0);
    expect(chi2).toBeLessThan(85.4);
  });

  it('a resumed run continues where it stopped', () => {
    const full = epochPermutation(100, 1, 2);
    expect(remainingInEpoch(100, 1, 2, 37)).toEqual(full.subarray(37));
    expect(remainingInEpoch(100, 1, 2, 100).length).toBe(0);
    expect(() => remainingInEpoch(100, 1, 2, 101)).toThrow('data order: position in epoch is 101, expected an integer in [0, 100]');
    expect(() => epochPermutation(10, -1, 0)).toThrow('data order: seed is -1');
    expect(() => epochPermutation(10, 0, 1.5)).toThrow('data order: epoch is 1.5');
  });
});

describe('RNG state', () => {
  it('restoring the default generator redraws the same dropout mask', () => {
    manualSeed(123);
    dropout(ones([64], { device: 'cpu' }), 0.5, { training: true }).dispose();
    const saved = captureRngState(9);
    expect(saved).toEqual({ dataSeed: 9, generator: defaultGenerator.getState() });
    const first = dropout(ones([64], { device: 'cpu' }), 0.5, { training: true }).toFlatArray();
    const other = dropout(ones([64], { device: 'cpu' }), 0.5, { training: true }).toFlatArray();
    expect(other).not.toEqual(first);
    expect(restoreRngState(JSON.parse(JSON.stringify(saved)))).toBe(9);
    expect(dropout(ones([64], { device: 'cpu' }), 0.5, { training: true }).toFlatArray()).toEqual(first);
    expect(() => restoreRngState({ dataSeed: 1, generator: { seed: 1, offset: -1 } })).toThrow('RNG state: generator.offset is -1, expected a non-negative integer');
  });
});

const GOLDEN_42_0 = [2, 8, 7, 0, 9, 3, 6, 5, 4, 1];
