/** Helpers shared by ops: argument checks and internal views for kernels. */
import { Tensor, emptyOn, viewOf } from '../tensor.js';
import type { Backend, View } from '../backend.js';
import { isFloat, type DType } from '../dtype.js';
import { contiguousStrides, formatShape, numel, sameShape, type Shape } from '../shape.js';

/** Checks that every input is live and on one device; returns that device's backend. */
export function sameDevice(op: string, ...inputs: Tensor[]) {
  const first = inputs[0]!;
  for (const t of inputs) {
    t.assertLive(op);
    if (t.backend !== first.backend) {
      throw new Error(`${op}: inputs are on different devices: ${first.describe()} and ${t.describe()}; move one with .to()`);
    }
  }
  return first.backend;
}

export function sameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new Error(`${op}: dtypes differ: ${a.describe()} and ${b.describe()}; convert one with .cast()`);
  }
}

export function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new Error(`${op}: expected a floating tensor (f32, bf16, f16, f64), got ${t.describe()}`);
}

export function requireDType(op: string, t: Tensor, allowed: readonly DType[], role = 'input'): void {
  if (!allowed.includes(t.dtype)) {
    throw new Error(`${op}: ${role} must be ${allowed.join(' or ')}, got ${t.describe()}`);
  }
}

export function requireShape(op: string, t: Tensor, shape: Shape, role = 'input'): void {
  if (!sameShape(t.shape, shape)) {
    throw new Error(`${op}: ${role} must have shape ${formatShape(shape)}, got ${t.describe()}`);
  }
}

export function requireRank(op: string, t: Tensor, rank: number, role = 'input', meaning = ''): void {
  if (t.ndim !== rank) {
    throw new Error(`${op}: ${role} must have ${rank} dimensions${meaning ? ` ${meaning}` : ''}, got ${t.describe()}`);
  }
}

/** @internal t seen with `shape` (t's shape must broadcast to it): a stride-0 view for kernels, no Tensor. */
export function expandedView(t: View, shape: Shape): View {
  const lead = shape.length - t.shape.length;
  const strides = shape.map((d, i) => {
    const j = i - lead;
    if (j < 0) return 0;
    return t.shape[j] === 1 && d !== 1 ? 0 : t.strides[j]!;
  });
  return { storage: t.storage, dtype: t.dtype, shape: [...shape], strides, offset: t.offset };
}

/** @internal A 0-d tensor holding value (rounded to dtype): numbers become broadcast operands. */
export function scalarTensor(backend: Backend, dtype: DType, value: number): Tensor {
  const t = emptyOn(backend, [], dtype);
  backend.fill(t, value);
  return t;
}

export function checkNumber(op: string, value: number, role: string): void {
  if (typeof value !== 'number') throw new Error(`${op}: ${role} must be a Tensor or a number, got ${typeof value}`);
}


/** @internal A new contiguous tensor on t's device. */
export function emptyLike(t: Tensor, shape: Shape = t.shape, dtype: DType = t.dtype): Tensor {
  return emptyOn(t.backend, shape, dtype);
}

/** @internal t itself when contiguous, else a contiguous copy (not recorded). */
export function contiguousData(t: Tensor): Tensor {
  if (t.isContiguous()) return t;
  const out = emptyLike(t);
  t.backend.copy(t, out);
  return out;
}

/**
 * @internal Sums a broadcast gradient back to `shape` (the backward of broadcasting):
 * leading dims summed away, dims of size 1 summed with keepdim. Not recorded.
 */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const keptShape = g.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = emptyOn(g.backend, keptShape, g.dtype);
  g.backend.reduce('sum', g, axes, out);
  if (numel(keptShape) !== numel(shape)) throw new Error(`internal: sumToShape ${formatShape(g.shape)} -> ${formatShape(shape)}`);
  const reshaped = viewOf(out, [...shape], contiguousStrides(shape), 0);
  out.dispose();
  return reshaped;
}

export type TensorOrNumber = Tensor | number;
