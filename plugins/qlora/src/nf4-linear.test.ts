import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { STAGE_LATE, createRuntime, type LinearModule, type Plugin } from '@lmflow/core';
import { NF4_CODEBOOK, linear, nf4BitsPerWeight, randn, tensor, type Tensor } from '@lmflow/tensor';
import { loadModel, loadSafetensors } from '@lmflow/models';
import { expectClose } from '@lmflow/test-utils';
import { createNf4Linear, type Nf4Linear } from './nf4-linear.js';
import { qlora } from './qlora-plugin.js';
import { stories260K } from './test-support/fixtures.js';

// Half the widest gap between neighbouring NF4 values: the largest rounding error of a
// weight, relative to its block's absmax.
const HALF_GAP = Math.max(...NF4_CODEBOOK.slice(1).map((c, i) => (c - NF4_CODEBOOK[i]!) / 2));

/** stories260K with every decoder linear in NF4, and the NF4 linears by name. */
async function quantizedStories(device: string) {
  const plugin = qlora();
  const modules = new Map<string, Nf4Linear>();
  // The MLP's linears sit inside its module: collect every linear as the model is built.
  const collect: Plugin = {
    name: 'collect',
    apply: (rt) => rt.model.hooks.wrapModule.for('linear').tap({ name: 'collect', stage: STAGE_LATE }, (m) => ('nf4' in m && modules.set(m.name, m as Nf4Linear), m)),
  };
  const model = await loadModel(stories260K, { device, runtime: createRuntime({ plugins: [plugin, collect] }) });
  return { model, plugin, modules };
}

describe('NF4 linear layers on stories260K', () => {
  it('stores all 35 decoder linears (7 per layer) and no others', async () => {
    const { model, plugin, modules } = await quantizedStories('cpu');
    expect(modules.size).toBe(35);
    expect([...modules.keys()].every((n) => /^model\.layers\.\d\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)$/.test(n))).toBe(true);
    expect(plugin.summary().modules).toEqual([...modules.keys()]);
    // lm_head (tied to the embedding) stays in f32.
    expect(model.modules().find((m) => m.name === 'lm_head')).not.toHaveProperty('nf4');
    expect(model.namedParameters().filter(([n]) => n.endsWith('.weight.nf4_codes'))).toHaveLength(35);
    model.dispose();
  });

  it('measures ~4.13 bits per weight on the real weights (codes, absmax codes, scales, offset)', async () => {
    const { model, modules, plugin } = await quantizedStories('cpu');
    let bits = 0;
    let elements = 0;
    for (const m of modules.values()) {
      const [N, K] = m.nf4.shape;
      const blocks = (N * K) / 64;
      // 4 bits a weight, 8 per block of 64, a 32-bit scale per 256 blocks, a 32-bit offset.
      const expected = (4 * N * K + 8 * blocks + 32 * Math.ceil(blocks / 256) + 32) / (N * K);
      expect(nf4BitsPerWeight(m.nf4)).toBeCloseTo(expected, 12);
      bits += nf4BitsPerWeight(m.nf4) * N * K;
      elements += N * K;
    }
    const perWeight = bits / elements;
    // stories260K's matrices are small (4096 to 11008 weights), so the per-matrix scale and
    // offset add ~0.013 bits to the 4.127 of large matrices.
    expect(perWeight).toBeGreaterThan(4.125);
    expect(perWeight).toBeLessThan(4.15);
    expect(plugin.summary().bytes * 8).toBe(bits - 32 * modules.size);
    expect(plugin.summary().elements).toBe(elements);
    model.dispose();
  });

  it('dequantizes every weight within the NF4 codebook bound of its block', async () => {
    const { tensors: original } = await loadSafetensors(path.join(stories260K, 'model.safetensors'));
    const { model, modules } = await quantizedStories('cpu');
    let worstRatio = 0;
    for (const [name, m] of modules) {
      const w = original.get(`${name}.weight`)!.toFlatArray();
      const dq = m.dequantizeWeight();
      const back = dq.toFlatArray();
      dq.dispose();
      const scales = m.nf4.absmaxScales.toFlatArray();
      for (let b = 0; b < w.length / 64; b++) {
        let absmax = 0;
        for (let i = b * 64; i < b * 64 + 64; i++) absmax = Math.max(absmax, Math.abs(w[i]!));
        // The code's rounding (absmax * HALF_GAP) plus the 8-bit absmax's error (half a step
        // of its group's scale / 127), which moves every value of the block by at most as much.
        const absmaxError = scales[Math.floor(b / 256)]! / 127 / 2;
        const bound = absmax * HALF_GAP + absmaxError * (1 + HALF_GAP) + 1e-7;
        for (let i = b * 64; i < b * 64 + 64; i++) {
          const error = Math.abs(back[i]! - w[i]!);
          worstRatio = Math.max(worstRatio, error / bound);
        }
      }
    }
    expect(worstRatio).toBeLessThanOrEqual(1);
    // The bound is reached closely: the errors are NF4's, not smaller by accident of a bug.
    expect(worstRatio).toBeGreaterThan(0.5);
    for (const t of original.values()) t.dispose();
    model.dispose();
  });

  it('multiplies from NF4 as dequantize-then-matmul does, forward and backward, on the reference backend', async () => {
    const { model, modules } = await quantizedStories('reference');
    for (const name of ['model.layers.0.self_attn.k_proj', 'model.layers.4.mlp.down_proj']) {
      const m = modules.get(name)!;
      const dense = m.dequantizeWeight();
      // x: (B, T, in) with B=2, T=3
      const x = randn([2, 3, m.inFeatures], { device: 'reference' });
      x.requiresGrad = true;
      const y = m.forward(x);
      const yRef = linear(x, dense);
      expectClose(y, yRef, { atol: 1e-6, rtol: 1e-6 }, `${name} forward`);
      const g = randn(y.shape, { device: 'reference' });
      y.backward({ gradient: g });
      const dx = x.grad!;
      x.grad = null;
      yRef.backward({ gradient: g });
      expectClose(dx, x.grad!, { atol: 1e-6, rtol: 1e-6 }, `${name} dX`);
      // The NF4 parts take no gradient, and nothing requires one.
      for (const [, t] of m.parameters()) expect(t.grad).toBeNull();
      for (const t of [dense, x, y, yRef, g, dx]) t.dispose();
    }
    model.dispose();
  });
});

describe('createNf4Linear', () => {
  const plain = (name: string, weight: Tensor, bias: Tensor | null = null): LinearModule => ({
    kind: 'linear',
    name,
    inFeatures: weight.shape[1]!,
    outFeatures: weight.shape[0]!,
    *parameters() {
      yield ['weight', weight];
      if (bias) yield ['bias', bias];
    },
    forward: (x) => linear(x, weight, bias),
  });

  it('keeps the bias in full precision, adds it, and gives it a gradient', () => {
    const weight = randn([8, 16], { device: 'reference' });
    const bias = randn([8], { device: 'reference' });
    bias.requiresGrad = true;
    const m = createNf4Linear(plain('proj', weight, bias));
    expect(weight.isDisposed).toBe(true);
    const x = randn([5, 16], { device: 'reference' });
    const dense = m.dequantizeWeight();
    const y = m.forward(x);
    expectClose(y, linear(x, dense, bias), { atol: 1e-5, rtol: 1e-5 });
    y.sum().backward();
    expectClose(bias.grad!, tensor(Array(8).fill(5), { device: 'reference', dtype: bias.dtype }), { atol: 1e-6, rtol: 0 });
    expect([...m.parameters()].map(([n]) => n)).toEqual(['weight.nf4_codes', 'weight.nf4_absmax_codes', 'weight.nf4_absmax_scales', 'bias']);
  });

  it('names the module and the shape when a weight does not fill whole blocks of 64', () => {
    expect(() => createNf4Linear(plain('model.layers.0.mlp.up_proj', randn([10, 10])))).toThrow(
      /model\.layers\.0\.mlp\.up_proj: its weight .*\[10, 10\].* has 100 elements, and NF4 stores whole blocks of 64/,
    );
  });

  it('refuses a module another plugin already wrapped', () => {
    const w = randn([8, 8]);
    const wrapped: LinearModule = { ...plain('q_proj', w), *parameters() { yield ['weight', w]; yield ['lora_A.weight', w]; } };
    expect(() => createNf4Linear(wrapped)).toThrow(/q_proj: expected a plain linear layer .*"lora_A.weight".*STAGE_EARLY/);
  });
});
