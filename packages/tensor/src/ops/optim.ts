/**
 * Optimizer kernels exposed as ops. They update tensors in place and are never recorded on
 * the tape: an optimizer step is not part of the function being differentiated, so call them
 * after backward(), on leaves (parameters), like torch's optimizers under no_grad.
 */
import type { Tensor } from '../tensor.js';
import { formatShape } from '../shape.js';
import { contiguousData, requireDType, requireFloat, requireShape, sameDevice } from './util.js';

export interface AdamWUpdateOptions {
  /** Learning rate (>= 0). */
  lr: number;
  /** Decay of the first moment, in [0, 1) (torch's betas[0], usually 0.9). */
  beta1: number;
  /** Decay of the second moment, in [0, 1) (torch's betas[1], usually 0.999). */
  beta2: number;
  /** Added to sqrt(v-hat) in the denominator (>= 0, usually 1e-8). */
  eps: number;
  /** Decoupled weight decay (>= 0): param *= 1 - lr * weightDecay before the Adam update. */
  weightDecay: number;
  /** 1-based count of updates including this one, for the bias corrections. */
  step: number;
  /**
   * An f32 copy of a bf16/f16 param: the update happens on it in full precision and param
   * receives its rounded value, so small updates are not lost to bf16 rounding.
   * @default null (update param directly)
   */
  master?: Tensor | null;
}

/**
 * One fused AdamW step, in place, with torch.optim.AdamW's algorithm:
 *   param *= 1 - lr * weightDecay
 *   m = beta1 * m + (1 - beta1) * grad;  v = beta2 * v + (1 - beta2) * grad^2
 *   param -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
 * param: f32, bf16 or f16 (f64 on the reference backend); grad: any floating dtype, param's
 * shape; m, v (and master): f32 (f64 with an f64 param), param's shape, updated in place.
 * param, m, v and master must be contiguous: an in-place update cannot go through a copy.
 */
export function adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, options: AdamWUpdateOptions): void {
  const op = 'adamwUpdate';
  const master = options.master ?? null;
  const backend = sameDevice(op, param, grad, m, v, ...(master ? [master] : []));
  checkOptions(options);
  requireFloat(op, param);
  requireFloat(op, grad);
  if (param.gradFn) {
    throw new Error(`${op}: param ${param.describe()} was computed by "${param.gradFn.op}"; optimizers update leaves (parameters), not results of recorded ops`);
  }
  requireShape(op, grad, param.shape, 'grad');
  const stateDType = param.dtype === 'f64' ? (['f32', 'f64'] as const) : (['f32'] as const);
  const state: [Tensor, string][] = [[m, 'm'], [v, 'v']];
  if (master) state.push([master, 'master']);
  for (const [t, role] of state) {
    requireDType(op, t, stateDType, role);
    requireShape(op, t, param.shape, role);
  }
  const updated: [Tensor, string][] = [[param, 'param'], ...state];
  for (const [t, role] of updated) {
    if (!t.isContiguous()) {
      throw new Error(`${op}: ${role} must be contiguous to be updated in place, got ${t.describe()} with strides ${formatShape(t.strides)}; keep optimizer state in contiguous tensors`);
    }
  }
  // Each updated tensor needs its own memory (slices of one flat buffer are fine if disjoint).
  for (let i = 0; i < updated.length; i++) {
    for (let j = i + 1; j < updated.length; j++) {
      const [a, aRole] = updated[i]!;
      const [b, bRole] = updated[j]!;
      if (a.storage === b.storage && a.offset < b.offset + b.size && b.offset < a.offset + a.size) {
        throw new Error(`${op}: ${aRole} and ${bRole} share memory (${a.describe()} and ${b.describe()}); each needs its own tensor`);
      }
    }
  }
  const g = contiguousData(grad);
  try {
    const { lr, beta1, beta2, eps, weightDecay, step } = options;
    backend.adamw(param, g, m, v, master, { lr, beta1, beta2, eps, weightDecay, step });
  } finally {
    if (g !== grad) g.dispose();
  }
}

function checkOptions(options: AdamWUpdateOptions): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = options;
  const fail = (name: string, value: number, expected: string) => {
    throw new Error(`adamwUpdate: options.${name} is ${value}, expected ${expected}`);
  };
  if (!(Number.isFinite(lr) && lr >= 0)) fail('lr', lr, 'a finite number >= 0');
  if (!(beta1 >= 0 && beta1 < 1)) fail('beta1', beta1, 'a number in [0, 1)');
  if (!(beta2 >= 0 && beta2 < 1)) fail('beta2', beta2, 'a number in [0, 1)');
  if (!(Number.isFinite(eps) && eps >= 0)) fail('eps', eps, 'a finite number >= 0');
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) fail('weightDecay', weightDecay, 'a finite number >= 0');
  if (!(Number.isInteger(step) && step >= 1)) fail('step', step, 'an integer >= 1 (the count of updates including this one)');
}
