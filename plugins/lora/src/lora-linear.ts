/**
 * A linear layer with a LoRA adapter (Hu et al. 2021), as PEFT's lora.Linear:
 *
 *   y = base(x) + scale * B(A(dropout(x)))      scale = alpha / r (alpha / sqrt(r) with rsLoRA)
 *
 * A: (r, in) starts kaiming-uniform (a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in))) and B: (out, r)
 * starts at zero, so the wrapped layer first computes exactly what the base did. The base
 * module is called as it is (a plain or quantized linear alike) and its weights are never
 * trained here. With DoRA the layer also holds a magnitude per output feature (see dora.ts).
 *
 * Dropout applies only while autograd records and the adapter trains; evaluation and
 * generation (under noGrad, or with a frozen adapter) see the deterministic layer.
 */
import { LoraError } from './lora-error.js';
import { add, div, dropout, isCheckpointing, isFloat, isGradEnabled, linear, matmul, mul, noGrad, rand, sub, zeros, type Tensor } from '@lmflow/tensor';
import type { LinearModule } from '@lmflow/core';
import { doraOutput, doraWeightNorm } from './dora.js';

export interface LoraLinearOptions {
  /** Rank of the update. */
  r: number;
  alpha: number;
  /** Probability of zeroing an input element on the adapter path while training. */
  dropout: number;
  useDora: boolean;
  /** Scale alpha / sqrt(r) instead of alpha / r (rsLoRA). */
  useRslora: boolean;
}

export interface LoraLinear extends LinearModule {
  readonly base: LinearModule;
  /** (r, in) */
  readonly loraA: Tensor;
  /** (out, r) */
  readonly loraB: Tensor;
  /** DoRA's magnitude (out), or null for plain LoRA. */
  readonly magnitude: Tensor | null;
  readonly rank: number;
  readonly scale: number;
  /** The base layer's (out, in) weight, when it has a dense one (needed by DoRA and merging). */
  readonly baseWeight: Tensor | null;
}

export function loraScale(r: number, alpha: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

/** Wraps `base` with a freshly initialised adapter on the device and dtype of its weight. */
export function createLoraLinear(base: LinearModule, options: LoraLinearOptions): LoraLinear {
  const { r } = options;
  const { inFeatures, outFeatures, name } = base;
  const params = [...base.parameters()];
  const reference = params.find(([n]) => n === 'weight')?.[1] ?? params[0]?.[1];
  if (!reference) throw new LoraError(`${name}: the linear module has no parameters to take a device and dtype from`);
  const weight = params.find(([n, t]) => n === 'weight' && t.ndim === 2 && t.shape[0] === outFeatures && t.shape[1] === inFeatures && isFloat(t.dtype))?.[1] ?? null;
  const dtype = isFloat(reference.dtype) ? reference.dtype : 'f32';
  const device = reference.device;
  const bound = 1 / Math.sqrt(inFeatures);
  const loraA = rand([r, inFeatures], { low: -bound, high: bound, dtype, device });
  const loraB = zeros([outFeatures, r], { dtype, device });
  const scale = loraScale(r, options.alpha, options.useRslora);
  let magnitude: Tensor | null = null;
  if (options.useDora) {
    if (!weight) {
      throw new LoraError(`${name}: DoRA needs the base layer's dense (${outFeatures}, ${inFeatures}) floating-point weight, and this linear module does not expose one (a quantized base?); use plain LoRA`);
    }
    magnitude = doraWeightNorm(weight, loraA, loraB, scale);
  }
  const bias = params.find(([n]) => n === 'bias')?.[1] ?? null;

  const adapter: AdapterTensors = { loraA, loraB, magnitude, weight, bias };
  const forward = (x: Tensor): Tensor => {
    // Training forwards drop adapter inputs: with autograd on, and in gradient checkpointing's
    // first pass (autograd off there, but backward replays it and must see the same masks).
    const dropping = options.dropout > 0 && (isGradEnabled() || isCheckpointing()) && loraA.requiresGrad;
    return loraForward(x, base, adapter, scale, dropping ? options.dropout : 0);
  };

  return {
    kind: 'linear',
    name,
    inFeatures,
    outFeatures,
    base,
    loraA,
    loraB,
    magnitude,
    rank: r,
    scale,
    baseWeight: weight,
    *parameters() {
      yield* base.parameters();
      yield ['lora_A.weight', loraA];
      yield ['lora_B.weight', loraB];
      if (magnitude) yield ['lora_magnitude_vector', magnitude];
    },
    forward,
  };
}

/** What loraForward reads besides the base module. */
export interface AdapterTensors {
  /** (r, in) */
  loraA: Tensor;
  /** (out, r) */
  loraB: Tensor;
  /** (out), DoRA only */
  magnitude: Tensor | null;
  /** The base's dense (out, in) weight and bias: DoRA's norm and its bias-free W x need them. */
  weight: Tensor | null;
  bias: Tensor | null;
}

/**
 * The adapted layer's output. x: (..., in) -> (..., out); the adapter path goes
 * (..., in) -> (..., r) -> (..., out). `dropout` > 0 drops adapter inputs (training).
 */
export function loraForward(x: Tensor, base: LinearModule, adapter: AdapterTensors, scale: number, dropoutP: number): Tensor {
  const { loraA, loraB, magnitude, weight, bias } = adapter;
  const xd = dropoutP > 0 ? dropout(x, dropoutP) : x;
  const baseOut = base.forward(x);
  // The scale multiplies the rank-r activations, not the (..., out) result: r / out of the work.
  if (!magnitude) return add(baseOut, linear(mul(linear(xd, loraA), scale), loraB));
  const lora = linear(linear(xd, loraA), loraB);
  if (!weight) throw new LoraError(`${base.name}: DoRA needs the base layer's dense weight`);
  // wx = W x' without the bias: the base output itself when x' = x.
  const withBias = dropoutP > 0 ? base.forward(xd) : baseOut;
  const wx = bias ? sub(withBias, bias) : withBias;
  return doraOutput(baseOut, wx, lora, magnitude, doraWeightNorm(weight, loraA, loraB, scale), scale);
}

/** The (out, in) weight the adapter amounts to, computed in f32 (f64 on f64 weights). */
export function mergedWeight(weight: Tensor, loraA: Tensor, loraB: Tensor, scale: number, magnitude: Tensor | null): Tensor {
  return noGrad(() => {
    const work = weight.dtype === 'f64' ? 'f64' : 'f32';
    const [w, a, b] = [weight, loraA, loraB].map((t) => (t.dtype === work ? t : t.cast(work))) as [Tensor, Tensor, Tensor];
    // W + scale * B @ A: (out, in)
    const adapted = add(w, mul(matmul(b, a), scale));
    if (!magnitude) return adapted;
    const m = magnitude.dtype === work ? magnitude : magnitude.cast(work);
    const norm = doraWeightNorm(w, a, b, scale);
    // (m / norm) per output row: (out) -> (out, 1) broadcast over in
    return mul(adapted, div(m, norm).unsqueeze(1));
  });
}
