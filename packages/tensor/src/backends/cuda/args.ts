/**
 * Packs kernel arguments for the CUDA library into one reusable Float64Array, the layout
 * native-cuda/common.h (class Args) reads: the device index first, then per operand
 * - a view: ndim, device pointer, dtype code, offset, shape[ndim], strides[ndim];
 * - a missing optional view: -1;
 * - a number or flag: itself (flags as 0/1).
 * One array and one N-API call per kernel keeps the per-op overhead to a few hundred ns.
 */
import type { View } from '../../backend.js';
import { DTYPE_CODES } from '../cpu/native.js';

/** What a cuda Storage's handle holds: the device pointer of element 0 and the byte size. */
export interface CudaHandle {
  readonly ptr: number;
  readonly bytes: number;
}

/** A view reduced to what kernels need (plans.ts builds coalesced ones). */
export interface KernelView {
  ptr: number;
  dtype: number;
  offset: number;
  shape: readonly number[];
  strides: readonly number[];
}

export function kernelView(view: View): KernelView {
  return {
    ptr: (view.storage.handle as CudaHandle).ptr,
    dtype: DTYPE_CODES[view.dtype],
    offset: view.offset,
    shape: view.shape,
    strides: view.strides,
  };
}

export class ArgPacker {
  private data = new Float64Array(256);
  private n = 0;

  /** Starts a call on device `index`. */
  begin(device: number): this {
    this.n = 0;
    return this.num(device);
  }

  num(value: number): this {
    if (this.n === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.n++] = value;
    return this;
  }

  flag(value: boolean): this {
    return this.num(value ? 1 : 0);
  }

  view(v: KernelView | View): this {
    const k = 'storage' in v ? kernelView(v) : v;
    if (k.shape.length > 8) throw new Error(`cuda kernels take tensors of at most 8 dimensions, got ${k.shape.length}`);
    this.num(k.shape.length).num(k.ptr).num(k.dtype).num(k.offset);
    for (const d of k.shape) this.num(d);
    for (const s of k.strides) this.num(s);
    return this;
  }

  viewOrNull(v: KernelView | View | null | undefined): this {
    return v ? this.view(v) : this.num(-1);
  }

  /** The packed values and their count (the array is reused by the next call). */
  finish(): [Float64Array, number] {
    return [this.data, this.n];
  }
}
