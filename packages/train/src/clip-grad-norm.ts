/**
 * Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ (L2 norm):
 *   total = sqrt(sum over parameters of sum(grad^2))
 *   if total > maxNorm: every grad *= maxNorm / (total + 1e-6)
 * Differences from torch, on purpose: a non-finite total scales nothing and is reported with
 * the parameters whose gradients are non-finite (torch would multiply every grad by NaN),
 * and a total at or below maxNorm leaves the gradients untouched (torch multiplies them by
 * min(1, maxNorm / (total + 1e-6)), a hair below 1 when total is within 1e-6 of maxNorm).
 *
 * Each parameter's sum of squares is one reduction on its device (the CPU backend
 * accumulates it in double); the sum over parameters and the square root are float64. The
 * per-parameter sums reach the host in one download per device, not one each: every download
 * waits for the device, and a GPU sat idle between 64 of them in each LoRA step of a 16-layer
 * model.
 */
import { mul_, noGrad, stack, type Tensor } from '@lmflow/tensor';

export interface ClipResult {
  /** The global L2 norm of the gradients before clipping (NaN or Infinity when not finite). */
  totalNorm: number;
  /** Whether the gradients were scaled. */
  clipped: boolean;
  /** The factor applied (1 when not clipped). */
  scale: number;
  /** Names of parameters whose gradient norm is NaN or infinite (empty when all are finite). */
  nonFinite: string[];
}

/**
 * Clips the gradients of `params` ([name, tensor] pairs; tensors without .grad are skipped)
 * in place to a global norm of at most `maxNorm` (> 0; Infinity only measures).
 */
export function clipGradNorm(params: Iterable<readonly [string, Tensor]>, maxNorm: number): ClipResult {
  if (!(typeof maxNorm === 'number' && maxNorm > 0)) throw new Error(`clipGradNorm: max_grad_norm is ${maxNorm}, expected a number > 0 (Infinity measures without clipping)`);
  return noGrad(() => {
    const grads: Tensor[] = [];
    const names: string[] = [];
    for (const [name, param] of params) {
      const grad = param.grad;
      if (!grad || grad.size === 0) continue;
      grads.push(grad);
      names.push(name);
    }
    const nonFinite: string[] = [];
    let sumSquares = 0;
    sumsOfSquares(grads).forEach((squares, i) => {
      if (!Number.isFinite(squares)) nonFinite.push(names[i]!);
      sumSquares += squares;
    });
    const totalNorm = Math.sqrt(sumSquares);
    if (!Number.isFinite(totalNorm) || totalNorm <= maxNorm) {
      return { totalNorm, clipped: false, scale: 1, nonFinite };
    }
    const scale = maxNorm / (totalNorm + 1e-6);
    for (const grad of grads) mul_(grad, scale);
    return { totalNorm, clipped: true, scale, nonFinite };
  });
}

// sum(g^2) of each gradient (any shapes), computed on its device; one download per device and
// dtype brings them all. Half-precision gradients are widened first so the squares keep f32
// precision.
function sumsOfSquares(grads: readonly Tensor[]): number[] {
  const totals = grads.map((grad) => {
    const wide = grad.dtype === 'bf16' || grad.dtype === 'f16' ? grad.cast('f32') : grad;
    const squares = wide.square();
    const total = squares.sum();
    squares.dispose();
    if (wide !== grad) wide.dispose();
    return total;
  });
  const groups = new Map<string, number[]>();
  totals.forEach((t, i) => {
    const key = `${t.device} ${t.dtype}`;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  const values = new Array<number>(grads.length);
  for (const indices of groups.values()) {
    const joined = stack(indices.map((i) => totals[i]!));
    joined.toFlatArray().forEach((v, j) => (values[indices[j]!] = v));
    joined.dispose();
  }
  for (const t of totals) t.dispose();
  // A finite gradient whose squares overflowed f32 still has a real (huge) norm: redo it with a scaled copy.
  return values.map((v, i) => (v === Infinity && Number.isFinite(maxAbs(grads[i]!)) ? scaledSumOfSquares(grads[i]!) : v));
}

function maxAbs(t: Tensor): number {
  const abs = t.abs();
  const m = abs.max();
  const value = m.item();
  abs.dispose();
  m.dispose();
  return value;
}

/** sum(g^2) as m^2 * sum((g / m)^2) with m = max|g|, when g^2 overflows f32. */
function scaledSumOfSquares(grad: Tensor): number {
  const m = maxAbs(grad);
  const wide = grad.cast('f32');
  const scaled = wide.div(m);
  const squares = scaled.square();
  const total = squares.sum();
  const value = total.item() * m * m;
  for (const t of [total, squares, scaled, wide]) t.dispose();
  return value;
}
