/**
 * `lmflow evaluate` end to end: stories260K for the log-likelihood metrics, and the quick-start
 * model (fresh weights, then finetuned on its own task) for accuracy: 0 before training, above
 * chance after.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '@lmflow/core';
import { finetune, finetuneOptionGroups } from '@lmflow/train';
import { runCli } from '../index.js';
import { memoryIo } from '../test-io.js';
import { promptFor, spellNumber } from '../quickstart/number-words.js';
import { writeTinyLlama } from '../quickstart/tiny-llama.js';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');
const root = mkdtempSync(path.join(tmpdir(), 'lmflow-evaluate-'));

async function lmflow(argv: string[]) {
  const io = memoryIo({ cwd: root });
  const status = await runCli(['evaluate', ...argv], io);
  return { status, out: io.out(), err: io.err() };
}

async function writeData(name: string, type: string, instances: unknown[]): Promise<string> {
  const file = path.join(root, name);
  await writeFile(file, JSON.stringify({ type, instances }));
  return file;
}

describe('lmflow evaluate', () => {
  it('ppl: prints the summary table and writes every window to results.json', async () => {
    const data = await writeData('stories.json', 'text_only', [{ text: 'Once upon a time, there was a little girl named Lily. She loved to play outside.' }, { text: 'Tom had a big red ball.' }]);
    const out = path.join(root, 'ppl');
    const result = await lmflow(['--model_name_or_path', stories260K, '--dataset_path', data, '--metric', 'ppl', '--output_dir', out]);
    expect(result.status).toBe(0);
    const written = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(written).toMatchObject({ metric: 'ppl', model: stories260K, dataset: data, summary: { texts: 2, windows: 1, window_length: 512, stride: 512 } });
    expect(written.summary.perplexity).toBeGreaterThan(1);
    expect(written.summary.perplexity).toBeLessThan(20);
    expect(result.out).toContain(`perplexity     ${written.summary.perplexity.toFixed(4)}`);
    expect(result.err).toContain('read 2 instances of text_only from 1 file');
    expect(result.err).toMatch(/evaluating ppl +1\/1 windows/);
  });

  it('checks the data against the metric before loading the model', async () => {
    const data = await writeData('qa.json', 'text2text', [{ input: 'Which?\nA. x\nB. y', output: 'B' }, { input: 'Which?\nA. x\nB. y', output: 'maybe' }]);
    const bad = await lmflow(['--model_name_or_path', stories260K, '--dataset_path', data, '--metric', 'ppl']);
    expect(bad.status).toBe(1);
    expect(bad.err).toContain(`--metric ppl reads text_only datasets; dataset ${data} is text2text`);
    const gold = await lmflow(['--model_name_or_path', stories260K, '--dataset_path', data, '--answer_type', 'mmlu']);
    expect(gold.err).toContain(`dataset ${data}: instance 1: "output" is "maybe", which holds no gold answer for --answer_type mmlu`);
    const flag = await lmflow(['--model_name_or_path', stories260K, '--dataset_path', data, '--metric', 'f1']);
    expect(flag.status).toBe(2);
    expect(flag.err).toMatch(/--metric/);
  });
});

describe('accuracy on the quick-start task', () => {
  const base = path.join(root, 'base');
  const trained = path.join(root, 'trained');
  // Numbers 0..29: their spelling is the task the model is finetuned on.
  const numbers = Array.from({ length: 30 }, (_, n) => n);
  let textData: string;
  let choiceData: string;

  beforeAll(async () => {
    await writeTinyLlama(base, { hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 192, maxPositions: 64 }, 7);
    const train = await writeData('numbers-train.json', 'text2text', [...numbers, ...numbers].map((n) => ({ input: promptFor(n), output: spellNumber(n) })));
    textData = await writeData('numbers.json', 'text2text', numbers.map((n) => ({ input: promptFor(n), output: spellNumber(n) })));
    // The same numbers as four-way questions: chance is 1/4.
    choiceData = await writeData(
      'numbers-choice.json',
      'text_to_scored_textlist',
      numbers.map((n) => ({ input: promptFor(n), output: [n, (n + 7) % 30, (n + 13) % 30, (n + 21) % 30].map((m) => ({ text: spellNumber(m), score: m === n ? 1 : 0 })) })),
    );
    const flags = ['--model_name_or_path', base, '--dataset_path', train, '--output_dir', trained, '--num_train_epochs', '40', '--per_device_train_batch_size', '20', '--learning_rate', '1e-2', '--lr_scheduler_type', 'constant', '--logging_steps', '1000', '--seed', '1'];
    const result = await finetune(resolveConfig(finetuneOptionGroups, { argv: flags }), { log: () => {}, progressStream: { write: () => true } });
    expect(result.status).toBe('completed');
  });

  it('is 0 before training and above chance after', async () => {
    const accuracy = async (model: string, data: string, metric: string) => {
      const out = path.join(root, `${path.basename(model)}-${metric}`);
      const result = await lmflow(['--model_name_or_path', model, '--dataset_path', data, '--metric', metric, '--max_new_tokens', '24', '--batch_size', '16', '--output_dir', out]);
      expect(result.status, result.err).toBe(0);
      return JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')).summary as Record<string, number>;
    };
    const before = await accuracy(base, textData, 'accuracy');
    const after = await accuracy(trained, textData, 'accuracy');
    const choiceBefore = await accuracy(base, choiceData, 'mc_loglik');
    const choiceAfter = await accuracy(trained, choiceData, 'mc_loglik');
    expect(before.accuracy).toBe(0);
    expect(after.accuracy).toBeGreaterThan(0.2);
    expect(choiceAfter.chance).toBe(0.25);
    expect(choiceAfter.accuracy).toBeGreaterThan(0.5);
  });
});
