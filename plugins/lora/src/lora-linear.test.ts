/**
 * The LoRA and DoRA linear: initial state (the wrapped layer computes exactly what the base
 * did), outputs against the formulas on the float64 reference backend, float64 gradient
 * checks, frozen base weights that never get a gradient, dropout only while training, and
 * the merged weight equal to the adapted layer.
 */
import { describe, expect, it } from 'vitest';
import { add, checkpoint, copy_, linear, manualSeed, matmul, mul, noGrad, sum, tensor, type Tensor } from '@lmflow/tensor';
import type { LinearModule } from '@lmflow/core';
import { expectClose, gradCheck, randomInput } from '@lmflow/test-utils';
import { createLoraLinear, loraForward, mergedWeight, type LoraLinearOptions } from './lora-linear.js';
import { doraOutput, doraWeightNorm } from './dora.js';

// Odd sizes: in 7, out 5, rank 3; x: (2, 3, 7)
const IN = 7;
const OUT = 5;
const R = 3;

function baseLinear(weight: Tensor, bias: Tensor | null): LinearModule {
  return {
    kind: 'linear',
    name: 'model.layers.0.self_attn.q_proj',
    inFeatures: IN,
    outFeatures: OUT,
    *parameters() {
      yield ['weight', weight];
      if (bias) yield ['bias', bias];
    },
    forward: (x) => linear(x, weight, bias),
  };
}

const options = (extra: Partial<LoraLinearOptions> = {}): LoraLinearOptions => ({ r: R, alpha: 6, dropout: 0, useDora: false, useRslora: false, ...extra });

function setup(device: 'reference' | 'cpu', dtype: 'f64' | 'f32', extra: Partial<LoraLinearOptions> = {}) {
  const weight = randomInput([OUT, IN], { device, dtype, seed: 1 });
  const bias = randomInput([OUT], { device, dtype, seed: 2 });
  const base = baseLinear(weight, bias);
  const layer = createLoraLinear(base, options(extra));
  // A trained-looking adapter: B away from zero.
  noGrad(() => copy_(layer.loraB, randomInput([OUT, R], { device, dtype, seed: 3 })));
  const x = randomInput([2, 3, IN], { device, dtype, seed: 4 });
  return { weight, bias, base, layer, x };
}

describe('createLoraLinear', () => {
  it('starts as the base layer: A kaiming-uniform within 1/sqrt(in), B zero, the same output bit for bit', () => {
    const weight = randomInput([OUT, IN], { device: 'cpu', seed: 1 });
    const base = baseLinear(weight, randomInput([OUT], { device: 'cpu', seed: 2 }));
    const layer = createLoraLinear(base, options());
    expect(layer.loraA.shape).toEqual([R, IN]);
    expect(layer.loraB.shape).toEqual([OUT, R]);
    const a = layer.loraA.toFlatArray();
    const bound = 1 / Math.sqrt(IN);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(new Set(a).size).toBe(a.length); // random, not constant
    expect(layer.loraB.toFlatArray().every((v) => v === 0)).toBe(true);
    const x = randomInput([4, IN], { device: 'cpu', seed: 5 });
    expect(layer.forward(x).toFlatArray()).toEqual(base.forward(x).toFlatArray());
    expect(layer.scale).toBe(2); // alpha 6 / r 3
    expect([...layer.parameters()].map(([n]) => n)).toEqual(['weight', 'bias', 'lora_A.weight', 'lora_B.weight']);
  });

  it('computes base(x) + alpha/r * x A^T B^T (float64 reference); rsLoRA scales by alpha/sqrt(r)', () => {
    for (const useRslora of [false, true]) {
      const { weight, bias, layer, x } = setup('reference', 'f64', { useRslora });
      const scale = useRslora ? 6 / Math.sqrt(R) : 2;
      expect(layer.scale).toBeCloseTo(scale, 15);
      const expected = add(linear(x, weight, bias), mul(matmul(matmul(x, layer.loraA.transpose(0, 1)), layer.loraB.transpose(0, 1)), scale));
      expectClose(layer.forward(x), expected, { atol: 1e-13, rtol: 1e-12 }, `rslora ${useRslora}`);
    }
  });

  it('float64 gradient check of x, A and B; the base weight gets no gradient', () => {
    const { weight, bias, base, layer, x } = setup('reference', 'f64');
    gradCheck((xi, a, b) => loraForward(xi!, base, { loraA: a!, loraB: b!, magnitude: null, weight, bias }, layer.scale, 0), [x, layer.loraA, layer.loraB]);
    layer.loraA.requiresGrad = true;
    layer.loraB.requiresGrad = true;
    const loss = sum(layer.forward(x));
    loss.backward();
    expect(layer.loraA.grad).not.toBeNull();
    expect(layer.loraB.grad).not.toBeNull();
    expect(weight.grad).toBeNull();
    expect(bias.grad).toBeNull();
  });

  it('drops adapter inputs only while training (grad enabled and the adapter trainable)', () => {
    const { base, layer, x } = setup('cpu', 'f32', { dropout: 0.5 });
    const frozen = layer.forward(x).toFlatArray();
    layer.loraA.requiresGrad = true;
    layer.loraB.requiresGrad = true;
    const evalOut = noGrad(() => layer.forward(x)).toFlatArray();
    expect(evalOut).toEqual(frozen);
    const trainOut = layer.forward(x).toFlatArray();
    expect(trainOut).not.toEqual(evalOut);
    // The base path never sees dropout: with B = 0 training output equals the base exactly.
    noGrad(() => layer.loraB.fill_(0));
    expect(layer.forward(x).toFlatArray()).toEqual(base.forward(x).toFlatArray());
  });

  it('under gradient checkpointing drops the same inputs: loss and gradients equal those without it', () => {
    const run = (checkpointed: boolean) => {
      manualSeed(11); // A's initialisation and the dropout masks
      const { layer, x } = setup('cpu', 'f32', { dropout: 0.5 });
      layer.loraA.requiresGrad = true;
      layer.loraB.requiresGrad = true;
      noGrad(() => layer.loraB.fill_(0.25));
      const y = checkpointed ? checkpoint((input) => layer.forward(input), x) : layer.forward(x);
      const loss = sum(mul(y, y));
      loss.backward();
      return { loss: loss.item(), gradA: layer.loraA.grad!.toFlatArray(), gradB: layer.loraB.grad!.toFlatArray() };
    };
    const plain = run(false);
    const checkpointed = run(true);
    expect(checkpointed.loss).toBe(plain.loss);
    expectClose(checkpointed.gradA, plain.gradA, { atol: 1e-6, rtol: 1e-6 }, 'dL/dA');
    expectClose(checkpointed.gradB, plain.gradB, { atol: 1e-6, rtol: 1e-6 }, 'dL/dB');
  });

  it('merged weight: linear(x, W + scale B A) equals the adapted layer', () => {
    const { bias, layer, x, weight } = setup('reference', 'f64');
    const merged = mergedWeight(weight, layer.loraA, layer.loraB, layer.scale, null);
    expectClose(linear(x, merged, bias), layer.forward(x), { atol: 1e-12, rtol: 1e-12 }, 'merged');
  });
});

describe('DoRA', () => {
  it('starts with the magnitude at the row norms of W and the base output', () => {
    const { weight, base, x } = setup('reference', 'f64');
    const layer = createLoraLinear(base, options({ useDora: true }));
    const w = weight.toFlatArray();
    const norms = Array.from({ length: OUT }, (_, o) => Math.hypot(...w.slice(o * IN, (o + 1) * IN)));
    expectClose(layer.magnitude!, norms, { atol: 1e-14, rtol: 1e-13 }, 'magnitude');
    expect([...layer.parameters()].map(([n]) => n)).toContain('lora_magnitude_vector');
    expectClose(layer.forward(x), base.forward(x), { atol: 1e-13, rtol: 1e-12 }, 'initial output');
  });

  it('equals linear(x, m / ||W + sBA||_row * (W + sBA)) + bias, which is also the merged weight', () => {
    const { weight, bias, base, x } = setup('reference', 'f64');
    const layer = createLoraLinear(base, options({ useDora: true }));
    noGrad(() => {
      copy_(layer.loraB, randomInput([OUT, R], { device: 'reference', dtype: 'f64', seed: 3 }));
      copy_(layer.magnitude!, randomInput([OUT], { device: 'reference', dtype: 'f64', seed: 6, uniform: [0.5, 2] }));
    });
    // By hand, row by row.
    const adapted = add(weight, mul(matmul(layer.loraB, layer.loraA), layer.scale)).toFlatArray();
    const m = layer.magnitude!.toFlatArray();
    const rows = Array.from({ length: OUT }, (_, o) => {
      const row = adapted.slice(o * IN, (o + 1) * IN);
      const n = Math.hypot(...row);
      return row.map((v) => (v * m[o]!) / n);
    });
    const byHand = tensor(rows, { dtype: 'f64', device: 'reference' });
    expectClose(layer.forward(x), linear(x, byHand, bias), { atol: 1e-12, rtol: 1e-12 }, 'DoRA forward');
    expectClose(mergedWeight(weight, layer.loraA, layer.loraB, layer.scale, layer.magnitude), byHand, { atol: 1e-14, rtol: 1e-13 }, 'merged');
  });

  it('float64 gradient check of x, A, B and the magnitude (the row norm held constant, as PEFT detaches it)', () => {
    const { weight, bias, base, x } = setup('reference', 'f64');
    const layer = createLoraLinear(base, options({ useDora: true }));
    noGrad(() => copy_(layer.loraB, randomInput([OUT, R], { device: 'reference', dtype: 'f64', seed: 3 })));
    const norm = doraWeightNorm(weight, layer.loraA, layer.loraB, layer.scale);
    const fn = (xi: Tensor, a: Tensor, b: Tensor, m: Tensor, n: Tensor) => {
      const lora = linear(linear(xi, a), b);
      const baseOut = base.forward(xi);
      return doraOutput(baseOut, linear(xi, weight), lora, m, n, layer.scale);
    };
    gradCheck((xi, a, b, m, n) => fn(xi!, a!, b!, m!, n!), [x, layer.loraA, layer.loraB, layer.magnitude!, norm], { skip: [4] });
    // The layer's own gradients are those of that function.
    for (const t of [layer.loraA, layer.loraB, layer.magnitude!]) t.requiresGrad = true;
    const g = randomInput([2, 3, OUT], { device: 'reference', dtype: 'f64', seed: 9 });
    layer.forward(x).backward({ gradient: g });
    const leaves = [layer.loraA, layer.loraB, layer.magnitude!].map((t) => t.detach());
    for (const leaf of leaves) leaf.requiresGrad = true;
    fn(x, leaves[0]!, leaves[1]!, leaves[2]!, norm).backward({ gradient: g });
    [layer.loraA, layer.loraB, layer.magnitude!].forEach((t, i) => expectClose(t.grad!, leaves[i]!.grad!, { atol: 1e-13, rtol: 1e-12 }, `grad ${i}`));
    expect(weight.grad).toBeNull();
  });

  it('refuses a base layer without a dense weight', () => {
    const quantized: LinearModule = { kind: 'linear', name: 'q', inFeatures: IN, outFeatures: OUT, *parameters() { yield ['absmax', tensor([1])]; }, forward: (x) => x };
    expect(() => createLoraLinear(quantized, options({ useDora: true }))).toThrow("q: DoRA needs the base layer's dense (5, 7) floating-point weight");
  });
});
