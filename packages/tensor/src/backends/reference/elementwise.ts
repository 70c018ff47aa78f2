/**
 * Reference elementwise kernels and reductions: every operand read into float64, one plain
 * loop, results rounded once into the output's dtype (integers truncate toward zero).
 */
import type { BinaryOp, CompareOp, ElementwiseOps, ScalarOp, UnaryOp, View } from '../../backend.js';
import { contiguousStrides, numel } from '../../shape.js';
import { read, unravel, write } from './strided.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * erf for |x| < 3 by the series erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) / (2n+1)!!,
 * whose terms are all positive (no cancellation), accurate to a few ulp.
 */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= Math.abs(sum) * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

/** erfc for x >= 1.5 by Laplace's continued fraction, evaluated backwards from 200 terms. */
function erfcContinuedFraction(x: number): number {
  let f = x;
  for (let n = 200; n >= 1; n--) f = x + n / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** erfc(x) = 1 - erf(x), accurate in relative terms in the upper tail. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  // Below 1.5, 1 - erf(x) loses at most 5 bits; above, the fraction converges quickly.
  return x < 1.5 ? 1 - erfSeries(x) : erfcContinuedFraction(x);
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < 3) return erfSeries(x);
  return x > 0 ? 1 - erfcContinuedFraction(x) : erfcContinuedFraction(-x) - 1;
}

/** The standard normal CDF, Phi(x) = erfc(-x / sqrt 2) / 2. */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid,
  // x <= 0 rather than Math.max: relu(NaN) stays NaN, as in torch.
  relu: (x) => (x <= 0 ? 0 : x),
  silu: (x) => x * sigmoid(x),
  gelu: (x) => x * normalCdf(x),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x))),
};

/** dy * op'(x). */
export const UNARY_GRAD: Record<UnaryOp, (x: number, dy: number) => number> = {
  neg: (_, dy) => -dy,
  abs: (x, dy) => (x > 0 ? dy : x < 0 ? -dy : 0),
  exp: (x, dy) => dy * Math.exp(x),
  log: (x, dy) => dy / x,
  sqrt: (x, dy) => (dy * 0.5) / Math.sqrt(x),
  rsqrt: (x, dy) => (dy * -0.5) / (x * Math.sqrt(x)),
  square: (x, dy) => dy * 2 * x,
  reciprocal: (x, dy) => -dy / (x * x),
  sin: (x, dy) => dy * Math.cos(x),
  cos: (x, dy) => -dy * Math.sin(x),
  tanh: (x, dy) => {
    const t = Math.tanh(x);
    return dy * (1 - t * t);
  },
  sigmoid: (x, dy) => {
    const s = sigmoid(x);
    return dy * s * (1 - s);
  },
  relu: (x, dy) => (x > 0 ? dy : 0),
  silu: (x, dy) => {
    const s = sigmoid(x);
    return dy * s * (1 + x * (1 - s));
  },
  gelu: (x, dy) => dy * (normalCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x)),
  gelu_tanh: (x, dy) => {
    const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
    const du = SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
    return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du);
  },
};

// maximum/minimum propagate NaN from either side (Math.max does).
export const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: Math.max,
  minimum: Math.min,
  pow: Math.pow,
};

export const COMPARE: Record<CompareOp, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
};

export const SCALAR: Record<ScalarOp, (x: number, s: number) => number> = {
  add: (x, s) => x + s,
  mul: (x, s) => x * s,
  pow: Math.pow,
  maximum: Math.max,
  minimum: Math.min,
  rsub: (x, s) => s - x,
  rdiv: (x, s) => s / x,
};

/** Row-major offsets into `out` (x's shape with `axes` set to 1) of every element of x. */
function reducedIndex(x: View, axes: readonly number[]): Int32Array {
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outStrides = contiguousStrides(keptShape);
  const n = numel(x.shape);
  const target = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const index = unravel(i, x.shape);
    let o = 0;
    for (let d = 0; d < index.length; d++) if (!axes.includes(d)) o += index[d]! * outStrides[d]!;
    target[i] = o;
  }
  return target;
}

export const referenceElementwise: ElementwiseOps = {
  unary(op, x, out) {
    write(out, read(x).map(UNARY[op]));
  },

  unaryGrad(op, x, dy, out) {
    const xs = read(x);
    const g = read(dy);
    const f = UNARY_GRAD[op];
    write(out, xs.map((v, i) => f(v, g[i]!)));
  },

  binary(op, a, b, out) {
    const av = read(a);
    const bv = read(b);
    const f = BINARY[op];
    write(out, av.map((v, i) => f(v, bv[i]!)));
  },

  compare(op, a, b, out) {
    const av = read(a);
    const bv = read(b);
    const f = COMPARE[op];
    write(out, av.map((v, i) => (f(v, bv[i]!) ? 1 : 0)));
  },

  scalar(op, x, s, out) {
    const f = SCALAR[op];
    write(out, read(x).map((v) => f(v, s)));
  },

  where(cond, a, b, out) {
    const c = read(cond);
    const av = read(a);
    const bv = read(b);
    write(out, c.map((v, i) => (v !== 0 ? av[i]! : bv[i]!)));
  },

  reduce(op, x, axes, out) {
    const values = read(x);
    const target = reducedIndex(x, axes);
    const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
    const acc = new Float64Array(numel(out.shape)).fill(init);
    const f = op === 'sum' ? (p: number, v: number) => p + v : op === 'max' ? Math.max : Math.min;
    for (let i = 0; i < values.length; i++) acc[target[i]!] = f(acc[target[i]!]!, values[i]!);
    write(out, acc);
  },

  argmax(x, axis, out) {
    // The first maximum along axis; NaN counts as larger than everything (torch).
    const values = read(x);
    const n = x.shape[axis]!;
    const inner = numel(x.shape.slice(axis + 1));
    const outer = numel(x.shape.slice(0, axis));
    const result = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < inner; k++) {
        let best = values[o * n * inner + k]!;
        let at = 0;
        for (let i = 1; i < n && !Number.isNaN(best); i++) {
          const v = values[(o * n + i) * inner + k]!;
          if (v > best || Number.isNaN(v)) {
            best = v;
            at = i;
          }
        }
        result[o * inner + k] = at;
      }
    }
    write(out, result);
  },
};
