import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_MARKER, findLatestCheckpoint, isCheckpointComplete, listCheckpoints, pruneCheckpoints, recoverInterrupted, writeCheckpoint } from './atomic-checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'lmflow-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `run-${n++}`);

/** writeContents that saves a file whose text names the step and a version. */
const contents = (text: string) => async (dir: string) => {
  await writeFile(join(dir, 'state.txt'), text);
  mkdirSync(join(dir, 'model'));
  await writeFile(join(dir, 'model', 'weights.bin'), Buffer.alloc(1000, 7));
};

// A pid that cannot be running (Linux pids stay below 2^22).
const DEAD_PID = 99_999_999;

describe('writeCheckpoint', () => {
  it('writes checkpoint-<step> with a marker listing every file and its size', async () => {
    const out = freshDir();
    const path = await writeCheckpoint(out, 10, contents('step 10'));
    expect(path).toBe(join(out, 'checkpoint-10'));
    const marker = JSON.parse(readFileSync(join(path, CHECKPOINT_MARKER), 'utf8'));
    expect(marker).toEqual({ format: 'lmflow-checkpoint-v1', step: 10, files: { 'model/weights.bin': 1000, 'state.txt': 7 } });
    expect(readdirSync(out)).toEqual(['checkpoint-10']); // no temporary folder left
    expect(await findLatestCheckpoint(out)).toEqual({ step: 10, path });
  });

  it('a crash inside writeContents leaves the previous checkpoint as the latest and no debris', async () => {
    const out = freshDir();
    await writeCheckpoint(out, 10, contents('step 10'));
    const crash = writeCheckpoint(out, 20, async (dir) => {
      await contents('step 20')(dir);
      throw new Error('disk full');
    });
    await expect(crash).rejects.toThrow('disk full');
    expect(readdirSync(out)).toEqual(['checkpoint-10']);
    expect((await findLatestCheckpoint(out))?.step).toBe(10);
  });

  it('ignores a temporary folder a killed writer left, and folders without a (valid) marker', async () => {
    const out = freshDir();
    await writeCheckpoint(out, 10, contents('step 10'));
    // A killed writer's temporary folder, even one that got as far as its marker.
    const tmp = join(out, `.tmp-checkpoint-20-${DEAD_PID}-abcd1234`);
    mkdirSync(tmp);
    writeFileSync(join(tmp, 'state.txt'), 'step 20');
    writeFileSync(join(tmp, CHECKPOINT_MARKER), JSON.stringify({ format: 'lmflow-checkpoint-v1', step: 20, files: { 'state.txt': 7 } }));
    // A checkpoint-30 written in place by a tool that does not write atomically (no marker).
    mkdirSync(join(out, 'checkpoint-30'));
    writeFileSync(join(out, 'checkpoint-30', 'state.txt'), 'step 30');
    // A checkpoint-40 whose marker lists a file that is shorter than recorded (torn write).
    await writeCheckpoint(out, 40, contents('step 40'));
    writeFileSync(join(out, 'checkpoint-40', 'state.txt'), 'step');
    expect(await isCheckpointComplete(join(out, 'checkpoint-40'))).toBe(false);
    expect(await findLatestCheckpoint(out)).toEqual({ step: 10, path: join(out, 'checkpoint-10') });
    // The next write clears the dead writer's folder and leaves what it does not own.
    await writeCheckpoint(out, 50, contents('step 50'));
    expect(readdirSync(out).sort()).toEqual(['checkpoint-10', 'checkpoint-30', 'checkpoint-40', 'checkpoint-50']);
  });

  it('replaces an existing checkpoint of the same step', async () => {
    const out = freshDir();
    await writeCheckpoint(out, 10, contents('first'));
    await writeCheckpoint(out, 10, contents('second'));
    expect(readFileSync(join(out, 'checkpoint-10', 'state.txt'), 'utf8')).toBe('second');
    expect(readdirSync(out)).toEqual(['checkpoint-10']);
    expect(await isCheckpointComplete(join(out, 'checkpoint-10'))).toBe(true);
  });

  it('a crash between the two renames of a replacement still finds that step, and the next write restores it', async () => {
    const out = freshDir();
    await writeCheckpoint(out, 10, contents('step 10'));
    await writeCheckpoint(out, 20, contents('old 20'));
    // The state right after the old checkpoint-20 moved aside, before the new one moved in.
    const aside = join(out, `.replaced-checkpoint-20-${DEAD_PID}-0badf00d`);
    rmSync(aside, { recursive: true, force: true });
    const { renameSync } = await import('node:fs');
    renameSync(join(out, 'checkpoint-20'), aside);
    mkdirSync(join(out, `.tmp-checkpoint-20-${DEAD_PID}-12345678`));
    expect(await findLatestCheckpoint(out)).toEqual({ step: 20, path: aside });
    await recoverInterrupted(out);
    expect(readdirSync(out).sort()).toEqual(['checkpoint-10', 'checkpoint-20']);
    expect(readFileSync(join(out, 'checkpoint-20', 'state.txt'), 'utf8')).toBe('old 20');
  });

  it('refuses an output_dir that is a file and a bad step, naming them', async () => {
    const file = join(root, 'not-a-folder');
    writeFileSync(file, 'x');
    await expect(writeCheckpoint(file, 1, contents('x'))).rejects.toThrow(`output_dir ${file} is a file, expected a folder for checkpoints`);
    await expect(writeCheckpoint(freshDir(), -1, contents('x'))).rejects.toThrow('writeCheckpoint: step is -1, expected an integer >= 0');
    const out = freshDir();
    await expect(writeCheckpoint(out, 1, async (dir) => writeFile(join(dir, CHECKPOINT_MARKER), '{}'))).rejects.toThrow(/"lmflow-checkpoint.json", a name reserved/);
    expect(await findLatestCheckpoint(out)).toBeNull();
    expect(await findLatestCheckpoint(join(root, 'missing'))).toBeNull();
  });
});

describe('pruneCheckpoints (save_total_limit)', () => {
  it('keeps the newest and the protected ones, leaves other folders alone', async () => {
    const out = freshDir();
    for (const step of [5, 10, 15, 20, 25]) await writeCheckpoint(out, step, contents(`step ${step}`));
    mkdirSync(join(out, 'checkpoint-1')); // not ours (no marker): never deleted
    const removed = await pruneCheckpoints(out, 2, { protect: [10] });
    expect(removed).toEqual([join(out, 'checkpoint-5'), join(out, 'checkpoint-15')]);
    expect((await listCheckpoints(out)).map((c) => c.step)).toEqual([10, 20, 25]);
    expect(readdirSync(out).sort()).toEqual(['checkpoint-1', 'checkpoint-10', 'checkpoint-20', 'checkpoint-25']);
    await expect(pruneCheckpoints(out, 0)).rejects.toThrow('pruneCheckpoints: save_total_limit is 0, expected an integer >= 1');
  });
});

describe('checkpoints of a process killed with SIGKILL at random moments', () => {
  const writer = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures/checkpoint-writer.ts');
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

  /** Runs the writer until it has saved `saves` times, then kills it after `delayMs`. */
  function runAndKill(out: string, first: number, saves: number, delayMs: number): Promise<number> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, ['--import', 'tsx', writer, out, String(first)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      let seen = 0;
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.on('data', (d: Buffer) => {
        seen += String(d).split('\n').filter((l) => l.startsWith('saved')).length;
        if (seen >= saves && !child.killed) setTimeout(() => child.kill('SIGKILL'), delayMs);
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? done(seen) : fail(new Error(`writer exited with ${code}: ${stderr}`))));
    });
  }

  it('always leaves a complete, untorn latest checkpoint, and runs resume from it', async () => {
    const out = freshDir();
    let next = 1;
    let lastStep = 0;
    // Kill delays from "just after a save" to "a few writes later", so kills land at every phase.
    for (const delay of [0, 3, 7, 12, 20]) {
      await runAndKill(out, next, 2, delay);
      const latest = await findLatestCheckpoint(out);
      expect(latest, `after a kill ${delay} ms in`).not.toBeNull();
      expect(latest!.step).toBeGreaterThanOrEqual(lastStep);
      for (const [name, size] of [['model.bin', 300_000], ['optimizer.bin', 200_000], ['state.json', 1_000]] as const) {
        const bytes = await readFile(join(latest!.path, name));
        expect(bytes.length).toBe(size);
        expect(bytes.every((b) => b === latest!.step % 251), `${name} of step ${latest!.step} is whole`).toBe(true);
      }
      lastStep = latest!.step;
      next = latest!.step + 1;
    }
    await recoverInterrupted(out);
    // No debris of dead writers stays once a later process has looked.
    expect(readdirSync(out).filter((name) => name.startsWith('.'))).toEqual([]);
    expect(existsSync(join(out, `checkpoint-${lastStep}`))).toBe(true);
  });
});
