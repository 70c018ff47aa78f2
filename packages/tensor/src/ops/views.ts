/**
 * Views: new shapes and strides over the same storage (no copy), and the ops that copy when
 * a view is impossible (contiguous, clone, cast, to). All record their backward.
 */
import { Tensor, emptyOn, viewOf } from '../tensor.js';
import { contiguousStrides, formatShape, normalizeAxis, numel, type Shape } from '../shape.js';
import { record } from '../autograd/node.js';
import type { DType } from '../dtype.js';
import { isDType } from '../dtype.js';
import { getBackend } from '../device.js';
import { emptyLike, sumToShape } from './util.js';

type ShapeArgs = [Shape] | number[];

function shapeFromArgs(args: ShapeArgs): number[] {
  return Array.isArray(args[0]) ? [...(args[0] as Shape)] : (args as number[]);
}

/** Same data in another shape; one dimension may be -1. Copies only when t is not contiguous. */
export function reshape(t: Tensor, ...args: ShapeArgs): Tensor {
  t.assertLive('reshape');
  const shape = inferShape(t, shapeFromArgs(args));
  const source = t.isContiguous() ? t : contiguous(t);
  const out = viewOf(source, shape, contiguousStrides(shape), source.offset);
  if (source !== t) source.dispose();
  const inShape = t.shape;
  return record('reshape', [t], out, [], (g) => [reshape(g, inShape)]);
}

function inferShape(t: Tensor, shape: number[]): number[] {
  const unknown = shape.indexOf(-1);
  if (shape.some((d, i) => d === -1 && i !== unknown) || shape.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new Error(`reshape: invalid shape ${formatShape(shape)}: at most one -1 and non-negative integers otherwise`);
  }
  if (unknown >= 0) {
    const known = numel(shape.filter((_, i) => i !== unknown));
    if (known === 0 || t.size % known !== 0) {
      throw new Error(`reshape: cannot reshape ${t.describe()} into ${formatShape(shape)}`);
    }
    shape = shape.map((d) => (d === -1 ? t.size / known : d));
  }
  if (numel(shape) !== t.size) {
    throw new Error(`reshape: cannot reshape ${t.describe()} (${t.size} elements) into ${formatShape(shape)} (${numel(shape)} elements)`);
  }
  return shape;
}

/** Reorders dimensions: out.shape[i] = t.shape[dims[i]]. */
export function permute(t: Tensor, ...args: ShapeArgs): Tensor {
  t.assertLive('permute');
  const dims = shapeFromArgs(args).map((d) => normalizeAxis('permute', d, t.ndim));
  if (dims.length !== t.ndim || new Set(dims).size !== dims.length) {
    throw new Error(`permute: ${formatShape(dims)} is not a permutation of the ${t.ndim} dimensions of ${t.describe()}`);
  }
  const out = viewOf(t, dims.map((d) => t.shape[d]!), dims.map((d) => t.strides[d]!), t.offset);
  const inverse = new Array<number>(dims.length);
  dims.forEach((d, i) => (inverse[d] = i));
  return record('permute', [t], out, [], (g) => [permute(g, inverse)]);
}

/** Swaps two dimensions (default: the last two, a matrix transpose). */
export function transpose(t: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normalizeAxis('transpose', dim0, t.ndim);
  const b = normalizeAxis('transpose', dim1, t.ndim);
  const dims = Array.from({ length: t.ndim }, (_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(t, dims);
}

/**
 * Elements start, start+step, ... below end along dim (Python slice rules: negative indices
 * count from the end, out-of-range bounds are clamped).
 */
export function slice(t: Tensor, dim: number, start = 0, end = Infinity, step = 1): Tensor {
  t.assertLive('slice');
  const d = normalizeAxis('slice', dim, t.ndim);
  if (!Number.isInteger(step) || step <= 0) throw new Error(`slice: step must be a positive integer, got ${step}`);
  const size = t.shape[d]!;
  const clamp = (i: number) => Math.min(size, Math.max(0, i < 0 ? i + size : i));
  const s = clamp(start);
  const e = Math.max(s, clamp(end));
  const length = Math.ceil((e - s) / step);
  const shape = [...t.shape];
  shape[d] = length;
  const strides = [...t.strides];
  strides[d] = t.strides[d]! * step;
  const out = viewOf(t, shape, strides, t.offset + s * t.strides[d]!);
  return recordSliceBackward('slice', t, out, d, s, e, step);
}

/** length elements from start along dim. */
export function narrow(t: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normalizeAxis('narrow', dim, t.ndim);
  if (start < 0 || length < 0 || start + length > t.shape[d]!) {
    throw new Error(`narrow: [${start}, ${start + length}) is outside dimension ${d} of ${t.describe()}`);
  }
  return slice(t, d, start, start + length);
}

/** The index-th entry along dim, with that dimension removed. */
export function select(t: Tensor, dim: number, index: number): Tensor {
  const d = normalizeAxis('select', dim, t.ndim);
  const size = t.shape[d]!;
  const i = index < 0 ? index + size : index;
  if (!Number.isInteger(i) || i < 0 || i >= size) {
    throw new Error(`select: index ${index} is out of range for dimension ${d} of ${t.describe()}`);
  }
  const row = slice(t, d, i, i + 1);
  const out = squeeze(row, d);
  row.dispose();
  return out;
}

function recordSliceBackward(op: string, t: Tensor, out: Tensor, d: number, s: number, e: number, step: number): Tensor {
  const inShape = t.shape;
  return record(op, [t], out, [], (g) => {
    const full = emptyOn(g.backend, inShape, g.dtype);
    g.backend.fill(full, 0);
    const window = slice(full, d, s, e, step);
    g.backend.copy(g, window);
    window.dispose();
    return [full];
  });
}

/** A stride-0 view repeating size-1 dimensions (-1 keeps a dimension). */
export function expand(t: Tensor, ...args: ShapeArgs): Tensor {
  t.assertLive('expand');
  const shape = shapeFromArgs(args);
  const lead = shape.length - t.ndim;
  if (lead < 0) throw new Error(`expand: ${formatShape(shape)} has fewer dimensions than ${t.describe()}`);
  const strides = shape.map((size, i) => {
    const j = i - lead;
    const own = j >= 0 ? t.shape[j]! : 1;
    if (size === -1) {
      if (j < 0) throw new Error(`expand: -1 is not allowed for a new leading dimension (${formatShape(shape)})`);
      shape[i] = own;
      return t.strides[j]!;
    }
    if (own === size) return j >= 0 ? t.strides[j]! : 0;
    if (own !== 1) throw new Error(`expand: cannot expand ${t.describe()} to ${formatShape(shape)}: dimension ${i} is ${own}, not 1`);
    return 0;
  });
  const out = viewOf(t, shape, strides, t.offset);
  const inShape = t.shape;
  return record('expand', [t], out, [], (g) => [sumToShape(g, inShape)]);
}

/** Removes dimensions of size 1 (all of them, or the one given). */
export function squeeze(t: Tensor, dim?: number): Tensor {
  const dims = dim === undefined ? t.shape.map((_, i) => i).filter((i) => t.shape[i] === 1) : [normalizeAxis('squeeze', dim, t.ndim)];
  const keepDims = t.shape.map((_, i) => i).filter((i) => !(dims.includes(i) && t.shape[i] === 1));
  return viewWithDims('squeeze', t, keepDims.map((i) => t.shape[i]!), keepDims.map((i) => t.strides[i]!));
}

/** Inserts a dimension of size 1 at dim. */
export function unsqueeze(t: Tensor, dim: number): Tensor {
  const d = normalizeAxis('unsqueeze', dim, t.ndim + 1);
  const shape = [...t.shape];
  const strides = [...t.strides];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < t.ndim ? t.strides[d]! * t.shape[d]! : 1);
  return viewWithDims('unsqueeze', t, shape, strides);
}

function viewWithDims(op: string, t: Tensor, shape: number[], strides: number[]): Tensor {
  t.assertLive(op);
  const out = viewOf(t, shape, strides, t.offset);
  const inShape = t.shape;
  return record(op, [t], out, [], (g) => [reshape(g, inShape)]);
}

/** Merges dimensions start..end (inclusive) into one. */
export function flatten(t: Tensor, start = 0, end = -1): Tensor {
  if (t.ndim === 0) return reshape(t, [1]);
  const s = normalizeAxis('flatten', start, t.ndim);
  const e = normalizeAxis('flatten', end, t.ndim);
  const shape = [...t.shape.slice(0, s), numel(t.shape.slice(s, e + 1)), ...t.shape.slice(e + 1)];
  return reshape(t, shape);
}

/** t itself when already contiguous (a new handle), else a contiguous copy. */
export function contiguous(t: Tensor): Tensor {
  t.assertLive('contiguous');
  if (t.isContiguous()) return viewWithDims('contiguous', t, [...t.shape], [...t.strides]);
  return clone(t);
}

/** A contiguous copy that owns new memory. */
export function clone(t: Tensor): Tensor {
  t.assertLive('clone');
  const out = emptyLike(t);
  t.backend.copy(t, out);
  return record('clone', [t], out, [], (g) => [g]);
}

/** Converts to another dtype (always a copy, except to the same dtype). */
export function cast(t: Tensor, dtype: DType): Tensor {
  t.assertLive('cast');
  if (!isDType(dtype)) throw new Error(`cast: unknown dtype "${dtype}"; expected f32, bf16, f16, f64, i32, i64 or u8`);
  if (dtype === t.dtype) return contiguous(t);
  const out = emptyLike(t, t.shape, dtype);
  t.backend.copy(t, out);
  const inDtype = t.dtype;
  return record('cast', [t], out, [], (g) => [cast(g, inDtype)]);
}

/** Moves to a device ('cpu', 'reference', 'cuda:0') or converts to a dtype. */
export function to(t: Tensor, target: string): Tensor {
  if (isDType(target)) return cast(t, target);
  t.assertLive('to');
  const backend = getBackend(target);
  if (backend === t.backend) return contiguous(t);
  const host = t.dataSync();
  const out = emptyOn(backend, t.shape, t.dtype);
  backend.upload(out.storage, host, 0);
  const inDevice = t.device;
  return record('to', [t], out, [], (g) => [to(g, inDevice)]);
}

declare module '../tensor.js' {
  interface Tensor {
    reshape(...shape: ShapeArgs): Tensor;
    /** Alias of reshape (torch's view copies never; ours copies only non-contiguous tensors). */
    view(...shape: ShapeArgs): Tensor;
    permute(...dims: ShapeArgs): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    slice(dim: number, start?: number, end?: number, step?: number): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    select(dim: number, index: number): Tensor;
    expand(...shape: ShapeArgs): Tensor;
    squeeze(dim?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    flatten(start?: number, end?: number): Tensor;
    contiguous(): Tensor;
    clone(): Tensor;
    cast(dtype: DType): Tensor;
    to(target: string): Tensor;
  }
}

Object.assign(Tensor.prototype, {
  reshape(this: Tensor, ...shape: ShapeArgs) { return reshape(this, ...shape); },
  view(this: Tensor, ...shape: ShapeArgs) { return reshape(this, ...shape); },
  permute(this: Tensor, ...dims: ShapeArgs) { return permute(this, ...dims); },
  transpose(this: Tensor, dim0?: number, dim1?: number) { return transpose(this, dim0, dim1); },
  slice(this: Tensor, dim: number, start?: number, end?: number, step?: number) { return slice(this, dim, start, end, step); },
  narrow(this: Tensor, dim: number, start: number, length: number) { return narrow(this, dim, start, length); },
  select(this: Tensor, dim: number, index: number) { return select(this, dim, index); },
  expand(this: Tensor, ...shape: ShapeArgs) { return expand(this, ...shape); },
  squeeze(this: Tensor, dim?: number) { return squeeze(this, dim); },
  unsqueeze(this: Tensor, dim: number) { return unsqueeze(this, dim); },
  flatten(this: Tensor, start?: number, end?: number) { return flatten(this, start, end); },
  contiguous(this: Tensor) { return contiguous(this); },
  clone(this: Tensor) { return clone(this); },
  cast(this: Tensor, dtype: DType) { return cast(this, dtype); },
  to(this: Tensor, target: string) { return to(this, target); },
});
