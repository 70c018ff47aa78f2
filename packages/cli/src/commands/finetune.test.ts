/**
 * `lmflow finetune` as a real process: killed with SIGKILL at several points (while loading,
 * right as checkpoints are being written, between steps) and resumed with
 * --resume_from_checkpoint auto, it ends with the same weights, bit for bit, as a run that was
 * never interrupted; Ctrl-C (SIGINT) saves a checkpoint and exits with status 130.
 * The thread count is fixed so the arithmetic is the same in every process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertDataset, writeDataset } from '@lmflow/data';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');
let dataset: string;

beforeAll(async () => {
  const data = await convertDataset(path.resolve(repoRoot, '../shared/data/alpaca_en_demo.json'), { from: 'alpaca', to: 'text2text' });
  data.instances = data.instances.slice(0, 40);
  data.origins = data.origins.slice(0, 40);
  dataset = path.join(mkdtempSync(path.join(os.tmpdir(), 'lmflow-cli-ft-')), 'alpaca.json');
  await writeDataset(data, dataset);
});

/** The command line, with `extra` flags (each followed by its value) replacing or adding to the base ones. */
function args(out: string, extra: string[] = []): string[] {
  const flags = new Map<string, string>([
    ['--model_name_or_path', stories260K], ['--dataset_path', dataset], ['--output_dir', out],
    ['--block_size', '96'], ['--per_device_train_batch_size', '4'], ['--learning_rate', '2e-3'], ['--num_train_epochs', '2'],
    ['--logging_steps', '1'], ['--save_steps', '1'], ['--save_total_limit', '2'], ['--seed', '3'],
  ]);
  for (let i = 0; i < extra.length; i += 2) flags.set(extra[i]!, extra[i + 1]!);
  return ['finetune', ...[...flags].flat()];
}

interface Run {
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves when stderr first contains `text`. */
  waitFor(text: RegExp): Promise<void>;
}

function lmflow(argv: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=lmflow-source', 'packages/cli/src/main.ts', ...argv], {
    cwd: repoRoot,
    env: { ...process.env, LMFLOW_NUM_THREADS: '2', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const waiters: { text: RegExp; resolve: () => void }[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const w of waiters.splice(0)) (w.text.test(stderr) ? w.resolve() : waiters.push(w));
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  return {
    child,
    exit,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        if (text.test(stderr)) return resolve();
        waiters.push({ text, resolve });
        void exit.then(() => reject(new Error(`the process exited before printing ${text}:\n${stderr}`)));
      }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const weights = (dir: string) => readFileSync(path.join(dir, 'model.safetensors'));

describe('lmflow finetune as a process', () => {
  it('killed with SIGKILL at several points and resumed, it ends with the weights of an uninterrupted run', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'lmflow-kill-'));
    const straight = path.join(root, 'straight');
    const done = await lmflow(args(straight)).exit;
    expect(done.code, done.stderr).toBe(0);

    const out = path.join(root, 'killed');
    // Where each attempt is killed: while loading (before any checkpoint), as soon as a step's
    // line appears (its checkpoint is being written then), and a little after other steps.
    const killPoints: { after: RegExp; delayMs: number }[] = [
      { after: /model: llama/, delayMs: 0 },
      { after: /train step 3\//, delayMs: 0 },
      { after: /train step 6\//, delayMs: 15 },
      { after: /train step 9\//, delayMs: 0 },
      { after: /train step 13\//, delayMs: 40 },
    ];
    for (const point of killPoints) {
      const run = lmflow(args(out, ['--resume_from_checkpoint', 'auto']));
      await run.waitFor(point.after);
      await sleep(point.delayMs);
      run.child.kill('SIGKILL');
      const result = await run.exit;
      expect(result.signal).toBe('SIGKILL');
    }
    const last = await lmflow(args(out, ['--resume_from_checkpoint', 'auto'])).exit;
    expect(last.code, last.stderr).toBe(0);
    expect(last.stderr).toMatch(/resuming from .*checkpoint-\d+/);
    expect(Buffer.compare(weights(out), weights(straight))).toBe(0);
    // At most save_total_limit checkpoints are kept, and no temporary folder is left.
    const left = readdirSync(out).filter((name) => name.includes('checkpoint'));
    expect(left.length).toBeLessThanOrEqual(2);
    expect(left.every((name) => /^checkpoint-\d+$/.test(name))).toBe(true);
  });

  it('Ctrl-C saves a checkpoint at the end of the step and exits with status 130', async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'lmflow-sigint-')), 'out');
    const run = lmflow(args(out, ['--save_steps', '1000']));
    await run.waitFor(/train step 4\//);
    run.child.kill('SIGINT');
    const result = await run.exit;
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/saving a checkpoint at the end of this step/);
    const saved = /interrupted at step (\d+); resume with --resume_from_checkpoint (\S+)/.exec(result.stderr);
    expect(saved, result.stderr).not.toBeNull();
    expect(existsSync(path.join(saved![2]!, 'optimizer.safetensors'))).toBe(true);
    expect(existsSync(path.join(saved![2]!, 'lmflow-checkpoint.json'))).toBe(true);
  });
});
