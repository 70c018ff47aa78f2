/** Shapes and strides: pure helpers shared by tensors, ops and backends. */
export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides, in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** True when a view with these strides is row-major without gaps (size-1 dims ignored). */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of two shapes; the error names the op and both shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** A possibly negative axis made positive; the error names the op. */
export function normalizeAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= Math.max(ndim, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor with ${ndim} dimension(s)`);
  }
  return axis < 0 ? axis + ndim : axis;
}

export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normalizeAxis(op, a, ndim)))];
  return out.sort((x, y) => x - y);
}

export function assertValidShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: invalid shape ${formatShape(shape)}: dimensions must be non-negative integers`);
    }
  }
}
