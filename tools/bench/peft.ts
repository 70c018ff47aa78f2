/**
 * `npm run bench:peft`: training tokens/s and peak RSS of full finetuning, LoRA, QLoRA, LISA
 * (2 active layers) and LoRA with gradient checkpointing on a ~110M-parameter Llama
 * (d=768, 12 layers, 12 heads, ff 2048, vocab 32000, random weights), T=512 grouped wikitext
 * blocks, batch 1, through `lmflow finetune` itself, one process per configuration. Prints a
 * table and last `ratio=<LoRA tokens/s / full finetuning tokens/s>`.
 *
 * BENCH_STEPS sets the optimizer steps per configuration (the first is not timed); BENCH_ROUNDS
 * the rounds (each runs every configuration, in alternating order; medians over all).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuNumThreads, cpuSimdLevel } from '@lmflow/tensor';
import { loadDataset, writeDataset } from '@lmflow/data';
import { ensureTrainBenchFiles, PEFT_BENCH_CONFIG } from './train-model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const shared = path.resolve(root, '../shared');
const T = 512;
const steps = Number(process.env.BENCH_STEPS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const threads = cpuNumThreads();
const model = path.join(root, '.bench', 'peft-110m');

const parameters = await ensureTrainBenchFiles(model, 1, T, PEFT_BENCH_CONFIG);
for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
  if (!existsSync(path.join(model, file))) copyFileSync(path.join(shared, 'tokenizers', 'llama2', file), path.join(model, file));
}
// A slice of wikitext (enough packed blocks for the steps), so tokenizing it takes little time.
const data = path.join(root, '.bench', 'peft-wikitext.json');
if (!existsSync(data)) {
  const full = await loadDataset(path.join(shared, 'data', 'wikitext-2-raw-v1-test.json'));
  const keep = full.instances.map((_, i) => i).filter((i) => ((full.instances[i] as { text: string }).text ?? '').trim().length > 0).slice(0, 400);
  await writeDataset({ ...full, instances: keep.map((i) => full.instances[i]!), origins: keep.map((i) => full.origins[i]!) } as typeof full, data);
}

const configurations: [string, string[]][] = [
  ['full finetuning', []],
  ['LoRA r=8 (q,k,v,o)', ['--use_lora']],
  ['QLoRA (NF4 + LoRA r=8)', ['--use_qlora']],
  ['LISA (2 of 12 layers)', ['--use_lisa', '--lisa_activated_layers', '2', '--lisa_interval_steps', '20']],
  ['LoRA + gradient checkpointing', ['--use_lora', '--gradient_checkpointing']],
];
const common = [
  '--model_name_or_path', model, '--dataset_path', data, '--block_size', String(T), '--disable_group_texts', 'false',
  '--per_device_train_batch_size', '1', '--max_steps', String(steps), '--logging_steps', '1',
  '--learning_rate', '1e-4', '--seed', '1',
];

console.log(`finetune steps of a ${(parameters / 1e6).toFixed(0)}M-parameter Llama (d=768, 12 layers, 12 heads, ff 2048, vocab 32000), T=${T} packed, batch 1, f32`);
console.log(`machine: ${threads} threads, SIMD ${cpuSimdLevel()}; ${steps} steps per configuration and round, ${rounds} rounds in alternating order; median tokens/s of steps 2..${steps}, median peak RSS`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'lmflow-bench-peft-'));
function runConfiguration(name: string, flags: string[], index: number): { rates: number[]; maxRssKiB: number } {
  const outputDir = path.join(scratch, String(index));
  mkdirSync(outputDir, { recursive: true });
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=lmflow-source', path.join(here, 'peft-run.ts'), JSON.stringify({ flags: [...common, ...flags], outputDir })], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, LMFLOW_NUM_THREADS: String(threads), NO_COLOR: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`${name} failed (exit ${run.status}):\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as { rates: number[]; maxRssKiB: number };
}
// Rounds alternate the order, so a machine whose load drifts during the run favours no one.
const rates = configurations.map(() => [] as number[]);
const rss = configurations.map(() => [] as number[]);
let runs = 0;
for (let round = 0; round < rounds; round++) {
  const order = configurations.map((_, i) => i);
  if (round % 2 === 1) order.reverse();
  for (const i of order) {
    const [name, flags] = configurations[i]!;
    const result = runConfiguration(name, flags, runs++);
    rates[i]!.push(...result.rates.slice(1));
    rss[i]!.push(result.maxRssKiB / 1024);
    console.log(`round ${round + 1}: ${name.padEnd(30)} ${median(result.rates.slice(1)).toFixed(0).padStart(6)} tokens/s   peak RSS ${(result.maxRssKiB / 1024).toFixed(0).padStart(5)} MiB`);
  }
}
const rows = configurations.map(([name], i) => ({ name, rate: median(rates[i]!), rssMiB: median(rss[i]!) }));
rmSync(scratch, { recursive: true, force: true });
const full = rows[0]!;
console.log('\n| configuration | tokens/s | vs full | peak RSS (MiB) | vs full |\n|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${r.rate.toFixed(0)} | ${(r.rate / full.rate).toFixed(2)}x | ${r.rssMiB.toFixed(0)} | ${(r.rssMiB / full.rssMiB).toFixed(2)}x |`);
console.log(`ratio=${(rows[1]!.rate / full.rate).toFixed(3)}`);
