/**
 * Joining and splitting along an axis: cat, stack, split, chunk. cat copies each input into
 * its slice of the output, and its backward hands each input the matching slice (a view) of
 * the gradient; split and chunk return views, recorded like slices.
 */
import { Tensor, emptyOn } from '../tensor.js';
import { record } from '../autograd/node.js';
import { formatShape, normalizeAxis } from '../shape.js';
import { sameDevice } from './util.js';
import { narrow, unsqueeze } from './views.js';

/** Joins tensors of the same dtype and rank, equal in every dimension but `axis`. */
export function cat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new Error('cat: expected a non-empty array of tensors');
  const first = tensors[0]!;
  const backend = sameDevice('cat', ...tensors);
  const a = normalizeAxis('cat', axis, first.ndim);
  if (first.ndim === 0) throw new Error(`cat: ${first.describe()} is 0-d; use stack to join scalars`);
  tensors.forEach((t, i) => {
    if (t.dtype !== first.dtype) {
      throw new Error(`cat: tensor ${i} ${t.describe()} has dtype ${t.dtype}, but tensor 0 is ${first.dtype}; convert with .cast()`);
    }
    if (t.ndim !== first.ndim || t.shape.some((d, j) => j !== a && d !== first.shape[j])) {
      throw new Error(`cat: tensor ${i} has shape ${formatShape(t.shape)} but tensor 0 has ${formatShape(first.shape)}; they must match in every dimension except axis ${a}`);
    }
  });
  const sizes = tensors.map((t) => t.shape[a]!);
  const shape = [...first.shape];
  shape[a] = sizes.reduce((s, n) => s + n, 0);
  // out: the inputs' shape with axis a of size sum(sizes); input i fills [start_i, start_i + sizes[i]).
  const out = emptyOn(backend, shape, first.dtype);
  let start = 0;
  for (const t of tensors) {
    const window = { storage: out.storage, dtype: out.dtype, shape: t.shape, strides: out.strides, offset: start * out.strides[a]! };
    backend.copy(t, window);
    start += t.shape[a]!;
  }
  return record('cat', tensors, out, [], (g, _, needs) => {
    let offset = 0;
    return sizes.map((n, i) => {
      const piece = needs[i] ? narrow(g, a, offset, n) : null;
      offset += n;
      return piece;
    });
  });
}

/** Joins tensors of one shape along a new axis (0 <= axis <= ndim). */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new Error('stack: expected a non-empty array of tensors');
  const first = tensors[0]!;
  const a = normalizeAxis('stack', axis, first.ndim + 1);
  tensors.forEach((t, i) => {
    t.assertLive('stack');
    if (t.ndim !== first.ndim || t.shape.some((d, j) => d !== first.shape[j])) {
      throw new Error(`stack: tensor ${i} has shape ${formatShape(t.shape)} but tensor 0 has ${formatShape(first.shape)}; stack needs equal shapes`);
    }
  });
  const expanded = tensors.map((t) => unsqueeze(t, a));
  try {
    return cat(expanded, a);
  } finally {
    for (const t of expanded) t.dispose();
  }
}

/**
 * Views of x along axis: pieces of `sizes[i]` elements (which must add up to the axis
 * length), or of `size` elements each with a shorter last piece.
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  x.assertLive('split');
  const a = normalizeAxis('split', axis, x.ndim);
  const length = x.shape[a]!;
  let pieces: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) throw new Error(`split: the piece size must be a positive integer, got ${sizes}`);
    pieces = [];
    for (let s = 0; s < length; s += sizes) pieces.push(Math.min(sizes, length - s));
    if (length === 0) pieces.push(0);
  } else {
    pieces = [...sizes];
    const total = pieces.reduce((s, n) => s + n, 0);
    if (pieces.some((n) => !Number.isInteger(n) || n < 0) || total !== length) {
      throw new Error(`split: sizes ${formatShape(pieces)} must be non-negative integers adding up to ${length}, the length of axis ${a} of ${x.describe()}`);
    }
  }
  let start = 0;
  return pieces.map((n) => {
    const piece = narrow(x, a, start, n);
    start += n;
    return piece;
  });
}

/** x split into n pieces along axis (torch.chunk: pieces of ceil(len / n), possibly fewer). */
export function chunk(x: Tensor, n: number, axis = 0): Tensor[] {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`chunk: the number of chunks must be a positive integer, got ${n}`);
  const a = normalizeAxis('chunk', axis, x.ndim);
  return split(x, Math.max(1, Math.ceil(x.shape[a]! / n)), a);
}

declare module '../tensor.js' {
  interface Tensor {
    split(sizes: number | readonly number[], axis?: number): Tensor[];
    chunk(n: number, axis?: number): Tensor[];
  }
}

Object.assign(Tensor.prototype, {
  split(this: Tensor, sizes: number | readonly number[], axis?: number) { return split(this, sizes, axis); },
  chunk(this: Tensor, n: number, axis?: number) { return chunk(this, n, axis); },
});
