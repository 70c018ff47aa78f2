import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRuntime } from '@lmflow/core';
import { fromHostArray, noGrad, tensor, type Tensor } from '@lmflow/tensor';
import { loadModel, saveModel, saveSafetensors, loadSafetensors } from '@lmflow/models';
import { finetune, readMetrics, type FinetuneConfig } from '@lmflow/train';
import { lora, loraFromConfig } from '@lmflow/plugin-lora';
import { expectClose } from '@lmflow/test-utils';
import { qlora } from './qlora-plugin.js';
import { qloraFromConfig } from './qlora-options.js';
import { alpacaSubset, finetuneConfig, repoRoot, stories260K, tempDir, writeRandomLlama } from './test-support/fixtures.js';

const quiet = { log: () => undefined, progressStream: { write: () => true } };
let root: string;
let dataset: string;

beforeAll(async () => {
  root = tempDir('qlora');
  dataset = await alpacaSubset(root, 24);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const logitsOf = (model: Awaited<ReturnType<typeof loadModel>>, ids: number[][]) => {
  const input = tensor(ids, { dtype: 'i32', device: model.device });
  const out = noGrad(() => model.forward(input));
  input.dispose();
  return out;
};

describe('qlora plugin', () => {
  it('finetunes stories260K with LoRA on NF4 weights (--use_qlora): the loss falls and the output is a PEFT adapter', async () => {
    const out = path.join(root, 'run');
    const config = finetuneConfig([
      '--model_name_or_path', stories260K, '--dataset_path', dataset, '--output_dir', out, '--use_qlora',
      '--block_size', '96', '--per_device_train_batch_size', '4', '--num_train_epochs', '4', '--learning_rate', '1e-2',
      '--lora_r', '8', '--lora_target_modules', 'all-linear', '--lora_dropout', '0', '--logging_steps', '1', '--seed', '5',
    ]);
    const plugins = qloraFromConfig(config, loraFromConfig);
    expect(plugins.map((p) => p && p.name)).toEqual(['qlora', 'lora']);
    const result = await finetune(config as unknown as FinetuneConfig, { ...quiet, runtime: createRuntime({ plugins }) });
    expect(result.status).toBe('completed');
    expect(result.totalSteps).toBe(24);
    const losses = (await readMetrics(path.join(out, 'metrics.jsonl'))).filter((m) => 'loss' in m).map((m) => m.loss!);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b) / xs.length;
    expect(mean(losses.slice(-4))).toBeLessThan(mean(losses.slice(0, 4)) * 0.9);
    // Adapters only: every tensor is a LoRA matrix of one of the 35 decoder linears.
    expect(existsSync(path.join(out, 'model.safetensors'))).toBe(false);
    const { tensors } = await loadSafetensors(path.join(out, 'adapter_model.safetensors'));
    expect(tensors.size).toBe(70);
    expect([...tensors.keys()].every((n) => /^base_model\.model\.model\.layers\.\d\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/.test(n))).toBe(true);
    for (const t of tensors.values()) t.dispose();
  });

  it('quantizes before LoRA wraps, whatever the order of the plugin list (STAGE_EARLY)', async () => {
    const model = await loadModel(stories260K, { device: 'cpu', runtime: createRuntime({ plugins: [lora({ targetModules: ['q_proj'] }), qlora()] }) });
    const names = model.namedParameters().map(([n]) => n);
    expect(names).toContain('model.layers.0.self_attn.q_proj.weight.nf4_codes');
    expect(names).toContain('model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(names).not.toContain('model.layers.0.self_attn.q_proj.weight');
    model.dispose();
  });

  it('a whole-model save (no adapter plugin) writes the weights dequantized, which load as a plain model with the same logits', async () => {
    const ids = [[1, 72, 9, 300, 41, 7]];
    for (const [label, source] of [['llama (stories260K)', stories260K], ['gpt2 (Conv1D layout)', await writeRandomGpt2(path.join(root, 'gpt2'))]] as const) {
      const model = await loadModel(source, { device: 'cpu', runtime: createRuntime({ plugins: [qlora()] }) });
      const out = path.join(root, `saved-${label.split(' ')[0]}`);
      await saveModel(model, out);
      const expected = logitsOf(model, ids);
      const plain = await loadModel(out, { device: 'cpu' });
      expect(plain.namedParameters().map(([n]) => n).filter((n) => n.includes('nf4'))).toEqual([]);
      const got = logitsOf(plain, ids);
      expectClose(got, expected, { atol: 1e-4, rtol: 1e-4 }, label);
      for (const t of [expected, got]) t.dispose();
      plain.dispose();
      model.dispose();
    }
  });

  it('qloraFromConfig: off without --use_qlora; adds LoRA unless --use_lora already does', () => {
    const adapters = (config: Readonly<Record<string, unknown>>) => (config.use_lora === true ? lora() : false);
    expect(qloraFromConfig({ use_qlora: false }, adapters)).toEqual([]);
    expect(qloraFromConfig({ use_qlora: true }, adapters).map((p) => p && p.name)).toEqual(['qlora', 'lora']);
    expect(qloraFromConfig({ use_qlora: true, use_lora: true }, adapters).map((p) => p && p.name)).toEqual(['qlora', false]);
    // --load_in_4bit is the same flag.
    expect(finetuneConfig(['--model_name_or_path', stories260K, '--dataset_path', dataset, '--output_dir', root, '--load_in_4bit']).use_qlora).toBe(true);
  });

  it('peak RSS of a QLoRA finetune is below the f32 LoRA finetune of the same model (each in its own process)', async () => {
    // 6 layers, d=512: 76 MB of f32 decoder linears, ~10 MB in NF4.
    const model = await writeRandomLlama(path.join(root, 'big'), { hidden: 512, intermediate: 1376, layers: 6, heads: 8 });
    const run = (mode: 'lora' | 'qlora') => {
      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--conditions=lmflow-source', 'plugins/qlora/src/test-support/peak-rss-child.ts', model, dataset, path.join(root, `rss-${mode}`), mode],
        { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, LMFLOW_DEVICE: 'cpu' } },
      );
      if (child.status !== 0) throw new Error(`${mode} child failed: ${child.stderr}`);
      return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { peakRss: number; loss: number; status: string };
    };
    const full = run('lora');
    const quantized = run('qlora');
    expect([full.status, quantized.status]).toEqual(['completed', 'completed']);
    // Measured: 430 MB (LoRA on f32) and 371 MB (QLoRA). The f32 weights are all in memory
    // while the model loads in both runs; the QLoRA run frees them before training.
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
    expect(full.peakRss - quantized.peakRss, `peak RSS: LoRA ${mb(full.peakRss)}, QLoRA ${mb(quantized.peakRss)}`).toBeGreaterThan(35 * 2 ** 20);
    // The same training, up to NF4's rounding of the base: losses agree to a few percent.
    expect(Math.abs(quantized.loss - full.loss) / full.loss).toBeLessThan(0.05);
  });
});

/** A small GPT-2 (n_embd 64, 2 layers) with random weights; Conv1D weights stored (in, out). */
async function writeRandomGpt2(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const C = 64;
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.2;
  const tensors = new Map<string, Tensor>();
  const add = (name: string, shape: number[], fill?: number) =>
    tensors.set(name, fromHostArray(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => fill ?? rand()), { shape, device: 'cpu' }));
  add('transformer.wte.weight', [320, C]);
  add('transformer.wpe.weight', [32, C]);
  for (let i = 0; i < 2; i++) {
    const p = `transformer.h.${i}`;
    for (const ln of ['ln_1', 'ln_2']) {
      add(`${p}.${ln}.weight`, [C], 1);
      add(`${p}.${ln}.bias`, [C], 0);
    }
    for (const [name, inF, outF] of [['attn.c_attn', C, 3 * C], ['attn.c_proj', C, C], ['mlp.c_fc', C, 4 * C], ['mlp.c_proj', 4 * C, C]] as const) {
      add(`${p}.${name}.weight`, [inF, outF]);
      add(`${p}.${name}.bias`, [outF]);
    }
  }
  add('transformer.ln_f.weight', [C], 1);
  add('transformer.ln_f.bias', [C], 0);
  await saveSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  for (const t of tensors.values()) t.dispose();
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: 320, n_positions: 32, n_embd: C, n_head: 4, n_layer: 2, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' }));
  return dir;
}
