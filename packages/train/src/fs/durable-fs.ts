/**
 * Making writes survive a crash: fsync of files and folders (a rename is durable only once its
 * folder is synced), and whole-file replacement by write-to-temporary-then-rename.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';

export async function fsyncPath(path: string): Promise<void> {
  // Folders open read-only; fsync on that handle flushes the folder's entries.
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Syncs every file and folder under `dir` (and `dir` itself, last) and returns the files'
 * sizes by path relative to `dir`, with '/' separators.
 */
export async function fsyncTree(dir: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  async function walk(folder: string): Promise<void> {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
      } else if (entry.isFile()) {
        await fsyncPath(path);
        sizes.set(relative(dir, path).split('\\').join('/'), (await stat(path)).size);
      } else {
        throw new Error(`${path}: checkpoints hold plain files and folders only (found a ${entry.isSymbolicLink() ? 'symbolic link' : 'special file'})`);
      }
    }
    await fsyncPath(folder);
  }
  await walk(dir);
  return sizes;
}

/** A name for a temporary sibling of `path` that no other writer picks. */
export function temporarySibling(path: string, tag = 'tmp'): string {
  return join(dirname(path), `.${tag}-${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Replaces `path` with `data` atomically: readers see the old file or the new one, never a mix. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporarySibling(path);
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await fsyncPath(dirname(path));
}
