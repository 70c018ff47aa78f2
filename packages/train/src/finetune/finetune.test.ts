import { describe, expect, it, beforeAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync, mkdirSync, cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createRuntime, type Plugin } from '@lmflow/core';
import { mul } from '@lmflow/tensor';
import { loadSafetensors } from '@lmflow/models';
import { maxRelativeError } from '@lmflow/test-utils';
import { finetune } from './finetune.js';
import { alpacaSubset, configFrom, stories260K, tempDir } from './test-data.js';
import { readMetrics } from '../metrics/metrics-log.js';

const quiet = { log: () => undefined, progressStream: { write: () => true } };
let dataset: string;

beforeAll(async () => {
  dataset = await alpacaSubset(tempDir('ft-data'), 48);
});

/** The base flags with `extra` replacing or adding flags (each flag followed by its value). */
function baseArgs(out: string, extra: string[] = []): string[] {
  const flags = new Map<string, string>([
    ['--model_name_or_path', stories260K], ['--dataset_path', dataset], ['--output_dir', out],
    ['--block_size', '96'], ['--per_device_train_batch_size', '4'], ['--learning_rate', '2e-3'],
    ['--num_train_epochs', '1'], ['--logging_steps', '1'], ['--seed', '7'],
  ]);
  for (let i = 0; i < extra.length; i += 2) flags.set(extra[i]!, extra[i + 1]!);
  return [...flags].flat();
}

const weightsOf = (dir: string) => readFileSync(path.join(dir, 'model.safetensors'));

describe('finetune (stories260K on alpaca samples)', () => {
  it('the loss falls, and the output is a loadable Hugging Face folder with metrics and a report', async () => {
    const out = path.join(tempDir('ft-run'), 'out');
    const result = await finetune(configFrom(baseArgs(out, ['--num_train_epochs', '3', '--validation_split_percentage', '10', '--eval_steps', '10'])), quiet);
    expect(result.status).toBe('completed');
    expect(result.totalSteps).toBe(33); // 43 train samples / 4 = 11 micro-batches per epoch, 3 epochs
    const metrics = await readMetrics(path.join(out, 'metrics.jsonl'));
    const losses = metrics.filter((m) => 'loss' in m).map((m) => m.loss!);
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(last).toBeLessThan(first * 0.8);
    const evals = metrics.filter((m) => 'eval_loss' in m);
    expect(evals.map((m) => m.step)).toEqual([10, 20, 30, 33]);
    expect(evals.at(-1)!.eval_perplexity).toBeCloseTo(Math.exp(evals.at(-1)!.eval_loss!), 6);
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'report.html']) {
      expect(existsSync(path.join(out, file)), file).toBe(true);
    }
    const { tensors } = await loadSafetensors(path.join(out, 'model.safetensors'));
    expect(tensors.size).toBe(47 - 0);
    for (const t of tensors.values()) t.dispose();
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<svg');
  });

  it('a run interrupted (abort) and resumed ends with the same weights, bit for bit', async () => {
    const root = tempDir('ft-resume');
    const straight = path.join(root, 'straight');
    await finetune(configFrom(baseArgs(straight, ['--num_train_epochs', '2', '--save_steps', '4'])), quiet);

    const resumed = path.join(root, 'resumed');
    const controller = new AbortController();
    let steps = 0;
    const stopAtFive: Plugin = {
      name: 'stop-at-five',
      apply: (rt) => rt.trainer.hooks.afterStep.tap('stop-at-five', () => void (++steps === 5 && controller.abort())),
    };
    const first = await finetune(configFrom(baseArgs(resumed, ['--num_train_epochs', '2', '--save_steps', '4'])), { ...quiet, signal: controller.signal, runtime: createRuntime({ plugins: [stopAtFive] }) });
    expect(first.status).toBe('interrupted');
    expect(first.step).toBe(5);
    expect(path.basename(first.checkpoint!)).toBe('checkpoint-5');
    const second = await finetune(configFrom(baseArgs(resumed, ['--num_train_epochs', '2', '--save_steps', '4', '--resume_from_checkpoint', 'auto'])), quiet);
    expect(second.status).toBe('completed');
    expect(second.step).toBe(first.step + (second.totalSteps - first.step));
    expect(Buffer.compare(weightsOf(resumed), weightsOf(straight))).toBe(0);
    // metrics.jsonl has each step once
    const steps2 = (await readMetrics(path.join(resumed, 'metrics.jsonl'))).filter((m) => 'loss' in m).map((m) => m.step);
    expect(steps2).toEqual(Array.from({ length: second.totalSteps }, (_, i) => i + 1));
  });

  it('k micro-batches of gradient accumulation equal one batch k times larger', async () => {
    const root = tempDir('ft-accum');
    const args = ['--max_steps', '2', '--lr_scheduler_type', 'constant', '--max_grad_norm', '0'];
    const big = path.join(root, 'big');
    await finetune(configFrom(baseArgs(big, ['--per_device_train_batch_size', '8', ...args])), quiet);
    const small = path.join(root, 'small');
    await finetune(configFrom(baseArgs(small, ['--per_device_train_batch_size', '2', '--gradient_accumulation_steps', '4', ...args])), quiet);
    const a = (await loadSafetensors(path.join(big, 'model.safetensors'))).tensors;
    const b = (await loadSafetensors(path.join(small, 'model.safetensors'))).tensors;
    for (const [name, t] of a) expect(maxRelativeError(b.get(name)!.toFlatArray(), t.toFlatArray(), 1e-3), name).toBeLessThan(2e-4);
    for (const t of [...a.values(), ...b.values()]) t.dispose();
  });

  it('a loss that becomes NaN stops the run and names the last good checkpoint', async () => {
    const out = path.join(tempDir('ft-nan'), 'out');
    let calls = 0;
    const poison: Plugin = {
      name: 'poison',
      apply: (rt) => rt.trainer.hooks.computeLoss.tap('poison', (loss) => (++calls > 6 ? mul(loss, NaN) : loss)),
    };
    const result = await finetune(configFrom(baseArgs(out, ['--save_steps', '3'])), { ...quiet, runtime: createRuntime({ plugins: [poison] }) });
    expect(result.status).toBe('stopped');
    expect(result.step).toBe(6);
    expect(result.message).toMatch(/the loss at step 7 became NaN\. The last good checkpoint is .*checkpoint-6 \(step 6\)/);
    expect(existsSync(path.join(out, 'model.safetensors'))).toBe(false); // no final model from a diverged run
    expect(existsSync(path.join(out, 'checkpoint-6', 'model.safetensors'))).toBe(true);
  });
});

describe('bad input fails before any work, leaving nothing behind', () => {
  const cases: [string, (root: string) => string[], RegExp][] = [
    ['an empty dataset', (root) => {
      const file = path.join(root, 'empty.json');
      writeFileSync(file, JSON.stringify({ type: 'text2text', instances: [] }));
      return ['--dataset_path', file];
    }, /dataset .*empty\.json: has no instances/],
    ['a model folder without config.json', (root) => {
      const model = path.join(root, 'model');
      mkdirSync(model);
      cpSync(path.join(stories260K, 'tokenizer.json'), path.join(model, 'tokenizer.json'));
      return ['--model_name_or_path', model];
    }, /--model_name_or_path .*model: no config\.json/],
    ['a block_size beyond the model context', () => ['--block_size', '4096'], /--block_size 4096 is longer than the model's context \(512 positions/],
    ['an output_dir that is a file', (root) => {
      const file = path.join(root, 'out-file');
      writeFileSync(file, 'x');
      return ['--output_dir', file];
    }, /--output_dir .*out-file is a file/],
    ['an output_dir that already holds a run', (root) => {
      const dir = path.join(root, 'used');
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'model.safetensors'), '');
      return ['--output_dir', dir];
    }, /already exists and is not empty; pass --overwrite_output_dir/],
  ];
  for (const [what, extra, message] of cases) {
    it(what, async () => {
      const root = tempDir('ft-bad');
      const out = path.join(root, 'out');
      await expect(finetune(configFrom(baseArgs(out, extra(root))), quiet)).rejects.toThrow(message);
      expect(existsSync(out)).toBe(false);
      rmSync(root, { recursive: true, force: true });
    });
  }

  it('a missing dataset path is refused by the flag check', () => {
    expect(() => configFrom(baseArgs('/tmp/x', ['--dataset_path', '/nonexistent/data.json']))).toThrow(/--dataset_path.*nonexistent/);
  });
});

