import { describe, expect, it } from 'vitest';
/** The argument layout native-cuda/common.h (class Args) decodes. */
import type { Storage, View } from '../../backend.js';
import { ArgPacker } from './args.js';

describe('ArgPacker', () => {
  it('packs the device, views (ndim, ptr, dtype, offset, shape, strides), null views and numbers', () => {
    const storage = { backend: null, dtype: 'bf16', length: 100, handle: { ptr: 0x7f0000001000, bytes: 200 } } as unknown as Storage;
    const v: View = { storage, dtype: 'bf16', shape: [2, 3], strides: [1, 2], offset: 7 };
    const [data, n] = new ArgPacker().begin(1).view(v).viewOrNull(null).num(0.5).flag(true).finish();
    expect(Array.from(data.subarray(0, n))).toEqual([1, 2, 0x7f0000001000, 1, 7, 2, 3, 1, 2, -1, 0.5, 1]);
  });

  it('grows past its initial size and is reused from the start by the next call', () => {
    const p = new ArgPacker().begin(0);
    for (let i = 0; i < 1000; i++) p.num(i);
    expect(p.finish()[1]).toBe(1001);
    expect(p.begin(3).num(9).finish()[1]).toBe(2);
    expect(Array.from(p.finish()[0].subarray(0, 2))).toEqual([3, 9]);
  });

  it('refuses tensors of more than 8 dimensions with a clear error', () => {
    const storage = { backend: null, dtype: 'f32', length: 1, handle: { ptr: 1, bytes: 4 } } as unknown as Storage;
    const shape = new Array(9).fill(1);
    expect(() => new ArgPacker().begin(0).view({ storage, dtype: 'f32', shape, strides: shape, offset: 0 })).toThrow(/at most 8 dimensions, got 9/);
  });
});
