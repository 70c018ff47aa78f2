import type { LayoutOps } from '../../backend.js';
import { bernoulliAt, normalAt, seedKeys, uniformAt } from '../../random.js';
import { numel } from '../../shape.js';
import { forEachOffset, hostData, read, write } from './strided.js';
import { writeElement } from '../../dtype.js';

export const referenceLayout: LayoutOps = {
  fill(out, value) {
    const data = hostData(out);
    forEachOffset(out, (offset) => writeElement(out.dtype, data, offset, value));
  },

  copy(src, out) {
    // Raw element copy when dtypes match (exact for every dtype, i64 included), else convert.
    if (src.dtype === out.dtype) {
      const from = hostData(src);
      const to = hostData(out);
      const offsets: number[] = [];
      forEachOffset(src, (offset) => offsets.push(offset));
      forEachOffset(out, (offset, i) => {
        (to as Float32Array)[offset] = (from as Float32Array)[offsets[i]!]!;
      });
      return;
    }
    write(out, read(src));
  },

  random(out, kind, a, b, seed, offset) {
    const [k1, k2] = seedKeys(seed);
    const n = numel(out.shape);
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (kind === 'uniform') values[i] = a + (b - a) * uniformAt(k1, k2, offset + i);
      else if (kind === 'normal') values[i] = a + b * normalAt(k1, k2, offset + 2 * i);
      else values[i] = bernoulliAt(k1, k2, offset + i, a);
    }
    write(out, values);
  },
};
