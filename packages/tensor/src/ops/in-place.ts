/**
 * In-place updates, for optimizers and gradient bookkeeping. They are not recorded on the
 * tape, so they refuse tensors that require grad while grad mode is on (run them inside
 * noGrad(), as optimizers do).
 */
import { Tensor, emptyOn } from '../tensor.js';
import type { View } from '../backend.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { broadcastShapes, formatShape, sameShape } from '../shape.js';
import { checkNumber, expandedView, sameDType, sameDevice, scalarTensor, type TensorOrNumber } from './util.js';

function checkInPlace(op: string, t: Tensor): void {
  if (!(t instanceof Tensor)) throw new Error(`${op}: expected a Tensor to update, got ${typeof t}`);
  t.assertLive(op);
  if (isGradEnabled() && t.requiresGrad) {
    throw new Error(`${op}: ${t.describe()} requires grad, and in-place updates are not recorded for autograd; use the out-of-place op, or run the update inside noGrad() (as optimizers do)`);
  }
  if (t.shape.some((d, i) => d > 1 && t.strides[i] === 0)) {
    throw new Error(`${op}: ${t.describe()} is an expanded (stride-0) view whose elements share memory; clone() it before updating in place`);
  }
}

/** `other` broadcast to t's shape (it may not enlarge t). */
function operandFor(op: string, t: Tensor, other: Tensor): View {
  sameDevice(op, t, other);
  const shape = broadcastShapes(op, t.shape, other.shape);
  if (!sameShape(shape, t.shape)) {
    throw new Error(`${op}: ${other.describe()} cannot be broadcast to the shape ${formatShape(t.shape)} of ${t.describe()} being updated`);
  }
  return expandedView(other, t.shape);
}

/** t += alpha * other, in place; returns t. */
export function add_(t: Tensor, other: TensorOrNumber, alpha = 1): Tensor {
  checkInPlace('add_', t);
  if (!(other instanceof Tensor)) {
    checkNumber('add_', other, 'other');
    t.backend.scalar('add', t, alpha * other, t);
    return t;
  }
  sameDType('add_', t, other);
  const view = operandFor('add_', t, other);
  if (alpha === 1) {
    t.backend.binary('add', t, view, t);
  } else {
    const scaled = emptyOn(t.backend, other.shape, other.dtype);
    t.backend.scalar('mul', other, alpha, scaled);
    t.backend.binary('add', t, expandedView(scaled, t.shape), t);
    scaled.dispose();
  }
  return t;
}

/** t -= alpha * other, in place; returns t. */
export function sub_(t: Tensor, other: TensorOrNumber, alpha = 1): Tensor {
  checkInPlace('sub_', t);
  if (other instanceof Tensor && alpha === 1) {
    sameDType('sub_', t, other);
    t.backend.binary('sub', t, operandFor('sub_', t, other), t);
    return t;
  }
  return add_(t, other, -alpha);
}

/** t *= other, in place; returns t. */
export function mul_(t: Tensor, other: TensorOrNumber): Tensor {
  checkInPlace('mul_', t);
  if (!(other instanceof Tensor)) {
    checkNumber('mul_', other, 'other');
    t.backend.scalar('mul', t, other, t);
    return t;
  }
  sameDType('mul_', t, other);
  t.backend.binary('mul', t, operandFor('mul_', t, other), t);
  return t;
}

/** t /= other, in place; returns t. */
export function div_(t: Tensor, other: TensorOrNumber): Tensor {
  checkInPlace('div_', t);
  if (!(other instanceof Tensor)) {
    checkNumber('div_', other, 'other');
    const st = scalarTensor(t.backend, t.dtype, other);
    t.backend.binary('div', t, expandedView(st, t.shape), t);
    st.dispose();
    return t;
  }
  sameDType('div_', t, other);
  t.backend.binary('div', t, operandFor('div_', t, other), t);
  return t;
}

/** Copies src (broadcast to dst's shape, converted to dst's dtype) into dst; returns dst. */
export function copy_(dst: Tensor, src: Tensor): Tensor {
  checkInPlace('copy_', dst);
  if (!(src instanceof Tensor)) throw new Error(`copy_: src must be a Tensor, got ${typeof src}`);
  dst.backend.copy(operandFor('copy_', dst, src), dst);
  return dst;
}

/** Sets every element of t to value (rounded to t's dtype); returns t. */
export function fill_(t: Tensor, value: number): Tensor {
  checkInPlace('fill_', t);
  checkNumber('fill_', value, 'value');
  t.backend.fill(t, value);
  return t;
}

export function zero_(t: Tensor): Tensor {
  return fill_(t, 0);
}

declare module '../tensor.js' {
  interface Tensor {
    add_(other: TensorOrNumber, alpha?: number): Tensor;
    sub_(other: TensorOrNumber, alpha?: number): Tensor;
    mul_(other: TensorOrNumber): Tensor;
    div_(other: TensorOrNumber): Tensor;
    copy_(src: Tensor): Tensor;
    fill_(value: number): Tensor;
    zero_(): Tensor;
  }
}

Object.assign(Tensor.prototype, {
  add_(this: Tensor, other: TensorOrNumber, alpha?: number) { return add_(this, other, alpha); },
  sub_(this: Tensor, other: TensorOrNumber, alpha?: number) { return sub_(this, other, alpha); },
  mul_(this: Tensor, other: TensorOrNumber) { return mul_(this, other); },
  div_(this: Tensor, other: TensorOrNumber) { return div_(this, other); },
  copy_(this: Tensor, src: Tensor) { return copy_(this, src); },
  fill_(this: Tensor, value: number) { return fill_(this, value); },
  zero_(this: Tensor) { return zero_(this); },
});
