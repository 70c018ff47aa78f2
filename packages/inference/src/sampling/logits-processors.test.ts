/**
 * The built-in processors against their definitions (transformers' warpers, written here
 * independently with full sorts and softmaxes in float64) on fixed logits, and the sampler's
 * draws against the softmax probabilities.
 */
import { describe, expect, it } from 'vitest';
import { applyMinP, applyRepetitionPenalty, applyTemperature, applyTopK, applyTopP } from './logits-processors.js';
import { argmaxOf, chooseToken, sampleFromLogits } from './choose-token.js';
import { createRandom } from './random.js';
import { kthLargest } from './top-indices.js';

const LOGITS = [1.5, -0.5, 3.25, 0.0, 2.0, -2.0, 3.25, 0.75, -1.0, 1.0, 2.5];
const row = () => Float32Array.from(LOGITS);
const kept = (r: Float32Array) => [...r.keys()].filter((i) => r[i]! > -Infinity);

function softmax(values: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(values));
  const exps = Array.from(values, (v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/**
 * transformers' TopPLogitsWarper: sort ascending, remove while the cumulative sum <= 1 - p, keep
 * the top token. Where transformers' sort order decides between equal logits at the cut, ours
 * keeps them all (as top-k does).
 */
function topPReference(values: number[], p: number): number[] {
  const probs = softmax(values);
  const ascending = [...values.keys()].sort((a, b) => probs[a]! - probs[b]! || b - a);
  let cumulative = 0;
  const removed = new Set<number>();
  ascending.forEach((i, rank) => {
    cumulative += probs[i]!;
    if (cumulative <= 1 - p && rank < ascending.length - 1) removed.add(i);
  });
  const lowestKept = Math.min(...[...values.keys()].filter((i) => !removed.has(i)).map((i) => values[i]!));
  return [...values.keys()].filter((i) => values[i]! >= lowestKept);
}

describe('logits processors', () => {
  it('temperature divides every logit', () => {
    const r = row();
    applyTemperature(r, 0.7);
    r.forEach((v, i) => expect(v).toBeCloseTo(LOGITS[i]! / 0.7, 5));
  });

  it('repetition penalty divides positive and multiplies negative logits of seen tokens only', () => {
    const r = row();
    applyRepetitionPenalty(r, new Set([0, 1, 3, 6]), 1.3);
    const expected = LOGITS.map((v, i) => ([0, 1, 3, 6].includes(i) ? (v < 0 ? v * 1.3 : v / 1.3) : v));
    r.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
  });

  it('top-k keeps the k largest logits and ties with the k-th', () => {
    const r1 = row();
    applyTopK(r1, 1);
    expect(kept(r1)).toEqual([2, 6]); // 3.25 twice
    const r3 = row();
    applyTopK(r3, 3);
    expect(kept(r3)).toEqual([2, 6, 10]);
    const r4 = row();
    applyTopK(r4, 4);
    expect(kept(r4)).toEqual([2, 4, 6, 10]);
    expect(r4[2]).toBe(3.25); // kept logits are unchanged
    const all = row();
    applyTopK(all, 0);
    expect(kept(all)).toHaveLength(LOGITS.length);
  });

  it('top-p keeps the smallest likeliest set whose probability reaches p (transformers\' rule)', () => {
    for (const p of [0.05, 0.3, 0.5, 0.62, 0.8, 0.9, 0.95, 0.999]) {
      const r = row();
      applyTopP(r, p);
      expect(kept(r), `p=${p}`).toEqual(topPReference(LOGITS, p));
    }
    // The top two logits are equal: even a tiny p keeps both.
    const tiny = row();
    applyTopP(tiny, 0.01);
    expect(kept(tiny)).toEqual([2, 6]);
    const probs = softmax(LOGITS);
    // p just above the two tied top tokens' mass needs a third token.
    const topTwo = probs[2]! + probs[6]!;
    const r = row();
    applyTopP(r, topTwo + 1e-4);
    expect(kept(r)).toEqual([2, 6, 10]);
  });

  it('top-p over a large vocabulary equals the full-sort rule', () => {
    const random = createRandom(7);
    const big = Float32Array.from({ length: 5001 }, () => (random() - 0.5) * 4);
    for (const p of [0.1, 0.5, 0.9]) {
      const r = Float32Array.from(big);
      applyTopP(r, p);
      expect(kept(r), `p=${p}`).toEqual(topPReference(Array.from(big), p));
    }
  });

  it('min-p drops tokens less likely than min_p times the top probability', () => {
    for (const minP of [0.05, 0.2, 0.5, 1]) {
      const r = row();
      applyMinP(r, minP);
      const probs = softmax(LOGITS);
      const top = Math.max(...probs);
      expect(kept(r), `min_p=${minP}`).toEqual([...LOGITS.keys()].filter((i) => probs[i]! >= minP * top - 1e-12));
    }
  });

  it('kthLargest (the heap for small k, a sort for large k) equals sorting, ties included, on odd sizes', () => {
    const random = createRandom(3);
    for (const size of [1, 2, 7, 64, 333, 3001]) {
      const values = Float32Array.from({ length: size }, () => Math.round(random() * 40) / 4 - 5);
      const sorted = Array.from(values).sort((a, b) => b - a);
      for (const k of [1, 2, 3, 50, 1025, size]) if (k <= size) expect(kthLargest(values, k), `size ${size}, k ${k}`).toBe(sorted[k - 1]);
    }
    expect(() => kthLargest(Float32Array.of(1), 2)).toThrow('kthLargest: k is 2, expected 1..1');
  });
});

describe('sampling', () => {
  it('draws by the cumulative softmax: u picks the token whose interval holds it', () => {
    const r = Float32Array.from([Math.log(0.1), Math.log(0.2), Math.log(0.7)]);
    expect(sampleFromLogits(r, 0)).toBe(0);
    expect(sampleFromLogits(r, 0.09)).toBe(0);
    expect(sampleFromLogits(r, 0.11)).toBe(1);
    expect(sampleFromLogits(r, 0.29)).toBe(1);
    expect(sampleFromLogits(r, 0.31)).toBe(2);
    expect(sampleFromLogits(r, 0.999999)).toBe(2);
    const masked = Float32Array.from([-Infinity, 0, -Infinity]);
    expect(sampleFromLogits(masked, 0.99)).toBe(1);
    expect(() => sampleFromLogits(Float32Array.from([-Infinity, -Infinity]), 0.5)).toThrow(/every logit is -Infinity/);
  });

  it('frequencies of 20,000 seeded draws match the softmax within 1.5%', () => {
    const probs = softmax(LOGITS);
    const random = createRandom(11);
    const counts = new Array<number>(LOGITS.length).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[sampleFromLogits(row(), random())]!++;
    counts.forEach((c, i) => expect(Math.abs(c / n - probs[i]!), `token ${i}`).toBeLessThan(0.015));
  });

  it('chooseToken: greedy is the argmax after the penalty; top-k 1 always gives the argmax', () => {
    const greedy = { doSample: false, temperature: 1, topK: 50, topP: 1, minP: 0, repetitionPenalty: 1 };
    expect(chooseToken(row(), greedy, [], Math.random)).toBe(2); // first of the tied maxima
    expect(argmaxOf(row())).toBe(2);
    // Penalising 2 and 6 (3.25 -> 3.25 / 2) leaves 10 (2.5) on top.
    expect(chooseToken(row(), { ...greedy, repetitionPenalty: 2 }, [2, 6], Math.random)).toBe(10);
    const random = createRandom(5);
    const topOne = { ...greedy, doSample: true, topK: 1, temperature: 1.7 };
    for (let i = 0; i < 50; i++) expect([2, 6]).toContain(chooseToken(row(), topOne, [], random));
    const distinct = Float32Array.from([0.1, 0.3, 0.2]);
    for (let i = 0; i < 20; i++) expect(chooseToken(Float32Array.from(distinct), topOne, [], random)).toBe(1);
  });

  it('the random stream is reproducible per (seed, stream) and differs across them', () => {
    const take = (seed: number, stream = 0) => {
      const r = createRandom(seed, stream);
      return Array.from({ length: 8 }, () => r());
    };
    expect(take(42)).toEqual(take(42));
    expect(take(42)).not.toEqual(take(43));
    expect(take(42, 1)).not.toEqual(take(42, 0));
    expect(take(2 ** 40 + 1)).not.toEqual(take(1));
    for (const u of take(9)) expect(u >= 0 && u < 1).toBe(true);
  });
});
