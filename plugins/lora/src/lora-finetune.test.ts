/**
 * LoRA through the finetune recipe on a real model (stories260K) and real data (alpaca demo
 * samples): the loss falls, only adapter tensors change (the base weights are bitwise those of
 * the file), the output folder is a PEFT adapter that reloads to the same logits, the merged
 * model greedy-decodes as base + adapter, and a resumed run ends with the same adapter bit for bit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createRuntime, type Plugin } from '@lmflow/core';
import { loadModel, loadSafetensors, readSafetensorsHeader, type CausalLM } from '@lmflow/models';
import { finetune, readMetrics } from '@lmflow/train';
import { lora, type LoraOptions } from './lora-plugin.js';
import { mergeLoraAdapter } from './merge-adapter.js';
import { alpacaSubset, finetuneConfig, greedy, logitsOf, quiet, stories260K, tempDir } from './test-support/fixtures.js';

let dataset: string;
const PROBE_IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376];

beforeAll(async () => {
  dataset = await alpacaSubset(tempDir('data'), 32);
});

function args(out: string, extra: string[] = []): string[] {
  const flags = new Map<string, string>([
    ['--model_name_or_path', stories260K], ['--dataset_path', dataset], ['--output_dir', out],
    ['--block_size', '128'], ['--per_device_train_batch_size', '4'], ['--learning_rate', '1e-2'],
    ['--num_train_epochs', '2'], ['--logging_steps', '1'], ['--seed', '5'], ['--lr_scheduler_type', 'constant'],
  ]);
  for (let i = 0; i < extra.length; i += 2) flags.set(extra[i]!, extra[i + 1]!);
  return [...flags].flat();
}

/** Records, at the end of the run, every parameter's values and the logits on PROBE_IDS of the in-memory model. */
function probe() {
  const seen = { params: new Map<string, number[]>(), logits: [] as number[], trainable: [] as string[] };
  const plugin: Plugin = {
    name: 'probe',
    apply(runtime) {
      runtime.trainer.hooks.afterRun.tapPromise('probe', async ({ model }) => {
        for (const [name, t] of model.namedParameters()) {
          seen.params.set(name, t.toFlatArray());
          if (t.requiresGrad) seen.trainable.push(name);
        }
        seen.logits = logitsOf(model as CausalLM, PROBE_IDS);
      });
    },
  };
  return { plugin, seen };
}

async function train(out: string, options: LoraOptions, extra: string[] = []) {
  const { plugin, seen } = probe();
  const result = await finetune(finetuneConfig(args(out, extra)), { ...quiet, runtime: createRuntime({ plugins: [lora(options), plugin] }) });
  return { result, seen };
}

async function lossesOf(out: string): Promise<number[]> {
  return (await readMetrics(path.join(out, 'metrics.jsonl'))).filter((m) => 'loss' in m).map((m) => m.loss!);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('LoRA finetune of stories260K', () => {
  it('trains only the adapters, saves a PEFT adapter that reloads and merges to the same model', async () => {
    const out = path.join(tempDir('run'), 'out');
    const { result, seen } = await train(out, {}, ['--num_train_epochs', '3']);
    expect(result.status).toBe('completed');
    expect(result.totalSteps).toBe(24);
    // The same 32 samples each epoch: the third epoch's mean loss against the first's.
    const losses = await lossesOf(out);
    expect(mean(losses.slice(-8))).toBeLessThan(mean(losses.slice(0, 8)) * 0.9);

    // Only adapters trained: 5 layers x q, k, v, o x A, B.
    expect(seen.trainable).toHaveLength(40);
    expect(seen.trainable.every((n) => /^model\.layers\.\d\.self_attn\.[qkvo]_proj\.lora_[AB]\.weight$/.test(n))).toBe(true);
    const { tensors: base } = await loadSafetensors(path.join(stories260K, 'model.safetensors'));
    for (const [name, t] of base) {
      expect(seen.params.get(name), name).toEqual(t.toFlatArray());
      t.dispose();
    }
    expect(seen.params.size).toBe(47 + 40);
    expect(seen.params.get('model.layers.2.self_attn.v_proj.lora_B.weight')!.some((v) => v !== 0)).toBe(true);

    // The folder PEFT loads: adapter files and the tokenizer, no model weights.
    const files = readdirSync(out);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) expect(files).toContain(f);
    expect(files).not.toContain('model.safetensors');
    expect(files).not.toContain('config.json');
    const config = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 32, lora_dropout: 0.1, bias: 'none', use_dora: false,
      fan_in_fan_out: false, inference_mode: true, base_model_name_or_path: stories260K, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
    });
    const header = await readSafetensorsHeader(path.join(out, 'adapter_model.safetensors'));
    expect(header.metadata).toEqual({ format: 'pt' });
    const shapes = Object.fromEntries(header.entries.map((e) => [e.name, [e.dtype, ...e.shape]]));
    expect(Object.keys(shapes)).toHaveLength(40);
    expect(shapes['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight']).toEqual(['F32', 8, 64]);
    expect(shapes['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight']).toEqual(['F32', 64, 8]);
    // 4 key/value heads of 8: k and v project to 32.
    expect(shapes['base_model.model.model.layers.4.self_attn.k_proj.lora_B.weight']).toEqual(['F32', 32, 8]);
    expect(shapes['base_model.model.model.layers.4.self_attn.o_proj.lora_A.weight']).toEqual(['F32', 8, 64]);

    // Reloaded onto the base: the logits of the trained in-memory model, exactly.
    const adapted = await loadModel(stories260K, { device: 'cpu', runtime: createRuntime({ plugins: [lora({ adapterPath: out })] }) });
    expect(logitsOf(adapted, PROBE_IDS)).toEqual(seen.logits);
    const plain = await loadModel(stories260K, { device: 'cpu' });
    const baseLogits = logitsOf(plain, PROBE_IDS);
    expect(Math.max(...baseLogits.map((v, i) => Math.abs(v - seen.logits[i]!)))).toBeGreaterThan(0.05); // the adapter matters

    // Merged: the same greedy text as base + adapter, logits within f32 rounding.
    const merged = await mergeLoraAdapter(plain, out);
    expect(merged.merged).toHaveLength(20);
    const mergedLogits = logitsOf(plain, PROBE_IDS);
    expect(Math.max(...mergedLogits.map((v, i) => Math.abs(v - seen.logits[i]!)))).toBeLessThan(1e-4);
    const prompt = [1, 403, 407, 261];
    const fromAdapter = greedy(adapted, prompt, 40);
    expect(greedy(plain, prompt, 40)).toEqual(fromAdapter);
    adapted.dispose();
    plain.dispose();
  });

  it('DoRA on all linear layers: magnitudes train and save, the adapter reloads and merges', async () => {
    const out = path.join(tempDir('dora'), 'out');
    const { result, seen } = await train(out, { useDora: true, targetModules: 'all-linear', dropout: 0 });
    expect(result.status).toBe('completed');
    const losses = await lossesOf(out);
    expect(mean(losses.slice(-8))).toBeLessThan(mean(losses.slice(0, 8)) * 0.95);
    // 5 layers x 7 linears x (A, B, magnitude); the tied lm_head is not a target of all-linear.
    expect(seen.trainable).toHaveLength(105);
    const config = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(config.use_dora).toBe(true);
    expect(config.target_modules).toEqual(['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
    const { tensors } = await loadSafetensors(path.join(out, 'adapter_model.safetensors'));
    expect(tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_magnitude_vector')!.shape).toEqual([64]);
    expect(tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')!.shape).toEqual([8, 172]);
    const magnitude = tensors.get('base_model.model.model.layers.1.mlp.up_proj.lora_magnitude_vector')!.toFlatArray();
    expect(seen.params.get('model.layers.1.mlp.up_proj.lora_magnitude_vector')).toEqual(magnitude);
    for (const t of tensors.values()) t.dispose();

    const adapted = await loadModel(stories260K, { device: 'cpu', runtime: createRuntime({ plugins: [lora({ adapterPath: out })] }) });
    expect(logitsOf(adapted, PROBE_IDS)).toEqual(seen.logits);
    const plain = await loadModel(stories260K, { device: 'cpu' });
    await mergeLoraAdapter(plain, out);
    expect(Math.max(...logitsOf(plain, PROBE_IDS).map((v, i) => Math.abs(v - seen.logits[i]!)))).toBeLessThan(1e-4);
    expect(greedy(plain, [1, 403], 30)).toEqual(greedy(adapted, [1, 403], 30));
    adapted.dispose();
    plain.dispose();
  });

  it('a run resumed from a checkpoint ends with the adapter of an uninterrupted run, bit for bit', async () => {
    const root = tempDir('resume');
    const straight = path.join(root, 'straight');
    await train(straight, {}, ['--max_steps', '6', '--save_steps', '3']);
    const checkpoint = path.join(straight, 'checkpoint-3');
    // A checkpoint is an adapter folder plus what a resume needs.
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'trainable.safetensors', 'optimizer.safetensors']) expect(existsSync(path.join(checkpoint, f)), f).toBe(true);
    const resumed = path.join(root, 'resumed');
    const { result } = await train(resumed, {}, ['--max_steps', '6', '--save_steps', '3', '--resume_from_checkpoint', checkpoint]);
    expect(result.status).toBe('completed');
    const file = (dir: string) => readFileSync(path.join(dir, 'adapter_model.safetensors'));
    expect(Buffer.compare(file(resumed), file(straight))).toBe(0);
    expect(Buffer.compare(file(checkpoint), file(straight))).not.toBe(0);
  });
});
