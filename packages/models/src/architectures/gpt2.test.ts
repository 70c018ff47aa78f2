import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tensor, type Tensor } from '@lmflow/tensor';
import { expectClose, maxRelativeError } from '@lmflow/test-utils';
import { createKvCache, loadModel, loadSafetensors, saveModel, saveSafetensors } from '../index.js';
import { gpt2WeightSpecs, writeRandomModel, type RandomModel } from '../test-support/random-model.js';
import { referenceGpt2Logits, type RefGpt2Config } from '../test-support/reference-decoder.js';

// A tiny GPT-2 with random weights: vocab 37, 16 positions, width 24 in 4 heads of 6, 2 blocks.
const base = { model_type: 'gpt2', vocab_size: 37, n_positions: 16, n_embd: 24, n_head: 4, n_layer: 2, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' };
// logits agree with float64 loops to f32 accumulation error (measured ~1e-6 relative).
const TOL = { atol: 2e-5, rtol: 2e-4 };
const ids = [
  [3, 17, 36, 0, 8, 8, 21],
  [30, 1, 2, 9, 14, 33, 5],
];

let tmp: string;
let tied: RandomModel;
let untied: RandomModel;
const tiedRef: RefGpt2Config = { vocab: 37, hidden: 24, inner: 96, layers: 2, heads: 4, eps: 1e-5, tied: true, scaleByLayer: false };
const untiedRef: RefGpt2Config = { ...tiedRef, inner: 40, tied: false, scaleByLayer: true };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-gpt2-'));
  // Default GPT-2: n_inner null (4 * n_embd), tied lm_head (no lm_head.weight in the file).
  tied = await writeRandomModel(path.join(tmp, 'tied'), { ...base, n_inner: null }, gpt2WeightSpecs({ vocab: 37, positions: 16, hidden: 24, inner: 96, layers: 2, tied: true }), 7);
  untied = await writeRandomModel(
    path.join(tmp, 'untied'),
    { ...base, n_inner: 40, tie_word_embeddings: false, scale_attn_by_inverse_layer_idx: true },
    gpt2WeightSpecs({ vocab: 37, positions: 16, hidden: 24, inner: 40, layers: 2, tied: false }),
    8,
  );
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const idsTensor = (rows: number[][], device = 'cpu') => tensor(rows, { dtype: 'i32', device });

describe('gpt2 forward against an independent float64 implementation', () => {
  for (const device of ['cpu', 'reference']) {
    it(`tied, n_inner null, on ${device}`, async () => {
      const model = await loadModel(tied.dir, { device });
      const logits = model.forward(idsTensor(ids, device));
      expect(logits.shape).toEqual([2, 7, 37]);
      const expected = referenceGpt2Logits(tiedRef, tied.weights, { ids });
      expectClose(logits, expected, TOL, `gpt2 logits on ${device}`);
      // The logits are not trivially small: the comparison sees real values.
      expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(1);
      model.dispose();
    });
  }

  it('untied lm_head, n_inner 40, scale_attn_by_inverse_layer_idx', async () => {
    const model = await loadModel(untied.dir, { device: 'cpu' });
    const logits = model.forward(idsTensor(ids));
    expectClose(logits, referenceGpt2Logits(untiedRef, untied.weights, { ids }), TOL, 'gpt2 untied logits');
    expect(maxRelativeError(logits, referenceGpt2Logits({ ...untiedRef, scaleByLayer: false }, untied.weights, { ids }), 1e-3)).toBeGreaterThan(1e-2);
    model.dispose();
  });

  it('packed segments and explicit positions (attention and positions reset at a sample border)', async () => {
    const model = await loadModel(tied.dir, { device: 'cpu' });
    const segments = [[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 2, 2]];
    const positions = [[0, 1, 2, 0, 1, 2, 3], [0, 1, 2, 3, 4, 0, 1]];
    const logits = model.forward(idsTensor(ids), { segments: idsTensor(segments), positions: idsTensor(positions) });
    expectClose(logits, referenceGpt2Logits(tiedRef, tied.weights, { ids, segments, positions }), TOL, 'gpt2 packed logits');
    // The second sample of row 0 alone gives the same logits as inside the pack.
    const alone = model.forward(idsTensor([ids[0]!.slice(3)]));
    expectClose(alone, logits.select(0, 0).slice(0, 3).toFlatArray(), TOL, 'packed sample vs alone');
    model.dispose();
  });

  it('KV cache: prompt then one token at a time equals the full forward pass', async () => {
    const model = await loadModel(untied.dir, { device: 'cpu' });
    const full = model.forward(idsTensor(ids));
    const cache = createKvCache(model, { batch: 2, blockSize: 4 });
    const steps: Tensor[] = [model.forward(idsTensor(ids.map((r) => r.slice(0, 3))), { cache })];
    for (let t = 3; t < 7; t++) steps.push(model.forward(idsTensor(ids.map((r) => [r[t]!])), { cache }));
    expect(cache.length).toBe(7);
    expect(cache.capacity).toBe(8);
    for (let b = 0; b < 2; b++) {
      const stepped = steps.flatMap((s) => s.select(0, b).toFlatArray());
      expectClose(stepped, full.select(0, b).toFlatArray(), TOL, `cached logits, row ${b}`);
    }
    cache.dispose();
    model.dispose();
  });

  it('refuses positions beyond n_positions', async () => {
    const model = await loadModel(tied.dir, { device: 'cpu' });
    const long = [Array.from({ length: 17 }, (_, i) => i % 37)];
    expect(() => model.forward(idsTensor(long))).toThrow('positions 0..16 go beyond the 16 learned positions of the model');
    expect(() => createKvCache(model, { batch: 1, maxLength: 17 })).toThrow('maxLength 17 is beyond the 16 positions');
    model.dispose();
  });
});

describe('gpt2 checkpoints', () => {
  it('loads a base-model checkpoint (names without "transformer.", with causal-mask buffers) as the same model', async () => {
    // As the openai-community/gpt2 weights are stored.
    const dir = path.join(tmp, 'base-names');
    const { tensors } = await loadSafetensors(path.join(tied.dir, 'model.safetensors'), { device: 'cpu' });
    const renamed = new Map([...tensors].map(([n, t]) => [n.replace(/^transformer\./, ''), t]));
    for (let i = 0; i < 2; i++) {
      renamed.set(`h.${i}.attn.bias`, tensor(new Float32Array(16 * 16).fill(1), { shape: [1, 1, 16, 16] }));
      renamed.set(`h.${i}.attn.masked_bias`, tensor([-1e4]));
    }
    await mkdir(dir);
    await saveSafetensors(path.join(dir, 'model.safetensors'), renamed);
    for (const t of renamed.values()) t.dispose();
    await copyFile(path.join(tied.dir, 'config.json'), path.join(dir, 'config.json'));
    const model = await loadModel(dir, { device: 'cpu' });
    expectClose(model.forward(idsTensor(ids)), referenceGpt2Logits(tiedRef, tied.weights, { ids }), TOL, 'base-model checkpoint logits');
    model.dispose();
  });

  it('namedParameters hold Conv1D weights as (out, in); saveModel writes them back (in, out), bit-exact', async () => {
    const model = await loadModel(untied.dir, { device: 'cpu' });
    const params = new Map(model.namedParameters());
    expect(params.get('transformer.h.0.attn.c_attn.weight')!.shape).toEqual([72, 24]);
    expect(params.get('transformer.h.0.mlp.c_fc.weight')!.shape).toEqual([40, 24]);
    expect(params.has('lm_head.weight')).toBe(true);
    const out = path.join(tmp, 'saved-untied');
    await saveModel(model, out);
    const { tensors: saved } = await loadSafetensors(path.join(out, 'model.safetensors'));
    expect([...saved.keys()].sort()).toEqual([...untied.weights.keys()].sort());
    for (const [name, values] of untied.weights) {
      expect(saved.get(name)!.toFlatArray(), name).toEqual([...values]);
    }
    model.dispose();
  });
});
