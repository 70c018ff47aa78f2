/**
 * The plugin on its own: GPT-2's defaults (fused c_attn and the attention's c_proj, Conv1D
 * layout recorded as fan_in_fan_out), save -> reload -> merge round trips through files on a
 * GPT-2 with random weights, and the errors for adapters that do not fit the model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRuntime } from '@lmflow/core';
import { loadModel, loadSafetensors, saveModel, saveSafetensors, type CausalLM } from '@lmflow/models';
import { copy_, noGrad, randn, tensor, Generator, type Tensor } from '@lmflow/tensor';
import { lora } from './lora-plugin.js';
import { mergeLoraAdapter } from './merge-adapter.js';
import { loraFromConfig } from './lora-options.js';
import { stories260K, tempDir } from './test-support/fixtures.js';

let root: string;
let gpt2: string;
const C = 8;
const IDS = [[3, 1, 4, 1, 5, 9, 2, 6]];

/** A 2-layer GPT-2 (n_embd 8, 2 heads, vocab 16) with random weights, stored as transformers does (Conv1D (in, out)). */
async function writeTinyGpt2(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const generator = new Generator(11);
  const tensors = new Map<string, Tensor>();
  const put = (name: string, shape: number[], std = 0.3) => tensors.set(name, randn(shape, { device: 'cpu', generator, std }));
  put('transformer.wte.weight', [16, C]);
  put('transformer.wpe.weight', [16, C]);
  for (let i = 0; i < 2; i++) {
    const p = `transformer.h.${i}`;
    for (const ln of ['ln_1', 'ln_2']) {
      tensors.set(`${p}.${ln}.weight`, tensor(Array.from({ length: C }, () => 1)));
      put(`${p}.${ln}.bias`, [C], 0.1);
    }
    for (const [name, shape] of [['attn.c_attn', [C, 3 * C]], ['attn.c_proj', [C, C]], ['mlp.c_fc', [C, 4 * C]], ['mlp.c_proj', [4 * C, C]]] as const) {
      put(`${p}.${name}.weight`, [...shape]);
      put(`${p}.${name}.bias`, [shape[1]], 0.1);
    }
  }
  tensors.set('transformer.ln_f.weight', tensor(Array.from({ length: C }, () => 1)));
  put('transformer.ln_f.bias', [C], 0.1);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: 16, n_positions: 16, n_embd: C, n_layer: 2, n_head: 2, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' }));
  await saveSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  for (const t of tensors.values()) t.dispose();
}

const logits = (model: CausalLM) => noGrad(() => model.forward(tensor(IDS, { dtype: 'i32' })).toFlatArray());
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

beforeAll(async () => {
  root = tempDir('plugin');
  gpt2 = path.join(root, 'gpt2');
  await writeTinyGpt2(gpt2);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A GPT-2 with default LoRA targets whose B matrices are set to random values, saved to `dir`. */
async function gpt2Adapter(dir: string, options = {}): Promise<number[]> {
  const model = await loadModel(gpt2, { device: 'cpu', runtime: createRuntime({ plugins: [lora({ r: 2, alpha: 4, ...options })] }) });
  const generator = new Generator(5);
  noGrad(() => {
    for (const [name, t] of model.namedParameters()) if (name.includes('lora_B')) copy_(t, randn(t.shape, { generator, std: 0.5 }));
  });
  await saveModel(model, dir);
  const out = logits(model);
  model.dispose();
  return out;
}

describe('GPT-2', () => {
  it('adapts c_attn and the attention c_proj by default; the adapter saves with fan_in_fan_out, reloads and merges', async () => {
    const dir = path.join(root, 'gpt2-adapter');
    const expected = await gpt2Adapter(dir);
    const config = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ target_modules: ['c_attn', 'attn.c_proj'], fan_in_fan_out: true, r: 2, lora_alpha: 4, base_model_name_or_path: gpt2 });
    const { tensors } = await loadSafetensors(path.join(dir, 'adapter_model.safetensors'));
    expect([...tensors.keys()].sort()).toEqual(
      [0, 1].flatMap((i) => ['attn.c_attn', 'attn.c_proj'].flatMap((m) => ['lora_A.weight', 'lora_B.weight'].map((p) => `base_model.model.transformer.h.${i}.${m}.${p}`))).sort(),
    );
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.shape).toEqual([3 * C, 2]);

    const reloaded = await loadModel(gpt2, { device: 'cpu', runtime: createRuntime({ plugins: [lora({ adapterPath: dir })] }) });
    expect(logits(reloaded)).toEqual(expected);
    const base = await loadModel(gpt2, { device: 'cpu' });
    expect(maxDiff(logits(base), expected)).toBeGreaterThan(1e-2);
    // Merged in memory, then through a saved folder (Conv1D weights transposed back on save).
    await mergeLoraAdapter(base, dir);
    expect(maxDiff(logits(base), expected)).toBeLessThan(1e-5);
    await saveModel(base, path.join(root, 'gpt2-merged'));
    const merged = await loadModel(path.join(root, 'gpt2-merged'), { device: 'cpu' });
    expect(logits(merged)).toEqual(logits(base));
    for (const m of [reloaded, base, merged]) m.dispose();
  });
});

describe('errors name the file, the tensor and what was expected', () => {
  let adapter: string;
  beforeAll(async () => {
    adapter = path.join(root, 'errors-adapter');
    await gpt2Adapter(adapter);
  });
  const copyAdapter = (name: string, edit: (config: Record<string, unknown>) => void) => {
    const dir = path.join(root, name);
    mkdirSync(dir, { recursive: true });
    const config = JSON.parse(readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
    edit(config);
    writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(config));
    writeFileSync(path.join(dir, 'adapter_model.safetensors'), readFileSync(path.join(adapter, 'adapter_model.safetensors')));
    return dir;
  };
  const loadWith = (dir: string) => loadModel(gpt2, { device: 'cpu', runtime: createRuntime({ plugins: [lora({ adapterPath: dir })] }) });

  it('an adapter for another base model (stories260K onto GPT-2 and back)', async () => {
    await expect(loadModel(stories260K, { device: 'cpu', runtime: createRuntime({ plugins: [lora({ adapterPath: adapter })] }) })).rejects.toThrow(
      /target modules \["c_attn","attn.c_proj"\] \(of .*adapter_config.json\) match no linear module of this llama model; its linear modules are named q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/,
    );
  });

  it('a rank that does not match the tensors', async () => {
    await expect(loadWith(copyAdapter('wrong-r', (c) => void (c.r = 3)))).rejects.toThrow(
      /adapter_model.safetensors: tensor "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight" has shape \[2, 8\], expected \[3, 8\] \(r = 3 in/,
    );
  });

  it('targets that name more modules than the file holds', async () => {
    await expect(loadWith(copyAdapter('more-targets', (c) => void (c.target_modules = ['c_attn', 'c_proj'])))).rejects.toThrow(
      /lacks "base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight", "base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight", which "target_modules" \["c_attn","c_proj"\]/,
    );
  });

  it('tensors for modules the config does not target', async () => {
    await expect(loadWith(copyAdapter('fewer-targets', (c) => void (c.target_modules = ['c_attn'])))).rejects.toThrow(
      /tensor "base_model.model.transformer.h.0.attn.c_proj.lora_A.weight" is for transformer.h.0.attn.c_proj, which "target_modules" \["c_attn"\] of .* does not name/,
    );
  });

  it('fields this plugin cannot honour, and other PEFT types', () => {
    expect(() => lora({ adapterPath: copyAdapter('ia3', (c) => void (c.peft_type = 'IA3')) })).toThrow(/adapter_config.json: "peft_type" is "IA3", expected "LORA"/);
    expect(() => lora({ adapterPath: copyAdapter('pattern', (c) => void (c.rank_pattern = { c_attn: 4 })) })).toThrow(/"rank_pattern" is \{"c_attn":4\}, expected \{\} \(per-module ranks are not supported\)/);
    expect(() => lora({ adapterPath: copyAdapter('bias', (c) => void (c.bias = 'all')) })).toThrow(/"bias" is "all", expected "none"/);
    expect(() => lora({ adapterPath: root })).toThrow(`LoRA adapter ${root}: no adapter_config.json`);
  });

  it('options that contradict the adapter, and bad options', () => {
    expect(() => lora({ adapterPath: adapter, r: 16 })).toThrow(/lora options: r is 16, but the adapter's .*adapter_config.json has "r": 2; leave r unset/);
    expect(() => lora({ r: 0 })).toThrow('lora options: r is 0, expected a positive integer');
    expect(() => lora({ dropout: 1 })).toThrow('lora options: dropout is 1, expected a number in [0, 1)');
    expect(() => lora({ targetModules: ['all-linear', 'q_proj'] })).toThrow('all-linear already names every linear layer; give it alone');
    expect(() => lora({ targetModules: '(' })).toThrow(/targetModules: "\(" is not a valid regular expression/);
  });

  it('targets that match nothing', async () => {
    await expect(loadModel(gpt2, { runtime: createRuntime({ plugins: [lora({ targetModules: ['q_proj'] })] }) })).rejects.toThrow(
      /plugin "lora" failed in model.hooks.afterLoadWeights: target modules \["q_proj"\] match no linear module of this gpt2 model; its linear modules are named c_attn, c_proj, c_fc/,
    );
  });
});

describe('loraFromConfig', () => {
  it('is off without --use_lora, --use_dora or --lora_model_path; the flags reach the adapter config', async () => {
    expect(loraFromConfig({ use_lora: false, lora_r: 8 })).toBe(false);
    expect(loraFromConfig({})).toBe(false);
    const plugin = loraFromConfig({ use_lora: false, use_dora: true, lora_r: 4, lora_alpha: 16, lora_dropout: 0, lora_target_modules: ['c_fc'] });
    expect(plugin && plugin.name).toBe('lora');
    const model = await loadModel(gpt2, { device: 'cpu', runtime: createRuntime({ plugins: [plugin] }) });
    const names = model.namedParameters().map(([n]) => n).filter((n) => n.includes('lora_'));
    expect(names).toEqual([0, 1].flatMap((i) => ['lora_A.weight', 'lora_B.weight', 'lora_magnitude_vector'].map((p) => `transformer.h.${i}.mlp.c_fc.${p}`)));
    model.dispose();
  });

  it('with --lora_model_path the adapter decides; flags left at their defaults do not conflict', async () => {
    const dir = path.join(root, 'flags-adapter');
    await gpt2Adapter(dir);
    expect(() => loraFromConfig({ use_lora: true, lora_r: 8, lora_alpha: 32, use_dora: false, lora_model_path: dir })).not.toThrow();
    expect(() => loraFromConfig({ use_lora: true, use_dora: true, lora_model_path: dir })).toThrow(/useDora is true, but the adapter's .* has "use_dora": false/);
  });
});
