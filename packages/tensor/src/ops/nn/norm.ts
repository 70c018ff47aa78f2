/**
 * RMSNorm (Llama) and LayerNorm over the last dimension, any leading dimensions, each one
 * fused kernel forward and one backward. The per-row statistic (rstd, and mean for
 * LayerNorm) is saved for the backward; the input is not normalised twice.
 */
import type { Tensor } from '../../tensor.js';
import { numel } from '../../shape.js';
import { record } from '../../autograd/node.js';
import { contiguousData, emptyLike, requireFloat, sameDevice } from '../util.js';
import { contiguousInput, reshaped, statsDType } from './kernel-views.js';

/**
 * x / sqrt(mean(x^2) + eps) * weight over the last dimension, in Llama's order: the
 * normalised value is rounded to x's dtype before the weight multiplies it. weight (D) may
 * be null (no scale) or another float dtype than x (f32 weights with bf16 activations).
 */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-6): Tensor {
  const op = 'rmsNorm';
  const [rows, D] = checkNorm(op, x, eps, { weight });
  const xc = contiguousInput(x);
  const out = emptyLike(xc);
  const rstd = emptyLike(xc, [rows], statsDType(x));
  x.backend.rmsNorm(reshaped(xc, [rows, D]), weight, eps, reshaped(out, [rows, D]), rstd);
  const inputs = weight ? [xc, weight] : [xc];
  record(op, inputs, out, [...inputs, rstd], (g, saved, needs) => {
    const [xs, w, rs] = weight ? saved : [saved[0], null, saved[1]];
    const dy = contiguousData(g);
    // The kernel always writes dx; when x needs none it is a temporary the tape frees.
    const dx = emptyLike(xs!);
    const dw = w && needs[1] ? emptyLike(w, w.shape, w.dtype) : null;
    g.backend.rmsNormGrad(reshaped(xs!, [rows, D]), w ?? null, rs!, reshaped(dy, [rows, D]), reshaped(dx, [rows, D]), dw);
    return weight ? [needs[0] ? dx : null, dw] : [dx];
  });
  rstd.dispose();
  if (xc !== x) xc.dispose();
  return out;
}

/**
 * (x - mean) / sqrt(var + eps) * weight + bias over the last dimension (biased variance,
 * as torch.nn.LayerNorm). weight and bias (D) may each be null.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  const [rows, D] = checkNorm(op, x, eps, { weight, bias });
  const xc = contiguousInput(x);
  const out = emptyLike(xc);
  const mean = emptyLike(xc, [rows], statsDType(x));
  const rstd = emptyLike(xc, [rows], statsDType(x));
  x.backend.layerNorm(reshaped(xc, [rows, D]), weight, bias, eps, reshaped(out, [rows, D]), mean, rstd);
  const inputs = [xc, weight, bias].filter((t): t is Tensor => t !== null);
  record(op, inputs, out, [xc, mean, rstd, ...(weight ? [weight] : [])], (g, saved, needs) => {
    const [xs, ms, rs, w] = saved;
    const dy = contiguousData(g);
    const dx = emptyLike(xs!);
    // needs follows inputs: x, then weight and bias when given.
    const needW = weight ? needs[1]! : false;
    const needB = bias ? needs[weight ? 2 : 1]! : false;
    const dw = w && needW ? emptyLike(w, w.shape, w.dtype) : null;
    const db = bias && needB ? emptyLike(g, bias.shape, bias.dtype) : null;
    g.backend.layerNormGrad(reshaped(xs!, [rows, D]), w ?? null, ms!, rs!, reshaped(dy, [rows, D]), reshaped(dx, [rows, D]), dw, db);
    const grads: (Tensor | null)[] = [needs[0] ? dx : null];
    if (weight) grads.push(dw);
    if (bias) grads.push(db);
    return grads;
  });
  mean.dispose();
  rstd.dispose();
  if (xc !== x) xc.dispose();
  return out;
}

/** Checks x, eps and the (D) parameters; returns [rows, D]. */
function checkNorm(op: string, x: Tensor, eps: number, params: Record<string, Tensor | null>): [number, number] {
  x.assertLive(op);
  requireFloat(op, x);
  if (x.ndim === 0) throw new Error(`${op}: expected x with at least one dimension (..., D), got ${x.describe()}`);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${op}: eps must be a finite number >= 0, got ${eps}`);
  const D = x.shape[x.ndim - 1]!;
  for (const [name, p] of Object.entries(params)) {
    if (!p) continue;
    sameDevice(op, x, p);
    requireFloat(op, p);
    if (p.ndim !== 1 || p.shape[0] !== D) {
      throw new Error(`${op}: ${name} must have shape [${D}] (the last dimension of x ${x.describe()}), got ${p.describe()}`);
    }
  }
  return [numel(x.shape.slice(0, -1)), D];
}
