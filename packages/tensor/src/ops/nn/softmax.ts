/**
 * softmax and logSoftmax along an axis, fused into one kernel each way (the row max is
 * subtracted before exp, so large logits do not overflow).
 */
import { Tensor } from '../../tensor.js';
import { normalizeAxis } from '../../shape.js';
import { record } from '../../autograd/node.js';
import { contiguousData, emptyLike, requireFloat } from '../util.js';
import { transpose } from '../views.js';
import { contiguousInput } from './kernel-views.js';

export interface SoftmaxOptions {
  /** The axis to normalise over. @default -1 */
  axis?: number;
  /**
   * Masks the last two axes (..., Tq, Tk) causally: entry (q, k) is 0 when k > q + (Tk - Tq),
   * as in decoder attention with a KV cache. Needs axis -1. @default false
   */
  causal?: boolean;
  /** Multiplies x before the softmax (attention's 1 / sqrt(head_dim)). @default 1 */
  scale?: number;
}

/** exp(scale * x) / sum(exp(scale * x)) along an axis; a fully masked row is all 0. */
export function softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
  const op = 'softmax';
  const { axis, scale, causal } = checkOptions(op, x, options);
  if (axis !== x.ndim - 1) {
    if (causal) {
      throw new Error(`softmax: causal masks the last two axes (..., Tq, Tk) and needs axis -1, got axis ${options.axis} for ${x.describe()}`);
    }
    return alongLastAxis(x, axis, (t) => softmax(t, { scale }));
  }
  const xc = contiguousInput(x);
  const out = emptyLike(xc);
  x.backend.softmax(xc, out, { scale, causal });
  record(op, [xc], out, [out], (g, [y]) => {
    const dy = contiguousData(g);
    const dx = emptyLike(y!);
    g.backend.softmaxGrad(y!, dy, dx, { scale });
    return [dx];
  });
  if (xc !== x) xc.dispose();
  return out;
}

export interface LogSoftmaxOptions {
  /** The axis to normalise over. @default -1 */
  axis?: number;
}

/** x - logsumexp(x) along an axis. */
export function logSoftmax(x: Tensor, options: LogSoftmaxOptions = {}): Tensor {
  const op = 'logSoftmax';
  const { axis } = checkOptions(op, x, options);
  if (axis !== x.ndim - 1) return alongLastAxis(x, axis, (t) => logSoftmax(t));
  const xc = contiguousInput(x);
  const out = emptyLike(xc);
  x.backend.logSoftmax(xc, out);
  record(op, [xc], out, [out], (g, [y]) => {
    const dy = contiguousData(g);
    const dx = emptyLike(y!);
    g.backend.logSoftmaxGrad(y!, dy, dx);
    return [dx];
  });
  if (xc !== x) xc.dispose();
  return out;
}

function checkOptions(op: string, x: Tensor, options: SoftmaxOptions): { axis: number; scale: number; causal: boolean } {
  x.assertLive(op);
  requireFloat(op, x);
  if (x.ndim === 0) throw new Error(`${op}: expected a tensor with at least one dimension, got ${x.describe()}`);
  const axis = normalizeAxis(op, options.axis ?? -1, x.ndim);
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  const causal = options.causal ?? false;
  if (causal && x.ndim < 2) throw new Error(`${op}: causal needs x of shape (..., Tq, Tk), got ${x.describe()}`);
  return { axis, scale, causal };
}

// The kernels normalise the last axis: move `axis` there and back (views, recorded).
function alongLastAxis(x: Tensor, axis: number, fn: (t: Tensor) => Tensor): Tensor {
  const moved = transpose(x, axis, -1);
  const y = fn(moved);
  const out = transpose(y, axis, -1);
  moved.dispose();
  y.dispose();
  return out;
}

declare module '../../tensor.js' {
  interface Tensor {
    softmax(options?: SoftmaxOptions): Tensor;
    logSoftmax(options?: LogSoftmaxOptions): Tensor;
  }
}

Object.assign(Tensor.prototype, {
  softmax(this: Tensor, options?: SoftmaxOptions) { return softmax(this, options); },
  logSoftmax(this: Tensor, options?: LogSoftmaxOptions) { return logSoftmax(this, options); },
});
