/**
 * `lmflow finetune --use_lora` writes a PEFT adapter folder, and `lmflow merge-lora` turns base
 * + adapter into a plain model with the same greedy output; bad folders fail with their names.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '@lmflow/core';
import { convertDataset, writeDataset } from '@lmflow/data';
import { loadModel, type CausalLM } from '@lmflow/models';
import { lora } from '@lmflow/plugin-lora';
import { argmax, noGrad, tensor, tidy } from '@lmflow/tensor';
import { runCli } from '../index.js';
import { memoryIo } from '../test-io.js';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');
let root: string;
let adapter: string;

async function lmflow(argv: string[]) {
  const io = memoryIo({ cwd: repoRoot });
  const status = await runCli(argv, io);
  return { status, out: io.out(), err: io.err() };
}

function greedy(model: CausalLM, prompt: number[], count: number): number[] {
  const ids = [...prompt];
  for (let i = 0; i < count; i++) {
    ids.push(noGrad(() => tidy(() => argmax(model.forward(tensor([ids], { dtype: 'i32' })).select(1, ids.length - 1).reshape(-1)).item())));
  }
  return ids.slice(prompt.length);
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'lmflow-cli-lora-'));
  const data = await convertDataset(path.resolve(repoRoot, '../shared/data/alpaca_en_demo.json'), { from: 'alpaca', to: 'text2text' });
  data.instances = data.instances.slice(0, 16);
  data.origins = data.origins.slice(0, 16);
  const dataset = path.join(root, 'alpaca.json');
  await writeDataset(data, dataset);
  adapter = path.join(root, 'adapter');
  const result = await lmflow([
    'finetune', '--model_name_or_path', stories260K, '--dataset_path', dataset, '--output_dir', adapter,
    '--use_lora', '--lora_r', '4', '--lora_alpha', '8', '--lora_target_modules', 'q_proj,v_proj,down_proj',
    '--block_size', '128', '--per_device_train_batch_size', '4', '--learning_rate', '1e-2', '--max_steps', '6', '--seed', '1',
  ]);
  expect(result.status, result.err).toBe(0);
});

describe('lmflow finetune --use_lora and lmflow merge-lora', () => {
  it('finetune --use_lora writes a PEFT adapter folder with the flags in adapter_config.json', async () => {
    const files = readdirSync(adapter);
    expect(files).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'metrics.jsonl']));
    expect(files).not.toContain('model.safetensors');
    const { readAdapterConfig } = await import('@lmflow/plugin-lora');
    expect(readAdapterConfig(adapter)).toMatchObject({ r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'], useDora: false });
  });

  it('merge-lora writes a plain model with the greedy output of base + adapter', async () => {
    const merged = path.join(root, 'merged');
    const result = await lmflow(['merge-lora', '--model_name_or_path', stories260K, '--lora_model_path', adapter, '--output_model_path', merged]);
    expect(result.status, result.err).toBe(0);
    expect(result.err).toContain('merged a LoRA adapter (r 4, alpha 8) into 15 linear layers; wrote f32 weights to');
    expect(readdirSync(merged)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']));
    const plain = await loadModel(merged, { device: 'cpu' });
    const adapted = await loadModel(stories260K, { device: 'cpu', runtime: createRuntime({ plugins: [lora({ adapterPath: adapter })] }) });
    const base = await loadModel(stories260K, { device: 'cpu' });
    const prompt = [1, 403, 407];
    const fromAdapter = greedy(adapted, prompt, 40);
    expect(greedy(plain, prompt, 40)).toEqual(fromAdapter);
    const probe = tensor([[1, 403, 407, 261, 378]], { dtype: 'i32' });
    const diff = (a: CausalLM, b: CausalLM) => {
      const [x, y] = [a, b].map((m) => noGrad(() => m.forward(probe)).toFlatArray());
      return Math.max(...x!.map((v, i) => Math.abs(v - y![i]!)));
    };
    expect(diff(plain, adapted)).toBeLessThan(1e-4);
    expect(diff(base, adapted)).toBeGreaterThan(1e-2);
    for (const m of [plain, adapted, base]) m.dispose();
  });

  it('generate --lora_model_path answers as the merged model does', async () => {
    const merged = path.join(root, 'merged-for-generate');
    expect((await lmflow(['merge-lora', '--model_name_or_path', stories260K, '--lora_model_path', adapter, '--output_model_path', merged])).status).toBe(0);
    const flags = ['--prompt', 'Once upon a time', '--max_new_tokens', '24', '--do_sample', 'false', '--json'];
    const withAdapter = await lmflow(['generate', '--model_name_or_path', stories260K, '--lora_model_path', adapter, ...flags]);
    const fromMerged = await lmflow(['generate', '--model_name_or_path', merged, ...flags]);
    const fromBase = await lmflow(['generate', '--model_name_or_path', stories260K, ...flags]);
    expect(withAdapter.status, withAdapter.err).toBe(0);
    const ids = (run: { out: string }) => (JSON.parse(run.out) as { token_ids: number[] }).token_ids;
    expect(ids(withAdapter)).toEqual(ids(fromMerged));
    expect(ids(withAdapter)).not.toEqual(ids(fromBase));
  });

  it('an adapter folder given as the model says how to use it', async () => {
    const result = await lmflow(['generate', '--model_name_or_path', adapter, '--prompt', 'Hi', '--max_new_tokens', '2']);
    expect(result.status).toBe(1);
    expect(result.err).toContain(`${adapter} is a LoRA adapter folder (adapter_config.json, no config.json): pass its base model as --model_name_or_path and this folder as --lora_model_path`);
  });

  it('refuses a folder without an adapter, and writing over the base model', async () => {
    const noAdapter = await lmflow(['merge-lora', '--model_name_or_path', stories260K, '--lora_model_path', stories260K, '--output_model_path', path.join(root, 'x')]);
    expect(noAdapter.status).toBe(1);
    expect(noAdapter.err).toContain(`LoRA adapter ${stories260K}: no adapter_config.json`);
    expect(noAdapter.err).not.toContain('LMFLOW_DEBUG');
    const overBase = await lmflow(['merge-lora', '--model_name_or_path', stories260K, '--lora_model_path', adapter, '--output_model_path', stories260K]);
    expect(overBase.status).toBe(2);
    expect(overBase.err).toContain('is the folder of --model_name_or_path');
  });
});
