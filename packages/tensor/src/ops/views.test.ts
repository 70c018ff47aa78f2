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

describe('fromHostArray', () => {
  it('shares the array on host devices and never returns it to the allocator', async () => {
    const { fromHostArray, f32ToBf16 } = await import('../index.js');
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = fromHostArray(data, { shape: [2, 3], device: 'cpu' });
    expect(t.storage.handle).toBe(data);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    t.dispose();
    // A fresh allocation of the same size must not hand out the adopted buffer.
    const fresh = zeros([6], { device: 'cpu' });
    expect(fresh.storage.handle).not.toBe(data);
    expect((fresh.storage.handle as Float32Array).buffer).not.toBe(data.buffer);
    fresh.dispose();
    const bits = new Uint16Array([f32ToBf16(1.5), f32ToBf16(-2)]);
    const b = fromHostArray(bits, { dtype: 'bf16', device: 'reference' });
    expect(b.toFlatArray()).toEqual([1.5, -2]);
    b.dispose();
    const converted = fromHostArray(new Float32Array([0.5]), { dtype: 'bf16', device: 'cpu' });
    expect(converted.toFlatArray()).toEqual([0.5]);
    converted.dispose();
  });
});
