/**
 * Elementwise ops: arithmetic with NumPy broadcasting, unary math, comparisons, where and
 * clamp (in-place updates are in in-place.ts).
 *
 * Operands are tensors or plain numbers on either side. Two tensors must have the same dtype
 * (no implicit promotion: convert with .cast()); a number takes the tensor's dtype. Integer
 * tensors compute in float64 like the reference backend and truncate toward zero when
 * stored (so integer division truncates). Broadcast inputs reach the kernels as stride-0
 * views, and their gradients are summed back to their own shapes.
 */
import { Tensor, emptyOn } from '../tensor.js';
import type { Backend, BinaryOp, CompareOp, ScalarOp, UnaryOp, View } from '../backend.js';
import { record } from '../autograd/node.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { isFloat, type DType } from '../dtype.js';
import { broadcastShapes, formatShape, sameShape, type Shape } from '../shape.js';
import { checkNumber, expandedView, requireDType, requireFloat, sameDType, sameDevice, scalarTensor, sumToShape, type TensorOrNumber } from './util.js';

// ---------------------------------------------------------------------------------------
// Binary arithmetic

function binaryTensors(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const backend = sameDevice(op, a, b);
  sameDType(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = emptyOn(backend, shape, a.dtype);
  backend.binary(op, expandedView(a, shape), expandedView(b, shape), out);
  const aShape = a.shape;
  const bShape = b.shape;
  switch (op) {
    case 'add':
      return record(op, [a, b], out, [], (g, _, needs) => [needs[0] ? sumToShape(g, aShape) : null, needs[1] ? sumToShape(g, bShape) : null]);
    case 'sub':
      return record(op, [a, b], out, [], (g, _, needs) => [needs[0] ? sumToShape(g, aShape) : null, needs[1] ? sumToShape(neg(g), bShape) : null]);
    case 'mul':
      return record(op, [a, b], out, [a, b], (g, [x, y], needs) => [
        needs[0] ? sumToShape(mul(g, y!), aShape) : null,
        needs[1] ? sumToShape(mul(g, x!), bShape) : null,
      ]);
    case 'div':
      // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2.
      return record(op, [a, b], out, [a, b], (g, [x, y], needs) => [
        needs[0] ? sumToShape(div(g, y!), aShape) : null,
        needs[1] ? sumToShape(neg(div(mul(g, x!), square(y!))), bShape) : null,
      ]);
    case 'pow':
      // d(a^b)/da = b * a^(b-1), taken as 0 where b == 0 (0 * 0^-1 would be NaN).
      return record(op, [a, b], out, [a, b, out], (g, [x, y, z], needs) => [
        needs[0] ? sumToShape(where(eq(y!, 0), 0, mul(mul(g, y!), pow(x!, sub(y!, 1)))), aShape) : null,
        needs[1] ? sumToShape(powExponentGrad(g, x!, z!), bShape) : null,
      ]);
    case 'maximum':
    case 'minimum': {
      const wins: CompareOp = op === 'maximum' ? 'gt' : 'lt';
      return record(op, [a, b], out, [a, b], (g, [x, y], needs) => [
        needs[0] ? sumToShape(mul(g, tieSplitMask(wins, x!, y!, g.shape)), aShape) : null,
        needs[1] ? sumToShape(mul(g, tieSplitMask(wins, y!, x!, g.shape)), bShape) : null,
      ]);
    }
  }
}

/** d(a^b)/db = a^b * log(a), taken as 0 where a == 0 (torch's convention for 0^b). */
function powExponentGrad(g: Tensor, a: Tensor, out: Tensor): Tensor {
  const raw = mul(mul(g, out), log(a));
  return where(eq(a, 0), 0, raw);
}

/**
 * 1 where x wins (x op y), 0.5 where they tie, 0 where y wins: max/min send the gradient to the
 * winner and split it evenly on ties.
 */
function tieSplitMask(wins: CompareOp, x: Tensor, y: Tensor, shape: Shape): Tensor {
  const backend = x.backend;
  const win = emptyOn(backend, shape, 'u8');
  const tie = emptyOn(backend, shape, 'u8');
  backend.compare(wins, expandedView(x, shape), expandedView(y, shape), win);
  backend.compare('eq', expandedView(x, shape), expandedView(y, shape), tie);
  const mask = emptyOn(backend, shape, x.dtype);
  const half = emptyOn(backend, shape, x.dtype);
  backend.copy(win, mask);
  backend.copy(tie, half);
  backend.scalar('mul', half, 0.5, half);
  backend.binary('add', mask, half, mask);
  for (const t of [win, tie, half]) t.dispose();
  return mask;
}

// x op s for a number s on the right.
function binaryScalarRight(op: BinaryOp, x: Tensor, s: number): Tensor {
  switch (op) {
    case 'add':
    case 'sub': {
      const out = scalarKernel(op, x, 'add', op === 'add' ? s : -s);
      return record(op, [x], out, [], (g) => [g]);
    }
    case 'mul': {
      const out = scalarKernel(op, x, 'mul', s);
      return record(op, [x], out, [], (g) => [mul(g, s)]);
    }
    case 'div':
      // A true division (x / s), not x * (1/s), so integer and exact cases stay exact.
      return withScalarTensor(x, s, (st) => binaryTensors('div', x, st));
    case 'pow': {
      const out = scalarKernel(op, x, 'pow', s);
      return record(op, [x], out, [x], (g, [xs]) => [s === 0 ? mul(g, 0) : mul(g, mul(pow(xs!, s - 1), s))]);
    }
    case 'maximum':
    case 'minimum': {
      const out = scalarKernel(op, x, op, s);
      const wins: CompareOp = op === 'maximum' ? 'gt' : 'lt';
      return record(op, [x], out, [x], (g, [xs]) => [withScalarTensor(xs!, s, (st) => mul(g, tieSplitMask(wins, xs!, st, g.shape)))]);
    }
  }
}

// s op x for a number s on the left.
function binaryScalarLeft(op: BinaryOp, s: number, x: Tensor): Tensor {
  switch (op) {
    case 'add':
    case 'mul':
    case 'maximum':
    case 'minimum':
      return binaryScalarRight(op, x, s);
    case 'sub': {
      const out = scalarKernel(op, x, 'rsub', s);
      return record(op, [x], out, [], (g) => [neg(g)]);
    }
    case 'div': {
      // d(s/x)/dx = -s/x^2 = -out/x.
      const out = scalarKernel(op, x, 'rdiv', s);
      return record(op, [x], out, [x, out], (g, [xs, o]) => [neg(div(mul(g, o!), xs!))]);
    }
    case 'pow':
      return withScalarTensor(x, s, (st) => binaryTensors('pow', st, x));
  }
}

function scalarKernel(name: string, x: Tensor, op: ScalarOp, s: number): Tensor {
  const backend = sameDevice(name, x);
  const out = emptyOn(backend, x.shape, x.dtype);
  backend.scalar(op, x, s, out);
  return out;
}

function withScalarTensor(like: Tensor, s: number, fn: (st: Tensor) => Tensor): Tensor {
  const st = scalarTensor(like.backend, like.dtype, s);
  try {
    return fn(st);
  } finally {
    st.dispose();
  }
}

function binary(op: BinaryOp, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return binaryTensors(op, a, b);
  if (a instanceof Tensor) {
    checkNumber(op, b as number, 'the second operand');
    a.assertLive(op);
    return binaryScalarRight(op, a, b as number);
  }
  if (b instanceof Tensor) {
    checkNumber(op, a, 'the first operand');
    b.assertLive(op);
    return binaryScalarLeft(op, a, b);
  }
  throw new Error(`${op}: at least one operand must be a Tensor, got ${typeof a} and ${typeof b}`);
}

/** a + b, broadcasting. */
export function add(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary('add', a, b);
}
/** a - b, broadcasting. */
export function sub(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary('sub', a, b);
}
/** a * b, broadcasting. */
export function mul(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary('mul', a, b);
}
/** a / b, broadcasting (integer tensors truncate toward zero). */
export function div(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary('div', a, b);
}
/** a ** b, broadcasting. */
export function pow(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary('pow', a, b);
}
/** Elementwise maximum (NaN wins); on ties the gradient is split evenly. */
export function maximum(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary('maximum', a, b);
}
/** Elementwise minimum (NaN wins); on ties the gradient is split evenly. */
export function minimum(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binary('minimum', a, b);
}

// ---------------------------------------------------------------------------------------
// Unary math (floating tensors)

const UNARY_NAMES: Record<UnaryOp, string> = {
  neg: 'neg', abs: 'abs', exp: 'exp', log: 'log', sqrt: 'sqrt', rsqrt: 'rsqrt', square: 'square',
  reciprocal: 'reciprocal', sin: 'sin', cos: 'cos', tanh: 'tanh', sigmoid: 'sigmoid', relu: 'relu',
  silu: 'silu', gelu: 'gelu', gelu_tanh: 'geluTanh',
};

function unary(op: UnaryOp, x: Tensor): Tensor {
  const name = UNARY_NAMES[op];
  if (!(x instanceof Tensor)) throw new Error(`${name}: expected a Tensor, got ${typeof x}`);
  const backend = sameDevice(name, x);
  requireFloat(name, x);
  const out = emptyOn(backend, x.shape, x.dtype);
  backend.unary(op, x, out);
  return record(name, [x], out, [x], (g, [xs]) => {
    const dx = emptyOn(g.backend, xs!.shape, xs!.dtype);
    g.backend.unaryGrad(op, xs!, g, dx);
    return [dx];
  });
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
/** 1 / sqrt(x). */
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
export const square = (x: Tensor): Tensor => unary('square', x);
/** 1 / x. */
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
export const sin = (x: Tensor): Tensor => unary('sin', x);
export const cos = (x: Tensor): Tensor => unary('cos', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** x * sigmoid(x) (SwiGLU's activation). */
export const silu = (x: Tensor): Tensor => unary('silu', x);
/** x * Phi(x) with the exact erf (torch's default gelu). */
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
/** gelu with the tanh approximation (GPT-2's gelu_new). */
export const geluTanh = (x: Tensor): Tensor => unary('gelu_tanh', x);

// ---------------------------------------------------------------------------------------
// Comparisons (u8 results, no gradient)

function compare(op: CompareOp, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) {
    const backend = sameDevice(op, a, b);
    sameDType(op, a, b);
    const shape = broadcastShapes(op, a.shape, b.shape);
    const out = emptyOn(backend, shape, 'u8');
    backend.compare(op, expandedView(a, shape), expandedView(b, shape), out);
    return out;
  }
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new Error(`${op}: at least one operand must be a Tensor, got ${typeof a} and ${typeof b}`);
  }
  const t = (a instanceof Tensor ? a : b) as Tensor;
  const s = (a instanceof Tensor ? b : a) as number;
  checkNumber(op, s, 'the number operand');
  t.assertLive(op);
  // A fractional number against an integer tensor compares in float64 (x < 2.5 must not
  // become x < 2).
  if (!isFloat(t.dtype) && !Number.isInteger(s)) {
    const wide = emptyOn(t.backend, t.shape, 'f64');
    t.backend.copy(t, wide);
    try {
      return a instanceof Tensor ? compare(op, wide, s) : compare(op, s, wide);
    } finally {
      wide.dispose();
    }
  }
  return withScalarTensor(t, s, (st) => (a instanceof Tensor ? compare(op, t, st) : compare(op, st, t)));
}

/** a == b (u8: 1 or 0), broadcasting. */
export const eq = (a: TensorOrNumber, b: TensorOrNumber): Tensor => compare('eq', a, b);
export const ne = (a: TensorOrNumber, b: TensorOrNumber): Tensor => compare('ne', a, b);
export const lt = (a: TensorOrNumber, b: TensorOrNumber): Tensor => compare('lt', a, b);
export const le = (a: TensorOrNumber, b: TensorOrNumber): Tensor => compare('le', a, b);
export const gt = (a: TensorOrNumber, b: TensorOrNumber): Tensor => compare('gt', a, b);
export const ge = (a: TensorOrNumber, b: TensorOrNumber): Tensor => compare('ge', a, b);

// ---------------------------------------------------------------------------------------
// where, clamp

/**
 * cond ? a : b elementwise; cond is u8 (the result of a comparison), all three broadcast
 * together. A number takes the other operand's dtype (f32 when both are numbers).
 */
export function where(cond: Tensor, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  if (!(cond instanceof Tensor)) throw new Error(`where: cond must be a u8 Tensor, got ${typeof cond}`);
  const tensors = [cond, a, b].filter((t): t is Tensor => t instanceof Tensor);
  const backend = sameDevice('where', ...tensors);
  requireDType('where', cond, ['u8'], 'cond');
  if (a instanceof Tensor && b instanceof Tensor) sameDType('where', a, b);
  const dtype = a instanceof Tensor ? a.dtype : b instanceof Tensor ? b.dtype : 'f32';
  const owned: Tensor[] = [];
  const operand = (v: TensorOrNumber, role: string): Tensor => {
    if (v instanceof Tensor) return v;
    checkNumber('where', v, role);
    const st = scalarTensor(backend, dtype, v);
    owned.push(st);
    return st;
  };
  try {
    const ta = operand(a, 'a');
    const tb = operand(b, 'b');
    const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, ta.shape), tb.shape);
    const out = emptyOn(backend, shape, dtype);
    backend.where(expandedView(cond, shape), expandedView(ta, shape), expandedView(tb, shape), out);
    const inputs = [ta, tb].filter((t) => !owned.includes(t));
    const aShape = ta.shape;
    const bShape = tb.shape;
    return record('where', inputs, out, [cond], (g, [c], needs) => {
      const grads: (Tensor | null)[] = [];
      const gradFor = (takeWhenTrue: boolean, shape: Shape) =>
        sumToShape(takeWhenTrue ? where(c!, g, 0) : where(c!, 0, g), shape);
      let i = 0;
      if (!owned.includes(ta)) grads.push(needs[i++] ? gradFor(true, aShape) : null);
      if (!owned.includes(tb)) grads.push(needs[i++] ? gradFor(false, bShape) : null);
      return grads;
    });
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * Limits x to [min, max] (either bound may be omitted). The gradient passes where
 * min <= x <= max and is 0 where x was clamped.
 */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  const backend = sameDevice('clamp', x);
  if (min === undefined && max === undefined) throw new Error(`clamp: give min, max or both for ${x.describe()}`);
  if (min !== undefined) checkNumber('clamp', min, 'min');
  if (max !== undefined) checkNumber('clamp', max, 'max');
  const out = emptyOn(backend, x.shape, x.dtype);
  if (min !== undefined) backend.scalar('maximum', x, min, out);
  if (max !== undefined) backend.scalar('minimum', min !== undefined ? out : x, max, out);
  return record('clamp', [x], out, [x], (g, [xs]) => {
    let grad = g;
    if (min !== undefined) grad = where(ge(xs!, min), grad, 0);
    if (max !== undefined) grad = where(le(xs!, max), grad, 0);
    return [grad];
  });
}

// ---------------------------------------------------------------------------------------
// Tensor methods

declare module '../tensor.js' {
  interface Tensor {
    add(other: TensorOrNumber): Tensor;
    sub(other: TensorOrNumber): Tensor;
    mul(other: TensorOrNumber): Tensor;
    div(other: TensorOrNumber): Tensor;
    pow(exponent: TensorOrNumber): Tensor;
    maximum(other: TensorOrNumber): Tensor;
    minimum(other: TensorOrNumber): Tensor;
    neg(): Tensor;
    abs(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    silu(): Tensor;
    gelu(): Tensor;
    geluTanh(): Tensor;
    eq(other: TensorOrNumber): Tensor;
    ne(other: TensorOrNumber): Tensor;
    lt(other: TensorOrNumber): Tensor;
    le(other: TensorOrNumber): Tensor;
    gt(other: TensorOrNumber): Tensor;
    ge(other: TensorOrNumber): Tensor;
    clamp(min?: number, max?: number): Tensor;
  }
}

Object.assign(Tensor.prototype, {
  add(this: Tensor, other: TensorOrNumber) { return add(this, other); },
  sub(this: Tensor, other: TensorOrNumber) { return sub(this, other); },
  mul(this: Tensor, other: TensorOrNumber) { return mul(this, other); },
  div(this: Tensor, other: TensorOrNumber) { return div(this, other); },
  pow(this: Tensor, exponent: TensorOrNumber) { return pow(this, exponent); },
  maximum(this: Tensor, other: TensorOrNumber) { return maximum(this, other); },
  minimum(this: Tensor, other: TensorOrNumber) { return minimum(this, other); },
  neg(this: Tensor) { return neg(this); },
  abs(this: Tensor) { return abs(this); },
  exp(this: Tensor) { return exp(this); },
  log(this: Tensor) { return log(this); },
  sqrt(this: Tensor) { return sqrt(this); },
  rsqrt(this: Tensor) { return rsqrt(this); },
  square(this: Tensor) { return square(this); },
  reciprocal(this: Tensor) { return reciprocal(this); },
  sin(this: Tensor) { return sin(this); },
  cos(this: Tensor) { return cos(this); },
  tanh(this: Tensor) { return tanh(this); },
  sigmoid(this: Tensor) { return sigmoid(this); },
  relu(this: Tensor) { return relu(this); },
  silu(this: Tensor) { return silu(this); },
  gelu(this: Tensor) { return gelu(this); },
  geluTanh(this: Tensor) { return geluTanh(this); },
  eq(this: Tensor, other: TensorOrNumber) { return eq(this, other); },
  ne(this: Tensor, other: TensorOrNumber) { return ne(this, other); },
  lt(this: Tensor, other: TensorOrNumber) { return lt(this, other); },
  le(this: Tensor, other: TensorOrNumber) { return le(this, other); },
  gt(this: Tensor, other: TensorOrNumber) { return gt(this, other); },
  ge(this: Tensor, other: TensorOrNumber) { return ge(this, other); },
  clamp(this: Tensor, min?: number, max?: number) { return clamp(this, min, max); },
});
