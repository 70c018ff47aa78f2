/**
 * Reductions: sum, mean, max, min, argmax, logsumexp over one axis, several, or all.
 *
 * `axes` is a number, a list, or undefined for every axis; negative axes count from the end.
 * With keepDim the reduced axes stay as size 1 (ready to broadcast against the input).
 * Floating sums accumulate in at least f32 on every backend (double on the CPU) and round
 * once; integer sums give i64, as in torch.
 */
import { Tensor, emptyOn, viewOf } from '../tensor.js';
import type { ReduceOp } from '../backend.js';
import { record } from '../autograd/node.js';
import { isFloat, type DType } from '../dtype.js';
import { contiguousStrides, formatShape, normalizeAxes, normalizeAxis, numel, type Shape } from '../shape.js';
import { requireFloat, sameDevice } from './util.js';
import { expandedView, scalarTensor } from './util.js';

export type Axes = number | readonly number[] | undefined;

interface Plan {
  axes: number[];
  /** x's shape with the reduced axes set to 1. */
  keptShape: number[];
  /** The result's shape (keptShape without the reduced axes unless keepDim). */
  shape: number[];
  /** Elements reduced into each output. */
  count: number;
}

function plan(op: string, x: Tensor, axes: Axes, keepDim: boolean): Plan {
  const list = x.ndim === 0 ? [] : normalizeAxes(op, axes, x.ndim);
  const keptShape = x.shape.map((d, i) => (list.includes(i) ? 1 : d));
  const shape = keepDim ? keptShape : x.shape.filter((_, i) => !list.includes(i));
  return { axes: list, keptShape, shape, count: numel(list.map((a) => x.shape[a]!)) };
}

/** A contiguous result viewed in the requested shape (the reduced axes kept or dropped). */
function reshaped(t: Tensor, shape: Shape): Tensor {
  if (t.shape.length === shape.length) return t;
  const out = viewOf(t, [...shape], contiguousStrides(shape), t.offset);
  t.dispose();
  return out;
}

/** g (the result's shape) broadcast back to x's shape as a new contiguous tensor. */
function spread(g: Tensor, p: Plan, xShape: Shape): Tensor {
  const kept: Tensor = g.isContiguous() ? g : g.contiguous();
  const view = { storage: kept.storage, dtype: kept.dtype, shape: p.keptShape, strides: contiguousStrides(p.keptShape), offset: kept.offset };
  const out = emptyOn(g.backend, xShape, g.dtype);
  g.backend.copy(expandedView(view, xShape), out);
  if (kept !== g) kept.dispose();
  return out;
}

// max, min and logsumexp have no value for an empty slice (sum's is 0).
function rejectEmpty(op: string, x: Tensor, p: Plan): void {
  if (p.count === 0) throw new Error(`${op}: cannot reduce ${x.describe()} over an empty axis (axes ${formatShape(p.axes)}): ${op} of nothing is undefined`);
}

function reduceInto(op: ReduceOp, x: Tensor, p: Plan, dtype: DType): Tensor {
  const out = emptyOn(x.backend, p.keptShape, dtype);
  x.backend.reduce(op, x, p.axes, out);
  return out;
}

/** Sum over axes (all by default); integer tensors sum into i64. */
export function sum(x: Tensor, axes?: Axes, keepDim = false): Tensor {
  sameDevice('sum', x);
  const p = plan('sum', x, axes, keepDim);
  const out = reshaped(reduceInto('sum', x, p, isFloat(x.dtype) ? x.dtype : 'i64'), p.shape);
  const xShape = x.shape;
  return record('sum', [x], out, [], (g) => [spread(g, p, xShape)]);
}

/** Mean over axes (all by default); floating tensors only. */
export function mean(x: Tensor, axes?: Axes, keepDim = false): Tensor {
  sameDevice('mean', x);
  requireFloat('mean', x);
  const p = plan('mean', x, axes, keepDim);
  // Half-precision inputs are summed and scaled in f32, then rounded once.
  const wide: DType = x.dtype === 'bf16' || x.dtype === 'f16' ? 'f32' : x.dtype;
  let out = reduceInto('sum', x, p, wide);
  out.backend.scalar('mul', out, 1 / p.count, out);
  if (wide !== x.dtype) {
    const narrow = emptyOn(x.backend, p.keptShape, x.dtype);
    x.backend.copy(out, narrow);
    out.dispose();
    out = narrow;
  }
  const xShape = x.shape;
  return record('mean', [x], reshaped(out, p.shape), [], (g) => {
    const dx = spread(g, p, xShape);
    dx.backend.scalar('mul', dx, 1 / p.count, dx);
    return [dx];
  });
}

/**
 * max/min values over axes. The gradient goes to the elements equal to the result, split
 * evenly among ties.
 */
function extreme(op: 'max' | 'min', x: Tensor, axes: Axes, keepDim: boolean): Tensor {
  sameDevice(op, x);
  const p = plan(op, x, axes, keepDim);
  rejectEmpty(op, x, p);
  const kept = reduceInto(op, x, p, x.dtype);
  const saved = kept.alias();
  const out = reshaped(kept, p.shape);
  const xShape = x.shape;
  try {
    return record(op, [x], out, [x, saved], (g, [xs, m]) => {
      // xs, mask: x's shape  m, ties, gk: keptShape (x's shape with the reduced axes 1)
      const backend = g.backend;
      // mask = (x == result) as x's dtype; share = mask / count of ties, times g.
      const hit = emptyOn(backend, xShape, 'u8');
      backend.compare('eq', xs!, expandedView(m!, xShape), hit);
      const mask = emptyOn(backend, xShape, xs!.dtype);
      backend.copy(hit, mask);
      const ties = emptyOn(backend, p.keptShape, xs!.dtype);
      backend.reduce('sum', mask, p.axes, ties);
      const gk = spread(g, p, p.keptShape);
      backend.binary('div', gk, ties, gk);
      backend.binary('mul', mask, expandedView(gk, xShape), mask);
      return [mask];
    });
  } finally {
    saved.dispose();
  }
}

export function max(x: Tensor, axes?: Axes, keepDim = false): Tensor {
  return extreme('max', x, axes, keepDim);
}

export function min(x: Tensor, axes?: Axes, keepDim = false): Tensor {
  return extreme('min', x, axes, keepDim);
}

/**
 * Index (i64) of the first maximum along axis; over the flattened tensor when axis is
 * undefined (a 0-d result). NaN counts as the maximum, as in torch.
 */
export function argmax(x: Tensor, axis?: number, keepDim = false): Tensor {
  const backend = sameDevice('argmax', x);
  if (x.size === 0) throw new Error(`argmax: ${x.describe()} is empty`);
  if (axis === undefined) {
    const flat = x.isContiguous() ? viewOf(x, [x.size], [1], x.offset) : x.contiguous().reshape(x.size);
    try {
      const out = emptyOn(backend, [1], 'i64');
      backend.argmax(flat, 0, out);
      return reshaped(out, keepDim ? x.shape.map(() => 1) : []);
    } finally {
      flat.dispose();
    }
  }
  const a = normalizeAxis('argmax', axis, x.ndim);
  if (x.ndim === 0) return reshaped(emptyFilledZero(x), []);
  const keptShape = x.shape.map((d, i) => (i === a ? 1 : d));
  const out = emptyOn(backend, keptShape, 'i64');
  backend.argmax(x, a, out);
  return reshaped(out, keepDim ? keptShape : x.shape.filter((_, i) => i !== a));
}

function emptyFilledZero(x: Tensor): Tensor {
  const out = emptyOn(x.backend, [1], 'i64');
  x.backend.fill(out, 0);
  return out;
}

/**
 * log(sum(exp(x))) over axes, computed stably: the maximum is subtracted before exp and added
 * back after log. Its gradient is softmax(x) * g.
 */
export function logsumexp(x: Tensor, axes?: Axes, keepDim = false): Tensor {
  const backend = sameDevice('logsumexp', x);
  requireFloat('logsumexp', x);
  const p = plan('logsumexp', x, axes, keepDim);
  rejectEmpty('logsumexp', x, p);
  // Half-precision inputs are computed in f32 (exp of every element would round to 8 or 11
  // bits before the sum otherwise) and rounded once at the end.
  const dtype: DType = x.dtype === 'bf16' || x.dtype === 'f16' ? 'f32' : x.dtype;
  const src = dtype === x.dtype ? x : emptyOn(backend, x.shape, dtype);
  if (src !== x) backend.copy(x, src);
  // src, shifted: x's shape  m, wideOut: keptShape (the reduced axes set to 1)
  const m = reduceInto('max', src, p, dtype);
  // An all -Infinity (or +Infinity) slice would give inf - inf: shift by 0 there instead.
  const finite = emptyOn(backend, p.keptShape, 'u8');
  const absM = emptyOn(backend, p.keptShape, dtype);
  const inf = scalarTensor(backend, dtype, Infinity);
  const zero = scalarTensor(backend, dtype, 0);
  backend.unary('abs', m, absM);
  backend.compare('lt', absM, expandedView(inf, p.keptShape), finite);
  backend.where(finite, m, expandedView(zero, p.keptShape), m);
  const shifted = emptyOn(backend, x.shape, dtype);
  backend.binary('sub', src, expandedView(m, x.shape), shifted);
  backend.unary('exp', shifted, shifted);
  const wideOut = reduceInto('sum', shifted, p, dtype);
  backend.unary('log', wideOut, wideOut);
  backend.binary('add', wideOut, m, wideOut);
  let out = wideOut;
  if (dtype !== x.dtype) {
    out = emptyOn(backend, p.keptShape, x.dtype);
    backend.copy(wideOut, out);
    wideOut.dispose();
    src.dispose();
  }
  for (const t of [finite, absM, inf, zero, shifted, m]) t.dispose();
  const saved = out.alias();
  const xShape = x.shape;
  try {
    return record('logsumexp', [x], reshaped(out, p.shape), [x, saved], (g, [xs, lse]) => {
      // dx = g * exp(x - lse)
      const dx = emptyOn(g.backend, xShape, xs!.dtype);
      g.backend.binary('sub', xs!, expandedView(lse!, xShape), dx);
      g.backend.unary('exp', dx, dx);
      const gx = spread(g, p, xShape);
      g.backend.binary('mul', dx, gx, dx);
      gx.dispose();
      return [dx];
    });
  } finally {
    saved.dispose();
  }
}

declare module '../tensor.js' {
  interface Tensor {
    sum(axes?: Axes, keepDim?: boolean): Tensor;
    mean(axes?: Axes, keepDim?: boolean): Tensor;
    max(axes?: Axes, keepDim?: boolean): Tensor;
    min(axes?: Axes, keepDim?: boolean): Tensor;
    argmax(axis?: number, keepDim?: boolean): Tensor;
    logsumexp(axes?: Axes, keepDim?: boolean): Tensor;
  }
}

Object.assign(Tensor.prototype, {
  sum(this: Tensor, axes?: Axes, keepDim?: boolean) { return sum(this, axes, keepDim); },
  mean(this: Tensor, axes?: Axes, keepDim?: boolean) { return mean(this, axes, keepDim); },
  max(this: Tensor, axes?: Axes, keepDim?: boolean) { return max(this, axes, keepDim); },
  min(this: Tensor, axes?: Axes, keepDim?: boolean) { return min(this, axes, keepDim); },
  argmax(this: Tensor, axis?: number, keepDim?: boolean) { return argmax(this, axis, keepDim); },
  logsumexp(this: Tensor, axes?: Axes, keepDim?: boolean) { return logsumexp(this, axes, keepDim); },
});
