/**
 * `lmflow quickstart`: the whole job on a fresh machine, offline, in about a minute. It builds
 * a small Llama-architecture model with fresh weights and an instruction dataset of this
 * project's own (spelling out numbers), finetunes the model on CPU with the finetune recipe,
 * and shows answers to held-out numbers before and after.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineOptions, resolveConfig } from '@lmflow/core';
import { loadTokenizer, writeDataset } from '@lmflow/data';
import { loadModel } from '@lmflow/models';
import { createGenerator } from '@lmflow/inference';
import { finetune, finetuneOptionGroups, METRICS_FILE, readMetrics } from '@lmflow/train';
import { defineCommand } from '../command.js';
import { numberWordsSplit, promptFor, spellNumber } from '../quickstart/number-words.js';
import { writeTinyLlama } from '../quickstart/tiny-llama.js';

const MARKER = '.lmflow-quickstart';

export const quickstartOptions = defineOptions('Quick start', {
  output_dir: { type: 'path', default: 'lmflow-quickstart', description: 'Where the base model, the dataset and the finetuned model go.' },
  num_train_epochs: { type: 'number', exclusiveMin: 0, default: 10, description: 'Passes over the 1,948 training samples.' },
  seed: { type: 'integer', min: 0, default: 42, description: 'Seed of the weights, the data split and the data order.' },
  device: { type: 'string', description: 'cpu (default), reference, cuda.' },
});

export const quickstart = defineCommand({
  name: 'quickstart',
  summary: 'Build a small Llama and a dataset, finetune it on CPU in about a minute, compare answers.',
  description:
    'Teaches a freshly initialised 0.8M-parameter Llama to spell out numbers ("Spell out 347" -> "three hundred forty-seven"), with data this project generates, then answers numbers it never saw in training. Works offline. Everything it writes (a Hugging Face model folder among it) goes to --output_dir.',
  examples: ['lmflow quickstart', 'lmflow quickstart --output_dir /tmp/qs --num_train_epochs 3'],
  options: [quickstartOptions],
  async run(config, { log, io }) {
    const out = config.output_dir;
    await prepareOutput(out);
    const say = (line = '') => io.stdout.write(`${line}\n`);
    say('LMFlow.ts quick start: teaching a small Llama to spell out numbers.');

    // The model and the data, written as a user's own would be.
    const base = path.join(out, 'base-model');
    const { parameters } = await writeTinyLlama(base, { hidden: 128, layers: 4, heads: 4, kvHeads: 2, intermediate: 384, maxPositions: 128 }, config.seed);
    const split = numberWordsSplit({ seed: config.seed, heldOut: 26, repeats: 2 });
    const dataFile = path.join(out, 'data', 'train.json');
    const heldFile = path.join(out, 'data', 'held_out.json');
    const asDataset = (instances: { input: string; output: string }[], file: string) => ({ type: 'text2text' as const, instances, origins: instances.map((_, index) => ({ file, index })) });
    await writeDataset(asDataset(split.train, dataFile), dataFile);
    await writeDataset(asDataset(split.heldOut.map((n) => ({ input: promptFor(n), output: spellNumber(n) })), heldFile), heldFile);
    say(`model: ${parameters.toLocaleString('en-US')} parameters, fresh weights (${base})`);
    say(`data:  ${split.train.length.toLocaleString('en-US')} samples like "Spell out 58" -> "fifty-eight" (${dataFile}); ${split.heldOut.length} numbers held out`);

    const shown = split.heldOut.slice(0, 3);
    const before = await answers(base, shown, config.device);
    say();
    say('Before finetuning:');
    shown.forEach((n, i) => say(`  Spell out ${n}  ->  ${quoted(before[i]!)}`));
    say();

    const trained = path.join(out, 'model');
    const flags = [
      '--model_name_or_path', base, '--dataset_path', dataFile, '--output_dir', trained, '--overwrite_output_dir',
      '--num_train_epochs', String(config.num_train_epochs), '--per_device_train_batch_size', '32', '--learning_rate', '3e-3',
      '--lr_scheduler_type', 'cosine', '--warmup_ratio', '0.05', '--weight_decay', '0.1', '--logging_steps', '20', '--seed', String(config.seed),
      ...(config.device ? ['--device', config.device] : []),
    ];
    say(`Finetuning: lmflow finetune ${flags.join(' ')}`);
    const result = await finetune(resolveConfig(finetuneOptionGroups, { argv: flags, cwd: io.cwd }), { log, progressStream: io.stderr });
    if (result.status !== 'completed') throw new Error(result.message ?? `finetuning ${result.status}`);
    say();
    say('Training loss (mean over each logging interval):');
    for (const record of await lossCurve(trained)) say(`  step ${String(record.step).padStart(4)}  loss ${record.loss.toFixed(4)}`);

    const after = await answers(trained, split.heldOut, config.device);
    const right = split.heldOut.filter((n, i) => after[i] === spellNumber(n)).length;
    say();
    say('After finetuning:');
    shown.forEach((n, i) => say(`  Spell out ${n}  ->  ${quoted(after[i]!)}  ${after[i] === spellNumber(n) ? '(right)' : `(expected "${spellNumber(n)}")`}`));
    say(`  held-out numbers spelled right: ${right} of ${split.heldOut.length}`);
    say();
    say(`The finetuned model is a Hugging Face folder: ${trained}`);
    say(`Training curves: ${path.join(trained, 'report.html')}`);
  },
});

/** An answer as a JSON string, cut after 32 characters (an untrained model rambles). */
function quoted(text: string): string {
  return JSON.stringify(text.length > 32 ? `${text.slice(0, 32)}...` : text);
}

/** About eight points of the training loss, first and last included. */
async function lossCurve(dir: string): Promise<{ step: number; loss: number }[]> {
  const records = (await readMetrics(path.join(dir, METRICS_FILE))).filter((r): r is typeof r & { loss: number } => typeof r.loss === 'number');
  const every = Math.max(1, Math.ceil(records.length / 8));
  return records.filter((_, i) => i % every === 0 || i === records.length - 1).map((r) => ({ step: r.step, loss: r.loss }));
}

/** Greedy answers of the model in `dir` to "Spell out n", one per number. */
async function answers(dir: string, numbers: readonly number[], device: string | undefined): Promise<string[]> {
  const model = await loadModel(dir, device ? { device } : {});
  const generator = createGenerator(model, await loadTokenizer(dir));
  const texts: string[] = [];
  for (const n of numbers) texts.push((await generator.generate(promptFor(n), { maxNewTokens: 40, doSample: false })).text);
  model.dispose();
  return texts;
}

/** The folder is new, empty, or a previous quick start's (whose results are replaced). */
async function prepareOutput(out: string): Promise<void> {
  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!existsSync(path.join(out, MARKER))) {
      throw new Error(`--output_dir ${out} exists and is not a previous quick start's folder; choose another --output_dir`);
    }
    await rm(out, { recursive: true, force: true });
  }
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, MARKER), 'Written by `lmflow quickstart`; running it again replaces this folder.\n');
}
