/**
 * Checkpoint folders that are never half-written, whenever the process dies.
 *
 * writeCheckpoint fills a hidden temporary folder in output_dir, fsyncs every file, writes
 * the marker `lmflow-checkpoint.json` last (the list of files and their sizes), fsyncs the
 * folder, then renames it to `checkpoint-<step>` and fsyncs output_dir. A folder proves it is
 * complete by its marker and by matching it, so findLatestCheckpoint ignores temporary
 * folders and anything written by a tool that does not write atomically.
 *
 * Replacing an existing checkpoint-<step> takes two renames (a folder cannot replace a
 * non-empty folder in one): the old one first moves aside to `.replaced-checkpoint-<step>-*`.
 * A crash between the two leaves that folder complete, and it is used (and later renamed
 * back) in place of the missing checkpoint-<step>.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncPath, fsyncTree } from '../fs/durable-fs.js';

export const CHECKPOINT_MARKER = 'lmflow-checkpoint.json';
const MARKER_FORMAT = 'lmflow-checkpoint-v1';
const FINAL = /^checkpoint-(\d+)$/;
const TEMPORARY = /^\.tmp-checkpoint-(\d+)-(\d+)-[0-9a-f]+$/;
const REPLACED = /^\.replaced-checkpoint-(\d+)-(\d+)-[0-9a-f]+$/;
const DELETING = /^\.deleting-checkpoint-/;

export interface CheckpointInfo {
  step: number;
  /** The folder to load from. */
  path: string;
}

interface Marker {
  format: string;
  step: number;
  files: Record<string, number>;
}

/**
 * Writes checkpoint-<step> in outputDir atomically: `writeContents` fills the temporary folder
 * it is given. If it throws, the folder is removed and the previous checkpoints are untouched.
 * Returns the checkpoint's path.
 */
export async function writeCheckpoint(outputDir: string, step: number, writeContents: (tmpDir: string) => Promise<void>): Promise<string> {
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`writeCheckpoint: step is ${step}, expected an integer >= 0`);
  await ensureFolder(outputDir);
  await recoverInterrupted(outputDir);
  const tag = `${step}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(outputDir, `.tmp-checkpoint-${tag}`);
  await mkdir(tmp);
  try {
    await writeContents(tmp);
    const files = await fsyncTree(tmp);
    if (files.has(CHECKPOINT_MARKER)) throw new Error(`writeCheckpoint: the contents wrote "${CHECKPOINT_MARKER}", a name reserved for the completion marker`);
    const marker: Marker = { format: MARKER_FORMAT, step, files: Object.fromEntries([...files].sort(([a], [b]) => (a < b ? -1 : 1))) };
    // The marker goes last: a folder that has it has everything it lists.
    await writeFile(join(tmp, CHECKPOINT_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    await fsyncPath(join(tmp, CHECKPOINT_MARKER));
    await fsyncPath(tmp);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  const final = join(outputDir, `checkpoint-${step}`);
  let replaced: string | null = null;
  if (await exists(final)) {
    replaced = join(outputDir, `.replaced-checkpoint-${tag}`);
    await rename(final, replaced);
    await fsyncPath(outputDir);
  }
  await rename(tmp, final);
  await fsyncPath(outputDir);
  if (replaced) await rm(replaced, { recursive: true, force: true });
  return final;
}

/** The complete checkpoints in outputDir, oldest first (none when the folder does not exist). */
export async function listCheckpoints(outputDir: string): Promise<CheckpointInfo[]> {
  const names = await readdir(outputDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const byStep = new Map<number, CheckpointInfo>();
  for (const name of names) {
    const m = FINAL.exec(name);
    if (m && (await isCheckpointComplete(join(outputDir, name)))) byStep.set(Number(m[1]), { step: Number(m[1]), path: join(outputDir, name) });
  }
  // A checkpoint moved aside during a replacement that never finished stands in for its step.
  for (const name of names) {
    const m = REPLACED.exec(name);
    if (m && !byStep.has(Number(m[1])) && (await isCheckpointComplete(join(outputDir, name)))) {
      byStep.set(Number(m[1]), { step: Number(m[1]), path: join(outputDir, name) });
    }
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint (`--resume_from_checkpoint auto`), or null. */
export async function findLatestCheckpoint(outputDir: string): Promise<CheckpointInfo | null> {
  const all = await listCheckpoints(outputDir);
  return all.at(-1) ?? null;
}

/** Whether `dir` has a valid marker and every file it lists, at its size. */
export async function isCheckpointComplete(dir: string): Promise<boolean> {
  let marker: Marker;
  try {
    marker = JSON.parse(await readFile(join(dir, CHECKPOINT_MARKER), 'utf8')) as Marker;
  } catch {
    return false;
  }
  if (!marker || marker.format !== MARKER_FORMAT || !marker.files || typeof marker.files !== 'object') return false;
  for (const [file, size] of Object.entries(marker.files)) {
    const info = await stat(join(dir, file)).catch(() => null);
    if (!info || !info.isFile() || info.size !== size) return false;
  }
  return true;
}

/**
 * Keeps the `keep` newest complete checkpoints (transformers' save_total_limit) and those whose
 * steps are in `protect` (the last good one, the best one); deletes the other complete ones.
 * Returns the deleted paths. Folders that are not complete checkpoints are left alone.
 */
export async function pruneCheckpoints(outputDir: string, keep: number, options: { protect?: number[] } = {}): Promise<string[]> {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`pruneCheckpoints: save_total_limit is ${keep}, expected an integer >= 1`);
  const protect = new Set(options.protect ?? []);
  const all = await listCheckpoints(outputDir);
  const doomed = all.slice(0, Math.max(0, all.length - keep)).filter((c) => !protect.has(c.step));
  for (const c of doomed) {
    // Out of sight first, so a crash mid-delete cannot leave a damaged checkpoint-<step>.
    const aside = join(outputDir, `.deleting-checkpoint-${c.step}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await rename(c.path, aside);
    await rm(aside, { recursive: true, force: true });
  }
  if (doomed.length > 0) await fsyncPath(outputDir);
  return doomed.map((c) => c.path);
}

/**
 * Tidies what a killed writer left: temporary folders of processes that are gone, deletions
 * that did not finish, and replacements stopped between their two renames.
 */
export async function recoverInterrupted(outputDir: string): Promise<void> {
  const names = await readdir(outputDir).catch(() => [] as string[]);
  for (const name of names) {
    const path = join(outputDir, name);
    const tmp = TEMPORARY.exec(name);
    if ((tmp && !isAlive(Number(tmp[2]))) || DELETING.test(name)) {
      await rm(path, { recursive: true, force: true });
      continue;
    }
    const replaced = REPLACED.exec(name);
    if (replaced && !isAlive(Number(replaced[2]))) {
      const final = join(outputDir, `checkpoint-${replaced[1]}`);
      if (await isCheckpointComplete(final)) {
        await rm(path, { recursive: true, force: true });
      } else if (!(await exists(final)) && (await isCheckpointComplete(path))) {
        await rename(path, final);
        await fsyncPath(outputDir);
      }
    }
  }
}

async function ensureFolder(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (info && !info.isDirectory()) throw new Error(`output_dir ${dir} is a file, expected a folder for checkpoints`);
  if (!info) await mkdir(dir, { recursive: true });
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
