import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tensor, type Tensor } from '@lmflow/tensor';
import { expectClose } from '@lmflow/test-utils';
import { createKvCache, loadModel } from '../index.js';
import { llamaWeightSpecs, writeRandomModel, type RandomModel, type TinyLlamaSpec } from '../test-support/random-model.js';
import { referenceLlamaLogits, type RefLlamaConfig } from '../test-support/reference-decoder.js';

// logits agree with float64 loops to f32 accumulation error (measured below 1e-5 absolute).
const TOL = { atol: 3e-5, rtol: 3e-4 };

interface Variant {
  name: string;
  config: Record<string, unknown>;
  spec: TinyLlamaSpec;
  ref: Omit<RefLlamaConfig, keyof TinyLlamaSpec | 'layers' | 'vocab' | 'hidden' | 'intermediate' | 'heads' | 'kvHeads' | 'headDim'>;
}

const common = { vocab_size: 41, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, rms_norm_eps: 1e-5 };
const shape = { vocab: 41, hidden: 24, intermediate: 40, layers: 2 };

// Each variant exercises a different switch of the family; all use grouped-query attention.
const variants: Variant[] = [
  {
    name: 'llama: GQA 4/2, tied embeddings, attention and mlp biases, rope_theta 500000',
    config: { ...common, model_type: 'llama', num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true, attention_bias: true, mlp_bias: true, rope_theta: 500000 },
    spec: { ...shape, heads: 4, kvHeads: 2, headDim: 6, tied: true, qkvBias: true, oBias: true, mlpBias: true, qkNorm: false },
    ref: { eps: 1e-5, theta: 500000, windows: [null, null] },
  },
  {
    name: 'mistral: GQA 6/2, head_dim 8 (not hidden / heads), sliding window larger than the input',
    config: { ...common, model_type: 'mistral', num_attention_heads: 6, num_key_value_heads: 2, head_dim: 8, sliding_window: 64, rms_norm_eps: 1e-6 },
    spec: { ...shape, heads: 6, kvHeads: 2, headDim: 8, tied: false, qkvBias: false, oBias: false, mlpBias: false, qkNorm: false },
    ref: { eps: 1e-6, theta: 10000, windows: [64, 64] },
  },
  {
    name: 'qwen2: multi-query 4/1, q/k/v bias without o bias',
    config: { ...common, model_type: 'qwen2', num_attention_heads: 4, num_key_value_heads: 1, rope_theta: 1000000, use_sliding_window: false },
    spec: { ...shape, heads: 4, kvHeads: 1, headDim: 6, tied: false, qkvBias: true, oBias: false, mlpBias: false, qkNorm: false },
    ref: { eps: 1e-5, theta: 1000000, windows: [null, null] },
  },
  {
    name: 'qwen3: GQA 4/2, head_dim 10, q_norm/k_norm, tied embeddings',
    config: { ...common, model_type: 'qwen3', num_attention_heads: 4, num_key_value_heads: 2, head_dim: 10, tie_word_embeddings: true, attention_bias: false },
    spec: { ...shape, heads: 4, kvHeads: 2, headDim: 10, tied: true, qkvBias: false, oBias: false, mlpBias: false, qkNorm: true },
    ref: { eps: 1e-5, theta: 10000, windows: [null, null] },
  },
];

const ids = [
  [5, 40, 0, 13, 13, 22, 7, 31, 2],
  [1, 2, 3, 39, 20, 11, 11, 4, 36],
];
const idsTensor = (rows: number[][], device = 'cpu') => tensor(rows, { dtype: 'i32', device });

let tmp: string;
const models = new Map<string, RandomModel>();

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-llama-'));
  for (const [i, v] of variants.entries()) {
    models.set(v.name, await writeRandomModel(path.join(tmp, String(i)), v.config, llamaWeightSpecs(v.spec), 100 + i));
  }
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function refConfig(v: Variant): RefLlamaConfig {
  const s = v.spec;
  return { ...v.ref, vocab: s.vocab, hidden: s.hidden, intermediate: s.intermediate, layers: s.layers, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim, tied: s.tied, qkvBias: s.qkvBias, oBias: s.oBias, mlpBias: s.mlpBias, qkNorm: s.qkNorm };
}

describe.each(variants)('$name', (variant) => {
  it('forward matches the float64 implementation on cpu and reference', async () => {
    const random = models.get(variant.name)!;
    const expected = referenceLlamaLogits(refConfig(variant), random.weights, { ids });
    expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(1);
    for (const device of ['cpu', 'reference']) {
      const model = await loadModel(random.dir, { device });
      const logits = model.forward(idsTensor(ids, device));
      expect(logits.shape).toEqual([2, 9, 41]);
      expectClose(logits, expected, TOL, `${variant.config.model_type} logits on ${device}`);
      model.dispose();
    }
  });

  it('KV cache (prompt, then one token at a time) equals the full forward pass', async () => {
    const model = await loadModel(models.get(variant.name)!.dir, { device: 'cpu' });
    const full = model.forward(idsTensor(ids));
    const cache = createKvCache(model, { batch: 2, blockSize: 3 });
    const steps: Tensor[] = [model.forward(idsTensor(ids.map((r) => r.slice(0, 4))), { cache })];
    for (let t = 4; t < 9; t++) steps.push(model.forward(idsTensor(ids.map((r) => [r[t]!])), { cache }));
    expect(cache.length).toBe(9);
    for (let b = 0; b < 2; b++) {
      expectClose(steps.flatMap((s) => s.select(0, b).toFlatArray()), full.select(0, b).toFlatArray(), TOL, `cached logits, row ${b}`);
    }
    cache.dispose();
    model.dispose();
  });

  it('names parameters as Hugging Face does; a tied lm_head is the embedding itself', async () => {
    const random = models.get(variant.name)!;
    const model = await loadModel(random.dir, { device: 'cpu' });
    const names = model.namedParameters().map(([n]) => n);
    expect(names.sort()).toEqual([...random.weights.keys()].sort());
    const head = model.modules().find((m) => m.name === 'lm_head')!;
    const embed = model.modules().find((m) => m.name === 'model.embed_tokens')!;
    const headWeight = [...head.parameters()][0]![1];
    const embedWeight = [...embed.parameters()][0]![1];
    expect(headWeight === embedWeight).toBe(variant.spec.tied);
    model.dispose();
  });
});

describe('sliding window (mistral)', () => {
  const config = { ...common, model_type: 'mistral', num_attention_heads: 4, num_key_value_heads: 2, sliding_window: 4 };
  const spec: TinyLlamaSpec = { ...shape, heads: 4, kvHeads: 2, headDim: 6, tied: false, qkvBias: false, oBias: false, mlpBias: false, qkNorm: false };
  const ref: RefLlamaConfig = { ...spec, layers: 2, eps: 1e-5, theta: 10000, windows: [4, 4] };

  it('decodes past the window one token at a time, exactly as windowed attention', async () => {
    const random = await writeRandomModel(path.join(tmp, 'window'), config, llamaWeightSpecs(spec), 9);
    const model = await loadModel(random.dir, { device: 'cpu' });
    const expected = referenceLlamaLogits(ref, random.weights, { ids });
    // The windowed reference differs from full attention, so the window is really applied.
    const unwindowed = referenceLlamaLogits({ ...ref, windows: [null, null] }, random.weights, { ids });
    expect(Math.max(...expected.map((e, i) => Math.abs(e - unwindowed[i]!)))).toBeGreaterThan(1e-2);
    const cache = createKvCache(model, { batch: 2 });
    const steps = [model.forward(idsTensor(ids.map((r) => r.slice(0, 4))), { cache })];
    for (let t = 4; t < 9; t++) steps.push(model.forward(idsTensor(ids.map((r) => [r[t]!])), { cache }));
    for (let b = 0; b < 2; b++) {
      const got = steps.flatMap((s) => s.select(0, b).toFlatArray());
      expectClose(got, expected.slice(b * 9 * 41, (b + 1) * 9 * 41), TOL, `windowed logits, row ${b}`);
    }
    expect(() => model.forward(idsTensor(ids))).toThrow(/layer 0 uses a sliding window of 4 tokens \(config.json "sliding_window"\), and 9 tokens span 9 keys/);
    cache.dispose();
    model.dispose();
  });
});

describe('batched decoding with padding (segments)', () => {
  it('a left-padded row decodes as the same sequence alone', async () => {
    const variant = variants[0]!;
    const model = await loadModel(models.get(variant.name)!.dir, { device: 'cpu' });
    // Row 0: 3 pads (segment 0) then a 4-token prompt; row 1: a 7-token prompt. Real tokens: segment 1.
    const prompt = [
      [0, 0, 0, 5, 40, 0, 13],
      [1, 2, 3, 39, 20, 11, 11],
    ];
    const segments = [[0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]];
    const positions = [[0, 0, 0, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6]];
    const cache = createKvCache(model, { batch: 2 });
    const first = model.forward(idsTensor(prompt), { cache, segments: idsTensor(segments), positions: idsTensor(positions) });
    const second = model.forward(idsTensor([[22], [4]]), { cache, segments: idsTensor([[1], [1]]), positions: idsTensor([[4], [7]]) });
    const alone = model.forward(idsTensor([[5, 40, 0, 13, 22]]));
    const row0 = [...first.select(0, 0).slice(0, 3).toFlatArray(), ...second.select(0, 0).toFlatArray()];
    expectClose(row0, alone.toFlatArray(), TOL, 'padded row');
    const alone1 = model.forward(idsTensor([[1, 2, 3, 39, 20, 11, 11, 4]]));
    expectClose([...first.select(0, 1).toFlatArray(), ...second.select(0, 1).toFlatArray()], alone1.toFlatArray(), TOL, 'unpadded row');
    expect(() => model.forward(idsTensor([[1], [1]]), { cache })).toThrow('every later step must give options.segments too');
    cache.dispose();
    model.dispose();
  });
});
