/**
 * Reference index kernels: indexSelect, indexAdd, gather, scatterAdd along one axis, in
 * float64 (accumulations rounded once). Every index is checked before anything is written.
 */
import type { IndexOps, View } from '../../backend.js';
import { contiguousStrides, formatShape, numel } from '../../shape.js';
import { read, unravel, write } from './strided.js';

function checkedIndices(op: string, index: View, axis: number, size: number): Float64Array {
  const values = read(index);
  values.forEach((v, i) => {
    if (!(v >= 0 && v < size)) {
      throw new Error(`${op}: index ${v} (element ${i} of index) is out of range for axis ${axis} of size ${size}`);
    }
  });
  return values;
}

/** Row-major offset in `shape` of a multi-index. */
function offsetIn(shape: readonly number[], index: readonly number[]): number {
  const strides = contiguousStrides(shape);
  let o = 0;
  for (let d = 0; d < index.length; d++) o += index[d]! * strides[d]!;
  return o;
}

export const referenceIndex: IndexOps = {
  indexSelect(x, axis, index, out) {
    const ids = checkedIndices('indexSelect', index, axis, x.shape[axis]!);
    const xs = read(x);
    const result = new Float64Array(numel(out.shape));
    for (let i = 0; i < result.length; i++) {
      const at = unravel(i, out.shape);
      at[axis] = ids[at[axis]!]!;
      result[i] = xs[offsetIn(x.shape, at)]!;
    }
    write(out, result);
  },

  indexAdd(out, axis, index, src) {
    const ids = checkedIndices('indexAdd', index, axis, out.shape[axis]!);
    const acc = read(out);
    const values = read(src);
    for (let i = 0; i < values.length; i++) {
      const at = unravel(i, src.shape);
      at[axis] = ids[at[axis]!]!;
      acc[offsetIn(out.shape, at)]! += values[i]!;
    }
    write(out, acc);
  },

  gather(x, axis, index, out) {
    const ids = checkedIndices('gather', index, axis, x.shape[axis]!);
    const xs = read(x);
    const result = new Float64Array(numel(index.shape));
    for (let i = 0; i < result.length; i++) {
      const at = unravel(i, index.shape);
      at[axis] = ids[i]!;
      result[i] = xs[offsetIn(x.shape, at)]!;
    }
    write(out, result);
  },

  scatterAdd(out, axis, index, src) {
    if (index.shape.some((d, i) => d > src.shape[i]!)) {
      throw new Error(`scatterAdd: index has shape ${formatShape(index.shape)} but src has shape ${formatShape(src.shape)}; index must be no larger in every dimension`);
    }
    const ids = checkedIndices('scatterAdd', index, axis, out.shape[axis]!);
    const acc = read(out);
    const values = read(src);
    for (let i = 0; i < ids.length; i++) {
      const at = unravel(i, index.shape);
      const v = values[offsetIn(src.shape, at)]!;
      at[axis] = ids[i]!;
      acc[offsetIn(out.shape, at)]! += v;
    }
    write(out, acc);
  },
};
