import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX, type TokenizedSample } from '@lmflow/core';
import { packSamples } from './pack.js';
import { truncateSample } from './truncate.js';

const sample = (ids: number[], labels = ids): TokenizedSample => ({ inputIds: ids, labels });
const X = IGNORE_INDEX;

describe('packSamples', () => {
  it('lays whole samples into blocks in order; positions restart and segments count at each border', () => {
    const samples = [sample([11, 12, 13], [X, 12, 13]), sample([21, 22]), sample([31, 32, 33, 34]), sample([41])];
    const blocks = packSamples(samples, 6);
    expect(blocks).toEqual([
      { inputIds: [11, 12, 13, 21, 22], labels: [X, 12, 13, X, 22], positions: [0, 1, 2, 0, 1], segments: [1, 1, 1, 2, 2] },
      { inputIds: [31, 32, 33, 34, 41], labels: [X, 32, 33, 34, X], positions: [0, 1, 2, 3, 0], segments: [1, 1, 1, 1, 2] },
    ]);
  });

  it('never trains a token to predict the next sample: each sample\'s first label is ignored', () => {
    const blocks = packSamples([sample([1, 2, 3]), sample([4, 5, 6]), sample([7, 8, 9])], 9);
    const { labels, segments } = blocks[0]!;
    // With labels aligned to inputs, position t predicts labels[t + 1]; across a border that
    // label must be ignored.
    for (let t = 0; t + 1 < labels.length; t++) {
      if (segments![t] !== segments![t + 1]) expect(labels[t + 1]).toBe(X);
    }
    expect(labels).toEqual([X, 2, 3, X, 5, 6, X, 8, 9]);
  });

  it('refuses samples longer than the block; truncation keeps the start', () => {
    expect(() => packSamples([sample([1, 2, 3])], 2)).toThrow('packSamples: sample 0 has 3 tokens, more than blockSize 2; truncate samples to block_size before packing');
    expect(truncateSample(sample([1, 2, 3], [X, 2, 3]), 2)).toEqual({ inputIds: [1, 2], labels: [X, 2] });
    expect(packSamples([sample([])], 4)).toEqual([]);
  });
});
