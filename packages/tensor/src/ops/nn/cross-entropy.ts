/**
 * Cross-entropy from logits, fused: the forward keeps one loss and one log-sum-exp per row
 * (never an (N, V) probability tensor, which for a 128K vocabulary would dwarf the model's
 * activations), the backward writes dlogits straight from logits and lse.
 */
import type { View } from '../../backend.js';
import type { DType } from '../../dtype.js';
import { Tensor, emptyOn } from '../../tensor.js';
import { formatShape, numel } from '../../shape.js';
import { record } from '../../autograd/node.js';
import { contiguousData, emptyLike, requireDType, requireFloat, sameDevice } from '../util.js';
import { contiguousInput, reshaped, statsDType } from './kernel-views.js';

export interface CrossEntropyLossOptions {
  /** Targets equal to this contribute no loss and no gradient. @default -100 */
  ignoreIndex?: number;
  /**
   * Label smoothing e in [0, 1): the target distribution puts 1 - e on the label and e / V
   * on every class, as torch.nn.CrossEntropyLoss(label_smoothing=e). @default 0
   */
  labelSmoothing?: number;
  /**
   * 'mean': the average over targets that are not ignored, and 0 when every target is
   * ignored (PyTorch returns NaN there; a batch of padding should not poison training);
   * 'sum': the total; 'none': one loss per target, in the targets' shape. @default 'mean'
   */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * -log softmax(logits)[target] per position. logits: (..., V) floating; targets: (...) i32
 * or i64 class indices. Losses are f32 whatever the logits' dtype (f64 for f64 logits): the
 * loss is summed over many tokens, where bf16 would lose the small ones.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyLossOptions = {}): Tensor {
  const op = 'crossEntropy';
  const { ignoreIndex = -100, labelSmoothing = 0, reduction = 'mean' } = options;
  sameDevice(op, logits, targets);
  requireFloat(op, logits);
  requireDType(op, targets, ['i32', 'i64'], 'targets');
  if (logits.ndim === 0) throw new Error(`${op}: logits must have a class dimension (..., V), got ${logits.describe()}`);
  const targetShape = logits.shape.slice(0, -1);
  if (formatShape(targets.shape) !== formatShape(targetShape)) {
    throw new Error(`${op}: targets must have shape ${formatShape(targetShape)} (logits ${formatShape(logits.shape)} without the class dimension), got ${targets.describe()}`);
  }
  if (!Number.isInteger(ignoreIndex)) throw new Error(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`);
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new Error(`${op}: labelSmoothing must be in [0, 1), got ${labelSmoothing}`);
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${String(reduction)}`);
  }
  const V = logits.shape[logits.ndim - 1]!;
  const N = numel(targetShape);
  if (V === 0 && N > 0) throw new Error(`${op}: logits ${logits.describe()} have no classes`);
  const kernelOptions = { ignoreIndex, labelSmoothing };
  const backend = logits.backend;

  // logits2: (N, V); targets1: (N)
  const lc = contiguousInput(logits);
  const tc = contiguousData(targets);
  const logits2 = reshaped(lc, [N, V]);
  const targets1 = reshaped(tc, [N]);
  const stats = statsDType(logits);
  const losses = emptyLike(lc, targetShape, stats);
  const lse = emptyLike(lc, [N], stats);
  backend.crossEntropy(logits2, targets1, reshaped(losses, [N]), lse, kernelOptions);

  // dlosses (N) is the gradient reaching each row's loss, whatever the reduction.
  const gradient = (dlosses: View, saved: readonly Tensor[]): Tensor => {
    const [ls, ts, l] = saved;
    const dlogits = emptyLike(ls!);
    backend.crossEntropyGrad(reshaped(ls!, [N, V]), reshaped(ts!, [N]), l!, dlosses, reshaped(dlogits, [N, V]), kernelOptions);
    return dlogits;
  };

  let out: Tensor;
  if (reduction !== 'none' && N === 0) {
    // No targets: the loss is 0 and so is the gradient (no reduction kernel on empty input).
    out = emptyOn(backend, [], stats);
    backend.fill(out, 0);
    record(op, [lc], out, [lc], (_g, [ls]) => {
      const dlogits = emptyLike(ls!);
      ls!.backend.fill(dlogits, 0);
      return [dlogits];
    });
    losses.dispose();
  } else if (reduction === 'none') {
    out = losses;
    record(op, [lc], out, [lc, tc, lse], (g, saved) => [gradient(reshaped(contiguousData(g), [N]), saved)]);
  } else {
    // total: the sum of the row losses (ignored rows hold 0)
    const total = emptyOn(backend, [], stats);
    backend.reduce('sum', reshaped(losses, [N]), [0], reshaped(total, [1]));
    let count: Tensor | null = null;
    if (reduction === 'mean') {
      count = countTargets(tc, N, ignoreIndex, stats);
      out = emptyOn(backend, [], stats);
      backend.binary('div', total, count, out);
      total.dispose();
    } else {
      out = total;
    }
    const saved = count ? [lc, tc, lse, count] : [lc, tc, lse];
    record(op, [lc], out, saved, (g, s) => {
      // Every row receives the scalar gradient (over the count for 'mean').
      const each: View = { storage: g.storage, dtype: g.dtype, shape: [N], strides: [0], offset: g.offset };
      if (!s[3]) return [gradient(each, s)];
      const dl = emptyOn(g.backend, [N], g.dtype);
      const c = s[3];
      g.backend.binary('div', each, { storage: c.storage, dtype: c.dtype, shape: [N], strides: [0], offset: c.offset }, dl);
      return [gradient(dl, s)];
    });
    losses.dispose();
    count?.dispose();
  }
  lse.dispose();
  if (tc !== targets) tc.dispose();
  if (lc !== logits) lc.dispose();
  return out;
}

/** max(1, number of targets other than ignoreIndex) as a 0-d tensor of dtype, on the device. */
function countTargets(targets: Tensor, n: number, ignoreIndex: number, dtype: DType): Tensor {
  const backend = targets.backend;
  const ignore = emptyOn(backend, [1], targets.dtype);
  backend.fill(ignore, ignoreIndex);
  const kept = emptyOn(backend, [n], 'u8');
  backend.compare('ne', reshaped(targets, [n]), { storage: ignore.storage, dtype: ignore.dtype, shape: [n], strides: [0], offset: 0 }, kept);
  const keptFloat = emptyOn(backend, [n], dtype);
  backend.copy(kept, keptFloat);
  const kept1 = emptyOn(backend, [], dtype);
  backend.reduce('sum', keptFloat, [0], reshaped(kept1, [1]));
  // With every target ignored the total is 0, and 0 / 1 gives the documented 0.
  const count = emptyOn(backend, [], dtype);
  backend.scalar('maximum', kept1, 1, count);
  for (const t of [ignore, kept, keptFloat, kept1]) t.dispose();
  return count;
}
