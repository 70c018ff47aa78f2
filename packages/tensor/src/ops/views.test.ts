import { describe, expect, it } from 'vitest';
import { arange, liveTensorCount, tensor, tidy, zeros } from '../index.js';

describe('views share storage', () => {
  it('reshape, permute, slice and select read the right elements', () => {
    tidy(() => {
      const t = arange(24, undefined, 1, { device: 'reference', dtype: 'f32' }).reshape(2, 3, 4);
      expect(t.permute(2, 0, 1).toArray()).toEqual(
        [0, 1, 2, 3].map((k) => [0, 1].map((i) => [0, 1, 2].map((j) => i * 12 + j * 4 + k))),
      );
      expect(t.slice(2, 1, 4, 2).toFlatArray()).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
      expect(t.select(1, -1).toArray()).toEqual([[8, 9, 10, 11], [20, 21, 22, 23]]);
      expect(t.transpose(0, 2).contiguous().isContiguous()).toBe(true);
      expect(t.slice(0, 1).storage).toBe(t.storage);
    });
  });

  it('tidy disposes what it created and keeps the result', () => {
    const before = liveTensorCount();
    const kept = tidy(() => {
      const a = zeros([3, 3], { device: 'reference' });
      a.reshape(9);
      return tensor([1, 2, 3], { device: 'reference' });
    });
    expect(liveTensorCount()).toBe(before + 1);
    expect(kept.toFlatArray()).toEqual([1, 2, 3]);
    kept.dispose();
    expect(liveTensorCount()).toBe(before);
  });

  it('a disposed tensor says so', () => {
    const t = zeros([2], { device: 'reference' });
    t.dispose();
    expect(() => t.reshape(1, 2)).toThrow(/was disposed/);
  });
});
