/**
 * stories260K, a real pretrained Llama (../shared/models/stories260K): greedy decoding
 * reproduces the golden output of its README exactly, with and without the KV cache, and a
 * saved copy loads back to the same model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { argmax, tensor, type Tensor } from '@lmflow/tensor';
import { expectClose } from '@lmflow/test-utils';
import { createKvCache, loadModel, loadSafetensors, loadTokenizer, saveModel, type CausalLM, type Tokenizer } from '../index.js';
import { stories260K } from '../test-support/paths.js';

const GOLDEN_LINE =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.';
const GOLDEN_IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267];
const BOS = 1;

let tokenizer: Tokenizer;
let tmp: string;

beforeAll(async () => {
  // The tokenizer as @lmflow/models re-exports it (@lmflow/data's loader).
  tokenizer = await loadTokenizer(stories260K);
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-stories-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const lastArgmax = (logits: Tensor) => argmax(logits.select(1, logits.shape[1]! - 1), -1).toFlatArray()[0]!;

/** Greedy decoding from BOS until the text has a newline; steps' logits of the last token too. */
function greedyFirstLine(model: CausalLM, useCache: boolean): { ids: number[]; text: string; stepLogits: number[][] } {
  const ids = [BOS];
  const stepLogits: number[][] = [];
  const cache = useCache ? createKvCache(model, { batch: 1, maxLength: 128, blockSize: 32 }) : undefined;
  for (let step = 0; step < 120; step++) {
    const input = useCache ? [ids[ids.length - 1]!] : ids;
    const inputIds = tensor([input], { dtype: 'i32', device: model.device });
    const logits = model.forward(inputIds, { cache });
    inputIds.dispose();
    const last = logits.select(1, logits.shape[1]! - 1);
    stepLogits.push(last.toFlatArray());
    ids.push(lastArgmax(logits));
    logits.dispose();
    last.dispose();
    const text = tokenizer.decode(ids, { skipSpecialTokens: true });
    if (text.includes('\n')) {
      cache?.dispose();
      return { ids, text: text.slice(0, text.indexOf('\n')), stepLogits };
    }
  }
  cache?.dispose();
  throw new Error(`no newline after 120 tokens: ${tokenizer.decode(ids)}`);
}

describe('stories260K greedy decoding (golden output of its README)', () => {
  it('cpu, with the KV cache', async () => {
    const model = await loadModel(stories260K, { device: 'cpu' });
    const { ids, text } = greedyFirstLine(model, true);
    expect(ids.slice(0, 20)).toEqual(GOLDEN_IDS);
    expect(text).toBe(GOLDEN_LINE);
    model.dispose();
  });

  it('cpu, recomputing the whole sequence at every step; the cache gives the same logits', async () => {
    const model = await loadModel(stories260K, { device: 'cpu' });
    const recomputed = greedyFirstLine(model, false);
    expect(recomputed.ids.slice(0, 20)).toEqual(GOLDEN_IDS);
    expect(recomputed.text).toBe(GOLDEN_LINE);
    const cached = greedyFirstLine(model, true);
    expect(cached.ids).toEqual(recomputed.ids);
    cached.stepLogits.forEach((logits, step) => expectClose(logits, recomputed.stepLogits[step]!, { atol: 1e-5, rtol: 1e-4 }, `step ${step} logits`));
    model.dispose();
  });

  it('reference backend (float64), with the KV cache', async () => {
    const model = await loadModel(stories260K, { device: 'reference' });
    const { ids, text } = greedyFirstLine(model, true);
    expect(ids.slice(0, 20)).toEqual(GOLDEN_IDS);
    expect(text).toBe(GOLDEN_LINE);
    model.dispose();
  });
});

describe('stories260K save and load', () => {
  it('loads the config, tied embeddings and GQA from config.json', async () => {
    const model = await loadModel(stories260K, { device: 'cpu' });
    expect(model.modelType).toBe('llama');
    expect(model.kvLayout).toEqual({ layers: 5, kvHeads: 4, headDim: 8 });
    expect(model.config).toMatchObject({ hidden_size: 64, num_attention_heads: 8, num_key_value_heads: 4, tie_word_embeddings: true, rms_norm_eps: 1e-5, rope_theta: 10000 });
    // 47 tensors in the file; the tied lm_head adds no parameter.
    expect(model.namedParameters()).toHaveLength(47);
    expect(model.modules().map((m) => `${m.kind} ${m.name}`).slice(0, 8)).toEqual([
      'embedding model.embed_tokens',
      'linear model.layers.0.self_attn.q_proj',
      'linear model.layers.0.self_attn.k_proj',
      'linear model.layers.0.self_attn.v_proj',
      'linear model.layers.0.self_attn.o_proj',
      'attention model.layers.0.self_attn',
      'mlp model.layers.0.mlp',
      'linear model.layers.1.self_attn.q_proj',
    ]);
    model.dispose();
  });

  it('saveModel writes the Python-written model.safetensors back byte for byte, copies tokenizer files, and loads to equal logits', async () => {
    const model = await loadModel(stories260K, { device: 'cpu' });
    const out = path.join(tmp, 'saved');
    const written = await saveModel(model, out);
    expect(written.sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    // Same header layout (metadata, order, padding) and data as the safetensors library wrote.
    expect(Buffer.compare(await readFile(path.join(out, 'model.safetensors')), await readFile(path.join(stories260K, 'model.safetensors')))).toBe(0);
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      expect(await readFile(path.join(out, file), 'utf8')).toBe(await readFile(path.join(stories260K, file), 'utf8'));
    }
    const savedConfig = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8'));
    const originalConfig = JSON.parse(await readFile(path.join(stories260K, 'config.json'), 'utf8'));
    expect(savedConfig).toMatchObject(originalConfig);
    expect(savedConfig.architectures).toEqual(['LlamaForCausalLM']);

    const reloaded = await loadModel(out, { device: 'cpu' });
    const ids = tensor([GOLDEN_IDS], { dtype: 'i32' });
    expect(reloaded.forward(ids).toFlatArray()).toEqual(model.forward(ids).toFlatArray());
    reloaded.dispose();
    model.dispose();
  });

  it('sharded save (maxShardSize) loads back to equal logits and leaves no stale single file', async () => {
    const model = await loadModel(stories260K, { device: 'cpu' });
    const out = path.join(tmp, 'sharded');
    await saveModel(model, out);
    await saveModel(model, out, { maxShardSize: '300kB' });
    const files = (await readdir(out)).filter((f) => f.includes('safetensors')).sort();
    expect(files).toEqual([
      'model-00001-of-00004.safetensors',
      'model-00002-of-00004.safetensors',
      'model-00003-of-00004.safetensors',
      'model-00004-of-00004.safetensors',
      'model.safetensors.index.json',
    ]);
    const index = JSON.parse(await readFile(path.join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(1044992 - 8 - 4856);
    expect(Object.keys(index.weight_map)).toHaveLength(47);
    const reloaded = await loadModel(out, { device: 'cpu' });
    const ids = tensor([GOLDEN_IDS], { dtype: 'i32' });
    expect(reloaded.forward(ids).toFlatArray()).toEqual(model.forward(ids).toFlatArray());
    reloaded.dispose();
    model.dispose();
  });

  it('dtype bfloat16 converts every weight; saving writes BF16 and torch_dtype "bfloat16", bit-exact on reload', async () => {
    const model = await loadModel(stories260K, { device: 'cpu', dtype: 'bfloat16' });
    expect(model.dtype).toBe('bf16');
    expect(model.namedParameters().every(([, t]) => t.dtype === 'bf16')).toBe(true);
    const logits = model.forward(tensor([GOLDEN_IDS], { dtype: 'i32' }));
    expect(logits.dtype).toBe('bf16');
    // bf16 weights still predict the golden continuation for most of the first 20 tokens.
    const predicted = argmax(logits, -1).toFlatArray();
    const agree = predicted.slice(0, 19).filter((id, i) => id === GOLDEN_IDS[i + 1]).length;
    expect(agree).toBeGreaterThanOrEqual(15);

    const out = path.join(tmp, 'bf16');
    await saveModel(model, out);
    const config = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8'));
    expect(config.torch_dtype).toBe('bfloat16');
    const { tensors } = await loadSafetensors(path.join(out, 'model.safetensors'));
    expect(new Set([...tensors.values()].map((t) => t.dtype))).toEqual(new Set(['bf16']));
    const auto = await loadModel(out, { device: 'cpu', dtype: 'auto' });
    expect(auto.dtype).toBe('bf16');
    const original = new Map(model.namedParameters());
    for (const [name, t] of auto.namedParameters()) {
      expect(Buffer.from((t.dataSync() as Uint16Array).buffer).equals(Buffer.from((original.get(name)!.dataSync() as Uint16Array).buffer)), name).toBe(true);
    }
    auto.dispose();
    model.dispose();
  });
});
