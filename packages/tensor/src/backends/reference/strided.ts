/**
 * The reference backend's only memory access: any view read into a dense float64 array,
 * and a dense float64 array written back into any view. Every reference kernel is then a
 * plain loop over dense arrays, which is what makes it easy to trust.
 */
import { readElement, writeElement, type HostArray } from '../../dtype.js';
import { numel, type Shape } from '../../shape.js';
import type { View } from '../../backend.js';

export function hostData(view: View): HostArray {
  return view.storage.handle as HostArray;
}

/** Calls fn(storageIndex, i) for each element i of the view, in row-major order. */
export function forEachOffset(view: Pick<View, 'shape' | 'strides' | 'offset'>, fn: (offset: number, i: number) => void): void {
  const { shape, strides } = view;
  const n = numel(shape);
  if (n === 0) return;
  const nd = shape.length;
  const index = new Array<number>(nd).fill(0);
  let offset = view.offset;
  for (let i = 0; i < n; i++) {
    fn(offset, i);
    for (let d = nd - 1; d >= 0; d--) {
      index[d]!++;
      offset += strides[d]!;
      if (index[d]! < shape[d]!) break;
      offset -= strides[d]! * shape[d]!;
      index[d] = 0;
    }
  }
}

/** A dense row-major float64 copy of the view (bf16/f16 decoded, integers as numbers). */
export function read(view: View): Float64Array {
  const out = new Float64Array(numel(view.shape));
  const data = hostData(view);
  forEachOffset(view, (offset, i) => {
    out[i] = readElement(view.dtype, data, offset);
  });
  return out;
}

/** Writes dense row-major values into the view, rounding to its dtype. */
export function write(view: View, values: ArrayLike<number>): void {
  const data = hostData(view);
  forEachOffset(view, (offset, i) => {
    writeElement(view.dtype, data, offset, values[i]!);
  });
}

/** Row-major multi-index of a linear index (for kernels that need coordinates). */
export function unravel(i: number, shape: Shape): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return index;
}

/** Rounds a float64 to f32, as f32 storage will (for kernels that must mimic an f32 step). */
export const toF32 = Math.fround;
