import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX, type TokenizedSample } from '@lmflow/core';
import { groupTexts } from './group-texts.js';

const sample = (ids: number[], labels = ids): TokenizedSample => ({ inputIds: ids, labels });
const X = IGNORE_INDEX;

describe('groupTexts', () => {
  it('concatenates samples in order and cuts exact blocks, dropping the short remainder', () => {
    const blocks = groupTexts([sample([1, 2, 3]), sample([4, 5], [X, 5]), sample([6, 7, 8, 9])], 4);
    expect(blocks).toEqual([
      { inputIds: [1, 2, 3, 4], labels: [1, 2, 3, X] },
      { inputIds: [5, 6, 7, 8], labels: [5, 6, 7, 8] },
    ]);
  });

  it('splits a long sample across blocks; too little text gives no block', () => {
    expect(groupTexts([sample([1, 2, 3, 4, 5, 6, 7])], 3).map((b) => b.inputIds)).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(groupTexts([sample([1, 2])], 3)).toEqual([]);
    expect(() => groupTexts([], 0)).toThrow('groupTexts: blockSize is 0, expected a positive integer');
  });
});
