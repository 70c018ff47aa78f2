/**
 * `npm run bench:generate`: greedy generation with a KV cache on a ~20M and a ~110M-parameter
 * Llama (random weights), side by side in one run with onnxruntime-node (the same weights
 * exported to ONNX with past/present key-value inputs and outputs) and PyTorch eager, all on
 * the same number of threads. Measures prefill tokens/s (a 128-token prompt), decode tokens/s
 * (64 new tokens) at batch 1 and 8, and time to first token; prints medians, ratios, and last
 * `ratio=<ours / onnxruntime decode tokens/s at batch 1, 110M, f32>`.
 *
 * Each engine runs in a process of its own, one after the other (the machine is small and
 * shared: nothing else of ours runs meanwhile), first a parity run (the greedy tokens and
 * logits of every engine must agree before anything is timed), then the timed runs, in
 * rounds that alternate the engines' order. Environment: BENCH_QUICK=1 (a short run),
 * BENCH_THREADS (default 2), BENCH_REPS, BENCH_WARMUP, BENCH_ROUNDS, BENCH_MODELS (names,
 * comma-separated), BENCH_NEW_TOKENS, BENCH_TOKENIZER (a folder with the Llama-2 tokenizer.json
 * our generator decodes text with; default ../shared/tokenizers/llama2 beside the repository).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_MODELS, ensureModelFiles, makePrompts, parameterCount, type BenchModel } from './generate-models.js';
import type { EngineRequest, EngineResult } from './generate-protocol.js';
import { collectRuns, compareParity, describeParity, figures, formatTable, type Figures } from './generate-report.js';
import { findTorchPython } from './peer-python.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

const quick = process.env.BENCH_QUICK === '1';
const threads = positiveEnv('BENCH_THREADS', 2);
const warmup = positiveEnv('BENCH_WARMUP', 1, true);
const reps = positiveEnv('BENCH_REPS', quick ? 2 : 3);
const rounds = positiveEnv('BENCH_ROUNDS', quick ? 1 : 2);
const newTokens = positiveEnv('BENCH_NEW_TOKENS', quick ? 32 : 64);
const PROMPT_LENGTH = 128;
const BATCHES = [1, 8];
const PARITY_TOKENS = 8;
/**
 * f32 engines differ only in summation order: their logits agree to ~1e-5 here. bf16 rounds
 * every weight and activation to 8 significant bits, which moves these logits (|x| < ~3) by a
 * few hundredths; 0.25 still catches a wrong layer, head or rotary position, which moves them
 * by whole units.
 */
const F32_LOGIT_TOLERANCE = 1e-3;
const BF16_LOGIT_TOLERANCE = 0.25;

interface Engine {
  key: 'ours-f32' | 'ours-bf16' | 'ort-f32' | 'torch-f32';
  label: string;
  file: string;
  dtype: 'f32' | 'bf16';
}

const ENGINES: Engine[] = [
  { key: 'ours-f32', label: 'lmflow f32', file: 'generate-ours.ts', dtype: 'f32' },
  { key: 'ort-f32', label: 'onnxruntime-node f32', file: 'generate-ort.ts', dtype: 'f32' },
  { key: 'ours-bf16', label: 'lmflow bf16', file: 'generate-ours.ts', dtype: 'bf16' },
  { key: 'torch-f32', label: 'PyTorch eager f32', file: 'generate_torch.py', dtype: 'f32' },
];

function positiveEnv(name: string, fallback: number, zeroOk = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < (zeroOk ? 0 : 1)) {
    throw new Error(`${name}=${JSON.stringify(raw)}: expected ${zeroOk ? 'a non-negative' : 'a positive'} integer`);
  }
  return value;
}

/** The tokenizer folder for our generator: 32000 tokens, the vocabulary of both configs. */
function tokenizerFolder(): string {
  const given = process.env.BENCH_TOKENIZER;
  const folder = given ? path.resolve(given) : path.resolve(root, '../shared/tokenizers/llama2');
  if (!existsSync(path.join(folder, 'tokenizer.json'))) {
    throw new Error(
      `${given ? `BENCH_TOKENIZER=${given}` : `the default tokenizer folder ${folder}`} has no tokenizer.json; ` +
        'set BENCH_TOKENIZER to a folder with a Llama-2 tokenizer.json (32000 tokens, the vocabulary of the benchmark models)',
    );
  }
  return folder;
}

function runEngine(engine: Engine, python: string, request: EngineRequest): EngineResult {
  const script = path.join(here, engine.file);
  const json = JSON.stringify(request);
  // TypeScript engines run under the same tsx loader and export conditions as this process.
  const [command, args] = engine.file.endsWith('.py') ? [python, [script, json]] : [process.execPath, [...process.execArgv, script, json]];
  const run = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, LMFLOW_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) {
    throw new Error(`${engine.label} (${path.relative(root, script)}, ${request.mode}) failed with exit code ${run.status ?? run.signal}:\n${run.stderr.slice(-4000)}`);
  }
  const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as EngineResult;
  if (result.threads !== threads) throw new Error(`${engine.label} ran on ${result.threads} threads, expected ${threads}`);
  return result;
}

/** Greedy tokens and logits of every engine must agree with PyTorch's before anything is timed. */
function checkParity(model: BenchModel, folder: string, tokenizer: string, prompts: number[][], python: string): Map<Engine['key'], string> {
  const request: EngineRequest = { folder, tokenizer, dtype: 'f32', threads, prompts, mode: 'parity', batches: [Math.max(...BATCHES)], newTokens: PARITY_TOKENS, warmup: 0, reps: 0 };
  const results = new Map(ENGINES.map((e) => [e.key, runEngine(e, python, { ...request, dtype: e.dtype })] as const));
  const reference = results.get('torch-f32')!;
  const versions = new Map(ENGINES.map((e) => [e.key, results.get(e.key)!.version]));
  const failures: string[] = [];
  for (const engine of ENGINES.filter((e) => e.key !== 'torch-f32')) {
    const check = compareParity(engine.label, results.get(engine.key)!.parity!, reference.parity!);
    console.log(`  parity: ${describeParity(check, 'PyTorch f32')}`);
    if (engine.dtype === 'f32') {
      if (check.sequencesEqual !== check.sequences || Math.max(check.firstLogitsDiff, check.lastLogitsDiff) > F32_LOGIT_TOLERANCE) {
        failures.push(`${engine.label}: greedy tokens or logits (tolerance ${F32_LOGIT_TOLERANCE}) differ from PyTorch's`);
      }
    } else if (check.firstLogitsDiff > BF16_LOGIT_TOLERANCE) {
      // bf16 greedy tokens may part from f32 ones where two logits are closer than bf16 can tell apart.
      failures.push(`${engine.label}: logits after the prompt differ from PyTorch f32 by ${check.firstLogitsDiff.toFixed(3)}, more than bf16 rounding (${BF16_LOGIT_TOLERANCE})`);
    }
  }
  if (failures.length > 0) throw new Error(`parity check failed for ${model.name}; nothing timed:\n  ${failures.join('\n  ')}`);
  return versions;
}

/** 1, 5 and 15-minute load averages, against the machine's core count. */
function loadAverage(): string {
  return `${os.loadavg().map((x) => x.toFixed(1)).join(', ')} (${os.cpus().length} cores)`;
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

function main(): void {
  const began = performance.now();
  const python = findTorchPython();
  if (!python) {
    throw new Error('bench:generate needs PyTorch to export the ONNX model and as a peer: set LMFLOW_TORCH_PYTHON, or `apt-get install python3-torch`');
  }
  const selected = process.env.BENCH_MODELS ? process.env.BENCH_MODELS.split(',').map((s) => s.trim()) : BENCH_MODELS.map((m) => m.name);
  const unknown = selected.filter((s) => !BENCH_MODELS.some((m) => m.name === s));
  if (unknown.length > 0) throw new Error(`BENCH_MODELS: unknown model ${unknown.join(', ')}; expected some of ${BENCH_MODELS.map((m) => m.name).join(', ')}`);
  const models = BENCH_MODELS.filter((m) => selected.includes(m.name));
  const tokenizer = tokenizerFolder();

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`Greedy generation with a KV cache: prompt ${PROMPT_LENGTH} tokens, ${newTokens} new tokens, batch ${BATCHES.join(' and ')}, random weights`);
  console.log(`machine: ${cpu}, ${os.cpus().length} cores, Node.js ${process.version}; every engine on ${threads} threads, one at a time`);
  console.log(`${reps} timed runs per engine and batch after ${warmup} warm-up, in ${rounds} round(s); medians${quick ? ' (BENCH_QUICK)' : ''}`);
  // Other processes on the machine skew every engine (spinning thread pools the most): say how busy it was.
  console.log(`load average at the start: ${loadAverage()}\n`);

  const summary = new Map<string, Map<Engine['key'], Map<number, Figures>>>();
  for (const model of models) {
    const folder = ensureModelFiles(model, root, here, python.python);
    const prompts = makePrompts(Math.max(...BATCHES), PROMPT_LENGTH, model.spec.vocab);
    console.log(`${model.name}: ${model.label}, ${(parameterCount(model.spec) / 1e6).toFixed(1)}M parameters (lm_head tied to the embedding)`);
    const versions = checkParity(model, folder, tokenizer, prompts, python.python);

    const results = new Map<Engine['key'], EngineResult[]>(ENGINES.map((e) => [e.key, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ENGINES : [...ENGINES].reverse();
      for (const engine of order) {
        const request: EngineRequest = { folder, tokenizer, dtype: engine.dtype, threads, prompts, mode: 'time', batches: BATCHES, newTokens, warmup, reps };
        results.get(engine.key)!.push(runEngine(engine, python.python, request));
      }
    }

    const perEngine = new Map<Engine['key'], Map<number, Figures>>();
    const rows = ENGINES.map((engine) => {
      const runs = collectRuns(results.get(engine.key)!);
      const byBatch = new Map(BATCHES.map((b) => [b, figures(runs, b, PROMPT_LENGTH, newTokens)] as const));
      perEngine.set(engine.key, byBatch);
      return [
        `${engine.label} (${versions.get(engine.key)})`,
        ...BATCHES.flatMap((b) => {
          const f = byBatch.get(b)!;
          return [fmt(f.prefillTokensPerSecond, 0), fmt(f.ttftMs), fmt(f.decodeTokensPerSecond)];
        }),
      ];
    });
    summary.set(model.name, perEngine);
    const header = ['engine', ...BATCHES.flatMap((b) => [`prefill tok/s B${b}`, `TTFT ms B${b}`, `decode tok/s B${b}`])];
    console.log(formatTable(header, rows));
    const get = (key: Engine['key'], batch: number) => perEngine.get(key)!.get(batch)!;
    for (const [ours, target] of [['ours-f32', 1.0], ['ours-bf16', 1.6]] as const) {
      const parts = BATCHES.map((b) => {
        const decode = get(ours, b).decodeTokensPerSecond / get('ort-f32', b).decodeTokensPerSecond;
        const prefill = get(ours, b).prefillTokensPerSecond / get('ort-f32', b).prefillTokensPerSecond;
        return `decode B${b} ${fmt(decode, 2)}x${decode >= target ? '' : ` (target ${target}x)`}, prefill B${b} ${fmt(prefill, 2)}x`;
      });
      console.log(`  ${ENGINES.find((e) => e.key === ours)!.label} / onnxruntime-node f32: ${parts.join('; ')}`);
    }
    const vsTorch = BATCHES.map((b) => `decode B${b} ${fmt(get('ours-f32', b).decodeTokensPerSecond / get('torch-f32', b).decodeTokensPerSecond, 2)}x`);
    console.log(`  lmflow f32 / PyTorch eager f32: ${vsTorch.join('; ')}`);
    console.log(`  load average after ${model.name}: ${loadAverage()}\n`);
  }

  const headline = summary.get('llama-110m') ?? summary.get(models[models.length - 1]!.name)!;
  if (!summary.has('llama-110m')) console.log(`(llama-110m not run: the ratio below is ${models[models.length - 1]!.name}'s)`);
  const ratio = headline.get('ours-f32')!.get(1)!.decodeTokensPerSecond / headline.get('ort-f32')!.get(1)!.decodeTokensPerSecond;
  console.log(`whole run: ${((performance.now() - began) / 60000).toFixed(1)} min`);
  console.log(`ratio=${ratio.toFixed(3)}`);
}

main();
